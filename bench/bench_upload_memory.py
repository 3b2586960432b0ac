"""The server's memory while students upload photos to "Your faces": real server, real browser tabs.

    python bench/bench_upload_memory.py [--data ../shared/data] [--photos 10] [--sessions 5] [--settle 40]
                                        [--cases photos,png16,float-tiff,largest-png] [--arena-max 2]

Each case runs on a fresh server (tools/browser.py's AppServer, started as the classroom command
starts it: `MALLOC_ARENA_MAX=2`). The server is warmed up first, as by the first students of a
class: one tab opens *Your faces*, uploads one LFW photo and then a 2000 x 2000 photo without a
face (so that OpenCV's face finder has made the buffers of its largest search, which it keeps for
good: about 80 MB once per server), and closes; once the server has handed the memory of that
session back (`--settle` seconds), its RSS is the case's start.

Cases (tabs of Debian's Chromium, driven by Playwright, each a session of its own, each uploading
through the page's "Upload photos" box, from memory):

* ``photos``: one session uploads `--photos` phone-size photos of about 19 MB, one after the other
  (each waits until the page shows its face): 5000 x 5000 JPEGs at quality 98, an LFW photo scaled
  up with sensor-like noise, each with its own noise so that no two are the same;
* ``png16``: `--sessions` sessions upload, at the same moment, a 7000 x 7000 16-bit grey PNG (a
  smooth ramp: 0.4 MB of file for 98 MB of pixels);
* ``float-tiff``: the same with a 7000 x 7000 32-bit floating-point TIFF (deflate; 196 MB of pixels);
* ``largest-png``: the same with a flat 8-bit RGB PNG of the most pixels model/faces.py accepts
  (the worst small file that is decoded rather than refused).

For each case it prints the RSS at the start, its peak while the uploads are handled (the kernel's
own high-water mark, VmHWM, reset before the case through /proc/PID/clear_refs; sampled every
20 ms where that cannot be done), and the RSS `--settle` seconds after the tabs have closed (the
server's memory thread hands free memory back every 30 s), with the time each upload took to be
answered on the page. Every photo is made in memory from one LFW photo; nothing is written to disk.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tools.browser import SETTLED_JS, AppServer, launch, lfw_photo, why_no_browser

REPO = Path(__file__).resolve().parents[1]
PAGE_URL = "/your_faces"
TIMEOUT = 300_000  # ms
MAIN = "[data-testid=stMain]"
CASES = ("photos", "png16", "float-tiff", "largest-png")


def default_data() -> str:
    return os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data")


# --------------------------------------------------------------------------------------------
# The files, made in memory
# --------------------------------------------------------------------------------------------


def phone_photos(data: str, count: int, side: int = 5000, quality: int = 98) -> list[tuple[str, bytes]]:
    """`count` JPEGs of about 19 MB: an LFW photo scaled to side x side, with noise of its own each."""
    from model.faces import MAX_UPLOAD_BYTES

    _, raw = lfw_photo(data)
    with Image.open(io.BytesIO(raw)) as im:
        base = np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BICUBIC), dtype=np.int16)
    out = []
    for seed in range(count):
        noise = np.random.default_rng(seed).integers(-24, 25, base.shape, dtype=np.int16)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        del noise
        for q in range(quality, 80, -1):  # the highest quality under the upload limit
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=q)
            if buffer.tell() <= MAX_UPLOAD_BYTES - 64 * 1024:
                break
        out.append((f"phone-{seed + 1:02d}.jpg", buffer.getvalue()))
    return out


def png16(side: int = 7000) -> bytes:
    """A side x side 16-bit grey PNG: a smooth ramp, which compresses to a few hundred KB."""
    ramp = (np.arange(side, dtype=np.uint32) * 65535 // max(side - 1, 1)).astype(np.uint16)
    out = io.BytesIO()
    Image.fromarray(np.broadcast_to(ramp, (side, side)).copy()).save(out, "PNG", compress_level=9)
    return out.getvalue()


def float_tiff(side: int = 7000) -> bytes:
    """A side x side 32-bit floating-point grey TIFF (deflate): values from 0 to 1, in bands."""
    ramp = (np.arange(side, dtype=np.float32) // 500) / (side // 500)
    out = io.BytesIO()
    Image.fromarray(np.broadcast_to(ramp, (side, side)).copy(), "F").save(out, "TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def largest_png() -> tuple[bytes, str]:
    """A flat RGB PNG of the most pixels this checkout's model/faces.py decodes (rather than refuses
    from its header), and its size in words."""
    from model import faces

    if not hasattr(faces, "decode_bytes"):  # no memory check: only MAX_PIXELS
        side = math.isqrt(faces.MAX_PIXELS) - 1
    else:
        probe = Image.new("RGB", (1, 1))
        low, high = 64, math.isqrt(faces.MAX_PIXELS)
        while low < high:  # the largest side whose decode fits MAX_DECODE_BYTES
            mid = (low + high + 1) // 2
            if faces.decode_bytes(probe, "PNG", (mid, mid)) <= faces.MAX_DECODE_BYTES:
                low = mid
            else:
                high = mid - 1
        side = low
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "PNG", compress_level=9)
    return out.getvalue(), f"{side} x {side}"


# --------------------------------------------------------------------------------------------
# The server's memory
# --------------------------------------------------------------------------------------------


def status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Peak:
    """The server's peak RSS from now on: the kernel's high-water mark (VmHWM) after resetting it,
    and, as a check and where it cannot be reset, the highest of readings every 20 ms."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets the peak resident set size
            self.kernel = True
        except OSError:
            self.kernel = False
        self.sampled = status_mb(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.sampled = max(self.sampled, status_mb(self.pid, "VmRSS"))
            except OSError:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.sampled, status_mb(self.pid, "VmHWM")) if self.kernel else self.sampled


