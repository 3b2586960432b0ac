"""The triplet loss of FaceNet and the miners that choose its triplets inside a mini-batch.

Definitions (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015, eq. 1-3):

* distance: squared Euclidean, ``D[i, j] = ||e_i - e_j||^2`` on the embeddings as given;
* a valid triplet (a, p, n): ``labels[a] == labels[p]``, ``a != p``, ``labels[n] != labels[a]``;
* its loss term: ``[D[a, p] - D[a, n] + margin]_+``  (``[x]_+ = max(x, 0)``);
* its kind, from the two distances: hard if ``D[a,n] <= D[a,p]``, semi-hard if
  ``D[a,p] < D[a,n] < D[a,p] + margin``, easy if ``D[a,n] >= D[a,p] + margin``.
  Hard and semi-hard triplets are exactly the active ones (non-zero loss).

The pieces, in the order a training step uses them (as pytorch-metric-learning splits distances,
miners and losses):

1. distances: `squared_distances` (embeddings -> D), `label_masks` (labels -> who is whose
   positive / negative);
2. miners: each takes D and the labels and returns index triplets (`Triplets`), nothing else:

   * `mine_random` (with a generator): one uniformly drawn negative per anchor-positive pair
     whose anchor has a negative;
   * `mine_semi_hard` (FaceNet; TensorFlow Addons' ``TripletSemiHardLoss`` rule): per such pair,
     the negative with the smallest ``D[a,n]`` among those with ``D[a,n] > D[a,p]``, or if there
     is none the negative with the largest ``D[a,n]``;
   * `mine_hard` (batch-hard, Hermans, Beyer & Leibe 2017): per anchor that has a positive and a
     negative, its farthest positive and its closest negative;
   * `mine_all` (with the margin): every active valid triplet, listed (small batches only);
3. the loss: `triplet_loss` (embeddings) or `triplet_loss_from_distances` (D already computed,
   typically for the miner), with or without triplets:

   * given triplets: the mean of their terms, zero terms included;
   * without: batch-all, the mean of the terms over the valid triplets whose term is > 0 (0 if
     none), summed without listing them (`batch_all_loss`), so it needs O(B^2) memory even at
     B = 1,800. On `mine_all`'s list the first rule gives the same value.

   Both report the loss, how many triplets it used and how many of those were active (`LossResult`).

Which miner a training run uses is a setting of the run (`model.train.MINERS`), not of this module.
Distances are computed in float64: miners compare distances, and float32 round-off in
``|a|^2 + |b|^2 - 2 a.b`` would break ties the definitions say are ties.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

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
    """Index triplets into a batch: triplet i is (anchor[i], positive[i], negative[i]), each a row
    of the batch's embeddings (and of its distance matrix). What every miner returns and what the
    loss takes."""

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
    """FaceNet's semi-hard rule (as TensorFlow Addons' TripletSemiHardLoss selects): one triplet
    per anchor-positive pair whose anchor has a negative.

    Its negative: the closest negative that is farther than the positive (``D[a,n] > D[a,p]``);
    if every negative is at most as far as the positive, the farthest negative. Pairs come in
    row-major order of (a, p).
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
    """Batch-hard: one triplet per anchor that has a positive and a negative, in increasing anchor
    order: its farthest positive (largest ``D[a,p]``) and its closest negative (smallest
    ``D[a,n]``); ties go to the lowest column."""
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    anchors = torch.nonzero(positive.any(dim=1) & negative.any(dim=1), as_tuple=True)[0]
    hardest_p = d.masked_fill(~positive, float("-inf")).argmax(dim=1)
    hardest_n = d.masked_fill(~negative, float("inf")).argmin(dim=1)
    return Triplets(anchors, hardest_p[anchors], hardest_n[anchors])


