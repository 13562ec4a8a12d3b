// Navigation and text-shaping helpers over tree-sitter nodes, shared by rules and their fixes.
import type { Node } from 'web-tree-sitter';
import { indentOfLine, lineBreakOf, lineStartOf, startsLine } from './text';

export const FUNCTION_TYPES = new Set(['function_definition', 'lambda']);
export const SCOPE_TYPES = new Set(['function_definition', 'lambda', 'class_definition', 'module']);

/** The nearest enclosing def, lambda, class or module. */
export function enclosingScope(node: Node): Node | null {
  for (let n = node.parent; n; n = n.parent) if (SCOPE_TYPES.has(n.type)) return n;
  return null;
}

export function isAsync(fn: Node): boolean {
  return fn.children.some((c) => c?.type === 'async');
}

/** Decorators on a def or class (empty when undecorated). */
export function decoratorsOf(def: Node): Node[] {
  const parent = def.parent;
  if (parent?.type !== 'decorated_definition') return [];
  return parent.namedChildren.filter((c): c is Node => c?.type === 'decorator');
}

/** The decorator's callee without call arguments: `functools.lru_cache(maxsize=1)` → the `functools.lru_cache` node. */
export function decoratorTarget(decorator: Node): Node | null {
  let expr = decorator.namedChildren.find((c) => c && c.type !== 'comment') ?? null;
  if (expr?.type === 'call') expr = expr.childForFieldName('function');
  return expr;
}

export function isDocstring(stmt: Node | null | undefined): boolean {
  if (!stmt || stmt.type !== 'expression_statement') return false;
  const expr = stmt.namedChild(0);
  return expr?.type === 'string' || expr?.type === 'concatenated_string';
}

/** Statements of a block, without comments. */
export function statementsOf(block: Node): Node[] {
  return block.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
}

/** The name of a def's first parameter (`self`, `cls`, …), if it is a plain, typed or default one. */
export function firstParameterName(fn: Node): string | undefined {
  const first = fn.childForFieldName('parameters')?.namedChildren.find((c) => c && c.type !== 'comment');
  if (!first) return undefined;
  if (first.type === 'identifier') return first.text;
  if (first.type === 'typed_parameter') {
    const id = first.namedChild(0);
    return id?.type === 'identifier' ? id.text : undefined;
  }
  if (first.type === 'default_parameter' || first.type === 'typed_default_parameter') return first.childForFieldName('name')?.text;
  return undefined;
}

/** Unwraps `(expr)` groupings, comments inside them included. */
export function unparenthesize(node: Node): Node {
  let n = node;
  for (;;) {
    if (n.type !== 'parenthesized_expression') return n;
    const inner = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (inner.length !== 1) return n;
    n = inner[0];
  }
}

/** The file's indentation step: the first indented block's offset from its header. */
export function indentUnit(text: string, root: Node): string {
  const known = UNITS.get(root);
  if (known && known.text === text) return known.unit;
  const unit = firstIndentStep(text, root) ?? '    ';
  UNITS.set(root, { text, unit });
  return unit;
}

/** indentUnit per analysed tree (a root node object lives for one analysis). */
const UNITS = new WeakMap<Node, { text: string; unit: string }>();

/** The indentation step of the first block in document order that shows one: a cursor walk that stops there. */
function firstIndentStep(text: string, root: Node): string | undefined {
  const cursor = root.walk();
  try {
    for (;;) {
      if (cursor.nodeType === 'block') {
        const block = cursor.currentNode;
        const first = statementsOf(block)[0];
        const parent = block.parent;
        if (first && parent && startsLine(text, first.startIndex)) {
          const inner = indentOfLine(text, first.startIndex);
          const outer = indentOfLine(text, parent.startIndex);
          if (inner.startsWith(outer) && inner.length > outer.length) return inner.slice(outer.length);
        }
      }
      if (cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) if (!cursor.gotoParent()) return undefined;
    }
  } finally {
    cursor.delete();
  }
}

/** Starts of multi-line string literals' inner lines, which must never be re-indented. */
function protectedLineStarts(root: Node, start: number, end: number, text: string): Set<number> {
  const out = new Set<number>();
  for (const s of root.descendantsOfType(['string', 'concatenated_string'], undefined, undefined)) {
    if (!s || s.endIndex <= start || s.startIndex >= end) continue;
    for (let i = text.indexOf('\n', s.startIndex); i !== -1 && i < s.endIndex - 1; i = text.indexOf('\n', i + 1)) {
      out.add(i + 1);
    }
  }
  return out;
}

