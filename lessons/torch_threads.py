"""Small torch computations on one CPU thread.

The lessons compute on tiny tensors (a few hundred embeddings, layers of at most 256 x 256). For
calls that small, torch's thread pool costs more than it saves: on a busy two-core machine
waiting for the second thread made them 10 to 100 times slower. Every lesson wraps its torch
calls in `single_threaded()`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

_lock = threading.Lock()
_users = 0
_threads_before = 1


@contextmanager
def single_threaded(flush_denormal: bool = False):
    """Run torch on one thread for the duration, then put the thread count back.

    The thread count belongs to the whole process, and the app serves several sessions at once:
    the first session to enter sets it, the last one to leave restores it. `flush_denormal=True`
    also turns float32 values below ~1.2e-38 (what a vanishing gradient becomes, and which the
    processor handles up to a hundred times more slowly) into the 0 they nearly are; that setting
    belongs to the calling thread only.
    """
    global _users, _threads_before
    with _lock:
        if _users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _users += 1
    if flush_denormal:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flush_denormal:
            torch.set_flush_denormal(False)
        with _lock:
            _users -= 1
            if _users == 0:
                torch.set_num_threads(_threads_before)
