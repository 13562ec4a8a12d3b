// Is a kept value (an exception stored on purpose) raised again? Answered on the model, not on
// spelling: a `raise` (or a raise helper's arguments, `reraise(*exc_info)`) that reads
// - the same attribute of the same class's instances, through the receiver of any method of the
//   class (`self.error` stored in one method, `raise this.error` in another);
// - the same variable (its reads as the scope model resolves them, nested functions included:
//   `failures.append(e)` … `raise failures[0]`); a function's variable that the function returns
//   counts as raised when a caller in the file binds the result and raises that (celery's
//   heartbeat list).
// A keeper rooted at a parameter, or at a name the model cannot resolve, is left undecided: the
// caller's object may be raised anywhere.
import type { Node } from 'web-tree-sitter';
import { statementsAtKeyword, unparenthesize } from '../syntax';
import type { SemanticModel } from './index';
import { chainFrom, placeOf } from './places';
import type { Scope } from './scopes';

const RAISE = new Set(['raise_statement']);
/** A call whose callee's name says it raises: `reraise(...)`, `six.raise_from(...)`, `raise_exc_info(exc)`. */
const RAISING_CALLEE = /raise/i;

export class Reraises {
  private raised?: Node[];

  constructor(private readonly semantic: SemanticModel) {}

  /** The expressions the file raises: the value and cause of each `raise`, the arguments of each raise helper call. */
  private raisedExpressions(): Node[] {
    if (this.raised) return this.raised;
    const out: Node[] = [];
    const { root, text } = this.semantic;
    // `statementsAtKeyword` looks for the word in the text and keeps only real `raise` statements.
    for (const r of statementsAtKeyword(root, text, 'raise', RAISE)) {
      for (const c of r.namedChildren) if (c && c.type !== 'comment') out.push(c);
    }
    for (const call of root.descendantsOfType('call')) {
      const fn = call?.childForFieldName('function');
      const name = fn?.type === 'attribute' ? fn.childForFieldName('attribute')?.text : fn?.text;
      if (call && name && RAISING_CALLEE.test(name)) out.push(call.childForFieldName('arguments') ?? call);
    }
    return (this.raised = out);
  }

  private insideRaised(node: Node): boolean {
    return this.raisedExpressions().some((e) => e.startIndex <= node.startIndex && node.endIndex <= e.endIndex);
  }

  /**
   * Is the value held at `keeper` (a name or an attribute chain: `errors`, `self.error`,
   * `state.last`) raised again? undefined when the model cannot say (a parameter, an unresolved name).
   */
  raisedAgain(keeper: Node, depth = 0): boolean | undefined {
    const chain = placeOf(keeper);
    if (!chain) return undefined;
    const { semantic } = this;
    const bindings = semantic.resolve(chain.root);
    if (bindings.length === 0) return undefined;
    const scope = bindings[0].scope;
    if (bindings.some((b) => b.kind === 'parameter')) {
      const fn = scope.node;
      const method = fn.type === 'function_definition' ? semantic.method(fn) : undefined;
      const isReceiver = !!method?.receiver && bindings.every((b) => b.node.equals(method.receiver!));
      if (!isReceiver || chain.path.length === 0) return undefined;
      return this.raisedThroughReceivers(semantic.classOfMethod(fn)!, chain.path);
    }
    if (this.variableRaised(scope, chain.root.text, chain.path)) return true;
    return depth === 0 && this.raisedByCallers(scope, chain.root.text, chain.path);
  }

  /** Does a method of `cls` raise `receiver.path…` through its own receiver? */
  private raisedThroughReceivers(cls: Node, path: string[]): boolean {
    const { semantic } = this;
    for (const m of semantic.classModel(cls).methods.values()) {
      const receiver = m.receiver;
      if (!receiver) continue;
      for (const e of this.raisedExpressions()) {
        if (e.startIndex < m.node.startIndex || e.endIndex > m.node.endIndex) continue;
        const ids = e.type === 'identifier' ? [e] : e.descendantsOfType('identifier');
        for (const id of ids) {
          if (!id || id.text !== receiver.text || !chainFrom(id, path)) continue;
          if (semantic.resolve(id).some((b) => b.node.equals(receiver))) return true;
        }
      }
    }
    return false;
  }

  /** Does a read of `scope`'s variable `name`, continued by `path`, stand in a raised expression? */
  private variableRaised(scope: Scope, name: string, path: string[]): boolean {
    return this.semantic.readsOf(scope, name).some((id) => chainFrom(id, path) !== undefined && this.insideRaised(id));
  }

  /**
   * The function owning the variable returns it, and a caller in the file binds the result to a
   * name (`errors = start(...)`) whose value it raises.
   */
  private raisedByCallers(scope: Scope, name: string, path: string[]): boolean {
    const { semantic } = this;
    const fn = scope.node;
    if (fn.type !== 'function_definition') return false;
    const returned = semantic.readsOf(scope, name).some((id) => {
      const p = id.parent;
      return p?.type === 'return_statement' && semantic.frameNodeOf(id).equals(fn);
    });
    const fnName = fn.childForFieldName('name');
    if (!returned || !fnName) return false;
    for (const id of semantic.nameOccurrences(fnName.text)) {
      const call = id.parent;
      if (call?.type !== 'call' || !call.childForFieldName('function')?.equals(id) || !semantic.calleeDefinition(call)?.equals(fn)) continue;
      const assign = call.parent;
      const left = assign?.type === 'assignment' && assign.childForFieldName('right')?.equals(call) ? assign.childForFieldName('left') : undefined;
      if (left?.type !== 'identifier') continue;
      const target = semantic.bindingAt(left);
      if (target && this.variableRaised(target.scope, left.text, path)) return true;
    }
    return false;
  }
}
