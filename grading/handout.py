"""Write the student handout from the reference: vae-teacher handout OUT_DIR [--force]

vae.py and adam.py are copied with every `# BEGIN SOLUTION` ... `# END SOLUTION`
region replaced by guidance comments and `raise NotImplementedError("Task 1.2: ...")`;
everything outside the regions is shared by both versions. The handout also gets
the modules they import (data.py, plotting.py, ...), mnist/, requirements.txt, a student README.md, a pytest.ini and
the student-facing part of the grading (its rubric's function tests and the stored cases), so
that students can self-check with `python -m pytest`.

Where the guidance lives: in GUIDANCE below, keyed by function name, not in the
reference source. The reference stays the plain solution that students of later years
can read and that other work (performance) keeps editing without touching handout
text; make_handout checks that every region has guidance and every guidance a region,
so the two cannot drift apart silently. Task numbers come from the points table,
grading/points.json.

Errors (unbalanced or nested markers, a region outside a function, a missing
guidance, a solution line that would leak into the handout, a non-empty OUT_DIR
without --force) are reported on one line each, exit status 1, no traceback.
"""
import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from grading.regions import RegionError, code_part, find_regions, replace_regions, solution_lines
from grading.selfcheck import function_sources
from grading.submission import SUPPORT

ROOT = Path(__file__).resolve().parent.parent

SOLUTION_FILES = ("adam.py", "vae.py")
COPIED_FILES = ()   # and grading.submission.SUPPORT, the modules vae.py and adam.py are graded with
OWN_INSTALL = "# This project itself"   # requirements.txt's last lines, which the handout has not
COPIED_DIRS = ("mnist",)
# What of the grading the students get: the self-check (the sandbox, the rubric's function tests
# and the stored cases). Not the teacher's tools, and not the observation of scripts on the
# original handout, which computes the tasks' answers (Figure 5, eq. 3, 12, 14, 15, Task 3's images).
STUDENT_GRADING = tuple("grading/" + name for name in (
    "__init__.py", "answers.py", "api.py", "cases.py", "judge.py", "layout.py", "points.json", "pytest_plugin.py",
    "results.py", "sandbox.py", "selfcheck.py", "submission.py", "worker",
    "rubric/test_task1.py", "rubric/test_task2.py", "rubric/test_task3.py", "reference"))
WRITTEN = SOLUTION_FILES + COPIED_FILES + COPIED_DIRS + ("grading", "README.md", "pytest.ini", "vae.ipynb",
                                                         "requirements.txt")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


