"""Task 2: ADAM, Figure 5 of the practical (adam.py). Points: points.json.

adam_step is checked from given states (the reference's (m, v, t) layout, the one
the handout's scaffold unpacks and returns), so its points do not depend on adam_init.
A step that is Figure 5's but for one recognisable slip (each case holds what each slip gives,
grading/casemaker.py) costs the part that slip's points, once (points.json's "slips").
"""
import numpy as np
import pytest

from grading import GradingFailure, PartialCredit, cases, judge


def test_adam_init(sub):
    """(m, v, t) = (zeros like params, zeros like params, 0), for float64 and float32 vectors."""
    for params in (np.linspace(-1, 1, 5), np.arange(7, dtype=np.float32) + 1):
        what = "adam_init(params) for params of shape %s, %s" % (params.shape, params.dtype)
        state = cases.adam_state(sub.call("adam", "adam_init", params, what=what).value, "%s's result" % what)
        for name, value in zip(("m", "v"), state[:2]):
            value = judge.as_array(value, "%s: %s" % (what, name))
            if value.shape != params.shape:
                raise GradingFailure("%s: %s should have the shape of params, %s; obtained %s"
                                        % (what, name, params.shape, value.shape))
            if np.any(value != 0):
                raise GradingFailure("%s: %s should be zeros (Figure 5: m_0 = 0, v_0 = 0); obtained %s"
                                        % (what, name, judge._fmt(value)))
        t = np.asarray(state[2])
        if t.size != 1 or t.item() != 0:
            raise GradingFailure("%s: t should be 0 (Figure 5: t_0 = 0; adam_step increments it before "
                                    "its first update); obtained %s" % (what, t.tolist()))


def adam_shape_hint(expected, obtained):
    return "return new parameters shaped like params" if obtained != expected else None


SLIPS = {
    "wrong_direction": "the step goes the wrong way: ADAM (Figure 5) minimises, so its update subtracts from params",
    "no_bias_correction": "no bias correction: Figure 5 divides m by (1 - beta1^t) and v by (1 - beta2^t)",
    "eps_inside_sqrt": "eps is added inside the square root: Figure 5 adds it to the square root of v_hat",
    "t_off_by_one": "t is off by one: Figure 5 increments t before its update, so that the first has t = 1",
}


def slip_credit(slip, failure):
    """A slip where everything else is Figure 5's: the part loses the slip's points once (points.json)."""
    return PartialCredit("%s\n  slip: the step is Figure 5's but for one slip: %s" % (failure, SLIPS[slip]),
                         slips=[slip])


@pytest.mark.parametrize("case", ["first", "later"])
def test_adam_step_values(sub, ref, case):
    """One step from a given state: the new parameters and the new state (m, v, t)."""
    c = ref.case("adam_step_" + case)
    result = cases.run_case(sub, c)
    slip = None
    try:
        judge.check_result(result, c, shape_hint=adam_shape_hint)
    except GradingFailure as e:
        slip = c.slip_of(result["params"])
        if slip is None:
            raise
        failure = e
    for key, meaning in (("m", "the biased first moment m"), ("v", "the biased second raw moment v"),
                         ("t", "the time step t")):
        try:
            judge.check_result(result, c, key=key)
        except GradingFailure as e:
            raise GradingFailure("the new parameters are %s but the returned state is not: %s\n%s\n"
                                 "  hint: assign the new values to m, v and t, which the line after your code "
                                 "returns" % ("right" if slip is None else "Figure 5's but for a slip", meaning, e))
    if slip is not None:
        raise slip_credit(slip, failure)


def test_adam_trajectory(sub, ref):
    """25 steps of adam_step from (0, 0, 0) on a quadratic with curvatures from 1e-4 to 10."""
    c = ref.case("adam_trajectory")
    result = cases.run_case(sub, c)
    try:
        judge.check_result(result, c)
    except GradingFailure as e:
        slip = c.slip_of(result["params"])
        if slip is None:
            raise
        raise slip_credit(slip, e)


def test_adam_step_leaves_inputs_unchanged(sub, ref):
    """adam_step builds new arrays: called twice on the very same params, grad, m and v, it takes
    the same right step twice and leaves them as they were."""
    c = ref.case("adam_step_later")
    params, grad, m, v, t, hyper = c.args()
    what = "adam_step(params, grad, (m, v, t)) called twice with the same arrays"
    result = sub.call("adam", "adam_step", params, grad, (m, v, t), kwargs=hyper, what=what, repeat=2)
    values = result.value
    if not isinstance(values, list) or len(values) != 2:
        raise GradingFailure("%s: no two results came back" % what)
    steps = [judge.as_array(cases.adam_result(value, "adam_step")[0], what) for value in values]
    expected = c.expected("params")
    # A slip of Figure 5 costs its points in the tests above; here only whether the inputs stay as they were.
    right = [(s.shape == expected.shape and np.allclose(s, expected, rtol=c.meta["rtol"], atol=c.meta["atol"]))
             or c.slip_of(s) is not None for s in steps]
    if right[0] and (not right[1] or result.changed):
        raise GradingFailure("%s: it modified its inputs in place (+=, -=, *= or slice assignment), and the "
                             "caller still uses them; build new arrays, e.g. m = beta1 * m + ..." % what)
    if not right[0]:
        raise GradingFailure("%s: the step is not Figure 5's (see test_adam_step_values), so whether it keeps "
                             "its inputs cannot be told" % what)
