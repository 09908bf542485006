"""Task 3: samples, reconstructions and interpolations (vae.py). Points: points.json."""
import numpy as np

from grading import GradingFailure, cases, judge
from grading.pytest_plugin import figure

D = 784


def probability_hints(value):
    value = judge.numbers(value)
    if value.size and np.all(np.isfinite(value)):
        if value.min() < 0 or value.max() > 1:
            return ["values outside [0, 1]: these look like logits; return the activation "
                    "probabilities sigmoid(logits)"]
        if np.all((value == 0) | (value == 1)):
            return ["the images are binarised (only 0 and 1): return the activation probabilities"]
    return []


def linear_decoder(rng, latent_dim):
    """No hidden layer, logits z W + b with W and b random: every pixel a known function of z."""
    return [(rng.normal(0, 0.6, (latent_dim, D)), rng.normal(0, 0.5, D))]


def logit(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p) - np.log1p(-p)


def check_gaussian(z, mean, sd, what, result):
    """z: (n, L) draws expected ~ N(mean, diag(sd^2)) independently; GradingFailure if not."""
    n = len(z)
    lines = []
    got_mean, got_sd = z.mean(axis=0), z.std(axis=0)
    if np.any(np.abs(got_mean - mean) > 5 * sd / np.sqrt(n)):
        lines.append("the latent variables have means %s, expected %s" % (np.round(got_mean, 3), mean))
    if np.any(np.abs(got_sd / sd - 1) > 0.08):
        lines.append("the latent variables have standard deviations %s, expected %s"
                     % (np.round(got_sd, 3), sd))
    if not lines:
        corr = np.corrcoef(z, rowvar=False)[np.triu_indices(z.shape[1], 1)]
        if np.any(np.abs(corr) > 0.1):
            lines.append("the latent variables are correlated (%s): draw them independently"
                         % np.round(corr, 3))
    if lines:
        raise GradingFailure("%s:\n  " % what + "\n  ".join(lines) + "".join(
            "\n" + line for line in judge._printed(result)))


def decoded_latents(result, what, decoder, n):
    """The z behind each image returned by generate_from_prior or reconstruct with a decoder of one
    linear layer (logits z W + b): (n, L). The images must be that decoder's probabilities for some
    z: images the decoder did not make (noise, the inputs, constants) fail here."""
    out = judge.as_array(result.value["out"] if isinstance(result.value, dict) else result.value, what)
    if out.shape != (n, D):
        raise GradingFailure("%s: wrong shape: expected %s, obtained %s" % (what, (n, D), out.shape))
    if not np.all(np.isfinite(out)):
        raise GradingFailure("%s: %d values are not finite" % (what, int((~np.isfinite(out)).sum())))
    hints = probability_hints(out)
    if hints:
        raise GradingFailure("%s: values from %.4g to %.4g\n  hint: %s" % (what, out.min(), out.max(), hints[0]))
    (W, b), = decoder
    logits = logit(np.clip(out, 1e-300, 1 - 1e-16))
    z = np.linalg.lstsq(W.T, (logits - b).T, rcond=None)[0].T
    residual = np.max(np.abs(z @ W + b - logits))
    if not residual < 1e-3:   # in logits: float32 arithmetic passes, images not from the decoder do not
        raise GradingFailure("%s: the images are not the decoder's activation probabilities for any z (they "
                             "differ from every sigmoid(decoder(z)) by up to %.3g in logit): decode z with "
                             "gen_params, neural_net_predict" % (what, residual))
    return z


# ---------------------------------------------------------------------------
# Task 3.1: generate_from_prior

def test_generate_exact_noise(sub, ref):
    """sigmoid(f(z)) for z the stored noise: 6 images, then the default of 25 images."""
    c = ref.case("generate_mnist")
    result = cases.run_case(sub, c)
    judge.check_result(result, c, hints=probability_hints(result["out"]))
    what = "generate_from_prior(gen_params) (default num_images=25)"
    extra = np.random.RandomState(5).standard_normal(25 * 50 - c.noise.size)
    result = sub.call("vae", "generate_from_prior", c["net:gen"], noise=np.concatenate([c.noise.ravel(), extra]),
                      what=what)
    images = judge.as_array(result.value, what)
    figure("3.1-samples", images)
    if images.shape != (25, D):
        raise GradingFailure("%s: wrong shape: expected (25, 784), obtained %s" % (what, images.shape))
    judge.check_close(images[:6], c.expected("out"), what, rtol=c.meta["rtol"], atol=c.meta["atol"],
                   context="(its first 6 images, from the same noise as the 6-image case)")


