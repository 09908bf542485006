"""The grading's command-line options, as a pytest plugin loaded with `-p` (pytest.ini's addopts).

Why not in tests/grading/conftest.py: pytest reads the command line once before it loads any
conftest.py, and an option it does not know yet takes no value, so in `--submission DIR` the
DIR would be taken for a folder of tests and DIR/conftest.py, the submission's own file,
imported into the grading process. A plugin given with -p registers the options before that
first reading. pytest_configure then refuses to grade if a conftest.py from outside the
grader's folder was loaded all the same (pytest started some other way).
"""
from pathlib import Path

import pytest

from grading import results, sandbox, submission

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading a submission (tests/grading)")
    group.addoption("--submission", metavar="DIR", default=None,
                    help="folder with the vae.py (and adam.py) to grade (default: this repository's)")
    group.addoption("--grade-json", metavar="PATH", default=None,
                    help="write Gradescope's results.json to PATH")
    group.addoption("--reference-dir", metavar="DIR", default=None,
                    help="stored reference outputs (default: tests/reference, which students have: "
                         "grade others' work with private cases, tools/make_reference.py --seed)")
    group.addoption("--grading-timeout", metavar="SECONDS", type=float, default=submission.JOB_TIMEOUT,
                    help="time allowed to one call of the submission's functions (default %(default)s)")
    group.addoption("--grading-memory", metavar="MB", type=int, default=sandbox.DEFAULT_MEMORY >> 20,
                    help="address space allowed to the submission's process, in MB (default %(default)s)")
    group.addoption("--grading-hide", metavar="PATH", action="append", default=[],
                    help="a folder the submission must not see (e.g. the class's other submissions)")
    group.addoption("--grade-visibility", choices=results.VISIBILITIES, default="visible",
                    help="Gradescope visibility of each test in --grade-json (default %(default)s)")
    group.addoption("--allow-unisolated", action="store_true", default=False,
                    help="grade others' work (--grade-json, --reference-dir, --grading-hide) even where the "
                         "submission cannot be isolated from the grader (it could then read and change what "
                         "you can, the private cases included); refused by default")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    foreign = []
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).name == "conftest.py" and ROOT not in Path(path).resolve().parents:
            foreign.append(path)
    if foreign:
        raise pytest.UsageError("refusing to grade: pytest loaded %s, which is not the grader's. Run from the "
                                "grader's folder, which holds pytest.ini, and give --submission=DIR"
                                % ", ".join(foreign))
