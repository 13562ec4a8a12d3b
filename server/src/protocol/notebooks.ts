// Jupyter notebooks open in the editor, through LSP's notebook document sync
// (notebookDocument/didOpen, didChange, didSave, didClose; vscode-languageserver's
// NotebookDocuments keeps the notebooks and their cells' text documents).
//
// The code cells of one notebook are analysed as one module, joined and masked by
// analysis/notebook.ts exactly as `leaklens check` joins them (`joinCells`); the findings are
// mapped back to the cell each one starts in and published on that cell's URI with the cell's
// version. Every diagnostic carries the notebook's version: a code action for an older version
// offers nothing (the diagnostic is about to be re-published). Fixes are applied to the module and
// turned back into one edit per changed cell (`CellTracker`), so an edit never crosses a cell
// boundary nor touches masked IPython syntax, and an insertion where a cell begins goes to the
// end of the cell before, as with `--fix`.
//
// Notebooks are analysed whole on every change (no incremental analysis: a notebook's module is
// small); changes are coalesced with the text documents' (the server's `schedule`).
import { CodeAction, CodeActionKind, CodeActionParams, Connection, Diagnostic, NotebookCellKind, NotebookDocument, NotebookDocuments, Position, TextDocumentEdit } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { AnalyzedFinding, Analyzer } from '../analysis/engine';
import { applyEdits } from '../analysis/fixes';
import { withFileLineBreaks } from '../analysis/indentation';
import { cellAt, CellModule, CellTracker, findingsInCells, joinCells, ModuleCell, notebookMap } from '../analysis/notebook';
import { AnalysisOptions, Fix, OffsetEdit } from '../analysis/types';
import { isWasmTrap } from '../parsing/grammar';
import { Settings } from '../workspace/config';
import { FIX_ALL_KIND, minimalEdit, toDiagnostic, DiagnosticData } from './convert';

/** What the server asks the client to sync: Jupyter notebooks; their Python cells, and the others only so that cell numbers count every cell. */
export const NOTEBOOK_SELECTOR = [{ notebook: { notebookType: 'jupyter-notebook' }, cells: [{ language: 'python' }, { language: 'markdown' }, { language: 'raw' }] }];

/** A notebook cell's diagnostic data: the document's data plus the notebook version it was computed for. */
export interface CellDiagnosticData extends DiagnosticData {
  notebook: { uri: string; version: number };
}

interface CellView {
  uri: string;
  doc: TextDocument;
  cell: ModuleCell;
}

/** One notebook at one version: its module and the code cell behind each part of it. */
interface Snapshot {
  uri: string;
  version: number;
  module: CellModule;
  views: CellView[];
}

export class NotebookSync {
  readonly documents = new NotebookDocuments(TextDocument);
  /** Per notebook URI, the cell URIs that have diagnostics on screen. */
  private published = new Map<string, Set<string>>();
  /** The open notebooks (the library fires its close event while it still holds the notebook). */
  private open = new Set<string>();
  /** Notebooks whose text hit a WebAssembly trap, with that version: not analysed again until they change. */
  private trapped = new Map<string, number>();

  constructor(
    private readonly connection: Connection,
    private readonly analyzer: () => Analyzer | undefined,
    private readonly settingsFor: (uri: string) => Promise<{ settings: Settings }>,
    private readonly schedule: (uri: string) => void,
    /** The notebook was opened (its disk diagnostics go) or closed (they come back). */
    private readonly onOpened: (uri: string) => void,
    private readonly onClosed: (uri: string) => Promise<void>,
  ) {
    this.documents.onDidOpen((nb) => {
      this.open.add(nb.uri);
      this.onOpened(nb.uri);
      this.schedule(nb.uri);
    });
    this.documents.onDidChange((event) => this.schedule(event.notebookDocument.uri));
    this.documents.onDidClose((nb) => {
      this.open.delete(nb.uri);
      this.trapped.delete(nb.uri);
      this.clear(nb.uri);
      void this.onClosed(nb.uri).catch((err) => connection.console.error(`after closing ${nb.uri}: ${(err as Error).stack ?? err}`));
    });
    this.documents.listen(connection);
  }

  isOpen(uri: string): boolean {
    return this.open.has(uri);
  }

  /** The URIs of the open notebooks. */
  uris(): string[] {
    return [...this.open];
  }

