"""Lesson 2, the margin alpha: everything the page computes, without Streamlit.

Around an anchor, the margin splits the negatives into three rings by squared distance
(`model.triplet.classify_triplets`): hard inside ``d_ap``, semi-hard between ``d_ap`` and
``d_ap + alpha``, easy beyond. On a real P x K batch of LFW embeddings (drawn by
`lessons.mining.draw_batch`) `anchor_view` sorts one anchor-positive pair's negatives into those
rings, `active_curve` counts the active triplets of the whole batch for many margins
(`count_triplet_types`, `batch_all_loss`), and `alpha_runs` reads the training runs that differ
only in their margin (`model.sweep.load_runs`).

Embeddings have unit length, so a squared distance between two of them is
``||u - v||^2 = 2 - 2 u.v``, between 0 and 4 (`MAX_SQUARED_DISTANCE`): with a margin above 4,
``d_an < 4 <= d_ap + alpha`` for every triplet, and all of them are active.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lessons.noise import is_tie, noise_of_difference
from lessons.torch_threads import single_threaded
from model import sweep
from model.triplet import (KIND_NAMES, TripletCounts, batch_all_loss, classify_triplets, count_triplet_types,
                           squared_distances)

MAX_SQUARED_DISTANCE = 4.0  # between two unit vectors: opposite points of the sphere

PLAN = "lessons-cpu"
# The runs of the plan that change only the margin, with their margin (model.sweep.PLANS).
ALPHA_RUNS = {"alpha-0.05": 0.05, "alpha-0.1": 0.1, "alpha-0.2": 0.2, "alpha-0.5": 0.5, "alpha-1.0": 1.0}





# --------------------------------------------------------------------------------------------
# A real P x K batch
# --------------------------------------------------------------------------------------------


def batch_distances(embeddings: np.ndarray) -> torch.Tensor:
    """``D[i, j] = ||e_i - e_j||^2`` (float64), by the training code's `squared_distances`."""
    with single_threaded():
        return squared_distances(torch.as_tensor(np.asarray(embeddings)))


# --------------------------------------------------------------------------------------------
# One anchor-positive pair and the negatives around it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorView:
    """One anchor-positive pair of a batch and each negative of the batch, sorted by kind."""

    anchor: int  # index in the batch
    positive: int
    margin: float
    d_ap: float
    negatives: np.ndarray  # indices in the batch
    d_an: np.ndarray  # their squared distances to the anchor
    kinds: np.ndarray  # HARD / SEMI_HARD / EASY, by model.triplet.classify_triplets

    @property
    def counts(self) -> dict[str, int]:
        return {name: int(np.count_nonzero(self.kinds == kind)) for kind, name in enumerate(KIND_NAMES)}

    @property
    def boundaries(self) -> tuple[float, float]:
        """Where the rings change, in squared distance: hard up to d_ap, semi-hard up to d_ap + margin."""
        return self.d_ap, self.d_ap + self.margin

    @property
    def radii(self) -> tuple[float, float]:
        """The same boundaries as plain distances, for drawing circles."""
        return float(np.sqrt(self.d_ap)), float(np.sqrt(max(self.d_ap + self.margin, 0.0)))

    @property
    def terms(self) -> np.ndarray:
        """Each negative's triplet loss term [d_ap - d_an + margin]_+."""
        return np.maximum(self.d_ap - self.d_an + self.margin, 0.0)


def anchor_view(distances: torch.Tensor, labels: np.ndarray, anchor: int, positive: int, margin: float) -> AnchorView:
    labels = np.asarray(labels)
    if anchor == positive or labels[anchor] != labels[positive]:
        raise ValueError("the positive must be another photo of the anchor's person")
    negatives = np.flatnonzero(labels != labels[anchor])
    with single_threaded():
        d_ap = distances[anchor, positive]
        d_an = distances[anchor, torch.as_tensor(negatives)]
        kinds = classify_triplets(d_ap, d_an, margin)
    return AnchorView(anchor=int(anchor), positive=int(positive), margin=float(margin), d_ap=float(d_ap),
                      negatives=negatives, d_an=d_an.numpy().copy(), kinds=kinds.numpy().copy())


