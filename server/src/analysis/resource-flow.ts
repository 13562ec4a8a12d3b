// The flow of a resource bound to a local or module name (shared by LL101 and LL102): where it
// is used, released, re-bound or handed over after `name = factory(...)`, whether a release
// runs on every normal path, and the "wrap it in `with`" fix.
import type { Node } from 'web-tree-sitter';
import {
  CALLBACK_REGISTRARS,
  factoryCallCandidates,
  factoryOf,
  FactoryInfo,
  NON_OWNING_CALLS,
  OWNERSHIP_TAKERS,
  TAKER_METHODS,
} from './resources';
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
  probeContext,
  startsLine,
} from './syntax';
import { addImportEdit } from './imports';
import type { Fix, OffsetEdit, RuleContext } from './types';

export { probeContext };

export type UseKind = 'neutral' | 'escape' | 'released' | 'release-call';

export interface Use {
  node: Node;
  kind: UseKind;
}

const CONTAINERS = new Set(['tuple', 'list', 'set', 'dictionary', 'pair', 'parenthesized_expression', 'expression_list']);
/** Blocks that always run on the normal path once their statement is reached. */
const ALWAYS_RUN = new Set(['try_statement', 'with_statement', 'else_clause', 'finally_clause']);
const LOOPS = new Set(['for_statement', 'while_statement']);

/** The query that finds `name = call(...)` candidates. */
/**
 * No pattern of their own for LL101/LL102: the allocations are found from factory names in the
 * text (`allocationCandidates`), far fewer than the file's `name = call(…)` assignments.
 * `(module) @module` is LL303's pattern too, so it costs the engine nothing.
 */
export const ALLOCATION_QUERY = '(module) @module';

/** `name = factory(…)`: the statement's assignment, the bound name and the call. */
export interface AllocationSite {
  assign: Node;
  name: Node;
  call: Node;
}

export function allocationCandidates(context: RuleContext): AllocationSite[] {
  const sites: AllocationSite[] = [];
  for (const call of factoryCallCandidates(context)) {
    const assign = call.parent;
    if (assign?.type !== 'assignment' || !assign.childForFieldName('right')?.equals(call)) continue;
    const name = assign.childForFieldName('left');
    if (name?.type === 'identifier') sites.push({ assign, name, call });
  }
  return sites;
}

