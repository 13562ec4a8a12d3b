// LL201 mutable-default-argument: a default built once at definition time and shared by calls.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { addImportEdit } from '../imports';
import { parameterName } from '../semantic/scopes';
import { indentOfLine, indentUnit, isDocstring, lineBreakOf, statementsOf, unparenthesize } from '../syntax';
import type { Fix, OffsetEdit, Rule, RuleContext } from '../types';

const MUTABLE_LITERALS = new Set(['list', 'dictionary', 'set', 'list_comprehension', 'dictionary_comprehension', 'set_comprehension']);
const MUTABLE_CALLS = new Set([
  'list', 'dict', 'set', 'bytearray',
  'builtins.list', 'builtins.dict', 'builtins.set', 'builtins.bytearray',
  'collections.defaultdict', 'collections.OrderedDict', 'collections.deque', 'collections.Counter',
]);
const TYPE_EXPRESSIONS = new Set(['identifier', 'attribute', 'subscript', 'generic_type', 'binary_operator', 'union_type', 'string', 'none']);
/** Methods that change a list, dict, set, deque or bytearray in place. */
const MUTATORS = new Set([
  'append', 'extend', 'insert', 'add', 'update', 'setdefault', 'pop', 'popitem', 'remove', 'discard', 'clear', 'sort',
  'reverse', 'appendleft', 'extendleft', 'popleft', 'rotate', 'difference_update', 'intersection_update',
  'symmetric_difference_update', '__setitem__', '__delitem__', '__iadd__', '__ior__',
]);
/** Methods that only read. */
const READERS = new Set([
  'copy', 'get', 'keys', 'values', 'items', 'index', 'count', 'union', 'intersection', 'difference', 'symmetric_difference',
  'issubset', 'issuperset', 'isdisjoint', 'most_common', 'elements', 'total', 'fromkeys', '__contains__', '__getitem__', '__len__', '__iter__',
]);
/** Container methods that store their argument itself (not a copy of its items). */
const STORING = new Set(['append', 'add', 'insert', 'appendleft', 'setdefault', '__setitem__']);
/** Calls that read their arguments (or copy their items) and keep no reference to them. */
const READING_CALLS = new Set([
  'len', 'list', 'tuple', 'set', 'frozenset', 'dict', 'sorted', 'reversed', 'iter', 'enumerate', 'zip', 'any', 'all', 'min',
  'max', 'sum', 'str', 'repr', 'bool', 'isinstance', 'issubclass', 'id', 'hash', 'print', 'format', 'bytes', 'bytearray',
  'copy.copy', 'copy.deepcopy', 'json.dumps', 'itertools.chain', 'collections.OrderedDict', 'collections.Counter',
]);
/** Containers whose items a reading context copies: `*x`, `**x`, `x.extend(d)`, `d.update(x)`. */
const COPYING_METHODS = new Set(['extend', 'update', 'extendleft', 'join', 'union', 'intersection', 'difference', 'issubset', 'issuperset', 'isdisjoint', 'fromkeys', 'format']);
/** Expressions whose value is (or contains) the operand: the use is that of the whole expression. */
const PASS_THROUGH = new Set(['parenthesized_expression', 'boolean_operator', 'tuple', 'list', 'set', 'expression_list', 'pair', 'dictionary']);
/** Places where a value is only read. */
const READ_CONTEXTS = new Set([
  'comparison_operator', 'not_operator', 'binary_operator', 'unary_operator', 'if_statement', 'elif_clause', 'while_statement',
  'assert_statement', 'interpolation', 'list_splat', 'dictionary_splat', 'expression_statement', 'format_expression',
  'conditional_expression',
]);

interface Use {
  kind: 'mutated' | 'escapes' | 'passed';
  how: string;
  node: Node;
  /** A store into an item (`x[k] = v`, `x[0] += 1`): state kept in the default, not growth. */
  itemStore?: boolean;
  /** The call of a function of this file through which the use happens (`_walk(node, acc)`). */
  via?: string;
  /**
   * What a mutation adds: `always` an item on every call (`append`, `extend`, `insert`, `+=`),
   * `varying` an entry whose key comes from the call (`d[k] = v`, `s.add(x)`, `d.update(other)`),
   * `constant` an entry under a key written in the code (`d["k"] = v`, `d.update(k=v)`), which
   * bounds the growth. Undefined: it adds nothing (`pop`, `sort`, `clear`).
   */
  adds?: 'always' | 'varying' | 'constant';
  /** The mutation empties the container (`x.clear()`, `del x[:]`): what one call adds, the next removes. */
  clears?: boolean;
  /** A store through a subscript (`x[k] = v`): on a list it replaces an item and adds none. */
  byIndex?: boolean;
}

/** What a function does with one of its parameters, as far as this rule follows it. */
interface UseSummary {
  /** Mutations, escapes and unfollowed uses before the name is rebound, in document order. */
  uses: Use[];
  /** Is it looked up by key or membership (`k in x`, `x.get(k)`, `x[k]` of a dict): a memo's reads. */
  lookup: boolean;
  /** Every read of the parameter, wherever it is (nested scopes included, rebinding ignored). */
  reads: Node[];
}

const EMPTY_SUMMARY: UseSummary = { uses: [], lookup: false, reads: [] };
/** Defaults whose items are looked up by key when subscripted (lists and the like are indexed instead). */
const KEYED_LITERALS = new Set(['dictionary', 'dictionary_comprehension']);
const KEYED_CALLS = new Set(['dict', 'builtins.dict', 'collections.defaultdict', 'collections.OrderedDict', 'collections.Counter']);
/** Methods that look an item up. */
const LOOKUPS = new Set(['get', 'setdefault', '__contains__', '__getitem__', 'index', 'count']);
/** Expressions that are never None. */
const NEVER_NONE = new Set([
  'list', 'dictionary', 'set', 'tuple', 'string', 'concatenated_string', 'integer', 'float', 'true', 'false',
  'list_comprehension', 'dictionary_comprehension', 'set_comprehension', 'generator_expression', 'lambda',
]);

