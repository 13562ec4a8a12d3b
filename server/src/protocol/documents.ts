// Open documents: the LSP text (for position conversion) and its incrementally parsed tree.
import { Language } from 'web-tree-sitter';
import { TextDocumentContentChangeEvent } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { PreviousAnalysis, QuietText } from '../analysis/incremental';
import { ParsedDocument, TextChange } from '../parsing/document';

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

  /** Call reparse() next: the first parse may trap, and the document must exist by then. */
  constructor(
    private language: Language,
    public lsp: TextDocument,
    private maxSize: number,
  ) {}

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
    return this.lsp.uri;
  }

  get version(): number {
    return this.lsp.version;
  }

  /** Undefined when the document is too large to analyse or its parse ran out of time. */
  get parsedDocument(): ParsedDocument | undefined {
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

  /** Applies one notification's changes in order: each range refers to the text the previous change left. */
  applyChanges(changes: readonly TextDocumentContentChangeEvent[], version: number): void {
    const edits: TextChange[] = [];
    let full = false;
    for (const change of changes) {
      if ('range' in change) {
        // A reversed range is taken as its well-formed counterpart, as TextDocument does.
        const a = this.lsp.offsetAt(change.range.start);
        const b = this.lsp.offsetAt(change.range.end);
        edits.push({ start: Math.min(a, b), end: Math.max(a, b), text: change.text });
      } else {
        full = true;
        edits.length = 0;
      }
      this.lsp = TextDocument.update(this.lsp, [change], version);
    }
    if (this.trapped) {
      this.trapped = undefined; // a new text: worth another try
      this.reparse();
    } else if (full || !this.parsed || this.tooLarge) {
      this.reparse();
    } else {
      this.parsed.update(edits);
    }
  }

  dispose(): void {
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
