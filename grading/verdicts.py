"""The verdicts on Tasks 2 and 3 of a script on the original handout, from its observed run
(grading/observe.py's Run): every check made here, in the grader, on what it recorded and can
recompute.

- Task 2: the parameters the bound was given at each step, on a fixed set of coordinates,
  against Figure 5 (grading/maths.py) applied to the gradients this grader handed out (times
  the factor the submission's objective put on them, and the sign of its own bound: the bound,
  ascended, or the loss, descended). Steps that plain SGD or sign descent would make as well
  earn nothing; a step that is Figure 5's but for one slip earns the part minus the slip's
  points.
- Task 3: the networks used after training must be the ones training produced, and must
  depend on their inputs; the saved images are found by matching: decoded prior samples,
  the test images and their reconstructions, and interpolations between test images, with
  the recognisable slips (logits, another number of images or frames, means for samples or
  the reverse, other test images, fewer pairs) costing points.json's "slips".
A forged trace earns nothing that doing the task would not.
"""
import numpy as np

from grading import GradingFailure, PartialCredit, maths, results
from grading.maths import halves
from grading.observe import NEEDS_HUMAN, decode, flat, healthy
from grading.worker import given   # the handout's sigmoid: what the run's images were made with

NUM_IMAGES, NUM_FRAMES = 25, 25
PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
RTOL, ATOL = 1e-6, 1e-9


def slips(part):
    return results.load_points().get("slips", {}).get(part, {})


# ---------------------------------------------------------------------------
# Task 2 from the steps: Figure 5

def _fit(observed, unit):
    """The one factor a with observed = a * unit on every coordinate, or None."""
    with np.errstate(all="ignore"):
        ratio = observed / unit
    ratio = ratio[np.isfinite(ratio) & (np.abs(unit) > 1e-300)]
    if not ratio.size:
        return None
    a = float(np.median(ratio))
    return a if a != 0 and _agree(observed, a * unit).all() else None


def _agree(observed, predicted):
    scale = np.nanmax(np.abs(predicted)) if predicted.size and np.any(np.isfinite(predicted)) else 1.0
    return np.all(np.isclose(observed, predicted, rtol=1e-5, atol=1e-9 * scale), axis=-1)


def _direction_text(sign, own):
    """Why the step goes the wrong way, in the student's terms: what objective is, by their own bound."""
    if own is not None and own < 0:
        mine = ("your vae_lower_bound returns the negative of the bound (see Task 1.4), so objective, as you "
                "wrote it, is the %s: the update must %s" % (("ELBO", "add alpha * m_hat / (sqrt(v_hat) + eps)")
                                                            if sign > 0 else ("loss (-ELBO)", "go down")))
        return "the step goes the wrong way: " + mine
    if sign > 0:
        return ("the step goes down the gradient: objective is the ELBO, which training maximises, so the update "
                "adds alpha * m_hat / (sqrt(v_hat) + eps) (Figure 5 is written for a loss, which it minimises)")
    return "the step goes up the gradient of objective, which is the loss here (-ELBO): it must go down"


