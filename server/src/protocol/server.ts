// The language server: the only code that knows LSP and the connection. It keeps open
// documents (text + incremental tree), runs the analyzer after changes, publishes versioned
// diagnostics and answers code actions statelessly from the data carried by each diagnostic.
import {
  CodeAction,
  CodeActionKind,
  CodeActionParams,
  Connection,
  createConnection,
  Diagnostic,
  DidChangeConfigurationNotification,
  DataCallback,
  ErrorCodes,
  InitializeParams,
  InitializeResult,
  Message,
  MessageReader,
  RequestMessage,
  ResponseError,
  ResponseMessage,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  TextDocumentSyncKind,
  TextEdit,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { AnalysisResult, Analyzer, AnalyzedFinding } from '../analysis/engine';
import type { AnalysisOptions } from '../analysis/types';
import { isWasmTrap } from '../parsing/grammar';
import { analyzeIncrementally, movedWithoutParse } from '../analysis/incremental';
import { withFileLineBreaks } from '../analysis/indentation';
import { describeGenerated } from '../analysis/generated';
import { DEFAULT_MAX_FILE_SIZE, isStub, STUB_REASON } from '../workspace/files';
import { version } from '../version';
import { FIX_ALL_KIND, fixAllEdit, toDiagnostic, DiagnosticData } from './convert';
import { OpenDocument } from './documents';
import type { PendingText } from './pending-text';
import { NOTEBOOK_SELECTOR, NotebookSync } from './notebooks';
import { attachRuntimeConfirmations } from './runtime';
import { Workspace } from './workspace';

/** Advertised in executeCommandProvider; the editor's "Scan Workspace" command sends it. */
export const SCAN_COMMAND = 'leaklens.server.scanWorkspace';

/** Typing pause after which an incrementally analysed document gets its whole-file analysis. */
export const SETTLE_DELAY_MS = 300;
/** Documents shorter than this (≈ 500 lines) are analysed whole on every change. */
export const INCREMENTAL_MIN_CHARS = 20_000;
/** The longest a document goes on with incremental results while typing never pauses. */
export const MAX_UNSETTLED_MS = 2000;

let shutdownRequested = false;

/**
 * TEST ONLY: LEAKLENS_TEST_KEYSTROKE=log says in the log, for each publish of a document long
 * enough for incremental analysis, whether it parsed (`… version N parsed`) or was published
 * without a parse (`… version N moved without a parse`); `verify` also parses after each of the
 * latter and logs an error unless the incremental step on that tree gives the same findings.
 */
const KEYSTROKE_TEST = process.env.LEAKLENS_TEST_KEYSTROKE;

/**
 * The largest message body the server reads (bytes). A Content-Length over it is taken as a
 * broken header, as a missing one is: buffering 2^53 bytes would leave the server deaf for ever.
 * 20 MB documents are refused by max-file-size long before; their JSON is well under this.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** Says why the client's stream cannot be read any further, and exits so that the editor restarts the server. */
function unreadable(text: string): never {
  process.stderr.write(`leaklens: unreadable message header from the client (${text.split('\n')[0]}); exiting so the editor can restart the server\n`);
  process.exit(2);
}

/**
 * Follows the framing of the client's byte stream beside the library's reader, only to see each
 * header's Content-Length before the reader starts buffering that many bytes.
 */
class FrameWatcher {
  private header = '';
  private body = 0;
  constructor(private readonly max: number) {}

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.body > 0) {
        const take = Math.min(this.body, chunk.length - at);
        this.body -= take;
        at += take;
        continue;
      }
      // A header, possibly split across chunks (latin1: one character per byte, so lengths match).
      const piece = chunk.toString('latin1', at, Math.min(chunk.length, at + 8192));
      const joined = this.header + piece;
      const end = joined.indexOf('\r\n\r\n');
      if (end === -1) {
        this.header = joined.slice(-8192); // a header is a few dozen bytes; never hold more
        at += piece.length;
        continue;
      }
      at += end + 4 - this.header.length;
      this.header = '';
      this.check(joined.slice(0, end));
    }
  }

  private check(header: string): void {
    const m = /^content-length:[ \t]*(\S+)/im.exec(header);
    if (!m) return; // the library's reader reports it
    const length = Number(m[1]);
    if (!Number.isFinite(length)) return;
    if (length > this.max) unreadable(`Content-Length ${m[1]} is over the maximum message size of ${this.max} bytes`);
    this.body = length;
  }
}

