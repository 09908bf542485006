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
import ast
import importlib.util
import io
import os
import signal
import sys
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import numpy as np
    import autograd  # noqa: F401
except ImportError as e:   # said on stderr, where the grader reads why a sandbox could not start
    os.write(2, ("sandbox: %s in %s: install requirements.txt into that Python\n"
                 % (e, sys.executable)).encode())
    os._exit(1)


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
# Noise: numpy's global generator, its Gaussian samplers fed by the grader

class NoiseSource:
    def __init__(self):
        self.set(None, 0)

    def set(self, stream, seed, generator=None):
        """stream: the values to serve in order; else, with generator (a seed), an independent
        stream the grader can replay from the sizes drawn; else numpy's real generator."""
        self.stream = None if stream is None else np.asarray(stream, dtype=np.float64).ravel()
        self.pos = 0
        self.draws = []      # [sampler, shape] of every draw
        self.phases = []     # the observed run's gradient calls before each draw
        self.overdrawn = False
        self.fallback = np.random.RandomState(seed + 7919)
        self.generator = None if generator is None else np.random.RandomState(int(generator))

    def take(self, function, shape):
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        self.draws.append([function, list(shape)])
        self.phases.append(OBSERVATION.calls)
        if self.generator is not None:
            values = self.generator.standard_normal(n)
        elif self.stream is None:
            values = np.random.RandomState.standard_normal(GLOBAL, size=n)
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
_REAL = {}   # autograd's own grad and value_and_grad, before the observation's stand in


def _shape_of(size):
    if size is None:
        return None
    return tuple(np.atleast_1d(np.asarray(size, dtype=np.int64)).tolist())


def _scalar_or(values, shape):
    return float(values) if shape is None else values


class GraderRandomState(np.random.RandomState):
    """numpy's global generator (np.random.*, autograd.numpy.random.*, and what libraries draw
    from it): every Gaussian sampler draws from NOISE, whichever entry point the submission
    calls; the other samplers are numpy's own."""

    def standard_normal(self, size=None, *args, **kwargs):
        shape = _shape_of(size)
        values = NOISE.take("standard_normal", shape or ())
        dtype = kwargs.get("dtype")
        return _scalar_or(values if dtype is None else values.astype(dtype), shape)

    def randn(self, *dims):
        values = NOISE.take("randn", dims)
        return float(values) if not dims else values

    def normal(self, loc=0.0, scale=1.0, size=None):
        # loc and scale plain numbers or arrays (autograd passes them unboxed, and gives the
        # result no gradient, as it does for the real normal).
        loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        shape = _shape_of(size)
        if shape is None:
            shape = np.broadcast_shapes(loc.shape, scale.shape)
        values = loc + scale * NOISE.take("normal", shape)
        return float(values) if np.ndim(values) == 0 else values

    def multivariate_normal(self, mean, cov, size=None, check_valid="warn", tol=1e-8):
        mean, cov = np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64)
        if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
            return np.random.RandomState.multivariate_normal(self, mean, cov, size, check_valid, tol)
        eps = NOISE.take("multivariate_normal", (_shape_of(size) or ()) + mean.shape)
        try:
            factor = np.linalg.cholesky(cov)     # the identity for N(0, I): eps itself, exactly
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(cov)
            factor = v * np.sqrt(np.clip(w, 0, None))
        return mean + eps @ factor.T


GLOBAL = GraderRandomState(0)


def patch_rng():
    """numpy's global generator becomes GLOBAL: np.random's functions, the state libraries such as
    scipy.stats draw from, and autograd.numpy.random's wrappers."""
    import numpy.random as nr
    import numpy.random.mtrand as mtrand
    import autograd.numpy.random as anr
    from autograd.extend import primitive
    old = mtrand._rand
    for module in (nr, mtrand):
        for name in dir(module):
            attr = getattr(module, name, None)
            if getattr(attr, "__self__", None) is old:
                setattr(module, name, getattr(GLOBAL, name))
                if module is nr and hasattr(anr, name):
                    setattr(anr, name, primitive(getattr(GLOBAL, name)))
    mtrand._rand = GLOBAL


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
            package = os.path.join(self.root, fullname)
            if os.path.isdir(package):
                return importlib.util.spec_from_file_location(fullname, os.path.join(package, "__init__.py"),
                                                              submodule_search_locations=[package])
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


