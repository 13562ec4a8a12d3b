// Python's own indentation rules, which tree-sitter does not enforce: CPython's tokenizer measures
// every logical line's indentation twice, with tabs to multiples of 8 and with a tab counted as
// one column, and refuses the file (TabError) when the two measures disagree about whether a line
// is deeper than, level with or shallower than the ones before it; a dedent to a column no open
// block started at is an IndentationError. A fix must never introduce either, so fix checks run
// this on the fixed text. Also: the file's line break, so that inserted lines use it.
import type { Fix, OffsetEdit } from './types';

/** The first indentation error CPython's tokenizer would raise, or undefined. */
export function indentationError(text: string): string | undefined {
  const cols = [0];
  const alts = [0];
  let depth = 0; // open brackets
  let line = 1;
  let i = 0;
  const n = text.length;
  const isBreak = (c: string) => c === '\n' || c === '\r';
  const skipBreak = () => {
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    i++;
    line++;
  };
  while (i < n) {
    // At the start of a physical line that begins a logical one (outside brackets).
    if (depth === 0) {
      let col = 0;
      let alt = 0;
      while (i < n) {
        const c = text[i];
        if (c === ' ') {
          col++;
          alt++;
        } else if (c === '\t') {
          col = (Math.floor(col / 8) + 1) * 8;
          alt++;
        } else if (c === '\f') {
          col = alt = 0;
        } else break;
        i++;
      }
      if (i >= n) break;
      const c = text[i];
      const blank = c === '#' || isBreak(c) || (c === '\\' && isBreak(text[i + 1] ?? ''));
      if (!blank) {
        const top = cols.length - 1;
        if (col === cols[top]) {
          if (alt !== alts[top]) return `TabError: inconsistent use of tabs and spaces in indentation (line ${line})`;
        } else if (col > cols[top]) {
          if (alt <= alts[top]) return `TabError: inconsistent use of tabs and spaces in indentation (line ${line})`;
          cols.push(col);
          alts.push(alt);
        } else {
          while (cols.length > 1 && col < cols[cols.length - 1]) {
            cols.pop();
            alts.pop();
          }
          if (col !== cols[cols.length - 1]) return `IndentationError: unindent does not match any outer indentation level (line ${line})`;
          if (alt !== alts[alts.length - 1]) return `TabError: inconsistent use of tabs and spaces in indentation (line ${line})`;
        }
      }
    }
    // The rest of the physical line (and of any string or bracket it opens).
    while (i < n) {
      const c = text[i];
      if (isBreak(c)) {
        skipBreak();
        break;
      }
      if (c === '#') {
        while (i < n && !isBreak(text[i])) i++;
        continue;
      }
      if (c === '\\' && isBreak(text[i + 1] ?? '')) {
        // An explicit continuation: the next physical line belongs to this logical line.
        i++;
        skipBreak();
        continue;
      }
      if (c === '"' || c === "'") {
        const triple = text[i + 1] === c && text[i + 2] === c;
        const close = triple ? c + c + c : c;
        i += close.length;
        while (i < n) {
          if (text[i] === '\\') {
            if (isBreak(text[i + 1] ?? '')) {
              i++;
              skipBreak();
            } else i += 2;
            continue;
          }
          if (text.startsWith(close, i)) {
            i += close.length;
            break;
          }
          if (isBreak(text[i])) {
            if (!triple) break; // unterminated: the line ends it
            skipBreak();
            continue;
          }
          i++;
        }
        continue;
      }
      if (c === '(' || c === '[' || c === '{') depth++;
      else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
      i++;
    }
  }
  return undefined;
}

/** The line break the file uses first: '\r\n', a lone '\r', or '\n'. */
export function fileLineBreak(text: string): string {
  const m = /\r\n|\r|\n/.exec(text);
  return m ? m[0] : '\n';
}

/** Inserted text with its bare '\n' line breaks written the way the file writes its own. */
function withLineBreak(inserted: string, nl: string): string {
  if (nl === '\n' || inserted.indexOf('\n') === -1) return inserted;
  return inserted.replace(/\r?\n/g, nl);
}

/**
 * A fix edit written in the file's own style: its line breaks (a file of lone '\r' keeps them)
 * and, where the fix added an indentation level with the file's step to lines indented the other
 * way (spaces before tabs, or a tab before spaces), the level re-expressed in the characters of
 * the lines around it — inconsistent mixes are what CPython refuses with TabError.
 */
export function adaptEdit(text: string, edit: OffsetEdit, unit: () => string): OffsetEdit {
  let inserted = edit.text;
  if (inserted.indexOf('\n') !== -1) {
    // The start of the edit's line, found by stepping back over it (searching for a '\r' the file
    // may not have would scan back to its start for every edit).
    let lineStart = edit.start;
    while (lineStart > 0 && text.charCodeAt(lineStart - 1) !== 10 && text.charCodeAt(lineStart - 1) !== 13) lineStart--;
    const original = new Set(text.slice(lineStart, edit.end).split(/\r\n|\r|\n/));
    const lines = inserted.split('\n');
    const atLineStart = lineStart === edit.start;
    for (let k = atLineStart ? 0 : 1; k < lines.length; k++) {
      const l = lines[k].replace(/\r$/, '');
      if (original.has(l)) continue; // copied as it was (a string's inner line, an untouched line)
      const lead = /^[ \t]*/.exec(l)![0];
      if (!lead.includes(' ') || !lead.includes('\t')) continue;
      lines[k] = reexpress(lead, unit()) + lines[k].slice(lead.length);
    }
    inserted = lines.join('\n');
  }
  return inserted === edit.text ? edit : { ...edit, text: inserted };
}

/** Mixed leading whitespace made of the file's step plus the other character: one character kind. */
function reexpress(lead: string, unit: string): string {
  if (unit === '\t') {
    // Tab steps added to a space-indented line: each becomes the spaces the line already uses per level (4 by default).
    const spaces = lead.replace(/\t/g, '');
    return spaces + '    '.repeat(lead.length - spaces.length);
  }
  if (/^ +$/.test(unit)) {
    let levels = 0;
    let rest = lead;
    for (;;) {
      const at = rest.indexOf(unit);
      if (at === -1) break;
      rest = rest.slice(0, at) + rest.slice(at + unit.length);
      levels++;
    }
    if (rest.includes(' ')) return lead; // not made of whole steps: left for the check to judge
    return rest + '\t'.repeat(levels);
  }
  return lead;
}

/** Every edit of a fix in the file's own style (see adaptEdit). */
export function adaptFix(text: string, fix: Fix, unit: () => string): Fix {
  const edits = fix.edits.map((e) => adaptEdit(text, e, unit));
  return edits.every((e, i) => e === fix.edits[i]) ? fix : { ...fix, edits };
}

/** A fix's inserted line breaks in the file's own style (the text the edits apply to, as written). */
export function withFileLineBreaks(text: string, fix: Fix): Fix {
  const nl = fileLineBreak(text);
  if (nl === '\n') return fix;
  const edits = fix.edits.map((e) => {
    const t = withLineBreak(e.text, nl);
    return t === e.text ? e : { ...e, text: t };
  });
  return edits.every((e, i) => e === fix.edits[i]) ? fix : { ...fix, edits };
}
