// Offsets → LSP positions, in one place, and findings → diagnostics carrying their fixes.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Diagnostic, DiagnosticSeverity, TextEdit } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Analyzer, AnalyzedFinding } from '../analysis/engine';
import { AnalysisOptions, FindingSubject, Fix, OffsetEdit, Severity } from '../analysis/types';

export const FIX_ALL_KIND = 'source.fixAll.leaklens';

/** What a diagnostic carries so that code actions need no server state. */
export interface DiagnosticData {
  version: number;
  fixes: Fix[];
  ignore?: OffsetEdit;
  /**
   * Set on a finding published while typing, before the whole-file analysis that follows a pause:
   * its fixes are re-derived from that analysis before they are offered.
   */
  provisional?: boolean;
  /** What the finding is about (LL301, LL302, LL303, LL401): run-time confirmations match its name. */
  subject?: FindingSubject;
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** The rule's Markdown page shipped next to the server bundle (dist/docs/rules), readable offline. */
export function documentationUri(code: string): string {
  return pathToFileURL(join(__dirname, 'docs', 'rules', `${code}.md`)).toString();
}

export function toDiagnostic(f: AnalyzedFinding, doc: TextDocument, provisional = false): Diagnostic {
  const range = (start: number, end: number) => ({ start: doc.positionAt(start), end: doc.positionAt(end) });
  const data: DiagnosticData = { version: doc.version, fixes: f.fixes, ignore: f.ignore };
  if (provisional) data.provisional = true;
  if (f.subject) data.subject = f.subject;
  return {
    range: range(f.start, f.end),
    severity: SEVERITY[f.severity],
    code: f.code,
    codeDescription: { href: documentationUri(f.code) },
    source: 'leaklens',
    message: f.message,
    relatedInformation: f.related.map((r) => ({ location: { uri: doc.uri, range: range(r.start, r.end) }, message: r.message })),
    data,
  };
}

/** All safe fixes of the document as one minimal edit, or undefined when nothing changes. */
export function fixAllEdit(analyzer: Analyzer, doc: TextDocument, options: AnalysisOptions): TextEdit | undefined {
  const before = doc.getText();
  const { text: after, applied } = analyzer.fixText(before, options, false);
  if (applied === 0 || after === before) return undefined;
  return minimalEdit(doc, after);
}

/** The one edit that turns the document's text into `after`: the span between their common prefix and suffix. */
export function minimalEdit(doc: TextDocument, after: string): TextEdit {
  const before = doc.getText();
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    suffix < after.length - prefix &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  ) suffix++;
  // Never split a surrogate pair.
  if (prefix > 0 && /[\uD800-\uDBFF]/.test(before[prefix - 1])) prefix--;
  if (suffix > 0 && /[\uDC00-\uDFFF]/.test(before[before.length - suffix])) suffix--;
  return {
    range: { start: doc.positionAt(prefix), end: doc.positionAt(before.length - suffix) },
    newText: after.slice(prefix, after.length - suffix),
  };
}
