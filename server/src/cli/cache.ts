// The result cache of `leaklens check` ("fast twice"): one file's check result, kept on disk
// under a key made of what decides it — the bytes of the file, the settings that reach the
// analysis, and the engine that computed it (the product version and a digest of the running
// bundle, its worker and grammars). A rebuilt bundle, a new option or an edited file therefore
// never reads an old result: it simply finds no entry.
//
// Layout: `<dir>/.gitignore` (`*`), `<dir>/CACHEDIR.TAG`, and one file per entry at
// `<dir>/entries/<first two hex digits>/<key>`. An entry is a checksum line (sha256 of the rest)
// followed by JSON; it is written to a temporary file in its shard and renamed into place, so a
// reader (another run at the same time included) sees a whole entry or none. Anything that does
// not read back exactly — truncated, damaged, another key, another shape — is a miss and is
// written again. Failures (unreadable, timed out, a rule that could not finish, an error) are
// never stored; a deliberate skip (binary, unknown encoding, generated, nesting too deep) is.
//
// Size: after a run that wrote entries, a cache with more than `maxEntries` entries loses the
// oldest of those this run did not use, down to three quarters of the bound.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnalyzedFinding } from '../analysis/engine';
import type { Settings } from '../workspace/config';
import { isNotebookPath, notebookMap, readNotebook } from '../analysis/notebook';
import { decodeSource, digestOf } from '../workspace/files';
import type { FileJob, FileResult } from '../workers/check-file';
import { version } from '../version';

/** The cache folder's name at the project root (the folder of the pyproject.toml in use, else the current folder). */
export const CACHE_FOLDER = '.leaklens_cache';

/** The layout of an entry; part of every key, so a new layout never reads an old entry. */
const ENTRY_FORMAT = 1;

/** Settings that only choose files or place the cache: they cannot change one file's result, so they stay out of the key. */
const NOT_IN_KEY = new Set<string>(['exclude', 'cacheDir']);

/** Entries kept at most (about 1 KiB each on the standard library); see the file comment. */
export const DEFAULT_MAX_ENTRIES = 50_000;

/** A temporary file older than this was left by a run that died before renaming it. */
const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/** What an entry holds: a check-mode result without the text (the text is decoded again from the file's bytes). */
interface Stored {
  findings: AnalyzedFinding[];
  generated?: string;
  unreadable?: string;
  skipReason?: string;
  notPython?: string;
  /** Where the parse first failed, for the warning a warm run prints as the cold one did. */
  syntaxError?: { line: number; column: number; cell?: number };
}

/** JSON with object keys sorted at every level: the same settings always hash the same way. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && typeof v !== 'function')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  return JSON.stringify(value) ?? 'null';
}

/** Every setting that reaches the analysis of one file (all of `Settings` but those in NOT_IN_KEY), canonical. */
export function settingsKey(settings: Settings): string {
  const kept = Object.fromEntries(Object.entries(settings).filter(([k]) => !NOT_IN_KEY.has(k)));
  return canonicalJson(kept);
}

let fingerprint: string | undefined;

/**
 * The engine that computes results: the product version and a digest of the running script and
 * what it loads from its folder (the worker bundle, the grammars), so that a rebuilt bundle with
 * changed rules never reads results of the old one.
 */
export function engineFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const hash = createHash('sha256').update(`leaklens ${version}\n`);
  const folder = dirname(__filename);
  for (const name of [__filename, join(folder, 'worker.js'), join(folder, 'tree-sitter-python.wasm'), join(folder, 'web-tree-sitter.wasm')]) {
    try {
      hash.update(`${name.slice(folder.length)}\n`).update(readFileSync(name));
    } catch {
      hash.update(`${name.slice(folder.length)} absent\n`);
    }
  }
  fingerprint = hash.digest('hex');
  return fingerprint;
}

/**
 * Test hooks (LEAKLENS_TEST_*) change what an analysis does (crashes, traps, budgets): no cache
 * then. Nor outside a bundle (no worker.js beside the running script, as when the compiled
 * sources run directly): the fingerprint would not see the rules change.
 */
export function cacheAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return !Object.keys(env).some((k) => k.startsWith('LEAKLENS_TEST_')) && existsSync(join(dirname(__filename), 'worker.js'));
}

