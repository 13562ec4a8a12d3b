// Bad files on disk (spec §6), for the CLI and for the server's workspace scan: binary files,
// NUL bytes, invalid UTF-8, an unknown coding, a 20 MB file, 10 000-deep nesting, lone CR line
// ends, a directory named x.py, a FIFO named x.py, an unreadable file, code with parser-inserted
// (MISSING) names. Each: no crash, no hang (every process has a time limit), a message that names
// the file, the right exit code, and the other files still checked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { CLI, ROOT, withAllRules } from './helpers/cli';
import { codes, freshUri, LspClient } from './helpers/lsp-client';

const GOOD = 'def f(x=[]):\n    return x\n';
const CLI_TIME_LIMIT_MS = 90_000;

interface Finding {
  path: string;
  code: string;
  start: { line: number; column: number };
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  findings: Finding[];
}

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-badfiles-'));
  made.push(dir);
  return dir;
}

/**
 * `leaklens check --format json --all-findings <args>` with a time limit; a timeout or a signal
 * fails the test. The samples' LL201 defaults are only read (low confidence): all-findings reports
 * them, and these tests use them to see that a file was analysed (with every rule: only LL101 is
 * on by default).
 */
function check(args: string[], input?: string | Buffer): Run {
  const r = spawnSync(process.execPath, [CLI, ...withAllRules(['check', '--format', 'json', '--all-findings', ...args])], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    timeout: CLI_TIME_LIMIT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.error, undefined, `the CLI did not finish within ${CLI_TIME_LIMIT_MS} ms (hang?): ${r.error}`);
  assert.equal(r.signal, null, `the CLI was killed by ${r.signal}\n${r.stderr.slice(-2000)}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace on stderr:\n${r.stderr.slice(-2000)}`);
  assert.doesNotMatch(r.stderr, /FATAL|Fatal error|RangeError|TypeError|Aborted/, r.stderr.slice(-2000));
  let findings: Finding[] = [];
  // Exit 2 with a report (files that could not be checked) prints JSON too; a usage error does not.
  if (r.status !== 2 || r.stdout.trim()) {
    try {
      findings = JSON.parse(r.stdout) as Finding[];
    } catch {
      assert.fail(`stdout is not JSON: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(-1000)}`);
    }
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, findings };
}

