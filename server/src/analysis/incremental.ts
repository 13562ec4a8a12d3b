// Analysis of a keystroke without a whole-file pass. When every change since the last analysis
// lies inside the body of one top-level `def` or `class`, only that definition is analysed again,
// by the rules whose findings there depend on it alone (`Rule.locality === 'local'`); every
// other finding is carried over, moved by the edits. The caller runs a whole-file analysis once
// typing pauses ("settles"), which is the authoritative result.
import type { Node, Tree } from 'web-tree-sitter';
import type { AppliedEdit, ChangeSummary, OffsetRange } from '../parsing/document';
import { renderMessage, type AnalysisResult, type AnalyzedFinding, type Analyzer } from './engine';
import { LineIndex } from './text';
import type { AnalysisOptions, OffsetEdit, RelatedLocation } from './types';

const DEFINITIONS = new Set(['function_definition', 'class_definition', 'decorated_definition']);

/** What an incremental step needs to know of the previous analysis. */
export interface PreviousAnalysis {
  findings: AnalyzedFinding[];
  options: AnalysisOptions;
  /** Named children of the module then: a different count means statements were split or merged. */
  topLevelCount: number;
}

/** Where an edit falls relative to an offset range: moved with it, or overlapping it. */
function moved(start: number, end: number, edit: AppliedEdit): OffsetRange | undefined {
  if (end < edit.start) return { start, end };
  if (start > edit.oldEnd) {
    const delta = edit.newEnd - edit.oldEnd;
    return { start: start + delta, end: end + delta };
  }
  return undefined;
}

/**
 * The findings moved through the edits, in order. A finding any of whose ranges (its own, its
 * related locations, its fixes' and ignore edits) meets an edit is dropped: it described text
 * that is gone, and the next analysis will say what holds now.
 */
export function shiftFindings(findings: readonly AnalyzedFinding[], edits: readonly AppliedEdit[]): AnalyzedFinding[] {
  const out: AnalyzedFinding[] = [];
  next: for (let finding of findings) {
    for (const edit of edits) {
      const own = moved(finding.start, finding.end, edit);
      if (!own) continue next;
      const related: RelatedLocation[] = [];
      for (const r of finding.related) {
        const m = moved(r.start, r.end, edit);
        if (!m) continue next;
        related.push({ ...r, start: m.start, end: m.end });
      }
      const moveEdit = (e: OffsetEdit): OffsetEdit | undefined => {
        const m = moved(e.start, e.end, edit);
        return m && { ...e, start: m.start, end: m.end };
      };
      const fixes = [];
      for (const fix of finding.fixes) {
        const edits: OffsetEdit[] = [];
        for (const e of fix.edits) {
          const m = moveEdit(e);
          if (!m) continue next;
          edits.push(m);
        }
        fixes.push({ ...fix, edits });
      }
      let ignore: OffsetEdit | undefined;
      if (finding.ignore) {
        ignore = moveEdit(finding.ignore);
        if (!ignore) continue next;
      }
      let lineRefs: number[] | undefined;
      if (finding.lineRefs) {
        lineRefs = [];
        for (const ref of finding.lineRefs) {
          const m = moved(ref, ref, edit);
          if (!m) continue next;
          lineRefs.push(m.start);
        }
      }
      finding = { ...finding, start: own.start, end: own.end, related, fixes, ignore, ...(lineRefs ? { lineRefs } : {}) };
    }
    out.push(finding);
  }
  return out;
}

/**
 * The top-level definition whose body holds every dirty range, or undefined when the changes
 * reach anything else (a module-level statement, a definition's header, several statements).
 * An empty range list gives an empty region: nothing to analyse again.
 */
export function localRegion(root: Node, dirty: readonly OffsetRange[]): OffsetRange | undefined {
  if (dirty.length === 0) return { start: 0, end: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of dirty) {
    lo = Math.min(lo, r.start);
    hi = Math.max(hi, r.end);
  }
  const statement = root.firstNamedChildForIndex(lo);
  if (!statement || !DEFINITIONS.has(statement.type) || statement.startIndex > lo || statement.endIndex < hi) return undefined;
  const definition = statement.type === 'decorated_definition' ? statement.childForFieldName('definition') : statement;
  const body = definition?.childForFieldName('body');
  // Inside the body only: the name, parameters, bases and decorators are seen by other statements.
  if (!body || body.startIndex > lo || hi > statement.endIndex) return undefined;
  return { start: statement.startIndex, end: statement.endIndex };
}

/**
 * Analyses the current tree after `changes`, re-running only what the changes can affect when
 * that is one top-level definition. Returns undefined when a whole-file analysis is needed.
 */
export function analyzeIncrementally(
  analyzer: Analyzer,
  tree: Tree,
  text: string,
  options: AnalysisOptions,
  previous: PreviousAnalysis | undefined,
  changes: ChangeSummary | undefined,
): AnalysisResult | undefined {
  if (!previous || !changes || previous.options !== options) return undefined;
  const root = tree.rootNode;
  if (root.namedChildCount !== previous.topLevelCount) return undefined;
  const region = localRegion(root, changes.dirty);
  if (!region) return undefined;
  // A suppression comment that skips the file changes everything.
  if (/skip-file/.test(text.slice(region.start, region.end))) return undefined;
  const isLocal = new Set(analyzer.rules.filter((r) => r.locality === 'local').map((r) => r.code));
  let lines: LineIndex | undefined;
  const carried = shiftFindings(previous.findings, changes.edits)
    .filter((f) => !(isLocal.has(f.code) && f.start >= region.start && f.end <= region.end))
    .map((f) => (f.messageTemplate && f.lineRefs ? { ...f, message: renderMessage(f.messageTemplate, f.lineRefs, (lines ??= new LineIndex(text))) } : f));
  if (region.end === region.start) return { findings: carried, skipped: false, syntaxErrors: root.hasError };
  const fresh = analyzer.analyzeRegion(tree, text, options, region, (rule) => isLocal.has(rule.code));
  if (fresh.skipped) return undefined;
  const findings = [...carried, ...fresh.findings].sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
  return { ...fresh, findings };
}
