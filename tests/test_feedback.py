"""grading/feedback.py: one student's feedback page and its plain text, and public_message.

The results in tests/fixtures/feedback/ are real ones, written by the grader (vae-teacher grade
FOLDER --json FILE --cases DIR) on submissions made with grading/mutants.py and
tests/fixtures/original_variants.py:

- five_mutants_private_cases.json: the reference with the mutants bernoulli_literal_eq3,
  sample_shared_noise, reconstruct_posterior_mean, adam_in_place and interpolate_sampled_codes
  applied one after another, graded on private cases (vae-teacher cases --seed 12345
  --no-mistakes);
- stubs_and_kl_mistake.json: the reference with generate_from_prior and interpolate raising the
  handout's NotImplementedError("Task 3.x: ...") and compute_KL forgetting the exp term, graded on
  grading/reference;
- original_layout_slips.json: tests/fixtures/original_practical with the replacements of the
  variants original_no_bias_correction, original_samples_logits and
  original_interpolation_of_neighbours (Tasks 2 and 3 judged by watching its main block), on
  grading/reference.

Each test's docstring names the wrong implementation it catches.
"""
import base64
import copy
import json
import math
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grading import feedback
from grading.feedback import MASK, public_message, render, write

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "feedback"
FIGURES = ROOT / "docs" / "default"
HOSTILE = "<script>alert(1)</script>"


def load(name):
    with open(FIXTURES / (name + ".json")) as f:
        return json.load(f)


@pytest.fixture
def mutants():
    return load("five_mutants_private_cases")


@pytest.fixture
def stubs():
    return load("stubs_and_kl_mistake")


@pytest.fixture
def original():
    return load("original_layout_slips")


def figure(name):
    return (FIGURES / name).read_bytes()


def images():
    return [{"part": "3.1", "title": "your samples from the prior", "png": figure("samples.png"),
             "practical": figure("samples.png"), "practical_caption": "the practical's samples"},
            {"part": "3.2", "title": "your reconstructions", "png": figure("reconstructions.png"),
             "practical": None, "practical_caption": "the practical's reconstructions"},
            {"part": "3.3", "title": "your interpolation", "png": figure("interpolation_1.png"),
             "practical": figure("reconstructions.png"), "practical_caption": "an interpolation"}]


class Page(HTMLParser):
    """The page's tags, checked as they come: every element closed in order (void ones aside),
    its images' sources, its links and its text."""
    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "area", "base", "col", "embed"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.sources, self.tags, self.text = [], [], [], [], []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append("not closed: %s" % self.stack)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1] if self.stack else "nothing"))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def private_floats(text):
    """The numbers of text with three significant digits or more (the values of cases)."""
    return [n for n in re.findall(r"(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?(?![\w.])", text)
            if len(n.lstrip("-").split("e")[0].replace(".", "").strip("0")) >= 3 and n != "0.999"]


# ---------------------------------------------------------------------------
# public_message, on the shapes of real messages


def test_values_of_a_case_are_masked_and_what_was_checked_is_kept():
    """A real message of judge.check_close on a private case. Catches: no float rule (expected
    -2.85181 and the arrays leak); a float rule that takes every number (the shape (2, 1), the
    counts 9 of 12 and the tolerances rtol 1e-06 would go, and with them what was checked)."""
    text = ("sample_latent_variables_from_posterior(encoder_output) on 4 rows, L = 3 (means, then log standard "
            "deviations in [-1.2, 1]): wrong values (rtol 1e-06, atol 1e-06): 9 of 12 differ, the largest at index "
            "(2, 1): expected -2.85181, obtained 2.71751\n"
            "  expected [0.551354, 2.69139, 1.2504, -0.993173, 0.56407, 0.743726, ...]\n"
            "  obtained [0.551354, 2.69139, 1.2504, 0.856316, 1.11517, 1.00004, ...]\n"
            "  hint: one noise vector looks shared by all rows: draw one eps per row and latent variable, "
            "npr.randn(batch, L)\n"
            "  note: it drew 3 Gaussian values (randn(3,)) where one draw of 12 values, one per latent variable "
            "of each row, was expected")
    masked = public_message(text)
    assert private_floats(masked) == []
    assert "expected %s, obtained %s" % (MASK, MASK) in masked
    assert masked.count("[%s]" % MASK) == 2
    for kept in ("4 rows, L = 3", "[-1.2, 1]", "(rtol 1e-06, atol 1e-06)", "9 of 12 differ", "index (2, 1)",
                 "npr.randn(batch, L)", "randn(3,)", "one draw of 12 values",
                 "  hint: one noise vector looks shared by all rows"):
        assert kept in masked, kept
    assert len(masked.splitlines()) == len(text.splitlines())


