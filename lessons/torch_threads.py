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

    With PyTorch's OpenMP backend the count is partly per thread (each thread's own parallel
    regions) and partly process-wide (what new threads start with), and the app runs each session's
    script in its own thread. So each caller restores its own count on the way out, and the last
    caller out restores the process-wide count the first one in found. `flush_denormal=True` also
    turns float32 values below ~1.2e-38 (what a vanishing gradient becomes, and which the processor
    handles up to a hundred times more slowly) into the 0 they nearly are, in the calling thread.
    """
    global _users, _threads_before
    mine = torch.get_num_threads()
    with _lock:
        if _users == 0:
            _threads_before = mine
        _users += 1
    torch.set_num_threads(1)
    if flush_denormal:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flush_denormal:
            torch.set_flush_denormal(False)
        with _lock:
            _users -= 1
            torch.set_num_threads(_threads_before if _users == 0 else mine)
