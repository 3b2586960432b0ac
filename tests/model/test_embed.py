"""The shipped model: it loads, embeds photos as they come from disk, and verifies unseen people."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from model.embed import CheckpointError, load_model
from model.evaluate import evaluate_lfw, main as evaluate_main, pca_baseline_lfw
from model.shipped import DEFAULT_CHECKPOINT

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


@pytest.mark.slow
def test_card_metrics_are_what_the_model_does(model, measured):
    card = model.card["metrics"]
    for key, value in measured.items():
        assert card[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.slow
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


@pytest.mark.slow
def test_evaluate_command_line(shared_data, capsys, tmp_path):
    assert evaluate_main([str(DEFAULT_CHECKPOINT), "--data", str(shared_data), "--json"]) == 0
    import json

    printed = json.loads(capsys.readouterr().out)["model"]
    assert printed["view1_devtest_pairs"] == 1000 and 0.5 < printed["view2_accuracy_mean"] <= 1
    assert evaluate_main([str(tmp_path / "missing.pt")]) == 2
    assert "No checkpoint" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The LFW embeddings shipped beside the weights
# --------------------------------------------------------------------------------------------


def test_shipped_lfw_embeddings_are_this_model_on_these_photos(model, lfw, lfw_root):
    from model.data import lfw_pairs, lfw_people
    from model.embed import load_lfw_embeddings
    from model.shipped import checkpoint_digest, lfw_embeddings_file

    shipped = load_lfw_embeddings(model)
    assert lfw_embeddings_file(DEFAULT_CHECKPOINT).is_file()  # read from the file, not recomputed
    assert shipped.checkpoint_sha256 == checkpoint_digest(DEFAULT_CHECKPOINT)
    assert shipped.files == lfw.files and shipped.names == lfw.names
    assert np.array_equal(shipped.labels, lfw.labels)
    # a sample of rows, embedded now from the photos' crops
    rows = np.random.default_rng(0).choice(len(lfw), 200, replace=False)
    assert np.allclose(shipped.embeddings[rows], model.embed_crops(lfw.images[rows]), atol=1e-5)
    trained = set(lfw_people(lfw_root, "devtrain"))
    assert [shipped.names[p] in trained for p in range(len(shipped.names))] == shipped.trained_on.tolist()
    assert shipped.trained_on.sum() == 4038
    pairs = lfw_pairs(lfw_root, "devtest")
    assert [shipped.files[i] for i in shipped.devtest_left] == pairs.left
    assert [shipped.files[i] for i in shipped.devtest_right] == pairs.right
    assert np.array_equal(shipped.devtest_same, pairs.same)


def test_shipped_lfw_embeddings_reproduce_the_card(model):
    from model.embed import load_lfw_embeddings
    from model.evaluate import pair_distances, ten_fold_accuracy, val_at_far

    e = load_lfw_embeddings(model)
    d = pair_distances(e.embeddings, e.devtest_left, e.devtest_right)
    card = model.card["metrics"]
    assert ten_fold_accuracy(d, e.devtest_same, np.arange(len(d)) % 10).mean == pytest.approx(card["view1_devtest_accuracy"])
    assert val_at_far(d, e.devtest_same, 1e-3)[0] == pytest.approx(card["view1_devtest_val_at_far_1e-3"])


@pytest.mark.slow
def test_lfw_embeddings_of_another_checkpoint_are_computed_and_cached(tmp_path, monkeypatch, lfw, lfw_root):
    """A checkpoint without a matching embeddings file gets them computed from the photos, once."""
    import model.embed as embed
    from model.net import NetConfig, build_net

    monkeypatch.setenv("FACENET_CACHE", str(tmp_path / "cache"))
    ckpt = tmp_path / "tiny.pt"
    embed.save_checkpoint(ckpt, build_net(NetConfig(embedding_dim=16, width=0.25)), {})
    tiny = load_model(ckpt)
    # a stale file beside it (another checkpoint's) must not be used
    stale = embed.load_lfw_embeddings(load_model())
    stale.save(embed.lfw_embeddings_file(ckpt))
    computed = embed.load_lfw_embeddings(tiny, lfw_root)
    assert computed.embeddings.shape == (13_233, 16) and computed.checkpoint_sha256 == embed.checkpoint_digest(ckpt)
    assert np.allclose(computed.embeddings[:50], tiny.embed_crops(lfw.images[:50]), atol=1e-5)
    assert list((tmp_path / "cache").glob("lfw-embeddings-*.npz"))  # cached for the next start

    def must_not_compute(*args, **kwargs):
        raise AssertionError("recomputed although a matching copy is cached")

    monkeypatch.setattr(embed, "compute_lfw_embeddings", must_not_compute)
    again = embed.load_lfw_embeddings(tiny, lfw_root)
    assert np.array_equal(again.embeddings, computed.embeddings)


def test_a_broken_embeddings_file_is_a_checkpoint_error(tmp_path):
    from model.embed import LFWEmbeddings

    bad = tmp_path / "bad.lfw.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="bad.lfw.npz"):
        LFWEmbeddings.read(bad)


@pytest.mark.parametrize("reader", ["explorer maps", "LFW embeddings"])
@pytest.mark.parametrize("content", ["random bytes", "pickled objects"])
def test_a_damaged_shipped_file_gets_advice_that_works_not_numpys(tmp_path, reader, content):
    """numpy's "load it unsafely using allow_pickle=True" must never reach a user: it is bad advice
    for a file the course shipped, and would run code from whoever wrote the file."""
    import numpy as np

    from model.embed import CheckpointError, LFWEmbeddings
    from model.maps import ExplorerMaps

    path = tmp_path / "damaged.npz"
    if content == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        np.savez(path, format=np.array([{"a": 1}], dtype=object))  # an object array needs pickle
    read, error = ((ExplorerMaps.read, ValueError) if reader == "explorer maps"
                   else (LFWEmbeddings.read, CheckpointError))
    with pytest.raises(error) as caught:
        read(path)
    message = str(caught.value)
    assert "damaged.npz is not a readable" in message and "Restore it from git" in message
    assert "pickle" not in message.lower() and "Traceback" not in message
