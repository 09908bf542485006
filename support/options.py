"""The command line of vae.py: its options, their checks and --help; and an option written as the
user gives it, on the command line or in the notebook's train()."""
import argparse
import math

import data


def options(pairs, front="vae.py"):
    """Options as the user gives them, [(name, value)]: `--learning-rate 0.0001` on the command
    line, `train(learning_rate=0.0001)` in the notebook (front "notebook")."""
    if front == "notebook":
        return "train(%s)" % ", ".join("%s=%s" % pair for pair in pairs)
    return " ".join("--%s %s" % (name.replace("_", "-"), value) for name, value in pairs)


def number_type(convert, minimum, what):
    """An argparse type: convert(text), which must be finite and >= minimum."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError("must be %s, got %r" % (what, text))
        return value
    return parse


positive_int = number_type(int, 1, "a positive integer")
non_negative_int = number_type(int, 0, "a non-negative integer")
positive_float = number_type(float, math.ulp(0.0), "a finite number above 0")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line, no usage dump: says what is wrong and where to look.
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def parse_args(argv=None):
    p = ArgumentParser(
        prog="vae.py",
        description="Train the practical's variational auto-encoder on binarised MNIST, then\n"
                    "write samples, reconstructions, interpolations, a training curve, the\n"
                    "latent space, metrics, a report and a checkpoint to --out-dir.",
        epilog="examples:\n"
               "  python vae.py --epochs 2 --num-train 5000 --out-dir results/quick\n"
               "                                              a quick check (about a minute)\n"
               "  python vae.py --latent-dim 2                adds latent_manifold.png\n"
               "  python vae.py --epochs 0 --load results/params.npz\n"
               "                                              figures and metrics of a saved model",
        formatter_class=HelpFormatter)
    p.add_argument("--epochs", type=non_negative_int, default=30, metavar="N",
                   help="passes over the training images; 0 (with --load) only evaluates")
    p.add_argument("--batch-size", type=positive_int, default=200, metavar="N",
                   help="images per ADAM step")
    p.add_argument("--learning-rate", type=positive_float, default=0.001, metavar="ALPHA",
                   help="ADAM's step size")
    p.add_argument("--latent-dim", type=positive_int, default=50, metavar="L", help="the size of z")
    p.add_argument("--hidden-units", type=positive_int, default=200, metavar="H",
                   help="units per hidden layer")
    p.add_argument("--hidden-layers", type=non_negative_int, default=2, metavar="N",
                   help="hidden ReLU layers in each network")
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                   help="seeds initialisation, shuffling, binarisation and the sampler's noise")
    p.add_argument("--num-train", type=positive_int, default=60000, metavar="N",
                   help="train on the first N of the 60,000 training images")
    p.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                   help="folder with the four MNIST .gz files (default: mnist/ beside vae.py)")
    p.add_argument("--out-dir", default="results", metavar="DIR",
                   help="where figures, metrics, report and checkpoint go")
    p.add_argument("--load", default=argparse.SUPPRESS, metavar="CHECKPOINT",
                   help="start from this params.npz; the network options must match it "
                        "(default: train from scratch)")
    p.add_argument("--iwae-samples", type=non_negative_int, default=100, metavar="K",
                   help="importance samples per image for the log p(x) estimate; 0 skips it")
    p.add_argument("--iwae-images", type=positive_int, default=10000, metavar="M",
                   help="how many test images (the first M) the log p(x) estimate uses")
    p.add_argument("--kl-warmup", type=non_negative_int, default=0, metavar="EPOCHS",
                   help="KL warm-up: weight the KL term by beta rising linearly from 0 to 1 over "
                        "this many epochs; 0 trains the practical's ELBO throughout")
    p.add_argument("--latent-plot", choices=("pca", "tsne"), default="pca",
                   help="how latent_space.png projects L > 2 dimensions to 2 (t-SNE is slow)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model in --out-dir that this run did not start from (without it, "
                        "such a run stops at once)")
    args = p.parse_args(argv)
    args.data_dir = getattr(args, "data_dir", data.DEFAULT_DATA_DIR)
    args.load = getattr(args, "load", None)
    if args.num_train > 60000:
        p.error("argument --num-train: MNIST has 60000 training images, got %d" % args.num_train)
    if args.iwae_images > 10000:
        p.error("argument --iwae-images: MNIST has 10000 test images, got %d" % args.iwae_images)
    if args.seed >= 2 ** 32:
        p.error("argument --seed: must be below 2**32, got %d" % args.seed)
    if args.epochs == 0 and not args.load:
        p.error("argument --epochs: 0 trains nothing; use it with --load CHECKPOINT to "
                "evaluate a saved model, or give a positive number")
    return args
