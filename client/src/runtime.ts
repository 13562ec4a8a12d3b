// Run-time confirmation in VS Code: "Track Memory Growth…", "Find Reference Cycles…" and "Find
// Unclosed Resources…" run the function or test under the cursor (or the script) with the
// project's Python, through the runner package server/python/leaklens_runner/ (shipped as
// dist/runtime/leaklens_runner/). Results become diagnostics of
// their own source (`leaklens-runtime`) with the retention path or the cycle as related
// information, a readable report (a read-only document, and the report view of report-view.ts,
// which draws the retention paths and cycles), and confirmations sent to the language server,
// which marks the static findings the run confirmed. "Profile Memory…" shows a line-by-line memory
// profile as end-of-line annotations (profile-annotations.ts) and as tables in the report.
// Running code needs a trusted workspace: everything here checks it.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import * as vscode from 'vscode';
import { CLEAR_ALL_KEY, confirmationsFromReport, RUNTIME_REPORT_NOTIFICATION } from '../../server/src/runtime/confirm';
import { displayLocation, findingMessage, formatBytes, formatReportText, shortType, staticText, summaryLine, testMessage, testResult } from '../../server/src/runtime/format';
import { allFindings, CycleFinding, GrowthFinding, isLeak, leakingTests, ResourceFinding, RuntimeMode, RuntimeReport } from '../../server/src/runtime/report';
import { CONFIRMED_BY_RESOURCES, matchStaticFindings, StaticFindingLine } from '../../server/src/runtime/static-match';
import { defaultPython, RunResult, runRuntime } from '../../server/src/runtime/spawn';
import { callTemplate, lensTargets, TargetChoice, targetsAt } from '../../server/src/runtime/targets';
import { ReportView, ReportViewState } from './report-view';
import { ProfileAnnotations } from './profile-annotations';

export const RUNTIME_SOURCE = 'leaklens-runtime';
export const RUNTIME_COMMANDS = {
  trackGrowth: 'leaklens.trackMemoryGrowth',
  findCycles: 'leaklens.findReferenceCycles',
  findResources: 'leaklens.findUnclosedResources',
  showReport: 'leaklens.showRuntimeReport',
  clear: 'leaklens.clearRuntimeResults',
  profile: 'leaklens.profileMemory',
  clearProfile: 'leaklens.clearMemoryProfile',
  /** Not in the palette: the profile annotations the visible editors show (for tests). */
  profileAnnotations: 'leaklens.profileAnnotations',
} as const;
const REPORT_SCHEME = 'leaklens-report';
/** Watched names taken from static findings, at most. */
const MAX_WATCHES = 20;
const PYTHON_API_TIMEOUT_MS = 5_000;
/** The call last typed for a function, per workspace: `leaklens.lastCall` → { "path.py:function": "path.py:function(i % 50)" }. */
const LAST_CALLS_KEY = 'leaklens.lastCall';
const MODE_TITLES: Record<RuntimeMode, string> = {
  growth: 'LeakLens: Track Memory Growth',
  cycles: 'LeakLens: Find Reference Cycles',
  resources: 'LeakLens: Find Unclosed Resources',
  profile: 'LeakLens: Profile Memory',
};

/** Arguments the commands accept (CodeLens and tests pass them; the palette passes none). */
export interface RunRequest {
  /** Runner target; relative paths are taken from the workspace folder. */
  target?: string;
  /** The file the target is in (for the workspace folder); default: the active editor's. */
  uri?: string | vscode.Uri;
  /** Extra arguments of the runner (counts), mostly for tests. */
  warmup?: number;
  rounds?: number;
  calls?: number;
  /** Run every test of `uri` (a folder or a test file), e.g. from the Explorer's context menu. */
  suite?: boolean;
}

/** `test_*.py` / `*_test.py`: a file the runner takes as a suite of tests. */
export function isTestFileName(path: string): boolean {
  const name = basename(path);
  return name.endsWith('.py') && (name.startsWith('test_') || name.endsWith('_test.py'));
}

/** A progress line of a suite on the runner's stderr: `[3/12] tests/test_x.py::test_y: leak +2.1 KiB per call`. */
const SUITE_PROGRESS = /^\[(\d+)\/(\d+)\] (.*)$/gm;

/** What a command resolves to (for tests and other extensions). */
export interface RunOutcome {
  status: 'done' | 'failed' | 'cancelled' | 'untrusted' | 'no-target';
  exitCode?: number | null;
  findings?: number;
  leaks?: number;
  /** Suites: the tests run and the ones that leak. */
  tests?: number;
  leakingTests?: number;
  error?: string;
  report?: string;
}

type Notify = (method: string, params: unknown) => Promise<void> | void;

