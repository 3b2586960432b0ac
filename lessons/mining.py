"""Lesson 3, "Choosing triplets": everything the page computes, free of Streamlit.

A P x K batch of real LFW faces (P people, K photos each) is drawn from the shipped embeddings
(`model.embed.LFWEmbeddings`); its squared-L2 distance matrix, the kinds of its triplets and the
triplets each mining strategy picks all come from `model.triplet`, the training code's own loss
and miners, which this module only calls and summarises:

* `draw_batch`: P people with at least K photos, from the people the model trained on or from
  those it never saw, K photos each, grouped by person;
* `mine`: the triplets a strategy of `STRATEGY_LABELS` picks, with `model.triplet`'s miners;
* `analyse_batch`: the distance matrix (computed once), the kinds of all valid triplets, each
  anchor's hardest positive and negative, and for every strategy its triplets, mined once, and the
  loss of exactly those triplets (`StrategyResult`);
* `triplets_in_dataset` and friends: how many triplets a data set holds against how many a
  mini-batch holds, the reason FaceNet mines inside mini-batches (Schroff, Kalenichenko &
  Philbin, *FaceNet*, CVPR 2015, Sec. 3.2);
* `collapsed_loss` and `shrink_curve`: what the loss says about a collapsed model (every face on
  one point), the danger of the hardest negatives (FaceNet, Sec. 3.2);
* `face_mosaic`: the batch's face crops as one picture, one row per person;
* `run_comparison`, `stuck_at_margin` and `collapsed_runs`: which of the shipped comparison runs
  "hardest-negatives" and "alpha-0.2" exist yet, where a run's loss got stuck at the margin, and
  which of them collapsed;
* `offline_staleness`: offline against online mining (FaceNet, Sec. 3.2): of the triplets that
  were semi-hard some steps ago, how many still are, on the explorer's per-step embeddings.

Everything torch computes here runs on one thread (`lessons.torch_threads.single_threaded`): the batches are tiny.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch

from lessons.torch_threads import single_threaded
from model import triplet

# The strategies in the order the page lists them, with the names a student reads (training
# knows the same four names: model.train.MINERS).
STRATEGY_LABELS = {
    "random": "random negative",
    "all": "batch-all",
    "semi-hard": "semi-hard (FaceNet)",
    "hard": "batch-hard (hardest)",
}

# FaceNet's mini-batches (Sec. 3.2): about 1,800 faces, about 40 per identity.
FACENET_BATCH_PEOPLE = 45
FACENET_BATCH_PHOTOS = 40
# FaceNet's training set: 100M-200M thumbnails of about 8M identities. For an order of
# magnitude only: 200M photos spread evenly, 25 per person.
FACENET_IDENTITIES = 8_000_000
FACENET_PHOTOS_PER_IDENTITY = 25

# The comparison runs this lesson replays (model.sweep's plan "lessons-cpu").
HARDEST_RUN = "hardest-negatives"
REFERENCE_RUN = "alpha-0.2"

# Offline mining is replayed on this run's per-step embeddings of the explorer set (model.maps),
# on batches shaped like the runs' own training batches (32 people x 4 photos).
OFFLINE_RUN = REFERENCE_RUN
OFFLINE_MARGIN = 0.2  # that run's margin (FaceNet's)
OFFLINE_PEOPLE = 32
OFFLINE_PHOTOS = 4



# --------------------------------------------------------------------------------------------
# How many triplets
# --------------------------------------------------------------------------------------------


def triplets_in_dataset(photos_per_person: Iterable[int]) -> int:
    """Valid triplets (anchor, positive, negative) of a set where person p has n_p photos:
    ``sum_p n_p (n_p - 1) (N - n_p)``, N the total number of photos.

    An anchor of person p has n_p - 1 positives and N - n_p negatives; ordered (a, p) pairs count
    separately, as in the loss. Exact (Python integers, no overflow).
    """
    counts = [int(n) for n in photos_per_person]
    if any(n < 0 for n in counts):
        raise ValueError("photo counts cannot be negative")
    total = sum(counts)
    return sum(n * (n - 1) * (total - n) for n in counts)


def anchor_positive_pairs(photos_per_person: Iterable[int]) -> int:
    """Ordered anchor-positive pairs: ``sum_p n_p (n_p - 1)``."""
    return sum(int(n) * (int(n) - 1) for n in photos_per_person)


def triplets_in_pk_batch(people: int, photos: int) -> int:
    """Valid triplets of a P x K batch, ``P K (K - 1) (P K - K)``: `triplets_in_dataset` with every
    n_p = K, in closed form (no list of P counts, so P may be in the millions)."""
    return people * photos * (photos - 1) * (people * photos - photos)


@dataclass(frozen=True)
class TripletScale:
    """One row of the "how many triplets" comparison."""

    name: str
    people: int
    photos: int
    triplets: int
    pairs: int  # anchor-positive pairs: what semi-hard and random mining use, one triplet each


def triplet_scales(labels: np.ndarray, trained_on: np.ndarray, people: int, photos: int) -> list[TripletScale]:
    """The number of triplets and of anchor-positive pairs in the model's training split of LFW
    (the people with `trained_on` True), in one FaceNet mini-batch (45 x 40 = 1,800 faces) and in
    the user's P x K batch."""
    counts = np.bincount(labels, minlength=len(trained_on))[np.asarray(trained_on, bool)]
    counts = counts[counts > 0]
    facenet_batch = [FACENET_BATCH_PHOTOS] * FACENET_BATCH_PEOPLE
    user = [photos] * people
    return [
        TripletScale("LFW training split (peopleDevTrain)", len(counts), int(counts.sum()),
                     triplets_in_dataset(counts), anchor_positive_pairs(counts)),
        TripletScale(f"FaceNet mini-batch ({FACENET_BATCH_PEOPLE} x {FACENET_BATCH_PHOTOS})", FACENET_BATCH_PEOPLE,
                     sum(facenet_batch), triplets_in_dataset(facenet_batch), anchor_positive_pairs(facenet_batch)),
        TripletScale(f"your batch ({people} x {photos})", people, people * photos,
                     triplets_in_dataset(user), anchor_positive_pairs(user)),
    ]


