"""growth mode: watched names, the per-site verdict (judge), tracemalloc snapshots per round,
growth findings, their confirmation by live objects and their retention paths."""

import gc
import os
import sys
import time
import tracemalloc

from .attribution import is_workspace_instance
from .common import FEW_CALLS, MAX_GROWTH_FINDINGS, MAX_RETENTION_PATHS, MAX_SAMPLES, RunnerError
from .context import call_counted
from .retention import retention_path, type_name
from .targets import FUNCTION_SPEC


class Watch:
    def __init__(self, spec):
        self.spec = spec
        self.file = None
        self.module_name = None
        self.name = spec
        match = FUNCTION_SPEC.match(spec)
        if match and not (len(match.group("left")) == 1 and match.group("left").isalpha()):
            left = match.group("left")
            self.name = match.group("attr")
            if left.endswith(".py") or "/" in left or os.sep in left:
                self.file = os.path.realpath(os.path.abspath(left))
            else:
                self.module_name = left
        self.values = []
        self.kind = None
        self.found_file = None
        self.line = None
        self.problem = None

    def _module(self, ctx):
        if self.file is not None:
            for module in list(sys.modules.values()):
                path = getattr(module, "__file__", None)
                if path and os.path.realpath(path) == self.file:
                    return module
            script = ctx.script
            if script is not None and script.last is not None and os.path.realpath(script.path) == self.file:
                return script.last
            return None
        if self.module_name is not None:
            return sys.modules.get(self.module_name)
        if ctx.script is not None:
            return ctx.script.last
        return ctx.watch_module

    def measure(self, ctx):
        module = self._module(ctx)
        if module is None:
            self.problem = "module not loaded"
            self.values.append(None)
            return
        obj = module
        try:
            for part in self.name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            self.problem = "no such name"
            self.values.append(None)
            return
        value = None
        try:
            if callable(getattr(obj, "cache_info", None)):
                value = obj.cache_info().currsize
                self.kind = "cache entries"
            elif hasattr(obj, "__len__"):
                value = len(obj)
                self.kind = "items"
            else:
                self.problem = "has no length (%s)" % type(obj).__name__
        except Exception as error:
            self.problem = "cannot measure: %s" % error
        if value is not None:
            self.problem = None
        self.values.append(value)
        path = getattr(module, "__file__", None)
        real = ctx.workspace.contains(path) if path else None
        if real is not None and self.line is None:
            self.found_file = real
            parts = self.name.split(".")
            if len(parts) >= 2:
                self.line = ctx.sources.class_attr_line(real, ".".join(parts[:-1]), parts[-1])
            if self.line is None:
                self.line = ctx.sources.global_line(real, parts[0])

    def report(self, calls_per_round):
        out = {"name": self.spec, "found": self.problem is None and bool(self.values) and self.values[-1] is not None}
        if self.found_file:
            out["file"] = self.found_file
            out["line"] = self.line
        if self.kind:
            out["measure"] = self.kind
        out["values"] = self.values
        if self.problem:
            out["problem"] = self.problem
        numbers = [v for v in self.values if v is not None]
        if len(numbers) == len(self.values) and len(numbers) >= 2:
            deltas = [b - a for a, b in zip(numbers, numbers[1:])]
            total = numbers[-1] - numbers[0]
            out["growth"] = total
            out["perCall"] = round(total / float(calls_per_round * len(deltas)), 4)
            out["verdict"] = judge(deltas, 1)
        return out


def judge(deltas, min_growth):
    """leak / bounded / noise from per-round growth (see the runtime notes for the reasoning)."""
    total = sum(deltas)
    rounds = len(deltas)
    half = (rounds + 1) // 2
    first = sum(deltas[:half])
    second = sum(deltas[half:])
    later = rounds - half
    avg_first = first / float(half)
    avg_second = second / float(later) if later else avg_first
    if all(d > 0 for d in deltas) and total >= min_growth and (second >= min_growth or avg_second >= 0.25 * avg_first):
        return "leak"
    if first > 0 and total > 0 and second <= max(0.1 * first, min_growth / 4.0):
        return "bounded"
    return "noise"


