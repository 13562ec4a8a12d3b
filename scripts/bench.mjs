// LeakLens benchmark: prints figures, never asserts, exits 0.
//   1. corpus: the local Python standard library (as the CLI discovers it)
//   2. `leaklens check <stdlib> --format json --exit-zero`: wall time, lines/s, findings per rule
//   3. keystroke latency over LSP (didChange -> publishDiagnostics of that version) on
//      test/test_enum.py, against bare in-process web-tree-sitter edit + incremental reparse
//   4. server RSS before/after 10 000 single-character edits
//   5. summary table
// Run with `npm run bench` (builds first). Helpers live in scripts/bench/.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Edit, Language, Parser } from 'web-tree-sitter';
import { liveServers, LspServer } from './bench/lsp.mjs';
import { churnScript, collectAnchors, countLinesOfFiles, discover, typingScript } from './bench/text.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'leaklens.js');
const GRAMMAR = join(ROOT, 'grammars', 'tree-sitter-python.wasm');
const TYPING_EDITS = Number(process.env.BENCH_TYPING_EDITS ?? 500);
const WARMUP_EDITS = 40;
const CHURN_EDITS = Number(process.env.BENCH_CHURN_EDITS ?? 10000);
const CHURN_BATCH = 100; // edits between waits for diagnostics
// Single-character changes per didChange notification in the memory phase. Every notification
// costs the server a full analysis of the file, so sending 10 000 of them takes
// 10 000 x (analysis time), i.e. many minutes. Unless BENCH_CHURN_GROUP fixes it, the group
// size is picked from a calibration (10 one-change notifications, then 2 of 50 changes) so that
// the phase fits in about BENCH_CHURN_BUDGET_S seconds, capped at CHURN_MAX_GROUP changes per
// notification; all 10 000 edits are always sent and the final version is always awaited.
const CHURN_GROUP_ENV = process.env.BENCH_CHURN_GROUP ? Math.max(1, Number(process.env.BENCH_CHURN_GROUP)) : undefined;
const CHURN_BUDGET_S = Number(process.env.BENCH_CHURN_BUDGET_S ?? 60);
const CHURN_CALIBRATION = 10;
const CHURN_MAX_GROUP = 100;
// The typing script stops early (and says so) once it has run this long.
const LATENCY_BUDGET_S = Number(process.env.BENCH_LATENCY_BUDGET_S ?? 150);
const EDIT_TIMEOUT_MS = 30000;

const summary = [];
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
const ms = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const mb = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const int = (x) => Math.round(x).toLocaleString('en-US');
function heading(title) {
  const load = `[load ${loadavg()[0].toFixed(2)}]`;
  console.log(`\n=== ${title} ${'='.repeat(Math.max(3, 70 - title.length - load.length))} ${load}`);
}
function row(label, value) {
  console.log(`  ${label.padEnd(38)} ${value}`);
}
function table(rows) {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const line = `+-${'-'.repeat(w0)}-+-${'-'.repeat(w1)}-+`;
  console.log(line);
  for (const [a, b] of rows) console.log(a === '--' ? line : `| ${a.padEnd(w0)} | ${b.padStart(w1)} |`);
  console.log(line);
}
async function section(name, fn) {
  try {
    await fn();
  } catch (err) {
    console.log(`  !! ${name} FAILED: ${err?.stack ?? err}`);
    notes.push(`${name} failed: ${String(err?.message ?? err).split('\n')[0]}`);
  }
}
function runCli(args, stdoutFile) {
  return new Promise((resolve) => {
    const fd = openSync(stdoutFile, 'w');
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => (stderr += s));
    child.on('close', (code, signal) => {
      const wall = (performance.now() - t0) / 1000;
      closeSync(fd);
      resolve({ code, signal, wall, stderr, pid: child.pid });
    });
  });
}
/** Findings as comparable keys: "LL101@12:5-12:20" (1-based line:column). */
const cliKey = (f) => `${f.code}@${f.start.line}:${f.start.column}-${f.end.line}:${f.end.column}`;
const lspKey = (d) => `${d.code}@${d.range.start.line + 1}:${d.range.start.character + 1}-${d.range.end.line + 1}:${d.range.end.character + 1}`;
function sameFindings(a, b) {
  const x = [...a].sort().join('\n');
  const y = [...b].sort().join('\n');
  return x === y;
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

// ---------------------------------------------------------------- 0. environment
heading('environment');
let stdlib;
try {
  stdlib = execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], { encoding: 'utf8' }).trim();
  const pyver = execFileSync('python3', ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
  row('python3 stdlib', `${stdlib} (Python ${pyver})`);
} catch (err) {
  console.log(`  !! cannot locate the Python stdlib: ${err.message}`);
}
row('node', process.version);
const fmtLoad = () => loadavg().map((x) => x.toFixed(2)).join(' ');
row('cpus', String(cpus().length));
row('load average (1/5/15 min)', fmtLoad());
row('CLI bundle', existsSync(CLI) ? `${CLI} (${(statSync(CLI).size / 1024).toFixed(0)} KiB)` : `${CLI} MISSING (run npm run build)`);

