// LeakLens benchmark: prints figures, never asserts, exits 0. Run with `npm run bench` (builds
// first). docs/performance.md explains every figure and the targets (product spec §6).
//   1. corpus: the local Python standard library, as `leaklens check` discovers it
//   2. cold processes over the same files: `leaklens check --quiet --exit-zero` (with --jobs 1
//      and the default when the CLI has --jobs; --no-cache when it has a result cache), Ruff's
//      WebAssembly build (B006 B008 B019 SIM115 RUF012), bare web-tree-sitter parsing (1 thread
//      and 2 worker threads)
//   2b. the result cache: a copy of the corpus checked cold (empty cache), then warm; the ratio
//   3. keystroke latency over LSP (didChange -> publishDiagnostics of that version) on a copy of
//      test_enum.py, against bare web-tree-sitter edit + incremental reparse of the same script
//   3b. a burst of pipelined changes (500, one character each): time to the last version's
//      diagnostics, and how many publishes it made
//   4a. didOpen -> first diagnostics while a 50 000-file workspace is walked and scanned, and
//      after a configuration change there
//   4. server RSS after a workspace scan of the standard library
//   5. soak: server RSS over 100 000 edits
//   6. one comparison table: figures, peers, ratios, targets met / missed
// Knobs (environment): BENCH_CORPUS, BENCH_REPEAT, BENCH_SKIP_CHECK, BENCH_SKIP_RUFF,
// BENCH_SKIP_PARSE, BENCH_SKIP_LATENCY, BENCH_SKIP_SCAN, BENCH_SKIP_SOAK, BENCH_TYPING_EDITS,
// BENCH_LATENCY_BUDGET_S, BENCH_LATENCY_FILE, BENCH_SOAK_EDITS, BENCH_SOAK_GROUP,
// BENCH_SOAK_BUDGET_S, BENCH_SOAK_SAMPLE, BENCH_SCAN_IDLE_S, BENCH_SKIP_MANY, BENCH_BURST_CHANGES,
// BENCH_BURST_ROUNDS, BENCH_SKIP_HUGE_WS, BENCH_HUGE_WS_FILES, BENCH_SKIP_CACHE, BENCH_CHECK_ARGS.
// Helpers live in scripts/bench/.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Edit, Language, Parser } from 'web-tree-sitter';
import { leaklensFiles, ROOT } from './bench/corpus.mjs';
import { liveServers, LspServer, procCpuSeconds } from './bench/lsp.mjs';
import { hasGnuTime, timedNode } from './bench/proc.mjs';
import { churnScript, collectAnchors, countLinesOfFiles, typingScript } from './bench/text.mjs';

const CLI = join(ROOT, 'dist', 'leaklens.js');
const BIN = join(ROOT, 'bin', 'leaklens.js');
const GRAMMAR = join(ROOT, 'grammars', 'tree-sitter-python.wasm');
const env = process.env;
const skip = (name) => !!env[`BENCH_SKIP_${name}`] && env[`BENCH_SKIP_${name}`] !== '0';
const REPEAT = Math.max(1, Number(env.BENCH_REPEAT ?? 1));
// Extra arguments for the cold `leaklens check` processes of section 2 (e.g. `--select LL101`).
const CHECK_ARGS = (env.BENCH_CHECK_ARGS ?? '').split(/\s+/).filter(Boolean);
const TYPING_EDITS = Number(env.BENCH_TYPING_EDITS ?? 500);
const BURST_CHANGES = Number(env.BENCH_BURST_CHANGES ?? 500);
const BURST_ROUNDS = Number(env.BENCH_BURST_ROUNDS ?? 5);
const HUGE_WS_FILES = Number(env.BENCH_HUGE_WS_FILES ?? 50000);
const WARMUP_EDITS = 40;
// The typing script stops early (and says so) once it has run this long.
const LATENCY_BUDGET_S = Number(env.BENCH_LATENCY_BUDGET_S ?? 150);
const EDIT_TIMEOUT_MS = 30000;
// Soak: single-character edits (insert, then delete, at 200 identifiers), SOAK_GROUP changes per
// didChange. Unless BENCH_SOAK_GROUP fixes it, the group is the smallest that fits the phase in
// about BENCH_SOAK_BUDGET_S seconds, from a calibration (see the soak section).
const SOAK_EDITS = Number(env.BENCH_SOAK_EDITS ?? env.BENCH_CHURN_EDITS ?? 100000);
const SOAK_GROUP_ENV = env.BENCH_SOAK_GROUP ? Math.max(1, Number(env.BENCH_SOAK_GROUP)) : undefined;
const SOAK_BUDGET_S = Number(env.BENCH_SOAK_BUDGET_S ?? 360);
// Seconds to wait after the scan before reading RSS again (the server stops idle workers after 5 s).
const SCAN_IDLE_S = Number(env.BENCH_SCAN_IDLE_S ?? 8);
const SOAK_SAMPLE = Math.max(1, Number(env.BENCH_SOAK_SAMPLE ?? Math.max(100, Math.round(SOAK_EDITS / 100))));
const SOAK_BATCH = 100; // edits sent (pipelined) between waits for the diagnostics of the last one
const SOAK_MAX_GROUP = 100;
// Targets (product spec §6).
const TARGET = { keystrokeRatio: 1.25, keystrokeP50Ms: 5, burstMs: 250, hugeWsOpenMs: 1000, scanRssMB: 200, flatMBPer10k: 1 };

const rows = []; // the comparison table: [measure, leaklens, peer, ratio, target, status]
const notes = [];
const benchStart = performance.now();
const tmp = mkdtempSync(join(tmpdir(), 'leaklens-bench-'));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const s of liveServers) s.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

