// The semantic model of one analysed file: scopes and bindings, classes, control flow with
// exceptional paths and function summaries. The engine creates one per analysis and drops it
// with the analysis, so nothing here outlives the tree it describes; every part is built on the
// first question that needs it. Rules reach it as `RuleContext.semantic`.
import type { Node } from 'web-tree-sitter';
import { ClassModel, ClassTable, MethodModel } from './classes';
import { FlowDomain, FlowOutcome, runFlow } from './flow';
import { Binding, Scope, ScopeTable } from './scopes';
import { CatalogueLookup, FunctionSummaries, ParameterFate } from './summaries';
import { ValueClasses } from './values';

export type { Binding, BindingKind, Scope, ScopeKind } from './scopes';
export type { AttributeUse, ClassModel, MethodKind, MethodModel } from './classes';
export { GROWING_METHODS, REMOVING_METHODS, attributeUseKind } from './classes';
export type { FlowDomain, FlowOutcome } from './flow';
export { catchesAll } from './flow';
export { firstRaising, isAssertion, nodeMayRaise, plainAttributeRead } from './raising';
export type { ParameterFate } from './summaries';

export class SemanticModel<F = unknown> {
  readonly scopes: ScopeTable;
  readonly classes: ClassTable;
  readonly summaries: FunctionSummaries<F>;
  readonly qualifiedName: (node: Node) => string | undefined;
  private readonly memos = new Map<string, unknown>();
  private valueClasses?: ValueClasses;

  constructor(
    readonly root: Node,
    readonly text: string,
    qualifiedName: (node: Node) => string | undefined,
    catalogue: CatalogueLookup<F>,
  ) {
    this.scopes = new ScopeTable(root);
    this.qualifiedName = qualifiedName;
    this.classes = new ClassTable(this.scopes, qualifiedName);
    this.summaries = new FunctionSummaries(this.scopes, this.classes, catalogue);
  }

  /** The scope a node is evaluated in. */
  scopeOf(node: Node): Scope {
    return this.scopes.scopeOf(node);
  }

  /** The scope a module, def, class, lambda or comprehension opens. */
  scopeFor(node: Node): Scope {
    return this.scopes.scopeFor(node);
  }

  isBinding(id: Node): boolean {
    return this.scopes.isBinding(id);
  }

  /** The bindings a name read at `id` may see (empty for builtins and unknown names). */
  resolve(id: Node): Binding[] {
    return this.scopes.resolve(id);
  }

  classModel(cls: Node): ClassModel {
    return this.classes.model(cls);
  }

  method(fn: Node): MethodModel | undefined {
    return this.classes.method(fn);
  }

  classOfMethod(fn: Node): Node | undefined {
    return this.classes.classOfMethod(fn);
  }

  /** The def in this file a call invokes (a function name, or `self.m()`/`cls.m()`). */
  calleeDefinition(call: Node): Node | undefined {
    return this.summaries.calleeDefinition(call);
  }

  /** The resource a call returns fresh: a catalogue factory, or a function of this file that returns one. */
  resourceOfCall(call: Node): F | undefined {
    return this.summaries.resourceOfCall(call);
  }

  returnsFreshResource(def: Node): F | undefined {
    return this.summaries.returnsFresh(def);
  }

  parameterFates(def: Node): ParameterFate[] {
    return this.summaries.parameterFates(def);
  }

  /** Follows a body's control flow (with exceptional paths) under a domain. */
  flow<S>(domain: FlowDomain<S>, body: Node, entry: S): FlowOutcome<S> {
    return runFlow(domain, body, entry);
  }

  /** The library class of a value when the file shows it (`Path(p)`, `zf: ZipFile`, `with ZipFile(p) as zf`). */
  classOfValue(expr: Node): string | undefined {
    return (this.valueClasses ??= new ValueClasses(this.scopes, this.qualifiedName)).classOf(expr);
  }

  /** A value computed once per analysis (for facts several rules share). */
  memo<T>(key: string, compute: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    this.memos.set(key, value);
    return value;
  }
}
