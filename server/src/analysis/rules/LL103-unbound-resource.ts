// LL103 unbound-resource: a resource-factory call whose result is used without ever being bound,
// so nothing can close it: `open(p).read()`, `json.load(open(p))`, `for line in open(p):`.
import type { Node } from 'web-tree-sitter';
import { addImportEdit } from '../imports';
import { inMainBlock, isFullRead, loopBreaks, opensLater, withoutPipes, indentLines, managedExpression, probeContext, shadowedFactory, statementOf, unitOf, withIsClose } from '../resource-flow';
import { factoryCallCandidates, factoryOf, FactoryInfo, mayCallFactory, NON_OWNING_CALLS } from '../resources';
import { enclosingScope, endsLine, indentOfLine, isAsync, lineBreakOf, lineStartOf, nextLineStart, startsLine } from '../syntax';
import type { Fix, OffsetEdit, Rule, RuleContext } from '../types';

/** Known readers and consumers that use a resource passed to them without keeping it. */
const CONSUMERS = new Set([
  ...NON_OWNING_CALLS,
  'list', 'tuple', 'set', 'frozenset', 'sorted', 'sum', 'min', 'max', 'any', 'all', 'dict',
  'tomllib.load', 'plistlib.load', 'plistlib.dump', 'yaml.load', 'yaml.safe_load', 'yaml.dump', 'yaml.safe_dump',
  'email.message_from_file', 'email.message_from_binary_file', 'hashlib.file_digest',
]);
/** Of those, the ones that keep the resource inside the (lazy) object they return. */
const LAZY = new Set(['iter', 'enumerate', 'csv.reader', 'csv.writer', 'csv.DictReader', 'csv.DictWriter']);
/** Consumers that exhaust an iterable passed to them before returning. */
const EAGER_ITERATION = new Set(['list', 'tuple', 'set', 'frozenset', 'sorted', 'sum', 'min', 'max', 'any', 'all', 'dict']);
/** Methods whose result does not need the resource to stay open (so a `with` around the statement keeps behaviour). */
const DATA_METHODS = new Set([
  'read', 'read1', 'readline', 'readlines', 'readinto', 'readall', 'write', 'writelines', 'writestr', 'seek', 'tell',
  'flush', 'truncate', 'getvalue', 'recv', 'recv_into', 'recvfrom', 'send', 'sendall', 'sendto', 'connect',
  'connect_ex', 'bind', 'listen', 'setsockopt', 'getsockopt', 'settimeout', 'setblocking', 'getsockname',
  'getpeername', 'namelist', 'infolist', 'getinfo', 'getnames', 'getmembers', 'getmember', 'extractall', 'extract',
  'testzip', 'executescript', 'commit', 'geturl', 'getcode', 'getheaders', 'getheader', 'info', 'readframes',
  'writeframes', 'getnframes', 'getparams', 'getframerate', 'getnchannels', 'getsampwidth', 'keys',
]);
const OPEN_NAMES = new Set(['open', 'builtins.open', 'io.open']);
/** Expressions that evaluate without side effects and (for practical purposes) without raising. */
const PURE = new Set([
  'identifier', 'attribute', 'string', 'concatenated_string', 'string_start', 'string_content', 'string_end',
  'escape_sequence', 'integer', 'float', 'true', 'false', 'none', 'ellipsis', 'keyword_argument', 'tuple', 'list',
  'set', 'dictionary', 'pair', 'parenthesized_expression', 'expression_list', 'comment',
]);
/** Parents through which the factory call is evaluated unconditionally, once, when the statement runs. */
const PASS_THROUGH = new Set([
  'attribute', 'call', 'argument_list', 'keyword_argument', 'parenthesized_expression', 'expression_list', 'tuple',
  'list', 'set', 'dictionary', 'pair', 'binary_operator', 'comparison_operator', 'unary_operator', 'not_operator',
  'subscript', 'await', 'string', 'interpolation', 'concatenated_string', 'assignment', 'augmented_assignment',
]);
const COMPREHENSIONS = new Set(['list_comprehension', 'set_comprehension', 'dictionary_comprehension', 'generator_expression']);

function isPure(node: Node): boolean {
  if (!PURE.has(node.type)) return false;
  if (node.type === 'string' && node.namedChildren.some((c) => c?.type === 'interpolation')) return false;
  return node.namedChildren.every((c) => !c || isPure(c));
}

