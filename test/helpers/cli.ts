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

/** Options that choose rules: a `check` given one of them keeps its own choice. */
const CHOOSING = /^--(select|config)(=|$)/;

/**
 * The tests exercise every rule, while only LL101 is on by default: `check` runs with
 * `--select ALL` unless the test chooses rules itself (`--select`, `--config`) or asks for the
 * defaults (`defaults: true`, also for a `[tool.leaklens]` the test writes, which a flag would
 * override).
 */
export function withAllRules(args: string[], defaults = false): string[] {
  if (defaults || args[0] !== 'check' || args.some((a) => CHOOSING.test(a))) return args;
  return [...args, '--select', 'ALL'];
}

/** `cli`: another copy of the bundle to run (default: dist/leaklens.js). */
export function runCli(args: string[], options: { cwd?: string; input?: string; cli?: string; defaults?: boolean } = {}): CliResult {
  const result = spawnSync(process.execPath, [options.cli ?? CLI, ...withAllRules(args, options.defaults)], {
    cwd: options.cwd ?? ROOT,
    input: options.input,
    encoding: 'utf8',
    timeout: 120_000,
    // The JSON of every rule on every fixture is over the default 1 MiB.
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
