"""`python path/to/leaklens_runner ...` or `python -m leaklens_runner ...`.

Run as a folder, Python put this folder itself first on sys.path, where its modules (growth.py,
cli.py...) would hide the user's modules of the same names: that entry goes, the parent folder is
on sys.path only while the package is imported, and no bytecode is written into the runner's
folder (it may be read-only, and it is shipped without __pycache__).
"""

import os
import sys


def _load():
    here = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))
    if not __package__ and sys.path and os.path.realpath(os.path.abspath(sys.path[0] or os.curdir)) == here:
        del sys.path[0]
    parent = os.path.dirname(here)
    sys.path.insert(0, parent)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        from leaklens_runner import cli
    finally:
        sys.dont_write_bytecode = saved
        sys.path.remove(parent)
    return cli


if __name__ == "__main__":
    sys.exit(_load().run())
