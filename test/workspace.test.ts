// Workspace features over LSP with real files on disk: the start-up scan and its exclusions,
// progress, configuration precedence (pyproject.toml < editor settings), file watching, and
// open documents winning over the disk.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { codes, LspClient, SERVER } from './helpers/lsp-client';

const LEAKY = 'def f(x=[]):\n    x.append(1)\n    return len(x)\n\n\ndef g(p):\n    h = open(p)\n    return h.read()\n';
const CLEAN = 'def f(x=None):\n    return x\n';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-ws-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const uri = (path: string) => pathToFileURL(path).toString();

/** `initial`: the initialization settings (every rule by default; null: none, so `[tool.leaklens]` decides). */
async function withWorkspace<T>(folders: string[], fn: (client: LspClient) => Promise<T>, settings?: LspClient['settings'], initial?: Record<string, unknown> | null): Promise<T> {
  const client = LspClient.spawn();
  if (settings) client.settings = settings;
  try {
    await client.initialize({ folders, settings: initial });
    return await fn(client);
  } finally {
    client.kill();
  }
}

/** Resolves when a scan has ended (its work-done progress reported `end`) `count` times. */
async function scanEnded(client: LspClient, count = 1): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (client.progress.filter((p) => p.kind === 'end').length < count) {
    if (Date.now() > deadline) assert.fail(`no end of scan ${count}\n${client.describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the start-up scan publishes findings for files never opened, skipping what it must', async () => {
  const dir = tree({
    'a.py': LEAKY,
    'pkg/b.py': LEAKY,
    'clean.py': CLEAN,
    'gen/c.py': LEAKY,
    'ignored.py': LEAKY,
    'node_modules/m.py': LEAKY,
    'env/pyvenv.cfg': 'home = /usr\n',
    'env/lib/v.py': LEAKY,
    'big.py': LEAKY + '#' + 'x'.repeat(3000) + '\n',
    '.gitignore': 'ignored.py\n',
    'pyproject.toml': '[tool.leaklens]\nexclude = ["gen"]\nmax-file-size = 1000\n',
  });
  await withWorkspace([dir], async (client) => {
    const a = await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length > 0);
    assert.deepEqual(codes(a.diagnostics), ['LL101', 'LL201']);
    const b = await client.waitForDiagnostics(uri(join(dir, 'pkg', 'b.py')), (p) => p.diagnostics.length > 0);
    assert.equal(b.diagnostics.length, 2);
    await scanEnded(client);
    const published = [...client.published.keys()].map((u) => u.slice(uri(dir).length + 1)).sort();
    assert.deepEqual(published, ['a.py', 'pkg/b.py']);
    const kinds = client.progress.map((p) => p.kind);
    assert.equal(kinds[0], 'begin');
    assert.equal(kinds[kinds.length - 1], 'end');
    const log = client.logs.join('\n');
    assert.match(log, /skipped .*gen: matches exclude/);
    assert.match(log, /skipped .*ignored\.py: ignored by \.gitignore/);
    assert.match(log, /skipped .*env: virtual environment/);
    assert.match(log, /skipped .*big\.py: larger than max-file-size/);
  });
});

test('pyproject.toml applies to scanned and open files; editor settings override it', async () => {
  const dir = tree({ 'a.py': LEAKY, 'pyproject.toml': '[tool.leaklens]\nselect = ["LL2"]\n' });
  await withWorkspace(
    [dir],
    async (client) => {
      const scanned = await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length > 0);
      assert.deepEqual(codes(scanned.diagnostics), ['LL201']);
      const open = uri(join(dir, 'open.py'));
      await client.open(open, LEAKY);
      assert.deepEqual(codes((await client.diagnosticsFor(open, 1)).diagnostics), ['LL201']);
    },
    undefined,
    null,
  );
  // Initialization settings override the file as editor settings do.
  await withWorkspace(
    [dir],
    async (client) => {
      const scanned = await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length > 0);
      assert.deepEqual(codes(scanned.diagnostics), ['LL101']);
    },
    undefined,
    { select: ['LL1'] },
  );
  await withWorkspace(
    [dir],
    async (client) => {
      const scanned = await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length > 0);
      assert.deepEqual(codes(scanned.diagnostics), ['LL101']);
      assert.equal(scanned.diagnostics[0].severity, 1, 'severity from the editor settings');
    },
    () => ({ select: ['LL1'], severity: { LL101: 'error' }, targetVersion: '3.9' }),
  );
});

test('changing the editor settings re-publishes open and scanned files', async () => {
  const dir = tree({ 'a.py': LEAKY });
  let select: string[] = [];
  await withWorkspace(
    [dir],
    async (client) => {
      const file = uri(join(dir, 'a.py'));
      await client.waitForDiagnostics(file, (p) => p.diagnostics.length === 2);
      const open = uri(join(dir, 'b.py'));
      await client.open(open, LEAKY);
      await client.diagnosticsFor(open, 1);
      select = ['LL201'];
      await client.notify('workspace/didChangeConfiguration', { settings: null });
      await client.waitForDiagnostics(file, (p) => p.diagnostics.length === 1 && p.diagnostics[0].code === 'LL201');
      await client.waitForDiagnostics(open, (p) => p.version === 1 && p.diagnostics.length === 1);
    },
    () => ({ select }),
  );
});

test('file watching: created, changed, deleted and renamed files', async () => {
  const dir = tree({ 'a.py': CLEAN });
  await withWorkspace([dir], async (client) => {
    await scanEnded(client);
    const created = join(dir, 'new.py');
    writeFileSync(created, LEAKY);
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(created), type: 1 }] });
    await client.waitForDiagnostics(uri(created), (p) => p.diagnostics.length === 2);

    writeFileSync(created, 'def f(x=[]):\n    x.append(1)\n    return x\n');
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(created), type: 2 }] });
    await client.waitForDiagnostics(uri(created), (p) => p.diagnostics.length === 1);

    const renamed = join(dir, 'renamed.py');
    renameSync(created, renamed);
    await client.notify('workspace/didChangeWatchedFiles', {
      changes: [
        { uri: uri(created), type: 3 },
        { uri: uri(renamed), type: 1 },
      ],
    });
    await client.waitForDiagnostics(uri(created), (p) => p.diagnostics.length === 0);
    await client.waitForDiagnostics(uri(renamed), (p) => p.diagnostics.length === 1);

    rmSync(renamed);
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(renamed), type: 3 }] });
    await client.waitForDiagnostics(uri(renamed), (p) => p.diagnostics.length === 0);
  });
});

test('an open document wins over the disk, and closing it brings the disk state back', async () => {
  const dir = tree({ 'a.py': LEAKY });
  const file = join(dir, 'a.py');
  await withWorkspace([dir], async (client) => {
    await client.waitForDiagnostics(uri(file), (p) => p.diagnostics.length === 2);
    await scanEnded(client);
    await client.open(uri(file), CLEAN, 1);
    assert.equal((await client.diagnosticsFor(uri(file), 1)).diagnostics.length, 0);
    const before = client.published.get(uri(file))!.length;
    writeFileSync(file, LEAKY + LEAKY);
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(file), type: 2 }] });
    // A later, observable event proves the change notification was handled.
    const other = join(dir, 'other.py');
    writeFileSync(other, LEAKY);
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(other), type: 1 }] });
    await client.waitForDiagnostics(uri(other), (p) => p.diagnostics.length === 2);
    assert.equal(client.published.get(uri(file))!.length, before, 'disk results were published over the open document');
    await client.notify('textDocument/didClose', { textDocument: { uri: uri(file) } });
    await client.waitForDiagnostics(uri(file), (p) => p.version === undefined && p.diagnostics.length === 4);
  });
});

test('a broken pyproject.toml is reported with file and line, and the defaults apply', async () => {
  const dir = tree({ 'a.py': LEAKY, 'pyproject.toml': '[tool.leaklens]\nselect = [\n' });
  await withWorkspace([dir], async (client) => {
    const scanned = await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length > 0);
    assert.deepEqual(codes(scanned.diagnostics), ['LL101', 'LL201']);
    const shown = client.logs.find((l) => l.startsWith('[showMessage]'));
    assert.ok(shown, client.describe());
    assert.match(shown, /pyproject\.toml:\d+: invalid TOML/);
  });
});

test('multi-root: each folder uses its own configuration', async () => {
  const one = tree({ 'a.py': LEAKY, 'pyproject.toml': '[tool.leaklens]\nselect = ["LL1"]\n' });
  const two = tree({ 'b.py': LEAKY, 'pyproject.toml': '[tool.leaklens]\nselect = ["LL2"]\n' });
  await withWorkspace(
    [one, two],
    async (client) => {
      const a = await client.waitForDiagnostics(uri(join(one, 'a.py')), (p) => p.diagnostics.length > 0);
      const b = await client.waitForDiagnostics(uri(join(two, 'b.py')), (p) => p.diagnostics.length > 0);
      assert.deepEqual(codes(a.diagnostics), ['LL101']);
      assert.deepEqual(codes(b.diagnostics), ['LL201']);
    },
    undefined,
    null,
  );
});

test('workspace/executeCommand leaklens.server.scanWorkspace rescans', async () => {
  const dir = tree({ 'a.py': CLEAN });
  await withWorkspace([dir], async (client) => {
    await scanEnded(client);
    writeFileSync(join(dir, 'late.py'), LEAKY);
    await client.request('workspace/executeCommand', { command: 'leaklens.server.scanWorkspace', arguments: [] });
    await client.waitForDiagnostics(uri(join(dir, 'late.py')), (p) => p.diagnostics.length === 2);
  });
});

test('file watching: files created where the scan does not look are not analysed (same rules as discovery)', async () => {
  const dir = tree({
    'a.py': CLEAN,
    '.gitignore': 'ignored/\n*.gen.py\n',
    'pyproject.toml': '[tool.leaklens]\nexclude = ["generated", "sub/skip_*.py"]\nmax-file-size = 1000\n',
    'env/pyvenv.cfg': 'home = /usr\n',
    'sub/.gitignore': 'local.py\n',
  });
  await withWorkspace([dir], async (client) => {
    await scanEnded(client);
    const outside = [
      'ignored/x.py', // a .gitignore'd folder
      'pkg/a.gen.py', // a .gitignore'd file pattern
      'sub/local.py', // a nested .gitignore
      'generated/g.py', // exclude glob without '/'
      'sub/skip_me.py', // anchored exclude glob
      'node_modules/m.py', // always-skipped folders
      'build/b.py',
      'deep/__pycache__/c.py',
      'env/lib/v.py', // a virtual environment (pyvenv.cfg)
      'big.py', // over max-file-size
    ];
    for (const name of outside) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), name === 'big.py' ? LEAKY + '#' + 'x'.repeat(3000) + '\n' : LEAKY);
    }
    await client.notify('workspace/didChangeWatchedFiles', { changes: outside.map((name) => ({ uri: uri(join(dir, name)), type: 1 })) });
    await client.notify('workspace/didChangeWatchedFiles', { changes: outside.map((name) => ({ uri: uri(join(dir, name)), type: 2 })) });
    // A later, observable event proves the ones before it were handled.
    const control = join(dir, 'sub', 'ok.py');
    writeFileSync(control, LEAKY);
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(control), type: 1 }] });
    await client.waitForDiagnostics(uri(control), (p) => p.diagnostics.length === 2);
    const published = [...client.published.keys()].map((u) => u.slice(uri(dir).length + 1)).sort();
    assert.deepEqual(published, ['sub/ok.py'], client.describe());
    const log = client.logs.join('\n');
    assert.match(log, /skipped .*big\.py: larger than max-file-size/);
    assert.match(log, /ignoring file events inside .*node_modules: always skipped/);

    // Closing an open document that lives in such a place does not bring disk results back.
    const venvFile = uri(join(dir, 'env', 'lib', 'v.py'));
    await client.open(venvFile, LEAKY, 1);
    assert.equal((await client.diagnosticsFor(venvFile, 1)).diagnostics.length, 2);
    await client.close(venvFile);
    await client.waitForDiagnostics(venvFile, (p) => p.version === undefined && p.diagnostics.length === 0);
  });
});

/** `count` files of ≈ 14 KB, two findings each (LEAKY), the rest clean: seconds of analysis. */
function bigTree(count: number): string {
  const files: Record<string, string> = {};
  let clean = '';
  for (let i = 0; i < 150; i++) clean += `def c${i}(a, b=None):\n    x = [a, b, ${i}]\n    return {"k": x, "n": len(x)}\n\n\n`;
  for (let f = 0; f < count; f++) files[`pkg${f % 10}/m${f}.py`] = clean + LEAKY;
  return tree(files);
}

async function scanBegun(client: LspClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!client.progress.some((p) => p.kind === 'begin')) {
    if (Date.now() > deadline) assert.fail(`the scan did not begin\n${client.describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a big scan runs on worker threads: requests are answered before it ends, and it publishes what `leaklens check` finds', async () => {
  const dir = bigTree(200);
  await withWorkspace([dir], async (client) => {
    await scanBegun(client);
    // While the workers scan, the main thread answers: diagnostics of an open document, a code action.
    const open = uri(join(dir, 'open.py'));
    await client.open(open, LEAKY, 1);
    // A scanned file opened mid-scan: its open state wins over whatever the workers still return.
    const scanned = uri(join(dir, 'pkg9', 'm199.py'));
    await client.open(scanned, CLEAN, 1);
    const published = await client.diagnosticsFor(open, 1);
    const ll201 = published.diagnostics.find((d) => d.code === 'LL201')!;
    const asked = Date.now();
    const actions = await client.codeAction(open, ll201.range, { diagnostics: [ll201], only: ['quickfix'] });
    const latency = Date.now() - asked;
    const endsWhenAnswered = client.progress.filter((p) => p.kind === 'end').length;
    const reportsWhenAnswered = client.progress.filter((p) => p.kind === 'report').length;
    assert.ok(actions && actions.length > 0, client.describe());
    await scanEnded(client);
    assert.equal(endsWhenAnswered, 0, 'the code action was answered only after the scan ended');
    console.log(`code action answered in ${latency} ms, after ${reportsWhenAnswered} of the scan's ${client.progress.filter((p) => p.kind === 'report').length} progress reports`);
    const mid = client.published.get(scanned)!;
    assert.deepEqual(mid[mid.length - 1], { uri: scanned, version: 1, diagnostics: [] }, 'a disk result was published over the open document');
    await client.close(scanned);
    await client.waitForDiagnostics(scanned, (p) => p.version === undefined && p.diagnostics.length === 2);

    // Same findings, same ranges as the CLI checking in-process.
    const cli = spawnSync(process.execPath, [SERVER, 'check', '--select', 'ALL', '--jobs', '1', '--format', 'json', '.'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(cli.status, 1, cli.stderr);
    const expected = new Map<string, string[]>();
    for (const f of JSON.parse(cli.stdout) as Array<{ path: string; code: string; start: { line: number; column: number }; end: { line: number; column: number } }>) {
      const key = uri(join(dir, f.path));
      expected.set(key, [...(expected.get(key) ?? []), `${f.code} ${f.start.line - 1}:${f.start.column - 1}-${f.end.line - 1}:${f.end.column - 1}`]);
    }
    assert.equal(expected.size, 200);
    for (const [file, want] of expected) {
      const got = client.lastPublished(file)?.diagnostics.map((d) => `${d.code} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}`);
      assert.deepEqual(got?.sort(), want.sort(), file);
    }
  });
});

test('a configuration change mid-scan restarts it: the old jobs are dropped and only the new settings show', async () => {
  const dir = bigTree(120);
  let select: string[] = [];
  await withWorkspace(
    [dir],
    async (client) => {
      await scanBegun(client);
      select = ['LL201'];
      await client.notify('workspace/didChangeConfiguration', { settings: null });
      await scanEnded(client, 2);
      const files = [...client.published.keys()];
      assert.equal(files.length, 120);
      for (const file of files) assert.deepEqual(codes(client.lastPublished(file)!.diagnostics), ['LL201'], file);
      // Nothing from the first scan arrives late: the published state stays as it is.
      const counts = files.map((f) => client.published.get(f)!.length);
      const other = join(dir, 'late.py');
      writeFileSync(other, LEAKY);
      await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(other), type: 1 }] });
      await client.waitForDiagnostics(uri(other), (p) => p.diagnostics.length === 1);
      assert.deepEqual(files.map((f) => client.published.get(f)!.length), counts);
      // Only the second scan completed: the first was superseded mid-way.
      assert.equal(client.logs.filter((l) => /scanned 120 files/.test(l)).length, 1, client.describe());
    },
    () => ({ select }),
  );
});

