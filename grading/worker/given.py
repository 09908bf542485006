"""The practical's given functions, exactly as vae.py defines them (tests check that the two
agree): the worker grades every task with these in place of the submission's own, so that a
student who changed one is graded as if they had not (and told so)."""
import autograd.numpy as np

GIVEN = ("sigmoid", "relu", "neural_net_predict")
# The practical's arguments of each task function, and of the given ones.
SIGNATURES = {
    "sample_latent_variables_from_posterior": ("encoder_output",),
    "bernoulli_log_prob": ("targets", "logits"),
    "compute_KL": ("q_means_and_log_stds",),
    "vae_lower_bound": ("gen_params", "rec_params", "data"),
    "adam_init": ("params",),
    "adam_step": ("params", "grad", "state", "alpha", "beta1", "beta2", "eps"),
    "generate_from_prior": ("gen_params", "num_images"),
    "reconstruct": ("gen_params", "rec_params", "images"),
    "interpolate": ("gen_params", "rec_params", "image_a", "image_b", "num_points"),
    "neural_net_predict": ("params", "inputs"),
    "sigmoid": ("x",),
    "relu": ("x",),
}


def sigmoid(x):
    """eq. (4), through tanh so that no exp can overflow."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def relu(x):
    # The mask is a constant to autograd, so the gradient is a single product. Lists and
    # numbers are taken as np.maximum(0, x) takes them (the original handout's relu).
    x = x if hasattr(x, "shape") else np.asarray(x)
    return x * (x > 0)


def neural_net_predict(params, inputs):
    """An MLP: ReLU hidden layers, linear output layer.

    params: [(W, b), ...]; inputs: (batch, layer_sizes[0]), or one row (layer_sizes[0],)
    as the original handout's np.dot allowed. Returns (batch, layer_sizes[-1]) (one row
    for one row): logits for the decoder, means and log standard deviations for the encoder.
    """
    # float32 weights (training) compute in float32 whatever the inputs' precision
    # (npr.randn's noise is float64); astype also casts the gradient flowing back in, so
    # the backward pass stays in float32 too. Other weights compute as np.dot would.
    single = getattr(params[0][0], "dtype", None) == np.float32
    if single:
        inputs = np.array(inputs, dtype=np.float32)
    for W, b in params[:-1]:
        inputs = relu(inputs @ W + b)
    W, b = params[-1]
    outputs = inputs @ W + b
    return outputs.astype(np.float32) if single else outputs
