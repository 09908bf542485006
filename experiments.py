"""The lecture notes' experiments on the practical's VAE, one command each.

    python experiments.py estimators   # SGVB estimators A and B: gradient variance, test ELBO
    python experiments.py latent-dim   # train and test ELBO, active units, L = 2 ... 200
    python experiments.py decoders     # grey levels: Gaussian and continuous-Bernoulli decoders
    python experiments.py pca          # PCA beside the VAE: reconstructions, 2-D embeddings

Each writes figure.png, results.json and summary.md (the measured numbers, in nats) to
experiments/NAME/ (--out-dir), and the checkpoints of the models it trains, in vae.py's
format. --quick runs the same code on a few hundred images in seconds (the tests use it).

The model, the Task 1 functions, the training loop and ADAM are vae.py's and adam.py's,
imported. Only what the practical does not ask for lives here: estimator A (the whole bound
by sampling), the Gaussian and continuous-Bernoulli decoders for grey levels, and PCA.
"""
import math
import os
import sys
import time

import autograd.numpy as np
import autograd.numpy.random as npr
import numpy as onp
from autograd import grad

import data
import plotting
import vae
from adam import adam_init
from support import UserError, checkpoint, options  # support also installs the speed primitives
from support.run import write_json

LOG_2PI = math.log(2 * math.pi)
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Shared: data, training through vae.train_epoch, outputs

def load(args, grey=False):
    """(train images, test images, test labels): the first args.num_train and args.num_test;
    test images binarised once as vae.py does, or grey levels if grey."""
    _, train, _, test, test_labels = data.load_mnist(args.data_dir)
    test = test[:args.num_test]
    return train[:args.num_train], (test if grey else data.binarised_test_images(test)), \
        onp.argmax(test_labels[:args.num_test], axis=1)


def train(sizes, images, args, desc, loss_and_grad=None, prepare=None, on_epoch=None):
    """Networks (gen_params, rec_params) of sizes = (decoder sizes, encoder sizes), trained for
    args.epochs by vae.train_epoch (ADAM, Task 2) on loss_and_grad of data from prepare (None:
    vae.py's negative ELBO of binarised images). on_epoch(epoch, nets): called after each epoch.
    Returns (nets, the per-epoch mean training objective)."""
    from tqdm import tqdm
    npr.seed(args.seed)
    like = tuple(vae.init_net_params(s) for s in sizes)
    theta = vae.flatten(like, onp.float32)
    state, rng = vae.moments_like(theta, adam_init(theta)), onp.random.default_rng(args.seed)
    history = []
    for epoch in range(1, args.epochs + 1):
        with tqdm(total=len(images), desc="%s, epoch %d/%d" % (desc, epoch, args.epochs), unit="img",
                  leave=False, disable=args.quiet) as progress:
            theta, state, objective, _ = vae.train_epoch(
                theta, state, like, images, args.batch_size, args.learning_rate, rng, progress,
                loss_and_grad=loss_and_grad, prepare=prepare)
        history.append(objective)
        if on_epoch:
            on_epoch(epoch, vae.unflatten(theta.copy(), like))
    return vae.unflatten(theta, like), history


def save_model(out_dir, name, nets, args, history):
    path = os.path.join(out_dir, name + ".npz")
    checkpoint.save_checkpoint(path, nets[0], nets[1], dict(vars(args), model=name),
                        [{"epoch": i + 1, "train_objective": h} for i, h in enumerate(history)])
    return path


def write_outputs(out_dir, results, summary, figure):
    """results.json, summary.md and figure.png (figure(fig) draws on a matplotlib figure)."""
    write_json(os.path.join(out_dir, "results.json"), results)
    plotting.atomic_write(os.path.join(out_dir, "summary.md"), lambda f: f.write(summary.encode()))
    plt = plotting.pyplot()
    fig = plt.figure(figsize=(11, 4.5))
    figure(fig)
    fig.tight_layout()
    plotting.save_figure(fig, os.path.join(out_dir, "figure.png"))


