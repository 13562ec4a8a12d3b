// LL504 stored-traceback: a caught exception (or sys.exc_info()) kept beyond its handler, so its
// traceback keeps whole frames — and every local variable in them — alive.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { heldNames, rootIdentifier, storeOf, stripParens as unparenthesize } from '../cycles';
import { inTestCode } from '../cycle-evidence';
import { bindingHandler, declaredOutside, FileFacts, handlerBinding, helperStores, keeperDoubt, raises, releasedInFinally } from '../kept-exceptions';
import type { Fix, OffsetEdit, Report, Rule, RuleContext } from '../types';

const KEPT_ALIVE = 'its traceback keeps every frame from there to where it was raised alive, with all their local variables (buffers, files, requests)';

/**
 * Reports a kept exception, confident only without a doubt (`keeperDoubt`); a keeper the function
 * returns is handed to the caller, who may keep it on purpose.
 */
function reportKept(report: Report, target: Node, keeper: Node, scope: Node, context: RuleContext, facts: FileFacts, doubt?: string): void {
  const why = doubt ?? (facts.returned(keeper, scope) ? `\`${keeper.text}\` is returned to the caller, who may keep it on purpose` : keeperDoubt(report.node!, target, scope, context));
  if (why) context.report({ ...report, message: `${report.message} (low confidence: ${why})`, confidence: 'low' });
  else context.report(report);
}

function storeTargetText(target: Node, kind: string): string {
  return keeperOf(target, kind).text;
}

/** What keeps the value: `self.errors[key] = e` is kept by `self.errors`; `errors.append(e)` by `errors`. */
function keeperOf(target: Node, kind: string): Node {
  return (kind === 'subscript' ? target.childForFieldName('value') : undefined) ?? target;
}

function withTracebackFix(values: Node[], name: string): Fix {
  const edits: OffsetEdit[] = values.map((v) => ({ start: v.startIndex, end: v.endIndex, text: `${name}.with_traceback(None)` }));
  return { title: `Store \`${name}\` without its traceback`, safety: 'unsafe', edits };
}

