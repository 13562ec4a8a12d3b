// LL304 growing-instance-container: a container that an object creates in `__init__` and that its
// methods add to, keyed by what callers pass, with nothing ever taking entries out: it grows for as
// long as the object lives. Confident only when the file shows the object living long (an instance
// bound at module level); otherwise low confidence, and the message says what is unknown.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { CONTAINER_KIND_NAMES, containerUseKind, isTestModule, type ContainerKind, type MethodModel, type Origin, type SemanticModel } from '../semantic';
import { unparenthesize } from '../syntax';
import type { RelatedLocation, Rule, RuleContext } from '../types';

type Kind = ContainerKind;

/** Methods that run once per object (setting it up), not per call on a living object. */
const SETUP_METHODS = new Set(['__init__', '__new__', '__post_init__', '__init_subclass__', '__set_name__', '__del__', 'setUp', 'setUpClass']);
/** Method names of registration APIs: what they store is usually code (handlers, plugins), bounded by the program. */
const REGISTRATION = /^_*(register|unregister|subscribe|add|set|allow|install|declare|define|load|use|enable|on_|connect)/i;

/** Kinds without keys: what is added is an element. */
const SEQUENCE_OR_SET = new Set<Kind>(['list', 'deque', 'set']);

interface Growth {
  node: Node;
  method: MethodModel;
  how: string;
  origin: Origin;
  /** The entry is an object made by this call (`threading.Lock()`, `self.ThreadClass(…)`). */
  fresh: boolean;
}

/** A constructor call: `Lock()`, `threading.Lock()`, `self.ThreadClass(…)` (a capitalised callee). */
function isConstruction(value: Node | null | undefined): boolean {
  const v = value ? unparenthesize(value) : undefined;
  if (v?.type !== 'call') return false;
  const callee = v.childForFieldName('function');
  const name = callee?.type === 'attribute' ? callee.childForFieldName('attribute')?.text : callee?.text;
  return !!name && /^_?[A-Z]/.test(name);
}

/**
 * An empty container built by `value`, and its kind, from the semantic model's one table of
 * container constructors (semantic/growth.ts). A `defaultdict` may name its default factory; a deque
 * bounded by `maxlen` drops old entries itself; comprehensions are not empty.
 */
function emptyContainer(value: Node, context: RuleContext): Kind | undefined {
  const built = context.semantic.containerBuilt(value);
  if (!built || built.comprehension || built.bounded) return undefined;
  if (built.kind === 'defaultdict') return built.arguments.length <= 1 ? built.kind : undefined;
  return built.empty ? built.kind : undefined;
}

function argumentsOf(call: Node): Node[] {
  return call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
}

/** What `self.NAME` does at this use when it adds to the container: the key or element it adds, and how. */
function addition(attr: Node, kind: Kind, shown: string): { node: Node; what: Node; how: string; fresh: boolean } | undefined {
  const p = attr.parent;
  if (!p) return undefined;
  if (p.type === 'attribute' && p.childForFieldName('object')?.equals(attr)) {
    const method = p.childForFieldName('attribute')?.text ?? '';
    const call = p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p) ? p.parent : undefined;
    if (!call) return undefined;
    const args = argumentsOf(call);
    const how = `\`${shown}.${method}(…)\``;
    if ((method === 'append' || method === 'add' || (method === 'appendleft' && kind === 'deque')) && args[0]) return { node: call, what: args[0], how, fresh: false };
    if (method === 'insert' && args[1]) return { node: call, what: args[1], how, fresh: false };
    if (method === 'setdefault' && args[0] && !SEQUENCE_OR_SET.has(kind)) return { node: call, what: args[0], how, fresh: isConstruction(args[1]) };
    return undefined;
  }
  if (p.type === 'subscript' && p.childForFieldName('value')?.equals(attr) && !SEQUENCE_OR_SET.has(kind)) {
    const key = p.childForFieldName('subscript');
    if (!key || key.type === 'slice') return undefined;
    const holder = p.parent;
    const target = (holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(p);
    if (target) {
      const operator = holder!.type === 'assignment' ? '=' : (holder!.childForFieldName('operator')?.text ?? '=');
      return { node: holder!, what: key, how: `\`${shown}[…] ${operator} …\``, fresh: holder!.type === 'assignment' && isConstruction(holder!.childForFieldName('right')) };
    }
    if (holder?.type === 'delete_statement' || holder?.type === 'expression_list') return undefined;
    // A read of a defaultdict inserts the key it asks for.
    // Its new value is an empty container, not an object the caller's work made: not counted as fresh.
    if (kind === 'defaultdict') return { node: p, what: key, how: `\`${shown}[…]\` (a read of a defaultdict inserts the key)`, fresh: false };
  }
  return undefined;
}

