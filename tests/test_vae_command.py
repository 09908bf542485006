"""The command line: bad input, an end-to-end run, checkpoints, determinism, divergence
and Ctrl-C. Runs go in-process (vae.main, MNIST already in memory) unless the exit status,
stderr of a real process or a signal is what is tested."""
import json
import math
import os
import signal
import subprocess
import sys
import types

import matplotlib.image as mpimg
import numpy as np
import pytest

import data
import vae
from support.checkpoint import load_checkpoint, save_checkpoint
from support import run as support_run
from support.options import parse_args

FIGURES = (["samples.png", "reconstructions.png", "training_curve.png"]
           + ["interpolation_%d.png" % i for i in range(1, 6)])
OUTPUTS = FIGURES + ["metrics.json", "params.npz"]


def assert_clean_error(result, *fragments):
    """Non-zero exit, one line on stderr starting 'vae.py: error:', no traceback."""
    assert result.code not in (0, None), result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vae.py: error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def read_metrics(out_dir):
    with open(os.path.join(out_dir, "metrics.json")) as f:
        return json.load(f)


def numbers(metrics):
    """metrics.json without what may differ between identical runs: timings and paths."""
    m = json.loads(json.dumps(metrics))
    for key in ("out_dir", "data_dir", "load"):
        m["config"].pop(key)
    for entry in m["history"]:
        entry.pop("seconds")
    return m


def arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "meta"}


# ---------------------------------------------------------------------------
# Bad input: a one-line error, non-zero exit, no traceback, nothing written

