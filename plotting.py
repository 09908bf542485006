"""Figures: image grids (save_images) and the training curve, written atomically.

matplotlib's Agg backend is used throughout, so no display is ever needed.
"""
import os
import tempfile

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported at first use: importing vae.py (in each
    run and in each grading worker) then costs no matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def atomic_write(file_name, write, mode=None):
    """Call write(f) on a temporary file beside file_name, then rename it into place, with the
    usual mode (the umask's), or mode (0o600: for its owner alone).

    A crash or Ctrl-C midway leaves the old file (or none), never half of one. The project's
    one way to write a file: figures, checkpoints, reports, results, grades.
    """
    directory = os.path.dirname(os.path.abspath(file_name))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(file_name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp, file_name)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_figure(fig, file_name, dpi=100):
    atomic_write(file_name, lambda f: fig.savefig(f, format="png", dpi=dpi))
    pyplot().close(fig)


def image_grid(images, ims_per_row=5, padding=2, pad_value=1.0):
    """Tile images, (n, 784) or (n, 28, 28) (or one image), into one 2-D array, ims_per_row
    across, padding between."""
    images = np.asarray(images, dtype=float)
    if images.size % 784 or images.shape[-1:] not in ((784,), (28,)) or images.ndim > 3:
        raise ValueError("save_images expects images of shape (n, 784) or (n, 28, 28), got %s" % (images.shape,))
    images = images.reshape(-1, 784)
    n = len(images)
    rows = int(np.ceil(n / ims_per_row))
    cell = 28 + padding
    grid = np.full((rows * cell + padding, ims_per_row * cell + padding), pad_value)
    for i, image in enumerate(images):
        r, c = divmod(i, ims_per_row)
        grid[padding + r * cell:padding + r * cell + 28,
             padding + c * cell:padding + c * cell + 28] = image.reshape(28, 28)
    return grid


def save_images(images, file_name, ims_per_row=5, vmin=0.0, vmax=1.0, cmap="binary", scale=3):
    """Write a grid of 28x28 images to a PNG file.

    images: (n, 784), pixel values between vmin and vmax (ink dark on white).
    ims_per_row: images across; rows as many as needed. scale: screen pixels per
    image pixel, so the PNG is exactly scale * (30 * ims_per_row + 2) pixels wide.
    """
    grid = image_grid(images, ims_per_row, pad_value=vmin)
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    atomic_write(file_name, lambda f: pyplot().imsave(f, grid, cmap=cmap, vmin=vmin, vmax=vmax, format="png"))


def plot_images(images, ax, ims_per_row=5, padding=5, digit_dimensions=(28, 28), cmap=None, vmin=None, vmax=None):
    """The original handout's data.plot_images: the grid of images drawn on the axes ax."""
    grid = image_grid(images, ims_per_row, padding, pad_value=0.0 if vmin is None else vmin)
    shown = ax.matshow(grid, cmap=cmap or pyplot().cm.binary, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def plot_training_curve(history, file_name):
    """Train and test ELBO (nats per image) against epoch, from metrics' history."""
    epochs = [h["epoch"] for h in history]
    fig, ax = pyplot().subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_elbo"] for h in history], "o-", label="train ELBO (running mean over the epoch)")
    ax.plot(epochs, [h["test_elbo"] for h in history], "s-", label="test ELBO (after the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("ELBO (nats per image)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, file_name)


def project_to_2d(points, method="pca", seed=0, max_points=2000):
    """Points (n, L) -> (coordinates (m, 2), indices of the m points used, axis names).

    L = 2: the points themselves. Otherwise PCA (all points) or t-SNE (a seeded
    subsample of max_points, since it is slow), both from scikit-learn.
    """
    n, latent_dim = points.shape
    if latent_dim == 2:
        return points, np.arange(n), ("$z_1$", "$z_2$")
    if latent_dim == 1:
        return np.column_stack([points[:, 0], np.zeros(n)]), np.arange(n), ("$z_1$", "")
    if method == "pca":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2, random_state=seed).fit(points)
        share = 100 * pca.explained_variance_ratio_
        return pca.transform(points), np.arange(n), (
            "principal component 1 (%.0f%% of variance)" % share[0],
            "principal component 2 (%.0f%% of variance)" % share[1])
    if method == "tsne":
        from sklearn.manifold import TSNE
        used = np.sort(np.random.default_rng(seed).permutation(n)[:max_points])
        print("Running t-SNE on %d test images (this takes a minute or so)..." % len(used), flush=True)
        perplexity = min(30.0, (len(used) - 1) / 3.0)
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca",
                      random_state=seed).fit_transform(points[used])
        return coords, used, ("t-SNE 1", "t-SNE 2")
    raise ValueError("unknown projection %r: use 'pca' or 'tsne'" % method)


def plot_latent_space(points, labels, file_name, method="pca", seed=0):
    """Scatter of posterior means (n, L), coloured by digit label (n,), with a legend."""
    coords, used, (xlabel, ylabel) = project_to_2d(np.asarray(points), method, seed)
    labels = np.asarray(labels)[used]
    plt = pyplot()
    colours = plt.get_cmap("tab10")
    # One scatter in a shuffled order, so that no digit is painted over all the others.
    order = np.random.default_rng(seed).permutation(len(coords))
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(coords[order, 0], coords[order, 1], s=3, alpha=0.6, c=colours(labels[order]),
               rasterized=True)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours(d), label=str(d))
               for d in range(10)]
    ax.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("Posterior means of %d test images" % len(coords))
    fig.tight_layout()
    save_figure(fig, file_name)
