// The run-time runner (server/python/leaklens_runner/) against leaky and clean fixture
// programs in test/fixtures/runtime/, on this machine's Python: verdicts, lines, retention
// paths, cycles, pytest and script targets, errors and exit codes; every report is checked
// against server/python/report.schema.json. Then the same through `leaklens run` as a process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { validateSchema } from './helpers/json-schema';
import type { CycleFinding, GrowthFinding, RuntimeReport } from '../server/src/runtime/report';
import { cycleMessage, formatReportText, growthMessage } from '../server/src/runtime/format';
import { launchArguments, runRuntime } from '../server/src/runtime/spawn';

const PYTHON = process.env.LEAKLENS_TEST_PYTHON ?? 'python3';
const LAUNCH = launchArguments(join(ROOT, 'server', 'python', 'leaklens_runner'));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'runtime');
const SCHEMA = JSON.parse(readFileSync(join(ROOT, 'server', 'python', 'report.schema.json'), 'utf8'));
// Keep the fixture folder free of __pycache__ (pytest's assertion rewriting honours this too);
// the fixtures need no pytest plugins, and whatever plugins this machine has only cost time.
const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTEST_DISABLE_PLUGIN_AUTOLOAD: '1' };

function works(python: string, code = 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)'): boolean {
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0;
}
const HAVE_PYTHON = works(PYTHON);
const HAVE_PYTEST = HAVE_PYTHON && works(PYTHON, 'import pytest');
const NO_PYTHON = HAVE_PYTHON ? false : `${PYTHON} (3.8+) is not available on this machine`;