/** Minimal view of the Python extension's API (ms-python.python `exports.environments`). */
interface PythonEnvironmentsApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string } | undefined;
    resolveEnvironment(environment: { id: string; path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
}

interface StoredRun {
  key: string;
  report: RuntimeReport;
  base: string;
}

export function registerRuntime(context: vscode.ExtensionContext, notifyServer: Notify): void {
  const runtime = new RuntimeRunner(context, notifyServer);
  context.subscriptions.push(runtime);
}

class RuntimeRunner implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection(RUNTIME_SOURCE);
  private readonly output = vscode.window.createOutputChannel('LeakLens Run');
  private readonly reports = new ReportDocuments();
  private readonly view = new ReportView((file) => new PathMapper().uri(file));
  private readonly profile = new ProfileAnnotations((file) => new PathMapper().uri(file));
  /** Diagnostics per run key, merged into the collection. */
  private readonly byKey = new Map<string, Map<string, vscode.Diagnostic[]>>();
  private last: StoredRun | undefined;
  private readonly lenses = new RuntimeLenses();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext, private readonly notifyServer: Notify) {
    this.subscriptions.push(
      this.diagnostics,
      this.output,
      vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this.reports),
      vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, this.lenses),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.trackGrowth, (arg?: unknown, target?: unknown) => this.run('growth', toRequest(arg, target))),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.findCycles, (arg?: unknown, target?: unknown) => this.run('cycles', toRequest(arg, target))),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.findResources, (arg?: unknown, target?: unknown) => this.run('resources', toRequest(arg, target))),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.showReport, () => this.showReport()),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.clear, () => this.clear()),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.profile, (arg?: unknown, target?: unknown) => this.run('profile', toRequest(arg, target))),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.clearProfile, () => this.profile.clear()),
      vscode.commands.registerCommand(RUNTIME_COMMANDS.profileAnnotations, () => this.profile.current()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.lenses.refresh()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('leaklens.runtime.codeLens')) this.lenses.refresh();
      }),
    );
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.lenses.dispose();
    this.reports.dispose();
    this.view.dispose();
    this.profile.dispose();
  }

  private async run(mode: RuntimeMode, request: RunRequest): Promise<RunOutcome> {
    if (!vscode.workspace.isTrusted) {
      const choice = await vscode.window.showWarningMessage('LeakLens runs your code only in a trusted workspace.', 'Manage Workspace Trust');
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
      return { status: 'untrusted' };
    }
    const resolved = await this.resolveTarget(mode, request);
    if (!resolved) return { status: 'no-target' };
    const { target, folder, fileUri } = resolved;
    const python = await findPython(fileUri ?? folder.uri);
    const settings = vscode.workspace.getConfiguration('leaklens.runtime', fileUri ?? folder.uri);
    const count = (name: 'warmup' | 'rounds' | 'calls'): number | undefined => {
      // The settings are for the measuring modes: a profile is one call unless asked for more.
      const value = request[name] ?? (mode === 'profile' ? undefined : settings.get<number | null>(name)) ?? undefined;
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
    };
    const suite = resolved.suite ?? false;
    const watch = mode === 'growth' && !suite ? watchedNames(folder, fileUri) : [];
    const subject = suite ? `the tests in ${target}` : target;
    const title = mode === 'growth' ? `LeakLens: tracking memory growth of ${subject}` : mode === 'cycles' ? `LeakLens: finding reference cycles of ${subject}` : mode === 'profile' ? `LeakLens: profiling the memory of ${subject}` : `LeakLens: finding unclosed resources of ${subject}`;
    const testTimeout = settings.get<number>('testTimeout');
    this.output.appendLine(`\n$ ${python.path} leaklens_runner ${mode} ${target}   (interpreter from ${python.from}; in ${folder.uri.fsPath})`);
    const result: RunResult = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          const subscription = token.onCancellationRequested(() => controller.abort());
          progress.report({ message: `with ${python.path}` });
          let done = 0;
          let pending = '';
          const onProgress = (text: string) => {
            // Suites: `[3/12] nodeid: result` lines → `3/12 tests` in the notification (whole lines only: chunks split them).
            pending += text;
            const cut = pending.lastIndexOf('\n');
            if (cut < 0) {
              if (pending.length > 64_000) pending = '';
              return;
            }
            const lines = pending.slice(0, cut);
            pending = pending.slice(cut + 1);
            for (const match of lines.matchAll(SUITE_PROGRESS)) {
              const [n, total] = [Number(match[1]), Number(match[2])];
              const increment = total > 0 && n > done ? ((n - done) * 100) / total : undefined;
              done = Math.max(done, n);
              progress.report({ message: n === 0 ? `${total} tests collected` : `${n}/${total} tests — ${match[3]}`, increment });
            }
          };
          try {
            return await runRuntime({
              python: python.path,
              mode,
              target,
              workspace: folder.uri.fsPath,
              warmup: count('warmup'),
              rounds: mode === 'growth' ? count('rounds') : undefined,
              calls: count('calls'),
              watch,
              testTimeout: suite && typeof testTimeout === 'number' && testTimeout >= 0 ? testTimeout : undefined,
              runner: this.context.asAbsolutePath(join('dist', 'runtime', 'leaklens_runner')),
              signal: controller.signal,
              onStdout: (text) => this.output.append(text),
              onStderr: (text) => {
                this.output.append(text);
                if (suite) onProgress(text);
              },
            });
          } finally {
            subscription.dispose();
          }
        },
      );
    if (result.cancelled && !result.report?.suite) {
      this.output.appendLine('[LeakLens] cancelled: the program was stopped.');
      return { status: 'cancelled' };
    }
    if (!result.report) {
      const reason = result.failure ?? 'no report';
      this.output.appendLine(`[LeakLens] ${reason}`);
      void this.offerOutput(`LeakLens could not run ${target}: ${reason}`, python.from === 'default');
      return { status: 'failed', error: reason, exitCode: result.exitCode };
    }
    const report = result.report;
    const key = `${mode} ${target}`;
    const mapper = new PathMapper();
    if (mode === 'resources') matchStaticFindings(report, (file) => staticFindingsOf(mapper.uri(file)));
    this.publish(key, report, mapper);
    this.last = { key, report, base: folder.uri.fsPath };
    this.reports.set(report, folder.uri.fsPath);
    if (mode === 'profile') this.profile.show(report);
    await this.view.refresh(report, folder.uri.fsPath).catch((error) => this.output.appendLine(`[LeakLens] the report view: ${String(error)}`));
    this.output.appendLine(`[LeakLens] ${summaryLine(report)}`);
    await this.sendConfirmations(report, mapper);
    if (result.cancelled) {
      // A suite stopped part way: the tests done are shown, the others were not run.
      this.output.appendLine(`[LeakLens] cancelled: ${summaryLine(report)}`);
      return { status: 'cancelled', tests: report.suite?.tests.length, leakingTests: leakingTests(report).length, report: REPORT_URI.toString() };
    }
    void this.announce(mode, request, resolved.file, report);
    return {
      status: report.errors.length ? 'failed' : 'done',
      exitCode: report.exitCode,
      findings: allFindings(report).length,
      leaks: allFindings(report).filter(isLeak).length,
      ...(report.suite ? { tests: report.suite.tests.length, leakingTests: leakingTests(report).length } : {}),
      error: report.errors[0]?.message,
      report: REPORT_URI.toString(),
    };
  }

  /** The target of a request, or a choice offered to the user. */
  private async resolveTarget(mode: RuntimeMode, request: RunRequest): Promise<{ target: string; folder: vscode.WorkspaceFolder; fileUri?: vscode.Uri; file?: string; suite?: boolean } | undefined> {
    const editor = vscode.window.activeTextEditor;
    const fileUri = request.uri ? (typeof request.uri === 'string' ? vscode.Uri.parse(request.uri) : request.uri) : editor?.document.uri;
    const folder = (fileUri && vscode.workspace.getWorkspaceFolder(fileUri)) ?? vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showWarningMessage('LeakLens: open a folder (a workspace) to run code from it.');
      return undefined;
    }
    if (request.suite && fileUri?.scheme === 'file') {
      if (mode === 'cycles') {
        void vscode.window.showInformationMessage('LeakLens: Find Reference Cycles runs one function or test; the tests of a folder or file run with Track Memory Growth or Find Unclosed Resources.');
        return undefined;
      }
      return { target: suiteSpec(folder, fileUri.fsPath), folder, fileUri: isFolder(fileUri.fsPath) ? undefined : fileUri, file: fileUri.fsPath, suite: true };
    }
    if (request.target) return { target: request.target, folder, fileUri, file: fileUri?.fsPath, suite: isSuiteTarget(folder, request.target) };
    if (!editor || editor.document.languageId !== 'python' || editor.document.uri.scheme !== 'file') {
      void vscode.window.showInformationMessage('LeakLens: open a Python file and put the cursor in the function or test to run.');
      return undefined;
    }
    const document = editor.document;
    if (document.isDirty) await document.save(); // the runner runs what is on disk
    const path = relative(folder.uri.fsPath, document.uri.fsPath).split(sep).join('/');
    const choices = targetsAt(path, document.getText(), editor.selection.active.line);
    const items: Array<vscode.QuickPickItem & { choice?: TargetChoice }> = choices.map((choice) => ({ label: choice.label, description: choice.spec, detail: choice.detail, choice }));
    const SUITE_FILE = 'suite-file';
    const SUITE_FOLDER = 'suite-folder';
    if (mode !== 'cycles') {
      if (isTestFileName(path)) items.push({ label: 'Every test of this file', description: path, detail: 'each test measured on its own; the leaking tests listed, worst first', choice: { label: SUITE_FILE, spec: path } as TargetChoice });
      items.push({ label: 'Every test in a folder…', detail: 'a folder of test files (test_*.py, *_test.py), each test measured on its own', choice: { label: SUITE_FOLDER, spec: '' } as TargetChoice });
    }
    items.push({ label: 'Enter a target…', detail: 'module:function, path/to/file.py:function, tests/test_x.py::test_y, a script path, a test file or a folder of tests' });
    const picked = await vscode.window.showQuickPick(items, {
      title: MODE_TITLES[mode],
      placeHolder: 'What to run (repeatedly)',
    });
    if (!picked) return undefined;
    if (picked.choice?.label === SUITE_FILE) return { target: path, folder, fileUri: document.uri, file: document.uri.fsPath, suite: true };
    if (picked.choice?.label === SUITE_FOLDER) {
      const chosen = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, defaultUri: vscode.Uri.file(dirname(document.uri.fsPath)), openLabel: 'Run Its Tests', title: MODE_TITLES[mode] });
      const picked = chosen?.[0];
      if (!picked) return undefined;
      const inFolder = vscode.workspace.getWorkspaceFolder(picked) ?? folder;
      return { target: suiteSpec(inFolder, picked.fsPath), folder: inFolder, file: picked.fsPath, suite: true };
    }
    let target: string | undefined = picked.choice?.spec;
    if (picked.choice?.required?.length) {
      // A function with parameters: the user types the call (its arguments are Python expressions),
      // offered as last typed for this function.
      const lastCalls = this.context.workspaceState.get<Record<string, string>>(LAST_CALLS_KEY, {});
      target = await vscode.window.showInputBox({
        title: `LeakLens: call ${picked.choice.label} with`,
        value: lastCalls[picked.choice.spec] ?? callTemplate(picked.choice),
        prompt: `Arguments for ${picked.choice.required.join(', ')}: Python expressions in the module; i is the call number (handle(i), handle(i % 50), render(user_id=i))`,
      });
      if (target) await this.context.workspaceState.update(LAST_CALLS_KEY, { ...lastCalls, [picked.choice.spec]: target });
    } else if (!target) {
      target = await vscode.window.showInputBox({ title: 'LeakLens: target to run', value: choices[0] ? callTemplate(choices[0]) : undefined, prompt: 'module:function, path/to/file.py:function, either as a call (shop:handle(i % 50)), tests/test_x.py::test_y or a script path' });
    }
    return target ? { target, folder, fileUri: document.uri, file: document.uri.fsPath, suite: isSuiteTarget(folder, target) } : undefined;
  }

  private publish(key: string, report: RuntimeReport, mapper: PathMapper): void {
    const perUri = new Map<string, vscode.Diagnostic[]>();
    const add = (file: string, diagnostic: vscode.Diagnostic) => {
      const uri = mapper.uri(file).toString();
      perUri.set(uri, [...(perUri.get(uri) ?? []), diagnostic]);
    };
    for (const finding of report.findings) {
      const diagnostic = finding.kind === 'resource'
        ? this.resourceDiagnostic(finding, report, mapper)
        : finding.kind === 'cycle' ? this.cycleDiagnostic(finding, report, mapper) : this.growthDiagnostic(finding, report, mapper);
      if (diagnostic) add(finding.location.file, diagnostic);
    }
    for (const test of leakingTests(report)) {
      // A suite: the leaking test's def line, and its findings (said of that test, with its own call count).
      const own = { ...report, totals: test.totals ?? {} } as RuntimeReport;
      const sites: vscode.DiagnosticRelatedInformation[] = [];
      for (const finding of test.findings) {
        const diagnostic = finding.kind === 'resource' ? this.resourceDiagnostic(finding, own, mapper) : this.growthDiagnostic(finding, own, mapper);
        if (!diagnostic) continue;
        diagnostic.message += ` — in test ${test.nodeid}`;
        add(finding.location.file, diagnostic);
        if (finding.kind === 'resource' || finding.verdict === 'leak') sites.push(new vscode.DiagnosticRelatedInformation(location(mapper, finding.location.file, finding.location.line), finding.kind === 'resource' ? 'allocated here, never closed' : 'grows here'));
      }
      if (!test.file || !test.line) continue;
      const diagnostic = new vscode.Diagnostic(lineRange(test.file, test.line), testMessage(test, report.mode), vscode.DiagnosticSeverity.Warning);
      diagnostic.source = RUNTIME_SOURCE;
      diagnostic.code = report.mode === 'resources' ? 'test-unclosed' : 'test-leak';
      if (sites.length) diagnostic.relatedInformation = sites;
      add(test.file, diagnostic);
    }
    this.byKey.set(key, perUri);
    this.refreshCollection();
  }

  private refreshCollection(): void {
    const merged = new Map<string, vscode.Diagnostic[]>();
    for (const perUri of this.byKey.values()) for (const [uri, list] of perUri) merged.set(uri, [...(merged.get(uri) ?? []), ...list]);
    this.diagnostics.clear();
    for (const [uri, list] of merged) this.diagnostics.set(vscode.Uri.parse(uri), list);
  }

  private growthDiagnostic(finding: GrowthFinding, report: RuntimeReport, mapper: PathMapper): vscode.Diagnostic | undefined {
    if (finding.verdict === 'noise') return undefined;
    const severity = finding.verdict === 'bounded'
      ? vscode.DiagnosticSeverity.Hint
      : finding.attribution === 'unconfirmed' ? vscode.DiagnosticSeverity.Information : vscode.DiagnosticSeverity.Warning;
    const diagnostic = new vscode.Diagnostic(lineRange(finding.location.file, finding.location.line), findingMessage(finding, report), severity);
    diagnostic.source = RUNTIME_SOURCE;
    diagnostic.code = finding.verdict === 'leak' ? 'growth' : 'bounded';
    const related: vscode.DiagnosticRelatedInformation[] = [];
    const root = finding.retention?.root;
    if (finding.retention) {
      const at = root?.file && root.line ? location(mapper, root.file, root.line) : location(mapper, finding.location.file, finding.location.line);
      related.push(new vscode.DiagnosticRelatedInformation(at, `kept alive by: ${finding.retention.text}`));
    }
    for (const frame of finding.traceback.slice(1).filter((f) => f.workspace).slice(0, 5)) {
      related.push(new vscode.DiagnosticRelatedInformation(location(mapper, frame.file, frame.line), `called from ${frame.function ?? 'here'}`));
    }
    if (related.length) diagnostic.relatedInformation = related;
    return diagnostic;
  }

  /** On the allocation line (or, allocated outside the workspace, the line that dropped it). */
  private resourceDiagnostic(finding: ResourceFinding, report: RuntimeReport, mapper: PathMapper): vscode.Diagnostic {
    const known = staticText(finding, report.workspace);
    const message = `${findingMessage(finding, report)}${known ? ` — ${known}` : ''}`;
    const severity = finding.attribution === 'confirmed' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
    const diagnostic = new vscode.Diagnostic(lineRange(finding.location.file, finding.location.line), message, severity);
    diagnostic.source = RUNTIME_SOURCE;
    diagnostic.code = 'unclosed-resource';
    const related: vscode.DiagnosticRelatedInformation[] = [];
    for (const frame of finding.traceback.slice(1).filter((f) => f.workspace).slice(0, 5)) {
      related.push(new vscode.DiagnosticRelatedInformation(location(mapper, frame.file, frame.line), `allocated through ${frame.function ?? 'here'}`));
    }
    for (const at of finding.releasedAt) {
      related.push(new vscode.DiagnosticRelatedInformation(location(mapper, at.file, at.line), `last reference dropped here${at.function ? ` (${at.function})` : ''}`));
    }
    if (related.length) diagnostic.relatedInformation = related;
    return diagnostic;
  }

  private cycleDiagnostic(finding: CycleFinding, report: RuntimeReport, mapper: PathMapper): vscode.Diagnostic {
    const diagnostic = new vscode.Diagnostic(lineRange(finding.location.file, finding.location.line), findingMessage(finding, report), vscode.DiagnosticSeverity.Warning);
    diagnostic.source = RUNTIME_SOURCE;
    diagnostic.code = 'cycle';
    const related: vscode.DiagnosticRelatedInformation[] = [];
    for (const edge of finding.edges) {
      const from = shortType(finding.members[edge.from]?.type ?? '?');
      const to = shortType(finding.members[edge.to]?.type ?? '?');
      for (const at of edge.assignedAt ?? []) {
        related.push(new vscode.DiagnosticRelatedInformation(location(mapper, at.file, at.line), `${from} ${edge.label} → ${to}: set here`));
      }
    }
    for (const member of finding.members) {
      if (!member.site) continue;
      related.push(new vscode.DiagnosticRelatedInformation(location(mapper, member.site.file, member.site.line), `${shortType(member.type)} allocated here${member.approximate ? ' (approximate)' : ''}`));
    }
    if (related.length) diagnostic.relatedInformation = related;
    return diagnostic;
  }

  private async sendConfirmations(report: RuntimeReport, mapper: PathMapper): Promise<void> {
    try {
      const params = confirmationsFromReport(report, {
        toUri: (file) => mapper.uri(file).toString(),
        readLines: (file) => {
          try {
            return readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
          } catch {
            return undefined;
          }
        },
      });
      await this.notifyServer(RUNTIME_REPORT_NOTIFICATION, params);
    } catch (error) {
      this.output.appendLine(`[LeakLens] could not tell the language server what the run confirmed: ${String(error)}`);
    }
  }

  private async announce(mode: RuntimeMode, request: RunRequest, file: string | undefined, report: RuntimeReport): Promise<void> {
    const actions: string[] = ['Show Report'];
    if (report.errors.length) {
      const error = report.errors[0];
      const direct = error.kind === 'pytest-missing' && report.target.nodeid ? directTarget(report.target.nodeid) : undefined;
      if (direct) actions.unshift('Run Directly');
      actions.push('Show Output');
      const choice = await vscode.window.showErrorMessage(`LeakLens: ${error.message}`, ...actions);
      if (choice === 'Run Directly' && direct) void this.run(mode, { ...request, target: direct, uri: request.uri ?? (file ? vscode.Uri.file(file) : undefined) });
      else if (choice === 'Show Output') this.output.show(true);
      else if (choice === 'Show Report') void this.showReport();
      return;
    }
    const leaks = report.findings.filter(isLeak);
    let text: string;
    if (report.suite) {
      const leaking = leakingTests(report);
      text = leaking.length
        ? `LeakLens: ${leaking.length} of ${report.suite.tests.length} tests ${mode === 'resources' ? 'leave resources unclosed' : 'leak'}; worst: ${leaking[0].nodeid} (${testResult(leaking[0])}). ${summaryLine(report)}`
        : `LeakLens: ${summaryLine(report)}`;
      const choice = await (leaking.length ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions));
      if (choice === 'Show Report') void this.showReport();
      return;
    }
    if (mode === 'profile') {
      text = `LeakLens: ${summaryLine(report)}`;
    } else if (mode === 'resources') {
      const missed = leaks.filter((f) => f.kind === 'resource' && f.static?.length === 0).length;
      text = `LeakLens: ${summaryLine(report)}${missed ? ` ${missed === 1 ? 'One was' : `${missed} were`} not found by static analysis.` : ''}`;
    } else if (mode === 'cycles') {
      text = leaks.length ? `LeakLens: ${summaryLine(report)}` : `LeakLens: no reference cycles from ${report.target.spec}.`;
    } else if (leaks.length) {
      const first = leaks[0] as GrowthFinding;
      text = `LeakLens: ${leaks.length === 1 ? 'a leak' : `${leaks.length} leaking sites`} in ${report.target.spec}: ${displayLocation(first.location, report.workspace)} grows ${formatBytes(first.growth.bytesPerCall)} per call.`;
    } else {
      text = `LeakLens: ${summaryLine(report)}`;
    }
    const choice = await (leaks.length ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions));
    if (choice === 'Show Report') void this.showReport();
  }

  /** The report view (pictures, then the text); resolves to what it shows. */
  private async showReport(): Promise<ReportViewState | undefined> {
    if (!this.last) {
      void vscode.window.showInformationMessage('LeakLens: no run yet. Use "LeakLens: Track Memory Growth…", "Find Reference Cycles…", "Find Unclosed Resources…" or "Profile Memory…".');
      return undefined;
    }
    return this.view.show(this.last.report, this.last.base);
  }

  private async clear(): Promise<void> {
    this.byKey.clear();
    this.refreshCollection();
    await this.notifyServer(RUNTIME_REPORT_NOTIFICATION, { key: CLEAR_ALL_KEY, files: [] });
  }

  private async offerOutput(message: string, suggestSetting: boolean): Promise<void> {
    const actions = suggestSetting ? ['Show Output', 'Set Interpreter'] : ['Show Output'];
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    if (choice === 'Show Output') this.output.show(true);
    if (choice === 'Set Interpreter') void vscode.commands.executeCommand('workbench.action.openSettings', 'leaklens.runtime.python');
  }
}

