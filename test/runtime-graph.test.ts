// Pictures of run-time findings (server/src/runtime/graph.ts → DOT, svg.ts → SVG through the
// WebAssembly Graphviz): on reports the real runner writes for the fixture programs, then
// `leaklens run cycles|growth --format dot|svg` as a process, and the report view's page
// (client/src/report-page.ts). SVG is parsed by Python's XML parser.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, ROOT } from './helpers/cli';
import { ENV, FIXTURES, NO_PYTHON, PYTHON, runRunner } from './helpers/runtime';
import { formatBytes } from '../server/src/runtime/format';
import { findingDot, hasGraph, html, locationUrl, parseLocationUrl, quote, reportDot } from '../server/src/runtime/graph';
import type { CycleFinding, GrowthFinding, RuntimeReport } from '../server/src/runtime/report';
import { checkDot, renderSvg } from '../server/src/runtime/svg';
import { renderPage } from '../client/src/report-page';

interface SvgSummary {
  /** Per `<g class="node">`: its text lines and the link around it, if any. */
  nodes: Array<{ id: string; texts: string[]; href: string | null; classes: string[] }>;
  /** Per `<g class="edge">`: its title (`a->b`) and label. */
  edges: Array<{ title: string; texts: string[] }>;
}

/** Parses SVG with Python's XML parser (well-formed or it fails) and lists nodes and edges. */
function parseSvg(svg: string): SvgSummary {
  const code = `
import json, sys, xml.etree.ElementTree as ET
SVG = '{http://www.w3.org/2000/svg}'
XLINK = '{http://www.w3.org/1999/xlink}href'
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == SVG + 'svg', root.tag
out = {'nodes': [], 'edges': []}
for g in root.iter(SVG + 'g'):
    classes = (g.get('class') or '').split()
    kind = classes[0] if classes else None
    if kind not in ('node', 'edge'):
        continue
    texts = [''.join(t.itertext()) for t in g.iter(SVG + 'text')]
    title = ''.join(g.find(SVG + 'title').itertext())
    if kind == 'node':
        links = [a.get(XLINK) for a in g.iter(SVG + 'a') if a.get(XLINK)]
        out['nodes'].append({'id': title, 'texts': texts, 'href': links[0] if links else None, 'classes': classes[1:]})
    else:
        out['edges'].append({'title': title, 'texts': texts})
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', code], { input: svg, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `the SVG is well-formed XML:\n${r.stderr}\n${svg.slice(0, 2000)}`);
  return JSON.parse(r.stdout) as SvgSummary;
}

const cycleOf = (report: RuntimeReport) => report.findings.find((f): f is CycleFinding => f.kind === 'cycle')!;
const growthAt = (report: RuntimeReport, line: number) => report.findings.find((f): f is GrowthFinding => f.kind === 'growth' && f.location.line === line)!;

describe('graph.ts: DOT of runner reports', { skip: NO_PYTHON }, () => {
  const cycles = runRunner('cycles', 'parent_child:build_tree', ['--calls', '10']).report;
  const growth = runRunner('growth', 'class_registry:load_plugin', ['--rounds', '3', '--calls', '20']).report;

  test('a reference cycle: one node per member with its type and allocation link, one labelled edge per reference', async () => {
    const cycle = cycleOf(cycles);
    assert.ok(cycle, JSON.stringify(cycles, null, 2));
    const dot = findingDot(cycle, 0, { base: FIXTURES });
    assert.deepEqual(await checkDot(dot), [], dot);
    const svg = parseSvg(await renderSvg(dot));
    assert.equal(svg.nodes.length, cycle.members.length);
    assert.deepEqual(svg.nodes.map((n) => n.id).sort(), cycle.members.map((_, i) => `f0_n${i}`));
    cycle.members.forEach((member, i) => {
      const n = svg.nodes.find((x) => x.id === `f0_n${i}`)!;
      assert.equal(n.texts[0], member.type.split('.').pop());
      assert.ok(member.site, 'the fixture members have allocation sites');
      assert.ok(n.texts.some((t) => t.startsWith(`allocated at parent_child.py:${member.site!.line}`)), n.texts.join(' | '));
      assert.deepEqual(parseLocationUrl(n.href ?? ''), { file: member.site!.file, line: member.site!.line });
      // Each box says how big the object itself is (sys.getsizeof, an instance with its __dict__).
      assert.ok(typeof member.bytes === 'number' && member.bytes > 0, JSON.stringify(member));
      assert.ok(n.texts.includes(member.count > 1 ? `${formatBytes(member.bytes!)} each` : formatBytes(member.bytes!)), n.texts.join(' | '));
    });
    assert.equal(svg.edges.length, cycle.edges.length);
    assert.deepEqual(svg.edges.map((e) => e.texts.join('')).sort(), cycle.edges.map((e) => e.label).sort());
    assert.deepEqual(svg.edges.map((e) => e.title).sort(), cycle.edges.map((e) => `f0_n${e.from}->f0_n${e.to}`).sort());
    assert.ok(svg.nodes.some((n) => n.texts.includes('has __del__')), 'Node defines __del__');
    assert.deepEqual(svg.nodes.filter((n) => n.classes.includes('finalizer')).map((n) => n.texts[0]), ['Node', 'Node']);
    assert.match(dot, /label="reference cycle of 3 objects from parent_child\.py:15/);
    assert.doesNotMatch(findingDot(cycle, 0, { base: FIXTURES, titles: false }), /label="reference cycle/);
  });

  test('a retention path: module → class → .registry → … → the object allocated on the line, which links to it', async () => {
    const leak = growthAt(growth, 6);
    assert.ok(leak?.retention?.steps.length, JSON.stringify(growth, null, 2));
    const steps = leak.retention!.steps;
    const drawn = parseSvg(await renderSvg(findingDot(leak, 3, { base: FIXTURES })));
    // In path order (Graphviz lists them in layout order).
    const order = (id: string) => Number(id.replace(/^f3_n/, ''));
    const svg = { nodes: [...drawn.nodes].sort((a, b) => order(a.id) - order(b.id)), edges: [...drawn.edges].sort((a, b) => order(a.title.split('->')[0]) - order(b.title.split('->')[0])) };
    assert.deepEqual(svg.nodes.map((n) => n.id), steps.map((_, i) => `f3_n${i}`));
    assert.deepEqual(svg.edges.map((e) => e.texts.join('')), steps.slice(1).map((s) => s.label));
    assert.equal(svg.nodes[0].texts[0], 'class_registry');
    assert.deepEqual(svg.nodes.slice(1).map((n) => n.texts[0]), steps.slice(1).map((s) => s.type));
    // Every object on the path (not the module) says its own size in bytes.
    steps.slice(1).forEach((step, i) => {
      assert.ok(typeof step.bytes === 'number' && step.bytes > 0, JSON.stringify(step));
      assert.ok(svg.nodes[i + 1].texts.includes(formatBytes(step.bytes!)), svg.nodes[i + 1].texts.join(' | '));
    });
    const last = svg.nodes[svg.nodes.length - 1];
    assert.ok(last.texts.includes('allocated at class_registry.py:6'), last.texts.join(' | '));
    assert.ok(last.texts.some((t) => /^\+\d+ B per call$/.test(t)), last.texts.join(' | '));
    assert.deepEqual(parseLocationUrl(last.href ?? ''), { file: leak.location.file, line: 6 });
    assert.deepEqual(svg.nodes.filter((n) => n.classes.includes('leak')).map((n) => n.id), [last.id]);
    // The class attribute's definition (`registry = []`, line 3) links from the list it names.
    const registry = svg.nodes[steps.findIndex((s) => s.label === '.registry')];
    assert.ok(registry.texts.includes('defined at class_registry.py:3'), registry.texts.join(' | '));
    assert.deepEqual(parseLocationUrl(registry.href ?? ''), { file: leak.retention!.root!.file, line: 3 });
  });

  test('the whole report: a cluster per finding with a picture, stable text', async () => {
    const dot = reportDot(growth);
    assert.equal(dot, reportDot(JSON.parse(JSON.stringify(growth))));
    assert.deepEqual(await checkDot(dot), []);
    const drawn = growth.findings.filter(hasGraph);
    assert.ok(drawn.length >= 2, 'two sites of class_registry keep objects through Plugin.registry');
    assert.equal((dot.match(/subgraph "cluster_f\d+"/g) ?? []).length, drawn.length);
    const svg = parseSvg(await renderSvg(dot));
    const expected = drawn.reduce((n, f) => n + (f.kind === 'growth' ? f.retention!.steps.length : f.members.length), 0);
    assert.equal(svg.nodes.length, expected);
  });

  test('labels from the program are escaped: quotes, backslashes, <, &, line breaks', async () => {
    const cycle: CycleFinding = JSON.parse(JSON.stringify(cycleOf(cycles)));
    const nasty = ['["a\\"b"]', '.x\\ny', '<&>', "it's\nhere"];
    cycle.edges.forEach((e, i) => (e.label = nasty[i % nasty.length]));
    cycle.members[0].type = 'mod.<Weird "type" & \\ co>';
    cycle.members[0].site = { file: join(FIXTURES, 'dir with "quote" & space', 'a#b.py'), line: 7, function: null };
    const dot = findingDot(cycle, 0);
    assert.deepEqual(await checkDot(dot), [], dot);
    const svg = parseSvg(await renderSvg(dot));
    assert.equal(svg.nodes[0].texts[0], '<Weird "type" & \\ co>');
    const labels = svg.edges.map((e) => e.texts.join(''));
    for (const e of cycle.edges) assert.ok(labels.includes(e.label.replace(/\n/g, ' ')), `${JSON.stringify(e.label)} in ${JSON.stringify(labels)}`);
    assert.deepEqual(parseLocationUrl(svg.nodes[0].href ?? ''), { file: cycle.members[0].site.file, line: 7 });
  });

  test('quote, html and the location links', () => {
    assert.equal(quote('a"b\\c\nd'), '"a\\"b\\\\c d"');
    assert.equal(html(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    const url = locationUrl('/tmp/a b/c.py', 12);
    assert.equal(url, 'file:///tmp/a%20b/c.py#L12');
    assert.deepEqual(parseLocationUrl(url), { file: fileURLToPath('file:///tmp/a%20b/c.py'), line: 12 });
    assert.equal(parseLocationUrl('https://example.com/c.py#L12'), undefined);
    assert.equal(parseLocationUrl('file:///tmp/c.py'), undefined);
    assert.equal(parseLocationUrl('file:///tmp/c.py#L0'), undefined);
    assert.equal(parseLocationUrl('command:workbench.action.terminal.new#L1'), undefined);
  });
});

describe("the report view's page (client/src/report-page.ts)", { skip: NO_PYTHON }, () => {
  test('a picture per cycle with its links, a strict CSP, nothing remote, the text report escaped', async () => {
    const report = runRunner('cycles', 'parent_child:build_tree', ['--calls', '10']).report;
    const cycle = cycleOf(report);
    const { html, state, links } = await renderPage(report, FIXTURES);
    assert.deepEqual(state, { graphs: 1, nodes: cycle.members.length, edges: cycle.edges.length, failed: 0 });
    assert.deepEqual([...links].sort(), [...new Set(cycle.members.map((m) => `file://${m.site!.file}#L${m.site!.line}`))].sort());
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1] ?? '';
    assert.match(csp, /^default-src 'none'; style-src 'nonce-[^']+'; script-src 'nonce-[^']+';/);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/)/, 'no remote address but the SVG namespaces');
    assert.doesNotMatch(html, /<\?xml|<!DOCTYPE svg/, 'the SVG prologue is dropped inside HTML');
    assert.equal((html.match(/<script /g) ?? []).length, 1);
    assert.equal((html.match(/<svg /g) ?? []).length, 1);
    assert.match(html, /<pre>LeakLens cycles: parent_child:build_tree /);
    // Text from the program is escaped in the HTML parts.
    const tricky: RuntimeReport = JSON.parse(JSON.stringify(report));
    tricky.target.spec = '<script>alert(1)</script>';
    const page = await renderPage(tricky, FIXTURES);
    assert.doesNotMatch(page.html, /<script>alert/);
    assert.match(page.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    // A link is kept as the page's script will read it (the attribute's character references resolved).
    const odd = join(FIXTURES, "R&D's <tree>", 'x.py');
    cycleOf(tricky).members[0].site = { file: odd, line: 3, function: null };
    assert.ok((await renderPage(tricky, FIXTURES)).links.has(locationUrl(odd, 3)));
  });

  test('a run with nothing to draw says so', async () => {
    const report = runRunner('growth', 'bounded_cache:compute').report;
    const { html, state } = await renderPage(report, FIXTURES);
    assert.equal(report.findings.filter(hasGraph).length, 0, 'a bounded cache has no retention path to show');
    assert.deepEqual(state, { graphs: 0, nodes: 0, edges: 0, failed: 0 });
    assert.match(html, /No finding of this run has a retention path or a reference cycle to draw/);
  });
});

