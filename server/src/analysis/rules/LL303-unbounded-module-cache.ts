// LL303 unbounded-module-cache: a module-level container that functions add to and nothing
// ever removes from, so it grows for the life of the process.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { unparenthesize } from '../syntax';
import type { RelatedLocation, Rule, RuleContext } from '../types';

type Kind = 'list' | 'deque' | 'set' | 'dict' | 'defaultdict' | 'counter';

const LITERALS: Record<string, Kind> = {
  list: 'list',
  list_comprehension: 'list',
  set: 'set',
  set_comprehension: 'set',
  dictionary: 'dict',
  dictionary_comprehension: 'dict',
};
const CALLS: Record<string, Kind> = {
  list: 'list',
  'builtins.list': 'list',
  set: 'set',
  'builtins.set': 'set',
  dict: 'dict',
  'builtins.dict': 'dict',
  'collections.OrderedDict': 'dict',
  'typing.OrderedDict': 'dict',
  'collections.defaultdict': 'defaultdict',
  'collections.Counter': 'counter',
  'collections.deque': 'deque',
};
const KIND_NAMES: Record<Kind, string> = { list: 'list', deque: 'deque', set: 'set', dict: 'dict', defaultdict: 'defaultdict', counter: 'Counter' };
const DICT_LIKE = new Set<Kind>(['dict', 'defaultdict', 'counter']);

