"""A call of the submission's function with the practical's arguments, and what it returned as
plain data (numbers and arrays: nothing else goes back to the grader)."""
import numpy as np

from . import given


class GradingFailure(Exception):
    """A call the worker cannot make as asked (a missing function, a module that did not import)."""



def plain(value, depth=0):
    """What a call returned, as protocol values; GradingFailure for what is not numbers."""
    if depth > 6:
        raise GradingFailure("returned a structure nested too deeply")
    if isinstance(value, tuple):
        return tuple(plain(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if value is None or type(value) in (bool, int, float):
        return value
    if type(value).__name__ == "ArrayBox" or hasattr(value, "_value"):
        value = getattr(value, "_value", value)
    try:
        array = np.array(value)
    except Exception:
        raise GradingFailure("returned a %s, not numbers" % type(value).__name__)
    if array.dtype.kind not in "biuf":
        raise GradingFailure("returned %s that numpy cannot turn into an array of numbers"
                             % ("a " + type(value).__name__ if array.dtype == object else "values of type %s" % array.dtype))
    return array



class SignatureError(TypeError):
    """The function cannot be called with the practical's arguments."""


class ExtraArgumentUsed(TypeError):
    """A function with a parameter the practical's does not have used it: its value depends on it."""


class Unused:
    """What an extra parameter (one the practical's function does not have, with no default) gets:
    any use of it raises ExtraArgumentUsed, so that a function that never reads it is judged on its
    work, and one whose value depends on it says so."""
    __array_ufunc__ = None      # numpy's operators hand it back to Python, which calls the methods below

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def _used(self, *args, **kwargs):
        raise ExtraArgumentUsed(object.__getattribute__(self, "_name"))

    def __getattr__(self, attribute):
        raise ExtraArgumentUsed(object.__getattribute__(self, "_name"))

    def __repr__(self):
        return "<the extra argument %s>" % object.__getattribute__(self, "_name")


for _name in ("add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv pow rpow matmul rmatmul mod neg pos "
              "abs lt le gt ge eq ne bool int float index len iter getitem setitem contains array call").split():
    setattr(Unused, "__%s__" % _name, Unused._used)
Unused.__hash__ = object.__hash__


def check_signature(function, args, kwargs):
    """kwargs, with a placeholder (Unused) for each parameter the practical's call leaves without a
    value after its own; SignatureError if the call cannot be made."""
    import inspect
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return kwargs
    try:
        signature.bind(*args, **kwargs)
        return kwargs
    except TypeError as e:
        names = [p.name for p in signature.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        error = SignatureError(str(e))
        error.parameters = names
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        raise error
    missing = [p for p in signature.parameters.values() if p.name not in bound.arguments and
               p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    # Only parameters after the practical's: one of its own left without a value means the call
    # bound the arguments to the wrong names.
    if not missing or any(p.kind == p.POSITIONAL_ONLY or p.name in given.SIGNATURES.get(function.__name__, ())
                          for p in missing):
        raise error
    EXTRA.update(names=[p.name for p in missing], parameters=names)
    return dict(kwargs, **{p.name: Unused(p.name) for p in missing})


EXTRA = {}   # this call's extra parameters given a placeholder ("names"), and the function's ("parameters")


def same_values(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


