// The VS Code side: a thin language client that starts the bundled server (dist/leaklens.js)
// for Python documents and the Python cells of Jupyter notebooks, plus the editor surface
// around it: commands, a status bar item with the number of findings, and `leaklens.enable`.
// Everything that analyses code lives in the server; analysis settings (`leaklens.*`) are pulled by the server per scope URI with
// `workspace/configuration`, so the client never reads them itself.
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import { recordSubjects, registerRuntime } from './runtime';

const SECTION = 'leaklens';
/** `Diagnostic.source` of every LeakLens finding (server/src/protocol/convert.ts). */
const SOURCE = 'leaklens';
const FIX_ALL_KIND = 'source.fixAll.leaklens';
const STATUS_DEBOUNCE_MS = 250;

/** Command ids contributed in package.json. */
export const COMMANDS = {
  scanWorkspace: 'leaklens.scanWorkspace',
  fixAllInFile: 'leaklens.fixAllInFile',
  showRuleDocumentation: 'leaklens.showRuleDocumentation',
  restartServer: 'leaklens.restartServer',
  showOutput: 'leaklens.showOutput',
} as const;
/** The server command the client sends for Scan Workspace (workspace/executeCommand). */
/** The server's own id for a rescan (distinct from the editor command, which the client library would otherwise register twice). */
const SERVER_SCAN_COMMAND = 'leaklens.server.scanWorkspace';