def adam_verdict(run):
    """(start, update, message) for the observed ADAM: the steps the parameters took against Figure 5
    applied to the gradients the submission received. start (2.1) is True or False; update (2.2) is
    True, False, or the list of its one slip (points.json's "slips") when everything else is Figure 5's."""
    if run.index is None:
        if run.calls:
            return False, False, (NEEDS_HUMAN + "the gradient function was called %d times, but never on "
                                  "vae_lower_bound(gen_params, rec_params, data): the grading cannot tell that "
                                  "the training followed the bound's gradient" % run.calls + run.error_lines(None))
        return False, False, ("the gradient function (objective_grad = grad(objective)) was never called: the "
                              "training loop should call it once per batch and update flattened_current_params "
                              "with ADAM" + run.error_lines(None))
    x = np.array([s[1] for s in run.steps])
    g = np.array([s[2] for s in run.steps])
    final = _final_parameters(run, x[-1])
    if final is not None:
        x = np.vstack([x, final])
    observed = np.diff(x, axis=0)
    g = g[:len(observed)]
    state, _ = run.adam_state()
    if not len(observed) or not np.any((observed != 0) | ~np.isfinite(observed)):
        # 2.1 from what the run set up before its update: m and v zeros, t from 1 (or 0).
        calls = len(run.steps)
        text = ("the parameters never changed between the training steps (%d gradient call%s): no ADAM update "
                "was made" % (calls, "" if calls == 1 else "s"))
        if state:
            text += " (m and v were set up as zeros of the parameters' shape, and t, as Figure 5 starts)"
        return state, False, text + run.error_lines("training")
    if run.library:
        return False, False, ("the training loop used %s: Task 2 asks for ADAM written out (Figure 5), not a "
                              "library's" % run.library[0])
    if len(observed) < 2:
        return False, False, (NEEDS_HUMAN + "the run made one update only: one step cannot tell ADAM (its moments) "
                              "from a normalised gradient step; train for more than one batch"
                              + run.error_lines("training"))
    # objective is the bound (ascent) or the loss (descent): by what it made of the bound's gradient, and
    # by the sign of the submission's own vae_lower_bound (a negated one makes objective the loss).
    sign = (1.0 if np.median(run.cotangents) > 0 else -1.0) * (run.own if run.own is not None else 1.0)
    lr = run.learning_rate()

    def explained(unit):
        """Only Figure 5 (or its variant, unit) explains the steps, at some step size: "yes", "no", or
        the name of a simpler rule that explains them as well."""
        alpha = _fit(observed, unit)
        if alpha is None or alpha <= 0:
            return "no"
        for name, u in (("plain SGD (alpha * g)", sign * g), ("sign descent (alpha * sign(g))", sign * np.sign(g))):
            if _fit(observed, u) is not None:
                return name
        return "yes"
    candidates = [(None, maths.steps(g, 1.0, sign=sign)),
                  ("wrong_direction", maths.steps(g, 1.0, sign=-sign)),
                  ("no_bias_correction", maths.steps(g, 1.0, bias=False, sign=sign)),
                  ("eps_inside_sqrt", maths.steps(g, 1.0, eps_inside=True, sign=sign)),
                  ("t_ahead", maths.steps(g, 1.0, t0=2, sign=sign))]
    for name, unit in candidates:
        verdict = explained(unit)
        if verdict == "no":
            continue
        if verdict != "yes":
            return state, False, (NEEDS_HUMAN + "the %d step(s) observed fit Figure 5%s but also %s: they cannot "
                                  "tell ADAM apart (train for more steps)"
                                  % (len(observed), "" if name is None else " with a slip", verdict))
        if name is None:
            return True, True, None
        if name == "t_ahead":   # t's start is 2.1's; the updates are Figure 5's
            return False, True, ("t looks one step ahead: Figure 5's first update has t = 1 (t starts at 1 in the "
                                 "handout, and is incremented after each update)")
        text = _direction_text(sign, run.own) if name == "wrong_direction" else maths.SLIPS[name]
        return True, [name], "the updates are Figure 5's but for one slip: " + text
    if not np.all(np.isfinite(x[1:])):
        if run.t_fixed is not None:
            _, update, message = adam_verdict(run.t_fixed)
            text = ("t starts at 0 and is incremented after the update: the first update divides by "
                    "1 - beta1^0 = 0, and every parameter became nan. Figure 5's first update has t = 1 (t = 1 "
                    "in the handout; or t = 0 incremented before the update)")
            checked = ("the updates, checked in a second run with t = 1, %s" %
                       ("are Figure 5's" if update is True else "%s" % message))
            return False, update, text + "\n  " + checked
        return False, False, ("the parameters became nan or infinite after the first update: does t start at 0 "
                              "(1 - beta1^0 = 0)? Figure 5's first update has t = 1; nothing after it can be "
                              "checked" + run.error_lines("training"))
    unit = candidates[0][1]
    right = _agree(observed, lr * unit)
    first = int(np.argmin(right)) if not right.all() else 0
    text = ("the update after training step %d departs from Figure 5 (beta1 0.9, beta2 0.999, eps 1e-8, "
            "learning rate %g): coordinate values %s, expected %s"
            % (first + 1, lr, _fmt(observed[first]), _fmt(lr * unit[first])))
    if run.own is not None and run.own < 0:
        text += ("\n  note: your vae_lower_bound returns the negative of the bound (Task 1.4), so objective is "
                 "judged as the loss it is")
    return bool(right[0]), False, text + run.error_lines("training")


def _final_parameters(run, last):
    """The parameters after the last update, on the followed coordinates: the bound's last plain call
    after the last step (the handout's `elbo_est += objective(...)`), or Task 3's networks; None when
    neither shows a change."""
    candidates = [flat(nets) for nets in run.after[::-1]]
    candidates += [flat((dec, enc)) for dec in run.networks["decoder"][:1] for enc in run.networks["encoder"][:1]]
    for x in candidates:
        if len(x) > run.index.max() and not np.array_equal(x[run.index], last, equal_nan=True):
            return x[run.index]
    return None


