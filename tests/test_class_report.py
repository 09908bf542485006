"""The class report (grading/class_report.py), written by grade_all --report for a generated class
of 12: two copies of the reference (one with its names changed and its formatting redone, and an
import of a module not handed in), two
handouts, mutants (grading/mutants.py), a script on the original handout with a slip, and a file
that does not compile."""
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
import grading.handout  # noqa: E402
from grading import mutants  # noqa: E402
import original_variants  # noqa: E402  (tests/fixtures)

MUTANTS = ("kl_no_half", "sample_variance", "elbo_sum_over_batch", "adam_no_bias_correction", "generate_logits",
           "interpolate_pixel_space")


def renamed(text):
    """The same code, other local names, formatting redone (ast.unparse)."""
    for old, new in (("mean", "mu"), ("log_std", "log_sigma"), ("logits", "f_of_z"), ("eps", "noise")):
        text = re.sub(r"(?<![.\w'\"])%s(?![\w'\"])" % old, new, text)
    return ast.unparse(ast.parse(text))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    folder = base / "class"
    for name in ("ana", "ben"):
        (folder / name).mkdir(parents=True)
        shutil.copy(ROOT / "adam.py", folder / name)
    shutil.copy(ROOT / "vae.py", folder / "ana")
    # ben's also imports a module of his that he did not hand in: full marks, yet it does not run as handed in
    (folder / "ben" / "vae.py").write_text("import my_utils\n" + renamed((ROOT / "vae.py").read_text()))
    handout = grading.handout.write_handout(base / "handout", check_leaks=False)
    for name in ("cleo", "dan"):
        (folder / name).mkdir()
        for file in ("vae.py", "adam.py"):
            shutil.copy(handout / file, folder / name)
    for i, name in enumerate(MUTANTS):
        mutants.BY_NAME[name].write(folder / ("m%d-%s" % (i, name)))
    variant = next(v for v in original_variants.ORIGINAL_VARIANTS if v.name == "original_samples_logits")
    variant.write(folder / "olga")
    (folder / "pat").mkdir()
    (folder / "pat" / "vae.py").write_text("def compute_KL(q:\n    pass\n")
    assert len(list(folder.iterdir())) == 12
    proc = subprocess.run([sys.executable, "-m", "grading", "grade-class", str(folder), "--out",
                           str(base / "grades.csv"), "--json-dir", str(base / "json"), "--report", str(base / "report"),
                           "--reference-dir", str(ROOT / "grading" / "reference")],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return base / "report", (base / "report" / "index.html").read_text(), base


def test_the_report_is_one_page_with_its_plots(report):
    folder, page, _ = report
    assert page.startswith("<!DOCTYPE html>") and "12 submissions, 12 graded" in page
    for png in ("scores.png", "parts.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png in page
    assert "http" not in page   # offline: nothing to fetch


def test_each_part_shows_its_commonest_failures_and_who(report):
    _, page, _ = report
    for part in ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2", "3.3"):
        assert "<tr><td>%s</td>" % part in page
    kl = page.split("<tr><td>1.3</td>")[1].split("</tr>")[0]
    assert "<td>2<br><small>cleo, dan</small></td>" in kl and "not implemented" not in kl   # the stubs: not attempted, apart
    assert "twice the KL" in kl or "factor" in kl or "m2-" in page


def test_what_needs_a_human_look_is_listed(report):
    _, page, _ = report
    review = page.split("<h2>Review</h2>")[1].split("</table>")[0]
    olga = review.split("<td>olga</td>")[1].split("</tr>")[0]   # a part: on the review list
    assert "3.1" in olga and "partial credit (6 of 10)" in olga and "to review" in olga
    left = int(re.search(r"(\d+) part\(s\) left to review, 0 set by hand", review).group(1))
    assert "ana" not in review and left == review.count("<b>to review</b>") >= 1
    human = page.split("<h2>Submissions to look at</h2>")[1].split("</table>")[0]
    assert "ana" not in human and "olga" not in human   # her partial credit is a part's, listed above
    ben = human.split("<td>ben</td>")[1].split("</tr>")[0]
    assert "does not run as handed in" in ben and "my_utils" in ben


def test_near_identical_code_is_flagged_not_the_stubs(report):
    _, page, _ = report
    pairs = page.split("<h2>Near-identical task code</h2>")[1].split("</table>")[0]
    assert re.search(r"<td>ana</td><td>ben</td><td>100%</td>", pairs), pairs[:2000]
    assert "cleo" not in pairs and "dan" not in pairs


def test_time_and_memory_of_each_submission(report):
    _, page, _ = report
    usage = page.split("<h2>Time and memory</h2>")[1]
    assert usage.count("<tr>") == 13 and " s</td>" in usage and " MB</td>" in usage


def test_the_report_can_be_made_again_from_the_json_folder(report, tmp_path):
    _, page, base = report
    proc = subprocess.run([sys.executable, "-m", "grading.class_report", str(base / "json"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    again = (tmp_path / "index.html").read_text()
    assert again.split("<h2>Time and memory</h2>")[0] == page.split("<h2>Time and memory</h2>")[0]
