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
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import api, casemaker, layout, results, sandbox, submission as gs
from grading.feedback import is_png, png_size
from grading.gradebook import cell   # one escaping for every CSV the teacher opens
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


HANDED_IN = {"files": 12, "bytes": 4 << 20, "side": 4096}   # PNGs kept of a submission: how many, how big


def keep_handed_in_images(folder, target):
    """The PNGs a submission handed in (what its own run saved: samples.png, ...), copied to
    target/handed-in-NAME.png for the review and the feedback, beside what the grading drew. Only
    plain files with a PNG's header and a sane size, in the folder holding vae.py or one below it,
    nothing hidden, never through a link. They are shown, never graded. Returns how many."""
    found, _ = layout.find_submission(folder)
    kept, names = 0, set()
    for path in sorted(found.glob("*.png")) + sorted(found.glob("*/*.png")):
        parts = path.relative_to(found).parts
        if kept >= HANDED_IN["files"] or any(part.startswith(".") for part in parts) or \
                any(found.joinpath(*parts[:i + 1]).is_symlink() for i in range(len(parts))):
            continue
        try:   # no link, no FIFO to block on, no more than the limit read
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(HANDED_IN["bytes"] + 1)
        except OSError:
            continue
        size = png_size(data) if is_png(data) and len(data) <= HANDED_IN["bytes"] else None
        if not size or not all(0 < side <= HANDED_IN["side"] for side in size):
            continue
        name = re.sub(r"[^A-Za-z0-9_]+", "-", "-".join(parts)[:-4]).strip("-")[:40] or "image"
        while name in names:
            name += "-"
        names.add(name)
        target.mkdir(parents=True, exist_ok=True)
        atomic_write(str(target / ("handed-in-%s.png" % name)), lambda f, data=data: f.write(data))
        kept += 1
    return kept


class _Run:
    """One grading run in progress: a forked child running pytest in-process (Linux), or a
    subprocess; in its own process group, so that a timeout kills all of it."""

    def __init__(self, submission, json_path, log_path, timeout, reference_dir, python, fork, hide,
                 allow_unisolated=False, blas_threads=None):
        self.json_path, self.log_path = Path(json_path), Path(log_path)
        self.start, self.memory = time.time(), None
        figures = self.json_path.parent / "figures" / self.json_path.stem
        if figures.exists():
            shutil.rmtree(figures)
        args = api.command(submission, python, results=json_path, cases=reference_dir, timeout=timeout, hide=hide,
                           allow_unisolated=allow_unisolated, figures=figures)
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


def row(name, ident, results_, problem, table, isolation="", overrides=None, student=None):
    """A CSV row. A submission not graded (the grader's failure) gets no points at all, not zeros.
    overrides: the submission's {part: override} (grading/overrides.py); student: its roster entry."""
    from grading import overrides as hand
    out = {"submission": name, "id": ident}
    out.update({key: (student or {}).get(key, "") for key in STUDENT_COLUMNS})
    if problem and problem.startswith("not graded"):
        out.update({p["part"]: "" for p in table["parts"]})
        out.update({"task" + p["task"]: "" for p in table["parts"]})
        out.update(total="", max=results.num(table["total"]), problems=problem.splitlines()[0], format="",
                   isolation=isolation, by_hand="", to_review="")
        return out
    tasks, by_hand, stale = {}, [], []
    for part in table["parts"]:
        score, how = hand.points(results_, part["part"], (overrides or {}).get(part["part"]), part["points"])
        if how == "by hand":
            by_hand.append("%s=%s (automatic %s)" % (part["part"], results.num(score),
                                                     results.num(hand.automatic(results_, part["part"]))))
        elif how == "stale":
            stale.append(part["part"])
        out[part["part"]] = results.num(score)
        tasks[part["task"]] = tasks.get(part["task"], 0.0) + score
    for task, score in tasks.items():
        out["task" + task] = results.num(score)
    out["total"] = results.num(sum(tasks.values()))
    out["max"] = results.num(table["total"])
    out["by_hand"] = "; ".join(by_hand)
    out["to_review"] = " ".join(stale)
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


STUDENT_COLUMNS = ("student", "student_id", "email", "section")   # the roster's, where one is given


