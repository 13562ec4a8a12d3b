// LL501 reference-cycle: within one scope, stores that make objects bound to names refer to each
// other (`a.next = b` … `b.prev = a`, `a.me = a`, `b.items.append(a)`): a reference cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { heldNames, isWeakValue, methodInfo, parentBackReferences, privateAttributeStore, proxyWouldShow, storedAttribute, WEAK_FACTORIES, rootIdentifier, Store, storeOf, weakProxyEdits, weakTargets, stripParens as unparenthesize } from '../cycles';
import { REMOVING_METHODS, type SemanticModel } from '../semantic';
import { probeContext } from '../syntax';
import type { Fix, RelatedLocation, Rule, RuleContext } from '../types';

const ASCII = /^[\x00-\x7f]*$/;
const ROOT_ASCII = /^[(\s]*([A-Za-z_]\w*)/;
const ROOT = /^[(\s]*([\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*)/u;
const NAME_ASCII = /(?<![.\w])[A-Za-z_]\w*/g;
/** Leading names of an expression's text (not attribute names after a dot). */
const NAME = /(?<![.\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}])[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/gu;

interface Edge {
  from: string;
  to: string;
  /** The store (assignment or call). */
  node: Node;
  /** The identifier in the stored value that refers to `to`. */
  value: Node;
  /** The attribute or subscript written, for attribute stores (`a.next`). */
  slot?: string;
}

/** Statement kinds whose branches exclude each other. */
const BRANCHING = new Set(['if_statement', 'match_statement', 'try_statement']);
const BRANCH_PARTS = new Set(['block', 'elif_clause', 'else_clause', 'case_clause', 'except_clause']);

/** The part of a branching statement (if arm, elif, else, case, except clause) that holds node. */
function branchPath(node: Node, scope: Node): Array<{ stmt: number; part: number }> {
  const path: Array<{ stmt: number; part: number }> = [];
  let child: Node = node;
  for (let n = node.parent; n && !n.equals(scope); n = n.parent) {
    if (child.type === 'case_clause') {
      // `match` cases sit in the statement's body block.
      path.push({ stmt: n.startIndex, part: child.startIndex });
    } else if (BRANCHING.has(n.type) && BRANCH_PARTS.has(child.type)) {
      // The `try` body and its handlers can both run (a handler after part of the body); only
      // two different handlers exclude each other.
      const part = n.type === 'try_statement' && child.type !== 'except_clause' ? -1 : child.startIndex;
      if (part !== -1) path.push({ stmt: n.startIndex, part });
    }
    child = n;
  }
  return path;
}

function exclusive(a: Node, b: Node, scope: Node): boolean {
  const pa = branchPath(a, scope);
  const pb = branchPath(b, scope);
  return pa.some((x) => pb.some((y) => x.stmt === y.stmt && x.part !== y.part));
}

/** Is any name of the cycle re-bound between two of its edges? */
function reboundBetween(scope: Node, cycle: Edge[], semantic: SemanticModel): boolean {
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return true;
  const spans = new Map<string, [number, number]>();
  for (const e of cycle) {
    for (const name of [e.from, e.to]) {
      const span = spans.get(name);
      const at = e.node.startIndex;
      spans.set(name, span ? [Math.min(span[0], at), Math.max(span[1], at)] : [at, at]);
    }
  }
  for (const id of body.descendantsOfType('identifier')) {
    if (!id) continue;
    const span = spans.get(id.text);
    if (!span || id.startIndex <= span[0] || id.startIndex >= span[1]) continue;
    // A binding of the name in this very scope (a comprehension's own loop variable is another
    // variable). `a += b` is left out on purpose: it updates the object in place for the
    // containers and nodes this rule sees, so the stores before and after reach the same object.
    const binding = semantic.bindingAt(id);
    if (binding && binding.kind !== 'augmented' && binding.scope.node.equals(scope)) return true;
  }
  return false;
}

/** Is an attribute edge overwritten (`a.next = other`, `del a.next`) before the cycle closes? */
function overwritten(scope: Node, edge: Edge, closing: Edge, semantic: SemanticModel): boolean {
  if (!edge.slot || edge === closing) return false;
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return false;
  for (const n of body.descendantsOfType(['assignment', 'delete_statement'])) {
    if (!n || n.startIndex <= edge.node.endIndex || n.startIndex >= closing.node.startIndex) continue;
    if (!semantic.frameNodeOf(n).equals(scope)) continue;
    const target = n.type === 'assignment' ? n.childForFieldName('left') : n.namedChild(0);
    if (target?.text === edge.slot) return true;
  }
  return false;
}

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
  const root = context.root;
  const body = scope.type === 'module' ? undefined : scope.childForFieldName('body');
  for (const def of body?.descendantsOfType(['class_definition', 'function_definition']) ?? []) {
    if (def && context.semantic.frameNodeOf(def).equals(scope)) names.add(def.childForFieldName('name')?.text ?? '');
  }
  for (const child of root.namedChildren) {
    if (!child) continue;
    const def = child.type === 'decorated_definition' ? child.childForFieldName('definition') : child;
    if (def?.type === 'class_definition' || def?.type === 'function_definition') {
      const name = def.childForFieldName('name')?.text;
      if (name) names.add(name);
    }
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

/**
 * Attributes assigned in the class body and never on instances: `self.registry.append(self)`
 * stores into a class-level container (a class registry, LL301's concern), not into the instance.
 */
function classLevelAttributes(cls: Node, semantic: SemanticModel): Set<string> {
  const names = new Set<string>();
  for (const [name, bindings] of semantic.scopeFor(cls).bindings) {
    if (bindings.some((b) => b.kind === 'assignment')) names.add(name);
  }
  if (names.size === 0) return names;
  for (const name of assignedOnSelf(cls, semantic)) names.delete(name);
  return names;
}

/** Attributes some method of the class assigns on its instance (`self.name = …`). */
function assignedOnSelf(cls: Node, semantic: SemanticModel): Set<string> {
  return semantic.memo(`LL501.assignedOnSelf:${cls.id}`, () => {
    const names = new Set<string>();
    for (const m of semantic.classModel(cls).methods.values()) {
      if (m.kind !== 'instance' && m.kind !== 'property') continue;
      for (const [name, uses] of m.attributes) if (uses.some((u) => u.kind === 'set')) names.add(name);
    }
    return names;
  });
}

function findPath(edges: Edge[], from: string, to: string): Edge[] | undefined {
  // Breadth-first over earlier edges: a path from `from` to `to`.
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
        n = e.from;
      }
      return path;
    }
    for (const e of edges) {
      if (e.from !== at || seen.has(e.to)) continue;
      seen.add(e.to);
      previous.set(e.to, e);
      queue.push(e.to);
    }
  }
  return undefined;
}

function describe(edge: Edge): string {
  const text = edge.node.text.replace(/\s+/g, ' ');
  return text.length > 40 ? text.slice(0, 37) + '…' : text;
}

/**
 * Does the edge go through something held weakly? `self.children.add(c)` into a WeakSet, or
 * `self.master.children[k] = self` where `self.master` is a weak proxy.
 */
function throughWeak(edge: Edge, weak: Set<string>): boolean {
  if (weak.size === 0) return false;
  // A name bound to a proxy or weak reference: storing it stores a weak reference.
  if (weak.has(edge.to)) return true;
  const store = storeOf(edge.node);
  if (!store) return false;
  const container = store.kind === 'call' ? store.target : store.target.childForFieldName(store.kind === 'attribute' ? 'object' : 'value');
  const next = (n: Node): Node | null =>
    n.type === 'attribute' ? n.childForFieldName('object') : n.type === 'subscript' ? n.childForFieldName('value') : null;
  // The container itself may be weak (a WeakSet); any link of the chain before it may be a proxy.
  if (store.kind !== 'attribute' && container && weak.has(container.text)) return true;
  for (let n = container ? next(container) ?? null : null; n && n.type !== 'identifier'; n = next(n)) {
    if (weak.has(n.text)) return true;
  }
  if (store.kind === 'attribute' && container && container.type !== 'identifier' && weak.has(container.text)) return true;
  return false;
}

/** The class and its base classes defined in the same module (by plain name), nearest first. */
function classChain(cls: Node, semantic: SemanticModel): Node[] {
  const chain = [cls];
  for (let i = 0; i < chain.length && chain.length < 16; i++) {
    const bases = chain[i].childForFieldName('superclasses');
    for (const b of bases?.namedChildren ?? []) {
      if (b?.type !== 'identifier') continue;
      const base = semantic.moduleClass(b.text);
      if (base && !chain.some((c) => c.equals(base))) chain.push(base);
    }
  }
  return chain;
}

/**
 * `self.registry.append(self)`, `self._by_key[k] = self`, `Cls.instances.append(self)`,
 * `type(self).all.append(self)`, `self.__class__.all.append(self)` where the container is a
 * class attribute of the method's class or of a base class in the module: the class holds the
 * instance (a class registry, LL301's concern), the instance does not refer to itself.
 */
function intoClassContainer(scope: Node, edge: Edge, context: RuleContext): boolean {
  if (edge.slot !== undefined || scope.type !== 'function_definition') return false;
  const cls = context.semantic.classOfMethod(scope);
  if (!cls) return false;
  const store = storeOf(edge.node);
  let container = store?.kind === 'subscript' ? store.target.childForFieldName('value') : store?.target;
  // `self.bplist[key].append(self)`: the container hangs off the class attribute `bplist`.
  while (container?.type === 'subscript') container = container.childForFieldName('value');
  if (container?.type !== 'attribute') return false;
  const holder = container.childForFieldName('object');
  const chain = classChain(cls, context.semantic);
  const names = new Set(chain.map((c) => c.childForFieldName('name')?.text));
  const ofClass =
    (holder?.type === 'identifier' && (holder.text === 'self' || holder.text === 'cls' || names.has(holder.text))) ||
    (holder?.type === 'attribute' && holder.childForFieldName('attribute')?.text === '__class__' && holder.childForFieldName('object')?.type === 'identifier') ||
    (holder?.type === 'call' && holder.childForFieldName('function')?.text === 'type');
  if (!ofClass) return false;
  const attribute = container.childForFieldName('attribute')?.text ?? '';
  // Class-level in some class of the chain, and never assigned on instances anywhere in it.
  return chain.some((c) => classLevelAttributes(c, context.semantic).has(attribute)) && chain.every((c) => !assignedOnSelf(c, context.semantic).has(attribute));
}

/** `proxy(link)` where `proxy` is a parameter defaulting to a weak factory (`proxy=_proxy`). */
function weakThroughParameter(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  const fn = v.type === 'call' ? v.childForFieldName('function') : null;
  if (fn?.type !== 'identifier') return false;
  for (let n = v.parent; n; n = n.parent) {
    if (n.type !== 'function_definition') continue;
    for (const p of n.childForFieldName('parameters')?.namedChildren ?? []) {
      if (p?.type !== 'default_parameter' || p.childForFieldName('name')?.text !== fn.text) continue;
      const d = p.childForFieldName('value');
      const q = d ? context.qualifiedName(d) : undefined;
      return !!q && WEAK_FACTORIES.has(q);
    }
    return false;
  }
  return false;
}

/** Attribute names that some store in the module gives a weak value (`root.prev = proxy(link)`); one file-wide walk per analysis. */
function weakSlots(context: RuleContext): Set<string> {
  return context.semantic.memo('LL501.weakSlots', () => {
    const out = new Set<string>();
    for (const a of context.root.descendantsOfType('assignment')) {
      const left = a?.childForFieldName('left');
      const right = a?.childForFieldName('right');
      if (left?.type === 'attribute' && right && (isWeakValue(right, context) || weakThroughParameter(right, context))) {
        out.add(left.childForFieldName('attribute')?.text ?? '');
      }
    }
    return out;
  });
}

/**
 * Names of the scope bound from something weak: `root = self.__root` where `self.__root` holds a
 * proxy, `link_prev = link.prev` where `.prev` attributes are given proxies in this module.
 */
function addWeakAliases(scope: Node, weak: Set<string>, slots: Set<string>, semantic: SemanticModel): void {
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  for (const a of body?.descendantsOfType('assignment') ?? []) {
    if (!a || !semantic.frameNodeOf(a).equals(scope)) continue;
    const left = a.childForFieldName('left');
    const right = a.childForFieldName('right');
    if (left?.type !== 'identifier' || !right) continue;
    const r = unparenthesize(right);
    if (weak.has(r.text) || (r.type === 'attribute' && slots.has(r.childForFieldName('attribute')?.text ?? ''))) weak.add(left.text);
  }
}

/**
 * A store into a container (`self._cache[k] = self`, `x.items.append(y)`) whose entries the class
 * (or, outside classes, the module) removes again (`del self._cache[k]`, `.pop(`, `.remove(` …):
 * the cycle is broken explicitly.
 */
function removedElsewhere(scope: Node, edge: Edge, context: RuleContext): boolean {
  const store = storeOf(edge.node);
  if (!store || store.kind === 'attribute') return false;
  const container = store.kind === 'subscript' ? store.target.childForFieldName('value') : store.target;
  // Only containers reached through an attribute (`self._cache`) are the same object elsewhere.
  if (container?.type !== 'attribute') return false;
  const where = (scope.type === 'function_definition' ? context.semantic.classOfMethod(scope) : undefined) ?? context.root;
  const spelled = container.text.replace(/\s+/g, '');
  return context.semantic.memo(`LL501.removals:${where.id}`, () => removedContainers(where)).has(spelled);
}

/** The containers a subtree removes from (`x.y.pop(…)`, `del x.y[k]`), spelled without spaces. */
function removedContainers(where: Node): Set<string> {
  const out = new Set<string>();
  for (const n of where.descendantsOfType(['call', 'delete_statement'])) {
    if (!n) continue;
    if (n.type === 'call') {
      const fn = n.childForFieldName('function');
      const object = fn?.type === 'attribute' ? fn.childForFieldName('object') : null;
      if (object && REMOVING_METHODS.has(fn!.childForFieldName('attribute')?.text ?? '')) out.add(unparenthesize(object).text.replace(/\s+/g, ''));
      continue;
    }
    for (const target of n.namedChildren.flatMap((c) => (c?.type === 'expression_list' ? c.namedChildren : [c]))) {
      const t = target ? unparenthesize(target) : undefined;
      const value = t?.type === 'subscript' ? t.childForFieldName('value') : undefined;
      if (value) out.add(unparenthesize(value).text.replace(/\s+/g, ''));
    }
  }
  return out;
}

const NO_WEAKREF_CALLS = new Set(['list', 'dict', 'set', 'tuple', 'frozenset', 'bytearray', 'bytes', 'str', 'int', 'collections.defaultdict']);
const NO_WEAKREF_LITERALS = new Set(['list', 'dictionary', 'set', 'tuple', 'list_comprehension', 'dictionary_comprehension', 'set_comprehension', 'string', 'integer']);

/**
 * Is `name` last bound, before `at`, to a built-in list, dict, set, tuple, str or int? Those
 * cannot be weakly referenced: `weakref.proxy` would raise TypeError, so no fix is offered.
 */
function boundToBuiltinValue(scope: Node, name: string, at: Node, semantic: SemanticModel): boolean {
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return false;
  let last: Node | undefined;
  for (const a of body.descendantsOfType('assignment')) {
    if (!a || a.startIndex >= at.startIndex || !semantic.frameNodeOf(a).equals(scope)) continue;
    const left = a.childForFieldName('left');
    if (left?.type === 'identifier' && left.text === name) last = a;
  }
  let value = last?.childForFieldName('right');
  while (value?.type === 'assignment') value = value.childForFieldName('right');
  if (!value) return false;
  const v = unparenthesize(value);
  if (NO_WEAKREF_LITERALS.has(v.type)) return true;
  if (v.type !== 'call') return false;
  const fn = v.childForFieldName('function');
  return !!fn && NO_WEAKREF_CALLS.has(fn.text);
}

/**
 * Can the stored value be weakly referenced, as far as the file shows? The method's own instance,
 * a name the scope uses a data attribute of, or a name every binding of which is an instance of a
 * class of this file that has no `__slots__`. Anything else (a list node of a linked structure, a parameter of unknown type)
 * may be a list, a tuple or a slotted object, and `weakref.proxy` would raise TypeError — so no
 * fix is offered (the behaviour judge found `weakref.proxy` on list links breaking `functools`).
 */
function knownWeakReferenceable(value: Node, scope: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (v.type !== 'identifier') return false;
  if (scope.type === 'function_definition' && v.text === methodInfo(scope, context)?.selfName) return true;
  // `a.next = b`, `a.items[k]`, `a.queue.append(b)`: `a` has data attributes (not only methods),
  // which lists, dicts, tuples, strings and numbers do not — an object with a `__dict__`, weakly
  // referenceable unless its class has `__slots__` without `__weakref__`.
  // A loop variable, an import, a class or def name may be anything (classes, modules — where a
  // proxy breaks identity): only parameters and assigned locals are judged by their attributes.
  const kinds = context.semantic.resolve(v).map((b) => b.kind);
  if (kinds.length === 0 || kinds.some((k) => k !== 'parameter' && k !== 'assignment')) return false;
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  const dataAttribute = (body?.descendantsOfType('attribute') ?? []).some((a) => {
    const object = a?.childForFieldName('object');
    if (object?.type !== 'identifier' || object.text !== v.text) return false;
    const holder = a!.parent;
    return !(holder?.type === 'call' && holder.childForFieldName('function')?.equals(a!));
  });
  if (dataAttribute) return true;
  const bindings = context.semantic.resolve(v);
  if (bindings.length === 0) return false;
  return bindings.every((b) => {
    const assign = b.node.parent;
    if (b.kind !== 'assignment' || assign?.type !== 'assignment' || !assign.childForFieldName('left')?.equals(b.node)) return false;
    const right = assign.childForFieldName('right');
    const fn = right?.type === 'call' ? right.childForFieldName('function') : null;
    if (fn?.type !== 'identifier') return false;
    const classes = context.semantic.resolve(fn);
    if (classes.length !== 1 || classes[0].kind !== 'class') return false;
    const cls = classes[0].node.parent;
    if (cls?.type !== 'class_definition') return false;
    const body = cls.childForFieldName('body');
    return !(body?.namedChildren ?? []).some((st) => st?.type === 'expression_statement' && st.namedChild(0)?.type === 'assignment' && st.namedChild(0)!.childForFieldName('left')?.text === '__slots__');
  });
}

/**
 * Proxies are unhashable: no fix where the value must be hashed — a set (`.add`, a set
 * literal) or a dict key.
 */
function hashableNotNeeded(edge: Edge): boolean {
  const call = edge.node.type === 'call' ? edge.node.childForFieldName('function') : null;
  if (call?.childForFieldName('attribute')?.text === 'add') return false;
  for (let n: Node | null = edge.value; n && !n.equals(edge.node); n = n.parent) {
    const p = n.parent;
    if (p?.type === 'set') return false;
    if (p?.type === 'pair' && p.childForFieldName('key')?.equals(n)) return false;
  }
  return true;
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
    const path = closing.from === closing.to ? [] : findPath(earlier.filter((e) => !e.node.equals(closing.node)), closing.to, closing.from);
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
    if (cycle.some((e) => throughWeak(e, weak!))) continue;
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

    const { text } = context;
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
        edits: weakProxyEdits(context, closing.value, closing.to !== (scope.type === 'function_definition' ? methodInfo(scope, context)?.selfName : undefined)),
      });
    }
    context.report({ node: closing.node, message, related, fixes });
  }
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
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    // A textual pre-filter over each store first (it only decides which stores to look at): its
    // target's leading name and the words of its value. A store can only be part of a cycle when its target's name is stored somewhere
    // and one of its value's names is stored into somewhere.
    const rough: Array<{ node: Node; root: string; words: string[] }> = [];
    for (const match of matches) {
      const node = match.captures.find((c) => c.name === 'store')!.node;
      const target = match.captures.find((c) => c.name === 'target')!.node;
      const value = match.captures.find((c) => c.name === 'value')!.node;
      const targetText = target.text;
      const valueText = value.text;
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
    for (const r of rough) {
      if (!stored.has(r.root) || !r.words.some((w) => roots.has(w))) continue;
      const store = storeOf(r.node);
      if (!store) continue;
      const root = rootIdentifier(store.target);
      if (!root) continue;
      for (const id of storedNames(store)) {
        candidates.push({ from: root.text, to: id.text, node: r.node, value: id, slot: store.kind === 'attribute' ? store.target.text : undefined });
      }
    }
    const froms = new Set(candidates.map((e) => e.from));
    const tos = new Set(candidates.map((e) => e.to));
    const linked = candidates.filter((e) => froms.has(e.to) && tos.has(e.from));
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
      const sources = new Set(edges.map((e) => e.from));
      if (!edges.some((e) => sources.has(e.to))) continue;
      checkScope(scope, edges, context);
    }
  },
  docs: {
    summary: 'Stores in one scope that make objects refer to each other in a cycle.',
    whatItDoes:
      'Follows, within one function, class body or module, the stores that make one named object refer to another — attributes (`a.next = b`), subscripts (`a.items[k] = b`) and container methods (`a.items.append(b)`, `.add`, `.insert`, `.appendleft`, `.setdefault`), also through tuples, lists, sets and dicts built in place (`a.pair = (b, c)`) — and flags the store that closes a cycle: `a.next = b` … `b.prev = a`, `a.me = a`, or longer chains `a → b → c → a`. Related information points at the other stores of the cycle. Not flagged: references made through `weakref.ref`/`weakref.proxy` (or any call), names re-bound between the stores (each binding is a different object), stores in branches that exclude each other (`if`/`else`, different `except` clauses, `match` cases), an attribute overwritten before the cycle closes, cycles through classes, functions and class methods\' `cls` (classes are cyclic and long-lived anyway), and parent/child back-references, which LL502 reports.',
    whyLeak:
      'CPython frees an object the moment its reference count drops to zero. Objects in a cycle keep each other\'s counts above zero, so when the program drops its last outside reference to them they are not freed: they wait, with everything they refer to, for the cyclic garbage collector. Since Python 3.4 the collector frees every such cycle, including objects with `__del__`, but only when it runs — after enough new allocations in the youngest generation, and much later for objects that survived into older generations — and never while `gc.disable()` is in force. Big object graphs, buffers and frames built into cycles therefore stay resident far longer than their code suggests.',
    example: 'def link(a, b):\n    a.next = b\n    b.prev = a\n',
    useInstead: 'import weakref\n\n\ndef link(a, b):\n    a.next = b\n    b.prev = weakref.proxy(a)\n',
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
