// LL501 reference-cycle: within one scope, stores that make objects bound to names refer to each
// other (`a.next = b` … `b.prev = a`, `a.me = a`, `b.items.append(a)`): a reference cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { inTestCode } from '../cycle-evidence';
import { addWeakAliases, boundToBuiltinValue, Edge, exclusive, hashableNotNeeded, intoClassContainer, knownWeakReferenceable, overwritten, reboundBetween, removedElsewhere, throughWeak, weakSlots } from '../cycle-graph';
import { parentBackReferences } from '../back-references';
import { heldNames, methodInfo, privateAttributeStore, proxyWouldShow, setattrStore, storedAttribute, rootIdentifier, Store, storeOf, weakProxyEdits, weakTargets, stripParens as unparenthesize } from '../cycles';
import { probeContext } from '../syntax';
import type { Fix, RelatedLocation, Rule, RuleContext } from '../types';

const ASCII = /^[\x00-\x7f]*$/;
const ROOT_ASCII = /^[(\s]*([A-Za-z_]\w*)/;
const ROOT = /^[(\s]*([\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*)/u;
const NAME_ASCII = /(?<![.\w])[A-Za-z_]\w*/g;
/** Leading names of an expression's text (not attribute names after a dot). */
const NAME = /(?<![.\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}])[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/gu;

/** Names of objects that are cyclic anyway or live for the process: classes, functions, modules. */
function longLivedNames(scope: Node, context: RuleContext): Set<string> {
  const names = new Set<string>();
  if (scope.type === 'function_definition') {
    const info = methodInfo(scope, context);
    const params = scope.childForFieldName('parameters')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
    const first = params[0];
    const firstName = first?.type === 'identifier' ? first.text : undefined;
    // `cls` of a class method or of a metaclass method is a class.
    if (firstName && info && (info.kind === 'class' || ['cls', 'mcs', 'mcls', 'metacls'].includes(firstName))) names.add(firstName);
  }
  // Classes and functions the scope or the module binds (by `class`/`def`), from the scope model.
  const scopes = [context.semantic.scopeFor(scope), context.semantic.scopes.module];
  for (const s of scopes) {
    for (const [name, bindings] of s.bindings) if (bindings.some((b) => b.kind === 'class' || b.kind === 'function')) names.add(name);
  }
  return names;
}

/**
 * The names a store makes its target refer to. A slice assignment (`a[1:] = b`) copies the items
 * of its value, so only the items of a literal count there.
 */
function storedNames(store: Store): Node[] {
  if (store.kind === 'subscript' && store.target.childForFieldName('subscript')?.type === 'slice') {
    const v = unparenthesize(store.value);
    if (v.type !== 'list' && v.type !== 'tuple') return [];
    return v.namedChildren.flatMap((c) => (c && c.type !== 'comment' ? heldNames(c) : []));
  }
  return heldNames(store.value);
}

/** A path of edges from the variable `from` to the variable `to` (place keys), breadth-first. */
function findPath(edges: Edge[], from: string, to: string): Edge[] | undefined {
  const previous = new Map<string, Edge>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length > 0) {
    const at = queue.shift()!;
    if (at === to) {
      const path: Edge[] = [];
      for (let n = to; n !== from; ) {
        const e = previous.get(n)!;
        path.unshift(e);
        n = e.fromKey;
      }
      return path;
    }
    for (const e of edges) {
      if (e.fromKey !== at || seen.has(e.toKey)) continue;
      seen.add(e.toKey);
      previous.set(e.toKey, e);
      queue.push(e.toKey);
    }
  }
  return undefined;
}

function describe(edge: Edge): string {
  const text = edge.node.text.replace(/\s+/g, ' ');
  return text.length > 40 ? text.slice(0, 37) + '…' : text;
}

function checkScope(scope: Node, edges: Edge[], context: RuleContext): void {
  edges.sort((a, b) => a.node.startIndex - b.node.startIndex);
  let longLived: Set<string> | undefined;
  let deferred: Set<number> | undefined;
  let weak: Set<string> | undefined;
  let slots: Set<string> | undefined;
  const reported = new Set<number>();
  for (let i = 0; i < edges.length; i++) {
    const closing = edges[i];
    const earlier = edges.slice(0, i).filter((e) => e.node.startIndex < closing.node.startIndex || e.node.equals(closing.node));
    const path = closing.fromKey === closing.toKey ? [] : findPath(earlier.filter((e) => !e.node.equals(closing.node)), closing.toKey, closing.fromKey);
    if (!path) continue;
    const cycle = [...path, closing];
    longLived ??= longLivedNames(scope, context);
    if (cycle.some((e) => longLived!.has(e.from) || longLived!.has(e.to))) continue;
    if (cycle.some((e, k) => cycle.slice(k + 1).some((f) => exclusive(e.node, f.node, scope)))) continue;
    if (cycle.some((e) => overwritten(scope, e, closing, context.semantic))) continue;
    if (cycle.some((e) => intoClassContainer(scope, e, context))) continue;
    if (weak === undefined) {
      weak = weakTargets(scope, context);
      addWeakAliases(scope, weak, (slots ??= weakSlots(context)), context.semantic);
    }
    if (cycle.some((e) => throughWeak(e, weak!, context.semantic))) continue;
    // A store made to see it fail (`with self.assertRaises(…)`) makes no cycle.
    if (probeContext(closing.node).expectsError) continue;
    if (cycle.some((e) => removedElsewhere(scope, e, context))) continue;
    if (reboundBetween(scope, cycle, context.semantic)) continue;
    // A parent/child back-reference is LL502's finding.
    if (deferred === undefined) {
      deferred = new Set();
      const cls = scope.type === 'function_definition' ? context.semantic.classOfMethod(scope) : undefined;
      if (cls) {
        for (const ref of parentBackReferences(cls, context)) {
          deferred.add(ref.store.startIndex);
          for (const f of ref.forward) deferred.add(f.startIndex);
        }
      }
    }
    if (cycle.some((e) => deferred!.has(e.node.startIndex))) continue;
    if (reported.has(closing.node.startIndex)) continue;
    reported.add(closing.node.startIndex);

    // Lists, dicts and other built-in values cannot be weakly referenced.
    const builtin = boundToBuiltinValue(scope, closing.to, closing.node, context.semantic);
    const after =
      'freed only when the cyclic garbage collector runs, not when the last outside reference goes away; ' +
      (builtin
        ? `\`${closing.to}\` cannot be weakly referenced: break the cycle explicitly when it is no longer needed`
        : `make ${cycle.length === 1 ? 'the reference' : 'one of the references'} weak (\`weakref.proxy\` or \`weakref.ref\`)`);
    let message: string;
    if (cycle.length === 1) {
      message = `\`${describe(closing)}\` makes \`${closing.from}\` refer to itself: a reference cycle, ${after}`;
    } else {
      const chain = cycle.map((e) => `\`${e.from}\``).join(' → ') + ` → \`${cycle[0].from}\``;
      const others = path.map((e) => `\`${describe(e)}\` on line ${context.lineRef(e.node.startIndex)}`).join(', ');
      message = `This store closes the reference cycle ${chain} (with ${others}): these objects are ${after}`;
    }
    const related: RelatedLocation[] = path.map((e) => ({
      start: e.node.startIndex,
      end: e.node.endIndex,
      message: `\`${e.from}\` refers to \`${e.to}\` here`,
    }));
    const fixes: Fix[] = [];
    if (!builtin && hashableNotNeeded(closing) && privateAttributeStore(closing.node) && !proxyWouldShow(context.root, storedAttribute(closing.node) ?? '', context) && knownWeakReferenceable(closing.value, scope, context)) {
      fixes.push({
        title: `Make this reference to \`${closing.to}\` a \`weakref.proxy\``,
        safety: 'unsafe',
        // Any name but the method's own instance may be None on some path (a parameter that
        // defaults to None, an optional child): `weakref.proxy(None)` raises TypeError.
        edits: weakProxyEdits(context, closing.value, !context.semantic.isReceiverOf(closing.value, scope)),
      });
    }
    const doubt = cycleDoubt(scope, cycle, context);
    if (doubt) context.report({ node: closing.node, message: `${message} (low confidence: ${doubt})`, related, fixes, confidence: 'low' });
    else context.report({ node: closing.node, message: `${message}; each call makes a new such group, and nothing in the file breaks the link`, related, fixes });
  }
}

/**
 * Why a cycle is not a confident finding, if it is not. Confident: outside test code, in a
 * function, among objects this very call creates (each name bound only to a constructor call:
 * a class of the file, or a capitalised name), linked through attributes (`a.next = b`,
 * `a.items.append(b)`: not a store into a name itself, which arrays and indexes copy), and no
 * code of the file resets the attribute (`x.next = None`, `del x.next`).
 */
function cycleDoubt(scope: Node, cycle: Edge[], context: RuleContext): string | undefined {
  if (inTestCode(cycle[cycle.length - 1].node, context)) return 'test code: the objects live for one test';
  if (scope.type !== 'function_definition') return 'built at import time, by code that runs once';
  const names = new Set(cycle.flatMap((e) => [e.from, e.to]));
  const own = context.semantic.scopeFor(scope);
  for (const name of names) {
    const bindings = own.bindingsOf(name);
    if (bindings.length === 0 || !bindings.every((b) => b.kind === 'assignment' && constructed(b.node, context))) {
      return `\`${name}\` is not an object this call creates (a parameter, \`self\` or a value from elsewhere): LeakLens cannot see how long it lives`;
    }
  }
  for (const e of cycle) {
    const store = storeOf(e.node);
    const container = store?.kind === 'subscript' ? store.target.childForFieldName('value') : store?.kind === 'call' ? store.target : undefined;
    if (store && store.kind !== 'attribute' && container?.type !== 'attribute') return `\`${describe(e)}\` stores into the object itself, which may copy rather than keep a reference`;
    const slot = store?.kind === 'attribute' ? store.target.childForFieldName('attribute')?.text : setattrStore(e.node)?.attribute;
    if (slot && resetSlots(context).has(slot)) return `the file resets \`.${slot}\` somewhere, which may break the cycle`;
  }
  return undefined;
}

/** Is the binding's value a constructor call (a class of the file, or a capitalised callee)? */
function constructed(id: Node, context: RuleContext): boolean {
  const assign = id.parent;
  const right = assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(id) ? assign.childForFieldName('right') : undefined;
  const v = right ? unparenthesize(right) : undefined;
  const fn = v?.type === 'call' ? v.childForFieldName('function') : undefined;
  if (!fn) return false;
  if (fn.type === 'identifier' && context.semantic.resolve(fn).some((b) => b.kind === 'class')) return true;
  const last = fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text : fn.text;
  return !!last && /^_?[A-Z][a-z]/.test(last);
}

/**
 * Attribute names the file sets to None or deletes anywhere (`node.next = None`, `del node.prev`,
 * `setattr(node, "next", None)`).
 */
function resetSlots(context: RuleContext): Set<string> {
  return context.semantic.memo('LL501.resetSlots', () => {
    const out = new Set<string>();
    for (const n of context.root.descendantsOfType(['assignment', 'delete_statement', 'call'])) {
      if (!n) continue;
      if (n.type === 'call') {
        const spelled = setattrStore(n);
        if (spelled && unparenthesize(spelled.value).type === 'none') out.add(spelled.attribute);
        continue;
      }
      const targets = n.type === 'assignment' ? (unparenthesize(n.childForFieldName('right') ?? n).type === 'none' ? [n.childForFieldName('left')] : []) : n.namedChildren.flatMap((c) => (c?.type === 'expression_list' ? c.namedChildren : [c]));
      for (const t of targets) if (t?.type === 'attribute') out.add(t.childForFieldName('attribute')?.text ?? '');
    }
    return out;
  });
}

export const rule: Rule = {
  code: 'LL501',
  name: 'reference-cycle',
  category: 'cycles',
  defaultSeverity: 'warning',
  query: `
    (assignment left: (attribute) @target right: (_) @value) @store
    (assignment left: (subscript) @target right: (_) @value) @store
    (call function: (attribute object: (_) @target attribute: (identifier) @method) arguments: (argument_list) @value (#any-of? @method "append" "add" "insert" "appendleft" "setdefault")) @store
    (call function: (identifier) @setattr (#eq? @setattr "setattr")) @spelled
    (call function: (attribute attribute: (identifier) @setattr) (#eq? @setattr "__setattr__")) @spelled
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    // A textual pre-filter over each store first (it only decides which stores to look at): its
    // target's leading name and the words of its value. A store can only be part of a cycle when its target's name is stored somewhere
    // and one of its value's names is stored into somewhere.
    const rough: Array<{ node: Node; root: string; words: string[] }> = [];
    for (const match of matches) {
      const spelledCall = match.captures.find((c) => c.name === 'spelled')?.node;
      // `setattr(o, "name", v)`, `o.__setattr__("name", v)`: the attribute store `o.name = v`.
      const spelled = spelledCall ? setattrStore(spelledCall) : undefined;
      if (spelledCall && !spelled) continue;
      const node = spelledCall ?? match.captures.find((c) => c.name === 'store')!.node;
      const targetText = spelled ? `${spelled.object.text}.${spelled.attribute}` : match.captures.find((c) => c.name === 'target')!.node.text;
      const valueText = spelled ? spelled.value.text : match.captures.find((c) => c.name === 'value')!.node.text;
      const ascii = ASCII.test(targetText) && ASCII.test(valueText);
      const root = (ascii ? ROOT_ASCII : ROOT).exec(targetText)?.[1];
      if (!root) continue;
      // Names, not attribute names: `self.method` yields `self` only.
      const words = valueText.match(ascii ? NAME_ASCII : NAME) ?? [];
      if (words.length > 0) rough.push({ node, root, words });
    }
    const roots = new Set(rough.map((r) => r.root));
    const stored = new Set(rough.flatMap((r) => r.words));
    const candidates: Edge[] = [];
    // An edge's ends: the names as spelled, and the variables they are (the model's place keys).
    const ends = (from: Node, to: Node) => ({ from: from.text, to: to.text, fromKey: context.semantic.placeKey(from) ?? from.text, toKey: context.semantic.placeKey(to) ?? to.text });
    for (const r of rough) {
      if (!stored.has(r.root) || !r.words.some((w) => roots.has(w))) continue;
      const spelled = setattrStore(r.node);
      if (spelled) {
        const root = rootIdentifier(spelled.object);
        if (!root) continue;
        const slot = context.semantic.attributeKey(spelled.object, spelled.attribute) ?? '';
        for (const id of heldNames(spelled.value)) candidates.push({ ...ends(root, id), node: r.node, value: id, slot });
        continue;
      }
      const store = storeOf(r.node);
      if (!store) continue;
      const root = rootIdentifier(store.target);
      if (!root) continue;
      for (const id of storedNames(store)) {
        candidates.push({ ...ends(root, id), node: r.node, value: id, slot: store.kind === 'attribute' ? context.semantic.placeKey(store.target) ?? '' : undefined });
      }
    }
    const froms = new Set(candidates.map((e) => e.fromKey));
    const tos = new Set(candidates.map((e) => e.toKey));
    const linked = candidates.filter((e) => froms.has(e.toKey) && tos.has(e.fromKey));
    if (linked.length === 0) return;
    // Edges are grouped by the frame that runs them (a store inside a comprehension runs in the
    // function around it).
    const byScope = new Map<number, { scope: Node; edges: Edge[] }>();
    for (const edge of linked) {
      const scope = context.semantic.frameNodeOf(edge.node);
      if (scope.type === 'lambda') continue;
      let group = byScope.get(scope.startIndex);
      if (!group) byScope.set(scope.startIndex, (group = { scope, edges: [] }));
      group.edges.push(edge);
    }
    for (const { scope, edges } of byScope.values()) {
      // Only scopes where some name is both a source and a target can hold a cycle.
      const sources = new Set(edges.map((e) => e.fromKey));
      if (!edges.some((e) => sources.has(e.toKey))) continue;
      checkScope(scope, edges, context);
    }
  },
  docs: {
    summary: 'Stores in one scope that make objects refer to each other in a cycle.',
    whatItDoes:
      'Follows, within one function, class body or module, the stores that make one named object refer to another — attributes (`a.next = b`), subscripts (`a.items[k] = b`) and container methods (`a.items.append(b)`, `.add`, `.insert`, `.appendleft`, `.setdefault`), also through tuples, lists, sets and dicts built in place (`a.pair = (b, c)`), and `setattr(a, "next", b)`, `object.__setattr__(a, "next", b)` and `a.__setattr__("next", b)` with a literal name as `a.next = b` — and flags the store that closes a cycle: `a.next = b` … `b.prev = a`, `a.me = a`, or longer chains `a → b → c → a`. Related information points at the other stores of the cycle. Not flagged: references made through `weakref.ref`/`weakref.proxy` (or any call), names re-bound between the stores (each binding is a different object), stores in branches that exclude each other (`if`/`else`, different `except` clauses, `match` cases), an attribute overwritten before the cycle closes, stores into a container whose entries the code takes out again (`self._cache` of any method of the class; or, for an attribute of a function\'s local or parameter, the same attribute of any local or parameter of the class\'s methods or the module\'s functions: `dep.waiters.discard(t)` in one method breaks `dts.waiters.add(ts)` in another), cycles through classes, functions and class methods\' `cls` (classes are cyclic and long-lived anyway), and parent/child back-references, which LL502 reports. A finding is confident only for a cycle among objects the function itself creates on each call (every name of the cycle bound only to a constructor call: a class of the file or a capitalised name), linked through attributes (`a.next = b`, `a.items.append(b)`), outside test code, where no code of the file resets the linking attribute (`x.next = None`, `del x.next`). Everything else is reported with low confidence (shown only with all-findings): cycles in test code (a test module, `test…` functions, `TestCase` classes), at module or class level, through parameters, `self` or values from elsewhere (whose lifetime LeakLens cannot see: often a process-lifetime owner), through stores into a name itself (`x[...] = x` copies into an array; `idx.append(other)` on an index returns a new one), and through attributes the file resets.',
    whyLeak:
      'CPython frees an object the moment its reference count drops to zero. Objects in a cycle keep each other\'s counts above zero, so when the program drops its last outside reference to them they are not freed: they wait, with everything they refer to, for the cyclic garbage collector. Since Python 3.4 the collector frees every such cycle, including objects with `__del__`, but only when it runs — after enough new allocations in the youngest generation, and much later for objects that survived into older generations — and never while `gc.disable()` is in force. Big object graphs, buffers and frames built into cycles therefore stay resident far longer than their code suggests.',
    example: 'class Node:\n    pass\n\n\ndef pair():\n    a = Node()\n    b = Node()\n    a.next = b\n    b.prev = a\n    return a\n',
    useInstead: 'import weakref\n\n\nclass Node:\n    pass\n\n\ndef pair():\n    a = Node()\n    b = Node()\n    a.next = b\n    b.prev = weakref.proxy(a)\n    return a\n',
    fixSafety:
      'The unsafe fix makes the store that closes the cycle weak: the stored name becomes `weakref.proxy(name) if name is not None else None` (just `weakref.proxy(self)` for a method\'s own instance, which is never None), and `import weakref` is added at module level when the module does not import it there (an `import weakref` inside another function does not count). The fix is offered only when the store writes a private attribute (`b._prev = a`, `a._items.append(b)`; not `__dunder__`): a public one is read by code outside the file, where a proxy can break identity, hashing and pickling unseen; and not even then where the file compares that attribute by identity (`is`, other than with None), hashes it (a dict key, a set member, `hash()`), or pickles or copies objects at all. No fix is offered where a proxy may not work: the fix is offered only for the method\'s own instance, a name the same code uses a data attribute of (`a.next = b`, `a.items[k] = v`: lists, dicts, tuples, strings and numbers have only methods), or a name every binding of which is an instance of a class of this file without `__slots__` (lists, dicts, tuples, strings, numbers and slotted objects cannot be weakly referenced, and a parameter or an element of a linked structure may be any of them), and never for set elements and dict keys (proxies are unhashable). It is unsafe because the object is no longer kept alive through that reference — if it was the last strong one, using the proxy raises `ReferenceError` — because `proxy is obj` is false, and because objects without `__weakref__` support (many built-in types, classes with `__slots__`) cannot be weakly referenced at all.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/gc.html',
      'https://docs.python.org/3/library/weakref.html#weakref.proxy',
      'https://devguide.python.org/internals/garbage-collector/',
    ],
  },
};
