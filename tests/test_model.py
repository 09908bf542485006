"""The model, Task 1 (the lower bound), Task 3 and the evaluation functions of vae.py."""
import warnings

import autograd.numpy.random as npr
import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads
from scipy.special import expit, logsumexp
from scipy.stats import bernoulli, norm

import data
import vae


def split(encoder_output):
    L = encoder_output.shape[1] // 2
    return encoder_output[:, :L], encoder_output[:, L:]


@pytest.fixture
def no_fp_warnings():
    """Overflow, invalid values and division by zero become errors (underflow is fine)."""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------
# sigmoid, relu, init_net_params, neural_net_predict

def test_sigmoid_values():
    """eq. (4): catches a wrong sign in the exponent or tanh without the halving."""
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(vae.sigmoid(x), expit(x), rtol=1e-12, atol=1e-15)
    assert vae.sigmoid(0.0) == 0.5


def test_sigmoid_saturates_without_overflow(no_fp_warnings):
    """The naive 1 / (1 + exp(-x)) overflows at x = -1000."""
    np.testing.assert_allclose(vae.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0], atol=1e-300)


def test_relu_values_and_gradient():
    """Catches leaky or absolute-value ReLUs and a gradient that is not 0 / 1."""
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(vae.relu(x), [0, 0, 0, 0.5, 3])
    np.testing.assert_array_equal(grad(lambda v: np.sum(vae.relu(v)))(np.array([-1.0, 2.0])), [0, 1])


def test_init_net_params_shapes():
    """One (W, b) per pair of consecutive sizes, W (m, n) and b (n,)."""
    params = vae.init_net_params([3, 5, 2])
    assert [(W.shape, b.shape) for W, b in params] == [((3, 5), (5,)), ((5, 2), (2,))]


@pytest.mark.parametrize("scale", [1e-2, 0.5])
def test_init_net_params_scale(scale):
    """Weights and biases ~ N(0, scale^2) (DESIGN): catches zero biases, variance
    instead of std, or an ignored scale."""
    npr.seed(0)
    (W, b), = vae.init_net_params([200, 5000], scale=scale)
    for a in (W, b):
        assert abs(a.mean()) < 0.05 * scale
        assert a.std() == pytest.approx(scale, rel=0.05)


def test_init_net_params_uses_seeded_global_rng():
    """The same npr seed gives the same networks (runs are reproducible)."""
    npr.seed(3)
    a = vae.init_net_params([4, 3, 2])
    npr.seed(3)
    b = vae.init_net_params([4, 3, 2])
    for (Wa, ba), (Wb, bb) in zip(a, b):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_neural_net_predict_matches_hand_forward_pass(tiny, forward):
    """ReLU on hidden layers only, biases added: catches a ReLU (or sigmoid) on the
    output layer, a missing bias or a transposed weight."""
    np.testing.assert_allclose(vae.neural_net_predict(tiny.rec, tiny.x), forward(tiny.rec, tiny.x),
                               rtol=1e-12)
    z = np.random.default_rng(0).standard_normal((7, tiny.L))
    out = vae.neural_net_predict(tiny.gen, z)
    np.testing.assert_allclose(out, forward(tiny.gen, z), rtol=1e-12)
    assert (out < 0).any(), "the output layer must be linear (negative logits possible)"


@pytest.mark.parametrize("shape", [(5, 7), (5, 5), (7,)])
def test_neural_net_predict_rejects_inputs_of_another_width(tiny, shape):
    """As the original handout's np.dot did: inputs whose width is not the first layer's fail."""
    with pytest.raises(ValueError):
        vae.neural_net_predict(tiny.rec, np.zeros(shape))


def test_neural_net_predict_takes_one_row_as_the_original_did(tiny, forward):
    """One image (D,) gives one output row (the original handout's np.dot allowed it)."""
    np.testing.assert_allclose(vae.neural_net_predict(tiny.rec, tiny.x[0]), forward(tiny.rec, tiny.x[:1])[0],
                               rtol=1e-12)


# ---------------------------------------------------------------------------
# Task 1: sampler, log-likelihood, KL, lower bound