describe('leaklens run --format dot|svg (the CLI as a process)', { skip: NO_PYTHON }, () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'run', '--python', PYTHON, '--workspace', FIXTURES, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });

  test('cycles --format dot: Graphviz source that parses, one node per member, labelled edges', async () => {
    const r = cli(['cycles', 'parent_child.py:build_tree', '--format', 'dot', '--calls', '10']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^digraph "leaklens cycles parent_child\.py:build_tree" \{/);
    assert.deepEqual(await checkDot(r.stdout), [], r.stdout);
    assert.equal((r.stdout.match(/^\s+f0_n\d+ \[label=</gm) ?? []).length, 3, r.stdout);
    assert.match(r.stdout, /f0_n\d+ -> f0_n\d+ \[label="\.parent"\]/);
    assert.match(r.stdout, /f0_n\d+ -> f0_n\d+ \[label="\.children"\]/);
    assert.match(r.stdout, /URL="file:\/\/\/[^"]*parent_child\.py#L15"/);
  });

  test('cycles --format svg: well-formed SVG, one <g class="node"> per member, the edge labels', () => {
    const r = cli(['cycles', 'parent_child.py:build_tree', '--format', 'svg', '--calls', '10']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^<\?xml /);
    const svg = parseSvg(r.stdout);
    assert.equal(svg.nodes.length, 3);
    assert.deepEqual(svg.nodes.map((n) => n.texts[0]).sort(), ['Node', 'Node', 'list']);
    assert.deepEqual(svg.edges.map((e) => e.texts.join('')).sort(), ['.children', '.parent', '[0]']);
    assert.ok(svg.nodes.every((n) => n.href?.startsWith('file:///')), JSON.stringify(svg.nodes));
  });

  test('growth --format svg of a run without retention paths: an empty picture, said on stderr', () => {
    const r = cli(['growth', 'bounded_cache.py:compute', '--format', 'svg']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(parseSvg(r.stdout).nodes.length, 0);
    assert.match(r.stderr, /no finding has a retention path or a cycle to draw/);
  });
});
