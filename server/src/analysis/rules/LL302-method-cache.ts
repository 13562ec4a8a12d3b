// LL302 method-cache: functools.lru_cache / functools.cache on an instance method. The cache
// lives on the function, which lives on the class, and its keys hold `self`.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { decoratorTarget, unparenthesize } from '../syntax';
import type { Rule, RuleContext } from '../types';

const CACHES = new Set(['functools.lru_cache', 'functools.cache']);
const ENUMS = new Set(['enum.Enum', 'enum.IntEnum', 'enum.StrEnum', 'enum.Flag', 'enum.IntFlag', 'enum.ReprEnum']);
/** Metaclasses: their "instances" are classes, which live as long as their module anyway. */
const METACLASSES = new Set(['type', 'builtins.type', 'abc.ABCMeta', 'enum.EnumMeta', 'enum.EnumType']);
const DEFAULT_MAXSIZE = 128;

/** The base-class expressions of a class (keyword arguments such as metaclass= excluded). */
function basesOf(cls: Node): Node[] {
  const args = cls.childForFieldName('superclasses');
  if (!args) return [];
  return args.namedChildren.filter((c): c is Node => !!c && c.type !== 'keyword_argument' && c.type !== 'comment');
}

function metaclassOf(cls: Node): Node | undefined {
  const args = cls.childForFieldName('superclasses');
  for (const c of args?.namedChildren ?? []) {
    if (c?.type === 'keyword_argument' && c.childForFieldName('name')?.text === 'metaclass') return c.childForFieldName('value') ?? undefined;
  }
  return undefined;
}

const ENUM_METAS = new Set(['enum.EnumMeta', 'enum.EnumType']);
const EXEMPT_BASES = new Set([...ENUMS, ...METACLASSES]);

/**
 * True for Enum subclasses and metaclasses: a base (directly, or through classes of this file)
 * is one of EXEMPT_BASES, or the metaclass is Enum's.
 */
function isExemptClass(cls: Node, context: RuleContext, seen = new Set<number>()): boolean {
  if (seen.has(cls.id)) return false;
  seen.add(cls.id);
  const meta = metaclassOf(cls);
  if (meta && isNamed(meta, ENUM_METAS, context)) return true;
  for (const base of basesOf(cls)) {
    if (isNamed(base, EXEMPT_BASES, context)) return true;
    if (base.type === 'identifier') {
      const local = context.semantic.moduleClass(base.text);
      if (local && isExemptClass(local, context, seen)) return true;
    }
  }
  return false;
}

function isNamed(node: Node, names: Set<string>, context: RuleContext): boolean {
  const q = context.qualifiedName(node);
  return !!q && names.has(q);
}


interface CacheInfo {
  shown: string;
  /** undefined: unbounded. */
  maxsize: string | undefined;
}