def columns(table):
    return (["submission"] + list(STUDENT_COLUMNS) + ["id"] + [p["part"] for p in table["parts"]]
            + ["task" + t for t in dict.fromkeys(p["task"] for p in table["parts"])]
            + ["total", "max", "by_hand", "to_review", "format", "isolation", "problems"])


def csv_text(rows, table):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns(table), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: cell(v) for k, v in r.items()})
    return buffer.getvalue()


def private_cases(directory, log=print, seed=None):
    """A private set of reference cases, made here with a secret random seed (the stored cases are
    the students' own: the handout has them, so a submission could hold their answers). Returns
    (directory, seed): the seed goes into the class's teacher-only seeds.json, for regrades and
    replays, never into a result."""
    import secrets
    seed = secrets.randbelow(2 ** 31) if seed is None else seed
    log("making private reference cases (a secret seed; about a minute)...")
    casemaker.write(directory, seed=seed)
    return directory, seed


def cases_again(json_dir, cases, directory, log=print):
    """The class's private cases made again from the seed kept in json_dir, checked to be the very
    cases (the hash `cases` that the results record); SystemExit when they cannot be."""
    from grading import provenance
    seed = provenance.load_seeds(json_dir).get(cases or "")
    if seed is None:
        raise SystemExit("grade-class: error: %s keeps no seed for the cases %s that graded this class (they were "
                         "given with --reference-dir: give them again)" % (json_dir, cases))
    log("making the class's cases again from its seed (about a minute)...")
    casemaker.write(directory, seed=seed["seed"], with_mistakes=seed.get("with_mistakes", True))
    if provenance.cases_hash(directory) != cases:
        raise SystemExit("grade-class: error: the cases made again from the class's seed differ from those that "
                         "graded it (%s, now %s): this grader makes other cases (a changed case maker?); regrade "
                         "the whole class" % (cases, provenance.cases_hash(directory)))
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


def student_record(student):
    """A roster.Student as class.json keeps it: STUDENT_COLUMNS' names, and the login."""
    return {"student": student.name, "student_id": student.student_id, "email": student.email,
            "section": student.section, "login": student.login}


def class_rows(json_dir, manifest, entries, table):
    """grades.csv's rows of a graded class, the teacher's overrides applied."""
    from grading import overrides as hand
    by_hand = hand.load(json_dir)
    return [row(e["name"], e["id"], e["result"], e.get("run_problem"), table, manifest.get("isolation", ""),
                by_hand.get(e["name"]), e.get("student")) for e in entries]


def refresh(json_dir, log=print):
    """Everything made from a class's results again, overrides applied: grades.csv, the class report
    with its feedback pages, and the gradebook exports chosen; returns grades.csv's rows."""
    from grading import class_report, export
    manifest, entries = class_report.load(json_dir)
    table = results.load_points()
    rows = class_rows(json_dir, manifest, entries, table)
    if manifest.get("out"):
        text = csv_text(rows, table)
        atomic_write(manifest["out"], lambda f: f.write(text.encode()))
    if manifest.get("report"):
        log("class report: %s" % class_report.write_report(json_dir, manifest["report"], rows))
    for kind, options in (manifest.get("exports") or {}).items():
        export.export(json_dir, kind, rows=rows, log=log, **options)
    return rows


