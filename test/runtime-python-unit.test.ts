// The runner's own unit tests (test/python/, unittest, standard library only) run from here with
// this machine's python3: the package imported from the source tree (PYTHONPATH=server/python,
// for the tests' own process only), no bytecode written into it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/cli';
import { NO_PYTHON, PYTHON } from './helpers/runtime';

test('the Python unit tests of the runner pass (python3 -m unittest discover -s test/python)', { skip: NO_PYTHON }, () => {
  const r = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', join('test', 'python'), '-t', join('test', 'python'), '-v'], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'server', 'python'), PYTHONDONTWRITEBYTECODE: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, output);
  const ran = /^Ran (\d+) tests? in /m.exec(r.stderr);
  assert.ok(ran, `no "Ran N tests" line:\n${output}`);
  assert.ok(Number(ran[1]) > 0, `no test ran:\n${output}`);
  assert.match(r.stderr, /^OK\b/m, output);
  // Every test module was found: a module that fails to import shows up as a failure above, one
  // that is not named test_*.py would silently not run.
  for (const module of ['test_targets', 'test_growth', 'test_cycles', 'test_retention', 'test_suite', 'test_profile']) {
    assert.match(r.stderr, new RegExp(`\\(${module}\\.`), `${module} ran:\n${output}`);
  }
});