# What the student is told in place of each solution: what to compute, which
# equation of the practical, which helpers, the expected shape.
GUIDANCE = {
    "sample_latent_variables_from_posterior": """\
TODO: draw one z from q(z|x) for each row with the reparametrisation trick, eq. (15):
    z = mu + sigma * eps,   eps ~ N(0, I),   sigma = sqrt(nu) the STANDARD DEVIATION.
- encoder_output holds, per row, the L means followed by the L LOG standard
  deviations (footnote 1): split it in two halves (np.split or slicing).
- Draw eps with numpy's global random generator, one value per latent variable
  of each row: npr.randn(batch, L). (The grading feeds it known noise.)
- Use autograd.numpy (np.exp, ...) so that autograd can differentiate z with
  respect to encoder_output: no plain numpy, no npr.normal(mean, std).
Return z, shape (batch, L).""",
    "bernoulli_log_prob": """\
TODO: log p(x|z) of eq. (3): for each image, the sum over its D pixels of
    x_j * log sigmoid(f_j) + (1 - x_j) * log(1 - sigmoid(f_j)),
where x = targets (0 or 1) and f = logits (the decoder's output BEFORE the sigmoid,
eq. 4). Sum over pixels, do not average.
- Numerically stable: log(sigmoid(f)) written literally is -inf once f is very
  negative (try f = -1000). Write both logarithms in terms of f itself, in a form
  where no exp can overflow and no log is taken of 0 (split off the part that
  grows with |f|); np.log1p, np.exp, np.maximum and np.logaddexp are all exact
  and fast here.
Return a vector of shape (batch,).""",
    "compute_KL": """\
TODO: KL(q(z|x) || p(z)) in closed form, eq. (12), for each row:
    sum over the L latent variables of 1/2 (nu_j + mu_j^2 - 1 - log nu_j),
with nu_j the VARIANCE of q. q_means_and_log_stds holds the L means followed by
the L LOG STANDARD DEVIATIONS: nu = exp(2 * log_std), log nu = 2 * log_std.
Return a vector of shape (batch,).""",
    "vae_lower_bound": """\
TODO: a noisy estimate of the lower bound, eq. (14), with one Monte Carlo sample of z
per image, averaged over the batch:
  1. the encoder output neural_net_predict(rec_params, data), shape (batch, 2L);
  2. z from sample_latent_variables_from_posterior(encoder output), (batch, L);
  3. the decoder's logits neural_net_predict(gen_params, z), (batch, D), and
     log p(x|z) with bernoulli_log_prob(data, logits), (batch,);
  4. the KL to the prior with compute_KL(encoder output), (batch,);
  5. return the MEAN over the batch of log p(x|z) - KL: a scalar, in nats per
     image. The training loop maximises it (it hands ADAM its negative): do not
     negate it here.""",
    "adam_init": """\
TODO: ADAM's initial state, Figure 5: m_0 = 0 (first moment), v_0 = 0 (second raw
moment), both vectors shaped like params (np.zeros_like), and the time step t = 0.
Return the tuple (m, v, t).""",
    "adam_step": """\
TODO: one pass of Figure 5's while loop, with g_t = grad (computed by the caller):
increment t, update the biased moment estimates m and v, compute their
bias-corrected versions and update params. Use the arguments alpha, beta1, beta2
and eps, not constants. All operations are elementwise; eps is added outside the
square root. Assign the new values to params, m, v and t (the line after this
block returns them) and build new arrays: do not modify the arrays passed in
(no +=, -=, *=).""",
    "generate_from_prior": """\
TODO (Subtask 3.1): draw num_images latent vectors z from the prior N(0, I), eq. (2),
with numpy's global generator: npr.randn(num_images, L), where L is the decoder's
input size, gen_params[0][0].shape[0]. Decode them with
neural_net_predict(gen_params, z) and return the activation probabilities
sigmoid(logits) (eq. 4), shape (num_images, D). Do not binarise.""",
    "reconstruct": """\
TODO (Subtask 3.2): encode the images with neural_net_predict(rec_params, images),
draw one z per image from q(z|x) with sample_latent_variables_from_posterior,
decode it with neural_net_predict(gen_params, z) and return the activation
probabilities sigmoid(logits), shape (n, D). Do not binarise.""",
    "interpolate": """\
TODO (Subtask 3.3): the latent representations z_a and z_b of image_a and image_b are
the MEANS of q(z|x), the first L columns of the encoder's output (ignore the
variance; the encoder takes a batch: np.stack([image_a, image_b])). For num_points
values of s evenly spaced in [0, 1] (np.linspace), decode
z(s) = z_a * s + (1 - s) * z_b and return the activation probabilities, one frame
per row, shape (num_points, D): from image_a (s = 1) to image_b (s = 0).""",
}

# Inserted into the handout's vae.py when the reference does not define it: main()
# then names every unimplemented task and stops before loading any data.
DOCSTRING_REPLACEMENTS = [
    ("the reference solution of the practical", "the practical's starting code (student handout)"),
]


class HandoutError(Exception):
    """A problem with the source or the output folder: one line for the user."""


def load_parts(source):
    with open(Path(source) / "grading" / "points.json") as f:
        return {p["function"]: p for p in json.load(f)["parts"]}


def stub_lines(region, parts):
    part = parts.get(region.function)
    if region.function not in GUIDANCE or part is None:
        raise HandoutError("%s:%d: no guidance (GUIDANCE in grading/handout.py) or no task number "
                           "(grading/points.json) for %s" % (region.filename, region.begin + 1,
                                                                   region.function))
    label = "Task %s: %s (%s)" % (part["part"], region.function, part["file"])
    lines = ["# " + line if line else "#" for line in GUIDANCE[region.function].splitlines()]
    return lines + ['raise NotImplementedError("%s is not implemented yet")' % label]


def handout_source(text, filename, parts):
    out = replace_regions(text, filename, lambda region: stub_lines(region, parts))
    for old, new in DOCSTRING_REPLACEMENTS:
        out = out.replace(old, new, 1)
    if filename == "vae.py" and not re.search(r"^\s*from support import run$", out, re.MULTILINE):
        # The handout's `python vae.py` must stop at once, naming the tasks left to do
        # (support/run.py's main does, with support/tasks.py).
        raise HandoutError("vae.py: its main() does not go through support/run.py's, which stops the "
                           "handout before training")
    return out


