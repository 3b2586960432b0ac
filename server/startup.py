"""A new server's start-up: the lessons' heavy code imported in the background, and one slow
check of Streamlit's skipped."""

from __future__ import annotations

import importlib
import threading

from server import first_call


def import_in_background(module: str) -> None:
    """Import `module` on a background thread, once per server. The welcome page calls it with the
    network code once it is drawn: the page itself needs no torch (it reads the model's shipped
    card), and while the visitor reads it, torch (2-3 s on a laptop CPU) is imported for the first
    lesson. A lesson that imports the module meanwhile waits for this import (Python's module
    lock) rather than starting a second one."""
    name = f"facenet-import-{module}"  # the thread's name, and the job's
    if not first_call(name):
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