// ---------------------------------------------------------------- 1. corpus
let corpus;
await section('corpus', async () => {
  heading('1. corpus: Python standard library');
  const { files, skippedDirs } = discover(stdlib);
  const { lines, bytes } = countLinesOfFiles(files);
  const py = files.filter((f) => f.endsWith('.py')).length;
  corpus = { files: files.length, py, pyi: files.length - py, lines, bytes };
  row('.py files', int(py) + (corpus.pyi ? ` (+${corpus.pyi} .pyi, also checked by the CLI)` : ''));
  row('total lines', int(lines));
  row('total size', `${(bytes / 1048576).toFixed(1)} MiB`);
  if (skippedDirs.length) {
    const skippedFiles = skippedDirs.map((d) => discover(d).files.length).reduce((a, b) => a + b, 0);
    row('dirs the CLI skips (besides __pycache__)', `${skippedDirs.map((d) => d.slice(stdlib.length + 1)).join(', ')} (${skippedFiles} .py files not counted)`);
  }
  summary.push(['corpus files (.py/.pyi)', int(corpus.files)], ['corpus lines', int(lines)]);
});

// ---------------------------------------------------------------- 2. check
await section('check', async () => {
  heading('2. leaklens check <stdlib> --format json --exit-zero');
  if (process.env.BENCH_SKIP_CHECK) return void row('skipped', 'BENCH_SKIP_CHECK is set');
  const out = join(tmp, 'check.json');
  const r = await runCli(['check', stdlib, '--format', 'json', '--exit-zero'], out);
  const skipped = r.stderr.split('\n').filter((l) => l.includes('skipped'));
  const otherStderr = r.stderr.split('\n').filter((l) => l.trim() && !l.includes('skipped'));
  row('exit code', `${r.code}${r.signal ? ` (signal ${r.signal})` : ''}`);
  row('files', `${int(corpus?.files ?? NaN)} discovered, ${skipped.length} skipped by the CLI`);
  for (const s of skipped) console.log(`      ${s.replace(stdlib + '/', '')}`);
  if (otherStderr.length) {
    console.log(`  stderr (${otherStderr.length} other lines):`);
    for (const s of otherStderr.slice(0, 10)) console.log(`      ${s}`);
  }
  row('lines', int(corpus?.lines ?? NaN));
  row('wall time', `${r.wall.toFixed(2)} s`);
  row('throughput', `${int((corpus?.lines ?? NaN) / r.wall)} lines/s, ${((corpus?.files ?? NaN) / r.wall).toFixed(0)} files/s`);
  let findings = [];
  try {
    findings = JSON.parse(readFileSync(out, 'utf8'));
  } catch (err) {
    console.log(`  !! could not parse the JSON output (${statSync(out).size} bytes): ${err.message}`);
  }
  const byCode = {};
  for (const f of findings) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  const filesWith = new Set(findings.map((f) => f.path)).size;
  row('findings', `${int(findings.length)} in ${filesWith} files`);
  for (const [code, n] of Object.entries(byCode).sort()) {
    const name = findings.find((f) => f.code === code)?.name ?? '';
    row(`  ${code} ${name}`, int(n));
  }
  summary.push(
    ['--'],
    ['check wall time', `${r.wall.toFixed(2)} s`],
    ['check throughput', `${int((corpus?.lines ?? NaN) / r.wall)} lines/s`],
    ['check findings', `${findings.length} in ${filesWith} files`],
    ...Object.entries(byCode).sort().map(([c, n]) => [`  ${c}`, int(n)]),
  );
});

