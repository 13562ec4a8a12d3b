// The engine compiles one merged query per set of selected rules (analysis/engine.ts), and
// hands the module node to rules whose only pattern is `(module) @module` without running a
// query. A rule's findings must not depend on which other rules run with it: for every rule,
// `check --select <rule>` on the rule fixtures reports exactly that rule's findings of
// `check --select ALL`, through the real CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RULES } from '../server/src/analysis/registry';
import { runCli } from './helpers/cli';

interface JsonFinding {
  path: string;
  code: string;
}

function check(select: string): JsonFinding[] {
  const result = runCli(['check', 'test/fixtures/rules', '--select', select, '--all-findings', '--format', 'json', '--exit-zero', '--no-cache', '--jobs', '1']);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as JsonFinding[];
}

test('each rule selected alone reports what it reports among all rules', () => {
  const all = check('ALL');
  for (const rule of RULES) {
    const alone = check(rule.code);
    const expected = all.filter((f) => f.code === rule.code);
    assert.ok(expected.length > 0, `${rule.code} has findings on its fixtures`);
    assert.deepEqual(alone, expected, `${rule.code} alone`);
  }
});

test('rules selected in pairs sharing a pattern report what they report among all rules', () => {
  const all = check('ALL');
  // LL101/LL102/LL103/LL303 share `(module) @module`; LL501 and LL503 share attribute stores.
  for (const pair of [['LL102', 'LL303'], ['LL103', 'LL201'], ['LL503', 'LL504'], ['LL501', 'LL503']]) {
    const both = check(pair.join(','));
    assert.deepEqual(both, all.filter((f) => pair.includes(f.code)), pair.join('+'));
  }
});
