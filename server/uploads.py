"""Uploaded photos stay in memory: no byte of one is written to a disk-backed file.

Streamlit's upload route parses the multipart body with Starlette, which keeps a file part in a
`SpooledTemporaryFile` only up to `MultiPartParser.spool_max_size` (1 MB) and then moves it to a
temporary file on disk (an unnamed O_TMPFILE in /tmp on Linux): a 1.9 MB photo was written there
whole. Raising the spool limit above the largest upload Streamlit accepts keeps every upload in
memory; Streamlit then reads it into its own in-memory file manager. tests/browser checks it on a
real server with a real upload.
"""

from __future__ import annotations

from server import first_call

SPOOL_MARGIN_BYTES = 1024 * 1024  # the multipart framing around a file


def upload_limit_bytes() -> int:
    """The largest upload the server accepts (`server.maxUploadSize`, in MB)."""
    from streamlit import config

    return int(config.get_option("server.maxUploadSize")) * 1024 * 1024


def keep_uploads_in_memory() -> None:
    """Called by app.py on every run; the first call per server sets Starlette's spool limit,
    before any upload can reach the server (an upload needs a page drawn by app.py first)."""
    if not first_call("keep-uploads-in-memory"):
        return
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size,
                                         upload_limit_bytes() + SPOOL_MARGIN_BYTES)
