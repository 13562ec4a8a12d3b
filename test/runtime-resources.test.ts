// `resources` mode: ResourceWarnings captured while a target runs (tracemalloc on), grouped by
// allocation line. The runner and `leaklens run resources` as processes, on this machine's
// python3, against test/fixtures/runtime/resource_leak.py and net_helpers.py: helpers in another
// module return a socket and a file that their callers never close.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, sep } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { validateSchema } from './helpers/json-schema';
import { ENV, FIXTURES, HAVE_PYTHON, NO_PYTHON, PYTHON, RUNNER, SCHEMA, pythonRuns, runRunner } from './helpers/runtime';
import type { ResourceFinding, RuntimeReport } from '../server/src/runtime/report';
import { formatReportText, resourceMessage } from '../server/src/runtime/format';

const HAVE_PYTEST = HAVE_PYTHON && pythonRuns('import pytest');

const runner = (target: string, extra: string[] = []) => runRunner('resources', target, extra);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });

const HELPERS = join(FIXTURES, 'net_helpers.py');
const CALLERS = join(FIXTURES, 'resource_leak.py');
const resources = (report: RuntimeReport) => report.findings.filter((f): f is ResourceFinding => f.kind === 'resource');
const at = (report: RuntimeReport, file: string, line: number) => resources(report).find((f) => f.location.file === file && f.location.line === line);
const workspaceFrames = (finding: ResourceFinding) => finding.traceback.filter((f) => f.workspace).map((f) => `${f.file === HELPERS ? 'net_helpers' : f.file === CALLERS ? 'resource_leak' : f.file}:${f.line}`);

