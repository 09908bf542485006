"""Answers to the stand-ins' calls: how a task function is graded with the reference's versions
of the other task functions it calls, without the reference's code ever entering the worker
(or the students' handout).

When grading/casemaker.py runs a case on the reference, every call its stand-ins make
(sample_latent_variables_from_posterior, bernoulli_log_prob, compute_KL) and every gradient
autograd asks of them is answered by the reference and recorded with the case. When a
submission is graded, its stand-ins' calls are answered from that record, for that case only:
a call that matches a recorded one (same function, arguments equal within a tight
tolerance) gets the reference's answer; any other is refused with a message that says what
a correct solution passes there. A correct solution makes exactly the recorded calls, in any
order; a wrong one learns nothing it could use elsewhere.
"""
import numpy as np

from grading import GradingFailure

RTOL, ATOL = 1e-7, 1e-9
ARGUMENTS = {
    "sample_latent_variables_from_posterior": ("encoder_output",),
    "bernoulli_log_prob": ("targets", "logits"),
    "compute_KL": ("q_means_and_log_stds",),
}


def as_float(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def same(a, b):
    return a is not None and a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)


def scale(g, jacobian):
    """The gradient for cotangent g from the one for a cotangent of ones. The three functions
    are separable: each output row (bernoulli_log_prob, compute_KL) or element (the sampler)
    depends on its own row or element pair of inputs, so their gradient is g spread over them."""
    if g is None:
        return None
    if g.ndim == 1 and jacobian.ndim == 2 and len(g) == len(jacobian):
        return g[:, None] * jacobian
    if g.shape == jacobian.shape:
        return g * jacobian
    if g.ndim == 2 and jacobian.ndim == 2 and jacobian.shape == (g.shape[0], 2 * g.shape[1]):
        return np.concatenate([g, g], axis=1) * jacobian
    return None


class Table:
    """The recorded calls of one case: [{"function", "kind", "argnum", "args", "out"}]; for a
    gradient ("vjp"), out is the gradient for a cotangent of ones."""

    def __init__(self, entries, context=""):
        self.entries, self.context = entries, context
        self.asked = []

    def __call__(self, question):
        function, kind = question.get("function"), question.get("kind")
        self.asked.append(function)
        args = question.get("args")
        args = [as_float(a) for a in args] if isinstance(args, list) else []
        candidates = [e for e in self.entries if e["function"] == function and e["kind"] == kind
                      and (kind != "vjp" or e["argnum"] == question.get("argnum"))]
        for entry in candidates:
            if len(args) == len(entry["args"]) and all(same(a, b) for a, b in zip(args, entry["args"])):
                if kind != "vjp":
                    return entry["out"]
                answer = scale(as_float(question.get("g")), entry["out"])
                if answer is None:
                    raise GradingFailure("%s's gradient was asked for an output of an unexpected shape" % function)
                return answer
        raise GradingFailure(self.refusal(function, kind, args, candidates))

    def refusal(self, function, kind, args, candidates):
        names = ARGUMENTS.get(function, ())
        call = "%s(%s)" % (function, ", ".join(names))
        head = "%s was called%s with arguments that a correct solution does not pass it here" % (
            call, " (for its gradient)" if kind == "vjp" else "")
        if not candidates:
            return "%s: a correct solution does not call %s here%s" % (call, function, self.context)
        expected = candidates[0]["args"]
        if len(args) != len(expected):
            return "%s takes %d argument(s) (%s); it was called with %d" % (function, len(expected),
                                                                           ", ".join(names), len(args))
        lines = [head + self.context]
        for name, got, want in zip(names or ["argument %d" % (i + 1) for i in range(len(args))], args, expected):
            if got is None or got.shape != want.shape:
                lines.append("  %s: expected shape %s, got %s" % (name, want.shape, None if got is None else got.shape))
                if function == "compute_KL" and got is not None and got.shape[-1:] == (want.shape[-1] // 2,):
                    lines.append("  hint: compute_KL takes the whole encoder output, means and log standard "
                                 "deviations, not z or the means alone")
            elif not same(got, want):
                lines.append("  %s: values from %.4g to %.4g, where a correct solution passes values from %.4g "
                             "to %.4g" % (name, np.nanmin(got), np.nanmax(got), want.min(), want.max()))
                if name == "logits" and np.nanmin(got) >= 0 and np.nanmax(got) <= 1 and want.min() < 0:
                    lines.append("  hint: these look like probabilities: bernoulli_log_prob takes the decoder's "
                                 "logits, before the sigmoid")
        if function == "bernoulli_log_prob" and len(args) == 2 and all(a is not None for a in args) and \
                same(args[0], expected[1]) and same(args[1], expected[0]):
            lines.append("  hint: the arguments look swapped: bernoulli_log_prob(targets, logits)")
        elif function == "bernoulli_log_prob" and "sample_latent_variables_from_posterior" not in self.asked and \
                any(e["function"] == "sample_latent_variables_from_posterior" for e in self.entries):
            lines.append("  hint: no z was drawn with sample_latent_variables_from_posterior before: the logits "
                         "are the decoder's output for z ~ q(z|x), not for the posterior mean")
        return "\n".join(lines)


def entries_from_arrays(meta, arrays):
    """The recorded entries of a case file (meta["answers"], arrays "answer.N.*")."""
    entries = []
    for i, info in enumerate(meta.get("answers", [])):
        prefix = "answer.%d." % i
        entries.append({"function": info["function"], "kind": info["kind"], "argnum": info.get("argnum"),
                        "args": [arrays[prefix + "arg%d" % k] for k in range(info["nargs"])],
                        "out": arrays[prefix + "out"]})
    return entries


def entries_to_arrays(entries):
    """(meta list, arrays) to store entries in a case file."""
    meta, arrays = [], {}
    for i, e in enumerate(entries):
        meta.append({"function": e["function"], "kind": e["kind"], "argnum": e.get("argnum"),
                     "nargs": len(e["args"])})
        for k, a in enumerate(e["args"]):
            arrays["answer.%d.arg%d" % (i, k)] = np.asarray(a, dtype=np.float64)
        arrays["answer.%d.out" % i] = np.asarray(e["out"], dtype=np.float64)
    return meta, arrays