def grade_all(directory, out, jobs=None, timeout=gs.JOB_TIMEOUT, json_dir=None, reference_dir=None,
              python=sys.executable, fork=None, log=print, allow_unisolated=False, report=None, roster=None,
              only=None):
    """reference_dir: the cases to grade with; None makes private ones (private_cases). Every path is
    taken relative to the current folder (the grading runs themselves work in the grader's).
    roster: a roster CSV (grading/roster.py). only: folder names to grade again, in a class already
    graded into json_dir (the others keep their results; new folders join the class)."""
    from grading import class_report, provenance
    isolation = isolation_or_refuse(allow_unisolated, log)
    if out is None:   # --only: where the class's grades are
        out = (class_report.load_manifest(json_dir) or {}).get("out") if json_dir and only is not None else None
        out = out or "grades.csv"
    directory, out = Path(directory).absolute(), Path(out).absolute()
    json_dir = Path(json_dir).absolute() if json_dir else None
    reference_dir = Path(reference_dir).absolute() if reference_dir else None
    if reference_dir is not None and not any(reference_dir.glob("*.npz")):
        raise SystemExit("grade-class: error: %s holds no reference cases (vae-teacher cases --out %s)"
                         % (reference_dir, reference_dir))
    given_cases = reference_dir is not None   # the teacher's own set (else private ones, from a kept seed)
    previous = None
    if only is not None:
        previous = class_report.load_manifest(json_dir) if json_dir else None
        if previous is None:
            raise SystemExit("grade-class: error: --only regrades a class already graded with --json-dir: %s holds "
                             "no class.json (grade the whole class first)" % json_dir)
    table = results.load_points()
    folders = submissions(directory)
    names_of = {folder: display_name(folder.name) for folder in folders}
    if only is not None:
        unknown = sorted(set(only) - set(names_of.values()))
        if unknown:
            raise SystemExit("grade-class: error: no submission folder %s in %s (its folders: %s)"
                             % (", ".join(map(repr, unknown)), directory,
                                ", ".join(sorted(names_of.values())[:20])))
    students, roster_note = {}, None
    if roster is not None:
        from grading import roster as roster_module
        try:
            match = roster_module.match(roster_module.load(roster), list(names_of.values()))
        except (ValueError, OSError) as e:
            raise SystemExit("grade-class: error: %s" % e)
        students = {name: student_record(s) for name, s in match.by_folder.items()}
        roster_note = {"file": str(Path(roster).absolute()), "unmatched_folders": list(match.unmatched_folders),
                       "rows_without_folder": [student_record(s) for s in match.rows_without_folder],
                       "notes": roster_module.describe(match)}
        for line in roster_note["notes"]:
            log("roster: " + line)
    elif previous is not None:
        students = {e["name"]: e.get("student") for e in previous.get("submissions", [])}
        roster_note = previous.get("roster")
    keep = json_dir is not None
    json_dir = Path(json_dir) if keep else Path(tempfile.mkdtemp(prefix="grades-"))
    json_dir.mkdir(mode=0o700, parents=True, exist_ok=True)   # the results, the seed, the graded code: yours
    staging = Path(tempfile.mkdtemp(prefix="grading-stage-"))   # 0700: no worker can read it
    seed = None
    if reference_dir is None and previous is not None and previous.get("cases") and not previous.get("reference_dir"):
        reference_dir = cases_again(json_dir, previous["cases"], staging / ".private-cases", log)
    elif reference_dir is None and previous is not None and previous.get("reference_dir"):
        reference_dir, given_cases = Path(previous["reference_dir"]), True
    elif reference_dir is None:
        reference_dir, seed = private_cases(staging / ".private-cases", log)
    cases = provenance.cases_hash(reference_dir)
    if previous is not None and previous.get("cases") and cases != previous["cases"]:
        raise SystemExit("grade-class: error: %s are not the cases that graded this class (%s, these %s); "
                         "regrade the whole class" % (reference_dir, previous["cases"], cases))
    if seed is not None and keep:
        provenance.save_seed(json_dir, cases, seed, True)
    old = {e["name"]: e for e in (previous or {}).get("submissions", [])}
    chosen = [f for f in folders if only is None or names_of[f] in only]
    # A folder keeps its id through regrades; one new to the class (a late hand-in) takes the next.
    next_id = max([int(e["id"]) for e in old.values() if str(e.get("id", "")).isdigit()] + [0]) + 1
    ids = {}
    for folder in chosen:
        if names_of[folder] in old:
            ids[folder] = old[names_of[folder]]["id"]
        else:
            ids[folder], next_id = safe_id(next_id, folder.name), next_id + 1
    jobs = jobs or min(len(chosen), os.cpu_count() or 1) or 1
    rows = {}
    partial = None if previous is not None else open(out, "w", newline="")   # rows as they come
    if partial:
        partial.write(csv_text([], table))
        partial.flush()
    usage, run_problems, entries = {}, {}, {}
    try:
        items = [(ids[f], staging / ids[f], stage(f, staging / ids[f])) for f in chosen]
        names = {ids[f]: names_of[f] for f in chosen}

        def done(item, results_, problem, seconds):
            ident = item[0]
            line = row(names[ident], ident, results_, problem, table, isolation, student=students.get(names[ident]))
            rows[ident], run_problems[ident] = line, problem
            if partial:
                partial.write(csv_text([line], table).split("\n", 1)[1])
                partial.flush()
            log("%-30s %6s / %s  (%.0f s)%s" % (names[ident][:30], line["total"], line["max"], seconds,
                                               "  " + line["problems"][:100] if line["problems"] else ""))

        grade_folders(items, json_dir, jobs, timeout, reference_dir=reference_dir, python=python, fork=fork,
                      hide=[Path(directory).absolute(), staging, json_dir], done=done,
                      allow_unisolated=allow_unisolated, usage=usage)
        originals = {ids[f]: f for f in chosen}
        for ident, folder, refused in items:
            if ident not in rows:
                continue
            if not refused:
                keep_handed_in_images(originals[ident], json_dir / "figures" / ident)
            graded = json_dir / "graded" / ident   # what was graded, kept for the review and for replays
            if graded.exists():
                shutil.rmtree(graded)
            if folder.is_dir():
                shutil.copytree(folder, graded)
            entries[ident] = {
                "id": ident, "name": names[ident], "graded": str(graded.relative_to(json_dir)),
                "seconds": usage.get(ident, (None, None))[0], "memory_mb": usage.get(ident, (None, None))[1],
                "problem": rows[ident]["problems"], "run_problem": run_problems[ident],
                "student": students.get(names[ident]),
                "code": class_report.task_code(folder) if folder.is_dir() else {}}
    finally:
        if partial:
            partial.close()
        shutil.rmtree(staging, ignore_errors=True)
    # The class in folder order: the entries graded now, the others as they were (with the roster's
    # entry, if one is given now).
    merged = [entries.get(ids.get(f)) or dict(old[names_of[f]], student=students.get(names_of[f],
                                                                                  old[names_of[f]].get("student")))
              for f in folders if ids.get(f) in entries or names_of[f] in old]
    manifest = dict(previous or {}, isolation=isolation, cases=cases, submissions=merged,
                    reference_dir=str(reference_dir) if given_cases else None,
                    out=str(out), report=str(Path(report).absolute()) if report else (previous or {}).get("report"),
                    roster=roster_note)
    class_report.write_manifest(json_dir, manifest)
    ordered = refresh(json_dir, log)
    if not keep:
        shutil.rmtree(json_dir, ignore_errors=True)
    return ordered if only is None else [r for r in ordered if r["submission"] in {names_of[f] for f in chosen}]


