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
const MUTATORS = new Set(['append', 'extend', 'insert', 'add', 'update', 'setdefault']);

interface Use {
  kind: 'mutated' | 'escapes';
  how: string;
  node: Node;
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

/** The first mutation or escape of `name` in the function body, before any rebinding of it. */
function firstUse(body: Node, name: string): Use | undefined {
  let rebound = Infinity;
  const uses: Use[] = [];
  for (const id of body.descendantsOfType('identifier')) {
    if (!id || id.text !== name) continue;
    const parent = id.parent;
    if (!parent) continue;
    const field = (n: Node, f: string) => parent.childForFieldName(f)?.equals(n);
    if (parent.type === 'assignment' && field(id, 'left')) {
      rebound = Math.min(rebound, parent.startIndex);
    } else if (parent.type === 'augmented_assignment' && field(id, 'left')) {
      uses.push({ kind: 'mutated', how: `\`${name} ${parent.child(1)?.text ?? '+='} …\``, node: parent });
    } else if (parent.type === 'attribute' && field(id, 'object')) {
      const attr = parent.childForFieldName('attribute')?.text ?? '';
      const call = parent.parent;
      if (MUTATORS.has(attr) && call?.type === 'call' && call.childForFieldName('function')?.equals(parent)) {
        uses.push({ kind: 'mutated', how: `\`${name}.${attr}(…)\``, node: call });
      }
    } else if (parent.type === 'subscript' && field(id, 'value')) {
      const holder = parent.parent;
      const isTarget =
        ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) ||
        holder?.type === 'delete_statement';
      if (isTarget) uses.push({ kind: 'mutated', how: `\`${name}[…] = …\``, node: holder! });
    } else if (parent.type === 'return_statement' || (parent.type === 'yield' && parent.namedChild(0)?.equals(id))) {
      uses.push({ kind: 'escapes', how: parent.type === 'return_statement' ? 'returns it' : 'yields it', node: parent });
    } else if (parent.type === 'assignment' && field(id, 'right')) {
      const left = parent.childForFieldName('left');
      if (left && (left.type === 'attribute' || left.type === 'subscript')) {
        uses.push({ kind: 'escapes', how: `stores it in \`${left.text}\``, node: parent });
      }
    } else if (parent.type === 'argument_list') {
      const fn = parent.parent?.childForFieldName('function');
      const attr = fn?.type === 'attribute' ? fn.childForFieldName('attribute')?.text : undefined;
      if (attr && MUTATORS.has(attr)) uses.push({ kind: 'escapes', how: `stores it with \`${fn!.text}(…)\``, node: parent.parent! });
    }
  }
  return uses.filter((u) => u.node.startIndex < rebound).sort((a, b) => a.node.startIndex - b.node.startIndex)[0];
}

function short(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 30 ? one.slice(0, 27) + '…' : one;
}

function parameterName(param: Node): string | undefined {
  return param.childForFieldName('name')?.text;
}

function isAlreadyOptional(annotation: string): boolean {
  return /\bOptional\[|\bNone\b|\bAny\b|^\s*object\s*$/.test(annotation);
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
      const use = body ? firstUse(body, name) : undefined;
      let message: string;
      if (use?.kind === 'mutated') {
        message = `Mutable default \`${shown}\` of \`${name}\` is created once and shared by every call, and the function mutates it (${use.how}): it grows across calls`;
      } else if (use?.kind === 'escapes') {
        message = `Mutable default \`${shown}\` of \`${name}\` is created once and shared by every call, and the function ${use.how}: callers can grow it across calls`;
      } else {
        message = `Mutable default \`${shown}\` of \`${name}\` is created once and shared by every call; default to None and create it in the body`;
      }
      const related = use ? [{ start: use.node.startIndex, end: use.node.endIndex, message: use.kind === 'mutated' ? `\`${name}\` is mutated here` : `\`${name}\` escapes here` }] : [];
      const fix = guardFix(fn, param, value, name, !use, context);
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
      'The fix replaces the default with `None` and inserts `if x is None: x = <default>` at the top of the body (after the docstring; one guard per parameter, in parameter order). It is safe when the function never mutates the default nor lets it escape, because behaviour is then unchanged; otherwise it is unsafe, since code may rely on the shared object (for example as a cache). An annotation becomes `T | None` for target versions 3.10 and later, or `Optional[T]` (with the import added) before 3.10. One-line bodies become blocks. Lambdas get no fix.',
    options: '`target-version` decides how annotations are rewritten.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#function-definitions',
      'https://docs.python.org/3/tutorial/controlflow.html#default-argument-values',
    ],
  },
};
