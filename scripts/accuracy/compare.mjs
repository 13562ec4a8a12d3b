// Runs LeakLens, Ruff (WebAssembly, in process) and pylint over the same corpus (the local Python
// standard library, see corpus.mjs), matches the findings of overlapping rules and writes
// docs/accuracy/comparison.json; prints the comparison tables.
//
//   npm run build && node scripts/accuracy/compare.mjs [--pylint | --no-pylint]
//
// pylint takes many minutes on the whole library: its findings are kept in
// docs/accuracy/pylint.json and reused while the Python version and the corpus size are the same;
// `--pylint` runs it again (so does a missing or stale file, when pylint is installed);
// `--no-pylint` never runs it.
//
// Matching: two findings match when they are in the same file and on the same line of the thing
// both tools point at (the resource-factory call, the default value, the cache decorator, the
// class attribute). pylint reports W0102 on the `def` line, not on the default, so for W0102 a
// LeakLens LL201 finding counts on the line of the `def` that owns the default. Several findings
// on one line are paired one to one.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, loadCorpus, refreshBlock, ROOT } from './corpus.mjs';
import { runLeakLens } from './leaklens.mjs';
import { pylintVersion, runPylint } from './pylint.mjs';
import { runRuff } from './ruff.mjs';

export const GROUPS = [
  {
    id: 'mutable-defaults',
    title: 'Mutable default arguments',
    ours: ['LL201'],
    peers: [
      { tool: 'pylint', code: 'W0102', name: 'dangerous-default-value', defLine: true },
      { tool: 'ruff', code: 'B006', name: 'mutable-argument-default' },
    ],
  },
  {
    id: 'resources',
    title: 'Resources not released',
    ours: ['LL101', 'LL102', 'LL103', 'LL104'],
    peers: [
      { tool: 'pylint', code: 'R1732', name: 'consider-using-with' },
      { tool: 'ruff', code: 'SIM115', name: 'open-file-with-context-handler' },
    ],
  },
  {
    id: 'method-cache',
    title: 'Caches on methods',
    ours: ['LL302'],
    peers: [
      { tool: 'pylint', code: 'W1518', name: 'method-cache-max-size-none' },
      { tool: 'ruff', code: 'B019', name: 'cached-instance-method' },
    ],
  },
  {
    id: 'class-containers',
    title: 'Mutable containers on classes',
    ours: ['LL301', 'LL303'],
    peers: [{ tool: 'ruff', code: 'RUF012', name: 'mutable-class-default' }],
  },
];

/** For each LL201 finding: the line of the `def` (or lambda) whose parameter default it is. */
const DEF_LINES = `
import ast, json, sys
root, wanted = sys.argv[1], json.loads(sys.stdin.read())
out = {}
for path, points in wanted.items():
    with open(root + "/" + path, "rb") as fh:
        source = fh.read()
    tree = ast.parse(source)
    lines = source.split(b"\\n")
    def col(line, byte_col):
        return len(lines[line - 1][:byte_col].decode("utf-8", "replace").encode("utf-16-le")) // 2 + 1
    spots = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            kind = "lambda" if isinstance(node, ast.Lambda) else "def"
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                spots["%d:%d" % (d.lineno, col(d.lineno, d.col_offset))] = [node.lineno, kind]
    out[path] = {p: spots.get(p) for p in points}
print(json.dumps(out))
`;

function attachDefLines(corpus, findings) {
  const wanted = {};
  for (const f of findings) if (f.code === 'LL201') (wanted[f.path] ??= []).push(`${f.line}:${f.column}`);
  const answer = JSON.parse(execFileSync('python3', ['-c', DEF_LINES, corpus.stdlib], { input: JSON.stringify(wanted), encoding: 'utf8', maxBuffer: 1 << 26 }));
  for (const f of findings) {
    if (f.code !== 'LL201') continue;
    const spot = answer[f.path]?.[`${f.line}:${f.column}`];
    if (spot) [f.defLine, f.owner] = spot;
  }
}

const key = (path, line) => `${path}:${line}`;

/** The dotted names of LeakLens's resource-factory catalogue, read from its source. */
function catalogue() {
  const source = readFileSync(join(ROOT, 'server', 'src', 'analysis', 'resources.ts'), 'utf8');
  const table = source.slice(source.indexOf('const TABLE'), source.indexOf('const BY_NAME'));
  const releases = new Set(['close', 'wait', 'communicate', 'kill', 'cleanup', 'shutdown', 'terminate', 'join']);
  return [...table.matchAll(/'([A-Za-z_][\w.]*)'/g)].map((m) => m[1]).filter((n) => !releases.has(n));
}

