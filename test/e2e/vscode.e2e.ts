// LeakLens in a real VS Code: the packaged leaklens.vsix installed into a fresh code-server
// (VS Code 1.100.3), its workbench driven in headless Chromium by playwright-core.
//
// Two layers (see /work/shared/recipes/vscode-e2e.md):
//  - inside the extension host: test/e2e/host-extension/ runs next to LeakLens, drives the
//    editor through VS Code's API and writes what it saw to a JSON file; the assertions are here;
//  - in the workbench, as a person: squiggles, the lightbulb menu, typing, Ctrl+S, the
//    Problems panel, with screenshots (copied to docs/images/).
//
// Run with `npm run test:e2e` (scripts/e2e.sh installs code-server and Chromium, packages the
// .vsix and sets LEAKLENS_E2E=1). `node --test out/test/` (the unit run) loads this file too,
// because it runs every .js file under a folder named `test`: then it only reports a skip.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  addUnpackedExtension,
  CodeServer,
  createRun,
  createWorkspace,
  finishRun,
  launchChromium,
  leakLensLog,
  readText,
  ROOT,
  Run,
  screenshot,
  TIMEOUTS,
  waitFor,
} from './harness';
import type { ActionInfo, DiagnosticInfo, HostResults } from './host-extension/extension';

const ENABLED = process.env.LEAKLENS_E2E === '1';
const CODE_SERVER =
  process.env.LEAKLENS_E2E_CODE_SERVER ||
  join(process.env.HOME ?? '/root', '.cache/leaklens-e2e/code-server-4.100.3/node_modules/.bin/code-server');
const CHROMIUM = process.env.LEAKLENS_E2E_CHROMIUM || '/usr/bin/chromium';
const VSIX = process.env.LEAKLENS_E2E_VSIX || join(ROOT, 'leaklens.vsix');
const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;


// --- the Python the tests open, and what the fixes must make of it ----------------------------

const LL101 = `import json


def load_settings(path):
    f = open(path)
    settings = json.load(f)
    return settings
`;
const LL101_FIXED = `import json


def load_settings(path):
    with open(path) as f:
        settings = json.load(f)
    return settings
`;

const LL201 = `def render(rows, header={}):
    return [dict(header or {}, **row) for row in rows]


def remember(event, seen=[]):
    seen.append(event)
    return len(seen)
`;
const LL201_SAFE_FIXED = `def render(rows, header=None):
    if header is None:
        header = {}
    return [dict(header or {}, **row) for row in rows]


def remember(event, seen=[]):
    seen.append(event)
    return len(seen)
`;
const LL201_BOTH_FIXED = `def render(rows, header=None):
    if header is None:
        header = {}
    return [dict(header or {}, **row) for row in rows]


def remember(event, seen=None):
    if seen is None:
        seen = []
    seen.append(event)
    return len(seen)
`;

const IGNORE = `def first(items=[]):
    return items[0] if items else None
`;
const IGNORE_FIXED = `def first(items=[]):  # leaklens: ignore[LL201]
    return items[0] if items else None
`;

/** One LL101 (safe fix), one safe LL201, one unsafe LL201. */
const FIXALL = `import json


def load(path):
    f = open(path)
    data = json.load(f)
    return data


def render(rows, header={}):
    return [dict(header or {}, **row) for row in rows]


def remember(event, seen=[]):
    seen.append(event)
    return len(seen)
`;
/** The function both layers type at the end of fixall.py before saving. */
const TYPED_FUNCTION = `def tags(names=set()):
    return 1 if names else 0`;
/** fix-all on save: every safe fix applied (the typed function's too), the unsafe one left alone. */
const FIXALL_SAVED_BODY = `import json


def load(path):
    with open(path) as f:
        data = json.load(f)
    return data


def render(rows, header=None):
    if header is None:
        header = {}
    return [dict(header or {}, **row) for row in rows]


def remember(event, seen=[]):
    seen.append(event)
    return len(seen)


def tags(names=None):
    if names is None:
        names = set()
    return 1 if names else 0`;

const REMEMBER = `def remember(event, seen=[]):
    seen.append(event)
    return len(seen)
`;
const REMEMBER_FIXED = `def remember(event, seen=None):
    if seen is None:
        seen = []
    seen.append(event)
    return len(seen)
`;
// The UI's file: an LL101 (safe fix) and an LL201 whose fix is unsafe. The UI workspace saves with
// source.fixAll.leaklens (for the fix-all test), so after each quick fix + Ctrl+S the file must
// hold exactly that fix: fix-all has nothing safe left to add, and must not apply unsafe fixes.
const LEAKY = LL101 + '\n\n' + REMEMBER;
const LEAKY_AFTER_LL101 = LL101_FIXED + '\n\n' + REMEMBER;
const LEAKY_AFTER_BOTH = LL101_FIXED + '\n\n' + REMEMBER_FIXED;

const SETTINGS_PY = REMEMBER;
const UNOPENED = `import socket


def connect(host):
    s = socket.create_connection((host, 80))
    s.sendall(b"ping")
    return s.recv(4)
`;
// Run-time confirmation: a global that grows on every call, and a parent <-> child cycle.
const GROWING = readFileSync(join(ROOT, 'test', 'fixtures', 'runtime', 'growing_global.py'), 'utf8');
const TREE = readFileSync(join(ROOT, 'test', 'fixtures', 'runtime', 'parent_child.py'), 'utf8');
// The memory profile: a function that builds a large list and drops it, one that keeps a buffer.
const PROFILE = readFileSync(join(ROOT, 'test', 'fixtures', 'runtime', 'profile_lines.py'), 'utf8');
// Unclosed resources at run time: a socket returned by a helper in another module (static analysis
// cannot follow it) and a file opened in the caller's module (LL101 finds it, the run confirms it).
const NETIO = `import socket


def open_channel():
    channel = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    channel.bind(("127.0.0.1", 0))
    return channel
`;
const SERVICE = `import netio


def local_port():
    channel = netio.open_channel()
    return channel.getsockname()[1]


def read_config(path=__file__):
    handle = open(path)
    return handle.readline()


def handle():
    return local_port(), read_config()
`;
// A test folder with one leaking test among two: run as a suite from the editor.
const SUITE_TEST = `_SEEN = []


def test_remembers_items():
    _SEEN.append(bytearray(4096))
    assert _SEEN


def test_adds_up():
    assert sum([1, 2, 3]) == 6
`;
const WORKSPACE_SETTINGS = JSON.stringify({ 'editor.codeActionsOnSave': { 'source.fixAll.leaklens': 'explicit' } }, null, 2);

