"""The grader's handle on one submission: its functions, called in a sandboxed worker.

    sub = Submission("path/to/student")
    sub.call("vae", "compute_KL", encoder_output).value      # numpy arrays, plain values
    sub.grad("vae", "vae_lower_bound", [gen, rec, images], argnum=0, noise=eps)
    sub.close()

A worker (the grading/worker package) is started in the sandbox (sandbox.py) on the first call and
imports the submission's adam.py, then vae.py, with the grader's support modules.
Every reply is read with a deadline for the whole message and a size cap, in
protocol.py's plain format. A call that does not return in time, a worker that dies,
prints without end, uses too much memory or sends a malformed reply costs that call
(GradingFailure, with a message for the student); the next call gets a fresh
worker. A module whose import hangs is left out of later workers, so a hanging
adam.py costs Task 2 only.
"""
import os
import secrets
import time
from pathlib import Path

from grading import GradingFailure, NotGraded, sandbox
from grading.worker import given, protocol

ROOT = Path(__file__).resolve().parent.parent        # the grader's copy: data.py, plotting.py, ...
JOB_TIMEOUT = 10.0       # seconds of the worker's CPU time for one call
IMPORT_TIMEOUT = 20.0    # seconds of its CPU time to import each of the submission's modules
START_TIMEOUT = 60.0     # seconds of its CPU time to start (an interpreter importing numpy)
MESSAGE_TIMEOUT = 30.0   # seconds for a message, once begun, to arrive in full
OBSERVE_CPU = 90.0       # seconds of CPU time for a script's observed run (on the small data set)
OUTPUT_KEEP = 2000       # printed characters kept for the messages
OUTPUT_ABORT = 1000000   # printed characters after which every write raises
REPLY_CAP = 160 << 20    # bytes of one message from the worker
MAX_VALUES = 8 * 10 ** 6  # numbers in one message the grader takes (64 MB as float64; an observed run's
                          # trace holds about 6 million): more is refused before any conversion
SUBMISSION_MODULES = ("adam", "vae")
# By default every call is made with the handout's given functions in place of the submission's.
GIVEN = {"vae.sigmoid": "given", "vae.relu": "given", "vae.neural_net_predict": "given"}
OWN = {}   # no stand-in at all: the submission's own functions throughout


def standins(*answered):
    """The given functions, and the named task functions answered by the grader."""
    return dict(GIVEN, **{"vae." + name: "answer" for name in answered})


# What a submission is graded with, the grader's copies (never the submission's): the practical's
# data and figures, and vae.py's support package (its command line, checkpoints, speed, notebook).
SUPPORT = ("data.py", "plotting.py", "support")


def support_modules(root=ROOT):
    """The paths of SUPPORT in root: files, and a package's folder."""
    return [Path(root) / name for name in SUPPORT]


def memory_text(n):
    return "%g GB" % (n / 2 ** 30) if n >= 2 ** 30 else "%g MB" % (n / 2 ** 20)


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Starved(Exception):
    """A call's wall-clock backstop passed before it used its time: the machine was too busy."""

    def __init__(self, used, wall):
        super().__init__("%.1f s of its own time in %.0f s" % (used, wall))


class WroteTooMuch(Exception):
    """The worker holds more on disk than its scratch size (user mode)."""


class Budget:
    """A call's allowance in the worker's own time: the time it ran or slept, not the time it was
    ready to run but waited for a CPU that neighbours held (the kernel's run delay), nor the time
    the grader took to answer its callbacks. Where the kernel does not report run delays, its CPU
    time. A generous wall-clock backstop ends a call the machine was too busy to run (Starved)."""

    def __init__(self, sub, seconds):
        self.sub, self.seconds = sub, float(seconds)
        self.began = time.monotonic()
        self.cpu, self.waited = sub._cpu(), sub._waited()
        self.answering = 0.0     # seconds the grader spent answering callbacks
        self.looked = self.began
        self.backstop = self.began + max(3 * self.seconds, self.seconds + 60)

    def used(self):
        waited = self.sub._waited()
        if waited is None or self.waited is None:
            return self.sub._cpu() - self.cpu
        return time.monotonic() - self.began - (waited - self.waited) - self.answering

    def check(self):
        """TimeoutError once the worker used its time; Starved once the backstop passed first;
        WroteTooMuch once it holds more than the sandbox's scratch size on disk (user mode, where
        no tmpfs bounds it; looked at every second)."""
        now = time.monotonic()
        if now - self.looked > 1.0:
            self.looked = now
            jail = self.sub._jail
            if jail is not None and jail.written() > sandbox.SCRATCH_SIZE:
                raise WroteTooMuch("it wrote more than %s to disk" % memory_text(sandbox.SCRATCH_SIZE))
        used = self.used()
        if used > self.seconds:
            raise TimeoutError
        if time.monotonic() > self.backstop:
            raise Starved(used, time.monotonic() - self.began)