export function isContextManagerFunction(scope: Node, context: RuleContext): boolean {
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
export function childOfBlock(node: Node, block: Node): Node | undefined {
  for (let n: Node | null = node; n; n = n.parent) if (n.parent?.equals(block)) return n;
  return undefined;
}

/** The statement (a direct child of a block or module) that contains node. */
export function statementOf(node: Node): Node {
  let n = node;
  while (n.parent && n.parent.type !== 'block' && n.parent.type !== 'module') n = n.parent;
  return n;
}

export function calleeName(call: Node, context: RuleContext): { qualified?: string; method?: string } {
  const fn = call.childForFieldName('function');
  if (!fn) return {};
  return {
    qualified: context.qualifiedName(fn),
    method: fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text : undefined,
  };
}

const HTTP_CONNECTING = new Set(['connect', 'request', 'putrequest', 'send', 'endheaders']);

/**
 * Objects that hold no socket until a method opens one: `smtplib.SMTP()` and `ftplib.FTP()`
 * made without a host (until `connect()`), and `http.client` connections, which connect on the
 * first request. Returns the test for the methods that open it, or undefined for other calls.
 */
export function opensLater(call: Node, factory: FactoryInfo): ((method: string) => boolean) | undefined {
  if (factory.name === 'http.client.HTTPConnection' || factory.name === 'http.client.HTTPSConnection') return (m) => HTTP_CONNECTING.has(m);
  if (factory.name !== 'smtplib.SMTP' && factory.name !== 'ftplib.FTP') return undefined;
  const args = call.childForFieldName('arguments')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
  if (args.some((a) => a?.type !== 'keyword_argument' || a.childForFieldName('name')?.text === 'host')) return undefined;
  return (m) => m === 'connect';
}

/** The method called on this use of a name (`x.m(…)` → `m`). */
function calledMethod(id: Node): string | undefined {
  const attr = id.parent;
  if (attr?.type !== 'attribute' || !attr.childForFieldName('object')?.equals(id)) return undefined;
  const call = attr.parent;
  return call?.type === 'call' && call.childForFieldName('function')?.equals(attr) ? attr.childForFieldName('attribute')?.text : undefined;
}

/**
 * Is `call` the whole test of `while <call> is None:` with no `break` out of that loop? The loop
 * then ends only once the process has been reaped, as `wait()` would.
 */
function pollLoopCondition(call: Node): boolean {
  let cond = call.parent;
  while (cond?.type === 'parenthesized_expression') cond = cond.parent;
  if (cond?.type !== 'comparison_operator' || !cond.namedChild(0)?.equals(call.parent?.type === 'parenthesized_expression' ? call.parent : call)) return false;
  const ops = cond.children.filter((c) => c && !c.isNamed).map((c) => c!.text);
  if (ops.join(' ') !== 'is' || cond.namedChild(1)?.type !== 'none') return false;
  let loop = cond.parent;
  while (loop?.type === 'parenthesized_expression') loop = loop.parent;
  if (loop?.type !== 'while_statement') return false;
  for (const b of loop.childForFieldName('body')?.descendantsOfType('break_statement') ?? []) {
    let owner = b?.parent;
    while (owner && owner.type !== 'while_statement' && owner.type !== 'for_statement' && owner.type !== 'function_definition') owner = owner.parent;
    if (owner?.equals(loop)) return false;
  }
  return true;
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
      // `while p.poll() is None:` ends only once the process is reaped, as `wait()` would.
      const pollLoop = attr === 'poll' && factory.name === 'subprocess.Popen' && pollLoopCondition(holder);
      if (!factory.release.includes(attr) && !pollLoop) return 'neutral';
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
function covers(release: Node, alloc: Node, scope: Node, name: string): boolean {
  if (release.startIndex < alloc.endIndex) return false;
  for (let n: Node | null = release.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'block' || n.type === 'module') {
      if (alloc.startIndex >= n.startIndex && alloc.endIndex <= n.endIndex) return true;
      const owner = n.parent;
      if (!owner) return false;
      // The `else` of an `if` is a branch; that of a `try`, `for` or `while` runs on the normal path.
      if (owner.type === 'else_clause' && owner.parent?.type === 'if_statement') return false;
      if (owner.type === 'if_statement' && owner.childForFieldName('consequence')?.equals(n) && testsItself(owner.childForFieldName('condition'), name)) continue;
      const always = ALWAYS_RUN.has(owner.type) && !(owner.type === 'try_statement' && !owner.childForFieldName('body')?.equals(n));
      if (!always) return false;
    }
  }
  return alloc.startIndex >= scope.startIndex;
}

/**
 * `if f:`, `if f is not None:`, `if g is not sys.stdout.buffer:` — true whenever the name holds
 * the resource just allocated (a file, socket or process object is truthy and is no other object).
 */
function testsItself(condition: Node | null, name: string): boolean {
  let c = condition;
  while (c?.type === 'parenthesized_expression') c = c.namedChild(0);
  if (!c) return false;
  if (c.type === 'identifier') return c.text === name;
  if (c.type !== 'comparison_operator' || c.namedChildCount !== 2 || c.namedChild(0)?.text !== name) return false;
  const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text);
  return ops.join(' ') === 'is not' || (ops.join(' ') === '!=' && c.namedChild(1)?.type === 'none');
}

/** A loop around the allocation that does not also hold `node`. */
export function loopBetween(alloc: Node, node: Node, scope: Node): Node | undefined {
  for (let n = alloc.parent; n && !n.equals(scope); n = n.parent) {
    if (LOOPS.has(n.type) && !(node.startIndex >= n.startIndex && node.endIndex <= n.endIndex)) return n;
  }
  return undefined;
}

export function firstReturnBetween(scope: Node, from: number, to: number): Node | undefined {
  for (const r of scope.descendantsOfType('return_statement')) {
    if (r.startIndex > from && r.startIndex < to && enclosingScope(r)?.equals(scope)) return r;
  }
  return undefined;
}

