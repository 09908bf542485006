"""Task 1: the lower bound (vae.py). Points: points.json.

The submission's functions run in a worker process; inputs, noise and expected
outputs come from grading/reference/ (made by grading/casemaker.py).
"""
import numpy as np
import pytest

from grading import GradingFailure, cases, judge, submission

SAMPLE = "sample_latent_variables_from_posterior(encoder_output)"


def rows_hint(expected, obtained):
    if len(obtained) == 0:
        return "return one value per image (row), not a single number: sum over axis 1 only"
    if len(obtained) == 2 and obtained[0] == expected[0]:
        if obtained[1] == 1:
            return "return shape (batch,), not (batch, 1): no keepdims"
        return "sum over the pixels (axis 1): one value per image"
    return None


def sample_shape_hint(expected, obtained):
    if len(obtained) == 2 and obtained[0] == expected[0] and obtained[1] == 2 * expected[1]:
        return ("z has L columns, half as many as the encoder output (its first half holds the "
                "means, its second half the log standard deviations)")
    if len(obtained) == 1 and obtained[0] == expected[1]:
        return "one z per row of the batch: shape (batch, L)"
    return None


# ---------------------------------------------------------------------------
# Task 1.1: sample_latent_variables_from_posterior

@pytest.mark.parametrize("case", ["small", "mnist"])
def test_sample_exact_noise(sub, ref, case):
    """z = mu + sigma * eps with the stored noise eps, drawn by any call style of numpy's global RNG."""
    c = ref.case("sample_" + case)
    judge.check_result(cases.run_case(sub, c), c, shape_hint=sample_shape_hint)


def sample_statistics_inputs(rng):
    """Means and standard deviations (far from 1, so that sigma, its square and its root differ),
    and the seed of the worker's generator: drawn from the cases' seed."""
    sigma = np.array([rng.uniform(1.6, 2.5), rng.uniform(0.3, 0.6), rng.uniform(1.6, 2.5)])
    mu = np.log(sigma) + rng.choice([-1, 1], 3) * rng.uniform(1.0, 2.0, 3)   # far from log sigma
    return np.round(mu, 2), np.round(sigma, 2), int(rng.randint(1, 2 ** 31))


def test_sample_statistics(sub, ref):
    """Over 20000 rows with the same mean and standard deviation: the sample mean and standard
    deviation of z match, z's components are uncorrelated, and another call draws other values
    (real random numbers, from any of numpy's Gaussian samplers)."""
    n = 20000
    MU, SIGMA, seed = sample_statistics_inputs(ref.rng("sample_statistics"))
    encoder_output = np.tile(np.concatenate([MU, np.log(SIGMA)]), (n, 1))
    what = SAMPLE + " on %d identical rows, means %s, standard deviations %s" % (n, MU, SIGMA)
    result = sub.call("vae", "sample_latent_variables_from_posterior", encoder_output, seed=seed, what=what)
    z = judge.as_array(result.value, what)
    if z.shape != (n, 3):
        raise GradingFailure("%s: wrong shape: expected %s, obtained %s" % (what, (n, 3), z.shape))
    if not np.all(np.isfinite(z)):
        raise GradingFailure("%s: %d of the values are not finite (nan or inf)" % (what, int((~np.isfinite(z)).sum())))
    mean, sd = z.mean(axis=0), z.std(axis=0)
    lines = []
    if np.all(sd < 1e-8):
        lines.append("every row got the same z: all rows share the same noise (or none); draw one eps "
                     "per row and latent variable, npr.randn(batch, L)")
    elif np.any(np.abs(sd / SIGMA - 1) > 0.03):
        lines.append("the standard deviations of z are %s, expected %s" % (np.round(sd, 3), SIGMA))
        for candidate, hint in ((SIGMA ** 2, "these are the variances: scale eps by sigma = exp(log_std), "
                                             "not by exp(2 log_std)"),
                                (np.sqrt(SIGMA), "these are sqrt(sigma): the encoder outputs log standard "
                                                 "deviations, sigma = exp(log_std), not log variances"),
                                (np.log(SIGMA), "|log sigma|: scale eps by sigma = exp(log_std)"),
                                (np.abs(np.log(SIGMA)), "|log sigma|: scale eps by sigma = exp(log_std)")):
            with np.errstate(divide="ignore", invalid="ignore"):
                close = np.all(np.abs(sd / np.abs(candidate) - 1) < 0.05)
            if close:
                lines.append("hint: " + hint)
                break
    if np.any(np.abs(mean - MU) > 5 * SIGMA / np.sqrt(n)):
        lines.append("the means of z are %s, expected %s (the first half of each row)" % (np.round(mean, 3), MU))
        if np.allclose(mean, np.log(SIGMA), atol=0.1):
            lines.append("hint: the halves look swapped: the means come first, then the log standard "
                         "deviations")
    if not lines:
        corr = np.corrcoef(z, rowvar=False)[np.triu_indices(3, 1)]
        if np.any(np.abs(corr) > 0.05):
            lines.append("the components of z are correlated (%s): draw an independent eps for every "
                         "latent variable" % np.round(corr, 3))
    if not lines:
        again = judge.as_array(sub.call("vae", "sample_latent_variables_from_posterior", encoder_output[:100],
                                        seed=seed + 1, what=what).value, what)
        if again.shape == (100, 3) and np.array_equal(again, z[:100]):
            lines.append("another call gave the very same z: draw fresh noise at every call, with numpy's global "
                         "generator (npr.randn), not a generator seeded inside the function")
    if lines:
        raise GradingFailure("%s:\n  " % what + "\n  ".join(lines))