/** Is this whole-container read handing the container to other code (which may remove from it)? */
function escapes(attr: Node): boolean {
  const p = attr.parent;
  if (!p) return false;
  if (p.type === 'argument_list' || p.type === 'keyword_argument' || p.type === 'return_statement' || p.type === 'yield' || p.type === 'pair') return true;
  if (p.type === 'assignment' && p.childForFieldName('right')?.equals(attr)) return true;
  if (p.type === 'attribute' && p.childForFieldName('object')?.equals(attr)) {
    const method = p.childForFieldName('attribute')?.text ?? '';
    // `self.x.copy()` hands out a copy; other methods (`items`, `get`, `keys`) only read.
    return method === '__iter__';
  }
  return false;
}

/**
 * Whether some code of the file takes entries out of, resets or deletes an attribute of this name
 * outside a set-up method, through any object (`mgr._locks.pop(k)` from another class counts).
 * Asked per name, and answered from the attributes of that name only, found from the name's
 * occurrences in the text (far fewer than the file's attributes).
 */
function isPruned(context: RuleContext, name: string): boolean {
  const known = context.semantic.memo('LL304:pruned', () => new Map<string, boolean>());
  let pruned = known.get(name);
  if (pruned === undefined) {
    pruned = attributesNamed(context, name).some((attr) => prunes(context, attr));
    known.set(name, pruned);
  }
  return pruned;
}

/**
 * The attribute nodes `x.name` of the file. Every one has its name in the text with no ASCII
 * identifier character on either side; each such occurrence is checked on the tree (one in a
 * string, a comment or a longer non-ASCII name is no attribute's name).
 */
function attributesNamed(context: RuleContext, name: string): Node[] {
  const { text, root } = context;
  const word = (at: number) => {
    const c = text.charCodeAt(at);
    return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  };
  const found: Node[] = [];
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    const end = at + name.length;
    if ((at > 0 && word(at - 1)) || (end < text.length && word(end))) continue;
    const id = root.descendantForIndex(at, end);
    if (id?.type !== 'identifier' || id.startIndex !== at || id.endIndex !== end) continue;
    const attr = id.parent;
    if (attr?.type === 'attribute' && attr.childForFieldName('attribute')?.equals(id)) found.push(attr);
  }
  return found;
}

/** Does this use of an attribute take entries out of it, reset it or delete it (see isPruned)? */
function prunes(context: RuleContext, attr: Node): boolean {
  const fn = context.semantic.functionRunning(attr);
  // `pending = self._pending` then `while pending: pending.popleft()`: drained through a local alias.
  const holder = attr.parent;
  const alias = holder?.type === 'assignment' && holder.childForFieldName('right')?.equals(attr) ? holder.childForFieldName('left') : undefined;
  if (fn && alias?.type === 'identifier' && fn.childForFieldName('name')?.text !== '__del__') {
    const reads = context.semantic.readsOf(context.semantic.scopeFor(fn), alias.text);
    if (reads.some((r) => ['remove', 'delete'].includes(containerUseKind(r) ?? ''))) return true;
  }
  const use = containerUseKind(attr);
  if (use !== 'remove' && use !== 'delete' && use !== 'set') return false;
  const fnName = fn?.type === 'function_definition' ? fn.childForFieldName('name')?.text : undefined;
  // `__init__` builds it; `__del__` does not run while something else still holds the object.
  if (use === 'set' && (fnName === undefined || SETUP_METHODS.has(fnName))) return false;
  return fnName !== '__del__';
}

