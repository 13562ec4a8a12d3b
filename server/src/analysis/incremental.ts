// Analysis of a keystroke without a whole-file pass. When every change since the last analysis
// lies inside the body of one function (top-level, or a method of a top-level class), only that
// function is analysed again, by the rules whose findings there depend on it alone
// (`Rule.locality === 'function'`); every other finding is carried over, moved by the edits. The caller runs a whole-file analysis once
// typing pauses ("settles"), which is the authoritative result.
import type { Node, Tree } from 'web-tree-sitter';
import type { AppliedEdit, ChangeSummary, OffsetRange } from '../parsing/document';
import { renderMessage, ruleEnabled, type AnalysisResult, type AnalyzedFinding, type Analyzer } from './engine';
import type { FileImports } from './imports';
import { factoryNameEnds, longestFactoryName } from './resources';
import type { AnalysisOptions, LineRef, OffsetEdit, RelatedLocation } from './types';

const DEFINITIONS = new Set(['function_definition', 'class_definition', 'decorated_definition']);

/** What an incremental step needs to know of the previous analysis. */
export interface PreviousAnalysis {
  findings: AnalyzedFinding[];
  options: AnalysisOptions;
  /** Named children of the module then: a different count means statements were split or merged. */
  topLevelCount: number;
  /** The file's imports then, if the analysis read them. */
  imports?: FileImports;
}

/**
 * A range moved through an edit: unchanged when it ends where the edit starts or before, shifted
 * when it starts where the edit's replaced text ends or after, undefined when the edit changes
 * text inside it. (Text typed right after or before a range leaves the range's text alone.)
 */
function moved(start: number, end: number, edit: AppliedEdit): OffsetRange | undefined {
  if (end <= edit.start) return { start, end };
  if (start >= edit.oldEnd) {
    const delta = edit.newEnd - edit.oldEnd;
    return { start: start + delta, end: end + delta };
  }
  return undefined;
}

/**
 * The findings moved through the edits, in order. A finding whose own range meets an edit is
 * dropped: it described text that is gone, and the next analysis will say what holds now. A
 * related location, fix or ignore edit that meets an edit is dropped from its finding (a
 * provisional finding's fixes are re-derived from a whole-file analysis before they are offered).
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
        if (m) related.push({ ...r, start: m.start, end: m.end });
      }
      const moveEdit = (e: OffsetEdit): OffsetEdit | undefined => {
        const m = moved(e.start, e.end, edit);
        return m && { ...e, start: m.start, end: m.end };
      };
      const fixes = [];
      for (const fix of finding.fixes) {
        const edits = fix.edits.map(moveEdit);
        if (edits.every((e): e is OffsetEdit => e !== undefined)) fixes.push({ ...fix, edits });
      }
      const ignore = finding.ignore && moveEdit(finding.ignore);
      let lineRefs: LineRef[] | undefined;
      let message = finding.message;
      if (finding.lineRefs && finding.messageTemplate) {
        lineRefs = [];
        for (const ref of finding.lineRefs) {
          const m = moved(ref.offset, ref.offset, edit);
          if (!m) continue next;
          lineRefs.push({ offset: m.start, line: ref.offset < edit.start ? ref.line : ref.line + edit.lineDelta });
        }
        if (edit.lineDelta !== 0) message = renderMessage(finding.messageTemplate, lineRefs);
      }
      finding = { ...finding, message, start: own.start, end: own.end, related, fixes, ignore, ...(lineRefs ? { lineRefs } : {}) };
    }
    out.push(finding);
  }
  return out;
}

/** Is text[from, to) spaces and tabs only (no line break)? */
function blank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 9) return false;
  return true;
}

/** The definition node a statement stands for (through its decorators), or undefined. */
function definitionOf(statement: Node): Node | undefined {
  const def = statement.type === 'decorated_definition' ? statement.childForFieldName('definition') : statement;
  return def && (def.type === 'function_definition' || def.type === 'class_definition') ? def : undefined;
}

/**
 * The function whose body holds every dirty range — a top-level function, or a method of a
 * top-level class — as the range of its statement (decorators included); undefined when the
 * changes reach anything else (a module-level statement, a class body outside its methods, a
 * header, several statements). An empty range list gives an empty region: nothing to analyse.
 */
export function localRegion(root: Node, text: string, dirty: readonly OffsetRange[]): OffsetRange | undefined {
  if (dirty.length === 0) return { start: 0, end: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of dirty) {
    lo = Math.min(lo, r.start);
    hi = Math.max(hi, r.end);
  }
  let statement = root.firstNamedChildForIndex(lo);
  for (let depth = 0; statement && depth < 2; depth++) {
    // Blanks typed after a statement's last token are not part of it, yet change nothing else.
    if (!DEFINITIONS.has(statement.type) || statement.startIndex > lo || (statement.endIndex < hi && !blank(text, statement.endIndex, hi))) return undefined;
    const def = definitionOf(statement);
    const body = def?.childForFieldName('body');
    // Inside the body only: the name, parameters, bases and decorators are seen by other statements.
    if (!def || !body || body.startIndex > lo) return undefined;
    if (def.type === 'function_definition') return { start: statement.startIndex, end: statement.endIndex };
    // A class: the method that holds the change.
    statement = body.firstNamedChildForIndex(lo);
  }
  return undefined;
}

