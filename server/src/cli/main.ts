// The `leaklens` command: check files, print rule documentation, or run the language server.
// Uses the analysis and parsing layers directly; never the protocol layer's LSP code paths.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { accessSync, appendFileSync, chmodSync, chownSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { renderMarkdown, renderText } from '../analysis/docs';
import { Analyzer } from '../analysis/engine';
import { findRule, onByDefault, RULES } from '../analysis/registry';
import { AnalysisOptions } from '../analysis/types';
import { DEFAULT_SETTINGS, findPyproject, formatProblem, LoadedConfig, loadPyproject, Settings } from '../workspace/config';
import { digestOf, discoverPythonFiles, encodeSource, isStub, STUB_REASON } from '../workspace/files';
import { FileJob, FileResult } from '../workers/check-file';
import { compileFixed } from './compile-check';
import { CACHE_FOLDER, cacheAllowed, ResultCache } from './cache';
import { defaultWorkerCount, InProcessRunner, JobOutcome, JobRunner, WorkerPool } from '../workers/pool';
import { displayPath, FileFailure, FileFindings, toGithub, toJson, toStatistics, toText } from './output';
import { Progress, PROGRESS_MIN_FILES } from './progress';
import { toSarif } from './sarif';
import { unifiedDiff } from './unidiff';
import { registerRunCommand } from './run';
import { version } from '../version';
import { DEFAULT_MAX_MESSAGE_BYTES, startServer, stdioConnection } from '../protocol/server';

const EXIT_CLEAN = 0;
const EXIT_FINDINGS = 1;
const EXIT_USAGE = 2;

