// Helpers shared by the reference-cycle rules (LL501…LL504): classes and their methods, stores
// into attributes and containers, and the `weakref.proxy(...)` edit.
import type { Node } from 'web-tree-sitter';
import { addImportEdit } from './imports';
import { decoratorsOf, decoratorTarget, firstParameterName } from './syntax';
import type { OffsetEdit, RuleContext } from './types';

/** Unwraps `(expr)` groupings, also when comments sit inside the parentheses. */
export function stripParens(node: Node): Node {
  let n = node;
  while (n.type === 'parenthesized_expression') {
    const inner = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (inner.length !== 1) break;
    n = inner[0];
  }
  return n;
}

const unparenthesize = stripParens;

/** Calls whose result refers to its argument weakly (or holds items weakly). */
export const WEAK_FACTORIES = new Set([
  'weakref.ref', 'weakref.proxy', 'weakref.WeakMethod', 'weakref.WeakSet', 'weakref.WeakValueDictionary', 'weakref.WeakKeyDictionary',
  '_weakref.ref', '_weakref.proxy', '_weakrefset.WeakSet',
]);

/** Does the expression build a weak reference or weak container (anywhere inside it)? */
export function isWeakValue(value: Node, context: RuleContext): boolean {
  const calls = value.type === 'call' ? [value, ...value.descendantsOfType('call')] : value.descendantsOfType('call');
  return calls.some((c) => {
    const fn = c?.childForFieldName('function');
    const q = fn ? context.qualifiedName(fn) : undefined;
    return !!q && WEAK_FACTORIES.has(q);
  });
}

/**
 * Attribute and name targets assigned a weak value in a scope (`self.parent = weakref.proxy(p)`,
 * `self.children = WeakSet()`), spelled as written; for a method, also those assigned on the
 * instance by any method of its class (spelled with this method's first parameter).
 */
export function weakTargets(scope: Node, context: RuleContext, scopes: ScopeIndex): Set<string> {
  const out = new Set<string>();
  const collect = (body: Node | null, owner: Node, rename?: [string, string]) => {
    if (!body) return;
    for (const a of body.descendantsOfType('assignment')) {
      if (!a || !scopes.inScope(a, owner)) continue;
      const left = a.childForFieldName('left');
      const right = a.childForFieldName('right');
      if (!left || !right || !isWeakValue(right, context)) continue;
      let text = left.text;
      if (rename) {
        const [from, to] = rename;
        if (!text.startsWith(from + '.')) continue;
        text = to + text.slice(from.length);
      }
      out.add(text);
    }
  };
  collect(scope.type === 'module' ? scope : scope.childForFieldName('body'), scope);
  const info = scope.type === 'function_definition' ? methodInfo(scope, context) : undefined;
  if (info?.selfName) {
    for (const m of classMethods(info.cls, context).values()) {
      if (m.selfName && !m.fn.equals(scope)) collect(m.fn.childForFieldName('body'), m.fn, [m.selfName, info.selfName]);
    }
  }
  return out;
}

/** Container methods that store their (last) argument in the container. */
export const STORING_METHODS = new Set(['append', 'add', 'insert', 'appendleft', 'setdefault']);

export interface MethodInfo {
  fn: Node;
  cls: Node;
  name: string;
  /** The first parameter (`self`), for instance methods. */
  selfName?: string;
  kind: 'instance' | 'static' | 'class' | 'property';
}

/** The class whose body holds this def directly (decorated or not). */
export function classOfMethod(fn: Node): Node | undefined {
  let holder = fn.parent;
  if (holder?.type === 'decorated_definition') holder = holder.parent;
  if (holder?.type !== 'block') return undefined;
  const cls = holder.parent;
  return cls?.type === 'class_definition' ? cls : undefined;
}


export function methodInfo(fn: Node, context: RuleContext): MethodInfo | undefined {
  if (fn.type !== 'function_definition') return undefined;
  const cls = classOfMethod(fn);
  const name = fn.childForFieldName('name')?.text;
  if (!cls || !name) return undefined;
  // Implicit class and static methods.
  let kind: MethodInfo['kind'] = name === '__init_subclass__' || name === '__class_getitem__' ? 'class' : name === '__new__' ? 'static' : 'instance';
  for (const d of decoratorsOf(fn)) {
    const target = decoratorTarget(d);
    const q = (target && context.qualifiedName(target)) ?? '';
    const last = q.split('.').pop() ?? '';
    if (last === 'staticmethod') kind = 'static';
    else if (last === 'classmethod') kind = 'class';
    else if (last === 'property' || last === 'cached_property' || last === 'setter' || last === 'getter' || last === 'deleter') kind = 'property';
  }
  const selfName = kind === 'instance' || kind === 'property' ? firstParameterName(fn) : undefined;
  return { fn, cls, name, selfName, kind };
}

