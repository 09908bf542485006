"""Grade every submission of a class: vae-teacher grade-class SUBMISSIONS_DIR --out grades.csv

Each sub-folder of SUBMISSIONS_DIR is one submission (its vae.py and adam.py, and any
other top-level .py files they import). Each is first copied, as plain files (never
through a symbolic link), into a private staging folder under a safe id (0001, 0002,
...), then graded by its own run of the grading (grading/api.py's command,
--submission=STAGED --grade-json=ID.json)

(on Linux forked from this process, which imports pytest and numpy once for all; the
submission's code itself runs in the sandboxed worker of that run), with private reference
cases made for the batch (the stored ones are in the students' handout). Nothing one
submission does can affect another or stop the batch: a submission that cannot be
imported, hangs, or kills its grading run gets zeros and the reason in the `problems`
column, and a result is only taken from a run that ended normally.

grades.csv has one row per submission, written as each is graded (then sorted at the
end): the folder's name, its id, points per part (1.1 ... 3.3), per task, total, max,
problems. Cells that a spreadsheet would read as a formula are escaped. --json-dir
keeps each submission's results.json and test output as ID.json and ID.log.
"""
import argparse
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import api, casemaker, layout, results, sandbox, submission as gs
from plotting import atomic_write

ROOT = api.ROOT


# ---------------------------------------------------------------------------
# Names: whatever a folder is called, a safe id for files and a printable name for people

def display_name(name):
    """A folder name as text: bytes that are not UTF-8 and control characters escaped."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else "\\u%04x" % ord(c)
                   for c in text)


def safe_id(index, name):
    """'0007': the submission's number, which names its files and appears in the grading runs'
    command lines (that other users can read): never the student's name."""
    return "%04d" % index


