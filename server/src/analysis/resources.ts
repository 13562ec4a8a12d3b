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
}

const CLOSE = ['close'];
const TABLE: FactoryInfo[] = [
  ...[
    'open', 'builtins.open', 'io.open', 'codecs.open', 'gzip.open', 'bz2.open', 'lzma.open', 'tarfile.open',
    'zipfile.ZipFile', 'shelve.open', 'dbm.open', 'wave.open', 'os.fdopen', 'mmap.mmap', 'urllib.request.urlopen',
    'http.client.HTTPConnection', 'http.client.HTTPSConnection', 'tempfile.TemporaryFile', 'tempfile.NamedTemporaryFile', 'tempfile.SpooledTemporaryFile',
    'selectors.DefaultSelector', 'requests.Session', 'psycopg.connect', 'pymysql.connect',
    'PIL.Image.open',
    // What the listed factories return or wrap, and other spellings of them: the same resources.
    '_io.open', 'io.open_code', 'tokenize.open', 'gzip.GzipFile', 'bz2.BZ2File', 'lzma.LZMAFile', 'tarfile.TarFile',
    'tarfile.TarFile.open', 'zipfile.PyZipFile', 'dbm.dumb.open', 'dbm.gnu.open', 'dbm.ndbm.open',
  ].map((name) => ({ name, release: CLOSE })),
  // `detach()` hands the descriptor over: the socket object no longer owns anything.
  ...['socket.socket', 'socket.create_connection', 'socket.create_server'].map((name) => ({ name, release: ['close', 'detach'] })),
  // `quit()` sends QUIT and closes; IMAP4's `close()` only closes the selected mailbox, `logout()` the connection.
  { name: 'ftplib.FTP', release: ['close', 'quit'] },
  { name: 'smtplib.SMTP', release: ['close', 'quit'] },
  { name: 'imaplib.IMAP4', release: ['logout', 'shutdown'] },
  { name: 'sqlite3.connect', release: CLOSE, withKeepsOpen: true },
  { name: 'psycopg2.connect', release: CLOSE, withKeepsOpen: true },
  { name: 'subprocess.Popen', release: ['wait', 'communicate', 'kill'] },
  { name: 'tempfile.TemporaryDirectory', release: ['cleanup'] },
  { name: 'concurrent.futures.ThreadPoolExecutor', release: ['shutdown'], pool: true },
  { name: 'concurrent.futures.ProcessPoolExecutor', release: ['shutdown'], pool: true },
  { name: 'multiprocessing.Pool', release: ['terminate', 'join', 'close'], pool: true },
  { name: 'multiprocessing.pool.Pool', release: ['terminate', 'join', 'close'], pool: true },
  { name: 'multiprocessing.pool.ThreadPool', release: ['terminate', 'join', 'close'], pool: true },
  { name: 'aiohttp.ClientSession', release: CLOSE, asyncOnly: true },
];
const BY_NAME = new Map(TABLE.map((f) => [f.name, f]));
/** `ssl.SSLContext.wrap_socket` is a method of a context object: matched by its method name. */
const WRAP_SOCKET: FactoryInfo = { name: 'ssl.SSLContext.wrap_socket', release: ['close', 'detach'] };

/** The catalogue's factory a call invokes, if any (resolved through imports; user factories included). */
export function catalogueFactory(call: Node, qualifiedName: (node: Node) => string | undefined, options: AnalysisOptions): FactoryInfo | undefined {
  const fn = call.childForFieldName('function');
  if (!fn) return undefined;
  const name = qualifiedName(fn);
  if (name) {
    const known = BY_NAME.get(name);
    if (known) return known;
    if (userFactories(options).has(name)) return { name, release: CLOSE };
  }
  if (fn.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'wrap_socket') return WRAP_SOCKET;
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
export const TAKER_METHODS = new Set(['enter_context', 'enter_async_context', 'push', 'push_async_exit']);
/** Calls that schedule a release callback: `stack.callback(x.close)`, `atexit.register(x.close)`, `weakref.finalize(o, x.close)`. */
export const CALLBACK_REGISTRARS = new Set(['callback', 'push_async_callback', 'register', 'finalize']);

let cachedNamesFor: AnalysisOptions | undefined;
let cachedNames = new Set<string>();
/**
 * The last segment of every factory name (`open`, `Popen`, `connect`, `wrap_socket`, the user's
 * own): a call through an attribute (`x.y.name(...)`) whose name is not one of them is no factory.
 */
export function factoryAttributeNames(options: AnalysisOptions): Set<string> {
  if (options !== cachedNamesFor) {
    cachedNamesFor = options;
    cachedNames = new Set([...TABLE.map((f) => f.name), ...options.resourceFactories, WRAP_SOCKET.name].map((n) => n.slice(n.lastIndexOf('.') + 1)));
  }
  return cachedNames;
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
  let frontier = all;
  const factoryDefs = new Set<number>();
  for (let round = 0; round < 8 && frontier.length > 0; round++) {
    const newNames = new Set<string>();
    for (const call of frontier) {
      const scope = context.semantic.scopeOf(call);
      if (scope.kind !== 'function' || factoryDefs.has(scope.node.id)) continue;
      if (!context.semantic.returnsFreshResource(scope.node)) continue;
      factoryDefs.add(scope.node.id);
      const name = scope.name;
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

/** Calls `name(…)` / `x.name(…)` of the given names, found from their occurrences in the text. */
function callsOfNames(context: RuleContext, names: Set<string>): Node[] {
  if (names.size === 0) return [];
  const { text, root } = context;
  const pattern = new RegExp(`\\b(${[...names].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})\\s*\\(`, 'g');
  const calls: Node[] = [];
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const id = root.descendantForIndex(m.index, m.index + m[1].length);
    if (!id || id.type !== 'identifier') continue;
    let callee: Node = id;
    let parent = id.parent;
    if (parent?.type === 'attribute') {
      if (!parent.childForFieldName('attribute')?.equals(id)) continue;
      callee = parent;
      parent = parent.parent;
    }
    if (parent?.type === 'call' && parent.childForFieldName('function')?.equals(callee)) calls.push(parent);
  }
  return calls;
}
