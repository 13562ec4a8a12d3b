// The rule engine: compiles every rule's query once, runs the enabled rules over a tree,
// drops suppressed findings and returns plain data. No LSP types, no file system.
import { Language, Node, Query, QueryMatch, Tree } from 'web-tree-sitter';
import { withBudget, WorkBudgetExceeded } from '../parsing/budget';
import { blocksNestDeeper, depthExceeds } from '../parsing/depth';
import { ParseBudgetExceeded, withTree } from '../parsing/document';
import { isWasmTrap, loadPython, reloadPython } from '../parsing/grammar';
import { fixAll, FixAllHooks, FixAllResult } from './fixes';
import { adaptFix, indentationError, withFileLineBreaks } from './indentation';
import { indentUnit } from './syntax';
import { GeneratedMarker, generatedMarker } from './generated';
import { FileImports, fileImports, resolveName } from './imports';
import { onByDefault, RULES } from './registry';
import { collectSuppressions, ignoreEdit, isSuppressed, mayHaveSuppressions, NO_SUPPRESSIONS } from './suppressions';
import { LineIndex } from './text';
import { catalogueFactory, FactoryInfo } from './resources';
import { SemanticModel } from './semantic';
import { AnalysisOptions, DEFAULT_OPTIONS, Finding, Fix, LineRef, OffsetEdit, Rule, RuleContext, Severity } from './types';

export interface AnalyzedFinding extends Finding {
  /** Inserts or extends the line's suppression comment; absent where no comment can go. */
  ignore?: OffsetEdit;
}

export interface AnalysisResult {
  findings: AnalyzedFinding[];
  /** The file was not analysed: it asked to be (`# leaklens: skip-file`) or nests too deeply. */
  skipped: boolean;
  /** Why it was skipped, when it was not the file's own request. */
  skipReason?: string;
  /** Skipped as a generated file (and `includeGenerated` is off): the marker that says so. */
  generated?: GeneratedMarker;
  /** Rules that threw on this file (their findings are missing; the others are complete). */
  ruleFailures?: string[];
  /** The file's imports, when a rule needed them (kept for the next incremental analysis). */
  imports?: FileImports;
  /** The tree has syntax errors (findings come from the parts that parsed). */
  syntaxErrors: boolean;
  /** With syntaxErrors, from `analyzeText` (not `analyzeTree`, the server's path): the offset of the first error. */
  syntaxErrorAt?: number;
}

/** Where the first syntax error of a tree starts (an ERROR or MISSING node), for messages. */
export function firstSyntaxError(root: Node): number | undefined {
  if (!root.hasError) return undefined;
  let node = root;
  for (;;) {
    const next = node.children.find((c) => c && (c.isError || c.isMissing || c.hasError));
    if (!next) return node.startIndex;
    if (next.isError || next.isMissing) return next.startIndex;
    node = next;
  }
}

/**
 * Syntax trees nesting deeper than this are not analysed. CPython refuses expressions nested
 * about 3 000 deep (`RecursionError` during compilation) and brackets 200 deep, so such text is
 * not a program Python would run; tree-sitter, for its part, finds a node's parent by descending
 * from the root (rules slow down with the depth) and its queries give wrong matches past 65 535
 * levels. Measured on the tree, so brackets inside strings or comments do not count.
 */
export const MAX_TREE_DEPTH = 4000;

/** CPython's tokenizer stops at 100 levels of indentation ("too many levels of indentation"). */
export const MAX_INDENT_LEVELS = 100;

/**
 * Work budgets, in tree operations (parsing/budget.ts): each rule may spend RULE_BUDGET_PER_NODE
 * per node of the file (plus a base for small files), all rules together FILE_BUDGET_PER_NODE.
 * On the standard library the most any rule needs is about 6 per node (LL501 on minidom.py); a
 * file where every small function opens a file (the bench's 25 000 functions) makes LL101 follow
 * one allocation per 25 nodes on the flow model, about 30 per node; a rule that is quadratic in
 * the number of functions still runs out on files of a few thousand (the base covers small files
 * whose rules search a lot per finding: LL103 needs 0.4 M on 8 000 nodes). An operation costs
 * about half a microsecond, so a rule is stopped after about 20 µs per node.
 */