/**
 * Is the function of the region called outside it (`name(` or `.name(` in the text — a textual
 * pre-filter: a mention in a string or a comment only costs the incremental step)?
 */
function calledElsewhere(root: Node, text: string, region: OffsetRange): boolean {
  let statement: Node | null = root.descendantForIndex(region.start);
  while (statement && !(statement.startIndex === region.start && statement.endIndex === region.end && DEFINITIONS.has(statement.type))) statement = statement.parent;
  const name = statement ? definitionOf(statement)?.childForFieldName('name')?.text : undefined;
  if (!name) return false;
  for (const m of text.matchAll(new RegExp(`(?<!\\w)${name}\\s*\\(`, 'g'))) {
    const at = m.index ?? 0;
    if (at < region.start || at >= region.end) return true;
  }
  return false;
}

/** Options are rebuilt per request by the settings layer: compare them by value. */
function sameOptions(a: AnalysisOptions, b: AnalysisOptions): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** An incremental result, and what was analysed for it. */
export interface IncrementalResult extends AnalysisResult {
  /**
   * 'function': the edited function was analysed again (its findings from the function-level
   * rules are current); 'nothing': every finding is the previous one moved by the edits — the
   * change reached further than one function, and the whole-file analysis waits for a pause.
   */
  analysed: 'function' | 'nothing';
}

/**
 * Analyses the current tree after `changes` without a whole-file pass: the edited function when
 * the changes stay inside one, nothing otherwise (every finding is carried, moved by the edits).
 * Returns undefined when there is nothing to carry from (no previous analysis, other options,
 * unknown changes): then the whole file must be analysed.
 */
export function analyzeIncrementally(
  analyzer: Analyzer,
  tree: Tree,
  text: string,
  options: AnalysisOptions,
  previous: PreviousAnalysis | undefined,
  changes: ChangeSummary | undefined,
): IncrementalResult | undefined {
  if (!previous || !changes || !sameOptions(previous.options, options)) return undefined;
  const root = tree.rootNode;
  const carriedAll = () => ({ findings: shiftFindings(previous.findings, changes.edits), skipped: false, syntaxErrors: root.hasError, analysed: 'nothing' as const });
  // Statements split or merged: the module around the function is not what it was.
  if (root.namedChildCount !== previous.topLevelCount) return carriedAll();
  const region = localRegion(root, text, changes.dirty);
  if (!region || region.end === region.start) return carriedAll();
  // A suppression comment that skips the file changes everything.
  if (/skip-file/.test(text.slice(region.start, region.end))) return undefined;
  // A function the file calls elsewhere: its summary (does it return a fresh resource, does it
  // record what it returns) decides the resource rules' findings at those calls, outside the
  // region; they wait for the whole-file analysis at the pause.
  if (calledElsewhere(root, text, region)) return carriedAll();
  const isLocal = new Set(analyzer.rules.filter((r) => r.locality === 'function').map((r) => r.code));
  const carried = shiftFindings(previous.findings, changes.edits).filter((f) => !(isLocal.has(f.code) && f.start >= region.start && f.end <= region.end));
  // The imports stay valid unless an edit touched an import statement or the function has one now.
  let imports = previous.imports;
  if (imports && !/\bimport\b/.test(text.slice(region.start, region.end))) {
    const spans: OffsetRange[] = [];
    for (let span of imports.spans) {
      for (const edit of changes.edits) {
        const m = moved(span.start, span.end, edit);
        if (!m) {
          imports = undefined;
          break;
        }
        span = m;
      }
      if (!imports) break;
      spans.push(span);
    }
    if (imports) imports = { map: imports.map, spans };
  } else imports = undefined;
  const fresh = analyzer.analyzeRegion(tree, text, options, region, imports);
  // Too deep to analyse (the only reason a region is skipped): left, like any change this step
  // cannot take, to the whole-file analysis at the pause, which skips the file if it is too deep.
  if (fresh.skipped) return carriedAll();
  const findings = [...carried, ...fresh.findings].sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
  return { ...fresh, findings, analysed: 'function', imports: fresh.imports ?? imports };
}

/**
 * The rules with `locality: 'function'` whose findings lie only at the calls
 * `factoryCallCandidates` returns (resources.ts): the rules `movedWithoutParse` has a pre-filter
 * for. Any other function-level rule selected (LL201, a new one) means a keystroke is parsed.
 */
const AT_FACTORY_CALLS = new Set(['LL101', 'LL103']);

/** Suppression comments: typed, they change what the next analysis reports. */
const MARKERS = /noqa|leaklens|skip-file/i;

