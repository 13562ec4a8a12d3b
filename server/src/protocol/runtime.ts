// Static findings confirmed at run time. The editor runs code (server/src/runtime/) and sends
// what the run confirmed (notification `leaklens/runtimeReport`, built by
// runtime/confirm.ts); the server keeps it per URI and marks the diagnostics it publishes on
// those lines: message + " — confirmed at run time: …", `data.confirmed = true`.
//
// Wiring (server.ts): `attachRuntimeConfirmations(connection, (uri) => documents.get(uri)?.lsp.getText())`
// right after the connection is created. It registers the notification handler and wraps
// `connection.sendDiagnostics`, so every publication (open documents, the workspace scan) is
// decorated in one place, and it re-sends the last publication of a URI whose confirmations change.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Connection, Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver';
import { CLEAR_ALL_KEY, ConfirmedName, ConfirmedSite, FileConfirmations, RUNTIME_REPORT_NOTIFICATION, RuntimeReportParams } from '../runtime/confirm';
import { CONFIRMED_BY_RESOURCES } from '../runtime/static-match';

export const CONFIRMED_SUFFIX = ' — confirmed at run time: ';
const ATTACHED = Symbol('leaklens.runtimeConfirmations');
/** How far a site's line is followed when edits moved it (lines above and below). */
const FOLLOW_LINES = 200;

export interface Confirmations {
  sites: ConfirmedSite[];
  names: ConfirmedName[];
}

/** Where a site's line is now: its recorded line when the text still matches, else the nearest line with that text. */
export function resolveSiteLine(site: ConfirmedSite, lines: string[] | undefined): number | undefined {
  if (site.text === undefined || !lines) return site.line;
  if (lines[site.line]?.trim() === site.text) return site.line;
  if (site.text === '') return undefined;
  for (let d = 1; d <= FOLLOW_LINES; d++) {
    if (lines[site.line - d]?.trim() === site.text) return site.line - d;
    if (lines[site.line + d]?.trim() === site.text) return site.line + d;
  }
  return undefined;
}

/**
 * The diagnostics with those confirmed by the run marked (pure). A LeakLens diagnostic is
 * confirmed when a confirmed site lies on one of its lines (an unclosed resource's lines confirm
 * only LL101, LL103 and LL104), or when its `data.subject` (set by LL301/LL302/LL303/LL401: the
 * global, class attribute or method it is about) is a name that grew. The message text is never
 * searched for names.
 */
export function markConfirmed(diagnostics: Diagnostic[], confirmations: Confirmations | undefined, text: string | undefined): Diagnostic[] {
  if (!confirmations || (!confirmations.sites.length && !confirmations.names.length)) return diagnostics;
  const lines = text === undefined ? undefined : text.split(/\r\n|\r|\n/);
  const sites = confirmations.sites
    .map((site) => ({ site, line: resolveSiteLine(site, lines) }))
    .filter((s): s is { site: ConfirmedSite; line: number } => s.line !== undefined);
  return diagnostics.map((d) => {
    if (d.source !== 'leaklens') return d;
    const { start, end } = d.range;
    const last = end.character === 0 && end.line > start.line ? end.line - 1 : end.line;
    const code = String(d.code);
    const onLine = sites.find((s) => s.line >= start.line && s.line <= last && (s.site.kind !== 'resource' || CONFIRMED_BY_RESOURCES.includes(code)));
    let summary = onLine?.site.summary;
    const message = typeof d.message === 'string' ? d.message : d.message.value;
    const data = d.data && typeof d.data === 'object' ? (d.data as Record<string, unknown>) : {};
    const subject = subjectName(data.subject);
    if (!summary && subject !== undefined) summary = confirmations.names.find((n) => n.name === subject)?.summary;
    if (!summary) return d;
    return { ...d, message: `${message}${CONFIRMED_SUFFIX}${summary}`, data: { ...data, confirmed: true, runtime: summary } };
  });
}

/** The name in a diagnostic's `data.subject` (`{ kind, name }`), if it has a well-formed one. */
function subjectName(subject: unknown): string | undefined {
  if (!subject || typeof subject !== 'object') return undefined;
  const name = (subject as { name?: unknown }).name;
  return typeof name === 'string' && name ? name : undefined;
}

