// Typing over LSP in a large document: each keystroke gets a publish for its version from an
// incremental analysis (the edited function only, marked provisional in diagnostic.data), and
// once typing pauses a whole-file publish of the same version that equals the CLI's analysis of
// the same text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import { runCli } from './helpers/cli';
import { freshUri, withServer } from './helpers/lsp-client';

const BASE = [
  'import os',
  '',
  '_seen = []',
  '',
  '',
  'def remember(x):',
  '    _seen.append(id(x))',
  '',
  '',
  'def read_config(path):',
  '    f = open(path)',
  '    return f.read()',
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

const provisional = (p: PublishDiagnosticsParams) => p.diagnostics.some((d) => (d.data as { provisional?: boolean } | undefined)?.provisional);
const summary = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`).sort();

test('typing inside a function: provisional publishes per keystroke, then a whole-file publish equal to the CLI', async () => {
  await withServer(async (client) => {
    const uri = freshUri('typing');
    await client.open(uri, BASE, 1);
    const first = await client.diagnosticsFor(uri, 1);
    assert.deepEqual(summary(first.diagnostics), ['LL101@10:8', 'LL303@2:0'], 'LL101 in read_config, LL303 on _seen');
    assert.ok(!provisional(first), 'the analysis on open is a whole-file one');

    // Type a new leaking statement at the start of work()'s body, one character per change.
    const typed = 'g = open(os.devnull)\n    ';
    let text = BASE;
    let line = 15;
    let character = 4;
    let version = 1;
    let sawProvisional = false;
    for (const ch of typed) {
      version++;
      await client.change(uri, version, [{ range: { start: { line, character }, end: { line, character } }, text: ch }]);
      const offset = text.split('\n').slice(0, line).join('\n').length + 1 + character;
      text = text.slice(0, offset) + ch + text.slice(offset);
      if (ch === '\n') {
        line++;
        character = 0;
      } else character++;
      const published = await client.diagnosticsFor(uri, version);
      sawProvisional ||= provisional(published);
      // The module-level finding is carried through every keystroke.
      assert.ok(summary(published.diagnostics).includes('LL303@2:0'), `LL303 kept at version ${version}: ${summary(published.diagnostics)}`);
    }
    assert.ok(sawProvisional, 'keystrokes inside a function were analysed incrementally');
    // The function-level rule saw the new allocation without waiting for a pause.
    const last = client.lastPublished(uri)!;
    assert.ok(summary(last.diagnostics).includes('LL101@15:8'), `new LL101 on the typed line: ${summary(last.diagnostics)}`);

    // After the pause: a whole-file publish of the same version, equal to the CLI on the same text.
    const settled = await client.waitForDiagnostics(uri, (p) => p.version === version && !provisional(p));
    const cli = runCli(['check', '--stdin-filename', 'typing.py', '--format', 'json', '--exit-zero'], { input: text });
    assert.equal(cli.status, 0, cli.stderr);
    const expected = (JSON.parse(cli.stdout) as Array<{ code: string; start: { line: number; column: number } }>)
      .map((f) => `${f.code}@${f.start.line - 1}:${f.start.column - 1}`)
      .sort();
    assert.deepEqual(summary(settled.diagnostics), expected);
    assert.equal(settled.diagnostics.length, 3);
  });
});

test('a quick fix asked for a provisional diagnostic is computed from the whole-file analysis of that version', async () => {
  await withServer(async (client) => {
    const uri = freshUri('provisional-fix');
    await client.open(uri, BASE, 1);
    await client.diagnosticsFor(uri, 1);
    // One keystroke inside read_config keeps its LL101 provisional until the pause.
    await client.change(uri, 2, [{ range: { start: { line: 11, character: 19 }, end: { line: 11, character: 19 } }, text: ' ' }]);
    const published = await client.diagnosticsFor(uri, 2);
    const diagnostic = published.diagnostics.find((d) => d.code === 'LL101');
    assert.ok(diagnostic && provisional(published), `a provisional LL101: ${JSON.stringify(published.diagnostics.map((d) => d.data))}`);
    const actions = await client.codeAction(uri, diagnostic.range, { diagnostics: [diagnostic], only: ['quickfix'] });
    const titles = (actions ?? []).map((a) => a.title);
    assert.ok(titles.includes('Wrap `f` in `with`'), `the with-fix is offered: ${titles}`);
    // Asking settled the document: its whole-file publish for version 2 follows.
    await client.waitForDiagnostics(uri, (p) => p.version === 2 && !provisional(p));
  });
});

test('a burst of pipelined changes is applied in order and analysed once, at its last version', async () => {
  await withServer(async (client) => {
    const uri = freshUri('burst');
    await client.open(uri, BASE, 1);
    await client.diagnosticsFor(uri, 1);
    // 300 changes in one write, as a replace-all or a client that fell behind sends them: each
    // inserts one character at the start of line 16 (`    total = 0` becomes `    ` + 300 'x' …).
    const N = 300;
    const frames = Array.from({ length: N }, (_, i) => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        method: 'textDocument/didChange',
        params: { textDocument: { uri, version: i + 2 }, contentChanges: [{ range: { start: { line: 16, character: 4 }, end: { line: 16, character: 4 } }, text: 'x' }] },
      });
      return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    });
    const before = client.published.get(uri)?.length ?? 0;
    await client.writeRaw(frames.join(''));
    const last = await client.diagnosticsFor(uri, N + 1);
    const during = (client.published.get(uri) ?? []).slice(before).map((p) => p.version);
    // Every version analysed would be 300 publishes; the burst is read in a few chunks at most.
    assert.ok(new Set(during).size <= 3, `versions published during the burst: ${[...new Set(during)].join(', ')}`);
    assert.deepEqual(summary(last.diagnostics), ['LL101@10:8', 'LL303@2:0']);
    // The server's text is the editor's: replacing exactly the 300 x's leaves a clean statement
    // (one x too many or too few would shift the finding or break the line).
    await client.change(uri, N + 2, [{ range: { start: { line: 16, character: 4 }, end: { line: 16, character: 4 + N } }, text: 'g = open(os.devnull)\n    ' }]);
    const after = await client.waitForDiagnostics(uri, (p) => p.version === N + 2 && !provisional(p));
    assert.deepEqual(summary(after.diagnostics), ['LL101@10:8', 'LL101@16:8', 'LL303@2:0']);
  });
});
