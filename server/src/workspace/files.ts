// Finding Python files on disk and decoding them. Shared by the CLI and the server's
// workspace features; knows nothing about LSP.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import ignore, { Ignore } from 'ignore';
import picomatch from 'picomatch';
import { TextDecoder } from 'node:util';

/**
 * Folder names never descended into: Ruff's default `exclude` list (version control, tool caches,
 * environments, build output), so that LeakLens and Ruff see the same files, `__pycache__`, and
 * LeakLens's own result cache.
 */
export const SKIPPED_DIRS = new Set([
  '.bzr', '.direnv', '.eggs', '.git', '.git-rewrite', '.hg', '.ipynb_checkpoints', '.mypy_cache', '.nox', '.pants.d',
  '.pyenv', '.pytest_cache', '.pytype', '.ruff_cache', '.svn', '.tox', '.venv', '.vscode', '__pypackages__', '_build',
  'buck-out', 'build', 'dist', 'node_modules', 'site-packages', 'venv', '__pycache__', '.leaklens_cache',
]);
export const DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024;

/** Type stubs (`.pyi`) declare types and never run: nothing in them can leak, and fixes would only churn them. */
export const STUB_REASON = 'type stub (.pyi): stubs are not analysed';
export function isStub(pathOrUri: string): boolean {
  return /\.pyi$/i.test(pathOrUri);
}

/** A virtual environment (venv/virtualenv: pyvenv.cfg) or a conda environment (conda-meta/). */
function isVirtualEnv(dir: string): boolean {
  try {
    return statSync(join(dir, 'pyvenv.cfg')).isFile() || statSync(join(dir, 'conda-meta')).isDirectory();
  } catch {
    try {
      return statSync(join(dir, 'conda-meta')).isDirectory();
    } catch {
      return false;
    }
  }
}

export interface DiscoveryOptions {
  /** Globs of paths to skip, relative to `base`; a glob without '/' matches any path component. */
  exclude?: readonly string[];
  base?: string;
  /** Honour .gitignore files found while walking (default true). */
  gitignore?: boolean;
  /** Called for every file or folder left out, with the reason. */
  onSkip?: (path: string, reason: string) => void;
  /** Also find Jupyter notebooks (`.ipynb`), under the same rules as `.py` files (the CLI, and the server's workspace scan). */
  notebooks?: boolean;
  /** Called for a folder the system refused to list (default: onSkip): a failure, not a choice. */
  onUnreadable?: (path: string, reason: string) => void;
}

