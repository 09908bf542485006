"""Task 2: ADAM, exactly as Figure 5 of the practical (Kingma & Ba, 2014).

ADAM minimises: the training loop hands it the gradient of the negative ELBO.
Parameters, gradients and moments are flat numpy vectors of one length.
"""
import numpy as np


def adam_init(params):
    """Figure 5's initial state for a flat parameter vector: m_0 = 0, v_0 = 0, t = 0.

    Returns (m, v, t) with m and v zeros shaped and typed like params.
    """
    # BEGIN SOLUTION
    return np.zeros_like(params), np.zeros_like(params), 0
    # END SOLUTION


def adam_step(params, grad, state, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """One ADAM update of the flat vector params, given grad = gradient of f at params.

    state is (m, v, t) from adam_init or the previous step. Returns
    (new_params, new_state); the inputs are not modified.
    """
    m, v, t = state
    # BEGIN SOLUTION
    t = t + 1
    m = beta1 * m + (1 - beta1) * grad              # biased first moment
    v = beta2 * v + (1 - beta2) * grad ** 2         # biased second raw moment
    m_hat = m / (1 - beta1 ** t)                    # bias corrections
    v_hat = v / (1 - beta2 ** t)
    params = params - alpha * m_hat / (np.sqrt(v_hat) + eps)  # eps outside the root
    # END SOLUTION
    return params, (m, v, t)
