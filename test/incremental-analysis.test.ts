// Incremental analysis (server/src/analysis/incremental.ts): while typing inside one top-level
// definition only that definition is analysed again. Property: after every batch of random edits
// inside function bodies of real fixture files, an incremental result (when the step takes the
// incremental path) has exactly the findings of a whole-file analysis of the same text for
// every local rule, and the module-wide rules' findings it carries are the previous ones moved
// by the edits. Seeds are fixed (LEAKLENS_SEEDS=<n>,<n> to try others), so a failure reproduces.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Analyzer, AnalyzedFinding } from '../server/src/analysis/engine';
import { analyzeIncrementally, localRegion, PreviousAnalysis, shiftFindings } from '../server/src/analysis/incremental';
import { DEFAULT_OPTIONS as DEFAULTS } from '../server/src/analysis/types';

// Every rule, not only the default set (LL101): incremental analysis must agree on all of them.
const DEFAULT_OPTIONS = { ...DEFAULTS, select: ['ALL'] };
import { ParsedDocument, withTree } from '../server/src/parsing/document';
import { hex, Random, seedsFromEnv } from './helpers/random';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'rules');
const SEEDS = seedsFromEnv('LEAKLENS_SEEDS', [0x5eed0001, 0x5eed0002, 0x5eed0003]);

const FRAGMENTS = [
  'x', '(', ')', '[', ']', ':', '.', ' ', '\n', '\n        ', 'é', '𝒳',
  'f = open(p)\n    ', 'f.close()\n    ', 'self.cb = self.run\n    ', 'items.append(self)\n    ',
  'try:\n        pass\n    except Exception as e:\n        self.err = e\n    ',
  'a.next = b\n    b.prev = a\n    ', 'data = json.load(open(p))\n    ', 'return x\n    ', 'del f\n    ',
];

function key(f: AnalyzedFinding): string {
  return JSON.stringify([f.code, f.start, f.end, f.message, f.fixes, f.ignore ?? null, f.related]);
}

function fixtureTexts(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  for (const code of readdirSync(FIXTURES).sort()) {
    for (const file of readdirSync(join(FIXTURES, code)).sort()) {
      if (file.endsWith('.py')) out.push({ name: `${code}/${file}`, text: readFileSync(join(FIXTURES, code, file), 'utf8') });
    }
  }
  return out;
}

/** Where a person types inside the body of a top-level def or class: after a line's indentation, or at its end. */
function bodyOffsets(doc: ParsedDocument): number[] {
  const offsets: number[] = [];
  const root = doc.tree!.rootNode;
  for (const stmt of root.namedChildren) {
    if (!stmt) continue;
    const def = stmt.type === 'decorated_definition' ? stmt.childForFieldName('definition') : stmt;
    const body = def && (def.type === 'function_definition' || def.type === 'class_definition') ? def.childForFieldName('body') : null;
    if (!body) continue;
    const text = doc.parsedText;
    for (let i = body.startIndex; i < body.endIndex; i++) {
      if (text[i - 1] !== '\n') continue;
      let first = i;
      while (text[first] === ' ' || text[first] === '\t') first++;
      if (text[first] === '\n' || first >= body.endIndex) continue;
      offsets.push(first);
      const end = text.indexOf('\n', first);
      if (end !== -1 && end <= body.endIndex) offsets.push(end);
    }
  }
  return offsets;
}

