// The generic fixture harness. Every test/fixtures/rules/<CODE>/*.py file is analysed and
// compared with its inline expectations, in both directions:
//
//   x = open(p)  # expect: LL101[safe] "never released"
//
// names the code of a finding that must start on that line, optionally its fix safety
// ([safe], [unsafe] or [nofix]: that of its first fix; [safe+unsafe]: those of all its fixes, in
// order) and a fragment of its message. Every finding must be expected
// and every expectation found. When a file has fixes, `<name>.py.fixed` holds the text after
// applying all of them (safe and unsafe, repeated passes); it must compile with python3 and
// leave only findings that have no fix. UPDATE_SNAPSHOTS=1 rewrites the snapshots.
// A first line `# fixture-options: target-version=3.12` analyses the file with that option.
// Files are analysed with `all-findings` on; `LL303(low)` expects a finding of low confidence
// (reported only with `all-findings`), a plain `LL303` a confident one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { before, describe, test } from 'node:test';
import { Analyzer } from '../server/src/analysis/engine';
import { LineIndex } from '../server/src/analysis/text';
import { AnalysisOptions, DEFAULT_OPTIONS } from '../server/src/analysis/types';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'rules');
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

interface Expectation {
  line: number;
  code: string;
  safety?: string;
  fragment?: string;
  low: boolean;
}

const EXPECT = /#\s*expect:\s*(.*)$/;
const ITEM = /(LL\d{3})(\(low\))?(?:\[((?:safe|unsafe)(?:\+(?:safe|unsafe))*|nofix)\])?(?:\s*"([^"]*)")?/g;

function optionsFor(text: string): AnalysisOptions {
  const m = /^# fixture-options:(.*)$/m.exec(text.split('\n', 1)[0]);
  const options: AnalysisOptions = { ...DEFAULT_OPTIONS, allFindings: true, select: ['ALL'] };
  if (!m) return options;
  for (const [key, value] of m[1].trim().split(/\s+/).map((kv) => kv.split('='))) {
    if (key === 'target-version') {
      const [major, minor] = value.split('.').map(Number);
      options.targetVersion = { major, minor };
    } else if (key === 'resource-factories') {
      options.resourceFactories = value.split(',');
    } else throw new Error(`unknown fixture option ${key}`);
  }
  return options;
}