def _fmt(values, n=4):
    flat_values = np.asarray(values, dtype=np.float64).ravel()
    return "[%s%s]" % (", ".join("%.6g" % v for v in flat_values[:n]), ", ..." if flat_values.size > n else "")


# ---------------------------------------------------------------------------
# Task 3 from the saved images, found by matching

def matches(saved, table):
    """For each row of saved (k, 784), the index of a row of table (m, 784) equal to it within the
    tolerance, or -1."""
    if not len(table) or not len(saved):
        return np.full(len(saved), -1)
    with np.errstate(all="ignore"):
        s = np.where(np.isfinite(saved), saved, 0.0)
        t = np.where(np.isfinite(table), table, 0.0)
        distance = (s ** 2).sum(1)[:, None] + (t ** 2).sum(1)[None] - 2 * s @ t.T
    best = np.argmin(distance, axis=1)
    ok = np.array([np.allclose(saved[i], table[j], rtol=RTOL, atol=ATOL, equal_nan=True) for i, j in enumerate(best)])
    return np.where(ok, best, -1)


def matches_all(saved, table):
    """For each row of saved, the indices of every row of table equal to it within the tolerance
    (a barely trained model can decode two codes alike: each is a possible match)."""
    if not len(table) or not len(saved):
        return [np.zeros(0, dtype=np.int64) for _ in saved]
    with np.errstate(all="ignore"):
        s = np.where(np.isfinite(saved), saved, 0.0)
        t = np.where(np.isfinite(table), table, 0.0)
        distance = (s ** 2).sum(1)[:, None] + (t ** 2).sum(1)[None] - 2 * s @ t.T
        bound = ((ATOL + RTOL * np.abs(t)) ** 2).sum(1) * 1.01 + 1e-12   # what allclose lets through
    out = []
    for i, row in enumerate(saved):
        near = np.flatnonzero(distance[i] <= bound)
        out.append(np.array([j for j in near if np.allclose(row, table[j], rtol=RTOL, atol=ATOL)], dtype=np.int64))
    return out


def _check_depends(dec, enc, test):
    if not healthy(dec, "decoder", test):
        raise GradingFailure("the decoder used after training gives the same image whatever z: it is not a trained "
                             "decoder, and Task 3's images cannot be judged from it")
    if enc is not None and not healthy(enc, "encoder", test):
        raise GradingFailure("the encoder used after training gives the same output for every image: it is not "
                             "a trained encoder, and Task 3's images cannot be judged from it")


def trained_pairs(run, test):
    """(decoder, encoder) of every pair of the run's trained networks, each checked to depend on its
    input (a GradingFailure where one does not)."""
    decoders, encoders = run.trained()
    for dec in decoders:
        for enc in encoders:
            _check_depends(dec, enc, test)
            yield dec, enc


def _score(part, found_slips, base=None, extra=""):
    """Raise PartialCredit for the slips found (each costs its points once), or for base points of
    the part's; nothing when neither."""
    table = slips(part)
    lost = sum(table.get(name, 0) for name in found_slips)
    if not found_slips and base is None:
        return None
    points = results.load_points()["by_function"]
    maximum = next(p["points"] for p in points.values() if p["part"] == part)
    lost = maximum - base + lost if base is not None else lost
    raise PartialCredit("\n  ".join([extra] + ["slip: %s (-%g points)" % (SLIP_TEXT[name], table.get(name, 0))
                                              for name in found_slips]).strip("\n "), min(maximum, lost))


def score_slips(part, found, text):
    """PartialCredit for the slips found (each costs points.json's points once), with text."""
    table = slips(part)
    lost = sum(table.get(name, 0) for name in found)
    raise PartialCredit("%s (-%g points)" % (text, lost), lost)


SLIP_TEXT = {
    "logits": "the logits were saved: save the activation probabilities sigmoid(logits)",
    "image_count": "not the %d images the practical asks for" % NUM_IMAGES,
    "posterior_means": "the posterior means were decoded: the practical draws z from q(z|x) for reconstructions",
    "other_images": "not the first 10 test images (the practical asks for those)",
    "no_originals": "the original test images were not saved beside their reconstructions",
    "sampled_codes": "the codes were sampled from q(z|x): the practical interpolates the means",
    "frame_count": "not the %d frames (values of s) the practical asks for" % NUM_FRAMES,
    "missing_pairs": "fewer interpolations than the practical's 5 (test images 1-2, 3-4, ..., 9-10)",
}


