// The semantic model of one analysed file: scopes and bindings, classes, control flow with
// exceptional paths and function summaries. The engine creates one per analysis and drops it
// with the analysis, so nothing here outlives the tree it describes; every part is built on the
// first question that needs it. Rules reach it as `RuleContext.semantic`.
import type { Node } from 'web-tree-sitter';
import { ClassAttributes } from './class-attributes';
import { Reraises } from './reraise';
import { aliasesOf, deletedAfter, isReceiverOf, keyOfPlace, placeKey, placeOf, raisedInFrame, readsOfPlace, refersTo, returnedFrom, sameInstanceAttribute, samePlace } from './places';
import { ClassModel, ClassTable, MethodModel } from './classes';
import { FlowDomain, FlowOutcome, runFlow } from './flow';
import { ContainerConstruction, containerConstruction, Origin, originOf } from './growth';
import { Binding, nameOccurrences, Scope, ScopeTable } from './scopes';
import { ConstantSizes, type Estimate } from './sizes';
import { isRegistrationDecorator, ModuleContainer, moduleContainers, prunedThroughAlias, runsOnlyAtImport } from './containers';
import { CatalogueLookup, FunctionSummaries, ParameterFate } from './summaries';
import { ValueClasses } from './values';

export type { Binding, BindingKind, Scope, ScopeKind } from './scopes';
export type { AttributeUse, ClassModel, MethodKind, MethodModel } from './classes';
export { GROWING_METHODS, REMOVING_METHODS, attributeUseKind, containerUseKind } from './classes';
export type { FlowDomain, FlowOutcome } from './flow';
export { catchesAll, handlerTypes } from './flow';
export type { ContainerConstruction, ContainerKind, Origin } from './growth';
export { CONTAINER_KIND_NAMES, isTestModule } from './growth';
export { allRaising, callArguments, firstRaising, isAssertion, nodeMayRaise, plainAttributeRead, rarelyRaises } from './raising';
export type { OpenedFile, RaiseContext } from './raising';
export type { ParameterFate } from './summaries';
export type { Estimate } from './sizes';
export type { ModuleContainer } from './containers';
export type { ClassAttributeAccess, ClassAttributeMethod, WeakVerdict } from './class-attributes';
export { basesOf, bodyAssigns, instanceKind, isClassKey } from './class-attributes';
export { boundedByGuard, isConstantKey, isNewObject } from './containers';
export { argumentsOf, callee, isBuiltin, literalString, loopTargets } from './sizes';
export { placeOf } from './places';
export type { Place } from './places';