/** A predicate for the `exclude` globs of one configuration. */
export function excludeMatcher(globs: readonly string[], base: string): (path: string) => boolean {
  if (globs.length === 0) return () => false;
  const anchored = picomatch(globs.filter((g) => g.includes('/')).map((g) => g.replace(/^\.\//, '')), { dot: true });
  const component = picomatch(globs.filter((g) => !g.includes('/')), { dot: true });
  return (path: string) => {
    const rel = relative(base, path).split(sep).join('/');
    if (rel.startsWith('..') || rel === '') return false;
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) if (anchored(parts.slice(0, i).join('/'))) return true;
    return parts.some((p) => component(p));
  };
}

interface GitIgnoreLevel {
  dir: string;
  rules: Ignore;
}

function gitIgnored(levels: readonly GitIgnoreLevel[], path: string, isDir: boolean): boolean {
  for (const level of levels) {
    const rel = relative(level.dir, path).split(sep).join('/');
    if (rel && !rel.startsWith('..') && level.rules.ignores(isDir ? rel + '/' : rel)) return true;
  }
  return false;
}

function readGitIgnore(dir: string): GitIgnoreLevel | undefined {
  try {
    return { dir, rules: ignore().add(readFileSync(join(dir, '.gitignore'), 'utf8')) };
  } catch {
    return undefined;
  }
}

function isDirectoryLink(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Python files under each path (a file path is taken as given, except a stub), sorted. */
export function discoverPythonFiles(paths: readonly string[], options: DiscoveryOptions = {}): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const excluded = excludeMatcher(options.exclude ?? [], resolve(options.base ?? '.'));
  const useGitIgnore = options.gitignore !== false;
  const skip = options.onSkip ?? (() => undefined);
  const walk = (dir: string, levels: GitIgnoreLevel[]) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      (options.onUnreadable ?? skip)(dir, `cannot read folder: ${(err as Error).message}`);
      return;
    }
    const here = useGitIgnore ? readGitIgnore(dir) : undefined;
    const active = here ? [...levels, here] : levels;
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (SKIPPED_DIRS.has(entry.name)) {
          skip(full, 'always skipped');
          continue;
        }
        if (isVirtualEnv(full)) {
          skip(full, 'virtual environment');
          continue;
        }
        if (excluded(full)) {
          skip(full, 'matches exclude');
          continue;
        }
        if (gitIgnored(active, full, true)) {
          skip(full, 'ignored by .gitignore');
          continue;
        }
        walk(full, active);
      } else if (entry.isSymbolicLink()) {
        // Not followed, as git and Ruff do: a link may point out of the tree or into a loop, and
        // the file it names is checked where it lives. Given by name, a link is followed.
        if (/\.pyi?$/.test(entry.name) || (options.notebooks && entry.name.endsWith('.ipynb'))) skip(full, 'symbolic link: not followed while walking a folder (name it to check it)');
        else if (isDirectoryLink(full)) skip(full, 'symbolic link to a folder: not followed');
      } else if (entry.isFile() && (entry.name.endsWith('.py') || entry.name.endsWith('.pyi') || (options.notebooks && entry.name.endsWith('.ipynb')))) {
        if (isStub(entry.name)) skip(full, STUB_REASON);
        else if (excluded(full)) skip(full, 'matches exclude');
        else if (gitIgnored(active, full, false)) skip(full, 'ignored by .gitignore');
        else files.push(full);
      }
    }
  };
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      missing.push(p);
      continue;
    }
    if (st.isDirectory()) walk(abs, []);
    else if (isStub(abs)) skip(abs, STUB_REASON);
    else files.push(abs);
  }
  files.sort();
  return { files, missing };
}

/**
 * Why discovery from `root` would leave `path` out (always-skipped or virtual-environment
 * folders on the way, `exclude` globs, `.gitignore` files from `root` down), or undefined when
 * it would be found. For single files reported later, e.g. by a file watcher: they must meet
 * the same rules as the files a scan finds. Size and encoding are checked when the file is read.
 */
export function discoverySkipReason(path: string, root: string, options: DiscoveryOptions = {}): string | undefined {
  const abs = resolve(path);
  const top = resolve(root);
  const rel = relative(top, abs);
  if (rel === '' || rel.startsWith('..') || resolve(top, rel) !== abs) return undefined;
  const excluded = excludeMatcher(options.exclude ?? [], resolve(options.base ?? top));
  const useGitIgnore = options.gitignore !== false;
  const parts = rel.split(sep);
  let levels: GitIgnoreLevel[] = [];
  let dir = top;
  for (let i = 0; i < parts.length; i++) {
    if (useGitIgnore) {
      const here = readGitIgnore(dir);
      if (here) levels = [...levels, here];
    }
    const full = join(dir, parts[i]);
    const isDir = i < parts.length - 1;
    if (isDir) {
      if (SKIPPED_DIRS.has(parts[i])) return `inside ${full}: always skipped`;
      if (isVirtualEnv(full)) return `inside ${full}: virtual environment`;
      if (excluded(full)) return `inside ${full}: matches exclude`;
      if (gitIgnored(levels, full, true)) return `inside ${full}: ignored by .gitignore`;
    } else {
      if (isStub(full)) return STUB_REASON;
      if (excluded(full)) return 'matches exclude';
      if (gitIgnored(levels, full, false)) return 'ignored by .gitignore';
    }
    dir = full;
  }
  return undefined;
}

/** `ioError`: the system refused the read (permissions, I/O): the file could not be read, not merely skipped. */
export type Decoded = { ok: true; text: string; encoding: string; bom: boolean; digest?: string } | { ok: false; reason: string; ioError?: boolean; digest?: string };

const CODING = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;

