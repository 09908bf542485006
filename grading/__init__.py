"""Grading the practical: the submission computes, the grader judges.

    sandbox.py        where and as whom the submission's code runs (namespaces, user id, limits)
    worker.py         the process in the sandbox: imports the submission, answers calls
    protocol.py       the plain-data format between the two (JSON header, raw arrays, no pickle)
    given.py          the handout's given functions, which every task is graded with
    submission.py     the grader's handle on one submission: calls, gradients, timeouts
    cases.py          the stored reference cases (tests/reference/*.npz) and how each is run
    answers.py        the reference's recorded answers to the stand-ins' calls (no double penalty)
    layout.py         where the submission is, which layout each part is in, the observed run's data
    observe.py        a script written on the original handout, graded by watching it run
    judge.py          comparing results with the expected ones, and the messages to the student
    results.py        the points table (points.json), the summary and Gradescope's results.json
    selfcheck.py      a notebook's check(): its functions written into a submission and graded
    external.py       one attempt on PrairieLearn: private cases, the grading, its results.json
    class_report.py   a graded class as one static page: scores, common failures, what needs a human look
    pytest_plugin.py  the grading's command-line options, loaded before pytest looks at paths

The pytest files in tests/grading are front-ends to these; tools/ holds the commands
(teacher.py, and the scripts it runs: make_reference.py, grade_all.py, make_autograder.py,
make_prairielearn.py, make_handout.py).
"""


class GradingFailure(AssertionError):
    """A check failed; str() is the whole message shown to the student."""


class NotGraded(GradingFailure):
    """The grader could not do its job (the sandbox would not start, the machine was too busy to
    run a call): no grade for what it touches, never the student's fault."""


class PartialCredit(GradingFailure):
    """A recognisable slip: the test earns its points minus `lost`; or, given `slips` (names of
    points.json's "slips" of its part), the part loses each slip's points once, over the tests that
    report it, and only where its other tests passed (results.slip_losses)."""

    def __init__(self, message, lost=0.0, slips=()):
        super().__init__(message)
        self.lost = float(lost)
        self.slips = list(slips)
