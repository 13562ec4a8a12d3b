// The only owner of tree-sitter trees. A ParsedDocument holds the text and its current tree,
// applies content changes one at a time (each change's offsets refer to the text left by the
// previous change), reparses incrementally, and deletes every tree it replaces.
import { Edit, Language, Parser, Point, Tree } from 'web-tree-sitter';

/** A change in UTF-16 offsets of the text it applies to (the same unit as LSP and tree-sitter). */
export interface TextChange {
  start: number;
  end: number;
  text: string;
}

/**
 * Tree-sitter ends lines (and comments) only at '\n', while Python and LSP also break lines at a
 * lone '\r'. The parser and the rules therefore see the text with every lone '\r' turned into
 * '\n': same length, same offsets, Python's own line structure.
 */
export function normalizeLineBreaks(text: string): string {
  return text.indexOf('\r') === -1 ? text : text.replace(/\r(?!\n)/g, '\n');
}

/** One applied change: offsets before (`start`..`oldEnd`) and after (`start`..`newEnd`) it. */
export interface AppliedEdit {
  start: number;
  oldEnd: number;
  newEnd: number;
  /** Line breaks inserted minus line breaks removed. */
  lineDelta: number;
  /** The text it replaced (of the parsed text: lone CRs read as LF). */
  removed?: string;
}

/** A half-open offset range. */
export interface OffsetRange {
  start: number;
  end: number;
}

/** What changed since the last `takeChanges()`: the edits in the order applied, and where the text or tree differs now. */
export interface ChangeSummary {
  edits: AppliedEdit[];
  /** Ranges of the current text whose text or syntax changed (edited text and tree-sitter's changed ranges), possibly overlapping. */
  dirty: OffsetRange[];
}

/** Maps a range of the text before `edit` to the text after it, widening it over the edit when they meet. */
function mapRange(range: OffsetRange, edit: AppliedEdit): OffsetRange {
  const delta = edit.newEnd - edit.oldEnd;
  if (range.end < edit.start) return range;
  if (range.start > edit.oldEnd) return { start: range.start + delta, end: range.end + delta };
  return { start: Math.min(range.start, edit.start), end: Math.max(range.end + delta, edit.newEnd) };
}

/**
 * The parse budget, counted in tree-sitter progress reports (one per hundred parser operations,
 * so the same text always stops at the same point, whatever the machine or its load): a parse
 * that needs more is cancelled and the previous tree kept. Ordinary Python needs about one
 * report per 20 characters; error recovery on garbage needs much more.
 */
export const PARSE_BUDGET_BASE = 20_000;
export const PARSE_BUDGET_PER_CHAR = 4;

export function parseBudget(textLength: number): number {
  return PARSE_BUDGET_BASE + PARSE_BUDGET_PER_CHAR * textLength;
}

/** The parse of a text ran out of its budget (see PARSE_BUDGET_PER_CHAR and COMMENT_SCAN_BUDGET_BASE). */
export class ParseBudgetExceeded extends Error {
  constructor(why = 'the text is too large or too garbled to parse') {
    super(`the parse ran out of its work budget (${why})`);
    this.name = 'ParseBudgetExceeded';
  }
}

/**
 * Work the progress reports do not see: tree-sitter-python's scanner, at every line break in a
 * run of comment (and blank) lines, reads ahead over the rest of the run to find the next
 * line's indentation, so a run of K comment lines of C characters costs about K·C/2 character
 * reads while the parser itself reports progress only once per hundred tokens: 2 000 lines of
 * 100-character comments take 11 s, a 3 MB file of them does not finish. That cost is counted
 * from the text before parsing (deterministic, linear), and a text over the budget is not parsed.
 * About 40 ns a read: the base allows ≈ 1.5 s, whatever the file; real files need far less (a
 * 100-line licence header, 4 000 characters, costs 0.2 M).
 */
export const COMMENT_SCAN_BUDGET_BASE = 30_000_000;
export const COMMENT_SCAN_BUDGET_PER_CHAR = 10;

/** The scanner's read-ahead over runs of comment lines (see COMMENT_SCAN_BUDGET_BASE), in characters. */
export function commentScanCost(text: string): number {
  let cost = 0;
  // Per run: the comment lines' starts, and where the run ends.
  let starts: number[] = [];
  const flush = (end: number) => {
    for (const s of starts) cost += end - s;
    starts = [];
  };
  let at = 0;
  const n = text.length;
  while (at < n) {
    let nl = text.indexOf('\n', at);
    if (nl === -1) nl = n;
    let i = at;
    while (i < nl && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9 || text.charCodeAt(i) === 12 || text.charCodeAt(i) === 13)) i++;
    if (i < nl && text.charCodeAt(i) === 35) starts.push(at);
    else if (i < nl) flush(at); // a line of code ends the run
    at = nl + 1;
  }
  flush(n);
  return cost;
}