def cell(value):
    """A CSV cell that spreadsheets show as text, never run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---------------------------------------------------------------------------
# Staging: private copies, plain files only

def stage(folder, target):
    """Copy folder's .py files into target (those of the one sub-folder holding vae.py, at the
    same place under target, if folder has none: the grading finds and reports it there).
    Returns a reason not to grade it, or None."""
    if folder.is_symlink():
        return "the folder is a symbolic link: not graded"
    if not folder.is_dir():
        return "not a folder"
    target.mkdir(mode=0o700)
    found, _ = layout.find_submission(folder)
    destination = target / found.relative_to(folder)
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    copied, refused = sandbox.copy_submission(str(found), str(destination))
    notes = "; ".join("%s not graded: %s" % (display_name(name), why) for name, why in refused)
    if not any(name in copied for name in ("vae.py", "adam.py")):
        try:
            found = sorted(display_name(p.name) for p in folder.iterdir())[:5]
        except OSError:
            found = []
        return "no vae.py or adam.py in the folder%s%s" % (
            " (it holds %s)" % ", ".join(found) if found else " (empty)", ("; " + notes) if notes else "")
    return None


class _Run:
    """One grading run in progress: a forked child running pytest in-process (Linux), or a
    subprocess; in its own process group, so that a timeout kills all of it."""

    def __init__(self, submission, json_path, log_path, timeout, reference_dir, python, fork, hide,
                 allow_unisolated=False, blas_threads=None):
        self.json_path, self.log_path = Path(json_path), Path(log_path)
        self.start, self.memory = time.time(), None
        args = api.command(submission, python, results=json_path, cases=reference_dir, timeout=timeout, hide=hide,
                           allow_unisolated=allow_unisolated)
        if fork:
            self.proc = None
            self.pid = os.fork()
            if self.pid == 0:                      # the child: never returns
                code = 3
                try:
                    os.setpgrp()
                    fd = os.open(str(self.log_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    sys.stdout = open(1, "w", closefd=False)
                    sys.stderr = open(2, "w", closefd=False)
                    os.chdir(str(ROOT))
                    if blas_threads:
                        sandbox.limit_blas(blas_threads)
                    code = api.main(args[3:])
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
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                       **(sandbox.blas_env(blas_threads) if blas_threads else {}))
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(args, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.pid = self.proc.pid

    def poll(self):
        """The exit code once finished, else None (and then the run's peak memory, in MB, in
        self.memory: the grading process's or its worker's, the larger)."""
        if self.proc is not None:
            return self.proc.poll()
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.memory = usage.ru_maxrss / 1024
        return os.waitstatus_to_exitcode(status)

    def kill(self):
        for _ in range(2):   # before and after reaping: its workers are in the same group
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

    def result(self, code, run_timeout):
        """(results dict or None, problem or None): results only from a run that ended normally
        and said so in its results.json."""
        results_ = None
        try:
            results_ = json.loads(self.json_path.read_text())
            if not isinstance(results_, dict) or not isinstance(results_.get("extra_data"), dict):
                results_ = None
        except (OSError, ValueError):
            results_ = None
        if results_ is not None and code in (0, 1) and results_["extra_data"].get("complete") is True:
            return results_, None
        not_graded = [w for w in (results_ or {}).get("extra_data", {}).get("not_graded") or [] if isinstance(w, str)]
        if not_graded:
            return None, "not graded: %s; grade it again" % not_graded[0][:300]
        try:
            output = self.log_path.read_text(errors="replace")
        except OSError:
            output = ""
        tail = " | ".join(line for line in output.strip().splitlines()[-3:])[-300:]
        why = ("the grading run took longer than %d s" % run_timeout if code == "timeout"
               else "the grading run failed (exit code %s)" % code)
        return None, "not graded: %s; grade it again or by hand%s" % (why, ": " + tail if tail else "")


def can_fork():
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def preload():
    """Import once what every grading run needs, and find the isolation, before forking them."""
    import pytest  # noqa: F401
    sandbox.detect()


def grade_folders(items, json_dir, jobs=1, timeout=gs.JOB_TIMEOUT, run_timeout=None, reference_dir=None,
                  python=sys.executable, fork=None, hide=(), done=lambda item, results, problem, seconds: None,
                  allow_unisolated=False, usage=None):
    """Grade [(id, staged folder or None, reason not to grade or None)], at most `jobs` at once;
    returns {id: (results or None, problem or None)}; usage, if a dict, gets {id: (seconds, MB or
    None)}. Never raises for a submission's sake."""
    fork = can_fork() and python == sys.executable if fork is None else fork
    run_timeout = run_timeout or 120 + 40 * timeout
    json_dir = Path(json_dir)
    if fork:
        preload()
    # Several runs at once get one BLAS thread each (sandbox.limit_blas: four original-layout
    # scripts, --jobs 2, took 40 s with a thread per core in each, 11 s with one).
    blas_threads = 1 if jobs > 1 else None
    queue, running, outcome = list(items), {}, {}
    while queue or running:
        while queue and len(running) < max(1, jobs):
            item = queue.pop(0)
            ident, folder, reason = item
            json_path = json_dir / (ident + ".json")
            if json_path.exists():
                json_path.unlink()
            if reason:
                outcome[ident] = (None, reason)
                done(item, None, reason, 0.0)
                continue
            try:
                running[ident] = (item, _Run(folder, json_path, json_dir / (ident + ".log"), timeout,
                                             reference_dir, python, fork, hide, allow_unisolated, blas_threads))
            except OSError as e:
                outcome[ident] = (None, "the grading run could not start: %s" % e)
                done(item, *outcome[ident], 0.0)
        time.sleep(0.02)
        for ident, (item, run) in list(running.items()):
            code = run.poll()
            if code is None and time.time() - run.start > run_timeout:
                run.kill()
                code = "timeout"
            if code is not None:
                del running[ident]
                outcome[ident] = run.result(code, run_timeout)
                if usage is not None:
                    usage[ident] = (round(time.time() - run.start, 1), run.memory and round(run.memory))
                done(item, *outcome[ident], time.time() - run.start)
    return outcome


