"""LeakLens run-time runner: confirms memory leaks by running code.

Standard library only, CPython 3.8 or newer. Shipped with the LeakLens extension and CLI,
which start it with the interpreter of the user's project:

    python leaklens_runner.py growth TARGET --report FILE [--workspace DIR]
           [--warmup N] [--rounds N] [--calls N] [--frames N] [--min-bytes N]
           [--watch NAME ...] [-- SCRIPT ARGS...]
    python leaklens_runner.py cycles TARGET --report FILE [--workspace DIR]
           [--warmup N] [--calls N] [--frames N] [-- SCRIPT ARGS...]
    python leaklens_runner.py resources TARGET --report FILE [--workspace DIR]
           [--warmup N] [--calls N] [--frames N] [-- SCRIPT ARGS...]

TARGET is `pkg.mod:func`, `path/to/file.py:func` (a dotted attribute path after the colon is
allowed: `file.py:Class.static_method`), either with an argument list (`pkg.mod:func(i % 50,
key="k")`: Python expressions evaluated before every call in the function's module, `i` being the
call number), a pytest node id (`tests/test_x.py::test_y`, run
through pytest when pytest is importable), or a script path (`path/to/script.py`, run afresh
as `__main__` on every call).

growth: tracemalloc snapshots after a warm-up and after each round of calls; growth is
attributed to the innermost frame inside the workspace, judged per site (leak / bounded /
noise), checked against live objects allocated there, and explained by a retention path.
cycles: the reference cycles the target leaves to the garbage collector (gc.DEBUG_SAVEALL),
grouped by shape, with member types, labelled edges and allocation sites.
resources: every ResourceWarning of the measured calls (the filter forced to "always"; the ones
raised in finalizers through sys.unraisablehook), grouped by the allocation line of the object
that warned (tracemalloc), typed file / socket / subprocess / other.

The report (JSON, `schemaVersion` 1, see report.schema.json) is written only to --report;
stdout and stderr belong to the program under test. Exit status: 0 nothing found, 1 leaks,
cycles or unclosed resources found, 2 the runner could not do its job (the reasons are in the report's errors).
"""

import argparse
import ast
import gc
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import re
import sys
import time
import traceback
import tracemalloc
import types

SCHEMA_VERSION = 1
RUNNER_VERSION = "1.0.0"
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

DEFAULTS = {
    # Calls per round must exceed the size of the caches under test, or a cache that is still
    # filling looks like a leak.
    "growth": {"warmup": 3, "rounds": 5, "calls": 50},
    "cycles": {"warmup": 3, "rounds": 1, "calls": 20},
    # Every unclosed resource counts: no warm-up is needed to tell it from a cache.
    "resources": {"warmup": 0, "rounds": 1, "calls": 10},
}
SCRIPT_DEFAULTS = {
    "growth": {"warmup": 1, "rounds": 4, "calls": 5},
    "cycles": {"warmup": 1, "rounds": 1, "calls": 5},
    "resources": {"warmup": 0, "rounds": 1, "calls": 3},
}
DEFAULT_FRAMES = 25
DEFAULT_MIN_BYTES = 1024
MAX_SAMPLES = 3
MAX_PATH_DEPTH = 14
MAX_FRONTIER = 400
MAX_MEMBERS = 20
MAX_EDGES = 40
MAX_CYCLE_GROUPS = 50
MAX_GROWTH_FINDINGS = 100
MAX_RETENTION_PATHS = 10
# Below this many measured calls a leak verdict gets a note: caches that big are still filling.
FEW_CALLS = 200

RUNNER_FILE = os.path.realpath(os.path.abspath(__file__))
INIT_NAMES = ("__init__", "__new__", "__post_init__", "__init_subclass__")


class RunnerError(Exception):
    """A problem the user can act on: reported in the report's errors, exit status 2."""

    def __init__(self, message, kind="runner"):
        Exception.__init__(self, message)
        self.kind = kind


# --- paths and sources ------------------------------------------------------------------------


class Workspace:
    """Decides which source files count as the user's code (real paths, cached)."""

    def __init__(self, roots):
        self.roots = []
        for root in roots:
            real = os.path.realpath(os.path.abspath(root))
            if real not in self.roots:
                self.roots.append(real)
        self.cwd = os.getcwd()
        self._cache = {}

    def add_root(self, root):
        """Adds a folder unless an existing root already holds it (the target's own folder)."""
        real = os.path.realpath(os.path.abspath(root))
        if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots):
            self.roots.append(real)
            self._cache.clear()

    def real(self, filename):
        """The real path of a code object's filename, or None for `<frozen ...>`, `<string>`..."""
        if not filename or filename.startswith("<"):
            return None
        try:
            if not os.path.isabs(filename):
                filename = os.path.join(self.cwd, filename)
            return os.path.realpath(filename)
        except (OSError, ValueError):
            return None

    def contains(self, filename):
        """The real path when `filename` is workspace source (not the runner, not a library), else None."""
        try:
            return self._cache[filename]
        except KeyError:
            pass
        result = None
        real = self.real(filename)
        if real is not None and real != RUNNER_FILE:
            parts = real.split(os.sep)
            if "site-packages" not in parts and "dist-packages" not in parts:
                for root in self.roots:
                    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                        result = real
                        break
        self._cache[filename] = result
        return result