  private snapshot(nb: NotebookDocument): Snapshot {
    const code: Array<{ index: number; source: string; uri: string; doc: TextDocument }> = [];
    nb.cells.forEach((cell, index) => {
      if (cell.kind !== NotebookCellKind.Code) return;
      const doc = this.documents.getCellTextDocument(cell);
      if (!doc || doc.languageId !== 'python') return;
      code.push({ index, source: doc.getText(), uri: cell.document, doc });
    });
    const module = joinCells(code);
    return { uri: nb.uri, version: nb.version, module, views: module.cells.map((cell, k) => ({ uri: code[k].uri, doc: code[k].doc, cell })) };
  }

  /** A module offset as a cell and a position in it; `isEnd`: the offset ends a range (one at a cell's start ends the cell before). */
  private at(snap: Snapshot, offset: number, isEnd = false): { view: CellView; position: Position } {
    const k = cellAt(notebookMap(snap.module), isEnd && offset > 0 ? offset - 1 : offset);
    const view = snap.views[k];
    const rel = Math.min(Math.max(offset - view.cell.start, 0), view.doc.getText().length);
    return { view, position: view.doc.positionAt(rel) };
  }

  private range(snap: Snapshot, start: number, end: number): { view: CellView; range: { start: Position; end: Position } } {
    const a = this.at(snap, start);
    let b = this.at(snap, Math.max(start, end), true);
    // A range reaching into a later cell stops at the end of its own.
    if (b.view !== a.view) b = { view: a.view, position: a.view.doc.positionAt(a.view.doc.getText().length) };
    return { view: a.view, range: { start: a.position, end: b.position } };
  }

  private diagnostic(snap: Snapshot, f: AnalyzedFinding, moduleDoc: TextDocument): { uri: string; diagnostic: Diagnostic } {
    const base = toDiagnostic(f, moduleDoc);
    const { view, range } = this.range(snap, f.start, f.end);
    const data: CellDiagnosticData = { ...(base.data as DiagnosticData), version: view.doc.version, notebook: { uri: snap.uri, version: snap.version } };
    const relatedInformation = f.related.map((r) => {
      const where = this.range(snap, r.start, r.end);
      return { location: { uri: where.view.uri, range: where.range }, message: r.message };
    });
    return { uri: view.uri, diagnostic: { ...base, range, relatedInformation, data } };
  }

  /** Analyses an open notebook at its current version and publishes every code cell's diagnostics. */
  async publish(uri: string): Promise<void> {
    const analyzer = this.analyzer();
    const nb = this.documents.getNotebookDocument(uri);
    if (!analyzer || !nb || !this.open.has(uri)) return;
    const version = nb.version;
    if (this.trapped.get(uri) === version) return; // reported when it trapped
    const { settings } = await this.settingsFor(uri);
    // Changed or closed while settings were fetched: the change scheduled another analysis.
    if (!this.open.has(uri) || this.documents.getNotebookDocument(uri) !== nb || nb.version !== version) return;
    const snap = this.snapshot(nb);
    const byCell = new Map<string, Diagnostic[]>(snap.views.map((v) => [v.uri, []]));
    if (snap.module.module.length > settings.maxFileSize) {
      this.connection.console.log(`skipped ${uri}: its code cells are larger than max-file-size (${settings.maxFileSize} bytes)`);
    } else if (snap.views.length) {
      let result;
      try {
        result = analyzer.analyzeText(snap.module.module, settings.options);
      } catch (err) {
        // The server recreates the runtime (and re-schedules every notebook): this text waits for a change.
        if (isWasmTrap(err)) this.trapped.set(uri, version);
        throw err;
      }
      this.trapped.delete(uri);
      if (result.skipReason) this.connection.console.log(`not analysed ${uri}: ${result.skipReason}`);
      for (const failure of result.ruleFailures ?? []) this.connection.console.error(`rule failed on ${uri}: ${failure}`);
      const moduleDoc = TextDocument.create(uri, 'python', version, snap.module.module);
      for (const f of findingsInCells(result.findings, snap.module)) {
        const { uri: cellUri, diagnostic } = this.diagnostic(snap, f, moduleDoc);
        byCell.get(cellUri)!.push(diagnostic);
      }
    }
    const before = this.published.get(uri) ?? new Set<string>();
    for (const cellUri of before) if (!byCell.has(cellUri)) void this.connection.sendDiagnostics({ uri: cellUri, diagnostics: [] });
    for (const view of snap.views) void this.connection.sendDiagnostics({ uri: view.uri, version: view.doc.version, diagnostics: byCell.get(view.uri)! });
    this.published.set(uri, new Set(byCell.keys()));
  }

