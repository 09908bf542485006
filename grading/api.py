"""Grading one submission: the one command that runs the rubric on it.

    from grading import api
    result = api.grade("path/to/student", cases="path/to/private-cases", results="results.json")

Everything that grades (a class, a Gradescope or PrairieLearn attempt, the notebook's check(),
the teacher's `vae-teacher grade`) goes through pytest_args(): the rubric (grading/rubric) run
by pytest with the grading's plugin and nothing else. Every value is joined to its option with
"=", so that no word is taken for a folder of tests (whose conftest.py pytest would import);
no plugin is loaded that the grading does not name (PYTEST_DISABLE_PLUGIN_AUTOLOAD: nothing a
student or teacher has installed changes what a grading does), and pytest.ini's addopts are
ignored. The submission's code runs in the sandboxed worker of that run, never in
the grading process.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent          # the grader's folder (the reference's vae.py, adam.py and support)
RUBRIC = HERE / "rubric"
# pytest's plugins that grading never uses, and that cost every start (or could change a run).
UNUSED_PLUGINS = ("cacheprovider", "hypothesispytest", "benchmark", "unraisableexception", "threadexception",
                  "xdist", "randomly", "cov")


def pytest_args(submission, results=None, cases=None, timeout=None, memory_mb=None, visibility=None,
                hide=(), allow_unisolated=False, select=None, quiet=True, figures=None):
    """pytest's arguments that grade the submission folder: results (a results.json to write,
    Gradescope's format), cases (a folder of private cases; default: the stored ones), timeout
    (seconds of one call), memory_mb (the worker's address space), visibility (Gradescope's),
    hide (folders the submission must not see), select (-k: a task function's or task's name),
    figures (a folder for the PNGs of the images the submission makes)."""
    args = ["-p", "grading.pytest_plugin", str(RUBRIC), "--submission=%s" % Path(submission).absolute(),
            "--rootdir=%s" % ROOT, "--confcutdir=%s" % RUBRIC, "-o", "addopts=", "--assert=plain", "--no-header"]
    for plugin in UNUSED_PLUGINS:
        args += ["-p", "no:" + plugin]
    if _installed("pytest_timeout"):   # a last resort per test (the worker's calls have their own limits)
        args += ["-p", "pytest_timeout"]
    if quiet:
        args.append("-q")
    if results:
        args.append("--grade-json=%s" % Path(results).absolute())
    if cases:
        args.append("--reference-dir=%s" % Path(cases).absolute())
    if timeout is not None:
        args.append("--grading-timeout=%s" % timeout)
    if memory_mb is not None:
        args.append("--grading-memory=%d" % memory_mb)
    if visibility:
        args.append("--grade-visibility=%s" % visibility)
    args += ["--grading-hide=%s" % Path(path).absolute() for path in hide]
    if allow_unisolated:
        args.append("--allow-unisolated")
    if figures:
        args.append("--grade-figures=%s" % Path(figures).absolute())
    if select:
        args.append("-k=%s" % select)
    return args


def _installed(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def command(submission, python=sys.executable, **options):
    """The grading as a command line: pytest with pytest_args(), through main() below."""
    return [python, "-m", "grading.api"] + pytest_args(submission, **options)


def main(args):
    """pytest with these arguments, no plugin loaded but those they name: `python -m grading.api
    ARGS`, or in a forked process (grading/classroom.py)."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest
    return int(pytest.main(list(args)))


def grade(submission, results, python=sys.executable, wall_seconds=3600, env=None, **options):
    """Grade the submission in a fresh process, results (a path) written by the grading alone:
    (the results, or None if the run wrote none it completed, and what the run printed)."""
    proc = subprocess.run(command(submission, python, results=results, **options), cwd=str(ROOT),
                          capture_output=True, text=True, timeout=wall_seconds, env=env)
    try:
        result = json.loads(Path(results).read_text())
    except (OSError, ValueError):
        result = None
    return result, proc.stdout + proc.stderr


def attempt(student, results, mistakes=True, keep_cases=None, **options):
    """One attempt on a platform (Gradescope, PrairieLearn): a private set of cases for this
    attempt alone, made with a fresh secret seed in a folder only this user can read, the
    student's folder graded on them, and the cases deleted (or moved to keep_cases, a new
    folder, to look at them). (results, or None: the cases could not be made, and the log)."""
    import secrets
    import shutil
    import tempfile
    from grading import casemaker
    work = Path(tempfile.mkdtemp(prefix="grading-attempt-"))   # 0700
    try:
        try:
            casemaker.write(work / "cases", seed=secrets.randbelow(2 ** 31), with_mistakes=mistakes)
        except Exception as e:   # no cases, no grade
            return None, "the private cases could not be made: %s" % e
        graded = grade(student, results, cases=work / "cases", **options)
        if keep_cases:
            shutil.move(str(work / "cases"), str(keep_cases))
        return graded
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