def test_arrays_of_short_numbers_are_masked_as_arrays():
    """Arrays whose every number is short: the private means of the statistics tests, printed by
    numpy ([-0.27 -2.44 -1.1 ]) or listed ([1.04, -0.77, -0.51, 0.13]). Catches: an array rule
    that knows only commas, or none at all (each number alone has two significant digits, which the
    float rule keeps: -1.1 and 0.13 would leak)."""
    numpy_style = ("sample_latent_variables_from_posterior(encoder_output) on 20000 identical rows, means "
                   "[-0.27 -2.44 -1.1 ], standard deviations [2.31 0.54 2.15]:\n"
                   "  the means of z are [-2.143 -2.325  0.837], expected [-0.27 -2.44 -1.1 ] (the first half of "
                   "each row)")
    listed = ("reconstruct(gen_params, rec_params, images) on 2000 images whose q(z|x) has means [1.04, -0.77, "
              "-0.51, 0.13] and standard deviations [1.81, 1.21, 1.07, 1.5], and a decoder whose first 4 pixels "
              "are sigmoid(z):\n  the latent variables have standard deviations [0. 0. 0. 0.], expected "
              "[1.81 1.21 1.07 1.5 ]")
    nested = "obtained [[0.1 0.2]\n [0.3 0.4]] and [0, 0, 0, 0, 0, ...]"
    for text, gone in ((numpy_style, ["-1.1", "0.54", "2.31"]), (listed, ["0.13", "1.5", "-0.77"]),
                       (nested, ["0.1", "0.4"])):
        masked = public_message(text)
        for value in gone:
            assert value not in masked, (value, masked)
    assert public_message(numpy_style).count("[%s]" % MASK) == 4
    assert "20000 identical rows" in public_message(numpy_style)
    assert "first 4 pixels are sigmoid(z)" in public_message(listed)
    assert public_message(nested) == "obtained [%s] and [%s]" % (MASK, MASK)


def test_intervals_indexing_and_single_values_are_kept():
    """Brackets that quote no case: the practical's intervals, indexing in code, [nan]. Catches:
    an array rule that masks every bracket (the student would not learn that probabilities lie in
    [0, 1], or which of their values was nan)."""
    for text in ("hint: values outside [0, 1]: these look like logits",
                 "bernoulli_log_prob(targets, logits) on 3 images of 5 pixels, logits in [-4, 4]",
                 "(means, then log standard deviations in [-1.2, 1])",
                 "hint: z looks drawn from U[0, 1] (npr.rand): the prior is N(0, I), npr.randn",
                 "your bernoulli_log_prob returns [nan] for image(s) 3 of this batch",
                 "at vae.py, line 132, in compute_KL -> raise ValueError(float(q_means_and_log_stds[0, 0, 1]))",
                 "z[:, :L] and x[0]",
                 "adam_step returned a list [m, v, t] where (new_params, (m, v, t)) was expected"):
        assert public_message(text) == text


def test_a_cut_or_short_array_is_masked_whole():
    """Arrays the number rule alone would leave half shown: two short values and a cut, or a
    private value beside a short one. Catches: an array rule that counts numbers only (three or
    more), leaving [0.5, 0.25, ...] and the 5 of [1.234, 5] in view."""
    assert public_message("expected [0.5, 0.25, ...]") == "expected [%s]" % MASK
    assert public_message("obtained [1.234, 5]") == "obtained [%s]" % MASK


def test_paths_of_the_grader_are_masked_and_file_names_kept():
    """Paths from warnings the run printed and from tracebacks. Catches: no path rule (the
    grader's venv, its sandbox folder, its home leak); a rule taking the whole path, file name and
    line included (the student loses "vae.py:112"); a rule matching any slash (1/2, m / v and
    and/or would go)."""
    text = ("  it printed:\n"
            "    | /root/venv/lib/python3.11/site-packages/autograd/tracer.py:93: RuntimeWarning: divide by zero\n"
            "    | /grading/submission/vae.py:112: RuntimeWarning: invalid value encountered in multiply\n"
            "cases in /tmp/grading-x7Q2ab/ and /home/teacher/private/cases, grader /work/main/grading/api.py\n"
            "File \"C:\\Users\\teacher\\vae.py\", line 3; ~/secret/cases")
    masked = public_message(text)
    for gone in ("/root", "venv", "site-packages", "/grading/", "submission", "/tmp", "x7Q2ab", "/home", "teacher",
                 "private", "/work", "main", "Users", "secret"):
        assert gone not in masked, gone
    for kept in ("%s/tracer.py:93: RuntimeWarning" % MASK, "%s/vae.py:112: RuntimeWarning" % MASK,
                 "%s/api.py" % MASK, "line 3"):
        assert kept in masked, kept
    for text in ("hint: 2 times the expected value: a factor 2 too many (a missing 1/2?)",
                 "Figure 5 divides m by (1 - beta1^t) and v by (1 - beta2^t)",
                 "25 steps of adam_step on f(x) = sum(a (x - c)^2) / 2",
                 "m_hat / (sqrt(v_hat) + eps) and/or 1/(1 - beta1^t)"):
        assert public_message(text) == text


