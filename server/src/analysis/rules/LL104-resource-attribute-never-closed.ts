// LL104 resource-attribute-never-closed: `self.x = <factory>(...)` in a class that never releases
// `self.x` and has no `close()`, `__exit__`, `__del__` or `weakref.finalize` to do it.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { opensLater, shadowedFactory } from '../resource-flow';
import { factoryAttributeNames, factoryOf, mayCallFactory, NON_OWNING_CALLS } from '../resources';
import { decoratorsOf, decoratorTarget, enclosingScope } from '../syntax';
import type { Rule, RuleContext } from '../types';

/** Methods that release (or hand over) a resource held in an attribute. */
const RELEASES = new Set([
  'close', 'aclose', 'shutdown', 'terminate', 'join', 'cleanup', 'wait', 'communicate', 'kill', 'quit', 'logout',
  'detach', 'release', '__exit__', '__aexit__',
]);
/** Methods whose presence means the class takes care of its resources. */
const FINALIZERS = new Set(['close', 'aclose', '__exit__', '__aexit__', '__del__']);
/** Bases known to release nothing of their subclasses' attributes. */
const PLAIN_BASES = new Set([
  'object', 'builtins.object', 'unittest.TestCase', 'unittest.IsolatedAsyncioTestCase', 'unittest.case.TestCase',
  'threading.Thread', 'abc.ABC', 'typing.Generic', 'typing.Protocol', 'Exception', 'BaseException',
]);
const CONTAINERS = new Set(['tuple', 'list', 'set', 'dictionary', 'pair', 'expression_list', 'parenthesized_expression']);

interface ClassInfo {
  node: Node;
  name: string;
  bases: Node[];
}

interface AttributeFate {
  /** Released by a call (`self.x.close()`), scheduled (`addCleanup(self.x.close)`) or handed to a taker. */
  released: boolean;
  /** Used as a `with` item (which closes all but transaction-scoped connections). */
  withItem: boolean;
  /** Aliased, stored, returned or passed to code that may release it. */
  escapes: boolean;
}

function methodsOf(cls: Node): Node[] {
  const body = cls.childForFieldName('body');
  if (!body) return [];
  const out: Node[] = [];
  for (const c of body.namedChildren) {
    if (c?.type === 'function_definition') out.push(c);
    else if (c?.type === 'decorated_definition') {
      const def = c.childForFieldName('definition');
      if (def?.type === 'function_definition') out.push(def);
    }
  }
  return out;
}

/** The class a method is defined in (directly in its body), and the method's first parameter. */
function methodContext(fn: Node): { cls: Node; self: string } | undefined {
  let holder = fn.parent;
  if (holder?.type === 'decorated_definition') holder = holder.parent;
  const cls = holder?.type === 'block' ? holder.parent : undefined;
  if (cls?.type !== 'class_definition') return undefined;
  const first = fn.childForFieldName('parameters')?.namedChildren.find((p) => p && p.type !== 'comment');
  const self = first?.type === 'identifier' ? first.text : first?.type === 'typed_parameter' ? first.namedChild(0)?.text : undefined;
  if (!self) return undefined;
  return { cls, self };
}

function isStaticOrClassMethod(fn: Node, context: RuleContext): boolean {
  return decoratorsOf(fn).some((d) => {
    const target = decoratorTarget(d);
    const q = target ? context.qualifiedName(target) : undefined;
    return q === 'staticmethod' || q === 'classmethod';
  });
}

function attributeFate(node: Node, context: RuleContext, fate: AttributeFate): void {
  const parent = node.parent;
  if (!parent) return;
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(node)) {
    const method = parent.childForFieldName('attribute')?.text ?? '';
    if (!RELEASES.has(method)) return;
    const holder = parent.parent;
    // `self.x.close()`, or the release scheduled: `self.addCleanup(self.x.close)`, `atexit.register(self.x.close)`.
    if (holder?.type === 'call' || holder?.type === 'argument_list' || holder?.type === 'keyword_argument') fate.released = true;
    return;
  }
  if (parent.type === 'with_item' || (parent.type === 'as_pattern' && parent.parent?.type === 'with_item')) {
    fate.withItem = true;
    return;
  }
  const arg = parent.type === 'keyword_argument' ? parent : node;
  if (arg.parent?.type === 'argument_list') {
    const fn = arg.parent.parent?.childForFieldName('function');
    const q = fn ? context.qualifiedName(fn) : undefined;
    if (!q || !NON_OWNING_CALLS.has(q)) fate.escapes = true;
    return;
  }
  if (parent.type === 'assignment' && parent.childForFieldName('right')?.equals(node)) {
    fate.escapes = true;
    return;
  }
  let n: Node = node;
  while (n.parent && CONTAINERS.has(n.parent.type)) n = n.parent;
  const holder = n.parent;
  if (!holder) return;
  if (holder.type === 'return_statement' || holder.type === 'yield' || (n !== node && (holder.type === 'assignment' || holder.type === 'for_statement'))) {
    fate.escapes = true;
  }
}

