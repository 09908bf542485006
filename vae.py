"""Auto-encoding Variational Bayes: the reference solution of the practical.

A variational auto-encoder in plain numpy and autograd, trained on binarised
MNIST. Read top to bottom: the model (section 1), Task 1 (the lower bound,
sections 2-3), training with ADAM (Task 2, adam.py), Task 3 (samples,
reconstructions, interpolations), evaluation, and the command line.

    python vae.py                                   # 30 epochs, outputs in results/
    python vae.py --epochs 2 --num-train 5000       # a quick check
    python vae.py --epochs 0 --load results/params.npz   # figures and metrics only
"""
import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
import zipfile

import autograd.numpy as np
import autograd.numpy.random as npr
import numpy as onp
from autograd import value_and_grad
from scipy.special import logsumexp

import data
import plotting
from adam import adam_init, adam_step

DATA_DIM = 784   # 28 x 28 pixels
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
    # The mask is a constant to autograd, so the gradient is a single product.
    return x * (x > 0)


def init_net_params(layer_sizes, scale=1e-2):
    """[(W, b), ...], W of shape (m, n) and b of shape (n,) for each pair of
    consecutive layer sizes, all drawn from N(0, scale^2) with numpy's global RNG."""
    return [(scale * npr.randn(m, n), scale * npr.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def neural_net_predict(params, inputs):
    """An MLP: ReLU hidden layers, linear output layer.

    params: [(W, b), ...]; inputs: (batch, layer_sizes[0]).
    Returns (batch, layer_sizes[-1]): logits for the decoder, means and log
    standard deviations for the encoder.
    """
    check_matrix("neural_net_predict", "inputs", inputs, np.shape(params[0][0])[0])
    for W, b in params[:-1]:
        inputs = relu(np.dot(inputs, W) + b)
    W, b = params[-1]
    return np.dot(inputs, W) + b


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
    # log p = x * l - softplus(l); softplus(l) = relu(l) + log(1 + e^-|l|) never overflows.
    softplus = relu(logits) + np.log1p(np.exp(-np.abs(logits)))
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
    pass


def flatten(nets):
    """Every array of nets = (gen_params, rec_params), concatenated into one vector."""
    return onp.concatenate([onp.ravel(a) for net in nets for layer in net for a in layer])


def unflatten(flat, nets):
    """(gen_params, rec_params) shaped like nets, as views into flat (no copy)."""
    offset = 0

    def take(a):
        nonlocal offset
        view = flat[offset:offset + a.size].reshape(a.shape)
        offset += a.size
        return view
    return tuple([(take(W), take(b)) for W, b in net] for net in nets)


def negative_elbo(nets, batch):
    gen_params, rec_params = nets
    return -vae_lower_bound(gen_params, rec_params, batch)


# Differentiate with respect to the list of (W, b): autograd's gradient of
# slicing one flat vector would scatter with np.add.at, which is slow.
negative_elbo_and_grad = value_and_grad(negative_elbo)


def train_epoch(theta, adam_state, like, images, batch_size, learning_rate, rng,
                progress=None, stop_requested=lambda: False):
    """One pass over images in a random order, one ADAM step per mini-batch.

    theta: flat parameters; like: (gen_params, rec_params) giving their shapes;
    images: (n, D) grey levels, binarised afresh for every batch (section 4);
    rng: numpy Generator for the order and the binarisation.
    Returns (theta, adam_state, mean train ELBO in nats per image, images seen).
    Raises TrainingDiverged on a non-finite ELBO or gradient.
    """
    order = rng.permutation(len(images))
    total, seen = 0.0, 0
    for start in range(0, len(images), batch_size):
        batch = data.binarise(images[order[start:start + batch_size]], rng)
        # The reported ELBO comes from the same forward pass as the gradient.
        loss, grads = negative_elbo_and_grad(unflatten(theta, like), batch)
        grad = flatten(grads)
        if not (onp.isfinite(loss) and onp.all(onp.isfinite(grad))):
            raise TrainingDiverged("the ELBO or its gradient became %s" % loss)
        theta, adam_state = adam_step(theta, grad, adam_state, alpha=learning_rate)
        total -= float(loss) * len(batch)
        seen += len(batch)
        if progress is not None:
            progress.update(len(batch))
            progress.set_postfix_str("ELBO %.2f" % (total / seen), refresh=False)
        if stop_requested():
            break
    return theta, adam_state, total / seen, seen


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

def test_elbo(gen_params, rec_params, images, chunk=2000):
    """The ELBO (nats per image) over all of images, with the fixed evaluation noise."""
    with seeded_global_rng(EVAL_SEED):
        total = sum(float(vae_lower_bound(gen_params, rec_params, images[i:i + chunk]))
                    * len(images[i:i + chunk]) for i in range(0, len(images), chunk))
    return total / len(images)


def log_importance_weights(gen_params, rec_params, images, num_samples, rng):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q(z|x).

    images: (n, D). Returns (n, num_samples), in float64 nats.
    """
    mean, log_std = onp.split(neural_net_predict(rec_params, images), 2, axis=1)
    n, latent_dim = mean.shape
    eps = rng.standard_normal((n, num_samples, latent_dim), dtype=mean.dtype)
    z = mean[:, None, :] + onp.exp(log_std)[:, None, :] * eps
    logits = neural_net_predict(gen_params, z.reshape(n * num_samples, latent_dim))
    log_px = bernoulli_log_prob(onp.repeat(images, num_samples, axis=0), logits)
    # log N(z|0, I) - log N(z|mu, sigma^2): the 2 pi terms cancel, and (z - mu) / sigma = eps.
    log_pz_minus_log_qz = (-0.5 * onp.sum(onp.square(z, dtype=onp.float64), axis=2)
                           + 0.5 * onp.sum(onp.square(eps, dtype=onp.float64), axis=2)
                           + onp.sum(log_std, axis=1, dtype=onp.float64)[:, None])
    return log_px.reshape(n, num_samples).astype(onp.float64) + log_pz_minus_log_qz


def iwae_log_likelihood(gen_params, rec_params, images, num_samples, seed=EVAL_SEED,
                        max_rows=10000):
    """Importance-weighted estimate of log p(x) for each image, in nats, shape (n,):
    log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), K = num_samples.

    A lower bound that tightens as K grows (Burda et al., 2016); never below
    the ELBO in expectation. Decodes at most max_rows latent vectors at a time
    (about 200 MB in float32), so memory does not grow with K.
    """
    rng = onp.random.default_rng(seed)
    samples_per_chunk = min(num_samples, max_rows)
    images_per_chunk = max(1, max_rows // samples_per_chunk)
    estimates = []
    for i in range(0, len(images), images_per_chunk):
        x = images[i:i + images_per_chunk]
        log_sum = onp.full(len(x), -onp.inf)
        for k in range(0, num_samples, samples_per_chunk):
            log_w = log_importance_weights(gen_params, rec_params, x,
                                           min(samples_per_chunk, num_samples - k), rng)
            log_sum = onp.logaddexp(log_sum, logsumexp(log_w, axis=1))
        estimates.append(log_sum - math.log(num_samples))
    return onp.concatenate(estimates)


# ---------------------------------------------------------------------------
# Checkpoints and outputs, all written atomically

class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 1."""


def layer_sizes(latent_dim, hidden_units, hidden_layers):
    """(decoder sizes, encoder sizes): L-H-...-D and D-H-...-2L."""
    hidden = [hidden_units] * hidden_layers
    return [latent_dim] + hidden + [DATA_DIM], [DATA_DIM] + hidden + [2 * latent_dim]


def save_checkpoint(path, gen_params, rec_params, config, history):
    """Both networks as arrays gen_W0, gen_b0, ..., rec_W0, ..., plus the configuration
    and the training history as JSON, in one .npz file."""
    arrays = {"meta": onp.array(json.dumps({"config": config, "history": history}))}
    for prefix, net in (("gen", gen_params), ("rec", rec_params)):
        for i, (W, b) in enumerate(net):
            arrays["%s_W%d" % (prefix, i)] = W
            arrays["%s_b%d" % (prefix, i)] = b
    plotting.atomic_write(path, lambda f: onp.savez(f, **arrays))


def load_checkpoint(path, gen_sizes, rec_sizes):
    """(gen_params, rec_params, meta) from save_checkpoint's file; UserError if it is
    missing, unreadable, or made for networks of other sizes than gen_sizes, rec_sizes."""
    if not os.path.isfile(path):
        raise UserError("checkpoint %s does not exist" % path)
    try:
        with onp.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise UserError("checkpoint %s is not a readable params.npz written by vae.py (%s)"
                        % (path, e)) from None
    nets = []
    for prefix, sizes in (("gen", gen_sizes), ("rec", rec_sizes)):
        net = []
        for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            W, b = arrays.get("%s_W%d" % (prefix, i)), arrays.get("%s_b%d" % (prefix, i))
            if W is None or b is None or W.shape != (m, n) or b.shape != (n,):
                saved = meta.get("config", {})
                raise UserError(
                    "checkpoint %s holds networks of another shape than --latent-dim %d "
                    "--hidden-units %d --hidden-layers %d; it was saved with --latent-dim %s "
                    "--hidden-units %s --hidden-layers %s: pass those"
                    % (path, gen_sizes[0], gen_sizes[1] if len(gen_sizes) > 2 else 0,
                       len(gen_sizes) - 2, saved.get("latent_dim", "?"),
                       saved.get("hidden_units", "?"), saved.get("hidden_layers", "?")))
            if not (onp.all(onp.isfinite(W)) and onp.all(onp.isfinite(b))):
                raise UserError("checkpoint %s holds non-finite weights" % path)
            net.append((W.astype(onp.float32), b.astype(onp.float32)))
        nets.append(net)
    return nets[0], nets[1], meta


def write_json(path, obj):
    text = json.dumps(obj, indent=1, allow_nan=False)
    plotting.atomic_write(path, lambda f: f.write(text.encode() + b"\n"))


def write_figures(out_dir, gen_params, rec_params, test_images, history):
    """Task 3's figures and the training curve; the noise is fixed (EVAL_SEED), so a
    checkpoint always gives the same images."""
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731
    with seeded_global_rng(EVAL_SEED):
        plotting.save_images(generate_from_prior(gen_params, 25), path("samples.png"))
        first_ten = test_images[:10]
        plotting.save_images(onp.concatenate([first_ten, reconstruct(gen_params, rec_params, first_ten)]),
                             path("reconstructions.png"))
        for i in range(5):
            frames = interpolate(gen_params, rec_params, test_images[2 * i], test_images[2 * i + 1])
            plotting.save_images(frames, path("interpolation_%d.png" % (i + 1)))
    if history:
        plotting.plot_training_curve(history, path("training_curve.png"))


# ---------------------------------------------------------------------------
# The command line

def positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def positive_float(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError
    return value


positive_int.__name__ = "a positive integer"
non_negative_int.__name__ = "a non-negative integer"
positive_float.__name__ = "a finite positive number"


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line, no usage dump: says what is wrong and where to look.
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def parse_args(argv=None):
    p = ArgumentParser(
        prog="vae.py",
        description="Train the practical's variational auto-encoder on binarised MNIST, then "
                    "write samples, reconstructions, interpolations, a training curve, metrics "
                    "and a checkpoint to --out-dir.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=non_negative_int, default=30,
                   help="passes over the training images; 0 (with --load) only evaluates")
    p.add_argument("--batch-size", type=positive_int, default=200, help="images per ADAM step")
    p.add_argument("--learning-rate", type=positive_float, default=0.001, help="ADAM's step size alpha")
    p.add_argument("--latent-dim", type=positive_int, default=50, help="L, the size of z")
    p.add_argument("--hidden-units", type=positive_int, default=200, help="units per hidden layer")
    p.add_argument("--hidden-layers", type=non_negative_int, default=2,
                   help="hidden ReLU layers in each network")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds initialisation, shuffling, binarisation and the sampler's noise")
    p.add_argument("--num-train", type=positive_int, default=60000,
                   help="train on the first N of the 60,000 training images")
    p.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR,
                   help="folder with the four MNIST .gz files")
    p.add_argument("--out-dir", default="results", help="where figures, metrics and checkpoint go")
    p.add_argument("--load", metavar="CHECKPOINT",
                   help="start from this params.npz (its network sizes must match the options)")
    p.add_argument("--iwae-samples", type=non_negative_int, default=100,
                   help="K, importance samples per image for the log p(x) estimate; 0 skips it")
    p.add_argument("--iwae-images", type=positive_int, default=10000,
                   help="how many test images (the first M) the log p(x) estimate uses")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.num_train > 60000:
        p.error("argument --num-train: MNIST has 60000 training images, got %d" % args.num_train)
    if args.iwae_images > 10000:
        p.error("argument --iwae-images: MNIST has 10000 test images, got %d" % args.iwae_images)
    if args.seed >= 2 ** 32:
        p.error("argument --seed: must be below 2**32, got %d" % args.seed)
    if args.epochs == 0 and not args.load:
        p.error("argument --epochs: 0 trains nothing; use it with --load CHECKPOINT to "
                "evaluate a saved model, or give a positive number")
    return args


def install_stop_on_interrupt():
    """First Ctrl-C: finish the current batch, then stop and write every output.
    A second Ctrl-C aborts at once. Returns a function telling if a stop was asked."""
    requested = []

    def handler(signum, frame):
        requested.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nInterrupted: stopping after this batch and writing the outputs for the model "
              "so far (Ctrl-C again to abort without them).", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, handler)
    return lambda: bool(requested)