def test_seeds_are_masked_wherever_they_are_named():
    """Seeds, which would let the student rebuild the private cases. Catches: no seed rule (42 and
    7 are short integers, which the number rule keeps); a rule that also takes "seed" without a
    number, or every small integer."""
    masked = public_message("cases made with seed=12345 (seed 42), RandomState(7), np.random.default_rng(99), "
                            "npr.seed(3), --seed 2024; seeds: 5")
    for gone in ("12345", "42", "(7)", "99", "(3)", "2024", ": 5"):
        assert gone not in masked, gone
    assert masked.count(MASK) == 7
    kept = "the seed of the worker's generator; draw fresh noise, not a generator seeded inside the function"
    assert public_message(kept) == kept


def test_counts_shapes_lines_and_the_practicals_constants_are_kept():
    """What the student needs to find their mistake. Catches: an integer rule that masks counts,
    shapes and line numbers; a number rule that reads into names (float64, beta1, python3.11) or
    versions (1.9.1); a float rule without the practical's constants (Figure 5's beta2 0.999)."""
    for text in ("generate 25 images; 5 pairs; 60000 training images; 20000 identical rows; 4704 of 4704 differ",
                 "expected (100, 784), obtained (batch, 2 * L); expected (7, 784), obtained (25, 784); shape (5,)",
                 "adam_init(params) for params of shape (5,), float64: m should be zeros (Figure 5: m_0 = 0)",
                 "vae.py does not compile: SyntaxError: '(' was never closed (line 14)",
                 "at vae.py, line 42, in compute_KL; vae.py:42; the run ended with sys.exit() at line 210",
                 "ADAM in the training loop: the updates are Figure 5's but for one slip (-5 points)",
                 "the update after training step 3 departs from Figure 5 (beta1 0.9, beta2 0.999, eps 1e-8, "
                 "learning rate 0.001)",
                 "adam_step(params, grad, (m, v, t), alpha=0.01, beta1=0.8, beta2=0.95, eps=1e-3)",
                 "wrong values (rtol 1e-07, atol 1e-10); curvatures a from 1e-4 to 10; KL of 0.5",
                 "numpy 2.4.6, autograd 1.9.1, python3.11",
                 "the interpolations saved are between 1-2, 2-3, 3-4, 4-5, 5-6",
                 "1 - beta1^0 = 0: every parameter became nan"):
        assert public_message(text) == text


def test_floats_with_several_digits_are_masked_after_any_word():
    """Values of cases outside the "expected/obtained" frame: a hint listing the private logits, a
    range of outputs, a step size with several digits. Catches: masking numbers only after
    "expected" and "obtained"."""
    hint = ("hint: bernoulli_log_prob returns -inf or nan for logits -958.7, -695.8, -49.4, 48.7, 728.8, 990.2 "
            "with target 0: written literally underflow to log(0) once |f| is above about 37")
    masked = public_message(hint)
    assert private_floats(masked) == [] and "-49.4" not in masked
    assert "about 37" in masked and "target 0" in masked and "-inf or nan" in masked
    assert public_message("values from -9.167 to 8.965") == "values from %s to %s" % (MASK, MASK)
    assert public_message("alpha=0.0123, expected -123.4567") == "alpha=%s, expected %s" % (MASK, MASK)
    assert public_message("expected 2.22045e-16, obtained 1e-06") == "expected %s, obtained 1e-06" % MASK


def test_long_integers_and_digests_are_masked():
    """A drawn seed printed bare, a set of cases' fingerprint, a memory address. Catches: no long
    integer rule; a digest rule that eats the digits of a float (0.027104880700177827 would show
    as 0.…, a half-masked value) or ordinary words (facade, decade)."""
    masked = public_message("worker seed 1834528391? or 1834528391; cases 342776cc14ac9344; "
                            "<function f at 0x7f3a2b1c4d50>")
    for gone in ("1834528391", "342776cc14ac9344", "7f3a2b1c4d50"):
        assert gone not in masked
    assert public_message("raised ValueError: bad value 0.027104880700177827") == \
        "raised ValueError: bad value %s" % MASK
    assert public_message("expected 1.02710488070e-05") == "expected %s" % MASK   # its e is no hex digit
    assert public_message("a facade, a decade, deadbeef") == "a facade, a decade, deadbeef"