def wait_settled(page) -> None:
    page.wait_for_function(SETTLED_JS, timeout=TIMEOUT, polling=50)


def open_your_faces(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url + PAGE_URL)
    page.locator(MAIN + " h1").first.wait_for()
    wait_settled(page)
    return context, page


MIME = {"jpg": "image/jpeg", "png": "image/png", "tif": "image/tiff"}


def choose_files(page, files: list[tuple[str, bytes]]) -> None:
    """Give the page's "Upload photos" box these files, as a student choosing them would."""
    box = page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator("input[type=file]")
    box.set_input_files(files=[{"name": name, "mimeType": MIME[name.rsplit(".", 1)[1]], "buffer": data}
                               for name, data in files])


def wait_answered(page, name: str) -> None:
    """Until the page says something about `name` (its card, or a message) outside the upload box."""
    page.locator(f"{MAIN} [data-testid=stMarkdownContainer]", has_text=name).first.wait_for()
    wait_settled(page)


def settle(server: AppServer, seconds: float) -> list[float]:
    """RSS readings every 10 s for `seconds` seconds (the last one at the end)."""
    readings, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        time.sleep(min(10.0, seconds - (time.perf_counter() - start)))
        readings.append(server.rss_mb())
    return readings


def warm_up(browser, server: AppServer, data: str) -> None:
    """The first students: the model, the maps, the LFW photos and the face finder are loaded, and the
    face finder has searched a photo of the largest size it searches (1024 x 1024, where it finds no
    face, so with its finer second scan too). OpenCV keeps the buffers of its largest search (about
    80 MB) for the life of the process: a cost once per server, not per photo or per session."""
    context, page = open_your_faces(browser, server.url)
    name, raw = lfw_photo(data)
    choose_files(page, [(name, raw)])
    wait_answered(page, name)
    noise = np.random.default_rng(0).integers(100, 156, (2000, 2000, 3), dtype=np.uint8)
    blank = io.BytesIO()
    Image.fromarray(noise).save(blank, "JPEG", quality=80)
    choose_files(page, [("warm-up.jpg", blank.getvalue())])
    wait_answered(page, "warm-up.jpg")
    context.close()


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------


