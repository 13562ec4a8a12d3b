// Property test for ParsedDocument.update(): after every batch of random edits, the
// incrementally reparsed tree must equal a fresh parse of the same text (read, as document.ts
// reads it, with each lone '\r' as '\n' — see asParsed), node for node (type,
// field, indices, positions), and doc.text must equal the text computed by an independent model
// (an array of UTF-16 code units). The tree must also equal an independent incremental replay
// (the same edits applied with offsets and points computed here); see Session for the one case
// where tree-sitter itself lets an incremental tree differ from a fresh parse.
//
// Reproducing a failure: the message names the seed, the base text and the batch; rerun with
//   LEAKLENS_SEEDS=<seed> node --test out/test/incremental.test.js
// The whole edit script up to the failing batch is written to test-output/ (git-ignored).
// LEAKLENS_BATCHES=<n> changes the number of batches per base text (default 12); with both,
// the test doubles as a longer fuzzer.
//
// Surrogate pairs: most batches ("whole" batches) only cut the text at code-point boundaries
// of the text each change applies to, and insert well-formed snippets. About one batch in
// eight is a "split" batch: its offsets are raw UTF-16 offsets that may fall between the two
// halves of a pair, and its snippets may contain lone surrogates, so intermediate and final
// texts can be ill-formed UTF-16 (as an editor's buffer can be mid-keystroke). The property
// is the same for both: the incremental tree equals a fresh parse of the same JS string.
//
// Why a probe on Parser.prototype.parse: tree-sitter re-lexes every node an edit touches, so
// wrong row/column values in an Edit (positions from the original rather than the intermediate
// text, '\r\n' counted as two line breaks, an off-by-one in the new end point) leave the *reparsed*
// tree correct — comparing it with a fresh parse cannot see them. They corrupt the *edited old*
// tree instead, and with it tree.getChangedRanges(old), which incremental analysis relies on.
// So while ParsedDocument.update() reparses, the probe checks that every untouched node of the
// edited old tree, and every changed range, has row/column consistent with its UTF-16 index
// in the new text.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Edit, Language, Parser, Point, Tree } from 'web-tree-sitter';
import { ParsedDocument, TextChange } from '../server/src/parsing/document';
import { loadPython } from '../server/src/parsing/grammar';
import { hashString, hex, Random, seedsFromEnv } from './helpers/random';

const ROOT = join(__dirname, '..', '..');
const DEFAULT_SEEDS = [0x1ea41e45, 0x00000001, 0x2545f491, 0xc0ffee00];
const SEEDS = seedsFromEnv('LEAKLENS_SEEDS', DEFAULT_SEEDS);
const BATCHES_PER_BASE = Number(process.env.LEAKLENS_BATCHES ?? 12);
assert.ok(Number.isInteger(BATCHES_PER_BASE) && BATCHES_PER_BASE > 0, 'LEAKLENS_BATCHES must be a positive integer');
/** Above this length the generator favours large deletions so texts stay small and fast. */
const MAX_TEXT = 3000;

// ---------------------------------------------------------------------------------------------
// Base texts

const REAL_PYTHON = `import os
from contextlib import closing


class Cache(dict):
    """A cache that never forgets — a leak by design."""

    registry: list = []

    def __init__(self, path, *, limit=None, **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self.limit = limit
        self.handle = open(path, "rb")
        Cache.registry.append(self)

    @property
    def size(self) -> int:
        return len(self)

    def load(self, key, default=[]):
        try:
            with open(os.path.join(self.path, key)) as f:
                data = f.read()
        except (OSError, ValueError) as exc:
            print(f"failed: {exc!r} for {key=}")
            return default
        else:
            self[key] = data
        finally:
            pass
        return {k: v for k, v in self.items() if k != 'x'}


def main(argv):
    cache = Cache(argv[1])
    squares = [x ** 2 for x in range(10) if x % 2]
    fn = lambda a, b=2: (a, b)
    raw = b'\\x00\\xff' + rb"\\d+"
    text = '''multi
line'''
    if argv and len(argv) > 2:
        return fn(*argv)
    elif not argv:
        raise SystemExit(1)
    return squares  # done


if __name__ == "__main__":
    main(__import__("sys").argv)
`;