/** The methods defined directly in a class body, by name (the last definition wins). */
export function classMethods(cls: Node, context: RuleContext): Map<string, MethodInfo> {
  const out = new Map<string, MethodInfo>();
  const body = cls.childForFieldName('body');
  if (!body) return out;
  for (const child of body.namedChildren) {
    if (!child) continue;
    const fn = child.type === 'decorated_definition' ? child.childForFieldName('definition') : child;
    if (fn?.type !== 'function_definition') continue;
    const info = methodInfo(fn, context);
    if (info) out.set(info.name, info);
  }
  return out;
}

/** The identifier an attribute/subscript chain starts from: `self.a.b[0]` → `self`. */
export function rootIdentifier(node: Node): Node | undefined {
  let n: Node | null = unparenthesize(node);
  while (n) {
    if (n.type === 'identifier') return n;
    if (n.type === 'attribute') n = n.childForFieldName('object');
    else if (n.type === 'subscript') n = n.childForFieldName('value');
    else return undefined;
  }
  return undefined;
}

export interface Store {
  /** The whole store: the assignment, or the call. */
  node: Node;
  /** Where the value goes: `a.next` (attribute), `a.items[k]` (subscript) or `a.items` (container of a call). */
  target: Node;
  /** The stored value expression. */
  value: Node;
  kind: 'attribute' | 'subscript' | 'call';
}

/** A store of a value into an attribute, a subscript, or a container through a storing method. */
export function storeOf(node: Node): Store | undefined {
  if (node.type === 'assignment') {
    const target = node.childForFieldName('left');
    const value = node.childForFieldName('right');
    if (!target || !value || value.type === 'assignment') return undefined;
    if (target.type === 'attribute') return { node, target, value, kind: 'attribute' };
    if (target.type === 'subscript') return { node, target, value, kind: 'subscript' };
    return undefined;
  }
  if (node.type === 'call') {
    const fn = node.childForFieldName('function');
    if (fn?.type !== 'attribute') return undefined;
    const method = fn.childForFieldName('attribute')?.text ?? '';
    const owner = fn.childForFieldName('object');
    if (!owner || !STORING_METHODS.has(method)) return undefined;
    const args = node.childForFieldName('arguments');
    if (args?.type !== 'argument_list') return undefined;
    const positional = args.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (positional.some((a) => a.type === 'keyword_argument' || a.type === 'list_splat' || a.type === 'dictionary_splat')) return undefined;
    const expected = method === 'insert' || method === 'setdefault' ? 2 : 1;
    if (positional.length !== expected) return undefined;
    return { node, target: owner, value: positional[expected - 1], kind: 'call' };
  }
  return undefined;
}

const HOLDERS = new Set(['tuple', 'list', 'set', 'parenthesized_expression', 'expression_list']);

/**
 * The identifiers a stored value holds strongly: the value itself, or the items of a tuple,
 * list, set or dict literal (not what calls or attribute reads return).
 */
export function heldNames(value: Node): Node[] {
  const v = unparenthesize(value);
  if (v.type === 'identifier') return [v];
  if (HOLDERS.has(v.type)) return v.namedChildren.flatMap((c) => (c && c.type !== 'comment' ? heldNames(c) : []));
  if (v.type === 'dictionary') {
    return v.namedChildren.flatMap((pair) => {
      if (pair?.type !== 'pair') return [];
      return [pair.childForFieldName('key'), pair.childForFieldName('value')].flatMap((c) => (c ? heldNames(c) : []));
    });
  }
  return [];
}

const BLOCKS = new Set(['if_statement', 'try_statement', 'elif_clause', 'else_clause', 'except_clause', 'finally_clause', 'block', 'with_statement']);

/**
 * Is `local` bound to the dotted import `target` by an import statement at module level (also
 * inside a top-level `if`/`try`/`with`)? An import inside a function or class binds the name
 * there only, so a fix that spells the name elsewhere must add its own import.
 */
export function importedAtModuleLevel(root: Node, local: string, target: string): boolean {
  const visit = (nodes: ReadonlyArray<Node | null>): boolean =>
    nodes.some((n) => {
      if (!n) return false;
      if (n.type === 'import_statement' || n.type === 'import_from_statement') return bindsImport(n, local, target);
      return BLOCKS.has(n.type) && visit(n.namedChildren);
    });
  return visit(root.namedChildren);
}

function bindsImport(stmt: Node, local: string, target: string): boolean {
  const module = stmt.type === 'import_from_statement' ? stmt.childForFieldName('module_name')?.text.replace(/\s+/g, '') : undefined;
  for (const child of stmt.childrenForFieldName('name')) {
    if (!child) continue;
    const aliased = child.type === 'aliased_import';
    const name = (aliased ? child.childForFieldName('name')?.text : child.text)?.replace(/\s+/g, '') ?? '';
    const bound = aliased ? child.childForFieldName('alias')?.text : module ? name : name.split('.')[0];
    const dotted = module ? `${module}.${name}` : aliased ? name : name.split('.')[0];
    if (bound === local && dotted === target) return true;
  }
  return false;
}