function toRequest(arg: unknown, target: unknown): RunRequest {
  // From CodeLens: (uri, target); from code: a RunRequest; from the palette: nothing (or the editor's URI from a menu);
  // from the Explorer's context menu: (uri, selected uris), a folder or a test file whose tests to run.
  if (typeof target === 'string') return { uri: arg instanceof vscode.Uri || typeof arg === 'string' ? (arg as vscode.Uri | string) : undefined, target };
  if (arg instanceof vscode.Uri && Array.isArray(target) && arg.scheme === 'file' && (isFolder(arg.fsPath) || isTestFileName(arg.fsPath))) return { uri: arg, suite: true };
  if (arg instanceof vscode.Uri) return { uri: arg };
  if (typeof arg === 'string') return { target: arg };
  if (arg && typeof arg === 'object') return arg as RunRequest;
  return {};
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The runner's target for a folder or test file: its path in the workspace folder (`.` for the folder itself). */
function suiteSpec(folder: vscode.WorkspaceFolder, path: string): string {
  const rel = relative(folder.uri.fsPath, path).split(sep).join('/');
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

/** Does the runner take this target as a suite (a folder, or a test file without `:function`)? */
function isSuiteTarget(folder: vscode.WorkspaceFolder, target: string): boolean {
  if (target.includes('::') || /:[A-Za-z_][\w.]*(\(.*\))?\s*$/s.test(target.replace(/^[A-Za-z]:[\\/]/, ''))) return false;
  const path = isAbsolute(target) ? target : join(folder.uri.fsPath, target);
  return isFolder(path) || (isTestFileName(path) && existsSync(path));
}

/** `tests/test_x.py::test_y` → `tests/test_x.py:test_y` (a plain call, without pytest), for top-level tests. */
function directTarget(nodeid: string): string | undefined {
  const parts = nodeid.split('::');
  return parts.length === 2 ? `${parts[0]}:${parts[1].replace(/\[.*$/, '')}` : undefined;
}

/** The interpreter: the Python extension's selection, else `leaklens.runtime.python`, else python3. */
async function findPython(resource: vscode.Uri): Promise<{ path: string; from: 'python-extension' | 'setting' | 'default' }> {
  const fromExtension = await pythonFromExtension(resource).catch(() => undefined);
  if (fromExtension) return { path: fromExtension, from: 'python-extension' };
  const setting = vscode.workspace.getConfiguration('leaklens.runtime', resource).get<string>('python', '').trim();
  if (setting) return { path: setting, from: 'setting' };
  return { path: defaultPython(), from: 'default' };
}

async function pythonFromExtension(resource: vscode.Uri): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonEnvironmentsApi>('ms-python.python');
  if (!extension) return undefined;
  const lookup = async () => {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const environments = api?.environments;
    if (!environments) return undefined;
    const active = environments.getActiveEnvironmentPath(resource);
    if (!active) return undefined;
    const resolved = await environments.resolveEnvironment(active);
    const path = resolved?.executable?.uri?.fsPath;
    return path && existsSync(path) ? path : undefined;
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), PYTHON_API_TIMEOUT_MS)));
  try {
    return await Promise.race([lookup(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Names LeakLens flagged as growing (LL301 class registries, LL302 method caches, LL303 module
 * caches), as `--watch path.py:name`, from the static diagnostics of the file run and the open
 * editors; the runner follows their length from round to round.
 */
function watchedNames(folder: vscode.WorkspaceFolder, fileUri: vscode.Uri | undefined): string[] {
  // The growing global / class attribute / method cache of each finding, from its `data.subject`.
  const uris = new Map<string, vscode.Uri>();
  if (fileUri) uris.set(fileUri.toString(), fileUri);
  for (const editor of vscode.window.visibleTextEditors) uris.set(editor.document.uri.toString(), editor.document.uri);
  const out: string[] = [];
  for (const uri of uris.values()) {
    if (uri.scheme !== 'file' || vscode.workspace.getWorkspaceFolder(uri)?.uri.toString() !== folder.uri.toString()) continue;
    const path = relative(folder.uri.fsPath, uri.fsPath).split(sep).join('/');
    for (const name of subjects.get(uri.toString()) ?? []) {
      const spec = `${path}:${name}`;
      if (!out.includes(spec)) out.push(spec);
      if (out.length >= MAX_WATCHES) return out;
    }
  }
  return out;
}

const WATCHED_RULES = new Set(['LL301', 'LL302', 'LL303']);
/** Per URI, the `data.subject.name` of the LL301/LL302/LL303 diagnostics last published (recorded by the client's middleware). */
const subjects = new Map<string, string[]>();

/**
 * Called by the language client's middleware with each publication: keeps the subjects of the
 * container findings (the LSP diagnostic's `data`, which the language client keeps on the
 * objects it converts but VS Code's diagnostic collections do not promise to hand back).
 */
export function recordSubjects(uri: vscode.Uri, diagnostics: readonly vscode.Diagnostic[]): void {
  const names: string[] = [];
  for (const d of diagnostics) {
    const code = typeof d.code === 'object' ? String(d.code.value) : String(d.code ?? '');
    if (!WATCHED_RULES.has(code)) continue;
    const name = subjectOf(d);
    if (name && !names.includes(name)) names.push(name);
  }
  if (names.length) subjects.set(uri.toString(), names);
  else subjects.delete(uri.toString());
}

/** `data.subject.name` of a diagnostic, when it is a dotted Python name. */
function subjectOf(d: vscode.Diagnostic): string | undefined {
  const data = (d as vscode.Diagnostic & { data?: unknown }).data;
  const subject = data && typeof data === 'object' ? (data as { subject?: unknown }).subject : undefined;
  const name = subject && typeof subject === 'object' ? (subject as { name?: unknown }).name : undefined;
  return typeof name === 'string' && /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(name) ? name : undefined;
}

/**
 * The static findings the editor holds for a file (its LeakLens diagnostics, low-confidence ones
 * only with leaklens.allFindings), by 1-based line; undefined outside the workspace's Python files.
 */
function staticFindingsOf(uri: vscode.Uri): StaticFindingLine[] | undefined {
  if (uri.scheme !== 'file' || !uri.fsPath.endsWith('.py') || !vscode.workspace.getWorkspaceFolder(uri)) return undefined;
  return vscode.languages
    .getDiagnostics(uri)
    .filter((d) => d.source === 'leaklens')
    .map((d) => ({ code: typeof d.code === 'object' ? String(d.code.value) : String(d.code ?? ''), line: d.range.start.line + 1 }))
    .filter((f) => CONFIRMED_BY_RESOURCES.includes(f.code));
}

/** Report paths are real paths; the editor may know the files through a symlinked folder. */
class PathMapper {
  private readonly folders: Array<{ real: string; path: string }> = [];

  constructor() {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      try {
        const real = realpathSync(folder.uri.fsPath);
        if (real !== folder.uri.fsPath) this.folders.push({ real, path: folder.uri.fsPath });
      } catch {
        // a folder that does not exist on disk: nothing to map
      }
    }
  }

  uri(file: string): vscode.Uri {
    for (const { real, path } of this.folders) {
      if (file === real || file.startsWith(real + sep)) return vscode.Uri.file(path + file.slice(real.length));
    }
    return vscode.Uri.file(isAbsolute(file) ? file : join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '', file));
  }
}

function location(mapper: PathMapper, file: string, line: number): vscode.Location {
  return new vscode.Location(mapper.uri(file), lineRange(file, line));
}

/** The line's text without its indentation (the whole line when the file cannot be read). */
function lineRange(file: string, line: number): vscode.Range {
  const index = Math.max(0, line - 1);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').split(/\r\n|\r|\n/)[index];
  } catch {
    text = undefined;
  }
  if (text === undefined) return new vscode.Range(index, 0, index, 0);
  const start = text.length - text.trimStart().length;
  return new vscode.Range(index, start, index, Math.max(start, text.trimEnd().length));
}

const REPORT_URI = vscode.Uri.from({ scheme: REPORT_SCHEME, path: '/LeakLens Run Report.txt' });

/** The last report as a read-only document. */
class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = 'No LeakLens run yet.\n';

  set(report: RuntimeReport, base: string): void {
    this.text = formatReportText(report, { base });
    this.changed.fire(REPORT_URI);
  }

  provideTextDocumentContent(): string {
    return this.text;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** "Track memory growth | Find reference cycles | Find unclosed resources | Profile memory" above tests and argument-less functions. */
class RuntimeLenses implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!vscode.workspace.isTrusted) return [];
    if (!vscode.workspace.getConfiguration('leaklens.runtime', document.uri).get<boolean>('codeLens', true)) return [];
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    if (!folder) return [];
    const path = relative(folder.uri.fsPath, document.uri.fsPath).split(sep).join('/');
    const lenses: vscode.CodeLens[] = [];
    if (isTestFileName(path)) {
      // The whole file as a suite, at its top.
      const top = new vscode.Range(0, 0, 0, 0);
      lenses.push(
        new vscode.CodeLens(top, { title: 'Track memory growth of every test', command: RUNTIME_COMMANDS.trackGrowth, arguments: [{ uri: document.uri, suite: true }], tooltip: `LeakLens: run each test of ${path} on its own and list the tests that leak, worst first` }),
        new vscode.CodeLens(top, { title: 'Find unclosed resources of every test', command: RUNTIME_COMMANDS.findResources, arguments: [{ uri: document.uri, suite: true }], tooltip: `LeakLens: run each test of ${path} and list the tests that leave files, sockets or subprocesses unclosed` }),
      );
    }
    for (const choice of lensTargets(path, document.getText())) {
      const range = new vscode.Range(choice.line ?? 0, 0, choice.line ?? 0, 0);
      lenses.push(
        new vscode.CodeLens(range, { title: 'Track memory growth', command: RUNTIME_COMMANDS.trackGrowth, arguments: [document.uri, choice.spec], tooltip: `LeakLens: run ${choice.spec} repeatedly and report what keeps growing` }),
        new vscode.CodeLens(range, { title: 'Find reference cycles', command: RUNTIME_COMMANDS.findCycles, arguments: [document.uri, choice.spec], tooltip: `LeakLens: run ${choice.spec} and report the reference cycles it leaves to the garbage collector` }),
        new vscode.CodeLens(range, { title: 'Find unclosed resources', command: RUNTIME_COMMANDS.findResources, arguments: [document.uri, choice.spec], tooltip: `LeakLens: run ${choice.spec} and report the files, sockets and subprocesses it never closes, by allocation line` }),
        new vscode.CodeLens(range, { title: 'Profile memory', command: RUNTIME_COMMANDS.profile, arguments: [document.uri, choice.spec], tooltip: `LeakLens: run ${choice.spec} once and show what each line allocates, holds and peaks at` }),
      );
    }
    return lenses;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
