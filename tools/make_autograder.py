#!/usr/bin/env python
"""Build a Gradescope autograder: python tools/make_autograder.py --out autograder.zip

The zip holds, at its root, setup.sh and run_autograder, and in source/ the grading
(grading/, tests/grading/), the support modules a submission is graded with (data.py,
plotting.py, report.py), MNIST, requirements.txt, and what makes the reference cases:
tools/make_reference.py, the reference solution (vae.py, adam.py) and the trained model
the cases are drawn through (docs/default/params.npz). The students' stored cases are
not in it.

run_autograder first removes every other user's access to /autograder (source,
submission, results), then makes a PRIVATE set of reference cases with a fresh secret
seed, for this attempt alone: what one attempt's messages show (at most six values of a
case) says nothing of the next attempt's cases. It grades /autograder/submission with
the sandboxed worker (as a dedicated unprivileged user, in namespaces where the container
allows them; the submission never sees source/, the reference or the cases), writes
/autograder/results/results.json in Gradescope's format, and deletes the cases. If the
grading itself fails, it still writes a results.json that scores 0 and says so.
"""
import argparse
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from grading import results, submission  # noqa: E402

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
# Gradescope runs this, as root, for every submission.
set -u
A="${{AUTOGRADER_ROOT:-/autograder}}"
PY="${{AUTOGRADER_PYTHON:-python3}}"   # the interpreter with requirements.txt installed
mkdir -p "$A/results"
# Nothing of the grader's is for other users: the submission's code runs as one.
chmod go-rwx "$A" "$A/results" 2>/dev/null
chmod -R go-rwx "$A/source" "$A/submission" 2>/dev/null
cd "$A/source"
# This attempt's private cases: a fresh secret seed, in a folder only root can read.
CASES="$A/cases"
rm -rf "$CASES" && mkdir -m 700 "$CASES"
SEED=$("$PY" -c 'import secrets; print(secrets.randbelow(2 ** 31))')
if "$PY" tools/make_reference.py --seed "$SEED" --out "$CASES" {mistakes} >/dev/null; then
"$PY" -m pytest -c pytest.ini tests/grading --submission="$A/submission" --reference-dir="$CASES" \\
    --grade-json="$A/results/results.json" --grading-timeout={timeout} --grading-memory={memory} \\
    --grade-visibility={visibility} --confcutdir=tests/grading -p no:cacheprovider -q
else
    rm -f "$A/results/results.json"   # no cases, no grade
fi
unset SEED
[ "${{KEEP_CASES:-0}}" = 1 ] || rm -rf "$CASES"
"$PY" - "$A/results/results.json" <<'END'
import json, sys
path = sys.argv[1]
try:
    ok = json.load(open(path))["extra_data"]["complete"] is True
except Exception:
    ok = False
if not ok:
    json.dump({{"score": 0, "output": "The autograder could not finish grading this submission: this 0 is "
               "not a grade. Submit again; if it happens again, tell your instructor, who sees why in this "
               "submission's autograder output.", "tests": []}}, open(path, "w"))
END
"""

SOURCE_DIRS = ("grading", "tests/grading", "mnist")
# The reference and what makes the cases from it (tools/mutants.py and make_handout.py for the
# known mistakes' fingerprints); never reachable from a submission's sandbox.
SOURCE_FILES = ("requirements.txt", "vae.py", "adam.py", "docs/default/params.npz", "tools/make_reference.py",
                "tools/mutants.py", "tools/make_handout.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def copy_grader(dest):
    """The grader's own files (SOURCE_DIRS, SOURCE_FILES, the modules vae.py imports) into dest."""
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=IGNORED)
    for name in SOURCE_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    for path in submission.support_modules(ROOT):
        if path.is_dir():
            shutil.copytree(path, dest / path.name, ignore=IGNORED)
        else:
            shutil.copy2(path, dest / path.name)


def build(out, timeout=submission.JOB_TIMEOUT, memory_mb=512, visibility="visible", with_mistakes=True,
          log=print):
    """Write the autograder zip to out; returns the number of files in it."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        copy_grader(source)
        (source / "pytest.ini").write_text("[pytest]\ntestpaths = tests/grading\ntimeout = 600\n"
                                           "timeout_method = thread\naddopts = -p grading.pytest_plugin -p no:hypothesispytest -p no:benchmark\n")
        scripts = {"setup.sh": SETUP,
                   "run_autograder": RUN.format(timeout=timeout, memory=memory_mb, visibility=visibility,
                                                mistakes="" if with_mistakes else "--no-mistakes")}
        fd, tmp_zip = tempfile.mkstemp(prefix=".autograder-", suffix=".zip", dir=str(out.absolute().parent))
        os.close(fd)
        count = 0
        try:
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as z:
                for name, text in scripts.items():
                    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = (stat.S_IFREG | 0o755) << 16
                    z.writestr(info, text)
                    count += 1
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        z.write(path, "source/" + str(path.relative_to(source)))
                        count += 1
            os.replace(tmp_zip, out)
        except BaseException:
            os.unlink(tmp_zip)
            raise
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make_autograder.py", description=__doc__.split("\n\n")[0],
                                     epilog="Upload the zip as the assignment's autograder (Ubuntu base image).")
    parser.add_argument("--out", default="autograder.zip", help="the zip to write (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=submission.JOB_TIMEOUT,
                        help="seconds allowed to one call of a submission's functions (default %(default)s)")
    parser.add_argument("--memory", type=int, default=512, metavar="MB",
                        help="address space of the submission's process, in MB; Gradescope's container has "
                             "768 MB in all (default %(default)s)")
    parser.add_argument("--visibility", choices=results.VISIBILITIES, default="visible", help=VISIBILITY_HELP)
    parser.add_argument("--no-mistakes", action="store_true",
                        help="make each attempt's cases without the known wrong solutions' fingerprints "
                             "(about 15 s faster an attempt; fewer hints in messages)")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.memory < 256:
        parser.error("--timeout must be above 0 and --memory at least 256 MB")
    count = build(args.out, args.timeout, args.memory, args.visibility, not args.no_mistakes)
    print("wrote %s (%d files, %.1f MB)" % (args.out, count, os.path.getsize(args.out) / 2 ** 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
