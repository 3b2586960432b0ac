"""Lesson 7, "Evaluation": true and false accepts, VAL and FAR, on the shipped model's real distances.

Everything here works on the LFW embeddings shipped with the model (`model.embed.LFWEmbeddings`),
so none of it needs the photos. The verification measures are those of the FaceNet paper
(Schroff, Kalenichenko & Philbin, CVPR 2015, Sec. 4), computed by `model.evaluate`:

    TA(d) = {(i, j) in P_same : D(x_i, x_j) <= d}     FA(d) = {(i, j) in P_diff : D(x_i, x_j) <= d}
    VAL(d) = |TA(d)| / |P_same|                         FAR(d) = |FA(d)| / |P_diff|

with D the squared L2 distance between two embeddings. On top of that:

* `open_set_*`: identification against a gallery of known people, where a probe may be someone
  who is not in the gallery at all, answered by the nearest neighbour alone (closed set: it always
  names somebody) or with a distance threshold that may answer "unknown" (open set);
* `DistanceReference`: what a distance can honestly be turned into, a share of the different-person
  (and same-person) pairs that come at least that close;
* `threshold_transfer`: a threshold chosen on the people the model trained on (pairsDevTrain), used
  on new people (pairsDevTest), against LFW's ten folds that choose it on new people;
* `Calibration`: the probability that two photos show one person, P(same | D), under a prior the
  student sets: a logistic fit of "same" on D gives the likelihood ratio, Bayes' rule the rest;
  `reliability` checks it on pairs the fit never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import evaluate

# --------------------------------------------------------------------------------------------
# Verification on pairsDevTest
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    """A set of face pairs: row indices into the embeddings, whether each is one person, and the
    squared L2 distance of its two embeddings."""

    left: np.ndarray
    right: np.ndarray
    same: np.ndarray  # bool
    distances: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.same)


def devtest_pairs(lfw) -> Pairs:
    """LFW View 1's pairsDevTest (500 same-person + 500 different-person pairs, none of whose people
    the shipped model was trained on), with their distances under the shipped model."""
    d = evaluate.pair_distances(lfw.embeddings, lfw.devtest_left, lfw.devtest_right)
    return Pairs(lfw.devtest_left, lfw.devtest_right, lfw.devtest_same.astype(bool), d)


@dataclass(frozen=True)
class Counts:
    """What a threshold d does to a set of pairs."""

    threshold: float
    n_same: int  # |P_same|
    n_diff: int  # |P_diff|
    true_accepts: int  # |TA(d)|: same person, D <= d
    false_accepts: int  # |FA(d)|: different people, D <= d
    val: float  # VAL(d), from model.evaluate.val_far
    far: float  # FAR(d)

    @property
    def false_rejects(self) -> int:
        """Same-person pairs the threshold turns away (D > d)."""
        return self.n_same - self.true_accepts

    @property
    def true_rejects(self) -> int:
        return self.n_diff - self.false_accepts

    @property
    def accuracy(self) -> float:
        """Share of all pairs decided right: (TA + TR) / (|P_same| + |P_diff|)."""
        return (self.true_accepts + self.true_rejects) / (self.n_same + self.n_diff)


def counts_at(pairs: Pairs, threshold: float) -> Counts:
    """TA, FA, VAL and FAR at `threshold`: a pair is accepted as "same person" when D <= threshold."""
    accepted = pairs.distances <= threshold
    val, far = evaluate.val_far(pairs.distances, pairs.same, threshold)
    return Counts(float(threshold), int(pairs.same.sum()), int((~pairs.same).sum()),
                  int((accepted & pairs.same).sum()), int((accepted & ~pairs.same).sum()), val, far)


def roc_curve(pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, VAL, FAR) at every distinct distance (`model.evaluate.roc`)."""
    return evaluate.roc(pairs.distances, pairs.same)


