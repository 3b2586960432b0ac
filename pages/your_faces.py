"""Lesson 9, "Your faces": a visitor's own photos (uploads or webcam shots) through the shipped model:
the face found, where it lands on the explorer's map and who is next to it, verification against
the FAR = 1e-3 threshold, open-set identification, enrolment as a new cluster, and an optional class
gallery shared in server memory. Layout only: the work is done by lessons/your_faces.py,
model/faces.py and model/maps.py.

Privacy: photos are read from the uploader's memory on each run and never kept as bytes; what the
page keeps (a small preview, the 64 x 64 crop, the embedding) lives in this session's state only,
is never written to disk or logged, and "Forget my faces" removes it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import evaluation as ev
from lessons import explorer as ex
from lessons import your_faces as yf
from lessons.quiz import Question
from model.maps import SHIPPED
from ui.colors import BLUE, GREEN, ORANGE, PURPLE, SAME_DIFFERENT_COLORS, SKY_BLUE, VERMILLION
from ui.loaders import (devtest_pairs, explorer_maps, face_model, lfw_embeddings, lfw_photos, photo_index,
                        unseen_pairs_reference)
from ui.widgets import as_arrays, chart, check_yourself, lesson_header, plot, try_this

PAPER = "Schroff, Kalenichenko & Philbin, *FaceNet*, CVPR 2015"
UPLOAD_KEY, CAMERA_KEY = "your_faces_upload", "your_faces_camera"
SAME, DIFF = SAME_DIFFERENT_COLORS["same person"], SAME_DIFFERENT_COLORS["different people"]
THRESHOLD_NAMES = {"strict": "Strict: FAR = 0.001", "balanced": "Balanced: best accuracy on pairsDevTrain"}
ENROLLED_COLOURS = [BLUE, GREEN, VERMILLION, SKY_BLUE, PURPLE]
CLASS_COLOUR = PURPLE

# --------------------------------------------------------------------------------------------
# Shared by every session: the class galleries (server memory) and cached computations
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def class_galleries() -> yf.ClassGalleries:
    """One object per server; nothing in it is ever written to disk."""
    return yf.ClassGalleries()


@st.cache_resource(show_spinner=False)
def shipped_map(stamp: str, _maps) -> dict:
    """The shipped model's map, its embeddings and its 62 people as a gallery: one copy for every
    session (a session's page keeps what its last run made until the session is dropped)."""
    run = _maps.runs[SHIPPED]
    step = int(run.steps[-1])
    embeddings = run.embeddings(step)
    return {"step": step, "embeddings": embeddings, 2: run.points(step, 2), 3: run.points(step, 3),
            "gallery": tuple(yf.lfw_gallery(_maps, embeddings))}


@st.cache_resource(show_spinner=False, max_entries=4)
def shipped_map_traces(stamp: str, dims: int, show_names: bool, _maps) -> tuple[dict, ...]:
    """The map's 3,023 photos (and names), the same for everyone: built once per view, as arrays
    (`as_arrays`), and drawn under each visitor's own stars."""
    points = shipped_map(stamp, _maps)[dims]
    return tuple(as_arrays(trace) for trace in ex.map_traces(_maps, points, show_names=show_names))


# --------------------------------------------------------------------------------------------
# Session state: this visitor's photos, kept webcam shots, enrolled people, classes
# --------------------------------------------------------------------------------------------

state = st.session_state
state.setdefault("yf_owner", yf.new_owner_token())
state.setdefault("yf_cache", {})  # content digest:face -> yf.Photo (no bytes)
state.setdefault("yf_kept", [])  # webcam shots kept for later (yf.Photo)
state.setdefault("yf_enrolled", [])  # yf.EnrolledPerson
state.setdefault("yf_classes", [])  # class codes this session joined
state.setdefault("yf_teaching", [])  # class codes this session opened
state.setdefault("yf_gen", 0)  # bumped to give the uploader a fresh, empty widget
state.setdefault("yf_cam_gen", 0)  # the same for the webcam


def upload_key() -> str:
    return UPLOAD_KEY if state["yf_gen"] == 0 else f"{UPLOAD_KEY}_{state['yf_gen']}"


def camera_key() -> str:
    gen = state["yf_gen"] + state["yf_cam_gen"]
    return CAMERA_KEY if gen == 0 else f"{CAMERA_KEY}_{gen}"


def flash(where: str, kind: str, text: str) -> None:
    """A message from a button's callback, shown once at `where` on the next run."""
    state.setdefault("yf_flash", {})[where] = (kind, text)


def show_flash(where: str) -> None:
    kind, text = state.get("yf_flash", {}).pop(where, (None, None))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind is not None:
        st.warning(text, icon=":material/warning:")


def drop_uploaded_files(*keys: str) -> None:
    """Free the uploaded bytes that Streamlit's uploader holds for this session (in memory)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    for key in keys:
        value = state.get(key)
        files = value if isinstance(value, list) else [value] if value is not None else []
        for f in files:
            try:
                ctx.uploaded_file_mgr.remove_file(ctx.session_id, f.file_id)
            except Exception:  # the file is gone already, or no runtime: nothing to free
                pass


def forget_my_faces() -> None:
    drop_uploaded_files(upload_key(), camera_key())
    removed = class_galleries().remove_everywhere(state["yf_owner"])
    for key in [k for k in state if str(k).startswith("yf_face_")]:
        del state[key]
    for key in ("yf_photo", "yf_verify_a", "yf_verify_b", "yf_enrol_photos", "yf_enrol_name"):
        state.pop(key, None)
    state["yf_cache"], state["yf_kept"], state["yf_enrolled"] = {}, [], []
    state["yf_gen"] += 1
    flash("privacy", "success", "Done: your photos, their crops and embeddings and your enrolled people are gone "
          "from this session" + (f", and {removed} shared {'entry' if removed == 1 else 'entries'} from the class "
                                 "gallery" if removed else "") + ".")


def keep_shot(key: str) -> None:
    photo = state["yf_cache"].get(key)
    if photo is None:
        return
    if len(state["yf_kept"]) >= yf.MAX_SESSION_PHOTOS:
        flash("photos", "warning", f"At most {yf.MAX_SESSION_PHOTOS} shots can be kept; forget some first.")
        return
    kept = yf.Photo(**{**photo.__dict__, "name": f"Webcam shot {len(state['yf_kept']) + 1}", "source": "kept",
                       "notes": list(photo.notes)})
    state["yf_kept"] = state["yf_kept"] + [kept]
    drop_uploaded_files(camera_key())
    state["yf_cam_gen"] += 1


def drop_kept(digest: str) -> None:
    state["yf_kept"] = [p for p in state["yf_kept"] if p.digest != digest]


def enrol_person() -> None:
    known = {**state["yf_cache"], **{p.key: p for p in state["yf_kept"]}}
    chosen = [known[k] for k in state.get("yf_enrol_photos", []) if k in known]
    try:
        person = yf.enrol(state.get("yf_enrol_name", ""), chosen, [p.name for p in state["yf_enrolled"]])
        if len(state["yf_enrolled"]) >= yf.MAX_ENROLLED:
            raise yf.EnrolmentError(f"At most {yf.MAX_ENROLLED} people can be enrolled; remove one first.")
    except yf.EnrolmentError as err:
        flash("enrol", "warning", str(err))
        return
    state["yf_enrolled"] = state["yf_enrolled"] + [person]
    state["yf_enrol_photos"] = []
    state["yf_enrol_name"] = ""
    flash("enrol", "success", f"{person.name} is enrolled with {len(person.keys)} photos: see the new cluster on the "
          "map, and identify another photo in section 4.")


def remove_enrolled(name: str) -> None:
    state["yf_enrolled"] = [p for p in state["yf_enrolled"] if p.name != name]
    for code in state["yf_classes"]:
        class_galleries().remove(code, state["yf_owner"], name)


def open_class() -> None:
    try:
        code = class_galleries().open(state.get("yf_new_code", ""), state["yf_owner"])
    except yf.GalleryError as err:
        flash("class", "warning", str(err))
        return
    state["yf_teaching"] = list(dict.fromkeys(state["yf_teaching"] + [code]))
    state["yf_classes"] = list(dict.fromkeys(state["yf_classes"] + [code]))
    flash("class", "success", f"The class gallery {code} is open. Your students type {code} to join it.")


def close_class(code: str) -> None:
    class_galleries().close(code, state["yf_owner"])
    state["yf_teaching"] = [c for c in state["yf_teaching"] if c != code]
    state["yf_classes"] = [c for c in state["yf_classes"] if c != code]
    state.pop("yf_new_code", None)


def join_class() -> None:
    try:
        code = class_galleries().join(state.get("yf_join_code", ""))
    except yf.GalleryError as err:
        flash("class", "warning", str(err))
        return
    state["yf_classes"] = list(dict.fromkeys(state["yf_classes"] + [code]))
    state["yf_join_code"] = ""
    flash("class", "success", f"You joined the class gallery {code}.")


def leave_class(code: str) -> None:
    state["yf_classes"] = [c for c in state["yf_classes"] if c != code]


def share(code: str, name: str) -> None:
    person = next((p for p in state["yf_enrolled"] if p.name == name), None)
    if person is None:
        return
    try:
        class_galleries().add(code, state["yf_owner"], person.name, person.embeddings, person.crops[0])
    except yf.GalleryError as err:
        flash("class", "warning", str(err))


def unshare(code: str, name: str | None = None) -> None:
    class_galleries().remove(code, state["yf_owner"], name)


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def prompts_and_questions() -> None:
    try_this(
        "Upload three or four photos of yourself (or keep a few webcam shots) and look at the map: do your stars "
        "land together? Which LFW people are your nearest neighbours, and how far away are they?",
        "Verify two photos of yourself taken in different light, or with and without glasses. Then switch the "
        "threshold from strict to balanced: which answer changes, and what happens to VAL and FAR?",
        "Enrol yourself with 3 to 5 photos, then take a new shot and identify it. Turn the 62 LFW people on and "
        "off: does a bigger gallery make a wrong name more likely?",
        "Upload a photo of a group, pick each face in turn, and watch the star move across the map.",
    )
    check_yourself([
        Question(
            "Your two photos are at D = 0.55; the strict threshold (FAR = 0.001) is 0.378, where VAL is about 16%. "
            "The model says \"not the same\". What does that tell you?",
            ("They are certainly two different people",
             "Not close enough to be sure: at this threshold most true same-person pairs are turned away too",
             "The two photos are 55% different", "The model failed to find a face"),
            "Not close enough to be sure: at this threshold most true same-person pairs are turned away too",
            "VAL = 16% means only about 1 in 6 same-person test pairs come within the strict threshold. A strict "
            "threshold makes \"same\" answers trustworthy (FAR = 0.001) and \"not the same\" answers weak.",
            hints={"They are certainly two different people": "How many same-person pairs does a threshold with "
                                                              "VAL = 16% accept? What happens to the others?",
                   "The two photos are 55% different": "A squared distance is not a percentage of anything.",
                   "The model failed to find a face": "Without a face there would be no distance at all."}),
        Question(
            "Why does the identification answer \"unknown\" when the nearest enrolled person is farther than the "
            "threshold, instead of naming them anyway?",
            ("Because the model is not trained on your faces",
             "Because the nearest person is always named by a closed-set system, even for a stranger; a threshold "
             "lets it say \"unknown\"",
             "Because the gallery is too small", "Because the distance is in squared units"),
            "Because the nearest person is always named by a closed-set system, even for a stranger; a threshold "
            "lets it say \"unknown\"",
            "Nearest neighbour alone gives every stranger some name. FaceNet's embedding makes the open-set answer "
            "possible: a distance threshold, the same one used for verification.",
            hints={"Because the model is not trained on your faces": "It never is: FaceNet's point is that new "
                                                                     "people need no training, only a distance.",
                   "Because the gallery is too small": "A bigger gallery makes wrong names more likely, not less.",
                   "Because the distance is in squared units": "Squared or not, some photo is always the nearest."}),
        Question(
            "What honest meaning can a \"percentage\" shown for two photos have?",
            ("1 − D/4, the distance rescaled", "The probability that they show the same person",
             "The share of known pairs of strangers that come at least this close",
             "The share of pixels that match"),
            "The share of known pairs of strangers that come at least this close",
            "A distance becomes a meaningful number only by comparing it with measured pairs: the share of "
            "different-person pairs at least this close is the FAR at that distance.",
            hints={"1 − D/4, the distance rescaled": "That only rescales the distance: 75% or 90% says nothing about "
                                                     "how often strangers get that close.",
                   "The probability that they show the same person": "That would also need to know how likely a "
                                                                     "match was before looking, which no distance knows.",
                   "The share of pixels that match": "The model compares embeddings, not pixels."}),
        Question(
            "Where are the photos you upload on this page kept?",
            ("In a folder on the server, to improve the model",
             "In this session's memory only, until you forget them or close the page",
             "In the class gallery, for everyone", "In the model's weights"),
            "In this session's memory only, until you forget them or close the page",
            "Nothing is written to disk or logged, and the model does not learn from them. Only if a class gallery "
            "is open and you share an enrolled person do classmates with the code see that person's name and one crop.",
            hints={"In a folder on the server, to improve the model": "Nothing is written to disk, and the model is "
                                                                      "not retrained on uploads.",
                   "In the class gallery, for everyone": "The class gallery is off by default, and you choose what "
                                                         "to share in it.",
                   "In the model's weights": "The weights are fixed: the embedding of a new face needs no training."}),
    ], key="your-faces")


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

lesson_header("pages/your_faces.py")
st.markdown(
    f"""
FaceNet learns a mapping from a face photo to 128 numbers, trained so that the squared distance
between two embeddings is small for one person and large for two ({PAPER}, Sec. 1 and 3). Nothing
in it is specific to the people it trained on: a face it has never seen gets an embedding too.
Bring your own: the page finds the face, crops it the way the training photos were cropped,
embeds it with the shipped model and puts it on the explorer's map. Then it uses the embedding the
three ways the paper names: **verification** (same person or not: a threshold on the distance),
**recognition** (who is it: the nearest enrolled person, or "unknown") and **clustering** (several
photos of one person form a group).
""")

with st.container(border=True):
    st.markdown(
        ":material/lock: **Your photos stay private.** Uploaded and webcam photos are kept only in this "
        "browser session's memory on the course server: they are never written to disk, never logged, the "
        "model does not learn from them, and nobody else sees them. The only exception is a class gallery, "
        "which is off unless a teacher opens one: if you join it and share an enrolled person, classmates "
        "with the class code see that person's name, one 64 x 64 face crop and its position on the map. "
        "Closing the page, or the button here, forgets everything.")
    st.button("Forget my faces", icon=":material/delete_forever:", on_click=forget_my_faces, key="yf_forget",
              help="Removes your photos, crops, embeddings and enrolled people from this session, and your "
                   "entries from every class gallery.")
    show_flash("privacy")

model = face_model()
embed = model.embed_crops if model is not None else None

# ---- 1. photos ------------------------------------------------------------------------------
st.header("1. Your photos")
up_col, cam_col = st.columns([3, 2])
with up_col:
    files = st.file_uploader("Upload photos", key=upload_key(), accept_multiple_files=True, type=yf.UPLOAD_TYPES,
                             help="JPEG, PNG, WebP and other common formats, up to 20 MB each. One face per photo "
                                  "works best; with several, you can pick one.")
with cam_col:
    webcam = st.toggle("Use the webcam", key="yf_webcam", help="Your browser asks for permission first.")
    shot = st.camera_input("Take a photo", key=camera_key()) if webcam else None

uploads = [yf.Upload(f.name, f.getvalue(), "upload") for f in (files or [])]
if shot is not None:
    uploads.append(yf.Upload("Webcam shot", shot.getvalue(), "webcam"))
photos, left_out = yf.refresh(state["yf_cache"], uploads, embed, face_for=lambda d: state.get(f"yf_face_{d}"),
                              limit=max(0, yf.MAX_SESSION_PHOTOS - len(state["yf_kept"])))
photos = photos + [p for p in state["yf_kept"] if p.digest not in {q.digest for q in photos}]
labels = {p.key: f"{i + 1}. {p.name}" for i, p in enumerate(photos)}
by_key = {p.key: p for p in photos}
ready = [p for p in photos if p.ready]
show_flash("photos")
for note in left_out:
    st.caption(note)

if not photos:
    st.info("Upload a photo or take one with the webcam to start. A few photos of one person (you, say) and one "
            "or two of someone else make the most interesting map.", icon=":material/add_a_photo:")
for p in [p for p in photos if not p.ok]:
    st.warning(f"**{p.name}**: {p.error}", icon=":material/warning:")
good = [p for p in photos if p.ok]
for start in range(0, len(good), 3):
    cols = st.columns(3)
    for col, p in zip(cols, good[start:start + 3]):
        with col, st.container(border=True):
            st.markdown(f"**{labels[p.key]}**")
            st.image(p.preview, caption=(f"{p.num_faces} faces found: the orange box is the one used"
                                         if p.num_faces > 1 else "The face found"))
            c1, c2 = st.columns([1, 2], vertical_alignment="center")
            c1.image(p.crop, width=96)
            c2.caption(f"What the model sees: {p.crop.shape[0]} x {p.crop.shape[1]} pixels, cropped like the training "
                       "photos" + (f", turned {abs(p.roll):.0f}° level" if p.roll else "") + ".")
            if p.num_faces > 1:
                st.selectbox("Face to use", list(range(p.num_faces)), key=f"yf_face_{p.digest}",
                             format_func=lambda i: f"Face {i + 1}" + (" (the largest)" if i == 0 else ""))
            for note in p.notes:
                st.caption(note)
            if p.source == "webcam" and p.ready:
                st.button("Keep this shot", key=f"yf_keep_{p.digest}", on_click=keep_shot, args=(p.key,),
                          icon=":material/bookmark_add:", help="Keep it, then take another (to enrol yourself, say).")
            if p.source == "kept":
                st.button("Drop this shot", key=f"yf_drop_{p.digest}", on_click=drop_kept, args=(p.digest,),
                          icon=":material/delete:")
if good and model is None:
    st.info("The faces are found, but without the face model they cannot be embedded, so the rest of the page "
            "cannot place or compare them.", icon=":material/info:")

# ---- 2. the map -----------------------------------------------------------------------------
st.header("2. Where you land")
st.markdown(
    "The map is the explorer's map of the shipped model: the 3,023 photos of the 62 LFW people with at least 20 "
    "photos (filled circles: people the model trained on; open diamonds: people it never saw). Your photos are "
    "placed where their nearest LFW photos are, weighted by closeness, the way the explorer places any new face.")
maps = explorer_maps()
if maps is not None and SHIPPED in maps.runs:
    sm = shipped_map(maps.shipped_sha256, maps)
    m1, m2 = st.columns(2)
    with m1:
        dims = 3 if st.segmented_control("View", ["2-D", "3-D"], default="2-D", key="view",
                                         bind="query-params") == "3-D" else 2
    with m2:
        show_names = st.toggle("Names on the map", key="names", bind="query-params")
    points = sm[dims]
    extra: list[ex.ExtraPoint] = []
    colours: dict[str, str] = {"Your photos": ORANGE}
    if ready:
        where = yf.place(np.stack([p.embedding for p in ready]), sm["embeddings"], points)
        extra += [ex.ExtraPoint(tuple(float(v) for v in xy), labels[p.key].split(".")[0], "Your photos")
                  for p, xy in zip(ready, where)]
    for i, person in enumerate(state["yf_enrolled"]):
        group = f"Enrolled: {person.name}"
        colours[group] = ENROLLED_COLOURS[i % len(ENROLLED_COLOURS)]
        where = yf.place(person.embeddings, sm["embeddings"], points)
        extra += [ex.ExtraPoint(tuple(float(v) for v in xy), person.name if j == 0 else "", group)
                  for j, xy in enumerate(where)]
    for code in state["yf_classes"]:
        entries = class_galleries().entries(code)
        if entries:
            group = f"Class {code}"
            colours[group] = CLASS_COLOUR
            means = np.stack([e.embeddings.mean(axis=0) for e in entries])
            means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
            where = yf.place(means, sm["embeddings"], points)
            extra += [ex.ExtraPoint(tuple(float(v) for v in xy), e.person, group) for e, xy in zip(entries, where)]
    traces = [*shipped_map_traces(maps.shipped_sha256, dims, show_names, maps),
              *ex.star_traces(extra, dims, colours)]
    title = "The shipped model's map" + (f" with your {len(ready)} photo{'s' if len(ready) != 1 else ''}" if ready else "")
    plot(chart(traces, title, height=600, **ex.map_layout(dims)), key="yf_map")
    st.caption("Stars are your photos (numbered as above), your enrolled people and a class gallery's people. "
               "Hover for names. A UMAP map's axes have no units, and only neighbourhoods on it mean something.")
else:
    sm = None
    st.info("The map needs the explorer's maps file; the rest of the page works without it.", icon=":material/map:")

selected = None
if ready:
    keys = [p.key for p in ready]
    if state.get("yf_photo") not in keys:
        state["yf_photo"] = keys[0]
    selected = by_key[st.selectbox("Photo to look at (here and in identification below)", keys, key="yf_photo",
                                   format_func=labels.get)]
    if sm is not None:
        who = lambda row: maps.names[maps.labels[row]].replace("_", " ")  # noqa: E731
        lfw_faces = lfw_photos("The faces of the nearest LFW photos need the LFW photos")
        rows_of = photo_index(lfw_faces) if lfw_faces is not None else {}
        nearest = yf.nearest_photos(selected.embedding, sm["embeddings"], maps.labels, k=5)
        people = yf.nearest_people(selected.embedding, sm["embeddings"], maps.labels, k=3)
        st.markdown(f"**{labels[selected.key]}**: its five nearest LFW photos (squared distance d², smaller is closer)")
        cols = st.columns(6)
        with cols[0]:
            st.image(selected.crop, width=96, caption="you")
        for col, n in zip(cols[1:], nearest):
            with col:
                r = rows_of.get(maps.files[n.row])
                if r is not None:
                    st.image(lfw_faces.images[r], width=96)
                st.markdown(f"{who(n.row)}  \nd² = {n.distance:.3f}  \n"
                            f"{'seen' if maps.seen[n.row] else 'never seen'} in training")
        st.markdown("Nearest people: " + ", ".join(f"**{maps.names[n.person].replace('_', ' ')}** ({n.distance:.3f})"
                                                   for n in people) + ".")

# ---- 3. verification ------------------------------------------------------------------------
st.header("3. Same person or not?")
lfw = lfw_embeddings() if model is not None else None
pairs = devtest_pairs(lfw.checkpoint_sha256 or "unknown", lfw) if lfw is not None else None
options = yf.thresholds(model.card if model is not None else {}, pairs)
st.markdown(
    "Verification compares the squared distance D of two embeddings with a threshold: D ≤ threshold means "
    "\"same person\". The course's threshold is the one at which the shipped model accepts at most 1 in 1,000 "
    "pairs of strangers on LFW's *pairsDevTest*, people it never trained on (FAR = 0.001, the operating point "
    f"of {PAPER}, Sec. 4.1). Lesson 7 explains VAL and FAR.")
threshold = None
if options:
    names = list(options)
    choice = st.segmented_control("Threshold", names, format_func=THRESHOLD_NAMES.get, default=names[0],
                                  key="threshold", bind="query-params") or names[0]
    threshold = options[choice]
    t1, t2, t3 = st.columns(3)
    t1.metric("Threshold", f"{threshold.value:.3f}", border=True, help=f"Chosen as {threshold.how}.")
    t2.metric("VAL at it", f"{threshold.val:.1%}", border=True,
              help=f"Share of the {threshold.n_same} same-person pairs of pairsDevTest with D at most the threshold.")
    t3.metric("FAR at it", f"{threshold.far:.1%}", border=True,
              help=f"Share of the {threshold.n_diff} different-person pairs of pairsDevTest with D at most the threshold.")

verdict = None
if threshold is not None and len(ready) >= 2:
    keys = [p.key for p in ready]
    if state.get("yf_verify_a") not in keys:
        state["yf_verify_a"] = keys[0]
    if state.get("yf_verify_b") not in keys:
        state["yf_verify_b"] = keys[1]
    va, vb = st.columns(2)
    a = by_key[va.selectbox("First photo", keys, key="yf_verify_a", format_func=labels.get)]
    b = by_key[vb.selectbox("Second photo", keys, key="yf_verify_b", format_func=labels.get)]
    va.image(a.crop, width=96)
    vb.image(b.crop, width=96)
    reference = unseen_pairs_reference(lfw.checkpoint_sha256 or "unknown", lfw) if lfw is not None else None
    verdict = yf.verify(a.embedding, b.embedding, threshold, reference)
    v1, v2, v3 = st.columns(3)
    v1.metric("Squared distance D", f"{verdict.distance:.3f}", border=True)
    v2.metric("The model says", "same person" if verdict.same else "not the same", border=True)
    if verdict.strangers_within is not None:
        v3.metric("Strangers at least this close", f"{verdict.strangers_within:.3%}", border=True,
                  help="The share of pairs of two different people (every pair of LFW photos of people the model "
                       "never trained on) whose distance is at most D: the FAR at D.")
    relation = r"\le" if verdict.same else ">"
    st.latex(rf"D = \lVert f(x_1) - f(x_2) \rVert_2^2 = {verdict.distance:.3f} \;{relation}\; {threshold.value:.3f}")
    st.markdown(yf.explain(verdict))
    if a.key == b.key:
        st.caption("Both are the same photo: pick two different ones.")
    honest = yf.honest_percentage(verdict)
    if honest:
        with st.container(border=True):
            st.markdown(":material/percent: **A percentage, honestly.** " + honest)
            st.caption(f"What apps often print instead is 1 − D/4 = {verdict.naive_percentage:.0%} \"similar\": the "
                       "distance rescaled to look like a percentage. It does not say how often such a distance happens, "
                       "so it means nothing on its own.")
elif threshold is not None:
    st.info("Two photos with a face are needed to compare them.", icon=":material/compare:")

if pairs is not None and threshold is not None:
    shapes = [{"type": "line", "x0": threshold.value, "x1": threshold.value, "y0": 0, "y1": 1, "yref": "paper",
               "line": {"color": "black", "dash": "dash", "width": 2}}]
    notes = [{"x": threshold.value, "y": 1.0, "yref": "paper", "text": f" threshold {threshold.value:.3f}",
              "showarrow": False, "xanchor": "left", "yanchor": "top", "bgcolor": "rgba(255,255,255,0.85)"}]
    if verdict is not None:
        shapes.append({"type": "line", "x0": verdict.distance, "x1": verdict.distance, "y0": 0, "y1": 1,
                       "yref": "paper", "line": {"color": ORANGE, "width": 4}})
        notes.append({"x": verdict.distance, "y": 0.85, "yref": "paper", "text": f" your D = {verdict.distance:.3f}",
                      "showarrow": False, "xanchor": "left", "bgcolor": "rgba(255,255,255,0.85)",
                      "font": {"color": "black"}})
    hist = [{"type": "histogram", "x": pairs.distances[mask].round(4).tolist(), "name": f"{name} ({int(mask.sum())} pairs)",
             "xbins": {"start": 0.0, "end": 4.0, "size": 0.05}, "marker": {"color": colour}, "opacity": 0.65}
            for name, mask, colour in (("same person", pairs.same, SAME), ("different people", ~pairs.same, DIFF))]
    plot(chart(hist, "Your distance among pairsDevTest's 1,000 pairs", height=380, barmode="overlay", shapes=shapes,
               annotations=notes, xaxis={"title": "squared distance D", "range": [0, 3.5]},
               yaxis={"title": "pairs per bin of 0.05"}), key="yf_hist")

# ---- 4. identification ----------------------------------------------------------------------
st.header("4. Who is it? Nearest person or \"unknown\"")
st.markdown(
    "Recognition compares one photo with a **gallery** of known people and names the nearest one, but only if "
    "it is within the threshold; farther than that, the honest answer is **\"unknown\"** (an *open set*: the "
    "person may be nobody in the gallery). The gallery here holds the people you enrol below, the people of a "
    "class gallery you joined, and, if you like, the 62 LFW people of the map.")
use_lfw = st.toggle("Include the 62 LFW people of the map", value=True, key="yf_lfw_gallery")
gallery = [yf.GalleryPerson(p.name, p.embeddings, "you", p.keys) for p in state["yf_enrolled"]]
for code in state["yf_classes"]:
    gallery += [yf.GalleryPerson(e.person, e.embeddings, "class") for e in class_galleries().entries(code)
                if e.owner != state["yf_owner"]]
if use_lfw and sm is not None:
    gallery += sm["gallery"]
gallery_photos = sum(len(g.embeddings) for g in gallery)
if selected is None or threshold is None:
    st.info("Upload a photo with a face (and have the model loaded) to identify it.", icon=":material/person_search:")
elif not gallery:
    st.info("The gallery is empty: enrol someone below, join a class gallery, or include the LFW people.",
            icon=":material/person_search:")
else:
    found = yf.identify(selected.embedding, gallery, threshold.value, probe_key=selected.digest)
    sources = {"you": "enrolled by you", "class": "class gallery", "lfw": "LFW"}
    st.markdown(f"**{labels[selected.key]}** against {len(gallery)} people ({gallery_photos:,} photos), threshold "
                f"{threshold.value:.3f}" + (f"; {found.left_out} enrolled copy of this very photo was left out"
                                            if found.left_out else "") + ":")
    if found.answer is not None:
        st.success(f"**{found.answer.name}** ({sources[found.answer.source]}): the nearest, at D = "
                   f"{found.answer.distance:.3f} ≤ {threshold.value:.3f}.", icon=":material/how_to_reg:")
    elif found.nearest is not None:
        st.info(f"**Unknown.** The nearest is {found.nearest.name} ({sources[found.nearest.source]}) at D = "
                f"{found.nearest.distance:.3f}, farther than the threshold {threshold.value:.3f}. A closed-set system "
                f"would have said \"{found.nearest.name}\" anyway.", icon=":material/help:")
    st.dataframe([{"person": c.name, "from": sources[c.source], "D to their nearest photo": round(c.distance, 3),
                   "within the threshold": c.distance <= threshold.value} for c in found.ranking],
                 hide_index=True, width="stretch", key="yf_ranking")
    if lfw is not None:
        far_here = float(unseen_pairs_reference(lfw.checkpoint_sha256 or "unknown", lfw).share_different_within(threshold.value))
        chance = ev.stranger_match_estimate(far_here, gallery_photos)
        st.caption(f"A stranger is compared with all {gallery_photos:,} gallery photos and needs only one close match. "
                   f"At this threshold one pair of strangers in {1 / far_here:,.0f} comes this close (FAR = "
                   f"{far_here:.4%}, every pair of unseen LFW people). If the comparisons were independent draws, a "
                   f"stranger would be named as someone with probability 1 − (1 − FAR)^{gallery_photos:,} = {chance:.1%}. "
                   "They are not independent (a stranger near one photo of a person is near the others), so this "
                   "overstates it, but the lesson holds: a bigger gallery needs a stricter threshold. Lesson 7 "
                   "measures the real rate." if far_here > 0 else
                   f"No pair of strangers in the reference comes within this threshold, but a stranger is compared "
                   f"with all {gallery_photos:,} gallery photos: a bigger gallery needs a stricter threshold.")

# ---- 5. enrolment ---------------------------------------------------------------------------
st.header("5. Enrol a person: a new cluster")
st.markdown(
    f"Enrolling is all FaceNet needs to know someone new: no training, just a few embeddings kept under a name. "
    f"Choose {yf.MIN_ENROL} to {yf.MAX_ENROL} of your photos of one person; their stars join up on the map, and "
    "identification above can name them.")
show_flash("enrol")
if len(ready) >= yf.MIN_ENROL:
    e1, e2 = st.columns([1, 2])
    e1.text_input("Name", key="yf_enrol_name", max_chars=yf.MAX_NAME, placeholder="e.g. Me")
    e2.multiselect("Photos of this person", [p.key for p in ready], key="yf_enrol_photos", format_func=labels.get,
                   max_selections=yf.MAX_ENROL)
    st.button("Enrol", key="yf_enrol", on_click=enrol_person, icon=":material/person_add:")
else:
    st.info(f"Enrolling needs at least {yf.MIN_ENROL} photos with a face (you have {len(ready)}).",
            icon=":material/person_add:")
for i, person in enumerate(state["yf_enrolled"]):
    with st.container(border=True):
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        with c1:
            st.markdown(f"**{person.name}**: {len(person.keys)} photos")
            st.image(list(person.crops), width=64)
            if threshold is not None:
                s = yf.cluster_summary(person.embeddings, threshold.value, sm["embeddings"] if sm is not None else None)
                st.caption(f"Within the cluster: {s.pairs_within} of {s.pairs} pairs are within the threshold "
                           f"(mean D {s.mean_distance:.3f}, largest {s.max_distance:.3f})"
                           + (f"; the nearest LFW photo is at {s.nearest_other:.3f}" if s.nearest_other is not None else "")
                           + ".")
        with c2:
            st.button("Remove", key=f"yf_remove_{i}", on_click=remove_enrolled, args=(person.name,),
                      icon=":material/person_remove:")
            for code in state["yf_classes"]:
                shared = any(e.owner == state["yf_owner"] and e.person == person.name
                             for e in class_galleries().entries(code))
                if shared:
                    st.button(f"Unshare from {code}", key=f"yf_unshare_{i}_{code}", on_click=unshare,
                              args=(code, person.name))
                else:
                    st.button(f"Share with class {code}", key=f"yf_share_{i}_{code}", on_click=share,
                              args=(code, person.name))

# ---- 6. class gallery -----------------------------------------------------------------------
st.header("6. Class gallery (off unless your teacher opens one)")
st.markdown(
    "A teacher can open a gallery for the class under a code. Students who type the code see one shared map: the "
    "people their classmates chose to share appear on it and in identification. It lives in the server's memory "
    f"only (never on disk), holds at most 200 people a class and {yf.MAX_ENROL} photos a person, disappears when "
    "the teacher closes it or the server restarts, and everyone can remove their own entries at any time.")
show_flash("class")
teach, join = st.columns(2)
with teach, st.expander("For teachers: open a class gallery"):
    state.setdefault("yf_new_code", yf.new_code())
    st.text_input("Class code for your class", key="yf_new_code", max_chars=24)
    st.button("Open the class gallery", key="yf_open_class", on_click=open_class, icon=":material/groups:")
    for code in state["yf_teaching"]:
        st.button(f"Close {code} and delete its entries", key=f"yf_close_{code}", on_click=close_class, args=(code,))
with join:
    st.text_input("Class code from your teacher", key="yf_join_code", max_chars=24)
    st.button("Join", key="yf_join", on_click=join_class, icon=":material/login:")
for code in list(state["yf_classes"]):
    if not class_galleries().exists(code):
        state["yf_classes"] = [c for c in state["yf_classes"] if c != code]
        st.info(f"The class gallery {code} has been closed.", icon=":material/info:")
        continue
    entries = class_galleries().entries(code)
    with st.container(border=True):
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="center")
        c1.markdown(f"**Class {code}**: {len(entries)} {'person' if len(entries) == 1 else 'people'} shared")
        c2.button("Remove my faces from it", key=f"yf_unshare_all_{code}", on_click=unshare, args=(code,))
        c3.button("Leave", key=f"yf_leave_{code}", on_click=leave_class, args=(code,))
        if entries:
            st.image([e.face for e in entries], width=64,
                     caption=[e.person + (" (yours)" if e.owner == state["yf_owner"] else "") for e in entries])
        if not state["yf_enrolled"]:
            st.caption("To share someone, enrol them above; a \"Share\" button then appears beside them.")

prompts_and_questions()
