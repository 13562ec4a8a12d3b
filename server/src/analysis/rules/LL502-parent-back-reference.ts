// LL502 parent-back-reference: instances that point to a parent which also holds them
// (`self.parent = parent` + `parent.children.append(self)`): every tree is a reference cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { classMethods, classOfMethod, heldNames, MethodInfo, rootIdentifier, ScopeIndex, Store, storeOf, weakProxyEdits, stripParens as unparenthesize } from '../cycles';
import type { Fix, RelatedLocation, Rule, RuleContext } from '../types';

const WEAK_CONTAINERS = new Set(['weakref.WeakSet', 'weakref.WeakValueDictionary', 'weakref.WeakKeyDictionary']);

export interface BackReference {
  /** The back-reference store to report (`self.parent = parent` or `child.parent = self`). */
  store: Node;
  /** The value to make weak. */
  value: Node;
  /** Whether the value may be None (a parameter, not `self`). */
  mayBeNone: boolean;
  /** The stores that make the parent hold the child. */
  forward: Node[];
  message: string;
}

interface MethodStores {
  info: MethodInfo;
  stores: Store[];
  calls: Node[];
}

function storesIn(info: MethodInfo, scopes: ScopeIndex): MethodStores {
  const body = info.fn.childForFieldName('body');
  const stores: Store[] = [];
  const calls: Node[] = [];
  if (body) {
    for (const node of body.descendantsOfType(['assignment', 'call'])) {
      if (!node || !scopes.inScope(node, info.fn)) continue;
      const store = storeOf(node);
      if (store) stores.push(store);
      else if (node.type === 'call') calls.push(node);
    }
  }
  return { info, stores, calls };
}

/** The attribute a container store goes into: `x.children.append(v)` / `x.children[k] = v` → `children`. */
function containerAttribute(store: Store): Node | undefined {
  if (store.kind === 'attribute') return undefined;
  const container = store.kind === 'subscript' ? store.target.childForFieldName('value') : store.target;
  const c = container ? unparenthesize(container) : undefined;
  return c?.type === 'attribute' ? c : undefined;
}

/** Methods of the class that store their first argument into a container on their own instance. */
function adderMethods(all: MethodStores[]): Set<string> {
  const adders = new Set<string>();
  for (const m of all) {
    const self = m.info.selfName;
    const params = m.info.fn.childForFieldName('parameters')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
    const p = params[1];
    const param = p?.type === 'identifier' ? p.text : p?.childForFieldName('name')?.text ?? p?.namedChildren.find((c) => c?.type === 'identifier')?.text;
    if (!self || !param) continue;
    const adds = m.stores.some((s) => {
      const attr = containerAttribute(s);
      return !!attr && rootIdentifier(attr)?.text === self && heldNames(s.value).some((id) => id.text === param);
    });
    if (adds) adders.add(m.info.name);
  }
  return adders;
}

function weakAttributes(all: MethodStores[], context: RuleContext): Set<string> {
  const weak = new Set<string>();
  for (const m of all) {
    for (const s of m.stores) {
      if (s.kind !== 'attribute') continue;
      const v = unparenthesize(s.value);
      if (v.type !== 'call') continue;
      const fn = v.childForFieldName('function');
      const q = fn ? context.qualifiedName(fn) : undefined;
      if (q && WEAK_CONTAINERS.has(q)) weak.add(s.target.childForFieldName('attribute')?.text ?? '');
    }
  }
  return weak;
}

/** Calls `owner.adder(arg)` of one of the class's own adder methods: the owner stores arg. */
function adderCalls(m: MethodStores, adders: Set<string>): Array<{ node: Node; owner: Node; args: Node[] }> {
  const out: Array<{ node: Node; owner: Node; args: Node[] }> = [];
  for (const call of m.calls) {
    const fn = call.childForFieldName('function');
    if (fn?.type !== 'attribute') continue;
    const name = fn.childForFieldName('attribute')?.text;
    const owner = fn.childForFieldName('object');
    if (!name || !owner || !adders.has(name)) continue;
    const args = call.childForFieldName('arguments')?.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') ?? [];
    out.push({ node: call, owner, args });
  }
  return out;
}

function delNote(cls: Node, methods: Map<string, MethodInfo>): string {
  if (!methods.has('__del__')) return '';
  const name = cls.childForFieldName('name')?.text ?? 'the class';
  return ` \`${name}\` defines \`__del__\`: since Python 3.4 the collector frees such cycles too, but \`__del__\` runs only when the collector gets to them.`;
}

