"""Tests of the grading itself (grading/rubric, grading/classroom.py, grading/casemaker.py).

- Every known wrong solution (grading/mutants.py, at least 15) loses points in its task,
  and the failure messages name the mistake; correct solutions written differently from
  the reference (tests/fixtures/alternative_solution) score full marks.
- A class folder graded by vae-teacher grade-class: the reference scores full marks, the
  handout zero on every task with "not implemented" messages, a vae.py written for the
  original practical full marks by watching it run, the original handout left blank zero,
  and a broken submission zeros with the reason; Gradescope's results.json is well formed.
- The harness survives a hang, endless printing, an import that hangs or loads data,
  a crash of the worker; it never runs `__main__` and grades with the grader's data.py.
- The stored reference outputs are still what the reference computes.
"""
import csv
import functools
import importlib.util
import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADING = ROOT / "grading" / "rubric"
import grading.classroom  # noqa: E402
import grading.handout  # noqa: E402
import grading.casemaker  # noqa: E402
from grading import mutants  # noqa: E402
import original_variants  # noqa: E402  (tests/fixtures, on sys.path: tests/conftest.py)
import student_style  # noqa: E402
from grading import GradingFailure, PartialCredit, cases, layout, observe, results  # noqa: E402
from grading.submission import OWN, Submission  # noqa: E402

TABLE = results.load_points()
ORIGINAL = ROOT / "tests" / "fixtures" / "original_practical"
ORIGINAL_HANDOUT = ROOT / "tests" / "fixtures" / "original_handout"


def _test_module(name):
    if name in sys.modules and Path(sys.modules[name].__file__).resolve() == GRADING / (name + ".py"):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GRADING / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def grading_tests():
    """{test name: (function, [case or None, ...])} of every grading test."""
    tests = {}
    for name in ("test_task1", "test_task2", "test_task3", "test_observed"):
        for attr, fn in vars(_test_module(name)).items():
            if attr.startswith("test_") and callable(fn):
                cases = [None]
                for mark in getattr(fn, "pytestmark", []):
                    if mark.name == "parametrize":
                        cases = [(mark.args[0], value) for value in mark.args[1]]
                tests[attr] = (fn, cases)
    return tests


def run_tests(sub, ref, names, observed=None):
    """Run the named grading tests directly; [(test id, points lost or None for a check, message, slips)]
    of failures (a slip loses part of a test's points, or its part's slips theirs: scores_of). observed: a
    function giving the observed run (grading.observe.Run) when a test needs it."""
    failures = []
    tests = grading_tests()
    for name in names:
        fn, cases_ = tests[name]
        points = TABLE["by_test"][name][1] if name in TABLE["by_test"] else None
        for case in cases_:
            kwargs = {"sub": sub, "ref": ref, "small_test": layout.small_mnist(ROOT)["test"]}
            if case:
                kwargs[case[0]] = case[1]
            wanted = fn.__code__.co_varnames[:fn.__code__.co_argcount]
            try:
                if "observed" in wanted:
                    kwargs["observed"] = observed()
                fn(**{k: v for k, v in kwargs.items() if k in wanted})
            except GradingFailure as e:
                share = None if points is None else points / len(cases_)
                slips = e.slips if isinstance(e, PartialCredit) else []
                lost = share if share is None or not isinstance(e, PartialCredit) or slips else min(share, e.lost)
                failures.append(("%s[%s]" % (name, case[1]) if case else name, lost, str(e), slips))
    return failures


def grade(folder, ref, private=(), parts=None, graded=None, **kwargs):
    """({part: points}, every failure message, problems) of a submission folder, every test of the
    parts in `graded` (all, and the checks, if None) run on ref (each part by its functions' tests
    or its observed run's, as conftest.py chooses); then, for each reference of private,
    [{part: points}] of the tests of `parts` (all if None) on it, with the same worker."""
    folder, found = layout.find_submission(folder)
    formats = layout.formats(folder)
    sub = Submission(folder, timeout=20, **kwargs)
    if found:
        sub.note(found)
    runs = []

    def observed():
        if not runs:
            try:
                runs.append(observe.Run(sub))
            except GradingFailure as e:
                runs.append(e)
        if isinstance(runs[0], GradingFailure):
            raise GradingFailure(str(runs[0]))
        return runs[0]
    try:
        failures = run_tests(sub, ref, part_tests(graded, formats) + (list(TABLE["checks"]) if graded is None else []),
                             observed)
        problems = list(sub.problems)
        again = [scores_of(run_tests(sub, other, part_tests(parts, formats), observed), parts) for other in private]
    finally:
        sub.close()
    return scores_of(failures, graded), "\n".join(f[2] for f in failures), problems, again


