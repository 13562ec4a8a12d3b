// The notebook module (analysis/notebook.ts) on its own, on the real .ipynb fixtures: the
// virtual module, IPython masking that keeps every offset, the way back to (cell, line, column),
// and the write-back that changes only the changed cells' `source` values.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LineIndex } from '../server/src/analysis/text';
import { CellTracker, cellPosition, maskCell, Notebook, notebookMap, readNotebook, replaceSources, sourceLines } from '../server/src/analysis/notebook';
import { ROOT } from './helpers/cli';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'notebooks');
const raw = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function read(name: string): Notebook {
  const r = readNotebook(raw(name));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.notebook;
}

function positionOf(nb: Notebook, needle: string) {
  const offset = nb.module.indexOf(needle);
  assert.ok(offset >= 0, needle);
  const lines = new LineIndex(nb.module);
  const p = lines.position(offset);
  return cellPosition(notebookMap(nb), offset, p.line, p.character, (o) => lines.lineOf(o));
}

describe('masking IPython syntax', () => {
  test('line magics, shell escapes, help and assignment magics become `0`; lengths and line breaks stay', () => {
    const src = '%matplotlib inline\n!pip install x\nfiles = !ls -l\na, b = %sx echo\nobj?\n??obj\n  %time y = f()\nz = 1\n';
    const { text, masked } = maskCell(src);
    assert.equal(text.length, src.length);
    assert.deepEqual(text.split('\n').map((l) => l.length), src.split('\n').map((l) => l.length));
    const zero = (masked: string) => '0' + ' '.repeat(masked.length - 1);
    const expected = ['', '', 'files = ' + zero('!ls -l'), 'a, b = ' + zero('%sx echo'), '', '', '  ' + zero('%time y = f()'), 'z = 1', ''];
    const whole = ['%matplotlib inline', '!pip install x', , , 'obj?', '??obj'];
    whole.forEach((l, i) => (expected[i] = zero(l!)));
    assert.equal(text, expected.join('\n'));
    assert.equal(masked.length, 7);
  });

  test('a non-Python cell magic blanks the cell; %%time keeps its Python body', () => {
    const bash = '%%bash\nf = open("x")\necho hi';
    assert.equal(maskCell(bash).text, '      \n             \n       ');
    const time = '%%time\nf = open("x")\n';
    assert.equal(maskCell(time).text, '0     \nf = open("x")\n');
  });

  test('text inside strings and comments is not IPython syntax', () => {
    const src = 's = """\n!important\n%not a magic\n"""\nq = "what?"  # really?\nx = 1  # !ls\n';
    assert.equal(maskCell(src).text, src);
  });

  test('a masked escape keeps a block valid, with CRLF line breaks and astral characters', () => {
    const src = 'for n in "ab":\r\n    !echo \u{1F600} {n}\r\n    print(n)\r\n';
    const { text } = maskCell(src);
    assert.equal(text.length, src.length);
    assert.equal(text.split('\r\n')[1], '    0' + ' '.repeat('!echo \u{1F600} {n}'.length - 1));
  });

  test('inside brackets or after a backslash a line continues Python: `%` there is modulo', () => {
    const src = 'x = (10\n% 3)\ny = 10 \\\n% 3\nz = {\n  "a": 1}\n%who\n';
    assert.equal(maskCell(src).text, src.replace('%who', '0   '));
    const inString = 's = """a\\\n!b"""\n!ls\n';
    assert.equal(maskCell(inString).text, inString.replace('!ls', '0  '));
    // An escape's own brackets and quotes open nothing.
    const opaque = '!echo ( "\n%who\nx = 1\n';
    assert.equal(maskCell(opaque).text, '0' + ' '.repeat(8) + '\n0   \nx = 1\n');
  });

  test('a magic continued with a backslash is masked to its end', () => {
    assert.equal(maskCell('!echo a \\\n  b\nx = 1').text, '0        \n  0\nx = 1');
  });
});

