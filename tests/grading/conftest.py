"""Grading: pytest options, fixtures, points and the summary.

    python -m pytest tests/grading                                  # grade this folder's vae.py, adam.py
    python -m pytest tests/grading --submission DIR                 # grade DIR/vae.py and DIR/adam.py
    python -m pytest tests/grading --submission DIR --grade-json results.json   # Gradescope

Each test's points come from points.json (one table); a run ends with a per-task
summary. --grade-json writes Gradescope's results.json after every test, so the file
is there, with every test listed (0 until it passes), even if the run is cut short.
The submission runs in a separate worker process (grading_harness.py): an import
failure, a hang or endless printing costs the points of the tests it breaks, and
the run goes on.
"""
import json
import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import grading_harness as gh  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading a submission (tests/grading)")
    group.addoption("--submission", metavar="DIR", default=None,
                    help="folder with the vae.py (and adam.py) to grade (default: this repository's)")
    group.addoption("--grade-json", metavar="PATH", default=None,
                    help="write Gradescope's results.json to PATH")
    group.addoption("--reference-dir", metavar="DIR", default=None,
                    help="stored reference outputs (default: tests/reference beside tests/grading)")
    group.addoption("--grading-timeout", metavar="SECONDS", type=float, default=gh.JOB_TIMEOUT,
                    help="time allowed to one call of the submission's functions (default %(default)s)")


def _option(config, name, default=None):
    try:
        value = config.getoption(name)
    except (ValueError, AttributeError):
        return default
    return default if value is None else value


class Grading:
    """Points and outcomes of the grading tests of one run."""

    def __init__(self, config):
        self.config = config
        self.table = gh.load_points()
        submission = _option(config, "submission")
        self.submission_dir = Path(submission).resolve() if submission else gh.DEFAULT_ROOT
        if not self.submission_dir.is_dir():
            raise pytest.UsageError("--submission %s: no such folder" % submission)
        reference = _option(config, "reference_dir")
        self.reference_dir = Path(reference).resolve() if reference else gh.DEFAULT_REFERENCE_DIR
        self.json_path = _option(config, "grade_json")
        self.timeout = float(_option(config, "grading_timeout", gh.JOB_TIMEOUT))
        self.items = {}       # nodeid -> record
        self.sub = None
        self.started = time.time()
        self.written = 0.0

    # -- collection

    def collect(self, items):
        mine = [item for item in items if _is_grading(item)]
        counts = {}
        for item in mine:
            counts[_test_name(item)] = counts.get(_test_name(item), 0) + 1
        for item in mine:
            name = _test_name(item)
            if name not in self.table["by_test"]:
                raise pytest.UsageError("grading test %s (%s) has no points in %s"
                                        % (name, item.nodeid, gh.POINTS_FILE))
            part, points = self.table["by_test"][name]
            self.items[item.nodeid] = {"part": part, "test": name, "points": points / counts[name],
                                       "id": item.name, "status": "not run", "message": "not run"}
            if item.config.pluginmanager.hasplugin("timeout"):
                # A last resort only: the harness stops a hanging call after --grading-timeout.
                item.add_marker(pytest.mark.timeout(60 + 12 * self.timeout))
        self.collected_tests = set(counts)

    # -- outcomes

    def record(self, report):
        entry = self.items.get(report.nodeid)
        if entry is None:
            return
        if report.when == "call" or report.failed or report.skipped:
            if entry["status"] in ("failed", "error"):
                return      # keep the first failure (a teardown error after a failed call)
            if report.passed:
                entry["status"], entry["message"] = "passed", "passed"
            elif report.skipped:
                entry["status"] = "skipped"
                entry["message"] = "skipped: %s" % (report.longrepr[2] if isinstance(report.longrepr, tuple)
                                                     else report.longrepr)
            else:
                entry["status"] = "failed" if report.when == "call" else "error"
                entry["message"] = _message(report)
        if time.time() - self.written > 1.0:   # and at the end: a crash loses a second at most
            self.write_json()

    def score(self, entry):
        return entry["points"] if entry["status"] == "passed" else 0.0

    # -- results

    def parts(self):
        """[(part, score, max, first failure message or None, ran)] in table order."""
        out = []
        for part in self.table["parts"]:
            entries = [e for e in self.items.values() if e["part"] is part]
            missing = [t for t in part["tests"] if t not in getattr(self, "collected_tests", set())]
            score = sum(self.score(e) for e in entries)
            failure = next((e for e in entries if e["status"] in ("failed", "error")), None)
            ran = any(e["status"] != "not run" for e in entries)
            note = None
            if failure is not None:
                note = "%s: %s" % (failure["id"], failure["message"])
            elif missing:
                note = "not collected: %s" % ", ".join(missing)
            elif not ran:
                note = "not run"
            out.append((part, score, part["points"], note, ran))
        return out

    def problems(self):
        return list(self.sub.problems) if self.sub is not None else []

    def summary_lines(self):
        lines = []
        tasks = {}
        for part, score, maximum, note, ran in self.parts():
            tasks.setdefault(part["task"], [0.0, 0.0])
            tasks[part["task"]][0] += score
            tasks[part["task"]][1] += maximum
            status = "" if note is None else "  " + note.splitlines()[0][:110]
            lines.append("Task %-4s %-40s %5s / %-3s%s" % (part["part"], part["function"], _num(score),
                                                         _num(maximum), status))
        lines.append("  ".join("Task %s: %s / %s" % (t, _num(s), _num(m)) for t, (s, m) in tasks.items()))
        total = sum(s for s, _ in tasks.values())
        lines.append("TOTAL: %s / %s" % (_num(total), _num(self.table["total"])))
        for problem in self.problems():
            lines.append("problem: " + problem.splitlines()[0])
        return lines

    def results_json(self):
        tests = []
        for entry in self.items.values():
            part = entry["part"]
            tests.append({
                "name": "Task %s %s: %s" % (part["part"], part["function"], entry["id"]),
                "number": part["part"],
                "score": round(self.score(entry), 4),
                "max_score": round(entry["points"], 4),
                "status": "passed" if entry["status"] == "passed" else "failed",
                "output": entry["message"][:4000],
                "visibility": "visible",
            })
        collected = getattr(self, "collected_tests", set())
        for part in self.table["parts"]:
            for test, points in part["tests"].items():
                if test not in collected:
                    tests.append({"name": "Task %s %s: %s" % (part["part"], part["function"], test),
                                  "number": part["part"], "score": 0.0, "max_score": points,
                                  "status": "failed", "output": "not run (the test was not collected)",
                                  "visibility": "visible"})
        parts = {p["part"]: {"function": p["function"], "score": round(s, 4), "max_score": m}
                 for p, s, m, _, _ in self.parts()}
        return {
            "score": round(sum(t["score"] for t in tests), 4),
            "output": "\n".join(self.summary_lines()),
            "visibility": "visible",
            "stdout_visibility": "visible",
            "execution_time": round(time.time() - self.started, 1),
            "tests": tests,
            "extra_data": {"submission": str(self.submission_dir), "parts": parts,
                           "max_score": self.table["total"], "problems": self.problems()},
        }

    def write_json(self):
        self.written = time.time()
        if not self.json_path:
            return
        path = Path(self.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.results_json(), indent=1) + "\n")
        os.replace(tmp, path)