const NON_ASCII = `# Größe, Straße, café — déjà vu
def größe(straße, café="é"):
    """Gibt die Größe zurück: ß, é, ñ, ø, ü."""
    naïve = {"clé": café, "Maß": straße}
    return naïve["clé"] + "ß" * len(straße)


class Übung:
    schön = 'très'
    def méthode(self):
        return f"{self.schön}é"
`;

const NON_BMP = `𝒳 = "𝒳𝒴𝒵"
emoji = "😀 👩‍👩‍👧 🐍"  # 🎉 comment with 🧪
def 𝑓(𝑥):
    return 𝑥 + "𝄞" + '😀'


class 𝒞:
    𝒶 = ["😀", "𝒳", b"x"]
    def m(self, 𝓎="🐍🐍"):
        return [𝓎 for _ in "𝒳😀"]
`;

const CRLF = REAL_PYTHON.split('\n').slice(0, 30).join('\r\n') + '\r\n';

const TABS = `class T:
\tdef f(self, x):
\t\tif x:
\t\t\treturn [x,\t1]
\t\telse:
\t\t\t\tpass
\tdef g(self):
\t\treturn "\t"  # tab\tinside
`;

const LONE_CR = 'x = 1\ry = "a\rb"\r\ndef f():\r    return 2\n\rclass C:\n    z = 3\r';

const BASES: ReadonlyArray<{ name: string; text: string }> = [
  { name: 'real python', text: REAL_PYTHON },
  { name: 'non-ASCII letters', text: NON_ASCII },
  { name: 'non-BMP characters', text: NON_BMP },
  { name: 'CRLF line endings', text: CRLF },
  { name: 'tabs', text: TABS },
  { name: 'lone CR', text: LONE_CR },
  { name: 'empty', text: '' },
];

// ---------------------------------------------------------------------------------------------
// Edit generation

const SNIPPETS = [
  '\n', '\n', '\r\n', '\r', '\t', '    ', ' ', '\n    ', '\n\n', '\r\n    ',
  '(', ')', '[', ']', '{', '}', ':', ',', '.', '=', '+', '-', '*', '**', '@', '->', '\\', '\\\n', '#', '# c\n',
  '"', "'", '"""', "'''", 'f"', 'b"', 'r"', '"x"', "'y'", 'f"{x}"', '"""doc\n"""', '"\\n"',
  'def ', 'class ', 'return ', 'lambda x: x', 'if x:\n', 'else:\n', 'with open(p) as f:\n', 'try:\n', 'except E:\n',
  'import os\n', 'from a import b\n', 'pass', 'yield', 'await ', 'async def g():\n    pass\n', '@decorator\n',
  'x', 'y = 2', 'foo(bar, *a, **k)', '[i for i in range(3)]', '{k: v}', '(1,)', '0x1F', '1.5e3', 'None',
  'def f(a=[]):\n    return a\n', 'class K(Base):\n    a = 1\n',
  'é', 'ß', 'café', 'Größe', 'ñ', '€',
  '𝒳', '😀', '🐍', '𝄞', '👩‍👩‍👧', '"𝒳😀"', '𝑥 = "🐍"', '# 🎉\n',
];
/** Only used by split batches: lone halves of surrogate pairs. */
const LONE_HALVES = ['\ud835', '\udcb3', '\ud83d', '\ude00'];

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
/** Moves an offset that falls between the two halves of a pair to before the pair. */
function snap(text: string, offset: number): number {
  if (offset > 0 && offset < text.length && isHigh(text.charCodeAt(offset - 1)) && isLow(text.charCodeAt(offset))) {
    return offset - 1;
  }
  return offset;
}

