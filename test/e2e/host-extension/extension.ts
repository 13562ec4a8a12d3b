// A test extension that runs INSIDE VS Code's extension host, next to the installed LeakLens.
// It acts only in a window whose workspace folder holds `leaklens-e2e.json` ({"results": path}):
// it drives the editor through the public API (open documents, read diagnostics, ask for code
// actions, apply their edits, save, type) and writes what it observed to the results file as
// JSON. test/e2e/vscode.e2e.ts makes the assertions. Every wait is bounded; nothing sleeps.
//
// `vscode` is required inside activate(): `node --test out/test/` loads every compiled file under
// out/test/, and this one must load there without VS Code (it then does nothing).
import type * as vscodeApi from 'vscode';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const MARKER = 'leaklens-e2e.json';

export interface Observation {
  ok: boolean;
  ms: number;
  value?: unknown;
  error?: string;
}

export interface HostResults {
  done: boolean;
  vscodeVersion: string;
  observations: Record<string, Observation>;
}

export interface DiagnosticInfo {
  code: string;
  target?: string;
  source?: string;
  severity: string;
  message: string;
  /** 1-based line and column of the start, like the CLI's JSON. */
  line: number;
  column: number;
  /** The text the diagnostic covers. */
  text: string;
}

export interface ActionInfo {
  title: string;
  kind?: string;
  isPreferred: boolean;
  hasEdit: boolean;
}

let vscode: typeof vscodeApi;

export async function activate(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  vscode = require('vscode');
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) return;
  const marker = vscode.Uri.joinPath(folder.uri, MARKER).fsPath;
  if (!existsSync(marker)) return;
  const { results } = JSON.parse(readFileSync(marker, 'utf8')) as { results: string };
  await runSuite(folder.uri, results);
}

export function deactivate(): void {}

// --- helpers ------------------------------------------------------------------------------

const DIAGNOSTICS_TIMEOUT = 30_000;

