"""Lesson 1, the triplet loss term by term: everything the page computes, without Streamlit.

One triplet (anchor, positive, negative) is three points, in the 2-D plane the student moves or
in the 128-D embedding space of the shipped model. `one_triplet` runs the training code's own loss
(`model.triplet.squared_distances` -> `triplet_terms`) on them and lets autograd find the gradient
on each point, which is what gradient descent follows. `batch_of_triplets` does the same for N
triplets at once and reduces the terms the three ways the paper and the training code do.

Conventions are those of `model.triplet`: squared Euclidean distances, a triplet's term is
``[d_ap - d_an + margin]_+``, and its kind is hard (``d_an <= d_ap``), semi-hard
(``d_ap < d_an < d_ap + margin``) or easy (``d_an >= d_ap + margin``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lessons.torch_threads import single_threaded
from model.triplet import KIND_NAMES, Triplets, classify_triplets, squared_distances, triplet_terms

ROLES = ("anchor", "positive", "negative")

# The one triplet of a 3-row batch: row 0 is the anchor, row 1 the positive, row 2 the negative.
_ONE = Triplets(torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))





# --------------------------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------------------------


def on_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Each row divided by its length, as FaceNet's last layer does (``||f(x)||_2 = 1``).

    A row of length 0 has no direction; it is left at the origin.
    """
    points = np.asarray(points, dtype=np.float64)
    norms = np.linalg.norm(points, axis=-1, keepdims=True)
    return np.divide(points, norms, out=np.zeros_like(points), where=norms > 0)


def collapsed(points: np.ndarray) -> np.ndarray:
    """The network that maps every face to one point, f(x) = c: every row replaced by the same
    unit vector c = (1, 0, ..., 0).

    Any c would do for the maths; this one makes the training code's distances exactly 0. With a
    c like (0.6, 0.8) the two ways `squared_distances` forms |a|^2 + |b|^2 - 2 a.b round differently,
    leaving "distances" of 2e-16 that would make a few triplets look active at alpha = 0.
    """
    points = np.asarray(points, dtype=np.float64)
    out = np.zeros_like(points)
    out[..., 0] = 1.0
    return out


# --------------------------------------------------------------------------------------------
# One triplet
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneTriplet:
    """One triplet's distances, loss and gradients.

    `points` are the three points as the loss sees them (rows: anchor, positive, negative);
    `gradients[i]` is d loss / d points[i]; gradient descent moves each point along -gradients[i].
    """

    points: np.ndarray  # (3, d)
    margin: float
    d_ap: float  # ||f(a) - f(p)||^2
    d_an: float  # ||f(a) - f(n)||^2
    loss: float  # [d_ap - d_an + margin]_+
    gradients: np.ndarray  # (3, d)
    kind: str  # "hard", "semi-hard" or "easy" (model.triplet.classify_triplets)

    @property
    def inside(self) -> float:
        """What the hinge [.]_+ receives: d_ap - d_an + margin (may be negative)."""
        return self.d_ap - self.d_an + self.margin

    @property
    def active(self) -> bool:
        return self.loss > 0

    @property
    def gradient_norms(self) -> np.ndarray:
        return np.linalg.norm(self.gradients, axis=1)

    def step(self, learning_rate: float) -> np.ndarray:
        """The points after one plain gradient-descent step: points - learning_rate * gradients."""
        return self.points - learning_rate * self.gradients


def one_triplet(points: np.ndarray, margin: float) -> OneTriplet:
    """Loss and gradients of the triplet whose rows are (anchor, positive, negative), any dimension.

    The loss is `model.triplet.triplet_terms` on `model.triplet.squared_distances` of the three
    points, the very functions training calls; the gradient comes from autograd, not a formula.
    """
    x = torch.tensor(np.asarray(points, dtype=np.float64), requires_grad=True)
    if x.shape[0] != 3:
        raise ValueError("a triplet has three points: anchor, positive, negative")
    with single_threaded():
        distances = squared_distances(x)
        term = triplet_terms(distances, _ONE, margin)[0]
        term.backward()
        d_ap, d_an = distances[0, 1].detach(), distances[0, 2].detach()
        kind = KIND_NAMES[int(classify_triplets(d_ap, d_an, margin))]
    return OneTriplet(points=x.detach().numpy().copy(), margin=float(margin), d_ap=float(d_ap), d_an=float(d_an),
                      loss=float(term.detach()), gradients=x.grad.numpy().copy(), kind=kind)