const INTERESTING = /[\n\r\t"'()[\]{}:#\\\u0080-\uffff]/;

function pickOffset(rng: Random, text: string): number {
  if (text.length === 0) return 0;
  if (rng.chance(0.3)) {
    // Aim next to a line break, quote, bracket or non-ASCII unit: where the bugs live.
    const from = rng.int(0, text.length - 1);
    for (let i = from; i < text.length; i++) {
      if (INTERESTING.test(text[i])) return i + rng.int(0, 1);
    }
  }
  return rng.int(0, text.length);
}

function pickLength(rng: Random, text: string): number {
  if (text.length > MAX_TEXT) return rng.int(200, 1000);
  const r = rng.next();
  return r < 0.7 ? rng.int(1, 5) : r < 0.95 ? rng.int(6, 40) : rng.int(41, 400);
}

function pickSnippet(rng: Random, split: boolean): string {
  let s = '';
  const parts = rng.int(1, 3);
  for (let p = 0; p < parts; p++) {
    const r = rng.next();
    if (r < 0.15) {
      // A slice of a real base text.
      const base = rng.pick(BASES.filter((b) => b.text.length > 0)).text;
      let start = rng.int(0, base.length - 1);
      let end = Math.min(base.length, start + rng.int(1, 80));
      if (!split) {
        start = snap(base, start);
        end = snap(base, end);
      }
      s += base.slice(start, end);
    } else if (split && r < 0.3) {
      s += rng.pick(LONE_HALVES);
    } else {
      s += rng.pick(SNIPPETS);
    }
  }
  return s;
}

/** One change against `text`; whole batches never cut a surrogate pair. */
function randomChange(rng: Random, text: string, split: boolean): TextChange {
  const kind = text.length === 0 ? 'insert' : rng.pick(['insert', 'insert', 'delete', 'replace', 'replace'] as const);
  let start = pickOffset(rng, text);
  let end = kind === 'insert' ? start : Math.min(text.length, start + pickLength(rng, text));
  if (text.length > MAX_TEXT && kind === 'insert') {
    end = Math.min(text.length, start + pickLength(rng, text));
  }
  if (!split) {
    start = snap(text, start);
    end = snap(text, end);
  }
  const newText = kind === 'delete' ? '' : pickSnippet(rng, split);
  return { start, end, text: newText };
}

/**
 * The text the tree describes: document.ts parses with every lone '\r' read as '\n' (Python and
 * LSP break lines there, tree-sitter does not). Written here independently of its
 * normalizeLineBreaks, so a mistake there shows up as a difference.
 */
function asParsed(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    out += text[i] === '\r' && text[i + 1] !== '\n' ? '\n' : text[i];
  }
  return out;
}

/** The independent model: the document as an array of UTF-16 code units. */
class Model {
  private units: string[];
  constructor(text: string) {
    this.units = text.split('');
  }
  apply(change: TextChange): void {
    assert.ok(0 <= change.start && change.start <= change.end && change.end <= this.units.length, 'generator produced a change out of range');
    this.units.splice(change.start, change.end - change.start, ...change.text.split(''));
  }
  get text(): string {
    return this.units.join('');
  }
}

// ---------------------------------------------------------------------------------------------
// Tree comparison

function samePoint(a: Point, b: Point): boolean {
  return a.row === b.row && a.column === b.column;
}
function fmtPoint(p: Point): string {
  return `${p.row}:${p.column}`;
}

/** Tree-sitter's point for every offset of `text`, computed without document.ts's code. */
function pointer(text: string): (index: number) => Point {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return (index) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return { row: lo, column: index - lineStarts[lo] };
  };
}

/**
 * Walks both trees in lockstep (named and anonymous nodes) and returns the first difference in
 * type, field, missing flag, indices or positions, or undefined. Also checks every position of
 * `actual` against `text` independently. Returns the number of nodes visited on success.
 */