/** Every parent back-reference of a class (shared with LL501, which leaves these cycles to LL502). */
export function parentBackReferences(cls: Node, context: RuleContext, scopes: ScopeIndex): BackReference[] {
  const methods = classMethods(cls, context);
  const all = [...methods.values()].filter((m) => m.kind === 'instance' && m.selfName).map((m) => storesIn(m, scopes));
  const adders = adderMethods(all);
  const weak = weakAttributes(all, context);
  const note = delNote(cls, methods);
  const found: BackReference[] = [];
  const isWeak = (attr: Node | undefined) => !!attr && weak.has(attr.childForFieldName('attribute')?.text ?? '');

  // Forward stores of the instance into a container reached through `self.<attr>` (any method).
  const throughAttribute = new Map<string, Node[]>();
  for (const m of all) {
    const self = m.info.selfName!;
    for (const s of m.stores) {
      const attr = containerAttribute(s);
      if (!attr || isWeak(attr) || !heldNames(s.value).some((id) => id.text === self)) continue;
      const owner = attr.childForFieldName('object');
      if (owner?.type === 'attribute' && owner.childForFieldName('object')?.text === self) {
        const key = owner.childForFieldName('attribute')?.text ?? '';
        throughAttribute.set(key, [...(throughAttribute.get(key) ?? []), s.node]);
      }
    }
    for (const c of adderCalls(m, adders)) {
      if (!c.args.some((a) => unparenthesize(a).text === self)) continue;
      const owner = unparenthesize(c.owner);
      if (owner.type === 'attribute' && owner.childForFieldName('object')?.text === self) {
        const key = owner.childForFieldName('attribute')?.text ?? '';
        throughAttribute.set(key, [...(throughAttribute.get(key) ?? []), c.node]);
      }
    }
  }

  for (const m of all) {
    const self = m.info.selfName!;
    for (const s of m.stores) {
      if (s.kind !== 'attribute') continue;
      const value = unparenthesize(s.value);
      if (value.type !== 'identifier') continue;
      const object = s.target.childForFieldName('object');
      const attrName = s.target.childForFieldName('attribute')?.text ?? '';
      if (object?.type !== 'identifier') continue;
      if (object.text === self && value.text !== self) {
        // Pattern A: `self.parent = parent` + `parent.children.append(self)` (or through `self.parent`).
        const forward: Node[] = [];
        for (const f of m.stores) {
          const attr = containerAttribute(f);
          if (!attr || isWeak(attr) || !heldNames(f.value).some((id) => id.text === self)) continue;
          if (rootIdentifier(attr)?.text === value.text) forward.push(f.node);
        }
        for (const c of adderCalls(m, adders)) {
          if (unparenthesize(c.owner).text === value.text && c.args.some((a) => unparenthesize(a).text === self)) forward.push(c.node);
        }
        forward.push(...(throughAttribute.get(attrName) ?? []));
        if (forward.length === 0) continue;
        found.push({
          store: s.node,
          value,
          mayBeNone: true,
          forward,
          message:
            `\`${s.target.text}\` refers back to \`${value.text}\`, which also holds this instance: every parent–child pair is a reference cycle, ` +
            `so a tree that is no longer used stays in memory until the cyclic garbage collector runs, not when its last outside reference goes away; ` +
            `make the back-reference weak (\`weakref.proxy\` or \`weakref.ref\`).${note}`,
        });
      } else if (object.text !== self && value.text === self) {
        // Pattern B: `child.parent = self` + `self.children.append(child)`.
        const child = object.text;
        const forward: Node[] = [];
        for (const f of m.stores) {
          const attr = containerAttribute(f);
          if (!attr || isWeak(attr) || rootIdentifier(attr)?.text !== self) continue;
          if (heldNames(f.value).some((id) => id.text === child)) forward.push(f.node);
        }
        if (forward.length === 0) continue;
        found.push({
          store: s.node,
          value,
          mayBeNone: false,
          forward,
          message:
            `\`${s.target.text}\` refers back to \`${self}\`, which also holds \`${child}\`: every parent–child pair is a reference cycle, ` +
            `so a tree that is no longer used stays in memory until the cyclic garbage collector runs, not when its last outside reference goes away; ` +
            `make the back-reference weak (\`weakref.proxy\` or \`weakref.ref\`).${note}`,
        });
      }
    }
  }
  return found;
}