/** Inside `if not name:` / `if name is None:` for the name the allocation binds. */
function underFalsyTest(node: Node, alloc: Node, scope: Node): boolean {
  const name = alloc.childForFieldName('left')?.text;
  if (!name) return false;
  for (let n: Node = node, p = node.parent; p && !p.equals(scope); n = p, p = p.parent) {
    if (p.type !== 'if_statement' || !p.childForFieldName('consequence')?.equals(n)) continue;
    let c = p.childForFieldName('condition');
    while (c?.type === 'parenthesized_expression') c = c.namedChild(0);
    if (c?.type === 'not_operator' && c.childForFieldName('argument')?.text === name) return true;
    if (c?.type === 'comparison_operator' && c.namedChild(0)?.text === name && c.namedChild(1)?.type === 'none') {
      const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text).join(' ');
      if (ops === 'is' || ops === '==') return true;
    }
  }
  return false;
}

function inExceptClause(node: Node, scope: Node): boolean {
  for (let n = node.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'except_clause' || n.type === 'except_group_clause') return true;
    if (n.type === 'function_definition' || n.type === 'lambda') return false;
  }
  return false;
}

/**
 * The first statement in (from, to) that leaves the path from the allocation to its release: a
 * `return` of the scope, or a `break`/`continue` of a loop that holds the allocation (one of a
 * loop nested between the two only leaves that loop, and the release still runs).
 */
export function firstExitBetween(scope: Node, alloc: Node, from: number, to: number): Node | undefined {
  for (const r of scope.descendantsOfType(['return_statement', 'break_statement', 'continue_statement'])) {
    if (r.startIndex <= from || r.startIndex >= to) continue;
    // An `except` clause runs only when something raised: that path is LL102's, not a normal one.
    if (inExceptClause(r, scope)) continue;
    // `if not proc: return None` right after `proc = Popen(…)`: a fresh resource is never falsy.
    if (underFalsyTest(r, alloc, scope)) continue;
    if (r.type === 'return_statement') {
      if (enclosingScope(r)?.equals(scope)) return r;
      continue;
    }
    let loop: Node | null = r.parent;
    while (loop && !LOOPS.has(loop.type) && loop.type !== 'function_definition' && loop.type !== 'class_definition' && !loop.equals(scope)) loop = loop.parent;
    if (loop && LOOPS.has(loop.type) && alloc.startIndex >= loop.startIndex && alloc.endIndex <= loop.endIndex) return r;
  }
  return undefined;
}

/** The line of `offset`, for a message (the engine writes the number: see RuleContext.lineRef). */
export function lineNo(context: RuleContext, offset: number): string {
  return context.lineRef(offset);
}

/** How this file can already say contextlib.closing, if it can. */
function closingSpelling(context: RuleContext): { name?: string } {
  for (const id of context.root.descendantsOfType('identifier')) {
    if (id.text === 'closing' && context.qualifiedName(id) === 'contextlib.closing' && id.parent?.type !== 'attribute') return { name: 'closing' };
  }
  return {};
}

/** The file's indentation step (`indentUnit` computes it once per analysed tree). */
export function unitOf(context: RuleContext): string {
  return indentUnit(context.text, context.root);
}

/**
 * `indentRegion` for [start, end), a run of whole lines of statements: the same text, looking
 * for multi-line strings only in the statement or block that holds the region, not the file.
 */
export function indentLines(context: RuleContext, start: number, end: number, prefix: string): string {
  if (start >= end) return '';
  let cover: Node = context.root.descendantForIndex(start, end - 1) ?? context.root;
  while (cover.parent && cover.type !== 'block' && cover.type !== 'module' && cover.parent.type !== 'block' && cover.parent.type !== 'module') {
    cover = cover.parent;
  }
  return indentRegion(context.text, cover, start, end, prefix);
}

