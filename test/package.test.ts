// The .vsix as users get it: runs the real `vsce package`, reads the archive, and runs the
// packaged server bundle away from the repository to prove it is self-contained.
// The zip is read in code (central directory + zlib) so the test does not depend on `unzip`,
// which a fresh CI machine may not have.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { after, before, test } from 'node:test';

const ROOT = join(__dirname, '..', '..'); // out/test → repository root
const SIZE_BUDGET = 1536 * 1024; // compressed .vsix: about 1.19 MB, of which Graphviz (dist/viz.cjs, wasm inside) is 471 KB

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Entries of a zip archive, read from its central directory (no zip64: the .vsix is small). */
function readZip(zip: Buffer): ZipEntry[] {
  // The end-of-central-directory record is the last 22 bytes plus an optional comment.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  assert.ok(eocd >= 0, 'not a zip archive: no end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  assert.ok(count !== 0xffff && p !== 0xffffffff, 'zip64 archives are not supported');
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(p), 0x02014b50, `bad central directory header at ${p}`);
    const nameLength = zip.readUInt16LE(p + 28);
    entries.push({
      method: zip.readUInt16LE(p + 10),
      compressedSize: zip.readUInt32LE(p + 20),
      size: zip.readUInt32LE(p + 24),
      localOffset: zip.readUInt32LE(p + 42),
      name: zip.toString('utf8', p + 46, p + 46 + nameLength),
    });
    p += 46 + nameLength + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return entries;
}

function extract(zip: Buffer, entry: ZipEntry): Buffer {
  const p = entry.localOffset;
  assert.equal(zip.readUInt32LE(p), 0x04034b50, `bad local header for ${entry.name}`);
  const start = p + 30 + zip.readUInt16LE(p + 26) + zip.readUInt16LE(p + 28);
  const raw = zip.subarray(start, start + entry.compressedSize);
  assert.ok(entry.method === 0 || entry.method === 8, `${entry.name}: unsupported compression ${entry.method}`);
  const data = entry.method === 0 ? Buffer.from(raw) : inflateRawSync(raw);
  assert.equal(data.length, entry.size, `${entry.name}: size mismatch`);
  return data;
}

let work: string;
let vsix: string;
let zip: Buffer;
let entries: ZipEntry[];
let names: string[];
let packageOutput: string;

