#!/usr/bin/env python
"""Write a PrairieLearn question that grades the practical: python tools/make_prairielearn.py OUT

OUT becomes a question folder for a PrairieLearn course (questions/OUT in the course):

    info.json       the question: external grading enabled, the image, the entrypoint, a timeout
    question.html   the practical in a sentence, a file upload (vae.py and adam.py, or vae.ipynb)
    tests/          this grader: grading/, its tests, the support modules, MNIST, and what makes
                    private cases (the reference, its trained model, tools/make_reference.py);
                    run_grader, the entrypoint, and the Dockerfile of the image it runs in

PrairieLearn runs tests/run_grader in the image for every attempt: it makes private cases for
that attempt alone, grades GRADE_ROOT/student (default /grade/student) in the sandbox, and
writes GRADE_ROOT/results/results.json in PrairieLearn's format (grading/external.py).
"""
import argparse
import json
import shutil
import stat
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_autograder  # noqa: E402

TIMEOUT = 300   # seconds: an attempt takes 20-60 s (cases, then grading); PrairieLearn allows 600

RUN_GRADER = """\
#!/usr/bin/env bash
# PrairieLearn's entrypoint (info.json): grade /grade/student into /grade/results/results.json.
G="${GRADE_ROOT:-/grade}"
export GRADE_ROOT="$G"
cd "$G/tests" && exec "${GRADER_PYTHON:-python3}" -m grading.external prairielearn
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
        raise SystemExit("make_prairielearn.py: error: %s is not empty" % out)
    tests = out / "tests"
    tests.mkdir(parents=True)
    make_autograder.copy_grader(tests)   # the same files as Gradescope's autograder, and pytest.ini
    shutil.copy2(ROOT / "pytest.ini", tests / "pytest.ini")
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make_prairielearn.py", description=__doc__.split("\n\n")[0],
                                     epilog="Build the image from OUT/tests/Dockerfile and give its name "
                                            "with --image; copy OUT into your course's questions/.")
    parser.add_argument("out", metavar="OUT", help="the question folder to write (new or empty)")
    parser.add_argument("--image", default="vae-grader",
                        help="the Docker image PrairieLearn runs the grader in (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT,
                        help="seconds PrairieLearn allows an attempt, at most 600 (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 60 <= args.timeout <= 600:
        parser.error("--timeout must be from 60 to 600 seconds (PrairieLearn's limit)")
    out = build(args.out, args.image, args.timeout)
    print("wrote the PrairieLearn question %s (image %s, timeout %d s)" % (out, args.image, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
