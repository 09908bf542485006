"""PrairieLearn: a question that grades the practical (vae-teacher prairielearn OUT), and its
entrypoint for every attempt (run()).

OUT becomes a question folder for a PrairieLearn course (questions/OUT in the course):

    info.json       the question: external grading enabled, the image, the entrypoint, a timeout
    question.html   the practical in a sentence, a file upload (vae.py and adam.py, or vae.ipynb)
    tests/          the grader (grading.gradescope.copy_grader: the same files as Gradescope's),
                    run_grader, the entrypoint, and the Dockerfile of the image it runs in

PrairieLearn's external grading (its docs, externalGradingOptions): the student's files are in
GRADE_ROOT/student, the question's tests/ (this grader) in GRADE_ROOT/tests, and the results go
to GRADE_ROOT/results/results.json, at most 1 MB: score in [0, 1], gradable, message, output and
tests (name, description, points, max_points, message, output). For every attempt run() makes
private cases for that attempt alone and grades GRADE_ROOT/student in the sandbox. A submission
that does not compile or crashes is gradable, with score 0 and the reason; a grading that cannot
be done (no isolation, a sandbox that would not start, cases that could not be made) is not:
"gradable": false, and the attempt is not used.
"""
import argparse
import json
import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

from grading import api, gradescope, results

TIMEOUT = 300   # seconds: an attempt takes 20-60 s (cases, then grading); PrairieLearn allows 600
LIMIT = 1 << 20          # bytes of PrairieLearn's results.json
MESSAGE = 4000           # characters of one test's message

RUN_GRADER = """\
#!/usr/bin/env bash
# PrairieLearn's entrypoint (info.json): grade /grade/student into /grade/results/results.json.
G="${GRADE_ROOT:-/grade}"
cd "$G/tests" && exec "${GRADER_PYTHON:-python3}" -m grading attempt prairielearn --root="$G"
"""

DOCKERFILE = """\
# The image PrairieLearn runs the grader in: Python 3.11 with the grader's requirements.
# docker build -t YOUR_REGISTRY/vae-grader . && docker push YOUR_REGISTRY/vae-grader
FROM python:3.11-slim
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
"""

QUESTION = """\
<pl-question-panel>
  <p>Hand in your work on the practical <em>Auto-encoding Variational Bayes</em>: either
  <code>vae.py</code> and <code>adam.py</code> of the handout, or its notebook <code>vae.ipynb</code>.
  Each task is graded on its own, with tests like those of the handout's self-check, on inputs
  made for this attempt.</p>
  <pl-file-upload optional-file-names="vae.py, adam.py, vae.ipynb"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def build(out, image="vae-grader", timeout=TIMEOUT):
    """Write the question folder out (new or empty); returns it."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit("prairielearn: error: %s is not empty" % out)
    tests = out / "tests"
    tests.mkdir(parents=True)
    gradescope.copy_grader(tests)   # the same files as Gradescope's autograder
    (tests / "run_grader").write_text(RUN_GRADER)
    (tests / "run_grader").chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    (tests / "Dockerfile").write_text(DOCKERFILE)
    info = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "vae-practical/" + out.name)),
            "title": "Auto-encoding Variational Bayes", "topic": "Variational inference",
            "tags": ["vae", "autograd", "external-grading"], "type": "v3", "singleVariant": True,
            "gradingMethod": "External",
            "externalGradingOptions": {"enabled": True, "image": image, "entrypoint": "/grade/tests/run_grader",
                                       "timeout": int(timeout)}}
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    (out / "question.html").write_text(QUESTION)
    return out


def results_json(result, log):
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


def run(root="/grade", mistakes=True, timeout=None, memory_mb=1024):
    """One attempt: root/results/results.json in PrairieLearn's format."""
    root = Path(root)
    out = root / "results"
    out.mkdir(parents=True, exist_ok=True)
    gradescope.private(root / "tests", root / "student")
    work = Path(tempfile.mkdtemp(prefix="grading-"))     # 0700
    try:
        result, log = api.attempt(root / "student", work / "results.json", mistakes=mistakes,
                                  timeout=timeout, memory_mb=memory_mb)
        answer = results_json(result, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results.write_json_atomically(out / "results.json", answer)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher prairielearn", description=__doc__.split("\n\n")[0],
                                     epilog="Build the image from OUT/tests/Dockerfile and give its name "
                                            "with --image; copy OUT into your course's questions/.")
    parser.add_argument("out", metavar="OUT", help="the question folder to write (new or empty)")
    parser.add_argument("--image", required=True,
                        help="the Docker image PrairieLearn runs the grader in, as your PrairieLearn server pulls it "
                             "(e.g. ghcr.io/your-course/vae-grader:2026): build it from OUT/tests/Dockerfile and push "
                             "it there first")
    parser.add_argument("--timeout", type=int, default=TIMEOUT,
                        help="seconds PrairieLearn allows an attempt, at most 600 (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 60 <= args.timeout <= 600:
        parser.error("--timeout must be from 60 to 600 seconds (PrairieLearn's limit)")
    out = build(args.out, args.image, args.timeout)
    print("wrote the PrairieLearn question %s (image %s, timeout %d s)" % (out, args.image, args.timeout))
    return 0


def attempt_main(argv=None):
    """python -m grading attempt prairielearn: what run_grader runs."""
    parser = argparse.ArgumentParser(prog="python -m grading attempt prairielearn")
    parser.add_argument("--root", default=os.environ.get("GRADE_ROOT", "/grade"),
                        help="PrairieLearn's tree (default: GRADE_ROOT, or %(default)s)")
    args = parser.parse_args(argv)
    return run(args.root, mistakes=os.environ.get("GRADING_MISTAKES", "1") == "1")
