// The workspace side of the server: which settings apply to a file (pyproject.toml + the
// editor's leaklens.* settings, cached per resource), the start-up scan of every Python file and notebook
// of every workspace folder with work-done progress, and results kept current from file
// watching. Files open in the editor are never analysed from disk: the open document wins.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Connection, Diagnostic, FileChangeType, FileEvent, MessageType, ShowMessageNotification, WorkspaceFolder } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { AnalyzedFinding, Analyzer } from '../analysis/engine';
import { cellPosition, NotebookMap, readNotebook, sourceLineSpan } from '../analysis/notebook';
import { applyEditorSettings, DEFAULT_SETTINGS, findPyproject, formatProblem, LoadedConfig, loadPyproject, Settings } from '../workspace/config';
import { discoverPythonFiles, discoverySkipReason, excludeMatcher } from '../workspace/files';
import { FileJob } from '../workers/check-file';
import { discoverHere, discoverOffThread, DiscoveryRequest, DiscoveryResult } from '../workers/discover';
import { defaultWorkerCount, InProcessRunner, JobRunner, SubmitOptions, WorkerPool } from '../workers/pool';
import { toDiagnostic } from './convert';

export interface Folder {
  uri: string;
  path: string;
}

export function uriToPath(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}

/** The files the scan analyses: Python sources, stubs and Jupyter notebooks. */
const PYTHON_FILE = /\.(pyi?|ipynb)$/;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Workers idle this long are stopped (each holds a grammar and its own WASM heap, ≈ 80 MB after
 * the standard library); the next job starts them again (≈ 0.3 s). Long enough to span a burst
 * of file events, short enough not to sit on the memory.
 */
const WORKER_IDLE_MS = 5_000;

/**
 * A closed notebook's diagnostics are published on the .ipynb file itself (its cells have no URIs
 * until an editor opens it): each names its cell and line in the message, and its range is that
 * source line in the notebook's JSON text (what a text editor of the file shows). Opened, the
 * notebook's cells are published instead (protocol/notebooks.ts) and these are cleared.
 */
function onNotebookFile(path: string, module: TextDocument, map: NotebookMap, findings: readonly AnalyzedFinding[], diagnostics: Diagnostic[]): Diagnostic[] {
  let json: string | undefined;
  try {
    json = readFileSync(path, 'utf8');
  } catch {
    json = undefined; // gone since the worker read it: a watch event follows
  }
  const read = json === undefined ? undefined : readNotebook(json);
  const file = json === undefined ? undefined : TextDocument.create(module.uri, 'json', 0, json);
  const lineOf = (offset: number) => module.positionAt(offset).line;
  return diagnostics.map((d, i) => {
    const f = findings[i];
    const p = module.positionAt(f.start);
    const at = cellPosition(map, f.start, p.line, p.character, lineOf);
    const cell = read?.ok ? read.notebook.cells.find((c) => c.number === at.cell) : undefined;
    const span = cell && json !== undefined ? sourceLineSpan(json, cell, at.line - 1) : undefined;
    const range = span && file ? { start: file.positionAt(span[0]), end: file.positionAt(span[1]) } : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    // Related locations are module positions: meaningless in the JSON, so they go.
    return { ...d, range, relatedInformation: [], message: `${d.message} (cell ${at.cell}, line ${at.line})` };
  });
}

export class Workspace {
  folders: Folder[] = [];
  /** Folder URI → its editor settings (null until asked; cleared when settings change). */
  private editorSettings = new Map<string, Promise<Record<string, unknown> | null>>();
  /** `initializationOptions.settings`: what an editor without workspace/configuration (or under it) sets. */
  private initialSettings: Record<string, unknown> | null = null;
  private configs = new Map<string, LoadedConfig>();
  private pyprojectOf = new Map<string, string | undefined>();
  /** Files whose disk diagnostics are currently published. */
  private published = new Set<string>();
  private scanGeneration = 0;
  private reportedProblems = new Set<string>();
  private loggedSkips = new Set<string>();
  private pool?: WorkerPool;
  private inProcess?: InProcessRunner;
  /** The newest disk analysis asked for per file URI; only its result is published. */
  private latestRequest = new Map<string, number>();
  private requests = 0;
  /**
   * Per file URI, when its disk state last changed for us (a watch event, a publication, a
   * clearing), on one clock shared with the scans' starts: a scan's clean-up only clears the
   * files whose state is older than that scan (it may not judge files it never looked at).
   */
  private stamps = new Map<string, number>();
  private clock = 0;
  /**
   * The last walk of each folder, keyed by what decides it (folder, exclude globs, base): a
   * configuration change that leaves them alike re-analyses without walking again. Any created or
   * deleted file or folder, and a change of pyproject.toml or .gitignore, forgets them.
   */
  private walks = new Map<string, DiscoveryResult>();

