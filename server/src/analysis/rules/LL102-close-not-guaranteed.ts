// LL102 close-not-guaranteed: a resource released by an explicit `x.close()` on every normal
// path, but not when something raises between the allocation and the release.
import type { Node } from 'web-tree-sitter';
import { Allocation, ALLOCATION_QUERY, allocationCandidates, exitEquivalent, lineNo, normalPath, shadowedFactory, statementOf, trackAllocation, wrapFix } from '../resource-flow';
import type { FactoryInfo } from '../resources';
import type { Fix, Rule, RuleContext } from '../types';

/** Nodes whose evaluation can raise (a call, attribute access, subscript, an iteration …). */
const ALWAYS_RAISING = new Set([
  'call', 'attribute', 'subscript', 'await', 'yield', 'raise_statement', 'assert_statement',
  'import_statement', 'import_from_statement', 'future_import_statement', 'with_clause', 'print_statement', 'exec_statement',
]);
const OPERATORS = new Set(['binary_operator', 'comparison_operator', 'unary_operator', 'augmented_assignment']);
/** Operands that cannot make an operator raise by themselves (beyond a programming error). */
const SIMPLE_OPERANDS = new Set(['identifier', 'integer', 'float', 'string', 'concatenated_string', 'true', 'false', 'none', 'parenthesized_expression']);
/** Operators that raise on ordinary values (ZeroDivisionError, membership on arbitrary objects). */
const RAISING_OPERATORS = new Set(['/', '//', '%', '/=', '//=', '%=', 'in', 'not in', '@', '@=']);

function operandsSimple(node: Node): boolean {
  for (const c of node.namedChildren) {
    if (!c || c.type === 'comment') continue;
    // `b"a" * support.PIPE_MAX_SIZE`: a plain attribute read is as simple as a name.
    if (c.type === 'attribute' && plainAttributeRead(c)) continue;
    if (!SIMPLE_OPERANDS.has(c.type)) return false;
    if (c.type === 'parenthesized_expression' && !operandsSimple(c)) return false;
    if (c.type === 'string' && c.namedChildren.some((p) => p?.type === 'interpolation')) return false;
  }
  return true;
}

function operatorRaises(node: Node): boolean {
  for (const c of node.children) {
    if (c && !c.isNamed && RAISING_OPERATORS.has(c.type)) return true;
  }
  return !operandsSimple(node);
}

/** Registering a cleanup (`self.addCleanup(proc.stdout.close)`) does not fail in practice. */
const REGISTRATIONS = new Set(['addCleanup', 'addClassCleanup', 'addAsyncCleanup']);

/** `a.b.c` read (not called, not assigned to): a plain attribute read of names, taken as not raising. */
function plainAttributeRead(node: Node): boolean {
  let n: Node | null = node;
  while (n?.type === 'attribute') n = n.childForFieldName('object');
  if (n?.type !== 'identifier') return false;
  // The outermost attribute of the chain decides.
  let outer = node;
  while (outer.parent?.type === 'attribute' && outer.parent.childForFieldName('object')?.equals(outer)) outer = outer.parent;
  const parent = outer.parent;
  if (parent?.type === 'call' && parent.childForFieldName('function')?.equals(outer)) return false;
  if ((parent?.type === 'assignment' || parent?.type === 'augmented_assignment') && parent.childForFieldName('left')?.equals(outer)) return false;
  if (parent?.type === 'delete_statement') return false;
  return true;
}

function isRegistration(node: Node): boolean {
  const fn = node.childForFieldName('function');
  if (fn?.type !== 'attribute' || !REGISTRATIONS.has(fn.childForFieldName('attribute')?.text ?? '')) return false;
  const args = node.childForFieldName('arguments')?.namedChildren ?? [];
  return args.every((a) => !a || a.type === 'comment' || a.type === 'identifier' || (a.type === 'attribute' && plainAttributeRead(a)));
}

function canRaise(node: Node): boolean {
  if (node.type === 'attribute' && plainAttributeRead(node)) return false;
  if (ALWAYS_RAISING.has(node.type)) return true;
  if (OPERATORS.has(node.type)) return operatorRaises(node);
  // Iterating calls `iter()` and `next()` on the iterable.
  if (node.type === 'for_statement' || node.type === 'for_in_clause') {
    const right = node.childForFieldName('right');
    return !!right && right.type !== 'list' && right.type !== 'tuple' && right.type !== 'string';
  }
  return false;
}

