"""Inference: load a checkpoint and turn face photos into embeddings.

    from model.embed import load_model
    model = load_model()                 # the shipped default checkpoint
    vectors = model.embed(pil_images)    # (N, D) float32, each row of unit length
    model.card["metrics"]                # what the model card says about it
    lfw = load_lfw_embeddings(model)     # every LFW photo's embedding, shipped beside the weights

A checkpoint is a plain dict (loadable with ``torch.load(path, weights_only=True)``):
``{"format": CHECKPOINT_FORMAT, "config": NetConfig as a dict, "state_dict": ..., "card": {...}}``.

The LFW embeddings of a checkpoint (``<checkpoint>.lfw.npz``) are computed by this module's own
code from the photos (``python -m model.embed --lfw``) and shipped with the weights, so that the
lessons that only need distances work without the photos and start instantly.

"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from model import shipped
from model.data import FaceSet, cache_dir, crop_and_resize, to_model_input
from model.net import FaceNet, NetConfig, build_net
from model.shipped import CheckpointError, checkpoint_digest, lfw_embeddings_file

CHECKPOINT_FORMAT = "facenet-course/1"


def save_checkpoint(path: str | os.PathLike, net: FaceNet, card: dict) -> None:
    """Write the weights, the network's config and the model card into one file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "config": net.config.to_dict(), "state_dict": state, "card": card}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> tuple[FaceNet, dict]:
    """(network in eval mode on the CPU, model card) from a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}. The course ships its default model in model/weights/ "
                              "(restore it with `git checkout model/weights`), or train one with "
                              "`python -m model.train --out runs/NAME` and use runs/NAME/model.pt.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or unsafe content
        raise CheckpointError(f"{path.name} is not a readable checkpoint ({type(err).__name__}). "
                              "It may be truncated or corrupt: download or train it again.") from err
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path.name} is not a checkpoint of this course (expected format {CHECKPOINT_FORMAT}).")
    try:
        net = build_net(NetConfig(**blob["config"]))
        net.load_state_dict(blob["state_dict"])
    except Exception as err:  # wrong keys or shapes
        raise CheckpointError(f"{path.name} does not match its own network description: {err}") from err
    return net.eval(), portable_card(dict(blob.get("card") or {}))


def portable_card(card: dict) -> dict:
    """The card with an absolute data path in its "dataset" line ("LFW deep-funneled (/home/x/lfw)",
    as older checkpoints recorded it) written as model.train now writes it ("lfw/ in the data
    folder"): the training machine's folders are nobody else's business. The checkpoint itself is
    left as it is, since the shipped embeddings are tied to its digest."""
    import re

    dataset = card.get("dataset")
    if isinstance(dataset, str):
        card["dataset"] = re.sub(r"\((/[^()]*?)/?\)", lambda m: f"({Path(m.group(1)).name}/ in the data folder)",
                                 dataset)
    return card


@torch.no_grad()
def embed_crops(net: FaceNet, crops: np.ndarray | torch.Tensor, batch_size: int = 256,
                device: str | torch.device | None = None) -> np.ndarray:
    """Embeddings (N, D) float32 of uint8 face crops (N, S, S, 3) that went through `crop_and_resize`."""
    device = torch.device(device) if device is not None else next(net.parameters()).device
    was_training = net.training
    net.eval()
    out = []
    for start in range(0, len(crops), batch_size):
        x = to_model_input(crops[start : start + batch_size]).to(device)
        out.append(net(x).float().cpu())
    net.train(was_training)
    if not out:
        return np.zeros((0, net.config.embedding_dim), np.float32)
    return torch.cat(out).numpy()


class FaceEmbedder:
    """A trained network with its model card; `embed` takes photos, `embed_crops` prepared crops."""

    def __init__(self, net: FaceNet, card: dict, path: Path | None = None):
        self.net = net.eval()
        self.card = card
        self.path = path
        self.config: NetConfig = net.config

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def crops(self, images: Sequence[Image.Image], framing: str = "lfw") -> np.ndarray:
        """The uint8 crops the network sees, one per photo (same preprocessing as training)."""
        return np.stack([crop_and_resize(im, framing, self.input_size) for im in images])

    def embed(self, images: Sequence[Image.Image], framing: str = "lfw") -> np.ndarray:
        """(N, D) float32 L2-normalised embeddings of PIL images as they come from disk.

        framing="lfw" for photos framed like LFW's (face centred, about half the frame);
        "full" for photos that are already tight face crops.
        """
        if len(images) == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        return embed_crops(self.net, self.crops(images, framing))

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        return embed_crops(self.net, crops)


def load_model(path: str | os.PathLike | None = None) -> FaceEmbedder:
    """Load a checkpoint (the shipped default when `path` is None) for inference on the CPU."""
    path = Path(path) if path is not None else shipped.DEFAULT_CHECKPOINT
    net, card = load_checkpoint(path)
    return FaceEmbedder(net, card, path)


# --------------------------------------------------------------------------------------------
# Every LFW photo's embedding, computed once per checkpoint
# --------------------------------------------------------------------------------------------

LFW_EMBEDDINGS_FORMAT = "facenet-course-lfw-embeddings/1"


@dataclass
class LFWEmbeddings:
    """The embedding of every LFW photo under one checkpoint, with who is who.

    Row i is photo `files[i]` of person `names[labels[i]]`. `trained_on[p]` says whether person p
    was in the model's training split (peopleDevTrain). `devtest_left/right/same` are
    pairsDevTest's 1,000 pairs as row indices, so verification can be measured without photos.
    """

    embeddings: np.ndarray  # (N, D) float32, unit rows
    labels: np.ndarray  # (N,) int64
    names: list[str]
    files: list[str]
    trained_on: np.ndarray  # (P,) bool
    devtest_left: np.ndarray  # (1000,) int64
    devtest_right: np.ndarray
    devtest_same: np.ndarray  # (1000,) bool
    checkpoint_sha256: str

    def __len__(self) -> int:
        return len(self.labels)

    def index(self) -> dict[str, int]:
        """file path -> row."""
        return {f: i for i, f in enumerate(self.files)}

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp, format=LFW_EMBEDDINGS_FORMAT, embeddings=self.embeddings.astype(np.float32),
            labels=self.labels, names=np.array(self.names), files=np.array(self.files),
            trained_on=self.trained_on, devtest_left=self.devtest_left, devtest_right=self.devtest_right,
            devtest_same=self.devtest_same, checkpoint_sha256=self.checkpoint_sha256)
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "LFWEmbeddings":
        """Read a file written by `save`; CheckpointError if it is not one."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != LFW_EMBEDDINGS_FORMAT:
                    raise ValueError(f"format {z['format']}")
                return cls(embeddings=z["embeddings"].astype(np.float32), labels=z["labels"].astype(np.int64),
                           names=[str(n) for n in z["names"]], files=[str(f) for f in z["files"]],
                           trained_on=z["trained_on"].astype(bool), devtest_left=z["devtest_left"].astype(np.int64),
                           devtest_right=z["devtest_right"].astype(np.int64),
                           devtest_same=z["devtest_same"].astype(bool), checkpoint_sha256=str(z["checkpoint_sha256"]))
        except Exception as err:  # numpy's own text can give bad advice (allow_pickle): not shown
            raise CheckpointError(f"{Path(path).name} is not a readable LFW embeddings file: it is damaged or "
                                  "from another model. Restore it from git, or compute it again with "
                                  "`python -m model.embed`.") from err


def compute_lfw_embeddings(model: FaceEmbedder, faces: FaceSet, root: Path) -> LFWEmbeddings:
    """Embed every photo of LFW (`faces`, from `load_lfw`; `root` holds its protocol files)."""
    from model.data import lfw_pairs, lfw_people

    trained = set(lfw_people(root, "devtrain"))
    pairs = lfw_pairs(root, "devtest")
    left, right = pairs.indices(faces)
    return LFWEmbeddings(
        embeddings=model.embed_crops(faces.images), labels=faces.labels.astype(np.int64), names=list(faces.names),
        files=list(faces.files), trained_on=np.array([n in trained for n in faces.names]),
        devtest_left=left, devtest_right=right, devtest_same=pairs.same.astype(bool),
        checkpoint_sha256=checkpoint_digest(model.path) if model.path else "")


def load_lfw_embeddings(model: FaceEmbedder, data_path: str | os.PathLike | None = None) -> LFWEmbeddings:
    """The LFW embeddings of `model`: the file shipped beside its checkpoint when it matches the
    weights, else a copy computed earlier into the user cache, else computed now from the photos
    (about half a minute on a laptop CPU; raises model.data.DataNotFoundError without them)."""
    from model.data import find_lfw, load_lfw

    digest = checkpoint_digest(model.path) if model.path else ""
    candidates = [lfw_embeddings_file(model.path)] if model.path else []
    cached = cache_dir() / f"lfw-embeddings-{digest[:16]}.npz"
    candidates.append(cached)
    for path in candidates:
        if path.is_file():
            try:
                found = LFWEmbeddings.read(path)
            except CheckpointError:
                continue
            if found.checkpoint_sha256 == digest:
                return found
    root = find_lfw(data_path)
    computed = compute_lfw_embeddings(model, load_lfw(root), root)
    try:
        computed.save(cached)
    except OSError:
        pass  # a read-only cache only costs the next start the same half minute
    return computed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Embed every LFW photo with a checkpoint and save the result "
                                                 "beside it (<checkpoint>.lfw.npz), for shipping with the weights.")
    parser.add_argument("checkpoint", nargs="?", default=str(shipped.DEFAULT_CHECKPOINT))
    parser.add_argument("--data", default=None, help="folder holding lfw/ (default: $FACENET_DATA, scikit-learn's home)")
    args = parser.parse_args(argv)
    from model.data import find_lfw, load_lfw

    model = load_model(args.checkpoint)
    root = find_lfw(args.data)
    result = compute_lfw_embeddings(model, load_lfw(root), root)
    out = lfw_embeddings_file(args.checkpoint)
    result.save(out)
    print(f"{len(result):,} embeddings of {len(result.names):,} people -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
