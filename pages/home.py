"""Welcome page: what the course is, where it goes, and whether its model and data are in place.

Only layout lives here; everything it shows is worked out in lessons/overview.py.
"""

from pathlib import Path

import streamlit as st

from lessons import overview


@st.cache_resource(show_spinner="Loading the face model...")
def load_model_once(path: Path, modified_ns: int):
    """The loaded checkpoint. `modified_ns` is only part of the cache key: a checkpoint replaced on
    disk (the GPU-trained model arriving) is read again without restarting the app."""
    from model.embed import load_model  # torch is imported here, not when the app starts

    return load_model(path)


def load_model_cached(path: Path):
    return load_model_once(path, path.stat().st_mtime_ns if path.is_file() else 0)


@st.cache_data(show_spinner="Looking for the face data...")
def data_status_cached(path: str) -> overview.DataStatus:
    return overview.data_status(path)


def remember_data_path():
    # The box's own state is dropped when another page is shown; "data_path" is what pages read.
    st.session_state["data_path"] = st.session_state["data_path_box"].strip()


# --------------------------------------------------------------------------------------------
# Sidebar: where the data is
# --------------------------------------------------------------------------------------------

st.session_state.setdefault("data_path", overview.default_data_path())
st.session_state.setdefault("data_path_box", st.session_state["data_path"])
with st.sidebar:
    st.text_input(
        "Data folder",
        key="data_path_box",
        on_change=remember_data_path,
        placeholder="/path/to/data",
        help="A folder holding lfw/ (and, optionally, olivetti/). Left empty, the app looks in "
        "the FACENET_DATA environment variable's folder, then in scikit-learn's data home.",
    )
    if st.button("Check again", help="Look for the data once more, e.g. after downloading it."):
        data_status_cached.clear()
        overview.count_lfw.cache_clear()

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
if not any(lesson.available for lesson in overview.COURSE):
    st.info("The lessons are in preparation: none of them can be opened yet. Here is the path they will follow.")
for number, lesson in enumerate(overview.COURSE, start=1):
    badge = "" if lesson.available else " :orange-badge[in preparation]"
    st.markdown(f"**{number}. {lesson.title}**{badge}  \n{lesson.goal}")

# --------------------------------------------------------------------------------------------
# State of the model and data
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
data = data_status_cached(st.session_state["data_path"])
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
