// How the runner package is started, as a real process: the program under test imports its own
// modules even when they are named like the runner's (growth.py, targets.py, cli.py, report.py…),
// and neither its sys.path, its PYTHONPATH nor the sys.path of a Python it starts holds the
// runner's folder. Checked through runRuntime (spawn.ts's bootstrap, the source tree's runner),
// through `leaklens run` (the runner copied to dist/runtime/) and through the folder's __main__.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { ENV, FIXTURES, NO_PYTHON, PYTHON, RUNNER } from './helpers/runtime';
import { findRunner, runRuntime } from '../server/src/runtime/spawn';

const SHADOWING = join(FIXTURES, 'shadowing');
const DIST_RUNNER = join(ROOT, 'dist', 'runtime', 'leaklens_runner');
const NAMES = ['cli', 'common', 'cycles', 'growth', 'report', 'retention', 'targets'];

const scratch = mkdtempSync(join(tmpdir(), 'leaklens-launch-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let probes = 0;

interface Probe {
  modules: Record<string, [string, string]>;
  path: string[];
  pythonpath: string | null;
  childPath: string[];
  argv0: string;
  runnerLoaded: string[];
}

const real = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

/** What the probe saw, checked against the runner folder that ran it. */
function checkProbe(probe: Probe, workspace: string, runner: string, env: NodeJS.ProcessEnv): void {
  const dump = JSON.stringify(probe, null, 2);
  for (const name of NAMES) {
    assert.deepEqual(probe.modules[name], [join(real(workspace), `${name}.py`), 'workspace'], `the program's own ${name}.py:\n${dump}`);
  }
  const banned = new Set([real(runner), real(dirname(runner))]);
  for (const [what, entries] of [['sys.path', probe.path], ["a child Python's sys.path", probe.childPath]] as const) {
    const leaked = entries.filter((entry) => entry !== '' && banned.has(real(entry)));
    assert.deepEqual(leaked, [], `the runner's folder (or its parent) on ${what}:\n${dump}`);
  }
  assert.equal(probe.pythonpath, env.PYTHONPATH ?? null, `PYTHONPATH is left as it was:\n${dump}`);
  assert.ok(probe.path.includes(real(workspace)) || probe.path.includes(workspace), `the workspace is on sys.path:\n${dump}`);
}

function probeEnv(): { env: NodeJS.ProcessEnv; out: string } {
  const out = join(scratch, `probe-${++probes}.json`);
  return { env: { ...ENV, LEAKLENS_TEST_PROBE_OUT: out }, out };
}

const readProbe = (out: string): Probe => JSON.parse(readFileSync(out, 'utf8')) as Probe;

describe('launching the runner package', { skip: NO_PYTHON }, () => {
  test("runRuntime: the program's growth.py, targets.py, cli.py… are its own; the runner's folder is on no sys.path", async () => {
    const runner = findRunner();
    assert.equal(runner && real(runner), real(RUNNER), 'from out/, findRunner() is the source tree runner');
    const { env, out } = probeEnv();
    const result = await runRuntime({ python: PYTHON, mode: 'growth', target: 'probe.py:probe', workspace: SHADOWING, warmup: 0, rounds: 2, calls: 1, env });
    assert.equal(result.failure, undefined, result.stderrTail);
    assert.deepEqual(result.report?.errors, [], JSON.stringify(result.report, null, 2));
    assert.equal(result.exitCode, 0, result.stderrTail);
    assert.equal(result.report?.runner.file, real(RUNNER), "the report names the runner's folder");
    const probe = readProbe(out);
    checkProbe(probe, SHADOWING, RUNNER, env);
    assert.equal(real(probe.argv0), real(RUNNER), "sys.argv[0] is the runner's folder");
    assert.ok(probe.runnerLoaded.includes('leaklens_runner.growth'), 'the runner runs from its package');
    assert.ok(!existsSync(join(SHADOWING, '__pycache__')), 'nothing written into the fixture folder');
  });

  test('leaklens run (dist/runtime/leaklens_runner): the same, and no bytecode is written into the runner folder while the program may write its own', () => {
    assert.ok(existsSync(join(DIST_RUNNER, 'cli.py')), 'the build copies the package to dist/runtime/leaklens_runner/');
    // A copy of the fixture: this run writes bytecode, as Python does by default.
    const workspace = join(scratch, 'shadowing');
    cpSync(SHADOWING, workspace, { recursive: true });
    const { env, out } = probeEnv();
    delete env.PYTHONDONTWRITEBYTECODE;
    const before = readdirSync(DIST_RUNNER).sort();
    const r = spawnSync(process.execPath, [CLI, 'run', 'growth', 'probe.py:probe', '--python', PYTHON, '--workspace', workspace, '--format', 'json', '--warmup', '0', '--rounds', '2', '--calls', '1'], {
      cwd: workspace,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.runner.file, real(DIST_RUNNER));
    checkProbe(readProbe(out), workspace, DIST_RUNNER, env);
    assert.deepEqual(readdirSync(DIST_RUNNER).sort(), before, 'no __pycache__ appeared in the runner folder');
    assert.ok(existsSync(join(workspace, '__pycache__')), "the program's own imports still write bytecode (the flag is restored)");
  });

  test("python path/to/leaklens_runner (the folder's __main__.py): the folder Python put on sys.path is removed", () => {
    const { env, out } = probeEnv();
    const report = join(scratch, 'main-report.json');
    const r = spawnSync(PYTHON, [RUNNER, 'growth', 'probe.py:probe', '--report', report, '--workspace', SHADOWING, '--warmup', '0', '--rounds', '2', '--calls', '1'], {
      cwd: SHADOWING,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr + (existsSync(report) ? readFileSync(report, 'utf8') : ''));
    checkProbe(readProbe(out), SHADOWING, RUNNER, env);
  });
});
