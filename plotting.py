"""Figures: image grids (save_images) and the training curve, written atomically.

matplotlib's Agg backend is used throughout, so no display is ever needed.
"""
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(file_name, write):
    """Call write(f) on a temporary file beside file_name, then rename it into place.

    A crash or Ctrl-C midway leaves the old file (or none), never half of one.
    """
    directory = os.path.dirname(os.path.abspath(file_name))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(file_name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, file_name)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_figure(fig, file_name, dpi=100):
    atomic_write(file_name, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)


def image_grid(images, ims_per_row=5, padding=2, pad_value=1.0):
    """Tile (n, 784) images into one 2-D array, ims_per_row across, padding between."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 2 or images.shape[1] != 784:
        raise ValueError("save_images expects images of shape (n, 784), got %s" % (images.shape,))
    n = len(images)
    rows = int(np.ceil(n / ims_per_row))
    cell = 28 + padding
    grid = np.full((rows * cell + padding, ims_per_row * cell + padding), pad_value)
    for i, image in enumerate(images):
        r, c = divmod(i, ims_per_row)
        grid[padding + r * cell:padding + r * cell + 28,
             padding + c * cell:padding + c * cell + 28] = image.reshape(28, 28)
    return grid


def save_images(images, file_name, ims_per_row=5, vmin=0.0, vmax=1.0, cmap="binary", scale=1.0):
    """Write a grid of 28x28 images to a PNG file.

    images: (n, 784), pixel values between vmin and vmax (ink dark on white).
    ims_per_row: images across; rows as many as needed. scale: inches per image / 0.5.
    """
    grid = image_grid(images, ims_per_row, pad_value=vmin)
    height, width = grid.shape
    fig = plt.figure(figsize=(scale * width / 60.0, scale * height / 60.0))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    save_figure(fig, file_name)


def plot_training_curve(history, file_name):
    """Train and test ELBO (nats per image) against epoch, from metrics' history."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_elbo"] for h in history], "o-", label="train ELBO (running mean over the epoch)")
    ax.plot(epochs, [h["test_elbo"] for h in history], "s-", label="test ELBO (after the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("ELBO (nats per image)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, file_name)
