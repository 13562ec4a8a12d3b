// The rules' text pre-filter (issue 17, speed): `leaklens check` and the server's scan of files
// that are not open do not parse a file in which no selected rule can report anything — for the
// resource rules (LL101–LL104), a file with no call of a factory name, of an import alias of one or
// of a `resource-factories` name. Observed without timings through the test-only trap hook
// (parsing/document.ts: parsing a text holding the marker traps), which a file that is not parsed
// never reaches, and through the count `--verbose` prints. The CLI and the server run as processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { CLI } from './helpers/cli';
import { codes, LspClient } from './helpers/lsp-client';

const TRAP = 'leaklens-test-trap-here';
const LEAK = 'def g(p):\n    h = open(p)\n    return h.read()\n';
/**
 * No call of any factory name: `open` only in a comment and a string, and as an attribute that is
 * not called. (A name followed by `(` even in a string or a comment would make the text pass the
 * pre-filter, which is a superset test.)
 */
const QUIET = `# ${TRAP}: we open nothing here\nimport os\n\n\ndef f(p):\n    print("open", os.path.join(p, "x"))\n    return p.open\n`;

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-prefilter-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** The CLI with the rules it is given (none: the default set, LL101 alone), the trap hook armed. */
function check(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'check', '--no-cache', '--format', 'json', ...args, '.'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, LEAKLENS_TEST_WASM_TRAP: TRAP },
  });
  assert.equal(r.error, undefined, `the CLI did not finish: ${r.error}`);
  const findings = r.stdout ? (JSON.parse(r.stdout) as Array<{ path: string; code: string; cell?: number; start: { line: number } }>) : [];
  return { ...r, findings, found: findings.map((f) => `${f.path}:${f.cell !== undefined ? `cell ${f.cell}:` : ''}${f.start.line}:${f.code}`).sort() };
}

const notebook = (...cells: string[]) =>
  JSON.stringify({
    cells: cells.map((source, i) => ({ cell_type: 'code', execution_count: i + 1, metadata: {}, outputs: [], source: source.split(/(?<=\n)/) })),
    metadata: { kernelspec: { language: 'python', name: 'python3', display_name: 'Python 3' } },
    nbformat: 4,
    nbformat_minor: 5,
  });

