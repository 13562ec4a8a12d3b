#!/usr/bin/env python3
"""The behaviour judge for LeakLens fixes (`npm run fix-semantics`, docs/fix-semantics.md).

Copies the running interpreter's installation prefix three times (original, safe fixes, safe +
unsafe fixes), applies LeakLens's fixes to the copies' standard library (never to its `test`
package), picks the regression tests of every changed module, runs the same test list with the
original and with each fixed interpreter (`python -m test -jN --timeout ...`), and prints, per
test file, the comparison, every new failure with the fix responsible for it, and how many of
the fixed lines the tests executed. Standard library only; run it with the Python whose
standard library is to be judged.
"""
import argparse
import ast
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VERSION = "python%d.%d" % sys.version_info[:2]

# Modules whose regression tests are not named after them.
ALIASES = {
    "_pydecimal": ["test_decimal"],
    "http.client": ["test_httplib"],
    "http.server": ["test_httpservers"],
    "urllib.request": ["test_urllib2", "test_urllib2_localnet"],
    "urllib.parse": ["test_urlparse"],
    "xml.sax": ["test_sax"],
    "xml.dom.minidom": ["test_minidom"],
    "xml.dom.pulldom": ["test_pulldom"],
    "idlelib": ["test_idle"],
    "tkinter": ["test_tk", "test_ttk_textonly"],
    "tkinter.ttk": ["test_ttk_textonly", "test_ttk_guionly"],
    "tkinter.tix": ["test_tix"],
    "turtledemo": ["test_turtle"],
    "multiprocessing": ["test_multiprocessing_main_handling", "test_concurrent_futures",
                        "test_multiprocessing_fork"],
    "lib2to3": ["test_lib2to3"],
    "unittest": ["test_unittest"],
    "ctypes": ["test_ctypes"],
    "distutils": ["test_distutils"],
    "email": ["test_email"],
    "importlib": ["test_importlib"],
    "sqlite3": ["test_sqlite3"],
    "json": ["test_json"],
}