  /** Clears the diagnostics of a closed notebook's cells. */
  private clear(uri: string): void {
    for (const cellUri of this.published.get(uri) ?? []) void this.connection.sendDiagnostics({ uri: cellUri, diagnostics: [] });
    this.published.delete(uri);
  }

  /**
   * The edits to the notebook's cells that a change of its module makes: `change` edits the module
   * through the tracker (or refuses, undefined); one minimal edit per changed cell, at its version.
   */
  private cellEdits(snap: Snapshot, change: (tracker: CellTracker) => string | undefined): TextDocumentEdit[] | undefined {
    const tracker = new CellTracker(snap.module);
    const fixed = change(tracker);
    if (fixed === undefined) return undefined;
    const sources = tracker.changedSources(fixed);
    const edits = snap.views.filter((v) => sources.has(v.cell.index)).map((v) => ({ textDocument: { uri: v.uri, version: v.doc.version }, edits: [minimalEdit(v.doc, sources.get(v.cell.index)!)] }));
    return edits.length ? edits : undefined;
  }

  private oneFix(snap: Snapshot, edits: readonly OffsetEdit[]): TextDocumentEdit[] | undefined {
    return this.cellEdits(snap, (tracker) => {
      if (tracker.refusal(edits)) return undefined;
      const out = applyEdits(snap.module.module, edits);
      tracker.apply(edits);
      return out;
    });
  }

  /** Code actions for a cell of an open notebook; undefined when the URI is no such cell. */
  async codeActions(params: CodeActionParams, wants: (kind: string) => boolean): Promise<CodeAction[] | undefined> {
    const nb = this.documents.findNotebookDocumentForCell(params.textDocument.uri);
    const analyzer = this.analyzer();
    if (!nb || !this.open.has(nb.uri)) return undefined;
    if (!analyzer) return [];
    const snap = this.snapshot(nb);
    const actions: CodeAction[] = [];
    if (wants(CodeActionKind.QuickFix)) {
      for (const diagnostic of params.context.diagnostics) {
        if (diagnostic.source !== 'leaklens') continue;
        const data = diagnostic.data as CellDiagnosticData | undefined;
        // Stale (an older notebook version): the diagnostic is about to be re-published.
        if (!data || !data.notebook || data.notebook.uri !== nb.uri || data.notebook.version !== snap.version) continue;
        for (const fix of (data.fixes ?? []).map((f: Fix) => withFileLineBreaks(snap.module.module, f))) {
          const edits = this.oneFix(snap, fix.edits);
          if (!edits) continue;
          actions.push({ title: fix.safety === 'safe' ? fix.title : `${fix.title} (unsafe)`, kind: CodeActionKind.QuickFix, diagnostics: [diagnostic], isPreferred: fix.safety === 'safe', edit: { documentChanges: edits } });
        }
        const ignore = data.ignore ? this.oneFix(snap, [data.ignore]) : undefined;
        if (ignore) actions.push({ title: `Ignore ${diagnostic.code} on this line`, kind: CodeActionKind.QuickFix, diagnostics: [diagnostic], edit: { documentChanges: ignore } });
      }
    }
    if (params.context.only && wants(FIX_ALL_KIND)) {
      const { settings } = await this.settingsFor(nb.uri);
      if (this.documents.getNotebookDocument(nb.uri) !== nb || nb.version !== snap.version) return actions;
      const edits = this.fixAll(analyzer, snap, settings.options);
      if (edits) actions.push({ title: 'Fix all LeakLens findings (safe fixes)', kind: FIX_ALL_KIND, edit: { documentChanges: edits } });
    }
    return actions;
  }

  /** Every safe fix the cells allow (none across a cell boundary or over a magic), as cell edits. */
  private fixAll(analyzer: Analyzer, snap: Snapshot, options: AnalysisOptions): TextDocumentEdit[] | undefined {
    return this.cellEdits(snap, (tracker) => {
      const fixed = analyzer.fixText(snap.module.module, options, false, { mayApply: (fix) => !tracker.refusal(fix.edits), applied: (edits) => tracker.apply(edits) });
      return fixed.applied > 0 ? fixed.text : undefined;
    });
  }
}
