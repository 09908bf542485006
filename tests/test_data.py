"""data.py (MNIST from the shipped IDX files, checksums, binarisation) and plotting.py."""
import gzip
import os
import struct

import matplotlib.image as mpimg
import numpy as np
import pytest

import data
import plotting

MNIST_DIR = data.DEFAULT_DATA_DIR


def only_zeros_and_ones(a):
    return bool(np.all((a == 0) | (a == 1))) and a.min() == 0 and a.max() == 1


# ---------------------------------------------------------------------------
# load_mnist

def test_load_mnist_shapes_and_types(mnist):
    """autograd's examples' layout: (N, train images, train labels, test images, test labels)."""
    N, train_images, train_labels, test_images, test_labels = mnist
    assert N == 60000
    assert train_images.shape == (60000, 784) and test_images.shape == (10000, 784)
    assert train_labels.shape == (60000, 10) and test_labels.shape == (10000, 10)
    for a in (train_images, test_images):
        assert np.issubdtype(a.dtype, np.floating)


def test_load_mnist_grey_levels_in_unit_interval(mnist):
    """Bytes / 255: catches no scaling, / 256, or signed bytes."""
    for images in (mnist[1], mnist[3]):
        assert images.min() == 0.0 and images.max() == 1.0
    # The well-known MNIST mean grey levels (0.1307 train, 0.1325 test): catches a shifted
    # header offset or the two files swapped.
    assert mnist[1].mean() == pytest.approx(0.1307, abs=5e-4)
    assert mnist[3].mean() == pytest.approx(0.1325, abs=5e-4)


def test_load_mnist_labels_are_one_hot_and_right(mnist):
    """One 1 per row; known facts: first training label 5, first test label 7, and the
    number of each digit (catches labels misaligned with images or a wrong offset)."""
    train_labels, test_labels = mnist[2], mnist[4]
    for labels in (train_labels, test_labels):
        assert only_zeros_and_ones(labels)
        np.testing.assert_array_equal(labels.sum(axis=1), 1)
    assert train_labels[0].argmax() == 5 and test_labels[0].argmax() == 7
    np.testing.assert_array_equal(test_labels.sum(axis=0),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    np.testing.assert_array_equal(train_labels.sum(axis=0),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])


def test_first_training_image_is_a_five_in_the_middle(mnist):
    """Row-major 28 x 28: the ink of the first image is away from the border."""
    image = mnist[1][0].reshape(28, 28)
    assert image[:3].sum() == 0 and image[-3:].sum() == 0 and image[:, :3].sum() == 0
    assert image[8:20, 8:20].sum() > 20


# ---------------------------------------------------------------------------
# Checksums and the IDX format

@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_corrupt_file_raises_data_error(broken_mnist, how):
    """A flipped byte or a truncated file is caught by the SHA-256 check, naming the file."""
    folder = broken_mnist("train-images-idx3-ubyte.gz", how)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz is corrupt or truncated"):
        data.load_mnist(folder)


def test_valid_idx_file_with_wrong_checksum_is_rejected(tmp_path):
    """A well-formed file that is not the original (all labels 0) fails the checksum: catches
    checking only the header."""
    name = "t10k-labels-idx1-ubyte.gz"
    with gzip.open(tmp_path / name, "wb") as f:
        f.write(struct.pack(">II", 2049, 10000) + bytes(10000))
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_raw(name, str(tmp_path))


def test_missing_file_raises_data_error(broken_mnist):
    folder = broken_mnist("train-images-idx3-ubyte.gz", "remove")
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz is missing"):
        data.load_mnist(folder)


def test_missing_directory_raises_data_error(tmp_path):
    with pytest.raises(data.DataError, match="does not exist"):
        data.load_mnist(str(tmp_path / "nowhere"))


def write_idx(path, magic, dims, values):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">%dI" % (1 + len(dims)), magic, *dims) + bytes(values))


def test_read_idx_parses_big_endian_header_and_row_major_values(tmp_path):
    """Catches a little-endian header or values read in the wrong order."""
    write_idx(tmp_path / "ok.gz", 2051, (2, 3, 4), range(24))
    np.testing.assert_array_equal(data.read_idx(str(tmp_path / "ok.gz"), 2051, (2, 3, 4)),
                                  np.arange(24).reshape(2, 3, 4))


@pytest.mark.parametrize("magic, dims, count", [
    (2049, (2, 3, 4), 24),   # a label file's magic number where images are expected
    (2051, (2, 4, 3), 24),   # other dimensions
    (2051, (2, 3, 4), 23),   # one value short
    (2051, (2, 3, 4), 25),   # one value too many
])
def test_read_idx_rejects_wrong_header_or_size(tmp_path, magic, dims, count):
    write_idx(tmp_path / "bad.gz", magic, dims, [0] * count)
    with pytest.raises(data.DataError, match="bad.gz"):
        data.read_idx(str(tmp_path / "bad.gz"), 2051, (2, 3, 4))


