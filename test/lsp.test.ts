// The language server over real stdio JSON-RPC: versioned diagnostics, incremental sync
// (UTF-16 positions, several changes per notification, CRLF), quick fixes, ignore comments,
// fix-all, stale code actions and didClose.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CodeAction, Diagnostic, PublishDiagnosticsParams, TextDocumentContentChangeEvent, TextEdit } from 'vscode-languageserver';
import {
  applyTextEdits,
  codes,
  freshUri as freshUriAnywhere,
  LspClient,
  offsetAt,
  positionAt,
  rangeOf,
  ROOT,
  withServer,
} from './helpers/lsp-client';

interface Fix {
  title: string;
  safety: 'safe' | 'unsafe';
  edits: { start: number; end: number; text: string }[];
}
interface Data {
  version: number;
  fixes: Fix[];
  ignore?: { start: number; end: number; text: string };
}

const tmp = mkdtempSync(join(tmpdir(), 'leaklens-lsp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let tmpCount = 0;

/**
 * Byte-compiles each text with CPython (one `python3 -m py_compile` run for all of them, since
 * starting Python is the slow part) and fails with the offending texts if any does not compile.
 */
function assertCompiles(...texts: string[]): void {
  const files = texts.map((text) => {
    const file = join(tmp, `check${++tmpCount}.py`);
    writeFileSync(file, text, 'utf8');
    return file;
  });
  const result = spawnSync('python3', ['-m', 'py_compile', ...files], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return;
  const failing = files.map((f, i) => (result.stderr.includes(f) ? `--- ${f} ---\n${texts[i]}` : '')).filter(Boolean);
  assert.fail(`py_compile exited ${result.status}: ${result.stderr}${result.error ?? ''}\n${failing.join('\n')}`);
}

/** Applies an incremental change the way the LSP spec defines it (the oracle for the server). */
function applyChange(text: string, change: TextDocumentContentChangeEvent): string {
  if (!('range' in change)) return change.text;
  return text.slice(0, offsetAt(text, change.range.start)) + change.text + text.slice(offsetAt(text, change.range.end));
}

function sliceRange(text: string, d: { range: Diagnostic['range'] }): string {
  return text.slice(offsetAt(text, d.range.start), offsetAt(text, d.range.end));
}

const data = (d: Diagnostic) => d.data as Data;

/** A non-empty range whose positions exist in `text` (no character past a line's end). */
function assertValidRange(text: string, range: Diagnostic['range']): void {
  const start = offsetAt(text, range.start);
  const end = offsetAt(text, range.end);
  assert.deepEqual(positionAt(text, start), range.start, `start ${JSON.stringify(range.start)} exists in the text`);
  assert.deepEqual(positionAt(text, end), range.end, `end ${JSON.stringify(range.end)} exists in the text`);
  assert.ok(start < end, `non-empty range ${JSON.stringify(range)}`);
}

/** Everything every published diagnostic must carry (spec §3). */
function assertWellFormed(p: PublishDiagnosticsParams, text: string): void {
  for (const d of p.diagnostics) {
    assert.match(String(d.code), /^LL\d{3}$/);
    assert.equal(d.source, 'leaklens');
    assert.ok(d.severity !== undefined && d.severity >= 1 && d.severity <= 4, `severity ${d.severity}`);
    assert.ok(typeof d.message === 'string' && d.message.length > 0);
    const href = d.codeDescription?.href;
    assert.ok(href !== undefined && href.startsWith('file:'), `documentation link ${href}`);
    const docPath = fileURLToPath(href);
    assert.equal(docPath, join(ROOT, 'dist', 'docs', 'rules', `${d.code}.md`));
    assert.ok(existsSync(docPath), `${docPath} must exist`);
    assert.match(readFileSync(docPath, 'utf8'), new RegExp(String(d.code)));
    assert.ok(Array.isArray(d.relatedInformation), 'relatedInformation');
    for (const r of d.relatedInformation!) {
      assert.equal(r.location.uri, p.uri);
      assert.ok(r.message.length > 0);
      assertValidRange(text, r.location.range);
    }
    const dd = data(d);
    assert.equal(dd.version, p.version, 'data.version is the published version');
    assert.ok(Array.isArray(dd.fixes));
    for (const fix of dd.fixes) {
      assert.equal(typeof fix.title, 'string');
      assert.ok(fix.safety === 'safe' || fix.safety === 'unsafe', fix.safety);
      assert.ok(fix.edits.length > 0);
      for (const e of fix.edits) assert.ok(e.start <= e.end && e.end <= text.length && typeof e.text === 'string');
    }
    if (dd.ignore) {
      assert.ok(dd.ignore.start <= dd.ignore.end && dd.ignore.end <= text.length);
      assert.match(dd.ignore.text, new RegExp(`# leaklens: ignore\\[${d.code}\\]`));
    }
    // The range is a real, non-empty range of this text (valid line/character positions).
    assertValidRange(text, d.range);
  }
}

function isAction(a: unknown): a is CodeAction {
  return typeof a === 'object' && a !== null && 'title' in a && !('command' in a && typeof (a as { command: unknown }).command === 'string');
}

/** The edits of a code action, after checking it is one versioned TextDocumentEdit for `uri`. */
function versionedEdits(action: CodeAction, uri: string, version: number): TextEdit[] {
  assert.ok(action.edit, `${action.title} has an edit`);
  assert.equal(action.edit.changes, undefined, 'edits travel as documentChanges, not changes');
  const changes = action.edit.documentChanges;
  assert.ok(changes && changes.length === 1, 'one TextDocumentEdit');
  const change = changes[0];
  assert.ok('textDocument' in change && 'edits' in change);
  assert.deepEqual(change.textDocument, { uri, version });
  return change.edits as TextEdit[];
}

async function quickFixes(c: LspClient, uri: string, d: Diagnostic): Promise<CodeAction[]> {
  const result = await c.codeAction(uri, d.range, { diagnostics: [d], only: ['quickfix'] });
  assert.ok(Array.isArray(result));
  assert.ok(result.every(isAction));
  return result as CodeAction[];
}

/** Opens `text` and returns its first publish (version 1), checked for well-formedness. */
async function openAndWait(c: LspClient, uri: string, text: string, version = 1): Promise<PublishDiagnosticsParams> {
  await c.open(uri, text, version);
  const p = await c.diagnosticsFor(uri, version);
  assertWellFormed(p, text);
  return p;
}

/**
 * The samples' defaults are only read (LL201 of low confidence, reported with all-findings), and
 * their safe fixes are what these tests exercise: documents live in a folder whose pyproject.toml
 * turns all-findings on.
 */
const allFindingsDir = mkdtempSync(join(tmpdir(), 'leaklens-lsp-all-'));
writeFileSync(join(allFindingsDir, 'pyproject.toml'), '[tool.leaklens]\nall-findings = true\n');
after(() => rmSync(allFindingsDir, { recursive: true, force: true }));
const freshUri = (name?: string) => pathToFileURL(join(allFindingsDir, fileURLToPath(freshUriAnywhere(name)).split('/').pop()!)).toString();

const MUTABLE_DEFAULT = 'def f(x=[]):\n    return 1 if x else 0\n';
const UNCLOSED = 'def g(p):\n    f = open(p)\n    data = f.read()\n    return data\n';

test('didOpen publishes versioned diagnostics with code, source, severity, documentation link, related information and fix data', async () => {
  await withServer(async (c) => {
    const uri = freshUri('open');
    const text = MUTABLE_DEFAULT + '\n\n' + UNCLOSED + '\n\ndef h(items=[]):\n    items.append(1)\n    return items\n';
    await c.open(uri, text, 7);
    const p = await c.diagnosticsFor(uri, 7);
    assertWellFormed(p, text);
    assert.equal(p.version, 7);
    assert.deepEqual(codes(p.diagnostics), ['LL101', 'LL201', 'LL201']);

    const [ll201, third] = p.diagnostics.filter((d) => d.code === 'LL201');
    assert.deepEqual(ll201.range, { start: { line: 0, character: 8 }, end: { line: 0, character: 10 } });
    assert.equal(sliceRange(text, ll201), '[]');
    const fix = data(ll201).fixes[0];
    assert.equal(fix.safety, 'safe');
    assert.ok(fix.edits.some((e) => e.text === 'None' && text.slice(e.start, e.end) === '[]'), 'replaces [] by None');
    assert.ok(data(ll201).ignore, 'carries the ignore edit');

    const ll101 = p.diagnostics.find((d) => d.code === 'LL101')!;
    assert.deepEqual(ll101.range, rangeOf(text, 'open(p)'));
    assert.equal(data(ll101).fixes[0].safety, 'safe');

    // `items.append(1)` mutates the default: the diagnostic points at it as related information.
    assert.equal(sliceRange(text, third), '[]');
    assert.equal(third.range.start.line, rangeOf(text, 'items=[]').start.line);
    assert.ok(third.relatedInformation!.length >= 1, 'the mutation is related information');
    const related = third.relatedInformation![0];
    assert.equal(related.location.range.start.line, rangeOf(text, 'items.append(1)').start.line);
    assert.match(related.message, /items/);
  });
});

test('the default set (LL101 alone) unless initializationOptions.settings or workspace/configuration select more', async () => {
  const text = MUTABLE_DEFAULT + '\n\n' + UNCLOSED + '\n\ndef h(items=[]):\n    items.append(1)\n    return items\n';
  const published = async (settings: Record<string, unknown> | null, answer?: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmp, 'defaults-'));
    writeFileSync(join(dir, 'pyproject.toml'), '[tool.leaklens]\nall-findings = true\n');
    const c = LspClient.spawn();
    try {
      if (answer) c.settings = () => answer;
      // With a folder the client answers workspace/configuration; without one it cannot.
      await c.initialize(answer ? { folders: [dir], settings } : { settings });
      const uri = answer ? pathToFileURL(join(dir, 'a.py')).toString() : freshUri('defaults');
      await c.open(uri, text, 1);
      return codes((await c.diagnosticsFor(uri, 1)).diagnostics);
    } finally {
      if (c.alive) await c.shutdown().catch(() => undefined);
      c.kill();
    }
  };
  assert.deepEqual(await published(null), ['LL101']);
  assert.deepEqual(await published({ select: ['ALL'] }), ['LL101', 'LL201', 'LL201']);
  assert.deepEqual(await published({ extendSelect: ['LL201'] }), ['LL101', 'LL201', 'LL201']);
  // The client's own answer wins over the initialization options, key by key.
  assert.deepEqual(await published({ select: ['ALL'] }, { select: ['LL1'] }), ['LL101']);
  assert.deepEqual(await published({ select: ['ALL'] }, { ignore: ['LL201'] }), ['LL101']);
  assert.deepEqual(await published(null, { select: ['LL2'] }), ['LL201', 'LL201']);
});

test('incremental sync: several changes in one didChange, each relative to the previous one, with UTF-16 positions', async () => {
  await withServer(async (c) => {
    const uri = freshUri('incremental');
    let text = 'def f(x=[]):\n    return 1 if x else 0\n\n\ndef g(p):\n    return p\n';
    await openAndWait(c, uri, text);

    const changes: TextDocumentContentChangeEvent[] = [
      // 1. two lines on top: everything below moves down by two lines.
      { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'import os\n\n' },
      // 2. line 2 only holds `def f` after change 1 (in the original text it is an empty line).
      { range: { start: { line: 2, character: 6 }, end: { line: 2, character: 6 } }, text: 'a="𝒳", ' },
      // 3. `return p` is on line 7 after change 1; replace it with an unclosed resource.
      { range: { start: { line: 7, character: 4 }, end: { line: 7, character: 12 } }, text: 'f = open(p)\n    return f.read()' },
    ];
    for (const ch of changes) text = applyChange(text, ch);
    assert.equal(text, 'import os\n\ndef f(a="𝒳", x=[]):\n    return 1 if x else 0\n\n\ndef g(p):\n    f = open(p)\n    return f.read()\n');
    await c.change(uri, 2, changes);
    let p = await c.diagnosticsFor(uri, 2);
    assertWellFormed(p, text);
    const ll201 = p.diagnostics.find((d) => d.code === 'LL201')!;
    // 𝒳 is one code point but two UTF-16 code units: `[]` starts at UTF-16 column 16.
    assert.deepEqual(ll201.range, { start: { line: 2, character: 16 }, end: { line: 2, character: 18 } });
    const ll101 = p.diagnostics.find((d) => d.code === 'LL101')!;
    assert.deepEqual(ll101.range, { start: { line: 7, character: 8 }, end: { line: 7, character: 15 } });
    assert.equal(p.diagnostics.length, 2);

    // The ignore edit goes at the end of line 2, also counted in UTF-16 units.
    const ignore = (await quickFixes(c, uri, ll201)).find((a) => a.title === 'Ignore LL201 on this line')!;
    const [ignoreEdit] = versionedEdits(ignore, uri, 2);
    assert.deepEqual(ignoreEdit.range.start, { line: 2, character: 'def f(a="𝒳", x=[]):'.length });

    // An emoji typed right after 𝒳 (a position just past a surrogate pair), on the finding's line,
    // and a deletion on the line above in the same notification.
    const more: TextDocumentContentChangeEvent[] = [
      { range: { start: { line: 2, character: 11 }, end: { line: 2, character: 11 } }, text: '😀' },
      { range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } }, text: '' },
    ];
    for (const ch of more) text = applyChange(text, ch);
    assert.ok(text.startsWith('\ndef f(a="𝒳😀", x=[]):\n'));
    await c.change(uri, 3, more);
    p = await c.diagnosticsFor(uri, 3);
    assertWellFormed(p, text);
    assert.deepEqual(
      p.diagnostics.find((d) => d.code === 'LL201')!.range,
      { start: { line: 1, character: 18 }, end: { line: 1, character: 20 } },
    );
    assert.deepEqual(p.diagnostics.find((d) => d.code === 'LL101')!.range, rangeOf(text, 'open(p)'));

    // Removing the finding by an edit that replaces `[]` with `None` clears it.
    const range201 = p.diagnostics.find((d) => d.code === 'LL201')!.range;
    const fixChange = { range: range201, text: 'None' };
    text = applyChange(text, fixChange);
    await c.change(uri, 4, [fixChange]);
    p = await c.diagnosticsFor(uri, 4);
    assertWellFormed(p, text);
    assert.deepEqual(codes(p.diagnostics), ['LL101']);

    // A full-text change followed by a ranged change relative to the new full text, in one notification.
    const mixed: TextDocumentContentChangeEvent[] = [
      { text: 'y = 2\n' },
      { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'def k(𝒳=0, d={}):\n    return d\n' },
    ];
    for (const ch of mixed) text = applyChange(text, ch);
    await c.change(uri, 5, mixed);
    p = await c.diagnosticsFor(uri, 5);
    assertWellFormed(p, text);
    assert.deepEqual(p.diagnostics.map((d) => [d.code, d.range]), [['LL201', { start: { line: 1, character: 14 }, end: { line: 1, character: 16 } }]]);
  });
});

