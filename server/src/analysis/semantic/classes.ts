// The class model: a class's bases and kind, its methods and their kinds, and what each method
// does to the instance's (or the class's) attributes — sets, reads, mutates in place, deletes.
// Attribute accesses count only through the method's own first parameter (resolved with the scope
// model, so an inner function's own `self` parameter is not the method's).
import type { Node } from 'web-tree-sitter';
import { parameterName, ScopeTable } from './scopes';

export type MethodKind = 'instance' | 'class' | 'static' | 'property';

/** Methods that add to a container in place. */
export const GROWING_METHODS = new Set(['append', 'extend', 'insert', 'add', 'update', 'setdefault', 'appendleft', 'extendleft', 'put', 'put_nowait', '__setitem__']);
/** Methods that take entries out of a container (the one list every rule uses). */
export const REMOVING_METHODS = new Set([
  'pop', 'popitem', 'popleft', 'remove', 'discard', 'clear', 'get_nowait', '__delitem__',
  'difference_update', 'intersection_update', 'symmetric_difference_update',
  // `Counter.subtract`, and the in-place `-=` / `&=` spelled as calls.
  'subtract', '__isub__', '__iand__',
]);

export interface AttributeUse {
  /** The `self.x` attribute node. */
  node: Node;
  kind: 'set' | 'read' | 'grow' | 'remove' | 'delete';
}

export interface MethodModel {
  name: string;
  node: Node;
  kind: MethodKind;
  /** The first parameter (`self` / `cls`), when the method has one. */
  receiver?: Node;
  decorators: Node[];
  /** Attribute uses through the receiver, by attribute name, in document order. */
  attributes: Map<string, AttributeUse[]>;
}

export interface ClassModel {
  node: Node;
  name: string;
  /** The base-class expressions and the dotted names they resolve to (undefined when unknown). */
  bases: Array<{ node: Node; qualified?: string }>;
  metaclass?: { node: Node; qualified?: string };
  isEnum: boolean;
  isDataclass: boolean;
  isNamedTuple: boolean;
  isProtocol: boolean;
  isException: boolean;
  methods: Map<string, MethodModel>;
}

