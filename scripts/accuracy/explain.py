"""Why did LeakLens not report a peer's finding? Called by compare.mjs (stdin: JSON request).

For each finding a peer reported and LeakLens did not, this looks at the code with Python's own
parser and names the situation, one reason per finding, from the first that applies:

resources (R1732, SIM115): the callee is outside LeakLens's factory catalogue; the module's own
`open` shadows the builtin; the call's result is returned, yielded, stored, handed to another
call, released by `with`, in `finally`, by an ExitStack/addCleanup/closing, or released on every
path with nothing that can raise before; it is an error probe in a test; and so on.
mutable defaults (W0102): the default is a name, not a literal built by the definition.
class containers (RUF012): whether methods add instances to the container at all.

A situation the classifier cannot name comes back as kind "unknown": compare.mjs prints those,
and docs/accuracy/peer-notes.json gives them a reason by hand (or the rule gets fixed).
Request: {"stdlib": path, "catalogue": [dotted factory names], "findings": [{id, path, line, column, code}]}
Answer: {id: {"kind": "deliberate" | "miss" | "unknown", "reason": text}}
"""
import ast
import json
import re
import sys

RELEASES = {"close", "shutdown", "terminate", "join", "cleanup", "wait", "communicate", "kill", "quit", "logout", "detach"}
NON_OWNING = {
    "print", "len", "iter", "next", "isinstance", "hasattr", "getattr", "repr", "str", "id", "type", "enumerate",
    "json.load", "json.dump", "pickle.load", "pickle.dump", "marshal.load", "marshal.dump",
    "csv.reader", "csv.writer", "csv.DictReader", "csv.DictWriter", "shutil.copyfileobj",
}
TAKERS = {"enter_context", "enter_async_context", "push", "push_async_exit", "closing", "contextlib.closing"}
SCHEDULERS = {"addCleanup", "callback", "register", "finalize", "addClassCleanup", "push_async_callback"}
PROBE_REASON = "an error probe: a discarded call inside `with assertRaises(…)` (or `assertWarns`, `catch_warnings` …) or in a `try` whose handler accepts the error, made to see it fail (LL103 leaves these alone)"


def parents(tree):
    out = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[child] = node
    return out


def imports(tree):
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    names[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = node.module + "." + a.name
    return names


def dotted(node, names):
    if isinstance(node, ast.Name):
        return names.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = dotted(node.value, names)
        return base + "." + node.attr if base else None
    return None


def scope_of(node, up):
    n = up.get(node)
    while n is not None and not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)):
        n = up.get(n)
    return n


def inside(node, up, kinds, stop):
    n = up.get(node)
    while n is not None and n is not stop:
        if isinstance(n, kinds):
            return n
        n = up.get(n)
    return None


def in_finally(node, up, stop):
    child, n = node, up.get(node)
    while n is not None and n is not stop:
        if isinstance(n, ast.Try) and any(child is s for s in n.finalbody):
            return True
        child, n = n, up.get(n)
    return False


PROBE_WITH = re.compile(r"\b(assert\w*|raises|warns|check_\w*warning\w*|catch_warnings|patch(\.\w+)?)\s*\(")


def error_probe(node, up, stop):
    """Inside `with self.assertRaises(…)` and the like (the same test LL103 makes)."""
    n = up.get(node)
    while n is not None and n is not stop:
        if isinstance(n, (ast.With, ast.AsyncWith)):
            if any(PROBE_WITH.search(ast.unparse(item.context_expr)) for item in n.items):
                return True
        n = up.get(n)
    return False


PATCH_WITH = re.compile(r"\b(patch(\.\w+)?|mock\w*)\s*\(")
RAISES_WITH = re.compile(r"\b(assertRaises\w*|raises)\s*\(")
MOCK_REASON = "under `mock.patch(…)` (also from a function defined in that block): the factory is usually the mock, nothing is opened"
PROBE_BOUND_REASON = "an error probe: bound inside `assertRaises` or a `try` whose handler accepts the error, and never used: the call is expected to fail"
LAZY_REASON = "holds no connection: an `http.client` connection never sent a request, or `SMTP()`/`FTP()` made without a host and never connected"
HTTP_CONNECTING = {"connect", "request", "putrequest", "send", "endheaders"}