def facenet_dataset_estimate() -> int:
    """Order of magnitude of FaceNet's own training set's triplets: 8M identities x 25 photos."""
    return triplets_in_pk_batch(FACENET_IDENTITIES, FACENET_PHOTOS_PER_IDENTITY)


# --------------------------------------------------------------------------------------------
# Drawing a P x K batch
# --------------------------------------------------------------------------------------------


def eligible_people(labels: np.ndarray, trained_on: np.ndarray, photos: int, unseen: bool | None) -> np.ndarray:
    """The people with at least `photos` photos, among those the model trained on (unseen=False),
    those it never saw (unseen=True) or everyone (unseen=None), in increasing label order."""
    counts = np.bincount(labels, minlength=len(trained_on))
    if unseen is None:
        group = np.ones(len(counts), bool)
    else:
        group = ~np.asarray(trained_on, bool) if unseen else np.asarray(trained_on, bool)
    return np.flatnonzero((counts >= photos) & group)


@dataclass
class Batch:
    """A P x K batch: rows `rows` of the LFW embeddings, K consecutive rows per person."""

    rows: np.ndarray  # (P*K,) row indices into LFWEmbeddings
    people: np.ndarray  # (P,) person labels of LFWEmbeddings, in batch order
    photos: int  # K
    unseen: bool | None  # None: drawn from everyone

    @property
    def labels(self) -> np.ndarray:
        """0..P-1, the batch's own person numbers (what the loss needs), K of each."""
        return np.repeat(np.arange(len(self.people)), self.photos)

    def __len__(self) -> int:
        return len(self.rows)


def draw_batch(labels: np.ndarray, trained_on: np.ndarray, people: int, photos: int, seed: int,
               unseen: bool | None = False) -> Batch:
    """P people drawn at random among the eligible ones (`eligible_people`), then K of each
    person's photos without repeats; the same (seed, P, K, unseen) always gives the same batch.
    People are listed alphabetically by label, each person's photos in file order."""
    if people < 2 or photos < 2:
        raise ValueError("a batch needs at least 2 people with at least 2 photos each")
    labels = np.asarray(labels)
    pool = eligible_people(labels, trained_on, photos, unseen)
    if len(pool) < people:
        raise ValueError(f"only {len(pool)} people have {photos} or more photos in this group")
    rng = np.random.default_rng([int(seed), people, photos, {False: 0, True: 1, None: 2}[unseen]])
    chosen = np.sort(rng.choice(pool, size=people, replace=False))
    rows = [np.sort(rng.choice(np.flatnonzero(labels == p), size=photos, replace=False)) for p in chosen]
    return Batch(np.concatenate(rows), chosen, photos, unseen)


def photo_labels(names: Sequence[str], labels: np.ndarray, files: Sequence[str], rows: Iterable[int]) -> list[str]:
    """"First Last #n" for each row (n: the photo's number in LFW, from its file name
    "First_Last_000n.jpg"), unique within a batch since a batch never repeats a photo."""
    out = []
    for row in rows:
        number = files[row].rsplit("_", 1)[-1].split(".")[0].lstrip("0") or "0"
        out.append(f"{names[labels[row]].replace('_', ' ')} #{number}")
    return out


