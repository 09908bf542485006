"""What the notebook edition of the handout (vae.ipynb) calls besides its tasks: check a task,
train the model with the notebook's functions, show images inline (from support.notebook import ...).

    check("compute_KL")      # grade one function (or "task1", or nothing: everything)
    gen_params, rec_params = train(epochs=30)    # train(fresh=True) after changing a Task 1 or 2 function
    show(generate_from_prior(gen_params), "samples from the prior")
"""
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the handout's folder
CHECKPOINT = os.path.join("results", "notebook", "params.npz")


def _notebook():
    """The namespace of the notebook's code (the kernel's __main__)."""
    return vars(sys.modules["__main__"])


def check(name=None):
    """Grade the notebook's functions through the grading's sandbox: name is a task function's
    name, "task1" ... "task3", or None for every task. Shows a table of the points."""
    from grading import selfcheck
    result = selfcheck.grade(_notebook(), HERE, select=name)
    rows = selfcheck.table(result)
    label = "total" if name is None else "these tests"
    try:
        from IPython.display import HTML, display
        display(HTML(selfcheck.html(rows, result, label)))
    except ImportError:
        print(selfcheck.text(rows, label))


FUNCTIONS_FILE = "functions.json"   # beside the checkpoint: which Task 1 and 2 functions trained it
TASK3 = ("generate_from_prior", "reconstruct", "interpolate")


def _training_functions(namespace):
    """{name: SHA-256 of its source} of the Task 1 and 2 functions the notebook defines (the ones
    training uses)."""
    import hashlib
    import inspect
    import vae
    out = {}
    for name in vae.TASK_FUNCTIONS:
        value = namespace.get(name)
        if callable(value) and getattr(value, "__module__", None) == "__main__" and name not in TASK3:
            try:
                out[name] = hashlib.sha256(inspect.getsource(value).encode()).hexdigest()
            except (OSError, TypeError):
                pass
    return out


def train(epochs=30, num_train=60000, learning_rate=0.001, out_dir=os.path.join("results", "notebook"),
          fresh=None, **options):
    """Train the model with the notebook's Task 1 and Task 2 functions, as `python vae.py` does, and
    return (gen_params, rec_params); (None, None) until Tasks 1 and 2 are written. Stopping the
    kernel stops training after the current batch, with the checkpoint written; running the cell
    again continues from it. If the Task 1 or 2 functions changed since that checkpoint was
    trained, it says so and trains nothing: fresh=True starts again from scratch (the old
    checkpoint is kept as params.previous.npz), fresh=False continues it anyway. options: more of
    vae.py's command-line options (latent_dim=2, ...). train(epochs=0) makes Task 3's figures of
    the saved model, once their cells have run."""
    import json
    import vae
    namespace = _notebook()
    for name, value in namespace.items():
        if name in vae.TASK_FUNCTIONS and callable(value) and getattr(value, "__module__", None) == "__main__":
            setattr(vae, name, value)
    from support import checkpoint, run, tasks
    missing = [task for task in tasks.unimplemented_tasks(vae) if not task.startswith("Task 3")]
    if missing:
        print("Training needs these functions first (write them in their cells above; check(...) under each "
              "says what is wrong):\n  " + "\n  ".join(missing))
        return None, None
    checkpoint_path = os.path.join(out_dir, "params.npz")
    record = os.path.join(out_dir, FUNCTIONS_FILE)
    functions = _training_functions(namespace)
    if os.path.exists(checkpoint_path):
        try:
            with open(record) as f:
                before = json.load(f)
        except (OSError, ValueError):
            before = None   # a checkpoint from before this record was kept: nothing to compare
        changed = sorted(n for n in set(functions) | set(before or {}) if before is not None
                         and functions.get(n) != before.get(n))
        if changed and fresh is None and epochs > 0:
            print("The checkpoint in %s was trained with other versions of %s than your cells have now.\n"
                  "  train(fresh=True, ...) trains again from the start with them (the old checkpoint is kept "
                  "as params.previous.npz);\n  train(fresh=False, ...) continues the old checkpoint anyway."
                  % (out_dir, ", ".join(changed)))
            return None, None
        if fresh:
            os.replace(checkpoint_path, os.path.join(out_dir, "params.previous.npz"))
    if epochs > 0:
        os.makedirs(out_dir, exist_ok=True)
        from plotting import atomic_write
        atomic_write(record, lambda f: f.write(json.dumps(functions, indent=1).encode()))
    argv = ["--epochs", str(epochs), "--num-train", str(num_train), "--learning-rate", str(learning_rate),
            "--out-dir", out_dir]
    if os.path.exists(checkpoint_path):
        argv += ["--load", checkpoint_path]
    for key, value in options.items():
        argv += ["--" + key.replace("_", "-")] + ([] if value is True else [str(value)])
    code = run.main(vae, argv, front="notebook")
    if code not in (0, 130) or not os.path.exists(checkpoint_path):
        return None, None
    gen_sizes, rec_sizes = vae.layer_sizes(options.get("latent_dim", 50), options.get("hidden_units", 200),
                                           options.get("hidden_layers", 2))
    gen_params, rec_params, _ = checkpoint.load_checkpoint(checkpoint_path, gen_sizes, rec_sizes, front="notebook")
    return gen_params, rec_params


def show(images, title=None, ims_per_row=5):
    """A grid of 28 x 28 images, inline (pixel = the value, 0 white to 1 black)."""
    import matplotlib.figure
    import plotting
    grid = plotting.image_grid(images, ims_per_row)
    fig = matplotlib.figure.Figure(figsize=(grid.shape[1] / 40, grid.shape[0] / 40))
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="binary", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    try:
        from IPython.display import display
        display(fig)
    except ImportError:
        plotting.save_figure(fig, (title or "images").replace(" ", "_") + ".png")