// ---------------------------------------------------------------- helpers
function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s[0], p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1], mean };
}
const median = (xs) => stats(xs).p50;
const ms = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const mb = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const secs = (x) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtLoad = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const status = (ok) => (ok === undefined ? '' : ok ? 'met' : 'MISSED');
function heading(title) {
  const load = `[load ${loadavg()[0].toFixed(2)}]`;
  console.log(`\n=== ${title} ${'='.repeat(Math.max(3, 70 - title.length - load.length))} ${load}`);
}
function row(label, value) {
  console.log(`  ${label.padEnd(38)} ${value}`);
}
/** A table with a header row; a row ['--'] draws a rule. */
function table(header, body) {
  const all = [header, ...body.filter((r) => r[0] !== '--')];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const fmt = (r) => `|${r.map((c, i) => ` ${i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i])} `).join('|')}|`;
  console.log(rule);
  console.log(fmt(header));
  console.log(rule);
  for (const r of body) console.log(r[0] === '--' ? rule : fmt(header.map((_, i) => r[i] ?? '')));
  console.log(rule);
}
async function section(name, fn) {
  try {
    await fn();
  } catch (err) {
    console.log(`  !! ${name} FAILED: ${err?.stack ?? err}`);
    notes.push(`${name} failed: ${String(err?.message ?? err).split('\n')[0]}`);
  }
}
/** Findings as comparable keys: "LL101@12:5-12:20" (1-based line:column). */
const cliKey = (f) => `${f.code}@${f.start.line}:${f.start.column}-${f.end.line}:${f.end.column}`;
const lspKey = (d) => `${d.code}@${d.range.start.line + 1}:${d.range.start.character + 1}-${d.range.end.line + 1}:${d.range.end.character + 1}`;
function sameFindings(a, b) {
  return [...a].sort().join('\n') === [...b].sort().join('\n');
}
function logSummary(server) {
  const by = {};
  for (const l of server.logs) {
    const key = l.kind === 'request' ? `request ${l.message}` : `${l.kind}/${['?', 'error', 'warning', 'info', 'log', 'debug'][l.type] ?? l.type}`;
    by[key] = (by[key] ?? 0) + 1;
  }
  if (!Object.keys(by).length) return 'none';
  const distinct = [...new Set(server.logs.map((l) => l.message.split('\n')[0].slice(0, 160)))].slice(0, 3);
  return `${Object.entries(by).map(([k, v]) => `${k}: ${v}`).join(', ')}\n${distinct.map((m) => `      "${m}"`).join('\n')}`;
}
/** The text after the first n ops of a script. */
function textAfter(text, ops, n) {
  for (const op of ops.slice(0, n)) text = text.slice(0, op.start) + op.text + text.slice(op.end);
  return text;
}
const sleep = (t) => new Promise((r) => setTimeout(r, t));
/** Least-squares slope of ys over xs. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : NaN;
}

// ---------------------------------------------------------------- 0. environment
heading('0. environment');
let stdlib;
try {
  stdlib = execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], { encoding: 'utf8' }).trim();
  const pyver = execFileSync('python3', ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
  row('python3 stdlib', `${stdlib} (Python ${pyver})`);
} catch (err) {
  console.log(`  !! cannot locate the Python stdlib: ${err.message}`);
}
const CORPUS = env.BENCH_CORPUS ?? stdlib;
const LATENCY_SOURCE = env.BENCH_LATENCY_FILE ?? (stdlib ? join(stdlib, 'test', 'test_enum.py') : '');
row('corpus', `${CORPUS}${env.BENCH_CORPUS ? ' (BENCH_CORPUS)' : ''}`);
row('node', process.version);
row('cpus', `${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
row('load average (1/5/15 min)', fmtLoad());
row('CLI bundle', existsSync(CLI) ? `${CLI} (${(statSync(CLI).size / 1024).toFixed(0)} KiB)` : `${CLI} MISSING (run npm run build)`);
row('process measurement', hasGnuTime ? '/usr/bin/time (peak RSS and CPU from rusage)' : '/proc/<pid>/status VmHWM sampled every 50 ms');
const startLoad = loadavg()[0];

// ---------------------------------------------------------------- 1. corpus
let corpus;
let listFile;
await section('corpus', async () => {
  heading('1. corpus (the files leaklens check discovers)');
  const { files, skipped } = leaklensFiles(CORPUS);
  const { lines, bytes } = countLinesOfFiles(files);
  const py = files.filter((f) => f.endsWith('.py')).length;
  corpus = { files: files.length, py, pyi: files.length - py, lines, bytes };
  listFile = join(tmp, 'files.txt');
  writeFileSync(listFile, files.join('\n') + '\n');
  row('files', `${int(py)} .py${corpus.pyi ? ` + ${corpus.pyi} .pyi` : ''}`);
  row('total lines', int(lines));
  row('total size', `${(bytes / 1048576).toFixed(1)} MiB`);
  const notCache = skipped.filter((s) => !s.path.endsWith('__pycache__'));
  row('left out by discovery', `${skipped.length - notCache.length} __pycache__ folders${notCache.length ? `, ${notCache.map((s) => `${s.path.slice(CORPUS.length + 1)} (${s.reason})`).join(', ')}` : ''}`);
});

// ---------------------------------------------------------------- 2. cold processes over the corpus
const runs = {}; // name -> [{ wall, peakRssMB, userS, sysS, ... }]
let hasJobs = false;
// With a result cache the cold figures must not read it: every cold check gets --no-cache.
let hasCache = false;
const cold = (args) => (hasCache ? [...args, '--no-cache'] : args);
await section('cold processes', async () => {
  heading('2. cold processes over the same files');
  if (!corpus) throw new Error('no corpus');
  try {
    const help = execFileSync(process.execPath, [BIN, 'check', '--help'], { encoding: 'utf8' });
    hasJobs = /--jobs\b/.test(help);
    hasCache = /--no-cache\b/.test(help);
  } catch {
    hasJobs = false;
  }
  const contenders = [];
  if (!skip('CHECK')) {
    if (hasJobs) {
      contenders.push({ name: 'check --jobs 1', args: cold([BIN, 'check', CORPUS, '--quiet', '--exit-zero', '--jobs', '1', ...CHECK_ARGS]), kind: 'check' });
      contenders.push({ name: 'check (default jobs)', args: cold([BIN, 'check', CORPUS, '--quiet', '--exit-zero', ...CHECK_ARGS]), kind: 'check' });
    } else {
      contenders.push({ name: 'check', args: cold([BIN, 'check', CORPUS, '--quiet', '--exit-zero', ...CHECK_ARGS]), kind: 'check' });
    }
  }
  if (!skip('RUFF')) contenders.push({ name: 'ruff-wasm', args: [join(ROOT, 'scripts', 'bench', 'run-ruff.mjs'), listFile], kind: 'json' });
  if (!skip('PARSE')) {
    contenders.push({ name: 'parse, 1 thread', args: [join(ROOT, 'scripts', 'bench', 'run-parse.mjs'), listFile, '0'], kind: 'json' });
    contenders.push({ name: 'parse, 2 workers', args: [join(ROOT, 'scripts', 'bench', 'run-parse.mjs'), listFile, '2'], kind: 'json' });
  }
  row('commands', '');
  for (const c of contenders) console.log(`      ${c.name.padEnd(22)} node ${c.args.map((a) => a.replace(ROOT + '/', '').replace(tmp, '$TMP').replace(CORPUS, '<corpus>')).join(' ')}`);
  row('runs', `${REPEAT} of each, interleaved${REPEAT > 1 ? '; the median wall is reported' : ' (BENCH_REPEAT=n for the median of n)'}`);
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const c of contenders) {
      const load = loadavg()[0];
      const r = await timedNode(c.args, { tmpDir: tmp, cwd: ROOT });
      r.load = load;
      if (c.kind === 'json') {
        try {
          r.result = JSON.parse(r.stdout.trim().split('\n').pop());
        } catch {
          r.result = undefined;
        }
      } else {
        const m = /Checked ([\d,]+) files?: ([\d,]+) findings?/.exec(r.stdout);
        r.result = m ? { files: Number(m[1].replace(/,/g, '')), findings: Number(m[2].replace(/,/g, '')) } : undefined;
        r.skippedLines = r.stderr.split('\n').filter((l) => /skipped|timed out|time limit/.test(l));
      }
      (runs[c.name] ??= []).push(r);
      const cpu = r.userS !== undefined ? `, cpu ${(r.userS + r.sysS).toFixed(1)} s (${((r.userS + r.sysS) / r.wall).toFixed(2)} cores)` : '';
      row(`${c.name}${REPEAT > 1 ? ` #${rep + 1}` : ''}`, `${secs(r.wall)}, peak RSS ${mb(r.peakRssMB)} MB${cpu}, exit ${r.code}${r.signal ? ` (${r.signal})` : ''} [load ${load.toFixed(2)}]`);
      if (r.code !== 0) {
        notes.push(`${c.name} exited with ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        console.log(`      stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
    }
  }
  for (const c of contenders) {
    const r = runs[c.name][0];
    if (c.kind === 'check') {
      row(`${c.name}: result`, r.result ? `${int(r.result.files)} files checked, ${int(r.result.findings)} findings` : `no summary line in: ${JSON.stringify(r.stdout.slice(0, 200))}`);
      if (r.skippedLines.length) for (const s of r.skippedLines.slice(0, 10)) console.log(`      ${s.replace(CORPUS + '/', '')}`);
    } else if (r.result?.diagnostics !== undefined) {
      const by = Object.entries(r.result.byRule).sort().map(([k, v]) => `${k} ${v}`).join(', ');
      row(`${c.name}: result`, `${int(r.result.checked)} files checked, ${r.result.skipped} skipped, ${r.result.failures} failed, ${int(r.result.diagnostics)} diagnostics (${by})`);
      row('', `inside the process: init ${ms(r.result.initMs, 0)} ms, read+decode ${ms(r.result.readMs, 0)} ms, check ${ms(r.result.checkMs, 0)} ms; script done after ${secs(r.result.wallMs / 1000)} of ${secs(r.wall)} wall`);
    } else if (r.result?.parsed !== undefined) {
      row(`${c.name}: result`, `${int(r.result.parsed)} files parsed (${r.result.perThread.join(' + ')}), ${r.result.skipped} skipped, ${r.result.withErrors} trees with errors`);
      row('', `inside the process: init ${ms(r.result.initMs, 0)} ms, read+decode ${ms(r.result.readMs, 0)} ms, parse ${ms(r.result.parseMs, 0)} ms (summed over threads); script done after ${secs(r.result.wallMs / 1000)} of ${secs(r.wall)} wall`);
    }
  }
  if (corpus && runs[contenders[0]?.name]) {
    const best = contenders.filter((c) => c.kind === 'check').map((c) => median(runs[c.name].map((r) => r.wall)));
    if (best.length) row('check throughput', `${int(corpus.lines / Math.min(...best))} lines/s`);
  }
});

// ---------------------------------------------------------------- 2b. the result cache
// The discovered files are copied into a scratch folder (the cache then lives in the copy, at the
// current folder of the check); each repeat empties the cache, checks cold, then warm twice.
// Both formats that carry every finding are compared byte for byte between cold and warm.
const cacheRuns = { cold: [], warm: [] };
if (hasCache && corpus && !skip('CACHE')) {
  await section('result cache', async () => {
    heading('2b. result cache: cold vs warm check of a copy of the corpus');
    const copy = join(tmp, 'cache-copy');
    const tree = join(copy, 'tree');
    for (const file of readFileSync(listFile, 'utf8').split('\n').filter(Boolean)) {
      const to = join(tree, relative(CORPUS, file));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(file, to);
    }
    const cacheDir = join(copy, '.leaklens_cache');
    const args = [BIN, 'check', 'tree', '--quiet', '--exit-zero'];
    row('commands', `node bin/leaklens.js check <copy> --quiet --exit-zero (cwd: the copy's parent; cache emptied before each cold run)`);
    for (let rep = 0; rep < REPEAT; rep++) {
      rmSync(cacheDir, { recursive: true, force: true, maxRetries: 5 });
      const c = await timedNode(args, { tmpDir: tmp, cwd: copy });
      cacheRuns.cold.push(c);
      row(`cold${REPEAT > 1 ? ` #${rep + 1}` : ''}`, `${secs(c.wall)}, peak RSS ${mb(c.peakRssMB)} MB, exit ${c.code}`);
      for (let w = 0; w < 2; w++) {
        const r = await timedNode(args, { tmpDir: tmp, cwd: copy });
        cacheRuns.warm.push(r);
        row(`warm${REPEAT > 1 ? ` #${rep + 1}` : ''}.${w + 1}`, `${secs(r.wall)}, peak RSS ${mb(r.peakRssMB)} MB, exit ${r.code}${r.stdout === c.stdout ? '' : ' OUTPUT DIFFERS FROM COLD'}`);
      }
    }
    const coldWall = median(cacheRuns.cold.map((r) => r.wall));
    const warmWall = median(cacheRuns.warm.map((r) => r.wall));
    row('warm / cold wall (medians)', `${secs(warmWall)} / ${secs(coldWall)} = ${ratio(warmWall, coldWall)} (target <= 0.15x)`);
    let size = 0;
    let entries = 0;
    for (const line of execFileSync('find', [join(cacheDir, 'entries'), '-type', 'f', '-printf', '%s\n'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      size += Number(line);
      entries++;
    }
    row('cache on disk', `${int(entries)} entries, ${(size / 1048576).toFixed(1)} MiB of entry files`);
    // Same bytes cold and warm, for the formats that carry every finding.
    for (const format of ['json', 'sarif']) {
      const out = (cache) => execFileSync(process.execPath, [BIN, 'check', 'tree', '--format', format, '--exit-zero', ...(cache ? [] : ['--no-cache'])], { cwd: copy, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
      row(`${format}: warm == --no-cache`, out(true).equals(out(false)) ? 'yes, byte for byte' : 'NO');
    }
    rmSync(copy, { recursive: true, force: true, maxRetries: 5 });
  });
}

const wallOf = (name) => (runs[name] ? median(runs[name].map((r) => r.wall)) : NaN);
const cpuOf = (name) => (runs[name] && runs[name][0].userS !== undefined ? median(runs[name].map((r) => r.userS + r.sysS)) : NaN);
const rssOf = (name) => (runs[name] ? Math.max(...runs[name].map((r) => r.peakRssMB ?? NaN)) : NaN);

// ---------------------------------------------------------------- 3. keystroke latency
let language;
let baseText;
let anchors;
const FILE = join(tmp, basename(LATENCY_SOURCE || 'test_enum.py'));
const URI = pathToFileURL(FILE).toString();
let typing;
let measuredOps; // the prefix of typing.ops the LSP phase measured (the bare phase replays the same)
let warmup;
let lspLatency;
let bareLatency;
let rssAfterOpenA;

if (!skip('LATENCY') || !skip('SOAK')) {
  await section('tree-sitter setup', async () => {
    copyFileSync(LATENCY_SOURCE, FILE);
    await Parser.init();
    language = await Language.load(GRAMMAR);
    baseText = readFileSync(FILE, 'utf8');
    const parser = new Parser();
    parser.setLanguage(language);
    const tree = parser.parse(baseText);
    anchors = collectAnchors(tree, baseText);
    tree.delete();
    parser.delete();
    typing = typingScript(baseText, anchors, TYPING_EDITS, 42);
    warmup = churnScript(baseText, anchors, WARMUP_EDITS);
  });
}

await section('LSP latency', async () => {
  heading('3. keystroke latency over LSP (didChange -> publishDiagnostics)');
  if (skip('LATENCY')) return void row('skipped', 'BENCH_SKIP_LATENCY is set');
  const lines = baseText.split('\n').length - (baseText.endsWith('\n') ? 1 : 0);
  const kinds = {};
  for (const op of typing.ops) kinds[op.kind] = (kinds[op.kind] ?? 0) + 1;
  row('file', `copy of ${LATENCY_SOURCE.replace(stdlib + '/', '<stdlib>/')} (${int(lines)} lines, ${int(baseText.length)} chars)`);
  row('edit script', `${typing.ops.length} edits: ${Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  row('', `(16 places; "newline" = Enter + auto-indent as one edit; "typo" = wrong letter, then a backspace)`);
  row('warm-up (not measured)', `${warmup.length} single-char insert/delete edits`);

  const server = new LspServer(CLI);
  try {
    const t0 = performance.now();
    await server.initialize();
    const tInit = performance.now() - t0;
    const t1 = performance.now();
    await server.didOpen(URI, baseText, 1);
    const first = await server.waitForVersion(URI, 1, EDIT_TIMEOUT_MS);
    const tOpen = first.at - t1;
    rssAfterOpenA = server.rss();
    row('initialize', `${ms(tInit, 1)} ms`);
    row('didOpen -> first diagnostics', `${ms(tOpen, 1)} ms (${first.diagnostics.length} diagnostics)`);
    row('server RSS after open', `${mb(rssAfterOpenA.VmRSS)} MB`);

    // IPC floor: a request the server answers without work (code actions for an unopened document).
    const floor = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await server.conn.sendRequest('textDocument/codeAction', {
        textDocument: { uri: 'file:///nonexistent.py' },
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        context: { diagnostics: [] },
      });
      floor.push(performance.now() - t);
    }
    const floorStats = stats(floor.slice(10));
    row('IPC floor (no-op request round trip)', `p50 ${ms(floorStats.p50)} ms, p95 ${ms(floorStats.p95)} ms`);

    let version = 1;
    for (const op of warmup) {
      version++;
      await server.didChange(URI, version, [op.lsp]);
      await server.waitForVersion(URI, version, EDIT_TIMEOUT_MS);
    }
    const lat = [];
    const timeouts = [];
    const publishesBefore = server.publishCount;
    const tRun = performance.now();
    for (let i = 0; i < typing.ops.length; i++) {
      if (performance.now() - tRun > LATENCY_BUDGET_S * 1000) {
        notes.push(`LSP latency: stopped after ${i} of ${typing.ops.length} edits (BENCH_LATENCY_BUDGET_S=${LATENCY_BUDGET_S})`);
        break;
      }
      version++;
      const t = performance.now();
      await server.didChange(URI, version, [typing.ops[i].lsp]);
      try {
        const r = await server.waitForVersion(URI, version, EDIT_TIMEOUT_MS);
        const provisional = r.diagnostics.some((d) => d.data?.provisional === true);
        lat.push({ i, v: version, ms: r.at - t, kind: typing.ops[i].kind, diags: r.diagnostics.length, provisional });
      } catch (err) {
        if (server.exited) throw err;
        timeouts.push({ i, v: version, err: err.message });
      }
    }
    const runSecs = (performance.now() - tRun) / 1000;
    const publishes = server.publishCount - publishesBefore;
    const sent = version - 1 - warmup.length;
    measuredOps = typing.ops.slice(0, sent);
    lspLatency = stats(lat.map((x) => x.ms));
    row('edits measured', `${lat.length} (${timeouts.length} timed out) in ${runSecs.toFixed(1)} s; ${publishes} publishes`);
    row('latency p50 / p95 / p99 / max', `${ms(lspLatency.p50)} / ${ms(lspLatency.p95)} / ${ms(lspLatency.p99)} / ${ms(lspLatency.max)} ms`);
    row('latency min / mean', `${ms(lspLatency.min)} / ${ms(lspLatency.mean)} ms`);
    const worst = [...lat].sort((a, b) => b.ms - a.ms).slice(0, 5);
    row('slowest edits', worst.map((w) => `#${w.i} ${w.kind} ${JSON.stringify(typing.ops[w.i].text)} ${ms(w.ms, 1)}ms`).join(', '));
    const diagCounts = lat.map((x) => x.diags);
    row('diagnostics per publish (min..max)', `${Math.min(...diagCounts)}..${Math.max(...diagCounts)}`);
    row('measured publishes marked provisional', `${lat.filter((x) => x.provisional).length} (only visible on a publish with a diagnostic; the whole-file publish follows a typing pause)`);
    for (const t of timeouts.slice(0, 5)) console.log(`      timeout at edit #${t.i} (version ${t.v}): ${t.err}`);
    if (timeouts.length) notes.push(`LSP latency: ${timeouts.length} edits got no diagnostics within ${EDIT_TIMEOUT_MS} ms`);
    if (lspLatency.max > 10 * lspLatency.p50) notes.push(`LSP latency outlier: max ${ms(lspLatency.max, 1)} ms vs p50 ${ms(lspLatency.p50, 1)} ms`);
    const rssAfterTyping = server.rss();
    row('server RSS after typing', `${mb(rssAfterTyping.VmRSS)} MB (peak ${mb(rssAfterTyping.VmHWM)} MB)`);

    // Consistency: the server's settled diagnostics vs the CLI on the same final text. The
    // whole-file publish of the last version comes after a typing pause (300 ms in server.ts).
    await sleep(1500);
    const edited = join(tmp, 'test_enum_edited.py');
    writeFileSync(edited, textAfter(baseText, measuredOps, measuredOps.length));
    const r = await timedNode(cold([BIN, 'check', edited, '--format', 'json', '--exit-zero']), { stdoutFile: join(tmp, 'edited.json'), tmpDir: tmp });
    const cli = JSON.parse(readFileSync(join(tmp, 'edited.json'), 'utf8') || '[]').map(cliKey);
    const lsp = (server.diagnostics.get(URI)?.diagnostics ?? []).map(lspKey);
    const same = sameFindings(cli, lsp);
    row('final diagnostics == CLI on final text', `${same ? 'yes' : 'NO'} (server ${lsp.length}, CLI ${cli.length}${r.code ? `, CLI exit ${r.code}` : ''})`);
    if (!same) {
      const onlyLsp = lsp.filter((k) => !cli.includes(k));
      const onlyCli = cli.filter((k) => !lsp.includes(k));
      console.log(`      only server: ${onlyLsp.slice(0, 8).join(' ') || '-'}`);
      console.log(`      only CLI:    ${onlyCli.slice(0, 8).join(' ') || '-'}`);
      notes.push('LSP diagnostics after incremental typing differ from the CLI on the same text');
    }
    row('server messages', logSummary(server));
    if (server.stderr.trim()) row('server stderr', server.stderr.trim().split('\n').slice(-3).join(' | '));
    lspLatency.openMs = tOpen;
  } finally {
    await server.close();
    if (!server.exitedCleanly) notes.push(`latency server did not exit after shutdown/exit${server.killed ? ' (killed)' : ''}`);
  }
});

// ---------------------------------------------------------------- 3b. burst of queued changes
let burst;
await section('burst', async () => {
  heading('3b. a burst of pipelined changes (didChange x N -> diagnostics of the last version)');
  if (skip('LATENCY')) return void row('skipped', 'BENCH_SKIP_LATENCY is set');
  const server = new LspServer(CLI);
  try {
    await server.initialize();
    const lines = baseText.split('\n');
    const line = Math.floor(lines.length / 2);
    const settle = [];
    let version = 1;
    let publishes = 0;
    for (let round = 0; round < BURST_ROUNDS; round++) {
      const uri = pathToFileURL(join(tmp, `burst-${round}.py`)).toString();
      await server.didOpen(uri, baseText, 1);
      await server.waitForVersion(uri, 1, EDIT_TIMEOUT_MS);
      const before = server.publishCount;
      const t0 = performance.now();
      // One character per change, each at the end of the previous one, all sent without waiting.
      for (version = 2; version <= BURST_CHANGES + 1; version++) {
        const character = version - 2;
        void server.didChange(uri, version, [{ range: { start: { line, character }, end: { line, character } }, text: version === 2 ? '#' : 'x' }]);
      }
      const last = await server.waitForVersion(uri, BURST_CHANGES + 1, EDIT_TIMEOUT_MS * 10);
      settle.push(last.at - t0);
      publishes += server.publishCount - before;
      await server.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
    }
    burst = { ...stats(settle), publishes: publishes / BURST_ROUNDS };
    row('changes per burst', `${BURST_CHANGES} (one character each, pipelined), ${BURST_ROUNDS} bursts`);
    row('burst -> last version\'s diagnostics', `median ${ms(burst.p50, 0)} ms, max ${ms(burst.max, 0)} ms`);
    row('publishes per burst', `${burst.publishes.toFixed(1)} (incremental + the settle publish when typing pauses)`);
  } finally {
    await server.close();
  }
});

await section('bare tree-sitter', async () => {
  heading('3b. bare web-tree-sitter: tree.edit + incremental parse (same edit script, in-process)');
  if (skip('LATENCY')) return void row('skipped', 'BENCH_SKIP_LATENCY is set');
  const parser = new Parser();
  parser.setLanguage(language);
  let text = baseText;
  let tree = parser.parse(text);
  const apply = (op) => {
    const next = text.slice(0, op.start) + op.text + text.slice(op.end); // not timed
    const t = performance.now();
    tree.edit(new Edit(op.ts));
    const newTree = parser.parse(next, tree);
    tree.delete();
    const dt = performance.now() - t;
    tree = newTree;
    text = next;
    return dt;
  };
  try {
    for (const op of warmup) apply(op);
    const ops = measuredOps ?? typing.ops;
    const lat = ops.map(apply);
    bareLatency = stats(lat);
    row('edits', String(lat.length));
    row('p50 / p95 / p99 / max', `${ms(bareLatency.p50, 3)} / ${ms(bareLatency.p95, 3)} / ${ms(bareLatency.p99, 3)} / ${ms(bareLatency.max, 3)} ms`);
    const worst = lat.map((v, i) => ({ i, v })).sort((a, b) => b.v - a.v).slice(0, 5);
    row('slowest edits', worst.map((w) => `#${w.i} ${typing.ops[w.i].kind} ${JSON.stringify(typing.ops[w.i].text)} ${ms(w.v, 1)}ms`).join(', '));
    const slow = lat.filter((v) => v > 10).length;
    row('edits over 10 ms', `${slow} (${((100 * slow) / lat.length).toFixed(1)}%)`);
    const fresh = parser.parse(text);
    const same = text === textAfter(baseText, ops, ops.length) && fresh.rootNode.toString() === tree.rootNode.toString();
    fresh.delete();
    row('incremental tree == fresh parse', same ? 'yes' : 'NO');
    if (!same) notes.push('bare incremental tree differs from a fresh parse (edit script bug?)');
    if (lspLatency) {
      row('ratio LSP/bare p50 / p95 / p99', `${ratio(lspLatency.p50, bareLatency.p50)} / ${ratio(lspLatency.p95, bareLatency.p95)} / ${ratio(lspLatency.p99, bareLatency.p99)}`);
    }
  } finally {
    tree?.delete();
    parser.delete();
  }
});


// ---------------------------------------------------------------- 4a. an open file in a huge workspace
let hugeWs;
await section('huge workspace', async () => {
  heading(`4a. didOpen -> first diagnostics while a ${int(HUGE_WS_FILES)}-file workspace is walked and scanned`);
  if (skip('HUGE_WS')) return void row('skipped', 'BENCH_SKIP_HUGE_WS is set');
  const root = join(tmp, 'huge-ws');
  const body = 'def f(a, b=None):\n    return [a, b]\n';
  for (let i = 0; i < HUGE_WS_FILES; i++) {
    const dir = join(root, `p${i % 100}`, `q${Math.floor(i / 100) % 50}`);
    if (i < 5000) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `m${i}.py`), body);
  }
  const server = new LspServer(CLI);
  try {
    await server.initialize({ folders: [root] });
    const uri = pathToFileURL(join(root, 'open.py')).toString();
    const t0 = performance.now();
    await server.didOpen(uri, 'def g(p):\n    h = open(p)\n    return h.read()\n', 1);
    const first = await server.waitForVersion(uri, 1, 120000);
    const openMs = first.at - t0;
    const t1 = performance.now();
    await server.conn.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await server.didChange(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '#\n' }]);
    const second = await server.waitForVersion(uri, 2, 120000);
    hugeWs = { openMs, configMs: second.at - t1 };
    row('didOpen -> first diagnostics (scan starting)', `${ms(openMs, 0)} ms`);
    row('configuration change + edit -> diagnostics', `${ms(hugeWs.configMs, 0)} ms`);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- 4. workspace scan
let scan;
await section('workspace scan', async () => {
  heading('4. server: workspace scan of the corpus, then RSS');
  if (skip('SCAN')) return void row('skipped', 'BENCH_SKIP_SCAN is set');
  const server = new LspServer(CLI);
  try {
    const ended = server.waitForProgress('end', 30 * 60 * 1000);
    const t0 = performance.now();
    await server.initialize({ folders: [CORPUS] });
    const peak = { rss: 0 };
    const sampler = setInterval(() => (peak.rss = Math.max(peak.rss, server.rss().VmRSS ?? 0)), 250);
    let end;
    try {
      end = await ended;
    } finally {
      clearInterval(sampler);
    }
    const wall = (end.at - t0) / 1000;
    const atEnd = server.rss();
    const cpu = procCpuSeconds(server.pid);
    // The server stops its worker threads after a few idle seconds: read RSS again after that.
    await sleep(SCAN_IDLE_S * 1000);
    const idle = server.rss();
    const begin = server.progress.find((p) => p.kind === 'begin');
    const published = [...server.diagnostics.values()];
    const withFindings = published.filter((p) => p.diagnostics.length > 0);
    const findings = withFindings.reduce((a, p) => a + p.diagnostics.length, 0);
    const scannedLog = server.logs.find((l) => /^scanned \d+ files/.test(l.message))?.message;
    row('workspace folder', CORPUS);
    row('progress', `begin "${begin?.message ?? '?'}", end after ${secs(wall)} (from initialize)`);
    if (scannedLog) row('server log', scannedLog);
    row('published', `${int(published.length)} files, ${int(findings)} findings in ${int(withFindings.length)} files`);
    row('server CPU (user+sys) until then', `${secs(cpu)} (${(cpu / wall).toFixed(2)} cores)`);
    row('RSS at progress end', `${mb(atEnd.VmRSS)} MB (anon ${mb(atEnd.RssAnon)} MB, ${atEnd.Threads} threads)`);
    row(`RSS after ${SCAN_IDLE_S} s idle`, `${mb(idle.VmRSS)} MB (anon ${mb(idle.RssAnon)} MB, ${idle.Threads} threads)`);
    row('peak RSS (VmHWM)', `${mb(idle.VmHWM)} MB`);
    const errors = server.logs.filter((l) => l.type === 1);
    if (errors.length) row('errors logged', `${errors.length}: ${errors[0].message.split('\n')[0].slice(0, 160)}`);
    if (server.stderr.trim()) row('server stderr', server.stderr.trim().split('\n').slice(-3).join(' | '));
    scan = { wall, cpu, rss: atEnd.VmRSS, idle: idle.VmRSS, hwm: idle.VmHWM, files: published.length, findings };
  } finally {
    await server.close();
    if (!server.exitedCleanly) notes.push(`scan server did not exit after shutdown/exit${server.killed ? ' (killed)' : ''}`);
  }
});

// ---------------------------------------------------------------- 5. soak
let soak;
await section('soak', async () => {
  heading(`5. soak: server RSS over ${int(SOAK_EDITS)} edits`);
  if (skip('SOAK')) return void row('skipped', 'BENCH_SKIP_SOAK is set');
  if (!baseText) throw new Error('no latency file');
  const ops = churnScript(baseText, anchors, SOAK_EDITS);
  row('file', `copy of ${LATENCY_SOURCE.replace(stdlib + '/', '<stdlib>/')}`);
  row('edit script', `${int(ops.length)} single-character edits: insert "q" then delete it, at 200 identifiers in turn`);
  const server = new LspServer(CLI);
  try {
    await server.initialize();
    await server.didOpen(URI, baseText, 1);
    const opened = await server.waitForVersion(URI, 1, EDIT_TIMEOUT_MS);
    const openedKeys = opened.diagnostics.map(lspKey);
    await sleep(300);
    const before = server.rss();
    row('RSS after open', `${mb(before.VmRSS)} MB (anon ${mb(before.RssAnon)} MB)`);
    let version = 1;
    let done = 0;
    let notifications = 0;
    const samples = []; // { edits, rss }
    let nextSample = SOAK_SAMPLE;
    const batchTimes = [];
    /** Sends the next batch of edits, `group` changes per didChange, pipelined; awaits the last version. */
    const sendBatch = async (size, group) => {
      const t = performance.now();
      const batch = ops.slice(done, done + size);
      for (let j = 0; j < batch.length; j += group) {
        version++;
        notifications++;
        server.didChange(URI, version, batch.slice(j, j + group).map((op) => op.lsp)).catch(() => {});
      }
      await server.waitForVersion(URI, version, 120000);
      done += batch.length;
      const dt = performance.now() - t;
      for (; done >= nextSample; nextSample += SOAK_SAMPLE) samples.push({ edits: nextSample, rss: server.rss().VmRSS });
      return dt;
    };
    const t0 = performance.now();
    // Calibration (counted in the soak): batches of SOAK_BATCH edits as 1 change per didChange and
    // as one didChange of SOAK_BATCH changes. A batch costs about fixed + notifications x each.
    let group = SOAK_GROUP_ENV;
    if (group === undefined) {
      const one = [];
      const all = [];
      for (let k = 0; k < 3 && done + 2 * SOAK_BATCH <= ops.length; k++) {
        one.push(await sendBatch(SOAK_BATCH, 1));
        all.push(await sendBatch(SOAK_BATCH, SOAK_BATCH));
      }
      const t1 = median(one);
      const tAll = median(all);
      const each = Math.max(0, (t1 - tAll) / (SOAK_BATCH - 1));
      const fixed = Math.max(0, tAll - each);
      const batches = (ops.length - done) / SOAK_BATCH;
      const spare = (SOAK_BUDGET_S * 1000) / batches - fixed;
      group = spare <= 0 ? SOAK_MAX_GROUP : Math.min(SOAK_MAX_GROUP, Math.max(1, Math.ceil((SOAK_BATCH * each) / spare)));
      row('calibration', `a batch of ${SOAK_BATCH} edits: ${ms(t1, 0)} ms as ${SOAK_BATCH} didChange, ${ms(tAll, 0)} ms as 1 didChange`);
      row('', `=> ~${ms(each, 2)} ms per didChange + ${ms(fixed, 0)} ms per batch (analysis, coalesced)`);
    }
    const batchSize = group * Math.ceil(SOAK_BATCH / group);
    row('changes per didChange', `${group} ${SOAK_GROUP_ENV === undefined ? `(the smallest that fits ~${SOAK_BUDGET_S} s, BENCH_SOAK_BUDGET_S; at most ${SOAK_MAX_GROUP})` : '(BENCH_SOAK_GROUP)'}`);
    row('', `edits sent pipelined in batches of ${batchSize}; after each batch, the diagnostics of its last version are awaited`);
    while (done < ops.length) batchTimes.push(await sendBatch(Math.min(batchSize, ops.length - done), group));
    const wall = (performance.now() - t0) / 1000;
    const after = server.rss();
    await sleep(1000);
    const idle = server.rss();
    const last = server.diagnostics.get(URI);
    row('edits processed', `${int(done)} in ${int(notifications)} didChange notifications (final version ${last?.version}, expected ${version}) in ${wall.toFixed(1)} s`);
    const publishes = server.publishCount - 1;
    row('publishes received', `${int(publishes)} for ${int(notifications)} didChange${publishes < notifications ? ` (${int(notifications - publishes)} fewer: pipelined changes coalesced)` : ' (none coalesced)'}; every didChange is parsed at once`);
    const bt = stats(batchTimes);
    row(`batch of ${batchSize} edits: p50 / max`, `${ms(bt.p50, 1)} / ${ms(bt.max, 1)} ms`);
    row('RSS after the edits', `${mb(after.VmRSS)} MB (anon ${mb(after.RssAnon)} MB), ${after.VmRSS >= before.VmRSS ? '+' : ''}${mb(after.VmRSS - before.VmRSS)} MB since open`);
    row('RSS after 1 s idle', `${mb(idle.VmRSS)} MB; peak (VmHWM) ${mb(idle.VmHWM)} MB`);
    const rssValues = samples.map((s) => s.rss);
    const second = samples.filter((s) => s.edits > ops.length / 2);
    const perTenK = slope(second.map((s) => s.edits), second.map((s) => s.rss)) * 10000;
    const step = Math.max(1, Math.ceil(samples.length / 20));
    row(`RSS every ${int(SOAK_SAMPLE * step)} edits (MB)`, samples.filter((_, i) => i % step === step - 1).map((s) => s.rss.toFixed(0)).join(' '));
    row('RSS first / peak / last sample', `${mb(rssValues[0])} / ${mb(Math.max(...rssValues))} / ${mb(rssValues.at(-1))} MB (${samples.length} samples)`);
    row('slope over the second half', `${perTenK >= 0 ? '+' : ''}${ms(perTenK, 2)} MB per 10 000 edits (least squares, ${second.length} samples)`);
    if (ops.length % 2 === 0) {
      const same = sameFindings(openedKeys, (last?.diagnostics ?? []).map(lspKey));
      row('final diagnostics == after open', `${same ? 'yes' : 'NO'} (the text is back to the original)`);
      if (!same) notes.push('after the soak the diagnostics differ from those of the identical original text');
    }
    row('server messages', logSummary(server));
    if (server.stderr.trim()) row('server stderr', server.stderr.trim().split('\n').slice(-3).join(' | '));
    soak = { edits: done, notifications, group, wall, open: before.VmRSS, first: rssValues[0], peak: Math.max(...rssValues), last: rssValues.at(-1), hwm: idle.VmHWM, perTenK };
  } finally {
    await server.close();
    if (!server.exitedCleanly) notes.push(`soak server did not exit after shutdown/exit${server.killed ? ' (killed)' : ''}`);
  }
});