def main(argv=None):
    from grading import class_report, overrides as hand
    parser = argparse.ArgumentParser(prog="vae-teacher grade-class", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR", nargs="?", help="one sub-folder per submission")
    parser.add_argument("--out", default=None, help="the CSV to write (default: grades.csv; with --only, the "
                                                     "class's)")
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
    parser.add_argument("--roster", metavar="CSV", help="who is who: a CSV with a folder column and the students' "
                                                       "name, email, student_id, section (README, The roster)")
    parser.add_argument("--only", metavar="NAME", nargs="+", help="grade again only these submission folders of a "
                                                                 "class graded before into --json-dir (with its "
                                                                 "cases), updating its grades, report and exports")
    args = parser.parse_args(argv)
    if args.only and not args.json_dir:
        parser.error("--only needs the class's --json-dir (where it was graded before)")
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
                         report=args.report, roster=args.roster, only=args.only)
    except Refused as e:
        print(e, file=sys.stderr)
        return 2
    out = args.out or (class_report.load_manifest(args.json_dir) or {}).get("out") if args.json_dir else args.out
    print("%d submissions graded; grades in %s" % (len(rows), out or "grades.csv"))
    if args.json_dir:
        pending = len(hand.pending(hand.for_class(args.json_dir)[0]))
        if pending:
            print("%d part%s need%s a human look: vae-teacher review %s" % (
                pending, "" if pending == 1 else "s", "s" if pending == 1 else "", args.json_dir))
    return 0

