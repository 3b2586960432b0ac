"""Lesson 9, "Your faces": a visitor's own photos through the shipped model, testable without Streamlit.

A photo (upload or webcam shot) becomes a face crop (`model.faces.prepare_face`), the crop an
embedding (the shipped model), and the embedding a point on the explorer's map
(`model.maps.place_on_map`) with its nearest LFW people. On top of that come the three uses of one
embedding that the FaceNet paper names (Schroff, Kalenichenko & Philbin, CVPR 2015, Sec. 1):

* verification: two photos are "the same person" when the squared distance of their embeddings is
  at most a threshold; the strict one aims at FAR = 1e-3 on pairsDevTest (with 500 pairs of strangers
  that means none let through, which bounds the true FAR only below about 0.6%: `far_of`, `Rate`);
* recognition with an open set: the nearest enrolled person, or "unknown" beyond the threshold;
* clustering: a person enrolled with 3 to 10 photos becomes a new group on the map.

Privacy. Everything here works on arrays in memory. `Photo` keeps a small preview and the crop, never
the photo's bytes; nothing is written to disk or printed. The class gallery (`ClassGalleries`)
lives in the server's memory only, is off until a teacher with the server's teacher key opens a
class with a code, keeps one crop per enrolled person, holds a bounded number of entries, lets each
owner remove their own, and drops a session's entries once that session has ended.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np
from PIL import Image, ImageDraw

from lessons.content import LessonText
from model.faces import MAX_FACES, FaceInputError, prepare_faces
from model.maps import place_on_map

WORDS = LessonText("your_faces")  # the "verdict-" sections `explain` reads (content/en/your_faces.md)

# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------

MAX_SESSION_PHOTOS = 20  # photos a session holds at once (uploads, the webcam shot, kept shots): PHOTO_MAX_BYTES each
MIN_ENROL, MAX_ENROL = 3, 10  # photos of one person to enrol
MAX_ENROLLED = 10  # people one session can enrol
MAX_NAME = 40  # characters of an enrolled person's name
PREVIEW_MAX_SIDE = 480  # the photo with its face boxes, as kept for display
# What a session holds for one photo at most (never its bytes): the preview, and for a photo with several
# faces the preview without boxes (to draw them again for another face), the crop and embedding of each
# of its MAX_FACES largest faces. A session holds at most MAX_SESSION_PHOTOS x this: 28 MB.
PHOTO_MAX_BYTES = 2 * PREVIEW_MAX_SIDE**2 * 3 + MAX_FACES * (64 * 64 * 3 + 128 * 4) + 4096
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff", "ppm", "pgm", "heic", "heif", "avif"]
# (HEIC is listed so that an iPhone photo reaches prepare_face, which explains how to export it as JPEG.)

# Colours of the boxes on a photo (Okabe-Ito, as the rest of the course)
CHOSEN_COLOUR = "#E69F00"  # orange: the face the model sees
OTHER_COLOUR = "#56B4E9"  # sky blue: other faces found


# --------------------------------------------------------------------------------------------
# One photo: found face, crop, embedding
# --------------------------------------------------------------------------------------------


def digest(data: bytes) -> str:
    """A short content hash of a photo's bytes: the key under which its result is kept in the session."""
    return hashlib.sha256(bytes(data)).hexdigest()[:20]


@dataclass
class Photo:
    """What the page keeps of one photo: never its bytes, only what it shows and what the model needs."""

    key: str  # digest of the bytes, ":" and the chosen face's index
    digest: str
    name: str  # the file name, or "Webcam shot"
    source: str  # "upload", "webcam" or "kept" (a webcam shot kept for later)
    error: str | None = None  # FaceInputError's message: the photo could not be used
    crop: np.ndarray | None = None  # (S, S, 3) uint8: what the model sees
    embedding: np.ndarray | None = None  # (D,) float32 unit vector; None without a model
    preview: np.ndarray | None = None  # the photo, at most PREVIEW_MAX_SIDE, with every face box drawn
    num_faces: int = 0
    chosen: int = 0
    roll: float = 0.0
    notes: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)
    # Every face found (the MAX_FACES largest), so that another can be chosen once the bytes are gone:
    crops: np.ndarray | None = None  # (k, S, S, 3) uint8: face i's crop (`crop` is one of them)
    embeddings: np.ndarray | None = None  # (k, D) float32, None without a model
    face_notes: list[list[str]] = field(default_factory=list)  # face i's notes and roll
    face_rolls: list[float] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # every face, in `plain`'s pixels
    plain: np.ndarray | None = None  # the preview without boxes, kept when there are faces to choose from
    fingerprint: int | None = None  # `fingerprint` of the whole photo: is it one of the gallery's own?

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ready(self) -> bool:
        """It has an embedding: it can be placed, compared and enrolled."""
        return self.error is None and self.embedding is not None

    @property
    def choices(self) -> int:
        """How many of its faces can be chosen (its MAX_FACES largest)."""
        return 1 if self.crops is None else len(self.crops)

    @property
    def nbytes(self) -> int:
        """What the session holds for this photo: its arrays, never the photo's bytes."""
        arrays = {id(a): a for a in (self.crop, self.embedding, self.preview, self.crops, self.embeddings, self.plain)
                  if isinstance(a, np.ndarray)}
        return sum(a.nbytes for a in arrays.values() if a.base is None or id(a.base) not in arrays)

    def choose(self, face: int | None) -> Photo:
        """This photo with face number `face` (0: the largest) as the one used: its crop, embedding,
        notes and preview (the boxes drawn again); the same Photo when nothing changes."""
        i = 0 if face is None else int(face)
        if i == self.chosen or not 0 <= i < self.choices or self.crops is None:
            return self
        preview = draw_boxes(self.plain, self.boxes, i) if self.plain is not None else self.preview
        return replace(self, key=f"{self.digest}:{i}", chosen=i, crop=self.crops[i], preview=preview,
                       embedding=None if self.embeddings is None else self.embeddings[i],
                       roll=self.face_rolls[i], notes=list(self.face_notes[i]))


