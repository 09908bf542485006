"""The notebook edition: the handout's vae.ipynb, run in a real Jupyter kernel (nbclient and
ipykernel), and notebooks graded as scripts are (grading/layout.py turns one into the script it
stands for; its code runs only in the sandbox, its saved outputs are never read)."""
import ast
import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
from grading import api
import grading.handout  # noqa: E402
from grading import layout  # noqa: E402

QUICK_TRAIN = "train(epochs=1, num_train=600, iwae_samples=0)"
ORIGINAL = ROOT / "tests" / "fixtures" / "original_practical" / "vae.py"


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    return grading.handout.write_handout(tmp_path_factory.mktemp("nb") / "handout", check_leaks=False)


def solved(notebook):
    """The handout notebook with the reference's functions in its task cells."""
    nb = nbformat.read(str(notebook), as_version=4)
    functions = dict(grading.handout.function_sources((ROOT / "vae.py").read_text()),
                     **grading.handout.function_sources((ROOT / "adam.py").read_text()))
    for cell in nb.cells:
        if "task" in cell.metadata.get("tags", []):
            cell.source = functions[cell.source.split("def ", 1)[1].split("(", 1)[0]]
    return nb


def execute(nb, folder):
    """Run every cell in a real kernel (training reduced to one epoch of 600 images)."""
    from nbclient import NotebookClient
    for cell in nb.cells:
        if "train" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("train(epochs=30)", QUICK_TRAIN)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def outputs(nb, tag):
    return [(cell, cell.get("outputs", [])) for cell in nb.cells if tag in cell.metadata.get("tags", [])]


def html_of(cell_outputs):
    return "".join(o.get("data", {}).get("text/html", "") for o in cell_outputs)