/** `with <managed> as <name>:` for a factory call: `closing(...)` where `with` alone keeps it open. */
export function managedExpression(call: Node, factory: FactoryInfo, context: RuleContext): { text: string; edits: OffsetEdit[] } {
  if (!factory.withKeepsOpen) return { text: call.text, edits: [] };
  const spelling = closingSpelling(context);
  const edits = spelling.name ? [] : [addImportEdit(context.root, context.text, 'from contextlib import closing')];
  return { text: `${spelling.name ?? 'closing'}(${call.text})`, edits };
}

/**
 * `x = factory(...)` … → `with factory(...) as x:` holding the statements that use x. Explicit
 * releases that are whole statements of the block are removed when `removable` allows it.
 */
export function wrapFix(
  stmt: Node,
  name: string,
  call: Node,
  uses: Use[],
  factory: FactoryInfo,
  scope: Node,
  context: RuleContext,
  removable: (release: Node) => boolean = () => true,
): Fix | undefined {
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
  const unit = unitOf(context);
  const lineEnd = text.indexOf('\n', stmt.endIndex);
  const tail = text.slice(stmt.endIndex, lineEnd === -1 ? text.length : lineEnd).replace(/\r$/, '');
  // A connection whose `with` only ends a transaction is wrapped in contextlib.closing().
  const managed = managedExpression(call, factory, context);
  const header = `${indent}${keyword} ${managed.text} as ${name}:${tail}`;
  const regionStart = nextLineStart(text, stmt.endIndex);
  const regionEnd = last ? nextLineStart(text, last.endIndex) : regionStart;
  // Explicit releases that are whole statements of the block go away.
  const removed: Array<[number, number]> = [];
  for (const use of uses) {
    if (use.kind !== 'release-call') continue;
    const s = statementOf(use.node);
    const releaseCall = use.node.parent!.parent!;
    const isBare = s.type === 'expression_statement' && s.namedChild(0)?.type === 'call' && s.namedChild(0)!.equals(releaseCall);
    if (isBare && s.parent?.equals(block) && startsLine(text, s.startIndex) && endsLine(text, s.endIndex) && removable(releaseCall)) {
      removed.push([lineStartOf(text, s.startIndex), nextLineStart(text, s.endIndex)]);
    }
  }
  let body = '';
  let cursor = regionStart;
  for (const [from, to] of removed.sort((a, b) => a[0] - b[0])) {
    body += indentLines(context, cursor, from, unit);
    cursor = to;
  }
  body += indentLines(context, cursor, regionEnd, unit);
  if (!/\S/.test(body.replace(/#.*$/gm, ''))) body += `${indent}${unit}pass${nl}`;
  return {
    title: `Wrap \`${name}\` in \`${keyword}\``,
    safety: 'safe',
    edits: [{ start: lineStartOf(text, stmt.startIndex), end: regionEnd, text: header + nl + body }, ...managed.edits],
  };
}

/** A tracked `name = factory(...)` allocation that neither escapes nor is released by `with`/`finally`/a taker. */
export interface Allocation {
  assign: Node;
  /** The expression statement holding the assignment. */
  stmt: Node;
  call: Node;
  factory: FactoryInfo;
  /** The def or module the allocation lives in, and its body. */
  scope: Node;
  body: Node;
  name: string;
  /** Occurrences of the name after the allocation, up to an unconditional re-binding. */
  uses: Use[];
  rebinding?: Node;
  /** Explicit release calls (`name.close()` …), and those that run on every normal path. */
  releases: Node[];
  covering: Node[];
}

/**
 * Follows the allocation at one site; undefined when it is no resource, lives
 * where it is not tracked (class bodies, lambdas, context-manager code, process-wide pools,
 * global names), escapes, or is released by `with`, `finally` or a taker.
 */
export function trackAllocation(site: AllocationSite, context: RuleContext): Allocation | undefined {
  const assign = site.assign;
  // LL101 and LL102 follow the same allocations in the same analysis: the second asks the first's answer.
  let cache = ANALYSED.get(context.root);
  if (!cache || cache.text !== context.text) ANALYSED.set(context.root, (cache = { text: context.text, results: new Map() }));
  const known = cache.results.get(assign.startIndex);
  if (known !== undefined) return known ?? undefined;
  const result = followAllocation(site, assign, context);
  cache.results.set(assign.startIndex, result ?? null);
  return result;
}

/**
 * Results of trackAllocation for one analysis, keyed by its root node (a new object for every
 * analysis, so an entry never outlives the analysis that made it).
 */
const ANALYSED = new WeakMap<Node, { text: string; results: Map<number, Allocation | null> }>();

function followAllocation(site: AllocationSite, assign: Node, context: RuleContext): Allocation | undefined {
  const nameNode = site.name;
  const call = site.call;
  const stmt = assign.parent;
  if (stmt?.type !== 'expression_statement') return undefined;
  const factory = factoryOf(call, context);
  if (!factory || shadowedFactory(call, context)) return undefined;
  const scope = enclosingScope(assign);
  if (!scope || scope.type === 'class_definition' || scope.type === 'lambda') return undefined;
  if (scope.type === 'module' && factory.pool) return undefined;
  if (isContextManagerFunction(scope, context)) return undefined;
  const name = nameNode.text;
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return undefined;
  if (declaredNonLocal(body, scope, name)) return undefined;

  const uses: Use[] = [];
  let rebinding: Node | undefined;
  for (const id of body.descendantsOfType('identifier')) {
    if (id.text !== name || id.startIndex <= assign.endIndex) continue;
    const idScope = enclosingScope(id);
    if (!idScope?.equals(scope)) {
      // A nested function or lambda sees the name: it is shared beyond this scope.
      if (idScope && (idScope.type === 'function_definition' || idScope.type === 'lambda')) return undefined;
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
        // `c = wrap(c)`: the statement that rebinds the name first uses (hands over) the old object.
        if (parent.type === 'assignment') {
          for (const rid of parent.childForFieldName('right')?.descendantsOfType('identifier') ?? []) {
            if (rid?.text !== name || !enclosingScope(rid)?.equals(scope)) continue;
            const kind = classify(rid, factory, scope, context);
            if (kind === 'escape') return undefined;
            uses.push({ node: rid, kind });
          }
        }
        rebinding = targetStmt;
        break;
      }
      continue;
    }
    const kind = classify(id, factory, scope, context);
    if (kind === 'escape') return undefined;
    uses.push({ node: id, kind });
  }
  if (uses.some((u) => u.kind === 'released')) return undefined;
  const probe = probeContext(assign);
  // Under `mock.patch` the factory is usually the mock; a result never used, made inside
  // `assertRaises` or a `try` that handles errors, is a call expected to fail.
  if (probe.mock || ((probe.expectsError || probe.handled) && uses.length === 0)) return undefined;
  const opens = opensLater(call, factory);
  if (opens && !uses.some((u) => opens(calledMethod(u.node) ?? ''))) return undefined;
  const releases = uses.filter((u) => u.kind === 'release-call').map((u) => u.node.parent!.parent!);
  const covering = releases.filter((r) => covers(r, assign, body, name) && !loopBetween(assign, r, body));
  return { assign, stmt, call, factory, scope, body, name, uses, rebinding, releases, covering };
}

export type NormalPath =
  | { kind: 'rebound' }
  | { kind: 'never' }
  | { kind: 'conditional'; loop?: Node }
  /** `ret`: a `return`, or a `break`/`continue` that leaves the allocation's loop. */
  | { kind: 'early-return'; ret: Node }
  /** Released on every normal path (LL102 judges the exceptional ones). */
  | { kind: 'released' };

/** What happens to an allocation on the normal (exception-free) paths of its scope. */
export function normalPath(a: Allocation): NormalPath {
  if (a.rebinding && !a.covering.some((r) => r.startIndex < a.rebinding!.startIndex)) return { kind: 'rebound' };
  if (a.releases.length === 0) return { kind: 'never' };
  if (a.covering.length === 0) {
    return { kind: 'conditional', loop: a.releases.map((r) => loopBetween(a.assign, r, a.body)).find(Boolean) };
  }
  const early = firstExitBetween(a.scope, a.assign, a.assign.endIndex, Math.min(...a.covering.map((r) => r.startIndex)));
  return early ? { kind: 'early-return', ret: early } : { kind: 'released' };
}

/**
 * Whether `with <factory>(...)` releases the resource exactly as its explicit release does
 * (`close()` and nothing more), so the rewrite keeps behaviour. Not for objects without
 * `__enter__` (http.client connections), whose `__enter__` returns something else
 * (TemporaryDirectory gives its path), whose `__exit__` talks to a server (FTP, SMTP and IMAP4
 * send QUIT/LOGOUT) or commits (psycopg 3, PyMySQL), and processes, executors and pools,
 * whose `__exit__` waits for or kills the work.
 */
const WITH_NOT_JUST_CLOSE = new Set([
  'http.client.HTTPConnection', 'http.client.HTTPSConnection', 'ftplib.FTP', 'smtplib.SMTP', 'imaplib.IMAP4',
  'psycopg.connect', 'pymysql.connect', 'tempfile.TemporaryDirectory', 'subprocess.Popen',
]);
export function withIsClose(factory: FactoryInfo): boolean {
  return !factory.pool && !WITH_NOT_JUST_CLOSE.has(factory.name) && factory.release.includes('close');
}

/**
 * Is this explicit release call (`x.close()`, `ex.shutdown()`, `pool.terminate()`) exactly
 * what the factory's `__exit__` does, so the `with` fix may drop it? Never for processes.
 */
export function exitEquivalent(release: Node, factory: FactoryInfo): boolean {
  const method = release.childForFieldName('function')?.childForFieldName('attribute')?.text;
  const args = release.childForFieldName('arguments');
  const argTexts = (args?.namedChildren ?? []).filter((c): c is Node => !!c && c.type !== 'comment').map((c) => c.text.replace(/\s+/g, ''));
  if (factory.name === 'concurrent.futures.ThreadPoolExecutor' || factory.name === 'concurrent.futures.ProcessPoolExecutor') {
    return method === 'shutdown' && (argTexts.length === 0 || (argTexts.length === 1 && (argTexts[0] === 'True' || argTexts[0] === 'wait=True')));
  }
  if (argTexts.length > 0) return false;
  if (factory.pool) return method === 'terminate';
  // Popen's `__exit__` closes the pipes before it waits: a child still writing would get SIGPIPE.
  if (factory.name === 'subprocess.Popen') return false;
  return method === 'close';
}

/** Does a statement directly in `block` define or assign `name` (`def name`, `class name`, `name = …`)? */
function bindsName(block: Node, name: string): boolean {
  for (let stmt of block.namedChildren) {
    if (!stmt) continue;
    if (stmt.type === 'decorated_definition') stmt = stmt.childForFieldName('definition') ?? stmt;
    if ((stmt.type === 'function_definition' || stmt.type === 'class_definition') && stmt.childForFieldName('name')?.text === name) return true;
    if (stmt.type === 'expression_statement') {
      const assign = stmt.namedChild(0);
      if (assign?.type === 'assignment' && assign.childForFieldName('left')?.text === name) return true;
    }
  }
  return false;
}

/**
 * A factory spelled as a bare name that this file rebinds: `def open(url): …` at module level
 * (webbrowser.open), `open = …`, a class, or a parameter or local definition of an enclosing
 * function. Imported names are resolved by `qualifiedName` and never count as shadowed.
 */
export function shadowedFactory(call: Node, context: RuleContext): boolean {
  const fn = call.childForFieldName('function');
  if (fn?.type !== 'identifier') return false;
  const name = fn.text;
  if (context.qualifiedName(fn) !== name) return false;
  if (bindsName(context.root, name)) return true;
  for (let scope = enclosingScope(call); scope && scope.type !== 'module'; scope = enclosingScope(scope)) {
    if (scope.type !== 'function_definition' && scope.type !== 'lambda') continue;
    const params = scope.childForFieldName('parameters');
    for (const p of params?.namedChildren ?? []) {
      if (!p) continue;
      const id = p.type === 'identifier' ? p : (p.childForFieldName('name') ?? p.namedChild(0));
      if (id?.text === name) return true;
    }
    const body = scope.type === 'function_definition' ? scope.childForFieldName('body') : null;
    if (body && bindsName(body, name)) return true;
  }
  return false;
}