describe('runner: resources mode', { skip: NO_PYTHON }, () => {
  test('a socket and a file returned by helpers in another module and never closed: one finding per allocation line', () => {
    const run = runner('resource_leak:handle');
    assert.equal(run.status, 1, run.dump);
    assert.equal(run.report.mode, 'resources');
    assert.equal(run.report.errors.length, 0, run.dump);
    assert.equal(run.stdout, '', 'the runner prints nothing');
    assert.equal(resources(run.report).length, 2, run.dump);

    const socket = at(run.report, HELPERS, 7);
    assert.ok(socket, `the socket() line of open_channel:\n${run.dump}`);
    assert.deepEqual([socket.resource, socket.count, socket.perCall, socket.attribution, socket.via], ['socket', 10, 1, 'confirmed', 'warning']);
    assert.equal(socket.location.function, 'open_channel');
    assert.deepEqual(socket.types, { 'socket.socket': 10 });
    assert.match(socket.messages[0], /^unclosed <socket\.socket fd=\d+/);
    assert.deepEqual(workspaceFrames(socket), ['net_helpers:7', 'resource_leak:10', 'resource_leak:19'], 'the allocation traceback runs through the caller that keeps it');
    assert.ok(socket.traceback.every((f) => !f.file.startsWith(RUNNER + sep) && f.file !== '<string>' && !f.file.includes('runpy')), `no runner or launcher frames: ${JSON.stringify(socket.traceback)}`);

    const file = at(run.report, HELPERS, 13);
    assert.ok(file, `the open() line of open_settings:\n${run.dump}`);
    assert.deepEqual([file.resource, file.count, file.attribution], ['file', 10, 'confirmed']);
    assert.match(file.messages[0], /^unclosed file <_io\.TextIOWrapper name='.*net_helpers\.py' mode='r'/);
    assert.deepEqual(workspaceFrames(file), ['net_helpers:13', 'resource_leak:15', 'resource_leak:19']);
    assert.deepEqual(file.releasedAt.map((l) => [l.file, l.line]), [[CALLERS, 15]], 'dropped at the end of the caller line');

    assert.deepEqual(
      [run.report.totals.calls, run.report.totals.warmupCalls, run.report.totals.warnings, run.report.totals.unclosed, run.report.totals.unattributed],
      [10, 0, 20, 20, 0],
    );
  });

  test('closing with `with`: nothing found, exit 0', () => {
    const run = runner('resource_leak:handle_closed');
    assert.equal(run.status, 0, run.dump);
    assert.equal(run.report.findings.length, 0);
    assert.equal(run.report.totals.warnings, 0);
  });

  test('a ResourceWarning raised while the file is finalized (warnings as errors) reaches sys.unraisablehook and is counted', () => {
    const run = runner('resource_leak.py:strict_first_line', ['--calls', '4']);
    assert.equal(run.status, 1, run.dump);
    const file = at(run.report, HELPERS, 13);
    assert.ok(file, run.dump);
    assert.deepEqual([file.resource, file.count, file.via], ['file', 4, 'unraisable']);
    assert.deepEqual(workspaceFrames(file), ['net_helpers:13', 'resource_leak:15', 'resource_leak:53']);
    assert.doesNotMatch(run.stderr, /Exception ignored/, 'captured, not printed as an ignored exception');
  });

  test('a class that warns from __del__ (source=self): found at the constructor call', () => {
    const run = runner('resource_leak:forget_session', ['--calls', '5']);
    assert.equal(run.status, 1, run.dump);
    const session = at(run.report, CALLERS, 45);
    assert.ok(session, run.dump);
    assert.equal(session.resource, 'other');
    assert.equal(session.count, 5);
    assert.deepEqual(session.types, { 'resource_leak.Session': 5 });
    assert.deepEqual(session.messages, ['unclosed Session: call close()']);
    // 3.11 cannot give the allocation site of an instance of an ordinary class: approximate then.
    assert.ok(['confirmed', 'approximate'].includes(session.attribution), session.attribution);
  });

  test('a ResourceWarning raised in a __del__: found through that method\'s self, at the constructor call', () => {
    const run = runner('resource_leak:strict_forget_session', ['--calls', '3']);
    assert.equal(run.status, 1, run.dump);
    const session = at(run.report, CALLERS, 65);
    assert.ok(session, run.dump);
    assert.deepEqual([session.resource, session.count, session.via], ['other', 3, 'unraisable']);
    assert.deepEqual(session.releasedAt.map((l) => [l.line, l.function]), [[41, 'Session.__del__']], 'the line that raised');
    assert.doesNotMatch(run.stderr, /Exception ignored/);
  });

  test('a subprocess never waited for: type subprocess, at the Popen line', () => {
    const run = runner('resource_leak:start_child', ['--calls', '2']);
    assert.equal(run.status, 1, run.dump);
    const child = at(run.report, CALLERS, 73);
    assert.ok(child, run.dump);
    assert.deepEqual([child.resource, child.count, child.location.function], ['subprocess', 2, 'start_child']);
    assert.deepEqual(child.types, { 'subprocess.Popen': 2 });
    assert.match(child.messages[0], /^subprocess \d+ is still running$/);
    // Popen is an ordinary class: 3.11 finds it through an attribute allocated inside Popen.__init__.
    assert.ok(['confirmed', 'approximate'].includes(child.attribution), child.attribution);
  });

  test('a pytest test: the file its helper leaks, not the socket its fixture closes', { skip: HAVE_PYTEST ? false : 'pytest is not importable' }, () => {
    const run = runner('test_unclosed.py::test_reads_settings', ['--calls', '3']);
    assert.equal(run.status, 1, run.dump);
    assert.deepEqual(resources(run.report).map((f) => [f.resource, f.location.file, f.location.line, f.count]), [['file', HELPERS, 13, 3]]);
  });

  test('a script: every run counts, the last one too (its globals are dropped before collecting)', () => {
    const run = runner('script_unclosed.py', ['--', 'x']);
    assert.equal(run.status, 1, run.dump);
    assert.equal(run.report.target.kind, 'script');
    const file = at(run.report, join(FIXTURES, 'script_unclosed.py'), 5);
    assert.ok(file, run.dump);
    assert.deepEqual([file.resource, file.count, file.location.function], ['file', 3, '<module>']);
    assert.match(run.stdout, /first line: # A script .* \['x'\]/, 'the script ran with its arguments');
  });

  test('other warnings are shown to the program as usual, not captured', () => {
    const run = runner('resource_leak:other_warning', ['--calls', '2']);
    assert.equal(run.status, 1, run.dump);
    assert.match(run.stderr, /UserWarning: a warning that is not about resources/);
    assert.doesNotMatch(run.stderr, /ResourceWarning/, 'the resource warnings are in the report only');
    assert.equal(run.report.totals.warnings, 2);
  });

  test('--watch is ignored in resources mode; bad targets fail as in the other modes', () => {
    const watched = runner('resource_leak:handle_closed', ['--watch', '_nothing']);
    assert.equal(watched.status, 0, watched.dump);
    assert.deepEqual(watched.report.watches, []);
    const missing = runner('resource_leak:nope');
    assert.equal(missing.status, 2);
    assert.match(missing.report.errors[0].message, /has no attribute 'nope'/);
  });
});

describe('leaklens run resources', { skip: NO_PYTHON }, () => {
  test('text: one block per allocation line with the warning and the traceback; exit 1', () => {
    const r = cli(['resources', 'resource_leak:handle', '--calls', '3']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^LeakLens resources: resource_leak:handle \(CPython 3\.\d+\.\d+; 0 warm-up calls, 3 measured calls\)/);
    assert.match(r.stdout, /\nnet_helpers\.py:7 in open_channel: UNCLOSED SOCKET × 3 \(1 per call\)\n  objects: 3 socket\.socket\n  ResourceWarning: unclosed <socket\.socket/);
    assert.match(r.stdout, /\nnet_helpers\.py:13 in open_settings: UNCLOSED FILE × 3 \(1 per call\)\n/);
    assert.match(r.stdout, /  allocated at:\n    net_helpers\.py:13 in open_settings\n    resource_leak\.py:15 in first_line\n    resource_leak\.py:19 in handle\n/);
    assert.match(r.stdout, /6 unclosed resources from 2 allocation sites in 3 calls/);
    const clean = cli(['resources', 'resource_leak:handle_closed']);
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /No unclosed resources in 10 calls/);
  });

  test('json: the report on stdout, matching the schema; the message for the editor', () => {
    const r = cli(['resources', 'resource_leak:handle', '--format', 'json', '--calls', '2']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as RuntimeReport;
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    const socket = at(report, HELPERS, 7)!;
    assert.match(resourceMessage(socket, 2), /^Unclosed socket at run time \(1 per call\): allocated here and never closed; Python warned: unclosed <socket\.socket/);
    assert.match(formatReportText(report, { base: FIXTURES }), /4 unclosed resources from 2 allocation sites in 2 calls/);
  });

  test('each unclosed resource is compared with the static rules: the helpers in another module were missed, an open() in the function itself was found by LL101', () => {
    const missed = cli(['resources', 'resource_leak:handle', '--format', 'json', '--calls', '2']);
    assert.equal(missed.status, 1, missed.stderr);
    const report = JSON.parse(missed.stdout) as RuntimeReport;
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    assert.deepEqual(resources(report).map((f) => [f.location.line, f.static]), [[7, []], [13, []]], 'no LL101-LL104 finding on the helpers\' lines nor their callers\'');

    const found = cli(['resources', 'resource_static:read_header', '--format', 'json', '--calls', '2']);
    assert.equal(found.status, 1, found.stderr);
    const one = resources(JSON.parse(found.stdout) as RuntimeReport);
    const file = join(FIXTURES, 'resource_static.py');
    assert.deepEqual(one.map((f) => [f.location.file, f.location.line, f.static]), [[file, 4, [{ code: 'LL101', file, line: 4 }]]]);

    const text = cli(['resources', 'resource_static:read_header', '--calls', '2']);
    assert.match(text.stdout, /\nresource_static\.py:4 in read_header: UNCLOSED FILE × 2 .*\n(?:  .*\n)*  also found by static analysis: LL101 at resource_static\.py:4\n/);
    const none = cli(['resources', 'resource_leak:handle', '--calls', '2']);
    assert.equal((none.stdout.match(/  not found by static analysis \(LL101, LL103, LL104\)\n/g) ?? []).length, 2, none.stdout);
  });
});
