// What can be run from an editor position: the function or test under the cursor, or the
// script. A light line scanner (no parser in the client): `def`/`class` lines by indentation,
// skipping triple-quoted strings. Shared by the VS Code commands and CodeLens; plain data only.
import { posix } from 'node:path';

export interface PyDefinition {
  kind: 'def' | 'class';
  name: string;
  /** `Class.method`, `outer.<locals>.inner` is never produced: nested defs keep their parent. */
  qualname: string;
  /** 0-based line of the `def`/`class` keyword. */
  line: number;
  /** 0-based last line of the body. */
  end: number;
  indent: number;
  /** Decorator names (`staticmethod`, `pytest.fixture`), without `@` or arguments. */
  decorators: string[];
  /** Parameter names without defaults (not `self`/`cls` of methods, not `*args`/`**kwargs`). */
  required: string[];
  parent?: PyDefinition;
}

export type TargetKind = 'function' | 'test' | 'script';

export interface TargetChoice {
  /** Runner target: `path.py:func`, `path.py::test`, `path.py`. */
  spec: string;
  kind: TargetKind;
  label: string;
  detail: string;
  /** 0-based line of the definition, for CodeLens. */
  line?: number;
  /** A function with parameters that have no default: it must be given a call (`f(i)`). */
  required?: string[];
}

/**
 * A call to start from for a function that needs arguments: `path.py:handle(i)`,
 * `path.py:render(i, key)` — `i` (the call number) for the first parameter, the parameter names
 * for the others, to be replaced by expressions. A choice that needs none is its own spec.
 */
export function callTemplate(choice: TargetChoice): string {
  if (!choice.required?.length) return choice.spec;
  return `${choice.spec}(${choice.required.map((name, index) => (index === 0 ? 'i' : name)).join(', ')})`;
}

