// A minimal LSP client over stdio for the benchmark: spawns the server, tracks published
// diagnostics by version, reads the process's RSS, and always shuts down and kills it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

export function procStatus(pid) {
  const out = {};
  try {
    for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const m = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+)\s+kB/.exec(line);
      if (m) out[m[1]] = Number(m[2]) / 1024;
      const t = /^Threads:\s+(\d+)/.exec(line);
      if (t) out.Threads = Number(t[1]);
    }
  } catch {
    /* process gone */
  }
  return out; // MB (Threads: a count; worker threads share the process's RSS)
}

/** CPU seconds (user + system) a process has used so far, all its threads included. */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return NaN;
  }
}

/** Servers spawned and not yet closed, so that a signal handler can kill them. */
export const liveServers = new Set();

export class LspServer {
  constructor(serverJs) {
    this.child = spawn(process.execPath, [serverJs, 'server', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    liveServers.add(this);
    this.stderr = '';
    this.logs = []; // window/logMessage and window/showMessage
    this.exited = undefined;
    this.waiters = new Set();
    this.diagnostics = new Map(); // uri -> { version, diagnostics, at }
    this.arrivals = new Map(); // "uri#version" -> performance.now() of arrival
    this.publishCount = 0;
    this.progress = []; // $/progress values with their arrival time
    this.progressWaiters = new Set();
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s) => (this.stderr += s));
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      liveServers.delete(this);
      for (const w of [...this.waiters, ...this.progressWaiters]) {
        clearTimeout(w.timer);
        w.reject(new Error(`server exited (code ${code}, signal ${signal})\n${this.stderr.slice(-2000)}`));
      }
      this.waiters.clear();
      this.progressWaiters.clear();
    });
    this.child.stdin.on('error', () => {}); // EPIPE after a crash is reported through 'exit'
    this.conn = createMessageConnection(new StreamMessageReader(this.child.stdout), new StreamMessageWriter(this.child.stdin));
    this.conn.onNotification('textDocument/publishDiagnostics', (p) => {
      const at = performance.now();
      this.publishCount++;
      this.diagnostics.set(p.uri, { version: p.version, diagnostics: p.diagnostics, at });
      this.arrivals.set(`${p.uri}#${p.version}`, at);
      for (const w of [...this.waiters]) {
        if (w.uri === p.uri && p.version !== undefined && p.version >= w.version) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve({ at, version: p.version, diagnostics: p.diagnostics });
        }
      }
    });
    this.conn.onNotification('$/progress', (p) => {
      const entry = { ...p.value, token: p.token, at: performance.now() };
      this.progress.push(entry);
      for (const w of [...this.progressWaiters]) {
        if (entry.kind === w.kind) {
          this.progressWaiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(entry);
        }
      }
    });
    const onLog = (kind) => (p) => this.logs.push({ kind, type: p.type, message: p.message });
    this.conn.onNotification('window/logMessage', onLog('log'));
    this.conn.onNotification('window/showMessage', onLog('show'));
    this.conn.onRequest((method) => {
      this.logs.push({ kind: 'request', type: 0, message: method });
      return null;
    });
    this.conn.onError(([err]) => this.logs.push({ kind: 'rpc-error', type: 1, message: String(err) }));
    this.conn.listen();
  }

  /** folders: absolute paths of workspace folders (the server scans them after `initialized`). */
  async initialize({ folders = [] } = {}) {
    const result = await this.conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      workspaceFolders: folders.length ? folders.map((f) => ({ uri: pathToFileURL(f).toString(), name: basename(f) })) : null,
      capabilities: {
        window: { workDoneProgress: true },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { versionSupport: true, relatedInformation: true, codeDescriptionSupport: true, dataSupport: true },
        },
      },
    });
    await this.conn.sendNotification('initialized', {});
    return result;
  }

  /** Resolves when diagnostics for uri with version >= version arrive. */
  waitForVersion(uri, version, timeoutMs = 30000) {
    const have = this.diagnostics.get(uri);
    if (have && have.version !== undefined && have.version >= version) {
      return Promise.resolve({ at: have.at, version: have.version, diagnostics: have.diagnostics, already: true });
    }
    if (this.exited) return Promise.reject(new Error(`server exited (code ${this.exited.code})`));
    return new Promise((resolve, reject) => {
      const w = { uri, version, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for diagnostics of version ${version}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Resolves at the next $/progress value of this kind ('begin', 'report', 'end') arriving after the call. */
  waitForProgress(kind, timeoutMs = 600000) {
    if (this.exited) return Promise.reject(new Error(`server exited (code ${this.exited.code})`));
    return new Promise((resolve, reject) => {
      const w = { kind, resolve, reject };
      w.timer = setTimeout(() => {
        this.progressWaiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for progress '${kind}'`));
      }, timeoutMs);
      this.progressWaiters.add(w);
    });
  }

  didOpen(uri, text, version = 1) {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version, text } });
  }

  didChange(uri, version, contentChanges) {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
  }

  rss() {
    return procStatus(this.pid);
  }

  /** shutdown + exit, then SIGKILL this process if it is still alive. Never throws. */
  async close() {
    if (!this.exited) {
      try {
        await Promise.race([this.conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 3000))]);
        await this.conn.sendNotification('exit');
      } catch {
        /* ignore */
      }
      await Promise.race([new Promise((r) => this.child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
    }
    this.exitedCleanly = !!this.exited && !this.killed;
    if (!this.exited) {
      this.killed = true;
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* ignore */
      }
      await Promise.race([new Promise((r) => this.child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
    }
    for (const w of [...this.waiters, ...this.progressWaiters]) clearTimeout(w.timer);
    this.waiters.clear();
    this.progressWaiters.clear();
    try {
      this.conn.dispose();
    } catch {
      /* ignore */
    }
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}
