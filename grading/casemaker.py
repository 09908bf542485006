"""Make the grading's cases, grading/reference/*.npz, from the reference implementation.

    vae-teacher cases                              # (re)write grading/reference/
    vae-teacher cases --check                      # do the stored outputs still match the reference?
    vae-teacher cases --seed 7 --out /tmp/private_reference   # a private set of inputs

Every case holds its inputs (in.*: arrays, the noise, the network weights in
nets.npz), how to call the task function (meta: JSON), the expected outputs
(expected.*) and fingerprints of what known wrong solutions return (mistake.*,
from grading/mutants.py) with a hint for each. The reference is run through the
grading itself -- the same sandboxed worker, the same noise source, the same calls --
so the grading of the reference reproduces these outputs by construction.

Inputs are drawn as training draws them: binarised MNIST test digits through the trained
networks of the default run (docs/default/params.npz), so logits, means and log standard
deviations have the ranges a trained model gives. Weights are stored in float32 and used
in float64, so both sides compute on the same numbers; all outputs are float64.
Cases graded with stand-ins (the reference's Task 1.1-1.3 functions, answered by the
grader) also hold the reference's answer to every call the stand-ins get (answer.*).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from grading import GradingFailure, answers, cases as gc, maths, mutants
from grading.submission import Submission

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SEED = 20200401
D, L = 784, 50
# The networks of the default run (python vae.py, seed 0), which the cases are drawn through.
TRAINED = Path(__file__).resolve().parent / "trained_networks.npz"
LITERAL_LIMIT = 20.0   # |logit| of a disagreeing pixel below which eq. (3) written literally is exact


def trained_nets():
    """The networks of the default run (784-200-200-100 and 50-200-200-784, float32): inputs
    drawn through them are what a trained model gives (logits about -90 to 10, means within
    +-3.5, log standard deviations from -3 to 0)."""
    if not TRAINED.exists():
        raise SystemExit("cases: %s is missing: it holds the trained networks the cases are drawn through "
                         "(the gen_ and rec_ arrays of a default run's params.npz)" % TRAINED)
    with np.load(TRAINED, allow_pickle=False) as f:
        layers = lambda net: [(f["%s_W%d" % (net, i)].astype(np.float32), f["%s_b%d" % (net, i)].astype(np.float32))  # noqa: E731
                              for i in range(sum(1 for k in f.files if k.startswith(net + "_W")))]
        return {"gen": layers("gen"), "rec": layers("rec")}


def nets_arrays(nets):
    return {"%s.%s%d" % (name, kind, i): a for name, layers in nets.items()
            for i, (W, b) in enumerate(layers) for kind, a in (("W", W), ("b", b))}


def mnist_test_images():
    import data
    raw = data.load_raw("t10k-images-idx3-ubyte.gz", str(ROOT / "mnist"))
    return raw.reshape(len(raw), D) / 255.0


def float64(layers):
    return [(W.astype(np.float64), b) for W, b in layers]


def realistic_batch(nets, rng, n=6):
    """n binarised MNIST test digits, their encoder outputs, noise, z ~ q(z|x) and the decoder's
    logits at z: as in training. Drawn again until every logit is within +-LITERAL_LIMIT where
    its pixel disagrees (so eq. (3) written literally is finite on it, as it is in training)."""
    grey = mnist_test_images()
    for _ in range(1000):
        index = rng.choice(len(grey), n, replace=False)
        images = (grey[index] > rng.random((n, D))).astype(np.uint8)
        encoder = maths.forward(float64(nets["rec"]), images)[0]
        noise = rng.standard_normal((n, L))
        z = encoder[:, :L] + np.exp(encoder[:, L:]) * noise
        logits = maths.forward(float64(nets["gen"]), z)[0]
        disagree = np.where(images == 1, -logits, logits)
        if disagree.max() < LITERAL_LIMIT and literal_is_exact(images, logits):
            return images, encoder, noise, logits
    raise RuntimeError("no batch of realistic logits found")


def literal_is_exact(targets, logits):
    """Does eq. (3) written literally, with the given sigmoid, agree with the stable form to 1e-8?"""
    p = 0.5 * (np.tanh(0.5 * logits) + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        literal = np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=1)
    stable = np.sum(targets * logits - np.logaddexp(0, logits), axis=1)
    return bool(np.all(np.isfinite(literal)) and np.allclose(literal, stable, rtol=1e-8, atol=1e-8))


def case(what, function, job, args, description, primary="out", noise=None, rtol=1e-6, atol=1e-6,
         module="vae", standins=(), rng_seed=None, **inputs):
    meta = {"what": what, "function": function, "description": description, "primary": primary,
            "rtol": rtol, "atol": atol, "call": {"job": job, "module": module, "args": args},
            "standins": list(standins)}
    if rng_seed is not None:
        meta["call"]["seed"] = rng_seed
    arrays = {"in." + k: np.asarray(v) for k, v in inputs.items()}
    if noise is not None:
        arrays["noise"] = np.asarray(noise, dtype=np.float64)
        meta["draws"] = int(np.size(noise))
    return meta, arrays


TASK1 = ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL")


def make_cases(seed=DEFAULT_SEED):
    """{name: (meta, arrays)} of every stored case, and the networks."""
    rng = np.random.default_rng(seed)
    nets = trained_nets()
    images, encoder_mnist, batch_noise, batch_logits = realistic_batch(nets, rng)
    assert literal_is_exact(images, batch_logits)
    # The cases graded with stand-ins get a batch of their own: the stand-ins' answers (which a
    # submission can print) are then no answer of the Task 1.1-1.3 cases.
    own_images, _, own_noise, _ = realistic_batch(nets, rng)
    cases = {}

    # Task 1.1
    small_enc = np.concatenate([rng.normal(0, 1.5, (4, 3)), rng.uniform(-1.2, 1.0, (4, 3))], axis=1)
    what = "sample_latent_variables_from_posterior(encoder_output)"
    cases["sample_small"] = case(what, "sample_latent_variables_from_posterior", "call", ["@encoder_output"],
                                 "4 rows, L = 3 (means, then log standard deviations in [-1.2, 1])",
                                 noise=rng.standard_normal((4, 3)), encoder_output=small_enc)
    cases["sample_mnist"] = case(what, "sample_latent_variables_from_posterior", "call", ["@encoder_output"],
                                 "the trained encoder's output for 6 MNIST digits, L = 50",
                                 noise=batch_noise, encoder_output=encoder_mnist)
    cases["sample_gradient"] = case(
        "the gradient of sum(w * sample_latent_variables_from_posterior(encoder_output))",
        "sample_latent_variables_from_posterior", "sample_grad", ["@encoder_output", "@weights"],
        "4 rows, L = 3, with respect to encoder_output",
        noise=rng.standard_normal((4, 3)), encoder_output=small_enc, weights=rng.normal(0, 1, (4, 3)))

    # Task 1.2
    what = "bernoulli_log_prob(targets, logits)"
    cases["bernoulli_small"] = case(what, "bernoulli_log_prob", "call", ["@targets", "@logits"],
                                    "3 images of 5 pixels, logits in [-4, 4]",
                                    targets=(rng.random((3, 5)) < 0.5).astype(np.uint8),
                                    logits=rng.uniform(-4, 4, (3, 5)))
    cases["bernoulli_mnist"] = case(what, "bernoulli_log_prob", "call", ["@targets", "@logits"],
                                    "6 MNIST digits and the trained decoder's logits for z ~ q(z|x), "
                                    "from %.0f to %.0f" % (batch_logits.min(), batch_logits.max()),
                                    targets=images, logits=batch_logits)
    extreme = rng.permutation([1000.0, -1000.0, 50.0, -50.0, 0.0, 30.0, -700.0, 745.0])
    extreme = np.round(extreme * rng.uniform(0.95, 1.0, 8), 1)
    cases["bernoulli_extreme"] = case(what, "bernoulli_log_prob", "call", ["@targets", "@logits"],
                                      "logits of about +-1000, +-745, +-50, 0 and 30 with targets 1, 0 and mixed",
                                      targets=np.array([np.ones(8), np.zeros(8), rng.permutation(np.arange(8) % 2),
                                                        np.ones(8)]).astype(np.uint8),
                                      logits=np.array([extreme, extreme, extreme[::-1], -np.abs(extreme)]))

    # Task 1.3
    what = "compute_KL(q_means_and_log_stds)"
    kl_small = np.concatenate([rng.normal(0, 1.5, (4, 3)), rng.uniform(-1.5, 1.0, (4, 3))], axis=1)
    kl_small[0] = 0.0
    cases["kl_small"] = case(what, "compute_KL", "call", ["@q_means_and_log_stds"],
                             "4 rows, L = 3; the first row is the prior itself (means 0, log stds 0)",
                             q_means_and_log_stds=kl_small)
    cases["kl_mnist"] = case(what, "compute_KL", "call", ["@q_means_and_log_stds"],
                             "the trained encoder's output for 6 MNIST digits, L = 50",
                             q_means_and_log_stds=encoder_mnist)
    # The property test's rows: the prior, then 5 away from it; and the same rows read as log
    # variances (footnote 1 allows either), whose KL is a right answer to the property too.
    rows = np.concatenate([np.zeros((1, 8)), np.concatenate([rng.normal(0, 2, (5, 4)), rng.uniform(-3, 2, (5, 4))],
                                                            axis=1)])
    halved = np.concatenate([rows[:, :4], rows[:, 4:] / 2], axis=1)
    cases["kl_property"] = case(what, "compute_KL", "call", ["@q_means_and_log_stds"],
                                "6 rows, L = 4: the prior, then 5 rows away from it",
                                q_means_and_log_stds=rows)
    cases["kl_property_log_variances"] = case(what, "compute_KL", "call", ["@q_means_and_log_stds"],
                                              "kl_property's rows read as log variances",
                                              q_means_and_log_stds=halved)

    # Task 1.4: graded with the reference's Task 1.1-1.3 functions (stand-ins)
    cases["elbo_mnist"] = case("vae_lower_bound(gen_params, rec_params, data)", "vae_lower_bound", "call",
                               ["@net:gen", "@net:rec", "@images"],
                               "6 MNIST digits and the trained networks", noise=own_noise, images=own_images,
                               standins=TASK1)
    cases["elbo_gradient"] = case("the gradient of vae_lower_bound(gen_params, rec_params, data)",
                                  "vae_lower_bound", "gradcheck", ["@net:gen", "@net:rec", "@images", 1e-6, 0],
                                  "6 MNIST digits and the trained networks", primary="analytic",
                                  noise=own_noise, images=own_images, standins=TASK1, rtol=1e-4, atol=1e-4)

    # Task 2
    params = rng.normal(0, 1, 8)
    grad = np.array([0.5, -2.0, 1e-5, -3e-4, 0.0, 8.0, -0.05, 1.2])
    cases["adam_step_first"] = case(
        "adam_step(params, grad, (m, v, t), alpha=0.01, beta1=0.8, beta2=0.95, eps=1e-3)", "adam_step",
        "adam_step", ["@params", "@grad", "@m", "@v", 0, {"alpha": 0.01, "beta1": 0.8, "beta2": 0.95,
                                                           "eps": 1e-3}],
        "8 parameters, the first step (m = v = 0, t = 0), gradients from 0 to 8",
        primary="params", module="adam", rtol=1e-7, atol=1e-10,
        params=params, grad=grad, m=np.zeros(8), v=np.zeros(8))
    cases["adam_step_later"] = case(
        "adam_step(params, grad, (m, v, t))", "adam_step", "adam_step",
        ["@params", "@grad", "@m", "@v", 4, {}],
        "8 parameters, a later step (t = 4, m and v non-zero), default alpha, beta1, beta2, eps",
        primary="params", module="adam", rtol=1e-7, atol=1e-10,
        params=params, grad=grad[::-1].copy(), m=rng.normal(0, 0.3, 8),
        # two tiny second moments, where eps's place (outside the root, Figure 5) always shows
        v=rng.uniform(0, 0.5, 8) ** 2 * np.array([1, 1, 1, 1e-13, 1, 1e-15, 1, 1]))
    cases["adam_trajectory"] = case(
        "25 steps of adam_step from (m, v, t) = (0, 0, 0) on f(x) = sum(a (x - c)^2) / 2",
        "adam_step", "adam_trajectory", ["@x0", "@a", "@c", 25, {}],
        "8 parameters, curvatures a from 1e-4 to 10, default alpha, beta1, beta2, eps",
        primary="params", module="adam", rtol=1e-7, atol=1e-10,
        x0=rng.normal(0, 1, 8), a=np.array([1.0, 10.0, 1e-4, 0.1, 3.0, 1e-2, 0.5, 2.0]),
        c=rng.normal(0, 1, 8))

    add_adam_slips(cases)

    # Task 3
    cases["generate_mnist"] = case("generate_from_prior(gen_params, num_images=6)", "generate_from_prior",
                                   "call", ["@net:gen", 6], "the trained decoder",
                                   noise=rng.standard_normal((6, L)))
    cases["reconstruct_mnist"] = case("reconstruct(gen_params, rec_params, images)", "reconstruct", "call",
                                      ["@net:gen", "@net:rec", "@images"],
                                      "6 MNIST digits and the trained networks",
                                      noise=own_noise, images=own_images,
                                      standins=("sample_latent_variables_from_posterior",))
    n, latent = 2000, 4
    reconstruct_mu = np.round(rng.uniform(-2, 2, latent), 2)
    reconstruct_sigma = np.round(rng.uniform(0.4, 2.0, latent), 2)
    identity = np.zeros((latent, D))
    identity[:, :latent] = np.eye(latent)
    cases["reconstruct_statistics"] = case(
        "reconstruct(gen_params, rec_params, images)", "reconstruct", "call",
        [[["@identity_W", "@identity_b"]], [["@encoder_W", "@encoder_b"]], "@images"],
        "%d images whose q(z|x) has means %s and standard deviations %s, and a decoder whose first %d "
        "pixels are sigmoid(z)" % (n, reconstruct_mu.tolist(), reconstruct_sigma.tolist(), latent),
        standins=("sample_latent_variables_from_posterior",), rng_seed=int(rng.integers(1, 2 ** 31)),
        identity_W=identity, identity_b=np.zeros(D), encoder_W=np.zeros((D, 2 * latent)),
        encoder_b=np.concatenate([reconstruct_mu, np.log(reconstruct_sigma)]), images=np.zeros((n, D), np.uint8))
    cases["interpolate_mnist"] = case("interpolate(gen_params, rec_params, image_a, image_b, num_points=7)",
                                      "interpolate", "call",
                                      ["@net:gen", "@net:rec", "@image_a", "@image_b", 7],
                                      "two MNIST digits, 7 frames, the trained networks",
                                      image_a=images[0], image_b=images[1])
    return cases, nets


def add_adam_slips(cases):
    """What each of Figure 5's recognisable slips (grading/maths.py) gives on the ADAM cases
    (slip.NAME): the tests tell a slip by it, and the handout ships no ADAM of the grader's."""
    for name in ("adam_step_first", "adam_step_later"):
        meta, arrays = cases[name]
        *_, t, hyper = meta["call"]["args"]
        params, grad, m, v = (arrays["in." + k] for k in ("params", "grad", "m", "v"))
        for slip in maths.SLIPS:
            arrays["slip." + slip] = maths.step(params, grad, m, v, t, slip=slip, **dict(maths.HYPER, **hyper))[0]
    meta, arrays = cases["adam_trajectory"]
    steps, hyper = meta["call"]["args"][3:]
    for slip in maths.SLIPS:
        arrays["slip." + slip] = maths.trajectory(arrays["in.x0"], arrays["in.a"], arrays["in.c"], steps, slip,
                                                    **hyper)


