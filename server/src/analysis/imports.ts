// Resolves local names to dotted names through the file's import statements, so that
// `import sqlite3 as sq; sq.connect()` and `from socket import socket` are recognised.
import type { Node } from 'web-tree-sitter';
import { statementsAtKeyword } from './syntax';

const IMPORT_TYPES = new Set(['import_statement', 'import_from_statement']);

export type ImportMap = Map<string, string>;

function dotted(node: Node | null): string | undefined {
  return node ? node.text.replace(/\s+/g, '') : undefined;
}

/** A file's imports, and where their statements are (so an edit can tell whether it touched one). */
export interface FileImports {
  map: ImportMap;
  spans: Array<{ start: number; end: number }>;
}

/** The file's imports, from the text's `import` keywords, with the statements' ranges. */
export function fileImports(root: Node, text: string): FileImports {
  const statements = statementsAtKeyword(root, text, 'import', IMPORT_TYPES);
  return { map: importMap(statements), spans: statements.map((s) => ({ start: s.startIndex, end: s.endIndex })) };
}

/** Local name → dotted target for the given import statements (any nesting level). */
function importMap(statements: ReadonlyArray<Node | null>): ImportMap {
  const map: ImportMap = new Map();
  for (const stmt of statements) {
    if (!stmt) continue;
    if (stmt.type === 'import_statement') {
      for (const child of stmt.childrenForFieldName('name')) {
        if (!child) continue;
        if (child.type === 'aliased_import') {
          const target = dotted(child.childForFieldName('name'));
          const alias = child.childForFieldName('alias')?.text;
          if (target && alias) map.set(alias, target);
        } else {
          // `import a.b` binds `a`, which refers to the package `a`.
          const target = dotted(child);
          if (target) map.set(target.split('.')[0], target.split('.')[0]);
        }
      }
    } else {
      const module = dotted(stmt.childForFieldName('module_name'));
      if (!module || module.startsWith('.')) continue;
      for (const child of stmt.childrenForFieldName('name')) {
        if (!child) continue;
        if (child.type === 'aliased_import') {
          const name = dotted(child.childForFieldName('name'));
          const alias = child.childForFieldName('alias')?.text;
          if (name && alias) map.set(alias, `${module}.${name}`);
        } else {
          const name = dotted(child);
          if (name) map.set(name, `${module}.${name}`);
        }
      }
    }
  }
  return map;
}

/**
 * The dotted name an identifier or attribute chain stands for: `sq.connect` → `sqlite3.connect`.
 * Names that are not imported keep their own spelling (`open` → `open`).
 */
export function resolveName(node: Node, imports: ImportMap): string | undefined {
  if (node.type === 'identifier') return imports.get(node.text) ?? node.text;
  if (node.type === 'attribute') {
    const object = node.childForFieldName('object');
    const attr = node.childForFieldName('attribute');
    if (!object || !attr) return undefined;
    const base = resolveName(object, imports);
    return base === undefined ? undefined : `${base}.${attr.text}`;
  }
  return undefined;
}

/**
 * The edit that adds an import line: after the leading run of imports at the top of the
 * module (after its docstring and `from __future__` imports when there are no others).
 */
export function addImportEdit(root: Node, text: string, line: string): { start: number; end: number; text: string } {
  const nl = text.indexOf('\r\n') !== -1 && text.indexOf('\r\n') === text.indexOf('\n') - 1 ? '\r\n' : '\n';
  let anchor: Node | undefined;
  const statements = root.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
  for (let i = 0; i < statements.length; i++) {
    const s = statements[i];
    const isDoc = i === 0 && s.type === 'expression_statement' && s.namedChild(0)?.type === 'string';
    if (isDoc || s.type === 'import_statement' || s.type === 'import_from_statement' || s.type === 'future_import_statement') {
      anchor = s;
      continue;
    }
    break;
  }
  if (!anchor) return { start: 0, end: 0, text: line + nl };
  const lineEnd = text.indexOf('\n', anchor.endIndex);
  if (lineEnd === -1) return { start: text.length, end: text.length, text: nl + line + nl };
  return { start: lineEnd + 1, end: lineEnd + 1, text: line + nl };
}
