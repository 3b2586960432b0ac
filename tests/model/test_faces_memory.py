"""What an uploaded photo costs the server's memory (model/faces.py): a decode's cost is known from
the photo's header and checked before any pixel is decoded, a large photo is decoded at reduced
scale and brought down to the working size before any array is made of it, a small face in a huge
photo is cut from a decode that fits the limit, and decodes running at once share one budget.

Two measures: tracemalloc (NumPy's arrays and Python's objects) and, on Linux, the process's peak
resident memory (VmHWM, reset through /proc/self/clear_refs), which also counts Pillow's and the
codecs' own buffers."""

from __future__ import annotations

import io
import threading
import time
import tracemalloc
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image, ImageFile

from tests.helpers import encode, lfw_image
from model import faces
from model.data import crop_and_resize
from model.faces import MAX_DECODE_BYTES, FaceInputError, decode_photo, prepare_face, prepare_faces

BLAIR = "Tony_Blair/Tony_Blair_0001.jpg"
ZICO = "Zico/Zico_0001.jpg"
MB = 1024 * 1024


def png16(side: int = 7000) -> bytes:
    """A side x side 16-bit grey PNG, a smooth ramp: about 0.1 MB of file for 98 MB of pixels."""
    ramp = (np.arange(side, dtype=np.uint32) * 65535 // (side - 1)).astype(np.uint16)
    return encode(Image.fromarray(np.broadcast_to(ramp, (side, side)).copy()), "PNG")


def float_tiff(side: int = 7000) -> bytes:
    """A side x side 32-bit floating-point TIFF (deflate): under 1 MB of file for 196 MB of pixels."""
    bands = (np.arange(side, dtype=np.float32) // 500) / (side // 500)
    return encode(Image.fromarray(np.broadcast_to(bands, (side, side)).copy(), "F"), "TIFF",
                  compression="tiff_adobe_deflate")


def scene(face: Image.Image, size: tuple[int, int], at: tuple[int, int]) -> Image.Image:
    """`face` pasted into a flat grey-blue frame with a little noise."""
    w, h = size
    rng = np.random.default_rng(0)
    frame = np.empty((h, w, 3), np.uint8)
    frame[...] = (150, 160, 175)
    frame[::7, ::5] = rng.integers(120, 190, (len(range(0, h, 7)), len(range(0, w, 5)), 3), dtype=np.uint8)
    out = Image.fromarray(frame)
    out.paste(face, at)
    return out


class Peak:
    """Within the block: the peak of what tracemalloc sees (MB), and the process's peak RSS above
    its RSS at the start (MB; None where the kernel's high-water mark cannot be reset)."""

    def __enter__(self):
        import gc

        gc.collect()
        self.rss = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._start = self._status("VmRSS")
        except OSError:
            self._start = None
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.traced = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
        if self._start is not None:
            self.rss = self._status("VmHWM") - self._start

    @staticmethod
    def _status(field: str) -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")


@pytest.fixture
def decoded_frames(monkeypatch):
    """The size of every frame Pillow decodes from now on (each call of ImageFile.load)."""
    sizes = []
    load = ImageFile.ImageFile.load

    def spy(self):
        if self.tile:  # pixels still to decode (a loaded image's load() returns at once)
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


# --------------------------------------------------------------------------------------------
# Small files, huge images: refused from the header
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_7000_x_7000_16_bit_png_is_refused_from_its_header(decoded_frames):
    data = png16()
    assert len(data) < 1 * MB
    with Peak() as peak, pytest.raises(FaceInputError) as info:
        prepare_face(data)
    message = str(info.value)
    for words in ("memory", "7,000 x 7,000", "16-bit", f"{MAX_DECODE_BYTES // MB} MB", "JPEG"):
        assert words in message, (words, message)
    assert decoded_frames == []  # not one pixel decoded
    assert peak.traced < 10, peak.traced  # was 400 MB: the 16-bit pixels decoded, then converted
    assert peak.rss is None or peak.rss < 20, peak.rss


@pytest.mark.slow
def test_a_7000_x_7000_float_tiff_is_refused_from_its_header(decoded_frames):
    data = float_tiff()
    assert len(data) < 1 * MB
    with Peak() as peak, pytest.raises(FaceInputError) as info:
        prepare_face(data)
    assert "memory" in str(info.value) and "floating-point" in str(info.value) and "TIFF" in str(info.value)
    assert decoded_frames == []
    assert peak.traced < 10 and (peak.rss is None or peak.rss < 20), (peak.traced, peak.rss)


def test_the_estimate_counts_what_codecs_hold_besides_the_frame():
    """WebP (libwebp's canvases) and progressive JPEG (every DCT coefficient) cost more than their
    frame; a JPEG decoded at 1/4 scale costs a sixteenth of its frame."""
    im = Image.fromarray(np.zeros((3000, 4000, 3), np.uint8))
    cost = {}
    for name, fmt, kw in (("png", "PNG", {}), ("webp", "WEBP", {}), ("jpeg", "JPEG", {}),
                          ("progressive", "JPEG", {"progressive": True})):
        opened = Image.open(io.BytesIO(encode(im, fmt, **kw)))
        cost[name] = faces.decode_bytes(opened, opened.format, opened.size, fit=None) / (4000 * 3000)
        if name == "jpeg":
            assert faces.decode_bytes(opened, "JPEG", opened.size, 4, fit=None) / (4000 * 3000) == pytest.approx(0.25, abs=0.01)
    assert cost["png"] == pytest.approx(4.0) and cost["jpeg"] == pytest.approx(4.0)
    assert cost["webp"] == pytest.approx(16.0) and cost["progressive"] == pytest.approx(7.0, abs=0.1)


@pytest.mark.slow
def test_an_accepted_png_is_decoded_within_its_estimate(images):
    """A 4000 x 3000 RGB PNG with a face: brought down to the working size a band at a time; what
    the decode takes stays within `decode_bytes`' estimate (and NumPy never holds the full frame)."""
    picture = scene(lfw_image(images, BLAIR).resize((750, 750)), (4000, 3000), (1500, 1000))
    data = encode(picture, "PNG")
    opened = Image.open(io.BytesIO(data))
    estimate = faces.decode_bytes(opened, "PNG", opened.size) / MB
    assert estimate < MAX_DECODE_BYTES / MB
    with Peak() as peak:
        decoded = decode_photo(data)
    assert max(decoded.rgb.shape[:2]) == faces.WORK_MAX_SIDE
    assert peak.traced < 20, peak.traced  # the working image (13 MB) and a band; was 80 MB
    assert peak.rss is None or peak.rss < estimate * 1.1, (peak.rss, estimate)
    face = prepare_face(data)
    assert face.num_faces == 1 and face.original_size == (4000, 3000)


@pytest.mark.slow
def test_every_mode_is_brought_down_like_the_whole_image(images):
    """The band-by-band box filter gives the image a whole-image box filter gives, in every mode the
    frame may have (palette and 1-bit converted first, transparency laid on white)."""
    rgb = lfw_image(images, BLAIR).resize((2600, 2600))
    for mode in ("RGB", "L", "RGBA", "LA", "P", "CMYK", "I;16", "F", "1"):
        im = rgb.convert("L").convert(mode) if mode in ("I;16", "F", "1") else rgb.convert(mode)
        if mode == "I;16":
            im = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
        banded = faces._to_rgb(faces._fit_frame(im, 1100), [])
        whole = im.convert({"P": "RGB", "1": "L"}.get(mode, mode)).resize((1100, 1100), Image.Resampling.BOX)
        expected = faces._to_rgb(whole, [])
        assert banded.shape == (1100, 1100, 3), mode
        assert np.abs(banded.astype(int) - expected).max() <= 1, mode


def test_exif_orientation_maps_a_region_back_to_the_stored_pixels():
    stored = Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8))
    for orientation in range(1, 9):
        upright = faces._upright(stored, orientation)
        rect = (5, 7, 20, 31) if upright.size[0] >= 20 else (5, 7, 19, 30)
        want = np.asarray(upright.crop(rect))
        got = np.asarray(faces._upright(stored.crop(faces._stored_rect(rect, orientation, stored.size)), orientation))
        assert np.array_equal(got, want), orientation