/**
 * UTF-32 or UTF-16 text, told by its byte order mark, or (without one) by NUL bytes that are
 * every other byte, all on the same side, as ASCII text in UTF-16 has them.
 */
function wideEncoding(bytes: Uint8Array): string | undefined {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe && bytes[2] === 0 && bytes[3] === 0) || (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff)) return 'UTF-32';
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return 'UTF-16';
  if (bytes.length < 4 || bytes.length % 2 !== 0) return undefined;
  const n = Math.min(bytes.length, 4096);
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i++) if (bytes[i] === 0) (i % 2 ? odd++ : even++);
  const half = n / 2;
  return (odd >= half * 0.9 && even === 0) || (even >= half * 0.9 && odd === 0) ? 'UTF-16' : undefined;
}

/** Decodes Python source: a BOM, a PEP 263 coding line, else strict UTF-8. Binary input is refused. */
export function decodeSource(bytes: Uint8Array, maxSize = DEFAULT_MAX_FILE_SIZE): Decoded {
  if (bytes.length > maxSize) return { ok: false, reason: `larger than max-file-size (${bytes.length} > ${maxSize} bytes)` };
  const wide = wideEncoding(bytes);
  if (wide) return { ok: false, reason: `${wide} is not supported (CPython reads source as UTF-8 or an ASCII-compatible coding); save it as UTF-8` };
  if (bytes.indexOf(0) !== -1) return { ok: false, reason: 'binary file (contains NUL bytes)' };
  let encoding = 'utf-8';
  let body = bytes;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  if (bom) {
    body = bytes.subarray(3);
  } else {
    const head = Buffer.from(bytes.subarray(0, 400)).toString('latin1').split(/\r\n|\r|\n/, 2);
    for (const line of head) {
      const m = CODING.exec(line);
      if (m) {
        encoding = m[1].toLowerCase().replace(/_/g, '-');
        break;
      }
    }
  }
  const decoder = decoderFor(encoding);
  if (!decoder) return { ok: false, reason: `unknown encoding '${encoding}'` };
  try {
    return { ok: true, text: decoder.decode(body), encoding: decoder.encoding, bom };
  } catch {
    return { ok: false, reason: `not valid ${encoding}` };
  }
}

/** A decoder for a Python codec name (`latin-1`, `utf8`, `iso8859_15`), via its WHATWG label. */
function decoderFor(encoding: string): TextDecoder | undefined {
  const candidates = [encoding, encoding.replace(/-/g, ''), encoding.replace(/^iso-?(\d+)-?/, 'iso-$1-'), encoding.replace(/-sig$/, '')];
  for (const label of candidates) {
    try {
      return new TextDecoder(label, { fatal: true });
    } catch {
      // not a label this runtime knows; try the next spelling
    }
  }
  return undefined;
}

export function readSource(path: string, maxSize = DEFAULT_MAX_FILE_SIZE): Decoded {
  let bytes: Buffer;
  try {
    const st = statSync(path);
    // Reading a FIFO or a character device named *.py would block (or never end).
    if (st.isDirectory()) return { ok: false, reason: 'is a directory' };
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    const size = st.size;
    if (size > maxSize) return { ok: false, reason: `larger than max-file-size (${size} > ${maxSize} bytes)` };
    bytes = readFileSync(path);
  } catch (err) {
    return { ok: false, reason: (err as Error).message, ioError: true };
  }
  // The digest of the bytes read, whatever they decode to (the CLI's result cache is keyed by it).
  return { ...decodeSource(bytes, maxSize), digest: digestOf(bytes) };
}

/** The fingerprint `--fix` compares before writing, to leave a file alone that changed since it was read. */
export function digestOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Encodes fixed source the way it was read, or returns undefined when that encoding cannot be
 * written faithfully here (the file is then left untouched).
 */
export function encodeSource(text: string, encoding: string, bom: boolean): Buffer | undefined {
  if (encoding === 'utf-8') return Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
  if (encoding === 'windows-1252' || encoding === 'iso-8859-1') {
    // Only when every character fits in one byte of Latin-1; anything else would be mangled.
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return undefined;
    const out = Buffer.from(text, 'latin1');
    return out;
  }
  return undefined;
}
