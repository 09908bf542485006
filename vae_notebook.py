"""What the notebook edition of the handout (vae.ipynb) calls besides its tasks: check a task,
train the model with the notebook's functions, show images inline.

    check("compute_KL")      # grade one function (or "task1", or nothing: everything)
    gen_params, rec_params = train(epochs=30)
    show(generate_from_prior(gen_params), "samples from the prior")
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
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


def train(epochs=30, num_train=60000, learning_rate=0.001, out_dir=os.path.join("results", "notebook"),
          **options):
    """Train the model with the notebook's Task 1 and Task 2 functions, as `python vae.py` does, and
    return (gen_params, rec_params); (None, None) until Tasks 1 and 2 are written. Stopping the
    kernel stops training after the current batch, with the checkpoint written; running the cell
    again continues from it. options: more of vae.py's command-line options (latent_dim=2, ...)."""
    import vae
    for name, value in _notebook().items():
        if name in vae.TASK_FUNCTIONS and callable(value) and getattr(value, "__module__", None) == "__main__":
            setattr(vae, name, value)
    missing = [task for task in vae.unimplemented_tasks() if not task.startswith("Task 3")]
    if missing:
        print("Training needs these functions first (write them in their cells above; check(...) under each "
              "says what is wrong):\n  " + "\n  ".join(missing))
        return None, None
    checkpoint = os.path.join(out_dir, "params.npz")
    argv = ["--epochs", str(epochs), "--num-train", str(num_train), "--learning-rate", str(learning_rate),
            "--out-dir", out_dir]
    if os.path.exists(checkpoint):
        argv += ["--load", checkpoint]
    for key, value in options.items():
        argv += ["--" + key.replace("_", "-")] + ([] if value is True else [str(value)])
    code = vae.main(argv)
    if code not in (0, 130) or not os.path.exists(checkpoint):
        return None, None
    gen_sizes, rec_sizes = vae.layer_sizes(options.get("latent_dim", 50), options.get("hidden_units", 200),
                                           options.get("hidden_layers", 2))
    gen_params, rec_params, _ = vae.load_checkpoint(checkpoint, gen_sizes, rec_sizes)
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