def mine_random(distances: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None) -> Triplets:
    """One triplet per anchor-positive pair whose anchor has a negative (row-major order of (a, p)),
    its negative drawn uniformly among the anchor's negatives.

    Draws exactly one number per pair from `generator` (torch's global generator when None), so
    the same generator state gives the same triplets. `distances` only gives the device.
    """
    positive, negative = label_masks(labels.to(distances.device))
    a, p = _pairs_with_negatives(positive, negative)
    negatives_so_far = negative.long().cumsum(dim=1)  # row a: how many of columns 0..j are negatives
    n_neg = negatives_so_far[:, -1]
    u = torch.rand(len(a), generator=generator, device="cpu" if generator is None else generator.device)
    k = (u.to(distances.device) * n_neg[a]).long().clamp_max(n_neg[a] - 1)  # which of a's negatives
    # the k-th negative (from 0) is in the first column where the running count reaches k + 1
    return Triplets(a, p, _count_at_most(negatives_so_far, a, k + 1, right=False))


def mine_all(distances: torch.Tensor, labels: torch.Tensor, margin: float) -> Triplets:
    """Every valid triplet whose loss term ``D[a,p] - D[a,n] + margin`` is > 0, listed explicitly
    in row-major order of (a, p, n).

    The loss of this list (mean of its terms) is the batch-all loss, which
    `triplet_loss_from_distances` computes without triplets and without listing them. Meant for
    small batches (lessons, tests): the list has up to B * (K-1) * (B-K) entries.
    """
    d = distances.detach()
    positive, negative = label_masks(labels.to(d.device))
    a, p = torch.nonzero(positive, as_tuple=True)
    term = d[a, p][:, None] - d[a] + margin  # (pairs, B)
    pair, n = torch.nonzero(negative[a] & (term > 0), as_tuple=True)
    return Triplets(a[pair], p[pair], n)


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
    """A batch's triplet loss and what it averaged over."""

    loss: torch.Tensor  # differentiable scalar
    selected: int  # the triplets used: those given, or (batch-all, none given) every valid triplet
    active: int  # of those, how many have a non-zero term

    def to(self, dtype: torch.dtype) -> "LossResult":
        """The same result with the loss cast to `dtype` (the gradient flows through the cast)."""
        return replace(self, loss=self.loss.to(dtype))


def triplet_loss_from_distances(distances: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                                triplets: Triplets | None = None) -> LossResult:
    """The triplet loss of a batch from its (B, B) squared distances (`squared_distances`, which a
    miner has typically used already) and integer labels (B,).

    * With `triplets` (a miner's answer): the mean of their terms ``[D[a,p] - D[a,n] + margin]_+``,
      zero terms included; `selected` is ``len(triplets)``, `active` how many terms are > 0. The
      labels are not looked at: the triplets say who is whose positive and negative.
    * Without: batch-all, the mean of the terms over the valid triplets of the batch whose term is
      > 0 (`batch_all_loss`, without listing them); `selected` is the number of valid triplets,
      `active` of those with a term > 0.

    The loss is a differentiable scalar of the distances' dtype; 0 (still differentiable) when there
    is no triplet or, for batch-all, none is active.
    """
    labels = torch.as_tensor(labels, device=distances.device).reshape(-1)
    if triplets is None:
        loss, valid, active = batch_all_loss(distances, labels, margin)
        return LossResult(loss, valid, active)
    terms = triplet_terms(distances, triplets, margin)
    loss = terms.mean() if len(triplets) else distances.sum() * 0.0
    return LossResult(loss, len(triplets), int((terms > 0).sum()))


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 triplets: Triplets | None = None) -> LossResult:
    """`triplet_loss_from_distances` on the ``squared_distances`` of a batch of embeddings (B, d),
    with the loss cast to the embeddings' dtype. When a miner needs the distances too, compute them
    once and call `triplet_loss_from_distances` instead."""
    return triplet_loss_from_distances(squared_distances(embeddings), labels, margin, triplets).to(embeddings.dtype)
