// The store graph of LL501 (reference-cycle): edges between named objects made by stores, and what
// breaks a cycle of them — exclusive branches, re-bindings, overwritten links, weak references
// (also through aliases and parameters), class-level containers, removals elsewhere — plus what
// its `weakref.proxy` fix needs to know (can the value be weakly referenced, need it be hashed).
import type { Node } from 'web-tree-sitter';
import { inFileClassChain } from './cycle-evidence';
import { isWeakValue, storeOf, WEAK_FACTORIES, stripParens as unparenthesize } from './cycles';
import { isBuiltin, placeOf, REMOVING_METHODS, type SemanticModel } from './semantic';
import type { RuleContext } from './types';

export interface Edge {
  /** The names of the two objects (as the scope spells them: messages, the scope's bindings). */
  from: string;
  to: string;
  /** The variables they are, as the semantic model's place keys: the graph's nodes. */
  fromKey: string;
  toKey: string;
  /** The store (assignment or call). */
  node: Node;
  /** The identifier in the stored value that refers to `to`. */
  value: Node;
  /**
   * For attribute stores (`a.next = b`, `setattr(a, "next", b)`): the semantic model's key of the
   * place written (`placeKey`), or '' when the target is no place the model names (`a[0].next`).
   */
  slot?: string;
}

/** Statement kinds whose branches exclude each other. */
const BRANCHING = new Set(['if_statement', 'match_statement', 'try_statement']);
const BRANCH_PARTS = new Set(['block', 'elif_clause', 'else_clause', 'case_clause', 'except_clause']);