def test_sample_differentiable(sub, ref):
    """autograd differentiates z with respect to the encoder output (reparametrisation trick, eq. 15)."""
    c = ref.case("sample_gradient")
    judge.check_result(cases.run_case(sub, c), c)


# ---------------------------------------------------------------------------
# Task 1.2: bernoulli_log_prob

def bernoulli_hints(result):
    value = judge.numbers(result.value.get("out") if isinstance(result.value, dict) else result.value)
    hints = []
    if np.any(value > 1e-9):
        hints.append("log probabilities of binary pixels are never positive: check the sign")
    if not np.all(np.isfinite(value)):
        hints.append("some values are not finite: pass the logits (before the sigmoid), not probabilities")
    return hints


@pytest.mark.parametrize("case", ["small", "mnist"])
def test_bernoulli_values(sub, ref, case):
    """log p(x|z), summed over the pixels of each image, for the logits of training."""
    c = ref.case("bernoulli_" + case)
    result = cases.run_case(sub, c)
    judge.check_result(result, c, hints=bernoulli_hints(result), shape_hint=rows_hint)


def test_bernoulli_extreme_logits(sub, ref):
    """Exact and finite for logits of +-1000 and more: a numerically stable log sigmoid (this
    project's addition to the practical: points.json)."""
    c = ref.case("bernoulli_extreme")
    result = cases.run_case(sub, c)
    value = judge.numbers(result["out"])
    hints = bernoulli_hints(result)
    if value.shape == c.expected("out").shape and not np.all(np.isfinite(value)):
        hints = [unstable_logits(sub, c)]
    judge.check_result(result, c, hints=hints, shape_hint=rows_hint)


def unstable_logits(sub, c):
    """Which logits give a non-finite log probability: one call per pixel (column)."""
    targets, logits = c.args()
    bad = {0: [], 1: []}
    for j in range(logits.shape[1]):
        try:
            column = np.asarray(sub.call("vae", "bernoulli_log_prob", targets[:, j:j + 1], logits[:, j:j + 1],
                                         what=c.meta["what"]).value, dtype=float)
        except GradingFailure:
            return "some values are not finite"
        for i in np.flatnonzero(~np.isfinite(column.ravel()[:len(targets)])):
            bad[int(targets[i, j])].append(logits[i, j])
    parts = ["%s with target %d" % (", ".join("%g" % v for v in sorted(set(values))), t)
             for t, values in sorted(bad.items()) if values]
    return ("bernoulli_log_prob returns -inf or nan for logits %s: log(sigmoid(f)) and log(1 - sigmoid(f)) "
            "written literally underflow to log(0) once |f| is above about 37: write log p(x|z) in terms of the "
            "logits themselves, in a form where no exp can overflow and no log is taken of 0 (see the TODO)"
            % "; ".join(parts))


# ---------------------------------------------------------------------------
# Task 1.3: compute_KL

@pytest.mark.parametrize("case", ["small", "mnist"])
def test_kl_values(sub, ref, case):
    """KL(q(z|x) || p(z)) of eq. (12), one value per row."""
    c = ref.case("kl_" + case)
    result = cases.run_case(sub, c)
    value = judge.numbers(result["out"])
    hints = ["a KL divergence is never negative: check the sign"] if np.any(value < -1e-9) else []
    judge.check_result(result, c, hints=hints, shape_hint=rows_hint)


