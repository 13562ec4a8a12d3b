// What a run confirms about the static findings, as plain data the editor sends to the
// language server (notification `leaklens/runtimeReport`): per file URI, the lines the run
// points at (allocation sites of leaks, the definitions of the globals and class attributes
// that keep them alive, watched names that grew, the stores that close a cycle) and the names
// that grew. The server marks its diagnostics on those lines as confirmed.
import { formatBytes, shortType } from './format';
import { CycleFinding, GrowthFinding, ResourceFinding, RuntimeReport } from './report';
import { resourceLines } from './static-match';

export const RUNTIME_REPORT_NOTIFICATION = 'leaklens/runtimeReport';
/** `key` that clears every confirmation (with `files: []`). */
export const CLEAR_ALL_KEY = '*';

/** `resource`: a line of an unclosed resource (allocation, callers, drop); it confirms only LL101, LL103 and LL104. */
export type SiteKind = 'allocation' | 'holder' | 'watch' | 'cycle-edge' | 'cycle-member' | 'resource';

export interface ConfirmedSite {
  /** 0-based line, as in LSP. */
  line: number;
  /** The line's text (trimmed) when the run happened, to follow the line when edits move it. */
  text?: string;
  kind: SiteKind;
  /** Words appended to a confirmed diagnostic: "grew +264 B per call". */
  summary: string;
}

export interface ConfirmedName {
  /** `_cache`, `Plugin.registry`, `Service.lookup`: matched against the `data.subject.name` of diagnostics (LL301/LL302/LL303/LL401). */
  name: string;
  summary: string;
}

export interface FileConfirmations {
  uri: string;
  sites: ConfirmedSite[];
  names: ConfirmedName[];
}

export interface RuntimeReportParams {
  /** Confirmations replace the earlier ones with the same key (`growth <target>`); CLEAR_ALL_KEY clears all. */
  key: string;
  files: FileConfirmations[];
}

export interface ConfirmationSources {
  /** The URI the editor uses for a file path of the report. */
  toUri: (file: string) => string;
  /** The file's lines as they were run (from disk), or undefined when unreadable. */
  readLines: (file: string) => string[] | undefined;
}

function perCall(bytes: number): string {
  return `${bytes >= 0 ? '+' : ''}${formatBytes(bytes)} per call`;
}

function cycleSummary(finding: CycleFinding): string {
  const types = [...new Set(finding.members.map((m) => shortType(m.type)))].join(', ');
  const rate = finding.perCall >= 1 ? `${Number.isInteger(finding.perCall) ? finding.perCall : finding.perCall.toFixed(2)} per call` : `${finding.count} in the measured calls`;
  const late = finding.finalizer.present ? ', freed late at a GC pause' : '';
  return `reference cycle (${types}) made ${rate}${late}`;
}

const RESOURCE_NOUNS: Record<ResourceFinding['resource'], string> = { file: 'file', socket: 'socket', subprocess: 'subprocess', other: 'resource' };

function resourceSummary(finding: ResourceFinding, calls: number): string {
  const rate = finding.perCall >= 1 ? `${Number.isInteger(finding.perCall) ? finding.perCall : finding.perCall.toFixed(2)} per call` : `${finding.count} in ${calls} calls`;
  return `${RESOURCE_NOUNS[finding.resource]} left unclosed (${rate})`;
}

/** The confirmations a report carries, grouped per file. Only leaks, cycles and unclosed resources confirm anything. */
export function confirmationsFromReport(report: RuntimeReport, sources: ConfirmationSources): RuntimeReportParams {
  const files = new Map<string, FileConfirmations>();
  const linesCache = new Map<string, string[] | undefined>();
  const lineText = (file: string, line: number): string | undefined => {
    if (!linesCache.has(file)) linesCache.set(file, sources.readLines(file));
    const text = linesCache.get(file)?.[line - 1];
    return text === undefined ? undefined : text.trim();
  };
  const entry = (file: string): FileConfirmations => {
    let found = files.get(file);
    if (!found) {
      found = { uri: sources.toUri(file), sites: [], names: [] };
      files.set(file, found);
    }
    return found;
  };
  const addSite = (file: string | null | undefined, line: number | null | undefined, kind: SiteKind, summary: string) => {
    if (!file || !line || line < 1) return;
    const target = entry(file);
    if (target.sites.some((s) => s.line === line - 1 && s.summary === summary)) return;
    target.sites.push({ line: line - 1, text: lineText(file, line), kind, summary });
  };
  const addName = (file: string | null | undefined, name: string | null | undefined, summary: string) => {
    if (!file || !name) return;
    const target = entry(file);
    if (!target.names.some((n) => n.name === name)) target.names.push({ name, summary });
  };

  for (const finding of report.findings) {
    if (finding.kind === 'growth') {
      if (finding.verdict !== 'leak') continue;
      const g = (finding as GrowthFinding).growth;
      const summary = `grew ${perCall(g.bytesPerCall)}`;
      addSite(finding.location.file, finding.location.line, 'allocation', summary);
      const root = finding.retention?.root;
      if (root?.file && root.name) {
        const held = root.attribute ? `${root.name}.${root.attribute}` : root.name;
        const text = `\`${held}\` kept objects alive that grew ${perCall(g.bytesPerCall)}`;
        addSite(root.file, root.line, 'holder', text);
        addName(root.file, held, text);
      }
    } else if (finding.kind === 'resource') {
      const summary = resourceSummary(finding, report.totals.calls ?? 0);
      for (const at of resourceLines(finding)) addSite(at.file, at.line, 'resource', summary);
    } else if (finding.kind === 'cycle') {
      const summary = cycleSummary(finding);
      for (const edge of finding.edges) for (const at of edge.assignedAt ?? []) addSite(at.file, at.line, 'cycle-edge', summary);
      for (const member of finding.members) if (member.site) addSite(member.site.file, member.site.line, 'cycle-member', summary);
    }
  }
  for (const watch of report.watches) {
    if (watch.verdict !== 'leak' || !watch.file) continue;
    const unit = watch.measure === 'cache entries' ? 'cache entries' : 'items';
    const short = watch.name.includes(':') ? watch.name.slice(watch.name.lastIndexOf(':') + 1) : watch.name;
    const rate = watch.perCall !== undefined ? `${watch.perCall >= 0 ? '+' : ''}${Number(watch.perCall.toFixed(3))} ${unit} per call` : `grew (${unit})`;
    const summary = `\`${short}\` grew ${rate}`;
    addSite(watch.file, watch.line, 'watch', summary);
    addName(watch.file, short, summary);
  }
  return { key: `${report.mode ?? 'run'} ${report.target.spec ?? ''}`, files: [...files.values()] };
}
