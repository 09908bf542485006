"""Grading the practical: the submission computes, the grader judges. README's Layout draws
the rooms; in short:

    api.py, cli.py    the one grading command, and the teacher's command line (vae-teacher)
    rubric/           the graded tests; pytest_plugin.py their options, fixtures and summary
    sandbox.py        where and as whom the submission's code runs; worker/ what runs there
    submission.py     the grader's handle on one submission: calls, gradients, timeouts
    cases.py, answers.py, casemaker.py, mutants.py, regions.py   the cases, made and stored
    judge.py, maths.py, observe.py, verdicts.py   comparing and judging
    layout.py, results.py   where the submission is and its layout; points and results
    handout.py, selfcheck.py, classroom.py, class_report.py, gradescope.py, prairielearn.py
                      what students get, their check(), a class, its report, the platforms
    roster.py, review.py, excerpts.py, overrides.py, feedback.py, gradebook.py, export.py,
    provenance.py, replay.py   the teacher's route: who is who, the review, the feedback, the
                      LMS's gradebook, what a grade was made with and its replay
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
