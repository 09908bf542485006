"""The grading harness: runs a submission's functions in an isolated worker process.

Used by the grading tests (conftest.py, test_grade_*.py), by tools/make_reference.py
(which runs the reference through the very same calls) and by tools/grade_all.py.

Isolation. A submission is never imported into the grading process. A worker
process, forked from it (on Linux; from a fork server elsewhere) once numpy, autograd
and matplotlib are imported (PRELOAD), imports the submission's adam.py and vae.py as
modules -- so `if __name__ == "__main__":` blocks never run -- with the grader's
own modules (data.py, plotting.py, ...: support_modules), and then runs one job at a
time for the grading process. If a job does not return within the timeout, or the worker dies, the
worker is killed and the next job gets a fresh one; a module whose import hangs
is replaced by a stub in later workers, so a hanging adam.py costs Task 2 only.
Printing is captured and capped: past OUTPUT_ABORT characters every further
write raises, which stops a function that prints without end.

Randomness. In the worker, numpy's global Gaussian samplers (numpy.random and
autograd.numpy.random: randn, normal, standard_normal), however imported, draw
from a NoiseSource. A job either hands it a stored noise vector, served in order
whatever the call style (npr.randn(b, L), npr.normal(size=(b, L)),
np.random.standard_normal((b, L)), ...), or lets it draw from numpy's real global
RNG, seeded per job, for the statistical checks.
"""
import atexit
import importlib.util
import io
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
import types
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent          # tests/grading
DEFAULT_ROOT = HERE.parent.parent               # the grader's copy: data.py, plotting.py
DEFAULT_REFERENCE_DIR = HERE.parent / "reference"
POINTS_FILE = HERE / "points.json"

JOB_TIMEOUT = 10.0       # seconds for one job (a few calls of the student's functions)
IMPORT_TIMEOUT = 20.0    # seconds to import the submission's modules
OUTPUT_KEEP = 2000       # printed characters kept for the messages
OUTPUT_ABORT = 1000000   # printed characters after which every write raises
SUBMISSION_MODULES = ("adam", "vae")   # imported in this order: vae.py may import adam
# Imported once, before the first worker is forked (installed packages only: Python
# 3.11's fork server does not see sys.path changes).
PRELOAD = ["numpy", "scipy.special", "autograd", "autograd.numpy", "autograd.numpy.random",
           "matplotlib", "matplotlib.pyplot"]


class GradingFailure(AssertionError):
    """A check failed; str() is the whole message shown to the student."""


class OutputLimitExceeded(BaseException):
    """Raised by print() in a worker once a job has printed OUTPUT_ABORT characters.
    A BaseException, so that `except Exception` in the submission does not swallow it."""


# ---------------------------------------------------------------------------
# The points table (points.json): one place for every test's points

def load_points(path=POINTS_FILE):
    with open(path) as f:
        table = json.load(f)
    by_test, by_function = {}, {}
    for part in table["parts"]:
        part["points"] = sum(part["tests"].values())
        by_function[part["function"]] = part
        for test, points in part["tests"].items():
            if test in by_test:
                raise ValueError("%s: test %s is listed twice" % (path, test))
            by_test[test] = (part, points)
    table["by_test"] = by_test
    table["by_function"] = by_function
    table["total"] = sum(p["points"] for p in table["parts"])
    return table


