// Configuration: `[tool.leaklens]` in the nearest pyproject.toml, validated into analysis
// options plus the file-selection settings. Shared by the CLI and the server; a broken file
// yields messages (file, line, what is wrong) and the defaults, never an exception.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { AnalysisOptions, Severity } from '../analysis/types';
import { DEFAULT_OPTIONS } from '../analysis/types';
import { DEFAULT_MAX_FILE_SIZE } from './files';

export interface ConfigProblem {
  file: string;
  /** 1-based line, when known. */
  line?: number;
  message: string;
}

export interface Settings {
  options: AnalysisOptions;
  /** Globs (relative to the configuration's folder) of paths to skip. */
  exclude: string[];
  maxFileSize: number;
  /** `cache-dir`: where `leaklens check` keeps its result cache (absolute; from the pyproject's folder). CLI only. */
  cacheDir?: string;
}

export interface LoadedConfig {
  settings: Settings;
  /** The pyproject.toml that supplied settings, if any. */
  source?: string;
  problems: ConfigProblem[];
}

export const DEFAULT_SETTINGS: Settings = { options: DEFAULT_OPTIONS, exclude: [], maxFileSize: DEFAULT_MAX_FILE_SIZE };

const SEVERITIES = new Set<Severity>(['error', 'warning', 'info', 'hint']);
const KNOWN_KEYS = ['select', 'extend-select', 'ignore', 'severity', 'exclude', 'extend-exclude', 'resource-factories', 'large-object-threshold', 'target-version', 'max-file-size', 'include-generated', 'all-findings', 'cache-dir'];
const CODE_PREFIX = /^(LL\d{0,3}|ALL)$/i;

/** The nearest pyproject.toml at or above `start` (a file or folder) that has a [tool.leaklens] table, else the nearest one. */
export function findPyproject(start: string): string | undefined {
  let dir = resolve(start);
  if (existsSync(dir) && !isDirectory(dir)) dir = dirname(dir);
  let nearest: string | undefined;
  for (;;) {
    const candidate = join(dir, 'pyproject.toml');
    if (existsSync(candidate)) {
      nearest ??= candidate;
      try {
        if (/^\s*\[tool\.leaklens\]/m.test(readFileSync(candidate, 'utf8'))) return candidate;
      } catch {
        // unreadable: keep looking upwards
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return nearest;
    dir = parent;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Line of `key =` inside the [tool.leaklens] table, to point messages at it. */
function lineOfKey(text: string, key: string): number | undefined {
  const lines = text.split(/\r\n|\r|\n/);
  let inTable = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l.startsWith('[')) inTable = /^\[tool\.leaklens(\.[^\]]+)?\]/.test(l);
    else if (inTable && new RegExp(`^["']?${key.replace(/[-.]/g, '\\$&')}["']?\\s*=`).test(l)) return i + 1;
  }
  return undefined;
}

/** "2MB", "500 kB", 1048576 → bytes. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * factor);
}

export function parseTargetVersion(value: unknown): { major: number; minor: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(?:py)?3\.?(\d{1,2})$/.exec(value.trim());
  if (!m) return undefined;
  const minor = Number(m[1]);
  return minor >= 8 && minor <= 14 ? { major: 3, minor } : undefined;
}

/**
 * Validates a `[tool.leaklens]`-shaped table (from TOML or from editor settings) on top of
 * `base`. Problems name the key; `where` supplies file and line.
 */
export function applyTable(base: Settings, table: Record<string, unknown>, where: (key: string) => { file: string; line?: number }): { settings: Settings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const options: AnalysisOptions = { ...base.options };
  const settings: Settings = { ...base, options };
  const problem = (key: string, message: string) => problems.push({ ...where(key), message: `${key}: ${message}` });
  const stringList = (key: string): string[] | undefined => {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    problem(key, 'expected a list of strings');
    return undefined;
  };
  for (const key of Object.keys(table)) {
    if (!KNOWN_KEYS.includes(key)) problem(key, `unknown option (known: ${KNOWN_KEYS.join(', ')})`);
  }
  for (const [key, field] of [['select', 'select'], ['extend-select', 'extendSelect'], ['ignore', 'ignore']] as const) {
    const codes = stringList(key);
    if (!codes) continue;
    const bad = codes.filter((c) => !CODE_PREFIX.test(c));
    if (bad.length) problem(key, `not a rule code or prefix (or ALL): ${bad.join(', ')}`);
    options[field] = codes.filter((c) => CODE_PREFIX.test(c)).map((c) => c.toUpperCase());
  }
  if (table.severity !== undefined) {
    const sev = table.severity;
    if (typeof sev !== 'object' || sev === null || Array.isArray(sev)) problem('severity', 'expected a table of CODE = "error" | "warning" | "info" | "hint"');
    else {
      const out: Record<string, Severity> = { ...options.severity };
      for (const [code, level] of Object.entries(sev)) {
        if (!/^LL\d{3}$/i.test(code)) problem('severity', `not a rule code: ${code}`);
        else if (typeof level !== 'string' || !SEVERITIES.has(level as Severity)) problem('severity', `${code}: expected one of error, warning, info, hint`);
        else out[code.toUpperCase()] = level as Severity;
      }
      options.severity = out;
    }
  }
  const exclude = stringList('exclude');
  // `extend-exclude` (Ruff's spelling for "more than the defaults") adds to `exclude`.
  const extend = stringList('extend-exclude');
  if (exclude || extend) settings.exclude = [...(exclude ?? settings.exclude ?? []), ...(extend ?? [])];
  const factories = stringList('resource-factories');
  if (factories) {
    const bad = factories.filter((f) => !/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(f));
    if (bad.length) problem('resource-factories', `not a dotted name: ${bad.join(', ')}`);
    options.resourceFactories = factories.filter((f) => !bad.includes(f));
  }
  if (table['large-object-threshold'] !== undefined) {
    const v = table['large-object-threshold'];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) options.largeObjectThreshold = v;
    else if (typeof v === 'bigint' && v > 0n) options.largeObjectThreshold = Number(v);
    else problem('large-object-threshold', 'expected a positive whole number');
  }
  if (table['target-version'] !== undefined) {
    const v = parseTargetVersion(table['target-version']);
    if (v) options.targetVersion = v;
    else problem('target-version', 'expected a version from "3.8" to "3.14"');
  }
  if (table['include-generated'] !== undefined) {
    const v = table['include-generated'];
    if (typeof v === 'boolean') options.includeGenerated = v;
    else problem('include-generated', 'expected true or false');
  }
  if (table['all-findings'] !== undefined) {
    const v = table['all-findings'];
    if (typeof v === 'boolean') options.allFindings = v;
    else problem('all-findings', 'expected true or false');
  }
  if (table['max-file-size'] !== undefined) {
    const raw = table['max-file-size'];
    const v = parseSize(typeof raw === 'bigint' ? Number(raw) : raw);
    if (v) settings.maxFileSize = v;
    else problem('max-file-size', 'expected a size in bytes or a string like "2MB"');
  }
  if (table['cache-dir'] !== undefined) {
    const v = table['cache-dir'];
    if (typeof v === 'string' && v.trim() !== '') settings.cacheDir = v;
    else problem('cache-dir', 'expected a folder name');
  }
  return { settings, problems };
}