def run_case(case: str, args, playwright) -> dict:
    env = {"MALLOC_ARENA_MAX": str(args.arena_max)} if args.arena_max > 0 else {}
    env.update(dict(item.split("=", 1) for item in args.server_env))
    label = ""
    if case == "photos":
        photos = phone_photos(args.data, args.photos)
        sizes = [len(d) / 2**20 for _, d in photos]
        label = f"{len(photos)} photos of {min(sizes):.1f}-{max(sizes):.1f} MB, one session, one after the other"
    else:
        if case == "png16":
            blob, what = png16(), "7000 x 7000 16-bit PNG"
        elif case == "float-tiff":
            blob, what = float_tiff(), "7000 x 7000 float TIFF"
        else:
            blob, what = largest_png()
            what = f"{what} RGB PNG"
        ext = "tif" if case == "float-tiff" else "png"
        label = f"{args.sessions} sessions at once, each a {what} of {len(blob) / 1024:.0f} KB"
    with AppServer(args.data, env=env) as server:
        browser = launch(playwright)
        try:
            warm_up(browser, server, args.data)
            settle(server, args.settle)
            start = server.rss_mb()
            timings = []
            if case == "photos":
                context, page = open_your_faces(browser, server.url)
                contexts = [context]
                peak = Peak(server.process.pid)
                for name, data in photos:
                    t = time.perf_counter()
                    choose_files(page, [(name, data)])
                    wait_answered(page, name)
                    timings.append(time.perf_counter() - t)
                shown = page.locator(f"{MAIN} [data-testid=stImage]").count()
                said = page.locator(f"{MAIN} [data-testid=stAlert]").all_inner_texts()
            else:
                opened = [open_your_faces(browser, server.url) for _ in range(args.sessions)]
                contexts = [c for c, _ in opened]
                names = [f"huge-{i + 1}.{ext}" for i in range(args.sessions)]
                peak = Peak(server.process.pid)
                t = time.perf_counter()
                for (_, page), name in zip(opened, names):
                    choose_files(page, [(name, blob)])
                for (_, page), name in zip(opened, names):
                    wait_answered(page, name)
                    timings.append(time.perf_counter() - t)
                page = opened[0][1]
                shown = page.locator(f"{MAIN} [data-testid=stImage]").count()
                said = page.locator(f"{MAIN} [data-testid=stAlert]").all_inner_texts()
            top = peak.stop()
            during = server.rss_mb()
            for context in contexts:
                context.close()
            later = settle(server, args.settle)
        finally:
            browser.close()
    message = next((s for s in said if "huge-" in s or "phone-" in s), "")
    message = re.sub(r"^[a-z_]+\s*\n+", "", message.strip())  # the alert's icon, as text
    return {"case": case, "label": label, "start": start, "peak": top, "during": during, "settled": later[-1],
            "curve": later, "timings": timings, "images": shown, "message": message.strip()}


def report(result: dict, settle_s: float) -> None:
    s = result["start"]
    print(f"\n== {result['case']}: {result['label']}")
    print(f"   RSS at the start {s:.0f} MB; peak {result['peak']:.0f} MB (+{result['peak'] - s:.0f}); "
          f"after the uploads {result['during']:.0f} MB (+{result['during'] - s:.0f}); "
          f"{settle_s:.0f} s after the tabs closed {result['settled']:.0f} MB (+{result['settled'] - s:.0f})")
    print("   after closing, every 10 s: " + ", ".join(f"+{r - s:.0f}" for r in result["curve"]) + " MB")
    t = result["timings"]
    print(f"   answered on the page after {min(t):.1f} - {max(t):.1f} s (median {sorted(t)[len(t) // 2]:.1f} s)"
          f"; images on the page: {result['images']}")
    if result["message"]:
        print(f"   the page said: {result['message'][:400]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=default_data(), help="the folder with lfw/ (default: ../shared/data)")
    parser.add_argument("--photos", type=int, default=10, help="19 MB photos in the 'photos' case")
    parser.add_argument("--sessions", type=int, default=5, help="sessions uploading at once in the other cases")
    parser.add_argument("--settle", type=float, default=40.0,
                        help="seconds to wait after the warm-up and after the tabs close (the server trims every 30 s)")
    parser.add_argument("--cases", default=",".join(CASES), help="which cases, comma-separated: " + ", ".join(CASES))
    parser.add_argument("--arena-max", type=int, default=2, help="MALLOC_ARENA_MAX for the server; 0: glibc's default")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="another environment variable for the server (repeatable), e.g. MALLOC_MMAP_THRESHOLD_=4194304")
    args = parser.parse_args()
    missing = why_no_browser()
    if missing:
        raise SystemExit(f"Cannot run: {missing}.")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"Unknown case(s): {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}.")
    from playwright.sync_api import sync_playwright

    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
          f"code from {REPO}; MALLOC_ARENA_MAX={args.arena_max or 'unset'} {' '.join(args.server_env)}")
    results = []
    with sync_playwright() as playwright:
        for case in cases:
            results.append(run_case(case, args, playwright))
            report(results[-1], args.settle)
    print("\n| case | start (MB) | peak | settled |\n| --- | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['label']} | {r['start']:.0f} | +{r['peak'] - r['start']:.0f} MB | "
              f"+{r['settled'] - r['start']:.0f} MB |")


if __name__ == "__main__":
    main()