function compareTrees(actual: Tree, expected: Tree, text: string): { diff?: string; nodes: number } {
  const point = pointer(text);
  const a = actual.walk();
  const e = expected.walk();
  let nodes = 0;
  const where = () => `node #${nodes} (${a.nodeType} ${a.startIndex}-${a.endIndex} vs ${e.nodeType} ${e.startIndex}-${e.endIndex})`;
  try {
    for (;;) {
      nodes++;
      if (a.nodeType !== e.nodeType) return { diff: `type differs at ${where()}`, nodes };
      if (a.currentFieldName !== e.currentFieldName) return { diff: `field ${a.currentFieldName} vs ${e.currentFieldName} at ${where()}`, nodes };
      if (a.nodeIsMissing !== e.nodeIsMissing) return { diff: `missing flag differs at ${where()}`, nodes };
      if (a.startIndex !== e.startIndex || a.endIndex !== e.endIndex) return { diff: `indices differ at ${where()}`, nodes };
      const [as, ae, es, ee] = [a.startPosition, a.endPosition, e.startPosition, e.endPosition];
      if (!samePoint(as, es) || !samePoint(ae, ee)) {
        return { diff: `positions ${fmtPoint(as)}-${fmtPoint(ae)} vs ${fmtPoint(es)}-${fmtPoint(ee)} at ${where()}`, nodes };
      }
      const ps = point(a.startIndex);
      const pe = point(a.endIndex);
      if (!samePoint(as, ps) || !samePoint(ae, pe)) {
        return { diff: `positions ${fmtPoint(as)}-${fmtPoint(ae)} disagree with the text (${fmtPoint(ps)}-${fmtPoint(pe)}) at ${where()}`, nodes };
      }
      const downA = a.gotoFirstChild();
      if (downA !== e.gotoFirstChild()) return { diff: `child count differs at ${where()}`, nodes };
      if (downA) continue;
      for (;;) {
        const nextA = a.gotoNextSibling();
        if (nextA !== e.gotoNextSibling()) return { diff: `sibling count differs after ${where()}`, nodes };
        if (nextA) break;
        const upA = a.gotoParent();
        if (upA !== e.gotoParent()) return { diff: `depth differs at ${where()}`, nodes };
        if (!upA) return { nodes };
      }
    }
  } finally {
    a.delete();
    e.delete();
  }
}

/**
 * The oracles, on a parser of their own (not document.ts's shared one): a fresh parse of the
 * text, and an independent incremental replay — the same edits applied to a tree with offsets
 * and points computed here, not by document.ts. Every tree they make is deleted.
 */
class Oracle {
  private parser = new Parser();
  constructor(language: Language) {
    this.parser.setLanguage(language);
  }
  fresh<T>(text: string, fn: (tree: Tree) => T): T {
    const tree = this.parser.parse(asParsed(text));
    assert.ok(tree, 'fresh parse returned null');
    try {
      return fn(tree);
    } finally {
      tree.delete();
    }
  }
  /** Starts a replay: a tree that follows the edits of one document. */
  replay(text: string): Replay {
    const tree = this.parser.parse(asParsed(text));
    assert.ok(tree, 'fresh parse returned null');
    return new Replay(this.parser, tree);
  }
  delete(): void {
    this.parser.delete();
  }
}

class Replay {
  constructor(private parser: Parser, public tree: Tree) {}
  /**
   * `before` is the text the change applies to, `after` the text it leaves. The parser reads
   * both with lone '\r' as '\n' (see asParsed), so the edit given to the tree is
   * computed independently of document.ts: the smallest range in which the two normalized
   * texts differ, containing the change.
   */
  edit(before: string, change: TextChange, after: string): void {
    const nb = asParsed(before);
    const na = asParsed(after);
    let start = Math.min(change.start, change.end);
    let oldEnd = Math.max(change.start, change.end);
    let newEnd = start + change.text.length;
    // Widen over characters whose normalized form changed next to the edit.
    while (start > 0 && nb[start - 1] !== na[start - 1]) start--;
    while (oldEnd < nb.length && newEnd < na.length && nb[oldEnd] !== na[newEnd]) {
      oldEnd++;
      newEnd++;
    }
    this.tree.edit(
      new Edit({
        startIndex: start,
        oldEndIndex: oldEnd,
        newEndIndex: newEnd,
        startPosition: pointer(nb)(start),
        oldEndPosition: pointer(nb)(oldEnd),
        newEndPosition: pointer(na)(newEnd),
      }),
    );
  }
  reparse(text: string): void {
    const next = this.parser.parse(asParsed(text), this.tree);
    assert.ok(next, 'replay parse returned null');
    this.tree.delete();
    this.tree = next;
  }
  delete(): void {
    this.tree.delete();
  }
}

/**
 * Wraps Parser.prototype.parse while armed: for every incremental parse of a string, checks the
 * edited old tree and the changed ranges against the new text (see the header comment).
 */
class EditProbe {
  private armed = false;
  problem: string | undefined;
  incrementalParses = 0;
  /** Every tree made by any parser (document.ts's and the oracles') and not yet deleted. */
  readonly live = new Set<Tree>();
  private readonly restore: () => void;

