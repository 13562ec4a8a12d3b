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
  NON_OWNING_WRAPPERS,
  OWNERSHIP_TAKERS,
  OWNING_WRAPPERS,
  TAKER_METHODS,
} from './resources';
import {
  decoratorsOf,
  decoratorTarget,
  endsLine,
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
import type { FlowDomain } from './semantic';
import { allRaising, callArguments, catchesAll, firstRaising, handlerTypes, isAssertion, rarelyRaises, type OpenedFile, type RaiseContext } from './semantic';
import type { Fix, OffsetEdit, RuleContext } from './types';

export { probeContext };

export type UseKind = 'neutral' | 'escape' | 'released' | 'release-call';

export interface Use {
  node: Node;
  kind: UseKind;
}

const CONTAINERS = new Set(['tuple', 'list', 'set', 'dictionary', 'pair', 'parenthesized_expression', 'expression_list']);
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
  // A FileInput opens its first file on the first read (or iteration, which runs to the end and closes).
  if (factory.iterationCloses) return (m) => m !== '' && m !== 'close';
  if (factory.name !== 'smtplib.SMTP' && factory.name !== 'ftplib.FTP') return undefined;
  const args = call.childForFieldName('arguments')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
  if (args.some((a) => a?.type !== 'keyword_argument' || a.childForFieldName('name')?.text === 'host')) return undefined;
  return (m) => m === 'connect';
}

