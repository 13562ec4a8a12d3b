// LL502 parent-back-reference: instances that point to a parent which also holds them
// (`self.parent = parent` + `parent.children.append(self)`): every tree is a reference cycle.
import type { Node, QueryMatch } from 'web-tree-sitter';
import { parentBackReferences } from '../back-references';
import { heldNames, privateAttributeStore, proxyWouldShow, setattrStore, storedAttribute, weakProxyEdits, stripParens as unparenthesize } from '../cycles';
import { inTestCode } from '../cycle-evidence';
import { crossClassBackReferences } from '../cross-class-references';
import type { Fix, RelatedLocation, Rule, RuleContext } from '../types';

/**
 * Why a back-reference is not a confident finding, if it is not. Parent/child links are usually
 * the design of a tree that lives as long as its owner; confident only outside test code, where
 * nothing in the file resets the back-reference (`child.parent = None`, `del self._parent`), and
 * the cycle delays something: a `__del__` of the class, which then runs only when the collector
 * gets to the tree.
 */
function backReferenceDoubt(store: Node, cls: Node, context: RuleContext): string | undefined {
  if (inTestCode(store, context)) return 'test code: the objects live for one test';
  const slot = storedAttribute(store);
  if (slot && slotReset(slot, context)) return `the file resets \`.${slot}\` (a removal or teardown method), which breaks the cycle`;
  const model = context.semantic.classModel(cls);
  if (!model.methods.has('__del__')) {
    return `a parent–child tree is usually the design of an owner that keeps it as long as it lives; \`${model.name}\` has no \`__del__\` whose work the cycle would delay`;
  }
  return undefined;
}

/**
 * Does the file set attribute `slot` to None or delete it anywhere (`node.parent = None`,
 * `del self._parent`, `setattr(node, "parent", None)`)?
 */
