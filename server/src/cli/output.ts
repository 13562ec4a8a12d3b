// Formats findings for the terminal and for machines (the JSON contract of spec §5).
import { relative } from 'node:path';
import type { AnalyzedFinding } from '../analysis/engine';
import { LineIndex } from '../analysis/text';

export interface FileFindings {
  path: string;
  text: string;
  findings: AnalyzedFinding[];
}

interface JsonPosition {
  line: number;
  column: number;
}

function pos(lines: LineIndex, offset: number): JsonPosition {
  const p = lines.position(offset);
  return { line: p.line + 1, column: p.character + 1 };
}

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

export function toJson(files: readonly FileFindings[]): unknown[] {
  const out: unknown[] = [];
  for (const file of files) {
    const lines = new LineIndex(file.text);
    const path = displayPath(file.path);
    for (const f of file.findings) {
      out.push({
        path,
        code: f.code,
        name: f.name,
        severity: f.severity,
        message: f.message,
        start: pos(lines, f.start),
        end: pos(lines, f.end),
        related: f.related.map((r) => ({ path, start: pos(lines, r.start), end: pos(lines, r.end), message: r.message })),
        fixes: f.fixes.map((fix) => ({
          title: fix.title,
          safety: fix.safety,
          edits: fix.edits.map((e) => ({ start: pos(lines, e.start), end: pos(lines, e.end), text: e.text })),
        })),
      });
    }
  }
  return out;
}

export function toText(files: readonly FileFindings[]): string {
  let out = '';
  for (const file of files) {
    const lines = new LineIndex(file.text);
    const path = displayPath(file.path);
    for (const f of file.findings) {
      const p = pos(lines, f.start);
      const fixable = f.fixes.some((x) => x.safety === 'safe') ? ' [*]' : '';
      out += `${path}:${p.line}:${p.column}: ${f.code}${fixable} ${f.message}\n`;
    }
  }
  return out;
}
