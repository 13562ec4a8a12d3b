// What LL504 (stored-traceback) weighs about a kept exception: the handler and the name it binds,
// whether the code raises it again (a `raise`, or a helper such as `reraise(*exc_info)`), hands it
// to the caller, or releases it (`del` in `finally` or right after use, reset to None).
import type { Node } from 'web-tree-sitter';
import { firstAttribute, inTestCode, ownSlot, resetElsewhere, resourceTeardown } from './cycle-evidence';
import { heldNames, rootIdentifier, storeOf, stripParens as unparenthesize } from './cycles';
import { statementsAtKeyword } from './syntax';
import type { RuleContext } from './types';

/** The name bound by `except E as name` (either tree shape), with the handler's block. */
export function handlerBinding(clause: Node): { name: Node; block: Node } | undefined {
  let name: Node | null | undefined = clause.childForFieldName('alias');
  if (!name) {
    const pattern = clause.namedChildren.find((c) => c?.type === 'as_pattern');
    const target = pattern?.childForFieldName('alias');
    name = target?.type === 'as_pattern_target' ? target.namedChild(0) : target;
  }
  const block = clause.namedChildren.find((c) => c?.type === 'block');
  if (name?.type !== 'identifier' || !block) return undefined;
  return { name, block };
}

/** Names declared `global` or `nonlocal` in a scope, with the keyword (from the scope model). */
export function declaredOutside(scope: Node, context: RuleContext): Map<string, string> {
  const names = new Map<string, string>();
  if (scope.type === 'module') return names;
  const s = context.semantic.scopeFor(scope);
  for (const name of s.globals) names.set(name, 'global');
  for (const name of s.nonlocals) names.set(name, 'nonlocal');
  return names;
}

/** The nearest handler around node (in its frame) that binds the variable `caught` binds. */
export function bindingHandler(node: Node, caught: Node, context: RuleContext): Node | undefined {
  for (let n = node.parent; n; n = n.parent) {
    const bound = n.type === 'except_clause' ? handlerBinding(n)?.name : undefined;
    if (bound && context.semantic.samePlace(bound, caught)) return n;
    if (n.type === 'function_definition' || n.type === 'lambda' || n.type === 'class_definition') return undefined;
  }
  return undefined;
}

/**
 * Does a `raise` statement raise (or chain from) the variable `name` (an identifier that binds or
 * reads it)? A bare `raise` re-raises the handler's exception. Reads as the scope model resolves them.
 */
export function raises(stmt: Node, name: Node, context: RuleContext): boolean {
  const value = stmt.namedChildren.find((c) => c && c.type !== 'comment');
  if (!value) return true; // bare `raise`
  return context.semantic.readsOfPlace(name).some((r) => r.startIndex >= stmt.startIndex && r.endIndex <= stmt.endIndex);
}

/** The `raise` statements of the file, found once per analysis. */
export class FileFacts {
  private raiseStatements?: Node[];
  private raiseCalls?: Node[];

  constructor(private readonly context: RuleContext) {}

  /**
   * Is what `keeper` holds (`expr` is its text) raised again later (`raise self.error`, `raise
   * errors[0]`, `reraise(*self.exc_info)`)? The semantic model answers for the same variable and
   * for the same attribute of the class's instances (`SemanticModel.raisedAgain`); a keeper rooted
   * at a parameter (the caller's object) or at something the model cannot follow is raised when
   * some raise of the file spells it.
   *
   * That spelled fallback is kept on purpose (issue 15): the caller's object reaches such a
   * parameter through calls the model does not follow (`threading.Thread(target=f, args=(d,
   * exc))` in the stdlib's test_weakref, then `raise exc[0]` in the enclosing function; callers in
   * other files). Following only the file's direct calls (`calleeDefinition`) answers neither, so
   * it would turn those kept-and-raised lists back into findings (raised_later.py).
   */
  raisedLater(keeper: Node, expr: string): boolean {
    const answer = this.context.semantic.raisedAgain(keeper);
    if (answer !== undefined) return answer;
    return this.spelledInSomeRaise(expr);
  }

  private spelledInSomeRaise(expr: string): boolean {
    // `statementsAtKeyword` looks for the word in the text and keeps only real `raise` statements.
    this.raiseStatements ??= statementsAtKeyword(this.context.root, this.context.text, 'raise', RAISE);
    if (this.raiseStatements.some((r) => r.namedChildren.some((c) => !!c && c.type !== 'comment' && usesExpression(c, expr)))) return true;
    // `reraise(*self.errors[0])`, `util.raise_(err)`, `raise_exc_info(exc)`: a helper re-raises it.
    this.raiseCalls ??= this.context.root.descendantsOfType('call').filter((c): c is Node => {
      const fn = c?.childForFieldName('function');
      const name = fn?.type === 'attribute' ? fn.childForFieldName('attribute')?.text : fn?.text;
      return !!name && /raise/i.test(name);
    });
    return this.raiseCalls.some((c) => usesExpression(c.childForFieldName('arguments') ?? c, expr));
  }

  /**
   * Does a `return` of `scope` (or of a function nested in it) hand out what `keeper` holds
   * (`return errors`, `return self.error`)? The semantic model follows the keeper's variable.
   */
  returned(keeper: Node, scope: Node): boolean {
    return this.context.semantic.returnedFrom(keeper, scope);
  }
}

const RAISE = new Set(['raise_statement']);


