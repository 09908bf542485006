"""python vae.py: train epoch after epoch with a checkpoint after each, then write every output
(Task 3's figures, the training curve, the latent space, metrics.json, report.md).

model is the practical's module (vae.py, or the notebook's functions set on it); front says
whose words the messages use: "vae.py" (its command line) or "notebook" (support/notebook.py).
"""
import json
import os
import signal
import sys
import tempfile
import time

import autograd.numpy.random as npr
import numpy as onp

import data
import plotting
from support import UserError, report
from support.checkpoint import load_checkpoint, refuse_to_replace, save_checkpoint, training_state
from support.interrupt import install_stop_on_interrupt
from support.options import options, parse_args
from support.tasks import unimplemented_tasks

EPOCH_SETTINGS = ("learning_rate", "batch_size", "num_train", "seed", "kl_warmup")


def train(model, theta, like, train_images, test_images, history, args, checkpoint_path,
          stop_requested, resume=None, front="vae.py"):
    """Train for args.epochs epochs after those in history, evaluating and saving a
    checkpoint after each. resume: a checkpoint's training state, to continue its run exactly.
    Returns (theta, interrupted, state); appends to history."""
    from tqdm.auto import tqdm   # a notebook's progress bar in a notebook, text elsewhere

    adam_state, rng = model.adam_init(theta), onp.random.default_rng(args.seed)
    if resume is not None:
        adam_state, rng_state, npr_state = resume
        rng.bit_generator.state = rng_state
        npr.set_state(npr_state)
    adam_state = model.moments_like(theta, adam_state)
    state = resume   # what the checkpoint keeps to continue exactly (unchanged if nothing trains)
    first = len(history) + 1
    for epoch in range(first, first + args.epochs):
        kl_weight = model.kl_weight_schedule(epoch, args.kl_warmup)
        progress = tqdm(total=len(train_images), desc="epoch %d/%d" % (epoch, first + args.epochs - 1),
                        unit="img", disable=args.quiet, leave=False, dynamic_ncols=True)
        start = time.perf_counter()
        try:
            theta, adam_state, train_elbo, seen = model.train_epoch(
                theta, adam_state, like, train_images, args.batch_size, args.learning_rate,
                rng, progress, stop_requested, kl_weight)
        except model.TrainingDiverged as e:
            kept = ("the checkpoint of epoch %d is kept in %s" % (epoch - 1, checkpoint_path)
                    if epoch > first else "no checkpoint was written")
            lr = "%g" % min(args.learning_rate / 10, 1e-3)
            smaller = "learning rate, %s" % options([("learning_rate", lr)], front) if front == "notebook" \
                else "--learning-rate (e.g. %s)" % lr
            raise UserError("training diverged in epoch %d: %s; %s. Try a smaller %s"
                            % (epoch, e, kept, smaller)) from None
        finally:
            progress.close()
        seconds = time.perf_counter() - start
        # Copies: theta's views would change with the next step.
        gen_params, rec_params = model.unflatten(theta.copy(), like)
        entry = {"epoch": epoch, "train_elbo": train_elbo,
                 "test_elbo": model.test_elbo(gen_params, rec_params, test_images), "seconds": seconds,
                 "settings": {k: getattr(args, k) for k in EPOCH_SETTINGS}}
        if args.kl_warmup:
            entry["kl_weight"] = kl_weight
        if seen < len(train_images):
            entry["images_seen"] = seen
            entry["partial"] = True
        history.append(entry)
        print("epoch %3d  train ELBO %8.2f  test ELBO %8.2f  (%.1f s)%s"
              % (epoch, train_elbo, entry["test_elbo"], seconds,
                 "  beta %.2f" % kl_weight if args.kl_warmup else ""), flush=True)
        state = training_state(adam_state, rng)
        save_checkpoint(checkpoint_path, gen_params, rec_params, vars(args), history, state)
        if stop_requested():
            return theta, True, state
    return theta, False, state


def write_json(path, obj):
    text = json.dumps(obj, indent=1, allow_nan=False)
    plotting.atomic_write(path, lambda f: f.write(text.encode() + b"\n"))


def write_figures(model, out_dir, gen_params, rec_params, test_images, test_labels, history,
                  latent_plot="pca", front="vae.py"):
    """Task 3's figures, the training curve, the latent space and (L = 2) the learned
    manifold. The noise is fixed (model.EVAL_SEED): a checkpoint always gives the same images."""
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731

    def task3_figure(name, make):
        # The practical trains before Task 3 is written: its unwritten parts are skipped.
        try:
            images = make()
        except NotImplementedError as e:
            later = "train(epochs=0), once its cell has run," if front == "notebook" else \
                "python vae.py --epochs 0 --load %s" % path("params.npz")
            print("%s skipped: %s. Once it is written, %s makes it from this model" % (name, e, later), flush=True)
            if os.path.exists(path(name)):
                os.remove(path(name))   # an earlier run's: report.md must not show it
            return
        plotting.save_images(images, path(name))
    with model.seeded_global_rng(model.EVAL_SEED):
        task3_figure("samples.png", lambda: model.generate_from_prior(gen_params, 25))
        first_ten = test_images[:10]
        task3_figure("reconstructions.png", lambda: onp.concatenate(
            [first_ten, model.reconstruct(gen_params, rec_params, first_ten)]))
        for i in range(5):
            task3_figure("interpolation_%d.png" % (i + 1), lambda: model.interpolate(
                gen_params, rec_params, test_images[2 * i], test_images[2 * i + 1]))
    if history:
        plotting.plot_training_curve(history, path("training_curve.png"))
    plotting.plot_latent_space(model.posterior_means(rec_params, test_images), test_labels,
                               path("latent_space.png"), latent_plot, seed=model.EVAL_SEED)
    if onp.shape(gen_params[0][0])[0] == 2:
        _, probabilities = model.latent_manifold(gen_params)
        plotting.save_images(probabilities, path("latent_manifold.png"), ims_per_row=20, scale=2)
    elif os.path.exists(path("latent_manifold.png")):
        os.remove(path("latent_manifold.png"))  # an earlier run's; report.md must not show it