class Recorder:
    """Answers the stand-ins' calls with the reference's own functions, imported here in the
    grader (only when the reference outputs are made), and records every answer."""

    def __init__(self, root=ROOT):
        import importlib.util
        spec = importlib.util.spec_from_file_location("_reference_vae", str(Path(root) / "vae.py"))
        self.ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.ref)
        self.entries = []

    def __call__(self, question):
        from autograd import make_vjp
        function = getattr(self.ref, question["function"])
        args = [np.asarray(a, dtype=np.float64) for a in question["args"]]
        noise = question.get("noise")
        with self.noise(noise):
            if question["kind"] == "call":
                out = function(*args)
                entry = {"function": question["function"], "kind": "call", "args": args, "out": out}
            else:
                i = question["argnum"]
                vjp, ans = make_vjp(lambda x: function(*(args[:i] + [x] + args[i + 1:])))(args[i])
                jacobian = np.asarray(vjp(np.ones_like(ans)), dtype=np.float64)
                entry = {"function": question["function"], "kind": "vjp", "argnum": i, "args": args,
                         "out": jacobian}
                out = answers.scale(np.asarray(question["g"], dtype=np.float64), jacobian)
                assert np.allclose(out, vjp(np.asarray(question["g"], dtype=np.float64)), rtol=1e-8, atol=1e-10)
        entry["out"] = np.asarray(entry["out"], dtype=np.float64)
        self.entries.append(entry)
        return np.asarray(out, dtype=np.float64)

    def noise(self, values):
        """The reference's sampler draws the noise the stand-in drew in the worker."""
        import contextlib
        npr = self.ref.npr

        @contextlib.contextmanager
        def patched():
            if values is None:
                yield
                return
            eps = np.asarray(values, dtype=np.float64)
            saved = npr.randn
            npr.randn = lambda *dims: eps.reshape(dims)
            try:
                yield
            finally:
                npr.randn = saved
        return patched()


