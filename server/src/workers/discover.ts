// Folder discovery on a worker thread of its own (dist/discover-worker.js, next to the bundle),
// so that walking a big workspace — tens of thousands of readdir and stat calls — never holds up
// the server's main thread: requests and open documents are answered while it runs.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { discoverPythonFiles } from '../workspace/files';

export interface DiscoveryRequest {
  paths: string[];
  exclude: string[];
  base: string;
  /** Also find Jupyter notebooks (`.ipynb`). */
  notebooks?: boolean;
}

export interface DiscoveryResult {
  /** The Python files found, sorted, with their size in bytes (0 when a stat failed). */
  files: Array<{ path: string; size: number }>;
  /** What was left out and why, in walking order. */
  skipped: Array<[path: string, reason: string]>;
}

/** Runs the walk on a new worker thread; the thread ends with the walk. */
export function discoverOffThread(request: DiscoveryRequest, workerFile = join(__dirname, 'discover-worker.js')): Promise<DiscoveryResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = new Worker(workerFile, { workerData: request });
    worker.once('message', (result: DiscoveryResult) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the discovery thread exited with code ${code} before answering`));
    });
  });
}

/** The same walk on the calling thread (the fallback when no thread can be started). */
export function discoverHere(request: DiscoveryRequest, statSize: (path: string) => number): DiscoveryResult {
  const skipped: Array<[string, string]> = [];
  const { files } = discoverPythonFiles(request.paths, { exclude: request.exclude, base: request.base, notebooks: request.notebooks, onSkip: (path, reason) => skipped.push([path, reason]) });
  return { files: files.map((path) => ({ path, size: statSize(path) })), skipped };
}
