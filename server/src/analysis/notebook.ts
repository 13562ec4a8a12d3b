// Jupyter notebooks (.ipynb) as one Python module. Pure: the notebook's JSON text in, the
// virtual module (the code cells in cell order, IPython syntax masked) and the way back out.
//
// - Every code cell contributes its source, plus a '\n' when it does not end with a line break,
//   so each cell starts a line of the module and positions map back as (cell, line, column).
// - IPython syntax is masked so that the module parses and no finding can point at it: line
//   magics, shell escapes and help lines become `0` followed by spaces (from their first
//   non-blank character to the end of the line), `x = !ls` keeps `x = `; a cell magic that does not
//   run Python (`%%bash`, `%%html`, …) blanks the whole cell. Masking replaces characters one UTF-16
//   unit for one and never touches a line break, so every other offset stays where it was.
// - Cell numbers are 1-based positions among ALL cells of the notebook (markdown and raw cells
//   count), as Ruff numbers them: `cell 3` is the third cell from the top in Jupyter.
// - Write-back (`replaceSources`) changes only the `source` values of the changed cells in the
//   file's JSON text, in the file's own style (list of lines or one string, indentation).

import { LineIndex } from './text';

/** Cell magics whose body is Python run in the kernel (its globals are the notebook's globals). */
const PYTHON_CELL_MAGICS = new Set(['time', 'timeit', 'capture', 'prun', 'debug']);

/** A code cell's place in the virtual module (a notebook read from disk, or one open in an editor). */
export interface ModuleCell {
  /** 0-based position in the notebook's `cells` (all kinds). */
  index: number;
  /** 1-based cell number shown in positions (`index + 1`). */
  number: number;
  /** Offset of the cell's first character in the module. */
  start: number;
  /** The source as the notebook holds it (joined when it is a list of lines). */
  source: string;
  /** A '\n' was appended in the module (the source did not end with a line break). */
  addedNewline: boolean;
  /** Masked ranges, module offsets [start, end). */
  masked: Array<[number, number]>;
}

/** Code cells joined into one module, in cell order, IPython syntax masked. */
export interface CellModule {
  module: string;
  cells: ModuleCell[];
}

/**
 * Joins code cells (each with its 0-based position among all the notebook's cells) into the
 * virtual module: the one place where the joining and masking rules above are applied, for the
 * CLI (readNotebook) and for notebooks open in the editor (protocol/notebooks.ts).
 */
export function joinCells(code: ReadonlyArray<{ index: number; source: string }>): CellModule {
  const cells: ModuleCell[] = [];
  let module = '';
  for (const { index, source } of code) {
    const { text, masked } = maskCell(source);
    const addedNewline = !/[\r\n]$/.test(text);
    const start = module.length;
    module += text + (addedNewline ? '\n' : '');
    cells.push({ index, number: index + 1, start, source, addedNewline, masked: masked.map(([a, b]) => [a + start, b + start]) });
  }
  return { module, cells };
}

export interface NotebookCell extends ModuleCell {
  /** Where the `source` value is in the JSON text, [start, end). */
  span: [number, number];
  /** The value's layout: one string, or a list of lines. */
  style: SourceStyle;
}

export type SourceStyle = { kind: 'string' } | { kind: 'list'; open?: string; sep?: string; close?: string };

export interface Notebook extends CellModule {
  cells: NotebookCell[];
  /** The kernel's language ('python' when the notebook does not say). */
  language: string;
  /** Non-ASCII characters of the file are written as \u escapes (Python's ensure_ascii). */
  asciiOnly: boolean;
}

export type NotebookRead = { ok: true; notebook: Notebook } | { ok: false; reason: string };

/** The plain-data mapping the CLI's output needs: where each code cell starts and its number. */
export interface NotebookMap {
  starts: number[];
  numbers: number[];
}

export function isNotebookPath(path: string): boolean {
  return /\.ipynb$/i.test(path);
}

export function notebookMap(nb: CellModule): NotebookMap {
  return { starts: nb.cells.map((c) => c.start), numbers: nb.cells.map((c) => c.number) };
}