/** `x.attr = …` for this use of x. */
function attributeStored(id: Node, attr: string): boolean {
  const a = id.parent;
  if (a?.type !== 'attribute' || !a.childForFieldName('object')?.equals(id) || a.childForFieldName('attribute')?.text !== attr) return false;
  return a.parent?.type === 'assignment' && !!a.parent.childForFieldName('left')?.equals(a);
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

/**
 * `if p.poll() is not None:` (or `!= None`): that branch runs only once the process has been
 * reaped, as `wait()` would; counted as the release on that test.
 */
function pollReapedTest(call: Node): boolean {
  let cond = call.parent;
  while (cond?.type === 'parenthesized_expression') cond = cond.parent;
  if (cond?.type !== 'comparison_operator' || cond.namedChild(1)?.type !== 'none') return false;
  const ops = cond.children.filter((c) => c && !c.isNamed).map((c) => c!.text).join(' ');
  if (ops !== 'is not' && ops !== '!=') return false;
  let holder = cond.parent;
  while (holder?.type === 'parenthesized_expression') holder = holder.parent;
  return (holder?.type === 'if_statement' || holder?.type === 'elif_clause') && !!holder.childForFieldName('condition');
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
      const pollLoop = attr === 'poll' && factory.name === 'subprocess.Popen' && (pollLoopCondition(holder) || pollReapedTest(holder));
      // A full `read()` of an HTTP response reads to the end and closes it.
      const fullRead = !!factory.fullReadCloses && attr === 'read' && isFullRead(holder);
      // `conn.getresponse()` hands the connection's socket to the response: kept if the response is.
      if (attr === 'getresponse' && factory.name.startsWith('http.client.')) return resultKept(holder, context) ? 'escape' : 'neutral';
      // `sock.makefile()` shares the descriptor, `ssl_sock.unwrap()` gives the socket back: kept if the result is.
      if (SHARING_METHODS.has(attr)) return resultKept(holder, context) ? 'escape' : 'neutral';
      if (!factory.release.includes(attr) && !pollLoop && !fullRead) return 'neutral';
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
    if ((qualified && (OWNERSHIP_TAKERS.has(qualified) || OWNING_WRAPPERS.has(qualified))) || (method && TAKER_METHODS.has(method))) return 'released';
    if (qualified && (NON_OWNING_CALLS.has(qualified) || NON_OWNING_WRAPPERS.has(qualified))) return 'neutral';
    // `list(inp)`, `sorted(inp)` read a FileInput to its end, which closes it.
    if (factory.iterationCloses && qualified && EXHAUSTING_CALLS.has(qualified) && arg === id) return 'released';
    const local = localCallFate(call, arg, context);
    if (local === 'released') return inside(call, 'finally_clause', scope) ? 'released' : 'release-call';
    return local ?? 'escape';
  }
  // `for line in inp:` with no way out of the loop but its end closes a FileInput.
  if (factory.iterationCloses && parent.type === 'for_statement' && parent.childForFieldName('right')?.equals(id) && !loopBreaks(parent)) return 'released';
  if (parent.type === 'assignment' && parent.childForFieldName('right')?.equals(id)) return 'escape';
  // `lambda _, b=buf: use(b)`: the function object keeps the default, wherever it goes.
  if ((parent.type === 'default_parameter' || parent.type === 'typed_default_parameter') && parent.childForFieldName('value')?.equals(id)) return 'escape';
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

const EXHAUSTING_CALLS = new Set(['list', 'tuple', 'sorted', 'set', 'frozenset']);
/** Methods whose result holds the resource's descriptor too. */
const SHARING_METHODS = new Set(['makefile', 'unwrap', 'dup']);

/** `r.read()` / `r.read(-1)` / `r.read(None)`: everything to the end. */
export function isFullRead(call: Node): boolean {
  const args = (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  if (args.length === 0) return true;
  if (args.length !== 1) return false;
  const a = args[0].type === 'keyword_argument' && args[0].childForFieldName('name')?.text === 'amt' ? args[0].childForFieldName('value') : args[0];
  return !!a && (a.type === 'none' || a.text.replace(/\s+/g, '') === '-1');
}

/** Does a loop have a `break`, `return` or `raise` of its own that leaves it before its end? */
export function loopBreaks(loop: Node): boolean {
  const body = loop.childForFieldName('body');
  if (!body) return false;
  const walk = (n: Node): boolean => {
    for (const c of n.namedChildren) {
      if (!c || c.type === 'function_definition' || c.type === 'class_definition' || c.type === 'lambda') continue;
      if (c.type === 'return_statement' || c.type === 'raise_statement') return true;
      if (c.type === 'break_statement') return true;
      if (c.type === 'for_statement' || c.type === 'while_statement') {
        // A break of a nested loop leaves only that loop.
        if (c.descendantsOfType(['return_statement', 'raise_statement']).length > 0) return true;
        continue;
      }
      if (walk(c)) return true;
    }
    return false;
  };
  return walk(body);
}

/**
 * Is the value of `expr` kept past its statement: returned, yielded, stored in an attribute, a
 * subscript or a container, passed to a call, or bound to a name that is?
 */
function resultKept(expr: Node, context: RuleContext, depth = 0): boolean {
  let n = expr;
  while (n.parent?.type === 'parenthesized_expression') n = n.parent;
  const parent = n.parent;
  if (!parent) return false;
  if (parent.type === 'expression_statement') return false;
  if (parent.type === 'return_statement' || parent.type === 'yield' || parent.type === 'argument_list' || parent.type === 'keyword_argument') return true;
  if (CONTAINERS.has(parent.type)) return true;
  if (parent.type === 'assignment' && parent.childForFieldName('right')?.equals(n)) {
    const left = parent.childForFieldName('left');
    if (left?.type !== 'identifier' || depth > 3) return true;
    const scope = context.semantic.scopeOf(left);
    if (scope.globals.has(left.text) || scope.nonlocals.has(left.text) || context.semantic.scopes.capturedInside(scope, left.text)) return true;
    if (scope.kind === 'module') return true;
    for (const ref of scope.references.get(left.text) ?? []) {
      if (ref.startIndex <= left.endIndex) continue;
      const p = ref.parent;
      // Reading an attribute or calling a method of it uses it; anything else may keep it.
      if (p?.type === 'attribute' && p.childForFieldName('object')?.equals(ref)) continue;
      if (resultKept(ref, context, depth + 1)) return true;
    }
    return false;
  }
  return false;
}

/** Methods a class releases its resources in. */
const RELEASING_METHODS = new Set(['close', 'aclose', '__exit__', '__aexit__', '__del__', 'shutdown', 'release', 'cleanup', 'terminate', 'stop', 'dispose']);

/**
 * What passing the resource to a function or class of this file does with it, when the file
 * shows it: a function that releases its parameter releases it; one that only uses it leaves it
 * with the caller; a class that stores it but has no method that could release anything leaves
 * it with the caller too, as long as the wrapping object is dropped here. Undefined: unknown.
 */
function localCallFate(call: Node, arg: Node, context: RuleContext): UseKind | undefined {
  const list = call.childForFieldName('arguments');
  if (!list || arg.type === 'keyword_argument') return undefined;
  const args = list.namedChildren.filter((a): a is Node => !!a && a.type !== 'comment');
  const index = args.findIndex((a) => a.equals(arg));
  if (index < 0 || args.slice(0, index).some((a) => a.type === 'list_splat' || a.type === 'dictionary_splat' || a.type === 'keyword_argument')) return undefined;
  const fn = call.childForFieldName('function');
  if (fn?.type === 'identifier') {
    const bindings = context.semantic.resolve(fn);
    if (bindings.length === 1 && bindings[0].kind === 'class') {
      const cls = bindings[0].node.parent;
      if (cls?.type !== 'class_definition' || cls.childForFieldName('superclasses')) return undefined;
      const model = context.semantic.classModel(cls);
      if ([...model.methods.keys()].some((m) => RELEASING_METHODS.has(m))) return undefined;
      const init = model.methods.get('__init__');
      if (!init || init.kind !== 'instance') return undefined;
      const fate = context.semantic.parameterFates(init.node)[index + 1];
      if (fate === 'released') return 'released';
      return resultKept(call, context) ? undefined : 'neutral';
    }
  }
  const def = context.semantic.calleeDefinition(call);
  if (!def) return undefined;
  const method = context.semantic.method(def);
  const offset = method && method.kind !== 'static' && fn?.type === 'attribute' ? 1 : 0;
  if (method && method.kind === 'static' && fn?.type === 'attribute') return undefined;
  const fate = context.semantic.parameterFates(def)[index + offset];
  if (fate === 'released') return 'released';
  // A method reached through `self` may be overridden by a subclass (a base class's stub that
  // raises NotImplementedError uses nothing): only a plain function's "only uses it" is trusted.
  if (fate === 'used' && !method && !isStub(def)) return 'neutral';
  return undefined;
}

/** A body that is only a docstring, `pass`, `...` or `raise NotImplementedError`. */
function isStub(def: Node): boolean {
  const body = def.childForFieldName('body');
  const stmts = (body?.namedChildren ?? []).filter((c): c is Node => !!c && c.type !== 'comment');
  return stmts.every((st) => {
    if (st.type === 'pass_statement') return true;
    if (st.type === 'expression_statement') {
      const e = st.namedChild(0);
      return e?.type === 'string' || e?.type === 'ellipsis';
    }
    return st.type === 'raise_statement' && /NotImplemented/.test(st.text);
  });
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

/** A loop around the allocation that does not also hold `node`. */
export function loopBetween(alloc: Node, node: Node, scope: Node): Node | undefined {
  for (let n = alloc.parent; n && !n.equals(scope); n = n.parent) {
    if (LOOPS.has(n.type) && !(node.startIndex >= n.startIndex && node.endIndex <= n.endIndex)) return n;
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
  // `h = Holder(f)`, `g = GzipFile(fileobj=f)`: h and g need f open for as long as they are used,
  // which the block cannot see; no fix then.
  if (uses.some((u) => u.kind === 'neutral' && lentToBoundObject(u.node, context))) return undefined;
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
  // A temporary file or folder is deleted when the block ends: its `name` kept in a variable that
  // is used after the block would then name nothing (`path = tf.name` … `run(path)`).
  if (DELETED_ON_CLOSE.has(factory.name) && nameOutlivesBlock(name, block, regionStart, regionEnd, context)) return undefined;
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

/** Is this use an argument to an object that keeps it without owning it, bound to a name? */
function lentToBoundObject(id: Node, context: RuleContext): boolean {
  const arg = id.parent?.type === 'keyword_argument' ? id.parent : id;
  if (arg.parent?.type !== 'argument_list') return false;
  const call = arg.parent.parent!;
  const { qualified } = calleeName(call, context);
  const fn = call.childForFieldName('function');
  const localClass = fn?.type === 'identifier' && context.semantic.resolve(fn).some((b) => b.kind === 'class');
  if (!localClass && !(qualified && NON_OWNING_WRAPPERS.has(qualified))) return false;
  let n: Node = call;
  while (n.parent?.type === 'parenthesized_expression') n = n.parent;
  return n.parent?.type === 'assignment' && !!n.parent.childForFieldName('right')?.equals(n);
}

/** Factories whose release deletes what their `name` points to. */
const DELETED_ON_CLOSE = new Set(['tempfile.NamedTemporaryFile', 'tempfile.TemporaryDirectory']);

/** Does a variable bound in [start, end) from `<resource>.name` get read after `end` in the scope? */
function nameOutlivesBlock(res: string, block: Node, start: number, end: number, context: RuleContext): boolean {
  for (const a of block.descendantsOfType('assignment')) {
    if (!a || a.startIndex < start || a.endIndex > end) continue;
    const left = a.childForFieldName('left');
    const right = a.childForFieldName('right');
    if (left?.type !== 'identifier' || !right) continue;
    const isName = (x: Node | null) => x?.type === 'attribute' && x.childForFieldName('object')?.text === res && x.childForFieldName('attribute')?.text === 'name';
    const mentions = isName(right) || right.descendantsOfType('attribute').some(isName);
    if (!mentions) continue;
    const scope = context.semantic.scopeOf(left);
    if ((scope.references.get(left.text) ?? []).some((r) => r.startIndex >= end)) return true;
  }
  return false;
}

/** A tracked `name = factory(...)` allocation, and what happens to it on every path of its scope. */
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
  /** Occurrences of the name after the allocation, up to an unconditional re-binding (for the `with` fix). */
  uses: Use[];
  rebinding?: Node;
  /** Explicit release calls (`name.close()` …) anywhere in the scope after the allocation. */
  releases: Node[];
  /** Where the resource is handed over (returned, stored, passed on), anywhere after the allocation. */
  escapes: Node[];
  verdict: Verdict;
  /**
   * For an `exceptional` verdict: every raise that leaves the resource owned is one that
   * practically does not happen (`rarelyRaises`: a set-up call on the resource with constants, a
   * loopback bind, another `open`, …) — the evidence of a finding is then incomplete.
   */
  rareRaisesOnly: boolean;
  /**
   * For an `exceptional` verdict: every raise that leaves the resource owned is caught by handlers
   * that all end the process (`sys.exit()`, `fail_json()`) — only a failure inside such a handler,
   * before it exits, gets out with the resource.
   */
  failureEndsProcess: boolean;
}

export type Verdict =
  /** Re-bound before it was released. */
  | { kind: 'rebound'; at: Node }
  | { kind: 'never' }
  /** Released on some paths only; `loop`: the allocation runs again before the release. */
  | { kind: 'conditional'; loop?: Node }
  /** `ret`: a `return`, or a `break`/`continue`, after which nothing releases it. */
  | { kind: 'early-return'; ret: Node }
  /** Released or handed over on every normal path, but not when `raising` raises. */
  | { kind: 'exceptional'; raising: Node; release?: Node; escape?: Node; handler?: Node }
  | { kind: 'released' };

/** Per-path state of one allocation: not (or no longer) owned by the name, or owned. */
interface Owned {
  owned: boolean;
  /** The first statement that raised while the name owned the resource (the path went through a handler). */
  raisedAt?: Node;
  /**
   * The path raised again after its first (handled) raise: `rare` when one of those later raises
   * practically never happens (`rarelyRaises`) — the path needs it, so it is as unlikely as that
   * raise: a failure that a handler caught and the code went past does not make a later loss
   * likely —, `raised` otherwise.
   */
  later?: 'raised' | 'rare';
  /** The first `return`/`break`/`continue` passed while owned. */
  jump?: Node;
  /** Flags set since the allocation (`close = True`): name → value, known in later conditions. */
  flags?: ReadonlyMap<string, boolean>;
  /** Names holding the result of the process's own `poll()` (`status = p.poll()`), tested later. */
  polled?: readonly string[];
}
const FREE: Owned = { owned: false };

const GUARD_NODES = new Set(['identifier', 'string', 'string_content', 'integer', 'float', 'true', 'false', 'none', 'comparison_operator', 'not_operator', 'boolean_operator', 'parenthesized_expression']);

function normalized(node: Node): string {
  let n = node;
  while (n.type === 'parenthesized_expression' && n.namedChild(0)) n = n.namedChild(0)!;
  return n.text.replace(/\s+/g, ' ');
}

/**
 * The conditions known where the allocation runs (`literals`: `literalScan`'s): those of the `if`/`elif`/`else` branches around
 * it in its scope, when they are made only of names the scope does not re-bind after the
 * allocation, literals and comparisons (`if output:`, `if fmt == "svgz":`). A later test of the
 * same condition has the same value, so `if output: f = open(output)` … `if output: f.close()`
 * is one path, not two.
 */
function allocationGuards(assign: Node, scope: Node, context: RuleContext, literals: ReadonlyMap<string, Node | null>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const scopeInfo = context.semantic.scopeFor(scope);
  const stable = (cond: Node): boolean => {
    const ok = (n: Node): boolean => {
      if (!GUARD_NODES.has(n.type) && n.isNamed) return false;
      if (n.type === 'string') return !n.namedChildren.some((c) => c?.type === 'interpolation');
      if (n.type === 'identifier') {
        if (scopeInfo.globals.has(n.text) || scopeInfo.nonlocals.has(n.text)) return false;
        if (scopeInfo.bindingsOf(n.text).some((b) => b.node.startIndex > assign.startIndex)) return false;
      }
      return n.namedChildren.every((c) => !c || ok(c));
    };
    return ok(cond);
  };
  literalsBefore(literals, assign, scope, context, out);
  let child: Node = assign;
  for (let n = assign.parent; n && !n.equals(scope); child = n, n = n.parent) {
    if (n.type === 'if_statement') {
      const cond = n.childForFieldName('condition');
      if (!cond || !stable(cond)) continue;
      if (n.childForFieldName('consequence')?.equals(child)) out.set(normalized(cond), true);
      else if (child.type === 'else_clause' || child.type === 'elif_clause') {
        // Every earlier branch was false.
        out.set(normalized(cond), false);
        for (const alt of n.childrenForFieldName('alternative')) {
          if (!alt || alt.equals(child)) break;
          const c = alt.type === 'elif_clause' ? alt.childForFieldName('condition') : null;
          if (c && stable(c)) out.set(normalized(c), false);
        }
        if (child.type === 'elif_clause') {
          const c = child.childForFieldName('condition');
          if (c && stable(c)) out.set(normalized(c), true);
        }
      }
    }
  }
  return out;
}

const LITERALS = new Set(['string', 'integer', 'float', 'true', 'false', 'none']);

/** The truth value of a literal, when the text shows it. */
function literalTruthValue(n: Node): boolean | undefined {
  if (n.type === 'none' || n.type === 'false') return false;
  if (n.type === 'true') return true;
  if (n.type === 'integer') return !/^0+$|^0[xXoObB]0+$/.test(n.text.replace(/_/g, ''));
  if (n.type === 'string') {
    if (n.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
    return n.namedChildren.some((c) => c?.type === 'string_content' && c.text.length > 0);
  }
  return undefined;
}

/**
 * Is `later` (after `alloc` in the text) in another branch of an `if` than `alloc`, with no loop
 * around either inside the scope — so that it never runs on a path through the allocation?
 */
function otherBranch(alloc: Node, later: Node, scope: Node): boolean {
  const contains = (n: Node, x: Node) => n.startIndex <= x.startIndex && x.endIndex <= n.endIndex;
  let common: Node | undefined;
  for (let n = alloc.parent; n && !n.equals(scope); n = n.parent) {
    if (LOOPS.has(n.type)) return false;
    if (!common && contains(n, later)) {
      if (n.type !== 'if_statement') return false;
      const clause = (x: Node) => n.namedChildren.find((c) => !!c && contains(c, x));
      const a = clause(alloc);
      const b = clause(later);
      const cond = n.childForFieldName('condition');
      if (!a || !b || a.equals(b) || (cond && (a.equals(cond) || b.equals(cond)))) return false;
      common = n;
    }
  }
  return !!common;
}

/**
 * The nearest binding of each name on the allocation's path before it, found by reading back from
 * the allocation's statement through the blocks around it: a simple assignment of a literal
 * (`tmp = None`, chained `err = sock = None`) gives the literal, any other binding null (unknown).
 * What runs before the allocation without being a statement read back counts as a binding too: the
 * header of a compound statement around it (an `if` condition, a `with … as name`, an earlier
 * branch, the `try` body before a handler), and anything a loop around it binds (an earlier
 * iteration ran it) — asked of the scope's bindings of the names given a literal.
 */
function literalScan(assign: Node, scope: Node, context: RuleContext): Map<string, Node | null> {
  const decided = new Map<string, Node | null>();
  const unknown = (id: Node | null) => {
    if (id && !decided.has(id.text) && context.semantic.isBinding(id)) decided.set(id.text, null);
  };
  // The compound statements passed on the way up, with the part of each the path came from.
  const passed: Array<{ node: Node; child: Node }> = [];
  let child: Node = statementOf(assign);
  for (let n = child.parent; n; child = n, n = n.parent) {
    if (n.type === 'block' || n.type === 'module') {
      const stmts = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
      for (let i = stmts.indexOf(stmts.find((c) => c.equals(child))!) - 1; i >= 0; i--) {
        const st = stmts[i];
        const literal = literalAssignment(st, LITERALS);
        if (literal) {
          for (const name of literal.names) {
            if (decided.has(name)) continue;
            decided.set(name, boundOnTheWay(context.semantic.scopeFor(scope).bindingsOf(name), passed) ? null : literal.value);
          }
          continue;
        }
        // A definition binds its name only (its body is another scope).
        const def = st.type === 'decorated_definition' ? st.childForFieldName('definition') : st;
        for (const id of def?.type === 'function_definition' || def?.type === 'class_definition' ? [def.childForFieldName('name')] : st.descendantsOfType('identifier')) unknown(id);
      }
    } else if (n.type !== 'expression_statement' && n.type !== 'decorated_definition') {
      passed.push({ node: n, child });
    }
    if (n.equals(scope)) break;
  }
  return decided;
}

/**
 * Does a compound statement the path passed between a literal and the allocation bind the name
 * (`bindings`: the scope's bindings of it) where that runs before the allocation: anywhere in a loop, in an `if`'s conditions before the branch
 * taken, before the part taken of any other (a `with` item, the `try` body before a handler)?
 */
function boundOnTheWay(bindings: readonly { node: Node }[], passed: ReadonlyArray<{ node: Node; child: Node }>): boolean {
  const inside = (x: Node, n: Node) => x.startIndex >= n.startIndex && x.endIndex <= n.endIndex;
  for (const { node, child } of passed) {
    if (node.type === 'function_definition' || node.type === 'lambda' || node.type === 'class_definition') continue;
    for (const b of bindings) {
      if (!inside(b.node, node)) continue;
      if (LOOPS.has(node.type)) return true;
      if (b.node.endIndex > child.startIndex) continue;
      if (node.type !== 'if_statement') return true;
      const conditions = [node.childForFieldName('condition'), ...node.childrenForFieldName('alternative').map((c) => c?.childForFieldName('condition') ?? null)];
      if (conditions.some((c) => c && inside(b.node, c))) return true;
    }
  }
  return false;
}

/** `a = None`, `a = b = False`: the names a simple statement gives one literal of `kinds`, and the literal. */
function literalAssignment(stmt: Node, kinds: ReadonlySet<string>): { names: string[]; value: Node } | undefined {
  let a = stmt.type === 'expression_statement' && stmt.namedChildCount === 1 ? stmt.namedChild(0) : null;
  const names: string[] = [];
  while (a?.type === 'assignment') {
    const left = a.childForFieldName('left');
    const right = a.childForFieldName('right');
    if (left?.type !== 'identifier' || !right) return undefined;
    names.push(left.text);
    if (right.type !== 'assignment') return kinds.has(right.type) ? { names, value: right } : undefined;
    a = right;
  }
  return undefined;
}

/**
 * Names the code gives a literal before the allocation on its path (`tmp = None`, `mode = "w"`),
 * with no binding in between and none after it that could run on a path through the allocation:
 * their value is known there, so a later `if tmp:` is too.
 */
function literalsBefore(literals: ReadonlyMap<string, Node | null>, assign: Node, scope: Node, context: RuleContext, out: Map<string, boolean>): void {
  const scopeInfo = context.semantic.scopeFor(scope);
  for (const [name, literal] of literals) {
    if (!literal || scopeInfo.globals.has(name) || scopeInfo.nonlocals.has(name)) continue;
    if (scopeInfo.bindingsOf(name).some((b) => b.node.startIndex > assign.startIndex && !otherBranch(assign, b.node, scope))) continue;
    const truth = literalTruthValue(literal);
    if (truth === undefined) continue;
    out.set(name, truth);
    if (literal.type === 'none') {
      out.set(`${name} is None`, true);
      out.set(`${name} is not None`, false);
    } else if (literal.type === 'string' || literal.type === 'integer') out.set(`${name} == ${literal.text.replace(/'/g, '"')}`, true);
  }
}

const FLAG_LITERALS = new Set(['true', 'false', 'none']);

/** What a name holding `True`, `False` or `None` makes known: the name's truth, and for None its tests against None. */
function flagEntries(name: string, literal: Node): [string, boolean][] {
  if (literal.type !== 'none') return [[name, literal.type === 'true']];
  return [[name, false], [`${name} is None`, true], [`${name} is not None`, false], [`${name} == None`, true], [`${name} != None`, false]];
}

/**
 * The flags known where the allocation runs, on its own path: names the path gave True, False or
 * None before it and did not bind again (`err = sock = None` at the top of a loop's iteration). A
 * later binding on the path forgets them (`withFlags`), so unlike `literalsBefore` a binding
 * elsewhere after the allocation does not matter.
 */
function pathFlags(literals: ReadonlyMap<string, Node | null>, scope: Node, context: RuleContext): ReadonlyMap<string, boolean> | undefined {
  const scopeInfo = context.semantic.scopeFor(scope);
  const out = new Map<string, boolean>();
  for (const [name, literal] of literals) {
    if (!literal || !FLAG_LITERALS.has(literal.type) || scopeInfo.globals.has(name) || scopeInfo.nonlocals.has(name)) continue;
    if (context.semantic.scopes.capturedInside(scopeInfo, name)) continue;
    for (const [k, v] of flagEntries(name, literal)) out.set(k, v);
  }
  return out.size ? out : undefined;
}

/**
 * The flags after `node` runs: a name it binds is forgotten (asked of the scope's bindings: a
 * binding inside `node`, not in a nested scope), then a name it gives True, False or None is known
 * again (`close = True`, `err = None`).
 */
function withFlags(s: Owned, node: Node, bindingsOf: (name: string) => readonly { node: Node }[]): Owned {
  let flags = s.flags;
  if (flags?.size) {
    const bound = new Set<string>();
    for (const key of flags.keys()) {
      const name = key.split(' ')[0];
      if (!bound.has(name) && bindingsOf(name).some((b) => b.node.startIndex >= node.startIndex && b.node.endIndex <= node.endIndex)) bound.add(name);
    }
    if (bound.size) flags = new Map([...flags].filter(([k]) => !bound.has(k.split(' ')[0])));
  }
  const literal = literalAssignment(node, FLAG_LITERALS);
  if (literal) flags = new Map([...(flags ?? []), ...literal.names.flatMap((n) => flagEntries(n, literal.value))]);
  if (flags === s.flags) return s;
  return { ...s, flags: flags?.size ? flags : undefined };
}

/**
 * With `name == "gzip"` known true, another test of the same name against literals is known too:
 * `name == "bz2"`, `name != "zip"`, `name not in ["zip", "tar"]`.
 */
function fromEqualities(c: Node, guards: Map<string, boolean>): boolean | undefined {
  if (c.type !== 'comparison_operator' || c.namedChildCount !== 2) return undefined;
  const left = c.namedChild(0)!;
  const right = c.namedChild(1)!;
  if (left.type !== 'identifier') return undefined;
  let value: string | undefined;
  for (const [key, truth] of guards) {
    if (!truth) continue;
    const m = /^([A-Za-z_]\w*) == (.+)$/.exec(key) ?? /^(.+) == ([A-Za-z_]\w*)$/.exec(key);
    if (m && m[1] === left.text) value = m[2];
    else if (m && m[2] === left.text) value = m[1];
  }
  if (value === undefined) return undefined;
  const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text).join(' ');
  if ((ops === '==' || ops === '!=') && LITERALS.has(right.type)) return (right.text === value) === (ops === '==');
  if ((ops === 'in' || ops === 'not in') && ['list', 'tuple', 'set'].includes(right.type)) {
    const items = right.namedChildren.filter((x): x is Node => !!x && x.type !== 'comment');
    if (!items.every((x) => LITERALS.has(x.type))) return undefined;
    return items.some((x) => x.text === value) === (ops === 'in');
  }
  return undefined;
}

/** A known condition's value: `x` / `not x` against the guards and flags. */
function knownCondition(cond: Node, guards: Map<string, boolean>, flags: ReadonlyMap<string, boolean> | undefined): boolean | undefined {
  let c = cond;
  while (c.type === 'parenthesized_expression' && c.namedChild(0)) c = c.namedChild(0)!;
  const key = normalized(c);
  if (guards.has(key)) return guards.get(key);
  const derived = fromEqualities(c, guards);
  if (derived !== undefined) return derived;
  if (flags?.has(key)) return flags.get(key);
  if (c.type === 'not_operator') {
    const inner = c.childForFieldName('argument');
    const v = inner ? knownCondition(inner, guards, flags) : undefined;
    return v === undefined ? undefined : !v;
  }
  return undefined;
}

type OccurrenceKind = UseKind | 'rebind' | 'escape-arg';
interface Occurrence {
  node: Node;
  kind: OccurrenceKind;
}

/** Calls after which a path goes nowhere that matters: the process ends, or the test stops. */
const TERMINATING = new Set(['sys.exit', 'os._exit', 'os.abort', 'exit', 'quit', 'pytest.fail', 'pytest.skip', 'pytest.exit']);
const TERMINATING_METHODS = new Set(['fail', 'skipTest']);
/** Methods that end the process whatever they are called on (Ansible modules report and exit). */
const EXITING_METHODS = new Set(['fail_json', 'exit_json']);

function terminatingCall(stmt: Node, context: RuleContext): boolean {
  if (stmt.type !== 'expression_statement') return false;
  const call = stmt.namedChild(0);
  if (call?.type !== 'call') return false;
  const fn = call.childForFieldName('function');
  if (!fn) return false;
  const q = context.qualifiedName(fn);
  if (q && TERMINATING.has(q)) return true;
  if (fn.type === 'attribute' && EXITING_METHODS.has(fn.childForFieldName('attribute')?.text ?? '')) return true;
  return fn.type === 'attribute' && fn.childForFieldName('object')?.text === 'self' && TERMINATING_METHODS.has(fn.childForFieldName('attribute')?.text ?? '');
}

/**
 * What `cond` is while `name` holds an open resource: `f`, `f is not None`, `not f.closed` are
 * true; `not f`, `f is None`, `f.closed` are false (`and`/`or`/`not` combine them).
 */
function conditionForOpen(cond: Node, name: string): boolean | undefined {
  let c = cond;
  while (c.type === 'parenthesized_expression' && c.namedChild(0)) c = c.namedChild(0)!;
  if (c.type === 'identifier') return c.text === name ? true : undefined;
  if (c.type === 'attribute') {
    const obj = c.childForFieldName('object');
    return obj?.type === 'identifier' && obj.text === name && c.childForFieldName('attribute')?.text === 'closed' ? false : undefined;
  }
  if (c.type === 'not_operator') {
    const inner = c.childForFieldName('argument');
    const v = inner ? conditionForOpen(inner, name) : undefined;
    return v === undefined ? undefined : !v;
  }
  if (c.type === 'boolean_operator') {
    const left = c.childForFieldName('left');
    const right = c.childForFieldName('right');
    const op = c.childForFieldName('operator')?.text ?? c.children.find((x) => x && !x.isNamed)?.text;
    const l = left ? conditionForOpen(left, name) : undefined;
    const r = right ? conditionForOpen(right, name) : undefined;
    if (op === 'and') return l === false || r === false ? false : l === true && r === true ? true : undefined;
    if (op === 'or') return l === true || r === true ? true : l === false && r === false ? false : undefined;
    return undefined;
  }
  if (c.type === 'comparison_operator' && c.namedChildCount === 2 && c.namedChild(0)?.type === 'identifier' && c.namedChild(0)?.text === name) {
    const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text).join(' ');
    const other = c.namedChild(1)!;
    // A fresh resource is no other object, and never None.
    if (ops === 'is not') return true;
    if (ops === 'is') return other.type === 'none' ? false : undefined;
    if (other.type === 'none') return ops === '!=' ? true : ops === '==' ? false : undefined;
    // `fp != patchobj` (the path it was opened from, another name): files, sockets and processes
    // compare by identity, so a fresh one equals nothing the code had before.
    if (other.type === 'identifier' && other.text !== name) return ops === '!=' ? true : ops === '==' ? false : undefined;
  }
  return undefined;
}

/** The occurrences of the allocation's name in its scope, each classified, in document order. */
function occurrencesOf(name: string, scopeNode: Node, factory: FactoryInfo, context: RuleContext): Occurrence[] {
  const scope = context.semantic.scopeFor(scopeNode);
  const out: Occurrence[] = [];
  for (const b of scope.bindingsOf(name)) {
    if (b.kind === 'delete') continue;
    out.push({ node: b.node, kind: 'rebind' });
  }
  for (const ref of scope.references.get(name) ?? []) {
    let kind: OccurrenceKind = classify(ref, factory, scopeNode, context);
    if (kind === 'escape' && passedAsArgument(ref)) kind = 'escape-arg';
    // `x += …` both reads and re-binds: the binding is listed above.
    if (ref.parent?.type === 'augmented_assignment' && ref.parent.childForFieldName('left')?.equals(ref)) continue;
    out.push({ node: ref, kind });
  }
  return out.sort((a, b) => a.node.startIndex - b.node.startIndex);
}

function passedAsArgument(id: Node): boolean {
  const p = id.parent;
  return p?.type === 'argument_list' || (p?.type === 'keyword_argument' && p.parent?.type === 'argument_list');
}

/** Occurrences inside [start, end), by binary search over the sorted list. */
function occurrencesIn(list: Occurrence[], start: number, end: number): Occurrence[] {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].node.startIndex < start) lo = mid + 1;
    else hi = mid;
  }
  const out: Occurrence[] = [];
  for (let i = lo; i < list.length && list[i].node.startIndex < end; i++) out.push(list[i]);
  return out;
}