/** A module-level `NAME = Cls(…)` of this class: evidence that one of its objects lives for the process. */
function moduleInstance(cls: Node, className: string, semantic: SemanticModel): Node | undefined {
  for (const [, bindings] of semantic.scopes.module.bindings) {
    for (const b of bindings) {
      const a = b.node.parent;
      if (b.kind !== 'assignment' || a?.type !== 'assignment' || !a.childForFieldName('left')?.equals(b.node)) continue;
      const right = a.childForFieldName('right');
      const v = right ? unparenthesize(right) : undefined;
      const callee = v?.type === 'call' ? v.childForFieldName('function') : undefined;
      if (callee?.type === 'identifier' && callee.text === className && semantic.moduleClass(className)?.equals(cls)) return a;
    }
  }
  return undefined;
}

/** The adding method, when the module calls it on its module-level instance at import time. */
function calledAtImport(instance: Node, growths: Growth[], context: RuleContext): string | undefined {
  const name = instance.childForFieldName('left')?.text;
  const methods = new Set(growths.map((g) => g.method.name));
  for (const call of context.root.descendantsOfType('call')) {
    const callee = call?.childForFieldName('function');
    if (callee?.type !== 'attribute' || callee.childForFieldName('object')?.text !== name) continue;
    const method = callee.childForFieldName('attribute')?.text ?? '';
    if (methods.has(method) && context.semantic.functionRunning(call!) === undefined) return method;
  }
  return undefined;
}

function describe(origin: Origin): string {
  if (origin.kind === 'per-call') return `keyed by parameter \`${origin.parameter}\``;
  if (origin.kind === 'identity') return `one entry per object (${origin.why})`;
  return 'from a value LeakLens cannot follow';
}

/** The private methods that only set-up code calls (`self._add(x)` from `__init__` only). */
function calledOnlyFromSetup(method: MethodModel, methods: Map<string, MethodModel>): boolean {
  if (!method.name.startsWith('_') || method.name.startsWith('__')) return false;
  let fromSetup = false;
  for (const other of methods.values()) {
    if (other === method || !other.attributes.has(method.name)) continue;
    if (!SETUP_METHODS.has(other.name)) return false;
    fromSetup = true;
  }
  return fromSetup;
}

/**
 * Does the method link what it adds back to the object (`child.parent = self`)? Then the container
 * is a tree's children, bounded by the structure the program builds (LL502 looks at the link).
 */
function linksBack(method: MethodModel, parameter: string): boolean {
  const receiver = method.receiver?.text;
  return method.node.descendantsOfType('assignment').some((a) => {
    const left = a?.childForFieldName('left');
    const right = a?.childForFieldName('right');
    return left?.type === 'attribute' && left.childForFieldName('object')?.text === parameter && right?.type === 'identifier' && right.text === receiver;
  });
}

