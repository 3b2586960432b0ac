"""The server process: its memory handed back once a class has gone, the lessons' heavy code
imported before the first lesson asks for it, and a slow check of Streamlit's skipped.

Imports no Streamlit at module level, so that the benches can read TRIM_EVERY_S; app.py calls
`hand_memory_back` and `skip_streamlit_repl_check`, the welcome page `import_in_background`.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import threading
import time

TRIM_EVERY_S = 30.0
TRIM_THREAD = "facenet-malloc-trim"
_started: set[str] = set()  # what this server process has already started (both jobs run once)
_started_lock = threading.Lock()


def _first_call(job: str) -> bool:
    """True for the first call with `job` in this process, False for every later one (any thread)."""
    with _started_lock:
        if job in _started:
            return False
        _started.add(job)
        return True


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
    if not _first_call(TRIM_THREAD):
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


def import_in_background(module: str) -> None:
    """Import `module` on a background thread, once per server. The welcome page calls it with the
    network code once it is drawn: the page itself needs no torch (it reads the model's shipped
    card), and while the visitor reads it, torch (2-3 s on a laptop CPU) is imported for the first
    lesson. A lesson that imports the module meanwhile waits for this import (Python's module
    lock) rather than starting a second one."""
    name = f"facenet-import-{module}"  # the thread's name, and the job's
    if not _first_call(name):
        return

    def load():
        try:
            importlib.import_module(module)
        except Exception:  # the lesson that needs it imports it again and says what is wrong
            pass

    threading.Thread(target=load, name=name, daemon=True).start()


def skip_streamlit_repl_check() -> None:
    """Spare a new server's first page 0.1-0.2 s of CPU (measured in app.py's first run).

    On the first element a process sends, Streamlit checks whether it runs in a Python REPL, to
    print a usage warning there: `inspect.stack()` with source lines, which resolves the file of
    every imported module (about 900 by then). A server started with `streamlit run` is never a
    REPL, so the check is marked as done. The flag is private to the pinned Streamlit (1.67); if a
    later one renames it, setting it does nothing and the check runs again, only slower."""
    import streamlit.delta_generator as delta_generator

    delta_generator._use_warning_has_been_displayed = True