interface PathEvent {
  kind: 'exit' | 'raise-exit' | 'rebound' | 'reallocated';
  state: Owned;
  at?: Node;
}

/**
 * Follows one allocation through every path of its scope — normal and exceptional — on the
 * semantic model's control flow; undefined when it is no resource, lives where it is not tracked
 * (class bodies, lambdas, context-manager code, process-wide pools, names declared `global` or
 * `nonlocal`, names a nested function sees), or is a probe or a mock.
 */
export function trackAllocation(site: AllocationSite, context: RuleContext): Allocation | undefined {
  // LL101 and LL102 follow the same allocations in the same analysis: the second asks the first's answer.
  const cache = context.semantic.memo('resource-allocations', () => new Map<number, Allocation | null>());
  const known = cache.get(site.assign.id);
  if (known !== undefined) return known ?? undefined;
  const result = followAllocation(site, context);
  cache.set(site.assign.id, result ?? null);
  return result;
}

function followAllocation(site: AllocationSite, context: RuleContext): Allocation | undefined {
  const { assign, call } = site;
  const stmt = assign.parent;
  if (stmt?.type !== 'expression_statement') return undefined;
  const factory = factoryOf(call, context);
  if (!factory || shadowedFactory(call, context)) return undefined;
  const scopeInfo = context.semantic.scopeOf(assign);
  const scope = scopeInfo.node;
  if (scopeInfo.kind !== 'function' && scopeInfo.kind !== 'module') return undefined;
  if (scope.type === 'module' && factory.pool) return undefined;
  if (isContextManagerFunction(scope, context)) return undefined;
  if (scope.type === 'module' && inMainBlock(assign)) return undefined;
  const name = site.name.text;
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return undefined;
  if (scopeInfo.globals.has(name) || scopeInfo.nonlocals.has(name)) return undefined;
  // A nested function or lambda sees the name: it is shared beyond this scope.
  if (context.semantic.scopes.capturedInside(scopeInfo, name)) return undefined;

  const occurrences = occurrencesOf(name, scope, factory, context);
  const after = occurrences.filter((o) => o.node.startIndex > assign.endIndex);
  // The uses the `with` fix moves: those before an unconditional re-binding.
  const uses: Use[] = [];
  let rebinding: Node | undefined;
  for (const o of after) {
    if (o.kind === 'rebind') {
      const targetStmt = statementOf(o.node);
      if (blockChainContains(stmt, targetStmt, scope) && !loopBetween(assign, targetStmt, scope)) {
        rebinding = targetStmt;
        break;
      }
      continue;
    }
    uses.push({ node: o.node, kind: o.kind === 'escape-arg' ? 'escape' : o.kind });
  }
  if (after.some((o) => o.kind === 'released' && !inFinally(o.node, scope))) {
    // `with name:` / `closing(name)` / `stack.enter_context(name)` right away: nothing to track.
    const first = after.find((o) => o.kind !== 'neutral');
    if (first?.kind === 'released' && !(rebinding && first.node.startIndex > rebinding.startIndex)) return undefined;
  }
  const probe = probeContext(assign);
  // Under `mock.patch` the factory is usually the mock; a result never used, made inside
  // `assertRaises` or a `try` that handles errors, is a call expected to fail.
  if (probe.mock || ((probe.expectsError || probe.handled) && uses.length === 0)) return undefined;
  const opens = opensLater(call, factory);
  if (opens && !uses.some((u) => opens(calledMethod(u.node) ?? ''))) return undefined;
  // `conn.sock = FakeSocket(…)`: the connection is given a socket of the caller's, it opens none.
  if (factory.name.startsWith('http.client.') && uses.some((u) => attributeStored(u.node, 'sock'))) return undefined;

  const releaseOccurrences = after.filter((o) => (o.kind === 'release-call' || (o.kind === 'released' && inFinally(o.node, scope))) && !loopVariableUse(o.node, name, assign));
  const releases = releaseOccurrences.map((o) => (o.kind === 'release-call' || o.node.parent?.type === 'attribute' ? o.node.parent!.parent! : o.node));
  // The code releases it itself on its way (so passing it to a call only lends it) — not counting a
  // release in an `except` clause: that is the clean-up of a failed set-up or hand-over.
  const selfReleasing = releases.some((r) => !inHandler(r, scope));
  const escapeOccurrences = after.filter((o) => o.kind === 'escape' || (o.kind === 'escape-arg' && !selfReleasing));
  const escapes = escapeOccurrences.map((o) => statementOf(o.node));
  // The occurrences at which some path of the flow gave the resource up (released or handed over).
  const reached = new Set<number>();
  // A process started on purpose and left to run: never waited for, and nothing but its `pid` read
  // (CPython reaps such children itself when later processes start).
  if (factory.name === 'subprocess.Popen' && releases.length === 0 && escapes.length === 0 && fireAndForget(call, uses, context)) return undefined;

  const events: PathEvent[] = [];
  // The nearest binding of each name before the allocation: the guards and the path's flags read it.
  const literals = literalScan(assign, scope, context);
  const guards = allocationGuards(assign, scope, context, literals);
  // A process whose pipes need nothing more on any path (none, or each closed in a `finally`):
  // once its own `poll()` has returned a status, nothing of it is left to release.
  const pollable = factory.name === 'subprocess.Popen' && pipesClosedInFinally(call, occurrences, scope, context);
  const releasingFinally: Node[] = [];
  for (const r of releases) {
    for (let n = r.parent; n && !n.equals(scope); n = n.parent) {
      if (n.type === 'finally_clause') {
        releasingFinally.push(n);
        break;
      }
    }
  }
  // A pytest fixture's generator is resumed with next() for its teardown, never thrown into: its
  // `yield` does not raise.
  const fixtureDriven = scope.type === 'function_definition' && drivenByPytest(scope, context);
  // The node each raise was found in (`raises` looks at one statement or condition at a time).
  const raisingUnits = new Map<number, Node>();
  const subject: SubjectAllocation = { call, factory, body };
  let rareContext: RaiseContext | undefined;
  const rareKnown = new Map<number, boolean>();
  const isRare = (at: Node): boolean => {
    let known = rareKnown.get(at.id);
    if (known === undefined) {
      rareContext ??= raiseContext((expr) => expr.type === 'identifier' && expr.text === name, context, subject);
      rareKnown.set(at.id, (known = rareRaise(at, raisingUnits, rareContext, context) || osFailureReleased(at, raisingUnits.get(at.id), name, releases, scope, context)));
    }
    return known;
  };
  // The flags known at the allocation on its path (computed when the flow first reaches it).
  let seeded: ReadonlyMap<string, boolean> | null | undefined;
  const domain: FlowDomain<Owned> = {
    key: (s) => (s.owned ? `o${s.raisedAt?.id ?? ''}${s.later ?? ''}:${s.jump?.id ?? ''}:${s.flags ? [...s.flags].map(([k, v]) => `${k}=${v}`).join(',') : ''}:${s.polled?.join(',') ?? ''}` : 'f'),
    evaluate(node, s) {
      if (assign.startIndex >= node.startIndex && assign.endIndex <= node.endIndex && node.type !== 'function_definition' && node.type !== 'class_definition') {
        if (s.owned) events.push({ kind: 'reallocated', state: s, at: stmt });
        seeded ??= pathFlags(literals, scope, context) ?? null;
        return seeded ? { owned: true, flags: seeded } : { owned: true };
      }
      if (!s.owned) return s;
      if (pollable) s = trackPolled(node, name, s, context);
      s = withFlags(s, node, (n) => scopeInfo.bindingsOf(n));
      const inNode = occurrencesIn(occurrences, node.startIndex, node.endIndex);
      // `c = wrap(c)`: the statement that re-binds the name hands the old object over first.
      const rebinds = inNode.some((o) => o.kind === 'rebind');
      // Python evaluates the right-hand side before it binds the target.
      const ordered = rebinds ? [...inNode.filter((o) => o.kind !== 'rebind'), ...inNode.filter((o) => o.kind === 'rebind')] : inNode;
      for (const o of ordered) {
        switch (o.kind) {
          case 'neutral':
            continue;
          case 'escape-arg':
            if (selfReleasing && !rebinds) continue;
            reached.add(o.node.id);
            return FREE;
          case 'rebind':
            events.push({ kind: 'rebound', state: s, at: statementOf(o.node) });
            return FREE;
          default:
            reached.add(o.node.id);
            return FREE;
        }
      }
      return s;
    },
    raises(node, s) {
      if (!s.owned) return undefined;
      const inNode = occurrencesIn(occurrences, node.startIndex, node.endIndex);
      // The statement that releases or hands over the resource does that first.
      const rebinds = inNode.some((o) => o.kind === 'rebind');
      if (inNode.some((o) => o.kind !== 'neutral' && o.kind !== 'rebind' && !(o.kind === 'escape-arg' && selfReleasing && !rebinds))) return undefined;
      // Entering a `with` calls `__enter__`; a `for` calls `iter()` and `next()` on its iterable.
      if (node.type === 'with_item') return node;
      if (isLoopIterable(node)) return node.type === 'list' || node.type === 'tuple' || node.type === 'string' ? undefined : node;
      // `sys.exit()`, `module.fail_json()`: the process ends, whatever it raises on the way.
      if (terminatingCall(node, context)) return undefined;
      // A `finally` that releases the resource counts as releasing it (what else it does first is its own matter).
      if (releasingFinally.some((f) => node.startIndex >= f.startIndex && node.endIndex <= f.endIndex)) return undefined;
      // `not sock and …` with `sock` open: `and` stops at its left operand, the rest never runs.
      const evaluated = shortCircuited(node, (c) => conditionForOpen(c, name) ?? knownCondition(c, guards, s.flags));
      const found = firstRaising(evaluated, undefined, (n) => isAssertion(n) || quietCall(n, context) || (n.type === 'yield' && fixtureDriven));
      if (found) raisingUnits.set(found.id, evaluated);
      return found;
    },
    onRaise: (s, at) => (!s.owned ? s : !s.raisedAt ? { ...s, raisedAt: at } : s.later === 'rare' ? s : isRare(at) ? { ...s, later: 'rare' } : s.later ? s : { ...s, later: 'raised' }),
    onJump: (s, jump) => (s.owned && !s.jump ? { ...s, jump } : s),
    condition: (cond, s) => (s.owned ? (conditionForOpen(cond, name) ?? knownCondition(cond, guards, s.flags)) : undefined),
    // `if status is not None:` after `status = p.poll()`: on that branch the child has been reaped.
    assume: (cond, s, value) => (s.owned && s.polled?.length && pollReaped(cond, s.polled, value) ? FREE : s),
    terminates: (node) => terminatingCall(node, context),
  };
  const outcome = context.semantic.flow(domain, body, FREE);
  for (const s of [...outcome.normal, ...outcome.returns]) if (s.owned) events.push({ kind: 'exit', state: s });
  for (const s of outcome.raises) if (s.owned) events.push({ kind: 'raise-exit', state: s });
  // The exceptional verdict names a release or hand-over that some path reaches (`if tmp: f.close()`
  // with `tmp = None` known at the allocation is not one), when the flow saw any.
  const onPath = <T>(list: T[], occ: Occurrence[]) => list.filter((_, i) => reached.has(occ[i].node.id));
  const reachedReleases = onPath(releases, releaseOccurrences);
  const reachedEscapes = onPath(escapes, escapeOccurrences);
  const named = reachedReleases.length + reachedEscapes.length > 0 ? { releases: reachedReleases, escapes: reachedEscapes } : { releases, escapes };
  let verdict = judge(events, releases, escapes, assign, body, named);
  // A path is practically impossible when a raise it needs practically never happens.
  const rarePath = (e: PathEvent) => !!e.state.raisedAt && (e.state.later === 'rare' || isRare(e.state.raisedAt));
  const exceptionalPaths = events.filter((e) => e.state.raisedAt);
  const rareRaisesOnly = verdict.kind === 'exceptional' && exceptionalPaths.length > 0 && exceptionalPaths.every(rarePath);
  if (verdict.kind === 'exceptional') {
    // A confident finding names a raise that makes it confident, not a rare one that comes first;
    // and a path whose first raise was handled before a later one lost the resource is named by
    // another path when there is one (the later raise is the first raise of a path of its own).
    const pool = rareRaisesOnly ? exceptionalPaths : exceptionalPaths.filter((e) => !rarePath(e));
    const telling = (pool.find((e) => !(e.kind === 'raise-exit' && e.state.later)) ?? pool[0])?.state.raisedAt;
    if (telling && !telling.equals(verdict.raising)) verdict = exceptionalVerdict(telling, named);
  }
  const failureEndsProcess = verdict.kind === 'exceptional' && caughtByExitingHandlers(events, scope, context);
  return { assign, stmt, call, factory, scope, body, name, uses, rebinding, releases, escapes, verdict, rareRaisesOnly, failureEndsProcess };
}

