// LL101 unclosed-resource: a resource bound to a name and not released on some path of its scope.
import type { Node, QueryMatch } from 'web-tree-sitter';
import {
  CALLBACK_REGISTRARS,
  factoryOf,
  FactoryInfo,
  NON_OWNING_CALLS,
  OWNERSHIP_TAKERS,
  TAKER_METHODS,
} from '../resources';
import {
  decoratorsOf,
  decoratorTarget,
  endsLine,
  enclosingScope,
  indentOfLine,
  indentRegion,
  indentUnit,
  isAsync,
  lineBreakOf,
  lineStartOf,
  nextLineStart,
  startsLine,
} from '../syntax';
import { addImportEdit } from '../imports';
import type { Fix, OffsetEdit, RelatedLocation, Rule, RuleContext } from '../types';

type UseKind = 'neutral' | 'escape' | 'released' | 'release-call';

interface Use {
  node: Node;
  kind: UseKind;
}

const CONTAINERS = new Set(['tuple', 'list', 'set', 'dictionary', 'pair', 'parenthesized_expression', 'expression_list']);
/** Blocks that always run on the normal path once their statement is reached. */
const ALWAYS_RUN = new Set(['try_statement', 'with_statement', 'else_clause', 'finally_clause']);
const LOOPS = new Set(['for_statement', 'while_statement']);

function isContextManagerFunction(scope: Node, context: RuleContext): boolean {
  if (scope.type !== 'function_definition') return false;
  const name = scope.childForFieldName('name')?.text;
  if (name === '__enter__' || name === '__aenter__') return true;
  return decoratorsOf(scope).some((d) => {
    const target = decoratorTarget(d);
    const q = target ? context.qualifiedName(target) : undefined;
    return !!q && /(^|\.)(async)?contextmanager$/.test(q);
  });
}

function inside(node: Node, ancestorType: string, stop: Node): Node | undefined {
  for (let n = node.parent; n && !n.equals(stop); n = n.parent) if (n.type === ancestorType) return n;
  return undefined;
}

/** The child of `block` that contains node, if block is an ancestor. */
function childOfBlock(node: Node, block: Node): Node | undefined {
  for (let n: Node | null = node; n; n = n.parent) if (n.parent?.equals(block)) return n;
  return undefined;
}

/** The statement (a direct child of a block or module) that contains node. */
function statementOf(node: Node): Node {
  let n = node;
  while (n.parent && n.parent.type !== 'block' && n.parent.type !== 'module') n = n.parent;
  return n;
}

function calleeName(call: Node, context: RuleContext): { qualified?: string; method?: string } {
  const fn = call.childForFieldName('function');
  if (!fn) return {};
  return {
    qualified: context.qualifiedName(fn),
    method: fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text : undefined,
  };
}

function classify(id: Node, factory: FactoryInfo, scope: Node, context: RuleContext): UseKind {
  const parent = id.parent!;
  if (parent.type === 'with_item' || (parent.type === 'as_pattern' && parent.parent?.type === 'with_item' && parent.namedChild(0)?.equals(id))) {
    return factory.withKeepsOpen ? 'neutral' : 'released';
  }
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(id)) {
    const attr = parent.childForFieldName('attribute')?.text ?? '';
    const holder = parent.parent;
    if (holder?.type === 'call' && holder.childForFieldName('function')?.equals(parent)) {
      if (!factory.release.includes(attr)) return 'neutral';
      return inside(holder, 'finally_clause', scope) ? 'released' : 'release-call';
    }
    // `stack.callback(x.close)`, `atexit.register(x.close)`: the release is scheduled.
    if (holder?.type === 'argument_list' && factory.release.includes(attr)) {
      const { method, qualified } = calleeName(holder.parent!, context);
      if ((method && CALLBACK_REGISTRARS.has(method)) || qualified === 'weakref.finalize' || qualified === 'atexit.register') return 'released';
      return 'escape';
    }
    return 'neutral';
  }
  let arg: Node = id;
  if (parent.type === 'keyword_argument') arg = parent;
  if (arg.parent?.type === 'argument_list') {
    const call = arg.parent.parent!;
    const { qualified, method } = calleeName(call, context);
    if ((qualified && OWNERSHIP_TAKERS.has(qualified)) || (method && TAKER_METHODS.has(method))) return 'released';
    if (qualified && NON_OWNING_CALLS.has(qualified)) return 'neutral';
    return 'escape';
  }
  if (parent.type === 'assignment' && parent.childForFieldName('right')?.equals(id)) return 'escape';
  if (parent.type === 'global_statement' || parent.type === 'nonlocal_statement') return 'escape';
  let n: Node = id;
  while (n.parent && CONTAINERS.has(n.parent.type)) n = n.parent;
  const holder = n.parent;
  if (holder && (holder.type === 'return_statement' || holder.type === 'yield' || holder.type === 'await')) {
    return holder.type === 'await' ? 'neutral' : 'escape';
  }
  if (n !== id && holder && (holder.type === 'assignment' || holder.type === 'argument_list')) return 'escape';
  if (n !== id && n.type !== 'parenthesized_expression') return 'escape';
  return 'neutral';
}

