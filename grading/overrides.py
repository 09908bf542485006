"""Points set by hand: the teacher's review of a part, kept beside the class's results.

overrides.json, in grade-class's --json-dir, holds for each submission (by its folder's name,
which stays the same when the class is graded again; ids do not when a folder is added) and
part: the points, the comment, the reviewer, the time, and the automatic result the teacher saw
(its points and `basis`, a hash of the part's tests: names, points, statuses, messages). It is
written atomically after every change, so a page or server that stops loses nothing.

An override holds while the part's automatic result is the one the teacher saw. When a regrade
changes it, the override is *stale*: the part's points are the automatic ones again and the
part is back on the review list, with both values shown, until the teacher sets it again.
"""
import hashlib
import json
import time
from pathlib import Path

from grading import results

FILE = "overrides.json"
# What makes a part worth a person's look: the words of the grader's own verdicts.
HUMAN_LOOK = "needs a human look"


def load(json_dir):
    """{folder name: {part: override}} (empty when there is none yet)."""
    try:
        value = json.loads((Path(json_dir) / FILE).read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ValueError("%s is not valid JSON (%s): restore it, or delete it to drop every override"
                         % (Path(json_dir) / FILE, e)) from None
    return value.get("overrides", {}) if isinstance(value, dict) else {}


def save(json_dir, overrides):
    results.write_json_atomically(Path(json_dir) / FILE, {"about": __doc__.split("\n\n")[1].replace("\n", " "),
                                                          "overrides": overrides})


def part_tests(result, part):
    return [t for t in (result or {}).get("tests", []) if t.get("number") == part]


def basis(result, part):
    """A hash of the part's automatic result: what an override was set against."""
    tests = [[t.get("name"), t.get("score"), t.get("max_score"), t.get("status"), t.get("output")]
             for t in part_tests(result, part)]
    return hashlib.sha256(json.dumps(tests, sort_keys=True).encode()).hexdigest()[:16]


def automatic(result, part):
    """The part's automatic points (0 when the result has none)."""
    try:
        return float(((result or {}).get("extra_data") or {}).get("parts", {}).get(part, {}).get("score", 0.0))
    except (TypeError, ValueError, AttributeError):   # results are the grader's, but a file can be damaged
        return 0.0


def set_points(json_dir, name, part, points, comment, reviewer, result, table=None):
    """Record the teacher's points for a part (within 0 and its maximum), atomically; returns the
    override. ValueError for points out of range or a part that does not exist."""
    table = table or results.load_points()
    maximum = {p["part"]: p["points"] for p in table["parts"]}
    if part not in maximum:
        raise ValueError("there is no part %r (the parts are %s)" % (part, ", ".join(maximum)))
    try:
        points = float(points)
    except (TypeError, ValueError):
        raise ValueError("the points must be a number, not %r" % (points,)) from None
    if not 0 <= points <= maximum[part]:   # nan fails this too
        raise ValueError("part %s is worth 0 to %s points; %s is out of range" % (part, results.num(maximum[part]),
                                                                                results.num(points)))
    if not str(reviewer or "").strip():
        raise ValueError("say who reviewed it (the reviewer's name)")
    overrides = load(json_dir)
    record = {"points": points, "comment": str(comment or ""), "reviewer": str(reviewer).strip(),
              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "automatic": automatic(result, part), "basis": basis(result, part)}
    overrides.setdefault(name, {})[part] = record
    save(json_dir, overrides)
    return record


def clear(json_dir, name, part):
    overrides = load(json_dir)
    if overrides.get(name, {}).pop(part, None) is not None:
        if not overrides[name]:
            del overrides[name]
        save(json_dir, overrides)


def state(result, part, override):
    """(points, how): the part's points and where they come from: "automatic", "by hand" (an
    override on the result it was set against) or "stale" (the automatic result has changed since:
    the automatic points stand until the teacher looks again)."""
    if override is None:
        return automatic(result, part), "automatic"
    if override.get("basis") != basis(result, part):
        return automatic(result, part), "stale"
    return float(override["points"]), "by hand"


def points(result, part, override, maximum):
    """(points within 0 and maximum, how): state() as grades count it."""
    value, how = state(result, part, override)
    return min(max(value, 0.0), float(maximum)), how


def effective(result, overrides):
    """The overrides that count for this result: those set on the automatic result it still has."""
    return {part: o for part, o in (overrides or {}).items() if state(result, part, o)[1] == "by hand"}


def for_class(json_dir, table=None):
    """(review items, {name: entry}) of the class graded into json_dir."""
    from grading import class_report
    _, entries = class_report.load(json_dir)
    return review_items(entries, load(json_dir), table), {e["name"]: e for e in entries}


def reasons(result, part, maximum):
    """Why a part needs a person's look, [] if it does not: a verdict that says so, or partial credit."""
    out = []
    for test in part_tests(result, part):
        output = test.get("output") or ""
        if HUMAN_LOOK in output:
            out.append(output.split(HUMAN_LOOK, 1)[1].lstrip(": ").strip().splitlines()[0][:300] or HUMAN_LOOK)
    score = automatic(result, part)
    if 0 < score < maximum and not out:
        out.append("partial credit (%s of %s)" % (results.num(score), results.num(maximum)))
    return out


def review_items(rows, overrides, table=None):
    """The parts to review, in class order: [{name, id, part, function, maximum, automatic,
    reasons, override, how}] for every part that needs a look or has an override (done ones
    included, so the teacher can revise them). rows: the class's [{"name", "id", "result"}]."""
    table = table or results.load_points()
    items = []
    for row in rows:
        if row.get("result") is None:
            continue
        for part in table["parts"]:
            override = overrides.get(row["name"], {}).get(part["part"])
            why = reasons(row["result"], part["part"], part["points"])
            if not why and override is None:
                continue
            points, how = state(row["result"], part["part"], override)
            if how == "stale":
                why = ["the automatic result changed since it was reviewed (then %s, now %s; set by hand: %s)"
                       % (results.num(override.get("automatic", 0)), results.num(automatic(row["result"], part["part"])),
                          results.num(override["points"]))] + why
            items.append({"name": row["name"], "id": row["id"], "part": part["part"], "function": part["function"],
                          "maximum": part["points"], "automatic": automatic(row["result"], part["part"]),
                          "points": points, "reasons": why or ["reviewed"], "override": override, "how": how})
    return items


def pending(items):
    """The items still to review: not set by hand, or set on an automatic result that has changed."""
    return [item for item in items if item["how"] != "by hand"]
