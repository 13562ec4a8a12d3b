// Ruff (its WebAssembly build, in this process) over the accuracy corpus with the four rules
// that overlap LeakLens rules, normalised like the other tools' findings.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PositionEncoding, Workspace } from '@astral-sh/ruff-wasm-nodejs';

export const RUFF_RULES = ['B006', 'B019', 'SIM115', 'RUF012'];

export function ruffVersion() {
  const require = createRequire(import.meta.url);
  return require('@astral-sh/ruff-wasm-nodejs/package.json').version;
}

/** Source text the way Python reads it: the PEP 263 coding line decides, UTF-8 otherwise. */
export function decodeSource(bytes) {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const head = bytes.subarray(start, start + 400).toString('latin1').split('\n').slice(0, 2);
  let encoding = 'utf-8';
  for (const line of head) {
    const m = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/.exec(line);
    if (m) {
      encoding = m[1].toLowerCase();
      break;
    }
    if (!/^[ \t\f]*(#.*)?\r?$/.test(line)) break;
  }
  return new TextDecoder(encoding.replace(/^(latin-1|iso-latin-1)$/, 'latin1'), { fatal: true }).decode(bytes.subarray(start));
}

export function runRuff(corpus) {
  const workspace = new Workspace({ lint: { select: RUFF_RULES } }, PositionEncoding.Utf16);
  const findings = [];
  const skipped = [];
  const started = performance.now();
  for (const path of corpus.files) {
    let text;
    try {
      text = decodeSource(readFileSync(join(corpus.stdlib, path)));
    } catch (err) {
      skipped.push({ path, reason: String(err.message ?? err) });
      continue;
    }
    for (const d of workspace.check(text)) {
      if (!RUFF_RULES.includes(d.code)) continue;
      findings.push({ path, line: d.start_location.row, column: d.start_location.column, code: d.code, message: d.message });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  workspace.free?.();
  findings.sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
  return { tool: 'ruff', version: ruffVersion(), options: { lint: { select: RUFF_RULES } }, seconds, skipped, findings };
}
