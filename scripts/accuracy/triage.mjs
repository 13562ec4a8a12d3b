// Blind triage: a seeded sample of LeakLens findings per rule, drawn separately from the local
// Python standard library and from the development corpus (scripts/corpus/fetch.sh), handed to
// judges who see only a packet (the code around each finding with line numbers, its message, and
// the rule's user documentation as `leaklens rule CODE` prints it — never the implementation nor
// anyone's opinion); their verdicts are kept as data and turned into precision per rule.
//
//   node scripts/accuracy/triage.mjs collect            run LeakLens over both corpora -> docs/accuracy/blind/findings-*.json
//   node scripts/accuracy/triage.mjs packets [--all]    write the judge packets of the sampled findings that have no verdict yet
//   node scripts/accuracy/triage.mjs import FILE...     merge filled-in verdict files into docs/accuracy/blind/verdicts.json
//   node scripts/accuracy/triage.mjs report             precision tables -> docs/accuracy/blind.md and docs/accuracy.md
//
// Packets go to $LEAKLENS_PACKETS (default: .accuracy/packets in the repository, git-ignored):
// batch-NN.md (self-contained: instructions, the rule's documentation, up to BATCH_SIZE findings)
// and batch-NN.verdicts.json (the template the judge fills in).
//
// The unit of the sample is one rule on one line of one file (several findings of a rule on one
// line are shown together). A finding is in the sample when its rank — SHA-256 of
// `SEED|corpus|rule|path|line` — is among the SAMPLE_SIZE smallest of its rule in its corpus: the
// rank depends only on the finding, so a rule change that drops findings brings in the next ones
// by rank without reshuffling the rest. A verdict is keyed by corpus, rule, path, line and a hash
// of the flagged line's text, so re-runs keep the verdicts of unchanged findings; a verdict whose
// key no longer matches a finding is kept in the file and listed as no longer reported.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DATA, loadCorpus, refreshBlock, ROOT } from './corpus.mjs';
import { leaklensVersion } from './leaklens.mjs';

export const SEED = 'leaklens-blind-1';
export const SAMPLE_SIZE = 30;
export const BATCH_SIZE = 25;
const BLIND = join(DATA, 'blind');
const VERDICTS = join(BLIND, 'verdicts.json');
const PACKETS = process.env.LEAKLENS_PACKETS ?? join(ROOT, '.accuracy', 'packets');
export const CORPUS_DIR = process.env.LEAKLENS_CORPUS ?? join(homedir(), '.cache', 'leaklens-corpus');
const CLI = join(ROOT, 'dist', 'leaklens.js');
const VERDICT_VALUES = ['TP', 'FP', 'debatable'];
const CONTEXT = 12;

const sha = (s) => createHash('sha256').update(s).digest('hex');

/** Where each corpus's files are: { stdlib, corpus } -> folder (corpus: undefined when not fetched). */
function roots() {
  const src = join(CORPUS_DIR, 'src');
  return { stdlib: loadCorpus().stdlib, corpus: existsSync(src) ? src : undefined };
}

function readLines(root, path) {
  return readFileSync(join(root, path), 'latin1').split('\n').map((l) => l.replace(/\r$/, ''));
}

// ---- collect ------------------------------------------------------------------------------------

