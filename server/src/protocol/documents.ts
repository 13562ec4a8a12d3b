// Open documents: the LSP text (for position conversion) and its incrementally parsed tree.
import { Language } from 'web-tree-sitter';
import { TextDocumentContentChangeEvent } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { PreviousAnalysis, QuietText } from '../analysis/incremental';
import { ParsedDocument } from '../parsing/document';
import { PendingText } from './pending-text';

export class OpenDocument {
  private parsed: ParsedDocument | undefined;
  /** The last analysis published, the base of the next incremental one. */
  previous: PreviousAnalysis | undefined;
  /** What the last keystroke published without a parse read of the text (analysis/incremental.ts movedWithoutParse). */
  quiet: QuietText | undefined;
  /** False while the published findings come from an incremental analysis (see analysis/incremental.ts). */
  settled = true;
  /** When the first incremental result since the last whole-file analysis was published (performance.now()). */
  unsettledSince: number | undefined;
  /** The pending whole-file analysis once typing pauses. */
  settleTimer: ReturnType<typeof setTimeout> | undefined;

  /** Set when parsing or analysing this text hit a WebAssembly trap: not parsed again until it changes. */
  trapped: string | undefined;

  /**
   * Changes not yet given to the text and the tree (a burst is gathered here and rebuilt once, on
   * the next read of `lsp` or `parsedDocument`), and the version of the last of them.
   */
  private pending: PendingText | undefined;
  private pendingVersion: number | undefined;

  /** Call reparse() next: the first parse may trap, and the document must exist by then. */
  constructor(
    private language: Language,
    private committed: TextDocument,
    private maxSize: number,
  ) {}

  /** The LSP document of the current text (queued changes applied first). */
  get lsp(): TextDocument {
    this.commit();
    return this.committed;
  }

  /** The current text's lines and offsets, queued changes included, without rebuilding the text. */
  view(): PendingText {
    return (this.pending ??= new PendingText(this.committed));
  }

  /** The max-file-size in force for this document (its settings are known only after it opened). */
  get maxFileSize(): number {
    return this.maxSize;
  }

  /** Applies the document's max-file-size: parses it when it fits now, drops the tree when it no longer does. */
  setMaxFileSize(bytes: number): void {
    if (bytes === this.maxSize) return;
    const before = this.tooLarge;
    this.maxSize = bytes;
    if (this.tooLarge !== before || (!this.tooLarge && !this.parsed)) this.reparse();
  }

  get uri(): string {
    return this.committed.uri;
  }

  /** The version of the last change received (queued or not). */
  get version(): number {
    return this.pendingVersion ?? this.committed.version;
  }

  /** Undefined when the document is too large to analyse or its parse ran out of time. */
  get parsedDocument(): ParsedDocument | undefined {
    this.commit();
    return this.parsed;
  }

  /** Larger than max-file-size in UTF-8 bytes (as the file would be on disk). */
  get tooLarge(): boolean {
    const text = this.lsp.getText();
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: count only when the length leaves it open.
    if (text.length > this.maxSize) return true;
    if (text.length * 3 <= this.maxSize) return false;
    return Buffer.byteLength(text, 'utf8') > this.maxSize;
  }

  /**
   * Queues one notification's changes, in order: each range refers to the text the previous change
   * left. The text and the tree follow on the next read (commit).
   */
  applyChanges(changes: readonly TextDocumentContentChangeEvent[], version: number): void {
    const pending = this.view();
    for (const change of changes) pending.apply(change);
    this.pendingVersion = version;
  }

  /** Gives the queued changes to the LSP document and the parsed one: one copy of the text, one `tree.edit`. */
  private commit(): void {
    const pending = this.pending;
    if (!pending || pending.size === 0 || this.pendingVersion === undefined) return;
    const version = this.pendingVersion;
    this.pending = undefined;
    this.pendingVersion = undefined;
    const result = pending.result();
    const doc = this.committed;
    if (result.kind === 'full' || result.freshLines) {
      this.committed = TextDocument.create(doc.uri, doc.languageId, version, result.kind === 'full' ? result.text : pending.text());
    } else if (result.kind === 'single') {
      this.committed = TextDocument.update(doc, [result.change], version);
    } else {
      const { start, end, text } = result.edit;
      this.committed = TextDocument.update(doc, [{ range: { start: doc.positionAt(start), end: doc.positionAt(end) }, text }], version);
    }
    if (this.trapped) {
      this.trapped = undefined; // a new text: worth another try
      this.reparse();
    } else if (result.kind === 'full' || !this.parsed || this.tooLarge) {
      this.reparse();
    } else {
      this.parsed.update([result.edit], this.committed.getText());
    }
  }

  dispose(): void {
    this.pending = undefined;
    this.pendingVersion = undefined;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.previous = undefined;
    this.quiet = undefined;
    this.parsed?.dispose();
    this.parsed = undefined;
  }

  /**
   * Before the WebAssembly runtime is recreated: the tree goes (deleted while the old runtime can
   * still do it; abandoned if it cannot). rebuild() parses again on the new runtime.
   */
  dropTree(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.previous = undefined;
    try {
      this.parsed?.dispose();
    } catch {
      // the broken runtime may trap again: the tree is abandoned with it
    }
    this.parsed = undefined;
  }

  /** After the runtime was recreated: parse with the new language (unless this text trapped). */
  rebuild(language: Language): void {
    this.language = language;
    if (!this.trapped) this.reparse();
  }

  reparse(): void {
    this.previous = undefined;
    this.quiet = undefined;
    this.parsed?.dispose();
    this.parsed = this.tooLarge ? undefined : new ParsedDocument(this.language, this.lsp.getText());
  }
}