// ---------------------------------------------------------------- 3. keystroke latency
let language;
let baseText;
let anchors;
const FILE = stdlib ? join(stdlib, 'test', 'test_enum.py') : '';
const URI = pathToFileURL(FILE).toString();
let typing;
let measuredOps; // the prefix of typing.ops the LSP phase measured (the bare phase replays the same)
let warmup;
let lspLatency;
let bareLatency;
let rssAfterOpenA;

await section('tree-sitter setup', async () => {
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

await section('LSP latency', async () => {
  heading('3. keystroke latency over LSP (didChange -> publishDiagnostics)');
  const lines = baseText.split('\n').length - (baseText.endsWith('\n') ? 1 : 0);
  const kinds = {};
  for (const op of typing.ops) kinds[op.kind] = (kinds[op.kind] ?? 0) + 1;
  row('file', `${FILE.replace(stdlib + '/', '<stdlib>/')} (${int(lines)} lines, ${int(baseText.length)} chars)`);
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
        lat.push({ i, v: version, ms: r.at - t, kind: typing.ops[i].kind, diags: r.diagnostics.length });
      } catch (err) {
        if (server.exited) throw err;
        timeouts.push({ i, v: version, err: err.message });
      }
    }
    const runSecs = (performance.now() - tRun) / 1000;
    const sent = version - 1 - warmup.length;
    measuredOps = typing.ops.slice(0, sent);
    lspLatency = stats(lat.map((x) => x.ms));
    row('edits measured', `${lat.length} (${timeouts.length} timed out) in ${runSecs.toFixed(1)} s`);
    row('latency p50 / p95 / p99 / max', `${ms(lspLatency.p50)} / ${ms(lspLatency.p95)} / ${ms(lspLatency.p99)} / ${ms(lspLatency.max)} ms`);
    row('latency min / mean', `${ms(lspLatency.min)} / ${ms(lspLatency.mean)} ms`);
    const worst = [...lat].sort((a, b) => b.ms - a.ms).slice(0, 5);
    row('slowest edits', worst.map((w) => `#${w.i} ${w.kind} ${JSON.stringify(typing.ops[w.i].text)} ${ms(w.ms, 1)}ms`).join(', '));
    const diagCounts = lat.map((x) => x.diags);
    row('diagnostics per publish (min..max)', `${Math.min(...diagCounts)}..${Math.max(...diagCounts)}`);
    for (const t of timeouts.slice(0, 5)) console.log(`      timeout at edit #${t.i} (version ${t.v}): ${t.err}`);
    if (timeouts.length) notes.push(`LSP latency: ${timeouts.length} edits got no diagnostics within ${EDIT_TIMEOUT_MS} ms`);
    if (lspLatency.max > 10 * lspLatency.p50) notes.push(`LSP latency outlier: max ${ms(lspLatency.max, 1)} ms vs p50 ${ms(lspLatency.p50, 1)} ms`);
    const rssAfterTyping = server.rss();
    row('server RSS after typing', `${mb(rssAfterTyping.VmRSS)} MB (peak ${mb(rssAfterTyping.VmHWM)} MB)`);

    // Consistency: the server's last diagnostics vs the CLI on the same final text.
    const edited = join(tmp, 'test_enum_edited.py');
    writeFileSync(edited, textAfter(baseText, measuredOps, measuredOps.length));
    const r = await runCli(['check', edited, '--format', 'json', '--exit-zero'], join(tmp, 'edited.json'));
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
    summary.push(
      ['--'],
      ['LSP didOpen -> first diagnostics', `${ms(tOpen, 1)} ms`],
      [`LSP keystroke p50 / p95 (${lat.length} edits)`, `${ms(lspLatency.p50)} / ${ms(lspLatency.p95)} ms`],
      ['LSP keystroke p99 / max', `${ms(lspLatency.p99)} / ${ms(lspLatency.max)} ms`],
    );
  } finally {
    await server.close();
    if (!server.exitedCleanly) notes.push(`latency server did not exit after shutdown/exit${server.killed ? ' (killed)' : ''}`);
  }
});

