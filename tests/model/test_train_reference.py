"""Training gives the per-step losses it gave before the loss took triplets instead of a mining name.

REFERENCE holds, for each mining strategy, the (step, loss, share of active triplets) of every
step of the short run `run_config` describes: Olivetti people 1-30, P x K = 6 x 4, 32-pixel crops,
an Inception network of half width, plain SGD at 0.01, two steps, seed 0, one torch thread. The
values were recorded with the code of commit 5f6c29f (model/triplet.py and model/train.py as of
d765204, where `triplet_loss_with_stats(embeddings, labels, margin, mining, generator)` took the
strategy's name), before the refactor into miners that return triplets and a loss that takes them.
On the machine that recorded them, the refactored code gave bitwise the same history as that
commit for every strategy, on this run lengthened to 4 steps and at lr 0.05 to 5 steps.

Regenerate (only after a change meant to alter training), with the data in ../shared/data or
$FACENET_DATA:

    python -m tests.model.test_train_reference

and paste its printout over REFERENCE.

Why so short and so gentle: the untrained network puts all faces close together, so the miners'
choices hinge on tiny differences of distance, and float round-off (another thread count, another
CPU) changes later steps. Measured with one against two threads: at most 2e-6 apart over the two
steps here, but up to 1e-2 at steps 3-4, and from step 2 on with AdaGrad (whose first update is
lr * sign(gradient) per weight).
"""

import contextlib
import io
import os
from pathlib import Path

import pytest
import torch

import model.train as train_module
from model.train import TrainConfig, train

STRATEGIES = ("random", "all", "semi-hard", "hard")

# (step, loss, active triplets / triplets used) per strategy, from commit 5f6c29f (see above)
REFERENCE = {
    "random": [(1, 0.13642817735671997, 0.5694444444444444), (2, 0.10823051631450653, 0.5694444444444444)],
    "all": [(1, 0.21938669681549072, 0.6027777777777777), (2, 0.21090343594551086, 0.6555555555555556)],
    "semi-hard": [(1, 0.1457664668560028, 0.9722222222222222), (2, 0.16314731538295746, 0.9583333333333334)],
    "hard": [(1, 0.468951940536499, 1.0), (2, 0.4641406238079071, 1.0)],
}


def run_config(data: Path, out: Path, mining: str) -> TrainConfig:
    return TrainConfig(dataset="olivetti", data_path=str(data), split="train", people_per_batch=6, images_per_person=4,
                       input_size=32, width=0.5, optimizer="sgd", lr=0.01, steps=2, seed=0, mining=mining,
                       eval_every=0, checkpoint_every=0, quiet=True, threads=1, out=str(out))


def per_step_records(data: Path, out: Path, mining: str) -> list[tuple[int, float, float]]:
    """(step, loss, active fraction) of each step of `run_config`'s run. Call with
    model.train.LOG_EVERY = 1: then every step makes a history record of its own loss."""
    assert train_module.LOG_EVERY == 1
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # train() prints its final metrics
            card = train(run_config(data, out, mining))
    finally:
        torch.set_num_threads(threads)  # the config's one thread is for this run only
    return [(r["step"], r["loss"], r["active_fraction"]) for r in card["history"]]


def test_same_seed_gives_the_reference_losses_for_every_strategy(shared_data, tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "LOG_EVERY", 1)
    for mining in STRATEGIES:
        records = per_step_records(shared_data, tmp_path / mining, mining)
        assert [r[0] for r in records] == [r[0] for r in REFERENCE[mining]], mining
        for (step, loss, active), (_, want_loss, want_active) in zip(records, REFERENCE[mining]):
            assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-6), (mining, step)
            assert active == pytest.approx(want_active, abs=1e-12), (mining, step)


if __name__ == "__main__":
    import tempfile

    train_module.LOG_EVERY = 1
    data = Path(os.environ.get("FACENET_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
    with tempfile.TemporaryDirectory() as out:
        print("REFERENCE = {")
        for name in STRATEGIES:
            print(f"    {name!r}: {per_step_records(data, Path(out) / name, name)},")
        print("}")
