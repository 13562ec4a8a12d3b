"""Strongly connected components and cycle grouping on real garbage (leaklens_runner.cycles)."""

import gc
import unittest

from leaklens_runner.cycles import measure_cycles, strongly_connected

from support import TempWorkspace


def as_sets(components):
    return sorted(sorted(c) for c in components)


class StronglyConnected(unittest.TestCase):
    def test_one_cycle_and_a_tail(self):
        self.assertEqual(as_sets(strongly_connected([[1], [2], [0, 3], []])), [[0, 1, 2], [3]])

    def test_components_come_sinks_first(self):
        # A DAG: every node alone, each after the ones it reaches.
        self.assertEqual(strongly_connected([[1], [2], []]), [[2], [1], [0]])

    def test_self_loop_and_two_cycles_joined_by_an_edge(self):
        adjacency = [[0], [2], [1, 3], [4], [3]]
        self.assertEqual(as_sets(strongly_connected(adjacency)), [[0], [1, 2], [3, 4]])

    def test_every_node_once(self):
        adjacency = [[1, 2], [0], [3], [2, 4], [], [5, 0]]
        components = strongly_connected(adjacency)
        self.assertEqual(sorted(n for c in components for n in c), list(range(6)))
        self.assertEqual(as_sets(components), [[0, 1], [2, 3], [4], [5]])

    def test_deep_graphs_do_not_recurse(self):
        n = 50000
        ring = [[i + 1] for i in range(n - 1)] + [[0]]
        self.assertEqual([len(c) for c in strongly_connected(ring)], [n])
        chain = [[i + 1] for i in range(n - 1)] + [[]]
        self.assertEqual(len(strongly_connected(chain)), n)


SHAPES = '''
class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


class Loop:
    def __init__(self):
        # On 3.11+ an instance has no allocation traceback of its own: the list, allocated in
        # __init__, places it on the line that called the constructor.
        self.items = []
        self.me = self


def parent_child():
    Node(Node())


def two_kinds():
    Node(Node())
    Loop()


def plain_lists():
    a = []
    a.append(a)


def none():
    Node()
'''


class CycleGroups(unittest.TestCase):
    def setUp(self):
        self.ws = TempWorkspace()
        self.shapes = self.ws.module("shapes", SHAPES)
        gc.collect()

    def tearDown(self):
        self.ws.close()

    def run_cycles(self, function, calls=5):
        ctx = self.ws.context("cycles", calls=calls)
        measure_cycles(function, ctx)
        return ctx

    def test_parent_child_pairs_are_one_group_with_labelled_edges(self):
        ctx = self.run_cycles(self.shapes.parent_child, calls=6)
        self.assertEqual(len(ctx.findings), 1, ctx.findings)
        cycle = ctx.findings[0]
        self.assertEqual((cycle["count"], cycle["perCall"]), (6, 1.0))
        types = dict((m["type"], m["count"]) for m in cycle["members"])
        self.assertEqual(types, {"shapes.Node": 2, "list": 1})
        labels = sorted(e["label"] for e in cycle["edges"])
        self.assertEqual(labels, [".children", ".parent", "[0]"])
        self.assertEqual(cycle["location"]["file"], self.ws.root + "/shapes.py")
        self.assertEqual(cycle["location"]["function"], "parent_child")
        parent = [e for e in cycle["edges"] if e["label"] == ".parent"][0]
        self.assertEqual([a["line"] for a in parent["assignedAt"]], [4])
        self.assertEqual(parent["assignedAt"][0]["function"], "Node.__init__")
        self.assertEqual(cycle["finalizer"], {"present": False, "types": []})
        self.assertEqual(ctx.totals["cycles"], 6)
        self.assertEqual(ctx.totals["groups"], 1)

    def test_different_shapes_are_different_groups(self):
        ctx = self.run_cycles(self.shapes.two_kinds, calls=4)
        kinds = sorted(sorted((m["type"], m["count"]) for m in f["members"]) for f in ctx.findings)
        self.assertEqual(kinds, [[("list", 1), ("shapes.Node", 2)], [("shapes.Loop", 1)]])
        loop = [f for f in ctx.findings if f["members"][0]["type"] == "shapes.Loop"][0]
        self.assertEqual([e["label"] for e in loop["edges"]], [".me"])
        self.assertEqual((loop["count"], loop["size"]), (4, 1))
        self.assertEqual(loop["location"]["function"], "two_kinds")

    def test_cycles_of_objects_from_outside_the_workspace_are_not_reported(self):
        def outside():
            a = []
            a.append(a)

        ctx = self.run_cycles(outside)
        self.assertEqual(ctx.findings, [])
        self.assertGreaterEqual(ctx.totals["garbageObjects"], 5)

    def test_a_self_referencing_list_made_in_the_workspace(self):
        ctx = self.run_cycles(self.shapes.plain_lists, calls=3)
        self.assertEqual(len(ctx.findings), 1)
        self.assertEqual([m["type"] for m in ctx.findings[0]["members"]], ["list"])
        self.assertEqual([e["label"] for e in ctx.findings[0]["edges"]], ["[0]"])

    def test_no_cycle_no_finding_and_gc_left_as_found(self):
        flags = gc.get_debug()
        garbage = len(gc.garbage)
        ctx = self.run_cycles(self.shapes.none)
        self.assertEqual(ctx.findings, [])
        self.assertEqual(ctx.totals["garbageObjects"], 0)
        self.assertEqual((gc.get_debug(), len(gc.garbage)), (flags, garbage))


if __name__ == "__main__":
    unittest.main()