def build(source=ROOT, check_leaks=True):
    """{file name: handout text} for the solution files, checked; HandoutError on a problem.
    check_leaks=False (for tests only) skips the check that no solution line is left."""
    try:
        return _build(Path(source), check_leaks)
    except RegionError as e:
        raise HandoutError(str(e)) from None


def _build(source, check_leaks):
    parts = load_parts(source)
    texts, solutions, seen = {}, set(), set()
    for name in SOLUTION_FILES:
        text = (source / name).read_text()
        regions = find_regions(text, name)
        if not regions:
            raise HandoutError("%s: no BEGIN SOLUTION / END SOLUTION region" % name)
        seen.update(r.function for r in regions)
        solutions |= solution_lines(text, name)
        texts[name] = handout_source(text, name, parts)
    unused = set(GUIDANCE) - seen
    if unused:
        raise HandoutError("guidance for %s, which has no solution region in %s"
                           % (", ".join(sorted(unused)), " or ".join(SOLUTION_FILES)))
    for name, text in texts.items():
        try:
            compile(text, name, "exec")
        except SyntaxError as e:
            raise HandoutError("the handout's %s does not compile: %s (line %s)" % (name, e.msg, e.lineno))
        leaked = leaked_lines(text, solutions) if check_leaks else set()
        if leaked:
            raise HandoutError("the handout's %s would contain solution lines, which the reference repeats "
                               "outside its solution regions: %s" % (name, "; ".join(
                                   "line %d: %s" % (i + 1, line.strip()) for i, line in
                                   enumerate(text.splitlines()) if code_part(line) in leaked)[:400]))
    return texts


def leaked_lines(text, solutions):
    return {code_part(line) for line in text.splitlines()} & solutions


def student_readme(source):
    from grading import results
    table = results.load_points(Path(source) / "grading" / "points.json")
    rows = "\n".join("| %s | `%s` | %s | %g |" % (p["part"], p["function"], p["file"], p["points"])
                     for p in table["parts"])
    support = ", ".join("`%s`" % name for name in SUPPORT)
    return README_TEMPLATE.format(rows=rows, total="%g" % table["total"], support=support)


README_TEMPLATE = """\
# Practical: Auto-encoding Variational Bayes (student handout)

A variational auto-encoder (VAE) for binarised MNIST in numpy and autograd. The
practical's text describes the model, equations (1)-(16) and the tasks; this folder
is the code to complete.

| file | what it is |
| --- | --- |
| `vae.py` | the model, the training loop and the command line. **Tasks 1 and 3** |
| `adam.py` | the ADAM optimiser of Figure 5. **Task 2** |
| `vae.ipynb` | the same handout as a notebook, with a check cell under each task: **either** the files above **or** this |
| {support} | MNIST loading (from `mnist/`), figures, the run's report: nothing to do |
| `grading/` | the tests that grade your work (`grading/rubric/`), with their cases (`grading/reference/`) |

## Tasks

Every function to write raises `NotImplementedError` and has `TODO` comments in
place of its body: what to compute, which equation, which helper to use, the shape
to return. Keep the names and arguments of the functions: the grading calls them.

| task | function | file | points |
| --- | --- | --- | ---: |
{rows}
| | **total** | | **{total}** |

## What to hand in

**Either** `vae.py` and `adam.py`, **or** `vae.ipynb` (the notebook edition, if you work in
it): the grading takes either. Keep the functions' names and arguments.

## The notebook edition

Open `vae.ipynb` in Jupyter (not in `requirements.txt`: `pip install notebook`, then
`jupyter notebook vae.ipynb`), in VS Code (with its Python and Jupyter extensions), or in Colab
after its one install cell. Write each task's
function in its cell and run the check cell under it (`check("compute_KL")`): it grades that
function with the tests below and shows your points and what is wrong. `train()` trains the
model with your functions once Tasks 1 and 2 are written; the last cell, `check()`, shows
your total.

## Set up and run

```
pip install -r requirements.txt
python vae.py --help
python vae.py
```

Until Tasks 1 and 2 are done, `python vae.py` stops at once and lists what training
needs. Then it trains (30 epochs by default: a few minutes), as the practical's order has
it, and writes to `results/` (the figures of a Task 3 part you have not written yet are
skipped, and `python vae.py --epochs 0 --load results/params.npz` makes them later from
the saved model):
`samples.png` (3.1), `reconstructions.png` (3.2), `interpolation_1.png` ...
`interpolation_5.png` (3.3), `training_curve.png`, `latent_space.png`, `metrics.json`,
`report.md` and the checkpoint `params.npz`. Try a short run first:

```
python vae.py --epochs 2 --num-train 5000 --iwae-samples 0 --out-dir results/quick
```

## Check your work

```
python -m pytest                 # every task: points and a message per failure
python -m pytest -k compute_KL    # the tests of one function (any task function's name)
python -m pytest -k task2         # one task
```

The run ends with a per-task summary of your points. These are the tests your work
is graded with. They import `vae.py` and `adam.py` and call the task functions on
small stored inputs; they never run training or the code under
`if __name__ == "__main__":`. So that they can check your work:

- draw Gaussian noise with numpy's global generator (`npr.randn(...)`,
  `npr.normal(size=...)` or `np.random.standard_normal(...)`): the tests feed it known
  noise and also check the statistics of many draws;
- use `autograd.numpy` for computations that must be differentiated;
- do not load data, train or print in a loop at import time: a function that hangs
  is stopped after a few seconds and loses its points.
"""


