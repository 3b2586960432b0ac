"""The "Your faces" page driven like a browser would (AppTest): uploads and webcam shots of real LFW
photos land where lessons/your_faces.py says, bad files give messages while the session stays
usable, verification, identification and enrolment show what the lesson computes, "Forget my faces"
empties the session, nothing is written to disk during an upload, and a class gallery is shared
between two sessions only through its code. The page-wide promises (goal, quiz, no data, corrupt
checkpoint) are in test_app_pages.py."""

from __future__ import annotations

import html
import io
import re
import string
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import (encode, figure_values, figures, fresh_temp_dir, lfw_image, listing, open_page, page_text,
                      watching_file_writes)
from lessons import evaluation as ev
from lessons import your_faces as yf
from model.embed import load_lfw_embeddings, load_model
from model.maps import SHIPPED, load_explorer_maps
from tests.hostile import HOSTILE_FILE_NAMES, HOSTILE_NAMES
from ui import plain

pytestmark = pytest.mark.usefixtures("fresh_caches")
PAGE = "pages/your_faces.py"
BUSH = [f"George_W_Bush/George_W_Bush_{i:04d}.jpg" for i in range(1, 6)]
BLAIR = "Tony_Blair/Tony_Blair_0001.jpg"


@pytest.fixture(scope="module")
def maps():
    return load_explorer_maps()


def jpeg_of(images: Path, rel: str, quality: int = 90) -> bytes:
    """An LFW photo re-encoded, so it is not byte-for-byte the file on disk."""
    return encode(lfw_image(images, rel), "JPEG", quality=quality)


def as_files(images: Path, rels: list[str]) -> list[tuple[str, bytes, str]]:
    return [(Path(rel).name, jpeg_of(images, rel), "image/jpeg") for rel in rels]


def upload_key(app) -> str:
    """The uploader's key now: the page gives it a fresh, empty one once it has taken its files."""
    gen = app.session_state["yf_gen"] + app.session_state["yf_up_gen"]
    return "your_faces_upload" if gen == 0 else f"your_faces_upload_{gen}"


def upload(app, files, key: str | None = None):
    app.file_uploader(key=key or upload_key(app)).set_value(files)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def photos(app) -> list[yf.Photo]:
    """The session's photos with an embedding, in page order (the uploads' cache, then kept shots)."""
    cached = list(app.session_state["yf_cache"].values()) + list(app.session_state["yf_kept"])
    return [p for p in cached if p.ready]


def the_map(app) -> dict:
    return next(f for f in figures(app) if f["data"] and str(f["data"][0].get("name", "")).startswith("People seen"))


def trace(fig: dict, name: str) -> dict | None:
    return next((t for t in fig["data"] if t.get("name") == name), None)


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def verdict_key(app, choice: str = "strict") -> str:
    """The key of the verification's prediction for the pair now chosen."""
    a, b = app.session_state["yf_verify_a"], app.session_state["yf_verify_b"]
    return f"yf-verdict-{a}-{b}-{choice}"


def commit(app, key: str, guess) -> None:
    """Make a prediction (a radio or a slider) and lock it in."""
    widget = f"predict-{key}-guess"
    found = [w for w in app.radio if w.key == widget] or [w for w in app.slider if w.key == widget]
    assert found, f"no prediction {key!r} on the page"
    found[0].set_value(guess).run()  # the lock button is enabled once a guess is there
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception, [e.value for e in app.exception]


def ranking(app):
    """The identification's ranking table (the page's only dataframe; AppTest gives tables no key)."""
    assert len(app.dataframe) == 1
    return app.dataframe[0].value


def shipped(maps, dims: int = 2):
    run = maps.runs[SHIPPED]
    step = int(run.steps[-1])
    return run.embeddings(step), run.points(step, dims)


