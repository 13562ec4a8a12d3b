// What the reference-cycle rules (LL501…LL504) weigh before they call a finding confident: is the
// code a test (a cycle there lives as long as one test: no consequence), which in-file classes a
// class inherits from, which methods tear an instance down and which attributes they reset.
// Everything is asked of the semantic model (`context.semantic`) and memoised there.
import type { Node } from 'web-tree-sitter';
import { stripParens } from './cycles';
import { REMOVING_METHODS } from './semantic';
import type { RuleContext } from './types';

/** Modules whose import at module level marks a test module. */
const TEST_MODULES = /^(unittest|pytest|_pytest|test\.support|test\.test_|twisted\.trial|hypothesis|nose)(\.|$)/;
const TEST_FUNCTION = /^(test|setUp|tearDown|setup_|teardown_|asyncSetUp|asyncTearDown)/;
const TEST_CLASS = /^Test|Tests?$|TestCase$|TestBase$/;

/** Does the file import a test framework at module level (`import unittest`, `from test import support`)? */
export function isTestModule(context: RuleContext): boolean {
  return context.semantic.memo('cycles.testModule', () => {
    for (const [, bindings] of context.semantic.scopes.module.bindings) {
      for (const b of bindings) {
        if (b.kind !== 'import') continue;
        const q = context.qualifiedName(b.node) ?? b.node.text;
        if (TEST_MODULES.test(q) || /^test\.(support|test_)/.test(q) || q === 'test.support') return true;
      }
    }
    return false;
  });
}

/**
 * Is `node` test code: in a test module, a test function (`test…`, `setUp`, `tearDown`), or a
 * class that is a test case by name or base (`…TestCase`)? Objects built there live for one test.
 */
export function inTestCode(node: Node, context: RuleContext): boolean {
  if (isTestModule(context)) return true;
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'function_definition' && TEST_FUNCTION.test(n.childForFieldName('name')?.text ?? '')) return true;
    if (n.type !== 'class_definition') continue;
    const model = context.semantic.classModel(n);
    if (TEST_CLASS.test(model.name) || model.bases.some((b) => /TestCase$|TestBase$/.test(b.qualified ?? b.node.text))) return true;
  }
  return false;
}

/** The class and its base classes defined in the same module (by plain name), nearest first. */
export function inFileClassChain(cls: Node, context: RuleContext): Node[] {
  return context.semantic.memo(`cycles.chain:${cls.id}`, () => {
    const chain = [cls];
    for (let i = 0; i < chain.length && chain.length < 16; i++) {
      for (const b of context.semantic.classModel(chain[i]).bases) {
        if (b.node.type !== 'identifier') continue;
        const base = context.semantic.moduleClass(b.node.text);
        if (base && !chain.some((c) => c.equals(base))) chain.push(base);
      }
    }
    return chain;
  });
}

/** Methods that end an instance's life: close it, leave its context, lose its connection. */
export const TEARDOWN_METHOD = /^_*(close|aclose|exit|aexit|connection_?lost|call_connection_lost|connectionLost|disconnect|release|detach|unlink|destroy|dispose|shutdown|terminate|abort|cleanup|clean_up|force_close|finish|stop|reset|clear|teardown|tear_down|free|dealloc)(_\w*)?_*$/i;

/**
 * Methods that release what a per-instance object holds (a file, a socket, a connection): their
 * presence is the evidence that instances are many and short-lived rather than one per process.
 */
export const RESOURCE_TEARDOWN = /^_*(close|aclose|exit|aexit|connection_?lost|call_connection_lost|connectionLost|disconnect|shutdown|release|detach|abort|destroy|dispose|terminate|unlink)_*$/;

/** The name of a method of the class (or an in-file base) that releases a per-instance resource, if any. */
export function resourceTeardown(cls: Node, context: RuleContext): string | undefined {
  for (const c of inFileClassChain(cls, context)) {
    for (const name of context.semantic.classModel(c).methods.keys()) if (RESOURCE_TEARDOWN.test(name)) return name;
  }
  return undefined;
}

/** The teardown methods of a class and its in-file bases (`close`, `__exit__`, `connection_lost` …). */
export function teardownMethods(cls: Node, context: RuleContext): Node[] {
  return context.semantic.memo(`cycles.teardown:${cls.id}`, () => {
    const out: Node[] = [];
    for (const c of inFileClassChain(cls, context)) {
      for (const [name, m] of context.semantic.classModel(c).methods) if (TEARDOWN_METHOD.test(name) && name !== '__del__') out.push(m.node);
    }
    return out;
  });
}

/**
 * The attributes of the instance that a class's teardown resets (`self.x = None`, `del self.x`,
 * `self.x.clear()`, any value that is not a method of the instance), also through a method of the
 * class that the teardown calls (`close()` → `self._cleanup()`); `*` when it clears `__dict__`.
 */
export function attributesResetOnTeardown(cls: Node, context: RuleContext): Set<string> {
  return context.semantic.memo(`cycles.resetOnTeardown:${cls.id}`, () => {
    const out = new Set<string>();
    const seen = new Set<number>();
    const chain = inFileClassChain(cls, context);
    const methodNamed = (name: string) => {
      for (const c of chain) {
        const m = context.semantic.classModel(c).methods.get(name);
        if (m) return m;
      }
      return undefined;
    };
    const visit = (fn: Node, depth: number) => {
      if (seen.has(fn.id)) return;
      seen.add(fn.id);
      const m = context.semantic.method(fn);
      if (!m?.receiver) return;
      for (const [name, uses] of m.attributes) {
        for (const u of uses) {
          if (u.kind === 'delete' || u.kind === 'remove') out.add(name);
          else if (u.kind === 'set' && !holdsOwnMethod(u.node, fn, context)) out.add(name);
          else if (u.kind === 'read' && name === '__dict__') out.add('*');
          const call = u.node.parent?.type === 'call' ? u.node.parent : undefined;
          // `self._cleanup()`: a method of the class that the teardown runs.
          if (depth < 2 && call && call.childForFieldName('function')?.equals(u.node)) {
            const callee = methodNamed(name);
            if (callee) visit(callee.node, depth + 1);
          }
        }
      }
    };
    for (const fn of teardownMethods(cls, context)) visit(fn, 0);
    return out;
  });
}

