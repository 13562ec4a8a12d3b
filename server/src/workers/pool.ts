// Runs file jobs (check-file.ts) either on a small pool of worker threads — each loads the
// grammar once, owns one Analyzer and its own WASM heap — or in-process, one job per
// event-loop turn. Both take the same jobs and give the same outcomes, so the CLI and the
// workspace scan do not care which one they use.
//
// Pool rules: a queue, biggest files first (urgent jobs ahead of them); one job per worker at
// a time; a per-file time limit after which the worker is terminated and replaced and the
// file reported as timed out; a worker that dies takes only its current file with it (reported
// as failed) and is replaced; after repeated start-up failures the queued jobs fail with the
// reason instead of respawning forever. Idle workers are unref'd (they never keep the process
// alive) and, with `idleMs`, terminated.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Analyzer } from '../analysis/engine';
import { checkFile, FileJob, FileResult } from './check-file';

export type JobOutcome =
  | { status: 'done'; result: FileResult }
  /** The worker died on this file (or no worker could start): the file was not checked. */
  | { status: 'failed'; reason: string }
  /** The per-file time limit ran out; the worker was replaced. */
  | { status: 'timeout'; reason: string }
  /** Dropped by cancel() or close() before a result was taken. */
  | { status: 'cancelled' };

export interface SubmitOptions {
  /** Bytes on disk: bigger files start first, which balances the workers' loads. */
  size?: number;
  /** Goes ahead of every non-urgent job (a file event while a scan is queued). */
  urgent?: boolean;
  /** A label for cancel(). */
  tag?: number;
}

export interface JobRunner {
  run(job: FileJob, options?: SubmitOptions): Promise<JobOutcome>;
  /** Drops the queued jobs whose tag `which` accepts; running ones resolve as cancelled. */
  cancel(which: (tag: number | undefined) => boolean): void;
  /** Cancels everything and stops the workers. */
  close(): Promise<void>;
}

/** Default number of workers: both cores (there are two on the machines we target), at least one. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** Default per-file time limit. */
export const DEFAULT_TIME_LIMIT_MS = 10_000;

interface Pending {
  job: FileJob;
  size: number;
  urgent: boolean;
  tag?: number;
  resolve: (outcome: JobOutcome) => void;
  settled: boolean;
}

function settle(p: Pending, outcome: JobOutcome): void {
  if (p.settled) return;
  p.settled = true;
  p.resolve(outcome);
}

/** Queue order: urgent first, then bigger files first, then submission order (stable sort). */
function byPriority(a: Pending, b: Pending): number {
  return Number(b.urgent) - Number(a.urgent) || b.size - a.size;
}

class JobQueue {
  private items: Pending[] = [];
  private sorted = true;

  push(p: Pending): void {
    this.items.push(p);
    this.sorted = false;
  }

  take(): Pending | undefined {
    if (!this.sorted) {
      this.items.sort(byPriority);
      this.sorted = true;
    }
    // Cancelled jobs are left in place and skipped here.
    let p = this.items.shift();
    while (p && p.settled) p = this.items.shift();
    return p;
  }

  get length(): number {
    return this.items.length;
  }

  drop(which: (p: Pending) => boolean): Pending[] {
    const dropped = this.items.filter(which);
    if (dropped.length) this.items = this.items.filter((p) => !which(p));
    return dropped;
  }
}

/** Runs jobs on the calling thread, one per event-loop turn, so that other work can interleave. */
export class InProcessRunner implements JobRunner {
  private queue = new JobQueue();
  private draining = false;

  /** `onTrap`: recreates the WebAssembly runtime after a job trapped; awaited before the next job. */
  constructor(
    private readonly analyzer: () => Analyzer | Promise<Analyzer> | undefined,
    private readonly onTrap?: () => Promise<void>,
  ) {}