def test_sampler_shape():
    assert vae.sample_latent_variables_from_posterior(np.zeros((7, 6))).shape == (7, 3)


def test_sampler_is_mean_plus_std_times_global_randn():
    """eq. (15) with eps from npr.randn: catches another RNG, or means and log stds swapped."""
    enc = np.random.default_rng(0).standard_normal((7, 6))
    npr.seed(42)
    z = vae.sample_latent_variables_from_posterior(enc)
    npr.seed(42)
    eps = npr.randn(7, 3)
    mean, log_std = split(enc)
    np.testing.assert_allclose(z, mean + np.exp(log_std) * eps, rtol=1e-12)


def test_sampler_mean_and_std_over_many_draws():
    """Catches variance-for-std (exp(2 log_std)), log-variance conventions (exp(log_std / 2))
    and one eps shared by all rows."""
    npr.seed(0)
    mu = np.array([1.0, -2.0, 0.5])
    sigma = np.array([0.5, 2.0, 1.0])
    n = 20000
    enc = np.tile(np.concatenate([mu, np.log(sigma)]), (n, 1))
    z = vae.sample_latent_variables_from_posterior(enc)
    assert np.all(np.abs(z.mean(axis=0) - mu) < 4 * sigma / np.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), sigma, rtol=0.03)


def test_sampler_rejects_odd_width():
    with pytest.raises(ValueError, match=r"2 \* L"):
        vae.sample_latent_variables_from_posterior(np.zeros((4, 5)))


def test_bernoulli_log_prob_matches_scipy():
    """eq. (3) summed over pixels: catches a mean over pixels, swapped 0/1 or a sign error."""
    rng = np.random.default_rng(0)
    targets = (rng.random((5, 20)) < 0.5).astype(float)
    logits = 3 * rng.standard_normal((5, 20))
    expected = bernoulli.logpmf(targets, expit(logits)).sum(axis=1)
    got = vae.bernoulli_log_prob(targets, logits)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bernoulli_log_prob_exact_at_huge_logits(no_fp_warnings):
    """log(sigmoid(l)) gives -inf or nan at |l| = 1000; the stable form gives the exact
    values 0 and -1000, and finite gradients x - sigmoid(l)."""
    targets = np.array([[1.0], [0.0], [1.0], [0.0]])
    logits = np.array([[1000.0], [1000.0], [-1000.0], [-1000.0]])
    np.testing.assert_allclose(vae.bernoulli_log_prob(targets, logits), [0, -1000, -1000, 0], atol=1e-9)
    g = grad(lambda l: np.sum(vae.bernoulli_log_prob(targets, l)))(logits)
    np.testing.assert_allclose(g.ravel(), [0, -1, 1, 0], atol=1e-12)


@pytest.mark.parametrize("targets_shape, logits_shape", [((5, 20), (5, 21)), ((20,), (20,)),
                                                         ((5, 20), (20,))])
def test_bernoulli_log_prob_rejects_mismatched_shapes(targets_shape, logits_shape):
    """Broadcasting would silently give nonsense; the error names the expected shape."""
    with pytest.raises(ValueError, match=r"should have shape \(batch, "):
        vae.bernoulli_log_prob(np.zeros(targets_shape), np.zeros(logits_shape))


def test_kl_is_zero_for_the_prior():
    """q = p(z) gives KL 0 for every row: catches a missing -1 or a wrong constant."""
    kl = vae.compute_KL(np.zeros((3, 8)))
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, 0.0, atol=1e-15)


def test_kl_known_values():
    """eq. (12) with nu = sigma^2, summed over dimensions: mu = 1, sigma = 2 gives
    (4 + 1 - 1 - log 4) / 2; catches nu = sigma, log nu = log_std, or a mean over dimensions."""
    one_d = 0.5 * (2.0 ** 2 + 1.0 ** 2 - 1 - np.log(2.0 ** 2))
    np.testing.assert_allclose(vae.compute_KL(np.array([[1.0, np.log(2.0)]])), [one_d], rtol=1e-12)
    two_d = np.array([[1.0, 0.0, np.log(2.0), 0.0]])  # second dimension: standard normal
    np.testing.assert_allclose(vae.compute_KL(two_d), [one_d], rtol=1e-12)
    both = np.array([[1.0, -1.0, np.log(2.0), np.log(2.0)]])
    np.testing.assert_allclose(vae.compute_KL(both), [2 * one_d], rtol=1e-12)


