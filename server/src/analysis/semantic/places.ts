// Places that hold a value: a variable (`errors`) or an attribute chain rooted at one
// (`self.error`, `state.last`). Two spellings are the same place when their roots resolve to the
// same variable (Python's scoping rules, not the spelling) and the attribute names after the root
// agree; the reads of a place are the reads of its root variable that continue with the same
// attributes. The kept-exception rule asks these questions (released in `finally`, returned to the
// caller, raised in the same frame) instead of comparing source text.
import type { Node } from 'web-tree-sitter';
import { unparenthesize } from '../syntax';
import type { SemanticModel } from './index';
import type { Scope } from './scopes';

export interface Place {
  /** The identifier the chain starts from. */
  root: Node;
  /** The attribute names after the root, outermost last (`self.a.b` → ['a', 'b']). */
  path: string[];
}

/** `a.b.c` as its root identifier and the attribute names after it; undefined for anything else. */
export function placeOf(expr: Node): Place | undefined {
  const path: string[] = [];
  let n = unparenthesize(expr);
  while (n.type === 'attribute') {
    const name = n.childForFieldName('attribute');
    const object = n.childForFieldName('object');
    if (!name || !object) return undefined;
    path.unshift(name.text);
    n = unparenthesize(object);
  }
  return n.type === 'identifier' ? { root: n, path } : undefined;
}

/**
 * The chain `id.path[0].path[1]…` that the identifier `id` starts in the tree (its outermost
 * attribute node), or undefined when the tree around `id` does not continue that way.
 */
export function chainFrom(id: Node, path: string[]): Node | undefined {
  let n = id;
  for (const name of path) {
    let p = n.parent;
    while (p?.type === 'parenthesized_expression') p = p.parent;
    if (p?.type !== 'attribute' || p.childForFieldName('attribute')?.text !== name) return undefined;
    const object = p.childForFieldName('object');
    if (!object || unparenthesize(object).id !== n.id) return undefined;
    n = p;
  }
  return n;
}

/** The scope whose variable the root of a place is, as the scope model resolves the read or binding there. */
function variableScope(root: Node, semantic: SemanticModel): Scope | undefined {
  const binding = semantic.bindingAt(root);
  if (binding) return semantic.scopes.resolveScope(root.text, semantic.scopeOf(root)) ?? binding.scope;
  return semantic.scopes.resolveScope(root.text, semantic.scopeOf(root));
}

/**
 * Are `a` and `b` the same place: the same variable, or the same attributes of the same variable?
 * Expressions that are not such chains (`x[k]`, calls) are the same only when spelled alike, token
 * for token (an expression compared with itself, not a name looked up by its text).
 */
export function samePlace(a: Node, b: Node, semantic: SemanticModel): boolean {
  const pa = placeOf(a);
  const pb = placeOf(b);
  if (!pa || !pb) return !pa && !pb && unparenthesize(a).text.replace(/\s+/g, '') === unparenthesize(b).text.replace(/\s+/g, '');
  if (pa.root.text !== pb.root.text || pa.path.length !== pb.path.length || pa.path.some((p, i) => p !== pb.path[i])) return false;
  return variableScope(pa.root, semantic) === variableScope(pb.root, semantic);
}

/** The class whose method's receiver (`self`) the identifier `root` is, if it is one. */
function receiverClass(root: Node, semantic: SemanticModel): Node | undefined {
  const scope = variableScope(root, semantic);
  const fn = scope?.node;
  if (fn?.type !== 'function_definition') return undefined;
  const m = semantic.method(fn);
  return m?.kind === 'instance' && m.receiver?.text === root.text ? semantic.classOfMethod(fn) : undefined;
}

/**
 * Are `a` and `b` the same attributes of the same class's instances, each reached through the
 * receiver of a method of that class (`self.errors` in one method, `self.errors` in another)?
 */
export function sameInstanceAttribute(a: Node, b: Node, semantic: SemanticModel): boolean {
  const pa = placeOf(a);
  const pb = placeOf(b);
  if (!pa || !pb || pa.path.length === 0 || pa.path.length !== pb.path.length || pa.path.some((p, i) => p !== pb.path[i])) return false;
  const ca = receiverClass(pa.root, semantic);
  return !!ca && !!receiverClass(pb.root, semantic)?.equals(ca);
}

/**
 * Every read of the place `keeper` names: reads of its root variable (in its scope and the scopes
 * nested in it that do not bind the name) continued by the same attributes, as the outermost node
 * of each. Empty when the root resolves to no scope of the file.
 */
export function readsOfPlace(keeper: Node, semantic: SemanticModel): Node[] {
  const place = placeOf(keeper);
  if (!place) return [];
  const scope = variableScope(place.root, semantic);
  if (!scope) return [];
  const out: Node[] = [];
  for (const id of semantic.readsOf(scope, place.root.text)) {
    const chain = chainFrom(id, place.path);
    if (chain) out.push(chain);
  }
  return out;
}