def under_patch(node, up):
    n = up.get(node)
    while n is not None:
        if isinstance(n, (ast.With, ast.AsyncWith)) and any(PATCH_WITH.search(ast.unparse(i.context_expr)) for i in n.items):
            return True
        n = up.get(n)
    return False


def accepting_try_or_raises(node, up, stop):
    """Inside `with assertRaises(…)` or the body of a `try` whose handlers neither re-raise nor fail."""
    child, n = node, up.get(node)
    while n is not None and n is not stop:
        if isinstance(n, (ast.With, ast.AsyncWith)) and any(RAISES_WITH.search(ast.unparse(i.context_expr)) for i in n.items):
            return True
        if isinstance(n, ast.Try) and n.handlers and any(child is s for s in n.body):
            text = " ".join(ast.unparse(h) for h in n.handlers)
            if not re.search(r"\braise\b|\.fail\s*\(", text):
                return True
        child, n = n, up.get(n)
    return False


def is_context_manager_code(scope, names):
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    if scope.name in ("__enter__", "__aenter__"):
        return True
    for d in scope.decorator_list:
        q = dotted(d.func if isinstance(d, ast.Call) else d, names) or ""
        if q.endswith("contextmanager"):
            return True
    return False


def shadowed(call, tree, up):
    f = call.func
    if not isinstance(f, ast.Name):
        return False
    for s in tree.body:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and s.name == f.id:
            return True
        if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == f.id for t in s.targets):
            return True
    return False


def find_call(tree, line, column, code, text_lines):
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == line]
    def utf16_col(node):
        raw = text_lines[line - 1][: node.col_offset]
        return len(raw.decode("utf-8", "replace").encode("utf-16-le")) // 2 + 1
    # `tarfile.open(p).close()`: the outer call starts where the factory call does; take the innermost.
    exact = [c for c in calls if utf16_col(c) == column]
    if exact:
        return min(exact, key=lambda c: (c.end_lineno, c.end_col_offset))
    for c in calls:
        if utf16_col(c.func) == column or (isinstance(c.func, ast.Attribute) and c.func.end_col_offset and c.func.end_lineno == line):
            return c
    return calls[0] if calls else None


