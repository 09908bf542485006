"""Points set by hand (grading/overrides.py) and what a grade records of how it was made
(grading/provenance.py), on small results of the grader's own format."""
import json

import numpy as np
import pytest

from grading import overrides, provenance, results

TABLE = results.load_points()


def result(score_22=10.0, message="ADAM in the training loop: one slip (-5 points)"):
    """A results.json of the grader's shape: 2.2 with the given points, 3.1 flagged for a person."""
    tests = [{"name": "Task 2.2 adam_step: test_observed_adam_update", "number": "2.2", "score": score_22,
              "max_score": 15, "status": "failed" if score_22 < 15 else "passed", "output": message},
             {"name": "Task 3.1 generate_from_prior: test_observed_samples", "number": "3.1", "score": 0.0,
              "max_score": 10, "status": "failed", "output": "needs a human look: the decoder saved twice"},
             {"name": "Task 1.3 compute_KL: test_kl_values", "number": "1.3", "score": 7.0, "max_score": 7,
              "status": "passed", "output": "passed"}]
    parts = {"2.2": {"score": score_22, "max_score": 15}, "3.1": {"score": 0.0, "max_score": 10},
             "1.3": {"score": 10.0, "max_score": 10}}
    return {"tests": tests, "extra_data": {"parts": parts, "complete": True}}


def test_an_override_counts_while_the_automatic_result_is_the_one_it_was_set_on(tmp_path):
    r = result()
    record = overrides.set_points(tmp_path, "dee", "2.2", "13", "right for the loss written", "T. Teacher", r, TABLE)
    saved = json.loads((tmp_path / overrides.FILE).read_text())["overrides"]["dee"]["2.2"]
    assert saved == record and saved["points"] == 13 and saved["automatic"] == 10 and saved["reviewer"] == "T. Teacher"
    assert overrides.state(r, "2.2", record) == (13.0, "by hand")
    assert overrides.effective(r, {"2.2": record}) == {"2.2": record}
    # Another message (a different slip) or other points: the teacher judged something else.
    for changed in (result(message="ADAM: no bias correction (-5 points)"), result(score_22=15)):
        assert overrides.state(changed, "2.2", record) == (overrides.automatic(changed, "2.2"), "stale")
        assert overrides.effective(changed, {"2.2": record}) == {}
    assert overrides.state(r, "2.2", None) == (10.0, "automatic")


@pytest.mark.parametrize("points, why", [("16", "out of range"), ("-1", "out of range"), ("nan", "out of range"),
                                          ("", "must be a number"), ("ten", "must be a number")])
def test_points_outside_the_part_or_not_a_number_are_refused_and_nothing_is_written(tmp_path, points, why):
    with pytest.raises(ValueError, match=why):
        overrides.set_points(tmp_path, "dee", "2.2", points, "", "T. Teacher", result(), TABLE)
    assert not (tmp_path / overrides.FILE).exists()


def test_an_unknown_part_or_no_reviewer_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no part '9.9'"):
        overrides.set_points(tmp_path, "dee", "9.9", 1, "", "T. Teacher", result(), TABLE)
    with pytest.raises(ValueError, match="reviewer"):
        overrides.set_points(tmp_path, "dee", "2.2", 12, "", "  ", result(), TABLE)


def test_the_review_list_holds_partial_credit_and_verdicts_for_a_person_not_full_marks_or_zeros(tmp_path):
    rows = [{"name": "dee", "id": "0001", "result": result()},
            {"name": "ungraded", "id": "0002", "result": None}]
    items = overrides.review_items(rows, {}, TABLE)
    assert [(i["name"], i["part"]) for i in items] == [("dee", "2.2"), ("dee", "3.1")]
    assert items[0]["reasons"] == ["partial credit (10 of 15)"]
    assert items[1]["reasons"] == ["the decoder saved twice"]
    assert len(overrides.pending(items)) == 2
    record = overrides.set_points(tmp_path, "dee", "2.2", 13, "", "T", result(), TABLE)
    items = overrides.review_items(rows, {"dee": {"2.2": record}}, TABLE)
    assert [i["how"] for i in items] == ["by hand", "automatic"] and len(overrides.pending(items)) == 1
    # Regraded to full marks: the override is stale and the part is back, both values said.
    rows[0]["result"] = result(score_22=15)
    items = overrides.review_items(rows, {"dee": {"2.2": record}}, TABLE)
    assert items[0]["how"] == "stale" and "then 10, now 15; set by hand: 13" in items[0]["reasons"][0]


def test_the_cases_hash_is_of_their_arrays_not_of_the_files_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        np.savez_compressed(folder / "kl.npz", x=np.arange(6.0), meta=np.array("{}"))
    assert provenance.cases_hash(a) == provenance.cases_hash(b)
    c = tmp_path / "c"
    c.mkdir()
    np.savez_compressed(c / "kl.npz", x=np.arange(6.0) + 1e-12, meta=np.array("{}"))
    assert provenance.cases_hash(a) != provenance.cases_hash(c)


def test_the_graders_version_changes_with_any_file_it_grades_with(tmp_path):
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "judge.py").write_text("x = 1\n")
    (tmp_path / "vae.py").write_text("y = 1\n")
    before = provenance.grader_version(tmp_path)
    (tmp_path / "grading" / "templates").mkdir()
    (tmp_path / "grading" / "templates" / "guidance.txt").write_text("text only students read\n")
    (tmp_path / "grading" / "NOTES.md").write_text("notes\n")
    assert provenance.grader_version(tmp_path) == before   # texts grade nothing
    (tmp_path / "grading" / "points.json").write_text("{}\n")
    assert provenance.grader_version(tmp_path) != before
    before = provenance.grader_version(tmp_path)
    (tmp_path / "vae.py").write_text("y = 2\n")
    assert provenance.grader_version(tmp_path) != before