// ---------------------------------------------------------------- 5b. one file of 25 000 functions
// A rule worse than n log n shows here first: 100 000 lines of small functions, each opening a
// file. The work budget (docs/performance.md) bounds the time; the figure says whether some rule
// ran out of it (named on stderr, exit 2) or the file was checked in full.
if (!skip('MANY')) {
  heading('5b. one file of 25 000 functions');
  const many = join(tmp, 'many_functions.py');
  let text = '';
  for (let i = 0; i < 25000; i++) text += `def f${i}(p):\n    h = open(p)\n    data = h.read()\n    return data\n`;
  writeFileSync(many, text);
  const r = await timedNode(cold([BIN, 'check', '--quiet', '--jobs', '1', many]), { tmpDir: tmp, cwd: ROOT });
  const stopped = r.stderr.split('\n').filter((l) => /stopped/.test(l)).map((l) => l.replace(/^.*?: (LL\d+): stopped.*$/, '$1'));
  console.log(`  ${int(text.split('\n').length - 1)} lines: ${secs(r.wall)} wall, peak RSS ${mb(r.peakRssMB)} MB, exit ${r.code}; ${stopped.length ? `stopped by the work budget: ${stopped.join(', ')}` : 'every rule finished'}`);
  console.log(`  ${r.stdout.trim().split('\n').pop()}`);
  notes.push(`25 000 functions: ${secs(r.wall)}${stopped.length ? ` (${stopped.join(', ')} out of budget)` : ''}`);
}

