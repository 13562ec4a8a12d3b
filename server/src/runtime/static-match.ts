// Joins an unclosed resource found at run time to the static resource rules (LL101, LL103, LL104): the
// lines a resource finding stands on (its allocation line, the workspace frames of its allocation
// traceback — the callers that kept it — and the lines that dropped it), and which static
// findings of those rules lie on them. A run-time finding with no static finding on any of its
// lines is one static analysis missed (typically a resource returned by a helper in another
// module). Pure: the caller says how to get a file's static findings (the CLI analyses the file,
// the editor reads its diagnostics).
import { allFindings } from './report';
import type { ResourceFinding, RuntimeReport, StaticMatch } from './report';

/** The static resource rules. */
export const RESOURCE_RULES: readonly string[] = ['LL101', 'LL102', 'LL103', 'LL104'];
/**
 * Those an unclosed resource of a run confirms. Not LL102: it is about the paths where an
 * exception is raised between the allocation and the release, and a run cannot tell which path
 * dropped the resource — one forgotten on a normal path would "confirm" a failure that never
 * happened.
 */
export const CONFIRMED_BY_RESOURCES: readonly string[] = ['LL101', 'LL103', 'LL104'];

/** A static finding of one file, by 1-based line. */
export interface StaticFindingLine {
  code: string;
  line: number;
  confidence?: 'low';
}

/** Where a resource finding stands: allocation line first, then its callers, then where it was dropped (no repeats). */
export function resourceLines(finding: ResourceFinding): Array<{ file: string; line: number }> {
  const out: Array<{ file: string; line: number }> = [];
  const add = (file: string | null | undefined, line: number | null | undefined) => {
    if (!file || !line || line < 1) return;
    if (!out.some((l) => l.file === file && l.line === line)) out.push({ file, line });
  };
  add(finding.location.file, finding.location.line);
  for (const frame of finding.traceback) if (frame.workspace) add(frame.file, frame.line);
  for (const at of finding.releasedAt) add(at.file, at.line);
  return out;
}

/**
 * Sets `static` on every resource finding of the report: the LL101, LL103 and LL104 findings on its lines.
 * `findingsOf(file)` returns undefined when the file could not be analysed; a finding whose lines
 * were all in such files gets no `static` (unknown, rather than "not found").
 */
export function matchStaticFindings(report: RuntimeReport, findingsOf: (file: string) => readonly StaticFindingLine[] | undefined): void {
  const cache = new Map<string, readonly StaticFindingLine[] | undefined>();
  const of = (file: string) => {
    if (!cache.has(file)) cache.set(file, findingsOf(file));
    return cache.get(file);
  };
  for (const finding of allFindings(report)) {
    if (finding.kind !== 'resource') continue;
    let known = false;
    const matches: StaticMatch[] = [];
    for (const { file, line } of resourceLines(finding)) {
      const found = of(file);
      if (!found) continue;
      known = true;
      for (const f of found) {
        if (f.line !== line || !CONFIRMED_BY_RESOURCES.includes(f.code)) continue;
        if (!matches.some((m) => m.code === f.code && m.file === file && m.line === line)) {
          matches.push({ code: f.code, file, line, ...(f.confidence === 'low' ? { confidence: 'low' as const } : {}) });
        }
      }
    }
    if (known) finding.static = matches;
    else delete finding.static;
  }
}