await section('bare tree-sitter', async () => {
  heading('3b. bare web-tree-sitter: tree.edit + incremental parse (same edit script, in-process)');
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
      row('ratio LSP/bare p50', `${(lspLatency.p50 / bareLatency.p50).toFixed(1)}x`);
      row('ratio LSP/bare p95', `${(lspLatency.p95 / bareLatency.p95).toFixed(1)}x`);
    }
    summary.push(
      ['bare reparse p50 / p95', `${ms(bareLatency.p50, 3)} / ${ms(bareLatency.p95, 3)} ms`],
      ['bare reparse p99 / max', `${ms(bareLatency.p99, 3)} / ${ms(bareLatency.max, 3)} ms`],
      ['ratio LSP/bare p50 / p95', lspLatency ? `${(lspLatency.p50 / bareLatency.p50).toFixed(1)}x / ${(lspLatency.p95 / bareLatency.p95).toFixed(1)}x` : 'n/a'],
    );
  } finally {
    tree?.delete();
    parser.delete();
  }
});

// ---------------------------------------------------------------- 4. server memory
await section('server memory', async () => {
  heading(`4. server memory: ${int(CHURN_EDITS)} single-character edits (insert/delete alternately)`);
  const ops = churnScript(baseText, anchors, CHURN_EDITS);
  row('edit script', `${ops.length} edits at 200 identifiers spread over the file, pipelined`);
  const server = new LspServer(CLI);
  let group = CHURN_GROUP_ENV ?? 1;
  try {
    await server.initialize();
    await server.didOpen(URI, baseText, 1);
    const opened = await server.waitForVersion(URI, 1, EDIT_TIMEOUT_MS);
    const openedKeys = opened.diagnostics.map(lspKey);
    await new Promise((r) => setTimeout(r, 300));
    const before = server.rss();
    row('RSS after open', `${mb(before.VmRSS)} MB (anon ${mb(before.RssAnon)} MB)`);
    let version = 1;
    const t0 = performance.now();
    // Calibration: notifications cost about a + b*changes. Measure 10 one-change notifications,
    // then 2 notifications of 50 changes (pipelined, awaited at the end of each step).
    const sendTimed = async (first, count, perNotification) => {
      const t = performance.now();
      let n = 0;
      for (let k = first; k < first + count; k += perNotification) {
        version++;
        n++;
        server.didChange(URI, version, ops.slice(k, Math.min(k + perNotification, first + count)).map((op) => op.lsp)).catch(() => {});
      }
      await server.waitForVersion(URI, version, 120000);
      return (performance.now() - t) / n;
    };
    const nCal1 = Math.min(CHURN_CALIBRATION, ops.length);
    const c1 = await sendTimed(0, nCal1, 1);
    const nCal2 = Math.min(100, ops.length - nCal1);
    const c50 = nCal2 >= 100 ? await sendTimed(nCal1, nCal2, 50) : c1;
    const nCal = nCal1 + nCal2;
    const perChange = Math.max(0, (c50 - c1) / 49);
    const perNotification = Math.max(0.1, c1 - perChange);
    if (CHURN_GROUP_ENV === undefined) {
      // remaining * (a / g + b) = budget  =>  g = remaining * a / (budget - remaining * b)
      const remaining = ops.length - nCal;
      const spare = CHURN_BUDGET_S * 1000 - remaining * perChange;
      // At most CHURN_MAX_GROUP changes per notification, so that the parse/analyse/publish path
      // still runs >= 100 times even when that overshoots the budget.
      group = spare <= 0 ? CHURN_MAX_GROUP : Math.min(CHURN_MAX_GROUP, Math.max(1, Math.ceil((remaining * perNotification) / spare)));
    }
    row('calibration', `1 change/didChange: ${ms(c1, 1)} ms, 50 changes/didChange: ${ms(c50, 1)} ms`);
    row('', `=> ~${ms(perNotification, 1)} ms per notification + ${ms(perChange, 2)} ms per change`);
    row('changes per didChange', `${group} ${CHURN_GROUP_ENV === undefined ? `(chosen to fit ~${CHURN_BUDGET_S} s, at most ${CHURN_MAX_GROUP}; BENCH_CHURN_GROUP=1 sends one edit per notification)` : '(BENCH_CHURN_GROUP)'}`);
    const batchSize = group * Math.ceil(CHURN_BATCH / group); // whole notifications only
    row('', `${version - 1 + Math.ceil((ops.length - nCal) / group)} notifications in all; diagnostics of the last version awaited every ${batchSize} edits`);
    const trend = [];
    let nextSample = 1000;
    const batchTimes = [];
    for (let i = nCal; i < ops.length; i += batchSize) {
      const tb = performance.now();
      const batch = ops.slice(i, i + batchSize);
      for (let j = 0; j < batch.length; j += group) {
        version++;
        server.didChange(URI, version, batch.slice(j, j + group).map((op) => op.lsp)).catch(() => {});
      }
      await server.waitForVersion(URI, version, 120000);
      batchTimes.push(performance.now() - tb);
      for (const done = i + batch.length; done >= nextSample; nextSample += 1000) trend.push(server.rss().VmRSS);
    }
    const secs = (performance.now() - t0) / 1000;
    const after = server.rss();
    await new Promise((r) => setTimeout(r, 1000));
    const idle = server.rss();
    const last = server.diagnostics.get(URI);
    row('edits processed', `${ops.length} (final version ${last?.version}, expected ${version}) in ${secs.toFixed(1)} s`);
    row('throughput', `${int(ops.length / secs)} edits/s, ${((version - 1) / secs).toFixed(1)} notifications/s`);
    row('publishes received', `${server.publishCount} for ${version - 1} pipelined notifications (+1 open)`);
    if (server.publishCount >= version) notes.push(`pipelined didChange notifications were not coalesced: ${server.publishCount} publishes for ${version - 1} notifications + open`);
    const bt = stats(batchTimes);
    row(`batch of ${batchSize} edits: p50 / max`, `${ms(bt.p50, 1)} / ${ms(bt.max, 1)} ms`);
    row('RSS after edits', `${mb(after.VmRSS)} MB (anon ${mb(after.RssAnon)} MB), +${mb(after.VmRSS - before.VmRSS)} MB`);
    row('RSS after 1 s idle', `${mb(idle.VmRSS)} MB`);
    row('peak RSS (VmHWM)', `${mb(idle.VmHWM)} MB`);
    row('RSS every 1000 edits (MB)', trend.map((x) => x.toFixed(0)).join(' '));
    const same = sameFindings(openedKeys, (last?.diagnostics ?? []).map(lspKey));
    row('final diagnostics == after open', `${same ? 'yes' : 'NO'} (text is back to the original)`);
    if (!same) notes.push('after 10 000 insert/delete edits the diagnostics differ from those of the identical original text');
    row('server messages', logSummary(server));
    if (server.stderr.trim()) row('server stderr', server.stderr.trim().split('\n').slice(-3).join(' | '));
    summary.push(
      ['--'],
      ['server RSS after open', `${mb(before.VmRSS)} MB`],
      [`server RSS after ${int(ops.length)} edits (${group}/didChange)`, `${mb(after.VmRSS)} MB (+${mb(after.VmRSS - before.VmRSS)} MB)`],
      ['server peak RSS', `${mb(idle.VmHWM)} MB`],
      ['server throughput (pipelined)', `${((version - 1) / secs).toFixed(1)} didChange/s`],
    );
  } finally {
    await server.close();
    if (!server.exitedCleanly) notes.push(`memory server did not exit after shutdown/exit${server.killed ? ' (killed)' : ''}`);
  }
});

// ---------------------------------------------------------------- 5. summary
heading('5. summary');
summary.push(['--'], ['bench wall time', `${((performance.now() - benchStart) / 1000).toFixed(1)} s`], ['load average at end (1/5/15 min)', fmtLoad()]);
if (loadavg()[0] > cpus().length) notes.push(`the machine was busy (1-min load ${loadavg()[0].toFixed(1)} on ${cpus().length} cpus): timings are inflated`);
table(summary.filter((r, i, a) => !(r[0] === '--' && (i === 0 || a[i - 1][0] === '--'))).map((r) => (r[0] === '--' ? ['--', ''] : r)));
if (notes.length) {
  console.log('\nnotes:');
  for (const n of notes) console.log(`  - ${n}`);
}
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