/** The local name of a dotted import that is bound at module level, if any. */
export function moduleLevelNameFor(context: RuleContext, target: string): string | undefined {
  const local = context.localNameFor(target);
  return local && importedAtModuleLevel(context.root, local, target) ? local : undefined;
}

/** How the file can say `weakref.<member>` at module level, plus the import edit when it cannot yet. */
export function weakrefSpelling(context: RuleContext, member: string): { callee: string; edits: OffsetEdit[] } {
  const direct = moduleLevelNameFor(context, `weakref.${member}`);
  if (direct) return { callee: direct, edits: [] };
  const module = moduleLevelNameFor(context, 'weakref');
  if (module) return { callee: `${module}.${member}`, edits: [] };
  return { callee: `weakref.${member}`, edits: [addImportEdit(context.root, context.text, 'import weakref')] };
}

/** How the file can say `weakref.proxy`, plus the import edit when it cannot yet. */
export function weakProxySpelling(context: RuleContext): { callee: string; edits: OffsetEdit[] } {
  return weakrefSpelling(context, 'proxy');
}

/** `x` → `weakref.proxy(x)` (or the None-preserving conditional form), plus the import when needed. */
export function weakProxyEdits(context: RuleContext, value: Node, allowNone: boolean): OffsetEdit[] {
  const { callee, edits } = weakProxySpelling(context);
  const text = value.text;
  const wrapped = allowNone ? `${callee}(${text}) if ${text} is not None else None` : `${callee}(${text})`;
  // A conditional expression inside a call argument or a tuple item needs no parentheses,
  // but keep it unambiguous everywhere else.
  const parent = value.parent;
  const bare = !allowNone || parent?.type === 'assignment' || parent?.type === 'argument_list';
  return [{ start: value.startIndex, end: value.endIndex, text: bare ? wrapped : `(${wrapped})` }, ...edits];
}

/** Does the subtree mention the identifier `name` as a variable (not as an attribute name)? */
export function mentionsName(node: Node, name: string): boolean {
  const ids = node.type === 'identifier' ? [node] : node.descendantsOfType('identifier');
  for (const id of ids) {
    if (!id || id.text !== name) continue;
    const p = id.parent;
    if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) continue;
    if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
    return true;
  }
  return false;
}

/** Names a function or lambda binds as parameters. */
export function parameterNames(fn: Node): Set<string> {
  const names = new Set<string>();
  const params = fn.childForFieldName('parameters');
  if (!params) return names;
  for (const p of params.namedChildren) {
    if (!p) continue;
    if (p.type === 'identifier') names.add(p.text);
    else {
      const name = p.childForFieldName('name') ?? p.namedChildren.find((c) => c?.type === 'identifier');
      if (name?.type === 'identifier') names.add(name.text);
    }
  }
  return names;
}

interface ScopeEntry {
  node: Node;
  start: number;
  end: number;
  parent: number;
}

/**
 * The scopes of a tree (module, def, lambda, class) as nested offset ranges, built with one
 * `descendantsOfType` call. Finding the scope of a node this way costs no `Node.parent` calls,
 * which web-tree-sitter answers by walking down from the root each time.
 */
export class ScopeIndex {
  private readonly entries: ScopeEntry[] = [];

  constructor(private readonly root: Node) {
    const stack: number[] = [];
    for (const n of root.descendantsOfType(['function_definition', 'lambda', 'class_definition'])) {
      if (!n) continue;
      while (stack.length > 0 && this.entries[stack[stack.length - 1]].end <= n.startIndex) stack.pop();
      this.entries.push({ node: n, start: n.startIndex, end: n.endIndex, parent: stack.length > 0 ? stack[stack.length - 1] : -1 });
      stack.push(this.entries.length - 1);
    }
  }

  /** Index of the innermost scope entry that strictly contains [start, end), or -1 for the module. */
  private innermost(start: number, end: number, exclude?: Node): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].start <= start) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = found; i !== -1; i = this.entries[i].parent) {
      const e = this.entries[i];
      if (e.start <= start && e.end >= end && !(exclude && e.start === exclude.startIndex && e.end === exclude.endIndex)) return i;
    }
    return -1;
  }

  /** The scope a node belongs to (for a def, lambda or class itself: the one around it). */
  scopeOf(node: Node): Node {
    const i = this.innermost(node.startIndex, node.endIndex, SCOPE_NODE_TYPES.has(node.type) ? node : undefined);
    return i === -1 ? this.root : this.entries[i].node;
  }

  /** Is node directly in `scope` (not inside a def, lambda or class nested in it)? */
  inScope(node: Node, scope: Node): boolean {
    const i = this.innermost(node.startIndex, node.endIndex, SCOPE_NODE_TYPES.has(node.type) ? node : undefined);
    if (i === -1) return scope.type === 'module';
    return this.entries[i].start === scope.startIndex && this.entries[i].end === scope.endIndex && this.entries[i].node.type === scope.type;
  }
}

const SCOPE_NODE_TYPES = new Set(['function_definition', 'lambda', 'class_definition']);
