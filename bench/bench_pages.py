"""How fast the lesson pages respond: the first render of each page, then the rerun after each
widget change, driven through Streamlit's AppTest (the script run a browser's change triggers,
without the network and the browser's drawing).

    python bench/bench_pages.py [--data ../shared/data] [--changes 5] [--pages pages/loss.py ...]

For every page: its first render in a fresh process state (model, embeddings and photos not yet
loaded: what the first student to open it waits for), its first render once another page has
loaded them, and the time of every rerun after moving one of its widgets to a new value (each
slider through five values across its range, each choice through its options). Prints a table;
the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def new_values(widget, changes: int) -> list:
    """Up to `changes` values for a widget, each different from the one before."""
    kind = type(widget).__name__
    if kind in ("Slider", "NumberInput"):
        lo, hi = widget.min, widget.max
        if lo is None or hi is None or isinstance(widget.value, (tuple, list)):
            return []
        if isinstance(lo, int) and isinstance(hi, int):
            span = sorted({round(lo + (hi - lo) * k / max(changes - 1, 1)) for k in range(changes)})
        else:
            span = [lo + (hi - lo) * k / max(changes - 1, 1) for k in range(changes)]
        return [v for v in span if v != widget.value][:changes]
    if kind in ("Selectbox", "Radio", "SelectSlider", "ButtonGroup"):
        options = list(widget.options)
        current = widget.value
        return [o for o in options if o != current][:changes]
    if kind in ("Checkbox", "Toggle"):
        return [not widget.value, widget.value]
    return []


def set_value(widget, value):
    kind = type(widget).__name__
    if kind == "Checkbox":  # AppTest's Toggle has no check(); set_value works for both
        return widget.check() if value else widget.uncheck()
    return widget.set_value(value)


WIDGET_KINDS = ("slider", "select_slider", "selectbox", "radio", "checkbox", "toggle", "number_input",
                "segmented_control", "pills")


def page_widgets(app):
    """The page's own widgets with a key (the sidebar's data folder and the quizzes left out)."""
    found = []
    for kind in WIDGET_KINDS:
        for widget in app.main.get(kind):
            key = getattr(widget, "key", None)
            if key and "-quiz-" not in key:
                found.append((kind, key))
    return found


def clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str, data: str | None):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    if data:
        app.session_state["data_path"] = data
    app.run()
    start = time.perf_counter()
    app.switch_page(page).run()
    elapsed = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"{page}: {[e.value for e in app.exception]}")
    return app, elapsed


def bench_page(page: str, data: str | None, changes: int) -> dict:
    clear_caches()
    _, cold = open_page(page, data)
    app, warm = open_page(page, data)
    times, slowest = [], ("", 0.0)
    for kind, key in page_widgets(app):
        widget = app.get(kind)
        widget = next((w for w in widget if getattr(w, "key", None) == key), None)
        if widget is None:
            continue
        for value in new_values(widget, changes):
            widget = next((w for w in app.get(kind) if getattr(w, "key", None) == key), None)
            if widget is None or widget.disabled:
                break
            set_value(widget, value)
            start = time.perf_counter()
            try:
                app.run()
            except Exception as err:  # e.g. a select_slider whose options AppTest only knows as labels
                print(f"  ({page}: {key} cannot be set to {value!r} through AppTest: {type(err).__name__}; skipped)")
                app, _ = open_page(page, data)
                break
            elapsed = time.perf_counter() - start
            if app.exception:
                raise RuntimeError(f"{page}, {key}={value!r}: {[e.value for e in app.exception]}")
            times.append(elapsed)
            if elapsed > slowest[1]:
                slowest = (f"{key}={value!r}", elapsed)
    return {"page": page, "cold": cold, "warm": warm, "changes": len(times),
            "median": statistics.median(times) if times else float("nan"),
            "p90": sorted(times)[int(0.9 * (len(times) - 1))] if times else float("nan"), "slowest": slowest}


def main(argv: list[str] | None = None) -> int:
    from lessons.overview import COURSE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data"))
    parser.add_argument("--changes", type=int, default=5, help="values per widget")
    parser.add_argument("--pages", nargs="*", help="pages to measure (default: every available lesson)")
    args = parser.parse_args(argv)
    pages = args.pages or [lesson.page for lesson in COURSE if lesson.available]

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; data: {args.data}")
    print("| page | first render, cold | first render, warm | widget changes | rerun median | rerun p90 | slowest change |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for page in pages:
        r = bench_page(page, args.data, args.changes)
        print(f"| {page} | {r['cold'] * 1000:,.0f} ms | {r['warm'] * 1000:,.0f} ms | {r['changes']} | "
              f"{r['median'] * 1000:,.0f} ms | {r['p90'] * 1000:,.0f} ms | {r['slowest'][0]} ({r['slowest'][1] * 1000:,.0f} ms) |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
