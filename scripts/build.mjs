// Bundles the extension client, the server/CLI and its analysis worker with esbuild and copies
// both wasm files next to the server bundle, where server/src/parsing/grammar.ts looks for them first.
import * as esbuild from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

// web-tree-sitter's ES module reads import.meta.url, which a CommonJS bundle must supply.
const common = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', logLevel: 'warning', minify: true, keepNames: true,
  define: { 'import.meta.url': '__leaklensImportMetaUrl' },
  banner: { js: "const __leaklensImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};
// Graphviz (@viz-js/viz, WebAssembly inside one 1.2 MB JavaScript file) is not bundled twice: the
// extension and the CLI both require `./viz.cjs`, copied next to them below, and only when a
// picture is drawn (server/src/runtime/svg.ts).
const sharedGraphviz = {
  name: 'shared-graphviz',
  setup(build) {
    build.onResolve({ filter: /^@viz-js\/viz$/ }, () => ({ path: './viz.cjs', external: true }));
  },
};
await Promise.all([
  esbuild.build({ ...common, entryPoints: [join(root, 'client/src/extension.ts')], outfile: join(dist, 'extension.js'), external: ['vscode'], plugins: [sharedGraphviz] }),
  esbuild.build({ ...common, entryPoints: [join(root, 'server/src/cli/main.ts')], outfile: join(dist, 'leaklens.js'), external: ['web-tree-sitter/web-tree-sitter.wasm'], plugins: [sharedGraphviz] }),
  // The analysis worker thread (server/src/workers/pool.ts starts `worker.js` from its own folder).
  esbuild.build({ ...common, entryPoints: [join(root, 'server/src/workers/worker.ts')], outfile: join(dist, 'worker.js'), external: ['web-tree-sitter/web-tree-sitter.wasm'] }),
  // The folder-discovery thread (server/src/workers/discover.ts starts it from its own folder).
  esbuild.build({ ...common, entryPoints: [join(root, 'server/src/workers/discover-worker.ts')], outfile: join(dist, 'discover-worker.js') }),
]);
copyFileSync(join(root, 'grammars/tree-sitter-python.wasm'), join(dist, 'tree-sitter-python.wasm'));
copyFileSync(require.resolve('web-tree-sitter/web-tree-sitter.wasm'), join(dist, 'web-tree-sitter.wasm'));
copyFileSync(require.resolve('@viz-js/viz'), join(dist, 'viz.cjs'));
// The run-time runner (standard-library Python), started by `leaklens run` and the editor's commands.
mkdirSync(join(dist, 'runtime'), { recursive: true });
// The run-time runner is a package (a folder): its .py files only, never a __pycache__; the
// previous copy goes first, so a module removed from the sources does not linger in dist/.
rmSync(join(dist, 'runtime', 'leaklens_runner'), { recursive: true, force: true });
rmSync(join(dist, 'runtime', 'leaklens_runner.py'), { force: true });
cpSync(join(root, 'server/python/leaklens_runner'), join(dist, 'runtime', 'leaklens_runner'), {
  recursive: true,
  filter: (source) => basename(source) !== '__pycache__' && (statSync(source).isDirectory() || source.endsWith('.py')),
});
// Rule pages for the editor's offline documentation links, rendered from the rule files.
execFileSync(process.execPath, [join(dist, 'leaklens.js'), 'docs', join(dist, 'docs', 'rules')], { stdio: 'inherit' });
