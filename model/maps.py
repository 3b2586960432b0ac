"""Maps of the embedding space: where the explorer set's photos lie, in 2-D and 3-D, at each
snapshot step of the comparison runs and under the shipped model.

    python -m model.maps      # after `python -m model.sweep`: project every run (needs umap-learn)

The explorer set is every LFW person with at least 20 photos: 62 people, 3,023 photos, some of
them in the model's training split (peopleDevTrain) and some never seen in training.

Every run starts from the same untrained network, so step 0 is one layout shared by all runs.
Each later snapshot (steps 50, 100, ..., 400) is a UMAP fit started from the layout of the one
before, which keeps a photo near where it just was: the map glides as training goes on, and
switching alpha or the mining starts from the same picture. (AlignedUMAP does the same job with
one joint fit, about three times slower on a 2-core CPU.) The shipped model's map is one UMAP
fit started from the reference run's last layout, so it comes out in a similar orientation.

The result is one file, `model/weights/explorer.npz`: the projections plus the 128-d embeddings
themselves (stored as int8 with a scale per photo, which moves a squared distance by 0.001 on average and
under 0.01 at most), so neighbours, distances and
clusters can be computed at every step without the photos and without umap-learn, which the app
never imports.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parent / "weights"
EXPLORER_FILE = WEIGHTS / "explorer.npz"
EXPLORER_FORMAT = "facenet-course-explorer/2"
EXPLORER_MIN_IMAGES = 20  # the explorer set: LFW people with at least this many photos
SHIPPED = "shipped"  # the run name of the shipped model's map
REFERENCE_RUN = "alpha-0.2"  # FaceNet's recipe: projected first
INT8_SCALE = 127.0


def quantize(embeddings: np.ndarray) -> np.ndarray:
    """Unit-length float embeddings (..., D) -> int8 codes (..., D + 4): each row scaled so that its
    largest coordinate is +-127, followed by that scale as the 4 bytes of a float32."""
    x = np.asarray(embeddings, np.float32)
    scale = np.maximum(np.abs(x).max(axis=-1, keepdims=True), 1e-12).astype(np.float32)
    codes = np.clip(np.round(x / scale * INT8_SCALE), -127, 127).astype(np.int8)
    return np.concatenate([codes, scale.view(np.int8)], axis=-1)


def dequantize(codes: np.ndarray) -> np.ndarray:
    """int8 codes from `quantize` -> float32 embeddings of unit length again."""
    scale = np.ascontiguousarray(codes[..., -4:]).view(np.float32)
    x = codes[..., :-4].astype(np.float32) * (scale / INT8_SCALE)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class RunMap:
    """One model's map over training: frame t shows the explorer set at training step `steps[t]`."""

    name: str
    steps: np.ndarray  # (T,) int
    xy: np.ndarray  # (T, N, 2) float32
    xyz: np.ndarray  # (T, N, 3) float32
    codes: np.ndarray  # (T, N, D + 4) int8, see `quantize`

    def frame(self, step: int) -> int:
        """The index of the snapshot at `step` (the nearest one if there is none at exactly `step`)."""
        return int(np.argmin(np.abs(self.steps - step)))

    def embeddings(self, step: int) -> np.ndarray:
        """(N, D) float32 unit embeddings at `step`."""
        return dequantize(self.codes[self.frame(step)])

    def points(self, step: int, dims: int = 2) -> np.ndarray:
        """(N, dims) map coordinates at `step`."""
        return (self.xy if dims == 2 else self.xyz)[self.frame(step)]