/**
 * What `movedWithoutParse` has read of the text, after the first `checked` edits of `changes`
 * (the document's record since its last analysis): with no `witness`, the text then held no
 * factory name; with one, a factory name ended at that offset (and the character after it).
 */
export interface QuietText {
  changes: Readonly<ChangeSummary>;
  checked: number;
  /** The configured resource factories it was read for (they add names). */
  factories: string;
  witness?: number;
}

/** A range of the text after `edit` for a range of the text before it, widened over the edit when they meet. */
function through(range: OffsetRange, edit: AppliedEdit): OffsetRange {
  const delta = edit.newEnd - edit.oldEnd;
  if (range.end < edit.start) return range;
  if (range.start > edit.oldEnd) return { start: range.start + delta, end: range.end + delta };
  return { start: Math.min(range.start, edit.start), end: Math.max(range.end + delta, edit.newEnd) };
}

/**
 * The result of a keystroke when no parse is needed to know it (`findings`), and what was read
 * of the text for the next call (`quiet`). The findings are then exactly what the parse and
 * `analyzeIncrementally` would give: the previous findings moved by the edits. That step
 * re-analyses at most one function, with the function-level rules only, and returns undefined (a
 * whole-file analysis) only for the reasons checked here or by the caller (no previous analysis,
 * other options, unknown changes, `skip-file` in the function; the caller checks the document's
 * length and MAX_UNSETTLED_MS). So the parse can wait (for the pause, or the next reader of the
 * tree) when, for ANY function the parse could find around the edits:
 *  - every selected function-level rule reports only at factory call candidates, and the whole
 *    text has none (`factoryNameEnds`: no factory name, read from the text alone, in code,
 *    strings or comments, so no syntax the parse finds can make one);
 *  - no moved finding of a function-level rule is left to be dropped;
 *  - the edited text holds no suppression comment, and the text no `skip-file`.
 * The whole text is scanned once per record of changes; later calls with the same record read
 * only around the edits made since: a name that was not in the text and is now must meet an
 * edit. A name found is kept as a witness: while no edit meets it, the text still has it. Reads
 * the text only, never a tree.
 */
export function movedWithoutParse(
  analyzer: Analyzer,
  text: string,
  options: AnalysisOptions,
  previous: PreviousAnalysis | undefined,
  changes: Readonly<ChangeSummary> | undefined,
  quiet: QuietText | undefined,
): { findings?: AnalyzedFinding[]; quiet?: QuietText } {
  if (!previous || !changes || !sameOptions(previous.options, options)) return { quiet };
  const local = new Set<string>();
  for (const rule of analyzer.rules) {
    if (rule.locality !== 'function') continue;
    local.add(rule.code);
    if (ruleEnabled(rule.code, options) && !AT_FACTORY_CALLS.has(rule.code)) return { quiet };
  }
  const names = factoryNameEnds(options);
  if (!names) return { quiet };
  const factories = options.resourceFactories.join('\n');
  const { edits } = changes;
  const m = margin(options);
  const known = quiet && quiet.changes === changes && quiet.factories === factories && quiet.checked <= edits.length ? quiet : undefined;
  const refuse = (witness: number) => ({ quiet: { changes, checked: edits.length, factories, witness } });
  // The edits whose surroundings are still to be read; undefined: the whole text is.
  let from: number | undefined;
  if (known?.witness !== undefined) {
    // Where the name found last time is now, unless an edit met it: still a name there?
    let at: OffsetRange | undefined = { start: known.witness, end: known.witness + 1 };
    for (let i = known.checked; i < edits.length && at; i++) at = moved(at.start, at.end, edits[i]);
    const found = at && names.exec(text.slice(at.start, at.start + 2 * m));
    if (at && found) return refuse(at.start + found.index);
  } else if (known) from = known.checked;
  if (from === undefined) {
    const found = names.exec(text);
    if (found) return refuse(found.index);
    if (/skip-file/i.test(text)) return {};
    from = 0;
  }
  // Around every edit not read yet (all of them after a whole-text scan: the markers are looked
  // for in edited text only), in today's offsets: far enough either side to hold any name or
  // marker that meets the edit, and the character after it.
  for (let i = from; i < edits.length; i++) {
    let span: OffsetRange = { start: edits[i].start, end: edits[i].newEnd };
    for (let j = i + 1; j < edits.length; j++) span = through(span, edits[j]);
    const lo = Math.max(0, span.start - m);
    const around = text.slice(lo, Math.min(text.length, span.end + m));
    const found = names.exec(around);
    if (found) return refuse(lo + found.index);
    if (MARKERS.test(around)) return {};
  }
  const findings = shiftFindings(previous.findings, edits);
  const next: QuietText = { changes, checked: edits.length, factories };
  if (findings.some((f) => local.has(f.code))) return { quiet: next };
  return { findings, quiet: next };
}

/** How far either side of an edit a factory name or a marker that meets it can reach. */
function margin(options: AnalysisOptions): number {
  return Math.max(longestFactoryName(options), 'skip-file'.length) + 1;
}