def reduce_snapshot(snapshot, ctx, representative):
    """{site: [bytes, blocks]} for workspace sites; None collects what no workspace frame explains."""
    sizes = {}
    for stat in snapshot.statistics("traceback"):
        site = ctx.attributor.site(stat.traceback)
        entry = sizes.get(site)
        if entry is None:
            sizes[site] = [stat.size, stat.count]
        else:
            entry[0] += stat.size
            entry[1] += stat.count
        if site is not None:
            best = representative.get(site)
            if best is None or stat.size > best[0]:
                representative[site] = (stat.size, stat.traceback)
    return sizes


def snapshot_now(ctx, representative):
    if not tracemalloc.is_tracing():
        raise RunnerError("tracemalloc was stopped while the target ran (the program calls tracemalloc.stop()?)")
    snapshot = tracemalloc.take_snapshot()
    try:
        return reduce_snapshot(snapshot, ctx, representative)
    finally:
        del snapshot


def measure_growth(call, ctx):
    opts = ctx.options
    representative = {}
    series = []
    started = time.time()
    tracemalloc.start(opts.frames)
    try:
        call_counted(call, opts.warmup, "the warm-up")
        gc.collect()
        for watch in ctx.watches:
            watch.measure(ctx)
        series.append(snapshot_now(ctx, representative))
        for round_index in range(opts.rounds):
            call_counted(call, opts.calls, "round %d" % (round_index + 1))
            gc.collect()
            for watch in ctx.watches:
                watch.measure(ctx)
            series.append(snapshot_now(ctx, representative))
        measured = time.time() - started
        findings = growth_findings(series, representative, ctx)
        confirm_with_live_objects(findings, ctx)
    finally:
        # Tracing costs 27-125x on allocation-heavy code: stop before anything else runs
        # (a pytest teardown under tracing took 58 s instead of 1.9 s).
        tracemalloc.stop()
    paths = 0
    for finding in findings:
        sample = ctx.samples.get(finding["_site"])
        if finding["verdict"] == "leak" and sample:
            # Each level of a path scans the whole heap once: only the biggest leaks get one.
            paths += 1
            if paths > MAX_RETENTION_PATHS:
                continue
            try:
                finding["retention"] = retention_path(sample[0], ctx)
            except Exception as error:
                finding["retention"] = {"complete": False, "steps": [], "text": "retention path failed: %s" % error, "root": None}
    if paths > MAX_RETENTION_PATHS:
        ctx.notes.append("retention paths are given for the %d biggest leaks only (of %d)" % (MAX_RETENTION_PATHS, paths))
    ctx.samples.clear()
    total_calls = opts.rounds * opts.calls
    unattributed = [s.get(None, [0, 0]) for s in series]
    ws_first = sum(v[0] for k, v in series[0].items() if k is not None)
    ws_last = sum(v[0] for k, v in series[-1].items() if k is not None)
    ctx.totals = {
        "calls": total_calls,
        "warmupCalls": opts.warmup,
        "seconds": round(measured, 3),
        "workspaceBytesBefore": ws_first,
        "workspaceBytesAfter": ws_last,
        "workspaceGrowth": ws_last - ws_first,
        "unattributedGrowth": unattributed[-1][0] - unattributed[0][0],
        "sites": len([k for k in set().union(*series) if k is not None]),
        "leaks": len([f for f in findings if f["verdict"] == "leak"]),
        "bounded": len([f for f in findings if f["verdict"] == "bounded"]),
        "noise": len([f for f in findings if f["verdict"] == "noise"]),
    }
    for finding in findings:
        del finding["_site"]
    if ctx.totals["leaks"] and total_calls < FEW_CALLS:
        ctx.notes.append(
            "only %d measured calls: a cache that holds more entries than that is still filling up and "
            "looks like a leak; use more calls (--calls) to tell them apart" % total_calls
        )
    ctx.findings = findings


