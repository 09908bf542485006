"""The grader's maths: the practical's model as this grader computes it, in plain numpy, to
answer Task 1's stand-ins in an observed run, to follow its training, and to make the cases.
The student's own are vae.py's; these are the grader's only copy.

    forward, backward     the MLP of the given neural_net_predict (ReLU hidden layers, linear
                          output) and its gradient
    sample, log_bernoulli, kl, bound_and_gradient
                          eq. (15), (3), (12) and (14): the bound of a batch and its gradient
    step, trajectory, steps, SLIPS
                          ADAM as Figure 5 writes it, and the slips recognisable in a
                          submission's steps (points.json's "slips" of part 2.2)
"""
import autograd.numpy as anp
import numpy as np


# ---------------------------------------------------------------------------
# The bound (eq. 14), with which this grader answers Task 1's functions in an observed run

def halves(encoder_output):
    latent = encoder_output.shape[-1] // 2
    return encoder_output[..., :latent], encoder_output[..., latent:]


def sample(encoder_output, eps):
    mean, log_std = halves(encoder_output)
    return mean + anp.exp(log_std) * eps              # eq. (15)


def log_bernoulli(targets, logits):
    return anp.sum(targets * logits - anp.logaddexp(0.0, logits), axis=-1)   # eq. (3), stable


def kl(encoder_output):
    mean, log_std = halves(encoder_output)
    return 0.5 * anp.sum(anp.exp(2 * log_std) + mean ** 2 - 1 - 2 * log_std, axis=-1)   # eq. (12)


def forward(net, h):
    """The given MLP (ReLU hidden layers, linear output) of h (batch, inputs): (its output, each
    layer's input, for backward)."""
    inputs = []
    for i, (W, b) in enumerate(net):
        inputs.append(h)
        h = h @ W + b
        if i < len(net) - 1:
            h = h * (h > 0)
    return h, inputs


def backward(net, inputs, g):
    """The gradient of the network's parameters [(dW, db)] and of its input, for the output's g."""
    grads = [None] * len(net)
    for i in reversed(range(len(net))):
        W, _ = net[i]
        grads[i] = (inputs[i].T @ g, g.sum(axis=0))
        g = g @ W.T
        if i > 0:
            g = g * (inputs[i] > 0)   # a hidden layer's input is relu(pre): relu'(pre) = (input > 0)
    return grads, g


def _bound(nets, data, eps):
    """eq. (14) with one sample per image (z = mean + sigma * eps, eq. 15), the mean over the batch,
    in float32 as training computes it; and what its gradient needs."""
    gen, rec = ([(W.astype(np.float32), b.astype(np.float32)) for W, b in net] for net in nets)
    x, e = np.atleast_2d(data).astype(np.float32), np.atleast_2d(eps).astype(np.float32)
    encoder_output, rec_inputs = forward(rec, x)
    mean, log_std = halves(encoder_output)
    std = np.exp(log_std)
    logits, gen_inputs = forward(gen, mean + std * e)
    log_px = np.sum(x * logits - np.logaddexp(0.0, logits), axis=1)             # eq. (3)
    kl_rows = 0.5 * np.sum(std ** 2 + mean ** 2 - 1 - 2 * log_std, axis=1)        # eq. (12)
    return float(np.mean(log_px - kl_rows)), (gen, rec, x, e, rec_inputs, gen_inputs, mean, std, logits)


def plain_bound(nets, data, eps):
    """The bound's value (an observed run asks for many)."""
    return _bound(nets, data, eps)[0]


def bound_and_gradient(nets, data, eps):
    """The bound's value and its gradient with respect to both networks, ([gen grads], [rec grads]),
    by hand: the grader computes one per training step of an observed run. The submission gets
    exactly the gradient recorded here, so Figure 5's check does not depend on its precision."""
    value, (gen, rec, x, e, rec_inputs, gen_inputs, mean, std, logits) = _bound(nets, data, eps)
    batch = len(x)
    with np.errstate(over="ignore"):
        probabilities = 0.5 * (np.tanh(0.5 * logits) + 1.0)
    gen_grads, dz = backward(gen, gen_inputs, (x - probabilities) / batch)
    d_mean = dz - mean / batch
    d_log_std = dz * std * e - (std ** 2 - 1) / batch
    rec_grads, _ = backward(rec, rec_inputs, np.concatenate([d_mean, d_log_std], axis=1))
    as64 = lambda grads: [(dW.astype(np.float64), db.astype(np.float64)) for dW, db in grads]  # noqa: E731
    return value, (as64(gen_grads), as64(rec_grads))


MATHS = {"sample_latent_variables_from_posterior": lambda args, eps: sample(args[0], eps),
         "bernoulli_log_prob": lambda args, eps: log_bernoulli(args[0], args[1]),
         "compute_KL": lambda args, eps: kl(args[0])}


# ---------------------------------------------------------------------------
# ADAM (Figure 5), and its recognisable slips: one of them, with everything else Figure 5's

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