def test_kl_at_prior_and_non_negative(sub, ref):
    """KL = 0 when q is the prior (means 0, log standard deviations 0), and, away from it, the
    Gaussian KL of eq. (12) up to a constant factor (a missing 1/2, a mean over the latent
    variables), or that of a network giving log variances (footnote 1)."""
    c = ref.case("kl_property")
    what = "compute_KL(q_means_and_log_stds)"
    value = judge.as_array(sub.call("vae", "compute_KL", c["q_means_and_log_stds"], what=what).value, what)
    if value.shape != (6,):
        raise GradingFailure("%s on 6 rows, L = 4: wrong shape: expected (6,), obtained %s" % (what, value.shape))
    if not np.all(np.isfinite(value)):
        raise GradingFailure("%s on 6 rows, L = 4: values that are not finite: %s" % (what, judge._fmt(value)))
    if abs(value[0]) > 1e-9:
        raise GradingFailure("%s: the KL of the prior to itself (means 0, log standard deviations 0) "
                             "should be 0, obtained %.6g" % (what, value[0]))
    if not np.all(value[1:] > 1e-6):
        raise GradingFailure("%s: a KL divergence is positive wherever q differs from the prior; for 5 rows "
                             "that differ, obtained %s" % (what, judge._fmt(value[1:])))
    for case in ("kl_property", "kl_property_log_variances"):
        expected = ref.case(case).expected("out")[1:]
        if np.allclose(value[1:], value[1] / expected[0] * expected, rtol=1e-6, atol=1e-9):
            return
    raise GradingFailure("%s: for 5 rows that differ from the prior, the values %s are not the Gaussian KL of "
                         "eq. (12) (nor a constant multiple of it)" % (what, judge._fmt(value[1:])))


# ---------------------------------------------------------------------------
# Task 1.4: vae_lower_bound, graded with the reference's Task 1.1-1.3 functions

def test_elbo_value(sub, ref):
    """The ELBO estimate for 6 MNIST digits with the trained networks and stored noise; the
    sampler, bernoulli_log_prob and compute_KL it calls are the reference's."""
    c = ref.case("elbo_mnist")
    result = cases.run_case(sub, c)
    value = judge.numbers(result["out"])
    hints = ["the bound of binary images is negative (log p(x|z) <= 0, KL >= 0): check the signs"] \
        if value.size == 1 and value.item() > 0 else []
    judge.check_result(result, c, hints=hints, accept_size1_scalar=True,
                       shape_hint=lambda e, o: "return a scalar: the mean over the batch" if o else None)


def test_elbo_differentiable(sub, ref):
    """autograd's gradient of vae_lower_bound with respect to both networks matches finite
    differences along random directions (the same noise at every evaluation), for a bound that is
    the practical's up to a constant factor (a sum over the batch, the loss): training can use it."""
    c = ref.case("elbo_gradient")
    what = c.meta["what"]
    result = cases.run_case(sub, c)
    analytic, numeric = np.asarray(result["analytic"]), np.asarray(result["numeric"])
    value = judge.numbers(result["value"]).ravel()
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
        raise GradingFailure("%s: the bound or its gradient is not finite (autograd gives %s, finite "
                             "differences %s)" % (what, judge._fmt(analytic), judge._fmt(numeric)))
    if np.all(numeric == 0):
        raise GradingFailure("%s: the bound does not change when the networks change: it must be computed "
                             "from gen_params, rec_params and data" % what)
    if np.all(analytic == 0):
        raise GradingFailure("%s is zero although the bound changes with the parameters: autograd "
                             "cannot follow the computation (plain numpy, float() or .item()?); use "
                             "autograd.numpy throughout" % what)
    if not np.allclose(analytic, numeric, rtol=1e-4, atol=1e-4):
        raise GradingFailure("%s along 3 random directions: autograd gives %s, finite differences %s"
                             % (what, judge._fmt(analytic), judge._fmt(numeric)))
    expected_value, expected = float(c.expected("value")), c.expected("analytic")
    factor = value[0] / expected_value if value.size == 1 and expected_value else np.nan
    if not (np.isfinite(factor) and factor != 0 and np.allclose(analytic, factor * expected, rtol=1e-4, atol=1e-6)):
        raise GradingFailure("%s: autograd and finite differences agree, but on a function that is not the "
                             "practical's bound (nor a constant multiple of it): the bound's value is wrong "
                             "(see test_elbo_value)" % what)


# ---------------------------------------------------------------------------
# A check, no points: the submission's own functions together, as training uses them

