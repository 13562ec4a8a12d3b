// Keystrokes published without a parse (analysis/incremental.ts movedWithoutParse): in a large
// document whose text holds no resource-factory name — or, when it does, for an edit of one
// identifier or of a comment in a function with no factory call candidate —, with only rules
// selected that report at factory calls (LL101, LL103) among the function-level ones, a keystroke's
// result is the previous findings moved by the edits, published at once; the parse waits for the pause. The server runs
// with LEAKLENS_TEST_KEYSTROKE=verify: it logs which publishes parsed, and after each publish
// without a parse it parses anyway and logs an error unless the incremental step gives the same
// findings. Once typing pauses, the whole-file publish equals the CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import { runCli } from './helpers/cli';
import { freshUri, LspClient, offsetAt, positionAt } from './helpers/lsp-client';

const BASE = [
  '_seen = []',
  '',
  '',
  'def remember(x):',
  '    _seen.append(id(x))',
  '',
  '',
  'def work(items):',
  '    total = 0',
  '    return total',
  '',
  '',
  // Documents under 20 000 characters are analysed whole on every change (INCREMENTAL_MIN_CHARS).
  ...Array.from({ length: 600 }, (_, i) => `def filler_${i}(a, b):\n    return a + b * ${i}\n\n`),
].join('\n');

/** The same document with a resource call in another function. */
const WITH_OPEN = BASE.replace('def work(items):', 'def read_config(path):\n    with open(path) as f:\n        return f.read()\n\n\ndef work(items):');