def test_the_first_items_are_read_alone(tmp_path):
    """count reads the first items as the whole file has them; asking for more gives what there is."""
    write_idx(tmp_path / "ok.gz", 2051, (5, 2, 3), range(30))
    whole = data.read_idx(str(tmp_path / "ok.gz"), 2051, (5, 2, 3))
    np.testing.assert_array_equal(data.read_idx(str(tmp_path / "ok.gz"), 2051, (5, 2, 3), count=2), whole[:2])
    np.testing.assert_array_equal(data.read_idx(str(tmp_path / "ok.gz"), 2051, (5, 2, 3), count=9), whole)
    n, train, train_labels, test, test_labels = data.load_mnist(MNIST_DIR, count=30)
    assert n == 30 and train.shape == test.shape == (30, 784) and train_labels.shape == (30, 10)
    _, all_train, _, all_test, all_labels = data.load_mnist(MNIST_DIR)
    np.testing.assert_array_equal(train, all_train[:30])
    np.testing.assert_array_equal(test, all_test[:30])
    np.testing.assert_array_equal(test_labels, all_labels[:30])


def test_shipped_checksums_match_sha256sums_file():
    """The table in data.py agrees with mnist/SHA256SUMS."""
    with open(os.path.join(MNIST_DIR, "SHA256SUMS")) as f:
        listed = dict(reversed(line.split()) for line in f if line.strip())
    assert listed == {name: entry[0] for name, entry in data.MNIST_FILES.items()}


# ---------------------------------------------------------------------------
# Binarisation (section 4)

def test_binarise_gives_zeros_and_ones_of_the_same_shape(mnist):
    images = mnist[1][:100]
    binary = data.binarise(images, np.random.default_rng(0))
    assert binary.shape == images.shape and binary.dtype == images.dtype
    assert only_zeros_and_ones(binary)


def test_binarise_is_reproducible_with_the_same_seed(mnist):
    images = mnist[1][:100]
    a = data.binarise(images, np.random.default_rng(5))
    np.testing.assert_array_equal(a, data.binarise(images, np.random.default_rng(5)))
    assert not np.array_equal(a, data.binarise(images, np.random.default_rng(6)))


def test_binarise_keeps_grey_level_as_probability(mnist):
    """P(pixel = 1) = grey level: catches a fixed 0.5 threshold or an inverted comparison."""
    images = mnist[1][:2000]
    binary = data.binarise(images, np.random.default_rng(0))
    assert binary.mean() == pytest.approx(images.mean(), abs=2e-3)
    grey = np.full((1000, 784), 0.3, dtype=np.float32)
    assert data.binarise(grey, np.random.default_rng(1)).mean() == pytest.approx(0.3, abs=5e-3)
    assert data.binarise(np.ones((10, 784)), np.random.default_rng(2)).all()
    assert not data.binarise(np.zeros((10, 784)), np.random.default_rng(2)).any()


def test_binarised_test_images_are_the_same_every_time(mnist):
    """Every run is scored on the same binary test set, whatever the global RNG's state."""
    np.random.seed(1)
    a = data.binarised_test_images(mnist[3][:1000])
    np.random.seed(2)
    b = data.binarised_test_images(mnist[3][:1000])
    np.testing.assert_array_equal(a, b)
    assert only_zeros_and_ones(a)


# ---------------------------------------------------------------------------
# plotting.py

def test_save_images_is_reexported_from_data():
    """Old handouts import save_images from data."""
    assert data.save_images is plotting.save_images


def grid_png(images, path, **kwargs):
    """save_images(images, path), read back as a grey-level array (1 = white)."""
    plotting.save_images(images, str(path), **kwargs)
    return mpimg.imread(str(path))[..., :3].mean(axis=2)


def test_save_images_writes_a_5x5_grid(tmp_path):
    """25 images, 5 per row: a square PNG in which every image pixel is at least one screen
    pixel (5 x 28 + padding >= 152); image 0 lands top-left and ink is dark."""
    images = np.zeros((25, 784))
    images[0] = 1.0
    png = grid_png(images, tmp_path / "grid.png")
    height, width = png.shape
    assert height == width >= 152
    cell = width // 5
    assert png[cell // 5:cell * 4 // 5, cell // 5:cell * 4 // 5].mean() < 0.1   # image 0: all ink
    assert png[-cell * 4 // 5:-cell // 5, -cell * 4 // 5:-cell // 5].mean() > 0.9  # image 24: blank


def test_save_images_rows_follow_the_number_of_images(tmp_path):
    """20 images, 5 per row: 4 rows, so height / width = (4 x 30 + 2) / (5 x 30 + 2), as in the
    reconstructions figure (catches rows and columns swapped)."""
    height, width = grid_png(np.zeros((20, 784)), tmp_path / "r.png").shape
    assert height / width == pytest.approx(122 / 152, abs=0.01)


@pytest.mark.parametrize("shape", [(25, 783), (5, 28, 27), (2, 5, 28, 28)])
def test_save_images_rejects_wrong_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=r"\(n, 784\)"):
        plotting.save_images(np.zeros(shape), str(tmp_path / "x.png"))
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("shape", [(784,), (5, 28, 28)])
def test_save_images_takes_what_the_original_took(tmp_path, shape):
    """One image, or images as 28 x 28 arrays (the original handout's plot_images reshaped each)."""
    plotting.save_images(np.zeros(shape), str(tmp_path / "x.png"))
    assert os.listdir(tmp_path) == ["x.png"]


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out.bin"
    plotting.atomic_write(str(path), lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    """A crash midway must leave the previous file whole and no temporary file behind."""
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def failing(f):
        f.write(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.atomic_write(str(path), failing)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
