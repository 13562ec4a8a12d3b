// `leaklens run growth|cycles|resources|profile TARGET`: confirms leaks by running code with the
// project's own Python (tracemalloc, gc and ResourceWarning; nothing to install). stdout carries only the result (text, JSON,
// or the findings' graph as DOT or SVG);
// the program's own output goes to stderr, so `--format json` stays parseable.
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { Analyzer } from '../analysis/engine';
import { DEFAULT_OPTIONS } from '../analysis/types';
import { formatReportText } from '../runtime/format';
import { hasGraph, reportDot } from '../runtime/graph';
import { allFindings, RuntimeMode, RuntimeReport } from '../runtime/report';
import { defaultPython, runRuntime } from '../runtime/spawn';
import { CONFIRMED_BY_RESOURCES, matchStaticFindings, StaticFindingLine } from '../runtime/static-match';
import { renderSvg } from '../runtime/svg';

const EXIT_RUNNER_ERROR = 2;

interface RunCommandOptions {
  python?: string;
  format: 'text' | 'json' | 'dot' | 'svg';
  out?: string;
  workspace?: string;
  warmup?: number;
  rounds?: number;
  calls?: number;
  frames?: number;
  minBytes?: number;
  watch?: string[];
  verbose?: boolean;
  testTimeout?: number;
  collector?: 'auto' | 'pytest' | 'unittest';
  failOn: FailOn;
}

type FailOn = 'leak' | 'error' | 'never';

/**
 * The exit status CI gates on, from the runner's report: 2 when the runner could not run the code
 * (its errors; a cancel too), else by `--fail-on`: leak = 1 when something leaks (a leaking test
 * of a suite, a leak, cycle or unclosed resource of one target); error = 1 also when a test
 * failed or timed out; never = 0.
 */
export function exitStatus(report: RuntimeReport, failOn: FailOn): number {
  if (report.errors.length || report.exitCode === EXIT_RUNNER_ERROR) return EXIT_RUNNER_ERROR;
  if (failOn === 'never') return 0;
  if (report.exitCode === 1) return 1;
  if (failOn === 'error' && ((report.totals.failed ?? 0) > 0 || (report.totals.timeout ?? 0) > 0)) return 1;
  return 0;
}

function seconds(value: string): number {
  const n = Number(value.trim());
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n)) throw new InvalidArgumentError('a number of seconds is expected (0: no limit).');
  return n;
}

function count(minimum: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('a whole number is expected.');
    const n = Number(value);
    if (n < minimum) throw new InvalidArgumentError(`at least ${minimum}.`);
    return n;
  };
}

