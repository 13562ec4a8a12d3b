"""Test suites (leaklens_runner.suite): what counts as a suite, collection without pytest, the
order of the tests (worst first), outcomes and verdicts, the per-test clock."""

import os
import time
import unittest

from leaklens_runner.suite import (
    Clock,
    SkipRequested,
    TestFailed,
    TestTimeout,
    case_caller,
    collect_unittest,
    def_lines,
    nodeid_function,
    order_tests,
    outcome_of,
    progress_text,
    suite_path,
    test_files,
    test_verdict,
)

from support import TempWorkspace


def entry(nodeid, outcome="passed", verdict="clean", bytes_per_call=0, unclosed=None):
    test = {"nodeid": nodeid, "outcome": outcome, "verdict": verdict if outcome == "passed" else None, "bytesPerCall": bytes_per_call, "findings": []}
    if unclosed is not None:
        test["unclosed"] = unclosed
        del test["bytesPerCall"]
    return test


class SuitePaths(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        os.makedirs(os.path.join(self.ws.root, "tests", "unit"))
        os.makedirs(os.path.join(self.ws.root, "tests", ".hidden"))
        os.makedirs(os.path.join(self.ws.root, "tests", "venv"))
        for name in ("tests/test_a.py", "tests/b_test.py", "tests/helper.py", "tests/unit/test_c.py", "tests/.hidden/test_d.py", "tests/venv/test_e.py", "tool.py"):
            self.ws.write(name, "def test_x():\n    pass\n")

    def tearDown(self):
        self.ws.close()

    def test_a_folder_and_a_test_file_are_suites_a_script_and_a_node_id_are_not(self):
        root = self.ws.root
        self.assertEqual(suite_path("tests", root), os.path.join(root, "tests"))
        self.assertEqual(suite_path("tests/test_a.py", root), os.path.join(root, "tests", "test_a.py"))
        self.assertEqual(suite_path("tests/b_test.py", root), os.path.join(root, "tests", "b_test.py"))
        self.assertIsNone(suite_path("tool.py", root))
        self.assertIsNone(suite_path("tests/helper.py", root))
        self.assertIsNone(suite_path("tests/test_a.py::test_x", root))
        self.assertIsNone(suite_path("tests/test_a.py:test_x", root))
        self.assertIsNone(suite_path("no_such_folder", root))

    def test_test_files_sorted_without_hidden_or_environment_folders(self):
        found = [os.path.relpath(p, self.ws.root) for p in test_files(os.path.join(self.ws.root, "tests"))]
        self.assertEqual(found, [os.path.join("tests", "b_test.py"), os.path.join("tests", "test_a.py"), os.path.join("tests", "unit", "test_c.py")])


class CollectionWithoutPytest(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        os.makedirs(os.path.join(self.ws.root, "suite_t"))
        self.ws.write("suite_t/test_mixed.py", """\
            import unittest
            from unittest import TestCase as Imported


            def test_second_defined_first():
                pass


            class Cases(unittest.TestCase):
                def test_b(self):
                    pass

                def test_a(self):
                    pass

                def helper(self):
                    pass


            def test_after_the_class():
                pass


            def not_a_test():
                pass


            testing_value = 3
            """)
        self.ws.write("suite_t/test_broken.py", "import no_such_module_anywhere\n")

    def tearDown(self):
        self.ws.close()

    def test_methods_in_unittest_order_functions_in_definition_order_import_errors_apart(self):
        tests, errors = collect_unittest(os.path.join(self.ws.root, "suite_t"), self.ws.root)
        self.assertEqual(
            [t[0] for t in tests],
            [
                "suite_t/test_mixed.py::test_second_defined_first",
                "suite_t/test_mixed.py::Cases::test_a",
                "suite_t/test_mixed.py::Cases::test_b",
                "suite_t/test_mixed.py::test_after_the_class",
            ],
        )
        self.assertEqual([t[2] for t in tests], ["function", "case", "case", "function"])
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0][0], "suite_t/test_broken.py")
        self.assertIn("ModuleNotFoundError", errors[0][2])

    def test_def_lines_and_node_id_names(self):
        path = self.ws.write("test_lines.py", "import functools\n\n\n@functools.lru_cache()\ndef test_cached():\n    pass\n\n\nclass K:\n    @staticmethod\n    def test_m():\n        pass\n")
        lines = def_lines(path)
        self.assertEqual(lines["test_cached"], 5, "the def line, not the decorator's")
        self.assertEqual(lines["K.test_m"], 11)
        self.assertEqual(nodeid_function("t/test_lines.py::K::test_m"), "K.test_m")
        self.assertEqual(nodeid_function("t/test_lines.py::test_p[1-a]"), "test_p")


