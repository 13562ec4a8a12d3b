// LL303 unbounded-module-cache: a module-level container that functions add to and nothing
// ever removes from, so it grows for the life of the process.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { boundedByGuard, CONTAINER_KIND_NAMES, isConstantKey, isNewObject, isTestModule, REMOVING_METHODS, type ContainerKind, type Origin, type SemanticModel } from '../semantic';
import { unparenthesize } from '../syntax';
import { wordOffsets } from '../text';
import type { RelatedLocation, Rule, RuleContext } from '../types';

type Kind = ContainerKind;

// The container constructors are the semantic model's one table (semantic/growth.ts): LL303 follows
// every kind, displays and comprehensions included, but not a deque bounded by `maxlen`.
const KIND_NAMES = CONTAINER_KIND_NAMES;
const DICT_LIKE = new Set<Kind>(['dict', 'defaultdict', 'counter']);

/** Methods that add, per kind. */
const ADDERS: Record<Kind, Set<string>> = {
  list: new Set(['append', 'extend', 'insert']),
  deque: new Set(['append', 'appendleft', 'extend', 'extendleft', 'insert']),
  set: new Set(['add', 'update']),
  dict: new Set(['update', 'setdefault']),
  defaultdict: new Set(['update', 'setdefault']),
  counter: new Set(['update', 'setdefault']),
};
const MUTATORS = new Set(['append', 'appendleft', 'extend', 'extendleft', 'insert', 'add', 'update', 'setdefault']);

interface Binding {
  name: string;
  kind: Kind;
  /** The binding's target name. */
  target: Node;
  assignment: Node;
}

interface Addition {
  node: Node;
  how: string;
  fn: Node;
  /** Where the added key (dicts) or element (lists, sets) comes from. */
  origin: Origin;
}

/** Function names of registration APIs: what they store is usually code or names, bounded by the program. */
const REGISTRATION = /^_*(register|add_?|set_?|install|declare|define|load|use|enable)/i;

/**
 * A text-only pre-check, one pass for all names: which of them can some line add to
 * (`name.append(`, `name[…] = `, `name[…].add(`, `name += `, …)? False positives only cost time;
 * a false negative would hide a finding, so the pattern is looser than the rule.
 */
const GROWTH_AFTER_NAME = String.raw`[\s)]*(?:\.\s*(?:append|appendleft|extend|extendleft|insert|add|update|setdefault)\b|\[[^\n]*\]\s*(?:[-+*/%&|^@]|<<|>>|\*\*|\/\/)?=(?!=)|\[[^\n]*\]\s*[.[]|\[[^\]\n]*\n|[+|]=)`;

/** Loose on purpose: `(name).add(`, and a subscript left open at the end of its line, pass too. */
function namesThatMayGrow(text: string, names: string[]): Set<string> {
  const found = new Set<string>();
  const growth = new RegExp(GROWTH_AFTER_NAME, 'y');
  for (const name of names) {
    for (const i of wordOffsets(text, name)) {
      if (i > 0 && text[i - 1] === '.') continue;
      growth.lastIndex = i + name.length;
      if (growth.test(text)) {
        found.add(name);
        break;
      }
    }
  }
  return found;
}

function inGlobalStatement(id: Node): 'global' | 'nonlocal' | undefined {
  const p = id.parent;
  if (p?.type === 'global_statement') return 'global';
  if (p?.type === 'nonlocal_statement') return 'nonlocal';
  return undefined;
}

function originText(origin: Origin): string {
  if (origin.kind === 'identity') return `one entry per object: ${origin.why}`;
  if (origin.kind === 'per-call') return `from parameter \`${origin.parameter}\``;
  return 'from a value LeakLens cannot follow';
}

function functionName(fn: Node): string {
  return fn.type === 'lambda' ? 'a lambda' : `\`${fn.childForFieldName('name')?.text ?? '?'}\``;
}