def samples_verdict(run):
    """Nothing if right; GradingFailure, or PartialCredit for a slip."""
    (decoders, encoders) = run.trained()
    best = None
    for dec in decoders:
        _check_depends(dec, None, run.test)
        latent = dec[0][0].shape[0]
        rows = [d.reshape(-1, latent) for d in run.draws if d.size % latent == 0 and d.size]
        z = np.concatenate(rows) if rows else np.zeros((0, latent))
        logits = decode(dec, z) if len(z) else np.zeros((0, 784))
        for kind, table in (("probabilities", given.sigmoid(logits)), ("logits", logits)):
            used = set()
            for saved, _ in run.saves:
                found = matches(saved, table)
                if len(found) and np.all(found >= 0):
                    used.update(found.tolist())
            if used and (best is None or (kind == "probabilities" and best[0] == "logits")):
                best = (kind, len(used))
    if best is None:
        lines = ["no saved array holds images sigmoid(decoder(z)) for z drawn from N(0, I) with numpy's global "
                 "generator (npr.randn(25, latent_dim)) after training"]
        if not run.draws:
            lines.append("hint: no Gaussian draw was made after training: draw z ~ N(0, I) with npr.randn")
        if any(a.shape[0] >= 4 and np.all((a == 0) | (a == 1)) for a, _ in run.saves):
            lines.append("hint: some saved images are binarised: save the activation probabilities")
        raise GradingFailure("\n  ".join(lines) + run.error_lines("after"))
    found = (["logits"] if best[0] == "logits" else []) + (["image_count"] if best[1] != NUM_IMAGES else [])
    _score("3.1", found)


def candidates(run, enc, test):
    """Latent codes Task 3 may have used for each test image: (image, kind, z) rows, kind "mean"
    (the posterior mean), "sample" (drawn from q(z|x): by the sampler, answered here, or as
    mean + sigma * eps with a replayed draw)."""
    out_image, out_kind, out_z = [], [], []
    encoder_output = decode(enc, test)
    mean, log_std = halves(encoder_output)
    latent = mean.shape[1]
    for i in range(len(test)):
        out_image.append(i), out_kind.append("mean"), out_z.append(mean[i])
    steps = len(run.steps)
    for step, row, z in run.sampled:
        if step == steps and row.shape == encoder_output[0].shape and z.shape == (latent,):
            hit = np.flatnonzero(np.all(np.isclose(encoder_output, row, rtol=RTOL, atol=ATOL), axis=1))
            if len(hit):
                out_image.append(int(hit[0])), out_kind.append("sample"), out_z.append(z)
    for draw in run.draws:
        if draw.size % latent or not draw.size:
            continue
        eps = draw.reshape(-1, latent)
        k = len(eps)
        if k == 1:
            pairs = [(i, 0) for i in range(len(test))]
        elif k <= len(test):
            pairs = [(o + j, j) for o in range(len(test) - k + 1) for j in range(k)]
        else:
            continue
        for i, j in pairs[:4000]:
            out_image.append(i), out_kind.append("sample"), out_z.append(mean[i] + np.exp(log_std[i]) * eps[j])
    return np.array(out_image), np.array(out_kind), np.array(out_z)


def reconstructions_verdict(run, test):
    best = None
    for dec, enc in trained_pairs(run, test):
        images, kinds, z = candidates(run, enc, test)
        logits = decode(dec, z)
        # An interpolation's end frames are decoded means too: they are no reconstructions.
        saves = [saved for saved, _ in run.saves]
        for hit in interpolations(run, dec, enc, test):
            saves[hit[5]] = saves[hit[5]].copy()
            saves[hit[5]][hit[6]:hit[6] + hit[2]] = np.nan
        originals = set()
        for saved in saves:
            originals.update(int(i) for i in matches(saved, test) if i >= 0)
        for output, table in (("probabilities", given.sigmoid(logits)), ("logits", logits)):
            hits = set()
            for saved in saves:
                for found in matches_all(saved, table):
                    hits.update(found.tolist())
            if not hits:
                continue
            recon = {int(images[h]) for h in hits}
            sampled = any(kinds[h] == "sample" for h in hits)
            first = set(range(10))
            found = (["logits"] if output == "logits" else []) + ([] if sampled else ["posterior_means"]) + \
                ([] if first <= recon else ["other_images"]) + \
                ([] if recon & originals else ["no_originals"])
            if best is None or len(found) < len(best):
                best = found
    if best is None:
        lines = ["no saved array holds reconstructions of test images: sigmoid(decoder(z)) with z drawn from q(z|x) "
                 "(sample_latent_variables_from_posterior of the encoder's output) for the first 10 test images"]
        raise GradingFailure("\n  ".join(lines) + run.error_lines("after"))
    _score("3.2", best)


