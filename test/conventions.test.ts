// What Python developers already use: Ruff's default excludes, `extend-exclude`, other linters'
// codes in suppression comments, and the pre-commit hook's entry run on staged files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, runCli } from './helpers/cli';

const LEAK = 'def f(p):\n    fh = open(p)\n    return fh.read(1)\n';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-conv-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

test("folders on Ruff's default exclude list are skipped by name; the rest is checked", () => {
  const skipped = ['.venv', 'venv', '.direnv', '.eggs', '_build', 'buck-out', '__pypackages__', '.ipynb_checkpoints', '.pytype', '.pants.d', '.vscode', '.bzr'];
  const files: Record<string, string> = { 'pkg/mod.py': LEAK };
  for (const d of skipped) files[`${d}/lib/x.py`] = LEAK;
  const dir = tree(files);
  const result = runCli(['check', '--format', 'json', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  const paths = [...new Set((JSON.parse(result.stdout) as Array<{ path: string }>).map((f) => f.path))];
  assert.deepEqual(paths, ['pkg/mod.py']);
  const verbose = runCli(['check', '--verbose', '--quiet', '.'], { cwd: dir });
  for (const d of skipped) assert.match(verbose.stderr, new RegExp(`skipped ${d.replace(/\./g, '\\.')}: always skipped`));
});

test('extend-exclude adds to exclude', () => {
  const dir = tree({
    'pyproject.toml': '[tool.leaklens]\nexclude = ["gen"]\nextend-exclude = ["vendored", "scripts/*.py"]\n',
    'gen/a.py': LEAK,
    'vendored/b.py': LEAK,
    'scripts/c.py': LEAK,
    'app/d.py': LEAK,
  });
  const result = runCli(['check', '--format', 'json', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  assert.deepEqual([...new Set((JSON.parse(result.stdout) as Array<{ path: string }>).map((f) => f.path))], ['app/d.py']);
});

test("other linters' codes in noqa and a trailing pylint disable silence the same finding", () => {
  const dir = tree({
    'm.py': [
      'def a(x=[]):  # noqa: B006',
      '    return x',
      'def b(x=[]):  # pylint: disable=dangerous-default-value',
      '    return x',
      'def c(p):',
      '    f = open(p)  # noqa: SIM115',
      '    return f.read(1)',
      'def d(p):',
      '    f = open(p)  # pylint: disable=consider-using-with',
      '    return f.read(1)',
      'def e(x=[]):  # noqa: E501',
      '    x.append(1)',
      '',
    ].join('\n'),
  });
  const result = runCli(['check', '--format', 'json', 'm.py'], { cwd: dir });
  const found = (JSON.parse(result.stdout) as Array<{ code: string; start: { line: number } }>).map((f) => `${f.code}:${f.start.line}`);
  assert.deepEqual(found, ['LL201:11']);
});

test("the pre-commit hook's entry checks the staged files it is given", () => {
  const hooks = readFileSync(join(ROOT, '.pre-commit-hooks.yaml'), 'utf8');
  assert.match(hooks, /^- id: leaklens$/m);
  assert.match(hooks, /^\s+language: node$/m);
  const entry = /^\s+entry: (.+)$/m.exec(hooks)?.[1].trim().split(/\s+/) ?? [];
  assert.equal(entry[0], 'leaklens', 'the entry runs the package bin');
  const dir = tree({ 'leaky.py': LEAK, 'clean.py': 'def f(p):\n    with open(p) as fh:\n        return fh.read(1)\n' });
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(git('init', '-q').status, 0);
  assert.equal(git('add', 'leaky.py', 'clean.py').status, 0);
  const staged = git('diff', '--cached', '--name-only').stdout.trim().split('\n');
  // pre-commit runs `entry` with the staged file names appended; `leaklens` is the package bin.
  const bad = spawnSync(process.execPath, [CLI, ...entry.slice(1), ...staged], { cwd: dir, encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /^leaky\.py:2:10: LL101/m);
  const good = spawnSync(process.execPath, [CLI, ...entry.slice(1), 'clean.py'], { cwd: dir, encoding: 'utf8' });
  assert.equal(good.status, 0, good.stdout + good.stderr);
});
