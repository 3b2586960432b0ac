"""What every lesson page shares: its header, the course's model and data (loaded once per server
and shared by all sessions), "try this" prompts, check-yourself questions and the colours.

Pages call these instead of loading anything themselves, so a missing dataset or a broken
checkpoint is reported the same way everywhere and never stops the parts of a page that do not
need it: the loaders return None after saying what is missing.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from lessons import overview, quiz

# --------------------------------------------------------------------------------------------
# Colours: the Okabe-Ito palette, distinguishable with every common colour-vision deficiency
# --------------------------------------------------------------------------------------------

BLACK, ORANGE, SKY_BLUE, GREEN, YELLOW, BLUE, VERMILLION, PURPLE, GREY = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, YELLOW, BLACK]

# One colour per idea, the same on every page.
ROLE_COLORS = {"anchor": BLUE, "positive": GREEN, "negative": VERMILLION}
KIND_COLORS = {"hard": VERMILLION, "semi-hard": ORANGE, "easy": SKY_BLUE}  # triplet difficulty
SAME_DIFFERENT_COLORS = {"same person": GREEN, "different people": VERMILLION}


# --------------------------------------------------------------------------------------------
# Page furniture
# --------------------------------------------------------------------------------------------


def run_through_app_py() -> None:
    """Make sure the page runs inside app.py (its menu, its sidebar), not on its own.

    Because this folder is called pages/, a fresh Streamlit server treats the app as an old-style
    multipage app until app.py has called st.navigation once. So if the first visitor after a
    server start opens a lesson's own address (a link a teacher shared), Streamlit runs that page
    script alone, with a menu listing every file here and no sidebar. Seeing that, the page turns
    the old mode off and starts the run again, which then goes through app.py to this same page.
    (AppTest starts every run in the old mode, so tests go through here on each run.) A click that
    this rerun would drop is therefore always handled by an on_click callback, which runs first.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def lesson_header(page: str) -> overview.Lesson:
    """Title and one-line learning goal of the lesson whose script is `page` ("pages/loss.py")."""
    run_through_app_py()
    lesson = overview.lesson(page)
    st.title(lesson.title)
    st.markdown(f":material/flag: **Goal:** {lesson.goal}")
    return lesson


def try_this(*prompts: str) -> None:
    """Short experiments that point at something surprising in the figure above."""
    with st.container(border=True):
        st.markdown(":material/lightbulb: **Try this**")
        st.markdown("\n".join(f"- {p}" for p in prompts))


def check_yourself(questions: list[quiz.Question], key: str) -> None:
    """Multiple-choice questions with instant feedback; a wrong answer can be changed."""
    st.subheader("Check yourself")
    for number, question in enumerate(questions, start=1):
        choice = st.radio(f"**{number}.** {question.prompt}", question.options, index=None, key=f"{key}-quiz-{number}")
        if choice is None:
            continue
        feedback = quiz.grade(question, choice)
        if feedback.correct:
            st.success(f"Right. {feedback.text}", icon=":material/check_circle:")
        else:
            st.warning(feedback.text, icon=":material/help:")
            with st.expander("Show the answer"):
                st.markdown(f"**{question.answer}**. {question.explanation}")


def chart(traces: list[dict], title: str, height: int = 400, **layout) -> go.Figure:
    """A figure from plain trace and layout dicts, with the course's margins and legend."""
    return go.Figure(data=traces, layout=dict(
        height=height, margin=dict(l=10, r=10, t=95, b=10),
        title=dict(text=title, y=1.0, yref="container", yanchor="top", pad=dict(t=8)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), **layout), _validate=False)


def plot(figure: go.Figure | dict, key: str | None = None, **kwargs):
    """A Plotly figure (a go.Figure, or a plain {"data": [...], "layout": {...}} dict), as wide as
    its column: the one way pages draw charts.

    Dicts are not validated: Plotly's check of every property costs 20 to 50 ms a figure on every
    rerun, most of a page's time budget. Pages that redraw on each widget change pass dicts (or
    build them with `chart`), and their tests validate the very same dicts with `go.Figure(spec)`.
    """
    if isinstance(figure, dict):
        figure = go.Figure(figure, _validate=False)
    return st.plotly_chart(figure, width="stretch", key=key, config={"displaylogo": False}, **kwargs)


# --------------------------------------------------------------------------------------------
# The data folder, the model and the LFW embeddings
# --------------------------------------------------------------------------------------------


def data_path() -> str:
    """The folder the user typed in the sidebar, else $FACENET_DATA (empty: look in the usual places)."""
    return st.session_state.get("data_path") or overview.default_data_path()


@st.cache_data(show_spinner="Looking for the face data...")
def data_status_cached(path: str) -> overview.DataStatus:
    """Where the data was found (lessons.overview.data_status), cached: it walks LFW's 13k files."""
    return overview.data_status(path)


def forget_where_the_data_was() -> None:
    """After the user downloads or moves the data: look for it again (caches of found data are kept;
    a dataset that was missing was never cached)."""
    data_status_cached.clear()
    overview.count_lfw.cache_clear()


@st.cache_resource(show_spinner="Loading the face model...")
def _load_model(path: str, modified_ns: int):
    """`modified_ns` is only part of the cache key: a checkpoint replaced on disk is read again."""
    from model.embed import load_model  # torch is imported here, not when the app starts

    return load_model(path)


def _checkpoint() -> Path:
    from model.embed import DEFAULT_CHECKPOINT

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


@st.cache_resource(show_spinner="Loading the LFW embeddings...")
def _lfw_embeddings(path: str, modified_ns: int, data_folder: str):
    from model.embed import load_lfw_embeddings

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


@st.cache_resource(show_spinner="Loading the embedding maps...")
def _explorer_maps(path: str, modified_ns: int):
    from model.maps import load_explorer_maps

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


@st.cache_resource(show_spinner="Loading the LFW photos (the first time takes a few seconds)...")
def _lfw_photos(data_folder: str):
    from model.data import load_lfw

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


@st.cache_resource(show_spinner=False)
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