/** The code cell holding a module offset: its position in `map.starts`. */
export function cellAt(map: NotebookMap, offset: number): number {
  let lo = 0;
  let hi = map.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (map.starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A module position (0-based line of the module, as `LineIndex.position` gives it) as the cell's
 * number and the 1-based line and column within the cell. `lineOf` answers a module offset's line;
 * `isEnd`: the offset ends a range.
 */
export function cellPosition(map: NotebookMap, offset: number, line: number, character: number, lineOf: (offset: number) => number, isEnd = false): { cell: number; line: number; column: number } {
  if (map.starts.length === 0) return { cell: 1, line: line + 1, column: character + 1 };
  // The end of a range that stops where a cell begins is the end of the cell before (its line after the last).
  const k = cellAt(map, isEnd && offset > 0 ? offset - 1 : offset);
  return { cell: map.numbers[k], line: line - lineOf(map.starts[k]) + 1, column: character + 1 };
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Locates the `source` value of every cell in the JSON text (the last one when a key repeats). */
class SpanScanner {
  private i = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i])) this.i++;
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') this.i += this.s[this.i] === '\\' ? 2 : 1;
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  /** Skips one value; the text is valid JSON (JSON.parse accepted it first). */
  private skip(): void {
    this.ws();
    const c = this.s[this.i];
    if (c === '"') {
      this.string();
      return;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      this.i++;
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          this.ws();
          this.string();
          this.ws();
          this.i++; // ':'
        }
        this.skip();
        this.ws();
        if (this.s[this.i++] === close) return;
      }
    }
    while (this.i < this.s.length && !',}] \t\r\n'.includes(this.s[this.i])) this.i++;
  }

  /** Visits the members of the object at the cursor: `visit` must consume the value. */
  private members(visit: (key: string) => void): void {
    this.ws();
    this.i++; // '{'
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.ws();
      this.i++; // ':'
      this.ws();
      visit(key);
      this.ws();
      if (this.s[this.i++] === '}') return;
    }
  }

  /** For each element of the top-level `cells` array: the span of its `source` value. */
  sourceSpans(): Array<[number, number] | undefined> {
    let spans: Array<[number, number] | undefined> = [];
    this.members((key) => {
      if (key !== 'cells' || this.s[this.i] !== '[') return this.skip();
      const found: Array<[number, number] | undefined> = [];
      this.i++;
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
      } else {
        for (;;) {
          this.ws();
          let span: [number, number] | undefined;
          if (this.s[this.i] === '{') {
            this.members((k) => {
              const start = this.i;
              this.skip();
              if (k === 'source') span = [start, this.i];
            });
          } else {
            this.skip();
          }
          found.push(span);
          this.ws();
          if (this.s[this.i++] === ']') break;
        }
      }
      spans = found;
    });
    return spans;
  }
}

/** The layout of a list value `[ "a\n", "b" ]`: what follows '[', separates items, precedes ']'. */
function listStyle(raw: string): SourceStyle {
  const items: Array<[number, number]> = [];
  let i = 1;
  while (i < raw.length) {
    const c = raw[i];
    if (c === '"') {
      const start = i;
      i++;
      while (i < raw.length && raw[i] !== '"') i += raw[i] === '\\' ? 2 : 1;
      i++;
      items.push([start, i]);
    } else {
      i++;
    }
  }
  if (items.length === 0) return { kind: 'list' };
  const open = raw.slice(1, items[0][0]);
  const close = raw.slice(items[items.length - 1][1], raw.length - 1);
  const sep = items.length > 1 ? raw.slice(items[0][1], items[1][0]) : ',' + open;
  return { kind: 'list', open, sep, close };
}

interface LineSpan {
  start: number;
  /** End of the content, before the line break. */
  end: number;
  /** The line begins inside a triple-quoted string. */
  inString: boolean;
  /** The line continues a logical line: inside brackets, or after a backslash. */
  continues: boolean;
  /** End of the code before a comment (trailing blanks excluded), outside strings. */
  codeEnd: number;
  /** Where masked IPython syntax begins on the line, or -1. */
  magicFrom: number;
}