function isKeyed(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (KEYED_LITERALS.has(v.type)) return true;
  if (v.type !== 'call') return false;
  const fn = v.childForFieldName('function');
  const name = fn && context.qualifiedName(fn);
  return !!name && KEYED_CALLS.has(name);
}

/** Is this read of the parameter a lookup of an item in it? */
function isLookup(id: Node, keyed: boolean): boolean {
  let node: Node = id;
  while (node.parent?.type === 'parenthesized_expression') node = node.parent;
  const parent = node.parent;
  if (!parent) return false;
  if (parent.type === 'comparison_operator') {
    const op = node.previousSibling;
    return !!op && (op.type === 'in' || op.type === 'not in');
  }
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(node)) {
    return LOOKUPS.has(parent.childForFieldName('attribute')?.text ?? '');
  }
  if (keyed && parent.type === 'subscript' && parent.childForFieldName('value')?.equals(node)) {
    const holder = parent.parent;
    const stored = (holder?.type === 'assignment' && holder.childForFieldName('left')?.equals(parent)) || holder?.type === 'delete_statement';
    return !stored;
  }
  return false;
}

/** Defaults that are sequences: a store through a subscript replaces an item of them. */
function isSequenceDefault(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (v.type === 'list' || v.type === 'list_comprehension') return true;
  if (v.type !== 'call') return false;
  const fn = v.childForFieldName('function');
  const name = fn && context.qualifiedName(fn);
  return !!name && ['list', 'builtins.list', 'bytearray', 'builtins.bytearray', 'collections.deque'].includes(name);
}

function isMutableDefault(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (MUTABLE_LITERALS.has(v.type)) return true;
  if (v.type === 'call') {
    const fn = v.childForFieldName('function');
    const name = fn && context.qualifiedName(fn);
    return !!name && MUTABLE_CALLS.has(name);
  }
  return false;
}
/** Methods that add an item on every call, whatever it is. */
const APPENDING = new Set(['append', 'extend', 'insert', 'appendleft', 'extendleft', '__iadd__']);
/** Methods that add an entry under a key (a set's item is its own key). */
const KEYED_INSERTS = new Set(['add', 'update', 'setdefault', '__setitem__', '__ior__']);
const CONSTANTS = new Set(['string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none']);

/** A value written in the code: a literal, or a tuple, list, set or dict of them (dict values not looked at). */
function isConstantKey(node: Node | null | undefined): boolean {
  if (!node) return false;
  const n = unparenthesize(node);
  if (CONSTANTS.has(n.type)) return true;
  if (n.type === 'tuple' || n.type === 'list' || n.type === 'set') return n.namedChildren.every((c) => !c || c.type === 'comment' || isConstantKey(c));
  if (n.type === 'dictionary') return n.namedChildren.every((c) => !c || c.type === 'comment' || (c.type === 'pair' && isConstantKey(c.childForFieldName('key'))));
  // `dict(url=u)`: keyword arguments only, so the keys are in the code.
  if (n.type === 'call' && n.childForFieldName('function')?.text === 'dict') {
    const args = n.childForFieldName('arguments');
    return args?.type === 'argument_list' && args.namedChildren.every((c) => !c || c.type === 'comment' || c.type === 'keyword_argument');
  }
  return false;
}

/** What a call of a keyed-insert method adds: entries under keys written in the code, or keys from the call. */
function keyedInsertAdds(method: string, call: Node | undefined): 'varying' | 'constant' {
  const args = (call?.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  if (!call || args.length === 0) return 'varying';
  if (method === 'update' || method === '__ior__') {
    // `d.update(k=v)`, `d.update({"k": v})`: the keys are in the code.
    return args.every((a) => a.type === 'keyword_argument' || isConstantKey(a)) ? 'constant' : 'varying';
  }
  return isConstantKey(args[0]) ? 'constant' : 'varying';
}

/** How one occurrence of the parameter is used, or undefined for a read. */
function useOf(id: Node, name: string, context: RuleContext): Use | undefined {
  let node: Node = id;
  let parent = id.parent;
  // `x or y`, `(x, y)`, `[x]`: what happens to the whole expression happens to x.
  while (parent && PASS_THROUGH.has(parent.type) && !(parent.type === 'pair' && parent.childForFieldName('key')?.equals(node))) {
    node = parent;
    parent = parent.parent;
  }
  if (!parent) return undefined;
  const field = (f: string) => !!parent!.childForFieldName(f)?.equals(node);
  const direct = node.equals(id);
  switch (parent.type) {
    case 'augmented_assignment': {
      if (!field('left')) return undefined;
      const op = parent.child(1)?.text ?? '+=';
      const adds = op === '+=' ? 'always' : op === '|=' ? (isConstantKey(parent.childForFieldName('right')) ? 'constant' : 'varying') : undefined;
      return { kind: 'mutated', how: `\`${name} ${op} …\``, node: parent, adds };
    }
    case 'attribute': {
      if (!direct || !field('object')) return undefined;
      const attr = parent.childForFieldName('attribute')?.text ?? '';
      const call = parent.parent;
      const called = call?.type === 'call' && call.childForFieldName('function')?.equals(parent);
      const holder = parent.parent;
      if ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) {
        return { kind: 'mutated', how: `\`${parent.text} = …\``, node: holder };
      }
      if (MUTATORS.has(attr)) {
        // A method passed as a callback (`cb=x.append`) adds whatever the callee gives it.
        const adds = APPENDING.has(attr) ? 'always' : KEYED_INSERTS.has(attr) ? (called ? keyedInsertAdds(attr, call!) : 'varying') : undefined;
        return { kind: 'mutated', how: called ? `\`${name}.${attr}(…)\`` : `\`${name}.${attr}\``, node: called ? call! : parent, adds, clears: attr === 'clear' };
      }
      if (READERS.has(attr)) return undefined;
      return { kind: 'passed', how: called ? `calls \`${name}.${attr}(…)\`` : `hands out \`${name}.${attr}\``, node: called ? call! : parent };
    }
    case 'subscript': {
      if (!field('value')) return undefined; // used as an index: read
      const holder = parent.parent;
      const isTarget =
        ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) ||
        holder?.type === 'delete_statement';
      if (isTarget) {
        const deleted = holder!.type === 'delete_statement';
        const index = parent.childForFieldName('subscript');
        const whole = index?.type === 'slice' && index.namedChildren.filter((c) => c && c.type !== 'comment').length === 0;
        const op = deleted ? 'deleted' : holder!.child(1)?.text ?? '=';
        // `x[k] = v` adds an entry to a dict (a list's item is replaced: see itemStore); `x[k] += 1` changes one.
        const adds = deleted || op !== '=' || index?.type === 'slice' ? undefined : isConstantKey(index) ? 'constant' : 'varying';
        return { kind: 'mutated', how: `\`${name}[…] ${op} …\``, node: holder!, itemStore: true, byIndex: true, adds, clears: deleted && whole };
      }
      return undefined;
    }
    case 'return_statement':
      return { kind: 'escapes', how: 'returns it', node: parent };
    case 'yield':
      return { kind: 'escapes', how: 'yields it', node: parent };
    case 'assignment': {
      if (!field('right')) return undefined;
      const left = parent.childForFieldName('left');
      if (left && (left.type === 'attribute' || left.type === 'subscript')) return { kind: 'escapes', how: `stores it in \`${left.text}\``, node: parent };
      if (left?.type === 'identifier' && left.text === name) return undefined; // `x = x or []` rebinds
      return { kind: 'passed', how: `binds it to \`${left?.text ?? '…'}\``, node: parent };
    }
    case 'for_statement':
    case 'for_in_clause':
      return field('right') ? undefined : { kind: 'passed', how: 'uses it in a way this rule does not follow', node: parent };
    case 'keyword_argument':
    case 'argument_list': {
      const args = parent.type === 'keyword_argument' ? parent.parent : parent;
      const call = args?.parent;
      if (call?.type !== 'call') return { kind: 'passed', how: 'uses it in a way this rule does not follow', node: parent };
      const fn = call.childForFieldName('function');
      if (!fn) return undefined;
      if (fn.type === 'attribute') {
        const attr = fn.childForFieldName('attribute')?.text ?? '';
        if (STORING.has(attr)) return { kind: 'escapes', how: `stores it with \`${fn.text}(…)\``, node: call };
        if (COPYING_METHODS.has(attr)) return undefined;
      }
      const q = context.qualifiedName(fn);
      if (q && READING_CALLS.has(q)) return undefined;
      return { kind: 'passed', how: `passes it to \`${short(fn.text)}(…)\`, which may keep or change it`, node: call };
    }
    default:
      if (READ_CONTEXTS.has(parent.type)) return undefined;
      return { kind: 'passed', how: 'uses it in a way this rule does not follow', node: parent };
  }
}