class SourceIndex:
    """What the runner needs from the user's sources: enclosing functions and definition lines."""

    def __init__(self):
        self._files = {}

    def _load(self, path):
        try:
            return self._files[path]
        except KeyError:
            pass
        info = {"functions": [], "globals": {}, "classes": {}, "attributes": {}}
        try:
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(), path)
        except (OSError, SyntaxError, ValueError):
            self._files[path] = info
            return info

        def walk(node, prefix, in_class):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qualname = prefix + child.name
                    start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    end = getattr(child, "end_lineno", None) or child.lineno
                    if isinstance(child, ast.ClassDef):
                        info["classes"][qualname] = {"line": start, "attrs": {}}
                        for item in child.body:
                            for name, line in _bound_names(item):
                                info["classes"][qualname]["attrs"].setdefault(name, line)
                        walk(child, qualname + ".", True)
                    else:
                        info["functions"].append((child.lineno, end, qualname, start))
                        walk(child, qualname + ".<locals>.", False)
                else:
                    if isinstance(child, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                        targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                        for target in targets:
                            for sub in ast.walk(target):
                                if isinstance(sub, ast.Attribute):
                                    info["attributes"].setdefault(sub.attr, []).append(sub.lineno)
                    walk(child, prefix, in_class)

        for item in tree.body:
            for name, line in _bound_names(item):
                info["globals"].setdefault(name, line)
        walk(tree, "", False)
        self._files[path] = info
        return info

    def function_at(self, path, line):
        """Qualified name of the innermost function whose body holds `line`, else `<module>`."""
        best = None
        for start, end, qualname, _ in self._load(path)["functions"]:
            if start <= line <= end and (best is None or start >= best[0]):
                best = (start, qualname)
        return best[1] if best else "<module>"

    def global_line(self, path, name):
        return self._load(path)["globals"].get(name)

    def class_attr_line(self, path, class_qualname, attr):
        entry = self._load(path)["classes"].get(class_qualname)
        if entry is None:
            return None
        return entry["attrs"].get(attr)

    def class_line(self, path, class_qualname):
        entry = self._load(path)["classes"].get(class_qualname)
        return entry["line"] if entry else None

    def attribute_assignments(self, path, attr):
        return sorted(set(self._load(path)["attributes"].get(attr, [])))


def _bound_names(statement):
    """(name, line) for the names a module- or class-level statement binds."""
    out = []
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        out.append((statement.name, min([statement.lineno] + [d.lineno for d in statement.decorator_list])))
    elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    out.append((sub.id, statement.lineno))
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for alias in statement.names:
            name = alias.asname or alias.name.split(".")[0]
            if name != "*":
                out.append((name, statement.lineno))
    elif isinstance(statement, (ast.If, ast.Try)):
        blocks = [statement.body, statement.orelse]
        if isinstance(statement, ast.Try):
            blocks.append(statement.finalbody)
            blocks.extend(h.body for h in statement.handlers)
        for block in blocks:
            for item in block:
                out.extend(_bound_names(item))
    return out


# --- target -----------------------------------------------------------------------------------

_FUNCTION_SPEC = re.compile(r"^(?P<left>.+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")
# `left:attr(arguments)`: the left part is as short as it can be, so a colon inside the
# arguments (`f(d={1: 2})`) is not taken for the one before the function.
_CALL_SPEC = re.compile(r"^(?P<left>.+?):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\((?P<args>.*)\)\s*$", re.S)
ARGUMENTS_FILE = "<leaklens arguments>"


def parse_call_arguments(text, spec):
    """Checks the argument list of a `func(args...)` target; returns a code object of a lambda
    `(i, pack) -> pack(args...)` to be evaluated in the target module's namespace."""
    source = "lambda i, _leaklens_pack_: _leaklens_pack_(%s)" % text
    try:
        tree = ast.parse("_f_(%s)" % text, ARGUMENTS_FILE, "eval")
    except SyntaxError as error:
        where = ""
        if error.offset:
            # The text starts after `_f_(`: 4 columns.
            column = error.offset - 4
            where = " at column %d" % column if 1 <= column <= len(text) else " at the end"
        raise RunnerError(
            "bad arguments in target %s: %s%s (the arguments are Python expressions, e.g. `handle(i %% 50)`, "
            "`render(user_id=i)`)" % (spec, error.msg, where),
            "target",
        )
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != "_f_":
        raise RunnerError("bad arguments in target %s: %r is not an argument list" % (spec, text), "target")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            raise RunnerError("bad arguments in target %s: yield and await are not allowed in arguments" % spec, "target")
    return compile(source, ARGUMENTS_FILE, "eval")


class Target:
    def __init__(self, spec, workspace_dir):
        self.spec = spec
        self.kind = None
        self.file = None
        self.module_name = None
        self.attr = None
        self.nodeid = None
        self.module = None
        self.script_args = []
        # `func(args...)`: the text between the parentheses and its compiled form (None: no call syntax).
        self.arguments = None
        self.arguments_code = None
        spec = spec.strip()
        if not spec:
            raise RunnerError("empty target", "target")
        if "::" in spec:
            self.kind = "pytest"
            self.nodeid = spec
            self.file = self._path(spec.split("::", 1)[0], workspace_dir)
            return
        match = None
        if spec.endswith(")"):
            match = _CALL_SPEC.match(spec)
            if match and _is_drive(match.group("left")):
                match = None
            if match:
                self.arguments = match.group("args").strip()
                self.arguments_code = parse_call_arguments(self.arguments, spec)
        if match is None:
            match = _FUNCTION_SPEC.match(spec)
        # `C:\path\script.py` is a Windows drive, not `module:function`.
        if match and not _is_drive(match.group("left")):
            self.kind = "function"
            left = match.group("left")
            self.attr = match.group("attr")
            if left.endswith(".py") or "/" in left or os.sep in left:
                self.file = self._path(left, workspace_dir)
            else:
                self.module_name = left
            return
        if spec.endswith(".py") or "/" in spec or os.sep in spec:
            self.kind = "script"
            self.file = self._path(spec, workspace_dir)
            return
        raise RunnerError(
            "cannot read target %r: use `module:function`, `path/to/file.py:function`, either with arguments "
            "(`module:function(i, key=i %% 50)`), a pytest node id (`tests/test_x.py::test_y`) or a script path "
            "(`path/to/script.py`)" % spec,
            "target",
        )

    @staticmethod
    def _path(path, workspace_dir):
        """A relative path is taken from the workspace folder, else from the current folder."""
        candidates = [path] if os.path.isabs(path) else [os.path.join(workspace_dir, path), path]
        for candidate in candidates:
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        raise RunnerError("no such file: %s" % os.path.abspath(candidates[0]), "target")

    def describe(self):
        out = {"spec": self.spec, "kind": self.kind}
        if self.file:
            out["file"] = os.path.realpath(self.file)
        if self.module_name or self.module is not None:
            out["module"] = self.module_name or getattr(self.module, "__name__", None)
        if self.attr:
            out["function"] = self.attr
        if self.arguments is not None:
            out["arguments"] = self.arguments
            out["call"] = "%s(%s)" % (self.attr, self.arguments)
        if self.nodeid:
            out["nodeid"] = self.nodeid
        return out


def _is_drive(left):
    return len(left) == 1 and left.isalpha()


def import_file(path):
    """Imports a source file under its package-qualified name (so relative imports work)."""
    path = os.path.abspath(path)
    directory, base = os.path.split(path)
    stem = os.path.splitext(base)[0]
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parent, name = os.path.split(directory)
        if parent == directory:
            break
        parts.insert(0, name)
        directory = parent
    if not parts:
        parts = [os.path.basename(os.path.dirname(path))]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = ".".join(parts)
    module = None
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        if getattr(error, "name", None) not in (name, parts[0]):
            raise
    if module is not None and os.path.realpath(getattr(module, "__file__", "") or "") == os.path.realpath(path):
        return module
    # Another module already owns that name (a file called `json.py`...): load this file on its own.
    unique = "_leaklens_target_" + re.sub(r"\W", "_", stem)
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise RunnerError("cannot import %s" % path, "target")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


def resolve_function(target):
    if target.file:
        module = import_file(target.file)
    else:
        module = importlib.import_module(target.module_name)
    target.module = module
    obj = module
    for part in target.attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RunnerError("%s has no attribute %r (target %s)" % (getattr(obj, "__name__", obj), part, target.spec), "target")
    if not callable(obj):
        raise RunnerError("target %s is not callable (%s)" % (target.spec, type(obj).__name__), "target")
    if target.arguments is None:
        check_no_arguments(obj, target)
    return obj


def check_no_arguments(function, target):
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    required = [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        example = "%s(%s)" % (target.spec, ", ".join("i" if n == 0 else "..." for n in range(len(required))))
        raise RunnerError(
            "target %s needs arguments (%s): give them as Python expressions after the name, e.g. `%s` "
            "(`i` is the call number, other names come from the target's module)"
            % (target.spec, ", ".join(required), example),
            "target",
        )


def _pack(*args, **kwargs):
    return args, kwargs


class CallWithArguments:
    """Calls `function(args...)` with the argument expressions evaluated afresh for every call,
    in the target module's namespace, with `i` the number of the call (0 for the first warm-up call)."""

    def __init__(self, function, target):
        self.function = function
        self.target = target
        namespace = getattr(target.module, "__dict__", None)
        if namespace is None:
            namespace = {"__builtins__": __builtins__}
        self.evaluate = eval(target.arguments_code, namespace)
        self.index = 0
        try:
            self.signature = inspect.signature(function)
        except (TypeError, ValueError):
            self.signature = None

    def arguments(self):
        index = self.index
        self.index += 1
        try:
            args, kwargs = self.evaluate(index, _pack)
        except Exception as error:
            hint = ""
            if isinstance(error, NameError):
                hint = " (`i` is the call number; other names must be defined in module %s or be built-ins)" % getattr(self.target.module, "__name__", "?")
            raise RunnerError(
                "the arguments of target %s failed at call %d (i = %d): %s: %s%s"
                % (self.target.spec, index + 1, index, type(error).__name__, error, hint),
                "target-arguments",
            )
        if index == 0 and self.signature is not None:
            try:
                self.signature.bind(*args, **kwargs)
            except TypeError as error:
                raise RunnerError(
                    "the arguments of target %s do not fit %s%s: %s"
                    % (self.target.spec, self.target.attr, self.signature, error),
                    "target-arguments",
                )
        return args, kwargs


def make_caller(function, target=None):
    """A no-argument callable running the target once (coroutine functions on one event loop)."""
    with_arguments = CallWithArguments(function, target) if target is not None and target.arguments is not None else None
    if inspect.iscoroutinefunction(function):
        import asyncio

        loop = asyncio.new_event_loop()

        if with_arguments is not None:
            def call_async():
                args, kwargs = with_arguments.arguments()
                loop.run_until_complete(function(*args, **kwargs))
        else:
            def call_async():
                loop.run_until_complete(function())

        call_async.close = loop.close
        return call_async
    if with_arguments is not None:
        def call():
            args, kwargs = with_arguments.arguments()
            return function(*args, **kwargs)

        return call
    return function


class ScriptRunner:
    """Runs a script afresh as `__main__` on every call and keeps the last namespace alive."""

    def __init__(self, path, args):
        self.path = os.path.abspath(path)
        with open(self.path, "rb") as handle:
            source = handle.read()
        try:
            self.code = compile(source, self.path, "exec")
        except SyntaxError as error:
            raise RunnerError("cannot compile %s: %s" % (self.path, error), "target")
        self.args = list(args)
        self.last = None
        # ids of every namespace dict created: their module<->function cycles are not the target's.
        self.namespace_ids = set()
        directory = os.path.dirname(self.path)
        if directory not in sys.path:
            sys.path.insert(0, directory)

    def __call__(self):
        module = types.ModuleType("__main__")
        module.__file__ = self.path
        module.__builtins__ = __builtins__
        self.namespace_ids.add(id(module.__dict__))
        saved_main = sys.modules.get("__main__")
        saved_argv = sys.argv
        sys.modules["__main__"] = module
        sys.argv = [self.path] + self.args
        try:
            exec(self.code, module.__dict__)
        except SystemExit as stop:
            if stop.code not in (None, 0):
                raise RunnerError("the script exited with status %r" % (stop.code,), "target")
        finally:
            sys.argv = saved_argv
            if saved_main is not None:
                sys.modules["__main__"] = saved_main
            # Held until the next run ends: the script's globals stay alive at every snapshot.
            self.last = module


# --- attribution -------------------------------------------------------------------------------


class Attributor:
    """Maps tracemalloc tracebacks to the innermost workspace frame (cached per traceback)."""

    def __init__(self, workspace, sources):
        self.workspace = workspace
        self.sources = sources
        self._cache = {}

    def site(self, traceback_):
        """(real path, line) of the innermost workspace frame, or None."""
        try:
            return self._cache[traceback_]
        except KeyError:
            pass
        result = None
        for frame in reversed(traceback_):  # oldest -> most recent since Python 3.7
            real = self.workspace.contains(frame.filename)
            if real is not None:
                result = (real, frame.lineno)
                break
        self._cache[traceback_] = result
        return result

    def object_site(self, obj):
        """(site, approximate) where a live object was allocated, or (None, False).

        Python 3.11 answers None for instances of ordinary classes; their site is then guessed
        from an attribute set in `__init__` (the frame that called the constructor).
        """
        site, approximate, _ = self.object_origin(obj)
        return site, approximate

    def object_origin(self, obj, library_classes=False):
        """(site, approximate, tracemalloc traceback or None): `object_site` with the traceback
        it was found from (for an approximate site, the traceback of the attribute).

        `library_classes`: an instance of a class defined outside the workspace (`Popen`) whose
        attribute was allocated in library code called from a workspace line is placed on that
        line (its `__init__` is not in the workspace, so `constructor_site` cannot see it)."""
        try:
            tb = tracemalloc.get_object_traceback(obj)
        except Exception:
            tb = None
        if tb is not None:
            return self.site(tb), False, tb
        if isinstance(obj, (type, dict, list, tuple, set, frozenset)) or type(obj).__module__ == "builtins":
            return None, False, None
        # The attribute values, without touching `__dict__` (on 3.11+ that would create a dict
        # the instance did not have): 3.11+ instances refer to their values directly, older
        # ones (and instances whose dict exists) through their dict.
        try:
            values = []
            for referent in gc.get_referents(obj):
                if type(referent) is dict:
                    # Either the instance's own __dict__ (3.8-3.10) or a dict attribute value.
                    values.append(referent)
                    values.extend(referent.values())
                elif not isinstance(referent, type):
                    values.append(referent)
        except Exception:
            return None, False, None
        for value in values:
            try:
                tb = tracemalloc.get_object_traceback(value)
            except Exception:
                tb = None
            if tb is None:
                continue
            site = self.constructor_site(tb)
            if site is None and library_classes and len(tb) and self.workspace.contains(tb[-1].filename) is None:
                site = self.site(tb)
            if site is not None:
                return site, True, tb
        return None, False, None

    def constructor_site(self, traceback_):
        """For an attribute allocated inside `__init__`: the workspace frame that called the constructor."""
        frames = [f for f in reversed(traceback_) if self.workspace.contains(f.filename) is not None]
        if not frames:
            return None
        inner = frames[0]
        real = self.workspace.contains(inner.filename)
        name = self.sources.function_at(real, inner.lineno).split(".")[-1]
        if name in INIT_NAMES and len(frames) > 1:
            outer = frames[1]
            return (self.workspace.contains(outer.filename), outer.lineno)
        return None

    def frames(self, traceback_):
        out = []
        for frame in reversed(traceback_):
            real = self.workspace.real(frame.filename)
            entry = {"file": real or frame.filename, "line": frame.lineno}
            if real is not None and self.workspace.contains(frame.filename) is not None:
                entry["function"] = self.sources.function_at(real, frame.lineno)
                entry["workspace"] = True
            else:
                entry["workspace"] = False
            out.append(entry)
        return out  # innermost first

    def location(self, site):
        path, line = site
        return {"file": path, "line": line, "function": self.sources.function_at(path, line)}


# --- describing objects and references -----------------------------------------------------------


def type_name(obj):
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    if module in (None, "builtins"):
        return name
    return "%s.%s" % (module, name)


def short_type(obj):
    name = type(obj).__name__
    if isinstance(obj, (list, tuple, dict, set, frozenset)):
        try:
            return "%s[%d]" % (name, len(obj))
        except Exception:
            return name
    if isinstance(obj, types.ModuleType):
        return "module %s" % getattr(obj, "__name__", "?")
    if isinstance(obj, type):
        return "class %s" % getattr(obj, "__qualname__", obj.__name__)
    if isinstance(obj, types.FunctionType):
        return "function %s" % getattr(obj, "__qualname__", obj.__name__)
    return name


def _key_text(key):
    if not isinstance(key, (str, bytes, int, float, bool, type(None))):
        return "[%s key]" % type(key).__name__
    text = repr(key)
    if len(text) > 40:
        text = text[:37] + "..."
    return "[%s]" % text


def instance_dict(obj):
    if isinstance(obj, type):
        return None
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return attrs if isinstance(attrs, dict) else None


def edge_label(src, dst):
    """How `src` refers to `dst`: `.attr`, `[i]`, `['key']`, `__self__`, `closure`... ("" when unknown)."""
    try:
        if isinstance(src, types.ModuleType):
            for key, value in list(vars(src).items()):
                if value is dst:
                    return ".%s" % key
            return ""
        if isinstance(src, dict):
            for key, value in list(src.items()):
                if value is dst:
                    return _key_text(key)
                if key is dst:
                    return "(key)"
            return ""
        if isinstance(src, (list, tuple)):
            for index, value in enumerate(src):
                if value is dst:
                    return "[%d]" % index
            return ""
        if isinstance(src, (set, frozenset)):
            return "{member}"
        if isinstance(src, types.MethodType):
            if src.__self__ is dst:
                return ".__self__"
            if src.__func__ is dst:
                return ".__func__"
            return ""
        if isinstance(src, types.CellType):
            return ".cell_contents"
        if isinstance(src, types.FunctionType):
            for index, cell in enumerate(src.__closure__ or ()):
                if cell is dst:
                    return "closure[%s]" % (src.__code__.co_freevars[index],)
                try:
                    if cell.cell_contents is dst:
                        return "closure[%s]" % (src.__code__.co_freevars[index],)
                except ValueError:
                    pass
            if src.__globals__ is dst:
                return ".__globals__"
            if src.__defaults__ is dst or (src.__defaults__ and any(d is dst for d in src.__defaults__)):
                return ".__defaults__"
            return ""
        if isinstance(src, types.FrameType):
            for key, value in list(src.f_locals.items()):
                if value is dst:
                    return "local %s" % key
            if src.f_back is dst:
                return ".f_back"
            return ""
        if isinstance(src, types.TracebackType):
            return ".tb_frame" if src.tb_frame is dst else (".tb_next" if src.tb_next is dst else "")
        if isinstance(src, BaseException):
            for attr in ("__traceback__", "__context__", "__cause__"):
                if getattr(src, attr, None) is dst:
                    return "." + attr
            if src.args is dst:
                return ".args"
        if isinstance(src, type):
            for key, value in list(vars(src).items()):
                if value is dst:
                    return ".%s" % key
            return ""
        attrs = instance_dict(src)
        if attrs is not None:
            if attrs is dst:
                return ".__dict__"
            for key, value in list(attrs.items()):
                if value is dst:
                    return ".%s" % key
        for cls in type(src).__mro__:
            for slot in getattr(cls, "__slots__", ()) or ():
                if isinstance(slot, str):
                    try:
                        if object.__getattribute__(src, slot) is dst:
                            return ".%s" % slot
                    except Exception:
                        pass
        if hasattr(src, "cache_info") and callable(getattr(src, "cache_info", None)):
            return "(cache)"
    except Exception:
        return ""
    return ""


def is_type_dict(owner, d):
    """True when `d` is the dict behind `owner.__dict__` (a class's namespace)."""
    if not isinstance(owner, type) or not isinstance(d, dict):
        return False
    try:
        proxy = owner.__dict__
        return len(proxy) == len(d) and all(k in d and d[k] is v for k, v in proxy.items())
    except Exception:
        return False


# --- retention paths -----------------------------------------------------------------------------


def retention_path(obj, ctx):
    """The chain of references from a module's globals to `obj` (breadth-first, batched).

    One `gc.get_referrers(*frontier)` per level; stops at the first module namespace reached.
    """
    own_module = sys.modules.get(__name__)
    module_dicts = {}
    for name, module in list(sys.modules.items()):
        attrs = getattr(module, "__dict__", None)
        if isinstance(attrs, dict) and module is not own_module:
            module_dicts.setdefault(id(attrs), (name, module))
    own_globals = globals()
    ignore = set([id(own_globals)])
    keep = {id(obj): obj}
    parent = {id(obj): None}
    ignore.add(id(keep))
    ignore.add(id(parent))
    ignore.add(id(ctx.__dict__))
    for held in ctx.held_containers():
        ignore.add(id(held))
    frontier = [obj]
    found = None
    for _ in range(MAX_PATH_DEPTH):
        ignore.add(id(frontier))
        frontier_ids = set(id(o) for o in frontier)
        ignore.add(id(frontier_ids))
        referrers = gc.get_referrers(*frontier)
        ignore.add(id(referrers))
        following = []
        ignore.add(id(following))
        for ref in referrers:
            rid = id(ref)
            if rid in ignore or rid in keep:
                continue
            if isinstance(ref, types.FrameType):
                code = ref.f_code
                if os.path.realpath(code.co_filename) == RUNNER_FILE or code.co_filename.startswith("<"):
                    continue
            if type(ref) is tuple and len(ref) == len(frontier) and all(a is b for a, b in zip(ref, frontier)):
                continue  # the argument tuple of this very call
            child = None
            try:
                for referent in gc.get_referents(ref):
                    if id(referent) in frontier_ids:
                        child = referent
                        break
            except Exception:
                child = None
            if child is None:
                continue
            keep[rid] = ref
            parent[rid] = id(child)
            if rid in module_dicts:
                found = rid
                break
            following.append(ref)
        del referrers
        if found is not None or not following:
            break
        frontier = following[:MAX_FRONTIER]
    if found is None:
        return {"complete": False, "steps": [], "text": "no module global reached within %d references" % MAX_PATH_DEPTH, "root": None}
    chain = []
    cursor = found
    while cursor is not None:
        chain.append(keep[cursor])
        cursor = parent[cursor]
    module_name, module = module_dicts[found]
    return describe_chain(chain, module_name, module, ctx)


def describe_chain(chain, module_name, module, ctx):
    """Steps from a module namespace (chain[0]) to the retained object (chain[-1])."""
    steps = [{"label": "module %s" % module_name, "type": "module"}]
    root = {"module": module_name, "name": None, "attribute": None, "file": None, "line": None}
    module_file = getattr(module, "__file__", None)
    real_file = ctx.workspace.contains(module_file) if module_file else None
    i = 1
    owner = None  # a class or instance whose namespace dict was skipped
    while i < len(chain):
        prev = chain[i - 1] if owner is None else owner
        current = chain[i]
        if (isinstance(current, dict) and i + 1 < len(chain)) and (
            is_type_dict(prev, current) or (instance_dict(prev) is current and not isinstance(prev, dict))
        ):
            owner = prev
            i += 1
            continue
        label = edge_label(chain[i - 1] if owner is None else owner, current)
        if owner is not None and not label:
            label = edge_label(chain[i - 1], current)
        if i == 1:
            label = label or "?"
            if label.startswith("["):
                label = label[2:-2] if label[1] in "'\"" else label[1:-1]
            root["name"] = label.lstrip(".")
        elif len(steps) == 2 and isinstance(chain[1], type) and root["attribute"] is None and label.startswith("."):
            root["attribute"] = label[1:]
        owner = None
        steps.append({"label": label or "(ref)", "type": short_type(current)})
        i += 1
    if real_file is not None and root["name"]:
        root["file"] = real_file
        line = None
        holder = chain[1] if len(chain) > 1 else None
        if root["attribute"] and isinstance(holder, type):
            line = ctx.sources.class_attr_line(real_file, getattr(holder, "__qualname__", ""), root["attribute"])
        if line is None:
            line = ctx.sources.global_line(real_file, root["name"])
        root["line"] = line
    text_parts = ["module %s" % module_name]
    for step in steps[1:]:
        text_parts.append("%s (%s)" % (step["label"], step["type"]))
    return {"complete": True, "steps": steps, "text": " \u2192 ".join(text_parts), "root": root}


# --- measurement context ---------------------------------------------------------------------------


class Context:
    def __init__(self, options, workspace, sources, target):
        self.options = options
        self.workspace = workspace
        self.sources = sources
        self.attributor = Attributor(workspace, sources)
        self.target = target
        self.errors = []
        self.notes = []
        self.findings = []
        self.watches = []
        self.totals = {}
        self.measured = False
        self.samples = {}
        self.watch_module = None
        self.script = None

    def held_containers(self):
        return [self.samples, self.findings, self.watches, self.errors, self.notes] + list(self.samples.values())

    def error(self, message, kind="runner", tb=None):
        entry = {"kind": kind, "message": message}
        if tb:
            entry["traceback"] = tb
        self.errors.append(entry)


def call_counted(call, count, phase):
    for index in range(count):
        try:
            call()
        except RunnerError:
            raise
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            raise TargetFailure(error, phase, index + 1)


class TargetFailure(Exception):
    def __init__(self, error, phase, index):
        Exception.__init__(self, "%s: %s" % (type(error).__name__, error))
        self.error = error
        self.phase = phase
        self.index = index
        self.tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))