def log(*args):
    print(*args, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


# --- copies of the installation --------------------------------------------------------------

def copy_prefix(prefix, dest):
    """bin/ and lib/ of the installation, without site-packages and byte code."""
    stdlib = os.path.join(prefix, "lib", VERSION)

    def ignore(folder, names):
        skip = {n for n in names if n == "__pycache__"}
        if os.path.abspath(folder) == stdlib:
            skip |= {"site-packages"} & set(names)
        return skip

    os.makedirs(dest)
    shutil.copytree(os.path.join(prefix, "bin"), os.path.join(dest, "bin"), symlinks=True)
    shutil.copytree(os.path.join(prefix, "lib"), os.path.join(dest, "lib"), symlinks=True, ignore=ignore)
    os.makedirs(os.path.join(dest, "lib", VERSION, "site-packages"), exist_ok=True)
    shutil.copy(os.path.join(HERE, "coverage_hook.py"), os.path.join(dest, "lib", VERSION, "sitecustomize.py"))
    python = os.path.join(dest, "bin", VERSION)
    seen = run([python, "-c", "import os, sys; print(sys.prefix); print(os.__file__)"]).stdout.split()
    if len(seen) != 2 or os.path.realpath(seen[0]) != os.path.realpath(dest):
        raise SystemExit(f"the copy at {dest} does not use its own prefix: {seen}")
    return python, os.path.join(dest, "lib", VERSION)


def stdlib_entries(stdlib, only):
    """What LeakLens is run on: the standard library's entries except `test` (or the --only files)."""
    if only:
        return only
    skip = {"test", "site-packages", "__pycache__", "sitecustomize.py"}
    return sorted(e for e in os.listdir(stdlib) if e not in skip)


# --- applying fixes ---------------------------------------------------------------------------

SELECT = []


def leaklens(cli, stdlib, entries, *flags):
    return run(["node", cli, "check", "--exit-zero", *SELECT, *flags, *entries], cwd=stdlib)


def findings_by_file(cli, stdlib, entries):
    out = leaklens(cli, stdlib, entries, "--format", "json")
    if out.returncode != 0:
        raise SystemExit(f"leaklens check failed: {out.stderr}")
    by_file = {}
    for f in json.loads(out.stdout):
        by_file.setdefault(os.path.normpath(f["path"]), []).append(f)
    return by_file


def fix_label(finding, fix):
    return f'{finding["code"]} {os.path.normpath(finding["path"])}:{finding["start"]["line"]} ({fix["safety"]}: {fix["title"]})'


def run_time_lines(source):
    """Lines inside function bodies (they run when the function is called, not at import)."""
    lines = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return lines
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            lines.update(range(node.body[0].lineno, (node.end_lineno or node.body[-1].lineno) + 1))
    return lines


def changes(orig_stdlib, fixed_stdlib, findings, safeties):
    """Per changed file: the changed lines of the fixed text and the fixes each one comes from."""
    out = {}
    for rel, found in sorted(findings.items()):
        a_path, b_path = os.path.join(orig_stdlib, rel), os.path.join(fixed_stdlib, rel)
        with open(a_path, "rb") as f:
            a_bytes = f.read()
        with open(b_path, "rb") as f:
            b_bytes = f.read()
        if a_bytes == b_bytes:
            continue
        a = a_bytes.decode("utf-8", "replace").splitlines()
        b_text = b_bytes.decode("utf-8", "replace")
        b = b_text.splitlines()
        fixes = []
        for finding in found:
            fix = next((x for x in finding["fixes"] if x["safety"] in safeties), None)
            if fix:
                span = [(e["start"]["line"], e["end"]["line"]) for e in fix["edits"]]
                fixes.append({"label": fix_label(finding, fix), "code": finding["code"], "safety": fix["safety"], "spans": span})
        body = run_time_lines(b_text)
        lines = {}
        applied = set()
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            # Old lines i1+1..i2 (1-based) were replaced; an insertion sits between i1 and i1+1.
            lo, hi = i1, max(i2, i1 + 1) + 1
            owners = [x["label"] for x in fixes if any(s <= hi and e >= lo for s, e in x["spans"])]
            applied.update(owners)
            for j in range(j1, j2):
                if b[j].strip():
                    lines[j + 1] = {"owners": owners or ["(a later fix-all pass)"], "run_time": (j + 1) in body}
        out[rel] = {"fixes": [x for x in fixes if x["label"] in applied], "lines": lines}
    return out


# --- choosing tests ---------------------------------------------------------------------------

def module_name(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def tests_for(rel, test_dir):
    def exists(name):
        path = os.path.join(test_dir, *name.split("."))
        return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))

    dotted = module_name(rel)
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        alias = ALIASES.get(".".join(parts[:k]))
        if alias:
            found = [t for t in alias if exists(t)]
            if found:
                return found
    for k in range(len(parts), 0, -1):
        name = "test_" + "_".join(parts[:k])
        if exists(name):
            # A test package's own module for this submodule (test_asyncio.test_tasks), if any.
            sub = f"{name}.test_{parts[-1]}"
            if k < len(parts) and exists(sub):
                return [sub]
            siblings = sorted(f[:-3] for f in os.listdir(test_dir) if f.startswith(name + "_") and f.endswith(".py") and not f[:-3].endswith("net"))
            return [name] + siblings
    name = "test_" + parts[-1].lstrip("_")
    if exists(name):
        return [name]
    return []


# --- running the tests ------------------------------------------------------------------------

def run_tests(python, tests, work, label, targets, jobs, timeout):
    os.makedirs(work, exist_ok=True)
    cov_dir = os.path.join(work, "coverage")
    os.makedirs(cov_dir, exist_ok=True)
    targets_file = os.path.join(work, "coverage-targets.json")
    with open(targets_file, "w") as f:
        json.dump(sorted(targets), f)
    junit = os.path.join(work, "junit.xml")
    env = dict(os.environ, LEAKLENS_COVERAGE_TARGETS=targets_file, LEAKLENS_COVERAGE_DIR=cov_dir)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        env.pop(key, None)
    cmd = [python, "-m", "test", "-j", str(jobs), "--timeout", str(timeout), "--junit-xml", junit, *tests]
    log(f"  [{label}] {len(tests)} test files: python -m test -j{jobs} --timeout {timeout} ...")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=work, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    with open(os.path.join(work, "regrtest.log"), "w") as f:
        f.write(proc.stdout)
    log(f"  [{label}] exit {proc.returncode} after {seconds:.0f} s")
    return {"files": file_statuses(proc.stdout, tests), "cases": junit_cases(junit), "coverage": read_coverage(cov_dir),
            "seconds": seconds, "log": proc.stdout}


SECTION = re.compile(r"^(?:All )?\d+ tests? (.*?)[:.]$")