/** Per-file knowledge: the classes, and what happens to each attribute name. */
class FileFacts {
  private classes?: ClassInfo[];
  private readonly fates = new Map<string, AttributeFate>();
  private attributes?: Node[];
  constructor(private readonly context: RuleContext) {}

  allClasses(): ClassInfo[] {
    if (!this.classes) {
      this.classes = [];
      for (const node of this.context.root.descendantsOfType('class_definition')) {
        const name = node.childForFieldName('name')?.text ?? '';
        const args = node.childForFieldName('superclasses');
        const bases = (args?.namedChildren ?? []).filter((b): b is Node => !!b && b.type !== 'comment' && b.type !== 'keyword_argument');
        this.classes.push({ node, name, bases });
      }
    }
    return this.classes;
  }

  /** The class with its in-file ancestors and descendants; undefined when an ancestor is unknown code. */
  family(cls: Node): ClassInfo[] | undefined {
    const all = this.allClasses();
    const byName = new Map<string, ClassInfo[]>();
    for (const c of all) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
    const start = all.find((c) => c.node.equals(cls));
    if (!start) return undefined;
    const out: ClassInfo[] = [];
    const seen = new Set<number>();
    const up: ClassInfo[] = [start];
    while (up.length > 0) {
      const c = up.pop()!;
      if (seen.has(c.node.startIndex)) continue;
      seen.add(c.node.startIndex);
      out.push(c);
      for (let base of c.bases) {
        if (base.type === 'subscript') base = base.childForFieldName('value') ?? base;
        const local = base.type === 'identifier' ? byName.get(base.text) : undefined;
        if (local) {
          up.push(...local);
          continue;
        }
        const q = this.context.qualifiedName(base);
        if (q && (PLAIN_BASES.has(q) || /^(builtins\.)?[A-Z]\w*(Error|Exception|Warning)$/.test(q))) continue;
        return undefined; // a base from elsewhere may well close it
      }
    }
    // In-file subclasses may release it too.
    const down = [...out];
    while (down.length > 0) {
      const c = down.pop()!;
      for (const sub of all) {
        if (seen.has(sub.node.startIndex)) continue;
        if (sub.bases.some((b) => b.type === 'identifier' && b.text === c.name)) {
          seen.add(sub.node.startIndex);
          out.push(sub);
          down.push(sub);
        }
      }
    }
    return out;
  }

  /**
   * What the module does with attributes named `name`: through the first parameter of a method
   * only in the class's family, through any other object (`server.sock.close()`) anywhere.
   */
  fate(name: string, family: ClassInfo[]): AttributeFate {
    const key = `${name}@${family[0].node.startIndex}`;
    let fate = this.fates.get(key);
    if (fate) return fate;
    fate = { released: false, withItem: false, escapes: false };
    this.attributes ??= this.context.root.descendantsOfType('attribute');
    for (const node of this.attributes) {
      if (node.childForFieldName('attribute')?.text !== name) continue;
      const object = node.childForFieldName('object');
      if (object?.type === 'identifier') {
        const fn = enclosingScope(node);
        const method = fn?.type === 'function_definition' ? methodContext(fn) : undefined;
        if (method && method.self === object.text && !family.some((c) => c.node.equals(method.cls))) continue;
      }
      attributeFate(node, this.context, fate);
    }
    this.fates.set(key, fate);
    return fate;
  }
}

function hasFinalizer(cls: Node, context: RuleContext): boolean {
  if (methodsOf(cls).some((m) => FINALIZERS.has(m.childForFieldName('name')?.text ?? ''))) return true;
  const body = cls.childForFieldName('body');
  return !!body && body.descendantsOfType('call').some((c) => {
    const fn = c.childForFieldName('function');
    return !!fn && context.qualifiedName(fn) === 'weakref.finalize';
  });
}

/** `getattr(self, "x")`, `"x"` in a list of names: the attribute is reached dynamically. */
function namedInString(cls: Node, name: string): boolean {
  const re = new RegExp(`^[rbuRBU]*(['"])${name}\\1$`);
  return cls.descendantsOfType('string').some((s) => re.test(s.text));
}

