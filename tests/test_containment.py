"""A submission contained as a whole, isolation that fails closed, and a grader that a run cannot
make allocate without end (grading/sandbox.py, grading/submission.py, grading/observe.py).

Each test stages what a hostile student, or an unusual grading machine, does: a Python under
/tmp or reached through a link, an interpreter the worker's user cannot run, no isolation at
all, replayed noise and forged traces that ask the grader for gigabytes, forks that would hold
memory, a classmate hogging the only CPU, files left behind.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grading import GradingFailure, NotGraded, api, observe, sandbox  # noqa: E402
from grading.submission import Submission  # noqa: E402

MODE = sandbox.detect()
needs_namespace = pytest.mark.skipif(MODE != "namespace", reason="needs namespace isolation on this machine")
SIGMOID_CALL = """
import sys
sys.path.insert(0, %r)
from grading import sandbox
from grading.submission import Submission
sub = Submission(%r)
try:
    print(sandbox.detect(), float(sub.call("vae", "sigmoid", 0.0).value))
finally:
    sub.close()
"""


def run_with(python, folder=ROOT, env=None):
    code = SIGMOID_CALL % (str(ROOT), str(folder))
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})), cwd=str(ROOT))


def venv_of_this_python(folder):
    """A venv at folder that sees the packages this interpreter sees, wherever they are installed
    (this interpreter's own venv, or its base), not its base interpreter's alone:
    --system-site-packages would give the base's, which may lack autograd."""
    import site
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    ours = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
    (site_packages,) = (folder / "lib").glob("python*/site-packages")
    (site_packages / "this-pythons-packages.pth").write_text("".join(p + "\n" for p in ours))
    return folder / "bin" / "python"


@needs_namespace
def test_a_python_under_tmp_is_isolated(tmp_path):
    """A venv under /tmp: its folder is bound inside the sandbox's own /tmp (it once collided)."""
    venv = Path("/tmp") / ("grading-venv-%d" % os.getpid())
    try:
        proc = run_with(venv_of_this_python(venv))
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.split() == ["namespace", "0.5"], proc.stdout
    finally:
        subprocess.run(["rm", "-rf", str(venv)])


@needs_namespace
def test_a_python_reached_through_a_link_is_isolated(tmp_path):
    """The interpreter's folder reached through a symbolic link: run by its real path. The folder is
    this interpreter's prefix (its venv's, when it runs in one: the venv's packages come with it)."""
    link = tmp_path / "python-link"
    link.symlink_to(Path(sys.prefix).resolve())
    proc = run_with(link / "bin" / Path(sys.executable).name)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["namespace", "0.5"], proc.stdout


def test_a_worker_python_that_lacks_a_package_says_which_and_where(tmp_path, monkeypatch):
    """A worker's interpreter without numpy or autograd (a bare venv here): no grade, and a message
    that names the missing module and the interpreter, not a bare exit code."""
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    python = str(bare / "bin" / "python")
    monkeypatch.setattr(sandbox, "python_path", lambda: python)
    sub = Submission(ROOT, isolation=MODE)
    try:
        with pytest.raises(NotGraded) as caught:
            sub.call("vae", "sigmoid", 0.0)
    finally:
        sub.close()
    text = str(caught.value)
    assert "the sandbox could not start" in text and "No module named" in text, text
    assert python in text and "requirements.txt" in text, text


def grade_json(tmp_path, env, select=None, allow_unisolated=False):
    """The reference graded by the grading's command (grading/api.py), its results written."""
    out = tmp_path / "results.json"
    proc = subprocess.run(api.command(ROOT, results=out, select=select, allow_unisolated=allow_unisolated),
                          capture_output=True, text=True, timeout=600, cwd=str(ROOT), env=dict(os.environ, **env))
    return proc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.mark.skipif(os.geteuid() != 0, reason="a user id of its own needs root")
def test_a_worker_that_cannot_start_is_not_graded(tmp_path):
    """User isolation with an interpreter the worker's user cannot run (under a 0700 home here, or
    a Python it cannot read): never 0 with complete true: no score, complete false, and why."""
    if sandbox.probe("user")[0]:
        pytest.skip("the worker's user can run this Python: nothing to stage")
    proc, result = grade_json(tmp_path, {"GRADING_ISOLATION": "user"}, select="compute_KL")
    assert result is not None, proc.stdout[-2000:]
    assert result["extra_data"]["complete"] is False and result["score"] is None, result["output"]
    assert "not graded: the sandbox could not start" in result["extra_data"]["not_graded"][0]
    assert "cannot run" in result["extra_data"]["not_graded"][0]
    assert "NOT GRADED" in proc.stdout


def test_grading_others_work_unisolated_is_refused_unless_allowed(tmp_path):
    """Without isolation, grading with a results file (others' work) stops at once and says why and
    how; --allow-unisolated grades, and the results say "none"."""
    proc, result = grade_json(tmp_path, {"GRADING_ISOLATION": "none"}, select="compute_KL")
    assert proc.returncode != 0 and "refusing to grade others' work without isolation" in proc.stderr, proc.stderr
    assert "--allow-unisolated" in proc.stderr and "Python:" in proc.stderr
    assert result is None or result["extra_data"]["complete"] is False
    proc, result = grade_json(tmp_path, {"GRADING_ISOLATION": "none"}, select="compute_KL", allow_unisolated=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert result["extra_data"]["isolation"] == "none" and result["score"] == 10


# ---------------------------------------------------------------------------
# The grader's own memory: what a run reports is bounded before it is used

TRACED = """
import json, sys, tracemalloc
sys.path.insert(0, %(root)r)
from grading import GradingFailure, observe
from grading.submission import Submission
sub = Submission(%(folder)r, timeout=30)
sub.status("vae")
tracemalloc.start()
try:
    run = observe.Run(sub)
    outcome = "observed %%d draws" %% len(run.draws)
except GradingFailure as e:
    outcome = "GradingFailure: " + str(e)[:300]
peak = tracemalloc.get_traced_memory()[1]
sub.close()
print(json.dumps({"outcome": outcome, "peak": peak}))
"""


def original_with(tmp_path, task3_extra):
    """The original practical's solution with code appended to its main block."""
    text = (ROOT / "tests" / "fixtures" / "original_practical" / "vae.py").read_text()
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "vae.py").write_text(text + textwrap.indent(textwrap.dedent(task3_extra), "    "))
    return folder


@pytest.mark.full   # a minute of noise; test_a_forged_trace_asks_the_grader_for_nothing_big is the quick one
def test_replaying_a_run_s_noise_keeps_the_grader_small(tmp_path):
    """30 draws of npr.randn(10 ** 7) after training (public API only): the grader regenerates a
    bounded number of values and keeps less (it once kept all of them, 80 MB a draw); its allocations
    stay under 256 MB."""
    folder = original_with(tmp_path, """
        for _ in range(30):
            npr.randn(10 ** 7)
        """)
    proc = subprocess.run([sys.executable, "-c", TRACED % {"root": str(ROOT), "folder": str(folder)}],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("observed"), result
    assert result["peak"] < 256 << 20, result


def test_a_forged_trace_asks_the_grader_for_nothing_big():
    """A trace claiming 20000 draws of 10^12 values, and saves and networks of a billion values:
    replayed and read within bounds, at once."""
    import time
    start = time.monotonic()
    draws = observe.Run.replay([[10 ** 12]] * 20000, [0] * 20000)
    assert draws == [] and time.monotonic() - start < 5

    class Fake:
        value = {"saves": [np.zeros((10 ** 6, 784), dtype=np.uint8)], "calls": 1,
                 "networks": {"decoder": [[(np.zeros((50, 10 ** 6), dtype=np.uint8), np.zeros(10 ** 6))]]},
                 "draw_shapes": [[10 ** 12]], "draw_calls": [1]}
        output = ""
    run = observe.Run.__new__(observe.Run)
    run.reset()
    run.read(Fake())
    assert run.saves[0][0].shape == (120, 784) and run.networks["decoder"] == [] and run.draws == []


def test_a_reply_of_too_many_numbers_is_refused_before_conversion(tmp_path):
    """256 MB of uint8 (2 GB as float64): refused by count, never converted."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "vae.py").write_text("import numpy as np\ndef big():\n    return np.zeros(200 * 2 ** 20, np.uint8)\n")
    sub = Submission(folder)
    try:
        with pytest.raises(GradingFailure, match="more than the"):
            sub.call("vae", "big")
    finally:
        sub.close()


# ---------------------------------------------------------------------------
# A submission is one process

def test_fork_and_hold_holds_nothing(tmp_path):
    """Eight forks, each to hold 700 MB: refused, so the submission's memory is one process's,
    bounded by --grading-memory (MemoryError past it)."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "vae.py").write_text(textwrap.dedent("""
        import os
        import numpy as np
        def hold():
            made = 0
            for _ in range(8):
                try:
                    if os.fork() == 0:
                        np.ones(700 * 2 ** 20 // 8).sum()
                        os._exit(0)
                    made += 1
                except OSError:
                    pass
            return made
        def hog():
            return np.ones(800 * 2 ** 20 // 8).sum()
        """))
    sub = Submission(folder, memory=512 << 20)
    try:
        assert sub.call("vae", "hold").value == 0
        with pytest.raises(GradingFailure, match="memory"):
            sub.call("vae", "hog")
    finally:
        sub.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="a user id of its own needs root")
def test_what_a_user_id_leaves_in_shared_folders_is_found_and_removed(tmp_path):
    """User mode: files the worker's user left in /tmp, /var/tmp, /dev/shm are counted (to stop a
    run that fills the disk) and removed with the jail."""
    jail = sandbox.Jail(None, [], "user")
    made = []
    try:
        for folder in ("/tmp", "/dev/shm"):
            if os.path.isdir(folder):
                path = os.path.join(folder, "grading-left-%d" % os.getpid())
                with open(path, "wb") as f:
                    f.write(b"x" * 1000)
                os.chown(path, jail.uid, jail.uid)
                made.append(path)
        assert made and jail.written() >= 1000 * len(made)
    finally:
        jail.remove()
    assert not any(os.path.exists(p) for p in made)


@pytest.mark.full
@needs_namespace
def test_a_cpu_hog_on_the_only_cpu_costs_its_classmate_nothing(tmp_path):
    """A class graded on one CPU (taskset -c 0), two at once: a submission whose every function
    spins, beside the reference. The reference's calls are timed in its own time: 100."""
    if not sys.platform.startswith("linux") or subprocess.run(["which", "taskset"]).returncode:
        pytest.skip("needs taskset")
    folder = tmp_path / "class"
    for name in ("honest", "hog"):
        (folder / name).mkdir(parents=True)
        for file in ("vae.py", "adam.py"):
            (folder / name / file).write_text((ROOT / file).read_text())
    (folder / "hog" / "vae.py").write_text((ROOT / "vae.py").read_text() + textwrap.dedent("""
        import time as _time
        def _spin(*args, **kwargs):
            end = _time.time() + 1000
            while _time.time() < end:
                pass
        sample_latent_variables_from_posterior = bernoulli_log_prob = compute_KL = _spin
        """))
    proc = subprocess.run(["taskset", "-c", "0", sys.executable, "-m", "grading", "grade-class", str(folder),
                           "--out", str(tmp_path / "grades.csv"), "--jobs", "2"],
                          capture_output=True, text=True, timeout=3000, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    import csv
    with open(tmp_path / "grades.csv") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    assert rows["honest"]["total"] == "100", rows["honest"]


@pytest.mark.full
@pytest.mark.parametrize("mode", ["namespace", "user", "none"])
def test_the_reference_scores_100_and_the_stubs_0_in_every_mode(mode, tmp_path):
    """In every isolation mode this machine supports (none with --allow-unisolated)."""
    if not sandbox.probe(mode)[0]:
        pytest.skip("%s isolation does not work here: %s" % (mode, sandbox.probe(mode)[1]))
    from grading import handout as handouts
    handout = handouts.write_handout(tmp_path / "handout", check_leaks=False)
    for folder, total in ((ROOT, 100), (handout, 0)):
        out = tmp_path / ("%s.json" % total)
        proc = subprocess.run(api.command(folder, results=out, allow_unisolated=True),
                              capture_output=True, text=True, timeout=900, cwd=str(ROOT),
                              env=dict(os.environ, GRADING_ISOLATION=mode))
        result = json.loads(out.read_text())
        assert result["score"] == total and result["extra_data"]["complete"], proc.stdout[-2000:]
        assert result["extra_data"]["isolation"] == mode


def test_a_length_claimed_but_not_sent_costs_the_grader_nothing():
    """A frame that claims 150 MB (under the reply cap) and sends 10 bytes: the reader waits for
    them with what arrived, not with 150 MB set aside. Caught by: a buffer sized from the claim."""
    import tracemalloc
    from grading.worker import protocol
    r, w = os.pipe()
    try:
        os.write(w, protocol.FRAME.pack(protocol.MAGIC, 150 << 20) + b"0123456789")
        os.close(w)
        w = None
        tracemalloc.start()
        with pytest.raises(EOFError):
            protocol.read_message(r, cap=160 << 20)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1 << 20, "the reader set aside %d bytes" % peak
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
