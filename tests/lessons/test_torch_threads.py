"""The lessons' single-threaded torch sections, entered by several sessions at once."""

import threading

import torch

from lessons.torch_threads import single_threaded


def test_thread_count_is_one_inside_and_restored_by_the_last_one_out():
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
        with single_threaded():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1  # the outer user is still inside
    assert torch.get_num_threads() == before


def in_new_thread(fn):
    out = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(30)
    return out[0]


def test_overlapping_sessions_each_run_single_threaded_and_leave_the_count_as_found():
    before = torch.get_num_threads()
    inside = threading.Barrier(2, timeout=30)
    seen = []

    def session(leave_first: threading.Event, my_turn: threading.Event):
        with single_threaded():
            inside.wait()  # both sessions are inside at once
            my_turn.wait(30)
            seen.append(torch.get_num_threads())
        leave_first.set()

    first_out, second_out = threading.Event(), threading.Event()
    go_first = threading.Event()
    a = threading.Thread(target=session, args=(first_out, go_first), daemon=True)
    b = threading.Thread(target=session, args=(second_out, first_out), daemon=True)  # leaves after a
    a.start(), b.start()
    go_first.set()
    a.join(30), b.join(30)
    assert seen == [1, 1]
    assert torch.get_num_threads() == before  # this thread was never touched
    assert in_new_thread(torch.get_num_threads) == before  # nor what new sessions start with


def test_flush_denormal_turns_tiny_floats_to_zero_only_inside():
    tiny = torch.tensor([1e-40], dtype=torch.float32)
    with single_threaded(flush_denormal=True):
        assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() != 0.0