# --------------------------------------------------------------------------------------------
# Huge photos: decoded at reduced scale, and still the face
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_small_face_in_a_48_megapixel_jpeg_is_cut_from_a_decode_that_fits(images, decoded_frames):
    """An LFW photo scaled to 400 px (its face ~195 px) in an 8000 x 6000 JPEG: found in the 1/4-scale
    decode, and cut from a finer one. The scale the crop wants (0.6) would take the full size, 192 MB
    of frame; the finest that fits MAX_DECODE_BYTES is 1/2. Only the part around the face is kept."""
    from model.embed import load_model

    face_photo = lfw_image(images, BLAIR)
    data = encode(scene(face_photo.resize((400, 400)), (8000, 6000), (3900, 2900)), "JPEG", quality=90)
    decoded_frames.clear()
    with Peak() as peak:
        face = prepare_face(data)
    assert face.original_size == (8000, 6000)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    assert abs(cx - (3900 + 200)) < 15 and abs(cy - (2900 + 200)) < 15
    assert decoded_frames == [(2000, 1500), (4000, 3000)]  # 1/4 for the search, 1/2 for the crop
    assert peak.traced < 30, peak.traced  # was 300 MB: the full-size decode, converted whole
    assert peak.rss is None or peak.rss < MAX_DECODE_BYTES / MB, peak.rss
    # the crop shows the face as the training pipeline's crop of the LFW photo does
    model = load_model()
    ours = model.embed_crops(np.array(face.crop)[None])[0]
    theirs = model.embed_crops(np.array(crop_and_resize(face_photo))[None])[0]
    assert float(((ours.astype(np.float64) - theirs) ** 2).sum()) < 0.3


