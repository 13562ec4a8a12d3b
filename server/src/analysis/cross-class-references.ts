// Back-references that span two classes of the file (LL502): a method of the holder class makes an
// instance of another class of the file, handing it its own instance (`FixtureDef(self, …)`); that
// class's `__init__` keeps the argument on the new instance (`self._manager = manager`), and the
// holder keeps the new instance (`self._defs.setdefault(name, []).append(fixture_def)`). Every
// such pair is a reference cycle. Receivers, parameters, locals and classes are the semantic
// model's answers (`context.semantic`); nothing is matched on spelling.
import type { Node } from 'web-tree-sitter';
import { firstAttribute, resetElsewhere } from './cycle-evidence';
import { heldNames, setattrStore, storeOf, stripParens } from './cycles';
import type { RuleContext } from './types';

export interface CrossClassReference {
  /** The back-reference store in the other class's `__init__`. */
  store: Node;
  /** The class whose instances keep the back-reference. */
  child: Node;
  /** The holder's stores that keep the new instance. */
  forward: Node[];
  /** The holder's attribute that keeps it, when some other method of the holder resets it (a teardown breaks the link). */
  resetBy?: string;
  message: string;
}

const ARG_SKIP = new Set(['comment', 'keyword_argument', 'list_splat', 'dictionary_splat']);

/** Is `id` a read of the variable bound at `binding` (the same variable, as the scope model resolves it)? */
function readsBinding(id: Node, binding: Node, context: RuleContext): boolean {
  return context.semantic.refersTo(id, binding);
}

/**
 * Does the container or attribute chain `target` hang off the method's receiver: `self.x`,
 * `self.x[k]`, `self.x.setdefault(k, [])` (which returns what the dict keeps)?
 */
function onReceiver(target: Node, receiver: Node, context: RuleContext): boolean {
  let n: Node | null = stripParens(target);
  while (n) {
    if (n.type === 'identifier') return readsBinding(n, receiver, context);
    if (n.type === 'attribute') n = n.childForFieldName('object');
    else if (n.type === 'subscript') n = n.childForFieldName('value');
    else if (n.type === 'call') {
      const fn = n.childForFieldName('function');
      n = fn?.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'setdefault' ? fn.childForFieldName('object') : null;
    } else return false;
    if (n) n = stripParens(n);
  }
  return false;
}

/** The class of the file a constructor call names (`FixtureDef(…)`), by the binding of the callee. */
function constructedClass(call: Node, context: RuleContext): Node | undefined {
  const fn = call.childForFieldName('function');
  if (fn?.type !== 'identifier') return undefined;
  const bindings = context.semantic.resolve(fn);
  if (bindings.length !== 1 || bindings[0].kind !== 'class') return undefined;
  const cls = bindings[0].node.parent;
  return cls?.type === 'class_definition' ? cls : undefined;
}

/** The stores of `__init__` (own code) that keep parameter `param` on its instance, as `self.attr = param`. */
function keptParameter(init: Node, receiver: Node, param: Node, context: RuleContext): Array<{ store: Node; shown: string }> {
  const out: Array<{ store: Node; shown: string }> = [];
  for (const n of init.childForFieldName('body')?.descendantsOfType(['assignment', 'call']) ?? []) {
    if (!n || !context.semantic.frameNodeOf(n).equals(init)) continue;
    const spelled = setattrStore(n);
    let object: Node | null | undefined;
    let value: Node | null | undefined;
    let shown: string;
    if (spelled) {
      object = spelled.object;
      value = spelled.value;
      shown = `${spelled.object.text}.${spelled.attribute}`;
    } else if (n.type === 'assignment' && n.childForFieldName('left')?.type === 'attribute') {
      const left = n.childForFieldName('left')!;
      object = left.childForFieldName('object');
      value = n.childForFieldName('right');
      shown = left.text;
    } else continue;
    const v = value ? stripParens(value) : undefined;
    if (!object || !v || object.type !== 'identifier' || !readsBinding(object, receiver, context)) continue;
    if (readsBinding(v, param, context)) out.push({ store: n, shown });
  }
  return out;
}

