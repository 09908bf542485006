#!/usr/bin/env python
"""Write the grading's reference outputs, tests/reference/*.npz, from the reference implementation.

    python tools/make_reference.py                 # (re)write tests/reference/
    python tools/make_reference.py --check         # do the stored outputs still match the reference?
    python tools/make_reference.py --seed 7 --out /tmp/private_reference   # a private set of inputs

Every case holds its inputs (in.*: arrays, the noise, the network weights in
nets.npz), how to call the task function (meta: JSON), the expected outputs
(expected.*) and fingerprints of what known wrong solutions return (mistake.*,
from tools/mutants.py) with a hint for each. The reference is run through the
grading itself -- the same sandboxed worker, the same noise source, the same calls --
so the grading of the reference reproduces these outputs by construction.

Networks are small but real-sized at both ends: D = 784 pixels, L = 50 latent
variables, two hidden layers of 8 units; the images are binarised MNIST test digits.
Weights are stored in float32 and used in float64, so both sides compute on the same
numbers; all outputs are float64.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from grading import GradingFailure, cases as gc  # noqa: E402
from grading.submission import Submission  # noqa: E402

DEFAULT_SEED = 20200401
D, L, H = 784, 50, 8


def make_nets(rng):
    """Decoder 50-8-8-784 and encoder 784-8-8-100 whose outputs spread over a useful range:
    logits of a few units, means about N(0, 1), log standard deviations in about [-1.5, 0.5]."""
    def net(sizes, gains):
        layers = []
        for (m, n), gain in zip(zip(sizes[:-1], sizes[1:]), gains):
            layers.append([rng.standard_normal((m, n)) * gain / np.sqrt(m), rng.standard_normal(n) * 0.1])
        return layers
    gen = net([L, H, H, D], [2.0, 2.0, 2.5])
    rec = net([D, H, H, 2 * L], [6.0, 2.0, 1.5])
    rec[-1][0][:, L:] *= 0.3
    rec[-1][1][L:] = -0.5 + 0.2 * rng.standard_normal(L)
    as32 = lambda layers: [(W.astype(np.float32), b.astype(np.float32)) for W, b in layers]  # noqa: E731
    return {"gen": as32(gen), "rec": as32(rec)}


def nets_arrays(nets):
    return {"%s.%s%d" % (name, kind, i): a for name, layers in nets.items()
            for i, (W, b) in enumerate(layers) for kind, a in (("W", W), ("b", b))}


def mnist_digits(n, rng):
    sys.path.insert(0, str(ROOT))
    try:
        import data
        raw = data.load_raw("t10k-images-idx3-ubyte.gz", str(ROOT / "mnist"))
    finally:
        sys.path.pop(0)
    images = raw[:n].reshape(n, D) / 255.0
    return (images > rng.random(images.shape)).astype(np.uint8)


def forward(layers, x):
    """The reference MLP (ReLU hidden layers, linear output), to build inputs only."""
    for W, b in layers[:-1]:
        x = np.maximum(x @ W.astype(np.float64) + b, 0)
    W, b = layers[-1]
    return x @ W.astype(np.float64) + b


def case(what, function, job, args, description, primary="out", noise=None, rtol=1e-6, atol=1e-6,
         module="vae", **inputs):
    meta = {"what": what, "function": function, "description": description, "primary": primary,
            "rtol": rtol, "atol": atol, "call": {"job": job, "module": module, "args": args}}
    arrays = {"in." + k: np.asarray(v) for k, v in inputs.items()}
    if noise is not None:
        arrays["noise"] = np.asarray(noise, dtype=np.float64)
        meta["draws"] = int(np.size(noise))
    return meta, arrays


def make_cases(seed=DEFAULT_SEED):
    """{name: (meta, arrays)} of every stored case, and the networks."""
    rng = np.random.default_rng(seed)
    nets = make_nets(rng)
    images = mnist_digits(6, rng)
    encoder_mnist = forward(nets["rec"], images)
    cases = {}

    # Task 1.1
    small_enc = np.concatenate([rng.normal(0, 1.5, (4, 3)), rng.uniform(-1.2, 1.0, (4, 3))], axis=1)
    what = "sample_latent_variables_from_posterior(encoder_output)"
    cases["sample_small"] = case(what, "sample_latent_variables_from_posterior", "call", ["@encoder_output"],
                                 "4 rows, L = 3 (means, then log standard deviations in [-1.2, 1])",
                                 noise=rng.standard_normal((4, 3)), encoder_output=small_enc)
    cases["sample_mnist"] = case(what, "sample_latent_variables_from_posterior", "call", ["@encoder_output"],
                                 "the encoder's output for 6 MNIST digits, L = 50",
                                 noise=rng.standard_normal((6, L)), encoder_output=encoder_mnist)
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
                                    "6 MNIST digits (784 pixels) and a decoder's logits",
                                    targets=images,
                                    logits=forward(nets["gen"], rng.standard_normal((6, L))).astype(np.float32))
    extreme = np.array([1000.0, -1000.0, 50.0, -50.0, 0.0, 30.0, -700.0, 745.0])
    cases["bernoulli_extreme"] = case(what, "bernoulli_log_prob", "call", ["@targets", "@logits"],
                                      "logits of +-1000, +-745, +-50, 0 and 30 with targets 1, 0 and mixed",
                                      targets=np.array([np.ones(8), np.zeros(8), np.arange(8) % 2,
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
                             "the encoder's output for 6 MNIST digits, L = 50",
                             q_means_and_log_stds=encoder_mnist)

    # Task 1.4
    cases["elbo_mnist"] = case("vae_lower_bound(gen_params, rec_params, data)", "vae_lower_bound", "call",
                               ["@net:gen", "@net:rec", "@images"],
                               "6 MNIST digits, networks 784-8-8-100 and 50-8-8-784",
                               noise=rng.standard_normal((6, L)), images=images)

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
        params=params, grad=grad[::-1].copy(), m=rng.normal(0, 0.3, 8), v=rng.uniform(0, 0.5, 8) ** 2)
    cases["adam_trajectory"] = case(
        "25 steps of adam_step from (m, v, t) = (0, 0, 0) on f(x) = sum(a (x - c)^2) / 2",
        "adam_step", "adam_trajectory", ["@x0", "@a", "@c", 25, {}],
        "8 parameters, curvatures a from 1e-4 to 10, default alpha, beta1, beta2, eps",
        primary="params", module="adam", rtol=1e-7, atol=1e-10,
        x0=rng.normal(0, 1, 8), a=np.array([1.0, 10.0, 1e-4, 0.1, 3.0, 1e-2, 0.5, 2.0]),
        c=rng.normal(0, 1, 8))

    # Task 3
    cases["generate_mnist"] = case("generate_from_prior(gen_params, num_images=6)", "generate_from_prior",
                                   "call", ["@net:gen", 6], "the 50-8-8-784 decoder",
                                   noise=rng.standard_normal((6, L)))
    cases["reconstruct_mnist"] = case("reconstruct(gen_params, rec_params, images)", "reconstruct", "call",
                                      ["@net:gen", "@net:rec", "@images"],
                                      "6 MNIST digits, networks 784-8-8-100 and 50-8-8-784",
                                      noise=rng.standard_normal((6, L)), images=images)
    cases["interpolate_mnist"] = case("interpolate(gen_params, rec_params, image_a, image_b, num_points=7)",
                                      "interpolate", "call",
                                      ["@net:gen", "@net:rec", "@image_a", "@image_b", 7],
                                      "two MNIST digits, 7 frames, networks 784-8-8-100 and 50-8-8-784",
                                      image_a=images[0], image_b=images[1])
    return cases, nets


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
    sub = Submission(root)
    try:
        return {name: outputs(gc.run_case(sub, c)) for name, c in cases.items()}
    finally:
        sub.close()


def run_mutants(cases, expected, root=ROOT):
    """{case: {mutant: (hint, shape, fingerprint)}} for the mutants whose output differs."""
    import mutants
    found = {name: {} for name in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for mutant in mutants.MUTANTS:
            sub = Submission(mutant.write(Path(tmp) / mutant.name, root), root=root, timeout=20)
            try:
                for name, c in cases.items():
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


def write(out_dir, seed=DEFAULT_SEED, with_mistakes=True, root=ROOT):
    raw, nets = make_cases(seed)
    cases = in_memory(raw, nets)
    expected = run_reference(cases, root)
    mistakes = run_mutants(cases, expected, root) if with_mistakes else {n: {} for n in cases}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
        got = run_reference(cases, root)
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
    parser = argparse.ArgumentParser(prog="make_reference.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(gc.DEFAULT_REFERENCE_DIR), help="folder of the .npz files")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the inputs and the noise")
    parser.add_argument("--check", action="store_true",
                        help="only check that the reference reproduces the files in --out")
    parser.add_argument("--no-mistakes", action="store_true", help="skip the known wrong solutions' outputs")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for line in problems:
            print("make_reference.py: " + line, file=sys.stderr)
        print("%s: %s" % (args.out, "the reference reproduces every stored output" if not problems
                          else "%d problems" % len(problems)))
        return 1 if problems else 0
    names = write(args.out, args.seed, not args.no_mistakes)
    size = sum(p.stat().st_size for p in Path(args.out).glob("*.npz"))
    print("wrote %d cases and nets.npz to %s (%.0f KB)" % (len(names), args.out, size / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
