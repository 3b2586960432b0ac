"""The Your-faces page says so when an uploaded photo is itself in the map's gallery (an LFW photo
uploaded back: it lands on itself), and only then; a refused photo is shown beside its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from model.maps import load_explorer_maps
from tests.helpers import encode, lfw_image, open_page, page_text

pytestmark = pytest.mark.usefixtures("fresh_caches")
PAGE = "pages/your_faces.py"
MARK = "This very photo is in the map's gallery"


def upload(app, files):
    app.file_uploader(key="your_faces_upload").set_value(files)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def as_upload(images: Path, rel: str) -> tuple[str, bytes, str]:
    return (Path(rel).name, encode(lfw_image(images, rel), "JPEG", quality=90), "image/jpeg")  # saved again


@pytest.mark.slow
def test_a_gallery_photo_uploaded_back_is_marked(shared_data, images):
    gallery = set(load_explorer_maps().files)
    inside = next(f for f in sorted(gallery) if f.startswith("Donald_Rumsfeld/"))
    outside = next(rel for rel in (f"{p.parent.name}/{p.name}" for p in sorted(images.glob("A*/*_0001.jpg")))
                   if rel not in gallery)  # a photo the gallery does not hold
    app = open_page(PAGE, shared_data)
    upload(app, [as_upload(images, inside)])
    text = page_text(app)
    assert MARK in text and Path(inside).name in text and "this very photo" in text
    app = open_page(PAGE, shared_data)
    upload(app, [as_upload(images, outside)])
    assert MARK not in page_text(app) and "d² = " in page_text(app)


@pytest.mark.slow
def test_a_refused_photo_is_shown_with_its_reason(shared_data):
    app = open_page(PAGE, shared_data)
    upload(app, [("wall.png", encode(Image.new("RGB", (500, 400), (90, 140, 200)), "PNG"), "image/png"),
                 ("notes.jpg", b"just some text", "image/jpeg")])
    warnings = [str(w.value) for w in app.warning]
    assert any(w.startswith("**wall") and "No face was found" in w for w in warnings)
    assert any(w.startswith("**notes") and "not an image" in w for w in warnings)
    assert len(app.image) == 1  # the wall is shown; the text file has nothing to show
