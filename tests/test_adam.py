"""Task 2: ADAM exactly as Figure 5 of the practical."""
import math

import numpy as np
import pytest

from adam import adam_init, adam_step


def test_init_is_zero_moments_and_step_zero():
    """m_0 = 0, v_0 = 0 shaped and typed like the parameters, t = 0."""
    params = np.array([1.5, -2.0, 3.0], dtype=np.float32)
    m, v, t = adam_init(params)
    for moment in (m, v):
        assert moment.shape == params.shape and moment.dtype == params.dtype
        assert not moment.any()
    assert t == 0
    assert m is not v, "two moments sharing one buffer would corrupt each other"


def test_three_step_trajectory_by_hand():
    """Figure 5 by hand on two coordinates, alpha = 0.1, beta1 = 0.9, beta2 = 0.999,
    eps = 1e-8, with fixed gradients g1, g2, g3. Catches a wrong moment update, a wrong
    power t in the bias correction, or a step counter that does not advance."""
    g1, g2, g3 = [0.5, -1.0], [0.2, 0.4], [-0.3, 0.1]
    state = adam_init(np.array([1.0, -2.0]))
    params = np.array([1.0, -2.0])
    trajectory = []
    for g in (g1, g2, g3):
        params, state = adam_step(params, np.array(g), state, alpha=0.1)
        trajectory.append(params)

    # Step 1: m = 0.1 g1, v = 0.001 g1^2; the bias corrections undo the factors exactly,
    # so each coordinate moves by alpha * g / (|g| + eps).
    step1 = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)]
    # Step 2, coordinate 0: m = 0.9 * 0.05 + 0.1 * 0.2 = 0.065,
    # v = 0.999 * 0.00025 + 0.001 * 0.04 = 0.00028975; corrections 1 - 0.9^2, 1 - 0.999^2.
    # Coordinate 1: m = 0.9 * -0.1 + 0.1 * 0.4 = -0.05, v = 0.999 * 0.001 + 0.001 * 0.16 = 0.001159.
    m2, v2 = [0.065, -0.05], [0.00028975, 0.001159]
    step2 = [step1[i] - 0.1 * (m2[i] / (1 - 0.9 ** 2)) / (math.sqrt(v2[i] / (1 - 0.999 ** 2)) + 1e-8)
             for i in range(2)]
    # Step 3: m = 0.9 * m2 + 0.1 * g3, v = 0.999 * v2 + 0.001 * g3^2.
    m3 = [0.9 * 0.065 + 0.1 * -0.3, 0.9 * -0.05 + 0.1 * 0.1]          # [0.0285, -0.035]
    v3 = [0.999 * 0.00028975 + 0.001 * 0.09, 0.999 * 0.001159 + 0.001 * 0.01]
    step3 = [step2[i] - 0.1 * (m3[i] / (1 - 0.9 ** 3)) / (math.sqrt(v3[i] / (1 - 0.999 ** 3)) + 1e-8)
             for i in range(2)]

    np.testing.assert_allclose(trajectory, [step1, step2, step3], rtol=1e-12)
    # The same numbers, worked out once and written down.
    np.testing.assert_allclose(trajectory[-1], [0.7805871509237353, -1.8447499006515093], rtol=1e-9)
    m, v, t = state
    assert t == 3
    np.testing.assert_allclose(m, m3, rtol=1e-12)
    np.testing.assert_allclose(v, v3, rtol=1e-12)


def test_first_step_moves_each_coordinate_by_alpha():
    """Bias correction: whatever the gradient's size, step 1 moves by alpha * sign(g).
    Without it the first step would be alpha * 0.1 / sqrt(0.001) ~ 3.16 alpha."""
    g = np.array([1e-3, -50.0, 7.0])
    params, _ = adam_step(np.zeros(3), g, adam_init(np.zeros(3)), alpha=0.01)
    np.testing.assert_allclose(params, -0.01 * np.sign(g), rtol=1e-4)


def test_eps_is_outside_the_square_root():
    """With g = 1e-6: alpha * g / (sqrt(g^2) + eps) ~ 0.99 alpha, but eps inside the root
    gives alpha * g / sqrt(g^2 + eps) ~ 0.01 alpha."""
    g = np.array([1e-6])
    params, _ = adam_step(np.zeros(1), g, adam_init(np.zeros(1)), alpha=1.0, eps=1e-8)
    np.testing.assert_allclose(params, [-1e-6 / (1e-6 + 1e-8)], rtol=1e-9)


def test_zero_gradient_does_not_move_or_give_nan():
    """eps keeps 0 / 0 away: a coordinate with no gradient stays put."""
    params, state = adam_step(np.array([2.0, 3.0]), np.array([0.0, 1.0]), adam_init(np.zeros(2)))
    assert np.all(np.isfinite(params)) and params[0] == 2.0
    assert np.all(np.isfinite(state[1]))


def test_inputs_are_not_modified():
    """adam_step returns new arrays; the caller's parameters, gradient and state are unchanged
    (catches in-place updates such as m *= beta1)."""
    params, grad = np.array([1.0, -1.0]), np.array([0.3, -0.7])
    _, state = adam_step(params, grad, adam_init(params))
    m, v, t = state
    saved = [a.copy() for a in (params, grad, m, v)]
    new_params, new_state = adam_step(params, grad, state)
    for before, after in zip(saved, (params, grad, m, v)):
        np.testing.assert_array_equal(before, after)
    assert state[2] == t == 1 and new_state[2] == 2
    assert not np.array_equal(new_params, params)


def test_minimises_a_quadratic():
    """ADAM descends: f(x) = sum a (x - c)^2 / 2 with very different curvatures reaches its
    minimum c (catches ascent, i.e. a sign error)."""
    a, c = np.array([1.0, 10.0, 100.0]), np.array([3.0, -2.0, 0.5])
    x, state = np.zeros(3), adam_init(np.zeros(3))
    for _ in range(3000):
        x, state = adam_step(x, a * (x - c), state, alpha=0.05)
    np.testing.assert_allclose(x, c, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_the_parameter_dtype(dtype):
    """Training keeps float32 parameters; a step must not silently turn them into float64."""
    params = np.ones(4, dtype=dtype)
    new, (m, v, _) = adam_step(params, np.full(4, 0.5, dtype=dtype), adam_init(params))
    assert new.dtype == m.dtype == v.dtype == dtype
