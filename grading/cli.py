"""vae-teacher: everything around grading the practical, one subcommand each (as otter has
`otter assign / grade / generate`). `vae-teacher SUBCOMMAND --help` shows a subcommand's options.

    vae-teacher handout OUT                      the students' handout (vae.py, adam.py, vae.ipynb)
    vae-teacher cases --seed N --out DIR         a private set of cases (default: grading/reference)
    vae-teacher grade FOLDER [--json FILE]       one submission, with the points summary
    vae-teacher grade-class FOLDER --out grades.csv [--json-dir DIR] [--report DIR]
    vae-teacher report JSON_DIR --out DIR        the class report, again, from grade-class's results
    vae-teacher review JSON_DIR                  the review page: set the points of a part by hand
    vae-teacher export JSON_DIR --canvas FILE    the marks for an LMS (--canvas, --moodle), --out-of N
    vae-teacher replay JSON_DIR [NAME ...]       grade again on the recorded cases; same points?
    vae-teacher gradescope [--out autograder.zip]
    vae-teacher prairielearn OUT [--image IMAGE]
    vae-teacher points                           the points table, as Markdown

`python -m grading ...` is the same command; so is `python tools/teacher.py ...`.
"""
import argparse
import importlib
import subprocess
import sys

COMMANDS = {
    "handout": ("grading.handout", "write the students' handout: the stubs, the notebook, the self-check"),
    "cases": ("grading.casemaker", "make cases (a private set with --seed and --out), or --check the stored ones"),
    "grade": (None, "grade one submission folder, with the points summary"),
    "grade-class": ("grading.classroom", "grade a folder of submissions: grades.csv, results, a class report"),
    "report": ("grading.class_report", "make the class report, feedback and grades.csv again from --json-dir"),
    "review": ("grading.review", "review what needs a human look, in your browser: set points, say why"),
    "export": ("grading.export", "the class's marks for Canvas's or Moodle's gradebook import (CSV)"),
    "replay": ("grading.replay", "grade submissions of a class again on its cases; are the points the same?"),
    "gradescope": ("grading.gradescope", "build the Gradescope autograder zip"),
    "prairielearn": ("grading.prairielearn", "write a PrairieLearn question that grades the practical"),
    "points": (None, "print the points table (Markdown)"),
    "attempt": (None, "one attempt on a platform: what Gradescope's run_autograder and PrairieLearn's "
                      "run_grader run (attempt gradescope|prairielearn)"),
}


def grade(argv):
    """vae-teacher grade FOLDER: the grading's command (grading/api.py) on one folder, its summary
    printed; the grading's options as pytest's, and -k to grade one function or task."""
    from grading import api, results, submission
    parser = argparse.ArgumentParser(prog="vae-teacher grade", description=grade.__doc__.split("\n")[0])
    parser.add_argument("folder", metavar="FOLDER", help="the submission: vae.py and adam.py, or a notebook")
    parser.add_argument("--json", metavar="FILE", help="write its results (Gradescope's format) to FILE")
    parser.add_argument("--cases", metavar="DIR", help="private cases (vae-teacher cases --seed N --out DIR); "
                                                      "default: the stored ones, which students have")
    parser.add_argument("-k", dest="select", metavar="NAME", help="only a task function's or task's tests "
                                                                  "(compute_KL, task2)")
    parser.add_argument("--timeout", type=float, default=submission.JOB_TIMEOUT,
                        help="seconds allowed to one call of the submission's functions (default %(default)s)")
    parser.add_argument("--visibility", choices=results.VISIBILITIES, default=None,
                        help="Gradescope visibility of each test in --json")
    parser.add_argument("--allow-unisolated", action="store_true",
                        help="grade even where the submission cannot be isolated (see README, Security model)")
    args = parser.parse_args(argv)
    if not args.cases:
        print("vae-teacher grade: grading with the stored cases, which students have in their handout (a "
              "submission could hold their answers); for a grade that counts, make private ones: vae-teacher "
              "cases --seed N --out DIR, then --cases DIR", file=sys.stderr)
    return subprocess.call(api.command(args.folder, results=args.json, cases=args.cases, select=args.select,
                                       timeout=args.timeout, visibility=args.visibility,
                                       allow_unisolated=args.allow_unisolated, quiet=True), cwd=str(api.ROOT))


def attempt(argv):
    platforms = {"gradescope": "grading.gradescope", "prairielearn": "grading.prairielearn"}
    if not argv or argv[0] not in platforms:
        print("usage: python -m grading attempt {gradescope,prairielearn} [OPTIONS]", file=sys.stderr)
        return 2
    return importlib.import_module(platforms[argv[0]]).attempt_main(argv[1:])


def parser():
    p = argparse.ArgumentParser(prog="vae-teacher", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description=__doc__.split("\n\n")[0],
                                epilog="`vae-teacher SUBCOMMAND --help` shows its options.")
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)   # its own options: the subcommand's parser's
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    if not argv:
        p.print_help()
        return 0
    args, rest = p.parse_known_args(argv[:1])
    rest += argv[1:]
    if args.command == "grade":
        return grade(rest)
    if args.command == "attempt":
        return attempt(rest)
    if args.command == "points":
        from grading import results
        print(results.points_markdown())
        return 0
    return importlib.import_module(COMMANDS[args.command][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
