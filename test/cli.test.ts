// The CLI as a process: output formats, exit codes, fixes, and bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, runCli } from './helpers/cli';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'leaklens-cli-'));
}

test('check on the bundled examples prints findings with positions and exits 1', () => {
  const result = runCli(['check', 'examples']);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /^examples\/reports\.py:8:9: LL101 \[\*\] `open\(…\)` result bound to `f` is never released/m);
  assert.match(result.stdout, /^examples\/reports\.py:19:26: LL201 Mutable default `\[\]` of `seen`/m);
  assert.match(result.stdout, /^Checked 1 file: \d+ findings/m);
});

test('a clean tree exits 0; --exit-zero exits 0 with findings', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'clean.py'), 'def f(x=None):\n    return x\n');
  const clean = runCli(['check', dir]);
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /no findings/);
  writeFileSync(join(dir, 'leaky.py'), 'def f(x=[]):\n    x.append(1)\n    return x\n');
  assert.equal(runCli(['check', dir]).status, 1);
  assert.equal(runCli(['check', '--exit-zero', dir]).status, 0);
});

test('usage errors exit 2: missing path, unknown option, bad format, unknown code', () => {
  assert.equal(runCli(['check', 'no/such/dir']).status, 2);
  assert.equal(runCli(['check', '--no-such-option']).status, 2);
  assert.equal(runCli(['check', '--format', 'xml', 'examples']).status, 2);
  const unknown = runCli(['check', '--select', 'LL9', 'examples']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown rule code or prefix 'LL9'/);
  assert.equal(runCli(['frobnicate']).status, 2);
});

test('usage errors exit 2: --stdin-filename with paths or without a name, --diff with a machine format', () => {
  const withPaths = runCli(['check', '--stdin-filename', 'x.py', 'examples'], { input: 'x = 1\n' });
  assert.equal(withPaths.status, 2);
  assert.match(withPaths.stderr, /--stdin-filename reads standard input; give no paths with it/);
  assert.equal(runCli(['check', '--stdin-filename', '', '--format', 'json'], { input: 'x = 1\n' }).status, 2);
  assert.equal(runCli(['check', '--stdin-filename'], { input: 'x = 1\n' }).status, 2);
  for (const format of ['json', 'sarif', 'github']) {
    const diff = runCli(['check', '--diff', '--format', format, 'examples']);
    assert.equal(diff.status, 2, format);
    assert.match(diff.stderr, new RegExp(`--diff prints a unified diff; it cannot be combined with --format ${format}`));
    assert.equal(diff.stdout, '');
  }
  const format = runCli(['check', '--format', 'SARIF', 'examples']);
  assert.equal(format.status, 2);
  assert.match(format.stderr, /Allowed choices are text, json, sarif, github/);
});

