"""The test photos of the face benches (bench_faces.py, bench_your_faces.py), made in memory from
one LFW photo; nothing is written to disk.

  * the 250 x 250 LFW JPEG itself;
  * "phone, small face": the photo pasted into a 3000 x 4000 frame (a smooth gradient with a
    little sensor-like noise), saved as JPEG at quality 90; the face is about 115 pixels wide,
    1/35 of the frame (a person a few metres from the camera);
  * "phone, selfie": the photo enlarged 8x into the same frame (face ~920 pixels).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SMALL_FACE = "phone 3000 x 4000 JPEG, small face (~115 px)"


def lfw_images(data: str | None) -> Path:
    """LFW's image folder under `data` (or where model.data looks), or exit saying how to get it."""
    from model.data import find_lfw, lfw_image_dir

    try:
        return lfw_image_dir(find_lfw(data))
    except FileNotFoundError as err:  # the message says where it looked and how to get LFW
        raise SystemExit(str(err))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def phone_frame(width: int = 3000, height: int = 4000, seed: int = 0) -> Image.Image:
    """A smooth grey-blue gradient with mild noise, like an out-of-focus wall."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    base = np.array([150, 160, 175], np.float32) - 60 * y + 25 * x
    noise = rng.normal(0, 5, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def phone_photos(images: Path, photo: str) -> dict[str, bytes]:
    """The three test photos made from LFW's `photo` ("Tony_Blair/Tony_Blair_0001.jpg"), by name."""
    raw = (images / photo).read_bytes()
    face = Image.open(io.BytesIO(raw)).convert("RGB")
    small = phone_frame()
    small.paste(face, (1210, 1480))
    selfie = phone_frame()
    selfie.paste(face.resize((2000, 2000), Image.Resampling.BICUBIC), (500, 900))
    return {
        "LFW photo, 250 x 250 JPEG": raw,
        SMALL_FACE: jpeg(small),
        "phone 3000 x 4000 JPEG, selfie (face ~920 px)": jpeg(selfie),
    }
