"""No byte of an uploaded photo reaches a disk-backed file: a real server, a real browser and a real
upload larger than Starlette's 1 MB spool limit, with the server's file opens watched from inside
the server process (tests/browser/probes/sitecustomize.py), not by listing a folder."""

from __future__ import annotations

import io
import os
import time
import warnings
from pathlib import Path

import pytest

from lessons.overview import COURSE

from tools.browser import AppServer, launch, lfw_photo, open_lesson, upload, wait_idle, why_no_browser

MISSING = why_no_browser()
if MISSING:
    warnings.warn(f"BROWSER TESTS SKIPPED: {MISSING}.")
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

PROBES = Path(__file__).resolve().parent / "probes"
YOUR_FACES = next(lesson for lesson in COURSE if lesson.page == "pages/your_faces.py")
pytestmark = pytest.mark.slow


def big_photo(data) -> tuple[str, bytes]:
    """An LFW photo scaled up, with a little sensor-like noise, saved at high quality in memory:
    well over 1 MB, as a phone's photo is."""
    import numpy as np
    from PIL import Image

    name, raw = lfw_photo(data)
    with Image.open(io.BytesIO(raw)) as im:
        pixels = np.asarray(im.convert("RGB").resize((2000, 2000), Image.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(0).integers(-16, 17, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=95)
    return "big-" + name, out.getvalue()


def test_an_upload_over_one_megabyte_is_never_written_to_a_file(shared_data, tmp_path):
    log = tmp_path / "opens.log"
    env = {"FACENET_OPEN_LOG": str(log),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROBES), os.environ.get("PYTHONPATH")]))}
    name, photo = big_photo(shared_data)
    assert len(photo) > 1.5 * 1024 * 1024
    with AppServer(shared_data, env=env) as server, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(180_000)
        open_lesson(page, server.url, YOUR_FACES, timeout=180_000)
        before = log.read_text().splitlines()
        upload(page, name, photo)
        page.get_by_text(name).first.wait_for()  # the page has the photo and answers about it
        wait_idle(page, 180_000)
        time.sleep(1)
        during = log.read_text().splitlines()[len(before):]
        browser.close()
    # The probe works: it saw its own spooled file, an unnamed temporary file in the temp folder.
    ready = before.index("--- probe ready ---")
    assert any(line.split("\t")[0] == tempfile_dir() for line in before[:ready]), before[:ready]
    assert not during, f"the server opened files for writing while handling the upload: {during}"


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()
