"""Grading one attempt on an external grader (PrairieLearn): private cases made for this attempt,
the submission graded in the sandbox, and the platform's results.json.

    python -m grading.external prairielearn            # GRADE_ROOT (default /grade)

PrairieLearn's external grading (its docs, externalGradingOptions): the student's files are in
GRADE_ROOT/student, the question's tests/ (this grader) in GRADE_ROOT/tests, and the results go
to GRADE_ROOT/results/results.json, at most 1 MB: score in [0, 1], gradable, message, output and
tests (name, description, points, max_points, message, output). A submission that does not
compile or crashes is gradable, with score 0 and the reason; a grading that cannot be done (no
isolation, a sandbox that would not start, cases that could not be made) is not: "gradable":
false, and the attempt is not used.
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1 << 20          # bytes of PrairieLearn's results.json
MESSAGE = 4000           # characters of one test's message


def private_cases(folder, mistakes=True):
    """A fresh private set of cases in folder (0700), for this attempt alone."""
    command = [sys.executable, str(ROOT / "tools" / "make_reference.py"), "--seed", str(secrets.randbelow(2 ** 31)),
               "--out", str(folder)] + ([] if mistakes else ["--no-mistakes"])
    subprocess.run(command, check=True, capture_output=True, timeout=600, cwd=str(ROOT))


def grade(submission, cases, out, timeout=10.0, memory_mb=1024):
    """Run the grading of submission with cases; the results (Gradescope's format), or None."""
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "-p", "grading.pytest_plugin",
               str(ROOT / "tests" / "grading"), "--submission=%s" % submission, "--reference-dir=%s" % cases,
               "--grade-json=%s" % out, "--grading-timeout=%s" % timeout, "--grading-memory=%d" % memory_mb, "-q",
               "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark",
               "--confcutdir=%s" % (ROOT / "tests" / "grading"), "-o", "addopts="]
    proc = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, timeout=3600)
    try:
        return json.loads(Path(out).read_text()), proc.stdout[-3000:] + proc.stderr[-2000:]
    except (OSError, ValueError):
        return None, proc.stdout[-3000:] + proc.stderr[-2000:]


def prairielearn(result, log):
    """PrairieLearn's results.json from the grading's results (None: the grading failed)."""
    extra = (result or {}).get("extra_data") or {}
    if result is None or not extra.get("complete"):
        why = (extra.get("not_graded") or ["the grading could not finish"])[0]
        return {"gradable": False, "score": 0.0,
                "message": ("Not graded: %s. This attempt does not count: submit again. If it happens again, tell "
                            "your instructor: the grading job's output, which they can open from this "
                            "submission, says why." % why),
                "format_errors": [why], "output": log[-3000:]}
    tests = [{"name": t["name"], "description": "Task %s" % t["number"], "points": t["score"],
              "max_points": t["max_score"], "message": t["output"][:MESSAGE] if t["status"] != "passed" else "",
              "output": ""} for t in result["tests"]]
    total = [line for line in result["output"].splitlines() if line.startswith("TOTAL")]
    out = {"gradable": True, "score": round(result["score"] / extra["max_score"], 6),
           "message": total[0] if total else "",
           "output": result["output"], "tests": tests}
    while len(json.dumps(out)) > LIMIT - 1000 and any(t["message"] for t in tests):   # PrairieLearn's 1 MB
        longest = max(tests, key=lambda t: len(t["message"]))
        longest["message"] = longest["message"][:len(longest["message"]) // 2] + " ..."
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["prairielearn"]:
        print("usage: python -m grading.external prairielearn", file=sys.stderr)
        return 2
    root = Path(os.environ.get("GRADE_ROOT", "/grade"))
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    for folder in (root / "tests", root / "student"):   # nothing of the grader's for other users
        subprocess.run(["chmod", "-R", "go-rwx", str(folder)], capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="grading-"))     # 0700
    try:
        try:
            private_cases(work / "cases", mistakes=os.environ.get("GRADING_MISTAKES", "1") == "1")
            result, log = grade(root / "student", work / "cases", work / "results.json")
        except (subprocess.SubprocessError, OSError) as e:
            result, log = None, "the private cases could not be made: %s" % e
        answer = prairielearn(result, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tmp = results / ".results.json.tmp"
    tmp.write_text(json.dumps(answer))
    os.replace(tmp, results / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