/**
 * The first node in [from, to) whose evaluation can raise, skipping code that does not run
 * between the allocation and the release: bodies of nested functions and lambdas (their defaults
 * and decorators do run), and the handlers of a `try` whose body holds the allocation (they run
 * when the allocation itself failed, or after something in the body raised, which counts there).
 */
function firstRaising(root: Node, alloc: Node, from: number, to: number, protectedBy: (n: Node) => boolean): Node | undefined {
  const visit = (node: Node): Node | undefined => {
    if (node.endIndex <= from || node.startIndex >= to) return undefined;
    if (node.type === 'call' && isRegistration(node)) return undefined;
    if (node.startIndex >= from && node.endIndex <= to && canRaise(node) && !protectedBy(node)) return node;
    for (const child of node.children) {
      if (!child) continue;
      if ((node.type === 'function_definition' && child.type === 'block') || (node.type === 'lambda' && node.childForFieldName('body')?.equals(child))) continue;
      if (node.type === 'try_statement' && child.type === 'except_clause') {
        const body = node.childForFieldName('body');
        if (body && alloc.startIndex >= body.startIndex && alloc.endIndex <= body.endIndex) continue;
      }
      const found = visit(child);
      if (found) return found;
    }
    return undefined;
  };
  return visit(root);
}

/**
 * Is `node` covered by a handler that releases the resource: inside the body of a `try` whose
 * `except` clause releases it, or inside such a clause (the exceptional path, which releases)?
 */
function handledBy(node: Node, a: Allocation): boolean {
  const handlers: Node[] = [];
  for (const r of a.releases) {
    for (let n = r.parent; n && !n.equals(a.body); n = n.parent) {
      if (n.type === 'except_clause') {
        handlers.push(n);
        break;
      }
    }
  }
  if (handlers.length === 0) return false;
  for (let n: Node | null = node; n && !n.equals(a.body); n = n.parent) {
    if (n.type === 'except_clause' && handlers.some((h) => h.equals(n!))) return true;
    const parent: Node | null = n.parent;
    if (parent?.type === 'try_statement' && parent.childForFieldName('body')?.equals(n) && handlers.some((h) => h.parent?.equals(parent))) return true;
  }
  return false;
}

const NO_WITH = new Set([
  // No `__enter__`: a `with` would fail.
  'http.client.HTTPConnection', 'http.client.HTTPSConnection',
  // `__enter__` returns the path, not the object.
  'tempfile.TemporaryDirectory',
  // `__exit__` does more than close: it sends QUIT/LOGOUT, or commits.
  'ftplib.FTP', 'smtplib.SMTP', 'imaplib.IMAP4', 'psycopg.connect', 'pymysql.connect',
]);
const EXECUTORS = new Set(['concurrent.futures.ThreadPoolExecutor', 'concurrent.futures.ProcessPoolExecutor']);

/** `x.attr` for a use of x, the attribute's name. */
function attributeOf(use: { node: Node }): string | undefined {
  const parent = use.node.parent;
  return parent?.type === 'attribute' && parent.childForFieldName('object')?.equals(use.node) ? parent.childForFieldName('attribute')?.text : undefined;
}

/** Can `with` take over every explicit release of this allocation without changing the normal path? */
function withKeepsBehaviour(a: Allocation, factory: FactoryInfo): boolean {
  if (NO_WITH.has(factory.name)) return false;
  if (factory.name === 'subprocess.Popen') {
    // `__exit__` waits for the process: fine after `wait()`/`communicate()`, not instead of `kill()`.
    return !a.uses.some((u) => ['kill', 'terminate', 'send_signal'].includes(attributeOf(u) ?? ''));
  }
  // `__exit__` of an executor waits for its work: a `shutdown(wait=False)` must not become that.
  if (EXECUTORS.has(factory.name)) return a.releases.every((r) => exitEquivalent(r, factory));
  // `__exit__` of a pool terminates it: only harmless once the code joins or terminates it itself.
  if (factory.pool) return a.uses.some((u) => ['join', 'terminate'].includes(attributeOf(u) ?? ''));
  return true;
}

function fixFor(a: Allocation, context: RuleContext): Fix | undefined {
  if (!withKeepsBehaviour(a, a.factory)) return undefined;
  const uses = a.rebinding ? a.uses.filter((u) => u.node.startIndex < a.rebinding!.startIndex) : a.uses;
  // An explicit release goes away only when it is what `__exit__` does and nothing uses the resource after it.
  const lastUse = Math.max(...uses.map((u) => u.node.startIndex));
  const removable = (release: Node) => exitEquivalent(release, a.factory) && release.endIndex >= lastUse;
  return wrapFix(a.stmt, a.name, a.call, uses, a.factory, a.scope, context, removable);
}

