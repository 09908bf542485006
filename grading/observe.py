"""Grading a script written on the original handout by watching it run.

Most solutions of the practical in the wild keep the original handout's layout: ADAM
(Task 2) and Task 3 are code in the `if __name__ == "__main__":` block (or at module
level), not functions. For the parts a submission does not write as functions, the
worker runs that code (worker.py, Worker.observe) on a small data set in place of MNIST
(the grader's first 200 training and 20 test images), with Gaussian noise from a stream
the grader can replay, the handout's given functions, and the sampler answered by the
grader, and records:

- every call of the gradient function made with autograd's grad (or value_and_grad): the
  parameters and the gradient, on a fixed subset of the coordinates (ADAM works
  coordinate by coordinate, so a subset shows every rule of Figure 5);
- the decoder and encoder last used outside a gradient (after training: Task 3's);
- every array saved with save_images, whatever its file name.

The trace is data, and the judging below recomputes everything it relies on: Figure 5's
steps from the recorded gradients, the decoder's probabilities from the recorded networks
and the replayed noise, the test images from the grader's own copy. A forged trace earns
nothing that doing the task would not.
"""
import ast
from pathlib import Path

import numpy as np

from grading import GradingFailure, given

SEED = 2020
TRAIN, TEST = 200, 20
NUM_IMAGES, NUM_FRAMES, PAIRS = 25, 25, 5
RTOL, ATOL = 1e-6, 1e-9
FIGURE_5 = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

_small = {}


def small_mnist(root):
    """The grader's small data set: the first 200 training and 20 test images of MNIST."""
    if "data" not in _small:
        import importlib.util
        spec = importlib.util.spec_from_file_location("_grader_data", str(Path(root) / "data.py"))
        data = importlib.util.module_from_spec(spec)
        import sys
        sys.path.insert(0, str(root))
        try:
            spec.loader.exec_module(data)
            _, train, train_labels, test, test_labels = data.load_mnist(str(Path(root) / "mnist"))
        finally:
            sys.path.pop(0)
        _small["data"] = {"train": np.asarray(train[:TRAIN], dtype=np.float64),
                          "test": np.asarray(test[:TEST], dtype=np.float64),
                          "train_labels": np.argmax(train_labels[:TRAIN], axis=1),
                          "test_labels": np.argmax(test_labels[:TEST], axis=1)}
    return _small["data"]


# ---------------------------------------------------------------------------
# Which format each part is in (read statically: nothing of the submission runs here)

def _tree(path):
    try:
        if path.stat().st_size > 1 << 20:
            return None
        return ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _functions(tree):
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))} if tree else set()


def _runs_code(tree):
    """Has a main block, or module-level statements beyond imports, definitions and assignments."""
    if tree is None:
        return False
    quiet = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
             ast.AnnAssign, ast.Expr)
    for node in tree.body:
        if isinstance(node, ast.If) or not isinstance(node, quiet):
            return True
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            return True
    return False


def trains_at_module_level(folder):
    """A vae.py with no main block whose module-level code runs a training (calls grad)."""
    tree = _tree(Path(folder) / "vae.py")
    if tree is None or any(isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and
                           isinstance(n.test.left, ast.Name) and n.test.left.id == "__name__" for n in tree.body):
        return False
    return _runs_code(tree)


def formats(folder):
    """{part: "functions" or "observed"} for Tasks 2 and 3 (Task 1 is always functions): a part
    is observed when its function is not written but the script runs code that could do it."""
    folder = Path(folder)
    vae, adam = _tree(folder / "vae.py"), _tree(folder / "adam.py")
    runs = _runs_code(vae)
    out = {}
    task2 = "functions" if (folder / "adam.py").exists() or not runs else "observed"
    out["2.1"] = out["2.2"] = task2
    for part, name in (("3.1", "generate_from_prior"), ("3.2", "reconstruct"), ("3.3", "interpolate")):
        out[part] = "functions" if name in _functions(vae) or not runs else "observed"
    return out


