#!/usr/bin/env python3
"""Time the real code, in one command: the reference's epoch, correct student solutions'
epochs, the PyTorch and JAX peers', a whole default run, and the test suite.

Every measurement is a fresh process running the command users run. Epoch times are
training only: vae.py's own per-epoch "seconds" (metrics.json), the peers' "epoch_seconds".
The one-epoch runs of all programs are alternated, `--repeats` rounds, and the best of
each is compared, so that a busy moment of the machine hits every program alike.

    python tools/bench.py                        # everything (about 10 minutes here)
    python tools/bench.py --only epochs          # reference, student solutions, peers, each a process
    python tools/bench.py --only interleaved     # reference and student solutions in one process
    python tools/bench.py --only full,tests      # the default run end to end; the test suite
    python tools/bench.py --breakdown            # where one epoch's time goes
    python tools/bench.py --markdown             # also print README's speed table

The student solutions are tests/fixtures/student_style.py's: correct Task 1 and 2 code
written the ways students write it (npr.randn, np.split or slicing, np.logaddexp once or
twice, log1p/exp guarded or not, the log of a clipped sigmoid, np.mean, np.zeros), each put
into a copy of this repository. The reference also runs with its BLAS on one thread
(OPENBLAS_NUM_THREADS=1 and the like), to show what pinning it costs.
The peers are torch_peer.py and jax_peer.py from --peers (run only if torch or jax
is installed). Prints one JSON object, whose "ratios" are the speed targets: the reference's
epoch over the PyTorch peer's, and each student-style solution's over the reference's, all
from the same alternated rounds. Nothing here is asserted: people judge the targets.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VAE = os.path.join(ROOT, "vae.py")
DEFAULT_PEERS = os.path.join(ROOT, "..", "shared", "bench")
PARTS = ("epochs", "interleaved", "full", "tests")


ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def run_measured(command, cwd=None, env=None):
    """Run command (with env added to the environment); return (stdout, wall seconds, peak
    resident memory in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd,
                                env=dict(os.environ, **(env or {})))
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            sys.exit("bench: %s failed (exit %d):\n%s" % (" ".join(command), code, err.read()[-2000:]))
        return out.read(), wall, usage.ru_maxrss / 1024.0  # Linux reports kB


def vae_epochs(vae_py, args, out_dir, epochs, env=None):
    """Per-epoch training seconds and peak MB of `python vae_py` (no log p(x) estimate)."""
    command = [sys.executable, vae_py, "--epochs", str(epochs), "--num-train", str(args.num_train),
               "--iwae-samples", "0", "--quiet", "--out-dir", out_dir]
    _, _, peak = run_measured(command, env=env)
    with open(os.path.join(out_dir, "metrics.json")) as f:
        return [h["seconds"] for h in json.load(f)["history"]], peak


def peer_epochs(script, args, env=None):
    stdout, _, peak = run_measured([sys.executable, script, "--epochs", "1", "--num-train", str(args.num_train)],
                                   env=env)
    return [json.loads(line)["epoch_seconds"] for line in stdout.splitlines() if line.startswith("{")], peak


