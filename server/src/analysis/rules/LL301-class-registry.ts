// LL301 class-registry: a class attribute list/dict/set that methods add `self` (or instances they
// create) to, with no removal anywhere in the module: every instance lives as long as the class.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { weakrefSpelling } from '../cycles';
import { containerUseKind, isTestModule, type ContainerKind, type Scope, type SemanticModel } from '../semantic';
import { decoratorsOf, decoratorTarget, unparenthesize } from '../syntax';
import { wordOffsets } from '../text';
import type { Fix, OffsetEdit, RelatedLocation, Rule, RuleContext } from '../types';

type Kind = 'list' | 'set' | 'dict';

/**
 * LL301 asks only whether instances are stored, so it folds the semantic model's container kinds
 * (semantic/growth.ts, the one table of constructors) into three: an `OrderedDict`, a `defaultdict`
 * and a `Counter` are dicts (`Cls._live[self] += 1` on a Counter keeps the instance as a key), a
 * deque is a list (a deque bounded by `maxlen` drops old instances itself and is not followed).
 * Comprehensions are left out: a class body that computes its container is not a registry.
 */
const KINDS: Record<ContainerKind, Kind> = { list: 'list', deque: 'list', set: 'set', dict: 'dict', defaultdict: 'dict', counter: 'dict' };
/** Names that only declare configuration for a framework (Django, SQLAlchemy, pydantic, attrs). */
const DECLARATION_CLASSES = new Set(['Meta', 'Config', 'Params']);
const DECLARATION_NAMES = new Set(['__table_args__', '__mapper_args__', '__slots__', '__all__', 'model_config']);
const METACLASS_BASES = new Set(['type', 'builtins.type', 'abc.ABCMeta', 'enum.EnumMeta', 'enum.EnumType']);
/** Reads that a weak container supports the same way. */
const SAFE_CALLERS = new Set(['len', 'list', 'tuple', 'sorted', 'set', 'frozenset', 'iter', 'any', 'all', 'bool']);
const ITERATING_DICT_METHODS = new Set(['items', 'values', 'keys']);

interface Method {
  fn: Node;
  /** The first parameter's name (absent for static methods). */
  first?: string;
  role: 'instance' | 'class' | 'static';
  /** The method's own scope (from the scope model, built when first asked). */
  scope: () => Scope;
}

interface Access {
  /** The `obj.NAME` attribute node. */
  node: Node;
  /** class: `Cls.NAME`, `cls.NAME`, `type(self).NAME`; self: `self.NAME`; other: another class's own NAME; unknown: anything else. */
  via: 'class' | 'self' | 'unknown' | 'other';
  method?: Method;
}

interface Addition {
  node: Node;
  how: string;
  /** The edit `.append` → `.add` needs, when it is a plain list append of the instance. */
  rename?: OffsetEdit;
  /** Whether the added thing is exactly the instance (not inside a tuple, not a key). */
  direct: boolean;
  asKey: boolean;
  /** The key an instance is stored under (a dict value), when there is one. */
  key?: Node;
}


/** The text after a `.NAME` that may grow it: `.append(`, `[…] =`, `+=` … (loose on purpose). */
const GROWTH_AFTER_ATTRIBUTE = String.raw`[\s)]*(?:\.\s*(?:append|add|insert|extend|update|setdefault)\b|\[[^\n]*\]\s*=(?!=)|\[[^\]\n]*\n|\+=)`;

/**
 * A textual pre-filter (it only decides whether to look at a class attribute at all): does any
 * `.name.append(` / `.name[…] = ` / `.name.add(` / `.name += ` appear? `growth` is a sticky
 * expression made from GROWTH_AFTER_ATTRIBUTE for this analysis.
 */
function mayGrow(text: string, offsets: number[], name: string, growth: RegExp): boolean {
  return offsets.some((i) => {
    let j = i - 1;
    while (j >= 0 && (text[j] === ' ' || text[j] === '\t')) j--;
    if (text[j] !== '.') return false;
    growth.lastIndex = i + name.length;
    return growth.test(text);
  });
}

