"""Cold start: from `streamlit run app.py` to the home page on screen, in Debian's Chromium.

    python bench/bench_startup.py [--repeat 5] [--data ../shared/data]

Each round starts a new server process and, at once, points an already running browser at it.
It times, from the moment the process is started:

* *server up*: the server answers its health check;
* *home text*: the home page's title and its list of lessons are visible (the course is usable);
* *home complete*: the home page has finished, the model check (the shipped card, no torch) and
  the data search included;
* *first lesson*: then, at once, a click on lesson 7 (Evaluation) until its page is drawn, on this
  cold server: torch (imported in the background since the home page was drawn), the model and the
  LFW embeddings load then. A visitor who reads the home page first finds torch imported.

Every round does this twice, with a new server each time, in alternating order:

* *new browser*: a browser profile that has never opened the course (a fresh context, a new port),
  so it downloads and compiles Streamlit's 2 MB of scripts;
* *returning browser*: one profile kept for the whole run, always at the same address, which has
  opened the course before. Streamlit's scripts are served as immutable for a year, so it has them
  cached. This is a teacher's browser: `streamlit run app.py` serves at the same address,
  http://localhost:8501, every time.

Prints every round and the medians. The first round may be slower (the OS file cache is cold).
The README quotes the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from lessons.overview import COURSE
from tools.browser import AppServer, free_port, launch, open_lesson, wait_idle, why_no_browser

REPO = Path(__file__).resolve().parents[1]
LESSON = "pages/evaluation.py"
VIEWPORT = {"width": 1280, "height": 900}
BROWSERS = ("new browser", "returning browser")


def cold_start(context, data: str, port: int | None = None) -> dict[str, float]:
    """One new server, opened in a new tab of `context`; its times (see the module's docstring)."""
    page = context.new_page()
    server = AppServer(data, port=port).start()
    try:
        times = {"server up": server.wait_ready()}
        page.goto(server.url)
        page.locator("[data-testid=stMain] h1", has_text="FaceNet, hands on").wait_for()
        page.get_by_text("The path through the course").wait_for()
        times["home text"] = time.perf_counter() - server.started_at
        page.get_by_text("The data", exact=True).wait_for()
        wait_idle(page)
        times["home complete"] = time.perf_counter() - server.started_at
        lesson = next(lesson for lesson in COURSE if lesson.page == LESSON)
        start = time.perf_counter()
        open_lesson(page, server.url, lesson)
        times["first lesson"] = time.perf_counter() - start
        if page.locator("[data-testid=stException]").count():
            raise RuntimeError("the page shows an exception")
        return times
    finally:
        page.close()
        server.stop()


def new_context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(180_000)
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    missing = why_no_browser()
    if missing:
        print(f"Cannot measure: {missing}.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    print(f"{os.cpu_count()} CPUs; data: {args.data}; {args.repeat} rounds")
    rounds: dict[str, list[dict[str, float]]] = {kind: [] for kind in BROWSERS}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        returning, port = new_context(browser), free_port()
        cold_start(returning, args.data, port)  # its earlier visit: Streamlit's scripts are now cached
        for number in range(1, args.repeat + 1):
            for kind in BROWSERS if number % 2 else BROWSERS[::-1]:
                if kind == "new browser":
                    context = new_context(browser)
                    times = cold_start(context, args.data)
                    context.close()
                else:
                    times = cold_start(returning, args.data, port)
                rounds[kind].append(times)
                print(f"round {number}, {kind}: " + ", ".join(f"{name} {value:.2f} s" for name, value in times.items()),
                      flush=True)
        returning.close()
        browser.close()
    print("\n| measurement | " + " | ".join(f"{kind}: median (min - max)" for kind in BROWSERS) + " |")
    print("| --- |" + " ---: |" * len(BROWSERS))
    for name in rounds[BROWSERS[0]][0]:
        cells = []
        for kind in BROWSERS:
            values = [r[name] for r in rounds[kind]]
            cells.append(f"{statistics.median(values):.2f} s ({min(values):.2f} - {max(values):.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