def interpolations(run, dec, enc, test):
    """Every interpolation saved: (image a, image b, frames, code kind, output kind, save, first row),
    found by matching each saved array's frames, in order, to decode(z_a s + (1 - s) z_b), s from 1
    to 0, with z_a, z_b codes of test images a and b."""
    images, kinds, z = candidates(run, enc, test)
    logits = decode(dec, z)
    found = []
    for output, table, f in (("probabilities", given.sigmoid(logits), given.sigmoid), ("logits", logits, None)):
        for index, (saved, _) in enumerate(run.saves):
            start = matches(saved, table)
            r = 0
            while r < len(saved) - 1:
                hit = None
                if start[r] >= 0:
                    a = start[r]
                    for n in range(min(len(saved) - r, 200), 2, -1):   # 3 frames at least: 2 are any two images
                        b = start[r + n - 1]
                        if b < 0 or images[b] == images[a]:
                            continue
                        s = np.linspace(1.0, 0.0, n)[:, None]
                        frames = decode(dec, z[a] * s + (1 - s) * z[b])
                        frames = f(frames) if f else frames
                        if np.allclose(saved[r:r + n], frames, rtol=RTOL, atol=ATOL, equal_nan=True):
                            hit = (int(images[a]), int(images[b]), n,
                                   "sample" if "sample" in (kinds[a], kinds[b]) else "mean", output, index, r)
                            break
                if hit:
                    found.append(hit)
                    r += hit[2]
                else:
                    r += 1
    return found


def _pixel_interpolation(saved, test):
    """Does saved start with a blend of two test images' pixels, a s + (1 - s) b?"""
    if len(saved) < 3:
        return False
    ends = matches(saved[[0, -1]], test)
    if np.any(ends < 0):
        return False
    s = np.linspace(1.0, 0.0, len(saved))[:, None]
    return np.allclose(saved, test[ends[0]] * s + (1 - s) * test[ends[1]], rtol=RTOL, atol=ATOL)


def interpolation_verdict(run, test):
    best = None
    for dec, enc in trained_pairs(run, test):
        found = interpolations(run, dec, enc, test)
        pairs = {tuple(sorted(h[:2])) for h in found}
        handout = [h for h in found if tuple(sorted(h[:2])) in PAIRS]
        got = {tuple(sorted(h[:2])) for h in handout}
        if not got and not pairs:
            continue
        kinds = (["frame_count"] if any(h[2] != NUM_FRAMES for h in handout) else []) + \
            (["sampled_codes"] if any(h[3] == "sample" for h in handout) else []) + \
            (["logits"] if any(h[4] == "logits" for h in handout) else [])
        if len(got) == len(PAIRS):
            score = (None, kinds, "")
        elif got and pairs <= set(PAIRS):
            score = (None, ["missing_pairs"] + kinds, "interpolations found: test images %s"
                     % ", ".join("%d-%d" % (a + 1, b + 1) for a, b in sorted(got)))
        else:
            score = (2 * len(got), kinds, "the 5 interpolations are between test images 1-2, 3-4, 5-6, 7-8 and "
                     "9-10; the ones saved are between %s" % ", ".join("%d-%d" % (a + 1, b + 1)
                                                                       for a, b in sorted(pairs)))
        value = 10 - sum(slips("3.3").get(k, 0) for k in score[1]) if score[0] is None else score[0]
        if best is None or value > best[0]:
            best = (value, score)
    if best is None:
        text = ("no saved array holds an interpolation between test images: sigmoid(decoder(z_a s + (1 - s) z_b)) "
                "for s from 0 to 1, z_a and z_b the posterior means of test images 1 and 2 (then 3 and 4, ...)")
        if any(_pixel_interpolation(saved, test) for saved, _ in run.saves):
            text += "\n  hint: the images themselves were interpolated: interpolate their latent means, then decode"
        raise GradingFailure(text + run.error_lines("after"))
    base, kinds, extra = best[1]
    _score("3.3", kinds, base=base, extra=extra)