  constructor() {
    const original = Parser.prototype.parse;
    const originalDelete = Tree.prototype.delete;
    const probe = this;
    Tree.prototype.delete = function (this: Tree) {
      probe.live.delete(this);
      originalDelete.call(this);
    };
    Parser.prototype.parse = function (this: Parser, ...args: Parameters<Parser['parse']>) {
      const result = original.apply(this, args);
      if (result) probe.live.add(result);
      const [input, oldTree] = args;
      if (probe.armed && oldTree && result && typeof input === 'string') {
        probe.incrementalParses++;
        probe.problem ??= inspectEditedTree(oldTree, result, input);
      }
      return result;
    };
    this.restore = () => {
      Parser.prototype.parse = original;
      Tree.prototype.delete = originalDelete;
    };
  }

  /** Runs fn with the probe armed; returns the first inconsistency seen, if any. */
  during(fn: () => void): string | undefined {
    this.problem = undefined;
    this.armed = true;
    try {
      fn();
    } finally {
      this.armed = false;
    }
    return this.problem;
  }

  uninstall(): void {
    this.restore();
  }
}

function inspectEditedTree(old: Tree, next: Tree, text: string): string | undefined {
  const point = pointer(text);
  const consistent = (what: string, startIndex: number, endIndex: number, start: Point, end: Point) => {
    const ps = point(startIndex);
    const pe = point(endIndex);
    if (samePoint(start, ps) && samePoint(end, pe)) return undefined;
    return `${what} ${startIndex}-${endIndex} has positions ${fmtPoint(start)}-${fmtPoint(end)}, the new text says ${fmtPoint(ps)}-${fmtPoint(pe)}`;
  };
  for (const range of next.getChangedRanges(old)) {
    const problem = consistent('changed range', range.startIndex, range.endIndex, range.startPosition, range.endPosition);
    if (problem) return problem;
  }
  const cursor = old.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      let descend = true;
      if (!node.hasChanges) {
        // Untouched by every edit: its index and point were only shifted, and must agree.
        const problem = consistent(`untouched old node ${node.type}`, node.startIndex, node.endIndex, node.startPosition, node.endPosition);
        if (problem) return problem;
        descend = false;
      }
      if (descend && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return undefined;
      }
    }
  } finally {
    cursor.delete();
  }
}

interface Context {
  seed: number;
  base: string;
  batch: number;
  script: TextChange[][];
  baseText: string;
}