def val_at_far(pairs: Pairs, target_far: float = 1e-3) -> tuple[float, float]:
    """(VAL, threshold) at the largest threshold whose FAR is at most `target_far`."""
    return evaluate.val_at_far(pairs.distances, pairs.same, target_far)


def best_threshold(pairs: Pairs) -> tuple[float, float]:
    """(threshold, accuracy) of the threshold that decides the most of these pairs right."""
    return evaluate.best_threshold(pairs.distances, pairs.same)


def ten_fold(pairs: Pairs) -> evaluate.TenFold:
    """LFW's ten-fold accuracy on pairsDevTest: the pairs are dealt into ten folds of 50 same +
    50 different pairs (fold = position % 10, as model.evaluate.evaluate_lfw does), and each fold is
    judged with the threshold that is best on the other nine."""
    return evaluate.ten_fold_accuracy(pairs.distances, pairs.same, np.arange(len(pairs)) % 10)


def false_accept_pairs_allowed(n_diff: int, target_far: float) -> int:
    """How many false accepts a FAR of at most `target_far` allows among `n_diff` different-person
    pairs (500 pairs at FAR 1e-3: 0.5, so none at all)."""
    return int(np.floor(n_diff * target_far + 1e-9))


@dataclass(frozen=True)
class Mistakes:
    false_accepts: np.ndarray  # pair indices, closest (most confidently wrong) first
    false_rejects: np.ndarray  # pair indices, farthest first


def mistakes_at(pairs: Pairs, threshold: float) -> Mistakes:
    """The pairs a threshold gets wrong: different people accepted and same person rejected."""
    d = pairs.distances
    fa = np.flatnonzero(~pairs.same & (d <= threshold))
    fr = np.flatnonzero(pairs.same & (d > threshold))
    return Mistakes(fa[np.argsort(d[fa], kind="stable")], fr[np.argsort(-d[fr], kind="stable")])


# --------------------------------------------------------------------------------------------
# Question 1: someone who is not in the gallery gets recognised as someone who is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSetExperiment:
    """A gallery of known people, and probe photos to identify against it.

    Every probe is answered by its nearest gallery photo; `nearest_distance[i]` and
    `nearest_person[i]` are that photo's squared distance and person (a label of the embeddings),
    `true_person[i]` the probe's own person, -1 for probes of people not in the gallery.
    """

    gallery_people: np.ndarray  # labels of the known people
    gallery_rows: np.ndarray  # rows of the enrolled photos
    probe_rows: np.ndarray
    true_person: np.ndarray  # label, or -1: not in the gallery
    nearest_person: np.ndarray
    nearest_distance: np.ndarray
    nearest_row: np.ndarray  # the gallery photo that matched

    @property
    def known(self) -> np.ndarray:
        return self.true_person >= 0


def open_set_candidates(lfw, min_photos: int = 4) -> np.ndarray:
    """Labels of the people the model never saw in training who have at least `min_photos` photos,
    in a fixed shuffled order (the first P of them form a gallery of P people)."""
    counts = np.bincount(lfw.labels, minlength=len(lfw.names))
    people = np.flatnonzero(~np.asarray(lfw.trained_on) & (counts >= min_photos))
    return np.random.default_rng(0).permutation(people)


