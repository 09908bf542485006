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
    p.add_argument("--full", action="store_true",
                   help="instead: time the whole default `python vae.py` (30 epochs, figures, "
                        "IWAE) once, with its peak memory; extra vae.py options may follow --")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]

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