test('published versions follow the latest version and never go backwards, through a burst of keystrokes', async () => {
  await withServer(async (c) => {
    const uri = freshUri('burst');
    const texts = new Map<number, string>();
    let text = MUTABLE_DEFAULT;
    texts.set(1, text);
    await openAndWait(c, uri, text);

    // Type a second function character by character, with a typo and backspace, one didChange each.
    const typed = 'def h(z={}):\n    return zz\b\n';
    let version = 1;
    for (const ch of typed) {
      const end = positionAt(text, text.length);
      const change: TextDocumentContentChangeEvent =
        ch === '\b'
          ? { range: { start: positionAt(text, text.length - 1), end }, text: '' }
          : { range: { start: end, end }, text: ch };
      text = applyChange(text, change);
      texts.set(++version, text);
      await c.change(uri, version, [change]);
    }
    assert.equal(text, MUTABLE_DEFAULT + 'def h(z={}):\n    return z\n');
    const last = await c.diagnosticsFor(uri, version);
    assertWellFormed(last, text);
    assert.deepEqual(codes(last.diagnostics), ['LL201', 'LL201']);
    assert.equal(sliceRange(text, last.diagnostics[1]), '{}');

    // A stale change (an older version) must not make the server publish an older version.
    await c.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# stale\n' }]);
    const next = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# newer\n' };
    await c.change(uri, version + 1, [next]);
    text = applyChange(text, next);
    texts.set(++version, text);
    const final = await c.diagnosticsFor(uri, version);
    assertWellFormed(final, text);
    assert.deepEqual(final.diagnostics.map((d) => d.range.start), [{ line: 1, character: 8 }, { line: 3, character: 8 }]);

    const versions = c.published.get(uri)!.map((p) => p.version!);
    assert.ok(versions.length >= 2);
    for (let i = 1; i < versions.length; i++) {
      assert.ok(versions[i] >= versions[i - 1], `published versions went backwards: ${versions.join(',')}`);
    }
    assert.equal(versions[versions.length - 1], version);
    // Every intermediate publish described its own version's text: each finding sits on a mutable literal.
    for (const p of c.published.get(uri)!) {
      const t = texts.get(p.version!);
      assert.ok(t !== undefined, `published a version that was never sent: ${p.version}`);
      assertWellFormed(p, t);
      for (const d of p.diagnostics) assert.match(sliceRange(t, d), /^[[{]/, `version ${p.version}`);
    }
  });
});

test('CRLF documents: positions per LSP lines, edits keep CRLF, fixes compile', async () => {
  await withServer(async (c) => {
    const uri = freshUri('crlf');
    let text = (MUTABLE_DEFAULT + '\n' + UNCLOSED).replace(/\n/g, '\r\n');
    let p = await openAndWait(c, uri, text);
    assert.deepEqual(codes(p.diagnostics), ['LL101', 'LL201']);
    assert.deepEqual(p.diagnostics.find((d) => d.code === 'LL201')!.range, { start: { line: 0, character: 8 }, end: { line: 0, character: 10 } });
    assert.deepEqual(p.diagnostics.find((d) => d.code === 'LL101')!.range, { start: { line: 4, character: 8 }, end: { line: 4, character: 15 } });

    // Insert a CRLF line on top: everything moves down one line.
    const change = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# top\r\n' };
    text = applyChange(text, change);
    await c.change(uri, 2, [change]);
    p = await c.diagnosticsFor(uri, 2);
    assertWellFormed(p, text);
    const ll201 = p.diagnostics.find((d) => d.code === 'LL201')!;
    const ll101 = p.diagnostics.find((d) => d.code === 'LL101')!;
    assert.deepEqual(ll201.range, { start: { line: 1, character: 8 }, end: { line: 1, character: 10 } });
    assert.deepEqual(ll101.range, { start: { line: 5, character: 8 }, end: { line: 5, character: 15 } });

    // The ignore comment goes before the \r\n, not between \r and \n.
    const ignore = (await quickFixes(c, uri, ll201)).find((a) => a.title === 'Ignore LL201 on this line')!;
    const ignored = applyTextEdits(text, versionedEdits(ignore, uri, 2));
    assert.ok(ignored.includes('def f(x=[]):  # leaklens: ignore[LL201]\r\n'), JSON.stringify(ignored));

    // Both quick fixes applied one after the other keep every line ending CRLF and compile.
    const toCompile = [ignored];
    for (const code of ['LL101', 'LL201']) {
      const d = p.diagnostics.find((x) => x.code === code)!;
      const fix = (await quickFixes(c, uri, d)).find((a) => a.isPreferred)!;
      assert.ok(fix, `a preferred fix for ${code}`);
      const fixed = applyTextEdits(text, versionedEdits(fix, uri, p.version!));
      assert.doesNotMatch(fixed, /(^|[^\r])\n/, `${code} fix introduced a bare LF: ${JSON.stringify(fixed)}`);
      assert.doesNotMatch(fixed, /\r(?!\n)/, `${code} fix introduced a bare CR`);
      toCompile.push(fixed);
      const whole = { range: { start: { line: 0, character: 0 }, end: positionAt(text, text.length) }, text: fixed };
      text = fixed;
      await c.change(uri, p.version! + 1, [whole]);
      p = await c.diagnosticsFor(uri, p.version! + 1);
      assertWellFormed(p, text);
      assert.ok(!codes(p.diagnostics).includes(code), `${code} is gone after its fix`);
    }
    assert.deepEqual(p.diagnostics, []);
    assertCompiles(...toCompile);
  });
});

test('quick fixes: preferred when safe, versioned edits that compile and remove the finding', async () => {
  const cases: { text: string; code: string }[] = [
    { text: MUTABLE_DEFAULT, code: 'LL201' },
    { text: 'def f(x=[]): return 1 if x else 0\n', code: 'LL201' },
    { text: 'def f(x=[]):\n    """Doc."""\n    return 1 if x else 0\n', code: 'LL201' },
    { text: 'def f(x: list = []) -> int:\n    # comment\n\n    return 1 if x else 0\n', code: 'LL201' },
    { text: 'def f(x=[]):\n\tif x:\n\t\treturn 1\n\treturn 0\n', code: 'LL201' },
    { text: 'def f(x=[]):\n    return 1 if x else 0', code: 'LL201' },
    { text: UNCLOSED, code: 'LL101' },
    { text: 'def g(p):\n    if p:\n        f = open(p)\n        return f.read()\n    return None\n', code: 'LL101' },
    { text: 'import socket\n\n\ndef g(h):\n    s = socket.socket()\n    s.connect(h)\n    return s.recv(1)\n', code: 'LL101' },
  ];
  await withServer(async (c) => {
    const toCompile: string[] = cases.map((x) => x.text);
    for (const { text: original, code } of cases) {
      const uri = freshUri('quickfix');
      let text = original;
      await openAndWait(c, uri, text);
      // Move to version 2 with an edit above the finding, so the edit version is not trivially 1.
      const change = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# header\n' };
      text = applyChange(text, change);
      await c.change(uri, 2, [change]);
      const p = await c.diagnosticsFor(uri, 2);
      assertWellFormed(p, text);
      const findings = p.diagnostics.filter((d) => d.code === code);
      assert.equal(findings.length, 1, `${JSON.stringify(original)}: ${JSON.stringify(p.diagnostics)}`);
      const [d] = findings;
      const dd = data(d);
      assert.equal(dd.fixes.length, 1);
      assert.equal(dd.fixes[0].safety, 'safe');

      const actions = await quickFixes(c, uri, d);
      const fix = actions.find((a) => a.title === dd.fixes[0].title);
      assert.ok(fix, `quick fix "${dd.fixes[0].title}" offered: ${actions.map((a) => a.title).join(' | ')}`);
      assert.equal(fix.kind, 'quickfix');
      assert.equal(fix.isPreferred, true);
      assert.deepEqual(fix.diagnostics, [d]);
      assert.ok(actions.some((a) => a.title === `Ignore ${code} on this line`));
      assert.ok(actions.filter((a) => a.isPreferred).length === 1, 'exactly one preferred action');

      const fixed = applyTextEdits(text, versionedEdits(fix, uri, 2));
      assert.notEqual(fixed, text);
      toCompile.push(fixed);
      // Check the result both by reopening it and by sending it as a change of the open document.
      const reopened = freshUri('fixed');
      const again = await openAndWait(c, reopened, fixed);
      assert.ok(!codes(again.diagnostics).includes(code), `${code} remains after its fix:\n${fixed}\n${JSON.stringify(again.diagnostics)}`);
      await c.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: positionAt(text, text.length) }, text: fixed }]);
      const after = await c.diagnosticsFor(uri, 3);
      assertWellFormed(after, fixed);
      const summary = (list: Diagnostic[]) => list.map((x) => [x.code, x.range, x.message, data(x).fixes]);
      assert.deepEqual(summary(after.diagnostics), summary(again.diagnostics), 'same findings whether reopened or changed');
      await c.close(uri);
      await c.close(reopened);
    }
    assertCompiles(...toCompile);
  });
});

