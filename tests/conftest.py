"""Shared fixtures: tiny float64 networks, MNIST loaded once, one small trained run,
and a helper that runs vae.py in-process with MNIST already in memory.

Test modules take everything from here as fixtures and never `import conftest`. The fixture
submissions' helpers (tests/fixtures: original_variants, student_style) import by name."""
import collections
import contextlib
import io
import json
import os
import shutil
import signal
import sys
import types

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # on sys.path: pytest.ini's pythonpath
FIXTURES = os.path.join(REPO, "tests", "fixtures")
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)

from grading import sandbox  # noqa: E402

# The suite runs on every core (pytest-xdist), so each test process, and every process it starts,
# gets one BLAS thread: the quick suite took 124 s of wall time here (197 s of user CPU) with a
# thread per core in each, and 102 s (145 s) with one.
sandbox.limit_blas(1)

import data  # noqa: E402
import vae  # noqa: E402
from support.checkpoint import load_checkpoint  # noqa: E402

VAE_PY = os.path.join(REPO, "vae.py")
MNIST_DIR = os.path.join(REPO, "mnist")

# A small network on a few hundred images, with a learning rate that makes visible progress
# in 8 steps: an in-process run takes about a second.
SMALL_NET = ["--latent-dim", "8", "--hidden-units", "64"]
SMALL_RUN = ["--epochs", "2", "--num-train", "400", "--batch-size", "100", "--learning-rate", "0.01",
             *SMALL_NET, "--iwae-samples", "5", "--iwae-images", "50", "--quiet"]

def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="run the grading meta-tests in full: every part for each known mistake, ten private "
                          "sets of cases instead of one, every original-format variant, every -k name "
                          "(see README, Tests)")


def pytest_configure(config):
    config.addinivalue_line("markers", "full: a case run only with --full (the default runs a "
                                       "representative part of its family)")


# With -n auto (README), these run on one worker each (--dist loadgroup, pytest.ini): the hostile and
# autograder modules check what their whole module left behind (processes, files), and a class
# graded once (and its report), or the experiments' quick runs made once, serve several tests.
ONE_WORKER_MODULES = ("test_grading_hostile.py", "test_gradescope.py")
ONE_WORKER_FIXTURES = ("graded_class", "quick", "report")


@pytest.hookimpl(tryfirst=True)   # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="run with --full")
    for item in items:
        if item.get_closest_marker("full") and not config.getoption("--full"):
            item.add_marker(skip)
        if item.path.name in ONE_WORKER_MODULES:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
        for name in ONE_WORKER_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))


Result = collections.namedtuple("Result", "code stdout stderr")
Tiny = collections.namedtuple("Tiny", "gen rec x D L")


# ---------------------------------------------------------------------------
# Model helpers

def _forward(params, inputs):
    h = np.asarray(inputs, dtype=float)
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h


@pytest.fixture(scope="session")
def forward():
    """forward(params, inputs): an MLP forward pass written out independently of vae.py,
    ReLU hidden layers and a linear output."""
    return _forward


@pytest.fixture
def tiny():
    """Float64 networks small enough for finite differences: D = 6 pixels, L = 2,
    decoder 2-4-6, encoder 6-4-4 (means then log stds), and 5 binary images."""
    rng = np.random.default_rng(1234)

    def net(sizes, scale):
        return [(scale * rng.standard_normal((m, n)), scale * rng.standard_normal(n))
                for m, n in zip(sizes[:-1], sizes[1:])]
    gen = net([2, 4, 6], 0.6)
    rec = net([6, 4, 4], 0.25)
    x = (rng.random((5, 6)) < 0.5).astype(float)
    return Tiny(gen, rec, x, 6, 2)


# ---------------------------------------------------------------------------
# MNIST, read once per session

@pytest.fixture(scope="session")
def mnist():
    """data.load_mnist() of the shipped files; read-only so no test or run can alter it."""
    arrays = data.load_mnist()
    for a in arrays[1:]:
        a.flags.writeable = False
    return arrays