def classify_resource(call, tree, up, names, catalogue, wrap_socket_ok=True):
    q = dotted(call.func, names) or ""
    scope = scope_of(call, up)
    method = call.func.attr if isinstance(call.func, ast.Attribute) else None
    if q not in catalogue and method != "wrap_socket":
        if method == "acquire":
            return "deliberate", "`lock.acquire()`: a lock, not a resource that holds memory or a handle (outside LeakLens's scope)"
        if method == "start":
            return "deliberate", "a multiprocessing manager's `start()`: outside the resource catalogue (a process to shut down, started and stopped explicitly)"
        root = call.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if method == "open" and not (isinstance(root, ast.Name) and root.id in names):
            return "deliberate", f"`{ast.unparse(call.func)[:40]}(…)`: a method named `open` on an object (a ZipFile member, a Path, …), outside the resource catalogue"
        return "deliberate", f"`{q or ast.unparse(call.func)[:40]}`: not in LeakLens's resource-factory catalogue (spec §1 default list; users add it with `resource-factories`)"
    if shadowed(call, tree, up):
        return "deliberate", "the module defines its own `open` (or rebinds the name): not the builtin factory"
    if is_context_manager_code(scope, names):
        return "deliberate", "inside `__enter__` or a `@contextmanager` function: the resource is handed to the `with` statement"
    if under_patch(call, up):
        return "deliberate", MOCK_REASON
    parent = up[call]
    # The unbound uses (LL103's domain).
    if isinstance(parent, ast.Attribute) and parent.value is call:
        holder = up.get(parent)
        if isinstance(holder, ast.Call) and holder.func is parent and parent.attr in RELEASES | {"detach"}:
            return "deliberate", "released at once on the call (`open(p, \"w\").close()`, `Popen(cmd).wait()`)"
        return "unknown", "unbound call whose result is used at once"
    if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)) or (isinstance(parent, (ast.Tuple, ast.List)) and isinstance(up.get(parent), (ast.Return, ast.Yield))):
        return "deliberate", "returned or yielded: the caller owns it"
    if isinstance(parent, ast.keyword):
        parent = up[parent]
    if isinstance(parent, ast.Call) and call in parent.args + [k.value for k in parent.keywords]:
        pq = dotted(parent.func, names) or ""
        pm = parent.func.attr if isinstance(parent.func, ast.Attribute) else None
        if pq in TAKERS or pm in TAKERS:
            return "deliberate", "handed to `contextlib.closing`/`ExitStack.enter_context`, which release it"
        if pq in NON_OWNING:
            return "unknown", "argument of a known reader"
        return "deliberate", "passed straight to a call that may take ownership (a wrapper such as `io.TextIOWrapper(…)`, a constructor, a helper, an assertion): LL103 flags only known readers that do not keep it"
    if isinstance(parent, (ast.Expr,)):
        if error_probe(call, up, scope) or accepting_try_or_raises(call, up, scope):
            return "deliberate", PROBE_REASON
        return "unknown", "bare call statement"
    if isinstance(parent, (ast.For, ast.comprehension)):
        return "unknown", "iterated directly"
    if isinstance(parent, ast.IfExp):
        return "miss", "bound through a conditional expression (`f = open(p) if p else sys.stdin`): not tracked"
    if isinstance(parent, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
        return "deliberate", "put into a tuple, list or dict: stored in a container, ownership moves"
    if isinstance(parent, ast.withitem):
        return "deliberate", "a `with` item"
    if isinstance(parent, ast.NamedExpr):
        return "miss", "bound with `:=`: not tracked"
    if not isinstance(parent, (ast.Assign, ast.AnnAssign)):
        return "unknown", f"used in a {type(parent).__name__}"
    targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
    if len(targets) != 1:
        if any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets):
            return "deliberate", "stored in an attribute or container (`self.f = open(…)`): ownership moves to the object; LL104 reports attributes that no method releases"
        return "unknown", "chained assignment `a = b = factory()`"
    target = targets[0]
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        return "deliberate", "stored in an attribute or container (`self.f = open(…)`): ownership moves to the object; LL104 reports attributes that no method releases"
    if isinstance(target, (ast.Tuple, ast.List)):
        return "miss", "bound by unpacking (`a, b = open(x), open(y)`): not tracked"
    if not isinstance(target, ast.Name):
        return "unknown", "unusual target"
    name = target.id
    if isinstance(scope, ast.ClassDef):
        return "deliberate", "a class attribute: lives as long as the class (not tracked)"
    if isinstance(scope, ast.Module) and q in ("concurrent.futures.ThreadPoolExecutor", "concurrent.futures.ProcessPoolExecutor", "multiprocessing.Pool"):
        return "deliberate", "a module-level pool meant to live for the process"
    body = scope.body if not isinstance(scope, ast.Lambda) else []
    for node in ast.walk(scope):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return "deliberate", "a `global`/`nonlocal` name: the resource outlives the function (module state)"
    uses = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == name and (n.lineno, n.col_offset) > (call.end_lineno, call.end_col_offset)]
    kinds = []
    for u in uses:
        us = scope_of(u, up)
        if us is not scope:
            kinds.append(("captured", u))
            continue
        p = up[u]
        if isinstance(u.ctx, ast.Store):
            kinds.append(("rebound", u))
            continue
        if isinstance(p, ast.withitem) and p.context_expr is u:
            kinds.append(("with", u))
        elif isinstance(p, ast.Attribute) and p.value is u:
            h = up.get(p)
            if isinstance(h, ast.Call) and h.func is p and p.attr in RELEASES:
                kinds.append(("finally-release" if in_finally(h, up, scope) else "release", h))
            elif isinstance(h, (ast.Call, ast.keyword)) and p.attr in RELEASES:
                hc = h if isinstance(h, ast.Call) else up.get(h)
                hm = hc.func.attr if isinstance(hc.func, ast.Attribute) else (dotted(hc.func, names) or "")
                kinds.append(("scheduled" if hm in SCHEDULERS or hm.endswith(("atexit.register", "weakref.finalize")) else "escape", u))
        elif isinstance(p, (ast.Return, ast.Yield, ast.YieldFrom)):
            kinds.append(("returned", u))
        elif isinstance(p, (ast.Tuple, ast.List, ast.Set, ast.Dict)) and isinstance(up.get(p), (ast.Return, ast.Yield)):
            kinds.append(("returned", u))
        elif isinstance(p, ast.Call) and u in p.args or isinstance(p, ast.keyword):
            c = p if isinstance(p, ast.Call) else up[p]
            cq = dotted(c.func, names) or ""
            cm = c.func.attr if isinstance(c.func, ast.Attribute) else None
            if cq in TAKERS or cm in TAKERS:
                kinds.append(("taker", u))
            elif cq not in NON_OWNING:
                kinds.append(("escape", u))
        elif isinstance(p, (ast.Assign, ast.AnnAssign)) and p.value is u:
            kinds.append(("stored", u))
        elif isinstance(p, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            kinds.append(("stored", u))
    first_store = min([(u.lineno, u.col_offset) for u in uses if isinstance(u.ctx, ast.Store)], default=None)
    loads = [u for u in uses if isinstance(u.ctx, ast.Load) and (first_store is None or (u.lineno, u.col_offset) < first_store)]
    found = {k for k, _ in kinds}
    probe = not loads and accepting_try_or_raises(call, up, scope)
    methods = {up[u].attr for _, u in kinds if isinstance(up.get(u), ast.Attribute)} | {
        up[n].attr for n in uses if isinstance(up.get(n), ast.Attribute) and isinstance(up.get(up[n]), ast.Call)}
    if q in ("http.client.HTTPConnection", "http.client.HTTPSConnection") and not methods & HTTP_CONNECTING:
        return "deliberate", LAZY_REASON
    if q in ("smtplib.SMTP", "ftplib.FTP") and not call.args and not any(k.arg == "host" for k in call.keywords) and "connect" not in methods:
        return "deliberate", LAZY_REASON
    for n in uses:
        a = up.get(n)
        if isinstance(a, ast.Attribute) and a.attr == "poll" and isinstance(up.get(a), ast.Call):
            cmp = up.get(up[a])
            loop = up.get(cmp) if isinstance(cmp, ast.Compare) else None
            if isinstance(loop, ast.While) and loop.test is cmp and not any(isinstance(b, ast.Break) for b in ast.walk(loop)):
                return "deliberate", "reaped by a `while p.poll() is None:` loop (without `break`), as `wait()` would"
    if probe and not found & {"finally-release", "with", "taker", "scheduled", "returned", "stored", "escape", "captured"}:
        return "deliberate", PROBE_BOUND_REASON
    if "captured" in found:
        return "deliberate", "used by a nested function or lambda: shared beyond this scope (not tracked)"
    if "with" in found or "taker" in found or "scheduled" in found:
        return "deliberate", "released by `with name:`, `closing()`, an ExitStack, `addCleanup(name.close)` or `atexit`/`weakref.finalize`"
    if "finally-release" in found:
        return "deliberate", "released in a `finally` block"
    if "returned" in found:
        return "deliberate", "returned or yielded later: the caller owns it"
    if "stored" in found:
        return "deliberate", "stored later in an attribute or container: ownership moves"
    if "escape" in found:
        return "deliberate", "passed later to a call that may take ownership (a wrapper, a constructor, a helper, a thread)"
    if "release" in found:
        return "deliberate", "released explicitly on every normal path, and nothing before the release can raise (or an `except` that releases covers it): LL101 and LL102 are both satisfied"
    return "unknown", "bound to a name, no release found"


def classify_default(message):
    # pylint: "Dangerous default value <expression> (<inferred type>) as argument"
    text = message.removeprefix("Dangerous default value ").split(" (")[0]
    if all(part.isidentifier() for part in text.split(".")):
        return "deliberate", "the default is a name bound elsewhere (a module constant, `os.environ`, an enclosing local): the definition does not create the object, and binding a shared table at definition time is usually intended (spec: names are not flagged)"
    return "unknown", "a default expression"


ADDERS = {"append", "add", "insert", "appendleft", "extend", "update", "setdefault", "__setitem__"}
REMOVERS = {"remove", "discard", "pop", "popitem", "clear", "difference_update", "intersection_update", "__delitem__"}


def classify_class_attribute(line, tree, up):
    """RUF012 (a mutable class attribute): does anything add instances to it, and remove them?"""
    target = None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and stmt.value.lineno <= line <= stmt.value.end_lineno:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    if len(targets) == 1 and isinstance(targets[0], ast.Name):
                        target = targets[0].id
    if target is None:
        return "unknown", "class attribute not found"
    adds, instance_adds, removes = 0, 0, 0
    for node in ast.walk(tree):
        container = None
        values = []
        method = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            container = node.func.value
            values = node.args
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(t, ast.Subscript):
                    container, method, values = t.value, "__setitem__", [node.value]
                elif isinstance(node, ast.AugAssign) and isinstance(t, ast.Attribute) and t.attr == target:
                    container, method, values = t, "extend", [node.value]
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute) and t.value.attr == target:
                    removes += 1
        while isinstance(container, ast.Subscript):
            container = container.value
        if not (isinstance(container, ast.Attribute) and container.attr == target):
            continue
        if method in REMOVERS:
            removes += 1
        elif method in ADDERS:
            adds += 1
            def is_self(v):
                return isinstance(v, ast.Name) and v.id == "self" or isinstance(v, (ast.Tuple, ast.List)) and any(is_self(e) for e in v.elts)
            if any(is_self(v) for v in values):
                instance_adds += 1
    if adds == 0:
        return "deliberate", "never added to after the class body: a constant table or a declaration (RUF012 asks for `ClassVar` or an immutable value; nothing accumulates)"
    if instance_adds == 0:
        return "deliberate", "filled with data, not with instances (`self`): shared state or a class-level cache, not an instance registry (LL301 is about instances kept alive; LL303 covers module-level caches only)"
    if removes:
        return "deliberate", "instances are added and also removed somewhere in the module: a registry that prunes (spec: not flagged)"
    return "unknown", "instances added, none removed"


def main():
    req = json.loads(sys.stdin.read())
    stdlib, catalogue = req["stdlib"], set(req["catalogue"])
    out = {}
    by_path = {}
    for f in req["findings"]:
        by_path.setdefault(f["path"], []).append(f)
    for path, findings in by_path.items():
        with open(stdlib + "/" + path, "rb") as fh:
            source = fh.read()
        tree = ast.parse(source)
        up = parents(tree)
        names = imports(tree)
        lines = source.split(b"\n")
        for f in findings:
            if f["code"] in ("R1732", "SIM115"):
                call = find_call(tree, f["line"], f["column"], f["code"], lines)
                if call is None:
                    out[f["id"]] = ["unknown", "no call found on that line"]
                    continue
                out[f["id"]] = list(classify_resource(call, tree, up, names, catalogue))
            elif f["code"] == "RUF012":
                out[f["id"]] = list(classify_class_attribute(f["line"], tree, up))
            elif f["code"] == "W0102":
                out[f["id"]] = list(classify_default(f.get("message", "")))
            else:
                out[f["id"]] = ["unknown", ""]
    print(json.dumps(out))


main()