def load_file(name, path, submission):
    """Import path as module name, statement by statement: an error is recorded and the rest of the
    file still runs, so that each function is graded even if a line above it failed. A gradient
    taken at import (a script that trains at module level) is left to its observed run: from there
    the import runs only definitions. Returns (module, [error lines], how the import ended);
    SyntaxError, running out of memory or printing without end fail the import."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            tree = ast.parse(f.read(), path)
        errors = []

        def record(node, exc, folder):
            at = where(exc.__traceback__, folder) or "%s.py, line %d" % (name, node.lineno)
            errors.append("%s.py does not run as handed in: line %d raised %s: %s (the grading ran the rest of "
                          "it)\n  at %s" % (name, node.lineno, type(exc).__name__, str(exc)[:300], at))
        OBSERVATION.defer = name == "vae"
        try:
            end = run_statements(tree.body, vars(module), path, future_flags(tree), submission, record=record,
                                 definitions_after_defer=True, fatal="raise")
        finally:
            OBSERVATION.defer = False
        if end.startswith("sys.exit"):
            errors.append("%s.py calls sys.exit() when imported (line %s): the rest of it was not run"
                          % (name, end.rsplit(" ", 1)[-1]))
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module, errors, end


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
# block, or its module-level code): the gradient function's steps, the networks it uses,
# the images it saves, and the errors it met. Only data: the grader checks all of it.

class Deferred(BaseException):
    """Raised by the gradient function while vae.py is imported: a script training at module level
    trains in its observed run, not at import."""


class OutOfTime(BaseException):
    """The observed run's CPU-time allowance ran out (SIGPROF). A BaseException, so that `except
    Exception` in the submission does not swallow it."""


def unbox(value):
    while hasattr(value, "_value"):
        value = value._value
    return value


def network_copy(params):
    return [(np.array(unbox(W), dtype=np.float64), np.array(unbox(b), dtype=np.float64)) for W, b in params]


class Observation:
    MAX_SAVES, MAX_ROWS, MAX_DRAWS = 60, 120, 20000

    def __init__(self):
        self.reset(0)

    def reset(self, seed, defer=False):
        self.seed, self.defer = seed, defer
        self.calls, self.in_gradient = 0, 0          # calls of the gradient function; inside one now?
        self.saves = []                                   # (images, file name, gradient calls before)
        self.networks = {"decoder": [], "encoder": []}    # used outside a gradient, once training began
        self.errors, self.variables = [], {}
        self.end = "the end of the script"
        self.first = {}       # kind -> the networks of the first training step (the bound's, a copy)
        self.last = {}        # ... and of the last
        self.library = []     # optimisers of autograd.misc.optimizers the run called
        self.checked = {}     # id of a network's first weights -> (the network, usable or not)
        self.namespace = None   # the run's namespace (its variables: ADAM's state, for the grader)
        self.state = None       # its variables at the first training step, before any update
        self.fix_t = False      # a second run: t = 0 at the first step becomes t = 1 (Figure 5's first update)
        self.statement_calls = 0   # gradient calls before the current top-level statement began

    def gradient(self, fun, argnum=0, with_value=False):
        """A stand-in for autograd's grad(fun) (or value_and_grad) that counts its calls: the
        bound's calls made inside one are the training's (the grader records them)."""
        differentiate = _REAL["value_and_grad"](fun, argnum)
        observation = self

        def observed(*args, **kwargs):
            if observation.defer:
                raise Deferred()
            observation.calls += 1
            if observation.calls == 1 and observation.namespace is not None:
                observation.first_step(observation.namespace)
            observation.in_gradient += 1
            try:
                value, g = differentiate(*args, **kwargs)
            finally:
                observation.in_gradient -= 1
            return (value, g) if with_value else g
        return observed

    def first_step(self, namespace):
        """At the first gradient call, before any update: what the run set up (ADAM's m, v and t are
        among its variables), as sizes, zero flags and numbers. With fix_t, a t of 0 becomes 1."""
        self.state = variables(namespace)
        if self.fix_t and type(namespace.get("t")) is int and namespace["t"] == 0:
            namespace["t"] = 1
            note("this second run set t = 1 where the script had t = 0 at the first update, to check the "
                 "updates that follow")

    def save(self, images, file_name, *args, **kwargs):
        if len(self.saves) < self.MAX_SAVES:
            try:
                array = np.array(unbox(images), dtype=np.float64)
                if array.size and array.size % 784 == 0 and array.shape[-1:] in ((784,), (28,)) and array.ndim <= 3:
                    array = array.reshape(-1, 784)   # one image, (n, 784) or (n, 28, 28)
                if array.ndim == 2 and array.shape[1] == 784:
                    self.saves.append((array[:self.MAX_ROWS], str(file_name)[:200], self.calls))
            except (TypeError, ValueError):
                pass

    def network(self, params, inputs):
        """Remember the last distinct decoders and encoders used outside a gradient once training
        began (Task 3's)."""
        if self.in_gradient or not self.calls:
            return
        try:
            first, last = np.shape(params[0][0]), np.shape(params[-1][0])
        except (TypeError, IndexError):
            return
        kind = "decoder" if last[-1:] == (784,) else "encoder" if first[:1] == (784,) else None
        known = self.networks.get(kind)
        if known is not None and not any(_same_network(params, other) for other in known):
            known.append(network_copy(params))
            del known[:-4]   # the last ones: a loop that saves images every epoch used earlier networks

    def started(self, gen_params, rec_params):
        """The bound was given these networks inside a gradient: a training step. Keep a copy of the
        first, and the last."""
        if not self.first:
            self.first = {"decoder": network_copy(gen_params), "encoder": network_copy(rec_params)}
        self.last = {"decoder": gen_params, "encoder": rec_params}

    def healthy(self, params, kind):
        """Finite, and not the same output for every input (cached for each network)."""
        key = id(unbox(params[0][0]))
        if key not in self.checked or self.checked[key][0] is not unbox(params[0][0]):
            net = network_copy(params)
            probe = SMALL_TEST if kind == "encoder" else np.random.RandomState(1).standard_normal(
                (16, net[0][0].shape[0]))
            with np.errstate(all="ignore"):
                out = given.neural_net_predict(net, probe)
                ok = bool(np.all(np.isfinite(out)) and np.max(np.std(out, axis=0)) > 1e-9)
            if len(self.checked) > 64:
                self.checked.clear()
            self.checked[key] = (unbox(params[0][0]), ok)
        return self.checked[key][1]

    def usable(self, params):
        """params; but after a training that left its decoder or encoder broken (non-finite, or the
        same output for every input: a wrong ADAM can do that), a network of that kind as broken is
        replaced by the one training started from: Task 3's code is then still run, and judged, on
        networks that work. A broken network the training did not leave is left as it is."""
        if self.in_gradient or not self.calls or not self.first:
            return params
        try:
            first, last = np.shape(params[0][0]), np.shape(params[-1][0])
        except (TypeError, IndexError):
            return params
        kind = "decoder" if last[-1:] == (784,) else "encoder" if first[:1] == (784,) else None
        start = self.first.get(kind)
        if start is None or [np.shape(W) for W, _ in params] != [W.shape for W, _ in start]:
            return params
        if self.healthy(params, kind) or self.healthy(self.last[kind], kind):
            return params
        note("the training left the %s giving non-finite values or the same output for every input (see "
             "Task 2): Task 3 was run with the networks the training started from" % kind)
        return start

    def trace(self, namespace):
        for name in ("learning_rate", "alpha", "step_size", "lr", "beta1", "beta2", "epsilon", "eps", "latent_dim",
                     "batch_size", "num_epochs"):
            value = namespace.get(name)
            if type(value) in (int, float):
                self.variables[name] = value
        return {"calls": self.calls,
                "saves": [a for a, _, _ in self.saves], "names": [n for _, n, _ in self.saves],
                "save_calls": [c for _, _, c in self.saves], "networks": self.networks,
                "variables": self.variables,
                "draw_shapes": [list(s) for _, s in NOISE.draws[:self.MAX_DRAWS]],
                "draw_calls": NOISE.phases[:self.MAX_DRAWS],
                "errors": self.errors[:20], "notes": list(NOTES), "end": self.end, "library": self.library[:4],
                "state": self.state}


def variables(namespace, arrays=True, limit=200):
    """The run's numbers (and arrays), as plain data: {name: ["number", value]} or
    {name: ["array", size, all zeros, all finite]}."""
    out = {}
    for name, value in list(namespace.items()):
        if len(out) >= limit:
            break
        if name.startswith("_") or isinstance(value, (types.ModuleType, types.FunctionType, type)):
            continue
        value = unbox(value)
        if type(value) in (int, float) or isinstance(value, (np.integer, np.floating)):
            out[name] = ["number", float(value)]
        elif arrays and isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size:
            out[name] = ["array", int(value.size), bool(not np.any(value)), bool(np.all(np.isfinite(value)))]
    return out


def _same_network(a, b):
    try:
        return len(a) == len(b) and all(np.array_equal(unbox(W), W2) and np.array_equal(unbox(c), c2)
                                        for (W, c), (W2, c2) in zip(a, b))
    except (TypeError, ValueError):
        return False


OBSERVATION = Observation()
SMALL_TEST = np.zeros((2, 784))   # the observed run's test images (the config's)
NOTES = []   # what the worker neutralised or changed in the submission's run (breakpoints, input())


def note(text):
    if text not in NOTES and len(NOTES) < 20:
        NOTES.append(text)


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
    import autograd.misc.optimizers as optimizers
    for name in ("adam", "sgd", "rmsprop"):
        def recorded(*args, _real=getattr(optimizers, name), _name=name, **kwargs):
            OBSERVATION.library.append("autograd.misc.optimizers." + _name)
            return _real(*args, **kwargs)
        setattr(optimizers, name, recorded)

    def save_images(images, file_name, *args, **kwargs):
        OBSERVATION.save(images, file_name)

    def plot_images(images, ax=None, *args, **kwargs):   # the original handout's: images drawn on a figure
        OBSERVATION.save(images, "plot_images")
    for module in (data_module, plotting_module):
        if module is not None:
            module.save_images, module.plot_images = save_images, plot_images
    if data_module is not None and small is not None:
        def load_mnist(*args, **kwargs):
            train, test = np.array(small["train"]), np.array(small["test"])
            return (len(train), train, np.eye(10)[small["train_labels"]], test, np.eye(10)[small["test_labels"]])
        data_module.load_mnist = load_mnist


def neutralise_debuggers():
    """A breakpoint or input() left in the code would stop the run (BdbQuit, EOFError): they do nothing."""
    import builtins
    import pdb

    def skip(*args, **kwargs):
        note("a breakpoint (pdb.set_trace() or breakpoint()) left in the code was skipped")
    sys.breakpointhook = skip
    pdb.set_trace = skip
    pdb.Pdb.set_trace = lambda self, *args, **kwargs: skip()
    for name in ("ipdb", "pudb"):
        fake = types.ModuleType(name)
        fake.set_trace = skip
        sys.modules[name] = fake

    def no_input(prompt=""):
        note("input() was answered with an empty line")
        return ""
    builtins.input = no_input


# ---------------------------------------------------------------------------
# Running a script statement by statement: an error costs what it prevents

def future_flags(tree):
    import __future__
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                flags |= getattr(feature, "compiler_flag", 0)
    return flags


def is_main_check(node):
    return isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and \
        isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _out_of_time(signum, frame):
    raise OutOfTime()


def run_statements(nodes, namespace, path, flags, submission, after=None, allowance=None, record=None,
                   definitions_after_defer=False, fatal="record"):
    """Execute each top-level statement of nodes in namespace. An exception is recorded (line, type,
    message) and the next statement runs: a NameError it causes later costs what needed the failed
    one. The run ends at SystemExit (the script's end), at running out of memory, output or CPU
    time (allowance, in seconds of the process's CPU time; with fatal="raise" these propagate),
    and, when definitions_after_defer, a Deferred stops everything but the definitions that
    follow. Returns how it ended."""
    deferred = False
    if allowance is not None:
        signal.signal(signal.SIGPROF, _out_of_time)
        # Repeats every second: a bare `except:` in the submission cannot swallow it for good.
        signal.setitimer(signal.ITIMER_PROF, max(allowance, 0.01), 1.0)
    try:
        for node in nodes:
            if deferred and not isinstance(node, DEFINITIONS):
                continue
            OBSERVATION.statement_calls = OBSERVATION.calls
            try:
                code = compile(ast.Module(body=[node], type_ignores=[]), path, "exec", flags=flags, dont_inherit=True)
                exec(code, namespace)
            except SystemExit:
                return "sys.exit() at line %d" % node.lineno
            except Deferred:
                if not definitions_after_defer:
                    raise
                deferred = True
            except (OutOfTime, OutputLimitExceeded, MemoryError, KeyboardInterrupt) as e:
                if fatal == "raise":
                    raise
                if record is not None:
                    record(node, e, submission)
                return {OutOfTime: "out of CPU time", OutputLimitExceeded: "printing without end",
                        MemoryError: "out of memory"}.get(type(e), type(e).__name__) + " at line %d" % node.lineno
            except BaseException as e:
                if record is None:
                    raise
                record(node, e, submission)
            finally:
                if after is not None:
                    after()
    finally:
        if allowance is not None:
            signal.setitimer(signal.ITIMER_PROF, 0)
    return "deferred" if deferred else "the end of the script"


def error_record(node, exc, submission):
    """What the grader is told of an error: the statement's line, the innermost line of the
    submission in the traceback, the exception, and how far the run had got."""
    at = where(exc.__traceback__, submission)
    numbers = {k: v[1] for k, v in variables(OBSERVATION.namespace or {}, arrays=False).items()}
    return {"line": int(getattr(node, "lineno", 0)), "at": at or "", "type": type(exc).__name__,
            "message": str(exc)[:300], "calls": OBSERVATION.calls, "saves": len(OBSERVATION.saves),
            "start_calls": OBSERVATION.statement_calls, "numbers": numbers}


def observed_statements(path, module_level):
    """The statements of an observed run: the main block's bodies; with module_level, the whole
    file, main blocks spliced in."""
    with open(path, encoding="utf-8", errors="replace") as f:
        tree = ast.parse(f.read(), path)
    nodes = []
    for node in tree.body:
        if is_main_check(node):
            nodes.extend(node.body)
        elif module_level:
            nodes.append(node)
    return nodes, future_flags(tree)


# ---------------------------------------------------------------------------
# Stand-ins: for one call, a function of the submission's module replaced by the handout's
# given code, or by a stand-in whose every call (and gradient) the grader answers

def practical_call(names, args, kwargs):
    """args and kwargs as the practical's positional arguments, or None if they do not fit them."""
    if len(args) > len(names) or set(kwargs) - set(names[len(args):]):
        return None
    values = list(args)
    for name in names[len(args):]:
        if name not in kwargs:
            return None
        values.append(kwargs[name])
    return values


def tolerant(name, ours, own):
    """ours for every call with the practical's arguments; the submission's own definition for a
    call it changed the function for (an extra argument such as normalize=): such a call must not
    crash, and the grader judges what comes of it with the practical's maths."""
    names = given.SIGNATURES.get(name)

    def call(*args, **kwargs):
        values = practical_call(names, args, kwargs) if names else None
        if values is None and name == "vae_lower_bound" and getattr(ours, "answered", False) and len(args) >= 3:
            note("vae_lower_bound was called with more than the practical's (gen_params, rec_params, data): "
                 "the observed run used the practical's bound of those three")
            values = list(args[:3])
        if values is not None or own is None:
            return ours(*values) if values is not None else ours(*args, **kwargs)
        note("%s was called with arguments the handout's does not take: your own %s was used for those calls"
             % (name, name))
        return own(*args, **kwargs)
    call.__name__ = name
    return call


class StandIns:
    """Installs the stand-ins a request asks for, {"vae.compute_KL": "answer", "vae.sigmoid": "given"},
    again after any statement that redefines one (reinstall), and puts the submission's own
    functions back afterwards."""

    def __init__(self, worker, spec):
        self.worker, self.spec, self.saved, self.installed = worker, spec or {}, [], {}

    def __enter__(self):
        for qualified in self.spec:
            self.install(qualified)
        return self

    def install(self, qualified):
        module_name, _, name = qualified.partition(".")
        module, how = self.worker.modules.get(module_name), self.spec[qualified]
        if module is None:
            return
        if how == "given" and name in given.GIVEN:
            ours = observed_predict if name == "neural_net_predict" else getattr(given, name)
        elif how == "answer":
            ours = self.worker.answered(name)
        else:
            return
        own = module.__dict__.get(name, _MISSING)
        if not any(m is module and n == name for m, n, _ in self.saved):
            self.saved.append((module, name, own))
        replacement = tolerant(name, ours, own if own is not _MISSING and callable(own) else None)
        self.installed[qualified] = (module, name, replacement)
        module.__dict__[name] = replacement

    def reinstall(self):
        for qualified, (module, name, replacement) in list(self.installed.items()):
            if module.__dict__.get(name) is not replacement:
                self.install(qualified)

    def __exit__(self, *exc):
        for module, name, original in reversed(self.saved):
            if original is _MISSING:
                module.__dict__.pop(name, None)
            else:
                setattr(module, name, original)


_MISSING = object()


def observed_predict(params, inputs):
    params = OBSERVATION.usable(params)
    OBSERVATION.network(params, inputs)
    return given.neural_net_predict(params, inputs)


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
    EXTRA[:] = [p.name for p in missing]
    EXTRA.append(names)
    return dict(kwargs, **{p.name: Unused(p.name) for p in missing})


EXTRA = []   # this call's extra parameters given a placeholder, then the function's parameter names


def same_values(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


class Worker:
    def __init__(self, config, send, receive):
        self.config, self.send, self.receive = config, send, receive
        self.callbacks, self.callback_limit = 0, 2000
        self.deferred = False     # vae.py took a gradient at import: its module-level code is its run
        self.submission = config["submission"]
        self.modules, self.status, self.warnings = {}, {}, {}
        self.writer = CappedWriter(config["keep"], config["abort"])

    def start(self):
        config = self.config
        sys.stdout = sys.stderr = self.writer
        sys.dont_write_bytecode = True
        import warnings
        warnings.simplefilter("default")
        patch_rng()
        neutralise_debuggers()
        sys.path[:] = [self.submission] + [p for p in sys.path if p and os.path.isdir(p)]
        sys.path += [p for p in config["libs"] if p not in sys.path]
        for name in SUBMISSION_MODULES:
            sys.modules.pop(name, None)
        grader_modules = config["support_modules"]
        sys.meta_path.insert(0, SupportFinder(config["support"], grader_modules))
        data = plotting = None
        if "support" in grader_modules:   # its speed primitives: training at vae.py's pace, whatever the layout
            try:
                __import__("support")
            except Exception:
                pass
        if "data" in grader_modules:
            try:
                import data
            except Exception:
                data = None
        if "plotting" in grader_modules:
            try:
                import plotting
            except Exception:
                plotting = None
        OBSERVATION.reset(int(config.get("observe_seed", 0)))
        patch_observation(data, plotting, config.get("small_mnist"))
        global SMALL_TEST
        SMALL_TEST = np.asarray((config.get("small_mnist") or {}).get("test", np.zeros((2, 784))), dtype=np.float64)
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
                GLOBAL.seed(0)
                try:
                    self.modules[name], self.warnings[name], end = load_file(name, path, self.submission)
                    self.status[name] = None
                    self.deferred = self.deferred or (name == "vae" and end == "deferred")
                except BaseException as e:
                    self.status[name] = import_error(name, e, self.submission)
            if self.status[name] is not None:
                sys.modules[name] = stub_module(name, self.status[name])
        self.send({"type": "ready", "status": self.status, "warnings": self.warnings, "notes": list(NOTES)})

    def ask(self, question):
        """A callback: the grader answers a stand-in's call; its value, or GradingFailure."""
        self.callbacks += 1
        if self.callbacks > self.callback_limit:
            raise GradingFailure("called the grader's stand-in functions more than %d times in one call"
                                 % self.callback_limit)
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
        if name == "vae_lower_bound":
            return self.answered_bound()
        from autograd.extend import primitive, defvjp
        worker = self

        def unbox_args(args):
            return [plain(a) for a in args]

        drawn = {}   # id(output) -> the noise its call drew, for its gradient

        def standin(*args):
            question = {"kind": "call", "function": name, "args": unbox_args(args)}
            if name == "sample_latent_variables_from_posterior" and len(args) == 1 and np.ndim(args[0]) in (1, 2):
                shape = np.shape(args[0])
                question["noise"] = NOISE.take("randn", shape[:-1] + (shape[-1] // 2,))
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
                    question = {"kind": "vjp", "function": name, "args": unbox_args(args), "argnum": argnum,
                                "g": plain(g)}
                    if id(ans) in drawn and drawn[id(ans)][0] is ans:
                        question["noise"] = drawn[id(ans)][1]
                    return np.asarray(worker.ask(question))
                return vjp
            return maker
        defvjp(function, *[vjp_maker(i) for i in range(4)])
        return function

    def answered_bound(self):
        """vae_lower_bound(gen_params, rec_params, data), whose value and gradient the grader computes
        (the practical's bound of the networks given, eq. 14, with noise drawn here as the sampler
        would draw it): in an observed run, training gets the practical's gradient whatever the
        submission's Task 1, and the grader knows every gradient it handed out."""
        from autograd.extend import primitive, defvjp_argnums
        worker, tokens = self, {}

        @primitive
        def bound(data, n_gen, *leaves):
            nets = [[(plain(W), plain(b)) for W, b in zip(part[::2], part[1::2])]
                    for part in (leaves[:2 * n_gen], leaves[2 * n_gen:])]
            if OBSERVATION.in_gradient:
                OBSERVATION.started(*nets)
            width = np.shape(leaves[-2])[-1] if leaves else 0
            shape = np.shape(data)[:-1] + (width // 2,)
            question = {"kind": "bound", "function": "vae_lower_bound", "args": [nets[0], nets[1], plain(data)],
                        "noise": NOISE.take("randn", shape),
                        "step": OBSERVATION.calls if OBSERVATION.in_gradient else None}
            answer = worker.ask(question)
            if not isinstance(answer, dict):
                raise GradingFailure("the grader did not answer vae_lower_bound")
            value = np.float64(answer.get("value"))
            if len(tokens) > 64:
                tokens.clear()
            tokens[id(value)] = (value, answer.get("token"))
            return value

        def vjp_maker(argnums, ans, args, kwargs):
            def vjp(g):
                entry = tokens.get(id(ans))
                token = entry[1] if entry is not None and entry[0] is ans else None
                grads = worker.ask({"kind": "bound_vjp", "function": "vae_lower_bound", "token": token,
                                    "g": float(unbox(g))})
                out = []
                for i in argnums:
                    dtype = np.result_type(args[i], np.float32)
                    if i < 2:
                        out.append(np.zeros(np.shape(args[i])) if i == 0 else 0)
                    elif isinstance(grads, str) and grads == "zero":
                        out.append(np.zeros(np.shape(args[i]), dtype=dtype))
                    else:
                        out.append(np.asarray(grads[i - 2], dtype=dtype))
                return tuple(out)
            return vjp
        defvjp_argnums(bound, vjp_maker)

        def lower_bound(gen_params, rec_params, data):
            leaves = [a for net in (gen_params, rec_params) for W, b in net for a in (W, b)]
            return bound(data, len(gen_params), *leaves)
        lower_bound.__name__, lower_bound.answered = "vae_lower_bound", True
        return lower_bound

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

    def handle(self, request, standins):
        op = request.get("op")
        if op == "observe":
            return self.observe(request, standins)
        function = self.function(request["module"], request["function"])
        args, kwargs = list(request.get("args") or []), dict(request.get("kwargs") or {})
        kwargs = check_signature(function, args, kwargs)
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

    def observe(self, request, standins):
        """Run the submission's script observed: its main block, or its module-level code (a script
        that trains at module level), statement by statement, in its module's namespace (restored
        afterwards), with the request's stand-ins and a CPU-time allowance."""
        module = self.modules.get("vae")
        if module is None:
            raise GradingFailure(self.status.get("vae") or "vae.py is not available")
        path = os.path.join(self.submission, "vae.py")
        with open(path, encoding="utf-8", errors="replace") as f:
            has_main = any(is_main_check(node) for node in ast.parse(f.read(), path).body)
        nodes, flags = observed_statements(path, module_level=self.deferred or not has_main)
        if not nodes:
            raise GradingFailure("vae.py has no `if __name__ == \"__main__\":` block and trains nothing when "
                                 "imported: nothing to observe")
        seed = int(request.get("seed", 0))
        OBSERVATION.reset(seed)
        NOISE.set(None, 0, generator=seed)
        GLOBAL.seed(0)
        self.callback_limit = int(min(max(request.get("callbacks") or 0, 2000), 100000))
        namespace = vars(module)
        before = dict(namespace)
        namespace["__name__"] = "__main__"
        OBSERVATION.namespace, OBSERVATION.fix_t = namespace, request.get("fix_t") is True

        def record(node, exc, folder):
            OBSERVATION.errors.append(error_record(node, exc, folder))
        try:
            OBSERVATION.end = run_statements(nodes, namespace, path, flags, self.submission, after=standins.reinstall,
                                             allowance=float(request.get("allowance") or 60), record=record)
            return {"value": OBSERVATION.trace(namespace)}
        finally:
            namespace.clear()
            namespace.update(before)
            standins.installed.clear()
            OBSERVATION.reset(seed)   # later calls (the function tests) are not part of the run

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
            GLOBAL.seed(int(request.get("seed", 0)))
            self.request_id = request.get("id")
            reply = {"type": "reply", "ok": True, "id": self.request_id}
            self.callbacks, self.callback_limit = 0, 2000
            del NOTES[:], EXTRA[:]
            try:
                with StandIns(self, request.get("standins")) as standins:
                    reply.update(self.handle(request, standins))
            except BaseException as e:
                reply = {"type": "reply", "ok": False, "id": self.request_id, "error": {
                    "type": type(e).__name__, "message": str(e)[:1500], "phase": getattr(e, "phase", "call"),
                    "parameters": [str(p) for p in getattr(e, "parameters", [])][:20],
                    "where": None if isinstance(e, GradingFailure) else where(e.__traceback__, self.submission)}}
            if EXTRA:
                reply["extra"] = {"names": EXTRA[:-1][:10], "parameters": EXTRA[-1][:20]}
            reply.update(output=self.writer.text(), printed=self.writer.total, draws=NOISE.draws[:50],
                         drawn=int(sum(int(np.prod(s)) for _, s in NOISE.draws)),
                         overdrawn=NOISE.overdrawn, unused=NOISE.unused(), notes=list(NOTES))
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
