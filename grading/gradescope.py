"""The Gradescope autograder: vae-teacher gradescope --out autograder.zip

The zip holds, at its root, setup.sh and run_autograder, and in source/ the grader: the grading
package (with what makes cases: the case maker, the known mistakes, the networks the cases are
drawn through), the reference solution (vae.py, adam.py), the modules a submission is graded
with (grading.submission.SUPPORT), MNIST and requirements.txt. The students' stored cases are
not in it.

run_autograder runs `python3 -m grading attempt gradescope` (run() below) for every attempt: it
removes every other user's access to /autograder (source, submission, results), makes a PRIVATE
set of cases with a fresh secret seed for this attempt alone (what one attempt's messages show,
at most six values of a case, says nothing of the next attempt's), grades /autograder/submission
in the sandbox (as a dedicated unprivileged user, in namespaces where the container allows them;
the submission never sees source/ or the cases), writes /autograder/results/results.json in
Gradescope's format, and deletes the cases. If the grading cannot finish, results.json still
scores 0 and says that this 0 is no grade.
"""
import argparse
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

from grading import api, results, submission
from plotting import atomic_write

ROOT = api.ROOT
VISIBILITY_HELP = ("Gradescope visibility of every test: visible (the default: students see each test's points "
                   "and message at once, as in their self-check; the private cases' inputs are never shown in "
                   "full), after_due_date, after_published or hidden")

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
cd /autograder/source
pip3 install -r requirements.txt
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission (grading/gradescope.py, run()).
cd "${{AUTOGRADER_ROOT:-/autograder}}/source" && exec "${{AUTOGRADER_PYTHON:-python3}}" -m grading attempt gradescope \\
    --root="${{AUTOGRADER_ROOT:-/autograder}}" --timeout={timeout} --memory={memory} --visibility={visibility}{mistakes} "$@"
"""

NOT_GRADED = ("The autograder could not finish grading this submission: this 0 is not a grade. Submit again; if "
              "it happens again, tell your instructor, who sees why in this submission's autograder output.")

# The grader's own files, copied into the autograder (and PrairieLearn's question): never
# reachable from a submission's sandbox.
GRADER_DIRS = ("grading", "mnist")
GRADER_FILES = ("vae.py", "adam.py")
OWN_INSTALL = "# This project itself"   # requirements.txt's last lines: an install in place, not wanted there
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
STORED_CASES = ROOT / "grading" / "reference"   # the students' own: an attempt makes private ones


def _ignored(folder, names):
    return set(IGNORED(folder, names)) | ({STORED_CASES.name} if Path(folder) == STORED_CASES.parent else set())


def copy_grader(dest):
    """The grader (GRADER_DIRS, GRADER_FILES, SUPPORT, requirements.txt) into dest, without the
    students' stored cases."""
    dest = Path(dest)
    for name in GRADER_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=_ignored)
    for path in [ROOT / name for name in GRADER_FILES] + submission.support_modules(ROOT):
        if path.is_dir():
            shutil.copytree(path, dest / path.name, ignore=IGNORED)
        else:
            shutil.copy2(path, dest / path.name)
    (dest / "requirements.txt").write_text((ROOT / "requirements.txt").read_text().split(OWN_INSTALL)[0])


def build(out, timeout=submission.JOB_TIMEOUT, memory_mb=512, visibility="visible", with_mistakes=True,
          log=print):
    """Write the autograder zip to out; returns the number of files in it."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        copy_grader(source)
        scripts = {"setup.sh": SETUP,
                   "run_autograder": RUN.format(timeout=timeout, memory=memory_mb, visibility=visibility,
                                                mistakes="" if with_mistakes else " --no-mistakes")}
        files = sorted(p for p in source.rglob("*") if p.is_file())

        def write(f):
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                for name, text in scripts.items():
                    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = (stat.S_IFREG | 0o755) << 16
                    z.writestr(info, text)
                for path in files:
                    z.write(path, "source/" + str(path.relative_to(source)))
        atomic_write(str(out), write)
    return len(scripts) + len(files)


def private(*folders):
    """Nothing of the grader's for other users: the submission's code runs as one."""
    for folder in folders:
        subprocess.run(["chmod", "-R", "go-rwx", str(folder)], capture_output=True)


def run(root="/autograder", timeout=submission.JOB_TIMEOUT, memory_mb=512, visibility="visible", mistakes=True,
        keep_cases=None):
    """One attempt, as run_autograder runs it: root/results/results.json in Gradescope's format."""
    root = Path(root)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    private(root, root / "results", root / "source", root / "submission")
    result, log = api.attempt(root / "submission", out, mistakes=mistakes, keep_cases=keep_cases, timeout=timeout,
                              memory_mb=memory_mb, visibility=visibility)
    print(log)
    if not (result or {}).get("extra_data", {}).get("complete"):
        results.write_json_atomically(out, {"score": 0, "output": NOT_GRADED, "tests": []})
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher gradescope", description=__doc__.split("\n\n")[0],
                                     epilog="Upload the zip as the assignment's autograder (Ubuntu base image).")
    parser.add_argument("--out", default="autograder.zip", help="the zip to write (default: %(default)s)")
    add_options(parser, memory=512)
    args = parser.parse_args(argv)
    check_options(parser, args)
    count = build(args.out, args.timeout, args.memory, args.visibility, not args.no_mistakes)
    print("wrote %s (%d files, %.1f MB)" % (args.out, count, os.path.getsize(args.out) / 2 ** 20))
    return 0


def add_options(parser, memory):
    """The options of an attempt, shared by the zip's builder and run_autograder's command."""
    parser.add_argument("--timeout", type=float, default=submission.JOB_TIMEOUT,
                        help="seconds allowed to one call of a submission's functions (default %(default)s)")
    parser.add_argument("--memory", type=int, default=memory, metavar="MB",
                        help="address space of the submission's process, in MB; Gradescope's container has "
                             "768 MB in all (default %(default)s)")
    parser.add_argument("--visibility", choices=results.VISIBILITIES, default="visible", help=VISIBILITY_HELP)
    parser.add_argument("--no-mistakes", action="store_true",
                        help="make each attempt's cases without the known wrong solutions' fingerprints "
                             "(about 15 s faster an attempt; fewer hints in messages)")


def check_options(parser, args):
    if args.timeout <= 0 or args.memory < 256:
        parser.error("--timeout must be above 0 and --memory at least 256 MB")


def attempt_main(argv=None):
    """python -m grading attempt gradescope: what run_autograder runs."""
    parser = argparse.ArgumentParser(prog="python -m grading attempt gradescope")
    parser.add_argument("--root", default="/autograder", help="Gradescope's tree (default: %(default)s)")
    parser.add_argument("--keep-cases", metavar="DIR", help="move the attempt's cases to DIR, a new folder, "
                                                            "instead of deleting them (to look at them)")
    add_options(parser, memory=512)
    args = parser.parse_args(argv)
    check_options(parser, args)
    return run(args.root, args.timeout, args.memory, args.visibility, not args.no_mistakes, args.keep_cases)
