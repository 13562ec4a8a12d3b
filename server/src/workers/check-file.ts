// The work done for one file of a `leaklens check` run or a workspace scan: read and decode it,
// compute its fixes when asked, analyse it. Runs in a worker thread (worker.ts) or in-process
// (runner.ts) with the same code; takes and returns plain data only (structured-clone safe).
// Never writes a file: the caller writes fixed bytes, so a worker stopped mid-job (time limit)
// cannot leave a half-written file behind.
import { Analyzer, AnalyzedFinding } from '../analysis/engine';
import { describeGenerated, generatedMarker } from '../analysis/generated';
import { CellTracker, findingsInCells, isNotebookPath, notebookMap, NotebookMap, readNotebook, replaceSources } from '../analysis/notebook';
import { LineIndex } from '../analysis/text';
import { AnalysisOptions, Fix } from '../analysis/types';
import { isWasmTrap } from '../parsing/grammar';
import { decodeSource, encodeSource, readSource } from '../workspace/files';

export interface FileJob {
  path: string;
  options: AnalysisOptions;
  maxFileSize: number;
  /** check: analyse; fix: also compute the fixed bytes; diff: compute the fixed text, write nothing. */
  mode: 'check' | 'fix' | 'diff';
  /** Apply unsafe fixes too (fix, diff). */
  unsafe?: boolean;
  /** Analyse (after fixing, in fix mode); false for `--diff` without `--statistics`. */
  analyze: boolean;
  /** The source itself (standard input) instead of reading `path`. */
  input?: Uint8Array;
}

export interface FileResult {
  /** sha256 of the bytes read (absent when none were: too large, not a file, a refused read). */
  digest?: string;
  /** The file could not be read or decoded (binary, too large, unknown encoding): why. */
  unreadable?: string;
  /** With `unreadable`: the system refused the read (a failure, not a deliberate skip). */
  readFailed?: boolean;
  /** The analysis hit a WebAssembly trap: the runtime that ran it must be recreated before the next file. */
  trap?: string;
  /** The analysed text, present only when there are findings: positions are computed from it. */
  text?: string;
  /** A notebook: `text` is its virtual module, and this says where its code cells start. */
  notebook?: NotebookMap;
  /** A notebook whose kernel is not Python: not analysed (said with --verbose). */
  notPython?: string;
  /** A notebook's fixes that were not applied (an edit across cells or over a masked magic): title and why. */
  refusedFixes?: string[];
  findings: AnalyzedFinding[];
  /** Not analysed nor fixed because it is a generated file (`includeGenerated` off): the marker, described. */
  generated?: string;
  /** Not parsed: no selected rule can report anything in the text (the rules' pre-filters); nothing else was decided. */
  unparsed?: boolean;
  /** Not analysed: the engine's reason (e.g. nesting deeper than Python allows). */
  skipReason?: string;
  ruleFailures?: string[];
  /** The file does not parse: where its first syntax error is (1-based line, column in UTF-16 units + 1). */
  syntaxError?: { line: number; column: number; cell?: number };
  /** The analysis threw (a fix computed before that is still reported). */
  error?: string;
  /** fix mode, when fixes applied: the new bytes in the file's own encoding, or why there are none. */
  fix?: { applied: number; bytes?: Uint8Array; unencodable?: string; original?: string; before?: string; after?: string };
  /** diff mode, when fixes changed the text: both texts and how the file is encoded. */
  diff?: { applied: number; before: string; after: string; encoding: string; bom: boolean; compile?: [string, string] };
}

export function checkFile(analyzer: Analyzer, job: FileJob): FileResult {
  const source = job.input ? decodeSource(job.input, job.maxFileSize) : readSource(job.path, job.maxFileSize);
  const result: FileResult = { findings: [] };
  if (source.digest !== undefined) result.digest = source.digest;
  if (!source.ok) {
    result.unreadable = source.reason;
    if (source.ioError) result.readFailed = true;
    return result;
  }
  if (isNotebookPath(job.path)) return checkNotebook(analyzer, job, source, result);
  let text = source.text;
  const generated = job.options.includeGenerated ? undefined : generatedMarker(text);
  if (generated) {
    result.generated = describeGenerated(generated);
    return result;
  }
  if (notParsed(analyzer, job, text, result)) return result;
  try {
    if (job.mode === 'diff') {
      const fixed = analyzer.fixText(text, job.options, !!job.unsafe);
      if (fixed.applied > 0 && fixed.text !== text) {
        result.diff = { applied: fixed.applied, before: text, after: fixed.text, encoding: source.encoding, bom: source.bom };
      }
    } else if (job.mode === 'fix') {
      const fixed = analyzer.fixText(text, job.options, !!job.unsafe);
      if (fixed.applied > 0) {
        const bytes = encodeSource(fixed.text, source.encoding, source.bom);
        if (bytes) {
          result.fix = { applied: fixed.applied, bytes, original: source.digest, before: text, after: fixed.text };
          text = fixed.text;
        } else {
          result.fix = { applied: fixed.applied, unencodable: source.encoding };
        }
      }
    }
    if (job.analyze) analyze(analyzer, job, text, result);
  } catch (err) {
    failed(err, result);
  }
  return result;
}

