// Parent/child back-references within one class (`self.parent = parent` +
// `parent.children.append(self)`, or `child.parent = self` + `self.children.append(child)`): LL502
// reports them and LL501 leaves these cycles to it. Receivers, parameters and locals are the
// semantic model's answers (`refersTo`, `samePlace`); the instance attributes the class gives a
// weak container come from `MethodModel.attributes`.
import type { Node } from 'web-tree-sitter';
import { classMethods, heldNames, MethodInfo, rootIdentifier, setattrStore, Store, storeOf, stripParens as unparenthesize } from './cycles';
import type { RuleContext } from './types';

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

function storesIn(info: MethodInfo, context: RuleContext): MethodStores {
  const body = info.fn.childForFieldName('body');
  const stores: Store[] = [];
  const calls: Node[] = [];
  if (body) {
    for (const node of body.descendantsOfType(['assignment', 'call'])) {
      if (!node || !context.semantic.frameNodeOf(node).equals(info.fn)) continue;
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
function adderMethods(all: MethodStores[], context: RuleContext): Set<string> {
  const adders = new Set<string>();
  for (const m of all) {
    const receiver = receiverOf(m, context);
    const params = m.info.fn.childForFieldName('parameters')?.namedChildren.filter((c) => c && c.type !== 'comment') ?? [];
    const p = params[1];
    const param = p?.type === 'identifier' ? p : p?.childForFieldName('name') ?? p?.namedChildren.find((c) => c?.type === 'identifier');
    if (!receiver || param?.type !== 'identifier') continue;
    const adds = m.stores.some((s) => {
      const attr = containerAttribute(s);
      const root = attr ? rootIdentifier(attr) : undefined;
      return !!root && readsVariable(root, receiver, context) && heldNames(s.value).some((id) => readsVariable(id, param, context));
    });
    if (adds) adders.add(m.info.name);
  }
  return adders;
}

/**
 * The instance attributes some method of the class sets to a weak container through its receiver
 * (`self.children = weakref.WeakSet()`): storing into `<a child>.children` stores weakly.
 */
function weakAttributes(all: MethodStores[], context: RuleContext): Set<string> {
  const weak = new Set<string>();
  for (const m of all) {
    const model = context.semantic.method(m.info.fn);
    for (const [name, uses] of model?.attributes ?? []) {
      const weakSet = uses.some((u) => {
        const assign = u.node.parent;
        const right = u.kind === 'set' && assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(u.node) ? assign.childForFieldName('right') : undefined;
        const v = right ? unparenthesize(right) : undefined;
        const fn = v?.type === 'call' ? v.childForFieldName('function') : undefined;
        const q = fn ? context.qualifiedName(fn) : undefined;
        return !!q && WEAK_CONTAINERS.has(q);
      });
      if (weakSet) weak.add(name);
    }
  }
  return weak;
}

/** The method's receiver (`self`): the parameter the semantic model names, for instance methods. */
function receiverOf(m: MethodStores, context: RuleContext): Node | undefined {
  const model = context.semantic.method(m.info.fn);
  return model && (model.kind === 'instance' || model.kind === 'property') ? model.receiver : undefined;
}

/** Is `id` the variable bound at `binding` (a read of it, or the binding itself), as the scope model resolves names? */
function readsVariable(id: Node | null | undefined, binding: Node, context: RuleContext): boolean {
  return context.semantic.refersTo(id, binding);
}

/** Are two identifiers the same variable (the scope model's answer, not the spelling)? */
function sameVariable(a: Node | null | undefined, b: Node, context: RuleContext): boolean {
  const n = a ? unparenthesize(a) : undefined;
  return n?.type === 'identifier' && context.semantic.samePlace(n, b);
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

/**
 * The attribute stores of a method, `o.attr = v` and `setattr(o, "attr", v)` /
 * `object.__setattr__(o, "attr", v)` alike: the store, the object, the attribute's name, how the
 * target reads (`o.attr`) and the value.
 */
function attributeStores(m: MethodStores): Array<{ node: Node; object: Node | null; attrName: string; shown: string; value: Node }> {
  const out: Array<{ node: Node; object: Node | null; attrName: string; shown: string; value: Node }> = [];
  for (const s of m.stores) {
    if (s.kind !== 'attribute') continue;
    out.push({ node: s.node, object: s.target.childForFieldName('object'), attrName: s.target.childForFieldName('attribute')?.text ?? '', shown: s.target.text, value: s.value });
  }
  for (const call of m.calls) {
    const spelled = setattrStore(call);
    if (spelled) out.push({ node: call, object: spelled.object, attrName: spelled.attribute, shown: `${spelled.object.text}.${spelled.attribute}`, value: spelled.value });
  }
  return out;
}

/**
 * Every parent back-reference of a class: LL502 reports them, LL501 leaves these cycles to it.
 * Computed once per class and analysis.
 */
export function parentBackReferences(cls: Node, context: RuleContext): BackReference[] {
  return context.semantic.memo(`cycles.backReferences:${cls.id}`, () => findBackReferences(cls, context));
}

function findBackReferences(cls: Node, context: RuleContext): BackReference[] {
  const methods = classMethods(cls, context);
  const all = [...methods.values()].filter((m) => m.kind === 'instance' && m.selfName).map((m) => storesIn(m, context));
  const adders = adderMethods(all, context);
  const weak = weakAttributes(all, context);
  const note = delNote(cls, methods);
  const found: BackReference[] = [];
  const isWeak = (attr: Node | undefined) => !!attr && weak.has(attr.childForFieldName('attribute')?.text ?? '');

  // Forward stores of the instance into a container reached through `self.<attr>` (any method).
  const throughAttribute = new Map<string, Node[]>();
  for (const m of all) {
    const receiver = receiverOf(m, context);
    if (!receiver) continue;
    const isSelf = (n: Node | null | undefined) => readsVariable(n, receiver, context);
    for (const s of m.stores) {
      const attr = containerAttribute(s);
      if (!attr || isWeak(attr) || !heldNames(s.value).some(isSelf)) continue;
      const owner = attr.childForFieldName('object');
      if (owner?.type === 'attribute' && isSelf(owner.childForFieldName('object'))) {
        const key = owner.childForFieldName('attribute')?.text ?? '';
        throughAttribute.set(key, [...(throughAttribute.get(key) ?? []), s.node]);
      }
    }
    for (const c of adderCalls(m, adders)) {
      if (!c.args.some(isSelf)) continue;
      const owner = unparenthesize(c.owner);
      if (owner.type === 'attribute' && isSelf(owner.childForFieldName('object'))) {
        const key = owner.childForFieldName('attribute')?.text ?? '';
        throughAttribute.set(key, [...(throughAttribute.get(key) ?? []), c.node]);
      }
    }
  }

  for (const m of all) {
    const self = m.info.selfName!;
    const receiver = receiverOf(m, context);
    if (!receiver) continue;
    const isSelf = (n: Node | null | undefined) => readsVariable(n, receiver, context);
    for (const s of attributeStores(m)) {
      const value = unparenthesize(s.value);
      if (value.type !== 'identifier') continue;
      const { object, attrName } = s;
      if (object?.type !== 'identifier') continue;
      if (isSelf(object) && !isSelf(value)) {
        // Pattern A: `self.parent = parent` + `parent.children.append(self)` (or through `self.parent`).
        const forward: Node[] = [];
        for (const f of m.stores) {
          const attr = containerAttribute(f);
          if (!attr || isWeak(attr) || !heldNames(f.value).some(isSelf)) continue;
          if (sameVariable(rootIdentifier(attr), value, context)) forward.push(f.node);
        }
        for (const c of adderCalls(m, adders)) {
          if (sameVariable(c.owner, value, context) && c.args.some(isSelf)) forward.push(c.node);
        }
        forward.push(...(throughAttribute.get(attrName) ?? []));
        if (forward.length === 0) continue;
        found.push({
          store: s.node,
          value,
          mayBeNone: true,
          forward,
          message:
            `\`${s.shown}\` refers back to \`${value.text}\`, which also holds this instance: every parent–child pair is a reference cycle, ` +
            `so a tree that is no longer used stays in memory until the cyclic garbage collector runs, not when its last outside reference goes away; ` +
            `make the back-reference weak (\`weakref.proxy\` or \`weakref.ref\`).${note}`,
        });
      } else if (!isSelf(object) && isSelf(value)) {
        // Pattern B: `child.parent = self` + `self.children.append(child)`.
        const child = object.text;
        const forward: Node[] = [];
        for (const f of m.stores) {
          const attr = containerAttribute(f);
          if (!attr || isWeak(attr) || !isSelf(rootIdentifier(attr))) continue;
          if (heldNames(f.value).some((id) => sameVariable(id, object, context))) forward.push(f.node);
        }
        if (forward.length === 0) continue;
        found.push({
          store: s.node,
          value,
          mayBeNone: false,
          forward,
          message:
            `\`${s.shown}\` refers back to \`${self}\`, which also holds \`${child}\`: every parent–child pair is a reference cycle, ` +
            `so a tree that is no longer used stays in memory until the cyclic garbage collector runs, not when its last outside reference goes away; ` +
            `make the back-reference weak (\`weakref.proxy\` or \`weakref.ref\`).${note}`,
        });
      }
    }
  }
  return found;
}
