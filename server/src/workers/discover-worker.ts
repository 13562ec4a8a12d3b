// The discovery thread (bundled as dist/discover-worker.js; started by discover.ts): one walk,
// one answer, then the thread ends.
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { discoverHere, DiscoveryRequest } from './discover';

/**
 * TEST ONLY: LEAKLENS_TEST_DISCOVERY_DELAY_MS holds the walk back that long, as a slow disk or a
 * huge tree would; test/workspace.test.ts uses it to show the server answers meanwhile.
 */
const DELAY_MS = Number(process.env.LEAKLENS_TEST_DISCOVERY_DELAY_MS ?? 0);

const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0; // gone already: the analysis reports it unreadable
  }
};

if (DELAY_MS > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, DELAY_MS);
parentPort?.postMessage(discoverHere(workerData as DiscoveryRequest, size));
