// Whole test suites: a folder or a test file as the target, every test measured on its own in one
// runner process. The runner as a process on this machine's python3, against
// test/fixtures/runtime/suite/ (two leaking tests of different sizes among clean ones, a failing
// test, a slow one for the time limit, a skipped one, a file left open, a file that is not a test).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { validateSchema } from './helpers/json-schema';
import { ENV, FIXTURES, HAVE_PYTHON, LAUNCH, NO_PYTHON, PYTHON, SCHEMA, pythonRuns, runRunner } from './helpers/runtime';
import type { RuntimeReport, SuiteTest } from '../server/src/runtime/report';

const HAVE_PYTEST = HAVE_PYTHON && pythonRuns('import pytest');
const SUITE = join(FIXTURES, 'suite');
const STORE = join(SUITE, 'store.py');
const ORDERS = join(SUITE, 'test_orders.py');
const CASES = join(SUITE, 'test_cases.py');
// The slow test sleeps 3 s per call: 1.5 s of its own time is over the limit.
const TIMEOUT = ['--test-timeout', '1.5'];

const tests = (report: RuntimeReport): SuiteTest[] => report.suite?.tests ?? [];
const byId = (report: RuntimeReport, nodeid: string) => tests(report).find((t) => t.nodeid === nodeid);

function checkGrowthSuite(report: RuntimeReport, stderr: string, dump: string, collector: string) {
  assert.equal(report.target.kind, 'suite');
  assert.equal(report.suite?.collector, collector);
  assert.equal(report.suite?.cancelled, false);
  assert.equal(report.findings.length, 0, 'the findings are the tests\' own');
  const ids = tests(report).map((t) => t.nodeid);
  assert.ok(!ids.some((id) => id.includes('helpers_for_tests')), `a file not named like a test is not collected: ${ids.join(', ')}`);
  assert.equal(ids.length, 8, dump);
  // Worst first: the 4 KiB-per-call leak, then the 1 KiB one.
  assert.deepEqual(ids.slice(0, 2), ['suite/test_orders.py::test_remembers_orders', 'suite/test_cases.py::LookupTests::test_lookup_keeps_history'], dump);
  const big = tests(report)[0];
  assert.deepEqual([big.outcome, big.verdict, big.file, big.line], ['passed', 'leak', ORDERS, 8]);
  assert.ok(big.bytesPerCall! > 4000 && big.bytesPerCall! < 4400, `about 4 KiB per call: ${big.bytesPerCall}`);
  assert.deepEqual(big.findings.filter((f) => f.verdict === 'leak').map((f) => [f.location.file, f.location.line]), [[STORE, 8]]);
  const small = tests(report)[1];
  assert.deepEqual([small.verdict, small.file, small.line], ['leak', CASES, 11]);
  assert.ok(small.bytesPerCall! > 1000 && small.bytesPerCall! < 1300, `about 1 KiB per call: ${small.bytesPerCall}`);
  assert.deepEqual(small.findings.filter((f) => f.verdict === 'leak').map((f) => [f.location.file, f.location.line]), [[STORE, 13]], 'test A\'s leak is not blamed on test B');

  for (const clean of ['suite/test_orders.py::test_totals', 'suite/test_cases.py::LookupTests::test_upper_only']) {
    assert.deepEqual([byId(report, clean)?.outcome, byId(report, clean)?.verdict], ['passed', 'clean'], clean);
  }
  const failed = byId(report, 'suite/test_orders.py::test_rejects_negative_prices')!;
  assert.deepEqual([failed.outcome, failed.verdict, failed.findings.length, failed.line], ['failed', null, 0, 16]);
  assert.match(failed.message!, /^AssertionError: negative prices must be rejected/);
  const slow = byId(report, 'suite/test_orders.py::test_slow_report')!;
  assert.deepEqual([slow.outcome, slow.verdict], ['timeout', null]);
  assert.ok(slow.seconds < 3, `interrupted inside its first 3 s call: ${slow.seconds}`);
  const skipped = byId(report, 'suite/test_cases.py::LookupTests::test_remote_lookup')!;
  assert.deepEqual([skipped.outcome, skipped.message], ['skipped', 'needs a network']);
  // The failing, timed-out and skipped tests come after every test that passed.
  assert.deepEqual(ids.slice(-3).sort(), ['suite/test_cases.py::LookupTests::test_remote_lookup', 'suite/test_orders.py::test_rejects_negative_prices', 'suite/test_orders.py::test_slow_report']);

  const t = report.totals as Record<string, number>;
  assert.deepEqual([t.tests, t.run, t.failed, t.timeout, t.skipped], [8, 8, 1, 1, 1]);
  assert.ok(t.leaking >= 2, dump);
  assert.equal(report.parameters.testTimeout, 1.5);
  assert.deepEqual([report.parameters.warmup, report.parameters.rounds, report.parameters.calls], [2, 3, 10], 'the suite defaults');

  assert.match(stderr, /^\[0\/8\] collected 8 tests in suite$/m);
  assert.match(stderr, /^\[\d\/8\] suite\/test_orders\.py::test_remembers_orders: leak \+4\.1 KiB per call$/m);
  assert.match(stderr, /^\[\d\/8\] suite\/test_orders\.py::test_slow_report: timed out$/m);
  assert.match(stderr, /^\[\d\/8\] suite\/test_orders\.py::test_rejects_negative_prices: failed: AssertionError: negative prices must be rejected$/m);
}