def draw_boxes(photo: np.ndarray, boxes: list[tuple[float, float, float, float]], chosen: int,
               max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """A copy of `photo` (at most `max_side` pixels on its long side) with every face box drawn and
    numbered: the chosen one in orange, thick, the others in sky blue. `boxes` are in `photo`'s pixels."""
    im = Image.fromarray(np.ascontiguousarray(photo))
    k = min(1.0, max_side / max(im.size))
    if k < 1.0:
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.Resampling.BILINEAR)
    else:
        im = im.copy()
    draw = ImageDraw.Draw(im)
    width = max(2, round(max(im.size) / 160))
    order = [i for i in range(len(boxes)) if i != chosen] + ([chosen] if 0 <= chosen < len(boxes) else [])
    for i in order:
        x0, y0, x1, y1 = (v * k for v in boxes[i])
        colour = CHOSEN_COLOUR if i == chosen else OTHER_COLOUR
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=width + (1 if i == chosen else 0))
        if len(boxes) > 1:
            label = str(i + 1)
            tx, ty = x0 + width, max(0.0, y0 - 12 - width)
            draw.rectangle([tx - 1, ty - 1, tx + 7 * len(label) + 2, ty + 11], fill=colour)
            draw.text((tx, ty), label, fill="black")
    return np.asarray(im, dtype=np.uint8)


def process_photo(data: bytes, name: str, source: str = "upload", face: int | None = None,
                  embed: Callable[[np.ndarray], np.ndarray] | None = None) -> Photo:
    """Find the face in a photo's bytes, crop it and embed it. Never raises for a bad photo: the
    returned Photo carries FaceInputError's message instead, so the page can say it and go on.

    `face` picks one of several faces (index into the faces found, largest first; None: the
    largest); `embed` is the model's `embed_crops` ((N, S, S, 3) uint8 -> (N, D)), or None when
    there is no model (the face is still found and shown)."""
    key_digest = digest(data)
    key = f"{key_digest}:{0 if face is None else int(face)}"
    try:
        every = prepare_faces(data)  # every face, so that another can be chosen once the bytes are gone
        prepared = every[0]
    except FaceInputError as err:  # a photo refused as it is (no face found) is shown with the reason
        refused = getattr(err, "photo", None)
        return Photo(key, key_digest, name, source, error=str(err),
                     preview=None if refused is None else draw_boxes(refused, [], -1))
    s = prepared.photo_scale
    boxes = [tuple(v * s for v in b) for b in prepared.boxes]
    photo = Photo(key, key_digest, name, source, crop=prepared.crop, preview=draw_boxes(prepared.photo, boxes, prepared.chosen),
                  num_faces=prepared.num_faces, chosen=prepared.chosen, roll=prepared.roll, notes=list(prepared.notes),
                  original_size=prepared.original_size, fingerprint=fingerprint(prepared.photo))
    photo.crops = np.stack([p.crop for p in every])
    photo.crop = photo.crops[0]
    photo.face_notes, photo.face_rolls = [list(p.notes) for p in every], [p.roll for p in every]
    if len(every) > 1:  # the boxes are drawn again when another face is chosen
        photo.plain = draw_boxes(prepared.photo, [], -1)
        k = photo.plain.shape[1] / prepared.photo.shape[1]
        photo.boxes = [tuple(v * k for v in b) for b in boxes]
    if embed is not None:
        from lessons.torch_threads import single_threaded  # imports torch: only when there is a model

        with single_threaded():  # one 64 x 64 crop: a second thread only adds waiting on a busy CPU
            photo.embeddings = np.asarray(embed(np.array(photo.crops)), dtype=np.float32)
        photo.embedding = photo.embeddings[0]
    return photo.choose(face)


@dataclass(frozen=True)
class Upload:
    """One incoming photo: its bytes are used for this run only, never kept."""

    name: str
    data: bytes
    source: str = "upload"


def take(held: dict[str, Photo], uploads: Iterable[Upload], embed: Callable | None = None,
         limit: int = MAX_SESSION_PHOTOS, replacing: str | None = None) -> tuple[list[Photo], list[str]]:
    """New photos into `held`, the session's photos by content digest, in the order they came: each
    upload is processed once (`process_photo`: every face's crop and embedding, a preview) and its
    bytes are not kept; a photo held already is not added again, and at most `limit` are held.
    `replacing`: a source whose photo the new one replaces ("webcam": the last shot). Returns the
    uploads that could not be used (Photos with their `error`, not held) and notes on what was
    left out."""
    if replacing:
        for d in [d for d, p in held.items() if p.source == replacing]:
            del held[d]
    failed, notes = [], []
    for upload in uploads:
        d = digest(upload.data)
        if d in held:
            notes.append(f"{upload.name} is the same photo as {held[d].name}; it is shown once.")
            continue
        if len(held) >= limit:
            notes.append(too_many_photos(limit, upload.name))
            continue
        photo = process_photo(upload.data, upload.name, upload.source, None, embed)
        if photo.ok:
            held[d] = photo
        else:
            failed.append(photo)
    return failed, notes