class Result:
    """What a call returned, read from the worker: nothing here is trusted beyond its type."""

    def __init__(self, reply):
        self.value = reply.get("value")
        self.gradient = reply.get("gradient")
        self.changed = reply.get("changed") is True
        self.output = _text(reply.get("output"))[:OUTPUT_KEEP]
        self.printed = _int(reply.get("printed"))
        self.draws = [d for d in reply.get("draws") or [] if _is_draw(d)] if isinstance(reply.get("draws"), list) else []
        self.drawn = _int(reply.get("drawn"))
        self.overdrawn = reply.get("overdrawn") is True
        self.unused = _int(reply.get("unused"))
        self.expected_draws = None

    def __getitem__(self, key):
        return self.value[key]


def _text(x):
    return x if isinstance(x, str) else ""


def _int(x):
    return x if type(x) is int else 0


def _is_draw(d):
    return (isinstance(d, list) and len(d) == 2 and isinstance(d[0], str) and isinstance(d[1], list)
            and all(type(s) is int for s in d[1]))


class Submission:
    """A folder with vae.py (and adam.py), graded against the grader's support modules."""

    def __init__(self, path, root=ROOT, timeout=JOB_TIMEOUT, import_timeout=IMPORT_TIMEOUT,
                 memory=sandbox.DEFAULT_MEMORY, hide=(), isolation=None):
        self.path = Path(path).absolute()
        self.root = Path(root).resolve()
        self.timeout = float(timeout)
        self.import_timeout = float(import_timeout)
        self.memory = int(memory)
        self.isolation = isolation or sandbox.detect()
        self.hide = [str(p) for p in [self.root, self.path, self.path.parent] + list(hide)]
        self.excluded = {}          # module -> why it is left out (its import hung or killed the worker)
        self.import_status = None   # module -> None if imported, else why it cannot be graded
        self.problems = []          # one line each, for summaries and grade_all
        self.refused = []           # files of the submission not copied (links, ...)
        self.optional = set()       # modules whose absence is no problem (adam, when Task 2 is observed)
        self.import_errors = []     # statements of vae.py or adam.py that failed when imported: the file does
                                    # not run as handed in (the rest of it was graded)
        self._jail = None
        self._proc = None

    # -- the worker

    def _ensure_jail(self):
        if self._jail is None:
            self._jail = sandbox.Jail(self.path, [str(p) for p in support_modules(self.root)], self.isolation,
                                      self.hide, self.memory)
            for name, why in self._jail.refused:
                self._note("%s was not graded: %s" % (name, why))

    def secrets_in_reach(self):
        """Grader paths the worker's user can read (user isolation only; [] elsewhere)."""
        self._ensure_jail()
        return self._jail.readable_secrets()

    def _start(self):
        self._ensure_jail()
        jail = self._jail
        self._proc = jail.popen([jail.path("worker") + "/" + sandbox.LAUNCHER])
        os.set_blocking(self._proc.stdin.fileno(), False)   # every write has a deadline
        from grading import layout
        config = {"submission": jail.path("submission"), "support": jail.path("support"),
                  "observe_seed": layout.SEED, "small_mnist": layout.small_mnist(self.root),
                  "support_modules": [p.stem for p in support_modules(self.root)],
                  "libs": sandbox.library_dirs(), "excluded": dict(self.excluded),
                  "keep": OUTPUT_KEEP, "abort": OUTPUT_ABORT}
        budget = self.budget(max(START_TIMEOUT, self.import_timeout))
        try:
            protocol.write_message(self._proc.stdin.fileno(), config, check=budget.check)
        except (OSError, TimeoutError):
            pass   # the worker failed to start: the read below says why
        current, started = None, set()
        while True:
            try:
                message = self._read(budget)
            except Starved as e:
                self._kill()
                raise NotGraded("not graded: the machine was too busy to start the grading worker (%s)" % e)
            except WroteTooMuch as e:
                self._kill()
                return self._exclude(current or "vae", "importing %s.py: %s" % (current or "vae", e))
            except TimeoutError:
                self._kill()
                if current is None:
                    raise NotGraded("not graded: the sandbox could not start (the grading worker did not start "
                                    "within %g s of CPU time)" % START_TIMEOUT)
                return self._exclude(current, "importing %s.py did not finish within %g s: does it train, load "
                                              "data or loop at import time? Keep such code under "
                                              "`if __name__ == \"__main__\":`" % (current, self.import_timeout))
            except EOFError:
                code, err = self._exit_status()
                if current is None:
                    raise NotGraded("not graded: the sandbox could not start (%s)%s"
                                    % (code, (": " + err) if err else ""))
                return self._exclude(current, "importing %s.py killed the Python process (%s)" % (current, code))
            except protocol.ProtocolError as e:
                self._kill()
                if current is None:
                    raise NotGraded("not graded: the sandbox could not start (a malformed message: %s)" % e)
                return self._exclude(current, "importing %s.py garbled the grader's channel (%s)" % (current, e))
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "importing" and message.get("module") in SUBMISSION_MODULES:
                # Each module's allowance starts once: a module that says so again gains no time.
                if message["module"] not in started:
                    started.add(message["module"])
                    current = message["module"]
                    budget = self.budget(self.import_timeout)
            elif kind == "ready" and isinstance(message.get("status"), dict):
                status = message["status"]
                self.import_status = {m: (_text(status.get(m)) or None) if status.get(m) is not None else None
                                      for m in SUBMISSION_MODULES}
                for module, why in self.import_status.items():
                    if why and not (module in self.optional and why.startswith(module + ".py not found")):
                        self._note(why)
                self._notes(message)
                warnings = message.get("warnings")
                for module in SUBMISSION_MODULES:
                    lines = warnings.get(module) if isinstance(warnings, dict) else None
                    for line in (lines if isinstance(lines, list) else [])[:10]:
                        self._note(_text(line)[:600])
                        if _text(line)[:600] not in self.import_errors:
                            self.import_errors.append(_text(line)[:600])
                return
            elif kind == "crash" and current is None:
                self._kill()
                raise NotGraded("not graded: the sandbox could not start (the grading worker failed before "
                                "importing the submission:\n%s)" % _text(message.get("traceback"))[-1500:])
            else:
                self._kill()
                why = "importing %s.py sent the grader something unexpected" % current if current else \
                    "the grading worker sent something unexpected while starting"
                if current is None:
                    raise GradingFailure(why)
                return self._exclude(current, why)

    def _exclude(self, module, why):
        self.excluded[module] = why
        self._note(why)
        return self._start()

    def _read(self, budget):
        """The worker's next message, within budget (Budget.check)."""
        return protocol.read_message(self._proc.stdout.fileno(), None, REPLY_CAP, check=budget.check)

    def _pids(self):
        """The process the sandbox started, and the worker itself (its child in namespace mode)."""
        pids = [self._proc.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self._proc.pid, self._proc.pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            pass
        return pids

    def _cpu(self):
        """Seconds of CPU time the worker has used; its neighbours' time does not count."""
        if self._proc is None:
            return 0.0
        total = 0
        for pid in self._pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])   # utime, stime
            except (OSError, ValueError, IndexError):
                pass
        return total / TICKS

    def _waited(self):
        """Seconds the worker was ready to run but waited for a CPU (its scheduler's run delay), or
        None where the kernel does not say."""
        if self._proc is None:
            return None
        total, known = 0, False
        for pid in self._pids():
            try:
                with open("/proc/%d/schedstat" % pid) as f:
                    total += int(f.read().split()[1])
                known = True
            except (OSError, ValueError, IndexError):
                pass
        return total / 1e9 if known else None

    def budget(self, seconds):
        return Budget(self, seconds)

    def _exit_status(self):
        """(how the worker ended, what the sandbox said) after its channel closed."""
        proc = self._proc
        try:
            proc.wait(2)
        except Exception:
            pass
        err = ""
        if proc.returncode is not None:
            try:
                err = os.read(proc.stderr.fileno(), 4000).decode(errors="replace").strip().splitlines()
                err = " ".join(line for line in err if line.startswith("sandbox:"))[:300]
            except OSError:
                err = ""
        code = proc.returncode
        self._kill()
        if code is None:
            return "it closed its channel", err
        if code < 0 or code >= 128:
            sig = -code if code < 0 else code - 128
            name = {9: "SIGKILL", 24: "SIGXCPU: its CPU time limit", 6: "SIGABRT", 11: "SIGSEGV",
                    25: "SIGXFSZ: it wrote a file larger than %s" % memory_text(sandbox.FILE_SIZE)}.get(sig, "")
            return "killed by signal %d%s" % (sig, " (%s)" % name if name else ""), err
        return "exit code %d" % code, err

    def _note(self, line):
        if line and line not in self.problems:
            self.problems.append(line)

    def _notes(self, message):
        """What the worker neutralised or changed in the submission's run (a breakpoint skipped, ...)."""
        notes = message.get("notes") if isinstance(message, dict) else None
        for line in (notes if isinstance(notes, list) else [])[:20]:
            self._note("note: " + _text(line)[:300])

    note = _note

    def _kill(self):
        if self._proc is not None:
            self._jail.kill(self._proc)
        self._proc = None

    def close(self):
        if self._proc is not None:
            try:
                protocol.write_message(self._proc.stdin.fileno(), {"op": "exit"}, time.monotonic() + 1)
                self._proc.wait(1)
            except Exception:
                pass
        self._kill()
        if self._jail is not None:
            self._jail.remove()
            self._jail = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def status(self, module):
        """None if module.py imported, else why it cannot be graded."""
        if self.import_status is None:
            self._start()
        return self.import_status.get(module)

    # -- calls

    def request(self, request, what, timeout=None, gradient_hint=None, answer=None, restart=None):
        """Send one request; the Result, or GradingFailure with a message for the student.
        answer(question) answers the stand-ins' calls (see Worker.answered); it returns a value or
        raises GradingFailure, whose message is passed on to the worker (and kept in
        Result.refused). A call the machine was too busy to run is run once more (restart() first
        forgets what answer() saw), then NotGraded."""
        why = self.status(request["module"])
        if why:
            raise GradingFailure("%s: cannot be graded: %s" % (what, why))
        if self._proc is None:
            self._start()
        timeout = self.timeout if timeout is None else timeout
        short = what.split(" on ")[0]
        try:
            return self._request(request, what, timeout, short, gradient_hint, answer)
        except Starved:
            # The machine, not the worker, was slow: once more from a fresh worker, then no grade.
            self._kill()
            if restart is not None:
                restart()
            try:
                return self._request(request, what, timeout, short, gradient_hint, answer)
            except Starved as e:
                self._kill()
                self._note("not graded: %s could not run, the machine was too busy (%s)" % (short, e))
                raise NotGraded("%s: not graded: the grading machine was too busy to run it (%s); this is not "
                                "your code's doing" % (what, e))

    def _request(self, request, what, timeout, short, gradient_hint, answer):
        max_values = MAX_VALUES * (2 if request.get("op") == "observe" else 1)
        if self._proc is None:
            self._start()
        # A fresh random id: a reply or callback that does not carry it was not written for this
        # call (a forged extra reply, a leftover), and is dropped.
        request = dict(request, id=secrets.token_hex(8))
        budget, refused, dropped = self.budget(timeout), [], 0
        try:
            try:
                protocol.write_message(self._proc.stdin.fileno(), request, check=budget.check)
            except (OSError, TimeoutError):
                # The worker died, or is still busy with an earlier call it was given up on (a reply
                # forged early): this call gets a fresh one, and its whole allowance.
                self._kill()
                self._start()
                budget = self.budget(timeout)
                protocol.write_message(self._proc.stdin.fileno(), request, check=budget.check)
            while True:
                reply = self._read(budget)
                values = protocol.count_values(reply)
                if values > max_values:
                    raise protocol.ProtocolError("a message of %d numbers, more than the %d the grader takes"
                                                 % (values, max_values))
                if isinstance(reply, dict) and reply.get("id") != request["id"]:
                    dropped += 1
                    if dropped > 100:
                        raise protocol.ProtocolError("more than 100 messages that answer no call")
                    continue
                if not (isinstance(reply, dict) and reply.get("type") == "callback"):
                    break
                began = time.monotonic()
                response = dict(self._answer(answer, reply, refused), id=request["id"])
                budget.answering += time.monotonic() - began
                protocol.write_message(self._proc.stdin.fileno(), response, check=budget.check)
        except WroteTooMuch as e:
            self._kill()
            self._note("%s: %s" % (short, e))
            raise GradingFailure("%s: %s, and was stopped" % (what, e))
        except TimeoutError:
            self._kill()
            self._note("%s did not return within %g s" % (short, timeout))
            raise GradingFailure("%s did not return within %g s of CPU time (an endless loop? training? printing "
                                 "without end?); it was stopped" % (what, timeout))
        except EOFError:
            code, _ = self._exit_status()
            self._note("%s killed its process (%s)" % (short, code))
            raise GradingFailure("%s killed the Python process that ran it (%s: os._exit, a crash in compiled "
                                 "code, or more than %s of memory?)" % (what, code, memory_text(self.memory)))
        except (protocol.ProtocolError, OSError) as e:
            self._kill()
            self._note("%s garbled the grader's channel" % short)
            raise GradingFailure("%s: its process sent the grader a malformed reply (%s) and was stopped"
                                 % (what, e))
        self._notes(reply)
        extra = _extra(reply)
        if extra and reply.get("ok") is True:
            self._note("note: " + signature_message(what.split("(")[0].split()[-1], extra[1], unused=extra[0]))
        if not isinstance(reply, dict) or reply.get("type") != "reply":
            self._kill()
            if isinstance(reply, dict) and reply.get("type") == "crash":
                raise GradingFailure("%s: the grading worker failed:\n%s" % (what, _text(reply.get("traceback"))))
            raise GradingFailure("%s: its process sent the grader something that is not a reply" % what)
        if reply.get("ok") is True:
            result = Result(reply)
            result.refused = refused
            return result
        raise GradingFailure(describe_error(what, reply, self.memory, gradient_hint))

    @staticmethod
    def _answer(answer, question, refused):
        if answer is None:
            return {"type": "answer", "ok": False, "error": "no function of this call is answered by the grader"}
        try:
            return {"type": "answer", "ok": True, "value": answer(question)}
        except GradingFailure as e:
            refused.append(str(e))
            return {"type": "answer", "ok": False, "error": str(e)}

    def call(self, module, function, *args, kwargs=None, noise=None, seed=0, what=None, repeat=1,
             timeout=None, standins=GIVEN, answer=None):
        """function(*args, **kwargs) from the submission's module; Result.value is what it returned
        (with repeat=n, the list of what n calls with the very same argument objects returned,
        which shows a function that changes its arguments). standins: the functions
        replaced for this call, {"vae.compute_KL": "answer" or "given"} (by default the given
        functions by the handout's); answer(question) answers the "answer" ones."""
        return self.request({"op": "call", "module": module, "function": function, "args": list(args),
                             "kwargs": kwargs or {}, "noise": noise, "seed": seed, "repeat": repeat,
                             "standins": standins},
                            what or "%s()" % function, timeout, answer=answer)

    def observe(self, answer, what="the main block of vae.py", timeout=None, allowance=OBSERVE_CPU, restart=None,
                fix_t=False):
        """Run vae.py's script observed (its main block, or its module-level code), statement by
        statement, with a CPU-time allowance: Result.value is the trace (see grading/observe.py);
        the stand-ins' calls (Task 1's functions) go to answer. fix_t: a t of 0 at the first training
        step becomes 1 (a second run, to check the updates after a t that started at 0)."""
        from grading import layout
        timeout = allowance + 10 if timeout is None else timeout   # the worker stops itself at allowance
        names = ("sample_latent_variables_from_posterior", "bernoulli_log_prob", "compute_KL", "vae_lower_bound")
        return self.request({"op": "observe", "module": "vae", "seed": layout.SEED, "allowance": allowance,
                             "callbacks": 100000, "standins": standins(*names), "fix_t": bool(fix_t)},
                            what, timeout, answer=answer, restart=restart)

    def grad(self, module, function, args, argnum=0, weights=None, noise=None, seed=0, what=None, timeout=None,
             hint=None, standins=GIVEN, answer=None):
        """autograd's gradient, in the worker, of sum(weights * function(*args)) with respect to
        args[argnum], the same noise at every evaluation. Result.value is the objective,
        Result.gradient shaped like args[argnum]. hint: what to tell the student if autograd fails."""
        return self.request({"op": "grad", "module": module, "function": function, "args": list(args),
                             "argnum": argnum, "weights": weights, "noise": noise, "seed": seed,
                             "standins": standins},
                            what or "the gradient of %s()" % function, timeout, hint, answer)