export const RULE_BUDGET_PER_NODE = 40;
export const RULE_BUDGET_BASE = 2_000_000;
export const FILE_BUDGET_PER_NODE = 80;
export const FILE_BUDGET_BASE = 6_000_000;

/**
 * TEST ONLY: LEAKLENS_TEST_RULE_BUDGET (a number of operations) replaces every rule's budget, so
 * tests can show what happens when one runs out without depending on a rule being slow.
 */
const TEST_RULE_BUDGET = Number(process.env.LEAKLENS_TEST_RULE_BUDGET) || undefined;

/** The work budgets of a file of `nodes` syntax-tree nodes. */
export function workBudgets(nodes: number): { rule: number; file: number } {
  return {
    rule: TEST_RULE_BUDGET ?? RULE_BUDGET_BASE + RULE_BUDGET_PER_NODE * nodes,
    file: FILE_BUDGET_BASE + FILE_BUDGET_PER_NODE * nodes,
  };
}

/** Marks an offset in a message whose line number the engine fills in (see RuleContext.lineRef). */
const LINE_REF = '\u0000';
const LINE_REF_PATTERN = /\u0000(\d+)\u0000/g;

/** A message template (`{0}`, `{1}`… for `refs`) with their line numbers put in. */
export function renderMessage(template: string, refs: readonly LineRef[]): string {
  return template.replace(/\{(\d+)\}/g, (_, i: string) => String(refs[Number(i)].line));
}

/** The node of a region: the largest node with exactly its range. */
function regionNode(root: Node, region: { start: number; end: number }): Node {
  let node = root.descendantForIndex(region.start, Math.max(region.start, region.end - 1));
  while (node && node.parent && node.parent.startIndex === region.start && node.parent.endIndex === region.end) node = node.parent;
  if (!node || node.startIndex !== region.start || node.endIndex !== region.end) {
    throw new Error(`region ${region.start}-${region.end} is not a node`);
  }
  return node;
}

/** Builds the line table of a text only when something asks for a line number. */
class LazyLines {
  private index?: LineIndex;
  constructor(private readonly text: string) {}
  get(): LineIndex {
    return (this.index ??= new LineIndex(this.text));
  }
}

/** `select` (or the default set when it is empty) plus `extend-select`, minus `ignore`. */
export function ruleEnabled(code: string, options: AnalysisOptions): boolean {
  const matches = (prefixes: readonly string[] | undefined) => (prefixes ?? []).some((p) => p.toUpperCase() === 'ALL' || code.startsWith(p.toUpperCase()));
  const selected = (options.select.length === 0 ? onByDefault(code) : matches(options.select)) || matches(options.extendSelect);
  return selected && !matches(options.ignore);
}

/**
 * The patterns of the rules that run, compiled into one query, so a file is traversed once
 * however many rules run (each separate query costs a whole-tree traversal: ≈ 8 ms on a 5 000-line
 * file), and patterns of rules that do not run cost nothing (a traversal grows with the number of
 * patterns). Patterns are merged one by one: a pattern written the same way by several rules
 * (LL101 and LL102 track the same allocations; LL501 and LL503 read the same attribute stores) is
 * matched once and its matches handed to each of them. `rulesOfPattern[i]` lists the indices (in
 * the rule list) of the rules that receive pattern i's matches; `included[r]` tells whether rule r
 * is in this query. `moduleOnly`: the only pattern is `(module) @module` (or there is none), whose
 * one match, the module node, the engine hands over without running the query.
 */
interface MergedQuery {
  query: Query;
  rulesOfPattern: number[][];
  included: boolean[];
  moduleOnly: boolean;
}

/** The pattern of rules that look at the whole module themselves (LL101, LL102, LL103, LL303). */
const MODULE_PATTERN = '(module) @module';