class Outcomes(unittest.TestCase):
    def test_mapping(self):
        self.assertEqual(outcome_of(None, False), "passed")
        self.assertEqual(outcome_of(AssertionError("x"), False), "failed")
        self.assertEqual(outcome_of(TestFailed("Traceback...\nAssertionError: x\n"), False), "failed")
        self.assertEqual(outcome_of(unittest.SkipTest("later"), False), "skipped")
        self.assertEqual(outcome_of(SkipRequested("later"), False), "skipped")
        self.assertEqual(outcome_of(TestTimeout(), False), "timeout")
        # A test that swallowed the alarm and failed afterwards still ran over its limit.
        self.assertEqual(outcome_of(AssertionError("x"), True), "timeout")

    def test_unittest_cases_run_through_unittest(self):
        class Case(unittest.TestCase):
            def test_fails(self):
                self.assertEqual(1, 2)

            @unittest.skip("not here")
            def test_skipped(self):
                pass

            def test_passes(self):
                pass

        case_caller(Case, "test_passes")()
        with self.assertRaises(TestFailed) as failed:
            case_caller(Case, "test_fails")()
        self.assertEqual(str(failed.exception), "AssertionError: 1 != 2")
        with self.assertRaises(SkipRequested) as skipped:
            case_caller(Case, "test_skipped")()
        self.assertEqual(str(skipped.exception), "not here")

    def test_verdicts(self):
        self.assertEqual(test_verdict("growth", []), "clean")
        self.assertEqual(test_verdict("growth", [{"verdict": "noise"}]), "clean")
        self.assertEqual(test_verdict("growth", [{"verdict": "bounded"}, {"verdict": "noise"}]), "bounded")
        self.assertEqual(test_verdict("growth", [{"verdict": "bounded"}, {"verdict": "leak"}]), "leak")
        self.assertEqual(test_verdict("resources", []), "clean")
        self.assertEqual(test_verdict("resources", [{"verdict": "unclosed"}]), "unclosed")


class Ordering(unittest.TestCase):
    def test_growth_worst_first(self):
        tests = [
            entry("skipped", "skipped"),
            entry("clean"),
            entry("small", verdict="leak", bytes_per_call=120.5),
            entry("failed", "failed"),
            entry("bounded", verdict="bounded"),
            entry("big", verdict="leak", bytes_per_call=4096),
            entry("timeout", "timeout"),
            entry("clean2"),
        ]
        self.assertEqual([t["nodeid"] for t in order_tests(tests)], ["big", "small", "bounded", "clean", "clean2", "failed", "timeout", "skipped"])

    def test_resources_by_unclosed_count(self):
        tests = [entry("one", verdict="unclosed", unclosed=1), entry("none", verdict="clean", unclosed=0), entry("three", verdict="unclosed", unclosed=3)]
        self.assertEqual([t["nodeid"] for t in order_tests(tests)], ["three", "one", "none"])

    def test_progress_lines(self):
        self.assertEqual(progress_text(entry("t.py::a", verdict="leak", bytes_per_call=2150.4), "growth"), "t.py::a: leak +2.1 KiB per call")
        self.assertEqual(progress_text(entry("t.py::b", verdict="bounded"), "growth"), "t.py::b: bounded")
        self.assertEqual(progress_text(entry("t.py::c", verdict="unclosed", unclosed=2), "resources"), "t.py::c: 2 unclosed")
        failed = entry("t.py::d", "failed")
        failed["message"] = "AssertionError: no\nmore"
        self.assertEqual(progress_text(failed, "growth"), "t.py::d: failed: AssertionError: no")
        self.assertEqual(progress_text(entry("t.py::e", "timeout"), "growth"), "t.py::e: timed out")


class TimeLimit(unittest.TestCase):
    def test_the_alarm_interrupts_a_test_and_the_runner_time_does_not_count(self):
        clock = Clock(0.3)
        if not clock.interrupts:
            self.skipTest("no SIGALRM here")
        clock.start()
        clock.pause()
        time.sleep(0.4)  # the runner's own work: not the test's time
        clock.resume()
        clock.pause()
        self.assertFalse(clock.timed_out)
        started = time.time()
        with self.assertRaises(TestTimeout):
            clock.timed(lambda: time.sleep(5))()
        self.assertLess(time.time() - started, 2)
        self.assertTrue(clock.timed_out)
        clock.stop()

    def test_no_limit(self):
        clock = Clock(0)
        clock.start()
        clock.timed(lambda: time.sleep(0.05))()
        clock.stop()
        self.assertFalse(clock.timed_out)


if __name__ == "__main__":
    unittest.main()