export function commentScanBudget(textLength: number): number {
  return COMMENT_SCAN_BUDGET_BASE + COMMENT_SCAN_BUDGET_PER_CHAR * textLength;
}

/** Tree-sitter's point for an offset: rows count '\n' only, columns are UTF-16 units. */
export function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  let i = text.indexOf('\n');
  while (i !== -1 && i < offset) {
    row++;
    lineStart = i + 1;
    i = text.indexOf('\n', lineStart);
  }
  return { row, column: offset - lineStart };
}

/** The number of line breaks in text[from, to) of a normalized text ('\n' only, '\r\n' once). */
function lineBreaks(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function advance(start: Point, inserted: string): Point {
  let row = start.row;
  let column = start.column;
  let last = -1;
  for (let i = inserted.indexOf('\n'); i !== -1; i = inserted.indexOf('\n', i + 1)) {
    row++;
    last = i;
  }
  column = last === -1 ? column + inserted.length : inserted.length - last - 1;
  return { row, column };
}

const parsers = new WeakMap<Language, Parser>();

/** Parsing is synchronous, so one parser per language serves every document of the process. */
function sharedParser(language: Language): Parser {
  let parser = parsers.get(language);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(language);
    parsers.set(language, parser);
  }
  return parser;
}

/**
 * TEST ONLY: with LEAKLENS_TEST_WASM_TRAP set, parsing a text that contains its value first
 * points the shared parser at an address outside the WebAssembly memory, so that this parse and
 * every later one on that parser trap ("memory access out of bounds") — what a real trap does to
 * the module it happens in — until the runtime is recreated (grammar.ts `reloadPython`). No
 * input is known to trap the grammar today; test/robustness-files.test.ts and
 * test/robustness.test.ts use this to show that a trap costs only its own file.
 */
const TRAP_ON = process.env.LEAKLENS_TEST_WASM_TRAP;

function poisonForTest(parser: Parser, text: string): void {
  if (TRAP_ON && text.includes(TRAP_ON)) (parser as unknown as { 0: number })[0] = 0x7ffffff0;
}

export class ParsedDocument {
  private parser: Parser;
  private currentTree: Tree | undefined;
  private disposed = false;
  private normalized: string;
  /** Changes since the last takeChanges(); undefined after a full parse (everything changed). */
  private changes: ChangeSummary | undefined;

  /** `budget`: progress reports a parse may take (default: parseBudget of the text's length). */
  constructor(language: Language, private currentText: string, private readonly budget?: number) {
    this.parser = sharedParser(language);
    this.normalized = normalizeLineBreaks(currentText);
    this.currentTree = this.parse(undefined);
  }

  /** The document's text as given. */
  get text(): string {
    return this.currentText;
  }

  /** The text the tree describes (lone '\r' read as '\n'); analyse this one. */
  get parsedText(): string {
    return this.normalized;
  }

  /**
   * The tree of the current text, or undefined when the parse ran out of its budget. Edits since
   * the last parse are parsed here, once, however many updates brought them. Valid until the next
   * update.
   */
  get tree(): Tree | undefined {
    if (this.stale) this.reparseEdited();
    return this.currentTree;
  }

  /**
   * The tree of the last parse with the edits since applied by `tree.edit`, without parsing: its
   * nodes' offsets are those of the current text, its structure the last parse's. For reading
   * only, within the caller's turn (the next update or read of `tree` replaces it).
   */
  get editedTree(): Tree | undefined {
    return this.currentTree;
  }

  /** True while updates wait for their parse (the next `tree`). */
  get parsePending(): boolean {
    return this.stale;
  }

  /**
   * Applies the changes in order: the text, and `tree.edit` on the current tree for each. The parse
   * waits for the next `tree`, so a burst of updates is parsed once. `after`, with one change: the
   * text it leaves, which the caller already holds (one copy of a large document instead of two).
   */
  update(changes: readonly TextChange[], after?: string): void {
    if (this.disposed) throw new Error('document disposed');
    let text = this.currentText;
    let normalized = this.normalized;
    const tree = this.currentTree;
    const summary = this.changes;
    for (const change of changes) {
      const a = Math.max(0, Math.min(change.start, text.length));
      const b = Math.max(0, Math.min(change.end, text.length));
      const start = Math.min(a, b);
      const end = Math.max(a, b);
      // `after`: the caller's copy of the text the one change leaves (shared, not built again).
      text = after !== undefined && changes.length === 1 ? after : text.slice(0, start) + change.text + text.slice(end);
      // A '\r' just before the change may turn from lone into half of '\r\n' (or back), so the
      // edit given to the tree starts there.
      const editStart = start > 0 && text.charCodeAt(start - 1) === 13 ? start - 1 : start;
      const next = normalizeLineBreaks(text);
      if (tree) {
        const startPosition = this.pointOf(normalized, editStart);
        const oldEndPosition = advance(startPosition, normalized.slice(editStart, end));
        const newEnd = start + change.text.length;
        tree.edit(
          new Edit({
            startIndex: editStart,
            oldEndIndex: end,
            newEndIndex: newEnd,
            startPosition,
            oldEndPosition,
            newEndPosition: advance(startPosition, next.slice(editStart, newEnd)),
          }),
        );
      }
      if (summary) {
        const newEnd = start + change.text.length;
        const applied = { start: editStart, oldEnd: end, newEnd, lineDelta: lineBreaks(next, editStart, newEnd) - lineBreaks(normalized, editStart, end), removed: normalized.slice(editStart, end) };
        summary.edits.push(applied);
        summary.dirty = summary.dirty.map((r) => mapRange(r, applied));
        summary.dirty.push({ start: applied.start, end: applied.newEnd });
      }
      normalized = next;
    }
    this.currentText = text;
    this.normalized = normalized;
    this.stale = true;
  }

