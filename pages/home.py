"""Welcome page: what the course is, where it goes, and whether its model and data are in place.

Only layout lives here; everything it shows is worked out in lessons/overview.py.
"""

import streamlit as st

from lessons import overview
from ui.loaders import data_path, data_status_cached, load_model_cached
from ui.widgets import run_through_app_py
from server.startup import import_in_background

run_through_app_py()


# --------------------------------------------------------------------------------------------
# What the course is
# --------------------------------------------------------------------------------------------

st.title("FaceNet, hands on")
st.markdown(
    """
How can a computer tell whether two photos show the same person? **FaceNet**, by Florian Schroff,
Dmitry Kalenichenko and James Philbin (CVPR 2015), answers with geometry. A convolutional network
turns each face photo into a short list of numbers, a point in an *embedding* space, and it is
trained so that the **squared L2 distance** between two points says how alike the faces are:
photos of one person end up close together, photos of different people far apart. Deciding
"same person or not" is then just comparing a distance with a threshold.

The network learns this from the **triplet loss**. It looks at three photos at a time: an
*anchor*, a *positive* (another photo of the same person) and a *negative* (someone else), and it
is penalised until the anchor sits closer to the positive than to the negative by at least a
margin α.

This course takes that idea apart. Each lesson puts one piece in your hands (the loss, the
margin, the choice of triplets, the optimiser, the activation function, the network, the
evaluation) so you can change it and watch what happens. Behind it is a small FaceNet-style
network, trained by this project's own code on the *Labeled Faces in the Wild* (LFW) photos.
"""
)

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
st.markdown(
    """
- **Presenter mode** (the switch in the sidebar) enlarges the text and the charts for a projector
  and hides the sidebar; the lessons are then in the menu along the top, and the switch stays at the
  top right of every page.
- **Every view is a link.** A lesson's address holds its settings (the margin, the mining, the
  threshold, the training step, the batch), so copying the address bar shares exactly what you see;
  `?presenter=true` at the end opens it in presenter mode.
- **Offline.** Once installed, the course needs no network and no GPU: everything runs on this computer.
"""
)

# --------------------------------------------------------------------------------------------
# State of the model and data (the shipped model is described from its card, without torch;
# any other checkpoint is loaded, so its check comes after the text above)
# --------------------------------------------------------------------------------------------

st.header("State of the model and data")

st.subheader("The model")
model = overview.model_status(load=load_model_cached)
if not model.found:
    st.error(f"**No usable model.** {model.problem}")
    st.caption("Until there is one, the lessons that embed faces cannot run.")
else:
    st.markdown(
        f"Checkpoint **`{model.file_name}`**. Network: {model.arch_name}; embedding: "
        f"{model.embedding_dim} dimensions; input: {model.input_size} x {model.input_size} pixel face crops."
    )
    if model.provisional:
        st.warning(
            "This is a **provisional** model, trained on a CPU. A model trained on a GPU will "
            "replace it, so expect the numbers below to change."
        )
    if model.metrics:
        for metric, column in zip(model.metrics, st.columns(len(model.metrics))):
            column.metric(metric.label, metric.value, delta=metric.vs_baseline, help=metric.help, border=True)
    else:
        st.info("The model card holds no evaluation results.")
    st.markdown("\n".join(f"- **{label}:** {text}" for label, text in model.facts))

st.subheader("The data")
data = data_status_cached(data_path())
if data.given_path and not data.given_path_exists:
    st.warning(f"There is no folder at `{data.given_path}`.")

lfw = data.lfw
if lfw.found:
    st.success(f"**LFW found** in `{lfw.location}`: {lfw.images:,} images of {lfw.people:,} people.")
    if lfw.protocol_missing:
        st.warning(
            "Some LFW protocol files are missing: " + ", ".join(f"`{n}`" for n in lfw.protocol_missing)
            + ". They come with LFW (see *How to get the data* below); put them beside the "
            "`lfw-deepfunneled` folder. Without them the evaluation pages cannot run."
        )
    else:
        st.caption("All six protocol files are there: " + ", ".join(f"`{n}`" for n in lfw.protocol_present) + ".")
else:
    st.error("**LFW was not found.** The lessons that work with face photos need it.")
    st.code(lfw.problem, language=None)

olivetti = data.olivetti
if olivetti.found:
    st.success(f"**Olivetti faces found**: `{olivetti.location}`.")
else:
    st.info("The Olivetti faces (optional) were not found.")

if not (data.lfw_complete and olivetti.found):
    with st.expander("How to get the data", expanded=not data.lfw_complete):
        st.code(data.how_to_get_data, language=None)

# While the visitor reads, the lessons' network code (torch: seconds) is imported for them.
import_in_background("model.embed")
