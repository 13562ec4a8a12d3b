// The `leaklens` command: check files, print rule documentation, or run the language server.
// Uses the analysis and parsing layers directly; never the protocol layer's LSP code paths.
import { Command, CommanderError, Option } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { renderMarkdown, renderText } from '../analysis/docs';
import { Analyzer, AnalyzedFinding } from '../analysis/engine';
import { findRule, RULES } from '../analysis/registry';
import { AnalysisOptions } from '../analysis/types';
import { DEFAULT_SETTINGS, findPyproject, formatProblem, loadPyproject, Settings } from '../workspace/config';
import { discoverPythonFiles, encodeSource, readSource } from '../workspace/files';
import { displayPath, FileFindings, toJson, toText } from './output';
import { version } from '../version';
import { startServer } from '../protocol/server';

const EXIT_CLEAN = 0;
const EXIT_FINDINGS = 1;
const EXIT_USAGE = 2;

function list(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

interface CheckOptions {
  format: 'text' | 'json';
  select?: string[];
  ignore?: string[];
  fix?: boolean;
  unsafeFixes?: boolean;
  exitZero?: boolean;
  quiet?: boolean;
  config?: string;
  verbose?: boolean;
}

interface Job {
  path: string;
  settings: Settings;
}

/** The settings for each file: its path argument's nearest pyproject.toml (or --config), then the flags. */
function plan(paths: string[], opts: CheckOptions): { jobs: Job[]; error?: string } {
  const problems: string[] = [];
  const jobs: Job[] = [];
  const explicit = opts.config ? loadPyproject(resolve(opts.config)) : undefined;
  if (opts.config && !existsSync(opts.config)) return { jobs, error: `leaklens: --config ${opts.config}: no such file` };
  for (const target of paths.length ? paths : ['.']) {
    if (!existsSync(target)) return { jobs, error: `leaklens: ${target}: no such file or directory` };
    const found = explicit ? undefined : findPyproject(target);
    const loaded = explicit ?? (found ? loadPyproject(found) : undefined);
    problems.push(...(loaded?.problems ?? []).map(formatProblem));
    const base = loaded?.settings ?? DEFAULT_SETTINGS;
    const options: AnalysisOptions = {
      ...base.options,
      select: opts.select ?? base.options.select,
      ignore: opts.ignore ?? base.options.ignore,
    };
    const settings: Settings = { ...base, options };
    const configDir = loaded?.source ? dirname(loaded.source) : resolve('.');
    const { files } = discoverPythonFiles([target], {
      exclude: settings.exclude,
      base: configDir,
      onSkip: (path, reason) => {
        if (opts.verbose) process.stderr.write(`leaklens: skipped ${displayPath(path)}: ${reason}\n`);
      },
    });
    for (const path of files) jobs.push({ path, settings });
  }
  if (problems.length) return { jobs, error: problems.map((p) => `leaklens: configuration error: ${p}`).join('\n') };
  const seen = new Set<string>();
  return { jobs: jobs.filter((j) => !seen.has(j.path) && seen.add(j.path)) };
}

async function check(paths: string[], opts: CheckOptions): Promise<number> {
  for (const code of [...(opts.select ?? []), ...(opts.ignore ?? [])]) {
    if (!RULES.some((r) => r.code.startsWith(code.toUpperCase()))) {
      process.stderr.write(`leaklens: unknown rule code or prefix '${code}'\n`);
      return EXIT_USAGE;
    }
  }
  const { jobs, error } = plan(paths, opts);
  if (error) {
    process.stderr.write(error + '\n');
    return EXIT_USAGE;
  }
  const files = jobs.map((j) => j.path);
  const analyzer = await Analyzer.create();
  const results: FileFindings[] = [];
  let fixed = 0;
  for (const { path, settings } of jobs) {
    const options = settings.options;
    const source = readSource(path, settings.maxFileSize);
    if (!source.ok) {
      process.stderr.write(`leaklens: skipped ${displayPath(path)}: ${source.reason}\n`);
      continue;
    }
    let text = source.text;
    try {
      if (opts.fix || opts.unsafeFixes) {
        const result = analyzer.fixText(text, options, !!opts.unsafeFixes);
        if (result.applied > 0) {
          const bytes = encodeSource(result.text, source.encoding, source.bom);
          if (bytes) {
            writeFileSync(path, bytes);
            fixed += result.applied;
            text = result.text;
          } else {
            process.stderr.write(`leaklens: not fixed ${displayPath(path)}: cannot write ${source.encoding} back faithfully\n`);
          }
        }
      }
      const findings: AnalyzedFinding[] = analyzer.analyzeText(text, options).findings;
      if (findings.length) results.push({ path, text, findings });
    } catch (err) {
      process.stderr.write(`leaklens: skipped ${displayPath(path)}: ${(err as Error).message}\n`);
    }
  }
  const count = results.reduce((n, r) => n + r.findings.length, 0);
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify(toJson(results), null, 2) + '\n');
  } else {
    if (!opts.quiet) process.stdout.write(toText(results));
    const fixable = results.reduce((n, r) => n + r.findings.filter((f) => f.fixes.some((x) => x.safety === 'safe')).length, 0);
    const summary = [`Checked ${files.length} file${files.length === 1 ? '' : 's'}: ${count === 0 ? 'no findings' : `${count} finding${count === 1 ? '' : 's'}`}`];
    if (fixed) summary.push(`${fixed} fixed`);
    if (fixable) summary.push(`${fixable} fixable with --fix ([*])`);
    process.stdout.write(summary.join('; ') + '.\n');
  }
  analyzer.dispose();
  return count > 0 && !opts.exitZero ? EXIT_FINDINGS : EXIT_CLEAN;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('leaklens')
    .description('Find and fix memory-leak patterns in Python code.')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('check')
    .description('check Python files and folders (default: the current folder)')
    .argument('[paths...]', 'files or folders')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--select <codes>', 'only these rule codes or prefixes (comma-separated)', list)
    .option('--ignore <codes>', 'skip these rule codes or prefixes (comma-separated)', list)
    .option('--fix', 'apply safe fixes in place')
    .option('--unsafe-fixes', 'apply unsafe fixes too (implies --fix)')
    .option('--exit-zero', 'exit 0 even when there are findings')
    .option('--quiet', 'print only the summary (text format)')
    .option('--config <file>', 'read [tool.leaklens] from this pyproject.toml instead of the nearest one')
    .option('--verbose', 'say which files and folders were skipped and why')
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
      for (const r of RULES) process.stdout.write(`${r.code}  ${r.name.padEnd(34)} ${r.defaultSeverity.padEnd(8)} ${r.docs.summary}\n`);
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
    .action(async () => {
      startServer();
      setExit(-1);
    });
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
