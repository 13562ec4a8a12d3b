// Formats findings for the terminal and for machines (the JSON contract of spec §5, GitHub
// workflow commands, per-rule statistics). SARIF is in sarif.ts.
import { relative, sep } from 'node:path';
import type { AnalyzedFinding } from '../analysis/engine';
import { cellPosition, NotebookMap } from '../analysis/notebook';
import { LineIndex } from '../analysis/text';

export interface FileFindings {
  path: string;
  text: string;
  findings: AnalyzedFinding[];
  /** A notebook: `text` is its virtual module; positions are reported in cells. */
  notebook?: NotebookMap;
}

/** 1-based; `cell` (1-based among all the notebook's cells) for a notebook, whose line is then the cell's. */
export interface JsonPosition {
  cell?: number;
  line: number;
  column: number;
}

/** Positions of one file's findings: in the file, or in a notebook's cells. */
export function positions(file: FileFindings): (offset: number, isEnd?: boolean) => JsonPosition {
  const lines = new LineIndex(file.text);
  const map = file.notebook;
  return (offset: number, isEnd = false) => {
    const p = lines.position(offset);
    if (map) return cellPosition(map, offset, p.line, p.character, (o) => lines.lineOf(o), isEnd);
    return { line: p.line + 1, column: p.character + 1 };
  };
}

/** `cell 3:2:5` in a notebook, `2:5` elsewhere (the text format's position). */
export function positionLabel(p: JsonPosition): string {
  return `${p.cell !== undefined ? `cell ${p.cell}:` : ''}${p.line}:${p.column}`;
}

/** A file that could not be read, checked or written, and why. */
export interface FileFailure {
  path: string;
  reason: string;
}

/**
 * Not a rule: the code of the JSON entries that stand for files that could not be checked. They
 * have every field of a finding (at line 1, column 1, severity error, no fixes), so a consumer that
 * reads findings sees them without knowing about them.
 */
export const NOT_CHECKED_CODE = 'LL000';
export const NOT_CHECKED_NAME = 'file-not-checked';

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

export function toJson(files: readonly FileFindings[], failures: readonly FileFailure[] = []): unknown[] {
  const out: unknown[] = [];
  for (const failure of failures) {
    const at = { line: 1, column: 1 };
    out.push({ path: displayPath(failure.path), code: NOT_CHECKED_CODE, name: NOT_CHECKED_NAME, severity: 'error', confidence: 'high', message: `could not be checked: ${failure.reason}`, start: at, end: at, related: [], fixes: [] });
  }
  for (const file of files) {
    const at = positions(file);
    const path = displayPath(file.path);
    for (const f of file.findings) {
      const start = at(f.start);
      out.push({
        path,
        ...(start.cell !== undefined ? { cell: start.cell } : {}),
        code: f.code,
        name: f.name,
        severity: f.severity,
        confidence: f.confidence ?? 'high',
        message: f.message,
        ...(f.subject ? { subject: f.subject } : {}),
        start,
        end: at(f.end, true),
        related: f.related.map((r) => ({ path, start: at(r.start), end: at(r.end, true), message: r.message })),
        fixes: f.fixes.map((fix) => ({
          title: fix.title,
          safety: fix.safety,
          edits: fix.edits.map((e) => ({ start: at(e.start), end: at(e.end, true), text: e.text })),
        })),
      });
    }
  }
  return out;
}

export function toText(files: readonly FileFindings[]): string {
  let out = '';
  for (const file of files) {
    const at = positions(file);
    const path = displayPath(file.path);
    for (const f of file.findings) {
      const fixable = f.fixes.some((x) => x.safety === 'safe') ? ' [*]' : '';
      out += `${path}:${positionLabel(at(f.start))}: ${f.code}${fixable} ${f.message}\n`;
    }
  }
  return out;
}

const GITHUB_LEVELS = { error: 'error', warning: 'warning', info: 'notice', hint: 'notice' } as const;

/** Escaping of a workflow command's message (GitHub's `escapeData`). */
export function escapeGithubData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escaping of a workflow command's property value (GitHub's `escapeProperty`). */
export function escapeGithubProperty(s: string): string {
  return escapeGithubData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** GitHub Actions annotations: one `::warning file=…,line=…::message` workflow command per finding. */
export function toGithub(files: readonly FileFindings[], failures: readonly FileFailure[] = []): string {
  let out = '';
  for (const f of failures) {
    const path = escapeGithubProperty(displayPath(f.path).split(sep).join('/'));
    out += `::error file=${path},title=${escapeGithubProperty('LeakLens: file not checked')}::${escapeGithubData(`could not be checked: ${f.reason}`)}\n`;
  }
  for (const file of files) {
    const at = positions(file);
    const path = escapeGithubProperty(displayPath(file.path).split(sep).join('/'));
    for (const f of file.findings) {
      const s = at(f.start);
      const e = at(f.end, true);
      // In a notebook the line and column are the cell's: the title names the cell.
      const title = escapeGithubProperty(`${f.code} ${f.name}${s.cell !== undefined ? ` (cell ${s.cell})` : ''}`);
      const props = `file=${path},line=${s.line},col=${s.column},endLine=${e.line},endColumn=${e.column},title=${title}`;
      out += `::${GITHUB_LEVELS[f.severity]} ${props}::${escapeGithubData(f.message)}\n`;
    }
  }
  return out;
}

export interface RuleCount {
  code: string;
  name: string;
  count: number;
  /** Findings that `--fix` would fix (a safe fix). */
  fixable: number;
}

/** Findings per rule code, most frequent first (then by code). */
export function countByRule(files: readonly FileFindings[]): RuleCount[] {
  const counts = new Map<string, RuleCount>();
  for (const file of files) {
    for (const f of file.findings) {
      const row = counts.get(f.code) ?? { code: f.code, name: f.name, count: 0, fixable: 0 };
      row.count++;
      if (f.fixes.some((x) => x.safety === 'safe')) row.fixable++;
      counts.set(f.code, row);
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}

/** The `--statistics` table; empty when there is nothing to count. */
export function toStatistics(files: readonly FileFindings[]): string {
  const rows = countByRule(files);
  if (rows.length === 0) return '';
  const countWidth = Math.max('count'.length, ...rows.map((r) => String(r.count).length));
  const fixWidth = Math.max('fixable'.length, ...rows.map((r) => String(r.fixable).length));
  const codeWidth = Math.max('code'.length, ...rows.map((r) => r.code.length));
  const line = (count: string, fixable: string, code: string, name: string) =>
    `${count.padStart(countWidth)}  ${fixable.padStart(fixWidth)}  ${code.padEnd(codeWidth)}  ${name}\n`;
  return line('count', 'fixable', 'code', 'name') + rows.map((r) => line(String(r.count), String(r.fixable), r.code, r.name)).join('');
}
