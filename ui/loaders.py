"""The course's model and data, loaded once per server and shared by every session.

Pages call these instead of loading anything themselves, so a missing dataset or a broken
checkpoint is reported the same way everywhere and never stops the parts of a page that do not
need it: the loaders return None after saying what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from lessons import overview
from server.memory import first_load as _loaded

DATA_ENV = "FACENET_DATA"  # model.data.DATA_ENV, spelt out: the first page draws its text before importing model.data (a test checks both)


def default_data_path() -> str:
    """What the data-folder box starts with: the FACENET_DATA environment variable, if set."""
    return os.environ.get(DATA_ENV, "")


def data_path() -> str:
    """The folder typed in the sidebar, for the person at the server's own machine only (the box is
    theirs alone: ui.visitor), else $FACENET_DATA (empty: look in the usual places)."""
    from ui.visitor import on_own_machine

    typed = st.session_state.get("data_path") if on_own_machine() else None
    return typed or default_data_path()


# Every cache below that is keyed by a path (a data folder, a checkpoint) holds a few entries only:
# a path is the server's setting or its own user's, but no cache may grow with what anyone types.
DATA_FOLDERS_KEPT = 4


@st.cache_data(show_spinner="Looking for the face data...", max_entries=16)
def data_status_cached(path: str) -> overview.DataStatus:
    """Where the data was found (lessons.overview.data_status), cached: it walks LFW's 13k files."""
    _loaded("data status")
    return overview.data_status(path)


def forget_where_the_data_was() -> None:
    """After the user downloads or moves the data: look for it again (caches of found data are kept;
    a dataset that was missing was never cached)."""
    data_status_cached.clear()
    overview.count_lfw.cache_clear()


@st.cache_resource(show_spinner="Loading the face model...", max_entries=DATA_FOLDERS_KEPT)
def _load_model(path: str, modified_ns: int):
    """`modified_ns` is only part of the cache key: a checkpoint replaced on disk is read again."""
    from model.embed import load_model  # torch is imported here, not when the app starts

    _loaded("model")
    return load_model(path)


def _checkpoint() -> Path:
    from model.shipped import DEFAULT_CHECKPOINT

    return DEFAULT_CHECKPOINT


def _modified_ns(path: Path) -> int:
    return path.stat().st_mtime_ns if path.is_file() else 0


def load_model_cached(path: Path | None = None):
    """The checkpoint at `path` (default: the shipped one), loaded once per server; raises CheckpointError."""
    path = Path(path) if path is not None else _checkpoint()
    return _load_model(str(path), _modified_ns(path))


def face_model():
    """The shipped face model, or None after an error box saying why it cannot be used."""
    from model.embed import CheckpointError

    try:
        return load_model_cached()
    except CheckpointError as err:
        st.error(f"**The face model cannot be loaded.** {err}", icon=":material/error:")
        return None


@st.cache_resource(show_spinner="Loading the LFW embeddings...", max_entries=DATA_FOLDERS_KEPT)
def _lfw_embeddings(path: str, modified_ns: int, data_folder: str):
    from model.embed import load_lfw_embeddings

    _loaded("embeddings")
    return load_lfw_embeddings(_load_model(path, modified_ns), data_folder or None)


def lfw_embeddings():
    """Every LFW photo's embedding under the shipped model (`model.embed.LFWEmbeddings`), or None
    after saying what is missing. Shipped beside the weights, so it needs no photos."""
    from model.data import DataNotFoundError
    from model.embed import CheckpointError

    model = face_model()
    if model is None:
        return None
    path = _checkpoint()
    try:
        return _lfw_embeddings(str(path), _modified_ns(path), data_path())
    except CheckpointError as err:
        st.error(f"**The LFW embeddings cannot be read.** {err}", icon=":material/error:")
    except DataNotFoundError:
        st.warning("The LFW embeddings of this model are not shipped with it, and computing them needs the "
                   "LFW photos, which were not found.", icon=":material/warning:")
        how_to_get_data()
    return None


# Measured once per server from the LFW embeddings, for the Evaluation and Your-faces pages alike;
# `sha` (the checkpoint's) is the cache key.


@st.cache_resource(show_spinner=False)
def devtest_pairs(sha: str, _lfw):
    """pairsDevTest's 1,000 pairs under the model (`lessons.evaluation.devtest_pairs`)."""
    from lessons import evaluation as ev

    return ev.devtest_pairs(_lfw)


@st.cache_resource(show_spinner="Measuring every pair of unseen people's photos (once)...")
def unseen_pairs_reference(sha: str, _lfw):
    """The distances of every pair of LFW photos of people the model never saw
    (`lessons.evaluation.all_unseen_pairs_reference`)."""
    from lessons import evaluation as ev

    return ev.all_unseen_pairs_reference(_lfw)


@st.cache_resource(show_spinner="Loading the embedding maps...", max_entries=DATA_FOLDERS_KEPT)
def _explorer_maps(path: str, modified_ns: int):
    from model.maps import load_explorer_maps

    _loaded("maps")
    return load_explorer_maps(path)


def explorer_maps():
    """The explorer's precomputed maps (`model.maps.ExplorerMaps`: the explorer set under every
    comparison run and the shipped model), or None after saying what is wrong. Shipped with the
    weights: no photos needed."""
    from model.maps import EXPLORER_FILE

    try:
        return _explorer_maps(str(EXPLORER_FILE), _modified_ns(EXPLORER_FILE))
    except (FileNotFoundError, ValueError) as err:
        st.error(f"**The embedding maps cannot be read.** {err}", icon=":material/error:")
        return None


@st.cache_resource(show_spinner="Loading the LFW photos (the first time takes a few seconds)...", max_entries=2)
def _lfw_photos(data_folder: str):
    from model.data import load_lfw

    _loaded("photos")
    return load_lfw(data_folder or None)


def lfw_photos(why: str = "This part needs the LFW photos"):
    """All LFW face crops (`model.data.FaceSet`), or None after saying that `why` needs them and how
    to get them."""
    from model.data import DataNotFoundError

    try:
        return _lfw_photos(data_path())
    except DataNotFoundError:
        st.info(f"{why}, and they were not found. Everything else on this page works without them.",
                icon=":material/photo_library:")
        how_to_get_data()
        return None


@st.cache_resource(show_spinner=False, max_entries=DATA_FOLDERS_KEPT)
def _photo_index(source: str, count: int, _faces) -> dict[str, int]:
    return _faces.index()


def photo_index(faces) -> dict[str, int]:
    """File path ("Name/Name_0001.jpg") -> row of `faces`, built once per photo set, so a page can
    find the photo behind any row of the LFW embeddings."""
    return _photo_index(faces.source, len(faces), faces)


def how_to_get_data() -> None:
    from model.data import HOW_TO_GET_DATA

    with st.expander("How to get the data"):
        st.code(HOW_TO_GET_DATA, language=None)
