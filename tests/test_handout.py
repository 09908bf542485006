"""The student handout written by grading/handout.py from the reference's solution regions."""
import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
import grading.handout  # noqa: E402
from grading import regions  # noqa: E402

TASKS = ["Task 1.1: sample_latent_variables_from_posterior", "Task 1.2: bernoulli_log_prob",
         "Task 1.3: compute_KL", "Task 1.4: vae_lower_bound", "Task 2.1: adam_init", "Task 2.2: adam_step",
         "Task 3.1: generate_from_prior", "Task 3.2: reconstruct", "Task 3.3: interpolate"]


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    # check_leaks=False: test_no_solution_line_in_the_handout reports leaks on its own, so that
    # one leaking line does not hide what the other tests check.
    return grading.handout.write_handout(tmp_path_factory.mktemp("h") / "handout", check_leaks=False)


def test_handout_contents(handout):
    for name in ["vae.py", "adam.py", "vae.ipynb", "support/notebook.py", "data.py", "plotting.py", "requirements.txt",
                 "README.md",
                 "pytest.ini", "grading/rubric/test_task1.py", "grading/points.json", "grading/pytest_plugin.py",
                 "grading/submission.py", "grading/sandbox.py", "grading/reference/nets.npz"]:
        assert (handout / name).is_file(), name
    for name in ("data.py", "plotting.py") + tuple("support/" + p.name for p in (ROOT / "support").glob("*.py")):
        assert (handout / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert "-e ." not in (handout / "requirements.txt").read_text()
    assert sorted(os.listdir(handout / "mnist")) == sorted(os.listdir(ROOT / "mnist"))
    assert not list(handout.rglob("__pycache__"))
    readme = (handout / "README.md").read_text()
    for text in ["python -m pytest", "pip install -r requirements.txt", "python vae.py"]:
        assert text in readme
    for function in grading.handout.GUIDANCE:
        assert "`%s`" % function in readme


def test_stubs_replace_every_solution_region(handout):
    for name in grading.handout.SOLUTION_FILES:
        text = (handout / name).read_text()
        compile(text, name, "exec")
        assert not any(regions.MARKER.match(line) for line in text.splitlines())
        tree = ast.parse(text)
        reference = grading.handout.find_regions((ROOT / name).read_text(), name)
        for region in reference:
            function = next(node for node in ast.walk(tree)
                            if isinstance(node, ast.FunctionDef) and node.name == region.function)
            raises = [node for node in ast.walk(function) if isinstance(node, ast.Raise)
                      and getattr(node.exc.func, "id", None) == "NotImplementedError"]
            assert len(raises) == 1, region.function
            message = raises[0].exc.args[0].value
            assert message.startswith("Task ") and region.function in message
            source = ast.get_source_segment(text, function)
            assert "# TODO" in source and grading.handout.GUIDANCE[region.function].splitlines()[1] in source


def test_no_solution_line_in_the_handout(handout):
    solutions = set()
    for name in grading.handout.SOLUTION_FILES:
        solutions |= grading.handout.solution_lines((ROOT / name).read_text(), name)
    assert len(solutions) >= 15
    leaks = []
    for path in handout.rglob("*"):
        if path.suffix in (".py", ".md", ".txt", ".ini", ".json") and path.is_file():
            for i, line in enumerate(path.read_text().splitlines()):
                if grading.handout.code_part(line) in solutions:
                    leaks.append("%s:%d: %s" % (path.relative_to(handout), i + 1, line.strip()))
    assert not leaks, "solution lines in the handout (the reference repeats them outside its " \
                      "solution regions):\n" + "\n".join(leaks)


def test_handout_vae_stops_at_once_and_help_works(handout):
    env = dict(os.environ, MPLBACKEND="Agg")
    runs = [subprocess.Popen([sys.executable, "vae.py"] + args, cwd=handout, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for args in ([], ["--help"])]
    (out, err), (help_out, help_err) = [run.communicate(timeout=60) for run in runs]
    assert runs[0].returncode == 1
    assert "Traceback" not in err and "Loading MNIST" not in out + err
    assert [line.split(" (")[0].strip() for line in err.splitlines()[1:]] == [t for t in TASKS
                                                                             if not t.startswith("Task 3")]
    assert not (handout / "results").exists()
    assert runs[1].returncode == 0 and "usage: vae.py" in help_out and not help_err


def test_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert grading.handout.main([str(out)]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and "Traceback" not in err
    assert sorted(os.listdir(out)) == ["notes.txt"]
    (out / "vae.py").write_text("stale")
    try:
        grading.handout.write_handout(out, force=True, check_leaks=False)
    except grading.handout.HandoutError as e:   # pragma: no cover - only with a leaking reference
        pytest.fail(str(e))
    assert (out / "notes.txt").read_text() == "mine"          # not the handout's: left alone
    assert "NotImplementedError" in (out / "vae.py").read_text()


def _source_with(tmp_path, vae_text):
    source = tmp_path / "source"
    (source / "grading").mkdir(parents=True)
    shutil.copy(ROOT / "grading" / "points.json", source / "grading")
    shutil.copy(ROOT / "adam.py", source)
    (source / "vae.py").write_text(vae_text)
    return source


BODY = "def compute_KL(q):\n    x = 1\n%s    return x\n"


@pytest.mark.parametrize("markers, message", [
    ("    # BEGIN SOLUTION\n", "BEGIN SOLUTION is never closed"),
    ("    # END SOLUTION\n", "END SOLUTION without a BEGIN SOLUTION"),
    ("    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n", "nested BEGIN SOLUTION"),
    ("    # BEGIN SOLUTION\n  # END SOLUTION\n", "not indented like its BEGIN"),
])
def test_bad_markers_are_clear_errors(tmp_path, capsys, markers, message):
    source = _source_with(tmp_path, BODY % markers)
    with pytest.raises(regions.RegionError, match=message):
        regions.find_regions((source / "vae.py").read_text(), "vae.py")
    assert grading.handout.main([str(tmp_path / "out"), "--source", str(source)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("handout: error: vae.py:") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_region_outside_a_function_and_missing_guidance(tmp_path):
    with pytest.raises(regions.RegionError, match="not inside a function"):
        regions.find_regions("x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n", "vae.py")
    source = _source_with(tmp_path, "def helper():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(grading.handout.HandoutError, match="no guidance .* for helper"):
        grading.handout.build(source)


def test_guidance_matches_the_points_table():
    parts = grading.handout.load_parts(ROOT)
    assert set(grading.handout.GUIDANCE) == set(parts)
    regions = {r.function for name in grading.handout.SOLUTION_FILES
               for r in grading.handout.find_regions((ROOT / name).read_text(), name)}
    assert regions == set(parts)


def test_the_handout_trains_once_tasks_1_and_2_are_written(handout, tmp_path):
    """The practical's order: Tasks 1 and 2, train, then Task 3. With the reference's Task 1 and 2
    solutions in the handout, python vae.py trains and writes everything but the figures of
    Task 3, each skipped with one line saying which function to write."""
    student = tmp_path / "student"
    shutil.copytree(handout, student)
    shutil.copy(ROOT / "adam.py", student / "adam.py")
    text = (student / "vae.py").read_text()
    reference = (ROOT / "vae.py").read_text()
    for function in ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL",
                     "vae_lower_bound"):
        text = text.replace(_function_source(text, function), _function_source(reference, function))
    (student / "vae.py").write_text(text)
    proc = subprocess.run([sys.executable, "vae.py", "--epochs", "1", "--num-train", "400", "--iwae-samples", "0",
                           "--quiet", "--out-dir", "out"], cwd=student, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    out = student / "out"
    for name in ("params.npz", "metrics.json", "report.md", "training_curve.png", "latent_space.png"):
        assert (out / name).exists(), name
    for name in ("samples.png", "reconstructions.png", "interpolation_1.png"):
        assert not (out / name).exists(), name
    skipped = [line for line in proc.stdout.splitlines() if "skipped" in line]
    assert len(skipped) == 7 and "Task 3.1: generate_from_prior" in skipped[0] and "--epochs 0 --load" in skipped[0]
    assert "samples.png" not in (out / "report.md").read_text()


def _function_source(text, name):
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("def %s(" % name))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("def ", "class ", "# ----"))),
               len(lines))
    return "".join(lines[start:end])


# What computes a task's answer: Figure 5's bias correction and denominator, eq. (15)'s sample,
# eq. (12)'s KL, eq. (3) in its stable form, Task 3's decoding of z.
ANSWERS = re.compile(r"1 *- *beta_?1 *\*\*|sqrt\( *v[a-z_]* *\) *\+ *eps|exp\( *log_std[a-z_]* *\) *\* *[a-z_]*eps|"
                     r"mean *\*\* *2 *- *1|logaddexp\( *0|sigmoid\( *(given\.)?neural_net_predict\( *gen")


def test_no_file_outside_the_stubs_computes_a_tasks_answer(handout):
    """A student can copy nothing: the grader's observation of original-layout scripts, which
    recomputes Figure 5, the sample, the KL and Task 3's images, is not in the handout."""
    assert not (handout / "grading" / "observe.py").exists()
    assert not (handout / "grading" / "rubric" / "test_observed.py").exists()
    assert not (handout / "grading" / "figure5.py").exists()
    found = []
    for path in sorted(handout.rglob("*.py")):
        name = str(path.relative_to(handout))
        if name in grading.handout.SOLUTION_FILES:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ANSWERS.search(line):
                found.append("%s:%d: %s" % (name, number, line.strip()))
    assert not found, "\n".join(found)


def test_the_pattern_finds_the_answers_where_they_are():
    """The check above could fail: it finds the answers in the reference and the grader's tools."""
    text = (ROOT / "vae.py").read_text() + (ROOT / "adam.py").read_text() + \
        (ROOT / "grading" / "observe.py").read_text()
    assert len(ANSWERS.findall(text)) >= 4


def test_the_readme_says_exactly_what_the_notebook_route_needs_installed(handout):
    """requirements.txt installs the notebook's kernel, not Jupyter itself: the README that says to
    open vae.ipynb in Jupyter says what to install for it, and the training cell's fresh=True."""
    readme = (handout / "README.md").read_text()
    requirements = (handout / "requirements.txt").read_text()
    assert "jupyter" in readme.lower()
    if not any(line.split(">")[0].split("=")[0].strip() in ("notebook", "jupyterlab", "jupyter")
               for line in requirements.splitlines()):
        assert "pip install notebook" in readme
    notebook = (handout / "vae.ipynb").read_text()
    assert "fresh=True" in notebook and "train(epochs=0)" in notebook


def test_without_nbformat_nothing_is_written(tmp_path, monkeypatch):
    """Every check before the first file: a missing nbformat (which vae.ipynb needs) is said at once."""
    monkeypatch.setitem(sys.modules, "nbformat", None)
    with pytest.raises(grading.handout.HandoutError, match="nbformat is not installed"):
        grading.handout.write_handout(tmp_path / "out", check_leaks=False)
    assert not (tmp_path / "out").exists()
