"""The outputs of issue 5: latent_space.png, latent_manifold.png, KL warm-up, the ELBO-gap
metrics and report.md. Runs go in-process on a few hundred images (vae_main_shared), and
the functions behind each output are checked against independent computations."""
import json
import os
import re
import shutil
import statistics
import types

import autograd.numpy.random as npr
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

import data
import plotting
from support import report, run as support_run
from support.checkpoint import load_checkpoint
import vae

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRID = 20
# The L = 2 run with warm-up: 3 epochs of 3 batches, 500 test images, no IWAE.
WARMUP_TEST_IMAGES = 500
WARMUP_NET = ["--latent-dim", "2", "--hidden-units", "64"]
WARMUP_RUN = ["--epochs", "3", "--kl-warmup", "2", "--num-train", "300", "--batch-size", "100",
              "--learning-rate", "0.01", *WARMUP_NET, "--iwae-samples", "0", "--quiet"]
IWAE_KEYS = ("test_log_likelihood", "elbo_on_iwae_images", "elbo_gap")
ELBO_KEYS = ("test_elbo", "test_reconstruction", "test_kl", "active_units")


def read(path):
    with open(path) as f:
        return f.read()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hand_terms(forward, gen, rec, x, eps):
    """(log p(x|z) per image, KL(q(z|x) || p(z)) per image), z = mu + sigma * eps, written out."""
    enc = forward(rec, x)
    L = enc.shape[1] // 2
    mu, log_std = enc[:, :L], enc[:, L:]
    logits = forward(gen, mu + np.exp(log_std) * eps)
    log_px = np.sum(x * logits - np.logaddexp(0.0, logits), axis=1)
    kl = np.sum(0.5 * (np.exp(2 * log_std) + mu ** 2 - 1) - log_std, axis=1)
    return log_px, kl


def manifold_values():
    """The N(0, 1) quantiles at (i + 1/2) / 20, from the standard library."""
    return np.array([statistics.NormalDist().inv_cdf((i + 0.5) / GRID) for i in range(GRID)])


def grid_centres(png_width, columns):
    """Screen pixel at the centre of each grid pixel, for a save_images grid `columns` wide."""
    scale = png_width / (30 * columns + 2)
    return lambda grid_pixel: (np.asarray(grid_pixel) + 0.5) * scale


# ---------------------------------------------------------------------------
# Runs shared by several tests

@pytest.fixture(scope="module")
def warmup_run(vae_main_shared, tmp_path_factory):
    """WARMUP_RUN (L = 2, --kl-warmup 2, --iwae-samples 0) with spies on what training and
    the figures receive: .kl_weights (one per ADAM step), .epoch_nets (the networks saved
    after each epoch), .latent_space (plot_latent_space's arguments), .nets (the final
    checkpoint), .test_images (binarised) and .labels of the run's test set."""
    out_dir = str(tmp_path_factory.mktemp("warmup"))
    kl_weights, epoch_nets, latent_space = [], [], []
    real_step, real_save, real_plot = vae.negative_elbo_and_grad, support_run.save_checkpoint, plotting.plot_latent_space

    def step(nets, batch, kl_weight=1.0):
        kl_weights.append(kl_weight)
        return real_step(nets, batch, kl_weight)

    def save(path, gen, rec, config, history, state=None):
        epoch_nets.append(([(W.copy(), b.copy()) for W, b in gen], [(W.copy(), b.copy()) for W, b in rec]))
        return real_save(path, gen, rec, config, history, state)

    def plot(points, labels, file_name, *args, **kwargs):
        latent_space.append((np.array(points), np.array(labels), file_name, args, kwargs))
        return real_plot(points, labels, file_name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vae, "negative_elbo_and_grad", step)
        mp.setattr(support_run, "save_checkpoint", save)
        mp.setattr(plotting, "plot_latent_space", plot)
        result = vae_main_shared(WARMUP_RUN + ["--out-dir", out_dir], test_images=WARMUP_TEST_IMAGES)
    assert result.code == 0, result.stderr
    gen_sizes, rec_sizes = vae.layer_sizes(2, 64, 2)
    gen, rec, _ = load_checkpoint(os.path.join(out_dir, "params.npz"), gen_sizes, rec_sizes)
    return types.SimpleNamespace(
        out_dir=out_dir, result=result, metrics=json.loads(read(os.path.join(out_dir, "metrics.json"))),
        kl_weights=kl_weights, epoch_nets=epoch_nets, latent_space=latent_space, nets=(gen, rec))


