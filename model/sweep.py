"""Comparison runs: the same training recipe with one thing changed (the margin, the mining, the
optimiser), trained by `model.train` and shipped as their model cards for the lessons to replay.

    python -m model.sweep --plan lessons-cpu          # train the runs that are missing, then ship
    python -m model.sweep --plan lessons-cpu --list   # what the plan holds

Each run's card (hyper-parameters, final metrics and the training curves in `history`) is copied
to `model/weights/runs/<plan>/<run>.json`; weights stay in `runs/` (not shipped). Lessons read the
shipped cards with `load_runs`, and say plainly which comparisons have no run yet.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

SHIPPED_RUNS = Path(__file__).resolve().parent / "weights" / "runs"

# Everything a plan's runs share; each run changes one or two fields of it.
LESSONS_CPU_BASE = dict(dataset="lfw", split="devtrain", arch="inception", margin=0.2, mining="semi-hard",
                        optimizer="adagrad", lr=0.05, people_per_batch=32, images_per_person=4, steps=400,
                        eval_every=50, checkpoint_every=0, view2=False, pca_baseline=False, seed=0, threads=1, quiet=True,
                        snapshots=9)  # the explorer set's embeddings at steps 0, 50, ..., 400

PLANS: dict[str, dict[str, dict]] = {
    # Small enough for a 2-core CPU (about 4 min a run); the same recipe, one change per run.
    "lessons-cpu": {
        "alpha-0.05": dict(margin=0.05),
        "alpha-0.1": dict(margin=0.1),
        "alpha-0.2": dict(),  # the reference: FaceNet's recipe
        "alpha-0.5": dict(margin=0.5),
        "alpha-1.0": dict(margin=1.0),
        "sgd": dict(optimizer="sgd"),
        "hardest-negatives": dict(mining="hard"),
        "batch-all": dict(mining="all"),
        "random-triplets": dict(mining="random"),
    },
}


@dataclass(frozen=True)
class Run:
    """A finished training run as its model card describes it."""

    name: str
    card: dict

    @property
    def hyperparameters(self) -> dict:
        return self.card.get("hyperparameters") or {}

    @property
    def margin(self) -> float | None:
        return self.hyperparameters.get("margin")

    @property
    def mining(self) -> str | None:
        return self.hyperparameters.get("mining")

    @property
    def optimizer(self) -> str | None:
        return self.hyperparameters.get("optimizer")

    @property
    def metrics(self) -> dict:
        return self.card.get("metrics") or {}

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one quantity recorded during training ("loss", "active_fraction",
        "view1_devtest_accuracy", ...), skipping the records that do not have it."""
        points = [(r["step"], r[key]) for r in self.card.get("history") or [] if r.get(key) is not None]
        return [s for s, _ in points], [v for _, v in points]


def load_runs(plan: str = "lessons-cpu", folder: Path | None = None) -> dict[str, Run]:
    """The shipped runs of a plan, by name (only those that exist; unreadable files are skipped).
    `folder` defaults to SHIPPED_RUNS, read at call time."""
    runs = {}
    for path in sorted(_plan_folder(plan, folder).glob("*.json")):
        try:
            runs[path.stem] = Run(path.stem, json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return runs


def runs_stamp(plan: str = "lessons-cpu", folder: Path | None = None) -> tuple:
    """(file name, modification time, size) of each shipped card of a plan: a cache key for pages
    that show the runs, so a run shipped while the app is running is read on the next rerun."""
    stamps = []
    for path in sorted(_plan_folder(plan, folder).glob("*.json")):
        try:
            info = path.stat()
        except OSError:
            continue
        stamps.append((path.name, info.st_mtime_ns, info.st_size))
    return tuple(stamps)


def _plan_folder(plan: str, folder: Path | None) -> Path:
    return Path(SHIPPED_RUNS if folder is None else folder) / plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", default="lessons-cpu", choices=sorted(PLANS))
    parser.add_argument("--only", nargs="*", help="run only these names of the plan")
    parser.add_argument("--out", default="runs/sweep", help="where the runs train (weights stay here)")
    parser.add_argument("--data-path", default="")
    parser.add_argument("--list", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)

    from model.train import TrainConfig, train

    plan = PLANS[args.plan]
    shipped = SHIPPED_RUNS / args.plan
    for name, change in plan.items():
        if args.only and name not in args.only:
            continue
        cfg = replace(TrainConfig(), **{**LESSONS_CPU_BASE, **change}, data_path=args.data_path,
                      out=str(Path(args.out) / args.plan / name))
        if args.list:
            print(name, change or "(reference)")
            continue
        card_file = Path(cfg.out) / "card.json"
        if not card_file.is_file():
            print(f"training {name}: {change or 'reference'}", flush=True)
            train(cfg)
        shipped.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(card_file, shipped / f"{name}.json")
        print(f"{name}: {json.loads(card_file.read_text())['metrics'].get('view1_devtest_accuracy')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
