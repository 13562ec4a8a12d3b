// The CLI's other outputs as a real process on real files: SARIF, GitHub annotations, --diff
// (with the unified-diff writer on tricky inputs), --stdin-filename, --statistics and the
// progress line on a terminal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { escapeGithubData, escapeGithubProperty } from '../server/src/cli/output';
import { unifiedDiff } from '../server/src/cli/unidiff';
import { CLI, ROOT, runCli as runCliOnly, withAllRules } from './helpers/cli';

/**
 * The samples' LL201 defaults that are only read are of low confidence (reported with
 * --all-findings, one severity lower); their safe fixes are what these tests exercise, so every
 * `check` here asks for all findings.
 */
const allFindings = (args: string[]) => (args[0] === 'check' ? ['check', '--all-findings', ...args.slice(1)] : args);
const withAllFindings = (args: string[]) => withAllRules(allFindings(args));
const runCli: typeof runCliOnly = (args, options) => runCliOnly(allFindings(args), options);

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

/** LL101 with a safe fix (line 2), LL201 with a safe fix (line 5), LL201 with only an unsafe fix and a related location (line 9). */
const LEAKY = [
  'def load(path):',
  '    f = open(path)',
  '    return f.read()',
  '',
  'def show(items=[]):',
  '    print(items or "nothing")',
  '',
  '',
  'def remember(event, seen=[]):',
  '    seen.append(event)',
  '    return len(seen)',
  '',
].join('\n');

