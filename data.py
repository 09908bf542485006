"""MNIST from the four original IDX files shipped in mnist/, checked and binarised.

Nothing is downloaded: the files live in the repository and their SHA-256 sums
are checked against the table below before a byte of them is used.
"""
import gzip
import hashlib
import os
import struct

import numpy as np

from plotting import plot_images, save_images  # noqa: F401  (the original handout imports them from here)

DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist")

# name -> (SHA-256 of the .gz file, IDX magic number, shape)
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 2051, (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 2049, (60000,)),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 2051, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 2049, (10000,)),
}

# The test set is binarised once, with this seed, whatever the training seed:
# every run is scored on the same binary images.
TEST_BINARISATION_SEED = 0


class DataError(Exception):
    """A data file is missing, corrupt or not in the IDX format."""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_idx(path, expected_magic, expected_shape, count=None):
    """Parse a gzipped IDX file into a uint8 array of `expected_shape`, or of its first
    `count` items only (the rest is never decompressed).

    IDX: big-endian int32 magic (2049 labels, 2051 images), one int32 per
    dimension, then the raw uint8 values, row-major.
    """
    ndim = len(expected_shape)
    item = int(np.prod(expected_shape[1:]))
    with gzip.open(path, "rb") as f:
        raw = f.read() if count is None else f.read(4 * (1 + ndim) + count * item)
    magic, *dims = struct.unpack(">%dI" % (1 + ndim), raw[:4 * (1 + ndim)])
    if magic != expected_magic or tuple(dims) != tuple(expected_shape):
        raise DataError("%s: header says magic %d, shape %s; expected magic %d, shape %s"
                        % (path, magic, tuple(dims), expected_magic, tuple(expected_shape)))
    shape = tuple(expected_shape) if count is None else (min(count, expected_shape[0]),) + tuple(expected_shape[1:])
    values = np.frombuffer(raw, np.uint8, offset=4 * (1 + ndim))
    if values.size != np.prod(shape):
        raise DataError("%s: %d values after the header, expected %d"
                        % (path, values.size, np.prod(shape)))
    return values.reshape(shape)


def load_raw(name, data_dir=DEFAULT_DATA_DIR, count=None):
    """The uint8 array stored in one of the four MNIST files (its first count items if given),
    the whole file's checksum verified."""
    checksum, magic, shape = MNIST_FILES[name]
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
        raise DataError("MNIST file %s is missing; the four original files ship in the "
                        "repository's mnist/ folder (or point --data-dir at a copy)" % path)
    found = sha256(path)
    if found != checksum:
        raise DataError("MNIST file %s is corrupt or truncated: SHA-256 %s..., expected %s...; "
                        "restore it from the repository (git checkout -- mnist/)"
                        % (path, found[:12], checksum[:12]))
    return read_idx(path, magic, shape, count)


def load_mnist(data_dir=DEFAULT_DATA_DIR, dtype=np.float32, count=None):
    """MNIST as autograd's examples return it.

    Returns (N, train_images, train_labels, test_images, test_labels): N = 60000,
    images of shape (n, 784) with grey levels in [0, 1], labels one-hot (n, 10).
    count: only the first count images of each set (N = count), read in milliseconds.
    """
    if not os.path.isdir(data_dir):
        raise DataError("data directory %s does not exist; the MNIST files ship in the "
                        "repository's mnist/ folder" % data_dir)

    def images(name):
        pixels = load_raw(name, data_dir, count).reshape(-1, 784).astype(dtype)
        pixels /= 255  # in place: the training set is 188 MB in float32
        return pixels

    def one_hot(name):
        labels = load_raw(name, data_dir, count)
        return (labels[:, None] == np.arange(10)).astype(dtype)

    train_images = images("train-images-idx3-ubyte.gz")
    test_images = images("t10k-images-idx3-ubyte.gz")
    return (len(train_images), train_images, one_hot("train-labels-idx1-ubyte.gz"),
            test_images, one_hot("t10k-labels-idx1-ubyte.gz"))


def binarise(images, rng):
    """Section 4: pixel = 1 if its grey level is above u ~ U[0, 1], else 0.

    images: (n, 784) in [0, 1]; rng: a numpy Generator. Returns the same shape
    and dtype, values in {0, 1}.
    """
    return (images > rng.random(images.shape, dtype=np.float32)).astype(images.dtype)


def binarised_test_images(test_images):
    """The test set binarised once, identically in every run."""
    return binarise(test_images, np.random.default_rng(TEST_BINARISATION_SEED))