/** Whether a cached check result stands for this job: a fix or diff job only when there is nothing it may fix. */
function servesJob(stored: Stored, job: FileJob): boolean {
  if (job.mode === 'check') return true;
  return !stored.findings.some((f) => f.fixes.some((fix) => fix.safety === 'safe' || !!job.unsafe));
}

function isStored(value: unknown): value is Stored {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  const optionalString = (k: string) => v[k] === undefined || typeof v[k] === 'string';
  return (
    Array.isArray(v.findings) &&
    v.findings.every((f) => f && typeof f === 'object' && typeof f.code === 'string' && typeof f.start === 'number' && typeof f.end === 'number' && Array.isArray(f.fixes) && Array.isArray(f.related)) &&
    optionalString('generated') &&
    optionalString('unreadable') &&
    optionalString('skipReason') &&
    optionalString('notPython') &&
    (v.syntaxError === undefined || validPosition(v.syntaxError))
  );
}

function validPosition(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  const whole = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  return whole(p.line) && whole(p.column) && (p.cell === undefined || whole(p.cell));
}

/** A file as read for a look-up: its bytes and their digest, or nothing when it is not read here (too large, not a file, unreadable). */
export interface Probe {
  bytes?: Buffer;
  digest?: string;
}

export interface CacheCounts {
  hits: number;
  stored: number;
  damaged: number;
  pruned: number;
}

export class ResultCache {
  readonly counts: CacheCounts = { hits: 0, stored: 0, damaged: 0, pruned: 0 };
  /** Why writing stopped (said once); reading goes on. */
  private unwritable: string | undefined;
  private prepared = false;
  /** Entry keys this run read or wrote: pruning keeps them. */
  private readonly used = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly warn: (message: string) => void,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  private keyOf(digest: string, settings: Settings): string {
    return createHash('sha256').update(`${ENTRY_FORMAT}\n${engineFingerprint()}\n${settingsKey(settings)}\n${digest}`).digest('hex');
  }

  private pathOf(key: string): string {
    return join(this.dir, 'entries', key.slice(0, 2), key.slice(2));
  }

  /** Reads a file for a look-up; files the worker would refuse before reading are left to it. */
  static probe(path: string, maxFileSize: number): Probe {
    try {
      const st = statSync(path);
      if (!st.isFile() || st.size > maxFileSize) return {};
      const bytes = readFileSync(path);
      return { bytes, digest: digestOf(bytes) };
    } catch {
      return {};
    }
  }

  /** The cached result for these bytes and this job's settings, shaped as the job would have returned it; undefined on a miss. */
  lookup(probe: Probe, job: FileJob, settings: Settings): FileResult | undefined {
    if (!probe.bytes || !probe.digest) return undefined;
    const key = this.keyOf(probe.digest, settings);
    let raw: Buffer;
    try {
      raw = readFileSync(this.pathOf(key));
    } catch {
      return undefined;
    }
    const stored = this.parse(raw, key);
    if (!stored) {
      this.counts.damaged++;
      return undefined;
    }
    this.used.add(key);
    if (!servesJob(stored, job)) return undefined;
    const result: FileResult = { findings: job.analyze ? stored.findings : [], digest: probe.digest };
    if (stored.generated !== undefined) result.generated = stored.generated;
    if (stored.unreadable !== undefined) result.unreadable = stored.unreadable;
    if (stored.notPython !== undefined) result.notPython = stored.notPython;
    if (stored.skipReason !== undefined && job.analyze) result.skipReason = stored.skipReason;
    if (stored.syntaxError !== undefined && job.analyze) result.syntaxError = stored.syntaxError;
    if (result.findings.length) {
      const decoded = decodeSource(probe.bytes, settings.maxFileSize);
      if (!decoded.ok) return undefined;
      result.text = decoded.text;
      if (isNotebookPath(job.path)) {
        // The findings' offsets are in the notebook's virtual module: rebuilt from the same bytes.
        const nb = readNotebook(decoded.text);
        if (!nb.ok) return undefined;
        result.text = nb.notebook.module;
        result.notebook = notebookMap(nb.notebook);
      }
    }
    this.counts.hits++;
    return result;
  }