def log_normal(z, mean, log_std):
    """log N(z | mean, diag(exp(log_std)^2)), summed over the last axis: (batch,) nats."""
    return np.sum(-0.5 * ((z - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * LOG_2PI, axis=-1)


# ---------------------------------------------------------------------------
# 1. SGVB estimators A and B (Kingma & Welling, 2014, section 2.3)

def elbo_estimator_a(gen_params, rec_params, x):
    """Estimator A of the ELBO, nats per image: the batch mean of log p(x, z) - log q(z|x), one
    z ~ q(z|x) per image, the KL sampled too. (B, vae.vae_lower_bound, has the KL in closed form.)"""
    encoder_output = vae.neural_net_predict(rec_params, x)
    mean, log_std = np.split(encoder_output, 2, axis=1)
    z = vae.sample_latent_variables_from_posterior(encoder_output)
    log_joint = vae.bernoulli_log_prob(x, vae.neural_net_predict(gen_params, z)) + log_normal(z, 0.0, 0.0)
    return np.mean(log_joint - log_normal(z, mean, log_std))


ESTIMATORS = {"A": elbo_estimator_a, "B": vae.vae_lower_bound}


def gradient_variance(estimator, nets, batch, draws, seed):
    """{network: mean over its parameters of the variance of d(estimate)/d(parameter) across
    `draws` noise draws on one batch}, and the same for the squared mean gradient (the signal)."""
    gradient = grad(lambda nets: estimator(nets[0], nets[1], batch))
    draws_of = {"decoder": [], "encoder": []}
    with vae.seeded_global_rng(seed):   # the training's own noise goes on untouched
        for _ in range(draws):
            g_gen, g_rec = gradient(nets)
            draws_of["decoder"].append(vae.flatten((g_gen,), onp.float64))
            draws_of["encoder"].append(vae.flatten((g_rec,), onp.float64))
    out = {}
    for network, g in draws_of.items():
        g = onp.array(g)
        out[network] = {"variance": float(onp.mean(onp.var(g, axis=0))),
                        "squared_mean": float(onp.mean(onp.mean(g, axis=0) ** 2))}
    return out


def run_estimators(args):
    train_images, test_images, _ = load(args)
    sizes = vae.layer_sizes(args.latent_dim, args.hidden_units, 2)
    batch = data.binarise(train_images[:args.batch_size], onp.random.default_rng(12345))
    at = sorted({e for e in args.measure_at if e <= args.epochs} | {args.epochs})
    variances, curves, finals = {}, {}, {}
    for name, estimator in ESTIMATORS.items():
        loss_and_grad = vae.value_and_grad_of_nets(lambda nets, x, kl_weight, f=estimator: -f(nets[0], nets[1], x))
        curves[name] = []

        def on_epoch(epoch, nets, name=name):
            curves[name].append(vae.test_elbo(nets[0], nets[1], test_images))
            if name == "B" and epoch in at:   # both estimators' gradients at the practical's model
                variances[epoch] = {e: gradient_variance(f, nets, batch, args.draws, args.seed + epoch)
                                    for e, f in ESTIMATORS.items()}
        nets, history = train(sizes, train_images, args, "estimator %s" % name, loss_and_grad, on_epoch=on_epoch)
        save_model(args.out_dir, "estimator_%s" % name, nets, args, history)
        finals[name] = curves[name][-1]

    results = {"config": vars(args), "measured_at_epochs": at, "test_elbo": finals, "test_elbo_per_epoch": curves,
               "gradient_variance": {str(e): v for e, v in variances.items()}}
    rows = "\n".join("| %d | %s | %.3g | %.3g | %.3g | %.3g |" % (
        e, n, v["A"][n]["variance"], v["B"][n]["variance"], v["A"][n]["variance"] / v["B"][n]["variance"],
        v["B"][n]["squared_mean"]) for e, v in variances.items() for n in ("encoder", "decoder"))
    summary = """# SGVB estimators A and B

`python experiments.py estimators%s`: %d epochs on %d images, latent dimension %d.
Estimator A samples the whole bound, log p(x, z) - log q(z|x); B (the practical's, eq. 14)
has the KL in closed form. Gradient variance: over %d noise draws on one fixed batch of %d
images, at the parameters of the model trained with B, averaged over each network's
parameters ((nats per image)^2 per parameter).

| epoch | network | variance A | variance B | A / B | squared mean gradient |
| --- | --- | --- | --- | --- | --- |
%s

Test ELBO after %d epochs (closed-form bound, fixed noise, nats per image): A %.2f, B %.2f.

The decoder's gradient does not involve log p(z) or log q(z|x), so with the same noise both
estimators give it exactly: its two variances agree. The encoder's is where they differ.
""" % (" --quick" if args.quick else "", args.epochs, len(train_images), args.latent_dim, args.draws,
       len(batch), rows, args.epochs, finals["A"], finals["B"])

    def figure(fig):
        ax = fig.add_subplot(1, 2, 1)
        for name, style in (("A", "--"), ("B", "-")):
            for network, colour in (("encoder", "C0"), ("decoder", "C1")):
                ax.plot(at, [variances[e][name][network]["variance"] for e in at], style, color=colour,
                        marker="o", label="%s, estimator %s" % (network, name))
        ax.set(yscale="log", xlabel="epochs trained (estimator B)", ylabel="gradient variance per parameter",
               title="Gradient variance over %d noise draws" % args.draws)
        ax.legend(fontsize=8)
        ax = fig.add_subplot(1, 2, 2)
        for name in ESTIMATORS:
            ax.plot(range(1, args.epochs + 1), curves[name], marker=".", label="trained with estimator %s" % name)
        ax.set(xlabel="epoch", ylabel="test ELBO (nats per image)", title="Test ELBO")
        ax.legend(fontsize=8)
    write_outputs(args.out_dir, results, summary, figure)
    return results


# ---------------------------------------------------------------------------
# 2. Latent dimensionality

def run_latent_dim(args):
    train_images, test_images, _ = load(args)
    train_subset = data.binarise(train_images[:args.num_test], onp.random.default_rng(0))
    rows = []
    for latent_dim in args.latent_dims:
        sizes = vae.layer_sizes(latent_dim, args.hidden_units, 2)
        nets, history = train(sizes, train_images, args, "L = %d" % latent_dim)
        save_model(args.out_dir, "latent_dim_%d" % latent_dim, nets, args, history)
        gen, rec = nets
        rows.append({"latent_dim": latent_dim, "train_elbo": vae.test_elbo(gen, rec, train_subset),
                     "test_elbo": vae.test_elbo(gen, rec, test_images), "test_kl": vae.test_kl(rec, test_images),
                     "active_units": vae.active_units(vae.posterior_means(rec, test_images))})
    results = {"config": vars(args), "models": rows}
    table = "\n".join("| %d | %.2f | %.2f | %.2f | %.2f | %d |" % (
        r["latent_dim"], r["train_elbo"], r["test_elbo"], r["train_elbo"] - r["test_elbo"], r["test_kl"],
        r["active_units"]) for r in rows)
    summary = """# Latent dimensionality

`python experiments.py latent-dim%s`: each L trained for %d epochs on %d images. ELBOs in
nats per image with vae.py's fixed evaluation noise, train on the first %d training images
(binarised once), test on %d test images.

| L | train ELBO | test ELBO | train - test | KL to prior | active units |
| --- | --- | --- | --- | --- | --- |
%s

An active unit is a latent dimension whose posterior mean varies across test images
(variance > 0.01). Beyond a few tens of units the extra ones stay inactive: the KL term
keeps their posterior at the prior, which is why more latent variables do not overfit.
""" % (" --quick" if args.quick else "", args.epochs, len(train_images), len(train_subset), len(test_images), table)

    def figure(fig):
        ax = fig.add_subplot(1, 2, 1)
        dims = [r["latent_dim"] for r in rows]
        ax.plot(dims, [r["train_elbo"] for r in rows], marker="o", label="train")
        ax.plot(dims, [r["test_elbo"] for r in rows], marker="o", label="test")
        ax.set(xscale="log", xlabel="latent dimension L", ylabel="ELBO (nats per image)",
               title="ELBO after %d epochs" % args.epochs)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.legend()
        ax = fig.add_subplot(1, 2, 2)
        ax.plot(dims, [r["active_units"] for r in rows], marker="o", label="active units")
        ax.plot(dims, dims, ":", color="grey", label="all units")
        ax.set(xscale="log", yscale="log", xlabel="latent dimension L", ylabel="units", title="Active units")
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.legend()
    write_outputs(args.out_dir, results, summary, figure)
    return results


# ---------------------------------------------------------------------------
# 3. Decoders for grey levels

def dequantise(images, rng):
    """Grey levels k/255 as continuous values (k + u)/256, u ~ U[0, 1): data in (0, 1) with a
    density, whose log-likelihood bounds that of the 256 discrete levels."""
    return ((images * 255 + rng.random(images.shape, dtype=onp.float32)) / 256).astype(images.dtype)


def gaussian_log_prob(x, decoder_output):
    """log N(x | mean, diag(exp(log_std)^2)), decoder_output (batch, 2 D) = means, log std devs."""
    mean, log_std = np.split(decoder_output, 2, axis=1)
    return log_normal(x, mean, log_std)


def log_normaliser(logits):
    """log C(lambda) of the continuous Bernoulli, lambda = sigmoid(l): C = l / tanh(l / 2)
    (Loaiza-Ganem & Cunningham, 2019), 2 at l = 0; near 0 by its series, log 2 + l^2 / 12."""
    small = np.abs(logits) < 1e-2
    safe = np.where(small, 1.0, logits)   # no 0 / 0, in the value or its gradient
    exact = np.log(safe / np.tanh(safe / 2))
    return np.where(small, math.log(2) + logits ** 2 / 12, exact)


def continuous_bernoulli_log_prob(x, logits):
    """log p(x | lambda) = x log lambda + (1 - x) log(1 - lambda) + log C(lambda), for x in [0, 1]:
    the Bernoulli formula of vae.bernoulli_log_prob, normalised. (batch,) nats."""
    return vae.bernoulli_log_prob(x, logits) + np.sum(log_normaliser(logits), axis=1)


def continuous_bernoulli_mean(logits):
    """E[x] under the continuous Bernoulli: lambda / (2 lambda - 1) - 1 / l, 1/2 + l / 12 near l = 0."""
    small = onp.abs(logits) < 1e-2
    safe = onp.where(small, 1.0, logits)
    lam = vae.sigmoid(safe)
    return onp.where(small, 0.5 + logits / 12, lam / (2 * lam - 1) - 1 / safe)


# name -> (decoder outputs per pixel, log p(x|z) from the decoder's output, its mean)
DECODERS = {
    "gaussian": (2, gaussian_log_prob, lambda out: onp.clip(onp.split(out, 2, axis=1)[0], 0, 1)),
    "continuous_bernoulli": (1, continuous_bernoulli_log_prob, continuous_bernoulli_mean),
    "bernoulli": (1, vae.bernoulli_log_prob, vae.sigmoid),
}


def decoder_elbo(log_prob, gen_params, rec_params, x):
    """The ELBO of eq. (14) with another log p(x|z): nats per image, one z per image."""
    encoder_output = vae.neural_net_predict(rec_params, x)
    z = vae.sample_latent_variables_from_posterior(encoder_output)
    return np.mean(log_prob(x, vae.neural_net_predict(gen_params, z)) - vae.compute_KL(encoder_output))


def run_decoders(args):
    train_images, test_grey, _ = load(args, grey=True)
    test_x = dequantise(test_grey, onp.random.default_rng(0))
    rows, shown = {}, {}
    for name, (per_pixel, log_prob, mean_of) in DECODERS.items():
        gen_sizes, rec_sizes = vae.layer_sizes(args.latent_dim, args.hidden_units, 2)
        gen_sizes = gen_sizes[:-1] + [per_pixel * vae.DATA_DIM]
        loss_and_grad = vae.value_and_grad_of_nets(
            lambda nets, x, kl_weight, f=log_prob: -decoder_elbo(f, nets[0], nets[1], x))
        nets, history = train((gen_sizes, rec_sizes), train_images, args, name, loss_and_grad, prepare=dequantise)
        save_model(args.out_dir, "decoder_%s" % name, nets, args, history)
        gen, rec = nets
        with vae.seeded_global_rng(vae.EVAL_SEED):
            elbo = float(decoder_elbo(log_prob, gen, rec, test_x))
            z = npr.randn(10, args.latent_dim)
            samples = mean_of(vae.neural_net_predict(gen, z))
            means = onp.split(vae.neural_net_predict(rec, test_x[:10]), 2, axis=1)[0]
            recon = mean_of(vae.neural_net_predict(gen, means))
        logits_test = vae.neural_net_predict(gen, onp.split(vae.neural_net_predict(rec, test_x), 2, axis=1)[0])
        row = {"test_elbo": elbo,
               "log_likelihood": float(onp.mean(vae.iwae_log_likelihood(
                   gen, rec, test_x[:args.iwae_images], args.iwae_samples, log_prob=log_prob)))}
        if name == "bernoulli":
            # Its "log-likelihood" omits log C(lambda) >= log 2 per pixel: what normalising would add.
            row["missing_log_normaliser"] = float(onp.mean(onp.sum(log_normaliser(logits_test), axis=1)))
            row["not_a_log_likelihood"] = True
        rows[name], shown[name] = row, (samples, recon)
    results = {"config": vars(args), "decoders": rows,
               "data": "grey levels dequantised: (255 x + u) / 256, u ~ U[0, 1); nats per image"}
    b = rows["bernoulli"]
    summary = """# Decoders for grey levels

`python experiments.py decoders%s`: each decoder trained for %d epochs on %d grey-level
images, dequantised ((255 x + u) / 256, u ~ U[0, 1), so the data have a density), latent
dimension %d. Test ELBO and importance-sampled log p(x) (K = %d, first %d test images), in
nats per image:

| decoder | test ELBO | log p(x) |
| --- | --- | --- |
| Gaussian (mean and log std per pixel) | %.1f | %.1f |
| continuous Bernoulli | %.1f | %.1f |
| Bernoulli on grey levels (not a likelihood) | (%.1f) | (%.1f) |

Why the plain Bernoulli gives no valid log-likelihood here: x log lambda + (1 - x) log(1 - lambda)
is a log-probability only for x in {0, 1}. As a function of x in [0, 1] it integrates to
(2 lambda - 1) / log(lambda / (1 - lambda)) <= 1/2, so it is no density: its "log-likelihood"
is short of a normalised one by log C(lambda) >= log 2 per pixel, here %.1f nats per image
on average. The continuous Bernoulli is that same formula with C(lambda) put back; its
numbers and the Gaussian's are log-densities of the same dequantised data, and comparable.
""" % (" --quick" if args.quick else "", args.epochs, len(train_images), args.latent_dim, args.iwae_samples,
       min(args.iwae_images, len(test_x)), rows["gaussian"]["test_elbo"], rows["gaussian"]["log_likelihood"],
       rows["continuous_bernoulli"]["test_elbo"], rows["continuous_bernoulli"]["log_likelihood"],
       b["test_elbo"], b["log_likelihood"], b["missing_log_normaliser"])

    def figure(fig):
        def label(name):
            value = "%.1f nats" % rows[name]["log_likelihood"]
            return "%s (log p(x) %s)" % (name.replace("_", " "), "not defined; its formula gives " + value
                                         if rows[name].get("not_a_log_likelihood") else "= " + value)
        grids = [("test images (grey levels)", test_grey[:10])] + [
            ("%s, %s" % (kind, label(name)), shown[name][i])
            for i, kind in ((1, "reconstructions"), (0, "samples")) for name in DECODERS]
        for i, (title, images) in enumerate(grids):
            ax = fig.add_subplot(len(grids), 1, i + 1)
            ax.imshow(plotting.image_grid(onp.clip(images, 0, 1), ims_per_row=10), cmap="binary", vmin=0, vmax=1)
            ax.set_title(title, fontsize=8, loc="left")
            ax.axis("off")
        fig.set_size_inches(7, 1.3 * len(grids))
    write_outputs(args.out_dir, results, summary, figure)
    return results


# ---------------------------------------------------------------------------
# 4. PCA beside the VAE

def pca(images, components):
    """(mean (D,), components (k, D)) of images (n, D), by SVD."""
    mean = images.mean(axis=0)
    _, _, vt = onp.linalg.svd(images - mean, full_matrices=False)
    return mean, vt[:components]


def shown(path):
    """path relative to the repository when inside it."""
    relative = os.path.relpath(path, HERE)
    return path if relative.startswith("..") else relative


def trained_vae(args, saved, latent_dim, train_images, desc):
    """A checkpoint of vae.py (saved) with latent dimension latent_dim, or a model trained here."""
    sizes = vae.layer_sizes(latent_dim, args.hidden_units, 2)
    if saved and os.path.isfile(saved) and not args.quick:
        gen, rec, _ = checkpoint.load_checkpoint(saved, *sizes)
        return (gen, rec), saved
    nets, history = train(sizes, train_images, args, desc)
    return nets, save_model(args.out_dir, "vae_L%d" % latent_dim, nets, args, history)


def run_pca(args):
    train_images, test_images, test_labels = load(args)
    fit_on = train_images[:args.pca_images]
    (gen, rec), source = trained_vae(args, args.checkpoint, args.latent_dim, train_images, "VAE L = %d" % args.latent_dim)
    vae_means = vae.posterior_means(rec, test_images)
    active = vae.active_units(vae_means)
    mean, components = pca(fit_on, max(args.latent_dim, 2))   # the 2-D projection's too
    project = lambda k: onp.clip(mean + (test_images - mean) @ components[:k].T @ components[:k], 0, 1)  # noqa: E731
    pca_recon = project(args.latent_dim)
    vae_recon = vae.sigmoid(vae.neural_net_predict(gen, vae_means))
    error = lambda recon: float(onp.mean(onp.sum((recon - test_images) ** 2, axis=1)))  # noqa: E731
    errors = {"pca": error(pca_recon), "pca_as_many_as_active_units": error(project(active)), "vae": error(vae_recon)}
    (gen2, rec2), source2 = trained_vae(args, args.checkpoint_2d, 2, train_images, "VAE L = 2")
    pca_2d = (test_images - mean) @ components[:2].T
    vae_2d = vae.posterior_means(rec2, test_images)
    results = {"config": vars(args), "latent_dim": args.latent_dim, "vae_active_units": active, "vae_checkpoint": source,
               "vae_2d_checkpoint": source2, "squared_error_per_image": errors,
               "test_images": len(test_images)}
    summary = """# PCA beside the VAE

`python experiments.py pca%s`: PCA with %d components (fit on %d training grey-level images)
and the VAE with L = %d (%s), on %d binarised test images. Reconstruction: PCA projects and
maps back (clipped to [0, 1]); the VAE decodes the posterior mean, sigmoid(f(mu(x))).

| | squared error per image (sum over 784 pixels) |
| --- | --- |
| PCA, %d components | %.2f |
| PCA, %d components (the VAE's active units) | %.2f |
| VAE, L = %d (%d active units) | %.2f |

PCA minimises exactly this squared error; the VAE maximises a likelihood of binary pixels,
with a KL term that leaves most of its latent dimensions unused.

The second panel puts the test images' 2-D PCA projection beside the posterior means of the
VAE with L = 2 (%s), coloured by digit.
""" % (" --quick" if args.quick else "", args.latent_dim, len(fit_on), args.latent_dim, shown(source),
       len(test_images), args.latent_dim, errors["pca"], active, errors["pca_as_many_as_active_units"], args.latent_dim,
       active, errors["vae"], shown(source2))

    def figure(fig):
        ax = fig.add_subplot(1, 3, 1)
        rows = onp.concatenate([test_images[:8], pca_recon[:8], vae_recon[:8]])
        ax.imshow(plotting.image_grid(rows, ims_per_row=8), cmap="binary", vmin=0, vmax=1)
        ax.set_title("test images; PCA (%d); VAE (L = %d)" % (args.latent_dim, args.latent_dim), fontsize=9)
        ax.axis("off")
        colours = plotting.pyplot().get_cmap("tab10")
        for i, (title, points) in enumerate((("PCA, 2 components", pca_2d), ("VAE, L = 2: posterior means", vae_2d))):
            ax = fig.add_subplot(1, 3, i + 2)
            ax.scatter(points[:, 0], points[:, 1], c=colours(test_labels % 10), s=3, alpha=0.6)
            ax.set_title(title, fontsize=9)
        ax.legend(handles=[plotting.pyplot().Line2D([], [], marker="o", linestyle="", color=colours(d), label=str(d))
                           for d in range(10)], fontsize=7, loc="upper right", title="digit")
        fig.set_size_inches(14, 4.5)
    write_outputs(args.out_dir, results, summary, figure)
    return results


# ---------------------------------------------------------------------------
# The command line

EXPERIMENTS = {
    "estimators": (run_estimators, "two models, 30 epochs each: about 4 min here", 30),
    "latent-dim": (run_latent_dim, "seven models, 20 epochs each: about 8 min here", 20),
    "decoders": (run_decoders, "three models, 20 epochs each: about 5 min here", 20),
    "pca": (run_pca, "seconds with the shipped checkpoints (docs/), else two models of 30 epochs", 30),
}
QUICK = {"num_train": 400, "num_test": 200, "epochs": 2, "draws": 5, "latent_dims": [2, 5], "measure_at": [1, 2],
         "iwae_samples": 5, "iwae_images": 50, "pca_images": 400, "hidden_units": 50}


def parse_args(argv=None):
    p = options.ArgumentParser(
        prog="experiments.py", formatter_class=options.HelpFormatter,
        description="The lecture notes' experiments on the practical's VAE. Each writes figure.png,\n"
                    "results.json, summary.md and its models' checkpoints to experiments/NAME/.\n"
                    + "\n".join("  %-11s %s" % (k, v[1]) for k, v in EXPERIMENTS.items()))
    p.add_argument("name", choices=sorted(EXPERIMENTS), help="which experiment")
    p.add_argument("--quick", action="store_true", help="a few hundred images and 2 epochs: a check in seconds")
    p.add_argument("--out-dir", metavar="DIR", help="where the outputs go (default experiments/NAME)")
    p.add_argument("--epochs", type=options.positive_int, metavar="N",
                   help="epochs per model (default: estimators 30, latent-dim 20, decoders 20, pca 30 "
                        "when it has to train)")
    p.add_argument("--num-train", type=options.positive_int, default=60000, metavar="N", help="training images")
    p.add_argument("--num-test", type=options.positive_int, default=10000, metavar="N", help="test images")
    p.add_argument("--latent-dim", type=options.positive_int, default=50, metavar="L",
                   help="the size of z (latent-dim: see --latent-dims)")
    p.add_argument("--latent-dims", type=options.positive_int, nargs="+", default=[2, 5, 10, 20, 50, 100, 200],
                   metavar="L", help="latent-dim: the sizes compared")
    p.add_argument("--hidden-units", type=options.positive_int, default=200, metavar="H", help="units per hidden layer")
    p.add_argument("--batch-size", type=options.positive_int, default=200, metavar="N", help="images per ADAM step")
    p.add_argument("--learning-rate", type=options.positive_float, default=0.001, metavar="ALPHA")
    p.add_argument("--seed", type=options.non_negative_int, default=0, metavar="N")
    p.add_argument("--draws", type=options.positive_int, default=100, metavar="N",
                   help="estimators: noise draws per gradient-variance measurement")
    p.add_argument("--measure-at", type=options.positive_int, nargs="+", default=[1, 5, 30], metavar="EPOCH",
                   help="estimators: after which epochs the gradient variance is measured")
    p.add_argument("--iwae-samples", type=options.positive_int, default=100, metavar="K",
                   help="decoders: importance samples per image for log p(x)")
    p.add_argument("--iwae-images", type=options.positive_int, default=1000, metavar="M",
                   help="decoders: test images for log p(x)")
    p.add_argument("--pca-images", type=options.positive_int, default=10000, metavar="N",
                   help="pca: training images PCA is fit on")
    p.add_argument("--checkpoint", default=os.path.join(HERE, "docs", "default", "params.npz"), metavar="FILE",
                   help="pca: the VAE to compare (vae.py's checkpoint, with --latent-dim); trained here if missing")
    p.add_argument("--checkpoint-2d", default=os.path.join(HERE, "docs", "latent-dim-2", "params.npz"),
                   metavar="FILE", help="pca: the VAE with L = 2; trained here if missing")
    p.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR, metavar="DIR", help="the MNIST files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out-dir")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = QUICK["epochs"] if args.quick else EXPERIMENTS[args.name][2]
    if args.quick:
        for key, value in QUICK.items():
            if key != "epochs":
                setattr(args, key, value)
    if args.num_train > 60000 or args.num_test > 10000:
        p.error("MNIST has 60000 training and 10000 test images")
    if args.batch_size > args.num_train:
        p.error("argument --batch-size: larger than --num-train (%d)" % args.num_train)
    args.out_dir = args.out_dir or os.path.join("experiments", args.name + ("-quick" if args.quick else ""))
    return args


def main(argv=None):
    args = parse_args(argv)
    run = EXPERIMENTS[args.name][0]
    try:
        os.makedirs(args.out_dir, exist_ok=True)
        if os.path.exists(os.path.join(args.out_dir, "results.json")) and not args.overwrite:
            raise UserError("%s holds the results of an earlier run: choose another --out-dir or pass "
                            "--overwrite" % args.out_dir)
        start = time.perf_counter()
        results = run(args)
    except (UserError, data.DataError) as e:
        print("experiments.py: error: %s" % e, file=sys.stderr)
        return 1
    except vae.TrainingDiverged as e:
        print("experiments.py: error: training diverged (%s); try a smaller --learning-rate" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("experiments.py: error: %s: %s" % (e.strerror or e, e.filename or ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("experiments.py: interrupted; the files already written are complete", file=sys.stderr)
        return 130
    print("%s: done in %.0f s; figure.png, results.json and summary.md in %s"
          % (args.name, time.perf_counter() - start, args.out_dir))
    return 0 if results is not None else 1


if __name__ == "__main__":
    sys.exit(main())