/** The expression's text on one line, without comments: `functools.lru_cache(maxsize=None)`. */
function compact(expr: Node): string {
  if (expr.type === 'call') {
    const fn = expr.childForFieldName('function');
    const args = expr.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
    return `${fn ? compact(fn) : ''}(${args.map(compact).join(', ')})`;
  }
  const hasComment = expr.descendantsOfType('comment').length > 0;
  return (hasComment ? expr.text.replace(/#[^\n]*/g, '') : expr.text).replace(/\s+/g, ' ').trim();
}

/** How big the decorator's cache can grow: `@cache` and `maxsize=None` are unbounded. */
function cacheInfo(decorator: Node, qualified: string): CacheInfo {
  const expr = decorator.namedChildren.find((c) => c && c.type !== 'comment')!;
  const shown = '@' + compact(expr);
  if (qualified === 'functools.cache') return { shown, maxsize: undefined };
  if (expr.type !== 'call') return { shown, maxsize: String(DEFAULT_MAXSIZE) };
  const args = expr.childForFieldName('arguments');
  let value: Node | undefined;
  const positional = args?.namedChildren.filter((c): c is Node => !!c && c.type !== 'keyword_argument' && c.type !== 'comment') ?? [];
  if (positional.length > 0) value = positional[0];
  for (const a of args?.namedChildren ?? []) {
    if (a?.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'maxsize') value = a.childForFieldName('value') ?? undefined;
  }
  if (!value) return { shown, maxsize: String(DEFAULT_MAXSIZE) };
  const v = unparenthesize(value);
  if (v.type === 'none') return { shown, maxsize: undefined };
  return { shown, maxsize: v.text.replace(/\s+/g, ' ') };
}

export const rule: Rule = {
  code: 'LL302',
  name: 'method-cache',
  category: 'containers',
  defaultSeverity: 'warning',
  query: `
    (class_definition body: (block (decorated_definition definition: (function_definition) @fn) @decorated)) @class
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const exempt = new Map<number, boolean>();
    for (const match of matches) {
      const fn = match.captures.find((c) => c.name === 'fn')!.node;
      const decorated = match.captures.find((c) => c.name === 'decorated')!.node;
      const cls = match.captures.find((c) => c.name === 'class')!.node;
      const decorators = decorated.namedChildren.filter((c): c is Node => c?.type === 'decorator');
      const resolved = decorators.map((d) => {
        const target = decoratorTarget(d);
        return { decorator: d, target, qualified: target ? context.qualifiedName(target) : undefined };
      });
      const caches = resolved.filter((r) => r.target && r.qualified && CACHES.has(r.qualified));
      if (caches.length === 0) continue;
      // Static and class methods (decorated, or implicitly `__new__`, `__init_subclass__`, …) cache no instance.
      const kind = context.semantic.method(fn);
      if (!kind || kind.kind === 'static' || kind.kind === 'class') continue;
      const self = kind.receiver?.text;
      if (!self) continue;
      if (!exempt.has(cls.id)) exempt.set(cls.id, isExemptClass(cls, context));
      if (exempt.get(cls.id)) continue;
      const method = fn.childForFieldName('name')?.text ?? '?';
      const className = cls.childForFieldName('name')?.text ?? '?';
      for (const c of caches) {
        const info = cacheInfo(c.decorator, c.qualified!);
        // maxsize=0 (or negative) caches nothing: no instance is kept.
        if (info.maxsize !== undefined && /^-?0*\d*$/.test(info.maxsize) && Number(info.maxsize) <= 0) continue;
        const message =
          info.maxsize === undefined
            ? `\`${info.shown}\` on method \`${className}.${method}\` caches \`${self}\` in an unbounded cache that lives on the class: every instance it is called on stays alive for the life of the process`
            : `\`${info.shown}\` on method \`${className}.${method}\` caches \`${self}\` in a cache that lives on the class: bounded (maxsize=${info.maxsize}), but it still keeps up to that many calls' instances alive after they are no longer used`;
        context.report({ node: c.decorator, message });
      }
    }
  },
  docs: {
    summary: '`functools.lru_cache` or `functools.cache` on an instance method keeps the instances alive.',
    whatItDoes:
      'Flags `functools.lru_cache` and `functools.cache`, in any spelling (`@lru_cache`, `@lru_cache()`, `@lru_cache(maxsize=None)`, `@functools.cache`, an alias such as `from functools import lru_cache as memo`), applied to a method defined directly in a class body whose first parameter is the instance. The finding is on the decorator; the message says whether the cache is unbounded (`cache`, `maxsize=None`) or bounded. Static methods, class methods, module-level functions, methods of `Enum` subclasses (members are singletons that live as long as the class anyway), methods of metaclasses (their instances are classes), `__new__` / `__init_subclass__` / `__class_getitem__` (their first parameter is the class) and `maxsize=0` (which caches nothing) are not flagged.',
    whyLeak:
      'The decorator runs once, when the class body runs, and wraps the function in a single cache shared by every instance. Each call stores its arguments as the cache key, and the first argument is `self`: the cache holds a strong reference to every instance the method was called on. The cache lives on the class, which usually lives until the process exits, so those instances (and everything they reference) are never freed. With `@cache` or `maxsize=None` there is no limit at all; with a bound, up to `maxsize` recent calls keep their instances alive long after the program dropped them, which is still surprising in code that creates big objects.',
    example:
      'import functools\n\n\nclass Report:\n    def __init__(self, rows):\n        self.rows = rows\n\n    @functools.lru_cache(maxsize=None)\n    def total(self):\n        return sum(self.rows)\n',
    useInstead:
      'import functools\n\n\nclass Report:\n    def __init__(self, rows):\n        self.rows = rows\n\n    @functools.cached_property\n    def total(self):\n        return sum(self.rows)\n\n\nclass Lookup:\n    def __init__(self, table):\n        self.table = table\n        # A per-instance cache: freed with the instance.\n        self.find = functools.lru_cache(maxsize=256)(self._find)\n\n    def _find(self, key):\n        return self.table.get(key)\n',
    fixSafety:
      'No fix is offered: the right replacement depends on the method. A method without arguments becomes a `functools.cached_property` (the value is stored on the instance and dies with it); a method with arguments can build a per-instance cache in `__init__` (`self.find = functools.lru_cache(maxsize=256)(self._find)`), which is freed with the instance — though it forms a reference cycle that only the cyclic garbage collector reclaims. A cache keyed on something other than `self` can move to a module-level function that takes only those values.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/functools.html#functools.lru_cache',
      'https://docs.python.org/3/library/functools.html#functools.cached_property',
      'https://docs.python.org/3/faq/programming.html#how-do-i-cache-method-calls',
    ],
  },
};
