"""Write the student handout from the reference: vae-teacher handout OUT_DIR [--force]

vae.py and adam.py are copied with every `# BEGIN SOLUTION` ... `# END SOLUTION`
region replaced by guidance comments and `raise NotImplementedError("Task 1.2: ...")`;
everything outside the regions is shared by both versions. The handout also gets
the modules they import (data.py, plotting.py, ...), mnist/, requirements.txt, a student README.md, a pytest.ini and
the student-facing part of the grading (its rubric's function tests and the stored cases), so
that students can self-check with `python -m pytest`.

Where the guidance lives: in grading/templates/guidance.txt, keyed by function name, not in
the reference source. The reference stays the plain solution that students of later years
can read and that other work (performance) keeps editing without touching handout
text; make_handout checks that every region has guidance and every guidance a region,
so the two cannot drift apart silently. Task numbers come from the points table,
grading/points.json.

Errors (unbalanced or nested markers, a region outside a function, a missing
guidance, a solution line that would leak into the handout, a non-empty OUT_DIR
without --force) are reported on one line each, exit status 1, no traceback.
"""
import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from grading.regions import RegionError, code_part, find_regions, replace_regions, solution_lines
from grading.selfcheck import function_sources
from grading.submission import SUPPORT

ROOT = Path(__file__).resolve().parent.parent

SOLUTION_FILES = ("adam.py", "vae.py")
COPIED_FILES = ()   # and grading.submission.SUPPORT, the modules vae.py and adam.py are graded with
OWN_INSTALL = "# This project itself"   # requirements.txt's last lines, which the handout has not
COPIED_DIRS = ("mnist",)
# What of the grading the students get: the self-check (the sandbox, the rubric's function tests
# and the stored cases). Not the teacher's tools, and not the observation of scripts on the
# original handout, which computes the tasks' answers (Figure 5, eq. 3, 12, 14, 15, Task 3's images).
STUDENT_GRADING = tuple("grading/" + name for name in (
    "__init__.py", "answers.py", "api.py", "cases.py", "judge.py", "layout.py", "points.json", "provenance.py",
    "pytest_plugin.py",
    "results.py", "sandbox.py", "selfcheck.py", "submission.py", "worker",
    "rubric/test_task1.py", "rubric/test_task2.py", "rubric/test_task3.py", "reference"))
WRITTEN = SOLUTION_FILES + COPIED_FILES + COPIED_DIRS + ("grading", "README.md", "pytest.ini", "vae.ipynb",
                                                         "requirements.txt")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTION = re.compile(r"^<!-- section: (.+?) -->\n", re.M)


def sections(path):
    """{name: text} of a template file made of `<!-- section: NAME -->` blocks (what comes before
    the first block is a comment for whoever edits the file)."""
    pieces = SECTION.split(Path(path).read_text())
    return {name: text.rstrip("\n") for name, text in zip(pieces[1::2], pieces[2::2])}


# The students' texts, as files a teacher can edit (grading/templates): what the stubs say in place
# of each solution, keyed by function (what to compute, which equation, which helpers, the
# shape); the notebook's Markdown cells; the handout's README and pytest.ini.
GUIDANCE = sections(TEMPLATES / "guidance.txt")
NOTEBOOK_TEXT = sections(TEMPLATES / "notebook.md")
TASK_TEXT = {name[len("task "):]: text for name, text in NOTEBOOK_TEXT.items() if name.startswith("task ")}
README_TEMPLATE = (TEMPLATES / "handout_README.md").read_text()
PYTEST_INI = (TEMPLATES / "handout_pytest.ini").read_text()


# Inserted into the handout's vae.py when the reference does not define it: main()
# then names every unimplemented task and stops before loading any data.
DOCSTRING_REPLACEMENTS = [
    ("the reference solution of the practical", "the practical's starting code (student handout)"),
]


class HandoutError(Exception):
    """A problem with the source or the output folder: one line for the user."""


def load_parts(source):
    with open(Path(source) / "grading" / "points.json") as f:
        return {p["function"]: p for p in json.load(f)["parts"]}