def _extra(reply):
    """(extra parameters given a placeholder, the function's parameters) of a reply, or None."""
    extra = reply.get("extra") if isinstance(reply, dict) else None
    if not isinstance(extra, dict):
        return None
    names, parameters = extra.get("names"), extra.get("parameters")
    if not (isinstance(names, list) and isinstance(parameters, list)):
        return None
    return [n for n in names if isinstance(n, str)][:10], [p for p in parameters if isinstance(p, str)][:20]


def signature_message(function, parameters, unused=(), used=()):
    """What differs from the practical's signature, and what the grading did about it: extra
    parameters given a placeholder that the body never used (unused), or used (the value depends
    on them)."""
    practical = given.SIGNATURES.get(function)
    if practical is None:
        return "%s takes other arguments (%s) than the grading gives it" % (function, ", ".join(parameters))
    text = "%s takes (%s) in the practical; yours is (%s)" % (function, ", ".join(practical), ", ".join(parameters))
    extra = [p for p in parameters[len(practical):]] if len(parameters) > len(practical) else []
    if used:
        text += ": its value depends on %s, which the practical's does not have, so it cannot be graded" % (
            ", ".join(used))
    elif unused:
        one = len(unused) == 1
        text += (": %s, which the practical's does not have, %s never used, so it was graded without %s and lost "
                 "nothing for it (points.json, signatures)" % (", ".join(unused), "is" if one else "are",
                                                                "it" if one else "them"))
    elif extra:
        text += ": it also needs %s" % ", ".join(extra)
    elif len(parameters) < len(practical):
        text += ": it lacks %s" % ", ".join(practical[len(parameters):])
    return text + ". Keep the practical's arguments: the grading and the training loop call it with those"