def too_many_photos(limit: int, name: str) -> str:
    return (f"This page keeps at most {MAX_SESSION_PHOTOS} photos for you at a time (their previews, crops "
            f"and embeddings, at most {MAX_SESSION_PHOTOS * PHOTO_MAX_BYTES / 2**20:.0f} MB), and you have {limit} "
            f"here already, so {name} was not added. Remove a photo to add another.")


def choose_faces(held: dict[str, Photo], face_for: Callable[[str], int | None] = lambda digest: None,
                 embed: Callable | None = None) -> list[Photo]:
    """The held photos, in order, each with the face `face_for(digest)` chosen (None: the largest),
    kept so in `held`; photos held without an embedding get one from their crops once `embed` (the
    model) is there."""
    for d, photo in list(held.items()):
        if embed is not None and photo.ok and photo.embeddings is None and photo.crops is not None:
            from lessons.torch_threads import single_threaded

            with single_threaded():
                embeddings = np.asarray(embed(np.array(photo.crops)), dtype=np.float32)
            photo = replace(photo, embeddings=embeddings, embedding=embeddings[photo.chosen])
        held[d] = photo.choose(face_for(d))
    return list(held.values())


# --------------------------------------------------------------------------------------------
# Where a face lands: the map and the nearest people
# --------------------------------------------------------------------------------------------