def part_tests(parts=None, formats=None):
    return [t for p in TABLE["parts"] if parts is None or p["part"] in parts
            for t in (p["observed"] if (formats or {}).get(p["part"]) == "observed" else p["tests"])]


def scores_of(failures, parts=None):
    """{part: points} from the failures (the tests not listed passed); slips as results.slip_losses."""
    entries = [{"part": TABLE["by_test"][test.split("[")[0]][0], "points": points, "slips": slips,
                "status": "partial" if slips else "failed"}
               for test, points, _, slips in failures if points is not None]
    charged = results.slip_losses(entries, TABLE)
    lost = {}
    for i, entry in enumerate(entries):
        part = entry["part"]["part"]
        lost[part] = lost.get(part, 0) + (charged[i] if entry["slips"] else entry["points"])
    return {p["part"]: round(p["points"] - lost.get(p["part"], 0), 6) for p in TABLE["parts"]
            if parts is None or p["part"] in parts}


def full_only(values, default, name=lambda v: v):
    """values as pytest parameters, those whose name is not in default marked `full`: run with
    --full only (tests/conftest.py), the default run keeping a representative part."""
    unknown = set(default) - {name(v) for v in values}
    assert not unknown, "not in the family, so never run by default: %s" % sorted(unknown)
    return [v if name(v) in default else pytest.param(v, marks=pytest.mark.full) for v in values]


@pytest.fixture(scope="session")
def private_refs(tmp_path_factory, request):
    """Private sets of cases, as graders make them (vae-teacher cases --seed N): seed 1, and
    seeds 2 to 10 too with --full."""
    base = tmp_path_factory.mktemp("private")
    out = []
    for seed in range(1, 11 if request.config.getoption("--full") else 2):
        grading.casemaker.write(base / str(seed), seed=seed, with_mistakes=False)
        out.append(cases.Reference(base / str(seed)))
        out[-1].private_seed = seed
    return out


@pytest.fixture(scope="module")
def ref():
    return cases.Reference()


FULL = {p["part"]: p["points"] for p in TABLE["parts"]}


def test_points_table_and_tests_agree():
    tests = grading_tests()
    assert set(tests) == set(TABLE["by_test"]) | set(TABLE["checks"])
    assert TABLE["total"] == 100
    assert [p["part"] for p in TABLE["parts"]] == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2", "3.3"]
    for part in TABLE["parts"]:
        assert set(part.get("additions", {})) <= set(part["tests"])


def test_known_wrong_solutions_cover_every_task():
    assert len(mutants.MUTANTS) >= 15
    assert {m.function for m in mutants.MUTANTS} >= set(TABLE["by_function"])


def callers(parts):
    """The parts whose reference function calls a function of `parts` (where a double penalty
    could come from, were the stand-ins not there)."""
    import ast
    calls = {}
    for name in ("vae.py", "adam.py"):
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in TABLE["by_function"]:
                calls[node.name] = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call)
                                    and isinstance(c.func, ast.Name)}
    functions = {p["function"] for p in TABLE["parts"] if p["part"] in parts}
    return {TABLE["by_function"][f]["part"] for f, called in calls.items() if called & functions}


def test_callers_are_found():
    assert callers({"1.1"}) == {"1.4", "3.2"} and callers({"1.3"}) == {"1.4"} and callers({"2.2"}) == set()


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.name)
def test_known_wrong_solution_gets_what_a_careful_teacher_gives(mutant, ref, private_refs, tmp_path, request):
    """Exactly the points of mutant.points in the parts it touches, full marks elsewhere (no
    double penalty), a message (or, for a changed given function, a problem) naming the mistake,
    and the same points for its part under private sets of cases (ten with --full). "Elsewhere" is
    the parts that call the mistaken function by default, every other part with --full."""
    touched = {TABLE["by_function"][mutant.function]["part"]} if mutant.function in TABLE["by_function"] else set()
    touched |= set(mutant.points or {})
    graded = None if request.config.getoption("--full") or not touched else touched | callers(touched)
    scores, messages, problems, again = grade(mutant.write(tmp_path / mutant.name), ref, private_refs,
                                              parts=touched, graded=graded)
    expected = dict(FULL, **(mutant.points if mutant.points is not None else {p: 0 for p in touched}))
    expected = {p: v for p, v in expected.items() if graded is None or p in graded}
    assert scores == expected, "%s:\n%s" % (mutant.name, messages)
    assert mutant.expect in messages + "\n".join(problems), "no message says %r:\n%s" % (mutant.expect, messages)
    for private_ref, private in zip(private_refs, again):
        assert private == {p: expected[p] for p in touched}, "seed %d" % private_ref.private_seed


