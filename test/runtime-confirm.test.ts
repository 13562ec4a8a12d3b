// Static findings confirmed by a run: a real runner report (machine's python3) turned into the
// `leaklens/runtimeReport` confirmations (runtime/confirm.ts), applied to the real analyzer's
// diagnostics (protocol/runtime.ts), then the same over LSP against a real server process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver';
import { Analyzer } from '../server/src/analysis/engine';
import { toDiagnostic } from '../server/src/protocol/convert';
import { CONFIRMED_SUFFIX, markConfirmed, RuntimeConfirmations } from '../server/src/protocol/runtime';
import { CLEAR_ALL_KEY, confirmationsFromReport, RUNTIME_REPORT_NOTIFICATION, RuntimeReportParams } from '../server/src/runtime/confirm';
import type { RuntimeReport } from '../server/src/runtime/report';
import { launchArguments } from '../server/src/runtime/spawn';
import { DEFAULT_SETTINGS } from '../server/src/workspace/config';
import { LspClient, ROOT } from './helpers/lsp-client';

const PYTHON = process.env.LEAKLENS_TEST_PYTHON ?? 'python3';
const LAUNCH = launchArguments(join(ROOT, 'server', 'python', 'leaklens_runner'));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'runtime');
const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
const HAVE_PYTHON = spawnSync(PYTHON, ['-c', 'import sys; sys.exit(sys.version_info < (3, 8))']).status === 0;
const NO_PYTHON = HAVE_PYTHON ? false : `${PYTHON} (3.8+) is not available`;

