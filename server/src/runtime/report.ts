// The JSON report written by the runner package server/python/leaklens_runner/ (schema: server/python/report.schema.json).
// Plain data, no editor or LSP types: shared by the CLI (`leaklens run`) and the VS Code client.

export const REPORT_SCHEMA = 'leaklens-runtime-report';
export const REPORT_SCHEMA_VERSION = 1;

export type RuntimeMode = 'growth' | 'cycles' | 'resources' | 'profile';
export type Verdict = 'leak' | 'bounded' | 'noise';
export type Attribution = 'confirmed' | 'approximate' | 'unconfirmed';

export interface SourceLocation {
  /** Real path of the source file. */
  file: string;
  /** 1-based line. */
  line: number;
  function: string | null;
}

export interface Frame {
  file: string;
  line: number;
  function?: string;
  workspace: boolean;
}

export interface RetentionRoot {
  module: string;
  /** The module global that holds the chain. */
  name: string | null;
  /** The class attribute when the global is a class (`Plugin.registry`). */
  attribute: string | null;
  file: string | null;
  /** Line of the global's (or class attribute's) definition. */
  line: number | null;
}

export interface Retention {
  complete: boolean;
  /** `bytes`: sys.getsizeof of the object (plus its instance `__dict__`); absent for the module. */
  steps: Array<{ label: string; type: string; bytes?: number | null }>;
  text: string;
  root: RetentionRoot | null;
}

export interface GrowthFinding {
  kind: 'growth';
  verdict: Verdict;
  location: SourceLocation;
  growth: {
    bytes: number;
    blocks: number;
    bytesPerCall: number;
    blocksPerCall: number;
    roundBytes: number[];
    roundBlocks: number[];
    baselineBytes: number;
    finalBytes: number;
  };
  /** Innermost frame first. */
  traceback: Frame[];
  attribution: Attribution;
  liveObjects: { count: number; types: Record<string, number> };
  retention: Retention | null;
}

export interface CycleMember {
  type: string;
  count: number;
  site: SourceLocation | null;
  approximate: boolean;
  /** sys.getsizeof of one such member (plus its instance `__dict__`). */
  bytes?: number | null;
}

export interface CycleEdge {
  /** Index into `members`. */
  from: number;
  to: number;
  label: string;
  /** Where an attribute of that name is assigned (`x.parent = ...`), found by name in the members' files. */
  assignedAt?: SourceLocation[];
}

export interface CycleFinding {
  kind: 'cycle';
  verdict: 'cycle';
  location: SourceLocation;
  /** Cycles of this shape left to the collector during the measured calls. */
  count: number;
  perCall: number;
  /** Objects per cycle. */
  size: number;
  members: CycleMember[];
  edges: CycleEdge[];
  finalizer: { present: boolean; types: string[] };
  collection: string;
  attribution: 'confirmed' | 'approximate';
}

export type ResourceKind = 'file' | 'socket' | 'subprocess' | 'other';

/** `resources` mode: the ResourceWarnings of objects allocated on one line, never closed. */
export interface ResourceFinding {
  kind: 'resource';
  verdict: 'unclosed';
  /** From the warning's text (then the object's type). */
  resource: ResourceKind;
  /** The allocation site (innermost workspace frame), or the line that dropped it (`released`). */
  location: SourceLocation;
  count: number;
  perCall: number;
  /** Type of the object that warned → how many. */
  types: Record<string, number>;
  /** Up to 3 distinct warning texts. */
  messages: string[];
  /** Allocation traceback of the first one, innermost first. */
  traceback: Frame[];
  attribution: 'confirmed' | 'approximate' | 'released';
  /** Workspace lines where the last reference went (up to 3). */
  releasedAt: SourceLocation[];
  /** Through the warnings machinery, or raised in a finalizer (sys.unraisablehook). */
  via: 'warning' | 'unraisable';
  /**
   * Added by LeakLens after the run, not by the runner (runtime/static-match.ts): the static
   * LL101, LL103 and LL104 findings on the finding's lines; empty = static analysis did not find it; absent =
   * not known (its files could not be analysed).
   */
  static?: StaticMatch[];
}

/** A static resource finding (LL101, LL103, LL104) on one of a run-time resource finding's lines. */
export interface StaticMatch {
  code: string;
  file: string;
  line: number;
  /** 'low' for a finding reported only with all-findings. */
  confidence?: 'low';
}

export type RuntimeFinding = GrowthFinding | CycleFinding | ResourceFinding;

export interface WatchResult {
  name: string;
  found: boolean;
  file?: string;
  line?: number | null;
  measure?: 'items' | 'cache entries';
  values: Array<number | null>;
  problem?: string;
  growth?: number;
  perCall?: number;
  verdict?: Verdict;
}

export interface RuntimeError {
  kind: string;
  message: string;
  traceback?: string;
}

export interface GrowthTotals {
  calls: number;
  warmupCalls: number;
  seconds: number;
  workspaceBytesBefore: number;
  workspaceBytesAfter: number;
  workspaceGrowth: number;
  unattributedGrowth: number;
  sites: number;
  leaks: number;
  bounded: number;
  noise: number;
}

export interface CycleTotals {
  calls: number;
  warmupCalls: number;
  seconds: number;
  garbageObjects: number;
  cycles: number;
  groups: number;
  withFinalizer: number;
}

export interface ResourceTotals {
  calls: number;
  warmupCalls: number;
  seconds: number;
  /** ResourceWarnings captured during the measured calls. */
  warnings: number;
  /** Of those, the ones reported by line. */
  unclosed: number;
  sites: number;
  /** Allocated and released outside the workspace: not reported by line. */
  unattributed: number;
}

export type TestOutcome = 'passed' | 'failed' | 'timeout' | 'skipped';

