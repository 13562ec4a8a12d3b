// Python's scopes over a tree-sitter tree: which names each scope binds, which it reads, and
// where a name resolves to. Built lazily, one scope at a time (a scope's own statements only;
// nested scopes when first asked), so a rule that asks about one function pays for that function.
//
// Python's rules, as modelled here:
// - module, class, function, lambda and comprehension scopes; a class scope is not visible from
//   the functions nested in it;
// - decorators, default values, annotations and base classes are evaluated in the enclosing scope;
//   the first iterable of a comprehension too;
// - `global` / `nonlocal` redirect a name's bindings; an assignment expression (`:=`) inside a
//   comprehension binds in the nearest enclosing non-comprehension scope;
// - `del x`, `x += 1`, `for x in`, `with … as x`, `except … as x`, imports, `def`/`class`, match
//   captures and a bare annotation `x: int` all make `x` local to their scope.
import type { Node } from 'web-tree-sitter';
import { wordOffsets } from '../text';

export type ScopeKind = 'module' | 'class' | 'function' | 'lambda' | 'comprehension';

export type BindingKind =
  | 'parameter'
  | 'assignment'
  | 'augmented'
  | 'annotation'
  | 'import'
  | 'function'
  | 'class'
  | 'loop'
  | 'with'
  | 'except'
  | 'delete'
  | 'walrus'
  | 'match';

export interface Binding {
  name: string;
  kind: BindingKind;
  /** The identifier that is bound (for `def`/`class`, the definition's name). */
  node: Node;
  scope: Scope;
}

