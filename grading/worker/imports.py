"""Importing the submission: the grader's support modules (data.py, plotting.py, support/) found
before the submission's copies, and each file run statement by statement, so that an error costs
only what it prevents."""
import ast
import importlib
import importlib.util
import os
import signal
import sys
import traceback
import types

from . import observed
from .calls import GradingFailure
from .capture import OutputLimitExceeded


class Deferred(BaseException):
    """Raised by the gradient function while vae.py is imported: a script training at module level
    trains in its observed run, not at import."""


class OutOfTime(BaseException):
    """The observed run's CPU-time allowance ran out (SIGPROF). A BaseException, so that `except
    Exception` in the submission does not swallow it."""


# The support modules' names in the handouts before support/ (their vae.py imports them at the top).
LEGACY = {"float32_gradients": "support.float32_gradients", "fast_numpy": "support.fast_numpy",
          "report": "support.report", "vae_notebook": "support.notebook"}


class _Alias:
    """A loader whose module is another, already importable one (an old name of a support module)."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class SupportFinder:
    """Finds the grader's support modules (data, plotting, support/, and the old names of
    support's modules) before the submission's copies."""

    def __init__(self, root, names):
        self.root, self.names = root, set(names)

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in LEGACY and "support" in self.names:
            return importlib.util.spec_from_loader(fullname, _Alias(LEGACY[fullname]))
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
        observed.OBSERVATION.defer = name == "vae"
        try:
            end = run_statements(tree.body, vars(module), path, future_flags(tree), submission, record=record,
                                 definitions_after_defer=True, fatal="raise")
        finally:
            observed.OBSERVATION.defer = False
        if end.startswith("sys.exit"):
            errors.append("%s.py calls sys.exit() when imported (line %s): the rest of it was not run"
                          % (name, end.rsplit(" ", 1)[-1]))
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module, errors, end



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
            observed.OBSERVATION.statement_calls = observed.OBSERVATION.calls
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
    run = observed.OBSERVATION
    numbers = {k: v[1] for k, v in observed.variables(run.namespace or {}, arrays=False).items()}
    return {"line": int(getattr(node, "lineno", 0)), "at": at or "", "type": type(exc).__name__,
            "message": str(exc)[:300], "calls": run.calls, "saves": len(run.saves),
            "start_calls": run.statement_calls, "numbers": numbers}


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


