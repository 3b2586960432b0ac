"""Photos that are themselves face crops, made in memory from LFW: shared by
tests/model/test_tight_crops.py and bench/bench_tight_crops.py, so the test asserts on the very
crops the bench measures. Nothing is written anywhere: no face image leaves memory.

LFW's face box is (65, 65, 185, 185), 120 px of 250: a central 100 x 100 runs from the brows to the
chin, 80 x 80 cuts into the forehead and the chin, as a face dataset's tight crop does.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 0


def sample_photos(image_dir: Path, people: int, seed: int = SEED) -> list[Path]:
    """The first photo (by name) of `people` LFW people drawn at random with `seed`."""
    folders = sorted(p for p in image_dir.iterdir() if p.is_dir())
    random.Random(seed).shuffle(folders)
    return [sorted(folder.glob("*.jpg"))[0] for folder in folders[:people]]


def central_crop(path: Path, side: int, quality: int = 95) -> bytes:
    """The central side x side of an LFW photo, as JPEG bytes (in memory)."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    x0 = (rgb.width - side) // 2
    y0 = (rgb.height - side) // 2
    out = io.BytesIO()
    rgb.crop((x0, y0, x0 + side, y0 + side)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def found_as_is(data: bytes) -> bool:
    """The rule before find_faces_padded: a face found on the photo as it is."""
    from model.faces import find_faces

    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    return len(find_faces(rgb)) > 0
