"""What ships beside a checkpoint, read without torch: where the default one is, its model card.

A checkpoint `name.pt` ships with two files computed from it (model/weights/README.md): its model
card as JSON (`name.json`, the very card saved inside the checkpoint) and every LFW photo's
embedding (`name.lfw.npz`), which records the SHA-256 of the checkpoint it came from. Reading those
takes milliseconds, while loading the checkpoint means importing torch, seconds on a laptop. So
the welcome page describes the model from them (`verified_card`) and the lessons, which need the
network, load it (`model.embed.load_model`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "facenet_inception_cpu.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours; the message says which."""


def checkpoint_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a checkpoint file: ties the files computed from it to the exact weights."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def card_file(checkpoint: str | os.PathLike) -> Path:
    """Where a shipped checkpoint's model card lives as JSON: beside it, `<name>.json`."""
    return Path(checkpoint).with_suffix(".json")


def lfw_embeddings_file(checkpoint: str | os.PathLike) -> Path:
    """Where the shipped LFW embeddings of a checkpoint live: beside it, `<name>.lfw.npz`."""
    return Path(checkpoint).with_suffix(".lfw.npz")


def verified_card(checkpoint: str | os.PathLike) -> dict | None:
    """The JSON model card beside `checkpoint`, if the checkpoint is byte for byte the file that its
    shipped LFW embeddings were computed from (the same SHA-256), so card and weights belong
    together and the weights are intact. None when that cannot be shown without loading it: no
    card, no embeddings file, an unreadable one, or a checkpoint missing or changed since."""
    try:
        with np.load(lfw_embeddings_file(checkpoint), allow_pickle=False) as shipped:
            recorded = str(shipped["checkpoint_sha256"])
        card = json.loads(card_file(checkpoint).read_text(encoding="utf-8"))
        if not isinstance(card, dict) or recorded != checkpoint_digest(checkpoint):
            return None
    except Exception:  # missing, truncated or foreign files: only loading the checkpoint can tell
        return None
    return card
