// Class attributes seen from the whole file (LL301's questions, answered once here): which class
// an `obj.NAME` means — the class itself (`Cls.NAME`, `cls.NAME`, `type(self).NAME`), an instance
// (`self.NAME`), another class's own NAME, or unknown —, whether a value is an instance of the
// class (`self`, `cls()`, `super().__new__(cls)`, a local only ever bound to one), whether a key is
// the class itself, and whether the instances can go into a weak container (`__slots__`,
// `@dataclass(slots=True)`, `__eq__` without `__hash__`, bases in the file).
import type { Node } from 'web-tree-sitter';
import { decoratorsOf, decoratorTarget, unparenthesize } from '../syntax';
import type { SemanticModel } from './index';
import type { Scope } from './scopes';

export interface ClassAttributeMethod {
  fn: Node;
  /** The first parameter's name (absent for static methods). */
  first?: string;
  role: 'instance' | 'class' | 'static';
  /** The method's own scope (from the scope model, built when first asked). */
  scope: () => Scope;
}

export interface ClassAttributeAccess {
  /** The `obj.NAME` attribute node. */
  node: Node;
  /** class: `Cls.NAME`, `cls.NAME`, `type(self).NAME`; self: `self.NAME`; other: another class's own NAME; unknown: anything else. */
  via: 'class' | 'self' | 'unknown' | 'other';
  method?: ClassAttributeMethod;
}


/** The method of the class model a def is (kind and receiver), in the roles this rule uses. */
function methodInfo(fn: Node, semantic: SemanticModel): ClassAttributeMethod {
  const m = semantic.method(fn);
  const role: ClassAttributeMethod['role'] = m?.kind === 'static' ? 'static' : m?.kind === 'class' ? 'class' : 'instance';
  return { fn, first: role === 'static' ? undefined : m?.receiver?.text, role, scope: () => semantic.scopeFor(fn) };
}

/**
 * The nearest def around `node` (through nested functions and lambdas) that is a method of a
 * class, with that class; when `cls` is given, of that class only.
 */
function enclosingMethod(node: Node, semantic: SemanticModel, cls?: Node): { fn: Node; cls: Node } | undefined {
  for (let f = semantic.frameNodeOf(node); f.type === 'function_definition' || f.type === 'lambda'; f = semantic.frameNodeOf(f)) {
    if (f.type !== 'function_definition') continue;
    const owner = semantic.classOfMethod(f);
    if (owner && (!cls || owner.equals(cls))) return { fn: f, cls: owner };
    if (owner && cls) return undefined;
  }
  return undefined;
}

/** The method of `cls` that `node` sits in (through nested functions), if any. */
function methodOf(node: Node, cls: Node, semantic: SemanticModel, cache: Map<number, ClassAttributeMethod>): ClassAttributeMethod | undefined {
  const found = enclosingMethod(node, semantic, cls)?.fn;
  if (!found) return undefined;
  let m = cache.get(found.id);
  if (!m) cache.set(found.id, (m = methodInfo(found, semantic)));
  return m;
}

/** `type(self)` or `self.__class__`. */
export function isClassOfInstance(node: Node, self: string | undefined): boolean {
  if (!self) return false;
  const n = unparenthesize(node);
  if (n.type === 'call') {
    const fn = n.childForFieldName('function');
    const args = n.childForFieldName('arguments')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
    return fn?.type === 'identifier' && fn.text === 'type' && args.length === 1 && args[0]!.type === 'identifier' && args[0]!.text === self;
  }
  if (n.type === 'attribute') {
    const obj = n.childForFieldName('object');
    return n.childForFieldName('attribute')?.text === '__class__' && obj?.type === 'identifier' && obj.text === self;
  }
  return false;
}

/**
 * True when `obj.NAME` clearly names another class's own attribute: `Other.NAME` where Other is a
 * module-level class binding NAME in its body, or `self.NAME` / `cls.NAME` in such a class's methods.
 */
