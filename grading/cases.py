"""The stored reference cases (grading/reference/*.npz, made by grading/casemaker.py),
and how each case's call is made on a submission.

A case holds its inputs (in.*, plus the noise and the networks of nets.npz), how to
call the task function (meta, JSON), the expected outputs (expected.*) and the
fingerprints of known wrong solutions' outputs (mistake.*) with a hint for each. Every
file is read with allow_pickle=False. Composite calls (a gradient, 25 ADAM steps) are
driven from here, in the grader: the worker only answers single calls.
"""
import json
from pathlib import Path

import numpy as np

from grading import GradingFailure, answers
from grading.submission import standins as standins_for

DEFAULT_REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
FINGERPRINT_SIZE = 256
STORED = "stored"


def fingerprint(array):
    """A fixed subset of a flat array's values: enough to recognise a known mistake."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    if flat.size <= FINGERPRINT_SIZE:
        return flat
    return flat[np.linspace(0, flat.size - 1, FINGERPRINT_SIZE).astype(np.int64)]


class Case:
    def __init__(self, name, arrays, nets):
        self.name = name
        self.meta = json.loads(str(arrays["meta"]))
        self.arrays = arrays
        self.nets = nets

    def __getitem__(self, key):
        return self.resolve("@" + key)

    @property
    def noise(self):
        return self.arrays["noise"] if "noise" in self.arrays else None

    def expected(self, key):
        return self.arrays["expected." + key]

    @property
    def description(self):
        return self.meta.get("description", "")

    def resolve(self, arg):
        if isinstance(arg, str) and arg.startswith("@net:"):
            return self.nets[arg[5:]]
        if isinstance(arg, str) and arg.startswith("@"):
            value = self.arrays["in." + arg[1:]]
            return value.astype(np.float64) if value.dtype.kind in "fub" else value
        if isinstance(arg, list):
            return [self.resolve(a) for a in arg]
        if isinstance(arg, dict):
            return {k: self.resolve(v) for k, v in arg.items()}
        return arg

    def args(self):
        return self.resolve(self.meta["call"]["args"])

    def answers(self):
        """The recorded answers to this case's stand-ins (an answers.Table), or None."""
        if not self.meta.get("answers"):
            return None
        return answers.Table(answers.entries_from_arrays(self.meta, self.arrays),
                             " (on %s)" % self.description if self.description else "")

    def slips(self):
        """{slip: output} of Figure 5's recognisable slips on this case (ADAM's: points.json's "slips")."""
        return {k[len("slip."):]: v for k, v in self.arrays.items() if k.startswith("slip.")}

    def slip_of(self, obtained):
        """The one slip whose output obtained equals (nan where it has nan), or None."""
        try:
            obtained = np.asarray(obtained, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        for name, output in sorted(self.slips().items()):
            if obtained.shape == output.shape and np.allclose(obtained, output, rtol=self.meta["rtol"],
                                                              atol=self.meta["atol"], equal_nan=True):
                return name
        return None

    def mistakes(self):
        """[(name, hint, shape, fingerprint)] of the known wrong solutions for this case."""
        return [(name, m["hint"], tuple(m["shape"]), self.arrays["mistake." + name])
                for name, m in self.meta.get("mistakes", {}).items()]


def nets_from_arrays(arrays):
    nets = {}
    for key in arrays:
        net, kind = key.split(".")       # "gen.W0", "gen.b0"
        nets.setdefault(net, {})[kind] = arrays[key].astype(np.float64)
    return {net: [(parts["W%d" % i], parts["b%d" % i]) for i in range(len(parts) // 2)]
            for net, parts in nets.items()}


class Reference:
    def __init__(self, directory=DEFAULT_REFERENCE_DIR):
        self.dir = Path(directory)
        self._nets = None
        self._cases = {}

    @property
    def nets(self):
        if self._nets is None:
            with np.load(self.dir / "nets.npz", allow_pickle=False) as f:
                self._nets = nets_from_arrays({k: f[k] for k in f.files})
        return self._nets

    def case(self, name):
        if name not in self._cases:
            path = self.dir / (name + ".npz")
            if not path.exists():
                raise GradingFailure("reference file %s is missing: run vae-teacher cases" % path)
            with np.load(path, allow_pickle=False) as f:
                self._cases[name] = Case(name, {k: f[k] for k in f.files}, self.nets)
        return self._cases[name]

    def names(self):
        return sorted(p.stem for p in self.dir.glob("*.npz") if p.stem != "nets")

    @property
    def seed(self):
        """The seed the cases were made with (vae-teacher cases --seed)."""
        return int(self.case(self.names()[0]).meta.get("seed", 0))

    def rng(self, name):
        """A generator for the inputs a test draws itself, from this set's seed: with private cases
        they are as unknown to a submission as the cases (the handout's tests hold no answer)."""
        import zlib
        return np.random.RandomState((self.seed * 7919 + zlib.crc32(name.encode())) % 2 ** 32)


# ---------------------------------------------------------------------------
# Running a case: each job returns a dict of outputs, in the grader

def run_case(sub, case, noise=STORED, what=None, answer=None):
    """Run a stored case's call on a submission; Result.value becomes a dict of outputs
    ({"out": ...} for a plain call). The task functions the case lists in meta["standins"] are
    answered by answer (default: the answers recorded from the reference)."""
    call = case.meta["call"]
    noise = case.noise if isinstance(noise, str) and noise == STORED else noise
    what = what or case.meta["what"]
    calls = {"standins": standins_for(*case.meta.get("standins", [])),
             "answer": answer if answer is not None else case.answers()}
    return JOBS[call["job"]](sub, case, case.args(), noise, what, calls)


def _call(sub, case, args, noise, what, calls):
    result = sub.call(case.meta["call"]["module"], case.meta["function"], *args, noise=noise, what=what,
                      seed=case.meta["call"].get("seed", 0), **calls)
    result.value = {"out": result.value}
    return result


def _sample_grad(sub, case, args, noise, what, calls):
    encoder_output, weights = args
    result = sub.grad("vae", "sample_latent_variables_from_posterior", [encoder_output], argnum=0,
                      weights=weights, noise=noise, what=what,
                      hint="Compute z = mean + sigma * eps with autograd.numpy, eps = npr.randn(...): "
                           "npr.normal(mean, sigma) has no gradient", **calls)
    result.value = {"out": result.gradient}
    return result


def _axpy(net, direction, h):
    return [(W + h * dW, b + h * db) for (W, b), (dW, db) in zip(net, direction)]


def _gradcheck(sub, case, args, noise, what, calls):
    """autograd's directional derivatives of vae_lower_bound (from the gradients computed in
    the worker) against central finite differences (from values computed there), along three
    random directions drawn here: both networks, the decoder only, the encoder only; the same
    noise everywhere. value: {"analytic": (3,), "numeric": (3,), "value": ()}."""
    gen, rec, images, h, seed = args
    grads, value = [], None
    for argnum, net in ((0, gen), (1, rec)):
        result = sub.grad("vae", "vae_lower_bound", [gen, rec, images], argnum=argnum, noise=noise, what=what,
                          **calls)
        grads.append(_net_like(result.gradient, net, what))
        value = result.value
    rng = np.random.RandomState(seed)

    def bound(g, r):
        out = sub.call("vae", "vae_lower_bound", g, r, images, noise=noise, what=what, **calls).value
        try:
            return float(np.sum(np.asarray(out, dtype=np.float64)))
        except (TypeError, ValueError):
            raise GradingFailure("%s: vae_lower_bound returned %s, not a number" % (what, kind(out)))
    analytic, numeric = [], []
    for which in ("both", "decoder", "encoder"):
        dirs = [[(rng.standard_normal(np.shape(W)), rng.standard_normal(np.shape(b))) for W, b in net]
                for net in (gen, rec)]
        for i, name in enumerate(("decoder", "encoder")):
            if which not in ("both", name):
                dirs[i] = [(0 * dW, 0 * db) for dW, db in dirs[i]]
        analytic.append(sum(float(np.sum(gW * dW) + np.sum(gb * db))
                            for gnet, dnet in zip(grads, dirs) for (gW, gb), (dW, db) in zip(gnet, dnet)))
        numeric.append((bound(_axpy(gen, dirs[0], h), _axpy(rec, dirs[1], h))
                        - bound(_axpy(gen, dirs[0], -h), _axpy(rec, dirs[1], -h))) / (2 * h))
    result.value = {"analytic": np.array(analytic), "numeric": np.array(numeric),
                    "value": np.asarray(value, dtype=np.float64) if value is not None else np.nan}
    return result


def _net_like(value, net, what):
    """value as a list of (W, b) float arrays shaped like net; GradingFailure otherwise."""
    try:
        out = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in value]
        ok = len(out) == len(net) and all(W.shape == np.shape(W0) and b.shape == np.shape(b0)
                                          for (W, b), (W0, b0) in zip(out, net))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GradingFailure("%s: autograd's gradient does not have the shape of the parameters" % what)
    return out


def kind(value):
    if isinstance(value, (tuple, list)):
        return "a %s of %d items" % (type(value).__name__, len(value))
    return "a %s" % type(value).__name__


def adam_state(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise GradingFailure("%s should be the tuple (m, v, t); got %s" % (what, kind(value)))
    return value


def adam_result(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise GradingFailure("%s should return (new_params, (m, v, t)); got %s" % (what, kind(value)))
    return value[0], adam_state(value[1], "the new state (second item of adam_step's result)")


def _adam_step(sub, case, args, noise, what, calls):
    params, grad, m, v, t, hyper = args
    result = sub.call("adam", "adam_step", params, grad, (m, v, t), kwargs=hyper, what=what)
    new_params, (new_m, new_v, new_t) = adam_result(result.value, "adam_step")
    result.value = {"params": new_params, "m": new_m, "v": new_v, "t": new_t}
    return result


def _adam_trajectory(sub, case, args, noise, what, calls):
    """Minimise f(x) = sum a (x - c)^2 / 2 from x0 with the submission's adam_step, from
    Figure 5's state (0, 0, 0): every iterate, (steps, n)."""
    x0, a, c, steps, hyper = args
    x, state, path = np.array(x0), (np.zeros_like(x0), np.zeros_like(x0), 0), []
    for step in range(steps):
        result = sub.call("adam", "adam_step", x, a * (x - c), state, kwargs=hyper,
                          what="%s (step %d)" % (what, step + 1))
        new_params, state = adam_result(result.value, "adam_step")
        try:
            x = np.asarray(new_params, dtype=np.float64)
        except (TypeError, ValueError):
            raise GradingFailure("adam_step returned new parameters that are not numbers (%s)" % kind(new_params))
        if x.shape != np.shape(x0):
            raise GradingFailure("%s: step %d returned parameters of shape %s, expected %s"
                                 % (what, step + 1, x.shape, np.shape(x0)))
        path.append(x)
    result.value = {"params": np.array(path)}
    return result


JOBS = {"call": _call, "sample_grad": _sample_grad, "gradcheck": _gradcheck, "adam_step": _adam_step,
        "adam_trajectory": _adam_trajectory}
