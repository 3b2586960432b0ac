"""Photos that are themselves face crops (an ID photo, an avatar, a face dataset's crop): how many
the Your-faces page accepts, before and after `model.faces.find_faces_padded`.

    python bench/bench_tight_crops.py                       # 200 LFW people, crops of 80 and 100 px
    python bench/bench_tight_crops.py --people 40 --sizes 70,80,100,110,140 --no-embed

The photos: LFW deep-funneled, the first photo of each of `--people` people drawn at random (seed
0) from every LFW person, and of each the central S x S of its 250 x 250 frame for every size S.
LFW's face box is (65, 65, 185, 185), 120 px: a central 100 x 100 runs from the brows to the chin,
80 x 80 cuts into the forehead and the chin, as a face dataset's tight crop does. Each crop is
saved as a JPEG in memory (quality 95) and handed to the page's own entry point.

* **before**: the rule before find_faces_padded: a face found by `find_faces` on the photo as it is;
* **after**: `prepare_face(bytes)` returns a face (it looks again with a border round the photo
  when the first search finds nothing).

With the shipped model (unless --no-embed), each accepted crop is also embedded and compared with
the shipped embedding of the same LFW photo: the median squared distance says whether the crop is
still one the model knows as that person (0 = the same; LFW's threshold is about 1). Nothing is
written anywhere: no face image leaves memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from photo_fixtures import lfw_images
from tools.tight_crops import SEED, central_crop, found_as_is, sample_photos


def accepted(data: bytes):
    """The page's rule now: the PreparedFace, or None when prepare_face refuses the photo."""
    from model.faces import FaceInputError, prepare_face

    try:
        return prepare_face(data)
    except FaceInputError:
        return None


def measure(photos: list[Path], side: int, model=None, lfw=None) -> dict:
    before = after = 0
    distances = []
    index = lfw.index() if lfw is not None else {}
    for path in photos:
        data = central_crop(path, side)
        before += found_as_is(data)
        face = accepted(data)
        if face is None:
            continue
        after += 1
        row = index.get(f"{path.parent.name}/{path.name}")
        if model is not None and row is not None:
            vector = model.embed_crops(face.crop[None])[0]
            distances.append(float(np.sum((vector - lfw.embeddings[row]) ** 2)))
    n = len(photos)
    return {"side": side, "photos": n, "before": before / n, "after": after / n,
            "median_d2": float(np.median(distances)) if distances else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="the data folder (default: where model.data looks)")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--sizes", default="80,100", help="crop sides in pixels, comma-separated")
    parser.add_argument("--no-embed", action="store_true", help="skip the embedding distances (no torch)")
    args = parser.parse_args(argv)
    photos = sample_photos(lfw_images(args.data), args.people)
    model = lfw = None
    if not args.no_embed:
        from model.embed import load_lfw_embeddings, load_model

        model = load_model()
        lfw = load_lfw_embeddings(model, args.data)
    print(f"Tight face crops: the central S x S of {len(photos)} LFW photos (one per person, seed {SEED}), "
          "as JPEG uploads")
    print(f"{'crop':>9}  {'before':>7}  {'after':>7}  {'median d2':>9}  {'seconds':>7}")
    for side in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        r = measure(photos, side, model, lfw)
        print(f"{side:>4} x {side:<3}  {r['before']:>7.1%}  {r['after']:>7.1%}  {r['median_d2']:>9.3f}  "
              f"{time.perf_counter() - t0:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