  run(job: FileJob, options: SubmitOptions = {}): Promise<JobOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ job, size: options.size ?? 0, urgent: !!options.urgent, tag: options.tag, resolve, settled: false });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let p = this.queue.take(); p; p = this.queue.take()) {
        await new Promise((resolve) => setImmediate(resolve));
        if (p.settled) continue;
        try {
          const analyzer = await this.analyzer();
          const result = analyzer ? checkFile(analyzer, p.job) : undefined;
          // The runtime is recreated before the next job (and before this one's caller goes on).
          if (result?.trap) await this.onTrap?.();
          settle(p, result ? { status: 'done', result } : { status: 'cancelled' });
        } catch (err) {
          settle(p, { status: 'failed', reason: (err as Error).message });
        }
      }
    } finally {
      this.draining = false;
    }
  }

  cancel(which: (tag: number | undefined) => boolean): void {
    for (const p of this.queue.drop((p) => which(p.tag))) settle(p, { status: 'cancelled' });
  }

  async close(): Promise<void> {
    this.cancel(() => true);
  }
}

/** Messages from worker.ts. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'result'; id: number; result: FileResult };

/** Messages to worker.ts. */
export interface JobMessage {
  type: 'job';
  id: number;
  job: FileJob;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  stopping: boolean;
  current?: { id: number; pending: Pending; timer: NodeJS.Timeout };
  idleTimer?: NodeJS.Timeout;
  /** The last uncaught error the worker reported, for the failure message. */
  error?: string;
}

export interface PoolOptions {
  size?: number;
  /** Per-file time limit in milliseconds (default DEFAULT_TIME_LIMIT_MS). */
  timeLimitMs?: number;
  /** Terminate a worker idle for this long (default: keep it until close()). */
  idleMs?: number;
  /** The worker script (default: worker.js next to this module or bundle). */
  workerFile?: string;
  /** Told about workers that could not start or died idle (a job's own outcome tells the rest). */
  log?: (message: string) => void;
}

/** Consecutive workers that die before they are ready, after which the pool gives up. */
const MAX_START_FAILURES = 3;
/** Consecutive jobs whose worker died, with no result in between, after which the pool gives up. */
const MAX_DEATHS_IN_A_ROW = 8;

export class WorkerPool implements JobRunner {
  readonly size: number;
  private readonly timeLimitMs: number;
  private readonly workerFile: string;
  private readonly slots = new Set<Slot>();
  private readonly queue = new JobQueue();
  private nextId = 1;
  private startFailures = 0;
  private deathsInARow = 0;
  private closed = false;
  /** Set when workers cannot be started at all; every job then fails with it. */
  unavailable?: string;

  constructor(private readonly options: PoolOptions = {}) {
    this.size = Math.max(1, options.size ?? defaultWorkerCount());
    this.timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
    this.workerFile = options.workerFile ?? join(__dirname, 'worker.js');
  }

  run(job: FileJob, options: SubmitOptions = {}): Promise<JobOutcome> {
    if (this.closed) return Promise.resolve({ status: 'cancelled' });
    if (this.unavailable) return Promise.resolve({ status: 'failed', reason: this.unavailable });
    return new Promise((resolve) => {
      this.queue.push({ job, size: options.size ?? 0, urgent: !!options.urgent, tag: options.tag, resolve, settled: false });
      this.pump();
    });
  }

  cancel(which: (tag: number | undefined) => boolean): void {
    for (const p of this.queue.drop((p) => which(p.tag))) settle(p, { status: 'cancelled' });
    // A running job finishes (or times out) in its worker; its result is simply not taken.
    for (const slot of this.slots) if (slot.current && which(slot.current.pending.tag)) settle(slot.current.pending, { status: 'cancelled' });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancel(() => true);
    const stopping = [...this.slots].map((slot) => this.stop(slot));
    await Promise.all(stopping);
  }

  /** Stops every idle worker when nothing is queued (their memory goes back to the system); resolves once they are gone. */
  async release(): Promise<void> {
    if (this.queue.length) return;
    await Promise.all([...this.slots].filter((slot) => !slot.current).map((slot) => this.stop(slot)));
  }

  /** Workers alive now (for tests and logs). */
  get workers(): number {
    return this.slots.size;
  }