function containerKind(value: Node, context: RuleContext): { kind: Kind; empty: boolean } | undefined {
  const built = context.semantic.containerBuilt(value);
  if (!built || built.comprehension || built.bounded) return undefined;
  // The weak fix replaces only a builtin that starts empty.
  return { kind: KINDS[built.kind], empty: built.empty && built.builtin };
}


/** The method of the class model a def is (kind and receiver), in the roles this rule uses. */
function methodInfo(fn: Node, context: RuleContext): Method {
  const m = context.semantic.method(fn);
  const role: Method['role'] = m?.kind === 'static' ? 'static' : m?.kind === 'class' ? 'class' : 'instance';
  return { fn, first: role === 'static' ? undefined : m?.receiver?.text, role, scope: () => context.semantic.scopeFor(fn) };
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
function methodOf(node: Node, cls: Node, context: RuleContext, cache: Map<number, Method>): Method | undefined {
  const found = enclosingMethod(node, context.semantic, cls)?.fn;
  if (!found) return undefined;
  let m = cache.get(found.id);
  if (!m) cache.set(found.id, (m = methodInfo(found, context)));
  return m;
}

/** `type(self)` or `self.__class__`. */
function isClassOfInstance(node: Node, self: string | undefined): boolean {
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
function isOtherClassAttribute(attribute: Node, obj: Node, name: string, cls: Node, context: RuleContext, cache: Map<number, Method>, classes: ClassIndex): boolean {
  const spelled = obj.type === 'identifier' ? obj.text : obj.type === 'attribute' ? obj.childForFieldName('attribute')?.text : undefined;
  if (spelled) {
    const other = classes().get(spelled);
    if (other && !other.equals(cls) && bodyAssigns(other, name)) return true;
  }
  const holder = enclosingMethod(attribute, context.semantic);
  if (!holder || holder.cls.equals(cls) || !bodyAssigns(holder.cls, name)) return false;
  let m = cache.get(holder.fn.id);
  if (!m) cache.set(holder.fn.id, (m = methodInfo(holder.fn, context)));
  if (!m.first) return false;
  return (obj.type === 'identifier' && obj.text === m.first) || (m.role === 'instance' && isClassOfInstance(obj, m.first));
}

function classify(attribute: Node, name: string, className: string, cls: Node, context: RuleContext, cache: Map<number, Method>, classes: ClassIndex): Access {
  const obj = unparenthesize(attribute.childForFieldName('object')!);
  const method = methodOf(attribute, cls, context, cache);
  if (obj.type === 'identifier' && obj.text === className) return { node: attribute, via: 'class', method };
  // `Outer.Inner.NAME` for a nested class.
  if (obj.type === 'attribute' && obj.childForFieldName('attribute')?.text === className && classes().get(className)?.equals(cls)) {
    return { node: attribute, via: 'class', method };
  }
  if (method?.first) {
    if (obj.type === 'identifier' && obj.text === method.first) return { node: attribute, via: method.role === 'class' ? 'class' : 'self', method };
    if (method.role === 'instance' && isClassOfInstance(obj, method.first)) return { node: attribute, via: 'class', method };
  }
  if (isOtherClassAttribute(attribute, obj, name, cls, context, cache, classes)) return { node: attribute, via: 'other', method };
  return { node: attribute, via: 'unknown', method };
}

/** A local of `fn` that only ever holds a new instance of the class (`obj = cls()`, `self = super().__new__(cls)`). */
function isCreation(value: Node, className: string, method: Method): boolean {
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
function isInstanceLocal(name: string, className: string, method: Method): boolean {
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

/** Whether `value` is the instance: `self` in an instance method, or a local/expression that creates one. */
function instanceKind(value: Node | null | undefined, access: Access, className: string): 'direct' | 'inside' | undefined {
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
function isClassKey(key: Node | null | undefined, access: Access, className: string): boolean {
  if (!key || !access.method) return false;
  const k = unparenthesize(key);
  if (k.type === 'identifier' && (k.text === className || (access.method.role === 'class' && k.text === access.method.first))) return true;
  return access.method.role === 'instance' && isClassOfInstance(k, access.method.first);
}

function argumentsOf(call: Node): Node[] {
  return call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
}

/** What `access` does, if it adds the instance. */
function additionAt(access: Access, kind: Kind, className: string, name: string): Addition | undefined {
  if (!access.method) return undefined;
  const attr = access.node;
  const p = attr.parent;
  if (!p) return undefined;
  const shown = `${attr.childForFieldName('object')!.text}.${name}`;
  if (p.type === 'attribute' && p.childForFieldName('object')?.equals(attr)) {
    const method = p.childForFieldName('attribute')?.text ?? '';
    const call = p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p) ? p.parent : undefined;
    if (!call) return undefined;
    const args = argumentsOf(call);
    const how = `\`${shown}.${method}(…)\``;
    if (kind !== 'dict') {
      if (method === 'append' || method === 'add') {
        const k = instanceKind(args[0], access, className);
        if (!k) return undefined;
        const id = p.childForFieldName('attribute')!;
        const rename = kind === 'list' && method === 'append' && k === 'direct' ? { start: id.startIndex, end: id.endIndex, text: 'add' } : undefined;
        return { node: call, how, rename, direct: k === 'direct' && (method === 'add' || !!rename), asKey: false };
      }
      if (method === 'insert' && instanceKind(args[1], access, className)) return { node: call, how, direct: false, asKey: false };
      if ((method === 'extend' || method === 'update') && args[0] && (args[0].type === 'list' || args[0].type === 'tuple' || args[0].type === 'set')) {
        if (args[0].namedChildren.some((c) => c && instanceKind(c, access, className) === 'direct')) return { node: call, how, direct: false, asKey: false };
      }
      return undefined;
    }
    if (method === 'setdefault') {
      if (isClassKey(args[0], access, className)) return undefined;
      const k = instanceKind(args[1], access, className);
      if (k) return { node: call, how, direct: k === 'direct', asKey: false, key: args[0] };
      if (instanceKind(args[0], access, className)) return { node: call, how, direct: false, asKey: true };
    }
    if (method === 'update' && args[0]?.type === 'dictionary') {
      for (const pair of args[0].namedChildren) {
        if (pair?.type !== 'pair') continue;
        if (instanceKind(pair.childForFieldName('value'), access, className) || instanceKind(pair.childForFieldName('key'), access, className)) {
          return { node: call, how, direct: false, asKey: false };
        }
      }
    }
    return undefined;
  }
  if (kind === 'dict' && p.type === 'subscript' && p.childForFieldName('value')?.equals(attr)) {
    const holder = p.parent;
    if (holder?.type !== 'assignment' || !holder.childForFieldName('left')?.equals(p)) return undefined;
    const key = p.childForFieldName('subscript');
    if (isClassKey(key, access, className)) return undefined;
    const how = `\`${shown}[…] = …\``;
    const k = instanceKind(holder.childForFieldName('right'), access, className);
    if (k) return { node: holder, how, direct: k === 'direct', asKey: false, key: key ?? undefined };
    if (instanceKind(key, access, className)) return { node: holder, how: `\`${shown}[${access.method.first ?? '…'}] = …\``, direct: false, asKey: true };
    return undefined;
  }
  if (kind === 'list' && p.type === 'augmented_assignment' && p.childForFieldName('left')?.equals(attr) && p.childForFieldName('operator')?.text === '+=') {
    const right = p.childForFieldName('right');
    if (right && (right.type === 'list' || right.type === 'tuple') && right.namedChildren.some((c) => c && instanceKind(c, access, className) === 'direct')) {
      return { node: p, how: `\`${shown} += […]\``, direct: false, asKey: false };
    }
  }
  return undefined;
}

/** True when this access removes from the container or replaces it. */
function isRemoval(attr: Node, via: Access['via'], kind: Kind): boolean {
  const use = containerUseKind(attr);
  if (use === 'remove' || use === 'delete') return true;
  // Overwriting a list item (`C.NAME[i] = None`) prunes it too.
  const p = attr.parent;
  if (kind === 'list' && use === 'grow' && p?.type === 'subscript' && p.childForFieldName('value')?.equals(attr)) return true;
  // `Cls.NAME = []` resets the registry (an instance attribute `self.NAME = …` does not).
  return use === 'set' && via !== 'self';
}

/** `alias = Cls.NAME` followed by `alias.pop(…)` / `del alias[…]` in the scope that binds the alias. */
function prunedThroughAlias(attr: Node, semantic: SemanticModel): boolean {
  const p = attr.parent;
  if (p?.type !== 'assignment' || !p.childForFieldName('right')?.equals(attr)) return false;
  const left = p.childForFieldName('left');
  if (left?.type !== 'identifier') return false;
  const binding = semantic.bindingAt(left);
  return !!binding && removesThrough(binding.scope, left.text, semantic);
}

/** Does some read of `name` that resolves to `scope` (there or in a scope nested in it) take entries out? */
function removesThrough(scope: Scope, name: string, semantic: SemanticModel): boolean {
  return semantic.readsOf(scope, name).some((id) => {
    const use = containerUseKind(id);
    return use === 'remove' || use === 'delete';
  });
}

type UseVerdict = 'safe' | 'lookup' | 'incompatible';

/**
 * Does a weak container support this non-adding use the same way? Iteration, `len`, `in`, truth
 * tests and copies into a list do ('safe'). A lookup by key in a dict (`C.NAME[k]`, `.get(k)`)
 * works too, but finds nothing once the instance is freed — and code that looks instances up by
 * key may rely on the registry to keep them ('lookup'). Anything else does not ('incompatible').
 */
function useVerdict(access: Access, kind: Kind): UseVerdict {
  const attr = access.node;
  const p = attr.parent;
  if (!p) return 'incompatible';
  // Iteration: `for x in C.NAME`, comprehensions.
  if ((p.type === 'for_statement' || p.type === 'for_in_clause') && p.childForFieldName('right')?.equals(attr)) return 'safe';
  // Membership: `x in C.NAME`.
  if (p.type === 'comparison_operator' && p.namedChildren.findIndex((c) => c?.equals(attr)) > 0) {
    const ops = p.children.filter((c) => c && !c.isNamed).map((c) => c!.text);
    if (ops.every((o) => o === 'in' || o === 'not in' || o === 'not')) return 'safe';
  }
  // `len(C.NAME)`, `list(C.NAME)`, …
  if (p.type === 'argument_list' && p.namedChildCount === 1) {
    const fn = p.parent?.childForFieldName('function');
    if (fn?.type === 'identifier' && SAFE_CALLERS.has(fn.text)) return 'safe';
  }
  // Truth tests: `if C.NAME:`, `not C.NAME`.
  if ((p.type === 'if_statement' || p.type === 'while_statement' || p.type === 'elif_clause') && p.childForFieldName('condition')?.equals(attr)) return 'safe';
  if (p.type === 'not_operator') return 'safe';
  if (kind === 'dict') {
    if (p.type === 'attribute' && p.childForFieldName('object')?.equals(attr) && p.parent?.type === 'call') {
      const method = p.childForFieldName('attribute')?.text ?? '';
      if (ITERATING_DICT_METHODS.has(method)) return 'safe';
      if (method === 'get') return 'lookup';
      return 'incompatible';
    }
    // Reads: `C.NAME[key]`.
    if (p.type === 'subscript' && p.childForFieldName('value')?.equals(attr)) {
      const holder = p.parent;
      const written = (holder?.type === 'assignment' || holder?.type === 'augmented_assignment') && holder.childForFieldName('left')?.equals(p);
      return written ? 'incompatible' : 'lookup';
    }
  }
  return 'incompatible';
}

function basesOf(cls: Node): Node[] {
  const args = cls.childForFieldName('superclasses');
  return args?.namedChildren.filter((c): c is Node => !!c && c.type !== 'keyword_argument' && c.type !== 'comment') ?? [];
}

function hasKeywordArguments(cls: Node): boolean {
  return cls.childForFieldName('superclasses')?.namedChildren.some((c) => c?.type === 'keyword_argument') ?? false;
}

function bodyAssigns(cls: Node, name: string): Node | undefined {
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

type WeakVerdict = 'safe' | 'unsafe' | 'impossible';

const DATACLASS_DECORATORS = new Set([
  'dataclasses.dataclass', 'attr.s', 'attr.attrs', 'attr.define', 'attr.mutable', 'attr.frozen', 'attr.dataclass',
  'attrs.define', 'attrs.mutable', 'attrs.frozen',
]);

/**
 * What `@dataclass` / attrs decorators generate: `__eq__` unless eq=False; a `__hash__` only when
 * frozen or unsafe_hash (otherwise instances are unhashable); `__slots__` without `__weakref__`
 * with slots=True (unless weakref_slot=True).
 */
function generatedMethods(cls: Node, context: RuleContext): { eq: boolean; hash: boolean; slotsWithoutWeakref: boolean } {
  const out = { eq: false, hash: false, slotsWithoutWeakref: false };
  for (const d of decoratorsOf(cls)) {
    const target = decoratorTarget(d);
    const q = target ? context.qualifiedName(target) : undefined;
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
function weakVerdict(cls: Node, root: Node, fromList: boolean, context: RuleContext, seen = new Set<number>()): WeakVerdict {
  if (seen.has(cls.id)) return 'unsafe';
  seen.add(cls.id);
  const slots = bodyAssigns(cls, '__slots__');
  if (slots && !slots.childForFieldName('right')?.text.includes('__weakref__')) return 'impossible';
  let verdict: WeakVerdict = 'safe';
  const generated = generatedMethods(cls, context);
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
    const local = base.type === 'identifier' ? context.semantic.moduleClass(base.text) : undefined;
    if (!local) return 'unsafe';
    const v = weakVerdict(local, root, fromList, context, seen);
    if (v === 'impossible') return v;
    if (v === 'unsafe') verdict = 'unsafe';
  }
  return verdict;
}

/** Rewrites `list`, `list[T]`, `List[T]`, `set[T]`, `Set[T]`, `dict[K, V]`, `Dict[K, V]` (optionally in `ClassVar[…]`); null for anything else. */
function annotationEdit(type: Node, kind: Kind, weakName: string, context: RuleContext): OffsetEdit | null {
  let text = type.text.trim();
  let wrapper: string | undefined;
  const classVar = /^((?:typing\.)?ClassVar)\[([^]*)\]$/.exec(text);
  if (classVar) {
    wrapper = classVar[1];
    text = classVar[2].trim();
  }
  const m = /^(list|List|typing\.List|set|Set|typing\.Set|dict|Dict|typing\.Dict)\s*(\[[^]*\])?$/.exec(text);
  if (!m) return null;
  const base = m[1].replace(/^typing\./, '').toLowerCase();
  if ((base === 'dict') !== (kind === 'dict')) return null;
  const args = m[2] ?? '';
  if (args) {
    // `weakref.WeakSet[T]` is evaluated in a class body: it needs 3.9, unless annotations are postponed.
    const { major, minor } = context.options.targetVersion;
    const postponed = postponedAnnotations(context.root);
    if (!postponed && (major < 3 || (major === 3 && minor < 9))) return null;
  }
  const inner = `${weakName}${args}`;
  return { start: type.startIndex, end: type.endIndex, text: wrapper ? `${wrapper}[${inner}]` : inner };
}

/** `from __future__ import annotations` at the top of the module. */
function postponedAnnotations(root: Node): boolean {
  return root.namedChildren.some((stmt) => stmt?.type === 'future_import_statement' && stmt.childrenForFieldName('name').some((n) => n?.text === 'annotations'));
}

export const rule: Rule = {
  code: 'LL301',
  name: 'class-registry',
  category: 'containers',
  defaultSeverity: 'warning',
  query: `
    (class_definition
      name: (identifier) @class_name
      body: (block (expression_statement (assignment left: (identifier) @name right: [(list) (dictionary) (set) (call) (parenthesized_expression)] @value) @assign))) @class
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const { text, root } = context;
    const growth = new RegExp(GROWTH_AFTER_ATTRIBUTE, 'y');
    const methods = new Map<number, Method>();
    const classes = classIndex(root);
    const metaVerdicts = new Map<number, boolean>();
    for (const match of matches) {
      const get = (n: string) => match.captures.find((c) => c.name === n)!.node;
      const cls = get('class');
      const className = get('class_name').text;
      const target = get('name');
      const name = target.text;
      const assign = get('assign');
      if (DECLARATION_CLASSES.has(className) || DECLARATION_NAMES.has(name)) continue;
      const offsets = wordOffsets(text, name);
      if (!mayGrow(text, offsets, name, growth)) continue;
      const container = containerKind(get('value'), context);
      if (!container) continue;
      const { kind } = container;
      if (!metaVerdicts.has(cls.id)) {
        metaVerdicts.set(cls.id, basesOf(cls).some((b) => METACLASS_BASES.has(context.qualifiedName(b) ?? '')));
      }
      if (metaVerdicts.get(cls.id)) continue; // a metaclass's "instances" are classes

      // Every `x.NAME` in the module, and bare NAME in the class body.
      const accesses: Access[] = [];
      let removed = false;
      let bareUse = false;
      for (const start of offsets) {
        const id = root.namedDescendantForIndex(start, start + name.length);
        if (!id || id.type !== 'identifier' || id.startIndex !== start || id.endIndex !== start + name.length) continue;
        if (id.equals(target)) continue;
        const p = id.parent;
        if (p?.type === 'attribute' && p.childForFieldName('attribute')?.equals(id)) {
          const access = classify(p, name, className, cls, context, methods, classes);
          // Another class's own attribute of the same name is another container.
          if (access.via !== 'other' && (isRemoval(p, access.via, kind) || prunedThroughAlias(p, context.semantic))) {
            // `__del__` never runs while the registry still holds the instance it would remove.
            if (access.method?.fn.childForFieldName('name')?.text === '__del__') continue;
            removed = true;
            break;
          }
          accesses.push(access);
        } else if (p?.type !== 'keyword_argument' && cls.startIndex <= id.startIndex && id.endIndex <= cls.endIndex && !methodOf(id, cls, context, methods)) {
          bareUse = true;
        }
      }
      if (removed) continue;
      // `self.NAME = …` makes NAME an instance attribute: `self.NAME` then no longer means the class's container.
      const shadowed = accesses.some((a) => {
        const p = a.node.parent;
        return a.via === 'self' && (p?.type === 'assignment' || p?.type === 'augmented_assignment') && p.childForFieldName('left')?.equals(a.node);
      });
      const additions: Addition[] = [];
      let uses: UseVerdict = bareUse ? 'incompatible' : 'safe';
      const worse = (v: UseVerdict) => {
        if (v === 'incompatible' || (v === 'lookup' && uses === 'safe')) uses = v;
      };
      for (const access of accesses) {
        if (access.via === 'other') continue;
        if (access.via === 'unknown' || (access.via === 'self' && shadowed)) {
          worse('incompatible');
          continue;
        }
        const addition = additionAt(access, kind, className, name);
        if (addition) additions.push(addition);
        else worse(useVerdict(access, kind));
      }
      if (additions.length === 0) continue;

      const shown = `${className}.${name}`;
      const first = additions[0];
      const related: RelatedLocation[] = additions.map((a) => ({
        start: a.node.startIndex,
        end: a.node.endIndex,
        message: a.asKey ? `an instance is used as a key of \`${shown}\` here` : `an instance is added to \`${shown}\` here`,
      }));
      const holds = additions.every((a) => a.asKey) ? 'keeps instances as keys' : 'collects instances';
      const reasons = lowConfidence(additions, context);
      const message =
        `Class attribute \`${shown}\` (a ${kind}) ${holds} (${first.how}) in \`${context.semantic.functionRunning(first.node)?.childForFieldName('name')?.text ?? '?'}\` and nothing in this module removes them (a removal in \`__del__\` does not count: it never runs while the registry holds the instance): every instance stays alive as long as the class. ` +
        'Fix: remove the instance when it is closed or done with, or hold the instances weakly (`weakref.WeakSet`, `weakref.WeakValueDictionary`)' +
        (reasons.length > 0 ? `. Low confidence: ${reasons.join('; ')}` : '');
      const fixes: Fix[] = [];
      const fix = weakFix(context, cls, assign, kind, container.empty, uses, additions);
      if (fix) fixes.push(fix);
      context.report({ node: target, message, related, fixes, confidence: reasons.length > 0 ? 'low' : undefined, subject: { kind: 'classAttribute', name: shown } });
    }
  },
  docs: {
    summary: "A class-level list, dict or set that collects the class's instances and never lets them go.",
    whatItDoes:
      'Flags a class attribute initialised to a list, dict or set (`[]`, `{}`, `set()`, `list()`, `dict()`, `OrderedDict()`, `defaultdict(…)`, `Counter()`, or a `deque()` without a `maxlen`, also spelled through `typing`) to which the class\'s methods add `self` or an instance they create: `Cls.instances.append(self)`, `self.registry[key] = self`, `type(self).all.add(self)`, `self.__class__.live.append(self)`, `obj = cls(); cls._all.add(obj)`, `self = super().__new__(cls); cls._interned[key] = self`, also `insert`, `extend([self])`, `+= [self]`, `setdefault(key, self)`, an instance inside a tuple, or `self` used as a key — when nothing anywhere in the module removes from that attribute (`remove`, `discard`, `pop`, `popitem`, `clear`, `del x[k]`, slice assignment, overwriting a list item, re-binding `Cls.attr = …`, a removal method passed as a callback such as `weakref.finalize(self, Cls.instances.remove, self)`, or a removal through a local alias). The finding is on the class attribute\'s binding; related information points at every addition. A removal in `__del__` does not count: `__del__` never runs while the registry still holds the instance.\n\n' +
      'Confident findings add the instance itself, once per instance: as an element (`append`, `add`), as a key (`registry[self] = …`), or under `id(self)`. The finding has low confidence (reported only with `all-findings`, one severity lower), and the message says why, when the instances are stored under a key from the caller (`cls._cache[key] = obj`: an interning cache holds one instance per distinct key, which stays bounded when keys repeat), or when the module is test code (it imports `unittest` or `pytest`), whose objects are usually short-lived.\n\n' +
      'Not flagged: weak containers (`weakref.WeakSet`, `WeakValueDictionary`, `WeakKeyDictionary`); containers that are only declared, such as Django `Meta` options, SQLAlchemy `__table_args__` / `__mapper_args__`, pydantic `Config` / `model_config`; classes registering themselves (`__init_subclass__`, metaclasses), since classes live as long as their module anyway; per-class singletons keyed by the class (`cls._instances[cls] = obj`), which hold one instance per class; containers that only ever receive other objects (handlers, names, `weakref.ref(self)`); and an instance attribute of the same name (`self.items = []` in `__init__`).',
    whyLeak:
      'A class attribute lives as long as the class, and a class defined at module level lives until the process exits. Every instance added to the container is strongly referenced from there, so it is never freed — nor is anything it references: buffers, sockets, caches, parents. The program drops its own references and believes the objects are gone, but the registry keeps them, and it grows with every instance ever created.',
    example:
      'class Connection:\n    instances = []\n\n    def __init__(self, host):\n        self.host = host\n        Connection.instances.append(self)\n',
    useInstead:
      'import weakref\n\n\nclass Connection:\n    instances = weakref.WeakSet()\n\n    def __init__(self, host):\n        self.host = host\n        Connection.instances.add(self)\n',
    fixSafety:
      'The fix makes the container weak: `[]` and `set()` become `weakref.WeakSet()` (and each `.append(` of an instance becomes `.add(`); a dict whose values are the instances becomes `weakref.WeakValueDictionary()`. It adds `import weakref`, or reuses an existing `import weakref as …` / `from weakref import WeakSet`, and rewrites a plain annotation (`list`, `List[T]`, `set[T]`, `Dict[K, V]`, also inside `ClassVar[…]`; subscripted forms only for target 3.9 or later, or with `from __future__ import annotations`).\n\n' +
      'It is offered only when the container starts empty, every addition stores the instance itself (not a tuple, not as a key), and every use of the attribute in the module is one a weak container supports: iteration, `len()`, `in`, truth tests, `list()`/`sorted()`/`tuple()`, for dicts also `items()`, `keys()`, `values()`, `d[k]` and `get()`. It is not offered when the instances cannot be weakly referenced (`__slots__` without `__weakref__`, `@dataclass(slots=True)`), or when a list would become a set of unhashable instances (`__eq__` without `__hash__`, a plain `@dataclass`), or when the attribute is used in a way this rule cannot follow (indexing a list, `sort`, passing it to another function, a use through another object).\n\n' +
      "It is always unsafe. A registry may be the only owner of its instances: code that creates an instance, registers it and later finds it only through the registry loses it as soon as it is created, because a weak container does not keep it alive. A weak container's iteration order is also not insertion order, and equal instances of a class with `__eq__`/`__hash__` collapse into one entry of a former list. Code in other modules that uses the attribute is not seen. The `import weakref` the fix relies on must be at module level: one inside a function or method does not count, and the fix then adds its own.",
    options: '`target-version` decides whether a subscripted annotation can be rewritten (3.9 and later, or with `from __future__ import annotations`).',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.WeakSet',
      'https://docs.python.org/3/library/weakref.html#weakref.WeakValueDictionary',
      'https://docs.python.org/3/reference/datamodel.html#object.__hash__',
      'https://docs.python.org/3/reference/datamodel.html#slots',
    ],
  },
};