const COMPREHENSIONS = new Set(['list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);
const SCOPE_NODE_KIND: Record<string, ScopeKind> = {
  module: 'module',
  class_definition: 'class',
  function_definition: 'function',
  lambda: 'lambda',
  list_comprehension: 'comprehension',
  set_comprehension: 'comprehension',
  dictionary_comprehension: 'comprehension',
  generator_expression: 'comprehension',
};

/** Does this node open a scope of its own? */
export function opensScope(node: Node): boolean {
  return node.type in SCOPE_NODE_KIND;
}

/** Targets that destructure (`a, (b, *c) = …`): their identifiers are all bound. */
const PATTERN_TYPES = new Set(['pattern_list', 'tuple_pattern', 'list_pattern', 'tuple', 'list', 'parenthesized_expression', 'list_splat_pattern', 'expression_list']);

export class Scope {
  readonly kind: ScopeKind;
  /** Every binding of each name in this scope, in document order. */
  readonly bindings = new Map<string, Binding[]>();
  /** Every read of each name evaluated in this scope, in document order. */
  readonly references = new Map<string, Node[]>();
  readonly globals = new Set<string>();
  readonly nonlocals = new Set<string>();
  /** Scopes opened by definitions, lambdas and comprehensions directly inside this one. */
  readonly childNodes: Node[] = [];
  /** `from m import *` seen here: any unbound name may come from it. */
  starImport = false;

  constructor(
    readonly node: Node,
    readonly parent: Scope | undefined,
  ) {
    this.kind = SCOPE_NODE_KIND[node.type] ?? 'module';
  }

  /** The name of the def or class that opened this scope. */
  get name(): string | undefined {
    return this.node.childForFieldName('name')?.text;
  }

  bindingsOf(name: string): Binding[] {
    return this.bindings.get(name) ?? [];
  }

  /** Does this scope make `name` local (any binding, not redirected by `global`/`nonlocal`)? */
  isLocal(name: string): boolean {
    return this.bindings.has(name) && !this.globals.has(name) && !this.nonlocals.has(name);
  }
}

/** Builds scopes on demand; owned by one `SemanticModel`, so by one analysis. */
export class ScopeTable {
  private readonly byNode = new Map<number, Scope>();
  /** The scope each identifier visited so far was evaluated or bound in. */
  private readonly identifierScope = new Map<number, Scope>();
  private readonly bindingOfIdentifier = new Map<number, Binding>();

  constructor(readonly root: Node) {}

  get module(): Scope {
    return this.scopeFor(this.root);
  }

  /** The scope opened by a module, def, class, lambda or comprehension node. */
  scopeFor(node: Node): Scope {
    const known = this.byNode.get(node.id);
    if (known) return known;
    // The tree's root is the module scope whatever its type (an ERROR root in a broken file).
    const parentNode = node.type === 'module' || node.equals(this.root) ? undefined : this.enclosingScopeNode(node);
    const parent = parentNode ? this.scopeFor(parentNode) : undefined;
    const scope = new Scope(node, parent);
    this.byNode.set(node.id, scope);
    new ScopeBuilder(this, scope).build();
    return scope;
  }

  /** The scope in which `node` is evaluated (a def's decorators and defaults: the enclosing one). */
  scopeOf(node: Node): Scope {
    if (node.type === 'identifier') {
      const known = this.identifierScope.get(node.id);
      if (known) return known;
    }
    const owner = this.enclosingScopeNode(node);
    const scope = this.scopeFor(owner);
    if (node.type === 'identifier') return this.identifierScope.get(node.id) ?? scope;
    return scope;
  }

  /** Is this identifier bound (stored, deleted, declared) rather than read? */
  isBinding(id: Node): boolean {
    if (!this.identifierScope.has(id.id)) this.scopeOf(id);
    return this.bindingOfIdentifier.has(id.id);
  }

  /** The binding an identifier makes, when it makes one. */
  bindingAt(id: Node): Binding | undefined {
    if (!this.identifierScope.has(id.id)) this.scopeOf(id);
    return this.bindingOfIdentifier.get(id.id);
  }

  /**
   * The scope a name read in `from` resolves to (Python's LEGB, class scopes skipped for nested
   * functions, `global`/`nonlocal` honoured); undefined for builtins and unknown names.
   */
  resolveScope(name: string, from: Scope): Scope | undefined {
    if (from.globals.has(name)) return this.module.isLocal(name) || this.module.bindings.has(name) ? this.module : undefined;
    let scope: Scope | undefined = from;
    let first = true;
    while (scope) {
      if (scope.kind !== 'class' || first) {
        if (scope.nonlocals.has(name)) {
          // `nonlocal x`: the nearest enclosing function scope binding it.
          for (let s = scope.parent; s; s = s.parent) if (s.kind !== 'class' && s.kind !== 'module' && s.isLocal(name)) return s;
          return undefined;
        }
        if (scope.isLocal(name)) return scope;
        if (scope.kind === 'module' && scope.globals.has(name)) return scope;
      }
      first = false;
      scope = scope.parent;
    }
    // `global x` in some function binds x at module level.
    return this.module.bindings.has(name) ? this.module : undefined;
  }

  /** Does a scope nested in `scope` (at any depth) read or bind `name` as the one of `scope`? */
  capturedInside(scope: Scope, name: string): boolean {
    for (const node of scope.childNodes) {
      const child = this.scopeFor(node);
      const seen = child.references.has(name) || child.nonlocals.has(name) || (child.globals.has(name) && scope.kind === 'module');
      if (seen && this.resolveScope(name, child) === scope) return true;
      if (!child.isLocal(name) && this.capturedInside(child, name)) return true;
    }
    return false;
  }

  /** The bindings a read of this identifier may see. */
  resolve(id: Node): Binding[] {
    const scope = this.resolveScope(id.text, this.scopeOf(id));
    return scope?.bindingsOf(id.text) ?? [];
  }

  /** Records made by the builder. */
  noteIdentifier(id: Node, scope: Scope): void {
    this.identifierScope.set(id.id, scope);
  }
  noteBinding(binding: Binding): void {
    this.bindingOfIdentifier.set(binding.node.id, binding);
  }

  /**
   * The scope node whose own code holds `node`. A def's name, decorators, defaults, annotations and
   * return annotation, a class's bases and a comprehension's first iterable belong to the scope
   * around the definition.
   */
  enclosingScopeNode(node: Node): Node {
    let child = node;
    for (let n = node.parent; n; child = n, n = n.parent) {
      if (!opensScope(n)) continue;
      if (n.type === 'module') return n;
      if (n.type === 'function_definition') {
        if (n.childForFieldName('body')?.equals(child)) return n;
        if (n.childForFieldName('parameters')?.equals(child) && parameterIsName(node, child)) return n;
        continue;
      }
      if (n.type === 'lambda') {
        if (n.childForFieldName('body')?.equals(child)) return n;
        if (n.childForFieldName('parameters')?.equals(child) && parameterIsName(node, child)) return n;
        continue;
      }
      if (n.type === 'class_definition') {
        if (n.childForFieldName('body')?.equals(child)) return n;
        continue;
      }
      // A comprehension: everything but the first clause's iterable.
      const first = n.namedChildren.find((c) => c?.type === 'for_in_clause');
      if (first && first.equals(child)) {
        const right = first.childForFieldName('right');
        if (right && node.startIndex >= right.startIndex && node.endIndex <= right.endIndex) continue;
      }
      return n;
    }
    return child;
  }
}

/** Is `node` (inside the parameters node `params`) a parameter's own name, not a default or annotation? */
function parameterIsName(node: Node, params: Node): boolean {
  for (const p of params.namedChildren) {
    if (!p || node.startIndex < p.startIndex || node.endIndex > p.endIndex) continue;
    const name = parameterName(p);
    return !!name && name.startIndex <= node.startIndex && name.endIndex >= node.endIndex;
  }
  return false;
}

/** The identifier a parameter node binds. */
export function parameterName(p: Node): Node | undefined {
  if (p.type === 'identifier') return p;
  if (p.type === 'default_parameter' || p.type === 'typed_default_parameter') return p.childForFieldName('name') ?? undefined;
  if (p.type === 'typed_parameter' || p.type === 'list_splat_pattern' || p.type === 'dictionary_splat_pattern') {
    const id = p.namedChildren.find((c) => c?.type === 'identifier');
    return id ?? undefined;
  }
  return undefined;
}

/** The node types `ScopeBuilder.visit` has a case for (every other type only visits its children). */
const VISIT_CASES: ReadonlySet<string> = new Set(['identifier', 'function_definition', 'class_definition', 'lambda', 'list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression', 'decorated_definition', 'attribute', 'keyword_argument', 'assignment', 'augmented_assignment', 'named_expression', 'for_statement', 'as_pattern', 'delete_statement', 'global_statement', 'nonlocal_statement', 'import_statement', 'import_from_statement', 'future_import_statement', 'case_pattern', 'keyword_pattern', 'string', 'comment']);

class ScopeBuilder {
  constructor(
    private readonly table: ScopeTable,
    private readonly scope: Scope,
  ) {}

  build(): void {
    const node = this.scope.node;
    switch (this.scope.kind) {
      case 'module':
        for (const c of node.namedChildren) if (c) this.visit(c);
        break;
      case 'class':
        this.visitOpt(node.childForFieldName('body'));
        break;
      case 'function':
      case 'lambda': {
        const params = node.childForFieldName('parameters');
        for (const p of params?.namedChildren ?? []) {
          const name = p && parameterName(p);
          if (name) this.bind(name, 'parameter');
        }
        this.visitOpt(node.childForFieldName('body'));
        break;
      }
      case 'comprehension': {
        let first = true;
        for (const c of node.namedChildren) {
          if (!c) continue;
          if (c.type === 'for_in_clause') {
            this.bindTarget(c.childForFieldName('left'), 'loop');
            if (!first) this.visitOpt(c.childForFieldName('right'));
            first = false;
            // A clause may carry trailing parts (`async`, conditions are separate if_clauses).
            continue;
          }
          this.visit(c);
        }
        break;
      }
    }
  }

  private visitOpt(node: Node | null | undefined): void {
    if (node) this.visit(node);
  }

  private bind(id: Node, kind: BindingKind, scope: Scope = this.scope): void {
    if (id.type !== 'identifier') return;
    const binding: Binding = { name: id.text, kind, node: id, scope };
    let list = scope.bindings.get(id.text);
    if (!list) scope.bindings.set(id.text, (list = []));
    list.push(binding);
    this.table.noteIdentifier(id, scope);
    this.table.noteBinding(binding);
  }

  private reference(id: Node): void {
    let list = this.scope.references.get(id.text);
    if (!list) this.scope.references.set(id.text, (list = []));
    list.push(id);
    this.table.noteIdentifier(id, this.scope);
  }

  /** Binds every name in an assignment target; attributes and subscripts read their objects. */
  private bindTarget(target: Node | null | undefined, kind: BindingKind, scope: Scope = this.scope): void {
    if (!target) return;
    if (target.type === 'identifier') return this.bind(target, kind, scope);
    if (PATTERN_TYPES.has(target.type)) {
      for (const c of target.namedChildren) if (c) this.bindTarget(c, kind, scope);
      return;
    }
    if (target.type === 'as_pattern_target') {
      for (const c of target.namedChildren) if (c) this.bindTarget(c, kind, scope);
      return;
    }
    // `x.a = …`, `x[i] = …`: reads of x (and i).
    this.visit(target);
  }

  /** A nested def/class/lambda/comprehension: what of it runs here, and its own scope later. */
  private nested(node: Node): void {
    this.scope.childNodes.push(node);
    if (node.type === 'function_definition' || node.type === 'lambda') {
      const params = node.childForFieldName('parameters');
      for (const p of params?.namedChildren ?? []) {
        if (!p) continue;
        // Defaults and annotations are evaluated where the def runs.
        for (const field of ['value', 'type']) this.visitOpt(p.childForFieldName(field));
        if (p.type === 'typed_parameter') this.visitOpt(p.namedChildren.find((c) => c?.type === 'type'));
      }
      this.visitOpt(node.childForFieldName('return_type'));
      if (node.type === 'function_definition') {
        const name = node.childForFieldName('name');
        if (name) this.bind(name, 'function');
        this.visitOpt(node.childForFieldName('type_parameters'));
      }
      return;
    }
    if (node.type === 'class_definition') {
      this.visitOpt(node.childForFieldName('superclasses'));
      const name = node.childForFieldName('name');
      if (name) this.bind(name, 'class');
      return;
    }
    // Comprehension: its first iterable runs here.
    const first = node.namedChildren.find((c) => c?.type === 'for_in_clause');
    this.visitOpt(first?.childForFieldName('right'));
  }

  /** The scope an assignment expression binds in: the nearest one that is no comprehension. */
  private walrusScope(): Scope {
    let s: Scope = this.scope;
    while (s.kind === 'comprehension' && s.parent) s = s.parent;
    return s;
  }

  private visit(node: Node): void {
    switch (node.type) {
      case 'identifier':
        this.reference(node);
        return;
      case 'function_definition':
      case 'class_definition':
      case 'lambda':
      case 'list_comprehension':
      case 'set_comprehension':
      case 'dictionary_comprehension':
      case 'generator_expression':
        this.nested(node);
        return;
      case 'decorated_definition':
        for (const c of node.namedChildren) if (c) this.visit(c);
        return;
      case 'attribute':
        this.visitOpt(node.childForFieldName('object'));
        return;
      case 'keyword_argument':
        this.visitOpt(node.childForFieldName('value'));
        return;
      case 'assignment': {
        const right = node.childForFieldName('right');
        const type = node.childForFieldName('type');
        this.visitOpt(type);
        this.visitOpt(right);
        this.bindTarget(node.childForFieldName('left'), right ? 'assignment' : 'annotation');
        return;
      }
      case 'augmented_assignment': {
        const left = node.childForFieldName('left');
        this.visitOpt(node.childForFieldName('right'));
        if (left?.type === 'identifier') {
          // `x += 1` reads x, then binds it.
          this.reference(left);
          this.bind(left, 'augmented');
        } else this.visitOpt(left);
        return;
      }
      case 'named_expression': {
        this.visitOpt(node.childForFieldName('value'));
        const name = node.childForFieldName('name');
        if (name) this.bind(name, 'walrus', this.walrusScope());
        return;
      }
      case 'for_statement':
        this.visitOpt(node.childForFieldName('right'));
        this.bindTarget(node.childForFieldName('left'), 'loop');
        this.visitOpt(node.childForFieldName('body'));
        this.visitOpt(node.childForFieldName('alternative'));
        return;
      case 'as_pattern': {
        // `with x as y`, `except E as e`, `case p as q`.
        const [value] = node.namedChildren;
        if (value) this.visit(value);
        const kind: BindingKind = node.parent?.type === 'with_item' ? 'with' : node.parent?.type === 'except_clause' ? 'except' : 'match';
        this.bindTarget(node.childForFieldName('alias'), kind);
        return;
      }
      case 'delete_statement':
        for (const c of node.namedChildren) {
          if (!c) continue;
          if (c.type === 'identifier') this.bind(c, 'delete');
          else if (c.type === 'expression_list' || c.type === 'tuple' || c.type === 'list') {
            for (const t of c.namedChildren) if (t) (t.type === 'identifier' ? this.bind(t, 'delete') : this.visit(t));
          } else this.visit(c);
        }
        return;
      case 'global_statement':
      case 'nonlocal_statement':
        for (const c of node.namedChildren) {
          if (c?.type !== 'identifier') continue;
          (node.type === 'global_statement' ? this.scope.globals : this.scope.nonlocals).add(c.text);
          this.table.noteIdentifier(c, this.scope);
        }
        return;
      case 'import_statement':
        for (const c of node.namedChildren) {
          if (!c) continue;
          if (c.type === 'aliased_import') this.bindOpt(c.childForFieldName('alias'), 'import');
          else if (c.type === 'dotted_name') this.bindOpt(c.namedChild(0), 'import');
        }
        return;
      case 'import_from_statement':
      case 'future_import_statement': {
        const moduleName = node.childForFieldName('module_name');
        for (const c of node.namedChildren) {
          if (!c || (moduleName && c.equals(moduleName))) continue;
          if (c.type === 'wildcard_import') this.scope.starImport = true;
          else if (c.type === 'aliased_import') this.bindOpt(c.childForFieldName('alias'), 'import');
          else if (c.type === 'dotted_name') this.bindOpt(c.namedChild(c.namedChildCount - 1), 'import');
        }
        return;
      }
      case 'case_pattern':
        this.casePattern(node);
        return;
      case 'keyword_pattern': {
        // `Point(x=px)`: x names an attribute, px is bound.
        const parts = node.namedChildren.filter((c): c is Node => !!c);
        for (const p of parts.slice(1)) this.casePatternPart(p);
        return;
      }
      case 'string':
        for (const c of node.namedChildren) if (c?.type === 'interpolation') this.visit(c);
        return;
      case 'comment':
        return;
      default:
        this.visitPlain(node);
    }
  }

  /**
   * The children of a node `visit` has no case for, in order, without recursion through further
   * such nodes: expression chains nest thousands deep (`not not … x`, `p()()…`) and would
   * overflow the stack.
   */
  private visitPlain(node: Node): void {
    const stack: Node[] = [];
    const pushChildren = (n: Node) => {
      for (let i = n.namedChildCount - 1; i >= 0; i--) {
        const c = n.namedChild(i);
        if (c) stack.push(c);
      }
    };
    pushChildren(node);
    for (let next = stack.pop(); next; next = stack.pop()) {
      if (VISIT_CASES.has(next.type)) this.visit(next);
      else pushChildren(next);
    }
  }

  private bindOpt(node: Node | null | undefined, kind: BindingKind): void {
    if (node) this.bind(node, kind);
  }

  private casePattern(node: Node): void {
    for (const c of node.namedChildren) if (c) this.casePatternPart(c);
  }

  /** In a case pattern a lone name captures; a dotted name (`Color.RED`) and a class name are read. */
  private casePatternPart(node: Node): void {
    if (node.type === 'dotted_name') {
      if (node.namedChildCount === 1) {
        const id = node.namedChild(0);
        if (id && id.text !== '_') this.bind(id, 'match');
      } else this.visitOpt(node.namedChild(0));
      return;
    }
    if (node.type === 'identifier') {
      if (node.text !== '_') this.bind(node, 'match');
      return;
    }
    if (node.type === 'class_pattern') {
      const [cls, ...rest] = node.namedChildren.filter((c): c is Node => !!c);
      if (cls?.type === 'dotted_name') this.visitOpt(cls.namedChild(0));
      for (const r of rest) this.casePatternPart(r);
      return;
    }
    if (node.type === 'case_pattern') return this.casePattern(node);
    if (node.type === 'keyword_pattern' || node.type === 'as_pattern') return this.visit(node);
    for (const c of node.namedChildren) if (c) this.casePatternPart(c);
  }
}

export { COMPREHENSIONS };

/**
 * The identifiers spelled `name` in [start, end) of the file that are names — bindings, reads,
 * `global`/`nonlocal` and `del` targets, not the attribute of `x.name` nor a keyword argument's
 * name. A text search finds the candidates (cheap); each is kept only when the tree has an
 * identifier exactly there.
 */
export function nameOccurrences(root: Node, text: string, name: string, start = 0, end = text.length): Node[] {
  const out: Node[] = [];
  for (const s of wordOffsets(text, name, start, end)) {
    const e = s + name.length;
    const id = root.namedDescendantForIndex(s, e);
    if (!id || id.type !== 'identifier' || id.startIndex !== s || id.endIndex !== e) continue;
    const p = id.parent;
    if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) continue;
    if (p?.type === 'keyword_argument' && p.childForFieldName('name')?.equals(id)) continue;
    out.push(id);
  }
  return out;
}
