"""From photo bytes to the "landed point": how long `model.faces.prepare_face` plus the embedding
plus the nearest LFW neighbours take, and (with --calibrate) where the crop constants come from.

    python bench/bench_faces.py                    # timings: warm (median of 20) and cold, per photo
    python bench/bench_faces.py --calibrate        # re-measure CROP_SCALE, CROP_DX, CROP_DY on LFW
    python bench/bench_faces.py --calibrate --photos 13233 --detector-only  # detection rate on all LFW

Timings. One "landing" is: `prepare_face(bytes)` (decode, detect, crop), the embedding of the crop
with the shipped model (`load_model().embed_crops`), and the five nearest of the 13,233 LFW
embeddings (`load_lfw_embeddings`). Warm: the median of 20 landings in this process after one
untimed landing. Cold: the first landing in a fresh Python process, which also imports torch and
OpenCV, loads the Haar cascade, the model and the LFW embeddings (reported apart and in total).

The photos are bench/photo_fixtures.py's three, made from one LFW photo (Tony_Blair_0001.jpg) in
memory: the 250 x 250 JPEG, a small face in a 3000 x 4000 phone frame, and a selfie.

Calibration. `model.faces.calibrate` runs the very detection an upload goes through on LFW
photos (250 x 250) and expresses LFW_FACE_BOX (65, 65, 185, 185) in units of the Haar box's width:
CROP_SCALE = box side / Haar width, CROP_DX and CROP_DY = offset of the box centre from the Haar
box centre / Haar width. The constants in model/faces.py are the medians printed here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photo_fixtures import lfw_images, phone_photos

ROOT = Path(__file__).resolve().parents[1]
PHOTO = "Tony_Blair/Tony_Blair_0001.jpg"


def default_data() -> str | None:
    if os.environ.get("FACENET_DATA"):
        return os.environ["FACENET_DATA"]
    shared = ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


# --------------------------------------------------------------------------------------------
# One landing
# --------------------------------------------------------------------------------------------


def land(model, lfw, data: bytes) -> dict:
    from model.faces import prepare_face

    t0 = time.perf_counter()
    face = prepare_face(data)
    t1 = time.perf_counter()
    vector = model.embed_crops(face.crop[None])[0]
    t2 = time.perf_counter()
    d2 = np.einsum("ij,ij->i", lfw.embeddings, lfw.embeddings) - 2 * lfw.embeddings @ vector + vector @ vector
    nearest = np.argpartition(d2, 5)[:5]
    nearest = nearest[np.argsort(d2[nearest])]
    t3 = time.perf_counter()
    return {"prepare": t1 - t0, "embed": t2 - t1, "neighbours": t3 - t2, "total": t3 - t0,
            "nearest": [lfw.names[lfw.labels[i]] for i in nearest], "faces": face.num_faces}


def cold_child(images: str, which: str) -> None:
    """In a fresh process: imports, cascade, model and embeddings loaded, one landing; JSON out.
    The photo is made first, with Pillow and numpy only, so that the clock starts before torch,
    OpenCV and the course's modules are imported."""
    scene = phone_photos(Path(images), PHOTO)[which]
    t0 = time.perf_counter()
    import torch  # noqa: F401  (the import is part of a cold start)

    from model.embed import load_lfw_embeddings, load_model
    from model.faces import prepare_face  # noqa: F401

    t1 = time.perf_counter()
    model = load_model()
    lfw = load_lfw_embeddings(model, str(Path(images).parents[1]))
    t2 = time.perf_counter()
    result = land(model, lfw, scene)  # includes loading the Haar cascades
    t3 = time.perf_counter()
    print(json.dumps({"imports": t1 - t0, "model": t2 - t1, "first": t3 - t2, "total": t3 - t0,
                      "prepare": result["prepare"], "nearest": result["nearest"]}))


