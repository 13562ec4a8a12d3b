// The Python runner as a process, for the run-time tests: where it is, how it is run, and one
// call that runs a mode on a target and checks the report it writes against the schema.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ROOT } from './cli';
import { validateSchema } from './json-schema';
import type { RuntimeReport } from '../../server/src/runtime/report';
import { launchArguments } from '../../server/src/runtime/spawn';

export const PYTHON = process.env.LEAKLENS_TEST_PYTHON ?? 'python3';
/** The runner's folder (the package) in the source tree, and how spawn.ts starts it. */
export const RUNNER = join(ROOT, 'server', 'python', 'leaklens_runner');
export const LAUNCH = launchArguments(RUNNER);
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'runtime');
export const SCHEMA = JSON.parse(readFileSync(join(ROOT, 'server', 'python', 'report.schema.json'), 'utf8'));
export const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTEST_DISABLE_PLUGIN_AUTOLOAD: '1' };

/** Does `python -c code` exit 0 on this machine? */
export const pythonRuns = (code: string): boolean => spawnSync(PYTHON, ['-c', code], { timeout: 30_000 }).status === 0;
export const HAVE_PYTHON = pythonRuns('import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)');
export const NO_PYTHON = HAVE_PYTHON ? false : `${PYTHON} (3.8+) is not available on this machine`;

export interface RunnerRun {
  status: number | null;
  report: RuntimeReport;
  stdout: string;
  stderr: string;
  /** The report and the runner's stderr, for assertion messages. */
  dump: string;
}

// Made when a test file imports this module, and removed when that file's tests are done (an
// `after` hook registered inside a test would run when that test ends).
const scratch = mkdtempSync(join(tmpdir(), 'leaklens-runner-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let reports = 0;

/** Runs `leaklens_runner MODE TARGET --report … --workspace FIXTURES`; the report must exist, match the schema and carry the exit code. */
export function runRunner(mode: string, target: string, extra: string[] = []): RunnerRun {
  const reportPath = join(scratch, `report-${++reports}.json`);
  const r = spawnSync(PYTHON, [...LAUNCH, mode, target, '--report', reportPath, '--workspace', FIXTURES, ...extra], {
    cwd: FIXTURES,
    env: ENV,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.ok(existsSync(reportPath), `no report written (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RuntimeReport;
  assert.deepEqual(validateSchema(SCHEMA, report), [], `the report matches the schema:\n${JSON.stringify(report, null, 2)}`);
  assert.equal(report.exitCode, r.status);
  return { status: r.status, report, stdout: r.stdout, stderr: r.stderr, dump: JSON.stringify(report, null, 2) + r.stderr };
}