/** Is the value assigned at attribute `attr` (`self.x = <value>`) an attribute of `method`'s receiver (one of its methods)? */
function holdsOwnMethod(attr: Node, method: Node, context: RuleContext): boolean {
  const assign = attr.parent;
  const value = assign?.type === 'assignment' ? assign.childForFieldName('right') : undefined;
  const v = value ? stripParens(value) : undefined;
  return v?.type === 'attribute' && context.semantic.isReceiverOf(v.childForFieldName('object'), method);
}

/** `self.a.b[k]` → `a`: the instance attribute a store through `method`'s receiver starts with. */
export function firstAttribute(target: Node, method: Node, context: RuleContext): string | undefined {
  let n: Node | null = stripParens(target);
  let last: string | undefined;
  while (n) {
    if (n.type === 'attribute') {
      last = n.childForFieldName('attribute')?.text;
      const object: Node | null = n.childForFieldName('object');
      if (object?.type === 'identifier') return context.semantic.isReceiverOf(object, method) ? last : undefined;
      n = object;
    } else if (n.type === 'subscript') n = n.childForFieldName('value');
    else return undefined;
  }
  return undefined;
}

/**
 * Is `self.<attr>` deleted or reset in a `finally` block of the method that stores it, after the
 * store (`try: self.x = self.m … finally: del self.x`)?
 */
export function resetInFinally(store: Node, method: Node, attr: string, context: RuleContext): boolean {
  // A `try` around the store, or one that starts after it (`self.x = self.m` then `try: … finally: del self.x`).
  for (const n of method.childForFieldName('body')?.descendantsOfType('try_statement') ?? []) {
    if (!n || !(n.startIndex >= store.endIndex || (n.startIndex <= store.startIndex && n.endIndex >= store.endIndex))) continue;
    const fin = n.namedChildren.find((c) => c?.type === 'finally_clause');
    if (!fin) continue;
    for (const a of fin.descendantsOfType('attribute')) {
      if (!a || a.childForFieldName('attribute')?.text !== attr || !context.semantic.isReceiverOf(a.childForFieldName('object'), method)) continue;
      const p = a.parent;
      if (p?.type === 'delete_statement' || p?.parent?.type === 'delete_statement') return true;
      if (p?.type === 'assignment' && p.childForFieldName('left')?.equals(a) && !holdsOwnMethod(a, method, context)) return true;
    }
  }
  return false;
}

/** Does some method of the class (or an in-file base) delete `self.<attr>` (`del self.x`)? */
export function attributeDeleted(cls: Node, attr: string, context: RuleContext): boolean {
  return inFileClassChain(cls, context).some((c) =>
    [...context.semantic.classModel(c).methods.values()].some((m) => (m.attributes.get(attr) ?? []).some((u) => u.kind === 'delete')),
  );
}

/**
 * Is the store's target an attribute of `method`'s own instance (`self.x`, `self.x[k]`,
 * `self.x.append(…)`), not one of another object?
 */
export function ownSlot(target: Node, method: Node, context: RuleContext): boolean {
  let t = stripParens(target);
  if (t.type === 'subscript') t = stripParens(t.childForFieldName('value') ?? t);
  return t.type === 'attribute' && context.semantic.isReceiverOf(t.childForFieldName('object'), method);
}

/**
 * Does a method of the class (or an in-file base) other than `__init__` and `storing` reset
 * `self.<attr>` — `del self.x`, `self.x = None` (or an empty literal), `self.x.clear()`/`.pop()`?
 * The code then breaks the link itself (a getter that hands the value out and clears it).
 */
export function resetElsewhere(cls: Node, attr: string, storing: Node, context: RuleContext): boolean {
  for (const c of inFileClassChain(cls, context)) {
    for (const m of context.semantic.classModel(c).methods.values()) {
      if (m.name === '__init__' || m.node.equals(storing)) continue;
      for (const u of m.attributes.get(attr) ?? []) {
        if (u.kind === 'delete' || u.kind === 'remove') return true;
        if (u.kind === 'read' && aliasEmptied(u.node, m.node, context)) return true;
        if (u.kind !== 'set') continue;
        const right = u.node.parent?.type === 'assignment' ? u.node.parent.childForFieldName('right') : undefined;
        const v = right ? stripParens(right) : undefined;
        if (v && (v.type === 'none' || ((v.type === 'list' || v.type === 'dictionary' || v.type === 'tuple') && v.namedChildCount === 0))) return true;
      }
    }
  }
  return false;
}

/** `events = self._queue` … `events.popleft()`: the attribute emptied through a local alias. */
function aliasEmptied(attr: Node, method: Node, context: RuleContext): boolean {
  const assign = attr.parent;
  if (assign?.type !== 'assignment' || !assign.childForFieldName('right')?.equals(attr)) return false;
  const alias = assign.childForFieldName('left');
  if (alias?.type !== 'identifier') return false;
  return context.semantic.readsOf(context.semantic.scopeFor(method), alias.text).some((r) => {
    const p = r.parent;
    return p?.type === 'attribute' && p.childForFieldName('object')?.equals(r) && REMOVING_METHODS.has(p.childForFieldName('attribute')?.text ?? '');
  });
}