def in_memory(cases, nets):
    float_nets = gc.nets_from_arrays(nets_arrays(nets))
    out = {}
    for name, (meta, arrays) in cases.items():
        out[name] = gc.Case(name, dict(arrays, meta=np.array(json.dumps(meta))), float_nets)
    return out


def outputs(result):
    value = result.value
    return {k: np.asarray(v, dtype=np.float64) for k, v in value.items()} if isinstance(value, dict) \
        else {"out": np.asarray(value, dtype=np.float64)}


def run_reference(cases, root=ROOT):
    """({case: outputs}, {case: recorded stand-in answers}) of the reference."""
    sub, outs, recorded = Submission(root), {}, {}
    try:
        for name, c in cases.items():
            recorder = Recorder(root)
            outs[name] = outputs(gc.run_case(sub, c, answer=recorder))
            recorded[name] = recorder.entries
    finally:
        sub.close()
    return outs, recorded


def run_mutants(cases, expected, root=ROOT):
    """{case: {mutant: (hint, shape, fingerprint)}} for the mutants whose output differs."""
    found = {name: {} for name in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for mutant in mutants.MUTANTS:
            sub = Submission(mutant.write(Path(tmp) / mutant.name, root), root=root, timeout=20)
            try:
                for name, c in cases.items():
                    if c.meta["call"]["job"] == "gradcheck":   # judged against itself, not a stored value
                        continue
                    try:
                        got = outputs(gc.run_case(sub, c))
                    except GradingFailure:
                        continue
                    key = c.meta["primary"]
                    want = expected[name][key]
                    obtained = got.get(key)
                    if obtained is None or (obtained.shape == want.shape and np.allclose(
                            obtained, want, rtol=c.meta["rtol"], atol=c.meta["atol"])):
                        continue
                    hint = mutant.hint if mutant.function == c.meta["function"] else \
                        "(in %s) %s" % (mutant.function, mutant.hint)
                    found[name][mutant.name] = (hint, obtained.shape, gc.fingerprint(obtained))
            finally:
                sub.close()
    # Outputs with no finite value say nothing about which mistake made them: when two
    # mutants give the same such output, their hints would contradict each other.
    for name, by_mutant in found.items():
        for mutant, (_, shape, fp) in list(by_mutant.items()):
            if not np.any(np.isfinite(fp)) and any(
                    other != mutant and s == shape and np.array_equal(f, fp, equal_nan=True)
                    for other, (_, s, f) in by_mutant.items()):
                del by_mutant[mutant]
    return found


def smooth_directions(raw, nets, seed, root=ROOT, tries=20, batches=5):
    """Choose each gradient check's random directions so that no ReLU of the networks switches
    between the finite-difference points: there the reference's autograd and finite differences
    agree to 1e-6, and so do those of any correct solution (the same kinks for all).

    A few batches (1 in 200 seeds, measured over 400) put a ReLU so near its kink that no
    direction avoids it: the check then gets another batch of digits and noise, drawn from
    the seed, so that every seed makes a set of cases."""
    for name, (meta, arrays) in raw.items():
        if meta["call"]["job"] != "gradcheck":
            continue
        for batch in range(batches):
            if batch:
                arrays["in.images"], _, arrays["noise"], _ = realistic_batch(nets, np.random.default_rng([seed, batch]))
            for direction_seed in range(tries):
                meta["call"]["args"][-1] = direction_seed
                out, _ = run_reference(in_memory({name: (meta, arrays)}, nets), root)
                if np.allclose(out[name]["analytic"], out[name]["numeric"], rtol=1e-6, atol=1e-6):
                    break
            else:
                continue
            break
        else:
            raise RuntimeError("%s: no smooth directions in %d tries on %d batches" % (name, tries, batches))


def write(out_dir, seed=DEFAULT_SEED, with_mistakes=True, root=ROOT):
    raw, nets = make_cases(seed)
    smooth_directions(raw, nets, seed, root)
    expected, recorded = run_reference(in_memory(raw, nets), root)
    for name, (meta, arrays) in raw.items():
        if meta["standins"]:
            meta["answers"], answer_arrays = answers.entries_to_arrays(recorded[name])
            arrays.update(answer_arrays)
    cases = in_memory(raw, nets)
    mistakes = run_mutants(cases, expected, root) if with_mistakes else {n: {} for n in cases}
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)   # private cases: for the grader's eyes only
    if seed != DEFAULT_SEED:
        out.chmod(0o700)
    for old in out.glob("*.npz"):
        old.unlink()
    np.savez_compressed(out / "nets.npz", **nets_arrays(nets))
    for name, (meta, arrays) in raw.items():
        meta = dict(meta, seed=seed, mistakes={m: {"hint": hint, "shape": list(shape)}
                                               for m, (hint, shape, _) in mistakes[name].items()})
        arrays = dict(arrays)
        arrays.update({"expected." + k: v for k, v in expected[name].items()})
        arrays.update({"mistake." + m: fp for m, (_, _, fp) in mistakes[name].items()})
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        np.savez_compressed(out / (name + ".npz"), **arrays)
    return sorted(raw)


