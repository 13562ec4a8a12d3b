// LL201 mutable-default-argument: a default built once at definition time and shared by calls.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { addImportEdit } from '../imports';
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
    case 'augmented_assignment':
      if (field('left')) return { kind: 'mutated', how: `\`${name} ${parent.child(1)?.text ?? '+='} …\``, node: parent };
      return undefined;
    case 'attribute': {
      if (!direct || !field('object')) return undefined;
      const attr = parent.childForFieldName('attribute')?.text ?? '';
      const call = parent.parent;
      const called = call?.type === 'call' && call.childForFieldName('function')?.equals(parent);
      const holder = parent.parent;
      if ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) {
        return { kind: 'mutated', how: `\`${parent.text} = …\``, node: holder };
      }
      if (MUTATORS.has(attr)) return { kind: 'mutated', how: called ? `\`${name}.${attr}(…)\`` : `\`${name}.${attr}\``, node: called ? call! : parent };
      if (READERS.has(attr)) return undefined;
      return { kind: 'passed', how: called ? `calls \`${name}.${attr}(…)\`` : `hands out \`${name}.${attr}\``, node: called ? call! : parent };
    }
    case 'subscript': {
      if (!field('value')) return undefined; // used as an index: read
      const holder = parent.parent;
      const isTarget =
        ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) ||
        holder?.type === 'delete_statement';
      if (isTarget) return { kind: 'mutated', how: `\`${name}[…] ${holder!.type === 'delete_statement' ? 'deleted' : holder!.child(1)?.text ?? '='} …\``, node: holder!, itemStore: true };
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

/** Every mutation, escape or unfollowed use of `name` in the function body, before it is rebound. */
function usesOf(body: Node, name: string, context: RuleContext): Use[] {
  let rebound = Infinity;
  const uses: Use[] = [];
  for (const id of body.descendantsOfType('identifier')) {
    if (!id || id.text !== name) continue;
    const parent = id.parent;
    if (!parent) continue;
    if (parent.type === 'attribute' && parent.childForFieldName('attribute')?.equals(id)) continue;
    if (parent.type === 'keyword_argument' && parent.childForFieldName('name')?.equals(id)) continue;
    if (parent.type === 'assignment' && parent.childForFieldName('left')?.equals(id)) {
      rebound = Math.min(rebound, parent.startIndex);
      continue;
    }
    const use = useOf(id, name, context);
    if (use) uses.push(use);
  }
  return uses.filter((u) => u.node.startIndex < rebound).sort((a, b) => a.node.startIndex - b.node.startIndex);
}

const FACTORY_NAMES = new Set(['list', 'dict', 'set', 'int', 'str', 'float', 'tuple', 'bytes', 'bytearray', 'frozenset', 'object', 'bool']);

/** A variable the default captures at definition time (`lnum=[lnum]`): the guard would read it later. */
function capturedName(value: Node): Node | undefined {
  for (const id of value.descendantsOfType('identifier')) {
    if (!id) continue;
    const p = id.parent;
    if (p?.type === 'attribute' && !p.childForFieldName('object')?.equals(id)) continue;
    if (p?.type === 'call' && p.childForFieldName('function')?.equals(id)) continue;
    if (p?.type === 'attribute' && p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p)) continue;
    if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
    if (FACTORY_NAMES.has(id.text)) continue;
    if (p?.type === 'for_in_clause' || value.descendantsOfType('for_in_clause').length > 0) continue; // comprehension variables
    return id;
  }
  return undefined;
}

/**
 * Is the default deliberate state? A counter or memo kept in it between calls: items stored into a
 * default that starts with content, or a dict the function both looks up and fills by key.
 */
