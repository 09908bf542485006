"""Judging: comparing what a submission returned with what was expected, in the grader,
and the messages the student reads (what is wrong, in the student's terms, and a hint
where the mistake is a known one)."""
import numpy as np

from grading import GradingFailure
from grading.cases import fingerprint
from grading.submission import printed_excerpt


def _fmt(values, n=6, digits=6):
    flat = np.asarray(values, dtype=np.float64).ravel()
    text = ", ".join("%.*g" % (digits, v) for v in flat[:n])
    return "[%s%s]" % (text, ", ..." if flat.size > n else "")


def digits_to_tell(a, b, least=6):
    """How many significant digits show a and b as different (up to 17)."""
    for digits in range(least, 18):
        if "%.*g" % (digits, a) != "%.*g" % (digits, b):
            return digits
    return 17


def numbers(value):
    """value as a float array, or an empty one if it is not numbers: for hints, which never fail."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return np.zeros(0)
    return array


def as_array(value, what):
    if value is None:
        raise GradingFailure("%s returned None: did you forget the return statement?" % what)
    if isinstance(value, (tuple, list)):
        raise GradingFailure("%s returned a %s, expected one numpy array" % (what, type(value).__name__))
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise GradingFailure("%s returned values of type %s, expected numbers" % (what, array.dtype))
    return array.astype(np.float64)


def check_close(obtained, expected, what, rtol=1e-6, atol=1e-6, hints=(), mistakes=(),
                shape_hint=None, result=None, accept_size1_scalar=False, context=""):
    """Shape first, then values (np.testing.assert_allclose's rule); raise GradingFailure
    with expected against obtained, and hints for known mistakes."""
    obtained = as_array(obtained, what)
    expected = np.asarray(expected, dtype=np.float64)
    head = what + (" " + context if context else "")
    if accept_size1_scalar and expected.ndim == 0 and obtained.size == 1:
        obtained = obtained.reshape(())
    lines = []
    if obtained.shape != expected.shape:
        lines.append("%s: wrong shape: expected %s, obtained %s" % (head, expected.shape, obtained.shape))
        if shape_hint:
            hint = shape_hint(expected.shape, obtained.shape)
            if hint:
                lines.append("  hint: " + hint)
        lines += _mistake_hints(obtained, mistakes)
        lines += _draw_notes(result)
        raise GradingFailure("\n".join(lines + _printed(result)))
    try:
        np.testing.assert_allclose(obtained, expected, rtol=rtol, atol=atol)
        return obtained
    except AssertionError:
        pass
    bad = ~np.isclose(obtained, expected, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(obtained - expected)
    diff = np.where(np.isfinite(diff), diff, np.inf)
    worst = np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), obtained.shape) if obtained.ndim else ()
    digits = digits_to_tell(float(expected[worst]), float(obtained[worst]))
    lines.append("%s: wrong values (rtol %g, atol %g): %d of %d differ%s"
                 % (head, rtol, atol, int(bad.sum()), bad.size,
                    ", the largest at index %s: expected %.*g, obtained %.*g"
                    % (tuple(int(i) for i in worst), digits, expected[worst], digits, obtained[worst])
                    if obtained.ndim else ""))
    lines.append("  expected %s" % _fmt(expected, digits=digits))
    lines.append("  obtained %s" % _fmt(obtained, digits=digits))
    if np.all(np.isfinite(expected)) and not np.all(np.isfinite(obtained)):
        lines.append("  %d values are not finite (nan or inf)" % int((~np.isfinite(obtained)).sum()))
    known = _mistake_hints(obtained, mistakes)
    known += _multiple(obtained, expected) if not known else []
    lines += known
    if not known:
        lines += ["  hint: " + h for h in hints if h]
    lines += _draw_notes(result)
    raise GradingFailure("\n".join(lines + _printed(result)))


def _multiple(obtained, expected):
    """A hint when obtained is a round multiple of expected (60000 times, -1 times, ...)."""
    with np.errstate(all="ignore"):
        ratio = obtained / expected
    if not (ratio.size and np.all(np.isfinite(ratio)) and np.all(expected != 0)):
        return []
    r = float(ratio.ravel()[0])
    if r == 0 or not np.allclose(ratio, r, rtol=1e-6, atol=0) or abs(r - 1) < 1e-6:
        return []
    rounded = round(r) if abs(r) >= 1 else None
    inverse = round(1 / r) if abs(r) < 1 else None
    if not ((rounded is not None and abs(r - rounded) <= 1e-6 * abs(r)) or
            (inverse is not None and abs(1 / r - inverse) <= 1e-6 * abs(1 / r))):
        return []
    text = "%s times the expected value" % ("%d" % rounded if rounded is not None else "1/%d" % inverse)
    why = {60000: "the bound is a mean over the images of the batch, not scaled by N = 60000, the number of "
                  "training images",
           -1: "the sign is reversed", 2: "a factor 2 too many (a missing 1/2?)", }.get(rounded)
    return ["  hint: %s%s" % (text, ": " + why if why else "")]


def _mistake_hints(obtained, mistakes):
    lines = []
    for name, hint, shape, fp in mistakes:
        if tuple(obtained.shape) == tuple(shape) and np.allclose(fingerprint(obtained), fp, rtol=1e-6,
                                                                 atol=1e-6, equal_nan=True):
            lines.append("  hint: " + hint)
    return lines


def _draw_notes(result):
    if result is None or not getattr(result, "expected_draws", None):
        return []
    expected = result.expected_draws
    styles = ", ".join("%s%s" % (f, tuple(s)) for f, s in result.draws[:4])
    if not result.draws:
        return ["  note: it drew no Gaussian noise from numpy's global RNG (npr.randn, npr.normal, "
                "np.random.standard_normal): the check feeds the stored noise through those"]
    if result.drawn != expected:
        return ["  note: it drew %d Gaussian values (%s) where one draw of %d values, one per latent "
                "variable of each row, was expected" % (result.drawn, styles, expected)]
    return []


def _printed(result):
    if result is not None and result.output:
        return [printed_excerpt(result.output, result.printed)]
    return []


def check_result(result, case, key=None, hints=(), shape_hint=None, **kwargs):
    """Check one output of a stored case: key defaults to the case's primary output."""
    key = key or case.meta["primary"]
    value = result.value[key] if isinstance(result.value, dict) else result.value
    if case.noise is not None and case.meta.get("draws"):
        result.expected_draws = int(case.meta["draws"])
    mistakes = case.mistakes() if key == case.meta["primary"] else ()
    return check_close(value, case.expected(key), case.meta["what"], rtol=case.meta["rtol"],
                       atol=case.meta["atol"], hints=hints, mistakes=mistakes, shape_hint=shape_hint,
                       result=result, context="on %s" % case.description, **kwargs)