/** A folder with good.py (one LL201) and the given bad files; checks it. */
function checkBeside(files: Record<string, string | Buffer>, extraArgs: string[] = []): Run {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.py'), GOOD);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  try {
    return check([...extraArgs, dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** good.py was checked and its finding reported, so the bad file did not stop the run. */
function assertGoodChecked(run: Run): void {
  const good = run.findings.filter((f) => f.path.endsWith('good.py'));
  assert.deepEqual(good.map((f) => [f.code, f.start.line, f.start.column]), [['LL201', 1, 9]], `good.py still checked\n${run.stderr}`);
  assert.equal(run.status, 1, `exit 1 (findings)\n${run.stderr}`);
}

/** The message on stderr names the file and gives the reason. */
function assertSkipped(run: Run, name: string, reason: RegExp): void {
  const line = run.stderr.split('\n').find((l) => l.includes(name));
  assert.ok(line, `stderr names ${name}:\n${run.stderr}`);
  assert.match(line, /^leaklens: skipped /, line);
  assert.match(line, reason, line);
  assert.ok(!run.findings.some((f) => f.path.endsWith(name)), `no findings reported for ${name}`);
}

test('a binary file (random bytes with NUL) is skipped with a message; the rest is checked', () => {
  const bytes = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256));
  const run = checkBeside({ 'binary.py': bytes });
  assertSkipped(run, 'binary.py', /binary file/);
  assertGoodChecked(run);
});

test('NUL bytes in otherwise valid source: skipped as binary (CPython refuses them too)', () => {
  const run = checkBeside({ 'nul.py': 'def g(y={}):\n    return y\n\0\n' });
  assertSkipped(run, 'nul.py', /NUL/);
  assertGoodChecked(run);
});

test('invalid UTF-8 and an unknown coding: skipped with the encoding named', () => {
  const run = checkBeside({
    'bad_utf8.py': Buffer.concat([Buffer.from('def g(y={}):\n    return "'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"\n')]),
    'klingon.py': '# -*- coding: klingon -*-\ndef g(y={}):\n    return y\n',
  });
  assertSkipped(run, 'bad_utf8.py', /not valid utf-8/);
  assertSkipped(run, 'klingon.py', /unknown encoding 'klingon'/);
  assertGoodChecked(run);
});

test('a 20 MB file: over the default max-file-size it is skipped at once, saying so', () => {
  const line = 'y = [1, 2, 3]  # padding padding padding padding\n';
  const run = checkBeside({ 'huge.py': GOOD + line.repeat(Math.ceil(20_000_000 / line.length)) });
  assertSkipped(run, 'huge.py', /larger than max-file-size \(\d+ > 2097152 bytes\)/);
  assertGoodChecked(run);
});

test('a 20 MB file with max-file-size raised: analysed or skipped with a reason, in bounded time', () => {
  const line = 'y = [1, 2, 3]  # padding padding padding padding\n';
  const run = checkBeside({
    'pyproject.toml': '[tool.leaklens]\nmax-file-size = "40MB"\n',
    'huge.py': GOOD.replace('f(', 'big(') + line.repeat(Math.ceil(20_000_000 / line.length)),
  });
  const analysed = run.findings.some((f) => f.path.endsWith('huge.py') && f.code === 'LL201');
  if (analysed) return assertGoodChecked(run);
  // Not analysed in time: named, and the run is not reported as complete (exit 2).
  assert.match(run.stderr, /^leaklens: (timed out on|cannot check) \S*huge\.py: /m, run.stderr);
  assert.equal(run.status, 2, run.stderr);
  assert.ok(run.findings.some((f) => f.path.endsWith('good.py') && f.code === 'LL201'), run.stderr);
  assert.ok(run.findings.some((f) => f.path.endsWith('huge.py') && f.code === 'LL000'), 'the JSON carries the file that was not checked');
});

// The depth guard measures the syntax tree: 10 000-deep brackets and operator chains (CPython
// refuses both) are skipped with the reason; code Python accepts is analysed, and brackets inside
// strings and comments ("\x1b[" colour codes) are text, not nesting.
test('10 000-deep nesting is skipped with the reason; deep but legal code and brackets in strings are analysed', () => {
  const run = checkBeside({
    'parens.py': 'x = ' + '('.repeat(10000) + ')'.repeat(10000) + '\n',
    'calls.py': 'x = ' + 'f('.repeat(10000) + ')'.repeat(10000) + '\n',
    'dicts.py': 'x = ' + '{1: '.repeat(10000) + '1' + '}'.repeat(10000) + '\n',
    'unclosed.py': 'x = ' + '['.repeat(10000) + '\n',
    'ops.py': 'def g(y={}):\n    return y\nx = ' + 'not '.repeat(10000) + '1\nz = ' + '1 + '.repeat(10000) + '1\n',
    'chain.py': 'def g(y={}):\n    return y\nx = p' + '()'.repeat(70000) + '\n',
    'legal.py': 'def g(y={}):\n    return y\nx = ' + 'not '.repeat(2000) + '1\nz = p' + '()'.repeat(2000) + '\n',
    // 99 levels of indentation compile; at 100 Python stops ("too many levels of indentation").
    'blocks.py': 'def g(y={}):\n    return y\n' + Array.from({ length: 99 }, (_, i) => ' '.repeat(i) + 'if x:\n').join('') + ' '.repeat(99) + 'pass\n',
    'indent100.py': 'def g(y={}):\n    return y\n' + Array.from({ length: 100 }, (_, i) => ' '.repeat(i) + 'if x:\n').join('') + ' '.repeat(100) + 'pass\n',
    'colours.py': 'RED = "\\x1b[31m"\n' + 'S = "' + '\\x1b['.repeat(300) + '"  # ' + '['.repeat(300) + '\n' + "B = b'" + '(['.repeat(300) + "'\ndef g(y={}):\n    return y\n",
  });
  for (const name of ['parens.py', 'calls.py', 'dicts.py', 'ops.py', 'chain.py']) assertSkipped(run, name, /nests deeper than 4000 syntax-tree levels/);
  assertSkipped(run, 'indent100.py', /blocks are indented 100 levels deep or more \(Python refuses such code/);
  for (const name of ['legal.py', 'blocks.py']) {
    assert.deepEqual(run.findings.filter((f) => f.path.endsWith(name)).map((f) => [f.code, f.start.line]), [['LL201', 1]], `${name} analysed`);
  }
  // Never closed: tree-sitter's error recovery leaves a flat tree, which is analysed (and is clean).
  assert.deepEqual(run.findings.filter((f) => f.path.endsWith('unclosed.py')), []);
  assert.deepEqual(run.findings.filter((f) => f.path.endsWith('colours.py')).map((f) => [f.code, f.start.line]), [['LL201', 4]], 'colours.py analysed');
  assertGoodChecked(run);
});

// Error recovery can make a badly broken file one flat ERROR node with a child per token: 100 000
// lines of `with open(` (1.1 MB) once took minutes, because finding each `open` from the root,
// and asking for its parent, scanned that node's children every time. In-process (`--jobs 1`),
// where no per-file time limit applies, it must finish like any file of its size.
test('a file error recovery leaves one flat ERROR node of is checked, not hung on', () => {
  const run = checkBeside({ 'flat.py': 'with open(\n'.repeat(100_000) }, ['--jobs', '1', '--no-cache']);
  assert.equal(run.status, 1, run.stderr.slice(-2000));
  assert.match(run.stderr, /flat\.py:\d+:\d+: syntax error: checked only as far as the parser could recover/);
  assert.doesNotMatch(run.stderr, /could not be checked|timed out|failed on/, run.stderr.slice(-2000));
  assert.deepEqual(run.findings.filter((f) => f.path.endsWith('flat.py')), []);
  assertGoodChecked(run);
});

test('lone CR line ends: findings at the right lines, a comment does not swallow the rest', () => {
  const run = checkBeside({ 'lonecr.py': 'def g(y={}):  # note\r    return y\r\rdef h(z=[]):\r    return z\r' });
  assert.deepEqual(
    run.findings.filter((f) => f.path.endsWith('lonecr.py')).map((f) => [f.code, f.start.line, f.start.column]),
    [['LL201', 1, 9], ['LL201', 4, 9]],
  );
  assertGoodChecked(run);
});

// Tree-sitter ends a comment at '\n', so in a CRLF file a comment token includes the '\r', and a
// finding whose node ends with a comment ends between '\r' and '\n'. The CLI used to report one
// column past the line's end there; LSP's positionAt (the server) gives the line's end.
test('CRLF: a finding that ends with a comment ends at the end of the line, in the CLI as in the server', async () => {
  const line = '    @functools.lru_cache(maxsize=None)  # note';
  const text = ['import functools', '', '', 'class C:', line, '    def m(self, k):', '        return k', ''].join('\r\n');
  const run = check(['--stdin-filename', 'crlf.py', '--select', 'LL302'], text);
  assert.equal(run.status, 1, run.stderr);
  const f = run.findings as Array<Finding & { end: { line: number; column: number } }>;
  assert.deepEqual(f.map((x) => [x.code, x.start, x.end]), [['LL302', { line: 5, column: 5 }, { line: 5, column: line.length + 1 }]]);
  const client = LspClient.spawn();
  try {
    await client.initialize();
    const uri = freshUri('crlf-comment');
    await client.open(uri, text, 1);
    const p = await client.diagnosticsFor(uri, 1, 30_000);
    const d = p.diagnostics.find((x) => x.code === 'LL302');
    assert.deepEqual(d?.range, { start: { line: 4, character: 4 }, end: { line: 4, character: line.length } });
  } finally {
    client.kill();
  }
});

test('a directory named x.py is a folder to walk, given inside a folder or by name', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.py'), GOOD);
  mkdirSync(join(dir, 'pkg.py'));
  writeFileSync(join(dir, 'pkg.py', 'inner.py'), 'def g(y={}):\n    return y\n');
  for (const target of [dir, join(dir, 'pkg.py')]) {
    const run = check([target]);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.findings.some((f) => f.path.endsWith('inner.py') && f.code === 'LL201'), `inner.py checked (${target})`);
    assert.doesNotMatch(run.stderr, /pkg\.py:/, 'no complaint about the folder');
  }
});

test('a FIFO named x.py: never read (reading it would block), skipped with a message when named', (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.py'), GOOD);
  const fifo = join(dir, 'pipe.py');
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) return t.skip(`mkfifo is not available: ${made.error ?? made.stderr}`);
  // Inside a folder: discovery only takes regular files.
  let run = check([dir]);
  assertGoodChecked(run);
  assert.ok(!run.findings.some((f) => f.path.endsWith('pipe.py')));
  // Named on the command line.
  run = check([fifo, join(dir, 'good.py')]);
  assertSkipped(run, 'pipe.py', /not a regular file/);
  assertGoodChecked(run);
});

test('an unreadable file (chmod 000) is skipped with the system error; the rest is checked', (t) => {
  const dir = tempDir();
  const locked = join(dir, 'locked.py');
  writeFileSync(locked, 'def g(y={}):\n    return y\n');
  chmodSync(locked, 0o000);
  try {
    try {
      readFileSync(locked);
      return t.skip('this process can still read a chmod 000 file (running as root), so the case cannot be made here');
    } catch {
      // unreadable, as intended
    }
    writeFileSync(join(dir, 'good.py'), GOOD);
    const run = check([dir]);
    assertSkipped(run, 'locked.py', /EACCES|permission denied/i);
    assertGoodChecked(run);
  } finally {
    chmodSync(locked, 0o644);
  }
});

// Incomplete code gets MISSING nodes from tree-sitter: zero-width identifiers whose text is ''.
// A rule that searched the text for such a name used to loop forever (indexOf('', i) never
// returns -1), growing an array until V8 aborted the process.
test('incomplete code with parser-inserted (MISSING) names neither hangs nor crashes any rule', () => {
  const fragments = ['=[]\nexcept', '= {}\n', 'def (x=[]):\n    pass\n', 'class :\n    items = []\n', 'import\n', 'from . import\n', 'global\n', '= lambda: 0\n', 'for in []:\n    pass\n', 'with as f:\n    pass\n', 'x.= []\n', '@\ndef f(): pass\n', 'del\n', '[] =\n'];
  const files: Record<string, string> = {};
  fragments.forEach((f, i) => (files[`missing_${i}.py`] = f));
  files['together.py'] = fragments.join('\n');
  const run = checkBeside(files);
  assertGoodChecked(run);
  assert.doesNotMatch(run.stderr, /rule failed|failed on/, run.stderr);
});

test('standard input that is binary or not UTF-8: exit 2 and a message naming the input', () => {
  for (const input of [Buffer.from([0x64, 0x00, 0x01]), Buffer.from([0x78, 0x3d, 0xff, 0x0a])]) {
    const run = check(['--stdin-filename', 'piped.py'], input);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /standard input \(piped\.py\)/);
  }
});

test('everything at once, with one thread and with worker threads when the CLI has --jobs', () => {
  const dir = tempDir();
  const line = 'y = [1, 2, 3]  # padding\n';
  const files: Record<string, string | Buffer> = {
    'good.py': GOOD,
    'binary.py': Buffer.from([0x00, 0x01, 0x02, 0xff]),
    'bad_utf8.py': Buffer.from([0x78, 0x3d, 0xff, 0x0a]),
    'huge.py': line.repeat(Math.ceil(3_000_000 / line.length)),
    'deep.py': 'x = ' + '('.repeat(10000) + ')'.repeat(10000) + '\n',
    'lonecr.py': 'def g(y={}):\r    return y\r',
    'missing.py': '=[]\nexcept',
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const help = spawnSync(process.execPath, [CLI, 'check', '--help'], { encoding: 'utf8', timeout: 30_000 });
  const variants = /--jobs\b/.test(help.stdout) ? [['--jobs', '1'], ['--jobs', '2']] : [[]];
  for (const args of variants) {
    const run = check([...args, dir]);
    assertGoodChecked(run);
    assertSkipped(run, 'binary.py', /binary/);
    assertSkipped(run, 'bad_utf8.py', /utf-8/);
    assertSkipped(run, 'huge.py', /max-file-size/);
    assertSkipped(run, 'deep.py', /nests deeper/);
    assert.ok(run.findings.some((f) => f.path.endsWith('lonecr.py')), `lonecr.py checked (${args.join(' ')})`);
  }
});

// The same files in a workspace folder: the scan ends, logs each skip with its reason, publishes
// the good files, and file-watcher events for a FIFO or a folder named x.py do not block it.
test('workspace scan over bad files: the scan ends, skips are logged, the server keeps answering', async (t) => {
  const dir = tempDir();
  const line = 'y = [1, 2, 3]  # padding padding padding padding\n';
  const files: Record<string, string | Buffer> = {
    'good.py': GOOD,
    'binary.py': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
    'bad_utf8.py': Buffer.from([0x78, 0x3d, 0x22, 0xff, 0x22, 0x0a]),
    'huge.py': line.repeat(Math.ceil(20_000_000 / line.length)),
    'deep.py': 'x = ' + '['.repeat(10000) + ']'.repeat(10000) + '\n',
    'lonecr.py': 'def g(y={}):  # c\r    return y\r',
    'missing.py': '=[]\nexcept',
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  // good.py's and lonecr.py's defaults are only read (LL201 of low confidence): the folder asks for all findings.
  writeFileSync(join(dir, 'pyproject.toml'), '[tool.leaklens]\nall-findings = true\n');
  mkdirSync(join(dir, 'folder.py'));
  const fifo = join(dir, 'pipe.py');
  const hasFifo = spawnSync('mkfifo', [fifo]).status === 0;
  const client = LspClient.spawn();
  try {
    await client.initialize({ folders: [dir] });
    const deadline = Date.now() + 60_000;
    while (!client.progress.some((p) => p.kind === 'end')) {
      if (Date.now() > deadline || !client.alive) assert.fail(`the scan did not end\n${client.describe()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const uri = (name: string) => pathToFileURL(join(dir, name)).toString();
    const good = await client.waitForDiagnostics(uri('good.py'), (p) => p.diagnostics.length > 0, 30_000);
    assert.deepEqual(codes(good.diagnostics), ['LL201']);
    const lonecr = await client.waitForDiagnostics(uri('lonecr.py'), (p) => p.diagnostics.length > 0, 30_000);
    assert.deepEqual(lonecr.diagnostics.map((d) => d.range.start), [{ line: 0, character: 8 }]);
    const logged = (name: string, reason: RegExp) =>
      assert.ok(client.logs.some((l) => l.includes(join(dir, name)) && reason.test(l)), `the log names ${name} with ${reason}\n${client.describe()}`);
    logged('binary.py', /binary/);
    logged('bad_utf8.py', /utf-8/);
    logged('huge.py', /max-file-size/);
    logged('deep.py', /nest/);
    for (const name of ['binary.py', 'bad_utf8.py', 'huge.py', 'deep.py', 'missing.py']) {
      assert.ok((client.published.get(uri(name)) ?? []).every((p) => p.diagnostics.length === 0), `nothing reported for ${name}`);
    }
    // Watcher events for things that are not regular files.
    const events = [{ uri: uri('folder.py'), type: 1 }, { uri: uri('folder.py'), type: 2 }];
    if (hasFifo) events.push({ uri: uri('pipe.py'), type: 1 }, { uri: uri('pipe.py'), type: 2 });
    else t.diagnostic('mkfifo unavailable: the FIFO case was not run');
    await client.notify('workspace/didChangeWatchedFiles', { changes: events });
    // Changed files after the events are still analysed: the event queue is not blocked.
    writeFileSync(join(dir, 'good.py'), GOOD + '\n\ndef h(z=set()):\n    return z\n');
    await client.notify('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('good.py'), type: 2 }] });
    await client.waitForDiagnostics(uri('good.py'), (p) => p.diagnostics.length === 2, 30_000);
    const probe = uri('probe.py');
    await client.open(probe, GOOD, 1);
    assert.deepEqual(codes((await client.diagnosticsFor(probe, 1, 30_000)).diagnostics), ['LL201']);
    assert.ok(client.alive, client.describe());
    assert.deepEqual(client.logs.filter((l) => l.startsWith('[error]')), [], 'no internal errors');
    assert.equal(await client.shutdown(10_000), 0);
  } finally {
    client.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
