// Function summaries inside one file: does a function return a fresh resource (directly, or
// through another function of the file, `self.method()` / `cls.method()` included), and what does
// it do with each parameter (release it, store or return it, or only use it)?
//
// "Returns a fresh resource" is computed on demand to a fixed point: a call that reaches a
// function already being summarised (recursion) is first taken as not fresh, and the summaries of
// such cycles are recomputed until nothing changes.
import type { Node } from 'web-tree-sitter';
import { GROWING_METHODS, type ClassTable } from './classes';
import type { ScopeTable } from './scopes';

/** What the file's catalogue says about a call: the resource it makes, if any. */
export type CatalogueLookup<F> = (call: Node) => F | undefined;

export type ParameterFate = 'released' | 'kept' | 'used';

const RELEASE_METHODS = new Set(['close', 'shutdown', 'terminate', 'kill', 'wait', 'communicate', 'cleanup', 'quit', 'logout', 'detach']);

/** The nodes of a function's own body (not of nested defs, classes and lambdas) that summaries look at. */
interface OwnNodes {
  yields: Node[];
  returns: Node[];
  calls: Node[];
}

function collectOwn(fn: Node): OwnNodes {
  const out: OwnNodes = { yields: [], returns: [], calls: [] };
  const body = fn.childForFieldName('body');
  if (!body) return out;
  // One walk per function, iterative (deep expressions must not exhaust the stack).
  const stack: Node[] = [body];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (let i = n.namedChildCount - 1; i >= 0; i--) {
      const c = n.namedChild(i);
      if (!c || c.type === 'function_definition' || c.type === 'class_definition' || c.type === 'lambda') continue;
      if (c.type === 'yield') out.yields.push(c);
      else if (c.type === 'return_statement') out.returns.push(c);
      else if (c.type === 'call') out.calls.push(c);
      stack.push(c);
    }
  }
  return out;
}

function unparen(n: Node): Node {
  while (n.type === 'parenthesized_expression' && n.namedChild(0)) n = n.namedChild(0)!;
  return n;
}

export class FunctionSummaries<F> {
  private readonly fresh = new Map<number, F | null>();
  private readonly inProgress = new Set<number>();
  private hitCycle = false;
  private readonly fates = new Map<number, ParameterFate[]>();
  private readonly own = new Map<number, OwnNodes>();

  constructor(
    private readonly scopes: ScopeTable,
    private readonly classes: ClassTable,
    private readonly catalogue: CatalogueLookup<F>,
  ) {}

  private ownNodes(def: Node): OwnNodes {
    let known = this.own.get(def.id);
    if (!known) this.own.set(def.id, (known = collectOwn(def)));
    return known;
  }

  /** The def a call's callee refers to in this file: a function name, or `self.m` / `cls.m` of the enclosing class. */
  calleeDefinition(call: Node): Node | undefined {
    const fn = call.childForFieldName('function');
    if (!fn) return undefined;
    if (fn.type === 'identifier') {
      const bindings = this.scopes.resolve(fn);
      if (bindings.length !== 1 || bindings[0].kind !== 'function') return undefined;
      return bindings[0].node.parent ?? undefined;
    }
    if (fn.type === 'attribute') {
      const object = fn.childForFieldName('object');
      const name = fn.childForFieldName('attribute')?.text;
      if (object?.type !== 'identifier' || !name) return undefined;
      // The receiver of the method this call is in.
      const scope = this.scopes.scopeOf(object);
      const owner = this.scopes.resolveScope(object.text, scope);
      if (!owner || owner.kind !== 'function') return undefined;
      const method = this.classes.method(owner.node);
      if (!method?.receiver || method.receiver.text !== object.text) return undefined;
      const cls = this.classes.classOfMethod(owner.node);
      const target = cls ? this.classes.model(cls).methods.get(name) : undefined;
      // `self.m()` of a static method or property is not a plain call of m.
      if (!target || target.kind === 'property') return undefined;
      return target.node;
    }
    return undefined;
  }

  /** The resource a call returns fresh: the catalogue's, or that of a function of this file. */
  resourceOfCall(call: Node): F | undefined {
    const known = this.catalogue(call);
    if (known) return known;
    const def = this.calleeDefinition(call);
    return def ? this.returnsFresh(def) : undefined;
  }

  /** The resource a function returns fresh on some path, if any. Generators and context managers return none. */
  returnsFresh(def: Node): F | undefined {
    const known = this.fresh.get(def.id);
    if (known !== undefined) return known ?? undefined;
    if (this.inProgress.has(def.id)) {
      this.hitCycle = true;
      return undefined;
    }
    const outermost = this.inProgress.size === 0;
    let result: F | undefined;
    for (let pass = 0; pass < 4; pass++) {
      this.inProgress.add(def.id);
      this.hitCycle = false;
      result = this.computeFresh(def);
      this.inProgress.delete(def.id);
      if (!this.hitCycle || !outermost) break;
      // A cycle was cut: record what we know and try again with it.
      if (result === undefined) break;
      this.fresh.set(def.id, result);
    }
    if (outermost || !this.hitCycle) this.fresh.set(def.id, result ?? null);
    return result;
  }

