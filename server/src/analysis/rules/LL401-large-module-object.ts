// LL401 large-module-object: a module-level or class-body binding to a big object built from
// constant expressions, which then stays in memory for the life of the process.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { argumentsOf, callee, isBuiltin, literalString, loopTargets } from '../semantic';
import { lineBreakOf, nextLineStart, statementsOf, unparenthesize } from '../syntax';
import type { FindingSubject, Fix, Rule, RuleContext } from '../types';

const SUM_LIKE = new Set(['sum', 'any', 'all', 'min', 'max', 'builtins.sum', 'builtins.any', 'builtins.all', 'builtins.min', 'builtins.max']);
const LOOP_OR_LAZY = new Set(['for_statement', 'while_statement', 'function_definition', 'lambda', 'class_definition', 'generator_expression', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension']);

function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatMB(bytes: number): string {
  const mb = bytes / 1_000_000;
  if (mb >= 10) return `${Math.round(mb).toLocaleString('en-US')} MB`;
  if (mb >= 0.1) return `${mb.toFixed(1)} MB`;
  return `${mb.toFixed(2)} MB`;
}

/** The top-level statement (a direct child of the module) that holds node. */
function moduleStatementOf(node: Node): Node | undefined {
  let n: Node | null = node;
  while (n && n.parent && n.parent.type !== 'module') n = n.parent;
  return n?.parent?.type === 'module' ? n : undefined;
}

/** Runs at most once, at import time: no function, class body, loop or lazy generator around it. */
function runsOnceAtModuleLevel(node: Node): boolean {
  let start = node.parent;
  // The iterable of a `for` is evaluated once, before the loop.
  if (start?.type === 'for_statement' && start.childForFieldName('right')?.equals(node)) start = start.parent;
  for (let n = start; n && n.type !== 'module'; n = n.parent) {
    if (LOOP_OR_LAZY.has(n.type)) return false;
  }
  return true;
}

type IterationUse = 'for' | 'call';

/** `for x in NAME:`, `sum(NAME)` and friends, `"".join(NAME)`: one pass over the value. */
function iterationUse(id: Node, context: RuleContext): IterationUse | undefined {
  const p = id.parent;
  if (!p) return undefined;
  if (p.type === 'for_statement' && p.childForFieldName('right')?.equals(id)) {
    return p.children.some((c) => c?.type === 'async') ? undefined : 'for';
  }
  if (p.type !== 'argument_list') return undefined;
  const call = p.parent;
  if (call?.type !== 'call') return undefined;
  const { positional, other } = argumentsOf(call);
  if (other || !positional[0]?.equals(id)) return undefined;
  const fn = call.childForFieldName('function');
  if (!fn) return undefined;
  const name = context.qualifiedName(fn);
  if (name && SUM_LIKE.has(name)) {
    const base = name.replace(/^builtins\./, '');
    if ((base === 'min' || base === 'max') && positional.length !== 1) return undefined;
    if (base !== 'sum' && positional.length !== 1) return undefined;
    return 'call';
  }
  if (fn.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'join' && positional.length === 1) {
    const object = fn.childForFieldName('object');
    if (object?.type === 'string' && literalString(object) && !literalString(object)!.bytes) return 'call';
  }
  return undefined;
}

// Operations on ints (the loop variables of ranges) and numeric literals that can never raise.
const PURE_OPERATORS = new Set(['+', '-', '*', '==', '!=', '<', '>', '<=', '>=', 'and', 'or', 'not']);
const PURE_NODE_TYPES = new Set([
  'identifier', 'integer', 'float', 'true', 'false',
  'binary_operator', 'unary_operator', 'comparison_operator', 'boolean_operator', 'not_operator', 'parenthesized_expression',
  'tuple', 'conditional_expression', 'comment',
]);

/** A comprehension body that can neither raise nor observe state: loop variables, literals, + - * and comparisons. */
function isPureComprehension(comp: Node): boolean {
  const targets = new Set<string>();
  for (const c of comp.namedChildren) {
    if (c?.type !== 'for_in_clause') continue;
    if (c.childForFieldName('left')?.type !== 'identifier') return false;
    for (const t of loopTargets(c)) targets.add(t);
  }
  const check = (n: Node): boolean => {
    if (!PURE_NODE_TYPES.has(n.type)) return false;
    if (n.type === 'identifier') return targets.has(n.text);
    if (n.type !== 'parenthesized_expression' && n.type !== 'tuple' && n.type !== 'conditional_expression') {
      for (const c of n.children) if (c && !c.isNamed && !PURE_OPERATORS.has(c.type)) return false;
    }
    return n.namedChildren.every((c) => !c || check(c));
  };
  const body = comp.childForFieldName('body');
  if (!body || !check(body)) return false;
  // Later `for` clauses are evaluated lazily too (the first iterable is evaluated at once).
  const clauses = comp.namedChildren.filter((c): c is Node => c?.type === 'for_in_clause');
  return clauses.slice(1).every((c) => {
    const r = c.childForFieldName('right');
    return !!r && r.type === 'call' && rangeLengthIsLiteral(r);
  });
}

function rangeLengthIsLiteral(call: Node): boolean {
  const fn = call.childForFieldName('function');
  if (fn?.type !== 'identifier' || fn.text !== 'range') return false;
  const { positional, keywords, other } = argumentsOf(call);
  return !other && keywords.size === 0 && positional.every((p) => unparenthesize(p).type === 'integer');
}

/** Names listed in a module-level `__all__` literal. */
function exportedNames(root: Node): Set<string> {
  const names = new Set<string>();
  for (const stmt of statementsOf(root)) {
    const assign = stmt.type === 'expression_statement' ? stmt.namedChild(0) : null;
    if (!assign || (assign.type !== 'assignment' && assign.type !== 'augmented_assignment')) continue;
    if (assign.childForFieldName('left')?.text !== '__all__') continue;
    for (const s of assign.descendantsOfType('string_content')) if (s) names.add(s.text);
  }
  return names;
}

interface Occurrences {
  /** References to the name anywhere in the file, other than this binding's own target. */
  uses: Node[];
  /** A `del name` that frees it, or a later re-binding in the same scope. */
  released: boolean;
  /** `global name` somewhere: functions rebind or read it. */
  declaredGlobal: boolean;
}

function occurrences(name: string, nameNode: Node, assign: Node, scope: Node, context: RuleContext): Occurrences {
  const uses: Node[] = [];
  let released = false;
  let declaredGlobal = false;
  const globalScopes: Node[] = [];
  const searchRoot = scope.type === 'module' ? scope : scope.childForFieldName('body') ?? scope;
  const { semantic } = context;
  // The same variable only: a local of the same name in some function is another one.
  for (const id of semantic.variableOccurrences(semantic.scopeFor(scope), name, searchRoot.startIndex, searchRoot.endIndex)) {
    if (id.equals(nameNode)) continue;
    const p = id.parent!;
    if (p.type === 'global_statement') {
      declaredGlobal = true;
      globalScopes.push(semantic.frameNodeOf(id));
      continue;
    }
    uses.push(id);
  }
  for (const id of uses) {
    const p = id.parent!;
    const idScope = semantic.frameNodeOf(id);
    const sameScope = idScope.equals(scope);
    const declaringFunction = globalScopes.some((g) => g.equals(idScope));
    if (!(sameScope || declaringFunction) || (sameScope && id.startIndex < assign.endIndex)) continue;
    const inDel = p.type === 'delete_statement' || (p.type === 'expression_list' && p.parent?.type === 'delete_statement');
    // A later re-binding frees it only when it always runs after the binding: it stands in the
    // binding's block or an enclosing one (not in an `except` branch or a sibling `if` arm).
    const rebinds = sameScope && p.type === 'assignment' && p.childForFieldName('left')?.equals(id) && inBlockChain(assign, p);
    if (inDel || rebinds) released = true;
  }
  return { uses, released, declaredGlobal };
}

/** Does the statement holding `later` stand in the block of `first`'s statement or an enclosing block? */
function inBlockChain(first: Node, later: Node): boolean {
  const holder = (n: Node): Node | null => {
    let m: Node | null = n;
    while (m && m.parent && m.parent.type !== 'block' && m.parent.type !== 'module') m = m.parent;
    return m?.parent ?? null;
  };
  const target = holder(later);
  if (!target) return false;
  for (let b = holder(first); b; b = b.parent) {
    if ((b.type === 'block' || b.type === 'module') && b.equals(target)) return true;
    if (b.type === 'function_definition' || b.type === 'class_definition') return false;
  }
  return false;
}

function insertDelFix(name: string, stmt: Node, occ: Occurrences, context: RuleContext): Fix | undefined {
  const { text } = context;
  const after = occ.uses.filter((u) => u.startIndex > stmt.endIndex);
  if (after.length === 0 || after.length !== occ.uses.length) return undefined;
  if (!after.every((u) => runsAtImport(u))) return undefined;
  let last: Node | undefined;
  for (const u of after) {
    const s = moduleStatementOf(u);
    if (!s) return undefined;
    if (!last || s.endIndex > last.endIndex) last = s;
  }
  if (!last) return undefined;
  const nl = lineBreakOf(text);
  const at = nextLineStart(text, last.endIndex);
  const needsBreak = at === text.length && !text.endsWith('\n');
  return {
    title: `Delete \`${name}\` after its last use`,
    safety: 'unsafe',
    edits: [{ start: at, end: at, text: `${needsBreak ? nl : ''}del ${name}${nl}` }],
  };
}

/** Executed at import time: no function or lambda around it and not inside a lazy generator. */
function runsAtImport(node: Node): boolean {
  for (let n = node.parent; n && n.type !== 'module'; n = n.parent) {
    if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'generator_expression') return false;
  }
  return true;
}

function lazyFix(name: string, stmt: Node, value: Node, occ: Occurrences, context: RuleContext): Fix | undefined {
  const n = unparenthesize(value);
  if (n.type === 'call' && occ.uses.length > 0 && occ.uses.every((u) => u.startIndex > stmt.endIndex && iterationUse(u, context))) {
    // `list(range(N))` iterated: `range(N)` gives the same items without storing them, and can be iterated again.
    const fname = callee(n, context.semantic);
    const { positional } = argumentsOf(n);
    if ((isBuiltin(fname, 'list') || isBuiltin(fname, 'tuple')) && positional.length === 1 && context.semantic.rangeLength(positional[0]) !== undefined) {
      return {
        title: `Iterate \`${name}\` lazily with \`range\``,
        safety: 'safe',
        edits: [{ start: n.startIndex, end: n.endIndex, text: positional[0].text }],
      };
    }
    return undefined;
  }
  if (n.type !== 'list_comprehension' || occ.uses.length !== 1) return undefined;
  const use = occ.uses[0];
  if (use.startIndex < stmt.endIndex || !iterationUse(use, context) || !runsOnceAtModuleLevel(use)) return undefined;
  const useStmt = moduleStatementOf(use);
  if (!useStmt) return undefined;
  // Evaluated later, the comprehension must not see different state: either nothing runs in
  // between, or it cannot observe or change anything.
  const next = stmt.nextNamedSibling;
  let between = next;
  while (between && between.type === 'comment') between = between.nextNamedSibling;
  const adjacent = !!between && between.equals(useStmt);
  const safe = adjacent || isPureComprehension(n);
  return {
    title: `Make \`${name}\` a generator expression`,
    safety: safe ? 'safe' : 'unsafe',
    edits: [
      { start: n.startIndex, end: n.startIndex + 1, text: '(' },
      { start: n.endIndex - 1, end: n.endIndex, text: ')' },
    ],
  };
}

export const rule: Rule = {
  code: 'LL401',
  name: 'large-module-object',
  category: 'large-objects',
  defaultSeverity: 'info',
  query: `
    (assignment left: (identifier) @name right: (list_comprehension) @value) @assign
    (assignment left: (identifier) @name right: (set_comprehension) @value) @assign
    (assignment left: (identifier) @name right: (dictionary_comprehension) @value) @assign
    (assignment left: (identifier) @name right: (call function: (identifier) @fn) @value (#any-of? @fn "list" "tuple" "set" "frozenset" "bytearray" "bytes" "zeros" "ones" "empty" "full" "arange")) @assign
    (assignment left: (identifier) @name right: (call function: (attribute attribute: (identifier) @fn)) @value (#any-of? @fn "zeros" "ones" "empty" "full" "arange" "fromkeys" "bytearray" "bytes" "list" "tuple" "set" "frozenset")) @assign
    (assignment left: (identifier) @name right: (binary_operator operator: "*") @value) @assign
    (assignment left: (identifier) @name right: (binary_operator left: (binary_operator) operator: "+") @value) @assign
    (assignment left: (identifier) @name right: (parenthesized_expression) @value) @assign
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    let exported: Set<string> | undefined;
    for (const match of matches) {
      const value = match.captures.find((c) => c.name === 'value')!.node;
      // Cheap filters first (a textual pre-filter on the callee's spelling only decides whether to
      // estimate at all; the estimate resolves names): most calls and products are not sized constants.
      const v = unparenthesize(value);
      if (v.type === 'call') {
        const fn = v.childForFieldName('function');
        if (!fn || !/(^|\.)(list|tuple|set|frozenset|bytearray|bytes|zeros|ones|empty|full|arange|fromkeys)$/.test(fn.text)) continue;
      } else if (v.type === 'binary_operator') {
        const op = v.childForFieldName('operator')?.text;
        if (op !== '*' && op !== '+') continue;
      } else if (v.type !== 'list_comprehension' && v.type !== 'set_comprehension' && v.type !== 'dictionary_comprehension') continue;
      const est = context.semantic.constantSize(value);
      if (!est || est.elements < context.options.largeObjectThreshold) continue;
      const assign = match.captures.find((c) => c.name === 'assign')!.node;
      const scope = context.semantic.frameNodeOf(assign);
      if (scope.type !== 'module' && scope.type !== 'class_definition') continue;
      const nameNode = match.captures.find((c) => c.name === 'name')!.node;
      const name = nameNode.text;
      const occ = occurrences(name, nameNode, assign, scope, context);
      if (occ.released) continue;
      const what = scope.type === 'module' ? `Module-level \`${name}\`` : `Class attribute \`${name}\``;
      const lifetime = scope.type === 'module' ? 'for the life of the process' : 'as long as the class, usually for the life of the process';
      const advice = scope.type === 'module' ? 'delete it after its last use or build it lazily' : 'build it lazily, when first needed';
      const message = `${what} holds an estimated ${formatCount(est.elements)} elements (≈ ${formatMB(est.bytes)}), kept ${lifetime}; ${advice}`;
      const fixes: Fix[] = [];
      const stmt = assign.parent;
      if (scope.type === 'module' && stmt?.type === 'expression_statement' && stmt.parent?.type === 'module' && !occ.declaredGlobal) {
        exported ??= exportedNames(context.root);
        if (!exported.has(name)) {
          const lazy = lazyFix(name, stmt, value, occ, context);
          if (lazy) fixes.push(lazy);
          else {
            const del = insertDelFix(name, stmt, occ, context);
            if (del) fixes.push(del);
          }
        }
      }
      const subject: FindingSubject = scope.type === 'module'
        ? { kind: 'global', name }
        : { kind: 'classAttribute', name: `${scope.childForFieldName('name')?.text ?? '?'}.${name}` };
      context.report({ node: assign, message, fixes, subject });
    }
  },
  docs: {
    summary: 'A big object built from constants and bound at module or class level, where it lives for the whole process.',
    whatItDoes:
      'Flags a module-level or class-body binding whose value is estimated to hold at least `large-object-threshold` elements (100 000 by default), computed from constant expressions: comprehensions over `range(N)` (products of nested ranges; not when an `if` clause filters them), `list/tuple/set(range(N))`, `[x] * N`, `"x" * N`, `bytearray(N)`, `bytes(N)`, and `numpy.zeros/ones/empty/full/arange` with constant shapes (integers or tuples). `N` may be a literal (`1_000_000`, `10**6`, `4 * 1024`) or a module-level name bound once to one. Items of containers built per element count too: `[[0] * 1000 for _ in range(1000)]` holds 1 001 000 elements. The message gives the element count and the estimated size in megabytes (10^6 bytes), a lower bound for 64-bit CPython: 8 bytes per list or tuple slot (repeated items such as `[0] * N` are shared, so only the slot counts), plus 32 bytes for each fresh object a comprehension or `list(range(N))` creates (an int is 28 bytes, rounded up by the allocator); about 64 bytes per set element and 72 per dict entry; 1 byte per bytes or bytearray item; 1, 2 or 4 bytes per character of a string, depending on its widest character; the dtype\'s item size for NumPy arrays (8 bytes by default). A name deleted later with `del`, or re-bound later in the same scope, is not flagged.',
    whyLeak:
      'A module is imported once and kept in `sys.modules` until the interpreter exits, and a class lives as long as its module. Whatever their global names refer to is therefore never freed: a lookup table or buffer that was needed only while the module was being set up keeps its memory for the whole life of the process, in every worker process that imports it.',
    example: 'SQUARES = [i * i for i in range(10**6)]\nTOTAL = sum(SQUARES)\n',
    useInstead: 'SQUARES = (i * i for i in range(10**6))\nTOTAL = sum(SQUARES)\n',
    fixSafety:
      'When the only use of a list comprehension is a single pass at import time (`for`, `sum`, `any`, `all`, `min`, `max`, `"".join`), the fix turns it into a generator expression, which yields the same items without storing them. It is safe when the use is the next statement, or when the comprehension only combines its loop variables with literals and `+ - *` or comparisons (so it can neither raise nor observe state that changes in between); otherwise it is unsafe, because the items are then computed later. `list(range(N))` or `tuple(range(N))` that is only iterated becomes `range(N)` (safe: a range can be iterated any number of times). Otherwise, when every use is at import time (module level, outside functions and lambdas), an unsafe fix inserts `del name` after the last use: it is unsafe because other modules may import the name, or read it through `globals()`. No fix is offered for class attributes, names declared `global`, names listed in `__all__`, or bindings nested in `if`/`try` blocks.',
    options: '`large-object-threshold`: the number of elements from which a value counts as large (default 100000).',
    references: [
      'https://docs.python.org/3/reference/expressions.html#generator-expressions',
      'https://docs.python.org/3/reference/simple_stmts.html#the-del-statement',
      'https://docs.python.org/3/library/sys.html#sys.getsizeof',
    ],
  },
};