function tempDir(files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'leaklens-formats-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** Like runCli, with bytes in and out (for sources that are not UTF-8). */
function runCliBytes(args: string[], options: { cwd?: string; input?: Buffer } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...withAllFindings(args)], { cwd: options.cwd ?? ROOT, input: options.input, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** 0-based UTF-16 offset of a 1-based line and a 1-based UTF-16 column in \n-separated text. */
function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) offset = text.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

// ---------------------------------------------------------------------------------------------
// SARIF

/** The keys SARIF 2.1.0 defines for the objects we emit (its schema forbids any other). */
const SARIF_KEYS: Record<string, string[]> = {
  log: ['$schema', 'version', 'runs', 'inlineExternalProperties', 'properties'],
  run: ['tool', 'invocations', 'conversion', 'language', 'versionControlProvenance', 'originalUriBaseIds', 'artifacts', 'logicalLocations', 'graphs', 'results', 'automationDetails', 'runAggregates', 'baselineGuid', 'redactionTokens', 'defaultEncoding', 'defaultSourceLanguage', 'newlineSequences', 'columnKind', 'externalPropertyFileReferences', 'threadFlowLocations', 'taxonomies', 'addresses', 'translations', 'policies', 'webRequests', 'webResponses', 'specialLocations', 'properties'],
  driver: ['name', 'guid', 'product', 'productSuite', 'shortDescription', 'fullDescription', 'fullName', 'version', 'semanticVersion', 'dottedQuadFileVersion', 'releaseDateUtc', 'downloadUri', 'informationUri', 'organization', 'rules', 'notifications', 'taxa', 'locations', 'language', 'contents', 'isComprehensive', 'localizedDataSemanticVersion', 'minimumRequiredLocalizedDataSemanticVersion', 'associatedComponent', 'translationMetadata', 'supportedTaxonomies', 'properties'],
  rule: ['id', 'deprecatedIds', 'guid', 'deprecatedGuids', 'name', 'deprecatedNames', 'shortDescription', 'fullDescription', 'messageStrings', 'defaultConfiguration', 'helpUri', 'help', 'relationships', 'properties'],
  result: ['ruleId', 'ruleIndex', 'rule', 'kind', 'level', 'message', 'analysisTarget', 'locations', 'guid', 'correlationGuid', 'occurrenceCount', 'partialFingerprints', 'fingerprints', 'stacks', 'codeFlows', 'graphs', 'graphTraversals', 'relatedLocations', 'suppressions', 'baselineState', 'rank', 'attachments', 'hostedViewerUri', 'workItemUris', 'provenance', 'fixes', 'taxa', 'webRequest', 'webResponse', 'properties'],
  location: ['id', 'physicalLocation', 'logicalLocations', 'message', 'annotations', 'relationships', 'properties'],
  physicalLocation: ['address', 'artifactLocation', 'region', 'contextRegion', 'properties'],
  artifactLocation: ['uri', 'uriBaseId', 'index', 'description', 'properties'],
  region: ['startLine', 'startColumn', 'endLine', 'endColumn', 'charOffset', 'charLength', 'byteOffset', 'byteLength', 'snippet', 'message', 'sourceLanguage', 'properties'],
  fix: ['description', 'artifactChanges', 'properties'],
  artifactChange: ['artifactLocation', 'replacements', 'properties'],
  replacement: ['deletedRegion', 'insertedContent', 'properties'],
};

type Json = any;

function keysOk(kind: string, value: Json): void {
  assert.equal(typeof value, 'object', `${kind} is an object`);
  for (const key of Object.keys(value)) assert.ok(SARIF_KEYS[kind].includes(key), `${kind} has no property '${key}' in SARIF 2.1.0`);
}

function regionOk(region: Json, what: string): void {
  keysOk('region', region);
  for (const key of ['startLine', 'startColumn', 'endLine', 'endColumn']) {
    assert.ok(Number.isInteger(region[key]) && region[key] >= 1, `${what}.${key} is a 1-based integer: ${region[key]}`);
  }
  assert.ok(region.endLine > region.startLine || (region.endLine === region.startLine && region.endColumn >= region.startColumn), `${what} does not end before it starts`);
}

function artifactOk(artifact: Json, what: string): void {
  keysOk('artifactLocation', artifact);
  assert.equal(typeof artifact.uri, 'string', `${what}.uri`);
  assert.doesNotMatch(artifact.uri, /\\/, `${what}.uri uses forward slashes`);
  assert.doesNotMatch(artifact.uri, /[\s%](?![0-9A-F]{2})/, `${what}.uri is escaped`);
  if (artifact.uriBaseId !== undefined) {
    assert.equal(artifact.uriBaseId, '%SRCROOT%');
    assert.doesNotMatch(artifact.uri, /^[a-z][a-z0-9+.-]*:|^\//i, `${what}.uri is relative to %SRCROOT%`);
  } else {
    assert.match(artifact.uri, /^file:\/\//, `${what}.uri is absolute without a base`);
  }
}

interface CatalogEntry {
  code: string;
  name: string;
  severity: string;
  summary: string;
  category: string;
  whatItDoes: string;
  markdown: string;
  byDefault: string;
}

let catalog: CatalogEntry[] | undefined;

/** Every rule as the same built CLI describes it (`leaklens rules`, and the Markdown of `leaklens docs`). */
function ruleCatalog(): CatalogEntry[] {
  if (catalog) return catalog;
  const docs = tempDir();
  assert.equal(runCli(['docs', docs]).status, 0);
  catalog = runCli(['rules'])
    .stdout.trim()
    .split('\n')
    .map((line) => {
      const [, code, name, severity, inDefault, summary] = /^(LL\d{3}) {2}(\S+) +(error|warning|info|hint) +(default|opt-in) +(.*)$/.exec(line)!;
      const byDefault = inDefault === 'default' ? 'on by default' : `off by default (enable with select = ["${code}"] or extend-select)`;
      const markdown = readFileSync(join(docs, `${code}.md`), 'utf8');
      const category = /^Category: (\S+) · default severity: /m.exec(markdown)![1];
      const whatItDoes = /\n## What it does\n\n([\s\S]*?)\n\n## /.exec(markdown)![1];
      return { code, name, severity, summary, category, whatItDoes, markdown, byDefault };
    });
  assert.ok(catalog.length >= 2);
  return catalog;
}

/** What GitHub code scanning and SARIF 2.1.0 require of our log, checked without a schema. */
function assertSarif(log: Json, cwd: string): void {
  keysOk('log', log);
  assert.equal(log.$schema, 'https://json.schemastore.org/sarif-2.1.0.json');
  assert.equal(log.version, '2.1.0');
  assert.ok(Array.isArray(log.runs) && log.runs.length === 1, 'one run');
  const run = log.runs[0];
  keysOk('run', run);
  assert.equal(run.columnKind, 'utf16CodeUnits');
  assert.equal(run.originalUriBaseIds['%SRCROOT%'].uri, pathToFileURL(cwd).href.replace(/\/?$/, '/'));
  const driver = run.tool.driver;
  keysOk('driver', driver);
  assert.equal(driver.name, 'LeakLens');
  assert.equal(driver.version, VERSION);
  const rules = ruleCatalog();
  assert.equal(driver.rules.length, rules.length, 'every rule is described');
  const levels: Record<string, string> = { error: 'error', warning: 'warning', info: 'note', hint: 'note' };
  rules.forEach((rule, i) => {
    const d = driver.rules[i];
    keysOk('rule', d);
    assert.equal(d.id, rule.code);
    assert.equal(d.name, rule.name);
    assert.deepEqual(d.shortDescription, { text: rule.summary });
    assert.deepEqual(d.fullDescription, { text: rule.whatItDoes });
    assert.deepEqual(Object.keys(d.help).sort(), ['markdown', 'text']);
    assert.equal(d.help.markdown, rule.markdown);
    assert.ok(d.help.text.startsWith(`${rule.code} ${rule.name}\n${rule.summary}\nCategory: ${rule.category}; default severity: ${rule.severity}; ${rule.byDefault}\n`));
    assert.ok(d.help.text.includes(`\nWhat it does\n${rule.whatItDoes}\n`));
    assert.deepEqual(d.defaultConfiguration, { level: levels[rule.severity] });
    assert.deepEqual(d.properties, { tags: [rule.category] });
  });
  assert.equal(new Set(driver.rules.map((r: Json) => r.id)).size, driver.rules.length, 'rule ids are unique');
  assert.ok(Array.isArray(run.results));
  for (const [i, result] of run.results.entries()) {
    const what = `results[${i}]`;
    keysOk('result', result);
    assert.equal(typeof result.ruleId, 'string');
    assert.ok(Number.isInteger(result.ruleIndex), `${what}.ruleIndex`);
    assert.equal(driver.rules[result.ruleIndex].id, result.ruleId, `${what}.ruleIndex points at its rule`);
    assert.ok(['error', 'warning', 'note'].includes(result.level), `${what}.level`);
    assert.ok(typeof result.message.text === 'string' && result.message.text.length > 0, `${what}.message.text`);
    assert.ok(result.locations.length >= 1, `${what}.locations`);
    for (const location of [...result.locations, ...(result.relatedLocations ?? [])]) {
      keysOk('location', location);
      keysOk('physicalLocation', location.physicalLocation);
      artifactOk(location.physicalLocation.artifactLocation, what);
      regionOk(location.physicalLocation.region, what);
    }
    for (const related of result.relatedLocations ?? []) {
      assert.ok(Number.isInteger(related.id) && related.id >= 0);
      assert.ok(typeof related.message.text === 'string' && related.message.text.length > 0);
    }
    for (const fix of result.fixes ?? []) {
      keysOk('fix', fix);
      assert.ok(typeof fix.description.text === 'string' && fix.description.text.length > 0);
      assert.ok(fix.artifactChanges.length >= 1);
      for (const change of fix.artifactChanges) {
        keysOk('artifactChange', change);
        artifactOk(change.artifactLocation, `${what}.fixes`);
        assert.ok(change.replacements.length >= 1);
        for (const r of change.replacements) {
          keysOk('replacement', r);
          regionOk(r.deletedRegion, `${what}.fixes.deletedRegion`);
          assert.equal(typeof r.insertedContent.text, 'string');
        }
      }
    }
  }
}

/** A JSON-schema validator for SARIF 2.1.0 when the optional devDependencies are installed. */
function sarifSchemaValidator(): ((log: unknown) => string | undefined) | undefined {
  try {
    const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
    const Ajv = require('ajv-draft-04');
    const addFormats = require('ajv-formats');
    // The schema's patterns are not all valid with the `u` flag, hence unicodeRegExp: false.
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    return (log) => (validate(log) ? undefined : JSON.stringify(validate.errors, null, 2));
  } catch {
    return undefined;
  }
}

function sarifProject(): string {
  return tempDir({
    'pyproject.toml': '[tool.leaklens]\nseverity = { LL101 = "error", LL201 = "info" }\n',
    'pkg/leaky.py': LEAKY,
    'pkg/my file é.py': 'def f(a="𝒳", b=[]):\n    return 1 if b else 0\n',
    'clean.py': 'def f(x=None):\n    return x\n',
  });
}

test('--format sarif: SARIF 2.1.0 with rule metadata, levels, relative URIs and UTF-16 columns', () => {
  const dir = sarifProject();
  const result = runCli(['check', '--format', 'sarif', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  const log = JSON.parse(result.stdout);
  assertSarif(log, dir);
  const results = log.runs[0].results as Json[];
  const at = (uri: string, line: number) => results.filter((r) => r.locations[0].physicalLocation.artifactLocation.uri === uri && r.locations[0].physicalLocation.region.startLine === line);

  // Severity from pyproject.toml: error stays error, info becomes note; the rule's default is unchanged.
  const [open] = at('pkg/leaky.py', 2);
  assert.equal(open.ruleId, 'LL101');
  assert.equal(open.level, 'error');
  assert.deepEqual(open.locations[0].physicalLocation.region, { startLine: 2, startColumn: 9, endLine: 2, endColumn: 19 });
  const [seen] = at('pkg/leaky.py', 9);
  assert.equal(seen.ruleId, 'LL201');
  assert.equal(seen.level, 'note');
  assert.equal(log.runs[0].tool.driver.rules[seen.ruleIndex].defaultConfiguration.level, 'warning');

  // Related locations, and no `fixes` for a finding whose only fix is unsafe.
  assert.equal(seen.relatedLocations.length, 1);
  assert.equal(seen.relatedLocations[0].physicalLocation.region.startLine, 10);
  assert.match(seen.relatedLocations[0].message.text, /`seen` is mutated here/);
  assert.equal(seen.fixes, undefined);

  // A path with a space and a non-ASCII character is an escaped URI reference.
  const wide = results.filter((r) => r.locations[0].physicalLocation.artifactLocation.uri === 'pkg/my%20file%20%C3%A9.py');
  assert.equal(wide.length, 1);
  // `𝒳` is two UTF-16 code units: the default `[]` starts at column 17, as in the JSON output.
  assert.deepEqual(wide[0].locations[0].physicalLocation.region, { startLine: 1, startColumn: 17, endLine: 1, endColumn: 19 });
  assert.equal(results.filter((r) => r.locations[0].physicalLocation.artifactLocation.uri === 'clean.py').length, 0);
  // help.text is what `leaklens rule` prints.
  assert.equal(log.runs[0].tool.driver.rules[open.ruleIndex].help.text, runCli(['rule', 'LL101']).stdout);
});

test('--format sarif: applying a result\'s fixes gives what --fix writes', () => {
  const dir = sarifProject();
  const log = JSON.parse(runCli(['check', '--format', 'sarif', '.'], { cwd: dir }).stdout);
  const results = log.runs[0].results as Json[];
  const fixable = results.filter((r) => r.fixes);
  assert.ok(fixable.length >= 3, 'safe fixes are carried over');
  for (const result of fixable) {
    const uri = result.locations[0].physicalLocation.artifactLocation.uri as string;
    const path = join(dir, ...uri.split('/').map(decodeURIComponent));
    const original = readFileSync(path, 'utf8');
    const [fix] = result.fixes;
    assert.equal(fix.artifactChanges[0].artifactLocation.uri, uri);
    let text = original;
    const replacements = [...fix.artifactChanges[0].replacements].reverse();
    for (const r of replacements) {
      const start = offsetOf(original, r.deletedRegion.startLine, r.deletedRegion.startColumn);
      const end = offsetOf(original, r.deletedRegion.endLine, r.deletedRegion.endColumn);
      text = text.slice(0, start) + r.insertedContent.text + text.slice(end);
    }
    // The same edit through --fix on a file holding only this finding's code.
    const single = tempDir({ 'x.py': original });
    runCli(['check', '--fix', '--select', result.ruleId, join(single, 'x.py')]);
    const fixedAll = readFileSync(join(single, 'x.py'), 'utf8');
    if (fixable.filter((r) => r.ruleId === result.ruleId && r.locations[0].physicalLocation.artifactLocation.uri === uri).length === 1) {
      assert.equal(text, fixedAll, `${uri}: ${fix.description.text}`);
    } else {
      assert.notEqual(text, original);
    }
  }
});

test('--format sarif: a clean run, and a file outside the current folder', () => {
  const clean = tempDir({ 'a.py': 'x = 1\n' });
  const empty = runCli(['check', '--format', 'sarif', '.'], { cwd: clean });
  assert.equal(empty.status, 0, empty.stderr);
  const log = JSON.parse(empty.stdout);
  assertSarif(log, clean);
  assert.deepEqual(log.runs[0].results, []);

  const elsewhere = tempDir({ 'b.py': 'def f(x=[]):\n    return x\n' });
  const outside = runCli(['check', '--format', 'sarif', join(elsewhere, 'b.py')], { cwd: clean });
  const outsideLog = JSON.parse(outside.stdout);
  assertSarif(outsideLog, clean);
  const artifact = outsideLog.runs[0].results[0].locations[0].physicalLocation.artifactLocation;
  assert.deepEqual(artifact, { uri: pathToFileURL(join(elsewhere, 'b.py')).href });
});

test('--format sarif validates against the SARIF 2.1.0 JSON schema', (t) => {
  const validate = sarifSchemaValidator();
  if (!validate) {
    t.skip('needs the devDependencies @microsoft/jest-sarif (the schema), ajv-draft-04 and ajv-formats');
    return;
  }
  for (const dir of [sarifProject(), tempDir({ 'a.py': 'x = 1\n' })]) {
    const log = JSON.parse(runCli(['check', '--format', 'sarif', '.'], { cwd: dir }).stdout);
    assert.equal(validate(log), undefined);
  }
  // The validator does catch a wrong log.
  const log = JSON.parse(runCli(['check', '--format', 'sarif', '.'], { cwd: sarifProject() }).stdout);
  log.runs[0].results[0].level = 'info';
  assert.notEqual(validate(log), undefined);
});

// ---------------------------------------------------------------------------------------------
// GitHub Actions annotations

test('--format github: one workflow command per finding with levels, positions and titles', () => {
  const dir = tempDir({
    'pyproject.toml': '[tool.leaklens]\nseverity = { LL101 = "error", LL201 = "hint" }\n',
    'pkg/leaky.py': LEAKY,
  });
  const result = runCli(['check', '--format', 'github', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  const lines = result.stdout.split('\n').filter(Boolean);
  const json = JSON.parse(runCli(['check', '--format', 'json', '.'], { cwd: dir }).stdout) as Json[];
  assert.equal(lines.length, json.length, 'one line per finding and nothing else');
  assert.equal(
    lines[0],
    '::error file=pkg/leaky.py,line=2,col=9,endLine=2,endColumn=19,title=LL101 unclosed-resource::' + escapeGithubData(json[0].message),
  );
  lines.forEach((line, i) => {
    const f = json[i];
    const level = { error: 'error', warning: 'warning', info: 'notice', hint: 'notice' }[f.severity as string];
    assert.equal(
      line,
      `::${level} file=pkg/leaky.py,line=${f.start.line},col=${f.start.column},endLine=${f.end.line},endColumn=${f.end.column},title=${f.code} ${f.name}::${escapeGithubData(f.message)}`,
    );
  });
  assert.ok(lines.slice(1).every((l) => l.startsWith('::notice ')), 'hint → notice');
});

test('--format github escapes properties and messages as GitHub requires', () => {
  assert.equal(escapeGithubData('50% a\r\nb: c, d'), '50%25 a%0D%0Ab: c, d');
  assert.equal(escapeGithubProperty('50% a\r\nb: c, d'), '50%25 a%0D%0Ab%3A c%2C d');
  const dir = tempDir({ 'we,ird:na%me.py': 'def f(x={"50%": 1}):\n    return x\n' });
  const result = runCli(['check', '--format', 'github', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  const [line, ...rest] = result.stdout.split('\n').filter(Boolean);
  assert.deepEqual(rest, []);
  assert.match(line, /^::notice file=we%2Cird%3Ana%25me\.py,line=1,col=9,endLine=1,endColumn=19,title=LL201 mutable-default-argument::/);
  // The message keeps ':' and ',' but escapes '%'.
  const message = line.slice(line.indexOf('::', 2) + 2);
  assert.match(message, /`\{"50%25": 1\}`/);
  assert.match(message, /, and the function returns it: this function does not grow it/);
});

// ---------------------------------------------------------------------------------------------
// --diff and the unified-diff writer

test('unifiedDiff: changes at the start and end, context, and empty texts', () => {
  assert.equal(unifiedDiff('a\nb\n', 'a\nb\n', 'f'), '');
  assert.equal(unifiedDiff('a\nb\nc\n', 'A\nb\nc\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n');
  const ten = (s: string) => `${[1, 2, 3, 4, 5, 6, 7, 8, 9].join('\n')}\n${s}\n`;
  assert.equal(unifiedDiff(ten('10'), ten('ten'), 'f'), '--- a/f\n+++ b/f\n@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+ten\n');
  assert.equal(unifiedDiff('', 'x\n', 'f'), '--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n');
  assert.equal(unifiedDiff('x\n', '', 'f'), '--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-x\n');
  assert.equal(unifiedDiff('a\nb\n', 'a\nx\ny\nb\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,2 +1,4 @@\n a\n+x\n+y\n b\n');
  // Deletions come before insertions inside a change.
  assert.equal(unifiedDiff('a\nb\nc\n', 'a\nx\ny\nc\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n-b\n+x\n+y\n c\n');
});

test('unifiedDiff: "\\ No newline at end of file" on either side', () => {
  assert.equal(unifiedDiff('a\nb', 'a\nc', 'f'), '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n');
  assert.equal(unifiedDiff('a\nb', 'a\nb\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n');
  assert.equal(unifiedDiff('a\nb\n', 'a\nb', 'f'), '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n');
  // An unchanged last line without a newline is context with the marker.
  assert.equal(unifiedDiff('x\ny\nz', 'X\ny\nz', 'f'), '--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-x\n+X\n y\n z\n\\ No newline at end of file\n');
  // CRLF lines keep their \r, as diff prints them.
  assert.equal(unifiedDiff('a\r\nb\r\n', 'a\r\nc\r\n', 'f'), '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n');
});

test('unifiedDiff: changes up to 6 lines apart share a hunk, 7 apart do not (as diff -u)', () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`);
  const change = (n: number, at: number[]) => lines(n).map((l, i) => (at.includes(i + 1) ? l.toUpperCase() : l)).join('');
  const merged = unifiedDiff(change(20, []), change(20, [5, 12]), 'f');
  assert.equal(merged.match(/^@@/gm)?.length, 1);
  assert.match(merged, /^@@ -2,14 \+2,14 @@$/m);
  const split = unifiedDiff(change(20, []), change(20, [5, 13]), 'f');
  assert.deepEqual(split.match(/^@@.*@@$/gm), ['@@ -2,7 +2,7 @@', '@@ -10,7 +10,7 @@']);
  if (hasCommand('diff')) {
    const dir = tempDir();
    for (const [a, b] of [[change(20, []), change(20, [5, 12])], [change(20, []), change(20, [5, 13])], [change(30, [1]), change(30, [30])], ['a\nb', 'a\nb\nc']]) {
      writeFileSync(join(dir, 'old'), a);
      writeFileSync(join(dir, 'new'), b);
      const gnu = spawnSync('diff', ['-u', '--label', 'a/f', '--label', 'b/f', 'old', 'new'], { cwd: dir, encoding: 'utf8' });
      assert.equal(unifiedDiff(a, b, 'f'), gnu.stdout);
    }
  }
});

test('unifiedDiff: random texts round-trip through patch with a minimal number of changed lines', (t) => {
  if (!hasCommand('patch') || !hasCommand('diff')) {
    t.skip('needs patch and diff');
    return;
  }
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const text = () => {
    const parts = Array.from({ length: random(25) }, () => 'abcde'[random(5)] + '\n');
    let s = parts.join('');
    if (s && random(4) === 0) s = s.slice(0, -1); // no newline at the end
    return s;
  };
  const dir = tempDir();
  for (let i = 0; i < 150; i++) {
    const a = text();
    const b = random(3) === 0 ? a.replace(/c/g, 'C') : text();
    const diff = unifiedDiff(a, b, 'f');
    if (a === b) {
      assert.equal(diff, '');
      continue;
    }
    writeFileSync(join(dir, 'old'), a);
    writeFileSync(join(dir, 'new'), b);
    writeFileSync(join(dir, 'p.diff'), diff);
    const patched = spawnSync('patch', ['--quiet', '--force', '-o', 'out', 'old', '-i', 'p.diff'], { cwd: dir, encoding: 'utf8' });
    assert.equal(patched.status, 0, `patch failed on ${JSON.stringify([a, b])}:\n${diff}\n${patched.stdout}${patched.stderr}`);
    assert.equal(readFileSync(join(dir, 'out'), 'utf8'), b, JSON.stringify([a, b]));
    const gnu = spawnSync('diff', ['--minimal', '-U', '0', 'old', 'new'], { cwd: dir, encoding: 'utf8' }).stdout;
    const changed = (d: string) => d.split('\n').filter((l) => /^[-+](?!--|\+\+)/.test(l)).length;
    assert.equal(changed(diff), changed(gnu), `not minimal for ${JSON.stringify([a, b])}`);
  }
});

test('--diff prints the fixes as a unified diff, writes nothing, exits 1; git apply gives --fix\'s result', () => {
  const dir = tempDir();
  cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
  writeFileSync(join(dir, 'examples', 'no_newline.py'), 'def f(x=[]):\n    print(x or "-")');
  writeFileSync(join(dir, 'examples', 'clean.py'), 'x = 1\n');
  // The diff is in each file's own bytes: a Latin-1 file and a UTF-8 file with a BOM apply too.
  writeFileSync(join(dir, 'examples', 'latin1.py'), Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\ndef f(n="'), Buffer.from([0xe9]), Buffer.from('", x=[]):\n    print(n, x or "-")\n')]));
  writeFileSync(join(dir, 'examples', 'bom.py'), '\ufeffdef f(x=[]):\n    print("é", x or "-")\n');
  const before = Object.fromEntries(readdirSync(join(dir, 'examples')).map((f) => [f, readFileSync(join(dir, 'examples', f))]));
  const raw = runCliBytes(['check', '--diff', 'examples'], { cwd: dir });
  const result = { ...raw, stdout: raw.stdout.toString('utf8') };
  assert.equal(result.status, 1, result.stderr);
  assert.ok(raw.stdout.includes(Buffer.from('-def f(n="\xe9", x=[]):\n', 'latin1')), 'the Latin-1 file\'s lines are in Latin-1');
  assert.ok(raw.stdout.includes(Buffer.from('-\ufeffdef f(x=[]):\n')), 'the BOM is part of the first line');
  assert.match(result.stdout, /^--- a\/examples\/no_newline\.py\n\+\+\+ b\/examples\/no_newline\.py\n@@ -1,2 \+1,4 @@\n-def f\(x=\[\]\):\n\+def f\(x=None\):\n/m);
  assert.match(result.stdout, /^ {5}print\(x or "-"\)\n\\ No newline at end of file\n/m);
  assert.match(result.stdout, /^--- a\/examples\/reports\.py\n\+\+\+ b\/examples\/reports\.py\n@@ /m);
  assert.doesNotMatch(result.stdout, /clean\.py/);
  assert.match(result.stderr, /^Checked 5 files: would apply 5 fixes in 4 files\.$/m);
  for (const [f, bytes] of Object.entries(before)) assert.deepEqual(readFileSync(join(dir, 'examples', f)), bytes, `${f} was written`);

  // The diff applies and gives exactly what --fix writes.
  const fixedDir = tempDir();
  cpSync(join(dir, 'examples'), join(fixedDir, 'examples'), { recursive: true });
  runCli(['check', '--fix', 'examples'], { cwd: fixedDir });
  writeFileSync(join(dir, 'fixes.diff'), raw.stdout);
  const applied = spawnSync('git', ['apply', 'fixes.diff'], { cwd: dir, encoding: 'utf8' });
  assert.equal(applied.status, 0, applied.stderr);
  for (const f of Object.keys(before)) assert.deepEqual(readFileSync(join(dir, 'examples', f)), readFileSync(join(fixedDir, 'examples', f)), f);
  assert.notDeepEqual(readFileSync(join(dir, 'examples', 'latin1.py')), before['latin1.py']);
  // Nothing left to fix: empty diff, exit 0.
  const again = runCli(['check', '--diff', 'examples'], { cwd: dir });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, /nothing to fix/);
});

test('--diff shows unsafe fixes only with --unsafe-fixes; --exit-zero', () => {
  const dir = tempDir({ 'a.py': 'def f(x=[]):\n    x.append(1)\n    return x\n' });
  const safeOnly = runCli(['check', '--diff', 'a.py'], { cwd: dir });
  assert.equal(safeOnly.status, 0, safeOnly.stderr);
  assert.equal(safeOnly.stdout, '');
  const unsafe = runCli(['check', '--diff', '--unsafe-fixes', 'a.py'], { cwd: dir });
  assert.equal(unsafe.status, 1, unsafe.stderr);
  assert.match(unsafe.stdout, /^--- a\/a\.py\n\+\+\+ b\/a\.py\n@@ -1,3 \+1,5 @@\n-def f\(x=\[\]\):\n\+def f\(x=None\):\n\+ {4}if x is None:\n\+ {8}x = \[\]\n/);
  assert.equal(runCli(['check', '--diff', '--unsafe-fixes', '--exit-zero', 'a.py'], { cwd: dir }).status, 0);
  assert.equal(readFileSync(join(dir, 'a.py'), 'utf8'), 'def f(x=[]):\n    x.append(1)\n    return x\n');
  // --fix with --diff still writes nothing.
  runCli(['check', '--diff', '--fix', '--unsafe-fixes', 'a.py'], { cwd: dir });
  assert.equal(readFileSync(join(dir, 'a.py'), 'utf8'), 'def f(x=[]):\n    x.append(1)\n    return x\n');
});

// ---------------------------------------------------------------------------------------------
// --stdin-filename

test('--stdin-filename checks standard input, reported as NAME, in every format', () => {
  const dir = tempDir();
  const args = ['check', '--stdin-filename', 'pkg/mod.py'];
  const text = runCli([...args], { cwd: dir, input: LEAKY });
  assert.equal(text.status, 1, text.stderr);
  assert.match(text.stdout, /^pkg\/mod\.py:2:9: LL101 \[\*\] /m);
  assert.match(text.stdout, /^pkg\/mod\.py:9:26: LL201 /m);
  assert.match(text.stdout, /^Checked 1 file: 3 findings/m);
  assert.equal(existsSync(join(dir, 'pkg')), false, 'nothing is written');

  const json = JSON.parse(runCli([...args, '--format', 'json'], { cwd: dir, input: LEAKY }).stdout) as Json[];
  assert.deepEqual(json.map((f) => `${f.path}:${f.start.line}:${f.code}`), ['pkg/mod.py:2:LL101', 'pkg/mod.py:5:LL201', 'pkg/mod.py:9:LL201']);
  const sarif = JSON.parse(runCli([...args, '--format', 'sarif'], { cwd: dir, input: LEAKY }).stdout);
  assertSarif(sarif, dir);
  assert.deepEqual(sarif.runs[0].results.map((r: Json) => r.locations[0].physicalLocation.artifactLocation.uri), ['pkg/mod.py', 'pkg/mod.py', 'pkg/mod.py']);
  const github = runCli([...args, '--format', 'github'], { cwd: dir, input: LEAKY }).stdout;
  // LL101 and the growing LL201 are warnings; the read-only LL201 (low confidence) one step lower.
  assert.equal(github.split('\n').filter((l) => l.startsWith('::warning file=pkg/mod.py,line=')).length, 2);
  assert.equal(github.split('\n').filter((l) => l.startsWith('::notice file=pkg/mod.py,line=5')).length, 1);
  const diff = runCli([...args, '--diff'], { cwd: dir, input: LEAKY });
  assert.equal(diff.status, 1);
  assert.match(diff.stdout, /^--- a\/pkg\/mod\.py\n\+\+\+ b\/pkg\/mod\.py\n@@ -1,8 \+1,10 @@\n def load\(path\):\n-    f = open\(path\)\n/);
  const clean = runCli([...args], { cwd: dir, input: 'x = 1\n' });
  assert.equal(clean.status, 0, clean.stderr);
  assert.match(clean.stdout, /Checked 1 file: no findings/);
});

test('--stdin-filename takes the configuration from NAME\'s folder', () => {
  const dir = tempDir({ 'sub/pyproject.toml': '[tool.leaklens]\nselect = ["LL2"]\n' });
  // The configuration's own choice of rules, else the default set (LL101).
  const codes = (name: string) => (JSON.parse(runCli(['check', '--format', 'json', '--stdin-filename', name], { cwd: dir, input: LEAKY, defaults: true }).stdout) as Json[]).map((f) => f.code);
  assert.deepEqual(codes('sub/deeper/x.py'), ['LL201', 'LL201']);
  assert.deepEqual(codes('other/x.py'), ['LL101']);
  const broken = tempDir({ 'pyproject.toml': '[tool.leaklens]\nlarge-object-threshold = -3\n' });
  const bad = runCli(['check', '--stdin-filename', 'x.py'], { cwd: broken, input: LEAKY });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /pyproject\.toml:2: large-object-threshold/);
});

test('--stdin-filename with --fix prints the fixed source and reports on stderr', () => {
  const dir = tempDir({ 'same.py': LEAKY });
  const result = runCli(['check', '--fix', '--stdin-filename', 'pkg/mod.py'], { cwd: dir, input: LEAKY });
  assert.equal(result.status, 1, result.stderr);
  runCli(['check', '--fix', 'same.py'], { cwd: dir });
  assert.equal(result.stdout, readFileSync(join(dir, 'same.py'), 'utf8'), 'stdout is the fixed source, as --fix would write it');
  assert.match(result.stderr, /^pkg\/mod\.py:\d+:\d+: LL201 /m);
  assert.match(result.stderr, /Checked 1 file: 1 finding; 2 fixed\./);
  assert.equal(existsSync(join(dir, 'pkg')), false);
  // Nothing to fix: the source comes back unchanged (exit 0 when clean).
  const clean = runCli(['check', '--fix', '--stdin-filename', 'x.py'], { cwd: dir, input: 'x = 1\r\ny = 2' });
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(clean.stdout, 'x = 1\r\ny = 2');
  // --format json with --fix: the report on stderr is the JSON.
  const json = runCli(['check', '--fix', '--format', 'json', '--stdin-filename', 'x.py'], { cwd: dir, input: LEAKY });
  assert.equal(json.stdout, result.stdout);
  assert.equal(JSON.parse(json.stderr).length, 1);
});

test('--stdin-filename --fix keeps a Latin-1 source in Latin-1', () => {
  const source = Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\ndef f(n="'), Buffer.from([0xe9]), Buffer.from('", x=[]):\n    print(n, x or "-")\n')]);
  const result = runCliBytes(['check', '--fix', '--stdin-filename', 'latin.py'], { cwd: tempDir(), input: source });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(result.stdout.includes(Buffer.from([0x22, 0xe9, 0x22])), 'the Latin-1 byte is kept');
  assert.match(result.stdout.toString('latin1'), /x=None\):\n    if x is None:\n        x = \[\]/);
  const binary = runCliBytes(['check', '--stdin-filename', 'bin.py'], { cwd: tempDir(), input: Buffer.from([0x61, 0x00, 0x62]) });
  assert.equal(binary.status, 2);
  assert.match(binary.stderr, /cannot check standard input \(bin\.py\): binary file/);
});

// ---------------------------------------------------------------------------------------------
// --statistics

test('--statistics counts findings per rule, most frequent first, with how many are fixable', () => {
  const dir = tempDir({
    'a.py': LEAKY,
    'b.py': 'def g(a=[], b={}):\n    print(bool(a), bool(b))\n',
  });
  const result = runCli(['check', '--statistics', '.'], { cwd: dir });
  assert.equal(result.status, 1, result.stderr);
  const lines = result.stdout.split('\n');
  const header = lines.findIndex((l) => /^count {2}fixable {2}code {3}name$/.test(l));
  assert.ok(header > 0, result.stdout);
  assert.match(lines[header - 1], /^$/, 'a blank line after the findings');
  assert.deepEqual(lines.slice(header + 1, header + 3), ['    4        3  LL201  mutable-default-argument', '    1        1  LL101  unclosed-resource']);
  assert.match(lines[header + 4], /^Checked 2 files: 5 findings; 4 fixable with --fix/);
  assert.match(result.stdout, /^a\.py:2:9: LL101/m, 'the findings are still listed');

  const quiet = runCli(['check', '--statistics', '--quiet', '.'], { cwd: dir });
  assert.equal(quiet.stdout.split('\n')[0], 'count  fixable  code   name');
  assert.doesNotMatch(quiet.stdout, /a\.py:/);

  // Machine formats stay parseable: the table goes to stderr.
  const json = runCli(['check', '--statistics', '--format', 'json', '.'], { cwd: dir });
  assert.equal(JSON.parse(json.stdout).length, 5);
  assert.match(json.stderr, /^ {4}4 {8}3 {2}LL201 {2}mutable-default-argument$/m);
  const sarif = runCli(['check', '--statistics', '--format', 'sarif', '.'], { cwd: dir });
  assertSarif(JSON.parse(sarif.stdout), dir);
  assert.match(sarif.stderr, /LL101/);

  const clean = runCli(['check', '--statistics', '.'], { cwd: tempDir({ 'c.py': 'x = 1\n' }) });
  assert.equal(clean.status, 0);
  assert.equal(clean.stdout, 'Checked 1 file: no findings.\n');
});

// ---------------------------------------------------------------------------------------------
// Progress on a terminal

/** Runs the CLI with stdout and stderr on a pseudo-terminal (util-linux `script`); returns what the terminal showed. */
function runOnTerminal(args: string[], cwd: string): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...withAllFindings(args)].map(quote).join(' ');
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd, encoding: 'utf8', timeout: 120_000, input: '' });
  return result.stdout;
}

test('a progress line on a terminal for more than 50 files, erased at the end; never in a pipe', (t) => {
  if (!hasCommand('script')) {
    t.skip('needs script (util-linux) for a pseudo-terminal');
    return;
  }
  const many: Record<string, string> = {};
  for (let i = 0; i < 60; i++) many[`m${String(i).padStart(2, '0')}.py`] = 'def f(x=[]):\n    return x\n';
  const dir = tempDir(many);
  const screen = runOnTerminal(['check', '.'], dir);
  assert.match(screen, /\r\x1b\[KChecking 1\/60 files…/);
  assert.match(screen, /\r\x1b\[KChecking 60\/60 files…\r\x1b\[K/, 'the last count is shown, then erased');
  assert.match(screen, /\r\x1b\[K(?:[^\r]|\r\n)*Checked 60 files: 60 findings/);
  const progressAt = screen.lastIndexOf('Checking');
  assert.ok(progressAt < screen.indexOf('m00.py:1:9'), 'findings are printed after the progress line is gone');

  // Not for JSON, not for 50 files or fewer, and never when stderr is not a terminal.
  assert.doesNotMatch(runOnTerminal(['check', '--format', 'json', '.'], dir), /Checking/);
  const few = tempDir(Object.fromEntries(Object.entries(many).slice(0, 50)));
  assert.doesNotMatch(runOnTerminal(['check', '.'], few), /Checking/);
  const piped = runCli(['check', '.'], { cwd: dir });
  assert.equal(piped.status, 1);
  assert.equal(piped.stderr, '');
  assert.doesNotMatch(piped.stdout, /Checking|\r/);
});
