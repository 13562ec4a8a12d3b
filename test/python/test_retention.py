"""Edge labels between real objects and retention paths from a module global
(leaklens_runner.retention)."""

import sys
import types
import unittest

from leaklens_runner.retention import _key_text, edge_label, instance_dict, object_size, retention_path, short_type, type_name

from support import TempWorkspace


class Thing(object):
    pass


class Slotted(object):
    __slots__ = ("first", "second")


class ObjectSizes(unittest.TestCase):
    def test_the_object_itself_not_what_it_refers_to(self):
        big = bytearray(100000)
        holder = [big]
        self.assertEqual(object_size(big), sys.getsizeof(big))
        self.assertEqual(object_size(holder), sys.getsizeof(holder))
        self.assertLess(object_size(holder), 1000)

    def test_an_instance_counts_its_dict_a_class_does_not(self):
        thing = Thing()
        thing.payload = "x"
        self.assertEqual(object_size(thing), sys.getsizeof(thing) + sys.getsizeof(thing.__dict__))
        self.assertEqual(object_size(Thing), sys.getsizeof(Thing))
        self.assertEqual(object_size(Slotted()), sys.getsizeof(Slotted()))

    def test_an_object_that_cannot_say_gives_none(self):
        class Broken(object):
            def __sizeof__(self):
                raise RuntimeError("no size")
        self.assertIsNone(object_size(Broken()))


class EdgeLabels(unittest.TestCase):
    def test_instance_attribute_and_its_dict(self):
        owner, value = Thing(), []
        owner.payload = value
        self.assertEqual(edge_label(owner, value), ".payload")
        self.assertEqual(edge_label(owner, instance_dict(owner)), ".__dict__")
        self.assertEqual(edge_label(owner, []), "")

    def test_slots(self):
        owner, value = Slotted(), {}
        owner.second = value
        self.assertEqual(edge_label(owner, value), ".second")

    def test_dict_keys(self):
        value = object()
        self.assertEqual(edge_label({"k": value}, value), "['k']")
        self.assertEqual(edge_label({7: value}, value), "[7]")
        self.assertEqual(edge_label({None: value}, value), "[None]")
        self.assertEqual(edge_label({("a", 1): value}, value), "[tuple key]")
        self.assertEqual(edge_label({"x" * 60: value}, value), "['" + "x" * 36 + "...]")
        key = Thing()
        self.assertEqual(edge_label({key: 1}, key), "(key)")

    def test_sequence_indexes_and_sets(self):
        value = object()
        self.assertEqual(edge_label([1, 2, value], value), "[2]")
        self.assertEqual(edge_label((value,), value), "[0]")
        self.assertEqual(edge_label(set([value]), value), "{member}")
        self.assertEqual(edge_label([1, 2], value), "")

    def test_bound_methods(self):
        owner = Thing()
        owner.run = lambda: None
        method = types.MethodType(lambda self: None, owner)
        self.assertEqual(edge_label(method, owner), ".__self__")
        self.assertEqual(edge_label(method, method.__func__), ".__func__")

    def test_closure_cells(self):
        held = [1]

        def inner():
            return held

        cell = inner.__closure__[0]
        self.assertEqual(edge_label(inner, cell), "closure[held]")
        self.assertEqual(edge_label(inner, held), "closure[held]")
        self.assertEqual(edge_label(cell, held), ".cell_contents")

    def test_function_globals_and_defaults(self):
        default = []

        def f(x=default):
            return x

        self.assertEqual(edge_label(f, f.__globals__), ".__globals__")
        self.assertEqual(edge_label(f, default), ".__defaults__")

    def test_module_and_class_namespaces(self):
        module = types.ModuleType("holder")
        module.registry = {}
        self.assertEqual(edge_label(module, module.registry), ".registry")

        class Plugin(object):
            registry = []

        self.assertEqual(edge_label(Plugin, Plugin.registry), ".registry")

    def test_exceptions_and_frames(self):
        try:
            raise ValueError("x")
        except ValueError as error:
            caught = error
        self.assertEqual(edge_label(caught, caught.__traceback__), ".__traceback__")
        self.assertEqual(edge_label(caught.__traceback__, caught.__traceback__.tb_frame), ".tb_frame")
        marker = Thing()
        frame = sys._getframe()
        self.assertEqual(edge_label(frame, marker), "local marker")

    def test_texts(self):
        self.assertEqual(_key_text("k"), "['k']")
        self.assertEqual(_key_text(frozenset()), "[frozenset key]")
        self.assertEqual(short_type([1, 2, 3]), "list[3]")
        self.assertEqual(short_type(types.ModuleType("m")), "module m")
        self.assertEqual(short_type(Thing), "class Thing")
        self.assertEqual(short_type(Thing()), "Thing")
        self.assertEqual(type_name({}), "dict")
        self.assertEqual(type_name(Thing()), __name__ + ".Thing")


HOLDER = '''
class Plugin:
    registry = []


_CACHE = {}


class Entry:
    pass


def remember(key):
    entry = Entry()
    _CACHE[key] = [entry]
    return entry


def register():
    entry = Entry()
    Plugin.registry.append(entry)
    return entry
'''


class RetentionPaths(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.holder = self.ws.module("holder_mod", HOLDER)
        self.ctx = self.ws.context("growth")

    def tearDown(self):
        self.ws.close()

    def test_through_a_global_dict(self):
        entry = self.holder.remember("user-1")
        path = retention_path(entry, self.ctx)
        self.assertTrue(path["complete"], path)
        self.assertEqual(path["text"], "module holder_mod \u2192 _CACHE (dict[1]) \u2192 ['user-1'] (list[1]) \u2192 [0] (Entry)")
        self.assertEqual(path["root"], {"module": "holder_mod", "name": "_CACHE", "attribute": None, "file": self.ws.root + "/holder_mod.py", "line": 6})

    def test_through_a_class_attribute(self):
        entry = self.holder.register()
        path = retention_path(entry, self.ctx)
        self.assertTrue(path["complete"], path)
        self.assertEqual(path["root"]["name"], "Plugin")
        self.assertEqual(path["root"]["attribute"], "registry")
        self.assertEqual(path["root"]["line"], 3)
        self.assertEqual([s["label"] for s in path["steps"]], ["module holder_mod", "Plugin", ".registry", "[0]"])

    def test_an_object_no_module_holds(self):
        path = retention_path(Thing(), self.ctx)
        self.assertFalse(path["complete"])
        self.assertIsNone(path["root"])


if __name__ == "__main__":
    unittest.main()