def find_submission(folder):
    """The folder holding vae.py: folder itself, or its one sub-folder (at any depth up to 3) that
    holds one. Returns (path, None) or (path, "found in SUB") ."""
    folder = Path(folder)
    if (folder / "vae.py").is_file() or (folder / "adam.py").is_file():
        return folder, None
    def plain(path):   # no link anywhere between folder and the file, nothing hidden
        parts = path.relative_to(folder).parts
        return path.is_file() and not any(part.startswith((".", "__")) for part in parts) and \
            not any(folder.joinpath(*parts[:i + 1]).is_symlink() for i in range(len(parts)))
    found = []
    for depth in ("*/vae.py", "*/*/vae.py", "*/*/*/vae.py"):
        found += [p.parent for p in folder.glob(depth) if plain(p)]
        if found:
            break
    if len(found) == 1:
        return found[0], "vae.py found in the sub-folder %s" % found[0].relative_to(folder)
    return folder, None


# ---------------------------------------------------------------------------
# The run

class Run:
    """The observed run of a submission: the trace, the replayed noise, the sampler's answers."""

    def __init__(self, sub, what="the main block of vae.py"):
        self.sampled = []      # (encoder output, eps, z) answered to the sampler

        result = sub.observe(self.answer, what=what)
        trace = result.value if isinstance(result.value, dict) else {}
        self.output = result.output
        self.x = _matrix(trace.get("steps_x"))
        values = np.asarray(trace.get("values") if trace.get("values") is not None else [], dtype=np.float64).ravel()
        # objective is the bound (maximised: ascent) in the handout; a student who made it the loss
        # (-ELBO, positive) descends, which is as right.
        self.direction = -1.0 if values.size and np.median(values) > 0 else 1.0
        self.g = _matrix(trace.get("steps_g"))
        self.saves = [a for a in trace.get("saves", []) if isinstance(a, np.ndarray) and a.ndim == 2
                      and a.shape[1] == 784]
        self.names = [n for n in trace.get("names", []) if isinstance(n, str)]
        self.variables = {k: v for k, v in (trace.get("variables") or {}).items()
                          if isinstance(k, str) and type(v) in (int, float)}
        self.networks = {}
        for kind, net in (trace.get("networks") or {}).items():
            try:
                self.networks[kind] = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                                       for W, b in net]
            except (TypeError, ValueError):
                pass
        self.draws = self.replay(trace.get("draw_shapes") or [])

    @staticmethod
    def replay(shapes):
        """The Gaussian values of every draw, regenerated here from the shared seed and the sizes."""
        rng, out = np.random.RandomState(SEED), []
        for shape in shapes[:20000]:
            if not (isinstance(shape, list) and all(type(s) is int and 0 <= s for s in shape)):
                break
            n = int(np.prod(shape))
            if n > 10 ** 7:
                break
            out.append(rng.standard_normal(n).reshape(shape))
        return out

    def answer(self, question):
        """The sampler's calls: eq. (15) with the noise the stand-in drew."""
        if question.get("function") != "sample_latent_variables_from_posterior":
            raise GradingFailure("no function but the sampler is answered here")
        try:
            args = [np.asarray(a, dtype=np.float64) for a in question["args"]]
            eps = np.asarray(question["noise"], dtype=np.float64)
            mean, log_std = np.split(args[0], 2, axis=1)
        except (KeyError, TypeError, ValueError, IndexError):
            raise GradingFailure("sample_latent_variables_from_posterior(encoder_output) takes the encoder "
                                 "output, shape (batch, 2 L)")
        if eps.shape != mean.shape:
            raise GradingFailure("the sampler's noise does not have the shape of z")
        if question.get("kind") == "vjp":
            g = np.asarray(question["g"], dtype=np.float64)
            return np.concatenate([g, g * np.exp(log_std) * eps], axis=1)
        z = mean + np.exp(log_std) * eps
        if len(self.sampled) < 1000 and len(mean) <= 100:
            self.sampled.append((args[0], z))
        return z

    def decoder(self):
        net = self.networks.get("decoder")
        if not net:
            raise GradingFailure("no decoder was used after training (neural_net_predict(gen_params, z)): "
                                 "nothing of Task 3 was done with the trained model")
        return net

    def encoder(self):
        net = self.networks.get("encoder")
        if not net:
            raise GradingFailure("no encoder was used after training (neural_net_predict(rec_params, images))")
        return net

    def find(self, expected, either_order=False):
        """The saved arrays whose rows hold expected (k, 784), consecutive, in order (or reversed)."""
        found = []
        for i, saved in enumerate(self.saves):
            for target in ([expected, expected[::-1]] if either_order else [expected]):
                if _contains(saved, target):
                    found.append(self.names[i] if i < len(self.names) else "?")
                    break
        return found