@pytest.fixture(scope="module")
def warmup_test_set(mnist):
    """The warm-up run's test set as vae.run sees it: (binarised images, digit labels)."""
    images = data.binarised_test_images(mnist[3][:WARMUP_TEST_IMAGES])
    return images, np.argmax(mnist[4][:WARMUP_TEST_IMAGES], axis=1)


@pytest.fixture(scope="module")
def rerun_l8(warmup_run, vae_main_shared, small_run, tmp_path_factory):
    """A copy of the warm-up run's folder, then an L = 8 run with --latent-plot tsne into it
    (60 test images, so that t-SNE is quick)."""
    out_dir = str(tmp_path_factory.mktemp("rerun") / "out")
    shutil.copytree(warmup_run.out_dir, out_dir)
    assert os.path.exists(os.path.join(out_dir, "latent_manifold.png"))
    argv = ["--epochs", "1", "--num-train", "300", "--batch-size", "100", *small_run.net,
            "--iwae-samples", "5", "--iwae-images", "50", "--latent-plot", "tsne", "--quiet",
            "--out-dir", out_dir, "--overwrite"]
    result = vae_main_shared(argv, test_images=60)
    assert result.code == 0, result.stderr
    return types.SimpleNamespace(out_dir=out_dir, result=result)


# ---------------------------------------------------------------------------
# latent_space.png and plotting.project_to_2d

def test_latent_space_png_is_written_with_a_legend(trained):
    """A real PNG of the figure's size with all ten digit colours (the legend): catches a
    missing, empty or uncoloured figure."""
    path = os.path.join(trained.out_dir, "latent_space.png")
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    png = mpimg.imread(path)
    assert 300 <= min(png.shape[:2]) and max(png.shape[:2]) <= 3000
    assert png[..., :3].std() > 0.01
    rgb = np.round(png[..., :3] * 255).astype(np.int64).reshape(-1, 3)
    present = np.unique(rgb @ [65536, 256, 1])
    for digit in range(10):
        colour = np.round(np.array(plt.get_cmap("tab10")(digit)[:3]) * 255).astype(np.int64)
        assert np.isin(colour @ [65536, 256, 1], present), "no pixel of digit %d's colour" % digit


def test_latent_space_plots_the_posterior_means_of_the_test_images(warmup_run, warmup_test_set, forward):
    """write_figures passes the means of q(z|x) of every binarised test image and their digit
    labels: catches log stds, grey-level images, one-hot labels or a subset."""
    (points, labels, file_name, args, kwargs), = warmup_run.latent_space
    images, digits = warmup_test_set
    gen, rec = warmup_run.nets
    np.testing.assert_allclose(points, forward(rec, images)[:, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, digits)
    assert file_name == os.path.join(warmup_run.out_dir, "latent_space.png")
    assert (args[:1] or (kwargs.get("method", "pca"),))[0] == "pca"


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_project_to_2d_keeps_two_dimensional_points(method):
    """L = 2: the coordinates are the means themselves, all of them, whatever the method."""
    points = np.random.default_rng(0).standard_normal((30, 2))
    coords, used, _ = plotting.project_to_2d(points, method)
    np.testing.assert_array_equal(coords, points)
    np.testing.assert_array_equal(used, np.arange(30))


def test_project_to_2d_pca_matches_the_principal_components():
    """L > 2: all points, projected on the two leading principal axes (SVD of the centred
    points, up to the sign of each axis): catches no centring, the wrong axes or a subsample."""
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    points = (rng.standard_normal((200, 5)) * [5.0, 2.0, 1.0, 0.5, 0.1]) @ rotation + 3.0
    coords, used, _ = plotting.project_to_2d(points, "pca")
    np.testing.assert_array_equal(used, np.arange(200))
    assert coords.shape == (200, 2)
    centred = points - points.mean(axis=0)
    expected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    for j in range(2):
        sign = np.sign(coords[:, j] @ expected[:, j])
        np.testing.assert_allclose(coords[:, j], sign * expected[:, j], atol=1e-8)


@pytest.mark.full   # t-SNE's optimisation takes several seconds
def test_project_to_2d_tsne_on_a_seeded_subsample(capsys):
    """t-SNE uses max_points points, says so, returns their sorted indices and the same
    result for the same seed; the coordinates belong to those indices (three separated
    clusters stay apart under their own labels)."""
    rng = np.random.default_rng(2)
    clusters = np.repeat(np.arange(3), 20)
    points = 8.0 * np.eye(5)[clusters] + rng.standard_normal((60, 5))
    coords, used, _ = plotting.project_to_2d(points, "tsne", seed=3, max_points=50)
    message = capsys.readouterr().out
    assert "t-SNE" in message and "50" in message
    assert coords.shape == (50, 2) and np.all(np.isfinite(coords))
    assert len(used) == 50 and np.all(np.diff(used) > 0) and 0 <= used[0] and used[-1] < 60
    again, used_again, _ = plotting.project_to_2d(points, "tsne", seed=3, max_points=50)
    np.testing.assert_array_equal(used_again, used)
    np.testing.assert_array_equal(again, coords)
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    labels = clusters[used]
    assert np.all(labels[np.argmin(distances, axis=1)] == labels)


def test_project_to_2d_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="umap"):
        plotting.project_to_2d(np.zeros((10, 5)), "umap")