test('an unsafe fix is offered but not preferred, and marked unsafe', async () => {
  await withServer(async (c) => {
    const uri = freshUri('unsafe');
    const text = 'def f(\n    a,\n    x=[],\n):\n    return x\n';
    const p = await openAndWait(c, uri, text);
    const [d] = p.diagnostics;
    assert.equal(d.code, 'LL201');
    assert.equal(data(d).fixes[0].safety, 'unsafe');
    const fix = (await quickFixes(c, uri, d)).find((a) => a.title.startsWith(data(d).fixes[0].title))!;
    assert.ok(fix);
    assert.match(fix.title, /unsafe/);
    assert.notEqual(fix.isPreferred, true);
    assertCompiles(applyTextEdits(text, versionedEdits(fix, uri, 1)));
  });
});

test('"Ignore LL201 on this line" inserts the suppression comment and the finding disappears', async () => {
  await withServer(async (c) => {
    const toCompile: string[] = [];
    for (const original of [MUTABLE_DEFAULT, 'def f(x=[], s="#"):  # note\n    return x\n', 'def f(\n    a,\n    x=[],\n):\n    return x\n']) {
      const uri = freshUri('ignore');
      let text = original;
      const p = await openAndWait(c, uri, text);
      const [d] = p.diagnostics;
      assert.equal(d.code, 'LL201');
      const actions = await quickFixes(c, uri, d);
      const ignore = actions.find((a) => a.title === 'Ignore LL201 on this line');
      assert.ok(ignore, actions.map((a) => a.title).join(' | '));
      assert.equal(ignore.kind, 'quickfix');
      assert.notEqual(ignore.isPreferred, true);
      text = applyTextEdits(text, versionedEdits(ignore, uri, 1));
      const line = text.split('\n')[d.range.start.line];
      assert.match(line, /# leaklens: ignore\[LL201\]$/, `comment on the flagged line: ${JSON.stringify(text)}`);
      assert.equal(text.split('\n').length, original.split('\n').length, 'no line added');
      toCompile.push(text);
      await c.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: positionAt(original, original.length) }, text }]);
      const after = await c.diagnosticsFor(uri, 2);
      assert.deepEqual(after.diagnostics, [], text);
    }
    assertCompiles(...toCompile);
  });
});