def flat_positions(embeddings: np.ndarray, anchor: int, others: np.ndarray, squared: np.ndarray) -> np.ndarray:
    """2-D positions around the anchor (at the origin) for the rows `others`: each at its TRUE
    distance sqrt(squared) from the anchor, in the direction its offset from the anchor takes in
    the plane that best fits all the offsets (their two main directions). Distances are exact;
    the directions are only the best flat view of 128 dimensions."""
    offsets = np.asarray(embeddings, dtype=np.float64)[others] - np.asarray(embeddings, dtype=np.float64)[anchor]
    radius = np.sqrt(np.maximum(np.asarray(squared, dtype=np.float64), 0.0))
    if len(offsets) == 0:
        return np.zeros((0, 2))
    _, _, vt = np.linalg.svd(offsets, full_matrices=False)
    plane = vt[:2]
    if len(plane) < 2:
        plane = np.vstack([plane, np.zeros_like(plane)])
    flat = offsets @ plane.T
    length = np.linalg.norm(flat, axis=1, keepdims=True)
    direction = np.where(length > 1e-12, flat / np.where(length > 0, length, 1.0), np.array([[1.0, 0.0]]))
    return direction * radius[:, None]


# --------------------------------------------------------------------------------------------
# The whole batch, margin by margin
# --------------------------------------------------------------------------------------------


def batch_counts(distances: torch.Tensor, labels: np.ndarray, margin: float) -> TripletCounts:
    """Hard / semi-hard / easy / active counts over every valid triplet of the batch."""
    with single_threaded():
        return count_triplet_types(distances, torch.as_tensor(np.asarray(labels)), margin)


def alpha_grid(top: float = 5.0, step: float = 0.05) -> np.ndarray:
    """0, step, 2 step, ..., top."""
    return np.round(np.arange(0.0, top + step / 2, step), 6)


def curve_alphas() -> np.ndarray:
    """The margins the page's curve is computed at: every 0.05 up to 2, where things change, then
    every 0.25 up to 5 (53 margins: a new batch of 192 photos is counted in about 0.15 s)."""
    return np.concatenate([alpha_grid(2.0, 0.05)[:-1], np.round(np.arange(2.0, 5.0 + 1e-9, 0.25), 6)])


@dataclass(frozen=True)
class ActiveCurve:
    alphas: np.ndarray
    valid: int  # valid triplets of the batch (the same for every margin)
    active_fraction: np.ndarray  # share of valid triplets with a non-zero term
    hard_fraction: np.ndarray  # share with d_an <= d_ap (does not depend on the margin)
    semi_hard_fraction: np.ndarray
    batch_all_loss: np.ndarray  # model.triplet.batch_all_loss: mean term over the active triplets

    def at(self, alpha: float) -> int:
        """Index of the grid point nearest to `alpha`."""
        return int(np.argmin(np.abs(self.alphas - alpha)))


def active_curve(distances: torch.Tensor, labels: np.ndarray, alphas: np.ndarray) -> ActiveCurve:
    """Counts (`count_triplet_types`) and the batch-all loss (`batch_all_loss`) of the whole batch,
    margin by margin.

    """
    labels_t = torch.as_tensor(np.asarray(labels))
    with single_threaded():
        counts = [count_triplet_types(distances, labels_t, float(a)) for a in alphas]
        losses = [float(batch_all_loss(distances, labels_t, float(a))[0]) for a in alphas]
    valid = counts[0].valid if counts else 0
    share = (lambda xs: np.array(xs, dtype=np.float64) / valid) if valid else (lambda xs: np.zeros(len(xs)))
    return ActiveCurve(alphas=np.asarray(alphas, dtype=np.float64), valid=valid,
                       active_fraction=share([c.active for c in counts]), hard_fraction=share([c.hard for c in counts]),
                       semi_hard_fraction=share([c.semi_hard for c in counts]), batch_all_loss=np.array(losses))


# --------------------------------------------------------------------------------------------
# The training runs that differ only in their margin
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaRun:
    name: str
    margin: float
    run: sweep.Run | None  # None: not trained yet

    @property
    def trained(self) -> bool:
        return self.run is not None


def alpha_runs() -> list[AlphaRun]:
    """The margin runs of the plan, smallest margin first, each with its card or None."""
    runs = sweep.load_runs(PLAN)
    return [AlphaRun(name, margin, runs.get(name)) for name, margin in ALPHA_RUNS.items()]


