// Rule documentation: one source (the rule file), complete, and its examples tell the truth.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { DOC_SECTIONS } from '../server/src/analysis/docs';
import { Analyzer } from '../server/src/analysis/engine';
import { DEFAULT_OPTIONS } from '../server/src/analysis/types';
import { RULES } from '../server/src/analysis/registry';
import { ROOT, runCli } from './helpers/cli';

let analyzer: Analyzer;
before(async () => {
  analyzer = await Analyzer.create();
});

for (const rule of RULES) {
  describe(`${rule.code} documentation`, () => {
    test('code, name and every section are filled in', () => {
      assert.match(rule.code, /^LL\d{3}$/);
      assert.match(rule.name, /^[a-z]+(-[a-z]+)*$/);
      for (const [key] of DOC_SECTIONS) {
        const value = rule.docs[key];
        assert.ok(Array.isArray(value) ? value.length > 0 : String(value).trim().length > 0, `${rule.code}: empty ${key}`);
      }
    });

    test('the Example fires the rule and the Use-instead code does not', () => {
      // The rule alone, whether or not it is in the default set.
      const options = { ...DEFAULT_OPTIONS, select: [rule.code] };
      const example = analyzer.analyzeText(rule.docs.example, options).findings.filter((f) => f.code === rule.code);
      assert.ok(example.length > 0, `${rule.code}: its Example is not flagged`);
      const fixed = analyzer.analyzeText(rule.docs.useInstead, options).findings.filter((f) => f.code === rule.code);
      assert.deepEqual(fixed.map((f) => f.message), [], `${rule.code}: its Use-instead code is flagged`);
    });

    test('`leaklens rule` prints it and the build ships it as Markdown', () => {
      const result = runCli(['rule', rule.code]);
      assert.equal(result.status, 0, result.stderr);
      for (const [, title] of DOC_SECTIONS) assert.ok(result.stdout.includes(title), `missing section ${title}`);
      assert.ok(result.stdout.includes(rule.name));
      const page = join(ROOT, 'dist', 'docs', 'rules', `${rule.code}.md`);
      assert.ok(existsSync(page), `${page} missing`);
      assert.ok(readFileSync(page, 'utf8').startsWith(`# ${rule.code} ${rule.name}`));
    });
  });
}

test('rule names and codes are unique, and `leaklens rules` lists them all', () => {
  assert.equal(new Set(RULES.map((r) => r.code)).size, RULES.length);
  assert.equal(new Set(RULES.map((r) => r.name)).size, RULES.length);
  const result = runCli(['rules']);
  assert.equal(result.status, 0);
  for (const rule of RULES) assert.match(result.stdout, new RegExp(`^${rule.code}\\s+${rule.name}\\s`, 'm'));
});

test('an unknown rule is a usage error', () => {
  const result = runCli(['rule', 'LL999']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /unknown rule 'LL999'/);
});
