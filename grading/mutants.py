"""Known wrong solutions of the practical's tasks, as replacements of solution regions.

Each mutant replaces the `# BEGIN SOLUTION` ... `# END SOLUTION` region of one function
in the reference's vae.py or adam.py (so it survives edits elsewhere in those files).
Two uses:

- grading/casemaker.py runs every mutant on every stored case and stores what it
  returns (a fingerprint) with the mutant's hint, so that a grading test that sees the
  same wrong output can say which mistake it looks like;
- tests/test_grading_meta.py checks that every mutant loses points in its task and
  that the failure messages name the mistake (`expect`, by default the hint).
"""
import shutil
import textwrap
from pathlib import Path

from grading.regions import find_regions

ROOT = Path(__file__).resolve().parent.parent


class Mutant:
    """name; the function whose solution region body replaces (body None: no region replaced);
    the hint recorded for its wrong outputs; expect, a text some failure message must contain;
    points, the points a careful teacher gives each part it touches ({part: points}; every
    other part keeps full marks); replace, [(old, new)] text replacements outside the regions
    (a changed given function, a changed signature)."""

    def __init__(self, name, function, body, hint, expect=None, points=None, replace=()):
        self.name, self.function, self.hint = name, function, hint
        self.body = None if body is None else textwrap.dedent(body).strip("\n")
        self.expect = expect or hint
        self.points = points
        self.replace = list(replace)
        self.file = "adam.py" if function.startswith("adam_") else "vae.py"

    def __repr__(self):
        return "Mutant(%s)" % self.name

    def write(self, directory, source=ROOT):
        """A submission folder with this mistake: the reference's vae.py and adam.py, one region replaced."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("vae.py", "adam.py"):
            text = (Path(source) / name).read_text()
            if name == self.file:
                if self.body is not None:
                    text = self._apply_one(text, name)
                for old, new in self.replace:
                    if old not in text:
                        raise ValueError("mutant %s: %r not found in %s" % (self.name, old[:40], name))
                    text = text.replace(old, new, 1)
            (directory / name).write_text(text)
        return directory

    def _apply_one(self, text, filename):
        return replace_bodies(text, filename, {self.function: self.body}, self.name)


def replace_bodies(text, filename, bodies, name="fixture"):
    """text with the solution region of each function in bodies replaced by its body."""
    regions = find_regions(text, filename)
    for function in bodies:
        if sum(r.function == function for r in regions) != 1:
            raise ValueError("%s: no single solution region for %s in %s" % (name, function, filename))
    lines = text.splitlines()
    out, last = [], 0
    for region in regions:
        if region.function not in bodies:
            continue
        out.extend(lines[last:region.begin])
        out.extend(region.indent + line if line else "" for line in textwrap.dedent(bodies[region.function])
                   .strip("\n").splitlines())
        last = region.end + 1
    out.extend(lines[last:])
    return "\n".join(out) + "\n"


# Submissions that do nothing, each function in its own way: every one must score 0 on every test.
DO_NOTHING = {
    "constants": {
        "sample_latent_variables_from_posterior": "return np.zeros((len(encoder_output), np.shape(encoder_output)[1] // 2))",
        "bernoulli_log_prob": "return -100.0 * np.ones(len(targets))",
        "compute_KL": "return np.ones(len(q_means_and_log_stds))",
        "vae_lower_bound": "return -100.0",
        "adam_init": "return 0.0, 0.0, 0",
        "adam_step": "return np.ones_like(params), state",
        "generate_from_prior": "return 0.5 * np.ones((num_images, 784))",
        "reconstruct": "return 0.5 * np.ones(np.shape(images))",
        "interpolate": "return 0.5 * np.ones((num_points, 784))",
    },
    "echo_inputs": {
        "sample_latent_variables_from_posterior": "return encoder_output",
        "bernoulli_log_prob": "return logits",
        "compute_KL": "return q_means_and_log_stds",
        "vae_lower_bound": "return data",
        "adam_init": "return params",
        "adam_step": "return params, state",
        "generate_from_prior": "return gen_params",
        "reconstruct": "return images",
        "interpolate": "return np.stack([image_a, image_b])",
    },
    "zeros": {
        "sample_latent_variables_from_posterior": "return 0.0",
        "bernoulli_log_prob": "return 0.0",
        "compute_KL": "return 0.0",
        "vae_lower_bound": "return 0.0",
        "adam_init": "return 0.0",
        "adam_step": "return 0.0",
        "generate_from_prior": "return 0.0",
        "reconstruct": "return 0.0",
        "interpolate": "return 0.0",
    },
}


def write_do_nothing(directory, name, source=ROOT):
    """A submission folder where every task function does nothing, DO_NOTHING[name]'s way."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for filename in ("vae.py", "adam.py"):
        text = (Path(source) / filename).read_text()
        bodies = {f: b for f, b in DO_NOTHING[name].items() if f in {r.function for r in find_regions(text, filename)}}
        (directory / filename).write_text(replace_bodies(text, filename, bodies, name))
    return directory