def test_prepare_faces_crops_every_face_as_prepare_face_does(images):
    two = scene(lfw_image(images, BLAIR), (900, 420), (600, 80))
    two.paste(lfw_image(images, ZICO).resize((330, 330)), (20, 40))
    data = encode(two, "JPEG", quality=92)
    every = prepare_faces(data)
    assert len(every) == every[0].num_faces >= 2
    assert [p.chosen for p in every] == list(range(len(every)))
    assert all(p.photo is every[0].photo for p in every)  # one preview, shared
    for i, p in enumerate(every[:2]):
        one = prepare_face(data, face=i)
        assert np.array_equal(p.crop, one.crop) and p.box == one.box and p.roll == one.roll
    assert len(prepare_faces(data, most=1)) == 1
    with pytest.raises(FaceInputError):
        prepare_faces(data, most=0)


# --------------------------------------------------------------------------------------------
# A class at once: one budget for every decode
# --------------------------------------------------------------------------------------------


def test_decodes_wait_for_room_in_the_budget():
    budget = faces._MemoryBudget(100)
    order, inside = [], threading.Event()

    def big(name, need, hold_s):
        with budget.hold(need):
            order.append((name, "in", budget.used))
            inside.set()
            time.sleep(hold_s)
        order.append((name, "out"))

    first = threading.Thread(target=big, args=("first", 70, 0.3))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=big, args=("second", 70, 0.0))  # 70 + 70 > 100: waits
    small = threading.Thread(target=big, args=("small", 20, 0.0))  # 70 + 20 fits: goes at once
    second.start()
    small.start()
    for t in (first, second, small):
        t.join(5)
    assert order.index(("small", "in", 90)) < order.index(("first", "out"))
    assert order.index(("first", "out")) < order.index(("second", "in", 70))
    assert budget.used == 0
    alone = faces._MemoryBudget(10)
    with alone.hold(50):  # more than the whole budget: runs, alone
        assert alone.used == 50


class WatchedBudget(faces._MemoryBudget):
    """The budget, noting the most it has let through at once."""

    most = 0

    @contextmanager
    def hold(self, need: int):
        with super().hold(need):
            self.most = max(self.most, self.used)
            yield


@pytest.mark.slow
def test_five_huge_pngs_at_once_stay_within_the_budget(monkeypatch):
    """Five sessions decode the largest kind of PNG accepted at the same moment: one at a time, as
    two would not fit DECODE_BUDGET_BYTES. (What that does to the server's RSS, with its allocator
    settings, is measured by bench/bench_upload_memory.py.)"""
    side = 3700  # 3700 x 3700 RGB: 55 MB of frame, 95 MB with the working image and a band: accepted
    data = encode(Image.new("RGB", (side, side), (120, 130, 140)), "PNG")
    opened = Image.open(io.BytesIO(data))
    need = faces.decode_bytes(opened, "PNG", opened.size)
    assert faces.DECODE_BUDGET_BYTES / 2 < need <= MAX_DECODE_BYTES
    budget = WatchedBudget(faces.DECODE_BUDGET_BYTES)
    monkeypatch.setattr(faces, "_budget", budget)
    errors = []

    def work():
        try:
            decode_photo(data)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [] and budget.used == 0
    assert budget.most == need  # never two at once
