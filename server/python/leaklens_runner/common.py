"""Constants, limits and the error type every part of the runner shares; where the runner's own
files are (they never count as the user's code)."""

import os
import sys


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
    # One traced call, as memory_profiler shows it; --warmup fills caches first (untraced).
    "profile": {"warmup": 0, "rounds": 1, "calls": 1},
}
SCRIPT_DEFAULTS = {
    "growth": {"warmup": 1, "rounds": 4, "calls": 5},
    "cycles": {"warmup": 1, "rounds": 1, "calls": 5},
    "resources": {"warmup": 0, "rounds": 1, "calls": 3},
    "profile": {"warmup": 0, "rounds": 1, "calls": 1},
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

# The runner's own folder (this package): none of its files is the user's code, none of its frames
# or module namespaces is part of a retention path.
RUNNER_DIR = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))
PACKAGE = __name__.rpartition(".")[0] or __name__
# The namespace of the script that started the runner (`__main__.py`, the `-c` bootstrap), set by
# `cli.run`; a namespace of the runner like the package's modules.
_LAUNCHER = []
INIT_NAMES = ("__init__", "__new__", "__post_init__", "__init_subclass__")


def is_runner_file(path):
    """True for a real path inside the runner's folder."""
    return bool(path) and (path == RUNNER_DIR or path.startswith(RUNNER_DIR + os.sep))


def remember_launcher(module):
    del _LAUNCHER[:]
    if module is not None:
        _LAUNCHER.append(module)


def runner_namespaces():
    """The module objects of the runner: the package, its modules and the launcher."""
    modules = [m for name, m in list(sys.modules.items()) if name == PACKAGE or name.startswith(PACKAGE + ".")]
    return modules + [m for m in _LAUNCHER if all(m is not n for n in modules)]


class RunnerError(Exception):
    """A problem the user can act on: reported in the report's errors, exit status 2."""

    def __init__(self, message, kind="runner"):
        Exception.__init__(self, message)
        self.kind = kind
