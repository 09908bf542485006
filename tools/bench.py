#!/usr/bin/env python3
"""Time the real training code: seconds per epoch, images per second, peak memory.

Each measurement is a fresh `python vae.py` process (the command users run, with
--iwae-samples 0 so that only training and the per-epoch test ELBO run); the
epoch times are read from its metrics.json ("seconds": training only), peak
memory from the kernel's accounting of that process. With --peer, the PyTorch
peer is run alternately with ours, and the best epoch of each is compared.

    python tools/bench.py                                         # 3 runs of 1 epoch
    python tools/bench.py --peer ../shared/bench/torch_peer.py     # side by side, ratio
    python tools/bench.py --full                                  # whole default run

Prints one JSON object. Nothing here is asserted: the targets are judged by people.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VAE = os.path.join(HERE, "..", "vae.py")


def run_measured(command):
    """Run command; return (stdout, wall seconds, peak resident memory in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit("bench: %s failed (exit %d):\n%s"
                     % (" ".join(command), proc.returncode, err.read()[-2000:]))
        return out.read(), wall, usage.ru_maxrss / 1024.0  # Linux reports kB


def ours(args, out_dir):
    command = [sys.executable, VAE, "--epochs", str(args.epochs), "--num-train", str(args.num_train),
               "--batch-size", str(args.batch_size), "--iwae-samples", "0", "--quiet",
               "--out-dir", out_dir]
    _, _, peak = run_measured(command)
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return [h["seconds"] for h in metrics["history"]], peak


def peer(args):
    command = [sys.executable, args.peer, "--epochs", str(args.epochs), "--num-train",
               str(args.num_train), "--batch-size", str(args.batch_size)]
    stdout, _, peak = run_measured(command)
    epochs = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [e["epoch_seconds"] for e in epochs], peak


def breakdown(args):
    """In this process: seconds for one epoch of (a) the real training step, (b) the
    same step differentiating with respect to one flat parameter vector (the original
    handout's way), (c) the matrix products of that epoch alone."""
    sys.path.insert(0, os.path.join(HERE, ".."))
    import numpy as np
    from autograd import grad
    from autograd.misc import flatten as autograd_flatten
    import data
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
    vae.train_epoch(theta, adam_init(theta), like, images, args.batch_size, 1e-3,
                    np.random.default_rng(0))
    results["list of (W, b), flat for ADAM (the code)"] = time.perf_counter() - start

    flat, unflatten_params = autograd_flatten(like)
    flat_grad = grad(lambda p, x: vae.negative_elbo(unflatten_params(p), x))
    state, rng = adam_init(flat), np.random.default_rng(0)
    start = time.perf_counter()
    for i in range(0, len(images), args.batch_size):
        batch = data.binarise(images[i:i + args.batch_size], rng)
        flat, state = adam_step(flat, flat_grad(flat, batch), state)
    results["one flat parameter vector"] = time.perf_counter() - start

    x = data.binarise(images[:args.batch_size], rng)
    start = time.perf_counter()
    for _ in range(0, len(images), args.batch_size):
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


def summary(epoch_seconds, num_train, peak_mb=None):
    best = min(epoch_seconds)
    out = {"seconds_per_epoch_best": round(best, 3),
           "seconds_per_epoch_median": round(sorted(epoch_seconds)[len(epoch_seconds) // 2], 3),
           "images_per_second_best": round(num_train / best, 1),
           "epoch_seconds": [round(s, 3) for s in epoch_seconds]}
    if peak_mb is not None:
        out["peak_memory_mb"] = round(peak_mb, 1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1, help="epochs per run")
    p.add_argument("--repeats", type=int, default=3, help="runs of each program, alternated")
    p.add_argument("--num-train", type=int, default=60000)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--peer", help="path to torch_peer.py, to run alternately with ours")
    p.add_argument("--breakdown", action="store_true",
                   help="instead: seconds per epoch of the training step, of the same step "
                        "differentiated through one flat vector, and of its matrix products alone")
    p.add_argument("--full", action="store_true",
                   help="instead: time the whole default `python vae.py` (30 epochs, figures, "
                        "IWAE) once, with its peak memory; extra vae.py options may follow --")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]

    if args.breakdown:
        print(json.dumps({"num_train": args.num_train, "seconds_per_epoch": breakdown(args)}, indent=1))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.full:
            command = [sys.executable, VAE, "--quiet", "--out-dir", tmp] + extra
            _, wall, peak = run_measured(command)
            with open(os.path.join(tmp, "metrics.json")) as f:
                metrics = json.load(f)
            print(json.dumps({"command": "python vae.py " + " ".join(extra), "wall_seconds": round(wall, 1),
                              "peak_memory_mb": round(peak, 1),
                              "training_seconds": round(sum(h["seconds"] for h in metrics["history"]), 1),
                              "test_elbo": metrics["test_elbo"],
                              "test_log_likelihood": metrics["test_log_likelihood"]}, indent=1))
            return

        ours_seconds, ours_peak, peer_seconds, peer_peak = [], 0.0, [], 0.0
        for i in range(args.repeats):
            seconds, peak = ours(args, os.path.join(tmp, str(i)))
            ours_seconds, ours_peak = ours_seconds + seconds, max(ours_peak, peak)
            if args.peer:
                seconds, peak = peer(args)
                peer_seconds, peer_peak = peer_seconds + seconds, max(peer_peak, peak)
        result = {"epochs_per_run": args.epochs, "repeats": args.repeats, "num_train": args.num_train,
                  "batch_size": args.batch_size, "ours": summary(ours_seconds, args.num_train, ours_peak)}
        if args.peer:
            result["peer"] = summary(peer_seconds, args.num_train, peer_peak)
            result["ratio_best"] = round(min(ours_seconds) / min(peer_seconds), 2)
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