# --------------------------------------------------------------------------------------------
# What each strategy picks
# --------------------------------------------------------------------------------------------


@dataclass
class KindCounts:
    hard: int = 0
    semi_hard: int = 0
    easy: int = 0

    @property
    def total(self) -> int:
        return self.hard + self.semi_hard + self.easy

    def as_dict(self) -> dict[str, int]:
        return {"hard": self.hard, "semi-hard": self.semi_hard, "easy": self.easy}


def kinds_of(distances: torch.Tensor, triplets: triplet.Triplets, margin: float) -> tuple[np.ndarray, KindCounts]:
    """The kind (model.triplet.HARD / SEMI_HARD / EASY) of each listed triplet, and their counts."""
    d_ap = distances[triplets.anchor, triplets.positive]
    d_an = distances[triplets.anchor, triplets.negative]
    kind = triplet.classify_triplets(d_ap, d_an, margin).numpy()
    counts = np.bincount(kind, minlength=3)
    return kind, KindCounts(int(counts[triplet.HARD]), int(counts[triplet.SEMI_HARD]), int(counts[triplet.EASY]))


@dataclass
class StrategyResult:
    """One mining strategy applied to the batch.

    `triplets` is what the miner returns (`mine`; for batch-all the valid triplets with a non-zero
    term), and `loss` is `model.triplet`'s loss of exactly those triplets. `active` is how many of
    them have a non-zero term (`LossResult.active`); `considered` is how many the strategy looked
    at: for batch-all every valid triplet of the batch, for the others the triplets picked.
    """

    mining: str
    triplets: triplet.Triplets
    loss: float
    considered: int
    active: int
    kind: np.ndarray  # kind of each triplet in `triplets`
    kinds: KindCounts
    mean_d_ap: float  # over `triplets` (nan when there are none)
    mean_d_an: float

    @property
    def label(self) -> str:
        return STRATEGY_LABELS[self.mining]

    @property
    def selected(self) -> int:
        return len(self.triplets)

    @property
    def active_share(self) -> float:
        return self.active / self.considered if self.considered else 0.0


@dataclass
class BatchAnalysis:
    distances: np.ndarray  # (B, B) squared L2 distances, float64
    labels: np.ndarray  # (B,) batch person numbers
    margin: float
    counts: triplet.TripletCounts  # kinds of all valid triplets
    hardest_positive: np.ndarray  # (B,) column of each anchor's farthest positive (-1: none)
    hardest_negative: np.ndarray  # (B,) column of each anchor's closest negative (-1: none)
    strategies: dict[str, StrategyResult] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def random_generator(seed: int) -> torch.Generator:
    """The generator the random miner draws from: fixed per batch, so reruns show the same picks."""
    return torch.Generator().manual_seed(int(seed))


def mine(strategy: str, distances: torch.Tensor, labels: torch.Tensor, margin: float,
         generator: torch.Generator | None = None) -> triplet.Triplets:
    """The triplets `strategy` (a key of STRATEGY_LABELS) picks from a batch's squared distances:
    `model.triplet.mine_random` (drawing from `generator`), `mine_semi_hard`, `mine_hard`, and for
    batch-all `mine_all`, the list of active triplets whose mean term is the batch-all loss
    (training sums them without the list)."""
    if strategy == "random":
        return triplet.mine_random(distances, labels, generator)
    if strategy == "all":
        return triplet.mine_all(distances, labels, margin)
    if strategy == "semi-hard":
        return triplet.mine_semi_hard(distances, labels)
    if strategy == "hard":
        return triplet.mine_hard(distances, labels)
    raise ValueError(f"mining must be one of {tuple(STRATEGY_LABELS)}, not {strategy!r}")


def analyse_batch(embeddings: np.ndarray | torch.Tensor, labels: np.ndarray, margin: float,
                  seed: int = 0) -> BatchAnalysis:
    """Distances, triplet kinds, hardest positive / negative per anchor and every strategy's
    triplets and loss for one batch; the random strategy draws with `random_generator(seed)`."""
    with single_threaded():
        return _analyse_batch(embeddings, labels, margin, seed)


