"""What every lesson page draws the same way: its header, "try this" prompts, check-yourself
questions and Plotly charts. The words come from the lesson's content files (lessons.content)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lessons import overview, quiz
from ui.colors import PALETTE
from ui.presenter import for_projector, presenter_mode, wrap_title


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


def try_this(prompts: str, *old_style: str) -> None:
    """Short experiments that point at something surprising in the figure above: a Markdown list,
    usually a content section (``try_this(words("try"))``)."""
    with st.container(border=True):
        st.markdown(":material/lightbulb: **Try this**")
        st.markdown("\n".join(f"- {p}" for p in (prompts, *old_style)) if old_style else prompts)  # TODO(renovation): drop old_style


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


def predict_then_see(prediction: quiz.Prediction, truth, key: str, shown=None) -> bool:
    """Ask for a prediction before the page shows its answer. Until the student commits, returns
    False (the page then holds back what would give the answer away); once committed, shows the
    guess beside the live `truth` (formatted by `shown`, default str) with the explanation, and
    returns True. The guess lives in this session only; "Guess again" starts over. Buttons act
    through callbacks, which run before the page (see run_through_app_py)."""
    state, widget = f"predict-{key}", f"predict-{key}-guess"

    def lock():
        st.session_state[state] = st.session_state.get(widget)

    def forget():
        st.session_state.pop(state, None)

    with st.container(border=True):
        st.markdown(f":material/psychology_alt: **Predict first.** {prediction.prompt}")
        committed = st.session_state.get(state)
        if committed is None:
            if prediction.kind == "choice":
                guess = st.radio("Your prediction", prediction.options, index=None, key=widget,
                                 label_visibility="collapsed")
            else:
                guess = st.slider("Your prediction", prediction.low, prediction.high, value=prediction.low,
                                  step=prediction.step, key=widget)
            st.button("Lock in my prediction", key=f"{state}-lock", disabled=guess is None, on_click=lock,
                      icon=":material/lock:")
            return False
        show = shown or str
        right = quiz.prediction_right(prediction, committed, truth)
        box = st.success if right else st.info
        box(f"You predicted **{show(committed)}**; the answer is **{show(truth)}**. {prediction.explanation}",
            icon=":material/check_circle:" if right else ":material/lightbulb:")
        st.button("Guess again", key=f"{state}-again", on_click=forget, type="tertiary")
    return True


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


def thumbnail(image, quality: int = 90) -> str:
    """A small face (an RGB array, or JPEG bytes) as a data URI for st.image: the picture travels
    inside the page itself. A picture st.image gets as an array is a media file the server drops at
    the end of the next run, while a page whose slider is being dragged may still ask for it (a 404
    and "Image source error" in the browser); a data URI has nothing to drop."""
    import base64
    import io

    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
    else:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(image).save(out, "JPEG", quality=quality)
        data = out.getvalue()
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _titles_as_dicts(node):
    """A copy of a layout dict in which every `"title": "text"` is `"title": {"text": "text"}`, and
    whether anything changed. Plotly.js 3, which Streamlit draws with, no longer reads a title given
    as a plain string: such an axis is drawn without its title."""
    if not isinstance(node, dict):
        return node, False
    out, changed = {}, False
    for name, value in node.items():
        if name == "title" and isinstance(value, str):
            out[name], changed = {"text": value}, True
        elif isinstance(value, dict) and name != "template":
            out[name], inner = _titles_as_dicts(value)
            changed = changed or inner
        else:
            out[name] = value
    return out, changed


def titled(figure: go.Figure) -> None:
    """Every title of `figure` given as a plain string, given as {"text": ...} (see _titles_as_dicts)."""
    layout = figure.layout.to_plotly_json()
    for name, value in layout.items():
        if name == "template":
            continue
        fixed, changed = _titles_as_dicts({name: value})
        if changed:
            figure.layout[name] = fixed[name]


TITLE_CHARS = 52  # a chart title's line at most: a half-width chart at 1280 x 800 holds about 55 (7 px a character)
TITLE_SIZE = 17  # px: Plotly's title size for the course's base font, for the room a second line needs


def wrapped_title(figure: go.Figure, width: int = TITLE_CHARS) -> None:
    """A title longer than `width` characters broken into lines at spaces (Plotly never wraps one, so
    it ran past the edge of a narrow chart), with the top margin grown by a line for each line added."""
    title = figure.layout.title.to_plotly_json() if figure.layout.title is not None else {}
    text = title.get("text")
    if not isinstance(text, str):
        return
    lines = wrap_title(text, width)
    extra = lines.count("<br>") - text.count("<br>")
    if not extra:
        return
    figure.layout.title.text = lines
    size = (title.get("font") or {}).get("size") or TITLE_SIZE
    added = round(1.3 * size * extra)
    top = figure.layout.margin.t
    if isinstance(top, (int, float)):
        figure.layout.margin.t = top + added
    if title.get("yanchor") == "top":  # Plotly sets a title of several lines higher than its top anchor: move it down
        figure.layout.title.pad.t = ((title.get("pad") or {}).get("t") or 0) + added


LOG_TICKS_MAX = 8  # labelled ticks on a log axis at most: whole decades, every one or every few


def _positive_span(values) -> tuple[float, float] | None:
    import numpy as np

    try:
        a = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    a = a[np.isfinite(a) & (a > 0)]
    return (float(a.min()), float(a.max())) if a.size else None


def readable_log_axes(figure: go.Figure) -> None:
    """Every log axis without ticks of its own shows whole decades only (1, 10, 100, 10^3 ...), every
    decade or every few so that at most LOG_TICKS_MAX are labelled, and none of Plotly's in-between
    2 and 5 labels ("2, 1000, 5, 2, 100"), which read as a jumble on a projector."""
    import math

    layout = figure.layout.to_plotly_json()
    for name, axis in layout.items():
        if not (name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict) and axis.get("type") == "log"):
            continue
        if any(axis.get(k) is not None for k in ("dtick", "tickvals", "tick0")):
            continue
        letter, ref = name[0], name[0] + name[5:]  # "xaxis2" -> "x2"
        low, high = math.inf, -math.inf
        if isinstance(axis.get("range"), (list, tuple)) and len(axis["range"]) == 2:
            low, high = (10.0 ** float(v) for v in axis["range"])
        else:
            for trace in figure.data:
                if (getattr(trace, f"{letter}axis", None) or letter) != ref:
                    continue
                span = _positive_span(getattr(trace, letter, None))
                if span is not None:
                    low, high = min(low, span[0]), max(high, span[1])
        decades = math.log10(high / low) if math.isfinite(low) and math.isfinite(high) and high > low else 1.0
        figure.update_layout({name: dict(dtick=max(1, math.ceil(decades / LOG_TICKS_MAX)), exponentformat="power",
                                         minor=dict(showgrid=False, ticks=""))})


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
    presenting = presenter_mode()
    if presenting:
        spec = figure if isinstance(figure, dict) else figure.to_plotly_json()
        figure = go.Figure(for_projector(spec), _validate=False)
    elif isinstance(figure, dict):
        figure = go.Figure(figure, _validate=False)
    if figure.layout.colorway is None:
        figure.layout.colorway = PALETTE  # the same value for every session: safe on a shared figure
    titled(figure)  # the same for every session too
    readable_log_axes(figure)
    if not presenting:  # (for_projector has wrapped it for its larger type)
        wrapped_title(figure)
    return st.plotly_chart(figure, width="stretch", key=key, config={"displaylogo": False}, **kwargs)