/** The parameters of a def, comments left out. */
function parametersOf(def: Node): Node[] {
  return (def.childForFieldName('parameters')?.namedChildren ?? []).filter((p): p is Node => !!p && p.type !== 'comment');
}

/** The name a parameter node binds (undefined for `*`, `/`). */
function boundName(p: Node): string | undefined {
  return parameterName(p)?.text;
}

/**
 * The parameter of `def` that receives `arg` in `call` (a positional argument or a keyword
 * argument's value), or undefined when it cannot be told (`*args` before it, `**kwargs`, a
 * splat in the call).
 */
function receivingParameter(call: Node, arg: Node, def: Node, context: RuleContext): string | undefined {
  const args = call.childForFieldName('arguments');
  if (args?.type !== 'argument_list') return undefined;
  const items = args.namedChildren.filter((a): a is Node => !!a && a.type !== 'comment');
  if (items.some((a) => a.type === 'list_splat' || a.type === 'dictionary_splat')) return undefined;
  const params = parametersOf(def);
  // `self.m(x)` passes the receiver first, unless m is a static method.
  const fn = call.childForFieldName('function');
  const skip = fn?.type === 'attribute' && context.semantic.method(def)?.kind !== 'static' ? 1 : 0;
  const keyword = arg.parent?.type === 'keyword_argument' ? arg.parent : undefined;
  if (keyword) {
    const name = keyword.childForFieldName('name')?.text;
    const p = params.find((q) => q.type !== 'list_splat_pattern' && q.type !== 'dictionary_splat_pattern' && boundName(q) === name);
    return p ? name : undefined;
  }
  const index = items.filter((a) => a.type !== 'keyword_argument').findIndex((a) => a.equals(arg));
  if (index < 0) return undefined;
  let position = -skip;
  for (const p of params) {
    if (p.type === 'positional_separator') continue;
    if (p.type === 'list_splat_pattern' || p.type === 'keyword_separator' || p.type === 'dictionary_splat_pattern') return undefined;
    if (position === index) return boundName(p);
    position++;
  }
  return undefined;
}

/** The parameter binding of `name` in the scope `fn` opens. */
function parameterBinding(fn: Node, name: string, context: RuleContext) {
  return context.semantic.scopeFor(fn).bindingsOf(name).find((b) => b.kind === 'parameter');
}

/**
 * What `fn` does with its parameter `name`: every read of it found through the scopes (a nested
 * function's own `name` is another variable), and, when it is handed to another function of this
 * file, what that function does with it (followed a few calls deep).
 */
