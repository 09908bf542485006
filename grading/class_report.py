"""The class report: how a class did and what it got wrong, as one static page with PNG plots.

    vae-teacher grade-class submissions/ --json-dir class-results/ --report class-report/
    vae-teacher report class-results/ --out class-report/                 # again, afterwards

grade-class writes, beside each submission's results (ID.json), a manifest (class.json): who is
who, how long each grading took and how much memory, and each submission's task functions in
a normal form (names and formatting normalised). The report reads only those files:

- the score distribution, overall and per part;
- per part, what students got wrong, grouped by the mistake each failure's hint names, with the
  counts and the students; untouched stubs apart, as not attempted;
- the parts to review (partial credit, "needs a human look", an override gone stale), with the
  overrides set; whole submissions to look at (not graded, no isolation, not running as handed in);
- per student: each part's points (* by hand), the total and a link to their feedback;
- pairs of submissions whose task code is near-identical after normalisation (for a person to
  look at: never a penalty);
- the time and memory each submission took.
"""
import argparse
import ast
import builtins
import difflib
import html
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from grading import results
from plotting import atomic_write

MANIFEST = "class.json"
SIMILAR = 0.92          # difflib ratio of two submissions' normalised task code, above which they are flagged
TRIVIAL = 120           # characters of normal form below which a function says nothing (a one-line KL)
TASKS = ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL", "vae_lower_bound",
         "adam_init", "adam_step", "generate_from_prior", "reconstruct", "interpolate")
IMAGE_WORDS = {"3.1": ("sampl", "prior", "generat", "muestra", "chantillon"), "3.2": ("recon", "rekon"),
               "3.3": ("interp",)}   # Task 3's images by a word of their file's name, in students' languages too


# ---------------------------------------------------------------------------
# Task code in a normal form

class _Normal(ast.NodeTransformer):
    """Local names become v0, v1, ... in order of first appearance; docstrings go."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        if hasattr(builtins, name) or name in ("np", "npr", "onp"):
            return name
        return self.names.setdefault(name, "v%d" % len(self.names))

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_FunctionDef(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        node.returns = None
        self.generic_visit(node)
        return node


def normal_form(function_node):
    """A function's code with its names and formatting normalised (ast.unparse of the normal AST)."""
    node = _Normal().visit(function_node)
    node.name = "f"
    return ast.unparse(node)