function checkHandler(clause: Node, context: RuleContext, facts: FileFacts): void {
  const binding = handlerBinding(clause);
  if (!binding) return;
  const name = binding.name.text;
  const scope = context.semantic.frameNodeOf(clause);
  // A handler that re-raises hands the exception (and its traceback) on anyway.
  const handlerRaises = binding.block
    .descendantsOfType('raise_statement')
    .filter((r): r is Node => !!r && context.semantic.frameNodeOf(r).equals(scope) && !!bindingHandler(r, binding.name, context)?.equals(clause));
  if (handlerRaises.some((r) => raises(r, binding.name, context))) return;
  // Built only when a store to a plain name needs it (it builds the scope).
  let declared: Map<string, string> | undefined;
  const outside = { has: (n: string) => (declared ??= declaredOutside(scope, context)).has(n), get: (n: string) => (declared ??= declaredOutside(scope, context)).get(n) };
  const moduleLike = scope.type === 'module' || scope.type === 'class_definition';
  for (const node of binding.block.descendantsOfType(['assignment', 'call'])) {
    if (!node || !context.semantic.frameNodeOf(node).equals(scope) || !bindingHandler(node, binding.name, context)?.equals(clause)) continue;
    let store = storeOf(node);
    let where: string;
    let keeper: string;
    if (store) {
      keeper = storeTargetText(store.target, store.kind);
      where = `\`${store.kind === 'call' ? keeper : store.target.text}\``;
    } else if (node.type === 'assignment') {
      const left = node.childForFieldName('left');
      const right = node.childForFieldName('right');
      if (left?.type !== 'identifier' || !right || context.semantic.refersTo(left, binding.name)) continue;
      if (!moduleLike && !outside.has(left.text)) continue;
      if (moduleLike && context.semantic.deletedAfter(scope, left.text, node.endIndex)) continue;
      store = { node, target: left, value: right, kind: 'attribute' };
      keeper = left.text;
      where = moduleLike ? `${scope.type === 'module' ? 'The module-level name' : 'The class attribute'} \`${left.text}\`` : `The ${outside.get(left.text)} \`${left.text}\``;
    } else continue;
    const held = heldNames(store.value).filter((id) => context.semantic.refersTo(id, binding.name));
    if (held.length === 0) continue;
    const root = rootIdentifier(store.target);
    if (context.semantic.refersTo(root, binding.name)) continue; // `e.args = …`: a store into the exception itself
    // `new.__cause__ = e` chains exceptions, as `raise new from e` does.
    const slot = store.kind === 'attribute' ? store.target.childForFieldName('attribute')?.text : undefined;
    if (slot === '__cause__' || slot === '__context__') continue;
    const keeperNode = keeperOf(store.target, store.kind);
    if (facts.raisedLater(keeperNode, keeper) || releasedInFinally(scope, keeperNode, context)) continue;
    // `new.__cause__ = e` … `raise new`: the object that keeps it is raised by this handler.
    const keeperRoot = rootIdentifier(store.target);
    if (keeperRoot && handlerRaises.some((r) => raises(r, keeperRoot, context))) continue;
    const message =
      `${where} keeps the caught exception \`${name}\` beyond its \`except\` block: ${KEPT_ALIVE}, for as long as ${where} lives; ` +
      `store \`${name}.with_traceback(None)\` or \`repr(${name})\` instead, or clear it when it has been used`;
    // Read back elsewhere (`exc.__context__ = self._cancelled_exc`, a report, a getter): whoever
    // reads it may need the traceback (asyncio's own tests check it), so stripping it is no fix.
    const readBack = slot !== undefined && (attributeReadElsewhere(context.root, slot, store.target) || inheritsFromElsewhere(node, context));
    const plainName = node.type === 'assignment' && store.target.type === 'identifier' ? (moduleLike ? undefined : `a ${outside.get(keeper)} name: LeakLens cannot see how long it keeps the value`) : undefined;
    reportKept({ node, message, fixes: readBack ? [] : [withTracebackFix(held, name)] }, store.target, keeperNode, scope, context, facts, plainName);
  }
  for (const call of binding.block.descendantsOfType('call')) {
    if (!call || storeOf(call) || !context.semantic.frameNodeOf(call).equals(scope) || !bindingHandler(call, binding.name, context)?.equals(clause)) continue;
    checkHelper(call, binding.name, context, facts);
  }
}

/** `self._record(e)` in a handler, where `_record` stores its argument on the instance. */
function checkHelper(call: Node, caught: Node, context: RuleContext, facts: FileFacts): void {
  const name = caught.text;
  for (const { store, target, helper } of helperStores(call, caught, context)) {
    const s = storeOf(store)!;
    const keeperNode = keeperOf(s.target, s.kind);
    const keeper = keeperNode.text;
    // Released in the helper, or by the method that calls it (`finally: del self.errors` around the work).
    const caller = context.semantic.frameNodeOf(call);
    if (facts.raisedLater(keeperNode, keeper) || releasedInFinally(helper, keeperNode, context) || releasedInFinally(caller, keeperNode, context, true)) continue;
    const message =
      `\`${call.text.replace(/\s+/g, ' ')}\` keeps the caught exception \`${name}\` in \`${keeper}\` (line ${context.lineRef(store.startIndex)}): ${KEPT_ALIVE}, ` +
      `for as long as \`${keeper}\` lives; pass \`${name}.with_traceback(None)\` or \`repr(${name})\` instead, or clear it when it has been used`;
    reportKept({ node: call, message, related: [{ start: store.startIndex, end: store.endIndex, message: 'the helper stores it here' }] }, target, keeperNode, helper, context, facts);
  }
}

/**
 * Is the store in a method of a class with a base defined in another file? That base may read the
 * attribute (asyncio's Task stores `_cancelled_exc` for `Future` in futures.py to chain).
 */
