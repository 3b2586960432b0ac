"""A class at once: N browser sessions on one course server, each moving a lesson's slider and
uploading a face, with the time from each action to the updated page, the errors and the server's
memory.

    python bench/bench_load.py [--sessions 30] [--moves 5] [--think 1.0] [--data ../shared/data]

The server runs on 127.0.0.1 (`streamlit run app.py`, as a teacher would start it). One Debian
Chromium holds one browser context (a separate session, as a separate student) per session. After
one warm-up visit (the first student, who waits for the model and the data to load: reported
apart), all sessions start together and each:

1. opens lesson 2 (the margin) from its address and waits until it is drawn;
2. moves the margin slider `--moves` times with the keyboard, each time waiting until a chart or a
   number on the page has been redrawn (time to update), with a random pause of 0 to 2 x `--think`
   seconds before each move;
3. opens the Your-faces page (when it exists) and uploads one LFW photo from memory, waiting until
   the page shows its face crop (time to update).

An error is a timeout, a failed step, or an exception shown on the page. The server's resident
memory (RSS, from /proc) is sampled every 0.2 s: before the sessions, at the peak, and after they
all close (Streamlit keeps a closed session's state 2 minutes for a reconnect, so it is sampled
until `--settle` seconds after). Prints p50 / p95 per kind of action, the errors and the memory.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lessons.overview import COURSE  # noqa: E402
from tests.browser.server import (ARM_JS, CHANGED_JS, EXCEPTION, SETTLED_JS, SIGNATURE_JS, SLIDER,  # noqa: E402
                                  AppServer,
                                  chromium_path, lfw_photo, why_no_browser)

LESSON_URL = "/margin"
UPLOAD_PAGE = "pages/your_faces.py"
TIMEOUT = 180_000  # ms


async def settle(page) -> None:
    await page.wait_for_function(SETTLED_JS, timeout=TIMEOUT, polling=50)


class Frames:
    """When the page's websocket last received a message from the server (the end of its answer)."""

    def __init__(self, page):
        self.times: list[float] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda _: self.times.append(time.perf_counter())))

    def answered(self, since: float) -> float:
        """Seconds from `since` to the last message received after it."""
        later = [t for t in self.times if t > since]
        return (max(later) - since) if later else float("nan")


