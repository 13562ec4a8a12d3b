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
    // `count // 10 * 2`: an operand that is itself arithmetic that does not raise.
    if ((c.type === 'binary_operator' || c.type === 'unary_operator') && !operatorRaises(c)) continue;
    if (!SIMPLE_OPERANDS.has(c.type)) return false;
    if (c.type === 'parenthesized_expression' && !operandsSimple(c)) return false;
    if (c.type === 'string' && c.namedChildren.some((p) => p?.type === 'interpolation')) return false;
  }
  return true;
}

const LITERAL_ITEMS = new Set(['string', 'integer', 'float', 'true', 'false', 'none']);

/** `x in ["a", "b"]` / `x not in ("a", 1)`: a plain name (or attribute read) tested against a list, tuple or set of literals. */
function literalDisplayMembership(node: Node): boolean {
  if (node.type !== 'comparison_operator' || node.namedChildCount !== 2) return false;
  const left = node.namedChild(0)!;
  const right = node.namedChild(1)!;
  if (!(left.type === 'identifier' || (left.type === 'attribute' && plainAttributeRead(left)))) return false;
  if (right.type !== 'list' && right.type !== 'tuple' && right.type !== 'set') return false;
  return right.namedChildren.every((c) => !c || c.type === 'comment' || (LITERAL_ITEMS.has(c.type) && !(c.type === 'string' && c.namedChildren.some((p) => p?.type === 'interpolation'))));
}

function isStringNode(node: Node | null | undefined): boolean {
  return node?.type === 'string' || node?.type === 'concatenated_string';
}

/** A number literal other than zero (`10`, `0.5`, `1e3`; not `0`, `0.0`, `0x0`). */
function nonZeroNumber(node: Node | null | undefined): boolean {
  if (node?.type !== 'integer' && node?.type !== 'float') return false;
  const text = node.text.replace(/_/g, '').toLowerCase().replace(/j$/, '');
  const value = /^0[box]/.test(text) ? Number(text) : Number.parseFloat(text);
  return Number.isFinite(value) && value !== 0;
}

const DIVISIONS = new Set(['/', '//', '%', '/=', '//=', '%=']);