def points_markdown(table=None):
    """The points table as Markdown, for READMEs."""
    table = table or load_points()
    lines = ["| task | function (file) | points | tests |", "| --- | --- | ---: | --- |"]
    for part in table["parts"]:
        tests = ", ".join("`%s` %g" % (t, p) for t, p in part["tests"].items())
        lines.append("| %s | `%s` (%s) | %g | %s |" % (part["part"], part["function"], part["file"],
                                                       part["points"], tests))
    lines.append("| | **total** | **%g** | |" % table["total"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Parent side: a submission and its worker

class Result:
    """What a job returned: value (numpy arrays, tuples, dicts), printed output,
    and how the job drew Gaussian noise from numpy's global RNG."""

    def __init__(self, reply):
        self.value = reply.get("value")
        self.output = reply.get("output", "")
        self.printed = reply.get("printed", 0)
        self.draws = reply.get("draws", [])
        self.overdrawn = reply.get("overdrawn", False)
        self.unused = reply.get("unused", 0)
        self.expected_draws = None

    def __getitem__(self, key):
        return self.value[key]


def _context():
    """How workers start. On Linux they are forked from this process after it has imported
    PRELOAD once, which makes a worker cost milliseconds. Elsewhere fork is unsafe (macOS)
    or missing (Windows): a fork server with PRELOAD imported, or plain spawn."""
    methods = multiprocessing.get_all_start_methods()
    forced = os.environ.get("GRADING_START_METHOD")   # fork, forkserver or spawn: for testing
    if forced:
        methods = [forced]
    if sys.platform.startswith("linux") and "fork" in methods:
        import importlib
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # Only effective before the server starts: the first Submission starts it.
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


_CTX = None
_LIVE = set()


@atexit.register
def _kill_all():
    for sub in list(_LIVE):
        sub.close()


class Submission:
    """A folder with vae.py (and adam.py) graded against the grader's data.py and plotting.py."""

    def __init__(self, path, root=DEFAULT_ROOT, timeout=JOB_TIMEOUT, import_timeout=IMPORT_TIMEOUT):
        global _CTX
        self.path = Path(path).resolve()
        self.root = Path(root).resolve()
        self.timeout = float(timeout)
        self.import_timeout = float(import_timeout)
        self.excluded = {}        # module -> why it is stubbed (its import hung)
        self.import_status = None  # module -> None if imported, else the reason it is unavailable
        self.problems = []        # one line each, for summaries and grade_all
        self._worker = None
        self._conn = None
        self._workdir = None
        if _CTX is None:
            _CTX = _context()
        _LIVE.add(self)

    # -- worker management

    def _start(self):
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="grading-")
        parent, child = _CTX.Pipe()
        worker = _CTX.Process(target=_worker_main, name="grading-worker",
                              args=(child, str(self.path), str(self.root), dict(self.excluded),
                                    self._workdir), daemon=True)
        # multiprocessing re-runs the parent's __main__ script in the child unless it was run
        # with -m: hide its file name while starting, the worker needs nothing from it.
        main = sys.modules.get("__main__")
        main_file = main.__dict__.pop("__file__", None) if main is not None else None
        try:
            with warnings.catch_warnings():
                # Python >= 3.12 warns that fork() in a process with threads (pytest-timeout's)
                # may deadlock the child; the worker takes no lock those threads could hold.
                warnings.simplefilter("ignore", DeprecationWarning)
                worker.start()
        finally:
            if main_file is not None:
                main.__file__ = main_file
        child.close()
        self._worker, self._conn = worker, parent
        # Starting (forking, or a new interpreter importing numpy and matplotlib with spawn)
        # has its own allowance; each of the submission's modules then gets import_timeout.
        startup = max(60.0, self.import_timeout)
        deadline = time.monotonic() + startup
        current = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not parent.poll(left):
                self._kill()
                if current is None:
                    raise GradingFailure("the grading worker did not start within %g s" % startup)
                why = ("importing %s.py did not finish within %g s: does it train, load data or loop "
                       "at import time? Keep such code under `if __name__ == \"__main__\":`"
                       % (current, self.import_timeout))
                self.excluded[current] = why
                self._note(why)
                return self._start()
            try:
                message = parent.recv()
            except (EOFError, OSError):
                code = worker.exitcode
                self._kill()
                if current is None:
                    raise GradingFailure("the grading worker died on start (exit code %s)" % code)
                why = "importing %s.py killed the Python process (exit code %s)" % (current, code)
                self.excluded[current] = why
                self._note(why)
                return self._start()
            if message[0] == "crash":
                self._kill()
                raise GradingFailure("the grading worker failed before importing the submission:\n"
                                     + message[1])
            if message[0] == "importing":
                current = message[1]
                deadline = time.monotonic() + self.import_timeout
            elif message[0] == "ready":
                self.import_status = message[1]
                for module, why in self.import_status.items():
                    if why:
                        self._note(why)
                return

    def _note(self, line):
        if line not in self.problems:
            self.problems.append(line)

    def _kill(self):
        if self._worker is not None:
            try:
                self._worker.kill()
                self._worker.join(5)
            except Exception:
                pass
        if self._conn is not None:
            self._conn.close()
        self._worker = self._conn = None

    def close(self):
        if self._worker is not None and self._conn is not None:
            try:
                self._conn.send(None)
                self._worker.join(1)
            except Exception:
                pass
        self._kill()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        _LIVE.discard(self)

    def status(self, module):
        """None if module.py imported, else why it cannot be graded."""
        if self.import_status is None:
            self._start()
        return self.import_status.get(module)

    # -- jobs

    def run(self, job, *args, needs=("vae",), noise=None, seed=0, what=None, timeout=None):
        """Run job (a function named job_<job> below) in the worker; return a Result.
        Raises GradingFailure, with a message for the student, if a module it needs did not
        import, the job raised, timed out, printed without end, or killed the worker."""
        what = what or job
        for module in needs:
            why = self.status(module)
            if why:
                raise GradingFailure("%s: cannot be graded: %s" % (what, why))
        if self._worker is None:
            self._start()
        timeout = self.timeout if timeout is None else timeout
        try:
            self._conn.send((job, args, noise, seed))
        except (OSError, EOFError):
            self._kill()
            self._start()
            self._conn.send((job, args, noise, seed))
        if not self._conn.poll(timeout):
            self._kill()
            self._note("%s did not return within %g s" % (what.split(" on ")[0], timeout))
            raise GradingFailure(
                "%s did not return within %g s (an endless loop? training? printing without end?); "
                "it was stopped" % (what, timeout))
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            worker = self._worker
            worker.join(1)
            code = worker.exitcode
            self._kill()
            self._note("%s killed its process (exit code %s)" % (what.split(" on ")[0], code))
            raise GradingFailure("%s killed the Python process that ran it (exit code %s: "
                                 "os._exit, a crash in compiled code, or out of memory?)" % (what, code))
        if not isinstance(reply, dict):   # ("crash", traceback): the harness itself failed
            self._kill()
            raise GradingFailure("%s: the grading worker failed:\n%s" % (what, reply[-1]))
        if reply["ok"]:
            return Result(reply)
        raise GradingFailure(describe_error(what, reply))

    def call(self, module, function, *args, noise=None, seed=0, what=None, **kwargs):
        """function(*args, **kwargs) from the submission's module; Result.value is what it returned."""
        return self.run("call", module, function, args, kwargs, needs=(module,), noise=noise,
                        seed=seed, what=what or "%s()" % function)


def describe_error(what, reply):
    error = reply["error"]
    kind, message = error["type"], error["message"]
    if kind == "GradingFailure":
        text = "%s: %s" % (what, message)
    elif kind == "NotImplementedError" and message.startswith("Task "):   # a handout stub
        text = "%s: not implemented yet (NotImplementedError: %s)" % (what, message)
        error = dict(error, where=None)
    elif kind == "NotImplementedError":
        text = "%s raised NotImplementedError: %s" % (what, message)
    elif kind == "OutputLimitExceeded":
        text = "%s printed more than %d characters and was stopped: %s" % (what, OUTPUT_ABORT, message)
    else:
        text = "%s raised %s: %s" % (what, kind, message)
    if error.get("where"):
        text += "\n  at %s" % error["where"]
    if reply.get("output"):
        text += "\n" + printed_excerpt(reply["output"], reply.get("printed", 0))
    return text


def printed_excerpt(output, total, lines=6):
    shown = output.rstrip("\n").splitlines()[:lines]
    more = "" if total <= len(output) and len(output.splitlines()) <= lines else \
        "\n    ... (%d characters printed in all)" % total
    return "  it printed:\n" + "\n".join("    | " + line[:200] for line in shown) + more


# ---------------------------------------------------------------------------
# Worker side

_REAL = {}     # the real numpy.random functions, saved before patching


class NoiseSource:
    """Where the patched Gaussian samplers get their values during a job."""

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
        self.draws.append((function, shape))
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


def _shape_of(size):
    if size is None:
        return None
    return tuple(np.atleast_1d(np.asarray(size, dtype=np.int64)).tolist())


def _patched_randn(*dims):
    values = NOISE.take("randn", dims)
    return float(values) if not dims else values


def _patched_standard_normal(size=None, dtype=None, out=None):
    shape = _shape_of(size)
    values = NOISE.take("standard_normal", shape or ())
    if dtype is not None:
        values = values.astype(dtype)
    return float(values) if shape is None else values


def _patched_normal(loc=0.0, scale=1.0, size=None):
    # Like numpy: loc and scale must be plain numbers or arrays (autograd passes them
    # unboxed, and gives the result no gradient, as it does for the real normal).
    loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    shape = _shape_of(size)
    if shape is None:
        shape = np.broadcast_shapes(loc.shape, scale.shape)
    values = loc + scale * NOISE.take("normal", shape)
    return float(values) if np.ndim(values) == 0 else values


_patched_randn.__name__ = "randn"
_patched_standard_normal.__name__ = "standard_normal"
_patched_normal.__name__ = "normal"


def _patch_rng():
    import numpy.random as nr
    import autograd.numpy.random as anr
    from autograd.extend import primitive
    for name in ("randn", "standard_normal", "normal", "seed"):
        _REAL[name] = getattr(nr, name)
    for name, function in (("randn", _patched_randn), ("standard_normal", _patched_standard_normal),
                           ("normal", _patched_normal)):
        setattr(nr, name, function)
        setattr(anr, name, primitive(function))


class _CappedWriter(io.TextIOBase):
    def __init__(self):
        self.reset()

    def reset(self):
        self.kept = []
        self.size = 0
        self.total = 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        self.total += len(text)
        if self.size < OUTPUT_KEEP:
            self.kept.append(text[:OUTPUT_KEEP - self.size])
            self.size += len(self.kept[-1])
        if self.total > OUTPUT_ABORT:
            raise OutputLimitExceeded("output capped")
        return len(text)

    def text(self):
        return "".join(self.kept)


def _stub_module(name, why):
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
    module.GRADING_STUB = why
    return module


def support_modules(root):
    """The grader's modules that a submission is graded with: every top-level .py file
    beside the reference's vae.py except vae.py and adam.py themselves."""
    return sorted(p.stem for p in Path(root).glob("*.py")
                  if p.stem not in SUBMISSION_MODULES + ("conftest", "setup"))


class _SupportFinder:
    """Finds the grader's support modules (data, plotting, ...) in its root folder."""

    def __init__(self, root, names):
        self.root, self.names = root, set(names)

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in self.names:
            return importlib.util.spec_from_file_location(fullname, os.path.join(self.root, fullname + ".py"))
        return None

    def invalidate_caches(self):
        pass


def _load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _where(tb_or_frames, submission):
    """'vae.py, line 12, in f: code' for the innermost frame in the submission's folder."""
    frames = traceback.extract_tb(tb_or_frames) if not isinstance(tb_or_frames, list) else tb_or_frames
    for frame in reversed(frames):
        if frame.filename and os.path.dirname(os.path.abspath(frame.filename)) == submission:
            code = (" -> %s" % frame.line.strip()) if frame.line else ""
            return "%s, line %s, in %s%s" % (os.path.basename(frame.filename), frame.lineno, frame.name, code)
    return None


def _import_error(name, exc, submission):
    if isinstance(exc, SyntaxError):
        line = (exc.text or "").rstrip()
        return "%s.py does not compile: %s: %s (line %s)%s" % (
            name, type(exc).__name__, exc.msg, exc.lineno, ("\n    " + line.strip()) if line else "")
    where = _where(exc.__traceback__, submission)
    if isinstance(exc, GradingFailure):
        return "%s.py failed to import: %s" % (name, exc)
    return "%s.py failed to import: %s: %s%s" % (name, type(exc).__name__, str(exc)[:500],
                                                  ("\n  at " + where) if where else "")


def _plain(value, depth=0):
    """Results as picklable numpy values; raises GradingFailure for what is not numbers."""
    if depth > 4:
        raise GradingFailure("returned a structure nested too deeply")
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v, depth + 1) for v in value) if isinstance(value, tuple) \
            else [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if value is None:
        return None
    if type(value).__name__ == "ArrayBox" or hasattr(value, "_value"):
        value = getattr(value, "_value", value)
    try:
        array = np.array(value)
    except Exception:
        raise GradingFailure("returned a %s, not numbers" % type(value).__name__)
    if array.dtype == object:
        raise GradingFailure("returned a %s that numpy cannot turn into an array of numbers"
                             % type(value).__name__)
    return array


class _Modules:
    def __init__(self, modules, status):
        self.modules = modules
        self.status = status

    def get(self, name):
        module = self.modules.get(name)
        if module is None:
            raise GradingFailure(self.status.get(name) or "%s.py is not available" % name)
        return module

    def fn(self, module, name):
        mod = self.get(module)
        function = getattr(mod, name, None)
        if function is None or not callable(function):
            raise GradingFailure(missing_function_message(module, name))
        return function


def missing_function_message(module, name):
    text = "%s.py has no function %s" % (module, name)
    if module == "vae" and name in ("generate_from_prior", "reconstruct", "interpolate"):
        text += (" (Task 3). Written for the original practical? Task 3 is now three functions, "
                 "generate_from_prior, reconstruct and interpolate, that the command line calls: "
                 "code in the `__main__` block is never run by the grading")
    return text


def _worker_main(conn, submission, root, excluded, workdir):
    try:
        _serve(conn, submission, root, excluded, workdir)
    except BaseException:
        try:
            conn.send(("crash", traceback.format_exc()[-2000:]))
        except Exception:
            pass
    finally:
        os._exit(0)


def _serve(conn, submission, root, excluded, workdir):
    # Whatever the submission writes goes to a capped buffer; fds 1 and 2 to /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    writer = _CappedWriter()
    sys.stdout = sys.stderr = writer
    sys.dont_write_bytecode = True   # no __pycache__ in the submission's folder
    os.chdir(workdir)                # stray files (figures...) go to a scratch folder
    import warnings
    warnings.simplefilter("default")

    _patch_rng()
    # Module search path: the submission first; never a folder with another vae.py or
    # adam.py (the grader's own reference, the current directory).
    def foreign(entry):
        entry = os.path.abspath(entry or ".")
        return entry != submission and any(os.path.exists(os.path.join(entry, m + ".py"))
                                           for m in SUBMISSION_MODULES)
    sys.path[:] = [submission] + [p for p in sys.path if not foreign(p)]
    for name in SUBMISSION_MODULES:
        sys.modules.pop(name, None)
    # The grader's own modules beside its vae.py (data.py, plotting.py, ...) are found first,
    # whatever the submission's folder holds: the submission is graded with them.
    support = support_modules(root)
    for name in support:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, _SupportFinder(root, support))
    data = None
    if "data" in support:
        try:
            import data
        except Exception:
            pass
    if data is not None:
        def load_mnist(*args, **kwargs):
            raise GradingFailure("load_mnist() was called during grading, which only calls the task "
                                 "functions: keep data loading and training under "
                                 "`if __name__ == \"__main__\":`")
        data.load_mnist = load_mnist

    modules, status = {}, {}
    for name in SUBMISSION_MODULES:
        path = os.path.join(submission, name + ".py")
        if name in excluded:
            status[name] = excluded[name]
        elif not os.path.exists(path):
            status[name] = "%s.py not found in %s" % (name, submission)
            if name == "adam":
                status[name] += (" (Task 2 asks for adam_init and adam_step in adam.py; the original "
                                 "practical wrote ADAM inline in the `__main__` block of vae.py, which "
                                 "the grading never runs)")
        else:
            conn.send(("importing", name))
            writer.reset()
            NOISE.set(None, 0)
            _REAL["seed"](0)
            try:
                modules[name] = _load_file(name, path)
                status[name] = None
            except OutputLimitExceeded:
                status[name] = "%s.py printed more than %d characters while importing" % (name, OUTPUT_ABORT)
            except BaseException as e:   # SystemExit included: a module calling exit() is broken
                status[name] = _import_error(name, e, submission)
        if status[name] is not None:
            # Keep `import adam` / `from adam import adam_step` in vae.py working.
            sys.modules[name] = _stub_module(name, status[name])
    conn.send(("ready", status))
    mods = _Modules(modules, status)

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        job, args, noise, seed = request
        writer.reset()
        NOISE.set(noise, seed)
        _REAL["seed"](seed)
        reply = {"ok": True}
        try:
            reply["value"] = _plain(JOBS[job](mods, *args))
        except BaseException as e:
            reply = {"ok": False, "error": {
                "type": type(e).__name__,
                "message": str(e)[:1500],
                "where": None if isinstance(e, GradingFailure) else _where(e.__traceback__, submission)}}
        reply.update(output=writer.text(), printed=writer.total, draws=NOISE.draws,
                     overdrawn=NOISE.overdrawn, unused=NOISE.unused())
        try:
            conn.send(reply)
        except Exception as e:   # an unpicklable value
            conn.send({"ok": False, "error": {"type": "GradingFailure", "where": None,
                                              "message": "returned something that cannot be sent "
                                                         "back to the grader (%s)" % e}})