def analytic_gradients(points: np.ndarray, margin: float) -> np.ndarray:
    """The gradient by hand, for checking autograd: when the term is active,
    d/da = 2(a - p) - 2(a - n) = 2(n - p), d/dp = -2(a - p), d/dn = 2(a - n); else all zero."""
    a, p, n = np.asarray(points, dtype=np.float64)
    d_ap, d_an = np.sum((a - p) ** 2), np.sum((a - n) ** 2)
    if d_ap - d_an + margin <= 0:
        return np.zeros((3, len(a)))
    return np.stack([2 * (a - p) - 2 * (a - n), -2 * (a - p), 2 * (a - n)])


# --------------------------------------------------------------------------------------------
# The negative moved closer or further: the loss and each arrow's length against d_an
# --------------------------------------------------------------------------------------------


def _unit_perpendicular(to: np.ndarray, towards: tuple[np.ndarray, ...]) -> np.ndarray:
    """A unit vector perpendicular to `to`: the part of the first of `towards` that has one,
    else of a coordinate axis."""
    axes = tuple(np.eye(len(to)))
    for v in (*towards, *axes):
        rest = v - (v @ to) * to
        length = np.linalg.norm(rest)
        if length > 1e-9:
            return rest / length
    raise ValueError("no direction is perpendicular in one dimension")


# What the negative's arrow does as the negative closes in, in the order of the options of lesson
# 1's "negative-push" prediction.
PUSH_OUTCOMES = ("grows", "shrinks", "stays")


@dataclass(frozen=True)
class NegativeSweep:
    """One triplet with only its negative moved, from the anchor itself outwards, so that d_an
    runs from 0 up; the anchor and the positive stay where they are.

    On the unit sphere the negative slides along the great circle from the anchor through its
    current place (d_an from 0 to 4, the far side); off the sphere along the straight line from
    the anchor through it. Either way the current triplet is one point of the sweep.

    The arrows are minus the gradients of `one_triplet`: while the term is active, the negative's
    is 2(n - a), of length 2 sqrt(d_an); the positive's 2(a - p), of length 2 sqrt(d_ap); the
    anchor's 2(p - n). Once the negative is beyond d_ap + margin, all three are 0.
    """

    on_sphere: bool
    margin: float
    d_ap: float
    d_an: np.ndarray  # (m,) increasing from 0
    loss: np.ndarray  # (m,)
    gradient_norms: np.ndarray  # (m, 3): anchor, positive, negative
    negatives: np.ndarray  # (m, d): where the negative is at each point of the sweep

    @property
    def active(self) -> np.ndarray:
        return self.loss > 0

    def negative_push_as_it_closes_in(self) -> str:
        """What the negative's arrow does as the negative comes closer to the anchor, read off the
        sweep: one of `PUSH_OUTCOMES`, "stays" when nothing is active (or all is flat)."""
        lengths = self.gradient_norms[self.active, 2]
        if len(lengths) < 2 or np.ptp(lengths) < 1e-12:
            return "stays"
        return "shrinks" if lengths[0] < lengths[-1] else "grows"


def move_negative(points: np.ndarray, margin: float, on_sphere: bool, count: int = 241) -> NegativeSweep:
    """The sweep of `NegativeSweep` for the triplet whose rows are (anchor, positive, negative), as
    the loss sees them (unit rows when `on_sphere`). Closed form, checked against autograd by the
    tests; a few milliseconds for the page's 241 points."""
    a, p, n = np.asarray(points, dtype=np.float64)
    d_ap = float(np.sum((a - p) ** 2))
    if on_sphere:
        a = a / np.linalg.norm(a)
        towards = _unit_perpendicular(a, (n, p))
        angles = np.linspace(0.0, np.pi, count)
        negatives = np.cos(angles)[:, None] * a + np.sin(angles)[:, None] * towards
    else:
        offset = n - a
        reach = float(np.linalg.norm(offset))
        direction = offset / reach if reach > 1e-12 else np.eye(len(a))[0]  # on the anchor: any way out
        far = max(2.0, 1.25 * reach, 1.25 * np.sqrt(max(d_ap + margin, 0.0)))
        negatives = a + np.linspace(0.0, far, count)[:, None] * direction
    d_an = np.sum((negatives - a) ** 2, axis=1)
    inside = d_ap - d_an + margin
    active = inside > 0
    norms = np.stack([2 * np.linalg.norm(p - negatives, axis=1), np.full(count, 2 * np.sqrt(d_ap)),
                      2 * np.sqrt(d_an)], axis=1) * active[:, None]
    return NegativeSweep(on_sphere=bool(on_sphere), margin=float(margin), d_ap=d_ap, d_an=d_an,
                         loss=np.maximum(inside, 0.0), gradient_norms=norms, negatives=negatives)


