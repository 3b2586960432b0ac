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
    """Called by app.py on every run; the first call, once per server, does the work (glibc only).

    Python frees a dropped session's objects, but glibc's malloc keeps their free pages: a class
    of 30 sessions left the server 80 MB larger for good. So every 30 s the garbage of dropped
    sessions is collected and the free pages are handed back (`malloc_trim`). A page that still
    holds a block in use stays: Streamlit runs each script run on a new thread, and glibc spreads
    threads over up to 8 malloc arenas per core, each with its own partly used pages. A cap on the
    arenas (`mallopt(M_ARENA_MAX)`) comes too late from here: glibc fixes its limit when a process
    makes its 9th arena, and a server that a browser opened had more than 8 before app.py first
    ran (16 with the cap, as without). Set before the server starts, the cap holds: the README
    starts a class's server as `MALLOC_ARENA_MAX=2 streamlit run app.py`. Measured in
    bench/bench_load.py (README, Benchmarks: Memory)."""
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
    """Called by app.py after each run. Streamlit runs a full garbage collection after every script
    run (`runner.postScriptGC`), and a full collection walks every object of the process: once torch,
    the model and the data are loaded, about 0.2 s of CPU per click, per student. So when new modules
    have been imported, or a loader below has run for the first time, this collects once and then
    moves everything alive into the permanent generation (`gc.freeze`), which later collections skip.
    That happens a bounded number of times per server. Objects are still freed as soon as nothing
    refers to them; only reference cycles alive at such a moment are kept for good."""
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