def describe_error(what, reply, memory=sandbox.DEFAULT_MEMORY, gradient_hint=None):
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    kind, message = (_text(error.get("type")) or "an error")[:100], _text(error.get("message"))[:1500]
    where = _text(error.get("where"))[:300]
    parameters = [p for p in error.get("parameters") or [] if isinstance(p, str)] \
        if isinstance(error.get("parameters"), list) else []
    function = what.split("(")[0].split()[-1] if what else ""
    extra = _extra(reply)
    if kind == "SignatureError":
        text, where = "%s: %s" % (what, signature_message(function, parameters)), ""
    elif extra and extra[0] and (kind == "ExtraArgumentUsed" or (kind == "TypeError" and "Unused" in message)):
        used = [message] if kind == "ExtraArgumentUsed" and message in extra[0] else extra[0]
        text = "%s: %s" % (what, signature_message(function, extra[1], used=used))
    elif kind == "GradingFailure":
        text = "%s: %s" % (what, message)
    elif error.get("phase") == "gradient":
        text = ("%s: autograd cannot differentiate it (%s: %s). %s" % (what, kind, message[:300], gradient_hint or
                "Use autograd.numpy (import autograd.numpy as np) for every operation on arrays that depend on "
                "the parameters, and no in-place assignment, float() or .item()"))
    elif kind == "NotImplementedError" and message.startswith("Task "):   # a handout stub
        text, where = "%s: not implemented yet (NotImplementedError: %s)" % (what, message), ""
    elif kind == "NotImplementedError":
        text = "%s raised NotImplementedError: %s" % (what, message)
    elif kind == "OutputLimitExceeded":
        text = "%s printed more than %d characters and was stopped" % (what, OUTPUT_ABORT)
    elif kind == "MemoryError":
        text = "%s used more than %s of memory and was stopped" % (what, memory_text(memory))
    else:
        text = "%s raised %s: %s" % (what, kind, message)
    if where:
        text += "\n  at %s" % where
    output = _text(reply.get("output"))
    if output:
        text += "\n" + printed_excerpt(output, _int(reply.get("printed")))
    return text


def printed_excerpt(output, total, lines=6):
    shown = output.rstrip("\n").splitlines()[:lines]
    more = "" if total <= len(output) and len(output.splitlines()) <= lines else \
        "\n    ... (%d characters printed in all)" % total
    return "  it printed:\n" + "\n".join("    | " + line[:200] for line in shown) + more
