// Jupyter notebooks in `leaklens check` (issue 17): the real CLI as a process on the fixture
// notebooks of test/fixtures/notebooks (real nbformat 4 JSON with outputs and metadata), copied
// into scratch folders. Positions are cells (1-based among all cells) and lines within them;
// --fix writes back only the changed cells' `source` lines.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, runCli } from './helpers/cli';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'notebooks');
const scratch = mkdtempSync(join(tmpdir(), 'leaklens-notebooks-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

/** A scratch folder holding copies of these fixtures (name in the folder → fixture name), plus extra files. */
function project(copies: Record<string, string>, files: Record<string, string> = {}): string {
  const dir = join(scratch, `p${count++}`);
  for (const [name, fixture] of Object.entries(copies)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    copyFileSync(join(FIXTURES, fixture), join(dir, name));
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const EXPECTED_TEXT = [
  'analysis.ipynb:cell 3:1:7: LL101 [*] `open(…)` result bound to `log` is never released',
  'analysis.ipynb:cell 5:1:24: LL201 Mutable default `[]` of `seen`',
  'analysis.ipynb:cell 7:1:1: LL401 Module-level `PADDING` holds an estimated 1,000,000 elements',
  'analysis.ipynb:cell 9:1:1: LL401 [*] Module-level `SQUARES`',
  'strings.ipynb:cell 1:2:10: LL101 [*] `open(…)` result bound to `handle`',
  'strings.ipynb:cell 2:3:12: LL103 [*] `open(…)` result is used without being bound',
];

describe('leaklens check on notebooks', () => {
  test('text: cell, line and column; magics, %%bash cells and suppressed lines give nothing; R notebooks and checkpoints are skipped', () => {
    const dir = project(
      { 'analysis.ipynb': 'analysis.ipynb', 'strings.ipynb': 'strings.ipynb', 'r-kernel.ipynb': 'r-kernel.ipynb', '.ipynb_checkpoints/analysis-checkpoint.ipynb': 'analysis.ipynb', 'ignored/x.ipynb': 'analysis.ipynb' },
      { '.gitignore': 'ignored/\n' },
    );
    const r = runCli(['check', '--no-cache', '--verbose', '.'], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, EXPECTED_TEXT.length + 1, r.stdout);
    EXPECTED_TEXT.forEach((prefix, i) => assert.ok(lines[i].startsWith(prefix), `${lines[i]}\n  expected ${prefix}`));
    assert.match(lines.at(-1)!, /^Checked 3 files: 6 findings;/);
    assert.match(r.stderr, /skipped r-kernel\.ipynb: notebook language is 'r'/);
    assert.match(r.stderr, /skipped \.ipynb_checkpoints: always skipped/);
    assert.match(r.stderr, /skipped ignored: ignored by \.gitignore/);
  });

  test('a line a message names is the cell\'s line', () => {
    const nb = { cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# Title'] },
      { cell_type: 'code', execution_count: 1, metadata: {}, outputs: [], source: ['f = open("x")\n', 'f.read()'] },
      { cell_type: 'code', execution_count: 2, metadata: {}, outputs: [], source: ['f = open("y")\n', 'f.read()'] },
    ], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    const dir = project({}, { 'rebound.ipynb': JSON.stringify(nb, null, 1) });
    const r = runCli(['check', '--no-cache', 'rebound.ipynb'], { cwd: dir });
    assert.match(r.stdout, /^rebound\.ipynb:cell 2:1:5: LL101 .*`f` is re-bound on line 1 of cell 3 before/m);
  });

  test('exclude globs apply to notebooks as to .py files', () => {
    const dir = project({ 'nb/analysis.ipynb': 'analysis.ipynb' }, { 'pyproject.toml': '[tool.leaklens]\nexclude = ["*.ipynb"]\n', 'ok.py': 'x = 1\n' });
    const r = runCli(['check', '--no-cache', '.'], { cwd: dir });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Checked 1 file: no findings/);
  });

  test('JSON: a `cell` field, and positions within the cell everywhere', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb' });
    const r = runCli(['check', '--no-cache', '--format', 'json', '--unsafe-fixes', '--diff', 'analysis.ipynb'], { cwd: dir });
    assert.equal(r.status, 2, 'json and --diff do not combine');
    const j = runCli(['check', '--no-cache', '--format', 'json', 'analysis.ipynb'], { cwd: dir });
    const entries = JSON.parse(j.stdout) as Array<Record<string, any>>;
    assert.deepEqual(
      entries.map((e) => [e.cell, e.code, e.start.line, e.start.column, e.start.cell]),
      [
        [3, 'LL101', 1, 7, 3],
        [5, 'LL201', 1, 24, 5],
        [7, 'LL401', 1, 1, 7],
        [9, 'LL401', 1, 1, 9],
      ],
    );
    const ll101 = entries[0];
    assert.deepEqual(ll101.end, { cell: 3, line: 1, column: 27 });
    // The `with` fix replaces cell 3's two lines: its end is the line after them, in cell 3 too.
    assert.deepEqual(ll101.fixes[0].edits.map((e: any) => [e.start, e.end]), [[{ cell: 3, line: 1, column: 1 }, { cell: 3, line: 3, column: 1 }]]);
  });

  test('SARIF: the region is in the cell, named by the region\'s property bag; no artifact fixes', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb' });
    const r = runCli(['check', '--no-cache', '--format', 'sarif', 'analysis.ipynb'], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    const results = JSON.parse(r.stdout).runs[0].results as Array<Record<string, any>>;
    const regions = results.map((x) => x.locations[0].physicalLocation.region);
    assert.deepEqual(regions[0], { startLine: 1, startColumn: 7, endLine: 1, endColumn: 27, properties: { cell: 3 } });
    assert.deepEqual(regions.map((g) => g.properties.cell), [3, 5, 7, 9]);
    assert.equal(results[0].locations[0].physicalLocation.artifactLocation.uri, 'analysis.ipynb');
    assert.ok(results.every((x) => x.fixes === undefined));
  });

  test('github: the cell\'s line and column, the cell named in the title', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb' });
    const r = runCli(['check', '--no-cache', '--format', 'github', 'analysis.ipynb'], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout.split('\n')[0], /^::warning file=analysis\.ipynb,line=1,col=7,endLine=1,endColumn=27,title=LL101 unclosed-resource \(cell 3\)::/);
  });

  test('--fix writes only the changed cells\' source lines; outputs, metadata and layout stay byte for byte', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb', 'strings.ipynb': 'strings.ipynb' });
    const before = readFileSync(join(dir, 'analysis.ipynb'), 'utf8');
    const r = runCli(['check', '--select', 'ALL', '--no-cache', '--unsafe-fixes', 'analysis.ipynb'], { cwd: dir });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /no findings; 4 fixed/);
    const fixed = readFileSync(join(dir, 'analysis.ipynb'), 'utf8');
    assert.equal(fixed, readFileSync(join(FIXTURES, 'analysis.ipynb.fixed'), 'utf8'));
    // Every line that is not a line of a source list is where it was, in the same order.
    const outsideSources = (text: string) => text.split('\n').filter((l) => !/^ {4}"/.test(l) || /^ {4}"(cell_type|execution_count|id|metadata|outputs|source|name|output_type|text|data)"/.test(l));
    assert.deepEqual(outsideSources(fixed), outsideSources(before));
    const a = JSON.parse(before);
    const b = JSON.parse(fixed);
    const dropSource = (nb: any) => ({ ...nb, cells: nb.cells.map((c: any) => ({ ...c, source: null })) });
    assert.deepEqual(dropSource(b), dropSource(a));
    // The `del` lands in the cell of the last use (cell 8), the generator in cell 9.
    assert.equal(b.cells[7].source.join(''), 'print(PADDING[:3])\ndel PADDING\nkept = open("kept.txt")  # noqa: LL101\nother = open("other.txt")  # leaklens: ignore');
    assert.equal(b.cells[8].source.join(''), 'SQUARES = (i * i for i in range(N))\nTOTAL = sum(SQUARES)\n');
    // The magics are back as they were.
    assert.deepEqual(b.cells[1].source, a.cells[1].source);
    // A one-string source stays one string, escaped as the file escapes (ASCII only, two-space indent).
    const s = runCli(['check', '--no-cache', '--fix', 'strings.ipynb'], { cwd: dir });
    assert.equal(s.status, 0, s.stdout + s.stderr);
    const strings = readFileSync(join(dir, 'strings.ipynb'), 'utf8');
    assert.ok(/^[\x00-\x7f]*$/.test(strings));
    const cells = JSON.parse(strings).cells;
    assert.equal(cells[0].source, "from pathlib import Path\r\n# caf\u00e9 \u{1F600} data\r\nwith open('data.bin', 'rb') as handle:\r\n    handle.read()\r\n");
    assert.equal(cells[1].source, "for name in ['a', 'b']:\r\n    !echo {name}\r\n    data = Path(name).read_text()");
    // A second run has nothing left to fix.
    const again = runCli(['check', '--no-cache', '--unsafe-fixes', '--diff', '.'], { cwd: dir });
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(again.stdout, '');
  });

  test('--diff is a patch of the notebook file that gives what --fix writes', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb' });
    const r = runCli(['check', '--no-cache', '--unsafe-fixes', '--diff', 'analysis.ipynb'], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^--- a\/analysis\.ipynb\n\+\+\+ b\/analysis\.ipynb\n/);
    assert.match(r.stdout, /^\+ {4}"del PADDING\\n",$/m);
    assert.match(r.stderr, /would apply 4 fixes in 1 file/);
    assert.equal(readFileSync(join(dir, 'analysis.ipynb'), 'utf8'), readFileSync(join(FIXTURES, 'analysis.ipynb'), 'utf8'), '--diff writes nothing');
    const patch = spawnSync('patch', ['-p1', '--quiet'], { cwd: dir, input: r.stdout, encoding: 'utf8' });
    if (patch.error) return; // no patch(1) here: the diff's form is checked above
    assert.equal(patch.status, 0, patch.stderr);
    assert.equal(readFileSync(join(dir, 'analysis.ipynb'), 'utf8'), readFileSync(join(FIXTURES, 'analysis.ipynb.fixed'), 'utf8'));
  });

  test('a fix whose edit spans two cells or touches a magic is not applied, and the run says so', () => {
    const nb = {
      cells: [
        { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['log = open("run.log", "w")'] },
        { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['log.write("x")'] },
        { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['f = open("a.txt")\n', '!echo hi\n', 'f.read()'] },
      ],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5,
    };
    const text = JSON.stringify(nb, null, 1) + '\n';
    const dir = project({}, { 'across.ipynb': text });
    // Not offered either: no [*] on these findings, none counted as fixable.
    const c = runCli(['check', '--no-cache', 'across.ipynb'], { cwd: dir });
    assert.match(c.stdout, /^across\.ipynb:cell 1:1:7: LL101 `open/m);
    assert.match(c.stdout, /^across\.ipynb:cell 3:1:5: LL101 `open/m);
    assert.doesNotMatch(c.stdout, /fixable/);
    const r = runCli(['check', '--no-cache', '--fix', 'across.ipynb'], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /across\.ipynb: fix not applied: Wrap `log` in `with`: its edit spans two cells/);
    assert.match(r.stderr, /across\.ipynb: fix not applied: Wrap `f` in `with`: its edit touches a masked IPython magic/);
    assert.equal(readFileSync(join(dir, 'across.ipynb'), 'utf8'), text);
  });

  test('the fixed notebook is compiled with python3 as its module, magics masked; refused, nothing is written', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb' });
    // A stand-in for python3 that keeps what it was given and refuses every fixed text.
    const fake = join(dir, 'fake-python');
    const seen = join(dir, 'seen.json');
    writeFileSync(fake, `#!${process.execPath}\nlet s='';process.stdin.on('data',d=>s+=d).on('end',()=>{require('fs').writeFileSync(${JSON.stringify(seen)},s);process.stdout.write(JSON.stringify(JSON.parse(s).map(()=>'SyntaxError: refused by the test compiler (line 2)')))});\n`);
    chmodSync(fake, 0o755);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'leaklens.js'), 'check', '--select', 'ALL', '--no-cache', '--unsafe-fixes', 'analysis.ipynb'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LEAKLENS_PYTHON: fake } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /not fixed analysis\.ipynb: the fixed text would not compile \(SyntaxError: refused by the test compiler \(line 2\)\); left as it is/);
    assert.equal(readFileSync(join(dir, 'analysis.ipynb'), 'utf8'), readFileSync(join(FIXTURES, 'analysis.ipynb'), 'utf8'));
    const [[name, before, after]] = JSON.parse(readFileSync(seen, 'utf8')) as Array<[string, string, string]>;
    assert.equal(name, 'analysis.ipynb');
    assert.ok(before.startsWith('import pandas as pd\n0 '), before);
    assert.match(after, /^del PADDING$/m);
    assert.doesNotMatch(after, /"cells"|!pip|%matplotlib/);
  });

  test('a broken notebook is a per-file failure (exit 2), the others are still checked', () => {
    const dir = project({ 'broken.ipynb': 'broken.ipynb', 'analysis.ipynb': 'analysis.ipynb' }, { 'shape.ipynb': '{"cells": 3}\n' });
    const r = runCli(['check', '--no-cache', '.'], { cwd: dir });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot check broken\.ipynb: not a notebook: invalid JSON/);
    assert.match(r.stderr, /cannot check shape\.ipynb: not a notebook: no "cells" list/);
    assert.match(r.stderr, /2 files could not be checked/);
    assert.match(r.stdout, /analysis\.ipynb:cell 3:1:7: LL101/);
    const j = runCli(['check', '--no-cache', '--format', 'json', 'broken.ipynb'], { cwd: dir });
    assert.equal(j.status, 2);
    assert.equal(JSON.parse(j.stdout)[0].code, 'LL000');
    const f = runCli(['check', '--no-cache', '--fix', 'broken.ipynb'], { cwd: dir });
    assert.equal(f.status, 2);
    assert.equal(readFileSync(join(dir, 'broken.ipynb'), 'utf8'), readFileSync(join(FIXTURES, 'broken.ipynb'), 'utf8'));
  });

  test('the result cache keys notebooks by content: a warm run prints the same, an edit is re-analysed', () => {
    const dir = project({ 'analysis.ipynb': 'analysis.ipynb', 'r-kernel.ipynb': 'r-kernel.ipynb' });
    const cold = runCli(['check', '--verbose', '.'], { cwd: dir });
    const warm = runCli(['check', '--verbose', '.'], { cwd: dir });
    assert.equal(warm.stdout, cold.stdout);
    assert.match(cold.stderr, /0 of 2 files from the cache, 2 stored/);
    assert.match(warm.stderr, /2 of 2 files from the cache/);
    assert.match(warm.stderr, /skipped r-kernel\.ipynb: notebook language is 'r'/);
    const path = join(dir, 'analysis.ipynb');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"log = open(', '"\\n",\n    "log = open('));
    const edited = runCli(['check', '--verbose', '.'], { cwd: dir });
    assert.match(edited.stderr, /1 of 2 files from the cache/);
    assert.match(edited.stdout, /analysis\.ipynb:cell 3:2:7: LL101/);
  });
});