const scratch = mkdtempSync(join(tmpdir(), 'leaklens-runtime-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let reports = 0;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  report: RuntimeReport;
}

/** Runs the runner directly; the report must exist and match the schema. */
function runner(mode: 'growth' | 'cycles', target: string, extra: string[] = [], options: { python?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Run {
  const reportPath = join(scratch, `report-${++reports}.json`);
  const r = spawnSync(options.python ?? PYTHON, [...LAUNCH, mode, target, '--report', reportPath, '--workspace', FIXTURES, ...extra], {
    cwd: options.cwd ?? FIXTURES,
    env: options.env ?? ENV,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.ok(existsSync(reportPath), `no report written (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RuntimeReport;
  assert.deepEqual(validateSchema(SCHEMA, report), [], `report does not match the schema:\n${JSON.stringify(report, null, 2)}`);
  assert.equal(report.exitCode, r.status, 'the report records the exit status');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report };
}

const fixture = (name: string) => join(FIXTURES, name);
const growth = (report: RuntimeReport) => report.findings.filter((f): f is GrowthFinding => f.kind === 'growth');
const cycles = (report: RuntimeReport) => report.findings.filter((f): f is CycleFinding => f.kind === 'cycle');
const leaks = (report: RuntimeReport) => growth(report).filter((f) => f.verdict === 'leak');
const at = (file: string, line: number) => (f: GrowthFinding | CycleFinding) => f.location.file === fixture(file) && f.location.line === line;
const dump = (run: Run) => JSON.stringify(run.report, null, 2) + run.stderr;

describe('runner: growth mode', { skip: NO_PYTHON }, () => {
  test('a growing module-level list: a confirmed leak on the append line, kept alive by the global', () => {
    const run = runner('growth', 'growing_global.py:record', ['--watch', '_EVENTS']);
    assert.equal(run.status, 1, dump(run));
    assert.equal(run.report.errors.length, 0, dump(run));
    assert.equal(run.stdout, '', 'the runner itself prints nothing');
    const found = leaks(run.report);
    assert.equal(found.length, 1, dump(run));
    const leak = found[0];
    assert.ok(at('growing_global.py', 6)(leak), dump(run));
    assert.equal(leak.location.function, 'record');
    assert.equal(leak.attribution, 'confirmed');
    assert.ok(leak.growth.roundBytes.every((d) => d > 0), 'grew in every round');
    assert.ok(leak.growth.bytesPerCall > 50, `bytes per call ${leak.growth.bytesPerCall}`);
    assert.ok(leak.liveObjects.count >= 250, 'one dict per call is alive');
    assert.ok(leak.retention?.complete, dump(run));
    assert.equal(leak.retention!.root?.name, '_EVENTS');
    assert.equal(leak.retention!.root?.line, 2, 'the global is defined on line 2');
    assert.match(leak.retention!.text, /module growing_global → _EVENTS \(list\[\d+\]\) → \[\d+\] \(dict/);
    assert.equal(leak.traceback[0].line, 6, 'innermost frame first');
    const watch = run.report.watches[0];
    assert.equal(watch.name, '_EVENTS');
    assert.equal(watch.perCall, 1, 'one entry per call');
    assert.equal(watch.verdict, 'leak');
    assert.equal(watch.line, 2);
    assert.equal(run.report.parameters.rounds, 5);
    assert.equal(run.report.totals.calls, 250);
  });

  test('lru_cache on a method: the cached results and the instances leak; the root is the cached method', () => {
    const run = runner('growth', 'method_cache.py:handle_request', ['--watch', 'Service.lookup']);
    assert.equal(run.status, 1, dump(run));
    const result = leaks(run.report).find(at('method_cache.py', 11));
    assert.ok(result, `the result list of lookup() leaks:\n${dump(run)}`);
    assert.equal(result.location.function, 'Service.lookup');
    const instances = leaks(run.report).find(at('method_cache.py', 15));
    assert.ok(instances, `the Service() call leaks:\n${dump(run)}`);
    assert.notEqual(instances.attribution, 'unconfirmed');
    const root = result.retention?.root;
    assert.deepEqual([root?.name, root?.attribute, root?.line], ['Service', 'lookup', 9], 'held by Service.lookup, defined at its decorator');
    assert.match(result.retention!.text, /Service \(class Service\) → \.lookup/);
    assert.equal(run.report.watches[0].measure, 'cache entries');
    assert.equal(run.report.watches[0].perCall, 1);
  });

  test('a class registry: the instances leak, held by Plugin.registry', () => {
    const run = runner('growth', 'class_registry.py:load_plugin', ['--watch', 'Plugin.registry']);
    assert.equal(run.status, 1, dump(run));
    const instances = leaks(run.report).find(at('class_registry.py', 11));
    assert.ok(instances, dump(run));
    // 3.11 cannot give the allocation site of an instance of an ordinary class: approximate then.
    assert.ok(['confirmed', 'approximate'].includes(instances.attribution), instances.attribution);
    assert.ok(Object.keys(instances.liveObjects.types).includes('class_registry.Plugin'), dump(run));
    const root = instances.retention?.root;
    assert.deepEqual([root?.name, root?.attribute, root?.line], ['Plugin', 'registry', 3], dump(run));
    const options = leaks(run.report).find(at('class_registry.py', 6));
    assert.ok(options, 'the options dict made in __init__ leaks too');
    assert.equal(run.report.watches[0].perCall, 1);
    assert.equal(run.report.watches[0].line, 3);
  });

  test('a bounded lru_cache is NOT a leak: bounded, exit 0', () => {
    const run = runner('growth', 'bounded_cache.py:compute', ['--watch', 'table']);
    assert.equal(run.status, 0, dump(run));
    assert.deepEqual(leaks(run.report), [], dump(run));
    const filling = growth(run.report).find(at('bounded_cache.py', 11));
    assert.ok(filling, `the cache's values are reported as bounded growth:\n${dump(run)}`);
    assert.equal(filling.verdict, 'bounded');
    assert.equal(run.report.watches[0].verdict, 'bounded');
    assert.deepEqual(run.report.watches[0].values.slice(1), [32, 32, 32, 32, 32], 'the cache holds at most 32 entries');
  });

  test('transient noise is not a leak: temporaries, a sawtooth buffer, only the last result kept', () => {
    for (const name of ['transient', 'sawtooth', 'keep_last']) {
      const run = runner('growth', `noise.py:${name}`);
      assert.equal(run.status, 0, `${name}:\n${dump(run)}`);
      assert.deepEqual(leaks(run.report), [], `${name}:\n${dump(run)}`);
      if (name === 'transient' || name === 'keep_last') assert.deepEqual(run.report.findings, [], `${name}:\n${dump(run)}`);
    }
    const saw = runner('growth', 'noise.py:sawtooth').report;
    assert.ok(growth(saw).every((f) => f.verdict === 'noise'), JSON.stringify(saw.findings));
  });

  test('a clean function: no findings, exit 0', () => {
    const run = runner('growth', 'clean.py:pure');
    assert.equal(run.status, 0, dump(run));
    assert.deepEqual(run.report.findings, []);
    assert.equal(run.report.totals.leaks, 0);
  });

  test('module:function form and a dotted module path', () => {
    const run = runner('growth', 'growing_global:record', ['--rounds', '3', '--calls', '20']);
    assert.equal(run.status, 1, dump(run));
    assert.ok(leaks(run.report).some(at('growing_global.py', 6)), dump(run));
    assert.equal(run.report.target.kind, 'function');
    assert.equal(run.report.target.module, 'growing_global');
    assert.equal(run.report.totals.calls, 60);
    assert.match(run.report.notes.join('\n'), /only 60 measured calls: a cache that holds more entries/);
  });

  test('a script: run afresh each call with its arguments; its output is its own', () => {
    const run = runner('growth', 'script_leak.py', ['--', 'one', 'two']);
    assert.equal(run.status, 1, dump(run));
    assert.equal(run.report.target.kind, 'script');
    assert.ok(leaks(run.report).some(at('growing_global.py', 6)), dump(run));
    assert.match(run.stdout, /script ran with \['one', 'two'\]/);
    // 1 warm-up run + 4 rounds × 5 runs by default for scripts.
    assert.equal(run.stdout.trim().split('\n').length, 21, run.stdout);
  });

  test('a plain test function called directly (no pytest needed)', () => {
    const run = runner('growth', 'test_plain.py:test_records_event', ['--rounds', '3', '--calls', '20']);
    assert.equal(run.status, 1, dump(run));
    assert.ok(leaks(run.report).some(at('growing_global.py', 6)), dump(run));
  });
});

describe('runner: pytest node ids', { skip: NO_PYTHON }, () => {
  test('a test through pytest, with its fixture; pytest stops before teardown is traced', { skip: HAVE_PYTEST ? false : 'pytest is not importable by ' + PYTHON }, () => {
    const run = runner('growth', 'test_with_fixture.py::test_loads_plugin', ['--rounds', '3', '--calls', '30']);
    assert.equal(run.status, 1, dump(run));
    assert.equal(run.report.target.kind, 'pytest');
    assert.ok(leaks(run.report).some(at('test_with_fixture.py', 13)), dump(run));
    assert.match(run.stdout, /1 passed/, 'pytest reports on stdout, the report goes to the file');
  });

  test('a test that does not exist: exit 2 with the reason', { skip: HAVE_PYTEST ? false : 'pytest is not importable' }, () => {
    const run = runner('growth', 'test_plain.py::test_missing');
    assert.equal(run.status, 2);
    assert.equal(run.report.errors[0].kind, 'pytest');
    assert.match(run.report.errors[0].message, /no test matched/);
  });

  test('a test module that cannot be imported: exit 2 naming the import error', { skip: HAVE_PYTEST ? false : 'pytest is not importable' }, () => {
    const broken = join(scratch, 'test_broken.py');
    writeFileSync(broken, 'import no_such_module_here\n\n\ndef test_x():\n    pass\n');
    const run = runner('growth', `${broken}::test_x`);
    assert.equal(run.status, 2, dump(run));
    assert.equal(run.report.errors[0].kind, 'pytest');
    assert.match(run.report.errors[0].message, /could not collect it: ModuleNotFoundError: No module named 'no_such_module_here'/);
  });

  test('without pytest: exit 2 and a clear message naming the direct form', () => {
    // A `pytest` that cannot be imported, ahead of the real one on sys.path.
    const shadow = join(scratch, 'no-pytest');
    mkdirSync(shadow, { recursive: true });
    writeFileSync(join(shadow, 'pytest.py'), 'raise ImportError("No module named \'pytest\' (shadowed by the test)")\n');
    const run = runner('growth', 'test_plain.py::test_records_event', [], { env: { ...ENV, PYTHONPATH: shadow } });
    assert.equal(run.status, 2, dump(run));
    assert.equal(run.report.errors.length, 1);
    assert.equal(run.report.errors[0].kind, 'pytest-missing');
    assert.match(run.report.errors[0].message, /pytest is not importable/);
    assert.match(run.report.errors[0].message, /test_plain\.py:test_records_event/);
    assert.deepEqual(run.report.findings, []);
  });
});

describe('runner: cycles mode', { skip: NO_PYTHON }, () => {
  test('parent <-> child with __del__: one cycle per call, labelled edges, finalizer freed late (never "uncollectable")', () => {
    const run = runner('cycles', 'parent_child.py:build_tree');
    assert.equal(run.status, 1, dump(run));
    const found = cycles(run.report);
    assert.equal(found.length, 1, dump(run));
    const cycle = found[0];
    assert.equal(cycle.count, 20, 'one cycle for each of the 20 measured calls');
    assert.equal(cycle.perCall, 1);
    assert.equal(cycle.size, 3, 'two Nodes and the children list (instance dicts folded in)');
    const nodes = cycle.members.filter((m) => m.type === 'parent_child.Node');
    assert.deepEqual(nodes.map((m) => m.site?.line).sort(), [15, 16], 'allocated by build_tree');
    assert.ok(at('parent_child.py', 15)(cycle), 'shown where the first Node is made');
    const labels = cycle.edges.map((e) => e.label).sort();
    assert.deepEqual(labels, ['.children', '.parent', '[0]']);
    const parent = cycle.edges.find((e) => e.label === '.parent')!;
    assert.deepEqual(parent.assignedAt?.map((a) => a.line), [5], 'self.parent = parent is line 5');
    assert.equal(cycle.edges.find((e) => e.label === '.children')!.assignedAt?.[0].line, 6);
    assert.deepEqual(cycle.finalizer, { present: true, types: ['Node.__del__'] });
    assert.equal(cycle.collection, 'freed late, at a GC pause');
    assert.doesNotMatch(JSON.stringify(run.report), /uncollectable/i);
    assert.equal(run.report.totals.withFinalizer, 1);
    assert.match(cycleMessage(cycle, 20), /Node -\.children-> list -\[0\]-> Node -\.parent-> Node/);
    assert.match(cycleMessage(cycle, 20), /freed late, at a GC pause/);
  });

  test('no back reference: no cycle, exit 0; a leak without cycles is not a cycle', () => {
    for (const target of ['parent_child.py:no_cycle', 'growing_global.py:record', 'clean.py:pure']) {
      const run = runner('cycles', target);
      assert.equal(run.status, 0, `${target}:\n${dump(run)}`);
      assert.deepEqual(run.report.findings, [], target);
    }
  });

  test('gc debug flags are restored and gc.garbage is left as found', () => {
    const probe = join(scratch, 'probe_gc.py');
    writeFileSync(probe, [
      'import gc, sys',
      'sys.path.insert(0, sys.argv[1])',
      'from leaklens_runner import cli',
      'code = cli.main(["cycles", "parent_child.py:build_tree", "--report", sys.argv[2], "--workspace", sys.argv[3]])',
      'print(code, gc.get_debug(), len(gc.garbage))',
    ].join('\n'));
    const r = spawnSync(PYTHON, [probe, join(ROOT, 'server', 'python'), join(scratch, 'probe.json'), FIXTURES], { cwd: FIXTURES, env: ENV, encoding: 'utf8' });
    assert.equal(r.stdout.trim(), '1 0 0', r.stdout + r.stderr);
  });
});

describe('runner: errors and exit codes', { skip: NO_PYTHON }, () => {
  test('the target raises: exit 2 with the exception and its traceback', () => {
    const run = runner('growth', 'failing.py:fails_later');
    assert.equal(run.status, 2);
    assert.equal(run.report.errors[0].kind, 'target-raised');
    assert.match(run.report.errors[0].message, /ValueError: boom on call 6 during round 1, call 3/);
    assert.match(run.report.errors[0].traceback ?? '', /failing\.py", line 7/);
  });

  test('bad targets: arguments needed, missing attribute, missing file, unreadable spec', () => {
    const cases: Array<[string, RegExp]> = [
      ['failing.py:needs_argument', /needs arguments \(x\)/],
      ['failing.py:nope', /has no attribute 'nope'/],
      ['missing.py:f', /no such file/],
      ['just_a_name', /cannot read target/],
    ];
    for (const [target, message] of cases) {
      const run = runner('growth', target);
      assert.equal(run.status, 2, target);
      assert.equal(run.report.errors[0].kind, 'target', target);
      assert.match(run.report.errors[0].message, message);
    }
  });

  test('bad counts and bad arguments still give a report when --report is known', () => {
    const rounds = runner('growth', 'clean.py:pure', ['--rounds', '1']);
    assert.equal(rounds.status, 2);
    assert.match(rounds.report.errors[0].message, /--rounds must be at least 2/);
    const reportPath = join(scratch, 'usage.json');
    const r = spawnSync(PYTHON, [...LAUNCH, 'sideways', 'x', '--report', reportPath], { cwd: FIXTURES, env: ENV, encoding: 'utf8' });
    assert.equal(r.status, 2);
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    assert.equal(report.errors[0].kind, 'usage');
  });
});

describe('runner on the other Pythons of this machine', { skip: NO_PYTHON }, () => {
  // Optional: whatever 3.8+ interpreters are installed (pyenv versions, python3.X on PATH).
  const found = new Map<string, string>();
  const pyenv = join(homedir(), '.pyenv', 'versions');
  const candidates: string[] = [];
  if (existsSync(pyenv)) for (const v of readdirSync(pyenv)) candidates.push(join(pyenv, v, 'bin', 'python3'));
  for (const minor of [8, 9, 10, 12, 13, 14]) candidates.push(`python3.${minor}`);
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]) if sys.version_info >= (3, 8) else sys.exit(1)'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && !found.has(r.stdout.trim())) found.set(r.stdout.trim(), python);
  }
  const current = spawnSync(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).stdout.trim();
  found.delete(current);
  test('same verdicts for the class registry, the bounded cache and the parent<->child cycle', { skip: found.size ? false : 'no other Python 3.8+ found' }, () => {
    for (const [version, python] of found) {
      const registry = runner('growth', 'class_registry.py:load_plugin', ['--rounds', '3', '--calls', '40'], { python });
      assert.equal(registry.status, 1, `${version}: ${dump(registry)}`);
      assert.ok(leaks(registry.report).some(at('class_registry.py', 11)), `${version}: ${dump(registry)}`);
      const bounded = runner('growth', 'bounded_cache.py:compute', [], { python });
      assert.equal(bounded.status, 0, `${version}: ${dump(bounded)}`);
      const cycle = runner('cycles', 'parent_child.py:build_tree', [], { python });
      assert.equal(cycle.status, 1, `${version}: ${dump(cycle)}`);
      const c = cycles(cycle.report)[0];
      assert.equal(c.size, 3, `${version}: the instance dicts of 3.8 are folded into their instances`);
      assert.deepEqual(c.edges.map((e) => e.label).sort(), ['.children', '.parent', '[0]'], version);
    }
  });
});

describe('server/src/runtime (spawn + format) and `leaklens run`', { skip: NO_PYTHON }, () => {
  test('runRuntime: streams the program output, reads the report, formats it', async () => {
    let stdout = '';
    const result = await runRuntime({
      python: PYTHON,
      mode: 'growth',
      target: 'script_leak.py',
      workspace: FIXTURES,
      rounds: 2,
      calls: 2,
      scriptArgs: ['x'],
      env: ENV,
      onStdout: (text) => (stdout += text),
    });
    assert.equal(result.failure, undefined, result.stderrTail);
    assert.equal(result.exitCode, 1);
    assert.equal(result.report?.exitCode, 1);
    assert.match(stdout, /script ran with \['x'\]/);
    const text = formatReportText(result.report!);
    assert.match(text, /growing_global\.py:6 in record: LEAK \(confirmed\)/);
    assert.match(text, /kept alive by: module growing_global → _EVENTS/);
    const leak = leaks(result.report!)[0];
    assert.match(growthMessage(leak, result.report!.totals.calls!), /^Memory leak at run time: \+\d+ B per call/);
  });

  test('runRuntime: a missing interpreter and a cancelled run', async () => {
    const missing = await runRuntime({ python: join(scratch, 'no-such-python'), mode: 'growth', target: 'clean.py:pure', workspace: FIXTURES });
    assert.match(missing.failure ?? '', /was not found/);
    const controller = new AbortController();
    const slow = join(scratch, 'slow.py');
    writeFileSync(slow, 'import time\n\ndef wait():\n    time.sleep(60)\n');
    const started = Date.now();
    const pending = runRuntime({ python: PYTHON, mode: 'growth', target: `${slow}:wait`, workspace: FIXTURES, env: ENV, onStdout: () => undefined, signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    const cancelled = await pending;
    assert.equal(cancelled.cancelled, true);
    assert.equal(cancelled.failure, 'cancelled');
    assert.ok(Date.now() - started < 30_000, 'the child was killed, not waited for');
  });

  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });

  test('leaklens run growth: text output, exit 1 on a leak, exit 0 on a bounded cache', () => {
    const leaky = cli(['growth', 'growing_global.py:record', '--rounds', '3', '--calls', '20']);
    assert.equal(leaky.status, 1, leaky.stdout + leaky.stderr);
    assert.match(leaky.stdout, /^LeakLens growth: growing_global\.py:record \(CPython 3\.\d+/);
    assert.match(leaky.stdout, /growing_global\.py:6 in record: LEAK \(confirmed\)/);
    assert.match(leaky.stdout, /1 leaking site in 60 calls/);
    const bounded = cli(['growth', 'bounded_cache.py:compute']);
    assert.equal(bounded.status, 0, bounded.stdout + bounded.stderr);
    assert.match(bounded.stdout, /bounded_cache\.py:11 in table: BOUNDED/);
    assert.match(bounded.stdout, /No leaks, 2 bounded in 250 calls/);
  });

  test('leaklens run cycles --format json: the report on stdout, the program output on stderr', () => {
    const r = cli(['cycles', 'parent_child.py:build_tree', '--format', 'json', '--calls', '10']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as RuntimeReport;
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    assert.equal(cycles(report)[0].count, 10);
    const script = cli(['growth', 'script_leak.py', '--format', 'json', '--', 'a']);
    assert.equal(script.status, 1, script.stderr);
    assert.equal(JSON.parse(script.stdout).target.kind, 'script');
    assert.match(script.stderr, /script ran with \['a'\]/);
  });

  test('leaklens run: --out, errors, usage', () => {
    const out = join(scratch, 'out.txt');
    const written = cli(['cycles', 'parent_child.py:build_tree', '--out', out]);
    assert.equal(written.status, 1);
    assert.equal(written.stdout, '');
    assert.match(readFileSync(out, 'utf8'), /CYCLE × 20 .*\n  Node -\.children-> list/);
    const failing = cli(['growth', 'failing.py:needs_argument']);
    assert.equal(failing.status, 2);
    assert.match(failing.stdout, /Error: target failing\.py:needs_argument needs arguments/);
    const badMode = cli(['grow', 'clean.py:pure']);
    assert.equal(badMode.status, 2);
    assert.match(badMode.stderr, /'grow' is invalid for argument 'mode'/);
    const badCount = cli(['growth', 'clean.py:pure', '--rounds', 'x']);
    assert.equal(badCount.status, 2);
    assert.match(badCount.stderr, /whole number/);
    const noPython = spawnSync(process.execPath, [CLI, 'run', 'growth', 'clean.py:pure', '--python', join(scratch, 'nope'), '--workspace', FIXTURES], { encoding: 'utf8' });
    assert.equal(noPython.status, 2);
    assert.match(noPython.stderr, /was not found/);
  });
});
