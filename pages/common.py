"""What every lesson page shares: its header, the course's model and data (loaded once per server
and shared by all sessions), "try this" prompts, check-yourself questions and the colours.

Pages call these instead of loading anything themselves, so a missing dataset or a broken
checkpoint is reported the same way everywhere and never stops the parts of a page that do not
need it: the loaders return None after saying what is missing.
"""

from __future__ import annotations

import gc
import os
import sys
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


def as_arrays(trace: dict) -> dict:
    """A copy of a Plotly trace dict whose lists of numbers or of strings (also inside its marker
    and the like) are read-only numpy arrays, for a trace of thousands of points that is cached
    and drawn on every run. Plotly copies a figure twice on its way to the browser and writes its
    JSON; with arrays it copies each in one piece and sends numbers as binary (bdata), about three
    times faster for the 3,023-point map of the Your-faces page (bench/bench_your_faces.py)."""
    import numpy as np

    out = {}
    for name, value in trace.items():
        if isinstance(value, dict):
            value = as_arrays(value)
        elif isinstance(value, list) and value and (all(isinstance(v, (int, float)) for v in value)
                                                    or all(isinstance(v, str) for v in value)):
            value = np.asarray(value)
            value.flags.writeable = False  # shared by every session through a cache
        out[name] = value
    return out


def plot(figure: go.Figure | dict, key: str | None = None, **kwargs):
    """A Plotly figure (a go.Figure, or a plain {"data": [...], "layout": {...}} dict), as wide as
    its column: the one way pages draw charts.

    Dicts are not validated: Plotly's check of every property costs 20 to 50 ms a figure on every
    rerun, most of a page's time budget. Pages that redraw on each widget change pass dicts (or
    build them with `chart`), and their tests validate the very same dicts with `go.Figure(spec)`.

    Traces without a colour of their own take the Okabe-Ito palette. In presenter mode the figure
    is redrawn from a copy (figures may be cached and shared by every session) with larger type,
    more height and wider margins for a projector.
    """
    if presenter_mode():
        spec = figure if isinstance(figure, dict) else figure.to_plotly_json()
        figure = go.Figure(for_projector(spec), _validate=False)
    elif isinstance(figure, dict):
        figure = go.Figure(figure, _validate=False)
    if figure.layout.colorway is None:
        figure.layout.colorway = PALETTE  # the same value for every session: safe on a shared figure
    return st.plotly_chart(figure, width="stretch", key=key, config={"displaylogo": False}, **kwargs)


# --------------------------------------------------------------------------------------------
# Presenter mode: large type, no sidebar, charts for a projector
# --------------------------------------------------------------------------------------------

PRESENTER_KEY = "presenter"  # the toggle's key, and so its URL query parameter: ?presenter=true
PRESENTER_TYPE = 1.4  # the page's type, times Streamlit's 16 px
PRESENTER_FONT = 20  # a chart's base font size in px (Plotly's default is 12)
PRESENTER_FONT_SCALE = PRESENTER_FONT / 12  # for fonts a figure sets itself
PRESENTER_HEIGHT = 1.35  # chart heights, times the page's own
PLOTLY_DEFAULT_HEIGHT = 450
PRESENTER_TITLE_CHARS = 42  # a half-width chart's title at 20 px, per line
FONT_KEYS = {"font", "textfont", "tickfont", "insidetextfont", "outsidetextfont", "hoverlabel"}

PRESENTER_CSS = f"""
<style>
html {{ font-size: {16 * PRESENTER_TYPE:.0f}px; }}
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p,
[data-testid="stMetricValue"], [data-testid="stMetricLabel"] p {{ font-size: 1rem; }}
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stAppDeployButton"] {{ display: none; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 4.5rem; max-width: 100%; }}
</style>
"""


def presenter_mode() -> bool:
    """Whether this session shows the course for a projector.

    The toggle's own state once it has been drawn; before that (the first run of a session
    opened from a link), the URL's `?presenter=true`, which the toggle is bound to.
    """
    if PRESENTER_KEY in st.session_state:
        return bool(st.session_state[PRESENTER_KEY])
    return str(st.query_params.get(PRESENTER_KEY, "")).lower() == "true"


def presenter_switch(on: bool) -> bool:
    """The presenter-mode toggle, bound to `?presenter=...`: in the sidebar normally; in presenter
    mode at the top of the page, since the sidebar is then hidden. `on` is `presenter_mode()` as
    app.py read it before laying out the page. Returns the toggle's value."""
    where = st.container(horizontal=True, horizontal_alignment="right") if on else st.sidebar
    value = where.toggle(
        "Presenter mode", key=PRESENTER_KEY, bind="query-params",
        help="Large type, no sidebar and taller charts for a projector. The page's address then ends in "
             "?presenter=true, so a link opens in this mode; switch it off here.")
    if value:
        st.html(PRESENTER_CSS)
    return value


