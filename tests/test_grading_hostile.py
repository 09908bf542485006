"""Hostile submissions: a submission that attacks the grader gains nothing over the same
file without the attack, changes no file of the grader, leaves no process behind, and
does not stop a class batch.

The attacks live in tests/fixtures/hostile/hostile.py. Each hostile submission here is
the handout's stub vae.py / adam.py (0 / 100) or the reference (100 / 100) with attacks
armed at import time and/or before a task function's every call (graded in a class
batch by vae-teacher grade-class), or the attacks called directly as functions of an
"arsenal" submission (through grading.submission.Submission, which is faster and
measures each call):

1. reading: the grader's grading/reference, the repository's own vae.py / adam.py (as if
   on sys.path), a classmate's folder, the results JSON, other jails and staging
   folders, the network; used if found (the probe is checked to work without isolation);
2. the channel: garbage, pickles (whose payload creates a file if ever unpickled),
   frames claiming 1 TB or 100 MB, a partial frame, a message that is not a reply,
   forged replies (with and without the call's id), unanswered callbacks, a worker that
   stops reading, an import that keeps saying it has just started, a reply whose arrays
   share their bytes;
3. changing the grader: write / rename / delete its files, create files in its folders,
   forge results JSON, sabotage classmates, from import time, from a call and from a
   daemon that outlives the call; modules named like the grader's or pytest's
   (conftest.py, sitecustomize.py, grading.py, ...);
4. limits: 6 GB, a fork bomb, daemons ignoring SIGTERM in their own session, SIGKILL to
   everything in reach, 10 MB on fds 1 and 2, 10 MB printed, a 300 KB source line, the
   disk; an in-place change hidden from the check that repeats the call;
5. grade_all's inputs: links to the repository, to a classmate and to the reference's
   files, a FIFO, a 2 GB file, names of 252 characters, not UTF-8, with a newline, and
   starting with = + - @;
6. answers looked up in the handout's own stored cases.

Tests that need a kind of isolation are skipped without it (with the reason); in the
class batch such members are then graded unarmed, so that every name is still checked.
The weaknesses these tests found (a conftest.py loaded by the grader's pytest, cases the
students have, a busy worker failing the next call, an in-place change remembered by the
arguments' identity, and the channel and limit attacks) are fixed: every test is a plain
one. The checks that no grader file changed also fail if someone edits the repository
while the tests run (the message says so).
"""
import csv
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
import grading.classroom  # noqa: E402
import grading.handout  # noqa: E402
import grading.casemaker  # noqa: E402
from grading import GradingFailure, sandbox  # noqa: E402
from grading.submission import Submission  # noqa: E402

HOSTILE_PY = ROOT / "tests" / "fixtures" / "hostile" / "hostile.py"
MODE = sandbox.detect()
ISOLATED = MODE in ("namespace", "user")
MARK = "hostile-%s" % uuid.uuid4().hex[:12]     # in the argv of every process an attack starts
GRADER_FILES = ("grading", "support", "tests", "tools", "vae.py", "adam.py", "data.py", "plotting.py")
TIMEOUT = 2.0
UNEXPLAINED = ("grader files changed without the attacks' marker: by the grader itself, or by someone editing "
               "the repository while the tests ran")

needs_namespace = pytest.mark.skipif(
    MODE != "namespace", reason="isolation is %r, not 'namespace': the submission can read the grader's "
                                "world-readable files (reported by the grader, see grading/sandbox.py)" % MODE)
needs_isolation = pytest.mark.skipif(
    not ISOLATED, reason="isolation 'none': the submission runs as the grader's user and can change and kill "
                         "what the grader can (documented in grading/sandbox.py); the attack would succeed")



# ---------------------------------------------------------------------------
# Helpers: files, processes, submissions

def tree_hashes(root, names=None):
    """{relative path: sha256} of the files under root (or under root/name for each name); links,
    FIFOs and files over 16 MB by what they are, never opened."""
    root = Path(root)
    out = {}
    for name in names or ["."]:
        top = root / name
        if not top.is_dir() or top.is_symlink():
            paths = [top] if os.path.lexists(top) else []
        else:
            paths = []
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".pytest_cache")]
                paths += [Path(dirpath) / f for f in filenames + [d for d in dirnames if os.path.islink(
                    os.path.join(dirpath, d))] if not f.endswith(".pyc")]
        for path in paths:
            try:
                info = os.lstat(path)
            except OSError:
                continue        # gone meanwhile (someone else's temporary file)
            if stat.S_ISLNK(info.st_mode):
                digest = "link:" + os.readlink(path)
            elif not stat.S_ISREG(info.st_mode):
                digest = "special:%o" % info.st_mode
            elif info.st_size > 16 << 20:
                digest = "big:%d:%d" % (info.st_size, info.st_mtime_ns)
            else:
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as e:
                    digest = "unreadable: %s" % e.strerror
            out[os.fsencode(os.path.relpath(path, root)).decode("utf-8", "backslashreplace")] = digest
    return out


def grader_snapshot():
    return tree_hashes(ROOT, GRADER_FILES)


def changed(before, after):
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def marked_files(*roots):
    """Files and folders with the attacks' marker in their name (the repository's .git and mnist
    are left out)."""
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".git", "mnist")]
            found += [os.path.join(dirpath, n) for n in dirnames + filenames if MARK in n]
    return found