/**
 * Does a `return` inside `fn` (its own code or a function nested in it) hand out the value at
 * `keeper`: return it, or an expression built on it (`return errors`, `return (x, self.error)`,
 * `return self.errors[0]`)?
 */
export function returnedFrom(keeper: Node, fn: Node, semantic: SemanticModel): boolean {
  if (fn.type === 'module') return false;
  return readsOfPlace(keeper, semantic).some((r) => {
    if (r.startIndex < fn.startIndex || r.endIndex > fn.endIndex) return false;
    for (let n = r.parent; n && !n.equals(fn); n = n.parent) if (n.type === 'return_statement') return true;
    return false;
  });
}

/**
 * Does a `raise` whose frame is `frame` raise the variable `name` of that frame (or chain from
 * it): `raise err`, `raise Wrapped() from err`, `raise errors[0]`? A bare `raise` does not count.
 */
export function raisedInFrame(frame: Node, name: string, semantic: SemanticModel): boolean {
  return semantic.readsOf(semantic.scopeFor(frame), name).some((id) => {
    if (!semantic.frameNodeOf(id).equals(frame)) return false;
    for (let n = id.parent; n && !n.equals(frame); n = n.parent) if (n.type === 'raise_statement') return true;
    return false;
  });
}

/** The plain names `frame` binds to the value of its variable `name` (`details = exc_details`). */
export function aliasesOf(frame: Node, name: string, semantic: SemanticModel): string[] {
  const out: string[] = [];
  for (const id of semantic.readsOf(semantic.scopeFor(frame), name)) {
    const assign = id.parent;
    if (assign?.type !== 'assignment' || !assign.childForFieldName('right')?.equals(id)) continue;
    const left = assign.childForFieldName('left');
    if (left?.type === 'identifier' && semantic.frameNodeOf(assign).equals(frame)) out.push(left.text);
  }
  return out;
}

/**
 * Is the variable `name` (bound at `at`) deleted by a `del` of `frame`'s own code after `after`
 * (`del type, value, tb`)? Only a `del` of the name itself: `del name[0]` or `del obj.name` keep it.
 */
export function deletedAfter(frame: Node, name: string, after: number, semantic: SemanticModel): boolean {
  return semantic
    .scopeFor(frame)
    .bindingsOf(name)
    .some((b) => b.kind === 'delete' && b.node.startIndex >= after && semantic.frameNodeOf(b.node).equals(frame));
}

/**
 * Is `id` the variable bound at `binding` (that identifier itself, or a read the scope model
 * resolves to it)? The name is compared first only as a cheap filter.
 */
export function refersTo(id: Node | null | undefined, binding: Node, semantic: SemanticModel): boolean {
  const n = id ? unparenthesize(id) : undefined;
  if (n?.type !== 'identifier' || n.text !== binding.text) return false;
  return n.equals(binding) || semantic.resolve(n).some((b) => b.node.equals(binding));
}

/** Is `id` the receiver (`self`) of the instance method or property `fn`, as the scope model resolves it? */
export function isReceiverOf(id: Node | null | undefined, fn: Node, semantic: SemanticModel): boolean {
  const m = fn.type === 'function_definition' ? semantic.method(fn) : undefined;
  return !!m?.receiver && (m.kind === 'instance' || m.kind === 'property') && refersTo(id, m.receiver, semantic);
}

/**
 * A key that names the place `expr` is, for sets of places: equal keys for the same variable
 * (or the same attributes of it, as `samePlace` sees them), and — for a chain through the
 * receiver of an instance method or property — equal keys for that attribute through the
 * receiver of any method of the same class (`self.parent` in `__init__` and in `close`).
 * Undefined for anything that is not a name or an attribute chain (`x[k]`, calls).
 */
export function placeKey(expr: Node, semantic: SemanticModel): string | undefined {
  const place = placeOf(expr);
  return place ? keyOfPlace(place, semantic) : undefined;
}

/** The key of a place given as its root and attribute names (`setattr(o, "name", v)` → `o` and ['name']). */
export function keyOfPlace(place: Place, semantic: SemanticModel): string | undefined {
  const path = place.path.map((p) => '.' + p).join('');
  const scope = variableScope(place.root, semantic);
  const fn = scope?.node;
  if (place.path.length > 0 && fn?.type === 'function_definition') {
    const m = semantic.method(fn);
    const cls = m && (m.kind === 'instance' || m.kind === 'property') && m.receiver?.text === place.root.text ? semantic.classOfMethod(fn) : undefined;
    if (cls) return `instance#${cls.id}${path}`;
  }
  return `${scope ? scope.node.id : '?'}:${place.root.text}${path}`;
}
