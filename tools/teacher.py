#!/usr/bin/env python
"""The teacher's command line: everything around grading the practical, one subcommand each.

    python tools/teacher.py handout OUT                   the students' handout (vae.py, adam.py, vae.ipynb)
    python tools/teacher.py reference --seed N --out DIR  a private set of reference cases
    python tools/teacher.py grade FOLDER [--json FILE]    one submission, with the points summary
    python tools/teacher.py grade-class FOLDER --out grades.csv [--json-dir DIR] [--report DIR]
    python tools/teacher.py report JSON_DIR --out DIR     the class report, again, from grade-class's JSON
    python tools/teacher.py gradescope [--out autograder.zip]
    python tools/teacher.py prairielearn OUT [--image IMAGE]

Each subcommand is one of the tools/ scripts (make_handout.py, make_reference.py, grade_all.py,
make_autograder.py, make_prairielearn.py) or the grading's own pytest command, with the same
options: `python tools/teacher.py SUBCOMMAND --help` shows them.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

COMMANDS = {
    "handout": ("make_handout", "write the students' handout: the stubs, the notebook, the self-check"),
    "reference": ("make_reference", "write reference cases (a private set with --seed and --out)"),
    "grade": (None, "grade one submission folder (the grading's pytest command)"),
    "grade-class": ("grade_all", "grade a folder of submissions: grades.csv, results, a class report"),
    "report": ("class_report", "make the class report from grade-class's --json-dir"),
    "gradescope": ("make_autograder", "build the Gradescope autograder zip"),
    "prairielearn": ("make_prairielearn", "write a PrairieLearn question that grades the practical"),
}


def usage():
    width = max(len(name) for name in COMMANDS)
    return "usage: python tools/teacher.py SUBCOMMAND [OPTIONS]\n\n%s\n\nsubcommands:\n%s\n" % (
        __doc__.split("\n\n")[0], "\n".join("  %-*s  %s" % (width, name, text) for name, (_, text) in COMMANDS.items()))


def grade(argv):
    """python -m pytest tests/grading --submission=FOLDER, from the grader's folder; --json FILE
    writes Gradescope's results.json; other options are the grading's own (pytest --help)."""
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python tools/teacher.py grade FOLDER [--json FILE] [pytest's and the grading's options]\n\n"
              + grade.__doc__)
        return 0
    folder, rest = argv[0], argv[1:]
    if "--json" in rest:
        i = rest.index("--json")
        rest[i:i + 2] = ["--grade-json=%s" % Path(rest[i + 1]).absolute()]
    return subprocess.call([sys.executable, "-m", "pytest", "tests/grading", "-p", "no:cacheprovider", "-q",
                            "--submission=%s" % Path(folder).absolute()] + rest, cwd=str(ROOT))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(usage() + "\nteacher.py: error: no subcommand %r" % name, file=sys.stderr)
        return 2
    module = COMMANDS[name][0]
    if module is None:
        return grade(rest)
    if module == "class_report":
        from grading import class_report
        return class_report.main(rest)
    return __import__(module).main(rest)


if __name__ == "__main__":
    sys.exit(main())
