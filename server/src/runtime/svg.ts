// The one place that renders DOT (graph.ts) with Graphviz: @viz-js/viz, Graphviz compiled to
// WebAssembly (the wasm is inside its JavaScript file; no native binary). The library is loaded
// on the first picture only. In the bundles, scripts/build.mjs points `@viz-js/viz` at
// `dist/viz.cjs`, one copy shared by the CLI and the extension.
import type { Viz } from '@viz-js/viz';

let viz: Promise<Viz> | undefined;

function graphviz(): Promise<Viz> {
  // A require inside the function: nothing is loaded until a picture is asked for.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  viz ??= (require('@viz-js/viz') as typeof import('@viz-js/viz')).instance();
  return viz;
}

/** Graphviz's verdict on DOT text: the errors and warnings it reported (none when it parses and lays out). */
export async function checkDot(dot: string): Promise<string[]> {
  const result = (await graphviz()).render(dot, { format: 'canon', engine: 'dot' });
  return result.errors.map((e) => `${e.level ?? 'error'}: ${e.message}`).concat(result.status === 'success' ? [] : ['Graphviz could not render the graph']);
}

/** DOT text → an SVG document (`<svg>` with a `<g class="node">` per node); throws with Graphviz's message. */
export async function renderSvg(dot: string): Promise<string> {
  const result = (await graphviz()).render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    throw new Error(`Graphviz could not draw the graph: ${result.errors.map((e) => e.message).join('; ') || 'no reason given'}`);
  }
  return result.output;
}
