"""The server process itself rather than any page: its memory (server.memory) and its start-up
(server.startup). Imports no Streamlit at module level, so that the benches can read its settings."""

from __future__ import annotations

import threading

_started: set[str] = set()  # the once-per-process jobs already started
_started_lock = threading.Lock()


def first_call(job: str) -> bool:
    """True for the first call with `job` in this process, False for every later one (any thread)."""
    with _started_lock:
        if job in _started:
            return False
        _started.add(job)
        return True