function inheritsFromElsewhere(node: Node, context: RuleContext): boolean {
  const fn = context.semantic.frameNodeOf(node);
  const cls = fn.type === 'function_definition' ? context.semantic.classOfMethod(fn) : undefined;
  if (!cls) return false;
  return context.semantic.classModel(cls).bases.some((b) => {
    if (b.qualified === 'object' || b.qualified === 'builtins.object') return false;
    const base = b.node.type === 'identifier' ? context.semantic.resolve(b.node) : [];
    return !(base.length === 1 && base[0].kind === 'class');
  });
}

/** Is attribute `slot` read (not stored) anywhere in the file but at `target`? */
function attributeReadElsewhere(root: Node, slot: string, target: Node): boolean {
  for (const a of root.descendantsOfType('attribute')) {
    if (!a || a.equals(target) || a.childForFieldName('attribute')?.text !== slot) continue;
    const parent = a.parent;
    if ((parent?.type === 'assignment' || parent?.type === 'augmented_assignment') && parent.childForFieldName('left')?.equals(a)) continue;
    if (parent?.type === 'delete_statement') continue;
    return true;
  }
  return false;
}

/** What part of sys.exc_info() the expression holds: the value and traceback, or only the type. */
function excInfoExpression(call: Node): { expr: Node; holdsTraceback: boolean; tuple: boolean } {
  const parent = call.parent;
  if (parent?.type === 'subscript' && parent.childForFieldName('value')?.equals(call)) {
    const index = unparenthesize(parent.childForFieldName('subscript') ?? parent).text;
    return { expr: parent, holdsTraceback: index !== '0' && index !== '-3', tuple: false };
  }
  return { expr: call, holdsTraceback: true, tuple: true };
}