  private parse(raw: Buffer, key: string): Stored | undefined {
    try {
      const text = raw.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline !== 64) return undefined;
      const body = text.slice(newline + 1);
      if (createHash('sha256').update(body).digest('hex') !== text.slice(0, newline)) return undefined;
      const entry = JSON.parse(body) as { key?: unknown; result?: unknown };
      return entry.key === key && isStored(entry.result) ? entry.result : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps a finished job's result when it is a complete check result of the bytes the job read:
   * never a failure, never a fixed or diffed text, never a job that skipped the analysis.
   */
  store(job: FileJob, settings: Settings, result: FileResult): void {
    if (this.unwritable !== undefined || !result.digest) return;
    if (result.trap || result.error || result.readFailed || result.ruleFailures?.length || result.fix || result.diff) return;
    const decidedBeforeAnalysis = result.generated !== undefined || result.unreadable !== undefined || result.notPython !== undefined;
    if (!job.analyze && !decidedBeforeAnalysis) return;
    const stored: Stored = { findings: result.findings };
    if (result.generated !== undefined) stored.generated = result.generated;
    if (result.unreadable !== undefined) stored.unreadable = result.unreadable;
    if (result.notPython !== undefined) stored.notPython = result.notPython;
    if (result.skipReason !== undefined) stored.skipReason = result.skipReason;
    if (result.syntaxError !== undefined) stored.syntaxError = result.syntaxError;
    const key = this.keyOf(result.digest, settings);
    this.used.add(key);
    const body = JSON.stringify({ key, result: stored });
    const path = this.pathOf(key);
    const temporary = join(dirname(path), `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      this.prepare();
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(temporary, `${createHash('sha256').update(body).digest('hex')}\n${body}`, { flag: 'wx' });
      renameSync(temporary, path);
      this.counts.stored++;
    } catch (err) {
      try {
        unlinkSync(temporary);
      } catch {
        // never created, or renamed
      }
      this.stopWriting(err as Error);
    }
  }

  /** The folder, its `.gitignore` (`*`: nothing in it is ever committed) and CACHEDIR.TAG, once. */
  private prepare(): void {
    if (this.prepared) return;
    mkdirSync(this.dir, { recursive: true });
    const create = (name: string, text: string) => {
      try {
        const fd = openSync(join(this.dir, name), 'wx');
        try {
          writeSync(fd, text);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    };
    create('.gitignore', '# Created by LeakLens: its result cache, never committed.\n*\n');
    create('CACHEDIR.TAG', 'Signature: 8a477f597d28d172789f06886806bc55\n# This folder is the result cache of LeakLens (leaklens check); it is rebuilt when deleted.\n');
    this.prepared = true;
  }

  private stopWriting(err: Error): void {
    if (this.unwritable !== undefined) return;
    this.unwritable = err.message;
    this.warn(`cannot write the cache in ${this.dir} (${err.message}); results are not saved this run`);
  }

  /** After the run: when it wrote entries and the cache is over its bound, the oldest entries this run did not use go. */
  prune(): void {
    if (this.counts.stored === 0) return;
    const entries = join(this.dir, 'entries');
    const unused: Array<{ path: string; mtime: number }> = [];
    let total = 0;
    const now = Date.now();
    let shards: string[];
    try {
      shards = readdirSync(entries);
    } catch {
      return;
    }
    for (const shard of shards) {
      let names: string[];
      try {
        names = readdirSync(join(entries, shard));
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(entries, shard, name);
        if (name.startsWith('.tmp-')) {
          try {
            if (now - statSync(path).mtimeMs > STALE_TEMPORARY_MS) unlinkSync(path);
          } catch {
            // another run renamed or removed it
          }
          continue;
        }
        total++;
        if (!this.used.has(shard + name)) unused.push({ path, mtime: 0 });
      }
    }
    if (total <= this.maxEntries) return;
    for (const u of unused) {
      try {
        u.mtime = statSync(u.path).mtimeMs;
      } catch {
        u.mtime = 0;
      }
    }
    unused.sort((a, b) => a.mtime - b.mtime);
    const target = Math.floor(this.maxEntries * 0.75);
    for (const u of unused) {
      if (total <= target) break;
      try {
        unlinkSync(u.path);
        this.counts.pruned++;
      } catch {
        // gone already, or a read-only folder
      }
      total--;
    }
  }
}
