// LL101 unclosed-resource: a resource bound to a name and not released on some path of its scope.
import { Allocation, ALLOCATION_QUERY, allocationCandidates, calleeName, exitEquivalent, inHandler, lineNo, trackAllocation, Use, withIsClose, withoutPipes, wrapFix } from '../resource-flow';
import { unparenthesize } from '../syntax';
import { mayCallFactory, type FactoryInfo } from '../resources';
import type { Node } from 'web-tree-sitter';
import type { RelatedLocation, Rule, RuleContext } from '../types';

/**
 * What to do about it, per kind of resource: `with` only where leaving the block releases it the
 * way the code means (a `with` around a process waits for it; one around a pool stops its work).
 */
function advice(factory: FactoryInfo): string {
  if (factory.name === 'subprocess.Popen') {
    return 'wait for it (`wait()` or `communicate()`; `with` waits too), or keep the `Popen` object where something waits for it later if the process is meant to outlive this code';
  }
  if (factory.pool) return `call \`${factory.release[0]}()\` when its work is done (\`with\` waits for the work, then shuts it down)`;
  if (factory.name === 'tempfile.TemporaryDirectory') return 'call `cleanup()` in a `finally`, or use `with` (which binds the path, not the object)';
  if (factory.name === 'http.client.HTTPConnection' || factory.name === 'http.client.HTTPSConnection') return 'call `close()` in a `finally` (or wrap it in `contextlib.closing`)';
  return 'use `with` so it is closed promptly';
}

const STOPPING = new Set(['terminate', 'kill', 'send_signal']);

/**
 * A process started without pipes (and without `**kwargs` that could hold some) that the code
 * never stops itself: this process holds no descriptor of it, only the child's entry (which
 * subprocess reaps when later processes start, and `Popen.__del__` hands on while it runs), and a
 * process nobody stops is often meant to outlive the function (a browser, a detached job). Not
 * waiting for it is then not clearly a leak. One the code terminates or kills and then drops is a
 * zombie, and stays confident.
 */
function mayBeDetached(a: Allocation, context: RuleContext): boolean {
  if (a.factory.name !== 'subprocess.Popen' || !withoutPipes(a.call, context)) return false;
  if ((a.call.childForFieldName('arguments')?.namedChildren ?? []).some((arg) => arg?.type === 'dictionary_splat' || arg?.type === 'list_splat')) return false;
  return !a.uses.some((u) => {
    const attr = u.node.parent;
    return attr?.type === 'attribute' && attr.childForFieldName('object')?.equals(u.node) && STOPPING.has(attr.childForFieldName('attribute')?.text ?? '');
  });
}

/** `name.method` when the use is the object of an attribute (`p.stdout`, `img.convert`). */
function attributeOf(u: Use): { node: Node; name: string } | undefined {
  const attr = u.node.parent;
  if (attr?.type !== 'attribute' || !attr.childForFieldName('object')?.equals(u.node)) return undefined;
  return { node: attr, name: attr.childForFieldName('attribute')?.text ?? '' };
}

/**
 * A file whose descriptor is duplicated onto another (`os.dup2(f.fileno(), sys.stdout.fileno())`,
 * a process redirecting its standard streams for the rest of its life): the duplicates are what
 * the process uses; only this one extra descriptor stays open.
 */
function descriptorDuplicated(a: Allocation, context: RuleContext): boolean {
  return a.uses.some((u) => {
    const attr = attributeOf(u);
    const call = attr?.name === 'fileno' ? attr.node.parent : undefined;
    const args = call?.type === 'call' ? call.parent : undefined;
    const outer = args?.type === 'argument_list' && args.namedChildren[0]?.equals(call!) ? args.parent : undefined;
    return outer?.type === 'call' && calleeName(outer, context).qualified === 'os.dup2';
  });
}

/** Image methods that load the pixel data (after which Pillow closes a file it opened itself). */
const PIL_LOADING = new Set(['load', 'convert', 'getextrema', 'getdata', 'getpixel', 'tobytes', 'copy', 'crop', 'resize', 'rotate', 'transpose', 'thumbnail', 'save', 'split', 'histogram', 'filter', 'point', 'quantize']);
const ARRAY_FROM = new Set(['numpy.asarray', 'numpy.array']);

/**
 * `PIL.Image.open(path)` whose image the code loads (`img.convert(…)`, `np.asarray(img)`): Pillow
 * closes a file it opened from a path once it has loaded a single-frame image, so the common case
 * leaks nothing; a multi-frame image (an animated GIF, a TIFF stack) keeps it open. A file object
 * passed in is never closed by Pillow and stays confident.
 */
