// Words for run-time reports: diagnostic messages (editor) and the text report (CLI and the
// editor's report view). One place, so that both say the same thing.
import { relative, sep } from 'node:path';
import { CycleFinding, GrowthFinding, leakingTests, ProfileLine, ResourceFinding, RuntimeFinding, RuntimeReport, SourceLocation, SuiteTest, WatchResult } from './report';

export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const n = Math.abs(bytes);
  if (n < 1024) return `${sign}${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${sign}${(n / 1024).toFixed(1)} KiB`;
  return `${sign}${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function signed(bytes: number): string {
  return bytes >= 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function round(n: number, digits = 1): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

/** `path:line` relative to `base` when inside it. */
export function displayLocation(location: SourceLocation, base?: string): string {
  return `${displayFile(location.file, base)}:${location.line}`;
}

export function displayFile(file: string, base?: string): string {
  if (!base) return file;
  const rel = relative(base, file);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-zA-Z]:/.test(rel) ? rel : file;
}

/** Short name of a type for messages: `parent_child.Node` → `Node`. */
export function shortType(name: string): string {
  const i = name.lastIndexOf('.');
  return i >= 0 ? name.slice(i + 1) : name;
}

export const UNCONFIRMED_NOTE =
  'no live object allocated on this line was found: CPython reuses freed memory blocks, so tracemalloc can blame a line for growth made elsewhere';

/** One-line message for a growth finding (the diagnostic's message). */
export function growthMessage(finding: GrowthFinding, calls: number): string {
  const g = finding.growth;
  const perCall = `${signed(g.bytesPerCall)} per call`;
  const blocks = g.blocks > 0 ? `, ${round(g.blocksPerCall, 2)} new ${g.blocksPerCall === 1 ? 'block' : 'blocks'} per call` : '';
  switch (finding.verdict) {
    case 'leak': {
      let text = `Memory leak at run time: ${perCall}${blocks} (${signed(g.bytes)} over ${plural(calls, 'call')}, growing in every round)`;
      if (g.blocks <= 0) text += '; an existing container grew here';
      if (finding.attribution === 'approximate') text += '; allocation site approximate';
      if (finding.attribution === 'unconfirmed') text += `; unconfirmed: ${UNCONFIRMED_NOTE}`;
      return text;
    }
    case 'bounded':
      return `Bounded growth at run time: ${signed(g.bytes)} while filling up, then it stopped growing (a cache reaching its size?) — not a leak`;
    default:
      return `Memory went up and down here at run time (${g.roundBytes.map(signed).join(', ')} per round) — noise, not a leak`;
  }
}

/** The cycle as a chain of labelled edges: `Node -.children-> list -[0]-> Node -.parent-> Node`. */
export function cycleShape(finding: CycleFinding): string {
  const names = finding.members.map((m) => shortType(m.type));
  if (!finding.edges.length) return names.join(', ');
  // Follow edges from the first member when they form a single loop; else list them.
  const byFrom = new Map<number, typeof finding.edges>();
  for (const edge of finding.edges) byFrom.set(edge.from, [...(byFrom.get(edge.from) ?? []), edge]);
  // Start from the first member (an instance of the user's class, when there is one).
  const start = byFrom.has(0) ? 0 : finding.edges[0].from;
  const parts = [names[start]];
  const used = new Set<typeof finding.edges[number]>();
  let at = start;
  for (let i = 0; i < finding.edges.length; i++) {
    const next = (byFrom.get(at) ?? []).find((e) => !used.has(e));
    if (!next) break;
    used.add(next);
    parts.push(`-${next.label}->`, names[next.to]);
    at = next.to;
    if (at === start) break;
  }
  if (used.size < finding.edges.length) {
    const rest = finding.edges.filter((e) => !used.has(e)).map((e) => `${names[e.from]} -${e.label}-> ${names[e.to]}`);
    return `${parts.join(' ')}; also ${rest.join('; ')}`;
  }
  return parts.join(' ');
}

export function cycleMessage(finding: CycleFinding, calls: number): string {
  const made = finding.perCall >= 1 ? `${round(finding.perCall, 2)} per call` : `${finding.count} in ${plural(calls, 'call')}`;
  let text = `Reference cycle at run time (${made}, ${plural(finding.size, 'object')} each): ${cycleShape(finding)}`;
  if (finding.finalizer.present) {
    text += `; with a finalizer (${finding.finalizer.types.join(', ')}): cyclic garbage, freed late, at a GC pause`;
  } else {
    text += '; reference counting cannot free it: it waits for the next GC pause';
  }
  return text;
}

const RESOURCE_WORDS: Record<ResourceFinding['resource'], string> = {
  file: 'file',
  socket: 'socket',
  subprocess: 'subprocess (never waited for)',
  other: 'resource',
};

/** One-line message for an unclosed resource (the diagnostic's message). */
export function resourceMessage(finding: ResourceFinding, calls: number): string {
  const what = RESOURCE_WORDS[finding.resource];
  const made = finding.perCall >= 1 ? `${round(finding.perCall, 2)} per call` : `${finding.count} in ${plural(calls, 'call')}`;
  let text = `Unclosed ${what} at run time (${made}): ${finding.attribution === 'released' ? 'dropped here' : 'allocated here'} and never closed; Python warned: ${finding.messages[0] ?? 'ResourceWarning'}`;
  if (finding.attribution === 'approximate') text += '; allocation site approximate (the line that called the constructor)';
  return text;
}

/** What static analysis says of an unclosed resource: "also found by LL101 (line 12)", "not found by static analysis", or undefined (not known). */
export function staticText(finding: ResourceFinding, base?: string): string | undefined {
  if (!finding.static) return undefined;
  if (!finding.static.length) return 'not found by static analysis (LL101, LL103, LL104)';
  const where = (m: { code: string; file: string; line: number; confidence?: 'low' }) =>
    `${m.code} at ${base !== undefined ? displayFile(m.file, base) : m.file}:${m.line}${m.confidence === 'low' ? ' (low confidence)' : ''}`;
  return `also found by static analysis: ${finding.static.map(where).join(', ')}`;
}

export function findingMessage(finding: RuntimeFinding, report: RuntimeReport): string {
  const calls = report.totals.calls ?? 0;
  if (finding.kind === 'resource') return resourceMessage(finding, calls);
  return finding.kind === 'cycle' ? cycleMessage(finding, calls) : growthMessage(finding, calls);
}

export function watchText(watch: WatchResult): string {
  if (!watch.found && watch.problem) return `${watch.name}: ${watch.problem}`;
  const numbers = watch.values.filter((v): v is number => typeof v === 'number');
  if (!numbers.length) return `${watch.name}: not measured`;
  const unit = watch.measure ?? 'items';
  const trend = watch.verdict === 'leak' ? 'grows on every round' : watch.verdict === 'bounded' ? 'stopped growing (bounded)' : watch.growth ? 'changes, but not steadily' : 'stable';
  const perCall = watch.perCall !== undefined ? ` (${watch.perCall >= 0 ? '+' : ''}${round(watch.perCall, 3)} per call)` : '';
  return `${watch.name}: ${numbers[0]} → ${numbers[numbers.length - 1]} ${unit}${perCall}: ${trend}`;
}

function describeTarget(report: RuntimeReport): string {
  return report.target.spec ?? '(no target)';
}

function describeParameters(report: RuntimeReport): string {
  const p = report.parameters;
  const parts: string[] = [];
  if (p.warmup !== undefined) parts.push(`${plural(p.warmup, 'warm-up call')}`);
  if (report.mode === 'growth' && p.rounds !== undefined && p.calls !== undefined) parts.push(`${p.rounds} rounds × ${plural(p.calls, 'call')}`);
  if ((report.mode === 'cycles' || report.mode === 'resources') && p.calls !== undefined) parts.push(plural(p.calls, 'measured call'));
  if (report.mode === 'profile' && p.calls !== undefined) parts.push(plural(p.calls, 'profiled call'));
  return parts.join(', ');
}

/** The whole report as text (CLI `--format text`, the editor's report view). */
export function formatReportText(report: RuntimeReport, options: { base?: string; verbose?: boolean } = {}): string {
  if (report.suite) return formatSuiteText(report, options);
  const base = options.base ?? report.workspace;
  const lines: string[] = [];
  const interp = `${report.interpreter.implementation} ${report.interpreter.version}`;
  const params = describeParameters(report);
  lines.push(`LeakLens ${report.mode ?? 'run'}: ${describeTarget(report)} (${interp}${params ? `; ${params}` : ''})`);
  lines.push(`Interpreter: ${report.interpreter.executable}`);
  if (report.target.call) lines.push(`Each call: ${report.target.call}, with i = 0, 1, 2, … (the call number, warm-up included)`);
  lines.push('');
  const calls = report.totals.calls ?? 0;
  for (const finding of report.findings) {
    if (finding.kind === 'growth') lines.push(...growthBlock(finding, calls, base, options.verbose));
    else if (finding.kind === 'resource') lines.push(...resourceBlock(finding, calls, base, options.verbose));
    else lines.push(...cycleBlock(finding, calls, base));
    lines.push('');
  }
  if (report.profile) lines.push(...profileTables(report, base));
  if (report.watches.length) {
    lines.push('Watched names:');
    for (const watch of report.watches) lines.push(`  ${watchText(watch)}`);
    lines.push('');
  }
  return finishText(lines, report, options);
}

export function summaryLine(report: RuntimeReport): string {
  if (report.suite) return suiteSummaryLine(report);
  const t = report.totals;
  const seconds = `${report.seconds.toFixed(1)} s`;
  if (report.errors.length && !report.findings.length) return `The run failed (${seconds}).`;
  if (report.mode === 'profile') return profileSummary(report);
  if (report.mode === 'cycles') {
    const groups = report.findings.length;
    return groups === 0
      ? `No reference cycles from workspace code in ${plural(t.calls ?? 0, 'call')} (${seconds}).`
      : `${plural(t.cycles ?? 0, 'cycle')} of ${plural(groups, 'kind')} in ${plural(t.calls ?? 0, 'call')}${t.withFinalizer ? `, ${t.withFinalizer} with a finalizer` : ''} (${seconds}).`;
  }
  if (report.mode === 'resources') {
    const sites = report.findings.length;
    const unattributed = t.unattributed ? `; ${t.unattributed} more outside the workspace` : '';
    return sites === 0
      ? `No unclosed resources in ${plural(t.calls ?? 0, 'call')}${unattributed} (${seconds}).`
      : `${plural(t.unclosed ?? 0, 'unclosed resource')} from ${plural(sites, 'allocation site')} in ${plural(t.calls ?? 0, 'call')}${unattributed} (${seconds}).`;
  }
  const leaks = t.leaks ?? 0;
  const parts = [leaks === 0 ? 'No leaks' : plural(leaks, 'leaking site')];
  if (t.bounded) parts.push(`${t.bounded} bounded`);
  if (t.noise) parts.push(`${t.noise} noise`);
  return `${parts.join(', ')} in ${plural(t.calls ?? 0, 'call')}; workspace code grew ${signed(t.workspaceGrowth ?? 0)} (${seconds}).`;
}

function growthBlock(finding: GrowthFinding, calls: number, base: string, verbose?: boolean): string[] {
  const verdict = finding.verdict === 'leak' ? `LEAK (${finding.attribution})` : finding.verdict.toUpperCase();
  const fn = finding.location.function ? ` in ${finding.location.function}` : '';
  const g = finding.growth;
  const out = [`${displayLocation(finding.location, base)}${fn}: ${verdict}`];
  out.push(`  ${signed(g.bytesPerCall)} per call (${signed(g.bytes)}, ${g.blocks >= 0 ? '+' : ''}${g.blocks} blocks over ${plural(calls, 'call')}); per round: ${g.roundBytes.map(signed).join(' ')}`);
  if (finding.verdict === 'bounded') out.push('  stopped growing in the later rounds: a bounded cache, not a leak');
  if (finding.verdict === 'noise') out.push('  went up and down between rounds: not a leak');
  if (finding.verdict === 'leak' && finding.attribution === 'unconfirmed') out.push(`  unconfirmed: ${UNCONFIRMED_NOTE}`);
  if (finding.verdict === 'leak' && g.blocks <= 0) out.push('  no new blocks: an existing container (a list or dict) grew here');
  if (finding.retention) out.push(`  kept alive by: ${finding.retention.text}`);
  const live = Object.entries(finding.liveObjects.types);
  if (live.length) out.push(`  live objects from this line: ${live.map(([type, n]) => `${n} ${type}`).join(', ')}`);
  const frames = finding.traceback.filter((f) => verbose || f.workspace).slice(0, verbose ? 25 : 4);
  if (frames.length > 1 || verbose) {
    out.push('  allocated at:');
    for (const frame of frames) out.push(`    ${displayFile(frame.file, base)}:${frame.line}${frame.function ? ` in ${frame.function}` : ''}`);
  }
  return out;
}

function resourceBlock(finding: ResourceFinding, calls: number, base: string, verbose?: boolean): string[] {
  const fn = finding.location.function ? ` in ${finding.location.function}` : '';
  const attribution = finding.attribution === 'confirmed' ? '' : ` (${finding.attribution === 'released' ? 'allocated outside the workspace; the line that dropped it' : 'approximate'})`;
  const out = [`${displayLocation(finding.location, base)}${fn}: UNCLOSED ${finding.resource.toUpperCase()} × ${finding.count} (${round(finding.perCall, 2)} per call)${attribution}`];
  const types = Object.entries(finding.types);
  if (types.length) out.push(`  objects: ${types.map(([type, n]) => `${n} ${type}`).join(', ')}`);
  for (const message of finding.messages.slice(0, verbose ? undefined : 1)) out.push(`  ResourceWarning: ${message}`);
  if (finding.via === 'unraisable') out.push('  raised in a finalizer (passed to sys.unraisablehook)');
  const frames = finding.traceback.filter((f) => verbose || f.workspace).slice(0, verbose ? 25 : 6);
  if (frames.length) {
    out.push('  allocated at:');
    for (const frame of frames) out.push(`    ${displayFile(frame.file, base)}:${frame.line}${frame.function ? ` in ${frame.function}` : ''}`);
  }
  if (finding.releasedAt.length) out.push(`  last reference dropped at: ${finding.releasedAt.map((l) => displayLocation(l, base)).join(', ')}`);
  const known = staticText(finding, base);
  if (known) out.push(`  ${known}`);
  return out;
}

function cycleBlock(finding: CycleFinding, calls: number, base: string): string[] {
  const fn = finding.location.function ? ` in ${finding.location.function}` : '';
  const out = [`${displayLocation(finding.location, base)}${fn}: CYCLE × ${finding.count} (${round(finding.perCall, 2)} per call, ${plural(finding.size, 'object')} each)`];
  out.push(`  ${cycleShape(finding)}`);
  out.push('  members:');
  for (const member of finding.members) {
    const site = member.site ? ` allocated at ${displayLocation(member.site, base)}${member.approximate ? ' (approximate)' : ''}` : '';
    out.push(`    ${member.count} × ${member.type}${site}`);
  }
  const assigned = finding.edges.filter((e) => e.assignedAt?.length);
  if (assigned.length) {
    out.push('  edges set at:');
    for (const edge of assigned) {
      out.push(`    ${edge.label}: ${edge.assignedAt!.map((a) => displayLocation(a, base)).join(', ')}`);
    }
  }
  out.push(finding.finalizer.present
    ? `  has a finalizer (${finding.finalizer.types.join(', ')}): cyclic garbage, freed late, at a GC pause (Python 3.4+ collects it)`
    : '  freed only by the garbage collector, at its next pause');
  return out;
}

// --- test suites (report.suite): a table of the leaking tests, worst first, then their findings ---

/** `+4.1 KiB per call` / `2 unclosed` / `failed` … : what a suite's test came to, in a few words. */
export function testResult(test: SuiteTest): string {
  if (test.outcome === 'timeout') return 'timed out';
  if (test.outcome !== 'passed') return test.outcome;
  if (test.verdict === 'leak') return `leak ${signed(test.bytesPerCall ?? 0)} per call`;
  if (test.verdict === 'unclosed') return `${test.unclosed ?? 0} unclosed`;
  return test.verdict ?? 'clean';
}

/** The diagnostic on a leaking test's def line. */
export function testMessage(test: SuiteTest, mode: RuntimeReport['mode']): string {
  const calls = test.totals?.calls ?? 0;
  if (mode === 'resources') {
    const sites = test.findings.map((f) => `${shortFile(f.location.file)}:${f.location.line}`);
    return `This test leaves ${plural(test.unclosed ?? 0, 'resource')} unclosed in ${plural(calls, 'call')} at run time (allocated at ${sites.join(', ')})`;
  }
  const sites = test.findings.filter((f) => f.verdict === 'leak').map((f) => `${shortFile(f.location.file)}:${f.location.line}`);
  return `This test leaks at run time: ${signed(test.bytesPerCall ?? 0)} per call over ${plural(calls, 'call')} (growing at ${sites.join(', ')})`;
}

/** A finding's message, said of the test that produced it. */
export function testFindingMessage(finding: GrowthFinding | ResourceFinding, test: SuiteTest): string {
  const calls = test.totals?.calls ?? 0;
  const text = finding.kind === 'resource' ? resourceMessage(finding, calls) : growthMessage(finding, calls);
  return `${text} — in test ${test.nodeid}`;
}

function shortFile(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i >= 0 ? file.slice(i + 1) : file;
}

function formatSuiteText(report: RuntimeReport, options: { base?: string; verbose?: boolean }): string {
  const base = options.base ?? report.workspace;
  const suite = report.suite!;
  const lines: string[] = [];
  const interp = `${report.interpreter.implementation} ${report.interpreter.version}`;
  const p = report.parameters;
  const params: string[] = [];
  if (p.warmup !== undefined) params.push(plural(p.warmup, 'warm-up call'));
  if (report.mode === 'growth' && p.rounds !== undefined && p.calls !== undefined) params.push(`${p.rounds} rounds × ${plural(p.calls, 'call')}`);
  if (report.mode === 'resources' && p.calls !== undefined) params.push(plural(p.calls, 'measured call'));
  const limit = suite.testTimeout > 0 ? `, at most ${round(suite.testTimeout)} s each` : '';
  lines.push(`LeakLens ${report.mode ?? 'run'} of the tests in ${displayFile(suite.path, base)} (${interp}; ${params.join(', ')} per test${limit}; collected by ${suite.collector ?? 'nobody'})`);
  lines.push(`Interpreter: ${report.interpreter.executable}`);
  lines.push('');
  const leaking = leakingTests(report);
  const idWidth = Math.min(70, Math.max(0, ...leaking.map((t) => t.nodeid.length)));
  if (leaking.length) {
    lines.push(report.mode === 'resources' ? 'Tests that leave resources unclosed, worst first:' : 'Leaking tests, worst first:');
    for (const test of leaking) {
      const amount = report.mode === 'resources' ? `${test.unclosed ?? 0} unclosed` : `${signed(test.bytesPerCall ?? 0)} per call`;
      const where = test.file ? `  ${displayFile(test.file, base)}:${test.line ?? 1}` : '';
      lines.push(`  ${amount.padStart(18)}  ${test.nodeid.padEnd(idWidth)}${where}`);
    }
    lines.push('');
  }
  const groups: Array<[string, SuiteTest[]]> = [
    ['Bounded (a cache filling up, not a leak)', suite.tests.filter((t) => t.outcome === 'passed' && t.verdict === 'bounded')],
    ['Failed (not measured)', suite.tests.filter((t) => t.outcome === 'failed')],
    ['Timed out (not measured)', suite.tests.filter((t) => t.outcome === 'timeout')],
    ['Skipped', suite.tests.filter((t) => t.outcome === 'skipped')],
  ];
  for (const [title, group] of groups) {
    if (!group.length) continue;
    lines.push(`${title}:`);
    for (const test of group) lines.push(`  ${test.nodeid}${test.message ? `: ${test.message.split('\n')[0]}` : ''}`);
    lines.push('');
  }
  const clean = suite.tests.filter((t) => t.outcome === 'passed' && t.verdict === 'clean');
  if (clean.length && options.verbose) {
    lines.push('Clean:');
    for (const test of clean) lines.push(`  ${test.nodeid}`);
    lines.push('');
  }
  for (const test of leaking) {
    lines.push(`== ${test.nodeid}: ${testResult(test)}`);
    const calls = test.totals?.calls ?? 0;
    for (const finding of test.findings) {
      if (finding.kind === 'growth' && finding.verdict !== 'leak' && !options.verbose) continue;
      lines.push(...(finding.kind === 'resource' ? resourceBlock(finding, calls, base, options.verbose) : growthBlock(finding, calls, base, options.verbose)).map((l) => `  ${l}`));
    }
    for (const note of test.notes ?? []) lines.push(`  Note: ${note}`);
    lines.push('');
  }
  return finishText(lines, report, options);
}

function suiteSummaryLine(report: RuntimeReport): string {
  const t = report.totals;
  const suite = report.suite!;
  const seconds = `${report.seconds.toFixed(1)} s`;
  const parts: string[] = [];
  const leaking = t.leaking ?? 0;
  parts.push(report.mode === 'resources' ? `${leaking} leaving resources unclosed` : `${leaking} leaking`);
  if (t.bounded) parts.push(`${t.bounded} bounded`);
  parts.push(`${t.clean ?? 0} clean`);
  if (t.failed) parts.push(`${t.failed} failed`);
  if (t.timeout) parts.push(`${t.timeout} timed out`);
  if (t.skipped) parts.push(`${t.skipped} skipped`);
  const done = suite.cancelled ? `Cancelled after ${t.run ?? suite.tests.length} of ${plural(t.tests ?? 0, 'test')}` : plural(t.tests ?? suite.tests.length, 'test');
  return `${done}: ${parts.join(', ')} (${seconds}).`;
}

/** The end-of-line annotation of a profiled line: `+7.6 MiB alloc · 0 B held · peak 7.7 MiB`. */
export function profileAnnotation(line: ProfileLine): string {
  return `+${formatBytes(line.allocated)} alloc · ${formatBytes(line.held)} held · peak ${formatBytes(line.peak)}`;
}

/** Does the line get an annotation: it allocated or holds memory. */
export function profileLineShown(line: ProfileLine): boolean {
  return line.allocated > 0 || line.held !== 0;
}

function profileSummary(report: RuntimeReport): string {
  const t = report.totals;
  const tracer = t.tracerSeconds !== undefined ? `, ${t.tracerSeconds.toFixed(1)} s of it in the tracer` : '';
  return `Profiled ${plural(t.calls ?? 0, 'call')}: ${formatBytes(t.allocated ?? 0)} allocated, ${formatBytes(t.held ?? 0)} held after the calls, peak ${formatBytes(t.peak ?? 0)}${t.peakExact === false ? ' (a lower bound)' : ''} (${report.seconds.toFixed(1)} s${tracer}).`;
}

/** memory_profiler's table, one per function: every line of the function, the numbers of the ones that ran. */
function profileTables(report: RuntimeReport, base: string): string[] {
  const profile = report.profile!;
  const out: string[] = [];
  const header = ['Line', 'Hits', 'Allocated', 'Held', 'Peak'];
  const widths = [6, 8, 11, 11, 11];
  const row = (cells: string[], text: string) => cells.map((c, i) => c.padStart(widths[i])).join(' ') + '  ' + text;
  for (const fn of profile.functions) {
    const byLine = new Map<number, ProfileLine>();
    for (const line of profile.lines) if (line.file === fn.file && line.function === fn.function) byLine.set(line.line, line);
    out.push(`${displayFile(fn.file, base)}:${fn.line} ${fn.function}`);
    out.push(row(header, 'Source'));
    out.push(row(widths.map((w) => '-'.repeat(w)), '-'.repeat(6)));
    fn.source.forEach((text, index) => {
      const number = fn.line + index;
      const line = byLine.get(number);
      const cells = line
        ? [String(number), String(line.hits), formatBytes(line.allocated), formatBytes(line.held), formatBytes(line.peak)]
        : [String(number), '', '', '', ''];
      out.push(row(cells, text).trimEnd());
    });
    out.push('');
  }
  return out;
}

/** The end every text report shares: the run's notes, its errors (with tracebacks unless `verbose: false`), the summary line. */
function finishText(lines: string[], report: RuntimeReport, options: { verbose?: boolean }): string {
  for (const note of report.notes) lines.push(`Note: ${note}`);
  for (const error of report.errors) {
    lines.push(`Error: ${error.message}`);
    if (error.traceback && options.verbose !== false) lines.push(...error.traceback.trimEnd().split('\n').map((l) => `  ${l}`));
  }
  lines.push(summaryLine(report));
  return lines.join('\n') + '\n';
}
