"""The target: reading its spec (`file.py:func`, `pkg.mod:func(args)`, a pytest node id, a script),
its argument list, importing it, the no-argument caller the measurements call, scripts run afresh
as `__main__`, and pytest tests run with their fixtures."""

import ast
import builtins
import importlib
import importlib.util
import inspect
import os
import re
import sys
import types

from .common import RunnerError
from .context import TargetFailure


FUNCTION_SPEC = re.compile(r"^(?P<left>.+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")
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
            match = FUNCTION_SPEC.match(spec)
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
            namespace = {"__builtins__": builtins}
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
        module.__builtins__ = builtins
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
