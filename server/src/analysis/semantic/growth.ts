// Where a value added to a container comes from, for the container rules (LL301, LL303, LL304):
// a container grows without bound only when what it is keyed by (or what is appended) changes from
// call to call. A literal, an enum member, a class, `type(x)`, a module-level constant come from a
// small domain fixed by the code; a parameter (or a value computed from one) comes from the caller
// and may be new on every call; `id(obj)` or the instance itself is new for every object.
import type { Node } from 'web-tree-sitter';
import type { ScopeTable } from './scopes';

export type Origin =
  /** From a small domain the code fixes (literal, module-level name, class, `type(x)`, enum member). */
  | { kind: 'bounded'; why: string }
  /** One per object: `id(x)`, the method's receiver (`self`). */
  | { kind: 'identity'; why: string }
  /** From a parameter of the adding function (or a value computed from one). */
  | { kind: 'per-call'; parameter: string }
  | { kind: 'unknown' };

const LITERAL_TYPES = new Set(['string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none', 'ellipsis']);

function unwrap(node: Node): Node {
  let n = node;
  while (n.type === 'parenthesized_expression') {
    const inner = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (inner.length !== 1) return n;
    n = inner[0];
  }
  return n;
}

/** Joins the origins of the parts of one value: one per-object part makes it per-object, and so on. */
function combine(parts: Origin[]): Origin {
  const identity = parts.find((p) => p.kind === 'identity');
  if (identity) return identity;
  const perCall = parts.find((p) => p.kind === 'per-call');
  if (perCall) return perCall;
  if (parts.length > 0 && parts.every((p) => p.kind === 'bounded')) return parts[0];
  return { kind: 'unknown' };
}

/**
 * The origin of `expr`, a key or an element added in the function `fn` (a def or lambda);
 * `receiver` is the method's `self`, when `fn` is an instance method.
 */