export const rule: Rule = {
  code: 'LL102',
  name: 'close-not-guaranteed',
  category: 'resources',
  defaultSeverity: 'warning',
  query: ALLOCATION_QUERY,
  check(context: RuleContext) {
    for (const site of allocationCandidates(context)) {
      const a = trackAllocation(site, context);
      if (!a || normalPath(a).kind !== 'released' || shadowedFactory(a.call, context)) continue;
      const limit = a.rebinding ? a.rebinding.startIndex : Infinity;
      const release = a.covering.filter((r) => r.startIndex < limit).sort((x, y) => x.startIndex - y.startIndex)[0];
      if (!release) continue;
      // Up to the statement that releases: what that statement evaluates before the release is its own business.
      const raising = firstRaising(a.body, a.stmt, a.stmt.endIndex, statementOf(release).startIndex, (n) => handledBy(n, a));
      if (!raising) continue;
      const callText = `${a.call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      const releaseText = release.childForFieldName('function')?.text ?? `${a.name}.close`;
      const message =
        `\`${callText}\` result bound to \`${a.name}\` is released by \`${releaseText}()\` on line ${lineNo(context, release.startIndex)} ` +
        `only if nothing raises first, and line ${lineNo(context, raising.startIndex)} can; use \`with\` so it is released on every path`;
      const fix = fixFor(a, context);
      context.report({
        node: a.call,
        message,
        related: [
          { start: raising.startIndex, end: raising.endIndex, message: 'can raise before the release' },
          { start: release.startIndex, end: release.endIndex, message: 'skipped when an exception is raised above' },
        ],
        fixes: fix ? [fix] : [],
      });
    }
  },
  docs: {
    summary: 'A resource closed explicitly, but not when an exception is raised before the close.',
    whatItDoes:
      'Flags a resource-factory call bound to a name whose explicit release (`x.close()`, or the factory\'s own release method: `shutdown()` for executors, `terminate()`/`join()`/`close()` for pools, `cleanup()` for `TemporaryDirectory`, `wait()`/`communicate()`/`kill()` for `Popen`) runs on every normal path, but sits outside `finally` and `with`, with code in between that can raise: a call, an attribute access, a subscript, an iteration, an `await` or `yield`, a `raise` or `assert`. A release inside `finally`, a `with` block, `contextlib.closing`, an `ExitStack` and an `except` handler that releases the resource before re-raising all count as guaranteed. Resources that are never released, or only on some normal paths, are LL101\'s.',
    whyLeak:
      'When anything between the allocation and the release raises, the release line is skipped and the resource lives on with the exception: its traceback holds the frame, the frame holds the resource, and whoever catches the exception (a retry loop, a request handler, a test runner) keeps all of it alive. The file descriptor, socket or child process is then released only when the garbage collector gets to it, never on PyPy until a collection, and in a long-running process each failure leaks one more. `python -X dev` reports it as a `ResourceWarning`.',
    example: 'import json\n\n\ndef load(path):\n    f = open(path)\n    data = json.load(f)\n    f.close()\n    return data\n',
    useInstead: 'import json\n\n\ndef load(path):\n    with open(path) as f:\n        data = json.load(f)\n    return data\n',
    fixSafety:
      'The fix is safe: the assignment becomes `with <call> as name:` (`async with` for resources that only support it, `with closing(...)` for database connections whose own `with` only ends a transaction), the statements that use the resource move into the block, and the explicit release is removed when it is exactly what leaving the block does (`close()`, `shutdown()` waiting for the work, `terminate()` for pools) and nothing uses the resource after it; any other release call stays where it was (a process\'s `wait()` always stays, since leaving the block closes its pipes before waiting). On the normal path the resource is released at the same point as before; only the exceptional path changes, which is the point. No fix is offered for objects whose `with` does something else or nothing (`http.client` connections, `TemporaryDirectory`, FTP/SMTP/IMAP sessions that send QUIT, psycopg 3 and PyMySQL connections that commit), for a process that is killed rather than waited for, for an executor shut down without waiting, for a pool that is never joined or terminated (leaving the block would terminate its pending work), nor when a use of the resource lies outside the statements that follow it in its block.',
    options: '`resource-factories`: extra dotted names (for example `mylib.connect`) whose results must be released.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#the-with-statement',
      'https://docs.python.org/3/reference/compound_stmts.html#the-try-statement',
      'https://docs.python.org/3/library/contextlib.html#contextlib.closing',
    ],
  },
};
