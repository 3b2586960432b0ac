"""Put on a test server's PYTHONPATH: every file the server process opens for writing, or creates,
is reported one per line to the file named by $FACENET_OPEN_LOG (Python's "open" audit event
covers builtins.open, io.open, os.open and so tempfile's files, O_TMPFILE ones included).

To show the probe sees a spooled upload, it spools one small file to disk itself at start-up:
the log must begin with that one."""

import os
import sys
import tempfile

_log = os.open(os.environ["FACENET_OPEN_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | getattr(os, "O_TMPFILE", 0)


def _report(event, args):
    if event != "open":
        return
    path, mode, flags = args
    writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
              else isinstance(flags, int) and flags & _WRITE_FLAGS)
    if writes:
        os.write(_log, f"{path!s}\t{mode}\t{flags}\n".encode(errors="replace"))


sys.addaudithook(_report)
with tempfile.SpooledTemporaryFile(max_size=10) as _check:
    _check.write(b"x" * 100)  # over max_size: rolled over to a real temporary file
os.write(_log, b"--- probe ready ---\n")
