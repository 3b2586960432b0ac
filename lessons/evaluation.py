"""Lesson 7, "Evaluation": true and false accepts, VAL and FAR, on the shipped model's real distances.

Everything here works on the LFW embeddings shipped with the model (`model.embed.LFWEmbeddings`),
so none of it needs the photos. The verification measures are those of the FaceNet paper
(Schroff, Kalenichenko & Philbin, CVPR 2015, Sec. 4.1), computed by `model.evaluate`:

    TA(d) = {(i, j) in P_same : D(x_i, x_j) <= d}     FA(d) = {(i, j) in P_diff : D(x_i, x_j) <= d}
    VAL(d) = |TA(d)| / |P_same|                         FAR(d) = |FA(d)| / |P_diff|

with D the squared L2 distance between two embeddings. On top of that:

* `open_set_*`: identification against a gallery of known people, where a probe may be someone
  who is not in the gallery at all, answered by the nearest neighbour alone (closed set: it always
  names somebody) or with a distance threshold that may answer "unknown" (open set);
* `DistanceReference`: what a distance can honestly be turned into, a share of the different-person
  (and same-person) pairs that come at least that close.
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