test('the folder walk runs on a thread of its own: an open document is answered while it runs', async () => {
  const dir = tree({ 'a.py': LEAKY });
  // The walk is held back 3 s (as a huge tree or a slow disk would hold it); the main thread is not.
  const client = LspClient.spawn({ env: { LEAKLENS_TEST_DISCOVERY_DELAY_MS: '3000' } });
  try {
    await client.initialize({ folders: [dir] });
    const open = uri(join(dir, 'open.py'));
    await client.open(open, LEAKY, 1);
    const published = await client.diagnosticsFor(open, 1);
    assert.equal(published.diagnostics.length, 2);
    const ll201 = published.diagnostics.find((d) => d.code === 'LL201')!;
    const actions = await client.codeAction(open, ll201.range, { diagnostics: [ll201], only: ['quickfix'] });
    assert.ok(actions && actions.length > 0);
    assert.equal(client.progress.filter((p) => p.kind === 'begin').length, 0, 'the scan began (its walk ended) before the open document was answered');
    assert.equal(client.lastPublished(uri(join(dir, 'a.py'))), undefined, 'a scanned file was published before the open document was answered');
    await scanEnded(client);
    await client.waitForDiagnostics(uri(join(dir, 'a.py')), (p) => p.diagnostics.length === 2);
  } finally {
    client.kill();
  }
});

