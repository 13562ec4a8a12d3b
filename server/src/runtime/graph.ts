// Pictures of run-time findings as Graphviz DOT text: the retention path of a growth finding
// (module → global → … → the object allocated on the line) and the members and references of a
// reference cycle. Pure (report in, text out); `svg.ts` renders the text with the WebAssembly
// build of Graphviz, for the CLI (`--format dot|svg`) and the editor's report view.
//
// Every node is a box with the object's type (and its length when the runner gives one, as in
// `list[253]`) and its size in bytes (sys.getsizeof, plus an instance's __dict__), drawn top to bottom (the report view is a narrow side panel); edges carry the reference (`.attr`, `[3]`, a global's name). A node with a
// source location links to it: `URL` is `file:///path#L<line>` (browsers open the file; the report
// view intercepts the click and opens the editor at the line). Node ids are `f<finding>_n<index>`:
// the same report always gives the same text.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { displayLocation, formatBytes, shortType } from './format';
import { allFindings, CycleFinding, GrowthFinding, RuntimeFinding, RuntimeReport, SourceLocation } from './report';

export interface GraphOptions {
  /** Paths inside this folder are shown relative to it. */
  base?: string;
  /** Label each finding's cluster with what it is (default true; the report view has headings instead). */
  titles?: boolean;
}

/** A finding that has a picture: a growth finding with a retention path, or a cycle. */
export function hasGraph(finding: RuntimeFinding): finding is GrowthFinding | CycleFinding {
  if (finding.kind === 'cycle') return finding.members.length > 0;
  return finding.kind === 'growth' && !!finding.retention && finding.retention.steps.length > 0;
}

/** One digraph holding every finding of the report that has a picture, one cluster each (empty when none has). */
export function reportDot(report: RuntimeReport, options: GraphOptions = {}): string {
  const base = options.base ?? report.workspace;
  const clusters: string[] = [];
  allFindings(report).forEach((finding, index) => {
    if (hasGraph(finding)) clusters.push(findingCluster(finding, index, { base }));
  });
  return digraph(`leaklens ${report.mode ?? 'run'} ${report.target.spec ?? ''}`.trim(), clusters);
}

/** The picture of one finding (`index`: its place in the report's findings, for the node ids). */
export function findingDot(finding: GrowthFinding | CycleFinding, index: number, options: GraphOptions = {}): string {
  return digraph(`finding ${index}`, [findingCluster(finding, index, options)]);
}

function digraph(name: string, bodies: string[]): string {
  return [
    `digraph ${quote(name)} {`,
    '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.35, bgcolor="transparent"];',
    '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=11, margin="0.12,0.06"];',
    '  edge [fontname="Helvetica", fontsize=10];',
    ...bodies,
    '}',
    '',
  ].join('\n');
}

function findingCluster(finding: GrowthFinding | CycleFinding, index: number, options: GraphOptions): string {
  const lines = finding.kind === 'cycle' ? cycleStatements(finding, index, options) : retentionStatements(finding, index, options);
  const title = finding.kind === 'cycle'
    ? `reference cycle of ${finding.size} object${finding.size === 1 ? '' : 's'} from ${displayLocation(finding.location, options.base)} (${finding.count} left to the collector)`
    : `kept alive: ${displayLocation(finding.location, options.base)} grows ${formatBytes(finding.growth.bytesPerCall)} per call`;
  return [
    `  subgraph ${quote(`cluster_f${index}`)} {`,
    `    ${options.titles === false ? '' : `label=${quote(title)}; labeljust="l"; `}style="dashed"; color="#888888";`,
    ...lines.map((line) => `    ${line}`),
    '  }',
  ].join('\n');
}

interface NodeSpec {
  id: string;
  /** Bold first line. */
  title: string;
  /** Further lines, smaller. */
  details: string[];
  link?: SourceLocation | { file: string; line: number };
  tooltip: string;
  /** Outlined: `leak` (the object allocated on the reported line), `finalizer` (a class with `__del__`). */
  emphasis?: 'leak' | 'finalizer';
}

