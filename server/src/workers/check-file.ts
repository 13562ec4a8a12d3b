// The work done for one file of a `leaklens check` run or a workspace scan: read and decode it,
// compute its fixes when asked, analyse it. Runs in a worker thread (worker.ts) or in-process
// (runner.ts) with the same code; takes and returns plain data only (structured-clone safe).
// Never writes a file: the caller writes fixed bytes, so a worker stopped mid-job (time limit)
// cannot leave a half-written file behind.
import { Analyzer, AnalyzedFinding } from '../analysis/engine';
import { describeGenerated, generatedMarker } from '../analysis/generated';
import { AnalysisOptions } from '../analysis/types';
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
  findings: AnalyzedFinding[];
  /** Not analysed nor fixed because it is a generated file (`includeGenerated` off): the marker, described. */
  generated?: string;
  /** Not analysed: the engine's reason (e.g. nesting deeper than Python allows). */
  skipReason?: string;
  ruleFailures?: string[];
  /** The file does not parse: where its first syntax error is (1-based line, column in UTF-16 units + 1). */
  syntaxError?: { line: number; column: number };
  /** The analysis threw (a fix computed before that is still reported). */
  error?: string;
  /** fix mode, when fixes applied: the new bytes in the file's own encoding, or why there are none. */
  fix?: { applied: number; bytes?: Uint8Array; unencodable?: string; original?: string; before?: string; after?: string };
  /** diff mode, when fixes changed the text: both texts and how the file is encoded. */
  diff?: { applied: number; before: string; after: string; encoding: string; bom: boolean };
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
  let text = source.text;
  const generated = job.options.includeGenerated ? undefined : generatedMarker(text);
  if (generated) {
    result.generated = describeGenerated(generated);
    return result;
  }
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
    if (job.analyze) {
      const analysis = analyzer.analyzeText(text, job.options);
      result.findings = analysis.findings;
      result.skipReason = analysis.skipReason;
      result.ruleFailures = analysis.ruleFailures;
      if (analysis.syntaxErrorAt !== undefined) {
        const before = text.slice(0, analysis.syntaxErrorAt);
        const lineStart = Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) + 1;
        result.syntaxError = { line: before.split(/\r\n|\r|\n/).length, column: analysis.syntaxErrorAt - lineStart + 1 };
      }
      if (analysis.findings.length) result.text = text;
    }
  } catch (err) {
    if (isWasmTrap(err)) result.trap = `WebAssembly trap: ${(err as Error).message}`;
    result.error = isWasmTrap(err) ? `${result.trap} (the parser was restarted for the other files)` : (err as Error).message;
    result.findings = [];
    delete result.text;
  }
  return result;
}