/**
 * No selected rule can report anything in this text (their pre-filters, `Analyzer.mayReport`):
 * the file is not parsed, so it has no findings, no fixes, no syntax-error position and no skip
 * reason — nothing was checked. Marked `unparsed` for `--verbose`.
 */
function notParsed(analyzer: Analyzer, job: FileJob, text: string, result: FileResult): boolean {
  if (analyzer.mayReport(text, job.options)) return false;
  result.unparsed = true;
  return true;
}

function failed(err: unknown, result: FileResult): void {
  if (isWasmTrap(err)) result.trap = `WebAssembly trap: ${(err as Error).message}`;
  result.error = isWasmTrap(err) ? `${result.trap} (the parser was restarted for the other files)` : (err as Error).message;
  result.findings = [];
  delete result.text;
}

function analyze(analyzer: Analyzer, job: FileJob, text: string, result: FileResult, notebook?: NotebookMap): void {
  const analysis = analyzer.analyzeText(text, job.options);
  result.findings = analysis.findings;
  result.skipReason = analysis.skipReason;
  result.ruleFailures = analysis.ruleFailures;
  if (analysis.syntaxErrorAt !== undefined) {
    const lines = new LineIndex(text);
    const at = lines.position(analysis.syntaxErrorAt);
    result.syntaxError = { line: at.line + 1, column: at.character + 1 };
    if (notebook && notebook.starts.length) {
      let k = 0;
      while (k + 1 < notebook.starts.length && notebook.starts[k + 1] <= analysis.syntaxErrorAt) k++;
      result.syntaxError = { cell: notebook.numbers[k], line: at.line - lines.lineOf(notebook.starts[k]) + 1, column: at.character + 1 };
    }
  }
  if (analysis.findings.length) {
    result.text = text;
    if (notebook) result.notebook = notebook;
  }
}

/**
 * A notebook: its code cells analysed as one module (analysis/notebook.ts). Fixes are applied to
 * the module, except those an edit of which crosses a cell boundary or touches masked IPython
 * syntax, and written back into the changed cells' `source` values only.
 */
function checkNotebook(analyzer: Analyzer, job: FileJob, source: { text: string; encoding: string; bom: boolean; digest?: string }, result: FileResult): FileResult {
  const read = readNotebook(source.text);
  if (!read.ok) {
    result.error = read.reason;
    return result;
  }
  const nb = read.notebook;
  if (nb.language !== 'python') {
    result.notPython = `notebook language is '${nb.language}' (only Python notebooks are checked)`;
    return result;
  }
  let text = nb.module;
  let map = notebookMap(nb);
  let current = nb;
  const generated = job.options.includeGenerated ? undefined : generatedMarker(text);
  if (generated) {
    result.generated = describeGenerated(generated);
    return result;
  }
  if (notParsed(analyzer, job, text, result)) return result;
  try {
    if (job.mode !== 'check') {
      const tracker = new CellTracker(nb);
      const refused = new Set<string>();
      const fixed = analyzer.fixText(text, job.options, !!job.unsafe, {
        mayApply: (fix: Fix) => {
          const why = tracker.refusal(fix.edits);
          if (why) refused.add(`${fix.title}: ${why}`);
          return !why;
        },
        applied: (edits) => tracker.apply(edits),
      });
      if (refused.size) result.refusedFixes = [...refused];
      const json = fixed.applied > 0 ? replaceCells(source.text, nb, tracker, fixed.text) : source.text;
      if (json !== source.text) {
        if (job.mode === 'diff') {
          result.diff = { applied: fixed.applied, before: source.text, after: json, encoding: source.encoding, bom: source.bom, compile: [text, fixed.text] };
        } else {
          const bytes = encodeSource(json, source.encoding, source.bom);
          const again = readNotebook(json);
          if (!bytes || !again.ok) {
            result.fix = { applied: fixed.applied, unencodable: source.encoding };
          } else {
            result.fix = { applied: fixed.applied, bytes, original: source.digest, before: text, after: fixed.text };
            text = again.notebook.module;
            map = notebookMap(again.notebook);
            current = again.notebook;
          }
        }
      }
    }
    if (job.analyze) {
      analyze(analyzer, job, text, result, map);
      // Fixes --fix would refuse here (an edit across cells, over a magic) are not offered at all;
      // a line a message names is a cell's line.
      result.findings = findingsInCells(result.findings, current);
    }
  } catch (err) {
    failed(err, result);
  }
  return result;
}

function replaceCells(json: string, nb: Parameters<typeof replaceSources>[1], tracker: CellTracker, fixed: string): string {
  return replaceSources(json, nb, tracker.changedSources(fixed));
}