def open_set_experiment(lfw, people: int = 20, enrolled: int = 1, min_photos: int = 4) -> OpenSetExperiment:
    """Enrol the first `enrolled` photos of `people` unseen people into a gallery; probe with the rest
    of their photos (known probes) and with every photo of the other people the model never saw
    (unknown probes: they are not in the gallery, so the only right answer for them is "unknown")."""
    if not 1 <= enrolled < min_photos:
        raise ValueError(f"enrolled must be between 1 and min_photos - 1 = {min_photos - 1}")
    candidates = open_set_candidates(lfw, min_photos)
    gallery_people = np.sort(candidates[:people])
    in_gallery = np.zeros(len(lfw.names), bool)
    in_gallery[gallery_people] = True
    unseen = ~np.asarray(lfw.trained_on)
    rows = np.arange(len(lfw.labels))
    # the rank of each photo among its person's photos, in file order
    order = np.lexsort((rows, lfw.labels))
    rank = np.empty_like(rows)
    starts = np.r_[0, np.flatnonzero(np.diff(lfw.labels[order])) + 1]
    rank[order] = rows - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    enrolled_mask = in_gallery[lfw.labels] & (rank < enrolled)
    gallery_rows = rows[enrolled_mask]
    probe_rows = rows[unseen[lfw.labels] & ~enrolled_mask]
    g = lfw.embeddings[gallery_rows].astype(np.float64)
    p = lfw.embeddings[probe_rows].astype(np.float64)
    d = (p * p).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * p @ g.T
    nearest = np.argmin(d, axis=1)
    true = np.where(in_gallery[lfw.labels[probe_rows]], lfw.labels[probe_rows], -1)
    return OpenSetExperiment(gallery_people, gallery_rows, probe_rows, true, lfw.labels[gallery_rows][nearest],
                             np.maximum(d[np.arange(len(d)), nearest], 0.0), gallery_rows[nearest])


@dataclass(frozen=True)
class OpenSetCounts:
    threshold: float  # inf: nearest neighbour alone (always names someone)
    known: int  # probes of gallery people
    known_right: int  # named as themselves
    known_wrong: int  # named as another gallery person
    known_unknown: int  # turned away as "unknown"
    unknown: int  # probes of people not in the gallery
    unknown_named: int  # wrongly named as a gallery person
    unknown_unknown: int  # rightly answered "unknown"

    @property
    def unknown_named_rate(self) -> float:
        return self.unknown_named / self.unknown if self.unknown else float("nan")

    @property
    def known_right_rate(self) -> float:
        return self.known_right / self.known if self.known else float("nan")

    @property
    def known_unknown_rate(self) -> float:
        return self.known_unknown / self.known if self.known else float("nan")


def open_set_counts(exp: OpenSetExperiment, threshold: float = np.inf) -> OpenSetCounts:
    """Answer every probe with its nearest gallery person if that photo is within `threshold`
    (squared distance), else "unknown"; count the right and wrong answers."""
    named = exp.nearest_distance <= threshold
    known = exp.known
    right = named & (exp.nearest_person == exp.true_person)
    return OpenSetCounts(float(threshold), int(known.sum()), int((known & right).sum()),
                         int((known & named & ~right).sum()), int((known & ~named).sum()), int((~known).sum()),
                         int((~known & named).sum()), int((~known & ~named).sum()))