@dataclass
class ExplorerMaps:
    """The explorer set (who is in which photo) and the map of every run over it."""

    labels: np.ndarray  # (N,) int64 index into names
    names: list[str]
    files: list[str]  # LFW paths, e.g. "Ariel_Sharon/Ariel_Sharon_0001.jpg"
    trained_on: np.ndarray  # (P,) bool: person p was in the training split
    runs: dict[str, RunMap]
    shipped_sha256: str  # the checkpoint the SHIPPED map belongs to

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def seen(self) -> np.ndarray:
        """(N,) bool: the photo's person was in the training split."""
        return self.trained_on[self.labels]

    def save(self, path: str | Path = EXPLORER_FILE) -> None:
        arrays = {"format": EXPLORER_FORMAT, "labels": self.labels, "names": np.array(self.names),
                  "files": np.array(self.files), "trained_on": self.trained_on,
                  "runs": np.array(list(self.runs)), "shipped_sha256": self.shipped_sha256}
        for name, run in self.runs.items():
            arrays |= {f"{name}/steps": run.steps, f"{name}/xy": run.xy.astype(np.float16),
                       f"{name}/xyz": run.xyz.astype(np.float16), f"{name}/codes": run.codes}
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def read(cls, path: str | Path = EXPLORER_FILE) -> "ExplorerMaps":
        """Read a file written by `save`; ValueError (with the file's name) if it is not one."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != EXPLORER_FORMAT:
                    raise ValueError(f"format {z['format']}")
                runs = {str(n): RunMap(str(n), z[f"{n}/steps"].astype(np.int64), z[f"{n}/xy"].astype(np.float32),
                                       z[f"{n}/xyz"].astype(np.float32), z[f"{n}/codes"]) for n in z["runs"]}
                return cls(labels=z["labels"].astype(np.int64), names=[str(n) for n in z["names"]],
                           files=[str(f) for f in z["files"]], trained_on=z["trained_on"].astype(bool),
                           runs=runs, shipped_sha256=str(z["shipped_sha256"]))
        except Exception as err:  # numpy's own text can give bad advice (allow_pickle): not shown
            raise ValueError(f"{Path(path).name} is not a readable explorer file: it is damaged or from another "
                             "version of the course. Restore it from git, or rebuild it with "
                             "`python -m model.maps`.") from err


def load_explorer_maps(path: str | Path = EXPLORER_FILE) -> ExplorerMaps:
    """The shipped maps (FileNotFoundError if the file is missing, ValueError if unreadable)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{Path(path).name} is missing: rebuild it with `python -m model.maps`.")
    return ExplorerMaps.read(path)


# --------------------------------------------------------------------------------------------
# Placing a new face on a map (no UMAP fit: the app never imports umap-learn)
# --------------------------------------------------------------------------------------------


def place_on_map(new: np.ndarray, embeddings: np.ndarray, points: np.ndarray, k: int = 10) -> np.ndarray:
    """Map coordinates for new embeddings (M, D): the average of the positions of their k nearest
    explorer photos, weighted by closeness. UMAP's own `transform` starts new points the same way;
    it then nudges them, which needs the fitted UMAP model and umap-learn."""
    new = np.atleast_2d(np.asarray(new, np.float32))
    d2 = np.maximum(2.0 - 2.0 * new @ embeddings.T, 0.0)  # squared distances of unit vectors
    k = min(k, embeddings.shape[0])
    nearest = np.argsort(d2, axis=1)[:, :k]
    nd2 = np.take_along_axis(d2, nearest, axis=1)
    # closeness relative to the nearest: the nearest photo weighs 1, one twice as far about e^-1
    weights = np.exp(-(nd2 - nd2[:, :1]) / np.maximum(nd2[:, :1], 1e-3))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("mk,mkc->mc", weights, points[nearest])


# --------------------------------------------------------------------------------------------
# Building the maps (python -m model.maps): the only place umap-learn is used
# --------------------------------------------------------------------------------------------


