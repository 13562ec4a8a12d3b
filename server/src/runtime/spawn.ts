// Starts the runner (the package server/python/leaklens_runner/, shipped as
// dist/runtime/leaklens_runner/) with the user's interpreter and reads its report.
// The interpreter is run directly with an argument list (never through a shell); stdout and
// stderr belong to the program under test and are streamed to the caller; the report comes
// back through a file in a private temporary folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReport, RuntimeMode, RuntimeReport } from './report';

export const RUNNER_FOLDER = 'leaklens_runner';

/**
 * `python -c BOOTSTRAP RUNNER_FOLDER_PATH mode target ...`: the runner's parent folder is on
 * sys.path only while its package is imported (no bytecode written into it), then removed, so
 * that none of its module names (growth, targets, cli, report...) hides a module of the program
 * and the program's sys.path and environment (PYTHONPATH, for the processes it starts) hold no
 * trace of it. The '' that `-c` puts first on sys.path goes too (the runner adds the workspace).
 * sys.argv[0] becomes the runner's folder.
 */
export const RUNNER_BOOTSTRAP = [
  'import os, sys',
  'sys.argv[0] = sys.argv.pop(1)',
  "if sys.path[:1] == ['']: del sys.path[0]",
  'p = os.path.dirname(os.path.abspath(sys.argv[0]))',
  'sys.path.insert(0, p); b = sys.dont_write_bytecode; sys.dont_write_bytecode = True',
  'try: from leaklens_runner import cli',
  'finally: sys.path.remove(p); sys.dont_write_bytecode = b',
  'del os, p, b',
  'sys.exit(cli.run())',
].join('\n');

/** The interpreter's arguments that start the runner in `runnerFolder`, before the runner's own. */
export function launchArguments(runnerFolder: string): string[] {
  return ['-c', RUNNER_BOOTSTRAP, runnerFolder];
}
/** After a cancel: SIGTERM first, SIGKILL if the program is still there this much later. */
const KILL_GRACE_MS = 2_000;
const STDERR_TAIL = 4_000;

/** The runner shipped beside the bundle (dist/runtime/), else the one in the source tree. */
export function findRunner(): string | undefined {
  const candidates = [
    join(__dirname, 'runtime', RUNNER_FOLDER), // dist/leaklens.js, dist/extension.js
    join(__dirname, '..', '..', 'python', RUNNER_FOLDER), // server/src/runtime (sources)
    join(__dirname, '..', '..', '..', '..', 'server', 'python', RUNNER_FOLDER), // out/server/src/runtime
  ];
  return candidates.find((path) => existsSync(join(path, 'cli.py')));
}

/** `python3` where that is the usual name, `python` on Windows. */
export function defaultPython(): string {
  return process.platform === 'win32' ? 'python' : 'python3';
}

export interface RunOptions {
  python: string;
  mode: RuntimeMode;
  /** `module:function`, `file.py:function`, `tests/test_x.py::test_y` or `script.py`. */
  target: string;
  /** The folder whose files count as the user's code; also the working directory. */
  workspace: string;
  warmup?: number;
  rounds?: number;
  calls?: number;
  frames?: number;
  minBytes?: number;
  /** Names to follow (`_cache`, `Plugin.registry`, `pkg/mod.py:_cache`). */
  watch?: string[];
  /** Arguments for a script target (its sys.argv[1:]). */
  scriptArgs?: string[];
  /** Suites (a folder or a test file as the target): seconds of its own time each test may take (0: no limit). */
  testTimeout?: number;
  /** Suites: how tests are collected (default auto: pytest when importable, else unittest). */
  collector?: 'auto' | 'pytest' | 'unittest';
  /** Path of the runner's folder, leaklens_runner/ (default: findRunner()). */
  runner?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  report?: RuntimeReport;
  /** Why there is no report: the interpreter did not start, the run was cancelled, the report is unreadable. */
  failure?: string;
  cancelled: boolean;
  /** The end of the program's stderr, for error messages. */
  stderrTail: string;
  /** What was run, for logs: [interpreter, ...arguments]. */
  command: string[];
}

export function runnerArguments(options: RunOptions, runner: string, reportPath: string): string[] {
  const args = [...launchArguments(runner), options.mode, options.target, '--report', reportPath, '--workspace', options.workspace];
  const counts: Array<[string, number | undefined]> = [
    ['--warmup', options.warmup],
    ['--rounds', options.mode === 'growth' ? options.rounds : undefined],
    ['--calls', options.calls],
    ['--frames', options.frames],
    ['--min-bytes', options.mode === 'growth' ? options.minBytes : undefined],
  ];
  for (const [flag, value] of counts) if (value !== undefined) args.push(flag, String(value));
  if (options.mode === 'growth' || options.mode === 'cycles') for (const name of options.watch ?? []) args.push('--watch', name);
  if (options.testTimeout !== undefined) args.push('--test-timeout', String(options.testTimeout));
  if (options.collector !== undefined) args.push('--collector', options.collector);
  if (options.scriptArgs?.length) args.push('--', ...options.scriptArgs);
  return args;
}

/** Runs the runner once; never rejects (problems come back in `failure`). */
export function runRuntime(options: RunOptions): Promise<RunResult> {
  const runner = options.runner ?? findRunner();
  if (!runner) {
    return Promise.resolve({ exitCode: null, signal: null, cancelled: false, stderrTail: '', command: [], failure: `the runner (${RUNNER_FOLDER}/) was not found next to LeakLens` });
  }
  const folder = mkdtempSync(join(tmpdir(), 'leaklens-run-'));
  const reportPath = join(folder, 'report.json');
  const args = runnerArguments(options, runner, reportPath);
  const command = [options.python, ...args];
  return new Promise<RunResult>((resolve) => {
    let stderrTail = '';
    let cancelled = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (result: Omit<RunResult, 'stderrTail' | 'command' | 'cancelled'>) => {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      let { report, failure } = result;
      if (cancelled && !failure && existsSync(reportPath)) {
        // A suite writes the report of the tests done when it is stopped (marked cancelled).
        try {
          report = parseReport(readFileSync(reportPath, 'utf8'));
        } catch {
          report = undefined;
        }
      }
      if (!failure && !cancelled) {
        try {
          report = parseReport(readFileSync(reportPath, 'utf8'));
        } catch (error) {
          const err = error as NodeJS.ErrnoException;
          failure = err.code === 'ENOENT'
            ? `the runner wrote no report (exit status ${result.exitCode ?? result.signal})${stderrTail.trim() ? `: ${lastLines(stderrTail)}` : ''}`
            : err.message;
        }
      }
      if (cancelled) failure = 'cancelled';
      rmSync(folder, { recursive: true, force: true });
      resolve({ ...result, report, failure, cancelled, stderrTail, command });
    };
    const child = spawn(options.python, args, {
      cwd: options.workspace,
      env: { ...(options.env ?? process.env), PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
      windowsHide: true,
    });
    const onAbort = () => {
      if (settled || child.exitCode !== null) return;
      cancelled = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text: string) => options.onStdout?.(text));
    child.stderr.on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL);
      options.onStderr?.(text);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ENOENT' ? `the Python interpreter "${options.python}" was not found` : `cannot start "${options.python}": ${error.message}`;
      finish({ exitCode: null, signal: null, failure: reason });
    });
    child.on('close', (code, signal) => finish({ exitCode: code, signal }));
  });
}

function lastLines(text: string, count = 5): string {
  return text.trim().split(/\r?\n/).slice(-count).join('\n');
}
