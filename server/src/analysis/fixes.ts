// Applying fix edits to text: one fix, or every fix of a kind in repeated passes (fix-all).
import type { Finding, Fix, OffsetEdit } from './types';

export function applyEdits(text: string, edits: readonly OffsetEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = Infinity;
  for (const edit of sorted) {
    if (edit.end > limit) throw new Error('overlapping edits');
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    limit = edit.start;
  }
  return out;
}

/** Edits that touch or overlap may interact; such fixes are left for the next pass. */
function conflicts(a: OffsetEdit, b: OffsetEdit): boolean {
  return !(a.end < b.start || b.end < a.start);
}

/** Picks, in document order, the first eligible fix of each finding that conflicts with no earlier pick. */
export function compatibleFixes(findings: readonly Finding[], eligible: (fix: Fix) => boolean): Fix[] {
  const chosen: Fix[] = [];
  const taken: OffsetEdit[] = [];
  const ordered = [...findings].sort((a, b) => a.start - b.start);
  for (const finding of ordered) {
    const fix = finding.fixes.find(eligible);
    if (!fix) continue;
    if (fix.edits.some((e) => taken.some((t) => conflicts(e, t)))) continue;
    chosen.push(fix);
    taken.push(...fix.edits);
  }
  return chosen;
}

/**
 * A caller's say in fix-all (notebooks: analysis/notebook.ts's CellTracker): `mayApply` refuses a
 * fix on the current text, `applied` hears of every set of edits applied together (offsets in the
 * text they were applied to).
 */
export interface FixAllHooks {
  mayApply?: (fix: Fix) => boolean;
  applied?: (edits: readonly OffsetEdit[]) => void;
}

export interface FixAllResult {
  text: string;
  applied: number;
  passes: number;
}

/**
 * Applies eligible fixes until none is left (at most maxPasses re-analyses). `analyze` returns
 * the findings of a text and whether it parses cleanly; a pass that would turn a clean file into
 * one with syntax errors is retried fix by fix, and a fix that breaks the file is dropped.
 */
export function fixAll(
  text: string,
  analyze: (text: string) => { findings: Finding[]; clean: boolean },
  eligible: (fix: Fix) => boolean,
  maxPasses = 10,
  maxAnalyses = 40,
  hooks: FixAllHooks = {},
): FixAllResult {
  let current = text;
  let applied = 0;
  let passes = 0;
  // Each analysis has its own work budget; this bounds how many there are, so that fixing a file
  // costs at most a fixed multiple of checking it (fix-by-fix retries would otherwise be one
  // analysis per fix). Whatever was applied when it runs out is kept: every step left a good file.
  let analyses = 0;
  const counted = (t: string) => {
    analyses++;
    return analyze(t);
  };
  let state = counted(current);
  const rejected = new Set<string>();
  const key = (fix: Fix) => JSON.stringify(fix.edits);
  while (passes < maxPasses && analyses < maxAnalyses) {
    const fixes = compatibleFixes(state.findings, (f) => eligible(f) && !rejected.has(key(f)) && (hooks.mayApply?.(f) ?? true));
    if (fixes.length === 0) break;
    passes++;
    const candidate = applyEdits(current, fixes.flatMap((f) => f.edits));
    const next = counted(candidate);
    if (next.clean || !state.clean) {
      hooks.applied?.(fixes.flatMap((f) => f.edits));
      current = candidate;
      applied += fixes.length;
      state = next;
      continue;
    }
    // Some fix in this pass broke a clean file: apply them one at a time and keep the good ones.
    let progressed = false;
    for (const fix of fixes) {
      if (analyses >= maxAnalyses) break;
      const single = applyEdits(current, fix.edits);
      const result = counted(single);
      if (result.clean) {
        hooks.applied?.(fix.edits);
        current = single;
        state = result;
        applied++;
        progressed = true;
        break; // offsets of the remaining fixes are stale now
      }
      rejected.add(key(fix));
    }
    if (!progressed && fixes.every((f) => rejected.has(key(f)))) continue;
  }
  return { text: current, applied, passes };
}