function summarize(fn: Node, name: string, keyed: boolean, context: RuleContext, visiting: Set<number>): UseSummary {
  const body = fn.childForFieldName('body');
  const binding = parameterBinding(fn, name, context);
  if (!body || !binding) return EMPTY_SUMMARY;
  const scope = binding.scope;
  const reads: Node[] = [];
  let rebound = Infinity;
  for (const id of body.descendantsOfType('identifier')) {
    if (!id || id.text !== name) continue;
    const parent = id.parent;
    if (!parent) continue;
    if (parent.type === 'attribute' && parent.childForFieldName('attribute')?.equals(id)) continue;
    if (parent.type === 'keyword_argument' && parent.childForFieldName('name')?.equals(id)) continue;
    const made = context.semantic.scopes.bindingAt(id);
    if (made) {
      // `x += …` changes the object in place (for a list); any other binding in this scope rebinds.
      if (made.kind === 'augmented' && made.scope === scope) reads.push(id);
      else if (made.scope === scope) {
        const holder = parent.type === 'assignment' && parent.childForFieldName('left')?.equals(id) ? parent : id;
        rebound = Math.min(rebound, holder.startIndex);
      }
      continue;
    }
    if (context.semantic.resolve(id).some((b) => b.node.equals(binding.node))) reads.push(id);
  }
  const uses: Use[] = [];
  let lookup = false;
  for (const id of reads) {
    if (isLookup(id, keyed)) lookup = true;
    let use = useOf(id, name, context);
    if (use?.kind === 'passed' && use.node.type === 'call') {
      const followed = throughCall(use.node, id, keyed, context, visiting);
      if (followed) {
        lookup ||= followed.lookup;
        use = followed.use;
      }
    }
    if (use && use.node.startIndex < rebound) uses.push(use);
  }
  uses.sort((a, b) => a.node.startIndex - b.node.startIndex);
  return { uses, lookup, reads };
}

/** A call that hands the parameter to a function of this file: that function's use of it. */
function throughCall(call: Node, id: Node, keyed: boolean, context: RuleContext, visiting: Set<number>): { use: Use | undefined; lookup: boolean } | undefined {
  const direct = id.parent?.type === 'argument_list' || (id.parent?.type === 'keyword_argument' && id.parent.childForFieldName('value')?.equals(id));
  if (!direct || visiting.size >= 4) return undefined;
  const def = context.semantic.calleeDefinition(call);
  if (!def || visiting.has(def.id)) return undefined;
  const param = receivingParameter(call, id, def, context);
  if (!param) return undefined;
  visiting.add(def.id);
  const inner = summarize(def, param, keyed, context, visiting);
  visiting.delete(def.id);
  const via = short(call.childForFieldName('function')?.text ?? '');
  const mutations = inner.uses.filter((u) => u.kind === 'mutated');
  const first = strongestGrowth(mutations) ?? mutations[0] ?? inner.uses.find((u) => u.kind === 'escapes') ?? inner.uses[0];
  if (!first) return { use: undefined, lookup: inner.lookup };
  if (first.kind === 'passed') return { use: { kind: 'passed', how: `passes it to \`${via}(…)\`, which ${first.how}`, node: call }, lookup: inner.lookup };
  const itemStore = inner.uses.some((u) => u.itemStore);
  const clears = inner.uses.some((u) => u.clears);
  return { use: { ...first, node: call, via: first.via ? `${via}(…)\` → \`${first.via}` : via, itemStore, clears }, lookup: inner.lookup };
}

/** The mutation that adds the most: one on every call, then one under a key from the call, then one under a fixed key. */
function strongestGrowth(uses: Use[]): Use | undefined {
  return uses.find((u) => u.adds === 'always') ?? uses.find((u) => u.adds === 'varying') ?? uses.find((u) => u.adds === 'constant');
}

/**
 * A value the default reads when the function is defined, which the guard would read at call
 * time instead: a name of a function or class scope (`lnum=[lnum]`), a module name bound more than
 * once, or a call of a function of the file (`[factory()]`). Builtins, names bound once at module
 * level and the default's own comprehension variables are read the same either way.
 */
function capturedValue(value: Node, context: RuleContext): string | undefined {
  const v = unparenthesize(value);
  const within = (n: Node, outer: Node) => n.startIndex >= outer.startIndex && n.endIndex <= outer.endIndex;
  const factory = v.type === 'call' ? v.childForFieldName('function') : null;
  for (const id of v.descendantsOfType('identifier')) {
    if (!id || (factory && within(id, factory))) continue;
    const p = id.parent;
    if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) continue;
    if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
    if (context.semantic.isBinding(id)) continue;
    const bindings = context.semantic.resolve(id);
    if (bindings.length === 0) continue; // a builtin (or a name this file does not bind)
    if (bindings.some((b) => within(b.node, v))) continue; // the default's own comprehension variable
    const callee =
      p?.type === 'call' && p.childForFieldName('function')?.equals(id) ? p
      : p?.type === 'attribute' && p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p) ? p.parent
      : undefined;
    if (callee) return `${short(callee.childForFieldName('function')?.text ?? id.text)}()`;
    if (bindings.length > 1 || bindings.some((b) => b.scope.kind !== 'module')) return id.text;
  }
  return undefined;
}

/**
 * Is the default deliberate state? A counter or memo kept in it between calls, directly or through
 * a function of the file it is handed to: items stored into a default that starts with content
 * (`[0, 0]`), or a container that is both looked up (`k in x`, `x.get(k)`, `x[k]`) and changed;
 * in either case never handed out of the function.
 */
function keepsState(value: Node, summary: UseSummary): Use | undefined {
  const mutated = summary.uses.filter((u) => u.kind === 'mutated');
  // A default handed out (returned, stored) is shared with callers, not state private to the function.
  if (mutated.length === 0 || summary.uses.some((u) => u.kind === 'escapes')) return undefined;
  const v = unparenthesize(value);
  const filled = (v.type === 'list' || v.type === 'dictionary' || v.type === 'set') && v.namedChildren.some((c) => c && c.type !== 'comment');
  const itemStore = mutated.find((u) => u.itemStore);
  if (filled && itemStore) return itemStore;
  return summary.lookup ? mutated[0] : undefined;
}

/** Does the default make an empty container (so that it is false, like None)? */
function isEmptyDefault(value: Node, context: RuleContext): boolean {
  const v = unparenthesize(value);
  if (v.type === 'list' || v.type === 'dictionary' || v.type === 'set') return !v.namedChildren.some((c) => c && c.type !== 'comment');
  if (v.type !== 'call') return false;
  const args = (v.childForFieldName('arguments')?.namedChildren ?? []).filter((a) => a && a.type !== 'comment');
  if (args.length === 0) return true;
  const name = context.qualifiedName(v.childForFieldName('function')!);
  // `defaultdict(list)`: the factory argument adds no items.
  return name === 'collections.defaultdict' && args.length === 1 && args[0]!.type !== 'keyword_argument';
}

