// LeakLens findings over the accuracy corpus, through the built CLI (`npm run build` first),
// normalised to { path (relative to the standard library), line, column, code, message }.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './corpus.mjs';

export function leaklensVersion() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server/src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' + uncommitted changes in server/src';
  } catch {
    // not a git checkout: the package version alone
  }
  return `${pkg.version} (${commit})`;
}

/** Runs `leaklens check . --format json` in the standard library folder; keeps corpus files only. */
export function runLeakLens(corpus) {
  const cli = join(ROOT, 'dist', 'leaklens.js');
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, 'check', '.', '--format', 'json', '--exit-zero'], {
    cwd: corpus.stdlib,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`leaklens exited ${r.status}: ${r.stderr}`);
  const inCorpus = new Set(corpus.files);
  const findings = JSON.parse(r.stdout)
    .map((f) => ({ path: f.path.replace(/\\/g, '/'), line: f.start.line, column: f.start.column, endLine: f.end.line, code: f.code, message: f.message }))
    .filter((f) => inCorpus.has(f.path))
    .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
  return { tool: 'leaklens', version: leaklensVersion(), seconds, findings };
}
