// Configuration from pyproject.toml, as the CLI applies it (a real process on real files).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPyproject } from '../server/src/workspace/config';
import { runCli } from './helpers/cli';

const LEAKY = 'def f(k, x=[]):\n    x.append(k)\n    return len(x)\n\n\ndef g(p):\n    h = open(p)\n    return h.read()\n';

function project(pyproject: string | undefined, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-config-'));
  if (pyproject !== undefined) writeFileSync(join(dir, 'pyproject.toml'), pyproject);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** The findings of `check DIR` as `file:code:severity`, with the configuration's own rule choice (or the default set). */
function codes(dir: string, args: string[] = []): string[] {
  const result = runCli(['check', '--format', 'json', ...args, dir], { defaults: true });
  assert.ok(result.status === 0 || result.status === 1, `exit ${result.status}: ${result.stderr}`);
  return (JSON.parse(result.stdout) as Array<{ path: string; code: string; severity: string }>).map((f) => `${f.path.split('/').pop()}:${f.code}:${f.severity}`).sort();
}

test('select, ignore and severity from [tool.leaklens] apply', () => {
  const dir = project('[tool.leaklens]\nselect = ["LL2"]\nseverity = { LL201 = "error" }\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(dir), ['a.py:LL201:error']);
  const ignoring = project('[tool.leaklens]\nignore = ["LL201"]\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(ignoring), ['a.py:LL101:warning']);
});

test('command-line --select overrides the file', () => {
  const dir = project('[tool.leaklens]\nselect = ["LL2"]\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(dir, ['--select', 'LL1']), ['a.py:LL101:warning']);
});

test('exclude globs, .gitignore and skipped folders leave files out', () => {
  const dir = project('[tool.leaklens]\nexclude = ["generated", "legacy/*.py"]\n', {
    'keep.py': LEAKY,
    'generated/gen.py': LEAKY,
    'pkg/generated/deep.py': LEAKY,
    'legacy/old.py': LEAKY,
    'ignored_by_git.py': LEAKY,
    'tmp/x.py': LEAKY,
    '.gitignore': 'ignored_by_git.py\ntmp/\n',
    'node_modules/m.py': LEAKY,
    'myenv/pyvenv.cfg': 'home = /usr\n',
    'myenv/lib/v.py': LEAKY,
  });
  const files = new Set(codes(dir).map((c) => c.split(':')[0]));
  assert.deepEqual([...files], ['keep.py']);
  const verbose = runCli(['check', '--verbose', dir]);
  assert.match(verbose.stderr, /skipped .*generated: matches exclude/);
  assert.match(verbose.stderr, /skipped .*ignored_by_git\.py: ignored by \.gitignore/);
  assert.match(verbose.stderr, /skipped .*myenv: virtual environment/);
});

test('target-version changes how LL201 rewrites annotations', () => {
  const src = 'def f(x: list = []):\n    print(x)\n';
  const old = project('[tool.leaklens]\ntarget-version = "3.9"\n', { 'a.py': src });
  const modern = project('[tool.leaklens]\ntarget-version = "3.12"\n', { 'a.py': src });
  // The default is only read (low confidence: reported with --all-findings).
  const edits = (dir: string) => JSON.parse(runCli(['check', '--all-findings', '--format', 'json', dir]).stdout)[0].fixes[0].edits.map((e: { text: string }) => e.text);
  assert.ok(edits(old).some((t: string) => t.includes('Optional[list]')));
  assert.ok(edits(modern).includes(' | None'));
});

test('a broken pyproject.toml is a configuration error naming file and line (exit 2)', () => {
  const dir = project('[project]\nname = "x"\n\n[tool.leaklens]\nselect = ["LL1"\n', { 'a.py': LEAKY });
  const result = runCli(['check', dir]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /pyproject\.toml:\d+: invalid TOML/);
  const wrong = project('[tool.leaklens]\nselect = "LL1"\nlarge-object-threshold = -3\ncolour = "red"\n', { 'a.py': LEAKY });
  const bad = runCli(['check', wrong]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /pyproject\.toml:3: large-object-threshold: expected a positive whole number/);
  assert.match(bad.stderr, /pyproject\.toml:4: colour: unknown option/);
});

test('--config names the file to use; the nearest pyproject.toml is found from a subfolder', () => {
  const dir = project('[tool.leaklens]\nselect = ["LL2"]\n', { 'sub/deeper/a.py': LEAKY });
  assert.deepEqual(codes(join(dir, 'sub', 'deeper')), ['a.py:LL201:warning']);
  const other = project('[tool.leaklens]\nselect = ["LL1"]\n', {});
  assert.deepEqual(codes(dir, ['--config', join(other, 'pyproject.toml')]), ['a.py:LL101:warning']);
  assert.equal(runCli(['check', '--config', join(dir, 'missing.toml'), dir]).status, 2);
});

test('loadPyproject keeps the defaults for what is wrong and reports every problem', () => {
  const dir = project('[tool.leaklens]\ntarget-version = "2.7"\nmax-file-size = "1MB"\nseverity = { LL101 = "loud" }\n', {});
  const loaded = loadPyproject(join(dir, 'pyproject.toml'));
  assert.equal(loaded.settings.maxFileSize, 1024 * 1024);
  assert.deepEqual(loaded.settings.options.targetVersion, { major: 3, minor: 9 });
  assert.deepEqual(loaded.problems.map((p) => [p.line, p.message.split(':')[0]]), [
    [4, 'severity'],
    [2, 'target-version'],
  ]);
});

test('the default set is LL101 alone: no select runs only LL101; --select ALL and extend-select bring the others', () => {
  const growing = 'def remember(event, seen=[]):\n    seen.append(event)\n    return len(seen)\n';
  const dir = project('[project]\nname = "x"\n', { 'a.py': LEAKY, 'b.py': growing });
  assert.deepEqual(codes(dir), ['a.py:LL101:warning']);
  assert.deepEqual(codes(dir, ['--select', 'ALL']), ['a.py:LL101:warning', 'a.py:LL201:warning', 'b.py:LL201:warning']);
  assert.deepEqual(codes(dir, ['--extend-select', 'LL201']), ['a.py:LL101:warning', 'a.py:LL201:warning', 'b.py:LL201:warning']);
  const rules = runCli(['rules']).stdout.split('\n').filter(Boolean).map((line) => line.split(/\s+/).slice(0, 4).join(' '));
  assert.deepEqual(rules.filter((r) => r.endsWith(' default')).map((r) => r.split(' ')[0]), ['LL101']);
  assert.equal(rules.filter((r) => r.endsWith(' opt-in')).length, 13);
  assert.match(runCli(['rule', 'LL201']).stdout, /off by default \(enable with select = \["LL201"\] or extend-select\)/);
});

test('select = ["ALL"], extend-select and --extend-select add rules; ignore still wins', () => {
  const all = project('[tool.leaklens]\nselect = ["ALL"]\nignore = ["LL201"]\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(all), ['a.py:LL101:warning']);
  const extended = project('[tool.leaklens]\nselect = ["LL2"]\nextend-select = ["LL101"]\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(extended), ['a.py:LL101:warning', 'a.py:LL201:warning']);
  const onlyTwo = project('[tool.leaklens]\nselect = ["LL2"]\n', { 'a.py': LEAKY });
  assert.deepEqual(codes(onlyTwo, ['--extend-select', 'LL101']), ['a.py:LL101:warning', 'a.py:LL201:warning']);
  assert.deepEqual(codes(onlyTwo, ['--select', 'all']), ['a.py:LL101:warning', 'a.py:LL201:warning']);
});

test('extend-select and all-findings are checked like the other keys', () => {
  const dir = project('[tool.leaklens]\nextend-select = ["LX1"]\nall-findings = "yes"\n', {});
  const loaded = loadPyproject(join(dir, 'pyproject.toml'));
  assert.deepEqual(loaded.problems.map((p) => [p.line, p.message]), [
    [2, 'extend-select: not a rule code or prefix (or ALL): LX1'],
    [3, 'all-findings: expected true or false'],
  ]);
  assert.equal(loaded.settings.options.allFindings, false);
  assert.deepEqual(loaded.settings.options.extendSelect, []);
});