function isOtherClassAttribute(attribute: Node, obj: Node, name: string, cls: Node, semantic: SemanticModel, cache: Map<number, ClassAttributeMethod>, classes: ClassIndex): boolean {
  const spelled = obj.type === 'identifier' ? obj.text : obj.type === 'attribute' ? obj.childForFieldName('attribute')?.text : undefined;
  if (spelled) {
    const other = classes().get(spelled);
    if (other && !other.equals(cls) && bodyAssigns(other, name)) return true;
  }
  const holder = enclosingMethod(attribute, semantic);
  if (!holder || holder.cls.equals(cls) || !bodyAssigns(holder.cls, name)) return false;
  let m = cache.get(holder.fn.id);
  if (!m) cache.set(holder.fn.id, (m = methodInfo(holder.fn, semantic)));
  if (!m.first) return false;
  return (obj.type === 'identifier' && obj.text === m.first) || (m.role === 'instance' && isClassOfInstance(obj, m.first));
}

function classify(attribute: Node, name: string, className: string, cls: Node, semantic: SemanticModel, cache: Map<number, ClassAttributeMethod>, classes: ClassIndex): ClassAttributeAccess {
  const obj = unparenthesize(attribute.childForFieldName('object')!);
  const method = methodOf(attribute, cls, semantic, cache);
  if (obj.type === 'identifier' && obj.text === className) return { node: attribute, via: 'class', method };
  // `Outer.Inner.NAME` for a nested class.
  if (obj.type === 'attribute' && obj.childForFieldName('attribute')?.text === className && classes().get(className)?.equals(cls)) {
    return { node: attribute, via: 'class', method };
  }
  if (method?.first) {
    if (obj.type === 'identifier' && obj.text === method.first) return { node: attribute, via: method.role === 'class' ? 'class' : 'self', method };
    if (method.role === 'instance' && isClassOfInstance(obj, method.first)) return { node: attribute, via: 'class', method };
  }
  if (isOtherClassAttribute(attribute, obj, name, cls, semantic, cache, classes)) return { node: attribute, via: 'other', method };
  return { node: attribute, via: 'unknown', method };
}

/** A local of `fn` that only ever holds a new instance of the class (`obj = cls()`, `self = super().__new__(cls)`). */
function isCreation(value: Node, className: string, method: ClassAttributeMethod): boolean {
  const v = unparenthesize(value);
  if (v.type !== 'call') return false;
  const fn = unparenthesize(v.childForFieldName('function')!);
  const clsName = method.role === 'class' ? method.first : undefined;
  if (fn.type === 'identifier' && (fn.text === className || fn.text === clsName)) return true;
  if (method.role === 'instance' && isClassOfInstance(fn, method.first)) return true;
  if (fn.type === 'attribute' && fn.childForFieldName('attribute')?.text === '__new__') {
    const obj = unparenthesize(fn.childForFieldName('object')!);
    if (obj.type === 'identifier' && (obj.text === className || obj.text === clsName || obj.text === 'object')) return true;
    if (obj.type === 'call' && obj.childForFieldName('function')?.text === 'super') return true;
  }
  return false;
}

/** Is every binding the method's own scope makes of `name` an assignment of a new instance? */
function isInstanceLocal(name: string, className: string, method: ClassAttributeMethod): boolean {
  let assigned = 0;
  for (const b of method.scope().bindingsOf(name)) {
    // `name: T` alone only declares the name: it binds nothing.
    if (b.kind === 'annotation') continue;
    const a = b.node.parent;
    const right = a?.type === 'assignment' && a.childForFieldName('left')?.equals(b.node) ? a.childForFieldName('right') : null;
    if (b.kind !== 'assignment' || !right || !isCreation(right, className, method)) return false;
    assigned++;
  }
  return assigned > 0;
}