# --------------------------------------------------------------------------------------------
# Off the unit sphere: every embedding multiplied by s
# --------------------------------------------------------------------------------------------


def scaled_losses(d_ap: float, d_an: float, margin: float, scales: np.ndarray) -> np.ndarray:
    """The loss of a triplet after every embedding is multiplied by s, without the L2
    normalisation: squared distances grow by s^2, so it is [s^2 (d_ap - d_an) + margin]_+."""
    scales = np.asarray(scales, dtype=np.float64)
    return np.maximum(scales ** 2 * (d_ap - d_an) + margin, 0.0)


def scale_that_satisfies(d_ap: float, d_an: float, margin: float) -> float | None:
    """The smallest s >= 0 at which multiplying every embedding by s makes the triplet's loss 0:
    sqrt(margin / (d_an - d_ap)) for a triplet in the right order (d_an > d_ap), however small its
    gap; None for one in the wrong order, which scaling only makes worse."""
    if d_an <= d_ap:
        return 0.0 if margin <= 0 and d_an == d_ap else None
    return float(np.sqrt(max(margin, 0.0) / (d_an - d_ap)))


# What multiplying every embedding by s does to one triplet's loss (without the normalisation),
# in the order of the options of lesson 1's "scale" prediction.
SCALE_OUTCOMES = ("drops to 0", "falls", "unchanged", "grows")


def what_scaling_does(d_ap: float, d_an: float, margin: float, scale: float = 3.0) -> str:
    """One of `SCALE_OUTCOMES`: the loss at `scale` compared with the loss as it is (scale 1)."""
    before, after = scaled_losses(d_ap, d_an, margin, np.array([1.0, scale]))
    if abs(after - before) <= 1e-12:
        return "unchanged"
    if after > before:
        return "grows"
    return "drops to 0" if after == 0 else "falls"


@dataclass(frozen=True)
class PlaneView:
    """Three points of any dimension and their gradients, drawn in the plane through the points.

    Three points always lie in one flat plane, and each gradient of the triplet loss is a
    combination of the differences between them, so it lies in that plane too: the 2-D picture
    keeps every distance and every gradient length exactly (`kept_share` is 1 up to round-off).
    Axes: the anchor at the origin, the positive on the positive x axis, the negative above it.
    """

    points: np.ndarray  # (3, 2)
    gradients: np.ndarray  # (3, 2)
    kept_share: float  # |gradients in the plane| / |gradients|, all three points together


def plane_through(points: np.ndarray, gradients: np.ndarray) -> PlaneView:
    points = np.asarray(points, dtype=np.float64)
    gradients = np.asarray(gradients, dtype=np.float64)
    origin = points[0]
    basis: list[np.ndarray] = []
    for row in (points[1] - origin, points[2] - origin):  # Gram-Schmidt
        for b in basis:
            row = row - (row @ b) * b
        length = np.linalg.norm(row)
        if length > 1e-12 * max(1.0, np.abs(points).max()):
            basis.append(row / length)
    while len(basis) < 2:  # points on a line (or on top of each other): any further direction will do
        candidate = np.zeros(points.shape[1])
        candidate[len(basis)] = 1.0
        for b in basis:
            candidate = candidate - (candidate @ b) * b
        if np.linalg.norm(candidate) < 1e-9:
            candidate = np.zeros(points.shape[1])
            candidate[-1] = 1.0
            for b in basis:
                candidate = candidate - (candidate @ b) * b
        basis.append(candidate / np.linalg.norm(candidate))
    frame = np.stack(basis)  # (2, d)
    flat_gradients = gradients @ frame.T
    total = np.linalg.norm(gradients)
    kept = float(np.linalg.norm(flat_gradients) / total) if total > 0 else 1.0
    return PlaneView(points=(points - origin) @ frame.T, gradients=flat_gradients, kept_share=kept)


# --------------------------------------------------------------------------------------------
# Real faces
# --------------------------------------------------------------------------------------------


def people_with_photos(labels: np.ndarray, names: list[str], at_least: int = 2) -> list[str]:
    """Names of the people with at least `at_least` photos, in alphabetical order."""
    counts = np.bincount(np.asarray(labels), minlength=len(names))
    return sorted(names[i] for i in np.flatnonzero(counts >= at_least))