/** Methods that add, per kind. */
const ADDERS: Record<Kind, Set<string>> = {
  list: new Set(['append', 'extend', 'insert']),
  deque: new Set(['append', 'appendleft', 'extend', 'extendleft', 'insert']),
  set: new Set(['add', 'update']),
  dict: new Set(['update', 'setdefault']),
  defaultdict: new Set(['update', 'setdefault']),
  counter: new Set(['update', 'setdefault']),
};
/** Methods that remove (called, or passed as a callback). */
const REMOVERS = new Set([
  'pop', 'popitem', 'popleft', 'remove', 'discard', 'clear',
  'difference_update', 'intersection_update', 'symmetric_difference_update', 'subtract',
  '__delitem__', '__isub__', '__iand__',
]);
const MUTATORS = new Set(['append', 'appendleft', 'extend', 'extendleft', 'insert', 'add', 'update', 'setdefault']);
/** Compound statements whose blocks still run at import time. */
const MODULE_BLOCKS = new Set(['if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'except_group_clause', 'finally_clause', 'with_statement', 'for_statement', 'while_statement', 'block']);
const FUNCTION_SCOPES = new Set(['function_definition', 'lambda']);
const COMPREHENSIONS = new Set(['list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);
const CONSTANT_KEYS = new Set(['string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none']);

interface Binding {
  name: string;
  kind: Kind;
  /** The binding's target name. */
  target: Node;
  assignment: Node;
}

interface Addition {
  node: Node;
  how: string;
  fn: Node;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The kind of container a module-level value builds, if it is one this rule tracks. */
function containerKind(value: Node, context: RuleContext): Kind | undefined {
  const v = unparenthesize(value);
  if (LITERALS[v.type]) return LITERALS[v.type];
  if (v.type !== 'call') return undefined;
  const fn = v.childForFieldName('function');
  const q = fn ? context.qualifiedName(fn) : undefined;
  const kind = q ? CALLS[q] : undefined;
  if (kind !== 'deque') return kind;
  // A deque with a maxlen is bounded.
  const args = v.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
  const positional = args.filter((a) => a.type !== 'keyword_argument');
  let maxlen: Node | undefined = positional[1];
  for (const a of args) if (a.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'maxlen') maxlen = a.childForFieldName('value') ?? undefined;
  if (maxlen && unparenthesize(maxlen).type !== 'none') return undefined;
  return kind;
}

/** Container bindings made at module level, including inside module-level if/try/with/for blocks. */
function moduleBindings(root: Node, context: RuleContext): Binding[] {
  const out: Binding[] = [];
  const seen = new Set<string>();
  const visit = (node: Node) => {
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'expression_statement') {
        const a = child.namedChild(0);
        if (a?.type !== 'assignment') continue;
        const left = a.childForFieldName('left');
        const right = a.childForFieldName('right');
        if (left?.type !== 'identifier' || !right) continue;
        const name = left.text;
        if (/^__.*__$/.test(name) || seen.has(name)) continue;
        const kind = containerKind(right, context);
        if (!kind) continue;
        seen.add(name);
        out.push({ name, kind, target: left, assignment: a });
      } else if (MODULE_BLOCKS.has(child.type)) {
        visit(child);
      }
    }
  };
  visit(root);
  return out;
}

/**
 * The nearest enclosing function, lambda or comprehension (a scope that can bind names), or null
 * at module level. Class bodies are transparent: what a class body at module level does runs at
 * import time, and methods are functions.
 */
function scopeOf(node: Node): Node | null {
  for (let n: Node | null = node.parent, prev: Node = node; n; prev = n, n = n.parent) {
    if (FUNCTION_SCOPES.has(n.type)) {
      // Defaults and annotations of a def are evaluated in the enclosing scope; the name and body belong to it.
      if (n.type === 'function_definition') {
        const params = n.childForFieldName('parameters');
        if (params && prev.equals(params) && !isParameterName(node)) continue;
        if (n.childForFieldName('return_type')?.equals(prev)) continue;
        if (n.childForFieldName('name')?.equals(prev)) continue;
      }
      if (n.type === 'lambda') {
        const params = n.childForFieldName('parameters');
        if (params && prev.equals(params) && !isParameterName(node)) continue;
      }
      return n;
    }
    if (COMPREHENSIONS.has(n.type)) {
      // The first iterable of a comprehension is evaluated in the enclosing scope.
      const first = n.namedChildren.find((c) => c?.type === 'for_in_clause');
      const right = first?.childForFieldName('right');
      if (right && right.startIndex <= node.startIndex && node.endIndex <= right.endIndex) continue;
      return n;
    }
    if (n.type === 'module') return null;
  }
  return null;
}

function isParameterName(id: Node): boolean {
  const p = id.parent;
  if (!p) return false;
  if (p.type === 'parameters' || p.type === 'lambda_parameters') return true;
  if (p.type === 'list_splat_pattern' || p.type === 'dictionary_splat_pattern') return true;
  if (p.type === 'typed_parameter') return p.namedChild(0)?.equals(id) ?? false;
  if (p.type === 'default_parameter' || p.type === 'typed_default_parameter') return p.childForFieldName('name')?.equals(id) ?? false;
  return false;
}

/** True when this occurrence of a name binds it in its scope (assignment target, loop variable, parameter, import, def…). */
function isBinding(id: Node): boolean {
  if (isParameterName(id)) return true;
  let n: Node = id;
  // Climb through tuple/list patterns.
  while (n.parent && ['pattern_list', 'tuple_pattern', 'list_pattern', 'list_splat_pattern', 'parenthesized_expression', 'tuple', 'list', 'expression_list'].includes(n.parent.type)) n = n.parent;
  const p = n.parent;
  if (!p) return false;
  const is = (field: string) => p.childForFieldName(field)?.equals(n) ?? false;
  switch (p.type) {
    case 'assignment':
    case 'augmented_assignment':
      return is('left');
    case 'for_statement':
    case 'for_in_clause':
      return is('left');
    case 'named_expression':
      return is('name');
    case 'as_pattern':
      // `case [..] as x` (the alias of `with … as x` / `except … as x` is an as_pattern_target).
      return p.namedChildCount > 1 && (p.namedChildren[p.namedChildren.length - 1]?.equals(n) ?? false);
    case 'as_pattern_target':
    case 'splat_pattern':
      return true;
    case 'function_definition':
    case 'class_definition':
      return is('name');
    case 'aliased_import':
      return is('alias');
    case 'dotted_name': {
      const g = p.parent;
      if (g?.type === 'case_pattern') return p.namedChildCount === 1;
      if (g?.type === 'import_statement') return p.namedChild(0)?.equals(n) ?? false;
      if (g?.type === 'import_from_statement') return g.childrenForFieldName('name').some((c) => c?.equals(p));
      return false;
    }
    case 'delete_statement':
      return true;
    default:
      return false;
  }
}

function inGlobalStatement(id: Node): 'global' | 'nonlocal' | undefined {
  const p = id.parent;
  if (p?.type === 'global_statement') return 'global';
  if (p?.type === 'nonlocal_statement') return 'nonlocal';
  return undefined;
}

function isConstantKey(key: Node | null | undefined): boolean {
  if (!key) return false;
  const k = unparenthesize(key);
  if (CONSTANT_KEYS.has(k.type)) return true;
  if (k.type === 'tuple') return k.namedChildren.every((c) => !c || isConstantKey(c));
  return false;
}

function functionName(fn: Node): string {
  return fn.type === 'lambda' ? 'a lambda' : `\`${fn.childForFieldName('name')?.text ?? '?'}\``;
}

function enclosingFunction(node: Node): Node | null {
  for (let n = node.parent; n; n = n.parent) if (FUNCTION_SCOPES.has(n.type)) return n;
  return null;
}

/**
 * A registration decorator: the function stores one of its parameters and returns that same
 * parameter (`def register(fn): _handlers.append(fn); return fn`).
 */
function isRegistrationDecorator(fn: Node, stored: Node | null | undefined): boolean {
  if (!stored || fn.type !== 'function_definition') return false;
  const value = unparenthesize(stored);
  if (value.type !== 'identifier') return false;
  const params = fn.childForFieldName('parameters');
  const isParam = params?.namedChildren.some((p) => {
    if (!p) return false;
    if (p.type === 'identifier') return p.text === value.text;
    const name = p.type === 'typed_parameter' ? p.namedChild(0) : p.childForFieldName('name');
    return name?.text === value.text;
  });
  if (!isParam) return false;
  const body = fn.childForFieldName('body');
  return (body?.descendantsOfType('return_statement') ?? []).some((r) => {
    if (!r || enclosingFunction(r)?.equals(fn) !== true) return false;
    const v = r.namedChild(0);
    return !!v && unparenthesize(v).type === 'identifier' && unparenthesize(v).text === value.text;
  });
}

type Verdict = { kind: 'addition'; addition: Addition } | { kind: 'removal' } | { kind: 'rebinding' } | { kind: 'other' };

/** What one reference to the module-level container does with it. */
function classify(id: Node, binding: Binding, fn: Node | null): Verdict {
  const p = id.parent!;
  const field = (f: string) => p.childForFieldName(f)?.equals(id) ?? false;
  const kind = binding.kind;
  const addition = (node: Node, how: string, stored: Node | null | undefined, key?: Node | null): Verdict => {
    if (!fn) return { kind: 'other' }; // import time
    if (key !== undefined && isConstantKey(key)) return { kind: 'other' }; // a fixed key does not grow
    if (isRegistrationDecorator(fn, stored)) return { kind: 'other' };
    return { kind: 'addition', addition: { node, how, fn } };
  };
  if (p.type === 'attribute' && field('object')) {
    const method = p.childForFieldName('attribute')?.text ?? '';
    const call = p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p) ? p.parent : undefined;
    if (REMOVERS.has(method)) return { kind: 'removal' };
    if (call && ADDERS[kind].has(method)) {
      const args = call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
      const how = `\`${binding.name}.${method}(…)\``;
      if (method === 'insert') return addition(call, how, args[1]);
      if (method === 'setdefault') return addition(call, how, args[1], args[0] ?? null);
      if (method === 'update' && DICT_LIKE.has(kind) && args.length > 0 && args.every((a) => a.type === 'keyword_argument')) return { kind: 'other' };
      if (method === 'add' && isConstantKey(args[0])) return { kind: 'other' };
      return addition(call, how, args[0]);
    }
    return { kind: 'other' };
  }
  if (p.type === 'subscript' && field('value')) {
    const index = p.childForFieldName('subscript');
    const holder = p.parent;
    const isSlice = index?.type === 'slice';
    if (holder?.type === 'delete_statement' || (holder?.type === 'expression_list' && holder.parent?.type === 'delete_statement')) return { kind: 'removal' };
    if (holder?.type === 'assignment' && holder.childForFieldName('left')?.equals(p)) {
      if (isSlice) return { kind: 'removal' };
      if (DICT_LIKE.has(kind)) return addition(holder, `\`${binding.name}[…] = …\``, holder.childForFieldName('right'), index);
      return { kind: 'other' };
    }
    if (holder?.type === 'augmented_assignment' && holder.childForFieldName('left')?.equals(p)) {
      if (isSlice) return { kind: 'removal' };
      if (kind === 'counter' || kind === 'defaultdict') return addition(holder, `\`${binding.name}[…] ${holder.childForFieldName('operator')?.text ?? '+='} …\``, undefined, index);
      return { kind: 'other' };
    }
    if (kind === 'defaultdict' && holder) {
      // `d[k].append(v)` and `d[k][j] = v` create the key k.
      const grand = holder.parent;
      if (holder.type === 'attribute' && holder.childForFieldName('object')?.equals(p) && MUTATORS.has(holder.childForFieldName('attribute')?.text ?? '') && grand?.type === 'call') {
        return addition(grand, `\`${binding.name}[…].${holder.childForFieldName('attribute')?.text}(…)\``, undefined, index);
      }
      if (holder.type === 'subscript' && holder.childForFieldName('value')?.equals(p) && grand?.type === 'assignment' && grand.childForFieldName('left')?.equals(holder)) {
        return addition(grand, `\`${binding.name}[…][…] = …\``, undefined, index);
      }
    }
    return { kind: 'other' };
  }
  if (p.type === 'augmented_assignment' && field('left')) {
    const op = p.childForFieldName('operator')?.text ?? '';
    if (op === '-=' || op === '&=' || op === '^=') return { kind: 'removal' };
    if (op === '+=' || op === '|=') return addition(p, `\`${binding.name} ${op} …\``, undefined);
    return { kind: 'rebinding' };
  }
  if (p.type === 'delete_statement' || (p.type === 'expression_list' && p.parent?.type === 'delete_statement')) return { kind: 'removal' };
  if (fn && isBinding(id)) return { kind: 'rebinding' };
  return { kind: 'other' };
}

export const rule: Rule = {
  code: 'LL303',
  name: 'unbounded-module-cache',
  category: 'containers',
  defaultSeverity: 'warning',
  query: `(module) @module`,
  check(context: RuleContext, matches: QueryMatch[]) {
    const root = matches[0]?.captures[0]?.node;
    if (!root) return;
    const bindings = moduleBindings(root, context);
    if (bindings.length === 0) return;
    const { text } = context;
    for (const binding of bindings) {
      const re = new RegExp(`(?<![\\p{L}\\p{N}_\\p{Mn}\\p{Mc}])${escapeRegExp(binding.name)}(?![\\p{L}\\p{N}_\\p{Mn}\\p{Mc}])`, 'gu');
      // Every identifier spelled like the name, with the scope it is read in.
      const occurrences: Array<{ id: Node; scope: Node | null }> = [];
      for (const m of text.matchAll(re)) {
        const start = m.index!;
        const end = start + binding.name.length;
        const id = root.namedDescendantForIndex(start, end);
        if (!id || id.type !== 'identifier' || id.startIndex !== start || id.endIndex !== end) continue;
        const p = id.parent;
        if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) continue;
        if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
        occurrences.push({ id, scope: scopeOf(id) });
      }
      // Scopes where the name is local (bound there without `global`), or declared global.
      const local = new Set<number>();
      const declaredGlobal = new Set<number>();
      for (const o of occurrences) {
        if (!o.scope) continue;
        const g = inGlobalStatement(o.id);
        if (g === 'global') declaredGlobal.add(o.scope.id);
        else if (g === 'nonlocal' || isBinding(o.id)) local.add(o.scope.id);
      }
      const refersToModule = (scope: Node | null): boolean => {
        for (let s = scope; s; s = s.parent ? scopeOf(s) : null) {
          if (declaredGlobal.has(s.id)) return true;
          if (local.has(s.id)) return false;
        }
        return true;
      };
      const additions: Addition[] = [];
      let pruned = false;
      for (const o of occurrences) {
        if (o.id.equals(binding.target)) continue;
        if (inGlobalStatement(o.id)) continue;
        if (!refersToModule(o.scope)) continue;
        const fn = o.scope ? enclosingFunction(o.id) : null;
        const verdict = classify(o.id, binding, fn);
        if (verdict.kind === 'removal' || (verdict.kind === 'rebinding' && fn)) {
          pruned = true;
          break;
        }
        if (verdict.kind === 'addition') additions.push(verdict.addition);
      }
      if (pruned || additions.length === 0) continue;
      const first = additions[0];
      const where = new Set(additions.map((a) => functionName(a.fn)));
      const places = [...where].slice(0, 3).join(', ') + (where.size > 3 ? ', …' : '');
      const related: RelatedLocation[] = additions.map((a) => ({
        start: a.node.startIndex,
        end: a.node.endIndex,
        message: `\`${binding.name}\` grows here (${a.how} in ${functionName(a.fn)})`,
      }));
      context.report({
        node: binding.target,
        message: `Module-level ${KIND_NAMES[binding.kind]} \`${binding.name}\` grows at run time (${first.how} in ${places}) and nothing ever removes from it: it lives, and grows, for the life of the process`,
        related,
      });
    }
  },
  docs: {
    summary: 'A module-level container that functions add to and nothing ever removes from.',
    whatItDoes: 'TODO',
    whyLeak: 'TODO',
    example: '_seen = {}\n\n\ndef lookup(key):\n    _seen[key] = compute(key)\n    return _seen[key]\n',
    useInstead: 'import functools\n\n\n@functools.lru_cache(maxsize=1024)\ndef lookup(key):\n    return compute(key)\n',
    fixSafety: 'TODO',
    options: 'None.',
    references: ['https://docs.python.org/3/library/functools.html#functools.lru_cache'],
  },
};