type Verdict = { kind: 'addition'; addition: Addition } | { kind: 'removal' } | { kind: 'rebinding' } | { kind: 'other' };

/** What one reference to the module-level container does with it. */
function classify(name: Node, binding: Binding, fn: Node | null, semantic: SemanticModel): Verdict {
  // `(_cache).add(x)` is `_cache.add(x)`.
  let id = name;
  while (id.parent?.type === 'parenthesized_expression') id = id.parent;
  const p = id.parent!;
  const field = (f: string) => p.childForFieldName(f)?.equals(id) ?? false;
  const kind = binding.kind;
  const addition = (node: Node, how: string, stored: Node | null | undefined, key?: Node | null): Verdict => {
    if (!fn) return { kind: 'other' }; // import time
    if (key !== undefined && isConstantKey(key)) return { kind: 'other' }; // a fixed key does not grow
    if (semantic.isRegistrationDecorator(fn, stored)) return { kind: 'other' };
    if (boundedByGuard(node, fn, binding.name, key)) return { kind: 'other' };
    const what = key !== undefined ? key : stored;
    const method = fn.type === 'function_definition' ? semantic.method(fn) : undefined;
    const origin: Origin = what ? semantic.originOf(what, fn, method?.kind === 'instance' ? method.receiver?.text : undefined) : { kind: 'unknown' };
    // A key or element from a small domain the code fixes (enum members, classes, `type(x)`,
    // module constants, a loop over a literal) cannot grow the container without bound.
    // A list that gets a new object on every call (`_events.append({...})`, `append(Record(x))`)
    // grows with the calls themselves.
    if (key === undefined && (kind === 'list' || kind === 'deque') && stored && isNewObject(stored)) {
      return { kind: 'addition', addition: { node, how, fn, origin: { kind: 'identity', why: 'a new object made on every call' } } };
    }
    // A list grows with every append, whatever the element: its domain bounds only keys and set members.
    if (origin.kind === 'bounded' && key === undefined && (kind === 'list' || kind === 'deque')) return { kind: 'addition', addition: { node, how, fn, origin: { kind: 'unknown' } } };
    if (origin.kind === 'bounded') return { kind: 'other' };
    return { kind: 'addition', addition: { node, how, fn, origin } };
  };
  if (p.type === 'attribute' && field('object')) {
    const method = p.childForFieldName('attribute')?.text ?? '';
    const call = p.parent?.type === 'call' && p.parent.childForFieldName('function')?.equals(p) ? p.parent : undefined;
    if (REMOVING_METHODS.has(method)) return { kind: 'removal' };
    if (call && ADDERS[kind].has(method)) {
      const args = call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
      const how = `\`${binding.name}.${method}(…)\``;
      if (method === 'insert') return addition(call, how, args[1]);
      if (method === 'setdefault') return addition(call, how, args[1], args[0] ?? null);
      if (method === 'update' && DICT_LIKE.has(kind) && args.length > 0 && args.every((a) => a.type === 'keyword_argument')) return { kind: 'other' };
      if (method === 'add' && isConstantKey(args[0])) return { kind: 'other' };
      return addition(call, how, args[0]);
    }
    return { kind: 'other' };
  }
  if (p.type === 'subscript' && field('value')) {
    const index = p.childForFieldName('subscript');
    const holder = p.parent;
    const isSlice = index?.type === 'slice';
    if (holder?.type === 'delete_statement' || (holder?.type === 'expression_list' && holder.parent?.type === 'delete_statement')) return { kind: 'removal' };
    if (holder?.type === 'assignment' && holder.childForFieldName('left')?.equals(p)) {
      if (isSlice) return { kind: 'removal' };
      if (DICT_LIKE.has(kind)) return addition(holder, `\`${binding.name}[…] = …\``, holder.childForFieldName('right'), index);
      return { kind: 'other' };
    }
    if (holder?.type === 'augmented_assignment' && holder.childForFieldName('left')?.equals(p)) {
      if (isSlice) return { kind: 'removal' };
      if (kind === 'counter' || kind === 'defaultdict') return addition(holder, `\`${binding.name}[…] ${holder.childForFieldName('operator')?.text ?? '+='} …\``, undefined, index);
      return { kind: 'other' };
    }
    if (kind === 'defaultdict' && holder) {
      // `d[k].append(v)` and `d[k][j] = v` create the key k.
      const grand = holder.parent;
      if (holder.type === 'attribute' && holder.childForFieldName('object')?.equals(p) && MUTATORS.has(holder.childForFieldName('attribute')?.text ?? '') && grand?.type === 'call') {
        return addition(grand, `\`${binding.name}[…].${holder.childForFieldName('attribute')?.text}(…)\``, undefined, index);
      }
      if (holder.type === 'subscript' && holder.childForFieldName('value')?.equals(p) && grand?.type === 'assignment' && grand.childForFieldName('left')?.equals(holder)) {
        return addition(grand, `\`${binding.name}[…][…] = …\``, undefined, index);
      }
      // Any other read `d[k]` of a defaultdict inserts k too.
      if (index && index.type !== 'slice') return addition(p, `\`${binding.name}[…]\` (a read of a defaultdict inserts the key)`, undefined, index);
    }
    return { kind: 'other' };
  }
  if (p.type === 'augmented_assignment' && field('left')) {
    const op = p.childForFieldName('operator')?.text ?? '';
    if (op === '-=' || op === '&=' || op === '^=') return { kind: 'removal' };
    if (op === '+=' || op === '|=') return addition(p, `\`${binding.name} ${op} …\``, undefined);
    return { kind: 'rebinding' };
  }
  if (p.type === 'delete_statement' || (p.type === 'expression_list' && p.parent?.type === 'delete_statement')) return { kind: 'removal' };
  // `self.table = _table`, `table = _table` in a function: another name for the container, which
  // may well remove from it (idlelib.rpc deletes through `self.objtable`): counted as pruned.
  if (fn && p.type === 'assignment' && field('right') && !semantic.isBinding(name)) return { kind: 'removal' };
  if (fn && semantic.isBinding(name)) return { kind: 'rebinding' };
  return { kind: 'other' };
}