function mergeQueries(language: Language, rules: readonly Rule[], include: (rule: Rule, index: number) => boolean): MergedQuery {
  const sources: string[] = [];
  const owners: number[][] = [];
  const indexOfSource = new Map<string, number>();
  const included = rules.map(include);
  rules.forEach((rule, index) => {
    if (!included[index]) return;
    // Compiled alone first: a rule's own syntax error names the rule, and its pattern offsets
    // give each pattern's source. (Rule queries are ASCII, so byte offsets are string offsets.)
    let own: Query;
    try {
      own = new Query(language, rule.query);
    } catch (err) {
      throw new Error(`${rule.code}: invalid query: ${(err as Error).message}`);
    }
    try {
      for (let i = 0; i < own.patternCount(); i++) {
        const source = rule.query.slice(own.startIndexForPattern(i), own.endIndexForPattern(i)).trim();
        let merged = indexOfSource.get(source);
        if (merged === undefined) {
          merged = sources.push(source) - 1;
          indexOfSource.set(source, merged);
          owners.push([]);
        }
        if (!owners[merged].includes(index)) owners[merged].push(index);
      }
    } finally {
      own.delete();
    }
  });
  // A query needs a pattern; a rule-less one matches the module node and hands it to nobody.
  const query = new Query(language, sources.length ? sources.join('\n') : MODULE_PATTERN);
  const moduleOnly = sources.length === 0 || (sources.length === 1 && sources[0] === MODULE_PATTERN);
  if (sources.length === 0) owners.push([]);
  if (query.patternCount() !== owners.length) {
    query.delete();
    throw new Error(`merged query has ${query.patternCount()} patterns, the rules ${owners.length}`);
  }
  return { query, rulesOfPattern: owners, included, moduleOnly };
}

export class Analyzer {
  /**
   * The merged query (see `MergedQuery`) of each set of rules that has run, compiled the first
   * time that set runs (compiling every rule's patterns takes about 0.1 s, paid by each worker
   * thread): key, one character per rule of `rules`, '1' for a rule in the set.
   */
  private readonly queries = new Map<string, MergedQuery>();

  private constructor(readonly language: Language, readonly rules: readonly Rule[]) {}

  private queryFor(enabled: readonly boolean[]): MergedQuery {
    const key = enabled.map((on) => (on ? '1' : '0')).join('');
    let merged = this.queries.get(key);
    if (!merged) {
      merged = mergeQueries(this.language, this.rules, (_, index) => enabled[index]);
      this.queries.set(key, merged);
    }
    return merged;
  }

  static async create(rules: readonly Rule[] = RULES): Promise<Analyzer> {
    return new Analyzer(await loadPython(), rules);
  }

  /**
   * After a WebAssembly trap: deletes this analyzer's queries (as far as the broken runtime still
   * can), recreates the runtime and the grammar, and returns an analyzer on the fresh ones. The
   * caller must have deleted its own trees first.
   */
  async recreate(): Promise<Analyzer> {
    try {
      this.dispose();
    } catch {
      // The old runtime may trap again; its objects are abandoned either way.
    }
    await reloadPython();
    return Analyzer.create(this.rules);
  }

  /**
   * Could some selected rule report anything in this text? False only when every selected rule
   * has a text pre-filter (`Rule.mayApply`) and each says no (or no rule is selected): then the
   * analysis of the file is known to be empty without parsing it. Whole files read from disk use
   * it (`workers/check-file.ts`: `leaklens check`, the server's scan of files that are not open);
   * open documents are always parsed, since their trees serve the keystroke analysis.
   */
  mayReport(text: string, options: AnalysisOptions = DEFAULT_OPTIONS): boolean {
    // Rules sharing one pre-filter (the resource rules) ask it once.
    const asked = new Map<NonNullable<Rule['mayApply']>, boolean>();
    for (const rule of this.rules) {
      if (!ruleEnabled(rule.code, options)) continue;
      if (!rule.mayApply) return true;
      let answer = asked.get(rule.mayApply);
      if (answer === undefined) asked.set(rule.mayApply, (answer = rule.mayApply(text, options)));
      if (answer) return true;
    }
    return false;
  }

  analyzeTree(tree: Tree, text: string, options: AnalysisOptions = DEFAULT_OPTIONS): AnalysisResult {
    return this.run(tree.rootNode, text, options);
  }

  /**
   * The findings of the rules with `locality: 'function'` whose matches lie in `region`, the
   * range of one function's statement — for an edit inside that function. Suppression comments
   * are read from the region only; the caller has checked that the file-wide preconditions hold,
   * and passes the file's imports when it knows them unchanged.
   */
  analyzeRegion(tree: Tree, text: string, options: AnalysisOptions, region: { start: number; end: number }, imports?: FileImports): AnalysisResult {
    return this.run(tree.rootNode, text, options, region, imports);
  }