export const rule: Rule = {
  code: 'LL304',
  name: 'growing-instance-container',
  category: 'containers',
  defaultSeverity: 'warning',
  query: `(class_definition) @class`,
  check(context: RuleContext, matches: QueryMatch[]) {
    const { semantic } = context;
    const testModule = semantic.memo('LL304:test', () => isTestModule(context.root));
    for (const match of matches) {
      const cls = match.captures[0].node;
      const model = semantic.classModel(cls);
      if (model.isEnum || model.isNamedTuple || model.isException || model.isProtocol) continue;
      const init = model.methods.get('__init__');
      if (!init?.receiver) continue;
      for (const [name, uses] of init.attributes) {
        const created = uses.find((u) => u.kind === 'set');
        const assignment = created?.node.parent;
        const value = assignment?.type === 'assignment' ? assignment.childForFieldName('right') : undefined;
        const kind = value ? emptyContainer(value, context) : undefined;
        if (!created || !kind || uses.filter((u) => u.kind === 'set').length > 1) continue;
        if (isPruned(context, name)) continue;
        const shown = `self.${name}`;
        const growths: Growth[] = [];
        let handedOut: Node | undefined;
        for (const method of model.methods.values()) {
          if (method.kind !== 'instance' || SETUP_METHODS.has(method.name) || !method.receiver) continue;
          for (const use of method.attributes.get(name) ?? []) {
            if (escapes(use.node)) handedOut ??= use.node;
            const add = addition(use.node, kind, shown);
            if (!add) continue;
            const fn = semantic.functionRunning(use.node) ?? method.node;
            const origin = semantic.originOf(add.what, fn, method.receiver.text);
            if (origin.kind !== 'per-call' && origin.kind !== 'identity') continue;
            if (calledOnlyFromSetup(method, model.methods)) continue;
            if (origin.kind === 'per-call' && linksBack(method, origin.parameter)) continue;
            growths.push({ node: add.node, method, how: add.how, origin, fresh: add.fresh });
          }
        }
        if (growths.length === 0) continue;
        const first = growths[0];
        const registration = growths.every((g) => REGISTRATION.test(g.method.name));
        const instance = moduleInstance(cls, model.name, semantic);
        const setUpAtImport = instance ? calledAtImport(instance, growths, context) : undefined;
        const reasons: string[] = [];
        if (!instance) reasons.push(`LeakLens cannot tell whether \`${model.name}\` objects live long (none is bound at module level in this file)`);
        if (setUpAtImport) reasons.push(`the module itself calls \`${setUpAtImport}\` at import time: its entries may all come from code`);
        if (!growths.some((g) => g.origin.kind === 'identity' || g.fresh)) {
          reasons.push('each entry is a value the caller passes or an empty default (no object made per call, no `id(…)` key), and LeakLens cannot tell whether callers pass a few distinct keys or a new one per request');
        }
        if (testModule) reasons.push('this is test code, whose objects are usually short-lived');
        if (registration) reasons.push(`\`${first.method.name}\` looks like a registration method, whose entries the program's code bounds`);
        if (handedOut) reasons.push(`\`${shown}\` is handed to other code at line ${context.lineRef(handedOut.startIndex)}, which may take entries out`);
        const owner = instance
          ? `the process: the module-level \`${instance.childForFieldName('left')?.text}\` (line ${context.lineRef(instance.startIndex)}) keeps one such object`
          : `its \`${model.name}\` object lives`;
        const related: RelatedLocation[] = growths.map((g) => ({
          start: g.node.startIndex,
          end: g.node.endIndex,
          message: `\`${shown}\` grows here (${g.how} in \`${g.method.name}\`, ${describe(g.origin)})`,
        }));
        const fix = SEQUENCE_OR_SET.has(kind) ? 'remove each element when it is done with' : `take entries out when done (\`${shown}.pop(key, None)\`)`;
        const message =
          `\`${shown}\` (a ${CONTAINER_KIND_NAMES[kind]} made in \`${model.name}.__init__\`) grows in \`${first.method.name}\` (${first.how}, ${describe(first.origin)}) and no code takes entries out (no pop, remove, del, clear or reset; \`__del__\` does not count): ` +
          `it holds one entry per distinct value for as long as ${owner}. Fix: ${fix}, bound it (an LRU with a maximum size), or hold the entries weakly (\`weakref.WeakValueDictionary\`)` +
          (reasons.length > 0 ? `. Low confidence: ${reasons.join('; ')}` : '');
        context.report({ node: created.node, message, related, confidence: reasons.length > 0 ? 'low' : undefined });
      }
    }
  },
  docs: {
    summary: "A container an object builds in `__init__` and its methods fill per call, with nothing ever taking entries out.",
    whatItDoes:
      "Flags an instance attribute set to an empty list, set, dict, `OrderedDict`, `Counter`, `defaultdict` or `deque` (without a `maxlen`; the `typing` spellings too) in `__init__` when another method of the class adds to it with a key or element that comes from the method's parameters (`self._locks[key] = Lock()`, `self._seen.add(item)`, `self._queue.appendleft(item)`, `self._by_id[id(obj)] = obj`, `self._cache.setdefault(name, …)`), also through a read that inserts (`self._cookies[host]` on a `defaultdict`), and no code in the file takes entries out of an attribute of that name (`pop`, `popitem`, `popleft`, `remove`, `discard`, `clear`, `del self.x[k]`, a slice assignment, `-=`, also through a local alias: `pending = self._pending; pending.popleft()`) or resets it outside `__init__` (`self.x = {}`). A removal in `__del__` does not count: while an entry is held, the object that would run `__del__` may be what the entry keeps alive, and the container dies with its object anyway.\n\n" +
      "Confident findings need evidence of both a long-lived owner and growth per call: the file binds an instance of the class at module level (`manager = LockManager()`), so the container lives for the whole process, and each entry is an object the call makes (`self._locks[key] = threading.Lock()`) or is keyed per object (`id(obj)`, `self`); a `defaultdict` read that inserts is growth, but its new value is only an empty container, so alone it gives low confidence. Otherwise the finding has low confidence (reported only with `all-findings`, one severity lower), and the message says why: LeakLens cannot tell whether the objects live long; the module calls the adding method on its instance at import time (the entries come from code); the entries are values the caller passes, which may be a few distinct keys; the module is test code (it imports `unittest` or `pytest`); the adding method is a registration method (`register…`, `add…`, `set…`, `allow…`, `install…`, `subscribe`, …), whose entries are usually bounded by the program's code; or the container is handed to other code (passed, returned, assigned) that may take entries out.\n\n" +
      "Not flagged: keys or elements from a small domain fixed by the code (literals, module-level constants, enum members, classes, `type(x)`, `x.__class__`, a loop over a literal); additions in `__init__` and the other set-up methods, or in private methods only they call; containers that start non-empty; weak containers (`WeakValueDictionary`, `WeakKeyDictionary`, `WeakSet`), which are never flagged; `deque(maxlen=…)`; enums, named tuples, exceptions and protocols.",
    whyLeak:
      'A container held by an object lives as long as the object. When a method adds an entry for every new key it is called with and nothing ever removes one, the container holds every key (and value) ever seen: a lock per resource name, a cookie jar per host asked about, a record per request. In a long-lived object (a manager, a pool, a server, a module-level singleton) that is memory that grows with the traffic, until the process exits.',
    example:
      'import threading\n\n\nclass LockManager:\n    def __init__(self):\n        self._locks = {}\n\n    def acquire(self, key):\n        lock = self._locks[key] = threading.Lock()\n        lock.acquire()\n\n    def release(self, key):\n        self._locks[key].release()\n\n\nlocks = LockManager()\n',
    useInstead:
      'import threading\n\n\nclass LockManager:\n    def __init__(self):\n        self._locks = {}\n\n    def acquire(self, key):\n        lock = self._locks[key] = threading.Lock()\n        lock.acquire()\n\n    def release(self, key):\n        self._locks.pop(key).release()\n\n\nlocks = LockManager()\n',
    fixSafety:
      'No fix is offered: where an entry stops being needed (a `release`, a `close`, the end of a request) is the program\'s decision. Usual remedies are a removal where the entry\'s use ends (`self._locks.pop(key)`), a bounded cache (`functools.lru_cache`, or an `OrderedDict` trimmed to a maximum size), or a weak container when the entries are objects that live elsewhere.',
    options: '`all-findings` shows the findings of low confidence (an owner whose lifetime LeakLens cannot see, test code, registration methods, a container handed to other code).',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.WeakValueDictionary',
      'https://docs.python.org/3/library/functools.html#functools.lru_cache',
      'https://docs.python.org/3/library/collections.html#collections.defaultdict',
    ],
  },
};
