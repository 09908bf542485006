"""Auto-encoding Variational Bayes: the reference solution of the practical.

A variational auto-encoder in plain numpy and autograd, trained on binarised
MNIST. Read top to bottom: the model (section 1), Task 1 (the lower bound,
sections 2-3), training with ADAM (Task 2, adam.py), Task 3 (samples,
reconstructions, interpolations), evaluation, and main. The command line, checkpoints,
Ctrl-C and the outputs it writes are in support/ (support/run.py).

    python vae.py                                   # 30 epochs, outputs in results/
    python vae.py --epochs 2 --num-train 5000 --out-dir results/quick   # a quick check
    python vae.py --epochs 0 --load results/params.npz   # figures and metrics only
"""
import contextlib
import math
import sys

import autograd.numpy as np
import autograd.numpy.random as npr
import numpy as onp
from autograd import value_and_grad

import data
from adam import adam_init, adam_step  # noqa: F401  (adam_init: support/run.py takes it from here)

DATA_DIM = 784   # 28 x 28 pixels
TASK_FUNCTIONS = ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL", "vae_lower_bound",
                  "adam_init", "adam_step", "generate_from_prior", "reconstruct", "interpolate")
EVAL_SEED = 1    # noise for test ELBO, IWAE and figures: the same in every run


def check_matrix(function, name, array, columns=None):
    """Raise ValueError unless array is 2-D, with `columns` columns if given."""
    shape = np.shape(array)
    if len(shape) != 2 or (columns is not None and shape[1] != columns):
        expected = "(batch, %s)" % ("d" if columns is None else columns)
        raise ValueError("%s: %s should have shape %s, got %s" % (function, name, expected, shape))


def check_means_and_log_stds(function, array):
    check_matrix(function, "the encoder output", array)
    if np.shape(array)[1] % 2:
        raise ValueError("%s: the encoder output should have shape (batch, 2 * L), means then "
                         "log standard deviations; got %s, an odd width" % (function, np.shape(array)))


# ---------------------------------------------------------------------------
# The model: p(z) = N(0, I) (eq. 2), p(x|z) Bernoulli(sigmoid(f(z))) (eq. 3-4),
# q(z|x) = N(mu(x), diag(sigma(x)^2)) (eq. 9). Networks are lists of (W, b).