function imageLoaded(a: Allocation, context: RuleContext): boolean {
  if (a.factory.name !== 'PIL.Image.open') return false;
  const source = a.call.childForFieldName('arguments')?.namedChildren[0];
  if (!source || source.type === 'call' || source.type === 'keyword_argument') return false;
  return a.uses.some((u) => {
    const attr = attributeOf(u);
    if (attr && PIL_LOADING.has(attr.name) && attr.node.parent?.type === 'call') return true;
    const args = u.node.parent;
    return args?.type === 'argument_list' && args.parent?.type === 'call' && ARRAY_FROM.has(calleeName(args.parent, context).qualified ?? '');
  });
}

/** The names a loop condition needs to be false to go on: `not n`, `n is None`, `n == None`, in an `and`. */
function namesRequiredFalse(cond: Node | null | undefined): Node[] {
  const c = cond ? unparenthesize(cond) : undefined;
  if (!c) return [];
  if (c.type === 'boolean_operator' && c.childForFieldName('operator')?.text === 'and') {
    return [...namesRequiredFalse(c.childForFieldName('left')), ...namesRequiredFalse(c.childForFieldName('right'))];
  }
  if (c.type === 'not_operator') {
    const argument = c.childForFieldName('argument');
    const arg = argument ? unparenthesize(argument) : undefined;
    return arg?.type === 'identifier' ? [arg] : [];
  }
  if (c.type === 'comparison_operator' && c.namedChildCount === 2) {
    const op = c.children.filter((x) => x && !x.isNamed).map((x) => x!.text).join(' ');
    const first = c.namedChild(0);
    const left = first ? unparenthesize(first) : undefined;
    if ((op === 'is' || op === '==') && c.namedChild(1)?.type === 'none' && left?.type === 'identifier') return [left];
  }
  return [];
}

const FALSE_LITERALS = new Set(['none', 'false']);
function falseLiteral(v: Node): boolean {
  if (FALSE_LITERALS.has(v.type)) return true;
  if (v.type === 'integer') return Number(v.text) === 0;
  if (v.type === 'string') return v.namedChildren.every((c) => c?.type === 'string_start' || c?.type === 'string_end');
  return (v.type === 'list' || v.type === 'tuple' || v.type === 'dictionary' || v.type === 'set') && v.namedChildCount === 0;
}

function within(n: Node, outer: Node): boolean {
  return n.startIndex >= outer.startIndex && n.endIndex <= outer.endIndex;
}

/**
 * A loop that opens until an open succeeds (`while files and not current: try: current =
 * files.pop(0); f = open(current) except OSError: current = None`): its condition needs a name to
 * be false, the iteration sets that name before the open on the open's own path, and only an
 * `except` handler sets it back to a false value. A successful open then ends the loop unless the
 * value set is itself false — which the analysis cannot tell, so the re-binding is not certain.
 */
function retryLoop(a: Allocation, loop: Node, context: RuleContext): string | undefined {
  if (loop.type !== 'while_statement') return undefined;
  const body = loop.childForFieldName('body');
  if (!body) return undefined;
  for (const id of namesRequiredFalse(loop.childForFieldName('condition'))) {
    if (id.text === a.name) continue;
    const bindings = context.semantic.resolve(id).filter((b) => within(b.node, body));
    const valueOf = (b: { node: Node }): Node | undefined => {
      const assign = b.node.parent;
      return assign?.type === 'assignment' && assign.childForFieldName('left')?.equals(b.node) ? (assign.childForFieldName('right') ?? undefined) : undefined;
    };
    const sets = bindings.filter((b) => {
      const v = valueOf(b);
      const stmt = b.node.parent?.parent;
      return v && !falseLiteral(v) && !inHandler(b.node, body) && stmt?.type === 'expression_statement' && stmt.startIndex <= a.stmt.startIndex && stmt.parent && within(a.stmt, stmt.parent);
    });
    const resets = bindings.filter((b) => !sets.includes(b) && (!valueOf(b) || falseLiteral(valueOf(b)!)));
    if (sets.length > 0 && resets.length > 0 && resets.every((b) => inHandler(b.node, body))) {
      return `the loop on line ${lineNo(context, loop.startIndex)} goes on only while \`${id.text}\` is false, which this iteration sets before the open and only the failure handler resets: only a failed open repeats the loop, unless \`${id.text}\` is set to a false value`;
    }
  }
  return undefined;
}

