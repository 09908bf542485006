"""Where a submission is and which layout it is in, read from its files (nothing of it runs
here), a notebook turned into the script it stands for, and the small data set its observed
run trains on.

A part (Task 2, 3.1, 3.2, 3.3) is graded by its functions' tests when the submission writes
its function (this project's handout), or by watching its script run (observe.py) when it
keeps the original handout's layout: ADAM and Task 3 as code in the main block, or at module
level. Task 1 is always graded as functions.
"""
import ast
import re
from pathlib import Path

import numpy as np

SEED = 2020            # the observed run's noise and coordinate choice
TRAIN, TEST = 600, 20   # the observed run's images: 3 ADAM steps an epoch at the handout's batch of 200

_small = {}


def small_mnist(root):
    """The grader's small data set: the first TRAIN training and TEST test images of MNIST."""
    if "data" not in _small:
        import data   # the grader's (root is on the grader's path)
        _, train, train_labels, test, test_labels = data.load_mnist(str(Path(root) / "mnist"), count=max(TRAIN, TEST))
        _small["data"] = {"train": np.asarray(train[:TRAIN], dtype=np.float64),
                          "test": np.asarray(test[:TEST], dtype=np.float64),
                          "train_labels": np.argmax(train_labels[:TRAIN], axis=1),
                          "test_labels": np.argmax(test_labels[:TEST], axis=1)}
    return _small["data"]


MAX_SCRIPT = 1 << 20   # bytes: a bigger vae.py is not a script a student wrote


def script(path):
    """(text, name to show) of vae.py or adam.py as graded: the file, or, where the folder has no
    vae.py, the script its notebook stands for ("mine.ipynb (as vae.py)"); None where there is
    neither, or it is too big or unreadable."""
    path = Path(path)
    try:
        if not path.exists():
            notebook = find_notebook(path.parent)
            scripts = notebook_scripts(notebook) if notebook else {}
            return (scripts[path.name], "%s (as %s)" % (notebook.name, path.name)) if path.name in scripts else None
        if path.stat().st_size > MAX_SCRIPT:
            return None
        return path.read_text(errors="replace"), path.name
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):   # a notebook's too
        return None


def _tree(path):
    found = script(path)
    try:
        return ast.parse(found[0]) if found else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


# ---------------------------------------------------------------------------
# Notebooks: read with nbformat (JSON, nothing run), turned into the script they stand for

MAX_NOTEBOOK = 8 << 20        # bytes: a notebook's saved outputs can be big; its code is what counts
HELPERS = {"check", "train", "show"}   # support.notebook's: a self-check, training, figures
PRELUDE = (
    "# A notebook, as the grader turned it into a script: IPython's own names, which a script lacks,\n"
    "# do nothing; magics and shell escapes are kept as comments, never run.\n"
    "def display(*objects, **options):\n    pass\n\n\n"
    "def get_ipython():\n    return None\n\n\n")


def find_notebook(folder):
    """vae.ipynb, or the folder's one notebook, when it has no vae.py; else None."""
    folder = Path(folder)
    if (folder / "vae.py").exists():
        return None
    if (folder / "vae.ipynb").is_file():
        return folder / "vae.ipynb"
    found = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())
    return found[0] if len(found) == 1 else None


HELP = re.compile(r"^\s*[\w.]+\s*\?{1,2}\s*$")   # `np.mean?`: IPython's help


def _neutralised(source, number):
    """A code cell's source with IPython's syntax (magics, shell escapes, help) commented out,
    where the cell is not Python as it stands; a cell that still does not compile becomes one
    statement raising SyntaxError, which costs that cell."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        pass
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("# " + line for line in lines)
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or HELP.match(line):
            out.append(line[:len(line) - len(stripped)] + "pass  # " + stripped)
        else:
            out.append(line)
    text = "\n".join(out)
    try:
        ast.parse(text)
    except SyntaxError as e:
        return "raise SyntaxError(%r)" % ("notebook cell %d does not compile: %s (line %s of the cell)"
                                          % (number, e.msg, e.lineno))
    return text


def notebook_scripts(path):
    """{"vae.py": text[, "adam.py": text]} that a notebook stands for. Its saved outputs are never
    read. A notebook of this project's handout (its metadata says so) is graded by its functions:
    its check, training and figure cells (by their tags, or any top-level call of check(), train()
    or show()) are left out, and its code stands for adam.py too. Any other notebook is a script on
    the original handout, its cells in order."""
    import nbformat
    path = Path(path)
    if path.stat().st_size > MAX_NOTEBOOK:
        raise ValueError("%s is larger than %d MB" % (path.name, MAX_NOTEBOOK >> 20))
    notebook = nbformat.read(str(path), as_version=4)
    handout = (notebook.metadata.get("vae_practical") or {}).get("edition") == "handout"
    cells = []
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code":
            continue
        if handout and set(cell.metadata.get("tags") or []) & {"check", "train", "show", "colab"}:
            continue
        cells.append(_neutralised(cell.source, number))
    text = PRELUDE + "\n\n".join(cells) + "\n"
    if handout:
        tree = ast.parse(text)
        keep = [n for n in tree.body if not _calls_helper(n)]
        text = ast.unparse(ast.Module(body=keep, type_ignores=[])) + "\n"
        return {"vae.py": text, "adam.py": text}
    return {"vae.py": text}


def _calls_helper(node):
    value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in HELPERS



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
    notebook = find_notebook(folder)
    runs = _runs_code(vae)
    out = {}
    has_adam = (folder / "adam.py").exists() or (notebook is not None and "adam.py" in notebook_scripts(notebook))
    task2 = "functions" if has_adam or not runs else "observed"
    out["2.1"] = out["2.2"] = task2
    for part, name in (("3.1", "generate_from_prior"), ("3.2", "reconstruct"), ("3.3", "interpolate")):
        out[part] = "functions" if name in _functions(vae) or not runs else "observed"
    return out


def find_submission(folder):
    """The folder holding vae.py: folder itself, or its one sub-folder (at any depth up to 3) that
    holds one. Returns (path, None) or (path, "found in SUB") ."""
    folder = Path(folder)
    if (folder / "vae.py").is_file() or (folder / "adam.py").is_file() or find_notebook(folder):
        return folder, None

    def plain(path):   # no link anywhere between folder and the file, nothing hidden
        parts = path.relative_to(folder).parts
        return path.is_file() and not any(part.startswith((".", "__")) for part in parts) and \
            not any(folder.joinpath(*parts[:i + 1]).is_symlink() for i in range(len(parts)))
    found = []
    for depth in ("*/vae.py", "*/*/vae.py", "*/*/*/vae.py"):
        found += [p.parent for p in folder.glob(depth) if plain(p)]
        found += [p.parent for p in folder.glob(depth.replace(".py", ".ipynb")) if plain(p) and p.parent not in found]
        if found:
            break
    if len(found) == 1:
        return found[0], "vae.py found in the sub-folder %s" % found[0].relative_to(folder)
    return folder, None