test('incremental analysis inside one definition equals a whole-file analysis for the local rules', async () => {
  const analyzer = await Analyzer.create();
  const local = new Set(analyzer.rules.filter((r) => r.locality === 'function').map((r) => r.code));
  let incremental = 0;
  let steps = 0;
  try {
    for (const seed of SEEDS) {
      const rng = new Random(seed);
      for (const { name, text } of fixtureTexts()) {
        const doc = new ParsedDocument(analyzer.language, text);
        try {
          if (!doc.tree) continue;
          let result = analyzer.analyzeTree(doc.tree, doc.parsedText, DEFAULT_OPTIONS);
          let previous: PreviousAnalysis = { findings: result.findings, options: DEFAULT_OPTIONS, topLevelCount: doc.tree.rootNode.namedChildCount, imports: result.imports };
          doc.takeChanges();
          // Whether `previous` is exact: true after a whole-file analysis, kept by function steps;
          // a step that only carries findings leaves them stale until the next whole-file one.
          let exact = true;
          for (let batch = 0; batch < 6; batch++) {
            const offsets = bodyOffsets(doc);
            if (offsets.length === 0) break;
            const at = rng.pick(offsets);
            const change = rng.next() < 0.7
              ? { start: at, end: at, text: rng.pick(FRAGMENTS) }
              : { start: at, end: Math.min(doc.text.length, at + 1 + rng.int(0, 11)), text: '' };
            doc.update([change]);
            if (!doc.tree) break;
            steps++;
            const changes = doc.takeChanges();
            const before = previous.findings;
            const step = analyzeIncrementally(analyzer, doc.tree, doc.parsedText, DEFAULT_OPTIONS, previous, changes);
            const fresh = withTree(analyzer.language, doc.text, (tree, parsed) => analyzer.analyzeTree(tree!, parsed, DEFAULT_OPTIONS));
            const where = `seed ${hex(seed)}, ${name}, batch ${batch}, change ${JSON.stringify(change)}`;
            if (step?.analysed === 'nothing') {
              assert.deepEqual(step.findings.map(key), shiftFindings(before, changes!.edits).map(key), `carried findings (${where})`);
              result = step;
              exact = false;
            } else if (step && !exact) {
              result = step;
            } else if (step) {
              incremental++;
              assert.deepEqual(
                step.findings.filter((f) => local.has(f.code)).map(key),
                fresh.findings.filter((f) => local.has(f.code)).map(key),
                `local rules differ from a whole-file analysis (${where})`,
              );
              // Module-wide rules: exactly the previous findings moved by the edits (until the pause).
              assert.deepEqual(
                step.findings.filter((f) => !local.has(f.code)).map(key),
                shiftFindings(before.filter((f) => !local.has(f.code)), changes!.edits).map(key),
                `carried findings are not the previous ones moved (${where})`,
              );
              result = step;
            } else {
              result = fresh;
              exact = true;
            }
            previous = { findings: result.findings, options: DEFAULT_OPTIONS, topLevelCount: doc.tree.rootNode.namedChildCount, imports: result.imports };
            // The settle: what a pause would publish.
            if (rng.next() < 0.3) {
              previous = { ...previous, findings: fresh.findings, imports: fresh.imports };
              exact = true;
            }
          }
        } finally {
          doc.dispose();
        }
      }
    }
  } finally {
    analyzer.dispose();
  }
  // The property must have been exercised, not only fallen back to whole-file analyses.
  assert.ok(incremental > steps / 3, `only ${incremental} of ${steps} steps took the incremental path`);
});

test('localRegion: a change in a function or method body is local; in a header, a class body, at module level or across statements it is not', async () => {
  const analyzer = await Analyzer.create();
  const text = 'import os\n\n\ndef f(a=[]):\n    x = 1\n    return x\n\n\nclass C:\n    Z = 3\n\n    def m(self):\n        pass\n\n\nY = 2\n';
  try {
    withTree(analyzer.language, text, (tree) => {
      const root = tree!.rootNode;
      const at = (needle: string) => text.indexOf(needle);
      const f = { start: at('def f'), end: at('return x') + 'return x'.length };
      assert.deepEqual(localRegion(root, text, [{ start: at('x = 1'), end: at('x = 1') + 1 }]), f);
      assert.equal(localRegion(root, text, [{ start: at('a=[]'), end: at('a=[]') + 1 }]), undefined, 'parameters are a header');
      assert.equal(localRegion(root, text, [{ start: at('Y = 2'), end: at('Y = 2') + 1 }]), undefined, 'module level');
      assert.equal(localRegion(root, text, [{ start: at('x = 1'), end: at('pass') }]), undefined, 'two definitions');
      assert.deepEqual(localRegion(root, text, [{ start: at('pass'), end: at('pass') + 2 }]), { start: at('def m'), end: at('pass') + 4 }, 'a method');
      assert.equal(localRegion(root, text, [{ start: at('Z = 3'), end: at('Z = 3') + 1 }]), undefined, 'a class body outside its methods');
      assert.deepEqual(localRegion(root, text, []), { start: 0, end: 0 });
    });
  } finally {
    analyzer.dispose();
  }
});

test('shiftFindings moves findings after an edit, keeps those before, drops those (and fixes) it touches', () => {
  const finding = (start: number, end: number, fixAt?: number): AnalyzedFinding => ({
    code: 'LL303', name: 'n', severity: 'warning', message: 'm', start, end, related: [],
    fixes: fixAt === undefined ? [] : [{ title: 't', safety: 'safe', edits: [{ start: fixAt, end: fixAt + 1, text: 'x' }] }],
  });
  const shifted = shiftFindings([finding(0, 5), finding(10, 12), finding(20, 25), finding(30, 32, 10), finding(40, 42, 11)], [{ start: 10, oldEnd: 11, newEnd: 14, lineDelta: 0 }]);
  assert.deepEqual(shifted.map((f) => [f.start, f.end, f.fixes.length]), [[0, 5, 0], [23, 28, 0], [33, 35, 0], [43, 45, 1]], 'the finding at 10-12 is gone, and the fix at 10-11; the fix at 11-12 moved');
  assert.deepEqual(shifted[3].fixes[0].edits[0], { start: 14, end: 15, text: 'x' });
});