const SELECT = ['LL101', 'LL303'];
const provisional = (p: PublishDiagnosticsParams) => p.diagnostics.some((d) => (d.data as { provisional?: boolean } | undefined)?.provisional);
const summary = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`).sort();

async function withKeystrokeServer(select: string[], fn: (c: LspClient) => Promise<void>): Promise<void> {
  const client = LspClient.spawn({ env: { LEAKLENS_TEST_KEYSTROKE: 'verify' } });
  try {
    await client.initialize({ settings: { select } });
    await fn(client);
    const errors = client.logs.filter((l) => l.startsWith('[error]'));
    assert.deepEqual(errors, [], 'a publish without a parse differs from the incremental step on the parsed tree');
    await client.shutdown();
  } finally {
    client.kill();
  }
}

/** Types `typed` one character per change at `at` (an offset of `text`); returns the text and the versions sent. */
async function type(c: LspClient, uri: string, text: string, version: number, at: number, typed: string): Promise<{ text: string; version: number; publishes: PublishDiagnosticsParams[] }> {
  const publishes: PublishDiagnosticsParams[] = [];
  for (const ch of typed) {
    const pos = positionAt(text, at);
    version++;
    await c.change(uri, version, [{ range: { start: pos, end: pos }, text: ch }]);
    text = text.slice(0, at) + ch + text.slice(at);
    at++;
    publishes.push(await c.diagnosticsFor(uri, version));
  }
  return { text, version, publishes };
}

/** How the publish of a version was made, from the test log: 'moved' (no parse) or 'parsed'. */
function howPublished(c: LspClient, uri: string, version: number): string {
  const line = c.logs.find((l) => l.includes(`keystroke test: ${uri} version ${version} `));
  return !line ? 'not logged' : line.endsWith('moved without a parse') ? 'moved' : line.endsWith('parsed') ? 'parsed' : line;
}

function cliSummary(text: string, select: string[]): string[] {
  const cli = runCli(['check', '--stdin-filename', 'typed.py', '--format', 'json', '--exit-zero', '--select', select.join(',')], { input: text });
  assert.equal(cli.status, 0, cli.stderr);
  return (JSON.parse(cli.stdout) as Array<{ code: string; start: { line: number; column: number } }>).map((f) => `${f.code}@${f.start.line - 1}:${f.start.column - 1}`).sort();
}

test('a comment, an identifier and a line break typed where no resource is made are published without a parse, findings moved', async () => {
  await withKeystrokeServer(SELECT, async (c) => {
    const uri = freshUri('keystroke-quiet');
    await c.open(uri, BASE, 1);
    assert.deepEqual(summary((await c.diagnosticsFor(uri, 1)).diagnostics), ['LL303@0:0']);
    // A comment after `total = 0`, then an identifier edit (`total` → `totals`).
    let r = await type(c, uri, BASE, 1, offsetAt(BASE, { line: 8, character: 13 }), '  # note');
    r = await type(c, uri, r.text, r.version, offsetAt(r.text, { line: 8, character: 9 }), 's');
    // A line break at the top of the file moves the module-level finding down one line.
    r = await type(c, uri, r.text, r.version, 0, '\n');
    for (let v = 2; v <= r.version; v++) assert.equal(howPublished(c, uri, v), 'moved', `version ${v}`);
    const last = r.publishes[r.publishes.length - 1];
    assert.ok(provisional(last), 'published before the whole-file analysis: provisional');
    assert.deepEqual(summary(last.diagnostics), ['LL303@1:0'], 'the finding moved by the edits');
    // After the pause: the whole-file publish of the same version equals the CLI.
    const settled = await c.waitForDiagnostics(uri, (p) => p.version === r.version && !provisional(p));
    assert.deepEqual(summary(settled.diagnostics), cliSummary(r.text, SELECT));
    assert.deepEqual(summary(settled.diagnostics), ['LL303@1:0']);
  });
});

test('typing `f = open(p)` in a function parses from the keystroke that makes `open`, and the finding appears before the pause', async () => {
  await withKeystrokeServer(SELECT, async (c) => {
    const uri = freshUri('keystroke-open');
    await c.open(uri, BASE, 1);
    await c.diagnosticsFor(uri, 1);
    // At the start of work()'s body: `f = open(p)` and a new line.
    const at = offsetAt(BASE, { line: 8, character: 4 });
    const r = await type(c, uri, BASE, 1, at, 'f = open(p)\n    ');
    const how = Array.from({ length: r.version - 1 }, (_, i) => howPublished(c, uri, i + 2));
    // Typed before `total = 0`: up to `f = opentotal` (one identifier) without a parse; from
    // `open(` on, the text holds a factory name and every keystroke parses.
    assert.deepEqual(how, [...Array(8).fill('moved'), ...Array(r.version - 9).fill('parsed')], how.join(' '));
    // The publish right after `)` has the finding, without waiting for the pause.
    const afterParen = r.publishes['f = open(p)'.length - 1];
    assert.ok(summary(afterParen.diagnostics).includes('LL101@8:8'), `LL101 on the typed line: ${summary(afterParen.diagnostics)}`);
    assert.ok(provisional(afterParen));
    const settled = await c.waitForDiagnostics(uri, (p) => p.version === r.version && !provisional(p));
    assert.deepEqual(summary(settled.diagnostics), cliSummary(r.text, SELECT));
    assert.deepEqual(summary(settled.diagnostics), ['LL101@8:8', 'LL303@0:0']);
    // `open` → `opn`: the edit meets the finding, which is dropped (as the incremental step
    // drops it), and the text has no factory name left: no parse.
    const o = offsetAt(r.text, { line: 8, character: 10 });
    await c.change(uri, r.version + 1, [{ range: { start: positionAt(r.text, o), end: positionAt(r.text, o + 1) }, text: '' }]);
    const dropped = await c.diagnosticsFor(uri, r.version + 1);
    assert.equal(howPublished(c, uri, r.version + 1), 'moved');
    assert.deepEqual(summary(dropped.diagnostics), ['LL303@0:0']);
    const text = r.text.slice(0, o) + r.text.slice(o + 1);
    const after = await c.waitForDiagnostics(uri, (p) => p.version === r.version + 1 && !provisional(p));
    assert.deepEqual(summary(after.diagnostics), cliSummary(text, SELECT));
  });
});

test('a finding of a function-level rule left to drop (a call of a function that no longer opens anything): parsed until the pause', async () => {
  await withKeystrokeServer(SELECT, async (c) => {
    const uri = freshUri('keystroke-factory');
    const base = BASE.replace('def work(items):', 'def make(p):\n    return open(p)\n\n\ndef use(p):\n    x = make(p)\n    return x.read()\n\n\ndef work(items):');
    await c.open(uri, base, 1);
    const first = await c.diagnosticsFor(uri, 1);
    const line = base.split('\n').indexOf('    x = make(p)');
    assert.ok(summary(first.diagnostics).includes(`LL101@${line}:8`), `LL101 at the call of make(): ${summary(first.diagnostics)}`);
    // `open` → `opn` in make(): no factory name in the text, but the LL101 in use() is still there.
    const o = base.indexOf('open(p)') + 2;
    await c.change(uri, 2, [{ range: { start: positionAt(base, o), end: positionAt(base, o + 1) }, text: '' }]);
    await c.diagnosticsFor(uri, 2);
    assert.equal(howPublished(c, uri, 2), 'parsed');
    const text = base.slice(0, o) + base.slice(o + 1);
    const settled = await c.waitForDiagnostics(uri, (p) => p.version === 2 && !provisional(p));
    assert.deepEqual(summary(settled.diagnostics), cliSummary(text, SELECT));
    assert.ok(!summary(settled.diagnostics).some((d) => d.startsWith('LL101')), 'no LL101 once make() opens nothing');
    // The finding gone, a keystroke needs no parse again.
    await type(c, uri, text, 2, text.indexOf('    total = 0') + 13, '#');
    assert.equal(howPublished(c, uri, 3), 'moved');
  });
});

test('with a factory name elsewhere in the file, an identifier edit in a function that makes no resource is published without a parse', async () => {
  await withKeystrokeServer(SELECT, async (c) => {
    const uri = freshUri('keystroke-function');
    const base = WITH_OPEN.replace('def work(items):', 'def leaky(path):\n    f = open(path)\n    return f.readline()\n\n\ndef work(items):').replace('    total = 0', '    total = len(items)');
    await c.open(uri, base, 1);
    const first = await c.diagnosticsFor(uri, 1);
    const leakLine = base.split('\n').indexOf('    f = open(path)');
    assert.deepEqual(summary(first.diagnostics), [`LL101@${leakLine}:8`, 'LL303@0:0']);
    const line = base.split('\n').indexOf('    total = len(items)');
    // `total` → `totals` → `totalsx` in work(): no factory name, no call of a function that may make one.
    let r = await type(c, uri, base, 1, offsetAt(base, { line, character: 9 }), 'sx');
    assert.deepEqual([howPublished(c, uri, 2), howPublished(c, uri, 3)], ['moved', 'moved']);
    // After the pause (a new record of changes: until then the edits reach two functions, and the
    // incremental step would carry every finding), an edit in the function that opens: parsed.
    await c.waitForDiagnostics(uri, (p) => p.version === r.version && !provisional(p));
    r = await type(c, uri, r.text, r.version, offsetAt(r.text, { line: leakLine + 1, character: 19 }), 'x');
    assert.equal(howPublished(c, uri, r.version), 'parsed');
    // The called name edited: `leaky(items)` calls a function that opens (parsed); `lent(items)`
    // calls nothing of the file (published without a parse). Then `totalsx` becomes `def`, a
    // keyword: the structure changes (parsed).
    let text = r.text;
    let version = r.version;
    for (const [at, word, how] of [[14, 'leaky', 'parsed'], [14, 'lent', 'moved'], [4, 'def', 'parsed']] as const) {
      const w = offsetAt(text, { line, character: at });
      const old = /^\w+/.exec(text.slice(w))![0];
      version++;
      await c.change(uri, version, [{ range: { start: positionAt(text, w), end: positionAt(text, w + old.length) }, text: word }]);
      await c.diagnosticsFor(uri, version);
      assert.equal(howPublished(c, uri, version), how, word);
      text = text.slice(0, w) + word + text.slice(w + old.length);
    }
    const settled = await c.waitForDiagnostics(uri, (p) => p.version === version && !provisional(p));
    assert.deepEqual(summary(settled.diagnostics), cliSummary(text, SELECT));
  });
});

test('a suppression comment, a factory name elsewhere in the file or LL201 selected: every keystroke parses', async () => {
  await withKeystrokeServer(SELECT, async (c) => {
    const uri = freshUri('keystroke-noqa');
    await c.open(uri, BASE, 1);
    await c.diagnosticsFor(uri, 1);
    const r = await type(c, uri, BASE, 1, offsetAt(BASE, { line: 4, character: 23 }), '  # noqa');
    const how = Array.from({ length: r.version - 1 }, (_, i) => howPublished(c, uri, i + 2));
    // "noqa" complete (the last keystroke): parsed, and the next analysis sees it.
    assert.deepEqual(how, [...Array(7).fill('moved'), 'parsed'], how.join(' '));

    // In the function that opens a file, a comment typed parses at every keystroke.
    const other = freshUri('keystroke-elsewhere');
    await c.open(other, WITH_OPEN, 1);
    await c.diagnosticsFor(other, 1);
    const line = WITH_OPEN.split('\n').indexOf('        return f.read()');
    const r2 = await type(c, other, WITH_OPEN, 1, offsetAt(WITH_OPEN, { line, character: 23 }), ' # x');
    for (let v = 2; v <= r2.version; v++) assert.equal(howPublished(c, other, v), 'parsed', `version ${v}`);
  });
  await withKeystrokeServer(['ALL'], async (c) => {
    const uri = freshUri('keystroke-all');
    await c.open(uri, BASE, 1);
    await c.diagnosticsFor(uri, 1);
    await type(c, uri, BASE, 1, offsetAt(BASE, { line: 8, character: 13 }), ' #');
    assert.equal(howPublished(c, uri, 2), 'parsed');
    assert.equal(howPublished(c, uri, 3), 'parsed');
  });
});

test('code pasted into a function too deep to analyse: carried until the pause, then the file is reported as not analysed', async () => {
  await withKeystrokeServer(['ALL'], async (c) => {
    const uri = freshUri('keystroke-deep');
    await c.open(uri, BASE, 1);
    await c.diagnosticsFor(uri, 1);
    const pos = { line: 8, character: 13 };
    await c.change(uri, 2, [{ range: { start: pos, end: pos }, text: '\n    y = ' + '('.repeat(5000) + ')'.repeat(5000) }]);
    const settled = await c.waitForDiagnostics(uri, (p) => p.version === 2 && !provisional(p));
    assert.deepEqual(settled.diagnostics, []);
    await c.waitForLog(new RegExp(`not analysed ${uri}: the code nests deeper than 4000 syntax-tree levels`));
  });
});

test('the parse left to the pause still meets its budget and WebAssembly traps: both reported for the document, which is analysed again once its text is reasonable', async () => {
  const TRAP = 'zzz-trap-zzz'; // no "leaklens" in it: a typed suppression marker would make the keystroke parse
  const client = LspClient.spawn({ env: { LEAKLENS_TEST_KEYSTROKE: 'log', LEAKLENS_TEST_WASM_TRAP: TRAP } });
  try {
    await client.initialize({ settings: { select: SELECT } });
    const c = client;
    const end = positionAt(BASE, BASE.length);
    // 2 000 lines of long comments pasted at the end: published without a parse, then the parse at
    // the pause is over the comment-scan budget.
    const budget = freshUri('keystroke-budget');
    await c.open(budget, BASE, 1);
    await c.diagnosticsFor(budget, 1);
    await c.change(budget, 2, [{ range: { start: end, end }, text: ('#' + 'x'.repeat(99) + '\n').repeat(2000) }]);
    assert.deepEqual(summary((await c.diagnosticsFor(budget, 2)).diagnostics), ['LL303@0:0']);
    assert.equal(howPublished(c, budget, 2), 'moved');
    await c.waitForLog(new RegExp(`^\\[error\\] not analysed ${budget}: the parse ran out of its work budget \\(its runs of comment lines`));
    await c.change(budget, 3, [{ text: BASE }]);
    assert.deepEqual(summary((await c.diagnosticsFor(budget, 3)).diagnostics), ['LL303@0:0']);

    // A comment that makes the parser trap, typed in one change.
    const trapped = freshUri('keystroke-trap');
    await c.open(trapped, BASE, 1);
    await c.diagnosticsFor(trapped, 1);
    const pos = { line: 8, character: 13 };
    await c.change(trapped, 2, [{ range: { start: pos, end: pos }, text: `  # ${TRAP}` }]);
    await c.diagnosticsFor(trapped, 2);
    assert.equal(howPublished(c, trapped, 2), 'moved');
    await c.waitForLog(new RegExp(`^\\[error\\] not analysed ${trapped}: WebAssembly trap`));
    await c.waitForLog(/the WebAssembly runtime was recreated after a trap/);
    assert.deepEqual((await c.waitForDiagnostics(trapped, (p) => p.version === 2 && p.diagnostics.length === 0)).diagnostics, []);
    // The other document is analysed after the recovery, and the trapped one once its text changes.
    await c.change(budget, 4, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '\n' }]);
    assert.deepEqual(summary((await c.waitForDiagnostics(budget, (p) => p.version === 4 && !provisional(p))).diagnostics), ['LL303@1:0']);
    await c.change(trapped, 3, [{ text: BASE }]);
    assert.deepEqual(summary((await c.diagnosticsFor(trapped, 3)).diagnostics), ['LL303@0:0']);
    assert.ok(c.alive, c.describe());
    await c.shutdown();
  } finally {
    client.kill();
  }
});
