"""What every lesson page draws the same way: its header, "try this" prompts, check-yourself
questions and Plotly charts. The words come from the lesson's content files (lessons.content)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lessons import overview, quiz
from ui.colors import PALETTE
from ui.presenter import for_projector, presenter_mode


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

