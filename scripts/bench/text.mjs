// Text helpers for the benchmark: line counting,
// LSP positions, tree-sitter points, and a deterministic "realistic typing" edit script.
import { readFileSync } from 'node:fs';

/** Lines of a file as editors count them: newline count, plus one for an unterminated last line. */
export function countLines(buf) {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  if (buf.length > 0 && buf[buf.length - 1] !== 10) n++;
  return n;
}

export function countLinesOfFiles(files) {
  let lines = 0;
  let bytes = 0;
  for (const f of files) {
    const buf = readFileSync(f);
    lines += countLines(buf);
    bytes += buf.length;
  }
  return { lines, bytes };
}

/** LSP position (lines break at \r\n, \r, \n; characters are UTF-16 units). */
export function lspPosition(text, offset) {
  const re = /\r\n|\r|\n/g;
  let line = 0;
  let lineStart = 0;
  let m;
  while ((m = re.exec(text)) !== null && m.index < offset) {
    line++;
    lineStart = m.index + m[0].length;
  }
  return { line, character: offset - lineStart };
}

/** Tree-sitter point: rows count "\n" only, columns are UTF-16 units. */
export function tsPoint(text, offset) {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

function advance(start, inserted) {
  let row = start.row;
  let last = -1;
  for (let i = inserted.indexOf('\n'); i !== -1; i = inserted.indexOf('\n', i + 1)) {
    row++;
    last = i;
  }
  return { row, column: last === -1 ? start.column + inserted.length : inserted.length - last - 1 };
}

/**
 * One edit against `text` (the text before it): offsets, the LSP change and the tree-sitter edit.
 * Returns the op and the text after it.
 */
export function makeOp(text, start, end, newText, kind) {
  const startPosition = tsPoint(text, start);
  const op = {
    kind,
    start,
    end,
    text: newText,
    lsp: { range: { start: lspPosition(text, start), end: lspPosition(text, end) }, text: newText },
    ts: {
      startIndex: start,
      oldEndIndex: end,
      newEndIndex: start + newText.length,
      startPosition,
      oldEndPosition: tsPoint(text, end),
      newEndPosition: advance(startPosition, newText),
    },
  };
  return { op, after: text.slice(0, start) + newText + text.slice(end) };
}

/** mulberry32: a small deterministic PRNG. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Walks a tree-sitter tree and collects candidate places for typing. */
export function collectAnchors(tree, text) {
  const statements = []; // single-line statements in a block whose line has nothing after them
  const identifiers = []; // identifiers of 3+ characters
  const cursor = tree.walk();
  let done = false;
  while (!done) {
    const node = cursor.currentNode;
    if (node.type === 'identifier' && node.endIndex - node.startIndex >= 3) {
      identifiers.push({ start: node.startIndex, end: node.endIndex });
    }
    if (
      (node.type === 'expression_statement' || node.type === 'return_statement') &&
      node.parent?.type === 'block' &&
      node.startPosition.row === node.endPosition.row
    ) {
      const lineEnd = text.indexOf('\n', node.endIndex);
      const rest = text.slice(node.endIndex, lineEnd === -1 ? text.length : lineEnd);
      if (/^[ \t]*$/.test(rest)) {
        const lineStart = text.lastIndexOf('\n', node.startIndex - 1) + 1;
        const indent = text.slice(lineStart, node.startIndex);
        if (/^[ \t]+$/.test(indent)) statements.push({ start: lineEnd === -1 ? text.length : lineEnd, indent });
      }
    }
    if (cursor.gotoFirstChild()) continue;
    while (!cursor.gotoNextSibling()) {
      if (!cursor.gotoParent()) {
        done = true;
        break;
      }
    }
  }
  cursor.delete();
  return { statements, identifiers };
}

const STATEMENTS = [
  'fh = open(support.TESTFN)',
  'self._cache[key] = value',
  'data = json.load(open(name))',
  'result = list(map(str, range(10)))',
  'sock = socket.socket()',
  'members = dict(Color.__members__)',
  'self.assertEqual(Color.RED.value, 1)',
];
const COMMENTS = ['# TODO: check this', '# XXX leak?', '# noqa', '# close the file here', '# see bpo-12345'];
const SUFFIXES = ['_new', 'Tmp', '2', '_old', 'x'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * A realistic typing session of exactly `count` edits over `text`: bursts at several places,
 * each either a new statement (Enter with auto-indent as one edit, then the statement typed
 * one character at a time), a trailing comment typed char by char, or an identifier rename
 * (backspaces, then retyping). Typos (a wrong letter then backspace) and word-level
 * backspace-and-retype corrections are sprinkled in. Returns ops with positions computed
 * against the text each one applies to, and the final text.
 */
export function typingScript(text, anchors, count, seed = 1) {
  const rand = prng(seed);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const ops = [];
  let current = text;
  // Anchors spread over the file; their offsets are shifted as edits land before them.
  const places = [];
  const nPlaces = 16;
  for (let i = 0; i < nPlaces; i++) {
    const kind = ['statement', 'comment', 'rename'][i % 3];
    const pool = kind === 'rename' ? anchors.identifiers : anchors.statements;
    const a = pool[Math.floor(((i + 0.5) / nPlaces) * pool.length)];
    places.push({ kind, offset: kind === 'rename' ? a.end : a.start, indent: a.indent ?? '', len: a.end - a.start });
  }
  const push = (start, end, newText, kind) => {
    const { op, after } = makeOp(current, start, end, newText, kind);
    ops.push(op);
    current = after;
    const delta = newText.length - (end - start);
    for (const p of places) if (p.offset > start) p.offset += delta;
    return start + newText.length;
  };
  const typeString = (cursor, s) => {
    for (const ch of s) {
      if (ops.length >= count) return cursor;
      if (/[a-z]/i.test(ch) && rand() < 0.07 && ops.length + 2 < count) {
        cursor = push(cursor, cursor, pick(LETTERS), 'typo');
        cursor = push(cursor - 1, cursor, '', 'backspace');
      }
      cursor = push(cursor, cursor, ch, 'insert');
    }
    return cursor;
  };
  const backspaces = (cursor, n) => {
    for (let i = 0; i < n && ops.length < count; i++) cursor = push(cursor - 1, cursor, '', 'backspace');
    return cursor;
  };
  let round = 0;
  while (ops.length < count) {
    // Visit places in a shuffled order each round.
    const order = places.map((_, i) => i).sort(() => rand() - 0.5);
    for (const i of order) {
      if (ops.length >= count) break;
      const p = places[i];
      let cursor = p.offset;
      if (p.kind === 'statement') {
        cursor = push(cursor, cursor, '\n' + p.indent, 'newline');
        const stmt = pick(STATEMENTS);
        cursor = typeString(cursor, stmt);
        if (rand() < 0.4) {
          // Retype the last word.
          const word = /[A-Za-z_0-9]+\)*$/.exec(stmt)?.[0] ?? ')';
          cursor = backspaces(cursor, word.length);
          cursor = typeString(cursor, word);
        }
      } else if (p.kind === 'comment') {
        cursor = typeString(cursor, (round === 0 ? '  ' : ' ') + pick(COMMENTS));
        if (rand() < 0.5) cursor = backspaces(cursor, 2 + Math.floor(rand() * 4));
      } else {
        // p.len is the identifier's current length; keep at least its first character.
        const n = Math.min(p.len - 1, 2 + Math.floor(rand() * 3));
        const suffix = pick(SUFFIXES);
        cursor = backspaces(cursor, n);
        cursor = typeString(cursor, suffix);
        p.len = p.len - n + suffix.length;
      }
      // The place moves to where the cursor ended (typing continues there next round).
      p.offset = cursor;
    }
    round++;
  }
  return { ops: ops.slice(0, count), text: current };
}

/** Alternating insert/delete of one character inside identifiers spread over the file. */
export function churnScript(text, anchors, count) {
  const ids = anchors.identifiers;
  const spots = [];
  const nSpots = Math.min(200, ids.length);
  for (let i = 0; i < nSpots; i++) spots.push(ids[Math.floor(((i + 0.5) / nSpots) * ids.length)].start + 1);
  const pairs = spots.map((at) => {
    const ins = makeOp(text, at, at, 'q', 'insert');
    const del = makeOp(ins.after, at, at + 1, '', 'backspace');
    return [ins.op, del.op];
  });
  const ops = [];
  for (let i = 0; ops.length < count; i++) ops.push(...pairs[i % pairs.length]);
  return ops.slice(0, count);
}