# ---------------------------------------------------------------------------
# Jobs: run in the worker. mods.fn(module, name) is the submission's function.

def job_call(mods, module, name, args, kwargs):
    return mods.fn(module, name)(*args, **kwargs)


def _structure(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise GradingFailure("%s should be the tuple (m, v, t); got %s" % (what, _kind(value)))
    return value


def _kind(value):
    if isinstance(value, (tuple, list)):
        return "a %s of %d items" % (type(value).__name__, len(value))
    return "a %s" % type(value).__name__


def job_adam_init(mods, params):
    return dict(zip(("m", "v", "t"), _structure(mods.fn("adam", "adam_init")(params),
                                                "adam_init(params)'s result")))


def job_adam_step(mods, params, grad, m, v, t, hyper):
    result = mods.fn("adam", "adam_step")(params, grad, (m, v, t), **hyper)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise GradingFailure("adam_step should return (new_params, (m, v, t)); got %s" % _kind(result))
    new_m, new_v, new_t = _structure(result[1], "the new state (second item of adam_step's result)")
    return {"params": result[0], "m": new_m, "v": new_v, "t": new_t}


def job_adam_trajectory(mods, x0, a, c, steps, hyper):
    """Minimise f(x) = sum a (x - c)^2 / 2 from x0 with the submission's adam_step,
    starting from Figure 5's state (0, 0, 0). Returns every iterate, (steps, n)."""
    adam_step = mods.fn("adam", "adam_step")
    x, state, path = np.array(x0), (np.zeros_like(x0), np.zeros_like(x0), 0), []
    for _ in range(steps):
        result = adam_step(x, a * (x - c), state, **hyper)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise GradingFailure("adam_step should return (new_params, (m, v, t)); got %s" % _kind(result))
        x, state = np.asarray(result[0], dtype=np.float64), result[1]
        path.append(x)
    return {"params": np.array(path)}


def job_adam_inputs_unchanged(mods, params, grad, m, v, t, hyper):
    copies = [np.array(a) for a in (params, grad, m, v)]
    mods.fn("adam", "adam_step")(params, grad, (m, v, t), **hyper)
    return {"changed": [name for name, a, b in zip(("params", "grad", "m", "v"), (params, grad, m, v), copies)
                        if not np.array_equal(a, b)]}


def job_sample_grad(mods, encoder_output, weights):
    from autograd import grad
    import autograd.numpy as anp
    sample = mods.fn("vae", "sample_latent_variables_from_posterior")
    sample(encoder_output)          # its own errors first (NotImplementedError, ...)
    noise = NOISE.stream
    NOISE.set(noise, 0)

    def objective(e):
        return anp.sum(sample(e) * weights)
    try:
        g = grad(objective)(encoder_output)
    except Exception as e:
        raise GradingFailure("autograd cannot differentiate z with respect to encoder_output (%s: %s): "
                             "compute z = mean + sigma * eps with autograd.numpy, eps = npr.randn(...); "
                             "npr.normal(mean, sigma) has no gradient" % (type(e).__name__, str(e)[:200]))
    return {"out": g}


def job_elbo_consistency(mods, gen, rec, data, noise):
    """The submission's vae_lower_bound, and the same bound assembled from its own Task 1
    functions, both with the same noise."""
    import autograd.numpy as anp
    elbo = mods.fn("vae", "vae_lower_bound")(gen, rec, data)
    first_draws = list(NOISE.draws)
    NOISE.set(noise, 0)
    predict = mods.fn("vae", "neural_net_predict")
    encoder_output = predict(rec, data)
    z = mods.fn("vae", "sample_latent_variables_from_posterior")(encoder_output)
    log_px = mods.fn("vae", "bernoulli_log_prob")(data, predict(gen, z))
    kl = mods.fn("vae", "compute_KL")(encoder_output)
    return {"elbo": elbo, "sum": anp.sum(log_px - kl), "mean": anp.mean(log_px - kl),
            "log_px": log_px, "kl": kl, "first_draws": len(first_draws)}


def _nets_axpy(nets, direction, h):
    return [[(W + h * dW, b + h * db) for (W, b), (dW, db) in zip(net, dnet)]
            for net, dnet in zip(nets, direction)]


def job_elbo_gradcheck(mods, gen, rec, data, noise, seed, h):
    """autograd's directional derivatives of the submission's vae_lower_bound (same noise
    at every evaluation) against central finite differences, along three random directions."""
    from autograd import grad
    import autograd.numpy as anp
    lower_bound = mods.fn("vae", "vae_lower_bound")

    def f(nets):
        NOISE.set(noise, 0)
        return anp.sum(lower_bound(nets[0], nets[1], data))

    nets = [gen, rec]
    try:
        g = grad(f)(nets)
    except GradingFailure:
        raise
    except Exception as e:
        raise GradingFailure("autograd could not differentiate it: %s: %s. Use autograd.numpy (import "
                             "autograd.numpy as np) for every operation on arrays that depend on the "
                             "parameters, and no in-place assignment, float() or .item()"
                             % (type(e).__name__, str(e)[:300]))
    rng = np.random.RandomState(seed)
    analytic, numeric = [], []
    for which in ("both", "decoder", "encoder"):
        direction = [[(rng.standard_normal(W.shape), rng.standard_normal(b.shape)) for W, b in net]
                     for net in nets]
        for i, name in enumerate(("decoder", "encoder")):
            if which not in ("both", name):
                direction[i] = [(0 * dW, 0 * db) for dW, db in direction[i]]
        try:
            analytic.append(sum(float(np.sum(np.asarray(gW) * dW) + np.sum(np.asarray(gb) * db))
                                for gnet, dnet in zip(g, direction)
                                for (gW, gb), (dW, db) in zip(gnet, dnet)))
        except Exception as e:
            raise GradingFailure("autograd's gradient does not have the shape of the parameters (%s)" % e)
        numeric.append((float(f(_nets_axpy(nets, direction, h))) - float(f(_nets_axpy(nets, direction, -h))))
                       / (2 * h))
    return {"analytic": np.array(analytic), "numeric": np.array(numeric)}


def job_decoded_latents(mods, function, args, latent_dim):
    """Call generate_from_prior or reconstruct with an identity decoder (its first latent_dim
    pixels are sigmoid(z)); return those pixels, the whole shape and the value range."""
    out = np.asarray(_plain(mods.fn("vae", function)(*args)), dtype=np.float64)
    if out.ndim != 2 or out.shape[1] < latent_dim:
        raise GradingFailure("returned shape %s; expected (n, %d)" % (out.shape, 784))
    return {"pixels": out[:, :latent_dim], "shape": np.array(out.shape),
            "range": np.array([np.nanmin(out), np.nanmax(out)])}


JOBS = {name[4:]: f for name, f in list(globals().items()) if name.startswith("job_")}


# ---------------------------------------------------------------------------
# Stored reference cases (tests/reference/*.npz, written by tools/make_reference.py)

FINGERPRINT_SIZE = 256


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
            with np.load(self.dir / "nets.npz") as f:
                self._nets = nets_from_arrays({k: f[k] for k in f.files})
        return self._nets

    def case(self, name):
        if name not in self._cases:
            path = self.dir / (name + ".npz")
            if not path.exists():
                raise GradingFailure("reference file %s is missing: run tools/make_reference.py" % path)
            with np.load(path, allow_pickle=False) as f:
                self._cases[name] = Case(name, {k: f[k] for k in f.files}, self.nets)
        return self._cases[name]

    def names(self):
        return sorted(p.stem for p in self.dir.glob("*.npz") if p.stem != "nets")


STORED = "stored"


def run_case(sub, case, noise=STORED, what=None):
    """Run a stored case's call on a submission; Result.value is a dict of outputs
    ({"out": ...} for a plain call)."""
    call = case.meta["call"]
    if isinstance(noise, str) and noise == STORED:
        noise = case.noise
    args = case.args()
    if call["job"] == "call":
        args = [call["module"], case.meta["function"], args, {}]
    result = sub.run(call["job"], *args, needs=(call["module"],), noise=noise,
                     what=what or case.meta["what"])
    if call["job"] == "call":
        result.value = {"out": result.value}
    return result


# ---------------------------------------------------------------------------
# Checks: compare a result with the expected values; messages for the student

def _fmt(values, n=6):
    flat = np.asarray(values, dtype=np.float64).ravel()
    text = ", ".join("%.6g" % v for v in flat[:n])
    return "[%s%s]" % (text, ", ..." if flat.size > n else "")


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
    lines.append("%s: wrong values (rtol %g, atol %g): %d of %d differ%s"
                 % (head, rtol, atol, int(bad.sum()), bad.size,
                    ", the largest at index %s: expected %.6g, obtained %.6g"
                    % (tuple(int(i) for i in worst), expected[worst], obtained[worst]) if obtained.ndim else ""))
    lines.append("  expected %s" % _fmt(expected))
    lines.append("  obtained %s" % _fmt(obtained))
    if np.all(np.isfinite(expected)) and not np.all(np.isfinite(obtained)):
        lines.append("  %d values are not finite (nan or inf)" % int((~np.isfinite(obtained)).sum()))
    known = _mistake_hints(obtained, mistakes)
    lines += known
    if not known:
        lines += ["  hint: " + h for h in hints if h]
    lines += _draw_notes(result)
    raise GradingFailure("\n".join(lines + _printed(result)))


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
    drawn = sum(int(np.prod(shape)) for _, shape in result.draws)
    styles = ", ".join("%s%s" % (f, tuple(s)) for f, s in result.draws[:4])
    if not result.draws:
        return ["  note: it drew no Gaussian noise from numpy's global RNG (npr.randn, npr.normal, "
                "np.random.standard_normal): the check feeds the stored noise through those"]
    if drawn != expected:
        return ["  note: it drew %d Gaussian values (%s) where one draw of %d values, one per latent "
                "variable of each row, was expected" % (drawn, styles, expected)]
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