export const rule: Rule = {
  code: 'LL104',
  name: 'resource-attribute-never-closed',
  category: 'resources',
  defaultSeverity: 'warning',
  // Only calls of a name or an attribute can be factories; `@name` lets check() drop method calls
  // that cannot be one without asking the tree.
  query: [
    '(assignment left: (attribute object: (identifier) @object attribute: (identifier) @attribute) right: (call function: (identifier)) @call) @assign',
    '(assignment left: (attribute object: (identifier) @object attribute: (identifier) @attribute) right: (call function: (attribute attribute: (identifier) @name)) @call) @assign',
  ].join('\n'),
  // Text pre-filter only (no factory call in the text: nothing to report); see resources.ts.
  mayApply: mayCallFactory,
  check(context: RuleContext, matches: QueryMatch[]) {
    let facts: FileFacts | undefined;
    const names = factoryAttributeNames(context.options);
    for (const match of matches) {
      const node = (name: string) => match.captures.find((c) => c.name === name)!.node;
      const callee = match.captures.find((c) => c.name === 'name');
      if (callee && !names.has(callee.node.text)) continue;
      const assign = node('assign');
      const call = node('call');
      const factory = factoryOf(call, context);
      if (!factory || shadowedFactory(call, context)) continue;
      const fn = enclosingScope(assign);
      if (fn?.type !== 'function_definition') continue;
      const method = methodContext(fn);
      if (!method || method.self !== node('object').text || isStaticOrClassMethod(fn, context)) continue;
      const attr = node('attribute').text;
      facts ??= new FileFacts(context);
      const family = facts.family(method.cls);
      if (!family || family.some((c) => hasFinalizer(c.node, context))) continue;
      // `smtplib.SMTP()` without a host holds nothing until `self.x.connect(…)`, an HTTPConnection until a request.
      const opens = opensLater(call, factory);
      if (opens && !family.some((c) => [...c.node.text.matchAll(new RegExp(`\\.${attr}\\s*\\.\\s*(\\w+)\\s*\\(`, 'g'))].some((m) => opens(m[1])))) continue;
      const fate = facts.fate(attr, family);
      if (fate.released || fate.escapes || (fate.withItem && !factory.withKeepsOpen)) continue;
      if (family.some((c) => namedInString(c.node, attr))) continue;
      const className = method.cls.childForFieldName('name');
      const callText = `${call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      context.report({
        node: assign,
        message:
          `\`${method.self}.${attr}\` holds a \`${callText}\` result that nothing releases, and \`${className?.text ?? 'the class'}\` has no ` +
          '`close()`, `__exit__` or `__del__`: each instance keeps it open until the garbage collector frees the instance',
        related: className ? [{ start: className.startIndex, end: className.endIndex, message: 'class without a close(), __exit__ or __del__' }] : [],
      });
    }
  },
  docs: {
    summary: 'A resource stored on `self` that no method of the class ever releases.',
    whatItDoes:
      'Flags `self.x = <factory>(...)` (a file, socket, connection, process, pool … as for LL101) in a method of a class where nothing releases `self.x` (`self.x.close()` or the resource\'s own release method, `with self.x:`, `contextlib.closing`, a scheduled `self.x.close` passed to `addCleanup`, `ExitStack.callback`, `atexit.register` …) and the class has no `close()`, `__exit__`, `__del__` or `weakref.finalize` of its own. Classes whose in-file base or subclass does any of this are not flagged, and neither are classes with a base defined elsewhere (other than `object`, `unittest.TestCase`, `threading.Thread`, `abc.ABC` and exceptions), since that base may release it. An attribute that is handed on (assigned to another name, returned, passed to other code, reached through `getattr` with its name) is left alone. `unittest` tests that use `addCleanup` or `enterContext` are therefore not flagged.',
    whyLeak:
      'The resource lives exactly as long as the object that holds it, and nothing offers the object\'s users a way to release it. Every instance keeps its file descriptor, socket or worker threads until the garbage collector frees the instance: at once on CPython only when the last reference goes away, later on PyPy, and never while the instance sits in a cache, a cycle or a traceback. A server that creates such objects per request runs out of descriptors.',
    example:
      'import socket\n\n\nclass Client:\n    def __init__(self, host):\n        self.sock = socket.create_connection((host, 80))\n\n    def send(self, data):\n        self.sock.sendall(data)\n',
    useInstead:
      'import socket\n\n\nclass Client:\n    def __init__(self, host):\n        self.sock = socket.create_connection((host, 80))\n\n    def send(self, data):\n        self.sock.sendall(data)\n\n    def close(self):\n        self.sock.close()\n\n    def __enter__(self):\n        return self\n\n    def __exit__(self, *exc):\n        self.close()\n',
    fixSafety: 'There is no automatic fix: where and when the resource should be released is a design decision. Add a `close()` method (and `__enter__`/`__exit__` so callers can use `with`), or release it in `tearDown`/`addCleanup` in tests.',
    options: '`resource-factories`: extra dotted names (for example `mylib.connect`) whose results must be released.',
    references: [
      'https://docs.python.org/3/reference/datamodel.html#context-managers',
      'https://docs.python.org/3/library/weakref.html#weakref.finalize',
      'https://docs.python.org/3/library/unittest.html#unittest.TestCase.addCleanup',
    ],
  },
};
