"""An uploaded photo that is itself one of the map's gallery photos (an LFW photo uploaded back) is
recognised by its pixels (lessons.your_faces.fingerprint), not by its small embedding distance,
which a second photo of the same person can have too."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from lessons import your_faces as yf


def reencoded(image: Image.Image, side: int, quality: int) -> np.ndarray:
    out = io.BytesIO()
    image.resize((side, side)).save(out, "JPEG", quality=quality)
    return np.asarray(Image.open(out).convert("RGB"))


def test_a_photo_saved_again_is_the_same_photo_another_one_is_not(images):
    bush = sorted((images / "George_W_Bush").glob("*.jpg"))[:6]
    first = Image.open(bush[0]).convert("RGB")
    original = yf.fingerprint(np.asarray(first))
    assert yf.same_photo(original, yf.fingerprint(reencoded(first, 180, 60)))
    assert yf.same_photo(original, yf.fingerprint(reencoded(first, 600, 85)))
    for other in bush[1:]:
        assert not yf.same_photo(original, yf.fingerprint(np.asarray(Image.open(other).convert("RGB")))), other.name
    assert not yf.same_photo(original, None) and not yf.same_photo(None, None)


def test_gallery_twin_finds_the_photo_among_its_neighbours(images):
    root = str(images.parent)  # the LFW folder, as FaceSet.source holds it
    photo = np.asarray(Image.open(images / "Colin_Powell/Colin_Powell_0003.jpg").convert("RGB"))
    candidates = [(7, "Colin_Powell/Colin_Powell_0001.jpg"), (9, "Colin_Powell/Colin_Powell_0003.jpg")]
    assert yf.gallery_twin(yf.fingerprint(photo), root, candidates) == 9
    assert yf.gallery_twin(yf.fingerprint(photo), root, candidates[:1]) is None
    assert yf.gallery_twin(yf.fingerprint(photo), "", candidates) is None  # no photos: no claim
    assert yf.gallery_twin(yf.fingerprint(photo), root, [(1, "Nobody/Nobody_0001.jpg")]) is None