PYTEST_INI = """\
[pytest]
testpaths = grading/rubric
pythonpath = .
addopts = -ra -p grading.pytest_plugin -p no:hypothesispytest -p no:benchmark -p no:cacheprovider
"""


def write_handout(out_dir, source=ROOT, force=False, check_leaks=True):
    source, out = Path(source), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HandoutError("%s exists and is not a folder" % out)
    non_empty = out.exists() and any(out.iterdir())
    if non_empty and not force:
        raise HandoutError("%s is not empty; choose an empty or new folder, or pass --force to "
                           "replace the handout files in it" % out)
    texts = build(source, check_leaks)   # every check before anything is written
    try:
        import nbformat   # vae.ipynb is written last: without nbformat, nothing is written at all
    except ImportError:
        raise HandoutError("nbformat is not installed (pip install -r requirements.txt): the handout's "
                           "vae.ipynb needs it") from None
    for name in COPIED_FILES + COPIED_DIRS + SUPPORT + STUDENT_GRADING:
        if not (source / name).exists():
            raise HandoutError("%s is missing from %s" % (name, source))
    if non_empty:
        for name in WRITTEN + SUPPORT:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (out / name).write_text(text)
    for name in COPIED_FILES + COPIED_DIRS + SUPPORT + STUDENT_GRADING:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, out / name, ignore=IGNORED)
        else:
            shutil.copy2(source / name, out / name)
    # The handout installs what it needs, not this project in place (its requirements' last line).
    (out / "requirements.txt").write_text((source / "requirements.txt").read_text().split(OWN_INSTALL)[0])
    (out / "README.md").write_text(student_readme(source))
    (out / "pytest.ini").write_text(PYTEST_INI)
    nbformat.write(notebook(texts, load_parts(source)), str(out / "vae.ipynb"))
    return out


# ---------------------------------------------------------------------------
# The notebook edition: vae.ipynb, built from the same handout texts (the same stubs)

GIVEN_FUNCTIONS = ("check_matrix", "check_means_and_log_stds", "sigmoid", "relu", "init_net_params",
                   "neural_net_predict")