def _matrix(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return np.zeros((0, 0))
    return array if array.ndim == 2 else np.zeros((0, 0))


def _contains(saved, target):
    k = len(target)
    for start in range(0, len(saved) - k + 1):
        # nan matches nan: a model that training broke (Task 2) still shows whether Task 3 is right.
        if np.allclose(saved[start:start + k], target, rtol=RTOL, atol=ATOL, equal_nan=True):
            return True
    return False


# ---------------------------------------------------------------------------
# Task 2 from the steps: Figure 5, ascent on the ELBO (objective is the bound)

def figure5_steps(g, alpha, beta1=0.9, beta2=0.999, eps=1e-8, t0=1, bias=True, eps_inside=False, sign=1.0):
    """The updates Figure 5 makes from the gradients g (K, n): (K, n), for a variant of it."""
    m, v, out, t = np.zeros(g.shape[1]), np.zeros(g.shape[1]), [], t0
    with np.errstate(all="ignore"):
        for gk in g:
            m = beta1 * m + (1 - beta1) * gk
            v = beta2 * v + (1 - beta2) * gk ** 2
            mh, vh = (m / (1 - beta1 ** t), v / (1 - beta2 ** t)) if bias else (m, v)
            step = alpha * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps)
            out.append(sign * step)
            t += 1
    return np.array(out)


def adam_verdict(run):
    """(start right, update right, message or None) for the observed ADAM."""
    x, g = run.x, run.g
    if len(x) < 3 or x.shape != g.shape:
        return False, False, ("the gradient function (objective_grad = grad(objective)) was called %d times: "
                              "the training loop should call it once per batch and update "
                              "flattened_current_params with ADAM" % len(x))
    lr = float(run.variables.get("learning_rate", 0.001))
    observed = np.diff(x, axis=0)
    if not np.any(observed):
        return False, False, "the parameters never changed between the gradient's calls: no ADAM update was made"

    def agree(predicted, k=None):
        p = predicted[:len(observed)]
        ok = np.all(np.isclose(observed, p, rtol=1e-5, atol=1e-12), axis=1)
        return ok if k is None else ok[k]
    sign = run.direction
    right = agree(figure5_steps(g, lr, sign=sign))
    if right.all():
        return True, True, None
    first = int(np.argmin(right))
    # (what it is, start right, update rule right, its steps)
    variants = [
        ("no bias correction: Figure 5 divides m by (1 - beta1^t) and v by (1 - beta2^t)", True, False,
         figure5_steps(g, lr, bias=False, sign=sign)),
        ("eps is added inside the square root: Figure 5 adds it outside, sqrt(v_hat) + eps", True, False,
         figure5_steps(g, lr, eps_inside=True, sign=sign)),
        ("t looks one step ahead: Figure 5's first update has t = 1 (t starts at 1 in the handout, and "
         "is incremented after each update)", False, True, figure5_steps(g, lr, t0=2, sign=sign)),
        ("the step goes down the gradient: objective is the ELBO, which training maximises, so the update "
         "adds alpha * m_hat / (sqrt(v_hat) + eps)" if sign > 0 else
         "the step goes up the gradient of objective, which is the loss here (-ELBO): it must go down",
         True, False, figure5_steps(g, lr, sign=-sign)),
    ]
    hint = next(((text, start, update) for text, start, update, predicted in variants
                 if agree(predicted).all()), None)
    if hint is None:
        unit = figure5_steps(g, 1.0, sign=sign)[:len(observed)]
        with np.errstate(all="ignore"):
            ratio = observed / unit
        ratio = ratio[np.isfinite(ratio) & (np.abs(unit) > 1e-12)]
        if ratio.size and np.allclose(ratio, np.median(ratio), rtol=1e-4) and \
                not np.isclose(np.median(ratio), lr, rtol=1e-4):
            alpha = float(np.median(ratio))
            hint = ("the learning rate looks like %g, not the %g set (learning_rate): use the variable" %
                    (abs(alpha), lr) + (", and the step goes the wrong way" if alpha < 0 else ""), True, False)
    if hint is None and not np.all(np.isfinite(x[1:])):
        hint = ("the parameters became nan or infinite after the first update: does t start at 0 "
                "(1 - beta1^0 = 0)? Figure 5's first update has t = 1; nothing after it can be checked",
                False, False)
    start = agree(figure5_steps(g, lr, sign=sign), 0) if hint is None else hint[1]
    update = False if hint is None else hint[2]
    text = ("the update after the gradient's call %d departs from Figure 5 (learning rate "
            "%g, beta1 0.9, beta2 0.999, eps 1e-8): coordinate values %s, expected %s"
            % (first + 1, lr, _fmt(observed[first]), _fmt(figure5_steps(g, lr, sign=sign)[first])))
    if hint:
        text += "\n  hint: " + hint[0]
    return bool(start), bool(update), text