def do_nothing(name, tmp_path):
    if name == "handout":
        return grading.handout.write_handout(tmp_path / "handout", check_leaks=False)
    return mutants.write_do_nothing(tmp_path / name, name)


FIXTURES = {
    "reference": (lambda tmp: ROOT, FULL),
    "alternative_solution": (lambda tmp: ROOT / "tests" / "fixtures" / "alternative_solution", FULL),
    "original_practical": (lambda tmp: ORIGINAL, FULL),
    "original_handout": (lambda tmp: ROOT / "tests" / "fixtures" / "original_handout", {p: 0 for p in FULL}),
}
FIXTURES.update({name: (functools.partial(do_nothing, name), {p: 0 for p in FULL})
                 for name in ["handout"] + sorted(mutants.DO_NOTHING)})
# The benchmark's correct solutions written as students write them (tools/bench.py).
# Those that compute eq. (3) unstably lose 1.2's extreme-logits test (7 of its 15 points).
FIXTURES.update({"student_" + name: (lambda tmp, name=name: student_style.write_solution(tmp / name, name),
                                     dict(FULL, **{"1.2": 8}) if name in student_style.UNSTABLE else FULL)
                 for name in student_style.VARIANTS})


# By default all but the original practical and its blank handout, observed runs the class below
# grades too (under the same private cases).
@pytest.mark.parametrize("name", full_only(sorted(FIXTURES), set(FIXTURES) - {"original_practical", "original_handout"}))
def test_whole_submissions_get_the_same_points_under_every_set_of_cases(name, ref, private_refs, tmp_path):
    """The reference, a correct solution written differently and the benchmark's student-style
    solutions score 100, the original
    practical's vae.py Task 1 only, and doing nothing (the handout's stubs, the original handout's
    `return 0.0`, constants, the inputs) 0 on every test: under the stored cases and under
    private sets (ten with --full)."""
    folder, expected = FIXTURES[name]
    scores, messages, problems, again = grade(folder(tmp_path), ref, private_refs)
    assert scores == expected, messages
    for private_ref, private in zip(private_refs, again):
        assert private == expected, "seed %d" % private_ref.private_seed


# The default run keeps none: the original practical itself (full marks) and its blank handout (0)
# are whole submissions above, a forged optimiser is a fixture, a slip is in the class report's
# class (tests/test_class_report.py); --full runs every variant.
ORIGINAL_DEFAULT = set()


@pytest.mark.parametrize("variant", full_only(original_variants.ORIGINAL_VARIANTS, ORIGINAL_DEFAULT, lambda v: v.name),
                         ids=lambda v: v.name)
def test_original_format_solution_gets_what_a_careful_teacher_gives(variant, ref, tmp_path):
    """A vae.py written on the original handout (ADAM and Task 3 in its main block, or at module
    level, or one folder down) is graded on Tasks 2 and 3 by watching it run: exactly the points
    of variant.points in the parts it touches, full marks elsewhere, and a message naming the mistake."""
    scores, messages, problems, _ = grade(variant.write(tmp_path / variant.name), ref)
    assert scores == dict(FULL, **variant.points), "%s:\n%s" % (variant.name, messages)
    if variant.expect:
        assert variant.expect in messages + "\n".join(problems), "no message says %r:\n%s" % (variant.expect,
                                                                                             messages)


def test_given_functions_are_the_handouts():
    """grading/given.py (what every task is graded with) is vae.py's own given code."""
    import inspect
    import vae
    from grading.worker import given
    for name in given.GIVEN:
        assert inspect.getsource(getattr(given, name)) == inspect.getsource(getattr(vae, name)), name


def test_stored_reference_outputs_are_reproduced():
    assert grading.casemaker.check() == []


