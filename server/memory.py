"""The server's memory: free pages handed back once a class has gone, and garbage collections
kept cheap for a class of students. Why both are needed: docs/serving.md."""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time

from server import first_call

TRIM_EVERY_S = 30.0
TRIM_THREAD = "facenet-malloc-trim"


def glibc():
    """The C library when it is glibc (Linux), else None: the calls below exist only there."""
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") else None
    except (OSError, TypeError, AttributeError):  # Windows has no CDLL(None); macOS, musl: no malloc_trim
        return None


def trim_free_memory(libc=None) -> bool:
    """Give the C library's free pages back to the system (glibc's `malloc_trim`); False where it
    cannot be done. Python frees a closed session's objects, but the allocator keeps their pages."""
    libc = libc or glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def hand_memory_back() -> None:
    """Called by app.py on every run. The first call in a server (glibc only) starts a thread that,
    every 30 s, collects the garbage of dropped sessions and hands the free pages back to the
    system, so a class's memory goes back once it has left. See docs/serving.md."""
    if not first_call(TRIM_THREAD):
        return
    libc = glibc()
    if libc is None:
        return

    def trim_forever():
        while True:
            time.sleep(TRIM_EVERY_S)
            # A dropped session is a web of reference cycles: only the cycle collector frees it, and
            # Streamlit runs that after a script run, which an empty classroom no longer has.
            gc.collect()
            trim_free_memory(libc)

    threading.Thread(target=trim_forever, name=TRIM_THREAD, daemon=True).start()



_frozen = {"modules": 0, "pending": set(), "done": set()}


def keep_gc_fast() -> None:
    """Called by app.py after each run. Streamlit runs a full garbage collection after every run,
    which costs about 0.2 s per click once torch and the model are loaded; so after new imports or
    a loader's first run, this collects once and freezes what is alive (`gc.freeze`), which later
    collections skip. See docs/serving.md."""
    if len(sys.modules) != _frozen["modules"] or _frozen["pending"]:
        gc.collect()
        gc.freeze()
        _frozen["modules"] = len(sys.modules)
        _frozen["done"] |= _frozen["pending"]
        _frozen["pending"] = set()


def first_load(what: str) -> None:
    """A cached loader is filling its cache: freeze after this run, the first time only."""
    if what not in _frozen["done"]:
        _frozen["pending"].add(what)