/** A Jupyter notebook (nbformat 4, with magics, a %%bash cell and markdown cells): test/fixtures/notebooks/analysis.ipynb. */
const NOTEBOOK = readFileSync(join(ROOT, 'test', 'fixtures', 'notebooks', 'analysis.ipynb'), 'utf8');

// --- the run ----------------------------------------------------------------------------------

if (!ENABLED) {
  test('LeakLens in VS Code (code-server + Chromium)', { skip: 'end-to-end: run `npm run test:e2e`' }, () => {});
} else {
  let run: Run;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let hostWorkspace: string;
  let uiWorkspace: string;
  let failed = false;
  let uiPage: Promise<Page>;
  const startedAt = Date.now();

  /** Set when the workbench shows no LeakLens at all: the UI tests after that fail at once instead of each timing out. */
  let uiBroken: string | undefined;

  /**
   * A test whose failure marks the run as failed (TODO tests do not). `essential`: when it fails,
   * the later UI tests are reported as not run. A failure message carries LeakLens's own log.
   */
  const e2e = (name: string, options: { todo?: string; timeout?: number; essential?: boolean; ui?: boolean }, body: () => Promise<void>) =>
    test(name, { timeout: 120_000, todo: options.todo, ...(options.timeout ? { timeout: options.timeout } : {}) }, async () => {
      try {
        if (options.ui && uiBroken) throw new Error(`not run: ${uiBroken}`);
        await body();
      } catch (error) {
        if (!options.todo) failed = true;
        if (options.essential) uiBroken = `"${name}" failed`;
        if (error instanceof Error && !options.todo && !/not run: /.test(error.message)) {
          // The reporter prints the stack, which already holds the message.
          error.stack = `${error.stack}\nLeakLens output channel (last lines):\n${leakLensLog(run) || '(none: the extension never created it)'}`;
        }
        throw error;
      }
    });

  /** A hook whose failure marks the run as failed too (node then fails the tests without running them). */
  const failing = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  };

  const log = (message: string) => appendFileSync(join(run.logs, 'e2e.log'), `[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${message}\n`);

  /** A page of the workbench for `folder`, with its console kept in logs/. */
  async function openWorkbench(folder: string, name: string): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1200, height: 720 } });
    page.on('console', (m) => appendFileSync(join(run.logs, `${name}-console.log`), `${m.type()}: ${m.text()}\n`));
    page.on('pageerror', (e) => appendFileSync(join(run.logs, `${name}-console.log`), `pageerror: ${e.stack ?? e.message}\n`));
    await page.goto(server!.url(folder), { timeout: TIMEOUTS.workbench });
    await page.locator('.monaco-workbench').waitFor({ timeout: TIMEOUTS.workbench });
    log(`${name}: workbench loaded`);
    return page;
  }

  before(failing(async () => {
    run = createRun();
    log(`run folder ${run.dir}`);
    for (const [what, path] of [['code-server', CODE_SERVER], ['chromium', CHROMIUM], ['leaklens.vsix', VSIX]]) {
      assert.ok(existsSync(path), `${what} not found at ${path}: run \`npm run test:e2e\``);
    }
    hostWorkspace = createWorkspace(run, 'host', {
      'll101.py': LL101,
      'll201.py': LL201,
      'ignore.py': IGNORE,
      'fixall.py': FIXALL,
      'typing.py': 'import os\n',
      'settings.py': SETTINGS_PY,
      'unopened.py': UNOPENED,
      'growing.py': GROWING,
      'tree.py': TREE,
      'netio.py': NETIO,
      'service.py': SERVICE,
      'tests/test_cart.py': SUITE_TEST,
      'profile_lines.py': PROFILE,
      '.vscode/settings.json': WORKSPACE_SETTINGS,
      'leaklens-e2e.json': JSON.stringify({ results: join(run.dir, 'host-results.json') }),
      'analysis.ipynb': NOTEBOOK,
    });
    uiWorkspace = createWorkspace(run, 'ui', {
      'leaky.py': LEAKY,
      'fixall.py': FIXALL,
      'settings.py': SETTINGS_PY,
      'unopened.py': UNOPENED,
      'netio.py': NETIO,
      'service.py': SERVICE,
      'tree.py': TREE,
      'profile_lines.py': PROFILE,
      'analysis.ipynb': NOTEBOOK,
      '.vscode/settings.json': WORKSPACE_SETTINGS,
    });
    // The test extension goes in before the .vsix install creates extensions.json.
    addUnpackedExtension(
      run,
      'leaklens-test.leaklens-e2e-host-0.0.1',
      {
        name: 'leaklens-e2e-host',
        publisher: 'leaklens-test',
        version: '0.0.1',
        engines: { vscode: '^1.100.0' },
        main: './extension.js',
        activationEvents: ['*'], // at once: onStartupFinished waited ~30 s for an idle workbench
      },
      { 'extension.js': join(__dirname, 'host-extension', 'extension.js') },
    );
    server = await CodeServer.start(run, CODE_SERVER, VSIX, uiWorkspace);
    log(`code-server pid/pgid ${server.pgid} on port ${server.port}`);
    browser = await launchChromium(CHROMIUM);
    log('chromium launched');
    // The UI's workbench loads while the host suite runs in the other window (each page has its
    // own extension host); the UI tests await it. Its failure is reported there.
    uiPage = openWorkbench(uiWorkspace, 'ui');
    uiPage.catch(() => undefined);
  }), { timeout: 180_000 });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (!run) return;
    log(`stopped; ${failed ? 'FAILED: run folder kept' : 'passed'}`);
    finishRun(run, !failed);
    console.log(`e2e run folder: ${run.dir} (screenshots in ${run.screenshots}, logs in ${run.logs})`);
  });

  // --- layer 1: inside the extension host ------------------------------------------------------

  describe('inside the extension host (VS Code API)', () => {
    let results: HostResults | undefined;
    let incomplete = '';

    before(failing(async () => {
      const file = join(run.dir, 'host-results.json');
      const page = await openWorkbench(hostWorkspace, 'host');
      try {
        results = await waitFor(
          'the host test extension to finish',
          () => {
            const r = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostResults) : undefined;
            return r?.done ? r : undefined;
          },
          { timeout: TIMEOUTS.hostSuite, interval: 250 },
        );
      } catch (error) {
        // Keep what was observed: each test below then fails (or passes) on its own.
        incomplete = (error as Error).message;
        results = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
      } finally {
        await page.close();
      }
      log(`host suite: ${incomplete || 'done'} (${results?.observations.total?.ms ?? '?'} ms in the host)`);
    }), { timeout: TIMEOUTS.hostSuite + 60_000 });

    /** The value the host observed under `name`, or a failure that says why there is none. */
    function observed<T>(name: string): T {
      const o = results?.observations[name];
      assert.ok(o, `the host extension recorded no "${name}"${incomplete ? `: ${incomplete}` : ''} (logs: ${run.logs})`);
      assert.ok(o.ok, `in the extension host, "${name}" failed:\n${o.error}`);
      return o.value as T;
    }
    const byPosition = (ds: DiagnosticInfo[]) => ds.map((d) => `${d.code} ${d.line}:${d.column} ${d.text}`);

    e2e('the packaged LeakLens is installed from the .vsix and activates on a Python file', {}, async () => {
      const ext = observed<{ id: string; version: string; extensionPath: string; isActive: boolean }>('extension');
      assert.equal(ext.id, 'leaklens.leaklens');
      assert.equal(ext.version, VERSION);
      assert.ok(ext.extensionPath.startsWith(run.extensions), `${ext.extensionPath} is not in the run's extensions folder`);
      assert.equal(ext.isActive, true);
    });

    e2e('opened files get diagnostics with code, source, severity, message and a documentation link', {}, async () => {
      const diagnostics = observed<Record<string, DiagnosticInfo[]>>('diagnostics');
      assert.deepEqual(byPosition(diagnostics['ll101.py']), ['LL101 5:9 open(path)']);
      assert.deepEqual(byPosition(diagnostics['ll201.py']), ['LL201 1:25 {}', 'LL201 5:26 []']);
      const all = [...diagnostics['ll101.py'], ...diagnostics['ll201.py']];
      for (const d of all) {
        assert.equal(d.source, 'leaklens');
        // The read-only `header={}` is of low confidence (shown with leaklens.allFindings): one severity lower.
        assert.equal(d.severity, d.code === 'LL201' && d.line === 1 ? 'Information' : 'Warning', `${d.code} at line ${d.line}`);
        assert.match(d.target ?? '', new RegExp(`^file://.*/dist/docs/rules/${d.code}\\.md$`));
        assert.ok(existsSync(fileURLToPath(d.target!)), `documentation link ${d.target} points at no file`);
      }
      assert.match(diagnostics['ll101.py'][0].message, /`f`/);
      assert.match(diagnostics['ll201.py'][1].message, /grows it/);
    });

    e2e('quick fixes: the rule fix (preferred when safe, "(unsafe)" otherwise) and "Ignore … on this line"', {}, async () => {
      const fixes = observed<Record<string, ActionInfo[]>>('quickFixes');
      const show = (actions: ActionInfo[]) => actions.map((a) => `${a.title}${a.isPreferred ? ' [preferred]' : ''}${a.hasEdit ? '' : ' [no edit]'} ${a.kind}`);
      assert.deepEqual(show(fixes['ll101.py LL101 open(path)']), [
        'Wrap `f` in `with` [preferred] quickfix',
        'Ignore LL101 on this line quickfix',
      ]);
      assert.deepEqual(show(fixes['ll201.py LL201 {}']), [
        'Replace the mutable default of `header` with None [preferred] quickfix',
        'Ignore LL201 on this line quickfix',
      ]);
      assert.deepEqual(show(fixes['ll201.py LL201 []']), [
        'Replace the mutable default of `seen` with None (calls stop sharing one object; an explicit None then gets the default too) (unsafe) quickfix',
        'Ignore LL201 on this line quickfix',
      ]);
    });

    e2e('LL101: applying "Wrap `f` in `with`" and saving writes the fixed file; the finding goes away', {}, async () => {
      const r = observed<{ applied: boolean; saved: boolean; disk: string; diagnosticsAfter: number }>('fixLL101');
      assert.equal(r.applied, true);
      assert.equal(r.saved, true);
      assert.equal(r.disk, LL101_FIXED);
      assert.equal(r.diagnosticsAfter, 0);
    });

    e2e('LL201: the safe and the unsafe "Replace … with None" fixes, saved to disk', {}, async () => {
      const r = observed<{ safe: { disk: string }; unsafe: { disk: string }; diagnosticsAfter: number }>('fixLL201');
      assert.equal(r.safe.disk, LL201_SAFE_FIXED);
      assert.equal(r.unsafe.disk, LL201_BOTH_FIXED);
      assert.equal(r.diagnosticsAfter, 0);
    });

    e2e('"Ignore LL201 on this line" writes the suppression comment; the finding goes away', {}, async () => {
      const r = observed<{ disk: string; diagnosticsAfter: number }>('ignoreLine');
      assert.equal(r.disk, IGNORE_FIXED);
      assert.equal(r.diagnosticsAfter, 0);
    });

    e2e('source.fixAll.leaklens is offered as a code action', {}, async () => {
      const actions = observed<ActionInfo[]>('fixAllAction');
      assert.deepEqual(
        actions.map((a) => [a.title, a.kind, a.hasEdit]),
        [['Fix all LeakLens findings (safe fixes)', 'source.fixAll.leaklens', true]],
      );
    });

    e2e('editor.codeActionsOnSave runs source.fixAll.leaklens on save: safe fixes applied, unsafe left', {}, async () => {
      const r = observed<{ disk: string; diagnosticsAfter: DiagnosticInfo[] }>('fixAllOnSave');
      assert.equal(r.disk, FIXALL_SAVED_BODY + '\n');
      assert.deepEqual(byPosition(r.diagnosticsAfter), ['LL201 16:26 []']);
    });

    e2e('typing: a new leak is flagged, a burst of edits ends with diagnostics of the final text, deleting clears them', {}, async () => {
      const r = observed<{ appeared: DiagnosticInfo[]; msToDiagnostic: number; final: DiagnosticInfo[]; cleared: number }>('typing');
      assert.deepEqual(byPosition(r.appeared), ['LL101 2:7 open("app.log", "a")']);
      assert.deepEqual(byPosition(r.final).sort(), ['LL101 2:7 open("app.log", "a")', 'LL201 3:25 []']);
      assert.equal(r.cleared, 0);
      log(`host: first diagnostic ${r.msToDiagnostic} ms after the edit`);
    });

    e2e('an untitled Python document is analysed too', {}, async () => {
      assert.deepEqual(byPosition(observed<DiagnosticInfo[]>('untitled')), ['LL201 1:9 []']);
    });

    e2e('the documentation link opens the rule page shipped in the extension (offline)', {}, async () => {
      const r = observed<{ code: string; target: string; firstLine: string }>('documentationLink');
      assert.equal(r.firstLine, `# ${r.code} mutable-default-argument`);
    });

    e2e('a Jupyter notebook: scanned on its file, then its cells take over when opened; a quick fix in a cell edits that cell', {}, async () => {
      const r = observed<{ onFile: string[]; inCells: string[][]; fileAfterOpen: number; offered: string[]; applied: boolean; cellAfter: string; afterFix: number }>('notebook');
      assert.ok(r.onFile.some((m) => /^LL101 .*bound to `log`.*\(cell 3, line 1\)$/.test(m)), r.onFile.join('\n'));
      assert.deepEqual(r.inCells[2], ['LL101 1:7 open("run.log", "w")']);
      assert.deepEqual(r.inCells[4].map((d) => d.split(' ')[0]), ['LL201']);
      assert.deepEqual(r.inCells[6].map((d) => d.split(' ')[0]), ['LL401']);
      assert.deepEqual([r.inCells[0], r.inCells[1], r.inCells[5]], [[], [], []], 'markdown, magics and %%bash give nothing');
      assert.equal(r.fileAfterOpen, 0, 'no duplicates: the file\'s diagnostics went');
      assert.ok(r.offered.includes('Wrap `log` in `with`'), r.offered.join('; '));
      assert.equal(r.applied, true);
      assert.equal(r.cellAfter, 'with open("run.log", "w") as log:\n    log.write("start\\n")');
      assert.equal(r.afterFix, 0);
    });

    e2e('a Python file never opened gets its findings from the workspace scan', {}, async () => {
      assert.deepEqual(observed<string[]>('workspaceScan'), ['LL101@5']);
    });

    e2e('"leaklens.ignore": ["LL201"] in the settings removes LL201 findings', {}, async () => {
      assert.deepEqual(observed<{ remaining: string[] }>('settingDisablesRule').remaining, []);
    });

    e2e('Track Memory Growth runs growing.py:record with python3: a leaklens-runtime leak on the append line, kept alive by _EVENTS', {}, async () => {
      const r = observed<{ outcome: { status: string; exitCode: number; leaks: number }; diagnostics: Array<DiagnosticInfo & { related: string[] }>; reportText: string }>('runtimeGrowth');
      assert.deepEqual([r.outcome.status, r.outcome.exitCode, r.outcome.leaks], ['done', 1, 1]);
      assert.deepEqual(r.diagnostics.map((d) => [d.source, d.code, d.severity, d.line, d.text]), [
        ['leaklens-runtime', 'growth', 'Warning', 6, '_EVENTS.append({"id": len(_EVENTS), "tags": [len(_EVENTS), "seen"]})'],
      ]);
      assert.match(r.diagnostics[0].message, /^Memory leak at run time: \+\d+ B per call/);
      assert.ok(r.diagnostics[0].related.some((x) => /^growing\.py:2 kept alive by: module growing → _EVENTS/.test(x)), r.diagnostics[0].related.join('\n'));
    });

    e2e('the static LL303 finding is marked confirmed at run time', {}, async () => {
      const d = observed<DiagnosticInfo>('runtimeConfirmed');
      assert.equal(d.line, 2);
      assert.match(d.message, /— confirmed at run time: `_EVENTS` kept objects alive that grew \+\d+ B per call$/);
    });

    e2e('Find Reference Cycles runs tree.py:build_tree: a cycle with a finalizer, its edges as related information, a report', {}, async () => {
      const r = observed<{ outcome: { status: string; exitCode: number }; diagnostics: Array<DiagnosticInfo & { related: string[] }>; reportFirstLine: string; view: unknown }>('runtimeCycles');
      assert.deepEqual([r.outcome.status, r.outcome.exitCode], ['done', 1]);
      assert.deepEqual(r.diagnostics.map((d) => [d.code, d.line, d.text]), [['cycle', 15, 'root = Node()']]);
      assert.match(r.diagnostics[0].message, /Node -\.children-> list -\[0\]-> Node -\.parent-> Node; with a finalizer \(Node\.__del__\): cyclic garbage, freed late, at a GC pause/);
      assert.ok(r.diagnostics[0].related.includes('tree.py:5 Node .parent → Node: set here'), r.diagnostics[0].related.join('\n'));
      assert.match(r.reportFirstLine, /^LeakLens cycles: tree\.py:build_tree \(CPython 3\./);
      // Show Run-time Report: the view draws the cycle (two Node objects and their list, three references).
      assert.deepEqual(r.view, { graphs: 1, nodes: 3, edges: 3, failed: 0 });
    });

    e2e('Track Memory Growth of a test folder runs each test: the leaking one is flagged on its def line, the clean one is not', {}, async () => {
      const r = observed<{ outcome: { status: string; exitCode: number; tests: number; leakingTests: number }; diagnostics: Array<DiagnosticInfo & { related: string[] }>; reportText: string }>('runtimeSuite');
      assert.deepEqual([r.outcome.status, r.outcome.exitCode, r.outcome.tests, r.outcome.leakingTests], ['done', 1, 2, 1], JSON.stringify(r, null, 1));
      const onDef = r.diagnostics.filter((d) => d.code === 'test-leak');
      assert.deepEqual(onDef.map((d) => [d.source, d.line, d.text]), [['leaklens-runtime', 4, 'def test_remembers_items():']], JSON.stringify(r.diagnostics, null, 1));
      assert.match(onDef[0].message, /^This test leaks at run time: \+[\d.]+ (KiB|B) per call/);
      assert.ok(!r.diagnostics.some((d) => d.line === 9), 'nothing on the clean test');
      assert.match(r.reportText, /^LeakLens growth of the tests in tests /);
    });

    e2e('Find Unclosed Resources runs service.py:handle: the helper\'s socket (missed statically) and the caller\'s file (LL101, confirmed at run time)', {}, async () => {
      const r = observed<{
        outcome: { status: string; exitCode: number; leaks: number };
        netio: Array<DiagnosticInfo & { related: string[] }>;
        service: Array<DiagnosticInfo & { related: string[] }>;
        confirmed: DiagnosticInfo;
        reportText: string;
      }>('runtimeResources');
      assert.deepEqual([r.outcome.status, r.outcome.exitCode, r.outcome.leaks], ['done', 1, 2]);
      assert.deepEqual(r.netio.map((d) => [d.source, d.code, d.severity, d.line, d.text]), [
        ['leaklens-runtime', 'unclosed-resource', 'Warning', 5, 'channel = socket.socket(socket.AF_INET, socket.SOCK_STREAM)'],
      ]);
      assert.match(r.netio[0].message, /^Unclosed socket at run time \(1 per call\): allocated here and never closed; Python warned: unclosed <socket\.socket .* — not found by static analysis \(LL101, LL103, LL104\)$/);
      assert.ok(r.netio[0].related.includes('service.py:5 allocated through local_port'), r.netio[0].related.join('\n'));
      assert.deepEqual(r.service.map((d) => [d.code, d.line, d.text]), [['unclosed-resource', 10, 'handle = open(path)']]);
      assert.match(r.service[0].message, /^Unclosed file at run time \(1 per call\): .* — also found by static analysis: LL101 at service\.py:10$/);
      assert.equal(r.confirmed.line, 10);
      assert.match(r.confirmed.message, /— confirmed at run time: file left unclosed \(1 per call\)$/);
      assert.match(r.reportText, /\nnetio\.py:5 in open_channel: UNCLOSED SOCKET × 3 \(1 per call\)\n(?:  .*\n)*  not found by static analysis/);
    });

    e2e('Profile Memory runs profile_lines.py:handle(i) twice: end-of-line annotations on the lines that allocate, kept while the text is the one that ran', {}, async () => {
      type Shown = Array<{ line: number; text: string }>;
      const r = observed<{
        outcome: { status: string; exitCode: number; findings: number };
        shown: Shown; view: Record<string, number>; hidden: Shown | null; again: Shown; afterEdit: Shown | null; afterUndo: Shown | null; kept: Shown; cleared: Shown | null;
      }>('runtimeProfile');
      assert.deepEqual([r.outcome.status, r.outcome.exitCode, r.outcome.findings], ['done', 0, 0]);
      const lineOf = (text: string) => PROFILE.split('\n').findIndex((l) => l.includes(text)) + 1;
      const at = (shown: Shown, text: string) => shown.find((a) => a.line === lineOf(text))?.text;
      // The list: megabytes while the line ran (two calls of about 3.8 MiB), nothing held after.
      assert.match(at(r.shown, 'values = squares(n)') ?? '', /^\+7\.\d MiB alloc · 0 B held · peak 3\.\d MiB$/, JSON.stringify(r.shown));
      assert.match(at(r.shown, 'return [i * i') ?? '', /^\+7\.\d MiB alloc · \d+ B held · peak 3\.\d MiB$/);
      // The kept buffer: 256 KiB per call, held.
      assert.match(at(r.shown, 'buffer = bytearray(size)') ?? '', /^\+512\.\d KiB alloc · 512\.\d KiB held · peak 2\d\d\.\d KiB$/);
      assert.equal(at(r.shown, 'values = None'), undefined, 'a line that allocates nothing has no annotation');
      assert.equal(r.view.profileTables, 4, JSON.stringify(r.view));
      assert.equal(r.hidden, null, 'a hidden editor shows nothing');
      assert.deepEqual(r.again, r.shown, 'shown again with the editor');
      assert.equal(r.afterEdit, null, 'gone once the document is edited');
      assert.equal(r.afterUndo, null, 'and not back after an undo');
      assert.match(at(r.kept, 'buffer = bytearray(size)') ?? '', /^\+1\.0 MiB alloc · 1\.0 MiB held · peak 1\.0 MiB$/);
      assert.equal(r.cleared, null, 'Clear Memory Profile removes them');
    });
  });

  // --- layer 2: the workbench, as a person sees it ---------------------------------------------

  describe('in the workbench, as a person sees it', () => {
    let page: Page;
    // Warnings, and the information squiggles of low-confidence findings (leaklens.allFindings is on here).
    const squiggles = () => page.locator('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-info');
    const quickInput = () => page.locator('.quick-input-widget .quick-input-box input');
    const menuRows = () => page.locator('.action-widget .monaco-list-row');

    before(failing(async () => {
      page = await uiPage;
    }), { timeout: TIMEOUTS.workbench + 30_000 });
    after(async () => {
      await page?.close().catch(() => undefined);
    });

    /** Ctrl+P, the file's name, Enter; resolves once its tab is active and its text is shown. */
    async function openFile(name: string): Promise<void> {
      await waitFor(`Quick Open to show ${name}`, async () => {
        if (!(await quickInput().isVisible())) await page.keyboard.press('Control+P');
        await quickInput().fill(name, { timeout: 2000 });
        return (await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).count()) > 0;
      }, { timeout: TIMEOUTS.ui, interval: 250 });
      await page.keyboard.press('Enter');
      await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: TIMEOUTS.ui });
      await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: TIMEOUTS.ui });
    }

    /** Ctrl+G to a 1-based line and column, confirmed by the status bar. */
    async function goTo(line: number, column: number): Promise<void> {
      await page.keyboard.press('Control+G');
      await quickInput().waitFor({ timeout: TIMEOUTS.ui });
      await quickInput().fill(`:${line}:${column}`);
      await page.keyboard.press('Enter');
      await page.locator('.statusbar', { hasText: `Ln ${line}, Col ${column}` }).waitFor({ timeout: TIMEOUTS.ui });
    }

    /** 1-based line and column of the first `needle` (plus `offset` characters) in `text`. */
    function positionOf(text: string, needle: string, offset = 1): [number, number] {
      const index = text.indexOf(needle);
      assert.ok(index >= 0, `${needle} not in the text`);
      const before = text.slice(0, index).split('\n');
      return [before.length, before[before.length - 1].length + 1 + offset];
    }

    /** Ctrl+. and the titles of the quick-fix menu. "No code actions" right after an edit: Escape, ask again. */
    async function openQuickFixMenu(expected: string): Promise<string[]> {
      return waitFor(`the quick-fix menu to offer "${expected}"`, async () => {
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+.');
        try {
          await menuRows().first().waitFor({ timeout: 3000 });
        } catch {
          return undefined;
        }
        const titles = (await menuRows().allInnerTexts()).map((t) => t.trim());
        return titles.some((t) => t.includes(expected)) ? titles : undefined;
      }, { timeout: TIMEOUTS.ui, interval: 200 });
    }

    /** Moves the menu's focus with ArrowDown to the row titled `title` and presses Enter (clicks are blocked by a pointer shield). */
    async function chooseQuickFix(title: string): Promise<void> {
      const count = await menuRows().count();
      for (let i = 0; i <= count + 1; i++) {
        const focused = (await page.locator('.action-widget .monaco-list-row.focused').allInnerTexts()).join(' ');
        if (focused.includes(title)) {
          await page.keyboard.press('Enter');
          await menuRows().first().waitFor({ state: 'detached', timeout: TIMEOUTS.ui });
          return;
        }
        await page.keyboard.press('ArrowDown');
      }
      assert.fail(`"${title}" never got the focus in the quick-fix menu`);
    }

    /** Ctrl+J hides the panel (Ctrl+Shift+M only toggles it while the Problems view has the focus). */
    async function closePanel(): Promise<void> {
      if (await page.locator('.markers-panel').isVisible()) await page.keyboard.press('Control+J');
      await page.locator('.markers-panel').waitFor({ state: 'hidden', timeout: TIMEOUTS.ui });
    }

    /** Ctrl+S, then the file on disk until it equals `expected` (the save is asynchronous). */
    async function saveAndRead(file: string, expected: string): Promise<void> {
      await page.keyboard.press('Control+S');
      try {
        await waitFor(`${file} on disk to be the fixed text`, () => readText(file) === expected, { timeout: TIMEOUTS.disk });
      } catch {
        assert.equal(readText(file), expected, `${file} on disk after Ctrl+S`);
      }
    }

    e2e('squiggles appear under the leaks of an open file', { ui: true, essential: true }, async () => {
      await openFile('leaky.py');
      await waitFor('2 warning squiggles in leaky.py', async () => (await squiggles().count()) >= 2, { timeout: TIMEOUTS.diagnostics });
      log(`ui: ${await squiggles().count()} squiggles`);
      await screenshot(run, page, 'squiggles');
    });

    e2e('hovering a squiggle shows the message, the rule code and a Quick Fix link', { ui: true }, async () => {
      // Hover the LL101 squiggle (on `open(path)`): the hover shows the message, the code, and a Quick Fix link.
      const [line, column] = positionOf(LEAKY, 'open(path)');
      await goTo(line, column);
      await page.keyboard.press('Control+K');
      await page.keyboard.press('Control+I'); // editor.action.showHover
      const hover = page.locator('.monaco-hover', { hasText: 'never released' }).first();
      await hover.waitFor({ timeout: TIMEOUTS.ui });
      const text = await waitFor('the hover to offer "Quick Fix..." (after "Checking for quick fixes...")', async () => {
        const t = await hover.innerText();
        return /Quick Fix\.\.\./.test(t) ? t : undefined;
      });
      assert.match(text, /bound to `f` is never released/);
      assert.match(text, /leaklens\W*LL101/);
      await screenshot(run, page, 'hover');
      await page.keyboard.press('Escape');
    });

    e2e('the lightbulb menu (Ctrl+.) offers the fixes; applying them changes the file on disk', { ui: true }, async () => {
      const file = join(uiWorkspace, 'leaky.py');
      // LL101: the cursor on `open(path)`, Ctrl+., "Wrap `f` in `with`" (preferred), Ctrl+S.
      await goTo(...positionOf(LEAKY, 'open(path)'));
      const titles = await openQuickFixMenu('Wrap `f` in `with`');
      log(`ui: quick-fix menu ${JSON.stringify(titles)}`);
      assert.ok(titles.some((t) => t.includes('Ignore LL101 on this line')), `menu: ${titles.join(' | ')}`);
      await screenshot(run, page, 'quick-fix-menu');
      await chooseQuickFix('Wrap `f` in `with`');
      await saveAndRead(file, LEAKY_AFTER_LL101);
      // LL201: the cursor on `[]`, "Replace the mutable default of `seen` with None (calls stop sharing one object; an explicit None then gets the default too) (unsafe)", Ctrl+S.
      await goTo(...positionOf(LEAKY_AFTER_LL101, 'seen=[]', 'seen='.length + 1));
      const titles201 = await openQuickFixMenu('Replace the mutable default of `seen` with None (calls stop sharing one object; an explicit None then gets the default too) (unsafe)');
      assert.ok(titles201.some((t) => t.includes('Ignore LL201 on this line')), `menu: ${titles201.join(' | ')}`);
      await chooseQuickFix('Replace the mutable default of `seen` with None (calls stop sharing one object; an explicit None then gets the default too) (unsafe)');
      await saveAndRead(file, LEAKY_AFTER_BOTH);
    });

    e2e('typing a new leak makes a new squiggle appear', { ui: true }, async () => {
      const before = await squiggles().count();
      await page.keyboard.press('Control+End');
      await page.keyboard.type('log = open("app.log")'); // auto-closing brackets and quotes are typed over
      await page.locator('.monaco-editor .view-lines', { hasText: 'log = open("app.log")' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await waitFor('a squiggle under the typed leak', async () => (await squiggles().count()) > before, { timeout: TIMEOUTS.diagnostics });
      await screenshot(run, page, 'typing', false); // the run's folder only
    });

    e2e('the Problems panel lists the findings of the open file', { ui: true }, async () => {
      await page.keyboard.press('Control+Shift+M');
      // The panel renders only the rows in view: filter it to the file, as a person would.
      const filter = page.getByPlaceholder(/^Filter \(e\.g\. text/);
      await filter.fill('leaky.py', { timeout: TIMEOUTS.ui });
      const rows = page.locator('.markers-panel .monaco-list-row');
      try {
        const texts = await waitFor('the Problems panel, filtered to leaky.py, to list the typed leak', async () => {
          const all = (await rows.allInnerTexts()).join('\n');
          return all.includes('bound to `log`') && !/fixall\.py|settings\.py|unopened\.py/.test(all) ? all : undefined;
        }, { timeout: TIMEOUTS.diagnostics });
        assert.match(texts, /leaky\.py/);
        assert.match(texts, /leaklens\W*LL101/);
        await screenshot(run, page, 'problems-panel');
      } finally {
        await filter.fill('');
        await closePanel();
      }
    });

    e2e('fix-all on save (editor.codeActionsOnSave: source.fixAll.leaklens) applies every safe fix', { ui: true }, async () => {
      const file = join(uiWorkspace, 'fixall.py');
      await openFile('fixall.py');
      await waitFor('squiggles in fixall.py', async () => (await squiggles().count()) >= 3, { timeout: TIMEOUTS.diagnostics });
      // Type a new function at the end (Enter keeps the indentation Python needs), then Ctrl+S.
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      const [first, second] = TYPED_FUNCTION.split('\n');
      await page.keyboard.type(first);
      await page.keyboard.press('Enter'); // auto-indents the body…
      await page.keyboard.press('Shift+Home'); // …or not: type the indentation over whatever it gave
      await page.keyboard.type(second);
      await page.locator('.monaco-editor .view-lines', { hasText: 'return 1 if names else 0' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await screenshot(run, page, 'fix-all-before-save', false);
      await saveAndRead(file, FIXALL_SAVED_BODY);
    });

    e2e('the Problems panel lists files that were never opened', { ui: true }, async () => {
      await page.keyboard.press('Control+Shift+M');
      // The panel renders only the rows in view: filter it down to the file, as a person would.
      const filter = page.getByPlaceholder(/^Filter \(e\.g\. text/);
      const rows = page.locator('.markers-panel .monaco-list-row');
      await filter.fill('unopened.py', { timeout: TIMEOUTS.ui });
      try {
        const texts = await waitFor('the Problems panel, filtered to unopened.py, to list it', async () => {
          const all = (await rows.allInnerTexts()).join('\n');
          return all.includes('unopened.py') && !/fixall\.py|leaky\.py|settings\.py/.test(all) ? all : undefined;
        }, { timeout: 5_000 });
        assert.match(texts, /bound to `s` is never released/);
        await screenshot(run, page, 'problems-panel-workspace');
      } finally {
        await filter.fill('');
        await closePanel();
      }
    });

    e2e('disabling a rule in the settings removes its squiggles', { ui: true }, async () => {
      await openFile('settings.py');
      await waitFor('the LL201 squiggle in settings.py', async () => (await squiggles().count()) >= 1, { timeout: TIMEOUTS.diagnostics });
      const settingsFile = join(uiWorkspace, '.vscode', 'settings.json');
      // What a person types into .vscode/settings.json; VS Code picks the file up from disk.
      writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(WORKSPACE_SETTINGS), 'leaklens.ignore': ['LL201'] }, null, 2));
      try {
        await waitFor('the LL201 squiggle to disappear', async () => (await squiggles().count()) === 0, { timeout: 8_000 });
      } finally {
        writeFileSync(settingsFile, WORKSPACE_SETTINGS);
      }
    });

    e2e('Find unclosed resources from its CodeLens: the allocation line squiggled, its hover says what static analysis found', { ui: true, timeout: 150_000 }, async () => {
      await openFile('service.py');
      const lenses = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Find unclosed resources' });
      await waitFor('the "Find unclosed resources" lenses of service.py', async () => (await lenses.count()) >= 3, { timeout: TIMEOUTS.diagnostics });
      await lenses.last().click(); // the lens of handle(), the last function
      await page.locator('.notifications-toasts', { hasText: 'unclosed resources from 2 allocation sites' }).waitFor({ timeout: 90_000 });
      const [line, column] = positionOf(SERVICE, 'open(path)', 2);
      await goTo(line, column);
      await page.keyboard.press('Control+K');
      await page.keyboard.press('Control+I');
      const hover = page.locator('.monaco-hover', { hasText: 'Unclosed file at run time' });
      await hover.first().waitFor({ timeout: TIMEOUTS.ui });
      assert.match(await hover.first().innerText(), /also found by static analysis: LL101 at service\.py:10/);
      await screenshot(run, page, 'runtime-resources');
      await page.keyboard.press('Escape');
      // Its toast would otherwise still offer "Show Report" to the next test.
      await page.keyboard.press('F1');
      await quickInput().fill('>Notifications: Clear All Notifications');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Clear All Notifications' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      await page.locator('.notifications-toasts .notification-toast', { hasText: 'unclosed resources' }).waitFor({ state: 'detached', timeout: TIMEOUTS.ui });
    });

    e2e('Find Reference Cycles from the palette, then the report view: the cycle as a graph; a click on a node opens its allocation line', { ui: true, timeout: 180_000 }, async () => {
      await openFile('tree.py');
      await goTo(16, 5); // inside build_tree
      await page.keyboard.press('F1');
      await quickInput().fill('>LeakLens: Find Reference Cycles');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Find Reference Cycles' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      // The target choice: the function under the cursor.
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'build_tree' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await quickInput().fill('build_tree');
      await page.keyboard.press('Enter');
      const show = page.locator('.notifications-toasts .monaco-button', { hasText: 'Show Report' }).first();
      await show.waitFor({ timeout: 90_000 });
      await show.click();
      // The webview: an iframe in the workbench holding the page's own iframe.
      const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      const nodes = view.locator('.graph svg g.node');
      await waitFor('the report view to draw the 3 objects of the cycle', async () => (await nodes.count()) === 3, { timeout: TIMEOUTS.ui });
      const edgeLabels = (await view.locator('.graph svg g.edge text').allTextContents()).map((t) => t.trim()).sort();
      assert.deepEqual(edgeLabels, ['.children', '.parent', '[0]']);
      const nodeTexts = (await nodes.allTextContents()).join(' | ');
      assert.match(nodeTexts, /allocated at tree\.py:16/);
      log(`ui: report view nodes ${JSON.stringify(nodeTexts)}`);
      await screenshot(run, page, 'runtime-graph');
      // A click on the child Node (allocated on line 16) opens tree.py at that line.
      await goTo(1, 1);
      await view.locator('.graph svg g.node', { hasText: 'allocated at tree.py:16' }).locator('a').first().click();
      await page.locator('.statusbar', { hasText: 'Ln 16, Col 1' }).waitFor({ timeout: TIMEOUTS.ui });
      await page.locator('.tabs-container .tab.active', { hasText: 'tree.py' }).waitFor({ timeout: TIMEOUTS.ui });
    });

    e2e('Profile memory from its CodeLens: annotations at the end of the lines that allocate; Clear Memory Profile removes them', { ui: true, timeout: 150_000 }, async () => {
      // The report view of the previous test would squeeze the editor: close every editor first.
      await page.keyboard.press('F1');
      await quickInput().fill('>View: Close All Editor Groups');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Close All Editor Groups' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      await page.locator('iframe.webview').waitFor({ state: 'detached', timeout: TIMEOUTS.ui });
      await openFile('profile_lines.py');
      const lenses = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Profile memory' });
      await waitFor('the "Profile memory" lenses of profile_lines.py', async () => (await lenses.count()) >= 2, { timeout: TIMEOUTS.diagnostics });
      await lenses.first().click(); // build_and_drop, the first function with a lens
      await page.locator('.notifications-toasts', { hasText: 'Profiled 1 call' }).waitFor({ timeout: 90_000 });
      // A decoration's `after` text: a pseudo-element's content, or injected text, in the editor's lines.
      const read = `(() => {
        const out = [];
        for (const el of document.querySelectorAll('.monaco-editor .view-lines span')) {
          const after = getComputedStyle(el, '::after').content;
          if (after && after.includes(' alloc ')) out.push(after);
          else if (/ced-/.test(el.className) && (el.textContent || '').includes(' alloc ')) out.push(el.textContent);
        }
        return out;
      })()`;
      const shown = await waitFor('the profile annotations in the editor', async () => {
        const texts = await page.evaluate<string[]>(read);
        return texts.length >= 2 ? texts : undefined;
      }, { timeout: TIMEOUTS.ui });
      log(`ui: profile annotations ${JSON.stringify(shown)}`);
      assert.ok(shown.some((t) => /\+7\.\d MiB alloc · 0 B held · peak 7\.\d MiB/.test(t)), shown.join('\n'));
      await screenshot(run, page, 'runtime-profile');
      await page.keyboard.press('F1');
      await quickInput().fill('>LeakLens: Clear Memory Profile');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Clear Memory Profile' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      await waitFor('the annotations to go', async () => ((await page.evaluate<string[]>(read)).length === 0 ? true : undefined), { timeout: TIMEOUTS.ui });
    });

    e2e('a Jupyter notebook: closed, the Problems panel names its cells; opened, a cell shows the squiggle', { ui: true }, async () => {
      await page.keyboard.press('F1');
      await quickInput().fill('>View: Close All Editor Groups');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Close All Editor Groups' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      // The workspace scan published the closed notebook on its file, each finding naming its cell.
      await page.keyboard.press('Control+Shift+M');
      const filter = page.getByPlaceholder(/^Filter \(e\.g\. text/);
      const rows = page.locator('.markers-panel .monaco-list-row');
      await filter.fill('analysis.ipynb', { timeout: TIMEOUTS.ui });
      try {
        const texts = await waitFor('the Problems panel, filtered to analysis.ipynb, to list its findings by cell', async () => {
          const all = (await rows.allInnerTexts()).join('\n');
          return all.includes('(cell 3, line 1)') ? all : undefined;
        }, { timeout: TIMEOUTS.diagnostics });
        assert.match(texts, /bound to `log` is never released/);
      } finally {
        await filter.fill('');
        await closePanel();
      }
      // The previous test's notification would cover the cells in the screenshot.
      await page.keyboard.press('F1');
      await quickInput().fill('>Notifications: Clear All Notifications');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Clear All Notifications' }).first().waitFor({ timeout: TIMEOUTS.ui });
      await page.keyboard.press('Enter');
      await waitFor('the notification toasts to go', async () => (await page.locator('.notifications-toasts .notification-toast').count()) === 0, { timeout: TIMEOUTS.ui });
      // Opened in VS Code's notebook editor (no kernel), the cell that opens run.log is squiggled.
      await openFile('analysis.ipynb');
      const cell = page.locator('.notebook-editor .monaco-list-row', { hasText: 'run.log' });
      await cell.first().waitFor({ timeout: TIMEOUTS.ui });
      const squiggle = cell.locator('.squiggly-warning');
      await waitFor('a warning squiggle in the notebook cell that opens run.log', async () => (await squiggle.count()) >= 1, { timeout: TIMEOUTS.diagnostics });
      log(`ui: notebook cell squiggles ${await squiggle.count()}`);
      await screenshot(run, page, 'notebook');
    });
  });
}
