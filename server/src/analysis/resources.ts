// The resource-factory catalogue shared by the resource rules (LL101…LL104): which calls
// return something that must be released, and how each kind is released.
import type { Node } from 'web-tree-sitter';
import type { AnalysisOptions, RuleContext } from './types';

export interface FactoryInfo {
  name: string;
  /** Methods that release the resource. */
  release: readonly string[];
  /** Executors and pools: a module- or class-level one is meant to live for the process. */
  pool?: boolean;
  /** Only usable with `async with`. */
  asyncOnly?: boolean;
  /** Its `with` block does not release it (sqlite3 and psycopg2 connections only end a transaction). */
  withKeepsOpen?: boolean;
  /** Iterating it to the end closes it (fileinput). */
  iterationCloses?: boolean;
  /** A full `read()` closes it (HTTP responses). */
  fullReadCloses?: boolean;
  /** Why the catalogue lists it. */
  reason?: string;
}

const CLOSE = ['close'];

/**
 * A group of catalogue entries and why each is there: the factories the resource rules follow.
 * Every entry names what a call returns that holds an operating-system resource (a descriptor,
 * a socket, a process, a temporary file or folder, worker threads) until it is released.
 */
type CatalogueGroup = Omit<FactoryInfo, 'name' | 'reason'> & { reason: string; names: readonly string[] };

const GROUPS: CatalogueGroup[] = [
  {
    reason: 'Open a file descriptor and return a file object that keeps it until close().',
    names: [
      'open', 'builtins.open', 'io.open', '_io.open', 'io.open_code', 'codecs.open', 'tokenize.open', 'os.fdopen',
      'tempfile.TemporaryFile', 'tempfile.NamedTemporaryFile', 'tempfile.SpooledTemporaryFile',
    ],
    release: CLOSE,
  },
  {
    reason: 'Compressed and archive files: they open the named file themselves and close it in close().',
    names: [
      'gzip.open', 'bz2.open', 'lzma.open', 'gzip.GzipFile', 'bz2.BZ2File', 'lzma.LZMAFile',
      'tarfile.open', 'tarfile.TarFile', 'tarfile.TarFile.open', 'tarfile.TarFile.taropen', 'tarfile.TarFile.gzopen',
      'tarfile.TarFile.bz2open', 'tarfile.TarFile.xzopen', 'zipfile.ZipFile', 'zipfile.PyZipFile',
    ],
    release: CLOSE,
  },
  {
    reason: 'Databases and media files kept open on a descriptor (or a mapping) until close(). (dbm.dumb is not listed: it opens its files for each operation and keeps none open.)',
    names: ['shelve.open', 'dbm.open', 'dbm.gnu.open', 'dbm.ndbm.open', 'wave.open', 'mmap.mmap', 'PIL.Image.open'],
    release: CLOSE,
  },
  {
    reason: 'Network clients holding a socket (a connection pool for requests) until close().',
    names: ['http.client.HTTPConnection', 'http.client.HTTPSConnection', 'requests.Session', 'requests.session', 'psycopg.connect', 'pymysql.connect'],
    release: CLOSE,
  },
  {
    reason: 'A selector holds an epoll/kqueue descriptor until close().',
    names: ['selectors.DefaultSelector'],
    release: CLOSE,
  },
  {
    reason: 'An HTTP response holds its socket; a full read() reads to the end and closes the connection (http.client.HTTPResponse._close_conn), partial reads, readline() and iteration do not.',
    names: ['urllib.request.urlopen'],
    release: CLOSE,
    fullReadCloses: true,
  },
  {
    reason: 'FileInput opens each file in turn and closes the last one when iteration reaches the end; stopping early or reading by readline() leaves one open.',
    names: ['fileinput.input', 'fileinput.FileInput'],
    release: CLOSE,
    iterationCloses: true,
  },
  {
    reason: 'Sockets: detach() hands the descriptor over, so the socket object no longer owns anything.',
    names: ['socket.socket', 'socket.create_connection', 'socket.create_server'],
    release: ['close', 'detach'],
  },
  { reason: "FTP and SMTP hold a control connection; quit() sends QUIT and closes it.", names: ['ftplib.FTP', 'smtplib.SMTP'], release: ['close', 'quit'] },
  { reason: "IMAP4's close() only closes the selected mailbox; logout() or shutdown() closes the connection.", names: ['imaplib.IMAP4'], release: ['logout', 'shutdown'] },
  {
    reason: "Connections whose own `with` block only ends a transaction and leaves the connection open.",
    names: ['sqlite3.connect', 'psycopg2.connect'],
    release: CLOSE,
    withKeepsOpen: true,
  },
  { reason: 'A child process stays a zombie (with its pipes open) until it is waited for.', names: ['subprocess.Popen'], release: ['wait', 'communicate', 'kill'] },
  { reason: 'A temporary folder stays on disk until cleanup().', names: ['tempfile.TemporaryDirectory'], release: ['cleanup'] },
  {
    reason: 'Executors keep worker threads or processes until shutdown(); a module- or class-level one is meant to live for the process.',
    names: ['concurrent.futures.ThreadPoolExecutor', 'concurrent.futures.ProcessPoolExecutor'],
    release: ['shutdown'],
    pool: true,
  },
  {
    reason: 'Process and thread pools keep their workers until terminate() or close() and join().',
    names: ['multiprocessing.Pool', 'multiprocessing.pool.Pool', 'multiprocessing.pool.ThreadPool'],
    release: ['terminate', 'join', 'close'],
    pool: true,
  },
  {
    reason: "aiohttp sessions and connectors hold a connection pool; their close() is a coroutine, so `async with` is the way to release them.",
    names: ['aiohttp.ClientSession', 'aiohttp.TCPConnector', 'aiohttp.UnixConnector'],
    release: CLOSE,
    asyncOnly: true,
  },
];

