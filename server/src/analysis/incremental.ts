// Analysis of a keystroke without a whole-file pass. When every change since the last analysis
// lies inside the body of one function (top-level, or a method of a top-level class), only that
// function is analysed again, by the rules whose findings there depend on it alone
// (`Rule.locality === 'function'`); every other finding is carried over, moved by the edits. The caller runs a whole-file analysis once
// typing pauses ("settles"), which is the authoritative result.
import type { Language, Node, Tree } from 'web-tree-sitter';
import type { AppliedEdit, ChangeSummary, OffsetRange } from '../parsing/document';
import { renderMessage, ruleEnabled, type AnalysisResult, type AnalyzedFinding, type Analyzer } from './engine';
import { fileImports, type FileImports } from './imports';
import { factoryAttributeNames, factoryNameEnds, longestFactoryName } from './resources';
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

/** The name node of the definition whose statement is the region. */
function regionName(root: Node, region: OffsetRange): Node | undefined {
  let statement: Node | null = root.descendantForIndex(region.start);
  while (statement && !(statement.startIndex === region.start && statement.endIndex === region.end && DEFINITIONS.has(statement.type))) statement = statement.parent;
  return (statement && definitionOf(statement)?.childForFieldName('name')) ?? undefined;
}

/**
 * Is the function of the region called outside it (`name(` or `.name(` in the text — a textual
 * pre-filter: a mention in a string or a comment only costs the incremental step)?
 */