# --------------------------------------------------------------------------------------------
# Uploads and the map
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_uploads_are_found_shown_and_land_next_to_their_person(shared_data, images, maps):
    app = open_page(PAGE, shared_data)
    assert app.file_uploader(key="your_faces_upload").label == "Upload photos"
    assert trace(the_map(app), "Your photos") is None  # the map is there before any photo
    upload(app, as_files(images, BUSH[:3] + [BLAIR]))
    got = photos(app)
    assert [p.name for p in got] == [Path(r).name for r in BUSH[:3] + [BLAIR]]
    assert all(p.num_faces >= 1 and p.crop.shape == (64, 64, 3) for p in got)
    assert len(app.image) >= 4  # the photos with their boxes, and the crops
    # the stars are where the lesson places them
    embeddings, points = shipped(maps)
    stars = trace(the_map(app), "Your photos")
    where = yf.place(np.stack([p.embedding for p in got]), embeddings, points)
    np.testing.assert_allclose(figure_values(stars["x"]), where[:, 0], atol=2e-3)
    np.testing.assert_allclose(figure_values(stars["y"]), where[:, 1], atol=2e-3)
    assert stars["text"] == ["1", "2", "3", "4"]
    # under them, every photo of the explorer set where the shipped map has it (built once, as arrays)
    rows = {}
    for name in ("People seen in training", "People never seen in training"):
        photos_trace = trace(the_map(app), name)
        rows[name] = figure_values(photos_trace["customdata"]).astype(int)
        np.testing.assert_allclose(figure_values(photos_trace["x"]), points[rows[name], 0], atol=2e-3)
        assert len(photos_trace["text"]) == len(rows[name]) == len(photos_trace["marker"]["color"])
    assert sorted(np.concatenate(list(rows.values())).tolist()) == list(range(len(points)))
    # the first photo's nearest people, with distances: its own person first
    text = page_text(app)
    nearest = yf.nearest_people(got[0].embedding, embeddings, maps.labels, k=3)
    assert maps.names[nearest[0].person] == "George_W_Bush"
    assert f"Nearest people: **George W Bush** ({nearest[0].distance:.3f})" in text
    # ... and the faces of its five nearest LFW photos
    assert "d² = " in text and len(app.image) >= 6
    # another photo to look at: the Blair one
    app.selectbox(key="yf_photo").set_value(got[3].key).run()
    assert "Nearest people: **Tony Blair**" in page_text(app)
    # 3-D
    app.button_group(key="view").set_value("3-D").run()
    stars = trace(the_map(app), "Your photos")
    assert stars["type"] == "scatter3d" and len(figure_values(stars["z"])) == 4


@pytest.mark.slow
def test_webcam_shot_is_used_and_can_be_kept(shared_data, images):
    app = open_page(PAGE, shared_data)
    assert not app.camera_input  # the camera is off until asked for
    app.toggle(key="yf_webcam").set_value(True).run()
    app.camera_input(key="your_faces_camera").set_value(("image.jpg", jpeg_of(images, BUSH[0]), "image/jpeg")).run()
    assert not app.exception
    shot = photos(app)
    assert len(shot) == 1 and shot[0].source == "webcam" and shot[0].name == "Webcam shot"
    assert "Webcam shot" in page_text(app)
    app.button(key=f"yf_keep_{shot[0].digest}").click().run()
    kept = app.session_state["yf_kept"]
    assert [p.name for p in kept] == ["Webcam shot 1"] and kept[0].source == "kept"
    # the camera is fresh again; a second shot comes on top of the kept one
    camera = app.camera_input(key="your_faces_camera_1")
    assert camera.value is None
    camera.set_value(("image.jpg", jpeg_of(images, BUSH[1]), "image/jpeg")).run()
    assert sorted(p.name for p in photos(app)) == ["Webcam shot", "Webcam shot 1"]
    assert len(figure_values(trace(the_map(app), "Your photos")["x"])) == 2
    app.button(key=f"yf_drop_{kept[0].digest}").click().run()
    assert app.session_state["yf_kept"] == [] and len(photos(app)) == 1


