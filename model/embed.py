"""Inference: load a checkpoint and turn face photos into embeddings.

    from model.embed import load_model
    model = load_model()                 # the shipped default checkpoint
    vectors = model.embed(pil_images)    # (N, D) float32, each row of unit length
    model.card["metrics"]                # what the model card says about it

A checkpoint is a plain dict (loadable with ``torch.load(path, weights_only=True)``):
``{"format": CHECKPOINT_FORMAT, "config": NetConfig as a dict, "state_dict": ..., "card": {...}}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from model.data import crop_and_resize, to_model_input
from model.net import FaceNet, NetConfig, build_net

CHECKPOINT_FORMAT = "facenet-course/1"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "facenet_inception_cpu.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours; the message says which."""


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
    return net.eval(), dict(blob.get("card") or {})


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
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    net, card = load_checkpoint(path)
    return FaceEmbedder(net, card, path)