/** Reads `[tool.leaklens]` from a pyproject.toml; on any problem the defaults stay in force for what is wrong. */
export function loadPyproject(file: string, base: Settings = DEFAULT_SETTINGS): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { settings: base, problems: [{ file, message: `cannot read: ${(err as Error).message}` }] };
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const message = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      return { settings: base, problems: [{ file, line: err.line, message: `invalid TOML: ${message}; using the defaults` }] };
    }
    return { settings: base, problems: [{ file, message: `invalid TOML: ${(err as Error).message}; using the defaults` }] };
  }
  const tool = doc.tool as Record<string, unknown> | undefined;
  const table = tool?.leaklens;
  if (table === undefined) return { settings: base, problems: [] };
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    return { settings: base, source: file, problems: [{ file, line: lineOfKey(text, 'leaklens'), message: '[tool.leaklens] must be a table' }] };
  }
  const { settings, problems } = applyTable(base, table as Record<string, unknown>, (key) => ({ file, line: lineOfKey(text, key) }));
  // A relative cache-dir is relative to the pyproject.toml that names it, wherever leaklens runs from.
  if (settings.cacheDir !== undefined) settings.cacheDir = resolve(dirname(file), settings.cacheDir);
  return { settings, source: file, problems };
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

/** Editor setting names (leaklens.*) → their [tool.leaklens] key, with the contributed defaults. */
const EDITOR_KEYS: Array<[string, string, unknown]> = [
  ['select', 'select', []],
  ['extendSelect', 'extend-select', []],
  ['ignore', 'ignore', []],
  ['severity', 'severity', {}],
  ['exclude', 'exclude', []],
  ['resourceFactories', 'resource-factories', []],
  ['largeObjectThreshold', 'large-object-threshold', 100000],
  ['targetVersion', 'target-version', '3.9'],
  ['maxFileSize', 'max-file-size', '2MB'],
  ['includeGenerated', 'include-generated', false],
  ['allFindings', 'all-findings', false],
];

/**
 * Editor settings (`leaklens.*`) on top of the file's configuration. A setting equal to its
 * contributed default is taken as unset, so it does not override pyproject.toml.
 */
export function applyEditorSettings(base: Settings, values: Record<string, unknown> | null | undefined, scope: string): { settings: Settings; problems: ConfigProblem[] } {
  const table: Record<string, unknown> = {};
  for (const [name, key, fallback] of EDITOR_KEYS) {
    const value = values?.[name];
    if (value === undefined || value === null) continue;
    if (JSON.stringify(value) === JSON.stringify(fallback)) continue;
    table[key] = value;
  }
  const { settings, problems } = applyTable(base, table, () => ({ file: `VS Code settings (${scope})` }));
  return { settings, problems: problems.map((p) => ({ ...p, message: `leaklens.${EDITOR_KEYS.find(([, k]) => p.message.startsWith(k + ':'))?.[0] ?? ''}${p.message.slice(p.message.indexOf(':'))}` })) };
}