/** Lines of a cell with Python's string and comment state at each line start. */
function scanLines(src: string): LineSpan[] {
  const lines: LineSpan[] = [];
  let triple: string | undefined;
  let single: string | undefined;
  let depth = 0;
  let backslash = false;
  let i = 0;
  // A backslash escapes the next character, but never a line break (the line ends there).
  const escape = (at: number) => (at + 1 < src.length && src[at + 1] !== '\n' && src[at + 1] !== '\r' ? 2 : 1);
  let magicContinues = false;
  while (i <= src.length) {
    const start = i;
    const inString = triple !== undefined;
    const continues = depth > 0 || backslash;
    const depthBefore = depth;
    let codeEnd = start;
    let comment = false;
    while (i < src.length && src[i] !== '\n' && src[i] !== '\r') {
      const c = src[i];
      if (comment) {
        i++;
        continue;
      }
      if (triple) {
        if (c === '\\') i += escape(i);
        else if (src.startsWith(triple, i)) {
          i += 3;
          triple = undefined;
          codeEnd = i;
        } else i++;
        continue;
      }
      if (single) {
        if (c === '\\') i += escape(i);
        else {
          if (c === single) single = undefined;
          i++;
          codeEnd = i;
        }
        continue;
      }
      if (c === '#') comment = true;
      else if (c === '"' || c === "'") {
        if (src.startsWith(c.repeat(3), i)) {
          triple = c.repeat(3);
          i += 3;
          continue;
        }
        single = c;
      } else if (c !== ' ' && c !== '\t' && c !== '\f') {
        if ('([{'.includes(c)) depth++;
        else if (')]}'.includes(c)) depth = Math.max(0, depth - 1);
        codeEnd = i + 1;
      }
      i++;
    }
    const end = Math.min(i, src.length);
    backslash = !comment && !triple && src[end - 1] === '\\';
    // A one-quote string ends at the line's end (unless continued by a backslash).
    if (single && src[end - 1] !== '\\') single = undefined;
    const magicFrom = magicStart(src, start, end, codeEnd, magicContinues ? 'rest' : inString || continues ? 'none' : 'start');
    if (magicFrom !== -1) {
      // The escape is opaque to Python: its brackets and quotes open nothing.
      depth = depthBefore;
      triple = undefined;
      single = undefined;
      magicContinues = src[end - 1] === '\\';
      backslash = false;
    } else magicContinues = false;
    lines.push({ start, end, inString, continues, codeEnd, magicFrom });
    if (i >= src.length) break;
    i += src[i] === '\r' && src[i + 1] === '\n' ? 2 : 1;
    if (i === src.length) {
      lines.push({ start: i, end: i, inString: triple !== undefined, continues: depth > 0 || backslash, codeEnd: i, magicFrom: -1 });
      break;
    }
  }
  return lines;
}

const ASSIGN_MAGIC = /^[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*(?=[!%])/;

/**
 * Where IPython syntax begins on a line, or -1. `rest`: the line continues a masked escape;
 * `none`: inside a string or a logical line (`% 2` inside brackets is Python's modulo); `start`:
 * the line starts a logical line.
 */
function magicStart(src: string, start: number, end: number, codeEnd: number, where: 'rest' | 'none' | 'start'): number {
  const line = src.slice(start, end);
  const lead = start + (line.length - line.trimStart().length);
  if (lead >= end || where === 'none') return -1;
  if (where === 'rest') return lead;
  const first = src[lead];
  if (first === '%' || first === '!' || first === '?') return lead;
  if (codeEnd > start && src[codeEnd - 1] === '?') return lead;
  const m = ASSIGN_MAGIC.exec(line);
  return m ? start + m[0].length : -1;
}

/** Masks a cell's IPython syntax; ranges are relative to the cell. */
export function maskCell(src: string): { text: string; masked: Array<[number, number]> } {
  const lines = scanLines(src);
  const masked: Array<[number, number]> = [];
  const chars = src.split('');
  const blank = (from: number, to: number, lead: string) => {
    if (to <= from) return;
    for (let j = from; j < to; j++) if (chars[j] !== '\n' && chars[j] !== '\r') chars[j] = ' ';
    if (lead) chars[from] = lead;
    masked.push([from, to]);
  };
  const firstCode = lines.find((l) => src.slice(l.start, l.end).trim() !== '');
  const cellMagic = firstCode && /^%%(\S*)/.exec(src.slice(firstCode.start, firstCode.end).trimStart());
  if (cellMagic && !PYTHON_CELL_MAGICS.has(cellMagic[1])) {
    // Not Python (bash, html, writefile, sql…): nothing of the cell is analysed.
    for (const l of lines) blank(l.start, l.end, '');
    return { text: chars.join(''), masked };
  }
  for (const l of lines) if (l.magicFrom !== -1) blank(l.magicFrom, l.end, '0');
  return { text: chars.join(''), masked };
}

/** Reads a notebook's JSON text. A notebook in another language is read too (`language` says which). */
export function readNotebook(json: string): NotebookRead {
  let nb: unknown;
  try {
    nb = JSON.parse(json);
  } catch (err) {
    return { ok: false, reason: `not a notebook: invalid JSON (${(err as Error).message})` };
  }
  if (!nb || typeof nb !== 'object' || Array.isArray(nb)) return { ok: false, reason: 'not a notebook: the JSON is not an object' };
  const root = nb as Record<string, unknown>;
  if (typeof root.nbformat === 'number' && root.nbformat < 4) return { ok: false, reason: `nbformat ${root.nbformat} notebooks are not supported (only nbformat 4; open and save it in a current Jupyter)` };
  if (!Array.isArray(root.cells)) return { ok: false, reason: 'not a notebook: no "cells" list' };
  const metadata = (root.metadata && typeof root.metadata === 'object' ? root.metadata : {}) as Record<string, Record<string, unknown> | undefined>;
  const declared = metadata.kernelspec?.language ?? metadata.language_info?.name;
  const language = typeof declared === 'string' && declared.trim() ? declared.trim().toLowerCase() : 'python';
  const spans = new SpanScanner(json).sourceSpans();
  const code: Array<{ index: number; source: string; span: [number, number]; style: SourceStyle }> = [];
  for (let index = 0; index < root.cells.length; index++) {
    const cell = root.cells[index] as Record<string, unknown> | null;
    if (!cell || typeof cell !== 'object') return { ok: false, reason: `not a notebook: cell ${index + 1} is not an object` };
    if (cell.cell_type !== 'code') continue;
    const raw = cell.source;
    let source: string;
    if (typeof raw === 'string') source = raw;
    else if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) source = raw.join('');
    else return { ok: false, reason: `not a notebook: the source of cell ${index + 1} is neither a string nor a list of strings` };
    const span = spans[index];
    if (!span) return { ok: false, reason: `not a notebook: cell ${index + 1} has no source` };
    const style = typeof raw === 'string' ? ({ kind: 'string' } as const) : listStyle(json.slice(span[0], span[1]));
    code.push({ index, source, span, style });
  }
  const { module, cells: joined } = joinCells(code);
  const cells: NotebookCell[] = joined.map((c, k) => ({ ...c, span: code[k].span, style: code[k].style }));
  // eslint-disable-next-line no-control-regex
  const asciiOnly = /^[\x00-\x7f]*$/.test(json) && /\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])[0-9a-fA-F]{2}/.test(json);
  return { ok: true, notebook: { module, cells, language, asciiOnly } };
}