def undo_damage(*roots):
    """What the attacks changed, undone: files named after the marker (created, renamed, or copies
    of deleted ones: put back or removed) and "# MARK" lines appended to the grader's files. Only
    the attacks' own traces are touched (never a file someone else changed meanwhile)."""
    damage = []
    suffix = ("\n# %s\n" % MARK).encode()
    for path in sorted(marked_files(ROOT, *roots), key=len, reverse=True):
        damage.append(path)
        original = path.split("." + MARK)[0]
        if path.endswith(("-renamed", "-deleted")) and not os.path.lexists(original):
            os.rename(path, original)
        elif os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    for name in GRADER_FILES:
        for dirpath, dirnames, filenames in os.walk(ROOT / name) if (ROOT / name).is_dir() else \
                [(str(ROOT), [], [name])]:
            for f in filenames:
                path = os.path.join(dirpath, f)
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 16 << 20:
                    continue
                data = Path(path).read_bytes()
                if suffix in data:
                    damage.append(path)
                    Path(path).write_bytes(data.replace(suffix, b""))
    return damage


def marked_processes():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path("/proc", pid, "cmdline").read_bytes()
        except OSError:
            continue
        if MARK.encode() in cmdline:
            found.append("%s %s" % (pid, cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def wait_for_marked(kind, seconds=5.0):
    """Whether a process with the marker and kind in its argv appears within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(kind in p for p in marked_processes()):
            return True
        time.sleep(0.05)
    return False


def no_marked_processes(seconds=5.0):
    """The marked processes still there after up to `seconds` (a SIGKILL is not instantaneous)."""
    deadline = time.monotonic() + seconds
    while True:
        left = marked_processes()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def arm_snippet(plan):
    return ("\n\n# ---- hostile (tests/test_grading_hostile.py) ----\n"
            "import hostile as _hostile\n"
            "from hostile import report as hostile_report, writes as hostile_writes\n"
            "_hostile.arm(globals(), %r)\n" % (plan,))


def write_hostile(folder, base, config, vae=None, adam=None, files=None):
    """A submission: base's vae.py / adam.py ({name: text}), each with its plan armed, and files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, plan in (("vae.py", vae), ("adam.py", adam)):
        (folder / name).write_text(base[name] + (arm_snippet(plan) if plan else ""))
    shutil.copy(HOSTILE_PY, folder / "hostile.py")
    (folder / "hostile_config.py").write_text("CONFIG = %r\n" % (config,))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def decode_report(value):
    return json.loads(np.asarray(value, dtype=np.uint8).tobytes().decode())


def function_of(test):
    """The task function a results.json test grades ("Task 1.3 compute_KL: test_kl_values[small]")."""
    words = test["name"].split()
    return words[2].rstrip(":") if len(words) > 2 and words[0] == "Task" else None


class Listener:
    """A TCP server on 127.0.0.1 that records every connection (exfiltration)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(1000))
                except OSError:
                    self.received.append(b"")

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def call_with_watchdog(sub, seconds, function, *args, **kwargs):
    """(outcome, elapsed, fired): function(*args) in this thread; after `seconds`, another thread
    kills the worker (fired), so that a blocked grader gets an error and the test ends; outcome is
    what function returned, or the exception it raised."""
    done = threading.Event()
    fired = []

    def watchdog():
        if not done.wait(seconds):
            fired.append(True)
            sub._kill()
    threading.Thread(target=watchdog, daemon=True).start()
    start = time.monotonic()
    try:
        outcome = function(*args, **kwargs)
    except BaseException as e:      # the grader's own error if it was blocked
        outcome = e
    done.set()
    return outcome, time.monotonic() - start, bool(fired)


# ---------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="module", autouse=True)
def grader_files_at_start():
    """The grader's files before any attack of this module (checked by the last test)."""
    return grader_snapshot()


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    return grading.handout.write_handout(tmp_path_factory.mktemp("handout") / "handout", check_leaks=False)


@pytest.fixture(scope="module")
def stubs(handout):
    return {name: (handout / name).read_text() for name in ("vae.py", "adam.py")}


def lookup_data(handout):
    """lookup_data.py for hostile.lookup: the inputs and expected outputs of every stored case of
    the handout's own grading/reference (what every student has), compressed, in base64."""
    import base64
    meta, arrays = [], {}
    for path in sorted((handout / "grading" / "reference").glob("*.npz")):
        with np.load(path, allow_pickle=False) as f:
            case = json.loads(str(f["meta"])) if "meta" in f.files else {}
            if case.get("call", {}).get("job") not in ("call", "adam_step"):
                continue
            meta.append({"function": case["function"], "job": case["call"]["job"], "args": case["call"]["args"]})
            arrays.update({"c%d.%s" % (len(meta) - 1, k): f[k] for k in f.files if k.startswith(("in.", "expected."))})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return "DATA = %r\nMETA = %r\n" % (base64.b64encode(buffer.getvalue()).decode(), meta)


@pytest.fixture(scope="module")
def reference():
    return {name: (ROOT / name).read_text() for name in ("vae.py", "adam.py")}


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sentinel():
    """A process of the grader's user that no attack may kill."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def base_config(tmp, listener, sentinel, class_dir, json_dir):
    npz = sorted(str(p) for p in (ROOT / "grading" / "reference").glob("*.npz"))
    repo_files = [str(ROOT / p) for p in ("grading/points.json", "grading/rubric/test_task1.py", "vae.py", "adam.py",
                                          "grading/submission.py")]
    return {
        "mark": MARK, "repo": str(ROOT), "grader_uid": os.getuid(), "port": listener.port,
        "sentinels": [sentinel.pid], "pickle_marker": str(Path(tmp) / (MARK + "-unpickled")),
        "secrets": npz[:2] + repo_files + [str(class_dir), str(Path(class_dir) / "reference" / "vae.py"),
                                           str(json_dir)],
        "globs": [str(ROOT / "grading" / "reference" / "*.npz"), str(Path(json_dir) / "*.json"),
                  str(Path(class_dir) / "*" / "vae.py"), "/tmp/grading-jail-*/submission/vae.py",
                  "/tmp/grading-stage-*/*/vae.py"],
        "classmates": [str(Path(class_dir) / "reference"), str(Path(class_dir) / "handout")],
        "targets": repo_files + npz,
        "dirs": [str(ROOT), str(ROOT / "grading"), str(ROOT / "grading" / "reference"), str(ROOT / "grading" / "rubric"),
                 str(json_dir), str(class_dir)],
        "results_globs": [str(Path(json_dir) / "*.json")],
        "sabotage_globs": [str(Path(class_dir) / "*" / "vae.py")],
    }


# ---------------------------------------------------------------------------
# The arsenal: every attack as a function of its own, called directly

LONG_LINE = 300000


@pytest.fixture(scope="module")
def arsenal_setup(tmp_path_factory, reference, listener, sentinel):
    base = tmp_path_factory.mktemp("arsenal")
    class_dir, secret_json = base / "class", base / "results"
    secret_json.mkdir()
    (secret_json / "results.json").write_text('{"score": 100}')
    (class_dir / "reference").mkdir(parents=True)
    for name in ("vae.py", "adam.py"):
        (class_dir / "reference" / name).write_text(reference[name])
    config = base_config(base, listener, sentinel, class_dir, secret_json)
    folder = class_dir / "arsenal"
    folder.mkdir()
    shutil.copy(HOSTILE_PY, folder / "hostile.py")
    (folder / "hostile_config.py").write_text("CONFIG = %r\n" % (config,))
    (folder / "vae.py").write_text(
        "from hostile import *  # noqa\n\n\ndef echo(x):\n    return x\n\n\n"
        "def long_line(*args):\n    raise ValueError('a long line'); _ = '%s'\n" % ("x" * LONG_LINE))
    return base, folder, config, secret_json


# What a busy machine (the suite on every core, CI) may add to a bound, in seconds: a bound measured
# to the second failed an honest grader once. The graders these tests catch block for ever; BUSY
# stays below the default timeouts (10 s a call, 20 s an import), so that one that ignores the
# timeout it is given is still caught.
BUSY = 5.0


@pytest.fixture(scope="module")
def arsenal(arsenal_setup):
    """(Submission, seconds its worker took to start)."""
    base, folder, config, secret_json = arsenal_setup
    sub = Submission(folder, timeout=TIMEOUT, hide=[secret_json])
    start = time.monotonic()
    assert sub.status("vae") is None, sub.problems
    started = time.monotonic() - start
    yield sub, started
    sub.close()


def fresh(arsenal_setup, **kwargs):
    sub = Submission(arsenal_setup[1], hide=[arsenal_setup[3]], **kwargs)
    assert sub.status("vae") is None, sub.problems
    return sub


def echo_works(sub, value=3.0):
    result = sub.call("vae", "echo", value)
    assert float(result.value) == value, "the next call after the attack does not work"


@pytest.mark.parametrize("attack, expect", [
    ("garbage", "malformed reply"),
    ("raw_pickle", "malformed reply"),
    ("framed_pickle", "malformed reply"),
    ("not_a_reply", "not a reply|did not return within"),     # dropped (no id), or refused
])
def test_garbage_and_pickles_on_the_channel_fail_that_call_only(arsenal, arsenal_setup, attack, expect):
    """Caught by: a grader that unpickles (the payload creates a file), trusts a frame that is not
    its format, or dies on one."""
    sub, _ = arsenal
    with pytest.raises(GradingFailure, match=expect):
        sub.call("vae", attack, 1.0, timeout=1.0)
    echo_works(sub)
    assert not Path(arsenal_setup[2]["pickle_marker"]).exists(), "the grader ran the pickle's payload"


@pytest.mark.parametrize("attack", ["huge_header", "long_header", "partial_frame"])
def test_forged_lengths_give_up_within_the_timeout(arsenal, attack):
    """A frame claiming 1 TB, one claiming 100 MB that never comes, a partial frame: each followed by
    an endless sleep. Caught by: a grader reading without a deadline or allocating what a header
    claims."""
    sub, started = arsenal
    timeout = 1.0
    bound = 3 * timeout + 2 * started + BUSY
    outcome, elapsed, fired = call_with_watchdog(sub, bound + 2, sub.call, "vae", attack, 1.0, timeout=timeout)
    assert not fired and elapsed < bound, "%s took %.1f s: %r" % (attack, elapsed, outcome)
    assert isinstance(outcome, GradingFailure), outcome
    assert "malformed reply" in str(outcome) or "did not return within" in str(outcome), outcome
    echo_works(sub)


def test_six_gigabytes_is_a_memory_failure(arsenal):
    """Caught by: a grader without an address-space limit (the call would succeed or the machine swap)."""
    sub, _ = arsenal
    with pytest.raises(GradingFailure, match="memory"):
        sub.call("vae", "hog", 1.0)
    echo_works(sub)


def test_floods_on_fds_1_and_2_and_printing_stay_small(arsenal):
    """10 MB written to fds 1 and 2 (and sys.__stdout__, sys.__stderr__), 10 MB printed. Caught by:
    a worker whose fds 1 and 2 are the grader's, or an uncapped capture."""
    sub, _ = arsenal
    result = sub.call("vae", "flood_fd", 1.0)
    assert float(result.value) == 1.0 and len(result.output) < 5000 and "FFFF" not in result.output
    with pytest.raises(GradingFailure, match="printed more than") as failure:
        sub.call("vae", "flood_print", 1.0)
    assert len(str(failure.value)) < 5000
    echo_works(sub)


def test_fork_bomb_and_daemons_make_no_process(arsenal_setup):
    """200 forks of `sleep 1000`; a double-forked, setsid'd daemon ignoring SIGTERM; a child in
    the worker's session: the sandbox's seccomp filter refuses every new process (EAGAIN) in every
    mode, so a submission is one process, whose limits are the whole submission's, and the call
    that tried costs only itself. Caught by: no filter (the forks succeed: processes to find)."""
    sub = fresh(arsenal_setup, timeout=10)
    try:
        with pytest.raises(GradingFailure, match="BlockingIOError"):
            sub.call("vae", "daemons", 1.0)
        with pytest.raises(GradingFailure, match="fork bomb: 0 forks, then BlockingIOError"):
            sub.call("vae", "bomb", 1.0)
        echo_works(sub)
    finally:
        sub.close()
    assert no_marked_processes() == []


@needs_isolation
def test_kill_attacks_reach_nothing_of_the_grader(arsenal, sentinel):
    """SIGKILL to -1, to the parent, to a process of the grader's user (pid given) and to every pid
    up to 4095. Caught by: a worker running as the grader's user without a PID namespace."""
    sub, _ = arsenal
    result = sub.call("vae", "kills", float(sentinel.pid))
    assert float(result.value) == sentinel.pid
    assert "refused" not in result.output, "the worker runs as the grader's user: %s" % result.output
    time.sleep(0.2)
    assert sentinel.poll() is None, "the attack killed a process of the grader's user"
    echo_works(sub)


@needs_isolation
def test_writing_attacks_change_no_file(arsenal_setup, tmp_path):
    """Write / rename / delete the grader's files, create files in its folders, forge its results
    JSON, sabotage a classmate, from a call (and from a daemon acting after the call: refused, no
    process can be made). Caught by: a worker that can see or write the grader's folders."""
    base, folder, config, secret_json = arsenal_setup
    before, before_results = grader_snapshot(), tree_hashes(base)
    sub = fresh(arsenal_setup)
    try:
        with pytest.raises(GradingFailure, match="BlockingIOError"):
            sub.call("vae", "writer_daemon", 1.0)
        assert float(sub.call("vae", "write_attack", 1.0).value) == 1.0
        seen = decode_report(sub.call("vae", "writes").value)
    finally:
        sub.close()
    wins = {k: v for k, v in seen.items() if str(v).split(":")[0] in ("WRITTEN", "RENAMED", "DELETED", "CREATED",
                                                                       "FORGED", "SABOTAGED")}
    assert seen and not wins, wins
    assert undo_damage(base) == [], "the attacks changed these (now undone)"
    assert changed(before, grader_snapshot()) == [], UNEXPLAINED
    assert changed(before_results, tree_hashes(base)) == []
    assert no_marked_processes() == []


@needs_namespace
def test_reading_attacks_see_nothing(arsenal_setup, stubs, listener, tmp_path):
    """A stub that reads the grader's reference outputs, repository (on sys.path), results JSON,
    a classmate's folder, and connects to the grader's machine, at import and in a call, and
    would use what it found. It sees nothing and scores as the stub; the same probe without
    isolation does read (so the probe works). Caught by: a worker that can see the grader's
    files or network."""
    base, _, config, secret_json = arsenal_setup
    folder = write_hostile(base / "class" / "reader", stubs, config,
                           vae={"import": ["steal"], "compute_KL": ["steal_call"]}, adam={"import": ["steal"]})
    connections = len(listener.received)
    sub = Submission(folder, timeout=TIMEOUT, hide=[secret_json])
    try:
        seen = decode_report(sub.call("vae", "hostile_report").value)
        with pytest.raises(GradingFailure, match="not implemented yet"):
            sub.call("vae", "compute_KL", np.zeros((2, 4)))
    finally:
        sub.close()
    assert seen["own file"].startswith("READ:"), seen
    got = {k: v for k, v in seen.items() if k != "own file" and str(v).split(":")[0] in
           ("READ", "LISTED", "FOUND", "LOADED", "CONNECTED")}
    assert got == {}, got
    assert all(k in seen for k in config["secrets"]) and "network" in seen
    assert len(listener.received) == connections, "the submission connected to the grader's machine"
    # The same probe, not isolated: it reads, loads the reference and connects.
    control = Submission(folder, timeout=20, hide=[secret_json], isolation="none")
    try:
        seen = decode_report(control.call("vae", "hostile_report").value)
        kl = control.call("vae", "compute_KL", np.zeros((2, 4))).value
    finally:
        control.close()
    assert seen[config["secrets"][0]].startswith("READ:") and seen["network"] == "CONNECTED", seen
    assert any(v == "LOADED" for v in seen.values()) and np.allclose(kl, 0), seen


# ---------------------------------------------------------------------------
# The channel and the limits, beyond a single call: forged replies, workers that stop reading,
# imports that keep saying they have just started, replies that grow in the grader, long
# lines, the disk, and an in-place change hidden from the check that looks for it

@pytest.mark.parametrize("attack", ["forge_then_sleep", "forge_with_id_then_sleep", "callback_flood"])
def test_a_worker_that_stops_reading_cannot_block_the_grader(arsenal, arsenal_setup, attack):
    """forge_then_sleep, forge_with_id_then_sleep (the id read from the worker's frames): a forged
    reply, then sleep; the next call sends 16 MB. callback_flood: 3000 callbacks, never reading the
    answers. Each call ends within 3 x the timeout plus a worker start and BUSY (a watchdog kills the worker
    after that, so that the test ends), and the next call gets its own answer. Caught by: a grader
    that writes without a deadline (it blocks for ever), or blames the next call."""
    timeout = 0.3
    bound = 3 * timeout + 2 * arsenal[1] + BUSY
    sub = fresh(arsenal_setup, timeout=timeout)
    try:
        first, elapsed, fired = call_with_watchdog(sub, bound + 0.5, sub.call, "vae", attack, 1.0)
        assert not fired and elapsed < bound, "%s: the grader was blocked %.1f s (%r)" % (attack, elapsed, first)
        # The next call has an allowance of its own (16 MB each way, on a fresh worker if need be,
        # may take more than 0.3 s on a busy machine): what matters is that it is not blocked.
        allowance = 6.0   # spent waiting on the worker that stopped reading, then on a fresh one
        outcome, elapsed, fired = call_with_watchdog(sub, allowance + bound + 0.5, sub.call, "vae", "echo",
                                                     np.zeros(2 << 20), timeout=allowance)
        assert not fired and elapsed < allowance + bound, "the next call: blocked %.1f s (%r)" % (elapsed, outcome)
        assert not isinstance(outcome, BaseException), "the next call failed: %s" % outcome
        assert np.shape(outcome.value) == (2 << 20,)
    finally:
        sub.close()


def test_an_import_that_keeps_saying_importing_is_stopped(tmp_path, arsenal, arsenal_setup):
    """vae.py sends an 'importing' message every 0.2 s for ever: the start gives up within 3 x the
    import timeout plus three worker starts (the next one without vae.py). Caught by: a grader
    that restarts the import deadline at each such message."""
    folder = tmp_path / "keepalive"
    folder.mkdir()
    shutil.copy(HOSTILE_PY, folder / "hostile.py")
    shutil.copy(arsenal_setup[1] / "hostile_config.py", folder / "hostile_config.py")
    (folder / "vae.py").write_text("import hostile\nhostile.importing_keepalive()\n")
    sub = Submission(folder, timeout=0.3, import_timeout=0.3)
    bound = 3 * 0.3 + 3 * arsenal[1] + 3 * BUSY   # three starts on a busy machine
    try:
        outcome, elapsed, fired = call_with_watchdog(sub, bound + 0.5, sub.status, "vae")
    finally:
        sub.close()
    assert not fired and elapsed < bound and "did not finish" in str(outcome), \
        "the start took %.1f s (%r)" % (elapsed, outcome)


AMPLIFY = """
import json, resource, sys, time
sys.path.insert(0, %(root)r)
resource.setrlimit(resource.RLIMIT_AS, (%(limit)d, resource.RLIM_INFINITY))
from grading import GradingFailure
from grading.submission import Submission
import tracemalloc
sub = Submission(%(folder)r, timeout=10)
sub.status("vae")
tracemalloc.start()   # the call's own allocations (numpy's included): the same on any machine
try:
    sub.call("vae", "amplify", %(refs)d.0)
    outcome = "accepted"
except GradingFailure as e:
    outcome = "GradingFailure: " + str(e)[:200]
except BaseException as e:
    outcome = "%%s (not a GradingFailure): %%s" %% (type(e).__name__, str(e)[:200])
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
sub.close()
print(json.dumps({"outcome": outcome, "peak": peak}))
"""


def test_a_small_reply_cannot_blow_up_the_graders_memory(arsenal_setup):
    """A 1 MB reply naming its bytes as 2000 arrays (2 GB once copied). Run in a grader process
    limited to 1.5 GB of address space (so that the test cannot hurt the machine): the call is a
    GradingFailure and allocates under 64 MB (traced by tracemalloc: deterministic, unlike the
    process's peak size). Caught by: a decoder that copies every array a header names (MemoryError
    here; the OOM killer without a limit)."""
    code = AMPLIFY % {"root": str(ROOT), "limit": 3 << 29, "folder": str(arsenal_setup[1]), "refs": 2000}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("GradingFailure") and result["peak"] < 64 << 20, result


@pytest.mark.parametrize("attack", ["forge_then_return", "forge_with_id_then_return"])
def test_a_forged_extra_reply_does_not_shift_later_replies(arsenal_setup, attack):
    """A forged reply (-1) before the real one, without and with the call's id: the grader may take
    either for that call (both are the submission's answer), but the next call gets its own reply.
    Caught by: replies matched to calls by their order alone."""
    sub = fresh(arsenal_setup, timeout=TIMEOUT)
    try:
        sub.call("vae", attack, np.ones(3))
        second = sub.call("vae", "echo", 7.0).value
    finally:
        sub.close()
    assert np.shape(second) == () and float(second) == 7.0, "echo(7.0) got %r" % (second,)


def test_a_long_source_line_does_not_bloat_the_message(arsenal):
    """A function that raises on a 300 KB line: the failure message (a pytest report, a log line)
    stays small. Caught by: a message that quotes the source line or error type whole."""
    sub, _ = arsenal
    with pytest.raises(GradingFailure, match="a long line") as failure:
        sub.call("vae", "long_line", 1.0)
    assert len(str(failure.value)) < 5000, "a message of %d characters" % len(str(failure.value))


@pytest.mark.skipif(MODE != "namespace", reason="the worker's writable folders are bounded tmpfs in namespace "
                                                "isolation only (grading/sandbox.py SCRATCH_SIZE); in %r mode "
                                                "only each file's size is limited" % MODE)
def test_what_a_submission_writes_to_disk_is_bounded(arsenal):
    """7 files of 48 MB (each under the 64 MB file size limit) in the working folder: at most 4 x the
    file size limit may be written in all. Caught by: a scratch folder on the grader's disk."""
    sub, _ = arsenal
    try:
        written = float(sub.call("vae", "fill_scratch", 7.0, timeout=60).value)
    except GradingFailure as e:
        written = 0.0
        assert "memory" not in str(e), e
    assert written * (1 << 20) <= 4 * sandbox.FILE_SIZE, "it wrote %d MB" % written


def test_an_in_place_change_cannot_be_hidden_from_the_repeated_call(arsenal_setup):
    """mutate doubles its arguments in place and returns their sum: called twice on the same arrays
    (the grader's check, repeat=2) it answers two values (the control). mutate_and_memo does the
    same, but remembers its answer by the identity of its arguments: the check must still see
    the change."""
    x = np.arange(1.0, 5.0)
    sub = fresh(arsenal_setup, timeout=TIMEOUT)
    try:
        control = sub.call("vae", "mutate", x.copy(), repeat=2)
        assert control.value[0] != control.value[1] and control.changed, "the control"
        hidden = sub.call("vae", "mutate_and_memo", x.copy(), repeat=2)
    finally:
        sub.close()
    # The remembered answer hides it from the values, not from the arguments' copies.
    assert hidden.value[0] == hidden.value[1] and hidden.changed, "the in-place change went unseen"


# ---------------------------------------------------------------------------
# A class batch: reference, handout, every hostile submission, and odd folders

LONG_NAME = "forged-" + "x" * 245                 # 252 characters
NOT_UTF8 = os.fsdecode(b"\xff\xfe-name")
STUB, REF = "stub", "reference"
SAMPLE = "sample_latent_variables_from_posterior"
VAE_TASKS = (SAMPLE, "bernoulli_log_prob", "compute_KL", "vae_lower_bound", "generate_from_prior", "reconstruct",
             "interpolate")


class Hostile:
    """A class member: its base (the handout's stub or the reference), the attacks armed in its
    vae.py and adam.py, the texts expected in the messages of the attacked functions' tests,
    the isolation it needs (without it, the folder is its base unarmed)."""

    def __init__(self, base, vae=None, adam=None, attacked=None, needs=None, shown=None):
        self.base, self.vae, self.adam, self.attacked = base, vae, adam, attacked or {}
        self.needs, self.shown = needs, shown

    @property
    def armed(self):
        return self.needs is None or self.needs == "isolation" and ISOLATED or \
            self.needs == "namespace" and MODE == "namespace"


CLASS = {
    # 1. reading (and using what it finds)
    "=reader": Hostile(STUB, {"import": ["steal"], "compute_KL": ["steal_call"], "bernoulli_log_prob": ["steal_call"]},
                       {"import": ["steal"]}, needs="namespace", shown="'=reader"),
    # 2. the channel
    "+channel": Hostile(STUB, {SAMPLE: ["garbage"], "bernoulli_log_prob": ["framed_pickle"],
                               "compute_KL": ["raw_pickle"], "generate_from_prior": ["huge_header"]},
                        {"adam_init": ["huge_header"]},
                        {SAMPLE: "malformed reply", "bernoulli_log_prob": "malformed reply",
                         "compute_KL": "malformed reply", "generate_from_prior": "malformed reply",
                         "adam_init": "malformed reply"}, shown="'+channel"),
    LONG_NAME: Hostile(STUB, {"compute_KL": ["forge_with_id_then_return"]},
                       attacked={"compute_KL": "obtained"}),
    # 3. changing the grader
    "-writer": Hostile(STUB, {"import": ["write_attack", "writer_daemon"], "compute_KL": ["write_attack"]},
                       {"import": ["write_attack"]}, needs="isolation", shown="'-writer"),
    # 4. limits
    # (its daemon at import is refused, no process can be made: the arming statement fails with it,
    # and the stub is graded as it is)
    "@procs": Hostile(STUB, {"import": ["daemon"], SAMPLE: ["daemons"], "compute_KL": ["bomb"],
                             "generate_from_prior": ["kills"]},
                      {"adam_init": ["kills"]}, {"compute_KL": "not implemented yet"}, needs="isolation",
                      shown="'@procs"),
    "memory\nhog": Hostile(STUB, {"compute_KL": ["hog"], SAMPLE: ["flood_print"], "bernoulli_log_prob": ["flood_fd"]},
                           attacked={"compute_KL": "memory", SAMPLE: "printed more than"}, shown="memory\\x0ahog"),
    # A working submission with the attacks: never more than 100, no other message
    NOT_UTF8: Hostile(REF, {"import": ["steal", "flood_fd", "daemon", "write_attack"], "compute_KL": ["flood_fd"]},
                      {"import": ["write_attack"]}, needs="isolation", shown="\\xff\\xfe-name"),
    # Modules named like the grader's (and pytest's, and Python's start-up hooks): imported by the
    # grader, they write a file next to the class folder; and a conftest.py that, loaded by the
    # grader's pytest, passes every test
    "shadow": Hostile(STUB),
    "conftest": Hostile(STUB),
    # Answers looked up in the handout's own stored cases
    # (its functions return values, wrong ones, where the stubs raise: any message, no point)
    "lookup": Hostile(STUB, {f: ["lookup"] for f in VAE_TASKS}, {f: ["lookup"] for f in ("adam_init", "adam_step")},
                      attacked={f: "" for f in VAE_TASKS + ("adam_init", "adam_step")}),
}
ODD = ("link-to-repo", "link-to-classmate", "links", "special")
SHADOWS = ("conftest", "sitecustomize", "usercustomize", "grading", "pytest", "grade_all", "results", "submission",
           "protocol", "judge", "cases")
CHEAT = """import pytest


class Cheat:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        report.outcome, report.longrepr = "passed", None


def pytest_configure(config):
    config.pluginmanager.register(Cheat(), "cheat")
"""
SHADOW = """
def _ran(where):
    try:
        with open(%(path)r, "a") as f:
            f.write(where + "\\n")
    except OSError:
        pass


_ran(__name__)


def pytest_configure(config):
    _ran("pytest_configure")
"""


def shown(name):
    return CLASS[name].shown or name


class Batch:
    pass


@pytest.fixture(scope="module")
def batch(tmp_path_factory, handout, stubs, reference, listener, sentinel):
    base = tmp_path_factory.mktemp("hostile-class")
    folder, json_dir, out = base / "class", base / "json", base / "grades.csv"
    folder.mkdir()
    json_dir.mkdir()
    config = base_config(base, listener, sentinel, folder, json_dir)
    for name in ("vae.py", "adam.py"):
        for who, text in (("reference", reference), ("handout", stubs)):
            (folder / who).mkdir(exist_ok=True)
            (folder / who / name).write_text(text[name])
    shadow = SHADOW % {"path": str(base / "shadow-ran")}
    files = {"lookup": {"lookup_data.py": lookup_data(handout)}, "conftest": {"conftest.py": CHEAT},
             "shadow": {module + ".py": shadow for module in SHADOWS}}
    for name, h in CLASS.items():
        files_ = files.get(name)
        write_hostile(folder / name, reference if h.base == REF else stubs, config,
                      h.vae if h.armed else None, h.adam if h.armed else None, files_)
    os.symlink(ROOT, folder / "link-to-repo")
    os.symlink(folder / "reference", folder / "link-to-classmate")
    (folder / "links").mkdir()
    for name in ("vae.py", "adam.py"):
        os.symlink(ROOT / name, folder / "links" / name)
    (folder / "special").mkdir()
    os.mkfifo(folder / "special" / "vae.py")
    with open(folder / "special" / "adam.py", "wb") as f:
        f.truncate(2 << 30)
    b = Batch()
    b.base, b.folder, b.json_dir, b.config = base, folder, json_dir, config
    b.repo_before, b.class_before = grader_snapshot(), tree_hashes(folder)
    b.connections = len(listener.received)
    start = time.monotonic()
    private = grading.casemaker.write(base / "private-cases", seed=777, with_mistakes=False) and base / "private-cases"
    b.code = grading.classroom.main([str(folder), "--out", str(out), "--json-dir", str(json_dir),
                             "--reference-dir", str(private)])
    b.elapsed = time.monotonic() - start
    b.damage = undo_damage(base)
    b.repo_after, b.class_after = grader_snapshot(), tree_hashes(folder)
    b.processes = no_marked_processes()
    b.connections = len(listener.received) - b.connections
    b.csv_text = out.read_text()
    b.rows = list(csv.DictReader(io.StringIO(b.csv_text)))
    b.by_name = {row["submission"]: row for row in b.rows}
    b.results = {}
    for row in b.rows:
        path = json_dir / (row["id"] + ".json")
        if path.exists():
            b.results[row["submission"]] = json.loads(path.read_text())
    return b


def test_class_batch_gives_every_folder_one_row_in_a_well_formed_csv(batch):
    """Caught by: a batch stopped by one submission, an unescaped name breaking the CSV."""
    assert batch.code == 0
    expected = sorted(["reference", "handout"] + [shown(n) for n in CLASS] + list(ODD))
    assert sorted(batch.by_name) == expected
    assert len(batch.rows) == len(expected)
    assert len(batch.csv_text.splitlines()) == len(batch.rows) + 1, "a cell holds a line break"
    assert len({row["id"] for row in batch.rows}) == len(batch.rows)
    for row in batch.rows:
        assert None not in row and all(v is not None for v in row.values()), row
        assert not row["submission"].startswith(("=", "+", "-", "@")), row["submission"]
        assert "longer than" not in row["problems"] and "grading run failed" not in row["problems"], row
    assert batch.by_name[LONG_NAME]["id"].startswith("0") and len(batch.by_name[LONG_NAME]["id"]) <= 45


def test_class_batch_reference_scores_full_marks(batch):
    for name in ["reference"] + [shown(n) for n in CLASS if CLASS[n].base == REF]:
        row, result = batch.by_name[name], batch.results[name]
        assert row["total"] == "100" and result["score"] == 100, (name, row["problems"])
        assert all(t["score"] == t["max_score"] for t in result["tests"]), name


def test_class_batch_handout_scores_zero(batch):
    result = batch.results["handout"]
    assert batch.by_name["handout"]["total"] == "0" and result["score"] == 0
    assert all("not implemented yet" in t["output"] for t in result["tests"])


def _hostile_params():
    out = []
    for name, h in CLASS.items():
        marks = [pytest.mark.skipif(not h.armed, reason="needs %s (graded unarmed here)" % (
            "namespace isolation" if h.needs == "namespace" else "isolation (namespace or user)"))]
        out.append(pytest.param(name, marks=marks, id=shown(name)[:20]))
    return out


@pytest.mark.parametrize("name", _hostile_params())
def test_class_batch_hostile_submission_gets_what_the_file_without_the_attack_gets(batch, name):
    """Total exactly that of its base (0 for a stub, 100 for the reference); the tests of an
    attacked function fail with the expected message; every other test's message is the one the
    same file without the attack gets. Caught by: an attack that gains points, or one that changes
    the outcome of tests it is not part of."""
    h = CLASS[name]
    row, result = batch.by_name[shown(name)], batch.results[shown(name)]
    expected_total = 100 if h.base == REF else 0
    assert row["total"] == str(expected_total) and result["score"] == expected_total, row["problems"]
    assert result["extra_data"]["complete"] is True
    assert "HOSTILE-SUCCESS" not in json.dumps(result)
    base = batch.results["reference" if h.base == REF else "handout"]
    expected = {t["name"]: t["output"] for t in base["tests"]}
    assert sorted(expected) == sorted(t["name"] for t in result["tests"])
    for test in result["tests"]:
        function = function_of(test)
        if function in h.attacked:
            assert test["score"] == 0 and test["status"] == "failed"
            assert h.attacked[function] in test["output"], test
        else:
            assert test["output"] == expected[test["name"]], test["name"]


def test_class_batch_refuses_links_and_special_files(batch):
    """Caught by: staging that follows a link to the repository, a classmate or the reference's
    files (100 points), or blocks on a FIFO / reads a 2 GB file."""
    for name in ("link-to-repo", "link-to-classmate", "links"):
        row = batch.by_name[name]
        assert row["total"] == "0" and "symbolic link" in row["problems"], row
        assert name not in batch.results
    row = batch.by_name["special"]
    assert row["total"] == "0" and "not a regular file" in row["problems"] and "larger than" in row["problems"], row


def test_class_batch_changes_no_file(batch):
    """The grader's files, the class folder, the results (only ID.json and ID.log, and the class's
    manifest, written by the grader), no file with the attacks' marker anywhere, no pickle payload
    run, no connection."""
    assert batch.damage == [], "the attacks changed these (now undone)"
    assert changed(batch.repo_before, batch.repo_after) == [], UNEXPLAINED
    assert changed(batch.class_before, batch.class_after) == []
    graded = {row["id"] for row in batch.rows if row["submission"] in batch.results}
    # (and the copies of what was graded, the figures the grader drew, the cases' seed: the grader's writing)
    assert sorted(os.listdir(batch.json_dir)) == sorted([i + ".json" for i in graded] + [i + ".log" for i in graded]
                                                        + ["class.json", "graded"]
                                                        + (["seeds.json"] if (batch.json_dir / "seeds.json").exists() else [])
                                                        + (["figures"] if (batch.json_dir / "figures").exists() else []))
    for result in batch.results.values():
        assert "forged" not in result["extra_data"] and result["extra_data"]["complete"] is True
        assert abs(sum(t["score"] for t in result["tests"]) - result["score"]) < 1e-6
    assert not Path(batch.config["pickle_marker"]).exists()
    assert batch.connections == 0


def test_class_batch_imports_no_module_of_a_submission_into_the_grader(batch):
    """"shadow" holds conftest.py, sitecustomize.py, grading.py, pytest.py, protocol.py, ... each of
    which, imported anywhere it can write next to the class folder, writes its name there (in the
    worker it cannot). Caught by: a grader that puts a submission's folder where it imports from,
    or lets pytest load its conftest.py."""
    ran = batch.base / "shadow-ran"
    assert not ran.exists(), "the grader ran the submission's modules: %s" % ran.read_text().split()


def test_class_batch_leaves_no_process_and_no_planted_file(batch, sentinel):
    assert batch.processes == []
    assert sentinel.poll() is None, "an attack killed a process of the grader's user"
    jails = Path(tempfile.gettempdir()).glob("grading-jail-*/scratch/%s*" % MARK)
    assert list(jails) == []


def test_class_batch_logs_and_results_stay_small(batch):
    for shown, result in batch.results.items():
        assert all(len(t["output"]) < 5000 for t in result["tests"]), shown
        log = batch.json_dir / (batch.by_name[shown]["id"] + ".log")
        assert log.stat().st_size < 200000, (shown, log.stat().st_size)
        text = log.read_text(errors="replace")
        assert all(c * 4096 not in text for c in "FSP"), "the flood reached the log of %s" % shown


def test_no_grader_file_changed_by_any_attack(grader_files_at_start):
    """Last: the grader's files as they were before this module's first attack."""
    assert undo_damage() == [], "the attacks changed these (now undone)"
    assert changed(grader_files_at_start, grader_snapshot()) == [], UNEXPLAINED