def grade_one(submission, json_path, timeout=gs.JOB_TIMEOUT, run_timeout=None, reference_dir=None,
              python=sys.executable, fork=None, allow_unisolated=False):
    """Grade one folder into json_path (named ID.json); returns (results or None, problem or None)."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    ident = json_path.stem
    with tempfile.TemporaryDirectory(prefix="grading-stage-") as staging:
        staged = Path(staging) / ident
        reason = stage(Path(submission), staged)
        return grade_folders([(ident, staged, reason)], json_path.parent, 1, timeout, run_timeout, reference_dir,
                             python, fork, hide=[Path(submission).absolute().parent],
                             allow_unisolated=allow_unisolated)[ident]


def row(name, ident, results_, problem, table, isolation=""):
    """A CSV row. A submission not graded (the grader's failure) gets no points at all, not zeros."""
    parts = (results_ or {}).get("extra_data", {}).get("parts", {})
    out = {"submission": name, "id": ident}
    if problem and problem.startswith("not graded"):
        out.update({p["part"]: "" for p in table["parts"]})
        out.update({"task" + p["task"]: "" for p in table["parts"]})
        out.update(total="", max=results.num(table["total"]), problems=problem.splitlines()[0], format="",
                   isolation=isolation)
        return out
    tasks = {}
    for part in table["parts"]:
        try:
            score = float(parts.get(part["part"], {}).get("score", 0.0)) if results_ else 0.0
        except (TypeError, ValueError, AttributeError):
            score = 0.0
        score = min(max(score, 0.0), float(part["points"]))
        out[part["part"]] = results.num(score)
        tasks[part["task"]] = tasks.get(part["task"], 0.0) + score
    for task, score in tasks.items():
        out["task" + task] = results.num(score)
    out["total"] = results.num(sum(tasks.values()))
    out["max"] = results.num(table["total"])
    problems = [p for p in (results_ or {}).get("extra_data", {}).get("problems", []) if isinstance(p, str)]
    if problem:
        problems.insert(0, problem)
    out["problems"] = " | ".join(p.splitlines()[0] if p else "" for p in problems)
    out["format"] = str((results_ or {}).get("extra_data", {}).get("format", ""))[:20]
    out["isolation"] = str((results_ or {}).get("extra_data", {}).get("isolation") or isolation)[:20]
    return out


def submissions(directory):
    """Every entry of directory but hidden ones, as Paths, in a stable order."""
    return sorted((p for p in Path(directory).iterdir() if not p.name.startswith((".", "_"))
                   and (p.is_dir() or p.is_symlink())), key=lambda p: os.fsencode(p.name))


def columns(table):
    return (["submission", "id"] + [p["part"] for p in table["parts"]]
            + ["task" + t for t in dict.fromkeys(p["task"] for p in table["parts"])]
            + ["total", "max", "format", "isolation", "problems"])


def csv_text(rows, table):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns(table), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: cell(v) for k, v in r.items()})
    return buffer.getvalue()


def private_cases(directory, log=print):
    """A private set of reference cases, made here with a secret random seed (not kept): the
    stored cases are the students' own (the handout has them), so a submission could hold their
    answers."""
    import secrets
    log("making private reference cases (a secret seed; about a minute)...")
    casemaker.write(directory, seed=secrets.randbelow(2 ** 31))
    return directory


class Refused(SystemExit):
    """grade_all will not grade: no isolation, and --allow-unisolated not given."""


def isolation_or_refuse(allow_unisolated, log):
    """The isolation mode the class is graded in, said once; without one, refuse (SystemExit with
    why and how) unless allowed."""
    try:
        mode = sandbox.detect()
    except sandbox.SandboxError as e:
        raise Refused("grade-class: error: %s" % e)
    reason = sandbox.detect_reason()
    if mode == "none" and not allow_unisolated:
        raise Refused("grade-class: refusing to grade without isolation: every submission would run as you and "
                      "could read the private cases, the other submissions and your files.\n  why: %s\n  "
                      "Python: %s\n  how: run as root or where user namespaces are allowed (`unshare -Ur true` "
                      "works); as root in a container without namespaces, install Python where other users can "
                      "read and run it (python3 -m venv /opt/grader); or pass --allow-unisolated"
                      % (reason or "no isolation mode works here", sandbox.python_path()))
    log("isolation: %s%s" % (mode, {"namespace": " (mount, PID, network namespaces; a user id of its own as root)",
                                     "user": " (a user id of its own)",
                                     "none": " (NONE: submissions run as you; --allow-unisolated)"}[mode]))
    return mode


