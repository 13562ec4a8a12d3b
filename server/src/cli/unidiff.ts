// A small line-based unified diff (what `diff -u` and `git diff` print), for `check --diff`.
// Myers' O((N+M)·D) algorithm after trimming the common prefix and suffix: fix edits are few
// and local, so D stays small; past MAX_EDIT_DISTANCE the middle is shown as one replacement
// (still a correct diff, only not a minimal one).

export type DiffOp = { kind: ' ' | '-' | '+'; line: string };

const MAX_EDIT_DISTANCE = 1000;

/** Lines with their terminator ("\n", so "\r\n" keeps its "\r"); the last one may have none. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The edit script from `a` to `b`: equal, deleted and inserted lines in order (deletions first in each change). */
export function diffLines(a: readonly string[], b: readonly string[]): DiffOp[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const midA = a.slice(prefix, a.length - suffix);
  const midB = b.slice(prefix, b.length - suffix);
  const ops: DiffOp[] = [];
  for (let i = 0; i < prefix; i++) ops.push({ kind: ' ', line: a[i] });
  ops.push(...normalize(myers(midA, midB) ?? replaceAll(midA, midB)));
  for (let i = a.length - suffix; i < a.length; i++) ops.push({ kind: ' ', line: a[i] });
  return ops;
}

function replaceAll(a: readonly string[], b: readonly string[]): DiffOp[] {
  return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
}

/** Within each run of changes, deletions before insertions (as diff prints them). */
function normalize(ops: DiffOp[]): DiffOp[] {
  const out: DiffOp[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i].kind === ' ') {
      out.push(ops[i++]);
      continue;
    }
    const run: DiffOp[] = [];
    while (i < ops.length && ops[i].kind !== ' ') run.push(ops[i++]);
    out.push(...run.filter((o) => o.kind === '-'), ...run.filter((o) => o.kind === '+'));
  }
  return out;
}

/** Myers' shortest edit script, or undefined when it needs more than MAX_EDIT_DISTANCE edits. */
function myers(a: readonly string[], b: readonly string[]): DiffOp[] | undefined {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return replaceAll(a, b);
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d] holds v[-d..d] after step d.
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(off - d, off + d + 1));
        return backtrack(a, b, trace);
      }
    }
    trace.push(v.slice(off - d, off + d + 1));
  }
  return undefined;
}

function backtrack(a: readonly string[], b: readonly string[], trace: Int32Array[]): DiffOp[] {
  const reversed: DiffOp[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1];
    const at = (k: number) => prev[k + d - 1];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      reversed.push({ kind: ' ', line: a[--x] });
      y--;
    }
    if (x === prevX) reversed.push({ kind: '+', line: b[--y] });
    else reversed.push({ kind: '-', line: a[--x] });
  }
  while (x > 0 && y > 0) {
    reversed.push({ kind: ' ', line: a[--x] });
    y--;
  }
  return reversed.reverse();
}

function range(start: number, count: number): string {
  // diff's convention: an empty range names the line before it; a count of 1 is left out.
  if (count === 0) return `${start},0`;
  if (count === 1) return `${start + 1}`;
  return `${start + 1},${count}`;
}

function formatLine(op: DiffOp): string {
  if (op.line.endsWith('\n')) return op.kind + op.line;
  return `${op.kind}${op.line}\n\\ No newline at end of file\n`;
}

/**
 * The unified diff from `before` to `after` with `context` lines around each change (changes
 * closer than 2·context lines share a hunk), under `--- a/NAME` / `+++ b/NAME` headers; empty
 * when the texts are equal.
 */
/**
 * A file name for a `---`/`+++` line: as it is, or in double quotes with C escapes (what git
 * writes and both `git apply` and GNU patch read) when it holds a space, a tab, a quote, a
 * backslash or a control character — otherwise the name would end at the first blank.
 */
export function quoteDiffName(name: string): string {
  if (!/[\s"\\\x00-\x1f\x7f]/.test(name)) return name;
  const escapes: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '"': '\\"', '\\': '\\\\' };
  return `"${name.replace(/[\t\n\r"\\\x00-\x1f\x7f]/g, (c) => escapes[c] ?? `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)}"`;
}

/** `name`: relative to the current folder (`a/`, `b/` are added), or an absolute path for a file outside it (no prefix). */
export function unifiedDiff(before: string, after: string, name: string, context = 3): string {
  if (before === after) return '';
  const ops = diffLines(splitLines(before), splitLines(after));
  const changes: number[] = [];
  ops.forEach((op, i) => op.kind !== ' ' && changes.push(i));
  if (changes.length === 0) return '';
  // Group changes into hunks.
  const groups: Array<[number, number]> = [];
  for (const i of changes) {
    const last = groups[groups.length - 1];
    if (last && i - last[1] - 1 <= 2 * context) last[1] = i;
    else groups.push([i, i]);
  }
  // Old and new line counts before each op.
  const oldBefore: number[] = [];
  const newBefore: number[] = [];
  let o = 0;
  let n = 0;
  for (const op of ops) {
    oldBefore.push(o);
    newBefore.push(n);
    if (op.kind !== '+') o++;
    if (op.kind !== '-') n++;
  }
  const header = (side: 'a' | 'b') => quoteDiffName(name.startsWith('/') ? name : `${side}/${name}`);
  let out = `--- ${header('a')}\n+++ ${header('b')}\n`;
  for (const [first, last] of groups) {
    const start = Math.max(0, first - context);
    const end = Math.min(ops.length, last + 1 + context);
    const slice = ops.slice(start, end);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    out += `@@ -${range(oldBefore[start], oldCount)} +${range(newBefore[start], newCount)} @@\n`;
    for (const op of slice) out += formatLine(op);
  }
  return out;
}
