"""Lesson 9, "Your faces": a visitor's own photos (uploads or webcam shots) through the shipped model:
the face found, where it lands on the explorer's map and who is next to it, verification against a
threshold (with what its counts on LFW prove, and P(same | D) as lesson 7 calibrates it), open-set
identification, enrolment as a new cluster, an optional class gallery shared in server memory, and
what face recognition does to people (misuse, unequal errors, consent). Layout only: the work is
done by lessons/your_faces.py, model/faces.py and model/maps.py.

Privacy and memory: a photo's bytes are read once, as it arrives (an upload or a webcam shot), then
dropped from Streamlit's upload manager, and the uploader is emptied. What the page keeps (a small
preview, each face's 64 x 64 crop and embedding; at most lesson.MAX_SESSION_PHOTOS photos, 28 MB)
lives in this session's state only, is never written to disk or logged, and "Forget my faces"
removes it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import evaluation, explorer
from lessons import your_faces as lesson
from lessons.content import LessonText
from model.maps import SHIPPED
from ui.colors import BLUE, GREEN, ORANGE, PURPLE, SAME_DIFFERENT_COLORS, SKY_BLUE, VERMILLION
from ui import plain
from ui.galleries import galleries, teacher_key_too_short, teacher_keys, this_session
from ui.loaders import (devtest_pairs, explorer_maps, face_model, lfw_embeddings, lfw_photos, photo_index,
                        unseen_pairs_reference)
from ui.widgets import as_arrays, chart, check_yourself, lesson_header, plot, predict_then_see, try_this

PAGE = "pages/your_faces.py"
words = LessonText("your_faces")
UPLOAD_KEY, CAMERA_KEY = "your_faces_upload", "your_faces_camera"
SAME, DIFF = SAME_DIFFERENT_COLORS["same person"], SAME_DIFFERENT_COLORS["different people"]
THRESHOLD_NAMES = {"strict": "Strict: lets in 0 of 500 strangers",
                   "balanced": "Balanced: best accuracy on pairsDevTrain"}
ENROLLED_COLOURS = [BLUE, GREEN, VERMILLION, SKY_BLUE, PURPLE]
CLASS_COLOUR = PURPLE

# --------------------------------------------------------------------------------------------
# Shared by every session: the class galleries (server memory) and cached computations
# --------------------------------------------------------------------------------------------


def class_galleries() -> lesson.ClassGalleries:
    """One store per server (ui.galleries), the entries of closed sessions swept out first."""
    return galleries()


@st.cache_resource(show_spinner=False)
def shipped_map(stamp: str, _maps) -> dict:
    """The shipped model's map, its embeddings and its 62 people as a gallery: one copy for every
    session (a session's page keeps what its last run made until the session is dropped)."""
    run = _maps.runs[SHIPPED]
    step = int(run.steps[-1])
    embeddings = run.embeddings(step)
    return {"step": step, "embeddings": embeddings, 2: run.points(step, 2), 3: run.points(step, 3),
            "gallery": tuple(lesson.lfw_gallery(_maps, embeddings))}


@st.cache_resource(show_spinner=False, max_entries=4)
def calibration(sha: str, _pairs) -> evaluation.Calibration:
    """P(same | D) fitted on pairsDevTest's new people, as lesson 7 fits and checks it."""
    return evaluation.calibrate(_pairs, "new people")


@st.cache_resource(show_spinner="Comparing every unseen person with every other (once)...", max_entries=4)
def unequal_errors(sha: str, threshold: float, _lfw) -> lesson.PersonRates:
    """How often each person the model never saw meets a stranger within `threshold`."""
    return lesson.person_rates(_lfw, threshold)


@st.cache_resource(show_spinner=False, max_entries=4)
def shipped_map_traces(stamp: str, dims: int, show_names: bool, _maps) -> tuple[dict, ...]:
    """The map's 3,023 photos (and names), the same for everyone: built once per view, as arrays
    (`as_arrays`), and drawn under each visitor's own stars."""
    points = shipped_map(stamp, _maps)[dims]
    return tuple(as_arrays(trace) for trace in explorer.map_traces(_maps, points, show_names=show_names))


# --------------------------------------------------------------------------------------------
# Session state: this visitor's photos, kept webcam shots, enrolled people, classes
# --------------------------------------------------------------------------------------------

state = st.session_state
state.setdefault("yf_owner", lesson.new_owner_token())
state.setdefault("yf_cache", {})  # content digest -> lesson.Photo: the uploads and the last webcam shot (no bytes)
state.setdefault("yf_failed", [])  # the last photos taken that could not be used (lesson.Photo with its error)
state.setdefault("yf_notes", [])  # ... and what was left out of them
state.setdefault("yf_kept", [])  # webcam shots kept for later (lesson.Photo)
state.setdefault("yf_enrolled", [])  # lesson.EnrolledPerson
state.setdefault("yf_classes", [])  # class codes this session joined
state.setdefault("yf_teacher", None)  # the teacher id a right teacher key gave (never the key)
state.setdefault("yf_gen", 0)  # bumped to give the uploader a fresh, empty widget
state.setdefault("yf_cam_gen", 0)  # the same for the webcam
state.setdefault("yf_up_gen", 0)  # bumped once the uploader's files are taken: a fresh, empty uploader


def upload_key() -> str:
    gen = state["yf_gen"] + state["yf_up_gen"]
    return UPLOAD_KEY if gen == 0 else f"{UPLOAD_KEY}_{gen}"


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
    for key in [k for k in state if str(k).startswith(("yf_face_", "predict-yf-verdict-"))]:  # keyed by photo
        del state[key]
    for key in ("yf_photo", "yf_verify_a", "yf_verify_b", "yf_enrol_photos", "yf_enrol_name"):
        state.pop(key, None)
    state["yf_cache"], state["yf_kept"], state["yf_enrolled"] = {}, [], []
    state["yf_failed"], state["yf_notes"] = [], []
    state["yf_gen"] += 1
    flash("privacy", "success", words("forgotten" if removed == 0
                                      else "forgotten-and-one-class-entry" if removed == 1
                                      else "forgotten-and-class-entries", removed=removed))


def take_photos(key: str, source: str) -> None:
    """The new files of the widget `key` (the uploader, or the webcam) become this session's photos:
    each is processed once (every face's crop and embedding, a small preview), then its bytes are
    dropped from Streamlit's upload manager and the widget is replaced by a fresh, empty one, so
    that the session never holds a photo's bytes beyond this call."""
    value = state.get(key)
    files = [f for f in (value if isinstance(value, list) else [value]) if hasattr(f, "getvalue")]  # not DeletedFile
    if not files:
        return
    model = face_model()
    uploads = [lesson.Upload(f.name if source == "upload" else "Webcam shot", f.getvalue(), source) for f in files]
    state["yf_failed"], state["yf_notes"] = lesson.take(
        state["yf_cache"], uploads, model.embed_crops if model is not None else None,
        limit=max(0, lesson.MAX_SESSION_PHOTOS - len(state["yf_kept"])), replacing="webcam" if source == "webcam" else None)
    del uploads, files, value
    drop_uploaded_files(key)
    state["yf_up_gen" if source == "upload" else "yf_cam_gen"] += 1


def remove_photo(digest: str) -> None:
    state["yf_cache"].pop(digest, None)
    state.pop(f"yf_face_{digest}", None)


def keep_shot(digest: str) -> None:
    photo = state["yf_cache"].get(digest)
    if photo is None:
        return
    if len(state["yf_kept"]) >= lesson.MAX_SESSION_PHOTOS:
        flash("photos", "warning", words("too-many-shots", most=lesson.MAX_SESSION_PHOTOS))
        return
    kept = lesson.Photo(**{**photo.__dict__, "name": f"Webcam shot {len(state['yf_kept']) + 1}", "source": "kept",
                           "notes": list(photo.notes)})
    state["yf_kept"] = state["yf_kept"] + [kept]
    del state["yf_cache"][digest]


def drop_kept(digest: str) -> None:
    state["yf_kept"] = [p for p in state["yf_kept"] if p.digest != digest]


def enrol_person() -> None:
    known = {p.key: p for p in [*state["yf_cache"].values(), *state["yf_kept"]]}
    chosen = [known[k] for k in state.get("yf_enrol_photos", []) if k in known]
    try:
        person = lesson.enrol(state.get("yf_enrol_name", ""), chosen, [p.name for p in state["yf_enrolled"]])
        if len(state["yf_enrolled"]) >= lesson.MAX_ENROLLED:
            raise lesson.EnrolmentError(words("too-many-enrolled", most=lesson.MAX_ENROLLED))
    except lesson.EnrolmentError as err:
        flash("enrol", "warning", plain.markdown(str(err), limit=None))
        return
    state["yf_enrolled"] = state["yf_enrolled"] + [person]
    state["yf_enrol_photos"] = []
    state["yf_enrol_name"] = ""
    flash("enrol", "success", plain.markdown(person.name) + " " + words("enrolled-after-name", photos=len(person.keys)))


def remove_enrolled(name: str) -> None:
    state["yf_enrolled"] = [p for p in state["yf_enrolled"] if p.name != name]
    for code in state["yf_classes"]:
        class_galleries().remove(code, state["yf_owner"], name)


def unlock_teacher() -> None:
    """The teacher key typed: this session gets the teacher's powers (and galleries) back."""
    teacher = lesson.teacher_for(state.get("yf_teacher_key", ""), teacher_keys())
    state["yf_teacher_key"] = ""  # the key is not kept, not even in the widget
    if teacher is None:
        flash("teach", "warning", words("teacher-key-wrong"))
        return
    state["yf_teacher"] = teacher
    mine = class_galleries().opened_by(teacher)
    state["yf_classes"] = list(dict.fromkeys(state["yf_classes"] + mine))
    flash("teach", "success", words("teacher-unlocked" if not mine else "teacher-unlocked-with-galleries",
                                    galleries=len(mine)))


def lock_teacher() -> None:
    state["yf_teacher"] = None


def open_class() -> None:
    if state["yf_teacher"] is None:  # only the teacher's expander has this button; a stale click does nothing
        return
    try:
        code = class_galleries().open(state.get("yf_new_code", ""), state["yf_teacher"])
    except lesson.GalleryError as err:
        flash("teach", "warning", plain.markdown(str(err), limit=None))
        return
    state["yf_classes"] = list(dict.fromkeys(state["yf_classes"] + [code]))
    state.pop("yf_new_code", None)
    flash("teach", "success", words("class-opened", code=plain.markdown(code)))


def close_class(code: str) -> None:
    if state["yf_teacher"] is not None:
        class_galleries().close(code, state["yf_teacher"])
    state["yf_classes"] = [c for c in state["yf_classes"] if c != code]


def join_class() -> None:
    try:
        code = class_galleries().join(state.get("yf_join_code", ""))
    except lesson.GalleryError as err:
        flash("class", "warning", plain.markdown(str(err), limit=None))
        return
    state["yf_classes"] = list(dict.fromkeys(state["yf_classes"] + [code]))
    state["yf_join_code"] = ""
    flash("class", "success", words("class-joined", code=plain.markdown(code)))


def leave_class(code: str) -> None:
    state["yf_classes"] = [c for c in state["yf_classes"] if c != code]


def share(code: str, name: str) -> None:
    person = next((p for p in state["yf_enrolled"] if p.name == name), None)
    if person is None:
        return
    try:
        class_galleries().add(code, state["yf_owner"], person.name, person.embeddings, person.crops[0],
                              session=this_session())
    except lesson.GalleryError as err:
        flash("class", "warning", plain.markdown(str(err), limit=None))


def unshare(code: str, name: str | None = None) -> None:
    class_galleries().remove(code, state["yf_owner"], name)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

lesson_header(PAGE)
st.markdown(words("intro"))

with st.container(border=True):
    st.markdown(words("privacy"))
    st.button("Forget my faces", icon=":material/delete_forever:", on_click=forget_my_faces, key="yf_forget",
              help=words("help-forget"))
    show_flash("privacy")

model = face_model()
embed = model.embed_crops if model is not None else None

# ---- 1. photos ------------------------------------------------------------------------------
st.header("1. Your photos")
up_col, cam_col = st.columns([3, 2])
with up_col:
    st.file_uploader("Upload photos", key=upload_key(), accept_multiple_files=True, type=lesson.UPLOAD_TYPES,
                     help=words("help-upload"), on_change=take_photos, args=(upload_key(), "upload"))
    held = list(state["yf_cache"].values()) + state["yf_kept"]
    st.caption(words("photos-held", held=len(held), most=lesson.MAX_SESSION_PHOTOS,
                     mb=sum(p.nbytes for p in held) / 2**20))
with cam_col:
    webcam = st.toggle("Use the webcam", key="yf_webcam", help=words("help-webcam"))
    if webcam:
        st.camera_input("Take a photo", key=camera_key(), on_change=take_photos, args=(camera_key(), "webcam"))

photos = lesson.choose_faces(state["yf_cache"], lambda d: state.get(f"yf_face_{d}"), embed)
photos = photos + [p for p in state["yf_kept"] if p.digest not in {q.digest for q in photos}]
left_out = state["yf_notes"]
labels = {p.key: f"{i + 1}. {plain.visible(p.name)}" for i, p in enumerate(photos)}  # plain text: ui.plain
by_key = {p.key: p for p in photos}
ready = [p for p in photos if p.ready]
show_flash("photos")
for note in left_out:
    st.warning(plain.markdown(note, limit=None), icon=":material/warning:")  # notes name the files

if not photos:
    st.info(words("no-photos"), icon=":material/add_a_photo:")
for p in state["yf_failed"]:  # the last photos taken that could not be used
    if p.preview is None:  # not an image at all: only the message
        st.warning(f"**{plain.markdown(p.name)}**: {p.error}", icon=":material/warning:")
        continue
    shown, said = st.columns([1, 4], vertical_alignment="center")  # the refused photo beside its reason
    shown.image(p.preview, width=160)
    said.warning(f"**{plain.markdown(p.name)}**: {p.error}", icon=":material/warning:")
good = [p for p in photos if p.ok]
for start in range(0, len(good), 3):
    cols = st.columns(3)
    for col, p in zip(cols, good[start:start + 3]):
        with col, st.container(border=True):
            st.markdown(f"**{plain.markdown(labels[p.key], limit=None)}**")
            st.image(p.preview, caption=(words("caption-faces-found", faces=p.num_faces) if p.num_faces > 1
                                         else words("caption-face-found")))
            c1, c2 = st.columns([1, 2], vertical_alignment="center")
            c1.image(p.crop, width=96)
            c2.caption(words("crop-note-turned" if p.roll else "crop-note", height=p.crop.shape[0],
                             width=p.crop.shape[1], roll=abs(p.roll)))
            if p.choices > 1:
                st.selectbox("Face to use", list(range(p.choices)), key=f"yf_face_{p.digest}",
                             format_func=lambda i: f"Face {i + 1}" + (" (the largest)" if i == 0 else ""))
            for note in p.notes:
                st.caption(note)
            if p.source == "webcam" and p.ready:
                st.button("Keep this shot", key=f"yf_keep_{p.digest}", on_click=keep_shot, args=(p.digest,),
                          icon=":material/bookmark_add:", help=words("help-keep-shot"))
            if p.source == "kept":
                st.button("Drop this shot", key=f"yf_drop_{p.digest}", on_click=drop_kept, args=(p.digest,),
                          icon=":material/delete:")
            else:
                st.button("Remove this photo", key=f"yf_remove_photo_{p.digest}", on_click=remove_photo,
                          args=(p.digest,), icon=":material/delete:")
if good and model is None:
    st.info(words("no-model"), icon=":material/info:")

# ---- 2. the map -----------------------------------------------------------------------------
st.header("2. Where you land")
st.markdown(words("map-intro"))
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
    extra: list[explorer.ExtraPoint] = []
    colours: dict[str, str] = {"Your photos": ORANGE}
    if ready:
        where = lesson.place(np.stack([p.embedding for p in ready]), sm["embeddings"], points)
        extra += [explorer.ExtraPoint(tuple(float(v) for v in xy), labels[p.key].split(".")[0], "Your photos")
                  for p, xy in zip(ready, where)]
    for i, person in enumerate(state["yf_enrolled"]):  # names on a chart: Plotly-safe plain text (ui.plain)
        group = f"Enrolled: {plain.plotly(person.name)}"
        colours[group] = ENROLLED_COLOURS[i % len(ENROLLED_COLOURS)]
        where = lesson.place(person.embeddings, sm["embeddings"], points)
        extra += [explorer.ExtraPoint(tuple(float(v) for v in xy), plain.plotly(person.name) if j == 0 else "", group)
                  for j, xy in enumerate(where)]
    for code in state["yf_classes"]:
        entries = class_galleries().entries(code)
        if entries:
            group = f"Class {code}"
            colours[group] = CLASS_COLOUR
            means = np.stack([e.embeddings.mean(axis=0) for e in entries])
            means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
            where = lesson.place(means, sm["embeddings"], points)
            extra += [explorer.ExtraPoint(tuple(float(v) for v in xy), plain.plotly(e.person), group)
                      for e, xy in zip(entries, where)]
    traces = [*shipped_map_traces(maps.shipped_sha256, dims, show_names, maps),
              *explorer.star_traces(extra, dims, colours)]
    title = "The shipped model's map" + (f" with your {len(ready)} photo{'s' if len(ready) != 1 else ''}" if ready else "")
    plot(chart(traces, title, height=600, **explorer.map_layout(dims)), key="yf_map")
    st.caption(words("map-caption"))
else:
    sm = None
    st.info(words("no-maps"), icon=":material/map:")

selected = None
if ready:
    keys = [p.key for p in ready]
    if state.get("yf_photo") not in keys:
        state["yf_photo"] = keys[0]
    selected = by_key[st.selectbox("Photo to look at (here and in identification below)", keys, key="yf_photo",
                                   format_func=labels.get)]
    if sm is not None:
        who = lambda row: maps.names[maps.labels[row]].replace("_", " ")  # noqa: E731
        lfw_faces = lfw_photos(words("photos-needed"))
        rows_of = photo_index(lfw_faces) if lfw_faces is not None else {}
        nearest = lesson.nearest_photos(selected.embedding, sm["embeddings"], maps.labels, k=5)
        people = lesson.nearest_people(selected.embedding, sm["embeddings"], maps.labels, k=3)
        st.markdown(f"**{plain.markdown(labels[selected.key], limit=None)}**: " + words("nearest-photos-after-name"))
        twin = lesson.gallery_twin(selected.fingerprint, lfw_faces.source if lfw_faces is not None else "",
                                   [(n.row, maps.files[n.row]) for n in nearest[:3]])  # an LFW photo uploaded back
        cols = st.columns(6)
        with cols[0]:
            st.image(selected.crop, width=96, caption="you")
        for col, n in zip(cols[1:], nearest):
            with col:
                r = rows_of.get(maps.files[n.row])
                if r is not None:
                    st.image(lfw_faces.images[r], width=96)
                st.markdown(f"{who(n.row)}  \nd² = {n.distance:.3f}  \n"
                            f"{'seen' if maps.seen[n.row] else 'never seen'} in training"
                            + ("  \n**this very photo**" if n.row == twin else ""))
        if twin is not None:
            st.info(words("in-gallery", file=maps.files[twin].split("/")[-1], person=who(twin),
                          distance=next(n.distance for n in nearest if n.row == twin)), icon=":material/photo_library:")
        st.markdown("Nearest people: " + ", ".join(f"**{maps.names[n.person].replace('_', ' ')}** ({n.distance:.3f})"
                                                   for n in people) + ".")

# ---- 3. verification ------------------------------------------------------------------------
st.header("3. Same person or not?")
lfw = lfw_embeddings() if model is not None else None
pairs = devtest_pairs(lfw.checkpoint_sha256 or "unknown", lfw) if lfw is not None else None
options = lesson.thresholds(model.card if model is not None else {}, pairs)
st.markdown(words("verification-intro"))
sha = (lfw.checkpoint_sha256 or "unknown") if lfw is not None else "unknown"
threshold, choice, far_revealed = None, None, False
strict = options.get("strict")
if strict is not None and strict.n_diff > 0:  # what "0 of 500" proves, predicted before it is shown
    bound = lesson.far_of(strict)
    far_revealed = predict_then_see(words.prediction("far-bound", k=bound.k, n=bound.n, upper=bound.upper),
                                    round(100 * bound.upper, 2), key="yf-far-bound", shown=lambda v: f"{float(v):.2f}%")
    if far_revealed:
        unseen = unseen_pairs_reference(sha, lfw) if lfw is not None else None
        proof = dict(k=bound.k, n=bound.n, upper=bound.upper, low=bound.low, high=bound.high)
        if unseen is not None:
            st.markdown(words("far-proof", **proof, needed=lesson.pairs_needed(1e-3),
                              unseen_pairs=len(unseen.different),
                              unseen=float(unseen.share_different_within(strict.value))))
        else:
            st.markdown(words("far-proof-no-reference", **proof))
if options:
    names = list(options)
    choice = st.segmented_control("Threshold", names, format_func=THRESHOLD_NAMES.get, default=names[0],
                                  key="threshold", bind="query-params") or names[0]
    threshold = options[choice]
    t1, t2, t3 = st.columns(3)
    t1.metric("Threshold", f"{threshold.value:.3f}", border=True, help=words("help-threshold", how=threshold.how))
    t2.metric("VAL at it", f"{threshold.val:.1%}", border=True,
              help=words("help-val", pairs=threshold.n_same))
    t3.metric("Strangers within it", f"{threshold.false_accepts} of {threshold.n_diff}", border=True,
              help=words("help-far", pairs=threshold.n_diff))
    if far_revealed:  # the intervals answer the prediction above
        val_rate, far_rate = lesson.val_of(threshold), lesson.far_of(threshold)
        st.caption(words("intervals", val_low=val_rate.low, val_high=val_rate.high, ta=val_rate.k, n_same=val_rate.n,
                         far_low=far_rate.low, far_high=far_rate.high, fa=far_rate.k, n_diff=far_rate.n))
    st.info(words("lfw-only"), icon=":material/photo_camera:")

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
    reference = unseen_pairs_reference(sha, lfw) if lfw is not None else None
    verdict = lesson.verify(a.embedding, b.embedding, threshold, reference)
    if a.key == b.key:
        st.caption(words("same-photo"))
    vp = words.prediction("verdict", threshold_name=choice, threshold=threshold.value, distance=verdict.distance,
                          val=threshold.val)
    if a.key != b.key and not predict_then_see(vp, vp.options[lesson.same_or_not(verdict)],
                                               key=f"yf-verdict-{a.key}-{b.key}-{choice}"):
        verdict = None  # held back, with the distance on the histogram below, until the student commits
if verdict is not None:
    v1, v2, v3 = st.columns(3)
    v1.metric("Squared distance D", f"{verdict.distance:.3f}", border=True)
    v2.metric("The model says", "same person" if verdict.same else "not the same", border=True)
    if verdict.strangers_within is not None:
        v3.metric("Strangers at least this close", f"{verdict.strangers_within:.3%}", border=True,
                  help=words("help-strangers"))
    relation = r"\le" if verdict.same else ">"
    st.latex(rf"D = \lVert f(x_1) - f(x_2) \rVert_2^2 = {verdict.distance:.3f} \;{relation}\; {threshold.value:.3f}")
    st.markdown(lesson.explain(verdict))
    if verdict.strangers_within is not None:
        with st.container(border=True):
            st.markdown(words("honest-percentage", distance=verdict.distance, strangers=verdict.strangers_within,
                              same=verdict.same_within, reference=verdict.reference))
            if pairs is not None:  # from the share of strangers to a probability, as lesson 7 does it
                fit = calibration(sha, pairs)
                prior = st.select_slider("Share of comparisons that are same-person ones (the prior)",
                                         evaluation.PRIORS, value=0.5, format_func=evaluation.prior_words,
                                         key="yf_prior")
                st.markdown(words("posterior", distance=verdict.distance,
                                  lr=float(fit.likelihood_ratio(verdict.distance)),
                                  prior=evaluation.prior_words(prior),
                                  posterior=float(fit.posterior(verdict.distance, prior))))
                st.page_link("pages/evaluation.py", label="Lesson 7: how P(same | D) is fitted and checked",
                             icon=":material/rule:")
            st.caption(words("naive-percentage", naive=verdict.naive_percentage))
elif threshold is not None and len(ready) < 2:
    st.info(words("need-two-photos"), icon=":material/compare:")

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
st.markdown(words("identification-intro"))
use_lfw = st.toggle("Include the 62 LFW people of the map", value=True, key="yf_lfw_gallery")
gallery = [lesson.GalleryPerson(p.name, p.embeddings, "you", p.keys) for p in state["yf_enrolled"]]
for code in state["yf_classes"]:
    gallery += [lesson.GalleryPerson(e.person, e.embeddings, "class") for e in class_galleries().entries(code)
                if e.owner != state["yf_owner"]]
if use_lfw and sm is not None:
    gallery += sm["gallery"]
gallery_photos = sum(len(g.embeddings) for g in gallery)
if selected is None or threshold is None:
    st.info(words("identify-needs-photo"), icon=":material/person_search:")
elif not gallery:
    st.info(words("empty-gallery"), icon=":material/person_search:")
else:
    found = lesson.identify(selected.embedding, gallery, threshold.value, probe_key=selected.digest)
    sources = {"you": "enrolled by you", "class": "class gallery", "lfw": "LFW"}
    # The names below (a photo's file name, an enrolled person's) are never placeholders: they go beside the words.
    against = words("gallery-left-out-after-name" if found.left_out else "gallery-after-name", people=len(gallery),
                    photos=gallery_photos, threshold=threshold.value, left_out=found.left_out)
    st.markdown(f"**{plain.markdown(labels[selected.key], limit=None)}** " + against)
    if found.answer is not None:
        answer = found.answer
        st.success(f"**{plain.markdown(answer.name)}** ({sources[answer.source]}): "
                   + words("identified-after-name", distance=answer.distance, threshold=threshold.value),
                   icon=":material/how_to_reg:")
    elif found.nearest is not None:
        nearest = found.nearest
        st.info(words("unknown-before-name") + f" {plain.markdown(nearest.name)} ({sources[nearest.source]}) "
                + words("unknown-after-name", distance=nearest.distance, threshold=threshold.value)
                + f" \"{plain.markdown(nearest.name)}\" anyway.", icon=":material/help:")
    st.dataframe([{"person": plain.visible(c.name), "from": sources[c.source], "D to their nearest photo": round(c.distance, 3),
                   "within the threshold": c.distance <= threshold.value} for c in found.ranking],
                 hide_index=True, width="stretch", key="yf_ranking")
    if lfw is not None:
        far_here = float(unseen_pairs_reference(lfw.checkpoint_sha256 or "unknown", lfw).share_different_within(threshold.value))
        chance = evaluation.stranger_match_estimate(far_here, gallery_photos)
        st.caption(words("stranger-chance", photos=gallery_photos, one_in=1 / far_here, far=far_here, chance=chance)
                   if far_here > 0 else words("stranger-no-match", photos=gallery_photos))

# ---- 5. enrolment ---------------------------------------------------------------------------
st.header("5. Enrol a person: a new cluster")
st.markdown(words("enrol-intro", fewest=lesson.MIN_ENROL, most=lesson.MAX_ENROL))
show_flash("enrol")
if len(ready) >= lesson.MIN_ENROL:
    e1, e2 = st.columns([1, 2])
    e1.text_input("Name", key="yf_enrol_name", max_chars=lesson.MAX_NAME, placeholder="e.g. Me")
    e2.multiselect("Photos of this person", [p.key for p in ready], key="yf_enrol_photos", format_func=labels.get,
                   max_selections=lesson.MAX_ENROL)
    st.button("Enrol", key="yf_enrol", on_click=enrol_person, icon=":material/person_add:")
else:
    st.info(words("enrol-needs-photos", fewest=lesson.MIN_ENROL, have=len(ready)), icon=":material/person_add:")
for i, person in enumerate(state["yf_enrolled"]):
    with st.container(border=True):
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        with c1:
            st.markdown(f"**{plain.markdown(person.name)}**: {len(person.keys)} photos")
            st.image(list(person.crops), width=64)
            if threshold is not None:
                s = lesson.cluster_summary(person.embeddings, threshold.value,
                                           sm["embeddings"] if sm is not None else None)
                st.caption(words("cluster" if s.nearest_other is None else "cluster-and-nearest",
                                 within=s.pairs_within, pairs=s.pairs, mean=s.mean_distance, largest=s.max_distance,
                                 nearest=s.nearest_other))
        with c2:
            st.button("Remove", key=f"yf_remove_{i}", on_click=remove_enrolled, args=(person.name,),
                      icon=":material/person_remove:")
            for code in state["yf_classes"]:
                shared = any(e.owner == state["yf_owner"] and e.person == person.name
                             for e in class_galleries().entries(code))
                if shared:
                    st.button(f"Unshare from {plain.markdown(code)}", key=f"yf_unshare_{i}_{code}", on_click=unshare,
                              args=(code, person.name))
                else:
                    st.button(f"Share with class {plain.markdown(code)}", key=f"yf_share_{i}_{code}", on_click=share,
                              args=(code, person.name))

# ---- 6. class gallery -----------------------------------------------------------------------
st.header("6. Class gallery (off unless your teacher opens one)")
st.markdown(words("class-intro", most=lesson.MAX_ENROL))
show_flash("class")
galleries_on = bool(teacher_keys())
if not galleries_on:
    st.info(words("class-off-short-key" if teacher_key_too_short() else "class-off", least=lesson.MIN_TEACHER_KEY),
            icon=":material/group_off:")
else:
    teach, join = st.columns(2)
    with teach, st.expander("For teachers: open or close a class gallery", expanded=state["yf_teacher"] is not None):
        show_flash("teach")
        if state["yf_teacher"] is None:
            st.caption(words("teacher-key-help"))
            st.text_input("Teacher key", key="yf_teacher_key", type="password", max_chars=200)
            st.button("Unlock", key="yf_unlock", on_click=unlock_teacher, icon=":material/key:")
        else:
            state.setdefault("yf_new_code", lesson.new_code())
            st.text_input("Class code for your class", key="yf_new_code", max_chars=24)
            st.button("Open the class gallery", key="yf_open_class", on_click=open_class, icon=":material/groups:")
            for code in class_galleries().opened_by(state["yf_teacher"]):
                st.button(f"Close {plain.markdown(code)} and delete its entries", key=f"yf_close_{code}",
                          on_click=close_class, args=(code,))
            st.button("Lock the teacher's buttons", key="yf_lock", on_click=lock_teacher, type="tertiary")
    with join:
        st.text_input("Class code from your teacher", key="yf_join_code", max_chars=24)
        st.button("Join", key="yf_join", on_click=join_class, icon=":material/login:")
for code in list(state["yf_classes"]):
    if not class_galleries().exists(code):
        state["yf_classes"] = [c for c in state["yf_classes"] if c != code]
        st.info(words("class-closed", code=plain.markdown(code)), icon=":material/info:")
        continue
    entries = class_galleries().entries(code)
    with st.container(border=True):
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="center")
        c1.markdown(words("class-one-person" if len(entries) == 1 else "class-people", code=plain.markdown(code),
                          people=len(entries)))
        c2.button("Remove my faces from it", key=f"yf_unshare_all_{code}", on_click=unshare, args=(code,))
        c3.button("Leave", key=f"yf_leave_{code}", on_click=leave_class, args=(code,))
        if entries:
            st.image([e.face for e in entries], width=64,  # classmates' names: plain text (ui.plain)
                     caption=[plain.markdown(e.person) + (" (yours)" if e.owner == state["yf_owner"] else "")
                              for e in entries])
        if not state["yf_enrolled"]:
            st.caption(words("how-to-share"))