/** One test of a suite, measured on its own. */
export interface SuiteTest {
  /** pytest's node id (the unittest collector writes the same form). */
  nodeid: string;
  file: string | null;
  /** The test's def line. */
  line: number | null;
  outcome: TestOutcome;
  /** Only for a test that passed: growth leak / bounded / clean; resources unclosed / clean. */
  verdict: 'leak' | 'bounded' | 'clean' | 'unclosed' | null;
  /** growth: the leaking sites' bytes per call, summed. */
  bytesPerCall?: number;
  /** resources: unclosed resources in its measured calls. */
  unclosed?: number;
  findings: Array<GrowthFinding | ResourceFinding>;
  totals?: Partial<GrowthTotals & ResourceTotals>;
  seconds: number;
  /** Why it failed, timed out or was skipped. */
  message?: string;
  traceback?: string;
  notes?: string[];
}

export interface SuiteSection {
  path: string;
  collector: 'pytest' | 'unittest' | null;
  testTimeout: number;
  /** Stopped by a cancel: the tests listed are the ones done. */
  cancelled: boolean;
  /** Worst first. */
  tests: SuiteTest[];
}

export interface SuiteTotals {
  tests: number;
  run: number;
  seconds: number;
  passed: number;
  failed: number;
  timeout: number;
  skipped: number;
  leaking: number;
  bounded: number;
  clean: number;
  unclosed?: number;
}

/** `profile` mode: one workspace line of the profiled calls (byte counts; see docs/runtime.md). */
export interface ProfileLine {
  file: string;
  line: number;
  function: string;
  /** Runs of the line (a run inside a run of the same line, recursion, is part of the outer one). */
  hits: number;
  /** Traced memory at the end of each run minus at its start, when positive, summed; callees included. */
  allocated: number;
  /** Still allocated after the calls and a gc.collect() by blocks this line allocated (innermost workspace frame). */
  held: number;
  /** Highest traced memory while the line ran, above the start of its call of the target. */
  peak: number;
  source: string;
}

export interface ProfileFunction {
  file: string;
  function: string;
  /** The `def` line (for `<module>`, the first profiled line) and the last line. */
  line: number;
  endLine: number;
  /** The source lines line..endLine. */
  source: string[];
}

export interface ProfileTotals {
  calls: number;
  warmupCalls: number;
  seconds: number;
  tracerSeconds: number;
  events: number;
  /** The increases between consecutive trace events, each counted once. */
  allocated: number;
  held: number;
  heldOutside: number;
  heldByTracing: number;
  peak: number;
  /** false on Python 3.8 (no tracemalloc.reset_peak): peaks are lower bounds. */
  peakExact: boolean;
  lines: number;
  functions: number;
}

export interface RuntimeReport {
  schema: typeof REPORT_SCHEMA;
  schemaVersion: number;
  runner: { version: string; file: string };
  interpreter: { executable: string; version: string; implementation: string; platform: string };
  mode: RuntimeMode | null;
  target: {
    spec: string | null;
    kind: 'function' | 'pytest' | 'script' | 'suite' | null;
    file?: string;
    module?: string | null;
    function?: string;
    nodeid?: string;
    /** `function(args...)` targets: the argument expressions as given (`i` is the call number). */
    arguments?: string;
    /** `function(args...)` targets: the call made on every run. */
    call?: string;
  };
  workspace: string;
  parameters: { warmup?: number; rounds?: number; calls?: number; frames?: number; minBytes?: number; watch?: string[]; testTimeout?: number };
  totals: Partial<GrowthTotals & CycleTotals & Omit<ResourceTotals, 'sites'> & SuiteTotals & ProfileTotals>;
  findings: RuntimeFinding[];
  watches: WatchResult[];
  /** `profile` mode only. */
  profile?: { lines: ProfileLine[]; functions: ProfileFunction[] };
  errors: RuntimeError[];
  notes: string[];
  /** A folder or test file run as a suite (target.kind 'suite'); the top-level findings are then empty. */
  suite?: SuiteSection;
  exitCode: 0 | 1 | 2;
  seconds: number;
}

/** Parses a report and checks the fields the consumers rely on; throws with a reason otherwise. */
export function parseReport(text: string): RuntimeReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`the runner's report is not JSON: ${(error as Error).message}`);
  }
  const report = data as RuntimeReport;
  if (!report || typeof report !== 'object' || report.schema !== REPORT_SCHEMA) {
    throw new Error('the file is not a LeakLens run-time report');
  }
  if (report.schemaVersion !== REPORT_SCHEMA_VERSION) {
    throw new Error(`the runner wrote report version ${String(report.schemaVersion)}; this LeakLens reads version ${REPORT_SCHEMA_VERSION}`);
  }
  for (const key of ['findings', 'watches', 'errors', 'notes'] as const) {
    if (!Array.isArray(report[key])) throw new Error(`the runner's report has no ${key} list`);
  }
  return report;
}

/** The tests of a suite that leak (growth) or leave resources unclosed, worst first. */
export function leakingTests(report: RuntimeReport): SuiteTest[] {
  return (report.suite?.tests ?? []).filter((t) => t.outcome === 'passed' && (t.verdict === 'leak' || t.verdict === 'unclosed'));
}

/** Every finding of a report: its own, or those of the tests of a suite. */
export function allFindings(report: RuntimeReport): RuntimeFinding[] {
  return report.suite ? report.findings.concat(...report.suite.tests.map((t) => t.findings)) : report.findings;
}

/** Findings that count as leaks: growth judged `leak`, every cycle group, every unclosed resource. */
export function isLeak(finding: RuntimeFinding): boolean {
  return finding.kind !== 'growth' || finding.verdict === 'leak';
}
