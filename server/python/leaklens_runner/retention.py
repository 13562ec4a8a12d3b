"""Describing objects and the references between them (edge labels), and retention paths: the
chain of references from a module global to a retained object."""

import gc
import os
import sys
import types

from .common import MAX_FRONTIER, MAX_PATH_DEPTH, is_runner_file, runner_namespaces



def object_size(obj):
    """Bytes of one object as the pictures show it: sys.getsizeof (the object itself, not what it
    refers to), plus its instance __dict__ when it has one (where an instance keeps its
    attributes). None when the object cannot say."""
    try:
        size = sys.getsizeof(obj)
        d = getattr(obj, "__dict__", None) if not isinstance(obj, type) else None
        if isinstance(d, dict):
            size += sys.getsizeof(d)
        return int(size)
    except Exception:
        return None

def type_name(obj):
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    if module in (None, "builtins"):
        return name
    return "%s.%s" % (module, name)


def short_type(obj):
    name = type(obj).__name__
    if isinstance(obj, (list, tuple, dict, set, frozenset)):
        try:
            return "%s[%d]" % (name, len(obj))
        except Exception:
            return name
    if isinstance(obj, types.ModuleType):
        return "module %s" % getattr(obj, "__name__", "?")
    if isinstance(obj, type):
        return "class %s" % getattr(obj, "__qualname__", obj.__name__)
    if isinstance(obj, types.FunctionType):
        return "function %s" % getattr(obj, "__qualname__", obj.__name__)
    return name


def _key_text(key):
    if not isinstance(key, (str, bytes, int, float, bool, type(None))):
        return "[%s key]" % type(key).__name__
    text = repr(key)
    if len(text) > 40:
        text = text[:37] + "..."
    return "[%s]" % text


def instance_dict(obj):
    if isinstance(obj, type):
        return None
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return attrs if isinstance(attrs, dict) else None


def edge_label(src, dst):
    """How `src` refers to `dst`: `.attr`, `[i]`, `['key']`, `__self__`, `closure`... ("" when unknown)."""
    try:
        if isinstance(src, types.ModuleType):
            for key, value in list(vars(src).items()):
                if value is dst:
                    return ".%s" % key
            return ""
        if isinstance(src, dict):
            for key, value in list(src.items()):
                if value is dst:
                    return _key_text(key)
                if key is dst:
                    return "(key)"
            return ""
        if isinstance(src, (list, tuple)):
            for index, value in enumerate(src):
                if value is dst:
                    return "[%d]" % index
            return ""
        if isinstance(src, (set, frozenset)):
            return "{member}"
        if isinstance(src, types.MethodType):
            if src.__self__ is dst:
                return ".__self__"
            if src.__func__ is dst:
                return ".__func__"
            return ""
        if isinstance(src, types.CellType):
            return ".cell_contents"
        if isinstance(src, types.FunctionType):
            for index, cell in enumerate(src.__closure__ or ()):
                if cell is dst:
                    return "closure[%s]" % (src.__code__.co_freevars[index],)
                try:
                    if cell.cell_contents is dst:
                        return "closure[%s]" % (src.__code__.co_freevars[index],)
                except ValueError:
                    pass
            if src.__globals__ is dst:
                return ".__globals__"
            if src.__defaults__ is dst or (src.__defaults__ and any(d is dst for d in src.__defaults__)):
                return ".__defaults__"
            return ""
        if isinstance(src, types.FrameType):
            for key, value in list(src.f_locals.items()):
                if value is dst:
                    return "local %s" % key
            if src.f_back is dst:
                return ".f_back"
            return ""
        if isinstance(src, types.TracebackType):
            return ".tb_frame" if src.tb_frame is dst else (".tb_next" if src.tb_next is dst else "")
        if isinstance(src, BaseException):
            for attr in ("__traceback__", "__context__", "__cause__"):
                if getattr(src, attr, None) is dst:
                    return "." + attr
            if src.args is dst:
                return ".args"
        if isinstance(src, type):
            for key, value in list(vars(src).items()):
                if value is dst:
                    return ".%s" % key
            return ""
        attrs = instance_dict(src)
        if attrs is not None:
            if attrs is dst:
                return ".__dict__"
            for key, value in list(attrs.items()):
                if value is dst:
                    return ".%s" % key
        for cls in type(src).__mro__:
            for slot in getattr(cls, "__slots__", ()) or ():
                if isinstance(slot, str):
                    try:
                        if object.__getattribute__(src, slot) is dst:
                            return ".%s" % slot
                    except Exception:
                        pass
        if hasattr(src, "cache_info") and callable(getattr(src, "cache_info", None)):
            return "(cache)"
    except Exception:
        return ""
    return ""