const STATIC_DECORATORS = new Set(['staticmethod', 'builtins.staticmethod', 'abc.abstractstaticmethod']);
const CLASS_DECORATORS = new Set(['classmethod', 'builtins.classmethod', 'abc.abstractclassmethod']);
/** Compound statements of a class body whose blocks still define methods of the class. */
const CLASS_BODY_BLOCKS = new Set(['if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'except_group_clause', 'finally_clause', 'with_statement']);

/** The defs of a class body in document order, also those under its `if`/`try`/`with` statements. */
function methodDefinitions(body: Node | null): Node[] {
  const out: Node[] = [];
  const visit = (block: Node): void => {
    for (const stmt of block.namedChildren) {
      if (!stmt) continue;
      const def = stmt.type === 'decorated_definition' ? stmt.childForFieldName('definition') : stmt;
      if (def?.type === 'function_definition') out.push(def);
      else if (CLASS_BODY_BLOCKS.has(stmt.type) || (stmt.type === 'block' && CLASS_BODY_BLOCKS.has(block.type))) visit(stmt);
    }
  };
  if (body) visit(body);
  return out;
}

const ENUM_BASES = /^(enum\.)?(Enum|IntEnum|StrEnum|Flag|IntFlag|ReprEnum)$/;
const EXCEPTION_NAME = /(Error|Exception|Warning|Exit|Interrupt)$/;

export function decoratorsOfDefinition(def: Node): Node[] {
  const parent = def.parent;
  if (parent?.type !== 'decorated_definition') return [];
  return parent.namedChildren.filter((c): c is Node => c?.type === 'decorator');
}

/** `@functools.lru_cache(maxsize=1)` → the `functools.lru_cache` node. */
export function decoratorCallee(decorator: Node): Node | undefined {
  let expr = decorator.namedChildren.find((c) => c?.type !== 'comment') ?? undefined;
  if (expr?.type === 'call') expr = expr.childForFieldName('function') ?? undefined;
  return expr;
}

export class ClassTable {
  private readonly models = new Map<number, ClassModel>();
  private readonly shadowed = new Map<number, MethodModel>();

  constructor(
    private readonly scopes: ScopeTable,
    private readonly qualifiedName: (node: Node) => string | undefined,
  ) {}

  model(cls: Node): ClassModel {
    const known = this.models.get(cls.id);
    if (known) return known;
    const model = this.build(cls);
    this.models.set(cls.id, model);
    return model;
  }

  /**
   * The class a def is a method of, if any: a def in the class body, also under an `if`, `try` or
   * `with` of the body (`if sys.version_info >= …: def m(self): …` defines a method too).
   */
  classOfMethod(fn: Node): Node | undefined {
    let p = fn.parent;
    if (p?.type === 'decorated_definition') p = p.parent;
    while (p?.type === 'block' && p.parent && CLASS_BODY_BLOCKS.has(p.parent.type)) {
      p = p.parent;
      while (p && p.type !== 'block' && CLASS_BODY_BLOCKS.has(p.type)) p = p.parent;
    }
    if (p?.type !== 'block') return undefined;
    const cls = p.parent;
    return cls?.type === 'class_definition' ? cls : undefined;
  }

  /** The method model of a def that is a method, else undefined. */
  method(fn: Node): MethodModel | undefined {
    const cls = this.classOfMethod(fn);
    if (!cls) return undefined;
    const name = fn.childForFieldName('name')?.text;
    const m = name ? this.model(cls).methods.get(name) : undefined;
    if (m && m.node.equals(fn)) return m;
    // A def that a later one of the same name replaces (a property's getter before its setter)
    // is still a method while its body runs.
    let shadowed = this.shadowed.get(fn.id);
    if (!shadowed) {
      shadowed = this.method0(fn);
      if (shadowed) this.shadowed.set(fn.id, shadowed);
    }
    return shadowed;
  }

  private build(cls: Node): ClassModel {
    const name = cls.childForFieldName('name')?.text ?? '';
    const bases: ClassModel['bases'] = [];
    let metaclass: ClassModel['metaclass'];
    for (const arg of cls.childForFieldName('superclasses')?.namedChildren ?? []) {
      if (!arg || arg.type === 'comment') continue;
      if (arg.type === 'keyword_argument') {
        const value = arg.childForFieldName('value');
        if (arg.childForFieldName('name')?.text === 'metaclass' && value) metaclass = { node: value, qualified: this.qualifiedName(value) };
        continue;
      }
      const base = arg.type === 'call' ? (arg.childForFieldName('function') ?? arg) : arg;
      bases.push({ node: arg, qualified: this.qualifiedName(base) });
    }
    const decorators = decoratorsOfDefinition(cls).map((d) => {
      const callee = decoratorCallee(d);
      return callee ? (this.qualifiedName(callee) ?? callee.text) : '';
    });
    const names = bases.map((b) => b.qualified ?? b.node.text);
    const methods = new Map<string, MethodModel>();
    for (const def of methodDefinitions(cls.childForFieldName('body'))) {
      const m = this.method0(def);
      if (m) methods.set(m.name, m);
    }
    return {
      node: cls,
      name,
      bases,
      metaclass,
      isEnum: names.some((n) => ENUM_BASES.test(n)) || /(^|\.)EnumMeta$|EnumType$/.test(metaclass?.qualified ?? ''),
      isDataclass: decorators.some((d) => /(^|\.)(dataclass|dataclasses\.dataclass|attr\.s|attrs\.define|attr\.define|define|frozen)$/.test(d)),
      isNamedTuple: names.some((n) => /(^|\.)NamedTuple$/.test(n) || /(^|\.)namedtuple$/.test(n)),
      isProtocol: names.some((n) => /(^|\.)Protocol$/.test(n)),
      isException: EXCEPTION_NAME.test(name) || names.some((n) => EXCEPTION_NAME.test(n)),
      methods,
    };
  }

  private method0(def: Node): MethodModel | undefined {
    const name = def.childForFieldName('name')?.text;
    if (!name) return undefined;
    const decorators = decoratorsOfDefinition(def);
    const decoratorNames = decorators.map((d) => {
      const callee = decoratorCallee(d);
      return callee ? (this.qualifiedName(callee) ?? callee.text) : '';
    });
    let kind: MethodKind = 'instance';
    if (decoratorNames.some((d) => STATIC_DECORATORS.has(d))) kind = 'static';
    else if (decoratorNames.some((d) => CLASS_DECORATORS.has(d))) kind = 'class';
    else if (decoratorNames.some((d) => /(^|\.)(property|cached_property)$/.test(d) || /\.(setter|getter|deleter)$/.test(d))) kind = 'property';
    else if (name === '__new__' || name === '__init_subclass__' || name === '__class_getitem__') kind = 'class';
    const first = def.childForFieldName('parameters')?.namedChildren.find((p) => p && p.type !== 'comment');
    const receiver = kind === 'static' || !first || first.type === 'list_splat_pattern' || first.type === 'dictionary_splat_pattern' ? undefined : parameterName(first);
    // The attribute uses are collected on first access: most questions about a method (its kind,
    // its receiver) need no walk of its body.
    let attributes: Map<string, AttributeUse[]> | undefined;
    const uses = () => (attributes ??= receiver ? this.attributeUses(def, receiver) : new Map());
    return {
      name,
      node: def,
      kind,
      receiver,
      decorators,
      get attributes() {
        return uses();
      },
    };
  }

  /** `self.x` uses in a method, `self` resolved to the method's own first parameter. */
  private attributeUses(def: Node, receiver: Node): Map<string, AttributeUse[]> {
    const out = new Map<string, AttributeUse[]>();
    const scope = this.scopes.scopeFor(def);
    const body = def.childForFieldName('body');
    if (!body) return out;
    for (const attr of body.descendantsOfType('attribute')) {
      if (!attr) continue;
      const object = attr.childForFieldName('object');
      if (object?.type !== 'identifier' || object.text !== receiver.text) continue;
      // The receiver as this method sees it (an inner def may have its own `self`).
      if (this.scopes.resolveScope(object.text, this.scopes.scopeOf(object)) !== scope) continue;
      const name = attr.childForFieldName('attribute')?.text;
      if (!name) continue;
      let list = out.get(name);
      if (!list) out.set(name, (list = []));
      list.push({ node: attr, kind: attributeUseKind(attr) });
    }
    return out;
  }
}

/** What an access `obj.x` does to the attribute x (or to the container it holds). */
export function attributeUseKind(attr: Node): AttributeUse['kind'] {
  return containerUseKind(attr);
}

/**
 * What the code around an expression that holds a container (a name `x`, an attribute `obj.x`)
 * does with it: binds it (`set`), deletes it (`delete`), adds to it in place (`grow`: a growing
 * method called, an item assigned, `+=`), takes entries out (`remove`: a removing method, called or
 * passed on as a callback, `del x[k]`, a slice assignment, `-=` / `&=` / `^=`), or only reads it.
 * The one answer the container rules (LL301, LL303) and the class model share.
 */
export function containerUseKind(expr: Node): AttributeUse['kind'] {
  const parent = expr.parent;
  if (!parent) return 'read';
  if ((parent.type === 'assignment' || parent.type === 'augmented_assignment') && parent.childForFieldName('left')?.equals(expr)) {
    if (parent.type === 'assignment') return 'set';
    return SHRINKING_OPERATORS.has(parent.childForFieldName('operator')?.text ?? '') ? 'remove' : 'grow';
  }
  if (parent.type === 'pattern_list' || parent.type === 'tuple_pattern') return 'set';
  if (isDeleted(parent)) return 'delete';
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(expr)) {
    const method = parent.childForFieldName('attribute')?.text ?? '';
    if (REMOVING_METHODS.has(method)) return 'remove';
    const call = parent.parent;
    if (call?.type === 'call' && call.childForFieldName('function')?.equals(parent) && GROWING_METHODS.has(method)) return 'grow';
    return 'read';
  }
  if (parent.type === 'subscript' && parent.childForFieldName('value')?.equals(expr)) {
    const holder = parent.parent;
    if ((holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(parent)) {
      // `x[a:b] = …` replaces a range, which may shrink it.
      return parent.childForFieldName('subscript')?.type === 'slice' ? 'remove' : 'grow';
    }
    if (holder && isDeleted(holder)) return 'remove';
  }
  return 'read';
}

const SHRINKING_OPERATORS = new Set(['-=', '&=', '^=']);

/** Is this node (a target's parent) a `del` statement or the target list of one? */
function isDeleted(node: Node): boolean {
  return node.type === 'delete_statement' || (node.type === 'expression_list' && node.parent?.type === 'delete_statement');
}
