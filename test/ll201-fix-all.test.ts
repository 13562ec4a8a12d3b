// LL201 under fix-all: applying the fixes again and again reaches a fixed point, in few passes,
// even for a def with many mutable defaults (their guards share one place in the body) and for
// annotations that need the Optional import.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Analyzer } from '../server/src/analysis/engine';
import { DEFAULT_OPTIONS } from '../server/src/analysis/types';

/** Every rule (only LL101 is on by default). */
const ALL_RULES = { ...DEFAULT_OPTIONS, select: ['ALL'] };

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'rules', 'LL201');
let analyzer: Analyzer;

before(async () => {
  analyzer = await Analyzer.create();
});
after(() => analyzer.dispose());

function many(n: number): string {
  const params = Array.from({ length: n }, (_, i) => `p${i}=[]`).join(', ');
  const reads = Array.from({ length: n }, (_, i) => `len(p${i})`).join(' + ');
  return `def wide(${params}):\n    return ${reads}\n\n\ndef narrow(flag=[], other={}):\n    return 1 if flag or other else 0\n`;
}

for (const [name, text, options] of [
  ['convergence_params.py', readFileSync(join(FIXTURES, 'convergence_params.py'), 'utf8'), { ...ALL_RULES, targetVersion: { major: 3, minor: 9 } }],
  ['convergence.py', readFileSync(join(FIXTURES, 'convergence.py'), 'utf8'), ALL_RULES],
  ['a def with 30 mutable defaults', many(30), ALL_RULES],
] as const) {
  test(`fix-all converges on ${name}`, () => {
    for (const unsafe of [false, true]) {
      const first = analyzer.fixText(text, options, unsafe);
      // One pass per def and kind of fix at most, plus the pass that finds nothing left.
      assert.ok(first.passes <= 3, `${first.passes} passes (unsafe: ${unsafe})`);
      const again = analyzer.fixText(first.text, options, unsafe);
      assert.equal(again.applied, 0, `a second fix-all still applied ${again.applied} fixes (unsafe: ${unsafe})`);
      assert.equal(again.text, first.text);
      const left = analyzer.analyzeText(first.text, options).findings.filter((f) => f.code === 'LL201' && f.fixes.some((x) => unsafe || x.safety === 'safe'));
      assert.deepEqual(left.map((f) => f.message), [], `fixable findings left (unsafe: ${unsafe})`);
    }
  });
}

test('the safe fixes of one def come as one fix that leaves the unsafe ones alone', () => {
  const text = 'def f(a=[], b={}, c=[]):\n    c.append(1)\n    return 1 if a or b else len(c)\n';
  // `a` and `b` are only read: low confidence, reported with all-findings.
  const options = { ...DEFAULT_OPTIONS, allFindings: true, select: ['LL201'] };
  const { findings } = analyzer.analyzeText(text, options);
  const byName = (n: string) => findings.find((f) => f.message.includes(`of \`${n}\``))!;
  assert.equal(byName('a').fixes[0].safety, 'safe');
  assert.match(byName('a').fixes[0].title, /^Replace the mutable defaults of `a`, `b` with None$/);
  assert.equal(byName('c').fixes[0].safety, 'unsafe');
  assert.match(byName('c').fixes[0].title, /of `a`, `b`, `c` with None \(calls stop sharing one object; an explicit None then gets the default too\)/);
  const safe = analyzer.fixText(text, options, false).text;
  assert.equal(safe, 'def f(a=None, b=None, c=[]):\n    if a is None:\n        a = []\n    if b is None:\n        b = {}\n    c.append(1)\n    return 1 if a or b else len(c)\n');
});
