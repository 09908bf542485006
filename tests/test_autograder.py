"""tools/make_autograder.py: the Gradescope autograder, built and run as Gradescope would
(a root folder with source/, submission/, results/; AUTOGRADER_ROOT points there)."""
import io
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
sys.path.insert(0, str(ROOT / "tools"))
import make_autograder  # noqa: E402
import make_handout  # noqa: E402


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    path = tmp_path_factory.mktemp("ag") / "autograder.zip"
    make_autograder.build(path, seed=4242, with_mistakes=False, log=lambda *a: None)
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
    proc = subprocess.run(["bash", str(root / "run_autograder")], env=dict(os.environ, AUTOGRADER_ROOT=str(root)),
                          capture_output=True, text=True, timeout=600)
    return root, json.loads((root / "results" / "results.json").read_text()), proc


def test_the_zip_holds_the_scripts_and_private_cases_but_no_solution(autograder):
    with zipfile.ZipFile(autograder) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        with z.open("source/tests/reference/elbo_mnist.npz") as f:
            private = np.load(io.BytesIO(f.read()), allow_pickle=False)
            private_images, private_noise = private["in.images"], private["noise"]
    assert {"setup.sh", "run_autograder", "source/requirements.txt", "source/grading/sandbox.py",
            "source/tests/grading/conftest.py", "source/data.py", "source/mnist/t10k-images-idx3-ubyte.gz"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert "source/vae.py" not in names and "source/adam.py" not in names
    # Private cases: other digits and noise than the students' stored ones.
    with np.load(ROOT / "tests" / "reference" / "elbo_mnist.npz", allow_pickle=False) as stored:
        assert not np.array_equal(private_images, stored["in.images"])
        assert not np.array_equal(private_noise, stored["noise"])


def test_the_reference_scores_100_and_the_grader_keeps_its_files_to_itself(autograder, tmp_path):
    root, result, _ = run(autograder, tmp_path, {"vae.py": ROOT / "vae.py", "adam.py": ROOT / "adam.py"})
    assert result["score"] == 100 and result["extra_data"]["complete"] is True
    assert set(result) >= {"score", "execution_time", "output", "tests"}
    for test in result["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed" and test["visibility"] == "visible"
    for folder in (root, root / "source", root / "results", root / "submission"):
        assert folder.stat().st_mode & 0o077 == 0, folder


def test_the_handout_stubs_score_0(autograder, tmp_path):
    handout = make_handout.write_handout(tmp_path / "handout", check_leaks=False)
    _, result, _ = run(autograder, tmp_path, {"vae.py": handout / "vae.py", "adam.py": handout / "adam.py"})
    assert result["score"] == 0 and len(result["tests"]) == 24
    assert all(t["status"] == "failed" for t in result["tests"])


def test_a_grading_that_cannot_finish_still_leaves_a_zero_results_json(autograder, tmp_path):
    def break_it(root):
        (root / "source" / "grading" / "points.json").write_text("{")
    _, result, _ = run(autograder, tmp_path, {"vae.py": ROOT / "vae.py", "adam.py": ROOT / "adam.py"},
                       break_it=break_it)
    assert result["score"] == 0 and "by hand" in result["output"]
