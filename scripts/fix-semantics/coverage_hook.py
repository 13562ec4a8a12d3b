# Installed as `sitecustomize.py` in the judge's copies of the Python installation. It does
# nothing unless LEAKLENS_COVERAGE_TARGETS names a JSON list of source files: then every process
# started from that copy records which lines of those files ran and writes them, at exit, to a
# file of its own in LEAKLENS_COVERAGE_DIR. Frames of other files are not traced line by line.
import os as _os

if _os.environ.get("LEAKLENS_COVERAGE_TARGETS") and _os.environ.get("LEAKLENS_COVERAGE_DIR"):

    def _leaklens_coverage():
        import atexit
        import json
        import sys
        import threading

        with open(_os.environ["LEAKLENS_COVERAGE_TARGETS"], encoding="utf-8") as f:
            targets = frozenset(json.load(f))
        out_dir = _os.environ["LEAKLENS_COVERAGE_DIR"]
        hits = {}

        def on_call(frame, event, arg):
            name = frame.f_code.co_filename
            if name not in targets:
                return None
            lines = hits.get(name)
            if lines is None:
                lines = hits[name] = set()
            lines.add(frame.f_lineno)

            def on_line(frame, event, arg):
                if event == "line":
                    lines.add(frame.f_lineno)
                return on_line

            return on_line

        def dump():
            if not hits:
                return
            try:
                with open("/proc/self/cmdline", "rb") as f:
                    argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
            except OSError:
                argv = list(sys.argv)
            path = _os.path.join(out_dir, "%d-%d.json" % (_os.getpid(), id(hits)))
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"argv": argv, "lines": {k: sorted(v) for k, v in hits.items()}}, f)

        sys.settrace(on_call)
        threading.settrace(on_call)
        atexit.register(dump)

    _leaklens_coverage()
    del _leaklens_coverage