test('check --help lists every option of the contract and the exit codes', () => {
  const help = runCli(['check', '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const option of ['--format <format>', '--select <codes>', '--ignore <codes>', '--fix', '--unsafe-fixes', '--diff', '--exit-zero', '--stdin-filename <name>', '--config <file>', '--quiet', '--statistics', '--verbose']) {
    assert.ok(help.stdout.includes(`  ${option} `), `--help lists ${option}`);
  }
  const flat = help.stdout.replace(/\s+/g, ' ');
  assert.match(flat, /choices: "text", "json", "sarif", "github"/);
  assert.match(flat, /Exit status: 0 no findings, 1 findings \(with --diff: something to fix\), 2 usage or configuration error\./);
});

test('a reader that stops early (| head) is no error', () => {
  // Far more output than a pipe buffers, so the writer does meet the closed pipe.
  const dir = tempDir();
  writeFileSync(join(dir, 'many.py'), Array.from({ length: 400 }, (_, i) => `def f${i}(x=[]):\n    x.append(1)\n`).join('\n'));
  const result = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" check --select ALL --format sarif many.py | head -c 20`], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.stdout, '{\n  "$schema": "https://json.schemastore.org'.slice(0, 20));
  assert.equal(result.stderr, '');
  assert.equal(result.status, 1);
});

test('--format json follows the contract: 1-based lines, UTF-16 columns, fixes with edits', () => {
  const dir = tempDir();
  // The non-BMP character before the default counts as two UTF-16 units.
  writeFileSync(join(dir, 'wide.py'), 'def f(a="𝒳", b=[]):\n    return 1 if b else 0\n');
  // A default only tested for truth: low confidence (reported with --all-findings, one severity lower), safe fix.
  const result = runCli(['check', '--all-findings', '--format', 'json', join(dir, 'wide.py')]);
  assert.equal(result.status, 1, result.stderr);
  const findings = JSON.parse(result.stdout);
  assert.equal(findings.length, 1);
  const [f] = findings;
  assert.deepEqual(Object.keys(f).sort(), ['code', 'confidence', 'end', 'fixes', 'message', 'name', 'path', 'related', 'severity', 'start'].sort());
  assert.equal(f.code, 'LL201');
  assert.equal(f.name, 'mutable-default-argument');
  assert.equal(f.severity, 'info');
  assert.deepEqual(f.start, { line: 1, column: 17 });
  assert.deepEqual(f.end, { line: 1, column: 19 });
  assert.equal(f.fixes[0].safety, 'safe');
  assert.deepEqual(f.fixes[0].edits[0], { start: { line: 1, column: 17 }, end: { line: 1, column: 19 }, text: 'None' });
});

test('--select and --ignore choose rules by code or prefix', () => {
  const only201 = JSON.parse(runCli(['check', '--format', 'json', '--select', 'LL2', 'examples']).stdout);
  assert.ok(only201.length > 0 && only201.every((f: { code: string }) => f.code === 'LL201'));
  const no201 = JSON.parse(runCli(['check', '--format', 'json', '--ignore', 'LL201', 'examples']).stdout);
  assert.ok(no201.length > 0 && no201.every((f: { code: string }) => f.code !== 'LL201'));
});

test('--fix applies safe fixes in place; --unsafe-fixes applies the rest', () => {
  const dir = tempDir();
  cpSync(join(ROOT, 'examples'), dir, { recursive: true });
  const before = JSON.parse(runCli(['check', '--format', 'json', dir]).stdout) as Array<{ fixes: Array<{ safety: string }> }>;
  const safe = before.filter((f) => f.fixes.some((x) => x.safety === 'safe')).length;
  assert.ok(safe > 0);
  const fixed = runCli(['check', '--fix', dir]);
  assert.match(fixed.stdout, new RegExp(`${safe} fixed`));
  const after = JSON.parse(runCli(['check', '--format', 'json', dir]).stdout) as Array<{ fixes: Array<{ safety: string }> }>;
  assert.equal(after.length, before.length - safe);
  assert.ok(after.every((f) => !f.fixes.some((x) => x.safety === 'safe')));
  runCli(['check', '--unsafe-fixes', dir]);
  const rest = JSON.parse(runCli(['check', '--format', 'json', dir]).stdout) as Array<{ fixes: unknown[] }>;
  assert.ok(rest.every((f) => f.fixes.length === 0));
  const text = readFileSync(join(dir, 'reports.py'), 'utf8');
  assert.match(text, /with open\(path\) as f:/);
  assert.match(text, /def remember\(event, seen=None\):\n    if seen is None:\n        seen = \[\]/);
});

test('bad files are skipped with a message and the rest is checked', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'binary.py'), Buffer.from([0x64, 0x65, 0x66, 0x00, 0x01, 0x02]));
  writeFileSync(join(dir, 'invalid_utf8.py'), Buffer.from([0x78, 0x20, 0x3d, 0x20, 0x22, 0xff, 0xfe, 0x22, 0x0a]));
  writeFileSync(join(dir, 'latin1.py'), Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\ndef f(n="'), Buffer.from([0xe9]), Buffer.from('", x=[]):\n    x.append(n)\n')]));
  writeFileSync(join(dir, 'syntax_error.py'), 'def f(x=[]):\n    x.append(1)\n    return (x\n');
  writeFileSync(join(dir, 'deep.py'), 'x = ' + '('.repeat(10000) + ')'.repeat(10000) + '\n');
  const result = runCli(['check', '--format', 'json', dir]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /skipped .*binary\.py: binary file/);
  assert.match(result.stderr, /skipped .*invalid_utf8\.py: not valid utf-8/);
  const findings = JSON.parse(result.stdout) as Array<{ path: string; code: string; start: { column: number } }>;
  const latin = findings.find((f) => f.path.endsWith('latin1.py'));
  assert.ok(latin, 'the latin-1 file was not decoded');
  assert.equal(latin.start.column, 16);
  assert.ok(findings.some((f) => f.path.endsWith('syntax_error.py') && f.code === 'LL201'), 'findings in a file with a syntax error');
});

test('--fix writes a file back in the encoding it was read in', () => {
  const dir = tempDir();
  const path = join(dir, 'latin1.py');
  writeFileSync(path, Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\ndef f(n="'), Buffer.from([0xe9]), Buffer.from('", x=[]):\n    print(n, x or "-")\n')]));
  // Only read: low confidence, so --all-findings; the fix is safe.
  const result = runCli(['check', '--all-findings', '--fix', path]);
  assert.match(result.stdout, /1 fixed/, result.stderr);
  const bytes = readFileSync(path);
  assert.ok(bytes.includes(Buffer.from([0x22, 0xe9, 0x22])), 'the Latin-1 byte was re-encoded');
  assert.match(bytes.toString('latin1'), /x=None\):\n    if x is None:\n        x = \[\]/);
});
