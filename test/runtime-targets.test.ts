// What the editor offers to run from a cursor position, and where CodeLens goes
// (server/src/runtime/targets.ts), checked on sources with the awkward cases: methods, static
// methods, nested functions, multi-line signatures, decorators, strings that look like code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { callTemplate, lensTargets, scanDefinitions, targetsAt } from '../server/src/runtime/targets';

const ROOT = join(__dirname, '..', '..');

const SOURCE = [
  'import functools', //                  0
  '',
  'def plain():', //                      2
  '    return 1',
  '',
  'def takes(a, b=1, *args, key, **kw):', // 5
  '    def inner():', //                  6
  '        return a',
  '    return inner',
  '',
  'class Service:', //                    10
  '    """Doc.', //                       11
  'def not_code():', //                   12 (inside the docstring)
  '    """',
  '',
  '    @functools.lru_cache(maxsize=None)', // 15
  '    def lookup(self, key):', //       16
  '        return [key]',
  '',
  '    @staticmethod', //                 19
  '    def make(', //                     20
  '        size=3,',
  '    ):',
  '        return Service()', //         23
  '',
  'async def later():', //               25
  '    return 2',
].join('\n');

test('scanDefinitions: names, lines, ends, decorators and required parameters', () => {
  const defs = scanDefinitions(SOURCE);
  const summary = defs.map((d) => [d.qualname, d.line, d.end, d.required.join(','), d.decorators.join(',')]);
  assert.deepEqual(summary, [
    ['plain', 2, 3, '', ''],
    ['takes', 5, 8, 'a,key', ''],
    ['takes.inner', 6, 7, '', ''],
    ['Service', 10, 23, '', ''],
    ['Service.lookup', 16, 17, 'key', 'functools.lru_cache'],
    ['Service.make', 20, 23, '', 'staticmethod'],
    ['later', 25, 26, '', ''],
  ]);
});

test('targetsAt: the enclosing runnable definition first, then the script', () => {
  const specs = (line: number) => targetsAt('pkg/mod.py', SOURCE, line).map((c) => c.spec);
  assert.deepEqual(specs(3), ['pkg/mod.py:plain', 'pkg/mod.py']);
  assert.deepEqual(specs(7), ['pkg/mod.py:takes', 'pkg/mod.py'], 'a nested function runs through its top-level function');
  assert.match(targetsAt('pkg/mod.py', SOURCE, 7)[0].detail, /needs a, key: give the call, e\.g\. takes\(i\)/);
  assert.deepEqual(targetsAt('pkg/mod.py', SOURCE, 7)[0].required, ['a', 'key']);
  assert.equal(callTemplate(targetsAt('pkg/mod.py', SOURCE, 7)[0]), 'pkg/mod.py:takes(i, key)', 'i for the first parameter, names to replace for the others');
  assert.equal(callTemplate(targetsAt('pkg/mod.py', SOURCE, 3)[0]), 'pkg/mod.py:plain', 'no parameters: the spec itself');
  assert.equal(targetsAt('pkg/mod.py', SOURCE, 3)[0].required, undefined);
  assert.deepEqual(specs(17), ['pkg/mod.py'], 'an instance method cannot be called without an instance');
  assert.deepEqual(specs(22), ['pkg/mod.py:Service.make', 'pkg/mod.py']);
  assert.deepEqual(specs(26), ['pkg/mod.py:later', 'pkg/mod.py']);
  assert.deepEqual(specs(0), ['pkg/mod.py']);
  assert.deepEqual(targetsAt('pkg/mod.py', SOURCE, undefined).map((c) => c.kind), ['script']);
});

test('tests: pytest node ids for functions and Test classes, only in test files', () => {
  const source = [
    'import pytest',
    '',
    '@pytest.fixture',
    'def prefix():',
    '    return "x"',
    '',
    'def test_one(prefix):',
    '    assert prefix',
    '',
    'class TestGroup:',
    '    def test_two(self):',
    '        pass',
    '',
    '    def helper(self):',
    '        pass',
  ].join('\n');
  const at = (line: number) => targetsAt('tests/test_things.py', source, line)[0];
  assert.deepEqual([at(7).spec, at(7).kind], ['tests/test_things.py::test_one', 'test']);
  assert.equal(at(11).spec, 'tests/test_things.py::TestGroup::test_two');
  assert.equal(at(14).kind, 'script', 'a helper method is not a test');
  assert.equal(at(4).kind, 'script', 'a fixture cannot be called directly');
  assert.equal(targetsAt('src/things.py', source, 7)[0].spec, 'src/things.py:test_one', 'not a test file: a plain function');
  assert.deepEqual(lensTargets('tests/test_things.py', source).map((c) => c.spec), [
    'tests/test_things.py::test_one',
    'tests/test_things.py::TestGroup::test_two',
  ]);
});

test('lensTargets on the fixture programs: tests and argument-less public functions', () => {
  const fixtures = join(ROOT, 'test', 'fixtures', 'runtime');
  const lens = (name: string) => lensTargets(name, readFileSync(join(fixtures, name), 'utf8')).map((c) => `${c.spec}@${c.line}`);
  assert.deepEqual(lens('growing_global.py'), ['growing_global.py:record@4', 'growing_global.py:clean@8']);
  assert.deepEqual(lens('failing.py'), ['failing.py:fails_later@3'], 'needs_argument takes an argument');
  assert.deepEqual(lens('test_with_fixture.py'), ['test_with_fixture.py::test_loads_plugin@11']);
  assert.deepEqual(lens('parent_child.py'), ['parent_child.py:build_tree@13', 'parent_child.py:no_cycle@18']);
});