const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 180_000 });

describe('runner: test suites', { skip: NO_PYTHON }, () => {
  test('growth of a folder with pytest: every test on its own, leaking tests worst first, failures and time-outs apart', { skip: HAVE_PYTEST ? false : 'pytest is not importable' }, () => {
    const run = runRunner('growth', 'suite', TIMEOUT);
    assert.equal(run.status, 1, run.dump);
    assert.equal(run.report.errors.length, 0, run.dump);
    checkGrowthSuite(run.report, run.stderr, run.dump, 'pytest');
  });

  test('growth of a folder without pytest (--collector unittest): TestCase methods and plain test functions', () => {
    const run = runRunner('growth', 'suite', [...TIMEOUT, '--collector', 'unittest']);
    assert.equal(run.status, 1, run.dump);
    assert.equal(run.report.errors.length, 0, run.dump);
    checkGrowthSuite(run.report, run.stderr, run.dump, 'unittest');
  });

  test('resources of one test file: the test that leaves a file open, with its count', () => {
    const run = runRunner('resources', 'suite/test_orders.py', [...TIMEOUT, '--collector', 'unittest']);
    assert.equal(run.status, 1, run.dump);
    const first = tests(run.report)[0];
    assert.deepEqual([first.nodeid, first.verdict, first.unclosed, first.line], ['suite/test_orders.py::test_reads_config', 'unclosed', 2, 24], run.dump);
    assert.deepEqual(first.findings.map((f) => [f.kind, f.location.file, f.location.line]), [['resource', STORE, 22]]);
    assert.ok(tests(run.report).slice(1).every((t) => !t.unclosed), run.dump);
    assert.equal((run.report.totals as Record<string, number>).unclosed, 2);
    assert.deepEqual([run.report.parameters.warmup, run.report.parameters.calls], [0, 2]);
    assert.match(run.stderr, /^\[\d\/5\] suite\/test_orders\.py::test_reads_config: 2 unclosed$/m);
  });

  for (const collector of ['pytest', 'unittest']) {
    test(`a test file that cannot be imported is a failed test, the others run (${collector})`, { skip: collector === 'pytest' && !HAVE_PYTEST ? 'pytest is not importable' : false }, () => {
      const run = runRunner('growth', 'suite_broken', ['--collector', collector]);
      assert.equal(run.status, 0, run.dump);
      assert.deepEqual(tests(run.report).map((t) => [t.nodeid, t.outcome]), [['suite_broken/test_fine.py::test_still_runs', 'passed'], ['suite_broken/test_import_error.py', 'failed']], run.dump);
      assert.match(tests(run.report)[1].message!, /ModuleNotFoundError: No module named 'no_such_module_for_leaklens'/);
      assert.equal(tests(run.report)[1].file, join(FIXTURES, 'suite_broken', 'test_import_error.py'));
    });
  }

  test('cycles mode on a suite, and a folder without tests: errors, exit 2', () => {
    const cycles = runRunner('cycles', 'suite', ['--collector', 'unittest']);
    assert.equal(cycles.status, 2);
    assert.match(cycles.report.errors[0].message, /cycles mode measures one target; run growth or resources/);
    const empty = runRunner('growth', 'shadowing', ['--collector', 'unittest']);
    assert.equal(empty.status, 2, empty.dump);
    assert.equal(empty.report.errors[0].kind, 'suite');
    assert.match(empty.report.errors[0].message, /^no tests found in .*shadowing/);
  });

  test('SIGTERM during the suite: the report of the tests done, marked cancelled', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'leaklens-suite-cancel-'));
    try {
      const reportPath = join(folder, 'report.json');
      const child = spawn(PYTHON, [...LAUNCH, 'growth', 'suite', '--report', reportPath, '--workspace', FIXTURES, '--collector', 'unittest', '--test-timeout', '30'], { cwd: FIXTURES, env: ENV });
      let stderr = '';
      const status = await new Promise<number | null>((resolve) => {
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (text: string) => {
          stderr += text;
          // After the second test: the slow one (3 s per call) is still far ahead.
          if (/^\[2\/8\] /m.test(stderr) && !child.killed) child.kill('SIGTERM');
        });
        child.on('close', (code) => resolve(code));
      });
      assert.equal(status, 2, stderr);
      assert.ok(existsSync(reportPath), stderr);
      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RuntimeReport;
      assert.deepEqual(validateSchema(SCHEMA, report), []);
      assert.equal(report.suite?.cancelled, true);
      assert.ok(tests(report).length >= 2 && tests(report).length < 8, JSON.stringify(report.totals));
      assert.ok(report.errors.some((e) => e.kind === 'interrupted' && /^cancelled after \d of 8 tests$/.test(e.message)), JSON.stringify(report.errors));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('leaklens run growth FOLDER: the table of leaking tests worst first, their findings, the other outcomes, exit 1', () => {
    const r = cli(['growth', 'suite', ...TIMEOUT, '--collector', 'unittest']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const out = r.stdout;
    assert.match(out, /^LeakLens growth of the tests in test\/fixtures\/runtime\/suite|^LeakLens growth of the tests in suite/m);
    const table = out.slice(out.indexOf('Leaking tests, worst first:'));
    assert.ok(out.includes('Leaking tests, worst first:'), out);
    const rows = table.split('\n').slice(1, 3);
    assert.match(rows[0], /^\s+\+4\.1 KiB per call  suite\/test_orders\.py::test_remembers_orders\s+suite\/test_orders\.py:8$/, out);
    assert.match(rows[1], /^\s+\+1\.1 KiB per call  suite\/test_cases\.py::LookupTests::test_lookup_keeps_history\s+suite\/test_cases\.py:11$/, out);
    assert.match(out, /^Failed \(not measured\):\n  suite\/test_orders\.py::test_rejects_negative_prices: AssertionError: negative prices must be rejected$/m);
    assert.match(out, /^Timed out \(not measured\):\n  suite\/test_orders\.py::test_slow_report: over the time limit of 1\.5 s/m);
    assert.match(out, /^Skipped:\n  suite\/test_cases\.py::LookupTests::test_remote_lookup: needs a network$/m);
    assert.match(out, /^== suite\/test_orders\.py::test_remembers_orders: leak \+4\.1 KiB per call\n  suite\/store\.py:8 in remember: LEAK/m);
    assert.match(out, /^8 tests: \d leaking, (\d bounded, )?\d clean, 1 failed, 1 timed out, 1 skipped \(\d+\.\d s\)\.$/m);
    assert.match(r.stderr, /^\[\d\/8\] suite\/test_orders\.py::test_remembers_orders: leak \+4\.1 KiB per call$/m, 'the progress goes to stderr');
  });

  test('--fail-on: leak (default) ignores failed and timed-out tests, error counts them, never exits 0; the JSON carries the suite', () => {
    // --min-bytes far above any growth: no test leaks; test_orders.py still has a failure and a time-out.
    const base = ['growth', 'suite/test_orders.py', ...TIMEOUT, '--collector', 'unittest', '--min-bytes', '100000000', '--format', 'json'];
    const leak = cli(base);
    assert.equal(leak.status, 0, leak.stderr);
    const report = JSON.parse(leak.stdout) as RuntimeReport;
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    assert.deepEqual([report.totals.failed, report.totals.timeout, report.totals.leaking], [1, 1, 0]);
    assert.equal(cli([...base, '--fail-on', 'error']).status, 1);
    const leaking = ['growth', 'suite/test_orders.py', ...TIMEOUT, '--collector', 'unittest'];
    assert.equal(cli([...leaking, '--fail-on', 'never']).status, 0);
    const bad = cli(['growth', 'suite', '--collector', 'unittest', '--test-timeout', 'soon']);
    assert.equal(bad.status, 2, 'a bad --test-timeout is a usage error');
    assert.match(bad.stderr, /--test-timeout.*a number of seconds is expected/);
  });
});