def run(model, args, front="vae.py"):
    gen_sizes, rec_sizes = model.layer_sizes(args.latent_dim, args.hidden_units, args.hidden_layers)
    try:
        os.makedirs(args.out_dir, exist_ok=True)
    except OSError as e:
        raise UserError("cannot create the output folder %s (%s)" % (args.out_dir, e.strerror)) from None
    checkpoint_path = os.path.join(args.out_dir, "params.npz")
    try:   # before any work: a folder that cannot take files is said at once
        with tempfile.TemporaryFile(dir=args.out_dir):
            pass
    except OSError:
        raise UserError("the output folder %s is not writable: choose another, %s"
                        % (args.out_dir, options([("out_dir", "DIR")], front))) from None
    loaded = load_checkpoint(args.load, gen_sizes, rec_sizes, front) if args.load else None  # before MNIST
    refuse_to_replace(checkpoint_path, args)

    print("Loading MNIST from %s" % args.data_dir, flush=True)
    _, train_images, _, test_images, test_labels = data.load_mnist(args.data_dir)
    train_images = train_images[:args.num_train]
    test_images = data.binarised_test_images(test_images)
    test_labels = onp.argmax(test_labels, axis=1)

    npr.seed(args.seed)
    resume = None
    if loaded:
        gen_params, rec_params, meta = loaded
        history, resume = meta.get("history", []), meta.get("resume")
        print("Loaded %s (%d epoch%s of training%s)" % (
            args.load, len(history), "" if len(history) == 1 else "s",
            "" if resume or not args.epochs else "; no training state in it: ADAM starts afresh"))
    else:
        gen_params, rec_params = model.init_net_params(gen_sizes), model.init_net_params(rec_sizes)
        history = []
    trained_before = len(history)
    like = (gen_params, rec_params)
    stop_requested = install_stop_on_interrupt()
    try:
        theta, interrupted, state = train(model, model.flatten(like, onp.float32), like, train_images, test_images,
                                          history, args, checkpoint_path, stop_requested, resume, front)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    gen_params, rec_params = model.unflatten(theta, like)
    write_figures(model, args.out_dir, gen_params, rec_params, test_images, test_labels, history,
                  args.latent_plot, front)
    metrics = {"config": vars(args), "history": history,
               "this_run": {"loaded": args.load, "epochs_trained": len(history) - trained_before}}
    metrics.update(model.evaluate(gen_params, rec_params, test_images, args.iwae_samples, args.iwae_images,
                                  allow_skip=True))
    if interrupted:
        metrics["interrupted"] = True
    write_json(os.path.join(args.out_dir, "metrics.json"), metrics)
    report.write_report(args.out_dir, metrics)
    save_checkpoint(checkpoint_path, gen_params, rec_params, vars(args), history, state)
    print("test ELBO %.2f nats%s; outputs in %s"
          % (metrics["test_elbo"], "" if metrics["test_log_likelihood"] is None else
             ", log p(x) >= %.2f nats (K = %d)" % (metrics["test_log_likelihood"], args.iwae_samples),
             args.out_dir))
    # Stopped by Ctrl-C: every output is written, and the exit status says it was cut short.
    return 130 if interrupted or metrics.get("log_likelihood_skipped") else 0


def main(model, argv=None, front="vae.py"):
    """python vae.py's main: model is the practical's module; front whose words the messages use."""
    args = parse_args(argv)
    who = "train()" if front == "notebook" else "vae.py"
    # Training needs Tasks 1 and 2 only: the handout stops here until they are written (the
    # figures of unwritten Task 3 parts are skipped, one line each).
    missing = [task for task in unimplemented_tasks(model) if not task.startswith("Task 3")]
    if missing:
        print("vae.py: training needs these functions first (the TODO comments in vae.py and adam.py "
              "say what to write; check your work with python -m pytest grading/rubric):\n  "
              + "\n  ".join(missing), file=sys.stderr)
        return 1
    try:
        return run(model, args, front)
    except (UserError, data.DataError) as e:
        print("%s: error: %s" % (who, e), file=sys.stderr)
        return 1
    except OSError as e:  # e.g. a full disk or a read-only --out-dir
        print("%s: error: %s: %s" % (who, e.strerror or e, e.filename or ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: aborted; files already written are complete." % who, file=sys.stderr)
        return 130
