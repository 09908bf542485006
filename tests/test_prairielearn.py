"""grading/prairielearn.py: a PrairieLearn question whose entrypoint is run on a simulated
/grade tree (GRADE_ROOT), as PrairieLearn's external grader would, and its results checked
against PrairieLearn's documented fields and types."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
import grading.handout  # noqa: E402
from grading import prairielearn as make_prairielearn  # noqa: E402


@pytest.fixture(scope="module")
def question(tmp_path_factory):
    return make_prairielearn.build(tmp_path_factory.mktemp("pl") / "vae-practical")


def attempt(question, tmp_path, files, env=None):
    """Run the question's entrypoint on a /grade tree holding files as the student's; results.json."""
    root = tmp_path / "grade"
    shutil.copytree(question / "tests", root / "tests")
    (root / "student").mkdir()
    for name, text in files.items():
        (root / "student" / name).write_text(text)
    env = dict(os.environ, GRADE_ROOT=str(root), GRADER_PYTHON=sys.executable, GRADING_MISTAKES="0", **(env or {}))
    proc = subprocess.run(["bash", str(root / "tests" / "run_grader")], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    path = root / "results" / "results.json"
    assert path.stat().st_size <= 1 << 20
    return json.loads(path.read_text())


def well_formed(result):
    assert isinstance(result["gradable"], bool) and isinstance(result["message"], str)
    if result["gradable"]:
        assert isinstance(result["score"], float) and 0 <= result["score"] <= 1
        for test in result["tests"]:
            assert set(test) >= {"name", "description", "points", "max_points", "message", "output"}
            assert isinstance(test["name"], str) and isinstance(test["message"], str)
            assert isinstance(test["points"], (int, float)) and 0 <= test["points"] <= test["max_points"]
        assert abs(sum(t["max_points"] for t in result["tests"]) - 100) < 1e-6


def test_the_question_enables_external_grading(question):
    info = json.loads((question / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["enabled"] is True
    assert options["entrypoint"].startswith("/grade/tests/") and 0 < options["timeout"] <= 600
    assert (question / options["entrypoint"][len("/grade/"):]).stat().st_mode & 0o111
    html = (question / "question.html").read_text()
    assert "<pl-file-upload" in html and all(name in html for name in ("vae.py", "adam.py", "vae.ipynb"))
    assert not (question / "tests" / "grading" / "reference").exists()   # no stored cases: private ones per attempt


def test_the_reference_scores_1(question, tmp_path):
    result = attempt(question, tmp_path, {n: (ROOT / n).read_text() for n in ("vae.py", "adam.py")})
    well_formed(result)
    assert result["gradable"] is True and result["score"] == 1.0, result["message"]


def test_the_stubs_score_0(question, tmp_path):
    handout = grading.handout.write_handout(tmp_path / "handout", check_leaks=False)
    result = attempt(question, tmp_path, {n: (handout / n).read_text() for n in ("vae.py", "adam.py")})
    well_formed(result)
    assert result["gradable"] is True and result["score"] == 0.0
    assert any("not implemented yet" in t["message"] for t in result["tests"])


def test_a_crash_is_gradable_with_its_reason(question, tmp_path):
    result = attempt(question, tmp_path, {"vae.py": "import numpy as np\n\ndef compute_KL(q:\n    pass\n"})
    well_formed(result)
    assert result["gradable"] is True and result["score"] == 0.0
    assert "does not compile" in result["output"]


def test_a_grading_that_cannot_be_done_is_not_gradable_and_says_only_what_is_true(question, tmp_path):
    """No isolation (forced here): the grader refuses, the attempt does not count, and the message
    tells the student what to do and where the instructor sees why; it promises nothing else."""
    result = attempt(question, tmp_path, {n: (ROOT / n).read_text() for n in ("vae.py", "adam.py")},
                     env={"GRADING_ISOLATION": "none"})
    assert result["gradable"] is False, result
    assert "does not count" in result["message"] and "submit again" in result["message"]
    assert "grading job's output" in result["message"] and "has been told" not in result["message"]
    assert "isolation" in result["output"]