/** Resolves with the first non-undefined value of `probe`, re-evaluated on every diagnostics change. */
function untilDiagnostics<T>(what: string, probe: () => T | undefined, timeout = DIAGNOSTICS_TIMEOUT): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        const value = probe();
        if (value !== undefined) {
          finish();
          resolve(value);
        }
      } catch (error) {
        finish();
        reject(error);
      }
    };
    const subscription = vscode.languages.onDidChangeDiagnostics(check);
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeout} ms waiting for ${what}; diagnostics now: ${JSON.stringify(allLeakLens())}`));
    }, timeout);
    const finish = () => {
      subscription.dispose();
      clearTimeout(timer);
    };
    check();
  });
}

/** Retries `probe` (an async question to VS Code) until it answers, at most `timeout` ms. */
async function retry<T>(what: string, probe: () => Promise<T | undefined>, timeout = DIAGNOSTICS_TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeout;
  for (let interval = 50; ; interval = Math.min(interval * 2, 500)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval)); // retry interval, not a wait for an event
  }
}

function allLeakLens(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [uri, diagnostics] of vscode.languages.getDiagnostics()) {
    const ours = diagnostics.filter((d) => d.source === 'leaklens');
    if (ours.length) out[uri.toString()] = ours.map((d) => `${codeOf(d)}@${d.range.start.line + 1}:${d.range.start.character + 1}`);
  }
  return out;
}

function codeOf(d: vscodeApi.Diagnostic): string {
  return typeof d.code === 'object' ? String(d.code.value) : String(d.code ?? '');
}

function leakLens(uri: vscodeApi.Uri): vscodeApi.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'leaklens');
}

function describe(doc: vscodeApi.TextDocument, d: vscodeApi.Diagnostic): DiagnosticInfo {
  return {
    code: codeOf(d),
    target: typeof d.code === 'object' ? d.code.target.toString() : undefined,
    source: d.source,
    severity: vscode.DiagnosticSeverity[d.severity],
    message: d.message,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    text: doc.getText(d.range),
  };
}

/** The document's LeakLens diagnostics once `accept` agrees with them (the first non-empty set by default). */
async function diagnosticsOf(
  doc: vscodeApi.TextDocument,
  accept: (ds: vscodeApi.Diagnostic[]) => boolean = (ds) => ds.length > 0,
  what = `diagnostics of ${doc.uri.path}`,
): Promise<vscodeApi.Diagnostic[]> {
  return untilDiagnostics(what, () => {
    const ds = leakLens(doc.uri);
    return accept(ds) ? ds : undefined;
  });
}

async function quickFixes(doc: vscodeApi.TextDocument, d: vscodeApi.Diagnostic): Promise<vscodeApi.CodeAction[]> {
  const actions =
    (await vscode.commands.executeCommand<(vscodeApi.CodeAction | vscodeApi.Command)[]>(
      'vscode.executeCodeActionProvider',
      doc.uri,
      d.range,
      vscode.CodeActionKind.QuickFix.value,
      100,
    )) ?? [];
  return actions.filter((a): a is vscodeApi.CodeAction => 'title' in a && !('command' in a && typeof a.command === 'string'));
}

function actionInfo(a: vscodeApi.CodeAction): ActionInfo {
  return { title: a.title, kind: a.kind?.value, isPreferred: !!a.isPreferred, hasEdit: !!a.edit };
}

/**
 * Finds the quick fix titled `title` for the diagnostic that `pick` selects, applies its edit,
 * saves, and returns the file as it is on disk. Retries while the server still answers for an
 * older version of the document (it refuses stale diagnostics, then re-publishes).
 */
async function applyQuickFix(
  doc: vscodeApi.TextDocument,
  pick: (d: vscodeApi.Diagnostic) => boolean,
  title: string,
): Promise<{ applied: boolean; saved: boolean; disk: string; offered: string[] }> {
  let offered: string[] = [];
  const action = await retry(`quick fix "${title}" in ${doc.uri.path}`, async () => {
    const d = leakLens(doc.uri).find(pick);
    if (!d) return undefined;
    const actions = await quickFixes(doc, d);
    offered = actions.map((a) => a.title);
    return actions.find((a) => a.title === title);
  });
  if (!action.edit) throw new Error(`"${title}" has no edit`);
  const applied = await vscode.workspace.applyEdit(action.edit);
  const saved = await doc.save();
  return { applied, saved, disk: readFileSync(doc.uri.fsPath, 'utf8'), offered };
}

async function open(folder: vscodeApi.Uri, name: string, show = false): Promise<vscodeApi.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, name));
  if (show) await vscode.window.showTextDocument(doc, { preview: false });
  return doc;
}

function endOf(doc: vscodeApi.TextDocument): vscodeApi.Position {
  return doc.lineAt(doc.lineCount - 1).range.end;
}

// --- the suite ------------------------------------------------------------------------------

async function runSuite(folder: vscodeApi.Uri, resultsPath: string): Promise<void> {
  const started = Date.now();
  const results: HostResults = { done: false, vscodeVersion: vscode.version, observations: {} };
  const write = () => {
    writeFileSync(resultsPath + '.tmp', JSON.stringify(results, null, 2));
    renameSync(resultsPath + '.tmp', resultsPath);
  };
  // When LeakLens does not work at all, the rest is reported as not run instead of timing out one by one.
  let fatal: string | undefined;
  const observe = async (name: string, body: () => Promise<unknown>, essential = false) => {
    const t = Date.now();
    if (fatal) {
      results.observations[name] = { ok: false, ms: 0, error: `not run: ${fatal}` };
    } else {
      try {
        const value = await body();
        results.observations[name] = { ok: true, ms: Date.now() - t, value };
      } catch (error) {
        const message = error instanceof Error ? error.stack ?? error.message : String(error);
        results.observations[name] = { ok: false, ms: Date.now() - t, error: message };
        if (essential) fatal = `"${name}" failed: ${message.split('\n')[0]}`;
      }
    }
    write();
  };

  await observe('extension', async () => {
    const ext = vscode.extensions.getExtension('leaklens.leaklens');
    if (!ext) throw new Error('leaklens.leaklens is not installed');
    await open(folder, 'll101.py'); // activation event: onLanguage:python
    // activate() returns the activation in progress (it rejects when activate() throws).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ext.activate(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('LeakLens did not finish activating in 30 s')), DIAGNOSTICS_TIMEOUT))),
    ]).finally(() => clearTimeout(timer));
    return { id: ext.id, version: ext.packageJSON.version, extensionPath: ext.extensionPath, isActive: ext.isActive };
  }, true);

  await observe('diagnostics', async () => {
    const out: Record<string, DiagnosticInfo[]> = {};
    for (const name of ['ll101.py', 'll201.py']) {
      const doc = await open(folder, name);
      out[name] = (await diagnosticsOf(doc)).map((d) => describe(doc, d));
    }
    return out;
  }, true);

  await observe('quickFixes', async () => {
    const out: Record<string, ActionInfo[]> = {};
    for (const name of ['ll101.py', 'll201.py']) {
      const doc = await open(folder, name);
      for (const d of await diagnosticsOf(doc)) out[`${name} ${codeOf(d)} ${doc.getText(d.range)}`] = (await quickFixes(doc, d)).map(actionInfo);
    }
    return out;
  });

  await observe('fixLL101', async () => {
    const doc = await open(folder, 'll101.py', true);
    const result = await applyQuickFix(doc, (d) => codeOf(d) === 'LL101', 'Wrap `f` in `with`');
    const after = await diagnosticsOf(doc, (ds) => ds.length === 0, 'LL101 to go away after its fix');
    return { ...result, diagnosticsAfter: after.length };
  });

  await observe('fixLL201', async () => {
    const doc = await open(folder, 'll201.py', true);
    const safe = await applyQuickFix(doc, (d) => doc.getText(d.range) === '{}', 'Replace the mutable default of `header` with None');
    const unsafe = await applyQuickFix(doc, (d) => doc.getText(d.range) === '[]', 'Replace the mutable default of `seen` with None (calls stop sharing one object; an explicit None then gets the default too) (unsafe)');
    const after = await diagnosticsOf(doc, (ds) => ds.length === 0, 'LL201 to go away after its fixes');
    return { safe, unsafe, diagnosticsAfter: after.length };
  });

  await observe('ignoreLine', async () => {
    const doc = await open(folder, 'ignore.py', true);
    await diagnosticsOf(doc);
    const result = await applyQuickFix(doc, (d) => codeOf(d) === 'LL201', 'Ignore LL201 on this line');
    const after = await diagnosticsOf(doc, (ds) => ds.length === 0, 'the ignored finding to go away');
    return { ...result, diagnosticsAfter: after.length };
  });

  await observe('fixAllAction', async () => {
    const doc = await open(folder, 'fixall.py');
    await diagnosticsOf(doc);
    const actions = await retry('a source.fixAll.leaklens action', async () => {
      const found =
        (await vscode.commands.executeCommand<vscodeApi.CodeAction[]>(
          'vscode.executeCodeActionProvider',
          doc.uri,
          new vscode.Range(new vscode.Position(0, 0), endOf(doc)),
          'source.fixAll.leaklens',
        )) ?? [];
      return found.length ? found : undefined;
    });
    return actions.map(actionInfo);
  });

  await observe('fixAllOnSave', async () => {
    // As a person would: type a new function into the file, then save with the editor's Save
    // command (what Ctrl+S runs); editor.codeActionsOnSave (the workspace's settings.json) runs
    // source.fixAll.leaklens, which applies every safe fix and leaves the unsafe ones.
    const doc = await open(folder, 'fixall.py', true);
    const editor = vscode.window.activeTextEditor!;
    await diagnosticsOf(doc);
    const before = leakLens(doc.uri).length;
    await editor.edit((b) => b.insert(endOf(doc), '\n\ndef tags(names=set()):\n    return 1 if names else 0\n'));
    await diagnosticsOf(doc, (ds) => ds.length === before + 1, 'the typed finding');
    await vscode.commands.executeCommand('workbench.action.files.save');
    const disk = await retry('fixall.py to be saved', async () => (doc.isDirty ? undefined : readFileSync(doc.uri.fsPath, 'utf8')));
    const after = await diagnosticsOf(doc, (ds) => ds.length < before + 1, 'findings after fix-all on save');
    return { disk, diagnosticsAfter: after.map((d) => describe(doc, d)) };
  });

  await observe('typing', async () => {
    // Edits arrive as incremental changes; each must be answered for its own version.
    const doc = await open(folder, 'typing.py', true);
    const editor = vscode.window.activeTextEditor!;
    const t0 = Date.now();
    await editor.edit((b) => b.insert(endOf(doc), 'log = open("app.log", "a")\n'));
    const appeared = (await diagnosticsOf(doc)).map((d) => describe(doc, d));
    const msToDiagnostic = Date.now() - t0;
    // A burst of single-character edits (typing), then the final diagnostics must describe the final text.
    const line = 'def remember(item, seen=[]):\n    seen.append(item)\n';
    for (const ch of line) await editor.edit((b) => b.insert(endOf(doc), ch), { undoStopBefore: false, undoStopAfter: false });
    const final = (
      await diagnosticsOf(
        doc,
        (ds) => ds.length === 2 && ds.every((d) => ['open("app.log", "a")', '[]'].includes(doc.getText(d.range))),
        'diagnostics of the final text after a burst of edits',
      )
    ).map((d) => describe(doc, d));
    // Delete everything: the findings go away.
    await editor.edit((b) => b.delete(new vscode.Range(new vscode.Position(1, 0), endOf(doc))));
    const cleared = await diagnosticsOf(doc, (ds) => ds.length === 0, 'diagnostics to clear after deleting the leaks');
    await vscode.commands.executeCommand('workbench.action.files.revert');
    return { appeared, msToDiagnostic, final, cleared: cleared.length };
  });

  await observe('untitled', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: 'def f(x=[]):\n    return x\n' });
    return (await diagnosticsOf(doc)).map((d) => describe(doc, d));
  });

  await observe('documentationLink', async () => {
    const doc = await open(folder, 'settings.py');
    const anyDiagnostic = (await diagnosticsOf(doc))[0];
    const target = typeof anyDiagnostic.code === 'object' ? anyDiagnostic.code.target : undefined;
    if (!target) throw new Error('the diagnostic has no documentation link');
    const page = await vscode.workspace.openTextDocument(target);
    return { code: codeOf(anyDiagnostic), target: target.toString(), firstLine: page.lineAt(0).text };
  });

  // --- features of issue 4 (the node side marks these as TODO) ---

  await observe('workspaceScan', async () => {
    // A file never opened: its findings come only from the workspace scan. By now the server
    // has been up for seconds, so a scan would have finished; wait only a little longer.
    const uri = vscode.Uri.joinPath(folder, 'unopened.py');
    const found = await untilDiagnostics('findings of a never-opened file', () => {
      const ds = leakLens(uri);
      return ds.length ? ds.map((d) => `${codeOf(d)}@${d.range.start.line + 1}`) : undefined;
    }, 5_000);
    return found;
  });

  await observe('settingDisablesRule', async () => {
    const doc = await open(folder, 'settings.py');
    await diagnosticsOf(doc, (ds) => ds.some((d) => codeOf(d) === 'LL201'));
    const config = vscode.workspace.getConfiguration('leaklens', folder);
    await config.update('ignore', ['LL201'], vscode.ConfigurationTarget.Workspace);
    try {
      const remaining = await untilDiagnostics('LL201 to disappear after "leaklens.ignore": ["LL201"]', () => {
        const ds = leakLens(doc.uri);
        return ds.some((d) => codeOf(d) === 'LL201') ? undefined : ds.map((d) => codeOf(d));
      }, 8_000);
      return { remaining };
    } finally {
      await config.update('ignore', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  // --- run-time confirmation (issue 7): the runner with the fallback python3 (no Python extension here) ---

  const runtimeDiagnostics = (uri: vscodeApi.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'leaklens-runtime');
  const withRelated = (doc: vscodeApi.TextDocument, d: vscodeApi.Diagnostic) => ({
    ...describe(doc, d),
    related: (d.relatedInformation ?? []).map((r) => `${r.location.uri.path.split('/').pop()}:${r.location.range.start.line + 1} ${r.message}`),
  });

  // The report is one read-only document whose text each run replaces: wait for this run's.
  const reportOf = async (outcome: unknown, mode: string): Promise<string> => {
    const uri = vscode.Uri.parse((outcome as { report: string }).report);
    const doc = await vscode.workspace.openTextDocument(uri);
    const ready = () => doc.getText().startsWith(`LeakLens ${mode}: `) || doc.getText().startsWith(`LeakLens ${mode} of the tests in `);
    if (ready()) return doc.getText();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.dispose();
        reject(new Error(`the report document never showed the ${mode} run; it starts: ${doc.lineAt(0).text}`));
      }, 10_000);
      const subscription = vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() !== uri.toString() || !ready()) return;
        clearTimeout(timer);
        subscription.dispose();
        resolve(doc.getText());
      });
    });
  };

  await observe('runtimeGrowth', async () => {
    const doc = await open(folder, 'growing.py', true);
    await diagnosticsOf(doc, (ds) => ds.some((d) => codeOf(d) === 'LL303'), 'the static LL303 finding of growing.py');
    const outcome = await vscode.commands.executeCommand('leaklens.trackMemoryGrowth', { target: 'growing.py:record', uri: doc.uri.toString(), rounds: 3, calls: 30 });
    const found = await untilDiagnostics('a leaklens-runtime diagnostic on growing.py', () => {
      const ds = runtimeDiagnostics(doc.uri);
      return ds.length ? ds.map((d) => withRelated(doc, d)) : undefined;
    }, 60_000);
    return { outcome, diagnostics: found, reportText: await reportOf(outcome, 'growth') };
  });

  await observe('runtimeConfirmed', async () => {
    // The language server marks the static finding the run confirmed.
    const doc = await open(folder, 'growing.py');
    return untilDiagnostics('LL303 marked "confirmed at run time"', () => {
      const d = leakLens(doc.uri).find((x) => codeOf(x) === 'LL303' && x.message.includes('confirmed at run time'));
      return d ? describe(doc, d) : undefined;
    }, 10_000);
  });

  await observe('runtimeCycles', async () => {
    const doc = await open(folder, 'tree.py', true);
    const outcome = await vscode.commands.executeCommand('leaklens.findReferenceCycles', { target: 'tree.py:build_tree', uri: doc.uri.toString() });
    const found = await untilDiagnostics('a leaklens-runtime cycle on tree.py', () => {
      const ds = runtimeDiagnostics(doc.uri);
      return ds.length ? ds.map((d) => withRelated(doc, d)) : undefined;
    }, 60_000);
    const reportFirstLine = (await reportOf(outcome, 'cycles')).split('\n')[0];
    // The report view: what its pictures hold (graphs, nodes, edges), as the command returns it.
    const view = await vscode.commands.executeCommand('leaklens.showRuntimeReport');
    return { outcome, diagnostics: found, reportFirstLine, view };
  });

  await observe('runtimeResources', async () => {
    const doc = await open(folder, 'service.py', true);
    await diagnosticsOf(doc, (ds) => ds.some((d) => codeOf(d) === 'LL101'), 'the static LL101 finding of service.py');
    const outcome = await vscode.commands.executeCommand('leaklens.findUnclosedResources', { target: 'service.py:handle', uri: doc.uri.toString(), calls: 3 });
    const netioUri = vscode.Uri.joinPath(folder, 'netio.py');
    const netioDoc = await vscode.workspace.openTextDocument(netioUri);
    const netio = await untilDiagnostics('a leaklens-runtime diagnostic on netio.py', () => {
      const ds = runtimeDiagnostics(netioUri);
      return ds.length ? ds.map((d) => withRelated(netioDoc, d)) : undefined;
    }, 60_000);
    const service = runtimeDiagnostics(doc.uri).map((d) => withRelated(doc, d));
    const confirmed = await untilDiagnostics('LL101 of service.py marked "confirmed at run time"', () => {
      const d = leakLens(doc.uri).find((x) => codeOf(x) === 'LL101' && x.message.includes('confirmed at run time'));
      return d ? describe(doc, d) : undefined;
    }, 10_000);
    return { outcome, netio, service, confirmed, reportText: await reportOf(outcome, 'resources') };
  });

  await observe('runtimeSuite', async () => {
    const doc = await open(folder, 'tests/test_cart.py', true);
    const outcome = await vscode.commands.executeCommand('leaklens.trackMemoryGrowth', { target: 'tests', uri: doc.uri.toString() });
    const found = await untilDiagnostics('a leaklens-runtime diagnostic on tests/test_cart.py', () => {
      const ds = runtimeDiagnostics(doc.uri);
      return ds.length ? ds.map((d) => withRelated(doc, d)) : undefined;
    }, 120_000);
    return { outcome, diagnostics: found, reportText: await reportOf(outcome, 'growth') };
  });

  await observe('runtimeProfile', async () => {
    const doc = await open(folder, 'profile_lines.py', true);
    const outcome = await vscode.commands.executeCommand('leaklens.profileMemory', { target: 'profile_lines.py:handle(i)', uri: doc.uri.toString(), calls: 2 });
    type Shown = Record<string, Array<{ line: number; text: string }>>;
    const annotations = () => vscode.commands.executeCommand<Shown>('leaklens.profileAnnotations');
    const key = doc.uri.toString();
    const shown = (await annotations())[key];
    const view = await vscode.commands.executeCommand('leaklens.showRuntimeReport');
    // Another document in the same editor hides the annotations with the editor; showing the
    // document again brings them back.
    await open(folder, 'tree.py', true);
    const hidden = (await annotations())[key] ?? null;
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    const again = (await annotations())[key];
    // An edit moves lines: the annotations go, for good.
    await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), '# moved\n'));
    const afterEdit = (await annotations())[key] ?? null;
    await vscode.commands.executeCommand('undo');
    const afterUndo = (await annotations())[key] ?? null;
    await vscode.commands.executeCommand('workbench.action.files.revert');
    // Profile again, then Clear Memory Profile.
    await vscode.commands.executeCommand('leaklens.profileMemory', { target: 'profile_lines.py:keep', uri: doc.uri.toString() });
    const kept = (await annotations())[key];
    await vscode.commands.executeCommand('leaklens.clearMemoryProfile');
    const cleared = (await annotations())[key] ?? null;
    return { outcome, shown, view, hidden, again, afterEdit, afterUndo, kept, cleared };
  });

  // A Jupyter notebook (VS Code's built-in ipynb support; no kernel): the workspace scan
  // published it on its file; opened, its cells get the diagnostics and the file's go; a quick
  // fix in a cell edits that cell. Last, so that nothing before it sees the notebook open.
  await observe('notebook', async () => {
    const fileUri = vscode.Uri.joinPath(folder, 'analysis.ipynb');
    const onFile = await untilDiagnostics('the scan\'s diagnostics on analysis.ipynb', () => {
      const ds = leakLens(fileUri);
      return ds.length ? ds.map((d) => `${codeOf(d)} ${d.message}`) : undefined;
    });
    const nb = await vscode.workspace.openNotebookDocument(fileUri);
    await vscode.window.showNotebookDocument(nb);
    const cells = nb.getCells().map((c) => c.document);
    const inCells = await untilDiagnostics('diagnostics in the notebook\'s cells', () => {
      const byCell = cells.map((doc) => leakLens(doc.uri).map((d) => `${codeOf(d)} ${d.range.start.line + 1}:${d.range.start.character + 1} ${doc.getText(d.range)}`));
      return byCell.flat().length >= 4 ? byCell : undefined;
    });
    const fileAfterOpen = await untilDiagnostics('the file\'s diagnostics to go once its cells have them', () => (leakLens(fileUri).length === 0 ? 0 : undefined));
    const cell = cells[2];
    const d = leakLens(cell.uri).find((x) => codeOf(x) === 'LL101');
    if (!d) throw new Error('no LL101 in cell 3');
    const actions = await quickFixes(cell, d);
    const withFix = actions.find((a) => a.title === 'Wrap `log` in `with`');
    const applied = withFix?.edit ? await vscode.workspace.applyEdit(withFix.edit) : false;
    const cellAfter = cell.getText();
    const afterFix = await untilDiagnostics('LL101 to go from cell 3 after its fix', () => (leakLens(cell.uri).length === 0 ? 0 : undefined));
    return { onFile, inCells, fileAfterOpen, offered: actions.map((a) => a.title), applied, cellAfter, afterFix };
  });

  results.done = true;
  results.observations.total = { ok: true, ms: Date.now() - started };
  write();
}
