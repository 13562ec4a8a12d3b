// The precision sample: a seeded random sample of LeakLens findings per rule (SAMPLE_SIZE, more
// for the rules in SAMPLE_SIZES, or all when a rule has fewer), shown with context for a person to triage, and the
// precision computed from the verdicts in docs/accuracy/triage.json.
//
//   node scripts/accuracy/triage.mjs show [--rule LL101] [--untriaged] [--context 6]
//   node scripts/accuracy/triage.mjs report      (prints the tables, writes docs/accuracy/triage.md)
//
// The findings come from docs/accuracy/findings.json (written by compare.mjs). A finding is in the
// sample when its hash is among the smallest of its rule (SAMPLE_SIZE of them, or SAMPLE_SIZES[rule]): the hash depends only on the
// seed and the finding (rule, file, line), so fixing a rule removes its false positives from the
// sample and brings in the next findings by hash, without reshuffling the rest.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, loadCorpus, refreshBlock } from './corpus.mjs';

export const SEED = 'leaklens-accuracy-1';
export const SAMPLE_SIZE = 20;
/**
 * Rules whose first triage round found false positives (and were fixed) get a doubled sample, so
 * the precision after the fix rests on more than the 20 findings that happened to be drawn.
 */
export const SAMPLE_SIZES = { LL101: 40, LL102: 40, LL501: 40 };
const sizeOf = (code) => SAMPLE_SIZES[code] ?? SAMPLE_SIZE;

const idOf = (f) => `${f.code} ${f.path}:${f.line}`;
const rank = (f) => createHash('sha256').update(`${SEED}|${f.code}|${f.path}|${f.line}`).digest('hex');

function load() {
  const file = join(DATA, 'findings.json');
  if (!existsSync(file)) throw new Error('docs/accuracy/findings.json is missing: run `node scripts/accuracy/compare.mjs` first');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const triageFile = join(DATA, 'triage.json');
  const triage = existsSync(triageFile) ? JSON.parse(readFileSync(triageFile, 'utf8')) : { entries: [] };
  return { data, triage };
}

/** Rule → its sample, in hash order (one entry per rule, file and line). */
export function sample(findings) {
  const byRule = new Map();
  for (const f of findings) {
    if (!byRule.has(f.code)) byRule.set(f.code, new Map());
    const m = byRule.get(f.code);
    if (!m.has(idOf(f))) m.set(idOf(f), f);
  }
  const out = new Map();
  for (const [code, m] of [...byRule].sort((a, b) => a[0].localeCompare(b[0]))) {
    const ranked = [...m.values()].map((f) => ({ f, r: rank(f) })).sort((a, b) => a.r.localeCompare(b.r));
    out.set(code, { total: m.size, sample: ranked.slice(0, sizeOf(code)).map((x) => x.f) });
  }
  return out;
}

function show(args) {
  const { data, triage } = load();
  const corpus = loadCorpus();
  if (corpus.python !== data.python) console.log(`note: findings were made on Python ${data.python}, this python3 is ${corpus.python}: line numbers may differ`);
  const only = args.includes('--rule') ? args[args.indexOf('--rule') + 1] : undefined;
  const ctx = args.includes('--context') ? Number(args[args.indexOf('--context') + 1]) : 6;
  const verdicts = new Map(triage.entries.map((e) => [`${e.code} ${e.file}:${e.line}`, e]));
  for (const [code, { total, sample: s }] of sample(data.findings)) {
    if (only && code !== only) continue;
    console.log(`\n================ ${code}: ${s.length} of ${total}`);
    for (const f of s) {
      const v = verdicts.get(idOf(f));
      if (args.includes('--untriaged') && v) continue;
      const lines = readFileSync(join(corpus.stdlib, f.path), 'latin1').split('\n');
      console.log(`\n--- ${idOf(f)}:${f.column}${v ? `  [${v.verdict}: ${v.reason}]` : ''}\n    ${f.message}`);
      for (let i = Math.max(1, f.line - ctx); i <= Math.min(lines.length, f.line + ctx); i++) {
        console.log(`${i === f.line ? '>' : ' '}${String(i).padStart(5)} ${lines[i - 1].replace(/\r$/, '')}`);
      }
    }
  }
}

