// LL401 large-module-object: a module-level or class-body binding to a big object built from
// constant expressions, which then stays in memory for the life of the process.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { lineBreakOf, nextLineStart, statementsOf, unparenthesize } from '../syntax';
import type { FindingSubject, Fix, Rule, RuleContext } from '../types';

/**
 * What a constant expression is estimated to build. `bytes` is a lower bound in bytes for
 * 64-bit CPython (see BYTES below); `kind` says what the value is.
 */
interface Estimate {
  elements: number;
  bytes: number;
  kind: 'list' | 'tuple' | 'set' | 'dict' | 'str' | 'bytes' | 'array';
}

/**
 * Bytes per element, measured with tracemalloc on CPython 3.11 (64-bit):
 * a list/tuple slot is one 8-byte pointer; a fresh int (or any small object) made per element
 * takes 28 bytes, rounded to 32 by the allocator; a set entry costs about 32 bytes of hash
 * table, a dict entry about 40 (entry plus index, at the usual fill factor).
 */
const BYTES = {
  slot: 8,
  object: 32,
  setEntry: 32,
  dictEntry: 40,
};
const MAX_VALUE = 1e15;

const NUMPY_DTYPES: Record<string, number> = {
  bool: 1, bool_: 1, int8: 1, uint8: 1, byte: 1, ubyte: 1, i1: 1, u1: 1, b1: 1,
  int16: 2, uint16: 2, float16: 2, half: 2, short: 2, ushort: 2, i2: 2, u2: 2, f2: 2,
  int32: 4, uint32: 4, float32: 4, single: 4, intc: 4, uintc: 4, i4: 4, u4: 4, f4: 4,
  int64: 8, uint64: 8, float64: 8, double: 8, int: 8, float: 8, int_: 8, intp: 8, uintp: 8, longlong: 8,
  i8: 8, u8: 8, f8: 8, complex64: 8, c8: 8,
  complex128: 16, complex: 16, cdouble: 16, c16: 16, longdouble: 16, float128: 16, complex256: 32,
};