/**
 * Why the evidence of growth is incomplete, if it is: instances interned under a key from the
 * caller (one per distinct key, bounded when keys repeat), or test code.
 */
function lowConfidence(additions: Addition[], context: RuleContext): string[] {
  const reasons: string[] = [];
  const perInstance = additions.some((a) => {
    // The instance itself as key or element is one entry per instance.
    if (a.asKey || !a.key) return true;
    const fn = context.semantic.functionRunning(a.node);
    const m = fn?.type === 'function_definition' ? context.semantic.method(fn) : undefined;
    return !!fn && context.semantic.originOf(a.key, fn, m?.kind === 'instance' ? m.receiver?.text : undefined).kind === 'identity';
  });
  if (!perInstance) {
    reasons.push('the instances are stored under a key from the caller (an interning cache holds one per distinct key, which stays bounded when keys repeat)');
  }
  if (context.semantic.memo('LL301:test', () => isTestModule(context.root))) reasons.push('this is test code, whose objects are usually short-lived');
  return reasons;
}

function weakFix(
  context: RuleContext,
  cls: Node,
  assign: Node,
  kind: Kind,
  empty: boolean,
  uses: UseVerdict,
  additions: Addition[],
): Fix | undefined {
  if (!empty || uses === 'incompatible') return undefined;
  if (kind === 'dict' ? additions.some((a) => !a.direct || a.asKey) : additions.some((a) => !a.direct)) return undefined;
  const verdict = weakVerdict(cls, context.root, kind === 'list', context);
  if (verdict === 'impossible') return undefined;
  const member = kind === 'dict' ? 'WeakValueDictionary' : 'WeakSet';
  const spelling = weakrefSpelling(context, member);
  const weakName = spelling.callee;
  const edits: OffsetEdit[] = [...spelling.edits];
  const type = assign.childForFieldName('type');
  if (type) {
    const edit = annotationEdit(type, kind, weakName, context);
    if (!edit) return undefined;
    edits.push(edit);
  }
  // The literal itself, inside any parentheses, so that comments around it stay.
  const value = unparenthesize(assign.childForFieldName('right')!);
  edits.push({ start: value.startIndex, end: value.endIndex, text: `${weakName}()` });
  for (const a of additions) if (a.rename) edits.push(a.rename);
  const title = kind === 'dict' ? 'Hold the instances in a weakref.WeakValueDictionary' : 'Hold the instances in a weakref.WeakSet';
  // Never safe: the registry may be the only owner of its instances (created and registered,
  // then found only through it), and a weak container loses them as soon as they are created.
  return { title: `${title} (instances that nothing else holds are dropped from it)`, safety: 'unsafe', edits };
}
