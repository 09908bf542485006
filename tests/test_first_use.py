"""What a new teacher and a new student met, each fixed with a test where a test can tell."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
import grading.handout  # noqa: E402
import grading.casemaker  # noqa: E402
from grading import cases  # noqa: E402


def grade(folder):
    """What the teacher's `vae-teacher grade FOLDER` prints."""
    proc = subprocess.run([sys.executable, "-m", "grading", "grade", str(folder)], capture_output=True, text=True,
                          timeout=600, cwd=str(ROOT))
    return proc.stdout


def test_a_file_that_does_not_compile_is_not_told_its_given_functions_differ(tmp_path):
    (tmp_path / "vae.py").write_text("def compute_KL(q:\n    pass\n")
    out = grade(tmp_path)
    assert "does not compile" in out and "differs from the handout's" not in out


def test_an_empty_submission_is_told_why_it_scores_nothing(tmp_path):
    (tmp_path / "vae.py").write_text("")
    out = grade(tmp_path)
    assert "defines none of the practical's functions" in out and "differs from the handout's" not in out


def test_the_deselected_tests_are_explained(tmp_path):
    out = grade(ROOT)
    assert "deselected: the tests of the other layout" in out


def test_messages_show_numbers_not_numpy_reprs():
    for name in cases.Reference().names():
        case = cases.Reference().case(name)
        assert "np.float64(" not in case.description and "np.int64(" not in case.description, name


def test_private_cases_are_for_their_owner_alone(tmp_path):
    grading.casemaker.write(tmp_path / "private", seed=3, with_mistakes=False)
    assert (tmp_path / "private").stat().st_mode & 0o077 == 0


def test_the_handout_says_what_to_hand_in(tmp_path):
    readme = (grading.handout.write_handout(tmp_path / "h", check_leaks=False) / "README.md").read_text()
    assert "## What to hand in" in readme and "`vae.ipynb`" in readme and "`vae.py` and `adam.py`" in readme


def test_the_bernoulli_guidance_does_not_write_out_the_fix():
    text = grading.handout.GUIDANCE["bernoulli_log_prob"]
    assert "logaddexp(0" not in text and "max(a, 0) + log(1 + exp(-|a|))" not in text


def test_grades_and_the_autograder_are_not_for_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/grades.csv" in ignored and "/autograder.zip" in ignored