const COMPREHENSION_NODES = new Set(['list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);

export class SemanticModel<F = unknown> {
  readonly scopes: ScopeTable;
  readonly classes: ClassTable;
  readonly summaries: FunctionSummaries<F>;
  readonly qualifiedName: (node: Node) => string | undefined;
  private readonly memos = new Map<string, unknown>();
  private valueClasses?: ValueClasses;
  private constantSizes?: ConstantSizes;
  private readonly importTime = new Map<number, boolean>();
  private attributesOfClasses?: ClassAttributes;
  private reraises?: Reraises;

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

  /**
   * The node of the scope whose own code holds `node`: a def, lambda, class, comprehension, or the
   * module (the tree's root). A def's decorators, defaults and annotations belong to the scope
   * around it.
   */
  scopeNodeOf(node: Node): Node {
    return this.scopes.enclosingScopeNode(node);
  }

  /** Is `node` the own code of the scope opened by `scopeNode` (not of a scope nested in it)? */
  inScope(node: Node, scopeNode: Node): boolean {
    return this.scopeNodeOf(node).equals(scopeNode);
  }

  /**
   * The function, class or module scope around `node`, comprehensions skipped: the frame whose code
   * runs it (a comprehension's code runs when, and where, the expression is evaluated).
   */
  frameNodeOf(node: Node): Node {
    // No scope is built to answer this.
    let n = this.scopeNodeOf(node);
    while (COMPREHENSION_NODES.has(n.type)) n = this.scopeNodeOf(n);
    return n;
  }

  /**
   * The def or lambda whose call runs `node` (class bodies and comprehensions run in the frame
   * around them); undefined when it runs at import time (module level, or a class body there).
   */
  functionRunning(node: Node): Node | undefined {
    let f = this.frameNodeOf(node);
    while (f.type === 'class_definition') f = this.frameNodeOf(f);
    return f.type === 'function_definition' || f.type === 'lambda' ? f : undefined;
  }

  /**
   * Every read of `name` that resolves to `scope`'s variable: in `scope` itself and in the scopes
   * nested in it that do not bind the name themselves.
   */
  readsOf(scope: Scope, name: string): Node[] {
    const out: Node[] = [];
    const visit = (s: Scope): void => {
      const refs = s.references.get(name);
      if (refs && this.scopes.resolveScope(name, s) === scope) out.push(...refs);
      for (const c of s.childNodes) {
        const child = this.scopes.scopeFor(c);
        if (!child.isLocal(name)) visit(child);
      }
    };
    visit(scope);
    return out;
  }

  /**
   * Does the def or lambda `fn` (or a scope nested in it) read `name` as a variable of a scope around
   * `fn` — a free variable its closure holds? A parameter or local of the same name is its own.
   */
  readsFromEnclosing(fn: Node, name: string): boolean {
    const scope = this.scopes.scopeFor(fn);
    if (scope.isLocal(name) || !scope.parent) return false;
    const outer = this.scopes.resolveScope(name, scope.parent);
    if (!outer || outer.kind === 'module') return false;
    const reads = (s: Scope): boolean => {
      if (s.isLocal(name) && !s.nonlocals.has(name)) return false;
      if ((s.references.has(name) || s.nonlocals.has(name)) && this.scopes.resolveScope(name, s) === outer) return true;
      return s.childNodes.some((c) => reads(this.scopes.scopeFor(c)));
    };
    return reads(scope);
  }

  /**
   * The identifiers spelled `name` in [start, end) that are names (bindings, reads, `global` and
   * `del` targets; not `x.name` attributes nor keyword-argument names), in document order.
   */
  nameOccurrences(name: string, start = 0, end = this.text.length): Node[] {
    return nameOccurrences(this.root, this.text, name, start, end);
  }

  /** The same, kept to those that are `scope`'s variable `name` (Python's scoping rules). */
  variableOccurrences(scope: Scope, name: string, start = 0, end = this.text.length): Node[] {
    return this.nameOccurrences(name, start, end).filter((id) => this.scopes.resolveScope(name, this.scopes.scopeOf(id)) === scope);
  }

  isBinding(id: Node): boolean {
    return this.scopes.isBinding(id);
  }

  /** The binding an identifier makes (with its kind: assignment, augmented, loop, …), if it makes one. */
  bindingAt(id: Node): Binding | undefined {
    return this.scopes.bindingAt(id);
  }

  /** The bindings a name read at `id` may see (empty for builtins and unknown names). */
  resolve(id: Node): Binding[] {
    return this.scopes.resolve(id);
  }

  classModel(cls: Node): ClassModel {
    return this.classes.model(cls);
  }

  /**
   * The class a module binds to `name` with a class statement (at the top level or under a
   * module-level `if`/`try`), the first one; for following base classes named in a class header.
   */
  moduleClass(name: string): Node | undefined {
    const binding = this.scopes.module.bindingsOf(name).find((b) => b.kind === 'class');
    const cls = binding?.node.parent;
    return cls?.type === 'class_definition' ? cls : undefined;
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

  /**
   * Where a key or element added to a container in `fn` comes from: a small fixed domain, one per
   * object (`id(x)`, `self` — `receiver` names the method's receiver), a parameter of `fn`, or unknown.
   */
  originOf(expr: Node, fn: Node, receiver?: string): Origin {
    return originOf(expr, fn, this.scopes, receiver);
  }

  /**
   * The container a value builds (`[]`, `dict()`, `collections.deque(maxlen=10)`, `typing.Counter()`),
   * from the one table of container constructors in growth.ts, the callee resolved through the
   * file's imports.
   */
  containerBuilt(value: Node): ContainerConstruction | undefined {
    return containerConstruction(value, this.qualifiedName);
  }

  /**
   * What a constant expression builds (`[0] * N`, `list(range(N))`, a comprehension over ranges,
   * `numpy.zeros(shape)`, a literal), estimated in elements and bytes; undefined when unknown.
   */
  constantSize(expr: Node): Estimate | undefined {
    return this.sizes().sizeOf(expr);
  }

  /** The value of a constant integer expression: literals, arithmetic, module-level names bound once. */
  constantInt(expr: Node): number | undefined {
    return this.sizes().intValue(expr);
  }

  /** The number of items of `range(…)` with constant arguments. */
  rangeLength(expr: Node): number | undefined {
    return this.sizes().rangeLength(expr);
  }

  private sizes(): ConstantSizes {
    return (this.constantSizes ??= new ConstantSizes(this.root, this.qualifiedName));
  }

  /**
   * The containers the module binds to plain names (top level and module-level blocks), every
   * binding in document order, with what each builds (the one table of constructors).
   */
  moduleContainers(): ModuleContainer[] {
    return this.memo('semantic:moduleContainers', () => moduleContainers(this.root, this));
  }

  /**
   * Does the def (or `name = lambda …`) `fn` only ever run at import time: a module-level function
   * whose every use is a call or decoration made at import time (also from other such functions),
   * or a `del` of it; or a def inside such a function that it only calls or returns?
   */
  runsOnlyAtImport(fn: Node): boolean {
    return runsOnlyAtImport(fn, this.importTime, this);
  }

  /** Is the container read at `expr` copied to a local alias that takes entries out (`items = _pending; items.pop()`)? */
  prunedThroughAlias(expr: Node): boolean {
    return prunedThroughAlias(expr, this);
  }

  /**
   * Is `fn` a registration decorator for what it stores (`stored`, or the object of an attribute
   * chain ending in it): a parameter that the function also returns (`def register(f): _all.append(f); return f`)?
   */
  isRegistrationDecorator(fn: Node, stored: Node | null | undefined): boolean {
    return isRegistrationDecorator(fn, stored, this);
  }

  /**
   * Class attributes seen from the whole file: what an `obj.NAME` means for a class binding NAME
   * (`access`), the method of a class a node sits in (`methodOf`), and whether the class's
   * instances can be held weakly (`weakVerdict`).
   */
  get classAttributes(): ClassAttributes {
    return (this.attributesOfClasses ??= new ClassAttributes(this));
  }

  /**
   * Is the value kept at `keeper` (a name or attribute chain: `errors`, `self.error`) raised again:
   * by a `raise` or a raise helper reading the same variable (nested functions included; a
   * function's variable it returns, when a caller binds the result and raises it), or the same
   * attribute through the receiver of any method of the same class? undefined when the model
   * cannot say: a parameter (the caller's object), a name it cannot resolve, another expression.
   */
  raisedAgain(keeper: Node): boolean | undefined {
    return (this.reraises ??= new Reraises(this)).raisedAgain(keeper);
  }

  /**
   * Are two expressions the same place (`errors`, `self.error`): roots that resolve to the same
   * variable, the same attribute names after them? (semantic/places.ts)
   */
  samePlace(a: Node, b: Node): boolean {
    return samePlace(a, b, this);
  }

  /** Are two expressions the same attribute of the same class's instances, each through a method's receiver? */
  sameInstanceAttribute(a: Node, b: Node): boolean {
    return sameInstanceAttribute(a, b, this);
  }

  /** The reads of the place `keeper` names (its root variable's reads, continued by the same attributes). */
  readsOfPlace(keeper: Node): Node[] {
    return readsOfPlace(keeper, this);
  }

  /** Does a `return` inside `fn` (nested functions included) hand out the value at `keeper`, or one built on it? */
  returnedFrom(keeper: Node, fn: Node): boolean {
    return returnedFrom(keeper, fn, this);
  }

  /** Does a `raise` of `frame`'s own code raise (or chain from) `frame`'s variable `name`? */
  raisedInFrame(frame: Node, name: string): boolean {
    return raisedInFrame(frame, name, this);
  }

  /** The plain names `frame`'s own code binds to the value of its variable `name` (`alias = name`). */
  aliasesOf(frame: Node, name: string): string[] {
    return aliasesOf(frame, name, this);
  }

  /** Is `frame`'s variable `name` deleted (`del name`) by `frame`'s own code at or after offset `after`? */
  deletedAfter(frame: Node, name: string, after: number): boolean {
    return deletedAfter(frame, name, after, this);
  }

  /** Is `id` the variable bound at `binding` (the binding itself, or a read resolving to it)? (semantic/places.ts) */
  refersTo(id: Node | null | undefined, binding: Node): boolean {
    return refersTo(id, binding, this);
  }

  /** Is `id` the receiver (`self`) of the instance method or property `fn`? */
  isReceiverOf(id: Node | null | undefined, fn: Node): boolean {
    return isReceiverOf(id, fn, this);
  }

  /**
   * A key naming the place `expr` is (a variable, or attributes of it; an attribute through a
   * method's receiver keyed by its class), for sets of places; undefined for other expressions.
   */
  placeKey(expr: Node): string | undefined {
    return placeKey(expr, this);
  }

  /** The key (as `placeKey`) of attribute `name` of the place `object`, for stores spelled without that chain (`setattr(o, "name", v)`). */
  attributeKey(object: Node, name: string): string | undefined {
    const place = placeOf(object);
    return place ? keyOfPlace({ root: place.root, path: [...place.path, name] }, this) : undefined;
  }

  /** A value computed once per analysis (for facts several rules share). */
  memo<T>(key: string, compute: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    this.memos.set(key, value);
    return value;
  }
}
