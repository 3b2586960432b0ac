"""Helpers shared by the tests (fixtures are in tests/conftest.py): LFW photos as Pillow images and
encoded bytes, a page opened through Streamlit's AppTest and what it shows (from tools.apptest,
which the benches use too), and the checks that nothing of a photo reaches the disk."""

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
