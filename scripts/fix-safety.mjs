// Fix safety at scale: copy the local Python standard library, apply every fix (safe and
// unsafe) with the CLI, and prove that every file that compiled before still compiles and that
// a second run finds nothing left to fix. Prints figures; exits 1 on any broken file.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'leaklens.js');
const stdlib = execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], { encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'leaklens-fix-safety-'));
const copy = join(work, 'stdlib');

const COMPILES = `
import os, sys, warnings
warnings.simplefilter("ignore")
ok = []
for d, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [x for x in dirs if x not in ("__pycache__", "site-packages")]
    for f in files:
        if f.endswith(".py"):
            p = os.path.join(d, f)
            try:
                compile(open(p, "rb").read(), p, "exec")
                ok.append(os.path.relpath(p, sys.argv[1]))
            except Exception:
                pass
print("\\n".join(sorted(ok)))
`;
const compiling = () => new Set(execFileSync('python3', ['-c', COMPILES, copy], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n').filter(Boolean));

try {
  console.log(`copying ${stdlib} (without site-packages) to ${copy}`);
  cpSync(stdlib, copy, { recursive: true, filter: (src) => !src.includes('site-packages') && !src.includes('__pycache__') });
  const before = compiling();
  const started = performance.now();
  const fix = spawnSync(process.execPath, [cli, 'check', '--unsafe-fixes', '--quiet', '--exit-zero', copy], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const summary = fix.stdout.trim().split('\n').pop();
  const after = compiling();
  const broken = [...before].filter((p) => !after.has(p));
  const second = spawnSync(process.execPath, [cli, 'check', '--format', 'json', '--exit-zero', copy], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const left = JSON.parse(second.stdout).filter((f) => f.fixes.length > 0);
  console.log(`fix run: ${summary} (${seconds} s)`);
  console.log(`files that compiled before: ${before.size}; after: ${after.size}; broken by fixes: ${broken.length}`);
  for (const p of broken) console.log(`  BROKEN ${p}`);
  console.log(`fixable findings left after one --unsafe-fixes run: ${left.length}`);
  for (const f of left.slice(0, 20)) console.log(`  LEFT ${f.path}:${f.start.line}:${f.start.column} ${f.code}`);
  writeFileSync(join(work, 'report.json'), JSON.stringify({ summary, broken, left: left.length }, null, 2));
  process.exitCode = broken.length || left.length ? 1 : 0;
} finally {
  if (!process.env.KEEP_FIX_SAFETY) rmSync(work, { recursive: true, force: true });
}