const INVALID_REQUEST = -32600;

/**
 * The client's messages as the server sees them, with LSP's life-cycle rules applied before any
 * handler runs: a second `initialize`, and any request after `shutdown`, get InvalidRequest
 * (the library would answer them normally).
 */
function lifeCycleReader(inner: MessageReader, writer: StreamMessageWriter): MessageReader {
  let initialized = false;
  let shutdown = false;
  const refuse = (id: number | string | null, message: string) => void writer.write({ jsonrpc: '2.0', id, error: { code: INVALID_REQUEST, message } } as ResponseMessage);
  return {
    onError: inner.onError,
    onClose: inner.onClose,
    onPartialMessage: inner.onPartialMessage,
    dispose: () => inner.dispose(),
    listen: (callback: DataCallback) =>
      inner.listen((message: Message) => {
        const request = message as RequestMessage;
        if (typeof request.method === 'string' && request.id !== undefined) {
          if (shutdown) return refuse(request.id, `the server is shutting down: ${request.method} after shutdown`);
          if (request.method === 'initialize') {
            if (initialized) return refuse(request.id, 'initialize was already received; a server is initialized once');
            initialized = true;
          }
          if (request.method === 'shutdown') shutdown = true;
        }
        callback(message);
      }),
  };
}

/**
 * The connection over standard input and output. A message whose header is unreadable (no, a bad
 * or an absurd Content-Length) leaves the stream without framing, so nothing after it can be
 * read: the server says so and exits, and the editor restarts it, instead of running on deaf.
 * (A bad body under a good header costs only that message.) The input's end exits too, as the
 * library's own stream connection does.
 */
export function stdioConnection(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): Connection {
  const watcher = new FrameWatcher(maxMessageBytes);
  process.stdin.on('data', (chunk: Buffer) => watcher.feed(chunk));
  const reader = new StreamMessageReader(process.stdin);
  reader.onError((error) => {
    const text = error instanceof Error ? error.message : String(error);
    if (!/Content-Length|message header|so many bytes/i.test(text)) return;
    unreadable(text);
  });
  const ended = () => process.exit(shutdownRequested ? 0 : 1);
  process.stdin.on('end', ended);
  process.stdin.on('close', ended);
  const writer = new StreamMessageWriter(process.stdout);
  return createConnection(ProposedFeatures.all, lifeCycleReader(reader, writer), writer);
}

/**
 * A position from the client as LSP defines it (whole numbers; values past the end are clamped
 * by the text document, negative ones to 0), or a description of what is wrong with it.
 */
function badPosition(p: unknown, where: string): string | undefined {
  if (!p || typeof p !== 'object') return `${where} is not a position`;
  for (const key of ['line', 'character'] as const) {
    const v = (p as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) return `${where}.${key} is ${JSON.stringify(v) ?? 'missing'}, not a whole number`;
  }
  return undefined;
}

/** Where a (whole-number) range reaches outside the document's text, or undefined. */
function outsideText(view: PendingText, range: { start: { line: number; character: number }; end: { line: number; character: number } }, where: string): string | undefined {
  for (const [name, p] of [['start', range.start], ['end', range.end]] as const) {
    if (p.line < 0 || p.character < 0) return `${where}.${name} is negative (${p.line}:${p.character})`;
    if (p.line >= view.lineCount) return `${where}.${name} is on line ${p.line}, past the last line (${view.lineCount - 1})`;
    const length = view.lineLength(p.line);
    if (p.character > length) return `${where}.${name} is at character ${p.character} of a line of ${length}`;
  }
  return undefined;
}

function badRange(r: unknown, where: string): string | undefined {
  if (!r || typeof r !== 'object') return `${where} is not a range`;
  const { start, end } = r as { start?: unknown; end?: unknown };
  return badPosition(start, `${where}.start`) ?? badPosition(end, `${where}.end`);
}

