// Loads web-tree-sitter and the Python grammar exactly once per process.
// Both wasm files sit next to the bundle (dist/); from the unbundled build (out/) they are
// found in grammars/ and in the web-tree-sitter package.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Language, Parser } from 'web-tree-sitter';

let loading: Promise<Language> | undefined;

function findUp(start: string, relative: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function grammarPath(): string {
  const beside = join(__dirname, 'tree-sitter-python.wasm');
  if (existsSync(beside)) return beside;
  const found = findUp(__dirname, join('grammars', 'tree-sitter-python.wasm'));
  if (!found) throw new Error('tree-sitter-python.wasm not found next to the bundle or in grammars/');
  return found;
}

function runtimeWasmPath(): string {
  const beside = join(__dirname, 'web-tree-sitter.wasm');
  if (existsSync(beside)) return beside;
  return require.resolve('web-tree-sitter/web-tree-sitter.wasm');
}

/** The Python language; the first call initialises the wasm runtime. */
export function loadPython(): Promise<Language> {
  loading ??= (async () => {
    const wasm = runtimeWasmPath();
    await Parser.init({ locateFile: () => wasm });
    return Language.load(grammarPath());
  })();
  return loading;
}

/**
 * A WebAssembly trap ("memory access out of bounds", "unreachable"…): the module it happened in
 * may be left corrupt, so everything built on it must be dropped and the runtime recreated.
 */
export function isWasmTrap(err: unknown): boolean {
  // The DOM typings are not loaded, so the global is reached through globalThis.
  const runtimeError = (globalThis as unknown as { WebAssembly?: { RuntimeError: new () => Error } }).WebAssembly?.RuntimeError;
  return !!runtimeError && err instanceof runtimeError;
}

/**
 * After a trap: a fresh WebAssembly runtime and a freshly loaded grammar. Every tree, query,
 * parser and cursor of the old runtime must have been deleted (or dropped) before this is called:
 * their methods and finalizers act on whatever runtime is current. The old Language must not be
 * used again; its parser is dropped with it.
 */
export function reloadPython(): Promise<Language> {
  loading = undefined;
  return loadPython();
}