  private computeFresh(def: Node): F | undefined {
    const name = def.childForFieldName('name')?.text ?? '';
    if (name === '__enter__' || name === '__aenter__' || name === '__init__') return undefined;
    // A text pre-filter only: a body without the word `return` returns nothing.
    if (!def.childForFieldName('body')?.text.includes('return')) return undefined;
    if (this.ownNodes(def).yields.length > 0) return undefined;
    const parent = def.parent;
    if (parent?.type === 'decorated_definition') {
      // `@contextmanager`, `@property`, `@cached_property`…: not a plain factory.
      if (parent.namedChildren.some((d) => d?.type === 'decorator')) return undefined;
    }
    const scope = this.scopes.scopeFor(def);
    for (const ret of this.ownNodes(def).returns) {
      const value = ret.namedChild(0);
      if (!value) continue;
      const v = unparen(value);
      if (v.type === 'call') {
        const r = this.resourceOfCall(v);
        if (r) return r;
        continue;
      }
      if (v.type !== 'identifier') continue;
      const bindings = scope.isLocal(v.text) ? scope.bindingsOf(v.text) : [];
      if (bindings.length === 0) continue;
      // Every binding of the name is `name = <fresh resource>` and the function never releases it.
      let resource: F | undefined;
      let ok = true;
      for (const b of bindings) {
        const assign = b.node.parent;
        const right = assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(b.node) ? assign.childForFieldName('right') : null;
        const r = right && unparen(right).type === 'call' ? this.resourceOfCall(unparen(right)) : undefined;
        if (!r) {
          ok = false;
          break;
        }
        resource ??= r;
      }
      if (!ok || !resource) continue;
      if (this.releasesName(def, v.text)) continue;
      // `self._pool.append(conn); return conn`: the object keeps it too, so the caller gets a
      // shared resource, not one of its own to release.
      if (this.recordsName(scope.references.get(v.text) ?? [])) continue;
      return resource;
    }
    return undefined;
  }

  /** Is one of these reads of a name stored in an attribute, a subscript or a container (`x.items.append(name)`, `self.d[k] = name`)? */
  private recordsName(refs: readonly Node[]): boolean {
    return refs.some((r) => {
      const parent = r.parent;
      if (parent?.type === 'assignment' && parent.childForFieldName('right')?.equals(r)) {
        const left = parent.childForFieldName('left')?.type;
        return left === 'attribute' || left === 'subscript';
      }
      if (parent?.type !== 'argument_list') return false;
      const fn = parent.parent?.childForFieldName('function');
      return fn?.type === 'attribute' && fn.childForFieldName('object')?.type !== 'identifier' && GROWING_METHODS.has(fn.childForFieldName('attribute')?.text ?? '');
    });
  }

  /** Does the function release `name` itself, or schedule its release (`self.addCleanup(name.close)`)? */
  private releasesName(def: Node, name: string): boolean {
    for (const call of this.ownNodes(def).calls) {
      const fn = call.childForFieldName('function');
      if (fn?.type === 'attribute') {
        const obj = fn.childForFieldName('object');
        if (obj?.type === 'identifier' && obj.text === name && RELEASE_METHODS.has(fn.childForFieldName('attribute')?.text ?? '')) return true;
      }
      for (const arg of call.childForFieldName('arguments')?.namedChildren ?? []) {
        if (arg?.type !== 'attribute') continue;
        const obj = arg.childForFieldName('object');
        if (obj?.type === 'identifier' && obj.text === name && RELEASE_METHODS.has(arg.childForFieldName('attribute')?.text ?? '')) return true;
      }
    }
    return false;
  }

  /**
   * What a function of this file does with each of its parameters (in order): releases it
   * (`p.close()`, `with p:`), keeps it (returns it, stores it in an attribute, a container or a
   * global, passes it to another call), or only uses it.
   */
  parameterFates(def: Node): ParameterFate[] {
    const known = this.fates.get(def.id);
    if (known) return known;
    const params = (def.childForFieldName('parameters')?.namedChildren ?? []).filter((p): p is Node => !!p && p.type !== 'comment');
    const scope = this.scopes.scopeFor(def);
    const out: ParameterFate[] = params.map((p) => {
      const id = scope.bindingsOf(p.type === 'identifier' ? p.text : (p.childForFieldName('name') ?? p.namedChild(0))?.text ?? '').find((b) => b.kind === 'parameter');
      if (!id) return 'kept';
      const refs = (scope.references.get(id.name) ?? []).filter((r) => r.startIndex > id.node.endIndex);
      if (scope.bindingsOf(id.name).length > 1) return 'kept';
      // A nested function sees it: kept beyond the call.
      if (this.scopes.capturedInside(scope, id.name)) return 'kept';
      let fate: ParameterFate = 'used';
      for (const r of refs) {
        const f = referenceFate(r);
        if (f === 'kept') return 'kept';
        if (f === 'released') fate = 'released';
      }
      return fate;
    });
    this.fates.set(def.id, out);
    return out;
  }
}

/** What one read of a parameter does with it. */
function referenceFate(id: Node): ParameterFate {
  const parent = id.parent;
  if (!parent) return 'kept';
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(id)) {
    const call = parent.parent;
    const method = parent.childForFieldName('attribute')?.text ?? '';
    if (call?.type === 'call' && call.childForFieldName('function')?.equals(parent) && RELEASE_METHODS.has(method)) return 'released';
    return 'used';
  }
  if (parent.type === 'with_item' || (parent.type === 'as_pattern' && parent.parent?.type === 'with_item')) return 'released';
  if (parent.type === 'argument_list' || parent.type === 'keyword_argument') return 'kept';
  if (parent.type === 'return_statement' || parent.type === 'yield') return 'kept';
  if (parent.type === 'assignment' && parent.childForFieldName('right')?.equals(id)) return 'kept';
  if (['list', 'tuple', 'set', 'dictionary', 'pair', 'expression_list'].includes(parent.type)) return 'kept';
  return 'used';
}
