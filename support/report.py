"""report.md: a run's configuration, metrics and figures, ready for a student's report."""
import os

from plotting import atomic_write

# file -> what it shows, one line each
FIGURES = [
    ("training_curve.png", "Training curve: the ELBO on the training batches (running mean over each "
     "epoch) and on the test set after each epoch, in nats per image; higher is better."),
    ("samples.png", "Task 3.1: 25 images from the model, z ~ p(z) = N(0, I), shown as the pixel "
     "probabilities sigmoid(f(z)), not binarised."),
    ("reconstructions.png", "Task 3.2: the first 10 (binarised) test images, rows 1-2, over their "
     "reconstructions, rows 3-4: z ~ q(z|x), then the pixel probabilities of p(x|z)."),
] + [
    ("interpolation_%d.png" % i, "Task 3.3: decoding z = z_a s + (1 - s) z_b as s goes from 1 to 0, "
     "z_a, z_b the posterior means of test images %d and %d (read left to right, top to bottom)."
     % (2 * i - 1, 2 * i)) for i in range(1, 6)
] + [
    ("latent_space.png", "Posterior means of the test images, coloured by digit: how q(z|x) "
     "arranges the digits in latent space (a 2-D projection when L > 2)."),
    ("latent_manifold.png", "The learned manifold (L = 2): the decoder's pixel probabilities over a "
     "20 x 20 grid of z at evenly spaced quantiles of N(0, 1)."),
]


def cell(value):
    """A Markdown table cell: a '|' inside would start a new column."""
    return "none" if value is None else str(value).replace("|", "\\|")


def fmt(value, digits=2):
    return "n/a" if value is None else ("%.*f" % (digits, value) if isinstance(value, float) else str(value))


def metrics_rows(metrics):
    """(quantity, value, meaning) rows of the metrics table."""
    m = metrics
    rows = [
        ("test ELBO", fmt(m["test_elbo"]) + " nats", "mean over the 10,000 binarised test images, eq. (11)"),
        ("reconstruction term", fmt(m.get("test_reconstruction")) + " nats", "mean log p(x|z), z ~ q(z|x)"),
        ("KL to the prior", fmt(m.get("test_kl")) + " nats", "mean KL(q(z|x) || p(z)), eq. (12)"),
        ("active latent units", "%s of %d" % (fmt(m.get("active_units")), m["config"]["latent_dim"]),
         "dimensions whose posterior mean varies across test images (variance > 0.01)"),
    ]
    if m.get("test_log_likelihood") is not None:
        rows += [
            ("log p(x), importance-weighted", fmt(m["test_log_likelihood"]) + " nats",
             "K = %d samples per image, first %d test images" % (m["iwae_samples"], m["iwae_images"])),
            ("ELBO on the same images", fmt(m["elbo_on_iwae_images"]) + " nats", ""),
            ("gap: log p(x) - ELBO", fmt(m["elbo_gap"]) + " nats",
             "estimates the mean KL(q(z|x) || p(z|x)), eq. (6)-(7)"),
        ]
    return rows


def epoch_settings(history):
    """[("epochs 1-30", "learning rate 0.001, batch size 200, ...")]: consecutive epochs that
    trained with the same settings, grouped."""
    groups = []
    for h in history:
        settings = h.get("settings")
        text = ("learning rate %g, batch size %d, %d training images, seed %d%s" % (
            settings["learning_rate"], settings["batch_size"], settings["num_train"], settings["seed"],
            ", KL warm-up over %d epochs" % settings["kl_warmup"] if settings.get("kl_warmup") else "")
            if settings else "settings not recorded (an older checkpoint)")
        if groups and groups[-1][2] == text:
            groups[-1][1] = h["epoch"]
        else:
            groups.append([h["epoch"], h["epoch"], text])
    return [("epoch %d" % a if a == b else "epochs %d-%d" % (a, b), text) for a, b, text in groups]


def write_report(out_dir, metrics):
    """Write out_dir/report.md for a finished run's metrics (as in metrics.json)."""
    c, history = metrics["config"], metrics["history"]
    lines = ["# VAE on binarised MNIST: results", ""]
    lines += ["## Configuration", "",
              "The network, and this run's command line (the settings each epoch trained with are below).", "",
              "| setting | value |", "| --- | --- |"]
    lines += ["| %s | %s |" % (key.replace("_", " "), cell(value)) for key, value in c.items()
              if key not in ("data_dir", "out_dir", "quiet", "overwrite")]
    lines += ["", "Encoder %s, decoder %s (%s); ADAM; one z ~ q(z|x) per image."
              % ("-".join(map(str, [784] + [c["hidden_units"]] * c["hidden_layers"] + [2 * c["latent_dim"]])),
                 "-".join(map(str, [c["latent_dim"]] + [c["hidden_units"]] * c["hidden_layers"] + [784])),
                 "ReLU hidden layers" if c["hidden_layers"] else "linear: no hidden layer"), ""]
    if history:
        seconds = sum(h["seconds"] for h in history)
        lines += ["Trained %d epoch%s in %.0f s (%.1f s per epoch)%s." % (
            len(history), "" if len(history) == 1 else "s", seconds, seconds / len(history),
            "; stopped early by Ctrl-C" if metrics.get("interrupted") else ""), ""]
        lines += ["- %s: %s" % (span, text) for span, text in epoch_settings(history)] + [""]
        partial = [h for h in history if h.get("partial")]
        lines += ["Epoch %d was stopped by Ctrl-C after %d images." % (h["epoch"], h["images_seen"])
                  for h in partial] + ([""] if partial else [])
    run = metrics.get("this_run") or {}
    if run.get("loaded"):
        lines += ["This run loaded %s and %s." % (run["loaded"], "trained %d more epoch%s" % (
            run["epochs_trained"], "" if run["epochs_trained"] == 1 else "s") if run["epochs_trained"]
            else "only evaluated it"), ""]
    if metrics.get("log_likelihood_skipped"):
        lines += ["The log p(x) estimate was skipped (Ctrl-C during it).", ""]
    warmup_epochs = sum(h.get("kl_weight", 1.0) < 1.0 for h in history)
    if warmup_epochs:
        lines += ["KL warm-up: the KL term's weight beta rose linearly from 0 to 1 over the first %d "
                  "epochs (the train curve shows that weighted objective); every test ELBO is the true "
                  "ELBO, beta = 1." % warmup_epochs, ""]
    lines += ["## Metrics", "", "| quantity | value | meaning |", "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % tuple(map(cell, row)) for row in metrics_rows(metrics)]
    if history:
        lines += ["", "| epoch | train ELBO | test ELBO | beta | seconds |", "| --- | --- | --- | --- | --- |"]
        lines += ["| %d | %.2f | %.2f | %.2f | %.1f |" % (h["epoch"], h["train_elbo"], h["test_elbo"],
                                                       h.get("kl_weight", 1.0), h["seconds"])
                  for h in history]
    lines += ["", "## Figures", ""]
    for name, caption in FIGURES:
        if os.path.exists(os.path.join(out_dir, name)):
            lines += ["![%s](%s)" % (name, name), "", caption, ""]
    text = "\n".join(lines)
    atomic_write(os.path.join(out_dir, "report.md"), lambda f: f.write(text.encode()))