/** Whether `value` is the instance (`direct`), or a tuple/list holding it (`inside`): `self` in an instance method, or a local/expression that creates one. */
export function instanceKind(value: Node | null | undefined, access: ClassAttributeAccess, className: string): 'direct' | 'inside' | undefined {
  if (!value || !access.method) return undefined;
  const v = unparenthesize(value);
  const m = access.method;
  if (v.type === 'identifier') {
    if (m.role === 'instance' && v.text === m.first) return 'direct';
    if (isInstanceLocal(v.text, className, m)) return 'direct';
    return undefined;
  }
  if (isCreation(v, className, m)) return 'direct';
  if (v.type === 'tuple' || v.type === 'list') {
    return v.namedChildren.some((c) => c && instanceKind(c, access, className) === 'direct') ? 'inside' : undefined;
  }
  return undefined;
}

/** A key that is the class itself (`cls._instances[cls] = obj`): one entry per class, which is bounded. */
export function isClassKey(key: Node | null | undefined, access: ClassAttributeAccess, className: string): boolean {
  if (!key || !access.method) return false;
  const k = unparenthesize(key);
  if (k.type === 'identifier' && (k.text === className || (access.method.role === 'class' && k.text === access.method.first))) return true;
  return access.method.role === 'instance' && isClassOfInstance(k, access.method.first);
}


export function basesOf(cls: Node): Node[] {
  const args = cls.childForFieldName('superclasses');
  return args?.namedChildren.filter((c): c is Node => !!c && c.type !== 'keyword_argument' && c.type !== 'comment') ?? [];
}

function hasKeywordArguments(cls: Node): boolean {
  return cls.childForFieldName('superclasses')?.namedChildren.some((c) => c?.type === 'keyword_argument') ?? false;
}

export function bodyAssigns(cls: Node, name: string): Node | undefined {
  for (const stmt of cls.childForFieldName('body')?.namedChildren ?? []) {
    const a = stmt?.type === 'expression_statement' ? stmt.namedChild(0) : undefined;
    if (a?.type === 'assignment' && a.childForFieldName('left')?.text === name) return a;
  }
  return undefined;
}

function bodyDefines(cls: Node, name: string): boolean {
  for (const stmt of cls.childForFieldName('body')?.namedChildren ?? []) {
    const def = stmt?.type === 'decorated_definition' ? stmt.childForFieldName('definition') : stmt;
    if (def?.type === 'function_definition' && def.childForFieldName('name')?.text === name) return true;
  }
  return !!bodyAssigns(cls, name);
}

/** Classes of the file by name (the first of each name), built once per check when needed. */
type ClassIndex = () => Map<string, Node>;

function classIndex(root: Node): ClassIndex {
  let index: Map<string, Node> | undefined;
  return () => {
    if (!index) {
      index = new Map();
      for (const c of root.descendantsOfType('class_definition')) {
        const name = c?.childForFieldName('name')?.text;
        if (c && name && !index.has(name)) index.set(name, c);
      }
    }
    return index;
  };
}

export type WeakVerdict = 'safe' | 'unsafe' | 'impossible';

const DATACLASS_DECORATORS = new Set([
  'dataclasses.dataclass', 'attr.s', 'attr.attrs', 'attr.define', 'attr.mutable', 'attr.frozen', 'attr.dataclass',
  'attrs.define', 'attrs.mutable', 'attrs.frozen',
]);

/**
 * What `@dataclass` / attrs decorators generate: `__eq__` unless eq=False; a `__hash__` only when
 * frozen or unsafe_hash (otherwise instances are unhashable); `__slots__` without `__weakref__`
 * with slots=True (unless weakref_slot=True).
 */
