// Where the time of a check goes, rule by rule: one thread, in this process, over the files
// `leaklens check <folder>` checks (LeakLens's own discovery and decoding, from the tsc output in
// out/, which `npm run build` makes). CPU time of this process (process.cpuUsage), so the figures
// hold better than wall time on a busy machine.
//   node scripts/bench/profile-rules.mjs [folder] [--select CODES] [--all-findings]
// folder: default the standard library of `python3`. --select: comma-separated codes or ALL
// (default: the default rule set). Prints a table: reading and decoding, the rules' text
// pre-filters (a file they rule out is not parsed, as in `leaklens check`), parsing, the merged query,
// each rule (a rule that first asks for the shared semantic model pays for building it), the
// rest of the engine (suppressions, depth guards, sorting) and the total.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './corpus.mjs';

const require = createRequire(join(ROOT, 'package.json'));
const out = (p) => require(join(ROOT, 'out', 'server', 'src', p));
const { Analyzer } = out('analysis/engine.js');
const { RULES } = out('analysis/registry.js');
const { DEFAULT_OPTIONS } = out('analysis/types.js');
const { withTree } = out('parsing/document.js');
const { discoverPythonFiles, readSource } = out('workspace/files.js');

const args = process.argv.slice(2);
let folder;
let select = [];
let allFindings = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--select') select = args[++i].split(',').filter(Boolean);
  else if (args[i] === '--all-findings') allFindings = true;
  else folder = args[i];
}
folder ??= execFileSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' }).trim();

/** CPU milliseconds of this process so far. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const spent = new Map();
const add = (key, ms) => spent.set(key, (spent.get(key) ?? 0) + ms);

// Each rule's check, timed; the engine and its merged query are the ones `leaklens check` uses.
const timed = RULES.map((rule) => ({
  ...rule,
  check(context, matches) {
    const start = cpu();
    try {
      return rule.check(context, matches);
    } finally {
      add(rule.code, cpu() - start);
    }
  },
}));
const analyzer = await Analyzer.create(timed);
// The merged query's traversal, timed where the engine runs it (a private method: absent or
// renamed, the query's time stays in "engine").
const queryFor = analyzer.queryFor?.bind(analyzer);
if (queryFor) {
  const wrapped = new WeakSet();
  analyzer.queryFor = (enabled) => {
    const merged = queryFor(enabled);
    if (!wrapped.has(merged)) {
      wrapped.add(merged);
      const matches = merged.query.matches.bind(merged.query);
      merged.query.matches = (...a) => {
        const start = cpu();
        try {
          return matches(...a);
        } finally {
          add('query', cpu() - start);
        }
      };
    }
    return merged;
  };
}

const options = { ...DEFAULT_OPTIONS, select, allFindings };
const { files } = discoverPythonFiles([folder], {});
let analysed = 0;
let unparsed = 0;
let findings = 0;
const begin = cpu();
for (const path of files) {
  let start = cpu();
  const source = readSource(path);
  add('read', cpu() - start);
  if (!source.ok) continue;
  analysed++;
  // As workers/check-file.ts does: a file no selected rule can report on is not parsed.
  start = cpu();
  const mayReport = analyzer.mayReport ? analyzer.mayReport(source.text, options) : true;
  add('prefilter', cpu() - start);
  if (!mayReport) {
    unparsed++;
    continue;
  }
  start = cpu();
  withTree(analyzer.language, source.text, (tree, text) => {
    add('parse', cpu() - start);
    if (!tree) return;
    const at = cpu();
    const result = analyzer.analyzeTree(tree, text, options);
    add('analysis', cpu() - at);
    findings += result.findings.length;
  });
}
const total = cpu() - begin;
const rulesMs = RULES.reduce((sum, r) => sum + (spent.get(r.code) ?? 0), 0);
const rows = [
  ['read and decode', spent.get('read') ?? 0],
  ['text pre-filters', spent.get('prefilter') ?? 0],
  ['parse (and delete the tree)', spent.get('parse') ?? 0],
  ['merged query', spent.get('query') ?? 0],
  ...RULES.filter((r) => spent.has(r.code)).map((r) => [r.code, spent.get(r.code)]).sort((a, b) => b[1] - a[1]),
  ['engine, the rest', (spent.get('analysis') ?? 0) - (spent.get('query') ?? 0) - rulesMs],
];
console.log(`${folder}: ${analysed} files read, ${unparsed} of them not parsed (no selected rule can report on them), ${findings} findings; select ${select.length ? select.join(',') : '(default)'}${allFindings ? ', all findings' : ''}`);
console.log(`${'part'.padEnd(30)} ${'CPU s'.padStart(8)} ${'share'.padStart(7)} ${'× parse'.padStart(8)}`);
const parse = spent.get('parse') ?? 1;
for (const [name, ms] of rows) console.log(`${name.padEnd(30)} ${(ms / 1000).toFixed(2).padStart(8)} ${((100 * ms) / total).toFixed(1).padStart(6)}% ${(ms / parse).toFixed(2).padStart(8)}`);
console.log(`${'total'.padEnd(30)} ${(total / 1000).toFixed(2).padStart(8)}`);
