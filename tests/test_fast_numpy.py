"""fast_numpy's primitives give numpy's values and autograd's gradients: in float32 and float64,
at extreme logits, with infinities and NaN, broadcast against a number, and for every kind of
index."""
import numpy as onp
import pytest
from autograd import grad
from autograd.numpy import numpy_vjps

import autograd.numpy as np
import vae  # noqa: F401
from support import fast_numpy  # installed by support, as every training through it has it

EXTREMES = onp.array([-100, -30, -1, -1e-3, 0, 1e-3, 1, 30, 100], dtype=onp.float64)


def logits(dtype, n=4000, seed=0):
    rng = onp.random.default_rng(seed)
    x = rng.standard_normal(n) * 8
    x[:len(EXTREMES)] = EXTREMES
    return x.astype(dtype)


def test_training_uses_the_fast_logaddexp():
    assert np.logaddexp is fast_numpy.logaddexp


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
@pytest.mark.parametrize("first", [0, 0.0, "array"])
def test_logaddexp_gives_numpys_values(dtype, first):
    l = logits(dtype)
    a = logits(dtype, seed=1) if first == "array" else first
    for x, y in ((a, l), (a, -l), (l, a)):
        ours, numpys = np.logaddexp(x, y), onp.logaddexp(x, y)
        assert ours.dtype == numpys.dtype == dtype
        # within an ulp or two of the larger operand, where numpy's own rounding is
        scale = onp.maximum(onp.abs(x), onp.abs(y)) + 1
        assert onp.all(onp.abs(ours - numpys) <= 2 * onp.finfo(dtype).eps * scale)


def test_logaddexp_of_infinities_and_nan_is_numpys():
    inf, nan = onp.inf, onp.nan
    x = onp.array([inf, -inf, inf, -inf, nan, 1, inf, 0] * 200)
    y = onp.array([inf, -inf, -inf, 5, 1, nan, 3, -inf] * 200)
    with onp.errstate(invalid="ignore"):
        onp.testing.assert_array_equal(np.logaddexp(x, y), onp.logaddexp(x, y))


def test_small_arrays_numbers_and_keywords_are_numpys_own():
    assert type(np.logaddexp(0, 1.5)) is type(onp.logaddexp(0, 1.5))
    assert np.logaddexp(0, 1.5) == onp.logaddexp(0, 1.5)
    onp.testing.assert_array_equal(np.logaddexp([1, 2], [3, 4]), onp.logaddexp([1, 2], [3, 4]))
    out = onp.empty(2000)
    np.logaddexp(onp.ones(2000), 2.0, out=out)
    assert out[0] == onp.logaddexp(1, 2)
    big_ints = onp.arange(3000)
    onp.testing.assert_array_equal(np.logaddexp(big_ints, 0), onp.logaddexp(big_ints, 0))


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_logaddexp_gradient_is_autograds(dtype):
    l = logits(dtype)
    x = (onp.random.default_rng(2).random(l.shape) < 0.5).astype(dtype)

    def hint(logaddexp):   # the handout's hint: eq. (3) with np.logaddexp twice
        return lambda f: np.sum(-x * logaddexp(0, -f) - (1 - x) * logaddexp(0, f))
    g, autograds = grad(hint(np.logaddexp))(l), grad(hint(fast_numpy.numpys_logaddexp))(l)
    assert g.dtype == autograds.dtype == dtype
    # The gradient is exp(x - logaddexp): an ulp of the larger operand in the value moves it as much.
    tolerance = 4 * onp.finfo(dtype).eps * (onp.abs(l) + 1)
    assert onp.all(onp.abs(g - autograds) <= tolerance)
    assert onp.all(onp.abs(g - (x - 1 / (1 + onp.exp(-l.astype(onp.float64))))) <= tolerance)
    # with the array first and a number second
    g2 = grad(lambda f: np.sum(np.logaddexp(f, 0.0)))(l)
    assert onp.all(onp.abs(g2 - 1 / (1 + onp.exp(-l.astype(onp.float64)))) <= tolerance)


def add_at(A, index, g):
    """autograd's own gradient of A[index]: zeros with g added at index by np.add.at."""
    out = onp.zeros_like(A)
    onp.add.at(out, onp.array(index) if isinstance(index, list) else index, g)
    return out


@pytest.mark.parametrize("index", [
    slice(10, 50), (slice(None), slice(3, 7)), 5, (2, 3), (Ellipsis, 1), (None, slice(1, 3)), (),
    [1, 1, 4], (onp.array([0, 0, 2]), slice(None)), onp.arange(8) % 2 == 0, True,
], ids=lambda i: repr(i)[:30])
@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_the_gradient_of_indexing_is_autograds(index, dtype):
    A = onp.random.default_rng(0).standard_normal((8, 10)).astype(dtype)
    weights = onp.random.default_rng(1).standard_normal(onp.shape(A[index]))
    g = grad(lambda a: np.sum(a[index] * weights))(A)
    onp.testing.assert_allclose(g, add_at(A, index, weights), rtol=1e-6)
    assert fast_numpy.basic(index) == (not isinstance(index, (list, onp.ndarray, bool))
                                       and not (isinstance(index, tuple) and any(isinstance(i, onp.ndarray)
                                                                                 for i in index)))


def test_a_flat_vector_sliced_many_times_gets_every_part():
    theta = onp.arange(20.0)
    parts = lambda t: [t[0:6].reshape(2, 3), t[6:8], t[8:20].reshape(3, 4), t[6:8]]   # 6:8 twice
    g = grad(lambda t: sum(np.sum(p ** 2) for p in parts(t)))(theta)
    expected = 2 * theta
    expected[6:8] *= 2
    onp.testing.assert_allclose(g, expected)


def test_second_derivatives_go_through():
    x = onp.linspace(-3, 3, 2000)
    h = grad(lambda f: np.sum(grad(lambda u: np.sum(np.logaddexp(0, u)))(f)))(x)
    s = 1 / (1 + onp.exp(-x))
    onp.testing.assert_allclose(h, s * (1 - s), atol=1e-12)
    assert numpy_vjps.untake is not fast_numpy.untake_basic


def test_basic_indices_take_the_fast_path_and_others_autograds(monkeypatch):
    """np.add.at (autograd's untake) is left to the indices that can pick an element twice."""
    def refused(*args, **kwargs):
        raise AssertionError("autograd's untake (np.add.at) was used")
    monkeypatch.setattr(numpy_vjps, "untake", refused)
    A = onp.arange(12.0).reshape(3, 4)
    grad(lambda a: np.sum(a[1:, ::2]) + np.sum(a[0]))(A)
    with pytest.raises(AssertionError, match="untake"):
        grad(lambda a: np.sum(a[[0, 0]]))(A)


@pytest.mark.parametrize("other", [1.5, onp.float64(1.5), onp.array(1.5), onp.float32(1.5),
                                   onp.full(4000, 1.5), onp.full(4000, 1.5, onp.float32)],
                         ids=["float", "np.float64", "0-d float64", "np.float32", "float64 array", "float32 array"])
def test_the_result_has_numpys_dtype_whatever_the_operands(other):
    l = logits(onp.float32)
    for x, y in ((l, other), (other, l)):
        ours, numpys = np.logaddexp(x, y), onp.logaddexp(x, y)
        assert ours.dtype == numpys.dtype and ours.shape == numpys.shape
        onp.testing.assert_allclose(ours, numpys, rtol=1e-6)
