"""ADAM as Figure 5 of the practical writes it, and the slips recognisable in a submission's steps,
computed here, in the grader (the worker only runs the submission's code).

A slip counts (points.json's "slips" of part 2.2) only where everything else is Figure 5's:
the step the wrong way, no bias correction, eps inside the square root, or t off by one.
"""
import numpy as np

SLIPS = {
    "wrong_direction": "the step goes the wrong way",
    "no_bias_correction": "no bias correction: Figure 5 divides m by (1 - beta1^t) and v by (1 - beta2^t)",
    "eps_inside_sqrt": "eps is added inside the square root: Figure 5 adds it outside, sqrt(v_hat) + eps",
    "t_off_by_one": "t is off by one: Figure 5 increments t before its update, so that the first has t = 1",
}
HYPER = {"alpha": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def step(params, grad, m, v, t, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, slip=None):
    """One update of adam_step (which minimises), or of its variant with one slip:
    (new params, (m, v, t))."""
    with np.errstate(all="ignore"):
        t_new = t + 1
        used = t if slip == "t_off_by_one" else t_new      # incremented after its use
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        m_hat, v_hat = (m, v) if slip == "no_bias_correction" else (m / (1 - beta1 ** used), v / (1 - beta2 ** used))
        root = np.sqrt(v_hat + eps) if slip == "eps_inside_sqrt" else np.sqrt(v_hat) + eps
        direction = 1.0 if slip == "wrong_direction" else -1.0
        return params + direction * alpha * m_hat / root, (m, v, t_new)


def trajectory(x0, a, c, steps, slip=None, **hyper):
    """The iterates of `steps` updates from (0, 0, 0) on f(x) = sum(a (x - c)^2) / 2, (steps, n)."""
    x, state, path = np.array(x0, dtype=np.float64), (np.zeros(len(x0)), np.zeros(len(x0)), 0), []
    for _ in range(steps):
        x, state = step(x, a * (x - c), *state, slip=slip, **dict(HYPER, **hyper))
        path.append(x)
    return np.array(path)


def steps(g, alpha, beta1=0.9, beta2=0.999, eps=1e-8, t0=1, bias=True, eps_inside=False, sign=1.0):
    """The updates Figure 5 makes from the gradients g (K, n): (K, n), for a variant of it (sign +1
    ascends the objective; the practical's bound is maximised)."""
    m, v, out, t = np.zeros(g.shape[1]), np.zeros(g.shape[1]), [], t0
    with np.errstate(all="ignore"):
        for gk in g:
            m = beta1 * m + (1 - beta1) * gk
            v = beta2 * v + (1 - beta2) * gk ** 2
            mh, vh = (m / (1 - beta1 ** t), v / (1 - beta2 ** t)) if bias else (m, v)
            update = alpha * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps)
            out.append(sign * update)
            t += 1
    return np.array(out)