function entry(name: string): ZipEntry {
  const found = entries.find((e) => e.name === name);
  assert.ok(found, `${name} is not in the .vsix: ${names.join(', ')}`);
  return found;
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'leaklens-vsix-'));
  vsix = join(work, 'leaklens.vsix');
  // The real vsce, run with this Node (the same binary `npx vsce` would start, without npx's
  // lookup or npm's config warnings). Stdout is not a TTY, so vsce would auto-answer its
  // "continue?" prompts; the warnings that precede them are asserted absent below.
  const vscePackage = require.resolve('@vscode/vsce/package.json', { paths: [ROOT] });
  const vsce = join(dirname(vscePackage), JSON.parse(readFileSync(vscePackage, 'utf8')).bin.vsce);
  const result = spawnSync(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  packageOutput = `${result.stdout}\n${result.stderr}`;
  assert.equal(result.status, 0, `vsce package failed (run \`npm run build\` first?):\n${packageOutput}`);
  zip = readFileSync(vsix);
  entries = readZip(zip);
  names = entries.map((e) => e.name);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('vsce packages without warnings or prompts (repository field, LICENSE, .vscodeignore)', () => {
  assert.doesNotMatch(packageOutput, /WARNING|continue\?/, packageOutput);
  assert.match(packageOutput, /DONE\s+Packaged/, packageOutput);
});

test('the .vsix holds the runtime files and nothing else', () => {
  for (const required of [
    'extension/package.json',
    'extension/dist/extension.js',
    'extension/dist/leaklens.js',
    'extension/dist/worker.js',
    'extension/dist/discover-worker.js',
    'extension/dist/tree-sitter-python.wasm',
    'extension/dist/web-tree-sitter.wasm',
    'extension/dist/viz.cjs',
    'extension/dist/docs/rules/LL101.md',
    'extension/dist/docs/rules/LL201.md',
    'extension/dist/runtime/leaklens_runner/__init__.py',
    'extension/dist/runtime/leaklens_runner/__main__.py',
    'extension/dist/runtime/leaklens_runner/cli.py',
    'extension/dist/runtime/leaklens_runner/growth.py',
    'extension/docs/images/icon.png',
  ]) {
    entry(required);
  }
  for (const name of names) {
    assert.doesNotMatch(name, /\.map$/, `source map in the .vsix: ${name}`);
    assert.doesNotMatch(name, /(^|\/)node_modules\//, `node_modules in the .vsix: ${name}`);
    assert.doesNotMatch(name, /^extension\/(out|test|server|client|scripts|scratch|grammars|examples)\//, `build or source folder in the .vsix: ${name}`);
    assert.doesNotMatch(name, /\.ts$/, `TypeScript source in the .vsix: ${name}`);
    assert.doesNotMatch(name, /__pycache__|\.pyc$/, `Python bytecode in the .vsix: ${name}`);
  }
  // The allow-list itself: anything new must be added to .vscodeignore and here on purpose.
  const allowed = [
    /^\[Content_Types\]\.xml$/,
    /^extension\.vsixmanifest$/,
    /^extension\/package\.json$/,
    /^extension\/readme\.md$/i,
    /^extension\/LICENSE\.txt$/,
    /^extension\/changelog\.md$/i,
    /^extension\/docs\/images\/icon\.png$/,
    /^extension\/dist\/(extension|leaklens|worker|discover-worker)\.js$/,
    /^extension\/dist\/(tree-sitter-python|web-tree-sitter)\.wasm$/,
    /^extension\/dist\/viz\.cjs$/,
    /^extension\/dist\/docs\/rules\/LL\d{3}\.md$/,
    /^extension\/dist\/runtime\/leaklens_runner\/\w+\.py$/,
  ];
  const unexpected = names.filter((n) => !allowed.some((re) => re.test(n)));
  assert.deepEqual(unexpected, [], 'files outside the allow-list in the .vsix');
  const size = statSync(vsix).size;
  assert.ok(size < SIZE_BUDGET, `.vsix is ${size} bytes, over the ${SIZE_BUDGET}-byte budget`);
});

test('the packaged manifest targets VS Code ^1.100.0 and starts dist/extension.js', () => {
  const manifest = JSON.parse(extract(zip, entry('extension/package.json')).toString('utf8'));
  assert.equal(manifest.engines?.vscode, '^1.100.0');
  assert.equal(manifest.main, './dist/extension.js');
  assert.equal(manifest.icon, 'docs/images/icon.png', 'the Marketplace icon');
  entry(`extension/${manifest.main.replace(/^\.\//, '')}`);
});

test('the listing agrees with unzip, where unzip exists', { skip: spawnSync('unzip', ['-v']).error ? 'no unzip on this machine' : false }, () => {
  const listed = spawnSync('unzip', ['-Z1', vsix], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(listed.stdout.split('\n').filter(Boolean).sort(), [...names].sort());
});

test('the packaged server bundle runs on its own, away from the repository', () => {
  // Only the bundles and the two wasm files, in a temp folder: no node_modules, no grammars/ above.
  const dist = join(work, 'extracted', 'extension', 'dist');
  mkdirSync(dist, { recursive: true });
  for (const file of ['leaklens.js', 'worker.js', 'tree-sitter-python.wasm', 'web-tree-sitter.wasm']) {
    writeFileSync(join(dist, file), extract(zip, entry(`extension/dist/${file}`)));
  }
  const source = join(work, 'leaky.py');
  writeFileSync(source, 'def f(x=[]): x.append(1); return x\n');
  const env = { ...process.env };
  delete env.NODE_PATH;
  const result = spawnSync(process.execPath, [join(dist, 'leaklens.js'), 'check', '--select', 'ALL', source], {
    cwd: work,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /leaky\.py:1:\d+: LL201 /, result.stdout + result.stderr);
  // The analysis worker threads (dist/worker.js) find the wasm files the same way.
  writeFileSync(join(work, 'other.py'), 'def g(p):\n    h = open(p)\n    return h.read()\n');
  const threaded = spawnSync(process.execPath, [join(dist, 'leaklens.js'), 'check', '--select', 'ALL', '--jobs', '2', source, join(work, 'other.py')], {
    cwd: work,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(threaded.status, 1, threaded.stdout + threaded.stderr);
  assert.equal(threaded.stderr, '');
  assert.match(threaded.stdout, /leaky\.py:1:\d+: LL201 [^]*other\.py:2:\d+: LL101 /, threaded.stdout + threaded.stderr);
});

test('the packaged CLI runs code with the packaged runner (leaklens run), away from the repository', { skip: spawnSync('python3', ['-c', 'pass']).error ? 'no python3 on this machine' : false }, () => {
  const dist = join(work, 'extracted-run', 'extension', 'dist');
  mkdirSync(join(dist, 'runtime'), { recursive: true });
  mkdirSync(join(dist, 'runtime', 'leaklens_runner'));
  const runnerFiles = names.filter((n) => n.startsWith('extension/dist/runtime/leaklens_runner/')).map((n) => n.slice('extension/dist/'.length));
  assert.deepEqual(
    runnerFiles.map((f) => f.slice('runtime/leaklens_runner/'.length)).sort(),
    readdirSync(join(ROOT, 'server', 'python', 'leaklens_runner')).filter((f) => f.endsWith('.py')).sort(),
    'every module of the runner package is in the .vsix',
  );
  for (const file of ['leaklens.js', ...runnerFiles]) {
    writeFileSync(join(dist, file), extract(zip, entry(`extension/dist/${file}`)));
  }
  writeFileSync(join(work, 'grows.py'), '_SEEN = []\n\n\ndef remember():\n    _SEEN.append([0] * 20)\n');
  const result = spawnSync(process.execPath, [join(dist, 'leaklens.js'), 'run', 'growth', 'grows.py:remember', '--format', 'json', '--rounds', '3', '--calls', '20'], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(result.status, 1, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.runner.file, realpathSync(join(dist, 'runtime', 'leaklens_runner')));
  assert.deepEqual(report.findings.map((f: { verdict: string; location: { line: number } }) => [f.verdict, f.location.line]), [['leak', 5]]);
});

test('the packaged CLI draws the retention path with the packaged Graphviz (dist/viz.cjs), away from the repository', { skip: spawnSync('python3', ['-c', 'pass']).error ? 'no python3 on this machine' : false }, () => {
  const dist = join(work, 'extracted-svg', 'extension', 'dist');
  mkdirSync(join(dist, 'runtime', 'leaklens_runner'), { recursive: true });
  const runnerFiles = names.filter((n) => n.startsWith('extension/dist/runtime/leaklens_runner/')).map((n) => n.slice('extension/dist/'.length));
  for (const file of ['leaklens.js', 'viz.cjs', ...runnerFiles]) {
    writeFileSync(join(dist, file), extract(zip, entry(`extension/dist/${file}`)));
  }
  writeFileSync(join(work, 'keeps.py'), '_KEPT = []\n\n\ndef keep():\n    _KEPT.append([0] * 20)\n');
  const result = spawnSync(process.execPath, [join(dist, 'leaklens.js'), 'run', 'growth', 'keeps.py:keep', '--format', 'svg', '--rounds', '3', '--calls', '20'], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(result.status, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^<\?xml [^]*<svg [^]*<\/svg>\s*$/);
  assert.equal((result.stdout.match(/<g id="node\d+" class="node[ "]/g) ?? []).length, 3, result.stdout);
  assert.match(result.stdout, />_KEPT<\/text>/);
  assert.match(result.stdout, /xlink:href="file:\/\/\/[^"]*keeps\.py#L5"/);
});