function runCheck(cwd) {
  const r = spawnSync(process.execPath, [CLI, 'check', '.', '--select', 'ALL', '--format', 'json', '--exit-zero', '--jobs', '2'], { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`leaklens exited ${r.status} in ${cwd}: ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout);
}

function normalise(raw, root, keep) {
  const cache = new Map();
  const lineText = (path, line) => {
    if (!cache.has(path)) cache.set(path, readLines(root, path));
    return cache.get(path)[line - 1] ?? '';
  };
  return raw
    .map((f) => ({ ...f, path: f.path.replace(/\\/g, '/') }))
    .filter((f) => keep(f.path))
    .map((f) => ({
      path: f.path,
      line: f.start.line,
      column: f.start.column,
      endLine: f.end.line,
      code: f.code,
      message: f.message,
      related: (f.related ?? []).filter((r) => !r.path || r.path.replace(/\\/g, '/') === f.path).map((r) => ({ line: r.start.line, message: r.message })),
      lineHash: sha(lineText(f.path, f.start.line).trim()).slice(0, 12),
    }))
    .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
}

function collect() {
  if (!existsSync(CLI)) throw new Error('dist/leaklens.js is missing: npm run build first');
  mkdirSync(BLIND, { recursive: true });
  const std = loadCorpus();
  const inStd = new Set(std.files);
  const stdlib = normalise(runCheck(std.stdlib), std.stdlib, (p) => inStd.has(p));
  write('stdlib', { corpus: 'stdlib', python: std.python, version: leaklensVersion(), findings: stdlib });
  console.log(`stdlib (Python ${std.python}): ${stdlib.length} findings`);
  const { corpus } = roots();
  if (!corpus) {
    console.log(`development corpus not found in ${CORPUS_DIR}: run scripts/corpus/fetch.sh (its findings file is left as it was)`);
    return;
  }
  const manifest = existsSync(join(CORPUS_DIR, 'manifest.tsv')) ? readFileSync(join(CORPUS_DIR, 'manifest.tsv'), 'utf8') : '';
  const packages = manifest.split('\n').slice(1).filter(Boolean).map((l) => l.split('\t')).map(([pkg, from, top, files, lines]) => ({ package: pkg, from, topLevel: top, files: Number(files), lines: Number(lines) }));
  const found = normalise(runCheck(corpus), corpus, (p) => p.endsWith('.py'));
  write('corpus', { corpus: 'corpus', packages, version: leaklensVersion(), findings: found });
  console.log(`development corpus (${packages.length} packages): ${found.length} findings`);
}

function write(name, data) {
  // One finding per line: the file stays readable in a diff.
  const { findings, ...head } = data;
  const body = findings.map((f) => '    ' + JSON.stringify(f)).join(',\n');
  writeFileSync(join(BLIND, `findings-${name}.json`), `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "findings": [\n${body}\n  ]\n}\n`);
}

// ---- the sample ---------------------------------------------------------------------------------

function loadFindings(name) {
  const file = join(BLIND, `findings-${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

export const keyOf = (corpus, f) => `${corpus}|${f.code}|${f.path}|${f.line}|${f.lineHash}`;

/** [{ corpus, code, total, items: [{ key, path, line, code, messages, related, rank }] }], rules in code order. */
export function sample() {
  const out = [];
  for (const corpus of ['stdlib', 'corpus']) {
    const data = loadFindings(corpus);
    if (!data) continue;
    const units = new Map();
    for (const f of data.findings) {
      const key = keyOf(corpus, f);
      if (!units.has(key)) units.set(key, { key, corpus, code: f.code, path: f.path, line: f.line, messages: [], related: [], rank: sha(`${SEED}|${corpus}|${f.code}|${f.path}|${f.line}`) });
      const u = units.get(key);
      if (!u.messages.includes(f.message)) u.messages.push(f.message);
      u.related.push(...f.related);
    }
    const byRule = new Map();
    for (const u of units.values()) {
      if (!byRule.has(u.code)) byRule.set(u.code, []);
      byRule.get(u.code).push(u);
    }
    for (const [code, list] of [...byRule].sort((a, b) => a[0].localeCompare(b[0]))) {
      list.sort((a, b) => a.rank.localeCompare(b.rank));
      out.push({ corpus, code, total: list.length, items: list.slice(0, SAMPLE_SIZE) });
    }
  }
  return out;
}

function loadVerdicts() {
  return existsSync(VERDICTS) ? JSON.parse(readFileSync(VERDICTS, 'utf8')) : { verdicts: [] };
}

// ---- packets ------------------------------------------------------------------------------------

function ruleDoc(code) {
  return execFileSync(process.execPath, [CLI, 'rule', code], { encoding: 'utf8' });
}

/** The lines to show: around the finding, around each related line, and the headers of the enclosing blocks. */
function excerpt(lines, item) {
  const show = new Map(); // line -> mark
  const add = (from, to, mark = ' ') => {
    for (let i = Math.max(1, from); i <= Math.min(lines.length, to); i++) if (!show.has(i) || mark !== ' ') show.set(i, mark);
  };
  add(item.line - CONTEXT, item.line + CONTEXT);
  for (const r of item.related) add(r.line - 2, r.line + 2);
  // Enclosing `class` / `def` headers above the window (each less indented than the last).
  let indent = (lines[item.line - 1] ?? '').search(/\S/);
  for (let i = item.line - 1; i >= 1 && indent > 0; i--) {
    const l = lines[i - 1];
    const at = l.search(/\S/);
    if (at >= 0 && at < indent && /^\s*(async\s+def|def|class)\b/.test(l)) {
      add(i, i);
      indent = at;
    }
  }
  for (const r of item.related) show.set(r.line, '*');
  show.set(item.line, '>');
  const width = String(Math.max(...show.keys())).length;
  const out = [];
  let last = 0;
  for (const i of [...show.keys()].sort((a, b) => a - b)) {
    if (last && i > last + 1) out.push(`${' '.repeat(width + 2)}⋮`);
    out.push(`${show.get(i)} ${String(i).padStart(width)}  ${lines[i - 1]}`);
    last = i;
  }
  return out.join('\n');
}

const INSTRUCTIONS = `You are judging the findings of a static analyser that looks for memory-leak patterns in
Python code. For each finding you get the file it is in, the code around it (line numbers on
the left; \`>\` marks the reported line, \`*\` the other lines the finding points at, \`⋮\` lines
left out) and the analyser's message. The documentation of the rule, as users read it, is at the
end of this file. Judge from the code shown and what you know of Python and of the libraries it
uses; do not look for any other material.

Give each finding one verdict:

- **TP** (true positive): the message is right about this code, and it is a situation the rule's
  documentation means to report — a maintainer would reasonably want to change the code.
- **FP** (false positive): the message is wrong about this code (the resource is released, the
  container does not grow, there is no cycle, …), or the code is a case the documentation says is
  not reported.
- **debatable**: the message is literally right but the consequence is nil or intended here (the
  object lives as long as the process anyway, the growth is bounded by design, …), or the code
  shown is not enough to decide.

and a one-line reason in your own words: what in the code decides it. Write your verdicts into the
JSON file of the same name as this one (\`.verdicts.json\`): for every entry, \`verdict\` is one of
"TP", "FP", "debatable" and \`reason\` one line. Leave the \`id\` fields as they are.`;

function packets(args) {
  if (!existsSync(CLI)) throw new Error('dist/leaklens.js is missing: npm run build first');
  const all = args.includes('--all');
  const judged = new Set(loadVerdicts().verdicts.map((v) => v.id));
  const r = roots();
  mkdirSync(PACKETS, { recursive: true });
  for (const f of readdirSync(PACKETS)) if (/^batch-\d+\.(md|verdicts\.json)$/.test(f)) rmSync(join(PACKETS, f)); // the batches of an earlier run
  let batch = 0;
  const index = [];
  const rules = new Map();
  for (const group of sample()) {
    if (group.corpus === 'corpus' && !r.corpus) continue;
    const todo = group.items.filter((u) => all || !judged.has(u.key));
    if (!rules.has(group.code)) rules.set(group.code, []);
    rules.get(group.code).push(...todo);
  }
  for (const [code, items] of rules) {
    if (!items.length) continue;
    // Both corpora mixed in rank order, in batches of at most BATCH_SIZE of about the same size.
    items.sort((a, b) => a.rank.localeCompare(b.rank));
    const count = Math.ceil(items.length / BATCH_SIZE);
    const per = Math.ceil(items.length / count);
    const doc = ruleDoc(code);
    for (let i = 0; i < items.length; i += per) {
      const chunk = items.slice(i, i + per);
      const name = `batch-${String(++batch).padStart(2, '0')}`;
      const parts = [`# ${name}: ${chunk.length} findings of rule ${code}\n\n${INSTRUCTIONS}\n`];
      chunk.forEach((u, n) => {
        const root = u.corpus === 'stdlib' ? r.stdlib : r.corpus;
        const label = u.corpus === 'stdlib' ? `Python standard library: ${u.path}` : u.path;
        const shown = excerpt(readLines(root, u.path), u);
        parts.push(`## ${n + 1}.\n\nFile: \`${label}\`, line ${u.line} (on disk: \`${join(root, u.path)}\`)\n\nMessage${u.messages.length > 1 ? 's' : ''}:\n${u.messages.map((m) => `> ${code} ${m}`).join('\n')}\n\n\`\`\`\n${shown}\n\`\`\`\n`);
      });
      parts.push(`## Documentation of ${code} (\`leaklens rule ${code}\`)\n\n\`\`\`text\n${doc.trimEnd()}\n\`\`\`\n`);
      writeFileSync(join(PACKETS, `${name}.md`), parts.join('\n'));
      const template = { batch: name, rule: code, verdicts: chunk.map((u) => ({ id: u.key, verdict: '', reason: '' })) };
      writeFileSync(join(PACKETS, `${name}.verdicts.json`), JSON.stringify(template, null, 2) + '\n');
      index.push(`${name}  ${code}  ${chunk.length} findings (${chunk.filter((u) => u.corpus === 'stdlib').length} stdlib, ${chunk.filter((u) => u.corpus === 'corpus').length} corpus)`);
    }
  }
  writeFileSync(join(PACKETS, 'INDEX.txt'), index.join('\n') + '\n');
  console.log(index.join('\n'));
  console.log(`${batch} batches in ${PACKETS}${r.corpus ? '' : ' (standard library only: the development corpus is not fetched)'}`);
}

// ---- import -------------------------------------------------------------------------------------

function importVerdicts(files) {
  if (!files.length) throw new Error('usage: triage.mjs import FILE...');
  const store = loadVerdicts();
  const byId = new Map(store.verdicts.map((v) => [v.id, v]));
  const known = new Map(sample().flatMap((g) => g.items.map((u) => [u.key, u])));
  const problems = [];
  let added = 0;
  for (const file of files) {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    for (const v of data.verdicts ?? []) {
      const where = `${file}: ${v.id}`;
      if (!v.verdict && !v.reason) continue; // not judged yet
      if (!VERDICT_VALUES.includes(v.verdict)) problems.push(`${where}: verdict must be one of ${VERDICT_VALUES.join(', ')}`);
      else if (typeof v.reason !== 'string' || !v.reason.trim() || /\n/.test(v.reason.trim())) problems.push(`${where}: reason must be one line`);
      else if (!known.has(v.id)) problems.push(`${where}: not a finding of the current sample`);
      else {
        const u = known.get(v.id);
        byId.set(v.id, { id: v.id, corpus: u.corpus, code: u.code, path: u.path, line: u.line, messages: u.messages, verdict: v.verdict, reason: v.reason.trim(), batch: data.batch });
        added++;
      }
    }
  }
  if (problems.length) {
    console.error(problems.join('\n'));
    console.error('nothing imported');
    process.exitCode = 1;
    return;
  }
  const verdicts = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  writeFileSync(VERDICTS, `{\n  "verdicts": [\n${verdicts.map((v) => '    ' + JSON.stringify(v)).join(',\n')}\n  ]\n}\n`);
  console.log(`${added} verdicts imported; ${verdicts.length} in ${VERDICTS}`);
}

// ---- report -------------------------------------------------------------------------------------

/** 95 % Wilson score interval for x successes out of n. */
export function wilson(x, n, z = 1.96) {
  if (!n) return [NaN, NaN];
  const p = x / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const pct = (x) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(0)} %`);
const esc = (s) => String(s).replace(/\|/g, '\\|');

function report() {
  const verdicts = new Map(loadVerdicts().verdicts.map((v) => [v.id, v]));
  const groups = sample();
  const current = new Set(groups.flatMap((g) => g.items.map((u) => u.key)));
  const tables = {};
  const details = [];
  let pending = 0;
  for (const corpus of ['stdlib', 'corpus']) {
    const rows = groups.filter((g) => g.corpus === corpus);
    const head = ['| rule | findings (lines) | sample | judged | TP | FP | debatable | precision (TP / judged) | 95 % interval | TP / (TP + FP) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
    const body = rows.map((g) => {
      const judged = g.items.map((u) => verdicts.get(u.key)).filter(Boolean);
      const tp = judged.filter((v) => v.verdict === 'TP').length;
      const fp = judged.filter((v) => v.verdict === 'FP').length;
      const deb = judged.filter((v) => v.verdict === 'debatable').length;
      pending += g.items.length - judged.length;
      const n = judged.length;
      const [lo, hi] = wilson(tp, n);
      details.push(`### ${g.code} on the ${corpus === 'stdlib' ? 'standard library' : 'development corpus'} (${g.items.length} of ${g.total})\n\n| finding | verdict | reason |\n|---|---|---|\n${g.items
        .map((u) => {
          const v = verdicts.get(u.key);
          return `| \`${u.path}:${u.line}\` | ${v ? v.verdict : '—'} | ${v ? esc(v.reason) : 'not judged yet'} |`;
        })
        .join('\n')}\n`);
      return `| ${g.code} | ${g.total} | ${g.items.length} | ${n} | ${tp} | ${fp} | ${deb} | ${n ? pct(tp / n) : '—'} | ${n ? `${pct(lo)} – ${pct(hi)}` : '—'} | ${tp + fp ? pct(tp / (tp + fp)) : '—'} |`;
    });
    tables[corpus] = rows.length ? [...head, ...body].join('\n') : '_No findings file: run `node scripts/accuracy/triage.mjs collect` (the development corpus needs `scripts/corpus/fetch.sh` first)._';
  }
  const defaults = defaultSetTable(groups, verdicts);
  const gone = [...verdicts.values()].filter((v) => !current.has(v.id));
  const md =
    `# Blind triage: every sampled finding and its verdict\n\nGenerated by \`node scripts/accuracy/triage.mjs report\` from \`blind/verdicts.json\` and \`blind/findings-*.json\`. ` +
    `Sample: per rule and corpus, the ${SAMPLE_SIZE} findings (one per rule and line) with the smallest SHA-256 of \`${SEED}|corpus|rule|path|line\`, or all of them.\n\n` +
    `## Standard library\n\n${tables.stdlib}\n\n## Development corpus\n\n${tables.corpus}\n\n${details.join('\n')}\n` +
    (gone.length ? `## Verdicts on findings no longer reported\n\n| finding | verdict | reason |\n|---|---|---|\n${gone.map((v) => `| ${v.code} \`${v.corpus}:${v.path}:${v.line}\` | ${v.verdict} | ${esc(v.reason)} |`).join('\n')}\n` : '');
  writeFileSync(join(DATA, 'blind.md'), md);
  refreshBlock('blind-stdlib', tables.stdlib);
  refreshBlock('blind-corpus', tables.corpus);
  refreshBlock('default-set', defaults.table);
  refreshBlock('default-set', defaults.table, join(ROOT, 'README.md'));
  console.log(`standard library\n${tables.stdlib}\n\ndevelopment corpus\n${tables.corpus}`);
  if (pending) console.log(`\n${pending} sampled findings have no verdict yet: node scripts/accuracy/triage.mjs packets, then hand the batches to judges`);
  if (gone.length) console.log(`${gone.length} verdicts are on findings no longer reported`);
  console.log(`\ndefault rule set\n${defaults.table}`);
  for (const m of defaults.mismatches) console.error(`default set disagrees with the data: ${m}`);
  if (defaults.mismatches.length) process.exitCode = 1;
}

/** The bar a rule must meet on the development corpus to be on by default (issue 12). */
const DEFAULT_BAR = { precision: 0.9, judged: 30 };

/**
 * Per rule: the corpus and stdlib precision beside whether the built CLI runs the rule by default
 * (`leaklens rules` says "default" or "opt-in"), and every rule whose place disagrees with the bar.
 */
function defaultSetTable(groups, verdicts) {
  const listing = execFileSync(process.execPath, [CLI, 'rules'], { encoding: 'utf8' });
  const rules = listing
    .split('\n')
    .map((line) => /^(LL\d{3})\s+(\S+)\s+\S+\s+(default|opt-in)\s/.exec(line))
    .filter(Boolean)
    .map((m) => ({ code: m[1], name: m[2], on: m[3] === 'default' }));
  const stats = (corpus, code) => {
    const g = groups.find((x) => x.corpus === corpus && x.code === code);
    const judged = (g?.items ?? []).map((u) => verdicts.get(u.key)).filter(Boolean);
    const tp = judged.filter((v) => v.verdict === 'TP').length;
    return { n: judged.length, tp, total: g?.total ?? 0 };
  };
  const cell = ({ n, tp }) => (n ? `${pct(tp / n)} (${tp} of ${n})` : '—');
  const interval = ({ n, tp }) => {
    const [lo, hi] = wilson(tp, n);
    return n ? `${pct(lo)} – ${pct(hi)}` : '—';
  };
  const mismatches = [];
  const rows = rules.map((r) => {
    const c = stats('corpus', r.code);
    const s = stats('stdlib', r.code);
    const meets = c.n >= DEFAULT_BAR.judged && c.tp / c.n >= DEFAULT_BAR.precision;
    if (meets !== r.on) mismatches.push(`${r.code} is ${r.on ? 'on' : 'off'} by default but ${meets ? 'meets' : 'does not meet'} the bar (${c.tp} of ${c.n} on the corpus)`);
    return `| ${r.code} | ${r.name} | ${r.on ? '**default**' : 'opt-in'} | ${cell(c)} | ${interval(c)} | ${c.total} | ${cell(s)} |`;
  });
  const table = [
    '| rule | name | set | corpus precision (TP of judged) | 95 % interval | corpus findings | stdlib precision |',
    '|---|---|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
  return { table, mismatches };
}

const [mode = 'report', ...rest] = process.argv.slice(2);
const modes = { collect, packets: () => packets(rest), import: () => importVerdicts(rest), report };
if (modes[mode]) modes[mode]();
else {
  console.error('usage: node scripts/accuracy/triage.mjs collect | packets [--all] | import FILE... | report');
  process.exitCode = 2;
}
