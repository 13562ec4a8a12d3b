"""The growth verdict (judge) and watched names (leaklens_runner.growth)."""

import unittest

from leaklens_runner.growth import Watch, judge


class Judge(unittest.TestCase):
    def test_steady_growth_is_a_leak(self):
        self.assertEqual(judge([4096, 4096, 4096, 4096, 4096], 1024), "leak")
        # Slowing down, but the second half still grows by more than the minimum.
        self.assertEqual(judge([4000, 4000, 1200, 1100], 1024), "leak")

    def test_growth_that_stops_is_bounded(self):
        self.assertEqual(judge([50000, 2000, 0, 0, 0], 1024), "bounded")
        self.assertEqual(judge([50000, 0, 0, 0], 1024), "bounded")

    def test_growth_below_the_minimum_is_never_a_leak(self):
        self.assertEqual(judge([100, 100, 100, 100], 1024), "bounded")
        self.assertNotEqual(judge([1, 1, 1, 1], 1024), "leak")

    def test_a_round_without_growth_breaks_a_leak(self):
        # Not every round grew: a cache that is filling, or noise.
        self.assertNotEqual(judge([4096, 4096, 0, 4096], 1024), "leak")

    def test_flat_or_oscillating_is_noise(self):
        self.assertEqual(judge([0, 0, 0, 0], 1024), "noise")
        self.assertEqual(judge([5000, -5000, 5000, -5000], 1024), "noise")
        self.assertEqual(judge([-3000, -10, 0, 0], 1024), "noise")

    def test_late_growth_is_not_bounded(self):
        self.assertEqual(judge([0, 0, 8000, 8000], 1024), "noise")

    def test_watched_counts_use_a_minimum_of_one(self):
        self.assertEqual(judge([50, 50, 50], 1), "leak")
        self.assertEqual(judge([50, 0, 0], 1), "bounded")
        self.assertEqual(judge([0, 0, 0], 1), "noise")


class WatchSpecs(unittest.TestCase):
    def test_forms(self):
        plain = Watch("_cache")
        self.assertEqual((plain.name, plain.module_name, plain.file), ("_cache", None, None))
        attribute = Watch("Plugin.registry")
        self.assertEqual((attribute.name, attribute.module_name), ("Plugin.registry", None))
        module = Watch("pkg.mod:_cache")
        self.assertEqual((module.name, module.module_name, module.file), ("_cache", "pkg.mod", None))
        in_file = Watch("pkg/mod.py:Plugin.registry")
        self.assertEqual(in_file.name, "Plugin.registry")
        self.assertTrue(in_file.file.endswith("/pkg/mod.py"))

    def test_report_judges_the_values(self):
        watch = Watch("_events")
        watch.values = [0, 10, 20, 30]
        watch.kind = "items"
        out = watch.report(10)
        self.assertEqual((out["growth"], out["perCall"], out["verdict"], out["found"]), (30, 1.0, "leak", True))
        watch.values = [0, 10, 10, 10]
        self.assertEqual(watch.report(10)["verdict"], "bounded")
        watch.values = [None, None]
        watch.problem = "module not loaded"
        out = watch.report(10)
        self.assertEqual((out["found"], out["problem"]), (False, "module not loaded"))
        self.assertNotIn("verdict", out)


if __name__ == "__main__":
    unittest.main()
