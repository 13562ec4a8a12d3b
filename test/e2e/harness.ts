// The machinery of the VS Code end-to-end tests: a run folder that holds every file the run
// writes, one code-server on its own free loopback port, headless Chromium driven by
// playwright-core, bounded waits (never a fixed sleep), and screenshots.
// /work/shared/recipes/vscode-e2e.md explains why each step is the way it is.
// Not a test file: `node --test out/test/` loads it and finds nothing to run.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

export const ROOT = join(__dirname, '..', '..', '..'); // out/test/e2e → repository root
export const DOCS_IMAGES = join(ROOT, 'docs', 'images');

/** Bounds for the waits below. Generous (CI machines are slow) but never infinite. */
export const TIMEOUTS = {
  codeServerStart: 60_000,
  workbench: 60_000,
  diagnostics: 30_000,
  ui: 20_000,
  disk: 15_000,
  hostSuite: 120_000,
};

// --- bounded waiting -----------------------------------------------------------------------

/** Thrown by a probe of waitFor() when waiting longer cannot help (e.g. the process died). */
export class GiveUp extends Error {}

/**
 * Polls `probe` until it returns something other than undefined/false, or throws after
 * `timeout` ms with `what` and the last value or error seen. The short pause between probes
 * is a retry interval, not a wait for something to happen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeout = TIMEOUTS.ui, interval = 100 }: { timeout?: number; interval?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// --- the run folder ---------------------------------------------------------------------------

export interface Run {
  dir: string;
  tmp: string;
  userData: string;
  extensions: string;
  workspaces: string;
  screenshots: string;
  logs: string;
  /** Environment for every process of the run: XDG_* and TMPDIR inside the run folder. */
  env: NodeJS.ProcessEnv;
}

/**
 * Creates the run folder (or uses LEAKLENS_E2E_RUN_DIR) and points this process's TMPDIR and
 * XDG_* inside it, so that Chromium's temporary profile (playwright creates it in os.tmpdir())
 * and anything else written on the way lands there too.
 */
export function createRun(): Run {
  const dir = process.env.LEAKLENS_E2E_RUN_DIR || mkdtempSync(join(tmpdir(), 'leaklens-e2e-'));
  const sub = (name: string) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const run: Run = {
    dir,
    tmp: sub('tmp'),
    userData: sub('user-data'),
    extensions: sub('extensions'),
    workspaces: sub('workspaces'),
    screenshots: sub('screenshots'),
    logs: sub('logs'),
    env: {},
  };
  const vars = {
    TMPDIR: run.tmp,
    XDG_CONFIG_HOME: sub('xdg/config'),
    XDG_DATA_HOME: sub('xdg/data'),
    XDG_CACHE_HOME: sub('xdg/cache'),
    XDG_STATE_HOME: sub('xdg/state'),
    XDG_RUNTIME_DIR: sub('xdg/runtime'),
  };
  Object.assign(process.env, vars);
  run.env = { ...process.env, ...vars };
  // Only the run's own variables reach code-server and the extension host.
  for (const key of Object.keys(run.env)) if (/^(npm_|NODE_OPTIONS$|NODE_TEST_CONTEXT$|LEAKLENS_E2E)/.test(key)) delete run.env[key];
  writeFileSync(
    join(sub('user-data/User'), 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        // The samples' read-only mutable defaults are LL201 findings of low confidence: shown here
        // (one severity lower) so that their quick fixes can be tested.
        'leaklens.allFindings': true,
        // Only LL101 is on by default; the editor features are tested on every rule.
        'leaklens.select': ['ALL'],
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'update.mode': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'editor.minimap.enabled': false,
        'window.restoreWindows': 'none',
        'git.enabled': false, // the workspaces are no repositories: spare the CPU
      },
      null,
      2,
    ),
  );
  return run;
}

/** Writes `files` (relative path → content) under a fresh workspace folder of the run. */
export function createWorkspace(run: Run, name: string, files: Record<string, string>): string {
  const folder = join(run.workspaces, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    writeFileSync(join(folder, path), content);
  }
  return folder;
}

/**
 * After a green run only the screenshots and logs are kept; a failed run keeps everything
 * (user data, extension host logs, workspaces as the tests left them) for a post-mortem.
 */
export function finishRun(run: Run, passed: boolean): void {
  if (!passed || process.env.LEAKLENS_E2E_KEEP === '1') return;
  for (const name of readdirSync(run.dir)) {
    if (name !== 'screenshots' && name !== 'logs') rmSync(join(run.dir, name), { recursive: true, force: true });
  }
}

// --- ports ---------------------------------------------------------------------------------

/** A port the kernel just handed out on 127.0.0.1 (and closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1000, () => done(true)); // something is there but slow: treat as taken
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

function healthz(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

// --- code-server -------------------------------------------------------------------------------

function execFileText(file: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** Copies an unpacked extension into the run's extensions folder (before any install). */
export function addUnpackedExtension(run: Run, folderName: string, manifest: object, files: Record<string, string>): void {
  const target = join(run.extensions, folderName);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, 'package.json'), JSON.stringify(manifest, null, 2));
  for (const [name, source] of Object.entries(files)) cpSync(source, join(target, name));
}

export class CodeServer {
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly onExit: () => void;