  private touch(uri: string): void {
    this.stamps.set(uri, ++this.clock);
  }

  constructor(
    private readonly connection: Connection,
    private readonly analyzer: () => Analyzer | undefined,
    private readonly isOpen: (uri: string) => boolean,
    private readonly canAskConfiguration: () => boolean,
    private readonly canReportProgress: () => boolean,
    /** After a WebAssembly trap in a disk analysis on the main thread: recreate the runtime (awaited before the next file). */
    private readonly onTrap: () => Promise<void> = async () => undefined,
  ) {}

  setFolders(folders: readonly WorkspaceFolder[] | null | undefined, rootUri?: string | null): void {
    const list = folders && folders.length ? folders.map((f) => f.uri) : rootUri ? [rootUri] : [];
    this.folders = list.flatMap((uri) => {
      const path = uriToPath(uri);
      return path ? [{ uri, path }] : [];
    });
  }

  folderOf(path: string): Folder | undefined {
    return this.folders
      .filter((f) => path === f.path || path.startsWith(f.path.endsWith(sep) ? f.path : f.path + sep))
      .sort((a, b) => b.path.length - a.path.length)[0];
  }

  /** Settings changed (editor or files): forget every cached value. */
  invalidate(): void {
    this.editorSettings.clear();
    this.configs.clear();
    this.pyprojectOf.clear();
    this.reportedProblems.clear();
    this.loggedSkips.clear();
  }

  private log(message: string): void {
    this.connection.console.log(message);
  }