function generatedMethods(cls: Node, semantic: SemanticModel): { eq: boolean; hash: boolean; slotsWithoutWeakref: boolean } {
  const out = { eq: false, hash: false, slotsWithoutWeakref: false };
  for (const d of decoratorsOf(cls)) {
    const target = decoratorTarget(d);
    const q = target ? semantic.qualifiedName(target) : undefined;
    if (!q || !DATACLASS_DECORATORS.has(q)) continue;
    const expr = d.namedChildren.find((c) => c && c.type !== 'comment');
    const kw = new Map<string, string>();
    if (expr?.type === 'call') {
      for (const a of expr.childForFieldName('arguments')?.namedChildren ?? []) {
        if (a?.type === 'keyword_argument') kw.set(a.childForFieldName('name')?.text ?? '', a.childForFieldName('value')?.text ?? '');
      }
    }
    const frozen = kw.get('frozen') === 'True' || q.endsWith('.frozen');
    const eq = kw.get('eq') !== 'False' && kw.get('cmp') !== 'False';
    out.eq ||= eq;
    out.hash ||= frozen || kw.get('unsafe_hash') === 'True' || kw.get('hash') === 'True' || !eq;
    // attrs' modern API (define/mutable/frozen) makes slotted classes, with a __weakref__ slot, by default.
    const modernAttrs = q.startsWith('attrs.') || q === 'attr.define' || q === 'attr.mutable' || q === 'attr.frozen';
    const slots = kw.get('slots') === 'True' || (modernAttrs && kw.get('slots') !== 'False');
    const weakrefSlot = q === 'dataclasses.dataclass' ? kw.get('weakref_slot') === 'True' : kw.get('weakref_slot') !== 'False';
    if (slots && !weakrefSlot) out.slotsWithoutWeakref = true;
  }
  return out;
}

/**
 * Can the instances go into a weak container unchanged? Instances of a class with `__slots__`
 * lacking `__weakref__` cannot be weakly referenced; a list that becomes a WeakSet also needs
 * hashable instances compared by identity (no `__eq__`). Bases outside this file are unknown.
 */
function weakVerdict(cls: Node, root: Node, fromList: boolean, semantic: SemanticModel, seen = new Set<number>()): WeakVerdict {
  if (seen.has(cls.id)) return 'unsafe';
  seen.add(cls.id);
  const slots = bodyAssigns(cls, '__slots__');
  if (slots && !slots.childForFieldName('right')?.text.includes('__weakref__')) return 'impossible';
  let verdict: WeakVerdict = 'safe';
  const generated = generatedMethods(cls, semantic);
  if (generated.slotsWithoutWeakref) return 'impossible';
  if (fromList) {
    const eq = bodyDefines(cls, '__eq__') || generated.eq;
    const hash = bodyDefines(cls, '__hash__') || generated.hash;
    if (eq && !hash) return 'impossible';
    if (eq || hash) verdict = 'unsafe';
  }
  // Other class decorators may add methods or slots this rule cannot see.
  if (decoratorsOf(cls).length > 0) verdict = 'unsafe';
  if (hasKeywordArguments(cls)) verdict = 'unsafe';
  for (const base of basesOf(cls)) {
    if (base.type === 'identifier' && base.text === 'object') continue;
    const local = base.type === 'identifier' ? semantic.moduleClass(base.text) : undefined;
    if (!local) return 'unsafe';
    const v = weakVerdict(local, root, fromList, semantic, seen);
    if (v === 'impossible') return v;
    if (v === 'unsafe') verdict = 'unsafe';
  }
  return verdict;
}


/** The class-attribute questions of one analysis, with their caches (owned by the SemanticModel). */
export class ClassAttributes {
  private readonly methods = new Map<number, ClassAttributeMethod>();
  private readonly classes: ClassIndex;

  constructor(private readonly semantic: SemanticModel) {
    this.classes = classIndex(semantic.root);
  }

  /** What `attribute` (an `obj.NAME` node) means for class `cls` named `className`, which binds NAME in its body. */
  access(attribute: Node, name: string, className: string, cls: Node): ClassAttributeAccess {
    return classify(attribute, name, className, cls, this.semantic, this.methods, this.classes);
  }

  /** The method of `cls` that `node` sits in (through nested functions), if any. */
  methodOf(node: Node, cls: Node): ClassAttributeMethod | undefined {
    return methodOf(node, cls, this.semantic, this.methods);
  }

  /** Can instances of `cls` go into a weak container (a WeakSet when `fromList`) unchanged? */
  weakVerdict(cls: Node, fromList: boolean): WeakVerdict {
    return weakVerdict(cls, this.semantic.root, fromList, this.semantic);
  }
}