describe('reading notebooks', () => {
  test('code cells in order, each ending a line; markdown cells count in the numbers', () => {
    const nb = read('analysis.ipynb');
    assert.equal(nb.language, 'python');
    assert.deepEqual(nb.cells.map((c) => c.number), [2, 3, 5, 6, 7, 8, 9]);
    assert.ok(nb.module.startsWith('import pandas as pd\n0                 \n0                          \nN = 1_000_000\nlog = open('));
    for (const c of nb.cells) assert.ok(c.start === 0 || /\n$/.test(nb.module.slice(0, c.start)));
    // The %%bash cell is blank: its `open` is never seen.
    assert.equal(nb.module.match(/never-python/g), null);
  });

  test('positions map to (cell, line in the cell, column)', () => {
    const nb = read('analysis.ipynb');
    assert.deepEqual(positionOf(nb, 'open("run.log"'), { cell: 3, line: 1, column: 7 });
    assert.deepEqual(positionOf(nb, 'seen=[]'), { cell: 5, line: 1, column: 19 });
    assert.deepEqual(positionOf(nb, 'PADDING = [0]'), { cell: 7, line: 1, column: 1 });
    assert.deepEqual(positionOf(nb, 'TOTAL'), { cell: 9, line: 2, column: 1 });
  });

  test('string sources, CRLF and UTF-16 columns', () => {
    const nb = read('strings.ipynb');
    assert.ok(nb.asciiOnly);
    assert.deepEqual(positionOf(nb, "open('data.bin'"), { cell: 1, line: 2, column: 10 });
    assert.deepEqual(positionOf(nb, 'open(name)'), { cell: 2, line: 3, column: 12 });
    assert.ok(nb.module.includes('\u{1F600}'));
  });

  test('another language, broken JSON, an old format and a wrong shape are told apart', () => {
    assert.equal(read('r-kernel.ipynb').language, 'r');
    const broken = readNotebook(raw('broken.ipynb'));
    assert.ok(!broken.ok && /invalid JSON/.test(broken.reason));
    const v3 = readNotebook('{"nbformat": 3, "worksheets": []}');
    assert.ok(!v3.ok && /nbformat 3/.test(v3.reason));
    const shape = readNotebook('{"cells": [{"cell_type": "code", "source": 7}]}');
    assert.ok(!shape.ok && /cell 1/.test(shape.reason));
    assert.ok(!readNotebook('[1, 2]').ok);
  });
});

describe('write-back', () => {
  test('an unchanged notebook is written back byte for byte', () => {
    for (const name of ['analysis.ipynb', 'strings.ipynb']) {
      const nb = read(name);
      const t = new CellTracker(nb);
      assert.equal(t.changedSources(nb.module).size, 0);
      assert.equal(replaceSources(raw(name), nb, new Map()), raw(name));
    }
  });

  test('an insertion after a cell\'s last line lands in that cell; masked text comes back', () => {
    const nb = read('analysis.ipynb');
    const t = new CellTracker(nb);
    const at = nb.module.indexOf('print(PADDING[:3])');
    const edit = { start: at, end: at, text: 'del PADDING\n' };
    assert.equal(t.refusal([edit]), undefined);
    t.apply([edit]);
    const fixed = nb.module.slice(0, at) + edit.text + nb.module.slice(at);
    const changed = t.changedSources(fixed);
    assert.deepEqual([...changed.keys()], [6]);
    assert.equal(changed.get(6), 'PADDING = [0] * N\nprint(len(PADDING))\ndel PADDING');
    const out = replaceSources(raw('analysis.ipynb'), nb, changed);
    const before = raw('analysis.ipynb').split('\n');
    const after = out.split('\n');
    assert.equal(after.length, before.length + 1);
    assert.deepEqual(after.filter((l) => !before.includes(l)), ['    "print(len(PADDING))\\n",', '    "del PADDING"']);
    // Cell 2's magics survive a change elsewhere in the module.
    const first = read('analysis.ipynb');
    const t2 = new CellTracker(first);
    const e2 = { start: 0, end: 0, text: 'import gc\n' };
    t2.apply([e2]);
    const c2 = t2.changedSources(e2.text + first.module);
    assert.equal(c2.get(1), 'import gc\nimport pandas as pd\n%matplotlib inline\n!pip install --quiet pandas\nN = 1_000_000');
  });

  test('edits across a cell boundary or over a magic are refused', () => {
    const nb = read('analysis.ipynb');
    const t = new CellTracker(nb);
    const boundary = nb.cells[1].start;
    assert.match(t.refusal([{ start: boundary - 3, end: boundary + 3, text: '' }])!, /two cells/);
    const magic = nb.module.indexOf('0                 ');
    assert.match(t.refusal([{ start: magic + 2, end: magic + 4, text: 'x' }])!, /magic/);
  });

  test('string sources stay strings, escaped as the file escapes them', () => {
    const name = 'strings.ipynb';
    const nb = read(name);
    const changed = new Map([[0, nb.cells[0].source.replace('handle.read()', 'handle.read()  # caf\u00e9')]]);
    const out = replaceSources(raw(name), nb, changed);
    assert.ok(/^[\x00-\x7f]*$/.test(out));
    assert.equal((JSON.parse(out) as { cells: Array<{ source: string }> }).cells[0].source, changed.get(0));
    assert.equal(out.replace(/"source": "[^\n]*\n/, ''), raw(name).replace(/"source": "[^\n]*\n/, ''));
  });

  test('lines as nbformat keeps them', () => {
    assert.deepEqual(sourceLines('a\nb\n'), ['a\n', 'b\n']);
    assert.deepEqual(sourceLines('a\n\nb'), ['a\n', '\n', 'b']);
    assert.deepEqual(sourceLines(''), []);
  });
});
