"""Grading a script written on the original handout by watching it run: the run (Run), its
trace, and what this grader answered and recorded during it. The verdicts on Tasks 2 and 3
are grading/verdicts.py's, the maths grading/maths.py's.

Most solutions of the practical in the wild keep the original handout's layout: ADAM
(Task 2) and Task 3 are code in the `if __name__ == "__main__":` block (or at module
level), not functions. For the parts a submission does not write as functions, the
worker (grading/worker: server.py's Worker.observe, observed.py) runs that code statement
by statement on a small data set in place of MNIST (layout.py), with Gaussian noise from a stream this grader replays
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

The run also records what the submission's own vae_lower_bound makes of the bound (own_sign),
ADAM's set-up at the first step (adam_state), and, where t started at 0, a second run with t = 1.
"""
import secrets

import numpy as np
from autograd import make_vjp

from grading import GradingFailure, NotGraded, layout, maths
from grading.maths import bound_and_gradient, halves, plain_bound

SUBSET = (192, 64)        # coordinates followed: random ones, and the smallest gradients of the first step
FOLLOW = 12               # training steps given the bound's gradient; after them, a gradient of 0
MAX_STEPS = 20000
MAX_REPLAY = 5 * 10 ** 7  # Gaussian values regenerated at most (draws past it are unknown)
KEEP_DRAW = 10 ** 6       # values of one post-training draw kept for Task 3
KEEP_DRAWS = 4 * 10 ** 6  # values of them kept in all
NEEDS_HUMAN = "needs a human look: "


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
        if function not in maths.MATHS:
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
        formula = maths.MATHS[function]
        if kind == "vjp":
            argnum = question.get("argnum")
            if type(argnum) is not int or not 0 <= argnum < len(args):
                raise GradingFailure("%s's gradient was asked for an argument it does not have" % function)
            vjp, out = make_vjp(lambda x: formula(args[:argnum] + [x] + args[argnum + 1:], eps))(args[argnum])
            g = _floats(question.get("g"), "a gradient")
            if g.shape != np.shape(out):
                raise GradingFailure("%s's gradient was asked for an output of another shape" % function)
            return np.asarray(vjp(g), dtype=np.float64)
        out = np.asarray(formula(args, eps), dtype=np.float64)
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


def decode(net, z):
    """The network's output for z (or images), one row or many: what the given neural_net_predict gives."""
    return maths.forward(net, np.atleast_2d(z))[0]


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


