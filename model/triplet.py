"""The triplet loss of FaceNet and the ways of choosing triplets inside a mini-batch.

Definitions (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015, eq. 1-3):

* distance: squared Euclidean, ``D[i, j] = ||e_i - e_j||^2`` on the embeddings as given;
* a valid triplet (a, p, n): ``labels[a] == labels[p]``, ``a != p``, ``labels[n] != labels[a]``;
* its loss term: ``[D[a, p] - D[a, n] + margin]_+``  (``[x]_+ = max(x, 0)``);
* its kind, from the two distances: hard if ``D[a,n] <= D[a,p]``, semi-hard if
  ``D[a,p] < D[a,n] < D[a,p] + margin``, easy if ``D[a,n] >= D[a,p] + margin``.
  Hard and semi-hard triplets are exactly the active ones (non-zero loss).

Mining strategies, each a loss over the batch:

* ``"all"``  (batch-all): mean of the terms over valid triplets whose term is > 0; 0 if none.
* ``"hard"`` (batch-hard, Hermans, Beyer & Leibe 2017): per anchor that has a positive and a
  negative, ``[max_p D[a,p] - min_n D[a,n] + margin]_+``; mean over those anchors.
* ``"semi-hard"`` (FaceNet; TensorFlow Addons' ``TripletSemiHardLoss`` rule): per anchor-positive
  pair whose anchor has a negative, the negative with the smallest ``D[a,n]`` among those with
  ``D[a,n] > D[a,p]``, or if there is none the negative with the largest ``D[a,n]``; mean of the
  terms over those pairs, zero terms included.
* ``"random"``: one uniformly drawn negative per such anchor-positive pair; same mean.

Pieces, smallest first: `squared_distances` -> `label_masks` -> a miner (`mine_*`, returning
index triplets) -> `triplet_terms`. `triplet_loss` composes them; batch-all is computed without
listing its triplets (see `batch_all_loss`), so it needs O(B^2) memory even at B = 1,800.
Distances are computed in float64: miners compare distances, and float32 round-off in
``|a|^2 + |b|^2 - 2 a.b`` would break ties the definitions say are ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MINING = ("random", "all", "semi-hard", "hard")

HARD, SEMI_HARD, EASY = 0, 1, 2
KIND_NAMES = ("hard", "semi-hard", "easy")


# --------------------------------------------------------------------------------------------
# Distances and masks
# --------------------------------------------------------------------------------------------


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """``D[i, j] = ||e_i - e_j||^2`` for a (B, d) batch, as a (B, B) float64 tensor.

    Uses ``|a|^2 + |b|^2 - 2 a.b`` (one matrix product) in float64, clamped at 0, with an exact
    zero diagonal. No square root is taken, so the gradient is finite at zero distance.
    """
    e = embeddings.double()
    sq = (e * e).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * (e @ e.T)
    d = d.clamp_min(0.0)
    return d * (1.0 - torch.eye(len(e), dtype=d.dtype, device=d.device))


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) boolean (B, B) masks: ``positive[a, p]`` iff p is a positive of a
    (same label, p != a); ``negative[a, n]`` iff n is a negative of a (different label)."""
    labels = torch.as_tensor(labels).reshape(-1)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


# --------------------------------------------------------------------------------------------
# Triplet kinds
# --------------------------------------------------------------------------------------------


def classify_triplets(d_ap: torch.Tensor, d_an: torch.Tensor, margin: float) -> torch.Tensor:
    """The kind of each triplet from its two distances: HARD (0), SEMI_HARD (1) or EASY (2).

    hard: ``d_an <= d_ap``; semi-hard: ``d_ap < d_an < d_ap + margin``; easy: ``d_an >= d_ap + margin``.
    """
    d_ap, d_an = torch.as_tensor(d_ap), torch.as_tensor(d_an)
    kind = torch.full(torch.broadcast_shapes(d_ap.shape, d_an.shape), SEMI_HARD, dtype=torch.long)
    kind[d_an >= d_ap + margin] = EASY
    kind[d_an <= d_ap] = HARD  # wins over EASY when margin <= 0
    return kind


@dataclass
class TripletCounts:
    """How many valid triplets of a batch are of each kind, and how many are active (loss > 0)."""

    valid: int
    hard: int
    semi_hard: int
    easy: int
    active: int

    @property
    def active_fraction(self) -> float:
        return self.active / self.valid if self.valid else 0.0


def _sorted_negatives(distances: torch.Tensor, negative: torch.Tensor):
    """Each anchor's negative distances in increasing order, padded with +inf.

    Returns (values, columns, count): ``values[a, :count[a]]`` are the D[a, n] of a's negatives,
    sorted; ``columns`` holds their column indices in D.
    """
    padded = distances.detach().masked_fill(~negative, float("inf"))
    values, columns = padded.sort(dim=1)
    return values, columns, negative.sum(dim=1)