def check(ref_dir=gc.DEFAULT_REFERENCE_DIR, root=ROOT):
    """Problems (one line each) where the reference no longer reproduces the stored outputs
    within each case's grading tolerance."""
    reference = gc.Reference(ref_dir)
    names = reference.names()
    problems = [] if names else ["no reference files in %s" % ref_dir]
    cases = {name: reference.case(name) for name in names}
    try:
        got, _ = run_reference(cases, root)
    except GradingFailure as e:
        return ["the reference failed: %s" % e]
    for name, c in cases.items():
        for key in [k[len("expected."):] for k in c.arrays if k.startswith("expected.")]:
            want, obtained = c.expected(key), got[name].get(key)
            if obtained is None or obtained.shape != want.shape or not np.allclose(
                    obtained, want, rtol=c.meta["rtol"], atol=c.meta["atol"], equal_nan=True):
                problems.append("%s: %s differs from the stored reference output" % (name, key))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher cases", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(gc.DEFAULT_REFERENCE_DIR), help="folder of the .npz files")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the inputs and the noise")
    parser.add_argument("--check", action="store_true",
                        help="only check that the reference reproduces the files in --out")
    parser.add_argument("--no-mistakes", action="store_true", help="skip the known wrong solutions' outputs")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for line in problems:
            print("cases: " + line, file=sys.stderr)
        print("%s: %s" % (args.out, "the reference reproduces every stored output" if not problems
                          else "%d problems" % len(problems)))
        return 1 if problems else 0
    names = write(args.out, args.seed, not args.no_mistakes)
    size = sum(p.stat().st_size for p in Path(args.out).glob("*.npz"))
    print("wrote %d cases and nets.npz to %s (%.0f KB)" % (len(names), args.out, size / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
