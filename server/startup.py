"""A new server's start-up: the lessons' heavy code imported in the background, and one slow
check of Streamlit's skipped."""

from __future__ import annotations

import importlib
import threading

from server import first_call


def import_in_background(module: str) -> None:
    """Import `module` on a background thread, once per server. The welcome page calls it for the
    network code, so that torch is imported while the visitor reads, not when the first lesson
    opens. See docs/serving.md."""
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
    """Mark Streamlit's "are we in a REPL?" check as done: a server started with `streamlit run` is
    never a REPL, and the check costs a new server's first page 0.1-0.2 s of CPU. See
    docs/serving.md."""
    import streamlit.delta_generator as delta_generator

    delta_generator._use_warning_has_been_displayed = True