def _count_at_most(sorted_rows: torch.Tensor, rows: torch.Tensor, queries: torch.Tensor, right: bool) -> torch.Tensor:
    """For each i, how many entries of ``sorted_rows[rows[i]]`` are < ``queries[i]`` (right=False)
    or <= it (right=True).

    One batched binary search: the queries are laid out as a (B, Q) table, Q being the most
    queries any row has (K - 1 in a P x K batch), so it costs O(B Q log B), not O(B^2 log B).
    """
    per_row = torch.bincount(rows, minlength=len(sorted_rows))
    if len(rows) == 0:
        return rows.clone()
    order = torch.argsort(rows, stable=True)
    first = torch.cumsum(per_row, 0) - per_row
    slot = torch.empty_like(rows)
    slot[order] = torch.arange(len(rows), device=rows.device) - first[rows[order]]
    table = sorted_rows.new_zeros(len(sorted_rows), int(per_row.max()))
    table[rows, slot] = queries.to(sorted_rows.dtype)
    return torch.searchsorted(sorted_rows, table, right=right)[rows, slot]


def count_triplet_types(distances: torch.Tensor, labels: torch.Tensor, margin: float) -> TripletCounts:
    """Counts of hard / semi-hard / easy / active triplets among all valid triplets of a batch.

    Sorting each anchor's negatives and binary-searching the positives' distances counts all
    B * (K-1) * (B-K) triplets of a P x K batch in O(B^2 log B) time and O(B^2) memory.
    """
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    values, _, n_neg = _sorted_negatives(d, negative)
    a, p = torch.nonzero(positive, as_tuple=True)
    # per (a, p): negatives with D[a,n] <= D[a,p] (hard) and with D[a,n] < D[a,p] + margin (active)
    at_most_ap = _count_at_most(values, a, d[a, p], right=True)
    below_ap_margin = _count_at_most(values, a, d[a, p] + margin, right=False)
    valid = int((positive.sum(dim=1) * n_neg).sum())
    hard = int(at_most_ap.sum())
    # semi-hard = D[a,p] < D[a,n] < D[a,p] + margin: empty when margin <= 0
    semi_hard = int((below_ap_margin - at_most_ap).clamp_min(0).sum())
    active = int(below_ap_margin.sum())  # equals hard + semi_hard when margin > 0
    return TripletCounts(valid=valid, hard=hard, semi_hard=semi_hard, easy=valid - hard - semi_hard, active=active)


# --------------------------------------------------------------------------------------------
# Miners: each returns index tensors (anchor, positive, negative)
# --------------------------------------------------------------------------------------------


@dataclass
class Triplets:
    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor

    def __len__(self) -> int:
        return len(self.anchor)


def _pairs_with_negatives(positive: torch.Tensor, negative: torch.Tensor):
    """Anchor-positive pairs (a, p) whose anchor has at least one negative."""
    has_negative = negative.any(dim=1)
    return torch.nonzero(positive & has_negative[:, None], as_tuple=True)


