"""Which files are the user's code (Workspace) and what the runner reads from them (SourceIndex:
enclosing functions, definition lines of globals, class attributes and attribute assignments)."""

import ast
import os

from .common import is_runner_file


class Workspace:
    """Decides which source files count as the user's code (real paths, cached)."""

    def __init__(self, roots):
        self.roots = []
        for root in roots:
            real = os.path.realpath(os.path.abspath(root))
            if real not in self.roots:
                self.roots.append(real)
        self.cwd = os.getcwd()
        self._cache = {}

    def add_root(self, root):
        """Adds a folder unless an existing root already holds it (the target's own folder)."""
        real = os.path.realpath(os.path.abspath(root))
        if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots):
            self.roots.append(real)
            self._cache.clear()

    def real(self, filename):
        """The real path of a code object's filename, or None for `<frozen ...>`, `<string>`..."""
        if not filename or filename.startswith("<"):
            return None
        try:
            if not os.path.isabs(filename):
                filename = os.path.join(self.cwd, filename)
            return os.path.realpath(filename)
        except (OSError, ValueError):
            return None

    def contains(self, filename):
        """The real path when `filename` is workspace source (not the runner, not a library), else None."""
        try:
            return self._cache[filename]
        except KeyError:
            pass
        result = None
        real = self.real(filename)
        if real is not None and not is_runner_file(real):
            parts = real.split(os.sep)
            if "site-packages" not in parts and "dist-packages" not in parts:
                for root in self.roots:
                    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                        result = real
                        break
        self._cache[filename] = result
        return result


class SourceIndex:
    """What the runner needs from the user's sources: enclosing functions and definition lines."""

    def __init__(self):
        self._files = {}

    def _load(self, path):
        try:
            return self._files[path]
        except KeyError:
            pass
        info = {"functions": [], "globals": {}, "classes": {}, "attributes": {}}
        try:
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(), path)
        except (OSError, SyntaxError, ValueError):
            self._files[path] = info
            return info

        def walk(node, prefix, in_class):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qualname = prefix + child.name
                    start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    end = getattr(child, "end_lineno", None) or child.lineno
                    if isinstance(child, ast.ClassDef):
                        info["classes"][qualname] = {"line": start, "attrs": {}}
                        for item in child.body:
                            for name, line in _bound_names(item):
                                info["classes"][qualname]["attrs"].setdefault(name, line)
                        walk(child, qualname + ".", True)
                    else:
                        info["functions"].append((child.lineno, end, qualname, start))
                        walk(child, qualname + ".<locals>.", False)
                else:
                    if isinstance(child, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                        targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                        for target in targets:
                            for sub in ast.walk(target):
                                if isinstance(sub, ast.Attribute):
                                    info["attributes"].setdefault(sub.attr, []).append(sub.lineno)
                    walk(child, prefix, in_class)

        for item in tree.body:
            for name, line in _bound_names(item):
                info["globals"].setdefault(name, line)
        walk(tree, "", False)
        self._files[path] = info
        return info

    def function_at(self, path, line):
        """Qualified name of the innermost function whose body holds `line`, else `<module>`."""
        best = None
        for start, end, qualname, _ in self._load(path)["functions"]:
            if start <= line <= end and (best is None or start >= best[0]):
                best = (start, qualname)
        return best[1] if best else "<module>"

    def function_span(self, path, line):
        """(def line, last line, qualified name) of the innermost function holding `line`, or None."""
        best = None
        for start, end, qualname, _ in self._load(path)["functions"]:
            if start <= line <= end and (best is None or start >= best[0]):
                best = (start, end, qualname)
        return best

    def global_line(self, path, name):
        return self._load(path)["globals"].get(name)

    def class_attr_line(self, path, class_qualname, attr):
        entry = self._load(path)["classes"].get(class_qualname)
        if entry is None:
            return None
        return entry["attrs"].get(attr)

    def class_line(self, path, class_qualname):
        entry = self._load(path)["classes"].get(class_qualname)
        return entry["line"] if entry else None

    def attribute_assignments(self, path, attr):
        return sorted(set(self._load(path)["attributes"].get(attr, [])))


def _bound_names(statement):
    """(name, line) for the names a module- or class-level statement binds."""
    out = []
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        out.append((statement.name, min([statement.lineno] + [d.lineno for d in statement.decorator_list])))
    elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    out.append((sub.id, statement.lineno))
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for alias in statement.names:
            name = alias.asname or alias.name.split(".")[0]
            if name != "*":
                out.append((name, statement.lineno))
    elif isinstance(statement, (ast.If, ast.Try)):
        blocks = [statement.body, statement.orelse]
        if isinstance(statement, ast.Try):
            blocks.append(statement.finalbody)
            blocks.extend(h.body for h in statement.handlers)
        for block in blocks:
            for item in block:
                out.extend(_bound_names(item))
    return out