def test_kl_matches_monte_carlo():
    """KL(q || p) = E_q[log q(z) - log p(z)], estimated with 200,000 draws."""
    mu, sigma = np.array([0.7, -1.5]), np.array([0.4, 1.8])
    z = mu + sigma * np.random.default_rng(0).standard_normal((200000, 2))
    terms = (norm.logpdf(z, mu, sigma) - norm.logpdf(z)).sum(axis=1)
    kl = vae.compute_KL(np.concatenate([mu, np.log(sigma)])[None, :])[0]
    assert abs(kl - terms.mean()) < 4 * terms.std() / np.sqrt(len(terms))


def test_kl_rejects_odd_width():
    with pytest.raises(ValueError, match=r"2 \* L"):
        vae.compute_KL(np.zeros((2, 3)))


def hand_lower_bound(forward, gen, rec, x, eps):
    """eq. (14) written out: mean over rows of log p(x|z) - KL, z = mu + sigma * eps."""
    mean, log_std = split(forward(rec, x))
    z = mean + np.exp(log_std) * eps
    p = expit(forward(gen, z))
    log_px = np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)
    kl = np.sum(0.5 * (np.exp(2 * log_std) + mean ** 2 - 1 - 2 * log_std), axis=1)
    return np.mean(log_px - kl)


def test_lower_bound_matches_hand_computation(tiny, forward):
    """A scalar, the batch mean (not sum, not N/|B|-scaled), KL subtracted."""
    npr.seed(7)
    value = vae.vae_lower_bound(tiny.gen, tiny.rec, tiny.x)
    npr.seed(7)
    eps = npr.randn(len(tiny.x), tiny.L)
    assert np.ndim(value) == 0
    np.testing.assert_allclose(value, hand_lower_bound(forward, tiny.gen, tiny.rec, tiny.x, eps), rtol=1e-12)


def test_lower_bound_gradients_match_finite_differences(tiny):
    """With the noise fixed, autograd's gradient with respect to both networks equals
    finite differences: catches noise drawn outside the graph or a broken reparameterisation."""
    def elbo(nets):
        npr.seed(0)
        return vae.vae_lower_bound(nets[0], nets[1], tiny.x)
    check_grads(elbo, modes=["rev"], order=1)((tiny.gen, tiny.rec))


@pytest.mark.parametrize("shape", [(5, 7), (6,), (1, 5)])
def test_lower_bound_rejects_wrong_data_shape(tiny, shape):
    with pytest.raises(ValueError, match=r"\(batch, 6\)"):
        vae.vae_lower_bound(tiny.gen, tiny.rec, np.zeros(shape))


# ---------------------------------------------------------------------------
# Task 3

def test_generate_from_prior(tiny, forward):
    """z ~ N(0, I) from npr.randn(num_images, L), then sigmoid(f(z)); catches binarised
    images, logits instead of probabilities, or z from another distribution."""
    npr.seed(5)
    images = vae.generate_from_prior(tiny.gen, 7)
    npr.seed(5)
    expected = expit(forward(tiny.gen, npr.randn(7, tiny.L)))
    assert images.shape == (7, tiny.D)
    assert np.all((images > 0) & (images < 1))
    np.testing.assert_allclose(images, expected, rtol=1e-10, atol=1e-12)
    assert vae.generate_from_prior(tiny.gen).shape == (25, tiny.D)