def run(args):
    from tqdm import tqdm

    config = {k: v for k, v in vars(args).items()}
    out_dir = args.out_dir
    gen_sizes, rec_sizes = layer_sizes(args.latent_dim, args.hidden_units, args.hidden_layers)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise UserError("cannot create the output folder %s (%s)" % (out_dir, e.strerror)) from None
    checkpoint_path = os.path.join(out_dir, "params.npz")

    print("Loading MNIST from %s" % args.data_dir, flush=True)
    _, train_images, _, test_images, _ = data.load_mnist(args.data_dir)
    train_images = train_images[:args.num_train]
    test_images = data.binarised_test_images(test_images)

    npr.seed(args.seed)
    if args.load:
        gen_params, rec_params, meta = load_checkpoint(args.load, gen_sizes, rec_sizes)
        history = meta.get("history", [])
        print("Loaded %s (%d epochs of training)" % (args.load, len(history)))
    else:
        gen_params = init_net_params(gen_sizes)
        rec_params = init_net_params(rec_sizes)
        history = []
    like = (gen_params, rec_params)
    theta = flatten(like).astype(onp.float32)
    adam_state = adam_init(theta)
    rng = onp.random.default_rng(args.seed)

    stop_requested = install_stop_on_interrupt()
    interrupted = False
    first_epoch = len(history) + 1
    for epoch in range(first_epoch, first_epoch + args.epochs):
        progress = tqdm(total=len(train_images), desc="epoch %d/%d" % (epoch, first_epoch + args.epochs - 1),
                        unit="img", disable=args.quiet, leave=False, dynamic_ncols=True)
        start = time.perf_counter()
        try:
            theta, adam_state, train_elbo, seen = train_epoch(
                theta, adam_state, like, train_images, args.batch_size, args.learning_rate,
                rng, progress, stop_requested)
        except TrainingDiverged as e:
            progress.close()
            kept = ("the checkpoint of epoch %d is kept in %s" % (epoch - 1, checkpoint_path)
                    if epoch > first_epoch else "no checkpoint was written")
            raise UserError("training diverged in epoch %d: %s; %s. Try a smaller "
                            "--learning-rate (e.g. %g)" % (epoch, e, kept, args.learning_rate / 10)) from None
        seconds = time.perf_counter() - start
        progress.close()
        gen_params, rec_params = unflatten(theta, like)
        entry = {"epoch": epoch, "train_elbo": train_elbo,
                 "test_elbo": test_elbo(gen_params, rec_params, test_images), "seconds": seconds}
        if seen < len(train_images):
            interrupted = True
            entry["images_seen"] = seen
        history.append(entry)
        print("epoch %3d  train ELBO %8.2f  test ELBO %8.2f  (%.1f s)"
              % (epoch, entry["train_elbo"], entry["test_elbo"], seconds), flush=True)
        # Copies: theta's views change with the next step.
        gen_params, rec_params = unflatten(theta.copy(), like)
        save_checkpoint(checkpoint_path, gen_params, rec_params, config, history)
        if interrupted:
            break
    signal.signal(signal.SIGINT, signal.default_int_handler)

    gen_params, rec_params = unflatten(theta.copy(), like)
    final_test_elbo = history[-1]["test_elbo"] if args.epochs else test_elbo(gen_params, rec_params, test_images)
    write_figures(out_dir, gen_params, rec_params, test_images, history)
    log_likelihood = None
    if args.iwae_samples:
        print("Estimating log p(x) on %d test images with %d importance samples each"
              % (args.iwae_images, args.iwae_samples), flush=True)
        log_likelihood = float(onp.mean(iwae_log_likelihood(
            gen_params, rec_params, test_images[:args.iwae_images], args.iwae_samples)))
    metrics = {"config": config, "history": history, "test_elbo": final_test_elbo,
               "test_log_likelihood": log_likelihood,
               "iwae_samples": args.iwae_samples, "iwae_images": args.iwae_images}
    if interrupted:
        metrics["interrupted"] = True
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    save_checkpoint(checkpoint_path, gen_params, rec_params, config, history)
    print("test ELBO %.2f nats%s; outputs in %s"
          % (final_test_elbo, "" if log_likelihood is None else
             ", log p(x) >= %.2f nats (K = %d)" % (log_likelihood, args.iwae_samples), out_dir))
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except (UserError, data.DataError) as e:
        print("vae.py: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vae.py: aborted; files already written are complete.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
