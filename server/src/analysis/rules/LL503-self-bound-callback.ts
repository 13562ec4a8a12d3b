// LL503 self-bound-callback: an instance stores something that refers back to itself — a bound
// method of its own, a lambda or nested function that uses `self` — so it is its own cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { classMethods, MethodInfo, WEAK_FACTORIES, methodInfo, rootIdentifier, storeOf, stripParens as unparenthesize } from '../cycles';
import { attributeDeleted, attributesResetOnTeardown, ownSlot, firstAttribute, resourceTeardown, inFileClassChain, inTestCode, resetInFinally } from '../cycle-evidence';
import type { Rule, RuleContext } from '../types';

const METACLASS_SELF = new Set(['cls', 'mcs', 'mcls', 'metacls']);
const BINDERS = new Set(['functools.partial', 'functools.partialmethod', 'types.MethodType']);

/** Does a lambda or def hold the receiver of `method` strongly, in a default or its closure? */
function closesOver(fn: Node, method: Node, selfName: string, context: RuleContext): boolean {
  const params = fn.childForFieldName('parameters');
  if (params) {
    for (const p of params.namedChildren) {
      const value = p?.childForFieldName('value');
      // `s=self` or `m=self.method` holds self; `selfref=weakref.ref(self)` does not.
      if (value && context.semantic.isReceiverOf(rootIdentifier(value), method)) return true;
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
  /** A bound method (also bound by `partial`, or wrapped in another object), or a closure. */
  kind: 'method' | 'wrapped' | 'closure';
}

/** Calls that keep their callable argument only until they are done with it. */
const TRANSIENT_HOLDERS = new Set(['threading.Thread', 'threading.Timer', 'multiprocessing.Process', 'weakref.finalize', 'atexit.register']);

const METHOD_ADVICE = 'store a `weakref.WeakMethod` or look the method up when it is needed';
const CLOSURE_ADVICE = 'pass the instance as an argument when calling it, or capture a `weakref.ref` to it instead';

/** `self.name` where `self` is `method`'s receiver and `name` an instance method of the class: the method's name. */
function isOwnMethod(value: Node, method: Node, methods: Map<string, MethodInfo>, context: RuleContext): string | undefined {
  const v = unparenthesize(value);
  if (v.type !== 'attribute') return undefined;
  const attr = v.childForFieldName('attribute')?.text;
  if (!attr || !context.semantic.isReceiverOf(v.childForFieldName('object'), method)) return undefined;
  const m = methods.get(attr);
  return m && m.kind === 'instance' ? attr : undefined;
}

function judge(value: Node, method: Node, selfName: string, methods: Map<string, MethodInfo>, context: RuleContext): Verdict | undefined {
  const v = unparenthesize(value);
  const own = isOwnMethod(v, method, methods, context);
  if (own) return { what: `the bound method \`${selfName}.${own}\`, which refers back to \`${selfName}\``, advice: METHOD_ADVICE, kind: 'method' };
  if (v.type === 'lambda') {
    return closesOver(v, method, selfName, context) ? { what: `a lambda that uses \`${selfName}\``, advice: CLOSURE_ADVICE, kind: 'closure' } : undefined;
  }
  if (v.type === 'identifier') {
    const def = nestedFunction(method, v.text, context);
    return def && closesOver(def, method, selfName, context) ? { what: `the nested function \`${v.text}\`, which refers to \`${selfName}\``, advice: CLOSURE_ADVICE, kind: 'closure' } : undefined;
  }
  if (v.type === 'call') {
    const fn = v.childForFieldName('function');
    const name = fn ? context.qualifiedName(fn) : undefined;
    if (!fn || !name || TRANSIENT_HOLDERS.has(name) || WEAK_FACTORIES.has(name)) return undefined;
    const binder = BINDERS.has(name);
    // `PeriodicCallback(self._tick, 1000)`: an object built (a class by its name) around a bound
    // method keeps it; what a plain function returns need not.
    const last = name.split('.').pop() ?? '';
    if (!binder && !/^_?[A-Z]/.test(last)) return undefined;
    const args = v.childForFieldName('arguments')?.namedChildren ?? [];
    for (const a of args) {
      if (!a) continue;
      const arg = a.type === 'keyword_argument' ? a.childForFieldName('value') : a;
      if (!arg) continue;
      const inner = unparenthesize(arg);
      const ownArg = isOwnMethod(inner, method, methods, context);
      if (binder && (context.semantic.isReceiverOf(inner, method) || ownArg)) {
        return { what: `\`${fn.text}(…)\` bound to \`${selfName}\``, advice: METHOD_ADVICE, kind: 'method' };
      }
      if (!binder && ownArg) {
        return { what: `a \`${fn.text}\` that holds the bound method \`${selfName}.${ownArg}\``, advice: 'keep the object elsewhere, or hand it a `weakref.WeakMethod`', kind: 'wrapped' };
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
  if (v.type === 'attribute') return v.text.replace(/[\s()]/g, '').startsWith(name + '.'); // `self.m`, `(self).m`
  return text.includes(name);
}

/**
 * A state machine: bound methods of the instance stored into the same attribute by two or more
 * methods (`self._next = self.state_helo` … `self._next = self.state_mail`), a dispatch by design.
 */
function stateMachine(cls: Node, attr: string, context: RuleContext): boolean {
  let methods = 0;
  for (const c of inFileClassChain(cls, context)) {
    for (const m of context.semantic.classModel(c).methods.values()) {
      const uses = m.attributes.get(attr) ?? [];
      if (m.receiver && uses.some((u) => u.kind === 'set' && isSelfAttribute(u.node.parent?.childForFieldName('right'), m.node, context))) methods++;
    }
  }
  return methods >= 2;
}

/** Is the value an attribute of `method`'s own receiver (`self.state_mail`)? */
function isSelfAttribute(value: Node | null | undefined, method: Node, context: RuleContext): boolean {
  const v = value ? unparenthesize(value) : undefined;
  return v?.type === 'attribute' && context.semantic.isReceiverOf(v.childForFieldName('object'), method);
}

/** Why a store is not a confident finding, if it is not. */
function lowConfidence(target: Node, node: Node, verdict: Verdict, attr: string | undefined, cls: Node, className: string, teardown: string | undefined, context: RuleContext): string | undefined {
  const reset = attributesResetOnTeardown(cls, context);
  if (verdict.kind === 'closure') return 'a closure stored on the instance is often a deliberate callback; LeakLens cannot tell whether instances are many';
  if (verdict.kind === 'wrapped') return 'LeakLens cannot see whether the object keeps the method for its whole life';
  if (inTestCode(node, context)) return 'test code: the object lives for one test';
  const method = context.semantic.frameNodeOf(node);
  const self = context.semantic.method(method)?.receiver?.text ?? 'self';
  if (!ownSlot(target, method, context)) return 'the method is stored on another object, whose lifetime LeakLens cannot see';
  if (attr && attributeDeleted(cls, attr, context)) return `the class deletes \`${attr}\` itself (\`del ${self}.${attr}\`), which breaks the cycle`;
  if (attr && (reset.has(attr) || reset.has('*'))) return `the class's teardown resets \`${attr}\`, which breaks the cycle when it runs`;
  if (!teardown) return `\`${className}\` has no \`close()\`-like method: LeakLens cannot tell whether its instances are many and short-lived`;
  if (attr && stateMachine(cls, attr, context)) return `several methods store bound methods in \`${attr}\` (a state machine, by design)`;
  return undefined;
}

/**
 * Confident only with the evidence that the cycle matters and nothing breaks it: a bound method
 * (not a closure, which is often a deliberate lazy accessor) on a class that owns a per-instance
 * resource (it has `close()`, `__exit__`, `connection_lost` …) whose teardown leaves this
 * attribute in place, outside test code and outside state machines.
 */
function reportStore(target: Node, node: Node, verdict: Verdict, attr: string | undefined, cls: Node, context: RuleContext): void {
  const className = context.semantic.classModel(cls).name;
  const cycle = `${verdict.what}: every \`${className}\` is in a reference cycle with itself, so an instance the program drops is freed only when the cyclic garbage collector runs, with everything it holds`;
  const teardown = resourceTeardown(cls, context);
  const reason = lowConfidence(target, node, verdict, attr, cls, className, teardown, context);
  if (reason) {
    context.report({ node, message: `\`${target.text}\` stores ${cycle} (low confidence: ${reason}); ${verdict.advice}`, confidence: 'low' });
    return;
  }
  const clear = attr ? `set \`self.${attr}\` to None in \`${teardown}()\`` : `break the link in \`${teardown}()\``;
  context.report({
    node,
    message: `\`${target.text}\` stores ${cycle}, and \`${teardown}()\` leaves it in place, so even a closed instance keeps itself alive; ${clear}, or ${verdict.advice}`,
  });
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
      if (!info || info.kind !== 'instance' || !info.selfName || !context.semantic.isReceiverOf(root, scope)) continue;
      // In a metaclass the instance is a class: classes refer to themselves anyway.
      if (METACLASS_SELF.has(info.selfName)) continue;
      let methods = methodsByClass.get(info.cls.startIndex);
      if (!methods) methodsByClass.set(info.cls.startIndex, (methods = classMethods(info.cls, context)));
      const verdict = judge(store.value, scope, info.selfName, methods, context);
      if (!verdict) continue;
      const attr = firstAttribute(store.target, scope, context);
      // `try: self.x = self.m … finally: del self.x`: the cycle lasts for the call only.
      if (attr && resetInFinally(node, scope, attr, context)) continue;
      reportStore(store.target, node, verdict, attr, info.cls, context);
    }
  },
  docs: {
    summary: 'An instance stores a callback that refers back to the instance itself.',
    whatItDoes:
      'Flags, inside an instance method, a store onto `self` (`self.x = …`, `self.x[k] = …`, `self.handlers.append(…)`) of something that holds `self`: a bound method of the same class (`self.x = self.method`), `functools.partial`/`types.MethodType` bound to `self` or to one of its methods, an object built around one of its bound methods (`self._timer = PeriodicCallback(self._tick, 1000)`), a lambda that uses `self`, or a nested function whose closure uses `self`. A finding is confident only when the evidence says the cycle matters and nothing breaks it: a bound method (or `partial`) stored in the instance\'s own attribute, in a class that releases a per-instance resource (it, or a base class in the file, has `close()`, `__exit__`, `connection_lost`, `shutdown`, `release` …), whose teardown (that method, or a method it calls) does not reset the attribute, outside test code, and not a state machine (two or more methods storing bound methods into the same attribute). Everything else is reported with low confidence (shown only with all-findings): closures, wrapped objects, stores on another object (`self.scheduler.handlers[k] = self.m`), classes without a teardown method, attributes the teardown resets or some method deletes (`del self.x`), and test code (a test module, `test…` functions, `TestCase` classes). Not reported at all: an attribute deleted or reset in a `finally` block of the same method after the store; `threading.Thread(target=self.run)` and similar holders that drop their callable when done; static methods, class methods and properties; callbacks wrapped in `weakref.WeakMethod`. Only methods defined in the class itself are recognised.',
    whyLeak:
      'A bound method keeps a reference to its instance (`__self__`), and a closure keeps the variables it uses. Stored on the instance, either one makes the instance refer to itself: a reference cycle. CPython frees an object as soon as its reference count drops to zero, but the members of a cycle never reach zero by themselves, so the instance — and everything it holds: buffers, sockets, caches — stays in memory after the program drops it, until the cyclic garbage collector happens to run (and forever while `gc.disable()` is in force).',
    example:
      'class Reader:\n    def __init__(self, path, compressed):\n        self._file = open(path, "rb")\n        self._convert = None\n        if compressed:\n            self._convert = self._decompress\n\n    def _decompress(self, data):\n        return data\n\n    def close(self):\n        self._file.close()\n',
    useInstead:
      'class Reader:\n    def __init__(self, path, compressed):\n        self._file = open(path, "rb")\n        self._convert = None\n        if compressed:\n            self._convert = self._decompress\n\n    def _decompress(self, data):\n        return data\n\n    def close(self):\n        self._convert = None  # breaks the cycle\n        self._file.close()\n',
    fixSafety: 'There is no automatic fix: whether to look the method up on demand, keep a `weakref.WeakMethod` (and call `ref()()`), or accept the cycle depends on how the callback is used.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.WeakMethod',
      'https://docs.python.org/3/library/gc.html',
      'https://docs.python.org/3/reference/datamodel.html#instance-methods',
    ],
  },
};