  /** Hands queued jobs to ready idle workers and starts workers while there is more queued than ready. */
  private pump(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (!slot.ready || slot.stopping || slot.current) continue;
      const pending = this.queue.take();
      if (!pending) break;
      this.dispatch(slot, pending);
    }
    let starting = 0;
    for (const slot of this.slots) if (!slot.ready) starting++;
    while (this.queue.length > starting && this.slots.size < this.size && !this.unavailable) {
      this.spawn();
      starting++;
    }
  }

  private dispatch(slot: Slot, pending: Pending): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    const id = this.nextId++;
    const timer = setTimeout(() => this.timedOut(slot), this.timeLimitMs);
    slot.current = { id, pending, timer };
    slot.worker.ref(); // a job in flight keeps the process alive
    const message: JobMessage = { type: 'job', id, job: pending.job };
    slot.worker.postMessage(message);
  }

  private idle(slot: Slot): void {
    slot.worker.unref();
    if (this.options.idleMs !== undefined && !slot.idleTimer) {
      slot.idleTimer = setTimeout(() => void this.stop(slot), this.options.idleMs);
      slot.idleTimer.unref();
    }
  }

  private spawn(): void {
    let worker: Worker;
    try {
      worker = new Worker(this.workerFile);
    } catch (err) {
      this.giveUp(`cannot start an analysis worker (${this.workerFile}): ${(err as Error).message}`);
      return;
    }
    const slot: Slot = { worker, ready: false, stopping: false };
    this.slots.add(slot);
    // Referenced while it starts (jobs are waiting for it); unref'd whenever it is idle.
    worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
    worker.on('error', (err) => {
      slot.error = err?.stack ?? String(err);
    });
    worker.on('exit', (code) => this.onExit(slot, code));
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        this.startFailures = 0;
        this.idle(slot);
        this.pump();
        return;
      case 'fatal':
        slot.error = message.message;
        return; // the worker exits next; onExit counts the failure
      case 'result': {
        const current = slot.current;
        if (!current || current.id !== message.id) return;
        clearTimeout(current.timer);
        slot.current = undefined;
        this.deathsInARow = 0;
        settle(current.pending, { status: 'done', result: message.result });
        if (message.result.trap) {
          // Its WebAssembly runtime may be corrupt: a fresh worker takes the next files.
          this.options.log?.(`an analysis worker was replaced after a WebAssembly trap (${message.result.trap})`);
          void this.stop(slot);
        } else {
          this.idle(slot);
        }
        this.pump();
        return;
      }
    }
  }

  private timedOut(slot: Slot): void {
    const current = slot.current;
    if (!current) return;
    slot.current = undefined;
    const limit = this.timeLimitMs >= 1000 ? `${this.timeLimitMs / 1000} s` : `${this.timeLimitMs} ms`;
    const reason = `analysis took longer than ${limit} (the per-file time limit); its worker was replaced`;
    settle(current.pending, { status: 'timeout', reason });
    void this.stop(slot);
    this.pump();
  }

  private onExit(slot: Slot, code: number): void {
    this.slots.delete(slot);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const current = slot.current;
    slot.current = undefined;
    if (current) clearTimeout(current.timer);
    if (slot.stopping) {
      if (current) settle(current.pending, { status: 'cancelled' });
      this.pump();
      return;
    }
    const why = slot.error ? `: ${slot.error.split('\n')[0]}` : '';
    if (!slot.ready) {
      this.startFailures++;
      this.options.log?.(`an analysis worker could not start (exit code ${code})${why}`);
      if (this.startFailures >= MAX_START_FAILURES) {
        this.giveUp(`analysis workers cannot start (exit code ${code})${why}`);
        return;
      }
    } else if (!current) {
      this.options.log?.(`an idle analysis worker stopped (exit code ${code})${why}`);
    }
    if (current) {
      settle(current.pending, { status: 'failed', reason: `the analysis worker stopped (exit code ${code})${why}` });
      if (++this.deathsInARow >= MAX_DEATHS_IN_A_ROW) {
        this.giveUp(`analysis workers keep stopping (${this.deathsInARow} files in a row, the last with exit code ${code})${why}`);
        return;
      }
    }
    this.pump();
  }

  private giveUp(reason: string): void {
    this.unavailable = reason;
    for (const p of this.queue.drop(() => true)) settle(p, { status: 'failed', reason });
  }

  private stop(slot: Slot): Promise<void> {
    slot.stopping = true;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    this.slots.delete(slot);
    return slot.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
  }
}
