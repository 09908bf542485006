"""experiments.py: each experiment's --quick run writes its figure, numbers and summary, and the
numbers are of the right kind; the continuous Bernoulli is a density; bad arguments get one line."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from autograd import grad

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import experiments  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Each experiment's --quick run, once: {name: (results, out_dir)}."""
    out = {}
    for name in experiments.EXPERIMENTS:
        out_dir = tmp_path_factory.mktemp(name)
        assert experiments.main([name, "--quick", "--quiet", "--out-dir", str(out_dir), "--overwrite"]) == 0
        with open(out_dir / "results.json") as f:
            out[name] = (json.load(f), out_dir)
    return out


@pytest.mark.parametrize("name", sorted(experiments.EXPERIMENTS))
def test_quick_run_writes_figure_numbers_and_summary(quick, name):
    results, out_dir = quick[name]
    for file in ("figure.png", "results.json", "summary.md"):
        assert (out_dir / file).stat().st_size > 0, file
    assert (out_dir / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["config"]["quick"] is True
    assert "--quick" in (out_dir / "summary.md").read_text()


def test_estimators_variances_are_variances_and_the_decoders_agree(quick):
    results, _ = quick["estimators"]
    assert results["measured_at_epochs"] == [1, 2]
    for epoch, by_estimator in results["gradient_variance"].items():
        for estimator in ("A", "B"):
            for network in ("encoder", "decoder"):
                v = by_estimator[estimator][network]
                assert v["variance"] > 0 and v["squared_mean"] >= 0
        # The decoder's gradient involves neither log p(z) nor log q(z|x): with the same noise,
        # A and B give it exactly, so their variances agree (a bug in A's sampling would show).
        a, b = by_estimator["A"]["decoder"]["variance"], by_estimator["B"]["decoder"]["variance"]
        assert a == pytest.approx(b, rel=1e-4)
    for name in ("A", "B"):
        assert all(math.isfinite(e) and e < 0 for e in results["test_elbo_per_epoch"][name])


def test_estimator_a_estimates_the_same_bound_as_b():
    """Averaged over many draws, A and B agree (both are unbiased for the ELBO); A alone is noisier."""
    rng = np.random.default_rng(0)
    gen = [(rng.normal(0, 0.3, (3, 8)), rng.normal(0, 0.3, 8)), (rng.normal(0, 0.3, (8, 6)), rng.normal(0, 0.3, 6))]
    rec = [(rng.normal(0, 0.3, (6, 8)), rng.normal(0, 0.3, 8)), (rng.normal(0, 0.3, (8, 6)), rng.normal(0, 0.3, 6))]
    x = (rng.random((4, 6)) > 0.5).astype(float)
    experiments.npr.seed(1)
    a = [float(experiments.elbo_estimator_a(gen, rec, x)) for _ in range(4000)]
    b = [float(experiments.vae.vae_lower_bound(gen, rec, x)) for _ in range(4000)]
    assert np.mean(a) == pytest.approx(np.mean(b), abs=4 * np.std(a) / np.sqrt(len(a)))
    assert np.std(a) > np.std(b)


def test_latent_dim_rows_and_active_units(quick):
    results, _ = quick["latent-dim"]
    assert [r["latent_dim"] for r in results["models"]] == [2, 5]
    for r in results["models"]:
        assert 0 <= r["active_units"] <= r["latent_dim"] and r["test_kl"] >= 0
        assert r["test_elbo"] < 0 and r["train_elbo"] < 0


@pytest.mark.parametrize("logit", [-60.0, -5.0, -1e-3, 0.0, 1e-5, 0.3, 5.0, 60.0])
def test_continuous_bernoulli_is_a_density(logit):
    """exp(log p(x | l)) integrates to 1 over x in [0, 1], at every logit, near 0 included."""
    x = np.linspace(0, 1, 20001)[:, None]
    density = np.exp(experiments.continuous_bernoulli_log_prob(x, np.full_like(x, logit)))
    assert np.trapezoid(density, x[:, 0]) == pytest.approx(1.0, rel=1e-4 if abs(logit) < 50 else 2e-2)
    mean = np.trapezoid(density * x[:, 0], x[:, 0])
    assert experiments.continuous_bernoulli_mean(np.array([logit])) == pytest.approx(mean, abs=1e-3)


def test_continuous_bernoulli_normaliser_is_smooth_at_one_half():
    g = grad(lambda l: np.sum(experiments.log_normaliser(l)))
    for logit in (-1e-2 - 1e-9, -1e-2 + 1e-9, 0.0, 0.5):
        assert np.isfinite(g(np.array([logit])))
    small, big = experiments.log_normaliser(np.array([0.0099999])), experiments.log_normaliser(np.array([0.0100001]))
    assert small == pytest.approx(big, abs=1e-9)


def test_decoders_give_log_densities_and_say_the_bernoulli_is_not_one(quick):
    results, out_dir = quick["decoders"]
    rows = results["decoders"]
    assert set(rows) == {"gaussian", "continuous_bernoulli", "bernoulli"}
    for name, row in rows.items():
        assert math.isfinite(row["test_elbo"]) and math.isfinite(row["log_likelihood"])
    # The plain Bernoulli on grey levels misses log C >= log 2 per pixel.
    assert rows["bernoulli"]["not_a_log_likelihood"] is True
    assert rows["bernoulli"]["missing_log_normaliser"] >= 784 * math.log(2) - 1e-6
    assert "no valid log-likelihood" in (out_dir / "summary.md").read_text()


def test_pca_keeps_the_leading_components():
    """All components reconstruct exactly; k of them leave exactly the other singular values'
    energy (Eckart-Young): caught by a PCA without centring, or with the wrong components."""
    rng = np.random.default_rng(0)
    images = rng.random((50, 784)) * np.linspace(0.1, 2, 784)   # pixels of unequal variance
    mean, components = experiments.pca(images, 49)
    assert np.allclose(mean + (images - mean) @ components.T @ components, images)
    mean, components = experiments.pca(images, 5)
    assert np.allclose(components @ components.T, np.eye(5))
    residual = (images - mean) - (images - mean) @ components.T @ components
    singular = np.linalg.svd(images - images.mean(axis=0), compute_uv=False)
    assert np.sum(residual ** 2) == pytest.approx(np.sum(singular[5:] ** 2), rel=1e-9)


def test_pca_squared_errors(quick):
    results, _ = quick["pca"]
    errors = results["squared_error_per_image"]
    assert errors["pca"] > 0 and errors["vae"] > 0
    # Fewer leading components span a subspace of the others': never a smaller error.
    assert 0 <= results["vae_active_units"] <= results["latent_dim"]
    assert errors["pca_as_many_as_active_units"] >= errors["pca"] - 1e-6


def test_bad_arguments_get_one_line(tmp_path):
    for argv, says in ((["nonsense"], "invalid choice"), (["pca", "--epochs", "0"], "positive integer"),
                       (["decoders", "--num-train", "70000"], "60000")):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "experiments.py"), *argv], capture_output=True,
                              text=True, cwd=tmp_path)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_an_earlier_run_is_not_replaced_by_accident(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    assert experiments.main(["pca", "--quick", "--quiet", "--out-dir", str(tmp_path)]) == 1
    assert (tmp_path / "results.json").read_text() == "{}"
