"""Shared fixtures. The tests read the real data from `../shared/data` beside the repository
(or from $FACENET_DATA when it is set), as CI provides it."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("FACENET_DATA") or REPO.parent / "shared" / "data")
    if not (path / "lfw" / "lfw-deepfunneled").is_dir():
        pytest.fail(f"The test data is missing: expected LFW under {path}/lfw (set FACENET_DATA to the data folder).")
    return path


@pytest.fixture(scope="session")
def lfw(shared_data):
    """All of LFW, decoded once for the whole session (from the user cache when it is warm)."""
    from model.data import load_lfw

    return load_lfw(shared_data)


@pytest.fixture(scope="session")
def lfw_root(shared_data):
    from model.data import find_lfw

    return find_lfw(shared_data)