/** Is this read only tested for truth, or the left side of `or` (where None and an empty container give the same)? */
function truthOnly(id: Node, context: RuleContext): boolean {
  let node: Node = id;
  for (;;) {
    const parent = node.parent;
    if (!parent) return false;
    switch (parent.type) {
      case 'parenthesized_expression':
        node = parent;
        continue;
      case 'not_operator':
        return true;
      case 'boolean_operator':
        // `x or y` is y for None and for an empty container; `x and y` is x itself: its use decides.
        if (parent.childForFieldName('operator')?.type === 'or' && parent.childForFieldName('left')?.equals(node)) return true;
        node = parent;
        continue;
      case 'if_statement':
      case 'elif_clause':
      case 'while_statement':
        return !!parent.childForFieldName('condition')?.equals(node);
      case 'conditional_expression':
        return !!parent.namedChild(1)?.equals(node);
      case 'if_clause':
        return true;
      case 'assert_statement':
        return !!parent.namedChild(0)?.equals(node);
      case 'argument_list': {
        const call = parent.parent;
        const fn = call?.type === 'call' ? call.childForFieldName('function') : null;
        return !!fn && context.qualifiedName(fn) === 'bool' && parent.namedChildCount === 1;
      }
      default:
        return false;
    }
  }
}

/** The argument a call passes for a parameter: a node, 'omitted', or 'unknown' (splats). */
function argumentFor(call: Node, index: number, name: string): Node | 'omitted' | 'unknown' {
  const args = call.childForFieldName('arguments');
  if (!args) return 'unknown';
  if (args.type !== 'argument_list') return index === 0 ? args : 'omitted'; // `f(x for x in y)`
  const items = args.namedChildren.filter((a): a is Node => !!a && a.type !== 'comment');
  if (items.some((a) => a.type === 'list_splat' || a.type === 'dictionary_splat')) return 'unknown';
  const keyword = items.find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === name);
  if (keyword) return keyword.childForFieldName('value') ?? 'unknown';
  const positional = items.filter((a) => a.type !== 'keyword_argument');
  return index >= 0 && index < positional.length ? positional[index] : 'omitted';
}

/**
 * Can no caller pass None for this parameter? True for a function nested in another function's
 * body that never escapes (every reference to it is a direct call) and whose every call leaves the
 * parameter out or passes an expression that is never None.
 */
function noCallerPassesNone(fn: Node, param: Node, name: string, context: RuleContext): boolean {
  const holder = fn.parent;
  const outer = holder?.type === 'block' ? holder.parent : null;
  const fname = fn.childForFieldName('name');
  const outerBody = outer?.type === 'function_definition' ? outer.childForFieldName('body') : null;
  if (!outer || !fname || !outerBody) return false;
  const outerScope = context.semantic.scopeFor(outer);
  const bindings = outerScope.bindingsOf(fname.text);
  if (bindings.length !== 1 || bindings[0].kind !== 'function' || !outerScope.isLocal(fname.text)) return false;
  let index = 0;
  for (const p of parametersOf(fn)) {
    if (p.equals(param)) break;
    if (p.type === 'positional_separator') continue;
    if (p.type === 'list_splat_pattern' || p.type === 'keyword_separator' || p.type === 'dictionary_splat_pattern') {
      index = -1; // keyword-only
      break;
    }
    index++;
  }
  for (const id of outerBody.descendantsOfType('identifier')) {
    if (!id || id.text !== fname.text || id.equals(fname)) continue;
    const p = id.parent;
    if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) continue;
    if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
    if (context.semantic.isBinding(id)) return false;
    if (!context.semantic.resolve(id).some((b) => b.node.equals(bindings[0].node))) continue;
    if (p?.type !== 'call' || !p.childForFieldName('function')?.equals(id)) return false; // it escapes
    const arg = argumentFor(p, index, name);
    if (arg === 'unknown') return false;
    if (arg !== 'omitted' && !NEVER_NONE.has(unparenthesize(arg).type)) return false;
  }
  return true;
}

/**
 * Does `None` + guard keep what an explicit None argument did? Either None already behaved like
 * the (empty) default, because the body only tests the parameter for truth, or no caller can pass
 * None.
 */
function keepsNoneContract(fn: Node, param: Node, value: Node, name: string, summary: UseSummary, context: RuleContext): boolean {
  if (isEmptyDefault(value, context) && summary.reads.every((r) => truthOnly(r, context))) return true;
  return noCallerPassesNone(fn, param, name, context);
}

function short(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 30 ? one.slice(0, 27) + '…' : one;
}

