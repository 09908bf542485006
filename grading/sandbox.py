"""The sandbox: where and as whom the submission's code runs.

The grader never imports a submission. Each worker is a fresh Python interpreter
(the grading/worker package) started through this file's boot step, which, before any of the
submission's code exists in the process, puts it in the strongest isolation the
machine allows:

namespace  Linux mount, PID, network, IPC and UTS namespaces (as root, or as any user
           through a user namespace). The worker's file system is a new, read-only
           root holding only the system folders (/usr, /etc, ...), the Python
           installation, and /grading: a copy of the submission, the support modules,
           the worker's own code, and a scratch folder (its working directory and the
           only writable place, with /tmp). The grader's repository, reference
           outputs, results and other submissions are not there at all; folders of
           the grader that lie inside a mounted tree are covered by empty ones. No
           network. The worker is PID 1 of its namespace: when it ends, every process
           it started ends with it. As root it also runs as a dedicated unprivileged
           user id.
user       When namespaces are refused (a container without CAP_SYS_ADMIN, e.g.
           Gradescope's) and the grader is root: the worker runs as a dedicated
           unprivileged user id, in a jail folder only that id can enter. The grader's
           files are protected by their permissions: the grader checks, as that user,
           which of them it can read, and reports any (make_autograder's run_autograder
           removes other users' access first).
none       Neither is possible (not root and no user namespaces, e.g. macOS): the
           worker is still a separate process with the limits below, but can read and
           write what the grader can. Grading prints a loud warning and records
           "isolation": "none".

In every mode: resource limits (address space, CPU time, file size, processes, open
files, no core dumps), its own session and process group, no file descriptor but its
channel (standard input and output), killed when the grader dies (parent-death
signal), and every process of the worker killed after its last call or a timeout
(the namespace, the dedicated user id, or at least the process group).
GRADING_ISOLATION=namespace|user|none forces a mode (for tests; a forced mode that
does not work fails at start).
"""
import ctypes
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("namespace", "user", "none")
DEFAULT_MEMORY = 2 << 30          # bytes of address space
DEFAULT_CPU = 600                 # seconds of CPU time for one worker's whole life
FILE_SIZE = 64 << 20              # bytes: the largest file the worker may write
SCRATCH_SIZE = 64 << 20           # bytes: all it may write (namespace mode: tmpfs; user mode: watched)
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")   # where any user may write (user mode)
OPEN_FILES = 256
PROCESSES = 64                    # tasks (processes and threads) of the worker's user
UID_BASE = 1500000000             # dedicated user ids: UID_BASE + a number unique to the grader process
WORKER_PACKAGE = "_grading_worker"   # grading/worker in the sandbox: a name no submission module takes
LAUNCHER = "launch.py"                # beside it: what the worker's interpreter runs
# The interpreter runs isolated (-I: no script folder on sys.path), so the launcher loads the
# package from beside itself; its modules then import each other through the package.
LAUNCH = """\
import importlib.util, os, sys
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_grading_worker")
spec = importlib.util.spec_from_file_location("_grading_worker", os.path.join(here, "__init__.py"),
                                              submodule_search_locations=[here])
sys.modules["_grading_worker"] = package = importlib.util.module_from_spec(spec)
spec.loader.exec_module(package)
from _grading_worker.server import main
main()
"""
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME = 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


class SandboxError(Exception):
    """The worker could not be started as asked."""


# ---------------------------------------------------------------------------
# Grader side: which isolation, the jail, starting and ending a worker

_detected = {}
_counter = [0]


def worker_uid():
    """A user id no one else uses, different for every worker of this grader process (so that
    killing everything of that id never touches another worker of a parallel class run)."""
    _counter[0] += 1
    return UID_BASE + ((os.getpid() & 0x3fffff) << 6) + (_counter[0] & 0x3f)


