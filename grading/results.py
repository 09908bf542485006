"""Points and results: the points table (points.json), the per-task summary, and
Gradescope's results.json.

Only the grader writes results, atomically (a temporary file renamed into place),
from the start of a run and after each test, so that a run cut short still leaves a
valid file: every test that was not judged scores 0 and is marked failed (fail
closed), and "complete" stays false until the run has ended normally.
"""
import json
import time
from pathlib import Path

POINTS_FILE = Path(__file__).resolve().parent / "points.json"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


def load_points(path=POINTS_FILE):
    with open(path) as f:
        table = json.load(f)
    by_test, by_function = {}, {}
    for part in table["parts"]:
        part["points"] = sum(part["tests"].values())
        part.setdefault("observed", {})
        if part["observed"] and sum(part["observed"].values()) != part["points"]:
            raise ValueError("%s: part %s: its observed tests are worth %g, its tests %g"
                             % (path, part["part"], sum(part["observed"].values()), part["points"]))
        by_function[part["function"]] = part
        for test, points in list(part["tests"].items()) + list(part["observed"].items()):
            if test in by_test:
                raise ValueError("%s: test %s is listed twice" % (path, test))
            by_test[test] = (part, points)
    table["by_test"] = by_test
    table["by_function"] = by_function
    table["total"] = sum(p["points"] for p in table["parts"])
    table.setdefault("checks", {})
    table.setdefault("slips", {})
    for part, costs in table["slips"].items():
        if part != "about" and (part not in {p["part"] for p in table["parts"]} or
                                not all(isinstance(v, (int, float)) and v >= 0 for v in costs.values())):
            raise ValueError("%s: slips of part %s: not a part, or not points" % (path, part))
    for test in table["checks"]:
        if test in by_test:
            raise ValueError("%s: test %s is both graded and a check" % (path, test))
    return table


def slip_losses(entries, table):
    """{index: points lost} for the entries (dicts with "part", "points", "status" and, for a slip,
    "slips") that report slips: a part loses the points of each distinct slip its tests report once,
    spread over those tests in order; where another test of the part failed outright, the slip's tests
    earn nothing (a slip counts only where everything else is right)."""
    lost = {}
    parts = {}
    for i, entry in enumerate(entries):
        if entry.get("part") is not None:
            parts.setdefault(entry["part"]["part"], []).append(i)
    for part, indices in parts.items():
        reporting = [i for i in indices if entries[i]["status"] == "partial" and entries[i].get("slips")]
        if not reporting:
            continue
        clean = all(entries[i]["status"] in ("passed", "skipped", "not run") or i in reporting for i in indices)
        costs = table.get("slips", {}).get(part, {})
        names = list(dict.fromkeys(name for i in reporting for name in entries[i]["slips"]))
        remaining = sum(costs.get(name, 0) for name in names) if clean else float("inf")
        for i in reporting:
            lost[i] = min(entries[i]["points"], remaining)
            remaining -= lost[i]
    return lost


def points_markdown(table=None):
    """The points table as Markdown, for READMEs."""
    table = table or load_points()
    lines = ["| task | function (file) | points | tests |", "| --- | --- | ---: | --- |"]
    for part in table["parts"]:
        tests = ", ".join("`%s` %g" % (t, p) for t, p in part["tests"].items())
        lines.append("| %s | `%s` (%s) | %g | %s |" % (part["part"], part["function"], part["file"],
                                                       part["points"], tests))
    lines.append("| | **total** | **%g** | |" % table["total"])
    return "\n".join(lines)