CURVES = {"loss": "Training loss",
          "active_fraction": "Active share of the mined triplets",
          "view1_devtest_accuracy": "Accuracy on pairsDevTest"}


def final_metrics(run: AlphaRun, standing: "Standing | None" = None) -> dict:
    """One table row of a trained run: its margin and what its card says at the end of training,
    and, given its `Standing`, how it compares with the best run by the course's tie rule."""
    card = run.run.card if run.run else {}
    metrics = card.get("metrics") or {}
    hp = card.get("hyperparameters") or {}
    last = {}
    for key in ("loss", "active_fraction"):
        values = run.run.curve(key)[1] if run.run else []
        if values:
            last[key] = values[-1]
    accuracy = metrics.get("view1_devtest_accuracy")
    error = metrics.get("view1_devtest_accuracy_standard_error")
    row = {
        "run": run.name,
        "alpha": hp.get("margin", run.margin),
        "steps": hp.get("steps"),
        "pairsDevTest accuracy": None if accuracy is None else (
            f"{accuracy:.1%}" + ("" if error is None else f" ± {error:.1%}")),
        "VAL at FAR = 0.001": metrics.get("view1_devtest_val_at_far_1e-3"),
        "final loss": last.get("loss"),
        "final active share": last.get("active_fraction"),
        "training time (s)": card.get("wall_time_s"),
    }
    if standing is not None:
        row["against the best"] = standing.verdict
    return row


# --------------------------------------------------------------------------------------------
# Which margin ended ahead: the course's tie rule (lessons.noise), one seed per run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """One trained run's final pairsDevTest accuracy against the best run's, in points."""

    name: str
    margin: float
    accuracy: float  # percent
    error: float  # its standard error, percent
    behind: float  # the best run's accuracy minus this one's (0 for the best)
    noise: float  # two standard errors of that difference (0 for the best)

    @property
    def best(self) -> bool:
        return self.behind == 0 and self.noise == 0

    @property
    def tie(self) -> bool:
        """Within the noise of the best run (lessons.noise.is_tie); False for the best itself."""
        return not self.best and is_tie(self.behind, self.noise)

    @property
    def verdict(self) -> str:
        return "best" if self.best else "tie with the best" if self.tie else "behind"


@dataclass(frozen=True)
class Standings:
    runs: tuple[Standing, ...]  # in the order of ALPHA_RUNS

    @property
    def best(self) -> Standing:
        return next(s for s in self.runs if s.best)

    @property
    def tied_with_best(self) -> tuple[Standing, ...]:
        return tuple(s for s in self.runs if s.tie)

    @property
    def clear_winner(self) -> Standing | None:
        """The best run if it is ahead of every other beyond the noise, else None."""
        return None if self.tied_with_best else self.best

    def winner_option(self) -> int:
        """The index of the true option of lesson 2's "winner" prediction: the clear winner's place
        in ALPHA_RUNS, or len(ALPHA_RUNS) for "no clear winner"."""
        winner = self.clear_winner
        return len(ALPHA_RUNS) if winner is None else list(ALPHA_RUNS).index(winner.name)


def standings(runs: list[AlphaRun]) -> Standings | None:
    """The trained runs' final accuracies, each compared with the best one's by the course's tie
    rule; None unless two or more runs have an accuracy and its standard error."""
    measured = []
    for run in runs:
        metrics = (run.run.card.get("metrics") or {}) if run.run else {}
        accuracy = metrics.get("view1_devtest_accuracy")
        error = metrics.get("view1_devtest_accuracy_standard_error")
        if accuracy is not None and error is not None:
            measured.append((run, 100 * float(accuracy), 100 * float(error)))
    if len(measured) < 2:
        return None
    top_run, top, top_error = max(measured, key=lambda m: m[1])
    rows = []
    for run, accuracy, error in measured:
        first = run is top_run
        rows.append(Standing(run.name, run.margin, accuracy, error, behind=0.0 if first else top - accuracy,
                             noise=0.0 if first else noise_of_difference(top_error, error)))
    return Standings(tuple(rows))


# --------------------------------------------------------------------------------------------
# Same and different: the distances a threshold has to separate, in each margin run
# --------------------------------------------------------------------------------------------

HISTOGRAM_EDGES = np.linspace(0.0, MAX_SQUARED_DISTANCE, 81)  # 80 bins of 0.05 over 0..4
THRESHOLDS = np.linspace(0.0, MAX_SQUARED_DISTANCE, 801)  # candidate thresholds, every 0.005