# ---- 7. face recognition and people ---------------------------------------------------------
st.header("7. Face recognition and people")
st.markdown(words("people-intro"))
if threshold is not None and lfw is not None:
    rates = unequal_errors(sha, threshold.value, lfw)
    if rates.overall > 0:
        ratio = rates.quantile(0.99) / rates.overall
        mp = words.prediction("most-mistaken", threshold_name=choice, overall=rates.overall)
        if predict_then_see(mp, round(ratio, 1), key=f"yf-most-mistaken-{choice}",
                            shown=lambda v: f"{float(v):.1f} times"):
            st.markdown(words("people-rates", threshold_name=choice, overall=rates.overall, people=rates.people,
                              never=rates.share_never, p99=rates.quantile(0.99), ratio=ratio,
                              highest=float(rates.rates.max())))
            bars = [{"type": "histogram", "x": (100 * rates.rates).round(5).tolist(), "nbinsx": 40,
                     "name": f"{rates.people:,} people never seen in training", "marker": {"color": BLUE}}]
            mark = [{"type": "line", "x0": 100 * rates.overall, "x1": 100 * rates.overall, "y0": 0, "y1": 1,
                     "yref": "paper", "line": {"color": "black", "dash": "dash", "width": 2}}]
            plot(chart(bars, f"How often each person meets a stranger within the {choice} threshold", height=340,
                       shapes=mark, xaxis={"title": "% of their pairs with a stranger's photo within the threshold"},
                       yaxis={"title": "people"},
                       annotations=[{"x": 100 * rates.overall, "y": 1.0, "yref": "paper", "text": " average",
                                     "showarrow": False, "xanchor": "left", "yanchor": "top"}]), key="yf_people")
with st.container(border=True):
    st.markdown(words("people-consent"))

try_this(words("try"))
check_yourself(words.questions(), key="your-faces")