type Context =
  | { kind: 'bare' }
  | { kind: 'method'; method: string; call: Node }
  | { kind: 'attribute'; attribute: string }
  | { kind: 'argument'; consumer: string; call: Node }
  | { kind: 'loop' }
  | { kind: 'comprehension'; first: boolean };

/** The first `for … in` clause of a comprehension: its iterable is evaluated once, outside it. */
function isFirstClause(clause: Node): boolean {
  const comp = clause.parent;
  return !!comp && comp.namedChildren.find((c) => c?.type === 'for_in_clause')?.equals(clause) === true;
}

/** The consumer a call stands for: a dotted name, or `str.join` for `"sep".join(...)`. */
function consumerOf(call: Node, context: RuleContext): string | undefined {
  const fn = call.childForFieldName('function');
  if (!fn) return undefined;
  if (fn.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'join') {
    const object = fn.childForFieldName('object');
    if (object?.type === 'string' || object?.type === 'concatenated_string') return 'str.join';
  }
  const name = context.qualifiedName(fn);
  return name && CONSUMERS.has(name) ? name : undefined;
}

/** How the unbound factory call is used, or undefined when it is bound, handed over, released or unknown. */
function usage(call: Node, factory: FactoryInfo, context: RuleContext): Context | undefined {
  const parent = call.parent;
  if (!parent) return undefined;
  // Under `mock.patch` the factory is usually the mock (also from a function defined in the block).
  const probe = probeContext(call);
  if (probe.mock) return undefined;
  // `smtplib.SMTP()` without a host holds nothing until `.connect(…)`, an HTTPConnection until a request.
  const opens = opensLater(call, factory);
  if (opens && !(parent.type === 'attribute' && opens(parent.childForFieldName('attribute')?.text ?? ''))) return undefined;
  // A discarded call inside `assertRaises` or a `try` that handles the error is made to see it fail.
  // A script's last statements: the process ends right after.
  if (inMainBlock(call)) return undefined;
  if (parent.type === 'expression_statement') {
    // `subprocess.Popen(cmd)` as a statement, with no pipes: a process started to run on its own.
    if (factory.name === 'subprocess.Popen' && withoutPipes(call, context)) return undefined;
    return probe.expectsError || probe.handled ? undefined : { kind: 'bare' };
  }
  if (parent.type === 'attribute' && parent.childForFieldName('object')?.equals(call)) {
    const attribute = parent.childForFieldName('attribute')?.text ?? '';
    const holder = parent.parent;
    if (holder?.type === 'call' && holder.childForFieldName('function')?.equals(parent)) {
      // `open(p, "w").close()`, `Popen(cmd).wait()`: released at once.
      // `socket.socket().detach()` hands the descriptor over and closes the object.
      if (factory.release.includes(attribute) || attribute === 'close' || attribute === 'detach') return undefined;
      // `urlopen(u).read()`: a full read of an HTTP response reads to the end and closes it.
      if (factory.fullReadCloses && attribute === 'read' && isFullRead(holder)) return undefined;
      return { kind: 'method', method: attribute, call: holder };
    }
    return { kind: 'attribute', attribute };
  }
  const arg = parent.type === 'keyword_argument' ? parent : call;
  if (arg.parent?.type === 'argument_list') {
    const outer = arg.parent.parent!;
    const consumer = consumerOf(outer, context);
    return consumer ? { kind: 'argument', consumer, call: outer } : undefined;
  }
  if (parent.type === 'for_statement' && parent.childForFieldName('right')?.equals(call)) {
    // `for line in fileinput.input():` closes every file when the loop runs to its end.
    if (factory.iterationCloses && !loopBreaks(parent)) return undefined;
    return { kind: 'loop' };
  }
  if (parent.type === 'for_in_clause' && parent.childForFieldName('right')?.equals(call)) {
    const comp = parent.parent;
    if (!comp || !COMPREHENSIONS.has(comp.type)) return undefined;
    // A generator expression runs later: flag it only where an eager consumer exhausts it at once.
    if (comp.type === 'generator_expression') {
      const holder = comp.parent?.type === 'argument_list' ? comp.parent.parent : comp.parent;
      const consumer = holder?.type === 'call' ? consumerOf(holder, context) : undefined;
      if (!consumer || !(EAGER_ITERATION.has(consumer) || consumer === 'str.join')) return undefined;
    }
    return { kind: 'comprehension', first: isFirstClause(parent) };
  }
  return undefined;
}

