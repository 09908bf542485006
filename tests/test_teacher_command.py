"""vae-teacher (grading/cli.py): one command line for the teacher, a subcommand each; also
`python -m grading` and `python tools/teacher.py`."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEACHER = [sys.executable, "-m", "grading"]
SUBCOMMANDS = ("handout", "cases", "grade", "grade-class", "report", "gradescope", "prairielearn", "points")


def run(*args, cwd=None, command=TEACHER):
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=900, cwd=cwd)


def test_one_help_lists_every_subcommand():
    out = run("--help").stdout
    for name in SUBCOMMANDS:
        assert "\n    %s " % name in out or "\n    %s\n" % name in out, (name, out)
    proc = run("nope")
    assert proc.returncode == 2 and "invalid choice: 'nope'" in proc.stderr


@pytest.mark.parametrize("name", [n for n in SUBCOMMANDS if n != "points"])
def test_each_subcommand_explains_itself(name):
    proc = run(name, "--help")
    assert proc.returncode == 0 and "usage: vae-teacher %s" % name in proc.stdout, proc.stdout + proc.stderr


def test_the_old_names_are_the_same_command():
    for command in ([sys.executable, str(ROOT / "tools" / "teacher.py")], ["vae-teacher"]):
        proc = run("points", command=command)
        assert proc.returncode == 0 and "| **total** | **100** |" in proc.stdout, proc.stderr


def test_grade_one_submission_from_anywhere(tmp_path):
    out = tmp_path / "results.json"
    proc = run("grade", str(ROOT), "--json", str(out), "-k", "compute_KL", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert json.loads(out.read_text())["score"] == 10