def test_reconstruct(tiny, forward):
    """z ~ q(z|x) (not the prior, not just the mean), then sigmoid(f(z))."""
    npr.seed(6)
    images = vae.reconstruct(tiny.gen, tiny.rec, tiny.x)
    npr.seed(6)
    mean, log_std = split(forward(tiny.rec, tiny.x))
    z = mean + np.exp(log_std) * npr.randn(*mean.shape)
    assert images.shape == tiny.x.shape
    np.testing.assert_allclose(images, expit(forward(tiny.gen, z)), rtol=1e-10, atol=1e-12)
    assert not np.allclose(images, expit(forward(tiny.gen, mean)))


def test_reconstruct_rejects_wrong_shape(tiny):
    with pytest.raises(ValueError, match=r"\(batch, 6\)"):
        vae.reconstruct(tiny.gen, tiny.rec, np.zeros((3, 5)))


def test_interpolate(tiny, forward):
    """Frames decode z_a * s + (1 - s) * z_b, s from 1 to 0, z the posterior means:
    catches mixing pixels instead of latents, sampling z, or using log stds."""
    a, b = tiny.x[0], tiny.x[1]
    frames = vae.interpolate(tiny.gen, tiny.rec, a, b, num_points=7)
    mean_a = split(forward(tiny.rec, a[None]))[0][0]
    mean_b = split(forward(tiny.rec, b[None]))[0][0]
    decode = lambda z: expit(forward(tiny.gen, z[None]))[0]  # noqa: E731
    assert frames.shape == (7, tiny.D)
    np.testing.assert_allclose(frames[0], decode(mean_a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(frames[-1], decode(mean_b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(frames[3], decode((mean_a + mean_b) / 2), rtol=1e-10, atol=1e-12)
    for k, s in enumerate(np.linspace(1, 0, 7)):
        np.testing.assert_allclose(frames[k], decode(s * mean_a + (1 - s) * mean_b), rtol=1e-10, atol=1e-12)
    assert vae.interpolate(tiny.gen, tiny.rec, a, b).shape == (25, tiny.D)


@pytest.mark.parametrize("shape", [(1, 6), (5,), (7,)])
def test_interpolate_rejects_wrong_image_shape(tiny, shape):
    with pytest.raises(ValueError, match=r"\(6,\)"):
        vae.interpolate(tiny.gen, tiny.rec, np.zeros(shape), tiny.x[1])


# ---------------------------------------------------------------------------
# Evaluation: test ELBO and the importance-weighted estimate of log p(x)

def test_log_importance_weights_match_hand_computation(tiny, forward):
    """log p(x|z) + log N(z|0, I) - log N(z|mu, sigma^2) with z = mu + sigma * eps and eps
    from the given Generator: catches a missing log-std term or a wrong sign."""
    K = 4
    log_w = vae.log_importance_weights(tiny.gen, tiny.rec, tiny.x, K, np.random.default_rng(7))
    eps = np.random.default_rng(7).standard_normal((len(tiny.x), K, tiny.L))
    mean, log_std = split(forward(tiny.rec, tiny.x))
    z = mean[:, None] + np.exp(log_std)[:, None] * eps
    p = expit(forward(tiny.gen, z.reshape(-1, tiny.L))).reshape(len(tiny.x), K, tiny.D)
    log_px = np.sum(bernoulli.logpmf(tiny.x[:, None], p), axis=2)
    expected = (log_px + norm.logpdf(z).sum(axis=2)
                - norm.logpdf(z, mean[:, None], np.exp(log_std)[:, None]).sum(axis=2))
    assert log_w.shape == (len(tiny.x), K)
    np.testing.assert_allclose(log_w, expected, rtol=1e-10)


def test_iwae_is_log_mean_of_importance_weights(tiny):
    """log (1/K) sum_k w_k, not the mean of log w_k, nor without the 1/K."""
    K = 8
    got = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, K, seed=3)
    log_w = vae.log_importance_weights(tiny.gen, tiny.rec, tiny.x, K, np.random.default_rng(3))
    assert got.shape == (len(tiny.x),)
    np.testing.assert_allclose(got, logsumexp(log_w, axis=1) - np.log(K), rtol=1e-12)
    single = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, 1, seed=3)
    one_w = vae.log_importance_weights(tiny.gen, tiny.rec, tiny.x, 1, np.random.default_rng(3))
    np.testing.assert_allclose(single, one_w[:, 0], rtol=1e-12)


@pytest.mark.parametrize("max_rows", [1, 1000])
def test_iwae_uses_the_decoder_likelihood_it_is_given(tiny, max_rows):
    """log_prob (experiments.py's other decoders) replaces log p(x|z) in every chunk: a likelihood
    shifted by c shifts log p(x) by exactly c; caught if it is ignored anywhere."""
    shifted = lambda x, logits: vae.bernoulli_log_prob(x, logits) + 5.0  # noqa: E731
    plain = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, 6, seed=0, max_rows=max_rows)
    got = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, 6, seed=0, max_rows=max_rows, log_prob=shifted)
    np.testing.assert_allclose(got, plain + 5.0, rtol=1e-12)


