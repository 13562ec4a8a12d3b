// Runs the built CLI (dist/leaklens.js) as a real process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'leaklens.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `cli`: another copy of the bundle to run (default: dist/leaklens.js). */
export function runCli(args: string[], options: { cwd?: string; input?: string; cli?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [options.cli ?? CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