def file_statuses(output, tests):
    """Per test file: passed, failed, skipped, env changed, ... from regrtest's summary."""
    status = {}
    current = None
    for line in output.splitlines():
        m = SECTION.match(line)
        if m:
            what = m.group(1)
            current = ("failed" if what.startswith("failed") else "skipped" if what.startswith("skipped")
                       else "env changed" if "env changed" in what else "no tests" if "no tests" in what
                       else "passed" if what.startswith("OK") else what)
            continue
        if current and line.startswith("    ") and line.strip():
            for name in line.split():
                status.setdefault(name, current)
            continue
        if not line.strip():
            continue
        current = None
    for line in output.splitlines():
        m = re.search(r"\] (test\S+) (?:failed )?\((?:timeout|crashed|exit code[^)]*)", line)
        if m:
            status[m.group(1)] = "crashed or timed out"
    for t in tests:
        status.setdefault(t, "passed" if f"{t}" in output else "not run")
    return status


def junit_cases(path):
    cases = {}
    if not os.path.exists(path):
        return cases
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "?")
        problem = next((c for c in case if c.tag in ("failure", "error")), None)
        if problem is not None:
            cases[name] = ("failed", (problem.get("message") or "") + "\n" + (problem.text or ""))
        elif any(c.tag == "skipped" for c in case) or case.get("status") == "skipped":
            cases[name] = ("skipped", "")
        else:
            cases[name] = ("passed", "")
    return cases