def _num(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


def _is_grading(item):
    return Path(str(item.path)).resolve().parent == HERE


def _test_name(item):
    return getattr(item, "originalname", None) or item.name.split("[")[0]


def _message(report):
    text = getattr(report, "longreprtext", "") or str(report.longrepr)
    return text if len(text) <= 4000 else text[:1000] + "\n...\n" + text[-2800:]


_KEY = pytest.StashKey()
_CONFIG = []   # pytest_runtest_logreport gets no config


def _grading(config):
    return config.stash.get(_KEY, None)


def pytest_configure(config):
    config.stash[_KEY] = Grading(config)
    _CONFIG[:] = [config]
    config.stash[_KEY].write_json()   # from the start: a crash still leaves a results.json


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    _grading(config).collect(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A GradingFailure's report is its message alone: no traceback of the harness (whose
    formatting would also cost a quarter of a second per failure)."""
    excinfo = call.excinfo
    if excinfo is None or not _is_grading(item) or not excinfo.errisinstance(gh.GradingFailure):
        return None
    sections = []
    for when, key, content in item._report_sections:
        sections.append(("Captured %s %s" % (key, when), content))
    args = (item.nodeid, item.location, {x: 1 for x in item.keywords}, "failed", str(excinfo.value),
            call.when, sections, call.duration)
    try:
        return pytest.TestReport(*args, start=call.start, stop=call.stop, user_properties=item.user_properties)
    except TypeError:   # pytest < 8: no start and stop
        return pytest.TestReport(*args, user_properties=item.user_properties)


def pytest_runtest_logreport(report):
    grading = _grading_from_report(report)
    if grading is not None:
        grading.record(report)


def _grading_from_report(report):
    return _grading(_CONFIG[0]) if _CONFIG else None


def pytest_sessionfinish(session, exitstatus):
    grading = _grading(session.config)
    if grading is not None:
        if grading.sub is not None:
            grading.sub.close()
        grading.write_json()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    grading = _grading(config)
    if grading is None or not grading.items:
        return
    terminalreporter.section("grading: %s" % grading.submission_dir)
    for line in grading.summary_lines():
        terminalreporter.write_line(line)
    if grading.json_path:
        terminalreporter.write_line("results written to %s" % grading.json_path)


@pytest.fixture(scope="session")
def sub(request):
    """The submission under grading (a grading_harness.Submission)."""
    grading = _grading(request.config)
    grading.sub = gh.Submission(grading.submission_dir, timeout=grading.timeout,
                                import_timeout=max(gh.IMPORT_TIMEOUT, 2 * grading.timeout))
    yield grading.sub
    grading.sub.close()


@pytest.fixture(scope="session")
def ref(request):
    """The stored reference cases (a grading_harness.Reference)."""
    return gh.Reference(_grading(request.config).reference_dir)
