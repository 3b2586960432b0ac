"""The class galleries as a Streamlit server runs them: one store per server
(`lessons.your_faces.ClassGalleries`), the teacher keys from the server's settings, the session
behind each shared entry, and the sweep that takes a closed session's entries out of every gallery.

Teacher keys. Opening and closing a class gallery needs a teacher key, which the person running the
server sets in the environment variable FACENET_TEACHER_KEY (or as FACENET_TEACHER_KEY in
Streamlit's secrets.toml): one key, or several separated by commas, each at least 8 characters.
Without one, class galleries are off. The key is never kept in a session: typing it gives the
session the teacher's id (`lessons.your_faces.teacher_for`), and typing it again after a reload
gives the same id back, with the galleries opened under it.

Sessions. Streamlit gives every browser tab a session id; a tab that is closed (or reloaded)
disconnects, and from then on `Runtime.is_active_session(id)` is False. A shared entry carries the
id of the session that shared it, and `sweep` removes it once that session has been gone for the
store's grace time (10 s). It runs before every read of the galleries and, on a background thread,
every SWEEP_EVERY_S seconds, so an entry leaves every gallery within about 40 s of its tab closing,
even when nobody opens the page.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

import streamlit as st

from lessons import your_faces as lesson

TEACHER_KEY_ENV = "FACENET_TEACHER_KEY"
SWEEP_EVERY_S = 20.0
SWEEP_THREAD = "facenet-gallery-sweep"


def teacher_key_setting() -> str:
    """The server's teacher-key setting: $FACENET_TEACHER_KEY, else the same name in Streamlit's
    secrets, else "" (class galleries off)."""
    setting = os.environ.get(TEACHER_KEY_ENV)
    if setting is None:
        try:
            setting = st.secrets.get(TEACHER_KEY_ENV)
        except Exception:  # no secrets.toml (Streamlit raises), or one it cannot read
            setting = None
    return str(setting or "")


def teacher_keys() -> tuple[str, ...]:
    """The usable teacher keys (none: class galleries are off on this server)."""
    return lesson.teacher_keys(teacher_key_setting())


def teacher_key_too_short() -> bool:
    """A teacher key is set, but every key in it is shorter than lesson.MIN_TEACHER_KEY characters."""
    return bool(teacher_key_setting().strip(" ,")) and not teacher_keys()


def this_session() -> str | None:
    """The id Streamlit gives this browser tab's session (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def session_alive(session_id: str) -> bool:
    """Whether the session is still connected. Without a Streamlit runtime (a test driving the page
    through AppTest), nothing can be known, and every session counts as alive."""
    from streamlit import runtime

    if not runtime.exists():
        return True
    return bool(runtime.get_instance().is_active_session(session_id))


def _sweep_forever(store_ref: weakref.ref, every: float) -> None:
    while True:
        time.sleep(every)
        store = store_ref()
        if store is None:  # the store was dropped (its cache cleared): this thread's work is done
            return
        try:
            store.sweep(session_alive)
        except Exception:  # a sweep that failed is tried again at the next round
            pass
        del store


def start_sweeping(store: lesson.ClassGalleries, every: float = SWEEP_EVERY_S) -> threading.Thread:
    """Sweep `store` every `every` seconds on a daemon thread, for as long as the store exists."""
    thread = threading.Thread(target=_sweep_forever, args=(weakref.ref(store), every), name=SWEEP_THREAD,
                              daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def class_galleries() -> lesson.ClassGalleries:
    """One store per server, swept in the background; nothing in it is ever written to disk."""
    store = lesson.ClassGalleries()
    start_sweeping(store)
    return store


def galleries() -> lesson.ClassGalleries:
    """The server's class galleries, with the entries of ended sessions swept out first."""
    store = class_galleries()
    store.sweep(session_alive)
    return store
