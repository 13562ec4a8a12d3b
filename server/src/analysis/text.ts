// Text helpers shared by rules, fixes and the CLI. Lines break at \r\n, \r or \n, as in LSP.

export interface LineColumn {
  /** 0-based line. */
  line: number;
  /** 0-based column in UTF-16 code units. */
  character: number;
}

export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 /* \r */) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      } else if (c === 10 /* \n */) {
        this.starts.push(i + 1);
      }
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  position(offset: number): LineColumn {
    let clamped = Math.max(0, Math.min(offset, this.text.length));
    // Between the \r and the \n of a CRLF (a comment token ends there: tree-sitter's comment
    // runs to '\n'), LSP's positionAt answers the end of the line's content: so do we.
    if (clamped > 0 && this.text.charCodeAt(clamped - 1) === 13 && this.text.charCodeAt(clamped) === 10) clamped--;
    const line = this.lineOf(clamped);
    return { line, character: clamped - this.starts[line] };
  }

  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line, this.starts.length - 1))];
  }

  /** Offset of the end of the line's content, before its line break. */
  lineEnd(line: number): number {
    if (line + 1 >= this.starts.length) return this.text.length;
    let end = this.starts[line + 1];
    if (this.text.charCodeAt(end - 1) === 10) end--;
    if (this.text.charCodeAt(end - 1) === 13) end--;
    return end;
  }
}

/** Start of the line that contains offset (\n-based, which is what Python's indentation follows). */
export function lineStartOf(text: string, offset: number): number {
  const nl = text.lastIndexOf('\n', offset - 1);
  return nl + 1;
}

/** The whitespace that begins the line holding offset. */
export function indentOfLine(text: string, offset: number): string {
  const start = lineStartOf(text, offset);
  let end = start;
  while (end < text.length && (text[end] === ' ' || text[end] === '\t')) end++;
  return text.slice(start, end);
}

/** True when only indentation precedes offset on its line. */
export function startsLine(text: string, offset: number): boolean {
  const start = lineStartOf(text, offset);
  return /^[ \t]*$/.test(text.slice(start, offset));
}

/** The line break style the file already uses. */
export function lineBreakOf(text: string): string {
  const i = text.indexOf('\n');
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n';
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const IDENTIFIER_CHAR = /[\p{L}\p{N}_\p{Mn}\p{Mc}]/u;

export function isIdentifierChar(c: number): boolean {
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  return IDENTIFIER_CHAR.test(String.fromCharCode(c));
}

/** Offsets in [start, end) where `name` occurs as a whole word (a cheap pre-check before tree work). */
export function wordOffsets(text: string, name: string, start = 0, end = text.length): number[] {
  const out: number[] = [];
  // An empty name (a MISSING identifier the parser inserted) occurs nowhere; indexOf('', i)
  // would instead stop at text.length forever.
  if (name.length === 0) return out;
  for (let i = text.indexOf(name, start); i !== -1 && i + name.length <= end; i = text.indexOf(name, i + 1)) {
    if (i > 0 && isIdentifierChar(text.charCodeAt(i - 1))) continue;
    const after = i + name.length;
    if (after < text.length && isIdentifierChar(text.charCodeAt(after))) continue;
    out.push(i);
  }
  return out;
}
