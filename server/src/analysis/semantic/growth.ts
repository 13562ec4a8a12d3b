// Where a value added to a container comes from, for the container rules (LL301, LL303, LL304):
// a container grows without bound only when what it is keyed by (or what is appended) changes from
// call to call. A literal, an enum member, a class, `type(x)`, a module-level constant come from a
// small domain fixed by the code; a parameter (or a value computed from one) comes from the caller
// and may be new on every call; `id(obj)` or the instance itself is new for every object.
import type { Node } from 'web-tree-sitter';
import type { ScopeTable } from './scopes';

/**
 * The kinds of container the container rules (LL301, LL303, LL304) follow. `defaultdict` is its
 * own kind because a read (`d[k]`) inserts; `counter` because a read does not (`Counter.__missing__`
 * returns 0 without storing) while `c[k] += 1` adds; `deque` because it has its own adders
 * (`appendleft`, `extendleft`) and may be bounded by `maxlen`.
 */
export type ContainerKind = 'list' | 'deque' | 'set' | 'dict' | 'defaultdict' | 'counter';

/**
 * The one table of container constructors, by the qualified name of the callee (resolved through
 * the file's imports, so `from collections import OrderedDict as OD; OD()` and `import typing as t;
 * t.Counter()` are found). Decided on purpose:
 * - `typing.OrderedDict`, `typing.Counter`, `typing.Deque`, `typing.DefaultDict` are callable
 *   aliases that build the collections class, so they count; `typing.List`, `typing.Dict` and
 *   `typing.Set` refuse to be called (TypeError), so they are absent.
 * - `OrderedDict` is a plain dict to these rules (its `move_to_end`/`popitem(last=False)` trimming
 *   is a removal like any other).
 * - `Counter` and `defaultdict` keep their own kinds; a rule that has no use for the difference
 *   treats them as dicts (LL301 does: it only asks whether instances are stored).
 * - `builtins.list` etc. are the spellings after `import builtins`; a bare `list` is the builtin
 *   unless the file rebinds it (the qualified name is then the file's own).
 */
const CONTAINER_CALLS: Readonly<Record<string, ContainerKind>> = {
  list: 'list',
  'builtins.list': 'list',
  set: 'set',
  'builtins.set': 'set',
  dict: 'dict',
  'builtins.dict': 'dict',
  'collections.OrderedDict': 'dict',
  'typing.OrderedDict': 'dict',
  'collections.defaultdict': 'defaultdict',
  'typing.DefaultDict': 'defaultdict',
  'collections.Counter': 'counter',
  'typing.Counter': 'counter',
  'collections.deque': 'deque',
  'typing.Deque': 'deque',
};
/** Displays and comprehensions, by node type. */
const CONTAINER_LITERALS: Readonly<Record<string, { kind: ContainerKind; comprehension: boolean }>> = {
  list: { kind: 'list', comprehension: false },
  set: { kind: 'set', comprehension: false },
  dictionary: { kind: 'dict', comprehension: false },
  list_comprehension: { kind: 'list', comprehension: true },
  set_comprehension: { kind: 'set', comprehension: true },
  dictionary_comprehension: { kind: 'dict', comprehension: true },
};
/** How the container kinds are named in messages. */
export const CONTAINER_KIND_NAMES: Readonly<Record<ContainerKind, string>> = { list: 'list', deque: 'deque', set: 'set', dict: 'dict', defaultdict: 'defaultdict', counter: 'Counter' };

/** What a value expression builds, when it builds a container of a followed kind. */
export interface ContainerConstruction {
  kind: ContainerKind;
  /** The callee's qualified name (`collections.deque`), or undefined for a display or comprehension. */
  callee?: string;
  /** A display (`[]`, `{}`, `{1, 2}`) or comprehension rather than a call. */
  literal: boolean;
  comprehension: boolean;
  /** It starts with no entries: an empty display, or a call with no arguments. */
  empty: boolean;
  /** The call's arguments (comments left out); empty for a display. */
  arguments: Node[];
  /** A `deque` given a `maxlen` that is not None: it drops old entries itself. */
  bounded: boolean;
  /** A builtin (`[]`, `list()`, `builtins.dict()`), which a weak container can stand in for. */
  builtin: boolean;
}

/**
 * The container `value` builds (through parentheses), looked up in the one table above; the callee
 * resolved by `qualifiedName` (the file's imports and bindings).
 */
export function containerConstruction(value: Node, qualifiedName: (node: Node) => string | undefined): ContainerConstruction | undefined {
  const v = unwrap(value);
  const literal = CONTAINER_LITERALS[v.type];
  if (literal) {
    const empty = !literal.comprehension && v.namedChildren.every((c) => !c || c.type === 'comment');
    return { kind: literal.kind, literal: true, comprehension: literal.comprehension, empty, arguments: [], bounded: false, builtin: true };
  }
  if (v.type !== 'call') return undefined;
  const fn = v.childForFieldName('function');
  const callee = fn ? qualifiedName(fn) : undefined;
  const kind = callee !== undefined && Object.prototype.hasOwnProperty.call(CONTAINER_CALLS, callee) ? CONTAINER_CALLS[callee] : undefined;
  if (!kind) return undefined;
  const args = v.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
  let bounded = false;
  if (kind === 'deque') {
    // `deque(iterable, maxlen)` or `deque(maxlen=n)`: bounded unless the bound is None.
    let maxlen: Node | undefined = args.filter((a) => a.type !== 'keyword_argument')[1];
    for (const a of args) if (a.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'maxlen') maxlen = a.childForFieldName('value') ?? undefined;
    bounded = !!maxlen && unwrap(maxlen).type !== 'none';
  }
  const builtin = callee === 'list' || callee === 'set' || callee === 'dict' || callee!.startsWith('builtins.');
  return { kind, callee, literal: false, comprehension: false, empty: args.length === 0, arguments: args, bounded, builtin };
}

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
