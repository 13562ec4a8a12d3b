"""Whole test suites: a folder or a test file as the target. Its tests are collected (pytest's own
collection when pytest is importable, else unittest TestCase methods and plain `test_*`
functions), then run one after the other in this process, each measured on its own (its own
warm-up, rounds and snapshots in growth mode, its own capture in resources mode) under a time
limit; the report gets a `suite` section listing every test, the leaking ones first."""

import ast
import gc
import inspect
import os
import signal
import sys
import threading
import time
import traceback
import unittest

from .common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, RunnerError
from .context import Context, TargetFailure
from .growth import measure_growth
from .report import finish_report, parameters
from .resources import measure_resources
from .targets import import_file
from .workspace import SourceIndex, Workspace

# Suites are big: fewer calls per test than one target gets. Growth needs at least 2 rounds to
# judge; 3 rounds of 10 calls after 2 warm-up calls tell a test that keeps something on every call
# from one that fills a small cache once. Resources needs one call to see an unclosed resource;
# 2 tell "per call" from "once".
SUITE_DEFAULTS = {
    "growth": {"warmup": 2, "rounds": 3, "calls": 10},
    "resources": {"warmup": 0, "rounds": 1, "calls": 2},
}
DEFAULT_TEST_TIMEOUT = 60.0
OUTCOMES = ("passed", "failed", "timeout", "skipped")
# Folders no collector enters (pytest's norecursedirs, roughly).
SKIPPED_FOLDERS = ("node_modules", "venv", "build", "dist", "site-packages", "__pycache__", "CVS", "_darcs")
MAX_MESSAGE = 2000


def is_test_file_name(name):
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def suite_path(spec, workspace_dir):
    """The real path of a folder or a test file (`test_*.py`, `*_test.py`) named by `spec`, else
    None (a function, a node id, a script)."""
    spec = spec.strip()
    if not spec or "::" in spec:
        return None
    candidates = [spec] if os.path.isabs(spec) else [os.path.join(workspace_dir, spec), spec]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
        if os.path.isfile(candidate) and is_test_file_name(os.path.basename(candidate)):
            return os.path.realpath(candidate)
    return None


def test_files(path):
    """The test files of a folder (sorted, depth first), or the file itself."""
    if os.path.isfile(path):
        return [path]
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS and not d.endswith(".egg"))
        for name in sorted(files):
            if is_test_file_name(name):
                found.append(os.path.join(folder, name))
    return found


def def_lines(path):
    """{"func": line, "Class.method": line} of a file's definitions: the `def` line, not a decorator's."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines = {}

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                lines.setdefault(name, child.lineno)
                if isinstance(child, ast.ClassDef):
                    walk(child, name + ".")

    walk(tree, "")
    return lines


def nodeid_function(nodeid):
    """`tests/t.py::Class::test_x[2]` -> `Class.test_x` (the name to find the def line by)."""
    parts = nodeid.split("::")[1:]
    if parts:
        parts[-1] = parts[-1].split("[", 1)[0]
    return ".".join(parts)


def relative_nodeid(path, workspace_dir):
    rel = os.path.relpath(path, workspace_dir)
    if rel.startswith(".."):
        rel = path
    return rel.replace(os.sep, "/")


class TestTimeout(BaseException):
    """Raised in the main thread when a test is over its time limit. A BaseException, so that a
    test's own `except Exception` does not swallow it."""


class SkipRequested(Exception):
    pass


class TestFailed(Exception):
    """A unittest test that failed in its own machinery (the text is unittest's traceback)."""

    def __init__(self, text):
        Exception.__init__(self, text.strip().splitlines()[-1] if text.strip() else "failed")
        self.text = text


def outcome_of(error, timed_out):
    """The outcome of a test from what stopped it (None: nothing, it passed)."""
    if timed_out or isinstance(error, TestTimeout):
        return "timeout"
    if error is None:
        return "passed"
    if isinstance(error, (unittest.SkipTest, SkipRequested)) or type(error).__name__ == "Skipped":
        return "skipped"
    return "failed"


