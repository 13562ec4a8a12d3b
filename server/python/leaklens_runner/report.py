"""The report file and the facts about the interpreter and the run's parameters it records."""

import json
import os
import platform
import sys
import time

from .common import EXIT_ERROR


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


def finish_report(options, report, status, started):
    """Exit code (errors win), duration, the file written; the runner's exit status."""
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