# --- watched names ---------------------------------------------------------------------------------


class Watch:
    def __init__(self, spec):
        self.spec = spec
        self.file = None
        self.module_name = None
        self.name = spec
        match = _FUNCTION_SPEC.match(spec)
        if match and not (len(match.group("left")) == 1 and match.group("left").isalpha()):
            left = match.group("left")
            self.name = match.group("attr")
            if left.endswith(".py") or "/" in left or os.sep in left:
                self.file = os.path.realpath(os.path.abspath(left))
            else:
                self.module_name = left
        self.values = []
        self.kind = None
        self.found_file = None
        self.line = None
        self.problem = None

    def _module(self, ctx):
        if self.file is not None:
            for module in list(sys.modules.values()):
                path = getattr(module, "__file__", None)
                if path and os.path.realpath(path) == self.file:
                    return module
            script = ctx.script
            if script is not None and script.last is not None and os.path.realpath(script.path) == self.file:
                return script.last
            return None
        if self.module_name is not None:
            return sys.modules.get(self.module_name)
        if ctx.script is not None:
            return ctx.script.last
        return ctx.watch_module

    def measure(self, ctx):
        module = self._module(ctx)
        if module is None:
            self.problem = "module not loaded"
            self.values.append(None)
            return
        obj = module
        try:
            for part in self.name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            self.problem = "no such name"
            self.values.append(None)
            return
        value = None
        try:
            if callable(getattr(obj, "cache_info", None)):
                value = obj.cache_info().currsize
                self.kind = "cache entries"
            elif hasattr(obj, "__len__"):
                value = len(obj)
                self.kind = "items"
            else:
                self.problem = "has no length (%s)" % type(obj).__name__
        except Exception as error:
            self.problem = "cannot measure: %s" % error
        if value is not None:
            self.problem = None
        self.values.append(value)
        path = getattr(module, "__file__", None)
        real = ctx.workspace.contains(path) if path else None
        if real is not None and self.line is None:
            self.found_file = real
            parts = self.name.split(".")
            if len(parts) >= 2:
                self.line = ctx.sources.class_attr_line(real, ".".join(parts[:-1]), parts[-1])
            if self.line is None:
                self.line = ctx.sources.global_line(real, parts[0])

    def report(self, calls_per_round):
        out = {"name": self.spec, "found": self.problem is None and bool(self.values) and self.values[-1] is not None}
        if self.found_file:
            out["file"] = self.found_file
            out["line"] = self.line
        if self.kind:
            out["measure"] = self.kind
        out["values"] = self.values
        if self.problem:
            out["problem"] = self.problem
        numbers = [v for v in self.values if v is not None]
        if len(numbers) == len(self.values) and len(numbers) >= 2:
            deltas = [b - a for a, b in zip(numbers, numbers[1:])]
            total = numbers[-1] - numbers[0]
            out["growth"] = total
            out["perCall"] = round(total / float(calls_per_round * len(deltas)), 4)
            out["verdict"] = judge(deltas, 1)
        return out