/**
 * The text of [start, end) with `prefix` added at the start of every line, except lines that
 * begin inside a multi-line string literal and blank lines. `start` must be a line start.
 */
export function indentRegion(text: string, root: Node, start: number, end: number, prefix: string): string {
  const keep = protectedLineStarts(root, start, end, text);
  let out = '';
  let lineStart = start;
  while (lineStart < end) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl === -1 || nl >= end ? end : nl + 1;
    const line = text.slice(lineStart, lineEnd);
    const blank = /^[ \t]*\r?\n?$/.test(line);
    out += keep.has(lineStart) || blank ? line : prefix + line;
    lineStart = lineEnd;
  }
  return out;
}

/** Offset just after the line break that ends the line holding offset (or the text end). */
export function nextLineStart(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

/** True when nothing but whitespace and a comment follows offset on its line. */
export function endsLine(text: string, offset: number): boolean {
  const nl = text.indexOf('\n', offset);
  const rest = text.slice(offset, nl === -1 ? text.length : nl);
  return /^[ \t]*(#.*)?\r?$/.test(rest);
}

export { indentOfLine, lineBreakOf, lineStartOf, startsLine };

/**
 * The statements of the given types that contain `keyword` as a direct child token (`import`
 * in `from a import b`, `raise`), in document order, found from the keyword's occurrences in
 * the text: far cheaper than walking every node of the tree. An occurrence inside a string,
 * a comment or a longer word leads to no such statement and is passed over.
 */
export function statementsAtKeyword(root: Node, text: string, keyword: string, types: ReadonlySet<string>): Node[] {
  const found: Node[] = [];
  const pattern = new RegExp(`\\b${keyword}\\b`, 'g');
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const token = root.descendantForIndex(m.index, m.index + keyword.length);
    if (!token || token.type !== keyword) continue;
    const statement = token.parent;
    if (statement && types.has(statement.type)) found.push(statement);
  }
  return found;
}

/** `with self.assertRaises(…)`, `pytest.raises(…)`, `assertWarns`, `catch_warnings`, `mock.patch(…)` … */
const PROBE_WITH = /\b(assert\w*|raises|warns|check_\w*warning\w*|catch_warnings)\s*\(/;
const RAISES_WITH = /\b(assertRaises\w*|raises)\s*\(/;
/** `mock.patch(…)`, `patch.object(…)`, a test helper named `mocked_…(…)` / `mock_…(…)`. */
const PATCH_WITH = /\b(patch(\.\w+)?|mock\w*)\s*\(/;

function withClauseMatches(stmt: Node, re: RegExp): boolean {
  const clause = stmt.namedChildren.find((c) => c?.type === 'with_clause');
  return !!clause && re.test(clause.text);
}

export interface ProbeContext {
  /** Under `with mock.patch(…)`, `with self.mocked_socket_module():` … (also from a function defined inside that block): factories are usually mocks. */
  mock: boolean;
  /** Inside `with assertRaises(…)`, `pytest.raises(…)` in the same function: the code is expected to raise. */
  expectsError: boolean;
  /**
   * Inside `with assertWarns(…)`, `catch_warnings()` … or the body of a `try` whose handlers accept
   * the error (none re-raises or calls `self.fail`), in the same function.
   */
  handled: boolean;
}

/** Code written to see a call fail, to check a warning, or to run it against a mock. */
export function probeContext(node: Node): ProbeContext {
  const out: ProbeContext = { mock: false, expectsError: false, handled: false };
  let sameFunction = true;
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'function_definition' || n.type === 'lambda') sameFunction = false;
    else if (n.type === 'class_definition') break;
    else if (n.type === 'with_statement') {
      if (withClauseMatches(n, PATCH_WITH)) out.mock = true;
      if (sameFunction && withClauseMatches(n, RAISES_WITH)) out.expectsError = true;
      else if (sameFunction && withClauseMatches(n, PROBE_WITH)) out.handled = true;
    } else if (sameFunction && n.type === 'block' && n.parent?.type === 'try_statement' && n.parent.childForFieldName('body')?.equals(n)) {
      // Handlers that accept the error (not ones that re-raise or fail the test: there the call
      // was expected to succeed).
      const handlers = n.parent.namedChildren.filter((c) => c?.type === 'except_clause' || c?.type === 'except_group_clause');
      if (handlers.length > 0 && !handlers.some((h) => /\braise\b|\.fail\s*\(/.test(h!.text))) out.handled = true;
    }
  }
  return out;
}
