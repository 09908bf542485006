"""Whole submissions graded as a careful teacher would: tests/fixtures/honest (real students'
ways of doing the work, in the original handout's layout: full marks or the stated partial
credit) and tests/fixtures/forged (cheap non-solutions and attacks: nothing for what they
forge). Each folder holds the submission and expected.json: {"points": {part: points},
"messages": [texts a message or note must contain], "why": ...}; a near-copy holds a recipe
instead (tests/fixtures/build.py): edits.json, the lines it changes in its base, or, for a
forgery in this project's layout, forge.json, the bodies it replaces.

Also: the given functions accept what the original handout's did, and the stand-ins' answers
(which a submission may print) answer no other test.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
import test_grading_meta as meta  # noqa: E402
from grading import cases  # noqa: E402
from grading.worker import given  # noqa: E402
from grading.submission import Submission  # noqa: E402
_spec = importlib.util.spec_from_file_location("fixture_build", FIXTURES / "build.py")
build = importlib.util.module_from_spec(_spec)   # tests/fixtures/build.py ("build" is a PyPI package's name too)
_spec.loader.exec_module(build)

# The default run grades a few of each family, within the quick suite's time (an observed run
# takes 6-20 s): a one-epoch run, a sign error compensated (charged once), a first update that
# crashes, a forged optimiser, the initial networks handed in as trained, and the forgeries in
# this project's layout (a second each). --full grades them all.
DEFAULT = {
    "honest/one_epoch", "honest/negated_bound_descent", "honest/first_update_crashes",
    "forged/sign_sgd", "forged/initial_networks_one_epoch", "forged/nan_sampler",
    "forged/kl_sum_of_squares", "forged/elbo_any_function", "forged/generate_ignores_decoder",
}


def fixtures():
    return sorted("%s/%s" % (family, p.name) for family in ("honest", "forged")
                  for p in (FIXTURES / family).iterdir() if (p / "expected.json").is_file())


@pytest.fixture(scope="module")
def ref():
    return cases.Reference()


def submission(folder, tmp_path):
    """The fixture's folder, or, if it holds a recipe (edits.json, forge.json), the folder built
    from it (tests/fixtures/build.py)."""
    return build.build(folder, tmp_path / folder.name) if build.has_recipe(folder) else folder


@pytest.mark.parametrize("name", meta.full_only(fixtures(), DEFAULT))
def test_a_submission_gets_what_a_careful_teacher_gives(name, ref, tmp_path):
    folder = FIXTURES / name
    expected = json.loads((folder / "expected.json").read_text())
    scores, messages, problems, _ = meta.grade(submission(folder, tmp_path), ref)
    text = messages + "\n" + "\n".join(problems)
    assert scores == expected["points"], "%s (%s):\n%s" % (name, expected.get("why", ""), text)
    for part in expected.get("messages", []):
        assert part in text, "%s: no message says %r:\n%s" % (name, part, text)


# ---------------------------------------------------------------------------
# The given functions accept what the original handout's accepted, with its results

def original_relu(x):
    return np.maximum(0, x)


def original_predict(params, inputs):
    for W, b in params[:-1]:
        inputs = original_relu(np.dot(inputs, W) + b)
    W, b = params[-1]
    return np.dot(inputs, W) + b


@pytest.mark.parametrize("inputs", ["one image (784,)", "a batch (3, 784)", "a list of lists", "a latent vector (5,)"])
def test_the_given_network_takes_what_the_original_took(inputs):
    rng = np.random.RandomState(3)
    encoder = [(rng.normal(0, 0.1, (784, 20)), rng.normal(0, 0.1, 20)), (rng.normal(0, 0.1, (20, 10)), np.zeros(10))]
    decoder = [(rng.normal(0, 0.1, (5, 20)), rng.normal(0, 0.1, 20)), (rng.normal(0, 0.1, (20, 784)), np.zeros(784))]
    x = {"one image (784,)": (encoder, rng.rand(784)), "a batch (3, 784)": (encoder, rng.rand(3, 784)),
         "a list of lists": (encoder, rng.rand(2, 784).tolist()),
         "a latent vector (5,)": (decoder, rng.randn(5))}[inputs]
    np.testing.assert_allclose(given.neural_net_predict(*x), original_predict(*x), rtol=1e-12, atol=1e-14)
    assert np.shape(given.neural_net_predict(*x)) == np.shape(original_predict(*x))


@pytest.mark.parametrize("x", [[-1.0, 2.0, 0.0], -3, 2.5, np.array([[-1, 4]]), np.float32(-0.5)])
def test_the_given_relu_and_sigmoid_take_what_the_original_took(x):
    assert np.array_equal(given.relu(x), original_relu(x))
    if not isinstance(x, list):   # the original sigmoid, x / 2.0, took no list either
        np.testing.assert_allclose(given.sigmoid(x), 0.5 * (np.tanh(np.asarray(x) / 2.0) + 1), rtol=1e-15)


# ---------------------------------------------------------------------------
# What the stand-ins answer (a submission can print it) answers no other test

def _answers(reference):
    for name in reference.names():
        table = reference.case(name).answers()
        for entry in (table.entries if table else []):
            yield name, entry


@pytest.mark.parametrize("which", ["stored", "private"])
def test_the_stand_ins_answers_are_no_other_cases_input_or_output(which, ref, private_refs):
    """The bound's and reconstruct's stand-ins get their own digits and noise: printing what they
    answer gives a later submission nothing to return for the sampler, Bernoulli or KL cases."""
    reference = ref if which == "stored" else private_refs[0]
    task1 = [reference.case(n) for n in reference.names() if n.split("_")[0] in ("sample", "bernoulli", "kl")]
    known = [np.asarray(a, dtype=float) for c in task1 for a in
             [c.expected("out")] + [v for k, v in c.arrays.items() if k.startswith("in.")] +
             ([c.noise] if c.noise is not None else [])]
    rows = {tuple(np.round(r, 9)) for a in known for r in np.atleast_2d(a)}
    seen = 0
    for name, entry in _answers(reference):
        for array in [entry["out"]] + list(entry["args"]):
            for row in np.atleast_2d(np.asarray(array, dtype=float)):
                seen += 1
                assert tuple(np.round(row, 9)) not in rows, "%s: a stand-in's %s gives away a Task 1 case" % (
                    name, entry["function"])
    assert seen > 0


@pytest.fixture(scope="module")
def private_refs(tmp_path_factory):
    import grading.casemaker
    base = tmp_path_factory.mktemp("private")
    grading.casemaker.write(base / "1", seed=1, with_mistakes=False)
    return [cases.Reference(base / "1")]


def test_a_printed_stand_in_answer_earns_nothing_when_returned(ref, tmp_path):
    """A submission prints what the bound's stand-ins answer; a second returns those values
    wherever their shape fits: it earns nothing for Task 1.2."""
    leak = tmp_path / "leak"
    text = (ROOT / "vae.py").read_text().replace(
        "    return np.mean(bernoulli_log_prob(data, logits) - compute_KL(q_means_and_log_stds))",
        "    log_px = bernoulli_log_prob(data, logits)\n"
        "    print('LEAK', repr(np.asarray(getattr(log_px, '_value', log_px)).tolist()))\n"
        "    return np.mean(log_px - compute_KL(q_means_and_log_stds))", 1)
    assert "LEAK" in text
    leak.mkdir()
    (leak / "vae.py").write_text(text)
    (leak / "adam.py").write_text((ROOT / "adam.py").read_text())
    c = ref.case("elbo_mnist")
    sub = Submission(leak)
    try:
        printed = cases.run_case(sub, c).output
    finally:
        sub.close()
    leaked = [float(v) for v in printed.split("LEAK", 1)[1].strip().strip("[]").split(",")]
    assert len(leaked) == 6
    copier = tmp_path / "copier"
    copier.mkdir()
    body = "return np.array(%r) if np.shape(targets)[0] == 6 else np.zeros(np.shape(targets)[0])" % leaked
    (copier / "vae.py").write_text(meta.mutants.replace_bodies((ROOT / "vae.py").read_text(), "vae.py",
                                                               {"bernoulli_log_prob": body}))
    (copier / "adam.py").write_text((ROOT / "adam.py").read_text())
    scores, messages, _, _ = meta.grade(copier, ref, graded={"1.2"})
    assert scores == {"1.2": 0}, messages


# ---------------------------------------------------------------------------
# The grader's own bound, with which it answers an observed run's training

def test_the_graders_bound_and_gradient_are_the_practicals():
    """maths.bound_and_gradient (by hand, float32) against the reference's Task 1 functions and
    autograd: value and every gradient of a small random model."""
    import autograd.numpy as anp
    from autograd import value_and_grad
    import vae
    from grading import maths
    rng = np.random.RandomState(0)

    def net(sizes):
        return [(rng.randn(a, b) * 0.3, rng.randn(b) * 0.3) for a, b in zip(sizes[:-1], sizes[1:])]
    gen, rec = net([5, 7, 9, 784]), net([784, 8, 6, 10])
    x, eps = (rng.rand(4, 784) > 0.5) * 1.0, rng.randn(4, 5)

    def reference(nets):
        encoder_output = vae.neural_net_predict(nets[1], x)
        mean, log_std = anp.split(encoder_output, 2, axis=1)
        logits = vae.neural_net_predict(nets[0], mean + anp.exp(log_std) * eps)
        return anp.mean(vae.bernoulli_log_prob(x, logits) - vae.compute_KL(encoder_output))
    expected, gradient = value_and_grad(reference)((gen, rec))
    value, ours = maths.bound_and_gradient((gen, rec), x, eps)
    assert np.isclose(value, expected, rtol=1e-5) and np.isclose(maths.plain_bound((gen, rec), x, eps), value)
    for mine, theirs in zip(ours, gradient):
        for (dW, db), (eW, eb) in zip(mine, theirs):
            np.testing.assert_allclose(dW, eW, rtol=1e-3, atol=1e-5)
            np.testing.assert_allclose(db, eb, rtol=1e-3, atol=1e-5)