# --- growth mode ------------------------------------------------------------------------------------


def judge(deltas, min_growth):
    """leak / bounded / noise from per-round growth (see the runtime notes for the reasoning)."""
    total = sum(deltas)
    rounds = len(deltas)
    half = (rounds + 1) // 2
    first = sum(deltas[:half])
    second = sum(deltas[half:])
    later = rounds - half
    avg_first = first / float(half)
    avg_second = second / float(later) if later else avg_first
    if all(d > 0 for d in deltas) and total >= min_growth and (second >= min_growth or avg_second >= 0.25 * avg_first):
        return "leak"
    if first > 0 and total > 0 and second <= max(0.1 * first, min_growth / 4.0):
        return "bounded"
    return "noise"


def reduce_snapshot(snapshot, ctx, representative):
    """{site: [bytes, blocks]} for workspace sites; None collects what no workspace frame explains."""
    sizes = {}
    for stat in snapshot.statistics("traceback"):
        site = ctx.attributor.site(stat.traceback)
        entry = sizes.get(site)
        if entry is None:
            sizes[site] = [stat.size, stat.count]
        else:
            entry[0] += stat.size
            entry[1] += stat.count
        if site is not None:
            best = representative.get(site)
            if best is None or stat.size > best[0]:
                representative[site] = (stat.size, stat.traceback)
    return sizes


