// Peer for the benchmark, run as its own cold process: bare web-tree-sitter parsing of a list of
// files (read and decoded as LeakLens does), each tree deleted at once. No queries, no analysis.
//   node scripts/bench/run-parse.mjs <file-list> [threads]
// threads 0 (default): parse on the main thread. threads N >= 1: N worker threads share the list
// through an atomic counter (each thread has its own wasm instance, as worker threads must).
// Prints one JSON line: files, parsed, skipped, trees with errors, timings.
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Language, Parser } from 'web-tree-sitter';
import { readFileList, readLikeLeaklens, ROOT } from './corpus.mjs';

const GRAMMAR = join(ROOT, 'grammars', 'tree-sitter-python.wasm');

/** Parses list[i] for every i handed out by next(); returns counts and time spent. */
async function parseAll(list, next) {
  const t0 = performance.now();
  await Parser.init();
  const language = await Language.load(GRAMMAR);
  const parser = new Parser();
  parser.setLanguage(language);
  const init = performance.now() - t0;
  let parsed = 0;
  let skipped = 0;
  let errors = 0;
  let readMs = 0;
  let parseMs = 0;
  for (let i = next(); i < list.length; i = next()) {
    const t1 = performance.now();
    const source = readLikeLeaklens(list[i]);
    const t2 = performance.now();
    readMs += t2 - t1;
    if (!source.ok) {
      skipped++;
      continue;
    }
    const tree = parser.parse(source.text);
    if (tree) {
      if (tree.rootNode.hasError) errors++;
      tree.delete();
      parsed++;
    }
    parseMs += performance.now() - t2;
  }
  parser.delete();
  return { parsed, skipped, errors, initMs: init, readMs, parseMs };
}

if (isMainThread) {
  const start = performance.now();
  const [listFile, threadArg] = process.argv.slice(2);
  const list = readFileList(listFile);
  const threads = Number(threadArg ?? 0);
  let results;
  if (threads <= 0) {
    let i = 0;
    results = [await parseAll(list, () => i++)];
  } else {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    results = await Promise.all(
      Array.from({ length: threads }, () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { listFile, counter } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
        }),
      ),
    );
  }
  const sum = (k) => results.reduce((a, r) => a + r[k], 0);
  const out = {
    files: list.length,
    threads,
    parsed: sum('parsed'),
    skipped: sum('skipped'),
    withErrors: sum('errors'),
    perThread: results.map((r) => r.parsed),
    initMs: Math.max(...results.map((r) => r.initMs)),
    readMs: sum('readMs'),
    parseMs: sum('parseMs'),
    wallMs: performance.now() - start,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} else {
  const { listFile, counter } = workerData;
  const list = readFileList(listFile);
  parentPort.postMessage(await parseAll(list, () => Atomics.add(counter, 0, 1)));
}