def umap_projection(embeddings: np.ndarray, dims: int, start: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """(N, dims) UMAP layout of unit embeddings; `start` (N, dims), when given, is where the points
    begin (the previous snapshot's layout), which keeps consecutive frames in register."""
    import umap

    init = "spectral" if start is None else start  # umap-learn rescales an initial layout to its own range
    mapper = umap.UMAP(n_components=dims, n_neighbors=15, min_dist=0.1, init=init, random_state=seed,
                       n_epochs=200 if start is None else 120)
    return mapper.fit_transform(embeddings).astype(np.float32)


def chained_projection(snapshots: list[np.ndarray], dims: int, first: np.ndarray | None = None) -> np.ndarray:
    """(T, N, dims): one UMAP fit per snapshot, each started from the layout of the one before
    (the first from `first` if given, e.g. the shared untrained network's layout)."""
    frames, previous = [], first
    for snap in snapshots:
        previous = umap_projection(snap, dims, start=previous)
        frames.append(previous)
    return np.stack(frames)


def build_explorer_maps(sweep_folder: Path, plan: str, runs: list[str]) -> ExplorerMaps:
    """Project the snapshots of `runs` (trained by `python -m model.sweep` into sweep_folder/plan)
    and the shipped model's embeddings of the same photos (the explorer set, taken from the
    shipped LFW embeddings, so no photos are needed)."""
    from model.embed import load_lfw_embeddings, load_model
    from model.shipped import checkpoint_digest

    model = load_model()
    shipped = load_lfw_embeddings(model)
    counts = np.bincount(shipped.labels)
    rows = np.flatnonzero(counts[shipped.labels] >= EXPLORER_MIN_IMAGES)
    kept_people, labels = np.unique(shipped.labels[rows], return_inverse=True)
    names = [shipped.names[p] for p in kept_people]
    files = [shipped.files[i] for i in rows]
    trained_on = shipped.trained_on[kept_people]

    loaded = {}
    for name in runs:
        with np.load(sweep_folder / plan / name / "snapshots.npz") as z:
            if [str(f) for f in z["files"]] != files or int(z["steps"][0]) != 0:
                raise SystemExit(f"{name}: its snapshots are not of the explorer set, or do not start at step 0")
            loaded[name] = (z["steps"].astype(np.int64), [s.astype(np.float32) for s in z["embeddings"]])
    order = sorted(loaded, key=lambda n: n != REFERENCE_RUN)  # the reference first
    for name in order[1:]:
        if not np.array_equal(loaded[name][1][0], loaded[order[0]][1][0]):
            raise SystemExit(f"{name} does not start from the same untrained network as {order[0]}")

    # Every run starts from the same untrained network (same seed), so step 0 is one shared layout
    # and each run's later frames grow out of it.
    per_run = {}
    if order:
        start = {dims: umap_projection(loaded[order[0]][1][0], dims) for dims in (2, 3)}
    for name in order:
        steps, snaps = loaded[name]
        print(f"projecting {name} ({len(snaps)} snapshots of {len(files):,} photos)", flush=True)
        xy, xyz = (np.concatenate([start[d][None], chained_projection(snaps[1:], d, first=start[d])]) for d in (2, 3))
        per_run[name] = RunMap(name, steps, xy, xyz, np.stack([quantize(s) for s in snaps]))

    print("projecting the shipped model", flush=True)
    embeddings = shipped.embeddings[rows]
    reference = per_run[order[0]] if order else None  # start from its last layout: a similar orientation
    per_run[SHIPPED] = RunMap(SHIPPED, np.array([int(model.card["hyperparameters"]["steps"])]),
                              umap_projection(embeddings, 2, start=reference.xy[-1] if reference else None)[None],
                              umap_projection(embeddings, 3, start=reference.xyz[-1] if reference else None)[None],
                              quantize(embeddings)[None])
    return ExplorerMaps(labels.astype(np.int64), names, files, trained_on, per_run, checkpoint_digest(model.path))


def main(argv: list[str] | None = None) -> int:
    from model.sweep import PLANS

    parser = argparse.ArgumentParser(description="Project the comparison runs' snapshots and the shipped model "
                                                 "into the explorer's maps (model/weights/explorer.npz).")
    parser.add_argument("--plan", default="lessons-cpu", choices=sorted(PLANS))
    parser.add_argument("--sweep", default="runs/sweep", help="where `python -m model.sweep` trained the runs")
    parser.add_argument("--out", default=str(EXPLORER_FILE))
    args = parser.parse_args(argv)
    folder = Path(args.sweep)
    runs = [n for n in PLANS[args.plan] if (folder / args.plan / n / "snapshots.npz").is_file()]
    if not runs:
        print(f"no snapshots under {folder / args.plan} (`python -m model.sweep --plan {args.plan}` makes them): "
              "only the shipped model's map is built", file=sys.stderr)
    maps = build_explorer_maps(folder, args.plan, runs)
    maps.save(args.out)
    print(f"{len(maps.runs)} maps of {len(maps):,} photos -> {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