/** `global name` / `nonlocal name` in this scope: the binding outlives the scope. */
function declaredNonLocal(body: Node, scope: Node, name: string): boolean {
  for (const decl of body.descendantsOfType(['global_statement', 'nonlocal_statement'])) {
    if (enclosingScope(decl)?.equals(scope) && decl.namedChildren.some((n) => n?.text === name)) return true;
  }
  return false;
}

/** Does `target` stand directly in the block of `stmt` or of one of its enclosing statements? */
function blockChainContains(stmt: Node, target: Node, scope: Node): boolean {
  const holder = target.parent;
  if (!holder) return false;
  for (let b = stmt.parent; b; b = b.parent) {
    if ((b.type === 'block' || b.type === 'module') && b.equals(holder)) return true;
    if (b.equals(scope)) break;
  }
  return false;
}

/**
 * Does the release call at `release` run on every normal path after `alloc`? It must sit in the
 * allocation's block or an enclosing one, reached only through blocks that always run.
 */
function covers(release: Node, alloc: Node, scope: Node): boolean {
  if (release.startIndex < alloc.endIndex) return false;
  for (let n: Node | null = release.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'block' || n.type === 'module') {
      if (alloc.startIndex >= n.startIndex && alloc.endIndex <= n.endIndex) return true;
      const owner = n.parent;
      if (!owner) return false;
      const always = ALWAYS_RUN.has(owner.type) && !(owner.type === 'try_statement' && !owner.childForFieldName('body')?.equals(n));
      if (!always && owner.type !== 'finally_clause' && owner.type !== 'else_clause') return false;
    }
  }
  return alloc.startIndex >= scope.startIndex;
}

/** A loop around the allocation that does not also hold `node`. */
function loopBetween(alloc: Node, node: Node, scope: Node): Node | undefined {
  for (let n = alloc.parent; n && !n.equals(scope); n = n.parent) {
    if (LOOPS.has(n.type) && !(node.startIndex >= n.startIndex && node.endIndex <= n.endIndex)) return n;
  }
  return undefined;
}

function firstReturnBetween(scope: Node, from: number, to: number): Node | undefined {
  for (const r of scope.descendantsOfType('return_statement')) {
    if (r.startIndex > from && r.startIndex < to && enclosingScope(r)?.equals(scope)) return r;
  }
  return undefined;
}

function lineNo(context: RuleContext, offset: number): number {
  let line = 1;
  for (let i = context.text.indexOf('\n'); i !== -1 && i < offset; i = context.text.indexOf('\n', i + 1)) line++;
  return line;
}

/** How this file can already say contextlib.closing, if it can. */
function closingSpelling(context: RuleContext): { name?: string } {
  for (const id of context.root.descendantsOfType('identifier')) {
    if (id.text === 'closing' && context.qualifiedName(id) === 'contextlib.closing' && id.parent?.type !== 'attribute') return { name: 'closing' };
  }
  return {};
}

