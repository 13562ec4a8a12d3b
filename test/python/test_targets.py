"""Target specs, argument lists and the callers built from them (leaklens_runner.targets)."""

import asyncio
import os
import types
import unittest

from leaklens_runner.common import RunnerError
from leaklens_runner.targets import (
    CallWithArguments,
    Target,
    _is_drive,
    _pack,
    check_no_arguments,
    make_caller,
    parse_call_arguments,
)

from support import TempWorkspace


class TargetSpecs(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.ws.write("tool.py", "def run():\n    pass\n")
        os.makedirs(os.path.join(self.ws.root, "tests"))
        self.ws.write(os.path.join("tests", "test_x.py"), "def test_y():\n    pass\n")

    def tearDown(self):
        self.ws.close()

    def raises(self, spec, fragment):
        with self.assertRaises(RunnerError) as caught:
            Target(spec, self.ws.root)
        self.assertEqual(caught.exception.kind, "target")
        self.assertIn(fragment, str(caught.exception))
        return caught.exception

    def test_module_function(self):
        target = Target("pkg.mod:handle", self.ws.root)
        self.assertEqual((target.kind, target.module_name, target.attr, target.file), ("function", "pkg.mod", "handle", None))
        self.assertIsNone(target.arguments)

    def test_file_function_with_a_dotted_attribute(self):
        target = Target("tool.py:Service.lookup", self.ws.root)
        self.assertEqual(target.kind, "function")
        self.assertEqual(target.file, os.path.join(self.ws.root, "tool.py"))
        self.assertEqual(target.attr, "Service.lookup")
        self.assertIsNone(target.module_name)

    def test_pytest_node_id(self):
        target = Target("tests/test_x.py::test_y[1]", self.ws.root)
        self.assertEqual(target.kind, "pytest")
        self.assertEqual(target.nodeid, "tests/test_x.py::test_y[1]")
        self.assertEqual(target.file, os.path.join(self.ws.root, "tests", "test_x.py"))

    def test_script(self):
        target = Target("tool.py", self.ws.root)
        self.assertEqual((target.kind, target.file), ("script", os.path.join(self.ws.root, "tool.py")))
        self.assertEqual(target.describe(), {"spec": "tool.py", "kind": "script", "file": os.path.join(self.ws.root, "tool.py")})

    def test_bad_specs(self):
        self.raises("", "empty target")
        self.raises("   ", "empty target")
        self.raises("just_a_name", "cannot read target 'just_a_name'")
        self.raises("missing.py:f", "no such file: %s" % os.path.join(self.ws.root, "missing.py"))
        self.raises("tool.py:", "cannot read target")  # a colon with no function: neither form
        # A one-letter left part is a Windows drive, not a module: `m:f` is no function target.
        self.raises("m:f", "cannot read target 'm:f'")

    def test_windows_drive_is_not_a_module(self):
        self.assertTrue(_is_drive("C"))
        self.assertFalse(_is_drive("CC"))
        self.assertFalse(_is_drive("1"))
        # `C:\\x\\s.py` reads as a script path (which does not exist here), not module C, function ...
        self.raises("C:/nowhere/s.py", "no such file")

    def test_call_with_arguments(self):
        target = Target("pkg.mod:handle(i % 50, key='k')", self.ws.root)
        self.assertEqual((target.module_name, target.attr, target.arguments), ("pkg.mod", "handle", "i % 50, key='k'"))
        self.assertEqual(target.describe()["call"], "handle(i % 50, key='k')")
        evaluate = eval(target.arguments_code, {})
        self.assertEqual(evaluate(57, _pack), ((7,), {"key": "k"}))

    def test_a_colon_inside_the_arguments_is_not_the_separator(self):
        target = Target("pkg.mod:f(d={1: 2}, s='a:b')", self.ws.root)
        self.assertEqual((target.module_name, target.attr, target.arguments), ("pkg.mod", "f", "d={1: 2}, s='a:b'"))
        self.assertEqual(eval(target.arguments_code, {})(0, _pack), ((), {"d": {1: 2}, "s": "a:b"}))

    def test_empty_argument_list(self):
        target = Target("pkg.mod:f()", self.ws.root)
        self.assertEqual(target.arguments, "")
        self.assertEqual(eval(target.arguments_code, {})(3, _pack), ((), {}))


class CallArguments(unittest.TestCase):
    def bad(self, text, fragment):
        with self.assertRaises(RunnerError) as caught:
            parse_call_arguments(text, "m:f(%s)" % text)
        self.assertEqual(caught.exception.kind, "target")
        self.assertIn("bad arguments in target m:f(%s)" % text, str(caught.exception))
        self.assertIn(fragment, str(caught.exception))

    def test_syntax_errors_say_where(self):
        self.bad("i +", "at the end")
        self.bad("i, , 2", "at column 4")
        self.bad("1 = 2", "the arguments are Python expressions")

    def test_not_an_argument_list(self):
        # `_f_(x) + (y)`: a well-formed expression, but not one call.
        self.bad("x) + (y", "is not an argument list")

    def test_yield_and_await_are_refused(self):
        self.bad("(yield i)", "yield and await are not allowed")
        self.bad("await i", "")

    def test_keyword_and_star_arguments(self):
        code = parse_call_arguments("*range(i), n=i * 2, **{'z': 1}", "m:f(...)")
        self.assertEqual(eval(code, {})(3, _pack), ((0, 1, 2), {"n": 6, "z": 1}))

    def test_evaluated_in_the_module_namespace_with_i(self):
        module = types.ModuleType("shopmod")
        exec("BASE = 100\ndef handle(order_id, currency='EUR'):\n    return (order_id, currency)\n", module.__dict__)
        target = Target("shopmod:handle(BASE + i, currency='USD')", ".")
        target.module = module
        call = make_caller(module.handle, target)
        self.assertEqual([call() for _ in range(3)], [(100, "USD"), (101, "USD"), (102, "USD")])

    def test_argument_failures_name_the_call(self):
        module = types.ModuleType("shopmod")
        exec("def handle(order_id):\n    return order_id\n", module.__dict__)
        target = Target("shopmod:handle(undefined_name)", ".")
        target.module = module
        with self.assertRaises(RunnerError) as caught:
            CallWithArguments(module.handle, target).arguments()
        self.assertEqual(caught.exception.kind, "target-arguments")
        self.assertIn("failed at call 1 (i = 0): NameError", str(caught.exception))
        self.assertIn("other names must be defined in module shopmod", str(caught.exception))
        target = Target("shopmod:handle(i, 2)", ".")
        target.module = module
        with self.assertRaises(RunnerError) as caught:
            CallWithArguments(module.handle, target).arguments()
        self.assertIn("do not fit handle(order_id)", str(caught.exception))

    def test_required_parameters_need_arguments(self):
        target = Target("mod:f", ".")

        def f(a, b=1, *, c):
            return a

        with self.assertRaises(RunnerError) as caught:
            check_no_arguments(f, target)
        self.assertIn("needs arguments (a, c)", str(caught.exception))
        self.assertIn("`mod:f(i, ...)`", str(caught.exception))
        check_no_arguments(lambda x=1: x, target)  # defaults only: fine

    def test_coroutine_functions_run_on_one_loop(self):
        loops = []

        async def work():
            loops.append(asyncio.get_event_loop())

        call = make_caller(work)
        try:
            call()
            call()
        finally:
            call.close()
        self.assertEqual(len(loops), 2)
        self.assertIs(loops[0], loops[1])
        self.assertTrue(loops[0].is_closed())


if __name__ == "__main__":
    unittest.main()