/** Why a finding is of low confidence, as words appended to its message; undefined: confident. */
function weakEvidence(a: Allocation, context: RuleContext): string | undefined {
  if (a.verdict.kind === 'conditional' && a.verdict.loop) {
    const retry = retryLoop(a, a.verdict.loop, context);
    if (retry) return retry;
  }
  if (mayBeDetached(a, context)) return 'started without pipes and never stopped here, it may be meant to outlive this code';
  if (descriptorDuplicated(a, context)) return 'its descriptor is duplicated onto another descriptor (`os.dup2`), which the process goes on using; only this one extra descriptor stays open';
  if (imageLoaded(a, context)) return 'Pillow closes the file it opened from a path once it loads a single-frame image, which this code does; a multi-frame image keeps it open';
  return undefined;
}

export const rule: Rule = {
  code: 'LL101',
  name: 'unclosed-resource',
  category: 'resources',
  defaultSeverity: 'warning',
  locality: 'function',
  query: ALLOCATION_QUERY,
  // Text pre-filter only (no factory call in the text: nothing to report); see resources.ts.
  mayApply: mayCallFactory,
  check(context: RuleContext) {
    for (const site of allocationCandidates(context)) {
      const a = trackAllocation(site, context);
      if (!a) continue;
      const { call, name, uses, rebinding, releases, verdict } = a;
      // Released (or handed over) on every normal path: the exceptional ones are LL102's.
      if (verdict.kind === 'released' || verdict.kind === 'exceptional') continue;
      const callText = `${call.childForFieldName('function')?.text ?? 'factory'}(…)`;
      const related: RelatedLocation[] = [];
      let message: string;
      if (verdict.kind === 'rebound') {
        message = `\`${name}\` is re-bound on line ${lineNo(context, verdict.at.startIndex)} before the \`${callText}\` result it holds is released`;
        related.push({ start: verdict.at.startIndex, end: verdict.at.endIndex, message: `\`${name}\` is re-bound here` });
      } else if (verdict.kind === 'never') {
        message = `\`${callText}\` result bound to \`${name}\` is never released; ${advice(a.factory)}`;
      } else if (verdict.kind === 'conditional') {
        const loop = verdict.loop;
        message = loop
          ? `\`${name}\` is re-bound on every iteration of the loop on line ${lineNo(context, loop.startIndex)}; only the last \`${callText}\` result is released`
          : `\`${callText}\` result bound to \`${name}\` is not released on every path (only conditionally); use \`with\``;
        for (const r of releases) related.push({ start: r.startIndex, end: r.endIndex, message: 'released only here' });
      } else {
        const early = verdict.ret;
        const at = lineNo(context, early.startIndex);
        const how =
          early.type === 'break_statement'
            ? `when \`break\` on line ${at} leaves the loop`
            : early.type === 'continue_statement'
              ? `when \`continue\` on line ${at} goes to the next iteration`
              : `when the function returns on line ${at}`;
        message = `\`${callText}\` result bound to \`${name}\` is not released ${how}; use \`with\``;
        related.push({ start: early.startIndex, end: early.endIndex, message: early.type === 'return_statement' ? 'returns without releasing' : 'leaves without releasing' });
      }
      const fixUses = rebinding ? uses.filter((u) => u.node.startIndex < rebinding!.startIndex) : uses;
      // Only where leaving `with` does exactly what closing does (not processes, pools,
      // HTTPConnection without __enter__, TemporaryDirectory binding a path, FTP/SMTP quitting),
      // and never for a resource the code hands over somewhere (the `with` would close it under the new owner).
      const fix = withIsClose(a.factory) && a.escapes.length === 0 ? wrapFix(a.stmt, name, call, fixUses, a.factory, a.scope, context, (r) => exitEquivalent(r, a.factory)) : undefined;
      const weak = weakEvidence(a, context);
      if (weak) message += ` (low confidence: ${weak})`;
      context.report({ node: call, message, related, fixes: fix ? [fix] : [], ...(weak ? { confidence: 'low' as const } : {}) });
    }
  },
  docs: {
    summary: 'A file, socket, connection, process or pool bound to a name and not released on some path.',
    whatItDoes:
      'Flags a resource-factory call (`open`, `socket.socket`, `sqlite3.connect`, `subprocess.Popen`, … and the `resource-factories` option) whose result is bound to a local or module name and is never released on some path of its scope. Each allocation is tracked, not each name: re-binding the name before the release leaks the first resource. A resource that escapes (returned, yielded, stored in an attribute or container, passed to a call that may keep it) is not flagged here, nor one used in `with`, released in `finally`, handed to `contextlib.closing`, `ExitStack.enter_context`/`callback`, `atexit.register` or `weakref.finalize`, nor code inside `__enter__`/`__aenter__` or a `@contextmanager` function, nor module-level executors and pools that live for the process. Methods count as factories when the file shows the receiver\'s class (`Path(p).open()`, `path.open()` on a parameter annotated `Path`, `zf.open(name)` on a `ZipFile`), and so do the file\'s own functions and `self` methods that return a fresh resource — not one that also records what it returns on the object (`self.open_sockets.append(s); return s`, `self._used[key] = conn`): the object keeps that resource, and the caller shares it. Archives and images over an in-memory stream (`io.BytesIO`, `io.StringIO`, by a call, a name bound to one, or `with io.BytesIO() as buf`) hold no OS resource and are not flagged. A release through a loop variable of the same name (`for proc in procs: proc.wait()`) releases the loop\'s object, not the allocation\'s. A wrapper that owns what it wraps takes it over (`io.TextIOWrapper(open(p, "rb"))` is the resource then); one that does not (`gzip.GzipFile(fileobj=f)`, `zipfile.ZipFile(f)`, `tarfile.open(fileobj=f)`, a class of the file that only stores it) leaves `f` to be closed by its owner. A full `read()` of an `urlopen` response and a `fileinput` iterated to its end count as releases, since both close what they opened. A process\'s `poll()` that returned a status has reaped it: `if p.poll() is not None:`, and a result kept in a variable and tested later (`status = p.poll()` … `if status is not None: break`), count as the release on that branch — the kept form only when the process has no pipes or each of them is closed in a `finally` (`p.stdout.close()`, or a name bound to `p.stdout`), since otherwise the pipes are still open there. Confidence: a process started without pipes that the code never terminates, kills or signals is of low confidence (reported only with `all-findings`): this process holds no descriptor of it, and a process nobody stops is often meant to outlive the function (a browser, a detached job); one the code stops and then drops without waiting is a zombie, and one with pipes holds descriptors, and both stay confident. Also of low confidence: a file whose descriptor is duplicated onto another with `os.dup2` (a process redirecting its standard streams); `PIL.Image.open(path)` whose image the code loads (`convert()`, `getextrema()`, `np.asarray(img)`), since Pillow closes a file it opened from a path once it has loaded a single-frame image (a multi-frame one keeps it open); a re-binding in a loop that opens until an open succeeds (`while files and not current:` with `current = files.pop(0)` set before the open and reset to `None` only in the `except` handler), since only a failed open repeats that loop unless the value set is itself false.',
    whyLeak:
      'An unreleased resource holds an operating-system handle (a file descriptor, a socket, a child process, worker threads) and its buffers until the garbage collector happens to finalise the object. CPython does that when the last reference goes, but only if nothing else still refers to it; PyPy and other implementations do it much later; a reference cycle or a traceback keeps it alive indefinitely. Under load this exhausts file descriptors and memory, and `python -X dev` reports it as `ResourceWarning: unclosed file`.',
    example: 'def first_line(path):\n    f = open(path)\n    line = f.readline()\n    return line\n',
    useInstead: 'def first_line(path):\n    with open(path) as f:\n        line = f.readline()\n    return line\n',
    fixSafety:
      'The fix is safe: the assignment becomes `with <call> as name:` (`async with` for resources that only support it) and the statements that use the resource move into the block; an explicit `name.close()` statement there is removed. The resource is then released at the end of the block instead of whenever the garbage collector gets to it. The fix is offered only when every use of the resource lies in later statements of the same block, and only for resources whose `with` block does nothing but close them: not for processes (`Popen.__exit__` waits), pools and executors, `http.client` connections (no context-manager support), `TemporaryDirectory` (`as` binds the path), FTP/SMTP/IMAP sessions (leaving sends QUIT/LOGOUT) or connections whose `with` commits.',
    options: '`resource-factories`: extra dotted names (for example `mylib.connect`) whose results must be released.',
    references: [
      'https://docs.python.org/3/reference/compound_stmts.html#the-with-statement',
      'https://docs.python.org/3/library/devmode.html#resourcewarning-example',
    ],
  },
};
