"""Feedback for one student of a graded class: one self-contained HTML page (inline CSS, images
as data: URIs, no script, no external resource: it opens offline) and the same in plain text.

    html_text, plain_text = render(result, "Ada Lovelace", overrides, comments, images)
    write(out_dir, "s123", html_text, plain_text)     # s123.html, s123.txt

result is one submission's results dict as the grader writes it (Gradescope's results.json,
grading/results.py's Grading.results_json). Nothing private reaches the page: the grader's
messages go through public_message (no value of the private cases, no seed, no path of the
grader's machine), and of the result only the points, the messages and the notes are read (never
extra_data's submission folder, provenance or isolation).
"""
import base64
import html
import math
import os
import re
import struct
import unicodedata

from grading.results import load_points, num

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MASK = "\u2026"   # the one placeholder of a masked value: …

__all__ = ["public_message", "render", "write", "PNG_SIGNATURE"]


# ---------------------------------------------------------------------------
# Masking the values of the private cases

# Constants of the practical that have three significant digits or more (shorter ones are kept
# anyway): Figure 5's beta2.
PRACTICAL_CONSTANTS = {"0.999"}

# An absolute path: a "/" that starts a token (not 1/2, not m / v, not and/or), then at least
# one name; or a home-relative one (~/...), or a Windows one (C:\...). Most of the grader's
# messages name the student's files by their base name already; a path comes from a traceback or
# a warning the run printed (/root/venv/.../tracer.py:20, /grading/submission/vae.py:112).
_PATH = re.compile(r"(?<![\w.)\]~/\u2026])(?:~?/[\w.+@%=-]+(?:/[\w.+@%=-]*)*|[A-Za-z]:\\[^\s\"'<>|:]+)")
# A seed, by its name: seed=12345, seed 42, --seed 3, RandomState(7), default_rng(7), npr.seed(1).
_SEED = re.compile(r"(?i)(\b(?:seeds?|random_state|randomstate|default_rng)\b\s*(?:=|:|\(|is\b)?\s*)(\d+)")
# A digest or an address (a set of cases' fingerprint, a commit): twelve hex digits or more, with a
# letter (a run of decimal digits is a number, below; 0.0271048807 is no digest).
_HEX = re.compile(r"(?<![\w.])(?:0x[0-9a-fA-F]{6,}|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,})(?![\w.])")
# A number that is not part of a name (beta1, float64, python3.11) nor of a version (1.9.1).
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w]|\.\d)")
_ARRAY_TOKEN = re.compile(r"^(?:-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf|\.\.\.|%s)$" % MASK)
LONG_INTEGER = 7   # digits: no count, shape or line number a student needs is this long; a seed often is


def significant_digits(token):
    """The significant digits of a number's mantissa: 0.0123 and 123.0 have 3 and 3, 1e-06 has 1."""
    mantissa = re.split(r"[eE]", token.lstrip("-"))[0].replace(".", "")
    return len(mantissa.strip("0"))


def private_number(token):
    """Is this number (a token matched by _NUMBER) a value the student may not see? A float with
    three significant digits or more (expected -123.457, alpha=0.0123: a case's value, a result
    on a case), or an integer too long to be a count, a shape or a line number (a drawn seed).
    Short floats stay (rtol 1e-06, alpha=0.01, beta1=0.8, s in [0, 1]): the practical's and the
    grading's constants, which say what was checked."""
    if token.lstrip("-") in PRACTICAL_CONSTANTS:
        return False
    if re.fullmatch(r"-?\d+", token):
        return len(token.lstrip("-")) >= LONG_INTEGER
    return significant_digits(token) >= 3


def _mask_number(match):
    return MASK if private_number(match.group(0)) else match.group(0)


def _mask_path(match):
    """A path as its base name when that names a file (…/vae.py:12 keeps the student's file and
    line), else as … alone (a folder of the grader's: /tmp/grading-x1y2/)."""
    path = match.group(0).rstrip("/\\")
    base = re.split(r"[/\\]", path)[-1]
    return MASK + "/" + base if "." in base.strip(".") else MASK