# Each task's Markdown cell: what to write, in this project's words, with the practical's equations.
TASK_TEXT = {
    "sample_latent_variables_from_posterior": r"""### Task 1.1: a sample from the posterior

The encoder gives, for each image, $L$ means $\mu_j$ followed by $L$ **log standard deviations**
$\log\sigma_j$ (footnote 1). Draw one $\mathbf{z}$ per image with the reparametrisation trick,
eq. (15):

$$z_j = \mu_j^\phi(\mathbf{x}) + \sqrt{\nu_j^\phi(\mathbf{x})}\,\epsilon_j, \qquad \epsilon_j \sim \mathcal{N}(0, 1),$$

where $\sqrt{\nu_j} = \sigma_j$ is the standard deviation. Draw $\epsilon$ with numpy's global generator.""",
    "bernoulli_log_prob": r"""### Task 1.2: the log-likelihood of an image

The decoder gives the logits $f_j(\mathbf{z})$, before the sigmoid of eq. (4). Eq. (3) makes
$\log p_\theta(\mathbf{x}|\mathbf{z})$ a sum over the $D = 784$ pixels:

$$\log p_\theta(\mathbf{x}|\mathbf{z}) = \sum_{j=1}^{D} x_j \log \sigma(f_j) + (1 - x_j) \log\big(1 - \sigma(f_j)\big).$$

One value per image; it must stay finite for any finite logits.""",
    "compute_KL": r"""### Task 1.3: the KL divergence to the prior

Both $q_\phi(\mathbf{z}|\mathbf{x})$ and $p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I})$ are Gaussian, so eq. (12)
gives the divergence in closed form, with $\nu_j = \sigma_j^2$:

$$\mathrm{KL}\big(q_\phi(\mathbf{z}|\mathbf{x}) \,\|\, p(\mathbf{z})\big) = \sum_{j=1}^{L} \tfrac{1}{2}\left(\nu_j + \mu_j^2 - 1 - \log \nu_j\right).$$""",
    "vae_lower_bound": r"""### Task 1.4: the lower bound

The estimate of eq. (14) for a batch, with one sample $\mathbf{z}^i$ per image: the **mean** over the
images of

$$\log p_\theta(\mathbf{x}_i|\mathbf{z}^i) - \mathrm{KL}\big(q_\phi(\mathbf{z}|\mathbf{x}_i) \,\|\, p(\mathbf{z})\big).$$

Use your three functions above and `neural_net_predict`.""",
    "adam_init": r"""## Task 2: ADAM (Figure 5)

Figure 5 minimises $f(\theta)$ (training gives it the gradient of the negative bound) with
$\alpha = 0.001$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$, all operations elementwise:

$$m_0 = 0,\quad v_0 = 0,\quad t = 0;\qquad \text{then, at each step: } t \leftarrow t + 1,\quad g_t = \nabla_\theta f_t(\theta_{t-1}),$$
$$m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t,\qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,$$
$$\hat m_t = \frac{m_t}{1 - \beta_1^t},\qquad \hat v_t = \frac{v_t}{1 - \beta_2^t},\qquad \theta_t = \theta_{t-1} - \alpha\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$

First the initial state:""",
    "adam_step": r"""Then one step:""",
    "generate_from_prior": r"""## Task 3: using the trained model

### Task 3.1: samples

Draw $\mathbf{z}$ from the prior $p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I})$ and decode it: each pixel's
intensity is its activation probability $\sigma(f_j(\mathbf{z}))$, not a binarised value.""",
    "reconstruct": r"""### Task 3.2: reconstructions

Encode each image, draw $\mathbf{z}$ from $q_\phi(\mathbf{z}|\mathbf{x})$ (your Task 1.1), and decode it into
activation probabilities.""",
    "interpolate": r"""### Task 3.3: interpolations

Take the posterior **means** $\mathbf{z}_a$, $\mathbf{z}_b$ of two images and decode
$\mathbf{z}^s_{\text{mix}} = \mathbf{z}_a s + (1 - s)\,\mathbf{z}_b$ for `num_points` values of $s$ evenly spread over
$[0, 1]$, from $s = 1$ (image a) to $s = 0$ (image b).""",
}

SHOW = {
    "generate_from_prior": 'show(generate_from_prior(gen_params), "Task 3.1: 25 samples from the prior")',
    "reconstruct": 'show(np.concatenate([test_images[:10], reconstruct(gen_params, rec_params, test_images[:10])]),\n'
                   '     "Task 3.2: the first 10 test images over their reconstructions")',
    "interpolate": 'show(interpolate(gen_params, rec_params, test_images[0], test_images[1]),\n'
                   '     "Task 3.3: from test image 1 to test image 2")',
}

NOTEBOOK_INTRO = r"""# Auto-encoding Variational Bayes: the notebook

A variational auto-encoder for binarised MNIST, in numpy and autograd: the practical's
model (eq. 1-16), with the functions of its three tasks to write. This notebook is the
same handout as `vae.py` and `adam.py`, cell by cell.

- Write each task's function in its cell, run it, then run the **check** cell under it:
  it grades that function with the tests of the grading, in a sandbox, and shows your
  points and what is wrong.
- The **training** cell trains the model with your functions once Tasks 1 and 2 are
  written; stop the kernel to stop it, run the cell again to continue from its checkpoint.
- The last cell checks everything. Hand in this notebook, `vae.ipynb` (or `vae.py` and
  `adam.py`, if you work in the files instead)."""