def library_dirs():
    """Folders of the Python installation the worker needs: prefixes, site-packages, and the
    folders holding the packages a submission is graded with."""
    import site
    import sysconfig
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(python_path()),
            os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    dirs.update(sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:
        pass
    for name in ("numpy", "autograd", "scipy", "matplotlib"):
        try:
            spec = __import__("importlib.util").util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            dirs.add(os.path.dirname(os.path.dirname(spec.origin)))
    dirs = sorted(os.path.realpath(d) for d in dirs if d and os.path.isdir(d))
    # Drop a folder inside another one of the list, and anything under the system folders.
    out = []
    for d in dirs:
        if any(d == o or d.startswith(o.rstrip("/") + "/") for o in out):
            continue
        if any(d == "/" + s or d.startswith("/%s/" % s) for s in SYSTEM_DIRS):
            continue
        out.append(d)
    return out


def python_path():
    """The running interpreter, its folders resolved (a symlinked prefix is bound under its real
    path) but the file itself kept: a venv's bin/python must stay beside its pyvenv.cfg."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


def blas_env(threads):
    """The environment that gives a process started with it `threads` BLAS threads."""
    return {name: str(threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def limit_blas(threads):
    """`threads` BLAS threads for this process (numpy is loaded already) and those it starts.

    Processes that run side by side, one per core, each with a BLAS thread per core,
    oversubscribe the cores, and OpenBLAS's idle threads spin."""
    os.environ.update(blas_env(threads))
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(threads)
    except ImportError:
        pass


def worker_env(home):
    return dict({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                 "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
                 "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}, **blas_env(1))


def detect():
    """The strongest isolation mode that works here (cached for the process)."""
    forced = os.environ.get("GRADING_ISOLATION")
    if forced:
        if forced not in MODES:
            raise SandboxError("GRADING_ISOLATION=%s: choose one of %s" % (forced, ", ".join(MODES)))
        return forced
    if "mode" not in _detected:
        _detected["mode"], _detected["why"] = _detect()
    return _detected["mode"]


def detect_reason():
    detect()
    return _detected.get("why", "")


def _detect():
    if not sys.platform.startswith("linux"):
        return "none", "no Linux namespaces or user switching on %s" % sys.platform
    reasons = []
    for mode in ("namespace", "user"):
        if mode == "user" and os.geteuid() != 0:
            reasons.append("user: the grader is not root")
            continue
        ok, why = probe(mode)
        if ok:
            return mode, ""
        reasons.append("%s: %s" % (mode, why))
    return "none", "; ".join(reasons)


def probe(mode):
    """(works, why not): start a worker-less sandbox in mode and import numpy and autograd there."""
    jail = Jail(None, [], mode, hide=())
    try:
        proc = jail.popen(["-c", "import numpy, autograd"], probe=True)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            jail.kill(proc)
            return False, "the probe did not finish within 60 s"
        if proc.returncode == 0:
            return True, ""
        lines = err.decode(errors="replace").strip().splitlines()
        why = (lines[-1] if lines else "exit code %s" % proc.returncode)[:300]
        if "No module named" in why:
            why += " in %s (install requirements.txt into that Python)" % python_path()
        return False, why
    except OSError as e:
        return False, str(e)
    finally:
        jail.remove()


def widen(fd, size=1 << 20):
    """Give a pipe a 1 MB buffer (Linux's default for unprivileged users' maximum) instead of
    64 kB: a network's parameters then cross in a few system calls, not a hundred."""
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            size = min(size, int(f.read()))
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass   # a smaller buffer is only slower


class Jail:
    """A private folder for one worker: submission/ (a copy of the submission's .py files),
    support/ (the grader's support modules), worker/ (the worker package and its launcher), scratch/."""

    def __init__(self, submission, support_files, mode, hide=(), memory=DEFAULT_MEMORY, cpu=DEFAULT_CPU):
        self.mode, self.memory, self.cpu = mode, int(memory), int(cpu)
        self.hide = [os.path.realpath(p) for p in hide if p]
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="grading-jail-"))
        self.uid = worker_uid() if os.geteuid() == 0 and mode in ("namespace", "user") else None
        self.copied, self.refused = [], []
        for name in ("submission", "support", "worker", "scratch", "root"):
            os.mkdir(os.path.join(self.root, name), 0o755)
        if submission is not None:
            self.copied, self.refused = copy_submission(submission, os.path.join(self.root, "submission"))
        for path in support_files:
            target = os.path.join(self.root, "support", os.path.basename(path))
            if os.path.isdir(path):   # a package, whole
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copyfile(path, target)
        shutil.copytree(os.path.join(HERE, "worker"), os.path.join(self.root, "worker", WORKER_PACKAGE),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(os.path.join(self.root, "worker", LAUNCHER), "w") as f:
            f.write(LAUNCH)
        for dirpath, dirnames, filenames in os.walk(self.root):
            for d in dirnames:   # copied packages keep their source's modes (a grader's may be 0700)
                os.chmod(os.path.join(dirpath, d), 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)
        scratch = os.path.join(self.root, "scratch")
        if self.uid is not None:
            os.chown(scratch, self.uid, self.uid)
            os.chmod(scratch, 0o700)
            # Only the worker's own id may enter the jail (other workers of a class run may not).
            os.chown(self.root, 0, self.uid)
            os.chmod(self.root, 0o750)

    def path(self, name):
        """A jail folder as the worker sees it."""
        if self.mode == "namespace":
            return "/grading/" + name
        return os.path.join(self.root, name)

    def popen(self, args, probe=False):
        """Start python args in the sandbox; standard input and output are the channel."""
        config = {"mode": self.mode, "jail": self.root, "uid": self.uid, "parent": os.getpid(),
                  "outer_uid": os.geteuid(), "outer_gid": os.getegid(), "libs": library_dirs(),
                  "hide": self.hide, "memory": self.memory, "cpu": self.cpu, "python": python_path(),
                  "args": list(args), "env": worker_env(self.path("scratch")), "cwd": self.path("scratch"),
                  "probe": probe}
        # The configuration (paths that name the submission) in the environment, not the command
        # line: other users can read a process's command line, not its environment.
        proc = subprocess.Popen([python_path(), "-I", "-B", os.path.join(HERE, "sandbox.py")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                close_fds=True, start_new_session=True, cwd="/",
                                env={"LANG": "C.UTF-8", "GRADING_SANDBOX": json.dumps(config)})
        for pipe in (proc.stdin, proc.stdout):
            widen(pipe.fileno())
        return proc

    def kill(self, proc):
        """End the worker and everything it started."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self.uid is not None:
            reap(self.uid)

    def remove(self):
        if self.uid is not None:
            reap(self.uid)
            for path, _ in self.files():
                try:
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                except OSError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

    def files(self):
        """[(path, bytes)] of what the worker's user owns in the shared writable folders (user mode:
        it may write there; namespace mode gives it private ones), a folder's size its contents'."""
        if self.uid is None or self.mode != "user":
            return []
        out = []
        for folder in SHARED_TMP:
            try:
                entries = os.scandir(folder)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.stat(follow_symlinks=False).st_uid == self.uid:
                            out.append((entry.path, _size(entry.path)))
                    except OSError:
                        pass
        return out

    def written(self):
        """Bytes the worker's user holds in its scratch folder and the shared writable folders."""
        if self.uid is None or self.mode != "user":
            return 0
        return _size(os.path.join(self.root, "scratch")) + sum(size for _, size in self.files())

    def readable_secrets(self):
        """In user mode: the hidden paths that the worker's user id can read (a forked probe)."""
        if self.mode != "user" or self.uid is None:
            return []
        candidates = []
        for path in self.hide:
            if os.path.isdir(path):
                candidates.append(path)
                for entry in sorted(os.listdir(path))[:20]:
                    candidates.append(os.path.join(path, entry))
            elif os.path.exists(path):
                candidates.append(path)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)
                found = []
                for path in candidates:
                    try:
                        if os.path.isdir(path):
                            os.listdir(path)
                        else:
                            os.close(os.open(path, os.O_RDONLY))
                        found.append(path)
                    except OSError:
                        pass
                os.write(w, json.dumps(found).encode())
            finally:
                os._exit(0)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        try:
            return json.loads(data.decode())
        except ValueError:
            return []


def _size(path):
    """Bytes of a file, or of everything under a folder (links not followed)."""
    try:
        if not os.path.isdir(path) or os.path.islink(path):
            return os.lstat(path).st_size
        total = 0
        for dirpath, dirnames, filenames in os.walk(path):
            for name in filenames:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total
    except OSError:
        return 0


def copy_submission(source, target, max_files=20, max_bytes=1 << 20):
    """Copy the submission's top-level .py files as plain files (never through a link).
    Returns (copied names, [(name, why refused)])."""
    copied, refused = [], []
    try:
        # vae.py and adam.py first: a submission with many helper files never loses them to the cap.
        names = sorted(os.listdir(source), key=lambda n: (n not in ("vae.py", "adam.py"), n))
    except OSError as e:
        return [], [(".", "cannot list the folder: %s" % e.strerror)]
    for name in names:
        # conftest.py is pytest's: a grader's pytest must never meet one of a submission's.
        if not name.endswith(".py") or name == "conftest.py":
            continue
        if len(copied) >= max_files:
            refused.append((name, "more than %d .py files" % max_files))
            continue
        path = os.path.join(source, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            refused.append((name, "a symbolic link" if os.path.islink(path) else e.strerror))
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                refused.append((name, "not a regular file"))
                continue
            if info.st_size > max_bytes:
                refused.append((name, "larger than %d bytes" % max_bytes))
                continue
            with os.fdopen(os.dup(fd), "rb") as f:
                content = f.read(max_bytes + 1)
            with open(os.path.join(target, name), "wb") as out:
                out.write(content)
            copied.append(name)
        finally:
            os.close(fd)
    if "vae.py" not in copied:
        copied, refused = _from_notebook(source, target, copied, refused)
    return copied, refused


def _from_notebook(source, target, copied, refused):
    """A folder with a notebook and no vae.py: the script(s) the notebook stands for (its code,
    read with nbformat in the grader; nothing of it runs here)."""
    from grading import layout
    notebook = layout.find_notebook(source)
    if notebook is None or os.path.islink(str(notebook)):
        return copied, refused
    try:
        scripts = layout.notebook_scripts(notebook)
    except Exception as e:   # not a notebook nbformat can read: say so, grade nothing of it
        return copied, refused + [(notebook.name, "not a notebook that can be read (%s)" % str(e)[:200])]
    for name, text in scripts.items():
        if name not in copied:
            with open(os.path.join(target, name), "w") as out:
                out.write(text)
            copied.append(name)
    return copied, refused


def reap(uid):
    """Kill every process of user id uid (a forked helper that takes that id: kill(-1) then
    reaches exactly that user's processes)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(3):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


# ---------------------------------------------------------------------------
# Boot: `python -I -B sandbox.py CONFIG`, run before any submission code, as the grader's
# user; ends by exec'ing the worker's interpreter inside the sandbox.

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    return libc


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "%s: %s" % (what, os.strerror(errno)))


def _mount(libc, source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           "mount %s on %s" % (source, target))


def _bind(libc, source, target, writable=False, device=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    # Keep the flags the kernel locks (nosuid, nodev, ...): a remount without them is refused.
    flags = os.statvfs(source).f_flag
    keep = 0
    for st, ms in ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
                   (4096, MS_RELATIME)):
        if flags & st:
            keep |= ms
    _mount(libc, None, target, None, MS_BIND | MS_REMOUNT | keep | MS_NOSUID | (0 if device else MS_NODEV)
           | (0 if writable else MS_RDONLY))


def _build_root(libc, config):
    new = os.path.join(config["jail"], "root")
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    # First the folders the sandbox makes itself, then the system's and the Python's bound into
    # them: a Python installed under /tmp is then bound inside the new /tmp, whatever the order.
    os.makedirs(new + "/dev")
    _mount(libc, "tmpfs", new + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for node in ("null", "zero", "random", "urandom"):
        _bind(libc, "/dev/" + node, new + "/dev/" + node, writable=True, device=True)
    os.makedirs(new + "/proc")
    _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # The only writable places, in memory and of bounded size: the grader's disk is not for filling.
    for path, size in (("/tmp", 16 << 20), ("/grading/scratch", SCRATCH_SIZE)):
        os.makedirs(new + path)
        _mount(libc, "tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=%d" % size)
    for name in ("submission", "support", "worker"):
        _bind(libc, os.path.join(config["jail"], name), new + "/grading/" + name)
    mounted = []
    for name in SYSTEM_DIRS:
        path = "/" + name
        if os.path.islink(path):
            os.symlink(os.readlink(path), new + path)
        elif os.path.isdir(path):
            _bind(libc, path, new + path)
            mounted.append(path)
    for lib in config["libs"]:
        if lib.rstrip("/") in ("/tmp", "/dev", "/proc", "/grading") or lib.startswith("/grading/"):
            continue
        _bind(libc, lib, new + lib)
        mounted.append(lib)
    # Grader folders that lie inside a mounted tree (e.g. a repository under the Python prefix).
    for path in config["hide"]:
        if not any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounted):
            continue
        if os.path.isdir(new + path):
            _mount(libc, "tmpfs", new + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
        elif os.path.exists(new + path):
            _mount(libc, "/dev/null", new + path, None, MS_BIND)
    os.chdir(new)
    os.mkdir(".oldroot")
    machine = os.uname().machine
    if machine not in SYS_PIVOT_ROOT:
        raise OSError("pivot_root: unknown system call number on %s" % machine)
    _check(libc.syscall(SYS_PIVOT_ROOT[machine], b".", b".oldroot"), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.oldroot", MNT_DETACH), "umount the old root")
    os.rmdir("/.oldroot")
    _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _limits(config):
    import resource
    for limit, value in ((resource.RLIMIT_AS, config["memory"]), (resource.RLIMIT_CPU, config["cpu"]),
                         (resource.RLIMIT_FSIZE, FILE_SIZE), (resource.RLIMIT_NOFILE, OPEN_FILES),
                         (resource.RLIMIT_CORE, 0)):
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _process_limit(config):
    """RLIMIT_NPROC counts every process of the real user: for a dedicated id, a fixed number;
    for the grader's own id (a user namespace), what it has now and a margin."""
    import resource
    if config["uid"] is not None:
        n = PROCESSES
    else:
        n = sum(1 for p in os.listdir("/proc") if p.isdigit()) + PROCESSES
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    n = n if hard == resource.RLIM_INFINITY else min(n, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def _drop(libc, config):
    uid = config["uid"]
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # After the change of user (which clears it): die with the parent.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# Process creation: fork, vfork, clone, clone3 (x86_64; aarch64 has only clone and clone3).
NO_PROCESSES = {"x86_64": (0xC000003E, (57, 58, 56, 435)), "aarch64": (0xC00000B7, (220, 435))}


def _no_new_processes(libc):
    """A seccomp filter: every system call that makes a process or a thread fails with EAGAIN. The
    worker needs neither (BLAS runs on one thread), and a submission is then one process: its
    address-space limit is the whole submission's, and no child of it outlives a call, holds
    memory or takes a classmate's CPU."""
    machine = os.uname().machine
    if machine not in NO_PROCESSES:
        raise OSError("no seccomp filter for %s" % machine)
    arch, calls = NO_PROCESSES[machine]

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]
    load, equal, at_least, ret = 0x20, 0x15, 0x35, 0x06
    deny, allow, kill = 0x00050000 | 11, 0x7FFF0000, 0x80000000   # ERRNO(EAGAIN), ALLOW, KILL_PROCESS
    code = [(load, 0, 0, 4), (equal, 1, 0, arch), (ret, 0, 0, kill), (load, 0, 0, 0),
            (at_least, len(calls) + 1, 0, 0x40000000)]   # x32's numbers: denied
    for i, number in enumerate(calls):
        code.append((equal, len(calls) - i, 0, number))
    code += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    program = (Instruction * len(code))(*[Instruction(*c) for c in code])
    _check(libc.prctl(22, 2, ctypes.byref(Program(len(code), program)), 0, 0), "seccomp")   # PR_SET_SECCOMP


def _exec(config, libc):
    os.chdir(config["cwd"])
    python = config["python"]
    if not os.access(python, os.X_OK):
        raise OSError("the worker's user cannot run %s: is the Python installation readable by other users?"
                      % python)
    _no_new_processes(libc)
    os.execve(python, [python, "-I", "-B"] + config["args"], config["env"])


def boot(config):
    libc = _libc()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != config["parent"]:
        os._exit(1)
    mode = config["mode"]
    _limits(config)
    if mode != "namespace":
        _process_limit(config)
        _drop(libc, config)
        _exec(config, libc)
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    rootless = os.geteuid() != 0
    _check(libc.unshare(flags | (CLONE_NEWUSER if rootless else 0)), "unshare")
    if rootless:
        # The grader's own id becomes an ordinary user (1000) inside: after exec it keeps no
        # capability, so it cannot undo the mounts.
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write("1000 %d 1" % config["outer_uid"])
        with open("/proc/self/gid_map", "w") as f:
            f.write("1000 %d 1" % config["outer_gid"])
    child = os.fork()
    if child == 0:   # PID 1 of the new namespace: when it ends, all it started ends too
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _build_root(libc, config)
            _process_limit(config)
            _drop(libc, config)
            _exec(config, libc)
        except BaseException as e:
            os.write(2, ("sandbox: %s\n" % e).encode())
        os._exit(70)
    for fd in (0, 1):
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xff if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    try:
        boot(json.loads(os.environ.pop("GRADING_SANDBOX")))
    except BaseException as e:
        os.write(2, ("sandbox: %s\n" % e).encode())
        os._exit(70)