def test_latent_plot_tsne_from_the_command_line(rerun_l8):
    """--latent-plot tsne reaches t-SNE (its progress message) and writes latent_space.png."""
    assert "t-SNE" in rerun_l8.result.stdout
    with open(os.path.join(rerun_l8.out_dir, "latent_space.png"), "rb") as f:
        assert f.read(8) == PNG_MAGIC


# ---------------------------------------------------------------------------
# latent_manifold.png and vae.latent_manifold

def test_latent_manifold_grid_is_the_normal_quantiles(tiny):
    """400 rows of z at the (i + 1/2) / 20 quantiles of N(0, 1), from the top row (largest
    z_2) down and z_1 rising left to right: catches linspace grids, other quantiles or a
    transposed or flipped grid."""
    z, _ = vae.latent_manifold(tiny.gen)
    values = manifold_values()
    assert z.shape == (GRID * GRID, 2)
    for row in range(GRID):
        for column in range(GRID):
            np.testing.assert_allclose(z[row * GRID + column], [values[column], values[GRID - 1 - row]],
                                       rtol=0, atol=1e-9, err_msg="cell (%d, %d)" % (row, column))


def test_latent_manifold_decodes_its_grid(tiny, forward):
    """Cell (row 3, column 7) holds sigmoid(f(z)) of its own z, f the decoder written out:
    catches logits instead of probabilities or probabilities of another cell."""
    z, probabilities = vae.latent_manifold(tiny.gen)
    values = manifold_values()
    cell = 3 * GRID + 7
    z_cell = np.array([[values[7], values[GRID - 1 - 3]]])
    assert probabilities.shape == (GRID * GRID, tiny.D)
    np.testing.assert_allclose(probabilities[cell], sigmoid(forward(tiny.gen, z_cell))[0], rtol=1e-9)
    np.testing.assert_allclose(probabilities, sigmoid(forward(tiny.gen, z)), rtol=1e-9)


def test_latent_manifold_png_shows_the_decoded_grid(warmup_run):
    """L = 2: latent_manifold.png is the 20 x 20 grid of the checkpoint's latent_manifold,
    ink dark (pixel = 1 - probability), in the grid's order."""
    path = os.path.join(warmup_run.out_dir, "latent_manifold.png")
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    png = mpimg.imread(path)[..., 0]
    assert png.shape[0] == png.shape[1] >= 30 * GRID + 2
    _, probabilities = vae.latent_manifold(warmup_run.nets[0])
    centre = grid_centres(png.shape[1], GRID)
    shown = np.empty((GRID * GRID, 784))
    pixels = np.arange(28)
    for cell in range(GRID * GRID):
        row, column = divmod(cell, GRID)
        ys = centre(2 + 30 * row + pixels).astype(int)
        xs = centre(2 + 30 * column + pixels).astype(int)
        shown[cell] = 1.0 - png[np.ix_(ys, xs)].ravel()
    np.testing.assert_allclose(shown, probabilities, atol=0.01)


