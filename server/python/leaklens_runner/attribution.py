"""Attribution: tracemalloc tracebacks and live objects mapped to the innermost workspace line."""

import gc
import sys
import tracemalloc

from .common import INIT_NAMES


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


def is_workspace_instance(obj, ctx):
    cls = type(obj)
    if isinstance(obj, type):
        return False
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    path = getattr(module, "__file__", None) if module is not None else None
    return bool(path) and ctx.workspace.contains(path) is not None