def test_verdict(mode, findings):
    """growth: leak / bounded / clean; resources: unclosed / clean."""
    if mode == "resources":
        return "unclosed" if findings else "clean"
    verdicts = set(f.get("verdict") for f in findings)
    if "leak" in verdicts:
        return "leak"
    if "bounded" in verdicts:
        return "bounded"
    return "clean"


_RANK = {"leak": 0, "unclosed": 0, "bounded": 1, "clean": 2}
_OUTCOME_RANK = {"failed": 3, "timeout": 3, "skipped": 4}


def order_tests(tests):
    """Worst first: leaking tests by bytes per call (unclosed count), then bounded, clean, failed
    or timed out, skipped; the collection order among equals."""
    def key(item):
        index, test = item
        if test["outcome"] == "passed":
            rank = _RANK.get(test.get("verdict"), 2)
        else:
            rank = _OUTCOME_RANK.get(test["outcome"], 4)
        size = test.get("bytesPerCall") or 0
        if test.get("unclosed") is not None:
            size = test["unclosed"]
        return (rank, -size, index)

    return [test for _, test in sorted(enumerate(tests), key=key)]


def format_bytes(n):
    sign = "-" if n < 0 else "+"
    n = abs(n)
    if n < 1024:
        return "%s%d B" % (sign, round(n))
    if n < 1024 * 1024:
        return "%s%.1f KiB" % (sign, n / 1024.0)
    return "%s%.1f MiB" % (sign, n / (1024.0 * 1024.0))


def progress_text(test, mode):
    """`tests/test_x.py::test_y: leak +2.1 KiB per call` (one line of the stderr progress)."""
    outcome = test["outcome"]
    if outcome == "timeout":
        what = "timed out"
    elif outcome == "skipped":
        what = "skipped" + (": %s" % test["message"] if test.get("message") else "")
    elif outcome == "failed":
        what = "failed" + (": %s" % test["message"].splitlines()[0] if test.get("message") else "")
    elif mode == "resources":
        what = "%d unclosed" % test["unclosed"] if test["unclosed"] else "clean"
    elif test["verdict"] == "leak":
        what = "leak %s per call" % format_bytes(test["bytesPerCall"])
    else:
        what = test["verdict"]
    return "%s: %s" % (test["nodeid"], what)