def stub_lines(region, parts):
    part = parts.get(region.function)
    if region.function not in GUIDANCE or part is None:
        raise HandoutError("%s:%d: no guidance (grading/templates/guidance.txt) or no task number "
                           "(grading/points.json) for %s" % (region.filename, region.begin + 1,
                                                                   region.function))
    label = "Task %s: %s (%s)" % (part["part"], region.function, part["file"])
    lines = ["# " + line if line else "#" for line in GUIDANCE[region.function].splitlines()]
    return lines + ['raise NotImplementedError("%s is not implemented yet")' % label]


def handout_source(text, filename, parts):
    out = replace_regions(text, filename, lambda region: stub_lines(region, parts))
    for old, new in DOCSTRING_REPLACEMENTS:
        out = out.replace(old, new, 1)
    if filename == "vae.py" and not re.search(r"^\s*from support import run$", out, re.MULTILINE):
        # The handout's `python vae.py` must stop at once, naming the tasks left to do
        # (support/run.py's main does, with support/tasks.py).
        raise HandoutError("vae.py: its main() does not go through support/run.py's, which stops the "
                           "handout before training")
    return out


def build(source=ROOT, check_leaks=True):
    """{file name: handout text} for the solution files, checked; HandoutError on a problem.
    check_leaks=False (for tests only) skips the check that no solution line is left."""
    try:
        return _build(Path(source), check_leaks)
    except RegionError as e:
        raise HandoutError(str(e)) from None


def _build(source, check_leaks):
    parts = load_parts(source)
    texts, solutions, seen = {}, set(), set()
    for name in SOLUTION_FILES:
        text = (source / name).read_text()
        regions = find_regions(text, name)
        if not regions:
            raise HandoutError("%s: no BEGIN SOLUTION / END SOLUTION region" % name)
        seen.update(r.function for r in regions)
        solutions |= solution_lines(text, name)
        texts[name] = handout_source(text, name, parts)
    unused = set(GUIDANCE) - seen
    if unused:
        raise HandoutError("guidance for %s, which has no solution region in %s"
                           % (", ".join(sorted(unused)), " or ".join(SOLUTION_FILES)))
    for name, text in texts.items():
        try:
            compile(text, name, "exec")
        except SyntaxError as e:
            raise HandoutError("the handout's %s does not compile: %s (line %s)" % (name, e.msg, e.lineno))
        leaked = leaked_lines(text, solutions) if check_leaks else set()
        if leaked:
            raise HandoutError("the handout's %s would contain solution lines, which the reference repeats "
                               "outside its solution regions: %s" % (name, "; ".join(
                                   "line %d: %s" % (i + 1, line.strip()) for i, line in
                                   enumerate(text.splitlines()) if code_part(line) in leaked)[:400]))
    return texts


def leaked_lines(text, solutions):
    return {code_part(line) for line in text.splitlines()} & solutions


def student_readme(source):
    from grading import results
    table = results.load_points(Path(source) / "grading" / "points.json")
    rows = "\n".join("| %s | `%s` | %s | %g |" % (p["part"], p["function"], p["file"], p["points"])
                     for p in table["parts"])
    support = ", ".join("`%s`" % name for name in SUPPORT)
    return README_TEMPLATE.format(rows=rows, total="%g" % table["total"], support=support)


def write_handout(out_dir, source=ROOT, force=False, check_leaks=True):
    source, out = Path(source), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HandoutError("%s exists and is not a folder" % out)
    non_empty = out.exists() and any(out.iterdir())
    if non_empty and not force:
        raise HandoutError("%s is not empty; choose an empty or new folder, or pass --force to "
                           "replace the handout files in it" % out)
    texts = build(source, check_leaks)   # every check before anything is written
    try:
        import nbformat   # vae.ipynb is written last: without nbformat, nothing is written at all
    except ImportError:
        raise HandoutError("nbformat is not installed (pip install -r requirements.txt): the handout's "
                           "vae.ipynb needs it") from None
    for name in COPIED_FILES + COPIED_DIRS + SUPPORT + STUDENT_GRADING:
        if not (source / name).exists():
            raise HandoutError("%s is missing from %s" % (name, source))
    if non_empty:
        for name in WRITTEN + SUPPORT:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (out / name).write_text(text)
    for name in COPIED_FILES + COPIED_DIRS + SUPPORT + STUDENT_GRADING:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, out / name, ignore=IGNORED)
        else:
            shutil.copy2(source / name, out / name)
    # The handout installs what it needs, not this project in place (its requirements' last line).
    (out / "requirements.txt").write_text((source / "requirements.txt").read_text().split(OWN_INSTALL)[0])
    (out / "README.md").write_text(student_readme(source))
    (out / "pytest.ini").write_text(PYTEST_INI)
    nbformat.write(notebook(texts, load_parts(source)), str(out / "vae.ipynb"))
    return out


