"""autograd's gradients of np.mean, np.maximum, np.minimum and np.abs, computed in the
precision of their inputs (float32 in training) and in fewer passes over the data.

vae.py imports this module for its side effect: the same gradients, to float32 rounding,
at the cost of the reference solution's own. autograd's versions are exact but slow for
float32 work: np.mean's divides by a numpy integer and np.maximum's and np.minimum's by
`1.0 + mask`, both of which make the gradient float64, so every operation behind them in
the backward pass runs in float64; np.abs's takes five passes where one sign will do.
A correct Task 1 written with np.mean, np.maximum(f, 0) or np.abs would otherwise train
up to a third slower than the reference (tools/bench.py measures it).
"""
import autograd.numpy as np
from autograd.extend import defvjp
from autograd.numpy import numpy_wrapper
from autograd.numpy.numpy_vjps import repeat_to_match_shape, unbroadcast_f


# autograd.numpy inside the gradients, so that they can be differentiated again.

def mean_vjp(ans, x, axis=None, keepdims=False, **kwargs):
    def vjp(g):
        repeated, count = repeat_to_match_shape(g, np.shape(x), np.result_type(x), axis, keepdims)
        return repeated / np.result_type(x).type(count)
    return vjp


def balanced_eq(x, ans, y):
    """1 where x alone gave ans, 1/2 where x and y tie, 0 elsewhere (autograd's rule), in ans's dtype."""
    half = np.result_type(ans).type(0.5)
    return (x == ans) * np.where(x == y, half, 2 * half)


def abs_vjp(ans, x):
    if np.iscomplexobj(x):
        return lambda g: g * np.conj(x) / np.where(ans, ans, 1)
    return lambda g: g * np.sign(x)  # d|x|/dx; 0 at 0, as autograd has it


# np.mean is a wrapper around this primitive in recent autograd, the primitive itself before.
defvjp(getattr(numpy_wrapper, "_primitive_mean", numpy_wrapper.mean), mean_vjp)
for extremum in (numpy_wrapper.maximum, numpy_wrapper.minimum):
    defvjp(extremum, lambda ans, x, y: unbroadcast_f(x, lambda g: g * balanced_eq(x, ans, y)),
           lambda ans, x, y: unbroadcast_f(y, lambda g: g * balanced_eq(y, ans, x)))
defvjp(numpy_wrapper.absolute, abs_vjp)