test('a configuration change re-analyses with the last walk; a created file makes the next one walk again', async () => {
  const dir = tree({ 'a.py': LEAKY, 'node_modules/m.py': LEAKY });
  let select: string[] = [];
  await withWorkspace(
    [dir],
    async (client) => {
      const file = uri(join(dir, 'a.py'));
      await scanEnded(client, 1);
      const walks = () => client.logs.filter((l) => /skipped .*node_modules: always skipped/.test(l)).length;
      assert.equal(walks(), 1);
      select = ['LL201'];
      await client.notify('workspace/didChangeConfiguration', { settings: null });
      await scanEnded(client, 2);
      await client.waitForDiagnostics(file, (p) => p.diagnostics.length === 1 && p.diagnostics[0].code === 'LL201');
      assert.equal(walks(), 1, 'the folder was walked again');
      await client.waitForLog(/scanned 1 files in \d+ ms \(the last walk of 1 of 1 folders reused/);
      // A new file: the file set may have changed, so the next configuration change walks.
      writeFileSync(join(dir, 'b.py'), LEAKY);
      await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri(join(dir, 'b.py')), type: 1 }] });
      await client.waitForDiagnostics(uri(join(dir, 'b.py')), (p) => p.diagnostics.length === 1);
      select = [];
      await client.notify('workspace/didChangeConfiguration', { settings: null });
      await scanEnded(client, 3);
      assert.equal(walks(), 2, 'the folder was not walked again after a file was created');
      await client.waitForDiagnostics(uri(join(dir, 'b.py')), (p) => p.diagnostics.length === 2);
    },
    () => ({ select }),
  );
});