def task_code(folder):
    """{task function: normal form} of a (staged) submission folder's vae.py and adam.py."""
    out = {}
    for name in ("vae.py", "adam.py"):
        try:
            tree = ast.parse((Path(folder) / name).read_text(errors="replace"))
        except (OSError, SyntaxError, ValueError, RecursionError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in TASKS and node.name not in out:
                name = node.name
                out[name] = normal_form(node)
    return out


def write_manifest(json_dir, manifest):
    """class.json: {"isolation", "cases" (their hash), "submissions": [{id, name, student, code, ...}],
    "out", "report", "roster", "exports"}: what every later command reads of the class."""
    results.write_json_atomically(Path(json_dir) / MANIFEST, manifest)


# ---------------------------------------------------------------------------
# The report

def load_manifest(json_dir):
    """class.json as a dict, or None where there is no graded class."""
    try:
        return json.loads((Path(json_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def load(json_dir):
    """(class.json, [its entries, each with "result": the results, or None where not complete])."""
    json_dir = Path(json_dir)
    manifest = load_manifest(json_dir)
    if manifest is None:
        raise ValueError("%s holds no graded class (%s): vae-teacher grade-class SUBMISSIONS --json-dir %s"
                         % (json_dir, MANIFEST, json_dir))
    rows = []
    for entry in manifest["submissions"]:
        path = json_dir / (entry["id"] + ".json")
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            result = None
        if result is not None and not (result.get("extra_data") or {}).get("complete"):
            result = None
        rows.append(dict(entry, result=result))
    return manifest, rows


def _first_line(text):
    """A failure message's gist: its first line, every number and array in it masked alike."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else "(no message)"
    line = re.sub(r"\[[^\[\]]*\]", "[…]", line)
    line = re.sub(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])", "#", line)
    return results.shorten(line, 160)


def mistake(text):
    """What a failure says is wrong, for grouping a class's failures: the hint it gives (the
    mistake's name) when it gives one, else its gist; None for an untouched stub (not attempted)."""
    from grading.feedback import NOT_ATTEMPTED
    text = text or ""
    if any(words in text for words in NOT_ATTEMPTED):
        return None
    hints = [line.strip()[len("hint:"):].strip() for line in text.splitlines() if line.strip().startswith("hint:")]
    return ("hint: " + results.shorten(_first_line(hints[0]), 160)) if hints else _first_line(text)


def similar_pairs(rows):
    """[(ratio, name a, name b, [functions alike])] of submissions whose task code is near-identical
    after normalisation, most alike first (the handout's stubs and one-line functions say nothing)."""
    codes = []
    for row in rows:
        code = {k: v for k, v in (row.get("code") or {}).items()
                if "NotImplementedError" not in v and len(v) >= TRIVIAL}
        if code:
            codes.append((row["name"], code))
    out = []
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            (a, ca), (b, cb) = codes[i], codes[j]
            common = sorted(set(ca) & set(cb))
            if len(common) < 2:
                continue
            ratio = difflib.SequenceMatcher(None, "\n".join(ca[k] for k in common),
                                            "\n".join(cb[k] for k in common), autojunk=False).ratio()
            if ratio >= SIMILAR:
                alike = [k for k in common if ca[k] == cb[k]]
                out.append((ratio, a, b, alike))
    return sorted(out, reverse=True)


def _plots(lines, table, out_dir):
    """scores.png (the totals) and parts.png (each part's points), from the graded submissions'
    grades.csv rows (overrides applied)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    totals = [float(line["total"]) for line in lines]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(totals, bins=range(0, 105, 5), color="#4878a8", edgecolor="white")
    ax.set_xlabel("total (of %g)" % table["total"])
    ax.set_ylabel("submissions")
    ax.set_title("%d submissions graded" % len(totals))
    fig.tight_layout()
    fig.savefig(Path(out_dir) / "scores.png", dpi=100)
    plt.close(fig)
    parts = table["parts"]
    fig, axes = plt.subplots(1, len(parts), figsize=(1.3 * len(parts), 3), sharey=True)
    for ax, part in zip(axes, parts):
        scores = [float(line[part["part"]]) for line in lines]
        full = sum(s >= part["points"] for s in scores)
        none = sum(s <= 0 for s in scores)
        ax.bar(["0", "part", "full"], [none, len(scores) - full - none, full], color=["#c44e52", "#dd8452", "#55a868"])
        ax.set_title("%s\n(%g)" % (part["part"], part["points"]), fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("submissions")
    fig.suptitle("each part: none, some or all of its points", fontsize=10)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / "parts.png", dpi=100)
    plt.close(fig)


PRACTICAL_FIGURES = Path(__file__).resolve().parent / "practical_figures"   # the reference run's
PRACTICAL = {"3.1": ("samples.png", "the practical's Task 3.1: 25 samples from the prior (the reference's)"),
             "3.2": ("reconstructions.png", "Task 3.2: test images over their reconstructions (the reference's)"),
             "3.3": ("interpolation_1.png", "Task 3.3: an interpolation between two test images (the reference's)")}


def student_images(json_dir, ident):
    """The images of a submission (grade-class's figures/ID/: those the grading drew or its run
    saved, and the PNGs it handed in), each beside the practical's figure."""
    folder = Path(json_dir) / "figures" / ident
    out = []
    for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        part = path.name[:3] if path.name[:3] in PRACTICAL else next(
            (p for p, words in IMAGE_WORDS.items() if any(w in path.name.lower() for w in words)), None)
        practical, caption = PRACTICAL.get(part, (None, ""))
        if path.name.startswith("handed-in-"):
            title = "you handed in (your own run's; shown, not graded): " + path.stem[len("handed-in-"):]
        else:
            title = ("your script saved, in the grading's short run (a few training steps): "
                     if path.name.startswith("saved-") else "your function's, on trained networks: ") + \
                path.stem.split("-", 2 if path.name.startswith("saved-") else 1)[-1].replace("-", " ")
        out.append({"part": part or "3", "title": title, "png": path.read_bytes(),
                    "practical": (PRACTICAL_FIGURES / practical).read_bytes() if practical else None,
                    "practical_caption": caption})
    return out


def write_feedback(json_dir, out_dir, rows, by_hand, table):
    """Each graded student's feedback page and text, out_dir/ID.html and ID.txt (grading/feedback.py)."""
    from grading import feedback, overrides as hand
    out_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        if row["result"] is None:
            continue
        name = (row.get("student") or {}).get("student") or row["name"]
        page, text = feedback.render(row["result"], name, overrides=hand.effective(row["result"], by_hand.get(row["name"])),
                                     images=student_images(json_dir, row["id"]), table=table)
        feedback.write(out_dir, row["id"], page, text)


def write_report(json_dir, out_dir, lines=None):
    """out_dir/index.html (its PNGs, and each student's feedback in out_dir/feedback/) from
    grade_all's JSON folder; lines: its grades.csv rows, if made already. Returns the page's path."""
    from grading import classroom, overrides as hand
    manifest, rows = load(json_dir)
    table = results.load_points()
    lines = lines or classroom.class_rows(json_dir, manifest, rows, table)
    effective = {line["submission"]: line for line in lines}   # overrides applied
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    e = html.escape
    graded = [r for r in rows if r["result"] is not None]
    _plots([effective[r["name"]] for r in graded], table, out_dir)
    by_hand = hand.load(json_dir)
    failures = defaultdict(lambda: defaultdict(list))   # part -> mistake -> students (each once)
    not_attempted = defaultdict(list)                    # part -> students whose stub is untouched
    for row in graded:
        seen = set()
        for test in row["result"]["tests"]:
            if test["number"] in seen or test["number"] == "check" or test["score"] >= test["max_score"]:
                continue
            seen.add(test["number"])
            kind = mistake(test["output"])
            if kind is None:
                not_attempted[test["number"]].append(row["name"])
            else:
                failures[test["number"]][kind].append(row["name"])
    part_rows = []
    for part in table["parts"]:
        scores = [float(effective[r["name"]][part["part"]] or 0) for r in graded]
        mean = sum(scores) / len(scores) if scores else 0
        common = sorted(failures[part["part"]].items(), key=lambda item: -len(item[1]))[:5]
        part_rows.append("<tr><td>%s</td><td><code>%s</code></td><td>%s / %g</td><td>%d of %d</td><td>%s</td>"
                         "<td><ul>%s</ul></td></tr>"
                         % (part["part"], part["function"], results.num(mean), part["points"],
                            sum(s >= part["points"] for s in scores), len(scores),
                            "%d<br><small>%s</small>" % (len(not_attempted[part["part"]]),
                                                         e(", ".join(sorted(not_attempted[part["part"]])[:12])))
                            if not_attempted[part["part"]] else "0",
                            "".join("<li>%d &times; %s<br><small>%s</small></li>" % (len(who), e(message),
                                                                                     e(", ".join(sorted(who)[:12])))
                                    for message, who in common)))
    items = hand.review_items(rows, by_hand, table)
    left = hand.pending(items)
    review_rows = "".join("<tr><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td><td>%s</td></tr>" % (
        e(i["name"]), i["part"], results.num(i["automatic"]), results.num(i["maximum"]),
        "set by hand: %s (%s, %s)" % (results.num(i["override"]["points"]), e(i["override"]["reviewer"]),
                                      e(i["override"]["time"])) if i["how"] == "by hand" else
        "<b>to review again</b>: the automatic result changed" if i["how"] == "stale" else "<b>to review</b>",
        e("; ".join(i["reasons"]))) for i in items)
    feedback_dir = out_dir / "feedback"
    write_feedback(json_dir, feedback_dir, rows, by_hand, table)
    student_rows = []
    for row in rows:
        line = effective[row["name"]]
        hand_parts = hand.effective(row["result"], by_hand.get(row["name"])) if row["result"] else {}
        cells = "".join("<td>%s%s</td>" % (line[p["part"]], "*" if p["part"] in hand_parts else "")
                        for p in table["parts"])
        student_rows.append("<tr><td>%s</td><td>%s</td>%s<td><b>%s</b></td><td>%s</td></tr>" % (
            e(row["name"]), e(line["student"] or ""), cells, line["total"] or "not graded",
            "<a href='feedback/%s.html'>page</a> &middot; <a href='feedback/%s.txt'>text</a>" % (row["id"], row["id"])
            if row["result"] is not None else ""))
    roster = manifest.get("roster") or {}
    roster_notes = "".join("<li>%s</li>" % e(line) for line in roster.get("notes") or [])
    human = []
    for row in rows:
        reasons = []
        result = row["result"]
        if result is None:
            reasons.append(row.get("problem") or "not graded")
        else:
            extra = result["extra_data"]
            if extra.get("isolation") in (None, "none"):
                reasons.append("graded without isolation")
            for error in extra.get("import_errors") or []:
                reasons.append(error)
            reasons += [p for p in extra.get("problems", []) if "timed out" in p or "did not return" in p
                        or "killed" in p]
        if reasons:
            human.append("<tr><td>%s</td><td><ul>%s</ul></td></tr>" % (e(row["name"]), "".join(
                "<li>%s</li>" % e(r.splitlines()[0][:300]) for r in dict.fromkeys(reasons))))

    pairs = similar_pairs(rows)
    pair_rows = ["<tr><td>%s</td><td>%s</td><td>%.0f%%</td><td>%s</td></tr>"
                 % (e(a), e(b), 100 * ratio, e(", ".join(alike) or "(alike, none identical)"))
                 for ratio, a, b, alike in pairs]
    usage_rows = ["<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                  % (e(r["name"]), effective[r["name"]]["total"] or "not graded",
                     "%.1f s" % r["seconds"] if r.get("seconds") is not None else "",
                     "%d MB" % r["memory_mb"] if r.get("memory_mb") else "") for r in rows]
    totals = [float(effective[r["name"]]["total"]) for r in graded]
    part_heads = "".join("<th>%s</th>" % p["part"] for p in table["parts"])
    page = PAGE.format(
        students="".join(student_rows), part_heads=part_heads, left=len(left), reviewed=len(items) - len(left),
        review=review_rows or "<tr><td colspan=5>nothing needs a human look</td></tr>",
        roster=("<h2>Roster</h2><ul>%s</ul>" % roster_notes) if roster_notes else
               ("<p>Roster: every folder matched a row.</p>" if roster else ""),
        json_dir=e(str(json_dir)),
        count=len(rows), graded=len(graded), isolation=e(str(manifest.get("isolation"))),
        mean=results.num(sum(totals) / len(totals)) if totals else "-", total=results.num(table["total"]),
        parts="".join(part_rows), human="".join(human) or "<tr><td colspan=2>none</td></tr>",
        pairs="".join(pair_rows) or "<tr><td colspan=4>none</td></tr>", usage="".join(usage_rows))
    path = out_dir / "index.html"
    atomic_write(str(path), lambda f: f.write(page.encode()))
    return path


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Class report: Auto-encoding Variational Bayes</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} ul {{ margin: 0; padding-left: 1.2em; }} small {{ color: #666; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Class report: Auto-encoding Variational Bayes</h1>
<p>{count} submissions, {graded} graded (isolation: {isolation}); mean total {mean} of {total}.</p>
<h2>Scores</h2>
<p><img src="scores.png" alt="the distribution of the totals"><br>
<img src="parts.png" alt="each part: none, some or all of its points"></p>
<h2>Students</h2>
<p>Each part's points (* set by hand in the review), the total, and the feedback to send each student.</p>
<table><tr><th>submission</th><th>student</th>{part_heads}<th>total</th><th>feedback</th></tr>{students}</table>
{roster}
<h2>Review</h2>
<p id="review-state">{left} part(s) left to review, {reviewed} set by hand. <code>vae-teacher review {json_dir}</code>
opens the review page.</p>
<table><tr><th>submission</th><th>part</th><th>automatic</th><th>state</th><th>why</th></tr>{review}</table>
<h2>Each part: points and what students got wrong</h2>
<p>Failures grouped by the mistake their hint names (else by their first line, numbers masked);
untouched stubs are counted apart, as not attempted.</p>
<table><tr><th>part</th><th>function</th><th>mean</th><th>full marks</th><th>not attempted</th><th>what was wrong (students)</th></tr>
{parts}</table>
<h2>Submissions to look at</h2>
<p>Whole submissions: not graded, graded without isolation, not running as handed in, a call that
timed out. (A part with partial credit or a verdict that needs a person is under Review.)</p>
<table><tr><th>submission</th><th>why</th></tr>{human}</table>
<h2>Near-identical task code</h2>
<p>Pairs whose task functions are alike after names and formatting are normalised (the handout's
stubs and one-line functions left out). For a person to look at: never a penalty.</p>
<table><tr><th>submission</th><th>submission</th><th>alike</th><th>identical functions</th></tr>{pairs}</table>
<h2>Time and memory</h2>
<table><tr><th>submission</th><th>total</th><th>grading time</th><th>peak memory</th></tr>{usage}</table>
</body></html>
"""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher report", description=__doc__.split("\n\n")[0])
    parser.add_argument("json_dir", metavar="JSON_DIR", help="grade-class's --json-dir")
    parser.add_argument("--out", default="class-report", help="the report's folder (default: %(default)s)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.json_dir)
    if manifest is None:
        print("report: error: %s has no %s: grade the class with vae-teacher grade-class --json-dir %s"
              % (args.json_dir, MANIFEST, args.json_dir), file=sys.stderr)
        return 1
    from grading import classroom
    write_manifest(args.json_dir, dict(manifest, report=str(Path(args.out).absolute())))
    classroom.refresh(args.json_dir)   # the report, its feedback pages, grades.csv and the exports, overrides applied
    return 0


if __name__ == "__main__":
    sys.exit(main())
