// The only owner of tree-sitter trees. A ParsedDocument holds the text and its current tree,
// applies content changes one at a time (each change's offsets refer to the text left by the
// previous change), reparses incrementally, and deletes every tree it replaces.
import { Edit, Language, Parser, Point, Tree } from 'web-tree-sitter';

/** A change in UTF-16 offsets of the text it applies to (the same unit as LSP and tree-sitter). */
export interface TextChange {
  start: number;
  end: number;
  text: string;
}

/** Default parse budget; a parse that runs longer is cancelled and the previous tree kept. */
export const DEFAULT_PARSE_TIMEOUT_MS = 5000;

/** Tree-sitter's point for an offset: rows count '\n' only, columns are UTF-16 units. */
export function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  let i = text.indexOf('\n');
  while (i !== -1 && i < offset) {
    row++;
    lineStart = i + 1;
    i = text.indexOf('\n', lineStart);
  }
  return { row, column: offset - lineStart };
}

function advance(start: Point, inserted: string): Point {
  let row = start.row;
  let column = start.column;
  let last = -1;
  for (let i = inserted.indexOf('\n'); i !== -1; i = inserted.indexOf('\n', i + 1)) {
    row++;
    last = i;
  }
  column = last === -1 ? column + inserted.length : inserted.length - last - 1;
  return { row, column };
}

const parsers = new WeakMap<Language, Parser>();

/** Parsing is synchronous, so one parser per language serves every document of the process. */
function sharedParser(language: Language): Parser {
  let parser = parsers.get(language);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(language);
    parsers.set(language, parser);
  }
  return parser;
}

export class ParsedDocument {
  private parser: Parser;
  private currentTree: Tree | undefined;
  private disposed = false;

  constructor(language: Language, private currentText: string, private timeoutMs = DEFAULT_PARSE_TIMEOUT_MS) {
    this.parser = sharedParser(language);
    this.currentTree = this.parse(undefined);
  }

  get text(): string {
    return this.currentText;
  }

  /** The current tree, or undefined when the parse ran out of time. Valid until the next update. */
  get tree(): Tree | undefined {
    return this.currentTree;
  }

  /** Applies the changes in order, then reparses incrementally. */
  update(changes: readonly TextChange[]): void {
    if (this.disposed) throw new Error('document disposed');
    let text = this.currentText;
    const tree = this.currentTree;
    for (const change of changes) {
      const start = Math.max(0, Math.min(change.start, text.length));
      const end = Math.max(start, Math.min(change.end, text.length));
      if (tree) {
        const startPosition = pointAt(text, start);
        const oldEndPosition = pointAt(text, end);
        tree.edit(
          new Edit({
            startIndex: start,
            oldEndIndex: end,
            newEndIndex: start + change.text.length,
            startPosition,
            oldEndPosition,
            newEndPosition: advance(startPosition, change.text),
          }),
        );
      }
      text = text.slice(0, start) + change.text + text.slice(end);
    }
    this.currentText = text;
    const next = this.parse(tree);
    if (tree && tree !== next) tree.delete();
    this.currentTree = next;
  }

  /** Replaces the whole text (a full-sync change) with a fresh parse. */
  replace(text: string): void {
    this.currentText = text;
    const old = this.currentTree;
    this.currentTree = this.parse(undefined);
    old?.delete();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.currentTree?.delete();
    this.currentTree = undefined;
  }

  private parse(old: Tree | undefined): Tree | undefined {
    const deadline = performance.now() + this.timeoutMs;
    const tree = this.parser.parse(this.currentText, old ?? null, {
      // Returning true cancels the parse (the typings say void).
      progressCallback: (() => performance.now() > deadline) as unknown as () => void,
    });
    // A cancelled parse would otherwise resume on this shared parser's next parse of any text.
    if (!tree) this.parser.reset();
    return tree ?? undefined;
  }
}

/** Parses text once, hands the tree to fn, and always deletes it. */
export function withTree<T>(language: Language, text: string, fn: (tree: Tree | undefined) => T, timeoutMs = DEFAULT_PARSE_TIMEOUT_MS): T {
  const doc = new ParsedDocument(language, text, timeoutMs);
  try {
    return fn(doc.tree);
  } finally {
    doc.dispose();
  }
}
