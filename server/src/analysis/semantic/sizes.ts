// The size of what a constant expression builds (`[0] * 10**6`, `list(range(N))`, a comprehension
// over ranges, `numpy.zeros((1000, 1000))`, a long literal), with the integer values and `range`
// lengths it rests on: a lower bound in elements and bytes for 64-bit CPython. Only constants the
// file shows are evaluated (literals, arithmetic, module-level names bound once); anything else
// is unknown. LL401 (large-module-object) asks it through `SemanticModel.constantSize`.
import type { Node } from 'web-tree-sitter';
import { statementsOf, unparenthesize } from '../syntax';

/**
 * What a constant expression is estimated to build. `bytes` is a lower bound in bytes for
 * 64-bit CPython (see BYTES below); `kind` says what the value is.
 */
export interface Estimate {
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


/**
 * What the constant expressions of one file evaluate to and build: its module-level names bound
 * once, integer arithmetic over them, `range` lengths, and the size estimate of a display,
 * comprehension, repetition or constructor call. Built when first asked; one per analysis.
 */
export class ConstantSizes {
  private constants?: Map<string, Node | null>;

  constructor(
    private readonly root: Node,
    readonly qualifiedName: (node: Node) => string | undefined,
  ) {}

  /** Module-level names bound exactly once, at the top level, to an expression (null when bound more than once). */
  constant(name: string): Node | undefined {
    if (!this.constants) {
      this.constants = new Map();
      for (const stmt of statementsOf(this.root)) {
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

  /** What a constant expression builds, estimated; undefined when it cannot be told. */
  sizeOf(expr: Node): Estimate | undefined {
    return estimate(expr, this);
  }

  /** The value of a constant integer expression (literals, arithmetic, names bound once). */
  intValue(expr: Node): number | undefined {
    return intValue(expr, this);
  }

  /** The number of items of `range(…)` with constant arguments. */
  rangeLength(expr: Node): number | undefined {
    return rangeLength(expr, this);
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
export function intValue(node: Node | null, env: ConstantSizes, depth = 0): number | undefined {
  if (!node || depth > 20) return undefined;
  const n = unparenthesize(node);
  let v: number | undefined;
  switch (n.type) {
    case 'integer':
      v = parseIntLiteral(n.text);
      break;
    case 'unary_operator': {
      const operand = intValue(n.childForFieldName('argument'), env, depth + 1);
      const op = n.childForFieldName('operator')?.text ?? n.child(0)?.text;
      if (operand === undefined) return undefined;
      v = op === '-' ? -operand : op === '+' ? operand : undefined;
      break;
    }
    case 'binary_operator': {
      const a = intValue(n.childForFieldName('left'), env, depth + 1);
      const b = intValue(n.childForFieldName('right'), env, depth + 1);
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
      const bound = env.constant(n.text);
      if (bound && !bound.equals(n)) v = intValue(bound, env, depth + 1);
      break;
    }
  }
  if (v === undefined || !Number.isFinite(v) || Math.abs(v) > MAX_VALUE) return undefined;
  return v;
}

/** The qualified name of what a call calls (through the file's imports). */
export function callee(call: Node, env: { qualifiedName: (node: Node) => string | undefined }): string | undefined {
  const fn = call.childForFieldName('function');
  return fn ? env.qualifiedName(fn) : undefined;
}

export function argumentsOf(call: Node): { positional: Node[]; keywords: Map<string, Node>; other: boolean } {
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

export function isBuiltin(name: string | undefined, builtin: string): boolean {
  return name === builtin || name === `builtins.${builtin}`;
}

/** Number of items of `range(...)` with constant arguments. */
export function rangeLength(node: Node, env: ConstantSizes): number | undefined {
  const n = unparenthesize(node);
  if (n.type !== 'call' || !isBuiltin(callee(n, env), 'range')) return undefined;
  const { positional, keywords, other } = argumentsOf(n);
  if (other || keywords.size > 0 || positional.length < 1 || positional.length > 3) return undefined;
  const values = positional.map((p) => intValue(p, env));
  if (values.some((v) => v === undefined)) return undefined;
  const [a, b, step] = positional.length === 1 ? [0, values[0]!, 1] : [values[0]!, values[1]!, values[2] ?? 1];
  if (step === 0) return undefined;
  return Math.max(0, Math.ceil((b - a) / step));
}

export function loopTargets(clause: Node): Set<string> {
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
function comprehensionEstimate(n: Node, env: ConstantSizes): Estimate | undefined {
  let iterations = 1;
  const targets = new Set<string>();
  for (const child of n.namedChildren) {
    if (!child || child.type === 'comment') continue;
    if (child.type === 'if_clause') return undefined;
    if (child.type !== 'for_in_clause') continue;
    if (child.children.some((c) => c?.type === 'async')) return undefined;
    const right = child.childForFieldName('right');
    const count = right ? rangeLength(right, env) : undefined;
    if (count === undefined) return undefined;
    iterations *= count;
    for (const t of loopTargets(child)) targets.add(t);
  }
  const body = n.childForFieldName('body');
  if (!body) return undefined;
  if (n.type === 'list_comprehension') {
    const inner = estimate(body, env);
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
export function literalString(n: Node): { length: number; width: number; bytes: boolean } | undefined {
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

function dtypeBytes(node: Node | undefined, env: ConstantSizes): number | undefined {
  if (!node) return undefined;
  const n = unparenthesize(node);
  let name: string | undefined;
  if (n.type === 'string') name = n.text.replace(/^[a-zA-Z]*["']+|["']+$/g, '').replace(/^[<>=|]/, '');
  else if (n.type === 'identifier' || n.type === 'attribute') name = (env.qualifiedName(n) ?? n.text).split('.').pop();
  return name ? NUMPY_DTYPES[name] : undefined;
}

function shapeSize(node: Node, env: ConstantSizes): number | undefined {
  const n = unparenthesize(node);
  if (n.type === 'tuple' || n.type === 'list') {
    let size = 1;
    for (const item of n.namedChildren) {
      if (!item || item.type === 'comment') continue;
      const v = intValue(item, env);
      if (v === undefined || v < 0) return undefined;
      size *= v;
    }
    return size;
  }
  const v = intValue(n, env);
  return v === undefined || v < 0 ? undefined : v;
}

function numpyEstimate(name: string, call: Node, env: ConstantSizes): Estimate | undefined {
  const { positional, keywords, other } = argumentsOf(call);
  if (other) return undefined;
  let elements: number | undefined;
  let itemsize = 8;
  if (name === 'arange') {
    const values = positional.slice(0, 3).map((p) => intValue(p, env));
    if (positional.length === 0 || positional.length > 4 || values.some((v) => v === undefined)) return undefined;
    const [a, b, step] = values.length === 1 ? [0, values[0]!, 1] : [values[0]!, values[1]!, values[2] ?? 1];
    if (step === 0) return undefined;
    elements = Math.max(0, Math.ceil((b - a) / step));
  } else {
    const shape = positional[0] ?? keywords.get('shape');
    elements = shape ? shapeSize(shape, env) : undefined;
    if (name === 'full') {
      const fill = positional[1] ?? keywords.get('fill_value');
      const f = fill ? unparenthesize(fill) : undefined;
      if (f?.type === 'true' || f?.type === 'false') itemsize = 1;
    }
  }
  if (elements === undefined) return undefined;
  const dtypeArg = keywords.get('dtype') ?? positional[name === 'arange' ? 3 : name === 'full' ? 2 : 1];
  const dtype = dtypeBytes(dtypeArg, env);
  if (dtype !== undefined) itemsize = dtype;
  return { kind: 'array', elements, bytes: elements * itemsize };
}

/** The size of what a constant expression builds, when it can be told. */
/** Deeper constant expressions are not estimated (and deep recursion would overflow the stack). */
const MAX_ESTIMATE_DEPTH = 64;

export function estimate(node: Node, env: ConstantSizes, depth = 0): Estimate | undefined {
  if (depth > MAX_ESTIMATE_DEPTH) return undefined;
  const n = unparenthesize(node);
  switch (n.type) {
    case 'list_comprehension':
    case 'set_comprehension':
    case 'dictionary_comprehension':
      return comprehensionEstimate(n, env);
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
        const inner = estimate(item, env, depth + 1);
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
        const a = estimate(left, env, depth + 1);
        const b = estimate(right, env, depth + 1);
        if (!a || !b || a.kind !== b.kind) return undefined;
        return { kind: a.kind, elements: a.elements + b.elements, bytes: a.bytes + b.bytes };
      }
      if (op !== '*') return undefined;
      // `seq * N` or `N * seq`: N copies of the slots; the items themselves are shared.
      for (const [seqNode, countNode] of [[left, right], [right, left]]) {
        const seq = unparenthesize(seqNode);
        if (!['list', 'tuple', 'string', 'binary_operator'].includes(seq.type)) continue;
        const times = intValue(countNode, env);
        if (times === undefined) continue;
        const base = estimate(seq, env, depth + 1);
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
      const name = callee(n, env);
      if (!name) return undefined;
      const { positional, keywords, other } = argumentsOf(n);
      if (isBuiltin(name, 'bytearray') || isBuiltin(name, 'bytes')) {
        if (other || keywords.size > 0 || positional.length !== 1) return undefined;
        const size = intValue(positional[0], env);
        if (size !== undefined) return size >= 0 ? { kind: 'bytes', elements: size, bytes: size } : undefined;
        const inner = estimate(positional[0], env, depth + 1);
        return inner?.kind === 'bytes' ? inner : undefined;
      }
      for (const container of ['list', 'tuple', 'set', 'frozenset'] as const) {
        if (!isBuiltin(name, container)) continue;
        if (other || keywords.size > 0 || positional.length !== 1) return undefined;
        const count = rangeLength(positional[0], env);
        if (count === undefined) return undefined;
        if (container === 'set' || container === 'frozenset') return { kind: 'set', elements: count, bytes: count * (BYTES.setEntry + BYTES.object) };
        return { kind: container, elements: count, bytes: count * (BYTES.slot + BYTES.object) };
      }
      if (name === 'dict.fromkeys' || name === 'builtins.dict.fromkeys') {
        const count = positional[0] ? rangeLength(positional[0], env) : undefined;
        if (count === undefined) return undefined;
        return { kind: 'dict', elements: count, bytes: count * (BYTES.dictEntry + BYTES.object) };
      }
      const m = /^numpy\.(zeros|ones|empty|full|arange)$/.exec(name);
      if (m) return numpyEstimate(m[1], n, env);
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