def snapshot_now(ctx, representative):
    if not tracemalloc.is_tracing():
        raise RunnerError("tracemalloc was stopped while the target ran (the program calls tracemalloc.stop()?)")
    snapshot = tracemalloc.take_snapshot()
    try:
        return reduce_snapshot(snapshot, ctx, representative)
    finally:
        del snapshot


def measure_growth(call, ctx):
    opts = ctx.options
    representative = {}
    series = []
    started = time.time()
    tracemalloc.start(opts.frames)
    try:
        call_counted(call, opts.warmup, "the warm-up")
        gc.collect()
        for watch in ctx.watches:
            watch.measure(ctx)
        series.append(snapshot_now(ctx, representative))
        for round_index in range(opts.rounds):
            call_counted(call, opts.calls, "round %d" % (round_index + 1))
            gc.collect()
            for watch in ctx.watches:
                watch.measure(ctx)
            series.append(snapshot_now(ctx, representative))
        measured = time.time() - started
        findings = growth_findings(series, representative, ctx)
        confirm_with_live_objects(findings, ctx)
    finally:
        # Tracing costs 27-125x on allocation-heavy code: stop before anything else runs
        # (a pytest teardown under tracing took 58 s instead of 1.9 s).
        tracemalloc.stop()
    paths = 0
    for finding in findings:
        sample = ctx.samples.get(finding["_site"])
        if finding["verdict"] == "leak" and sample:
            # Each level of a path scans the whole heap once: only the biggest leaks get one.
            paths += 1
            if paths > MAX_RETENTION_PATHS:
                continue
            try:
                finding["retention"] = retention_path(sample[0], ctx)
            except Exception as error:
                finding["retention"] = {"complete": False, "steps": [], "text": "retention path failed: %s" % error, "root": None}
    if paths > MAX_RETENTION_PATHS:
        ctx.notes.append("retention paths are given for the %d biggest leaks only (of %d)" % (MAX_RETENTION_PATHS, paths))
    ctx.samples.clear()
    total_calls = opts.rounds * opts.calls
    unattributed = [s.get(None, [0, 0]) for s in series]
    ws_first = sum(v[0] for k, v in series[0].items() if k is not None)
    ws_last = sum(v[0] for k, v in series[-1].items() if k is not None)
    ctx.totals = {
        "calls": total_calls,
        "warmupCalls": opts.warmup,
        "seconds": round(measured, 3),
        "workspaceBytesBefore": ws_first,
        "workspaceBytesAfter": ws_last,
        "workspaceGrowth": ws_last - ws_first,
        "unattributedGrowth": unattributed[-1][0] - unattributed[0][0],
        "sites": len([k for k in set().union(*series) if k is not None]),
        "leaks": len([f for f in findings if f["verdict"] == "leak"]),
        "bounded": len([f for f in findings if f["verdict"] == "bounded"]),
        "noise": len([f for f in findings if f["verdict"] == "noise"]),
    }
    for finding in findings:
        del finding["_site"]
    if ctx.totals["leaks"] and total_calls < FEW_CALLS:
        ctx.notes.append(
            "only %d measured calls: a cache that holds more entries than that is still filling up and "
            "looks like a leak; use more calls (--calls) to tell them apart" % total_calls
        )
    ctx.findings = findings


def growth_findings(series, representative, ctx):
    opts = ctx.options
    total_calls = float(opts.rounds * opts.calls)
    keys = set()
    for sizes in series:
        keys.update(k for k in sizes if k is not None)
    findings = []
    for site in keys:
        values = [sizes.get(site, [0, 0]) for sizes in series]
        nbytes = [v[0] for v in values]
        blocks = [v[1] for v in values]
        peak = max(b - nbytes[0] for b in nbytes)
        if peak < opts.min_bytes:
            continue
        deltas = [b - a for a, b in zip(nbytes, nbytes[1:])]
        block_deltas = [b - a for a, b in zip(blocks, blocks[1:])]
        total = nbytes[-1] - nbytes[0]
        finding = {
            "kind": "growth",
            "verdict": judge(deltas, opts.min_bytes),
            "location": ctx.attributor.location(site),
            "growth": {
                "bytes": total,
                "blocks": blocks[-1] - blocks[0],
                "bytesPerCall": round(total / total_calls, 2),
                "blocksPerCall": round((blocks[-1] - blocks[0]) / total_calls, 4),
                "roundBytes": deltas,
                "roundBlocks": block_deltas,
                "baselineBytes": nbytes[0],
                "finalBytes": nbytes[-1],
            },
            "traceback": ctx.attributor.frames(representative[site][1]) if site in representative else [],
            "attribution": "unconfirmed",
            "liveObjects": {"count": 0, "types": {}},
            "retention": None,
            "_site": site,
        }
        findings.append(finding)
    order = {"leak": 0, "bounded": 1, "noise": 2}
    findings.sort(key=lambda f: (order[f["verdict"]], -f["growth"]["bytes"], f["location"]["file"], f["location"]["line"]))
    if len(findings) > MAX_GROWTH_FINDINGS:
        ctx.notes.append("%d growing sites; the report keeps the first %d" % (len(findings), MAX_GROWTH_FINDINGS))
        del findings[MAX_GROWTH_FINDINGS:]
    return findings


def confirm_with_live_objects(findings, ctx):
    """Looks for live objects allocated at each leak site (tracing must still be on).

    A site with none is `unconfirmed`: CPython reuses freed blocks (free lists) and tracemalloc
    keeps the first allocation's traceback, so a line can be blamed for another line's growth.
    """
    wanted = {}
    for finding in findings:
        if finding["verdict"] == "leak":
            wanted[finding["_site"]] = finding
    # Sites that grew without new blocks only enlarged existing ones (a list's or dict's
    # storage resized by `append` or `d[k] = v`): there is no object of their own to find.
    new_blocks = set(site for site, f in wanted.items() if f["growth"]["blocks"] > 0)
    if not wanted:
        return
    found = {}
    approximate = {}
    counts = {}
    types_seen = {}

    def record(site, obj, approx):
        bucket = approximate if approx else found
        samples = bucket.setdefault(site, [])
        # An instance of a workspace class explains a retention path best.
        if len(samples) < MAX_SAMPLES:
            samples.append(obj)
        if is_workspace_instance(obj, ctx) and not is_workspace_instance(samples[0], ctx):
            samples[0] = obj
        counts[site] = counts.get(site, 0) + 1
        names = types_seen.setdefault(site, {})
        key = type_name(obj)
        names[key] = names.get(key, 0) + 1

    objects = gc.get_objects()
    try:
        for obj in objects:
            site, approx = ctx.attributor.object_site(obj)
            if site in wanted:
                record(site, obj, approx)
        missing = [s for s in wanted if s not in found and s in new_blocks]
        if missing:
            # Strings, numbers and bytes are not tracked by gc: look at what containers hold.
            missing_set = set(missing)
            seen = set()
            for obj in objects:
                try:
                    referents = gc.get_referents(obj)
                except Exception:
                    continue
                for ref in referents:
                    if gc.is_tracked(ref) or id(ref) in seen:
                        continue
                    seen.add(id(ref))
                    try:
                        tb = tracemalloc.get_object_traceback(ref)
                    except Exception:
                        tb = None
                    if tb is None:
                        continue
                    site = ctx.attributor.site(tb)
                    if site in missing_set:
                        record(site, ref, False)
    finally:
        del objects
    for site, finding in wanted.items():
        samples = found.get(site) or approximate.get(site)
        if found.get(site):
            finding["attribution"] = "confirmed"
        elif approximate.get(site):
            finding["attribution"] = "approximate"
        finding["liveObjects"] = {"count": counts.get(site, 0), "types": types_seen.get(site, {})}
        if samples:
            ctx.samples[site] = samples


