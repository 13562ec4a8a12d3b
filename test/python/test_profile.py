"""The line-by-line memory profile (leaklens_runner.profile): the tracer on real workspace modules,
held memory by allocation line, and the report's lines and functions."""

import gc
import tracemalloc
import unittest

from leaklens_runner.profile import ALLOCATED, HITS, PEAK, LineTracer, held_by_site, measure_profile, profile_report, tracing_artefacts

from support import TempWorkspace


MiB = 1024 * 1024

SOURCE = '''
KEPT = []


def build(n):
    data = [str(i) * 4 for i in range(n)]
    return len(data)


def build_and_drop():
    total = build(20000)
    big = bytearray(2 * 1024 * 1024)
    del big
    return total


def keep():
    KEPT.append(bytearray(1024 * 1024))
    return len(KEPT)


def temporary():
    return len(bytes(3 * 1024 * 1024))


def loop(n):
    x = 0
    for i in range(n):
        x += 1
    return x
'''


def line_of(ws_module, text):
    with open(ws_module.__file__) as handle:
        for number, line in enumerate(handle, 1):
            if text in line:
                return number
    raise AssertionError("no line %r" % text)


class Tracer(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.mod = self.ws.module("profiled", SOURCE)
        self.ctx = self.ws.context(mode="profile", spec="profiled.py:build_and_drop")
        tracemalloc.start(25)

    def tearDown(self):
        tracemalloc.stop()
        self.mod.KEPT[:] = []
        self.ws.close()

    def trace(self, function, *args, exact_peak=None, calls=1):
        tracer = LineTracer(self.ctx.workspace.contains, exact_peak=exact_peak)
        for _ in range(calls):
            tracer.start()
            try:
                function(*args)
            finally:
                tracer.stop()
        return tracer

    def entry(self, tracer, text):
        return tracer.stats[(self.mod.__file__, line_of(self.mod, text))]

    def test_hits_count_each_run_of_a_line(self):
        tracer = self.trace(self.mod.loop, 7)
        self.assertEqual(self.entry(tracer, "x += 1")[HITS], 7)
        self.assertEqual(self.entry(tracer, "for i in range(n):")[HITS], 8)
        self.assertEqual(self.entry(tracer, "x = 0")[HITS], 1)
        self.assertEqual(self.entry(tracer, "return x")[HITS], 1)

    def test_a_line_that_allocates_nothing_shows_nothing(self):
        # The tracer's own integers and tables are kept out of the user's lines.
        tracer = self.trace(self.mod.loop, 5000)
        self.assertLess(self.entry(tracer, "x += 1")[ALLOCATED], 4096)
        self.assertLess(tracer.increases, 8192)

    def test_allocated_counts_the_increase_of_the_line_and_its_callees(self):
        tracer = self.trace(self.mod.build_and_drop)
        # The list comprehension's strings in build(), about 20000 * (49 + 8) bytes.
        inner = self.entry(tracer, "data = [str(i)")[ALLOCATED]
        self.assertGreater(inner, 900 * 1024)
        # The caller's line includes build(), whose list is freed on return: no net increase.
        self.assertLess(self.entry(tracer, "total = build(20000)")[ALLOCATED], 4096)
        self.assertGreater(self.entry(tracer, "total = build(20000)")[PEAK], inner)
        big = self.entry(tracer, "big = bytearray")
        self.assertGreater(big[ALLOCATED], 2 * MiB)
        self.assertLess(big[ALLOCATED], 2 * MiB + 4096)
        # Freeing counts as nothing (only increases are counted).
        self.assertEqual(self.entry(tracer, "del big")[ALLOCATED], 0)
        # Each interval once: the callee's list and the bytearray, not the caller's line again.
        self.assertGreater(tracer.increases, inner + 2 * MiB)
        self.assertLess(tracer.increases, inner + 2 * MiB + 64 * 1024)

    def test_peak_sees_memory_given_back_within_the_line(self):
        tracer = self.trace(self.mod.temporary)
        entry = self.entry(tracer, "return len(bytes(")
        self.assertLess(entry[ALLOCATED], 4096)
        self.assertGreater(entry[PEAK], 3 * MiB)
        self.assertGreater(tracer.peak, 3 * MiB)

    def test_without_reset_peak_the_peak_is_what_the_events_saw(self):
        # Python 3.8: no tracemalloc.reset_peak; the temporary bytes fall between two events.
        tracer = self.trace(self.mod.temporary, exact_peak=False)
        self.assertLess(self.entry(tracer, "return len(bytes(")[PEAK], 4096)
        tracer = self.trace(self.mod.build_and_drop, exact_peak=False)
        self.assertGreater(self.entry(tracer, "big = bytearray")[PEAK], 2 * MiB)

    def test_peak_is_measured_from_the_start_of_each_call(self):
        tracer = self.trace(self.mod.keep, calls=3)
        entry = self.entry(tracer, "KEPT.append")
        self.assertEqual(entry[HITS], 3)
        self.assertGreater(entry[ALLOCATED], 3 * MiB)
        # Each call keeps one more MiB, but the peak is above that call's own start.
        self.assertLess(entry[PEAK], 1 * MiB + 64 * 1024)

    def test_only_workspace_frames_are_traced_and_tracing_ends(self):
        import json

        tracer = self.trace(json.dumps, {"a": [1, 2, 3]})
        self.assertEqual(tracer.stats, {})
        import sys

        self.assertIsNone(sys.gettrace())

    def test_a_callee_that_raises_closes_its_lines(self):
        mod = self.ws.module("raising", '''
def inner():
    block = bytearray(1024 * 1024)
    raise ValueError(len(block))


def outer():
    try:
        inner()
    except ValueError:
        pass
    return 1
''')
        tracer = self.trace(mod.outer)
        key = (mod.__file__, 3)
        self.assertGreater(tracer.stats[key][ALLOCATED], 1024 * 1024 - 1)
        self.assertEqual(tracer.stats[(mod.__file__, 12)][HITS], 1)
        self.assertEqual(tracer.stack, [])


class Held(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.mod = self.ws.module("holding", SOURCE)
        self.ctx = self.ws.context(mode="profile", spec="holding.py:keep")
        tracemalloc.start(25)

    def tearDown(self):
        tracemalloc.stop()
        self.mod.KEPT[:] = []
        self.ws.close()

    def test_held_is_grouped_by_the_allocating_line(self):
        gc.collect()
        before = tracemalloc.take_snapshot()
        self.mod.keep()
        self.mod.build_and_drop()
        gc.collect()
        after = tracemalloc.take_snapshot()
        sites, outside = held_by_site(before, after, self.ctx.attributor)
        kept = sites[(self.mod.__file__, line_of(self.mod, "KEPT.append"))]
        self.assertGreater(kept, 1024 * 1024)
        self.assertLess(kept, 1024 * 1024 + 4096)
        for text in ("data = [str(i)", "big = bytearray"):
            self.assertLess(abs(sites.get((self.mod.__file__, line_of(self.mod, text)), 0)), 1024)
        # The snapshot taken for `before` is still alive, but it lives in tracemalloc's files.
        self.assertLess(abs(outside), 64 * 1024)


class TracingArtefacts(unittest.TestCase):
    def test_def_lines_that_never_ran_and_line_zero_are_tracing_tables(self):
        held = {("m.py", 0): 100, ("m.py", 5): 50, ("m.py", 7): 30, ("m.py", 9): 20}
        stats = {("m.py", 7): [1, 0, 0, 0], ("m.py", 9): [1, 0, 0, 1]}
        # Line 5 is the def line of a traced function that never ran as a line; line 7 the def
        # line of one whose def statement ran (an import), so its held bytes stay.
        first_lines = {("m.py", 5), ("m.py", 7)}
        self.assertEqual(tracing_artefacts(held, stats, first_lines), 150)
        self.assertEqual(held, {("m.py", 7): 30, ("m.py", 9): 20})


class Report(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.mod = self.ws.module("reported", SOURCE)

    def tearDown(self):
        self.mod.KEPT[:] = []
        self.ws.close()

    def test_lines_by_function_in_the_order_they_first_ran(self):
        ctx = self.ws.context(mode="profile", spec="reported.py:build_and_drop")
        path = self.mod.__file__
        a, b, c = line_of(self.mod, "total = build"), line_of(self.mod, "data = [str"), line_of(self.mod, "KEPT.append")
        stats = {(path, a): [1, 10, 100, 0], (path, b): [1, 500, 600, 1]}
        lines, functions, dropped = profile_report(stats, {(path, c): 77, (path, b): 3}, ctx.sources)
        self.assertEqual(dropped, 0)
        self.assertEqual([f["function"] for f in functions], ["build_and_drop", "build", "keep"])
        self.assertEqual([(l["function"], l["line"]) for l in lines], [("build_and_drop", a), ("build", b), ("keep", c)])
        self.assertEqual(lines[1], {
            "file": path, "line": b, "function": "build", "hits": 1, "allocated": 500, "held": 3, "peak": 600,
            "source": "    data = [str(i) * 4 for i in range(n)]",
        })
        self.assertEqual((lines[2]["hits"], lines[2]["held"]), (0, 77))
        build = functions[1]
        self.assertEqual(build["line"], line_of(self.mod, "def build(n)"))
        self.assertEqual(build["endLine"], build["line"] + 2)
        self.assertEqual(build["source"][0], "def build(n):")

    def test_limits_drop_whole_functions(self):
        ctx = self.ws.context(mode="profile", spec="reported.py:build_and_drop")
        path = self.mod.__file__
        stats = {(path, line_of(self.mod, "total = build")): [1, 0, 0, 0], (path, line_of(self.mod, "data = [str")): [1, 0, 0, 1]}
        lines, functions, dropped = profile_report(stats, {}, ctx.sources, limit_functions=1)
        self.assertEqual((len(lines), len(functions), dropped), (1, 1, 1))


class Measure(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.mod = self.ws.module("measured", SOURCE)

    def tearDown(self):
        self.mod.KEPT[:] = []
        self.ws.close()

    def test_measure_profile_fills_the_context(self):
        ctx = self.ws.context(mode="profile", spec="measured.py:keep", calls=2, warmup=0)
        measure_profile(self.mod.keep, ctx)
        line = [l for l in ctx.profile["lines"] if "KEPT.append" in l["source"]][0]
        self.assertEqual(line["hits"], 2)
        self.assertGreater(line["held"], 2 * MiB)
        self.assertGreater(line["allocated"], 2 * MiB)
        self.assertEqual(ctx.totals["calls"], 2)
        self.assertGreater(ctx.totals["held"], 2 * MiB)
        self.assertGreater(ctx.totals["peak"], MiB)
        self.assertFalse(tracemalloc.is_tracing())
        self.assertTrue(any("tracer" in note for note in ctx.notes))


if __name__ == "__main__":
    unittest.main()