/**
 * The part of a condition that runs when `and`/`or` stop early: `a and b` with `a` known false,
 * `a or b` with `a` known true, is only `a` (through parentheses and `not`). Otherwise the node.
 */
function shortCircuited(node: Node, known: (c: Node) => boolean | undefined): Node {
  let c = node;
  while ((c.type === 'parenthesized_expression' || c.type === 'not_operator') && c.namedChild(0)) c = c.type === 'not_operator' ? (c.childForFieldName('argument') ?? c) : c.namedChild(0)!;
  if (c.type !== 'boolean_operator') return node;
  const left = c.childForFieldName('left');
  if (!left) return node;
  const op = c.childForFieldName('operator')?.text ?? c.children.find((x) => x && !x.isNamed)?.text;
  const v = known(left);
  if ((op === 'and' && v === false) || (op === 'or' && v === true)) return shortCircuited(left, known);
  return node;
}

const FIXTURE_DECORATORS = new Set(['pytest.fixture', 'pytest.yield_fixture', 'pytest_asyncio.fixture']);

/** Is this def a pytest fixture (`@pytest.fixture`, `@pytest.fixture(scope=…)`, resolved through imports)? */
function drivenByPytest(def: Node, context: RuleContext): boolean {
  return decoratorsOf(def).some((d) => {
    const target = decoratorTarget(d);
    const q = target ? context.qualifiedName(target) : undefined;
    return !!q && FIXTURE_DECORATORS.has(q);
  });
}