@pytest.mark.parametrize("max_rows", [1, 3, 8, 16, 1000])
def test_iwae_does_not_depend_on_chunking(tiny, max_rows):
    """Chunks over images and over samples draw the Generator's stream in the same order,
    so the estimate is the same whatever max_rows; catches a chunk dropped or counted twice."""
    whole = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, 8, seed=0, max_rows=10000)
    chunked = vae.iwae_log_likelihood(tiny.gen, tiny.rec, tiny.x, 8, seed=0, max_rows=max_rows)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_mean_log_weight_is_the_elbo(tiny):
    """E_q[log w] is the ELBO: the mean of 4000 log-weights agrees with 4000 single-sample
    ELBOs from vae_lower_bound, within Monte-Carlo error."""
    x = tiny.x[:1]
    log_w = vae.log_importance_weights(tiny.gen, tiny.rec, x, 4000, np.random.default_rng(0))[0]
    npr.seed(0)
    elbo = vae.vae_lower_bound(tiny.gen, tiny.rec, np.repeat(x, 4000, axis=0))
    assert abs(log_w.mean() - elbo) < 5 * log_w.std() / np.sqrt(4000) + 0.05


def test_iwae_not_below_elbo_on_trained_model(trained_nets, mnist):
    """On a (briefly) trained MNIST model the K = 50 estimate is above the test ELBO of the
    same images (up to noise) and above the K = 1 estimate: the bound tightens with K."""
    gen, rec = trained_nets
    images = data.binarised_test_images(mnist[3])[:100]
    elbo = vae.test_elbo(gen, rec, images)
    single = vae.log_importance_weights(gen, rec, images, 1, np.random.default_rng(0))[:, 0]
    noise = 3 * single.std() / np.sqrt(len(images))
    iwae_50 = vae.iwae_log_likelihood(gen, rec, images, 50).mean()
    iwae_1 = vae.iwae_log_likelihood(gen, rec, images, 1).mean()
    assert np.isfinite(iwae_50)
    assert iwae_50 >= elbo - noise
    assert iwae_50 > iwae_1
    assert iwae_50 < 0


def test_test_elbo_is_fixed_and_leaves_global_rng_alone(tiny):
    """Fixed evaluation noise: the same value whatever the global RNG's state, and the
    training RNG stream is untouched (catches reseeding without restoring)."""
    npr.seed(11)
    first = vae.test_elbo(tiny.gen, tiny.rec, tiny.x)
    after = npr.randn(3)
    npr.seed(12)
    second = vae.test_elbo(tiny.gen, tiny.rec, tiny.x)
    assert first == second
    npr.seed(11)
    np.testing.assert_array_equal(after, npr.randn(3))


def test_test_elbo_is_the_mean_elbo_with_the_evaluation_noise(tiny, forward):
    """The mean over images of log p(x|z) - KL, z drawn with npr seeded to vae.EVAL_SEED:
    catches a sum over images or noise that is not the fixed evaluation noise."""
    npr.seed(vae.EVAL_SEED)
    eps = npr.randn(len(tiny.x), tiny.L)
    expected = hand_lower_bound(forward, tiny.gen, tiny.rec, tiny.x, eps)
    np.testing.assert_allclose(vae.test_elbo(tiny.gen, tiny.rec, tiny.x), expected, rtol=1e-12)