/** The stores of `method` (own code) that keep what `call` makes on the receiver: directly, or through a local bound to it. */
function keptByHolder(call: Node, method: Node, receiver: Node, context: RuleContext): Node[] {
  let expr: Node = call;
  while (expr.parent?.type === 'parenthesized_expression') expr = expr.parent;
  const parent = expr.parent;
  const holds = (store: Node, value: (id: Node) => boolean): boolean => {
    const s = storeOf(store);
    if (!s) return false;
    const container = s.kind === 'call' ? s.target : s.target;
    return onReceiver(container, receiver, context) && (heldNames(s.value).some(value) || stripParens(s.value).equals(expr));
  };
  // `self.defs.append(C(self))`, `self.defs[k] = C(self)`, `self.child = C(self)`.
  const direct = parent?.type === 'argument_list' ? parent.parent : parent;
  if (direct && (direct.type === 'call' || direct.type === 'assignment') && holds(direct, () => false)) return [direct];
  // `d = C(self)` … `self.defs.append(d)`.
  if (parent?.type !== 'assignment' || !parent.childForFieldName('right')?.equals(expr)) return [];
  const local = parent.childForFieldName('left');
  if (local?.type !== 'identifier' || !context.semantic.bindingAt(local)) return [];
  const out: Node[] = [];
  for (const n of method.childForFieldName('body')?.descendantsOfType(['assignment', 'call']) ?? []) {
    if (!n || n.startIndex < parent.endIndex || !context.semantic.frameNodeOf(n).equals(method)) continue;
    if (holds(n, (id) => readsBinding(id, local, context))) out.push(n);
  }
  return out;
}

/** Every back-reference across two classes of the file, found once per analysis. */
export function crossClassBackReferences(context: RuleContext): CrossClassReference[] {
  return context.semantic.memo('cycles.crossClass', () => {
    const found: CrossClassReference[] = [];
    for (const cls of context.root.descendantsOfType('class_definition')) {
      if (!cls) continue;
      const holder = context.semantic.classModel(cls);
      for (const m of holder.methods.values()) {
        const receiver = m.kind === 'instance' ? m.receiver : undefined;
        if (!receiver) continue;
        for (const call of m.node.childForFieldName('body')?.descendantsOfType('call') ?? []) {
          if (!call || !context.semantic.frameNodeOf(call).equals(m.node)) continue;
          const args = (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && !ARG_SKIP.has(a.type));
          const index = args.findIndex((a) => readsBinding(a, receiver, context));
          if (index < 0) continue;
          const child = constructedClass(call, context);
          if (!child || child.equals(cls)) continue;
          const init = context.semantic.classModel(child).methods.get('__init__');
          const self = init?.kind === 'instance' ? init.receiver : undefined;
          if (!init || !self) continue;
          const params = (init.node.childForFieldName('parameters')?.namedChildren ?? []).filter((p): p is Node => !!p && p.type !== 'comment');
          const p = params[index + 1];
          const param = p?.type === 'identifier' ? p : p?.childForFieldName('name');
          if (param?.type !== 'identifier') continue;
          const stores = keptParameter(init.node, self, param, context);
          if (stores.length === 0) continue;
          const forward = keptByHolder(call, m.node, receiver, context);
          if (forward.length === 0) continue;
          const childName = context.semantic.classModel(child).name;
          const slots = forward.map((f) => storeOf(f)).map((f) => (f ? firstAttribute(f.target, m.node, context) : undefined));
          const resetBy = slots.find((a): a is string => !!a && resetElsewhere(cls, a, m.node, context));
          const first = forward[0];
          for (const s of stores) {
            found.push({
              store: s.store,
              child,
              forward,
              resetBy,
              message:
                `\`${s.shown}\` refers back to the \`${holder.name}\` that made this \`${childName}\` and keeps it ` +
                `(\`${holder.name}.${m.name}\` stores it on line ${context.lineRef(first.startIndex)}): every such pair is a reference cycle, ` +
                `so a \`${holder.name}\` that is no longer used stays in memory with its \`${childName}\` objects until the cyclic garbage collector runs; ` +
                `make the back-reference weak (\`weakref.proxy\` or \`weakref.ref\`).`,
            });
          }
        }
      }
    }
    return found;
  });
}
