// `--format sarif`: SARIF 2.1.0 (OASIS), with every rule's metadata in tool.driver.rules, as
// GitHub code scanning and other SARIF viewers read it.
//
// Positions: SARIF lines and columns are 1-based, and an end column points just past the last
// character of the region. Columns here are UTF-16 code units (the unit of our offsets, of LSP
// and of JavaScript strings), which the run declares with `columnKind: "utf16CodeUnits"`.
import { isAbsolute, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderMarkdown, renderText } from '../analysis/docs';
import type { OffsetEdit, Rule, Severity } from '../analysis/types';
import { displayPath, FileFailure, FileFindings, JsonPosition, positions } from './output';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const SRCROOT = '%SRCROOT%';

type Level = 'error' | 'warning' | 'note';

const LEVELS: Record<Severity, Level> = { error: 'error', warning: 'warning', info: 'note', hint: 'note' };

interface ArtifactLocation {
  uri: string;
  uriBaseId?: string;
}

interface Region {
  startLine: number;
  startColumn: number;
  endLine: number;
  endColumn: number;
  /** A notebook: the region is in this cell (1-based among all cells); its lines are the cell's. */
  properties?: { cell: number; endCell?: number };
}

/** A cwd-relative URI reference with `/` and escaped segments under %SRCROOT%, else an absolute file URI. */
export function artifactLocation(path: string, cwd = process.cwd()): ArtifactLocation {
  const rel = relative(cwd, path);
  const outside = rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel);
  if (outside) return { uri: pathToFileURL(path).href };
  return { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

function region(at: (offset: number, isEnd?: boolean) => JsonPosition, start: number, end: number): Region {
  const s = at(start);
  const e = at(end, true);
  const out: Region = { startLine: s.line, startColumn: s.column, endLine: e.line, endColumn: e.column };
  if (s.cell !== undefined) out.properties = e.cell !== undefined && e.cell !== s.cell ? { cell: s.cell, endCell: e.cell } : { cell: s.cell };
  return out;
}

function ruleDescriptor(rule: Rule): unknown {
  return {
    id: rule.code,
    name: rule.name,
    shortDescription: { text: rule.docs.summary },
    fullDescription: { text: rule.docs.whatItDoes },
    help: { text: renderText(rule), markdown: renderMarkdown(rule) },
    defaultConfiguration: { level: LEVELS[rule.defaultSeverity] },
    properties: { tags: [rule.category] },
  };
}

export function toSarif(files: readonly FileFindings[], rules: readonly Rule[], toolVersion: string, cwd = process.cwd(), failures: readonly FileFailure[] = []): unknown {
  const index = new Map(rules.map((r, i) => [r.code, i]));
  const results: unknown[] = [];
  for (const file of files) {
    const lines = positions(file);
    const artifact = artifactLocation(file.path, cwd);
    const physical = (start: number, end: number) => ({ artifactLocation: artifact, region: region(lines, start, end) });
    for (const f of file.findings) {
      const result: Record<string, unknown> = {
        ruleId: f.code,
        ...(index.has(f.code) ? { ruleIndex: index.get(f.code) } : {}),
        level: LEVELS[f.severity],
        message: { text: f.message },
        locations: [{ physicalLocation: physical(f.start, f.end) }],
      };
      if (f.related.length) {
        result.relatedLocations = f.related.map((r, i) => ({ id: i + 1, physicalLocation: physical(r.start, r.end), message: { text: r.message } }));
      }
      // A notebook's fix edits are in cells, not in the artifact's JSON text: SARIF fixes would misplace them.
      const safe = file.notebook ? [] : f.fixes.filter((x) => x.safety === 'safe');
      if (safe.length) {
        result.fixes = safe.map((fix) => ({
          description: { text: fix.title },
          artifactChanges: [
            {
              artifactLocation: artifact,
              replacements: [...fix.edits]
                .sort((a: OffsetEdit, b: OffsetEdit) => a.start - b.start || a.end - b.end)
                .map((e) => ({ deletedRegion: region(lines, e.start, e.end), insertedContent: { text: e.text } })),
            },
          ],
        }));
      }
      results.push(result);
    }
  }
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'LeakLens',
            version: toolVersion,
            semanticVersion: toolVersion,
            rules: rules.map(ruleDescriptor),
          },
        },
        // The absolute folder that relative artifact URIs are resolved against (a trailing '/' is required).
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(cwd).href.replace(/\/?$/, '/') } },
        columnKind: 'utf16CodeUnits',
        // Files that could not be read, checked or written: the run did not cover them.
        invocations: [
          {
            executionSuccessful: failures.length === 0,
            toolExecutionNotifications: failures.map((f) => ({
              level: 'error',
              message: { text: `${displayPath(f.path)} could not be checked: ${f.reason}` },
              locations: [{ physicalLocation: { artifactLocation: artifactLocation(f.path, cwd) } }],
            })),
          },
        ],
        results,
      },
    ],
  };
}