/** Confirmations per run key (`growth <target>`), merged per URI. */
export class RuntimeConfirmations {
  private readonly byKey = new Map<string, FileConfirmations[]>();

  /** Applies a notification; returns the URIs whose confirmations changed. */
  apply(params: RuntimeReportParams): string[] {
    const touched = new Set<string>();
    const drop = (key: string) => {
      for (const file of this.byKey.get(key) ?? []) touched.add(file.uri);
      this.byKey.delete(key);
    };
    if (params.key === CLEAR_ALL_KEY) for (const key of [...this.byKey.keys()]) drop(key);
    else drop(params.key);
    const files = (params.files ?? []).filter(validFile);
    if (params.key !== CLEAR_ALL_KEY && files.length) {
      this.byKey.set(params.key, files);
      for (const file of files) touched.add(file.uri);
    }
    return [...touched];
  }

  forUri(uri: string): Confirmations | undefined {
    const sites: ConfirmedSite[] = [];
    const names: ConfirmedName[] = [];
    for (const files of this.byKey.values()) {
      for (const file of files) {
        if (file.uri !== uri) continue;
        sites.push(...file.sites);
        names.push(...file.names);
      }
    }
    return sites.length || names.length ? { sites, names } : undefined;
  }

  get size(): number {
    return this.byKey.size;
  }
}

function validFile(file: FileConfirmations): boolean {
  return (
    !!file && typeof file.uri === 'string' && Array.isArray(file.sites) && Array.isArray(file.names) &&
    file.sites.every((s) => s && Number.isInteger(s.line) && s.line >= 0 && typeof s.summary === 'string') &&
    file.names.every((n) => n && typeof n.name === 'string' && typeof n.summary === 'string')
  );
}

function diskText(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? readFileSync(fileURLToPath(uri), 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the `leaklens/runtimeReport` handler and decorates every `sendDiagnostics` of the
 * connection. `textOf` gives an open document's text (else the file on disk is read, only for a
 * URI that has confirmations).
 */
export function attachRuntimeConfirmations(connection: Connection, textOf: (uri: string) => string | undefined): RuntimeConfirmations {
  // Attaching twice would decorate twice: the second call gets the first store.
  const attached = (connection as unknown as Record<symbol, RuntimeConfirmations | undefined>)[ATTACHED];
  if (attached) return attached;
  const store = new RuntimeConfirmations();
  (connection as unknown as Record<symbol, RuntimeConfirmations>)[ATTACHED] = store;
  // The last publication per URI, undecorated, to re-send when confirmations change. Only URIs
  // with diagnostics are kept (an empty list has nothing to confirm).
  const last = new Map<string, PublishDiagnosticsParams>();
  const send = connection.sendDiagnostics.bind(connection);
  const decorate = (params: PublishDiagnosticsParams): PublishDiagnosticsParams => {
    const confirmations = store.forUri(params.uri);
    if (!confirmations) return params;
    const text = textOf(params.uri) ?? diskText(params.uri);
    return { ...params, diagnostics: markConfirmed(params.diagnostics, confirmations, text) };
  };
  connection.sendDiagnostics = (params: PublishDiagnosticsParams) => {
    if (params.diagnostics.length) last.set(params.uri, params);
    else last.delete(params.uri);
    try {
      return send(decorate(params));
    } catch (err) {
      connection.console.error(`runtime confirmations failed for ${params.uri}: ${(err as Error).stack ?? err}`);
      return send(params);
    }
  };
  connection.onNotification(RUNTIME_REPORT_NOTIFICATION, (params: RuntimeReportParams) => {
    try {
      if (!params || typeof params.key !== 'string') return;
      for (const uri of store.apply(params)) {
        const previous = last.get(uri);
        if (previous) void send(decorate(previous));
      }
    } catch (err) {
      connection.console.error(`${RUNTIME_REPORT_NOTIFICATION} failed: ${(err as Error).stack ?? err}`);
    }
  });
  return store;
}