test('source.fixAll gives one versioned edit; the result compiles and has no safe-fixable finding left', async () => {
  const original = [
    'import socket',
    '',
    '',
    'def f(x=[]):',
    '    return 1 if x else 0',
    '',
    '',
    'class A:',
    '    def m(self, x={}, *, y=set()):',
    '        return 1 if x or y else 0',
    '',
    '',
    'def g(p):',
    '    f = open(p)',
    '    data = f.read()',
    '    return data',
    '',
    '',
    'def h(host, seen=[]):',
    '    s = socket.socket()',
    '    s.connect(host)',
    '    seen.append(host)',
    '    return s.recv(1)',
    '',
  ].join('\n');
  await withServer(async (c) => {
    const uri = freshUri('fixall');
    await openAndWait(c, uri, original);
    // Version 2: one more finding typed in, so the action must use the current text and version.
    const change = { range: { start: positionAt(original, original.length), end: positionAt(original, original.length) }, text: '\n\ndef k(d={}):\n    return d\n' };
    const text = applyChange(original, change);
    await c.change(uri, 2, [change]);
    const p = await c.diagnosticsFor(uri, 2);
    assertWellFormed(p, text);
    const safe = p.diagnostics.filter((d) => data(d).fixes.some((f) => f.safety === 'safe'));
    assert.ok(safe.length >= 5, `several safe-fixable findings: ${JSON.stringify(codes(p.diagnostics))}`);

    const actions = await c.codeAction(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, {
      diagnostics: p.diagnostics,
      only: ['source.fixAll'],
    });
    assert.ok(Array.isArray(actions));
    assert.equal(actions.length, 1, `exactly one action: ${JSON.stringify(actions)}`);
    const [action] = actions as CodeAction[];
    assert.equal(action.kind, 'source.fixAll.leaklens');
    const fixed = applyTextEdits(text, versionedEdits(action, uri, 2));
    assertCompiles(original, fixed);

    await c.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: positionAt(text, text.length) }, text: fixed }]);
    const after = await c.diagnosticsFor(uri, 3);
    assertWellFormed(after, fixed);
    const remaining = after.diagnostics.filter((d) => data(d).fixes.some((f) => f.safety === 'safe'));
    assert.deepEqual(remaining, [], `safe-fixable findings remain:\n${fixed}`);
    assert.ok(after.diagnostics.length < p.diagnostics.length);

    // Nothing left to fix: no fix-all action (or one that changes nothing).
    const none = (await c.codeAction(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, {
      diagnostics: [],
      only: ['source.fixAll'],
    })) as CodeAction[];
    for (const a of none) assert.equal(applyTextEdits(fixed, versionedEdits(a, uri, 3)), fixed);

    // A request for quick fixes only never carries the fix-all action.
    const quick = (await c.codeAction(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, {
      diagnostics: after.diagnostics,
    })) as CodeAction[];
    assert.ok(quick.every((a) => a.kind === 'quickfix'));
  });
});