const esc = (s) => String(s).replace(/\|/g, '\\|');

function report() {
  const { data, triage } = load();
  const verdicts = new Map(triage.entries.map((e) => [`${e.code} ${e.file}:${e.line}`, e]));
  const current = new Set(data.findings.map(idOf));
  const rows = [];
  const tables = [];
  let missing = 0;
  for (const [code, { total, sample: s }] of sample(data.findings)) {
    let tp = 0;
    let fp = 0;
    const lines = [];
    for (const f of s) {
      const v = verdicts.get(idOf(f));
      if (!v) {
        missing++;
        lines.push(`| \`${f.path}:${f.line}\` | — | not triaged yet |`);
        continue;
      }
      if (v.verdict === 'TP') tp++;
      else fp++;
      lines.push(`| \`${f.path}:${f.line}\` | ${v.verdict} | ${esc(v.reason)} |`);
    }
    const precision = tp + fp ? (100 * tp) / (tp + fp) : NaN;
    rows.push({ code, findings: data.findings.filter((f) => f.code === code).length, total, sample: s.length, tp, fp, precision });
    tables.push(`### ${code} (${s.length} of ${total} findings; ${tp} TP, ${fp} FP)\n\n| finding | verdict | reason |\n|---|---|---|\n${lines.join('\n')}\n`);
  }
  // Verdicts on findings the current rules no longer report (false positives that were fixed).
  const gone = triage.entries.filter((e) => !current.has(`${e.code} ${e.file}:${e.line}`));
  const summary = [
    '| rule | findings | distinct lines | sample | TP | FP | precision |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.code} | ${r.findings} | ${r.total} | ${r.sample} | ${r.tp} | ${r.fp} | ${Number.isNaN(r.precision) ? '—' : `${r.precision.toFixed(1)} %`} |`),
  ].join('\n');
  const goneTable = gone.length
    ? `## Triaged findings no longer reported\n\nFindings triaged in an earlier round that the current rules no longer report (the rule was fixed).\n\n| finding | verdict then | reason |\n|---|---|---|\n${gone.map((e) => `| ${e.code} \`${e.file}:${e.line}\` | ${e.verdict} | ${esc(e.reason)} |`).join('\n')}\n`
    : '';
  const md =
    `# Triage of the precision sample\n\nGenerated by \`node scripts/accuracy/triage.mjs report\` from \`triage.json\` (verdicts) and \`findings.json\` ` +
    `(LeakLens ${data.version} over the Python ${data.python} standard library). Sample: per rule, the ${SAMPLE_SIZE} findings ` +
    `(${Object.entries(SAMPLE_SIZES).map(([c, n]) => `${n} for ${c}`).join(', ')}: rules that had false positives in the first round) with the smallest ` +
    `SHA-256 of \`${SEED}|rule|file|line\` (all findings when a rule has fewer); findings on the same line count once. Paths are relative to the standard library folder.\n\n` +
    `${summary}\n\n${tables.join('\n')}\n${goneTable}`;
  writeFileSync(join(DATA, 'triage.md'), md);
  refreshBlock('precision-summary', summary);
  console.log(summary);
  if (missing) console.log(`\n${missing} sampled findings have no verdict yet (node scripts/accuracy/triage.mjs show --untriaged)`);
  if (gone.length) console.log(`${gone.length} triaged findings are no longer reported`);
  const low = rows.filter((r) => r.precision < 90);
  if (low.length) console.log(`below 90 %: ${low.map((r) => r.code).join(', ')}`);
  process.exitCode = missing || low.length ? 1 : 0;
}

const [mode = 'report', ...rest] = process.argv.slice(2);
if (mode === 'show') show(rest);
else if (mode === 'report') report();
else {
  console.error('usage: node scripts/accuracy/triage.mjs show [--rule LL101] [--untriaged] [--context N] | report');
  process.exitCode = 2;
}