function node(spec: NodeSpec): string {
  const rows = [`<B>${html(spec.title)}</B>`, ...spec.details.map((d) => `<FONT POINT-SIZE="9">${html(d)}</FONT>`)];
  const attributes = [`label=<${rows.join('<BR/>')}>`, `tooltip=${quote(spec.tooltip)}`];
  if (spec.link) attributes.push(`URL=${quote(locationUrl(spec.link.file, spec.link.line))}`, 'target="_top"');
  // `class` reaches the SVG (`<g class="node leak">`): the report view colours it with the theme.
  if (spec.emphasis) attributes.push('color="#c62828"', 'penwidth=1.6', `class=${quote(spec.emphasis)}`);
  return `${spec.id} [${attributes.join(', ')}];`;
}

function edge(from: string, to: string, label: string): string {
  return `${from} -> ${to} [label=${quote(label)}];`;
}

function retentionStatements(finding: GrowthFinding, index: number, options: GraphOptions): string[] {
  const retention = finding.retention!;
  const steps = retention.steps;
  const root = retention.root;
  // The object the root global (or class attribute) names: its definition is the link.
  const rootLabel = root ? (root.attribute ? `.${root.attribute}` : root.name) : null;
  const rootStep = rootLabel ? steps.findIndex((step, i) => i > 0 && step.label === rootLabel) : -1;
  const out: string[] = [];
  steps.forEach((step, i) => {
    const id = `f${index}_n${i}`;
    const last = i === steps.length - 1;
    const details: string[] = [];
    let link: NodeSpec['link'];
    if (i === 0 && step.type === 'module') {
      details.push('module');
    } else if (typeof step.bytes === 'number') {
      details.push(formatBytes(step.bytes));
    }
    if (i === rootStep && root?.file && root.line) {
      link = { file: root.file, line: root.line };
      details.push(`defined at ${displayLocation({ file: root.file, line: root.line, function: null }, options.base)}`);
    }
    if (last) {
      link = finding.location;
      details.push(`allocated at ${displayLocation(finding.location, options.base)}`, `+${formatBytes(finding.growth.bytesPerCall)} per call`);
    }
    const title = i === 0 && step.type === 'module' ? step.label.replace(/^module /, '') : step.type;
    out.push(node({ id, title, details, link, tooltip: i === 0 ? step.label : `${step.label} (${step.type})`, emphasis: last ? 'leak' : undefined }));
    if (i > 0) out.push(edge(`f${index}_n${i - 1}`, id, step.label));
  });
  return out;
}

function cycleStatements(finding: CycleFinding, index: number, options: GraphOptions): string[] {
  const out: string[] = [];
  const finalizers = new Set(finding.finalizer.types.map((t) => t.replace(/\.__del__$/, '')));
  finding.members.forEach((member, i) => {
    const short = shortType(member.type);
    const details: string[] = [];
    if (typeof member.bytes === 'number') details.push(member.count > 1 ? `${formatBytes(member.bytes)} each` : formatBytes(member.bytes));
    if (member.count > 1) details.push(`× ${member.count}`);
    if (member.site) details.push(`allocated at ${displayLocation(member.site, options.base)}${member.approximate ? ' (approximate)' : ''}`);
    if (finalizers.has(short)) details.push('has __del__');
    out.push(node({ id: `f${index}_n${i}`, title: short, details, link: member.site ?? undefined, tooltip: member.type, emphasis: finalizers.has(short) ? 'finalizer' : undefined }));
  });
  for (const e of finding.edges) {
    if (!finding.members[e.from] || !finding.members[e.to]) continue;
    out.push(edge(`f${index}_n${e.from}`, `f${index}_n${e.to}`, e.label));
  }
  return out;
}

/** `file:///path#L12` — the link of a node with a source location. */
export function locationUrl(file: string, line: number): string {
  return `${pathToFileURL(file).href}#L${line}`;
}

/** The file and line of a `locationUrl`, or undefined for any other text. */
export function parseLocationUrl(url: string): { file: string; line: number } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const line = /^#L([1-9]\d{0,8})$/.exec(parsed.hash)?.[1];
  if (parsed.protocol !== 'file:' || !line) return undefined;
  parsed.hash = '';
  try {
    // fileURLToPath checks the form (no host on POSIX, a drive on Windows).
    return { file: fileURLToPath(parsed), line: Number(line) };
  } catch {
    return undefined;
  }
}

/** A DOT quoted string: `"` and `\` escaped (a backslash starts Graphviz's own escapes), no raw line breaks or control characters. */
export function quote(text: string): string {
  return `"${clean(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Text inside a Graphviz HTML-like label (parsed as XML). */
export function html(text: string): string {
  return clean(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}