def sigmoid(x):
    """eq. (4), through tanh so that no exp can overflow."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def relu(x):
    # The mask is a constant to autograd, so the gradient is a single product. Lists and
    # numbers are taken as np.maximum(0, x) takes them (the original handout's relu).
    x = x if hasattr(x, "shape") else np.asarray(x)
    return x * (x > 0)


def init_net_params(layer_sizes, scale=1e-2):
    """[(W, b), ...], W of shape (m, n) and b of shape (n,) for each pair of
    consecutive layer sizes, all drawn from N(0, scale^2) with numpy's global RNG."""
    return [(scale * npr.randn(m, n), scale * npr.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def neural_net_predict(params, inputs):
    """An MLP: ReLU hidden layers, linear output layer.

    params: [(W, b), ...]; inputs: (batch, layer_sizes[0]), or one row (layer_sizes[0],)
    as the original handout's np.dot allowed. Returns (batch, layer_sizes[-1]) (one row
    for one row): logits for the decoder, means and log standard deviations for the encoder.
    """
    # float32 weights (training) compute in float32 whatever the inputs' precision
    # (npr.randn's noise is float64); astype also casts the gradient flowing back in, so
    # the backward pass stays in float32 too. Other weights compute as np.dot would.
    single = getattr(params[0][0], "dtype", None) == np.float32
    if single:
        inputs = np.array(inputs, dtype=np.float32)
    for W, b in params[:-1]:
        inputs = relu(inputs @ W + b)
    W, b = params[-1]
    outputs = inputs @ W + b
    return outputs.astype(np.float32) if single else outputs


# ---------------------------------------------------------------------------
# Task 1: the lower bound

def sample_latent_variables_from_posterior(encoder_output):
    """One z ~ q(z|x) per row, by the reparameterisation trick.

    encoder_output: (batch, 2 * L), L means then L log standard deviations.
    Returns z of shape (batch, L); the noise comes from numpy's global RNG.
    """
    check_means_and_log_stds("sample_latent_variables_from_posterior", encoder_output)
    # BEGIN SOLUTION
    mean, log_std = np.split(encoder_output, 2, axis=1)
    eps = npr.randn(*np.shape(mean)).astype(mean.dtype)
    return mean + np.exp(log_std) * eps  # eq. (15): z = mu + sigma * eps
    # END SOLUTION


def bernoulli_log_prob(targets, logits):
    """log p(x|z) of eq. (3), in nats, summed over pixels.

    targets: (batch, D), values in {0, 1}; logits: (batch, D), f(z) before the
    sigmoid. Returns (batch,). Finite and exact for any finite logits.
    """
    check_matrix("bernoulli_log_prob", "logits", logits)
    check_matrix("bernoulli_log_prob", "targets", targets, np.shape(logits)[1])
    # BEGIN SOLUTION
    # log sigma(l) = l - softplus(l) and log(1 - sigma(l)) = -softplus(l), so
    # log p = x * l - softplus(l), with softplus(l) = log(1 + e^l) written as
    # max(l, 0) + log(1 + e^-|l|): e^-|l| <= 1 cannot overflow (-|l| = l - 2 max(l, 0)).
    positive_part = relu(logits)
    softplus = positive_part + np.log1p(np.exp(logits - 2 * positive_part))
    return np.sum(targets * logits - softplus, axis=1)
    # END SOLUTION


def compute_KL(q_means_and_log_stds):
    """KL(q(z|x) || p(z)) of eq. (12), in nats, for each row.

    q_means_and_log_stds: (batch, 2 * L), means then log standard deviations.
    Returns (batch,).
    """
    check_means_and_log_stds("compute_KL", q_means_and_log_stds)
    # BEGIN SOLUTION
    mean, log_std = np.split(q_means_and_log_stds, 2, axis=1)
    # eq. (12) with nu = sigma^2 = exp(2 log_std), so log nu = 2 log_std
    return np.sum(0.5 * (np.exp(2 * log_std) + mean ** 2 - 1) - log_std, axis=1)
    # END SOLUTION


def vae_lower_bound(gen_params, rec_params, data):
    """The ELBO of eq. (14) per image: the batch mean of log p(x|z) - KL(q(z|x) || p(z)),
    with one z ~ q(z|x) per image. Nats per image, a scalar.

    gen_params, rec_params: decoder and encoder [(W, b), ...]; data: (batch, D) in {0, 1}.
    """
    check_matrix("vae_lower_bound", "data", data, np.shape(rec_params[0][0])[0])
    # BEGIN SOLUTION
    q_means_and_log_stds = neural_net_predict(rec_params, data)
    z = sample_latent_variables_from_posterior(q_means_and_log_stds)
    logits = neural_net_predict(gen_params, z)
    return np.mean(bernoulli_log_prob(data, logits) - compute_KL(q_means_and_log_stds))
    # END SOLUTION


# ---------------------------------------------------------------------------
# Training: ADAM (Task 2, adam.py) on the negative ELBO of mini-batches

class TrainingDiverged(Exception):
    """The ELBO or its gradient became NaN or infinite."""


def flatten(nets, dtype=None):
    """Every array of nets = (gen_params, rec_params), concatenated into one vector
    (of dtype if given)."""
    return onp.concatenate([onp.ravel(a) for net in nets for layer in net for a in layer], dtype=dtype)


def unflatten(flat, nets):
    """(gen_params, rec_params) shaped like nets, as views into flat (no copy)."""
    offset = 0

    def take(a):
        nonlocal offset
        view = flat[offset:offset + a.size].reshape(a.shape)
        offset += a.size
        return view
    return tuple([(take(W), take(b)) for W, b in net] for net in nets)


def negative_elbo(nets, batch, kl_weight=1.0):
    """The training loss: minus the ELBO of batch, nets = (gen_params, rec_params).

    kl_weight < 1 is KL warm-up (lecture notes): the KL term weighted by beta, from the
    Task 1 functions as E[log p(x|z)] - beta KL = ELBO + (1 - beta) KL; beta = 1 is the
    practical's bound.
    """
    gen_params, rec_params = nets
    elbo = vae_lower_bound(gen_params, rec_params, batch)
    if kl_weight == 1.0:
        return -elbo
    kl = np.sum(compute_KL(neural_net_predict(rec_params, batch))) / len(batch)
    return -(elbo + (1.0 - kl_weight) * kl)


def value_and_grad_of_nets(loss):
    """loss_and_grad(nets, *args) -> (loss(nets, *args), its gradient shaped like nets).

    autograd builds the gradient of each nested container (the pair, each net, each (W, b))
    as zeros of its whole size plus each part, and the gradient of slicing one flat vector
    scatters with np.add.at; both are slow, so this differentiates one flat list of arrays.
    """
    def of_arrays(arrays, nets, *args):
        return loss(shaped_like(arrays, nets), *args)
    of_arrays_and_grad = value_and_grad(of_arrays)

    def loss_and_grad(nets, *args):
        value, grads = of_arrays_and_grad([a for net in nets for layer in net for a in layer], nets, *args)
        return value, shaped_like(grads, nets)
    return loss_and_grad


def shaped_like(arrays, nets):
    """The flat list arrays (W, b, W, b, ...) as (gen_params, rec_params) shaped like nets."""
    arrays = iter(arrays)
    return tuple([(next(arrays), next(arrays)) for _ in net] for net in nets)


negative_elbo_and_grad = value_and_grad_of_nets(negative_elbo)


def kl_weight_schedule(epoch, warmup_epochs):
    """beta for a 1-based epoch: 0, 1/W, ..., (W-1)/W over the first W epochs, then 1."""
    return 1.0 if warmup_epochs == 0 else min(1.0, (epoch - 1) / warmup_epochs)


def moments_like(theta, adam_state):
    """ADAM's (m, v, t) with m and v in theta's precision, as Figure 5 has them shaped like it,
    whatever adam_init's zeros were (np.zeros gives float64)."""
    m, v, t = adam_state
    return onp.asarray(m, dtype=theta.dtype), onp.asarray(v, dtype=theta.dtype), t


# A diverging step is reported as TrainingDiverged, not as a screenful of warnings.
@onp.errstate(all="ignore")
def train_epoch(theta, adam_state, like, images, batch_size, learning_rate, rng,
                progress=None, stop_requested=lambda: False, kl_weight=1.0,
                loss_and_grad=None, prepare=None):
    """One pass over images in a random order, one ADAM step per mini-batch.

    theta: flat parameters; like: (gen_params, rec_params) giving their shapes;
    images: (n, D) grey levels, binarised afresh for every batch (section 4);
    rng: numpy Generator for the order and the binarisation.
    kl_weight: beta of KL warm-up (1 = the ELBO).
    loss_and_grad, prepare: another objective and data (experiments.py); None: the practical's,
    the negative ELBO (negative_elbo_and_grad) of binarised images (data.binarise).
    Returns (theta, adam_state, mean train objective in nats per image, images seen).
    Raises TrainingDiverged on a non-finite ELBO or gradient.
    """
    order = rng.permutation(len(images))
    total, seen = 0.0, 0
    for start in range(0, len(images), batch_size):
        batch = (prepare or data.binarise)(images[order[start:start + batch_size]], rng)
        # The reported ELBO comes from the same forward pass as the gradient.
        loss, grads = (loss_and_grad or negative_elbo_and_grad)(unflatten(theta, like), batch, kl_weight)
        grad = flatten(grads, theta.dtype)
        if not (onp.isfinite(loss) and onp.all(onp.isfinite(grad))):
            raise TrainingDiverged("the ELBO or its gradient became %s" % loss)
        new_theta, adam_state = adam_step(theta, grad, adam_state, alpha=learning_rate)
        theta = new_theta.astype(theta.dtype, copy=False)  # float32 whatever ADAM computed in
        total -= float(loss) * len(batch)
        seen += len(batch)
        if progress is not None:
            progress.update(len(batch))
            progress.set_postfix_str("ELBO %.2f" % (total / seen), refresh=False)
        if stop_requested():
            break
    return theta, adam_state, total / seen, seen


# ---------------------------------------------------------------------------
# Task 3: using the trained model

def generate_from_prior(gen_params, num_images=25):
    """Task 3.1: z ~ p(z) = N(0, I), then the pixel probabilities sigmoid(f(z)).

    Returns (num_images, D) activation probabilities (not binarised).
    """
    # BEGIN SOLUTION
    latent_dim = np.shape(gen_params[0][0])[0]
    z = npr.randn(num_images, latent_dim)
    return sigmoid(neural_net_predict(gen_params, z))
    # END SOLUTION


def reconstruct(gen_params, rec_params, images):
    """Task 3.2: z ~ q(z|x) for each image, then the pixel probabilities of p(x|z).

    images: (n, D). Returns (n, D) activation probabilities.
    """
    check_matrix("reconstruct", "images", images, np.shape(rec_params[0][0])[0])
    # BEGIN SOLUTION
    z = sample_latent_variables_from_posterior(neural_net_predict(rec_params, images))
    return sigmoid(neural_net_predict(gen_params, z))
    # END SOLUTION


def interpolate(gen_params, rec_params, image_a, image_b, num_points=25):
    """Task 3.3: decode z(s) = z_a * s + (1 - s) * z_b for num_points values of s
    evenly spaced from 1 down to 0, z_a and z_b the posterior means of the images.

    image_a, image_b: (D,). Returns (num_points, D) activation probabilities,
    from image_a's reconstruction (s = 1) to image_b's (s = 0).
    """
    for name, image in (("image_a", image_a), ("image_b", image_b)):
        if np.ndim(image) != 1 or np.shape(image)[0] != np.shape(rec_params[0][0])[0]:
            raise ValueError("interpolate: %s should have shape (%d,), got %s"
                             % (name, np.shape(rec_params[0][0])[0], np.shape(image)))
    # BEGIN SOLUTION
    encoder_output = neural_net_predict(rec_params, np.stack([image_a, image_b]))
    z_a, z_b = np.split(encoder_output, 2, axis=1)[0]  # the means; variance ignored
    s = np.linspace(1.0, 0.0, num_points)[:, None]
    return sigmoid(neural_net_predict(gen_params, z_a * s + (1 - s) * z_b))
    # END SOLUTION


# ---------------------------------------------------------------------------
# Evaluation

@contextlib.contextmanager
def seeded_global_rng(seed):
    """Run a block with numpy's global RNG seeded, then restore the training RNG.

    Evaluation and figures thus draw the same noise in every run and at every
    epoch, and leave the training noise untouched.
    """
    state = npr.get_state()
    npr.seed(seed)
    try:
        yield
    finally:
        npr.set_state(state)


def test_elbo(gen_params, rec_params, images, chunk=2000):
    """The ELBO in nats per image, averaged over images, with the fixed evaluation noise:
    vae_lower_bound over chunks of images (the first min(chunk, n) images get the same
    noise whatever n)."""
    with seeded_global_rng(EVAL_SEED):
        total = sum(float(vae_lower_bound(gen_params, rec_params, images[i:i + chunk]))
                    * len(images[i:i + chunk]) for i in range(0, len(images), chunk))
    return total / len(images)


def test_kl(rec_params, images):
    """The mean KL(q(z|x) || p(z)) over images, in nats (eq. 12, no noise)."""
    return float(onp.mean(compute_KL(neural_net_predict(rec_params, images))))


def posterior_means(rec_params, images):
    """The means of q(z|x): (n, L)."""
    return onp.split(neural_net_predict(rec_params, images), 2, axis=1)[0]


def active_units(means, threshold=0.01):
    """Latent dimensions whose posterior mean varies across images (variance above
    threshold, Burda et al., 2016); the others are ignored by the decoder."""
    return int(onp.sum(onp.var(means, axis=0) > threshold))


def latent_manifold(gen_params, grid_size=20):
    """Decode a grid_size x grid_size grid of z for L = 2, at evenly spaced quantiles
    of N(0, 1) in each dimension (Kingma & Welling, 2014, fig. 4).

    Returns (z, probabilities): z (grid_size^2, 2), row by row from the top
    (z_2 descending) and left to right (z_1 ascending); probabilities (grid_size^2, D).
    """
    from scipy.stats import norm
    values = norm.ppf((onp.arange(grid_size) + 0.5) / grid_size)
    z = onp.array([[z1, z2] for z2 in values[::-1] for z1 in values])
    return z, sigmoid(neural_net_predict(gen_params, z))


def log_importance_weights(gen_params, rec_params, images, num_samples, rng, log_prob=None):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q(z|x).

    images: (n, D); log_prob(x, decoder output) -> (n,): log p(x|z), bernoulli_log_prob if None
    (experiments.py passes other decoders'). Returns (n, num_samples), in float64 nats.
    """
    mean, log_std = onp.split(neural_net_predict(rec_params, images), 2, axis=1)
    n, latent_dim = mean.shape
    eps = rng.standard_normal((n, num_samples, latent_dim), dtype=mean.dtype)
    z = mean[:, None, :] + onp.exp(log_std)[:, None, :] * eps
    logits = neural_net_predict(gen_params, z.reshape(n * num_samples, latent_dim))
    log_px = (log_prob or bernoulli_log_prob)(onp.repeat(images, num_samples, axis=0), logits)
    # log N(z|0, I) - log N(z|mu, sigma^2): the 2 pi terms cancel, and (z - mu) / sigma = eps.
    log_pz_minus_log_qz = (-0.5 * onp.sum(onp.square(z, dtype=onp.float64), axis=2)
                           + 0.5 * onp.sum(onp.square(eps, dtype=onp.float64), axis=2)
                           + onp.sum(log_std, axis=1, dtype=onp.float64)[:, None])
    return log_px.reshape(n, num_samples).astype(onp.float64) + log_pz_minus_log_qz


def iwae_log_likelihood(gen_params, rec_params, images, num_samples, seed=EVAL_SEED,
                        max_rows=10000, log_prob=None):
    """Importance-weighted estimate of log p(x) for each image, in nats, shape (n,):
    log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), K = num_samples.

    A lower bound that tightens as K grows (Burda et al., 2016); never below
    the ELBO in expectation. Decodes at most max_rows latent vectors at a time
    (about 200 MB in float32), so memory does not grow with K. log_prob: as in
    log_importance_weights.
    """
    from scipy.special import logsumexp
    rng = onp.random.default_rng(seed)
    samples_per_chunk = min(num_samples, max_rows)
    images_per_chunk = max(1, max_rows // samples_per_chunk)
    estimates = []
    for i in range(0, len(images), images_per_chunk):
        x = images[i:i + images_per_chunk]
        log_sum = onp.full(len(x), -onp.inf)
        for k in range(0, num_samples, samples_per_chunk):
            log_w = log_importance_weights(gen_params, rec_params, x,
                                           min(samples_per_chunk, num_samples - k), rng, log_prob)
            log_sum = onp.logaddexp(log_sum, logsumexp(log_w, axis=1))
        estimates.append(log_sum - math.log(num_samples))
    return onp.concatenate(estimates)


# ---------------------------------------------------------------------------
# Evaluation of a trained model, and the command line

def layer_sizes(latent_dim, hidden_units, hidden_layers):
    """(decoder sizes, encoder sizes): L-H-...-D and D-H-...-2L."""
    hidden = [hidden_units] * hidden_layers
    return [latent_dim] + hidden + [DATA_DIM], [DATA_DIM] + hidden + [2 * latent_dim]


def evaluate(gen_params, rec_params, test_images, iwae_samples, iwae_images, allow_skip=False):
    """The test metrics of metrics.json, in nats per image (see README). allow_skip: Ctrl-C
    during the log p(x) estimate skips it (the rest is kept)."""
    elbo, kl = test_elbo(gen_params, rec_params, test_images), test_kl(rec_params, test_images)
    metrics = {"test_elbo": elbo, "test_reconstruction": elbo + kl, "test_kl": kl,
               "active_units": active_units(posterior_means(rec_params, test_images)),
               "test_log_likelihood": None, "iwae_samples": iwae_samples, "iwae_images": iwae_images,
               "elbo_on_iwae_images": None, "elbo_gap": None}
    if iwae_samples:
        print("Estimating log p(x) on %d test images with %d importance samples each%s"
              % (iwae_images, iwae_samples, " (Ctrl-C skips it)" if allow_skip else ""), flush=True)
        try:
            log_likelihood = float(onp.mean(iwae_log_likelihood(
                gen_params, rec_params, test_images[:iwae_images], iwae_samples)))
        except KeyboardInterrupt:
            if not allow_skip:
                raise
            print("log p(x) estimate skipped (Ctrl-C); writing the other outputs", file=sys.stderr, flush=True)
            metrics["log_likelihood_skipped"] = True
            return metrics
        elbo = test_elbo(gen_params, rec_params, test_images[:iwae_images])
        metrics.update(test_log_likelihood=log_likelihood, elbo_on_iwae_images=elbo,
                       elbo_gap=log_likelihood - elbo)
    return metrics


def main(argv=None):
    """python vae.py: train, evaluate and write every output (--help; support/run.py)."""
    from support import run
    return run.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
