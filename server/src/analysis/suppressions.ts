// Suppression comments: `# leaklens: ignore[LL101, LL201]`, bare `# leaklens: ignore`,
// `# noqa: LL101` (and bare `# noqa`) on the flagged line; `# leaklens: skip-file` in the
// first SKIP_FILE_LINES lines skips the whole file.
import type { Node } from 'web-tree-sitter';
import type { OffsetEdit } from './types';
import { LineIndex } from './text';

export const SKIP_FILE_LINES = 20;

const IGNORE = /#\s*leaklens:\s*ignore(?:\[([^\]]*)\])?/i;
const NOQA = /#\s*noqa(?::\s*([\w-]+(?:[\s,]+[\w-]+)*))?/i;
/** pylint's own line suppression, honoured when it ends a line of code (`x = f()  # pylint: disable=…`). */
const PYLINT_DISABLE = /#\s*pylint:\s*disable=([\w-]+(?:\s*,\s*[\w-]+)*)/i;

/**
 * Other linters' codes for the same findings, so that a line a user already silenced for Ruff,
 * flake8-bugbear or pylint is silent here too (the README has the table).
 */
export const PEER_CODES: ReadonlyMap<string, readonly string[]> = new Map([
  // Mutable default argument: Ruff/bugbear B006, pylint W0102.
  ['B006', ['LL201']],
  ['W0102', ['LL201']],
  ['DANGEROUS-DEFAULT-VALUE', ['LL201']],
  // A resource opened without `with`: Ruff SIM115, pylint R1732.
  ['SIM115', ['LL101', 'LL103']],
  ['R1732', ['LL101', 'LL103']],
  ['CONSIDER-USING-WITH', ['LL101', 'LL103']],
  // `lru_cache`/`cache` on a method: Ruff/bugbear B019, pylint W1518.
  ['B019', ['LL302']],
  ['W1518', ['LL302']],
  ['METHOD-CACHE-MAX-SIZE-NONE', ['LL302']],
]);
const SKIP_FILE = /#\s*leaklens:\s*skip-file\b/i;

/** Codes suppressed on one line; 'all' for a bare suppression. */
export type LineSuppression = Set<string> | 'all';

export interface Suppressions {
  skipFile: boolean;
  byLine: Map<number, LineSuppression>;
}

function codesOf(list: string | undefined): LineSuppression {
  if (list === undefined) return 'all';
  const codes = list.split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase());
  if (codes.length === 0) return 'all';
  const out = new Set<string>();
  for (const c of codes) {
    if (/^LL\d/.test(c)) out.add(c);
    for (const mapped of PEER_CODES.get(c) ?? []) out.add(mapped);
  }
  // Only other tools' codes, none of ours: the comment silences nothing here.
  return out;
}

function merge(a: LineSuppression | undefined, b: LineSuppression): LineSuppression {
  if (!a) return b;
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

export const NO_SUPPRESSIONS: Suppressions = Object.freeze({ skipFile: false, byLine: new Map() }) as Suppressions;

const MENTION = /leaklens|noqa|pylint/i;

/** A cheap text test: only text that mentions `leaklens`, `noqa` or `pylint` can hold a suppression comment. */
export function mayHaveSuppressions(text: string, region?: { start: number; end: number }): boolean {
  return MENTION.test(region ? text.slice(region.start, region.end) : text);
}

export function collectSuppressions(root: Node, lines: LineIndex): Suppressions {
  const byLine = new Map<number, LineSuppression>();
  let skipFile = false;
  for (const comment of root.descendantsOfType('comment')) {
    if (!comment) continue;
    const text = comment.text;
    const line = lines.lineOf(comment.startIndex);
    if (SKIP_FILE.test(text) && line < SKIP_FILE_LINES) skipFile = true;
    const ignore = IGNORE.exec(text);
    if (ignore) byLine.set(line, merge(byLine.get(line), codesOf(ignore[1])));
    const noqa = NOQA.exec(text);
    if (noqa) byLine.set(line, merge(byLine.get(line), codesOf(noqa[1])));
    const pylint = PYLINT_DISABLE.exec(text);
    const before = comment.previousSibling;
    if (pylint && before && before.endPosition.row === comment.startPosition.row) byLine.set(line, merge(byLine.get(line), codesOf(pylint[1])));
  }
  return { skipFile, byLine };
}

export function isSuppressed(s: Suppressions, line: number, code: string): boolean {
  const entry = s.byLine.get(line);
  if (!entry) return false;
  return entry === 'all' || entry.has(code) || [...entry].some((c) => code.startsWith(c));
}

/**
 * The edit that adds `code` to the line's suppression comment, or undefined when the line
 * cannot take a comment (it ends inside a string or with a backslash continuation).
 */
export function ignoreEdit(root: Node, text: string, offset: number, code: string): OffsetEdit | undefined {
  // The line around `offset`, found by scanning for its breaks (\n, \r\n or a lone \r) instead
  // of building a line table of the whole file for each finding.
  let lineStart = offset;
  while (lineStart > 0 && text.charCodeAt(lineStart - 1) !== 10 && text.charCodeAt(lineStart - 1) !== 13) lineStart--;
  let end = offset;
  while (end < text.length && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
  const content = text.slice(lineStart, end);
  if (/\\\s*$/.test(content)) return undefined;
  const last = root.descendantForIndex(Math.max(0, end - 1), Math.max(0, end - 1));
  for (let n: Node | null = last; n; n = n.parent) {
    if (n.type === 'comment') {
      const existing = IGNORE.exec(n.text);
      if (existing && existing[1] !== undefined) {
        const listStart = n.startIndex + existing.index + existing[0].indexOf('[') + 1;
        const listEnd = listStart + existing[1].length;
        const codes = existing[1].split(/[\s,]+/).filter(Boolean);
        return { start: listStart, end: listEnd, text: [...codes, code].join(', ') };
      }
      break;
    }
    if ((n.type === 'string' || n.type === 'string_content') && n.endIndex > end) return undefined;
  }
  const trimmed = content.replace(/\s+$/, '');
  const insertAt = lineStart + trimmed.length;
  return { start: insertAt, end, text: `  # leaklens: ignore[${code}]` };
}