/**
 * Reasons for the peers' findings that LeakLens does not report, from scripts/accuracy/explain.py
 * (which reads the code around each one); hand-written notes in peer-notes.json take precedence.
 */
function explainAll(corpus, ours, pylintFindings, ruffFindings, reasonOf) {
  const mine = new Set(ours.map((f) => key(f.path, f.line)));
  const defLines = new Set(ours.filter((f) => f.owner === 'def').map((f) => key(f.path, f.defLine)));
  const wanted = [...pylintFindings, ...ruffFindings]
    .filter((f) => ['R1732', 'SIM115', 'W0102', 'RUF012'].includes(f.code) && !reasonOf.has(findingId(f)))
    .filter((f) => !(f.code === 'W0102' ? defLines : mine).has(key(f.path, f.line)))
    .map((f) => ({ id: findingId(f), path: f.path, line: f.line, column: f.column, code: f.code, message: f.message }));
  const answer = JSON.parse(
    execFileSync('python3', [join(ROOT, 'scripts', 'accuracy', 'explain.py')], {
      input: JSON.stringify({ stdlib: corpus.stdlib, catalogue: catalogue(), findings: wanted }),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    }),
  );
  return new Map(Object.entries(answer).map(([id, [kind, reason]]) => [id, { kind, reason }]));
}

/** Pairs peer findings with ours on the same key; returns both / only peer / only ours. */
function match(ours, theirs, ourKey) {
  const pool = new Map();
  for (const f of ours) {
    const k = ourKey(f);
    if (k === undefined) continue;
    if (!pool.has(k)) pool.set(k, []);
    pool.get(k).push(f);
  }
  const both = [];
  const onlyPeer = [];
  const used = new Set();
  for (const p of theirs) {
    const candidates = pool.get(key(p.path, p.line)) ?? [];
    const mine = candidates.find((f) => !used.has(f));
    if (mine) {
      used.add(mine);
      both.push({ peer: p, ours: mine });
    } else onlyPeer.push(p);
  }
  const onlyOurs = ours.filter((f) => !used.has(f));
  return { both, onlyPeer, onlyOurs };
}

export const findingId = (f) => `${f.code} ${f.path}:${f.line}`;

function loadNotes() {
  const file = join(DATA, 'peer-notes.json');
  const notes = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { onlyPeer: [] };
  const reasonOf = new Map();
  for (const group of notes.onlyPeer ?? []) for (const id of group.findings) reasonOf.set(id, { reason: group.reason, kind: group.kind });
  return { notes, reasonOf };
}

function countBy(list, field) {
  const out = {};
  for (const x of list) out[x[field]] = (out[x[field]] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort());
}

