// Who adds to a container and what takes entries out, beyond one use (`containerUseKind`): the
// container bindings a module makes, functions that only run at import time (set-up helpers such
// as opcode's `def_op`), registration decorators, additions under a guard that bounds the container,
// constant keys and fresh objects, and removals through a local alias. The container rules
// (LL301, LL303) ask these through `SemanticModel`; each question has this one answer.
import type { Node } from 'web-tree-sitter';
import { unparenthesize } from '../syntax';
import { containerUseKind } from './classes';
import type { ContainerConstruction } from './growth';
import type { SemanticModel } from './index';

/** Compound statements whose blocks still run at import time. */
const MODULE_BLOCKS = new Set(['if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'except_group_clause', 'finally_clause', 'with_statement', 'for_statement', 'while_statement', 'block']);
const CONSTANT_KEYS = new Set(['string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none']);

export interface ModuleContainer {
  name: string;
  /** The binding's target name. */
  target: Node;
  assignment: Node;
  built: ContainerConstruction;
}

/**
 * The containers a module binds to plain names (`_cache = {}`), at the top level and inside
 * module-level if/try/with/for/while blocks, in document order (every such binding, a name bound
 * twice included); dunder names are left out.
 */
export function moduleContainers(root: Node, semantic: SemanticModel): ModuleContainer[] {
  const out: ModuleContainer[] = [];
  // Depth-first in document order, without recursion (module-level blocks can nest deeply).
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const nested: Node[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'expression_statement') {
        const a = child.namedChild(0);
        if (a?.type !== 'assignment') continue;
        const left = a.childForFieldName('left');
        const right = a.childForFieldName('right');
        if (left?.type !== 'identifier' || !right) continue;
        if (/^__.*__$/.test(left.text)) continue;
        const built = semantic.containerBuilt(right);
        if (built) out.push({ name: left.text, target: left, assignment: a, built });
      } else if (MODULE_BLOCKS.has(child.type)) {
        nested.push(child);
      }
    }
    for (let i = nested.length - 1; i >= 0; i--) stack.push(nested[i]);
  }
  return out;
}

/** Is `fn` a function of the module itself: a def, or `name = lambda …`, whose frame is the module (through module-level blocks)? */
function isModuleLevelDef(fn: Node, semantic: SemanticModel): boolean {
  if (fn.type === 'lambda') {
    // `addflag = lambda *args: …` at module level is a function named addflag.
    const p = fn.parent;
    if (p?.type !== 'assignment' || p.childForFieldName('left')?.type !== 'identifier' || p.parent?.type !== 'expression_statement') return false;
    return semantic.frameNodeOf(p).type === 'module';
  }
  return fn.type === 'function_definition' && semantic.frameNodeOf(fn).type === 'module';
}

/** The name a function is bound to: a def's name, or the target of `name = lambda …`. */
function boundName(fn: Node): Node | null {
  if (fn.type === 'function_definition') return fn.childForFieldName('name');
  const p = fn.parent;
  if (fn.type === 'lambda' && p?.type === 'assignment' && p.childForFieldName('right')?.equals(fn)) {
    const left = p.childForFieldName('left');
    return left?.type === 'identifier' ? left : null;
  }
  return null;
}

/**
 * True when a function only ever runs at import time: a module-level def whose every reference
 * in the module is a call or a decoration made at module level (or a `del` of it), with at least
 * one such call — a set-up helper such as opcode's `def_op`. Calls from other such functions count
 * as import-time calls. A def nested directly in such a
 * function that is only called or returned by it (a decorator factory's decorator) runs then too.
 */
export function runsOnlyAtImport(fn: Node, memo: Map<number, boolean>, semantic: SemanticModel): boolean {
  const known = memo.get(fn.id);
  if (known !== undefined) return known;
  memo.set(fn.id, false);
  let verdict = false;
  const name = boundName(fn);
  if (name && isModuleLevelDef(fn, semantic)) {
    let calls = 0;
    let deletions = 0;
    let other = false;
    for (const id of semantic.nameOccurrences(name.text)) {
      if (id.equals(name)) continue;
      const p = id.parent!;
      const atImport = semantic.functionRunning(id) === undefined;
      const called = p.type === 'call' && p.childForFieldName('function')?.equals(id);
      const decorates = p.type === 'decorator' || (p.type === 'call' && called && p.parent?.type === 'decorator');
      const deleted = p.type === 'delete_statement' || (p.type === 'expression_list' && p.parent?.type === 'delete_statement');
      if (atImport && (called || decorates)) calls++;
      else if (called && !atImport && callerRunsOnlyAtImport(id, memo, semantic)) continue;
      else if (atImport && deleted) deletions++;
      else {
        other = true;
        break;
      }
    }
    // A function deleted at module level (`del def_op`) cannot be called once the import is done.
    verdict = !other && (calls > 0 || deletions > 0);
  } else if (name && fn.type === 'function_definition') {
    // A def directly inside an import-time function, used there only by calling or returning it.
    const outer = semantic.functionRunning(fn);
    if (outer && outer.type === 'function_definition' && semantic.functionRunning(outer) === undefined && runsOnlyAtImport(outer, memo, semantic)) {
      verdict = semantic.nameOccurrences(name.text, outer.startIndex, outer.endIndex).every((id) => {
        if (id.equals(name)) return true;
        const p = id.parent!;
        return (p.type === 'call' && p.childForFieldName('function')?.equals(id)) || p.type === 'return_statement';
      });
    }
  }
  memo.set(fn.id, verdict);
  return verdict;
}

/** True when the call at `id` is made by a function that itself only runs at import time (opcode's `name_op` calling `def_op`). */
function callerRunsOnlyAtImport(id: Node, memo: Map<number, boolean>, semantic: SemanticModel): boolean {
  const caller = semantic.functionRunning(id);
  return !!caller && runsOnlyAtImport(caller, memo, semantic);
}