def is_workspace_instance(obj, ctx):
    cls = type(obj)
    if isinstance(obj, type):
        return False
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    path = getattr(module, "__file__", None) if module is not None else None
    return bool(path) and ctx.workspace.contains(path) is not None


# --- cycles mode ------------------------------------------------------------------------------------


def strongly_connected(adjacency):
    """Tarjan's algorithm, iterative. Returns lists of node indices."""
    index_of = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = 0
    for start in range(len(adjacency)):
        if start in index_of:
            continue
        work = [(start, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            neighbours = adjacency[node]
            while edge < len(neighbours):
                nxt = neighbours[edge]
                edge += 1
                if nxt not in index_of:
                    work.append((node, edge))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index_of[nxt])
            if recurse:
                continue
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def measure_cycles(call, ctx):
    opts = ctx.options
    started = time.time()
    flags = gc.get_debug()
    saved = []
    groups = []
    tracemalloc.start(opts.frames)
    try:
        call_counted(call, opts.warmup, "the warm-up")
        gc.collect()
        before = len(gc.garbage)
        gc.set_debug(flags | gc.DEBUG_SAVEALL)
        try:
            call_counted(call, opts.calls, "the measured calls")
            gc.collect()
        finally:
            gc.set_debug(flags)
            saved = gc.garbage[before:]
            del gc.garbage[before:]
        measured = time.time() - started
        groups = cycle_groups(saved, ctx)
    finally:
        tracemalloc.stop()
        count_saved = len(saved)
        del saved[:]
        gc.collect()
    ctx.findings = groups
    ctx.totals = {
        "calls": opts.calls,
        "warmupCalls": opts.warmup,
        "seconds": round(measured, 3),
        "garbageObjects": count_saved,
        "cycles": sum(g["count"] for g in groups),
        "groups": len(groups),
        "withFinalizer": len([g for g in groups if g["finalizer"]["present"]]),
    }


def cycle_groups(saved, ctx):
    attributor = ctx.attributor
    index = {}
    for i, obj in enumerate(saved):
        index[id(obj)] = i
    # The graph first: reading `__dict__` on 3.11+ creates the dict an instance did not have,
    # after which the instance refers to that dict instead of its values.
    adjacency = []
    for obj in saved:
        try:
            adjacency.append([index[id(r)] for r in gc.get_referents(obj) if id(r) in index])
        except Exception:
            adjacency.append([])
    # On 3.8 instances keep attributes in a real __dict__ (5 objects for a parent<->child pair);
    # on 3.11+ the values hang off the instance (3 objects). Fold the dict into its owner.
    dict_owner = {}
    for i, obj in enumerate(saved):
        if isinstance(obj, (dict, type)):
            continue
        for j in adjacency[i]:
            if type(saved[j]) is dict and instance_dict(obj) is saved[j]:
                dict_owner[j] = i
    namespaces = ctx.script.namespace_ids if ctx.script is not None else set()
    groups = {}
    for component in strongly_connected(adjacency):
        if len(component) == 1 and component[0] not in adjacency[component[0]]:
            continue
        members = [saved[i] for i in component]
        if any(isinstance(m, dict) and id(m) in namespaces for m in members):
            continue  # a script namespace <-> its functions: not a cycle the target's code made
        sites = {}
        any_workspace = False
        for i in component:
            if i in dict_owner and dict_owner[i] in component:
                continue
            site, approx = attributor.object_site(saved[i])
            sites[i] = (site, approx)
            if site is not None:
                any_workspace = True
        if not any_workspace:
            continue
        visible = [i for i in component if i in sites]
        member_keys = {}
        for i in visible:
            site, approx = sites[i]
            member_keys[i] = (type_name(saved[i]), site, approx)
        edges = set()
        members_set = set(component)
        for i in visible:
            targets = list(adjacency[i])
            for j in list(targets):
                if j in dict_owner and dict_owner[j] == i:
                    targets.extend(adjacency[j])
            for j in targets:
                if j not in members_set:
                    continue
                if j in dict_owner and j not in sites:
                    continue
                if j not in member_keys:
                    continue
                label = edge_label(saved[i], saved[j])
                edges.add((member_keys[i], label, member_keys[j]))
        signature = (tuple(sorted(member_keys.values(), key=_member_sort)), tuple(sorted(edges, key=_edge_sort)))
        group = groups.get(signature)
        if group is None:
            group = groups[signature] = {"count": 0, "size": len(visible), "members": list(member_keys.values()), "edges": edges, "objects": [saved[i] for i in visible]}
        group["count"] += 1
    out = []
    calls = float(ctx.options.calls)
    for signature, group in groups.items():
        out.append(describe_cycle(group, calls, ctx))
    out.sort(key=lambda f: (-f["count"], f["location"]["file"] if f["location"] else "", f["location"]["line"] if f["location"] else 0))
    if len(out) > MAX_CYCLE_GROUPS:
        ctx.notes.append("%d kinds of cycles; the report keeps the first %d" % (len(out), MAX_CYCLE_GROUPS))
        del out[MAX_CYCLE_GROUPS:]
    return out


def _member_sort(key):
    name, site, approx = key
    return (name, site or ("", 0), approx)


def _edge_sort(edge):
    return (_member_sort(edge[0]), edge[1], _member_sort(edge[2]))


def describe_cycle(group, calls, ctx):
    distinct = []
    counts = {}
    for key in group["members"]:
        if key not in counts:
            distinct.append(key)
            counts[key] = 0
        counts[key] += 1
    ws_types = set(type_name(o) for o in group["objects"] if is_workspace_instance(o, ctx))
    # Instances of the user's classes first: the first located one is where the cycle is shown.
    distinct.sort(key=lambda k: (k[1] is None, k[0] not in ws_types, k[2], _member_sort(k)))
    position = dict((key, i) for i, key in enumerate(distinct))
    members = []
    for key in distinct[:MAX_MEMBERS]:
        name, site, approx = key
        members.append({
            "type": name,
            "count": counts[key],
            "site": ctx.attributor.location(site) if site else None,
            "approximate": bool(approx),
        })
    files = set()
    for key in distinct:
        if key[1] is not None:
            files.add(key[1][0])
    class_files = set()
    finalizers = []
    for obj in group["objects"]:
        cls = type(obj)
        module = sys.modules.get(getattr(cls, "__module__", "") or "")
        path = getattr(module, "__file__", None) if module else None
        real = ctx.workspace.contains(path) if path else None
        if real:
            class_files.add(real)
        if not isinstance(obj, type) and getattr(cls, "__del__", None) is not None and cls.__module__ != "builtins":
            name = "%s.__del__" % cls.__qualname__
            if name not in finalizers:
                finalizers.append(name)
    search_files = sorted(files | class_files)
    edges = []
    for src, label, dst in sorted(group["edges"], key=_edge_sort):
        if src not in position or dst not in position or position[src] >= MAX_MEMBERS or position[dst] >= MAX_MEMBERS:
            continue
        edge = {"from": position[src], "to": position[dst], "label": label or "(ref)"}
        if label.startswith(".") and re.match(r"^\.[A-Za-z_]\w*$", label):
            assigned = []
            for path in search_files:
                for line in ctx.sources.attribute_assignments(path, label[1:]):
                    assigned.append({"file": path, "line": line, "function": ctx.sources.function_at(path, line)})
            if assigned:
                edge["assignedAt"] = assigned[:10]
        edges.append(edge)
        if len(edges) >= MAX_EDGES:
            break
    located = [m for m in members if m["site"] is not None]
    location = located[0]["site"] if located else None
    if location is None:
        location = {"file": "", "line": 0, "function": None}
    return {
        "kind": "cycle",
        "verdict": "cycle",
        "location": location,
        "count": group["count"],
        "perCall": round(group["count"] / calls, 4),
        "size": group["size"],
        "members": members,
        "edges": edges,
        "finalizer": {"present": bool(finalizers), "types": finalizers},
        # PEP 442 (3.4+): cycles with __del__ are collected, only later, at a GC pause.
        "collection": "freed late, at a GC pause" if finalizers else "freed at the next GC pause",
        "attribution": "approximate" if any(m["approximate"] for m in members if m["site"] is not None) and not any(not m["approximate"] for m in members if m["site"] is not None) else "confirmed",
    }


# --- pytest --------------------------------------------------------------------------------------


# --- resources ---------------------------------------------------------------------------------

MAX_RESOURCE_SITES = 100
MAX_RESOURCE_EXAMPLES = 3


def resource_kind(message, obj_type):
    """file / socket / subprocess / other, from the warning's text (then the object's type)."""
    text = message.lower()
    if text.startswith("unclosed file") or "textiowrapper" in text or "bufferedreader" in text or "fileio" in text:
        return "file"
    if "socket" in text:
        return "socket"
    if text.startswith("subprocess ") or "popen" in text:
        return "subprocess"
    lowered = (obj_type or "").lower()
    for word, kind in (("socket", "socket"), ("popen", "subprocess"), ("io.", "file"), ("wrapper", "file")):
        if word in lowered:
            return kind
    return "other"


class ResourceCapture:
    """Records every ResourceWarning while active: the ones the warnings machinery shows (filter
    forced to "always") and the ones raised out of a `__del__` (sys.unraisablehook). For each:
    the text, the object's type and the tracemalloc traceback of the object, taken at once so
    that the dying object is not kept alive by the record."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.records = []
        self.other_unraisable = 0
        self._catcher = None
        self._saved_hook = None
        self._saved_impl = None

    def _record(self, message, obj, where, via):
        obj_type = type_name(obj) if obj is not None else None
        tb = None
        approximate = False
        site = None
        if obj is not None:
            site, approximate, tb = self.ctx.attributor.object_origin(obj, library_classes=True)
        self.records.append({
            "message": message,
            "type": obj_type,
            "site": site,
            "approximate": approximate,
            "traceback": [f for f in self.ctx.attributor.frames(tb) if f["file"] != RUNNER_FILE] if tb is not None else [],
            "where": where,
            "via": via,
        })

    def _show(self, msg):
        category = getattr(msg, "category", None)
        if isinstance(category, type) and issubclass(category, ResourceWarning):
            source = getattr(msg, "source", None)
            try:
                where = self.ctx.workspace.contains(msg.filename)
                where = (where, msg.lineno) if where is not None else None
                self._record(str(msg.message), source, where, "warning")
            finally:
                source = None
                msg = None
            return
        # Any other warning is shown as the program would have shown it.
        self._saved_impl(msg)

    def _unraisable(self, unraisable):
        exc_type = getattr(unraisable, "exc_type", None)
        if not (isinstance(exc_type, type) and issubclass(exc_type, ResourceWarning)):
            self.other_unraisable += 1
            self._saved_hook(unraisable)
            return
        obj = getattr(unraisable, "object", None)
        tb = getattr(unraisable, "exc_traceback", None)
        where = None
        if isinstance(obj, (types.FunctionType, types.MethodType)) or obj is None:
            # Raised in `__del__`: the object is that method's `self`.
            owner = None
            while tb is not None:
                frame = tb.tb_frame
                real = self.ctx.workspace.contains(frame.f_code.co_filename)
                if real is not None:
                    where = (real, tb.tb_lineno)
                    if owner is None:
                        owner = frame.f_locals.get("self")
                tb = tb.tb_next
            obj = owner
        try:
            self._record(str(getattr(unraisable, "exc_value", "")) or exc_type.__name__, obj, where, "unraisable")
        finally:
            obj = owner = unraisable = None

    def __enter__(self):
        import warnings

        if not hasattr(warnings, "_showwarnmsg_impl"):
            raise RunnerError("this Python's warnings module has no _showwarnmsg_impl: the resources mode cannot capture warnings", "interpreter")
        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        # The same hook catch_warnings(record=True) replaces: the last step of showing a warning,
        # which receives the WarningMessage with its `source` (the object being finalized).
        self._saved_impl = warnings._showwarnmsg_impl
        warnings._showwarnmsg_impl = self._show
        warnings.simplefilter("always", ResourceWarning)
        self._saved_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self._saved_hook
        self._catcher.__exit__(*exc)
        return False


def measure_resources(call, ctx):
    opts = ctx.options
    started = time.time()
    capture = ResourceCapture(ctx)
    tracemalloc.start(opts.frames)
    try:
        call_counted(call, opts.warmup, "the warm-up")
        gc.collect()
        with capture:
            call_counted(call, opts.calls, "the measured calls")
            if ctx.script is not None:
                # Growth keeps the last run's globals alive; here they are dropped like the others.
                ctx.script.last = None
            # Objects in reference cycles are finalized (and warn) only when collected.
            gc.collect()
            gc.collect()
        measured = time.time() - started
    finally:
        tracemalloc.stop()
    groups = {}
    unattributed = 0
    for record in capture.records:
        kind = resource_kind(record["message"], record["type"])
        site = record["site"]
        attribution = "approximate" if record["approximate"] else "confirmed"
        if site is None and record["where"] is not None:
            # Allocated outside the workspace (or before tracing): the line that dropped it.
            site = record["where"]
            attribution = "released"
        if site is None:
            unattributed += 1
            site = None
        key = (site, kind)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "kind": "resource",
                "verdict": "unclosed",
                "resource": kind,
                "location": ctx.attributor.location(site) if site is not None else None,
                "count": 0,
                "perCall": 0,
                "types": {},
                "messages": [],
                "traceback": record["traceback"],
                "attribution": attribution,
                "releasedAt": [],
                "via": record["via"],
            }
        group["count"] += 1
        if record["type"]:
            group["types"][record["type"]] = group["types"].get(record["type"], 0) + 1
        if len(group["messages"]) < MAX_RESOURCE_EXAMPLES and record["message"] not in group["messages"]:
            group["messages"].append(record["message"])
        if record["where"] is not None and attribution != "released":
            released = ctx.attributor.location(record["where"])
            if released not in group["releasedAt"] and len(group["releasedAt"]) < MAX_RESOURCE_EXAMPLES:
                group["releasedAt"].append(released)
        if not group["traceback"] and record["traceback"]:
            group["traceback"] = record["traceback"]
    findings = [g for g in groups.values() if g["location"] is not None]
    for finding in findings:
        finding["perCall"] = round(finding["count"] / float(opts.calls), 3)
    findings.sort(key=lambda f: (-f["count"], f["location"]["file"], f["location"]["line"]))
    if len(findings) > MAX_RESOURCE_SITES:
        ctx.notes.append("%d allocation sites of unclosed resources; the report keeps the first %d" % (len(findings), MAX_RESOURCE_SITES))
        del findings[MAX_RESOURCE_SITES:]
    if unattributed:
        ctx.notes.append(
            "%d unclosed resource%s allocated and released outside the workspace (or before tracing started): "
            "not reported by line" % (unattributed, "" if unattributed == 1 else "s")
        )
    if capture.other_unraisable:
        ctx.notes.append("%d other exception%s ignored in finalizers (shown on stderr)" % (capture.other_unraisable, "" if capture.other_unraisable == 1 else "s"))
    ctx.findings = findings
    ctx.totals = {
        "calls": opts.calls,
        "warmupCalls": opts.warmup,
        "seconds": round(measured, 3),
        "warnings": len(capture.records),
        "unclosed": sum(f["count"] for f in findings),
        "sites": len(findings),
        "unattributed": unattributed,
    }


def run_pytest(target, ctx, measure):
    try:
        import pytest
    except ImportError as error:
        raise RunnerError(
            "pytest is not importable in %s (%s): install pytest in that environment to run the test %s "
            "with its fixtures, or give `%s:%s` to call a test function that takes no fixtures directly"
            % (sys.executable, error, target.nodeid, target.nodeid.split("::", 1)[0], target.nodeid.split("::")[-1].split("[")[0]),
            "pytest-missing",
        )

    class LeakLensPlugin:
        def __init__(self):
            self.items = []
            self.ran = False
            self.failure = None
            self.collect_errors = []

        def pytest_collectreport(self, report):
            if report.failed:
                lines = [l.strip() for l in str(report.longrepr).splitlines() if l.strip()]
                errors = [l for l in lines if re.match(r"^E\s+\w*(Error|Exception)\b", l) or re.match(r"^\w*(Error|Exception):", l)]
                self.collect_errors.append((errors or lines or ["collection failed"])[-1].lstrip("E").strip())

        def pytest_collection_modifyitems(self, session, config, items):
            self.items = [item.nodeid for item in items]
            if len(items) > 1:
                ctx.notes.append("%d tests matched %s; measured the first: %s" % (len(items), target.nodeid, items[0].nodeid))
                del items[1:]

        @pytest.hookimpl(tryfirst=True)
        def pytest_pyfunc_call(self, pyfuncitem):
            if self.ran:
                return None
            self.ran = True
            function = pyfuncitem.obj
            if inspect.iscoroutinefunction(function):
                raise RunnerError("async test functions are not supported (%s)" % pyfuncitem.nodeid, "target")
            funcargs = pyfuncitem.funcargs
            info = getattr(pyfuncitem, "_fixtureinfo", None)
            names = list(getattr(info, "argnames", None) or inspect.signature(function).parameters)
            arguments = dict((name, funcargs[name]) for name in names if name in funcargs)
            ctx.watch_module = getattr(pyfuncitem, "module", None)
            target.module = ctx.watch_module

            def call():
                function(**arguments)

            try:
                measure(call, ctx)
            except TargetFailure as failure:
                self.failure = failure
                raise failure.error
            except RunnerError as error:
                self.failure = error
                raise
            return True

    plugin = LeakLensPlugin()
    # The file part as an absolute path: pytest resolves node ids from the current folder.
    nodeid = target.file + "::" + target.nodeid.split("::", 1)[1]
    args = [nodeid, "-p", "no:cacheprovider", "-s", "-q", "--no-header"]
    code = pytest.main(args, plugins=[plugin])
    if isinstance(plugin.failure, TargetFailure):
        raise plugin.failure
    if isinstance(plugin.failure, RunnerError):
        raise plugin.failure
    if not plugin.ran:
        status = int(code)
        if plugin.items:
            reason = "the test was skipped or its fixtures failed (see the output)"
        elif plugin.collect_errors:
            reason = "pytest could not collect it: %s" % plugin.collect_errors[0]
        elif status in (2, 3):
            reason = "pytest could not collect it (see the output)"
        else:
            reason = "no test matched"
        raise RunnerError("pytest did not run %s (exit status %d): %s" % (target.nodeid, status, reason), "pytest")


# --- main --------------------------------------------------------------------------------------


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_arguments(argv):
    script_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    parser = _Parser(prog="leaklens_runner.py", description="LeakLens run-time runner (see the module docstring).")
    parser.add_argument("mode", choices=["growth", "cycles", "resources"])
    parser.add_argument("target")
    parser.add_argument("--report", required=True, help="where to write the JSON report")
    parser.add_argument("--workspace", default=None, help="folder whose source files count as the user's code (default: the current folder)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--min-bytes", type=int, default=DEFAULT_MIN_BYTES, dest="min_bytes")
    parser.add_argument("--watch", action="append", default=[], help="a module global or class attribute whose length to follow (repeatable)")
    options = parser.parse_args(argv)
    options.script_args = script_args
    return options


def interpreter_info():
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sys.platform,
    }


def parameters(options):
    out = {"warmup": options.warmup, "calls": options.calls, "frames": options.frames}
    if options.mode == "growth":
        out["rounds"] = options.rounds
        out["minBytes"] = options.min_bytes
    if options.watch:
        out["watch"] = list(options.watch)
    return out


def write_report(path, report):
    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False, default=str)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.write("\n")
    os.replace(temporary, path)


def validate(options):
    problems = []
    for name in ("warmup", "calls", "rounds"):
        value = getattr(options, name)
        minimum = 0 if name == "warmup" else 1
        if name == "rounds" and options.mode == "growth":
            minimum = 2
        if value is not None and value < minimum:
            problems.append("--%s must be at least %d" % (name, minimum))
    if options.frames < 1 or options.frames > 1000:
        problems.append("--frames must be between 1 and 1000")
    if options.min_bytes < 1:
        problems.append("--min-bytes must be at least 1")
    return problems


def usage_failure(argv, message):
    """Bad command line: a report when --report can be found, else a message on stderr."""
    report_path = None
    for i, arg in enumerate(argv):
        if arg == "--report" and i + 1 < len(argv):
            report_path = argv[i + 1]
        elif arg.startswith("--report="):
            report_path = arg[len("--report="):]
    if report_path:
        report = {
            "schema": "leaklens-runtime-report",
            "schemaVersion": SCHEMA_VERSION,
            "runner": {"version": RUNNER_VERSION, "file": RUNNER_FILE},
            "interpreter": interpreter_info(),
            "mode": None,
            "target": {"spec": None, "kind": None},
            "workspace": os.path.realpath(os.getcwd()),
            "parameters": {},
            "totals": {},
            "findings": [],
            "watches": [],
            "errors": [{"kind": "usage", "message": message}],
            "notes": [],
            "exitCode": EXIT_ERROR,
            "seconds": 0,
        }
        try:
            write_report(report_path, report)
            return EXIT_ERROR
        except (OSError, ValueError):
            pass
    sys.stderr.write("leaklens_runner: %s\n" % message)
    return EXIT_ERROR


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        options = parse_arguments(argv)
    except UsageError as error:
        return usage_failure(argv, str(error))
    started = time.time()
    workspace_dir = os.path.abspath(options.workspace or os.getcwd())
    report = {
        "schema": "leaklens-runtime-report",
        "schemaVersion": SCHEMA_VERSION,
        "runner": {"version": RUNNER_VERSION, "file": RUNNER_FILE},
        "interpreter": interpreter_info(),
        "mode": options.mode,
        "target": {"spec": options.target, "kind": None},
        "workspace": os.path.realpath(workspace_dir),
        "parameters": {},
        "totals": {},
        "findings": [],
        "watches": [],
        "errors": [],
        "notes": [],
    }
    ctx = None
    status = EXIT_ERROR
    try:
        problems = validate(options)
        if problems:
            raise RunnerError("; ".join(problems), "usage")
        if platform.python_implementation() != "CPython":
            raise RunnerError("LeakLens needs CPython's tracemalloc and gc (this is %s)" % platform.python_implementation(), "interpreter")
        if sys.version_info < (3, 8):
            raise RunnerError("LeakLens needs Python 3.8 or newer (this is %s)" % platform.python_version(), "interpreter")
        if not os.path.isdir(workspace_dir):
            raise RunnerError("no such workspace folder: %s" % workspace_dir, "usage")
        target = Target(options.target, workspace_dir)
        defaults = (SCRIPT_DEFAULTS if target.kind == "script" else DEFAULTS)[options.mode]
        for name in ("warmup", "rounds", "calls"):
            if getattr(options, name) is None:
                setattr(options, name, defaults[name])
        report["parameters"] = parameters(options)
        workspace = Workspace([workspace_dir])
        if target.file:
            workspace.add_root(os.path.dirname(target.file))
        report["workspace"] = workspace.roots[0]
        if workspace_dir not in sys.path:
            sys.path.insert(0, workspace_dir)
        ctx = Context(options, workspace, SourceIndex(), target)
        # Names are followed between growth rounds only.
        ctx.watches = [Watch(spec) for spec in options.watch] if options.mode != "resources" else []
        measure = {"growth": measure_growth, "cycles": measure_cycles, "resources": measure_resources}[options.mode]
        if target.kind == "pytest":
            run_pytest(target, ctx, measure)
        else:
            if target.kind == "script":
                call = ScriptRunner(target.file, options.script_args)
                ctx.script = call
            else:
                function = resolve_function(target)
                ctx.watch_module = target.module
                call = make_caller(function, target)
            try:
                measure(call, ctx)
            finally:
                closer = getattr(call, "close", None)
                if closer is not None:
                    closer()
        ctx.measured = True
        report["findings"] = ctx.findings
        report["watches"] = [w.report(options.calls) for w in ctx.watches]
        report["totals"] = ctx.totals
        if options.mode == "growth":
            status = EXIT_FINDINGS if any(f["verdict"] == "leak" for f in ctx.findings) else EXIT_CLEAN
        else:
            status = EXIT_FINDINGS if ctx.findings else EXIT_CLEAN
        report["target"] = target.describe()
    except TargetFailure as failure:
        report["errors"].append({
            "kind": "target-raised",
            "message": "the target raised %s during %s, call %d" % (failure, failure.phase, failure.index),
            "traceback": failure.tb,
        })
        status = EXIT_ERROR
    except RunnerError as error:
        report["errors"].append({"kind": error.kind, "message": str(error)})
        status = EXIT_ERROR
    except SystemExit as stop:
        report["errors"].append({"kind": "target-exit", "message": "the target called sys.exit(%r)" % (stop.code,)})
        status = EXIT_ERROR
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            report["errors"].append({"kind": "interrupted", "message": "interrupted"})
        else:
            report["errors"].append({
                "kind": "runner",
                "message": "%s: %s" % (type(error).__name__, error),
                "traceback": traceback.format_exc(),
            })
        status = EXIT_ERROR
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    if ctx is not None:
        report["errors"].extend(ctx.errors)
        report["notes"].extend(ctx.notes)
        if report["target"].get("kind") is None:
            report["target"] = ctx.target.describe()
    if report["errors"]:
        status = EXIT_ERROR
    report["exitCode"] = status
    report["seconds"] = round(time.time() - started, 3)
    try:
        write_report(options.report, report)
    except (OSError, ValueError, TypeError) as error:
        sys.stderr.write("leaklens_runner: cannot write the report to %s: %s\n" % (options.report, error))
        return EXIT_ERROR
    return status


if __name__ == "__main__":
    sys.exit(main())
