"""params.npz: both networks, the configuration, the history and what resuming needs, written
atomically; loaded with every check; and a trained model never replaced by accident."""
import json
import os
import zipfile

import autograd.numpy.random as npr
import numpy as onp

import plotting
from support import UserError
from support.options import options


def save_checkpoint(path, gen_params, rec_params, config, history, state=None):
    """Both networks as arrays gen_W0, gen_b0, ..., rec_W0, ..., plus the configuration
    and the training history (each epoch with the settings it trained with) as JSON, in one
    .npz file; with state (training_state()), what resuming needs to continue the run exactly:
    ADAM's moments and step, the shuffling generator's state and numpy's global one's."""
    meta = {"config": config, "history": history}
    arrays = {}
    if state is not None:
        (m, v, t), rng_state, (kind, keys, pos, has_gauss, gauss) = state
        arrays.update(adam_m=m, adam_v=v, npr_keys=keys)
        meta["state"] = {"adam_t": int(t), "rng": rng_state, "npr": [kind, int(pos), int(has_gauss), float(gauss)]}
    arrays["meta"] = onp.array(json.dumps(meta))
    for prefix, net in (("gen", gen_params), ("rec", rec_params)):
        for i, (W, b) in enumerate(net):
            arrays["%s_W%d" % (prefix, i)] = W
            arrays["%s_b%d" % (prefix, i)] = b
    plotting.atomic_write(path, lambda f: onp.savez(f, **arrays))


def training_state(adam_state, rng):
    """What save_checkpoint keeps so that a resumed run continues exactly."""
    return adam_state, rng.bit_generator.state, npr.get_state()


def saved_state(meta, arrays, n):
    """training_state() back from a checkpoint of n parameters, or None (an older checkpoint)."""
    saved = meta.get("state")
    if not saved or "adam_m" not in arrays or arrays["adam_m"].shape != (n,):
        return None
    kind, pos, has_gauss, gauss = saved["npr"]
    return ((arrays["adam_m"], arrays["adam_v"], saved["adam_t"]), saved["rng"],
            (kind, arrays["npr_keys"], pos, has_gauss, gauss))


def load_checkpoint(path, gen_sizes, rec_sizes, front="vae.py"):
    """(gen_params, rec_params, meta) from save_checkpoint's file; UserError if it is
    missing, unreadable, or made for networks of other sizes than gen_sizes, rec_sizes."""
    if not os.path.isfile(path):
        raise UserError("checkpoint %s does not exist" % path)
    try:
        with onp.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        raise UserError("%s is not a checkpoint: --load takes a params.npz written by vae.py (in its "
                        "--out-dir)" % path) from None
    nets = []
    for prefix, sizes in (("gen", gen_sizes), ("rec", rec_sizes)):
        net = []
        for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            W, b = arrays.get("%s_W%d" % (prefix, i)), arrays.get("%s_b%d" % (prefix, i))
            if W is None or b is None or W.shape != (m, n) or b.shape != (n,):
                saved = meta.get("config", {})
                shape = lambda latent, units, layers: options(  # noqa: E731
                    [("latent_dim", latent), ("hidden_units", units), ("hidden_layers", layers)], front)
                raise UserError(
                    "checkpoint %s holds networks of another shape than %s; it was saved with %s: pass those"
                    % (path, shape(gen_sizes[0], gen_sizes[1] if len(gen_sizes) > 2 else 0, len(gen_sizes) - 2),
                       shape(saved.get("latent_dim", "?"), saved.get("hidden_units", "?"),
                             saved.get("hidden_layers", "?"))))
            if not (onp.all(onp.isfinite(W)) and onp.all(onp.isfinite(b))):
                raise UserError("checkpoint %s holds non-finite weights" % path)
            net.append((W.astype(onp.float32), b.astype(onp.float32)))
        nets.append(net)
    meta["resume"] = saved_state(meta, arrays, sum(W.size + b.size for net in nets for W, b in net))
    return nets[0], nets[1], meta


def refuse_to_replace(checkpoint_path, args):
    """A trained model is never replaced by accident: a run writes into a folder holding a
    checkpoint only if it started from that checkpoint (--load), or with --overwrite."""
    if args.overwrite or not os.path.exists(checkpoint_path):
        return
    if args.load and os.path.realpath(args.load) == os.path.realpath(checkpoint_path):
        return
    try:
        with onp.load(checkpoint_path, allow_pickle=False) as f:
            epochs = len(json.loads(str(f["meta"])).get("history", []))
        what = "a model trained for %d epoch%s" % (epochs, "" if epochs == 1 else "s")
    except Exception:
        what = "a file"
    raise UserError("%s holds %s, which this run would replace: choose another --out-dir, continue it with "
                    "--load %s, or pass --overwrite" % (checkpoint_path, what, checkpoint_path))
