"""Train it yourself: a short FaceNet run on the CPU, live, with the chosen margin and mining.

The run takes the training code's own step (`model.train.train_step`: the same augmentation,
mining and triplet loss as the shipped model's training) on a small real set, and reports every
few steps: the map of all its photos, the loss, the share of active triplets and how well photos of
people it never trained on are told apart. To keep it under a minute on a 2-core laptop it uses a
half-width network on 32 x 32 crops, P x K = 10 x 4 batches and one CPU thread.

The live map is a PCA of the embeddings (a UMAP fit would take seconds at every update), turned
onto the previous update's map (orthogonal Procrustes) so that it does not flip between updates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from lessons.torch_threads import single_threaded

LIVE_INPUT_SIZE = 32
LIVE_WIDTH = 0.5
PEOPLE_PER_BATCH, IMAGES_PER_PERSON = 10, 4
LIVE_STEPS = 300
UPDATE_EVERY = 10
LFW_PEOPLE, LFW_PHOTOS_EACH = 12, 40


@dataclass
class LiveSet:
    """The photos of a live run: crops at LIVE_INPUT_SIZE, who is who, and who is held out."""

    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64
    names: list[str]
    held_out: np.ndarray  # (P,) bool: person never trained on
    description: str

    @property
    def train_rows(self) -> np.ndarray:
        return np.flatnonzero(~self.held_out[self.labels])


def shrink(images: np.ndarray, size: int = LIVE_INPUT_SIZE) -> np.ndarray:
    """uint8 NHWC crops resized (area average) to size x size."""
    import torch

    if images.shape[1] == size:
        return images
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).contiguous().numpy()


def olivetti_set(faces) -> LiveSet:
    """The 40 Olivetti people (model.data.load_olivetti); the last 10 are held out."""
    held_out = np.arange(len(faces.names)) >= 30
    return LiveSet(shrink(faces.images), faces.labels.astype(np.int64), list(faces.names), held_out,
                   "Olivetti: 40 people x 10 photos; people 31-40 held out")


def lfw_set(faces, people: int = LFW_PEOPLE, photos_each: int = LFW_PHOTOS_EACH) -> LiveSet:
    """The LFW people with the most photos (up to `photos_each` of each, the first ones); every
    third of them is held out."""
    counts = np.bincount(faces.labels)
    top = np.argsort(-counts, kind="stable")[:people]
    rows = np.concatenate([np.flatnonzero(faces.labels == p)[:photos_each] for p in top])
    labels = np.searchsorted(np.sort(top), faces.labels[rows])
    names = [faces.names[p] for p in np.sort(top)]
    held_out = np.arange(len(names)) % 3 == 2
    return LiveSet(shrink(faces.images[rows]), labels.astype(np.int64), names, held_out,
                   f"LFW: the {people} people with the most photos, up to {photos_each} each; every third held out")


@dataclass
class LiveUpdate:
    step: int
    steps: int
    points: np.ndarray  # (N, 2) the live map
    curve: list[dict] = field(default_factory=list)  # {"step", "loss", "active_fraction"} so far
    held_out_accuracy: list[tuple[int, float]] = field(default_factory=list)  # (step, accuracy)
    elapsed_s: float = 0.0

    @property
    def done(self) -> bool:
        return self.step >= self.steps


def held_out_accuracy(embeddings: np.ndarray, live: LiveSet) -> float:
    """Verification accuracy at the best threshold over every pair of the held-out people's photos
    with as many different-person pairs (chance: 50%)."""
    from model.evaluate import balanced_pairs, best_threshold, pair_distances

    rows = np.flatnonzero(live.held_out[live.labels])
    left, right, same = balanced_pairs(live.labels[rows])
    return best_threshold(pair_distances(embeddings[rows], left, right), same)[1]


def pca_map(embeddings: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """2-D PCA of the embeddings, turned onto `previous` (if any) so the map does not flip."""
    from scipy.linalg import orthogonal_procrustes

    centred = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T
    if previous is not None:
        rotation, _ = orthogonal_procrustes(points, previous - previous.mean(axis=0))
        points = points @ rotation
    return points.astype(np.float32)


def live_run(live: LiveSet, margin: float, mining: str, steps: int = LIVE_STEPS, update_every: int = UPDATE_EVERY,
             seed: int = 0) -> Iterator[LiveUpdate]:
    """Train from scratch on `live`'s training people, yielding an update at step 0 and every
    `update_every` steps up to `steps`. Stop early by not asking for the next update."""
    import torch

    from model.data import PKSampler
    from model.embed import embed_crops
    from model.net import NetConfig, build_net
    from model.train import TrainConfig, make_optimizer, step_generator, train_step

    cfg = TrainConfig(input_size=LIVE_INPUT_SIZE, width=LIVE_WIDTH, margin=margin, mining=mining,
                      people_per_batch=PEOPLE_PER_BATCH, images_per_person=IMAGES_PER_PERSON, seed=seed)
    train_rows = live.train_rows
    # One CPU thread per run, taken for each stretch of work and given back before each update is
    # handed out, so that a run that is stopped half-way holds nothing.
    with single_threaded():
        torch.manual_seed(seed)
        net = build_net(NetConfig(cfg.arch, cfg.embedding_dim, cfg.input_size, cfg.width, cfg.activation))
        optimizer = make_optimizer(cfg, net.parameters())
    sampler = PKSampler(live.labels[train_rows], cfg.people_per_batch, cfg.images_per_person, seed=seed)
    images, labels = torch.from_numpy(live.images[train_rows]), torch.from_numpy(live.labels[train_rows])
    start = time.perf_counter()
    curve, accuracy, points, window = [], [], None, []

    def update(step: int) -> LiveUpdate:
        nonlocal points
        with single_threaded():
            emb = embed_crops(net, live.images)
        points = pca_map(emb, points)
        accuracy.append((step, held_out_accuracy(emb, live)))
        return LiveUpdate(step, steps, points, list(curve), list(accuracy), time.perf_counter() - start)

    yield update(0)
    net.train()
    for first in range(0, steps, update_every):
        with single_threaded():
            for step in range(first, min(first + update_every, steps)):
                rows = torch.from_numpy(sampler.batch(step))
                _, result = train_step(net, optimizer, images[rows], labels[rows], cfg, step_generator(cfg, 0, step))
                window.append((float(result.loss.detach()), result.active / max(result.selected, 1)))
        losses, actives = zip(*window)
        curve.append({"step": step + 1, "loss": float(np.mean(losses)), "active_fraction": float(np.mean(actives))})
        window = []
        yield update(step + 1)