  private problem(message: string): void {
    if (this.reportedProblems.has(message)) return;
    this.reportedProblems.add(message);
    this.connection.console.warn(message);
    void this.connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `LeakLens: ${message}` });
  }

  /**
   * Settings given once in `initialize` (`initializationOptions: { settings: { select: ["ALL"] } }`):
   * the `leaklens.*` keys without the prefix, for editors that configure a server that way
   * (Neovim's `init_options`, Helix, Zed). They lie between `[tool.leaklens]` and what the client
   * answers to workspace/configuration: each layer overrides the one below with the values it does
   * not leave at their defaults.
   */
  setInitialSettings(options: unknown): void {
    const settings = options && typeof options === 'object' ? (options as { settings?: unknown }).settings : undefined;
    this.initialSettings = settings && typeof settings === 'object' && !Array.isArray(settings) ? (settings as Record<string, unknown>) : null;
  }

  private editorValues(scopeUri: string | undefined): Promise<Record<string, unknown> | null> {
    if (!this.canAskConfiguration()) return Promise.resolve(null);
    const key = scopeUri ?? '';
    let pending = this.editorSettings.get(key);
    if (!pending) {
      pending = this.connection.workspace
        .getConfiguration({ scopeUri, section: 'leaklens' })
        .then((v) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : null))
        .catch(() => null);
      this.editorSettings.set(key, pending);
    }
    return pending;
  }

  private fileConfig(path: string, isFolder: boolean): LoadedConfig | undefined {
    const dir = isFolder ? path : dirname(path);
    let pyproject = this.pyprojectOf.get(dir);
    if (!this.pyprojectOf.has(dir)) {
      pyproject = findPyproject(dir);
      this.pyprojectOf.set(dir, pyproject);
    }
    if (!pyproject) return undefined;
    let loaded = this.configs.get(pyproject);
    if (!loaded) {
      loaded = loadPyproject(pyproject);
      this.configs.set(pyproject, loaded);
      for (const p of loaded.problems) this.problem(formatProblem(p));
      if (loaded.source) this.log(`using [tool.leaklens] from ${loaded.source}`);
    }
    return loaded;
  }

  /** The settings for a document: nearest pyproject.toml, then the editor's settings for its folder. */
  async settingsFor(uri: string): Promise<{ settings: Settings; base: string }> {
    const path = uriToPath(uri);
    const folder = path ? this.folderOf(path) : undefined;
    const loaded = path ? this.fileConfig(path, folder?.path === path) : undefined;
    const base = loaded?.source ? dirname(loaded.source) : (folder?.path ?? (path ? dirname(path) : process.cwd()));
    const values = await this.editorValues(folder?.uri ?? (path ? uri : undefined));
    const initial = applyEditorSettings(loaded?.settings ?? DEFAULT_SETTINGS, this.initialSettings, 'initializationOptions.settings');
    const { settings, problems } = applyEditorSettings(initial.settings, values, folder?.uri ?? 'user');
    for (const p of [...initial.problems, ...problems]) this.problem(formatProblem(p));
    return { settings, base };
  }

  /**
   * Why a file that a watcher or a closed editor reports would not be scanned, or undefined: the
   * scan's own discovery rules from its workspace folder (always-skipped folders, virtual
   * environments, `.gitignore`, the folder's `exclude` globs), and the `exclude` globs of the
   * file's nearest configuration. Size and encoding are checked when it is read.
   */
  async skipReason(uri: string): Promise<string | undefined> {
    const path = uriToPath(uri);
    const folder = path ? this.folderOf(path) : undefined;
    if (!path || !folder) return 'outside the workspace folders';
    const scan = await this.settingsFor(folder.uri);
    const found = discoverySkipReason(path, folder.path, { exclude: scan.settings.exclude, base: scan.base });
    if (found) return found;
    const own = await this.settingsFor(uri);
    return excludeMatcher(own.settings.exclude, own.base)(path) ? 'matches exclude' : undefined;
  }

  /** Logs a skipped file event once per reason (a package installed into a venv sends thousands). */
  private logSkip(path: string, reason: string): void {
    const key = reason.startsWith('inside ') ? reason : `${path}: ${reason}`;
    if (this.loggedSkips.has(key)) return;
    this.loggedSkips.add(key);
    this.log(reason.startsWith('inside ') ? `ignoring file events ${reason}` : `skipped ${path}: ${reason}`);
  }

  /** Disk analyses run on worker threads, so the main thread stays free for the editor's requests. */
  private runner(): JobRunner {
    if (!this.pool) {
      this.pool = new WorkerPool({ size: defaultWorkerCount(), idleMs: WORKER_IDLE_MS, log: (message) => this.log(message) });
    }
    if (!this.pool.unavailable) return this.pool;
    // No worker can start (e.g. worker.js missing): analyse here, one file per event-loop turn.
    if (!this.inProcess) {
      this.log(`analysing files from disk on the main thread: ${this.pool.unavailable}`);
      this.inProcess = new InProcessRunner(() => this.analyzer(), () => this.onTrap());
    }
    return this.inProcess;
  }

  /**
   * Analyses a file from disk and publishes its diagnostics — unless it is open by the time the
   * result arrives (the open document wins), or a newer read of the same file was asked for since
   * (results may come back from the workers in any order), or it was cleared meanwhile.
   */
  async analyzeFromDisk(path: string, submit: SubmitOptions = { urgent: true }): Promise<void> {
    if (!this.analyzer()) return; // not initialised, or shut down
    const uri = pathToFileURL(path).toString();
    if (this.isOpen(uri)) return;
    const { settings } = await this.settingsFor(uri);
    if (this.isOpen(uri)) return; // opened while settings were fetched
    if (submit.tag !== undefined && submit.tag !== this.scanGeneration) return; // a newer scan started
    const request = ++this.requests;
    this.latestRequest.set(uri, request);
    const job: FileJob = { path, options: settings.options, maxFileSize: settings.maxFileSize, mode: 'check', analyze: true };
    let outcome = await this.runner().run(job, submit);
    if (outcome.status === 'failed' && this.pool?.unavailable) outcome = await this.runner().run(job, submit);
    if (this.latestRequest.get(uri) !== request) return;
    this.latestRequest.delete(uri);
    if (this.isOpen(uri) || outcome.status === 'cancelled') return;
    if (outcome.status !== 'done') {
      this.log(`skipped ${path}: ${outcome.reason}`);
      this.clear(uri);
      return;
    }
    const result = outcome.result;
    if (result.unreadable) {
      this.log(`skipped ${path}: ${result.unreadable}`);
      this.clear(uri);
      return;
    }
    if (result.error) {
      this.log(`skipped ${path}: ${result.error}`);
      return;
    }
    if (result.generated) this.log(`not analysed ${path}: ${result.generated}; leaklens.includeGenerated (include-generated = true) analyses it`);
    if (result.skipReason) this.log(`not analysed ${path}: ${result.skipReason}`);
    for (const failure of result.ruleFailures ?? []) this.connection.console.error(`rule failed on ${path}: ${failure}`);
    if (result.notPython) this.log(`not analysed ${path}: ${result.notPython}`);
    const doc = result.text === undefined ? undefined : TextDocument.create(uri, 'python', 0, result.text);
    let diagnostics = doc
      ? result.findings.map((f) => {
          const d = toDiagnostic(f, doc);
          delete d.data; // quick fixes are offered once the file is open and versioned
          return d;
        })
      : [];
    if (doc && result.notebook) diagnostics = onNotebookFile(path, doc, result.notebook, result.findings, diagnostics);
    if (diagnostics.length || this.published.has(uri)) void this.connection.sendDiagnostics({ uri, diagnostics });
    this.touch(uri);
    if (diagnostics.length) this.published.add(uri);
    else this.published.delete(uri);
  }

  clear(uri: string): void {
    this.latestRequest.delete(uri); // a result still on its way for this file is dropped
    this.touch(uri);
    if (!this.published.delete(uri)) return;
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  /**
   * Scans every folder: every file goes to the worker queue at once (biggest first) and results
   * are published as they come back. A newer scan supersedes a running one: the older scan's
   * queued jobs are dropped and its running ones finish unused. The folders are walked on a
   * thread of their own; `reuseWalk` takes the last walk when nothing that decides it changed.
   */
  async scan(options: { reuseWalk?: boolean } = {}): Promise<void> {
    const generation = ++this.scanGeneration;
    const startedAt = ++this.clock;
    const stale = (tag: number | undefined) => tag !== undefined && tag !== generation;
    this.pool?.cancel(stale);
    this.inProcess?.cancel(stale);
    const started = Date.now();
    const found: Array<{ path: string; size: number }> = [];
    let reused = 0;
    for (const folder of this.folders) {
      const { settings, base } = await this.settingsFor(folder.uri);
      const request: DiscoveryRequest = { paths: [folder.path], exclude: [...settings.exclude], base, notebooks: true };
      const key = JSON.stringify(request);
      let walk = options.reuseWalk ? this.walks.get(key) : undefined;
      if (!walk) {
        walk = await discoverOffThread(request).catch((err: Error) => {
          this.log(`folder discovery could not run on its own thread (${err.message}); walking ${folder.path} here`);
          return discoverHere(request, (path) => {
            try {
              return statSync(path).size;
            } catch {
              return 0; // gone already: the worker reports it unreadable
            }
          });
        });
        for (const [path, reason] of walk.skipped) this.log(`skipped ${path}: ${reason}`);
        this.walks.set(key, walk);
      } else reused++;
      if (generation !== this.scanGeneration) return;
      found.push(...walk.files);
    }
    const files = found.map((f) => f.path);
    if (generation !== this.scanGeneration) return;
    const progress = this.canReportProgress() ? await this.connection.window.createWorkDoneProgress().catch(() => undefined) : undefined;
    progress?.begin('LeakLens', 0, `scanning ${files.length} Python files`, false);
    const seen = new Set<string>();
    let done = 0;
    let lastReport = 0;
    try {
      await Promise.all(
        found.map(async ({ path, size }) => {
          seen.add(pathToFileURL(path).toString());
          await this.analyzeFromDisk(path, { size, tag: generation });
          done++;
          if (generation === this.scanGeneration && Date.now() - lastReport > 200) {
            lastReport = Date.now();
            progress?.report(Math.floor((100 * done) / files.length), `${done}/${files.length} files`);
          }
        }),
      );
      if (generation !== this.scanGeneration) return;
      // Files that were reported before but are gone from the scan (deleted, now excluded) —
      // not those an event or a closed editor reported since the scan started (created or
      // renamed meanwhile): their state is newer than this scan's discovery.
      for (const uri of [...this.published]) if (!seen.has(uri) && (this.stamps.get(uri) ?? 0) < startedAt) this.clear(uri);
      this.log(`scanned ${files.length} files in ${Date.now() - started} ms${reused ? ` (the last walk of ${reused} of ${this.folders.length} folders reused: nothing that decides the file set changed)` : ''}`);
      // Each worker's WASM heap has grown to what the biggest files needed and never shrinks:
      // stop the idle workers now rather than hold that memory until the next file event.
      await this.pool?.release();
    } finally {
      progress?.done();
    }
  }

  /** Stops the analysis workers (the server is shutting down). */
  async dispose(): Promise<void> {
    this.scanGeneration++;
    await Promise.all([this.pool?.close(), this.inProcess?.close()]);
  }

  /** Keeps disk results current. Configuration files trigger a fresh scan. */
  async onWatchedFiles(changes: readonly FileEvent[]): Promise<void> {
    const rescan = changes.some((change) => /(^|[\\/])(pyproject\.toml|\.gitignore)$/.test(uriToPath(change.uri) ?? ''));
    // The file set of a folder may differ now: the next configuration change walks again.
    if (rescan || changes.some((change) => change.type !== FileChangeType.Changed)) this.walks.clear();
    // Each file on its own (results may come back in any order: only the newest read of a file
    // is published), all at once so that a burst of events keeps every worker busy.
    const handle = async (change: FileEvent): Promise<void> => {
      const path = uriToPath(change.uri);
      if (!path || !this.folderOf(path)) return;
      if (!PYTHON_FILE.test(path)) {
        // A folder: deleted (or renamed away), its files go with it; created (or renamed here),
        // its files are found as the scan would find them.
        if (change.type === FileChangeType.Deleted || !existsSync(path)) this.clearUnder(path);
        else if (change.type === FileChangeType.Created && !rescan && isDirectory(path)) await this.scanFolder(path);
        return;
      }
      this.touch(change.uri);
      if (change.type === FileChangeType.Deleted || !existsSync(path)) {
        if (!this.isOpen(change.uri)) this.clear(change.uri);
        return;
      }
      if (rescan || this.isOpen(change.uri)) return; // the scan below reads it
      const skip = await this.skipReason(change.uri);
      if (skip) {
        this.logSkip(path, skip);
        this.clear(change.uri);
        return;
      }
      await this.analyzeFromDisk(path);
    };
    await Promise.all(changes.map(handle));
    if (rescan) {
      this.invalidate();
      await this.scan();
    }
  }

  /** Clears the disk diagnostics of every file under a folder that is gone (open documents keep theirs). */
  private clearUnder(folder: string): void {
    const prefix = folder.endsWith(sep) ? folder : folder + sep;
    const uris = new Set([...this.published, ...this.latestRequest.keys()]);
    for (const uri of uris) {
      const path = uriToPath(uri);
      if (path && path.startsWith(prefix) && !this.isOpen(uri)) this.clear(uri);
    }
  }

  /** A folder that appeared in a workspace folder: its Python files, by the scan's discovery rules. */
  private async scanFolder(path: string): Promise<void> {
    const folder = this.folderOf(path);
    if (!folder) return;
    const skip = await this.skipReason(pathToFileURL(join(path, '__probe__.py')).toString());
    if (skip && skip.startsWith('inside ')) {
      this.logSkip(path, skip);
      return;
    }
    const { settings, base } = await this.settingsFor(folder.uri);
    const { files } = discoverPythonFiles([path], { exclude: settings.exclude, base, notebooks: true, onSkip: (p, reason) => this.log(`skipped ${p}: ${reason}`) });
    await Promise.all(
      files.map(async (file) => {
        const uri = pathToFileURL(file).toString();
        this.touch(uri);
        if (this.isOpen(uri) || (await this.skipReason(uri))) return;
        await this.analyzeFromDisk(file);
      }),
    );
  }

  /** A document was closed: show its disk state again if it belongs to the workspace. */
  async onClosed(uri: string): Promise<void> {
    const path = uriToPath(uri);
    this.touch(uri);
    this.published.add(uri); // its diagnostics are on screen until replaced
    if (path && this.folderOf(path) && existsSync(path) && !(await this.skipReason(uri))) await this.analyzeFromDisk(path);
    else this.clear(uri);
  }
}