/** `x = factory(...)` … → `with factory(...) as x:` holding the statements that use x. */
function wrapFix(stmt: Node, name: string, call: Node, uses: Use[], factory: FactoryInfo, scope: Node, context: RuleContext): Fix | undefined {
  const { text, root } = context;
  if (!startsLine(text, stmt.startIndex) || !endsLine(text, stmt.endIndex)) return undefined;
  const block = stmt.parent!;
  if (!block) return undefined;
  let keyword = 'with';
  if (factory.asyncOnly) {
    if (!(scope.type === 'function_definition' && isAsync(scope))) return undefined;
    keyword = 'async with';
  }
  // Every use must sit in a later statement of the same block.
  let last: Node | undefined;
  for (const use of uses) {
    const s = childOfBlock(use.node, block);
    if (!s || s.startIndex <= stmt.startIndex) return undefined;
    if (!last || s.endIndex > last.endIndex) last = s;
  }
  if (last && !endsLine(text, last.endIndex)) return undefined;
  const nl = lineBreakOf(text);
  const indent = indentOfLine(text, stmt.startIndex);
  const unit = indentUnit(text, root);
  const lineEnd = text.indexOf('\n', stmt.endIndex);
  const tail = text.slice(stmt.endIndex, lineEnd === -1 ? text.length : lineEnd).replace(/\r$/, '');
  // A connection whose `with` only ends a transaction is wrapped in contextlib.closing().
  const extra: OffsetEdit[] = [];
  let managed = call.text;
  if (factory.withKeepsOpen) {
    const spelling = closingSpelling(context);
    if (!spelling.name) extra.push(addImportEdit(root, text, 'from contextlib import closing'));
    managed = `${spelling.name ?? 'closing'}(${call.text})`;
  }
  const header = `${indent}${keyword} ${managed} as ${name}:${tail}`;
  const regionStart = nextLineStart(text, stmt.endIndex);
  const regionEnd = last ? nextLineStart(text, last.endIndex) : regionStart;
  // Explicit releases that are whole statements of the block go away.
  const removed: Array<[number, number]> = [];
  for (const use of uses) {
    if (use.kind !== 'release-call') continue;
    const s = statementOf(use.node);
    const isBare = s.type === 'expression_statement' && s.namedChild(0)?.type === 'call' && s.namedChild(0)!.equals(use.node.parent!.parent!);
    if (isBare && s.parent?.equals(block) && startsLine(text, s.startIndex) && endsLine(text, s.endIndex)) {
      removed.push([lineStartOf(text, s.startIndex), nextLineStart(text, s.endIndex)]);
    }
  }
  let body = '';
  let cursor = regionStart;
  for (const [from, to] of removed.sort((a, b) => a[0] - b[0])) {
    body += indentRegion(text, root, cursor, from, unit);
    cursor = to;
  }
  body += indentRegion(text, root, cursor, regionEnd, unit);
  if (!/\S/.test(body.replace(/#.*$/gm, ''))) body += `${indent}${unit}pass${nl}`;
  return {
    title: `Wrap \`${name}\` in \`${keyword}\``,
    safety: 'safe',
    edits: [{ start: lineStartOf(text, stmt.startIndex), end: regionEnd, text: header + nl + body }, ...extra],
  };
}

export const rule: Rule = {
  code: 'LL101',
  name: 'unclosed-resource',
  category: 'resources',
  defaultSeverity: 'warning',
  query: `(assignment left: (identifier) @name right: (call) @call) @assign`,
  check(context: RuleContext, matches: QueryMatch[]) {
    for (const match of matches) {
      const assign = match.captures.find((c) => c.name === 'assign')!.node;
      const nameNode = match.captures.find((c) => c.name === 'name')!.node;
      const call = match.captures.find((c) => c.name === 'call')!.node;
      const stmt = assign.parent;
      if (stmt?.type !== 'expression_statement') continue;
      const factory = factoryOf(call, context);
      if (!factory) continue;
      const scope = enclosingScope(assign);
      if (!scope || scope.type === 'class_definition' || scope.type === 'lambda') continue;
      if (scope.type === 'module' && factory.pool) continue;
      if (isContextManagerFunction(scope, context)) continue;
      const name = nameNode.text;
      const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
      if (!body) continue;
      if (declaredNonLocal(body, scope, name)) continue;

      // Occurrences of the name after the allocation, up to an unconditional re-binding.
      const uses: Use[] = [];
      let rebinding: Node | undefined;
      let escaped = false;
      for (const id of body.descendantsOfType('identifier')) {
        if (id.text !== name || id.startIndex <= assign.endIndex) continue;
        const idScope = enclosingScope(id);
        if (!idScope?.equals(scope)) {
          // A nested function or lambda sees the name: it is shared beyond this scope.
          if (idScope && (idScope.type === 'function_definition' || idScope.type === 'lambda')) {
            escaped = true;
            break;
          }
          continue;
        }
        const parent = id.parent!;
        const isTarget =
          (parent.type === 'assignment' && parent.childForFieldName('left')?.equals(id)) ||
          (parent.type === 'for_statement' && parent.childForFieldName('left')?.equals(id)) ||
          parent.type === 'as_pattern_target';
        if (isTarget) {
          const targetStmt = statementOf(id);
          if (blockChainContains(stmt, targetStmt, scope) && !loopBetween(assign, targetStmt, scope)) {
            rebinding = targetStmt;
            break;
          }
          continue;
        }
        const kind = classify(id, factory, scope, context);
        if (kind === 'escape') {
          escaped = true;
          break;
        }
        uses.push({ node: id, kind });
      }
      if (escaped || uses.some((u) => u.kind === 'released')) continue;

      const releases = uses.filter((u) => u.kind === 'release-call').map((u) => u.node.parent!.parent!);
      const covering = releases.filter((r) => covers(r, assign, body) && !loopBetween(assign, r, body));
      const callText = `${call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      const related: RelatedLocation[] = [];
      let message: string | undefined;
      if (rebinding && !covering.some((r) => r.startIndex < rebinding!.startIndex)) {
        message = `\`${name}\` is re-bound on line ${lineNo(context, rebinding.startIndex)} before the \`${callText}\` result it holds is released`;
        related.push({ start: rebinding.startIndex, end: rebinding.endIndex, message: `\`${name}\` is re-bound here` });
      } else if (releases.length === 0) {
        message = `\`${callText}\` result bound to \`${name}\` is never released; use \`with\` so it is closed promptly`;
      } else if (covering.length === 0) {
        const loop = releases.map((r) => loopBetween(assign, r, body)).find(Boolean);
        message = loop
          ? `\`${name}\` is re-bound on every iteration of the loop on line ${lineNo(context, loop.startIndex)}; only the last \`${callText}\` result is released`
          : `\`${callText}\` result bound to \`${name}\` is not released on every path (only conditionally); use \`with\``;
        for (const r of releases) related.push({ start: r.startIndex, end: r.endIndex, message: 'released only here' });
      } else {
        const early = firstReturnBetween(scope, assign.endIndex, Math.min(...covering.map((r) => r.startIndex)));
        if (!early) continue; // released on every normal path (LL102 judges the exceptional ones)
        message = `\`${callText}\` result bound to \`${name}\` is not released when the function returns on line ${lineNo(context, early.startIndex)}; use \`with\``;
        related.push({ start: early.startIndex, end: early.endIndex, message: 'returns without releasing' });
      }
      const fixUses = rebinding ? uses.filter((u) => u.node.startIndex < rebinding!.startIndex) : uses;
      const fix = wrapFix(stmt, name, call, fixUses, factory, scope, context);
      context.report({ node: call, message, related, fixes: fix ? [fix] : [] });
    }
  },
  docs: {
    summary: 'A file, socket, connection, process or pool bound to a name and not released on some path.',
    whatItDoes:
      'Flags a resource-factory call (`open`, `socket.socket`, `sqlite3.connect`, `subprocess.Popen`, … and the `resource-factories` option) whose result is bound to a local or module name and is never released on some path of its scope. Each allocation is tracked, not each name: re-binding the name before the release leaks the first resource. A resource that escapes (returned, yielded, stored in an attribute or container, passed to a call that may keep it) is not flagged here, nor one used in `with`, released in `finally`, handed to `contextlib.closing`, `ExitStack.enter_context`/`callback`, `atexit.register` or `weakref.finalize`, nor code inside `__enter__`/`__aenter__` or a `@contextmanager` function, nor module-level executors and pools that live for the process.',
    whyLeak:
      'An unreleased resource holds an operating-system handle (a file descriptor, a socket, a child process, worker threads) and its buffers until the garbage collector happens to finalise the object. CPython does that when the last reference goes, but only if nothing else still refers to it; PyPy and other implementations do it much later; a reference cycle or a traceback keeps it alive indefinitely. Under load this exhausts file descriptors and memory, and `python -X dev` reports it as `ResourceWarning: unclosed file`.',
    example: 'def first_line(path):\n    f = open(path)\n    line = f.readline()\n    return line\n',
    useInstead: 'def first_line(path):\n    with open(path) as f:\n        line = f.readline()\n    return line\n',
    fixSafety:
      'The fix is safe: the assignment becomes `with <call> as name:` (`async with` for resources that only support it) and the statements that use the resource move into the block; an explicit `name.close()` statement there is removed. The resource is then released at the end of the block instead of whenever the garbage collector gets to it. The fix is offered only when every use of the resource lies in later statements of the same block.',
    options: '`resource-factories`: extra dotted names (for example `mylib.connect`) whose results must be released.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#the-with-statement',
      'https://docs.python.org/3/library/devmode.html#resourcewarning-example',
    ],
  },
};
