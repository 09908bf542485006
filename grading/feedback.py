"""Feedback for one student: a self-contained page (images embedded, no script, no external
resource: it opens offline, attached to an e-mail) and the same as plain text.

It holds the points of each part (the teacher's where a part was set by hand, with the comment),
the grader's messages in the student's terms, and the images the student's run made beside the
practical's figures. Nothing private: no other student, no grader path, no seed, and the values
of the private cases masked (public_message): a student reads what was wrong, not the answers.
"""
import base64
import html
import re
from pathlib import Path

from grading import results

PNG = b"\x89PNG\r\n\x1a\n"
NOT_ATTEMPTED = re.compile(r"not implemented yet|NotImplementedError")
# The private cases' values: arrays, numbers with decimals, seeds, and the grader's paths.
ARRAY = re.compile(r"\[[^\[\]\n]*\d[^\[\]\n]*\]")
DECIMAL = re.compile(r"(?<!Task )(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?(?![\w])|(?<![\w.])-?\d+e[-+]?\d+(?![\w])")
SEED = re.compile(r"\b(seed\s*[=:]?\s*)\d+", re.I)
PATH = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|var|opt|usr|srv|mnt|run)/[^\s:'\",)]*")


def public_message(text):
    """A grader's message as a student may read it: arrays, decimals and seeds of the cases masked
    with "…", the grader's paths as "<path>"; line numbers, counts, shapes and names kept."""
    text = PATH.sub("<path>", text or "")
    text = SEED.sub(lambda m: m.group(1) + "…", text)
    text = ARRAY.sub("[…]", text)
    return DECIMAL.sub("…", text)


def part_lines(result, part):
    """(not attempted?, [messages]) of the part's tests that did not earn full points."""
    tests = [t for t in result.get("tests", []) if t.get("number") == part and t.get("score", 0) < t.get("max_score", 0)]
    if tests and all(NOT_ATTEMPTED.search(t.get("output") or "") for t in tests):
        return True, []
    return False, list(dict.fromkeys(public_message(t.get("output") or "").strip() for t in tests))


def summary(result, overrides, table):
    """[(part, points, maximum, how, override)] and the total, the teacher's points where set by hand."""
    from grading import overrides as hand
    rows, total = [], 0.0
    for part in table["parts"]:
        points, how = hand.state(result, part["part"], (overrides or {}).get(part["part"]))
        points = min(max(points, 0.0), part["points"])
        total += points
        rows.append((part, points, how, (overrides or {}).get(part["part"]) if how == "by hand" else None))
    return rows, total


def render(result, student, overrides=None, comments=None, images=(), table=None):
    """(html, text) of the student's feedback. images: [{"part", "title", "png", "practical",
    "practical_caption"}] (PNG bytes; anything else is left out, and the page says so)."""
    table = table or results.load_points()
    e = html.escape
    extra = result.get("extra_data") or {}
    graded = bool(extra.get("complete")) and not extra.get("not_graded")
    rows, total = summary(result, overrides, table)
    text = ["Auto-encoding Variational Bayes: feedback for %s" % student, ""]
    body = ["<h1>Auto-encoding Variational Bayes</h1><p>Feedback for <b>%s</b></p>" % e(student)]
    if not graded:
        text.append("Not graded yet: the grader could not finish (its failure, not yours); your teacher will grade it again.")
        body.append("<p><b>Not graded yet</b>: the grader could not finish (its failure, not yours); your teacher "
                    "will grade it again.</p>")
    else:
        text.append("Total: %s / %s" % (results.num(total), results.num(table["total"])))
        body.append("<p id='total'>Total: <b>%s</b> / %s</p>" % (results.num(total), results.num(table["total"])))
        body.append("<table><tr><th>task</th><th>function</th><th>points</th><th>what to look at</th></tr>")
        for part, points, how, override in rows:
            attempted_not, messages = part_lines(result, part["part"])
            note_text, note_html = [], []
            if override:
                note_text.append("set by your teacher (automatic: %s)%s" % (
                    results.num(override.get("automatic", 0)), ": " + override["comment"] if override.get("comment") else ""))
                note_html.append("<p class='teacher'>Set by your teacher (automatic: %s)%s</p>" % (
                    results.num(override.get("automatic", 0)), ": " + e(override["comment"]) if override.get("comment") else ""))
            if attempted_not:
                note_text.append("not attempted")
                note_html.append("<p>not attempted</p>")
            for message in messages:
                note_text.append(message)
                note_html.append("<pre>%s</pre>" % e(message))
            text.append("")
            text.append("Task %s %s: %s / %s" % (part["part"], part["function"], results.num(points),
                                                results.num(part["points"])))
            text += ["  " + line for note in note_text for line in note.splitlines()]
            body.append("<tr id='part-%s'><td>%s</td><td><code>%s</code></td><td>%s / %s%s</td><td>%s</td></tr>" % (
                part["part"], part["part"], part["function"], results.num(points), results.num(part["points"]),
                "*" if override else "", "".join(note_html) or "full marks"))
        body.append("</table><p><small>* set by your teacher.</small></p>")
    if comments:
        text += ["", "Your teacher: " + comments]
        body.append("<h2>Your teacher's comments</h2><p>%s</p>" % e(comments))
    shown = [i for i in images if isinstance(i.get("png"), bytes) and i["png"].startswith(PNG)]
    if shown:
        text += ["", "Images (in the page): " + ", ".join(i["title"] for i in shown)]
        body.append("<h2>Your images, beside what the practical asked for</h2>")
        for image in shown:
            practical = image.get("practical")
            body.append("<div class='pair'><figure><img alt='%s' src='data:image/png;base64,%s'><figcaption>%s"
                        "</figcaption></figure>%s</div>" % (
                            e(image["title"]), base64.b64encode(image["png"]).decode(), e(image["title"]),
                            "<figure><img alt='%s' src='data:image/png;base64,%s'><figcaption>%s</figcaption></figure>"
                            % (e(image.get("practical_caption", "")), base64.b64encode(practical).decode(),
                               e(image.get("practical_caption", "")))
                            if isinstance(practical, bytes) and practical.startswith(PNG) else ""))
    if len(shown) < len(images):
        body.append("<p>%d image(s) left out: not PNG images.</p>" % (len(images) - len(shown)))
    footer = ("Each task is graded on its own: a mistake in one function costs only that function's points "
              "(the others are tested with the reference's versions of it).")
    text += ["", footer]
    body.append("<p><small>%s</small></p>" % e(footer))
    page = PAGE.format(title="Feedback: %s" % e(student), body="\n".join(body))
    return page, "\n".join(text) + "\n"


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left;
vertical-align: top; }} pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .4em; margin: .2em 0; }}
.teacher {{ color: #245; font-weight: bold; }} .pair {{ display: flex; gap: 1em; flex-wrap: wrap; }}
figure {{ margin: .5em 0; }} img {{ border: 1px solid #ccc; max-width: 28em; }}
</style></head><body>
{body}
</body></html>
"""


def write(out_dir, ident, page, text):
    """out_dir/ident.html and ident.txt, each written atomically."""
    from plotting import atomic_write
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(str(out_dir / (ident + ".html")), lambda f: f.write(page.encode()))
    atomic_write(str(out_dir / (ident + ".txt")), lambda f: f.write(text.encode()))
