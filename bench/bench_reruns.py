"""How long a lesson page takes to rerun after a widget change, page by page, through Streamlit's
AppTest: the same widget moves the page tests once timed and printed (they asserted nothing about
the times, so they live here now).

    python bench/bench_reruns.py [--data ../shared/data] [--pages loss margin ...]

Each page is opened with Streamlit's caches emptied (as a new server would), then its widgets are
moved one at a time; every rerun is timed. Prints, per page, the median, the fastest and the
slowest rerun; for the activations page also the worst case, a network of depth 50 and width 256
not computed before. The margin page reads the runs that are shipped (model/weights/runs), however
many of them exist. Exits with 1 when a page raised an exception.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from tools.apptest import open_page

REPO = Path(__file__).resolve().parents[1]


def timed(app, moves) -> list[float]:
    """Make each move (kind, key, value) in turn; the seconds of each rerun."""
    times = []
    for kind, key, value in moves:
        if hasattr(app, kind):  # app.slider(key=...), app.toggle(key=...), ...
            widget = getattr(app, kind)(key=key)
        else:  # kinds AppTest has no accessor for (segmented_control)
            widget = next(w for w in app.get(kind) if w.key == key)
        widget.set_value(value)
        start = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - start)
    return times


def loss(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/loss.py", data)
    moves = [("slider", key, value) for key, values in [("loss-alpha", [0.3, 0.6, 1.0]), ("loss-anchor-x", [0.5, -0.5, 1.0]),
                                                        ("loss-batch-n", [5, 20, 30]), ("loss-lr", [0.2, 0.4])]
             for value in values]
    return app, timed(app, moves), ""


def margin(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/margin.py", data)
    moves = [(kind, key, value) for kind, key, values in [("slider", "margin-alpha", [0.3, 0.6, 1.0, 2.0]),
                                                          ("selectbox", "margin-anchor", [2, 9, 17]),
                                                          ("selectbox", "margin-positive", [16, 18])]
             for value in values]
    return app, timed(app, moves), ""


def mining(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/mining.py", data)
    moves = [("slider", "mining_alpha", v) for v in (0.3, 0.4, 0.1)] + \
            [("segmented_control", "mining_strategy", v) for v in ("hard", "all", "random")] + \
            [("selectbox", "mining_anchor", v) for v in (3, 9, 20)] + \
            [("slider", "mining_people", v) for v in (10, 16, 8)]
    return app, timed(app, moves), ""


def optimizers(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/optimizers.py", data)
    moves = [("select_slider", "opt-lr-sgd", v) for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)] + \
            [("slider", "opt-step", v) for v in (10, 50, 100, 150, 200)]
    return app, timed(app, moves), ""


def activations(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/activations.py", data)
    moves = [("slider", "act-x", 0.5), ("toggle", "act-show-tanh", False), ("toggle", "act-show-tanh", True),
             ("slider", "act-depth", 30), ("slider", "act-depth", 10), ("slider", "act-bias-shift", -0.25),
             ("select_slider", "act-width", 64), ("select_slider", "act-step-lr", 0.1),
             ("button_group", "act-init", "default"), ("slider", "act-depth", 20)]
    times = timed(app, moves)
    timed(app, [("select_slider", "act-step-lr", 0.0), ("select_slider", "act-width", 256)])
    (worst,) = timed(app, [("slider", "act-depth", 50)])
    return app, times, f"new depth-50 x width-256 network {1000 * worst:.0f} ms"


def networks(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/networks.py", data)
    moves = [("select_slider", "nets-input-size", v) for v in (32, 96, 64, 160, 64)] + \
            [("slider", "module-c5", v) for v in (40, 44, 48, 52, 56)]
    return app, timed(app, moves), ""


def evaluation(data: str) -> tuple[object, list[float], str]:
    app = open_page("pages/evaluation.py", data)
    moves = [("slider", key, value) for key, values in (("eval-threshold", (0.4, 0.7, 1.1)),
                                                        ("openset-threshold", (0.3, 0.7, 1.0)),
                                                        ("pct-distance", (0.5, 0.9, 1.4)),
                                                        ("eval-mistakes-shown", (2, 6)))
             for value in values]
    return app, timed(app, moves), ""


PAGES = {f.__name__: f for f in (loss, margin, mining, optimizers, activations, networks, evaluation)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES))
    args = parser.parse_args()

    import streamlit as st

    failed = False
    print(f"{'page':<12} {'changes':>7} {'median':>8} {'fastest':>8} {'slowest':>8}")
    for name in args.pages:
        st.cache_data.clear()
        st.cache_resource.clear()
        app, times, note = PAGES[name](args.data)
        if app.exception:
            failed = True
            print(f"{name}: the page raised {[e.value for e in app.exception]}")
            continue
        print(f"{name:<12} {len(times):>7} {1000 * statistics.median(times):>6.0f} ms {1000 * min(times):>5.0f} ms "
              f"{1000 * max(times):>5.0f} ms" + (f"   ({note})" if note else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
