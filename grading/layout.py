"""Where a submission is and which layout it is in, read from its files (nothing of it runs
here), and the small data set its observed run trains on.

A part (Task 2, 3.1, 3.2, 3.3) is graded by its functions' tests when the submission writes
its function (this project's handout), or by watching its script run (observe.py) when it
keeps the original handout's layout: ADAM and Task 3 as code in the main block, or at module
level. Task 1 is always graded as functions.
"""
import ast
from pathlib import Path

import numpy as np

SEED = 2020            # the observed run's noise and coordinate choice
TRAIN, TEST = 600, 20   # the observed run's images: 3 ADAM steps an epoch at the handout's batch of 200

_small = {}


def small_mnist(root):
    """The grader's small data set: the first TRAIN training and TEST test images of MNIST."""
    if "data" not in _small:
        import importlib.util
        import sys
        spec = importlib.util.spec_from_file_location("_grader_data", str(Path(root) / "data.py"))
        data = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(root))
        try:
            spec.loader.exec_module(data)
            _, train, train_labels, test, test_labels = data.load_mnist(str(Path(root) / "mnist"))
        finally:
            sys.path.pop(0)
        _small["data"] = {"train": np.asarray(train[:TRAIN], dtype=np.float64),
                          "test": np.asarray(test[:TEST], dtype=np.float64),
                          "train_labels": np.argmax(train_labels[:TRAIN], axis=1),
                          "test_labels": np.argmax(test_labels[:TEST], axis=1)}
    return _small["data"]


def _tree(path):
    try:
        if path.stat().st_size > 1 << 20:
            return None
        return ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _functions(tree):
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))} if tree else set()


def _runs_code(tree):
    """Has a main block, or module-level statements beyond imports, definitions and assignments."""
    if tree is None:
        return False
    quiet = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
             ast.AnnAssign, ast.Expr)
    for node in tree.body:
        if isinstance(node, ast.If) or not isinstance(node, quiet):
            return True
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            return True
    return False


def formats(folder):
    """{part: "functions" or "observed"} for Tasks 2 and 3 (Task 1 is always functions): a part
    is observed when its function is not written but the script runs code that could do it."""
    folder = Path(folder)
    vae = _tree(folder / "vae.py")
    runs = _runs_code(vae)
    out = {}
    task2 = "functions" if (folder / "adam.py").exists() or not runs else "observed"
    out["2.1"] = out["2.2"] = task2
    for part, name in (("3.1", "generate_from_prior"), ("3.2", "reconstruct"), ("3.3", "interpolate")):
        out[part] = "functions" if name in _functions(vae) or not runs else "observed"
    return out


def find_submission(folder):
    """The folder holding vae.py: folder itself, or its one sub-folder (at any depth up to 3) that
    holds one. Returns (path, None) or (path, "found in SUB") ."""
    folder = Path(folder)
    if (folder / "vae.py").is_file() or (folder / "adam.py").is_file():
        return folder, None

    def plain(path):   # no link anywhere between folder and the file, nothing hidden
        parts = path.relative_to(folder).parts
        return path.is_file() and not any(part.startswith((".", "__")) for part in parts) and \
            not any(folder.joinpath(*parts[:i + 1]).is_symlink() for i in range(len(parts)))
    found = []
    for depth in ("*/vae.py", "*/*/vae.py", "*/*/*/vae.py"):
        found += [p.parent for p in folder.glob(depth) if plain(p)]
        if found:
            break
    if len(found) == 1:
        return found[0], "vae.py found in the sub-folder %s" % found[0].relative_to(folder)
    return folder, None
