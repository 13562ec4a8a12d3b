"""LeakLens run-time runner: confirms memory leaks by running code.

Standard library only, CPython 3.8 or newer. Shipped with the LeakLens extension and CLI,
which start it with the interpreter of the user's project. The runner is this package (a folder);
it is started through a launcher that puts the package's parent folder on sys.path only while
it imports the package (spawn.ts's bootstrap, or this folder's `__main__.py`), so that none of
its module names (growth, targets, cli...) hides a module of the user's program:

    python path/to/leaklens_runner growth TARGET --report FILE [--workspace DIR]
           [--warmup N] [--rounds N] [--calls N] [--frames N] [--min-bytes N]
           [--watch NAME ...] [-- SCRIPT ARGS...]
    python path/to/leaklens_runner cycles TARGET --report FILE [--workspace DIR]
           [--warmup N] [--calls N] [--frames N] [-- SCRIPT ARGS...]
    python path/to/leaklens_runner resources TARGET --report FILE [--workspace DIR]
           [--warmup N] [--calls N] [--frames N] [-- SCRIPT ARGS...]
    python path/to/leaklens_runner profile TARGET --report FILE [--workspace DIR]
           [--warmup N] [--calls N] [--frames N] [-- SCRIPT ARGS...]

TARGET is `pkg.mod:func`, `path/to/file.py:func` (a dotted attribute path after the colon is
allowed: `file.py:Class.static_method`), either with an argument list (`pkg.mod:func(i % 50,
key="k")`: Python expressions evaluated before every call in the function's module, `i` being the
call number), a pytest node id (`tests/test_x.py::test_y`, run
through pytest when pytest is importable), or a script path (`path/to/script.py`, run afresh
as `__main__` on every call).

growth: tracemalloc snapshots after a warm-up and after each round of calls; growth is
attributed to the innermost frame inside the workspace, judged per site (leak / bounded /
noise), checked against live objects allocated there, and explained by a retention path.
cycles: the reference cycles the target leaves to the garbage collector (gc.DEBUG_SAVEALL),
grouped by shape, with member types, labelled edges and allocation sites.
resources: every ResourceWarning of the measured calls (the filter forced to "always"; the ones
raised in finalizers through sys.unraisablehook), grouped by the allocation line of the object
that warned (tracemalloc), typed file / socket / subprocess / other.
profile: a line-by-line memory profile of the calls (sys.settrace on workspace frames,
tracemalloc readings at each line): hits, allocated, peak and held memory per line, the callees'
lines too (profile.py says what each number means). Never a verdict: exit status 0 when it ran.

The report (JSON, `schemaVersion` 1, see report.schema.json) is written only to --report;
stdout and stderr belong to the program under test. Exit status: 0 nothing found, 1 leaks,
cycles or unclosed resources found, 2 the runner could not do its job (the reasons are in the report's errors).

Modules: common (constants, errors, the runner's own files), workspace (the user's files and
sources), targets (target specs, arguments, callers, scripts, pytest), attribution (tracebacks
and objects to workspace lines), retention (edge labels, retention paths), context (one run's
state), growth, cycles, resources, profile (the four modes), report (the report file), cli (the command
line). Nothing is imported here: importing the package runs nothing.
"""