const FORMATS = ['text', 'json', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

function list(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

interface CheckOptions {
  format: Format;
  select?: string[];
  extendSelect?: string[];
  ignore?: string[];
  fix?: boolean;
  unsafeFixes?: boolean;
  diff?: boolean;
  exitZero?: boolean;
  stdinFilename?: string;
  quiet?: boolean;
  statistics?: boolean;
  config?: string;
  verbose?: boolean;
  jobs?: number;
  allFindings?: boolean;
  fileTimeLimit?: number;
  /** false with --no-cache. */
  cache?: boolean;
  cacheDir?: string;
  cacheMaxEntries?: number;
}

interface Job {
  path: string;
  settings: Settings;
  /** The project root: the folder of the pyproject.toml in use, else the current folder (the cache lives there). */
  configDir: string;
}

/** `--config FILE`, else the nearest pyproject.toml from `target`; then --select/--ignore on top. */
function settingsFor(target: string, opts: CheckOptions, explicit: LoadedConfig | undefined): { settings: Settings; configDir: string; problems: string[] } {
  const found = explicit ? undefined : findPyproject(target);
  const loaded = explicit ?? (found ? loadPyproject(found) : undefined);
  const base = loaded?.settings ?? DEFAULT_SETTINGS;
  const options: AnalysisOptions = {
    ...base.options,
    select: opts.select ?? base.options.select,
    extendSelect: opts.extendSelect ?? base.options.extendSelect,
    ignore: opts.ignore ?? base.options.ignore,
    allFindings: opts.allFindings ?? base.options.allFindings,
  };
  return {
    settings: { ...base, options },
    configDir: loaded?.source ? dirname(loaded.source) : resolve('.'),
    problems: (loaded?.problems ?? []).map(formatProblem),
  };
}

/** Total bytes from which the default `--jobs` starts worker threads (≈ 0.2 s of analysis, what starting a worker costs). */
const WORKERS_FROM_BYTES = 512 * 1024;

/** The default number of analysis threads: the worker count on big trees; 1 (in-process) on small ones. */
function autoJobs(sizes: readonly number[]): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  return sizes.length > 1 && total >= WORKERS_FROM_BYTES ? defaultWorkerCount() : 1;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

function configError(problems: string[]): string {
  return problems.map((p) => `leaklens: configuration error: ${p}`).join('\n');
}

/** The settings for each file: its path argument's nearest pyproject.toml (or --config), then the flags. */
function plan(paths: string[], opts: CheckOptions): { jobs: Job[]; error?: string; unreadable?: FileFailure[] } {
  const problems: string[] = [];
  const jobs: Job[] = [];
  const unreadable: FileFailure[] = [];
  if (opts.config && !existsSync(opts.config)) return { jobs, error: `leaklens: --config ${opts.config}: no such file` };
  const explicit = opts.config ? loadPyproject(resolve(opts.config)) : undefined;
  for (const target of paths.length ? paths : ['.']) {
    if (!existsSync(target)) return { jobs, error: `leaklens: ${target}: no such file or directory` };
    const { settings, configDir, problems: found } = settingsFor(target, opts, explicit);
    problems.push(...found);
    const { files } = discoverPythonFiles([target], {
      exclude: settings.exclude,
      base: configDir,
      notebooks: true,
      onSkip: (path, reason) => {
        if (opts.verbose) process.stderr.write(`leaklens: skipped ${displayPath(path)}: ${reason}\n`);
      },
      // A folder the system refused to list: its files were not checked (exit 2).
      onUnreadable: (path, reason) => unreadable.push({ path, reason: `cannot read folder (${reason.replace(/^cannot read folder: /, '')})` }),
    });
    for (const path of files) jobs.push({ path, settings, configDir });
  }
  if (problems.length) return { jobs, error: configError(problems) };
  const seen = new Set<string>();
  return { jobs: jobs.filter((j) => !seen.has(j.path) && seen.add(j.path)), unreadable };
}

/** `--stdin-filename NAME`: one job named NAME whose settings come from NAME's folder (exclude globs do not apply). */
function planStdin(name: string, opts: CheckOptions): { jobs: Job[]; error?: string } {
  if (opts.config && !existsSync(opts.config)) return { jobs: [], error: `leaklens: --config ${opts.config}: no such file` };
  const explicit = opts.config ? loadPyproject(resolve(opts.config)) : undefined;
  const path = resolve(name);
  const { settings, configDir, problems } = settingsFor(dirname(path), opts, explicit);
  if (problems.length) return { jobs: [], error: configError(problems) };
  if (isStub(path)) {
    if (opts.verbose) process.stderr.write(`leaklens: skipped ${name}: ${STUB_REASON}\n`);
    return { jobs: [] };
  }
  return { jobs: [{ path, settings, configDir }] };
}

/**
 * TEST ONLY: before `--fix` writes a file with this base name, a line is appended to it — an
 * editor saving the file between LeakLens reading and writing it (test/cli-fix-safety.test.ts).
 */
const TOUCH_BEFORE_WRITE = process.env.LEAKLENS_TEST_TOUCH_BEFORE_WRITE;

/**
 * Writes fixed bytes over `path` only if the file still holds what was read (`digest`), through
 * a temporary file in the same folder renamed over it (a reader never sees half a file; a crash
 * leaves the old one), keeping its permission bits. A symbolic link is followed: its target is
 * replaced. Returns true, or why the file was left alone.
 */
function writeFixed(path: string, bytes: Uint8Array, digest: string | undefined): true | string {
  let target: string;
  let current: Buffer;
  try {
    if (TOUCH_BEFORE_WRITE && basename(path) === TOUCH_BEFORE_WRITE) appendFileSync(path, '# edited meanwhile\n');
    target = realpathSync(path);
    current = readFileSync(target);
  } catch (err) {
    return `cannot read it again before writing: ${(err as Error).message}`;
  }
  if (digest === undefined || digestOf(current) !== digest) return 'it changed on disk while it was being checked; left as it is';
  const st = statSync(target);
  const mode = st.mode & 0o7777;
  // No write bit for anyone, or no permission for us: read-only on purpose (even for root).
  if ((mode & 0o222) === 0) return 'it is read-only; left as it is';
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    return `cannot write it: ${(err as Error).message}`;
  }
  const temporary = join(dirname(target), `.${basename(target)}.leaklens-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, bytes, { flag: 'wx', mode });
    chmodSync(temporary, mode); // the umask may have narrowed it
    try {
      chownSync(temporary, st.uid, st.gid);
    } catch {
      // Only root may give a file away; anyone else keeps their own files' owner anyway.
    }
    renameSync(temporary, target);
  } catch (err) {
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or already renamed
    }
    return `cannot write it: ${(err as Error).message}`;
  }
  return true;
}

/** Usage errors in the combination of flags, else undefined. */
function usageError(paths: string[], opts: CheckOptions): string | undefined {
  for (const code of [...(opts.select ?? []), ...(opts.extendSelect ?? []), ...(opts.ignore ?? [])]) {
    if (code.toUpperCase() === 'ALL') continue;
    if (!RULES.some((r) => r.code.startsWith(code.toUpperCase()))) return `unknown rule code or prefix '${code}'`;
  }
  if (opts.stdinFilename !== undefined) {
    if (opts.stdinFilename.trim() === '') return '--stdin-filename needs a file name';
    if (paths.length) return '--stdin-filename reads standard input; give no paths with it';
  }
  if (opts.diff && opts.format !== 'text') return `--diff prints a unified diff; it cannot be combined with --format ${opts.format}`;
  return undefined;
}

async function check(paths: string[], opts: CheckOptions): Promise<number> {
  const usage = usageError(paths, opts);
  if (usage) {
    process.stderr.write(`leaklens: ${usage}\n`);
    return EXIT_USAGE;
  }
  const stdin = opts.stdinFilename !== undefined;
  const planned: { jobs: Job[]; error?: string; unreadable?: FileFailure[] } = stdin ? planStdin(opts.stdinFilename!, opts) : plan(paths, opts);
  const { jobs, error } = planned;
  if (error) {
    process.stderr.write(error + '\n');
    return EXIT_USAGE;
  }
  const fixing = !!(opts.fix || opts.unsafeFixes) && !opts.diff;
  // With --fix on standard input the fixed source is the output; the report goes to stderr.
  const report = stdin && fixing ? process.stderr : process.stdout;
  const progress = Progress.create(process.stderr, jobs.length, opts.format === 'text' && !stdin);
  const warn = (message: string) => {
    progress.clear();
    process.stderr.write(`leaklens: ${message}\n`);
  };

  let input: Buffer | undefined;
  if (stdin) {
    try {
      input = readFileSync(0);
    } catch (err) {
      warn(`cannot read standard input: ${(err as Error).message}`);
      return EXIT_USAGE;
    }
  }
  // A stub on standard input is not analysed; with --fix its source goes back unchanged.
  if (stdin && fixing && jobs.length === 0) process.stdout.write(input!);
  const fileJobs = jobs.map(({ path, settings }): FileJob => ({
    path,
    options: settings.options,
    maxFileSize: settings.maxFileSize,
    mode: opts.diff ? 'diff' : fixing ? 'fix' : 'check',
    unsafe: !!opts.unsafeFixes,
    analyze: !opts.diff || !!opts.statistics,
    input,
  }));
  // The result cache (cli/cache.ts): one per folder; never for standard input or under test hooks.
  const caches = new Map<string, ResultCache>();
  const caching = !stdin && opts.cache !== false && jobs.length > 0 && cacheAllowed();
  const cacheOf = (job: Job): ResultCache | undefined => {
    if (!caching) return undefined;
    const dir = opts.cacheDir !== undefined ? resolve(opts.cacheDir) : (job.settings.cacheDir ?? join(job.configDir, CACHE_FOLDER));
    let cache = caches.get(dir);
    if (!cache) caches.set(dir, (cache = new ResultCache(dir, warn, opts.cacheMaxEntries)));
    return cache;
  };
  const jobCaches = jobs.map(cacheOf);
  const hits = jobs.map((job, i) => jobCaches[i]?.lookup(ResultCache.probe(job.path, job.settings.maxFileSize), fileJobs[i], job.settings));
  const sizes = jobs.map(({ path }) => {
    try {
      return stdin ? input!.length : statSync(path).size;
    } catch {
      return 0;
    }
  });
  // Threads are started for the files the cache did not answer.
  const workers = stdin ? 1 : (opts.jobs ?? autoJobs(sizes.filter((_, i) => !hits[i])));
  let analyzer: Promise<Analyzer> | undefined;
  // After a WebAssembly trap in this process: a fresh runtime and analyzer for the other files.
  const recreate = async () => {
    const old = analyzer;
    analyzer = undefined;
    if (old) analyzer = (await old).recreate();
    await analyzer;
    if (opts.verbose) warn('the WebAssembly runtime was recreated after a trap');
  };
  const runner: JobRunner =
    workers > 1
      ? new WorkerPool({ size: workers, timeLimitMs: opts.fileTimeLimit, log: opts.verbose ? (m) => warn(m) : undefined })
      : new InProcessRunner(() => (analyzer ??= Analyzer.create()), recreate);

  const results: FileFindings[] = [];
  let fixed = 0;
  const diff: Buffer[] = [];
  let wouldFix = 0;
  let filesToFix = 0;
  /** Files that could not be read, checked or written: the run says so and exits 2. */
  const failures: FileFailure[] = [];
  const failedPaths = new Set<string>();
  /** Files not parsed because no selected rule could report anything in their text (said with --verbose). */
  let unparsed = 0;
  const pendingDiffs: Array<{ path: string; shown: string; diff: NonNullable<FileResult['diff']> }> = [];
  const pendingWrites: Array<{ path: string; shown: string; fix: NonNullable<FileResult['fix']> }> = [];
  const fail = (path: string, reason: string, message = `failed on ${displayPath(path)}: ${reason}`) => {
    warn(message);
    failures.push({ path, reason });
    failedPaths.add(path);
  };

  for (const folder of planned.unreadable ?? []) fail(folder.path, folder.reason, `cannot read folder ${displayPath(folder.path)}: ${folder.reason.slice('cannot read folder ('.length, -1)}`);

  /** Reports one file's outcome; files are handled in the order of `jobs` whatever order they finish in. */
  const handle = (path: string, outcome: JobOutcome): void => {
    const shown = displayPath(path);
    const what = stdin ? `standard input (${shown})` : shown;
    if (outcome.status === 'cancelled') return;
    if (outcome.status !== 'done') {
      fail(path, outcome.reason, `${outcome.status === 'timeout' ? 'timed out on' : 'failed on'} ${what}: ${outcome.reason}`);
      return;
    }
    const r = outcome.result;
    if (r.unparsed) unparsed++;
    if (r.generated) {
      if (opts.verbose) warn(`skipped ${shown}: ${r.generated}; include-generated = true analyses it`);
      if (stdin && fixing) process.stdout.write(input!);
      return;
    }
    if (r.notPython) {
      if (opts.verbose) warn(`skipped ${shown}: ${r.notPython}`);
      if (stdin && fixing) process.stdout.write(input!);
      return;
    }
    if (r.unreadable) {
      // Standard input that cannot be decoded, or a read the system refused, is a failure; a file
      // that is binary, too large or in an unknown encoding is skipped on purpose.
      if (stdin) fail(path, r.unreadable, `cannot check ${what}: ${r.unreadable}`);
      else if (r.readFailed) fail(path, r.unreadable, `cannot read ${shown}: ${r.unreadable}`);
      else warn(`skipped ${shown}: ${r.unreadable}`);
      return;
    }
    // Fixed texts are compiled by python3 (one process for the run) before they are printed or written.
    for (const refused of r.refusedFixes ?? []) warn(`${shown}: fix not applied: ${refused} (notebook cells are fixed one by one)`);
    if (r.diff) pendingDiffs.push({ path, shown, diff: r.diff });
    if (r.fix?.unencodable) fail(path, `cannot write ${r.fix.unencodable} back faithfully`, `not fixed ${shown}: cannot write ${r.fix.unencodable} back faithfully`);
    if (r.fix?.bytes) pendingWrites.push({ path, shown, fix: r.fix });
    else if (stdin && fixing && (!r.error || r.fix)) process.stdout.write(input!);
    if (r.error) {
      fail(path, r.error, `cannot check ${what}: ${r.error}`);
      return;
    }
    if (r.skipReason) warn(`skipped ${shown}: ${r.skipReason}`);
    // Checked all the same (the parts that parse), but a file Python cannot run is worth a word.
    if (r.syntaxError) warn(`${shown}:${r.syntaxError.cell !== undefined ? `cell ${r.syntaxError.cell}:` : ''}${r.syntaxError.line}:${r.syntaxError.column}: syntax error: checked only as far as the parser could recover (Python would refuse this file)`);
    if (r.ruleFailures?.length) {
      for (const failure of r.ruleFailures) warn(`rule failed on ${shown}: ${failure}`);
      failures.push({ path, reason: `not every rule could finish (${r.ruleFailures.map((f) => f.split(':')[0]).join(', ')})` });
      failedPaths.add(path);
    }
    if (r.findings.length) results.push({ path, text: r.text!, findings: r.findings, ...(r.notebook ? { notebook: r.notebook } : {}) });
  };

  let fallback: InProcessRunner | undefined;
  const outcomes: Array<JobOutcome | undefined> = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const settled = (i: number, outcome: JobOutcome): void => {
    outcomes[i] = outcome;
    progress.update(++done);
    for (; next < jobs.length && outcomes[next]; next++) {
      handle(jobs[next].path, outcomes[next]!);
      outcomes[next] = undefined;
    }
  };
  try {
    await Promise.all(
      jobs.map(({ settings }, i) => {
        const job = fileJobs[i];
        const hit = hits[i];
        if (hit) return Promise.resolve<JobOutcome>({ status: 'done', result: hit }).then((outcome) => settled(i, outcome));
        return runner
          .run(job, { size: sizes[i] })
          .then((outcome) => {
            if (outcome.status !== 'failed' || !(runner instanceof WorkerPool) || !runner.unavailable) return outcome;
            // No worker can start at all (say, dist/worker.js missing): check in this process instead.
            if (!fallback) {
              warn(`${runner.unavailable}; checking in this process instead`);
              fallback = new InProcessRunner(() => (analyzer ??= Analyzer.create()), recreate);
            }
            return fallback.run(job, { size: sizes[i] });
          })
          .then((outcome) => {
            if (outcome.status === 'done') jobCaches[i]?.store(job, settings, outcome.result);
            settled(i, outcome);
          });
      }),
    );
    if (opts.verbose && unparsed > 0) {
      // Of the files analysed in this run (a result from the cache says nothing about parsing).
      const analysed = hits.filter((h) => !h).length;
      warn(`${unparsed} of ${analysed} file${analysed === 1 ? '' : 's'} not parsed: no selected rule can report anything in their text`);
    }
    for (const [dir, cache] of caches) {
      cache.prune();
      if (opts.verbose) {
        const { hits: read, stored, damaged, pruned } = cache.counts;
        warn(`cache ${displayPath(dir)}: ${read} of ${jobCaches.filter((c) => c === cache).length} files from the cache, ${stored} stored${damaged ? `, ${damaged} damaged entries ignored` : ''}${pruned ? `, ${pruned} old entries removed` : ''}`);
      }
    }
  } finally {
    progress.clear();
    await runner.close();
    await fallback?.close();
    if (analyzer) (await analyzer).dispose();
  }
  // The fixed texts of the run, compiled by python3 at once: one that no longer compiles is
  // neither printed nor written (its findings, computed on the fixed text, are dropped with it).
  const compiled = compileFixed([
    // A notebook's pair is its virtual module (magics masked), before and after the fixes.
    ...pendingDiffs.map((p): [string, string, string] => [p.shown, ...(p.diff.compile ?? [p.diff.before, p.diff.after])]),
    ...pendingWrites.map((p): [string, string, string] => [p.shown, p.fix.before ?? '', p.fix.after ?? '']),
  ]);
  if (compiled.unavailable && opts.verbose) warn(`fixed files not compiled with Python (${compiled.unavailable}); the built-in checks only`);
  pendingDiffs.forEach(({ path, shown, diff: d }, i) => {
    const broken = compiled.errors[i];
    if (broken) {
      fail(path, `the fixed text would not compile (${broken})`, `no diff for ${shown}: the fixed text would not compile (${broken})`);
      return;
    }
    // In the file's own bytes (encoding, BOM), so that patch finds the lines it changes.
    const bom = d.bom ? '\ufeff' : '';
    const bytes = encodeSource(unifiedDiff(bom + d.before, bom + d.after, shown.split(sep).join('/')), d.encoding, false);
    if (bytes) {
      diff.push(bytes);
      wouldFix += d.applied;
      filesToFix++;
    } else {
      warn(`no diff for ${shown}: cannot write ${d.encoding} back faithfully`);
    }
  });
  pendingWrites.forEach(({ path, shown, fix }, i) => {
    const broken = compiled.errors[pendingDiffs.length + i];
    if (stdin) {
      // The fixed source is the output: the source as it came when the fix does not compile.
      process.stdout.write(broken ? input! : fix.bytes!);
      if (broken) fail(path, `the fixed text would not compile (${broken})`, `not fixed standard input (${shown}): the fixed text would not compile (${broken}); printed as it came`);
      else fixed += fix.applied;
      return;
    }
    const written = broken ? `the fixed text would not compile (${broken}); left as it is` : writeFixed(path, fix.bytes!, fix.original);
    if (written !== true) {
      fail(path, written, `not fixed ${shown}: ${written}`);
      const at = results.findIndex((r) => r.path === path);
      if (at !== -1) results.splice(at, 1);
      return;
    }
    fixed += fix.applied;
  });
  const count = results.reduce((n, r) => n + r.findings.length, 0);
  const checked = `Checked ${jobs.length} file${jobs.length === 1 ? '' : 's'}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('x') ? 'es' : 's'}`;
  // A file that could not be read, checked or written: the run cannot claim a result for it.
  const incomplete = () => {
    const reasons = [...new Set(failures.map((f) => f.reason.replace(/\s*\(.*$/, '')))];
    process.stderr.write(`leaklens: ${plural(failedPaths.size, 'file')} could not be checked (${reasons.join('; ')}); see above.\n`);
    return EXIT_USAGE;
  };
  if (opts.diff) {
    // stdout carries only the diff (for `git apply` / `patch -p1`); the rest goes to stderr.
    process.stdout.write(Buffer.concat(diff));
    if (opts.statistics) process.stderr.write(toStatistics(results));
    process.stderr.write(`${checked}: ${wouldFix ? `would apply ${plural(wouldFix, 'fix')} in ${plural(filesToFix, 'file')}` : 'nothing to fix'}.\n`);
    if (failures.length) return incomplete();
    return wouldFix > 0 && !opts.exitZero ? EXIT_FINDINGS : EXIT_CLEAN;
  }
  switch (opts.format) {
    case 'json':
      report.write(JSON.stringify(toJson(results, failures), null, 2) + '\n');
      break;
    case 'sarif':
      report.write(JSON.stringify(toSarif(results, RULES, version, process.cwd(), failures), null, 2) + '\n');
      break;
    case 'github':
      report.write(toGithub(results, failures));
      break;
    default: {
      if (!opts.quiet) report.write(toText(results));
      if (opts.statistics && count) report.write((opts.quiet ? '' : '\n') + toStatistics(results) + '\n');
      const fixable = results.reduce((n, r) => n + r.findings.filter((f) => f.fixes.some((x) => x.safety === 'safe')).length, 0);
      const summary = [`${checked}: ${count === 0 ? 'no findings' : plural(count, 'finding')}`];
      if (failedPaths.size) summary.push(`${plural(failedPaths.size, 'file')} could not be checked`);
      if (fixed) summary.push(`${fixed} fixed`);
      if (fixable) summary.push(`${fixable} fixable with --fix ([*])`);
      report.write(summary.join('; ') + '.\n');
    }
  }
  // Machine formats keep their stream parseable: the table goes to stderr.
  if (opts.statistics && opts.format !== 'text') process.stderr.write(toStatistics(results));
  if (failures.length) return incomplete();
  return count > 0 && !opts.exitZero ? EXIT_FINDINGS : EXIT_CLEAN;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('leaklens')
    .description('Find and fix memory-leak patterns in Python code.')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .hook('preAction', (_program, action) => {
      // `leaklens check | head`: a reader that goes away early is not an error worth a stack trace.
      if (action.name() !== 'server') process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      });
    });

  program
    .command('check')
    .description('check Python files and folders (default: the current folder)')
    .argument('[paths...]', 'files or folders')
    .addOption(
      new Option('--format <format>', 'output format (sarif: SARIF 2.1.0; github: Actions workflow annotations)')
        .choices(FORMATS)
        .default('text'),
    )
    .option('--select <codes>', 'only these rule codes or prefixes (comma-separated; ALL for every rule); default: the default rule set', list)
    .option('--extend-select <codes>', 'these rule codes or prefixes on top of the selection (comma-separated)', list)
    .option('--ignore <codes>', 'skip these rule codes or prefixes (comma-separated)', list)
    .option('--fix', 'apply safe fixes in place (with --stdin-filename: print the fixed source)')
    .option('--unsafe-fixes', 'apply unsafe fixes too (implies --fix; with --diff: show them too)')
    .option('--diff', 'print the fixes as a unified diff instead of writing them; exit 1 if there is something to fix')
    .option('--all-findings', 'also report the findings LeakLens is not confident of (one severity lower)')
    .option('--exit-zero', 'exit 0 even when there are findings')
    .option('--stdin-filename <name>', 'check standard input, reported as NAME (settings from its folder); no paths')
    .option('--statistics', 'print the number of findings per rule (to stderr with json, sarif and github)')
    .option('--quiet', 'print only the summary (text format)')
    .option('--config <file>', 'read [tool.leaklens] from this pyproject.toml instead of the nearest one')
    .option('--verbose', 'say which files and folders were skipped and why (stubs, generated files, exclusions, …)')
    .option('--jobs <n>', 'analysis threads: 1 checks in this process; default: both cores on big trees', positiveInt)
    .option('--no-cache', 'neither read nor write the result cache')
    .option('--cache-dir <dir>', `keep the result cache here (default: ${CACHE_FOLDER} at the project root)`)
    // For tests and troubleshooting: the cache's bound on entries (default 50 000).
    .addOption(new Option('--cache-max-entries <n>').argParser(positiveInt).hideHelp())
    // For tests and troubleshooting: the per-file time limit of worker threads (default 10 s).
    .addOption(new Option('--file-time-limit <ms>').argParser(positiveInt).hideHelp())
    .addHelpText(
      'after',
      '\nExit status: 0 no findings, 1 findings (with --diff: something to fix), 2 usage or configuration error.\n' +
        'A progress line is shown on stderr when it is a terminal and more than ' + PROGRESS_MIN_FILES + ' files are checked.\n',
    )
    .action(async (paths: string[], opts: CheckOptions) => setExit(await check(paths, opts)));

  program
    .command('rule')
    .description("print a rule's documentation")
    .argument('<code>', 'rule code (LL101) or name (unclosed-resource)')
    .action((code: string) => {
      const rule = findRule(code);
      if (!rule) {
        process.stderr.write(`leaklens: unknown rule '${code}'; see 'leaklens rules'\n`);
        return setExit(EXIT_USAGE);
      }
      process.stdout.write(renderText(rule));
      setExit(EXIT_CLEAN);
    });

  program
    .command('rules')
    .description('list every rule')
    .action(() => {
      for (const r of RULES) process.stdout.write(`${r.code}  ${r.name.padEnd(34)} ${r.defaultSeverity.padEnd(8)} ${(onByDefault(r.code) ? 'default' : 'opt-in').padEnd(8)} ${r.docs.summary}\n`);
      setExit(EXIT_CLEAN);
    });

  program
    .command('docs', { hidden: true })
    .description('write every rule as Markdown into a folder')
    .argument('<folder>')
    .action((folder: string) => {
      mkdirSync(folder, { recursive: true });
      for (const r of RULES) writeFileSync(join(folder, `${r.code}.md`), renderMarkdown(r));
      setExit(EXIT_CLEAN);
    });

  program
    .command('server')
    .description('run the language server')
    .option('--stdio', 'talk LSP over standard input/output (the only transport)')
    // Language clients add this; the connection reads it from argv to exit with its editor.
    .option('--clientProcessId <pid>', 'the editor process to follow (added by language clients)')
    .addOption(new Option('--max-message-size <bytes>', 'the largest LSP message read; a bigger Content-Length ends the server (exit 2)').argParser(positiveInt).default(DEFAULT_MAX_MESSAGE_BYTES))
    .action(async (serverOpts: { maxMessageSize: number }) => {
      startServer(stdioConnection(serverOpts.maxMessageSize));
      setExit(-1);
    });
  registerRunCommand(program, setExit);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exit = EXIT_CLEAN;
  const program = buildProgram((code) => (exit = code));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_CLEAN;
      return EXIT_USAGE;
    }
    process.stderr.write(`leaklens: ${(err as Error).stack ?? err}\n`);
    return EXIT_USAGE;
  }
  return exit;
}

/** Runs the command line and sets the exit code; the server keeps the process alive itself. */
export function run(argv: string[] = process.argv): void {
  main(argv).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}

if (require.main === module) run();
