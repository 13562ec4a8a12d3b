// Property test of an open document's queued changes (protocol/pending-text.ts, OpenDocument):
// a burst of changes is gathered into one replaced region of the text before the text and the
// tree are rebuilt once. Random change scripts (insertions, deletions and replacements, several
// lines, reversed ranges, positions past a line's end or past the last line, CRLF, lone CR and
// astral characters) are applied two ways: change by change with vscode-languageserver-textdocument
// (what the editor's text is), and through OpenDocument.applyChanges with the text read only at the
// end. The texts must be equal; so must every position's offset, the line count and the line
// lengths the clamping log reads while changes are still queued; and the tree built by one
// incremental reparse must equal a fresh parse of the final text.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Language } from 'web-tree-sitter';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver';
import { loadPython } from '../server/src/parsing/grammar';
import { ParsedDocument } from '../server/src/parsing/document';
import { OpenDocument } from '../server/src/protocol/documents';
import { PendingText } from '../server/src/protocol/pending-text';
import { Random, seedsFromEnv } from './helpers/random';

const SEEDS = seedsFromEnv('LEAKLENS_PENDING_SEEDS', [0x9e11d001, 0x9e11d002, 0x9e11d003, 0x9e11d004]);
const SCRIPTS = 60;
const PIECES = ['x', 'def f(p):\n', '    return open(p)\n', '\n', '\r\n', '\r', '    ', '𝒳', 'é', '"""', '#', ')', 'a\r\nb', '\n\n'];

let language: Language;
before(async () => {
  language = await loadPython();
});

function baseText(r: Random): string {
  let s = '';
  const n = r.int(0, 40);
  for (let i = 0; i < n; i++) s += r.pick(PIECES);
  return s;
}

/** A change drawn against `doc` (the editor's current text), sometimes out of range or reversed. */
function randomChange(r: Random, doc: TextDocument): TextDocumentContentChangeEvent {
  if (r.chance(0.02)) return { text: baseText(r) };
  const pos = () => {
    const line = r.chance(0.05) ? doc.lineCount + r.int(0, 2) : r.int(0, Math.max(0, doc.lineCount - 1));
    return { line, character: r.chance(0.1) ? r.int(0, 200) : r.int(0, 12) };
  };
  let start = pos();
  let end = r.chance(0.5) ? start : r.chance(0.5) ? pos() : { line: start.line, character: start.character + r.int(0, 3) };
  if (r.chance(0.9) && (end.line < start.line || (end.line === start.line && end.character < start.character))) [start, end] = [end, start];
  const text = r.chance(0.3) ? '' : r.chance(0.7) ? r.pick(PIECES) : r.pick(PIECES) + r.pick(PIECES);
  return { range: { start, end }, text };
}

/**
 * The editor's text after one change. The library's update keeps its line table by splicing, which
 * miscounts a CR and LF that the change brings together (or apart); an editor knows its lines, so
 * the reference is the library's document made afresh from the new text.
 */
function applied(doc: TextDocument, change: TextDocumentContentChangeEvent, version: number): TextDocument {
  const copy = TextDocument.create(doc.uri, doc.languageId, doc.version, doc.getText());
  TextDocument.update(copy, [change], version);
  return TextDocument.create(doc.uri, doc.languageId, version, copy.getText());
}

/** What the clamping log reads while changes are queued: line count, each line's length, offsets. */
function sameView(view: PendingText, doc: TextDocument, where: string): void {
  assert.equal(view.lineCount, doc.lineCount, `${where}: line count`);
  const text = doc.getText();
  assert.equal(view.length, text.length, `${where}: length`);
  for (let line = 0; line < doc.lineCount + 1; line++) {
    const lineEnd = line + 1 < doc.lineCount ? doc.offsetAt({ line: line + 1, character: 0 }) : text.length;
    const length = text.slice(doc.offsetAt({ line, character: 0 }), lineEnd).replace(/\r?\n$|\r$/, '').length;
    if (line < doc.lineCount) assert.equal(view.lineLength(line), length, `${where}: length of line ${line}`);
    for (const character of [0, 1, 2, length, length + 1, 50]) {
      assert.equal(view.offsetAt({ line, character }), doc.offsetAt({ line, character }), `${where}: offset of ${line}:${character}`);
    }
  }
}

for (const seed of SEEDS) {
  test(`queued changes give the editor's text, offsets and tree (seed 0x${seed.toString(16)})`, () => {
    const r = new Random(seed);
    let coalesced = 0;
    for (let script = 0; script < SCRIPTS; script++) {
      const initial = baseText(r);
      let editor = TextDocument.create('file:///t.py', 'python', 1, initial);
      const open = new OpenDocument(language, TextDocument.create('file:///t.py', 'python', 1, initial), 1 << 20);
      open.reparse();
      let version = 1;
      const batches = r.int(1, 4);
      for (let batch = 0; batch < batches; batch++) {
        const notifications = r.chance(0.2) ? 1 : r.int(2, 12);
        for (let n = 0; n < notifications; n++) {
          const changes = Array.from({ length: r.chance(0.8) ? 1 : r.int(2, 4) }, () => randomChange(r, editor));
          version++;
          const where = `seed 0x${seed.toString(16)} script ${script} batch ${batch} notification ${n}`;
          // The clamping log reads the queued text's lines before the changes are applied.
          sameView(open.view(), editor, where);
          // The ranges of one notification's later changes refer to the text its earlier ones left.
          for (let i = 0; i < changes.length; i++) {
            if (i > 0 && 'range' in changes[i]) changes[i] = randomChange(r, editor);
            editor = applied(editor, changes[i], version);
          }
          open.applyChanges(changes, version);
          assert.equal(open.version, version, `${where}: version while queued`);
        }
        if (notifications > 1) coalesced++;
        const where = `seed 0x${seed.toString(16)} script ${script} batch ${batch}`;
        const text = open.lsp.getText();
        assert.equal(text, editor.getText(), `${where}: text (initial ${JSON.stringify(initial)})`);
        assert.equal(open.lsp.version, version);
        sameView(open.view(), editor, `${where} (committed)`);
        for (let line = 0; line <= editor.lineCount; line++) {
          assert.equal(open.lsp.offsetAt({ line, character: 3 }), editor.offsetAt({ line, character: 3 }), `${where}: committed offset of ${line}:3`);
        }
        const parsed = open.parsedDocument!;
        const fresh = new ParsedDocument(language, text);
        try {
          assert.equal(parsed.tree!.rootNode.toString(), fresh.tree!.rootNode.toString(), `${where}: tree`);
        } finally {
          fresh.dispose();
        }
      }
      open.dispose();
    }
    assert.ok(coalesced > SCRIPTS / 2, `bursts coalesced: ${coalesced}`);
  });
}