def read_coverage(cov_dir):
    """Lines executed per file, overall and per test file (the worker that ran it)."""
    overall, per_test = {}, {}
    for name in os.listdir(cov_dir):
        try:
            with open(os.path.join(cov_dir, name), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        cmdline = " ".join(data.get("argv", []))
        m = re.search(r'"tests": \[([^\]]*)\]', cmdline) if "libregrtest.worker" in cmdline else None
        owner = ",".join(json.loads("[" + m.group(1) + "]")) if m else None
        for path, lines in data["lines"].items():
            overall.setdefault(path, set()).update(lines)
            if owner:
                per_test.setdefault(owner, {}).setdefault(path, set()).update(lines)
    return {"overall": overall, "per_test": per_test}


# Test files whose cases live in the package they test, so their ids do not start with `test.`.
PACKAGE_CASES = {
    "lib2to3.tests.": "test_lib2to3",
    "idlelib.idle_test.": "test_idle",
    "distutils.tests.": "test_distutils",
    "ctypes.test.": "test_ctypes",
    "unittest.test.": "test_unittest",
}


def test_file_of(case_id, tests):
    """`test.test_argparse.TestX.test_y` → `test_argparse` (the longest test name that prefixes it);
    `lib2to3.tests.test_parser.X.y` → `test_lib2to3` (PACKAGE_CASES)."""
    for prefix, t in PACKAGE_CASES.items():
        if case_id.startswith(prefix) and t in tests:
            return t
    best = None
    for t in tests:
        if case_id == f"test.{t}" or case_id.startswith(f"test.{t}."):
            if best is None or len(t) > len(best):
                best = t
    return best or case_id.split(".")[1] if case_id.startswith("test.") else (best or "?")


# --- comparing --------------------------------------------------------------------------------

FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def responsible(text, fixed_stdlib, changed, executed_by_test, chosen_for):
    """The fixes a failure's traceback passes through; else the fixes of changed files it passes
    through; else the fixes whose lines this test file executed, those of the modules the test
    file was chosen for first."""
    direct, files = [], []
    for path, line in FRAME.findall(text or ""):
        if not path.startswith(fixed_stdlib + os.sep):
            continue
        rel = os.path.relpath(path, fixed_stdlib)
        if rel not in changed:
            continue
        info = changed[rel]["lines"].get(int(line))
        if info:
            direct += [o for o in info["owners"] if o not in direct]
        elif rel not in files:
            files.append(rel)
    if direct:
        return "traceback", direct
    if files:
        return "traceback passes through the changed file", [x["label"] for rel in files for x in changed[rel]["fixes"]]
    suspects = []
    for path, lines in sorted(executed_by_test.items(), key=lambda kv: os.path.relpath(kv[0], fixed_stdlib) not in chosen_for):
        rel = os.path.relpath(path, fixed_stdlib)
        for number in sorted(lines):
            info = changed.get(rel, {"lines": {}})["lines"].get(number)
            if not info or not info["run_time"]:
                continue
            for o in info["owners"]:
                if o not in suspects:
                    suspects.append(o)
    mine = [s for s in suspects if any(s.split(" ")[1].startswith(rel + ":") for rel in chosen_for)]
    if mine:
        return "fixed lines this test file executed, in the modules it tests", mine
    return "fixed lines this test file executed", suspects


def compare(stage, base, fixed, tests, fixed_stdlib, changed, chosen):
    rows, new_failures = [], []
    for t in tests:
        b_status, f_status = base["files"].get(t, "not run"), fixed["files"].get(t, "not run")
        b_cases = {k: v for k, v in base["cases"].items() if test_file_of(k, tests) == t}
        f_cases = {k: v for k, v in fixed["cases"].items() if test_file_of(k, tests) == t}
        count = lambda cases, s: sum(1 for v in cases.values() if v[0] == s)
        rows.append((t, b_status, f_status, count(b_cases, "passed"), count(b_cases, "failed"), count(f_cases, "passed"), count(f_cases, "failed")))
        executed = fixed["coverage"]["per_test"].get(t, {})
        seen = False
        for case, (status, text) in sorted(f_cases.items()):
            if status == "failed" and b_cases.get(case, ("absent",))[0] != "failed":
                how, fixes = responsible(text, fixed_stdlib, changed, executed, chosen.get(t, []))
                new_failures.append({"test": t, "case": case, "how": how, "fixes": fixes, "text": text})
                seen = True
        bad = ("failed", "crashed or timed out", "not run")
        if not seen and f_status in bad and b_status not in bad:
            how, fixes = responsible(fixed["log"], fixed_stdlib, changed, executed, chosen.get(t, []))
            new_failures.append({"test": t, "case": f"{t} (the whole file: {f_status})", "how": how, "fixes": fixes, "text": ""})
    return rows, new_failures


def coverage_figures(changed, fixed):
    overall = fixed["coverage"]["overall"]
    total = ran = rt_total = rt_ran = 0
    exercised, fix_total = set(), set()
    import_only = set()
    for rel, info in changed.items():
        executed = overall.get(os.path.join(fixed["stdlib"], rel), set())
        for x in info["fixes"]:
            fix_total.add(x["label"])
        for number, line in info["lines"].items():
            total += 1
            hit = number in executed
            ran += hit
            if line["run_time"]:
                rt_total += 1
                rt_ran += hit
                if hit:
                    exercised.update(line["owners"])
            elif hit:
                import_only.update(line["owners"])
    return {"lines": total, "lines_executed": ran, "run_time_lines": rt_total, "run_time_lines_executed": rt_ran,
            "fixes": len(fix_total), "fixes_exercised": len(exercised & fix_total),
            "unexercised": sorted(fix_total - exercised)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated standard-library files to fix (relative, e.g. getopt.py,xml/etree/ElementTree.py)")
    ap.add_argument("--select", help="only these rules' findings and fixes (leaklens check --select, e.g. LL201)")
    ap.add_argument("--stages", default="safe,unsafe", help="safe, unsafe, or both (default)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per test file (regrtest --timeout)")
    ap.add_argument("--max-tests", type=int, default=60, help="at most this many test files per stage")
    ap.add_argument("--report", help="write the comparison as JSON here")
    ap.add_argument("--plan", action="store_true", help="apply the fixes and choose the tests, run nothing")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copies")
    ap.add_argument("--fail-on-safe", action="store_true", help="exit 1 when safe fixes make a test fail (for CI)")
    args = ap.parse_args()
    if args.select:
        SELECT[:] = ["--select", args.select]

    cli_src = os.path.join(REPO, "dist")
    if not os.path.exists(os.path.join(cli_src, "leaklens.js")):
        raise SystemExit("dist/leaklens.js is missing: run `npm run build` first")
    prefix = os.path.realpath(sys.prefix)
    work = os.path.realpath(tempfile.mkdtemp(prefix="leaklens-fix-semantics-"))
    started = time.monotonic()
    stages = [s for s in args.stages.split(",") if s]
    try:
        # The CLI is copied first, so that rebuilding the repository meanwhile changes nothing.
        shutil.copytree(cli_src, os.path.join(work, "dist"))
        cli = os.path.join(work, "dist", "leaklens.js")
        log(f"Python {sys.version.split()[0]} at {prefix}; copies in {work}" + (f"; rules: {args.select}" if args.select else ""))
        copies = {}
        for name in ["orig", *stages]:
            copies[name] = copy_prefix(prefix, os.path.join(work, name))
        orig_python, orig_stdlib = copies["orig"]
        only = [os.path.normpath(p) for p in args.only.split(",")] if args.only else None
        entries = stdlib_entries(orig_stdlib, only)
        findings = findings_by_file(cli, orig_stdlib, entries)
        test_dir = os.path.join(orig_stdlib, "test")
        plan = {}
        for stage in stages:
            python, stdlib = copies[stage]
            flag = "--fix" if stage == "safe" else "--unsafe-fixes"
            out = leaklens(cli, stdlib, entries, flag, "--quiet")
            summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()
            safeties = {"safe"} if stage == "safe" else {"safe", "unsafe"}
            changed = changes(orig_stdlib, stdlib, findings, safeties)
            tests, chosen = [], {}
            for rel in changed:
                for t in tests_for(rel, test_dir):
                    chosen.setdefault(t, []).append(rel)
                    if t not in tests:
                        tests.append(t)
            untested = [rel for rel in changed if not tests_for(rel, test_dir)]
            tests = tests[: args.max_tests]
            plan[stage] = {"python": python, "stdlib": stdlib, "summary": summary, "changed": changed, "tests": tests, "untested": untested, "chosen": chosen}
            by_rule = {}
            for info in changed.values():
                for x in info["fixes"]:
                    key = f'{x["code"]} {x["safety"]}'
                    by_rule[key] = by_rule.get(key, 0) + 1
            log(f"{stage}: leaklens {flag}: {summary}")
            log(f"  {len(changed)} modules changed; fixes by rule: {', '.join(f'{k} {v}' for k, v in sorted(by_rule.items())) or 'none'}")
            log(f"  {len(tests)} test files: {' '.join(tests)}")
            if untested:
                log(f"  no regression tests found for: {' '.join(untested)}")
        # The original interpreter runs every test any stage needs, once.
        union = []
        for stage in stages:
            union += [t for t in plan[stage]["tests"] if t not in union]
        if not union or args.plan:
            log("nothing to run" if not union else f"plan only: {len(union)} test files")
            return 0
        targets = {os.path.join(orig_stdlib, rel) for s in stages for rel in plan[s]["changed"]}
        base = run_tests(orig_python, union, os.path.join(work, "run-orig"), "original", targets, args.jobs, args.timeout)
        report = {"python": sys.version.split()[0], "stages": {}}
        exit_code = 0
        for stage in stages:
            p = plan[stage]
            targets = {os.path.join(p["stdlib"], rel) for rel in p["changed"]}
            fixed = run_tests(p["python"], p["tests"], os.path.join(work, f"run-{stage}"), stage, targets, args.jobs, args.timeout)
            fixed["stdlib"] = p["stdlib"]
            rows, new = compare(stage, base, fixed, p["tests"], p["stdlib"], p["changed"], p["chosen"])
            cov = coverage_figures(p["changed"], fixed)
            n_fixes = sum(len(i["fixes"]) for i in p["changed"].values())
            cases = sum(1 for v in fixed["cases"].values() if v[0] != "skipped")
            log("")
            log(f"== {stage} fixes ({'safe only' if stage == 'safe' else 'safe + unsafe'}) ==")
            log(f"{n_fixes} fixes in {len(p['changed'])} modules; {len(p['tests'])} test files, {cases} test cases run with each interpreter")
            log(f"{'test file':34} {'original':>12} {'fixed':>12}   passed/failed before → after")
            for t, bs, fs, bp, bf, fp, ff in rows:
                mark = "  <-- " if (ff > bf or (fs != bs and fs in ('failed', 'crashed or timed out'))) else ""
                log(f"{t:34} {bs:>12} {fs:>12}   {bp}/{bf} → {fp}/{ff}{mark}")
            log(f"new failures: {len(new)}")
            for n in new:
                log(f"  {n['case']}")
                log(f"      responsible ({n['how']}): {'; '.join(n['fixes']) or 'unknown'}")
                first = next((l.strip() for l in reversed(n["text"].strip().splitlines()) if l.strip()), "")
                if first:
                    log(f"      {first[:160]}")
            log(f"fixed lines executed by the tests: {cov['lines_executed']} of {cov['lines']} "
                f"(inside function bodies: {cov['run_time_lines_executed']} of {cov['run_time_lines']}); "
                f"fixes whose function-body lines ran: {cov['fixes_exercised']} of {cov['fixes']}")
            report["stages"][stage] = {"summary": p["summary"], "fixes": n_fixes, "modules": sorted(p["changed"]), "tests": p["tests"],
                                       "untested_modules": p["untested"], "test_cases": cases, "rows": rows,
                                       "new_failures": [{k: v for k, v in n.items() if k != "text"} for n in new], "coverage": cov}
            if stage == "safe" and new and args.fail_on_safe:
                exit_code = 1
        log(f"\nfinished in {time.monotonic() - started:.0f} s")
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=2)
        return exit_code
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
