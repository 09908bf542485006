"""Tasks 2 and 3 of a script written on the original handout, graded by watching it run
(grading/observe.py). Points: points.json ("observed"); a part is graded by these tests
only when the submission does not write it as functions (conftest.py chooses)."""
import pytest

from grading import GradingFailure, observe


def test_observed_adam_start(observed):
    """m and v start at zero and t at 1: the first update is Figure 5's."""
    start, _, message = observe.adam_verdict(observed)
    if not start:
        raise GradingFailure("ADAM in the training loop: " + message)


def test_observed_adam_update(observed):
    """Every update of flattened_current_params is Figure 5's, from the gradient the loop got, with
    the learning rate set, bias corrections and eps outside the square root."""
    _, update, message = observe.adam_verdict(observed)
    if not update:
        raise GradingFailure("ADAM in the training loop: " + message)


def test_observed_samples(observed):
    """25 images saved that are the decoder's probabilities for z drawn from N(0, I)."""
    message = observe.samples_verdict(observed)
    if message:
        raise GradingFailure("Task 3.1 (samples from the prior): " + message)


def test_observed_reconstructions(observed, small_test):
    """The first 10 test images and their reconstructions through q(z|x), saved (one file or two)."""
    message = observe.reconstructions_verdict(observed, small_test)
    if message:
        raise GradingFailure("Task 3.2 (reconstructions): " + message)


@pytest.mark.parametrize("pair", range(observe.PAIRS))
def test_observed_interpolations(observed, small_test, pair):
    """The interpolation between test images 2 pair + 1 and 2 pair + 2, saved, in either direction."""
    message = observe.interpolation_verdict(observed, small_test, pair)
    if message:
        raise GradingFailure("Task 3.3 (interpolations): " + message)