def open_set_curve(exp: OpenSetExperiment, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """For each threshold: the share of unknown probes wrongly named, of known probes named right,
    and of known probes turned away as unknown."""
    t = np.asarray(thresholds, dtype=np.float64)
    known = exp.known
    d_unknown = np.sort(exp.nearest_distance[~known])
    right = exp.nearest_person == exp.true_person
    d_known = np.sort(exp.nearest_distance[known])
    d_right = np.sort(exp.nearest_distance[known & right])
    n_u, n_k = max(len(d_unknown), 1), max(len(d_known), 1)
    return {"threshold": t,
            "unknown_named": np.searchsorted(d_unknown, t, side="right") / n_u,
            "known_right": np.searchsorted(d_right, t, side="right") / n_k,
            "known_unknown": 1.0 - np.searchsorted(d_known, t, side="right") / n_k}


# --------------------------------------------------------------------------------------------
# Question 2: how is a percentage calculated?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistanceReference:
    """Distances of known same-person and different-person pairs, sorted, to read shares off."""

    name: str
    same: np.ndarray  # sorted squared distances of same-person pairs
    different: np.ndarray  # sorted squared distances of different-person pairs

    @staticmethod
    def _within(sorted_distances: np.ndarray, distance) -> np.ndarray | int:
        # The query takes the array's dtype: searching a float64 value in a float32 array would
        # make numpy convert (copy) the whole array, millions of values, on every call.
        query = np.asarray(distance, dtype=sorted_distances.dtype)
        return np.searchsorted(sorted_distances, query, side="right")

    def share_different_within(self, distance) -> np.ndarray | float:
        """FAR at this distance: the share of different-person pairs at least this close (D <= distance)."""
        return self._within(self.different, distance) / len(self.different)

    def share_same_within(self, distance) -> np.ndarray | float:
        """VAL at this distance: the share of same-person pairs at least this close."""
        return self._within(self.same, distance) / len(self.same)

    def different_within(self, distance) -> int:
        return int(self._within(self.different, distance))

    def same_within(self, distance) -> int:
        return int(self._within(self.same, distance))


def reference_from_pairs(pairs: Pairs, name: str = "pairsDevTest") -> DistanceReference:
    return DistanceReference(name, np.sort(pairs.distances[pairs.same]), np.sort(pairs.distances[~pairs.same]))


def all_unseen_pairs_reference(lfw) -> DistanceReference:
    """Every pair of photos of the people the model never saw in training (thousands of photos,
    millions of pairs): a finer ruler than pairsDevTest's 500 + 500 pairs."""
    rows = np.flatnonzero(~np.asarray(lfw.trained_on)[lfw.labels])
    e = lfw.embeddings[rows].astype(np.float32)
    labels = lfw.labels[rows]
    sq = (e * e).sum(1)
    same_parts, diff_parts = [], []
    for start in range(0, len(rows), 512):  # in blocks, to keep the memory small
        stop = min(start + 512, len(rows))
        d = sq[start:stop, None] + sq[None, :] - 2.0 * (e[start:stop] @ e.T)
        upper = np.arange(len(rows))[None, :] > np.arange(start, stop)[:, None]
        same = labels[start:stop, None] == labels[None, :]
        same_parts.append(d[upper & same])
        diff_parts.append(d[upper & ~same])
    same_d = np.sort(np.maximum(np.concatenate(same_parts), 0.0))
    diff_d = np.sort(np.maximum(np.concatenate(diff_parts), 0.0))
    return DistanceReference("every pair of unseen people's photos", same_d, diff_d)


def naive_similarity(distance: float) -> float:
    """The "similarity percentage" people are tempted to print: 1 - D/4 (D runs from 0 to 4 for
    unit vectors). It is just a rescaled distance: it says nothing about how often such a distance
    happens between strangers, which is what the page shows instead."""
    return 1.0 - float(distance) / 4.0


def on_grid(pairs: Pairs, threshold: float, step: float = 0.001) -> float:
    """A multiple of `step` (what a slider can show) that accepts exactly the same pairs as
    `threshold`, if there is one; else `threshold` rounded to the grid."""
    target = counts_at(pairs, threshold)
    below, above = np.floor(threshold / step) * step, np.ceil(threshold / step) * step
    for candidate in sorted((below, above), key=lambda c: abs(c - threshold)):
        c = round(float(candidate), 10)
        got = counts_at(pairs, c)
        if (got.true_accepts, got.false_accepts) == (target.true_accepts, target.false_accepts):
            return c
    return round(float(np.round(threshold / step) * step), 10)


def stranger_match_estimate(far: float, gallery_photos: int) -> float:
    """Chance that a stranger comes within the threshold of at least one of `gallery_photos`
    enrolled photos, if each comparison were an independent draw with false accept rate `far`:
    1 - (1 - FAR)^G. A rough guide (the comparisons are not independent), but it shows why a
    bigger gallery needs a stricter threshold."""
    return 1.0 - (1.0 - float(far)) ** int(gallery_photos)


# --------------------------------------------------------------------------------------------
# A threshold chosen on other people: pairsDevTrain (trained on) against pairsDevTest (new)
# --------------------------------------------------------------------------------------------


def devtrain_pairs(lfw, root) -> Pairs:
    """LFW View 1's pairsDevTrain (1,100 same-person + 1,100 different-person pairs of the people the
    shipped model was trained on), read from the protocol file in the LFW folder `root` (so it
    needs LFW's pairsDevTrain.txt: model.data.DataNotFoundError without it), with their distances."""
    from model.data import lfw_pairs

    protocol = lfw_pairs(root, "devtrain")
    where = lfw.index()
    left = np.array([where[f] for f in protocol.left], dtype=np.int64)
    right = np.array([where[f] for f in protocol.right], dtype=np.int64)
    return Pairs(left, right, protocol.same.astype(bool), evaluate.pair_distances(lfw.embeddings, left, right))


@dataclass(frozen=True)
class ThresholdTransfer:
    """One threshold carried from the training people to new ones, against LFW's ten folds."""

    train_threshold: float  # best on pairsDevTrain (or the model card's record of it)
    transfer_accuracy: float  # pairsDevTest accuracy at train_threshold
    ten_fold_accuracy: float  # pairsDevTest ten-fold accuracy (thresholds chosen on new people)
    ten_fold_threshold: float  # the mean of the ten folds' thresholds
    transfer_counts: Counts  # what train_threshold does to pairsDevTest

    @property
    def cost(self) -> float:
        """Accuracy lost by choosing the threshold on the training people."""
        return self.ten_fold_accuracy - self.transfer_accuracy


def threshold_transfer(test: Pairs, train_threshold: float) -> ThresholdTransfer:
    """What the threshold `train_threshold` (chosen on pairsDevTrain) does on `test` (pairsDevTest),
    next to LFW's ten-fold protocol, which chooses each tenth's threshold on the other nine."""
    tf = ten_fold(test)
    counts = counts_at(test, train_threshold)
    return ThresholdTransfer(float(train_threshold), counts.accuracy, tf.mean, float(np.mean(tf.thresholds)), counts)


TRANSFER_VERDICTS = ("higher", "about the same", "lower")


def transfer_verdict(transfer_accuracy: float, ten_fold_accuracy: float, band: float = 0.01) -> int:
    """0, 1 or 2 (TRANSFER_VERDICTS): the transferred threshold's accuracy is higher than the
    ten-fold one, within `band` of it, or lower."""
    gap = transfer_accuracy - ten_fold_accuracy
    return 1 if abs(gap) <= band else (0 if gap > 0 else 2)


# --------------------------------------------------------------------------------------------
# An honest percentage: P(same | D) under a stated prior, calibrated and checked
# --------------------------------------------------------------------------------------------


def logit(p) -> np.ndarray | float:
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def sigmoid(z) -> np.ndarray | float:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # no overflow for large |z|


def fit_logistic(distances, same, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of the maximum-likelihood fit P(same) = sigmoid(a + b D), by Newton's method (two
    parameters, no penalty: the same fit as an unregularised logistic regression)."""
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(same, dtype=np.float64)
    if y.min() == y.max():
        raise ValueError("a logistic fit needs both same-person and different-person pairs")
    x = np.c_[np.ones_like(d), d]
    w = np.zeros(2)
    for _ in range(iterations):
        p = sigmoid(x @ w)
        gradient = x.T @ (y - p)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


@dataclass(frozen=True)
class Calibration:
    """P(same | D) = sigmoid(a + b D) fitted on a set of pairs whose share of same-person pairs is
    `fit_prior`. The fit's log-odds are the log likelihood ratio plus the fit set's log prior odds,
    so for another prior pi, by Bayes' rule:

        log LR(D) = a + b D - logit(fit_prior)
        P(same | D) = sigmoid(log LR(D) + logit(pi))     (posterior odds = LR x prior odds)
    """

    name: str
    intercept: float
    slope: float
    fit_prior: float

    def log_likelihood_ratio(self, distance) -> np.ndarray | float:
        return self.intercept + self.slope * np.asarray(distance, dtype=np.float64) - logit(self.fit_prior)

    def likelihood_ratio(self, distance) -> np.ndarray | float:
        """How many times likelier this distance is for a same-person pair than for strangers."""
        return np.exp(self.log_likelihood_ratio(distance))

    def posterior(self, distance, prior: float) -> np.ndarray | float:
        """P(same | D) when a share `prior` of the comparisons are same-person ones."""
        if not 0 < prior < 1:
            raise ValueError("the prior must be strictly between 0 and 1")
        return sigmoid(self.log_likelihood_ratio(distance) + logit(prior))

    def distance_at(self, posterior: float, prior: float) -> float:
        """The distance at which P(same | D) = `posterior` under `prior` (a threshold for it)."""
        return float((logit(posterior) - logit(prior) + logit(self.fit_prior) - self.intercept) / self.slope)


def calibrate(pairs: Pairs, name: str) -> Calibration:
    """The logistic fit of "same person" on D over `pairs`."""
    a, b = fit_logistic(pairs.distances, pairs.same)
    return Calibration(name, a, b, float(pairs.same.mean()))


def cross_fitted_posteriors(pairs: Pairs, folds: int = 10) -> np.ndarray:
    """P(same | D) of every pair at the pairs' own prior, each tenth from a fit on the other nine
    (fold = position % folds, as `ten_fold`): a calibration judged on pairs it never saw."""
    fold = np.arange(len(pairs)) % folds
    out = np.empty(len(pairs))
    for k in range(folds):
        test = fold == k
        a, b = fit_logistic(pairs.distances[~test], pairs.same[~test])
        out[test] = sigmoid(a + b * pairs.distances[test])
    return out


def wilson_interval(successes, trials, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval (95% for z = 1.96) of a share successes / trials."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.maximum(np.asarray(trials, dtype=np.float64), 1e-12)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: pairs binned by their predicted P(same | D); in each bin, the mean
    prediction against the share of the bin's pairs that really are one person."""

    edges: np.ndarray  # (bins + 1,)
    count: np.ndarray  # pairs per bin
    predicted: np.ndarray  # mean prediction per bin (NaN if empty)
    observed: np.ndarray  # share of same-person pairs per bin (NaN if empty)
    low: np.ndarray  # the observed share's 95% Wilson interval
    high: np.ndarray

    def agrees(self, min_pairs: int = 30) -> np.ndarray:
        """Per bin holding at least `min_pairs` pairs: whether its mean prediction lies inside the
        observed share's 95% interval."""
        enough = self.count >= min_pairs
        return (self.predicted[enough] >= self.low[enough]) & (self.predicted[enough] <= self.high[enough])


def reliability(predicted, same, bins: int = 10) -> Reliability:
    """Bin predictions into `bins` equal-width bins over [0, 1] and compare with what happened."""
    p = np.asarray(predicted, dtype=np.float64)
    s = np.asarray(same).astype(bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    hits = np.bincount(which, weights=s.astype(np.float64), minlength=bins)
    total = np.bincount(which, weights=p, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted_mean, observed = total / count, hits / count
    low, high = wilson_interval(hits, count)
    empty = count == 0
    for a in (predicted_mean, observed, low, high):
        a[empty] = np.nan
    return Reliability(edges, count, predicted_mean, observed, low, high)


def median_distances(pairs: Pairs) -> tuple[float, float]:
    """(median D of the same-person pairs, median D of the different-person pairs)."""
    return float(np.median(pairs.distances[pairs.same])), float(np.median(pairs.distances[~pairs.same]))


def posterior_band(posterior: float) -> int:
    """0: above 90%, 1: between 10% and 90%, 2: below 10% (the options of a prediction)."""
    return 0 if posterior > 0.9 else (1 if posterior >= 0.1 else 2)


PRIORS = (0.001, 0.01, 0.1, 0.5, 0.9)  # the priors a student can set: 1 in 1,000 ... 9 in 10


def prior_words(prior: float) -> str:
    """"1 in 1,000", "1 in 2", "9 in 10": a share of same-person comparisons in words."""
    if prior <= 0.5:
        return f"1 in {round(1 / prior):,}"
    return f"{round(prior * 10)} in 10"