def test_latent_manifold_png_only_for_two_latent_dimensions(trained, rerun_l8):
    """Not written for L = 8, and an L = 8 run removes an earlier L = 2 run's manifold from
    the same folder (so report.md cannot show a stale figure)."""
    assert not os.path.exists(os.path.join(trained.out_dir, "latent_manifold.png"))
    assert not os.path.exists(os.path.join(rerun_l8.out_dir, "latent_manifold.png"))
    assert "latent_manifold.png" not in read(os.path.join(rerun_l8.out_dir, "report.md"))


# ---------------------------------------------------------------------------
# KL warm-up

@pytest.mark.parametrize("warmup, betas", [
    (4, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]),
    (2, [0.0, 0.5, 1.0, 1.0]),
    (1, [0.0, 1.0, 1.0]),
    (0, [1.0, 1.0, 1.0]),
])
def test_kl_weight_schedule(warmup, betas):
    """beta = 0 in epoch 1, rising by 1/W per epoch, 1 from epoch W + 1 on; always 1 when W = 0:
    catches starting above 0, reaching 1 early or late, or going past 1."""
    assert [vae.kl_weight_schedule(epoch, warmup) for epoch in range(1, len(betas) + 1)] == \
        pytest.approx(betas, abs=1e-12)
    assert vae.kl_weight_schedule(1000, warmup) == 1.0


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_negative_elbo_weights_the_kl_term(tiny, forward, beta):
    """-(mean log p(x|z) - beta mean KL) with one z ~ q(z|x) from the global RNG, written out:
    catches weighting the reconstruction, a second noise draw or beta ignored."""
    npr.seed(5)
    eps = npr.randn(len(tiny.x), tiny.L)
    log_px, kl = hand_terms(forward, tiny.gen, tiny.rec, tiny.x, eps)
    npr.seed(5)
    value = vae.negative_elbo((tiny.gen, tiny.rec), tiny.x, beta)
    assert float(value) == pytest.approx(-(log_px.mean() - beta * kl.mean()), rel=1e-10)


def test_negative_elbo_at_beta_one_is_minus_the_lower_bound(tiny):
    """The default and beta = 1 are the practical's objective, -vae_lower_bound."""
    npr.seed(6)
    bound = vae.vae_lower_bound(tiny.gen, tiny.rec, tiny.x)
    for args in ((), (1.0,)):
        npr.seed(6)
        assert float(vae.negative_elbo((tiny.gen, tiny.rec), tiny.x, *args)) == pytest.approx(-bound, rel=1e-12)


def test_negative_elbo_gradient_includes_the_weighted_kl(tiny):
    """The gradient at beta = 0.5 matches central differences of the weighted objective
    (same noise each time): catches a KL term that is not differentiated."""
    nets = (tiny.gen, tiny.rec)
    theta = vae.flatten(nets)

    def loss(flat):
        npr.seed(7)
        return float(vae.negative_elbo(vae.unflatten(flat, nets), tiny.x, 0.5))
    npr.seed(7)
    _, grads = vae.negative_elbo_and_grad(nets, tiny.x, 0.5)
    step = 1e-6
    numeric = np.array([(loss(theta + step * e) - loss(theta - step * e)) / (2 * step)
                        for e in np.eye(len(theta))])
    np.testing.assert_allclose(vae.flatten(grads), numeric, rtol=1e-5, atol=1e-6)


def test_warmup_records_beta_per_epoch(warmup_run):
    """--kl-warmup 2 --epochs 3: history kl_weight is [0, 0.5, 1]."""
    assert [h["kl_weight"] for h in warmup_run.metrics["history"]] == [0.0, 0.5, 1.0]


def test_warmup_beta_reaches_every_training_step(warmup_run):
    """Every ADAM step of epoch e uses that epoch's beta (3 batches per epoch): catches a
    beta that is recorded but not trained with."""
    assert warmup_run.kl_weights == [0.0] * 3 + [0.5] * 3 + [1.0] * 3