def _scale_fonts(node, factor: float, under_font: bool = False):
    """A copy of a figure's dicts and lists with every font size inside a font dict times `factor`."""
    if isinstance(node, dict):
        out = {}
        for name, value in node.items():
            if under_font and name == "size" and isinstance(value, (int, float)):
                out[name] = round(value * factor, 1)
            elif isinstance(value, (dict, list)):
                out[name] = _scale_fonts(value, factor, name in FONT_KEYS)
            else:
                out[name] = value
        return out
    if isinstance(node, list):
        if node and not isinstance(node[0], (dict, list)):
            return node  # data: numbers, strings
        return [_scale_fonts(item, factor, under_font) for item in node]
    return node


def wrap_title(text: str, width: int = PRESENTER_TITLE_CHARS) -> str:
    """A chart title broken into lines of at most about `width` characters at spaces (Plotly's
    `<br>`), so that in large type it is not cut off at the chart's edge."""
    if "<br>" in text or len(text) <= width:
        return text
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join(lines + [line])


def for_projector(spec: dict) -> dict:
    """A new figure dict from `spec` ({"data": [...], "layout": {...}}), drawn for a projector:
    base font PRESENTER_FONT px, every font the figure sets itself and every margin scaled by as
    much, and the height times PRESENTER_HEIGHT. `spec` itself is left as it is."""
    scale = PRESENTER_FONT_SCALE
    out = _scale_fonts({k: v for k, v in spec.items() if k in ("data", "layout")}, scale)
    if spec.get("frames"):  # animation frames (the explorer's glide) carry positions only
        out["frames"] = spec["frames"]
    layout = out.setdefault("layout", {})
    font = dict(layout.get("font") or {})
    font["size"] = max(float(font.get("size", 0)), PRESENTER_FONT)
    layout["font"] = font
    layout["height"] = round((layout.get("height") or PLOTLY_DEFAULT_HEIGHT) * PRESENTER_HEIGHT)
    margin = layout.get("margin")
    if isinstance(margin, dict):
        layout["margin"] = {side: (round(v * scale) if side in "lrtb" and isinstance(v, (int, float)) else v)
                            for side, v in margin.items()}
    title = layout.get("title")
    if isinstance(title, dict) and isinstance(title.get("text"), str):  # Plotly never wraps a title itself
        text = wrap_title(title["text"])
        layout["title"] = {**title, "text": text}
        extra_lines = text.count("<br>") - title["text"].count("<br>")
        if extra_lines and isinstance(layout.get("margin"), dict) and isinstance(layout["margin"].get("t"), (int, float)):
            size = (title.get("font") or {}).get("size") or PRESENTER_FONT  # (already scaled above)
            layout["margin"] = {**layout["margin"], "t": layout["margin"]["t"] + round(1.3 * size * extra_lines)}
    return out


# --------------------------------------------------------------------------------------------
# Many students on one server: keep Streamlit's garbage collection cheap (their memory: pages.serving)
# --------------------------------------------------------------------------------------------

_frozen = {"modules": 0, "pending": set(), "done": set()}


def keep_gc_fast() -> None:
    """Called by app.py after each run. Streamlit runs a full garbage collection after every script
    run (`runner.postScriptGC`), and a full collection walks every object of the process: once torch,
    the model and the data are loaded, about 0.2 s of CPU per click, per student. So when new modules
    have been imported, or a loader below has run for the first time, this collects once and then
    moves everything alive into the permanent generation (`gc.freeze`), which later collections skip.
    That happens a bounded number of times per server. Objects are still freed as soon as nothing
    refers to them; only reference cycles alive at such a moment are kept for good."""
    if len(sys.modules) != _frozen["modules"] or _frozen["pending"]:
        gc.collect()
        gc.freeze()
        _frozen["modules"] = len(sys.modules)
        _frozen["done"] |= _frozen["pending"]
        _frozen["pending"] = set()


def _loaded(what: str) -> None:
    """A cached loader is filling its cache: freeze after this run, the first time only."""
    if what not in _frozen["done"]:
        _frozen["pending"].add(what)


# --------------------------------------------------------------------------------------------
# The data folder, the model and the LFW embeddings
# --------------------------------------------------------------------------------------------


DATA_ENV = "FACENET_DATA"  # model.data.DATA_ENV, spelt out: the first page draws its text before importing model.data (a test checks both)


def default_data_path() -> str:
    """What the data-folder box starts with: the FACENET_DATA environment variable, if set."""
    return os.environ.get(DATA_ENV, "")


def data_path() -> str:
    """The folder the user typed in the sidebar, else $FACENET_DATA (empty: look in the usual places)."""
    return st.session_state.get("data_path") or default_data_path()


@st.cache_data(show_spinner="Looking for the face data...")
def data_status_cached(path: str) -> overview.DataStatus:
    """Where the data was found (lessons.overview.data_status), cached: it walks LFW's 13k files."""
    _loaded("data status")
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


@st.cache_resource(show_spinner="Loading the LFW embeddings...")
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


@st.cache_resource(show_spinner="Loading the embedding maps...")
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


@st.cache_resource(show_spinner="Loading the LFW photos (the first time takes a few seconds)...")
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
