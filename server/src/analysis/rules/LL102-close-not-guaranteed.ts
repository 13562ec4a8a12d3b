// LL102 close-not-guaranteed: a resource released by an explicit `x.close()` on every normal
// path, but not when something raises between the allocation and the release.
import type { Node } from 'web-tree-sitter';
import { Allocation, ALLOCATION_QUERY, allocationCandidates, exitEquivalent, initAttributeLeaks, lineNo, trackAllocation, wrapFix } from '../resource-flow';
import { mayCallFactory, type FactoryInfo } from '../resources';
import type { Fix, Rule, RuleContext } from '../types';

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

/** A unittest or pytest test: a def named `test…`. */
function isTestFunction(scope: Node): boolean {
  return scope.type === 'function_definition' && /^test/.test(scope.childForFieldName('name')?.text ?? '');
}

export const rule: Rule = {
  code: 'LL102',
  name: 'close-not-guaranteed',
  category: 'resources',
  defaultSeverity: 'warning',
  query: ALLOCATION_QUERY,
  // Text pre-filter only (no factory call in the text: nothing to report); see resources.ts.
  mayApply: mayCallFactory,
  check(context: RuleContext) {
    for (const site of allocationCandidates(context)) {
      const a = trackAllocation(site, context);
      if (!a || a.verdict.kind !== 'exceptional') continue;
      // In a test, the exception is the test failing: the run reports it and moves on; what it
      // leaves open for a moment is not what this rule is about.
      if (isTestFunction(a.scope)) continue;
      // Never released nor handed over anywhere (the normal paths end the process): nothing to
      // guarantee, and not this rule's finding.
      if (a.releases.length === 0 && a.escapes.length === 0 && !a.uses.some((u) => u.kind === 'released')) continue;
      const { raising, release, escape } = a.verdict;
      const callText = `${a.call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      const raisingLine = lineNo(context, raising.startIndex);
      const related = [{ start: raising.startIndex, end: raising.endIndex, message: 'can raise before the release' }];
      let message: string;
      let fix: Fix | undefined;
      if (release && (!escape || release.startIndex < escape.startIndex)) {
        const releaseText = release.type === 'call' ? (release.childForFieldName('function')?.text ?? `${a.name}.close`) : `${a.name}.close`;
        message =
          `\`${callText}\` result bound to \`${a.name}\` is released by \`${releaseText}()\` on line ${lineNo(context, release.startIndex)} ` +
          `only if nothing raises first, and line ${raisingLine} can; use \`with\` so it is released on every path`;
        related.push({ start: release.startIndex, end: release.endIndex, message: 'skipped when an exception is raised above' });
        fix = a.escapes.length === 0 ? fixFor(a, context) : undefined;
      } else if (escape) {
        const what = escape.type === 'return_statement' ? 'returned' : 'handed over';
        message =
          `\`${callText}\` result bound to \`${a.name}\` is ${what} on line ${lineNo(context, escape.startIndex)}, but line ${raisingLine} can raise before that ` +
          `and nothing closes it on that path; close it in an \`except\` clause that re-raises`;
        related.push({ start: escape.startIndex, end: escape.endIndex, message: `${what} here, only when nothing raised` });
      } else {
        message = `\`${callText}\` result bound to \`${a.name}\` is not released when line ${raisingLine} raises; use \`with\` so it is released on every path`;
      }
      // Only calls that practically do not fail stand between (a set-up call on the resource with
      // constants, a loopback bind, another local `open`): the path is a theoretical one.
      if (a.rareRaisesOnly) message += ' (low confidence: only calls that rarely fail in practice can raise there)';
      // The failure is caught by handlers that end the process: descriptors go with it.
      else if (a.failureEndsProcess) message += ' (low confidence: the handler that catches it ends the process; only a failure inside that handler leaks)';
      const low = a.rareRaisesOnly || a.failureEndsProcess;
      context.report({ node: a.call, message, related, fixes: fix ? [fix] : [], ...(low ? { confidence: 'low' as const } : {}) });
    }
    for (const leak of initAttributeLeaks(context)) {
      const callText = `${leak.call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      const raisingLine = lineNo(context, leak.raising.startIndex);
      context.report({
        node: leak.call,
        message:
          `\`${callText}\` result stored in \`self.${leak.attribute}\` by \`__init__\` is not released when line ${raisingLine} raises: ` +
          `the caller never gets the half-built instance, so nothing can close it; close it in an \`except\` clause that re-raises` +
          (leak.rareRaisesOnly ? ' (low confidence: only calls that rarely fail in practice can raise there)' : ''),
        related: [{ start: leak.raising.startIndex, end: leak.raising.endIndex, message: 'can raise after the resource is stored' }],
        fixes: [],
        ...(leak.rareRaisesOnly ? { confidence: 'low' as const } : {}),
      });
    }
  },
  docs: {
    summary: 'A resource closed explicitly, but not when an exception is raised before the close.',
    whatItDoes:
      'Flags a resource-factory call bound to a name whose explicit release (`x.close()`, or the factory\'s own release method: `shutdown()` for executors, `terminate()`/`join()`/`close()` for pools, `cleanup()` for `TemporaryDirectory`, `wait()`/`communicate()`/`kill()` for `Popen`) runs on every normal path, but sits outside `finally` and `with`, with code in between that can raise: a call, an attribute access, a subscript, an iteration, an `await` or `yield`, a `raise`, a division (`/`, `//`, `%`) unless by a number literal other than zero (`size // 10`). Test assertions (`assert`, `self.assertEqual(…)`, `self.fail(…)`) are not counted: when one fails the test has failed already. The `yield` of a pytest fixture (`@pytest.fixture`) is not counted: pytest resumes the generator for the teardown and never throws the test\'s exception in there. A condition that `and`/`or` cut short once the resource is open (`while not sock and time.time() < deadline:`) raises only in the part that runs. A test of a name that the path set to `None`, `True` or `False` and did not bind again is known on that path: with `err = sock = None` at the top of each iteration and `err = exc` only in the handler, `if err is not None: raise err` after the loop does not run on the `break` path. Storing an attribute on a name (`s.verify = False`) is not counted either, nor a membership test of a name in literals (`"b" in mode`, `kind not in ["zip", "tar"]`), nor calls that do not fail on the values programs give them: printing (not to a file), logging, path arithmetic (`os.path.join`, …), clocks, `isinstance`/`hasattr`/`getattr` with a default, and a socket\'s `settimeout`/`setblocking`. A release inside `finally`, a `with` block, `contextlib.closing`, an `ExitStack` and an `except` handler that releases the resource before re-raising all count as guaranteed. Resources that are never released, or only on some normal paths, are LL101\'s — and one that is never released at all because every normal path ends the process (`sys.exit`, `os._exit`) is nobody\'s: there is no release to guarantee. Confidence: the finding is confident when something that fails on real data, on the file system or on the network can raise in between (parsing, a read, a command, a connection to another host, an unknown call); it is of low confidence (reported only with `all-findings`) when the only calls that can raise there practically never do — a set-up call or a write on the resource itself with constant arguments (`s.listen(1)`, `s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)`, `f.write(b"x")`, `f.seek(0)`), a signal to the process it started (`p.terminate()`, `p.send_signal(signal.SIGINT)`), `bind`/`connect` to a loopback address, the descriptor\'s own getters (`fileno()`, `getsockname()`), `os.close`/`os.fstat` on a descriptor, another local `open` or `socket()` (also wrapped at once in `io.TextIOWrapper(…)`), joining with a literal separator, a comprehension over a list the code holds, a function (by its name or through its module: `zlib.decompressobj(32 + zlib.MAX_WBITS)`) given only constants (literals, names in capitals, arithmetic of them), the first few constant bytes written to a buffered file opened just before (a literal, `struct.pack` of constants or a local bound only to one, 512 bytes at most together, not `buffering=0` or line-buffered: `BufferedWriter.write` only fills the buffer until it holds more than its size), or a call of a function or method of the file whose body does only such things (`self._reset()` that stores literals and builds objects from constants; summarised once per function, a recursive one never counts). A failure that a handler catches and the code goes past is over: a path that then loses the resource at a later raise needs that raise too, so it counts as rare when the later raise does. A confident finding names a raise that makes it confident, not a rare one before it. It is of low confidence too when the failure is caught by handlers that catch everything and each end the process (`except Exception: …; sys.exit(1)`, a module\'s `fail_json(…)`): the descriptors go with the process, and only a second failure inside such a handler, before it exits, leaks. And when the only call that can raise there is one of the resource\'s own methods (`sock.connect(address)`) or an `os` function given it (`os.write(fd, data)`), with arguments that do not raise, inside a `try` whose `except OSError` (or `IOError`, `EnvironmentError`, `socket.error`, as one of a tuple too) releases it: such a call fails with an OSError, which that handler cleans up after, and what still gets out with the resource is another exception from it (a wrong argument\'s `TypeError`); a narrower handler (`except ConnectionRefusedError`) or one that does not release leaves the finding confident. It also flags a resource that `__init__` stores on `self` (`self.sock = socket.socket()`) when a later statement of `__init__` can raise with no handler that releases it: the caller never receives the half-built instance, so nothing can close the resource (classes with a `__del__` are left alone). Test functions (named `test…`) are left alone: there the exception is the test failing, and the run reports it.',
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
