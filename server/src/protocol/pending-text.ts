// The changes to an open document that arrived since its text was last rebuilt, gathered into ONE
// replaced region of that text. A burst of pipelined didChange notifications (fast typing, a
// replace-all, a client that fell behind) would otherwise rebuild the whole text once per change —
// a copy of the document each time, twice (the LSP document and the parsed one). Here each change
// costs in proportion to the region it touches; the text, its line table and the tree are rebuilt
// once, when the document is next read (OpenDocument.commit).
//
// The current text is `base[0, start) + middle + base[end, …)`. LSP positions are resolved on it
// with vscode-languageserver-textdocument's rules (offsetAt: a character past the line's end is
// the end of its content; a line past the last is the end of the text), so the offsets are the ones
// the library would give applying the changes one by one. Line breaks are CR LF, LF or a lone CR;
// the region's edges never fall between a CR and the LF after it, in the base or in the current
// text (see `widen`), so the lines before the region are the base's and the lines after it are the
// base's, shifted.
import type { Position, TextDocumentContentChangeEvent } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';

const CR = 13;
const LF = 10;
const isLineBreak = (c: number) => c === CR || c === LF;

/** One replacement of the base text, in base offsets. */
export interface BaseEdit {
  start: number;
  end: number;
  text: string;
}

/** What the queued changes amount to, for OpenDocument.commit. */
export type PendingResult =
  /** Exactly one ranged change: given to the document as it came (the keystroke path of today). */
  | { kind: 'single'; change: TextDocumentContentChangeEvent; edit: BaseEdit; freshLines: boolean }
  /** Several: one replaced region. */
  | { kind: 'region'; edit: BaseEdit; freshLines: boolean }
  /** A change without a range replaced the whole text. */
  | { kind: 'full'; text: string };

/**
 * True when the edit brings a CR and an LF together at one of its edges. The library's update
 * splices its line table and miscounts that line break; the document's lines must then be made
 * afresh (`freshLines`). (An edit never starts or ends inside a CR LF: offsetAt backs out of one,
 * and `result` widens the region over it.)
 */
export function joinsLineBreak(old: string, edit: BaseEdit): boolean {
  const { start, end, text } = edit;
  const before = start > 0 ? old.charCodeAt(start - 1) : -1;
  const after = end < old.length ? old.charCodeAt(end) : -1;
  const first = text.length ? text.charCodeAt(0) : after;
  const last = text.length ? text.charCodeAt(text.length - 1) : before;
  return (before === CR && first === LF) || (last === CR && after === LF);
}

export class PendingText {
  /** The region of the base replaced so far, `middle` in its place (`active` false: none yet, the text is the base). */
  private start = 0;
  private end = 0;
  private middle = '';
  private active = false;
  private full = false;
  private count = 0;
  private single: { change: TextDocumentContentChangeEvent; edit: BaseEdit } | undefined;
  /** Line of the base holding `start` (= line breaks before it) and `end`; line starts inside `middle`. */
  private startLine = 0;
  private endLine = 0;
  private middleLineStarts: number[] = [];
  private readonly baseText: string;

  constructor(private readonly base: TextDocument) {
    this.baseText = base.getText();
  }

  /** Changes applied since the base. */
  get size(): number {
    return this.count;
  }

  /** The current text's length. */
  get length(): number {
    return this.active ? this.baseText.length + this.delta : this.baseText.length;
  }

  get lineCount(): number {
    return this.active ? this.startLine + this.middleLineStarts.length + (this.base.lineCount - this.endLine) : this.base.lineCount;
  }

  /** Length of a line's content (its line break not counted). */
  lineLength(line: number): number {
    const start = this.lineStart(line);
    let end = line + 1 < this.lineCount ? this.lineStart(line + 1) : this.length;
    if (end > start && this.charCodeAt(end - 1) === LF) end--;
    if (end > start && this.charCodeAt(end - 1) === CR) end--;
    return end - start;
  }

  /** The offset of a position in the current text, as TextDocument.offsetAt gives it. */
  offsetAt(position: Position): number {
    const lines = this.lineCount;
    if (position.line >= lines) return this.length;
    if (position.line < 0) return 0;
    const lineStart = this.lineStart(position.line);
    if (position.character <= 0) return lineStart;
    const next = position.line + 1 < lines ? this.lineStart(position.line + 1) : this.length;
    let offset = Math.min(lineStart + position.character, next);
    while (offset > lineStart && isLineBreak(this.charCodeAt(offset - 1))) offset--;
    return offset;
  }

