"""Shared by the runner's unit tests: a Context over a temporary workspace folder, and modules
written there and imported for real (so that tracemalloc and the attribution see workspace lines).

The tests import the runner as the package `leaklens_runner` (PYTHONPATH=server/python, set by
test/runtime-python-unit.test.ts)."""

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import textwrap

from leaklens_runner.context import Context
from leaklens_runner.targets import Target
from leaklens_runner.workspace import SourceIndex, Workspace


class TempWorkspace(object):
    """A folder on sys.path whose modules count as the user's code."""

    def __init__(self):
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="leaklens-unit-"))
        self.modules = []
        sys.path.insert(0, self.root)

    def write(self, name, source):
        path = os.path.join(self.root, name)
        with open(path, "w") as handle:
            handle.write(textwrap.dedent(source))
        return path

    def module(self, name, source):
        """Writes `name.py` and imports it afresh."""
        self.write(name + ".py", source)
        importlib.invalidate_caches()
        sys.modules.pop(name, None)
        self.modules.append(name)
        return importlib.import_module(name)

    def context(self, mode="cycles", spec="x.py:f", **counts):
        options = argparse.Namespace(mode=mode, warmup=0, rounds=2, calls=5, frames=25, min_bytes=1024, watch=[], script_args=[])
        for key, value in counts.items():
            setattr(options, key, value)
        if not os.path.exists(os.path.join(self.root, "x.py")):
            self.write("x.py", "def f():\n    pass\n")
        target = Target(spec, self.root)
        return Context(options, Workspace([self.root]), SourceIndex(), target)

    def close(self):
        for name in self.modules:
            sys.modules.pop(name, None)
        if self.root in sys.path:
            sys.path.remove(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
