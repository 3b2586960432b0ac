"""Training on small real sets: it learns, it is reproducible, it resumes, it runs under torchrun."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.embed import load_checkpoint
from model.train import TrainConfig, augment, parse_args, train

REPO = Path(__file__).resolve().parents[2]


def olivetti_config(shared_data, out, **changes) -> TrainConfig:
    """Olivetti people 1-30 for training; the held-out metrics use people 31-40, never trained on."""
    base = dict(dataset="olivetti", data_path=str(shared_data), split="train", people_per_batch=15, images_per_person=5,
                steps=60, eval_every=60, checkpoint_every=20, quiet=True, out=str(out), threads=2)
    return TrainConfig(**(base | changes))


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_short_training_lowers_the_loss_and_verifies_unseen_people_better(shared_data, tmp_path):
    card = train(olivetti_config(shared_data, tmp_path))
    history = card["history"]
    before = history[0]  # the untrained network, evaluated at step 0
    losses = [r["loss"] for r in history if "loss" in r]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])
    after = card["metrics"]
    assert after["heldout_pairs"] == 2 * 450  # all 10 x 45 same pairs of people 31-40, as many different
    assert after["heldout_best_threshold_accuracy"] > before["heldout_best_threshold_accuracy"] + 0.03
    assert all(0 <= r["active_fraction"] <= 1 for r in history if "active_fraction" in r)
    # the model card and the checkpoint
    on_disk = json.loads((tmp_path / "card.json").read_text())
    for key in ("device", "torch", "dataset", "split", "hyperparameters", "wall_time_s", "images_per_s", "metrics"):
        assert key in on_disk
    assert on_disk["device"] == "cpu" and on_disk["hyperparameters"]["mining"] == "semi-hard"
    assert on_disk["hyperparameters"]["optimizer"] == "adagrad" and on_disk["hyperparameters"]["lr"] == 0.05
    net, card_in_checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert card_in_checkpoint["metrics"] == on_disk["metrics"]


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(shared_data, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train(olivetti_config(shared_data, tmp_path / name, steps=4, eval_every=0, seed=seed))
    a, b, c = (weights(tmp_path / n / "model.pt") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_resume_continues_exactly(shared_data, tmp_path):
    for mining in ("semi-hard", "random"):  # random mining draws from the step's generator too
        whole, split = tmp_path / f"whole-{mining}", tmp_path / f"split-{mining}"
        train(olivetti_config(shared_data, whole, steps=6, eval_every=0, mining=mining))
        train(olivetti_config(shared_data, split, steps=3, eval_every=0, mining=mining))  # "interrupted" at 3
        card = train(olivetti_config(shared_data, split, steps=6, eval_every=0, mining=mining, resume=True))
        a, b = weights(whole / "model.pt"), weights(split / "model.pt")
        assert all(torch.equal(a[k], b[k]) for k in a), mining
        assert card["hyperparameters"]["steps"] == 6


@pytest.mark.slow
def test_embedding_snapshots(shared_data, tmp_path):
    train(olivetti_config(shared_data, tmp_path, steps=6, eval_every=0, snapshots=3))
    snaps = np.load(tmp_path / "snapshots.npz")
    assert snaps["steps"].tolist() == [0, 3, 6]
    assert snaps["embeddings"].shape == (3, 400, 128) and snaps["embeddings"].dtype == np.float16
    norms = np.linalg.norm(snaps["embeddings"].astype(np.float32), axis=2)
    assert np.allclose(norms, 1.0, atol=2e-3)
    assert not np.array_equal(snaps["embeddings"][0], snaps["embeddings"][2])  # the map moves as it trains
    assert len(snaps["names"]) == 40


def test_augmentation_keeps_shape_and_varies_by_generator():
    batch = torch.randint(0, 256, (6, 64, 64, 3), dtype=torch.uint8)
    a = augment(batch, torch.Generator().manual_seed(0))
    b = augment(batch, torch.Generator().manual_seed(0))
    c = augment(batch, torch.Generator().manual_seed(1))
    assert a.shape == batch.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_command_line_options_cover_the_config():
    cfg = parse_args(["--mining", "hard", "--optimizer", "sgd", "--margin", "0.5", "--no-augment", "--people-per-batch", "8"])
    assert (cfg.mining, cfg.optimizer, cfg.margin, cfg.augment, cfg.people_per_batch) == ("hard", "sgd", 0.5, False, 8)
    with pytest.raises(SystemExit):
        parse_args(["--mining", "hardest"])


@pytest.mark.slow
def test_torchrun_with_two_processes_on_gloo(shared_data, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "model.train",
           "--dataset", "olivetti", "--data-path", str(shared_data), "--split", "train", "--device", "cpu",
           "--people-per-batch", "10", "--images-per-person", "4", "--steps", "4", "--eval-every", "0",
           "--threads", "1", "--quiet", "--out", str(tmp_path)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["world_size"] == 2
    assert card["hyperparameters"]["batch_size"] == 40  # each process mines inside its own P x K batch
    load_checkpoint(tmp_path / "model.pt")