def test_what_the_submission_printed_or_raised_is_masked_too():
    """The submission's own text inside a message: its prints on a private case, its exception's
    message, and a line forged to look like the grader's traceback line. Catches: exempting the
    "it printed" excerpt, or the code after "->" (a student raising ValueError("x\\n  at vae.py,
    line 1, in f -> %r" % value) would read the private value back)."""
    text = ("compute_KL(q_means_and_log_stds) raised ValueError: bad value 0.027104880700177827\n"
            "  at vae.py, line 1, in f -> -0.0530393203\n"
            "  at vae.py, line 132, in compute_KL -> raise ValueError('bad value %r' % float(q[0, 0]))\n"
            "  it printed:\n"
            "    | debug [ 0.02710488 -0.05303932 -0.03937852] /tmp/mine/x.txt\n"
            "    | ELBO -142.871")
    masked = public_message(text)
    assert private_floats(masked) == []
    for gone in ("0271", "0530", "142", "/tmp/mine"):
        assert gone not in masked, gone
    assert "line 132, in compute_KL -> raise ValueError('bad value %r' % float(q[0, 0]))" in masked
    assert "    | debug [%s] %s/x.txt" % (MASK, MASK) in masked


def test_masking_is_stable_and_total():
    """Masking a masked text changes nothing, and None or "" give "". Catches: placeholders that a
    second pass reads as values ([…] as an array to mask again), a crash on an empty output."""
    text = ("expected [0.1, 0.2, 0.3], obtained -1.23456 at /tmp/x/vae.py:3 with seed=5 [-4, 4] (100, 784) "
            "[%s] %s" % (MASK, MASK))
    once = public_message(text)
    assert public_message(once) == once
    assert public_message(None) == "" and public_message("") == ""


def test_every_real_message_of_the_fixtures_comes_out_clean(mutants, stubs, original):
    """Each message, problem and note of the three real results, masked: no float of three
    significant digits, no path of the grader, and as many lines as before. Catches: a message
    shape of the grader's that no rule covers."""
    for result in (mutants, stubs, original):
        texts = [t["output"] for t in result["tests"]] + result["extra_data"]["problems"] + \
            result["extra_data"]["import_errors"]
        for text in texts:
            masked = public_message(text)
            assert private_floats(masked) == [], masked
            assert not re.search(r"(?<![\w.])/(tmp|root|home|work|grading)\b", masked), masked
            assert len(masked.splitlines()) == len(text.splitlines())


# ---------------------------------------------------------------------------
# The page


def test_page_is_well_formed_and_self_contained(mutants):
    """The page parses with every element closed in order, and loads nothing: no script, no
    stylesheet link, no remote source, no url() or @import in its CSS. Catches: a tag left open,
    a CDN stylesheet or font, a script for a collapsible section."""
    page, _ = render(mutants, "Ada Lovelace", images=images())
    parsed = Page(page)
    assert parsed.errors == []
    assert page.startswith("<!DOCTYPE html>")
    low = page.lower()
    for forbidden in ('src="http', "src='http", "<script", "<link", "<iframe", "<object", "@import", "url(",
                      "href=", "javascript:"):
        assert forbidden not in low, forbidden
    assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
    assert [t for t, _ in parsed.tags].count("style") == 1


def test_images_are_embedded_and_decode_to_the_input_bytes(mutants):
    """Each student image and each reference figure as a data: URI whose bytes are the input's,
    in order, the missing reference said to be missing. Catches: images re-encoded, cut, linked by
    path, swapped with the practical's, or a None figure rendered as an empty image."""
    given = images()
    page, text = render(mutants, "Ada Lovelace", images=given)
    sources = Page(page).sources
    decoded = [base64.b64decode(s.split(",", 1)[1], validate=True) for s in sources]
    expected = [given[0]["png"], given[0]["practical"], given[1]["png"], given[2]["png"], given[2]["practical"]]
    assert decoded == expected
    assert "the practical&#x27;s reconstructions) is not available" in page
    assert 'width="456" height="366"' in page   # docs/default/reconstructions.png's size, from its header
    assert "your samples from the prior (456 x 456 pixels)" in text


def test_what_is_not_a_png_is_skipped_and_named(mutants):
    """A GIF, text pretending to be an image, and a bad reference figure: none embedded, each
    named on the page and in the text. Catches: embedding whatever bytes come (a data: URI of an
    HTML file labelled PNG), or dropping a bad image without a word."""
    bad = [{"part": "3.1", "title": "a gif", "png": b"GIF89a\x01\x00", "practical": figure("samples.png")},
           {"part": "3.2", "title": "not bytes", "png": "\x89PNG\r\n\x1a\n<html>", "practical": None},
           {"part": "3.3", "title": "good, odd reference", "png": figure("interpolation_1.png"),
            "practical": b"<svg onload=alert(1)>", "practical_caption": "the practical's"}]
    page, text = render(mutants, "Ada", images=bad)
    assert [base64.b64decode(s.split(",", 1)[1]) for s in Page(page).sources] == [figure("interpolation_1.png")]
    for title in ("a gif", "not bytes"):
        assert "%s could not be shown: it is not a PNG image" % title in page
        assert "%s could not be shown: it is not a PNG image" % title in text
    assert "svg" not in page
    assert render(mutants, "Ada", images=[])[0].count("<img") == 0


