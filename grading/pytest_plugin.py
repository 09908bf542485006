"""The grading as a pytest plugin, loaded with `-p grading.pytest_plugin` (grading/api.py's
command, pytest.ini's addopts): its command-line options, the fixtures the rubric's tests use
(grading/rubric), each test's points and the per-task summary.

    python -m pytest grading/rubric                                 # grade this folder's vae.py, adam.py
    python -m pytest grading/rubric --submission DIR                # grade DIR/vae.py and DIR/adam.py
    python -m pytest grading/rubric --submission DIR --grade-json results.json   # Gradescope's format

Why a plugin and not a conftest.py: pytest reads the command line once before it loads any
conftest.py, and an option it does not know yet takes no value, so in `--submission DIR` the
DIR would be taken for a folder of tests and DIR/conftest.py, the submission's own file,
imported into the grading process. A plugin given with -p registers the options before that
first reading; pytest_configure then refuses to grade if a conftest.py was loaded all the same
(pytest started some other way). There is no conftest.py in the grading at all.

Each test's points come from grading/points.json. The submission's functions run in a
sandboxed worker (grading/sandbox.py); every check runs here, in the grader. --grade-json is
written by this process alone, from the start and after every test, so it exists, with every
test listed (0 until judged), even if the run is cut short.
"""
from pathlib import Path

import pytest

from grading import GradingFailure, NotGraded, PartialCredit, cases, layout, provenance, results, sandbox, submission

HERE = Path(__file__).resolve().parent
RUBRIC = HERE / "rubric"          # the graded tests
ROOT = HERE.parent                # the grader's folder: the reference's vae.py and adam.py, its support


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading a submission (grading/rubric)")
    group.addoption("--submission", metavar="DIR", default=None,
                    help="folder with the vae.py (and adam.py) to grade (default: this repository's)")
    group.addoption("--grade-json", metavar="PATH", default=None,
                    help="write Gradescope's results.json to PATH")
    group.addoption("--reference-dir", metavar="DIR", default=None,
                    help="stored reference cases (default: grading/reference, which students have: "
                         "grade others' work with private cases, vae-teacher cases --seed)")
    group.addoption("--grading-timeout", metavar="SECONDS", type=float, default=submission.JOB_TIMEOUT,
                    help="time allowed to one call of the submission's functions (default %(default)s)")
    group.addoption("--grading-memory", metavar="MB", type=int, default=sandbox.DEFAULT_MEMORY >> 20,
                    help="address space allowed to the submission's process, in MB (default %(default)s)")
    group.addoption("--grading-hide", metavar="PATH", action="append", default=[],
                    help="a folder the submission must not see (e.g. the class's other submissions)")
    group.addoption("--grade-visibility", choices=results.VISIBILITIES, default="visible",
                    help="Gradescope visibility of each test in --grade-json (default %(default)s)")
    group.addoption("--grade-figures", metavar="DIR", default=None,
                    help="draw the images the submission makes (Task 3's, and those its run saves) as PNGs in DIR, "
                         "for the teacher's review and the student's feedback")
    group.addoption("--allow-unisolated", action="store_true", default=False,
                    help="grade others' work (--grade-json, --reference-dir, --grading-hide) even where the "
                         "submission cannot be isolated from the grader (it could then read and change what "
                         "you can, the private cases included); refused by default")




def _refuse_foreign_conftest(config):
    foreign = []
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).name == "conftest.py" and ROOT not in Path(path).resolve().parents:
            foreign.append(path)
    if foreign:
        raise pytest.UsageError("refusing to grade: pytest loaded %s, which is not the grader's. Run from the "
                                "grader's folder, which holds pytest.ini, and give --submission=DIR"
                                % ", ".join(foreign))


def _option(config, name, default=None):
    try:
        value = config.getoption(name)
    except (ValueError, AttributeError):
        return default
    return default if value is None else value