def test_the_handout_notebook_is_built_from_the_same_stubs(handout):
    """One source: each task cell is the handout vae.py's or adam.py's stub, word for word."""
    nb = nbformat.read(str(handout / "vae.ipynb"), as_version=4)
    nbformat.validate(nb)
    stubs = dict(grading.handout.function_sources((handout / "vae.py").read_text()),
                 **grading.handout.function_sources((handout / "adam.py").read_text()))
    tasks = [c.source for c in nb.cells if "task" in c.metadata.get("tags", [])]
    assert len(tasks) == 9 and all(source in stubs.values() for source in tasks)
    checks = [c.source for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert 'check("compute_KL")' in checks and 'check("task1")' in checks and checks[-1] == "check()"
    assert all("\\(" not in c.source and "$" in c.source for c in nb.cells if c.cell_type == "markdown"
               and "Task 1.2" in c.source)


def test_the_reference_in_the_notebook_gets_full_marks_in_a_kernel(handout, tmp_path):
    """Every check cell full marks; the training and Task 3 cells make their images."""
    nb = execute(solved(handout / "vae.ipynb"), handout)
    for cell, out in outputs(nb, "check"):
        text = html_of(out)
        points = [part.split("</td>")[0] for part in text.split("text-align:right")[1:]]
        points = [p.split(">", 1)[1] for p in points]
        assert points and all(p.split(" / ")[0].strip("<b>") == p.split(" / ")[1].strip("</b>") for p in points), \
            (cell.source, text[:2000])
    assert "<b>total</b>" in html_of(outputs(nb, "check")[-1][1]) and "<b>100 / 100</b>" in \
        html_of(outputs(nb, "check")[-1][1])
    images = [o for _, out in outputs(nb, "show") for o in out if "image/png" in o.get("data", {})]
    assert len(images) == 3
    assert (handout / "results" / "notebook" / "params.npz").exists()


@pytest.mark.full
def test_the_stubs_report_zero_and_the_notebook_runs_to_its_end(handout, tmp_path):
    """Every check cell 0, with the task's message; no cell raises (the training cell says what is missing)."""
    nb = execute(nbformat.read(str(handout / "vae.ipynb"), as_version=4), handout)
    for cell, out in outputs(nb, "check"):
        text = html_of(out)
        assert "not implemented yet" in text and ">0 / " in text, (cell.source, text[:1000])
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    trained = "".join(o.get("text", "") for _, out in outputs(nb, "train") for o in out)
    assert "Training needs these functions first" in trained


# ---------------------------------------------------------------------------
# Notebooks handed in, graded like scripts

def grade(folder):
    out = Path(str(folder) + ".json")
    proc = subprocess.run(api.command(folder, results=out), capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    assert out.exists(), proc.stdout[-3000:]
    return json.loads(out.read_text()), proc.stdout


def write(nb, folder, name="vae.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / name))
    return folder


def test_the_handout_notebook_is_graded_by_its_functions(handout, tmp_path):
    """The reference in the handout notebook scores 100 (any notebook name), its stubs 0."""
    result, _ = grade(write(solved(handout / "vae.ipynb"), tmp_path / "ref", "my practical.ipynb"))
    assert result["score"] == 100 and result["extra_data"]["format"] == "functions", result["output"]
    result, _ = grade(write(nbformat.read(str(handout / "vae.ipynb"), as_version=4), tmp_path / "stubs"))
    assert result["score"] == 0, result["output"]


def cells_of_script(path, magics=()):
    """The original practical's script as a notebook a student would make of it: the functions in
    one cell, then each statement of its main block in a cell of its own (dedented)."""
    text = Path(path).read_text()
    tree = ast.parse(text)
    main = next(n for n in tree.body if isinstance(n, ast.If))
    lines = text.splitlines()
    cells = [nbformat.v4.new_code_cell(source) for source in magics]
    cells.append(nbformat.v4.new_code_cell("\n".join(lines[:main.lineno - 1])))
    for node in main.body:
        cells.append(nbformat.v4.new_code_cell(textwrap.dedent("\n".join(lines[node.lineno - 1:node.end_lineno]))))
    return nbformat.v4.new_notebook(cells=cells)


@pytest.mark.full   # the magics' notebook below is this one with more cells
def test_an_original_layout_notebook_is_graded_as_its_script_is(tmp_path):
    """The original practical's vae.py split into cells: watched as the script is, to the same parts."""
    result, _ = grade(write(cells_of_script(ORIGINAL), tmp_path / "original"))
    assert result["score"] == 100 and result["extra_data"]["format"] == "original", result["output"]


@pytest.mark.full   # the hostile notebook below has these cells too
def test_magics_and_shell_escapes_are_never_run(tmp_path):
    """%matplotlib, !commands, %%bash, help (np.mean?) and display(): kept as comments or made
    harmless, never run (the shell escape's file is never made), and the notebook still 100."""
    marker = tmp_path / "shell-escape-ran"
    magics = ["%matplotlib inline\n!touch " + str(marker) + "\nimport numpy\nnumpy.mean?",
              "%%bash\ntouch " + str(marker), "display('hello')"]
    result, _ = grade(write(cells_of_script(ORIGINAL, magics), tmp_path / "magics"))
    assert result["score"] == 100 and result["extra_data"]["format"] == "original", result["output"]
    assert not marker.exists()
    script = layout.notebook_scripts(tmp_path / "magics" / "vae.ipynb")["vae.py"]
    assert "pass  # !touch" in script and "# %%bash" in script


def test_saved_outputs_that_claim_success_count_for_nothing(handout, tmp_path):
    """A notebook whose KL is wrong, its check cells' saved outputs claiming 100 / 100: the code
    earns what it earns."""
    nb = solved(handout / "vae.ipynb")
    for cell in nb.cells:
        if cell.source.startswith("def compute_KL"):
            cell.source = cell.source.replace("np.exp(2 * log_std)", "np.exp(log_std)")
        if "check" in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("display_data", data={
                "text/html": "<b>these tests 100 / 100</b>", "text/plain": "100 / 100"})]
            cell.execution_count = 1
    result, _ = grade(write(nb, tmp_path / "liar"))
    assert result["extra_data"]["parts"]["1.3"]["score"] == 0, result["output"]
    assert result["score"] == 90


def test_a_class_of_notebooks_is_graded_by_grade_all(handout, tmp_path):
    folder = tmp_path / "class"
    write(solved(handout / "vae.ipynb"), folder / "alice")
    write(nbformat.read(str(handout / "vae.ipynb"), as_version=4), folder / "bob", "Practica VAE.ipynb")
    proc = subprocess.run([sys.executable, "-m", "grading", "grade-class", str(folder), "--out",
                           str(tmp_path / "grades.csv"), "--reference-dir", str(ROOT / "grading" / "reference")],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "grades.csv") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    assert (rows["alice"]["total"], rows["bob"]["total"]) == ("100", "0"), rows


def test_magics_and_shell_escapes_become_comments_in_the_script_graded(tmp_path):
    """What the grader runs of a notebook (the quick part of the two tests around this one): no
    shell escape, cell magic or help syntax left as code, and the cells' own code kept."""
    magics = ["%matplotlib inline\n!touch /tmp/x\nimport numpy\nnumpy.mean?", "%%bash\ntouch /tmp/x"]
    script = layout.notebook_scripts(write(cells_of_script(ORIGINAL, magics), tmp_path / "nb") / "vae.ipynb")["vae.py"]
    assert "pass  # !touch" in script and "# %%bash" in script and "import numpy" in script
    assert "pass  # numpy.mean?" in script and "def vae_lower_bound" in script
    assert not [line for line in script.splitlines() if line.lstrip().startswith(("!", "%", "touch"))]


@pytest.mark.full   # an observed run; the conversion is checked by the test above
def test_a_hostile_notebook_gains_nothing_and_leaves_nothing(tmp_path):
    """Cells that read the grader's files, write beside it, fork, and run shell escapes and magics
    (a notebook is the script it stands for: a cell that hangs costs what a hanging statement does,
    tests/test_grading_hostile.py): nothing is read or written, no process made or command run, and
    the work in it still graded, as a script on the original handout."""
    marker = tmp_path / "shell-escape-ran"
    nb = cells_of_script(ORIGINAL, ["%matplotlib inline\n!touch " + str(marker), "%%bash\ntouch " + str(marker),
                                    "import os\nleaked = []\nfor p in (%r, %r):\n    try:\n"
                                    "        leaked.append(open(p).read()[:50])\n    except OSError:\n        pass\n"
                                    "print('LEAKED', leaked)" % (str(ROOT / "grading" / "points.json"),
                                                                 str(ROOT / "grading" / "reference" / "kl_small.npz")),
                                    "open(%r, 'w').write('x')" % str(tmp_path / "planted"),
                                    "import os\nif os.fork() == 0:\n    os._exit(0)"])
    result, output = grade(write(nb, tmp_path / "hostile"))
    assert not (tmp_path / "planted").exists() and not marker.exists()
    assert "LEAKED ['" not in json.dumps(result) and "LEAKED ['" not in output
    assert result["score"] == 100 and result["extra_data"]["complete"] is True, result["output"]
    assert result["extra_data"]["format"] == "original", result["output"]
    assert any("BlockingIOError" in p for p in result["extra_data"]["problems"]), result["extra_data"]["problems"]


# ---------------------------------------------------------------------------
# The training cell, as a notebook student meets it

def test_the_training_cell_speaks_the_notebooks_terms_and_never_continues_a_stale_checkpoint(tmp_path):
    """In a real kernel: a model trained, then a Task 1 function changed and the cell run again: it
    says which function changed and trains nothing (no silent continuation of a model trained
    with the old one); fresh=True trains again, keeping the old checkpoint. Every message is in
    the notebook's terms (train(...), never vae.py's command line), Task 3's skipped figures
    included."""
    from nbclient import NotebookClient
    handout = grading.handout.write_handout(tmp_path / "handout", check_leaks=False)
    functions = dict(grading.handout.function_sources((ROOT / "vae.py").read_text()),
                     **grading.handout.function_sources((ROOT / "adam.py").read_text()))
    tasks = "\n\n".join(functions[name] for name in ("sample_latent_variables_from_posterior", "bernoulli_log_prob",
                                                     "compute_KL", "vae_lower_bound", "adam_init", "adam_step"))
    quick = "epochs=1, num_train=600, iwae_samples=0, quiet=True"
    cells = ["import autograd.numpy as np\nimport autograd.numpy.random as npr\n"
             "from vae import *  # the given code, as the notebook's given cell has it\n"
             "from support.notebook import train\n\n" + tasks,
             "first = train(%s)\nprint('FIRST', first[0] is not None)" % quick,
             functions["compute_KL"].replace("0.5 * ", "") + "\n\nsecond = train(%s)\nprint('SECOND', second)" % quick,
             "third = train(fresh=True, %s)\nprint('THIRD', third[0] is not None)" % quick]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(handout)}}).execute()
    printed = ["".join(o.get("text", "") for o in cell.get("outputs", [])) for cell in nb.cells]
    assert "FIRST True" in printed[1], printed[1]
    assert "other versions of compute_KL" in printed[2] and "train(fresh=True" in printed[2], printed[2]
    assert "SECOND (None, None)" in printed[2] and "epoch   2" not in printed[2], printed[2]
    assert "THIRD True" in printed[3], printed[3]
    assert (handout / "results" / "notebook" / "params.previous.npz").exists()
    assert "samples.png skipped" in printed[1] and "train(epochs=0)" in printed[1], printed[1]
    for text in printed:
        assert "python vae.py" not in text and "vae.py:" not in text and "--" not in text, text