const TABLE: FactoryInfo[] = GROUPS.flatMap(({ names, ...info }) => names.map((name) => ({ name, ...info })));
const BY_NAME = new Map(TABLE.map((f) => [f.name, f]));

/** `ssl.SSLContext.wrap_socket` is a method of a context object: matched by its method name. */
const WRAP_SOCKET: FactoryInfo = {
  name: 'ssl.SSLContext.wrap_socket',
  release: ['close', 'detach'],
  reason: 'The SSL socket takes over the descriptor of the socket it wraps (that one is detached) and keeps it until close().',
};

/** Methods that open a resource, by the library class of their receiver (see semantic/values.ts). */
const METHOD_FACTORIES = new Map<string, FactoryInfo>([
  ['pathlib.Path.open', { name: 'pathlib.Path.open', release: CLOSE, reason: 'Path.open() is open() on the path: a file object that keeps its descriptor until close().' }],
  ['zipfile.ZipFile.open', { name: 'zipfile.ZipFile.open', release: CLOSE, reason: 'A member opened from a zip file holds a reference to the archive file until it is closed.' }],
]);

/**
 * Wrappers that own what they wrap: their close() closes the wrapped object, so handing a fresh
 * resource to one moves ownership to the wrapper (`io.TextIOWrapper(open(p, "rb"))` is a
 * resource; `io.TextIOWrapper(sys.stdout.buffer)` is not one of ours).
 */
export const OWNING_WRAPPERS = new Set(['io.TextIOWrapper', 'io.BufferedReader', 'io.BufferedWriter', 'io.BufferedRandom']);

/**
 * Classes that use a file object they are given without owning it: their close() leaves it open
 * (GzipFile closes only a file it opened by name, ZipFile only a file it did not get passed,
 * TarFile only when no fileobj was given, BZ2File and LZMAFile likewise, wave only what it opened).
 */
export const NON_OWNING_WRAPPERS = new Set([
  'gzip.GzipFile', 'gzip.open', 'bz2.BZ2File', 'bz2.open', 'lzma.LZMAFile', 'lzma.open', 'zipfile.ZipFile', 'zipfile.PyZipFile',
  'tarfile.open', 'tarfile.TarFile', 'tarfile.TarFile.open', 'wave.open',
]);