@dataclass(frozen=True)
class PairDistances:
    """Every pair of photos of one set, under one run at one training step: the squared distances
    of same-person pairs and of different-person pairs, as histograms (share of each kind per bin),
    and the one threshold that gets the most of them right (same and different counted equally)."""

    run: str
    margin: float
    step: int
    same: np.ndarray  # (80,) share of same-person pairs in each bin of HISTOGRAM_EDGES
    different: np.ndarray  # (80,) share of different-person pairs
    same_count: int
    different_count: int
    same_mean: float
    different_mean: float
    threshold: float  # "same" below it, "different" at or above
    balanced_accuracy: float  # (share of same pairs below + share of different pairs at or above) / 2

    @property
    def gap(self) -> float:
        """How much further apart different people are than photos of one person, on average."""
        return self.different_mean - self.same_mean


def same_and_different(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The squared distances of every same-person pair and every different-person pair (each pair
    once), between unit embeddings: 2 - 2 u.v, clipped at 0 against round-off."""
    e = np.asarray(embeddings)
    e = e if e.dtype in (np.float32, np.float64) else e.astype(np.float64)
    labels = np.asarray(labels)
    d = np.clip(2.0 - 2.0 * (e @ e.T), 0.0, MAX_SQUARED_DISTANCE)
    upper = np.triu(np.ones(d.shape, dtype=bool), 1)
    same = labels[:, None] == labels[None, :]
    return d[upper & same], d[upper & ~same]


def best_threshold(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): among THRESHOLDS, the one that maximises the mean of the
    share of same pairs below it and the share of different pairs at or above it."""
    same, different = np.sort(same), np.sort(different)
    below_same = np.searchsorted(same, THRESHOLDS, side="left") / len(same)
    above_different = 1.0 - np.searchsorted(different, THRESHOLDS, side="left") / len(different)
    balanced = (below_same + above_different) / 2
    best = int(np.argmax(balanced))
    return float(THRESHOLDS[best]), float(balanced[best])


def pair_distances(name: str, margin: float, step: int, embeddings: np.ndarray, labels: np.ndarray) -> PairDistances:
    same, different = same_and_different(embeddings, labels)
    threshold, balanced = best_threshold(same, different)
    share = lambda d: np.histogram(d, bins=HISTOGRAM_EDGES)[0] / max(len(d), 1)  # noqa: E731
    return PairDistances(run=name, margin=margin, step=int(step), same=share(same), different=share(different),
                         same_count=len(same), different_count=len(different), same_mean=float(same.mean()),
                         different_mean=float(different.mean()), threshold=threshold, balanced_accuracy=balanced)


def explorer_set(maps, unseen_only: bool = True) -> np.ndarray:
    """The rows of the explorer's maps the histograms use: the photos of the people no run trained
    on (by default), or all of them."""
    return ~maps.seen if unseen_only else np.ones(len(maps), dtype=bool)


def run_pair_distances(maps, name: str, step: int | None = None, unseen_only: bool = True) -> PairDistances | None:
    """`PairDistances` of the margin run `name` at `step` (None: its last snapshot), from the
    explorer's maps (`model.maps.ExplorerMaps`: the 62 LFW people with 20 or more photos, embedded
    at steps 0, 50, ..., 400 of each run); None if the maps lack that run."""
    run = maps.runs.get(name)
    if run is None or name not in ALPHA_RUNS:
        return None
    step = int(run.steps[-1] if step is None else run.steps[run.frame(step)])
    keep = explorer_set(maps, unseen_only)
    embeddings = run.embeddings(step)[keep].astype(np.float32)  # float32: a 1e-6 error, 3x faster
    return pair_distances(name, ALPHA_RUNS[name], step, embeddings, maps.labels[keep])


def gap_row(pairs: PairDistances) -> dict:
    """One table row of a run's `PairDistances`."""
    return {"alpha": pairs.margin, "step": pairs.step, "same person, mean": round(pairs.same_mean, 3),
            "different people, mean": round(pairs.different_mean, 3), "gap": round(pairs.gap, 3),
            "best threshold": round(pairs.threshold, 3), "pairs right at it": f"{pairs.balanced_accuracy:.1%}"}