/**
 * Does a `finally` block in this scope delete, clear or reset the place `keeper` (`del x`,
 * `x = None`, `a = x = None`, `x.clear()`)? The same place as the semantic model sees it: the same
 * variable, or the same attributes of it; with `onInstance`, also the same attribute reached
 * through the receiver of another method of the class (a caller of the helper that stores it).
 */
export function releasedInFinally(scope: Node, keeper: Node, context: RuleContext, onInstance = false): boolean {
  const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
  if (!body) return false;
  const same = (n: Node | null | undefined) => !!n && (context.semantic.samePlace(n, keeper) || (onInstance && context.semantic.sameInstanceAttribute(n, keeper)));
  for (const fin of body.descendantsOfType('finally_clause')) {
    if (!fin || !context.semantic.frameNodeOf(fin).equals(scope)) continue;
    for (const n of fin.descendantsOfType(['delete_statement', 'assignment', 'call'])) {
      if (!n || !context.semantic.frameNodeOf(n).equals(scope)) continue;
      if (n.type === 'delete_statement') {
        if (n.namedChildren.flatMap((c) => (c?.type === 'expression_list' ? c.namedChildren : [c])).some(same)) return true;
      } else if (n.type === 'assignment') {
        // `x = None`, and each target of a chain `a = x = None`.
        let last: Node | null = n;
        while (last?.type === 'assignment' && last.childForFieldName('right')?.type === 'assignment') last = last.childForFieldName('right');
        if (same(n.childForFieldName('left')) && unparenthesize(last?.childForFieldName('right') ?? n).type === 'none') return true;
      } else {
        const fn = n.childForFieldName('function');
        if (fn?.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'clear' && same(fn.childForFieldName('object'))) return true;
      }
    }
  }
  return false;
}


/**
 * Why keeping an exception (with its traceback) at `target` is not a confident finding, if it is
 * not: only an attribute of a per-instance object (its class has a `close()`-like method) that no
 * other method clears, outside test code, is. `scope` is the frame that makes the store.
 */
export function keeperDoubt(node: Node, target: Node, scope: Node, context: RuleContext): string | undefined {
  if (inTestCode(node, context)) return 'test code: it lives for one test';
  if (scope.type !== 'function_definition') return 'kept at import time, where the traceback holds only the frames of the import';
  const m = context.semantic.method(scope);
  const self = m?.kind === 'instance' ? m.receiver?.text : undefined;
  const cls = context.semantic.classOfMethod(scope);
  if (!self || !cls || !ownSlot(target, scope, context)) return 'LeakLens cannot see how long the object that keeps it lives';
  const attr = firstAttribute(target, scope, context);
  if (attr && resetElsewhere(cls, attr, scope, context)) return `the class clears \`${self}.${attr}\` itself, so it is kept until then`;
  if (!resourceTeardown(cls, context)) return `\`${context.semantic.classModel(cls).name}\` has no \`close()\`-like method: LeakLens cannot tell whether its instances are many or live for the whole run`;
  return undefined;
}

/**
 * `self._record(e)` in a handler, where the method `_record` of the class stores its parameter on
 * the instance (`self.errors.append(exc)`): the stores in the helper that keep the argument.
 */
export function helperStores(call: Node, caught: Node, context: RuleContext): Array<{ store: Node; target: Node; helper: Node }> {
  const args = call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
  const index = args.findIndex((a) => a.type === 'identifier' && context.semantic.refersTo(a, caught));
  if (index < 0) return [];
  const helper = context.semantic.calleeDefinition(call);
  if (helper?.type !== 'function_definition' || context.semantic.method(helper)?.kind !== 'instance') return [];
  const params = (helper.childForFieldName('parameters')?.namedChildren ?? []).filter((p): p is Node => !!p && p.type !== 'comment');
  const p = params[index + 1];
  const param = p?.type === 'identifier' ? p : p?.childForFieldName('name');
  if (param?.type !== 'identifier') return [];
  const out: Array<{ store: Node; target: Node; helper: Node }> = [];
  for (const node of helper.childForFieldName('body')?.descendantsOfType(['assignment', 'call']) ?? []) {
    if (!node || !context.semantic.frameNodeOf(node).equals(helper)) continue;
    const store = storeOf(node);
    if (!store || !context.semantic.isReceiverOf(rootIdentifier(store.target), helper)) continue;
    if (heldNames(store.value).some((id) => context.semantic.refersTo(id, param))) out.push({ store: node, target: store.target, helper });
  }
  return out;
}

/**
 * Does the code of `node` use the expression `expr` (a name, or a dotted chain such as
 * `self.errors`) as a value or as the start of a longer chain (`self.errors[0]`,
 * `self.errors.pop()`)? Attribute names (`x.errors`), keyword names and text in strings do not count.
 * Spelling only: the fallback of `FileFacts.raisedLater` for keepers the model leaves undecided.
 */
function usesExpression(node: Node, expr: string): boolean {
  const wanted = expr.replace(/\s+/g, '');
  const dotted = wanted.includes('.');
  const candidates = dotted ? (node.type === 'attribute' ? [node, ...node.descendantsOfType('attribute')] : node.descendantsOfType('attribute')) : node.type === 'identifier' ? [node] : node.descendantsOfType('identifier');
  for (const c of candidates) {
    if (!c || c.text.replace(/\s+/g, '') !== wanted) continue;
    const p = c.parent;
    if (!dotted && p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(c)) continue;
    if (!dotted && p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(c)) continue;
    return true;
  }
  return false;
}