def test_warmup_test_elbo_is_the_true_elbo(warmup_run, warmup_test_set):
    """Each epoch's test ELBO, and the final one, are vae.test_elbo (beta = 1) of that epoch's
    networks: catches reporting the beta-weighted objective while beta < 1."""
    images, _ = warmup_test_set
    history = warmup_run.metrics["history"]
    assert len(warmup_run.epoch_nets) >= len(history)
    for entry, (gen, rec) in zip(history, warmup_run.epoch_nets):
        assert entry["test_elbo"] == pytest.approx(vae.test_elbo(gen, rec, images), rel=1e-6), entry
    assert warmup_run.metrics["test_elbo"] == pytest.approx(vae.test_elbo(*warmup_run.nets, images), rel=1e-6)


def test_no_kl_weight_without_warmup(trained):
    """README: kl_weight is in history only with --kl-warmup; without it nothing changes."""
    assert trained.metrics["config"]["kl_warmup"] == 0
    assert all("kl_weight" not in h for h in trained.metrics["history"])


# ---------------------------------------------------------------------------
# The ELBO gap, the terms of the ELBO, active units

def test_metrics_have_the_elbo_gap_keys(trained):
    """All seven numbers present and finite, active_units an integer, the ELBO the
    reconstruction term minus the KL, the gap log p(x) minus the ELBO of the same images."""
    m = trained.metrics
    for key in ELBO_KEYS + IWAE_KEYS:
        assert isinstance(m[key], (int, float)) and np.isfinite(m[key]), key
    assert isinstance(m["active_units"], int)
    assert m["test_kl"] >= 0
    assert m["test_reconstruction"] - m["test_kl"] == pytest.approx(m["test_elbo"], rel=1e-12, abs=1e-9)
    assert m["elbo_gap"] == pytest.approx(m["test_log_likelihood"] - m["elbo_on_iwae_images"], abs=1e-9)


def test_no_iwae_gives_null_gap_metrics(warmup_run):
    """--iwae-samples 0: the three IWAE numbers are null, the ELBO terms still there."""
    m = warmup_run.metrics
    for key in IWAE_KEYS:
        assert key in m and m[key] is None, key
    for key in ELBO_KEYS:
        assert m[key] is not None and np.isfinite(m[key]), key
    assert m["test_reconstruction"] - m["test_kl"] == pytest.approx(m["test_elbo"], rel=1e-12, abs=1e-9)


def test_evaluate_terms_are_the_hand_computed_ones(tiny, forward):
    """test_reconstruction is mean log p(x|z) with the evaluation noise (npr seeded to
    EVAL_SEED), test_kl the closed-form mean KL, active_units counted on the means: catches
    a reconstruction term with KL added twice, a sampled KL or counts on log stds."""
    npr.seed(vae.EVAL_SEED)
    eps = npr.randn(len(tiny.x), tiny.L)
    log_px, kl = hand_terms(forward, tiny.gen, tiny.rec, tiny.x, eps)
    m = vae.evaluate(tiny.gen, tiny.rec, tiny.x, 0, len(tiny.x))
    assert m["test_reconstruction"] == pytest.approx(log_px.mean(), rel=1e-10)
    assert m["test_kl"] == pytest.approx(kl.mean(), rel=1e-10)
    assert m["test_elbo"] == pytest.approx(log_px.mean() - kl.mean(), rel=1e-10)
    means = forward(tiny.rec, tiny.x)[:, :tiny.L]
    assert m["active_units"] == int(np.sum(np.var(means, axis=0) > 0.01))
    for key in IWAE_KEYS:
        assert m[key] is None


def test_gap_is_non_negative_on_a_trained_model(trained_nets, mnist):
    """evaluate with K = 50 on 100 test images: log p(x) is not below the ELBO of the same
    images beyond noise, so the gap (an estimate of a KL) is >= 0 within noise."""
    gen, rec = trained_nets
    images = data.binarised_test_images(mnist[3])[:100]
    m = vae.evaluate(gen, rec, images, 50, 100)
    single = vae.log_importance_weights(gen, rec, images, 1, np.random.default_rng(0))[:, 0]
    noise = 3 * single.std() / np.sqrt(len(images))
    assert np.isfinite(m["elbo_gap"]) and m["test_log_likelihood"] < 0
    assert m["elbo_gap"] == pytest.approx(m["test_log_likelihood"] - m["elbo_on_iwae_images"], abs=1e-9)
    assert m["elbo_on_iwae_images"] == pytest.approx(m["test_elbo"], rel=1e-9)  # the same 100 images
    assert m["elbo_gap"] >= -noise


