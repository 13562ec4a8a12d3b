"""resources mode: every ResourceWarning of the measured calls, grouped by the allocation line of
the object that warned."""

import gc
import sys
import time
import tracemalloc
import types

from .common import RunnerError, is_runner_file
from .context import call_counted
from .retention import type_name


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


def program_frames(frames):
    """The frames (innermost first) without the runner's, nor the launcher's outside them (the
    `-c` bootstrap, runpy)."""
    outermost = max([i for i, f in enumerate(frames) if is_runner_file(f["file"])] or [len(frames)])
    return [f for f in frames[:outermost] if not is_runner_file(f["file"])]


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
            "traceback": program_frames(self.ctx.attributor.frames(tb)) if tb is not None else [],
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