def test_a_hostile_name_and_teacher_texts_are_escaped(stubs):
    """The name, the teacher's comments, an override's comment and reviewer, image titles and
    captions, all with markup: shown as text, never as tags; bidirectional overrides dropped.
    Catches: escaping the name in the heading but not in <title>, or the comments not at all."""
    name = HOSTILE + " Zoë \u202eevil\u0007"
    overrides = {"1.3": {"points": 5, "comment": "<img src=x onerror=alert(1)>", "reviewer": "<b>Dr</b>",
                         "time": "<i>now</i>"}}
    shots = [{"part": "3.1", "title": HOSTILE, "png": figure("samples.png"), "practical": figure("samples.png"),
              "practical_caption": '"><script>x</script>'}]
    page, text = render(stubs, name, overrides, "<a href='http://evil'>click</a>", shots)
    parsed = Page(page)
    assert parsed.errors == []
    assert {t for t, _ in parsed.tags} <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2",
                                           "h3", "p", "span", "bdi", "div", "section", "code", "strong", "br", "pre",
                                           "ul", "li", "figure", "img", "figcaption", "footer"}
    assert "<script" not in page and "<a " not in page and "<b>" not in page and "onerror=alert" not in \
        "".join(str(a) for _, a in parsed.tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Zoë evil" in page
    assert "<title>Feedback for &lt;script&gt;" in page
    assert "\u202e" not in page + text and "\u0007" not in page + text
    assert "Feedback for %s Zoë evil" % HOSTILE in text   # plain text: as written, nothing to escape


def test_an_override_shows_its_points_comment_and_mark_and_the_totals_follow(stubs):
    """The teacher gives 1.3 6 points of 10 (automatic 0) and 3.1 4 of 10 (automatic 0, not
    attempted): the parts show 6 / 10 and 4 / 10, marked, with the automatic points and the
    comment; Task 1, Task 3 and the total add them (76 + 4 = 80 over 70). Catches: the total taken
    from result["score"], overrides shown but not counted, or counted but not marked."""
    overrides = {"1.3": {"points": 6, "comment": "The exp term is missing,\nbut the rest is right.",
                         "reviewer": "Dr. Hernández", "time": "2024-05-02 10:00"},
                 "3.1": {"points": 4.0, "comment": "Sampled in your notebook instead.", "reviewer": "TA"}}
    page, text = render(stubs, "Ada", overrides)
    for version in (page, text):
        assert "Total: 80 / 100" in version
        assert "Task 1: 46 / 50" in version and "Task 3: 14 / 30" in version and "Task 2: 20 / 20" in version
        assert "6 / 10, set by your teacher (automatic: 0)" in version
        assert "4 / 10, set by your teacher (automatic: 0)" in version
    assert page.count('<span class="teacher-mark">set by your teacher</span>') == 2
    assert "The exp term is missing,<br>\nbut the rest is right." in page and "Dr. Hernández" in page
    assert "    The exp term is missing,\n    but the rest is right." in text
    plain, _ = render(stubs, "Ada")
    assert "Total: 70 / 100" in plain and "set by your teacher" not in plain


@pytest.mark.parametrize("override", [{"9.9": {"points": 1}}, {"1.3": {"points": 11}}, {"1.3": {"points": -1}},
                                      {"1.3": {"points": float("nan")}}, {"1.3": {"points": "5"}},
                                      {"1.3": {"points": True}}, {"1.3": {}}])
def test_an_impossible_override_is_refused(stubs, override):
    """A part the table does not have, points above the part's maximum or below 0, not a number.
    Catches: a teacher's typo shown to the student as 11 / 10 or nan / 10."""
    with pytest.raises(ValueError):
        render(stubs, "Ada", override)


def not_graded(result, how):
    result = copy.deepcopy(result)
    if how == "not_graded":
        result["extra_data"]["not_graded"] = ["not graded: the machine was too busy to start the grading worker"]
        result["score"] = None
    else:                                      # a run cut short: complete stays false, tests "not run"
        result["extra_data"]["complete"] = False
        for test in result["tests"][5:]:
            test.update(score=0.0, status="failed", output="not run")
    result["extra_data"]["complete"] = False
    return result


@pytest.mark.parametrize("how", ["not_graded", "cut_short"])
def test_an_ungraded_result_says_not_graded_yet_instead_of_points(mutants, how):
    """A result whose grading did not finish (not_graded reasons, or complete false after a run
    cut short): "not graded yet" for the total, every task and every part, and none of its
    messages. Catches: showing the fail-closed zeros of an unfinished run as the student's points,
    or only the total as not graded."""
    page, text = render(not_graded(mutants, how), "Ada")
    for version in (page, text):
        assert "Total: not graded yet" in version
        assert "Task 1: not graded yet" in version and "Task 3: not graded yet" in version
        assert not re.search(r"\b\d+(\.\d+)? / \d+", version), re.search(r"\b\d+(\.\d+)? / \d+", version)
        assert "has not been graded yet" in version
        assert "not run" not in version and "sample_shared" not in version and "wrong values" not in version
        assert "machine was too busy" not in version
    assert text.count(": not graded yet") == 1 + 3 + 9   # the total, three tasks, nine parts


def test_an_ungraded_result_still_shows_the_teachers_points(mutants):
    """An override on an ungraded result shows its points; the total stays not graded. Catches:
    a total made of the overridden parts alone (5 / 100 shown as if it were the grade)."""
    page, text = render(not_graded(mutants, "not_graded"), "Ada", {"2.1": {"points": 5, "comment": "ok"}})
    for version in (page, text):
        assert "5 / 5, set by your teacher" in version and "Total: not graded yet" in version
        assert "automatic:" not in version


def expected_parts(result):
    return {part: "%s / %s" % (feedback.num(p["score"]), feedback.num(p["max_score"]))
            for part, p in result["extra_data"]["parts"].items()}


@pytest.mark.parametrize("name", ["five_mutants_private_cases", "stubs_and_kl_mistake", "original_layout_slips"])
def test_the_plain_text_has_the_points_of_the_page(name):
    """Each part's points, as the result has them, on its line in the text and in its heading on
    the page, and the same total in both. Catches: a text version computed apart (from the summary
    line of the result, from result["score"]) that drifts from the page."""
    result = load(name)
    page, text = render(result, "Ada")
    headings = re.findall(r'<h3>Task (\d\.\d) (?:<code>\w+</code>|[^<]*main block).*?<span class="points">(.*?)</span></h3>',
                          page)
    lines = re.findall(r"^Task (\d\.\d)  (?:\w+|[^:]*main block): (.*)$", text, re.M)
    shown = {p: re.sub(r"^not attempted: ", "", s) for p, s in headings}
    assert shown == {p: re.sub(r"^not attempted: ", "", s) for p, s in lines} == expected_parts(result)
    total = "Total: %s / 100" % feedback.num(result["score"])
    assert total in page and total in text


@pytest.mark.parametrize("name", ["five_mutants_private_cases", "stubs_and_kl_mistake"])
def test_no_grader_path_seed_or_case_value_reaches_the_page(name):
    """Neither version holds the submission's folder (extra_data.submission), the provenance
    (grader and cases fingerprints), the isolation, nor any private value its messages quote (the
    private means, a private expected value, the grader's venv). Catches: dumping the result or its
    extra_data, or the messages unmasked."""
    result = load(name)
    extra = result["extra_data"]
    extra.setdefault("provenance", {"grader": "028a966b49f77fe8", "cases": "342776cc14ac9344"})
    extra["isolation_note"] = "the sandbox ran as uid 65534 in /var/lib/grader/jail"
    page, text = render(result, "Ada", images=images())
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    page = re.sub(r"(?s)<style>.*?</style>", "", page)     # its line-height 1.45 is no case's
    secrets = [extra["submission"], extra["provenance"]["grader"],
               extra["provenance"]["cases"], "namespace", "65534", "/var/", "/tmp/", "-0.27 -2.44", "1.04, -0.77",
               "1687.69", "-0.181971", "/root/", "/grading/", "seed=", "12345"]
    for version in (page, text):
        for secret in secrets:
            assert secret not in version, secret
        assert private_floats(version) == []


def test_an_untouched_stub_is_not_attempted_and_its_failures_are_not_listed(stubs):
    """Task 3.1 and 3.3 raise the handout's NotImplementedError: each reads "not attempted", once,
    without its tests' list; 1.3 (a wrong KL) lists its three failures with their hints. Catches:
    every stub message listed as a failure; a part with one passing test called not attempted."""
    page, text = render(stubs, "Ada")
    assert "Task 3.1  generate_from_prior: not attempted: 0 / 10" in text
    assert "Task 3.3  interpolate: not attempted: 0 / 10" in text
    assert "test_generate_exact_noise" not in text and "test_interpolate_values" not in text
    assert text.count("not implemented yet") == 2 and page.count("Not attempted:") == 2
    for test in ("test_kl_values[small] (0 / 3.5)", "test_kl_values[mnist] (0 / 3.5)",
                 "test_kl_at_prior_and_non_negative (0 / 3)"):
        assert test in text and test in page
    assert "hint: a KL divergence is never negative: check the sign" in text
    assert '<span class="hint">  hint: a KL divergence is never negative: check the sign</span>' in page
    assert "Task 1.1  sample_latent_variables_from_posterior: 10 / 10\n\n" in text   # full points: nothing more


def test_a_notimplementederror_of_autograd_is_a_failure_not_a_stub(stubs):
    """autograd's NotImplementedError ("VJP of normal wrt argnums (0, 1) not defined") is the
    student's code failing, not an untouched stub. Catches: "not attempted" for any message that
    mentions NotImplementedError or "not implemented"."""
    result = copy.deepcopy(stubs)
    for test in result["tests"]:
        if test["number"] == "1.1" and "differentiable" in test["name"]:
            test.update(score=0.0, status="failed", output=(
                "the gradient of sum(w * sample_latent_variables_from_posterior(encoder_output)): autograd cannot "
                "differentiate it (NotImplementedError: VJP of normal wrt argnums (0, 1) not defined). Compute z = "
                "mean + sigma * eps with autograd.numpy, eps = npr.randn(...): npr.normal(mean, sigma) has no "
                "gradient"))
        elif test["number"] == "1.1":
            test.update(score=0.0, status="failed", output="sample_latent_variables_from_posterior(encoder_output): "
                        "not implemented yet (NotImplementedError: Task 1.1: not implemented yet)")
    result["extra_data"]["parts"]["1.1"]["score"] = 0.0
    _, text = render(result, "Ada")
    assert "Task 1.1  sample_latent_variables_from_posterior: 0 / 10" in text
    assert "VJP of normal wrt argnums (0, 1) not defined" in text


def test_a_part_with_points_is_never_not_attempted(stubs):
    """Three tests of 1.1 pass and one fails with the stub's message (a helper left as handed
    out): 8 / 10 and the failure listed. Catches: "not attempted" decided from the messages alone,
    hiding a part that earned points."""
    result = copy.deepcopy(stubs)
    for test in result["tests"]:
        if test["number"] == "1.1" and "differentiable" in test["name"]:
            test.update(score=0.0, status="failed", output="the gradient of sum(w * sample_latent_variables_from_"
                        "posterior(encoder_output)): not implemented yet (NotImplementedError: Task 1.1: a helper)")
    result["extra_data"]["parts"]["1.1"]["score"] = 8.0
    _, text = render(result, "Ada")
    assert "Task 1.1  sample_latent_variables_from_posterior: 8 / 10\n  - test_sample_differentiable (0 / 2):" in text


def test_checks_notes_and_the_original_layout_are_explained(mutants, original):
    """The failed check (no points) in its own section; the grader's problems as notes; parts of a
    script on the original handout said to be graded by watching it run, with their slips. Catches:
    checks counted as a part or dropped, problems dropped."""
    page, text = render(mutants, "Ada")
    assert "Checks (no points)" in page and "Checks (no points):" in text
    assert "your bernoulli_log_prob returns [nan] for image(s) 3 of this batch" in text
    assert "Total: 61 / 100" in text
    page, text = render(original, "Ada")
    assert text.count("graded by watching your script's main block run") == 5
    assert "slip: the logits were saved: save the activation probabilities sigmoid(logits) (-4 points)" in text
    assert "Notes from the grading" in page
    assert "Task 3 was run with the networks the training started from" in text
    assert "Checks (no points)" not in page


def test_the_teachers_general_comment_and_the_footer(stubs):
    """The general comment on the page and in the text, kept as written (lines, no masking: the
    teacher's own numbers such as 0.12345 stay); the footer says each part is graded on its own.
    Catches: the comment dropped or run through public_message."""
    page, text = render(stubs, "Ada", comments="Well done.\nSee 0.12345 in /home/you/notes.")
    assert "Well done.<br>\nSee 0.12345 in /home/you/notes." in page
    assert "  Well done.\n  See 0.12345 in /home/you/notes." in text
    for version in (page, text):
        assert "each part was graded on its own" in version
    assert "teacher's comments" not in render(stubs, "Ada", comments="  ")[1]


# ---------------------------------------------------------------------------
# write


def test_write_puts_both_files_in_place_for_their_owner(stubs, tmp_path):
    """ident.html and ident.txt, their texts as given (UTF-8), for the owner alone, in a folder it
    makes, and no temporary file left. Catches: one file of the two, another encoding, a
    world-readable page of one student's points, a .tmp left behind."""
    page, text = render(stubs, "Zoë")
    paths = write(tmp_path / "out", "s123", page, text)
    assert sorted(os.listdir(tmp_path / "out")) == ["s123.html", "s123.txt"]
    assert (tmp_path / "out" / "s123.html").read_text(encoding="utf-8") == page
    assert (tmp_path / "out" / "s123.txt").read_text(encoding="utf-8") == text
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in paths)