# ---------------------------------------------------------------------------
# The notebook edition: vae.ipynb, built from the same handout texts (the same stubs)

GIVEN_FUNCTIONS = ("check_matrix", "check_means_and_log_stds", "sigmoid", "relu", "init_net_params",
                   "neural_net_predict")

SHOW = {
    "generate_from_prior": 'show(generate_from_prior(gen_params), "Task 3.1: 25 samples from the prior")',
    "reconstruct": 'show(np.concatenate([test_images[:10], reconstruct(gen_params, rec_params, test_images[:10])]),\n'
                   '     "Task 3.2: the first 10 test images over their reconstructions")',
    "interpolate": 'show(interpolate(gen_params, rec_params, test_images[0], test_images[1]),\n'
                   '     "Task 3.3: from test image 1 to test image 2")',
}

COLAB_CELL = "# !unzip -q -o handout.zip -d handout && cd handout && pip install -q -r requirements.txt\n" \
             "# import os; os.chdir(\"handout\")"

SETUP_CELL = """\
%matplotlib inline
import autograd.numpy as np
import autograd.numpy.random as npr

from support.notebook import check, show, train"""

def notebook(texts, parts):
    """vae.ipynb as a notebook object: the handout's given code, then, in the practical's order,
    each task's Markdown, stub (the handout's own) and check cells, training, Task 3's figures,
    and a last check of everything. Tags say what each cell is (the grading leaves out "check",
    "train", "show" and "colab" cells); the metadata says it is this project's handout."""
    import nbformat.v4 as v4
    functions = dict(function_sources(texts["vae.py"]), **function_sources(texts["adam.py"]))
    cells = []

    def add(kind, source, tag=None):
        cell = v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source)
        cell["id"] = "cell-%02d" % (len(cells) + 1)   # fixed ids: the same handout every time
        if tag:
            cell.metadata["tags"] = [tag]
        cells.append(cell)
    add("markdown", NOTEBOOK_TEXT["intro"])
    add("markdown", NOTEBOOK_TEXT["colab"])
    add("code", COLAB_CELL, "colab")
    add("code", SETUP_CELL, "setup")
    add("markdown", "## The model\n\nThe given code, as in `vae.py`: nothing to write here.")
    add("code", "\n\n\n".join(functions[name] for name in GIVEN_FUNCTIONS), "given")
    add("markdown", "## Task 1: the lower bound")
    for part in sorted(parts.values(), key=lambda p: [int(n) for n in p["part"].split(".")]):
        name = part["function"]
        if name == "generate_from_prior":
            add("markdown", NOTEBOOK_TEXT["training"])
            add("code", "gen_params, rec_params = train(epochs=30)\n"
                        "import data\n"
                        "test_images = data.binarised_test_images(data.load_mnist()[3])", "train")
        add("markdown", TASK_TEXT[name])
        add("code", functions[name], "task")
        add("code", 'check("%s")' % name, "check")
        if name in SHOW:
            add("code", "if gen_params is not None:\n    " + SHOW[name].replace("\n", "\n    "), "show")
        if name in ("vae_lower_bound", "adam_step"):
            add("code", 'check("task%s")' % part["task"], "check")
    add("markdown", NOTEBOOK_TEXT["final"])
    add("code", "check()", "check")
    nb = v4.new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}, "vae_practical": {"edition": "handout"}})
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="vae-teacher handout",
        description="Write the student handout: vae.py and adam.py with the solution regions "
                    "replaced by guidance and NotImplementedError, plus data, figures code, MNIST, "
                    "a README and the grading tests.")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where to write the handout (new or empty)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty OUT_DIR, replacing the handout's files there")
    parser.add_argument("--source", default=str(ROOT), help="the reference to build from (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = write_handout(args.out_dir, args.source, args.force)
    except (HandoutError, OSError) as e:
        print("handout: error: %s" % e, file=sys.stderr)
        return 1
    print("handout written to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