def test_functions_work_together(sub, ref):
    """vae_lower_bound with the submission's own Task 1 functions and given functions equals the
    batch mean of log p(x|z) - KL computed from those same functions, and the given functions
    are the handout's."""
    notes = changed_given_functions(sub, ref)
    c = ref.case("elbo_mnist")
    what = "vae_lower_bound(gen_params, rec_params, data) with your own functions"
    own = {"standins": submission.OWN}
    bound = sub.call("vae", "vae_lower_bound", c["net:gen"], c["net:rec"], c["images"], noise=c.noise, what=what,
                     **own)
    elbo = judge.as_array(bound.value, what)
    if elbo.size != 1:
        raise GradingFailure("%s should return a scalar (the mean over the batch), obtained shape %s"
                             % (what, elbo.shape))
    elbo = float(elbo.ravel()[0])
    encoder_output = sub.call("vae", "neural_net_predict", c["net:rec"], c["images"], what=what, **own).value
    z = sub.call("vae", "sample_latent_variables_from_posterior", encoder_output, noise=c.noise, what=what, **own)
    logits = sub.call("vae", "neural_net_predict", c["net:gen"], z.value, what=what, **own).value
    log_px = judge.as_array(sub.call("vae", "bernoulli_log_prob", c["images"], logits, what=what, **own).value, what)
    kl = judge.as_array(sub.call("vae", "compute_KL", encoder_output, what=what, **own).value, what)
    if log_px.shape != kl.shape:
        raise GradingFailure("%s: bernoulli_log_prob and compute_KL return shapes %s and %s; each should "
                             "give one value per image" % (what, log_px.shape, kl.shape))
    target = float(np.mean(log_px - kl))
    lines = []
    for name, values in (("bernoulli_log_prob", log_px), ("compute_KL", kl)):
        if not np.all(np.isfinite(values)):
            lines.append("your %s returns %s for image(s) %s of this batch" % (
                name, judge._fmt(values[~np.isfinite(values)]), ", ".join(str(i + 1) for i in
                                                                         np.flatnonzero(~np.isfinite(values)))))
    if not np.isfinite(elbo) and not lines:
        lines.append("the bound is not finite (%g)" % elbo)
    elif np.isfinite(elbo) and not np.isclose(elbo, target, rtol=1e-6, atol=1e-6):
        lines.append("it returns %.8g, but your own Task 1 functions with the same noise give mean(log p(x|z) - KL) "
                     "= %.8g" % (elbo, target))
        hints = [hint for value, hint in (
            (float(np.sum(log_px - kl)), "this is the SUM over the batch: return the mean over the images"),
            (-target, "this is the negative of the bound"),
            (float(np.mean(log_px + kl)), "the KL looks added: the bound is log p(x|z) MINUS the KL"),
            (float(np.mean(log_px)), "the KL term is missing"),
            (float(-np.mean(kl)), "the log p(x|z) term is missing")) if np.isclose(elbo, value, rtol=1e-6, atol=1e-6)]
        if not hints and bound.drawn == 0:
            hints = ["it drew no noise: z must be drawn with sample_latent_variables_from_posterior"]
        lines += ["hint: " + h for h in hints]
    if lines or notes:
        raise GradingFailure("%s on 6 MNIST digits:\n  " % what + "\n  ".join(lines + notes))


def changed_given_functions(sub, ref):
    """Notes for the given functions (sigmoid, relu, neural_net_predict) that the submission changed."""
    from grading.worker import given
    rng = np.random.RandomState(7)
    x = rng.normal(0, 3, (4, 5))
    net = [(rng.normal(0, 1, (5, 3)), rng.normal(0, 1, 3)), (rng.normal(0, 1, (3, 2)), rng.normal(0, 1, 2))]
    notes = []
    for name, args in (("sigmoid", [x]), ("relu", [x]), ("neural_net_predict", [net, x])):
        try:
            mine = np.asarray(sub.call("vae", name, *args, standins=submission.OWN).value, dtype=float)
            same = mine.shape == np.shape(getattr(given, name)(*args)) and np.allclose(
                mine, getattr(given, name)(*args), rtol=1e-9, atol=1e-12)
        except GradingFailure as e:   # no such function (a file that did not import, an empty one): no change to note
            same = "has no function" in str(e) or "cannot be graded" in str(e) or "not available" in str(e)
        except (TypeError, ValueError):
            same = False
        if not same:
            note = "%s differs from the handout's; every task was graded with the handout's" % name
            notes.append("note: " + note)
            sub.note(note)
    return notes
