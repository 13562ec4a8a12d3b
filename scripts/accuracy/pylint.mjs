// Runs pylint (when installed) over the accuracy corpus with only the three messages that
// overlap LeakLens rules, and saves its findings with the versions and the time it took in
// docs/accuracy/pylint.json. pylint is slow on the whole standard library (it infers types), so
// it runs at low priority and compare.mjs reuses this file when the corpus has not changed.
//   node scripts/accuracy/pylint.mjs
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, loadCorpus } from './corpus.mjs';

export const PYLINT_MESSAGES = ['W0102', 'R1732', 'W1518'];
/** Also enabled, to learn which files pylint could not analyse (it crashes on a few deep ones). */
const FAILURES = ['F0001', 'F0002', 'E0001'];

export function pylintVersion() {
  const r = spawnSync('pylint', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim().split('\n').join('; ');
}

/** Runs pylint over corpus.files (relative to corpus.stdlib); resolves to the saved record. */
export function runPylint(corpus, out = join(DATA, 'pylint.json')) {
  const version = pylintVersion();
  if (!version) throw new Error('pylint is not installed (apt-get install pylint)');
  const args = ['-n', '10', 'pylint', '--disable=all', `--enable=${[...PYLINT_MESSAGES, ...FAILURES].join(',')}`,
    '--output-format=json', '--score=n', '--persistent=n', '--jobs=1', ...corpus.files];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('nice', args, { cwd: corpus.stdlib, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let stderr = '';
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (status) => {
      const seconds = (Date.now() - started) / 1000;
      let messages;
      try {
        messages = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]');
      } catch (err) {
        reject(new Error(`pylint output is not JSON (exit ${status}): ${stderr.slice(0, 2000)}`));
        return;
      }
      const record = {
        tool: 'pylint',
        version,
        python: corpus.python,
        files: corpus.files.length,
        command: `nice ${args.slice(0, 9).join(' ')} <${corpus.files.length} files>`,
        seconds,
        exitStatus: status,
        // What pylint printed about its crashes: the exceptions and the crash titles, not the frames.
        stderr: [...new Set(stderr.split('\n').filter((l) => /^(\w+(Error|Exception)\b|Crash )/.test(l)))].slice(0, 50),
        findings: messages
          .map((m) => ({ path: m.path.replace(/\\/g, '/'), line: m.line, column: m.column + 1, code: m['message-id'], symbol: m.symbol, message: m.message }))
          .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code)),
      };
      writeFileSync(out, JSON.stringify(record, null, 1) + '\n');
      resolve(record);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = loadCorpus();
  console.log(`pylint over ${corpus.files.length} files of ${corpus.stdlib} (Python ${corpus.python}) ...`);
  const r = await runPylint(corpus);
  const per = {};
  for (const f of r.findings) per[f.code] = (per[f.code] ?? 0) + 1;
  console.log(`${r.version}\n${r.seconds.toFixed(0)} s, exit ${r.exitStatus}, findings: ${JSON.stringify(per)}`);
}