def growth_findings(series, representative, ctx):
    opts = ctx.options
    total_calls = float(opts.rounds * opts.calls)
    keys = set()
    for sizes in series:
        keys.update(k for k in sizes if k is not None)
    findings = []
    for site in keys:
        values = [sizes.get(site, [0, 0]) for sizes in series]
        nbytes = [v[0] for v in values]
        blocks = [v[1] for v in values]
        peak = max(b - nbytes[0] for b in nbytes)
        if peak < opts.min_bytes:
            continue
        deltas = [b - a for a, b in zip(nbytes, nbytes[1:])]
        block_deltas = [b - a for a, b in zip(blocks, blocks[1:])]
        total = nbytes[-1] - nbytes[0]
        finding = {
            "kind": "growth",
            "verdict": judge(deltas, opts.min_bytes),
            "location": ctx.attributor.location(site),
            "growth": {
                "bytes": total,
                "blocks": blocks[-1] - blocks[0],
                "bytesPerCall": round(total / total_calls, 2),
                "blocksPerCall": round((blocks[-1] - blocks[0]) / total_calls, 4),
                "roundBytes": deltas,
                "roundBlocks": block_deltas,
                "baselineBytes": nbytes[0],
                "finalBytes": nbytes[-1],
            },
            "traceback": ctx.attributor.frames(representative[site][1]) if site in representative else [],
            "attribution": "unconfirmed",
            "liveObjects": {"count": 0, "types": {}},
            "retention": None,
            "_site": site,
        }
        findings.append(finding)
    order = {"leak": 0, "bounded": 1, "noise": 2}
    findings.sort(key=lambda f: (order[f["verdict"]], -f["growth"]["bytes"], f["location"]["file"], f["location"]["line"]))
    if len(findings) > MAX_GROWTH_FINDINGS:
        ctx.notes.append("%d growing sites; the report keeps the first %d" % (len(findings), MAX_GROWTH_FINDINGS))
        del findings[MAX_GROWTH_FINDINGS:]
    return findings


def confirm_with_live_objects(findings, ctx):
    """Looks for live objects allocated at each leak site (tracing must still be on).

    A site with none is `unconfirmed`: CPython reuses freed blocks (free lists) and tracemalloc
    keeps the first allocation's traceback, so a line can be blamed for another line's growth.
    """
    wanted = {}
    for finding in findings:
        if finding["verdict"] == "leak":
            wanted[finding["_site"]] = finding
    # Sites that grew without new blocks only enlarged existing ones (a list's or dict's
    # storage resized by `append` or `d[k] = v`): there is no object of their own to find.
    new_blocks = set(site for site, f in wanted.items() if f["growth"]["blocks"] > 0)
    if not wanted:
        return
    found = {}
    approximate = {}
    counts = {}
    types_seen = {}

    def record(site, obj, approx):
        bucket = approximate if approx else found
        samples = bucket.setdefault(site, [])
        # An instance of a workspace class explains a retention path best.
        if len(samples) < MAX_SAMPLES:
            samples.append(obj)
        if is_workspace_instance(obj, ctx) and not is_workspace_instance(samples[0], ctx):
            samples[0] = obj
        counts[site] = counts.get(site, 0) + 1
        names = types_seen.setdefault(site, {})
        key = type_name(obj)
        names[key] = names.get(key, 0) + 1

    objects = gc.get_objects()
    try:
        for obj in objects:
            site, approx = ctx.attributor.object_site(obj)
            if site in wanted:
                record(site, obj, approx)
        missing = [s for s in wanted if s not in found and s in new_blocks]
        if missing:
            # Strings, numbers and bytes are not tracked by gc: look at what containers hold.
            missing_set = set(missing)
            seen = set()
            for obj in objects:
                try:
                    referents = gc.get_referents(obj)
                except Exception:
                    continue
                for ref in referents:
                    if gc.is_tracked(ref) or id(ref) in seen:
                        continue
                    seen.add(id(ref))
                    try:
                        tb = tracemalloc.get_object_traceback(ref)
                    except Exception:
                        tb = None
                    if tb is None:
                        continue
                    site = ctx.attributor.site(tb)
                    if site in missing_set:
                        record(site, ref, False)
    finally:
        del objects
    for site, finding in wanted.items():
        samples = found.get(site) or approximate.get(site)
        if found.get(site):
            finding["attribution"] = "confirmed"
        elif approximate.get(site):
            finding["attribution"] = "approximate"
        finding["liveObjects"] = {"count": counts.get(site, 0), "types": types_seen.get(site, {})}
        if samples:
            ctx.samples[site] = samples