def _analyse_batch(embeddings, labels, margin: float, seed: int) -> BatchAnalysis:
    emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    d = triplet.squared_distances(emb)  # the only distance matrix: every miner and loss below uses it
    counts = triplet.count_triplet_types(d, lab, margin)
    strategies = {}
    for strategy in STRATEGY_LABELS:
        picked = mine(strategy, d, lab, margin, random_generator(seed))
        stats = triplet.triplet_loss_from_distances(d, lab, margin, picked)
        kind, kinds = kinds_of(d, picked, margin)
        if len(picked):
            mean_ap = float(d[picked.anchor, picked.positive].mean())
            mean_an = float(d[picked.anchor, picked.negative].mean())
        else:
            mean_ap = mean_an = float("nan")
        considered = counts.valid if strategy == "all" else stats.selected
        strategies[strategy] = StrategyResult(strategy, picked, float(stats.loss), considered, stats.active,
                                              kind, kinds, mean_ap, mean_an)
    # each anchor's hardest positive and negative: batch-hard's own picks
    hardest = strategies["hard"].triplets
    hardest_p = np.full(len(lab), -1)
    hardest_n = np.full(len(lab), -1)
    hardest_p[hardest.anchor.numpy()] = hardest.positive.numpy()
    hardest_n[hardest.anchor.numpy()] = hardest.negative.numpy()
    return BatchAnalysis(d.numpy(), np.asarray(labels), margin, counts, hardest_p, hardest_n, strategies)


@dataclass(frozen=True)
class PickedTriplet:
    anchor: int
    positive: int
    negative: int
    d_ap: float
    d_an: float
    kind: str
    term: float  # [d_ap - d_an + margin]_+


def picks_for_anchor(analysis: BatchAnalysis, mining: str, anchor: int) -> list[PickedTriplet]:
    """The triplets strategy `mining` picked with `anchor` as the anchor, largest loss term first."""
    res = analysis.strategies[mining]
    where = np.flatnonzero(res.triplets.anchor.numpy() == anchor)
    d = analysis.distances
    out = []
    for i in where:
        p, n = int(res.triplets.positive[i]), int(res.triplets.negative[i])
        d_ap, d_an = float(d[anchor, p]), float(d[anchor, n])
        out.append(PickedTriplet(anchor, p, n, d_ap, d_an, triplet.KIND_NAMES[res.kind[i]],
                                 max(d_ap - d_an + analysis.margin, 0.0)))
    return sorted(out, key=lambda t: (-t.term, t.positive, t.negative))


def collapsed_loss(people: int, photos: int, margin: float, mining: str) -> float:
    """The loss `model.triplet` gives a collapsed network (every face on the same point of the
    unit sphere) on the triplets strategy `mining` picks: every distance is 0, so every term is
    exactly the margin."""
    same_point = torch.zeros(people * photos, 128)
    same_point[:, 0] = 1.0
    labels = torch.arange(people).repeat_interleave(photos)
    with single_threaded():
        d = triplet.squared_distances(same_point)
        picked = mine(mining, d, labels, margin, random_generator(0))
        return float(triplet.triplet_loss_from_distances(d, labels, margin, picked).loss)


SHRINK_FACTORS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def shrink_curve(analysis: BatchAnalysis, mining: str, factors: Sequence[float] = SHRINK_FACTORS) -> list[float]:
    """The loss of strategy `mining` on the analysed batch if every squared distance were
    multiplied by `factor` (the embeddings scaled by sqrt(factor)): 1 is the batch as it is, 0 a
    collapsed model.

    Scaling keeps every ordering of distances, so each miner would pick the same triplets all
    along the curve: the loss is `model.triplet`'s loss of the analysis' own picks on the scaled
    distances, terms ``[factor (d_ap - d_an) + margin]_+``, and it ends at the margin. Batch-all is
    the exception: the set of active triplets grows as the distances shrink, so its loss is taken
    without triplets (batch-all over every valid triplet). A strategy whose loss is above the
    margin at 1 lowers it by squeezing all the faces together.
    """
    d = torch.as_tensor(analysis.distances)
    labels = torch.as_tensor(analysis.labels)
    picked = None if mining == "all" else analysis.strategies[mining].triplets
    with single_threaded():
        return [float(triplet.triplet_loss_from_distances(d * f, labels, analysis.margin, picked).loss)
                for f in factors]


# --------------------------------------------------------------------------------------------
# The faces
# --------------------------------------------------------------------------------------------


FACE_GAP = 2  # white pixels between faces in `face_mosaic`


