// The rule engine: compiles every rule's query once, runs the enabled rules over a tree,
// drops suppressed findings and returns plain data. No LSP types, no file system.
import { Language, Query, Tree } from 'web-tree-sitter';
import { withTree } from '../parsing/document';
import { loadPython } from '../parsing/grammar';
import { fixAll, FixAllResult } from './fixes';
import { collectImports, ImportMap, resolveName } from './imports';
import { RULES } from './registry';
import { collectSuppressions, ignoreEdit, isSuppressed } from './suppressions';
import { LineIndex } from './text';
import { AnalysisOptions, DEFAULT_OPTIONS, Finding, Fix, OffsetEdit, Rule, RuleContext } from './types';

export interface AnalyzedFinding extends Finding {
  /** Inserts or extends the line's suppression comment; absent where no comment can go. */
  ignore?: OffsetEdit;
}

export interface AnalysisResult {
  findings: AnalyzedFinding[];
  /** The file was not analysed: it asked to be (`# leaklens: skip-file`) or nests too deeply. */
  skipped: boolean;
  /** Why it was skipped, when it was not the file's own request. */
  skipReason?: string;
  /** Rules that threw on this file (their findings are missing; the others are complete). */
  ruleFailures?: string[];
  /** The tree has syntax errors (findings come from the parts that parsed). */
  syntaxErrors: boolean;
}

/**
 * CPython's tokenizer refuses more than 200 nested brackets, so deeper text is not a program
 * Python would run. Tree-sitter finds a node's parent by descending from the root, which makes
 * rules quadratic on such nesting; files past this depth are reported as skipped instead.
 */
export const MAX_BRACKET_DEPTH = 200;

function bracketDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 40 || c === 91 || c === 123) {
      if (++depth > limit) return true;
    } else if ((c === 41 || c === 93 || c === 125) && depth > 0) depth--;
  }
  return false;
}

export function ruleEnabled(code: string, options: AnalysisOptions): boolean {
  const selected = options.select.length === 0 || options.select.some((p) => code.startsWith(p.toUpperCase()));
  const ignored = options.ignore.some((p) => code.startsWith(p.toUpperCase()));
  return selected && !ignored;
}

export class Analyzer {
  private readonly queries = new Map<Rule, Query>();

  private constructor(readonly language: Language, readonly rules: readonly Rule[]) {
    for (const rule of rules) this.queries.set(rule, new Query(language, rule.query));
  }

  static async create(rules: readonly Rule[] = RULES): Promise<Analyzer> {
    return new Analyzer(await loadPython(), rules);
  }

  analyzeTree(tree: Tree, text: string, options: AnalysisOptions = DEFAULT_OPTIONS): AnalysisResult {
    const root = tree.rootNode;
    const lines = new LineIndex(text);
    const suppressions = collectSuppressions(root, lines);
    const syntaxErrors = root.hasError;
    if (suppressions.skipFile) return { findings: [], skipped: true, syntaxErrors };
    if (bracketDepthExceeds(text, MAX_BRACKET_DEPTH)) {
      return { findings: [], skipped: true, skipReason: `brackets nest deeper than ${MAX_BRACKET_DEPTH} levels (Python itself refuses such code)`, syntaxErrors };
    }
    let imports: ImportMap | undefined;
    const findings: AnalyzedFinding[] = [];
    const failures: string[] = [];
    for (const rule of this.rules) {
      if (!ruleEnabled(rule.code, options)) continue;
      const severity = options.severity[rule.code] ?? rule.defaultSeverity;
      const context: RuleContext = {
        text,
        root,
        options,
        qualifiedName: (node) => resolveName(node, (imports ??= collectImports(root))),
        localNameFor: (target) => {
          for (const [local, dotted] of (imports ??= collectImports(root))) if (dotted === target) return local;
          return undefined;
        },
        report: (r) => {
          const start = r.node ? r.node.startIndex : (r.start ?? 0);
          const end = r.node ? r.node.endIndex : (r.end ?? start);
          if (isSuppressed(suppressions, lines.lineOf(start), rule.code)) return;
          findings.push({
            code: rule.code,
            name: rule.name,
            severity,
            message: r.message,
            start,
            end,
            related: r.related ?? [],
            fixes: r.fixes ?? [],
            ignore: ignoreEdit(root, text, lines, start, rule.code),
          });
        },
      };
      const query = this.queries.get(rule)!;
      try {
        rule.check(context, query.matches(root));
      } catch (err) {
        // One rule failing on odd input costs only its own findings, never the file's.
        failures.push(`${rule.code}: ${(err as Error).message}`);
      }
    }
    findings.sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
    return { findings, skipped: false, syntaxErrors, ruleFailures: failures.length ? failures : undefined };
  }

  analyzeText(text: string, options: AnalysisOptions = DEFAULT_OPTIONS): AnalysisResult {
    return withTree(this.language, text, (tree, parsedText) => {
      if (!tree) throw new Error('parse timed out');
      return this.analyzeTree(tree, parsedText, options);
    });
  }

  /** Applies safe fixes (and unsafe ones when asked) until none is left. */
  fixText(text: string, options: AnalysisOptions = DEFAULT_OPTIONS, unsafe = false): FixAllResult {
    const eligible = (fix: Fix) => fix.safety === 'safe' || unsafe;
    return fixAll(
      text,
      (t) => {
        const result = this.analyzeText(t, options);
        return { findings: result.findings, clean: !result.syntaxErrors };
      },
      eligible,
    );
  }

  dispose(): void {
    for (const query of this.queries.values()) query.delete();
    this.queries.clear();
  }
}