function names(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

async function run(mode: RuntimeMode, target: string, scriptArgs: string[], opts: RunCommandOptions): Promise<number> {
  const python = opts.python ?? process.env.LEAKLENS_PYTHON ?? defaultPython();
  const workspace = resolve(opts.workspace ?? '.');
  const toStderr = (text: string) => process.stderr.write(text);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result;
  try {
    result = await runRuntime({
      python,
      mode,
      target,
      workspace,
      warmup: opts.warmup,
      rounds: opts.rounds,
      calls: opts.calls,
      frames: opts.frames,
      minBytes: opts.minBytes,
      watch: opts.watch,
      testTimeout: opts.testTimeout,
      collector: opts.collector,
      scriptArgs,
      signal: controller.signal,
      onStdout: toStderr,
      onStderr: toStderr,
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (!result.report) {
    process.stderr.write(`leaklens: run ${mode} ${target}: ${result.failure ?? 'no report'}\n`);
    return EXIT_RUNNER_ERROR;
  }
  const report = result.report;
  if (mode === 'resources') await addStaticMatches(report, workspace);
  let output: string;
  if (opts.format === 'dot' || opts.format === 'svg') {
    // The pictures of the findings (retention paths, cycles); the text summary goes to stderr.
    if (!allFindings(report).some(hasGraph)) process.stderr.write('leaklens: no finding has a retention path or a cycle to draw: the graph is empty\n');
    const dot = reportDot(report, { base: workspace });
    try {
      output = opts.format === 'dot' ? dot : await renderSvg(dot);
    } catch (error) {
      process.stderr.write(`leaklens: ${(error as Error).message}\n`);
      return EXIT_RUNNER_ERROR;
    }
  } else {
    output = opts.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReportText(report, { base: workspace, verbose: opts.verbose });
  }
  if (opts.out) {
    try {
      writeFileSync(opts.out, output);
    } catch (error) {
      process.stderr.write(`leaklens: cannot write ${opts.out}: ${(error as Error).message}\n`);
      return EXIT_RUNNER_ERROR;
    }
  } else {
    process.stdout.write(output);
  }
  if (report.errors.length && opts.format !== 'text') {
    // The JSON carries them; say it on stderr too so a script's log shows why it failed.
    for (const error of report.errors) process.stderr.write(`leaklens: ${error.message}\n`);
  }
  return exitStatus(report, opts.failOn);
}

/**
 * Runs the static resource rules a run confirms (LL101, LL103, LL104; low-confidence findings included, whatever the
 * configuration selects) on the workspace's Python files an unclosed resource stands on, and
 * records on each finding which of them found it (runtime/static-match.ts).
 */
async function addStaticMatches(report: RuntimeReport, workspace: string): Promise<void> {
  if (!report.findings.some((f) => f.kind === 'resource')) return;
  let analyzer: Analyzer | undefined;
  try {
    analyzer = await Analyzer.create();
  } catch (error) {
    process.stderr.write(`leaklens: static analysis unavailable, unclosed resources are not compared with it: ${(error as Error).message}\n`);
    return;
  }
  const options = { ...DEFAULT_OPTIONS, select: [...CONFIRMED_BY_RESOURCES], allFindings: true };
  const findingsOf = (file: string): StaticFindingLine[] | undefined => {
    const inside = relative(workspace, file);
    if (!file.endsWith('.py') || inside.startsWith('..') || inside.split(sep).includes('..')) return undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const result = analyzer!.analyzeText(text, options);
      if (result.skipped) return undefined;
      return result.findings.map((f) => ({ code: f.code, line: lineOf(text, f.start), ...(f.confidence ? { confidence: f.confidence } : {}) }));
    } catch {
      return undefined; // a file over the work budget: not known
    }
  };
  try {
    matchStaticFindings(report, findingsOf);
  } finally {
    analyzer.dispose();
  }
}

/** 1-based line of a UTF-16 offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Adds `run` to the `leaklens` program. */
export function registerRunCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('run')
    .description('run code and confirm leaks: memory growth per call (tracemalloc), reference cycles (gc) or unclosed resources (ResourceWarning); or profile its memory line by line')
    .addArgument(
      new Argument('<mode>', 'growth: allocations that grow on every call; cycles: reference cycles left to the garbage collector; resources: files, sockets and subprocesses never closed, by allocation line; profile: what each line allocates, holds and peaks at during one call (or --calls N)').choices(['growth', 'cycles', 'resources', 'profile']),
    )
    .argument('<target>', "module:function, path/to/file.py:function, either with arguments ('shop:handle(i % 50)': Python expressions in the module, i = the call number), a pytest node id (tests/test_x.py::test_y) or a script (path/to/script.py)")
    .argument('[script-args...]', 'arguments for a script target (after --)')
    .option('--python <path>', 'the Python interpreter to run the code with (default: $LEAKLENS_PYTHON, else python3)')
    .addOption(new Option('--format <format>', 'output format: text, json, or the retention paths and cycles as a graph (dot: Graphviz source; svg: drawn)').choices(['text', 'json', 'dot', 'svg']).default('text'))
    .option('--out <file>', 'write the result to this file instead of standard output')
    .option('--workspace <dir>', 'folder whose files are your code, and the working directory (default: the current folder)')
    .option('--warmup <n>', 'calls before measuring (default 3; scripts 1; resources and profile 0)', count(0))
    .option('--rounds <n>', 'growth: measured rounds (default 5; scripts 4)', count(2))
    .option('--calls <n>', 'calls per round (growth; default 50) or measured calls (cycles: default 20; resources: default 10; profile: default 1)', count(1))
    .option('--frames <n>', 'traceback depth kept by tracemalloc (default 25)', count(1))
    .option('--min-bytes <n>', 'growth: ignore sites that grew less than this (default 1024)', count(1))
    .option('--watch <names>', 'growth: module globals or class attributes whose length to follow, e.g. _cache,Plugin.registry (repeatable)', names)
    .option('--verbose', 'full tracebacks in the text output')
    .option('--test-timeout <seconds>', 'suites (a folder or a test file): seconds of its own time each test may take (default 60; 0: no limit)', seconds)
    .addOption(new Option('--collector <how>', 'suites: how tests are collected (auto: pytest when importable, else unittest)').choices(['auto', 'pytest', 'unittest']))
    .addOption(new Option('--fail-on <what>', 'exit 1 when: leak (something leaks), error (also a test failed or timed out), never').choices(['leak', 'error', 'never']).default('leak'))
    .addHelpText(
      'after',
      '\nThe program runs in the given interpreter; its own output goes to stderr.\n' +
        'A folder or a test file (test_*.py, *_test.py) is a suite: every test is measured on its own and the leaking tests are listed, worst first.\n' +
        'Exit status: 0 nothing found (profile: the profile was taken), 1 leaks, cycles or unclosed resources found (--fail-on error: also a test failed or timed out; --fail-on never: 0), 2 the code could not be run or the run was cancelled (see the errors).\n',
    )
    .action(async (mode: RuntimeMode, target: string, scriptArgs: string[], opts: RunCommandOptions) => setExit(await run(mode, target, scriptArgs, opts)));
}
