// `profile` mode: a line-by-line memory profile of one call (or N) with tracemalloc. The runner
// and `leaklens run profile` as processes, on this machine's python3, against
// test/fixtures/runtime/profile_lines.py: a function that builds a large list and drops it, one
// that keeps a buffer in a module global.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, ROOT } from './helpers/cli';
import { validateSchema } from './helpers/json-schema';
import { ENV, FIXTURES, NO_PYTHON, PYTHON, SCHEMA, runRunner } from './helpers/runtime';
import type { ProfileLine, RuntimeReport } from '../server/src/runtime/report';
import { formatReportText, profileAnnotation, profileLineShown } from '../server/src/runtime/format';
import { locationUrl } from '../server/src/runtime/graph';
import { renderPage } from '../client/src/report-page';

const MiB = 1024 * 1024;
const FILE = join(FIXTURES, 'profile_lines.py');
const SOURCE = readFileSync(FILE, 'utf8').split('\n');
/** The 1-based line of the fixture that contains `text`. */
const lineOf = (text: string) => {
  const index = SOURCE.findIndex((l) => l.includes(text));
  assert.ok(index >= 0, `no line with ${text}`);
  return index + 1;
};
const profiled = (report: RuntimeReport, text: string): ProfileLine => {
  const line = report.profile?.lines.find((l) => l.file === FILE && l.line === lineOf(text));
  assert.ok(line, `line "${text}" profiled:\n${JSON.stringify(report.profile, null, 2)}`);
  return line;
};

const runner = (target: string, extra: string[] = []) => runRunner('profile', target, extra);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });

describe('runner: profile mode', { skip: NO_PYTHON }, () => {
  test('a function that builds a large list and drops it: megabytes allocated and at the peak, nothing held; exit 0', () => {
    const run = runner('profile_lines:build_and_drop');
    assert.equal(run.status, 0, run.dump);
    assert.equal(run.report.mode, 'profile');
    assert.equal(run.report.errors.length, 0, run.dump);
    assert.equal(run.stdout, '', 'the runner prints nothing');
    assert.deepEqual(run.report.findings, [], 'a profile is no verdict');

    // 200 000 ints and the list's array of pointers: about 7.6 MiB.
    const build = profiled(run.report, 'values = squares(n)');
    assert.equal(build.hits, 1);
    assert.ok(build.allocated > 7 * MiB && build.allocated < 9 * MiB, `allocated ${build.allocated}`);
    assert.ok(build.peak >= build.allocated, `peak ${build.peak}`);
    assert.ok(Math.abs(build.held) < 4096, `held ${build.held}`);
    assert.equal(build.function, 'build_and_drop');
    assert.equal(build.source, '    values = squares(n)');

    // The callee's own line is in the profile too (the call tree's lines), with the same list.
    const callee = profiled(run.report, 'return [i * i');
    assert.equal(callee.function, 'squares');
    assert.ok(Math.abs(callee.allocated - build.allocated) < 64 * 1024, `${callee.allocated} vs ${build.allocated}`);
    assert.ok(Math.abs(callee.held) < 4096);

    // Dropping the list frees it: nothing allocated, the peak is still the list.
    const drop = profiled(run.report, 'values = None');
    assert.equal(drop.allocated, 0);
    assert.ok(drop.peak > 7 * MiB);
    assert.ok(profiled(run.report, 'total = sum(values)').allocated < 4096);

    assert.deepEqual(run.report.profile!.functions.map((f) => f.function), ['build_and_drop', 'squares']);
    const fn = run.report.profile!.functions[0];
    assert.equal(fn.line, lineOf('def build_and_drop'));
    assert.equal(fn.source[0], 'def build_and_drop(n=200000):');
    assert.equal(fn.source.length, fn.endLine - fn.line + 1);

    const t = run.report.totals;
    assert.deepEqual([t.calls, t.warmupCalls, t.peakExact], [1, 0, true]);
    assert.ok(t.allocated! > 7 * MiB && t.allocated! < 9 * MiB, `totals.allocated ${t.allocated}: the list once, not once per line that saw it`);
    assert.ok(t.peak! > 7 * MiB);
    assert.ok(Math.abs(t.held!) < 16 * 1024, `totals.held ${t.held}`);
    assert.ok(t.events! > 5 && t.events! < 100, `events ${t.events}: the comprehension belongs to its line`);
    assert.ok(run.report.notes.some((n) => /spent in the tracer/.test(n)), run.dump);
  });

  test('a line that keeps a buffer in a global holds its bytes, on every call (--calls 3)', () => {
    const run = runner('profile_lines:keep', ['--calls', '3']);
    assert.equal(run.status, 0, run.dump);
    const kept = profiled(run.report, 'buffer = bytearray(size)');
    assert.equal(kept.hits, 3);
    assert.ok(kept.held > 3 * MiB && kept.held < 3 * MiB + 16 * 1024, `held ${kept.held}`);
    assert.ok(kept.allocated > 3 * MiB && kept.allocated < 3 * MiB + 16 * 1024, `allocated ${kept.allocated}`);
    // Each call's peak is measured from its own start: one buffer, not three.
    assert.ok(kept.peak > MiB && kept.peak < MiB + 64 * 1024, `peak ${kept.peak}`);
    assert.ok(run.report.totals.held! > 3 * MiB);
    assert.equal(run.report.parameters.calls, 3);
    // No `def` line holds CPython's tracing tables.
    assert.ok(run.report.profile!.lines.every((l) => l.hits > 0), JSON.stringify(run.report.profile!.lines));
  });

  test('a target with arguments (`handle(i)`): the call tree of two functions under the caller', () => {
    const run = runner('profile_lines.py:handle(i)', ['--calls', '2']);
    assert.equal(run.status, 0, run.dump);
    assert.deepEqual(run.report.profile!.functions.map((f) => f.function), ['handle', 'build_and_drop', 'squares', 'keep']);
    const total = profiled(run.report, 'total = build_and_drop(');
    assert.equal(total.hits, 2);
    assert.ok(total.allocated < 16 * 1024, 'the list is gone when build_and_drop returns');
    assert.ok(total.peak > 3 * MiB, `the callee's list is in the caller line's peak: ${total.peak}`);
    const kept = profiled(run.report, 'kept = keep(');
    assert.ok(kept.allocated > 2 * 256 * 1024, `the kept buffers count in the caller's line: ${kept.allocated}`);
    assert.equal(kept.held, 0, 'held goes to the line that allocated the block');
    assert.ok(profiled(run.report, 'buffer = bytearray(size)').held >= 2 * 256 * 1024);
  });

  test('a target that raises: exit 2 with the traceback', () => {
    const run = runner('failing:fails_later', ['--calls', '6']);
    assert.equal(run.status, 2, run.dump);
    assert.equal(run.report.errors[0].kind, 'target-raised');
    assert.match(run.report.errors[0].message, /ValueError: boom on call 6 during the profiled calls, call 6/);
    assert.match(run.report.errors[0].traceback ?? '', /fails_later/);
  });
});

