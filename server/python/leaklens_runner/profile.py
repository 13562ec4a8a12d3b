"""profile mode: a line-by-line memory profile of the target's calls (what memory_profiler shows,
measured with tracemalloc instead of the process's resident size).

What the numbers mean (docs/runtime.md, "profile"):

- The tracer follows the workspace frames only (sys.settrace: the global function answers the
  'call' of a frame whose file is workspace source, the frame's own function then sees its 'line'
  and 'return' events). At every event it reads tracemalloc.get_traced_memory().
- A line "runs" from its 'line' event to the next 'line' or 'return' event of the same frame, so
  the workspace functions it calls run inside it: a line's numbers include its callees, whose own
  lines are listed too (numbers of different functions do not add up).
- allocated: for each run of the line, the traced memory at its end minus the traced memory at its
  start, counted only when positive (a line that frees memory adds nothing), summed over the runs.
  Memory taken and given back within one run (a temporary list) is not in it: see peak.
- peak: the highest traced memory reached while the line ran, above the traced memory when its
  call of the target started; the maximum over the runs and the calls. Python 3.9+ has
  tracemalloc.reset_peak and the peak is exact; on 3.8 only the values at the events are seen (a
  lower bound, `peakExact` false).
- held: what was still allocated after the profiled calls and a gc.collect(), compared with a
  snapshot taken after the warm-up and a gc.collect(), grouped by the innermost workspace frame of
  each memory block's allocation traceback (the line that allocated it, not its callers).
- Comprehensions and generator expressions belong to the line that runs them (their frames are
  not traced). Hits count the runs of a line, not the runs inside a run of the same line
  (recursion): the outermost run holds the inner ones.
- Totals: allocated = the increases between consecutive events, each counted once (so a callee's
  allocation is not counted again in its caller); peak = the highest traced memory above the start
  of a call; held = the held memory of the workspace lines; seconds = the profiled calls with
  tracing, of which `tracerSeconds` were spent in the tracer itself.

The tracer's own allocations (its tables, the integers it reads) are kept out: the traced memory
it adds between its first and last reading of an event is subtracted from every later reading, and
the snapshots drop the blocks allocated in the runner's files, and the blocks CPython allocates
for tracing a code object (on its `def` line, `heldByTracing`) are not counted as held.
"""

import gc
import linecache
import os
import sys
import threading
import time
import tracemalloc

from .common import RUNNER_DIR
from .context import call_once


MAX_PROFILE_LINES = 2000
MAX_PROFILE_FUNCTIONS = 100
MAX_SOURCE_LINES = 300

# Comprehensions and generator expressions (their own frames before Python 3.12) are part of the
# line that runs them: not traced, or a list comprehension would be one event per element.
INLINE_CODE = frozenset(("<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"))

# A line's record: hits, allocated, peak, order of its first hit.
HITS, ALLOCATED, PEAK, ORDER = 0, 1, 2, 3


class _Activation(object):
    """One run of a workspace frame: its current line and the memory when that line started."""

    __slots__ = ("frame", "path", "line", "start", "line_peak", "life_peak")

    def __init__(self, frame, path, memory):
        self.frame = frame
        self.path = path
        self.line = None
        self.start = memory
        self.line_peak = memory
        self.life_peak = memory


