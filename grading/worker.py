"""The worker: runs in the sandbox, imports the submission, and answers calls.

Started by sandbox.py as a fresh interpreter (never a fork of the grader: nothing of
the grader's memory exists here), it sees only a copy of the submission, the support
modules the submission may import (data.py, plotting.py, ...), and a scratch folder.
It reads calls on its standard input and writes results on its standard output in
protocol.py's plain format; then file descriptors 0-2 point to /dev/null, so what the
submission prints is captured at Python level, capped, and returned with the result.

Nothing here judges. The worker only computes what the grader asks for -- the
submission's functions called on given arguments, autograd's gradient of one of
them -- and observes two things the grader checks against what it can recompute
itself: the printed output, and how the submission drew Gaussian noise. numpy's
global Gaussian samplers (numpy.random and autograd.numpy.random: randn, normal,
standard_normal), however imported, draw from the noise stream given with each call,
or from numpy's real generator seeded as the call says.
"""
import importlib.util
import io
import os
import sys
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
import numpy as np  # noqa: E402


def _load_private(name):
    """The worker's own modules, under names no submission module can take."""
    spec = importlib.util.spec_from_file_location("_grading_" + name, os.path.join(HERE, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


protocol = _load_private("protocol")
given = _load_private("given")

SUBMISSION_MODULES = ("adam", "vae")   # imported in this order: vae.py may import adam


class GradingFailure(Exception):
    """A call the worker cannot make as asked (a missing function, a module that did not import)."""


class OutputLimitExceeded(BaseException):
    """Raised by print() once a call has printed more than its limit. A BaseException, so
    that `except Exception` in the submission does not swallow it."""


# ---------------------------------------------------------------------------
# Noise: numpy's global Gaussian samplers, fed by the grader

class NoiseSource:
    def __init__(self):
        self.set(None, 0)

    def set(self, stream, seed):
        self.stream = None if stream is None else np.asarray(stream, dtype=np.float64).ravel()
        self.pos = 0
        self.draws = []
        self.overdrawn = False
        self.fallback = np.random.RandomState(seed + 7919)

    def take(self, function, shape):
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        self.draws.append([function, list(shape)])
        if self.stream is None:
            values = _REAL["standard_normal"](size=n)
        else:
            values = self.stream[self.pos:self.pos + n]
            self.pos += len(values)
            if len(values) < n:
                self.overdrawn = True
                values = np.concatenate([values, self.fallback.standard_normal(n - len(values))])
        return values.reshape(shape)

    def unused(self):
        return 0 if self.stream is None else len(self.stream) - self.pos


NOISE = NoiseSource()
_REAL = {}


def _shape_of(size):
    if size is None:
        return None
    return tuple(np.atleast_1d(np.asarray(size, dtype=np.int64)).tolist())


def _randn(*dims):
    values = NOISE.take("randn", dims)
    return float(values) if not dims else values


def _standard_normal(size=None, dtype=None, out=None):
    shape = _shape_of(size)
    values = NOISE.take("standard_normal", shape or ())
    if dtype is not None:
        values = values.astype(dtype)
    return float(values) if shape is None else values


def _normal(loc=0.0, scale=1.0, size=None):
    # Like numpy: loc and scale are plain numbers or arrays (autograd passes them unboxed,
    # and gives the result no gradient, as it does for the real normal).
    loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    shape = _shape_of(size)
    if shape is None:
        shape = np.broadcast_shapes(loc.shape, scale.shape)
    values = loc + scale * NOISE.take("normal", shape)
    return float(values) if np.ndim(values) == 0 else values


_randn.__name__, _standard_normal.__name__, _normal.__name__ = "randn", "standard_normal", "normal"


def patch_rng():
    import numpy.random as nr
    import autograd.numpy.random as anr
    from autograd.extend import primitive
    for name in ("randn", "standard_normal", "normal", "seed"):
        _REAL[name] = getattr(nr, name)
    for name, function in (("randn", _randn), ("standard_normal", _standard_normal), ("normal", _normal)):
        setattr(nr, name, function)
        setattr(anr, name, primitive(function))


# ---------------------------------------------------------------------------
# Printed output, capped

class CappedWriter(io.TextIOBase):
    def __init__(self, keep, abort):
        self.keep_limit, self.abort_limit = keep, abort
        self.reset()

    def reset(self):
        self.kept, self.size, self.total = [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        self.total += len(text)
        if self.size < self.keep_limit:
            self.kept.append(text[:self.keep_limit - self.size])
            self.size += len(self.kept[-1])
        if self.total > self.abort_limit:
            raise OutputLimitExceeded("more than %d characters printed" % self.abort_limit)
        return len(text)

    def text(self):
        return "".join(self.kept)


# ---------------------------------------------------------------------------
# Importing the submission with the grader's support modules

class SupportFinder:
    """Finds the grader's support modules (data, plotting, ...) before the submission's copies."""

    def __init__(self, root, names):
        self.root, self.names = root, set(names)

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in self.names:
            return importlib.util.spec_from_file_location(fullname, os.path.join(self.root, fullname + ".py"))
        return None

    def invalidate_caches(self):
        pass


def stub_module(name, why):
    """Stands for a module that did not import, so that `from adam import adam_step` in vae.py
    still works; calling anything from it fails with the reason."""
    module = types.ModuleType(name)
    module.__file__ = "<%s.py: not graded>" % name

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def unavailable(*args, **kwargs):
            raise GradingFailure("%s.%s is unavailable: %s" % (name, attr, why))
        unavailable.__name__ = attr
        return unavailable
    module.__getattr__ = __getattr__
    return module


def where(tb, submission):
    """'vae.py, line 12, in f -> code' for the innermost frame in the submission's folder."""
    for frame in reversed(traceback.extract_tb(tb)):
        if frame.filename and os.path.dirname(os.path.abspath(frame.filename)) == submission:
            code = (" -> %s" % frame.line.strip()) if frame.line else ""
            return "%s, line %s, in %s%s" % (os.path.basename(frame.filename), frame.lineno, frame.name, code)
    return None


def import_error(name, exc, submission):
    if isinstance(exc, SyntaxError):
        line = (exc.text or "").rstrip()
        return "%s.py does not compile: %s: %s (line %s)%s" % (
            name, type(exc).__name__, exc.msg, exc.lineno, ("\n    " + line.strip()) if line else "")
    if isinstance(exc, OutputLimitExceeded):
        return "%s.py printed %s while importing" % (name, exc)
    if isinstance(exc, MemoryError):
        return "%s.py used more memory than the grading allows while importing" % name
    at = where(exc.__traceback__, submission)
    text = str(exc)[:500] if not isinstance(exc, GradingFailure) else str(exc)
    return "%s.py failed to import: %s%s%s" % (name, "" if isinstance(exc, GradingFailure) else
                                               type(exc).__name__ + ": ", text, ("\n  at " + at) if at else "")


def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


# ---------------------------------------------------------------------------
# Calls

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


# ---------------------------------------------------------------------------
# Stand-ins: for one call, a function of the submission's module replaced by the handout's
# given code, or by a stand-in whose every call (and gradient) the grader answers

class StandIns:
    """Installs the stand-ins a request asks for, {"vae.compute_KL": "answer", "vae.sigmoid": "given"},
    and puts the submission's own functions back afterwards."""

    def __init__(self, worker, spec):
        self.worker, self.spec, self.saved = worker, spec or {}, []

    def __enter__(self):
        for qualified, how in self.spec.items():
            module_name, _, name = qualified.partition(".")
            module = self.worker.modules.get(module_name)
            if module is None:
                continue
            if how == "given" and name in given.GIVEN:
                replacement = getattr(given, name)
            elif how == "answer":
                replacement = self.worker.answered(name)
            else:
                continue
            self.saved.append((module, name, module.__dict__.get(name, _MISSING)))
            setattr(module, name, replacement)
        return self

    def __exit__(self, *exc):
        for module, name, original in reversed(self.saved):
            if original is _MISSING:
                module.__dict__.pop(name, None)
            else:
                setattr(module, name, original)


_MISSING = object()


class SignatureError(TypeError):
    """The function cannot be called with the practical's arguments."""


def check_signature(function, args, kwargs):
    import inspect
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as e:
        error = SignatureError(str(e))
        error.parameters = [p.name for p in signature.parameters.values()
                            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise error


class Worker:
    def __init__(self, config, send, receive):
        self.config, self.send, self.receive = config, send, receive
        self.callbacks = 0
        self.submission = config["submission"]
        self.modules, self.status = {}, {}
        self.writer = CappedWriter(config["keep"], config["abort"])

    def start(self):
        config = self.config
        sys.stdout = sys.stderr = self.writer
        sys.dont_write_bytecode = True
        import warnings
        warnings.simplefilter("default")
        patch_rng()
        sys.path[:] = [self.submission] + [p for p in sys.path if p and os.path.isdir(p)]
        sys.path += [p for p in config["libs"] if p not in sys.path]
        for name in SUBMISSION_MODULES:
            sys.modules.pop(name, None)
        support = config["support_modules"]
        sys.meta_path.insert(0, SupportFinder(config["support"], support))
        if "data" in support:
            try:
                import data
            except Exception:
                data = None
            if data is not None:
                def load_mnist(*args, **kwargs):
                    raise GradingFailure("load_mnist() was called during grading, which only calls the task "
                                         "functions: keep data loading and training under "
                                         "`if __name__ == \"__main__\":`")
                data.load_mnist = load_mnist
        for name in SUBMISSION_MODULES:
            path = os.path.join(self.submission, name + ".py")
            if name in config["excluded"]:
                self.status[name] = config["excluded"][name]
            elif not os.path.exists(path):
                self.status[name] = "%s.py not found in the submission" % name
                if name == "adam":
                    self.status[name] += (" (Task 2 asks for adam_init and adam_step in adam.py; the original "
                                          "practical wrote ADAM inline in the `__main__` block of vae.py, "
                                          "which the grading never runs)")
            else:
                self.send({"type": "importing", "module": name})
                self.writer.reset()
                NOISE.set(None, 0)
                _REAL["seed"](0)
                try:
                    self.modules[name] = load_file(name, path)
                    self.status[name] = None
                except BaseException as e:   # SystemExit too: a module calling exit() is broken
                    self.status[name] = import_error(name, e, self.submission)
            if self.status[name] is not None:
                sys.modules[name] = stub_module(name, self.status[name])
        self.send({"type": "ready", "status": self.status})

    def ask(self, question):
        """A callback: the grader answers a stand-in's call; its value, or GradingFailure."""
        self.callbacks += 1
        if self.callbacks > 2000:
            raise GradingFailure("called the grader's stand-in functions more than 2000 times in one call")
        self.send(dict(question, type="callback", id=self.request_id))
        answer = self.receive()
        if not isinstance(answer, dict) or answer.get("type") != "answer":
            raise GradingFailure("the grader did not answer a stand-in's call")
        if not answer.get("ok"):
            raise GradingFailure(answer.get("error") or "a stand-in's call was refused")
        return answer.get("value")

    def answered(self, name):
        """An autograd primitive named name whose values and gradients come from the grader. The
        posterior sampler still draws its noise here, so the noise stream moves on as it would."""
        from autograd.extend import primitive, defvjp
        worker = self

        def unbox(args):
            return [plain(a) for a in args]

        drawn = {}   # id(output) -> the noise its call drew, for its gradient

        def standin(*args):
            question = {"kind": "call", "function": name, "args": unbox(args)}
            if name == "sample_latent_variables_from_posterior" and len(args) == 1 and np.ndim(args[0]) == 2:
                shape = np.shape(args[0])
                question["noise"] = NOISE.take("randn", (shape[0], shape[1] // 2))
            out = np.asarray(worker.ask(question))
            if "noise" in question:
                if len(drawn) > 256:
                    drawn.clear()
                drawn[id(out)] = (out, question["noise"])
            return out
        standin.__name__ = name
        function = primitive(standin)

        def vjp_maker(argnum):
            def maker(ans, *args):
                def vjp(g):
                    question = {"kind": "vjp", "function": name, "args": unbox(args), "argnum": argnum,
                                "g": plain(g)}
                    if id(ans) in drawn and drawn[id(ans)][0] is ans:
                        question["noise"] = drawn[id(ans)][1]
                    return np.asarray(worker.ask(question))
                return vjp
            return maker
        defvjp(function, *[vjp_maker(i) for i in range(4)])
        return function

    def function(self, module, name):
        if self.status.get(module) is not None or module not in self.modules:
            raise GradingFailure(self.status.get(module) or "%s.py is not available" % module)
        function = getattr(self.modules[module], name, None)
        if function is None or not callable(function):
            text = "%s.py has no function %s" % (module, name)
            if module == "vae" and name in ("generate_from_prior", "reconstruct", "interpolate"):
                text += (" (Task 3). Written for the original practical? Task 3 is now three functions, "
                         "generate_from_prior, reconstruct and interpolate, that the command line calls: "
                         "code in the `__main__` block is never run by the grading")
            raise GradingFailure(text)
        return function

    def handle(self, request):
        op = request.get("op")
        function = self.function(request["module"], request["function"])
        args, kwargs = list(request.get("args") or []), dict(request.get("kwargs") or {})
        check_signature(function, args, kwargs)
        if op == "call":
            repeat = request.get("repeat", 1)
            if repeat == 1:
                return {"value": plain(function(*args, **kwargs))}
            return {"value": [plain(function(*args, **kwargs)) for _ in range(min(int(repeat), 5))]}
        if op == "grad":
            return self.gradient(function, args, kwargs, request)
        raise GradingFailure("unknown request %r" % op)

    def gradient(self, function, args, kwargs, request):
        """autograd's gradient of sum(weights * function(*args)) with respect to args[argnum],
        after one plain call (so that the submission's own errors come first)."""
        from autograd import value_and_grad
        import autograd.numpy as anp
        argnum, weights = request["argnum"], request.get("weights")
        noise = NOISE.stream
        function(*args, **kwargs)

        def objective(x):
            NOISE.set(noise, request.get("seed", 0))
            out = function(*(args[:argnum] + [x] + args[argnum + 1:]), **kwargs)
            return anp.sum(out if weights is None else out * weights)
        try:
            value, gradient = value_and_grad(objective)(args[argnum])
        except (OutputLimitExceeded, MemoryError):
            raise
        except BaseException as e:
            e.phase = "gradient"
            raise
        return {"value": plain(value), "gradient": plain(gradient)}

    def serve(self):
        while True:
            request = self.receive()
            if request is None or request.get("op") == "exit":
                return
            self.writer.reset()
            NOISE.set(request.get("noise"), int(request.get("seed", 0)))
            _REAL["seed"](int(request.get("seed", 0)))
            self.request_id = request.get("id")
            reply = {"type": "reply", "ok": True, "id": self.request_id}
            self.callbacks = 0
            try:
                with StandIns(self, request.get("standins")):
                    reply.update(self.handle(request))
            except BaseException as e:
                reply = {"type": "reply", "ok": False, "id": self.request_id, "error": {
                    "type": type(e).__name__, "message": str(e)[:1500], "phase": getattr(e, "phase", "call"),
                    "parameters": [str(p) for p in getattr(e, "parameters", [])][:20],
                    "where": None if isinstance(e, GradingFailure) else where(e.__traceback__, self.submission)}}
            reply.update(output=self.writer.text(), printed=self.writer.total, draws=NOISE.draws[:50],
                         drawn=int(sum(int(np.prod(s)) for _, s in NOISE.draws)),
                         overdrawn=NOISE.overdrawn, unused=NOISE.unused())
            try:
                self.send(reply)
            except protocol.ProtocolError as e:
                self.send({"type": "reply", "ok": False, "id": self.request_id, "output": "", "printed": 0,
                           "draws": [], "drawn": 0,
                           "overdrawn": False, "unused": 0,
                           "error": {"type": "GradingFailure", "where": None, "phase": "call",
                                     "message": "returned something that cannot be sent back to the grader (%s)"
                                                % e}})


def main():
    # The channel: the standard input and output the sandbox gave us; then 0-2 go to /dev/null.
    channel_in, channel_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)

    def send(value):
        protocol.write_message(channel_out, value)

    def receive():
        try:
            return protocol.read_message(channel_in, None, cap=1 << 30)
        except EOFError:
            return None

    worker = None
    try:
        config = receive()
        if config is None:
            return
        worker = Worker(config, send, receive)
        worker.start()
        worker.serve()
    except BaseException:
        try:
            send({"type": "crash", "traceback": traceback.format_exc()[-2000:]})
        except Exception:
            pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