async def student(number: int, context, base: str, moves: int, think: float, photo, results: dict, errors: list):
    page = await context.new_page()
    frames = Frames(page)
    rng = random.Random(number)
    step = "opening the lesson"
    try:
        start = time.perf_counter()
        await page.goto(base + LESSON_URL)
        await page.locator(SLIDER).first.wait_for(timeout=TIMEOUT)
        await settle(page)
        results["open the lesson"].append((time.perf_counter() - start, frames.answered(start)))
        slider = page.locator(SLIDER).first
        for move in range(moves):
            step = f"move {move + 1}"
            await asyncio.sleep(rng.uniform(0, 2 * think))
            before = await page.evaluate(SIGNATURE_JS)
            await page.evaluate(ARM_JS)
            await slider.focus()
            start = time.perf_counter()
            await page.keyboard.press("ArrowRight" if move % 4 < 2 else "ArrowLeft")
            await page.wait_for_function(CHANGED_JS, arg=before, timeout=TIMEOUT, polling=20)
            updated = time.perf_counter() - start
            await settle(page)
            results["move the slider"].append((updated, frames.answered(start)))
        if await page.locator(EXCEPTION).count():
            raise RuntimeError("the lesson shows an exception")
        if photo is not None:
            step = "upload"
            await asyncio.sleep(rng.uniform(0, 2 * think))
            await page.goto(base + "/" + Path(UPLOAD_PAGE).stem)
            box = page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator("input[type=file]")
            await box.wait_for(state="attached", timeout=TIMEOUT)
            await settle(page)
            name, data = photo
            start = time.perf_counter()
            await box.set_input_files(files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
            await page.get_by_text("What the model sees").first.wait_for(timeout=TIMEOUT)
            updated = time.perf_counter() - start
            await settle(page)
            results["upload a face"].append((updated, frames.answered(start)))
            if await page.locator(EXCEPTION).count():
                raise RuntimeError("the Your-faces page shows an exception")
    except Exception as err:  # noqa: BLE001 - every failure of a student counts as an error
        errors.append(f"session {number}, {step}: {type(err).__name__}: {str(err).splitlines()[0][:160]}")
    finally:
        await page.close()


async def sample(server: AppServer, into: list, stop: asyncio.Event) -> None:
    while not stop.is_set():
        into.append(server.rss_mb())
        await asyncio.sleep(0.2)


def server_cpu(server: AppServer) -> float:
    """CPU seconds the server process has used (user + system), from /proc."""
    with open(f"/proc/{server.process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run(args) -> int:
    from playwright.async_api import async_playwright

    upload_lesson = next((lesson for lesson in COURSE if lesson.page == UPLOAD_PAGE), None)
    photo = lfw_photo(args.data) if upload_lesson is not None and upload_lesson.available else None
    if photo is None:
        print("(the Your-faces page is not there: no uploads)")
    watcher = None if args.watcher == "project" else args.watcher
    with AppServer(args.data, file_watcher=watcher) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path())
            # The first student: the model, the embeddings and the face finder load now.
            warm = {"open the lesson": [], "move the slider": [], "upload a face": []}
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            errors: list[str] = []
            await student(-1, context, server.url, 1, 0.0, photo, warm, errors)
            await context.close()
            first_visit = time.perf_counter() - start
            await asyncio.sleep(3)
            before = server.rss_mb()
            print(f"warm-up (first student, cold caches): {first_visit:.1f} s in all"
                  + "".join(f"; {k} {v[0][0]:.2f} s" for k, v in warm.items() if v)
                  + (f"; ERRORS: {errors}" if errors else ""))
            print(f"server RSS after the warm-up: {before:.0f} MB")

            results = {"open the lesson": [], "move the slider": [], "upload a face": []}
            errors = []
            rss: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample(server, rss, stop))
            # One tab per student: each tab is its own Streamlit session (its own websocket and state);
            # sharing one browser profile spares the machine loading Streamlit's scripts 30 times.
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            start, cpu_server, cpu_all = time.perf_counter(), server_cpu(server), machine_cpu()
            await asyncio.gather(*(student(i, context, server.url, args.moves, args.think, photo, results, errors)
                                   for i in range(args.sessions)))
            wall = time.perf_counter() - start
            cpu_server, cpu_all = server_cpu(server) - cpu_server, machine_cpu() - cpu_all
            peak = max(rss)
            await context.close()
            closed_at = time.perf_counter()
            after: list[tuple[float, float]] = []
            while time.perf_counter() - closed_at < args.settle:
                await asyncio.sleep(5)
                after.append((time.perf_counter() - closed_at, server.rss_mb()))
            stop.set()
            await sampler
            await browser.close()

    print(f"\n{args.sessions} sessions at once, {args.moves} slider moves each (pause 0-{2 * args.think:g} s "
          f"before each), {'one upload each' if photo else 'no upload'}: {wall:.1f} s; {os.cpu_count()} CPUs "
          f"shared by the server and the browser; file watcher: {args.watcher}")
    print("\n| action | count | time to update: p50 | p95 | max | server's answer: p50 | p95 |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, pairs in results.items():
        if pairs:
            shown, answered = [p[0] for p in pairs], [p[1] for p in pairs if p[1] == p[1]]
            print(f"| {name} | {len(pairs)} | {statistics.median(shown):.2f} s | {percentile(shown, 0.95):.2f} s | "
                  f"{max(shown):.2f} s | {statistics.median(answered):.2f} s | {percentile(answered, 0.95):.2f} s |")
    actions = sum(len(v) for v in results.values())
    print(f"\nCPU during the sessions: the server {cpu_server:.1f} s ({1000 * cpu_server / max(actions, 1):.0f} ms per "
          f"action, page openings included), everything else (the browser) {cpu_all - cpu_server:.1f} s, over "
          f"{wall:.1f} s x {os.cpu_count()} cores")
    print(f"\nerrors: {len(errors)}" + "".join(f"\n  {e}" for e in errors))
    marks = [a for a in after if a[0] >= 9][:1] + after[-1:]
    print(f"server RSS: {before:.0f} MB before, {peak:.0f} MB at the peak (+{peak - before:.0f} MB), "
          + ", ".join(f"{mb:.0f} MB {t:.0f} s after the sessions closed" for t, mb in marks))
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--moves", type=int, default=5, help="slider moves per session")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause before each action, in seconds")
    parser.add_argument("--settle", type=float, default=150, help="seconds to watch the memory after closing")
    parser.add_argument("--watcher", default="project", choices=("project", "none", "poll"),
                        help="Streamlit's source-file watcher: as .streamlit/config.toml says, or forced")
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    missing = why_no_browser()
    if missing:
        print(f"Cannot measure: {missing}.", file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