export const rule: Rule = {
  code: 'LL303',
  name: 'unbounded-module-cache',
  category: 'containers',
  defaultSeverity: 'warning',
  query: `(module) @module`,
  check(context: RuleContext, matches: QueryMatch[]) {
    const root = matches[0]?.captures[0]?.node;
    if (!root) return;
    // The first tracked container bound to each name (a deque bounded by `maxlen` is not tracked).
    const seen = new Set<string>();
    const bindings: Binding[] = [];
    for (const c of context.semantic.moduleContainers()) {
      if (seen.has(c.name) || c.built.bounded) continue;
      seen.add(c.name);
      bindings.push({ name: c.name, kind: c.built.kind, target: c.target, assignment: c.assignment });
    }
    if (bindings.length === 0) return;
    const { text } = context;
    // Cheap text test first: most module-level containers are never added to.
    const growing = namesThatMayGrow(text, bindings.map((b) => b.name));
    for (const binding of bindings) {
      // A defaultdict also grows through plain reads (`d[k]`), which the text test does not look for.
      if (!growing.has(binding.name) && binding.kind !== 'defaultdict') continue;
      const { semantic } = context;
      const module = semantic.scopes.module;
      // Each occurrence counts when it is the module's variable (Python's scoping rules: a local
      // of the same name, a class attribute, a comprehension variable are other variables).
      const occurrences = semantic.variableOccurrences(module, binding.name);
      const additions: Addition[] = [];
      let pruned = false;
      for (const id of occurrences) {
        if (id.equals(binding.target)) continue;
        if (inGlobalStatement(id)) continue;
        const fn = semantic.functionRunning(id) ?? null;
        const verdict = classify(id, binding, fn, semantic);
        // `__del__` never runs while the container still holds the object it would remove.
        if (verdict.kind === 'removal' && fn?.type === 'function_definition' && fn.childForFieldName('name')?.text === '__del__') continue;
        if (verdict.kind === 'removal' || (verdict.kind === 'rebinding' && fn)) {
          pruned = true;
          break;
        }
        if (verdict.kind === 'addition' && !semantic.runsOnlyAtImport(verdict.addition.fn)) additions.push(verdict.addition);
        if (semantic.prunedThroughAlias(id)) {
          pruned = true;
          break;
        }
      }
      if (pruned || additions.length === 0) continue;
      // Confident only with evidence of growth per object (`id(x)`, the instance itself); keys from
      // parameters may come from a few names (settings, extensions, encodings) the program uses.
      const perObject = additions.filter((a) => a.origin.kind === 'identity');
      const first = perObject[0] ?? additions[0];
      const reasons: string[] = [];
      if (perObject.length === 0) {
        const parameter = additions.find((a) => a.origin.kind === 'per-call')?.origin;
        reasons.push(
          parameter?.kind === 'per-call'
            ? `the ${DICT_LIKE.has(binding.kind) ? 'key' : 'element'} comes from parameter \`${parameter.parameter}\`, and LeakLens cannot tell whether callers pass a few distinct values (names, settings, extensions) or a new one per request`
            : 'LeakLens cannot tell where the added values come from, nor whether they are few',
        );
      }
      if (perObject.length === 0 && additions.every((a) => REGISTRATION.test(a.fn.type === 'function_definition' ? (a.fn.childForFieldName('name')?.text ?? '') : ''))) {
        reasons.push('the adding functions look like a registration API, filled from code at set-up time');
      }
      if (semantic.memo('LL303:test', () => isTestModule(root))) reasons.push('this is test code, whose state is usually short-lived');
      const where = new Set(additions.map((a) => functionName(a.fn)));
      const places = [...where].slice(0, 3).join(', ') + (where.size > 3 ? ', …' : '');
      const related: RelatedLocation[] = additions.map((a) => ({
        start: a.node.startIndex,
        end: a.node.endIndex,
        message: `\`${binding.name}\` grows here (${a.how} in ${functionName(a.fn)}, ${originText(a.origin)})`,
      }));
      context.report({
        node: binding.target,
        message:
          `Module-level ${KIND_NAMES[binding.kind]} \`${binding.name}\` grows at run time (${first.how} in ${places}), ${originText(first.origin)}, and nothing in this module removes from it or rebinds it: it lives, and grows, for the life of the process. ` +
          'Fix: bound it (`functools.lru_cache(maxsize=…)`, an eviction step), take entries out when they are done with, or hold objects weakly (`weakref.WeakValueDictionary`)' +
          (reasons.length > 0 ? `. Low confidence: ${reasons.join('; ')}` : ''),
        related,
        confidence: reasons.length > 0 ? 'low' : undefined,
        subject: { kind: 'global', name: binding.name },
      });
    }
  },
  docs: {
    summary: 'A module-level container that functions add to and nothing ever removes from.',
    whatItDoes:
      'Flags a module-level list, dict, set, `collections.defaultdict`, `OrderedDict`, `Counter` or `deque` without a `maxlen` (also the `typing` spellings: `typing.Counter()`, `typing.DefaultDict(list)`) when code inside functions or methods adds to it (`append`, `extend`, `insert`, `add`, `update`, `setdefault`, `x[k] = v`, `d[k].append(v)` or any read `d[k]` on a defaultdict (a read that inserts), `c[k] += 1` on a Counter, `+=` / `|=` with `global`) and nothing anywhere in the module removes from it (`pop`, `popitem`, `popleft`, `remove`, `discard`, `clear`, `del x[k]`, slice assignment or deletion, `-=`) or rebinds it (`global x; x = …`). The finding is on the module-level binding; related information points at every addition.\n\n' +
      'Not flagged: additions made at import time — at module level, in a class body, or inside a function that only ever runs at import time (a module-level function or `name = lambda …` whose only uses in the module are calls or decorations made at import time, possibly through other such functions, or that is deleted with `del` once the module is set up, like `def_op` in `opcode.py`); registration decorators (a function that stores its parameter, or an attribute of it, and returns that parameter: `def register(fn): _handlers.append(fn); return fn`, `_codes.add(f.__code__)`, also inside a decorator factory); containers pruned anywhere, including through a removal method passed as a callback (`task.add_done_callback(_tasks.discard)`, `weakref.finalize(obj, _live.remove, key)`) or through a local alias (`items = _pending; items.pop()`); stores under a constant key (`_state["ready"] = True`), which cannot grow; additions under a condition that bounds the container — a size check (`if len(_cache) < 100:`, `if not _loaded:`) or an update of a key already present (`if key in _flags: _flags[key] = True`); names that a function binds locally (parameters, assignments without `global`, loop and comprehension variables, imports); dunder names such as `__all__`; weak containers.\n\n' +
      'Confident findings need evidence that the container grows per object: the added key or element is `id(obj)` or the instance itself (`_live.append(self)`, `_frames[id(frame)] = frame`), or a list gets a new object on every call (`_events.append({"id": n})`, `_log.append(Record(x))`). A removal in `__del__` does not count: it never runs while the container still holds the object. Every other finding has low confidence (reported only with `all-findings`, one severity lower), and the message says why: the key comes from a parameter and LeakLens cannot tell whether callers pass a few distinct values (names, settings, extensions, encodings) or a new one per request; the adding functions look like a registration API (`register…`, `add…`, `set…`, `install…`), filled from code at set-up time; or the module is test code (it imports `unittest` or `pytest`). Keys and elements from a small domain fixed by the code are not flagged at all: literals, module-level names and constants, enum members (`Mode.READ`), classes, `type(x)`, `x.__class__`, a loop over a literal or a module constant.\n\n' +
      'Registration functions (`def register(name, handler): _handlers[name] = handler`) are low-confidence findings: a plain function can be called at any time and any number of times, but most registries are filled from code at start-up. A registry that is really filled only at start-up can say so with an `unregister()` (which tests need anyway, and which silences this rule), or with `# leaklens: ignore[LL303]` on the binding.',
    whyLeak:
      'A module-level object lives as long as its module, which is normally the whole process. Each addition keeps a strong reference to the key and the value, so everything reachable from them stays alive too: a memo dict keyed by request data, a list of every object ever seen, a set of ids that is only ever added to. Nothing is freed until the process exits, and the memory use grows with the traffic, not with the code.',
    example:
      '_tracked = {}\n\n\ndef track(obj):\n    _tracked[id(obj)] = obj\n    return len(_tracked)\n',
    useInstead:
      'import weakref\n\n# Entries go when nothing else holds the object.\n_tracked = weakref.WeakValueDictionary()\n\n\ndef track(obj):\n    _tracked[id(obj)] = obj\n    return len(_tracked)\n\n\n# Or take each entry out when its use ends.\n_open = {}\n\n\ndef start(job):\n    _open[id(job)] = job\n\n\ndef finish(job):\n    _open.pop(id(job), None)\n',
    fixSafety:
      'No fix is offered: how big a cache may grow, and what to evict, depend on the program. Usual remedies are `functools.lru_cache(maxsize=…)` on the function that fills the cache, a `collections.deque(maxlen=…)` for a history, an explicit eviction step (`pop`, `popitem`), a `weakref.WeakValueDictionary` or `WeakSet` when the entries are objects that live elsewhere, or an `unregister()` function for registries.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/functools.html#functools.lru_cache',
      'https://docs.python.org/3/library/collections.html#collections.deque',
      'https://docs.python.org/3/library/weakref.html#weakref.WeakValueDictionary',
      'https://docs.python.org/3/reference/simple_stmts.html#the-global-statement',
    ],
  },
};