let server: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('LeakLens', { log: true });
  context.subscriptions.push(output);

  // Created once and handed to every client instance: the client library only listens to
  // them (it does not dispose them), so they live as long as the extension.
  const watchers = ['**/*.py', '**/*.pyi', '**/*.ipynb', '**/pyproject.toml', '**/.gitignore'].map((glob) => vscode.workspace.createFileSystemWatcher(glob));
  // A deleted or renamed folder is one event for the folder, which the globs above never match:
  // created and deleted paths of any kind (no changes) let the server clear or find its files.
  watchers.push(vscode.workspace.createFileSystemWatcher('**/*', false, true, false));
  context.subscriptions.push(...watchers);

  const manager = new ServerManager(context, output, watchers);
  server = manager;
  const status = new FindingsStatus(manager);
  context.subscriptions.push(manager, status);
  // Run-time confirmation (Track Memory Growth…, Find Reference Cycles…): what a run confirms goes to the server.
  registerRuntime(context, (method, params) => manager.running?.sendNotification(method, params));

  context.subscriptions.push(
    vscode.commands.registerCommand(COMMANDS.scanWorkspace, () => manager.scanWorkspace()),
    vscode.commands.registerCommand(COMMANDS.fixAllInFile, () => fixAllInFile(manager)),
    vscode.commands.registerCommand(COMMANDS.showRuleDocumentation, (code?: unknown) => showRuleDocumentation(context, code)),
    vscode.commands.registerCommand(COMMANDS.restartServer, () => manager.restart()),
    vscode.commands.registerCommand(COMMANDS.showOutput, () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SECTION}.enable`)) {
        void manager.sync();
        status.refresh();
      }
      // Every other leaklens.* setting reaches the server as workspace/didChangeConfiguration
      // (the server registers for the section), after which it pulls the values again.
    }),
  );

  await manager.sync();
}

export async function deactivate(): Promise<void> {
  await server?.shutdown();
  server = undefined;
}

function isEnabled(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('enable', true) !== false;
}

/**
 * Owns the LanguageClient: starts it when `leaklens.enable` is true, stops it when false,
 * restarts it on request. Lifecycle operations run one at a time, in order, so a quick
 * off/on/off of the setting cannot interleave a start with a stop.
 */
class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Lifecycle operations queued or running. */
  private pending = 0;
  private readonly clientSubscriptions = new Map<LanguageClient, vscode.Disposable>();
  private readonly stateChanged = new vscode.EventEmitter<void>();
  /** Fires when the client starts, stops or fails to start. */
  readonly onDidChangeState = this.stateChanged.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly watchers: vscode.FileSystemWatcher[],
  ) {}

  get enabled(): boolean {
    return isEnabled();
  }

  /** The client when it is up, else undefined. */
  get running(): LanguageClient | undefined {
    return this.client?.state === State.Running ? this.client : undefined;
  }

  /** Enabled, but the client is neither running nor starting (start failed, or gave up restarting). */
  get stopped(): boolean {
    const state = this.client?.state;
    return this.enabled && this.pending === 0 && state !== State.Running && state !== State.Starting;
  }

  /** Brings the client in line with `leaklens.enable`. */
  sync(): Promise<void> {
    return this.enqueue(async () => {
      if (isEnabled()) {
        if (!this.client) await this.startNew();
      } else if (this.client) {
        this.output.info('leaklens.enable is false: stopping the server');
        await this.disposeClient();
      }
    });
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      if (!isEnabled()) {
        void vscode.window.showInformationMessage('LeakLens is disabled (setting "leaklens.enable"). Enable it to start the server.');
        return;
      }
      this.output.info('restarting the server');
      if (this.client?.state === State.Running) {
        try {
          await this.client.restart();
          return;
        } catch (error) {
          this.output.error(`restart failed, starting a new client: ${describeError(error)}`);
        }
      }
      // Not running (start failed, crashed for good, or never started): start afresh.
      await this.disposeClient();
      await this.startNew();
    });
  }

  async scanWorkspace(): Promise<void> {
    await this.queue; // let a pending start finish first
    const client = this.running;
    if (!client) {
      const message = this.enabled
        ? 'The LeakLens server is not running. Use "LeakLens: Restart Server" or see "LeakLens: Show Output".'
        : 'LeakLens is disabled (setting "leaklens.enable").';
      void vscode.window.showWarningMessage(message);
      return;
    }
    try {
      await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_SCAN_COMMAND, arguments: [] });
    } catch (error) {
      this.output.error(`workspace scan failed: ${describeError(error)}`);
      void vscode.window.showErrorMessage('LeakLens: the workspace scan failed; see the output for details.');
    }
  }

  /** Stops the server (deactivate). */
  shutdown(): Promise<void> {
    return this.enqueue(() => this.disposeClient());
  }

  dispose(): void {
    void this.shutdown();
    this.stateChanged.dispose();
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.pending++;
    const next = this.queue
      .then(task)
      .catch((error) => this.output.error(describeError(error)))
      .finally(() => {
        this.pending--;
        this.stateChanged.fire();
      });
    this.queue = next;
    return next;
  }

  private async startNew(): Promise<void> {
    const client = createClient(this.context, this.output, this.watchers);
    this.client = client;
    const subscription = client.onDidChangeState(() => this.stateChanged.fire());
    this.clientSubscriptions.set(client, subscription);
    try {
      await client.start();
    } catch (error) {
      // The client library already logged the cause in the output channel.
      this.output.error(`the server failed to start: ${describeError(error)}`);
      void vscode.window.showErrorMessage('LeakLens: the server failed to start.', 'Show Output').then((choice) => {
        if (choice) this.output.show(true);
      });
    } finally {
      this.stateChanged.fire();
    }
  }

  private async disposeClient(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    try {
      // A client restarting itself after a crash can only be stopped once it is up.
      if (client.state === State.Starting) await client.start().catch(() => undefined);
      // dispose() = stop() and never start again; the client clears its diagnostics.
      await client.dispose();
    } catch (error) {
      this.output.error(`stopping the server failed: ${describeError(error)}`);
    } finally {
      this.clientSubscriptions.get(client)?.dispose();
      this.clientSubscriptions.delete(client);
      this.stateChanged.fire();
    }
  }
}

function createClient(context: vscode.ExtensionContext, outputChannel: vscode.LogOutputChannel, watchers: vscode.FileSystemWatcher[]): LanguageClient {
  const module = context.asAbsolutePath('dist/leaklens.js');
  const serverOptions: ServerOptions = {
    run: { module, args: ['server'], transport: TransportKind.stdio },
    debug: { module, args: ['server'], transport: TransportKind.stdio, options: { execArgv: ['--nolazy', '--inspect=6012'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
      // Python cells of Jupyter notebooks: code actions and diagnostics for the cell editors. Their
      // text reaches the server through notebook document sync (the server's notebookDocumentSync
      // capability names the same notebooks), never as text documents of their own.
      { notebook: { notebookType: 'jupyter-notebook' }, language: 'python' },
    ],
    // workspace/didChangeWatchedFiles for sources, stubs and the files that change what is
    // analysed (pyproject.toml's [tool.leaklens], .gitignore).
    synchronize: { fileEvents: watchers },
    outputChannel,
    middleware: {
      // The subjects of the findings (data.subject: the global, class attribute or method a
      // container finding is about) for the run-time commands' watched names.
      handleDiagnostics: (uri, diagnostics, next) => {
        recordSubjects(uri, diagnostics);
        next(uri, diagnostics);
      },
      workspace: {
        // The server registers for workspace/didChangeConfiguration on "leaklens", so toggling
        // leaklens.enable would also notify a client that is being stopped (an error pop-up).
        // A client that is not running has nothing to tell: the server pulls the settings
        // when it starts.
        didChangeConfiguration: async (sections, next) => {
          if (!isEnabled() || client.state !== State.Running) return;
          try {
            await next(sections);
          } catch (error) {
            outputChannel.warn(`could not notify the server of a settings change: ${describeError(error)}`);
          }
        },
      },
    },
  };
  const client = new LanguageClient(SECTION, 'LeakLens', serverOptions, clientOptions);
  return client;
}

async function fixAllInFile(manager: ServerManager): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python') {
    void vscode.window.showInformationMessage('LeakLens: open a Python file to fix.');
    return;
  }
  if (!manager.running) {
    void vscode.window.showWarningMessage(manager.enabled ? 'LeakLens: the server is not running.' : 'LeakLens is disabled (setting "leaklens.enable").');
    return;
  }
  // The code action runs on the focused editor: make sure that is the Python one.
  await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
  await vscode.commands.executeCommand('editor.action.codeAction', { kind: FIX_ALL_KIND, apply: 'first' });
}

interface RuleItem extends vscode.QuickPickItem {
  code: string;
  uri: vscode.Uri;
}

/** The rule pages rendered by the build into dist/docs/rules/LLnnn.md. */
async function readRules(context: vscode.ExtensionContext): Promise<RuleItem[]> {
  const dir = vscode.Uri.joinPath(context.extensionUri, 'dist', 'docs', 'rules');
  let entries: [string, vscode.FileType][];
  try {
    entries = await vscode.workspace.fs.readDirectory(dir);
  } catch {
    return [];
  }
  const items: RuleItem[] = [];
  const decoder = new TextDecoder();
  for (const [name, type] of entries) {
    if (type !== vscode.FileType.File || !/^LL\d{3}\.md$/i.test(name)) continue;
    const uri = vscode.Uri.joinPath(dir, name);
    let lines: string[];
    try {
      lines = decoder.decode(await vscode.workspace.fs.readFile(uri)).split(/\r?\n/);
    } catch {
      continue;
    }
    // "# LL101 unclosed-resource", a blank line, then the one-line summary.
    const heading = /^#\s+(LL\d{3})\s+(.*)$/i.exec(lines[0] ?? '');
    const code = heading ? heading[1].toUpperCase() : name.slice(0, -3).toUpperCase();
    items.push({ code, uri, label: code, description: heading?.[2].trim(), detail: lines[2]?.trim() || undefined });
  }
  return items.sort((a, b) => a.code.localeCompare(b.code));
}

/** The LeakLens rule under the cursor of the active editor, if any. */
function ruleAtCursor(): string | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const position = editor.selection.active;
  const diagnostic = vscode.languages.getDiagnostics(editor.document.uri).find((d) => d.source === SOURCE && d.range.contains(position));
  const code = diagnostic?.code;
  const value = typeof code === 'object' ? code.value : code;
  return value === undefined ? undefined : String(value).toUpperCase();
}

async function showRuleDocumentation(context: vscode.ExtensionContext, requested?: unknown): Promise<void> {
  const rules = await readRules(context);
  if (rules.length === 0) {
    void vscode.window.showErrorMessage('LeakLens: no rule documentation found in the extension (dist/docs/rules).');
    return;
  }
  let chosen: RuleItem | undefined;
  if (typeof requested === 'string' && requested.trim() !== '') {
    const code = requested.trim().toUpperCase();
    chosen = rules.find((r) => r.code === code);
    if (!chosen) {
      void vscode.window.showErrorMessage(`LeakLens: no rule ${requested.trim()}.`);
      return;
    }
  } else {
    const quickPick = vscode.window.createQuickPick<RuleItem>();
    quickPick.title = 'LeakLens rules';
    quickPick.placeholder = 'Pick a rule to read its documentation';
    quickPick.matchOnDescription = true;
    quickPick.matchOnDetail = true;
    quickPick.items = rules;
    const current = ruleAtCursor();
    const active = rules.find((r) => r.code === current);
    if (active) quickPick.activeItems = [active];
    chosen = await new Promise<RuleItem | undefined>((resolve) => {
      quickPick.onDidAccept(() => {
        resolve(quickPick.selectedItems[0] ?? quickPick.activeItems[0]);
        quickPick.hide();
      });
      quickPick.onDidHide(() => {
        resolve(undefined);
        quickPick.dispose();
      });
      quickPick.show();
    });
  }
  if (chosen) await vscode.commands.executeCommand('markdown.showPreview', chosen.uri);
}

/**
 * "$(bug) LeakLens: N" in the status bar: the number of LeakLens diagnostics across the
 * workspace, recounted (debounced) when diagnostics change. Shown while LeakLens is enabled
 * and a Python editor is visible or findings exist; a click opens the Problems panel.
 */
class FindingsStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('leaklens.findings', vscode.StatusBarAlignment.Left, 0);
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly manager: ServerManager) {
    this.item.name = 'LeakLens findings';
    this.item.command = 'workbench.actions.view.problems';
    this.subscriptions.push(
      vscode.languages.onDidChangeDiagnostics(() => this.schedule()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.schedule()),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidOpenTextDocument((document) => {
        if (document.languageId === 'python') this.schedule();
      }),
      manager.onDidChangeState(() => this.schedule()),
    );
    this.refresh();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, STATUS_DEBOUNCE_MS);
  }

  refresh(): void {
    if (!this.manager.enabled) {
      this.item.hide();
      return;
    }
    let findings = 0;
    let files = 0;
    const bySeverity = [0, 0, 0, 0]; // vscode.DiagnosticSeverity: Error, Warning, Information, Hint
    for (const [, diagnostics] of vscode.languages.getDiagnostics()) {
      let inFile = 0;
      for (const d of diagnostics) {
        if (d.source !== SOURCE) continue;
        inFile++;
        bySeverity[d.severity] = (bySeverity[d.severity] ?? 0) + 1;
      }
      findings += inFile;
      if (inFile > 0) files++;
    }
    const pythonVisible = vscode.window.visibleTextEditors.some((e) => e.document.languageId === 'python');
    if (findings === 0 && !pythonVisible) {
      this.item.hide();
      return;
    }
    const stopped = this.manager.stopped;
    this.item.text = `$(bug) LeakLens: ${findings}`;
    const severities: Array<[vscode.DiagnosticSeverity, string]> = [
      [vscode.DiagnosticSeverity.Error, 'error'],
      [vscode.DiagnosticSeverity.Warning, 'warning'],
      [vscode.DiagnosticSeverity.Information, 'info'],
      [vscode.DiagnosticSeverity.Hint, 'hint'],
    ];
    const breakdown = severities.filter(([s]) => bySeverity[s] > 0).map(([s, word]) => `${bySeverity[s]} ${word}`);
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const lines = [findings === 0 ? 'LeakLens: no findings' : `LeakLens: ${plural(findings, 'finding')} in ${plural(files, 'file')} (${breakdown.join(', ')})`];
    if (stopped) lines.push('The LeakLens server is not running: see "LeakLens: Show Output", or "LeakLens: Restart Server".');
    lines.push('Click to open the Problems panel.');
    this.item.tooltip = lines.join('\n');
    this.item.backgroundColor = stopped ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
