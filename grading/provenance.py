"""What a grade was made with, so that it can be replayed: the grader's version (a hash of its
files), the versions of Python, numpy and autograd, the isolation mode, and the cases (a hash of
their arrays). The cases' seed is not here: it is the teacher's (seeds.json, beside the class's
results, for the teacher's eyes only), never in a result a student sees.
"""
import functools
import hashlib
import json
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = "seeds.json"   # in a class's results folder: {cases hash: {"seed": n, "with_mistakes": bool}}
# What a grade depends on: the grading package (its rubric, maths, points) and the reference
# solution and support the stand-ins and the observed runs use.
GRADER_FILES = ("grading", "vae.py", "adam.py", "data.py", "plotting.py", "support")
GRADER_SUFFIXES = (".py", ".json", ".npz")   # code, points, cases and networks; not texts, not caches


def _files(root=ROOT):
    for name in GRADER_FILES:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for sub in sorted(path.rglob("*")):
                if sub.is_file() and sub.suffix in GRADER_SUFFIXES:
                    yield sub


def grader_version(root=ROOT):
    """A sha256 (16 hex digits) of the grader's files: names and contents."""
    digest = hashlib.sha256()
    for path in sorted(_files(root), key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def cases_hash(directory):
    """A sha256 (16 hex digits) of a folder of cases' arrays (names, types, shapes, values): the same
    for the same cases made again from the same seed (the .npz files' own bytes hold their time)."""
    files = sorted(Path(directory).glob("*.npz"))
    # Reading them takes a fifth of a second: a class's grading runs, forked from the process that
    # hashed them first, find the answer here while the files are unchanged.
    return _cases_hash(tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))


@functools.lru_cache(maxsize=8)
def _cases_hash(files):
    import numpy as np
    digest = hashlib.sha256()
    for path, _, _ in files:
        digest.update(Path(path).name.encode() + b"\0")
        with np.load(path, allow_pickle=False) as arrays:
            for key in sorted(arrays.files):
                value = np.ascontiguousarray(arrays[key])
                digest.update(("%s %s %s\0" % (key, value.dtype.str, value.shape)).encode())
                digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def environment():
    """{python, numpy, autograd}: their versions in this process."""
    import numpy
    try:
        from importlib.metadata import version
        autograd = version("autograd")
    except Exception:
        autograd = "unknown"
    return {"python": platform.python_version(), "numpy": numpy.__version__, "autograd": autograd}


def record(cases_dir, isolation):
    """What a result keeps of how it was made."""
    return dict(environment(), grader=grader_version(), isolation=isolation,
                cases=cases_hash(cases_dir) if cases_dir else None)


def differences(recorded, now):
    """[(what, recorded, now)] where two records differ (isolation aside: a mode, not a grader)."""
    return [(key, recorded.get(key), now.get(key)) for key in ("grader", "python", "numpy", "autograd", "cases")
            if recorded.get(key) != now.get(key)]


def save_seed(json_dir, cases, seed, with_mistakes):
    """Keep the seed that made `cases` (a hash) in the class's seeds.json, for the teacher only."""
    from grading.results import write_json_atomically
    path = Path(json_dir) / SEEDS
    seeds = load_seeds(json_dir)
    seeds[cases] = {"seed": seed, "with_mistakes": with_mistakes}
    write_json_atomically(path, seeds)


def load_seeds(json_dir):
    path = Path(json_dir) / SEEDS
    try:
        seeds = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return seeds if isinstance(seeds, dict) else {}