export const rule: Rule = {
  code: 'LL502',
  name: 'parent-back-reference',
  category: 'cycles',
  defaultSeverity: 'warning',
  // Candidates first, from the text of the stores alone: a back-reference `o.attr = v` needs a
  // store that makes `v` hold `o` (`v.children.append(o)`, `o.attr.children.append(o)`, or a
  // call `v.add(self)`). Only classes with such a pair are analysed.
  query: `
    (assignment left: (attribute object: (identifier) @object attribute: (identifier) @attr) right: (identifier) @value) @back
    (assignment left: (attribute object: (identifier) @object attribute: (identifier) @attr) right: (parenthesized_expression) @value) @back
    (assignment left: (subscript value: (attribute) @container) right: (_) @held) @forward
    (call function: (attribute object: (attribute) @container attribute: (identifier) @method) arguments: (argument_list (_) @held .) (#any-of? @method "append" "add" "insert" "appendleft" "setdefault")) @forward
    (call function: (attribute object: (identifier) @container) arguments: (argument_list . (identifier) @held .) (#eq? @held "self")) @forward
  `,
  check(context: RuleContext, matches: QueryMatch[]) {
    const holds = new Set<string>();
    const backs: Array<{ node: Node; object: string; attr: string; value: string }> = [];
    for (const match of matches) {
      const get = (name: string) => match.captures.find((c) => c.name === name)?.node;
      const back = get('back');
      if (back) {
        const object = get('object')!.text;
        const value = unparenthesize(get('value')!);
        if (value.type === 'identifier' && value.text !== object) backs.push({ node: back, object, attr: get('attr')!.text, value: value.text });
        continue;
      }
      const container = get('container');
      const held = get('held');
      if (!container || !held) continue;
      const chain = container.text.replace(/\s+/g, '').split(/[.[]/);
      for (const id of held.type === 'identifier' ? [held] : heldNames(held)) {
        holds.add(`${id.text}>${chain[0]}`);
        if (chain.length > 2) holds.add(`${id.text}>${chain[0]}.${chain[1]}`);
      }
    }
    const classes = new Map<number, Node>();
    let scopes: ScopeIndex | undefined;
    for (const b of backs) {
      if (!holds.has(`${b.object}>${b.value}`) && !holds.has(`${b.object}>${b.object}.${b.attr}`)) continue;
      scopes ??= new ScopeIndex(context.root);
      const fn = scopes.scopeOf(b.node);
      const cls = fn.type === 'function_definition' ? classOfMethod(fn) : undefined;
      if (cls) classes.set(cls.startIndex, cls);
    }
    for (const cls of classes.values()) {
      for (const ref of parentBackReferences(cls, context, scopes!)) {
        const related: RelatedLocation[] = ref.forward.map((f) => ({ start: f.startIndex, end: f.endIndex, message: 'the parent holds the child here' }));
        const fix: Fix = {
          title: 'Make the back-reference a `weakref.proxy`',
          safety: 'unsafe',
          edits: weakProxyEdits(context, ref.value, ref.mayBeNone),
        };
        context.report({ node: ref.store, message: ref.message, related, fixes: [fix] });
      }
    }
  },
  docs: {
    summary: 'Children that keep a strong reference to the parent that holds them.',
    whatItDoes:
      'Flags, in a class, a back-reference store that completes a parent–child link: `self.parent = parent` in a method that also adds `self` to a container on `parent` (`parent.children.append(self)`, `parent.children[key] = self`, `.add`, `.insert`, or a method of the class that does so, such as `parent.add_child(self)`), or anywhere in the class through the attribute (`self.parent.children.append(self)`); and `child.parent = self` in a method that also adds `child` to a container on `self`. Reported on the back-reference store, with related information at the forward stores. Back-references that are already weak (`weakref.ref(parent)`, `weakref.proxy(parent)`) and weak containers (`weakref.WeakSet`, `WeakValueDictionary`) are not flagged. The message mentions `__del__` when the class defines one.',
    whyLeak:
      'The parent refers to the child through its container and the child refers back to the parent, so every parent–child pair is a reference cycle and a whole tree is one large cyclic structure. CPython frees ordinary objects as soon as their last reference goes, but objects in a cycle keep each other\'s counts above zero: a tree that the program has dropped stays in memory until the cyclic garbage collector runs — which may be much later for big trees of long-lived objects, and never while `gc.disable()` is in force. Since Python 3.4 the collector frees cycles whose objects define `__del__` as well, but those finalizers then run only at collection time.',
    example:
      'class Node:\n    def __init__(self, parent=None):\n        self.children = []\n        self.parent = parent\n        if parent is not None:\n            parent.children.append(self)\n',
    useInstead:
      'import weakref\n\n\nclass Node:\n    def __init__(self, parent=None):\n        self.children = []\n        self.parent = weakref.proxy(parent) if parent is not None else None\n        if parent is not None:\n            parent.children.append(self)\n',
    fixSafety:
      'The unsafe fix wraps the back-reference in `weakref.proxy(...)`, adding `import weakref`. Because `weakref.proxy(None)` raises `TypeError`, a parent that may be None (any value other than `self`) is wrapped as `weakref.proxy(parent) if parent is not None else None`. It is unsafe because the parent is no longer kept alive by its children: code that holds only a child and expects the parent to live on gets `ReferenceError`; `child.parent is parent` becomes false; and objects whose class lacks `__weakref__` (with `__slots__`, or many built-in types) cannot be weakly referenced at all.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.proxy',
      'https://docs.python.org/3/library/gc.html',
      'https://peps.python.org/pep-0442/',
    ],
  },
};
