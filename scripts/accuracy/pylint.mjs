// Runs pylint (when installed) over the accuracy corpus with only the three messages that
// overlap LeakLens rules, and saves its findings with the versions and the time it took in
// docs/accuracy/pylint.json. compare.mjs reuses that file while the corpus is the same.
//
//   node scripts/accuracy/pylint.mjs            (ACCURACY_PYLINT_JOBS=2 processes at a time)
//   node scripts/accuracy/pylint.mjs --check 40 (lint 40 of the files alone and compare)
//
// In one process for the whole library pylint's results depend on the order of the files:
// astroid records assignments to attributes of imported modules and classes that it meets
// (`builtins.open = …` in test_fileinput, `socket.socket = …`, `HTTPConnection.request = …` in
// tests that monkeypatch), and afterwards `open(…)` & co. in every later file have several
// inferred values, so R1732 stays silent on them (test_fileio's three `open` calls are reported
// when it is linted alone, not after test_fileinput). One process per file avoids that but takes
// over an hour (every process re-infers the modules it imports). So the files go in chunks, in
// corpus order, and every file that assigns to an attribute of something it imports ends its
// chunk: nothing is linted after it in the same process.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

function lintOne(stdlib, files) {
  return new Promise((resolve) => {
    const child = spawn('nice', ['-n', '10', 'pylint', ...ARGS, ...files], { cwd: stdlib, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', (e) => resolve({ files, messages: [], error: String(e) }));
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
      resolve({ files, messages, error: error ?? (crash.length ? crash.join(' | ') : undefined) });
    });
  });
}

/** Files that assign to (or delete, or setattr) an attribute of a name they import: they change what astroid infers later. */
const MONKEYPATCHERS = `
import ast, json, sys
root, files = sys.argv[1], json.loads(sys.stdin.read())
out = []
for rel in files:
    try:
        with open(root + "/" + rel, "rb") as fh:
            tree = ast.parse(fh.read())
    except Exception:
        continue
    imported = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                imported.add((a.asname or a.name).split(".")[0])
    def rooted(t):
        while isinstance(t, (ast.Attribute, ast.Subscript)):
            t = t.value
        return isinstance(t, ast.Name) and t.id in imported
    hit = False
    for n in ast.walk(tree):
        targets = n.targets if isinstance(n, (ast.Assign, ast.Delete)) else [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
        if any(isinstance(t, ast.Attribute) and rooted(t) for t in targets):
            hit = True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("setattr", "delattr") and n.args and rooted(n.args[0]):
            hit = True
    if hit:
        out.append(rel)
print(json.dumps(out))
`;

/** The corpus files in order, cut after every monkeypatching file. */
function chunks(corpus) {
  const patchers = new Set(JSON.parse(spawnSync('python3', ['-c', MONKEYPATCHERS, corpus.stdlib], { input: JSON.stringify(corpus.files), encoding: 'utf8', maxBuffer: 1 << 26 }).stdout));
  const out = [[]];
  for (const file of corpus.files) {
    out[out.length - 1].push(file);
    if (patchers.has(file)) out.push([]);
  }
  return { chunks: out.filter((c) => c.length > 0), patchers: patchers.size };
}

/** Runs pylint over corpus.files (relative to corpus.stdlib); resolves to the saved record. */
export async function runPylint(corpus, out = join(DATA, 'pylint.json'), jobs = Number(process.env.ACCURACY_PYLINT_JOBS ?? 2)) {
  const version = pylintVersion();
  if (!version) throw new Error('pylint is not installed (apt-get install pylint)');
  const started = Date.now();
  const plan = chunks(corpus);
  const results = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plan.chunks.length) {
      const files = plan.chunks[next++];
      results.push(await lintOne(corpus.stdlib, files));
      done += files.length;
      console.error(`  pylint: ${done}/${corpus.files.length} files`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  const seconds = (Date.now() - started) / 1000;
  const record = {
    tool: 'pylint',
    version,
    python: corpus.python,
    files: corpus.files.length,
    command: `nice -n 10 pylint ${ARGS.join(' ')} <files>, ${plan.chunks.length} processes (chunks cut after each of the ${plan.patchers} monkeypatching files), ${jobs} at a time`,
    seconds,
    // Crashes (F0002 astroid-error and the like) are in the findings with their file; this keeps what pylint printed.
    stderr: [...new Set(results.filter((r) => r.error).map((r) => r.error))],
    findings: results
      .flatMap((r) => r.messages)
      .map((m) => ({ path: m.path.replace(/\\/g, '/'), line: m.line, column: m.column + 1, code: m['message-id'], symbol: m.symbol, message: m.message }))
      .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code)),
  };
  writeFileSync(out, JSON.stringify(record, null, 1) + '\n');
  return record;
}

/**
 * Lints `count` files of the saved run one process each and compares their messages with the
 * chunked run's: the check that chunking changes nothing. Files are taken every n-th in corpus
 * order, so the choice is the same on every run.
 */
async function check(count) {
  const saved = JSON.parse(readFileSync(join(DATA, 'pylint.json'), 'utf8'));
  const corpus = loadCorpus();
  const step = Math.max(1, Math.floor(corpus.files.length / count));
  const files = corpus.files.filter((_, i) => i % step === 0).slice(0, count);
  const sig = (m) => `${m.code ?? m['message-id']}:${m.line}`;
  let differ = 0;
  for (const file of files) {
    const alone = await lintOne(corpus.stdlib, [file]);
    const a = alone.messages.map((m) => sig(m)).sort().join(' ');
    const b = saved.findings.filter((f) => f.path === file).map((f) => sig(f)).sort().join(' ');
    if (a !== b) {
      differ++;
      console.log(`DIFFERENT ${file}\n  alone:   ${a}\n  chunked: ${b}`);
    }
  }
  console.log(`${files.length} files linted alone; ${differ} differ from the chunked run`);
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes('--check')) {
  await check(Number(process.argv[process.argv.indexOf('--check') + 1] ?? 30));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = loadCorpus();
  console.log(`pylint over ${corpus.files.length} files of ${corpus.stdlib} (Python ${corpus.python}) ...`);
  const r = await runPylint(corpus);
  const per = {};
  for (const f of r.findings) per[f.code] = (per[f.code] ?? 0) + 1;
  console.log(`${r.version}\n${r.command}\n${r.seconds.toFixed(0)} s, findings: ${JSON.stringify(per)}`);
}
