"""Grading a script written on the original handout by watching it run.

Most solutions of the practical in the wild keep the original handout's layout: ADAM
(Task 2) and Task 3 are code in the `if __name__ == "__main__":` block (or at module
level), not functions. For the parts a submission does not write as functions, the
worker (worker.py, Worker.observe) runs that code statement by statement on a small data
set in place of MNIST (layout.py), with Gaussian noise from a stream this grader replays
and the handout's given functions. An error is recorded and the run goes on with the next
statement, so that it costs only what it prevents.

In that run, Task 1's functions are this grader's: every call of vae_lower_bound, the
sampler, bernoulli_log_prob and compute_KL, and every gradient autograd asks of them, is
answered here with the practical's maths (Run.answer). Tasks 2 and 3 are then judged
whatever state Task 1 is in, and the grader itself sees the networks and the gradient of
every training step. The first FOLLOW steps get the bound's gradient, the later ones a
gradient of 0: Figure 5 is checked on every step (the later ones move by momentum alone),
a wrong ADAM cannot wreck the model that Task 3 is judged on, and the run stays short
whatever the number of epochs. The worker records the networks used after training, every array
given to save_images, the sizes of the Gaussian draws, and the statements that failed.

Judged here, from what this grader computed or can recompute:
- Task 2: the parameters the bound was given at each step, on a fixed set of coordinates,
  against Figure 5 applied to the gradients this grader handed out (times the factor the
  submission's objective put on them: the bound, or the loss). Steps that plain SGD or
  sign descent would make as well earn nothing.
- Task 3: the networks used after training must be the ones training produced, and must
  depend on their inputs; the saved images are found by matching: decoded prior samples,
  the test images and their reconstructions, and interpolations between test images, with
  the recognisable slips (logits, another number of images or frames, means for samples or
  the reverse, other test images, fewer pairs) costing points.json's "slips".
A forged trace earns nothing that doing the task would not.
"""
import secrets

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp

from grading import GradingFailure, NotGraded, PartialCredit, figure5, given, layout, results

NUM_IMAGES, NUM_FRAMES = 25, 25
PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
RTOL, ATOL = 1e-6, 1e-9
SUBSET = (192, 64)        # coordinates followed: random ones, and the smallest gradients of the first step
FOLLOW = 12               # training steps given the bound's gradient; after them, a gradient of 0
MAX_STEPS = 20000
MAX_REPLAY = 5 * 10 ** 7  # Gaussian values regenerated at most (draws past it are unknown)
KEEP_DRAW = 10 ** 6       # values of one post-training draw kept for Task 3
KEEP_DRAWS = 4 * 10 ** 6  # values of them kept in all
NEEDS_HUMAN = "needs a human look: "


def slips(part):
    return results.load_points().get("slips", {}).get(part, {})


# ---------------------------------------------------------------------------
# The practical's maths, with which this grader answers Task 1's functions in an observed run

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


def _forward(net, h):
    """The given MLP (ReLU hidden layers, linear output); also each layer's input, for _backward."""
    inputs = []
    for i, (W, b) in enumerate(net):
        inputs.append(h)
        h = h @ W + b
        if i < len(net) - 1:
            h = h * (h > 0)
    return h, inputs


def _backward(net, inputs, g):
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
    encoder_output, rec_inputs = _forward(rec, x)
    mean, log_std = halves(encoder_output)
    std = np.exp(log_std)
    logits, gen_inputs = _forward(gen, mean + std * e)
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
    gen_grads, dz = _backward(gen, gen_inputs, (x - probabilities) / batch)
    d_mean = dz - mean / batch
    d_log_std = dz * std * e - (std ** 2 - 1) / batch
    rec_grads, _ = _backward(rec, rec_inputs, np.concatenate([d_mean, d_log_std], axis=1))
    as64 = lambda grads: [(dW.astype(np.float64), db.astype(np.float64)) for dW, db in grads]  # noqa: E731
    return value, (as64(gen_grads), as64(rec_grads))


MATHS = {"sample_latent_variables_from_posterior": lambda args, eps: sample(args[0], eps),
         "bernoulli_log_prob": lambda args, eps: log_bernoulli(args[0], args[1]),
         "compute_KL": lambda args, eps: kl(args[0])}


MAX_VALUES = 4 * 10 ** 6   # values of one array the grader takes from the run (a network: 0.4 million)


def _floats(value, what, limit=MAX_VALUES):
    """value as float64, its size checked before any conversion (a small dtype converted is 8 times bigger)."""
    size = getattr(value, "size", None)
    if size is not None and size > limit:
        raise GradingFailure("%s has %d values, more than the grader takes (%d)" % (what, size, limit))
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise GradingFailure("%s is not an array of numbers" % what)
    if array.size > limit:
        raise GradingFailure("%s has %d values, more than the grader takes (%d)" % (what, array.size, limit))
    return array


def _network(value, what):
    """A list of (W, b), float64, each layer's input the previous one's output (at most 8 layers of
    MAX_VALUES values in all)."""
    try:
        if not isinstance(value, (list, tuple)) or len(value) > 8 or \
                sum(getattr(a, "size", 0) for layer in value for a in layer) > MAX_VALUES:
            raise GradingFailure("%s is not a list of at most 8 (W, b) layers of a network's size" % what)
        net = [(_floats(W, what), _floats(b, what)) for W, b in value]
    except (TypeError, ValueError):
        raise GradingFailure("%s is not a list of (W, b) layers" % what)
    ok = len(net) > 0 and all(W.ndim == 2 and b.shape == W.shape[1:] for W, b in net) and \
        all(a[0].shape[1] == b[0].shape[0] for a, b in zip(net, net[1:]))
    if not ok:
        raise GradingFailure("%s is not a list of (W, b) layers whose shapes chain" % what)
    return net