const scratch = mkdtempSync(join(tmpdir(), 'leaklens-confirm-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const fixture = (name: string) => join(FIXTURES, name);
const uriOf = (path: string) => pathToFileURL(path).toString();
const sources = { toUri: uriOf, readLines: (file: string) => readFileSync(file, 'utf8').split('\n') };

let runs = 0;
/** A run with fewer calls than the default unless `defaults` (the verdicts on noise need the default rounds). */
function report(mode: 'growth' | 'cycles' | 'resources', target: string, defaults = false): RuntimeReport {
  const path = join(scratch, `r${++runs}.json`);
  const counts = defaults ? [] : mode === 'growth' ? ['--rounds', '3', '--calls', '40'] : mode === 'resources' ? ['--calls', '2'] : ['--calls', '10'];
  const r = spawnSync(PYTHON, [...LAUNCH, mode, target, '--report', path, '--workspace', FIXTURES, ...counts], { cwd: FIXTURES, env: ENV, encoding: 'utf8' });
  assert.ok(r.status === 0 || r.status === 1, r.stderr + r.stdout);
  return JSON.parse(readFileSync(path, 'utf8'));
}

let analyzer: Analyzer;
before(async () => {
  analyzer = await Analyzer.create();
});
after(() => analyzer?.dispose());

function diagnostics(path: string, text = readFileSync(path, 'utf8')): Diagnostic[] {
  const doc = TextDocument.create(uriOf(path), 'python', 1, text);
  return analyzer.analyzeText(text, { ...DEFAULT_SETTINGS.options, select: ['ALL'] }).findings.map((f) => toDiagnostic(f, doc));
}

function confirmed(list: Diagnostic[]): Diagnostic[] {
  return list.filter((d) => (d.data as { confirmed?: boolean } | undefined)?.confirmed === true);
}

describe('confirmations from a real run, on the real analyzer diagnostics', { skip: NO_PYTHON }, () => {
  test('LL303 on a growing global, LL301 on a class registry, LL302 on a method cache are confirmed', () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['growing_global.py', 'growing_global.py:record', 'LL303', /— confirmed at run time: `_EVENTS` kept objects alive that grew \+\d+ B per call$/],
      ['class_registry.py', 'class_registry.py:load_plugin', 'LL301', /— confirmed at run time: `Plugin\.registry` kept objects alive that grew \+\d+ B per call$/],
      ['method_cache.py', 'method_cache.py:handle_request', 'LL302', /— confirmed at run time: `Service\.lookup` kept objects alive that grew \+\d+ B per call$/],
    ];
    for (const [file, target, code, message] of cases) {
      const params = confirmationsFromReport(report('growth', target), sources);
      const store = new RuntimeConfirmations();
      store.apply(params);
      const before = diagnostics(fixture(file));
      assert.ok(before.some((d) => d.code === code), `${file}: the static rule fires`);
      const after = markConfirmed(before, store.forUri(uriOf(fixture(file))), readFileSync(fixture(file), 'utf8'));
      const marked = confirmed(after);
      assert.deepEqual(marked.map((d) => d.code), [code], `${file}: ${JSON.stringify(params, null, 1)}`);
      assert.match(String(marked[0].message), message);
      assert.equal((marked[0].data as { version: number }).version, 1, 'the data code actions need is kept');
    }
  });

  test('LL301/LL302/LL303/LL401 carry data.subject; a run confirms them by that name alone, never by the message text', () => {
    const cases: Array<[string, string, string, { kind: string; name: string }]> = [
      ['growing_global.py', 'growing_global.py:record', 'LL303', { kind: 'global', name: '_EVENTS' }],
      ['class_registry.py', 'class_registry.py:load_plugin', 'LL301', { kind: 'classAttribute', name: 'Plugin.registry' }],
      ['method_cache.py', 'method_cache.py:handle_request', 'LL302', { kind: 'method', name: 'Service.lookup' }],
    ];
    for (const [file, target, code, subject] of cases) {
      const params = confirmationsFromReport(report('growth', target), sources);
      const store = new RuntimeConfirmations();
      store.apply(params);
      const before = diagnostics(fixture(file));
      const finding = before.find((d) => d.code === code);
      assert.ok(finding, `${file}: the static rule fires`);
      assert.deepEqual((finding.data as { subject?: unknown }).subject, subject, `${file}: ${code}'s subject`);
      // Names only: no line of the run may confirm it.
      const namesOnly = { sites: [], names: store.forUri(uriOf(fixture(file)))!.names };
      assert.ok(namesOnly.names.some((n) => n.name === subject.name), JSON.stringify(namesOnly));
      const text = readFileSync(fixture(file), 'utf8');
      assert.deepEqual(confirmed(markConfirmed(before, namesOnly, text)).map((d) => d.code), [code], `${file}: confirmed by its subject`);
      // The same diagnostics without a subject: the message still quotes the name, which does not count.
      const withoutSubject = before.map((d) => ({ ...d, data: { ...(d.data as object), subject: undefined } }));
      assert.ok(withoutSubject.some((d) => String(d.message).includes(`\`${subject.name}\``)), `${file}: the message names it`);
      assert.deepEqual(confirmed(markConfirmed(withoutSubject, namesOnly, text)), [], `${file}: no subject, no confirmation by name`);
      // Another subject of the same name in another place is confirmed by the same name, a different one is not.
      const other = before.map((d) => (d.code === code ? { ...d, data: { ...(d.data as object), subject: { ...subject, name: `${subject.name}2` } } } : d));
      assert.deepEqual(confirmed(markConfirmed(other, namesOnly, text)), [], `${file}: a different subject name is not confirmed`);
    }
  });

  test('LL401: a large module global and a large class attribute name their subject', () => {
    const path = join(scratch, 'big.py');
    const text = 'TABLE = list(range(500000))\n\n\nclass Cache:\n    SLOTS = [0] * 400000\n';
    const found = diagnostics(path, text).filter((d) => d.code === 'LL401');
    assert.deepEqual(found.map((d) => (d.data as { subject?: unknown }).subject), [
      { kind: 'global', name: 'TABLE' },
      { kind: 'classAttribute', name: 'Cache.SLOTS' },
    ]);
    const names = { sites: [], names: [{ name: 'Cache.SLOTS', summary: '`Cache.SLOTS` grew' }] };
    const marked = confirmed(markConfirmed(found, names, text));
    assert.deepEqual(marked.map((d) => d.range.start.line), [4]);
  });

  test('leaklens check --format json carries the subject', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'leaklens.js'), 'check', '--select', 'ALL', '--format', 'json', '--no-cache', 'class_registry.py', 'growing_global.py', 'method_cache.py'], { cwd: FIXTURES, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    const findings = JSON.parse(r.stdout) as Array<{ code: string; subject?: unknown }>;
    const subjects = findings.filter((f) => ['LL301', 'LL302', 'LL303'].includes(f.code)).map((f) => [f.code, f.subject]);
    assert.deepEqual(subjects.sort(), [
      ['LL301', { kind: 'classAttribute', name: 'Plugin.registry' }],
      ['LL302', { kind: 'method', name: 'Service.lookup' }],
      ['LL303', { kind: 'global', name: '_EVENTS' }],
    ]);
    assert.ok(findings.filter((f) => !['LL301', 'LL302', 'LL303', 'LL401'].includes(f.code)).every((f) => !('subject' in f)), 'other rules have no subject');
  });

  test('LL502 on a parent back-reference is confirmed by the cycle run', () => {
    const params = confirmationsFromReport(report('cycles', 'parent_child.py:build_tree'), sources);
    const store = new RuntimeConfirmations();
    store.apply(params);
    const marked = confirmed(markConfirmed(diagnostics(fixture('parent_child.py')), store.forUri(uriOf(fixture('parent_child.py'))), readFileSync(fixture('parent_child.py'), 'utf8')));
    assert.deepEqual(marked.map((d) => d.code), ['LL502']);
    assert.match(String(marked[0].message), /confirmed at run time: reference cycle \(Node, list\) made 1 per call, freed late at a GC pause$/);
  });

  test('an unclosed file confirms LL101 on its open() line; the LL102 of a helper\'s socket is not confirmed by a run that left it unclosed on a normal path', () => {
    const mine = fixture('resource_static.py');
    const store = new RuntimeConfirmations();
    store.apply(confirmationsFromReport(report('resources', 'resource_static:read_header'), sources));
    const marked = confirmed(markConfirmed(diagnostics(mine), store.forUri(uriOf(mine)), readFileSync(mine, 'utf8')));
    assert.deepEqual(marked.map((d) => [d.code, d.range.start.line + 1]), [['LL101', 4]]);
    assert.match(String(marked[0].message), /— confirmed at run time: file left unclosed \(1 per call\)$/);

    const helpers = fixture('net_helpers.py');
    const all = { ...DEFAULT_SETTINGS.options, allFindings: true, select: ['ALL'] };
    const text = readFileSync(helpers, 'utf8');
    const doc = TextDocument.create(uriOf(helpers), 'python', 1, text);
    const list = analyzer.analyzeText(text, all).findings.map((f) => toDiagnostic(f, doc));
    assert.ok(list.some((d) => d.code === 'LL102' && d.range.start.line + 1 === 7), 'LL102 (low) on the socket() line of the helper');
    const params = confirmationsFromReport(report('resources', 'resource_leak:handle'), sources);
    assert.ok(params.files.find((f) => f.uri === uriOf(helpers))?.sites.some((s) => s.kind === 'resource' && s.line === 6), JSON.stringify(params));
    store.apply(params);
    assert.deepEqual(confirmed(markConfirmed(list, store.forUri(uriOf(helpers)), text)), []);
  });

  test('a bounded cache and noise confirm nothing', () => {
    for (const target of ['bounded_cache.py:compute', 'noise.py:sawtooth', 'clean.py:pure']) {
      const params = confirmationsFromReport(report('growth', target, true), sources);
      assert.deepEqual(params.files, [], target);
    }
  });

  test('a confirmed line is followed when edits move it, and dropped when it is gone', () => {
    const path = fixture('class_registry.py');
    const text = readFileSync(path, 'utf8');
    const store = new RuntimeConfirmations();
    store.apply(confirmationsFromReport(report('growth', 'class_registry.py:load_plugin'), sources));
    // Confirmations by line only (no names), to test the line following on its own.
    const sitesOnly = { sites: store.forUri(uriOf(path))!.sites, names: [] };
    const moved = '# a comment\n# another\n\n' + text;
    const movedMarks = confirmed(markConfirmed(diagnostics(path, moved), sitesOnly, moved));
    assert.deepEqual(movedMarks.map((d) => [d.code, d.range.start.line]), [['LL301', 5]]);
    const renamed = text.replace('registry = []', 'registry = list()');
    assert.deepEqual(confirmed(markConfirmed(diagnostics(path, renamed), sitesOnly, renamed)), [], 'the line changed: no longer the line that ran');
  });

  test('RuntimeConfirmations: a key replaces its own earlier confirmations; clear-all clears', () => {
    const store = new RuntimeConfirmations();
    const file = (uri: string, line: number): RuntimeReportParams['files'][number] => ({ uri, sites: [{ line, kind: 'allocation', summary: `s${line}` }], names: [] });
    assert.deepEqual(store.apply({ key: 'growth a', files: [file('u1', 1)] }), ['u1']);
    assert.deepEqual(store.apply({ key: 'growth b', files: [file('u1', 2), file('u2', 3)] }).sort(), ['u1', 'u2']);
    assert.deepEqual(store.forUri('u1')!.sites.map((s) => s.line).sort(), [1, 2]);
    assert.deepEqual(store.apply({ key: 'growth a', files: [] }), ['u1']);
    assert.deepEqual(store.forUri('u1')!.sites.map((s) => s.line), [2]);
    assert.deepEqual(store.apply({ key: CLEAR_ALL_KEY, files: [] }).sort(), ['u1', 'u2']);
    assert.equal(store.forUri('u1'), undefined);
    // Malformed entries are ignored, not thrown on.
    assert.deepEqual(store.apply({ key: 'x', files: [{ uri: 'u3', sites: [{ line: -1 }], names: [] } as never] }), []);
  });
});