  private run(root: Node, text: string, options: AnalysisOptions, region?: { start: number; end: number }, knownImports?: FileImports): AnalysisResult {
    const lines = new LazyLines(text);
    // A region is one statement (a function). Its matches come from querying that node: a query
    // limited by offsets (`startIndex`/`endIndex`) was seen to miss matches near syntax errors.
    const scope = region ? regionNode(root, region) : root;
    const suppressions = mayHaveSuppressions(text, region) ? collectSuppressions(scope, lines.get()) : NO_SUPPRESSIONS;
    const syntaxErrors = root.hasError;
    if (!region && suppressions.skipFile) return { findings: [], skipped: true, syntaxErrors };
    if (!region && !options.includeGenerated) {
      const generated = generatedMarker(text);
      if (generated) return { findings: [], skipped: true, generated, syntaxErrors };
    }
    // Each level of indentation is at least two tree levels: the cheap test first. A whole tree
    // no deeper than that is not deeper than MAX_TREE_DEPTH either, which then needs no walk.
    const deep = !region && depthExceeds(root, 2 * (MAX_INDENT_LEVELS - 1));
    if ((region || deep) && depthExceeds(scope, MAX_TREE_DEPTH)) {
      return { findings: [], skipped: true, skipReason: `the code nests deeper than ${MAX_TREE_DEPTH} syntax-tree levels (Python itself refuses such code)`, syntaxErrors };
    }
    if (deep && blocksNestDeeper(root, MAX_INDENT_LEVELS - 1)) {
      return { findings: [], skipped: true, skipReason: `blocks are indented ${MAX_INDENT_LEVELS} levels deep or more (Python refuses such code: "too many levels of indentation")`, syntaxErrors };
    }
    // A region (one function) is analysed by the rules with `locality: 'function'` only.
    const enabled = this.rules.map((rule) => (!region || rule.locality === 'function') && ruleEnabled(rule.code, options));
    if (!enabled.some(Boolean)) return { findings: [], skipped: false, syntaxErrors };
    const merged = this.queryFor(enabled);
    // One traversal; each rule gets its own matches in document order.
    const byRule: QueryMatch[][] = this.rules.map(() => []);
    const matches: QueryMatch[] = merged.moduleOnly
      ? merged.rulesOfPattern[0].length > 0 && scope.type === 'module'
        ? [{ patternIndex: 0, captures: [{ patternIndex: 0, name: 'module', node: scope }] }]
        : []
      : merged.query.matches(scope);
    for (const match of matches) {
      for (const owner of merged.rulesOfPattern[match.patternIndex]) if (enabled[owner]) byRule[owner].push(match);
    }
    let imports = knownImports;
    const qualifiedName = (node: Node) => resolveName(node, (imports ??= fileImports(root, text)).map);
    // The first local name the imports bind to each dotted name (asked for every catalogue entry).
    let byTarget: Map<string, string> | undefined;
    const localNames = () => {
      if (!byTarget) {
        byTarget = new Map();
        for (const [local, dotted] of (imports ??= fileImports(root, text)).map) if (!byTarget.has(dotted)) byTarget.set(dotted, local);
      }
      return byTarget;
    };
    // One semantic model per analysis, built on first use, shared by the rules, dropped after.
    let semantic: SemanticModel<FactoryInfo> | undefined;
    const semanticModel = () => (semantic ??= new SemanticModel<FactoryInfo>(root, text, qualifiedName, (call) => catalogueFactory(call, qualifiedName, options, semantic)));
    const findings: AnalyzedFinding[] = [];
    const failures: string[] = [];
    const budget = workBudgets(root.descendantCount);
    withBudget(budget.file, () => this.rules.forEach((rule, index) => {
      if (!enabled[index]) return;
      const severity = options.severity[rule.code] ?? rule.defaultSeverity;
      const context: RuleContext = {
        text,
        root,
        options,
        region,
        qualifiedName,
        get semantic() {
          return semanticModel();
        },
        localNameFor: (target) => localNames().get(target),
        lineRef: (offset) => `${LINE_REF}${offset}${LINE_REF}`,
        report: (r) => {
          const start = r.node ? r.node.startIndex : (r.start ?? 0);
          const end = r.node ? r.node.endIndex : (r.end ?? start);
          if (region && (start < region.start || end > region.end)) return;
          if (r.confidence === 'low' && !options.allFindings) return;
          if (suppressions.byLine.size > 0 && isSuppressed(suppressions, lines.get().lineOf(start), rule.code)) return;
          let message = r.message;
          let lineRefs: LineRef[] | undefined;
          let messageTemplate: string | undefined;
          if (message.includes(LINE_REF)) {
            const refs: LineRef[] = [];
            messageTemplate = message.replace(LINE_REF_PATTERN, (_, at: string) => {
              const offset = Number(at);
              return `{${refs.push({ offset, line: lines.get().lineOf(offset) + 1 }) - 1}}`;
            });
            lineRefs = refs;
            message = renderMessage(messageTemplate, refs);
          }
          findings.push({
            code: rule.code,
            name: rule.name,
            severity: r.confidence === 'low' ? lowerSeverity(severity) : severity,
            ...(r.confidence === 'low' ? { confidence: 'low' as const } : {}),
            message,
            ...(messageTemplate ? { messageTemplate, lineRefs } : {}),
            ...(r.subject ? { subject: { kind: r.subject.kind, name: r.subject.name } } : {}),
            start,
            end,
            related: r.related ?? [],
            // In the file's own indentation style where a fix mixed tabs and spaces (TabError).
            fixes: (r.fixes ?? []).map((fix) => adaptFix(text, fix, () => indentUnit(text, root))),
            ignore: ignoreEdit(root, text, start, rule.code),
          });
        },
      };
      const before = findings.length;
      try {
        withBudget(budget.rule, () => rule.check(context, byRule[index]));
      } catch (err) {
        // One rule failing on odd input costs only its own findings, never the file's.
        findings.length = before;
        if (err instanceof WorkBudgetExceeded) {
          const n = (x: number) => x.toLocaleString('en-US');
          failures.push(
            err.limit === budget.rule
              ? `${rule.code}: stopped after ${n(budget.rule)} tree operations (its work budget for a file of this size); its findings are missing`
              : `${rule.code}: stopped: all rules together used up the file's work budget (${n(budget.file)} tree operations); its findings are missing`,
          );
        } else {
          if (isWasmTrap(err)) throw err;
          failures.push(`${rule.code}: ${(err as Error).message}`);
        }
      }
    }));
    findings.sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
    return { findings, skipped: false, syntaxErrors, ruleFailures: failures.length ? failures : undefined, imports };
  }