describe('profile words', { skip: NO_PYTHON }, () => {
  test('the annotation and the text table of a real report', () => {
    const run = runner('profile_lines:build_and_drop');
    const build = profiled(run.report, 'values = squares(n)');
    assert.match(profileAnnotation(build), /^\+7\.\d MiB alloc · \d+ B held · peak 7\.\d MiB$/);
    assert.ok(profileLineShown(build));
    assert.ok(!profileLineShown(profiled(run.report, 'values = None')));

    const text = formatReportText(run.report, { base: FIXTURES });
    assert.match(text, /^LeakLens profile: profile_lines:build_and_drop \(CPython [\d.]+; 0 warm-up calls, 1 profiled call\)$/m);
    assert.match(text, /^profile_lines\.py:\d+ build_and_drop$/m);
    assert.match(text, /^ {2}Line {5}Hits {3}Allocated {8}Held {8}Peak {2}Source$/m);
    // Every source line of the function, the numbers of the lines that ran.
    assert.match(text, new RegExp(`^ +${lineOf('def build_and_drop')} {47}def build_and_drop\\(n=200000\\):$`, 'm'));
    assert.match(text, new RegExp(`^ +${lineOf('values = squares(n)')} +1 +7\\.\\d MiB +\\d+ B +7\\.\\d MiB {6}values = squares\\(n\\)$`, 'm'));
    assert.match(text, /^Profiled 1 call: 7\.\d MiB allocated, -?\d+(\.\d)? (B|KiB) held after the calls, peak 7\.\d MiB \([\d.]+ s, [\d.]+ s of it in the tracer\)\.$/m);
  });
});

describe('leaklens run profile', { skip: NO_PYTHON }, () => {
  test('text: a table per function of the call tree, exit 0', () => {
    const r = cli(['profile', 'profile_lines.py:handle(i)', '--calls', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^LeakLens profile: profile_lines\.py:handle\(i\) \(CPython [\d.]+; 0 warm-up calls, 2 profiled calls\)$/m);
    const tables = [...r.stdout.matchAll(/^profile_lines\.py:(\d+) (\w+)$/gm)].map((m) => m[2]);
    assert.deepEqual(tables, ['handle', 'build_and_drop', 'squares', 'keep']);
    assert.match(r.stdout, new RegExp(`^ +${lineOf('buffer = bytearray(size)')} +2 +512\\.\\d KiB +512\\.\\d KiB +\\d+\\.\\d KiB {6}buffer = bytearray\\(size\\)$`, 'm'));
    assert.match(r.stdout, /^Profiled 2 calls: /m);
  });

  test('json: the report with its profile section, matching the schema', () => {
    const r = cli(['profile', 'profile_lines:build_and_drop', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RuntimeReport;
    assert.deepEqual(validateSchema(SCHEMA, report), []);
    assert.equal(report.mode, 'profile');
    assert.ok(profiled(report, 'values = squares(n)').allocated > 7 * MiB);
  });

  test('a target that does not exist: exit 2 with the reason', () => {
    const r = cli(['profile', 'profile_lines:no_such_function']);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^Error: .*no_such_function/m);
  });
});

describe("the report view's page of a profile", { skip: NO_PYTHON }, () => {
  test('a table per function, every source line with a link to it, numbers on the lines that ran', async () => {
    const report = runRunner('profile', 'profile_lines:build_and_drop').report;
    const { html, state, links } = await renderPage(report, FIXTURES);
    const ran = report.profile!.lines.length;
    const sourceLines = report.profile!.functions.reduce((n, f) => n + f.source.length, 0);
    assert.deepEqual(state, { graphs: 0, nodes: 0, edges: 0, failed: 0, profileTables: 2, profileRows: ran });
    assert.equal(links.size, sourceLines);
    assert.ok(links.has(locationUrl(FILE, lineOf('values = squares(n)'))));
    assert.equal((html.match(/<table class="profile">/g) ?? []).length, 2);
    assert.match(html, /<h2>build_and_drop — profile_lines\.py:\d+<\/h2>/);
    assert.match(html, /<tr class="allocates"><td><a href="file:[^"]+#L\d+">\d+<\/a><\/td><td>1<\/td><td>7\.\d MiB<\/td>.*?<td class="source">    values = squares\(n\)<\/td><\/tr>/);
    assert.doesNotMatch(html, /No finding of this run has a retention path/);
    // Source text is escaped.
    const tricky: RuntimeReport = JSON.parse(JSON.stringify(report));
    tricky.profile!.functions[0].source[1] = '    x = "<script>alert(1)</script>"';
    const page = await renderPage(tricky, FIXTURES);
    assert.doesNotMatch(page.html, /<script>alert/);
  });
});