/** Top-level parts of `A | B` or of the items of `Union[A, B]` (brackets and strings respected). */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** Does the annotation admit None as it stands? `Any`, `object`, `Optional[T]`, `T | None`, `Union[T, None]`. */
function isAlreadyOptional(annotation: string): boolean {
  const a = annotation.trim();
  if (/^(typing\.|t\.)?(Any|object)$/.test(a) || /^(typing\.|t\.)?Optional\[/.test(a)) return true;
  if (splitTopLevel(a, '|').includes('None')) return true;
  const union = /^(typing\.|t\.)?Union\[([\s\S]*)\]$/.exec(a);
  return !!union && splitTopLevel(union[2], ',').includes('None');
}

/** The spelling of `typing.Optional` to use, and the import to add when the file has none. */
function optionalSpelling(context: RuleContext): { name: string; importEdit?: OffsetEdit } {
  const optional = context.localNameFor('typing.Optional');
  if (optional) return { name: optional };
  const typing = context.localNameFor('typing');
  if (typing) return { name: `${typing}.Optional` };
  return { name: 'Optional', importEdit: addImportEdit(context.root, context.text, 'from typing import Optional') };
}

/** Edits that make the annotation admit None, by target version; `needsOptional` says when the Optional import is used. */
function annotationEdits(param: Node, context: RuleContext, optional: () => string): OffsetEdit[] {
  const type = param.childForFieldName('type');
  if (!type) return [];
  const expr = type.namedChild(0) ?? type;
  // Only annotations that name a type are rewritten (`c: 1 = {}` is legal Python, not a type).
  if (!TYPE_EXPRESSIONS.has(expr.type)) return [];
  const stringAnnotation = expr.type === 'string';
  const inner = stringAnnotation ? expr.text.slice(1, -1) : type.text;
  if (isAlreadyOptional(inner)) return [];
  const { major, minor } = context.options.targetVersion;
  const modern = major > 3 || (major === 3 && minor >= 10);
  if (modern) {
    if (stringAnnotation) return [{ start: expr.endIndex - 1, end: expr.endIndex - 1, text: ' | None' }];
    return [{ start: type.endIndex, end: type.endIndex, text: ' | None' }];
  }
  // Older targets: Optional[T], reusing an existing spelling of typing.Optional when there is one.
  if (stringAnnotation) return [{ start: expr.startIndex + 1, end: expr.endIndex - 1, text: `${optional()}[${inner}]` }];
  return [{ start: type.startIndex, end: type.endIndex, text: `${optional()}[${type.text}]` }];
}

/** Names of the parameters that precede `param` in its list. */
function earlierParameters(param: Node): Set<string> {
  const names = new Set<string>();
  for (const p of param.parent?.namedChildren ?? []) {
    if (!p || p.equals(param)) break;
    const n = p.type === 'identifier' ? p.text : p.childForFieldName('name')?.text ?? p.namedChild(0)?.text;
    if (n) names.add(n);
  }
  return names;
}

function isNoneGuardFor(stmt: Node, names: Set<string>): boolean {
  if (stmt.type !== 'if_statement') return false;
  const m = /^(\w+)\s+is\s+None$/.exec(stmt.childForFieldName('condition')?.text ?? '');
  return !!m && names.has(m[1]);
}

/** One parameter the rule would fix. */
interface Candidate {
  param: Node;
  value: Node;
  name: string;
  /** Calls share the object through mutations or escapes the fix would end. */
  shares: boolean;
  /** An explicit None argument would behave differently after the fix. */
  changesNone: boolean;
}

/**
 * The fix for a group of parameters of one def (in parameter order): each default becomes None,
 * each annotation admits None, and one block of guards goes at the top of the body. All the
 * defaults of a def that one fix-all pass would fix share one fix, so that their guards (inserted
 * at the same place) never conflict and fix-all converges in one pass per def.
 */
function guardFix(fn: Node, group: Candidate[], context: RuleContext): Fix | undefined {
  const body = fn.childForFieldName('body');
  const colon = body?.previousSibling;
  if (!body || !colon || group.length === 0) return undefined;
  const { text } = context;
  const nl = lineBreakOf(text);
  const unit = indentUnit(text, context.root);
  let spelling: { name: string; importEdit?: OffsetEdit } | undefined;
  const optional = () => (spelling ??= optionalSpelling(context)).name;
  const edits: OffsetEdit[] = [];
  for (const c of group) edits.push({ start: c.value.startIndex, end: c.value.endIndex, text: 'None' }, ...annotationEdits(c.param, context, optional));
  if (spelling?.importEdit) edits.push(spelling.importEdit);
  const statements = statementsOf(body);
  const guards = (indent: string) =>
    group.map((c) => `${indent}if ${c.name} is None:${nl}${indent}${unit}${c.name} = ${c.value.text}`).join(nl);
  const oneLine = text.slice(colon.endIndex, body.startIndex).indexOf('\n') === -1;
  if (oneLine) {
    // `def f(x=[]): return x` becomes a block; a docstring stays first.
    const indent = indentOfLine(text, fn.startIndex) + unit;
    const lines: string[] = [];
    let rest = statements[0] ? text.slice(statements[0].startIndex, body.endIndex) : '';
    if (isDocstring(statements[0])) {
      lines.push(indent + statements[0].text);
      rest = text.slice(statements[0].endIndex, body.endIndex).replace(/^\s*;?\s*/, '');
    }
    lines.push(guards(indent));
    if (rest) lines.push(indent + rest);
    edits.push({ start: colon.endIndex, end: body.endIndex, text: nl + lines.join(nl) });
  } else {
    const earlier = earlierParameters(group[0].param);
    let anchor: Node | undefined;
    let i = 0;
    if (isDocstring(statements[0])) anchor = statements[i++];
    while (i < statements.length && isNoneGuardFor(statements[i], earlier)) anchor = statements[i++];
    const indent = indentOfLine(text, (statements[0] ?? body).startIndex);
    if (anchor) {
      const eol = text.indexOf('\n', anchor.endIndex);
      const at = eol === -1 ? text.length : text[eol - 1] === '\r' ? eol - 1 : eol;
      edits.push({ start: at, end: at, text: nl + guards(indent) });
    } else {
      const first = statements[0];
      const at = text.lastIndexOf('\n', first.startIndex - 1) + 1;
      edits.push({ start: at, end: at, text: guards(indent) + nl });
    }
  }
  const names = group.map((c) => `\`${c.name}\``).join(', ');
  const changes: string[] = [];
  if (group.some((c) => c.shares)) changes.push('calls stop sharing one object');
  if (group.some((c) => c.changesNone)) changes.push('an explicit None then gets the default too');
  const title = `Replace the mutable default${group.length > 1 ? 's' : ''} of ${names} with None${changes.length ? ` (${changes.join('; ')})` : ''}`;
  return { title, safety: changes.length ? 'unsafe' : 'safe', edits };
}

interface Pending {
  candidate?: Candidate;
  report: { node: Node; message: string; related: Array<{ start: number; end: number; message: string }>; confidence?: 'low' };
}

export const rule: Rule = {
  code: 'LL201',
  name: 'mutable-default-argument',
  category: 'mutable-defaults',
  defaultSeverity: 'warning',
  locality: 'function',
  query: `
    (default_parameter value: (_) @value) @param
    (typed_default_parameter value: (_) @value) @param
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const pending: Pending[] = [];
    const byDef = new Map<number, { fn: Node; candidates: Candidate[] }>();
    for (const match of matches) {
      const param = match.captures.find((c) => c.name === 'param')!.node;
      const value = match.captures.find((c) => c.name === 'value')!.node;
      if (!isMutableDefault(value, context)) continue;
      const fn = param.parent?.parent;
      const name = param.childForFieldName('name')?.text;
      if (!fn || !name) continue;
      const shown = short(value.text);
      if (fn.type === 'lambda') {
        // A lambda's uses are not followed: a shared-default hazard of unknown effect.
        pending.push({ report: { node: value, message: `Mutable default \`${shown}\` of lambda parameter \`${name}\` is created once and shared by every call (a shared-default hazard; this rule does not follow lambda bodies)`, related: [], confidence: 'low' } });
        continue;
      }
      if (fn.type !== 'function_definition') continue;
      const captured = capturedValue(value, context);
      const summary = summarize(fn, name, isKeyed(value, context), context, new Set([fn.id]));
      const { uses } = summary;
      const state = captured ? undefined : keepsState(value, summary);
      // Growth: a mutation that adds to the object (on a list, `x[i] = v` replaces an item instead).
      const sequence = isSequenceDefault(value, context);
      const growth = strongestGrowth(uses.filter((u) => u.kind === 'mutated' && !(sequence && u.byIndex)));
      const emptied = uses.find((u) => u.clears);
      // Handed out: returned, stored, or passed to a call that may keep it (`super().__reduce__(args, kwargs)`).
      const escape = uses.find((u) => u.kind === 'escapes') ?? uses.find((u) => u.kind === 'passed' && u.node.type === 'call');
      // Confident only when calls make the shared object grow (by items every call, or entries
      // under keys from the call), or change it under fixed keys while handing it out, and the
      // function never empties it; deliberate state and everything else is a shared-default
      // hazard, reported with low confidence.
      const confident = !captured && !state && !emptied && !!growth && (growth.adds !== 'constant' || !!escape);
      const use = state ?? growth ?? uses.find((u) => u.kind === 'mutated') ?? uses[0];
      const through = use?.via ? ` through \`${use.via}(…)\`` : '';
      let message: string;
      const head = `Mutable default \`${shown}\` of \`${name}\` is created once and shared by every call`;
      const hazard = 'a shared-default hazard, not a growing leak';
      if (captured) {
        message = `${head}, and it captures \`${captured}\` when the function is defined: it looks like deliberate state, so no fix is offered`;
      } else if (state) {
        message = `${head}, and the function keeps state in it between calls (${state.how}${through}): if that is deliberate, keep it; no fix is offered`;
      } else if (confident && growth!.adds !== 'constant') {
        message = `${head}, and the function grows it${through} (${growth!.how}) and never empties it: every call that leaves the argument out adds to the same object, which lives as long as the function`;
      } else if (confident) {
        message = `${head}, and the function changes it${through} (${growth!.how}) and ${escape!.how}: every call that leaves the argument out changes the same object, and whoever holds it sees the changes of later calls`;
      } else if (growth && emptied) {
        message = `${head}, and the function adds to it${through} (${growth.how}) but also clears it (${emptied.how}): what one call adds, the next removes, so it does not grow across calls (${hazard})`;
      } else if (growth) {
        message = `${head}, and the function changes it${through} (${growth.how}) under keys written in the code: every later call sees the change, but it does not grow across calls (${hazard})`;
      } else if (use?.kind === 'mutated') {
        message = `${head}, and the function changes it${through} (${use.how}): every later call sees the change, though nothing makes it grow (${hazard})`;
      } else if (use?.kind === 'escapes') {
        message = `${head}, and the function ${use.how}${through}: this function does not grow it, but code that changes it there changes the shared default (${hazard} as far as this file shows)`;
      } else if (use) {
        message = `${head}, and the function ${use.how}: whatever happens to it there is shared by every later call; this rule sees no growth (a shared-default hazard)`;
      } else {
        message = `${head}; the function only reads it, so it does not grow (${hazard}): default to None and create it in the body`;
      }
      const related = use ? [{ start: use.node.startIndex, end: use.node.endIndex, message: use.kind === 'mutated' ? `\`${name}\` is mutated here` : use.kind === 'escapes' ? `\`${name}\` escapes here` : `\`${name}\` is used here` }] : [];
      const entry: Pending = { report: { node: value, message, related, ...(confident ? {} : { confidence: 'low' as const }) } };
      if (!captured && !state) {
        const candidate: Candidate = { param, value, name, shares: !!use, changesNone: !keepsNoneContract(fn, param, value, name, summary, context) };
        entry.candidate = candidate;
        const group = byDef.get(fn.id) ?? { fn, candidates: [] };
        group.candidates.push(candidate);
        byDef.set(fn.id, group);
      }
      pending.push(entry);
    }
    for (const entry of pending) {
      const c = entry.candidate;
      let fix: Fix | undefined;
      if (c) {
        const { fn, candidates } = byDef.get(c.param.parent!.parent!.id)!;
        const safe = (x: Candidate) => !x.shares && !x.changesNone;
        // A safe fix takes the def's other safe defaults along; an unsafe one takes every default.
        const group = safe(c) ? candidates.filter(safe) : candidates;
        fix = guardFix(fn, [...group].sort((a, b) => a.param.startIndex - b.param.startIndex), context);
      }
      context.report({ ...entry.report, fixes: fix ? [fix] : [] });
    }
  },
  docs: {
    summary: 'A parameter default that builds a mutable object once, at definition time.',
    whatItDoes:
      'Flags parameter defaults that create a mutable object: `[]`, `{}`, `set()`, `list()`, `dict()`, `bytearray()`, list/dict/set comprehensions and `collections.defaultdict/OrderedDict/deque/Counter(...)`, in `def`, `async def` and `lambda`.\n\n' +
      'A finding is **confident** (reported by default) only when the function makes the shared object grow across calls and never empties it: it adds an item on every call (`x.append(v)`, `x.extend(v)`, `x.insert(i, v)`, `x += [...]`), or an entry under a key that comes from the call (`x[key] = v`, `x.add(v)`, `x.update(other)`, `x.setdefault(key, v)`), itself or through a function of the same file it hands the default to; or it changes it under keys written in the code (`x["k"] = v`, `x.update(k=v)`) while also handing it out (returning or storing it), so that every holder sees the changes of later calls.\n\n' +
      'Everything else is a shared-default hazard rather than a growing leak and is reported with **low confidence** (only with `all-findings`, one severity lower; the fix is the same): a default that is only read, iterated or copied (`len(x)`, `for v in x`, `other.extend(x)`, `d.update(x)`, `[*x]`); one that is stored, returned or passed to a function the rule does not follow, with no growth in this function; changes that add nothing (`pop`, `remove`, `sort`, `x[0] = v` on a list) or only under keys written in the code; a function that also empties it (`x.clear()`, `del x[:]`), so that what one call adds the next removes; deliberate state (a counter or memo kept in it, a value captured when the function is defined); and lambdas, whose bodies the rule does not follow. The message says which of these it is and never calls a default that is only read or copied a growing one.',
    whyLeak:
      'Python evaluates a default once, when the `def` runs, and every call that omits the argument receives that same object. When the function appends to it or adds entries under keys from its arguments, the object grows with every call and is never freed: it lives as long as the function does, usually for the whole process. A default that is only read never grows; sharing it is harmless until some code changes it, which is why such findings are of low confidence.',
    example: 'def remember(item, seen=[]):\n    seen.append(item)\n    return len(seen)\n',
    useInstead: 'def remember(item, seen=None):\n    if seen is None:\n        seen = []\n    seen.append(item)\n    return len(seen)\n',
    fixSafety:
      'The fix replaces the default with `None` and inserts `if x is None: x = <default>` at the top of the body (after the docstring, after the guards already there; one guard per parameter, in parameter order). The defaults of one def are fixed together: a safe fix takes the def\'s other safely fixable defaults along, an unsafe fix all of them, so that their guards never compete for the same place and fix-all needs one pass per def.\n\n' +
      'It is **safe** only when every call keeps its behaviour, which takes two things. First, calls must not share the object: every use of the default is a read the rule knows (`len`, `sorted`, iteration, `in`, indexing, `*x`, being copied by `other.extend(x)` or `d.update(x)`, read-only methods such as `get` or `items`, being passed to a function of the same file that only reads it). Second, an explicit `None` argument must keep its meaning. Before the fix, `f(None)` runs the body with `None`, which often raises `TypeError` (`xml.etree.ElementTree.Element(tag, None)`, `getopt.getopt(args, opts, None)`) or takes a `None` branch; after it, `None` means "use the default", so a call that failed succeeds quietly and a body that treats `None` apart behaves differently. The rule keeps the fix safe only where that cannot happen: the default is an empty container and the body only tests the parameter for truth (`if x:`, `not x`, `x or y`, `x and y` in a condition, `bool(x)`), where `None` and an empty container give the same result; or the function is nested in another function, never escapes it (every reference is a direct call) and every call leaves the parameter out or passes a literal that is not `None`. Everywhere else, in particular for every public function whose default is only read, the fix is **unsafe** and its title ends with "an explicit None then gets the default too". We chose this over a private sentinel (`_MISSING = object()`): a sentinel keeps the contract but puts a meaningless object into every signature and `help()`, makes the annotation wrong (`x: dict = _MISSING`), and is not the idiom readers expect; the `None` form is, and where it changes the contract the user decides.\n\n' +
      'The fix is also unsafe when the function mutates the default (`append`, `pop`, `clear`, `x[k] = v`, `+=`, a mutating method passed as a callback, or any of these inside a function of the same file it passes the default to), lets it escape (returns, yields or stores it), binds it to another name, passes it to a function that may keep or change it, or calls a method the rule does not know: code may rely on the shared object, and the title says "calls stop sharing one object".\n\n' +
      'No fix is offered when the default is deliberate state. (1) It reads a value when the function is defined that the guard would read at call time instead: a variable of an enclosing function or class (`def reader(lnum=[lnum])`), a module-level name bound more than once, or a call of a function of the file (`x=[factory()]`); builtins, module names bound once and the default\'s own comprehension variables are read the same either way. (2) The function keeps a counter or memo in it between calls, itself or through a function of the same file it hands the default to, and never hands it out: items stored into a default that starts with content (`num_lines=[0, 0]` reset and counted on every call), or a container both looked up (`k in x`, `x.get(k)`, `x[k]` of a dict) and changed (`memo`, `_seen`). Uses are found through the semantic model\'s scopes and bindings: a nested function\'s own parameter or a comprehension variable of the same name is another variable, and a read inside a nested function is a use.\n\n' +
      'Known behaviour change of the unsafe fix, measured by `npm run fix-semantics -- --select LL201` on Python 3.11\'s standard library (docs/fix-semantics.md): one test case, `test_xml_etree` `test_39495_treebuilder_start`, which checks that `TreeBuilder().start("tag", None)` raises `TypeError`: it calls `Element(tag, None)`, and with `attrib=None` + guard in `Element.__init__` an explicit `None` becomes `{}` instead of failing `isinstance(attrib, dict)`. The pure-Python module then disagrees with its C accelerator for an explicit `None`; that is the "explicit None" change the title names.\n\n' +
      'An annotation becomes `T | None` for target versions 3.10 and later, or `Optional[T]` (with the import added once per fix) before 3.10, whatever it contains (`Dict[str, Any]` → `Optional[Dict[str, Any]]`, `dict[str, Any]` → `dict[str, Any] | None`, string annotations inside the quotes); annotations that already admit None (`Any`, `object`, `Optional[T]`, `T | None`, `Union[T, None]`) are left alone. One-line bodies become blocks. Lambdas get no fix.',
    options: '`target-version` decides how annotations are rewritten.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#function-definitions',
      'https://docs.python.org/3/tutorial/controlflow.html#default-argument-values',
    ],
  },
};
