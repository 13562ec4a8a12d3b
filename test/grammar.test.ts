// The committed grammar is the one its provenance record names, the one the dev dependency
// ships, and the one grammarPath() loads. An `npm update` of tree-sitter-python without
// re-copying the wasm (and updating grammars/PROVENANCE.json) fails here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { Language } from 'web-tree-sitter';
import { grammarPath, loadPython } from '../server/src/parsing/grammar';

// Compiled to out/test/grammar.test.js: the repository root is two levels up.
const ROOT = join(__dirname, '..', '..');
const GRAMMARS = join(ROOT, 'grammars');
const WASM = 'tree-sitter-python.wasm';
const COMMITTED = join(GRAMMARS, WASM);
const PACKAGE_DIR = join(ROOT, 'node_modules', 'tree-sitter-python');

interface Provenance {
  package: string;
  version: string;
  source: string;
  abi: number;
  sha256: string;
}

const provenance: Record<string, Provenance> = JSON.parse(readFileSync(join(GRAMMARS, 'PROVENANCE.json'), 'utf8'));
const record = provenance[WASM];

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

let language: Language;
before(async () => {
  language = await loadPython();
});

test('PROVENANCE.json records every committed grammar, and only those', () => {
  const wasms = readdirSync(GRAMMARS).filter((f) => f.endsWith('.wasm')).sort();
  assert.deepEqual(Object.keys(provenance).sort(), wasms);
  assert.ok(record, `no PROVENANCE.json entry for ${WASM}`);
  assert.equal(record.package, 'tree-sitter-python');
  assert.match(record.version, /^\d+\.\d+\.\d+$/);
  assert.match(record.sha256, /^[0-9a-f]{64}$/);
});

test('(a) the recorded version equals the loaded language metadata', () => {
  const metadata = language.metadata;
  assert.ok(metadata, 'the loaded grammar carries no metadata');
  assert.equal(`${metadata.major_version}.${metadata.minor_version}.${metadata.patch_version}`, record.version);
});

test('(b) the recorded sha256 equals the committed wasm', () => {
  assert.equal(sha256(COMMITTED), record.sha256);
});

test('(c) the installed tree-sitter-python is the recorded version and ships the same bytes', () => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
  assert.equal(pkg.name, record.package);
  assert.equal(pkg.version, record.version, 'node_modules/tree-sitter-python was updated: re-copy its wasm into grammars/ and update PROVENANCE.json');
  const shipped = readFileSync(join(PACKAGE_DIR, WASM));
  assert.ok(shipped.equals(readFileSync(COMMITTED)), `node_modules/tree-sitter-python/${WASM} differs from grammars/${WASM}`);
  // The dev dependency is pinned to the same version, so `npm ci` cannot drift either.
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(manifest.devDependencies?.['tree-sitter-python'], record.version);
});

test('(d) the loaded language has the recorded ABI version', () => {
  assert.equal(language.abiVersion, record.abi);
});

test('(e) grammarPath() resolves to grammars/ when run from out/', () => {
  assert.equal(relative(ROOT, __dirname), join('out', 'test'), 'this test must run from the tsc build in out/');
  // Nothing in out/ may shadow the committed grammar (grammarPath prefers a wasm beside the code).
  assert.ok(!existsSync(join(ROOT, 'out', 'server', 'src', 'parsing', WASM)), 'a stray wasm in out/ shadows grammars/');
  assert.equal(grammarPath(), COMMITTED);
});
