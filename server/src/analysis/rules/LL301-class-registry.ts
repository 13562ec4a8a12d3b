// LL301 class-registry: a class attribute list/dict/set that methods add `self` (or instances they
// create) to, with no removal anywhere in the module: every instance lives as long as the class.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { weakrefSpelling } from '../cycles';
import { basesOf, containerUseKind, instanceKind, isClassKey, isTestModule, type ClassAttributeAccess as Access, type ContainerKind } from '../semantic';
import { unparenthesize } from '../syntax';
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
          const access = context.semantic.classAttributes.access(p, name, className, cls);
          // Another class's own attribute of the same name is another container.
          if (access.via !== 'other' && (isRemoval(p, access.via, kind) || context.semantic.prunedThroughAlias(p))) {
            // `__del__` never runs while the registry still holds the instance it would remove.
            if (access.method?.fn.childForFieldName('name')?.text === '__del__') continue;
            removed = true;
            break;
          }
          accesses.push(access);
        } else if (p?.type !== 'keyword_argument' && cls.startIndex <= id.startIndex && id.endIndex <= cls.endIndex && !context.semantic.classAttributes.methodOf(id, cls)) {
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
  const verdict = context.semantic.classAttributes.weakVerdict(cls, kind === 'list');
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