def photo_rows(labels: np.ndarray, names: list[str], person: str) -> np.ndarray:
    """The rows (photos) of one person, in file order."""
    return np.flatnonzero(np.asarray(labels) == names.index(person))


@dataclass(frozen=True)
class FaceChoice:
    anchor_person: str
    anchor_photo: int  # 0-based position among that person's photos
    positive_photo: int
    negative_person: str
    negative_photo: int


def default_faces(embeddings: np.ndarray, labels: np.ndarray, names: list[str]) -> FaceChoice:
    """A starting triplet that is active at FaceNet's margin: the two first photos of the most
    photographed person, against the photo of anybody else that is closest to the anchor (the
    hardest negative there is for this anchor, so the loss has something to say about it)."""
    counts = np.bincount(labels, minlength=len(names))
    person = int(np.argmax(counts))
    rows = np.flatnonzero(labels == person)
    others = np.flatnonzero(labels != person)
    d = np.sum((embeddings[others] - embeddings[rows[0]]) ** 2, axis=1)
    nearest = int(others[np.argmin(d)])
    negative_rows = np.flatnonzero(labels == labels[nearest])
    return FaceChoice(names[person], 0, 1, names[labels[nearest]], int(np.searchsorted(negative_rows, nearest)))


# --------------------------------------------------------------------------------------------
# A batch of N triplets
# --------------------------------------------------------------------------------------------


def random_lfw_triplets(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, 3) rows (anchor, positive, negative) drawn at random from real photos: the anchor's
    person among those with two or more photos, two different photos of them, and one photo of
    anybody else."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    eligible = np.flatnonzero(counts >= 2)
    out = np.empty((n, 3), dtype=np.int64)
    for i in range(n):
        person = rng.choice(eligible)
        a, p = rng.choice(np.flatnonzero(labels == person), size=2, replace=False)
        while True:
            neg = int(rng.integers(len(labels)))
            if labels[neg] != person:
                break
        out[i] = (a, p, neg)
    return out


def random_circle_triplets(n: int, seed: int) -> np.ndarray:
    """(n, 3, 2): n triplets of points drawn uniformly on the unit circle."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(n, 3))
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1)


@dataclass(frozen=True)
class BatchOfTriplets:
    """The N terms of a batch and the ways of adding them up.

    * `total`: the paper's L, the plain sum of the terms (Schroff et al., Sec. 3.1, eq. 3);
    * `mean_all`: the sum divided by N, zero terms included. This is what `model.triplet.triplet_loss`
      returns given the triplets a miner picked (semi-hard, how the shipped model was trained,
      hard or random): the mean over those triplets, whether active or not;
    * `mean_active`: the sum divided by the number of active (non-zero) terms. This is what
      `model.triplet.triplet_loss` returns without triplets (batch-all, mining "all"); 0 when
      nothing is active.
    """

    margin: float
    terms: np.ndarray  # (N,)
    d_ap: np.ndarray
    d_an: np.ndarray
    kinds: np.ndarray  # (N,) HARD / SEMI_HARD / EASY

    @property
    def n(self) -> int:
        return len(self.terms)

    @property
    def inside(self) -> np.ndarray:
        """What the hinge receives for each triplet: d_ap - d_an + margin (negative for easy ones)."""
        return self.d_ap - self.d_an + self.margin

    @property
    def active(self) -> int:
        return int(np.count_nonzero(self.terms > 0))

    @property
    def total(self) -> float:
        return float(self.terms.sum())

    @property
    def mean_all(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def mean_active(self) -> float:
        return self.total / self.active if self.active else 0.0


def batch_of_triplets(anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray,
                      margin: float) -> BatchOfTriplets:
    """The terms of N triplets given as three (N, d) arrays, through `model.triplet.triplet_terms`."""
    n = len(anchors)
    x = torch.tensor(np.concatenate([anchors, positives, negatives]).astype(np.float64))
    idx = torch.arange(n)
    with single_threaded():
        distances = squared_distances(x)
        terms = triplet_terms(distances, Triplets(idx, idx + n, idx + 2 * n), margin)
        d_ap = distances[idx, idx + n]
        d_an = distances[idx, idx + 2 * n]
        kinds = classify_triplets(d_ap, d_an, margin)
    return BatchOfTriplets(margin=float(margin), terms=terms.numpy().copy(), d_ap=d_ap.numpy().copy(),
                           d_an=d_an.numpy().copy(), kinds=kinds.numpy().copy())
