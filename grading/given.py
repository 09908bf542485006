"""The practical's given functions, exactly as vae.py defines them (tests check that the two
agree): the worker grades every task with these in place of the submission's own, so that a
student who changed one is graded as if they had not (and told so)."""
import autograd.numpy as np

GIVEN = ("sigmoid", "relu", "neural_net_predict")


def check_matrix(function, name, array, columns=None):
    """Raise ValueError unless array is 2-D, with `columns` columns if given."""
    shape = np.shape(array)
    if len(shape) != 2 or (columns is not None and shape[1] != columns):
        expected = "(batch, %s)" % ("d" if columns is None else columns)
        raise ValueError("%s: %s should have shape %s, got %s" % (function, name, expected, shape))


def sigmoid(x):
    """eq. (4), through tanh so that no exp can overflow."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def relu(x):
    # The mask is a constant to autograd, so the gradient is a single product.
    return x * (x > 0)


def neural_net_predict(params, inputs):
    """An MLP: ReLU hidden layers, linear output layer.

    params: [(W, b), ...]; inputs: (batch, layer_sizes[0]).
    Returns (batch, layer_sizes[-1]): logits for the decoder, means and log
    standard deviations for the encoder.
    """
    check_matrix("neural_net_predict", "inputs", inputs, np.shape(params[0][0])[0])
    # In the weights' precision (float32 in training) whatever the inputs' (npr.randn's
    # noise is float64); astype also casts the gradient flowing back in, so the backward
    # pass stays in that precision too.
    dtype = params[0][0].dtype
    inputs = np.array(inputs, dtype=dtype)
    for W, b in params[:-1]:
        inputs = relu(inputs @ W + b)
    W, b = params[-1]
    return (inputs @ W + b).astype(dtype)
