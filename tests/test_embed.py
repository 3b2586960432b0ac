"""The shipped model: it loads, embeds photos as they come from disk, and verifies unseen people."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from model.embed import DEFAULT_CHECKPOINT, CheckpointError, load_model
from model.evaluate import evaluate_lfw, main as evaluate_main, pca_baseline_lfw

CARD_KEYS = ("device", "torch", "dataset", "split", "hyperparameters", "wall_time_s", "images_per_s", "metrics")


@pytest.fixture(scope="module")
def model():
    return load_model()


def photo(lfw_root, rel):
    with Image.open(lfw_root / "lfw-deepfunneled" / rel) as im:
        im.load()
    return im


def test_default_checkpoint_is_a_plain_weights_file():
    blob = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    assert set(blob) >= {"format", "config", "state_dict", "card"}


def test_model_card(model):
    for key in CARD_KEYS:
        assert key in model.card, key
    assert model.card["split"] == "devtrain"  # trained on peopleDevTrain only
    assert model.card["hyperparameters"]["margin"] == 0.2


def test_embed_photos_from_disk(model, lfw, lfw_root):
    files = ["Zico/Zico_0001.jpg", "Zico/Zico_0002.jpg", "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"]
    emb = model.embed([photo(lfw_root, f) for f in files])
    assert emb.shape == (3, model.embedding_dim) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # the same preprocessing as training: photos give the embeddings of the cached crops
    rows = [lfw.files.index(f) for f in files]
    assert np.allclose(emb, model.embed_crops(lfw.images[rows]), atol=1e-6)
    assert model.embed([]).shape == (0, model.embedding_dim)


@pytest.fixture(scope="module")
def measured(model, lfw, lfw_root):
    """The shipped model's View 1 metrics, measured now."""
    return evaluate_lfw(model.embed_crops, lfw, lfw_root, view2=False)


def test_card_metrics_are_what_the_model_does(model, measured):
    card = model.card["metrics"]
    for key, value in measured.items():
        assert card[key] == pytest.approx(value, abs=1e-6), key


def test_verifies_people_it_never_saw_better_than_eigenfaces(measured, lfw, lfw_root):
    ours = measured
    pca = pca_baseline_lfw(lfw, lfw_root, view2=False)
    assert ours["view1_devtest_accuracy"] > 0.65
    assert ours["view1_devtest_accuracy"] > pca["view1_devtest_accuracy"] + 0.03
    assert ours["view1_devtest_val_at_far_1e-3"] >= pca["view1_devtest_val_at_far_1e-3"]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the hostile pickle below is made on purpose
def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"\x00\x01 definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_model(tmp_path / "garbage.pt")
    truncated = DEFAULT_CHECKPOINT.read_bytes()[:5000]
    (tmp_path / "truncated.pt").write_bytes(truncated)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(tmp_path / "truncated.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint of this course"):
        load_model(tmp_path / "foreign.pt")
    # a pickle that would run code when loaded is refused, not executed
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Exploit(tmp_path / "pwned")))
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


class Exploit:
    """Unpickling this runs a shell command (creating `target`), unless the loader refuses it."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


def test_evaluate_command_line(shared_data, capsys, tmp_path):
    assert evaluate_main([str(DEFAULT_CHECKPOINT), "--data", str(shared_data), "--json"]) == 0
    import json

    printed = json.loads(capsys.readouterr().out)["model"]
    assert printed["view1_devtest_pairs"] == 1000 and 0.5 < printed["view2_accuracy_mean"] <= 1
    assert evaluate_main([str(tmp_path / "missing.pt")]) == 2
    assert "No checkpoint" in capsys.readouterr().err