@pytest.mark.slow
def test_bad_files_give_messages_and_the_session_stays_usable(shared_data, images):
    app = open_page(PAGE, shared_data)
    whole = jpeg_of(images, BLAIR)
    tiny, sky = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (10, 10)).save(tiny, "PNG")
    Image.new("RGB", (500, 400), (90, 140, 200)).save(sky, "PNG")
    bad = [("empty.jpg", b"", "image/jpeg"), ("notes.jpg", b"just some text", "image/jpeg"),
           ("cut.jpg", whole[: len(whole) // 3], "image/jpeg"), ("tiny.png", tiny.getvalue(), "image/png"),
           ("sky.png", sky.getvalue(), "image/png"),
           ("iphone.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "image/heic")]
    upload(app, bad + as_files(images, [BUSH[0]]))
    warnings = [str(w.value) for w in app.warning]
    expected = {"empty.jpg": "empty", "notes.jpg": "not an image", "cut.jpg": "damaged", "tiny.png": "too small",
                "sky.png": "No face was found", "iphone.heic": "HEIC"}
    for name, words in expected.items():  # file names as plain text: ui.plain
        assert any(w.startswith(f"**{plain.markdown(name)}**") and words in w for w in warnings), (name, warnings)
    assert "Traceback" not in page_text(app)
    # the good photo was used all the same
    assert [p.name for p in photos(app)] == ["George_W_Bush_0001.jpg"]
    assert len(figure_values(trace(the_map(app), "Your photos")["x"])) == 1
    # the bad files removed, two good ones: the messages are gone and verification works
    upload(app, as_files(images, [BUSH[0], BUSH[1]]))
    assert not any(w.startswith("**") for w in (str(x.value) for x in app.warning))
    commit(app, verdict_key(app), "Same person")
    assert metric(app, "Squared distance D")
    assert len(app.session_state["yf_cache"]) == 2  # the bad files' results are not kept either


@pytest.mark.slow
def test_photos_are_taken_then_their_bytes_released(shared_data, images, monkeypatch):
    """Each upload is processed once, as it arrives; then its bytes leave Streamlit's upload manager,
    the uploader is a fresh, empty one, and the page keeps only previews, crops and embeddings, up to
    MAX_SESSION_PHOTOS (a message says so when the cap is reached). Each photo can be removed."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    managers = []
    init = MemoryUploadedFileManager.__init__

    def remembered(self, *args, **kwargs):
        init(self, *args, **kwargs)
        managers.append(self)

    monkeypatch.setattr(MemoryUploadedFileManager, "__init__", remembered)
    monkeypatch.setattr(yf, "MAX_SESSION_PHOTOS", 3)
    app = open_page(PAGE, shared_data)
    held_files = lambda: sum(len(files) for m in managers for files in m.file_storage.values())  # noqa: E731
    upload(app, as_files(images, BUSH[:2]))
    assert [p.name for p in photos(app)] == ["George_W_Bush_0001.jpg", "George_W_Bush_0002.jpg"]
    assert held_files() == 0  # the bytes are gone from Streamlit's upload manager
    assert upload_key(app) == "your_faces_upload_1" and not app.file_uploader(key=upload_key(app)).value
    assert "keeps 2 of at most 3 photos" in " ".join(page_text(app).split())
    held = app.session_state["yf_cache"]
    assert all(not isinstance(v, (bytes, bytearray, memoryview)) for p in held.values() for v in vars(p).values())
    assert all(p.nbytes <= yf.PHOTO_MAX_BYTES for p in held.values())
    # the photos stay while the page is used, though the files are gone
    app.toggle(key="yf_lfw_gallery").set_value(False).run()
    assert len(photos(app)) == 2 and len(figure_values(trace(the_map(app), "Your photos")["x"])) == 2
    # the cap: two more photos, one room left
    upload(app, as_files(images, BUSH[2:4]))
    assert len(app.session_state["yf_cache"]) == 3 and held_files() == 0
    said = " ".join(str(w.value) for w in app.warning)
    assert "at most 3 photos" in said and "was not added" in said and "Remove a photo" in said
    # removing one makes room
    app.button(key=f"yf_remove_photo_{photos(app)[0].digest}").click().run()
    assert [p.name for p in photos(app)] == ["George_W_Bush_0002.jpg", "George_W_Bush_0003.jpg"]
    upload(app, as_files(images, BUSH[3:4]))
    assert len(photos(app)) == 3 and not any("was not added" in str(w.value) for w in app.warning)


@pytest.mark.slow
def test_a_photo_with_two_faces_lets_you_pick_one(shared_data, images, maps):
    app = open_page(PAGE, shared_data)
    with Image.open(images / BLAIR) as blair, Image.open(images / BUSH[0]) as bush:
        two = Image.new("RGB", (900, 420), (205, 205, 205))
        two.paste(bush.convert("RGB").resize((330, 330)), (20, 40))  # the larger face: face 1
        two.paste(blair.convert("RGB"), (600, 80))
    out = io.BytesIO()
    two.save(out, "JPEG", quality=92)
    upload(app, [("two.jpg", out.getvalue(), "image/jpeg")])
    first = photos(app)[0]
    assert first.num_faces >= 2 and first.chosen == 0
    assert "Nearest people: **George W Bush**" in page_text(app)
    app.selectbox(key=f"yf_face_{first.digest}").set_value(1).run()
    second = photos(app)[0]
    assert second.chosen == 1 and second.key != first.key and len(photos(app)) == 1
    assert "Nearest people: **Tony Blair**" in page_text(app)
    embeddings, points = shipped(maps)
    stars = trace(the_map(app), "Your photos")
    np.testing.assert_allclose(figure_values(stars["x"]), yf.place(second.embedding, embeddings, points)[:, 0], atol=2e-3)


# --------------------------------------------------------------------------------------------
# Verification, identification, enrolment
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_verification_against_the_far_threshold(shared_data, images, model_card):
    app = open_page(PAGE, shared_data)
    upload(app, as_files(images, [BUSH[0], BUSH[1], BLAIR]))
    got = photos(app)
    strict = model_card["metrics"]["view1_devtest_threshold_at_far_1e-3"]
    assert metric(app, "Threshold") == f"{strict:.3f}"
    assert metric(app, "VAL at it") == f"{model_card['metrics']['view1_devtest_val_at_far_1e-3']:.1%}"
    assert metric(app, "Strangers within it") == "0 of 500"
    assert "not your webcam's" in page_text(app)  # LFW's numbers do not carry over: said up front
    fit = ev.calibrate(ev.devtest_pairs(load_lfw_embeddings(load_model())), "new people")
    for other in (got[1], got[2]):
        app.selectbox(key="yf_verify_b").set_value(other.key).run()
        d = float(((got[0].embedding.astype(np.float64) - other.embedding) ** 2).sum())
        # predict first: the distance, the verdict and the distance's line on the histogram are held back
        hist = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("Your distance"))
        assert [s["x0"] for s in hist["layout"]["shapes"]] == pytest.approx([strict], abs=1e-9)
        assert not [m for m in app.metric if m.label in ("Squared distance D", "The model says")]
        assert "A percentage, honestly" not in page_text(app)
        said = "Same person" if d <= strict else "Not the same"
        commit(app, verdict_key(app), said)
        assert f"You predicted **{said}**; the answer is **{said}**" in app.success[0].value
        assert metric(app, "Squared distance D") == f"{d:.3f}"
        assert metric(app, "The model says") == ("same person" if d <= strict else "not the same")
        text = page_text(app)
        assert ("FAR = 0.0%" in text) if d <= strict else ("VAL = 16.4%" in text and "not close enough" in text)
        assert "A percentage, honestly" in text and "1 − D/4" in text
        # P(same | D) at the prior the student sets, from lesson 7's calibration on new people
        for prior in (0.5, 0.001):
            app.select_slider(key="yf_prior").set_value(prior).run()
            assert f"**P(same | D) = {float(fit.posterior(d, prior)):.1%}**" in page_text(app)
        hist = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("Your distance"))
        assert [s["x0"] for s in hist["layout"]["shapes"]] == pytest.approx([strict, d], abs=1e-9)
    app.button_group(key="threshold").set_value("balanced").run()
    assert metric(app, "Threshold") == f"{model_card['metrics']['view1_threshold_from_devtrain']:.3f}"


@pytest.mark.slow
def test_what_none_of_500_strangers_proves_is_predicted_then_shown(shared_data, model_card):
    app = open_page(PAGE, shared_data)
    assert "What 0 out of 500 proves" not in page_text(app)  # held back until the student commits
    assert not [c for c in app.caption if "95% intervals" in c.value]
    commit(app, "yf-far-bound", 0.1)  # "about one in a thousand": the common guess
    upper = 1 - 0.05 ** (1 / 500)
    assert any(f"You predicted **0.10%**; the answer is **{100 * upper:.2f}%**" in i.value for i in app.info)
    text = page_text(app)
    assert "What 0 out of 500 proves" in text and f"**{upper:.2%}**" in text and "2,995 pairs" in text
    assert "of the 6,848,158 pairs" in text  # the fairer check on every pair of unseen people
    assert any("95% intervals" in c.value and "FAR 0.00% to 0.74% (0 of 500)" in c.value for c in app.caption)
    app.button(key="predict-yf-far-bound-again").click().run()
    assert "What 0 out of 500 proves" not in page_text(app)


@pytest.mark.slow
def test_face_recognition_and_people_shows_unequal_errors_after_a_prediction(shared_data, model_card):
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    assert "7. Face recognition and people" in text and "Gender Shades" in text and "NISTIR 8280" in text
    assert "In this class" in text  # consent
    assert not [f for f in figures(app) if f["layout"]["title"]["text"].startswith("How often each person")]
    commit(app, "yf-most-mistaken-strict", 2.0)
    text = page_text(app)
    assert "times the average" in text and "the most-mistaken 1 in 100" in text
    people = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("How often each person"))
    assert len(figure_values(people["data"][0]["x"])) == 1711  # every person LFW's test split holds


@pytest.fixture(scope="module")
def model_card():
    from model.embed import load_model

    return load_model().card


@pytest.mark.slow
def test_enrol_a_person_then_identify_with_an_open_set(shared_data, images):
    app = open_page(PAGE, shared_data)
    upload(app, as_files(images, BUSH[:4] + [BLAIR]))
    got = photos(app)
    # too few photos: a message, nothing enrolled
    app.text_input(key="yf_enrol_name").set_value("Dubya")
    app.multiselect(key="yf_enrol_photos").set_value([got[0].key, got[1].key])
    app.button(key="yf_enrol").click().run()
    assert any("at least 3" in str(w.value) for w in app.warning) and app.session_state["yf_enrolled"] == []
    app.multiselect(key="yf_enrol_photos").set_value([p.key for p in got[:3]])
    app.button(key="yf_enrol").click().run()
    enrolled = app.session_state["yf_enrolled"]
    assert [p.name for p in enrolled] == ["Dubya"] and enrolled[0].embeddings.shape == (3, 128)
    assert any("Dubya is enrolled with 3 photos" in str(s.value) for s in app.success)
    assert app.multiselect(key="yf_enrol_photos").value == []
    cluster = trace(the_map(app), "Enrolled: Dubya")
    assert len(figure_values(cluster["x"])) == 3 and cluster["marker"]["color"] != "#E69F00"
    assert "pairs are within the threshold" in page_text(app)
    # identify the 4th Bush photo and the Blair photo against the enrolled person only
    app.toggle(key="yf_lfw_gallery").set_value(False).run()
    threshold = float(metric(app, "Threshold"))
    for probe in (got[3], got[4]):
        app.selectbox(key="yf_photo").set_value(probe.key).run()
        expected = yf.identify(probe.embedding, [yf.GalleryPerson("Dubya", enrolled[0].embeddings, "you",
                                                                  enrolled[0].keys)], threshold, probe.digest)
        text = page_text(app)
        if expected.answer is not None:
            assert any(str(s.value).startswith("**Dubya** (enrolled by you)") for s in app.success)
        else:
            assert any(str(i.value).startswith("**Unknown.** The nearest is Dubya") for i in app.info)
        assert f"D = {expected.nearest.distance:.3f}" in text
    table = ranking(app)
    assert list(table["person"]) == ["Dubya"]
    # an enrolled photo used as the probe is not matched with itself
    app.selectbox(key="yf_photo").set_value(got[0].key).run()
    assert "enrolled copy of this very photo was left out" in page_text(app)
    # with the LFW people in the gallery, the ranking has more people in it
    app.toggle(key="yf_lfw_gallery").set_value(True).run()
    assert len(ranking(app)) == 5
    # removing the person removes the cluster
    app.button(key="yf_remove_0").click().run()
    assert app.session_state["yf_enrolled"] == [] and trace(the_map(app), "Enrolled: Dubya") is None


# --------------------------------------------------------------------------------------------
# Privacy
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_forget_my_faces_empties_the_session(shared_data, images):
    app = open_page(PAGE, shared_data)
    upload(app, as_files(images, BUSH[:3]))
    app.multiselect(key="yf_enrol_photos").set_value([p.key for p in photos(app)])
    app.text_input(key="yf_enrol_name").set_value("Someone")
    app.button(key="yf_enrol").click().run()
    assert app.session_state["yf_enrolled"]
    app.button(key="yf_forget").click().run()
    assert not app.exception
    assert app.session_state["yf_cache"] == {} and app.session_state["yf_kept"] == []
    assert app.session_state["yf_enrolled"] == []
    assert not [k for k in app.session_state if str(k).startswith("yf_face_")]
    assert any("gone from this session" in str(s.value) for s in app.success)
    fig = the_map(app)
    assert trace(fig, "Your photos") is None and trace(fig, "Enrolled: Someone") is None
    # a fresh, empty uploader; the session goes on working
    fresh = app.file_uploader(key=upload_key(app))
    assert fresh.label == "Upload photos" and not fresh.value
    upload(app, as_files(images, [BLAIR]))
    assert [p.name for p in photos(app)] == ["Tony_Blair_0001.jpg"]


@pytest.mark.slow
def test_nothing_is_written_to_disk_during_an_upload(shared_data, images, tmp_path, monkeypatch):
    """The temp folder (a fresh one, for Python and for C libraries) and the course's cache stay as
    they were, and no file is opened for writing while photos are uploaded, processed, compared,
    enrolled and forgotten."""
    from model.data import cache_dir

    temp = fresh_temp_dir(tmp_path, monkeypatch)
    app = open_page(PAGE, shared_data)  # the model, the maps and the LFW photos are loaded now
    upload(app, as_files(images, [BUSH[0]]))  # and OpenCV's cascades
    cache = cache_dir()
    before_cache, before_temp = (listing(cache) if cache.exists() else {}), listing(temp)
    with watching_file_writes() as writes:
        upload(app, as_files(images, BUSH[:4]) + [("bad.jpg", b"no image", "image/jpeg")])
        app.multiselect(key="yf_enrol_photos").set_value([p.key for p in photos(app)[:3]])
        app.text_input(key="yf_enrol_name").set_value("W")
        app.button(key="yf_enrol").click().run()
        app.toggle(key="yf_webcam").set_value(True).run()
        app.camera_input(key="your_faces_camera").set_value(("image.jpg", jpeg_of(images, BLAIR), "image/jpeg")).run()
        app.button(key="yf_forget").click().run()
    assert not app.exception
    assert writes == []
    assert listing(temp) == before_temp == {}
    assert (listing(cache) if cache.exists() else {}) == before_cache


# --------------------------------------------------------------------------------------------
# The class gallery: two sessions
# --------------------------------------------------------------------------------------------


TEACHER_KEY = "correct horse battery"


def unlock(app, key: str = TEACHER_KEY):
    app.text_input(key="yf_teacher_key").set_value(key)
    app.button(key="yf_unlock").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.slow
def test_class_gallery_is_shared_only_through_its_code(shared_data, images, monkeypatch):
    monkeypatch.setenv("FACENET_TEACHER_KEY", TEACHER_KEY)
    teacher = open_page(PAGE, shared_data)  # the teacher, who also enrols someone
    student = open_page(PAGE, shared_data)
    assert "Class" not in " ".join(t.get("name", "") for t in the_map(student)["data"])
    # enrol, then open a class: it is joined at once, and the person can be shared with it
    upload(teacher, as_files(images, BUSH[:3]))
    teacher.multiselect(key="yf_enrol_photos").set_value([p.key for p in photos(teacher)])
    teacher.text_input(key="yf_enrol_name").set_value("Bush")
    teacher.button(key="yf_enrol").click().run()
    unlock(teacher)
    teacher.text_input(key="yf_new_code").set_value("room 42")
    teacher.button(key="yf_open_class").click().run()
    assert any("ROOM42 is open" in str(s.value) for s in teacher.success)
    teacher.button(key="yf_share_0_ROOM42").click().run()
    assert trace(the_map(teacher), "Class ROOM42")["text"] == ["Bush"]
    # the student sees nothing without the code, and a wrong code opens nothing
    student.run()
    assert trace(the_map(student), "Class ROOM42") is None
    student.text_input(key="yf_join_code").set_value("ROOM43")
    student.button(key="yf_join").click().run()
    assert any("No class gallery is open with the code ROOM43" in str(w.value) for w in student.warning)
    assert student.session_state["yf_classes"] == []
    # with the code: the shared person is on the student's map and in the student's gallery
    student.text_input(key="yf_join_code").set_value("room42")
    student.button(key="yf_join").click().run()
    assert student.session_state["yf_classes"] == ["ROOM42"]
    assert trace(the_map(student), "Class ROOM42")["text"] == ["Bush"]
    assert "**Class ROOM42**: 1 person shared" in page_text(student)
    upload(student, as_files(images, [BUSH[3]]))
    student.toggle(key="yf_lfw_gallery").set_value(False).run()
    table = ranking(student)
    assert list(table["person"]) == ["Bush"] and list(table["from"]) == ["class gallery"]
    # the student cannot remove the teacher's entry ...
    student.button(key="yf_unshare_all_ROOM42").click().run()
    assert trace(the_map(student), "Class ROOM42")["text"] == ["Bush"]
    # ... the owner can ("forget my faces" removes it from the class too)
    teacher.button(key="yf_forget").click().run()
    student.run()
    assert trace(the_map(student), "Class ROOM42") is None
    assert "**Class ROOM42**: 0 people shared" in page_text(student)
    # closing the class ends it for everyone
    teacher.button(key="yf_close_ROOM42").click().run()
    student.run()
    assert student.session_state["yf_classes"] == [] and "ROOM42 has been closed" in page_text(student)


def test_class_galleries_are_off_without_a_teacher_key_and_say_how_to_turn_them_on(shared_data, monkeypatch):
    monkeypatch.delenv("FACENET_TEACHER_KEY", raising=False)
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    assert "Class galleries are off on this server" in text and "FACENET_TEACHER_KEY" in text
    keys = {w.key for kind in ("text_input", "button") for w in app.get(kind)}
    assert not keys & {"yf_teacher_key", "yf_unlock", "yf_new_code", "yf_open_class", "yf_join_code", "yf_join"}
    monkeypatch.setenv("FACENET_TEACHER_KEY", "abc")  # too short to be a key: still off, and it says why
    app.run()
    assert "shorter than 8 characters" in page_text(app)
    assert not [w for w in app.text_input if w.key == "yf_teacher_key"]


@pytest.mark.slow
def test_only_the_teacher_key_opens_galleries_and_a_reload_gets_them_back(shared_data, monkeypatch):
    monkeypatch.setenv("FACENET_TEACHER_KEY", TEACHER_KEY)
    squatter = open_page(PAGE, shared_data)
    # without the key: no code box, no open button; a guessed key is refused and not kept
    assert not [w for w in squatter.text_input if w.key == "yf_new_code"]
    unlock(squatter, "password")
    assert any("not this server's teacher key" in str(w.value) for w in squatter.warning)
    assert squatter.session_state["yf_teacher"] is None and squatter.text_input(key="yf_teacher_key").value == ""
    assert not [b for b in squatter.button if b.key == "yf_open_class"]
    # the teacher: a few galleries per key, no more
    teacher = unlock(open_page(PAGE, shared_data))
    assert all(TEACHER_KEY not in str(teacher.session_state[k]) for k in teacher.session_state)  # never kept
    for code in ("MATHS-1", "MATHS-2", "MATHS-3", "MATHS-4"):
        teacher.text_input(key="yf_new_code").set_value(code)
        teacher.button(key="yf_open_class").click().run()
    assert any("3 class galleries open already" in str(w.value) for w in teacher.warning)
    assert teacher.session_state["yf_classes"] == ["MATHS-1", "MATHS-2", "MATHS-3"]
    # a reload is a new session: typing the key again brings the galleries and their close buttons back
    again = unlock(open_page(PAGE, shared_data))
    assert sorted(again.session_state["yf_classes"]) == ["MATHS-1", "MATHS-2", "MATHS-3"]
    assert any("open class galleries (3) are back" in str(s.value) for s in again.success)
    again.button(key="yf_close_MATHS-2").click().run()
    teacher.run()
    assert teacher.session_state["yf_classes"] == ["MATHS-1", "MATHS-3"]
    assert f"{plain.markdown('MATHS-2')} has been closed" in page_text(teacher)  # codes too: ui.plain
    # the squatter still cannot close one
    squatter.text_input(key="yf_join_code").set_value("MATHS-1")
    squatter.button(key="yf_join").click().run()
    assert not [b for b in squatter.button if b.key.startswith("yf_close_")]


# --------------------------------------------------------------------------------------------
# A hostile student: every name another person can see is plain text
# --------------------------------------------------------------------------------------------

MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error")
HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff\x00-\x08\x0b-\x1f\x7f]")
WORD_JOINER_ALLOWED = re.compile(f"(?i)(?<=[:@]){plain.WORD_JOINER}|(?<=www){plain.WORD_JOINER}")  # ui.plain's own


def shown_strings(app) -> tuple[list[str], list[str], list[str]]:
    """(what Streamlit renders as Markdown, what Plotly renders as labels, what widgets show as plain
    text: table cells and select-box options) on the page of `app`."""
    import json

    markdown = [str(e.value) for kind in MARKDOWN_KINDS for e in app.get(kind)]
    markdown += [c for image in app.get("image") for c in image.captions]
    markdown += [w.label for kind in ("button", "selectbox", "multiselect", "text_input", "toggle") for w in app.get(kind)]
    markdown += [m.label for m in app.metric]
    charts = []
    for fig in figures(app):
        for t in fig["data"]:
            charts.append(str(t.get("name", "")))
            for field in ("text", "hovertext"):
                value = t.get(field)
                charts += [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]
        charts.append(json.dumps(fig["layout"].get("title"), ensure_ascii=False))
    plain_text = [str(v) for df in app.dataframe for v in df.value.astype(str).to_numpy().ravel()]
    plain_text += [str(o) for kind in ("selectbox", "multiselect") for w in app.get(kind) for o in w.options]
    return markdown, charts, plain_text


def escaped_pattern(name: str) -> re.Pattern:
    """`name` as CommonMark shows it as text only: each ASCII punctuation mark behind a backslash, a
    word joiner allowed anywhere (ui.plain puts one where a bare link could start)."""
    parts = [re.escape("\\" + c) if c in string.punctuation else re.escape(c) for c in name]
    return re.compile(f"{plain.WORD_JOINER}?".join(parts))


def shown_as_markdown(s: str) -> str:
    """What a Markdown string of text and backslash escapes shows."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", s).replace(plain.WORD_JOINER, "")


def assert_only_text(app, names: list[str], where: str) -> None:
    """Each of `names` (as the page holds it) is on the page, and wherever it is, only as text: in
    Markdown with every punctuation mark escaped, in a chart with `<`, `>`, `&` and `$` as entities;
    and no string on the page holds a character that hides or reorders text. Worked out here from
    the rules of CommonMark and Plotly, not from ui.plain."""
    markdown, charts, plain_text = shown_strings(app)
    for s in markdown + charts + plain_text:
        assert not HIDDEN.search(WORD_JOINER_ALLOWED.sub("", s)), (where, s)
    for name in names:
        in_markdown = [s for s in markdown if name in shown_as_markdown(s)]
        in_charts = [s for s in charts if name in html.unescape(s)]
        assert in_markdown or in_charts, (where, name)
        for s in in_markdown:
            assert escaped_pattern(name).search(s), (where, name, s)
        for s in in_charts:
            assert not set(s) & set("<>$"), (where, name, s)


@pytest.mark.slow
def test_hostile_names_are_shown_as_plain_text_everywhere(shared_data, images, monkeypatch):
    monkeypatch.setenv("FACENET_TEACHER_KEY", TEACHER_KEY)
    teacher = unlock(open_page(PAGE, shared_data))
    teacher.text_input(key="yf_new_code").set_value("ROOM-1")
    teacher.button(key="yf_open_class").click().run()
    hostile = open_page(PAGE, shared_data)
    # hostile file names: photos, a duplicate, a file that is no photo
    files = [(name, jpeg_of(images, rel), "image/jpeg") for name, rel in zip(HOSTILE_FILE_NAMES, BUSH)]
    files += [("<i>dup</i> $z$ \u202ex.jpg", files[0][1], "image/jpeg"), ("![b](http://127.0.0.1:9/b).jpg", b"no", "image/jpeg")]
    upload(hostile, files)
    got = photos(hostile)
    labels = [f"{i + 1}. {plain.visible(name)}" for i, name in enumerate(HOSTILE_FILE_NAMES)]
    others = [plain.visible(name) for name, _, _ in files[len(HOSTILE_FILE_NAMES):]]
    assert_only_text(hostile, labels + others, "the uploader's photos")
    # hostile names: enrolled, then enrolled again (a warning names it), then shared with the class
    names = [yf.clean_name(typed) for _, typed in HOSTILE_NAMES]
    for typed in [typed for _, typed in HOSTILE_NAMES] + [HOSTILE_NAMES[0][1]]:
        hostile.text_input(key="yf_enrol_name").set_value(typed)
        hostile.multiselect(key="yf_enrol_photos").set_value([p.key for p in got[:3]])
        hostile.button(key="yf_enrol").click().run()
    assert [p.name for p in hostile.session_state["yf_enrolled"]] == names
    assert any("is enrolled already" in str(w.value) for w in hostile.warning)
    hostile.text_input(key="yf_join_code").set_value("ROOM-1")
    hostile.button(key="yf_join").click().run()
    for i in range(len(names)):
        hostile.button(key=f"yf_share_{i}_ROOM-1").click().run()
    assert_only_text(hostile, names, "the hostile student's own page")
    assert [t for t in the_map(hostile)["data"] if t["name"] == f"Enrolled: {plain.plotly(names[2])}"]
    # a classmate sees every name, in the gallery, on the map and in identification: as text
    classmate = open_page(PAGE, shared_data)
    classmate.text_input(key="yf_join_code").set_value("room-1")
    classmate.button(key="yf_join").click().run()
    upload(classmate, as_files(images, [BUSH[4]]))
    classmate.toggle(key="yf_lfw_gallery").set_value(False).run()
    teacher.run()
    assert_only_text(teacher, names, "the teacher's page")
    for i, name in enumerate(names):  # each name in turn is the one identification answers with
        assert_only_text(classmate, names[i:], f"a classmate's page, answer {i}")
        answer = [str(a.value) for a in list(classmate.success) + list(classmate.info) if "(class gallery)" in str(a.value)]
        assert answer and plain.markdown(name) in answer[0], (name, answer)
        assert list(ranking(classmate)["person"])[0] == plain.visible(name)
        hostile.button(key=f"yf_unshare_{i}_ROOM-1").click().run()
        classmate.run()


# --------------------------------------------------------------------------------------------
# Without the photos, without the model
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_without_the_lfw_photos_neighbours_are_names_and_distances(no_data, images):
    app = open_page(PAGE, no_data)
    upload(app, as_files(images, [BUSH[0]]))
    text = page_text(app)
    assert "Nearest people: **George W Bush**" in text and "d² = " in text
    assert "need the LFW photos" in text


def test_with_a_broken_model_faces_are_still_found(shared_data, images, tmp_path, monkeypatch):
    import model.shipped

    corrupt = tmp_path / "facenet.pt"
    corrupt.write_bytes(b"not a checkpoint")
    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", corrupt)
    app = open_page(PAGE, shared_data)
    upload(app, as_files(images, [BUSH[0]]))
    cached = list(app.session_state["yf_cache"].values())
    assert len(cached) == 1 and cached[0].ok and cached[0].embedding is None
    assert "without the face model they cannot be embedded" in page_text(app)
    assert trace(the_map(app), "Your photos") is None