export function startServer(connection: Connection = stdioConnection()): void {
  let analyzer: Analyzer | undefined;
  const documents = new Map<string, OpenDocument>();
  const pending = new Set<string>();
  let flushing = false;
  /** How many times schedule() ran: whenQuiet() waits until a turn passes without one. */
  let scheduled = 0;
  let capabilities: InitializeParams['capabilities'] | undefined;
  const log = (message: string) => connection.console.log(message);
  /** Open documents already logged as not analysed (stub, generated): said once, not per keystroke. */
  const notAnalysedLogged = new Map<string, string>();
  const logNotAnalysed = (uri: string, reason: string) => {
    if (notAnalysedLogged.get(uri) === reason) return;
    notAnalysedLogged.set(uri, reason);
    log(`not analysed ${uri}: ${reason}`);
  };
  // Static findings confirmed by a run-time check (protocol/runtime.ts): every publication below
  // goes through it and gets marked.
  attachRuntimeConfirmations(connection, (uri) => documents.get(uri)?.lsp.getText());
  const workspace: Workspace = new Workspace(
    connection,
    () => analyzer,
    // An open notebook is open under its file URI (its cells are published on their own).
    (uri): boolean => documents.has(uri) || notebooks.isOpen(uri),
    () => !!capabilities?.workspace?.configuration,
    () => !!capabilities?.window?.workDoneProgress,
    // A file from disk trapped on this thread (no worker could start): the same recovery.
    () => recoverFromTrap(undefined, new Error('in a file analysed from disk')),
  );
  // Jupyter notebooks through notebook document sync (protocol/notebooks.ts). An opened notebook's
  // disk diagnostics (on its file URI, from the workspace scan) are cleared: its cells' take over.
  const notebooks: NotebookSync = new NotebookSync(
    connection,
    () => analyzer,
    (uri) => workspace.settingsFor(uri),
    (uri) => schedule(uri),
    (uri) => workspace.clear(uri),
    (uri) => {
      pending.delete(uri);
      return workspace.onClosed(uri);
    },
  );

  /** The LEAKLENS_TEST_KEYSTROKE hook for a publish without a parse (see above). */
  function keystrokeTest(doc: OpenDocument, findings: AnalyzedFinding[], options: AnalysisOptions): void {
    log(`keystroke test: ${doc.uri} version ${doc.version} moved without a parse`);
    if (KEYSTROKE_TEST !== 'verify' || !analyzer) return;
    const parsed = doc.parsedDocument!;
    const tree = parsed.tree;
    if (!tree) return void connection.console.error(`keystroke test: ${doc.uri} version ${doc.version}: the parse ran out of its budget`);
    const step = analyzeIncrementally(analyzer, tree, parsed.parsedText, options, doc.previous, parsed.pendingChanges);
    if (!step) return void connection.console.error(`keystroke test: ${doc.uri} version ${doc.version}: the incremental step would analyse the whole file`);
    const want = JSON.stringify(step.findings);
    if (JSON.stringify(findings) !== want) connection.console.error(`keystroke test: ${doc.uri} version ${doc.version}: published ${JSON.stringify(findings)}, the incremental step gives ${want}`);
  }

  async function publish(doc: OpenDocument): Promise<void> {
    if (!analyzer) return;
    const { settings } = await workspace.settingsFor(doc.uri);
    // The document may have changed or closed while settings were fetched: analyse what is current.
    if (documents.get(doc.uri) !== doc) return;
    doc.setMaxFileSize(settings.maxFileSize);
    const parsed = doc.parsedDocument;
    if (isStub(doc.uri)) {
      logNotAnalysed(doc.uri, STUB_REASON);
      void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: [] });
      return;
    }
    if (doc.trapped) return; // reported when it trapped; analysed again once it changes
    if (doc.tooLarge) {
      log(`skipped ${doc.uri}: larger than max-file-size (${doc.maxFileSize} bytes)`);
      void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: [] });
      return;
    }
    const options = settings.options;
    const now = performance.now();
    // A keystroke whose result is known without parsing (analysis/incremental.ts
    // movedWithoutParse): the previous findings moved by the edits, published now; the parse waits
    // for the pause or the next reader of the tree. doc.previous stays the base of the edits
    // still unparsed (takeChanges returns them all later), so no edit moves a finding twice.
    if (parsed?.parsePending && parsed.parsedText.length >= INCREMENTAL_MIN_CHARS && (doc.unsettledSince === undefined || now - doc.unsettledSince <= MAX_UNSETTLED_MS)) {
      const moved = movedWithoutParse(analyzer, parsed.parsedText, options, doc.previous, parsed.pendingChanges, doc.quiet, parsed.editedTree);
      doc.quiet = moved.quiet;
      if (moved.findings) {
        if (KEYSTROKE_TEST) keystrokeTest(doc, moved.findings, options);
        doc.settled = false;
        doc.unsettledSince ??= now;
        if (doc.settleTimer) clearTimeout(doc.settleTimer);
        doc.settleTimer = setTimeout(() => settle(doc), SETTLE_DELAY_MS);
        void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: moved.findings!.map((f) => toDiagnostic(f, doc.lsp, true)) });
        return;
      }
    }
    const tree = parsed?.tree;
    if (KEYSTROKE_TEST && tree) log(`keystroke test: ${doc.uri} version ${doc.version} parsed`);
    if (!tree) {
      connection.console.error(`not analysed ${doc.uri}: the parse ran out of its work budget (${parsed?.budgetExceeded ?? 'unknown'}); previous diagnostics kept`);
      return;
    }
    const changes = parsed!.takeChanges();
    // A factory name just found in this very text stays where it is for the next record of changes.
    const quiet = doc.quiet;
    if (changes && quiet?.witness !== undefined && quiet.changes === changes && quiet.checked === changes.edits.length) {
      doc.quiet = parsed!.pendingChanges && { ...quiet, changes: parsed!.pendingChanges, checked: 0 };
    }
    // While typing, only the edited function is analysed again (or nothing, when the change
    // reaches further); the whole file is analysed once typing pauses (settle), or when typing
    // has gone on for MAX_UNSETTLED_MS without one.
    // Small documents get a whole-file analysis on every change: it costs a few milliseconds.
    let step = parsed!.parsedText.length < INCREMENTAL_MIN_CHARS ? undefined : analyzeIncrementally(analyzer, tree, parsed!.parsedText, options, doc.previous, changes);
    if (step && doc.unsettledSince !== undefined && now - doc.unsettledSince > MAX_UNSETTLED_MS) step = undefined;
    const settled = !step;
    const result: AnalysisResult = step ?? analyzer.analyzeTree(tree, parsed!.parsedText, options);
    doc.unsettledSince = settled ? undefined : (doc.unsettledSince ?? now);
    if (result.skipReason) log(`not analysed ${doc.uri}: ${result.skipReason}`);
    if (result.generated) logNotAnalysed(doc.uri, `${describeGenerated(result.generated)}; leaklens.includeGenerated (include-generated = true) analyses it`);
    else notAnalysedLogged.delete(doc.uri);
    for (const failure of result.ruleFailures ?? []) connection.console.error(`rule failed on ${doc.uri}: ${failure}`);
    doc.previous = result.skipped ? undefined : { findings: result.findings, options, topLevelCount: tree.rootNode.namedChildCount, imports: result.imports };
    doc.settled = settled;
    if (doc.settleTimer) clearTimeout(doc.settleTimer);
    doc.settleTimer = settled ? undefined : setTimeout(() => settle(doc), SETTLE_DELAY_MS);
    const diagnostics: Diagnostic[] = result.findings.map((f) => toDiagnostic(f, doc.lsp, !settled));
    void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
  }

  /**
   * The whole-file analysis after incremental ones, published with the same version. Returns the
   * findings now published, or undefined when the document cannot be analysed.
   */
  function settle(doc: OpenDocument): AnalyzedFinding[] | undefined {
    if (doc.settleTimer) clearTimeout(doc.settleTimer);
    doc.settleTimer = undefined;
    if (documents.get(doc.uri) !== doc || !analyzer) return undefined;
    if (doc.settled) return doc.previous?.findings;
    const parsed = doc.parsedDocument;
    const options = doc.previous?.options;
    try {
      // Reading the tree parses edits not parsed yet (and may trap, as any parse may).
      const unparsed = parsed?.parsePending;
      const tree = parsed?.tree;
      // A keystroke published without parsing (movedWithoutParse) leaves this parse to here.
      if (unparsed && !tree) connection.console.error(`not analysed ${doc.uri}: the parse ran out of its work budget (${parsed.budgetExceeded ?? 'unknown'}); previous diagnostics kept`);
      if (!tree || !options) return undefined;
      parsed!.takeChanges();
      const result = analyzer.analyzeTree(tree, parsed!.parsedText, options);
      if (result.skipReason) log(`not analysed ${doc.uri}: ${result.skipReason}`);
      for (const failure of result.ruleFailures ?? []) connection.console.error(`rule failed on ${doc.uri}: ${failure}`);
      doc.previous = result.skipped ? undefined : { findings: result.findings, options, topLevelCount: tree.rootNode.namedChildCount, imports: result.imports };
      doc.settled = true;
      doc.unsettledSince = undefined;
      // Re-published even when unchanged: the diagnostics lose their provisional mark.
      void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: result.findings.map((f) => toDiagnostic(f, doc.lsp)) });
      return result.findings;
    } catch (err) {
      if (isWasmTrap(err)) void recoverFromTrap(doc.uri, err);
      else connection.console.error(`analysis of ${doc.uri} failed: ${(err as Error).stack ?? err}`);
      return undefined;
    }
  }

  /** Analyses every document changed since the last turn, at its newest version only. */
  function schedule(uri: string): void {
    pending.add(uri);
    scheduled++;
    if (flushing) return;
    flushing = true;
    whenQuiet(flush);
  }

  /**
   * Runs `fn` once a turn of the event loop has gone by without a `schedule()`. The JSON-RPC
   * connection handles one queued message per turn, so a burst of pipelined changes is applied in
   * full (text and `tree.edit` only) before one parse and one analysis of its last version. A lone
   * keystroke waits two turns (microseconds). Not a timer: a timer waits at least a millisecond.
   */
  function whenQuiet(fn: () => void): void {
    const seen = scheduled;
    setImmediate(() => setImmediate(() => (scheduled === seen ? fn() : whenQuiet(fn))));
  }

  async function flush(): Promise<void> {
    try {
      const uris = [...pending];
      pending.clear();
      for (const u of uris) {
        const doc = documents.get(u);
        if (!doc && !notebooks.isOpen(u)) continue;
        try {
          await (doc ? publish(doc) : notebooks.publish(u));
        } catch (err) {
          if (isWasmTrap(err)) {
            await recoverFromTrap(u, err);
            continue;
          }
          connection.console.error(`analysis of ${u} failed: ${(err as Error).stack ?? err}`);
        }
      }
    } finally {
      flushing = false;
      // Changes that came in while analysing: once they have all been applied.
      if (pending.size) {
        flushing = true;
        whenQuiet(flush);
      }
    }
  }

  /** Set while the WebAssembly runtime is recreated after a trap; handlers wait for it, in arrival order. */
  let recovering: Promise<void> | undefined;

  /**
   * After a WebAssembly trap: the module may be corrupt, so every tree goes, the runtime and the
   * analyzer are recreated, and every open document is parsed and analysed again — except the
   * one whose text trapped, which is reported and left unanalysed until it changes.
   */
  function recoverFromTrap(uri: string | undefined, err: unknown): Promise<void> {
    const message = (err as Error).message;
    const doc = uri ? documents.get(uri) : undefined;
    if (uri) connection.console.error(`not analysed ${uri}: WebAssembly trap (${message}); the parser runtime is recreated for the other documents`);
    if (doc) {
      doc.trapped = message;
      void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: [] });
    }
    if (recovering) return recovering;
    const old = analyzer;
    if (!old) return Promise.resolve();
    analyzer = undefined;
    for (const d of documents.values()) d.dropTree();
    recovering = (async () => {
      try {
        analyzer = await old.recreate();
        log('the WebAssembly runtime was recreated after a trap');
      } catch (e) {
        connection.console.error(`cannot recreate the parser after a trap: ${(e as Error).message}`);
        return;
      } finally {
        recovering = undefined;
      }
      for (const d of documents.values()) {
        try {
          d.rebuild(analyzer.language);
          if (!d.trapped) schedule(d.uri);
        } catch (e) {
          if (!isWasmTrap(e)) throw e;
          void recoverFromTrap(d.uri, e);
          return;
        }
      }
      for (const uri of notebooks.uris()) schedule(uri);
    })();
    return recovering;
  }

  function guarded<P, R>(name: string, fallback: R, handler: (params: P) => R | Promise<R>): (params: P) => Promise<R> {
    return async (params: P) => {
      if (recovering) await recovering;
      try {
        return await handler(params);
      } catch (err) {
        if (err instanceof ResponseError) throw err; // a deliberate answer, e.g. invalid parameters
        if (isWasmTrap(err)) {
          await recoverFromTrap((params as { textDocument?: { uri?: string } } | undefined)?.textDocument?.uri, err);
          return fallback;
        }
        connection.console.error(`${name} failed: ${(err as Error).stack ?? err}`);
        return fallback;
      }
    };
  }

  let initializeReceived = false;
  connection.onInitialize(async (params): Promise<InitializeResult> => {
    // A second initialize would replace (and leak) the analyzer and reset the workspace.
    if (initializeReceived) throw new ResponseError(INVALID_REQUEST, 'initialize was already received; a server is initialized once', { retry: false });
    initializeReceived = true;
    capabilities = params.capabilities;
    workspace.setFolders(params.workspaceFolders, params.rootUri);
    workspace.setInitialSettings(params.initializationOptions);
    analyzer = await Analyzer.create();
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        notebookDocumentSync: { notebookSelector: NOTEBOOK_SELECTOR, save: true },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND], resolveProvider: false },
        executeCommandProvider: { commands: [SCAN_COMMAND] },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'leaklens', version },
    };
  });

  connection.onInitialized(() => {
    if (capabilities?.workspace?.didChangeConfiguration?.dynamicRegistration) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: 'leaklens' });
    }
    if (capabilities?.workspace?.workspaceFolders) {
      connection.workspace.onDidChangeWorkspaceFolders((event) => {
        const kept = workspace.folders.filter((f) => !event.removed.some((r) => r.uri === f.uri)).map((f) => ({ uri: f.uri, name: f.path }));
        workspace.setFolders([...kept, ...event.added]);
        workspace.invalidate();
        void workspace.scan();
      });
    }
    void workspace.scan().catch((err) => connection.console.error(`workspace scan failed: ${(err as Error).stack ?? err}`));
  });

  connection.onDidChangeConfiguration(
    guarded('didChangeConfiguration', undefined, async () => {
      workspace.invalidate();
      for (const uri of [...documents.keys(), ...notebooks.uris()]) schedule(uri);
      // Settings that leave the folders, excludes and base alike cannot change the file set.
      await workspace.scan({ reuseWalk: true });
    }),
  );

  connection.onDidChangeWatchedFiles(guarded('didChangeWatchedFiles', undefined, ({ changes }) => workspace.onWatchedFiles(changes)));

  connection.onExecuteCommand(
    guarded('executeCommand', undefined, async ({ command }) => {
      if (command === SCAN_COMMAND) {
        workspace.invalidate();
        for (const uri of [...documents.keys(), ...notebooks.uris()]) schedule(uri);
        await workspace.scan();
      }
    }),
  );

  connection.onDidOpenTextDocument(
    guarded('didOpen', undefined, ({ textDocument }) => {
      if (!analyzer) return;
      documents.get(textDocument.uri)?.dispose();
      const lsp = TextDocument.create(textDocument.uri, textDocument.languageId, textDocument.version, textDocument.text);
      const doc = new OpenDocument(analyzer.language, lsp, DEFAULT_MAX_FILE_SIZE);
      documents.set(textDocument.uri, doc);
      doc.reparse();
      schedule(textDocument.uri);
    }),
  );

  connection.onDidChangeTextDocument(
    guarded('didChange', undefined, ({ textDocument, contentChanges }) => {
      const doc = documents.get(textDocument.uri);
      if (!doc) {
        log(`ignored a change to ${textDocument.uri}, which is not open`);
        return;
      }
      const bad = Array.isArray(contentChanges)
        ? contentChanges
            .map((c, i) => (!c || typeof c !== 'object' ? `contentChanges[${i}] is not a change` : typeof c.text !== 'string' ? `contentChanges[${i}] has no text` : 'range' in c ? badRange(c.range, `contentChanges[${i}].range`) : undefined))
            .find(Boolean)
        : 'contentChanges is not a list';
      if (bad) {
        // Applying part of it, or a guess, would leave this text out of step with the editor's.
        connection.console.error(`ignored a change to ${textDocument.uri}: ${bad}`);
        return;
      }
      // Whole numbers past the text (or negative) are clamped, as LSP says; the log says so.
      const outside = contentChanges.map((c, i) => ('range' in c ? outsideText(doc.view(), c.range, `contentChanges[${i}].range`) : undefined)).find(Boolean);
      if (outside) log(`a change to ${textDocument.uri}: ${outside}; clamped to the text as LSP specifies`);
      if (textDocument.version !== null && textDocument.version <= doc.version) {
        log(`ignored an out-of-order change to ${textDocument.uri} (version ${textDocument.version} after ${doc.version})`);
        return;
      }
      doc.applyChanges(contentChanges, textDocument.version ?? doc.version + 1);
      schedule(textDocument.uri);
    }),
  );

  connection.onDidCloseTextDocument(
    guarded('didClose', undefined, ({ textDocument }) => {
      const doc = documents.get(textDocument.uri);
      if (!doc) return;
      doc.dispose();
      documents.delete(textDocument.uri);
      pending.delete(textDocument.uri);
      notAnalysedLogged.delete(textDocument.uri);
      return workspace.onClosed(textDocument.uri);
    }),
  );

  connection.onCodeAction(
    guarded('codeAction', [] as CodeAction[], async (params: CodeActionParams): Promise<CodeAction[]> => {
      const bad = badRange(params.range, 'range');
      if (bad) throw new ResponseError(ErrorCodes.InvalidParams, `codeAction: ${bad}`);
      const only = params.context.only;
      const wants = (kind: string) => !only || only.some((k) => kind === k || kind.startsWith(k + '.'));
      // A cell of an open notebook: its fixes are edits of the notebook's cells.
      const inNotebook = await notebooks.codeActions(params, wants);
      if (inNotebook) return inNotebook;
      const doc = documents.get(params.textDocument.uri);
      if (!doc || !analyzer) return [];
      const actions: CodeAction[] = [];
      const versioned = (edits: TextEdit[]) => ({
        documentChanges: [{ textDocument: { uri: doc.uri, version: doc.version }, edits }],
      });
      if (wants(CodeActionKind.QuickFix)) {
        for (const diagnostic of params.context.diagnostics) {
          if (diagnostic.source !== 'leaklens') continue;
          if (badRange(diagnostic.range, 'diagnostic.range')) continue;
          let data = diagnostic.data as DiagnosticData | undefined;
          if (!data || data.version !== doc.version) continue; // stale: the diagnostic will be re-published
          if (data.provisional) {
            // Published while typing: take the fixes from the whole-file analysis of this version.
            const start = doc.lsp.offsetAt(diagnostic.range.start);
            const end = doc.lsp.offsetAt(diagnostic.range.end);
            const fresh = settle(doc)?.find((f) => f.code === diagnostic.code && f.start === start && f.end === end);
            if (!fresh) continue;
            data = { version: doc.version, fixes: fresh.fixes, ignore: fresh.ignore };
          }
          const range = (e: { start: number; end: number; text: string }): TextEdit => ({
            range: { start: doc.lsp.positionAt(e.start), end: doc.lsp.positionAt(e.end) },
            newText: e.text,
          });
          const original = doc.lsp.getText();
          for (const fix of data.fixes.map((f) => withFileLineBreaks(original, f))) {
            actions.push({
              title: fix.safety === 'safe' ? fix.title : `${fix.title} (unsafe)`,
              kind: CodeActionKind.QuickFix,
              diagnostics: [diagnostic],
              isPreferred: fix.safety === 'safe',
              edit: versioned(fix.edits.map(range)),
            });
          }
          if (data.ignore) {
            actions.push({
              title: `Ignore ${diagnostic.code} on this line`,
              kind: CodeActionKind.QuickFix,
              diagnostics: [diagnostic],
              edit: versioned([range(data.ignore)]),
            });
          }
        }
      }
      if (only && wants(FIX_ALL_KIND) && !isStub(doc.uri)) {
        const { settings } = await workspace.settingsFor(doc.uri);
        if (documents.get(doc.uri) !== doc) return actions;
        const edit = fixAllEdit(analyzer, doc.lsp, settings.options);
        if (edit) actions.push({ title: 'Fix all LeakLens findings (safe fixes)', kind: FIX_ALL_KIND, edit: versioned([edit]) });
      }
      return actions;
    }),
  );

  connection.onShutdown(() => {
    shutdownRequested = true;
    // Stop the scan's worker threads now, not only when the process exits.
    void workspace.dispose();
    for (const doc of documents.values()) doc.dispose();
    documents.clear();
    analyzer?.dispose();
    analyzer = undefined;
  });

  connection.listen();
}
