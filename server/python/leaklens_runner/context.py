"""The measurement context one run shares, and calling the target a number of times."""

import traceback

from .attribution import Attributor
from .common import RunnerError


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
        self.profile = None

    def held_containers(self):
        return [self.samples, self.findings, self.watches, self.errors, self.notes] + list(self.samples.values())

    def error(self, message, kind="runner", tb=None):
        entry = {"kind": kind, "message": message}
        if tb:
            entry["traceback"] = tb
        self.errors.append(entry)


def call_once(call, phase, index):
    """Calls the target; what it raises becomes a TargetFailure of that call (1-based `index`)."""
    try:
        call()
    except RunnerError:
        raise
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        raise TargetFailure(error, phase, index)


def call_counted(call, count, phase):
    for index in range(count):
        call_once(call, phase, index + 1)


class TargetFailure(Exception):
    def __init__(self, error, phase, index):
        Exception.__init__(self, "%s: %s" % (type(error).__name__, error))
        self.error = error
        self.phase = phase
        self.index = index
        self.tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
