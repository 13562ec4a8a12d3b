// The last word on whether a fix broke a file: CPython's own compiler. Tree-sitter accepts text
// that Python refuses (inconsistent tabs and spaces, some nesting, assignments to keywords…), so
// before `--fix` writes or `--diff` prints, every changed file of the run goes through ONE python3
// process: a file that compiled before and does not after is left alone. Without python3 the
// in-process checks stand alone (analysis/indentation.ts in fix-all).
import { spawnSync } from 'node:child_process';

const SCRIPT = `
import json, sys, warnings
warnings.simplefilter("ignore")
out = []
for name, before, after in json.load(sys.stdin):
    try:
        compile(before, name, "exec", dont_inherit=True)
    except BaseException:
        out.append(None)  # broken already: not the fix's doing
        continue
    try:
        compile(after, name, "exec", dont_inherit=True)
        out.append(None)
    except BaseException as e:
        line = getattr(e, "lineno", None)
        out.append(type(e).__name__ + ": " + str(getattr(e, "msg", e)) + (" (line %d)" % line if line else ""))
sys.stdout.write(json.dumps(out))
`;

export interface CompileCheck {
  /** Per pair: why the fixed text does not compile, or undefined. */
  errors: Array<string | undefined>;
  /** Set when python3 could not be run: nothing was checked. */
  unavailable?: string;
}

/** Compiles each [name, before, after] with python3 (one process for all). */
export function compileFixed(pairs: ReadonlyArray<[string, string, string]>, python = process.env.LEAKLENS_PYTHON || 'python3'): CompileCheck {
  if (pairs.length === 0) return { errors: [] };
  const r = spawnSync(python, ['-I', '-c', SCRIPT], { input: JSON.stringify(pairs), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    return { errors: pairs.map(() => undefined), unavailable: `${python}: ${why}` };
  }
  try {
    const parsed = JSON.parse(r.stdout) as Array<string | null>;
    return { errors: pairs.map((_, i) => parsed[i] ?? undefined) };
  } catch {
    return { errors: pairs.map(() => undefined), unavailable: `${python}: unreadable answer` };
  }
}
