// LL503 self-bound-callback: an instance stores something that refers back to itself — a bound
// method of its own, a lambda or nested function that uses `self` — so it is its own cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { classMethods, MethodInfo, methodInfo, rootIdentifier, storeOf, stripParens as unparenthesize } from '../cycles';
import type { Rule, RuleContext } from '../types';

const METACLASS_SELF = new Set(['cls', 'mcs', 'mcls', 'metacls']);
const BINDERS = new Set(['functools.partial', 'functools.partialmethod', 'types.MethodType']);

/** Does a lambda or def hold `selfName` of the enclosing method strongly, in a default or its closure? */
function closesOver(fn: Node, selfName: string, context: RuleContext): boolean {
  const params = fn.childForFieldName('parameters');
  if (params) {
    for (const p of params.namedChildren) {
      const value = p?.childForFieldName('value');
      // `s=self` or `m=self.method` holds self; `selfref=weakref.ref(self)` does not.
      if (value && rootIdentifier(value)?.text === selfName) return true;
    }
  }
  // The closure holds `self` when the function's code (or code nested in it) reads the method's
  // own `self`: not a parameter, local or comprehension variable of the same name.
  return context.semantic.readsFromEnclosing(fn, selfName);
}

/** `def name` that the method body itself binds (not deeper), if any: the last one. */
function nestedFunction(method: Node, name: string, context: RuleContext): Node | undefined {
  // A textual pre-filter (it only decides whether to build the method's scope): no `def name`
  // in the method's text, no such function.
  if (!new RegExp(`\\bdef\\s+${name}\\b`, 'u').test(method.text)) return undefined;
  const bindings = context.semantic.scopeFor(method).bindingsOf(name);
  const defs = bindings.filter((b) => b.kind === 'function').map((b) => b.node.parent);
  const last = defs[defs.length - 1];
  return last?.type === 'function_definition' ? last : undefined;
}

interface Verdict {
  what: string;
  advice: string;
}

const METHOD_ADVICE = 'store a `weakref.WeakMethod` or look the method up when it is needed';
const CLOSURE_ADVICE = 'pass the instance as an argument when calling it, or capture a `weakref.ref` to it instead';

function isOwnMethod(value: Node, selfName: string, methods: Map<string, MethodInfo>): string | undefined {
  const v = unparenthesize(value);
  if (v.type !== 'attribute') return undefined;
  const object = v.childForFieldName('object');
  const attr = v.childForFieldName('attribute')?.text;
  if (object?.type !== 'identifier' || object.text !== selfName || !attr) return undefined;
  const m = methods.get(attr);
  return m && m.kind === 'instance' ? attr : undefined;
}

function judge(value: Node, method: Node, selfName: string, methods: Map<string, MethodInfo>, context: RuleContext): Verdict | undefined {
  const v = unparenthesize(value);
  const own = isOwnMethod(v, selfName, methods);
  if (own) return { what: `the bound method \`${selfName}.${own}\`, which refers back to \`${selfName}\``, advice: METHOD_ADVICE };
  if (v.type === 'lambda') {
    return closesOver(v, selfName, context) ? { what: `a lambda that uses \`${selfName}\``, advice: CLOSURE_ADVICE } : undefined;
  }
  if (v.type === 'identifier') {
    const def = nestedFunction(method, v.text, context);
    return def && closesOver(def, selfName, context) ? { what: `the nested function \`${v.text}\`, which refers to \`${selfName}\``, advice: CLOSURE_ADVICE } : undefined;
  }
  if (v.type === 'call') {
    const fn = v.childForFieldName('function');
    const name = fn ? context.qualifiedName(fn) : undefined;
    if (!name || !BINDERS.has(name)) return undefined;
    const args = v.childForFieldName('arguments')?.namedChildren ?? [];
    for (const a of args) {
      if (!a) continue;
      const arg = a.type === 'keyword_argument' ? a.childForFieldName('value') : a;
      if (!arg) continue;
      const inner = unparenthesize(arg);
      if ((inner.type === 'identifier' && inner.text === selfName) || isOwnMethod(inner, selfName, methods)) {
        return { what: `\`${fn!.text}(…)\` bound to \`${selfName}\``, advice: METHOD_ADVICE };
      }
    }
  }
  return undefined;
}