function callText(call: Node): string {
  return `${call.childForFieldName('function')?.text ?? 'factory'}(…)`;
}

// ---------------------------------------------------------------------------------------------
// Fix 1: `open(p).read()` → `Path(p).read_text()`, `open(p, "w").write(s)` → `Path(p).write_text(s)`.

interface OpenArguments {
  path: Node;
  mode: string;
  keywords: Map<string, Node>;
}

/** The arguments of `open(...)` when they are a path, an optional literal mode and known keywords. */
function openArguments(call: Node): OpenArguments | undefined {
  const args = call.childForFieldName('arguments');
  if (args?.type !== 'argument_list') return undefined;
  const positional: Node[] = [];
  const keywords = new Map<string, Node>();
  for (const c of args.namedChildren) {
    if (!c || c.type === 'comment') continue;
    if (c.type === 'keyword_argument') {
      const name = c.childForFieldName('name')?.text;
      const value = c.childForFieldName('value');
      if (!name || !value || keywords.has(name)) return undefined;
      keywords.set(name, c);
    } else if (c.type === 'list_splat' || c.type === 'dictionary_splat' || keywords.size > 0) {
      return undefined;
    } else positional.push(c);
  }
  if (positional.length < 1 || positional.length > 2) return undefined;
  let modeNode: Node | undefined = positional[1];
  if (keywords.has('mode')) {
    if (modeNode) return undefined;
    modeNode = keywords.get('mode')!.childForFieldName('value')!;
    keywords.delete('mode');
  }
  let mode = 'r';
  if (modeNode) {
    const m = /^(['"])([a-z+]*)\1$/.exec(modeNode.text);
    if (modeNode.type !== 'string' || !m) return undefined;
    mode = m[2] || 'r';
  }
  for (const name of keywords.keys()) if (!['encoding', 'errors', 'newline'].includes(name)) return undefined;
  const path = positional[0];
  // `open(fd)` takes a file descriptor, and bytes paths: pathlib takes neither.
  if (path.type === 'integer' || (path.type === 'string' && /^[rR]?[bB]/.test(path.text)) || /fileno\s*\(\s*\)$|(^|[._])fd$/i.test(path.text)) return undefined;
  return { path, mode: [...mode].sort().join(''), keywords };
}

/** How the file can say `pathlib.Path` at module level, and the import to add when it cannot yet. */
function pathSpelling(context: RuleContext): { name: string; edits: OffsetEdit[] } | undefined {
  for (const stmt of context.root.namedChildren) {
    if (!stmt) continue;
    if (stmt.type === 'import_from_statement' && stmt.childForFieldName('module_name')?.text === 'pathlib') {
      for (const child of stmt.childrenForFieldName('name')) {
        if (child?.type === 'dotted_name' && child.text === 'Path') return { name: 'Path', edits: [] };
        if (child?.type === 'aliased_import' && child.childForFieldName('name')?.text === 'Path') {
          return { name: child.childForFieldName('alias')!.text, edits: [] };
        }
      }
    } else if (stmt.type === 'import_statement') {
      for (const child of stmt.childrenForFieldName('name')) {
        if (child?.type === 'dotted_name' && child.text === 'pathlib') return { name: 'pathlib.Path', edits: [] };
        if (child?.type === 'aliased_import' && child.childForFieldName('name')?.text === 'pathlib') {
          return { name: `${child.childForFieldName('alias')!.text}.Path`, edits: [] };
        }
      }
    }
  }
  // Adding `from pathlib import Path` must not shadow or be shadowed by another `Path`,
  // including one a wildcard import may bring in.
  if (context.root.descendantsOfType('wildcard_import').length > 0) return undefined;
  for (const id of context.root.descendantsOfType('identifier')) {
    if (id.text !== 'Path') continue;
    const parent = id.parent;
    if (parent?.type === 'attribute' && parent.childForFieldName('attribute')?.equals(id)) continue;
    if (parent?.type === 'keyword_argument' && parent.childForFieldName('name')?.equals(id)) continue;
    return undefined;
  }
  return { name: 'Path', edits: [addImportEdit(context.root, context.text, 'from pathlib import Path')] };
}

function atLeast(context: RuleContext, minor: number): boolean {
  const v = context.options.targetVersion;
  return v.major > 3 || (v.major === 3 && v.minor >= minor);
}

function pathFix(call: Node, use: Context, factory: FactoryInfo, context: RuleContext): Fix | undefined {
  if (use.kind !== 'method' || !OPEN_NAMES.has(factory.name) || !OPEN_NAMES.has(context.qualifiedName(call.childForFieldName('function')!) ?? '')) return undefined;
  const open = openArguments(call);
  if (!open) return undefined;
  const methodArgs = (use.call.childForFieldName('arguments')?.namedChildren ?? []).filter((c): c is Node => !!c && c.type !== 'comment');
  if (use.call.childForFieldName('arguments')?.type !== 'argument_list') return undefined;
  const binary = open.mode.includes('b');
  const textMode = open.mode.replace('t', '');
  let method: string;
  let data = '';
  if (use.method === 'read' && methodArgs.length === 0 && (textMode === 'r' || textMode === 'br')) {
    method = binary ? 'read_bytes' : 'read_text';
    // `newline` reached `read_text` only in Python 3.13.
    if (open.keywords.has('newline') && !atLeast(context, 13)) return undefined;
  } else if (use.method === 'write' && methodArgs.length === 1 && (textMode === 'w' || textMode === 'bw')) {
    const value = methodArgs[0];
    if (value.type === 'keyword_argument' || value.type === 'list_splat' || value.type === 'dictionary_splat') return undefined;
    // The data is evaluated after the file is truncated today: it must not be able to tell.
    if (value.descendantsOfType(['call', 'await', 'yield', 'named_expression', 'lambda']).length > 0) return undefined;
    method = binary ? 'write_bytes' : 'write_text';
    data = value.text;
    // `newline` reached `write_text` in Python 3.10.
    if (open.keywords.has('newline') && !atLeast(context, 10)) return undefined;
  } else return undefined;
  if (binary && open.keywords.size > 0) return undefined;
  const spelling = pathSpelling(context);
  if (!spelling) return undefined;
  const args = [data, ...[...open.keywords.values()].map((k) => k.text)].filter(Boolean).join(', ');
  return {
    title: `Use \`${spelling.name}(…).${method}()\``,
    safety: 'safe',
    edits: [{ start: use.call.startIndex, end: use.call.endIndex, text: `${spelling.name}(${open.path.text}).${method}(${args})` }, ...spelling.edits],
  };
}

// ---------------------------------------------------------------------------------------------
// Fix 2: the statement moves into `with <call> as <fresh name>:`.

const NAME_BASES: Array<[RegExp, string]> = [
  [/^(builtins\.|io\.|codecs\.|gzip\.|bz2\.|lzma\.)?open$|^os\.fdopen$|^tempfile\./, 'f'],
  [/^tarfile\./, 'tar'],
  [/^zipfile\./, 'zf'],
  [/^socket\./, 'sock'],
  [/connect$/, 'conn'],
  [/urlopen$/, 'response'],
  [/Session$/, 'session'],
  [/^selectors\./, 'selector'],
  [/^mmap\./, 'mm'],
  [/^(shelve|dbm)\./, 'db'],
  [/^wave\./, 'wav'],
  [/^PIL\./, 'image'],
  [/wrap_socket$/, 'ssock'],
];

/**
 * A name for the `with` target that nothing the statement can see uses: not in the top-level
 * statement around it (the function and any enclosing ones), not in a module-level statement
 * and not the name of a top-level def or class. Names used only inside other functions do not
 * matter, which keeps the fix the same whatever is typed elsewhere.
 */
function freshName(factory: FactoryInfo, root: Node, around: Node): string {
  const base = NAME_BASES.find(([re]) => re.test(factory.name))?.[1] ?? 'resource';
  const candidates = base === 'f' ? ['f', 'fp', 'fh'] : [base];
  for (let i = 2; candidates.length < 50; i++) candidates.push(`${base}${i}`);
  const visible = [around.text];
  for (const stmt of root.namedChildren) {
    if (!stmt || stmt.equals(around)) continue;
    const def = stmt.type === 'decorated_definition' ? stmt.childForFieldName('definition') : stmt;
    if (def?.type === 'function_definition' || def?.type === 'class_definition') visible.push(def.childForFieldName('name')?.text ?? '');
    else visible.push(stmt.text);
  }
  const seen = visible.join('\n');
  return candidates.find((c) => !new RegExp(`\\b${c}\\b`).test(seen))!;
}

/** Is `node` the first `for … in` clause's iterable (evaluated once, before the comprehension runs)? */
function firstIterable(child: Node, parent: Node): boolean {
  return parent.type === 'for_in_clause' && parent.childForFieldName('right')?.equals(child) === true && isFirstClause(parent);
}

/**
 * Can the factory call be evaluated before the statement that holds it, with everything else in
 * that statement after it? It must be evaluated exactly once, unconditionally, and nothing with a
 * side effect may be evaluated before it.
 */
function hoistable(call: Node, stmt: Node): boolean {
  let child = call;
  for (let n = call.parent; n; child = n, n = n.parent) {
    if (n.equals(stmt)) {
      if (stmt.type === 'for_statement') return stmt.childForFieldName('right')?.equals(child) === true;
      return stmt.type === 'expression_statement' || stmt.type === 'return_statement';
    }
    if (COMPREHENSIONS.has(n.type)) {
      if (child.type !== 'for_in_clause' || !isFirstClause(child)) return false;
      continue;
    }
    if (n.type === 'for_in_clause') {
      if (!firstIterable(child, n)) return false;
      continue;
    }
    if (!PASS_THROUGH.has(n.type)) return false;
    if (n.type === 'assignment') {
      if (!n.childForFieldName('right')?.equals(child)) return false;
      continue;
    }
    // Everything evaluated before it in this node must be free of side effects.
    for (const sibling of n.children) {
      if (!sibling || sibling.equals(child)) break;
      if (sibling.isNamed && !isPure(sibling)) return false;
    }
  }
  return false;
}

/** A lazy consumer (`csv.reader(open(p))`, `enumerate(...)`) must be used up within the statement. */
function consumedInStatement(use: Context): boolean {
  if (use.kind !== 'argument' || !LAZY.has(use.consumer)) return true;
  const outer = use.call;
  const parent = outer.parent;
  if (!parent) return false;
  if (parent.type === 'for_statement' && parent.childForFieldName('right')?.equals(outer)) return true;
  if (firstIterable(outer, parent)) return parent.parent?.type !== 'generator_expression';
  if (parent.type === 'attribute' && parent.parent?.type === 'call' && parent.parent.childForFieldName('function')?.equals(parent)) return true;
  if (parent.type === 'argument_list') {
    const consumer = parent.parent?.childForFieldName('function')?.text;
    return !!consumer && EAGER_ITERATION.has(consumer);
  }
  return false;
}

function withFix(call: Node, use: Context, factory: FactoryInfo, context: RuleContext): Fix | undefined {
  if (!withIsClose(factory)) return undefined;
  if (use.kind === 'attribute' || use.kind === 'bare') return undefined;
  if (use.kind === 'method' && !DATA_METHODS.has(use.method)) return undefined;
  if (use.kind === 'comprehension' && !use.first) return undefined;
  if (!consumedInStatement(use)) return undefined;
  const { text, root } = context;
  const stmt = statementOf(call);
  if (!stmt.parent || (stmt.parent.type !== 'block' && stmt.parent.type !== 'module')) return undefined;
  const scope = enclosingScope(stmt);
  if (!scope || scope.type === 'class_definition') return undefined;
  let keyword = 'with';
  if (factory.asyncOnly) {
    if (!(scope.type === 'function_definition' && isAsync(scope))) return undefined;
    keyword = 'async with';
  }
  if (!startsLine(text, stmt.startIndex) || !endsLine(text, stmt.endIndex)) return undefined;
  if (!hoistable(call, stmt)) return undefined;
  const lineOfCall = lineStartOf(text, call.startIndex);
  // The line the call starts on is re-indented: it must not begin inside a multi-line string.
  for (let n: Node | null = root.descendantForIndex(lineOfCall); n; n = n.parent) {
    if ((n.type === 'string' || n.type === 'concatenated_string') && n.startIndex < lineOfCall) return undefined;
  }
  const name = freshName(factory, root, root.firstNamedChildForIndex(stmt.startIndex) ?? root);
  const managed = managedExpression(call, factory, context);
  const nl = lineBreakOf(text);
  const indent = indentOfLine(text, stmt.startIndex);
  const unit = unitOf(context);
  const regionStart = lineStartOf(text, stmt.startIndex);
  const regionEnd = nextLineStart(text, stmt.endIndex);
  const afterCall = Math.min(nextLineStart(text, call.endIndex), regionEnd);
  let body =
    indentLines(context, regionStart, lineOfCall, unit) +
    unit + text.slice(lineOfCall, call.startIndex) + name + text.slice(call.endIndex, afterCall) +
    indentLines(context, afterCall, regionEnd, unit);
  if (!body.endsWith('\n')) body += nl;
  return {
    title: `Open it in \`${keyword} … as ${name}\``,
    safety: 'safe',
    edits: [{ start: regionStart, end: regionEnd, text: `${indent}${keyword} ${managed.text} as ${name}:${nl}${body}` }, ...managed.edits],
  };
}

/** A discarded call: release it at once, as CPython's reference counting already does. */
function bareFix(call: Node, factory: FactoryInfo): Fix | undefined {
  const release = factory.name === 'tempfile.TemporaryDirectory' ? 'cleanup' : factory.release.includes('close') && !factory.pool && !factory.asyncOnly ? 'close' : undefined;
  if (!release) return undefined;
  return { title: `Call \`.${release}()\` on it`, safety: 'safe', edits: [{ start: call.endIndex, end: call.endIndex, text: `.${release}()` }] };
}

function message(call: Node, use: Context, fixes: Fix[]): string {
  const what = `\`${callText(call)}\``;
  const tail = 'closed only when reference counting drops it (never promptly on PyPy; a ResourceWarning under `python -X dev`)';
  if (use.kind === 'bare') return `${what} result is discarded without being released; it is ${tail}`;
  const hint = fixes[0]?.title.startsWith('Use `') ? fixes[0].title.slice(4).replace(/^`|`$/g, '`') : '`with`';
  return `${what} result is used without being bound, so nothing closes it: it is ${tail}; use ${hint}`;
}

/** The places an unbound factory call can stand: a statement, an argument, a receiver, an iterable. */
function inCandidateContext(call: Node): boolean {
  const parent = call.parent;
  if (!parent) return false;
  const is = (field: string) => parent.childForFieldName(field)?.equals(call) ?? false;
  switch (parent.type) {
    case 'expression_statement':
    case 'argument_list':
      return true;
    case 'attribute':
      return is('object');
    case 'keyword_argument':
      return is('value');
    case 'for_statement':
    case 'for_in_clause':
      return is('right');
    default:
      return false;
  }
}

/** `concurrent.futures` executors: their worker threads or processes go once the executor is collected. */
const EXECUTORS = new Set(['concurrent.futures.ThreadPoolExecutor', 'concurrent.futures.ProcessPoolExecutor']);

export const rule: Rule = {
  code: 'LL103',
  name: 'unbound-resource',
  category: 'resources',
  defaultSeverity: 'warning',
  locality: 'function',
  // No pattern of its own: the candidates are the calls of factory names, found from the text
  // (`factoryCallCandidates`); matching every call of a file was most of this rule's cost.
  // `(module) @module` is LL303's pattern too, so it costs the engine nothing.
  query: '(module) @module',
  // Text pre-filter only (no factory call in the text: nothing to report); see resources.ts.
  mayApply: mayCallFactory,
  check(context: RuleContext) {
    const seen = new Set<string>();
    for (const call of factoryCallCandidates(context)) {
      if (!inCandidateContext(call)) continue;
      const key = `${call.startIndex}:${call.endIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const factory = factoryOf(call, context);
      if (!factory || shadowedFactory(call, context)) continue;
      const use = usage(call, factory, context);
      if (!use) continue;
      const fixes: Fix[] = [];
      const fix = use.kind === 'bare' ? bareFix(call, factory) : (pathFix(call, use, factory, context) ?? withFix(call, use, factory, context));
      if (fix) fixes.push(fix);
      // `ThreadPoolExecutor().submit(f)`: a dropped executor's workers hold it only weakly and
      // exit once the work is done and it is collected — a late join, not a lasting leak.
      const droppedExecutor = EXECUTORS.has(factory.name) && use.kind === 'method';
      const text = message(call, use, fixes) + (droppedExecutor ? ' (low confidence: a dropped executor\'s workers exit once its work is done)' : '');
      context.report({ node: call, message: text, fixes, ...(droppedExecutor ? { confidence: 'low' as const } : {}) });
    }
  },
  docs: {
    summary: 'A file, socket or connection used straight from its factory call, never bound, so nothing closes it.',
    whatItDoes:
      'Flags a resource-factory call whose result is used without being bound to a name: a method or attribute on it (`open(p).read()`, `urlopen(u).read()`), an argument to a known reader or writer that does not keep it (`json.load(open(p))`, `print(…, file=open(p, "a"))`, `csv.reader(open(p))`, `list(open(p))`), the iterable of a `for` loop or a comprehension (`for line in open(p):`, `[l for l in open(p)]`), or a bare call statement whose result is thrown away (except `subprocess.Popen(…)` with no pipes, a process started to run on its own). It does not flag module-level code under `if __name__ == "__main__":` outside loops (the process ends right after), objects that hold no OS resource (archives or images over an in-memory stream or a given file object, anonymous `mmap`, in-memory SQLite, `data:` URLs), `with open(p) as f`, an immediate release on the call (`open(p, "w").close()`, `Popen(cmd).wait()`), a call that is returned or yielded (the caller owns it), stored, or passed to a function that may take ownership of it, a call of the file\'s own function or `self` method that records what it makes on the object before returning it (`self._pool.append(conn); return conn`: the object still holds it), a full `read()` of an `urlopen(…)` response (an HTTP response read to its end closes its connection; `read(n)`, `readline()`, iteration and attribute reads do not), or a `for` loop over `fileinput.input(…)` that runs to its end (FileInput closes its files then). Confidence: an unbound `concurrent.futures` executor used for one call (`ThreadPoolExecutor().submit(f)`) is of low confidence (reported only with `all-findings`): its workers hold it only weakly and exit once the work is done and it is collected; every other finding is confident.',
    whyLeak:
      'Nothing refers to the object after the expression, so it is closed only when the interpreter frees it. CPython happens to do that at once through reference counting, unless a traceback, a debugger or a cycle still holds it; PyPy, GraalPy and other implementations close it only at some later garbage collection, so a loop that reads many files this way runs out of file descriptors there. Data written this way may stay in the buffer until then, and `python -X dev` reports every such object as a `ResourceWarning`.',
    example: 'import json\n\n\ndef load(path):\n    return json.load(open(path))\n',
    useInstead: 'import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n',
    fixSafety:
      'The fixes are safe. `open(p).read()` becomes `Path(p).read_text()` (`read_bytes()` in binary modes) and `open(p, "w").write(s)` becomes `Path(p).write_text(s)` (`write_bytes`), keeping `encoding`, `errors` and `newline`, only when the translation is exact: a literal mode, no other arguments, `newline` only where the target version accepts it (3.13 for `read_text`, 3.10 for `write_text`), and written data that cannot observe the order of evaluation; `from pathlib import Path` is added when the module has no `pathlib.Path` name yet. Otherwise the statement moves into `with <call> as <fresh name>:` (`async with` where required, `closing(...)` for connections whose own `with` only ends a transaction), when the call is evaluated exactly once and first in its statement and nothing keeps the object past the statement; a discarded call gets `.close()`. No fix is offered for processes, pools, executors, `TemporaryDirectory` attributes and objects whose `with` does more than close.',
    options: '`resource-factories`: extra dotted names (for example `mylib.connect`) treated as resources. `target-version`: decides whether `newline` can move to `read_text`/`write_text`.',
    references: [
      'https://docs.python.org/3/library/pathlib.html#pathlib.Path.read_text',
      'https://docs.python.org/3/library/pathlib.html#pathlib.Path.write_text',
      'https://docs.python.org/3/reference/compound_stmts.html#the-with-statement',
      'https://docs.python.org/3/library/devmode.html#resourcewarning-example',
    ],
  },
};