class LineTracer(object):
    """Per-line hits, allocated memory and peak of the workspace frames of the traced calls.

    `contains(filename)`: the real path of a workspace file, else None (Workspace.contains).
    `exact_peak`: use tracemalloc.reset_peak (None: where this Python has it)."""

    def __init__(self, contains, exact_peak=None):
        self.contains = contains
        self.exact_peak = hasattr(tracemalloc, "reset_peak") if exact_peak is None else exact_peak
        self.stats = {}
        self.stack = []
        self.own = 0
        self.baseline = 0
        self.last = 0
        self.call_peak = 0
        self.peak = 0
        self.increases = 0
        self.events = 0
        self.tracer_seconds = 0.0
        self._paths = {}
        self._running = {}
        self.first_lines = set()
        self._saved = None
        self._raw = 0
        self._began = 0.0

    # -- one call of the target --------------------------------------------------------------

    def start(self):
        """Starts tracing the current thread (tracemalloc must be tracing)."""
        raw = tracemalloc.get_traced_memory()[0]
        self.baseline = self.last = self.call_peak = raw - self.own
        self._saved = sys.gettrace()
        if self.exact_peak:
            tracemalloc.reset_peak()
        sys.settrace(self._global)

    def stop(self):
        sys.settrace(self._saved)
        self._saved = None
        # Frames left by a call that raised through them without a 'return' (none expected).
        del self.stack[:]
        self._running.clear()
        rise = self.call_peak - self.baseline
        if rise > self.peak:
            self.peak = rise

    # -- the events ----------------------------------------------------------------------------

    def _path(self, code):
        filename = code.co_filename
        try:
            return self._paths[filename]
        except KeyError:
            path = self._paths[filename] = self.contains(filename)
            return path

    def _read(self):
        """The traced memory without the tracer's own, at the start of an event; the peak since the
        last event goes to the innermost line running. Every object made here and kept until
        `_done`'s reading is referenced by an attribute of the tracer that drops the previous
        one, so the tracer's net allocation between the two readings is what it keeps."""
        raw, peak = tracemalloc.get_traced_memory()
        self._began = time.perf_counter()
        self._raw = raw
        memory = raw - self.own
        peak = peak - self.own if self.exact_peak else memory
        if peak < memory:
            peak = memory
        if memory > self.last:
            self.increases += memory - self.last
        if peak > self.call_peak:
            self.call_peak = peak
        if self.stack:
            top = self.stack[-1]
            if peak > top.line_peak:
                top.line_peak = peak
        return memory

    def _done(self, memory):
        self.last = memory
        self.events += 1
        after = tracemalloc.get_traced_memory()[0]
        self.own += after - self._raw
        if self.exact_peak:
            tracemalloc.reset_peak()
        self.tracer_seconds += time.perf_counter() - self._began

    def _close(self, activation, memory):
        if activation.line_peak > activation.life_peak:
            activation.life_peak = activation.line_peak
        if activation.line is None:
            return
        key = (activation.path, activation.line)
        entry = self.stats[key]
        rise = activation.line_peak - self.baseline
        if rise > entry[PEAK]:
            entry[PEAK] = rise
        # A run inside a run of the same line (a comprehension's frame, recursion) is part of the
        # outer run: only the outermost one counts.
        depth = self._running[key] - 1
        if depth:
            self._running[key] = depth
            return
        del self._running[key]
        grown = memory - activation.start
        if grown > 0:
            entry[ALLOCATED] += grown

    def _open(self, activation, line, memory):
        activation.line = line
        activation.start = memory
        activation.line_peak = memory
        key = (activation.path, line)
        entry = self.stats.get(key)
        if entry is None:
            entry = self.stats[key] = [0, 0, 0, len(self.stats)]
        depth = self._running.get(key, 0)
        if not depth:
            entry[HITS] += 1
        self._running[key] = depth + 1

    def _find(self, frame):
        stack = self.stack
        for index in range(len(stack) - 1, -1, -1):
            if stack[index].frame is frame:
                return index
        return None

    def _global(self, frame, event, arg):
        if event != "call":
            return None
        code = frame.f_code
        if code.co_name in INLINE_CODE:
            return None
        path = self._path(code)
        if path is None:
            return None
        memory = self._read()
        self.first_lines.add((path, code.co_firstlineno))
        self.stack.append(_Activation(frame, path, memory))
        self._done(memory)
        return self._local

    def _local(self, frame, event, arg):
        if event == "line":
            memory = self._read()
            stack = self.stack
            if stack and stack[-1].frame is frame:
                activation = stack[-1]
            else:
                index = self._find(frame)
                activation = stack[index] if index is not None else None
            if activation is not None:
                self._close(activation, memory)
                self._open(activation, frame.f_lineno, memory)
            self._done(memory)
        elif event == "return":
            memory = self._read()
            index = self._find(frame)
            if index is not None:
                activation = self.stack[index]
                self._close(activation, memory)
                del self.stack[index:]
                activation.frame = None
                if self.stack:
                    parent = self.stack[-1]
                    if activation.life_peak > parent.line_peak:
                        parent.line_peak = activation.life_peak
            self._done(memory)
        return self._local


def tracing_artefacts(held, stats, first_lines):
    """Takes out of `held` the blocks on the `def` line of a traced function that never ran as a
    line, and on line 0 (a module's code before its first line): what CPython allocates once per
    code object when it is traced (its line table, its instrumentation), which the untraced
    program would not hold. Returns their size."""
    total = 0
    for key in list(held):
        if key[1] < 1 or (key in first_lines and key not in stats):
            total += held.pop(key)
    return total


def held_by_site(before, after, attributor):
    """({(path, line): bytes}, bytes held outside the workspace): the difference of two snapshots
    grouped by the innermost workspace frame of each block's traceback. Blocks allocated in the
    runner's own files or in tracemalloc are left out."""
    leave_out = [
        tracemalloc.Filter(False, os.path.join(RUNNER_DIR, "*")),
        tracemalloc.Filter(False, tracemalloc.__file__),
    ]
    before = before.filter_traces(leave_out)
    after = after.filter_traces(leave_out)
    sites = {}
    outside = 0
    for stat in after.compare_to(before, "traceback"):
        if not stat.size_diff:
            continue
        site = attributor.site(stat.traceback)
        if site is None:
            outside += stat.size_diff
        else:
            sites[site] = sites.get(site, 0) + stat.size_diff
    return sites, outside