@pytest.mark.full   # 20 failed directions first: 10 s
def test_every_seed_makes_cases_even_when_a_batch_sits_on_a_kink(tmp_path):
    """Seed 271's first batch for the gradient check puts a ReLU so near its kink that no direction
    of the 20 tried avoids it (1 seed in 200): the check gets another batch, and the reference still
    scores full marks. Caught by: a Gradescope attempt told "graded by hand" for its seed alone."""
    grading.casemaker.write(tmp_path / "cases", seed=271, with_mistakes=False)
    ref = cases.Reference(tmp_path / "cases")
    assert grade(ROOT, ref)[0] == FULL


# ---------------------------------------------------------------------------
# A class graded by grade_all: reference, handout, original practical, broken

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, private_refs):
    base = tmp_path_factory.mktemp("class")
    folder = base / "submissions"
    (folder / "reference").mkdir(parents=True)
    for name in ("vae.py", "adam.py"):
        shutil.copy(ROOT / name, folder / "reference")
    handout = grading.handout.write_handout(base / "handout", check_leaks=False)
    (folder / "handout").mkdir()
    for name in ("vae.py", "adam.py"):
        shutil.copy(handout / name, folder / "handout")
    shutil.copytree(ORIGINAL, folder / "original")
    shutil.copytree(ORIGINAL_HANDOUT, folder / "original-handout")
    (folder / "broken").mkdir()
    (folder / "broken" / "vae.py").write_text("import numpy as np\n\ndef compute_KL(q:\n    pass\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "README.txt").write_text("no code here")
    (folder / "nested" / "hand-in").mkdir(parents=True)      # vae.py one folder down
    for name in ("vae.py", "adam.py"):
        shutil.copy(ROOT / name, folder / "nested" / "hand-in")
    (folder / "nested-link").mkdir()                         # ... reached through a link: never
    (folder / "nested-link" / "hand-in").symlink_to(ROOT)
    out = base / "grades.csv"
    assert grading.classroom.main([str(folder), "--out", str(out), "--json-dir", str(base / "json"),
                           "--reference-dir", str(private_refs[0].dir)]) == 0
    with open(out) as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    results = {name: json.loads((base / "json" / (rows[name]["id"] + ".json")).read_text())
               for name in ("reference", "handout", "original", "original-handout", "broken")}
    return rows, results, base


def test_grade_all_writes_one_row_per_submission(graded_class):
    rows, _, _ = graded_class
    assert sorted(rows) == ["broken", "handout", "nested", "nested-link", "notes", "original", "original-handout",
                            "reference"]
    assert list(rows["reference"])[:15] == ["submission", "student", "student_id", "email", "section", "id", "1.1",
                                            "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2", "3.3"]
    assert rows["reference"]["total"] == "100" and rows["reference"]["problems"] == ""
    assert rows["notes"]["total"] == "0" and "no vae.py" in rows["notes"]["problems"]


def test_a_submission_one_folder_down_is_found_but_not_through_a_link(graded_class):
    rows, _, _ = graded_class
    assert rows["nested"]["total"] == "100" and "vae.py found in the sub-folder hand-in" in rows["nested"]["problems"]
    assert rows["nested-link"]["total"] == "0" and "no vae.py" in rows["nested-link"]["problems"]


def test_the_reference_scores_full_marks(graded_class):
    rows, results, _ = graded_class
    assert results["reference"]["score"] == 100
    assert all(t["score"] == t["max_score"] for t in results["reference"]["tests"])
    assert (rows["reference"]["task1"], rows["reference"]["task2"], rows["reference"]["task3"]) == ("50", "20", "30")


def test_the_handout_scores_zero_on_every_task(graded_class):
    rows, results, base = graded_class
    assert results["handout"]["score"] == 0
    assert all(rows["handout"][p["part"]] == "0" for p in TABLE["parts"])
    for test in results["handout"]["tests"]:
        assert test["score"] == 0 and "not implemented yet" in test["output"], test
        if test["number"] != "check":
            assert "Task %s: %s" % (test["number"], test["name"].split()[2].rstrip(":")) in test["output"]
    log = (base / "json" / (rows["handout"]["id"] + ".log")).read_text()
    assert "TOTAL: 0 / 100" in log and "Task 1.2  bernoulli_log_prob" in log


def test_a_vae_py_for_the_original_practical_is_graded_by_watching_it_run(graded_class):
    rows, results, _ = graded_class
    row = rows["original"]
    assert (row["task1"], row["task2"], row["task3"], row["total"], row["format"]) == ("50", "20", "30", "100",
                                                                                       "original")
    assert row["problems"] == ""
    assert rows["reference"]["format"] == "functions"
    assert "graded by watching the main block run" in results["original"]["output"]


def test_the_original_handout_left_blank_scores_zero_on_every_task(graded_class):
    """Its Task 1 functions return 0.0 and its main block trains with them: watching it run finds
    nothing done, so nothing is earned."""
    rows, results, _ = graded_class
    row = rows["original-handout"]
    assert row["format"] == "original" and row["total"] == "0"
    assert all(row[p["part"]] == "0" for p in TABLE["parts"]), row
    assert results["original-handout"]["score"] == 0


def test_a_broken_submission_gets_zeros_and_the_reason(graded_class):
    rows, results, _ = graded_class
    assert rows["broken"]["total"] == "0"
    assert "vae.py does not compile" in rows["broken"]["problems"]
    assert "line 3" in rows["broken"]["problems"]


def test_gradescope_results_json(graded_class):
    _, results, _ = graded_class
    for name, result in results.items():
        assert set(result) >= {"score", "tests", "output", "visibility"}
        active = [t for p in TABLE["parts"] for t in (p["observed"] if result["extra_data"]["formats"].get(p["part"])
                                                       == "observed" else p["tests"])] + list(TABLE["checks"])
        assert len(result["tests"]) == sum(len(grading_tests()[t][1]) for t in active)
        for test in result["tests"]:
            assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
            assert 0 <= test["score"] <= test["max_score"]
        assert abs(sum(t["max_score"] for t in result["tests"]) - 100) < 1e-6
        assert abs(sum(t["score"] for t in result["tests"]) - result["score"]) < 1e-6
        assert "TOTAL:" in result["output"]


def test_grade_all_survives_a_run_that_cannot_start(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "vae.py").write_text("")
    results, problem = grading.classroom.grade_one(tmp_path / "s", tmp_path / "json" / "s.json",
                                           python=str(tmp_path / "no-such-python"), fork=False)
    assert results is None and "could not start" in problem


@pytest.mark.parametrize("fork", [False, True])
def test_several_gradings_at_once_get_one_blas_thread_each(tmp_path, monkeypatch, fork):
    """--jobs 2: each grading run's BLAS has one thread (a thread per core in each oversubscribed
    the cores: four original-layout scripts took 40 s instead of 11 s); --jobs 1 leaves it as it
    was (2 here). The runs are stand-ins that record the BLAS they were given."""
    import threadpoolctl
    (tmp_path / "json").mkdir()
    for name in ("a", "b"):
        (tmp_path / "staged" / name).mkdir(parents=True)
    record = tmp_path / "blas.txt"
    # The forked child runs pytest.main in-process: a plugin records its BLAS threads.
    (tmp_path / "blas_probe.py").write_text(
        "import threadpoolctl\n"
        "with open(%r, 'a') as f:\n"
        "    f.write('%%d\\n' %% max(p['num_threads'] for p in threadpoolctl.threadpool_info()))\n" % str(record))
    fake = tmp_path / "python"   # the other way, a process: the environment it gets
    fake.write_text("#!/bin/sh\necho \"$OPENBLAS_NUM_THREADS\" >> %s\n" % record)
    fake.chmod(0o755)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")   # the test suite's own is 1 (conftest.py)
    monkeypatch.syspath_prepend(str(tmp_path))
    original = grading.classroom.api.command
    monkeypatch.setattr(grading.classroom.api, "command",
                        lambda *a, **k: original(*a, **k)[:3] + ["-p", "blas_probe", "-p", "no:hypothesispytest",
                                                                  "-p", "no:benchmark", "--co", str(tmp_path / "staged")])
    for jobs in (2, 1):
        record.write_text("")
        items = [(name, tmp_path / "staged" / name, None) for name in ("a", "b")]
        with threadpoolctl.threadpool_limits(2):
            own = max(p["num_threads"] for p in threadpoolctl.threadpool_info())   # 2, on 2 cores or more
            if fork:
                grading.classroom.grade_folders(items, tmp_path / "json", jobs, fork=True)
            else:
                grading.classroom.grade_folders(items, tmp_path / "json", jobs, python=str(fake), fork=False)
        expected = "1" if jobs > 1 else str(own) if fork else "2"
        assert record.read_text().split() == [expected, expected], (jobs, record.read_text())


# ---------------------------------------------------------------------------
# The harness: isolation

def submission(tmp_path, vae=None, adam=None, **files):
    folder = tmp_path / "sub"
    folder.mkdir()
    for name, text in dict(files, vae=vae, adam=adam).items():
        if text is not None:
            (folder / (name + ".py")).write_text(textwrap.dedent(text))
    return folder


def test_a_hang_costs_one_call_and_the_next_call_works(tmp_path):
    folder = submission(tmp_path, vae="""
        import numpy as np
        def compute_KL(q):
            while True:
                pass
        def bernoulli_log_prob(targets, logits):
            return np.zeros(len(targets))
        """)
    sub = Submission(folder, timeout=0.5)
    try:
        with pytest.raises(GradingFailure, match="did not return within 0.5 s"):
            sub.call("vae", "compute_KL", np.zeros((2, 4)))
        assert list(sub.call("vae", "bernoulli_log_prob", np.zeros((2, 3)), np.zeros((2, 3))).value) == [0, 0]
    finally:
        sub.close()


def test_endless_printing_is_capped_and_stopped(tmp_path):
    folder = submission(tmp_path, vae="""
        import itertools
        def compute_KL(q):
            for i in itertools.count():
                try:
                    print("KL step", i)
                except Exception:
                    pass
        def relu(x):
            print("hello")
            return x
        """)
    sub = Submission(folder, timeout=20)
    try:
        with pytest.raises(GradingFailure, match="printed more than") as failure:
            sub.call("vae", "compute_KL", np.zeros((2, 4)))
        assert "| KL step 0" in str(failure.value) and len(str(failure.value)) < 3000
        result = sub.call("vae", "relu", 1.0, standins=OWN)
        assert result.output == "hello\n" and float(result.value) == 1.0
    finally:
        sub.close()


def test_an_import_that_hangs_costs_only_its_own_task(tmp_path):
    folder = submission(tmp_path, adam="while True:\n    pass\n", vae="""
        from adam import adam_init, adam_step
        def compute_KL(q):
            return q.sum(axis=1)
        """)
    sub = Submission(folder, timeout=5, import_timeout=1)
    try:
        assert list(sub.call("vae", "compute_KL", np.ones((2, 3))).value) == [3, 3]
        with pytest.raises(GradingFailure, match="importing adam.py did not finish within 1 s"):
            sub.call("adam", "adam_init", np.zeros(3))
    finally:
        sub.close()


def test_training_at_import_time_and_main_blocks(tmp_path):
    folder = submission(tmp_path, vae="""
        import data
        N, train_images, _, test_images, _ = data.load_mnist()
        def sizes():
            return N, len(test_images)
        """, adam="""
        import numpy as np
        def adam_init(params):
            return np.zeros_like(params), np.zeros_like(params), 0
        if __name__ == "__main__":
            raise SystemExit("the grading ran __main__")
        """, data="raise ImportError('the grader must use its own data.py')\n")
    sub = Submission(folder)
    try:
        # Loading data at import time is allowed: load_mnist is the grader's, on its small data set
        # (the observed run of a script that trains at module level); adam.py's main block never runs.
        assert sub.status("vae") is None
        assert sub.status("adam") is None

        assert sub.call("vae", "sizes").value == (layout.TRAIN, layout.TEST)
        m, v, t = sub.call("adam", "adam_init", np.ones(3)).value
        assert list(m) == [0, 0, 0] and int(t) == 0
    finally:
        sub.close()
    assert not (folder / "__pycache__").exists()


def test_a_crashing_worker_costs_one_call(tmp_path):
    folder = submission(tmp_path, vae="""
        import os
        def compute_KL(q):
            os._exit(3)
        def relu(x):
            return x
        """)
    sub = Submission(folder)
    try:
        with pytest.raises(GradingFailure, match="killed the Python process"):
            sub.call("vae", "compute_KL", np.zeros((2, 4)))
        assert float(sub.call("vae", "relu", 2.0).value) == 2.0
    finally:
        sub.close()


RNG_STYLES = ["npr.randn(*shape)", "npr.normal(size=shape)", "np.random.standard_normal(shape)",
              "onp.random.randn(*shape)", "randn(shape[0], shape[1])", "npr.normal(0.0, 1.0, shape)",
              "npr.multivariate_normal(np.zeros(shape[1]), np.eye(shape[1]), size=shape[0])",
              "onp.random.multivariate_normal(np.zeros(shape[1]), np.eye(shape[1]), shape[0])",
              "scipy.stats.norm.rvs(size=shape)", "scipy.stats.norm(0, 1).rvs(shape)",
              "onp.random.mtrand._rand.standard_normal(shape)"]


# By default one of each way in: autograd's numpy, numpy's generator itself, scipy.
@pytest.mark.parametrize("style", full_only(RNG_STYLES, {"npr.randn(*shape)", "onp.random.mtrand._rand.standard_normal(shape)",
                                                         "scipy.stats.norm(0, 1).rvs(shape)"}))
def test_every_style_of_global_rng_gets_the_stored_noise(tmp_path, style):
    """Any Gaussian entry point of numpy's global generator, however reached, draws the stored noise."""
    folder = submission(tmp_path, vae="""
        import autograd.numpy as np
        import autograd.numpy.random as npr
        import numpy as onp
        import scipy.stats
        from numpy.random import randn
        def draw(shape):
            return %s
        """ % style)
    noise = np.arange(6.0).reshape(2, 3)
    sub = Submission(folder)
    try:
        result = sub.call("vae", "draw", (2, 3), noise=noise)
        np.testing.assert_array_equal(result.value, noise)
        assert result.unused == 0 and not result.overdrawn
    finally:
        sub.close()


# ---------------------------------------------------------------------------
# The self-check as a student runs it: -k by a function's name, partial summaries

def _pytest(*args, cwd=ROOT):
    import subprocess
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=str(cwd),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("part", full_only(TABLE["parts"], {"bernoulli_log_prob", "adam_step", "interpolate"},
                                           lambda p: p["function"]), ids=lambda p: p["function"])
def test_k_with_a_task_functions_name_selects_all_its_tests(part):
    out = _pytest("grading/rubric", "-k", part["function"], "--collect-only", "-q").stdout
    selected = {line.split("::")[1].split("[")[0] for line in out.splitlines() if "::" in line}
    assert selected == set(part["tests"]), out


def test_a_partial_self_check_shows_only_what_it_ran():
    out = _pytest("grading/rubric", "-k", "bernoulli_log_prob").stdout
    assert "Task 1.2  bernoulli_log_prob                          15 / 15" in out
    assert "these tests: 15 / 15; 8 other parts not run" in out
    assert "TOTAL" not in out and "Task 1.1" not in out and "not collected" not in out


def test_grade_all_takes_relative_paths_from_the_current_folder(tmp_path, private_refs):
    """Run from outside the repository, with relative paths: the reference still scores 100."""
    (tmp_path / "class" / "ref").mkdir(parents=True)
    for name in ("vae.py", "adam.py"):
        shutil.copy(ROOT / name, tmp_path / "class" / "ref")
    shutil.copytree(private_refs[0].dir, tmp_path / "cases")
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "grading", "grade-class", "class", "--out", "grades.csv",
                           "--json-dir", "json", "--reference-dir", "cases"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "grades.csv") as f:
        row = next(csv.DictReader(f))
    assert row["total"] == "100", row
    assert (tmp_path / "json" / (row["id"] + ".json")).exists()


def test_values_that_differ_print_differently():
    from grading import judge
    with pytest.raises(GradingFailure) as failure:
        judge.check_close(np.array([1.1905812]), np.array([1.1905834]), "f()", rtol=1e-7, atol=0)
    line = str(failure.value).splitlines()[0]
    assert "expected 1.190583, obtained 1.190581" in line, line


def test_a_vae_py_of_the_earlier_handout_finds_its_support_modules_by_their_old_names(tmp_path):
    """The handouts before support/ had vae.py import float32_gradients, fast_numpy and report at its
    top: such a file still runs as handed in, and scores what it did."""
    text = (ROOT / "vae.py").read_text().replace(
        "import data\n", "import data\nimport fast_numpy  # noqa: F401\nimport float32_gradients  # noqa: F401\n"
                         "import report  # noqa: F401\n", 1)
    assert "import report" in text
    folder = submission(tmp_path, vae=text, adam=(ROOT / "adam.py").read_text())
    sub = Submission(folder)
    try:
        assert float(sub.call("vae", "sigmoid", 0.0).value) == 0.5
        assert sub.status("vae") is None and sub.import_errors == [], sub.problems
    finally:
        sub.close()