function slotReset(slot: string, context: RuleContext): boolean {
  return context.semantic.memo(`LL502.reset:${slot}`, () =>
    context.root.descendantsOfType(['assignment', 'delete_statement', 'call']).some((n) => {
      if (!n) return false;
      if (n.type === 'call') {
        const spelled = setattrStore(n);
        return spelled?.attribute === slot && unparenthesize(spelled.value).type === 'none';
      }
      const targets = n.type === 'assignment' ? (unparenthesize(n.childForFieldName('right') ?? n).type === 'none' ? [n.childForFieldName('left')] : []) : n.namedChildren.flatMap((c) => (c?.type === 'expression_list' ? c.namedChildren : [c]));
      return targets.some((t) => t?.type === 'attribute' && t.childForFieldName('attribute')?.text === slot);
    }),
  );
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
    (call function: (identifier) @setattr arguments: (argument_list . (identifier) @object . (string) . (identifier) @value .) (#eq? @setattr "setattr")) @back
    (call function: (attribute object: (identifier) @setattr_owner attribute: (identifier) @setattr) arguments: (argument_list . (identifier) @object . (string) . (identifier) @value .) (#eq? @setattr_owner "object") (#eq? @setattr "__setattr__")) @back
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
        // `setattr(o, "attr", v)` / `object.__setattr__(o, "attr", v)` store like `o.attr = v`.
        const attr = back.type === 'call' ? setattrStore(back)?.attribute : get('attr')!.text;
        if (attr && value.type === 'identifier' && value.text !== object) backs.push({ node: back, object, attr, value: value.text });
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
    for (const b of backs) {
      if (!holds.has(`${b.object}>${b.value}`) && !holds.has(`${b.object}>${b.object}.${b.attr}`)) continue;
      const fn = context.semantic.frameNodeOf(b.node);
      const cls = fn.type === 'function_definition' ? context.semantic.classOfMethod(fn) : undefined;
      if (cls) classes.set(cls.startIndex, cls);
    }
    const reported = new Set<number>();
    for (const cls of classes.values()) {
      for (const ref of parentBackReferences(cls, context)) {
        const related: RelatedLocation[] = ref.forward.map((f) => ({ start: f.startIndex, end: f.endIndex, message: 'the parent holds the child here' }));
        const fixes: Fix[] = privateAttributeStore(ref.store) && !proxyWouldShow(context.root, storedAttribute(ref.store) ?? '', context)
          ? [{ title: 'Make the back-reference a `weakref.proxy`', safety: 'unsafe', edits: weakProxyEdits(context, ref.value, ref.mayBeNone) }]
          : [];
        const doubt = backReferenceDoubt(ref.store, cls, context);
        if (doubt) context.report({ node: ref.store, message: `${ref.message} (low confidence: ${doubt})`, related, fixes, confidence: 'low' });
        else context.report({ node: ref.store, message: ref.message, related, fixes });
        reported.add(ref.store.startIndex);
      }
    }
    // Across two classes: the holder makes the child with its own instance, the child keeps it.
    for (const ref of crossClassBackReferences(context)) {
      if (reported.has(ref.store.startIndex)) continue;
      reported.add(ref.store.startIndex);
      const related: RelatedLocation[] = ref.forward.map((f) => ({ start: f.startIndex, end: f.endIndex, message: 'the holder keeps the new instance here' }));
      // No fix across classes: the child is often what callers are handed (a section view, a stream
      // writer) and reach the holder through, so a proxy there breaks them (CPython's configparser
      // and asyncio tests fail with it: identity through `section.parser`, a protocol only the
      // writer kept).
      const fixes: Fix[] = [];
      const doubt = ref.resetBy ? `the holder resets \`self.${ref.resetBy}\` (a removal or teardown method), which breaks the cycle` : backReferenceDoubt(ref.store, ref.child, context);
      if (doubt) context.report({ node: ref.store, message: `${ref.message} (low confidence: ${doubt})`, related, fixes, confidence: 'low' });
      else context.report({ node: ref.store, message: ref.message, related, fixes });
    }
  },
  docs: {
    summary: 'Children that keep a strong reference to the parent that holds them.',
    whatItDoes:
      'Flags, in a class, a back-reference store that completes a parent–child link: `self.parent = parent` in a method that also adds `self` to a container on `parent` (`parent.children.append(self)`, `parent.children[key] = self`, `.add`, `.insert`, or a method of the class that does so, such as `parent.add_child(self)`), or anywhere in the class through the attribute (`self.parent.children.append(self)`); and `child.parent = self` in a method that also adds `child` to a container on `self`. A back-reference spelled `setattr(self, "parent", parent)` or `object.__setattr__(self, "_parent", parent)` (a literal attribute name; frozen dataclasses and attrs classes store so) counts as the same store, and `setattr(node, "parent", None)` as a reset. Back-references across two classes of the file count too: a method of the holder makes `Child(self, …)` (a class of the file), `Child.__init__` keeps that parameter on its instance (`self._manager = manager`), and the holder keeps the new instance (`self._defs.setdefault(name, []).append(d)`, `self.writer = Child(self)`); reported at the store in `__init__` (without a fix: the child is often what callers hold and reach the holder through), of low confidence when another method of the holder resets or takes entries out of the attribute that keeps the child (the link is broken there). Reported on the back-reference store, with related information at the forward stores. Back-references that are already weak (`weakref.ref(parent)`, `weakref.proxy(parent)`) and weak containers (`weakref.WeakSet`, `WeakValueDictionary`) are not flagged. The message mentions `__del__` when the class defines one. A finding is confident only when the class defines `__del__` (whose work the cycle delays until the collector runs), outside test code, and no code of the file resets the back-reference (`child.parent = None`, `del self._parent`, as a removal or teardown method does). Everything else is reported with low confidence (shown only with all-findings): a parent–child tree is usually the deliberate design of an owner that keeps it as long as it lives (a widget tree, a schema, an application and its extensions), and test code builds such trees on purpose.',
    whyLeak:
      'The parent refers to the child through its container and the child refers back to the parent, so every parent–child pair is a reference cycle and a whole tree is one large cyclic structure. CPython frees ordinary objects as soon as their last reference goes, but objects in a cycle keep each other\'s counts above zero: a tree that the program has dropped stays in memory until the cyclic garbage collector runs — which may be much later for big trees of long-lived objects, and never while `gc.disable()` is in force. Since Python 3.4 the collector frees cycles whose objects define `__del__` as well, but those finalizers then run only at collection time.',
    example:
      'class Node:\n    def __init__(self, parent=None):\n        self.children = []\n        self.parent = parent\n        if parent is not None:\n            parent.children.append(self)\n\n    def __del__(self):\n        print("node freed")\n',
    useInstead:
      'import weakref\n\n\nclass Node:\n    def __init__(self, parent=None):\n        self.children = []\n        self.parent = weakref.proxy(parent) if parent is not None else None\n        if parent is not None:\n            parent.children.append(self)\n\n    def __del__(self):\n        print("node freed")\n',
    fixSafety:
      'No fix is offered for a back-reference across two classes: the child is often what callers are handed (a section view, a stream writer) and reach the holder through, and CPython\'s tests of configparser and asyncio fail with a proxy there. The unsafe fix is offered only for a private back-reference attribute (`self._parent`, not `__dunder__`): a public one (`parentNode`, `parent`) is read by code outside the file, where a proxy can break identity checks (`node.parent is root`), hashing and pickling unseen (CPython\'s own tests of minidom and pyclbr fail with it), and not even then where the file compares that attribute by identity (other than with None), hashes it, or pickles or copies objects. The fix wraps the back-reference in `weakref.proxy(...)`, adding `import weakref`. Because `weakref.proxy(None)` raises `TypeError`, a parent that may be None (any value other than `self`) is wrapped as `weakref.proxy(parent) if parent is not None else None`. It is unsafe because the parent is no longer kept alive by its children: code that holds only a child and expects the parent to live on gets `ReferenceError`; `child.parent is parent` becomes false; and objects whose class lacks `__weakref__` (with `__slots__`, or many built-in types) cannot be weakly referenced at all.',
    options: 'None.',
    references: [
      'https://docs.python.org/3/library/weakref.html#weakref.proxy',
      'https://docs.python.org/3/library/gc.html',
      'https://peps.python.org/pep-0442/',
    ],
  },
};
