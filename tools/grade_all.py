#!/usr/bin/env python
"""Grade every submission of a class: python tools/grade_all.py SUBMISSIONS_DIR --out grades.csv

Each sub-folder of SUBMISSIONS_DIR is one submission (its vae.py and adam.py; other
files are ignored). Each is graded by its own run of

    python -m pytest tests/grading --submission SUB --grade-json SUB.json

(on Linux forked from this process, which imports pytest, numpy, autograd and
matplotlib once for all), so that nothing one submission does can affect another,
and the batch never stops:
a submission that cannot be imported, hangs, or even kills its grading run gets zeros
and the reason in the `problems` column. grades.csv has one row per submission:
points per part (1.1 ... 3.3), per task (task1, task2, task3), total, max, problems.
The Gradescope-style results.json of each submission are kept in --json-dir.
"""
import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADING = ROOT / "tests" / "grading"
sys.path.insert(0, str(GRADING))
import grading_harness as gh  # noqa: E402


def grading_command(submission, json_path, timeout, reference_dir=None, python=sys.executable):
    command = [python, "-m", "pytest", str(GRADING), "--submission", str(submission),
               "--grade-json", str(json_path), "--grading-timeout", str(timeout),
               "-q", "--no-header", "--assert=plain", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
               "-p", "no:benchmark", "-p", "no:unraisableexception", "-p", "no:threadexception",
               "--confcutdir", str(GRADING), "--rootdir", str(ROOT), "-o", "addopts="]
    if reference_dir:
        command += ["--reference-dir", str(reference_dir)]
    return command