const SUM_LIKE = new Set(['sum', 'any', 'all', 'min', 'max', 'builtins.sum', 'builtins.any', 'builtins.all', 'builtins.min', 'builtins.max']);
const LOOP_OR_LAZY = new Set(['for_statement', 'while_statement', 'function_definition', 'lambda', 'class_definition', 'generator_expression', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension']);

/** Per-file state, built only when a candidate needs it. */
class FileFacts {
  private constants?: Map<string, Node | null>;

  constructor(private readonly context: RuleContext) {}

  /** Module-level names bound exactly once, at the top level, to an expression (null when bound more than once). */
  constant(name: string): Node | undefined {
    if (!this.constants) {
      this.constants = new Map();
      for (const stmt of statementsOf(this.context.root)) {
        if (stmt.type !== 'expression_statement') continue;
        const assign = stmt.namedChild(0);
        if (assign?.type !== 'assignment') continue;
        const left = assign.childForFieldName('left');
        const right = assign.childForFieldName('right');
        if (left?.type !== 'identifier' || !right) continue;
        this.constants.set(left.text, this.constants.has(left.text) ? null : right);
      }
    }
    return this.constants.get(name) ?? undefined;
  }
}

function parseIntLiteral(text: string): number | undefined {
  const t = text.replace(/_/g, '').toLowerCase();
  if (/^0x[0-9a-f]+$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^0o[0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0b[01]+$/.test(t)) return parseInt(t.slice(2), 2);
  if (/^\d+$/.test(t)) return Number(t);
  return undefined;
}

/** The value of a constant integer expression, or undefined. */
function intValue(node: Node | null, facts: FileFacts, depth = 0): number | undefined {
  if (!node || depth > 20) return undefined;
  const n = unparenthesize(node);
  let v: number | undefined;
  switch (n.type) {
    case 'integer':
      v = parseIntLiteral(n.text);
      break;
    case 'unary_operator': {
      const operand = intValue(n.childForFieldName('argument'), facts, depth + 1);
      const op = n.childForFieldName('operator')?.text ?? n.child(0)?.text;
      if (operand === undefined) return undefined;
      v = op === '-' ? -operand : op === '+' ? operand : undefined;
      break;
    }
    case 'binary_operator': {
      const a = intValue(n.childForFieldName('left'), facts, depth + 1);
      const b = intValue(n.childForFieldName('right'), facts, depth + 1);
      if (a === undefined || b === undefined) return undefined;
      const op = n.childForFieldName('operator')?.text;
      if (op === '+') v = a + b;
      else if (op === '-') v = a - b;
      else if (op === '*') v = a * b;
      else if (op === '//' && b !== 0) v = Math.floor(a / b);
      else if (op === '**' && b >= 0 && b <= 64) v = a ** b;
      else if (op === '<<' && b >= 0 && b <= 62) v = a * 2 ** b;
      break;
    }
    case 'identifier': {
      const bound = facts.constant(n.text);
      if (bound && !bound.equals(n)) v = intValue(bound, facts, depth + 1);
      break;
    }
  }
  if (v === undefined || !Number.isFinite(v) || Math.abs(v) > MAX_VALUE) return undefined;
  return v;
}

function callee(call: Node, context: RuleContext): string | undefined {
  const fn = call.childForFieldName('function');
  return fn ? context.qualifiedName(fn) : undefined;
}

function argumentsOf(call: Node): { positional: Node[]; keywords: Map<string, Node>; other: boolean } {
  const positional: Node[] = [];
  const keywords = new Map<string, Node>();
  let other = false;
  const args = call.childForFieldName('arguments');
  if (args?.type !== 'argument_list') return { positional, keywords, other: true };
  for (const a of args.namedChildren) {
    if (!a || a.type === 'comment') continue;
    if (a.type === 'keyword_argument') {
      const name = a.childForFieldName('name')?.text;
      const value = a.childForFieldName('value');
      if (name && value) keywords.set(name, value);
    } else if (a.type === 'list_splat' || a.type === 'dictionary_splat') other = true;
    else positional.push(a);
  }
  return { positional, keywords, other };
}

function isBuiltin(name: string | undefined, builtin: string): boolean {
  return name === builtin || name === `builtins.${builtin}`;
}

/** Number of items of `range(...)` with constant arguments. */
function rangeLength(node: Node, facts: FileFacts, context: RuleContext): number | undefined {
  const n = unparenthesize(node);
  if (n.type !== 'call' || !isBuiltin(callee(n, context), 'range')) return undefined;
  const { positional, keywords, other } = argumentsOf(n);
  if (other || keywords.size > 0 || positional.length < 1 || positional.length > 3) return undefined;
  const values = positional.map((p) => intValue(p, facts));
  if (values.some((v) => v === undefined)) return undefined;
  const [a, b, step] = positional.length === 1 ? [0, values[0]!, 1] : [values[0]!, values[1]!, values[2] ?? 1];
  if (step === 0) return undefined;
  return Math.max(0, Math.ceil((b - a) / step));
}

function loopTargets(clause: Node): Set<string> {
  const names = new Set<string>();
  const left = clause.childForFieldName('left');
  if (!left) return names;
  if (left.type === 'identifier') names.add(left.text);
  for (const id of left.descendantsOfType('identifier')) if (id) names.add(id.text);
  return names;
}

function mentionsAny(node: Node, names: Set<string>): boolean {
  if (node.type === 'identifier') return names.has(node.text);
  return node.descendantsOfType('identifier').some((id) => !!id && names.has(id.text));
}

/** `[f(i) for i in range(N)]` and its set/dict forms: product of the ranges; no `if` clauses. */
function comprehensionEstimate(n: Node, facts: FileFacts, context: RuleContext): Estimate | undefined {
  let iterations = 1;
  const targets = new Set<string>();
  for (const child of n.namedChildren) {
    if (!child || child.type === 'comment') continue;
    if (child.type === 'if_clause') return undefined;
    if (child.type !== 'for_in_clause') continue;
    if (child.children.some((c) => c?.type === 'async')) return undefined;
    const right = child.childForFieldName('right');
    const count = right ? rangeLength(right, facts, context) : undefined;
    if (count === undefined) return undefined;
    iterations *= count;
    for (const t of loopTargets(child)) targets.add(t);
  }
  const body = n.childForFieldName('body');
  if (!body) return undefined;
  if (n.type === 'list_comprehension') {
    const inner = estimate(body, facts, context);
    if (inner) {
      // A container built per item: its slots count as elements, its header as one more object.
      return { kind: 'list', elements: iterations * (1 + inner.elements), bytes: iterations * (BYTES.slot + BYTES.object + inner.bytes) };
    }
    const fresh = mentionsAny(body, targets);
    return { kind: 'list', elements: iterations, bytes: iterations * (BYTES.slot + (fresh ? BYTES.object : 0)) };
  }
  // A set or dict has one entry per distinct key: the key must depend on the loop variables.
  const key = n.type === 'dictionary_comprehension' ? body.childForFieldName('key') : body;
  if (!key || !mentionsAny(key, targets)) return undefined;
  if (n.type === 'set_comprehension') return { kind: 'set', elements: iterations, bytes: iterations * (BYTES.setEntry + BYTES.object) };
  return { kind: 'dict', elements: iterations, bytes: iterations * (BYTES.dictEntry + BYTES.object) };
}

/** Length and bytes per character of a plain string or bytes literal (no f-strings). */
function literalString(n: Node): { length: number; width: number; bytes: boolean } | undefined {
  if (n.type !== 'string') return undefined;
  const start = n.child(0);
  const prefix = (start?.text ?? '').replace(/["']/g, '').toLowerCase();
  if (prefix.includes('f') || prefix.includes('t')) return undefined;
  let length = 0;
  let width = 1;
  const widen = (cp: number) => (width = Math.max(width, cp > 0xffff ? 4 : cp > 0xff ? 2 : 1));
  for (const part of n.namedChildren) {
    if (!part) continue;
    if (part.type === 'interpolation') return undefined;
    if (part.type !== 'string_content') continue;
    let raw = part.text;
    // Escape sequences are children of the content: each stands for one character.
    for (const esc of part.namedChildren) {
      if (esc?.type !== 'escape_sequence') continue;
      raw = raw.replace(esc.text, '');
      if (/^\\\r?\n$/.test(esc.text)) continue;
      length++;
      const hex = /^\\[xuU]([0-9a-fA-F]+)$/.exec(esc.text);
      if (hex) widen(parseInt(hex[1], 16));
      else if (esc.text.startsWith('\\N')) widen(0x100);
    }
    for (const ch of raw) {
      length++;
      widen(ch.codePointAt(0)!);
    }
  }
  const isBytes = prefix.includes('b');
  return { length, width: isBytes ? 1 : width, bytes: isBytes };
}

function dtypeBytes(node: Node | undefined, context: RuleContext): number | undefined {
  if (!node) return undefined;
  const n = unparenthesize(node);
  let name: string | undefined;
  if (n.type === 'string') name = n.text.replace(/^[a-zA-Z]*["']+|["']+$/g, '').replace(/^[<>=|]/, '');
  else if (n.type === 'identifier' || n.type === 'attribute') name = (context.qualifiedName(n) ?? n.text).split('.').pop();
  return name ? NUMPY_DTYPES[name] : undefined;
}

function shapeSize(node: Node, facts: FileFacts): number | undefined {
  const n = unparenthesize(node);
  if (n.type === 'tuple' || n.type === 'list') {
    let size = 1;
    for (const item of n.namedChildren) {
      if (!item || item.type === 'comment') continue;
      const v = intValue(item, facts);
      if (v === undefined || v < 0) return undefined;
      size *= v;
    }
    return size;
  }
  const v = intValue(n, facts);
  return v === undefined || v < 0 ? undefined : v;
}

function numpyEstimate(name: string, call: Node, facts: FileFacts, context: RuleContext): Estimate | undefined {
  const { positional, keywords, other } = argumentsOf(call);
  if (other) return undefined;
  let elements: number | undefined;
  let itemsize = 8;
  if (name === 'arange') {
    const values = positional.slice(0, 3).map((p) => intValue(p, facts));
    if (positional.length === 0 || positional.length > 4 || values.some((v) => v === undefined)) return undefined;
    const [a, b, step] = values.length === 1 ? [0, values[0]!, 1] : [values[0]!, values[1]!, values[2] ?? 1];
    if (step === 0) return undefined;
    elements = Math.max(0, Math.ceil((b - a) / step));
  } else {
    const shape = positional[0] ?? keywords.get('shape');
    elements = shape ? shapeSize(shape, facts) : undefined;
    if (name === 'full') {
      const fill = positional[1] ?? keywords.get('fill_value');
      const f = fill ? unparenthesize(fill) : undefined;
      if (f?.type === 'true' || f?.type === 'false') itemsize = 1;
    }
  }
  if (elements === undefined) return undefined;
  const dtypeArg = keywords.get('dtype') ?? positional[name === 'arange' ? 3 : name === 'full' ? 2 : 1];
  const dtype = dtypeBytes(dtypeArg, context);
  if (dtype !== undefined) itemsize = dtype;
  return { kind: 'array', elements, bytes: elements * itemsize };
}

/** The size of what a constant expression builds, when it can be told. */
/** Deeper constant expressions are not estimated (and deep recursion would overflow the stack). */
const MAX_ESTIMATE_DEPTH = 64;

function estimate(node: Node, facts: FileFacts, context: RuleContext, depth = 0): Estimate | undefined {
  if (depth > MAX_ESTIMATE_DEPTH) return undefined;
  const n = unparenthesize(node);
  switch (n.type) {
    case 'list_comprehension':
    case 'set_comprehension':
    case 'dictionary_comprehension':
      return comprehensionEstimate(n, facts, context);
    case 'string': {
      const s = literalString(n);
      if (!s) return undefined;
      return { kind: s.bytes ? 'bytes' : 'str', elements: s.length, bytes: s.length * s.width };
    }
    case 'list':
    case 'tuple': {
      // A literal: its slots plus whatever its items build.
      let elements = 0;
      let bytes = 0;
      for (const item of n.namedChildren) {
        if (!item || item.type === 'comment') continue;
        if (item.type === 'list_splat') return undefined;
        const inner = estimate(item, facts, context, depth + 1);
        elements += 1 + (inner?.elements ?? 0);
        bytes += BYTES.slot + (inner?.bytes ?? 0);
      }
      return { kind: n.type, elements, bytes };
    }
    case 'binary_operator': {
      const op = n.childForFieldName('operator')?.text;
      const left = n.childForFieldName('left');
      const right = n.childForFieldName('right');
      if (!left || !right) return undefined;
      if (op === '+') {
        const a = estimate(left, facts, context, depth + 1);
        const b = estimate(right, facts, context, depth + 1);
        if (!a || !b || a.kind !== b.kind) return undefined;
        return { kind: a.kind, elements: a.elements + b.elements, bytes: a.bytes + b.bytes };
      }
      if (op !== '*') return undefined;
      // `seq * N` or `N * seq`: N copies of the slots; the items themselves are shared.
      for (const [seqNode, countNode] of [[left, right], [right, left]]) {
        const seq = unparenthesize(seqNode);
        if (!['list', 'tuple', 'string', 'binary_operator'].includes(seq.type)) continue;
        const times = intValue(countNode, facts);
        if (times === undefined) continue;
        const base = estimate(seq, facts, context, depth + 1);
        if (!base || base.kind === 'set' || base.kind === 'dict' || base.kind === 'array') continue;
        const count = Math.max(0, times);
        if (base.kind === 'list' || base.kind === 'tuple') {
          // Slots are repeated; what the items build exists once.
          const slots = topLevelSlots(seq);
          if (slots === undefined) {
            return { kind: base.kind, elements: base.elements * count, bytes: base.bytes * count };
          }
          const shared = base.elements - slots;
          const sharedBytes = base.bytes - slots * BYTES.slot;
          return { kind: base.kind, elements: slots * count + shared, bytes: slots * count * BYTES.slot + sharedBytes };
        }
        return { kind: base.kind, elements: base.elements * count, bytes: base.bytes * count };
      }
      return undefined;
    }
    case 'call': {
      const name = callee(n, context);
      if (!name) return undefined;
      const { positional, keywords, other } = argumentsOf(n);
      if (isBuiltin(name, 'bytearray') || isBuiltin(name, 'bytes')) {
        if (other || keywords.size > 0 || positional.length !== 1) return undefined;
        const size = intValue(positional[0], facts);
        if (size !== undefined) return size >= 0 ? { kind: 'bytes', elements: size, bytes: size } : undefined;
        const inner = estimate(positional[0], facts, context, depth + 1);
        return inner?.kind === 'bytes' ? inner : undefined;
      }
      for (const container of ['list', 'tuple', 'set', 'frozenset'] as const) {
        if (!isBuiltin(name, container)) continue;
        if (other || keywords.size > 0 || positional.length !== 1) return undefined;
        const count = rangeLength(positional[0], facts, context);
        if (count === undefined) return undefined;
        if (container === 'set' || container === 'frozenset') return { kind: 'set', elements: count, bytes: count * (BYTES.setEntry + BYTES.object) };
        return { kind: container, elements: count, bytes: count * (BYTES.slot + BYTES.object) };
      }
      if (name === 'dict.fromkeys' || name === 'builtins.dict.fromkeys') {
        const count = positional[0] ? rangeLength(positional[0], facts, context) : undefined;
        if (count === undefined) return undefined;
        return { kind: 'dict', elements: count, bytes: count * (BYTES.dictEntry + BYTES.object) };
      }
      const m = /^numpy\.(zeros|ones|empty|full|arange)$/.exec(name);
      if (m) return numpyEstimate(m[1], n, facts, context);
      return undefined;
    }
  }
  return undefined;
}

/** Number of items in a list/tuple literal (its own slots), or undefined when not a literal. */
function topLevelSlots(seq: Node): number | undefined {
  if (seq.type !== 'list' && seq.type !== 'tuple') return undefined;
  return seq.namedChildren.filter((c) => c && c.type !== 'comment').length;
}

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

/** Is the identifier a reference to a variable (not an attribute name or keyword name)? */
function isReference(id: Node): boolean {
  const p = id.parent;
  if (!p) return false;
  if (p.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) return false;
  if (p.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) return false;
  return true;
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
  const variable = semantic.scopeFor(scope);
  const ids = searchRoot.descendantsOfType('identifier');
  for (const id of ids) {
    if (!id || id.text !== name || id.equals(nameNode) || !isReference(id)) continue;
    // The same variable only: a local of the same name in some function is another one.
    if (semantic.scopes.resolveScope(name, semantic.scopeOf(id)) !== variable) continue;
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
    const fname = callee(n, context);
    const { positional } = argumentsOf(n);
    if ((isBuiltin(fname, 'list') || isBuiltin(fname, 'tuple')) && positional.length === 1 && rangeLength(positional[0], new FileFacts(context), context) !== undefined) {
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
    let facts: FileFacts | undefined;
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
      facts ??= new FileFacts(context);
      const est = estimate(value, facts, context);
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