def test_generate_statistics(sub, ref):
    """With a decoder of one linear layer of 4 latent variables (each pixel a known function of z):
    2000 images that are its probabilities for z ~ N(0, I)."""
    n, latent_dim = 2000, 4
    rng = ref.rng("generate_statistics")
    decoder = linear_decoder(rng, latent_dim)
    what = "generate_from_prior(gen_params, num_images=%d) with a decoder of one linear layer, L = 4" % n
    result = sub.call("vae", "generate_from_prior", decoder, n, seed=int(rng.randint(1, 2 ** 31)), what=what)
    z = decoded_latents(result, what, decoder, n)
    check_gaussian(z, np.zeros(latent_dim), np.ones(latent_dim), what + " (the prior is N(0, I))", result)


# ---------------------------------------------------------------------------
# Task 3.2: reconstruct

def test_reconstruct_exact_noise(sub, ref):
    """z ~ q(z|x) with the stored noise, then sigmoid(f(z)), for 6 MNIST digits."""
    c = ref.case("reconstruct_mnist")
    result = cases.run_case(sub, c)
    figure("3.2-reconstructions", result["out"])
    judge.check_result(result, c, hints=probability_hints(result["out"]))


def test_reconstruct_statistics(sub, ref):
    """With an encoder giving every image the same q(z|x) and a decoder whose first 4 pixels are
    sigmoid(z) (the others 1/2): 2000 images that are its probabilities for z ~ q(z|x)."""
    c = ref.case("reconstruct_statistics")
    what = "reconstruct(gen_params, rec_params, images) on %s" % c.description
    decoder, encoder, images = c.args()
    mu, log_sigma = np.split(np.asarray(encoder[0][1], dtype=float), 2)
    result = cases.run_case(sub, c, what=what)
    z = decoded_latents(result, what, decoder, len(images))
    check_gaussian(z, mu, np.exp(log_sigma), what, result)


# ---------------------------------------------------------------------------
# Task 3.3: interpolate

def check_frames(frames, expected, what, case, context=""):
    """Frames in either order (the practical does not fix one)."""
    try:
        return judge.check_close(frames, expected, what, rtol=case.meta["rtol"], atol=case.meta["atol"],
                              mistakes=case.mistakes(), hints=probability_hints(frames),
                              shape_hint=frames_hint, context=context)
    except GradingFailure as first:
        try:
            return judge.check_close(frames, expected[::-1], what, rtol=case.meta["rtol"], atol=case.meta["atol"])
        except GradingFailure:
            raise GradingFailure(str(first) + "\n  (compared in both orders: image_a to image_b and back)")


def frames_hint(expected, obtained):
    if len(obtained) == 2 and obtained[1] == expected[1] and obtained[0] != expected[0]:
        return "one frame per value of s: num_points frames (num_points=%d here)" % expected[0]
    return None


def test_interpolate_values(sub, ref):
    """Decoded z_a s + (1 - s) z_b for 7 values of s, then the default of 25 frames."""
    c = ref.case("interpolate_mnist")
    result = cases.run_case(sub, c)
    expected = c.expected("out")
    check_frames(result["out"], expected, c.meta["what"], c, context="on %s" % c.description)
    what = "interpolate(gen_params, rec_params, image_a, image_b) (default num_points=25)"
    frames = judge.as_array(sub.call("vae", "interpolate", *c.args()[:4], what=what).value, what)
    figure("3.3-interpolation", frames)
    if frames.shape != (25, D):
        raise GradingFailure("%s: wrong shape: expected (25, 784), obtained %s" % (what, frames.shape))
    check_frames(frames[[0, 12, 24]], expected[[0, 3, 6]], what, c,
                 context="(frames 1, 13 and 25: s = 1, 1/2 and 0, as frames 1, 4, 7 of 7)")


def test_interpolate_ignores_noise(sub, ref):
    """The latent codes are the means of q(z|x): the frames do not change with the noise."""
    c = ref.case("interpolate_mnist")
    what = c.meta["what"]
    outputs = []
    for seed in (11, 12):
        noise = 3.0 * np.random.RandomState(seed).standard_normal(10000)
        outputs.append(judge.as_array(cases.run_case(sub, c, noise=noise, what=what).value["out"], what))
    if outputs[0].shape != outputs[1].shape or not np.allclose(outputs[0], outputs[1], rtol=1e-9, atol=1e-12):
        raise GradingFailure("%s changes with the noise of numpy's RNG: the latent representation of "
                                "each image is the MEAN of q(z|x) (the first L encoder outputs), not a "
                                "sample" % what)
    check_frames(outputs[0], c.expected("out"), what, c, context="on %s" % c.description)
