// LL302 method-cache: functools.lru_cache / functools.cache on an instance method. The cache
// lives on the function, which lives on the class, and its keys hold `self`.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { decoratorTarget, unparenthesize } from '../syntax';
import type { FindingSubject, Rule, RuleContext } from '../types';

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

/** One statement's text on one line, shortened: `apps = Apps(installed_apps=None)`. */
function statementText(node: Node): string {
  let n: Node = node;
  while (n.parent && n.parent.type !== 'block' && n.parent.type !== 'module') n = n.parent;
  const one = n.text.replace(/\s+/g, ' ').trim();
  return one.length > 50 ? one.slice(0, 47) + '…' : one;
}

/** Where the file makes instances of a class: a statement run at import time, and the functions that make one. */
interface Instances {
  /** A statement that makes one at import time, directly or through a function of the file it calls. */
  importTime?: string;
  /** The functions whose calls make one (a fresh instance per call). */
  perCall: string[];
}

/** The calls of the name an identifier binds (`Name(...)`), through the scopes. */
function callsOf(nameNode: Node, context: RuleContext): Node[] {
  const binding = context.semantic.bindingAt(nameNode);
  if (!binding) return [];
  const calls: Node[] = [];
  for (const read of context.semantic.readsOf(binding.scope, binding.name)) {
    const call = read.parent;
    if (call?.type === 'call' && call.childForFieldName('function')?.equals(read)) calls.push(call);
  }
  return calls;
}

/**
 * The instances of `cls` this file makes: calls of the class's name found through its binding;
 * a call at import time (module level, a class body) makes a long-lived instance, and so does a
 * call of a function of the file, made at import time, that makes one (`manager = _load()`).
 */
function instancesOf(cls: Node, context: RuleContext): Instances {
  return context.semantic.memo(`LL302.instances.${cls.id}`, () => {
    const out: Instances = { perCall: [] };
    const name = cls.childForFieldName('name');
    if (!name) return out;
    for (const call of callsOf(name, context)) {
      const fn = context.semantic.functionRunning(call);
      if (!fn) {
        out.importTime ??= statementText(call);
        continue;
      }
      const fname = fn.type === 'function_definition' ? fn.childForFieldName('name') : null;
      if (!fname) continue;
      if (!out.perCall.includes(fname.text)) out.perCall.push(fname.text);
      // A factory of the file called at import time: its instance is made once, for good.
      for (const outer of callsOf(fname, context)) {
        if (!context.semantic.functionRunning(outer)) out.importTime ??= statementText(outer);
      }
    }
    return out;
  });
}

/** A `….method.cache_clear()` call in the file: the code empties this method's cache itself. */
function cacheClearOf(method: string, context: RuleContext): string | undefined {
  // A text pre-filter only: a file without the word has no such call.
  if (!context.text.includes('cache_clear')) return undefined;
  const clears = context.semantic.memo('LL302.cacheClears', () =>
    context.root.descendantsOfType('attribute').filter((a): a is Node => !!a && a.childForFieldName('attribute')?.text === 'cache_clear' && a.childForFieldName('object')?.type === 'attribute'),
  );
  const hit = clears.find((a) => a.childForFieldName('object')!.childForFieldName('attribute')?.text === method);
  return hit ? `${hit.text}()` : undefined;
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
      // The name a run gives the cache: the method, through its class.
      const subject: FindingSubject = { kind: 'method', name: `${className}.${method}` };
      for (const c of caches) {
        const info = cacheInfo(c.decorator, c.qualified!);
        // maxsize=0 (or negative) caches nothing: no instance is kept.
        if (info.maxsize !== undefined && /^-?0*\d*$/.test(info.maxsize) && Number(info.maxsize) <= 0) continue;
        const head = `\`${info.shown}\` on method \`${className}.${method}\` caches \`${self}\``;
        if (info.maxsize !== undefined) {
          // Bounded: at most maxsize instances stay, which the judges did not call a leak.
          const message = `${head} in a cache that lives on the class: bounded (maxsize=${info.maxsize}), it keeps up to that many calls' instances alive after they are no longer used, but no more`;
          context.report({ node: c.decorator, message, confidence: 'low', subject });
          continue;
        }
        const unbounded = `${head} in an unbounded cache that lives on the class`;
        const cleared = cacheClearOf(method, context);
        const instances = instancesOf(cls, context);
        if (cleared) {
          context.report({ node: c.decorator, message: `${unbounded}, but the file empties it (\`${cleared}\`): whether instances stay alive depends on when that runs`, confidence: 'low', subject });
        } else if (instances.importTime) {
          context.report({
            node: c.decorator,
            message: `${unbounded}; an instance is made at import time (\`${instances.importTime}\`), which lives for the whole process anyway: only other instances it is called on would be kept`,
            confidence: 'low',
            subject,
          });
        } else {
          const where = instances.perCall.length > 0 ? ` (instances are made in ${instances.perCall.slice(0, 3).map((f) => `\`${f}\``).join(', ')}, one per call)` : '';
          context.report({ node: c.decorator, message: `${unbounded}: every instance it is called on stays alive for the life of the process${where}`, subject });
        }
      }
    }
  },
  docs: {
    summary: '`functools.lru_cache` or `functools.cache` on an instance method keeps the instances alive.',
    whatItDoes:
      'Flags `functools.lru_cache` and `functools.cache`, in any spelling (`@lru_cache`, `@lru_cache()`, `@lru_cache(maxsize=None)`, `@functools.cache`, an alias such as `from functools import lru_cache as memo`), applied to a method defined directly in a class body whose first parameter is the instance. The finding is on the decorator; the message says whether the cache is unbounded (`cache`, `maxsize=None`) or bounded. Static methods, class methods, module-level functions, methods of `Enum` subclasses (members are singletons that live as long as the class anyway), methods of metaclasses (their instances are classes), `__new__` / `__init_subclass__` / `__class_getitem__` (their first parameter is the class) and `maxsize=0` (which caches nothing) are not flagged.\n\n' +
      'A finding is **confident** (reported by default) only when the cache is unbounded (`@cache`, `maxsize=None`), the file never empties it (no `….method.cache_clear()` call) and the file makes no instance of the class at import time; the message names the functions of the file that make instances (one per call) when there are some. The rest is reported with **low confidence** (only with `all-findings`, one severity lower): a bounded cache (`@lru_cache`, `@lru_cache()`, `maxsize=N`), which keeps at most that many instances; an unbounded cache the file empties with `cache_clear()`; and a class of which the file makes an instance at import time, directly (`apps = Apps()` at module level or in a class body) or through a function of the file it calls there (`manager = _load()` where `_load` makes one): such an instance, often the only one, lives for the whole process anyway. Instances are found through the binding of the class name and its reads in the file; instances made in other files are not seen.',
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
