// Plain data shared by the analysis layer, the CLI and the protocol layer.
// Offsets are UTF-16 code units into the analysed text (tree-sitter's and LSP's unit).
import type { Node, QueryMatch } from 'web-tree-sitter';
import type { FactoryInfo } from './resources';
import type { SemanticModel } from './semantic';

export type Severity = 'error' | 'warning' | 'info' | 'hint';
export type Safety = 'safe' | 'unsafe';
export type Category = 'resources' | 'mutable-defaults' | 'containers' | 'large-objects' | 'cycles';

export interface OffsetEdit {
  start: number;
  end: number;
  text: string;
}

export interface Fix {
  title: string;
  safety: Safety;
  edits: OffsetEdit[];
}

export interface RelatedLocation {
  start: number;
  end: number;
  message: string;
}

export interface LineRef {
  offset: number;
  line: number;
}

/**
 * What a finding is about, by the name a run-time report gives it (the global, class attribute or
 * method whose container grew): set by the rules whose findings a run can confirm by name
 * (LL301, LL302, LL303, LL401); runtime confirmations match it, never the message text.
 */
export interface FindingSubject {
  kind: 'global' | 'classAttribute' | 'method';
  /** `_cache` (a module global), `Plugin.registry` (class attribute), `Service.lookup` (method). */
  name: string;
}

export interface Finding {
  code: string;
  name: string;
  severity: Severity;
  message: string;
  start: number;
  end: number;
  related: RelatedLocation[];
  fixes: Fix[];
  /**
   * When the message names line numbers: the message with `{0}`, `{1}`… in their place and the
   * offset and 1-based line each stands for, so that a finding moved by later edits can say its
   * lines again.
   */
  messageTemplate?: string;
  lineRefs?: LineRef[];
  /**
   * 'low' when the rule's evidence is incomplete (it cannot tell whether the owner lives long,
   * whether the keys are bounded, …). Such findings are reported only when `all-findings` asks,
   * one severity lower. Absent means the rule is confident.
   */
  confidence?: 'low';
  subject?: FindingSubject;
}

/** Documentation sections, in the order every renderer shows them. */
export interface RuleDocs {
  summary: string;
  whatItDoes: string;
  whyLeak: string;
  example: string;
  useInstead: string;
  fixSafety: string;
  options: string;
  references: string[];
}

export interface PythonVersion {
  major: number;
  minor: number;
}

export interface AnalysisOptions {
  /** Codes or prefixes to enable, `ALL` for every rule; empty means the default set (registry.ts). */
  select: string[];
  /** Codes or prefixes enabled on top of `select` (or of the default set). */
  extendSelect: string[];
  /** Codes or prefixes to disable. */
  ignore: string[];
  /** Per-code severity overrides. */
  severity: Record<string, Severity>;
  /** Extra dotted names treated as resource factories. */
  resourceFactories: string[];
  largeObjectThreshold: number;
  targetVersion: PythonVersion;
  /** Analyse generated files too (analysis/generated.ts); by default they are skipped. */
  includeGenerated: boolean;
  /** Report the findings rules are not confident of (`Report.confidence: 'low'`) too. */
  allFindings: boolean;
}

export const DEFAULT_OPTIONS: AnalysisOptions = Object.freeze({
  select: [],
  extendSelect: [],
  ignore: [],
  severity: {},
  resourceFactories: [],
  largeObjectThreshold: 100_000,
  targetVersion: { major: 3, minor: 9 },
  includeGenerated: false,
  allFindings: false,
}) as AnalysisOptions;

/** What a rule reports; the engine fills in code, name and severity. */
export interface Report {
  node?: Node;
  start?: number;
  end?: number;
  message: string;
  related?: RelatedLocation[];
  fixes?: Fix[];
  /**
   * 'low' when the evidence is incomplete (say so in the message, too): dropped unless the user
   * asks for all findings, and then reported one severity lower than the rule's.
   */
  confidence?: 'low';
  /** The global, class attribute or method the finding is about (see `FindingSubject`). */
  subject?: FindingSubject;
}

export interface RuleContext {
  readonly text: string;
  readonly root: Node;
  readonly options: AnalysisOptions;
  /**
   * Set when only part of the file is analysed (one function, while typing): findings outside it
   * are dropped, so a rule that searches the text itself may look inside it only.
   */
  readonly region?: { start: number; end: number };
  /** Dotted name a call target or name refers to, resolved through the file's imports. */
  qualifiedName(node: Node): string | undefined;
  /** The local name bound to a dotted import target (`typing.Optional` → `Optional`), if any. */
  localNameFor(target: string): string | undefined;
  /**
   * Stands for the 1-based line number of `offset` inside a report's message: the engine writes
   * the number, and keeps it right when the finding is moved by edits above it.
   */
  lineRef(offset: number): string;
  report(report: Report): void;
  /**
   * The file's semantic model (scopes, bindings, classes, control flow, function summaries),
   * built on first use and shared by every rule of this analysis; it never outlives the analysis.
   */
  readonly semantic: SemanticModel<FactoryInfo>;
}

/**
 * The rule-module contract: one file per rule under analysis/rules/, registered by one line in
 * analysis/registry.ts. The engine compiles `query` once and hands the rule its matches.
 */
export interface Rule {
  code: string;
  name: string;
  category: Category;
  defaultSeverity: Severity;
  docs: RuleDocs;
  /** A tree-sitter query over the Python grammar; separate top-level patterns, no predicates inside alternations. */
  query: string;
  /**
   * 'function' when a finding inside a function (a top-level one, or a method of a top-level
   * class) depends only on that function, plus the file's imports and top-level names: such rules
   * re-run on the edited function alone while typing. Anything else ('module', the default, for
   * rules that look at whole classes or the whole file) re-runs once typing pauses.
   */
  locality?: 'function' | 'module';
  /**
   * A text pre-filter, never a semantic answer: false only when this rule provably cannot report
   * anything in a file with this text under these options (a conservative superset test, cheap
   * enough to run on every file before it is parsed). True says nothing: the rule still decides
   * on the tree. When every selected rule of a file's analysis says false, `leaklens check` and
   * the server's scan of files that are not open do not parse the file at all
   * (`Analyzer.mayReport`). Rules without one are always run.
   */
  mayApply?(text: string, options: AnalysisOptions): boolean;
  check(context: RuleContext, matches: QueryMatch[]): void;
}