  /**
   * A line start of the normalized text and its row, from which `pointOf` counts rows instead of
   * from the start of the text. Every change begins at or after it (it is set to the line of the
   * change's start), so the text before it never changes: a burst of edits in one place costs no
   * scan of the whole text per edit.
   */
  private rowHint = { lineStart: 0, row: 0 };

  private pointOf(text: string, offset: number): Point {
    let { row, lineStart } = offset >= this.rowHint.lineStart ? this.rowHint : { row: 0, lineStart: 0 };
    for (let i = text.indexOf('\n', lineStart); i !== -1 && i < offset; i = text.indexOf('\n', lineStart)) {
      row++;
      lineStart = i + 1;
    }
    this.rowHint = { lineStart, row };
    return { row, column: offset - lineStart };
  }

  /** Edits applied since the last parse (`tree.edit` done, the parse not yet). */
  private stale = false;

  private reparseEdited(): void {
    this.stale = false;
    const tree = this.currentTree;
    const summary = this.changes;
    const next = this.parse(tree);
    if (summary && tree && next) {
      for (const r of tree.getChangedRanges(next)) summary.dirty.push({ start: r.startIndex, end: r.endIndex });
    } else {
      this.changes = undefined;
    }
    if (tree && tree !== next) tree.delete();
    this.currentTree = next;
  }

  /**
   * The changes since the previous call (which starts a new record), or undefined when they are
   * not known: the first parse, a full replacement, or a parse that ran out of time.
   */
  takeChanges(): ChangeSummary | undefined {
    if (this.stale) this.reparseEdited();
    const taken = this.changes;
    this.changes = this.currentTree ? { edits: [], dirty: [] } : undefined;
    return taken;
  }

  /**
   * The record `takeChanges()` would return, read without parsing and without starting a new
   * record (undefined when the changes are not known). While a parse is pending, its `dirty`
   * ranges are the edits only (tree-sitter's changed ranges come with the parse); the object is
   * the same until the next `takeChanges()`, and its lists grow with each update.
   */
  get pendingChanges(): Readonly<ChangeSummary> | undefined {
    return this.changes;
  }

  /** Replaces the whole text (a full-sync change) with a fresh parse. */
  replace(text: string): void {
    this.stale = false;
    this.rowHint = { lineStart: 0, row: 0 };
    this.changes = undefined;
    this.currentText = text;
    this.normalized = normalizeLineBreaks(text);
    const old = this.currentTree;
    this.currentTree = this.parse(undefined);
    old?.delete();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stale = false;
    this.currentTree?.delete();
    this.currentTree = undefined;
  }

  /** Why the last parse gave no tree (the budget it ran out of), or undefined. */
  budgetExceeded: string | undefined;

  private parse(old: Tree | undefined): Tree | undefined {
    this.budgetExceeded = undefined;
    const scan = commentScanCost(this.normalized);
    if (scan > commentScanBudget(this.normalized.length)) {
      this.budgetExceeded = `its runs of comment lines would take the parser about ${Math.round(scan / 1e6)} million character reads`;
      return undefined;
    }
    const limit = this.budget ?? parseBudget(this.normalized.length);
    let reports = 0;
    poisonForTest(this.parser, this.normalized);
    const tree = this.parser.parse(this.normalized, old ?? null, {
      // Returning true cancels the parse (the typings say void).
      progressCallback: (() => ++reports > limit) as unknown as () => void,
    });
    // A cancelled parse would otherwise resume on this shared parser's next parse of any text.
    if (!tree) {
      this.parser.reset();
      this.budgetExceeded = 'the text is too large or too garbled to parse';
    }
    return tree ?? undefined;
  }
}

/** Parses text once, hands the tree (and the text it describes) to fn, and always deletes it. */
export function withTree<T>(language: Language, text: string, fn: (tree: Tree | undefined, parsedText: string, why?: string) => T, budget?: number): T {
  const doc = new ParsedDocument(language, text, budget);
  try {
    return fn(doc.tree, doc.parsedText, doc.budgetExceeded);
  } finally {
    doc.dispose();
  }
}