/** The first positional argument of a call, or the keyword one with one of the names. */
function wrappedArgument(call: Node, keywords: string[]): Node | undefined {
  const args = (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  const first = args[0];
  if (first && first.type !== 'keyword_argument' && first.type !== 'list_splat' && first.type !== 'dictionary_splat') return first;
  for (const a of args) {
    if (a.type === 'keyword_argument' && keywords.includes(a.childForFieldName('name')?.text ?? '')) return a.childForFieldName('value') ?? undefined;
  }
  return undefined;
}

/** The catalogue's view of a file: the semantic model answers receiver classes and local factories. */
export interface CatalogueModel {
  classOfValue(expr: Node): string | undefined;
  resourceOfCall(call: Node): FactoryInfo | undefined;
  resolve(id: Node): Array<{ kind: string; node: Node }>;
  memo<T>(key: string, compute: () => T): T;
  qualifiedName(node: Node): string | undefined;
}

/** Does `value` evaluate to a fresh resource: a factory call, or a local every binding of which is one? */
function freshResource(value: Node, model: CatalogueModel): boolean {
  let v = value;
  while (v.type === 'parenthesized_expression' && v.namedChild(0)) v = v.namedChild(0)!;
  if (v.type === 'call') return !!model.resourceOfCall(v);
  if (v.type !== 'identifier') return false;
  const bindings = model.resolve(v);
  if (bindings.length === 0) return false;
  return bindings.every((b) => {
    const assign = b.node.parent;
    if (b.kind !== 'assignment' || assign?.type !== 'assignment' || !assign.childForFieldName('left')?.equals(b.node)) return false;
    const right = assign.childForFieldName('right');
    return right?.type === 'call' && !!model.resourceOfCall(right);
  });
}

/** In-memory streams: a wrapper over one holds no descriptor, socket or process. */
const MEMORY_STREAMS = new Set(['io.BytesIO', 'io.StringIO', '_io.BytesIO', '_io.StringIO']);
/** Factories that read or write a file object they are given instead of opening a name. */
const OVER_FILE_OBJECTS = new Set([...NON_OWNING_WRAPPERS, 'PIL.Image.open']);

function stringLiteral(node: Node | undefined): string | undefined {
  if (node?.type !== 'string' || node.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
  return node.namedChildren.filter((c) => c?.type === 'string_content').map((c) => c!.text).join('');
}

/** Is `value` an in-memory stream: `io.BytesIO(...)`, or a local every binding of which is one (`buf = io.BytesIO()`, `with io.BytesIO() as buf`)? */
function memoryStream(value: Node, model: CatalogueModel, qualifiedName: (node: Node) => string | undefined): boolean {
  let v = value;
  while (v.type === 'parenthesized_expression' && v.namedChild(0)) v = v.namedChild(0)!;
  const isStreamCall = (c: Node | null | undefined) => {
    const fn = c?.type === 'call' ? c.childForFieldName('function') : null;
    const q = fn ? qualifiedName(fn) : undefined;
    return !!q && MEMORY_STREAMS.has(q);
  };
  if (v.type === 'call') return isStreamCall(v);
  if (v.type !== 'identifier') return false;
  const bindings = model.resolve(v);
  return (
    bindings.length > 0 &&
    bindings.every((b) => {
      const assign = b.node.parent;
      if (b.kind === 'with') {
        // `with io.BytesIO() as buf:` — the tree holds `as_pattern(value, as_pattern_target(buf))`.
        let pattern: Node | null = assign;
        while (pattern && pattern.type !== 'as_pattern' && pattern.type !== 'with_item') pattern = pattern.parent;
        return pattern?.type === 'as_pattern' && isStreamCall(pattern.namedChild(0));
      }
      return b.kind === 'assignment' && assign?.type === 'assignment' && !!assign.childForFieldName('left')?.equals(b.node) && isStreamCall(assign.childForFieldName('right'));
    })
  );
}

/**
 * Catalogue calls that, with these arguments, hold no operating-system resource, so that not
 * closing them releases nothing late (LL101–LL103 pass over them). Data, each with its reason;
 * `holds` says whether the call's arguments are of that kind.
 */
interface NoResourceCase {
  names: readonly string[];
  reason: string;
  holds(call: CallArguments, model: CatalogueModel): boolean;
}

interface CallArguments {
  first: Node | undefined;
  keyword(name: string): Node | undefined;
}

const NO_OS_RESOURCE: NoResourceCase[] = [
  {
    names: [...OVER_FILE_OBJECTS],
    reason:
      'A compressed, archive or image file over a file object it is given (`fileobj=`, an in-memory `io.BytesIO`/`io.StringIO` passed directly or a local bound only to one, or a fresh resource tracked on its own) opens nothing itself, and its close() does not close what it was given.',
    holds: ({ first, keyword }, model) => {
      const fileobj = keyword('fileobj');
      if (fileobj && fileobj.type !== 'none') return true;
      const target = first ?? keyword('file') ?? keyword('fp') ?? keyword('filename');
      return !!target && (memoryStream(target, model, (n) => model.qualifiedName(n)) || freshResource(target, model));
    },
  },
  {
    names: ['mmap.mmap'],
    reason: 'An anonymous map (descriptor -1) is memory, not a file.',
    holds: ({ first }) => !!first && first.text.replace(/\s+/g, '') === '-1',
  },
  {
    names: ['sqlite3.connect'],
    reason: 'An in-memory SQLite database (`":memory:"`, `file::memory:`, `mode=memory`) opens no file.',
    holds: ({ first, keyword }) => {
      const db = stringLiteral(first ?? keyword('database'));
      return db !== undefined && (db === ':memory:' || /^file::memory:/.test(db) || /[?&]mode=memory\b/.test(db));
    },
  },
  {
    names: ['urllib.request.urlopen'],
    reason: 'A `data:` URL is answered from the URL itself, with no connection.',
    holds: ({ first, keyword }) => /^data:/i.test(stringLiteral(first ?? keyword('url')) ?? ''),
  },
];

const NO_OS_RESOURCE_BY_NAME = new Map<string, NoResourceCase>(NO_OS_RESOURCE.flatMap((c) => c.names.map((n) => [n, c] as [string, NoResourceCase])));

/** Does this catalogue call hold no operating-system resource (`NO_OS_RESOURCE`)? */
function holdsNoOsResource(call: Node, factory: FactoryInfo, model: CatalogueModel | undefined): boolean {
  if (!model) return false;
  const found = NO_OS_RESOURCE_BY_NAME.get(factory.name);
  if (!found) return false;
  const args = (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  const first = args[0] && args[0].type !== 'keyword_argument' && args[0].type !== 'list_splat' && args[0].type !== 'dictionary_splat' ? args[0] : undefined;
  const keyword = (name: string) => args.find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === name)?.childForFieldName('value') ?? undefined;
  return found.holds({ first, keyword }, model);
}

/** The catalogue's factory a call invokes, if any (resolved through imports; user factories included). */
export function catalogueFactory(
  call: Node,
  qualifiedName: (node: Node) => string | undefined,
  options: AnalysisOptions,
  model?: CatalogueModel,
): FactoryInfo | undefined {
  const fn = call.childForFieldName('function');
  if (!fn) return undefined;
  const name = qualifiedName(fn);
  if (name) {
    const known = BY_NAME.get(name);
    if (known) return holdsNoOsResource(call, known, model) ? undefined : known;
    if (userFactories(options).has(name)) return { name, release: CLOSE, reason: 'Listed in the `resource-factories` setting.' };
    if (OWNING_WRAPPERS.has(name)) {
      const inner = model ? wrappedArgument(call, ['buffer', 'raw']) : undefined;
      if (!inner || !model) return undefined;
      // `f = TextIOWrapper(f)` asks about itself: a wrapper being worked out is no resource yet.
      const asking = model.memo('owning-wrappers-in-progress', () => new Set<number>());
      if (asking.has(call.id)) return undefined;
      asking.add(call.id);
      try {
        return freshResource(inner, model) ? { name, release: CLOSE, reason: 'It owns the fresh resource it wraps and closes it in close().' } : undefined;
      } finally {
        asking.delete(call.id);
      }
    }
  }
  if (fn.type === 'attribute') {
    const method = fn.childForFieldName('attribute')?.text;
    if (method === 'wrap_socket') return WRAP_SOCKET;
    const object = fn.childForFieldName('object');
    if (method && object && model) {
      const cls = model.classOfValue(object);
      const found = cls ? METHOD_FACTORIES.get(`${cls}.${method}`) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

/** The resource a call makes: a catalogue factory, or a function of this file that returns a fresh one. */
export function factoryOf(call: Node, context: RuleContext): FactoryInfo | undefined {
  return context.semantic.resourceOfCall(call);
}

let cachedOptions: AnalysisOptions | undefined;
let cachedUser = new Set<string>();
function userFactories(options: AnalysisOptions): Set<string> {
  if (options !== cachedOptions) {
    cachedOptions = options;
    cachedUser = new Set(options.resourceFactories);
  }
  return cachedUser;
}

/** Calls that read or write through a resource without taking ownership of it. */
export const NON_OWNING_CALLS = new Set([
  'print', 'len', 'iter', 'next', 'isinstance', 'hasattr', 'getattr', 'repr', 'str', 'id', 'type', 'enumerate',
  'json.load', 'json.dump', 'pickle.load', 'pickle.dump', 'marshal.load', 'marshal.dump',
  'csv.reader', 'csv.writer', 'csv.DictReader', 'csv.DictWriter', 'shutil.copyfileobj',
]);

/** Calls that take over releasing: `closing(x)`, `stack.enter_context(x)` and friends. */
export const OWNERSHIP_TAKERS = new Set(['contextlib.closing', 'closing']);
/** `stack.enter_context(x)`, and `ctx.wrap_socket(sock)`, which detaches `sock` and owns its descriptor. */
export const TAKER_METHODS = new Set(['enter_context', 'enter_async_context', 'push', 'push_async_exit', 'wrap_socket']);
/** Calls that schedule a release callback: `stack.callback(x.close)`, `atexit.register(x.close)`, `weakref.finalize(o, x.close)`. */
export const CALLBACK_REGISTRARS = new Set(['callback', 'push_async_callback', 'register', 'finalize', 'addCleanup', 'addAsyncCleanup', 'addClassCleanup']);

let cachedNamesFor: AnalysisOptions | undefined;
let cachedNames = new Set<string>();
/**
 * The last segment of every factory name (`open`, `Popen`, `connect`, `wrap_socket`, the user's
 * own): a call through an attribute (`x.y.name(...)`) whose name is not one of them is no factory.
 */
export function factoryAttributeNames(options: AnalysisOptions): Set<string> {
  if (options !== cachedNamesFor) {
    cachedNamesFor = options;
    cachedNames = new Set([...TABLE.map((f) => f.name), ...options.resourceFactories, WRAP_SOCKET.name, ...METHOD_FACTORIES.keys(), ...OWNING_WRAPPERS].map((n) => n.slice(n.lastIndexOf('.') + 1)));
  }
  return cachedNames;
}

const endsPatterns = new Map<string, RegExp | null>();
/**
 * A text pre-filter for `factoryCallCandidates`, needing no syntax tree: a pattern matching
 * wherever a factory name (`factoryAttributeNames`) ends a run of ASCII word characters, in code,
 * strings and comments alike. A text it does not match has no factory call candidate in any
 * region, whatever its tree: a candidate's callee ends with such a name as a whole token; an
 * import alias of a factory (`from socket import socket as S`) is made by an import that spells
 * the factory's dotted name, so its last segment is there too; and the file's own functions
 * join the candidates only through the catalogue calls they make. Undefined (no pre-filter) when
 * a configured `resource-factories` name is not ASCII.
 */
export function factoryNameEnds(options: AnalysisOptions): RegExp | undefined {
  const key = options.resourceFactories.join('\n');
  let pattern = endsPatterns.get(key);
  if (pattern === undefined) {
    const names = [...factoryAttributeNames(options)];
    pattern = names.every((n) => ASCII_WORD.test(n))
      ? new RegExp(`(?:${names.sort((a, b) => b.length - a.length).join('|')})(?![A-Za-z0-9_])`)
      : null;
    if (endsPatterns.size >= 16) endsPatterns.clear();
    endsPatterns.set(key, pattern);
  }
  return pattern ?? undefined;
}

/** The length of the longest factory name (see `factoryNameEnds`). */
export function longestFactoryName(options: AnalysisOptions): number {
  let n = 0;
  for (const name of factoryAttributeNames(options)) n = Math.max(n, name.length);
  return n;
}

/**
 * The calls of the file whose callee can be a resource factory: a name or an attribute whose last
 * segment is a factory's (`open(…)`, `sqlite3.connect(…)`, `x.wrap_socket(…)`), or a name an
 * import binds to a factory (`from socket import socket as S` → `S(…)`), in document order.
 * Found from the names' occurrences in the text, which is far cheaper than matching every call
 * of the file; an occurrence in a string or comment leads to no call and is passed over.
 */
export function factoryCallCandidates(context: RuleContext): Node[] {
  // LL101, LL102 and LL103 ask for the same calls in the same analysis.
  return context.semantic.memo('factory-call-candidates', () => findFactoryCalls(context));
}

/**
 * The factory calls of the file: calls of catalogue names, then calls of the file's own functions
 * that return a fresh resource (found from the catalogue calls they make, and so on to a fixed
 * point). The text search is only a pre-filter deciding which calls to look at; whether a call
 * makes a resource is the semantic model's answer.
 */
function findFactoryCalls(context: RuleContext): Node[] {
  const names = new Set(factoryAttributeNames(context.options));
  for (const target of [...TABLE.map((f) => f.name), ...context.options.resourceFactories]) {
    const local = context.localNameFor(target);
    if (local) names.add(local);
  }
  const all = callsOfNames(context, names);
  const seen = new Set(all.map((c) => c.id));
  const called = new CallCounts(context.text);
  let frontier = all;
  const factoryDefs = new Set<number>();
  for (let round = 0; round < 8 && frontier.length > 0; round++) {
    const newNames = new Set<string>();
    for (const call of frontier) {
      // The def whose own code makes the call (the nearest enclosing def, not through a lambda or
      // class): found by walking up, which is far cheaper than building the scopes of the file.
      const def = enclosingDef(call);
      if (!def || factoryDefs.has(def.id)) continue;
      // Text pre-filter: a function whose name is never followed by `(` except in its own `def`
      // has no callers in this file, so whether it is a factory does not matter here.
      const defName = def.childForFieldName('name')?.text;
      if (!defName) continue;
      if (called.of(defName) < 2) continue;
      if (!context.semantic.returnsFreshResource(def)) continue;
      factoryDefs.add(def.id);
      const name = def.childForFieldName('name')?.text;
      if (name && !names.has(name)) newNames.add(name);
    }
    if (newNames.size === 0) break;
    for (const n of newNames) names.add(n);
    frontier = callsOfNames(context, newNames).filter((c) => {
      if (seen.has(c.id)) return false;
      const def = context.semantic.calleeDefinition(c);
      if (!def || !factoryDefs.has(def.id)) return false;
      seen.add(c.id);
      return true;
    });
    all.push(...frontier);
  }
  const { region } = context;
  const inRegion = region ? all.filter((c) => c.startIndex >= region.start && c.startIndex < region.end) : all;
  return inRegion.sort((a, b) => a.startIndex - b.startIndex);
}

/**
 * `calledCount` for the defs of one analysis: name by name for the first few (a file has few
 * functions that make a resource), then from one count of every `name(` of the text, so that a
 * file of thousands of small factories is not scanned once per function.
 */
class CallCounts {
  private readonly byName = new Map<string, number>();
  private all: Map<string, number> | undefined;
  constructor(private readonly text: string) {}
  of(name: string): number {
    if (this.all) return this.all.get(name) ?? 0;
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    if (this.byName.size >= 16) {
      this.all = new Map();
      // The pattern calledCount reads (a name with other characters is never captured).
      for (const m of this.text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) this.all.set(m[1], (this.all.get(m[1]) ?? 0) + 1);
      return this.all.get(name) ?? 0;
    }
    const count = calledCount(this.text, name);
    this.byName.set(name, count);
    return count;
  }
}

/**
 * How often `name` is followed by `(` in the text (a `def name(` counts once): the occurrences
 * the pattern `([A-Za-z_][A-Za-z0-9_]*)\s*\(`, scanning the text, captures as exactly this name
 * (a name with other characters is never captured). Counted for one name at a time, from its own
 * occurrences, rather than for every identifier of the file.
 */
function calledCount(text: string, name: string): number {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 0;
  const digit = (c: number) => c >= 48 && c <= 57;
  const start = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const paren = /\s*\(/y;
  let count = 0;
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    const end = at + name.length;
    if (end < text.length && (digit(text.charCodeAt(end)) || start(text.charCodeAt(end)))) continue;
    // The pattern's capture starts at the first letter or underscore of a run of word
    // characters: here only when nothing but digits precedes the name in its run.
    let before = at - 1;
    while (before >= 0 && digit(text.charCodeAt(before))) before--;
    if (before >= 0 && start(text.charCodeAt(before))) continue;
    paren.lastIndex = end;
    if (paren.test(text)) count++;
  }
  return count;
}

function enclosingDef(node: Node): Node | undefined {
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'function_definition') return n;
    if (n.type === 'lambda' || n.type === 'class_definition') return undefined;
  }
  return undefined;
}

/**
 * The pattern of `name(` for a set of names, compiled once per set (the catalogue's names, with
 * the file's import aliases of factories, are the same set for most files): the last few sets.
 */
const patterns = new Map<string, RegExp>();
function namesPattern(names: Set<string>): RegExp {
  const alternatives = [...names].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  let pattern = patterns.get(alternatives);
  if (!pattern) {
    if (patterns.size >= 16) patterns.clear();
    pattern = new RegExp(`\\b(${alternatives})\\s*\\(`, 'g');
    patterns.set(alternatives, pattern);
  }
  return pattern;
}

const ASCII_WORD = /^[A-Za-z0-9_]+$/;
const SPACE = /\s/;

/** `\s` of a regular expression, at one offset (ASCII tested directly). */
function isSpace(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return SPACE.test(text[at]);
}

function isAsciiWord(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * The occurrences of `name(` (space allowed before the bracket, a word boundary before the name)
 * for any of the names, as [offset, name] in text order: what the pattern of `namesPattern`
 * finds. When every name is made of ASCII letters, digits and underscores (the catalogue's are),
 * such an occurrence is the whole run of those characters just before some `(` (and its
 * spaces), so the brackets are looked up instead of trying the names at every offset of the
 * text: a keystroke in a big file no longer scans it with the names' pattern.
 */
function nameCallOffsets(text: string, names: Set<string>): Array<[number, string]> {
  const found: Array<[number, string]> = [];
  if (![...names].every((n) => ASCII_WORD.test(n))) {
    const pattern = namesPattern(names);
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) found.push([m.index, m[1]]);
    return found;
  }
  let longest = 0;
  const lastChars = new Set<number>();
  for (const n of names) {
    longest = Math.max(longest, n.length);
    lastChars.add(n.charCodeAt(n.length - 1));
  }
  for (let bracket = text.indexOf('('); bracket !== -1; bracket = text.indexOf('(', bracket + 1)) {
    let end = bracket;
    while (end > 0 && isSpace(text, end - 1)) end--;
    if (end === 0 || !lastChars.has(text.charCodeAt(end - 1))) continue;
    let start = end;
    while (start > 0 && end - start <= longest && isAsciiWord(text.charCodeAt(start - 1))) start--;
    if (start === end || end - start > longest) continue;
    const name = text.slice(start, end);
    if (names.has(name)) found.push([start, name]);
  }
  return found;
}

/**
 * Calls `name(…)` / `x.name(…)` of the given names, found from their occurrences in the text: the
 * identifier at each occurrence (the smallest node spanning it, as `descendantForIndex` finds
 * it), when its parent (or, through an attribute, its grandparent) is a call of it. The nodes are
 * found by one walk of a tree cursor in document order, which moves on from one occurrence to the
 * next and reads parents from its own path: `descendantForIndex` from the root and `parent` both
 * scan the children of every level from the root, which in the flat ERROR node error recovery
 * makes of a badly broken file (`with open(` a thousand times) costs its whole width for every
 * occurrence.
 */
function callsOfNames(context: RuleContext, names: Set<string>): Node[] {
  if (names.size === 0) return [];
  const { text, root } = context;
  const occurrences = nameCallOffsets(text, names);
  if (occurrences.length === 0) return [];
  const calls: Node[] = [];
  const cursor = root.walk();
  // The ancestors of the cursor's node, kept as the cursor moves (a cursor cannot be copied
  // safely, and asking a node for its parent is the scan this walk avoids).
  const ancestors: Node[] = [];
  const down = (): boolean => {
    const node = cursor.currentNode;
    if (!cursor.gotoFirstChild()) return false;
    ancestors.push(node);
    return true;
  };
  const up = (): boolean => {
    if (!cursor.gotoParent()) return false;
    ancestors.pop();
    return true;
  };
  /** On to the first node, in document order from here, that ends at or after `end`; false past the tree's end. */
  const reach = (end: number): boolean => {
    while (cursor.endIndex < end) {
      while (!cursor.gotoNextSibling()) if (!up()) return false;
    }
    return true;
  };
  try {
    for (const [at, name] of occurrences) {
      const end = at + name.length;
      if (!reach(end)) break;
      // It starts after the occurrence: no node there is an identifier spanning it.
      if (cursor.startIndex > at) continue;
      // Down to the smallest node spanning it: the first child that does, level by level.
      let leaf = true;
      while (down()) {
        while (cursor.endIndex < end && cursor.gotoNextSibling());
        if (cursor.endIndex >= end && cursor.startIndex <= at) continue;
        up();
        leaf = false;
        break;
      }
      if (!leaf || cursor.nodeType !== 'identifier') continue;
      const id = cursor.currentNode;
      let parent: Node | undefined = ancestors[ancestors.length - 1];
      let callee: Node = id;
      if (parent?.type === 'attribute') {
        if (!parent.childForFieldName('attribute')?.equals(id)) continue;
        callee = parent;
        parent = ancestors[ancestors.length - 2];
      }
      if (parent?.type === 'call' && parent.childForFieldName('function')?.equals(callee)) calls.push(parent);
    }
  } finally {
    cursor.delete();
  }
  return calls;
}



/**
 * The resource rules' text pre-filter (`Rule.mayApply` of LL101–LL104): false only when no
 * resource rule can report anything in the text, so that the file need not be parsed. Every
 * finding of these rules rests on a call that makes a resource: a catalogue factory (resolved
 * through imports), a `resource-factories` name, a method factory (`.open(`, `wrap_socket(`), an
 * owning wrapper over one, or a function of the file that returns one — which needs a catalogue
 * call in its own code, so a text without catalogue calls has no local factories either. The
 * callee of such a call ends with the last segment of a factory name (`factoryAttributeNames`),
 * or is a name an import binds to one with `as` (`from socket import socket as S` → `S(`). So
 * the test: one of those names, or a name after `NAME as`, followed by `(`, with only gaps
 * between — spaces, line breaks, `\` continuations and comments, as the grammar allows inside
 * brackets, and the characters that begin no Python token (`$`, `?`, `!`, a backquote, control
 * characters), which tree-sitter's error recovery skips and around which it can still build a
 * call (`open $ (p)`). Not counted: the name a `def` or `class` defines (`def open(self):`), and a
 * call that is the whole context of a `with` item, bound to a
 * plain name or to nothing (`with open(p) as f:`; see wholeWithItem), which the statement closes
 * whatever happens — a text whose every factory call is such an item has nothing for these rules
 * either. A name in a string or a comment only makes the answer yes: a superset
 * test, not a semantic answer; the rules decide on the tree. (What error recovery might build
 * across other tokens, in text Python refuses, is not looked for.)
 */
export function mayCallFactory(text: string, options: AnalysisOptions): boolean {
  const names = prefilterNames(options);
  for (const n of names.other) if (text.includes(n)) return true;
  if (callsAnyOf(text, names.ascii, names.longest)) return true;
  // Aliases only through `import` statements (`as` elsewhere binds no name a call resolves through).
  if (!text.includes('import')) return false;
  const aliases = aliasesOf(text, names.ascii, names.longest);
  if (aliases === 'any') return true;
  return aliases.size > 0 && callsAnyOf(text, aliases, Math.max(...[...aliases].map((a) => a.length)));
}

interface PrefilterNames {
  /** The names of ASCII letters, digits and underscores (all the catalogue's), and the longest one's length. */
  ascii: Set<string>;
  longest: number;
  /** Names with other characters (a user's): any occurrence counts. */
  other: string[];
}

let prefilterKey: string | undefined;
let prefilterCache: PrefilterNames | undefined;
function prefilterNames(options: AnalysisOptions): PrefilterNames {
  // Keyed by the user's names, not the options object: a worker thread gets a copy per file.
  const key = options.resourceFactories.join('\n');
  if (prefilterCache && key === prefilterKey) return prefilterCache;
  const all = [...factoryAttributeNames(options)].filter((n) => n.length > 0);
  const ascii = new Set(all.filter((n) => ASCII_WORD.test(n)));
  prefilterKey = key;
  prefilterCache = { ascii, longest: Math.max(0, ...[...ascii].map((n) => n.length)), other: all.filter((n) => !ASCII_WORD.test(n)) };
  return prefilterCache;
}

/** Line breaks as the analysis sees them (`\r` alone is one). */
function isLineBreak(c: number): boolean {
  return c === 10 || c === 13;
}

/**
 * What may stand between two tokens that error recovery still joins, comments aside: spaces and
 * line breaks, `\`, and characters that begin no token — `!` (as in `!=`, harmlessly), `$`, `?`,
 * the backquote, control characters and DEL.
 */
function isGap(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return c === 92 || c === 33 || c === 36 || c === 63 || c === 96 || c < 32 || c === 127 || isSpace(text, at);
}

/** The run of ASCII word characters ending at `end` (exclusive), if no longer than `longest`. */
function wordBefore(text: string, end: number, longest: number): string | undefined {
  let start = end;
  while (start > 0 && end - start <= longest && isAsciiWord(text.charCodeAt(start - 1))) start--;
  return start === end || end - start > longest ? undefined : text.slice(start, end);
}

/**
 * Does a token ending just before `end` read as one of `names`, past gaps and, across line breaks,
 * comments? Across a line break the line before may end in a comment: each `#` of that line may
 * start it, so the text before each one is tried too (a `#` inside a string only adds a try).
 * `depth` bounds the tries over a run of comment lines; past it the answer is yes.
 */
function nameEndsBefore(text: string, end: number, names: Set<string>, longest: number, depth: number): boolean {
  let at = end;
  let crossed = false;
  while (at > 0 && isGap(text, at - 1)) {
    if (isLineBreak(text.charCodeAt(at - 1))) crossed = true;
    at--;
  }
  if (at > 0 && isAsciiWord(text.charCodeAt(at - 1))) {
    const word = wordBefore(text, at, longest);
    if (word !== undefined && names.has(word)) return true;
  }
  if (!crossed || at === 0) return false;
  if (depth >= 100) return true;
  let lineStart = at;
  while (lineStart > 0 && !isLineBreak(text.charCodeAt(lineStart - 1))) lineStart--;
  for (let hash = lineStart; hash < at; hash++) {
    if (text.charCodeAt(hash) === 35 && nameEndsBefore(text, hash, names, longest, depth + 1)) return true;
  }
  return false;
}

/**
 * Is the call whose callee ends with the name starting at `nameStart` (its `(` at `bracket`) the
 * whole context expression of the first item of a `with` statement, bound to a plain name or to
 * nothing: `with NAME(…) as f:`, `with a.b.NAME(…):`, `with NAME(…) as f, …`? The with statement
 * closes what such a call makes whatever its body does, so the call gives the resource rules
 * nothing to report. The items after it that are such calls of `names` too are added to
 * `later` (their brackets), so that they count as closed when the scan reaches them. Read
 * strictly, a no whenever unsure: the callee a dotted run of plain names after `with` and spaces
 * on the same line (the parenthesised form `with (…):` is not read); the call's brackets matched
 * past comments and strings on one line (a triple-quoted string, a string across a line break or
 * a call longer than 10 000 characters: unsure); after the `)`, `:` or `,`, or `as`, one plain
 * name and `:` or `,`; a later item after the `,`, past spaces and `\` continuations.
 */
function wholeWithItem(text: string, nameStart: number, bracket: number, names: Set<string>, later: Set<number>): boolean {
  let at = nameStart;
  while (at >= 2 && text.charCodeAt(at - 1) === 46 && isAsciiWord(text.charCodeAt(at - 2))) {
    at--;
    while (at > 0 && isAsciiWord(text.charCodeAt(at - 1))) at--;
  }
  if (!keywordBefore(text, at, 'with')) return false;
  let end = itemEnd(text, bracket);
  if (end === undefined) return false;
  // The items after a `,`: each a call of one of the names that is a whole item too.
  while (end.comma) {
    let next = end.after;
    for (;;) {
      while (isBlank(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) !== 92) break;
      next++;
      if (text.charCodeAt(next) === 13 && text.charCodeAt(next + 1) === 10) next += 2;
      else if (isLineBreak(text.charCodeAt(next))) next++;
      else return true;
    }
    let nameEnd = next;
    for (;;) {
      const wordStart = nameEnd;
      while (isAsciiWord(text.charCodeAt(nameEnd))) nameEnd++;
      if (nameEnd === wordStart) return true;
      if (text.charCodeAt(nameEnd) !== 46) break;
      nameEnd++;
    }
    let open = nameEnd;
    while (isBlank(text.charCodeAt(open))) open++;
    let lastStart = nameEnd;
    while (lastStart > next && isAsciiWord(text.charCodeAt(lastStart - 1))) lastStart--;
    if (text.charCodeAt(open) !== 40 || !names.has(text.slice(lastStart, nameEnd))) return true;
    end = itemEnd(text, open);
    if (end === undefined) return true;
    later.add(open);
  }
  return true;
}

/**
 * Where the with item whose call opens at `bracket` ends: after the `)`, `:` or `,`, or `as`, a
 * plain name and `:` or `,` (`comma` says which, `after` is the offset past it); undefined
 * otherwise.
 */
function itemEnd(text: string, bracket: number): { comma: boolean; after: number } | undefined {
  const close = closingBracket(text, bracket);
  if (close < 0) return undefined;
  let after = close + 1;
  while (isBlank(text.charCodeAt(after))) after++;
  if (text.startsWith('as', after) && !isAsciiWord(text.charCodeAt(after + 2)) && text.charCodeAt(after + 2) < 128) {
    after += 2;
    while (isBlank(text.charCodeAt(after))) after++;
    const target = after;
    while (isAsciiWord(text.charCodeAt(after))) after++;
    if (after === target || text.charCodeAt(after) >= 128) return undefined;
    while (isBlank(text.charCodeAt(after))) after++;
  }
  const c = text.charCodeAt(after);
  // `:` and not `:=` (no with item is followed by one, but the test costs nothing).
  if (c === 58 && text.charCodeAt(after + 1) !== 61) return { comma: false, after: after + 1 };
  if (c === 44) return { comma: true, after: after + 1 };
  return undefined;
}

/**
 * Is the name starting at `nameStart` the one a `def` or `class` statement defines (`def open(self,
 * mode):`, `class Popen(Base):`)? Those brackets hold parameters or bases, not a call's arguments;
 * the calls of such a function or class are other occurrences of its name.
 */
function definedName(text: string, nameStart: number): boolean {
  return keywordBefore(text, nameStart, 'def') || keywordBefore(text, nameStart, 'class');
}

/**
 * Does `keyword` stand just before `at` as a word of its own, past one or more spaces or tabs on
 * the same line (`with open(`, `def open(`), not as the end of a longer name or an attribute?
 */
function keywordBefore(text: string, at: number, keyword: string): boolean {
  let end = at;
  while (end > 0 && isBlank(text.charCodeAt(end - 1))) end--;
  const start = end - keyword.length;
  if (end === at || start < 0 || !text.startsWith(keyword, start)) return false;
  if (start === 0) return true;
  const c = text.charCodeAt(start - 1);
  return !isAsciiWord(c) && c !== 46 && c < 128;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** The offset of the `)` that closes the `(` at `open`, or -1 when unsure (see wholeWithItem). */
function closingBracket(text: string, open: number): number {
  let depth = 0;
  const limit = Math.min(text.length, open + 10_000);
  for (let at = open; at < limit; at++) {
    const c = text.charCodeAt(at);
    if (c === 40 || c === 91 || c === 123) depth++;
    else if (c === 41 || c === 93 || c === 125) {
      depth--;
      if (depth === 0) return c === 41 ? at : -1;
    } else if (c === 35) {
      while (at + 1 < limit && !isLineBreak(text.charCodeAt(at + 1))) at++;
    } else if (c === 92) at++;
    else if (c === 34 || c === 39) {
      if (text.charCodeAt(at + 1) === c && text.charCodeAt(at + 2) === c) return -1;
      for (at++; ; at++) {
        if (at >= limit || isLineBreak(text.charCodeAt(at))) return -1;
        const d = text.charCodeAt(at);
        if (d === 92) at++;
        else if (d === c) break;
      }
    }
  }
  return -1;
}

/** Is some name of `names` followed by `(`: the token before some `(` (see nameEndsBefore)? */
function callsAnyOf(text: string, names: Set<string>, longest: number): boolean {
  if (names.size === 0) return false;
  const lastChars = new Set<number>();
  for (const n of names) lastChars.add(n.charCodeAt(n.length - 1));
  /** The brackets of the calls that are later items of a with statement (see wholeWithItem). */
  const later = new Set<number>();
  for (let bracket = text.indexOf('('); bracket !== -1; bracket = text.indexOf('(', bracket + 1)) {
    // The common case first: the name right before the bracket, or after spaces on its line.
    let end = bracket;
    while (end > 0 && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
    if (end === 0) continue;
    const c = text.charCodeAt(end - 1);
    if (isAsciiWord(c)) {
      if (!lastChars.has(c)) continue;
      const word = wordBefore(text, end, longest);
      if (word !== undefined && names.has(word) && !later.has(bracket) && !definedName(text, end - word.length) && !wholeWithItem(text, end - word.length, bracket, names, later)) return true;
      continue;
    }
    if (isGap(text, end - 1) && nameEndsBefore(text, end, names, longest, 0)) return true;
  }
  return false;
}

/**
 * The names `as` binds after one of `names` (`socket as S`; `NamedTemporaryFile as NTF` in a
 * parenthesised import over several lines): every word `as` whose token before is one of the
 * names (as nameEndsBefore reads it), with the word after it past gaps and comment lines. Over
 * the whole text, strings and comments included: a superset of the import aliases of factories.
 * 'any' for an alias spelled with letters beyond ASCII (the bracket scan reads ASCII names only).
 */
function aliasesOf(text: string, names: Set<string>, longest: number): Set<string> | 'any' {
  const aliases = new Set<string>();
  for (let at = text.indexOf('as'); at !== -1; at = text.indexOf('as', at + 2)) {
    if ((at > 0 && isAsciiWord(text.charCodeAt(at - 1))) || (at + 2 < text.length && isAsciiWord(text.charCodeAt(at + 2)))) continue;
    if (at === 0 || !isGap(text, at - 1) || !nameEndsBefore(text, at, names, longest, 0)) continue;
    let start = at + 2;
    for (;;) {
      while (start < text.length && isGap(text, start)) start++;
      if (text.charCodeAt(start) !== 35) break;
      while (start < text.length && !isLineBreak(text.charCodeAt(start))) start++;
    }
    let end = start;
    while (end < text.length && isAsciiWord(text.charCodeAt(end))) end++;
    if (text.charCodeAt(end) >= 128 || (end === start && text.charCodeAt(start) >= 128)) return 'any';
    if (end > start) aliases.add(text.slice(start, end));
  }
  return aliases;
}