/** A textual pre-filter on the value, before any navigation (it only decides whether to look): can it hold `name`? */
function mayHold(value: Node, name: string): boolean {
  const text = value.text;
  const v = unparenthesize(value);
  if (v.type === 'identifier') return true; // a nested def: checked against the method later
  if (v.type === 'attribute') return v.text.startsWith(name + '.') || v.text.startsWith(name + ' ');
  return text.includes(name);
}

export const rule: Rule = {
  code: 'LL503',
  name: 'self-bound-callback',
  category: 'cycles',
  defaultSeverity: 'warning',
  // The first pattern is written exactly as LL501's, so the engine matches it once for both.
  query: `
    (assignment left: (attribute) @target right: (_) @value) @store
    (assignment left: (subscript value: (attribute)) right: (_)) @store
    (call function: (attribute object: (attribute) attribute: (identifier) @method) (#any-of? @method "append" "add" "insert" "appendleft" "setdefault")) @store
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const methodsByClass = new Map<number, Map<string, MethodInfo>>();
    for (const match of matches) {
      const node = match.captures.find((c) => c.name === 'store')!.node;
      const store = storeOf(node);
      if (!store) continue;
      // Cheap filter: only values that can refer to an instance.
      const vt = unparenthesize(store.value).type;
      if (vt !== 'attribute' && vt !== 'lambda' && vt !== 'identifier' && vt !== 'call') continue;
      const root = rootIdentifier(store.target);
      if (!root) continue;
      if (!mayHold(store.value, root.text)) continue;
      const scope = context.semantic.frameNodeOf(node);
      if (scope.type !== 'function_definition') continue;
      const info = methodInfo(scope, context);
      if (!info || info.kind !== 'instance' || !info.selfName || root.text !== info.selfName) continue;
      // In a metaclass the instance is a class: classes refer to themselves anyway.
      if (METACLASS_SELF.has(info.selfName)) continue;
      let methods = methodsByClass.get(info.cls.startIndex);
      if (!methods) methodsByClass.set(info.cls.startIndex, (methods = classMethods(info.cls, context)));
      const verdict = judge(store.value, scope, info.selfName, methods, context);
      if (!verdict) continue;
      const where = store.kind === 'call' ? `\`${store.target.text}\`` : `\`${store.target.text}\``;
      const message =
        `${where} stores ${verdict.what}: every instance is in a reference cycle with itself, so it is freed only ` +
        `when the cyclic garbage collector runs, not when its last outside reference goes away; ${verdict.advice}`;
      context.report({ node, message });
    }
  },
  docs: {
    summary: 'An instance stores a callback that refers back to the instance itself.',
    whatItDoes:
      'Flags, inside an instance method, a store onto `self` (`self.x = …`, `self.x[k] = …`, `self.handlers.append(…)`) of something that holds `self`: a bound method of the same class (`self.x = self.method`), a lambda that uses `self`, a nested function whose closure uses `self`, or `functools.partial`/`types.MethodType` bound to `self` or to one of its methods. Static methods, class methods and properties are not bound methods and are not flagged; neither is a callback wrapped in `weakref.WeakMethod`. Only methods defined in the class itself are recognised.',
    whyLeak:
      'A bound method keeps a reference to its instance (`__self__`), and a closure keeps the variables it uses. Stored on the instance, either one makes the instance refer to itself: a reference cycle. CPython frees an object as soon as its reference count drops to zero, but the members of a cycle never reach zero by themselves, so the instance — and everything it holds: buffers, sockets, caches — stays in memory after the program drops it, until the cyclic garbage collector happens to run (and forever while `gc.disable()` is in force).',
    example:
      'class Button:\n    def __init__(self):\n        self.on_click = self.handle_click\n\n    def handle_click(self):\n        print("clicked")\n',
    useInstead:
      'import weakref\n\n\nclass Button:\n    def __init__(self):\n        self.on_click = weakref.WeakMethod(self.handle_click)\n\n    def handle_click(self):\n        print("clicked")\n',
    fixSafety: 'There is no automatic fix: whether to look the method up on demand, keep a `weakref.WeakMethod` (and call `ref()()`), or accept the cycle depends on how the callback is used.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.WeakMethod',
      'https://docs.python.org/3/library/gc.html',
      'https://docs.python.org/3/reference/datamodel.html#instance-methods',
    ],
  },
};
