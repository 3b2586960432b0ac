"""Helpers shared by the tests (fixtures are in tests/conftest.py): LFW photos as Pillow images and
encoded bytes, a page opened through Streamlit's AppTest and what it shows (from tools.apptest,
which the benches use too), a tiny checkpoint with a model card of the test's choosing, and the
checks that nothing of a photo reaches the disk."""

import builtins
import contextlib
import io
import os
import tempfile
from pathlib import Path

from tools.apptest import figure_values, figures, open_page, page_text  # noqa: F401  (for the tests)

REPO = Path(__file__).resolve().parents[1]


def lfw_image(images: Path, rel: str):
    """The LFW photo `rel` ("Tony_Blair/Tony_Blair_0001.jpg") as an RGB Pillow image."""
    from PIL import Image

    with Image.open(images / rel) as im:
        return im.convert("RGB")


def encode(im, fmt: str, **kw) -> bytes:
    """A Pillow image saved in memory as `fmt` ("JPEG", "PNG", ...), with Pillow's save options."""
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def write_checkpoint(path: Path, card: dict) -> Path:
    """A real (tiny, untrained) checkpoint of this course, with the given model card: what the home
    page and lessons.overview describe, without training anything."""
    from model.embed import save_checkpoint
    from model.net import NetConfig, build_net

    save_checkpoint(path, build_net(NetConfig(embedding_dim=16, width=0.25)), card)
    return path


# A provisional model card of a CPU run, every metric the home page shows filled in.
CPU_CARD = {
    "device": "cpu",
    "torch": "2.13.0",
    "dataset": "LFW peopleDevTrain",
    "split": "view1",
    "parameters": 1_234_567,
    "multiply_adds_per_image": 98_700_000,
    "wall_time_s": 7260.0,
    "images_per_s": 412.3,
    "created": "2026-11-23T08:00:00+00:00",
    "metrics": {
        "view1_devtest_accuracy": 0.875,
        "view1_devtest_accuracy_devtrain_threshold": 0.8,
        "view1_devtest_val_at_far_1e-3": 0.25,
        "view2_accuracy_mean": 0.86,
        "view2_accuracy_standard_error": 0.004,
        "pca_baseline": {"view1_devtest_accuracy": 0.675},
    },
}


# --------------------------------------------------------------------------------------------
# Faces are personal data: the checks that nothing of a photo reaches the disk
# --------------------------------------------------------------------------------------------


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its (mtime, size)."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = (Path(root) / name).lstat()
            found[str(Path(root) / name)] = (st.st_mtime_ns, st.st_size)
    return found


def fresh_temp_dir(tmp_path: Path, monkeypatch) -> Path:
    """An empty folder made the temp folder of Python (tempfile) and of C libraries ($TMPDIR)."""
    import streamlit.testing.v1  # noqa: F401  (makes a folder in the temp folder when first imported)

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert Path(tempfile.gettempdir()) == temp
    return temp


@contextlib.contextmanager
def watching_file_writes():
    """Yields a list that collects every path opened for writing inside the block: Python's open
    (modes w, a, x, +) and os.open (with a writing flag)."""
    writes: list[str] = []
    real_open, real_os_open = builtins.open, os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def watching_open(file, mode="r", *args, **kwargs):
        if any(c in str(mode) for c in "wax+"):
            writes.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def watching_os_open(path, flags, *args, **kwargs):
        if flags & write_flags:
            writes.append(str(path))
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = watching_open
    os.open = watching_os_open
    try:
        yield writes
    finally:
        builtins.open = io.open = real_open
        os.open = real_os_open
