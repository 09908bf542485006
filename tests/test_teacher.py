"""tools/teacher.py: one command line for the teacher, its subcommands the tools' own."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEACHER = [sys.executable, str(ROOT / "tools" / "teacher.py")]


def run(*args, cwd=None):
    return subprocess.run(TEACHER + list(args), capture_output=True, text=True, timeout=900, cwd=cwd)


def test_one_help_lists_every_subcommand():
    out = run("--help").stdout
    for name in ("handout", "reference", "grade", "grade-class", "report", "gradescope", "prairielearn"):
        assert "\n  %s " % name in out
    proc = run("nope")
    assert proc.returncode == 2 and "no subcommand 'nope'" in proc.stderr


@pytest.mark.parametrize("name", ["handout", "reference", "grade", "grade-class", "report", "gradescope",
                                  "prairielearn"])
def test_each_subcommand_explains_itself(name):
    proc = run(name, "--help")
    assert proc.returncode == 0 and "usage" in proc.stdout, proc.stderr


def test_grade_one_submission_from_anywhere(tmp_path):
    out = tmp_path / "results.json"
    proc = run("grade", str(ROOT), "--json", str(out), "-k", "compute_KL", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert json.loads(out.read_text())["score"] == 10