class _Run:
    """One grading run in progress: a forked child running pytest in-process (Linux: this
    process has pytest, numpy, autograd and matplotlib imported once for all), or a
    subprocess. Either way in its own process group, so that a timeout kills its workers too."""

    def __init__(self, submission, json_path, log_path, timeout, reference_dir, python, fork):
        self.submission, self.json_path, self.log_path = Path(submission), Path(json_path), Path(log_path)
        self.start = time.time()
        args = grading_command(submission, json_path, timeout, reference_dir, python)
        if fork:
            self.proc = None
            self.pid = os.fork()
            if self.pid == 0:                      # the child: never returns
                code = 3
                try:
                    os.setpgrp()
                    fd = os.open(str(self.log_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    sys.stdout = open(1, "w", closefd=False)
                    sys.stderr = open(2, "w", closefd=False)
                    os.chdir(str(ROOT))
                    import pytest
                    code = int(pytest.main(args[3:]))
                except BaseException:
                    import traceback
                    traceback.print_exc()
                finally:
                    try:
                        sys.stdout.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
        else:
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(args, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.pid = self.proc.pid

    def poll(self):
        """The exit code once finished, else None."""
        if self.proc is not None:
            return self.proc.poll()
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc is not None:
            self.proc.wait()
        else:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        try:   # its grading workers, orphaned in the same process group
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def result(self, code, run_timeout):
        """(results dict or None, problem or None)."""
        results = None
        if self.json_path.exists():
            try:
                results = json.loads(self.json_path.read_text())
            except ValueError:
                results = None
        if results is not None and code in (0, 1):
            return results, None
        try:
            output = self.log_path.read_text(errors="replace")
        except OSError:
            output = ""
        tail = " | ".join(line for line in output.strip().splitlines()[-3:])[-300:]
        why = ("the grading run took longer than %d s" % run_timeout if code == "timeout"
               else "the grading run failed (exit code %s)" % code)
        return results, "%s%s" % (why, ": " + tail if tail else "")


def precheck(submission):
    """A reason not to run the grading at all, or None."""
    submission = Path(submission)
    if not any((submission / name).is_file() for name in ("vae.py", "adam.py")):
        found = sorted(p.name for p in submission.iterdir())[:5] if submission.is_dir() else []
        return "no vae.py or adam.py in the folder%s" % (" (it holds %s)" % ", ".join(found) if found
                                                          else " (empty)")
    return None


def can_fork():
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def preload():
    """Import once what every grading run needs, before forking them."""
    import pytest  # noqa: F401
    gh._context()


def grade_folders(folders, json_dir, jobs=1, timeout=gh.JOB_TIMEOUT, run_timeout=None, reference_dir=None,
                  python=sys.executable, fork=None, done=lambda folder, results, problem, seconds: None):
    """Grade folders, at most `jobs` at once; returns {folder: (results or None, problem or None)}.
    Never raises for a submission's sake."""
    fork = can_fork() and python == sys.executable if fork is None else fork
    run_timeout = run_timeout or 120 + 40 * timeout
    json_dir = Path(json_dir)
    if fork:
        preload()
    queue, running, outcome = list(folders), {}, {}
    while queue or running:
        while queue and len(running) < max(1, jobs):
            folder = queue.pop(0)
            json_path = json_dir / (folder.name + ".json")
            if json_path.exists():
                json_path.unlink()
            reason = precheck(folder)
            if reason:
                outcome[folder] = (None, reason)
                done(folder, None, reason, 0.0)
                continue
            try:
                running[folder] = _Run(folder, json_path, json_dir / (folder.name + ".log"), timeout,
                                       reference_dir, python, fork)
            except OSError as e:
                outcome[folder] = (None, "the grading run could not start: %s" % e)
                done(folder, None, outcome[folder][1], 0.0)
        time.sleep(0.02)
        for folder, run in list(running.items()):
            code = run.poll()
            if code is None and time.time() - run.start > run_timeout:
                run.kill()
                code = "timeout"
            if code is not None:
                del running[folder]
                outcome[folder] = run.result(code, run_timeout)
                done(folder, *outcome[folder], time.time() - run.start)
    return outcome


def grade_one(submission, json_path, timeout=gh.JOB_TIMEOUT, run_timeout=None, reference_dir=None,
              python=sys.executable, fork=None):
    """Grade one folder; returns (results dict or None, problem or None). Never raises."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    submission = Path(submission)
    if json_path.stem != submission.name:
        raise ValueError("json_path must be named after the submission folder")
    return grade_folders([submission], json_path.parent, 1, timeout, run_timeout, reference_dir, python,
                         fork)[submission]


def row(name, results, problem, table):
    parts = (results or {}).get("extra_data", {}).get("parts", {})
    out = {"submission": name}
    tasks = {}
    for part in table["parts"]:
        score = float(parts.get(part["part"], {}).get("score", 0.0)) if results else 0.0
        out[part["part"]] = _num(score)
        tasks[part["task"]] = tasks.get(part["task"], 0.0) + score
    for task, score in tasks.items():
        out["task" + task] = _num(score)
    out["total"] = _num(sum(tasks.values()))
    out["max"] = _num(table["total"])
    problems = list((results or {}).get("extra_data", {}).get("problems", []))
    if problem:
        problems.insert(0, problem)
    out["problems"] = " | ".join(p.splitlines()[0] for p in problems)
    return out


def _num(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


def submissions(directory):
    return sorted(p for p in Path(directory).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def grade_all(directory, out, jobs=None, timeout=gh.JOB_TIMEOUT, json_dir=None, reference_dir=None,
              python=sys.executable, fork=None, log=print):
    table = gh.load_points()
    folders = submissions(directory)
    json_dir = Path(json_dir) if json_dir else Path(tempfile.mkdtemp(prefix="grades-"))
    json_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or min(len(folders), os.cpu_count() or 1) or 1

    def done(folder, results, problem, seconds):
        line = row(folder.name, results, problem, table)
        log("%-30s %6s / %s  (%.0f s)%s" % (folder.name, line["total"], line["max"], seconds,
                                           "  " + line["problems"][:100] if line["problems"] else ""))

    outcome = grade_folders(folders, json_dir, jobs, timeout, reference_dir=reference_dir, python=python,
                            fork=fork, done=done)
    rows = [row(folder.name, *outcome[folder], table) for folder in folders]
    columns = (["submission"] + [p["part"] for p in table["parts"]]
               + ["task" + t for t in dict.fromkeys(p["task"] for p in table["parts"])]
               + ["total", "max", "problems"])
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="grade_all.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR", nargs="?", help="one sub-folder per submission")
    parser.add_argument("--points", action="store_true", help="print the points table (Markdown) and exit")
    parser.add_argument("--out", default="grades.csv", help="the CSV to write (default: %(default)s)")
    parser.add_argument("--json-dir", help="keep each submission's results.json here (default: a temporary folder)")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=gh.JOB_TIMEOUT,
                        help="seconds allowed to one call of a submission's functions (default %(default)s)")
    parser.add_argument("--reference-dir", help="stored reference outputs (default: tests/reference)")
    parser.add_argument("--no-fork", action="store_true",
                        help="start every grading run as a new Python process (slower; the default "
                             "on Linux forks them from this one, which imports everything once)")
    args = parser.parse_args(argv)
    if args.points:
        print(gh.points_markdown())
        return 0
    if args.submissions is None:
        parser.error("SUBMISSIONS_DIR is required")
    if not Path(args.submissions).is_dir():
        print("grade_all.py: error: %s is not a folder" % args.submissions, file=sys.stderr)
        return 1
    if not submissions(args.submissions):
        print("grade_all.py: error: %s has no sub-folders (one per submission)" % args.submissions,
              file=sys.stderr)
        return 1
    rows = grade_all(args.submissions, args.out, args.jobs, args.timeout, args.json_dir, args.reference_dir,
                     fork=False if args.no_fork else None)
    print("%d submissions graded; grades in %s" % (len(rows), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
