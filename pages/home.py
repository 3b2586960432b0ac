"""Welcome page: what the course is, where it goes, and whether its model and data are in place.

Only layout lives here; everything it shows is worked out in lessons/overview.py.
"""

import streamlit as st

from lessons import overview
from lessons.content import LessonText
from ui import plain
from ui.loaders import data_path, data_status_cached, load_model_cached
from ui.widgets import run_through_app_py
from server.startup import import_in_background

run_through_app_py()
words = LessonText("home")


# --------------------------------------------------------------------------------------------
# What the course is
# --------------------------------------------------------------------------------------------

st.title("FaceNet, hands on")
st.markdown(words("intro"))

# --------------------------------------------------------------------------------------------
# The path through the course
# --------------------------------------------------------------------------------------------

st.header("The path through the course")
for number, lesson in enumerate(overview.COURSE, start=1):
    if lesson.available:
        st.page_link(lesson.page, label=f"**{number}. {lesson.title}**", icon=lesson.icon)
        st.caption(lesson.goal)
    else:
        st.markdown(f"**{number}. {lesson.title}** :orange-badge[in preparation]  \n{lesson.goal}")

# --------------------------------------------------------------------------------------------
# In class
# --------------------------------------------------------------------------------------------

st.header("In class")
st.markdown(words("in-class"))

# --------------------------------------------------------------------------------------------
# State of the model and data (the shipped model is described from its card, without torch;
# any other checkpoint is loaded, so its check comes after the text above)
# --------------------------------------------------------------------------------------------

st.header("State of the model and data")

st.subheader("The model")
model = overview.model_status(load=load_model_cached)
if not model.found:
    st.error(words("no-model") + " " + model.problem)
    st.caption(words("no-model-note"))
else:
    checkpoint = f"Checkpoint **`{model.file_name}`**. "  # file and folder names are never placeholders
    st.markdown(checkpoint + words("model", arch=model.arch_name, embedding_dim=model.embedding_dim,
                                   input_size=model.input_size))
    if model.provisional:
        st.warning(words("provisional"))
    if model.metrics:
        helps = {"view1_devtest_accuracy_devtrain_threshold": words("help-metric-view1-fixed"),
                 "view1_devtest_accuracy": words("help-metric-view1-tuned"),
                 "view1_devtest_val_at_far_1e-3": words("help-metric-val"),
                 "view2_accuracy_mean": words("help-metric-view2")}
        for start in range(0, len(model.metrics), 2):  # two a row: the labels say which protocol
            row = model.metrics[start:start + 2]
            for metric, column in zip(row, st.columns(2)):
                column.metric(metric.label, metric.value, delta=metric.vs_baseline, help=helps.get(metric.key),
                              border=True)
        if model.protocols is not None:  # which number compares with what: visible, not only on hover
            st.info(words("protocols", **model.protocols), icon=":material/balance:")
    else:
        st.info(words("no-metrics"))
    st.markdown("\n".join(f"- **{label}:** {text}" for label, text in model.facts))

st.subheader("The data")
data = data_status_cached(data_path())
if data.given_path and not data.given_path_exists:  # the path as typed: plain text, cut if long (ui.plain)
    from model.data import shown_path

    where = plain.markdown(shown_path(data.given_path), limit=None)
    st.warning(f"The data folder {where} cannot be used: {data.given_path_problem}." if data.given_path_problem
               else f"There is no folder at {where}.")

lfw = data.lfw
if lfw.found:
    st.success(f"**LFW found** in `{lfw.location}`: {lfw.images:,} images of {lfw.people:,} people.")
    if lfw.protocol_missing:
        st.warning(words("protocol-missing", files=", ".join(f"`{n}`" for n in lfw.protocol_missing)))
    else:
        st.caption(words("protocol-present", files=", ".join(f"`{n}`" for n in lfw.protocol_present)))
else:
    st.error(words("no-lfw"))
    st.code(lfw.problem, language=None, wrap_lines=True)
    st.markdown(words("where-the-app-looks") + "\n" + "\n".join(  # folder names: plain text (ui.plain)
        f"1. {place}: {plain.markdown(where, limit=None)}" for place, where in overview.data_places(data_path())))
    beside = overview.data_beside_repository()
    st.markdown(words("beside-repository" if beside is not None else "facenet-data-line"))
    st.code(overview.facenet_data_line(beside), language="bash", wrap_lines=True)

olivetti = data.olivetti
if olivetti.found:
    st.success(f"**Olivetti faces found**: `{olivetti.location}`.")
else:
    st.info(words("no-olivetti"))

if not (data.lfw_complete and olivetti.found):
    with st.expander("How to get the data", expanded=not data.lfw_complete):
        st.code(data.how_to_get_data, language=None, wrap_lines=True)  # no line runs off a projector's edge

# While the visitor reads, the lessons' network code (torch: seconds) is imported for them.
import_in_background("model.embed")
