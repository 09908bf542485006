#!/usr/bin/env python
"""The README's picture of the notebook edition's check cells: python tools/notebook_screenshot.py

Builds the handout in a temporary folder, puts the reference's functions in its task cells
(compute_KL with a factor 1/2 forgotten, so that a check shows a message), runs the notebook in a
Jupyter kernel (one epoch of 600 images), keeps the KL's cells and the last check, renders them
to HTML with nbconvert and photographs that with headless Chromium (--chromium PATH) into
docs/notebook/check_cells.png. Needs nbconvert and Chromium, which grading never does.
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from grading import handout as make_handout  # noqa: E402
from screenshot import screenshot  # noqa: E402  (beside this script)

OUT = ROOT / "docs" / "notebook" / "check_cells.png"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="notebook_screenshot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default="chromium", help="the headless browser (default: %(default)s)")
    parser.add_argument("--out", default=str(OUT), help="the PNG to write (default: %(default)s)")
    args = parser.parse_args(argv)
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    with tempfile.TemporaryDirectory(prefix="notebook-shot-") as tmp:
        handout = make_handout.write_handout(Path(tmp) / "handout")
        nb = nbformat.read(str(handout / "vae.ipynb"), as_version=4)
        functions = dict(make_handout.function_sources((ROOT / "vae.py").read_text()),
                         **make_handout.function_sources((ROOT / "adam.py").read_text()))
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            if "task" in tags:
                name = cell.source.split("def ", 1)[1].split("(", 1)[0]
                cell.source = "\n".join(line for line in functions[name].splitlines()
                                        if not make_handout.MARKER.match(line))
                if name == "compute_KL":
                    cell.source = cell.source.replace("0.5 * ", "")
            if "train" in tags:
                cell.source = cell.source.replace("train(epochs=30)", "train(epochs=1, num_train=600, iwae_samples=0)")
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(handout)}}).execute()
        start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "Task 1.3" in c.source)
        nb.cells = nb.cells[start + 1:start + 3] + nb.cells[-1:]   # (no Markdown: MathJax needs the network)
        html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
        page = Path(tmp) / "cells.html"
        page.write_text(html)
        out = screenshot(page, args.out, (1100, 1020), args.chromium)
    print("wrote %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