// ---------------------------------------------------------------------------------------------
// Fixing: which edits may be applied, where the cells are after them, what to write back

export interface OffsetEditLike {
  start: number;
  end: number;
  text: string;
}

/**
 * Follows the cells and masked ranges of a notebook's module through fix edits. `allows` says
 * whether one fix's edits may be applied to the current text (each edit inside one cell, none
 * touching masked text); `apply` moves the tracked offsets by edits applied together. An
 * insertion where a cell begins belongs to the end of the cell before (`del x` after a cell's
 * last line, an import after the imports), except at offset 0.
 */
export class CellTracker {
  readonly starts: number[];
  readonly masked: Array<[number, number]>;
  private length: number;

  constructor(readonly notebook: CellModule) {
    this.starts = notebook.cells.map((c) => c.start);
    this.masked = notebook.cells.flatMap((c) => c.masked.map(([a, b]): [number, number] => [a, b]));
    this.length = notebook.module.length;
  }

  private cellEnd(k: number): number {
    return k + 1 < this.starts.length ? this.starts[k + 1] : this.length;
  }

  /** Why these edits may not be applied, or undefined. */
  refusal(edits: readonly OffsetEditLike[]): string | undefined {
    for (const e of edits) {
      const inOne = this.starts.some((s, k) => s <= e.start && e.end <= this.cellEnd(k));
      if (!inOne) return 'its edit spans two cells';
      if (this.masked.some(([a, b]) => e.start < b && e.end > a)) return 'its edit touches a masked IPython magic';
    }
    return undefined;
  }

  apply(edits: readonly OffsetEditLike[]): void {
    const shift = (p: number, insertionMoves: boolean) => {
      let out = p;
      for (const e of edits) {
        if (e.start < p || (insertionMoves && e.start === p && e.end === p)) out += e.text.length - (e.end - e.start);
      }
      return out;
    };
    for (let k = 1; k < this.starts.length; k++) this.starts[k] = shift(this.starts[k], true);
    for (const m of this.masked) {
      m[0] = shift(m[0], true);
      m[1] = shift(m[1], false);
    }
    this.length += edits.reduce((n, e) => n + e.text.length - (e.end - e.start), 0);
  }

