// Runs pylint (when installed) over the accuracy corpus with only the three messages that
// overlap LeakLens rules, and saves its findings with the versions and the time it took in
// docs/accuracy/pylint.json. compare.mjs reuses that file while the corpus is the same.
//
//   node scripts/accuracy/pylint.mjs            (ACCURACY_PYLINT_JOBS=2 processes at a time)
//
// One pylint process per file: in one process for the whole library pylint's results depend on
// the order of the files. astroid records `builtins.open = …` assignments it meets (test_fileinput
// patches `open` that way), after which `open(…)` in every later file has two inferred values and
// R1732 stays silent on it (test_fileio's three `open` calls are reported when linted alone, not
// after test_fileinput). Separate processes make each file's result its own.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, loadCorpus } from './corpus.mjs';

export const PYLINT_MESSAGES = ['W0102', 'R1732', 'W1518'];
/** Also enabled, to learn which files pylint could not analyse (it crashes on a few). */
const FAILURES = ['F0001', 'F0002', 'E0001'];
const ARGS = ['--disable=all', `--enable=${[...PYLINT_MESSAGES, ...FAILURES].join(',')}`, '--output-format=json', '--score=n', '--persistent=n'];

export function pylintVersion() {
  const r = spawnSync('pylint', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim().split('\n').join('; ');
}

function lintOne(stdlib, file) {
  return new Promise((resolve) => {
    const child = spawn('nice', ['-n', '10', 'pylint', ...ARGS, file], { cwd: stdlib, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', (e) => resolve({ file, messages: [], error: String(e) }));
    child.on('close', (status) => {
      let messages = [];
      let error;
      try {
        messages = JSON.parse(Buffer.concat(out).toString('utf8') || '[]');
      } catch {
        error = `exit ${status}, output is not JSON`;
      }
      // What pylint printed about a crash: the exception lines, not the frames.
      const crash = [...new Set(err.split('\n').filter((l) => /^\w+(Error|Exception)\b/.test(l)))];
      resolve({ file, messages, error: error ?? (crash.length ? crash.join(' | ') : undefined) });
    });
  });
}

/** Runs pylint over corpus.files (relative to corpus.stdlib); resolves to the saved record. */
export async function runPylint(corpus, out = join(DATA, 'pylint.json'), jobs = Number(process.env.ACCURACY_PYLINT_JOBS ?? 2)) {
  const version = pylintVersion();
  if (!version) throw new Error('pylint is not installed (apt-get install pylint)');
  const started = Date.now();
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < corpus.files.length) {
      const file = corpus.files[next++];
      results.push(await lintOne(corpus.stdlib, file));
      if (results.length % 200 === 0) console.error(`  pylint: ${results.length}/${corpus.files.length} files`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  const seconds = (Date.now() - started) / 1000;
  const record = {
    tool: 'pylint',
    version,
    python: corpus.python,
    files: corpus.files.length,
    command: `nice -n 10 pylint ${ARGS.join(' ')} <file>, one process per file, ${jobs} at a time`,
    seconds,
    problems: results.filter((r) => r.error).map((r) => ({ path: r.file, error: r.error })).sort((a, b) => a.path.localeCompare(b.path)),
    findings: results
      .flatMap((r) => r.messages)
      .map((m) => ({ path: m.path.replace(/\\/g, '/'), line: m.line, column: m.column + 1, code: m['message-id'], symbol: m.symbol, message: m.message }))
      .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code)),
  };
  writeFileSync(out, JSON.stringify(record, null, 1) + '\n');
  return record;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = loadCorpus();
  console.log(`pylint over ${corpus.files.length} files of ${corpus.stdlib} (Python ${corpus.python}) ...`);
  const r = await runPylint(corpus);
  const per = {};
  for (const f of r.findings) per[f.code] = (per[f.code] ?? 0) + 1;
  console.log(`${r.version}\n${r.seconds.toFixed(0)} s, findings: ${JSON.stringify(per)}, files with problems: ${r.problems.length}`);
}