/** The name a container read at `id` is copied to by `alias = NAME` (or a tuple assignment `a, b = x, NAME`). */
function aliasTarget(id: Node): Node | undefined {
  const n = id;
  const p = n.parent;
  if (p?.type === 'expression_list') {
    // `a, b = x, NAME`: pair up positions.
    const assign = p.parent;
    if (assign?.type !== 'assignment' || !assign.childForFieldName('right')?.equals(p)) return undefined;
    const left = assign.childForFieldName('left');
    if (left?.type !== 'pattern_list') return undefined;
    const index = p.namedChildren.findIndex((c) => c?.equals(n));
    const target = left.namedChildren[index];
    return target?.type === 'identifier' ? target : undefined;
  }
  if (p?.type === 'assignment' && p.childForFieldName('right')?.equals(n)) {
    const left = p.childForFieldName('left');
    return left?.type === 'identifier' ? left : undefined;
  }
  return undefined;
}

/** True when the alias is pruned where it is bound: `alias.remove(…)`, `del alias[…]`, `alias[a:b] = …`. */
function aliasPruned(alias: Node, semantic: SemanticModel): boolean {
  const binding = semantic.bindingAt(alias);
  if (!binding) return false;
  return semantic.readsOf(binding.scope, alias.text).some((id) => {
    const use = containerUseKind(id);
    return use === 'remove' || use === 'delete';
  });
}

/**
 * Is the container read at `expr` (a name or `Cls.attr`) copied to a local alias that takes entries
 * out where it is bound (`items = _pending; items.pop()`, `live = Cls._all; del live[k]`)?
 */
export function prunedThroughAlias(expr: Node, semantic: SemanticModel): boolean {
  const alias = aliasTarget(expr);
  return !!alias && aliasPruned(alias, semantic);
}

/** A literal key (or a tuple of literals): one fixed entry, which cannot grow. */
export function isConstantKey(key: Node | null | undefined): boolean {
  if (!key) return false;
  const k = unparenthesize(key);
  if (CONSTANT_KEYS.has(k.type)) return true;
  if (k.type === 'tuple') return k.namedChildren.every((c) => !c || isConstantKey(c));
  return false;
}

/** A container display or a constructor call (`Record(x)`, `{...}`, `[...]`): an object made where it is evaluated. */
export function isNewObject(value: Node): boolean {
  const v = unparenthesize(value);
  if (v.type === 'dictionary' || v.type === 'list' || v.type === 'set' || v.type === 'dictionary_comprehension' || v.type === 'list_comprehension') return v.namedChildCount > 0;
  if (v.type !== 'call') return false;
  const callee = v.childForFieldName('function');
  const name = callee?.type === 'attribute' ? callee.childForFieldName('attribute')?.text : callee?.text;
  return !!name && /^_?[A-Z]/.test(name);
}

/**
 * A registration decorator: the function stores one of its parameters and returns that same
 * parameter (`def register(fn): _handlers.append(fn); return fn`).
 */
export function isRegistrationDecorator(fn: Node, stored: Node | null | undefined, semantic: SemanticModel): boolean {
  if (!stored || fn.type !== 'function_definition') return false;
  let value = unparenthesize(stored);
  // `_codes.add(fn.__code__)`, `_by_name[cls.__name__] = cls`: an attribute of the parameter counts too.
  while (value.type === 'attribute') value = unparenthesize(value.childForFieldName('object')!);
  if (value.type !== 'identifier') return false;
  const params = fn.childForFieldName('parameters');
  const isParam = params?.namedChildren.some((p) => {
    if (!p) return false;
    if (p.type === 'identifier') return p.text === value.text;
    const name = p.type === 'typed_parameter' ? p.namedChild(0) : p.childForFieldName('name');
    return name?.text === value.text;
  });
  if (!isParam) return false;
  const body = fn.childForFieldName('body');
  return (body?.descendantsOfType('return_statement') ?? []).some((r) => {
    if (!r || semantic.functionRunning(r)?.equals(fn) !== true) return false;
    const v = r.namedChild(0);
    return !!v && unparenthesize(v).type === 'identifier' && unparenthesize(v).text === value.text;
  });
}

/**
 * True when the addition only runs under a condition that bounds the container: a size check
 * (`if len(_cache) < 100:`, `if not _loaded:`), or an update of a key already present
 * (`if key in _flags: _flags[key] = True`).
 */
export function boundedByGuard(node: Node, fn: Node, name: string, key: Node | null | undefined): boolean {
  for (let n: Node = node, p = node.parent; p && !p.equals(fn); n = p, p = p.parent) {
    if (p.type !== 'if_statement' && p.type !== 'elif_clause' && p.type !== 'while_statement') continue;
    if (!p.childForFieldName(p.type === 'while_statement' ? 'body' : 'consequence')?.equals(n)) continue;
    const condition = p.childForFieldName('condition');
    if (!condition) continue;
    const c = unparenthesize(condition);
    if (c.type === 'not_operator' && unparenthesize(c.childForFieldName('argument')!).text === name) return true;
    for (const call of condition.descendantsOfType('call')) {
      const callee = call?.childForFieldName('function');
      const args = call?.childForFieldName('arguments')?.namedChildren.filter((a) => a && a.type !== 'comment') ?? [];
      if (callee?.text === 'len' && args.length === 1 && args[0]!.text === name) return true;
    }
    if (key && c.type === 'comparison_operator' && c.namedChildCount === 2) {
      const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text);
      if (ops.length === 1 && ops[0] === 'in' && c.namedChild(1)?.text === name && c.namedChild(0)?.text === key.text) return true;
    }
  }
  return false;
}
