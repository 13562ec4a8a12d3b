// The accuracy corpus: the local Python standard library (found through python3's sysconfig,
// never a path of this machine), every .py file outside site-packages and __pycache__ that
// CPython itself compiles (test data with deliberate syntax or encoding errors is left out,
// since none of the three tools can say anything useful about it).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA = join(ROOT, 'docs', 'accuracy');

const LIST = `
import os, sys, sysconfig, warnings
warnings.simplefilter("ignore")
root = sysconfig.get_paths()["stdlib"]
ok, bad = [], []
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x not in ("__pycache__", "site-packages"))
    for f in sorted(files):
        if f.endswith(".py"):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            try:
                with open(p, "rb") as fh:
                    compile(fh.read(), p, "exec", dont_inherit=True)
                ok.append(rel)
            except Exception:
                bad.append(rel)
print(root)
print(sys.version.split()[0])
print("\\t".join(ok))
print("\\t".join(bad))
`;

/** { stdlib, python, files: relative paths (sorted), uncompilable: relative paths }. */
export function loadCorpus() {
  const out = execFileSync('python3', ['-c', LIST], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n');
  return {
    stdlib: out[0],
    python: out[1],
    files: out[2].split('\t').filter(Boolean),
    uncompilable: out[3].split('\t').filter(Boolean),
  };
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in docs/accuracy.md, if both are there. */
export function refreshBlock(name, body, file = join(ROOT, 'docs', 'accuracy.md')) {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i === -1 || j < i) return;
  writeFileSync(file, `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`);
}