def shorten(text, width):
    """text cut to width at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[:width - 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > width // 2 else text[:width - 1]).rstrip(" ,;:") + "…"


def num(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


def write_json_atomically(path, value):
    """value as JSON in path, written atomically, for its owner alone (results are private)."""
    from plotting import atomic_write
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, indent=1) + "\n"
    atomic_write(str(path), lambda f: f.write(text.encode()), mode=0o600)


class Grading:
    """Points and outcomes of the grading tests of one run."""

    def __init__(self, submission_dir, json_path=None, table=None, visibility="visible"):
        self.table = table or load_points()
        self.submission_dir = Path(submission_dir)
        self.json_path = json_path
        self.visibility = visibility
        self.items = {}       # test id -> record
        self.collected_tests = set()
        self.problems_source = lambda: []
        self.import_errors_source = lambda: []   # the submission does not run as handed in: why
        self.isolation, self.isolation_note = None, ""
        self.provenance = None   # grading/provenance.py's record, once the worker has started
        self.formats = {}     # part -> "functions" or "observed"
        self.started = time.time()
        self.written = 0.0
        self.complete = False
        self.partial = False   # only some of the tests were selected (-k, one file)

    def knows(self, name):
        return name in self.table["by_test"] or name in self.table["checks"]

    def add(self, nodeid, name, test_id, count):
        part, points = self.table["by_test"].get(name, (None, 0.0))
        self.items[nodeid] = {"part": part, "test": name, "points": points / count, "id": test_id,
                              "status": "not run", "message": "not run"}
        self.collected_tests.add(name)

    def checks(self):
        return [e for e in self.items.values() if e["part"] is None]

    def is_partial(self):
        """Did this run select only some of the tests that grade this submission (-k, one file)?"""
        return any(t not in self.collected_tests for part in self.table["parts"] for t in self.active_tests(part))

    def record(self, nodeid, status, message, lost=None, slips=()):
        """status: passed, failed, error, skipped, partial (a slip: the test's points minus lost, or
        its share of its part's slips, slip_losses), or not graded (the grader could not do its job:
        the whole run is then incomplete)."""
        entry = self.items.get(nodeid)
        if entry is None or entry["status"] in ("failed", "error", "partial", "not graded"):
            return      # keep the first failure (a teardown error after a failed call)
        entry["status"], entry["message"] = status, message
        if status == "partial":
            entry["lost"] = min(entry["points"], max(0.0, float(lost or 0.0)))
            entry["slips"] = list(slips)
        if time.time() - self.written > 1.0:   # and at the end: a crash loses a second at most
            self.write_json()

    def score(self, entry):
        if entry["status"] == "partial" and entry.get("slips"):
            entries = list(self.items.values())
            index = next(i for i, e in enumerate(entries) if e is entry)
            return entry["points"] - slip_losses(entries, self.table).get(index, entry["points"])
        if entry["status"] == "partial":
            return entry["points"] - entry["lost"]
        return entry["points"] if entry["status"] == "passed" else 0.0

    def active_tests(self, part):
        """The tests that grade part for this submission: its functions' or its observed run's."""
        return part["observed"] if self.formats.get(part["part"]) == "observed" else part["tests"]

    def parts(self):
        """[(part, score, max, first failure message or None, ran)] in table order."""
        out = []
        for part in self.table["parts"]:
            entries = [e for e in self.items.values() if e["part"] is part]
            missing = [t for t in self.active_tests(part) if t not in self.collected_tests]
            score = sum(self.score(e) for e in entries)
            failure = next((e for e in entries if e["status"] in ("failed", "error", "partial", "not graded")), None)
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
        return list(self.problems_source())

    def not_graded(self):
        """Why the grader could not grade (each once), or []."""
        return list(dict.fromkeys(e["message"].splitlines()[0] for e in self.items.values()
                                  if e["status"] == "not graded"))

    def summary_lines(self):
        lines, tasks, skipped = [], {}, 0
        partial = self.partial
        for part, score, maximum, note, ran in self.parts():
            if partial:
                selected = [e for e in self.items.values() if e["part"] is part]
                if not selected:
                    skipped += 1
                    continue
                maximum = sum(e["points"] for e in selected)
                note = None if note and note.startswith("not collected") else note
            tasks.setdefault(part["task"], [0.0, 0.0])
            tasks[part["task"]][0] += score
            tasks[part["task"]][1] += maximum
            status = "" if note is None else "  " + shorten(note.splitlines()[0], 110)
            lines.append("Task %-4s %-40s %5s / %-3s%s" % (part["part"], part["function"], num(score),
                                                         num(maximum), status))
        total = sum(s for s, _ in tasks.values())
        if partial:
            lines.append("these tests: %s / %s; %d other part%s not run (python -m pytest grading/rubric "
                         "runs them all)" % (num(total), num(sum(m for _, m in tasks.values())), skipped,
                                             "" if skipped == 1 else "s"))
        else:
            lines.append("  ".join("Task %s: %s / %s" % (t, num(s), num(m)) for t, (s, m) in tasks.items()))
            lines.append("TOTAL: %s / %s" % (num(total), num(self.table["total"])))
        for entry in self.checks():
            if entry["status"] != "not run":
                lines.append("check (no points) %s: %s" % (entry["id"], "passed" if entry["status"] == "passed"
                                                           else shorten(entry["message"].splitlines()[0], 110)))
        observed = [p for p, f in sorted(self.formats.items()) if f == "observed"]
        if observed:
            lines.append("graded by watching the main block run (original handout's layout): Task %s"
                         % ", ".join(observed))
        for error in self.import_errors_source():
            lines.append("WARNING: " + error.splitlines()[0])
        for problem in self.problems():
            lines.append("problem: " + problem.splitlines()[0])
        for why in self.not_graded():
            lines.insert(0, "NOT GRADED (the grader's failure, not the submission's; grade it again): " + why)
        if self.isolation == "none":
            lines.append("WARNING: " + self.isolation_note.splitlines()[0])
        return lines

    def results_json(self):
        tests = []
        for entry in self.items.values():
            part = entry["part"] or {"part": "check", "function": "(no points)"}
            tests.append({
                "name": "Task %s %s: %s" % (part["part"], part["function"], entry["id"]) if entry["part"] else
                        "Check (no points): %s" % entry["id"],
                "number": part["part"],
                "score": round(self.score(entry), 4),
                "max_score": round(entry["points"], 4),
                "status": "passed" if entry["status"] == "passed" else "failed",
                "output": entry["message"][:4000],
                "visibility": self.visibility,
            })
        for part in self.table["parts"]:
            for test, points in self.active_tests(part).items():
                if test not in self.collected_tests:
                    tests.append({"name": "Task %s %s: %s" % (part["part"], part["function"], test),
                                  "number": part["part"], "score": 0.0, "max_score": points,
                                  "status": "failed", "output": "not run (the test was not collected)",
                                  "visibility": self.visibility})
        parts = {p["part"]: {"function": p["function"], "score": round(s, 4), "max_score": m}
                 for p, s, m, _, _ in self.parts()}
        not_graded = self.not_graded()
        return {
            "score": None if not_graded else round(sum(t["score"] for t in tests), 4),
            "execution_time": round(time.time() - self.started, 1),
            "output": "\n".join(self.summary_lines()),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {"submission": str(self.submission_dir), "parts": parts,
                           "max_score": self.table["total"], "problems": self.problems(),
                           "runs_as_handed_in": not self.import_errors_source(),
                           "import_errors": list(self.import_errors_source()),
                           "isolation": self.isolation, "isolation_note": self.isolation_note,
                           "format": self.format_name(), "formats": dict(self.formats),
                           "not_graded": not_graded, "complete": self.complete and not not_graded,
                           "provenance": self.provenance},
        }

    def format_name(self):
        """'functions' (this project's format), 'original' (Tasks 2 and 3 observed) or 'mixed'."""
        kinds = set(self.formats.values()) or {"functions"}
        return "functions" if kinds == {"functions"} else "original" if \
            all(self.formats.get(p) == "observed" for p in ("2.1", "2.2", "3.1", "3.2", "3.3")) else "mixed"

    def write_json(self):
        self.written = time.time()
        if self.json_path:
            write_json_atomically(self.json_path, self.results_json())
