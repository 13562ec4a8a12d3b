// Which code may raise. Deliberately practical: a call, a subscript, an attribute access that is
// not a plain read of names, an `await`/`yield`, `raise`, `assert`, an import, iteration over
// anything but a literal, and operators that raise on ordinary values (`/`, `%`, `in`, …) or
// whose operands may. Plain reads of names and `a.b.c` are taken as not raising.
import type { Node } from 'web-tree-sitter';

const ALWAYS_RAISING = new Set([
  'call', 'attribute', 'subscript', 'await', 'yield', 'raise_statement', 'assert_statement',
  'import_statement', 'import_from_statement', 'future_import_statement', 'print_statement', 'exec_statement',
]);
const OPERATORS = new Set(['binary_operator', 'comparison_operator', 'unary_operator', 'augmented_assignment']);
const SIMPLE_OPERANDS = new Set(['identifier', 'integer', 'float', 'string', 'concatenated_string', 'true', 'false', 'none', 'parenthesized_expression']);
const RAISING_OPERATORS = new Set(['/', '//', '%', '/=', '//=', '%=', 'in', 'not in', '@', '@=']);
/** Registering a cleanup (`self.addCleanup(proc.stdout.close)`) does not fail in practice. */
const REGISTRATIONS = new Set(['addCleanup', 'addClassCleanup', 'addAsyncCleanup']);

/** `a.b.c` read (not called, assigned or deleted): a plain attribute read of names. */
export function plainAttributeRead(node: Node): boolean {
  let n: Node | null = node;
  while (n?.type === 'attribute') n = n.childForFieldName('object');
  if (n?.type !== 'identifier') return false;
  let outer = node;
  while (outer.parent?.type === 'attribute' && outer.parent.childForFieldName('object')?.equals(outer)) outer = outer.parent;
  const parent = outer.parent;
  if (parent?.type === 'call' && parent.childForFieldName('function')?.equals(outer)) return false;
  if ((parent?.type === 'assignment' || parent?.type === 'augmented_assignment') && parent.childForFieldName('left')?.equals(outer)) return false;
  if (parent?.type === 'delete_statement') return false;
  return true;
}

/**
 * `x.a = value` (or `x.a.b = value`) on names: storing an attribute of an ordinary object does not
 * fail (a property or `__slots__` could make it, which the file does not show); the value's own
 * evaluation is looked at separately.
 */
function plainAttributeStore(node: Node): boolean {
  const parent = node.parent;
  if (parent?.type !== 'assignment' || !parent.childForFieldName('left')?.equals(node)) return false;
  let n: Node | null = node.childForFieldName('object');
  while (n?.type === 'attribute') n = n.childForFieldName('object');
  return n?.type === 'identifier';
}

function operandsSimple(node: Node): boolean {
  for (const c of node.namedChildren) {
    if (!c || c.type === 'comment') continue;
    if (c.type === 'attribute' && plainAttributeRead(c)) continue;
    if (!SIMPLE_OPERANDS.has(c.type)) return false;
    if (c.type === 'parenthesized_expression' && !operandsSimple(c)) return false;
    if (c.type === 'string' && c.namedChildren.some((p) => p?.type === 'interpolation')) return false;
  }
  return true;
}

function operatorRaises(node: Node): boolean {
  const simple = operandsSimple(node);
  for (const c of node.children) {
    if (!c || c.isNamed || !RAISING_OPERATORS.has(c.type)) continue;
    // `"b" in mode` of a literal in a name: a membership test of ordinary values does not fail.
    if ((c.type === 'in' || c.type === 'not in') && simple && node.namedChildren.some((o) => o?.type === 'string')) continue;
    return true;
  }
  return !simple;
}

function isRegistration(node: Node): boolean {
  const fn = node.childForFieldName('function');
  if (fn?.type !== 'attribute' || !REGISTRATIONS.has(fn.childForFieldName('attribute')?.text ?? '')) return false;
  const args = node.childForFieldName('arguments')?.namedChildren ?? [];
  return args.every((a) => !a || a.type === 'comment' || a.type === 'identifier' || (a.type === 'attribute' && plainAttributeRead(a)));
}

/**
 * Builtins that only raise for arguments of the wrong kind (`isinstance(x, int)`,
 * `getattr(x, "buffer", x)`): taken as not raising, like a plain attribute read. Known by the
 * callee's name in the tree; a file that re-binds one of these names is not worth the doubt.
 */
const QUIET_BUILTINS = new Set(['isinstance', 'issubclass', 'hasattr', 'callable', 'id']);

function quietBuiltinCall(node: Node): boolean {
  const fn = node.childForFieldName('function');
  if (fn?.type !== 'identifier') return false;
  const args = (node.childForFieldName('arguments')?.namedChildren ?? []).filter((a) => !!a && a.type !== 'comment');
  if (QUIET_BUILTINS.has(fn.text)) return true;
  // `getattr(x, "name", default)`: a default makes a missing attribute no error.
  return fn.text === 'getattr' && args.length === 3 && args[1]?.type === 'string';
}

/** May evaluating this node by itself (not counting its children) raise? */
export function nodeMayRaise(node: Node): boolean {
  if (node.type === 'call' && quietBuiltinCall(node)) return false;
  if (node.type === 'attribute' && (plainAttributeRead(node) || plainAttributeStore(node))) return false;
  if (ALWAYS_RAISING.has(node.type)) return true;
  if (OPERATORS.has(node.type)) return operatorRaises(node);
  if (node.type === 'for_statement' || node.type === 'for_in_clause') {
    const right = node.childForFieldName('right');
    return !!right && right.type !== 'list' && right.type !== 'tuple' && right.type !== 'string';
  }
  return false;
}

/**
 * The first node inside `node` (in evaluation order, roughly document order) that may raise,
 * skipping the bodies of nested functions and lambdas (defined, not run) and whatever `skip`
 * says to leave alone (with its children); a `transparent` node is taken as not raising itself,
 * but its children are looked at.
 */
export function firstRaising(node: Node, skip: (n: Node) => boolean = () => false, transparent: (n: Node) => boolean = () => false): Node | undefined {
  const visit = (n: Node): Node | undefined => {
    if (skip(n)) return undefined;
    if (n.type === 'call' && isRegistration(n)) return undefined;
    const through = transparent(n);
    if (!through && nodeMayRaise(n)) return n;
    // A transparent call's callee (`self.assertEqual`) is part of it: only its arguments are looked at.
    const callee = through && n.type === 'call' ? n.childForFieldName('function') : null;
    for (const child of n.namedChildren) {
      if (!child || (callee && child.equals(callee))) continue;
      if ((n.type === 'function_definition' || n.type === 'class_definition') && child.type === 'block') continue;
      if (n.type === 'lambda' && n.childForFieldName('body')?.equals(child)) continue;
      if (n.type === 'decorated_definition') continue;
      const found = visit(child);
      if (found) return found;
    }
    return undefined;
  };
  return visit(node);
}

/**
 * A test assertion: `assert …`, `self.assertEqual(…)`, `self.fail(…)`. When one fails the test
 * has failed already; what it skips is not the program's behaviour.
 */
export function isAssertion(node: Node): boolean {
  if (node.type === 'assert_statement') return true;
  if (node.type !== 'call') return false;
  const fn = node.childForFieldName('function');
  if (fn?.type !== 'attribute' || fn.childForFieldName('object')?.text !== 'self') return false;
  const name = fn.childForFieldName('attribute')?.text ?? '';
  return /^assert[A-Z_]/.test(name) || name === 'fail' || /^fail[A-Z]/.test(name);
}