def columns_with_variances(variances, rows=1000, seed=0):
    """A (rows, len(variances)) matrix whose columns have exactly these variances."""
    g = np.random.default_rng(seed).standard_normal((rows, len(variances)))
    g = (g - g.mean(axis=0)) / g.std(axis=0)
    return g * np.sqrt(variances) + 2.0


def test_active_units_on_a_constructed_example():
    """Variances 1, 0.5, 0.001 across 1000 images: 2 active; with 0.02, 0.011, 0.009, 0.005
    added: 4 (the threshold is 0.01, variance taken across images, not across dimensions)."""
    assert vae.active_units(columns_with_variances([1.0, 0.5, 0.001])) == 2
    assert vae.active_units(columns_with_variances([1.0, 0.5, 0.02, 0.011, 0.009, 0.005, 0.001, 0.0])) == 4


def test_active_units_threshold_is_strict():
    """A constant dimension is inactive even at threshold 0 (variance > threshold, not >=),
    and any variation counts then."""
    assert vae.active_units(np.ones((50, 3)), threshold=0.0) == 0
    assert vae.active_units(columns_with_variances([1e-6, 0.0, 0.0]), threshold=0.0) == 1


def test_active_units_of_the_run(trained, trained_nets, mnist, forward):
    """metrics.json counts the posterior means of all test images, written out here."""
    images = data.binarised_test_images(mnist[3])
    means = forward(trained_nets[1], images)[:, :8]
    assert trained.metrics["active_units"] == int(np.sum(np.var(means, axis=0) > 0.01))


# ---------------------------------------------------------------------------
# report.md

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def tables(text):
    """The Markdown tables of text: lists of consecutive lines starting with '|'."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def cells(line):
    return [c.strip() for c in UNESCAPED_PIPE.split(line.strip())[1:-1]]


def assert_well_formed_tables(text):
    """Every row of every table has as many unescaped '|' as its header, and a --- row second."""
    found = tables(text)
    assert found
    for table in found:
        header = len(UNESCAPED_PIPE.findall(table[0]))
        assert re.fullmatch(r"\|( *:?-{3,}:? *\|)+", table[1]), table[1]
        for row in table:
            assert len(UNESCAPED_PIPE.findall(row)) == header, "%r in the table headed %r" % (row, table[0])


def links(text):
    return re.findall(r"!\[[^\]]*\]\(([^)]*)\)", text)


@pytest.fixture(params=["trained", "warmup_run", "rerun_l8"])
def run_report(request):
    """(out dir, report.md text) of a standard run, the L = 2 warm-up run without IWAE, and
    the L = 8 rerun into the warm-up run's folder."""
    out_dir = request.getfixturevalue(request.param).out_dir
    return out_dir, read(os.path.join(out_dir, "report.md"))


def test_report_is_plain_markdown_with_well_formed_tables(run_report):
    """A '# ' title, no HTML, and tables whose rows all have the header's columns: catches an
    unescaped '|' as in 'log p(x|z)'."""
    _, text = run_report
    assert text.startswith("# ")
    assert not re.search(r"<\s*(img|table|div|br|p)\b", text, re.I)
    assert_well_formed_tables(text)


def test_report_embeds_every_figure_of_the_folder(run_report):
    """Each PNG of the out dir linked once as ![...](name.png), relative, each link to an
    existing file, each followed by one line saying what it shows."""
    out_dir, text = run_report
    targets = links(text)
    pngs = sorted(f for f in os.listdir(out_dir) if f.endswith(".png"))
    assert sorted(targets) == pngs
    assert "training_curve.png" in pngs and "latent_space.png" in pngs
    lines = text.splitlines()
    for target in targets:
        assert not os.path.isabs(target) and "://" not in target
        assert os.path.isfile(os.path.join(out_dir, target))
        at = next(i for i, line in enumerate(lines) if "](%s)" % target in line)
        caption = next(line for line in lines[at + 1:] if line.strip())
        assert not caption.startswith(("!", "#", "|")) and len(caption) > 20, caption