def _is_grading(item):
    return Path(str(item.path)).resolve().parent == RUBRIC


def _test_name(item):
    return getattr(item, "originalname", None) or item.name.split("[")[0]


def _message(report):
    text = getattr(report, "longreprtext", "") or str(report.longrepr)
    return text if len(text) <= 4000 else text[:1000] + "\n...\n" + text[-2800:]


_KEY = pytest.StashKey()
_CONFIG = []   # pytest_runtest_logreport gets no config


def _grading(config):
    return config.stash.get(_KEY, None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    _refuse_foreign_conftest(config)
    option = _option(config, "submission")
    submission_dir = Path(option).absolute() if option else ROOT
    if not submission_dir.is_dir():
        raise pytest.UsageError("--submission %s: no such folder" % option)
    reference = _option(config, "reference_dir")
    submission_dir, found = layout.find_submission(submission_dir)
    grading = results.Grading(submission_dir, _option(config, "grade_json"),
                              visibility=_option(config, "grade_visibility", "visible"))
    grading.formats = layout.formats(submission_dir)
    grading.found = found
    grading.reference_dir = Path(reference).resolve() if reference else cases.DEFAULT_REFERENCE_DIR
    figures = _option(config, "grade_figures")
    grading.figures = Path(figures).absolute() if figures else None
    grading.timeout = float(_option(config, "grading_timeout", submission.JOB_TIMEOUT))
    grading.memory = int(_option(config, "grading_memory", sandbox.DEFAULT_MEMORY >> 20)) << 20
    grading.given = option is not None
    grading.sub = None
    config.stash[_KEY] = grading
    _CONFIG[:] = [config]
    grading.write_json()   # from the start: a crash still leaves a results.json
    others = bool(_option(config, "grade_json") or reference or _option(config, "grading_hide"))
    if others and not _option(config, "allow_unisolated", False):
        refuse_unisolated()


def refuse_unisolated():
    """Grading others' work (private cases, a class, Gradescope) needs a sandbox: without one, refuse
    and say why and how to get one, or how to go on all the same."""
    try:
        mode = sandbox.detect()
    except sandbox.SandboxError as e:
        raise pytest.UsageError("refusing to grade: %s" % e)
    if mode != "none":
        return
    raise pytest.UsageError(
        "refusing to grade others' work without isolation: the submission would run as you and could read the "
        "private cases and change your files.\n  why: %s\n  Python: %s\n  how: run as root or where user "
        "namespaces are allowed (`unshare -Ur true` works) for namespace isolation; as root without namespaces "
        "(a container), install Python where other users can read and run it (e.g. python3 -m venv /opt/grader) "
        "for user isolation; or pass --allow-unisolated to grade all the same"
        % (sandbox.detect_reason() or "no isolation mode works here", sandbox.python_path()))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Before -k: each grading test gets its task function's and task's names as keywords
    (`-k compute_KL`, `-k task2` select all their tests); the tests of the format not used
    for a part are deselected (a part is graded by its functions' tests or by its observed
    run's); points per case are shared by all the cases of a test, selected or not."""
    grading = _grading(config)
    grading.counts, keep, other = {}, [], []
    for item in items:
        if not _is_grading(item):
            keep.append(item)
            continue
        name = _test_name(item)
        if not grading.knows(name):
            raise pytest.UsageError("grading test %s (%s) has no points in %s"
                                    % (name, item.nodeid, results.POINTS_FILE))
        part = grading.table["by_test"].get(name, (None,))[0]
        if part is not None:
            item.extra_keyword_matches.update({part["function"], "task" + part["task"], "task" + part["part"]})
            if name not in grading.active_tests(part):
                other.append(item)
                continue
        grading.counts[name] = grading.counts.get(name, 0) + 1
        keep.append(item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = keep


def pytest_collection_finish(session):
    """What was selected (after -k and the like) is what this run grades."""
    grading = _grading(session.config)
    for item in session.items:
        if _is_grading(item):
            name = _test_name(item)
            grading.add(item.nodeid, name, item.name, grading.counts.get(name, 1))
            if item.config.pluginmanager.hasplugin("timeout"):
                # A last resort only: the worker's calls are stopped after --grading-timeout.
                item.add_marker(pytest.mark.timeout(120 + 30 * grading.timeout))
    grading.partial = grading.is_partial()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A GradingFailure's report is its message alone: no traceback of the grader."""
    excinfo = call.excinfo
    if excinfo is None or not _is_grading(item) or not excinfo.errisinstance(GradingFailure):
        return None
    sections = [("Captured %s %s" % (key, when), content) for when, key, content in item._report_sections]
    args = (item.nodeid, item.location, {x: 1 for x in item.keywords}, "failed", str(excinfo.value),
            call.when, sections, call.duration)
    properties = list(item.user_properties)
    if excinfo.errisinstance(PartialCredit):    # a slip: the points minus its cost
        properties += [("lost", excinfo.value.lost), ("slips", excinfo.value.slips)]
    if excinfo.errisinstance(NotGraded):        # the grader's failure: no grade, not the student's fault
        properties.append(("not_graded", True))
    try:
        return pytest.TestReport(*args, start=call.start, stop=call.stop, user_properties=properties)
    except TypeError:   # pytest < 8: no start and stop
        return pytest.TestReport(*args, user_properties=properties)


def pytest_runtest_logreport(report):
    grading = _grading(_CONFIG[0]) if _CONFIG else None
    if grading is None or report.nodeid not in grading.items:
        return
    if report.when == "call" or report.failed or report.skipped:
        if report.passed:
            grading.record(report.nodeid, "passed", "passed")
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            grading.record(report.nodeid, "skipped", "skipped: %s" % reason)
        else:
            properties = dict(report.user_properties)
            lost = properties.get("lost")
            status = "not graded" if properties.get("not_graded") else "partial" if lost is not None else \
                "failed" if report.when == "call" else "error"
            grading.record(report.nodeid, status, _message(report), lost, properties.get("slips") or ())


def pytest_sessionfinish(session, exitstatus):
    grading = _grading(session.config)
    if grading is not None:
        if grading.sub is not None:
            grading.sub.close()
        grading.complete = exitstatus in (0, 1)
        grading.write_json()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    grading = _grading(config)
    if grading is None or not grading.items:
        return
    terminalreporter.section("grading: %s" % grading.submission_dir)
    for line in grading.summary_lines():
        terminalreporter.write_line(line, red=line.startswith(("WARNING", "NOT GRADED")))
    other = len(terminalreporter.stats.get("deselected", []))
    if other and not grading.partial:
        terminalreporter.write_line("(%d deselected: the tests of the other layout; each part is graded either by its "
                                    "functions or by watching the script run, not both)" % other)
    if grading.json_path:
        terminalreporter.write_line("results written to %s" % grading.json_path)


def _warn(config, text, loud):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if loud:
        reporter.write_sep("!", "WARNING: the submission is NOT isolated from the grader", red=True)
        reporter.write_line(text, red=True)
        reporter.write_sep("!", red=True)
    else:
        reporter.write_line("note: " + text)


@pytest.fixture(scope="session")
def sub(request):
    """The submission under grading (a grading.submission.Submission)."""
    grading = _grading(request.config)
    hide = [grading.reference_dir] + ([Path(grading.json_path).absolute().parent] if grading.json_path else [])
    hide += [Path(p).absolute() for p in _option(request.config, "grading_hide", [])]
    grading.sub = submission.Submission(grading.submission_dir, timeout=grading.timeout,
                                        import_timeout=max(submission.IMPORT_TIMEOUT, 2 * grading.timeout),
                                        memory=grading.memory, hide=hide)
    if grading.found:
        grading.sub.note(grading.found)
    tasks = [p["function"] for p in grading.table["parts"] if p["file"] == "vae.py"]
    defined = layout._functions(layout._tree(Path(grading.submission_dir) / "vae.py"))
    if layout._tree(Path(grading.submission_dir) / "vae.py") is not None and not defined & set(tasks) and \
            not any(f == "observed" for f in grading.formats.values()):
        grading.sub.note("vae.py defines none of the practical's functions (%s): is it the file you meant to hand "
                         "in?" % ", ".join(tasks[:4] + ["..."]))
    if grading.formats.get("2.2") == "observed":
        grading.sub.optional.add("adam")
    grading.problems_source = lambda: grading.sub.problems
    grading.import_errors_source = lambda: grading.sub.import_errors
    grading.isolation = grading.sub.isolation
    grading.provenance = provenance.record(grading.reference_dir, grading.isolation)   # what a replay needs
    if grading.isolation == "none":
        grading.isolation_note = (
            "no isolation: the submission runs as this user and can read and change what it can (%s). "
            "Grade others' work on Linux, as root or where user namespaces are allowed; see README, "
            "Security model" % sandbox.detect_reason())
        _warn(request.config, grading.isolation_note, loud=grading.given or bool(grading.json_path))
    elif grading.isolation == "user":
        readable = grading.sub.secrets_in_reach()
        if readable:
            grading.isolation_note = ("user isolation, but the worker's user can read: %s. Remove other "
                                      "users' access (chmod -R o-rwx) to these folders"
                                      % ", ".join(readable[:5]))
            _warn(request.config, grading.isolation_note, loud=True)
    grading.write_json()
    yield grading.sub
    grading.sub.close()


def keep_figure(config, name, images, per_row=5):
    """The submission's images as DIR/name.png (--grade-figures), drawn by the grader from the numbers
    it returned: at most 100 rows of 784 values, each clipped to [0, 1] (nan as 0). Never fails a test."""
    directory = getattr(_grading(config), "figures", None)
    if directory is None:
        return
    try:
        import numpy as np
        from plotting import save_images
        array = np.array(images, dtype=np.float64)
        if array.ndim == 1 and array.size == 784:
            array = array[None]
        if array.ndim != 2 or array.shape[1] != 784 or not 0 < len(array) <= 100:
            return
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
        save_images(np.clip(np.nan_to_num(array, nan=0.0), 0, 1), str(directory / (safe + ".png")), per_row, scale=2)
    except Exception:   # a figure is for people: it never changes a grade
        pass


def figure(name, images, per_row=5):
    """Keep the submission's images for the teacher and the student (keep_figure), if asked (a
    function, not a fixture: the rubric's tests are also called as plain functions)."""
    if _CONFIG:
        keep_figure(_CONFIG[0], name, images, per_row)


@pytest.fixture(scope="session")
def ref(request):
    """The stored reference cases (a grading.cases.Reference)."""
    return cases.Reference(_grading(request.config).reference_dir)


@pytest.fixture(scope="session")
def observed(request, sub):
    """The observed run of the submission's script (a grading.observe.Run), made once."""
    grading = _grading(request.config)
    if not hasattr(grading, "observed"):
        try:
            from grading import observe   # the grader's: not in the students' handout
            grading.observed = observe.Run(sub)
            for i, (images, file_name) in enumerate(grading.observed.saves[-8:]):   # what the run saved
                keep_figure(request.config, "saved-%d-%s" % (i + 1, Path(str(file_name)).stem), images,
                            10 if len(images) in (20, 50) else 5)
        except GradingFailure as e:
            grading.observed = e
    if isinstance(grading.observed, GradingFailure):
        raise GradingFailure(str(grading.observed))
    return grading.observed


@pytest.fixture(scope="session")
def small_test():
    """The test images of the observed run (the grader's copy)."""
    return layout.small_mnist(ROOT)["test"]
