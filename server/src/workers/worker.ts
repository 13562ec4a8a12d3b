// The analysis worker thread (bundled as dist/worker.js, next to dist/leaklens.js; started by
// pool.ts). Loads the grammar once, creates one Analyzer, then answers one job at a time: it
// reads and decodes the file itself (the text never crosses the main thread unless there are
// findings to print), analyses it — every tree is deleted by the engine — and posts plain data.
import { existsSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { Analyzer } from '../analysis/engine';
import { checkFile } from './check-file';
import type { JobMessage, WorkerMessage } from './pool';

/**
 * TEST ONLY: a worker given a file with the base name in LEAKLENS_TEST_WORKER_CRASH dies as if
 * the analysis had crashed (an uncaught exception in the worker); one given the base name in
 * LEAKLENS_TEST_WORKER_HANG spins forever as a stuck parse would. test/workers.test.ts uses
 * them to prove that such a file costs only itself; no input is known to do either for real
 * (the parse has its own time budget and deep nesting is refused), so they are simulated.
 */
const CRASH_ON = process.env.LEAKLENS_TEST_WORKER_CRASH;
const HANG_ON = process.env.LEAKLENS_TEST_WORKER_HANG;
/**
 * TEST ONLY: `NAME:MS:MARKER` — the first job (in any worker: MARKER, a file, records it) for a
 * file of base name NAME reads and analyses it, then holds its answer back MS milliseconds, as a
 * slow disk or a busy thread would; test/lsp-failures.test.ts uses it to make an older read arrive
 * after a newer one.
 */
const SLOW_ONCE = process.env.LEAKLENS_TEST_WORKER_SLOW_ONCE?.split(':');

async function start(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('worker.js runs as a worker thread of the leaklens CLI or server');
  const post = (message: WorkerMessage) => port.postMessage(message);
  let analyzer: Analyzer;
  try {
    analyzer = await Analyzer.create();
  } catch (err) {
    post({ type: 'fatal', message: `cannot load the Python grammar: ${(err as Error).message}` });
    process.exit(1);
  }
  port.on('message', (message: JobMessage) => {
    if (message.type !== 'job') return;
    if (CRASH_ON && basename(message.job.path) === CRASH_ON) throw new Error(`test-only crash on ${CRASH_ON} (LEAKLENS_TEST_WORKER_CRASH)`);
    if (HANG_ON && basename(message.job.path) === HANG_ON) for (;;);
    const slow = SLOW_ONCE && basename(message.job.path) === SLOW_ONCE[0] && !existsSync(SLOW_ONCE[2]);
    const result = checkFile(analyzer, message.job);
    if (slow) {
      writeFileSync(SLOW_ONCE![2], 'read\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(SLOW_ONCE![1]));
    }
    post({ type: 'result', id: message.id, result });
  });
  post({ type: 'ready' });
}

void start();
