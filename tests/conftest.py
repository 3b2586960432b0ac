"""Shared fixtures (helpers are in tests/helpers.py). The tests read the real data from
`../shared/data` beside the repository (or from $FACENET_DATA when it is set), as CI provides it."""

import os
from pathlib import Path

import pytest

from tests.helpers import REPO


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
def shipped_embeddings():
    """The shipped model's embedding of every LFW photo (shipped beside the weights: no photos needed)."""
    from model.embed import load_lfw_embeddings, load_model

    return load_lfw_embeddings(load_model())


@pytest.fixture
def no_data(tmp_path, monkeypatch) -> Path:
    """An empty FACENET_DATA folder and an empty scikit-learn data home: no face data anywhere."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    (tmp_path / "sklearn-home").mkdir()
    monkeypatch.setenv("FACENET_DATA", str(empty))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn-home"))
    return empty


@pytest.fixture
def fresh_caches():
    """Streamlit's caches emptied: each test loads the model and data as a new server would."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture(scope="session")
def images(shared_data) -> Path:
    """LFW's image folder: one sub-folder of photos per person."""
    return shared_data / "lfw" / "lfw-deepfunneled"


@pytest.fixture(scope="session")
def lfw_root(shared_data):
    from model.data import find_lfw

    return find_lfw(shared_data)


@pytest.fixture(autouse=True)
def at_the_servers_own_machine(monkeypatch):
    """AppTest has no real browser connection (its Streamlit runtime is a mock), so ui.visitor could
    not tell who is there and would hide the sidebar's data folder. Pages under test run as for the
    person at the server's own machine, who may choose the data folder; a test of a visitor over the
    network patches `ui.visitor.connection` again."""
    import ui.visitor

    monkeypatch.setattr(ui.visitor, "connection", lambda: "loopback")