def grade_all(directory, out, jobs=None, timeout=gs.JOB_TIMEOUT, json_dir=None, reference_dir=None,
              python=sys.executable, fork=None, log=print, allow_unisolated=False, report=None):
    """reference_dir: the cases to grade with; None makes private ones (private_cases). Every path is
    taken relative to the current folder (the grading runs themselves work in the grader's)."""
    isolation = isolation_or_refuse(allow_unisolated, log)
    directory, out = Path(directory).absolute(), Path(out).absolute()
    json_dir = Path(json_dir).absolute() if json_dir else None
    reference_dir = Path(reference_dir).absolute() if reference_dir else None
    if reference_dir is not None and not any(reference_dir.glob("*.npz")):
        raise SystemExit("grade-class: error: %s holds no reference cases (vae-teacher cases --out %s)"
                         % (reference_dir, reference_dir))
    table = results.load_points()
    folders = submissions(directory)
    keep = json_dir is not None
    json_dir = Path(json_dir) if keep else Path(tempfile.mkdtemp(prefix="grades-"))
    json_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or min(len(folders), os.cpu_count() or 1) or 1
    staging = Path(tempfile.mkdtemp(prefix="grading-stage-"))   # 0700: no worker can read it
    if reference_dir is None:
        reference_dir = private_cases(staging / ".private-cases", log)
    rows = {}
    out = Path(out)
    partial = open(out, "w", newline="")   # rows as they come: a batch cut short keeps them
    partial.write(csv_text([], table))
    partial.flush()
    usage = {}
    try:
        items = []
        for index, folder in enumerate(folders, 1):
            ident = safe_id(index, folder.name)
            items.append((ident, staging / ident, stage(folder, staging / ident)))
        names = {ident: display_name(folder.name) for (ident, _, _), folder in zip(items, folders)}

        def done(item, results_, problem, seconds):
            ident = item[0]
            line = row(names[ident], ident, results_, problem, table, isolation)
            rows[ident] = line
            partial.write(csv_text([line], table).split("\n", 1)[1])
            partial.flush()
            log("%-30s %6s / %s  (%.0f s)%s" % (names[ident][:30], line["total"], line["max"], seconds,
                                               "  " + line["problems"][:100] if line["problems"] else ""))

        grade_folders(items, json_dir, jobs, timeout, reference_dir=reference_dir, python=python, fork=fork,
                      hide=[Path(directory).absolute(), staging], done=done, allow_unisolated=allow_unisolated,
                      usage=usage)
        # What the class report reads beside the results: who is who, how long each took, the code.
        from grading import class_report
        class_report.write_manifest(json_dir, isolation, [
            {"id": ident, "name": names[ident], "staged": str(folder), "seconds": usage.get(ident, (None, None))[0],
             "memory_mb": usage.get(ident, (None, None))[1], "problem": rows[ident]["problems"],
             "code": class_report.task_code(folder) if folder.is_dir() else {}}
            for ident, folder, _ in items if ident in rows])
        if report:
            log("class report: %s" % class_report.write_report(json_dir, report))
    finally:
        partial.close()
        shutil.rmtree(staging, ignore_errors=True)
    ordered = [rows[ident] for ident, _, _ in items if ident in rows]
    text = csv_text(ordered, table)
    atomic_write(str(out), lambda f: f.write(text.encode()))
    if not keep:
        shutil.rmtree(json_dir, ignore_errors=True)
    return ordered


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher grade-class", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR", nargs="?", help="one sub-folder per submission")
    parser.add_argument("--out", default="grades.csv", help="the CSV to write (default: %(default)s)")
    parser.add_argument("--json-dir", help="keep each submission's results.json and log here, as ID.json and "
                                           "ID.log (default: not kept)")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=gs.JOB_TIMEOUT,
                        help="seconds allowed to one call of a submission's functions (default %(default)s)")
    parser.add_argument("--report", metavar="DIR", help="write the class report, DIR/index.html (the score "
                                                      "distributions, the common mistakes, what needs a human look, "
                                                      "near-identical code, time and memory)")
    parser.add_argument("--reference-dir", help="the reference cases to grade with (default: private ones, made "
                                                "with a secret seed for this batch; vae-teacher cases --seed N "
                                                "--out DIR makes a set to reuse)")
    parser.add_argument("--allow-unisolated", action="store_true",
                        help="grade even where submissions cannot be isolated from the grader (they could then "
                             "read the private cases, each other and your files); refused by default")
    parser.add_argument("--no-fork", action="store_true",
                        help="start every grading run as a new Python process (slower; the default "
                             "on Linux forks them from this one, which imports everything once)")
    args = parser.parse_args(argv)
    if args.submissions is None:
        parser.error("SUBMISSIONS_DIR is required")
    if not Path(args.submissions).is_dir():
        print("grade-class: error: %s is not a folder" % args.submissions, file=sys.stderr)
        return 1
    if not submissions(args.submissions):
        print("grade-class: error: %s has no sub-folders (one per submission)" % args.submissions,
              file=sys.stderr)
        return 1
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        rows = grade_all(args.submissions, args.out, args.jobs, args.timeout, args.json_dir, args.reference_dir,
                         fork=False if args.no_fork else None, allow_unisolated=args.allow_unisolated,
                         report=args.report)
    except Refused as e:
        print(e, file=sys.stderr)
        return 2
    print("%d submissions graded; grades in %s" % (len(rows), args.out))
    return 0

