"""cycles mode: what the target leaves to the garbage collector (gc.DEBUG_SAVEALL), split into
strongly connected components, grouped by shape and described with labelled edges."""

import gc
import re
import sys
import time
import tracemalloc

from .attribution import is_workspace_instance
from .common import MAX_CYCLE_GROUPS, MAX_EDGES, MAX_MEMBERS
from .context import call_counted
from .retention import edge_label, instance_dict, object_size, type_name


def strongly_connected(adjacency):
    """Tarjan's algorithm, iterative. Returns lists of node indices."""
    index_of = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = 0
    for start in range(len(adjacency)):
        if start in index_of:
            continue
        work = [(start, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            neighbours = adjacency[node]
            while edge < len(neighbours):
                nxt = neighbours[edge]
                edge += 1
                if nxt not in index_of:
                    work.append((node, edge))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index_of[nxt])
            if recurse:
                continue
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def measure_cycles(call, ctx):
    opts = ctx.options
    started = time.time()
    flags = gc.get_debug()
    saved = []
    groups = []
    tracemalloc.start(opts.frames)
    try:
        call_counted(call, opts.warmup, "the warm-up")
        gc.collect()
        before = len(gc.garbage)
        gc.set_debug(flags | gc.DEBUG_SAVEALL)
        try:
            call_counted(call, opts.calls, "the measured calls")
            gc.collect()
        finally:
            gc.set_debug(flags)
            saved = gc.garbage[before:]
            del gc.garbage[before:]
        measured = time.time() - started
        groups = cycle_groups(saved, ctx)
    finally:
        tracemalloc.stop()
        count_saved = len(saved)
        del saved[:]
        gc.collect()
    ctx.findings = groups
    ctx.totals = {
        "calls": opts.calls,
        "warmupCalls": opts.warmup,
        "seconds": round(measured, 3),
        "garbageObjects": count_saved,
        "cycles": sum(g["count"] for g in groups),
        "groups": len(groups),
        "withFinalizer": len([g for g in groups if g["finalizer"]["present"]]),
    }


def cycle_groups(saved, ctx):
    attributor = ctx.attributor
    index = {}
    for i, obj in enumerate(saved):
        index[id(obj)] = i
    # The graph first: reading `__dict__` on 3.11+ creates the dict an instance did not have,
    # after which the instance refers to that dict instead of its values.
    adjacency = []
    for obj in saved:
        try:
            adjacency.append([index[id(r)] for r in gc.get_referents(obj) if id(r) in index])
        except Exception:
            adjacency.append([])
    # On 3.8 instances keep attributes in a real __dict__ (5 objects for a parent<->child pair);
    # on 3.11+ the values hang off the instance (3 objects). Fold the dict into its owner.
    dict_owner = {}
    for i, obj in enumerate(saved):
        if isinstance(obj, (dict, type)):
            continue
        for j in adjacency[i]:
            if type(saved[j]) is dict and instance_dict(obj) is saved[j]:
                dict_owner[j] = i
    namespaces = ctx.script.namespace_ids if ctx.script is not None else set()
    groups = {}
    for component in strongly_connected(adjacency):
        if len(component) == 1 and component[0] not in adjacency[component[0]]:
            continue
        members = [saved[i] for i in component]
        if any(isinstance(m, dict) and id(m) in namespaces for m in members):
            continue  # a script namespace <-> its functions: not a cycle the target's code made
        sites = {}
        any_workspace = False
        for i in component:
            if i in dict_owner and dict_owner[i] in component:
                continue
            site, approx = attributor.object_site(saved[i])
            sites[i] = (site, approx)
            if site is not None:
                any_workspace = True
        if not any_workspace:
            continue
        visible = [i for i in component if i in sites]
        member_keys = {}
        for i in visible:
            site, approx = sites[i]
            member_keys[i] = (type_name(saved[i]), site, approx)
        edges = set()
        members_set = set(component)
        for i in visible:
            targets = list(adjacency[i])
            for j in list(targets):
                if j in dict_owner and dict_owner[j] == i:
                    targets.extend(adjacency[j])
            for j in targets:
                if j not in members_set:
                    continue
                if j in dict_owner and j not in sites:
                    continue
                if j not in member_keys:
                    continue
                label = edge_label(saved[i], saved[j])
                edges.add((member_keys[i], label, member_keys[j]))
        signature = (tuple(sorted(member_keys.values(), key=_member_sort)), tuple(sorted(edges, key=_edge_sort)))
        group = groups.get(signature)
        if group is None:
            sizes = {}
            for i, key in member_keys.items():
                if key not in sizes:
                    sizes[key] = object_size(saved[i])
            group = groups[signature] = {"count": 0, "size": len(visible), "members": list(member_keys.values()), "edges": edges, "objects": [saved[i] for i in visible], "sizes": sizes}
        group["count"] += 1
    out = []
    calls = float(ctx.options.calls)
    for signature, group in groups.items():
        out.append(describe_cycle(group, calls, ctx))
    out.sort(key=lambda f: (-f["count"], f["location"]["file"] if f["location"] else "", f["location"]["line"] if f["location"] else 0))
    if len(out) > MAX_CYCLE_GROUPS:
        ctx.notes.append("%d kinds of cycles; the report keeps the first %d" % (len(out), MAX_CYCLE_GROUPS))
        del out[MAX_CYCLE_GROUPS:]
    return out


def _member_sort(key):
    name, site, approx = key
    return (name, site or ("", 0), approx)


def _edge_sort(edge):
    return (_member_sort(edge[0]), edge[1], _member_sort(edge[2]))


def describe_cycle(group, calls, ctx):
    distinct = []
    counts = {}
    for key in group["members"]:
        if key not in counts:
            distinct.append(key)
            counts[key] = 0
        counts[key] += 1
    ws_types = set(type_name(o) for o in group["objects"] if is_workspace_instance(o, ctx))
    # Instances of the user's classes first: the first located one is where the cycle is shown.
    distinct.sort(key=lambda k: (k[1] is None, k[0] not in ws_types, k[2], _member_sort(k)))
    position = dict((key, i) for i, key in enumerate(distinct))
    members = []
    for key in distinct[:MAX_MEMBERS]:
        name, site, approx = key
        members.append({
            "type": name,
            "count": counts[key],
            "site": ctx.attributor.location(site) if site else None,
            "approximate": bool(approx),
            "bytes": group["sizes"].get(key),
        })
    files = set()
    for key in distinct:
        if key[1] is not None:
            files.add(key[1][0])
    class_files = set()
    finalizers = []
    for obj in group["objects"]:
        cls = type(obj)
        module = sys.modules.get(getattr(cls, "__module__", "") or "")
        path = getattr(module, "__file__", None) if module else None
        real = ctx.workspace.contains(path) if path else None
        if real:
            class_files.add(real)
        if not isinstance(obj, type) and getattr(cls, "__del__", None) is not None and cls.__module__ != "builtins":
            name = "%s.__del__" % cls.__qualname__
            if name not in finalizers:
                finalizers.append(name)
    search_files = sorted(files | class_files)
    edges = []
    for src, label, dst in sorted(group["edges"], key=_edge_sort):
        if src not in position or dst not in position or position[src] >= MAX_MEMBERS or position[dst] >= MAX_MEMBERS:
            continue
        edge = {"from": position[src], "to": position[dst], "label": label or "(ref)"}
        if label.startswith(".") and re.match(r"^\.[A-Za-z_]\w*$", label):
            assigned = []
            for path in search_files:
                for line in ctx.sources.attribute_assignments(path, label[1:]):
                    assigned.append({"file": path, "line": line, "function": ctx.sources.function_at(path, line)})
            if assigned:
                edge["assignedAt"] = assigned[:10]
        edges.append(edge)
        if len(edges) >= MAX_EDGES:
            break
    located = [m for m in members if m["site"] is not None]
    location = located[0]["site"] if located else None
    if location is None:
        location = {"file": "", "line": 0, "function": None}
    return {
        "kind": "cycle",
        "verdict": "cycle",
        "location": location,
        "count": group["count"],
        "perCall": round(group["count"] / calls, 4),
        "size": group["size"],
        "members": members,
        "edges": edges,
        "finalizer": {"present": bool(finalizers), "types": finalizers},
        # PEP 442 (3.4+): cycles with __del__ are collected, only later, at a GC pause.
        "collection": "freed late, at a GC pause" if finalizers else "freed at the next GC pause",
        "attribution": "approximate" if any(m["approximate"] for m in members if m["site"] is not None) and not any(not m["approximate"] for m in members if m["site"] is not None) else "confirmed",
    }
