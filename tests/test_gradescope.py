"""grading/gradescope.py: the Gradescope autograder, built and run as Gradescope would
(a root folder with source/, submission/, results/; AUTOGRADER_ROOT points there)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
import grading.gradescope  # noqa: E402
import grading.handout  # noqa: E402


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    path = tmp_path_factory.mktemp("ag") / "autograder.zip"
    grading.gradescope.build(path, with_mistakes=False, log=lambda *a: None)
    return path


def run(autograder, tmp_path, files, break_it=None):
    root = tmp_path / "gradescope"
    with zipfile.ZipFile(autograder) as z:
        z.extractall(root)
    (root / "submission").mkdir()
    for name, source in files.items():
        shutil.copy(source, root / "submission" / name)
    if break_it:
        break_it(root)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "run_autograder"), "--keep-cases=%s" % (root / "cases")], env=env,
                          capture_output=True, text=True, timeout=600)
    return root, json.loads((root / "results" / "results.json").read_text()), proc


def failures(result, proc):
    """What a results.json and run_autograder's output say went wrong, for an assertion's message."""
    return "\n".join([str(result.get("output"))] + ["%s: %s" % (t["name"], t["output"]) for t in result["tests"]
                                                  if t.get("status") != "passed"]
                     + [proc.stdout[-3000:], proc.stderr[-3000:]])


def test_the_zip_makes_private_cases_and_holds_none_of_the_students(autograder):
    with zipfile.ZipFile(autograder) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    assert {"setup.sh", "run_autograder", "source/requirements.txt", "source/grading/sandbox.py",
            "source/grading/rubric/test_task1.py", "source/data.py", "source/mnist/t10k-images-idx3-ubyte.gz",
            "source/grading/casemaker.py", "source/vae.py", "source/adam.py", "source/support/__init__.py",
            "source/grading/trained_networks.npz"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any(n.startswith("source/grading/reference/") for n in names)
    with zipfile.ZipFile(autograder) as z:
        assert "-e ." not in z.read("source/requirements.txt").decode()
    assert "source/experiments.py" not in names


def test_every_attempt_is_graded_on_cases_of_its_own(autograder, tmp_path):
    """A fresh secret seed per attempt: what one attempt's messages show is no answer to the next."""
    inputs = []
    for attempt in ("first", "second"):
        root, result, proc = run(autograder, tmp_path / attempt, {"vae.py": ROOT / "vae.py", "adam.py": ROOT / "adam.py"})
        assert result["score"] == 100, failures(result, proc)
        assert (root / "cases").stat().st_mode & 0o077 == 0
        with np.load(root / "cases" / "kl_mnist.npz", allow_pickle=False) as f:
            inputs.append(f["in.q_means_and_log_stds"])
    with np.load(ROOT / "grading" / "reference" / "kl_mnist.npz", allow_pickle=False) as stored:
        students = stored["in.q_means_and_log_stds"]
    assert not np.array_equal(inputs[0], inputs[1])
    assert not np.array_equal(inputs[0], students) and not np.array_equal(inputs[1], students)


def test_the_reference_scores_100_and_the_grader_keeps_its_files_to_itself(autograder, tmp_path):
    root, result, proc = run(autograder, tmp_path, {"vae.py": ROOT / "vae.py", "adam.py": ROOT / "adam.py"})
    assert result["score"] == 100 and result["extra_data"]["complete"] is True, failures(result, proc)
    assert set(result) >= {"score", "execution_time", "output", "tests"}
    for test in result["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed" and test["visibility"] == "visible"
    for folder in (root, root / "source", root / "results", root / "submission"):
        assert folder.stat().st_mode & 0o077 == 0, folder


@pytest.mark.full   # the stubs' 0 is the graded class's and PrairieLearn's too; this is the zip's route
def test_the_handout_stubs_score_0(autograder, tmp_path):
    handout = grading.handout.write_handout(tmp_path / "handout", check_leaks=False)
    _, result, _ = run(autograder, tmp_path, {"vae.py": handout / "vae.py", "adam.py": handout / "adam.py"})
    assert result["score"] == 0 and len(result["tests"]) == 24
    assert all(t["status"] == "failed" for t in result["tests"])


def test_a_grading_that_cannot_finish_still_leaves_a_zero_results_json(autograder, tmp_path):
    def break_it(root):
        (root / "source" / "grading" / "points.json").write_text("{")
    _, result, _ = run(autograder, tmp_path, {"vae.py": ROOT / "vae.py", "adam.py": ROOT / "adam.py"},
                       break_it=break_it)
    assert result["score"] == 0 and "could not finish" in result["output"] and "not a grade" in result["output"]


@pytest.mark.full   # the same copy_submission as tests/test_notebook.py's gradings
def test_a_notebook_handed_in_is_graded(autograder, tmp_path):
    """vae.ipynb alone (the handout's notebook, the reference in its task cells): 100."""
    import nbformat
    from test_notebook import solved
    handout = grading.handout.write_handout(tmp_path / "handout", check_leaks=False)
    nbformat.write(solved(handout / "vae.ipynb"), str(tmp_path / "vae.ipynb"))
    _, result, proc = run(autograder, tmp_path, {"vae.ipynb": tmp_path / "vae.ipynb"})
    assert result["score"] == 100 and result["extra_data"]["complete"] is True, failures(result, proc)