COLAB_TEXT = r"""**In Colab**: upload the handout folder as `handout.zip` (the left panel's Files tab), then
uncomment the line below and run it once. Everything else runs as it is, on the CPU,
with the MNIST files shipped in `mnist/`."""

COLAB_CELL = "# !unzip -q -o handout.zip -d handout && cd handout && pip install -q -r requirements.txt\n" \
             "# import os; os.chdir(\"handout\")"

SETUP_CELL = """\
%matplotlib inline
import autograd.numpy as np
import autograd.numpy.random as npr

from support.notebook import check, show, train"""

TRAIN_TEXT = r"""## Training

`train()` trains the model as `python vae.py` does (30 epochs of the 60,000 images: a few
minutes), with your functions, and returns the trained networks. It saves a checkpoint in
`results/notebook/` after every epoch: stop the kernel to stop training, and run the cell
again to continue. For a first try, `train(epochs=2, num_train=5000)`. If you change a
Task 1 or Task 2 function after training, the cell says so instead of continuing a model
trained with the old one: `train(fresh=True)` trains again from the start. Once Task 3's
cells below have run, `train(epochs=0)` writes their figures of the saved model."""

FINAL_TEXT = r"""## Your points

Every task, as the grading counts them:"""


def notebook(texts, parts):
    """vae.ipynb as a notebook object: the handout's given code, then, in the practical's order,
    each task's Markdown, stub (the handout's own) and check cells, training, Task 3's figures,
    and a last check of everything. Tags say what each cell is (the grading leaves out "check",
    "train", "show" and "colab" cells); the metadata says it is this project's handout."""
    import nbformat.v4 as v4
    functions = dict(function_sources(texts["vae.py"]), **function_sources(texts["adam.py"]))
    cells = []

    def add(kind, source, tag=None):
        cell = v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source)
        cell["id"] = "cell-%02d" % (len(cells) + 1)   # fixed ids: the same handout every time
        if tag:
            cell.metadata["tags"] = [tag]
        cells.append(cell)
    add("markdown", NOTEBOOK_INTRO)
    add("markdown", COLAB_TEXT)
    add("code", COLAB_CELL, "colab")
    add("code", SETUP_CELL, "setup")
    add("markdown", "## The model\n\nThe given code, as in `vae.py`: nothing to write here.")
    add("code", "\n\n\n".join(functions[name] for name in GIVEN_FUNCTIONS), "given")
    add("markdown", "## Task 1: the lower bound")
    for part in sorted(parts.values(), key=lambda p: [int(n) for n in p["part"].split(".")]):
        name = part["function"]
        if name == "generate_from_prior":
            add("markdown", TRAIN_TEXT)
            add("code", "gen_params, rec_params = train(epochs=30)\n"
                        "import data\n"
                        "test_images = data.binarised_test_images(data.load_mnist()[3])", "train")
        add("markdown", TASK_TEXT[name])
        add("code", functions[name], "task")
        add("code", 'check("%s")' % name, "check")
        if name in SHOW:
            add("code", "if gen_params is not None:\n    " + SHOW[name].replace("\n", "\n    "), "show")
        if name in ("vae_lower_bound", "adam_step"):
            add("code", 'check("task%s")' % part["task"], "check")
    add("markdown", FINAL_TEXT)
    add("code", "check()", "check")
    nb = v4.new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}, "vae_practical": {"edition": "handout"}})
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="vae-teacher handout",
        description="Write the student handout: vae.py and adam.py with the solution regions "
                    "replaced by guidance and NotImplementedError, plus data, figures code, MNIST, "
                    "a README and the grading tests.")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where to write the handout (new or empty)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty OUT_DIR, replacing the handout's files there")
    parser.add_argument("--source", default=str(ROOT), help="the reference to build from (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = write_handout(args.out_dir, args.source, args.force)
    except (HandoutError, OSError) as e:
        print("handout: error: %s" % e, file=sys.stderr)
        return 1
    print("handout written to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