  private constructor(
    readonly run: Run,
    readonly port: number,
    readonly child: ChildProcess,
    readonly log: string,
  ) {
    child.on('exit', (code, signal) => (this.exited = { code, signal }));
    // If this process ends without running the test's `after` hook (an uncaught error, Ctrl+C,
    // a kill), take code-server's process group along: it runs in its own session and would
    // otherwise outlive us. A signal handler replaces node's default exit, so exit here too.
    this.onExit = () => this.killGroup('SIGKILL');
    process.on('exit', this.onExit);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const handler = () => {
        this.killGroup('SIGKILL');
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
      };
      this.signalHandlers.push([signal, handler]);
      process.once(signal, handler);
    }
  }
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];

  get pgid(): number {
    return this.child.pid!;
  }

  /** The workbench for `folder`. */
  url(folder: string): string {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`;
  }

  /**
   * Installs `vsix` into the run's extensions folder, then starts code-server on a free port
   * of 127.0.0.1 in its own process group and waits for /healthz. Refuses a port that already
   * answers: a stale server once made a test pass against the wrong build.
   */
  static async start(run: Run, codeServer: string, vsix: string, workspace: string): Promise<CodeServer> {
    const common = ['--user-data-dir', run.userData, '--extensions-dir', run.extensions];
    const installLog = await execFileText(codeServer, [...common, '--install-extension', vsix], run.env, 60_000);
    writeFileSync(join(run.logs, 'install-extension.log'), installLog);
    if (!/successfully installed/i.test(installLog)) throw new Error(`installing ${vsix} failed:\n${installLog}`);

    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const port = await freePort();
      if (await portAnswers(port)) {
        lastError = new Error(`port ${port} already answers; refusing it`);
        continue;
      }
      const log = join(run.logs, `code-server-${attempt}.log`);
      const fd = openSync(log, 'w');
      const child = spawn(
        codeServer,
        [
          '--bind-addr', `127.0.0.1:${port}`,
          '--auth', 'none',
          '--disable-telemetry',
          '--disable-update-check',
          '--disable-workspace-trust',
          '--disable-getting-started-override',
          ...common,
          workspace,
        ],
        { env: run.env, detached: true, stdio: ['ignore', fd, fd] }, // detached: setsid, own process group
      );
      closeSync(fd);
      const server = new CodeServer(run, port, child, log);
      try {
        await waitFor(
          `code-server on port ${port} (/healthz)`,
          async () => {
            if (server.exited) throw new GiveUp(`code-server exited (${JSON.stringify(server.exited)}):\n${readFileSync(log, 'utf8').slice(-2000)}`);
            // Our own process must say it listens there: /healthz alone could be another server's.
            if (!readFileSync(log, 'utf8').includes(`HTTP server listening on http://127.0.0.1:${port}/`)) return undefined;
            return healthz(port);
          },
          { timeout: TIMEOUTS.codeServerStart, interval: 200 },
        );
        return server;
      } catch (error) {
        lastError = error as Error;
        await server.stop();
        if (!/EADDRINUSE/.test(String(error) + readFileSync(log, 'utf8'))) break; // only a lost port race is worth another try
      }
    }
    throw lastError ?? new Error('code-server did not start');
  }

  private killGroup(signal: NodeJS.Signals | 0): boolean {
    try {
      process.kill(-this.pgid, signal);
      return true;
    } catch {
      return false; // the group is gone
    }
  }

  /** Stops the whole process group (code-server, extension hosts, language servers). */
  async stop(): Promise<void> {
    process.off('exit', this.onExit);
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    if (!this.killGroup('SIGTERM')) return;
    try {
      await waitFor('code-server process group to exit', () => !this.killGroup(0), { timeout: 10_000 });
    } catch {
      this.killGroup('SIGKILL');
      await waitFor('code-server process group to die', () => !this.killGroup(0), { timeout: 5_000 });
    }
  }
}

// --- Chromium ------------------------------------------------------------------------------------

/** Flags this machine needs (see the recipe); playwright adds its own headless/profile flags. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(executablePath: string): Promise<Browser> {
  // Loaded here, not at the top: the unit run loads this file without playwright installed.
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

// --- screenshots ---------------------------------------------------------------------------------

/**
 * Saves a PNG of the page (or of `clip`) into the run's screenshots folder and, when `publish` is
 * set and the run was asked to (LEAKLENS_UPDATE_SCREENSHOTS=1), copies it to docs/images/: a
 * test run does not rewrite the repository's files otherwise. Call it after the assertion about
 * what it shows.
 */
export async function screenshot(run: Run, page: Page, name: string, publish = true): Promise<string> {
  const file = join(run.screenshots, `${name}.png`);
  await page.screenshot({ path: file, timeout: 15_000 });
  if (publish && process.env.LEAKLENS_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_IMAGES, { recursive: true });
    copyFileSync(file, join(DOCS_IMAGES, `${name}.png`));
  }
  return file;
}

/** The last lines of LeakLens's output channel(s) in this run (the extension host logs them to files). */
export function leakLensLog(run: Run, lines = 15): string {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'LeakLens.log') found.push(path);
    }
  };
  walk(join(run.userData, 'logs'));
  return found
    .map((file) => `--- ${file}\n${readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`)
    .join('\n');
}

export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}