test('a code action request with a stale diagnostic (older data.version) returns no quick fix', async () => {
  await withServer(async (c) => {
    const uri = freshUri('stale');
    let text = MUTABLE_DEFAULT;
    const v1 = await openAndWait(c, uri, text);
    const stale = v1.diagnostics[0];
    assert.equal(data(stale).version, 1);
    assert.ok((await quickFixes(c, uri, stale)).length >= 2, 'control: fixes are offered while current');

    const change = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '\n\n' };
    text = applyChange(text, change);
    await c.change(uri, 2, [change]);
    const v2 = await c.diagnosticsFor(uri, 2);
    assert.equal(v2.diagnostics[0].range.start.line, 2);

    // The old diagnostic's edits would land two lines too high: the server must refuse them.
    assert.deepEqual(await quickFixes(c, uri, stale), []);
    const all = await c.codeAction(uri, stale.range, { diagnostics: [stale] });
    assert.ok(Array.isArray(all) && all.every((a) => isAction(a) && a.kind !== 'quickfix'), JSON.stringify(all));
    // The fresh diagnostic still works, at version 2.
    const fresh = await quickFixes(c, uri, v2.diagnostics[0]);
    assert.ok(fresh.length >= 2);
    const fixed = applyTextEdits(text, versionedEdits(fresh.find((a) => a.isPreferred)!, uri, 2));
    assertCompiles(fixed);
    assert.ok(fixed.startsWith('\n\ndef f(x=None):\n'));
  });
});

test('didClose clears the diagnostics with an empty array; reopening analyses again', async () => {
  await withServer(async (c) => {
    const uri = freshUri('close');
    const p = await openAndWait(c, uri, MUTABLE_DEFAULT);
    assert.equal(p.diagnostics.length, 1);
    await c.close(uri);
    const cleared = await c.waitForDiagnostics(uri, (x) => x !== p);
    assert.deepEqual(cleared.diagnostics, []);
    // A closed document has no code actions.
    assert.deepEqual(await c.codeAction(uri, p.diagnostics[0].range, { diagnostics: p.diagnostics }), []);
    // Reopen at a new version: analysed again.
    const again = await openAndWait(c, uri, UNCLOSED, 5);
    assert.deepEqual(codes(again.diagnostics), ['LL101']);
  });
});

test('shutdown and exit end the server with exit code 0', async () => {
  await withServer(async (c) => {
    const uri = freshUri('shutdown');
    await openAndWait(c, uri, MUTABLE_DEFAULT);
    assert.equal(await c.shutdown(), 0);
    assert.equal(c.alive, false);
  });
});
