"""Put on the course server's PYTHONPATH by bench/bench_load.py: a thread that writes, every second,
how much memory the server's allocators hold in use, to the file that BENCH_HEAP_FILE names.

The resident memory (RSS) cannot tell memory still in use from memory an allocator keeps free for
later; this tells them apart. Two allocators serve a Python process: glibc's malloc (NumPy's and
torch's buffers, large strings and lists; `mallinfo2` counts its bytes in use and the free bytes it
keeps, and `malloc_info` lists its arenas) and Python's own for small objects
(`sys.getallocatedblocks()`, the blocks in use). Linux with glibc 2.33 or later; elsewhere it
writes nothing. A diagnostic of the bench, not part of the app.
"""

import ctypes
import json
import os
import sys
import threading
import time


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _arenas(libc, path: str) -> int:
    """How many malloc arenas the process has: `malloc_info` writes one <heap> element per arena."""
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    with open(path) as xml:
        return xml.read().count("<heap nr=")


def _write_forever(path: str, libc) -> None:
    while True:
        info = libc.mallinfo2()
        reading = {"malloc_in_use_mb": (info.uordblks + info.hblkhd) / 2**20,  # in the heaps + mapped apart
                   "malloc_free_mb": info.fordblks / 2**20,
                   "malloc_arenas": _arenas(libc, path + ".xml"),
                   "python_blocks": sys.getallocatedblocks()}
        with open(path + ".new", "w") as new:
            json.dump(reading, new)
        os.replace(path + ".new", path)  # the bench never reads half a file
        time.sleep(1)


def _start() -> None:
    path = os.environ.get("BENCH_HEAP_FILE")
    if not path:
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        libc.fopen.restype = ctypes.c_void_p
        libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
        libc.fclose.argtypes = (ctypes.c_void_p,)
    except (OSError, AttributeError, TypeError):  # not glibc, or a glibc older than 2.33
        return
    threading.Thread(target=_write_forever, args=(path, libc), name="bench-heap-probe", daemon=True).start()


_start()