function failure(ctx: Context, message: string): Error {
  let saved = '';
  try {
    const dir = join(ROOT, 'test-output');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `incremental-failure-${hex(ctx.seed)}-${ctx.base.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ seed: hex(ctx.seed), base: ctx.base, baseText: ctx.baseText, batches: ctx.script }, null, 2));
    saved = `\nfull edit script: ${file}`;
  } catch {
    // Reporting must not hide the failure.
  }
  return new assert.AssertionError({
    message:
      `${message}\nseed ${hex(ctx.seed)}, base "${ctx.base}", batch ${ctx.batch} of the script ` +
      `(rerun: LEAKLENS_SEEDS=${hex(ctx.seed)} node --test out/test/incremental.test.js)\n` +
      `failing batch: ${JSON.stringify(ctx.script[ctx.batch])}${saved}`,
  });
}

function sameTrees(actual: Tree, expected: Tree, text: string, what: string): string | undefined {
  const got = actual.rootNode.toString();
  const want = expected.rootNode.toString();
  if (got !== want) return `rootNode.toString() differs from ${what}:\nincremental: ${got}\n${what}: ${want}`;
  const { diff } = compareTrees(actual, expected, text);
  return diff && `${diff} (against ${what})`;
}

const totals = { batches: 0, changes: 0, splitBatches: 0, nodes: 0, divergences: 0, chars: 0 };

/**
 * One document under test, with its independent model text and replay tree. apply() feeds a
 * batch to ParsedDocument.update() and checks, in order:
 *  1. doc.text equals the model text;
 *  2. the edited old tree and changed ranges are consistent with the new text (the probe);
 *  3. doc.tree equals the independent replay, node for node — no exceptions;
 *  4. doc.tree equals a fresh parse, node for node. Tree-sitter itself does not promise this
 *     after error recovery: the replay, which does not involve document.ts, can diverge from a
 *     fresh parse when the text has syntax errors (error recovery depends on which subtrees
 *     the parser reuses). With `tolerateRecoveryDivergence`, a difference is accepted — and
 *     counted — only when (3) held and the fresh tree has an error; any other difference fails.
 */
class Session {
  readonly doc: ParsedDocument;
  readonly ctx: Context;
  private readonly model: Model;
  private readonly replay: Replay;

  constructor(
    language: Language,
    private oracle: Oracle,
    private probe: EditProbe,
    seed: number,
    name: string,
    base: string,
    private tolerateRecoveryDivergence: boolean,
  ) {
    this.model = new Model(base);
    this.ctx = { seed, base: name, batch: -1, script: [], baseText: base };
    this.replay = oracle.replay(base);
    try {
      this.doc = new ParsedDocument(language, base);
    } catch (e) {
      this.replay.delete();
      throw e;
    }
    try {
      this.check();
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  apply(changes: TextChange[]): void {
    this.ctx.batch = this.ctx.script.length;
    this.ctx.script.push(changes);
    for (const change of changes) {
      const before = this.model.text;
      this.model.apply(change); // the next change refers to the text this one leaves
      this.replay.edit(before, change, this.model.text);
    }
    this.replay.reparse(this.model.text);
    // update() edits the tree; the parse happens when the tree is next read (once per burst).
    const problem = this.probe.during(() => {
      this.doc.update(changes);
      assert.ok(this.doc.parsePending, 'update() parsed at once instead of waiting for the next read of the tree');
      void this.doc.tree;
    });
    if (problem) throw failure(this.ctx, `edited old tree: ${problem}`);
    this.check();
  }

  private check(): void {
    const text = this.model.text;
    const ctx = this.ctx;
    if (this.doc.text !== text) throw failure(ctx, `doc.text differs from the model:\n${JSON.stringify(this.doc.text)}\n${JSON.stringify(text)}`);
    const parsed = asParsed(text);
    if (this.doc.parsedText !== parsed) throw failure(ctx, `doc.parsedText differs from the model:\n${JSON.stringify(this.doc.parsedText)}\n${JSON.stringify(parsed)}`);
    const tree = this.doc.tree;
    if (!tree) throw failure(ctx, 'doc.tree is undefined (parse cancelled?)');
    const againstReplay = sameTrees(tree, this.replay.tree, parsed, 'replay');
    if (againstReplay) throw failure(ctx, `document.ts disagrees with an independent incremental replay: ${againstReplay}`);
    this.oracle.fresh(text, (expected) => {
      const againstFresh = sameTrees(tree, expected, parsed, 'fresh');
      if (againstFresh) {
        if (!(this.tolerateRecoveryDivergence && expected.rootNode.hasError)) throw failure(ctx, againstFresh);
        totals.divergences++;
      }
    });
    totals.nodes += compareTrees(tree, this.replay.tree, parsed).nodes;
  }

  dispose(): void {
    this.doc.dispose();
    this.replay.delete();
  }
}

/** Applies a change to a plain string: the generator's view of the intermediate text. */
function splice(text: string, change: TextChange): string {
  return text.slice(0, change.start) + change.text + text.slice(change.end);
}

// ---------------------------------------------------------------------------------------------
// Tests

for (const seed of SEEDS) {
  test(`random edit scripts: incremental tree equals a fresh parse (seed ${hex(seed)})`, async (t) => {
    const language = await loadPython();
    const oracle = new Oracle(language);
    const probe = new EditProbe();
    try {
      for (const base of BASES) {
        await t.test(base.name, () => {
          const rng = new Random((seed ^ hashString(base.name)) >>> 0);
          const session = new Session(language, oracle, probe, seed, base.name, base.text, true);
          try {
            let text = base.text;
            for (let b = 0; b < BATCHES_PER_BASE; b++) {
              const split = rng.chance(0.125);
              const changes: TextChange[] = [];
              const count = rng.int(1, 4);
              for (let c = 0; c < count; c++) {
                const change = randomChange(rng, text, split);
                changes.push(change);
                text = splice(text, change);
              }
              session.apply(changes);
              totals.batches++;
              totals.chars += text.length;
              totals.changes += changes.length;
              if (split) totals.splitBatches++;
            }
          } finally {
            session.dispose();
          }
          assert.equal(probe.live.size, 0, 'trees left undeleted by ParsedDocument or the oracles');
        });
      }
      assert.ok(probe.incrementalParses > 0, 'the probe saw no incremental parse');
    } finally {
      probe.uninstall();
      oracle.delete();
    }
  });
}

test('deterministic cases (no divergence tolerated)', async (t) => {
  const language = await loadPython();
  const oracle = new Oracle(language);
  const probe = new EditProbe();
  const run = (name: string, base: string, batches: TextChange[][], expectedText: string) =>
    t.test(name, () => {
      const session = new Session(language, oracle, probe, 0, name, base, false);
      try {
        for (const changes of batches) session.apply(changes);
        assert.equal(session.doc.text, expectedText);
      } finally {
        session.dispose();
      }
      assert.equal(probe.live.size, 0, 'trees left undeleted by ParsedDocument or the oracles');
    });
  try {
    // The second change's offsets refer to the text left by the first (LSP semantics).
    await run(
      'a batch applies its changes in order',
      'def f():\n    return 1\n',
      [[{ start: 0, end: 0, text: 'import os\n' }, { start: 23, end: 31, text: 'return "é𝒳"' }]],
      'import os\ndef f():\n    return "é𝒳"\n',
    );
    // Offsets are UTF-16 code units: 𝒳 and 😀 count two each, é one.
    const s = 's = "𝒳😀é"\nt = 1\n';
    await run('offsets are UTF-16 units', s, [[{ start: s.indexOf('t'), end: s.indexOf('t') + 1, text: 'ü' }]], 's = "𝒳😀é"\nü = 1\n');
    // An intermediate text with a split pair, healed by the next change in the batch.
    const x = 'x = "𝒳"\n';
    const mid = x.indexOf('𝒳') + 1;
    await run('a pair split and rejoined inside one batch', x, [[{ start: mid, end: mid, text: 'AB' }, { start: mid, end: mid + 2, text: '' }]], x);
    // Multi-line insertion and deletion across CRLF and lone CR.
    const crlf = 'a = 1\r\nb = (\r\n  2)\rc = 3\r\n';
    const inserted = 'def g():\r\n    pass\r\n';
    const afterDelete = inserted + 'b = (\r\n  2)\rc = 3\r\n';
    await run(
      'edits across CRLF and lone CR',
      crlf,
      [
        [{ start: 7, end: 7, text: inserted }],
        [{ start: 0, end: 7, text: '' }, { start: afterDelete.indexOf(')\r') + 1, end: afterDelete.length, text: '\n' }],
      ],
      inserted + 'b = (\r\n  2)\n',
    );
  } finally {
    probe.uninstall();
    oracle.delete();
  }
});

// ParsedDocument shares one Parser per language. Tree-sitter resumes a cancelled parse on the
// parser's next parse() call, so without a reset the next document parsed on that parser would
// get the tree of the cancelled text.
test('a cancelled parse does not leak into the next parse on the shared parser', async () => {
  const language = await loadPython();
  // Long enough that a zero budget is exceeded while parsing (a tiny text can finish first).
  const cancelled = new ParsedDocument(language, 'def f(x):\n    return [x, (1, 2), {"a": x}]\n'.repeat(200), 0);
  const next = new ParsedDocument(language, 'x = 1\n');
  try {
    assert.ok(cancelled.tree === undefined, 'a zero budget should cancel the parse');
    assert.equal(next.tree?.rootNode.toString(), '(module (expression_statement (assignment left: (identifier) right: (integer))))');
  } finally {
    cancelled.dispose();
    next.dispose();
  }
});

test('summary', (t) => {
  t.diagnostic(
    `${totals.batches} batches (${totals.splitBatches} split), ${totals.changes} changes, ` +
      `mean text ${Math.round(totals.chars / Math.max(1, totals.batches))} UTF-16 units, ${totals.nodes} nodes compared, ` +
      `${totals.divergences} tolerated error-recovery divergences from a fresh parse`,
  );
  if (process.env.LEAKLENS_SEEDS === undefined && process.env.LEAKLENS_BATCHES === undefined) {
    assert.ok(totals.batches >= 300, `expected a few hundred batches, ran ${totals.batches}`);
  }
});
