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


def final_metrics(run: AlphaRun) -> dict:
    """One table row of a trained run: its margin and what its card says at the end of training."""
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
    return {
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