def test_report_configuration_table(trained):
    """Every command-line value but the paths, --quiet and --overwrite, in the configuration table."""
    text = read(os.path.join(trained.out_dir, "report.md"))
    rows = {cells(row)[0].replace(" ", "_"): cells(row)[1] for table in tables(text) for row in table[2:]}
    for key, value in trained.metrics["config"].items():
        if key in ("out_dir", "data_dir", "quiet", "overwrite") or value is None:
            continue
        assert key in rows, key
        if isinstance(value, (int, float)):
            assert float(rows[key]) == pytest.approx(value), key
        else:
            assert rows[key] == str(value), key


def test_report_metrics_match_metrics_json(trained):
    """The metrics table shows metrics.json's numbers (2 decimals): ELBO, both terms, active
    units, log p(x), the ELBO of the IWAE images and the gap."""
    m = trained.metrics
    text = read(os.path.join(trained.out_dir, "report.md"))
    table = next(t for t in tables(text) if "quantity" in t[0])
    values = " ".join(cells(row)[1] for row in table[2:])
    for key in ("test_elbo", "test_reconstruction", "test_kl", "test_log_likelihood",
                "elbo_on_iwae_images", "elbo_gap"):
        assert "%.2f" % m[key] in values, key
    assert "%d of 8" % m["active_units"] in values


def test_report_mentions_the_warmup(warmup_run, trained):
    """With --kl-warmup 2 the report says so and gives beta per epoch; without, no warm-up text."""
    text = read(os.path.join(warmup_run.out_dir, "report.md"))
    assert re.search(r"warm-?up", text, re.I) and "2 epochs" in text
    history = next(t for t in tables(text) if "epoch" in cells(t[0]))
    beta = cells(history[0]).index("beta")
    assert [float(cells(row)[beta]) for row in history[2:]] == [0.0, 0.5, 1.0]
    assert not re.search(r"warm-?up:", read(os.path.join(trained.out_dir, "report.md")), re.I)


def test_report_without_iwae_says_so(warmup_run):
    """--iwae-samples 0: no log p(x) or gap number, rows omitted or 'n/a', never 'None'/'nan'."""
    text = read(os.path.join(warmup_run.out_dir, "report.md"))
    table = next(t for t in tables(text) if "quantity" in t[0])
    for row in table[2:]:
        quantity, value = cells(row)[:2]
        if "log p(x)" in quantity or "gap" in quantity or "same images" in quantity:
            assert value.startswith("n/a"), row
    body = text.split("## Metrics", 1)[1]
    assert not re.search(r"\b(None|nan|null)\b", body)


def test_report_figures_list_covers_every_output_png():
    """report.FIGURES has a caption for every figure of DESIGN.md's outputs table."""
    names = [name for name, caption in report.FIGURES]
    expected = (["samples.png", "reconstructions.png", "training_curve.png", "latent_space.png",
                 "latent_manifold.png"] + ["interpolation_%d.png" % i for i in range(1, 6)])
    assert sorted(names) == sorted(expected)
    assert all(len(caption) > 20 for name, caption in report.FIGURES)


def test_report_escapes_pipes_in_configuration_values(warmup_run, tmp_path):
    """A checkpoint loaded from a folder named 'a|b': the configuration table stays well-formed."""
    metrics = json.loads(json.dumps(warmup_run.metrics))
    metrics["config"]["load"] = "runs/a|b/params.npz"
    report.write_report(str(tmp_path), metrics)
    assert_well_formed_tables(read(os.path.join(str(tmp_path), "report.md")))


def test_report_describes_the_warmup_of_the_history_not_of_the_command_line(warmup_run, tmp_path):
    """--epochs 0 --load of a warmed-up checkpoint still says so; a --kl-warmup that trained nothing does not."""
    metrics = json.loads(json.dumps(warmup_run.metrics))
    metrics["config"]["kl_warmup"], metrics["config"]["epochs"] = 0, 0
    report.write_report(str(tmp_path), metrics)
    assert "KL warm-up" in (tmp_path / "report.md").read_text()
    for h in metrics["history"]:
        h.pop("kl_weight")
        h["settings"]["kl_warmup"] = 0
    metrics["config"]["kl_warmup"] = 5
    report.write_report(str(tmp_path), metrics)
    assert "KL warm-up" not in (tmp_path / "report.md").read_text()
