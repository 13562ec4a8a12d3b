// The page of the run-time report view (report-view.ts), without the editor: plain HTML with one
// picture per growth finding that has a retention path and per reference cycle (graph.ts drawn by
// svg.ts in the extension host — the webview gets finished SVG), followed by the text report.
// The page loads nothing: its CSP allows only its own nonce'd script and style; the script posts a
// clicked allocation link to the extension (`{ type: 'open', url }`).
import { randomBytes } from 'node:crypto';
import { displayFile, findingMessage, formatBytes, formatReportText, summaryLine } from '../../server/src/runtime/format';
import { findingDot, hasGraph, locationUrl } from '../../server/src/runtime/graph';
import { allFindings, ProfileLine, RuntimeReport } from '../../server/src/runtime/report';
import { renderSvg } from '../../server/src/runtime/svg';

/** What the view shows (returned by the Show Run-time Report command, for tests). */
export interface ReportViewState {
  graphs: number;
  nodes: number;
  edges: number;
  /** Findings whose picture could not be drawn (the reason is in the view). */
  failed: number;
  /** A profile: the tables drawn (one per function) and their rows with numbers. */
  profileTables?: number;
  profileRows?: number;
}

/** An attribute value as the page's script reads it (getAttribute): XML character references resolved. */
function unescapeXml(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return named[ref] ?? whole;
  });
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The page for a report, with the counts the tests read and the links it holds. */
export async function renderPage(report: RuntimeReport, base: string): Promise<{ html: string; state: ReportViewState; links: Set<string> }> {
  const nonce = randomBytes(16).toString('base64');
  const state: ReportViewState = { graphs: 0, nodes: 0, edges: 0, failed: 0 };
  const links = new Set<string>();
  const sections: string[] = [];
  for (const [index, finding] of allFindings(report).entries()) {
    if (!hasGraph(finding)) continue;
    let picture: string;
    try {
      const svg = await renderSvg(findingDot(finding, index, { base, titles: false }));
      // The document's prologue (XML declaration, DOCTYPE, comments) has no place inside HTML.
      picture = svg.slice(svg.indexOf('<svg'));
      state.graphs++;
      state.nodes += (picture.match(/<g id="[^"]*" class="node[ "]/g) ?? []).length;
      state.edges += (picture.match(/<g id="[^"]*" class="edge[ "]/g) ?? []).length;
      for (const m of picture.matchAll(/xlink:href="([^"]*)"/g)) links.add(unescapeXml(m[1]));
    } catch (error) {
      state.failed++;
      picture = `<p class="error">${escapeHtml((error as Error).message)}</p>`;
    }
    sections.push(`<section class="finding"><h2>${escapeHtml(findingMessage(finding, report))}</h2><div class="graph">${picture}</div></section>`);
  }
  const profile = report.profile ? profileSections(report, base, state, links) : [];
  const text = formatReportText(report, { base });
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LeakLens Run Report</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px 24px; }
  h1 { font-size: 1.2em; } h2 { font-size: 1em; font-weight: 600; }
  .graph { overflow-x: auto; background: var(--vscode-editor-background); border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px; padding: 8px; }
  .graph svg { display: block; margin: 0 auto; }
  .graph svg text { fill: var(--vscode-editor-foreground); }
  .graph svg .node polygon, .graph svg .node path, .graph svg .edge path { stroke: var(--vscode-editor-foreground); }
  .graph svg .node path { fill: var(--vscode-editor-background); }
  .graph svg .node.leak path { stroke: var(--vscode-errorForeground); stroke-width: 2; }
  .graph svg .node.finalizer path { stroke: var(--vscode-editorWarning-foreground); stroke-width: 2; }
  .graph svg .edge polygon { fill: var(--vscode-editor-foreground); stroke: var(--vscode-editor-foreground); }
  .graph svg .cluster > path, .graph svg .cluster > polygon { stroke: var(--vscode-descriptionForeground); fill: none; }
  .graph svg a { cursor: pointer; }
  .graph svg a:hover text { text-decoration: underline; }
  .none { color: var(--vscode-descriptionForeground); }
  .error { color: var(--vscode-errorForeground); }
  table.profile { border-collapse: collapse; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
  table.profile th, table.profile td { padding: 1px 8px; text-align: right; white-space: pre; }
  table.profile th { border-bottom: 1px solid var(--vscode-panel-border, #8884); }
  table.profile td.source, table.profile th.source { text-align: left; }
  table.profile tr.allocates td { color: var(--vscode-editorWarning-foreground); }
  table.profile tr.allocates td.source { color: var(--vscode-editor-foreground); }
  table.profile a { color: var(--vscode-textLink-foreground); cursor: pointer; text-decoration: none; }
  pre { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); white-space: pre-wrap; }
</style>
</head>
<body>
<h1>${escapeHtml(summaryLine(report))}</h1>
${profile.length ? profile.join('\n') : sections.length ? sections.join('\n') : '<p class="none">No finding of this run has a retention path or a reference cycle to draw.</p>'}
<h2>Report</h2>
<pre>${escapeHtml(text)}</pre>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('.graph a, .profile a') : null;
    if (!link) return;
    event.preventDefault();
    const url = link.getAttribute('xlink:href') || link.getAttribute('href');
    if (url) vscode.postMessage({ type: 'open', url });
  });
</script>
</body>
</html>
`;
  return { html, state, links };
}

/** A profile's tables, one per function: every source line, the numbers of the lines that ran;
 * a line number opens the file there. */
function profileSections(report: RuntimeReport, base: string, state: ReportViewState, links: Set<string>): string[] {
  const profile = report.profile!;
  state.profileTables = 0;
  state.profileRows = 0;
  const out: string[] = [];
  for (const fn of profile.functions) {
    const byLine = new Map<number, ProfileLine>();
    for (const line of profile.lines) if (line.file === fn.file && line.function === fn.function) byLine.set(line.line, line);
    const rows = fn.source.map((source, index) => {
      const number = fn.line + index;
      const url = locationUrl(fn.file, number);
      links.add(url);
      const line = byLine.get(number);
      const cells = line ? [String(line.hits), formatBytes(line.allocated), formatBytes(line.held), formatBytes(line.peak)] : ['', '', '', ''];
      if (line) state.profileRows!++;
      const allocates = line && (line.allocated >= 1024 * 1024 || line.held >= 1024 * 1024) ? ' class="allocates"' : '';
      return `<tr${allocates}><td><a href="${escapeHtml(url)}">${number}</a></td>${cells.map((c) => `<td>${c}</td>`).join('')}<td class="source">${escapeHtml(source)}</td></tr>`;
    });
    state.profileTables++;
    out.push(
      `<section class="profile"><h2>${escapeHtml(fn.function)} — ${escapeHtml(displayFile(fn.file, base))}:${fn.line}</h2>` +
        '<table class="profile"><thead><tr><th>Line</th><th>Hits</th><th>Allocated</th><th>Held</th><th>Peak</th><th class="source">Source</th></tr></thead>' +
        `<tbody>${rows.join('')}</tbody></table></section>`,
    );
  }
  return out;
}