function checkExcInfo(call: Node, context: RuleContext, facts: FileFacts): void {
  const fn = call.childForFieldName('function');
  const qualified = fn ? context.qualifiedName(fn) : undefined;
  if (qualified !== 'sys.exc_info' && qualified !== 'sys.exception') return;
  const isExcInfo = qualified === 'sys.exc_info';
  const { expr, holdsTraceback, tuple } = isExcInfo ? excInfoExpression(call) : { expr: call, holdsTraceback: true, tuple: false };
  if (!holdsTraceback) return;
  let holder = expr.parent;
  let value: Node = expr;
  while (holder?.type === 'parenthesized_expression') {
    value = holder;
    holder = holder.parent;
  }
  const scope = context.semantic.frameNodeOf(call);
  const shown = `${fn!.text}()${expr.equals(call) ? '' : expr.text.slice(call.text.length)}`;
  if (holder?.type === 'argument_list') {
    const store = storeOf(holder.parent!);
    if (!store || !store.value.equals(value)) return;
    const keeperNode = keeperOf(store.target, store.kind);
    const keeper = keeperNode.text;
    if (facts.raisedLater(keeperNode, keeper) || releasedInFinally(scope, keeperNode, context)) return;
    const message = `\`${keeper}\` keeps \`${shown}\`: ${KEPT_ALIVE}, for as long as \`${keeper}\` lives; store what you need from it (the type, \`repr()\` of the value, formatted lines) instead`;
    reportKept({ node: store.node, message }, store.target, keeperNode, scope, context, facts);
    return;
  }
  if (holder?.type !== 'assignment' || !holder.childForFieldName('right')?.equals(value)) return;
  const left = holder.childForFieldName('left');
  if (!left) return;
  if (left.type === 'attribute' || left.type === 'subscript') {
    const keeperNode = keeperOf(left, left.type);
    const keeper = keeperNode.text;
    if (facts.raisedLater(keeperNode, keeper) || releasedInFinally(scope, keeperNode, context)) return;
    const message = `\`${left.text}\` keeps \`${shown}\`: ${KEPT_ALIVE}, for as long as \`${left.text}\` lives; store what you need from it (the type, \`repr()\` of the value, formatted lines) instead`;
    reportKept({ node: holder, message }, left, keeperNode, scope, context, facts);
    return;
  }
  // Bound to names: which of them hold the value or the traceback?
  let names: Node[] = [];
  if (left.type === 'identifier') names = [left];
  else if ((left.type === 'pattern_list' || left.type === 'tuple_pattern') && tuple) {
    const items = left.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (items.length !== 3) return;
    names = items.slice(1).filter((i) => i.type === 'identifier');
  } else return;
  if (names.length === 0) return;
  const moduleLike = scope.type === 'module' || scope.type === 'class_definition';
  const outside = declaredOutside(scope, context);
  // A local forms a cycle only with a traceback that runs through this very frame: one caught
  // by an `except` clause of this function. Elsewhere (a helper called from a handler) the
  // traceback starts in the caller's frame and the local dies with this one.
  const inOwnHandler = insideHandler(holder, scope);
  const kept = names.filter((n) => {
    const { semantic } = context;
    if (semantic.raisedInFrame(scope, n.text) || semantic.aliasesOf(scope, n.text).some((a) => semantic.raisedInFrame(scope, a))) return false;
    // `del type, value, tb` after use (or in `finally`) releases it.
    if (semantic.deletedAfter(scope, n.text, holder.endIndex)) return false;
    if (moduleLike || outside.has(n.text)) return true;
    return inOwnHandler && !releasedInFinally(scope, n, context);
  });
  if (kept.length === 0) return;
  const list = kept.map((n) => `\`${n.text}\``).join(' and ');
  const verb = kept.length > 1 ? 'keep' : 'keeps';
  const del = `\`del ${kept.map((n) => n.text).join(', ')}\``;
  let message: string;
  let doubt: string;
  if (moduleLike || kept.some((n) => outside.has(n.text))) {
    message = `${list} ${verb} the traceback of \`${shown}\` in ${kept.length > 1 ? 'globals' : 'a global'}: every frame of that traceback, with all its local variables, stays alive for the life of the process or until it is replaced; ${del} once it has been used`;
    doubt = inTestCode(holder, context) ? 'test code' : 'one traceback at a time, replaced by the next: LeakLens cannot tell how much its frames hold';
  } else {
    message =
      `${list} ${verb} the traceback of \`${shown}\` in ${kept.length > 1 ? 'local variables' : 'a local variable'}: the traceback refers to this frame, which refers back to it, ` +
      `so the frames and all their local variables stay in memory until the cyclic garbage collector runs; ${del} in a \`finally\` block or right after use`;
    doubt = inTestCode(holder, context) ? 'test code' : 'a cycle of this frame on the error path: the collector frees it, LeakLens cannot tell how much it holds';
  }
  context.report({ node: holder, message: `${message} (low confidence: ${doubt})`, confidence: 'low' });
}

/** Is node inside an `except` clause of its own scope? */
function insideHandler(node: Node, scope: Node): boolean {
  for (let n = node.parent; n && !n.equals(scope); n = n.parent) {
    if (n.type === 'except_clause') return true;
    if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'class_definition') return false;
  }
  return false;
}