async function main() {
  const corpus = loadCorpus();
  console.log(`corpus: ${corpus.files.length} files of the Python ${corpus.python} standard library (${corpus.uncompilable.length} that CPython cannot compile left out)`);

  const leaklens = runLeakLens(corpus);
  attachDefLines(corpus, leaklens.findings);
  console.log(`leaklens ${leaklens.version}: ${leaklens.findings.length} findings in ${leaklens.seconds.toFixed(1)} s`);
  const ruff = runRuff(corpus);
  console.log(`ruff ${ruff.version} (wasm): ${ruff.findings.length} findings in ${ruff.seconds.toFixed(1)} s${ruff.skipped.length ? `, ${ruff.skipped.length} files not decodable` : ''}`);

  const pylintFile = join(DATA, 'pylint.json');
  let pylint;
  const cached = existsSync(pylintFile) ? JSON.parse(readFileSync(pylintFile, 'utf8')) : undefined;
  const fresh = cached && cached.python === corpus.python && cached.files === corpus.files.length;
  if (process.argv.includes('--no-pylint')) {
    pylint = fresh ? cached : undefined;
  } else if (process.argv.includes('--pylint') || (!fresh && pylintVersion())) {
    console.log('pylint: running (minutes) ...');
    pylint = await runPylint(corpus, pylintFile);
  } else if (fresh) {
    pylint = cached;
  }
  if (pylint) console.log(`pylint ${pylint.version.split(';')[0].replace('pylint ', '')}: ${pylint.findings.length} messages${pylint === cached ? ' (from docs/accuracy/pylint.json' : ' ('}, ${pylint.seconds.toFixed(0)} s)`);
  else console.log('pylint: not installed and no saved run for this corpus: its columns are left out');

  const { reasonOf } = loadNotes();
  const explained = explainAll(corpus, leaklens.findings, pylint?.findings ?? [], ruff.findings, reasonOf);
  const tools = { pylint: pylint?.findings ?? [], ruff: ruff.findings };
  const groups = [];
  const unexplained = [];
  for (const g of GROUPS) {
    const ours = leaklens.findings.filter((f) => g.ours.includes(f.code));
    const peers = [];
    for (const peer of g.peers) {
      if (peer.tool === 'pylint' && !pylint) continue;
      const theirs = tools[peer.tool].filter((f) => f.code === peer.code);
      const m = match(ours, theirs, (f) => (peer.defLine ? (f.owner === 'def' ? key(f.path, f.defLine) : undefined) : key(f.path, f.line)));
      const reasons = [];
      const onlyPeer = m.onlyPeer.map((p) => {
        const note = reasonOf.get(findingId(p)) ?? explained.get(findingId(p));
        if (!note || note.kind === 'unknown') unexplained.push({ ...p, hint: note?.reason });
        const reason = note && note.kind !== 'unknown' ? `${note.kind === 'deliberate' ? '' : `${note.kind}: `}${note.reason}` : 'UNEXPLAINED';
        if (!reasons.includes(reason)) reasons.push(reason);
        return [p.path, p.line, reasons.indexOf(reason)];
      });
      const byReason = reasons.map((reason, i) => ({ reason, count: onlyPeer.filter((x) => x[2] === i).length, examples: onlyPeer.filter((x) => x[2] === i).slice(0, 3).map((x) => `${x[0]}:${x[1]}`) }));
      byReason.sort((a, b) => b.count - a.count);
      peers.push({
        tool: peer.tool,
        code: peer.code,
        name: peer.name,
        matchedOn: peer.defLine ? 'file and line of the def that owns the default' : 'file and line',
        peerTotal: theirs.length,
        both: m.both.length,
        bothByRule: countBy(m.both.map((b) => b.ours), 'code'),
        onlyPeerCount: onlyPeer.length,
        onlyPeerByReason: byReason,
        onlyPeer: { reasons, findings: onlyPeer },
        onlyLeakLensCount: m.onlyOurs.length,
        onlyLeakLensByRule: countBy(m.onlyOurs, 'code'),
        onlyLeakLensByFactory: resourceKinds(m.onlyOurs),
        onlyLeakLens: m.onlyOurs.map((f) => [f.code, f.path, f.line]),
      });
    }
    groups.push({ id: g.id, title: g.title, ours: g.ours, oursTotal: countBy(ours, 'code'), peers });
  }

  const comparison = {
    corpus: { python: corpus.python, files: corpus.files.length, leftOut: corpus.uncompilable },
    tools: {
      leaklens: { version: leaklens.version, seconds: Number(leaklens.seconds.toFixed(1)), command: 'node bin/leaklens.js check . --format json --exit-zero (in the stdlib folder)' },
      ruff: { version: `${ruff.version} (@astral-sh/ruff-wasm-nodejs)`, seconds: Number(ruff.seconds.toFixed(1)), options: ruff.options, notDecodable: ruff.skipped },
      pylint: pylint ? { version: pylint.version, seconds: Math.round(pylint.seconds), command: pylint.command, notAnalysed: pylint.findings.filter((f) => ['F0001', 'F0002', 'E0001'].includes(f.code)).map((f) => f.path) } : null,
    },
    counts: {
      leaklens: countBy(leaklens.findings, 'code'),
      ruff: countBy(ruff.findings, 'code'),
      pylint: pylint ? countBy(pylint.findings, 'code') : null,
    },
    groups,
  };
  writeFileSync(join(DATA, 'comparison.json'), compactJson(comparison) + '\n');
  // The full LeakLens findings of this comparison run (the blind triage collects its own: triage.mjs collect).
  writeFileSync(join(DATA, 'findings.json'), JSON.stringify({ python: corpus.python, version: leaklens.version, findings: leaklens.findings.map(({ defLine, owner, ...f }) => f) }, null, 0).replace(/\},\{/g, '},\n{') + '\n');
  const md = comparisonMarkdown(comparison);
  writeFileSync(join(DATA, 'comparison.md'), md.full);
  refreshBlock('comparison-summary', md.summary);
  refreshBlock('comparison-details', md.details);

  console.log('\nfindings per rule (LeakLens): ' + Object.entries(comparison.counts.leaklens).map(([k, v]) => `${k} ${v}`).join(', '));
  console.log(md.summary);
  if (unexplained.length) {
    console.log(`\n${unexplained.length} peer findings without an explanation (add them to docs/accuracy/peer-notes.json, or fix the rule):`);
    for (const p of unexplained) console.log(`  ${findingId(p)}:${p.column}  ${p.message.slice(0, 60)}${p.hint ? `  [${p.hint}]` : ''}`);
  }
  process.exitCode = unexplained.length ? 1 : 0;
}