def source_line(path, line):
    return linecache.getline(path, line).rstrip("\r\n")


def profile_report(stats, held, sources, limit_lines=MAX_PROFILE_LINES, limit_functions=MAX_PROFILE_FUNCTIONS):
    """(lines, functions, dropped): the report's `profile.lines` (file, line, function, hits,
    allocated, held, peak, source) and `profile.functions` (each function's span and source, in the
    order the functions first ran), from the tracer's stats and held_by_site's sites."""
    keys = list(stats)
    order = dict((key, stats[key][ORDER]) for key in keys)
    late = len(order)
    for key in held:
        if key not in order:
            order[key] = late
            late += 1
            keys.append(key)
    groups = {}
    for key in keys:
        path, line = key
        span = sources.function_span(path, line)
        name = span[2] if span else "<module>"
        group = groups.get((path, name))
        if group is None:
            group = groups[(path, name)] = {"path": path, "function": name, "span": span, "keys": [], "first": order[key]}
        group["keys"].append(key)
        group["first"] = min(group["first"], order[key])
    ordered = sorted(groups.values(), key=lambda g: g["first"])
    dropped = 0
    lines = []
    functions = []
    for group in ordered:
        if len(functions) >= limit_functions or len(lines) + len(group["keys"]) > limit_lines:
            dropped += len(group["keys"])
            continue
        group["keys"].sort(key=lambda k: k[1])
        numbers = [k[1] for k in group["keys"]]
        if group["span"]:
            first, last = group["span"][0], group["span"][1]
        else:
            first, last = min(numbers), max(numbers)
        last = min(last, first + MAX_SOURCE_LINES - 1)
        functions.append({
            "file": group["path"],
            "function": group["function"],
            "line": first,
            "endLine": last,
            "source": [source_line(group["path"], n) for n in range(first, last + 1)],
        })
        for key in group["keys"]:
            entry = stats.get(key, [0, 0, 0, 0])
            lines.append({
                "file": key[0],
                "line": key[1],
                "function": group["function"],
                "hits": entry[HITS],
                "allocated": entry[ALLOCATED],
                "held": held.get(key, 0),
                "peak": entry[PEAK],
                "source": source_line(key[0], key[1]),
            })
    return lines, functions, dropped


def measure_profile(call, ctx):
    opts = ctx.options
    tracer = LineTracer(ctx.workspace.contains)
    previous = sys.gettrace()
    threads = threading.active_count()
    tracemalloc.start(opts.frames)
    try:
        for index in range(opts.warmup):
            call_once(call, "the warm-up", index + 1)
        gc.collect()
        before = tracemalloc.take_snapshot()
        started = time.perf_counter()
        for index in range(opts.calls):
            tracer.start()
            try:
                call_once(call, "the profiled calls", index + 1)
            finally:
                tracer.stop()
        seconds = time.perf_counter() - started
        if ctx.script is not None:
            # A script's globals die with its run.
            ctx.script.last = None
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held, outside = held_by_site(before, after, ctx.attributor)
    before = after = None
    artefacts = tracing_artefacts(held, tracer.stats, tracer.first_lines)
    lines, functions, dropped = profile_report(tracer.stats, held, ctx.sources)
    totals = {
        "calls": opts.calls,
        "warmupCalls": opts.warmup,
        "seconds": round(seconds, 3),
        "tracerSeconds": round(tracer.tracer_seconds, 3),
        "events": tracer.events,
        "allocated": tracer.increases,
        "held": sum(held.values()),
        "heldOutside": outside,
        "heldByTracing": artefacts,
        "peak": tracer.peak,
        "peakExact": tracer.exact_peak,
        "lines": len(lines),
        "functions": len(functions),
    }
    if dropped:
        ctx.notes.append("%d profiled lines left out (the report keeps %d functions, %d lines)" % (dropped, MAX_PROFILE_FUNCTIONS, MAX_PROFILE_LINES))
    if not tracer.exact_peak:
        ctx.notes.append("this Python has no tracemalloc.reset_peak (3.9+): peaks are the highest traced memory seen between lines, a lower bound")
    ctx.notes.append(
        "the profiled calls ran with tracemalloc and line tracing, slower than without: %.3f s of their %.3f s were spent in the tracer (%d events)"
        % (tracer.tracer_seconds, seconds, tracer.events)
    )
    if previous is not None:
        ctx.notes.append("a trace function was set (a debugger or coverage): it was replaced during the profiled calls")
    if threading.active_count() > threads:
        ctx.notes.append("other threads ran: their lines are not profiled, and what they allocated counts in the lines running meanwhile")
    if not lines and not ctx.errors:
        ctx.notes.append("no line of the workspace ran during the profiled calls")
    ctx.profile = {"lines": lines, "functions": functions}
    ctx.totals = totals


