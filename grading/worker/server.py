"""The worker's server: started in the sandbox (through the launcher grading/sandbox.py writes),
it imports the submission and answers calls.

It reads calls on its standard input and writes results on its standard output in protocol.py's
plain format; then file descriptors 0-2 point to /dev/null, so what the submission prints is
captured at Python level (capture.py), capped, and returned with the result. Nothing here
judges: it computes what the grader asks for -- the submission's functions called on given
arguments, autograd's gradient of one of them, a script's observed run -- and observes what the
grader checks against what it can recompute itself: the printed output, and how the submission
drew Gaussian noise (noise.py).
"""
import os
import sys
import traceback

try:
    import numpy as np
    import autograd  # noqa: F401
except ImportError as e:   # said on stderr, where the grader reads why a sandbox could not start
    os.write(2, ("sandbox: %s in %s: install requirements.txt into that Python\n"
                 % (e, sys.executable)).encode())
    os._exit(1)

import ast  # noqa: E402

from . import observed, protocol  # noqa: E402
from .calls import EXTRA, GradingFailure, check_signature, plain, same_values  # noqa: E402
from .capture import CappedWriter, OutputLimitExceeded  # noqa: E402
from .imports import (SupportFinder, error_record, import_error, is_main_check, load_file,  # noqa: E402
                      observed_statements, run_statements, stub_module, where)
from .noise import GLOBAL, NOISE, patch_rng  # noqa: E402
from .observed import _REAL, NOTES, OBSERVATION, neutralise_debuggers, patch_observation  # noqa: E402
from .standins import StandIns  # noqa: E402

SUBMISSION_MODULES = ("adam", "vae")   # imported in this order: vae.py may import adam


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
        observed.SMALL_TEST = np.asarray((config.get("small_mnist") or {}).get("test", np.zeros((2, 784))), dtype=np.float64)
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
            del NOTES[:]
            EXTRA.clear()
            try:
                with StandIns(self, request.get("standins")) as standins:
                    reply.update(self.handle(request, standins))
            except BaseException as e:
                reply = {"type": "reply", "ok": False, "id": self.request_id, "error": {
                    "type": type(e).__name__, "message": str(e)[:1500], "phase": getattr(e, "phase", "call"),
                    "parameters": [str(p) for p in getattr(e, "parameters", [])][:20],
                    "where": None if isinstance(e, GradingFailure) else where(e.__traceback__, self.submission)}}
            if EXTRA:
                reply["extra"] = {"names": EXTRA["names"][:10], "parameters": EXTRA["parameters"][:20]}
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