/** The streams `Popen(…)` opens pipes for (`stdout=subprocess.PIPE` …). */
function pipedStreams(call: Node, context: RuleContext): string[] {
  const out: string[] = [];
  for (const arg of call.childForFieldName('arguments')?.namedChildren ?? []) {
    if (arg?.type !== 'keyword_argument') continue;
    const key = arg.childForFieldName('name')?.text ?? '';
    const value = arg.childForFieldName('value');
    if ((key === 'stdin' || key === 'stdout' || key === 'stderr') && value && context.qualifiedName(value) === 'subprocess.PIPE') out.push(key);
  }
  return out;
}

/** Has the process no pipes, or is each of them closed in a `finally` of the scope (`p.stdout.close()`)? */
function pipesClosedInFinally(call: Node, occurrences: Occurrence[], scope: Node, context: RuleContext): boolean {
  const streams = pipedStreams(call, context);
  // `Popen(*args, **kw)`: the pipes are not known.
  if ((call.childForFieldName('arguments')?.namedChildren ?? []).some((a) => a?.type === 'dictionary_splat')) return false;
  if (streams.length === 0) return true;
  const closedInFinally = (expr: Node): boolean => {
    const close = expr.parent;
    if (close?.type !== 'attribute' || !close.childForFieldName('object')?.equals(expr) || close.childForFieldName('attribute')?.text !== 'close') return false;
    return close.parent?.type === 'call' && !!close.parent.childForFieldName('function')?.equals(close) && inFinally(close.parent, scope);
  };
  const scopeInfo = context.semantic.scopeFor(scope);
  return streams.every((stream) =>
    occurrences.some((o) => {
      const attr = o.node.parent;
      if (attr?.type !== 'attribute' || !attr.childForFieldName('object')?.equals(o.node) || attr.childForFieldName('attribute')?.text !== stream) return false;
      if (closedInFinally(attr)) return true;
      // `stdin = p.stdin` … `finally: stdin.close()`.
      const a = attr.parent;
      const alias = a?.type === 'assignment' && a.childForFieldName('right')?.equals(attr) ? a.childForFieldName('left') : undefined;
      if (alias?.type !== 'identifier') return false;
      return (scopeInfo.references.get(alias.text) ?? []).some((ref) => ref.startIndex > alias.endIndex && closedInFinally(ref));
    }),
  );
}