// ---------------------------------------------------------------- 6. comparison table
heading('6. comparison');
{
  const checkName = hasJobs ? 'check (default jobs)' : 'check';
  const serialName = hasJobs ? 'check --jobs 1' : 'check';
  const check = wallOf(checkName);
  const serial = wallOf(serialName);
  const ruff = wallOf('ruff-wasm');
  const parse1 = wallOf('parse, 1 thread');
  const parse2 = wallOf('parse, 2 workers');
  const has = (x) => Number.isFinite(x);
  const t = [];
  const label = corpus ? `${int(corpus.files)} files, ${int(corpus.lines)} lines` : '';
  t.push([`stdlib check wall, ${hasJobs ? 'default --jobs' : 'one process'} (${label})`, secs(check), `Ruff-wasm ${secs(ruff)}`, ratio(check, ruff), '<= 1.00x Ruff', has(check) && has(ruff) ? status(check <= ruff) : '']);
  if (hasJobs) t.push(['stdlib check wall, --jobs 1', secs(serial), `Ruff-wasm ${secs(ruff)}`, ratio(serial, ruff), '', '']);
  t.push([`stdlib check ${hasJobs ? '--jobs 1 ' : ''}vs bare parse, 1 thread`, secs(serial), `parse ${secs(parse1)}`, ratio(serial, parse1), '', '']);
  t.push([`stdlib check ${hasJobs ? '(default) ' : ''}vs bare parse, 2 workers`, secs(check), `parse ${secs(parse2)}`, ratio(check, parse2), '', '']);
  // CPU time is what a shared machine distorts least (wall times stretch with the load).
  const cpu = cpuOf(checkName);
  const cpuSerial = cpuOf(serialName);
  t.push([`stdlib check CPU (user+sys), ${hasJobs ? '--jobs 1' : 'one process'}`, secs(cpuSerial), `Ruff-wasm ${secs(cpuOf('ruff-wasm'))}`, ratio(cpuSerial, cpuOf('ruff-wasm')), '', '']);
  t.push([`stdlib check CPU ${hasJobs ? '--jobs 1 ' : ''}vs bare parse CPU, 1 thread`, secs(cpuSerial), `parse ${secs(cpuOf('parse, 1 thread'))}`, ratio(cpuSerial, cpuOf('parse, 1 thread')), '', '']);
  if (hasJobs) t.push(['stdlib check CPU, default --jobs', secs(cpu), `parse, 2 workers ${secs(cpuOf('parse, 2 workers'))}`, ratio(cpu, cpuOf('parse, 2 workers')), '', '']);
  if (cacheRuns.cold.length) {
    const coldWall = median(cacheRuns.cold.map((r) => r.wall));
    const warmWall = median(cacheRuns.warm.map((r) => r.wall));
    t.push(['stdlib copy check wall, warm cache vs cold', secs(warmWall), `cold ${secs(coldWall)}`, ratio(warmWall, coldWall), '<= 0.15x cold', has(warmWall) && has(coldWall) ? status(warmWall <= 0.15 * coldWall) : '']);
  }
  t.push(['peak RSS of the cold process', `${mb(rssOf(checkName))} MB`, `Ruff ${mb(rssOf('ruff-wasm'))} MB, parse ${mb(rssOf('parse, 1 thread'))} / ${mb(rssOf('parse, 2 workers'))} MB`, ratio(rssOf(checkName), rssOf('ruff-wasm')), '', '']);
  t.push(['--']);
  const L = lspLatency;
  const B = bareLatency;
  const n = L ? ` (${L.n} edits)` : '';
  const k = (x) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : 'n/a');
  const within = (a, b) => (L && B ? a <= TARGET.keystrokeRatio * b : undefined);
  t.push([`keystroke -> diagnostics p50${n}`, k(L?.p50), `bare reparse ${k(B?.p50)}`, ratio(L?.p50, B?.p50), `<= ${TARGET.keystrokeRatio}x, <= ${TARGET.keystrokeP50Ms} ms`, L && B ? status(within(L.p50, B.p50) && L.p50 <= TARGET.keystrokeP50Ms) : '']);
  t.push(['keystroke -> diagnostics p95', k(L?.p95), `bare reparse ${k(B?.p95)}`, ratio(L?.p95, B?.p95), `<= ${TARGET.keystrokeRatio}x`, L && B ? status(within(L.p95, B.p95)) : '']);
  t.push(['keystroke -> diagnostics p99', k(L?.p99), `bare reparse ${k(B?.p99)}`, ratio(L?.p99, B?.p99), '', '']);
  t.push(['keystroke -> diagnostics max', k(L?.max), `bare reparse ${k(B?.max)}`, ratio(L?.max, B?.max), '', '']);
  t.push([`burst of ${BURST_CHANGES} pipelined changes -> last diagnostics (median)`, burst ? `${ms(burst.p50, 0)} ms` : 'n/a', burst ? `max ${ms(burst.max, 0)} ms, ${burst.publishes.toFixed(1)} publishes` : '', '', `<= ${TARGET.burstMs} ms`, burst ? status(burst.p50 <= TARGET.burstMs) : '']);
  t.push([`open file in a ${int(HUGE_WS_FILES)}-file workspace -> first diagnostics`, hugeWs ? `${ms(hugeWs.openMs, 0)} ms` : 'n/a', hugeWs ? `after a configuration change ${ms(hugeWs.configMs, 0)} ms` : '', '', `<= ${TARGET.hugeWsOpenMs} ms`, hugeWs ? status(hugeWs.openMs <= TARGET.hugeWsOpenMs && hugeWs.configMs <= TARGET.hugeWsOpenMs) : '']);
  t.push(['--']);
  t.push(['server RSS at the end of the stdlib scan', scan ? `${mb(scan.rss)} MB` : 'n/a', scan ? `${SCAN_IDLE_S} s later ${mb(scan.idle)}, peak ${mb(scan.hwm)} MB` : '', '', `< ${TARGET.scanRssMB} MB`, scan ? status(scan.rss < TARGET.scanRssMB) : '']);
  t.push(['server scan wall (initialize -> progress end)', scan ? secs(scan.wall) : 'n/a', `check ${secs(check)}`, ratio(scan?.wall, check), '', '']);
  t.push(['server scan CPU (user+sys)', scan ? secs(scan.cpu) : 'n/a', `check ${secs(cpu)}`, ratio(scan?.cpu, cpu), '', '']);
  t.push(['--']);
  t.push([`soak: RSS first / peak / last${soak ? ` (${int(soak.edits)} edits, ${soak.group}/didChange)` : ''}`, soak ? `${mb(soak.first)} / ${mb(soak.peak)} / ${mb(soak.last)} MB` : 'n/a', soak ? `after open ${mb(soak.open)} MB` : '', '', '', '']);
  t.push(['soak: RSS slope over the second half', soak ? `${ms(soak.perTenK, 2)} MB/10k edits` : 'n/a', '', '', `flat (<= ${TARGET.flatMBPer10k} MB/10k)`, soak ? status(soak.perTenK <= TARGET.flatMBPer10k) : '']);
  table(['measure', 'LeakLens', 'peer', 'ratio', 'target (spec §6)', 'status'], t);
  const endLoad = loadavg()[0];
  console.log(`load average (1 min): ${startLoad.toFixed(2)} at start, ${endLoad.toFixed(2)} at end (5/15 min now: ${loadavg()[1].toFixed(2)} ${loadavg()[2].toFixed(2)}) on ${cpus().length} cpus; bench wall ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
  if (Math.max(startLoad, endLoad) > cpus().length / 2) notes.push(`the machine was shared (1-min load up to ${Math.max(startLoad, endLoad).toFixed(1)} on ${cpus().length} cpus): wall times are inflated, and more so for the 2-thread runs`);
}
if (notes.length) {
  console.log('\nnotes:');
  for (const n of notes) console.log(`  - ${n}`);
}
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