def flat(nets):
    if nets is ZERO:
        return 0.0
    return np.concatenate([a.ravel() for net in nets for W, b in net for a in (W, b)])


class _Zero:
    """The gradient after FOLLOW steps: 0 everywhere (the worker makes the arrays)."""


ZERO = _Zero()


# ---------------------------------------------------------------------------
# The run

class Run:
    """The observed run of a submission: the trace, the replayed noise, and what this grader
    recorded when it answered the bound (the training) and the sampler."""

    def __init__(self, sub, what="the main block of vae.py", fix_t=False):
        self.reset()
        self.test = layout.small_mnist(sub.root)["test"]
        result = sub.observe(self.answer, what=what, restart=self.reset, fix_t=fix_t)
        self.read(result)
        self.own, self.t_fixed = None, None
        if not fix_t:
            self.own = self.own_sign(sub)
            if self.t_from_0():
                # Figure 5 with t = 0 at its first update divides by 1 - beta1^0 = 0: every parameter
                # is nan, and nothing after can be checked. A second run with t = 1 checks the rest.
                self.t_fixed = Run(sub, what, fix_t=True)
                self.t_fixed.own = self.own

    def reset(self):
        """What the grader saw of the run: nothing yet (and again, if a busy machine makes it run twice)."""
        self.steps = []          # [x, g] on self.index, of each training step (the bound's gradient)
        self.index = None
        self.cotangents = []
        self.tokens = {}         # token -> (step, nets, gradient) of a bound computed in a gradient
        self.training = None     # the networks of the last step
        self.first = None        # ... and of the first: Task 3 runs on them if training broke the model
        self.after = []          # the networks of the bound's plain calls after the last step
        self.sampled = []        # (step count, encoder output row, z row) answered to the sampler
        self.batches = []        # (nets, data, noise) of the first training steps: the submission's own bound
        self.size = None         # how many parameters the training updates

    def read(self, result):
        """The worker's trace of the run (untrusted: only data of checked types is kept)."""
        trace = result.value if isinstance(result.value, dict) else {}
        self.library = [n for n in trace.get("library") or [] if isinstance(n, str)][:4]
        self.calls = trace.get("calls") if type(trace.get("calls")) is int else 0
        saves = trace.get("saves") if isinstance(trace.get("saves"), list) else []
        names = trace.get("names") if isinstance(trace.get("names"), list) else []
        self.saves = [(a[:120].astype(np.float64), names[i] if i < len(names) and isinstance(names[i], str) else "?")
                      for i, a in enumerate(saves[:60]) if isinstance(a, np.ndarray) and a.ndim == 2
                      and a.shape[1] == 784 and a.dtype.kind in "fiub"]
        self.variables = {k: v for k, v in (trace.get("variables") or {}).items()
                          if isinstance(k, str) and type(v) in (int, float)}
        self.networks = {"decoder": [], "encoder": []}
        for kind in self.networks:
            for net in ((trace.get("networks") or {}).get(kind) or [])[:4]:
                try:
                    self.networks[kind].append(_network(net, "a network"))
                except GradingFailure:
                    pass
        self.errors = [e for e in trace.get("errors") or [] if isinstance(e, dict)][:20]
        state = trace.get("state") if isinstance(trace.get("state"), dict) else {}
        self.state = {k: v for k, v in list(state.items())[:200] if isinstance(k, str) and isinstance(v, list) and (
            (len(v) == 2 and v[0] == "number" and type(v[1]) is float) or
            (len(v) == 4 and v[0] == "array" and type(v[1]) is int and type(v[2]) is bool and type(v[3]) is bool))}
        self.notes = [n for n in trace.get("notes") or [] if isinstance(n, str)][:20]
        self.end = trace.get("end") if isinstance(trace.get("end"), str) else "?"
        self.draws = self.replay(trace.get("draw_shapes") or [], trace.get("draw_calls") or [])

    # -- the stand-ins' calls

    def answer(self, question):
        with np.errstate(all="ignore"):   # a diverging training's nan and inf go back as they are
            return self._answer(question)

    def _answer(self, question):
        function, kind = question.get("function"), question.get("kind")
        if function == "vae_lower_bound":
            return self.answer_bound(question)
        if function not in MATHS:
            raise GradingFailure("no function but Task 1's is answered here")
        args = question.get("args")
        args = [_floats(a, function) for a in args] if isinstance(args, list) else []
        eps = _floats(question["noise"], "the noise") if question.get("noise") is not None else None
        usage = "%s(%s)" % (function, {"sample_latent_variables_from_posterior": "encoder_output",
                                         "bernoulli_log_prob": "targets, logits",
                                         "compute_KL": "q_means_and_log_stds"}[function])
        arity = 2 if function == "bernoulli_log_prob" else 1
        if len(args) != arity or not all(a.ndim in (1, 2) for a in args) or \
                (arity == 2 and args[0].shape != args[1].shape) or \
                (arity == 1 and (args[0].shape[-1] % 2 or (eps is not None and eps.shape != halves(args[0])[0].shape))):
            raise GradingFailure("%s was called with %s: it takes %s" % (
                function, ", ".join("shape %s" % (a.shape,) for a in args) or "no arrays", usage))
        if function == "sample_latent_variables_from_posterior" and eps is None:
            raise GradingFailure("%s takes the encoder output, shape (batch, 2 L)" % usage)
        maths = MATHS[function]
        if kind == "vjp":
            argnum = question.get("argnum")
            if type(argnum) is not int or not 0 <= argnum < len(args):
                raise GradingFailure("%s's gradient was asked for an argument it does not have" % function)
            vjp, out = make_vjp(lambda x: maths(args[:argnum] + [x] + args[argnum + 1:], eps))(args[argnum])
            g = _floats(question.get("g"), "a gradient")
            if g.shape != np.shape(out):
                raise GradingFailure("%s's gradient was asked for an output of another shape" % function)
            return np.asarray(vjp(g), dtype=np.float64)
        out = np.asarray(maths(args, eps), dtype=np.float64)
        if function == "sample_latent_variables_from_posterior" and len(self.sampled) < 2000:
            for row, z in zip(np.atleast_2d(args[0]), np.atleast_2d(out)):
                self.sampled.append((len(self.steps), row, z))
        return out

    def answer_bound(self, question):
        if question.get("kind") == "bound_vjp":
            return self.bound_gradient(question)
        args = question.get("args")
        if not (isinstance(args, list) and len(args) == 3):
            raise GradingFailure("vae_lower_bound takes (gen_params, rec_params, data)")
        gen, rec = _network(args[0], "gen_params"), _network(args[1], "rec_params")
        data, eps = _floats(args[2], "data"), _floats(question.get("noise"), "the noise")
        latent2 = rec[-1][0].shape[1]
        if data.ndim not in (1, 2) or data.shape[-1] != rec[0][0].shape[0] or latent2 % 2 or \
                gen[0][0].shape[0] != latent2 // 2 or gen[-1][0].shape[1] != data.shape[-1] or \
                eps.shape != data.shape[:-1] + (latent2 // 2,):
            raise GradingFailure("vae_lower_bound(gen_params, rec_params, data) was called with networks and data "
                                 "whose shapes do not fit: gen_params %s -> %s, rec_params %s -> %s, data %s"
                                 % (gen[0][0].shape[0], gen[-1][0].shape[1], rec[0][0].shape[0], latent2,
                                    data.shape))
        nets = (gen, rec)
        if question.get("step") is None:
            if self.training is not None and len(self.after) < 4:
                self.after.append(nets)
            return {"value": plain_bound(nets, data, eps), "token": None}
        if len(self.steps) < FOLLOW:
            value, gradient = bound_and_gradient(nets, data, eps)
        else:   # the model stays where FOLLOW steps took it: only momentum moves it on
            value = plain_bound(nets, data, eps)
            gradient = ZERO
        token = secrets.token_hex(8)
        if len(self.tokens) > 8:
            self.tokens.clear()
        if self.first is None:
            self.first = nets
        if len(self.batches) < 2:
            self.batches.append((nets, data, eps))
        self.tokens[token] = (question["step"], nets, gradient)
        self.training, self.after = nets, []
        return {"value": float(value), "token": token}

    def bound_gradient(self, question):
        entry = self.tokens.get(question.get("token"))
        c = question.get("g")
        if entry is None or type(c) not in (int, float) or not np.isfinite(c):
            raise GradingFailure("vae_lower_bound's gradient was asked for a call this grader did not make")
        step, nets, gradient = entry
        self.record_step(step, nets, flat(gradient) * c, c)
        if gradient is ZERO:
            return "zero"   # the worker makes the zeros: no need to send them
        return [c * a for net in gradient for W, b in net for a in (W, b)]

    def record_step(self, step, nets, g, c):
        """One training step: the parameters (the networks the bound got) and the gradient the
        submission received, on the followed coordinates; a second gradient in the same step adds."""
        x = flat(nets)
        if isinstance(g, float) or np.ndim(g) == 0:   # ZERO
            g = np.zeros_like(x)
        if self.index is None:
            self.index, self.size = choose(g), len(x)
        if len(self.steps) >= MAX_STEPS or self.index.max() >= len(x):
            return
        if self.steps and self.steps[-1][0] == step:
            self.steps[-1][2] = self.steps[-1][2] + g[self.index]
            return
        self.steps.append([step, x[self.index], g[self.index]])
        self.cotangents.append(c)

    # -- what the submission's own functions make of the objective, and ADAM's state

    def own_sign(self, sub):
        """+1 or -1: the sign of the submission's own vae_lower_bound against the practical's bound, on
        two of the run's training batches (the same networks, images and noise); None when it is no
        constant multiple of the bound, or cannot be called. Its training's objective is then that
        sign times what the grader's answers made of it."""
        factors = []
        for nets, data, eps in self.batches[:2]:
            with np.errstate(all="ignore"):
                expected = plain_bound(nets, data, eps)
            try:
                value = sub.call("vae", "vae_lower_bound", *[[tuple(layer) for layer in net] for net in nets], data,
                                 noise=eps, what="vae_lower_bound(gen_params, rec_params, data) on a training "
                                                 "batch of the observed run").value
                value = np.asarray(value, dtype=np.float64)
            except NotGraded:
                raise
            except (GradingFailure, TypeError, ValueError):
                return None
            if value.size != 1 or not np.isfinite(value.item()) or not np.isfinite(expected) or expected == 0:
                return None
            factors.append(value.item() / expected)
        if len(factors) < 2 or not np.isclose(factors[0], factors[1], rtol=1e-3, atol=0) or factors[0] == 0:
            return None
        return 1.0 if factors[0] > 0 else -1.0

    def adam_state(self):
        """(right, names): did the run set ADAM up as Figure 5 does before its first update, m and v
        zeros of the parameters' size (two such arrays), and t, if it has one, 0 or 1 (t = 1 in the
        handout, incremented after the update; t = 0 in Figure 5, incremented before)?"""
        zeros = sorted(name for name, entry in self.state.items()
                       if entry[0] == "array" and entry[1] == self.size and entry[2])
        t = self.state.get("t")
        t_right = t is None or (t[0] == "number" and t[1] in (0.0, 1.0))
        return len(zeros) >= 2 and t_right, zeros

    def t_from_0(self):
        """t = 0 at the first training step, and every parameter not finite after the first update."""
        t = self.state.get("t")
        return t is not None and t[0] == "number" and t[1] == 0.0 and len(self.steps) >= 2 and \
            not np.any(np.isfinite(self.steps[1][1]))

    # -- the replayed noise

    @staticmethod
    def replay(shapes, phases):
        """The Gaussian draws made after the last gradient call (Task 3's), regenerated here from the
        shared seed and the sizes of every draw."""
        rng, out, total = np.random.RandomState(layout.SEED), [], 0
        last = max([p for p in phases if type(p) is int], default=0)
        for i, shape in enumerate(shapes[:20000]):
            if not (isinstance(shape, list) and len(shape) <= 8 and all(type(s) is int and 0 <= s for s in shape)):
                break
            n = int(np.prod(shape, dtype=np.int64))
            total += n
            if total > MAX_REPLAY:
                break
            keep = i < len(phases) and phases[i] == last and n <= KEEP_DRAW and \
                sum(d.size for d in out) + n <= KEEP_DRAWS
            if keep:
                out.append(rng.standard_normal(n).reshape(shape))
            else:
                for start in range(0, n, KEEP_DRAW):
                    rng.standard_normal(min(KEEP_DRAW, n - start))
        return out

    # -- what the training made

    def learning_rate(self):
        for name in ("learning_rate", "alpha", "step_size", "lr"):
            if name in self.variables and self.variables[name] > 0:
                return float(self.variables[name])
        return 0.001

    def trained(self):
        """The networks Task 3 may use, (decoders, encoders): those the training produced, within one
        more update of the last training step; or, when the training left a broken model, those it
        started from (the worker then runs Task 3 on them). GradingFailure with what is wrong
        otherwise: networks not from the training (zeroed, fresh, the initial ones) earn nothing."""
        if self.training is None:
            raise GradingFailure(NEEDS_HUMAN + "no training was observed (vae_lower_bound was never called inside "
                                 "the gradient function), so the networks Task 3 used cannot be told to be the "
                                 "trained ones" + self.error_lines(None))
        x = np.array([s[1] for s in self.steps])
        diffs = np.abs(np.diff(x, axis=0)) if len(x) > 1 else np.zeros(0)
        diffs = diffs[np.isfinite(diffs)]
        # The last update (after the last step) moves no coordinate much further than the largest
        # update seen (in a dozen steps Figure 5 moves a coordinate by at most about alpha); two
        # updates back, the networks training started from, a fresh or a zeroed one do.
        tol = 1.5 * (float(diffs.max()) if diffs.size and diffs.max() > 0 else 0.001) + 1e-12
        out = []
        for k, kind in enumerate(("decoder", "encoder")):
            reference = self.training[k]
            start = self.first[k] if self.first is not None and not healthy(reference, kind, self.test) else None
            found = [net for net in self.networks[kind] if _close(net, reference, tol) or
                     (start is not None and _close(net, start, 0.0))]
            if not found:
                what = "neural_net_predict(gen_params, z)" if kind == "decoder" else \
                    "neural_net_predict(rec_params, images)"
                if not self.networks[kind]:
                    raise GradingFailure("no %s was used after training (%s): nothing of Task 3 was done with the "
                                         "trained model%s" % (kind, what, self.error_lines("after")))
                raise GradingFailure("the %s used after training is not the one the training produced: it "
                                     "differs from the parameters of the last training step by more than one "
                                     "ADAM step (%s)" % (kind, _fmt_diff(self.networks[kind][0], reference)))
            out.append(found)
        return out

    def error_lines(self, when):
        """The run's errors, in the student's terms: those during or before training (when
        "training"), after it ("after"), or all (None); and how the run ended if not at the end."""
        lines = []
        for e in self.errors:
            calls = e.get("calls") if type(e.get("calls")) is int else 0
            start = e.get("start_calls") if type(e.get("start_calls")) is int else calls
            # A statement that began before the last gradient call is the training's (or before it).
            after = self.calls > 0 and start >= self.calls
            if when is None or (when == "after") == after:
                at = e.get("at") if isinstance(e.get("at"), str) and e.get("at") else "line %s" % e.get("line")
                lines.append("the run raised %s: %s\n    at %s" % (str(e.get("type"))[:60], str(e.get("message"))[:200],
                                                                 at[:300]))
        if self.end not in ("the end of the script", "?"):
            lines.append("the run ended with %s" % self.end[:100])
        return "".join("\n  " + line for line in lines[:4])


def healthy(net, kind, test):
    """Finite, and not the same output for every input: over 16 z ~ N(0, I) (a decoder) or the
    test images (an encoder)."""
    probe = test if kind == "encoder" else np.random.RandomState(1).standard_normal((16, net[0][0].shape[0]))
    with np.errstate(all="ignore"):
        out = decode(net, probe)
        return bool(np.all(np.isfinite(out)) and np.max(np.std(out, axis=0)) > 1e-9)


def _close(net, reference, tol):
    return len(net) == len(reference) and all(
        W.shape == W0.shape and b.shape == b0.shape and np.all(np.abs(W - W0) <= tol) and np.all(np.abs(b - b0) <= tol)
        for (W, b), (W0, b0) in zip(net, reference))


def _fmt_diff(net, reference):
    if len(net) != len(reference) or any(W.shape != W0.shape for (W, _), (W0, _) in zip(net, reference)):
        return "its layers have other shapes"
    return "up to %.3g" % max(float(np.max(np.abs(W - W0))) for (W, _), (W0, _) in zip(net, reference))


def choose(g):
    """The coordinates to follow: random ones, and the smallest non-zero gradients of the first step,
    where eps = 1e-8 tells Figure 5 from sign descent even after one step."""
    n = len(g)
    chosen = set(np.random.RandomState(layout.SEED).choice(n, min(n, SUBSET[0]), replace=False).tolist())
    magnitude = np.where(g != 0, np.abs(g), np.inf)
    for i in np.argsort(magnitude, kind="stable")[:sum(SUBSET)]:
        if len(chosen) >= sum(SUBSET) or not np.isfinite(magnitude[i]):
            break
        chosen.add(int(i))
    return np.array(sorted(chosen), dtype=np.int64)


# ---------------------------------------------------------------------------
# Task 2 from the steps: Figure 5

def _fit(observed, unit):
    """The one factor a with observed = a * unit on every coordinate, or None."""
    with np.errstate(all="ignore"):
        ratio = observed / unit
    ratio = ratio[np.isfinite(ratio) & (np.abs(unit) > 1e-300)]
    if not ratio.size:
        return None
    a = float(np.median(ratio))
    return a if a != 0 and _agree(observed, a * unit).all() else None


def _agree(observed, predicted):
    scale = np.nanmax(np.abs(predicted)) if predicted.size and np.any(np.isfinite(predicted)) else 1.0
    return np.all(np.isclose(observed, predicted, rtol=1e-5, atol=1e-9 * scale), axis=-1)


def _direction_text(sign, own):
    """Why the step goes the wrong way, in the student's terms: what objective is, by their own bound."""
    if own is not None and own < 0:
        mine = ("your vae_lower_bound returns the negative of the bound (see Task 1.4), so objective, as you "
                "wrote it, is the %s: the update must %s" % (("ELBO", "add alpha * m_hat / (sqrt(v_hat) + eps)")
                                                            if sign > 0 else ("loss (-ELBO)", "go down")))
        return "the step goes the wrong way: " + mine
    if sign > 0:
        return ("the step goes down the gradient: objective is the ELBO, which training maximises, so the update "
                "adds alpha * m_hat / (sqrt(v_hat) + eps) (Figure 5 is written for a loss, which it minimises)")
    return "the step goes up the gradient of objective, which is the loss here (-ELBO): it must go down"


def adam_verdict(run):
    """(start, update, message) for the observed ADAM: the steps the parameters took against Figure 5
    applied to the gradients the submission received. start (2.1) is True or False; update (2.2) is
    True, False, or the list of its one slip (points.json's "slips") when everything else is Figure 5's."""
    if run.index is None:
        if run.calls:
            return False, False, (NEEDS_HUMAN + "the gradient function was called %d times, but never on "
                                  "vae_lower_bound(gen_params, rec_params, data): the grading cannot tell that "
                                  "the training followed the bound's gradient" % run.calls + run.error_lines(None))
        return False, False, ("the gradient function (objective_grad = grad(objective)) was never called: the "
                              "training loop should call it once per batch and update flattened_current_params "
                              "with ADAM" + run.error_lines(None))
    x = np.array([s[1] for s in run.steps])
    g = np.array([s[2] for s in run.steps])
    final = _final_parameters(run, x[-1])
    if final is not None:
        x = np.vstack([x, final])
    observed = np.diff(x, axis=0)
    g = g[:len(observed)]
    state, _ = run.adam_state()
    if not len(observed) or not np.any((observed != 0) | ~np.isfinite(observed)):
        # 2.1 from what the run set up before its update: m and v zeros, t from 1 (or 0).
        calls = len(run.steps)
        text = ("the parameters never changed between the training steps (%d gradient call%s): no ADAM update "
                "was made" % (calls, "" if calls == 1 else "s"))
        if state:
            text += " (m and v were set up as zeros of the parameters' shape, and t, as Figure 5 starts)"
        return state, False, text + run.error_lines("training")
    if run.library:
        return False, False, ("the training loop used %s: Task 2 asks for ADAM written out (Figure 5), not a "
                              "library's" % run.library[0])
    if len(observed) < 2:
        return False, False, (NEEDS_HUMAN + "the run made one update only: one step cannot tell ADAM (its moments) "
                              "from a normalised gradient step; train for more than one batch"
                              + run.error_lines("training"))
    # objective is the bound (ascent) or the loss (descent): by what it made of the bound's gradient, and
    # by the sign of the submission's own vae_lower_bound (a negated one makes objective the loss).
    sign = (1.0 if np.median(run.cotangents) > 0 else -1.0) * (run.own if run.own is not None else 1.0)
    lr = run.learning_rate()

    def explained(unit):
        """Only Figure 5 (or its variant, unit) explains the steps, at some step size: "yes", "no", or
        the name of a simpler rule that explains them as well."""
        alpha = _fit(observed, unit)
        if alpha is None or alpha <= 0:
            return "no"
        for name, u in (("plain SGD (alpha * g)", sign * g), ("sign descent (alpha * sign(g))", sign * np.sign(g))):
            if _fit(observed, u) is not None:
                return name
        return "yes"
    candidates = [(None, figure5.steps(g, 1.0, sign=sign)),
                  ("wrong_direction", figure5.steps(g, 1.0, sign=-sign)),
                  ("no_bias_correction", figure5.steps(g, 1.0, bias=False, sign=sign)),
                  ("eps_inside_sqrt", figure5.steps(g, 1.0, eps_inside=True, sign=sign)),
                  ("t_ahead", figure5.steps(g, 1.0, t0=2, sign=sign))]
    for name, unit in candidates:
        verdict = explained(unit)
        if verdict == "no":
            continue
        if verdict != "yes":
            return state, False, (NEEDS_HUMAN + "the %d step(s) observed fit Figure 5%s but also %s: they cannot "
                                  "tell ADAM apart (train for more steps)"
                                  % (len(observed), "" if name is None else " with a slip", verdict))
        if name is None:
            return True, True, None
        if name == "t_ahead":   # t's start is 2.1's; the updates are Figure 5's
            return False, True, ("t looks one step ahead: Figure 5's first update has t = 1 (t starts at 1 in the "
                                 "handout, and is incremented after each update)")
        text = _direction_text(sign, run.own) if name == "wrong_direction" else figure5.SLIPS[name]
        return True, [name], "the updates are Figure 5's but for one slip: " + text
    if not np.all(np.isfinite(x[1:])):
        if run.t_fixed is not None:
            _, update, message = adam_verdict(run.t_fixed)
            text = ("t starts at 0 and is incremented after the update: the first update divides by "
                    "1 - beta1^0 = 0, and every parameter became nan. Figure 5's first update has t = 1 (t = 1 "
                    "in the handout; or t = 0 incremented before the update)")
            checked = ("the updates, checked in a second run with t = 1, %s" %
                       ("are Figure 5's" if update is True else "%s" % message))
            return False, update, text + "\n  " + checked
        return False, False, ("the parameters became nan or infinite after the first update: does t start at 0 "
                              "(1 - beta1^0 = 0)? Figure 5's first update has t = 1; nothing after it can be "
                              "checked" + run.error_lines("training"))
    unit = candidates[0][1]
    right = _agree(observed, lr * unit)
    first = int(np.argmin(right)) if not right.all() else 0
    text = ("the update after training step %d departs from Figure 5 (beta1 0.9, beta2 0.999, eps 1e-8, "
            "learning rate %g): coordinate values %s, expected %s"
            % (first + 1, lr, _fmt(observed[first]), _fmt(lr * unit[first])))
    if run.own is not None and run.own < 0:
        text += ("\n  note: your vae_lower_bound returns the negative of the bound (Task 1.4), so objective is "
                 "judged as the loss it is")
    return bool(right[0]), False, text + run.error_lines("training")


def _final_parameters(run, last):
    """The parameters after the last update, on the followed coordinates: the bound's last plain call
    after the last step (the handout's `elbo_est += objective(...)`), or Task 3's networks; None when
    neither shows a change."""
    candidates = [flat(nets) for nets in run.after[::-1]]
    candidates += [flat((dec, enc)) for dec in run.networks["decoder"][:1] for enc in run.networks["encoder"][:1]]
    for x in candidates:
        if len(x) > run.index.max() and not np.array_equal(x[run.index], last, equal_nan=True):
            return x[run.index]
    return None


def _fmt(values, n=4):
    flat_values = np.asarray(values, dtype=np.float64).ravel()
    return "[%s%s]" % (", ".join("%.6g" % v for v in flat_values[:n]), ", ..." if flat_values.size > n else "")


# ---------------------------------------------------------------------------
# Task 3 from the saved images, found by matching

def decode(net, z):
    return given.neural_net_predict(net, np.atleast_2d(z))


def matches(saved, table):
    """For each row of saved (k, 784), the index of a row of table (m, 784) equal to it within the
    tolerance, or -1."""
    if not len(table) or not len(saved):
        return np.full(len(saved), -1)
    with np.errstate(all="ignore"):
        s = np.where(np.isfinite(saved), saved, 0.0)
        t = np.where(np.isfinite(table), table, 0.0)
        distance = (s ** 2).sum(1)[:, None] + (t ** 2).sum(1)[None] - 2 * s @ t.T
    best = np.argmin(distance, axis=1)
    ok = np.array([np.allclose(saved[i], table[j], rtol=RTOL, atol=ATOL, equal_nan=True) for i, j in enumerate(best)])
    return np.where(ok, best, -1)


def matches_all(saved, table):
    """For each row of saved, the indices of every row of table equal to it within the tolerance
    (a barely trained model can decode two codes alike: each is a possible match)."""
    if not len(table) or not len(saved):
        return [np.zeros(0, dtype=np.int64) for _ in saved]
    with np.errstate(all="ignore"):
        s = np.where(np.isfinite(saved), saved, 0.0)
        t = np.where(np.isfinite(table), table, 0.0)
        distance = (s ** 2).sum(1)[:, None] + (t ** 2).sum(1)[None] - 2 * s @ t.T
        bound = ((ATOL + RTOL * np.abs(t)) ** 2).sum(1) * 1.01 + 1e-12   # what allclose lets through
    out = []
    for i, row in enumerate(saved):
        near = np.flatnonzero(distance[i] <= bound)
        out.append(np.array([j for j in near if np.allclose(row, table[j], rtol=RTOL, atol=ATOL)], dtype=np.int64))
    return out


def _check_depends(dec, enc, test):
    if not healthy(dec, "decoder", test):
        raise GradingFailure("the decoder used after training gives the same image whatever z: it is not a trained "
                             "decoder, and Task 3's images cannot be judged from it")
    if enc is not None and not healthy(enc, "encoder", test):
        raise GradingFailure("the encoder used after training gives the same output for every image: it is not "
                             "a trained encoder, and Task 3's images cannot be judged from it")


def _score(part, found_slips, base=None, extra=""):
    """Raise PartialCredit for the slips found (each costs its points once), or for base points of
    the part's; nothing when neither."""
    table = slips(part)
    lost = sum(table.get(name, 0) for name in found_slips)
    if not found_slips and base is None:
        return None
    points = results.load_points()["by_function"]
    maximum = next(p["points"] for p in points.values() if p["part"] == part)
    lost = maximum - base + lost if base is not None else lost
    raise PartialCredit("\n  ".join([extra] + ["slip: %s (-%g points)" % (SLIP_TEXT[name], table.get(name, 0))
                                              for name in found_slips]).strip("\n "), min(maximum, lost))


def score_slips(part, found, text):
    """PartialCredit for the slips found (each costs points.json's points once), with text."""
    table = slips(part)
    lost = sum(table.get(name, 0) for name in found)
    raise PartialCredit("%s (-%g points)" % (text, lost), lost)


SLIP_TEXT = {
    "logits": "the logits were saved: save the activation probabilities sigmoid(logits)",
    "image_count": "not the %d images the practical asks for" % NUM_IMAGES,
    "posterior_means": "the posterior means were decoded: the practical draws z from q(z|x) for reconstructions",
    "other_images": "not the first 10 test images (the practical asks for those)",
    "no_originals": "the original test images were not saved beside their reconstructions",
    "sampled_codes": "the codes were sampled from q(z|x): the practical interpolates the means",
    "frame_count": "not the %d frames (values of s) the practical asks for" % NUM_FRAMES,
    "missing_pairs": "fewer interpolations than the practical's 5 (test images 1-2, 3-4, ..., 9-10)",
}


def samples_verdict(run):
    """Nothing if right; GradingFailure, or PartialCredit for a slip."""
    (decoders, encoders) = run.trained()
    best = None
    for dec in decoders:
        _check_depends(dec, None, run.test)
        latent = dec[0][0].shape[0]
        rows = [d.reshape(-1, latent) for d in run.draws if d.size % latent == 0 and d.size]
        z = np.concatenate(rows) if rows else np.zeros((0, latent))
        logits = decode(dec, z) if len(z) else np.zeros((0, 784))
        for kind, table in (("probabilities", given.sigmoid(logits)), ("logits", logits)):
            used = set()
            for saved, _ in run.saves:
                found = matches(saved, table)
                if len(found) and np.all(found >= 0):
                    used.update(found.tolist())
            if used and (best is None or (kind == "probabilities" and best[0] == "logits")):
                best = (kind, len(used))
    if best is None:
        lines = ["no saved array holds images sigmoid(decoder(z)) for z drawn from N(0, I) with numpy's global "
                 "generator (npr.randn(25, latent_dim)) after training"]
        if not run.draws:
            lines.append("hint: no Gaussian draw was made after training: draw z ~ N(0, I) with npr.randn")
        if any(a.shape[0] >= 4 and np.all((a == 0) | (a == 1)) for a, _ in run.saves):
            lines.append("hint: some saved images are binarised: save the activation probabilities")
        raise GradingFailure("\n  ".join(lines) + run.error_lines("after"))
    found = (["logits"] if best[0] == "logits" else []) + (["image_count"] if best[1] != NUM_IMAGES else [])
    _score("3.1", found)


def candidates(run, enc, test):
    """Latent codes Task 3 may have used for each test image: (image, kind, z) rows, kind "mean"
    (the posterior mean), "sample" (drawn from q(z|x): by the sampler, answered here, or as
    mean + sigma * eps with a replayed draw)."""
    out_image, out_kind, out_z = [], [], []
    encoder_output = decode(enc, test)
    mean, log_std = halves(encoder_output)
    latent = mean.shape[1]
    for i in range(len(test)):
        out_image.append(i), out_kind.append("mean"), out_z.append(mean[i])
    steps = len(run.steps)
    for step, row, z in run.sampled:
        if step == steps and row.shape == encoder_output[0].shape and z.shape == (latent,):
            hit = np.flatnonzero(np.all(np.isclose(encoder_output, row, rtol=RTOL, atol=ATOL), axis=1))
            if len(hit):
                out_image.append(int(hit[0])), out_kind.append("sample"), out_z.append(z)
    for draw in run.draws:
        if draw.size % latent or not draw.size:
            continue
        eps = draw.reshape(-1, latent)
        k = len(eps)
        if k == 1:
            pairs = [(i, 0) for i in range(len(test))]
        elif k <= len(test):
            pairs = [(o + j, j) for o in range(len(test) - k + 1) for j in range(k)]
        else:
            continue
        for i, j in pairs[:4000]:
            out_image.append(i), out_kind.append("sample"), out_z.append(mean[i] + np.exp(log_std[i]) * eps[j])
    return np.array(out_image), np.array(out_kind), np.array(out_z)


def reconstructions_verdict(run, test):
    (decoders, encoders) = run.trained()
    best = None
    for dec in decoders:
        for enc in encoders:
            _check_depends(dec, enc, test)
            images, kinds, z = candidates(run, enc, test)
            logits = decode(dec, z)
            # An interpolation's end frames are decoded means too: they are no reconstructions.
            saves = [saved for saved, _ in run.saves]
            for hit in interpolations(run, dec, enc, test):
                saves[hit[5]] = saves[hit[5]].copy()
                saves[hit[5]][hit[6]:hit[6] + hit[2]] = np.nan
            originals = set()
            for saved in saves:
                originals.update(int(i) for i in matches(saved, test) if i >= 0)
            for output, table in (("probabilities", given.sigmoid(logits)), ("logits", logits)):
                hits = set()
                for saved in saves:
                    for found in matches_all(saved, table):
                        hits.update(found.tolist())
                if not hits:
                    continue
                recon = {int(images[h]) for h in hits}
                sampled = any(kinds[h] == "sample" for h in hits)
                first = set(range(10))
                found = (["logits"] if output == "logits" else []) + ([] if sampled else ["posterior_means"]) + \
                    ([] if first <= recon else ["other_images"]) + \
                    ([] if recon & originals else ["no_originals"])
                if best is None or len(found) < len(best):
                    best = found
    if best is None:
        lines = ["no saved array holds reconstructions of test images: sigmoid(decoder(z)) with z drawn from q(z|x) "
                 "(sample_latent_variables_from_posterior of the encoder's output) for the first 10 test images"]
        raise GradingFailure("\n  ".join(lines) + run.error_lines("after"))
    _score("3.2", best)


def interpolations(run, dec, enc, test):
    """Every interpolation saved: (image a, image b, frames, code kind, output kind, save, first row),
    found by matching each saved array's frames, in order, to decode(z_a s + (1 - s) z_b), s from 1
    to 0, with z_a, z_b codes of test images a and b."""
    images, kinds, z = candidates(run, enc, test)
    logits = decode(dec, z)
    found = []
    for output, table, f in (("probabilities", given.sigmoid(logits), given.sigmoid), ("logits", logits, None)):
        for index, (saved, _) in enumerate(run.saves):
            start = matches(saved, table)
            r = 0
            while r < len(saved) - 1:
                hit = None
                if start[r] >= 0:
                    a = start[r]
                    for n in range(min(len(saved) - r, 200), 2, -1):   # 3 frames at least: 2 are any two images
                        b = start[r + n - 1]
                        if b < 0 or images[b] == images[a]:
                            continue
                        s = np.linspace(1.0, 0.0, n)[:, None]
                        frames = decode(dec, z[a] * s + (1 - s) * z[b])
                        frames = f(frames) if f else frames
                        if np.allclose(saved[r:r + n], frames, rtol=RTOL, atol=ATOL, equal_nan=True):
                            hit = (int(images[a]), int(images[b]), n,
                                   "sample" if "sample" in (kinds[a], kinds[b]) else "mean", output, index, r)
                            break
                if hit:
                    found.append(hit)
                    r += hit[2]
                else:
                    r += 1
    return found


def _pixel_interpolation(saved, test):
    """Does saved start with a blend of two test images' pixels, a s + (1 - s) b?"""
    if len(saved) < 3:
        return False
    ends = matches(saved[[0, -1]], test)
    if np.any(ends < 0):
        return False
    s = np.linspace(1.0, 0.0, len(saved))[:, None]
    return np.allclose(saved, test[ends[0]] * s + (1 - s) * test[ends[1]], rtol=RTOL, atol=ATOL)


def interpolation_verdict(run, test):
    (decoders, encoders) = run.trained()
    best = None
    for dec in decoders:
        for enc in encoders:
            _check_depends(dec, enc, test)
            found = interpolations(run, dec, enc, test)
            pairs = {tuple(sorted(h[:2])) for h in found}
            handout = [h for h in found if tuple(sorted(h[:2])) in PAIRS]
            got = {tuple(sorted(h[:2])) for h in handout}
            if not got and not pairs:
                continue
            kinds = (["frame_count"] if any(h[2] != NUM_FRAMES for h in handout) else []) + \
                (["sampled_codes"] if any(h[3] == "sample" for h in handout) else []) + \
                (["logits"] if any(h[4] == "logits" for h in handout) else [])
            if len(got) == len(PAIRS):
                score = (None, kinds, "")
            elif got and pairs <= set(PAIRS):
                score = (None, ["missing_pairs"] + kinds, "interpolations found: test images %s"
                         % ", ".join("%d-%d" % (a + 1, b + 1) for a, b in sorted(got)))
            else:
                score = (2 * len(got), kinds, "the 5 interpolations are between test images 1-2, 3-4, 5-6, 7-8 and "
                         "9-10; the ones saved are between %s" % ", ".join("%d-%d" % (a + 1, b + 1)
                                                                           for a, b in sorted(pairs)))
            value = 10 - sum(slips("3.3").get(k, 0) for k in score[1]) if score[0] is None else score[0]
            if best is None or value > best[0]:
                best = (value, score)
    if best is None:
        text = ("no saved array holds an interpolation between test images: sigmoid(decoder(z_a s + (1 - s) z_b)) "
                "for s from 0 to 1, z_a and z_b the posterior means of test images 1 and 2 (then 3 and 4, ...)")
        if any(_pixel_interpolation(saved, test) for saved, _ in run.saves):
            text += "\n  hint: the images themselves were interpolated: interpolate their latent means, then decode"
        raise GradingFailure(text + run.error_lines("after"))
    base, kinds, extra = best[1]
    _score("3.3", kinds, base=base, extra=extra)