describe('the text pre-filter of the rules', () => {
  test('a file in which no selected rule can report anything is not parsed; a rule without a pre-filter still parses it', () => {
    const dir = folder({ 'a_quiet.py': QUIET, 'b_leak.py': LEAK, 'c_plain.py': 'def f(p):\n    return p\n' });
    for (const jobs of ['1', '2']) {
      const r = check(dir, ['--jobs', jobs, '--verbose']);
      assert.equal(r.status, 1, `--jobs ${jobs}\n${r.stderr}`);
      assert.deepEqual(r.found, ['b_leak.py:2:LL101'], r.stderr);
      // Had a_quiet.py been parsed, the hook would have made its parse trap (exit 2, "cannot check").
      assert.doesNotMatch(r.stderr, /trap|cannot check/i, r.stderr);
      assert.match(r.stderr, /^leaklens: 2 of 3 files not parsed: no selected rule can report anything in their text$/m, r.stderr);
    }
    // Without --verbose nothing is said about it.
    assert.doesNotMatch(check(dir, []).stderr, /not parsed/);
    // LL201 has no pre-filter: with every rule on, each file is parsed and a_quiet.py traps.
    const all = check(dir, ['--jobs', '1', '--select', 'ALL', '--verbose']);
    assert.equal(all.status, 2, all.stderr);
    assert.match(all.stderr, /^leaklens: cannot check a_quiet\.py: WebAssembly trap/m, all.stderr);
    assert.doesNotMatch(all.stderr, /not parsed/);
    // A factory call in the same text: parsed (and so trapped) again.
    const leaky = folder({ 'a_quiet.py': `${QUIET}\n\n${LEAK}` });
    const parsed = check(leaky, ['--jobs', '1']);
    assert.equal(parsed.status, 2, parsed.stderr);
    assert.match(parsed.stderr, /^leaklens: cannot check a_quiet\.py: WebAssembly trap/m, parsed.stderr);
  });

  test('an unparsed file with a syntax error gets no syntax-error warning (nothing was checked); a parsed one still does', () => {
    const dir = folder({ 'broken_quiet.py': 'def f(:\n    pass\n', 'broken_leak.py': `def f(:\n    pass\n\n\n${LEAK}` });
    const r = check(dir, []);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(r.found, ['broken_leak.py:6:LL101'], r.stderr);
    assert.match(r.stderr, /broken_leak\.py:1:7: syntax error: checked only as far as the parser could recover/);
    assert.doesNotMatch(r.stderr, /broken_quiet/);
    // With a rule that has no pre-filter, it is parsed and the warning is back.
    assert.match(check(dir, ['--select', 'LL1,LL201']).stderr, /broken_quiet\.py:1:7: syntax error/);
  });

  test('aliased imports (also in a parenthesised import over several lines), user factories and method factories are still found', () => {
    const dir = folder({
      'alias.py': 'from socket import socket as S\n\n\ndef f(addr):\n    s = S()\n    s.connect(addr)\n    return s.recv(10)\n',
      'multiline.py': 'from tempfile import (\n    mkdtemp,\n    NamedTemporaryFile as NTF,\n)\n\n\ndef f():\n    t = NTF()\n    t.write(b"x")\n    return mkdtemp()\n',
      // A name no catalogue entry ends with: only the setting makes it a factory.
      'user.py': 'from mylib import acquire_handle as grab\n\n\ndef f():\n    h = grab()\n    h.execute("x")\n    return 1\n',
      'user_dotted.py': 'import mylib\n\n\ndef f():\n    h = mylib.acquire_handle()\n    h.execute("x")\n    return 1\n',
      'local.py': 'import io as i\n\n\ndef mk(p):\n    return i.open(p)\n\n\ndef f(p):\n    h = mk(p)\n    return h.read()\n',
      'attr.py': 'import socket as so\n\n\nclass C:\n    def __init__(self, a):\n        self.s = so.create_connection(a)\n\n    def send(self, d):\n        self.s.sendall(d)\n',
      'quiet.py': QUIET,
      'pyproject.toml': '[tool.leaklens]\nresource-factories = ["mylib.acquire_handle"]\n',
    });
    const r = check(dir, ['--select', 'LL1', '--verbose']);
    assert.deepEqual(r.found, ['alias.py:5:LL101', 'attr.py:6:LL104', 'local.py:9:LL101', 'multiline.py:8:LL101', 'user.py:5:LL101', 'user_dotted.py:5:LL101'], r.stderr);
    assert.match(r.stderr, /^leaklens: 1 of 7 files not parsed: /m, r.stderr);
    // Without the setting, no rule can report anything in the user's files: not parsed either.
    rmSync(join(dir, 'pyproject.toml'));
    const plain = check(dir, ['--select', 'LL1', '--verbose']);
    assert.deepEqual(plain.found, ['alias.py:5:LL101', 'attr.py:6:LL104', 'local.py:9:LL101', 'multiline.py:8:LL101'], plain.stderr);
    assert.match(plain.stderr, /^leaklens: 3 of 7 files not parsed: /m, plain.stderr);
  });

  test('a text whose every factory call is the whole context of a `with` item, or whose factory names are only defined, is not parsed; any other use of the call is', () => {
    // Closed by the with statement whatever happens in its body: nothing for LL101–LL104 to say.
    const managed = [
      `# ${TRAP}`,
      'import os',
      'import tempfile',
      '',
      '',
      'def f(p, q, fd):',
      '    with open(p) as a, open(q, ")"):',
      '        pass',
      '    with tempfile.TemporaryDirectory()as d :',
      '        pass',
      '    async_ok = 1',
      '    with os.fdopen(',
      '        fd,  # ) a bracket in a comment',
      '        "rb",',
      '    ) as b, \\',
      '            open(d):',
      '        return a, b, async_ok',
      '',
      '',
      'async def g(p):',
      '    async with open(p) as h:',
      '        return h',
      '',
      '',
      '# A definition is no call: its brackets hold parameters or bases.',
      'class Popen(object):',
      '    def open(self, mode):',
      '        return mode',
      '',
    ].join('\n');
    // The call is not the with item's whole context, or its target is not a plain name, or the
    // call is outside any with: parsed (the hook makes each of these traps).
    const parsed: Record<string, string> = {
      'read.py': 'def f(p):\n    with open(p).read() as x:\n        return x\n',
      'attr.py': 'class C:\n    def start(self, p):\n        with open(p) as self.f:\n            pass\n',
      'cond.py': 'import contextlib\n\n\ndef f(p, c):\n    with open(p) if c else contextlib.nullcontext() as f:\n        return f\n',
      'walrus.py': 'def f(p):\n    with (g := open(p)):\n        pass\n    return g\n',
      'paren.py': 'def f(p, q):\n    with (open(p) as a, open(q) as b):\n        return a, b\n',
      'second.py': 'def f(p, q):\n    with open(p) as a:\n        b = open(q)\n        return a.read() + b.read()\n',
      'nested.py': 'import contextlib\n\n\ndef f(p):\n    with contextlib.closing(open(p)) as a:\n        return a.read()\n',
      'call_receiver.py': 'def f(make):\n    with make().open() as a:\n        return a.read()\n',
      'unfinished_string.py': 'def f(p):\n    with open(p, "r\n") as a:\n        return a\n',
      'with_word.py': 'def f(p):\n    forwith open(p) as a:\n        return a\n',
      'comment_with.py': 'def f(p):\n    x = 1  # with\n    open(p).read()\n',
      'defined_and_called.py': 'def connect(a):\n    return a\n\n\nconn = connect(1)\n',
      'undefined_word.py': 'undef open(p):\n    return p\n',
    };
    const dir = folder({ 'managed.py': managed, ...Object.fromEntries(Object.entries(parsed).map(([name, text]) => [name, `# ${TRAP}\n${text}`])) });
    const r = check(dir, ['--jobs', '1', '--select', 'LL1', '--verbose']);
    assert.doesNotMatch(r.stderr, /cannot check managed\.py/, r.stderr);
    for (const name of Object.keys(parsed)) assert.match(r.stderr, new RegExp(`^leaklens: cannot check ${name.replace('.', '\\.')}: WebAssembly trap`, 'm'), `${name}\n${r.stderr}`);
    assert.match(r.stderr, /^leaklens: 1 of 14 files not parsed: /m, r.stderr);
    // Without the hook, the resource rules find what they find when
    // every file is parsed (LL201 has no pre-filter).
    const plain = folder({ 'managed.py': managed, ...parsed });
    const some = spawnSync(process.execPath, [CLI, 'check', '--no-cache', '--format', 'json', '--select', 'LL1', '.'], { cwd: plain, encoding: 'utf8' });
    const every = spawnSync(process.execPath, [CLI, 'check', '--no-cache', '--format', 'json', '--select', 'LL1,LL201', '.'], { cwd: plain, encoding: 'utf8' });
    const lines = (out: string) => (JSON.parse(out) as Array<{ path: string; code: string; start: { line: number } }>).filter((f) => f.code.startsWith('LL1')).map((f) => `${f.path}:${f.start.line}:${f.code}`).sort();
    assert.deepEqual(lines(some.stdout), lines(every.stdout));
    assert.deepEqual(lines(some.stdout), ['comment_with.py:3:LL103', 'read.py:2:LL103', 'second.py:3:LL101'], some.stderr);
  });

  test('notebooks: findings in cells as before; a notebook with no factory call is not parsed', () => {
    const dir = folder({
      'leaky.ipynb': notebook('import os\n', '%matplotlib inline\nlog = open("x.log", "w")\nlog.write("a")\n'),
      'quiet.ipynb': notebook(`# ${TRAP}\n`, '!ls\nx = 1\n'),
    });
    const r = check(dir, ['--verbose']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(r.found, ['leaky.ipynb:cell 2:2:LL101'], r.stderr);
    assert.doesNotMatch(r.stderr, /trap|cannot check/i, r.stderr);
    assert.match(r.stderr, /^leaklens: 1 of 2 files not parsed: /m, r.stderr);
  });
});

describe('the server: the scan pre-filters files that are not open, open documents are parsed', () => {
  test('a scanned file with no factory call is not parsed; opened in the editor, it is', async () => {
    const dir = folder({ 'a_trap.py': QUIET, 'c.py': LEAK });
    const c = LspClient.spawn({ env: { LEAKLENS_TEST_WASM_TRAP: TRAP } });
    try {
      // settings null: the defaults (LL101 alone).
      await c.initialize({ folders: [dir], settings: null });
      await c.waitForLog(/scanned 2 files/, 60_000);
      assert.deepEqual(codes((await c.waitForDiagnostics(pathToFileURL(join(dir, 'c.py')).toString())).diagnostics), ['LL101']);
      assert.ok(!c.logs.some((l) => /trap/i.test(l)), c.describe());
      // An open document keeps its tree (the keystroke analysis needs it): parsed, so it traps.
      await c.open(pathToFileURL(join(dir, 'a_trap.py')).toString(), QUIET);
      await c.waitForLog(/the WebAssembly runtime was recreated after a trap/, 60_000);
      if (c.alive) await c.shutdown();
    } finally {
      c.kill();
    }
  });
});