@contextlib.contextmanager
def cached_mnist(arrays):
    """Make data.load_mnist return the session's arrays for the shipped folder
    (other folders, e.g. corrupt copies, are still read from disk)."""
    real = data.load_mnist

    def load(data_dir=data.DEFAULT_DATA_DIR, *args, **kwargs):
        if os.path.realpath(data_dir) == os.path.realpath(MNIST_DIR) and not args and not kwargs:
            return arrays
        return real(data_dir, *args, **kwargs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "load_mnist", load)
        yield


def run_main(argv):
    """vae.main(argv) in this process: (exit code, stdout, stderr). SystemExit (argparse)
    becomes its code; the SIGINT handler vae installs is put back afterwards."""
    out, err = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGINT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = vae.main(list(argv))
            except SystemExit as e:
                code = e.code
    finally:
        signal.signal(signal.SIGINT, handler)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def vae_main(mnist):
    """vae_main(argv, test_images=None) -> Result(code, stdout, stderr): vae.main in-process
    with MNIST in memory. test_images=n keeps only the first n test images, for tests of the
    control flow that do not look at test metrics (evaluation and figures get cheaper)."""
    def run(argv, test_images=None):
        arrays = mnist if test_images is None else mnist[:3] + (mnist[3][:test_images], mnist[4][:test_images])
        with cached_mnist(arrays):
            return run_main(argv)
    return run


@pytest.fixture(scope="session")
def small_run():
    """The options of the small runs: .argv (without --out-dir), .net (network sizes only),
    .vae_py (the script, for subprocesses)."""
    return types.SimpleNamespace(argv=list(SMALL_RUN), net=list(SMALL_NET), vae_py=VAE_PY)


# ---------------------------------------------------------------------------
# A small trained model, shared by the end-to-end, determinism and IWAE tests

@pytest.fixture(scope="session")
def trained(mnist, tmp_path_factory):
    """SMALL_RUN trained once with seed 0: .out_dir, .argv, .metrics (metrics.json parsed)."""
    out_dir = str(tmp_path_factory.mktemp("trained"))
    argv = SMALL_RUN + ["--out-dir", out_dir]
    with cached_mnist(mnist):
        result = run_main(argv)
    assert result.code == 0, result.stderr
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return types.SimpleNamespace(out_dir=out_dir, argv=argv, metrics=metrics)


@pytest.fixture(scope="session")
def trained_nets(trained):
    """(gen_params, rec_params) of the trained run, read back from its checkpoint."""
    gen_sizes, rec_sizes = vae.layer_sizes(8, 64, 2)
    gen, rec, _ = load_checkpoint(os.path.join(trained.out_dir, "params.npz"), gen_sizes, rec_sizes)
    return gen, rec


# ---------------------------------------------------------------------------
# Damaged copies of the data folder

@pytest.fixture
def broken_mnist(tmp_path):
    """broken_mnist(name, how) -> a folder with the four files linked from mnist/ except
    `name`, which is copied and then damaged: how = "truncate", "flip" or "remove"."""
    def make(name, how):
        folder = tmp_path / ("mnist_%s" % how)
        folder.mkdir()
        for other in data.MNIST_FILES:
            if other != name:
                os.symlink(os.path.join(MNIST_DIR, other), folder / other)
        if how == "remove":
            return str(folder)
        target = folder / name
        shutil.copyfile(os.path.join(MNIST_DIR, name), target)
        raw = bytearray(target.read_bytes())
        if how == "truncate":
            raw = raw[:len(raw) // 2]
        elif how == "flip":
            raw[len(raw) // 2] ^= 0xFF
        else:
            raise ValueError(how)
        target.write_bytes(bytes(raw))
        return str(folder)
    return make


@pytest.fixture(scope="session")
def vae_main_shared(mnist):
    """vae_main for fixtures of module or session scope, so that several tests can check
    one run: the same call, test_images=n and Result as vae_main."""
    def run(argv, test_images=None):
        arrays = mnist if test_images is None else mnist[:3] + (mnist[3][:test_images], mnist[4][:test_images])
        with cached_mnist(arrays):
            return run_main(argv)
    return run