def _closing_bracket(text, start, limit=20000):
    """The index of the ] that closes the [ at start, or -1."""
    depth = 0
    for i in range(start, min(len(text), start + limit)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _mask_arrays(text):
    """Arrays of numbers, as the grader formats them ([0.12, -0.5, ...]) or numpy prints them
    ([ 1.65 -1.92  2.54], nested over lines), become […] when they quote a case's values: three
    numbers or more, a cut (...), or one private number. An interval of two short numbers stays
    ([0, 1], [-4, 4], [-1.2, 1]), as do [nan] and indexing (x[0, 1], U[0, 1])."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "[" or (i and (text[i - 1].isalnum() or text[i - 1] in "_)]")):
            out.append(text[i])
            i += 1
            continue
        end = _closing_bracket(text, i)
        tokens = [t for t in re.split(r"[\s,\[\]]+", text[i + 1:end]) if t] if end > 0 else []
        if tokens and all(_ARRAY_TOKEN.match(t) for t in tokens):
            numbers = [t for t in tokens if t not in ("...", MASK)]
            if len(numbers) >= 3 or len(numbers) < len(tokens) or any(private_number(t) for t in numbers
                                                                        if t.lstrip("-") not in ("nan", "inf")):
                out.append("[%s]" % MASK)
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def public_message(text):
    """text (a grader's message, a note, a warning the run printed) with every value of the
    private cases, seed and path of the grader's machine replaced by … ([…] for an array), and
    everything else as it was: what was called and on what kind of input (shapes, counts), the
    student's own file names and line numbers, exception types, hints, and the practical's
    constants.

    The same rules apply to every line, the student's own code quoted in a traceback ("at
    vae.py, line 12, in f -> code") and what their run printed included: a message's shape is
    the grader's, but its text can be the submission's (an exception's message, a print), so no
    line can be trusted to hold only the student's own words. A long constant in their code
    line is masked too; the line number says which line it was."""
    if not text:
        return ""
    text = str(text)
    text = _PATH.sub(_mask_path, text)
    text = _SEED.sub(lambda m: m.group(1) + MASK, text)
    text = _HEX.sub(MASK, text)
    text = _mask_arrays(text)
    return _NUMBER.sub(_mask_number, text)


# ---------------------------------------------------------------------------
# What the page says: a summary of the result, with the teacher's points

# A part nobody started: the handout's stub (describe_error's "not implemented yet
# (NotImplementedError: Task ...)"), or a script on the original handout whose main block made
# no ADAM update or did nothing of Task 3. A NotImplementedError of another origin ("VJP of normal
# ... not defined": autograd) is a failure like any other.
NOT_ATTEMPTED = ("not implemented yet (NotImplementedError: Task ", "no ADAM update was made",
                 "nothing of Task 3 was done")
EPS = 1e-9


def is_graded(result):
    """Did the grader finish its job on this submission? Not while a run is incomplete (cut short:
    its untested parts score 0, fail closed) or any test could not be graded (the grader's fault)."""
    extra = result.get("extra_data") or {}
    return bool(extra.get("complete")) and not extra.get("not_graded") and result.get("score") is not None


def test_id(test):
    """The grading test's id as the student's own pytest run shows it (test_kl_values[small])."""
    name = str(test.get("name", ""))
    return name.split(": ", 1)[1] if ": " in name else name


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("%s: not a number of points: %r" % (what, value))
    return float(value)


def check_overrides(overrides, maxima):
    """overrides as {part: dict}, each with finite points from 0 to the part's maximum: a part the
    table does not have, or points out of range, is the teacher's typo, refused (ValueError)
    rather than shown to a student."""
    out = {}
    for part, override in (overrides or {}).items():
        if part not in maxima:
            raise ValueError("override for part %r, which the points table does not have" % (part,))
        if not isinstance(override, dict):
            raise ValueError("override for part %s: not a dict" % part)
        points = _number(override.get("points"), "override for part %s" % part)
        if not -EPS <= points <= maxima[part] + EPS:
            raise ValueError("override for part %s: %g points, outside 0 to %g" % (part, points, maxima[part]))
        out[part] = dict(override, points=points)
    return out


def grouped_failures(tests):
    """[(message, [(test id, score, max)])] for the tests that did not earn full points, each
    distinct (masked) message once, in the order of the tests."""
    groups = {}
    for test in tests:
        score, maximum = float(test.get("score") or 0.0), float(test.get("max_score") or 0.0)
        # Full points: nothing to say (a check, worth 0, says something when it did not pass).
        if (score >= maximum - EPS) if maximum > 0 else test.get("status") == "passed":
            continue
        message = public_message(test.get("output") or "").strip() or "(no message)"
        groups.setdefault(message, []).append((test_id(test), score, maximum))
    return list(groups.items())


def summarise(result, overrides=None, table=None):
    """Everything the page shows, as plain data: {"graded", "parts": [...], "tasks": [...],
    "total", "maximum", "checks", "notes", "overridden"}. Scores are the result's; a part with an
    override shows the override's points (its automatic ones beside them)."""
    table = table or load_points()
    extra = result.get("extra_data") or {}
    graded = is_graded(result)
    by_part = {}
    for test in result.get("tests") or []:
        by_part.setdefault(str(test.get("number")), []).append(test)
    result_parts = extra.get("parts") or {}
    formats = extra.get("formats") or {}
    maxima = {p["part"]: float((result_parts.get(p["part"]) or {}).get("max_score", p["points"]))
              for p in table["parts"]}
    overrides = check_overrides(overrides, maxima)
    parts = []
    for p in table["parts"]:
        tests = by_part.get(p["part"], [])
        mine = result_parts.get(p["part"])
        auto = float(mine["score"]) if mine and "score" in mine else sum(float(t.get("score") or 0) for t in tests)
        failures = grouped_failures(tests)
        # Not attempted: every test that lost points says so, and none earned any.
        untouched = bool(failures) and all(any(m in message for m in NOT_ATTEMPTED) for message, _ in failures) \
            and auto <= EPS
        override = overrides.get(p["part"])
        parts.append({
            "part": p["part"], "task": p["task"], "function": p["function"], "file": p.get("file", ""),
            "work": p.get("work"),
            "maximum": maxima[p["part"]], "auto": auto if graded else None, "override": override,
            "points": override["points"] if override else (auto if graded else None),
            "status": ("not graded" if not graded else "not attempted" if untouched else
                       "full" if auto >= maxima[p["part"]] - EPS else "partial"),
            "failures": failures if graded else [], "observed": formats.get(p["part"]) == "observed"})
    tasks = []
    for task in dict.fromkeys(p["task"] for p in parts):
        mine = [p for p in parts if p["task"] == task]
        known = all(p["points"] is not None for p in mine)
        tasks.append({"task": task, "points": sum(p["points"] for p in mine) if known else None,
                      "maximum": sum(p["maximum"] for p in mine)})
    known = all(p["points"] is not None for p in parts)
    checks = grouped_failures(by_part.get("check", [])) if graded else []
    notes = [public_message(n).strip() for n in list(extra.get("import_errors") or []) +
             list(extra.get("problems") or []) if str(n).strip()] if graded else []
    return {"graded": graded, "parts": parts, "tasks": tasks,
            "total": sum(p["points"] for p in parts) if known else None,
            "maximum": sum(p["maximum"] for p in parts), "checks": checks,
            "notes": list(dict.fromkeys(notes)), "overridden": bool(overrides),
            "observed": sorted(p["part"] for p in parts if p["observed"])}


def points_text(points, maximum):
    return "not graded yet" if points is None else "%s / %s" % (num(points), num(maximum))


# ---------------------------------------------------------------------------
# Images

def png_size(data):
    """(width, height) from a PNG's IHDR chunk, or None."""
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def is_png(data):
    return isinstance(data, (bytes, bytearray)) and bytes(data[:8]) == PNG_SIGNATURE


def checked_images(images):
    """(shown, skipped): the images whose png is a PNG, as dicts with part, title, png, practical
    (a PNG or None) and caption; and the titles of those that were not, which the page names."""
    shown, skipped = [], []
    for image in images or ():
        image = image if isinstance(image, dict) else {}
        title = str(image.get("title") or "an image")
        part = str(image.get("part") or "")
        if not is_png(image.get("png")):
            skipped.append((part, title))
            continue
        practical = image.get("practical")
        shown.append({"part": part, "title": title, "png": bytes(image["png"]),
                      "practical": bytes(practical) if is_png(practical) else None,
                      "practical_missing": practical is not None and not is_png(practical),
                      "caption": str(image.get("practical_caption") or "what the practical shows")})
    return shown, skipped


def data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ---------------------------------------------------------------------------
# Rendering

FOOTER = ("How the grading works: each part was graded on its own, with the reference's versions of the "
          "functions it relies on, so that one mistake costs points in one part only. Values of the "
          "grader's private test cases are shown as %s." % MASK)
NOT_GRADED = ("Your submission has not been graded yet: the grading did not finish. "
              "The points will appear here once it has.")

# Bidirectional overrides and isolates would reorder the text around a name; control characters
# have no business in one.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))


def clean_name(student):
    """The student's name, one line, without control or bidirectional formatting characters."""
    name = unicodedata.normalize("NFC", str(student if student is not None else "")).translate(_BIDI)
    name = "".join(" " if unicodedata.category(c) == "Cc" else c for c in name)
    return " ".join(name.split()) or "(no name)"


def part_heading(p):
    return "Task %s  %s" % (p["part"], observed_name(p) if p["observed"] else p["function"])


def observed_name(p):
    """A part of a script graded by watching it run: its work (points.json), not a function it
    never wrote."""
    return "%s, in your script's main block" % (p["work"] or "this part")


def part_line(p):
    """The part's points as one line: "10 / 15", "12 / 15, set by your teacher (automatic: 10)",
    "not attempted: 0 / 10", "not graded yet"."""
    text = points_text(p["points"], p["maximum"])
    if p["override"]:
        text += ", set by your teacher"
        if p["auto"] is not None:
            text += " (automatic: %s)" % num(p["auto"])
    elif p["status"] == "not attempted":
        text = "not attempted: " + text
    return text


def override_by(override):
    who = " ".join(str(override.get("reviewer") or "").split())
    when = " ".join(str(override.get("time") or "").split())
    return ", ".join(x for x in (("by " + who) if who else "", when) if x)


def render_text(summary, name, comments, shown, skipped):
    """The plain-text version: the same points, messages and notes as the page."""
    lines = ["Feedback for %s" % name, "", "Total: %s" % points_text(summary["total"], summary["maximum"])]
    lines.append("  ".join("Task %s: %s" % (t["task"], points_text(t["points"], t["maximum"]))
                           for t in summary["tasks"]))
    if summary["overridden"]:
        lines.append("(with the points your teacher set)")
    if not summary["graded"]:
        lines += ["", NOT_GRADED]
    if comments:
        lines += ["", "Your teacher's comments:"] + ["  " + line for line in str(comments).splitlines()]
    for p in summary["parts"]:
        lines += ["", "%s: %s" % (part_heading(p), part_line(p))]
        if p["override"] and str(p["override"].get("comment") or "").strip():
            by = override_by(p["override"])
            lines.append("  your teacher%s:" % (" (%s)" % by if by else ""))
            lines += ["    " + line for line in str(p["override"]["comment"]).splitlines()]
        if p["observed"]:
            lines.append("  graded by watching your script's main block run")
        if p["status"] == "not attempted":
            lines.append("  " + p["failures"][0][0].splitlines()[0])
            continue
        for message, tests in p["failures"]:
            lines.append("  - " + ", ".join("%s (%s / %s)" % (t, num(s), num(m)) for t, s, m in tests) + ":")
            lines += ["      " + line for line in message.splitlines()]
    if summary["checks"]:
        lines += ["", "Checks (no points):"]
        for message, tests in summary["checks"]:
            lines.append("  - " + ", ".join(t for t, _, _ in tests) + ":")
            lines += ["      " + line for line in message.splitlines()]
    if summary["notes"]:
        lines += ["", "Notes from the grading:"]
        for note in summary["notes"]:
            lines += ["  - " + note.splitlines()[0]] + ["    " + line for line in note.splitlines()[1:]]
    if shown or skipped:
        lines += ["", "Your figures (the images are in the HTML version):"]
        for image in shown:
            size = png_size(image["png"])
            lines.append("  Task %s: %s%s; beside it: %s%s" % (
                image["part"] or "?", image["title"], " (%d x %d pixels)" % size if size else "", image["caption"],
                "" if image["practical"] else " (not available)"))
        for part, title in skipped:
            lines.append("  Task %s: %s could not be shown: it is not a PNG image" % (part or "?", title))
    lines += ["", FOOTER]
    return "\n".join(lines) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1d; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.3rem; }
.total { font-size: 1.25rem; font-weight: bold; }
.tasks span { margin-right: 1.5rem; }
.points { float: right; font-weight: normal; }
.full .points { color: #1a7f37; } .partial .points { color: #9a6700; } .none .points { color: #cf222e; }
.teacher { background: #eef4ff; border-left: 4px solid #4a7fd6; padding: 0.4rem 0.8rem; margin: 0.4rem 0; }
.teacher-mark { font-size: 0.85rem; background: #4a7fd6; color: #fff; padding: 0.05rem 0.4rem; border-radius: 3px; }
.notgraded { background: #fff4e5; border-left: 4px solid #d98b00; padding: 0.5rem 0.8rem; }
pre { white-space: pre-wrap; word-wrap: break-word; background: #f6f8fa; padding: 0.5rem; margin: 0.2rem 0 0.6rem;
      font-size: 0.85rem; }
.hint { color: #0b5394; font-weight: bold; }
.tests { font-family: monospace; font-size: 0.85rem; color: #555; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; max-width: 28rem; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #555; }
footer { margin-top: 2.5rem; font-size: 0.85rem; color: #555; border-top: 1px solid #ccc; padding-top: 0.5rem; }
"""


def esc(text):
    return html.escape(str(text), quote=True)


def message_html(message):
    """A message in a <pre>, its hint and slip lines marked (what to look at first)."""
    lines = []
    for line in message.splitlines():
        if line.lstrip().startswith(("hint:", "slip:")):
            lines.append('<span class="hint">%s</span>' % esc(line))
        else:
            lines.append(esc(line))
    return "<pre>%s</pre>" % "\n".join(lines)


def comment_html(text):
    return esc(text).replace("\n", "<br>\n")


def part_html(p):
    # The colour follows the points shown (the teacher's, where set).
    css = "" if p["points"] is None else "none" if p["points"] <= EPS else \
        "full" if p["points"] >= p["maximum"] - EPS else "partial"
    mark = ' <span class="teacher-mark">set by your teacher</span>' if p["override"] else ""
    out = ['<section class="part %s" id="part-%s">' % (css, p["part"]),
           '<h3>Task %s %s%s<span class="points">%s</span></h3>'
           % (esc(p["part"]), esc(observed_name(p)) if p["observed"] else "<code>%s</code>" % esc(p["function"]),
              mark, esc(part_line(p)))]
    if p["override"] and str(p["override"].get("comment") or "").strip():
        by = override_by(p["override"])
        out.append('<div class="teacher"><strong>Your teacher%s:</strong><br>\n%s</div>'
                   % (esc(" (%s)" % by) if by else "", comment_html(p["override"]["comment"])))
    if p["observed"]:
        out.append("<p>Graded by watching your script's main block run.</p>")
    if p["status"] == "not attempted":
        out.append("<p>Not attempted: %s</p>" % esc(p["failures"][0][0].splitlines()[0]))
    else:
        for message, tests in p["failures"]:
            out.append('<div class="tests">%s</div>' % esc(", ".join(
                "%s (%s / %s)" % (t, num(s), num(m)) for t, s, m in tests)))
            out.append(message_html(message))
    out.append("</section>")
    return "\n".join(out)


def figures_html(shown, skipped):
    out = []
    for image in shown:
        size = png_size(image["png"])
        dims = ' width="%d" height="%d"' % size if size else ""
        out.append('<h3>Task %s: %s</h3>\n<div class="figures">' % (esc(image["part"] or "?"), esc(image["title"])))
        out.append('<figure><img src="%s" alt="%s"%s><figcaption>yours</figcaption></figure>'
                   % (data_uri(image["png"]), esc(image["title"]), dims))
        if image["practical"]:
            size = png_size(image["practical"])
            dims = ' width="%d" height="%d"' % size if size else ""
            out.append('<figure><img src="%s" alt="%s"%s><figcaption>the practical: %s</figcaption></figure>'
                       % (data_uri(image["practical"]), esc(image["caption"]), dims, esc(image["caption"])))
        else:
            out.append("<p>The practical's figure (%s) is not available.</p>" % esc(image["caption"]))
        out.append("</div>")
    for part, title in skipped:
        out.append("<p>Task %s: %s could not be shown: it is not a PNG image.</p>" % (esc(part or "?"), esc(title)))
    return "\n".join(out)


def render_html(summary, name, comments, shown, skipped):
    """The page: header (name, total, per task), the teacher's comments, the parts, checks,
    notes, figures, footer."""
    title = "Feedback for %s" % name
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>%s</title>" % esc(title), "<style>%s</style>" % CSS, "</head>", "<body>",
           "<header>", "<h1>Feedback for <bdi>%s</bdi></h1>" % esc(name),
           '<p class="total">Total: %s</p>' % esc(points_text(summary["total"], summary["maximum"])),
           '<p class="tasks">%s</p>' % "".join("<span>Task %s: %s</span>" % (
               esc(t["task"]), esc(points_text(t["points"], t["maximum"]))) for t in summary["tasks"])]
    if summary["overridden"]:
        out.append("<p>With the points your teacher set.</p>")
    out.append("</header>")
    if not summary["graded"]:
        out.append('<p class="notgraded">%s</p>' % esc(NOT_GRADED))
    if comments:
        out += ["<h2>Your teacher's comments</h2>", '<div class="teacher">%s</div>' % comment_html(comments)]
    out.append("<h2>Parts</h2>")
    out += [part_html(p) for p in summary["parts"]]
    if summary["checks"]:
        out.append("<h2>Checks (no points)</h2>")
        for message, tests in summary["checks"]:
            out.append('<div class="tests">%s</div>' % esc(", ".join(t for t, _, _ in tests)))
            out.append(message_html(message))
    if summary["notes"]:
        out.append("<h2>Notes from the grading</h2>")
        out.append("<ul>%s</ul>" % "".join("<li>%s</li>" % message_html(n) for n in summary["notes"]))
    if shown or skipped:
        out += ["<h2>Your figures beside the practical's</h2>", figures_html(shown, skipped)]
    out += ["<footer><p>%s</p></footer>" % esc(FOOTER), "</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(result, student, overrides=None, comments=None, images=(), table=None):
    """(html_text, plain_text): the feedback for one student on one result. overrides: {part:
    {"points", "comment", "reviewer", "time"}} set by the teacher (ValueError for an unknown part
    or points out of range); comments: the teacher's general comment or None; images: [{"part",
    "title", "png", "practical", "practical_caption"}], any that is not a PNG named and skipped;
    table: the points table (grading/points.json by default)."""
    summary = summarise(result, overrides, table)
    name = clean_name(student)
    comments = str(comments).strip() if comments is not None and str(comments).strip() else None
    shown, skipped = checked_images(images)
    return (render_html(summary, name, comments, shown, skipped),
            render_text(summary, name, comments, shown, skipped))


def write(out_dir, ident, html_text, plain_text):
    """ident.html and ident.txt in out_dir, each written atomically, for its owner alone (one
    student's feedback). ident must be a plain file name (no folder, no leading dot)."""
    from plotting import atomic_write
    ident = str(ident)
    if not re.fullmatch(r"[\w][\w.@+-]{0,127}", ident) or ".." in ident:
        raise ValueError("not a plain file name for feedback: %r" % ident)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for suffix, text in ((".html", html_text), (".txt", plain_text)):
        path = os.path.join(str(out_dir), ident + suffix)
        data = text.encode("utf-8")
        atomic_write(path, lambda f, data=data: f.write(data), mode=0o600)
        paths.append(path)
    return paths