def student_styles():
    """tests/fixtures/student_style.py: correct Task 1 and 2 code written the ways students write it."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("student_style", os.path.join(ROOT, "tests", "fixtures",
                                                                                "student_style.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def programs(args, tmp):
    """{name: (kind, path, environment)}: the reference (also with its BLAS on one thread), each
    student-style solution, each installed peer (PyTorch's also on one thread)."""
    student_style = student_styles()
    found = {"reference": ("vae", VAE, None), "reference, BLAS on 1 thread": ("vae", VAE, ONE_THREAD)}
    for variant in student_style.VARIANTS:
        folder = student_style.write_solution(os.path.join(tmp, "student_" + variant), variant)
        found["student: " + variant] = ("vae", os.path.join(folder, "vae.py"), None)
    for name, module in (("PyTorch peer", "torch"), ("JAX peer (jit)", "jax")):
        script = os.path.join(args.peers, module + "_peer.py")
        if os.path.isfile(script) and importlib.util.find_spec(module):
            found[name] = ("peer", script, None)
            if module == "torch":   # torch takes its thread count from OMP_NUM_THREADS
                found[name + ", 1 thread"] = ("peer", script, ONE_THREAD)
    return found


def summary(epoch_seconds, num_train, peak_mb):
    best = min(epoch_seconds)
    return {"seconds_per_epoch_best": round(best, 2),
            "seconds_per_epoch_median": round(sorted(epoch_seconds)[len(epoch_seconds) // 2], 2),
            "images_per_second_best": round(num_train / best),
            "epoch_seconds": [round(s, 2) for s in epoch_seconds],
            "peak_memory_mb": round(peak_mb)}


def measure_epochs(args, tmp):
    """One-epoch runs of every program, alternated, args.repeats rounds."""
    found = programs(args, tmp)
    seconds = {name: [] for name in found}
    peaks = {name: 0.0 for name in found}
    for round_ in range(args.repeats):
        for name, (kind, path, env) in found.items():
            if kind == "vae":
                got, peak = vae_epochs(path, args, tempfile.mkdtemp(dir=tmp), 1, env)
            else:
                got, peak = peer_epochs(path, args, env)
            seconds[name] += got
            peaks[name] = max(peaks[name], peak)
            print("bench: round %d, %s: %.2f s" % (round_ + 1, name, got[0]), file=sys.stderr, flush=True)
    result = {name: summary(seconds[name], args.num_train, peaks[name]) for name in found}
    reference = result["reference"]["seconds_per_epoch_best"]
    for name in found:
        result[name]["times_reference"] = round(result[name]["seconds_per_epoch_best"] / reference, 2)
    if "PyTorch peer" in result:
        result["reference"]["times_pytorch"] = round(reference / result["PyTorch peer"]["seconds_per_epoch_best"], 2)
    return result


def ratios(epochs):
    """The issue's two targets, from one alternated run: the reference's epoch over PyTorch's
    (1.15 or better), each student-style solution's over the reference's (1.2 or better)."""
    out = {}
    if "PyTorch peer" in epochs:
        out["reference / PyTorch peer"] = epochs["reference"]["times_pytorch"]
        one = "PyTorch peer, 1 thread"   # each on one core: what a second thread is worth to each
        out["reference, BLAS on 1 thread / %s" % one] = round(
            epochs["reference, BLAS on 1 thread"]["seconds_per_epoch_best"] / epochs[one]["seconds_per_epoch_best"], 2)
    for name, r in epochs.items():
        if name.startswith("student: ") or name.startswith("reference, "):
            out["%s / reference" % name.replace("student: ", "student ")] = r["times_reference"]
    return out


def measure_interleaved(args, tmp):
    """The training steps of the reference and each student-style solution, interleaved in one
    process: round after round, each trains on the same 6,000 images from the same start. A busy
    moment of the machine then hits all alike, which separate processes cannot promise; the
    best round, scaled to 60,000 images, is each one's epoch."""
    import importlib.util
    import numpy as np
    import data
    student_style = student_styles()

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    programs = {"reference": (load("bench_vae", VAE), load("bench_adam", os.path.join(ROOT, "adam.py")))}
    for variant in student_style.VARIANTS:
        folder = student_style.write_solution(os.path.join(tmp, "interleaved_" + variant), variant)
        programs["student: " + variant] = (load("vae_" + variant, str(folder / "vae.py")),
                                           load("adam_" + variant, str(folder / "adam.py")))
    _, images, _, _, _ = data.load_mnist()
    images = images[:6000]
    reference = programs["reference"][0]
    reference.npr.seed(0)
    like = tuple([(W.astype(np.float32), b.astype(np.float32)) for W, b in reference.init_net_params(s)]
                 for s in reference.layer_sizes(50, 200, 2))
    theta = reference.flatten(like)
    seconds = {name: [] for name in programs}
    for round_ in range(args.rounds):
        for name, (vae_module, adam_module) in programs.items():
            vae_module.adam_step = adam_module.adam_step   # the solution's own ADAM
            state = vae_module.moments_like(theta, adam_module.adam_init(theta))   # as vae.train() keeps them
            start = time.perf_counter()
            vae_module.train_epoch(theta.copy(), state, like, images, 200, 1e-3, np.random.default_rng(round_))
            seconds[name].append((time.perf_counter() - start) * 60000 / len(images))
    best = {name: min(s) for name, s in seconds.items()}
    return {name: {"seconds_per_epoch_best": round(best[name], 2),
                   "seconds_per_epoch_median": round(sorted(s)[len(s) // 2], 2),
                   "times_reference": round(best[name] / best["reference"], 2)} for name, s in seconds.items()}


def measure_full(args, tmp):
    """The default `python vae.py` once, end to end: its epochs, evaluation and figures."""
    out_dir = os.path.join(tmp, "full")
    _, wall, peak = run_measured([sys.executable, VAE, "--quiet", "--out-dir", out_dir] + args.vae_args)
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    epochs = [h["seconds"] for h in metrics["history"]]
    return {"command": " ".join(["python vae.py"] + args.vae_args), "wall_seconds": round(wall, 1),
            "peak_memory_mb": round(peak), "epochs": len(epochs),
            "first_epoch_seconds": round(epochs[0], 2), "mean_epoch_seconds": round(sum(epochs) / len(epochs), 2),
            "last_5_epochs_mean_seconds": round(sum(epochs[-5:]) / len(epochs[-5:]), 2),
            "training_seconds": round(sum(epochs), 1),
            "after_training_seconds": round(wall - sum(epochs), 1),
            "epoch_seconds": [round(s, 2) for s in epochs],
            "test_elbo": round(metrics["test_elbo"], 2), "test_log_likelihood": metrics["test_log_likelihood"]}


def measure_tests(args):
    """README's test command, as CI runs it."""
    stdout, wall, peak = run_measured([sys.executable, "-m", "pytest", "-q", "-n", "auto", "-p", "no:cacheprovider"],
                                      cwd=ROOT)
    return {"command": "python -m pytest -q -n auto", "wall_seconds": round(wall, 1),
            "summary": stdout.strip().splitlines()[-1]}


def breakdown(args):
    """In this process: seconds for one epoch of (a) the training step, (b) its gradient
    alone, (c) the same gradient by hand in numpy, without autograd, (d) ADAM alone,
    (e) the binarisation alone, (f) the gradient's matrix products alone."""
    import numpy as np
    import data
    import support  # noqa: F401  (the speed primitives every training through support has)
    import vae
    from adam import adam_init, adam_step

    _, images, _, _, _ = data.load_mnist()
    images = images[:args.num_train]
    sizes = vae.layer_sizes(50, 200, 2)
    vae.npr.seed(0)
    like = tuple([(W.astype(np.float32), b.astype(np.float32)) for W, b in vae.init_net_params(s)]
                 for s in sizes)
    theta = vae.flatten(like)
    results = {}
    start = time.perf_counter()
    vae.train_epoch(theta, adam_init(theta), like, images, 200, 1e-3, np.random.default_rng(0))
    results["training step (the code)"] = time.perf_counter() - start

    rng = np.random.default_rng(0)
    x = data.binarise(images[:200], rng)
    steps = range(0, len(images), 200)
    start = time.perf_counter()
    for _ in steps:
        _, grads = vae.negative_elbo_and_grad(vae.unflatten(theta, like), x)
    results["value_and_grad"] = time.perf_counter() - start
    # The floor of any numpy gradient: the same bound and gradient written out by hand, with no
    # autograd at all (the grader's own, in float32).
    from grading import maths
    eps = rng.standard_normal((len(x), 50)).astype(np.float32)
    start = time.perf_counter()
    for _ in steps:
        maths.bound_and_gradient(like, x, eps)
    results["the same gradient by hand, no autograd (grading/maths.py)"] = time.perf_counter() - start
    g, state = vae.flatten(grads), adam_init(theta)
    start = time.perf_counter()
    for _ in steps:
        adam_step(theta, g, state)
    results["adam_step"] = time.perf_counter() - start
    start = time.perf_counter()
    for _ in steps:
        data.binarise(images[:200], rng)
    results["binarise"] = time.perf_counter() - start
    start = time.perf_counter()
    for _ in steps:
        encoder = [x]
        for W, _ in like[1]:
            encoder.append(encoder[-1] @ W)
        decoder = [encoder[-1][:, :50]]
        for W, _ in like[0]:
            decoder.append(decoder[-1] @ W)
        for net, acts in ((like[1], encoder), (like[0], decoder)):
            for i, (W, _) in enumerate(net):
                acts[i].T @ acts[i + 1]              # the gradient of W
                if acts[i] is not x:
                    acts[i + 1] @ W.T                # the gradient of the layer's input
    results["matrix products alone"] = time.perf_counter() - start
    return {k: round(v * 60000 / len(images), 2) for k, v in results.items()}


def machine():
    from importlib.metadata import version
    import numpy
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    versions = {"python": platform.python_version(), "numpy": numpy.__version__,
                "autograd": version("autograd")}
    for name in ("torch", "jax"):
        if importlib.util.find_spec(name):
            versions[name] = __import__(name).__version__
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "versions": versions}


def markdown(result):
    """README's speed table from a result."""
    m = result["machine"]
    lines = ["Measured on %s with `python tools/bench.py` (%s, %d cores; %s):" % (
        m["date"], m["cpu"], m["cores"], ", ".join("%s %s" % kv for kv in m["versions"].items())), ""]
    if "epochs" in result:
        lines += ["| one epoch of 60,000 images (best of %d, alternated) | seconds | x reference | peak memory |"
                  % result["repeats"], "| --- | --- | --- | --- |"]
        for name, r in result["epochs"].items():
            lines.append("| %s | %.2f | %.2f | %d MB |" % (name, r["seconds_per_epoch_best"], r["times_reference"],
                                                           r["peak_memory_mb"]))
        lines.append("")
    if "ratios" in result:
        lines += ["| ratio of best epochs, from the same alternated run | measured |", "| --- | --- |"]
        lines += ["| %s | %.2f |" % kv for kv in result["ratios"].items()] + [""]
    if "interleaved" in result:
        lines += ["| training steps interleaved in one process (best of %d rounds of 6,000 images) | seconds per "
                  "60,000 images | x reference |" % result["rounds"], "| --- | --- | --- |"]
        for name, r in result["interleaved"].items():
            lines.append("| %s | %.2f | %.2f |" % (name, r["seconds_per_epoch_best"], r["times_reference"]))
        lines.append("")
    if "full" in result:
        f = result["full"]
        lines.append("`%s`: %.0f s end to end (%d epochs: first %.2f s, mean %.2f s, last five %.2f s; "
                     "then %.0f s of evaluation and figures), peak %d MB." % (
                         f["command"], f["wall_seconds"], f["epochs"], f["first_epoch_seconds"],
                         f["mean_epoch_seconds"], f["last_5_epochs_mean_seconds"], f["after_training_seconds"],
                         f["peak_memory_mb"]))
    if "tests" in result:
        lines.append("`%s`: %.0f s (%s)." % (result["tests"]["command"], result["tests"]["wall_seconds"],
                                             result["tests"]["summary"]))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="Any arguments after -- go to the full run's vae.py.")
    p.add_argument("--only", default=",".join(PARTS), metavar="PARTS",
                   help="comma-separated, from: %s" % ", ".join(PARTS))
    p.add_argument("--repeats", type=int, default=3, help="alternated rounds of the one-epoch runs")
    p.add_argument("--num-train", type=int, default=60000, help="images per one-epoch run")
    p.add_argument("--rounds", type=int, default=10, help="rounds of the interleaved measurement")
    p.add_argument("--peers", default=DEFAULT_PEERS, metavar="DIR",
                   help="folder holding torch_peer.py and jax_peer.py")
    p.add_argument("--breakdown", action="store_true", help="instead: where one epoch's time goes")
    p.add_argument("--markdown", action="store_true", help="also print README's speed table")
    p.add_argument("--json", metavar="FILE", help="also write the result to FILE")
    args, extra = p.parse_known_args()
    args.vae_args = [a for a in extra if a != "--"]
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(only) - set(PARTS)
    if unknown or args.repeats < 1 or args.rounds < 1 or not 1 <= args.num_train <= 60000:
        p.error("--only takes %s; --repeats and --rounds at least 1; --num-train 1 to 60000" % ", ".join(PARTS))

    if args.breakdown:
        print(json.dumps({"num_train": args.num_train, "seconds_per_epoch": breakdown(args)}, indent=1))
        return
    result = {"machine": machine(), "repeats": args.repeats, "rounds": args.rounds, "num_train": args.num_train}
    with tempfile.TemporaryDirectory() as tmp:
        if "epochs" in only:
            result["epochs"] = measure_epochs(args, tmp)
            result["ratios"] = ratios(result["epochs"])
        if "interleaved" in only:
            result["interleaved"] = measure_interleaved(args, tmp)
        if "full" in only:
            result["full"] = measure_full(args, tmp)
        if "tests" in only:
            result["tests"] = measure_tests(args)
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    if args.markdown:
        print("\n" + markdown(result))


if __name__ == "__main__":
    main()