describe('over LSP: leaklens/runtimeReport marks published diagnostics', { skip: NO_PYTHON }, () => {
  test('the server re-publishes LL301 confirmed, keeps it through a change, and clears it', async () => {
    // The bundled server once server.ts attaches the confirmations; until then a harness that
    // attaches them to the same startServer().
    const serverJs = readFileSync(join(ROOT, 'out', 'server', 'src', 'protocol', 'server.js'), 'utf8');
    let client: LspClient;
    const wired = serverJs.includes('attachRuntimeConfirmations');
    if (wired) {
      client = LspClient.spawn();
    } else {
      const harness = join(scratch, 'harness.js');
      writeFileSync(harness, [
        `const { createConnection, ProposedFeatures } = require(${JSON.stringify(require.resolve('vscode-languageserver/node'))});`,
        `const { startServer } = require(${JSON.stringify(join(ROOT, 'out', 'server', 'src', 'protocol', 'server.js'))});`,
        `const { attachRuntimeConfirmations } = require(${JSON.stringify(join(ROOT, 'out', 'server', 'src', 'protocol', 'runtime.js'))});`,
        'const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);',
        'attachRuntimeConfirmations(connection, () => undefined);',
        'startServer(connection);',
      ].join('\n'));
      client = LspClient.spawnScript(harness);
    }
    try {
      await client.initialize();
      const path = fixture('class_registry.py');
      const uri = uriOf(path);
      const text = readFileSync(path, 'utf8');
      await client.open(uri, text, 1);
      const first = await client.diagnosticsFor(uri, 1);
      const ll301 = first.diagnostics.find((d) => d.code === 'LL301');
      assert.ok(ll301 && !String(ll301.message).includes(CONFIRMED_SUFFIX), client.describe());

      const params = confirmationsFromReport(report('growth', 'class_registry.py:load_plugin'), sources);
      await client.notify(RUNTIME_REPORT_NOTIFICATION, params);
      const isConfirmed = (p: { diagnostics: Diagnostic[] }) => p.diagnostics.some((d) => d.code === 'LL301' && String(d.message).includes(CONFIRMED_SUFFIX));
      const marked = await client.waitForDiagnostics(uri, isConfirmed);
      const d = marked.diagnostics.find((x) => x.code === 'LL301')!;
      assert.equal((d.data as { confirmed?: boolean }).confirmed, true);
      assert.equal(marked.version, 1);

      // A new analysis after an edit elsewhere is decorated again.
      await client.change(uri, 2, [{ text: text + '\n\ndef other():\n    return 1\n' }]);
      const again = await client.diagnosticsFor(uri, 2);
      assert.ok(isConfirmed(again), JSON.stringify(again.diagnostics.map((x) => x.message)));

      // Code actions still work on a confirmed diagnostic (its data is intact).
      const ll301Again = again.diagnostics.find((x) => x.code === 'LL301')!;
      const actions = await client.codeAction(uri, ll301Again.range, { diagnostics: [ll301Again], only: ['quickfix'] });
      assert.ok((actions ?? []).length > 0, 'the quick fixes are still offered');

      if (wired) {
        // The open document's text (not the disk's) decides where a confirmed line went.
        await client.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# moved\n# down\n' }]);
        const moved = await client.diagnosticsFor(uri, 3);
        const movedLL301 = moved.diagnostics.find((x) => x.code === 'LL301');
        assert.ok(movedLL301 && String(movedLL301.message).includes(CONFIRMED_SUFFIX), JSON.stringify(moved.diagnostics));
        assert.equal(movedLL301.range.start.line, 4);
      }

      await client.notify(RUNTIME_REPORT_NOTIFICATION, { key: CLEAR_ALL_KEY, files: [] });
      const cleared = await client.waitForDiagnostics(uri, (p) => !isConfirmed(p) && p.diagnostics.some((x) => x.code === 'LL301'));
      assert.ok(cleared);
      // A malformed notification does not take the server down.
      await client.notify(RUNTIME_REPORT_NOTIFICATION, { nonsense: true });
      await client.notify(RUNTIME_REPORT_NOTIFICATION, null);
      assert.ok(client.alive);
      await client.shutdown();
    } finally {
      client.kill();
    }
  });
});