def timings(data_dir: str | None, repeats: int) -> None:
    from model.embed import load_lfw_embeddings, load_model

    import torch

    images = lfw_images(data_dir)
    scenes = phone_photos(images, PHOTO)
    model = load_model()
    lfw = load_lfw_embeddings(model, data_dir)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"photo: {PHOTO}; warm = median of {repeats}; cold = first landing in a new process\n")
    rows = []
    for name, data in scenes.items():
        first = land(model, lfw, data)
        runs = [land(model, lfw, data) for _ in range(repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("prepare", "embed", "neighbours", "total")}
        cmd = [sys.executable, __file__, "--cold", name, "--images", str(images)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        cold = json.loads(out.strip().splitlines()[-1])
        top = first["nearest"][0]
        rows.append((name, f"{len(data) / 1e6:.2f} MB", f"{med['prepare'] * 1000:.0f}", f"{med['embed'] * 1000:.1f}",
                     f"{med['neighbours'] * 1000:.1f}", f"{med['total'] * 1000:.0f}",
                     f"{cold['total']:.2f} s ({cold['imports']:.1f} + {cold['model']:.2f} + {cold['first']:.2f})",
                     f"{top}{' (same person)' if top == PHOTO.split('/')[0] else ''}"))
        print(f"  {name}: warm {med['total'] * 1000:.0f} ms, cold {cold['total']:.2f} s", flush=True)
    header = ("photo", "bytes", "prepare_face ms", "embed ms", "5-NN ms", "warm total ms",
              "cold total (imports + model & embeddings + first landing)", "nearest LFW photo is")
    print("\n| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --------------------------------------------------------------------------------------------
# Calibration and detection rate
# --------------------------------------------------------------------------------------------


def sample_photos(images: Path, n: int, seed: int = 0) -> list[Path]:
    files = sorted(images.glob("*/*.jpg"))
    return files if n >= len(files) else random.Random(seed).sample(files, n)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def calibration(data_dir: str | None, n: int, detector_only: bool) -> None:
    """Measure the crop constants (and print how close the resulting crops are to the pipeline's)."""
    from model import faces

    images = lfw_images(data_dir)
    files = sample_photos(images, n)
    print(f"{len(files):,} LFW photos drawn at random (seed 0) from {images}")
    print(f"detector: {faces.CASCADE_FILE}, scaleFactor {faces.SCALE_FACTOR}, minNeighbors {faces.MIN_NEIGHBORS}, "
          f"refined in an LFW-like {faces.REFINE_FRAME} px window\n")
    t0 = time.perf_counter()
    if detector_only:
        any_face = 0
        for f in files:
            any_face += len(faces.find_faces(load_rgb(f))) > 0
        seconds = time.perf_counter() - t0
        print(f"a face found in {any_face:,} of {len(files):,} photos ({any_face / len(files):.1%}); "
              f"{seconds / len(files) * 1000:.0f} ms per photo")
        return
    result = faces.calibrate(load_rgb(f) for f in files)
    seconds = time.perf_counter() - t0
    print(f"the subject's face (nearest the centre) found in {result['found']:,} of {result['photos']:,} photos "
          f"({result['found'] / result['photos']:.1%}); {seconds / result['photos'] * 1000:.0f} ms per photo")
    print(f"median Haar box width on a 250 x 250 LFW photo: {result['haar_width']:.1f} px\n")
    print("| constant | measured median | interquartile range | in model/faces.py |")
    print("|---|---:|---:|---:|")
    for key, const in (("scale", "CROP_SCALE"), ("dx", "CROP_DX"), ("dy", "CROP_DY")):
        lo, hi = result[f"{key}_iqr"]
        print(f"| {const} | {result[key]:.4f} | {lo:.4f} .. {hi:.4f} | {getattr(faces, const)} |")
    gaps(data_dir, images, files[:300])


def gaps(data_dir: str | None, images: Path, files: list[Path]) -> None:
    """How close our crop is to the training pipeline's crop, in the model's own terms: the squared
    distance between the embedding of prepare_face's crop of an LFW photo (its JPEG bytes) and the
    shipped embedding of the same photo (crop_and_resize). For scale: two photos of one person
    are typically 0.6-1.0 apart, two people 1.5 and more."""
    from model.embed import load_lfw_embeddings, load_model
    from model.faces import FaceInputError, prepare_face

    model = load_model()
    lfw = load_lfw_embeddings(model, data_dir)
    row = lfw.index()
    found = []
    for f in files:
        try:
            crop = prepare_face(f.read_bytes()).crop
        except FaceInputError:
            continue
        vector = model.embed_crops(crop[None])[0]
        found.append(float(((vector - lfw.embeddings[row[f.relative_to(images).as_posix()]]) ** 2).sum()))
    g = np.array(found)
    print(f"\nour crop vs the pipeline's crop, squared embedding distance over {len(g)} of {len(files)} photos "
          f"(the largest face found): median {np.median(g):.3f}, mean {g.mean():.3f}, 90th percentile "
          f"{np.percentile(g, 90):.3f}, 99th {np.percentile(g, 99):.3f}; under 0.3: {(g < 0.3).mean():.1%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=default_data(),
                        help="data folder (default: $FACENET_DATA, else ../shared/data)")
    parser.add_argument("--repeats", type=int, default=20, help="warm landings per photo (median reported)")
    parser.add_argument("--calibrate", action="store_true", help="measure the crop constants on LFW photos")
    parser.add_argument("--photos", type=int, default=1000, help="LFW photos for --calibrate (13233 = all)")
    parser.add_argument("--detector-only", action="store_true", help="with --calibrate: only count photos with a face")
    parser.add_argument("--cold", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--images", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold:
        return cold_child(args.images, args.cold)
    if args.calibrate:
        return calibration(args.data, args.photos, args.detector_only)
    timings(args.data, args.repeats)


if __name__ == "__main__":
    main()