  /** The new source of every cell a fixed module changed, by cell index (masked text restored). */
  changedSources(fixed: string): Map<number, string> {
    const out = new Map<number, string>();
    const masked = this.masked;
    const originalRanges = this.notebook.cells.flatMap((c) => c.masked);
    this.notebook.cells.forEach((cell, k) => {
      const start = this.starts[k];
      const end = this.cellEnd(k);
      let text = '';
      let at = start;
      masked.forEach(([a, b], m) => {
        if (a < start || b > end) return;
        const [oa, ob] = originalRanges[m];
        text += fixed.slice(at, a) + cell.source.slice(oa - cell.start, ob - cell.start);
        at = b;
      });
      text += fixed.slice(at, end);
      if (cell.addedNewline && text.endsWith('\n')) text = text.slice(0, -1);
      if (text !== cell.source) out.set(cell.index, text);
    });
    return out;
  }
}

function jsonString(s: string, asciiOnly: boolean): string {
  const out = JSON.stringify(s);
  return asciiOnly ? out.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : out;
}

/**
 * Where line `line` (0-based) of a cell's source is in the notebook's JSON text: the string of
 * that line when the source is a list of lines, else the whole `source` value.
 */
export function sourceLineSpan(json: string, cell: NotebookCell, line: number): [number, number] {
  if (cell.style.kind !== 'list') return cell.span;
  let i = cell.span[0] + 1;
  let n = 0;
  while (i < cell.span[1]) {
    if (json[i] !== '"') {
      i++;
      continue;
    }
    const start = i++;
    while (i < cell.span[1] && json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
    i++;
    if (n++ === line) return [start, i];
  }
  return cell.span;
}

/** The lines of a source as nbformat stores them: each with its line break, the last one without when the source has none. */
export function sourceLines(source: string): string[] {
  return source.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The JSON text of the notebook with these cells' `source` values replaced, nothing else touched. */
export function replaceSources(json: string, nb: Notebook, sources: ReadonlyMap<number, string>): string {
  const fallback = nb.cells.map((c) => c.style).find((s): s is Extract<SourceStyle, { kind: 'list' }> => s.kind === 'list' && s.open !== undefined);
  const edits = nb.cells
    .filter((c) => sources.has(c.index))
    .map((c) => {
      const source = sources.get(c.index)!;
      let value: string;
      if (c.style.kind === 'string') value = jsonString(source, nb.asciiOnly);
      else {
        const lines = sourceLines(source);
        const style = c.style.open !== undefined ? c.style : fallback;
        if (lines.length === 0) value = '[]';
        else if (!style) {
          // No list of the file shows its layout: nbformat's own (one space per level).
          const lineStart = json.lastIndexOf('\n', c.span[0]) + 1;
          const indent = /^[ \t]*/.exec(json.slice(lineStart))![0];
          value = `[\n${indent} ${lines.map((l) => jsonString(l, nb.asciiOnly)).join(`,\n${indent} `)}\n${indent}]`;
        } else value = `[${style.open}${lines.map((l) => jsonString(l, nb.asciiOnly)).join(style.sep)}${style.close}]`;
      }
      return { start: c.span[0], end: c.span[1], value };
    })
    .sort((a, b) => b.start - a.start);
  let out = json;
  for (const e of edits) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  return out;
}

/**
 * A module's findings as a notebook shows them: a line a message names is a cell's line
 * (`line 2 of cell 6`), and fixes that could not be applied cell by cell (an edit across a cell
 * boundary or over masked IPython syntax) are dropped. Shared by `leaklens check` and the editor.
 */
export function findingsInCells<F extends { message: string; messageTemplate?: string; lineRefs?: ReadonlyArray<{ offset: number }>; fixes: ReadonlyArray<{ edits: readonly OffsetEditLike[] }> }>(findings: readonly F[], nb: CellModule): F[] {
  const tracker = new CellTracker(nb);
  const map = notebookMap(nb);
  const lines = new LineIndex(nb.module);
  const cellLine = (offset: number) => {
    const p = lines.position(offset);
    const at = cellPosition(map, offset, p.line, p.character, (o) => lines.lineOf(o));
    return `${at.line} of cell ${at.cell}`;
  };
  return findings.map((f) => ({
    ...f,
    ...(f.messageTemplate && f.lineRefs ? { message: f.messageTemplate.replace(/\{(\d+)\}/g, (_, i: string) => cellLine(f.lineRefs![Number(i)].offset)) } : {}),
    fixes: f.fixes.filter((x) => !tracker.refusal(x.edits)),
  }));
}