export function originOf(expr: Node, fn: Node, scopes: ScopeTable, receiver?: string, depth = 0): Origin {
  const e = unwrap(expr);
  if (depth > 4) return { kind: 'unknown' };
  if (LITERAL_TYPES.has(e.type)) return { kind: 'bounded', why: 'a literal' };
  if (e.type === 'tuple' || e.type === 'expression_list') {
    return combine(e.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment').map((c) => originOf(c, fn, scopes, receiver, depth + 1)));
  }
  if (e.type === 'identifier') return nameOrigin(e, fn, scopes, receiver, depth);
  if (e.type === 'attribute') {
    const attribute = e.childForFieldName('attribute')?.text;
    if (attribute === '__class__' || attribute === '__name__' || attribute === '__qualname__') return { kind: 'bounded', why: 'a class' };
    const object = e.childForFieldName('object');
    if (!object) return { kind: 'unknown' };
    const inner = originOf(object, fn, scopes, receiver, depth + 1);
    // `Color.RED`, `settings.NAME`: an attribute of a module-level name is fixed by the code.
    if (inner.kind === 'bounded') return { kind: 'bounded', why: 'a module-level constant or enum member' };
    // `self.name` is one value per object, not one per call.
    if (inner.kind === 'identity') return { kind: 'unknown' };
    return inner;
  }
  if (e.type === 'call') {
    const callee = unwrap(e.childForFieldName('function') ?? e);
    const args = e.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
    if (callee.type === 'identifier' && callee.text === 'type' && args.length === 1) return { kind: 'bounded', why: '`type(…)`, a class' };
    if (callee.type === 'identifier' && callee.text === 'id' && args.length === 1) return { kind: 'identity', why: '`id(…)`, one key per object' };
    // A call computes its value from its arguments (and, for a method, its object).
    const parts = args.map((a) => originOf(a.type === 'keyword_argument' ? (a.childForFieldName('value') ?? a) : a, fn, scopes, receiver, depth + 1));
    if (callee.type === 'attribute') parts.push(originOf(callee.childForFieldName('object')!, fn, scopes, receiver, depth + 1));
    if (parts.length === 0) return { kind: 'unknown' };
    const joined = combine(parts);
    // `str(self)`, `repr(self)`: still one per object only if the object is the argument itself.
    return joined.kind === 'identity' && joined.why !== '`id(…)`, one key per object' ? { kind: 'unknown' } : joined;
  }
  if (e.type === 'binary_operator' || e.type === 'string' || e.type === 'subscript' || e.type === 'conditional_expression' || e.type === 'boolean_operator') {
    const ids = e.type === 'subscript' ? [e.childForFieldName('value')!, e.childForFieldName('subscript')!] : e.namedChildren.filter((c): c is Node => !!c);
    const parts = ids.filter((c) => c.type !== 'comment').map((c) => originOf(c, fn, scopes, receiver, depth + 1));
    const joined = combine(parts);
    return joined.kind === 'identity' ? { kind: 'unknown' } : joined;
  }
  if (e.type === 'interpolation' || e.type === 'format_expression') {
    const value = e.namedChildren.find((c) => c && c.type !== 'comment');
    return value ? originOf(value, fn, scopes, receiver, depth + 1) : { kind: 'unknown' };
  }
  return { kind: 'unknown' };
}

function nameOrigin(id: Node, fn: Node, scopes: ScopeTable, receiver: string | undefined, depth: number): Origin {
  const bindings = scopes.resolve(id);
  if (bindings.length === 0) return id.text === 'None' || id.text === 'True' || id.text === 'False' ? { kind: 'bounded', why: 'a literal' } : { kind: 'unknown' };
  const scope = bindings[0].scope;
  if (scope.kind === 'module' || scope.kind === 'class') {
    const kinds = new Set(bindings.map((b) => b.kind));
    if (kinds.has('class')) return { kind: 'bounded', why: 'a class' };
    return { kind: 'bounded', why: 'a module-level name' };
  }
  const own = scopes.scopeFor(fn);
  if (scope !== own) return { kind: 'unknown' };
  if (receiver && id.text === receiver && bindings.every((b) => b.kind === 'parameter')) return { kind: 'identity', why: 'the instance itself' };
  if (bindings.some((b) => b.kind === 'parameter')) return { kind: 'per-call', parameter: id.text };
  // A local: where its assignments (or its loop) take it from.
  const parts: Origin[] = [];
  for (const b of bindings) {
    const holder = b.node.parent;
    if (b.kind === 'assignment' && holder?.type === 'assignment' && holder.childForFieldName('left')?.equals(b.node)) {
      const right = holder.childForFieldName('right');
      parts.push(right ? originOf(right, fn, scopes, receiver, depth + 1) : { kind: 'unknown' });
    } else if (b.kind === 'loop') {
      let loop: Node | null = holder;
      while (loop && loop.type !== 'for_statement' && loop.type !== 'for_in_clause') loop = loop.parent;
      const over = loop?.childForFieldName('right');
      const origin = over ? originOf(over, fn, scopes, receiver, depth + 1) : { kind: 'unknown' as const };
      // Iterating over a literal collection or a module constant stays in its domain.
      parts.push(origin.kind === 'unknown' && over && ['list', 'tuple', 'set', 'dictionary'].includes(unwrap(over).type) ? { kind: 'bounded', why: 'a literal' } : origin);
    } else if (b.kind === 'annotation') {
      continue;
    } else {
      parts.push({ kind: 'unknown' });
    }
  }
  return combine(parts);
}

/**
 * Is this module test code (it imports `unittest` or `pytest`)? Objects a test builds are
 * short-lived or deliberate, which the container rules report with low confidence only.
 */
export function isTestModule(root: Node): boolean {
  for (const stmt of root.namedChildren) {
    if (!stmt) continue;
    if (stmt.type === 'import_statement' || stmt.type === 'import_from_statement') {
      const text = stmt.type === 'import_statement' ? stmt.namedChildren.map((c) => c?.text ?? '').join(' ') : (stmt.childForFieldName('module_name')?.text ?? '');
      if (/(^|\s|,)(unittest|pytest)(\.|\s|,|$)/.test(text)) return true;
    }
  }
  return false;
}
