// Peer for the benchmark, run as its own cold process: Ruff's WebAssembly build
// (@astral-sh/ruff-wasm-nodejs) checking a list of files (read and decoded as LeakLens does)
// with the rules closest to LeakLens's: B006 B008 B019 SIM115 RUF012. One thread.
//   node scripts/bench/run-ruff.mjs <file-list>
// Prints one JSON line: files, checked, skipped, diagnostics (per rule), failures, timings.
import { readFileList, readLikeLeaklens } from './corpus.mjs';

const RULES = ['B006', 'B008', 'B019', 'SIM115', 'RUF012'];

const start = performance.now();
const list = readFileList(process.argv[2]);
const { Workspace, PositionEncoding } = await import('@astral-sh/ruff-wasm-nodejs');
const workspace = new Workspace({ lint: { select: RULES } }, PositionEncoding.Utf16);
const initMs = performance.now() - start;
let checked = 0;
let skipped = 0;
let failures = 0;
let readMs = 0;
let checkMs = 0;
const byRule = {};
for (const path of list) {
  const t1 = performance.now();
  const source = readLikeLeaklens(path);
  const t2 = performance.now();
  readMs += t2 - t1;
  if (!source.ok) {
    skipped++;
    continue;
  }
  try {
    for (const d of workspace.check(source.text)) {
      const code = d.code ?? 'syntax-error';
      byRule[code] = (byRule[code] ?? 0) + 1;
    }
    checked++;
  } catch {
    failures++;
  }
  checkMs += performance.now() - t2;
}
const diagnostics = RULES.reduce((a, r) => a + (byRule[r] ?? 0), 0);
process.stdout.write(
  JSON.stringify({ files: list.length, checked, skipped, failures, diagnostics, byRule, initMs, readMs, checkMs, wallMs: performance.now() - start }) + '\n',
);
