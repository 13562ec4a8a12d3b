"""The command line: arguments, their checks, one run from target to report, exit status."""

import argparse
import os
import platform
import sys
import time
import traceback
import tracemalloc

from .common import (
    DEFAULT_FRAMES,
    DEFAULT_MIN_BYTES,
    DEFAULTS,
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    RUNNER_DIR,
    RUNNER_VERSION,
    SCHEMA_VERSION,
    SCRIPT_DEFAULTS,
    RunnerError,
    remember_launcher,
)
from .context import Context, TargetFailure
from .cycles import measure_cycles
from .growth import Watch, measure_growth
from .profile import measure_profile
from .report import finish_report, interpreter_info, parameters, write_report
from .resources import measure_resources
from .suite import run_suite, suite_path
from .targets import ScriptRunner, Target, make_caller, resolve_function, run_pytest
from .workspace import SourceIndex, Workspace


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
    parser = _Parser(prog="leaklens_runner", description="LeakLens run-time runner (see the module docstring).")
    parser.add_argument("mode", choices=["growth", "cycles", "resources", "profile"])
    parser.add_argument("target")
    parser.add_argument("--report", required=True, help="where to write the JSON report")
    parser.add_argument("--workspace", default=None, help="folder whose source files count as the user's code (default: the current folder)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--min-bytes", type=int, default=DEFAULT_MIN_BYTES, dest="min_bytes")
    parser.add_argument("--watch", action="append", default=[], help="a module global or class attribute whose length to follow (repeatable)")
    parser.add_argument("--test-timeout", type=float, default=None, dest="test_timeout", help="suites: seconds each test may take (default 60; 0: no limit)")
    parser.add_argument("--collector", choices=["auto", "pytest", "unittest"], default="auto", help="suites: how tests are collected (default: pytest when importable)")
    options = parser.parse_args(argv)
    options.script_args = script_args
    return options


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
    if options.test_timeout is not None and not options.test_timeout >= 0:
        problems.append("--test-timeout must be 0 (no limit) or more seconds")
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
            "runner": {"version": RUNNER_VERSION, "file": RUNNER_DIR},
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


def run():
    """The launchers' entry (`__main__.py`, the bootstrap of spawn.ts): main() on sys.argv, with the
    launcher's namespace counted as the runner's."""
    remember_launcher(sys.modules.get("__main__"))
    return main()


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
        "runner": {"version": RUNNER_VERSION, "file": RUNNER_DIR},
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
        suite = suite_path(options.target, workspace_dir)
        if suite is not None:
            # A folder or a test file: every test measured on its own (suite.py writes the report).
            return run_suite(options, report, workspace_dir, suite, started)
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
        ctx.watches = [Watch(spec) for spec in options.watch] if options.mode in ("growth", "cycles") else []
        measure = {"growth": measure_growth, "cycles": measure_cycles, "resources": measure_resources, "profile": measure_profile}[options.mode]
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
        if options.mode == "profile":
            # A profile is no verdict.
            report["profile"] = ctx.profile
            status = EXIT_CLEAN
        elif options.mode == "growth":
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
    return finish_report(options, report, status, started)