def mine_semi_hard(distances: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """FaceNet's semi-hard rule (as TensorFlow Addons' TripletSemiHardLoss selects).

    For each anchor-positive pair: the closest negative that is farther than the positive;
    if every negative is at most as far as the positive, the farthest negative.
    """
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    a, p = _pairs_with_negatives(positive, negative)
    values, columns, n_neg = _sorted_negatives(d, negative)
    # rank, in a's sorted negatives, of the first one farther than p
    first_farther = _count_at_most(values, a, d[a, p], right=True)
    rank = torch.where(first_farther < n_neg[a], first_farther, n_neg[a] - 1)
    return Triplets(a, p, columns[a, rank])


def mine_hard(distances: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Batch-hard: per anchor with a positive and a negative, its farthest positive and its
    closest negative."""
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    anchors = torch.nonzero(positive.any(dim=1) & negative.any(dim=1), as_tuple=True)[0]
    hardest_p = d.masked_fill(~positive, float("-inf")).argmax(dim=1)
    hardest_n = d.masked_fill(~negative, float("inf")).argmin(dim=1)
    return Triplets(anchors, hardest_p[anchors], hardest_n[anchors])


def mine_random(distances: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None) -> Triplets:
    """One negative drawn uniformly at random for each anchor-positive pair."""
    positive, negative = label_masks(labels.to(distances.device))
    a, p = _pairs_with_negatives(positive, negative)
    negatives_so_far = negative.long().cumsum(dim=1)  # row a: how many of columns 0..j are negatives
    n_neg = negatives_so_far[:, -1]
    u = torch.rand(len(a), generator=generator, device="cpu" if generator is None else generator.device)
    k = (u.to(distances.device) * n_neg[a]).long().clamp_max(n_neg[a] - 1)  # which of a's negatives
    # the k-th negative (from 0) is in the first column where the running count reaches k + 1
    return Triplets(a, p, _count_at_most(negatives_so_far, a, k + 1, right=False))


def mine_all(distances: torch.Tensor, labels: torch.Tensor, margin: float) -> Triplets:
    """Every valid triplet whose loss term is > 0, listed explicitly.

    Meant for small batches (lessons, tests): the list has up to B * (K-1) * (B-K) entries.
    `batch_all_loss` computes the same loss without listing them.
    """
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    a, p = torch.nonzero(positive, as_tuple=True)
    term = d[a, p][:, None] - d[a] + margin  # (pairs, B)
    pair, n = torch.nonzero(negative[a] & (term > 0), as_tuple=True)
    return Triplets(a[pair], p[pair], n)


def mine(distances: torch.Tensor, labels: torch.Tensor, mining: str, margin: float,
         generator: torch.Generator | None = None) -> Triplets:
    """The triplets strategy `mining` (one of MINING) selects; "all" lists them with `mine_all`
    (small batches only: the loss itself uses `batch_all_loss`), "random" draws from `generator`."""
    if mining == "all":
        return mine_all(distances, labels, margin)
    if mining == "semi-hard":
        return mine_semi_hard(distances, labels)
    if mining == "hard":
        return mine_hard(distances, labels)
    if mining == "random":
        return mine_random(distances, labels, generator)
    raise ValueError(f"mining must be one of {MINING}, not {mining!r}")


def valid_triplets(labels: torch.Tensor) -> Triplets:
    """Every valid triplet of a (small) batch, listed explicitly."""
    positive, negative = label_masks(labels)
    a, p = torch.nonzero(positive, as_tuple=True)
    pair, n = torch.nonzero(negative[a], as_tuple=True)
    return Triplets(a[pair], p[pair], n)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def triplet_terms(distances: torch.Tensor, triplets: Triplets, margin: float) -> torch.Tensor:
    """``[D[a,p] - D[a,n] + margin]_+`` for each triplet (differentiable in `distances`)."""
    d_ap = distances[triplets.anchor, triplets.positive]
    d_an = distances[triplets.anchor, triplets.negative]
    return torch.relu(d_ap - d_an + margin)


def batch_all_loss(distances: torch.Tensor, labels: torch.Tensor, margin: float) -> tuple[torch.Tensor, int, int]:
    """Batch-all loss without listing the triplets. Returns (loss, valid triplets, active triplets).

    For an anchor-positive pair (a, p), the active negatives are those with D[a,n] < D[a,p] + margin:
    with each anchor's negatives sorted they are a prefix of length c(a,p) (binary search), and the
    pair's terms sum to ``c * (D[a,p] + margin) - (sum of that prefix)``, read off a cumulative sum.
    The loss is the total over pairs divided by the total count of active triplets. O(B^2 log B)
    time, O(B^2) memory; the gradient flows through D[a,p] and through the prefix sums to D[a,n].
    """
    positive, negative = label_masks(labels.to(distances.device))
    values, order, n_neg = _sorted_negatives(distances, negative)
    valid = int((positive.sum(dim=1) * n_neg).sum())
    # the same sorted negatives, with gradient; the +inf padding becomes 0 (never summed anyway)
    sorted_d = distances.gather(1, order) * negative.gather(1, order)
    prefix = torch.cat([sorted_d.new_zeros(len(distances), 1), sorted_d.cumsum(dim=1)], dim=1)
    a, p = torch.nonzero(positive, as_tuple=True)
    d_ap = distances[a, p]
    count = _count_at_most(values, a, d_ap.detach() + margin, right=False)
    total = (count * (d_ap + margin) - prefix[a, count]).sum()
    active = int(count.sum())
    loss = total / active if active else distances.sum() * 0.0
    return loss, valid, active


@dataclass
class LossResult:
    loss: torch.Tensor  # differentiable scalar
    selected: int  # triplets (or, for batch-all, valid triplets) the loss averages over
    active: int  # of those, how many have a non-zero term


def triplet_loss_with_stats(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                            mining: str = "semi-hard", generator: torch.Generator | None = None) -> LossResult:
    """`triplet_loss`, plus how many triplets were used and how many of them were active."""
    if mining not in MINING:
        raise ValueError(f"mining must be one of {MINING}, not {mining!r}")
    labels = torch.as_tensor(labels, device=embeddings.device).reshape(-1)
    distances = squared_distances(embeddings)
    if mining == "all":
        loss, valid, active = batch_all_loss(distances, labels, margin)
        return LossResult(loss.to(embeddings.dtype), valid, active)
    triplets = mine(distances, labels, mining, margin, generator)
    terms = triplet_terms(distances, triplets, margin)
    loss = terms.mean() if len(triplets) else distances.sum() * 0.0
    return LossResult(loss.to(embeddings.dtype), len(triplets), int((terms > 0).sum()))


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "semi-hard", generator: torch.Generator | None = None) -> torch.Tensor:
    """The triplet loss of a batch of embeddings (B, d) with integer labels (B,).

    `mining` is one of "random", "all", "semi-hard", "hard" (definitions in the module docstring).
    Returns a differentiable scalar tensor of the embeddings' dtype; 0 when the batch has no
    usable triplet.
    """
    return triplet_loss_with_stats(embeddings, labels, margin, mining, generator).loss