BAD_OPTIONS = [
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),                 # 0 epochs without --load trains nothing
    (["--epochs", "two"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--latent-dim", "0"], "--latent-dim"),
    (["--hidden-units", "0"], "--hidden-units"),
    (["--hidden-layers", "-1"], "--hidden-layers"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--num-train", "60001"], "--num-train"),
    (["--iwae-images", "10001"], "--iwae-images"),
    (["--iwae-samples", "-5"], "--iwae-samples"),
]


@pytest.mark.parametrize("options, option", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_option_is_a_one_line_error(vae_main, tmp_path, options, option, small_run):
    """The message names the option; nothing is created in --out-dir."""
    out_dir = tmp_path / "out"
    result = vae_main(small_run.argv + ["--out-dir", str(out_dir)] + options)
    assert_clean_error(result, option)
    assert not out_dir.exists()


@pytest.mark.parametrize("how, fragment", [("missing", "does not exist"),
                                           ("truncate", "corrupt or truncated"),
                                           ("flip", "corrupt or truncated"),
                                           ("remove", "is missing")])
def test_bad_data_dir_is_a_one_line_error(vae_main, tmp_path, broken_mnist, how, fragment, small_run):
    """A missing folder, or a copy of mnist/ with a truncated, altered or missing file."""
    folder = (str(tmp_path / "nowhere") if how == "missing"
              else broken_mnist("train-images-idx3-ubyte.gz", how))
    result = vae_main(small_run.argv + ["--out-dir", str(tmp_path / "out"), "--data-dir", folder])
    assert_clean_error(result, fragment)
    assert not (tmp_path / "out" / "params.npz").exists()


def small_checkpoint(path, latent_dim=3, hidden_units=5, hidden_layers=1, poison=False):
    """A params.npz as vae.py writes it, for networks of the given sizes."""
    gen_sizes, rec_sizes = vae.layer_sizes(latent_dim, hidden_units, hidden_layers)
    gen, rec = vae.init_net_params(gen_sizes), vae.init_net_params(rec_sizes)
    if poison:
        gen[0][0][0, 0] = np.nan
    config = {"latent_dim": latent_dim, "hidden_units": hidden_units, "hidden_layers": hidden_layers}
    save_checkpoint(str(path), gen, rec, config, [])
    return str(path)


@pytest.mark.parametrize("kind, fragments", [
    ("missing", ["does not exist"]),
    ("text", ["is not a checkpoint", "--load takes a params.npz"]),
    ("empty", ["is not a checkpoint"]),
    ("other shapes", ["another shape", "--latent-dim 3 --hidden-units 5 --hidden-layers 1"]),
    ("non-finite", ["non-finite"]),
])
def test_bad_checkpoint_is_a_one_line_error(vae_main, tmp_path, kind, fragments, small_run):
    """A missing, malformed or mismatched --load; the shape error says which options fit."""
    path = tmp_path / "params.npz"
    if kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "other shapes":
        small_checkpoint(path)
    elif kind == "non-finite":
        small_checkpoint(path, latent_dim=8, hidden_units=64, hidden_layers=2, poison=True)
    result = vae_main(["--epochs", "0", "--load", str(path), "--out-dir", str(tmp_path / "out"),
                       "--iwae-samples", "0", "--quiet"] + small_run.net)
    assert_clean_error(result, *fragments)
    assert not (tmp_path / "out" / "metrics.json").exists()
    assert "Loading MNIST" not in result.stdout + result.stderr, "the checkpoint is checked before the data"
    assert "pickle" not in result.stdout + result.stderr


def test_out_dir_that_is_a_file_is_a_one_line_error(vae_main, tmp_path, small_run):
    (tmp_path / "file").write_text("x")
    assert_clean_error(vae_main(small_run.argv + ["--out-dir", str(tmp_path / "file")]), "output folder")


@pytest.fixture(scope="module")
def commands(tmp_path_factory, small_run):
    """python vae.py as real processes, started side by side to save time: an option error,
    a data error, and a learning rate of 1e6 that turns the ELBO into nan at once."""
    tmp = tmp_path_factory.mktemp("commands")
    cases = {"option": ["--learning-rate", "nan"],
             "data": ["--data-dir", str(tmp / "nowhere")],
             "diverge": ["--learning-rate", "1e6"]}
    procs = {name: subprocess.Popen([sys.executable, small_run.vae_py, *small_run.argv, *args,
                                     "--out-dir", str(tmp / name)],
                                    cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in cases.items()}
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (types.SimpleNamespace(code=proc.returncode, stdout=out, stderr=err), tmp / name)
    return results


@pytest.mark.parametrize("name, code, fragment", [("option", 2, "--learning-rate"),
                                                  ("data", 1, "does not exist")])
def test_errors_from_the_real_command(commands, name, code, fragment):
    """As a process: the exit status and stderr holding nothing but the message."""
    result, _ = commands[name]
    assert result.code == code
    assert_clean_error(result, fragment)


# ---------------------------------------------------------------------------
# An end-to-end run on 400 real images (the session's `trained` run)

def test_run_writes_every_output(trained):
    """Every file of DESIGN.md's table that issue 2 covers, and no temporary files."""
    files = os.listdir(trained.out_dir)
    for name in OUTPUTS:
        assert name in files
        assert os.path.getsize(os.path.join(trained.out_dir, name)) > 0
    assert not [f for f in files if f.endswith(".tmp") or f.startswith(".")]


@pytest.mark.parametrize("name, rows, columns", [("samples.png", 5, 5), ("reconstructions.png", 4, 5),
                                                 ("interpolation_1.png", 5, 5),
                                                 ("interpolation_5.png", 5, 5)])
def test_image_grids_have_the_expected_layout(trained, name, rows, columns):
    """5 x 5 grids for samples and interpolations (25 frames), 4 rows of 5 for reconstructions
    (10 test images over their 10 reconstructions): the PNG's proportions follow the grid of
    28-pixel images with 2-pixel padding, and it is not blank."""
    png = mpimg.imread(os.path.join(trained.out_dir, name))
    height, width = png.shape[:2]
    assert width >= 30 * columns + 2
    assert height / width == pytest.approx((30 * rows + 2) / (30 * columns + 2), abs=0.01)
    assert png[..., :3].std() > 0.01


def test_training_curve_is_an_image(trained):
    png = mpimg.imread(os.path.join(trained.out_dir, "training_curve.png"))
    assert min(png.shape[:2]) >= 200 and png[..., :3].std() > 0.01


def test_reconstructions_figure_shows_test_images_on_top(trained, mnist):
    """Row 1 starts with the first binarised test image: its black and white pixels are exact."""
    png = mpimg.imread(os.path.join(trained.out_dir, "reconstructions.png"))[..., 0]
    first = data.binarised_test_images(mnist[3])[0].reshape(28, 28)
    scale = png.shape[1] / (5 * 30 + 2)  # screen pixels per grid pixel
    centre = [int((2 + i + 0.5) * scale) for i in range(28)]  # cell 0: grid pixels 2..29
    np.testing.assert_array_equal(png[np.ix_(centre, centre)] < 0.5, first == 1)


def test_metrics_json(trained):
    """The keys of DESIGN.md, every command-line value in config, finite numbers."""
    m = trained.metrics
    assert {"config", "history", "test_elbo", "test_log_likelihood", "iwae_samples",
            "iwae_images"} <= set(m)
    assert set(m["config"]) == set(vars(parse_args(trained.argv)))
    assert m["config"]["epochs"] == 2 and m["config"]["num_train"] == 400
    assert m["iwae_samples"] == 5 and m["iwae_images"] == 50
    for key in ("test_elbo", "test_log_likelihood"):
        assert isinstance(m[key], float) and math.isfinite(m[key]) and m[key] < 0
    assert m["test_elbo"] == m["history"][-1]["test_elbo"]
    assert "interrupted" not in m


def test_metrics_terms_add_up(trained, trained_nets, mnist):
    """ELBO = reconstruction - KL, KL the closed form (eq. 12) over the test set, and the gap
    is IWAE minus the ELBO of the same images; the IWAE estimate is never below that ELBO by
    more than noise (here it is well above)."""
    m = trained.metrics
    assert m["test_reconstruction"] - m["test_kl"] == pytest.approx(m["test_elbo"], abs=1e-6)
    test_images = data.binarised_test_images(mnist[3])
    kl = vae.compute_KL(vae.neural_net_predict(trained_nets[1], test_images))
    assert m["test_kl"] == pytest.approx(float(np.mean(kl)), rel=1e-5)
    assert m["elbo_gap"] == pytest.approx(m["test_log_likelihood"] - m["elbo_on_iwae_images"], abs=1e-9)
    assert m["elbo_gap"] > -1.0
    assert 0 <= m["active_units"] <= 8


def test_history_has_one_entry_per_epoch(trained):
    """epoch, train_elbo, test_elbo, seconds for each epoch, numbered from 1."""
    history = trained.metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert {"epoch", "train_elbo", "test_elbo", "seconds"} <= set(h)
        assert all(math.isfinite(h[k]) for k in ("train_elbo", "test_elbo", "seconds"))
        assert h["seconds"] > 0


def test_training_improves_the_test_elbo(trained):
    """From about -543 nats (784 fair coins) upwards: catches ADAM climbing the negative ELBO."""
    history = trained.metrics["history"]
    assert history[0]["test_elbo"] < history[1]["test_elbo"]
    assert history[1]["test_elbo"] > -500


def test_iwae_metrics_use_the_first_test_images(trained, trained_nets, mnist):
    """test_log_likelihood is the mean IWAE estimate over the first --iwae-images binarised test
    images with K = --iwae-samples, and elbo_on_iwae_images the ELBO of those same images
    (catches other images, grey levels, another K, or the gap taken against all 10,000)."""
    images = data.binarised_test_images(mnist[3])[:50]
    gen, rec = trained_nets
    assert trained.metrics["test_log_likelihood"] == pytest.approx(
        vae.iwae_log_likelihood(gen, rec, images, 5).mean(), rel=1e-6)
    assert trained.metrics["elbo_on_iwae_images"] == pytest.approx(vae.test_elbo(gen, rec, images), rel=1e-6)


def test_checkpoint_holds_both_networks(trained):
    """gen_W0.. and rec_W0.. of the configured sizes, readable by load_checkpoint, with the
    configuration and history."""
    gen_sizes, rec_sizes = vae.layer_sizes(8, 64, 2)
    gen, rec, meta = load_checkpoint(os.path.join(trained.out_dir, "params.npz"), gen_sizes, rec_sizes)
    assert [W.shape for W, _ in gen] == [(8, 64), (64, 64), (64, 784)]
    assert [W.shape for W, _ in rec] == [(784, 64), (64, 64), (64, 16)]
    assert meta["config"]["latent_dim"] == 8
    assert meta["history"] == trained.metrics["history"]


# ---------------------------------------------------------------------------
# Checkpoints, determinism

def test_load_with_zero_epochs_rebuilds_the_same_outputs(trained, vae_main, tmp_path, small_run):
    """--epochs 0 --load gives the same figures (pixel for pixel) and the same metrics."""
    out_dir = str(tmp_path / "again")
    result = vae_main(["--epochs", "0", "--load", os.path.join(trained.out_dir, "params.npz"),
                       "--out-dir", out_dir, "--iwae-samples", "5", "--iwae-images", "50", "--quiet"]
                      + small_run.net)
    assert result.code == 0, result.stderr
    for name in FIGURES:
        np.testing.assert_array_equal(mpimg.imread(os.path.join(out_dir, name)),
                                      mpimg.imread(os.path.join(trained.out_dir, name)), err_msg=name)
    m = read_metrics(out_dir)
    assert m["test_elbo"] == trained.metrics["test_elbo"]
    assert m["test_log_likelihood"] == trained.metrics["test_log_likelihood"]
    assert m["history"] == trained.metrics["history"]
    for key, value in arrays(os.path.join(trained.out_dir, "params.npz")).items():
        np.testing.assert_array_equal(arrays(os.path.join(out_dir, "params.npz"))[key], value)


def test_same_seed_gives_identical_numbers_and_weights(trained, vae_main, tmp_path, small_run):
    """Reproducible: every number of metrics.json (but timings and paths) and every weight."""
    out_dir = str(tmp_path / "same")
    assert vae_main(small_run.argv + ["--out-dir", out_dir]).code == 0
    assert numbers(read_metrics(out_dir)) == numbers(trained.metrics)
    mine = arrays(os.path.join(out_dir, "params.npz"))
    theirs = arrays(os.path.join(trained.out_dir, "params.npz"))
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


def test_other_seed_gives_other_numbers(trained, vae_main, tmp_path, small_run):
    """--seed is used (catches a hard-coded seed)."""
    out_dir = str(tmp_path / "other")
    assert vae_main(small_run.argv + ["--out-dir", out_dir, "--seed", "1"]).code == 0
    m = read_metrics(out_dir)
    assert m["test_elbo"] != trained.metrics["test_elbo"]
    assert m["history"][0]["train_elbo"] != trained.metrics["history"][0]["train_elbo"]
    assert not np.array_equal(arrays(os.path.join(out_dir, "params.npz"))["gen_W0"],
                              arrays(os.path.join(trained.out_dir, "params.npz"))["gen_W0"])


# ---------------------------------------------------------------------------
# Divergence

def test_divergence_stops_with_a_message(commands):
    """A non-finite ELBO: the message names the epoch, suggests a smaller --learning-rate and
    says what happened to the checkpoint; exit 1 without a traceback."""
    result, out_dir = commands["diverge"]
    assert result.code == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("vae.py: error: training diverged in epoch 1")
    assert "smaller --learning-rate" in last
    assert "no checkpoint was written" in last and not (out_dir / "params.npz").exists()


def test_divergence_prints_only_the_error(commands):
    result, _ = commands["diverge"]
    assert_clean_error(result, "training diverged in epoch 1")


def test_divergence_keeps_the_last_good_checkpoint(vae_main, tmp_path, small_run, monkeypatch):
    """Divergence in epoch 2 leaves epoch 1's checkpoint in place and says so."""
    real, calls = vae.train_epoch, []

    def train_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise vae.TrainingDiverged("the ELBO or its gradient became nan")
        return real(*args, **kwargs)
    monkeypatch.setattr(vae, "train_epoch", train_epoch)
    out_dir = tmp_path / "out"
    result = vae_main(small_run.argv + ["--out-dir", str(out_dir)], test_images=500)
    assert_clean_error(result, "training diverged in epoch 2", "checkpoint of epoch 1 is kept")
    with np.load(out_dir / "params.npz") as f:
        assert [h["epoch"] for h in json.loads(str(f["meta"]))["history"]] == [1]


# ---------------------------------------------------------------------------
# Ctrl-C

def test_ctrl_c_stops_and_writes_every_output(tmp_path, small_run):
    """SIGINT after the first epoch: stop after the current batch, write the figures,
    metrics.json ("interrupted": true) and the checkpoint of the model so far, then exit 130."""
    out_dir = tmp_path / "out"
    args = (["--epochs", "1000"] + small_run.argv[2:]
            + ["--iwae-samples", "2", "--iwae-images", "20", "--out-dir", str(out_dir)])
    proc = subprocess.Popen([sys.executable, small_run.vae_py, *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in proc.stdout:
            if line.startswith("epoch"):
                proc.send_signal(signal.SIGINT)
                break
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    for name in OUTPUTS:
        assert (out_dir / name).exists(), name
    m = read_metrics(out_dir)
    assert m["interrupted"] is True
    # It stopped early; how many epochs ran before the signal arrived depends on the machine's load.
    assert 1 <= len(m["history"]) < 1000


@pytest.fixture
def ctrl_c_at_once(monkeypatch):
    """As if Ctrl-C had been pressed during the very first batch."""
    monkeypatch.setattr(support_run, "install_stop_on_interrupt", lambda: (lambda: True))


@pytest.mark.parametrize("num_train", [
    200,   # two batches an epoch: it stops after the first, mid-epoch
    100,   # one batch an epoch: a Ctrl-C in an epoch's last batch still stops the run
])
def test_interrupt_stops_after_the_current_batch(vae_main, tmp_path, ctrl_c_at_once, small_run,
                                                 num_train):
    """Ctrl-C during the first batch: stop after it, then write every output."""
    out_dir = str(tmp_path / "out")
    result = vae_main(["--epochs", "3", "--num-train", str(num_train), "--batch-size", "100",
                       *small_run.net, "--iwae-samples", "0", "--quiet", "--out-dir", out_dir],
                      test_images=500)
    assert result.code == 130, result.stderr
    m = read_metrics(out_dir)
    assert m["interrupted"] is True and m["test_log_likelihood"] is None
    assert len(m["history"]) == 1
    assert m["history"][0].get("images_seen", num_train) == 100  # only the first batch trained
    if num_train > 100:   # a partial epoch says so, in metrics.json and the report
        assert m["history"][0]["partial"] is True
        assert "Epoch 1 was stopped by Ctrl-C after 100 images" in open(os.path.join(out_dir, "report.md")).read()
    assert all(os.path.exists(os.path.join(out_dir, name)) for name in OUTPUTS)


def test_a_read_only_out_dir_is_refused_before_any_work(vae_main, tmp_path, small_run):
    """An existing folder that takes no file: a read-only file system (as root, who may write
    anywhere else), or no write permission."""
    import os
    import subprocess
    out = tmp_path / "read-only"
    out.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(out)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root, and no read-only file system can be mounted here")
        out.chmod(0o555)
    try:
        result = vae_main(small_run.argv + ["--out-dir", str(out)])
    finally:
        if mounted:
            subprocess.run(["umount", str(out)], capture_output=True)
        else:
            out.chmod(0o755)
    assert_clean_error(result, "not writable")
    assert "Loading MNIST" not in result.stdout + result.stderr and ".tmp" not in result.stderr


# ---------------------------------------------------------------------------
# Runs that never lose work: resuming exactly, the record of each epoch, no silent overwrite

def without_epochs(argv):
    return [a for i, a in enumerate(argv) if not (a == "--epochs" or (i and argv[i - 1] == "--epochs"))]


def test_resuming_continues_the_run_exactly(vae_main, tmp_path, small_run):
    """2 epochs, then --load and 1 more, give the very weights and numbers of 3 epochs straight:
    ADAM's state and both generators' are in the checkpoint."""
    base = without_epochs(small_run.argv)
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    assert vae_main(base + ["--epochs", "3", "--out-dir", straight], test_images=500).code == 0
    assert vae_main(base + ["--epochs", "2", "--out-dir", resumed], test_images=500).code == 0
    result = vae_main(base + ["--epochs", "1", "--load", os.path.join(resumed, "params.npz"), "--out-dir", resumed],
                      test_images=500)
    assert result.code == 0, result.stderr
    for key, value in arrays(os.path.join(straight, "params.npz")).items():
        if key != "meta":
            np.testing.assert_array_equal(arrays(os.path.join(resumed, "params.npz"))[key], value, err_msg=key)
    a, b = read_metrics(straight), read_metrics(resumed)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])
    assert a["test_elbo"] == b["test_elbo"]
    assert b["this_run"] == {"loaded": os.path.join(resumed, "params.npz"), "epochs_trained": 1}


def test_each_epoch_records_the_settings_it_trained_with(vae_main, tmp_path, small_run):
    base = without_epochs(small_run.argv)
    out = str(tmp_path / "out")
    assert vae_main(base + ["--epochs", "1", "--out-dir", out], test_images=500).code == 0
    assert vae_main(base + ["--epochs", "1", "--learning-rate", "0.0005", "--load", os.path.join(out, "params.npz"),
                            "--out-dir", out], test_images=500).code == 0
    assert vae_main(base + ["--epochs", "0", "--load", os.path.join(out, "params.npz"), "--out-dir", out],
                    test_images=500).code == 0
    history = read_metrics(out)["history"]
    assert [h["settings"]["learning_rate"] for h in history] == [0.01, 0.0005]
    text = open(os.path.join(out, "report.md")).read()
    assert "- epoch 1: learning rate 0.01," in text and "- epoch 2: learning rate 0.0005," in text
    assert "Trained 2 epochs" in text and "and only evaluated it" in text


def test_a_trained_model_is_never_replaced_by_accident(vae_main, tmp_path, small_run):
    out = str(tmp_path / "out")
    assert vae_main(small_run.argv + ["--out-dir", out], test_images=500).code == 0
    before = open(os.path.join(out, "params.npz"), "rb").read()
    result = vae_main(small_run.argv + ["--out-dir", out, "--seed", "3"], test_images=500)
    assert_clean_error(result, "which this run would replace", "--overwrite", "--load")
    assert open(os.path.join(out, "params.npz"), "rb").read() == before
    # Starting from it is fine, and so is saying so.
    assert vae_main(small_run.argv + ["--out-dir", out, "--seed", "3", "--overwrite"], test_images=500).code == 0
    assert open(os.path.join(out, "params.npz"), "rb").read() != before


def test_ctrl_c_during_the_estimate_skips_it_and_keeps_the_rest(vae_main, tmp_path, small_run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(vae, "iwae_log_likelihood", interrupted)
    out = str(tmp_path / "out")
    result = vae_main(small_run.argv + ["--out-dir", out, "--iwae-samples", "2", "--iwae-images", "10"],
                      test_images=500)
    assert result.code == 130 and "estimate skipped" in result.stderr
    m = read_metrics(out)
    assert m["test_log_likelihood"] is None and m["log_likelihood_skipped"] is True
    assert all(os.path.exists(os.path.join(out, name)) for name in OUTPUTS)