def is_type_dict(owner, d):
    """True when `d` is the dict behind `owner.__dict__` (a class's namespace)."""
    if not isinstance(owner, type) or not isinstance(d, dict):
        return False
    try:
        proxy = owner.__dict__
        return len(proxy) == len(d) and all(k in d and d[k] is v for k, v in proxy.items())
    except Exception:
        return False


# --- retention paths -----------------------------------------------------------------------------


def retention_path(obj, ctx):
    """The chain of references from a module's globals to `obj` (breadth-first, batched).

    One `gc.get_referrers(*frontier)` per level; stops at the first module namespace reached.
    """
    own_modules = runner_namespaces()
    module_dicts = {}
    for name, module in list(sys.modules.items()):
        attrs = getattr(module, "__dict__", None)
        if isinstance(attrs, dict) and all(module is not own for own in own_modules):
            module_dicts.setdefault(id(attrs), (name, module))
    ignore = set(id(vars(own)) for own in own_modules)
    ignore.add(id(own_modules))
    keep = {id(obj): obj}
    parent = {id(obj): None}
    ignore.add(id(keep))
    ignore.add(id(parent))
    ignore.add(id(ctx.__dict__))
    for held in ctx.held_containers():
        ignore.add(id(held))
    frontier = [obj]
    found = None
    for _ in range(MAX_PATH_DEPTH):
        ignore.add(id(frontier))
        frontier_ids = set(id(o) for o in frontier)
        ignore.add(id(frontier_ids))
        referrers = gc.get_referrers(*frontier)
        ignore.add(id(referrers))
        following = []
        ignore.add(id(following))
        for ref in referrers:
            rid = id(ref)
            if rid in ignore or rid in keep:
                continue
            if isinstance(ref, types.FrameType):
                code = ref.f_code
                if is_runner_file(os.path.realpath(code.co_filename)) or code.co_filename.startswith("<"):
                    continue
            if type(ref) is tuple and len(ref) == len(frontier) and all(a is b for a, b in zip(ref, frontier)):
                continue  # the argument tuple of this very call
            child = None
            try:
                for referent in gc.get_referents(ref):
                    if id(referent) in frontier_ids:
                        child = referent
                        break
            except Exception:
                child = None
            if child is None:
                continue
            keep[rid] = ref
            parent[rid] = id(child)
            if rid in module_dicts:
                found = rid
                break
            following.append(ref)
        del referrers
        if found is not None or not following:
            break
        frontier = following[:MAX_FRONTIER]
    if found is None:
        return {"complete": False, "steps": [], "text": "no module global reached within %d references" % MAX_PATH_DEPTH, "root": None}
    chain = []
    cursor = found
    while cursor is not None:
        chain.append(keep[cursor])
        cursor = parent[cursor]
    module_name, module = module_dicts[found]
    return describe_chain(chain, module_name, module, ctx)


def describe_chain(chain, module_name, module, ctx):
    """Steps from a module namespace (chain[0]) to the retained object (chain[-1])."""
    steps = [{"label": "module %s" % module_name, "type": "module"}]
    root = {"module": module_name, "name": None, "attribute": None, "file": None, "line": None}
    module_file = getattr(module, "__file__", None)
    real_file = ctx.workspace.contains(module_file) if module_file else None
    i = 1
    owner = None  # a class or instance whose namespace dict was skipped
    while i < len(chain):
        prev = chain[i - 1] if owner is None else owner
        current = chain[i]
        if (isinstance(current, dict) and i + 1 < len(chain)) and (
            is_type_dict(prev, current) or (instance_dict(prev) is current and not isinstance(prev, dict))
        ):
            owner = prev
            i += 1
            continue
        label = edge_label(chain[i - 1] if owner is None else owner, current)
        if owner is not None and not label:
            label = edge_label(chain[i - 1], current)
        if i == 1:
            label = label or "?"
            if label.startswith("["):
                label = label[2:-2] if label[1] in "'\"" else label[1:-1]
            root["name"] = label.lstrip(".")
        elif len(steps) == 2 and isinstance(chain[1], type) and root["attribute"] is None and label.startswith("."):
            root["attribute"] = label[1:]
        owner = None
        steps.append({"label": label or "(ref)", "type": short_type(current), "bytes": object_size(current)})
        i += 1
    if real_file is not None and root["name"]:
        root["file"] = real_file
        line = None
        holder = chain[1] if len(chain) > 1 else None
        if root["attribute"] and isinstance(holder, type):
            line = ctx.sources.class_attr_line(real_file, getattr(holder, "__qualname__", ""), root["attribute"])
        if line is None:
            line = ctx.sources.global_line(real_file, root["name"])
        root["line"] = line
    text_parts = ["module %s" % module_name]
    for step in steps[1:]:
        text_parts.append("%s (%s)" % (step["label"], step["type"]))
    return {"complete": True, "steps": steps, "text": " \u2192 ".join(text_parts), "root": root}