def face_mosaic(crops: np.ndarray, people: int, photos: int, gap: int = FACE_GAP) -> np.ndarray:
    """The batch's crops (P*K, S, S, 3) as one uint8 picture, a row per person, `gap` white pixels
    between faces: crop i sits at row i // K, column i % K."""
    crops = np.asarray(crops, dtype=np.uint8)
    if len(crops) != people * photos:
        raise ValueError(f"{len(crops)} crops for a {people} x {photos} batch")
    s = crops.shape[1]
    out = np.full((people * (s + gap) - gap, photos * (s + gap) - gap, 3), 255, np.uint8)
    for i, crop in enumerate(crops):
        r, c = divmod(i, photos)
        out[r * (s + gap): r * (s + gap) + s, c * (s + gap): c * (s + gap) + s] = crop
    return out


# --------------------------------------------------------------------------------------------
# The shipped comparison runs
# --------------------------------------------------------------------------------------------


@dataclass
class RunComparison:
    present: dict  # name -> model.sweep.Run, for the runs that exist
    missing: list[str]  # the names that have no shipped run yet


def run_comparison(runs: dict, names: Sequence[str] = (HARDEST_RUN, REFERENCE_RUN)) -> RunComparison:
    """Which of the runs `names` are among `runs` (model.sweep.load_runs' answer)."""
    return RunComparison({n: runs[n] for n in names if n in runs}, [n for n in names if n not in runs])


def stuck_at_margin(steps: Sequence[int], losses: Sequence[float], margin: float,
                    tolerance: float = 0.005) -> int | None:
    """The first recorded step from which the training loss never leaves ``margin +- tolerance``
    again (a collapsed model's loss is exactly the margin), or None if the last loss is elsewhere."""
    first = None
    for step, loss in zip(steps, losses):
        if abs(loss - margin) <= tolerance:
            first = step if first is None else first
        else:
            first = None
    return first



def collapsed_runs(comparison: RunComparison) -> set[str] | None:
    """The names of the compared runs whose loss ends stuck at their margin (`stuck_at_margin`),
    or None unless both runs are there with a margin (nothing to compare then)."""
    runs = comparison.present
    if comparison.missing or any(run.margin is None for run in runs.values()):
        return None
    return {name for name, run in runs.items() if stuck_at_margin(*run.curve("loss"), run.margin) is not None}


# --------------------------------------------------------------------------------------------
# Offline or online (FaceNet, Sec. 3.2)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staleness:
    """Triplets chosen offline at `mined_step` (every valid triplet of the batch that was
    semi-hard then, eq. 4 and inside the margin) and what they are at `current_step`."""

    mined_step: int
    current_step: int
    mined: int
    still_semi_hard: int
    now_hard: int
    now_easy: int

    @property
    def stale_by(self) -> int:
        return self.current_step - self.mined_step

    def share(self, kind: str) -> float:
        """The share of the mined triplets that are of `kind` ("semi-hard", "hard", "easy") now."""
        n = {"semi-hard": self.still_semi_hard, "hard": self.now_hard, "easy": self.now_easy}[kind]
        return n / self.mined if self.mined else 0.0


def explorer_batch(labels: np.ndarray, trained_on: np.ndarray, seed: int) -> Batch:
    """A batch of the explorer set shaped like the runs' training batches: OFFLINE_PEOPLE people
    the runs trained on, OFFLINE_PHOTOS photos each."""
    return draw_batch(labels, trained_on, OFFLINE_PEOPLE, OFFLINE_PHOTOS, seed, unseen=False)


def offline_staleness(embeddings_at, steps: Sequence[int], labels: np.ndarray, current_step: int,
                      margin: float) -> list[Staleness]:
    """For every snapshot step up to `current_step` (`steps`, increasing), mine offline there (all
    the batch's valid triplets that are semi-hard under the embeddings of that step,
    `embeddings_at(step)`: (B, D)) and classify the same triplets under the embeddings of
    `current_step`. Mined at `current_step` itself is online mining: all still semi-hard."""
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    positive, negative = triplet.label_masks(lab)
    pair_a, pair_p = torch.nonzero(positive, as_tuple=True)
    pair, n = torch.nonzero(negative[pair_a], as_tuple=True)  # every valid triplet, pair by pair
    a, p = pair_a[pair], pair_p[pair]

    def kinds(step: int) -> torch.Tensor:
        d = triplet.squared_distances(torch.as_tensor(np.asarray(embeddings_at(step))))
        return triplet.classify_triplets(d[a, p], d[a, n], margin)

    with single_threaded():
        now = kinds(current_step)
        out = []
        for step in [int(s) for s in steps if s <= current_step]:
            chosen = now[kinds(step) == triplet.SEMI_HARD]
            counts = torch.bincount(chosen, minlength=3)
            out.append(Staleness(step, int(current_step), len(chosen), int(counts[triplet.SEMI_HARD]),
                                 int(counts[triplet.HARD]), int(counts[triplet.EASY])))
    return out
