"""What vae.py uses besides the practical, one module per job:

    options.py         the command line: its options, their checks, --help
    checkpoint.py      params.npz: saved, loaded and checked, resumed; a trained model never replaced by accident
    run.py             python vae.py: epochs with a checkpoint after each, then every output
    interrupt.py       Ctrl-C: the batch finishes, then everything is written
    report.py          report.md
    tasks.py           which task functions are still the handout's stubs
    notebook.py        the notebook edition's check(), train() and show()
    fast_numpy.py, float32_gradients.py
                       speed: autograd's gradients of a few numpy functions made fast. Loaded here,
                       so that every run through this package trains at the reference's pace
                       whatever form the task functions take.
"""
from support import fast_numpy, float32_gradients  # noqa: F401  (installed by being imported)


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 1."""