/** The part of a branching statement (if arm, elif, else, case, except clause) that holds node. */
export function branchPath(node: Node, scope: Node): Array<{ stmt: number; part: number }> {
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

export function exclusive(a: Node, b: Node, scope: Node): boolean {
  const pa = branchPath(a, scope);
  const pb = branchPath(b, scope);
  return pa.some((x) => pb.some((y) => x.stmt === y.stmt && x.part !== y.part));
}

/** Is any variable of the cycle re-bound (by the scope's own code) between two of its edges? */
export function reboundBetween(scope: Node, cycle: Edge[], semantic: SemanticModel): boolean {
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
  // The scope model's bindings of each name in this very scope (a comprehension's own loop
  // variable is another variable). `a += b` is left out on purpose: it updates the object in
  // place for the containers and nodes this rule sees, so the stores before and after reach the
  // same object.
  const own = semantic.scopeFor(scope);
  for (const [name, [from, to]] of spans) {
    for (const b of own.bindingsOf(name)) {
      if (b.kind !== 'augmented' && b.scope.node.equals(scope) && b.node.startIndex > from && b.node.startIndex < to) return true;
    }
  }
  return false;
}

/** Is an attribute edge overwritten (`a.next = other`, `del a.next`) before the cycle closes? */
export function overwritten(scope: Node, edge: Edge, closing: Edge, semantic: SemanticModel): boolean {
  if (!edge.slot || edge === closing) return false;
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return false;
  for (const n of body.descendantsOfType(['assignment', 'delete_statement'])) {
    if (!n || n.startIndex <= edge.node.endIndex || n.startIndex >= closing.node.startIndex) continue;
    if (!semantic.frameNodeOf(n).equals(scope)) continue;
    const target = n.type === 'assignment' ? n.childForFieldName('left') : n.namedChild(0);
    if (target && semantic.placeKey(target) === edge.slot) return true;
  }
  return false;
}

/**
 * Does the edge go through something held weakly? `self.children.add(c)` into a WeakSet, or
 * `self.master.children[k] = self` where `self.master` is a weak proxy. `weak` holds place keys
 * (`weakTargets`, `addWeakAliases`).
 */
export function throughWeak(edge: Edge, weak: Set<string>, semantic: SemanticModel): boolean {
  if (weak.size === 0) return false;
  const isWeak = (n: Node) => {
    const key = semantic.placeKey(n);
    return key !== undefined && weak.has(key);
  };
  // A name bound to a proxy or weak reference: storing it stores a weak reference.
  if (isWeak(edge.value)) return true;
  const store = storeOf(edge.node);
  if (!store) return false;
  const container = store.kind === 'call' ? store.target : store.target.childForFieldName(store.kind === 'attribute' ? 'object' : 'value');
  const next = (n: Node): Node | null =>
    n.type === 'attribute' ? n.childForFieldName('object') : n.type === 'subscript' ? n.childForFieldName('value') : null;
  // The container itself may be weak (a WeakSet); any link of the chain before it may be a proxy.
  if (store.kind !== 'attribute' && container && isWeak(container)) return true;
  for (let n = container ? next(container) ?? null : null; n && n.type !== 'identifier'; n = next(n)) {
    if (isWeak(n)) return true;
  }
  if (store.kind === 'attribute' && container && container.type !== 'identifier' && isWeak(container)) return true;
  return false;
}

/**
 * `self.registry.append(self)`, `self._by_key[k] = self`, `Cls.instances.append(self)`,
 * `type(self).all.append(self)`, `self.__class__.all.append(self)` where the container is a
 * class attribute of the method's class or of a base class in the module: the class holds the
 * instance (a class registry, LL301's concern), the instance does not refer to itself.
 */
export function intoClassContainer(scope: Node, edge: Edge, context: RuleContext): boolean {
  if (edge.slot !== undefined || scope.type !== 'function_definition') return false;
  const cls = context.semantic.classOfMethod(scope);
  if (!cls) return false;
  const store = storeOf(edge.node);
  let container = store?.kind === 'subscript' ? store.target.childForFieldName('value') : store?.target;
  // `self.bplist[key].append(self)`: the container hangs off the class attribute `bplist`.
  while (container?.type === 'subscript') container = container.childForFieldName('value');
  if (container?.type !== 'attribute') return false;
  const holder = container.childForFieldName('object');
  const chain = inFileClassChain(cls, context);
  const ofClass =
    (holder?.type === 'identifier' && (isReceiver(holder, scope, context) || namesClassOf(holder, chain, context))) ||
    (holder?.type === 'attribute' && holder.childForFieldName('attribute')?.text === '__class__' && holder.childForFieldName('object')?.type === 'identifier') ||
    (holder?.type === 'call' && isBuiltin(context.qualifiedName(holder.childForFieldName('function') ?? holder) ?? holder.childForFieldName('function')?.text, 'type'));
  if (!ofClass) return false;
  const attribute = container.childForFieldName('attribute')?.text ?? '';
  // Class-level in some class of the chain, and never assigned on instances anywhere in it.
  return chain.some((c) => classLevelAttributes(c, context.semantic).has(attribute)) && chain.every((c) => !assignedOnSelf(c, context.semantic).has(attribute));
}

/** Is `id` the receiver of the method `fn` (`self`, or `cls` of a class method), as the scope model resolves it? */
function isReceiver(id: Node, fn: Node, context: RuleContext): boolean {
  const receiver = context.semantic.method(fn)?.receiver;
  return !!receiver && context.semantic.refersTo(id, receiver);
}

/** Does `id` name (by its binding) one of the classes of `chain`? */
function namesClassOf(id: Node, chain: Node[], context: RuleContext): boolean {
  return context.semantic.resolve(id).some((b) => b.kind === 'class' && chain.some((c) => c.childForFieldName('name')?.equals(b.node)));
}

/**
 * `proxy(link)` where `proxy` is (as the scope model resolves it) a parameter defaulting to a
 * weak factory (`proxy=_proxy`).
 */
export function weakThroughParameter(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  const fn = v.type === 'call' ? v.childForFieldName('function') : null;
  if (fn?.type !== 'identifier') return false;
  const bindings = context.semantic.resolve(fn);
  if (bindings.length !== 1 || bindings[0].kind !== 'parameter') return false;
  const p = bindings[0].node.parent;
  const d = p?.type === 'default_parameter' && p.childForFieldName('name')?.equals(bindings[0].node) ? p.childForFieldName('value') : undefined;
  const q = d ? context.qualifiedName(d) : undefined;
  return !!q && WEAK_FACTORIES.has(q);
}

/** Attribute names that some store in the module gives a weak value (`root.prev = proxy(link)`); one file-wide walk per analysis. */
export function weakSlots(context: RuleContext): Set<string> {
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
 * Names of the scope bound from something weak (added to `weak` as place keys): `root =
 * self.__root` where `self.__root` holds a proxy, `link_prev = link.prev` where `.prev`
 * attributes are given proxies in this module (`slots`: attribute names, file-wide).
 */
export function addWeakAliases(scope: Node, weak: Set<string>, slots: Set<string>, semantic: SemanticModel): void {
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  for (const a of body?.descendantsOfType('assignment') ?? []) {
    if (!a || !semantic.frameNodeOf(a).equals(scope)) continue;
    const left = a.childForFieldName('left');
    const right = a.childForFieldName('right');
    if (left?.type !== 'identifier' || !right) continue;
    const r = unparenthesize(right);
    const key = semantic.placeKey(r);
    const fromWeak = (key !== undefined && weak.has(key)) || (r.type === 'attribute' && slots.has(r.childForFieldName('attribute')?.text ?? ''));
    const alias = fromWeak ? semantic.placeKey(left) : undefined;
    if (alias) weak.add(alias);
  }
}

/**
 * A store into a container (`self._cache[k] = self`, `x.items.append(y)`) whose entries the class
 * (or, outside classes, the module) removes again (`del self._cache[k]`, `.pop(`, `.remove(` …):
 * the cycle is broken explicitly.
 */
export function removedElsewhere(scope: Node, edge: Edge, context: RuleContext): boolean {
  const store = storeOf(edge.node);
  if (!store || store.kind === 'attribute') return false;
  const container = store.kind === 'subscript' ? store.target.childForFieldName('value') : store.target;
  // Only containers reached through an attribute (`self._cache`) are the same object elsewhere.
  if (container?.type !== 'attribute') return false;
  const where = (scope.type === 'function_definition' ? context.semantic.classOfMethod(scope) : undefined) ?? context.root;
  const removed = context.semantic.memo(`LL501.removals:${where.id}`, () => removedContainers(where, context.semantic));
  return containerKeys(container, context.semantic).some((k) => removed.has(k));
}

/**
 * The keys a container is known by: its place (`placeKey`: `self._cache` through any method's
 * receiver of one class is one place, a variable's attribute is that variable's), and, for an
 * attribute of a function's local or parameter (`dts.waiters`), its attribute path among such
 * objects: the objects one class's (or module's) functions pass around under the same attribute
 * are taken to be of one kind, so `dts.waiters.discard(ts)` in one transition breaks the links
 * `ts.waiters.add(dts)` makes in another, whatever the locals are called.
 */
function containerKeys(container: Node, semantic: SemanticModel): string[] {
  const key = semantic.placeKey(container);
  if (key === undefined) return [];
  const place = placeOf(container);
  const bindings = place && place.path.length > 0 ? semantic.resolve(place.root) : [];
  const local = bindings.length > 0 && bindings.every((b) => b.scope.kind === 'function' && !semantic.isReceiverOf(b.node, b.scope.node));
  return local ? [key, `local-attribute:${place!.path.join('.')}`] : [key];
}

/** The containers a subtree removes from (`x.y.pop(…)`, `del x.y[k]`), by their keys (`containerKeys`). */
function removedContainers(where: Node, semantic: SemanticModel): Set<string> {
  const out = new Set<string>();
  const add = (n: Node) => {
    for (const k of containerKeys(n, semantic)) out.add(k);
  };
  for (const n of where.descendantsOfType(['call', 'delete_statement'])) {
    if (!n) continue;
    if (n.type === 'call') {
      const fn = n.childForFieldName('function');
      const object = fn?.type === 'attribute' ? fn.childForFieldName('object') : null;
      if (object && REMOVING_METHODS.has(fn!.childForFieldName('attribute')?.text ?? '')) add(object);
      continue;
    }
    for (const target of n.namedChildren.flatMap((c) => (c?.type === 'expression_list' ? c.namedChildren : [c]))) {
      const t = target ? unparenthesize(target) : undefined;
      const value = t?.type === 'subscript' ? t.childForFieldName('value') : undefined;
      if (value) add(value);
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
export function boundToBuiltinValue(scope: Node, name: string, at: Node, semantic: SemanticModel): boolean {
  // The scope's own `name = …` bindings before `at` (the scope model's), the last one.
  let last: Node | undefined;
  for (const b of semantic.scopeFor(scope).bindingsOf(name)) {
    const a = b.node.parent;
    if ((b.kind === 'assignment' || b.kind === 'annotation') && a?.type === 'assignment' && a.childForFieldName('left')?.equals(b.node) && a.startIndex < at.startIndex) last = a;
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
export function knownWeakReferenceable(value: Node, scope: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (v.type !== 'identifier') return false;
  if (scope.type === 'function_definition' && context.semantic.isReceiverOf(v, scope)) return true;
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
    // The name compared first only as a cheap filter; the same variable is the model's answer.
    if (object?.type !== 'identifier' || object.text !== v.text || !context.semantic.samePlace(object, v)) return false;
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
export function hashableNotNeeded(edge: Edge): boolean {
  const call = edge.node.type === 'call' ? edge.node.childForFieldName('function') : null;
  if (call?.childForFieldName('attribute')?.text === 'add') return false;
  for (let n: Node | null = edge.value; n && !n.equals(edge.node); n = n.parent) {
    const p = n.parent;
    if (p?.type === 'set') return false;
    if (p?.type === 'pair' && p.childForFieldName('key')?.equals(n)) return false;
  }
  return true;
}


/**
 * Attributes assigned in the class body and never on instances: `self.registry.append(self)`
 * stores into a class-level container (a class registry, LL301's concern), not into the instance.
 */
export function classLevelAttributes(cls: Node, semantic: SemanticModel): Set<string> {
  const names = new Set<string>();
  for (const [name, bindings] of semantic.scopeFor(cls).bindings) {
    if (bindings.some((b) => b.kind === 'assignment')) names.add(name);
  }
  if (names.size === 0) return names;
  for (const name of assignedOnSelf(cls, semantic)) names.delete(name);
  return names;
}

/** Attributes some method of the class assigns on its instance (`self.name = …`). */
export function assignedOnSelf(cls: Node, semantic: SemanticModel): Set<string> {
  return semantic.memo(`cycles.assignedOnSelf:${cls.id}`, () => {
    const names = new Set<string>();
    for (const m of semantic.classModel(cls).methods.values()) {
      if (m.kind !== 'instance' && m.kind !== 'property') continue;
      for (const [name, uses] of m.attributes) if (uses.some((u) => u.kind === 'set')) names.add(name);
    }
    return names;
  });
}

