// A small, real LSP client: spawns the bundled server (dist/leaklens.js server --stdio) and
// talks JSON-RPC to it over stdio with vscode-jsonrpc. Every wait is bounded; nothing sleeps.
import { ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import type {
  CodeAction,
  CodeActionContext,
  Command,
  Diagnostic,
  InitializeResult,
  LogMessageParams,
  PublishDiagnosticsParams,
  Range,
  TextDocumentContentChangeEvent,
  TextEdit,
} from 'vscode-languageserver';

export const ROOT = join(__dirname, '..', '..', '..');
export const SERVER = join(ROOT, 'dist', 'leaklens.js');

/** Default bound for any wait on the server. Generous: CI machines are slow, but never infinite. */
export const DEFAULT_TIMEOUT_MS = 15_000;

let uriCounter = 0;
/** A fresh, unique file URI (the file need not exist: open documents win over disk). */
export function freshUri(name = 'doc'): string {
  uriCounter++;
  return pathToFileURL(join(tmpdir(), 'leaklens-lsp-test', `${name}-${process.pid}-${uriCounter}.py`)).toString();
}

/** Rejects with `message` if `promise` has not settled after `ms`. Clears its timer either way. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Waiter {
  uri: string;
  predicate: (p: PublishDiagnosticsParams) => boolean;
  resolve: (p: PublishDiagnosticsParams) => void;
}

export class LspClient {
  readonly connection: MessageConnection;
  /** Every publishDiagnostics received, per URI, in arrival order. */
  readonly published = new Map<string, PublishDiagnosticsParams[]>();
  /** window/logMessage and window/showMessage texts, for failure messages. */
  readonly logs: string[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;
  private waiters: Waiter[] = [];
  private logWaiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  private connectionErrors: string[] = [];
  /** Answers workspace/configuration: the `leaklens` settings for a scope URI (null: none set). */
  settings: (scopeUri: string | undefined) => unknown = () => null;
  /** Every $/progress value, in arrival order. */
  readonly progress: Array<{ kind: string; message?: string; percentage?: number; title?: string }> = [];

  private constructor(readonly proc: ChildProcess) {
    this.connection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // Writes after the server died must not crash the test process.
    proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
    });
    this.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      let list = this.published.get(params.uri);
      if (!list) this.published.set(params.uri, (list = []));
      list.push(params);
      this.waiters = this.waiters.filter((w) => {
        if (w.uri !== params.uri || !w.predicate(params)) return true;
        w.resolve(params);
        return false;
      });
    });
    const TYPES = ['', 'error', 'warning', 'info', 'log', 'debug'];
    const addLog = (line: string) => {
      this.logs.push(line);
      this.logWaiters = this.logWaiters.filter((w) => {
        if (!w.pattern.test(line)) return true;
        w.resolve(line);
        return false;
      });
    };
    this.connection.onNotification('window/logMessage', (p: LogMessageParams) => {
      addLog(`[${TYPES[p.type] ?? p.type}] ${p.message}`);
    });
    this.connection.onNotification('window/showMessage', (p: LogMessageParams) => {
      addLog(`[showMessage] ${p.message}`);
    });
    // Requests the server may make of a client; answer them like a minimal editor would.
    this.connection.onRequest('window/workDoneProgress/create', () => null);
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('client/unregisterCapability', () => null);
    this.connection.onRequest('workspace/configuration', (p: { items: Array<{ scopeUri?: string; section?: string }> }) =>
      p.items.map((item) => (item.section === 'leaklens' ? this.settings(item.scopeUri) : null)),
    );
    this.connection.onNotification('$/progress', (p: { value: { kind: string; message?: string; percentage?: number; title?: string } }) => {
      this.progress.push(p.value);
    });
    this.connection.onRequest('workspace/workspaceFolders', () => null);
    this.connection.onError(([error]) => {
      this.connectionErrors.push(String(error));
    });
    this.connection.listen();
  }

  /** Spawns the server; call initialize() next (or use startServer()). */
  /** Spawns the server as vscode-languageclient does (it always adds --clientProcessId). */
  /** `options.env`: extra environment (test-only knobs); `options.args`: extra server arguments. */
  static spawn(options: { env?: Record<string, string>; args?: string[] } = {}): LspClient {
    const proc = spawn(process.execPath, [SERVER, 'server', '--stdio', `--clientProcessId=${process.pid}`, ...(options.args ?? [])], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ? { ...process.env, ...options.env } : process.env,
    });
    return new LspClient(proc);
  }

  /** Spawns another server entry point (a test harness script and its arguments) the same way. */
  static spawnScript(script: string, args: string[] = [], env?: Record<string, string>): LspClient {
    const proc = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    return new LspClient(proc);
  }

  /** Whether the server process is still running. */
  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** Text to attach to an assertion failure: what the server said and wrote to stderr. */
  describe(): string {
    const tail = (s: string) => (s.length > 2000 ? '…' + s.slice(-2000) : s);
    return [
      `server ${this.alive ? 'running' : `exited with ${this.exitCode}`}`,
      `logs:\n${tail(this.logs.join('\n'))}`,
      `stderr:\n${tail(this.stderr)}`,
      this.connectionErrors.length ? `connection errors: ${this.connectionErrors.join('; ')}` : '',
    ].join('\n');
  }

  /** Races a request (or any promise) against the server exiting and a timeout. */
  private bounded<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const died = this.exited.then(() => {
      throw new Error(`server exited (${this.exitCode}) while waiting for ${what}\n${this.describe()}`);
    });
    return withTimeout(Promise.race([promise, died]), timeoutMs, `${what}\n${this.describe()}`);
  }

  request<R>(method: string, params?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<R> {
    const sent = params === undefined ? this.connection.sendRequest<R>(method) : this.connection.sendRequest<R>(method, params);
    return this.bounded(sent, `response to ${method}`, timeoutMs);
  }

  notify(method: string, params?: unknown): Promise<void> {
    const sent = params === undefined ? this.connection.sendNotification(method) : this.connection.sendNotification(method, params);
    return this.bounded(sent, `sending ${method}`);
  }

  /** With `folders` (paths), behaves like an editor with a workspace: configuration, progress, folders. */
  /**
   * `settings`: the `initializationOptions.settings` to send. The tests exercise every rule, so by
   * default they ask for all of them (`select: ["ALL"]`; only LL101 is on by default); `null`
   * sends none, as an editor that leaves LeakLens at its defaults does.
   */
  async initialize(options: { folders?: string[]; settings?: Record<string, unknown> | null } = {}): Promise<InitializeResult> {
    const folders = options.folders?.map((path) => ({ uri: pathToFileURL(path).toString(), name: path }));
    const settings = options.settings === undefined ? { select: ['ALL'] } : options.settings;
    const result = await this.request<InitializeResult>('initialize', {
      processId: process.pid,
      ...(settings ? { initializationOptions: { settings } } : {}),
      rootUri: folders?.[0]?.uri ?? null,
      workspaceFolders: folders ?? null,
      capabilities: {
        ...(folders
          ? { window: { workDoneProgress: true } }
          : {}),
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { relatedInformation: true, versionSupport: true, codeDescriptionSupport: true, dataSupport: true },
          codeAction: {
            dataSupport: true,
            isPreferredSupport: true,
            codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'source', 'source.fixAll'] } },
          },
        },
        workspace: folders
          ? {
              workspaceEdit: { documentChanges: true },
              configuration: true,
              workspaceFolders: true,
              didChangeConfiguration: { dynamicRegistration: true },
              didChangeWatchedFiles: { dynamicRegistration: false },
            }
          : { workspaceEdit: { documentChanges: true } },
        general: { positionEncodings: ['utf-16'] },
      },
    });
    await this.notify('initialized', {});
    return result;
  }

  open(uri: string, text: string, version = 1, languageId = 'python'): Promise<void> {
    return this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, contentChanges: TextDocumentContentChangeEvent[]): Promise<void> {
    return this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
  }

  close(uri: string): Promise<void> {
    return this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  /**
   * Resolves with the first publishDiagnostics for `uri` matching `predicate`: the most recent
   * one already received if it matches, else the next matching one to arrive.
   */
  waitForDiagnostics(
    uri: string,
    predicate: (p: PublishDiagnosticsParams) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<PublishDiagnosticsParams> {
    const latest = this.lastPublished(uri);
    if (latest && predicate(latest)) return Promise.resolve(latest);
    let waiter: Waiter | undefined;
    const found = new Promise<PublishDiagnosticsParams>((resolve) => {
      waiter = { uri, predicate, resolve };
      this.waiters.push(waiter);
    });
    return this.bounded(found, `publishDiagnostics for ${uri} matching ${predicate.toString()}`, timeoutMs).finally(() => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }

  /** Resolves with the first log line (window/logMessage or showMessage, as in `logs`) matching `pattern`, already received or to come. */
  waitForLog(pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const seen = this.logs.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    let waiter: { pattern: RegExp; resolve: (line: string) => void } | undefined;
    const found = new Promise<string>((resolve) => {
      waiter = { pattern, resolve };
      this.logWaiters.push(waiter);
    });
    return this.bounded(found, `a log line matching ${pattern}`, timeoutMs).finally(() => {
      this.logWaiters = this.logWaiters.filter((w) => w !== waiter);
    });
  }

  /** Waits for diagnostics of exactly this document version. */
  diagnosticsFor(uri: string, version: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PublishDiagnosticsParams> {
    return this.waitForDiagnostics(uri, (p) => p.version === version, timeoutMs);
  }

  lastPublished(uri: string): PublishDiagnosticsParams | undefined {
    const list = this.published.get(uri);
    return list?.[list.length - 1];
  }

  codeAction(uri: string, range: Range, context: CodeActionContext): Promise<(CodeAction | Command)[] | null> {
    return this.request<(CodeAction | Command)[] | null>('textDocument/codeAction', { textDocument: { uri }, range, context });
  }

  /** Writes bytes straight to the server's stdin, bypassing the JSON-RPC writer. */
  writeRaw(bytes: string | Buffer): Promise<void> {
    return this.bounded(
      new Promise<void>((resolve, reject) => this.proc.stdin!.write(bytes, (err) => (err ? reject(err) : resolve()))),
      'raw write to the server',
    );
  }

  /** shutdown + exit, bounded; returns the process exit code. */
  async shutdown(timeoutMs = 5_000): Promise<number | null | undefined> {
    await this.request('shutdown', undefined, timeoutMs);
    // The server may exit before the write of `exit` is acknowledged: that is success, not an error.
    await this.connection.sendNotification('exit').catch(() => undefined);
    await withTimeout(this.exited, timeoutMs, 'server exit after shutdown/exit');
    return this.exitCode;
  }

  /** Ends everything this client started. Safe to call more than once. */
  kill(): void {
    this.connection.dispose();
    if (this.alive) this.proc.kill('SIGKILL');
  }
}

/** Spawns and initializes a server. */
export async function startServer(): Promise<LspClient> {
  const client = LspClient.spawn();
  try {
    await client.initialize();
  } catch (err) {
    client.kill();
    throw err;
  }
  return client;
}

/** Runs `fn` against a fresh initialized server; shuts it down politely, and kills it in any case. */
export async function withServer<T>(fn: (client: LspClient) => Promise<T>): Promise<T> {
  const client = await startServer();
  try {
    const result = await fn(client);
    if (client.alive) await client.shutdown();
    return result;
  } finally {
    client.kill();
  }
}

// ---- Text helpers shared by the LSP tests -------------------------------------------------

/** Offset of an LSP position (UTF-16 units; lines end at \r\n, \n or \r), as the LSP spec defines. */
export function offsetAt(text: string, pos: { line: number; character: number }): number {
  if (pos.line < 0) return 0;
  let line = 0;
  let i = 0;
  while (line < pos.line && i < text.length) {
    const ch = text[i];
    i++;
    if (ch === '\r') {
      if (text[i] === '\n') i++;
      line++;
    } else if (ch === '\n') {
      line++;
    }
  }
  if (line < pos.line) return text.length;
  let end = i;
  while (end < text.length && text[end] !== '\n' && text[end] !== '\r') end++;
  return Math.min(i + Math.max(0, pos.character), end);
}

/** The LSP position of an offset (inverse of offsetAt). */
export function positionAt(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const ch = text[i];
    if (ch === '\r') {
      if (text[i + 1] === '\n') {
        if (i + 1 >= offset) break; // offset between \r and \n: still on this line
        i++;
      }
      line++;
      lineStart = i + 1;
    } else if (ch === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: Math.min(offset, text.length) - lineStart };
}

/** Applies TextEdits (all relative to `text`, non-overlapping), as an editor would. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const resolved = edits
    .map((e, index) => ({ start: offsetAt(text, e.range.start), end: offsetAt(text, e.range.end), text: e.newText, index }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.index - b.index);
  for (let i = 1; i < resolved.length; i++) {
    if (resolved[i].start < resolved[i - 1].end) throw new Error('overlapping edits');
  }
  let out = '';
  let last = 0;
  for (const e of resolved) {
    out += text.slice(last, e.start) + e.text;
    last = e.end;
  }
  return out + text.slice(last);
}

/** The range of the `occurrence`-th `needle` in `text`, in LSP positions. */
export function rangeOf(text: string, needle: string, occurrence = 0): Range {
  let at = -1;
  for (let i = 0; i <= occurrence; i++) {
    at = text.indexOf(needle, at + 1);
    if (at === -1) throw new Error(`${JSON.stringify(needle)} not found in text`);
  }
  return { start: positionAt(text, at), end: positionAt(text, at + needle.length) };
}

export function codes(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map((d) => String(d.code)).sort();
}