def place(vectors: np.ndarray, embeddings: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map positions (M, dims) of new embeddings (M, D) on a map whose photos have `embeddings`
    (N, D) at `points` (N, dims): `model.maps.place_on_map`, the same rule the explorer uses."""
    vectors = np.atleast_2d(np.asarray(vectors, np.float32))
    if len(vectors) == 0:
        return np.zeros((0, points.shape[1]), np.float32)
    return place_on_map(vectors, embeddings, points)


# A photo of the map's own gallery uploaded back (an LFW photo) lands on itself, at a squared distance
# that looks like a second photo of the same person: 0.04 typically, up to 0.5 (its crop is cut by the
# page's detector, not by LFW's fixed box), while the nearest other photo of 150 LFW photos was 0.08 to
# 0.5 away. So the photo is recognised by its pixels instead: a 64-bit difference hash of the whole
# photo. Over 300 LFW people, a photo saved again as JPEG (quality 60) at 180 x 180 changed at most 3
# of the 64 bits; two different photos of the same person differed in 9 bits or more (398 pairs).
SAME_PHOTO_BITS = 5


def fingerprint(rgb: np.ndarray) -> int:
    """A 64-bit difference hash of a whole photo (RGB): whether each of 8 x 8 cells of its grey
    levels is brighter than the cell to its left. A photo saved again, resized or recompressed keeps
    it within SAME_PHOTO_BITS bits; another photo does not."""
    grey = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).convert("L")
    g = np.asarray(grey.resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    return int(np.packbits((g[:, 1:] > g[:, :-1]).ravel()).view(">u8")[0])


def same_photo(a: int | None, b: int | None) -> bool:
    """Whether two fingerprints are of the same photo (possibly re-saved or resized)."""
    return a is not None and b is not None and bin(int(a) ^ int(b)).count("1") <= SAME_PHOTO_BITS


def gallery_twin(photo_fingerprint: int | None, lfw_root: str, candidates: Iterable[tuple[int, str]]) -> int | None:
    """The first of `candidates` ((row, LFW file such as "Name/Name_0001.jpg"), the photo's nearest
    in the gallery) that is this very photo, by `fingerprint`; None when none is. `lfw_root` is
    the LFW folder the gallery's photos were read from (`FaceSet.source`)."""
    if photo_fingerprint is None or not lfw_root:
        return None
    for row, file in candidates:
        if same_photo(photo_fingerprint, _lfw_fingerprint(str(lfw_root), str(file))):
            return int(row)
    return None


@functools.lru_cache(maxsize=1024)
def _lfw_fingerprint(lfw_root: str, file: str) -> int | None:
    from model.data import DataNotFoundError, lfw_image_dir

    try:
        with Image.open(lfw_image_dir(Path(lfw_root)) / file) as im:
            return fingerprint(np.asarray(im.convert("RGB")))
    except (OSError, ValueError, DataNotFoundError):
        return None


def squared_distances(vector: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(N,) squared L2 distances from one unit embedding to every row of `embeddings`."""
    v = np.asarray(vector, np.float64)
    e = np.asarray(embeddings, np.float64)
    return np.maximum((v * v).sum() + (e * e).sum(axis=1) - 2.0 * e @ v, 0.0)


@dataclass(frozen=True)
class Near:
    row: int  # row of the explorer set
    person: int  # label
    distance: float  # squared L2


def nearest_photos(vector: np.ndarray, embeddings: np.ndarray, labels: np.ndarray, k: int = 5,
                   exclude: Iterable[int] = ()) -> list[Near]:
    """The k photos nearest to `vector`, nearest first (rows in `exclude` left out)."""
    d = squared_distances(vector, embeddings)
    for row in exclude:
        d[int(row)] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return [Near(int(i), int(labels[i]), float(d[i])) for i in order if np.isfinite(d[i])]


def nearest_people(vector: np.ndarray, embeddings: np.ndarray, labels: np.ndarray, k: int = 5,
                   exclude: Iterable[int] = ()) -> list[Near]:
    """The k people whose nearest photo is nearest to `vector`: one Near per person (their nearest
    photo), nearest first."""
    d = squared_distances(vector, embeddings)
    for row in exclude:
        d[int(row)] = np.inf
    order = np.argsort(d, kind="stable")
    found, people = [], set()
    for i in order:
        if not np.isfinite(d[i]):
            break
        p = int(labels[i])
        if p in people:
            continue
        people.add(p)
        found.append(Near(int(i), p, float(d[i])))
        if len(found) == k:
            break
    return found


# --------------------------------------------------------------------------------------------
# Verification: same person or not, and what the answer is worth
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """A verification threshold with the VAL and FAR it gives on pairsDevTest."""

    name: str
    value: float  # squared L2
    val: float  # share of pairsDevTest's same-person pairs with D <= value
    far: float  # share of its different-person pairs with D <= value
    n_same: int = 500
    n_diff: int = 500
    how: str = ""

    @property
    def false_accepts(self) -> int:
        return int(round(self.far * self.n_diff))

    @property
    def true_accepts(self) -> int:
        return int(round(self.val * self.n_same))


def thresholds(card: dict, pairs=None) -> dict[str, Threshold]:
    """The two thresholds the page offers, from the model card, with VAL and FAR counted on
    pairsDevTest (`pairs`: `lessons.evaluation.Pairs`) when given, else as the card states them.

    * "strict": the largest threshold with FAR <= 1e-3 on pairsDevTest (the paper's operating point);
    * "balanced": the threshold that is most accurate on pairsDevTrain (chosen without the test pairs).
    """
    from lessons import evaluation as ev

    metrics = (card or {}).get("metrics") or {}
    found: dict[str, Threshold] = {}
    strict = metrics.get("view1_devtest_threshold_at_far_1e-3")
    if strict is None and pairs is not None:
        _, strict = ev.val_at_far(pairs, 1e-3)
    balanced = metrics.get("view1_threshold_from_devtrain")
    if balanced is None and pairs is not None:
        balanced, _ = ev.best_threshold(pairs)
    strict_how = "the largest distance with FAR at most 0.001 on pairsDevTest's own pairs"
    for name, value, how in (("strict", strict, strict_how),
                             ("balanced", balanced, "the most accurate on pairsDevTrain")):
        if value is None:
            continue
        if pairs is not None:
            c = ev.counts_at(pairs, float(value))
            found[name] = Threshold(name, float(value), c.val, c.far, c.n_same, c.n_diff, how)
        elif name == "strict" and "view1_devtest_val_at_far_1e-3" in metrics:
            found[name] = Threshold(name, float(value), float(metrics["view1_devtest_val_at_far_1e-3"]), 0.0, how=how)
    return found


@dataclass(frozen=True)
class Verdict:
    distance: float
    threshold: Threshold
    strangers_within: float | None  # share of different-person pairs at least this close (FAR at D)
    same_within: float | None  # share of same-person pairs at least this close (VAL at D)
    reference: str = ""

    @property
    def same(self) -> bool:
        return self.distance <= self.threshold.value

    @property
    def naive_percentage(self) -> float:
        """1 - D/4: the tempting, meaningless "similarity"."""
        return 1.0 - self.distance / 4.0


def verify(a: np.ndarray, b: np.ndarray, threshold: Threshold, reference=None) -> Verdict:
    """Compare two embeddings against a threshold; `reference` (`lessons.evaluation.DistanceReference`)
    turns the distance into honest shares of known pairs."""
    d = float(squared_distances(a, np.asarray(b)[None])[0])
    if reference is None:
        return Verdict(d, threshold, None, None)
    return Verdict(d, threshold, float(reference.share_different_within(d)), float(reference.share_same_within(d)),
                   reference.name)


def explain(verdict: Verdict) -> str:
    """What the answer means in VAL and FAR terms, in plain words (markdown): the "verdict-" sections of
    content/<language>/your_faces.md, the verdict's first and what it is worth after it."""
    t = verdict.threshold
    d, v = verdict.distance, t.value
    if verdict.same:
        text = WORDS("verdict-same", distance=d, threshold=v, far=t.far, n_diff=t.n_diff,
                     false_accepts=t.false_accepts)
        if t.false_accepts == 0 and t.n_diff:
            # 0 of n proves only that the true rate is small, not that it is zero.
            worth = WORDS("verdict-same-none-of-n", n_diff=t.n_diff, bound=upper_bound(0, t.n_diff))
        elif t.far <= 0.01:
            worth = WORDS("verdict-same-rare")
        else:
            worth = WORDS("verdict-same-guess", one_in=1 / t.far)
    else:
        text = WORDS("verdict-not-same", distance=d, threshold=v, val=t.val, true_accepts=t.true_accepts,
                     n_same=t.n_same, missed=1 - t.val)
        worth = WORDS("verdict-not-same-unsure" if t.val < 0.5 else "verdict-not-same-evidence")
    return f"{text} {worth}"


# --------------------------------------------------------------------------------------------
# What a count proves: a rate measured on a few hundred pairs, with its 95% interval
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A rate counted on pairs (VAL or FAR at a threshold): `k` of `n`, with the exact (Clopper-Pearson)
    95% interval and the one-sided 95% upper bound of the true rate on new pairs of the same kind."""

    k: int
    n: int
    low: float  # two-sided 95% interval
    high: float
    upper: float  # one-sided 95% upper bound: the rate is below it with 95% confidence

    @property
    def share(self) -> float:
        return self.k / self.n


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval of a binomial rate from `k` successes in `n`
    trials: the rates under which seeing `k` or fewer (or `k` or more) has probability at least
    (1 - confidence) / 2. Quantiles of the beta distribution (scipy)."""
    from scipy.stats import beta

    if not 0 <= k <= n or n <= 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return low, high


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided upper bound: the largest rate under which `k` or fewer in `n` still has
    probability at least 1 - confidence. For k = 0 it is 1 - (1 - confidence)^(1/n), about 3/n at
    95% (the "rule of three")."""
    from scipy.stats import beta

    if not 0 <= k <= n or n <= 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    return 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))


def pairs_needed(target: float, confidence: float = 0.95) -> int:
    """How many pairs, none of them accepted, it takes before the one-sided upper bound falls to
    `target`: the smallest n with (1 - target)^n <= 1 - confidence."""
    import math

    return math.ceil(math.log(1.0 - confidence) / math.log1p(-target))


def rate(k: int, n: int, confidence: float = 0.95) -> Rate:
    low, high = clopper_pearson(k, n, confidence)
    return Rate(int(k), int(n), low, high, upper_bound(k, n, confidence))


def far_of(threshold: Threshold) -> Rate:
    """The threshold's FAR on pairsDevTest's different-person pairs, as a count with its interval."""
    return rate(threshold.false_accepts, threshold.n_diff)


def val_of(threshold: Threshold) -> Rate:
    """The threshold's VAL on pairsDevTest's same-person pairs, as a count with its interval."""
    return rate(threshold.true_accepts, threshold.n_same)


def same_or_not(verdict: Verdict) -> int:
    """0: the model says "same person"; 1: "not the same" (the options of a prediction)."""
    return 0 if verdict.same else 1


# --------------------------------------------------------------------------------------------
# One threshold, unequal errors: how often each person is mistaken for a stranger
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRates:
    """Per person never seen in training: how many pairs (one photo of theirs, one of someone else
    unseen) there are and how many of them come within the threshold. A person's rate is the FAR
    they meet: how often a stranger would be taken for them, or they for the stranger."""

    threshold: float
    false_accepts: np.ndarray  # (people,) stranger pairs within the threshold
    pairs: np.ndarray  # (people,) stranger pairs

    @property
    def rates(self) -> np.ndarray:
        return self.false_accepts / self.pairs

    @property
    def people(self) -> int:
        return len(self.pairs)

    @property
    def overall(self) -> float:
        """The FAR over every pair of two unseen people (each pair counted once for each of its two
        people, above and below the line alike, so this is the plain share of pairs)."""
        return float(self.false_accepts.sum() / self.pairs.sum())

    def quantile(self, q: float) -> float:
        """The rate that a share `q` of the people stay at or below (q = 0.99: the most-mistaken
        1 in 100 meet at least this)."""
        return float(np.quantile(self.rates, q))

    @property
    def share_never(self) -> float:
        """Share of people none of whose stranger pairs comes within the threshold."""
        return float((self.false_accepts == 0).mean())


def person_rates(lfw, threshold: float, block: int = 512) -> PersonRates:
    """`PersonRates` of the people `lfw` (`model.embed.LFWEmbeddings`) never trained on, at
    `threshold`: the same pairs as `lessons.evaluation.all_unseen_pairs_reference`, split by person."""
    rows = np.flatnonzero(~np.asarray(lfw.trained_on)[lfw.labels])
    e = np.asarray(lfw.embeddings)[rows].astype(np.float32)
    _, person = np.unique(np.asarray(lfw.labels)[rows], return_inverse=True)
    sq = (e * e).sum(1)
    within = np.zeros(len(rows), dtype=np.int64)  # per photo: stranger photos within the threshold
    for start in range(0, len(rows), block):
        stop = min(start + block, len(rows))
        d = np.maximum(sq[start:stop, None] + sq[None, :] - 2.0 * (e[start:stop] @ e.T), 0.0)
        strangers = person[start:stop, None] != person[None, :]
        within[start:stop] = ((d <= threshold) & strangers).sum(1)
    photos = np.bincount(person)
    pairs = photos * (len(rows) - photos)  # each of a person's photos with every unseen stranger's photo
    return PersonRates(float(threshold), np.bincount(person, weights=within).astype(np.int64), pairs.astype(np.int64))


# --------------------------------------------------------------------------------------------
# Recognition with an open set: the nearest enrolled person, or "unknown"
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryPerson:
    name: str
    embeddings: np.ndarray  # (k, D)
    source: str  # "you", "class" or "lfw"
    keys: tuple[str, ...] = ()  # digests of the photos, to leave out a probe that is one of them


@dataclass(frozen=True)
class Candidate:
    name: str
    source: str
    distance: float  # to the person's nearest enrolled photo


@dataclass(frozen=True)
class Identification:
    threshold: float
    ranking: tuple[Candidate, ...]  # nearest first
    left_out: int = 0  # gallery photos that were the probe itself

    @property
    def nearest(self) -> Candidate | None:
        return self.ranking[0] if self.ranking else None

    @property
    def answer(self) -> Candidate | None:
        """The nearest person if within the threshold; None means "unknown"."""
        n = self.nearest
        return n if n is not None and n.distance <= self.threshold else None


def identify(probe: np.ndarray, gallery: list[GalleryPerson], threshold: float, probe_key: str | None = None,
             top: int = 5) -> Identification:
    """Open-set identification: rank the gallery's people by their nearest photo; the answer is the
    first one only if within `threshold`, else "unknown". A gallery photo with the probe's own
    digest is left out (identifying a photo with itself proves nothing)."""
    ranking, left_out = [], 0
    for person in gallery:
        e = np.asarray(person.embeddings, np.float32).reshape(-1, len(probe))
        keep = np.ones(len(e), bool)
        if probe_key is not None and len(person.keys) == len(e):
            keep = np.array([k != probe_key for k in person.keys], bool)
            left_out += int((~keep).sum())
        if not keep.any():
            continue
        d = squared_distances(probe, e[keep])
        ranking.append(Candidate(person.name, person.source, float(d.min())))
    ranking.sort(key=lambda c: c.distance)
    return Identification(float(threshold), tuple(ranking[:top]), left_out)


def lfw_gallery(maps, embeddings: np.ndarray) -> list[GalleryPerson]:
    """The explorer set's 62 people as a gallery (every one of their photos enrolled)."""
    return [GalleryPerson(name.replace("_", " "), embeddings[maps.labels == p], "lfw")
            for p, name in enumerate(maps.names)]


# --------------------------------------------------------------------------------------------
# Enrolment: 3 to 10 photos of one person become a new cluster
# --------------------------------------------------------------------------------------------


class EnrolmentError(ValueError):
    """An enrolment that cannot be made; the message says what to change."""


@dataclass(frozen=True)
class EnrolledPerson:
    name: str
    embeddings: np.ndarray  # (k, D)
    crops: np.ndarray  # (k, S, S, 3) uint8
    keys: tuple[str, ...]  # digests of the photos


def clean_name(name: str) -> str:
    """A display name, cleaned where it is typed: only characters that show (no control characters,
    bidi overrides or isolates, zero-width characters: `ui.plain.visible`), white space collapsed,
    at most MAX_NAME characters. Markdown or HTML in it stays as typed: every page shows names
    through ui.plain, as plain text."""
    from ui.plain import visible

    return visible(name, limit=None)[:MAX_NAME].strip()


def enrol(name: str, photos: list[Photo], taken: Iterable[str] = ()) -> EnrolledPerson:
    """A new person from MIN_ENROL to MAX_ENROL of one's photos (each must have an embedding)."""
    clean = clean_name(name)
    if not clean:
        raise EnrolmentError("Give the person a name (any nickname will do).")
    if clean.casefold() in {t.casefold() for t in taken}:
        raise EnrolmentError(f"{clean} is enrolled already. Remove that entry first, or choose another name.")
    usable = [p for p in photos if p.ready]
    if len(usable) < len(photos):
        raise EnrolmentError("Some of the chosen photos have no face the model could use; choose others.")
    keys = list(dict.fromkeys(p.digest for p in usable))
    if len(keys) < MIN_ENROL:
        raise EnrolmentError(f"Choose at least {MIN_ENROL} different photos of the person (you chose {len(keys)}): "
                             "one photo is a point, a cluster needs several.")
    if len(keys) > MAX_ENROL:
        raise EnrolmentError(f"Choose at most {MAX_ENROL} photos of one person (you chose {len(keys)}).")
    by_key = {p.digest: p for p in usable}
    chosen = [by_key[k] for k in keys]
    return EnrolledPerson(clean, np.stack([p.embedding for p in chosen]).astype(np.float32),
                          np.stack([p.crop for p in chosen]).astype(np.uint8), tuple(keys))


@dataclass(frozen=True)
class ClusterSummary:
    photos: int
    pairs: int
    mean_distance: float  # over the pairs of the person's own photos
    max_distance: float
    pairs_within: int  # pairs at most the threshold apart
    nearest_other: float | None  # distance from the person's photos to the nearest photo of anyone else

    @property
    def share_within(self) -> float:
        return self.pairs_within / self.pairs if self.pairs else float("nan")


def cluster_summary(embeddings: np.ndarray, threshold: float, others: np.ndarray | None = None) -> ClusterSummary:
    """How tight an enrolled person's photos are: their pairwise squared distances against the
    threshold, and how near the nearest photo of anyone else (`others`, (N, D)) comes."""
    e = np.asarray(embeddings, np.float64)
    n = len(e)
    d = np.maximum((e * e).sum(1)[:, None] + (e * e).sum(1)[None, :] - 2.0 * e @ e.T, 0.0)
    upper = d[np.triu_indices(n, k=1)]
    nearest_other = None
    if others is not None and len(others):
        o = np.asarray(others, np.float64)
        nearest_other = float(np.maximum((e * e).sum(1)[:, None] + (o * o).sum(1)[None, :] - 2.0 * e @ o.T, 0.0).min())
    return ClusterSummary(n, len(upper), float(upper.mean()) if len(upper) else 0.0,
                          float(upper.max()) if len(upper) else 0.0, int((upper <= threshold).sum()), nearest_other)


# --------------------------------------------------------------------------------------------
# The class gallery: shared by the students who typed one code, in server memory only
# --------------------------------------------------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read out in a classroom
CODE_LENGTH = 6
CODE_PATTERN = re.compile(r"^[A-Z0-9-]{4,24}$")
MIN_TEACHER_KEY = 8  # characters: a shorter key is too easy to guess, and is not used


class GalleryError(ValueError):
    """A class-gallery action that cannot be done; the message says why."""


def new_code() -> str:
    """A random class code, e.g. "K7PQ2M"."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A class code as typed ("k7pq 2m") -> its canonical form ("K7PQ2M"), or GalleryError."""
    code = re.sub(r"\s+", "", str(text or "")).upper()
    if not CODE_PATTERN.match(code):
        raise GalleryError("A class code has 4 to 24 letters, digits or dashes, like K7PQ2M.")
    return code


def new_owner_token() -> str:
    """A random token that marks one session's entries (kept in that session's state only)."""
    return secrets.token_hex(16)


# ---- teacher keys ----------------------------------------------------------------------------


def teacher_keys(setting: str | None) -> tuple[str, ...]:
    """The teacher keys in the server's setting (FACENET_TEACHER_KEY): one key, or several separated
    by commas, one per teacher. Keys shorter than MIN_TEACHER_KEY characters are left out."""
    keys = (k.strip() for k in str(setting or "").split(","))
    return tuple(dict.fromkeys(k for k in keys if len(k) >= MIN_TEACHER_KEY))


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).digest()


def teacher_for(typed: str, keys: Iterable[str]) -> str | None:
    """The teacher whose key was typed, as an opaque id made from the key (the key itself is never
    kept), or None for a wrong key. Compared with hmac.compare_digest, digest against digest and
    with every key, so the time taken says nothing about how much of a key was right."""
    typed_digest, found = _key_digest(str(typed or "").strip()), None
    for key in keys:
        if hmac.compare_digest(typed_digest, _key_digest(key)):
            found = key
    return None if found is None else "teacher-" + hashlib.sha256(b"facenet-teacher|" + _key_digest(found)).hexdigest()[:24]


# ---- the store ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassEntry:
    entry_id: str
    owner: str  # the owner's session token (never shown)
    person: str
    embeddings: np.ndarray  # (k, D), read-only
    face: np.ndarray  # one crop (S, S, 3) uint8, read-only: what classmates see
    added: float
    session: str | None = None  # the Streamlit session that shared it: the entry ends with it (never shown)


@dataclass
class _Class:
    teacher: str
    opened: float
    touched: float
    entries: list[ClassEntry] = field(default_factory=list)


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


class GalleryStore(Protocol):
    """What the page needs of a store of class galleries. `ClassGalleries` keeps them in this
    server's memory; a store shared by several server processes (Redis, say) would implement the
    same methods, with `sweep` asking each process's sessions."""

    def open(self, code: str, teacher: str) -> str: ...
    def close(self, code: str, teacher: str) -> bool: ...
    def opened_by(self, teacher: str) -> list[str]: ...
    def exists(self, code: str) -> bool: ...
    def join(self, code: str) -> str: ...
    def entries(self, code: str) -> list[ClassEntry]: ...
    def add(self, code: str, owner: str, person: str, embeddings: np.ndarray, face: np.ndarray,
            session: str | None = None) -> ClassEntry: ...
    def remove(self, code: str, owner: str, person: str | None = None) -> int: ...
    def remove_everywhere(self, owner: str) -> int: ...
    def sweep(self, alive: Callable[[str], bool]) -> int: ...


class ClassGalleries:
    """Class galleries, keyed by code, in this server's memory (one object per server, shared by
    every session; every method takes the lock). Nothing is ever written to disk.

    Off by default: a gallery exists only after a teacher opens it, and opening and closing need a
    teacher key (`teacher`: the id `teacher_for` gives a right key; the page never opens a gallery
    without one). One key holds at most `max_per_teacher` open galleries, so nobody can take every
    code; students see a gallery only by typing its code.

    Each entry belongs to the session token that added it, and only that token can remove it. It
    also names the Streamlit session that shared it: `sweep(alive)` removes the entries of every
    session that `alive` says has ended (after `grace_s` seconds, so that a dropped connection that
    comes straight back keeps them), so a shared face lives no longer than the tab that shared it.

    Memory stays bounded: at most `max_entries` people per class, `max_per_owner` of them from one
    session, `max_photos` photos (embeddings) per person and one crop, and `max_classes` classes; a
    class untouched for `idle_s` seconds is dropped by the next sweep."""

    def __init__(self, max_classes: int = 20, max_per_teacher: int = 3, max_entries: int = 200,
                 max_per_owner: int = MAX_ENROLLED, max_photos: int = MAX_ENROL, idle_s: float = 12 * 3600,
                 grace_s: float = 10.0, clock: Callable[[], float] = time.time):
        self.max_classes, self.max_per_teacher, self.max_entries = max_classes, max_per_teacher, max_entries
        self.max_per_owner, self.max_photos, self.idle_s, self.grace_s = max_per_owner, max_photos, idle_s, grace_s
        self._clock = clock
        self._lock = threading.Lock()
        self._classes: dict[str, _Class] = {}
        self._gone_since: dict[str, float] = {}  # session -> when `alive` first said it had ended

    # ---- teachers ----------------------------------------------------------------------------

    def open(self, code: str, teacher: str) -> str:
        """Open a class gallery under `code` (normalised; returned) for `teacher` (a teacher id).
        Opening an open class again is fine for its teacher; another teacher must choose another code."""
        code = normalise_code(code)
        if not teacher:
            raise GalleryError("Only a teacher with the server's teacher key can open a class gallery.")
        with self._lock:
            now = self._clock()
            found = self._classes.get(code)
            if found is not None:
                if found.teacher != teacher:
                    raise GalleryError(f"The code {code} is in use already; choose another one.")
                found.touched = now
                return code
            mine = sum(c.teacher == teacher for c in self._classes.values())
            if mine >= self.max_per_teacher:
                raise GalleryError(f"Your key has {mine} class galleries open already, the most one key can "
                                   "hold; close one first.")
            if len(self._classes) >= self.max_classes:
                self._drop_idle(now)
            if len(self._classes) >= self.max_classes:
                raise GalleryError(f"This server holds {self.max_classes} class galleries already; ask the "
                                   "teachers to close the ones they no longer use.")
            self._classes[code] = _Class(teacher, now, now)
            return code

    def close(self, code: str, teacher: str) -> bool:
        """Close a class gallery and forget every entry in it (its teacher only)."""
        try:
            code = normalise_code(code)
        except GalleryError:
            return False
        with self._lock:
            found = self._classes.get(code)
            if found is None or not teacher or found.teacher != teacher:
                return False
            del self._classes[code]
            return True

    def opened_by(self, teacher: str) -> list[str]:
        """The codes of the galleries `teacher` has open, oldest first: a teacher who typed the key
        again (in a new tab, after a reload) gets them back."""
        with self._lock:
            return [code for code, c in sorted(self._classes.items(), key=lambda kv: kv[1].opened)
                    if teacher and c.teacher == teacher]

    # ---- everyone with the code ----------------------------------------------------------------

    def exists(self, code: str) -> bool:
        try:
            code = normalise_code(code)
        except GalleryError:
            return False
        with self._lock:
            return code in self._classes

    def join(self, code: str) -> str:
        """The normalised code of an open class, or GalleryError (nobody can join a closed one)."""
        code = normalise_code(code)
        with self._lock:
            if code not in self._classes:
                raise GalleryError(f"No class gallery is open with the code {code}. Check the code with your "
                                   "teacher: a gallery exists only once the teacher has opened it.")
            self._classes[code].touched = self._clock()
        return code

    def entries(self, code: str) -> list[ClassEntry]:
        """A snapshot of the class's entries (empty if there is no such class)."""
        try:
            code = normalise_code(code)
        except GalleryError:
            return []
        with self._lock:
            found = self._classes.get(code)
            return list(found.entries) if found is not None else []

    def add(self, code: str, owner: str, person: str, embeddings: np.ndarray, face: np.ndarray,
            session: str | None = None) -> ClassEntry:
        """Share one enrolled person with a class, for as long as `session` (the Streamlit session
        sharing it) lasts. The owner's earlier entry of the same name is replaced."""
        code = normalise_code(code)
        person = clean_name(person)
        if not person:
            raise GalleryError("The person needs a name.")
        e = np.asarray(embeddings, np.float32)
        if e.ndim != 2 or not 1 <= len(e) <= self.max_photos:
            raise GalleryError(f"A person is shared with 1 to {self.max_photos} photos.")
        entry = ClassEntry(secrets.token_hex(8), owner, person, _frozen(e, np.float32), _frozen(face, np.uint8),
                           self._clock(), session)
        with self._lock:
            found = self._classes.get(code)
            if found is None:
                raise GalleryError(f"The class gallery {code} has been closed.")
            kept = [x for x in found.entries if not (x.owner == owner and x.person.casefold() == person.casefold())]
            if sum(x.owner == owner for x in kept) >= self.max_per_owner:
                raise GalleryError(f"You can share at most {self.max_per_owner} people with a class.")
            if len(kept) >= self.max_entries:
                raise GalleryError(f"The class gallery {code} is full ({self.max_entries} people).")
            found.entries = kept + [entry]
            found.touched = entry.added
        return entry

    def remove(self, code: str, owner: str, person: str | None = None) -> int:
        """Remove the owner's entries from a class (only the one named `person` if given); returns
        how many were removed. Nobody can remove another owner's entries."""
        try:
            code = normalise_code(code)
        except GalleryError:
            return 0
        with self._lock:
            found = self._classes.get(code)
            if found is None:
                return 0
            mine = {x.entry_id for x in found.entries
                    if x.owner == owner and (person is None or x.person.casefold() == clean_name(person).casefold())}
            found.entries = [x for x in found.entries if x.entry_id not in mine]
            return len(mine)

    def remove_everywhere(self, owner: str) -> int:
        """Remove every entry of this owner from every class ("forget my faces")."""
        with self._lock:
            removed = 0
            for found in self._classes.values():
                before = len(found.entries)
                found.entries = [x for x in found.entries if x.owner != owner]
                removed += before - len(found.entries)
            return removed

    # ---- housekeeping ------------------------------------------------------------------------

    def sweep(self, alive: Callable[[str], bool]) -> int:
        """Remove the entries of every session that has ended: `alive(session)` says whether a
        session is still there (an error counts as "still there": nothing is removed on a doubt).
        A session gone for at least `grace_s` seconds loses its entries from every class. Classes
        untouched for `idle_s` seconds are dropped too. Returns how many entries were removed."""
        with self._lock:
            sessions = {x.session for c in self._classes.values() for x in c.entries if x.session}
        gone = set()
        for session in sessions:
            try:
                still_there = bool(alive(session))
            except Exception:  # the runtime could not answer: keep the entries
                still_there = True
            if not still_there:
                gone.add(session)
        with self._lock:
            now = self._clock()
            for session in list(self._gone_since):
                if session not in gone:
                    del self._gone_since[session]
            for session in gone:
                self._gone_since.setdefault(session, now)
            ended = {s for s, since in self._gone_since.items() if now - since >= self.grace_s}
            removed = 0
            for found in self._classes.values():
                before = len(found.entries)
                found.entries = [x for x in found.entries if x.session not in ended]
                removed += before - len(found.entries)
            for session in ended:
                del self._gone_since[session]
            self._drop_idle(now)
            return removed

    def _drop_idle(self, now: float) -> None:
        for code in [c for c, k in self._classes.items() if now - k.touched > self.idle_s]:
            del self._classes[code]

    def __len__(self) -> int:
        with self._lock:
            return len(self._classes)