class Clock:
    """The per-test time limit, on the test's own time: its calls, set-up and tear-down count, the
    runner's snapshots and retention paths between them do not (`pause`/`resume`). SIGALRM through
    setitimer where the platform has it (the tests run in the main thread); elsewhere the limit is
    checked when the test ends."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.timed_out = False
        self.interrupts = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
        self._saved = None
        self._spent = 0.0
        self._since = None
        self._started = None

    def _fire(self, signum, frame):
        self.timed_out = True
        raise TestTimeout("over the time limit of %g s" % self.seconds)

    def start(self, running=True):
        """A new test: its time starts running (or at the first `resume`)."""
        self.timed_out = False
        self._spent = 0.0
        self._started = time.time()
        if self.interrupts and self.seconds > 0:
            self._saved = signal.signal(signal.SIGALRM, self._fire)
        if running:
            self.resume()

    def resume(self):
        if self._since is not None:
            return
        self._since = time.time()
        if self.interrupts and self.seconds > 0 and not self.timed_out:
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds - self._spent, 0.001))

    def pause(self):
        if self._since is None:
            return
        if self.interrupts and self.seconds > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self._spent += time.time() - self._since
        self._since = None
        if self.seconds > 0 and self._spent > self.seconds:
            self.timed_out = True

    def timed(self, call):
        """`call` with the clock running only while it runs."""
        def run():
            self.resume()
            try:
                return call()
            finally:
                self.pause()

        return run

    def stop(self):
        """The test is over: the seconds it took in all (the runner's work included)."""
        self.pause()
        if self._saved is not None:
            signal.signal(signal.SIGALRM, self._saved)
            self._saved = None
        return time.time() - (self._started or time.time())


class Cancel:
    """SIGINT and SIGTERM stop the suite inside the current test (KeyboardInterrupt); the flag
    stops it after the test too when the test swallowed the interrupt."""

    def __init__(self):
        self.requested = False
        self._saved = {}

    def _handle(self, signum, frame):
        self.requested = True
        raise KeyboardInterrupt()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM"):
                number = getattr(signal, name, None)
                if number is not None:
                    try:
                        self._saved[number] = signal.signal(number, self._handle)
                    except (OSError, ValueError):
                        pass
        return self

    def __exit__(self, *exc):
        for number, handler in self._saved.items():
            signal.signal(number, handler)
        return False


class SuiteRun:
    """The state of one suite run: the tests done, the per-test measurement and its record."""

    def __init__(self, options, workspace, sources, workspace_dir, path):
        self.options = options
        self.workspace = workspace
        self.sources = sources
        self.workspace_dir = workspace_dir
        self.path = path
        self.mode = options.mode
        self.measure = {"growth": measure_growth, "resources": measure_resources}[options.mode]
        self.clock = Clock(options.test_timeout)
        self.cancel = Cancel()
        self.tests = []
        self.total = 0
        self.notes = []
        self.collector = None
        self._lines = {}

    def line_of(self, path, nodeid):
        if path not in self._lines:
            self._lines[path] = def_lines(path)
        name = nodeid_function(nodeid)
        lines = self._lines[path]
        return lines.get(name) or lines.get(name.split(".")[-1])

    def context(self, nodeid, path):
        ctx = Context(self.options, self.workspace, self.sources, _TestTarget(nodeid, path))
        return ctx

    def progress(self, text):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def collected(self, count):
        self.total = count
        self.progress("[0/%d] collected %d test%s in %s" % (count, count, "" if count == 1 else "s", relative_nodeid(self.path, self.workspace_dir)))

    def record(self, nodeid, path, outcome, ctx=None, seconds=0.0, message=None, tb=None):
        test = {
            "nodeid": nodeid,
            "file": os.path.realpath(path) if path else None,
            "line": self.line_of(path, nodeid) if path else None,
            "outcome": outcome,
            "verdict": None,
            "findings": [],
            "seconds": round(seconds, 3),
        }
        if self.mode == "growth":
            test["bytesPerCall"] = 0
        else:
            test["unclosed"] = 0
        if outcome == "passed" and ctx is not None:
            findings = ctx.findings
            test["verdict"] = test_verdict(self.mode, findings)
            test["findings"] = findings
            if self.mode == "growth":
                test["bytesPerCall"] = round(sum(f["growth"]["bytesPerCall"] for f in findings if f["verdict"] == "leak"), 2)
            else:
                test["unclosed"] = sum(f["count"] for f in findings)
            test["totals"] = ctx.totals
        if ctx is not None:
            notes = list(ctx.notes)
            errors = [e["message"] for e in ctx.errors]
            if notes or errors:
                test["notes"] = notes + errors
        if message:
            test["message"] = message[:MAX_MESSAGE]
        if tb:
            test["traceback"] = tb
        self.tests.append(test)
        self.progress("[%d/%d] %s" % (len(self.tests), max(self.total, len(self.tests)), progress_text(test, self.mode)))
        return test

    def measured(self, nodeid, path, call, setup=None, teardown=None):
        """Measures one test (`call` runs it once) under the time limit; records its outcome."""
        gc.collect()
        ctx = self.context(nodeid, path)
        error = None
        tb = None
        self.clock.start()
        try:
            try:
                if setup is not None:
                    setup()
                self.clock.pause()
                try:
                    self.measure(self.clock.timed(call), ctx)
                finally:
                    self.clock.resume()
                    if teardown is not None:
                        teardown()
            finally:
                seconds = self.clock.stop()
        except TargetFailure as failure:
            error, tb = failure.error, failure.tb
        except RunnerError as failure:
            error = failure
        except KeyboardInterrupt:
            raise
        except BaseException as failure:
            error, tb = failure, traceback.format_exc()
        outcome = outcome_of(error, self.clock.timed_out)
        message = None
        if outcome == "timeout":
            message = "over the time limit of %g s (--test-timeout)" % self.clock.seconds
            tb = None
        elif isinstance(error, TestFailed):
            message, tb = str(error), error.text
        elif outcome == "skipped":
            message = str(error) or None
        elif error is not None:
            message = _exception_text(error)
        self.record(nodeid, path, outcome, ctx if outcome == "passed" else None, seconds, message, tb if outcome == "failed" else None)


class _TestTarget:
    """What a Context needs of its target, for one test."""

    def __init__(self, nodeid, path):
        self.spec = nodeid
        self.kind = "test"
        self.file = path
        self.module = None

    def describe(self):
        return {"spec": self.spec, "kind": "pytest", "file": self.file, "nodeid": self.spec}


def _exception_text(error):
    text = "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__
    return text


def pytest_available():
    try:
        import pytest  # noqa: F401
    except ImportError:
        return False
    return True


# --- without pytest: unittest's TestCase methods and plain test functions ---------------------------


def collect_unittest(path, workspace_dir):
    """[(nodeid, file, kind, obj, name)] of the test files under `path` (imported), and the
    collection errors [(nodeid, file, message, traceback)]."""
    loader = unittest.TestLoader()
    tests = []
    errors = []
    for file in test_files(path):
        base = relative_nodeid(file, workspace_dir)
        try:
            module = import_file(file)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            errors.append((base, file, "cannot import %s: %s" % (base, _exception_text(error)), traceback.format_exc()))
            continue
        entries = []
        for name, obj in list(vars(module).items()):
            if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj.__module__ == module.__name__:
                for method in loader.getTestCaseNames(obj):
                    entries.append((_first_line(getattr(obj, method, None)), "%s::%s::%s" % (base, name, method), "case", obj, method))
            elif name.startswith("test") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
                entries.append((_first_line(obj), "%s::%s" % (base, name), "function", obj, name))
        # Functions in definition order; the methods of a class in unittest's order, after the class's line.
        entries.sort(key=lambda e: (e[0] if e[2] == "function" else _first_line(e[3]), e[2] == "case"))
        tests.extend((nodeid, file, kind, obj, name) for _, nodeid, kind, obj, name in entries)
    return tests, errors


def _first_line(obj):
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_firstlineno
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


def case_caller(cls, name):
    """One run of a TestCase method through unittest itself (setUp, tearDown, cleanups, skips);
    a failure or an error is raised as TestFailed, a skip as SkipRequested."""

    def call():
        result = unittest.TestResult()
        cls(name).run(result)
        problems = result.errors + result.failures + [(t, "unexpected success") for t in result.unexpectedSuccesses]
        if problems:
            raise TestFailed(problems[0][1])
        if result.skipped:
            raise SkipRequested(result.skipped[0][1])

    return call


def run_unittest(run):
    run.collector = "unittest"
    tests, errors = collect_unittest(run.path, run.workspace_dir)
    run.collected(len(tests) + len(errors))
    for nodeid, file, message, tb in errors:
        run.record(nodeid, file, "failed", message=message, tb=tb)
    for nodeid, file, kind, obj, name in tests:
        if run.cancel.requested:
            break
        if kind == "case":
            if getattr(obj, "__unittest_skip__", False):
                run.record(nodeid, file, "skipped", message=getattr(obj, "__unittest_skip_why__", "") or None)
                continue
            run.measured(nodeid, file, case_caller(obj, name), setup=obj.setUpClass, teardown=obj.tearDownClass)
        else:
            required = _required_parameters(obj)
            if required:
                run.record(nodeid, file, "skipped", message="needs fixtures (%s) and pytest is not importable" % ", ".join(required))
                continue
            run.measured(nodeid, file, obj)


def _required_parameters(function):
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values() if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


# --- with pytest: one session, each item's runtest measured ----------------------------------------


def run_with_pytest(run):
    import pytest

    run.collector = "pytest"

    class SuitePlugin:
        def __init__(self):
            self.current = None
            self.collect_errors = []

        def pytest_collectreport(self, report):
            if report.failed:
                lines = [l for l in str(report.longrepr).splitlines() if l.strip()]
                message = (lines or ["collection failed"])[-1].strip()
                if message.startswith("E "):
                    message = message[1:].strip()
                path = str(getattr(report, "fspath", "") or "")
                path = os.path.abspath(os.path.join(str(session_root[0]), path)) if path and not os.path.isabs(path) else path
                nodeid = report.nodeid or relative_nodeid(run.path, run.workspace_dir)
                self.collect_errors.append((nodeid, path if path and os.path.isfile(path) else None, "pytest could not collect it: %s" % message, str(report.longrepr)))

        def pytest_sessionstart(self, session):
            session_root[0] = getattr(session.config, "rootpath", None) or getattr(session.config, "rootdir", "")

        def pytest_collection_modifyitems(self, session, config, items):
            run.collected(len(items) + len(self.collect_errors))
            for nodeid, path, message, tb in self.collect_errors:
                run.record(nodeid, path, "failed", message=message, tb=tb)
            for item in items:
                self._wrap(item)

        def _wrap(self, item):
            original = item.runtest
            plugin = self

            def runtest():
                state = plugin.current
                ctx = run.context(item.nodeid, state["file"])
                state["ctx"] = ctx
                run.clock.pause()
                try:
                    run.measure(run.clock.timed(original), ctx)
                except TestTimeout:
                    # A fresh one from this frame: the interrupted frames confuse pytest's report.
                    raise TestTimeout("over the time limit") from None
                except TargetFailure as failure:
                    if isinstance(failure.error, TestTimeout):
                        raise TestTimeout("over the time limit") from None
                    state["error"] = failure.error
                    raise failure.error
                except RunnerError as error:
                    state["error"] = error
                    raise

            item.runtest = runtest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item, nextitem):
            if run.cancel.requested:
                raise KeyboardInterrupt()
            path = getattr(item, "path", None) or getattr(item, "fspath", None)
            self.current = {"file": os.path.realpath(str(path)) if path else None, "ctx": None, "error": None, "phases": {}}
            gc.collect()
            # The clock runs in the fixtures' set-up and tear-down and the test's calls only: an
            # alarm elsewhere would interrupt pytest's own code.
            run.clock.start(running=False)
            try:
                yield
            finally:
                seconds = run.clock.stop()
                state, self.current = self.current, None
                self._finish(item, state, seconds)

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_setup(self, item):
            run.clock.resume()
            try:
                yield
            finally:
                run.clock.pause()

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_teardown(self, item, nextitem):
            run.clock.resume()
            try:
                yield
            finally:
                run.clock.pause()

        def pytest_runtest_logreport(self, report):
            if self.current is not None:
                self.current["phases"][report.when] = report

        def _finish(self, item, state, seconds):
            phases = state["phases"]
            failed = [phases[w] for w in ("setup", "call", "teardown") if w in phases and phases[w].failed]
            skipped = [phases[w] for w in ("setup", "call") if w in phases and phases[w].skipped]
            message = None
            tb = None
            if run.clock.timed_out:
                outcome = "timeout"
                message = "over the time limit of %g s (--test-timeout)" % run.clock.seconds
            elif failed:
                outcome = "failed"
                report = failed[0]
                tb = str(report.longrepr)
                message = _pytest_message(report, state["error"])
            elif skipped:
                outcome = "skipped"
                longrepr = skipped[0].longrepr
                message = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
                if message.startswith("Skipped: "):
                    message = message[len("Skipped: "):]
            elif "call" in phases:
                outcome = "passed"
            else:
                # Interrupted before the call (a cancel during its fixtures): not a result.
                return
            run.record(item.nodeid, state["file"], outcome, state["ctx"] if outcome == "passed" else None, seconds, message, tb)

    session_root = [""]
    plugin = SuitePlugin()
    # A test file that cannot be imported is one failed test; the others still run.
    args = [run.path, "-p", "no:cacheprovider", "-s", "-q", "--no-header", "-p", "no:randomly", "--continue-on-collection-errors"]
    status = pytest.main(args, plugins=[plugin])
    if int(status) == 2 and run.cancel.requested is False and not run.tests:
        # Interrupted without a cancel: a KeyboardInterrupt of the tests themselves.
        run.notes.append("pytest stopped with status 2 (interrupted)")
    if int(status) in (3, 4):
        raise RunnerError("pytest could not run %s (%s, exit status %d; see the output)" % (run.path, "internal error" if int(status) == 3 else "usage error", int(status)), "pytest")
    if int(status) == 2 and run.cancel.requested:
        raise KeyboardInterrupt()


