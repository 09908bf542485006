"""Tasks 2 and 3 of a script written on the original handout, graded by watching it run
(grading/observe.py, grading/verdicts.py). Points: points.json ("observed", and "slips" for the
recognisable slips that cost part of a part); a part is graded by these tests only when the
submission does not write it as functions (grading/pytest_plugin.py chooses)."""
import contextlib

from grading import GradingFailure, PartialCredit, verdicts


@contextlib.contextmanager
def part(title):
    """Failures of the part, headed by its title."""
    try:
        yield
    except PartialCredit as e:
        raise PartialCredit("%s: %s" % (title, e), e.lost)
    except GradingFailure as e:
        raise GradingFailure("%s: %s" % (title, e))


def test_observed_adam_start(observed):
    """m and v start at zero and t at 1: the first update is Figure 5's."""
    start, _, message = verdicts.adam_verdict(observed)
    if not start:
        raise GradingFailure("ADAM in the training loop: " + message)


def test_observed_adam_update(observed):
    """Every update of the parameters is Figure 5's, from the gradient the loop got (the bound's),
    with bias corrections and eps outside the square root; steps that plain SGD or sign descent
    would make too earn nothing."""
    _, update, message = verdicts.adam_verdict(observed)
    if isinstance(update, list):   # one slip, everything else Figure 5's
        with part("ADAM in the training loop"):
            verdicts.score_slips("2.2", update, message)
    if not update:
        raise GradingFailure("ADAM in the training loop: " + message)


def test_observed_samples(observed):
    """Images saved that are the trained decoder's probabilities for z drawn from N(0, I)."""
    with part("Task 3.1 (samples from the prior)"):
        verdicts.samples_verdict(observed)


def test_observed_reconstructions(observed, small_test):
    """Test images and their reconstructions through the trained q(z|x) and decoder, saved (one
    file or two), found by matching."""
    with part("Task 3.2 (reconstructions)"):
        verdicts.reconstructions_verdict(observed, small_test)


def test_observed_interpolations(observed, small_test):
    """The 5 interpolations between the trained means of test images 1-2, ..., 9-10, saved, in
    either direction, found by matching."""
    with part("Task 3.3 (interpolations)"):
        verdicts.interpolation_verdict(observed, small_test)