export const rule: Rule = {
  code: 'LL504',
  name: 'stored-traceback',
  category: 'cycles',
  defaultSeverity: 'warning',
  query: `
    (except_clause) @handler
    (call function: (attribute attribute: (identifier) @fn) (#any-of? @fn "exc_info" "exception")) @excinfo
    (call function: (identifier) @fn (#any-of? @fn "exc_info" "exception")) @excinfo
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const facts = new FileFacts(context);
    for (const match of matches) {
      const handler = match.captures.find((c) => c.name === 'handler');
      if (handler) checkHandler(handler.node, context, facts);
      const call = match.captures.find((c) => c.name === 'excinfo');
      if (call) checkExcInfo(call.node, context, facts);
    }
  },
  docs: {
    summary: 'A caught exception or `sys.exc_info()` kept beyond its handler, with its traceback.',
    whatItDoes:
      'Flags, on the store, an exception caught with `except … as e` that is kept after the `except` block: stored in an attribute (`self.error = e`), in a container (`errors.append(e)`, `results[key] = e`, also inside a tuple such as `errors.append((path, e))`), through a method of the class that stores its argument (`self._record(e)`), or in a global (a `global` name, or any name bound by a handler at module or class level). Also flags `sys.exc_info()` (also imported as `exc_info`; its value or traceback, or `sys.exception()`) stored in an attribute or container, or bound to local variables or globals that are not deleted afterwards. A finding is confident only when the exception is kept on the instance\'s own attribute (`self.x`, `self.x[k]`, `self.x.append(…)`) by a per-instance object — its class, or a base class in the file, has a `close()`-like method (`close`, `__exit__`, `connection_lost`, `shutdown`, `release` …) — that no other method clears (`self.x = None`, `del self.x`, `.clear()`, `.pop()` outside `__init__`), outside test code, and the function does not return it. Everything else is reported with low confidence (shown only with all-findings): other objects and local containers, globals and module-level names (an import-time error holds only import frames), local variables in a cycle with their own frame, classes without a teardown method, values the class clears itself or the function returns, and test code. Not flagged at all: handlers that re-raise (`raise`, `raise e`, `raise … from e`); stored exceptions that the code raises again later: a `raise` (or a helper such as `reraise(*self.errors[0])`) of the same attribute through any method of the same class (`self.error` stored in one method, `raise self.error` in another), of the same variable (`failures.append(e)` … `raise failures[0]`, also from a nested function), or of a list the function returns to a caller in the file that raises it; a raise of another object spelled alike does not count, and a store into a parameter counts as raised when some raise of the file spells it; names and containers deleted or cleared in a `finally` block (for a helper method\'s store, also a `finally` of the method that calls it: `finally: del self.errors`), or deleted after use (`del type, value, tb`; the same variable as the scope model resolves it — `del obj.tb` is not `del tb`); storing `str(e)`, `repr(e)` or attributes of the exception; `sys.exc_info()[0]` (the type alone).',
    whyLeak:
      "An exception's `__traceback__` refers to every frame between the handler and the point where it was raised, and each frame keeps all of its local variables: big buffers, open files, request objects. Python deletes the `as e` name at the end of the handler precisely to drop them; storing the exception elsewhere keeps them all alive as long as the store lives. Within a function the traceback also refers to the function's own frame, which holds the stored traceback: a reference cycle, freed only when the cyclic garbage collector runs, not when the function returns.",
    example:
      'class Connection:\n    def read(self):\n        try:\n            self.work()\n        except OSError as e:\n            self.error = e\n\n    def work(self):\n        raise OSError("reset by peer")\n\n    def close(self):\n        pass\n',
    useInstead:
      'class Connection:\n    def read(self):\n        try:\n            self.work()\n        except OSError as e:\n            self.error = e.with_traceback(None)\n\n    def work(self):\n        raise OSError("reset by peer")\n\n    def close(self):\n        pass\n',
    fixSafety:
      'The unsafe fix stores `e.with_traceback(None)` instead of `e`. `with_traceback` changes the exception in place and returns it, so the traceback is gone for everyone: a later bare `raise`, `logging.exception` or `traceback.print_exc()` in the same handler no longer shows where the error came from, and code that reads the stored exception\'s `__traceback__` gets `None`. Chained exceptions (`__cause__`, `__context__`) keep their own tracebacks. `sys.exc_info()` findings have no fix, nor an exception stored in an attribute the file reads back elsewhere, or in a class with a base from another file (to chain it, report it or hand it out: that reader may need the traceback — asyncio\'s `_cancelled_exc` is chained into the `CancelledError` and CPython\'s tests check its traceback).',
    options: 'None.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#except-clause',
      'https://docs.python.org/3/library/exceptions.html#BaseException.with_traceback',
      'https://docs.python.org/3/library/sys.html#sys.exc_info',
      'https://docs.python.org/3/library/gc.html',
    ],
  },
};
