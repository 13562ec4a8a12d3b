// Jupyter notebooks in the language server (issue 17): the real server over stdio, driven with
// LSP's notebook document sync as VS Code's client sends it (notebookDocument/didOpen with the
// cells' text documents, didChange with text edits and structure changes, didSave, didClose).
// The code cells of one notebook are one module; diagnostics, quick fixes and fix-all are per
// cell document. A closed notebook on disk is published on its file URI (the workspace scan).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import type { CodeAction, Diagnostic, TextDocumentEdit } from 'vscode-languageserver';
import { applyTextEdits, codes, LspClient, ROOT, withServer } from './helpers/lsp-client';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'notebooks');
const scratch = mkdtempSync(join(tmpdir(), 'leaklens-lsp-notebook-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const CODE = 2;
const MARKUP = 1;

interface Cell {
  kind: number;
  uri: string;
  text: string;
  version: number;
  languageId: string;
}

let notebooks = 0;

/** A notebook as VS Code's client describes it: the cells of an .ipynb file, each with a cell URI. */
function cellsOf(path: string): Cell[] {
  const nb = JSON.parse(readFileSync(path, 'utf8')) as { cells: Array<{ cell_type: string; source: string | string[] }> };
  return nb.cells.map((c, i) => ({
    kind: c.cell_type === 'code' ? CODE : MARKUP,
    uri: `vscode-notebook-cell:${path}#cell${i + 1}`,
    text: Array.isArray(c.source) ? c.source.join('') : c.source,
    version: 1,
    languageId: c.cell_type === 'code' ? 'python' : c.cell_type === 'markdown' ? 'markdown' : 'raw',
  }));
}

class Notebook {
  version = 1;
  constructor(
    readonly client: LspClient,
    readonly uri: string,
    readonly cells: Cell[],
  ) {}

  static async open(client: LspClient, cells: Cell[], uri = `file://${scratch}/nb${++notebooks}.ipynb`): Promise<Notebook> {
    const nb = new Notebook(client, uri, cells);
    await client.notify('notebookDocument/didOpen', {
      notebookDocument: { uri, notebookType: 'jupyter-notebook', version: nb.version, cells: cells.map((c) => ({ kind: c.kind, document: c.uri })) },
      cellTextDocuments: cells.map((c) => ({ uri: c.uri, languageId: c.languageId, version: c.version, text: c.text })),
    });
    return nb;
  }

  cell(n: number): Cell {
    return this.cells[n - 1];
  }

  /** Replaces a cell's whole text (as one ranged change, the way an editor sends a paste). */
  async setText(n: number, text: string): Promise<void> {
    const cell = this.cell(n);
    const lines = cell.text.split('\n');
    const range = { start: { line: 0, character: 0 }, end: { line: lines.length - 1, character: lines[lines.length - 1].length } };
    cell.text = text;
    cell.version++;
    this.version++;
    await this.client.notify('notebookDocument/didChange', {
      notebookDocument: { uri: this.uri, version: this.version },
      change: { cells: { textContent: [{ document: { uri: cell.uri, version: cell.version }, changes: [{ range, text }] }] } },
    });
  }

  /** Removes `deleteCount` cells at the 0-based `start` and inserts `added` there. */
  async splice(start: number, deleteCount: number, added: Cell[] = []): Promise<Cell[]> {
    const removed = this.cells.splice(start, deleteCount, ...added);
    this.version++;
    await this.client.notify('notebookDocument/didChange', {
      notebookDocument: { uri: this.uri, version: this.version },
      change: {
        cells: {
          structure: {
            array: { start, deleteCount, cells: added.map((c) => ({ kind: c.kind, document: c.uri })) },
            didOpen: added.map((c) => ({ uri: c.uri, languageId: c.languageId, version: c.version, text: c.text })),
            didClose: removed.map((c) => ({ uri: c.uri })),
          },
        },
      },
    });
    return removed;
  }

  close(): Promise<void> {
    return this.client.notify('notebookDocument/didClose', { notebookDocument: { uri: this.uri }, cellTextDocuments: this.cells.map((c) => ({ uri: c.uri })) });
  }

  /** The diagnostics of a cell at its current version (waits for them). */
  async diagnostics(n: number): Promise<Diagnostic[]> {
    const cell = this.cell(n);
    return (await this.client.diagnosticsFor(cell.uri, cell.version)).diagnostics;
  }

  /** Cell `n`'s diagnostics computed for the notebook's current version (a cell an edit elsewhere changed keeps its own version). */
  async current(n: number): Promise<Diagnostic[]> {
    const cell = this.cell(n);
    const p = await this.client.waitForDiagnostics(cell.uri, (q) => q.version === cell.version && q.diagnostics.length > 0 && q.diagnostics.every((d) => (d.data as { notebook?: { version: number } }).notebook?.version === this.version));
    return p.diagnostics;
  }

  /** How many publications each cell has had so far (for `after`). */
  mark(): Map<string, number> {
    return new Map(this.cells.map((c) => [c.uri, this.client.published.get(c.uri)?.length ?? 0]));
  }

  /** The first publication for cell `n` after `mark` (a structure change leaves cell versions alone). */
  async after(mark: Map<string, number>, n: number): Promise<Diagnostic[]> {
    const uri = this.cell(n).uri;
    const seen = mark.get(uri) ?? 0;
    await this.client.waitForDiagnostics(uri, () => (this.client.published.get(uri)?.length ?? 0) > seen);
    return this.client.published.get(uri)![seen].diagnostics;
  }

  /** Waits until every code cell has diagnostics of its current version; returns them by cell number. */
  async all(): Promise<Map<number, Diagnostic[]>> {
    const out = new Map<number, Diagnostic[]>();
    for (let n = 1; n <= this.cells.length; n++) if (this.cell(n).kind === CODE) out.set(n, await this.diagnostics(n));
    return out;
  }

  /** Applies a workspace edit's cell edits to this notebook's cells (checking their versions), as the editor would. */
  async apply(action: CodeAction): Promise<number[]> {
    const changed: number[] = [];
    for (const change of (action.edit?.documentChanges ?? []) as TextDocumentEdit[]) {
      const n = this.cells.findIndex((c) => c.uri === change.textDocument.uri) + 1;
      assert.ok(n > 0, `an edit for ${change.textDocument.uri}, which is no cell of this notebook`);
      assert.equal(change.textDocument.version, this.cell(n).version, 'the edit is for the current version of the cell');
      changed.push(n);
    }
    for (const n of changed) {
      const change = ((action.edit?.documentChanges ?? []) as TextDocumentEdit[]).find((c) => c.textDocument.uri === this.cell(n).uri)!;
      await this.setText(n, applyTextEdits(this.cell(n).text, change.edits as never));
    }
    return changed;
  }
}

const ANALYSIS = join(FIXTURES, 'analysis.ipynb');

/** Code action request for a cell and its LeakLens diagnostics. */
async function actionsFor(client: LspClient, cell: Cell, diagnostics: Diagnostic[], only?: string[]): Promise<CodeAction[]> {
  const range = diagnostics[0]?.range ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return ((await client.codeAction(cell.uri, range, { diagnostics, ...(only ? { only } : {}) })) ?? []) as CodeAction[];
}

describe('notebooks over LSP notebook sync', () => {
  test('initialize advertises notebook sync for Jupyter notebooks', async () => {
    const client = LspClient.spawn();
    try {
      const init = await client.initialize();
      const sync = init.capabilities.notebookDocumentSync as { notebookSelector: Array<{ notebook: { notebookType: string }; cells: Array<{ language: string }> }> };
      assert.equal(sync.notebookSelector[0].notebook.notebookType, 'jupyter-notebook');
      assert.ok(sync.notebookSelector[0].cells.some((c) => c.language === 'python'));
    } finally {
      client.kill();
    }
  });

  test('open: the code cells are one module; diagnostics per cell, positions in the cell, magics and %%bash give nothing', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      const all = await nb.all();
      assert.deepEqual([...all].map(([n, d]) => [n, codes(d)]), [
        [2, []],
        [3, ['LL101']],
        [5, ['LL201']],
        [6, []],
        [7, ['LL401']],
        [8, []],
        [9, ['LL401']],
      ]);
      const ll101 = all.get(3)![0];
      assert.deepEqual(ll101.range, { start: { line: 0, character: 6 }, end: { line: 0, character: 26 } });
      assert.equal(client.lastPublished(nb.cell(3).uri)!.version, 1);
      // Markdown cells get nothing at all.
      assert.equal(client.published.get(nb.cell(1).uri), undefined);
    });
  });

  test('a name used across cells: defined in one cell, closed in a later one — and reordered', async () => {
    await withServer(async (client) => {
      const cell = (n: number, text: string): Cell => ({ kind: CODE, uri: `vscode-notebook-cell:/x/order.ipynb#c${n}-${Math.random()}`, text, version: 1, languageId: 'python' });
      const nb = await Notebook.open(client, [cell(1, 'h = open("data.txt")'), cell(2, 'h.close()')]);
      assert.deepEqual(codes(await nb.diagnostics(1)), [], 'closed in the next cell');
      // The closing cell moves above the opening one: the file is now never closed after it opens.
      const [moved] = await nb.splice(1, 1);
      const again = { ...moved, uri: moved.uri + '-moved', version: 1 };
      await client.waitForDiagnostics(nb.cell(1).uri, (p) => codes(p.diagnostics).join() === 'LL101');
      const mark = nb.mark();
      await nb.splice(0, 0, [again]);
      assert.deepEqual(codes(await nb.after(mark, 2)), ['LL101']);
      assert.deepEqual(codes(client.lastPublished(nb.cell(1).uri)!.diagnostics), []);
    });
  });

  test('edit a cell: only the newest version is published; the other cells keep their findings', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      await nb.all();
      // Two edits back to back: the first version's diagnostics must never arrive after the second's.
      await nb.setText(3, 'log = open("run.log", "w")\nlog.write("start\\n")\nlog.flush()');
      await nb.setText(3, 'log = open("run.log", "w")\nlog.write("start\\n")\nlog.close()');
      assert.deepEqual(codes(await nb.diagnostics(3)), []);
      const versions = client.published.get(nb.cell(3).uri)!.map((p) => p.version);
      assert.deepEqual(versions, [...versions].sort((a, b) => a! - b!), 'versions only grow');
      assert.equal(versions.at(-1), 3);
      assert.deepEqual(codes(await nb.diagnostics(5)), ['LL201']);
    });
  });

  test('add and remove cells: a new cell is analysed with the rest, a removed one is cleared', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      await nb.all();
      const added: Cell = { kind: CODE, uri: `vscode-notebook-cell:${ANALYSIS}#added`, text: 'cache = open("cache.bin", "rb")', version: 1, languageId: 'python' };
      const mark = nb.mark();
      await nb.splice(1, 0, [added]);
      assert.deepEqual(codes(await nb.diagnostics(2)), ['LL101']);
      // The cells after it moved down by one and keep their findings, published again.
      assert.deepEqual(codes(await nb.after(mark, 4)), ['LL101']);
      assert.deepEqual(codes(await nb.after(mark, 10)), ['LL401']);
      // Removing the cell that defines PADDING: its diagnostics are cleared.
      const paddingCell = nb.cell(8);
      assert.match(paddingCell.text, /^PADDING = /);
      const mark2 = nb.mark();
      await nb.splice(7, 1);
      await client.waitForDiagnostics(paddingCell.uri, (p) => p.diagnostics.length === 0);
      assert.deepEqual(codes(await nb.after(mark2, 9)), ['LL401'], 'SQUARES, now in cell 9');
    });
  });

  test('quick fix in a cell edits that cell; LL401\'s `del` goes after the last use, in its cell; stale data gets nothing', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      const ll101 = (await nb.diagnostics(3))[0];
      const actions = await actionsFor(client, nb.cell(3), [ll101]);
      const withFix = actions.find((a) => /with/.test(a.title))!;
      assert.ok(withFix, actions.map((a) => a.title).join('; '));
      assert.deepEqual(await nb.apply(withFix), [3]);
      // The line break the module adds after a cell is not written into it.
      assert.equal(nb.cell(3).text, 'with open("run.log", "w") as log:\n    log.write("start\\n")');
      assert.deepEqual(codes(await nb.diagnostics(3)), []);
      // The old diagnostic (older notebook version) gets no action.
      assert.deepEqual(await actionsFor(client, nb.cell(3), [ll101]), []);
      // Ignore on this line: a comment in the cell itself.
      const ll201 = (await nb.diagnostics(5))[0];
      const ignore = (await actionsFor(client, nb.cell(5), [ll201])).find((a) => /^Ignore LL201/.test(a.title))!;
      assert.deepEqual(await nb.apply(ignore), [5]);
      assert.match(nb.cell(5).text.split('\n')[0], /# leaklens: ignore\[LL201\]$/);
      // LL401 on a notebook global: `del PADDING` is offered, and lands after its last use (cell 8).
      const ll401 = (await nb.current(7))[0];
      const del = (await actionsFor(client, nb.cell(7), [ll401])).find((a) => /^Delete `PADDING` after its last use/.test(a.title));
      assert.ok(del, 'a del fix for the notebook global');
      assert.deepEqual(await nb.apply(del!), [8]);
      assert.equal(nb.cell(8).text.split('\n')[1], 'del PADDING');
      await client.waitForDiagnostics(nb.cell(7).uri, (p) => p.diagnostics.length === 0);
    });
  });

  test('fix-all: every safe fix, each in its own cell; the magics are untouched', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      await nb.all();
      const actions = await actionsFor(client, nb.cell(2), [], ['source.fixAll.leaklens']);
      assert.equal(actions.length, 1);
      const magics = nb.cell(2).text;
      const changed = await nb.apply(actions[0]);
      assert.deepEqual(changed, [3, 9]);
      assert.equal(nb.cell(2).text, magics);
      assert.match(nb.cell(3).text, /^with open/);
      assert.equal(nb.cell(9).text, 'SQUARES = (i * i for i in range(N))\nTOTAL = sum(SQUARES)\n');
    });
  });

  test('close: the cells\' diagnostics are cleared; didSave is accepted', async () => {
    await withServer(async (client) => {
      const nb = await Notebook.open(client, cellsOf(ANALYSIS));
      await nb.all();
      await client.notify('notebookDocument/didSave', { notebookDocument: { uri: nb.uri } });
      await nb.close();
      for (const n of [3, 5, 7, 9]) await client.waitForDiagnostics(nb.cell(n).uri, (p) => p.diagnostics.length === 0);
    });
  });

  test('a WebAssembly trap in a notebook: reported once, the runtime recreated, other documents analysed; the notebook again once it changes', async () => {
    const TRAP = 'leaklens-test-trap-here';
    const client = LspClient.spawn({ env: { LEAKLENS_TEST_WASM_TRAP: TRAP } });
    try {
      await client.initialize();
      const cell = (n: number, text: string): Cell => ({ kind: CODE, uri: `vscode-notebook-cell:/x/trap.ipynb#t${n}`, text, version: 1, languageId: 'python' });
      const nb = await Notebook.open(client, [cell(1, `# ${TRAP}`), cell(2, 'h = open("x")')], 'file:///x/trap.ipynb');
      await client.waitForLog(/the WebAssembly runtime was recreated after a trap/);
      // Another document is analysed; the trapping notebook is not retried in a loop.
      await client.open('file:///x/other.py', 'def f(x=[]):\n    x.append(1)\n    return 1 if x else 0\n', 1);
      assert.deepEqual(codes((await client.diagnosticsFor('file:///x/other.py', 1)).diagnostics), ['LL201']);
      const traps = client.logs.filter((l) => /not analysed file:\/\/\/x\/trap\.ipynb: WebAssembly trap/.test(l)).length;
      assert.equal(traps, 1, client.describe());
      await nb.setText(1, '# fine now');
      assert.deepEqual(codes(await nb.diagnostics(2)), ['LL101']);
    } finally {
      client.kill();
    }
  });

  test('workspace: a closed notebook is published on its file; opened, its cells take over; closed again, the file', async () => {
    const dir = mkdtempSync(join(scratch, 'ws-'));
    const path = join(dir, 'analysis.ipynb');
    copyFileSync(ANALYSIS, path);
    const fileUri = pathToFileURL(path).toString();
    const client = LspClient.spawn();
    try {
      await client.initialize({ folders: [dir] });
      const disk = await client.waitForDiagnostics(fileUri, (p) => p.diagnostics.length > 0, 30_000);
      assert.deepEqual(codes(disk.diagnostics), ['LL101', 'LL201', 'LL401', 'LL401']);
      // Cell and line in the message; the range is the source line in the notebook's JSON.
      assert.match(disk.diagnostics[0].message as string, /\(cell 3, line 1\)$/);
      const json = readFileSync(path, 'utf8').split('\n');
      assert.match(json[disk.diagnostics[0].range.start.line], /"log = open\(\\"run\.log\\", \\"w\\"\)\\n",/);
      const nb = await Notebook.open(client, cellsOf(path), fileUri);
      assert.deepEqual(codes(await nb.diagnostics(3)), ['LL101']);
      await client.waitForDiagnostics(fileUri, (p) => p.diagnostics.length === 0);
      await nb.close();
      const back = await client.waitForDiagnostics(fileUri, (p) => p.diagnostics.length > 0, 30_000);
      assert.deepEqual(codes(back.diagnostics), ['LL101', 'LL201', 'LL401', 'LL401']);
      for (const n of [3, 5, 7, 9]) await client.waitForDiagnostics(nb.cell(n).uri, (p) => p.diagnostics.length === 0);
    } finally {
      client.kill();
    }
  });
});