/** For resource findings: which factory (from the message's `name(…)`), for the "only LeakLens" summary. */
function resourceKinds(findings) {
  const out = {};
  for (const f of findings) {
    const m = /`([\w.]+)\(…\)`/.exec(f.message);
    if (!m || !/^LL10/.test(f.code)) continue;
    const factory = m[1].split('.').pop();
    out[factory] = (out[factory] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** JSON with one line per array of scalars (finding rows stay readable and the file small). */
function compactJson(value) {
  return JSON.stringify(value, null, 1).replace(/\[\s*((?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)(?:,\s*(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null))*)\s*\]/g, (m, inner) => `[${inner.replace(/,\s+/g, ', ')}]`);
}

const esc = (s) => String(s).replace(/\|/g, '\\|');

function comparisonMarkdown(c) {
  const lines = [];
  lines.push('| LeakLens rules | peer rule | peer findings | found by both | only by the peer | only by LeakLens |', '|---|---|---:|---:|---:|---:|');
  for (const g of c.groups) {
    for (const p of g.peers) lines.push(`| ${g.ours.join(', ')} | ${p.tool} ${p.code} (${p.name}) | ${p.peerTotal} | ${p.both} | ${p.onlyPeerCount} | ${p.onlyLeakLensCount} |`);
  }
  const summary = lines.join('\n');
  const details = [];
  const full = [
    '# Peer comparison (generated)',
    '',
    `Generated by \`node scripts/accuracy/compare.mjs\` — corpus: ${c.corpus.files} files of the Python ${c.corpus.python} standard library; ` +
      `LeakLens ${c.tools.leaklens.version}; Ruff ${c.tools.ruff.version}; ${c.tools.pylint ? c.tools.pylint.version.split(';').slice(0, 2).join(',') : 'pylint not run'}. ` +
      'Paths are relative to the standard library folder. Data: `comparison.json`.',
    '',
    summary,
    '',
  ];
  const start = full.length;
  for (const g of c.groups) {
    full.push(`## ${g.title}: ${g.ours.join(', ')}`, '', `LeakLens findings: ${Object.entries(g.oursTotal).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}.`, '');
    for (const p of g.peers) {
      full.push(`### ${p.tool} ${p.code} (${p.name}), matched on ${p.matchedOn}`, '');
      full.push(`Peer findings ${p.peerTotal}; found by both ${p.both}${Object.keys(p.bothByRule).length ? ` (${Object.entries(p.bothByRule).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}; only by ${p.tool} ${p.onlyPeerCount}; only by LeakLens ${p.onlyLeakLensCount}.`, '');
      if (p.onlyPeerCount) {
        full.push(`Only by ${p.tool} ${p.code}, by reason:`, '', '| findings | reason | examples |', '|---:|---|---|');
        for (const r of p.onlyPeerByReason) full.push(`| ${r.count} | ${esc(r.reason)} | ${r.examples.map((e) => `\`${e}\``).join(', ')} |`);
        full.push('');
      }
      if (p.onlyLeakLensCount) {
        const byRule = Object.entries(p.onlyLeakLensByRule).map(([k, v]) => `${k} ${v}`).join(', ');
        const byFactory = Object.entries(p.onlyLeakLensByFactory).map(([k, v]) => `${k} ${v}`).join(', ');
        const examples = Object.keys(p.onlyLeakLensByRule).map((code) => {
          const ex = p.onlyLeakLens.filter((f) => f[0] === code).slice(0, 3).map((f) => `\`${f[1]}:${f[2]}\``);
          return `${code}: ${ex.join(', ')}`;
        });
        full.push(`Only by LeakLens: ${byRule}.${byFactory ? ` By factory: ${byFactory}.` : ''} Examples — ${examples.join('; ')}.`, '');
      }
    }
  }
  // The per-rule sections, one heading level down, for docs/accuracy.md.
  details.push(...full.slice(start).map((l) => (l.startsWith('#') ? `##${l}` : l)));
  return { summary, full: full.join('\n') + '\n', details: details.join('\n').trim() };
}


if (import.meta.url === `file://${process.argv[1]}`) await main();
