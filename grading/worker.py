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

    def set(self, stream, seed, generator=None):
        """stream: the values to serve in order; else, with generator (a seed), an independent
        stream the grader can replay from the sizes drawn; else numpy's real generator."""
        self.stream = None if stream is None else np.asarray(stream, dtype=np.float64).ravel()
        self.pos = 0
        self.draws = []
        self.overdrawn = False
        self.fallback = np.random.RandomState(seed + 7919)
        self.generator = None if generator is None else np.random.RandomState(int(generator))

    def take(self, function, shape):
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        self.draws.append([function, list(shape)])
        if self.generator is not None:
            values = self.generator.standard_normal(n)
        elif self.stream is None:
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


def load_file(name, path, observed=False):
    """Import path as module name. observed: a script that trains at module level, run statement
    by statement with the handout's given functions in place of its own (and the networks it uses
    recorded), as its observed run; its own functions are put back afterwards."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if not observed:
            spec.loader.exec_module(module)
            return module
        import ast
        with open(path, encoding="utf-8", errors="replace") as f:
            tree = ast.parse(f.read(), path)
        namespace, own = vars(module), {}
        try:
            for node in tree.body:
                exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), namespace)
                for given_name in given.GIVEN:
                    value = namespace.get(given_name)
                    if value is not None and getattr(value, "__module__", None) == name:
                        own[given_name] = value
                        namespace[given_name] = observed_predict if given_name == "neural_net_predict" \
                            else getattr(given, given_name)
        except SystemExit:
            pass
        finally:
            namespace.update(own)
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
# Observation: what a script written on the original handout does when it runs (its main
# block, or its module-level code): the gradient function's steps, the networks it uses
# after training, and the images it saves. Only data: the grader checks all of it.

class Observation:
    MAX_SAVES, MAX_ROWS, MAX_DRAWS = 60, 120, 20000

    def __init__(self):
        self.reset(0, 256)

    def reset(self, seed, subset):
        self.seed, self.subset = seed, subset
        self.steps, self.saves, self.networks, self.values = [], [], {}, []
        self.in_gradient = 0
        self.variables = {}

    def indices(self, n):
        return np.random.RandomState(self.seed).choice(n, min(n, self.subset), replace=False)

    def gradient(self, fun, argnum=0, with_value=False):
        """A stand-in for autograd's grad(fun) (or value_and_grad) that records every step."""
        differentiate = _REAL["value_and_grad"](fun, argnum)
        observation = self

        def observed(*args, **kwargs):
            observation.in_gradient += 1
            try:
                value, g = differentiate(*args, **kwargs)
            finally:
                observation.in_gradient -= 1
            out = (value, g) if with_value else g
            try:
                observation.values.append(float(value))
            except (TypeError, ValueError):
                pass
            try:
                x = np.asarray(args[argnum], dtype=np.float64).ravel()
                flat = np.asarray(g, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                return out
            if x.shape == flat.shape and len(observation.steps) < 5000:
                idx = observation.indices(len(x))
                observation.steps.append((x[idx].copy(), flat[idx].copy()))
            return out
        return observed

    def save(self, images, file_name, *args, **kwargs):
        if len(self.saves) < self.MAX_SAVES:
            try:
                array = np.asarray(getattr(images, "_value", images), dtype=np.float64)
                if array.ndim == 2 and array.shape[1] == 784:
                    self.saves.append((array[:self.MAX_ROWS].copy(), str(file_name)[:200]))
            except (TypeError, ValueError):
                pass

    def network(self, params, inputs):
        """Remember the last decoder and encoder used outside a gradient (after training: Task 3)."""
        if self.in_gradient or not self.steps:
            return
        try:
            first, last = np.shape(params[0][0]), np.shape(params[-1][0])
        except (TypeError, IndexError):
            return
        kind = "decoder" if last[-1] == 784 else "encoder" if first[0] == 784 else None
        if kind:
            self.networks[kind] = params

    def trace(self, namespace):
        for name in ("learning_rate", "alpha", "beta1", "beta2", "epsilon", "eps", "latent_dim", "batch_size",
                     "num_epochs"):
            value = namespace.get(name)
            if type(value) in (int, float):
                self.variables[name] = value
        nets = {k: [(np.asarray(getattr(W, "_value", W), dtype=np.float64),
                     np.asarray(getattr(b, "_value", b), dtype=np.float64)) for W, b in v]
                for k, v in self.networks.items()}
        return {"steps_x": np.array([x for x, _ in self.steps]) if self.steps else np.zeros((0, 0)),
                "steps_g": np.array([g for _, g in self.steps]) if self.steps else np.zeros((0, 0)),
                "saves": [a for a, _ in self.saves],
                "values": np.array(self.values[:5000], dtype=np.float64),
                "names": [n for _, n in self.saves], "networks": nets, "variables": self.variables,
                "draws": [int(np.prod(s)) for _, s in NOISE.draws[:self.MAX_DRAWS]],
                "draw_shapes": [list(s) for _, s in NOISE.draws[:self.MAX_DRAWS]]}


OBSERVATION = Observation()


def patch_observation(data_module, plotting_module, small):
    """autograd's grad and value_and_grad record their steps; save_images records its images;
    load_mnist gives the grader's small data set."""
    import autograd
    import autograd.differential_operators as ops
    _REAL["grad"], _REAL["value_and_grad"] = ops.grad, ops.value_and_grad

    def grad(fun, argnum=0, *args, **kwargs):
        return OBSERVATION.gradient(fun, argnum)

    def value_and_grad(fun, argnum=0, *args, **kwargs):
        return OBSERVATION.gradient(fun, argnum, with_value=True)
    for module in (autograd, ops):
        module.grad, module.value_and_grad = grad, value_and_grad

    def save_images(images, file_name, *args, **kwargs):
        OBSERVATION.save(images, file_name)
    for module in (data_module, plotting_module):
        if module is not None:
            module.save_images = save_images
    if data_module is not None and small is not None:
        def load_mnist(*args, **kwargs):
            train, test = np.array(small["train"]), np.array(small["test"])
            return (len(train), train, np.eye(10)[small["train_labels"]], test, np.eye(10)[small["test_labels"]])
        data_module.load_mnist = load_mnist


def main_blocks(path):
    """The bodies of `if __name__ == "__main__":` in the file, compiled (with their line numbers)."""
    import ast
    with open(path, encoding="utf-8", errors="replace") as f:
        tree = ast.parse(f.read(), path)
    bodies = []
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and \
                isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__":
            bodies.append(compile(ast.Module(body=node.body, type_ignores=[]), path, "exec"))
    return bodies


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
                replacement = observed_predict if name == "neural_net_predict" else getattr(given, name)
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


def observed_predict(params, inputs):
    OBSERVATION.network(params, inputs)
    return given.neural_net_predict(params, inputs)


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


def same_values(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


class Worker:
    def __init__(self, config, send, receive):
        self.config, self.send, self.receive = config, send, receive
        self.callbacks = 0
        self.import_trace = None
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
        data = plotting = None
        if "data" in support:
            try:
                import data
            except Exception:
                data = None
        if "plotting" in support:
            try:
                import plotting
            except Exception:
                plotting = None
        OBSERVATION.reset(int(config.get("observe_seed", 0)), 256)
        patch_observation(data, plotting, config.get("small_mnist"))
        for name in SUBMISSION_MODULES:
            path = os.path.join(self.submission, name + ".py")
            if name in config["excluded"]:
                self.status[name] = config["excluded"][name]
            elif not os.path.exists(path):
                self.status[name] = "%s.py not found in the submission" % name
                if name == "adam":
                    self.status[name] += (" (Task 2 asks for adam_init and adam_step in adam.py; a vae.py "
                                          "written on the original handout, with ADAM in its main block, is "
                                          "graded by watching that block run)")
            else:
                self.send({"type": "importing", "module": name})
                self.writer.reset()
                NOISE.set(None, 0, generator=config.get("observe_seed", 0) if name == "vae" else None)
                _REAL["seed"](0)
                try:
                    self.modules[name] = load_file(name, path, observed=name == "vae" and config.get("module_script"))
                    self.status[name] = None
                    if name == "vae":   # a script that trained at import: that was its run
                        self.import_trace = OBSERVATION.trace(vars(self.modules[name]))
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
        if op == "observe":
            return self.observe(request)
        function = self.function(request["module"], request["function"])
        args, kwargs = list(request.get("args") or []), dict(request.get("kwargs") or {})
        check_signature(function, args, kwargs)
        if op == "call":
            repeat = request.get("repeat", 1)
            if repeat == 1:
                return {"value": plain(function(*args, **kwargs))}
            before = plain(args)
            values = [plain(function(*args, **kwargs)) for _ in range(min(int(repeat), 5))]
            return {"value": values, "changed": not same_values(before, plain(args))}
        if op == "grad":
            return self.gradient(function, args, kwargs, request)
        raise GradingFailure("unknown request %r" % op)

    def observe(self, request):
        """Run the submission's main block in its module's namespace, observed, with the request's
        stand-ins; a module that trained when imported has its trace already."""
        module = self.modules.get("vae")
        if module is None:
            raise GradingFailure(self.status.get("vae") or "vae.py is not available")
        blocks = main_blocks(os.path.join(self.submission, "vae.py"))
        if not blocks:
            if self.import_trace is None or not len(self.import_trace["steps_x"]):
                raise GradingFailure("vae.py has no `if __name__ == \"__main__\":` block and trains nothing when "
                                     "imported: nothing to observe")
            return {"value": self.import_trace}
        OBSERVATION.reset(int(request.get("seed", 0)), 256)
        NOISE.set(None, 0, generator=request.get("seed", 0))
        namespace = vars(module)
        saved_name = namespace.get("__name__")
        namespace["__name__"] = "__main__"
        try:
            for code in blocks:
                exec(code, namespace)
        except SystemExit:
            pass   # sys.exit() at the end of a script is its end, not an error
        finally:
            namespace["__name__"] = saved_name
        return {"value": OBSERVATION.trace(namespace)}

    def gradient(self, function, args, kwargs, request):
        """autograd's gradient of sum(weights * function(*args)) with respect to args[argnum],
        after one plain call (so that the submission's own errors come first)."""
        import autograd.numpy as anp
        value_and_grad = _REAL["value_and_grad"]   # autograd's own, not the observing one
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