  /** Applies one change to the current text (its range is in that text's positions). */
  apply(change: TextDocumentContentChangeEvent): void {
    this.count++;
    if (!('range' in change)) {
      this.full = true;
      this.single = undefined;
      this.setRegion(0, this.baseText.length, change.text);
      return;
    }
    const a = this.offsetAt(change.range.start);
    const b = this.offsetAt(change.range.end);
    const from = Math.min(a, b);
    const to = Math.max(a, b);
    this.single = this.count === 1 ? { change, edit: { start: from, end: to, text: change.text } } : undefined;
    if (!this.active) {
      this.setRegion(from, to, change.text);
      return;
    }
    // Widen the region to cover [from, to) of the current text, then replace inside it.
    let start = this.start;
    let end = this.end;
    let middle = this.middle;
    if (from < start) {
      middle = this.baseText.slice(from, start) + middle;
      start = from;
    }
    const regionEnd = start + middle.length; // in current offsets
    if (to > regionEnd) {
      const baseTo = to - this.delta;
      middle += this.baseText.slice(end, baseTo);
      end = baseTo;
    }
    middle = middle.slice(0, from - start) + change.text + middle.slice(to - start);
    this.setRegion(start, end, middle);
  }

  /** What the changes amount to (call once, after the last apply). */
  result(): PendingResult {
    if (this.full) return { kind: 'full', text: this.text() };
    if (this.single) return { kind: 'single', ...this.single, freshLines: joinsLineBreak(this.baseText, this.single.edit) };
    // Trim what the region keeps of the base at both ends: the edit is as small as it can be (the
    // incremental analysis asks which function an edit lies in).
    const old = this.baseText;
    let start = this.start;
    let end = this.end;
    let middle = this.middle;
    let head = 0;
    while (head < middle.length && start + head < end && middle.charCodeAt(head) === old.charCodeAt(start + head)) head++;
    let tail = 0;
    while (tail < middle.length - head && end - tail > start + head && middle.charCodeAt(middle.length - 1 - tail) === old.charCodeAt(end - 1 - tail)) tail++;
    start += head;
    end -= tail;
    middle = middle.slice(head, middle.length - tail);
    // Never split a CR LF of the base: a position there is not one the library can name.
    if (start > 0 && old.charCodeAt(start - 1) === CR && old.charCodeAt(start) === LF) {
      start--;
      middle = '\r' + middle;
    }
    if (end > 0 && end < old.length && old.charCodeAt(end - 1) === CR && old.charCodeAt(end) === LF) {
      end++;
      middle += '\n';
    }
    return { kind: 'region', edit: { start, end, text: middle }, freshLines: joinsLineBreak(old, { start, end, text: middle }) };
  }

  /** The current text (a copy of the document: only for a commit). */
  text(): string {
    return this.active ? this.baseText.slice(0, this.start) + this.middle + this.baseText.slice(this.end) : this.baseText;
  }

  /** Current length minus base length. */
  private get delta(): number {
    return this.middle.length - (this.end - this.start);
  }

  private charCodeAt(offset: number): number {
    if (!this.active || offset < this.start) return this.baseText.charCodeAt(offset);
    if (offset < this.start + this.middle.length) return this.middle.charCodeAt(offset - this.start);
    return this.baseText.charCodeAt(offset - this.delta);
  }

  /** Start of a line of the current text (line < lineCount). */
  private lineStart(line: number): number {
    if (!this.active || line <= this.startLine) return this.base.offsetAt({ line, character: 0 });
    const inMiddle = line - this.startLine - 1;
    if (inMiddle < this.middleLineStarts.length) return this.start + this.middleLineStarts[inMiddle];
    return this.base.offsetAt({ line: line - this.startLine - this.middleLineStarts.length + this.endLine, character: 0 }) + this.delta;
  }

  /**
   * Makes `base[start, end)` → `middle` the region, widened so that no CR LF pair crosses an edge:
   * the base character before it is not a CR, the one after it not an LF. Then the line breaks
   * before the region are the base's own, and so are those after it.
   */
  private setRegion(start: number, end: number, middle: string): void {
    const old = this.baseText;
    if (start > 0 && old.charCodeAt(start - 1) === CR) {
      start--;
      middle = '\r' + middle;
    }
    if (end < old.length && old.charCodeAt(end) === LF) {
      end++;
      middle += '\n';
    }
    this.start = start;
    this.end = end;
    this.middle = middle;
    this.active = true;
    this.startLine = this.base.positionAt(start).line;
    this.endLine = this.base.positionAt(end).line;
    const starts: number[] = [];
    for (let i = 0; i < middle.length; i++) {
      const c = middle.charCodeAt(i);
      if (c === CR && middle.charCodeAt(i + 1) === LF) i++;
      if (c === CR || c === LF) starts.push(i + 1);
    }
    this.middleLineStarts = starts;
  }
}