@pytest.mark.parametrize("ident", ["../s1", "a/b", ".hidden", "", "s1\n", "..", "a\\b"])
def test_write_refuses_a_name_that_is_not_a_plain_file_name(tmp_path, ident):
    """Catches: an identifier from a class list that writes outside out_dir or a hidden file."""
    with pytest.raises(ValueError):
        write(tmp_path, ident, "<p>x</p>", "x")
    assert os.listdir(tmp_path) == []


def test_points_are_numbers_as_the_grader_prints_them(stubs):
    """Shares of parametrised tests (3.5) and thirds stay short (3.33, not 3.3333333). Catches:
    repr of floats on the page."""
    result = copy.deepcopy(stubs)
    result["extra_data"]["parts"]["1.3"]["score"] = 10 / 3
    _, text = render(result, "Ada")
    assert "Task 1.3  compute_KL: 3.33 / 10" in text
    assert math.isclose(float(re.search(r"Total: ([\d.]+) /", text).group(1)), 73.33)


# ---------------------------------------------------------------------------
# The PNGs a submission handed in (grading/classroom.py keep_handed_in_images), in its feedback

def test_the_pngs_a_script_handed_in_are_kept_beside_the_graded_ones_and_nothing_else(tmp_path):
    """Catches: following a link out of the folder (another student's or the grader's file), a FIFO
    that blocks the grader, a file only named .png, a huge one, hidden folders, no limit on count."""
    from grading import class_report, classroom
    sub, json_dir = tmp_path / "sub", tmp_path / "results"
    (sub / "figures" / "deeper").mkdir(parents=True)
    (sub / ".git").mkdir()
    (sub / "vae.py").write_text("print('a script')\n")
    real = (ROOT / "grading" / "practical_figures" / "interpolation_1.png").read_bytes()   # not 3.1's or 3.2's
    (sub / "samples.png").write_bytes(real)
    (sub / "figures" / "reconstructions.png").write_bytes(real)
    (sub / "figures" / "deeper" / "interpolation_1.png").write_bytes(real)   # two below: not looked for
    (sub / ".git" / "interpolation_2.png").write_bytes(real)
    outside = tmp_path / "someone_else.png"
    outside.write_bytes(real)
    (sub / "interp_link.png").symlink_to(outside)
    os.mkfifo(sub / "fifo.png")
    (sub / "text.png").write_text("not an image")
    (sub / "huge.png").write_bytes(real[:24] + b"\0" * (classroom.HANDED_IN["bytes"] + 1))
    wide = bytearray(real)
    wide[16:20] = (10 ** 6).to_bytes(4, "big")
    (sub / "wide.png").write_bytes(bytes(wide))
    assert classroom.keep_handed_in_images(sub, json_dir / "figures" / "0001") == 2
    kept = sorted(p.name for p in (json_dir / "figures" / "0001").iterdir())
    assert kept == ["handed-in-figures-reconstructions.png", "handed-in-samples.png"]
    images = class_report.student_images(json_dir, "0001")
    assert [(i["part"], i["png"] == real) for i in images] == [("3.2", True), ("3.1", True)]
    assert all(i["title"].startswith("you handed in") and "not graded" in i["title"] for i in images)
    page, text = render(load("original_layout_slips"), "Ada", images=images)
    assert page.count(feedback.data_uri(real)) == 2 and text.count("you handed in") == 2   # both, each once


def test_no_more_than_the_limit_of_handed_in_pngs_is_kept(tmp_path):
    from grading import classroom
    real = (ROOT / "grading" / "practical_figures" / "samples.png").read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "vae.py").write_text("")
    for i in range(classroom.HANDED_IN["files"] + 5):
        (tmp_path / "sub" / ("s%02d.png" % i)).write_bytes(real)
    assert classroom.keep_handed_in_images(tmp_path / "sub", tmp_path / "out") == classroom.HANDED_IN["files"]
    assert len(list((tmp_path / "out").iterdir())) == classroom.HANDED_IN["files"]


def test_a_part_watched_in_a_script_is_named_by_its_work_not_by_a_function_it_never_wrote():
    """Catches: a feedback telling a student on the original handout about adam_step, which
    their script does not have."""
    page, text = render(load("original_layout_slips"), "Ada")
    assert "Task 2.2 ADAM&#x27;s update, in your script&#x27;s main block" in page and "<code>adam_step</code>" not in page
    assert "Task 2.2  ADAM's update, in your script's main block:" in text
    assert "<code>compute_KL</code>" in page   # Task 1 is functions in every layout
