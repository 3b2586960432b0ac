"""Benchmark of loading LFW: decoding every JPEG (cold) against reading the cache (warm).

`model.data.load_lfw` decodes the 13,233 deep-funneled JPEGs once, crops and resizes them to
64 x 64, and caches the array under $FACENET_CACHE. This script points FACENET_CACHE at a fresh
temporary folder and calls `load_lfw` twice, each time in a new Python process (so nothing is
kept in memory between the two): the first call decodes everything, the second reads the cache.
It prints the images, seconds, images/s of each, and the size of the cache on disk.

    python bench/bench_data.py                  # data from $FACENET_DATA, else ../shared/data
    python bench/bench_data.py --data /path/to/data
    python bench/bench_data.py --quick          # the first 100 people only, through symlinks

Both times include listing and stat-ing every image file (the cache key needs it), not the
import of scikit-learn that `find_lfw` triggers. The OS file cache is not dropped: the cold run
measures decoding, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from model.data import CACHE_ENV, DATA_ENV, find_lfw, lfw_image_dir, load_lfw

ROOT = Path(__file__).resolve().parents[1]


def print_machine() -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def absolute(path: str | None) -> str | None:
    """The cache key of model.data includes the image paths as spelled: spell them one way."""
    return str(Path(path).expanduser().resolve()) if path else None


def default_data() -> str | None:
    if os.environ.get(DATA_ENV):
        return absolute(os.environ[DATA_ENV])
    shared = ROOT.parent / "shared" / "data"
    return absolute(shared) if shared.is_dir() else None


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def load_once(data: str | None) -> None:
    """Child process: time one `load_lfw` call and print the result as JSON."""
    find_lfw(data)  # imports scikit-learn (one of the places searched) before the clock starts
    t0 = time.perf_counter()
    faces = load_lfw(data)
    seconds = time.perf_counter() - t0
    print(json.dumps({"images": len(faces), "people": faces.num_people, "seconds": seconds}))


def load_in_child(data: str | None, cache: Path) -> dict:
    env = dict(os.environ, **{CACHE_ENV: str(cache)})
    cmd = [sys.executable, __file__, "--load-once"] + (["--data", data] if data else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def first_people(data: str | None, people: int, into: Path) -> str:
    """A small LFW look-alike: links to the first `people` person folders, in `into`."""
    images = lfw_image_dir(find_lfw(data))
    (into / images.name).mkdir(parents=True)
    for person in sorted(p for p in images.iterdir() if p.is_dir())[:people]:
        (into / images.name / person.name).symlink_to(person, target_is_directory=True)
    return str(into)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=absolute, default=default_data(), help=f"data folder (default: ${DATA_ENV}, else ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="load only the first 100 people")
    parser.add_argument("--load-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_once:
        return load_once(args.data)

    print_machine()
    try:
        find_lfw(args.data)
    except FileNotFoundError as err:  # the message says where it looked and how to get LFW
        raise SystemExit(str(err))
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        data, cache = args.data, Path(tmp) / "cache"
        if args.quick:
            data = first_people(args.data, 100, Path(tmp) / "lfw")
        print(f"LFW: {lfw_image_dir(find_lfw(data))}" + (" (first 100 people, --quick)" if args.quick else ""))
        print(f"cache: {cache} (fresh, empty); each load in a new process\n")
        rows = []
        for run in ("cold (decode JPEGs)", "cached"):
            r = load_in_child(data, cache)
            rows.append((run, f"{r['images']:,}", f"{r['seconds']:.2f}", f"{r['images'] / r['seconds']:,.0f}"))
            print(f"  {run}: {r['images']:,} images of {r['people']:,} people in {r['seconds']:.2f} s", flush=True)
        size = folder_mb(cache)
    header = ("load", "images", "seconds", "images/s")
    print("\n| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\ncache on disk: {size:,.1f} MB (uint8 crops of 64 x 64 x 3, labels, file names)")


if __name__ == "__main__":
    main()