/**
 * The names holding this process's `poll()` result after `node`: `status = p.poll()` adds
 * `status`; any other binding of a tracked name (found through the scope model) drops it.
 */
function trackPolled(node: Node, name: string, s: Owned, context: RuleContext): Owned {
  let polled = s.polled ?? [];
  if (polled.length > 0) {
    const rebound = new Set(node.descendantsOfType('identifier').filter((id): id is Node => !!id && polled.includes(id.text) && context.semantic.isBinding(id)).map((id) => id.text));
    if (rebound.size > 0) polled = polled.filter((p) => !rebound.has(p));
  }
  const a = node.type === 'expression_statement' ? node.namedChild(0) : undefined;
  const left = a?.type === 'assignment' ? a.childForFieldName('left') : undefined;
  const right = a?.type === 'assignment' ? a.childForFieldName('right') : undefined;
  if (left?.type === 'identifier' && right?.type === 'call' && (right.childForFieldName('arguments')?.namedChildren.filter((c) => c && c.type !== 'comment').length ?? 0) === 0) {
    const fn = right.childForFieldName('function');
    const obj = fn?.type === 'attribute' ? fn.childForFieldName('object') : undefined;
    if (obj?.type === 'identifier' && obj.text === name && fn!.childForFieldName('attribute')?.text === 'poll') polled = [...polled.filter((p) => p !== left.text), left.text];
  }
  if (polled === s.polled || (polled.length === 0 && !s.polled)) return s;
  return { ...s, polled: polled.length ? polled : undefined };
}

/**
 * Does `cond` having the value `value` say that one of `polled` is not None (the child exited)?
 * `status is not None` / `status != None` true, `status is None` false, `status` true (a non-zero
 * exit code), and through `not`, `and` (true) and `or` (false).
 */
function pollReaped(cond: Node, polled: readonly string[], value: boolean): boolean {
  let c = cond;
  while (c.type === 'parenthesized_expression' && c.namedChild(0)) c = c.namedChild(0)!;
  if (c.type === 'identifier') return value && polled.includes(c.text);
  if (c.type === 'not_operator') {
    const inner = c.childForFieldName('argument');
    return !!inner && pollReaped(inner, polled, !value);
  }
  if (c.type === 'boolean_operator') {
    const op = c.childForFieldName('operator')?.text ?? c.children.find((x) => x && !x.isNamed)?.text;
    const left = c.childForFieldName('left');
    const right = c.childForFieldName('right');
    if ((op === 'and' && value) || (op === 'or' && !value)) return (!!left && pollReaped(left, polled, value)) || (!!right && pollReaped(right, polled, value));
    return false;
  }
  if (c.type === 'comparison_operator' && c.namedChildCount === 2 && c.namedChild(0)?.type === 'identifier' && polled.includes(c.namedChild(0)!.text) && c.namedChild(1)?.type === 'none') {
    const ops = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text).join(' ');
    if (ops === 'is not' || ops === '!=') return value;
    if (ops === 'is' || ops === '==') return !value;
  }
  return false;
}

/** Factories whose second call right after a first one practically never fails: local files, sockets not yet connected, selectors. */
function opensLocally(call: Node, context: RuleContext): boolean {
  const f = factoryOf(call, context);
  if (!f) return false;
  // `io.TextIOWrapper(open(p, "rb"))`: an owning wrapper made at once around such a call.
  if (OWNING_WRAPPERS.has(f.name)) {
    const first = call.childForFieldName('arguments')?.namedChildren.find((a) => !!a && a.type !== 'comment');
    return first?.type === 'call' && opensLocally(first, context);
  }
  return ['open', 'builtins.open', 'io.open', 'codecs.open', 'os.fdopen', 'socket.socket'].includes(f.name) || f.name.startsWith('tempfile.') || f.name.startsWith('selectors.');
}

/** Is this raise (found in the statement or condition `units` records for it) one that practically does not happen? */
function rareRaise(at: Node, units: Map<number, Node>, ctx: RaiseContext, context: RuleContext): boolean {
  const unit = units.get(at.id);
  // A `raise`, a `with` entered, a loop's iterable: not a set-up call.
  if (!unit || unit.type === 'with_item' || unit.type === 'raise_statement' || isLoopIterable(unit)) return false;
  return allRaising(unit, undefined, (n) => isAssertion(n) || quietCall(n, context)).every((n) => rarelyRaises(n, ctx));
}

/** The names of OSError (its aliases since Python 3.3 included). */
const OS_ERRORS = new Set(['OSError', 'IOError', 'EnvironmentError', 'builtins.OSError', 'builtins.IOError', 'builtins.EnvironmentError', 'socket.error', 'os.error', 'select.error']);

/**
 * A raise at `at` that in practice only an operating-system failure causes — a call of one of the
 * resource's own methods (`sock.connect(address)`) or of an `os` function given it (`os.write(fd,
 * data)`), nothing else in its statement raising — made inside the body of a `try` whose handlers
 * (the nearest `try` that has any) catch OSError in one that releases the resource. The path that
 * still keeps the resource is another exception out of that call (a wrong argument's TypeError),
 * which practically does not happen.
 */
function osFailureReleased(at: Node, unit: Node | undefined, name: string, releases: Node[], scope: Node, context: RuleContext): boolean {
  if (at.type !== 'call' || !unit) return false;
  const fn = at.childForFieldName('function');
  if (fn?.type !== 'attribute') return false;
  const isSubject = (e: Node | null | undefined) => e?.type === 'identifier' && e.text === name;
  const onSubject = isSubject(fn.childForFieldName('object'));
  if (!onSubject && !(context.qualifiedName(fn)?.startsWith('os.') && callArguments(at).some(isSubject))) return false;
  // The callee's own chain (`sock.connect`) is part of the call; anything else raising is not.
  const inCallee = (n: Node) => n.type === 'attribute' && n.startIndex >= fn.startIndex && n.endIndex <= fn.endIndex;
  if (allRaising(unit).some((n) => !n.equals(at) && !inCallee(n))) return false;
  const releasesIn = (h: Node) => releases.some((r) => r.startIndex >= h.startIndex && r.endIndex <= h.endIndex);
  const catchesOSError = (h: Node) => !!handlerTypes(h)?.some((t) => OS_ERRORS.has(context.qualifiedName(t) ?? t.text));
  return !!handlersAround(at, scope)?.some((h) => catchesOSError(h) && releasesIn(h));
}

/**
 * Is every raise that leaves the resource owned made inside the body of a `try` whose handlers
 * catch everything (`except Exception:` or bare, possibly after narrower ones) and each end by
 * ending the process? Such a failure takes the process, and its descriptors, with it; the path
 * that still leaks is a second failure inside a handler, before its exit.
 */
function caughtByExitingHandlers(events: PathEvent[], scope: Node, context: RuleContext): boolean {
  const raised = new Map<number, Node>();
  for (const e of events) if (e.state.raisedAt) raised.set(e.state.raisedAt.id, e.state.raisedAt);
  if (raised.size === 0 || events.some((e) => !e.state.raisedAt)) return false;
  const endsProcess = (handler: Node): boolean => {
    const block = handler.namedChildren.find((c) => c?.type === 'block');
    const stmts = (block?.namedChildren ?? []).filter((c): c is Node => !!c && c.type !== 'comment');
    return stmts.length > 0 && terminatingCall(stmts[stmts.length - 1], context);
  };
  return [...raised.values()].every((at) => {
    const handlers = handlersAround(at, scope);
    return !!handlers && handlers.some((h) => catchesAll(h)) && handlers.every(endsProcess);
  });
}

/**
 * The handlers of the nearest `try` in `scope` whose body holds `at` and that has any (`except`
 * clauses): they catch what `at` raises or let it through. Undefined when there is none, inside
 * the function `at` runs in.
 */
function handlersAround(at: Node, scope: Node): Node[] | undefined {
  for (let n = at.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'class_definition') return undefined;
    const body = n.type === 'try_statement' ? n.childForFieldName('body') : null;
    if (!body || at.startIndex < body.startIndex || at.endIndex > body.endIndex) continue;
    const handlers = n.namedChildren.filter((c): c is Node => !!c && (c.type === 'except_clause' || c.type === 'except_group_clause'));
    if (handlers.length > 0) return handlers;
  }
  return undefined;
}