const DEF = /^([ \t]*)(async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(/;
const CLASS = /^([ \t]*)class[ \t]+([A-Za-z_]\w*)/;
const DECORATOR = /^[ \t]*@[ \t]*([A-Za-z_][\w.]*)/;

function indentWidth(text: string): number {
  let n = 0;
  for (const ch of text) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 8 - (n % 8);
    else break;
  }
  return n;
}

/** Lines inside triple-quoted strings (not code). */
function stringLines(lines: string[]): Set<number> {
  const inside = new Set<number>();
  let open: string | undefined;
  lines.forEach((line, i) => {
    if (open) inside.add(i);
    let at = 0;
    for (;;) {
      const quote = open ?? (/("""|''')/.exec(line.slice(at))?.[1]);
      if (!quote) break;
      const start = open ? at : line.indexOf(quote, at) + 3;
      const close = line.indexOf(quote, start);
      if (close < 0) {
        open = quote;
        break;
      }
      open = undefined;
      at = close + 3;
    }
  });
  return inside;
}

function splitParameters(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((p) => p.trim()).filter(Boolean);
}

/** The parameter list text after `def name(` up to the matching `)` (may span lines). */
function parameterText(lines: string[], line: number, column: number): string {
  let depth = 1;
  let text = '';
  for (let i = line; i < lines.length && i < line + 50; i++) {
    const source = i === line ? lines[i].slice(column) : lines[i];
    for (const ch of source) {
      if (ch === '(') depth++;
      if (ch === ')' && --depth === 0) return text;
      text += ch;
    }
    text += ' ';
  }
  return text;
}

export function scanDefinitions(text: string): PyDefinition[] {
  const lines = text.split(/\r\n|\r|\n/);
  const strings = stringLines(lines);
  const definitions: PyDefinition[] = [];
  const open: PyDefinition[] = [];
  let decorators: string[] = [];
  lines.forEach((line, i) => {
    if (strings.has(i)) return;
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const indent = indentWidth(line);
    // A code line at or left of an open definition's indentation ends it.
    while (open.length && indent <= open[open.length - 1].indent && !DECORATOR.test(line) && !trimmed.startsWith(')')) {
      open.pop();
    }
    const decorator = DECORATOR.exec(line);
    if (decorator) {
      decorators.push(decorator[1]);
      return;
    }
    const def = DEF.exec(line);
    const cls = def ? undefined : CLASS.exec(line);
    if (def || cls) {
      const parent = open[open.length - 1];
      const name = def ? def[3] : cls![2];
      const definition: PyDefinition = {
        kind: def ? 'def' : 'class',
        name,
        qualname: parent ? `${parent.qualname}.${name}` : name,
        line: i,
        end: i,
        indent,
        decorators,
        required: [],
        parent,
      };
      if (def) {
        const params = splitParameters(parameterText(lines, i, def[0].length));
        // `self`/`cls` of a method is passed by Python; `*args`, `**kwargs` and defaults are optional.
        const isMethod = parent?.kind === 'class' && !decorators.includes('staticmethod');
        params.forEach((p, index) => {
          if (p === '/' || p.startsWith('*') || p.includes('=') || (isMethod && index === 0)) return;
          definition.required.push(p.split(':')[0].trim());
        });
      }
      decorators = [];
      definitions.push(definition);
      open.push(definition);
      return;
    }
    decorators = [];
    for (const d of open) d.end = i;
  });
  return definitions;
}

export function isTestFile(path: string): boolean {
  const base = posix.basename(path.replace(/\\/g, '/'));
  return /^test_.*\.py$/.test(base) || /_test\.py$/.test(base);
}

/** A runnable definition: a top-level function, a test, a test method, a static/class method. */
function choiceFor(definition: PyDefinition, path: string): TargetChoice | undefined {
  if (definition.kind !== 'def') return undefined;
  // pytest refuses a fixture called directly.
  if (definition.decorators.some((d) => d === 'fixture' || d.endsWith('.fixture'))) return undefined;
  const parent = definition.parent;
  const testFile = isTestFile(path);
  if (testFile && definition.name.startsWith('test')) {
    if (!parent) {
      return { spec: `${path}::${definition.name}`, kind: 'test', label: definition.name, detail: 'test (run through pytest, with its fixtures)', line: definition.line };
    }
    if (parent.kind === 'class' && !parent.parent && parent.name.startsWith('Test')) {
      return { spec: `${path}::${parent.name}::${definition.name}`, kind: 'test', label: `${parent.name}.${definition.name}`, detail: 'test method (run through pytest)', line: definition.line };
    }
    return undefined;
  }
  if (!parent) {
    const detail = definition.required.length
      ? `function (needs ${definition.required.join(', ')}: give the call, e.g. ${definition.name}(i); i is the call number)`
      : 'function (called with no arguments)';
    const choice: TargetChoice = { spec: `${path}:${definition.name}`, kind: 'function', label: definition.name, detail, line: definition.line };
    if (definition.required.length) choice.required = [...definition.required];
    return choice;
  }
  if (parent.kind === 'class' && !parent.parent && (definition.decorators.includes('staticmethod') || definition.decorators.includes('classmethod'))) {
    return { spec: `${path}:${parent.name}.${definition.name}`, kind: 'function', label: `${parent.name}.${definition.name}`, detail: 'static or class method', line: definition.line };
  }
  return undefined;
}

/**
 * What can be run from `line` of the file at `path` (workspace-relative, `/` separators): the
 * runnable definition that encloses the line (outermost runnable one for nested functions), then
 * the whole script.
 */
export function targetsAt(path: string, text: string, line: number | undefined): TargetChoice[] {
  const choices: TargetChoice[] = [];
  if (line !== undefined) {
    const enclosing = scanDefinitions(text).filter((d) => d.line <= line && line <= d.end);
    for (const definition of enclosing) {
      const choice = choiceFor(definition, path);
      if (choice) {
        choices.push(choice);
        break;
      }
    }
  }
  choices.push({ spec: path, kind: 'script', label: posix.basename(path), detail: 'the whole script (run as __main__)' });
  return choices;
}

/** Definitions worth a CodeLens: tests, and top-level functions that take no arguments. */
export function lensTargets(path: string, text: string): TargetChoice[] {
  const out: TargetChoice[] = [];
  for (const definition of scanDefinitions(text)) {
    const choice = choiceFor(definition, path);
    if (!choice) continue;
    if (choice.kind === 'function' && (definition.required.length || definition.parent)) continue;
    if (choice.kind === 'function' && definition.name.startsWith('_')) continue;
    out.push(choice);
  }
  return out;
}