function keepsState(value: Node, body: Node, name: string, uses: Use[]): Use | undefined {
  const itemStore = uses.find((u) => u.itemStore && u.kind === 'mutated');
  if (!itemStore) return undefined;
  const v = unparenthesize(value);
  if ((v.type === 'list' || v.type === 'dictionary' || v.type === 'set') && v.namedChildren.some((c) => c && c.type !== 'comment')) return itemStore;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const looksUp = new RegExp(`\\bin\\s+${escaped}\\b|\\b${escaped}\\s*\\.\\s*get\\s*\\(|\\breturn\\s+${escaped}\\s*\\[`).test(body.text);
  return looksUp ? itemStore : undefined;
}

function short(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 30 ? one.slice(0, 27) + '…' : one;
}

function parameterName(param: Node): string | undefined {
  return param.childForFieldName('name')?.text;
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

/** Edits that make the annotation admit None, by target version. */
function annotationEdits(param: Node, context: RuleContext): OffsetEdit[] {
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
  const edits: OffsetEdit[] = [];
  let optional = context.localNameFor('typing.Optional');
  if (!optional) {
    const typing = context.localNameFor('typing');
    if (typing) optional = `${typing}.Optional`;
    else {
      optional = 'Optional';
      edits.push(addImportEdit(context.root, context.text, 'from typing import Optional'));
    }
  }
  if (stringAnnotation) edits.push({ start: expr.startIndex + 1, end: expr.endIndex - 1, text: `${optional}[${inner}]` });
  else edits.push({ start: type.startIndex, end: type.endIndex, text: `${optional}[${type.text}]` });
  return edits;
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

function guardFix(fn: Node, param: Node, value: Node, name: string, safe: boolean, context: RuleContext): Fix | undefined {
  const body = fn.childForFieldName('body');
  const colon = body?.previousSibling;
  if (!body || !colon) return undefined;
  const { text } = context;
  const nl = lineBreakOf(text);
  const unit = indentUnit(text, context.root);
  const edits: OffsetEdit[] = [{ start: value.startIndex, end: value.endIndex, text: 'None' }, ...annotationEdits(param, context)];
  const statements = statementsOf(body);
  const guard = (indent: string) => `${indent}if ${name} is None:${nl}${indent}${unit}${name} = ${value.text}`;
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
    lines.push(guard(indent));
    if (rest) lines.push(indent + rest);
    edits.push({ start: colon.endIndex, end: body.endIndex, text: nl + lines.join(nl) });
  } else {
    const earlier = earlierParameters(param);
    let anchor: Node | undefined;
    let i = 0;
    if (isDocstring(statements[0])) anchor = statements[i++];
    while (i < statements.length && isNoneGuardFor(statements[i], earlier)) anchor = statements[i++];
    const indent = indentOfLine(text, (statements[0] ?? body).startIndex);
    if (anchor) {
      const eol = text.indexOf('\n', anchor.endIndex);
      const at = eol === -1 ? text.length : text[eol - 1] === '\r' ? eol - 1 : eol;
      edits.push({ start: at, end: at, text: nl + guard(indent) });
    } else {
      const first = statements[0];
      const at = text.lastIndexOf('\n', first.startIndex - 1) + 1;
      edits.push({ start: at, end: at, text: guard(indent) + nl });
    }
  }
  return { title: `Replace the mutable default of \`${name}\` with None`, safety: safe ? 'safe' : 'unsafe', edits };
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
    for (const match of matches) {
      const param = match.captures.find((c) => c.name === 'param')!.node;
      const value = match.captures.find((c) => c.name === 'value')!.node;
      if (!isMutableDefault(value, context)) continue;
      const fn = param.parent?.parent;
      const name = parameterName(param);
      if (!fn || !name) continue;
      const shown = short(value.text);
      if (fn.type === 'lambda') {
        context.report({ node: value, message: `Mutable default \`${shown}\` of lambda parameter \`${name}\` is created once and shared by every call` });
        continue;
      }
      if (fn.type !== 'function_definition') continue;
      const body = fn.childForFieldName('body');
      const uses = body ? usesOf(body, name, context) : [];
      const captured = capturedName(value);
      const state = body && !captured ? keepsState(value, body, name, uses) : undefined;
      const use = state ?? uses.find((u) => u.kind === 'mutated') ?? uses[0];
      let message: string;
      const head = `Mutable default \`${shown}\` of \`${name}\` is created once and shared by every call`;
      if (captured) {
        message = `${head}, and it captures \`${captured.text}\` when the function is defined: it looks like deliberate state, so no fix is offered`;
      } else if (state) {
        message = `${head}, and the function keeps state in it between calls (${state.how}): if that is deliberate, keep it; no fix is offered`;
      } else if (use?.kind === 'mutated') {
        const grows = !use.itemStore || unparenthesize(value).type !== 'list';
        message = `${head}, and the function mutates it (${use.how})${grows ? ': it grows across calls' : ': the change is seen by every later call'}`;
      } else if (use?.kind === 'escapes') {
        message = `${head}, and the function ${use.how}: callers can grow it across calls`;
      } else if (use) {
        message = `${head}, and the function ${use.how}: whatever happens to it there is shared by every later call`;
      } else {
        message = `${head}; default to None and create it in the body`;
      }
      const related = use ? [{ start: use.node.startIndex, end: use.node.endIndex, message: use.kind === 'mutated' ? `\`${name}\` is mutated here` : use.kind === 'escapes' ? `\`${name}\` escapes here` : `\`${name}\` is used here` }] : [];
      const fix = captured || state ? undefined : guardFix(fn, param, value, name, !use, context);
      context.report({ node: value, message, related, fixes: fix ? [fix] : [] });
    }
  },
  docs: {
    summary: 'A parameter default that builds a mutable object once, at definition time.',
    whatItDoes:
      'Flags parameter defaults that create a mutable object: `[]`, `{}`, `set()`, `list()`, `dict()`, `bytearray()`, list/dict/set comprehensions and `collections.defaultdict/OrderedDict/deque/Counter(...)`, in `def`, `async def` and `lambda`. The message says whether the function mutates the default or lets it escape.',
    whyLeak:
      'Python evaluates a default once, when the `def` runs, and every call that omits the argument receives that same object. When the function appends to it, updates it or hands it out, the object grows with every call and is never freed: it lives as long as the function does, usually for the whole process.',
    example: 'def remember(item, seen=[]):\n    seen.append(item)\n    return len(seen)\n',
    useInstead: 'def remember(item, seen=None):\n    if seen is None:\n        seen = []\n    seen.append(item)\n    return len(seen)\n',
    fixSafety:
      'The fix replaces the default with `None` and inserts `if x is None: x = <default>` at the top of the body (after the docstring; one guard per parameter, in parameter order). It is marked safe when every use of the default in the body is a read the rule knows (`len`, `sorted`, iteration, `in`, indexing, `*x`, being copied by `other.extend(x)` or `d.update(x)`, read-only methods such as `get` or `items`); it is unsafe when the function mutates the default (`append`, `pop`, `clear`, `x[k] = v`, `+=`, a mutating method passed as a callback), lets it escape (returns, yields or stores it), binds it to another name, passes it to another function (which may change or keep it), or calls a method the rule does not know. No fix is offered when the default is deliberate state: it captures a variable when the function is defined (`lnum=[lnum]`), or the function keeps a counter or memo in it (items stored into a default that starts with content, or a dict looked up and filled by key). Known behaviour change of the safe fix, measured by `npm run fix-semantics`: an explicit `None` argument, which used to reach the body as `None` (often raising `TypeError`), now gets a new default object — `xml.etree.ElementTree.Element(tag, None)` stops raising. An annotation becomes `T | None` for target versions 3.10 and later, or `Optional[T]` (with the import added) before 3.10; annotations that already admit None (`Any`, `object`, `Optional[T]`, `T | None`, `Union[T, None]`) are left alone, while `Dict[str, Any]` is rewritten. One-line bodies become blocks. Lambdas get no fix.',
    options: '`target-version` decides how annotations are rewritten.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#function-definitions',
      'https://docs.python.org/3/tutorial/controlflow.html#default-argument-values',
    ],
  },
};