const CONTAINER_DISPLAYS = new Set(['list', 'set', 'dictionary', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension']);

/** The allocation a `rarelyRaises` question is about: its call, the catalogue entry and the body that holds it. */
interface SubjectAllocation {
  call: Node;
  factory: FactoryInfo;
  body: Node;
}

/** Files opened from a name or a descriptor through `io.open`: where the mode and the buffering are among the arguments. */
const OPENED_FILES: Record<string, { mode: number; buffering: number; defaultMode: string }> = {
  open: { mode: 1, buffering: 2, defaultMode: 'r' },
  'builtins.open': { mode: 1, buffering: 2, defaultMode: 'r' },
  'io.open': { mode: 1, buffering: 2, defaultMode: 'r' },
  '_io.open': { mode: 1, buffering: 2, defaultMode: 'r' },
  'os.fdopen': { mode: 1, buffering: 2, defaultMode: 'r' },
  'tempfile.TemporaryFile': { mode: 0, buffering: 1, defaultMode: 'w+b' },
  'tempfile.NamedTemporaryFile': { mode: 0, buffering: 1, defaultMode: 'w+b' },
};

/** The mode and buffering an `open(…)`-like call asks for, when its arguments say them with literals (or leave the defaults). */
function openedFile(call: Node, factory: FactoryInfo): OpenedFile | undefined {
  const where = OPENED_FILES[factory.name];
  if (!where) return undefined;
  const args = (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  if (args.some((a) => a.type === 'list_splat' || a.type === 'dictionary_splat')) return undefined;
  const positional = args.filter((a) => a.type !== 'keyword_argument');
  const keyword = (name: string) => args.find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === name)?.childForFieldName('value') ?? undefined;
  const modeNode = positional[where.mode] ?? keyword('mode');
  const bufferingNode = positional[where.buffering] ?? keyword('buffering');
  let mode = where.defaultMode;
  if (modeNode) {
    if (modeNode.type !== 'string' || modeNode.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
    mode = modeNode.namedChildren.filter((c) => c?.type === 'string_content').map((c) => c!.text).join('');
  }
  let buffering = -1;
  if (bufferingNode) {
    const text = bufferingNode.text.replace(/\s+/g, '');
    if (!/^-?\d+$/.test(text)) return undefined;
    buffering = Number(text);
  }
  return { writable: /[wax+]/.test(mode), text: !mode.includes('b'), buffering };
}

/** Attributes of a file read without writing to it or flushing. */
const FILE_READS = new Set(['name', 'mode', 'closed', 'fileno', 'tell']);

/**
 * The subject's `write(…)` calls between its allocation and `call` (text order), each run once:
 * undefined when a loop between them may repeat one, or the subject is used there otherwise than
 * by `write(…)` and reads of its own state (a call it is passed to may write anything).
 */
function subjectWritesBefore(call: Node, subject: SubjectAllocation, isSubject: (expr: Node) => boolean): Node[] | undefined {
  const start = subject.call.endIndex;
  if (call.startIndex < start) return undefined;
  const repeats = (n: Node): boolean => {
    for (let p = n.parent; p && !p.equals(subject.body); p = p.parent) {
      if ((p.type === 'for_statement' || p.type === 'while_statement') && !(subject.call.startIndex >= p.startIndex && subject.call.endIndex <= p.endIndex)) return true;
      if (p.type === 'function_definition' || p.type === 'lambda') return true;
    }
    return false;
  };
  if (repeats(call)) return undefined;
  const writes: Node[] = [];
  for (const o of subject.body.descendantsOfType(['identifier', 'attribute'])) {
    if (!o || o.startIndex < start || o.endIndex > call.startIndex || !isSubject(o)) continue;
    // `self.f` is an attribute whose object is `self`: only the outermost match counts.
    if (o.parent && isSubject(o.parent)) continue;
    const attr = o.parent;
    const name = attr?.type === 'attribute' && attr.childForFieldName('object')?.equals(o) ? attr.childForFieldName('attribute')?.text : undefined;
    if (name === 'write' && attr!.parent?.type === 'call' && attr!.parent.childForFieldName('function')?.equals(attr!)) {
      if (repeats(attr!.parent)) return undefined;
      writes.push(attr!.parent);
      continue;
    }
    if (name && FILE_READS.has(name)) continue;
    return undefined;
  }
  return writes;
}

/** What `rarelyRaises` asks, for the resource `isSubject` tells. */
function raiseContext(isSubject: (expr: Node) => boolean, context: RuleContext, subject?: SubjectAllocation): RaiseContext {
  return {
    isSubject,
    openedFile: () => (subject ? openedFile(subject.call, subject.factory) : undefined),
    writesBefore: (call: Node) => (subject ? subjectWritesBefore(call, subject, isSubject) : undefined),
    assignedValues: (id: Node) => {
      const bindings = context.semantic.resolve(id);
      const values: Node[] = [];
      for (const b of bindings) {
        const assign = b.node.parent;
        const right = b.kind === 'assignment' && assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(b.node) ? assign.childForFieldName('right') : null;
        if (!right) return undefined;
        values.push(right);
      }
      return values;
    },
    qualifiedName: (n: Node) => context.qualifiedName(n),
    opensResource: (c: Node) => opensLocally(c, context),
    calleeDefinition: (c: Node) => context.semantic.calleeDefinition(c),
    moduleFunction: (callee: Node) => {
      let root: Node | null = callee;
      while (root?.type === 'attribute') root = root.childForFieldName('object');
      if (root?.type !== 'identifier') return false;
      const bindings = context.semantic.resolve(root);
      return bindings.length > 0 && bindings.every((b) => b.kind === 'import');
    },
    transparent: (n: Node) => isAssertion(n) || quietCall(n, context),
    memo: <T>(key: string, compute: () => T) => context.semantic.memo(key, compute),
    isPlainContainer: (expr: Node) => {
      if (expr.type !== 'identifier') return false;
      const bindings = context.semantic.resolve(expr);
      return (
        bindings.length > 0 &&
        bindings.every((b) => {
          const assign = b.node.parent;
          const right = b.kind === 'assignment' && assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(b.node) ? assign.childForFieldName('right') : null;
          return !!right && CONTAINER_DISPLAYS.has(right.type);
        })
      );
    },
  };
}

/**
 * Library calls that do not fail on the values programs give them — printing, logging, path
 * arithmetic, clocks, and setting a socket's timeout or blocking mode — taken as not raising
 * between an allocation and its release (their arguments are still looked at). Any call may raise
 * in principle, but a finding that names `print(…)` or `os.path.join(…)` as the failure is not one
 * a maintainer acts on (blind triage: "can raise in theory, not in practice").
 */
const QUIET_CALLS = new Set([
  'print', 'repr', 'str', 'len', 'id', 'format', 'sorted', 'min', 'max',
  'os.path.join', 'os.path.basename', 'os.path.dirname', 'os.path.splitext', 'os.path.split', 'os.path.normpath', 'os.path.abspath',
  'os.path.exists', 'os.path.isfile', 'os.path.isdir', 'os.path.islink', 'os.getpid', 'os.getcwd', 'os.fspath',
  'time.time', 'time.monotonic', 'time.perf_counter', 'time.sleep',
  'logging.debug', 'logging.info', 'logging.warning', 'logging.error', 'logging.exception', 'logging.critical', 'logging.getLogger',
]);
const QUIET_METHODS = new Set(['debug', 'info', 'warning', 'warn', 'error', 'exception', 'critical', 'settimeout', 'setblocking', 'fileno']);

function quietCall(n: Node, context: RuleContext): boolean {
  if (n.type !== 'call') return false;
  const fn = n.childForFieldName('function');
  if (!fn) return false;
  const q = context.qualifiedName(fn);
  if (q && QUIET_CALLS.has(q)) {
    // `print(…, file=f)` writes to a file: that can fail.
    if (q === 'print' && (n.childForFieldName('arguments')?.namedChildren ?? []).some((a) => a?.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'file')) return false;
    return !(fn.type === 'identifier' && context.semantic.resolve(fn).length > 0);
  }
  return fn.type === 'attribute' && QUIET_METHODS.has(fn.childForFieldName('attribute')?.text ?? '');
}

function isLoopIterable(node: Node): boolean {
  const p = node.parent;
  return p?.type === 'for_statement' && !!p.childForFieldName('right')?.equals(node);
}

/** `Popen(…)` with no pipes: nothing of it stays open in this process but the child's entry. */
export function withoutPipes(call: Node, context: RuleContext): boolean {
  for (const arg of call.childForFieldName('arguments')?.namedChildren ?? []) {
    if (arg?.type !== 'keyword_argument') continue;
    const key = arg.childForFieldName('name')?.text ?? '';
    const value = arg.childForFieldName('value');
    if ((key === 'stdin' || key === 'stdout' || key === 'stderr') && value && context.qualifiedName(value) === 'subprocess.PIPE') return false;
  }
  return true;
}

/**
 * Module-level code under `if __name__ == "__main__":` and not in a loop: a script's last act,
 * after which the process ends and the operating system takes everything back.
 */
export function inMainBlock(node: Node): boolean {
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'for_statement' || n.type === 'while_statement' || n.type === 'function_definition' || n.type === 'class_definition' || n.type === 'lambda') return false;
    if (n.type === 'if_statement' && n.parent?.type === 'module') {
      const cond = n.childForFieldName('condition');
      const text = cond?.text.replace(/\s+/g, '').replace(/'/g, '"') ?? '';
      return text === '__name__=="__main__"' || text === '"__main__"==__name__';
    }
  }
  return false;
}

/** `Popen(…)` with no pipes, whose object is used for nothing but its `pid`. */
function fireAndForget(call: Node, uses: Use[], context: RuleContext): boolean {
  if (!withoutPipes(call, context)) return false;
  return uses.every((u) => u.node.parent?.type === 'attribute' && u.node.parent.childForFieldName('attribute')?.text === 'pid' && u.node.parent.parent?.type !== 'call');
}

/**
 * A use of `name` inside a `for` loop whose target binds `name` and that does not hold the
 * allocation (`for proc in procs: proc.wait()` after `proc = Popen(…); procs.append(proc)`): it
 * is the loop's object, not the allocation's.
 */
function loopVariableUse(ref: Node, name: string, assign: Node): boolean {
  for (let n = ref.parent; n; n = n.parent) {
    if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'class_definition') return false;
    if (n.type !== 'for_statement' || (n.startIndex <= assign.startIndex && assign.endIndex <= n.endIndex)) continue;
    const left = n.childForFieldName('left');
    if (left && (left.type === 'identifier' ? [left] : left.descendantsOfType('identifier')).some((id) => id?.text === name)) return true;
  }
  return false;
}

/** Is `node` inside an `except` (or `except*`) handler of its own function, below `scope`? */
export function inHandler(node: Node, scope: Node): boolean {
  for (let n = node.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'except_clause' || n.type === 'except_group_clause') return true;
    if (n.type === 'function_definition' || n.type === 'lambda') return false;
  }
  return false;
}

function inFinally(node: Node, scope: Node): boolean {
  for (let n = node.parent; n && !n.equals(scope); n = n.parent) if (n.type === 'finally_clause') return true;
  return false;
}

function judge(events: PathEvent[], releases: Node[], escapes: Node[], assign: Node, body: Node, named: { releases: Node[]; escapes: Node[] } = { releases, escapes }): Verdict {
  const normal = events.filter((e) => e.kind !== 'raise-exit' && !e.state.raisedAt);
  const rebound = normal.find((e) => e.kind === 'rebound');
  if (rebound) return { kind: 'rebound', at: rebound.at! };
  const again = normal.find((e) => e.kind === 'reallocated');
  if (again?.state.jump && (releases.length > 0 || escapes.length > 0)) return { kind: 'early-return', ret: again.state.jump };
  if (again) {
    return releases.length > 0 || escapes.length > 0 ? { kind: 'conditional', loop: loopBetween(assign, body, body) ?? enclosingLoop(assign, body) } : { kind: 'never' };
  }
  const exits = normal.filter((e) => e.kind === 'exit');
  if (exits.length > 0) {
    if (releases.length === 0 && escapes.length === 0) return { kind: 'never' };
    const jumped = exits.find((e) => e.state.jump);
    if (jumped) return { kind: 'early-return', ret: jumped.state.jump! };
    return { kind: 'conditional' };
  }
  const exceptional = events.find((e) => e.state.raisedAt) ?? events.find((e) => e.kind === 'raise-exit');
  if (exceptional) return exceptionalVerdict(exceptional.state.raisedAt ?? exceptional.at ?? assign, named);
  return { kind: 'released' };
}