function operatorRaises(node: Node): boolean {
  if (literalDisplayMembership(node)) return false;
  const simple = operandsSimple(node);
  for (const c of node.children) {
    if (!c || c.isNamed || !RAISING_OPERATORS.has(c.type)) continue;
    // `size // 10`, `n % 7`: dividing a number by a literal other than zero does not fail (`%` of
    // a string literal formats, which can).
    if (DIVISIONS.has(c.type) && nonZeroNumber(node.childForFieldName('right')) && !isStringNode(node.childForFieldName('left'))) continue;
    // `"b" in mode` of a literal in a name: a membership test of ordinary values does not fail.
    if ((c.type === 'in' || c.type === 'not in') && simple && node.namedChildren.some((o) => o?.type === 'string')) continue;
    // `name in ["zip", "tar"]`: compared with each literal of the display, which does not fail.
    if ((c.type === 'in' || c.type === 'not in') && literalDisplayMembership(node)) continue;
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
  return raisingNodes(node, skip, transparent, true)[0];
}

/** Every node inside `node` that may raise (as `firstRaising` finds them), in evaluation order; a raising node's children are looked at too. */
export function allRaising(node: Node, skip: (n: Node) => boolean = () => false, transparent: (n: Node) => boolean = () => false): Node[] {
  return raisingNodes(node, skip, transparent, false);
}

function raisingNodes(node: Node, skip: (n: Node) => boolean, transparent: (n: Node) => boolean, firstOnly: boolean): Node[] {
  const out: Node[] = [];
  const visit = (n: Node): Node | undefined => {
    if (skip(n)) return undefined;
    if (n.type === 'call' && isRegistration(n)) return undefined;
    const through = transparent(n);
    if (!through && nodeMayRaise(n)) {
      out.push(n);
      if (firstOnly) return n;
    }
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
  visit(node);
  return out;
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

/**
 * What `rarelyRaises` needs to know of the file: whether an expression is the resource just made
 * (the subject), a dotted name's qualified name, and whether a call makes another resource.
 */
export interface RaiseContext {
  isSubject(expr: Node): boolean;
  qualifiedName(node: Node): string | undefined;
  opensResource(call: Node): boolean;
  /** A local the code bound only to a list, set or dict display (`ports = []`). */
  isPlainContainer(expr: Node): boolean;
  /** The def of this file a call runs (`helper(x)`, `self._reset()`), when the model knows it. */
  calleeDefinition?(call: Node): Node | undefined;
  /** Is the dotted callee a function of an imported module (`zlib.decompressobj`), not a method of a value? */
  moduleFunction?(callee: Node): boolean;
  /** Calls taken as not raising at all where the caller looks (`print`, logging): passed over in a callee's body too. */
  transparent?(n: Node): boolean;
  /** The analysis's memo (`SemanticModel.memo`): the summaries of callees live there. */
  memo?<T>(key: string, compute: () => T): T;
  /** How the subject was opened, when it is a file opened from a name or a descriptor (`open(p, "wb")`). */
  openedFile?(): OpenedFile | undefined;
  /**
   * The subject's `write(…)` calls between its allocation and `call`, in text order; undefined
   * when anything else uses the subject there, or a loop may repeat them.
   */
  writesBefore?(call: Node): Node[] | undefined;
  /** The values a local is given, when every binding of it is a plain assignment (`v = …`). */
  assignedValues?(id: Node): Node[] | undefined;
}

/** What the allocation of a file says of it: writable, text or binary, its buffer (0: unbuffered). */
export interface OpenedFile {
  writable: boolean;
  text: boolean;
  /** The buffer size the call asks for: -1 for the default, 0 for none, 1 for line buffering. */
  buffering: number;
}

/**
 * The most a run of first writes may put into a fresh buffered file and still be taken as only
 * filling its buffer. `io.open` sizes the buffer from the file system's block size (`st_blksize`)
 * when it reports one and from `io.DEFAULT_BUFFER_SIZE` (8 KiB) otherwise, and `BufferedWriter.write`
 * calls the system only once the buffer holds more than that; 512 bytes is below any disk's block.
 */
const SMALL_WRITE_LIMIT = 512;

/** Growing a list, set or dict the code made itself. */
const CONTAINER_METHODS = new Set(['append', 'add', 'extend', 'insert', 'update', 'setdefault']);

/** Getters that read a descriptor's own state. */
const INSPECTION_METHODS = new Set(['fileno', 'getsockname', 'getpeername', 'gettimeout', 'getblocking', 'tell']);
/** Calls on a descriptor the process holds: they fail only for a closed or foreign descriptor. */
const DESCRIPTOR_CALLS = new Set(['os.close', 'os.fstat', 'os.fchmod', 'os.set_inheritable', 'os.get_inheritable', 'os.set_blocking', 'os.get_blocking', 'fcntl.fcntl']);
/** Addresses of this machine: binding or connecting there does not meet the network. */
/**
 * Set-up methods of a file or socket, and writes: with constant arguments they fail only when the
 * machine does (a full disk, no descriptors left). Reads are not among them: reading parses what
 * is there (text decoding, a compressed or archive format), and that fails on bad data. Signals to
 * a child the process started itself (`p.terminate()`, `p.send_signal(signal.SIGINT)`): sending
 * one to a child that has already exited is skipped or ignored, so they do not fail either.
 */
const SETUP_METHODS = new Set([
  'write', 'writelines', 'writestr', 'seek', 'truncate', 'flush',
  'bind', 'connect', 'connect_ex', 'listen', 'accept', 'setsockopt', 'getsockopt', 'setblocking', 'settimeout', 'shutdown', 'set_inheritable',
  'terminate', 'send_signal',
]);
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '']);
const CONSTANT_TYPES = new Set(['string', 'concatenated_string', 'integer', 'float', 'true', 'false', 'none']);

/** Arithmetic that does not fail on numbers (no division, modulo or matrix product). */
const CONSTANT_ARITHMETIC = new Set(['+', '-', '*', '**', '|', '&', '^', '<<', '>>']);

function constantValue(n: Node): boolean {
  if (n.type === 'string') return !n.namedChildren.some((c) => c?.type === 'interpolation');
  // `32 + zlib.MAX_WBITS`, `2 ** 16`: arithmetic of constants is a constant.
  if (n.type === 'binary_operator') {
    const op = n.childForFieldName('operator')?.text ?? '';
    const left = n.childForFieldName('left');
    const right = n.childForFieldName('right');
    return CONSTANT_ARITHMETIC.has(op) && !!left && !!right && constantValue(left) && constantValue(right);
  }
  if (n.type === 'concatenated_string') return n.namedChildren.every((c) => !c || constantValue(c));
  if (CONSTANT_TYPES.has(n.type)) return true;
  if (n.type === 'unary_operator') return !!n.childForFieldName('argument') && constantValue(n.childForFieldName('argument')!);
  // `socket.SOL_SOCKET`, `subprocess.PIPE`, `VERSION`: a constant, named in capitals by convention.
  if (n.type === 'identifier') return /^[A-Z][A-Z0-9_]*$/.test(n.text);
  if (n.type === 'attribute') return plainAttributeRead(n) && /^[A-Z][A-Z0-9_]*$/.test(n.childForFieldName('attribute')?.text ?? '');
  if (n.type === 'parenthesized_expression' || n.type === 'tuple') return n.namedChildren.every((c) => !c || c.type === 'comment' || constantValue(c));
  if (n.type === 'keyword_argument') return !!n.childForFieldName('value') && constantValue(n.childForFieldName('value')!);
  return false;
}

/** `("127.0.0.1", port)`: a loopback address, whatever the port. */
function loopbackAddress(n: Node): boolean {
  if (n.type !== 'tuple') return false;
  const host = n.namedChildren.find((c) => !!c && c.type !== 'comment');
  if (host?.type !== 'string' || host.namedChildren.some((c) => c?.type === 'interpolation')) return false;
  return LOOPBACK.has(host.namedChildren.filter((c) => c?.type === 'string_content').map((c) => c!.text).join(''));
}

/** A call's arguments, comments left out. */
export function callArguments(call: Node): Node[] {
  return (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
}

/**
 * Of a node that may raise (`nodeMayRaise`), is it one that practically does not — so that a
 * finding resting only on such nodes is a theoretical one? Deliberately short, each from the blind
 * triage ("can raise in theory, not in practice"):
 * - a set-up method or a write of the subject resource called with constant arguments
 *   (`s.listen(1)`, `s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)`, `f.write(b"x")`, `f.seek(0)`),
 *   `bind`/`connect` to a loopback address on any socket (`s.bind(("127.0.0.1", 0))`) — not reads, which parse
 *   data, nor `recv`/`send` with a peer — and the getters of a descriptor's own state (`x.fileno()`, `x.getsockname()`),
 *   with a constant index into their result;
 * - a call on a descriptor the process holds (`os.close(fd)`, `os.fstat(f.fileno())`);
 * - another resource made right after the first (`open(b)` after `open(a)` succeeded);
 * - joining with a literal separator (`b" ".join(parts)`), and a call of a plain function name
 *   whose every argument is a constant (`b("")`: it fails every time or never — a bug seen at
 *   once, not an exceptional path), unless it meets the system (`subprocess`, `os`, …);
 * - a comprehension over a plain name (iterating a list the code built), and growing a list,
 *   set or dict the code made itself (`ports.append(x)` after `ports = []`).
 * The callee attribute of such a call is part of it, and so is a field read of its result.
 */
export function rarelyRaises(n: Node, ctx: RaiseContext): boolean {
  if (n.type === 'attribute') {
    // `self.sock` in `self.sock.listen(1)`: the callee's chain is part of the call.
    let outer = n;
    while (outer.parent?.type === 'attribute' && outer.parent.childForFieldName('object')?.equals(outer)) outer = outer.parent;
    const call = outer.parent;
    if (call?.type === 'call' && call.childForFieldName('function')?.equals(outer)) return rarelyRaises(call, ctx);
    // `os.fstat(fd).st_size`: a field of what such a call gives.
    const object = n.childForFieldName('object');
    return object?.type === 'call' && rarelyRaises(object, ctx);
  }
  if (n.type === 'subscript') {
    const value = n.childForFieldName('value');
    const index = n.childForFieldName('subscript');
    return value?.type === 'call' && index?.type === 'integer' && inspectionCall(value);
  }
  if (n.type === 'for_in_clause') {
    const right = n.childForFieldName('right');
    return right?.type === 'identifier' || (right?.type === 'attribute' && plainAttributeRead(right));
  }
  if (n.type !== 'call') return false;
  const fn = n.childForFieldName('function');
  if (!fn) return false;
  const args = callArguments(n);
  if (inspectionCall(n)) return true;
  if (fn.type === 'attribute') {
    const object = fn.childForFieldName('object');
    const method = fn.childForFieldName('attribute')?.text ?? '';
    // Binding or connecting to this machine's own address, whatever the socket.
    if ((method === 'bind' || method === 'connect' || method === 'connect_ex') && args.length === 1 && loopbackAddress(args[0])) return true;
    if (method === 'write' && object && ctx.isSubject(object) && bufferedConstantWrite(n, ctx)) return true;
    if (object && ctx.isSubject(object) && SETUP_METHODS.has(method)) {
      // Connecting meets the network unless the address is this machine's.
      if (method === 'connect' || method === 'connect_ex' || method === 'bind') {
        if (args.length === 1 && (loopbackAddress(args[0]) || (method === 'bind' && constantValue(args[0])))) return true;
      } else if (args.every(constantValue)) return true;
    }
    if (object && CONTAINER_METHODS.has(method) && ctx.isPlainContainer(object)) return true;
    if (method === 'join' && object && (object.type === 'string' || object.type === 'concatenated_string') && constantValue(object)) return true;
  }
  const q = ctx.qualifiedName(fn);
  if (q && DESCRIPTOR_CALLS.has(q)) return true;
  if (ctx.opensResource(n)) return true;
  if (quietCallee(n, ctx)) return true;
  // Constants given to code that meets the system (a command, the file system, the network) still
  // meet what is there.
  if (q && SYSTEM_MODULES.some((m) => q.startsWith(m))) return false;
  // A function (by its name, or through its module: `zlib.decompressobj(47)`) given only constants
  // fails every time or never.
  return args.length > 0 && args.every(constantValue) && (fn.type === 'identifier' || (fn.type === 'attribute' && !!ctx.moduleFunction?.(fn)));
}

/**
 * Does a call of a function of this file rarely raise because its body does only what rarely
 * raises (`rarelyRaises`, with no resource of the caller's in view): attribute stores of literals
 * and names, constructions with constant arguments, calls of other such functions? A summary per
 * def, memoised in the analysis: a def reached again while its own summary is being worked out
 * (recursion) is taken as raising, which is the least fixed point — a cycle of calls is never
 * rare (it can exhaust the stack), nor is anything that depends on one. Generators, coroutines
 * and decorated defs are left out (a call does not run the body as written).
 */
function quietCallee(call: Node, ctx: RaiseContext): boolean {
  const def = ctx.calleeDefinition?.(call);
  if (!def || !ctx.memo || def.type !== 'function_definition') return false;
  const known = ctx.memo('raising:quiet-functions', () => new Map<number, boolean>());
  const cached = known.get(def.id);
  if (cached !== undefined) return cached;
  known.set(def.id, false);
  const result = quietBody(def, ctx);
  known.set(def.id, result);
  return result;
}

function quietBody(def: Node, ctx: RaiseContext): boolean {
  if (def.parent?.type === 'decorated_definition') return false;
  if (def.children.some((c) => c?.type === 'async')) return false;
  const body = def.childForFieldName('body');
  if (!body) return false;
  // A generator's body runs when it is iterated, not at the call.
  if (firstRaising(body, (n) => n.type === 'lambda', (n) => n.type !== 'yield')) return false;
  const inner: RaiseContext = { ...ctx, isSubject: () => false, opensResource: () => false };
  const transparent = ctx.transparent ?? (() => false);
  return allRaising(body, undefined, transparent).every((n) => rarelyRaises(n, inner));
}

const SYSTEM_MODULES = [
  'subprocess.', 'os.', 'shutil.', 'socket.', 'ssl.', 'urllib.', 'http.', 'requests.', 'ftplib.', 'smtplib.', 'sqlite3.', 'glob.', 'pathlib.', 'tempfile.', 'multiprocessing.', 'asyncio.',
  // Modules whose functions open the file or module they are named (`zipfile.ZipFile("a.zip")`, `importlib.import_module("x")`).
  'builtins.', 'io.', 'codecs.', 'gzip.', 'bz2.', 'lzma.', 'zipfile.', 'tarfile.', 'shelve.', 'dbm.', 'fileinput.', 'mmap.', 'importlib.', 'ctypes.',
];


function inspectionCall(call: Node): boolean {
  const fn = call.childForFieldName('function');
  return fn?.type === 'attribute' && INSPECTION_METHODS.has(fn.childForFieldName('attribute')?.text ?? '') && callArguments(call).length === 0;
}

/**
 * `f.write(b"…")` / `f.write(struct.pack("!B", 1))` as one of the first writes to a buffered file
 * opened just before (not `buffering=0`, not line-buffered), the writes so far together a few
 * constant bytes: `BufferedWriter.write` only appends to its buffer until it holds more than the
 * buffer size, and `TextIOWrapper.write` of ASCII text likewise only encodes and buffers it, so
 * such a write does not reach the system and cannot fail on it. (A path naming a terminal is
 * opened line-buffered, `isatty()`, which the file does not show; that is taken as not the case.)
 */
function bufferedConstantWrite(call: Node, ctx: RaiseContext): boolean {
  const file = ctx.openedFile?.();
  if (!file || !file.writable || file.buffering === 0 || file.buffering === 1) return false;
  const before = ctx.writesBefore?.(call);
  if (!before) return false;
  let total = 0;
  for (const w of [...before, call]) {
    const args = callArguments(w);
    if (args.length !== 1 || args[0].type === 'keyword_argument') return false;
    const size = constantBytes(args[0], file.text, ctx, 0);
    if (size === undefined) return false;
    total += size;
  }
  const limit = file.buffering > 1 ? Math.min(file.buffering, SMALL_WRITE_LIMIT) : SMALL_WRITE_LIMIT;
  return total <= limit;
}

/** At most how many bytes a constant written to a file of that kind puts in its buffer; undefined when it is not such a constant. */
function constantBytes(n: Node, text: boolean, ctx: RaiseContext, depth: number): number | undefined {
  if (n.type === 'parenthesized_expression' && n.namedChild(0)) return constantBytes(n.namedChild(0)!, text, ctx, depth);
  if (n.type === 'string') {
    if (n.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
    const prefix = (n.namedChildren.find((c) => c?.type === 'string_start')?.text ?? n.text).replace(/['"].*$/s, '').toLowerCase();
    // Bytes go to a binary file, text to a text file (the other way round is a TypeError every time).
    if (prefix.includes('b') === text) return undefined;
    const content = n.namedChildren.filter((c) => c?.type === 'string_content' || c?.type === 'escape_sequence').map((c) => c!.text).join('');
    // Text: ASCII only, which every encoding writes; a newline may become two characters.
    if (text && /[^\x00-\x7f]/.test(content)) return undefined;
    return text ? content.length * 2 : content.length;
  }
  if (n.type === 'concatenated_string') {
    let total = 0;
    for (const part of n.namedChildren) {
      if (!part || part.type === 'comment') continue;
      const size = constantBytes(part, text, ctx, depth);
      if (size === undefined) return undefined;
      total += size;
    }
    return total;
  }
  if (n.type === 'call' && !text) {
    const fn = n.childForFieldName('function');
    if (!fn || ctx.qualifiedName(fn) !== 'struct.pack') return undefined;
    const [format, ...values] = callArguments(n);
    if (!format || format.type !== 'string' || !values.every(constantValue)) return undefined;
    const content = format.namedChildren.filter((c) => c?.type === 'string_content').map((c) => c!.text).join('');
    return structSizeBound(content);
  }
  if (n.type === 'identifier' && depth < 3) {
    const values = ctx.assignedValues?.(n);
    if (!values || values.length === 0) return undefined;
    let most = 0;
    for (const v of values) {
      const size = constantBytes(v, text, ctx, depth + 1);
      if (size === undefined) return undefined;
      most = Math.max(most, size);
    }
    return most;
  }
  return undefined;
}

/** Bytes per item of a `struct` format character, at most (native sizes and alignment included). */
const STRUCT_ITEM_BYTES: Record<string, number> = {
  x: 1, c: 1, b: 1, B: 1, '?': 1, h: 2, H: 2, e: 2, i: 4, I: 4, f: 4, l: 8, L: 8, q: 8, Q: 8, d: 8, n: 8, N: 8, P: 8,
};

/** At most how many bytes `struct.pack(format, …)` gives (`struct.calcsize`, bounded from above); undefined for a format it does not know. */
function structSizeBound(format: string): number | undefined {
  let at = 0;
  if ('@=<>!'.includes(format[0] ?? '')) at = 1;
  let total = 0;
  while (at < format.length) {
    const c = format[at];
    if (/\s/.test(c)) {
      at++;
      continue;
    }
    let count = '';
    while (at < format.length && /[0-9]/.test(format[at])) count += format[at++];
    const kind = format[at++];
    if (kind === undefined) return undefined;
    const n = count === '' ? 1 : Number(count);
    if (kind === 's' || kind === 'p') total += n + 8;
    else if (STRUCT_ITEM_BYTES[kind] !== undefined) total += n * (STRUCT_ITEM_BYTES[kind] + 8);
    else return undefined;
  }
  return total;
}
