// The benchmark's corpus, found and decoded by LeakLens's own code (the tsc output in out/,
// which `npm run bench` builds), so that every peer works on exactly the files `leaklens check`
// checks, decoded exactly as it decodes them (BOM, PEP 263 coding line, strict UTF-8; binary,
// undecodable and too-large files are skipped by everyone).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'package.json'));

function files() {
  try {
    return require(join(ROOT, 'out', 'server', 'src', 'workspace', 'files.js'));
  } catch (err) {
    throw new Error(`cannot load out/server/src/workspace/files.js (run npm run build first): ${err.message}`);
  }
}

/** The files `leaklens check <root>` discovers (sorted), and the folders and files it leaves out. */
export function leaklensFiles(root) {
  const skipped = [];
  const { files: found } = files().discoverPythonFiles([root], { onSkip: (path, reason) => skipped.push({ path, reason }) });
  return { files: found, skipped };
}

/** Reads and decodes one file as the CLI does: { ok, text } or { ok: false, reason }. */
export function readLikeLeaklens(path) {
  return files().readSource(path);
}

/** A file list written by the benchmark: one absolute path per line. */
export function readFileList(listFile) {
  return readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
}