function exceptionalVerdict(raising: Node, named: { releases: Node[]; escapes: Node[] }): Verdict {
  // The release or hand-over the raise skips: one after it (a release before it, in a handler, is another path's).
  const release = named.releases.find((r) => r.startIndex > raising.startIndex);
  const escape = named.escapes.find((e) => e.startIndex > raising.startIndex);
  return { kind: 'exceptional', raising, release: release ?? (escape ? undefined : named.releases[0]), escape: escape ?? named.escapes[0] };
}

function enclosingLoop(node: Node, stop: Node): Node | undefined {
  for (let n = node.parent; n && !n.equals(stop); n = n.parent) if (LOOPS.has(n.type)) return n;
  return undefined;
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

/**
 * A factory spelled as a bare name that this file binds itself: `def open(url): …` at module
 * level (webbrowser.open), `open = …`, a class, a parameter or a local of an enclosing function.
 * Imported names are resolved by `qualifiedName` and never count as shadowed.
 */
export function shadowedFactory(call: Node, context: RuleContext): boolean {
  const fn = call.childForFieldName('function');
  if (fn?.type !== 'identifier') return false;
  if (context.qualifiedName(fn) !== fn.text) return false;
  // A function of this file that returns a fresh resource is a factory in its own right.
  const def = context.semantic.calleeDefinition(call);
  if (def && context.semantic.returnsFreshResource(def)) return false;
  return context.semantic.resolve(fn).some((b) => b.kind !== 'import');
}

/** `self.attr = factory(…)` in `__init__`, not released when a later statement of `__init__` raises. */
export interface InitLeak {
  call: Node;
  factory: FactoryInfo;
  attribute: string;
  raising: Node;
  /** Every raise that loses it practically does not happen (`rarelyRaises`). */
  rareRaisesOnly: boolean;
}

/** Methods whose call on the instance counts as releasing what it holds. */
const INSTANCE_RELEASES = new Set(['close', 'aclose', '__exit__', '__aexit__', 'shutdown', 'cleanup', 'terminate', 'stop', 'dispose', 'release', 'disconnect']);

/**
 * A resource stored on `self` by `__init__` and then lost when `__init__` raises: the caller never
 * gets the instance, so nothing can close it (unless the class has a `__del__`, which runs when
 * the half-built instance is freed). Followed on the semantic model's control flow.
 */
export function initAttributeLeaks(context: RuleContext): InitLeak[] {
  const out: InitLeak[] = [];
  for (const call of factoryCallCandidates(context)) {
    const assign = call.parent;
    if (assign?.type !== 'assignment' || !assign.childForFieldName('right')?.equals(call)) continue;
    const stmt = assign.parent;
    if (stmt?.type !== 'expression_statement') continue;
    const left = assign.childForFieldName('left');
    if (left?.type !== 'attribute') continue;
    const object = left.childForFieldName('object');
    const attribute = left.childForFieldName('attribute')?.text;
    if (object?.type !== 'identifier' || !attribute) continue;
    const scope = context.semantic.scopeOf(assign);
    if (scope.kind !== 'function' || scope.name !== '__init__') continue;
    const method = context.semantic.method(scope.node);
    if (method?.kind !== 'instance' || method.receiver?.text !== object.text) continue;
    const cls = context.semantic.classOfMethod(scope.node);
    if (!cls) continue;
    const model = context.semantic.classModel(cls);
    if (model.methods.has('__del__')) continue;
    // A class with no method that releases anything is LL104's: the resource is never released at all.
    if (![...model.methods.keys()].some((m) => INSTANCE_RELEASES.has(m))) continue;
    const factory = factoryOf(call, context);
    if (!factory || factory.pool || shadowedFactory(call, context) || probeContext(assign).mock) continue;
    // `SMTP()` without a host, an HTTPConnection before its first request: nothing is open yet.
    if (opensLater(call, factory)) continue;
    const body = scope.node.childForFieldName('body');
    if (!body) continue;
    const found = initRaisingPath(body, stmt, call, object.text, attribute, factory, context);
    if (found) out.push({ call, factory, attribute, raising: found.raising, rareRaisesOnly: found.rare });
  }
  return out;
}

/**
 * What in `__init__` counts as raising after the store: a `raise` or `assert`, a call on the
 * resource or on the instance (`self.sock.connect(addr)`, `self.check()`, `super().__init__()`),
 * or a call the resource is passed to. Other calls (`hashlib.sha1()`, `dict()`) are left out: any
 * call may raise in principle, but flagging every `__init__` that calls something after opening a
 * file would bury the cases that matter.
 */
function initRaising(node: Node, receiver: string, attribute: string, all?: Node[]): Node | undefined {
  const target = `${receiver}.${attribute}`;
  const relevant = (n: Node): boolean => {
    if (n.type === 'raise_statement' || n.type === 'assert_statement') return true;
    if (n.type !== 'call') return false;
    const fn = n.childForFieldName('function');
    if (!fn) return false;
    let base: Node | null = fn;
    while (base?.type === 'attribute') base = base.childForFieldName('object');
    if (base?.type === 'identifier' && base.text === receiver && fn.type === 'attribute') return true;
    if (base?.type === 'call' && base.childForFieldName('function')?.text === 'super') return true;
    return (n.childForFieldName('arguments')?.namedChildren ?? []).some((a) => !!a && (a.text === target || a.text.startsWith(`${target}.`)));
  };
  const visit = (n: Node): Node | undefined => {
    if (n.type === 'function_definition' || n.type === 'class_definition' || n.type === 'lambda') return undefined;
    if (relevant(n)) {
      if (!all) return n;
      all.push(n);
    }
    for (const c of n.namedChildren) {
      const found = c ? visit(c) : undefined;
      if (found) return found;
    }
    return undefined;
  };
  return visit(node) ?? all?.[0];
}

function initRaisingPath(body: Node, stmt: Node, call: Node, receiver: string, attribute: string, factory: FactoryInfo, context: RuleContext): { raising: Node; rare: boolean } | undefined {
  // The occurrences of `self.attr` and of `self.m(…)` after the store.
  const uses = body.descendantsOfType('attribute').filter((a): a is Node => !!a && a.startIndex > stmt.endIndex && a.childForFieldName('object')?.type === 'identifier' && a.childForFieldName('object')!.text === receiver);
  // `registry.append(self)`, `weakref.finalize(self, …)`: the instance itself is kept elsewhere.
  const selfRefs = body.descendantsOfType('identifier').filter((i): i is Node => !!i && i.startIndex > stmt.endIndex && i.text === receiver && i.parent?.type !== 'attribute');
  const released = (node: Node): boolean => {
    if (selfRefs.some((r) => r.startIndex >= node.startIndex && r.endIndex <= node.endIndex)) return true;
    for (const a of uses) {
      if (a.startIndex < node.startIndex || a.endIndex > node.endIndex) continue;
      const name = a.childForFieldName('attribute')?.text ?? '';
      const holder = a.parent;
      // `self.m()` of a releasing method.
      if (INSTANCE_RELEASES.has(name) && holder?.type === 'call' && holder.childForFieldName('function')?.equals(a)) return true;
      if (name !== attribute) continue;
      // `self.attr.close()`.
      if (holder?.type === 'attribute' && holder.childForFieldName('object')?.equals(a)) {
        const m = holder.childForFieldName('attribute')?.text ?? '';
        const call = holder.parent;
        const isRelease = factory.release.includes(m) || m === 'close';
        if (call?.type === 'call' && call.childForFieldName('function')?.equals(holder) && isRelease) return true;
        // `atexit.register(self.f.close)`, `stack.callback(self.f.close)`: the release is scheduled.
        if (isRelease && call?.type === 'argument_list') return true;
        continue;
      }
      // `self.attr = …` again, `del self.attr`, `x = self.attr`, `f(self.attr)`, `with self.attr:`: handed on or replaced.
      if (holder?.type !== 'attribute') return true;
    }
    return false;
  };
  interface S {
    owned: boolean;
    raisedAt?: Node;
  }
  // Every relevant raising node of the statement each raise was found in.
  const raisingSets = new Map<number, Node[]>();
  const domain: FlowDomain<S> = {
    key: (s) => (s.owned ? `o${s.raisedAt?.id ?? ''}` : 'f'),
    evaluate(node, s) {
      if (stmt.startIndex >= node.startIndex && stmt.endIndex <= node.endIndex && node.type !== 'function_definition' && node.type !== 'class_definition') return { owned: true };
      if (!s.owned) return s;
      return released(node) ? { owned: false } : s;
    },
    raises(node, s) {
      if (!s.owned || released(node)) return undefined;
      const all: Node[] = [];
      const found = initRaising(node, receiver, attribute, all);
      if (found) raisingSets.set(found.id, all);
      return found;
    },
    onRaise: (s, at) => (s.owned && !s.raisedAt ? { ...s, raisedAt: at } : s),
    onJump: (s) => s,
    condition: () => undefined,
    terminates: (node) => terminatingCall(node, context),
  };
  const outcome = context.semantic.flow(domain, body, { owned: false });
  const lost = outcome.raises.filter((s) => s.owned && s.raisedAt);
  if (lost.length === 0) return undefined;
  const target = `${receiver}.${attribute}`;
  const ctx = raiseContext((expr) => expr.text === target, context, { call, factory, body });
  const rareState = (s: S): boolean => {
    const all = raisingSets.get(s.raisedAt!.id);
    // A `raise` or `assert` is meant to happen.
    return !!all && all.every((n) => n.type === 'call' && rarelyRaises(n, ctx) && callParts(n).every((p) => rarelyRaises(p, ctx)));
  };
  const telling = lost.find((s) => !rareState(s));
  // A confident finding names a raise that makes it confident, not a rare one that comes first.
  return { raising: (telling ?? lost[0]).raisedAt!, rare: !telling };
}

/** The calls and field reads inside a call's arguments and callee that may raise too (`os.fstat(self.f.fileno())`). */
function callParts(call: Node): Node[] {
  return allRaising(call).filter((n) => !n.equals(call));
}