def _pytest_message(report, error):
    if error is not None and not isinstance(error, TestTimeout):
        return _exception_text(error)
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    lines = [l for l in str(report.longrepr).splitlines() if l.strip()]
    return lines[-1].strip() if lines else "failed"


# --- the run ---------------------------------------------------------------------------------------


def suite_totals(tests, mode, collected, seconds):
    totals = {"tests": collected, "run": len(tests), "seconds": round(seconds, 3)}
    for outcome in OUTCOMES:
        totals[outcome] = len([t for t in tests if t["outcome"] == outcome])
    verdicts = [t["verdict"] for t in tests if t["outcome"] == "passed"]
    totals["leaking"] = len([v for v in verdicts if v in ("leak", "unclosed")])
    totals["bounded"] = len([v for v in verdicts if v == "bounded"])
    totals["clean"] = len([v for v in verdicts if v == "clean"])
    if mode == "resources":
        totals["unclosed"] = sum(t["unclosed"] for t in tests)
    return totals


def run_suite(options, report, workspace_dir, path, started):
    """Runs every test of the suite at `path` and writes the report; returns the exit status."""
    errors = report["errors"]
    report["target"] = {"spec": options.target, "kind": "suite", "file": path}
    run = None
    cancelled = False
    status = EXIT_ERROR
    try:
        if options.mode not in SUITE_DEFAULTS:
            raise RunnerError("%s mode measures one target; run growth or resources on a test folder or file (%s)" % (options.mode, options.target), "usage")
        for name in ("warmup", "rounds", "calls"):
            if getattr(options, name) is None:
                setattr(options, name, SUITE_DEFAULTS[options.mode][name])
        if options.test_timeout is None:
            options.test_timeout = DEFAULT_TEST_TIMEOUT
        report["parameters"] = parameters(options)
        report["parameters"]["testTimeout"] = options.test_timeout
        workspace = Workspace([workspace_dir])
        workspace.add_root(path if os.path.isdir(path) else os.path.dirname(path))
        report["workspace"] = workspace.roots[0]
        if workspace_dir not in sys.path:
            sys.path.insert(0, workspace_dir)
        run = SuiteRun(options, workspace, SourceIndex(), workspace_dir, path)
        use_pytest = options.collector == "pytest" or (options.collector == "auto" and pytest_available())
        if options.collector == "pytest" and not pytest_available():
            raise RunnerError("pytest is not importable in %s (--collector pytest)" % sys.executable, "pytest-missing")
        with run.cancel:
            try:
                if use_pytest:
                    run_with_pytest(run)
                else:
                    run_unittest(run)
            except KeyboardInterrupt:
                cancelled = True
            if run.cancel.requested:
                cancelled = True
        if not run.tests and not cancelled:
            raise RunnerError("no tests found in %s (test files are named test_*.py or *_test.py)" % path, "suite")
        status = EXIT_FINDINGS if any(t["verdict"] in ("leak", "unclosed") for t in run.tests) else EXIT_CLEAN
    except RunnerError as error:
        errors.append({"kind": error.kind, "message": str(error)})
    except BaseException as error:
        errors.append({"kind": "runner", "message": "%s: %s" % (type(error).__name__, error), "traceback": traceback.format_exc()})
    if run is not None:
        tests = order_tests(run.tests)
        report["suite"] = {
            "path": path,
            "collector": run.collector,
            "testTimeout": options.test_timeout,
            "cancelled": cancelled,
            "tests": tests,
        }
        report["totals"] = suite_totals(tests, options.mode, max(run.total, len(tests)), time.time() - started)
        report["notes"].extend(run.notes)
        if cancelled:
            errors.append({"kind": "interrupted", "message": "cancelled after %d of %d tests" % (len(tests), max(run.total, len(tests)))})
    return finish_report(options, report, status, started)