  analyzeText(text: string, options: AnalysisOptions = DEFAULT_OPTIONS): AnalysisResult {
    return withTree(this.language, text, (tree, parsedText, why) => {
      if (!tree) throw new ParseBudgetExceeded(why);
      const result = this.analyzeTree(tree, parsedText, options);
      // Only here, for whole files checked at once: the server's analyses while typing skip it.
      if (result.syntaxErrors && !result.skipped) result.syntaxErrorAt = firstSyntaxError(tree.rootNode);
      return result;
    });
  }

  /** Applies safe fixes (and unsafe ones when asked) until none is left. */
  fixText(text: string, options: AnalysisOptions = DEFAULT_OPTIONS, unsafe = false, hooks?: FixAllHooks): FixAllResult {
    const eligible = (fix: Fix) => fix.safety === 'safe' || unsafe;
    return fixAll(
      text,
      (t) => {
        const result = this.analyzeText(t, options);
        // Inserted lines break the way the file does (the analysis sees lone '\r' as '\n').
        const findings = result.findings.map((f) => ({ ...f, fixes: f.fixes.map((fix) => withFileLineBreaks(t, fix)) }));
        // Clean as CPython's compiler sees it: tree-sitter accepts inconsistent tabs and spaces.
        return { findings, clean: !result.syntaxErrors && !indentationError(t) };
      },
      eligible,
      undefined,
      undefined,
      hooks,
    );
  }

  dispose(): void {
    for (const merged of this.queries.values()) merged.query.delete();
    this.queries.clear();
  }
}

/** The severity one step milder (`hint` stays `hint`): where a finding of low confidence lands. */
export function lowerSeverity(severity: Severity): Severity {
  const order: Severity[] = ['error', 'warning', 'info', 'hint'];
  return order[Math.min(order.indexOf(severity) + 1, order.length - 1)];
}