SPLIT = "mean, log_std = np.split(encoder_output, 2, axis=1)\n"
KL_SPLIT = "mean, log_std = np.split(q_means_and_log_stds, 2, axis=1)\n"
ELBO_HEAD = """\
encoder_output = neural_net_predict(rec_params, data)
z = sample_latent_variables_from_posterior(encoder_output)
logits = neural_net_predict(gen_params, z)
"""
ADAM_MOMENTS = """\
t = t + 1
m = beta1 * m + (1 - beta1) * grad
v = beta2 * v + (1 - beta2) * grad ** 2
"""
INTERPOLATE_HEAD = """\
encoder_output = neural_net_predict(rec_params, np.stack([image_a, image_b]))
z_a, z_b = np.split(encoder_output, 2, axis=1)[0]
"""

MUTANTS = [
    # Task 1.1: sample_latent_variables_from_posterior
    Mutant("sample_variance", "sample_latent_variables_from_posterior",
           SPLIT + "return mean + np.exp(2 * log_std) * npr.randn(*np.shape(mean))",
           "the noise looks scaled by the variance exp(2 log_std): z = mu + sigma * eps takes the "
           "standard deviation sigma = exp(log_std)"),
    Mutant("sample_log_variance", "sample_latent_variables_from_posterior",
           SPLIT + "return mean + np.exp(0.5 * log_std) * npr.randn(*np.shape(mean))",
           "the encoder's second half looks read as log variances (sigma = exp(log_std / 2)); it "
           "holds log standard deviations: sigma = exp(log_std)"),
    Mutant("sample_no_exp", "sample_latent_variables_from_posterior",
           SPLIT + "return mean + log_std * npr.randn(*np.shape(mean))",
           "the log standard deviation itself looks used as the scale of the noise: sigma = exp(log_std)"),
    Mutant("sample_halves_swapped", "sample_latent_variables_from_posterior",
           "log_std, mean = np.split(encoder_output, 2, axis=1)\n"
           "return mean + np.exp(log_std) * npr.randn(*np.shape(mean))",
           "the two halves look swapped: the first L columns are the means, the last L the log "
           "standard deviations"),
    Mutant("sample_shared_noise", "sample_latent_variables_from_posterior",
           SPLIT + "return mean + np.exp(log_std) * npr.randn(np.shape(mean)[1])",
           "one noise vector looks shared by all rows: draw one eps per row and latent variable, "
           "npr.randn(batch, L)", expect="the same noise"),
    Mutant("sample_no_noise", "sample_latent_variables_from_posterior",
           SPLIT + "return mean + 0 * log_std",
           "z looks equal to the mean: add sigma * eps, eps = npr.randn(batch, L)",
           expect="drew no Gaussian noise"),
    Mutant("sample_not_differentiable", "sample_latent_variables_from_posterior",
           SPLIT + "return npr.normal(mean, np.exp(log_std))",
           "npr.normal(mean, sigma) has no gradient: compute mean + sigma * eps",
           expect="cannot differentiate", points={"1.1": 8}),
    # Task 1.2: bernoulli_log_prob
    # eq. (3) written literally, as every real student does: right for the logits of training,
    # -inf beyond about 37: it loses the stability test's points and nothing else.
    Mutant("bernoulli_literal_eq3", "bernoulli_log_prob",
           "p = sigmoid(logits)\n"
           "return np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=1)",
           "log(sigmoid(f)) written literally underflows to log(0) = -inf for large |f|: compute "
           "log sigmoid(f) from f itself, in a form where no exp can overflow (see the TODO)",
           expect="written literally underflow", points={"1.2": 8}),
    Mutant("bernoulli_probabilities_as_logits", "bernoulli_log_prob",
           "return np.sum(targets * np.log(logits) + (1 - targets) * np.log(1 - logits), axis=1)",
           "the logits look used as probabilities: the Bernoulli probability is sigmoid(logits) (eq. 4)"),
    Mutant("bernoulli_mean_over_pixels", "bernoulli_log_prob",
           "softplus = np.logaddexp(0, logits)\nreturn np.mean(targets * logits - softplus, axis=1)",
           "this is the mean over pixels: log p(x|z) is the SUM over the D pixels of each image"),
    Mutant("bernoulli_wrong_sign", "bernoulli_log_prob",
           "softplus = np.logaddexp(0, logits)\nreturn np.sum(softplus - targets * logits, axis=1)",
           "wrong sign: the log probability of binary pixels is never positive"),
    Mutant("bernoulli_sum_over_batch", "bernoulli_log_prob",
           "softplus = np.logaddexp(0, logits)\nreturn np.sum(targets * logits - softplus)",
           "summed over the batch too: return one value per image (sum over axis 1)",
           expect="one value per image"),
    # Task 1.3: compute_KL
    Mutant("kl_log_variance", "compute_KL",
           KL_SPLIT + "return np.sum(0.5 * (np.exp(log_std) + mean ** 2 - 1 - log_std), axis=1)",
           "the second half looks read as log variances; it holds log standard deviations: "
           "nu = exp(2 log_std), log nu = 2 log_std", points={"1.3": 3}),
    Mutant("kl_std_for_variance", "compute_KL",
           KL_SPLIT + "return np.sum(0.5 * (np.exp(log_std) + mean ** 2 - 1 - 2 * log_std), axis=1)",
           "sigma looks used in place of the variance nu = sigma^2 = exp(2 log_std) in eq. (12)", points={"1.3": 0}),
    Mutant("kl_wrong_sign", "compute_KL",
           KL_SPLIT + "return -np.sum(0.5 * (np.exp(2 * log_std) + mean ** 2 - 1) - log_std, axis=1)",
           "wrong sign: a KL divergence is never negative"),
    Mutant("kl_no_half", "compute_KL",
           KL_SPLIT + "return np.sum(np.exp(2 * log_std) + mean ** 2 - 1 - 2 * log_std, axis=1)",
           "twice the KL: the factor 1/2 of eq. (12) is missing", points={"1.3": 3}),
    Mutant("kl_mean_over_latents", "compute_KL",
           KL_SPLIT + "return np.mean(0.5 * (np.exp(2 * log_std) + mean ** 2 - 1) - log_std, axis=1)",
           "this is the mean over the latent variables: the KL is the SUM of the L marginal KLs", points={"1.3": 3}),
    # Task 1.4: vae_lower_bound
    Mutant("elbo_sum_over_batch", "vae_lower_bound",
           ELBO_HEAD + "return np.sum(bernoulli_log_prob(data, logits) - compute_KL(encoder_output))",
           "the sum over the batch: return the MEAN over the images of log p(x|z) - KL", points={"1.4": 6}),
    Mutant("elbo_plus_kl", "vae_lower_bound",
           ELBO_HEAD + "return np.mean(bernoulli_log_prob(data, logits) + compute_KL(encoder_output))",
           "the KL looks added: the bound is log p(x|z) MINUS the KL (eq. 14)", points={"1.4": 0}),
    Mutant("elbo_negated", "vae_lower_bound",
           ELBO_HEAD + "return -np.mean(bernoulli_log_prob(data, logits) - compute_KL(encoder_output))",
           "this is the negative of the bound: return the bound itself (the training loop negates it)",
           points={"1.4": 6}),
    Mutant("elbo_decodes_mean", "vae_lower_bound",
           "encoder_output = neural_net_predict(rec_params, data)\n"
           "z = np.split(encoder_output, 2, axis=1)[0]\n"
           "logits = neural_net_predict(gen_params, z)\n"
           "return np.mean(bernoulli_log_prob(data, logits) - compute_KL(encoder_output))",
           "the posterior mean looks decoded: draw z with sample_latent_variables_from_posterior",
           expect="no z was drawn with sample_latent_variables_from_posterior"),
    Mutant("elbo_probabilities_to_bernoulli", "vae_lower_bound",
           ELBO_HEAD + "return np.mean(bernoulli_log_prob(data, sigmoid(logits)) - compute_KL(encoder_output))",
           "probabilities look passed to bernoulli_log_prob, which takes the logits (before the sigmoid)",
           expect="these look like probabilities"),
    Mutant("elbo_times_N", "vae_lower_bound",
           ELBO_HEAD + "return 60000 * np.mean(bernoulli_log_prob(data, logits) - compute_KL(encoder_output))",
           "the bound looks scaled by N = 60000: it is the mean over the images of the batch",
           expect="N = 60000", points={"1.4": 6}),
    # An extra parameter the body never uses costs nothing (the grading gives it a placeholder);
    # one the value depends on cannot be graded.
    Mutant("elbo_extra_argument_N", "vae_lower_bound", None,
           "vae_lower_bound takes (gen_params, rec_params, data)",
           expect="yours is (gen_params, rec_params, data, N): N, which the practical's does not have, is never used",
           points={}, replace=[("def vae_lower_bound(gen_params, rec_params, data):",
                                "def vae_lower_bound(gen_params, rec_params, data, N):")]),
    Mutant("elbo_extra_argument_scales", "vae_lower_bound",
           ELBO_HEAD + "return N * np.mean(bernoulli_log_prob(data, logits) - compute_KL(encoder_output))",
           "vae_lower_bound takes (gen_params, rec_params, data)",
           expect="its value depends on N, which the practical's does not have", points={"1.4": 0},
           replace=[("def vae_lower_bound(gen_params, rec_params, data):",
                     "def vae_lower_bound(gen_params, rec_params, data, N):")]),
    Mutant("changed_network_batchnorm", "neural_net_predict", None,
           "neural_net_predict was changed (batch normalisation)",
           expect="neural_net_predict differs from the handout's", points={},
           replace=[("        inputs = relu(inputs @ W + b)\n",
                     "        h = inputs @ W + b\n"
                     "        inputs = relu((h - np.mean(h, axis=0)) / np.sqrt(np.var(h, axis=0) + 1e-5))\n")]),
    # A given function changed compatibly (a keyword the grader's copy does not take): nothing lost.
    Mutant("changed_network_keyword", "vae_lower_bound",
           "q_means_and_log_stds = neural_net_predict(rec_params, data, normalize=False)\n"
           "z = sample_latent_variables_from_posterior(q_means_and_log_stds)\n"
           "logits = neural_net_predict(gen_params, z, normalize=False)\n"
           "return np.mean(bernoulli_log_prob(data, logits) - compute_KL(q_means_and_log_stds))",
           "neural_net_predict was given an extra argument", points={},
           expect="neural_net_predict was called with arguments the handout's does not take",
           replace=[("def neural_net_predict(params, inputs):\n",
                     "def neural_net_predict(params, inputs, normalize=False):\n"
                     "    inputs = inputs / 255.0 if normalize else inputs\n")]),
    Mutant("elbo_not_differentiable", "vae_lower_bound",
           ELBO_HEAD + "return float(np.mean(bernoulli_log_prob(data, logits) - compute_KL(encoder_output)))",
           "float() hides the bound from autograd", expect="autograd cannot differentiate", points={"1.4": 9}),
    # Task 2: ADAM
    Mutant("adam_init_t_one", "adam_init", "return np.zeros_like(params), np.zeros_like(params), 1",
           "t starts at 0 in Figure 5", expect="t should be 0"),
    Mutant("adam_init_ones", "adam_init", "return np.ones_like(params), np.ones_like(params), 0",
           "m and v start at zero in Figure 5", expect="should be zeros"),
    Mutant("adam_no_bias_correction", "adam_step",
           ADAM_MOMENTS + "params = params - alpha * m / (np.sqrt(v) + eps)",
           "no bias correction: Figure 5 divides m by (1 - beta1^t) and v by (1 - beta2^t)", points={"2.2": 10}),
    Mutant("adam_eps_inside_sqrt", "adam_step",
           ADAM_MOMENTS + "params = params - alpha * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps)",
           "eps looks added inside the square root: Figure 5 adds it outside, sqrt(v_hat) + eps", points={"2.2": 13}),
    Mutant("adam_t_incremented_after", "adam_step",
           "m = beta1 * m + (1 - beta1) * grad\n"
           "v = beta2 * v + (1 - beta2) * grad ** 2\n"
           "params = params - alpha * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)\n"
           "t = t + 1",
           "t looks incremented after its use: Figure 5 increments it first, so the first step has t = 1",
           points={"2.2": 10}),
    Mutant("adam_ascent", "adam_step",
           ADAM_MOMENTS + "params = params + alpha * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)",
           "the step goes up the gradient: ADAM minimises, params - alpha * m_hat / (sqrt(v_hat) + eps)",
           points={"2.2": 10}),
    Mutant("adam_constant_hyperparameters", "adam_step",
           "t = t + 1\n"
           "m = 0.9 * m + 0.1 * grad\n"
           "v = 0.999 * v + 0.001 * grad ** 2\n"
           "params = params - 0.001 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)",
           "the default alpha, beta1, beta2, eps look hard-coded: use the arguments", points={"2.2": 12}),
    Mutant("adam_second_moment_of_m", "adam_step",
           "t = t + 1\n"
           "m = beta1 * m + (1 - beta1) * grad\n"
           "v = beta2 * v + (1 - beta2) * m ** 2\n"
           "params = params - alpha * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)",
           "v looks updated with m^2: the second raw moment averages the squared GRADIENT g_t^2", points={"2.2": 0}),
    Mutant("adam_in_place", "adam_step",
           "t = t + 1\n"
           "m *= beta1\n"
           "m += (1 - beta1) * grad\n"
           "v *= beta2\n"
           "v += (1 - beta2) * grad ** 2\n"
           "params -= alpha * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)",
           "the arrays passed in look modified in place (+=, *=): build new ones, m = beta1 * m + ...",
           expect="modified its inputs", points={"2.2": 13}),
    # Task 3.1: generate_from_prior
    Mutant("generate_logits", "generate_from_prior",
           "z = npr.randn(num_images, np.shape(gen_params[0][0])[0])\n"
           "return neural_net_predict(gen_params, z)",
           "these look like logits: return the activation probabilities sigmoid(logits)"),
    Mutant("generate_binarised", "generate_from_prior",
           "z = npr.randn(num_images, np.shape(gen_params[0][0])[0])\n"
           "probabilities = sigmoid(neural_net_predict(gen_params, z))\n"
           "return (npr.rand(*np.shape(probabilities)) < probabilities).astype(float)",
           "the images look binarised (sampled): return the activation probabilities themselves",
           expect="binarised"),
    Mutant("generate_uniform_prior", "generate_from_prior",
           "z = npr.rand(num_images, np.shape(gen_params[0][0])[0])\n"
           "return sigmoid(neural_net_predict(gen_params, z))",
           "z looks drawn from U[0, 1] (npr.rand): the prior is N(0, I), npr.randn",
           expect="drew no Gaussian noise"),
    # Task 3.2: reconstruct
    Mutant("reconstruct_posterior_mean", "reconstruct",
           "z = np.split(neural_net_predict(rec_params, images), 2, axis=1)[0]\n"
           "return sigmoid(neural_net_predict(gen_params, z))",
           "the posterior mean looks decoded: draw z from q(z|x) with "
           "sample_latent_variables_from_posterior"),
    Mutant("reconstruct_logits", "reconstruct",
           "z = sample_latent_variables_from_posterior(neural_net_predict(rec_params, images))\n"
           "return neural_net_predict(gen_params, z)",
           "these look like logits: return the activation probabilities sigmoid(logits)"),
    # Task 3.3: interpolate
    Mutant("interpolate_sampled_codes", "interpolate",
           "z_a, z_b = sample_latent_variables_from_posterior(\n"
           "    neural_net_predict(rec_params, np.stack([image_a, image_b])))\n"
           "s = np.linspace(1.0, 0.0, num_points)[:, None]\n"
           "return sigmoid(neural_net_predict(gen_params, z_a * s + (1 - s) * z_b))",
           "the codes look sampled from q(z|x): take the means, the first L outputs of the encoder",
           expect="changes with the noise"),
    Mutant("interpolate_pixel_space", "interpolate",
           "s = np.linspace(1.0, 0.0, num_points)[:, None]\n"
           "return image_a * s + (1 - s) * image_b",
           "the images themselves look interpolated: interpolate their latent codes z_a, z_b and decode"),
    Mutant("interpolate_fixed_25_frames", "interpolate",
           INTERPOLATE_HEAD + "s = np.linspace(1.0, 0.0, 25)[:, None]\n"
           "return sigmoid(neural_net_predict(gen_params, z_a * s + (1 - s) * z_b))",
           "the number of frames looks fixed: return num_points frames", expect="num_points frames"),
    Mutant("interpolate_logits", "interpolate",
           INTERPOLATE_HEAD + "s = np.linspace(1.0, 0.0, num_points)[:, None]\n"
           "return neural_net_predict(gen_params, z_a * s + (1 - s) * z_b)",
           "these look like logits: return the activation probabilities sigmoid(logits)"),
]

BY_NAME = {m.name: m for m in MUTANTS}
assert len(BY_NAME) == len(MUTANTS)


def write_all(directory, mutants=MUTANTS, source=ROOT):
    """One sub-folder per mutant in directory; returns {name: folder}."""
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    return {m.name: m.write(directory / m.name, source) for m in mutants}