function calledElsewhere(root: Node, text: string, region: OffsetRange): boolean {
  const name = regionName(root, region)?.text;
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
  /**
   * Every edit of the record checked so far changed one identifier into another, or the text of a
   * comment, and nothing else (`identifierEdit`, `commentEdit`): the tree of the last parse,
   * edited, still has the text's structure.
   */
  sameStructure?: boolean;
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
 * edit. A name found is kept as a witness: while no edit meets it, the text still has it.
 *
 * When the text has a factory name, a keystroke is still published without a parse when every
 * edit of the record made one identifier another, or changed a comment's text, and nothing else
 * (`identifierEdit`, `commentEdit`), so that
 * the edited tree of the last parse (`editedTree`) has the structure the parse would find, and
 * the function that tree puts around the edit (the incremental step's region) has no factory
 * call candidate after it: no factory name, no call of a function of the file that may make one
 * or of a name an import binds to a factory, and no finding of a function-level rule (`quietFunction`). The incremental
 * step then finds nothing in the region, or analyses no region at all, and carries the rest.
 */
export function movedWithoutParse(
  analyzer: Analyzer,
  text: string,
  options: AnalysisOptions,
  previous: PreviousAnalysis | undefined,
  changes: Readonly<ChangeSummary> | undefined,
  quiet: QuietText | undefined,
  editedTree?: Tree,
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
  // The text has a factory name: the edited function may still be known to have none.
  const inFunction = (witness: number, unchecked: number) => {
    const edit = edits[edits.length - 1];
    const quietEdit =
      editedTree &&
      !editedTree.rootNode.hasError &&
      unchecked === 1 &&
      (unchecked === edits.length || known?.sameStructure) &&
      ((identifierEdit(text, edit, keywordsOf(analyzer.language)) && !inImport(editedTree, edit.start)) || commentEdit(editedTree, text, edit)) &&
      !MARKERS.test(text.slice(Math.max(0, edit.start - m), edit.newEnd + m));
    if (!quietEdit) return refuse(witness);
    const findings = shiftFindings(previous.findings, edits);
    if (!quietFunction(editedTree, text, changes.dirty, findings, local, names, previous)) return refuse(witness);
    return { findings, quiet: { changes, checked: edits.length, factories, witness, sameStructure: true as const } };
  };
  // The edits whose surroundings are still to be read; undefined: the whole text is.
  let from: number | undefined;
  if (known?.witness !== undefined) {
    // Where the name found last time is now, unless an edit met it: still a name there?
    let at: OffsetRange | undefined = { start: known.witness, end: known.witness + 1 };
    for (let i = known.checked; i < edits.length && at; i++) at = moved(at.start, at.end, edits[i]);
    const found = at && names.exec(text.slice(at.start, at.start + 2 * m));
    if (at && found) return inFunction(at.start + found.index, edits.length - known.checked);
  } else if (known) from = known.checked;
  if (from === undefined) {
    const found = names.exec(text);
    if (found) return inFunction(found.index, edits.length);
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

const keywordSets = new WeakMap<Language, ReadonlySet<string>>();

/** The grammar's words that are not identifiers (`def`, `match`, `print`, …): its anonymous node types spelt like one. */
function keywordsOf(language: Language): ReadonlySet<string> {
  let set = keywordSets.get(language);
  if (!set) {
    const words = new Set<string>();
    for (let id = 0; id < language.nodeTypeCount; id++) {
      const type = language.nodeTypeForId(id);
      if (type && !language.nodeTypeIsNamed(id) && /^[A-Za-z_]\w*$/.test(type)) words.add(type);
    }
    keywordSets.set(language, (set = words));
  }
  return set;
}

const WORD = /^[A-Za-z0-9_]*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/**
 * Did `edit` (of the text before it; `text` is the text after it) change one identifier into
 * another and nothing else? Only ASCII word characters typed or removed, inside a run of them that
 * is an identifier before and after, neither a word of the grammar (`def`, `match`, `print`), nor a
 * string's prefix (a quote right after it), nor part of a number (`1.e5`), nor after a backslash,
 * nor the name a `def` or `class` line gives (an import's names: `inImport`): the tokens are the same but for that
 * identifier's text, so a parse finds the same structure (the last parse had no syntax error).
 */
function identifierEdit(text: string, edit: AppliedEdit, keywords: ReadonlySet<string>): boolean {
  const removed = edit.removed;
  if (removed === undefined) return false;
  const typed = text.slice(edit.start, edit.newEnd);
  if (!WORD.test(typed) || !WORD.test(removed) || (typed === '' && removed === '')) return false;
  let from = edit.start;
  while (from > 0 && isWordChar(text.charCodeAt(from - 1))) from--;
  let to = edit.newEnd;
  while (to < text.length && isWordChar(text.charCodeAt(to))) to++;
  const after = text.slice(from, to);
  const before = text.slice(from, edit.start) + removed + text.slice(edit.newEnd, to);
  if (!IDENTIFIER.test(after) || !IDENTIFIER.test(before) || keywords.has(after) || keywords.has(before)) return false;
  const prev = from > 0 ? text.charCodeAt(from - 1) : -1;
  const next = to < text.length ? text.charCodeAt(to) : -1;
  if (prev > 127 || next > 127 || next === 34 || next === 39 || prev === 92) return false;
  if (prev === 46 && from > 1 && isWordChar(text.charCodeAt(from - 2))) {
    // `x.attr` is fine; `1.e5` is a number.
    let i = from - 2;
    while (i > 0 && isWordChar(text.charCodeAt(i - 1))) i--;
    if (!IDENTIFIER.test(text.slice(i, from - 1))) return false;
  }
  const lineStart = text.lastIndexOf('\n', from - 1) + 1;
  return !/\b(def|class)\s+$/.test(text.slice(lineStart, from));
}

const IMPORTS = new Set(['import_statement', 'import_from_statement', 'future_import_statement']);

/** Is `offset` inside an import statement of the tree (whose names the edit would change)? */
function inImport(tree: Tree, offset: number): boolean {
  for (let n: Node | null = tree.rootNode.descendantForIndex(Math.max(0, offset - 1)); n; n = n.parent) if (IMPORTS.has(n.type)) return true;
  return false;
}

/**
 * Did `edit` change only the text of one comment? It starts after a comment's `#` (the edited
 * tree's comment holds the character before it) and neither types nor removes a line break: a
 * comment runs to the end of its line, so the rest of the line stays in it and the tokens are the
 * same. (Suppression markers typed are looked for by the caller.)
 */
function commentEdit(tree: Tree, text: string, edit: AppliedEdit): boolean {
  if (edit.removed === undefined || edit.start === 0) return false;
  const typed = text.slice(edit.start, edit.newEnd);
  if (/[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/.test(typed + edit.removed)) return false;
  const node = tree.rootNode.descendantForIndex(edit.start - 1);
  return node?.type === 'comment' && node.startIndex < edit.start;
}

/**
 * With the structure of `tree` (the last parse, edited), does the incremental step find nothing
 * new for the function-level rules around the edits? True when the region it would analyse is no
 * function (it analyses nothing then), or a function whose text has no factory call candidate and
 * no moved finding of a function-level rule: no factory name (`names`), no call (`name(`) of a
 * function of the file that may be a factory (`callableFactories`) or of a local name an import
 * binds to a factory (the imports are the same: an edit of an import line is no identifier edit),
 * no `skip-file`. Text tests only decide whether to wait for the parse.
 */
function quietFunction(
  tree: Tree,
  text: string,
  dirty: readonly OffsetRange[],
  moved: readonly AnalyzedFinding[],
  local: ReadonlySet<string>,
  names: RegExp,
  previous: PreviousAnalysis,
): boolean {
  const region = localRegion(tree.rootNode, text, dirty);
  if (!region || region.start === region.end) return true;
  const inside = text.slice(region.start, region.end);
  if (names.test(inside) || /skip-file/.test(inside)) return false;
  if (moved.some((f) => local.has(f.code) && f.start < region.end && f.end > region.start)) return false;
  const { aliases, defined } = callableFactories(tree, text, names, previous);
  // A candidate is a call: a name (or an attribute's) followed by `(`. The function's own name in
  // its `def` line is none, and a call of it in its body makes no resource unless the body does.
  const own = regionName(tree.rootNode, region);
  for (const w of inside.matchAll(CALLED)) {
    if (region.start + (w.index ?? 0) === own?.startIndex) continue;
    if (defined.has(w[1]) || aliases.has(w[1])) return false;
  }
  return true;
}

const callableFactoriesOf = new WeakMap<PreviousAnalysis, { aliases: ReadonlySet<string>; defined: ReadonlySet<string> }>();
// A name called: `(` after it, past blanks, line breaks, comments and backslash continuations
// (inside brackets a call may span lines).
const CALLED = /([A-Za-z_][A-Za-z0-9_]*)(?:\s|#[^\n]*|\\\r?\n)*\(/g;

/**
 * The names whose call may make a resource besides the factory names: `aliases`, local names the
 * file's imports bind to a factory (`factoryAliases`), and `defined`, the file's functions that may
 * return a fresh resource (a superset of the local factories `factoryCallCandidates` finds): a
 * function whose body has a factory name or calls an alias, then one whose body calls such a
 * function's name, to a fixed point. Read once per previous analysis from the edited tree: an edit
 * the keystroke path takes changes no import and makes no function a possible factory (its region
 * would then have a candidate, and it parses).
 */
function callableFactories(tree: Tree, text: string, names: RegExp, previous: PreviousAnalysis): { aliases: ReadonlySet<string>; defined: ReadonlySet<string> } {
  const known = callableFactoriesOf.get(previous);
  if (known) return known;
  const aliases = factoryAliases(previous.options, previous.imports ?? fileImports(tree.rootNode, text));
  const possible = new Set<string>();
  const pending: Array<{ name: string; calls: Set<string> }> = [];
  for (const def of tree.rootNode.descendantsOfType('function_definition')) {
    const name = def?.childForFieldName('name');
    const body = def?.childForFieldName('body');
    if (!name || !body) continue;
    const bodyText = text.slice(body.startIndex, body.endIndex);
    const calls = new Set([...bodyText.matchAll(CALLED)].map((m) => m[1]));
    const own = text.slice(name.startIndex, name.endIndex);
    if (names.test(bodyText) || [...calls].some((c) => aliases.has(c))) possible.add(own);
    else pending.push({ name: own, calls });
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const d of pending) {
      if (possible.has(d.name) || ![...d.calls].some((c) => possible.has(c))) continue;
      possible.add(d.name);
      grew = true;
    }
  }
  const found = { aliases, defined: possible };
  callableFactoriesOf.set(previous, found);
  return found;
}

/** Local names the file's imports bind to something whose last segment is a factory's name (a superset of `localNameFor`'s). */
function factoryAliases(options: AnalysisOptions, imports: FileImports): ReadonlySet<string> {
  const names = factoryAttributeNames(options);
  const out = new Set<string>();
  for (const [local, target] of imports.map) if (names.has(target.slice(target.lastIndexOf('.') + 1))) out.add(local);
  return out;
}