def _fmt(values, n=4):
    flat = np.asarray(values, dtype=np.float64).ravel()
    return "[%s%s]" % (", ".join("%.6g" % v for v in flat[:n]), ", ..." if flat.size > n else "")


# ---------------------------------------------------------------------------
# Task 3 from the saved images

def _latent_dim(net):
    return np.shape(net[0][0])[0]


def samples_verdict(run):
    gen = run.decoder()
    latent = _latent_dim(gen)
    candidates = [d for d in run.draws if d.shape == (NUM_IMAGES, latent)]
    for z in candidates:
        probabilities = given.sigmoid(given.neural_net_predict(gen, z[:NUM_IMAGES]))
        if run.find(probabilities):
            return None
    lines = ["no saved array holds %d images sigmoid(decoder(z)) for z drawn from N(0, I) with numpy's global "
             "generator (npr.randn(25, latent_dim)) after training" % NUM_IMAGES]
    if not candidates:
        lines.append("hint: no (%d, %d) Gaussian draw was made after training: draw z ~ N(0, I) with npr.randn"
                     % (NUM_IMAGES, latent))
    for z in candidates:
        logits = given.neural_net_predict(gen, z[:NUM_IMAGES])
        if run.find(logits):
            lines.append("hint: the logits were saved: save the probabilities sigmoid(logits)")
            break
        if any(a.shape[0] >= NUM_IMAGES and np.all((a == 0) | (a == 1)) for a in run.saves):
            lines.append("hint: the saved images are binarised: save the activation probabilities")
            break
    return "\n  ".join(lines)


def reconstructions_verdict(run, test):
    gen, rec = run.decoder(), run.encoder()
    originals = test[:10]
    encoder_output = given.neural_net_predict(rec, originals)
    latent = np.shape(encoder_output)[1] // 2
    mean, log_std = encoder_output[:, :latent], encoder_output[:, latent:]
    candidates = [z for enc, z in run.sampled if enc.shape == encoder_output.shape
                  and np.allclose(enc, encoder_output, rtol=RTOL, atol=ATOL)]
    candidates += [mean + np.exp(log_std) * d for d in run.draws if d.shape == mean.shape]
    where = run.find(originals)
    found = [z for z in candidates if run.find(given.sigmoid(given.neural_net_predict(gen, z)))]
    if where and found:
        return None
    lines = []
    if not where:
        lines.append("the first 10 test images were not saved (save_images(test_images[:10], ...), alone or "
                     "with their reconstructions)")
    if not found:
        lines.append("no saved array holds their reconstructions: sigmoid(decoder(z)) with z drawn from q(z|x) "
                     "(sample_latent_variables_from_posterior of the encoder's output)")
        if run.find(given.sigmoid(given.neural_net_predict(gen, mean))):
            lines.append("hint: the posterior means were decoded: draw z from q(z|x) instead")
    return "\n  ".join(lines)


def interpolation_verdict(run, test, pair):
    gen, rec = run.decoder(), run.encoder()
    a, b = test[2 * pair], test[2 * pair + 1]
    encoder_output = given.neural_net_predict(rec, np.stack([a, b]))
    latent = np.shape(encoder_output)[1] // 2
    z_a, z_b = encoder_output[0, :latent], encoder_output[1, :latent]
    s = np.linspace(0.0, 1.0, NUM_FRAMES)[:, None]
    frames = given.sigmoid(given.neural_net_predict(gen, z_a * s + (1 - s) * z_b))
    if run.find(frames, either_order=True):
        return None
    text = ("no saved array holds the %d frames between test images %d and %d: sigmoid(decoder(z_a s + (1 - s) "
            "z_b)) for s from 0 to 1, z_a and z_b the posterior means" % (NUM_FRAMES, 2 * pair + 1, 2 * pair + 2))
    pixels = a * s + (1 - s) * b
    if run.find(pixels, either_order=True):
        text += "\n  hint: the images themselves were interpolated: interpolate their latent means, then decode"
    return text
