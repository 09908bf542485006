#!/usr/bin/env python
"""How long grading one submission takes in Gradescope's default container (768 MB, half a CPU).

    python tools/bench_grading.py                        # the reference, then the handout's stubs
    python tools/bench_grading.py --submission DIR       # any submission folder
    python tools/bench_grading.py --memory-mb 768 --cpus 0.5 --repeats 3

It builds an autograder (grading/gradescope.py, without the mistakes' fingerprints
unless --mistakes), lays it out as Gradescope does (source/, submission/, results/ under
one root), and runs its run_autograder in a cgroup limited to --memory-mb and --cpus
(cgroup v1 or v2; as root). Where no cgroup can be made it falls back to prlimit on the
address space and taskset on one core, and says so: that is not half a CPU. Reports the
wall time, the cgroup's peak memory, whether the kernel had to kill anything, and the
score. The target is under 60 s per submission; this is a benchmark, never a test.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Cgroup:
    """A memory and CPU cgroup (v2, else v1), or None where none can be made."""

    def __init__(self, memory, cpus):
        self.name = "vae-bench-%d" % os.getpid()
        self.dirs, self.version = [], None
        unified = Path("/sys/fs/cgroup/cgroup.controllers")
        try:
            if unified.exists():
                d = Path("/sys/fs/cgroup") / self.name
                d.mkdir()
                self.dirs = [d]
                (d / "memory.max").write_text(str(memory))
                (d / "cpu.max").write_text("%d 100000" % int(cpus * 100000))
                self.version = 2
            else:
                mem, cpu = Path("/sys/fs/cgroup/memory") / self.name, Path("/sys/fs/cgroup/cpu") / self.name
                mem.mkdir()
                self.dirs.append(mem)
                cpu.mkdir()
                self.dirs.append(cpu)
                (mem / "memory.limit_in_bytes").write_text(str(memory))
                (cpu / "cpu.cfs_period_us").write_text("100000")
                (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
                self.version = 1
        except OSError as e:
            self.remove()
            self.error = str(e)

    def prefix(self):
        """A shell prefix that moves the command into the cgroup."""
        moves = "; ".join("echo $$ > %s/cgroup.procs" % d for d in self.dirs)
        return ["sh", "-c", moves + '; exec "$@"', "sh"]

    def peak(self):
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs[0] / name).read_text())
        except (OSError, ValueError):
            return None

    def kills(self):
        try:
            text = (self.dirs[0] / ("memory.events" if self.version == 2 else "memory.oom_control")).read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self):
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        self.dirs = []


def run_once(zip_path, submission, memory, cpus):
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(root)
        shutil.copytree(submission, root / "submission", ignore=shutil.ignore_patterns("__pycache__"))
        env = dict(os.environ, AUTOGRADER_ROOT=str(root))
        group = Cgroup(memory, cpus) if os.geteuid() == 0 else None
        if group is not None and group.version:
            prefix, how = group.prefix(), "cgroup v%d: %d MB, %g CPU" % (group.version, memory >> 20, cpus)
        else:
            prefix = ["prlimit", "--as=%d" % memory, "taskset", "-c", "0"]
            how = "prlimit --as %d MB and one core (no cgroup: %s)" % (
                memory >> 20, getattr(group, "error", "not root"))
        start = time.perf_counter()
        proc = subprocess.run(prefix + ["bash", str(root / "run_autograder")], env=env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - start
        peak = group.peak() if group is not None and group.version else None
        kills = group.kills() if group is not None and group.version else None
        if group is not None:
            group.remove()
        try:
            result = json.loads((root / "results" / "results.json").read_text())
        except (OSError, ValueError):
            result = {}
        return {"seconds": seconds, "peak": peak, "kills": kills, "score": result.get("score"),
                "isolation": result.get("extra_data", {}).get("isolation"), "how": how,
                "tail": proc.stdout.strip().splitlines()[-1:]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench_grading.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--submission", action="append", help="a submission folder (default: the reference "
                                                               "and the handout's stubs)")
    parser.add_argument("--memory-mb", type=int, default=768, help="the container's memory (default %(default)s)")
    parser.add_argument("--cpus", type=float, default=0.5, help="the container's CPUs (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per submission (default %(default)s)")
    parser.add_argument("--mistakes", action="store_true", help="build the autograder with the mistakes' hints")
    args = parser.parse_args(argv)
    from grading import gradescope as make_autograder, handout as make_handout
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        zip_path = tmp / "autograder.zip"
        make_autograder.build(zip_path, with_mistakes=args.mistakes, log=lambda *a: None)
        folders = [Path(s) for s in args.submission or []]
        if not folders:
            (tmp / "reference").mkdir()
            for name in ("vae.py", "adam.py"):
                shutil.copy(ROOT / name, tmp / "reference")
            handout = make_handout.write_handout(tmp / "handout")
            (tmp / "stubs").mkdir()
            for name in ("vae.py", "adam.py"):
                shutil.copy(handout / name, tmp / "stubs")
            folders = [tmp / "reference", tmp / "stubs"]
        for folder in folders:
            for _ in range(args.repeats):
                r = run_once(zip_path, folder, args.memory_mb << 20, args.cpus)
                print("%-12s %6.1f s  peak %s  killed %s  score %s  isolation %s  (%s)" % (
                    folder.name, r["seconds"], "%.0f MB" % (r["peak"] / 2 ** 20) if r["peak"] else "?",
                    r["kills"], r["score"], r["isolation"], r["how"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