function parseExpectations(text: string): Expectation[] {
  const out: Expectation[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((content, line) => {
    const m = EXPECT.exec(content);
    if (!m) return;
    for (const item of m[1].matchAll(ITEM)) {
      out.push({ line, code: item[1], low: item[2] !== undefined, safety: item[3], fragment: item[4] });
    }
  });
  return out;
}

/** Python's verdict on each file: the list of files that do not compile. */
function notCompiling(files: string[]): string[] {
  if (files.length === 0) return [];
  const script = [
    'import sys',
    'bad = []',
    'for f in sys.argv[1:]:',
    '    try:',
    '        compile(open(f, "rb").read(), f, "exec")',
    '    except (SyntaxError, ValueError) as e:',
    '        bad.append(f"{f}: {e}")',
    'print("\\n".join(bad))',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

const ruleDirs = readdirSync(FIXTURES).sort();
let analyzer: Analyzer;
const fixedFiles: Array<{ fixture: string; path: string }> = [];
const scratch = mkdtempSync(join(tmpdir(), 'leaklens-fixtures-'));

before(async () => {
  analyzer = await Analyzer.create();
});

for (const code of ruleDirs) {
  describe(`rule ${code}`, () => {
    const files = readdirSync(join(FIXTURES, code)).filter((f) => f.endsWith('.py')).sort();
    test('has fixtures', () => assert.ok(files.length > 0, `no fixtures for ${code}`));
    for (const file of files) {
      const path = join(FIXTURES, code, file);
      test(file, () => {
        const text = readFileSync(path, 'utf8');
        const lines = new LineIndex(text);
        const expected = parseExpectations(text);
        const options = optionsFor(text);
        const { findings, ruleFailures } = analyzer.analyzeText(text, options);
        // A rule that throws loses its findings silently (the engine catches it): a fixture must not.
        const problems: string[] = (ruleFailures ?? []).map((f) => `rule failed: ${f}`);
        const unmatched = [...expected];
        for (const f of findings) {
          const line = lines.lineOf(f.start);
          const i = unmatched.findIndex((e) => e.line === line && e.code === f.code);
          if (i === -1) {
            problems.push(`unexpected ${f.code} at line ${line + 1}: ${f.message}`);
            continue;
          }
          const e = unmatched.splice(i, 1)[0];
          const safety = f.fixes.length === 0 ? 'nofix' : e.safety?.includes('+') ? f.fixes.map((x) => x.safety).join('+') : f.fixes[0].safety;
          if (e.low !== (f.confidence === 'low')) problems.push(`${f.code} at line ${line + 1}: confidence is ${f.confidence ?? 'high'}, expected ${e.low ? 'low' : 'high'}`);
          if (e.safety && e.safety !== safety) problems.push(`${f.code} at line ${line + 1}: fix is ${safety}, expected ${e.safety}`);
          if (e.fragment && !f.message.includes(e.fragment)) problems.push(`${f.code} at line ${line + 1}: message "${f.message}" lacks "${e.fragment}"`);
        }
        for (const e of unmatched) problems.push(`expected ${e.code} at line ${e.line + 1}, not reported`);
        // A rule's text pre-filter (Rule.mayApply) may say no only where the rule reports nothing.
        for (const reported of new Set(findings.map((f) => f.code))) {
          if (!analyzer.mayReport(text, { ...options, select: [reported] })) problems.push(`the pre-filter of ${reported} says no, yet it reports here`);
        }
        assert.deepEqual(problems, [], `${relative(ROOT, path)}:\n  ${problems.join('\n  ')}`);

        const snapshot = path + '.fixed';
        const hasFixes = findings.some((f) => f.fixes.length > 0);
        if (!hasFixes) {
          assert.ok(!existsSync(snapshot), `${relative(ROOT, snapshot)} exists but no finding has a fix`);
          return;
        }
        const fixed = analyzer.fixText(text, options, true).text;
        if (UPDATE || !existsSync(snapshot)) {
          if (!UPDATE) assert.fail(`missing snapshot ${relative(ROOT, snapshot)} (run with UPDATE_SNAPSHOTS=1)`);
          writeFileSync(snapshot, fixed);
        }
        assert.equal(fixed, readFileSync(snapshot, 'utf8'), `fixes of ${relative(ROOT, path)} differ from the snapshot`);
        const left = analyzer.analyzeText(fixed, options).findings.filter((f) => f.fixes.length > 0);
        assert.deepEqual(left.map((f) => `${f.code} at line ${new LineIndex(fixed).lineOf(f.start) + 1}`), [], 'fixable findings left after fixing');
        const copy = join(scratch, `${code}-${file}`);
        writeFileSync(copy, fixed);
        fixedFiles.push({ fixture: relative(ROOT, path), path: copy });
      });
    }
  });
}

describe('fixed snapshots', () => {
  test('every fixture and every fixed snapshot compiles with python3', () => {
    const originals = ruleDirs.flatMap((code) =>
      readdirSync(join(FIXTURES, code)).filter((f) => f.endsWith('.py') && !f.includes('syntax-error')).map((f) => join(FIXTURES, code, f)),
    );
    assert.deepEqual(notCompiling(originals), [], 'fixtures that do not compile (name them *syntax-error* if intended)');
    assert.ok(fixedFiles.length > 0, 'no fixed snapshots were produced');
    assert.deepEqual(notCompiling(fixedFiles.map((f) => f.path)), []);
  });
});
