"""A course server on a free local port, and the few things every browser script does with it.

Used by the browser tests, the screenshot command and the start-up and load benches. The browser is
Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM), driven by Playwright: Playwright's own browser
download is never used, so the course's tests run offline.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

EXCEPTION = "[data-testid=stException]"
# A lesson's own sliders, not the predict-then-see ones (their keys start "predict-"), which
# redraw nothing until the student locks the guess in.
SLIDER = ("[data-testid=stMain] [data-testid=stElementContainer]:not([class*=st-key-predict-]) "
          "[data-testid=stSlider] input[type=range]")

# A number that changes whenever any chart or metric of the page is drawn differently.
SIGNATURE_JS = """() => {
  const parts = [...document.querySelectorAll(
      '[data-testid=stMain] .js-plotly-plot, [data-testid=stMain] [data-testid=stMetric]')]
    .map(e => { const svg = e.querySelectorAll('.main-svg'); return svg.length
                  ? [...svg].map(s => s.innerHTML).join('') : e.innerText; });
  let h = 0;
  for (const s of parts) for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return parts.length + ':' + h;
}"""
# Watch the charts and metrics for changes: the signature is recomputed only after one, so waiting
# costs the browser (which may be serving 30 sessions on the same CPU) next to nothing.
ARM_JS = """() => {
  window.__chartsChanged = false;
  if (window.__chartWatch) window.__chartWatch.disconnect();
  window.__chartWatch = new MutationObserver(changes => {
    for (const c of changes) {
      const node = c.target.nodeType === 1 ? c.target : c.target.parentElement;
      if (node && node.closest('.js-plotly-plot, [data-testid=stMetric]')) { window.__chartsChanged = true; return; }
    }
  });
  window.__chartWatch.observe(document.querySelector('[data-testid=stMain]') || document.body,
                              {subtree: true, childList: true, attributes: true, characterData: true});
}"""
CHANGED_JS = f"""before => {{
  if (!window.__chartsChanged) return false;
  window.__chartsChanged = false;
  return ({SIGNATURE_JS})() !== before;
}}"""


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM", CHROMIUM)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def why_no_browser() -> str | None:
    """None when Playwright and Chromium are both there, else what is missing and how to get it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-test.txt)"
    if chromium_path() is None:
        return f"there is no Chromium at {os.environ.get('CHROMIUM', CHROMIUM)} (Debian: apt-get install chromium)"
    return None


def launch(playwright, **kwargs):
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=chromium_path(), **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def network_address() -> str | None:
    """This machine's address on its network (not loopback), or None when it has none: a browser
    that connects there is, to the server, a visitor over the network. No packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


class AppServer:
    """`streamlit run app.py` on 127.0.0.1 (or `address`) at a free port, reading the face data from `data`.

    The tests turn Streamlit's watching of the source files off (`file_watcher="none"`); `None` keeps
    the project's setting. `env` adds or replaces environment variables (e.g. an empty scikit-learn data home). The
    server's output goes to a log file outside the project; `log_tail()` reads its end.
    """

    def __init__(self, data: str | os.PathLike | None, port: int | None = None, env: dict | None = None,
                 file_watcher: str | None = "none", options: dict | None = None, address: str = "127.0.0.1"):
        self.port = port or free_port()
        self.address = address  # "0.0.0.0": reachable from the network too, as a class server is
        self.file_watcher = file_watcher  # None: as .streamlit/config.toml says (what `streamlit run app.py` does)
        self.options = dict(options or {})  # more Streamlit options, e.g. {"runner.postScriptGC": "false"}
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if data is not None:
            self.env["FACENET_DATA"] = str(data)
        self._dir = tempfile.mkdtemp(prefix="facenet-server-")
        self.log_path = Path(self._dir) / "streamlit.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> "AppServer":
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                   "--server.address", self.address, "--server.port", str(self.port),
                   "--browser.gatherUsageStats", "false"]
        if self.file_watcher:
            command += ["--server.fileWatcherType", self.file_watcher]
        for name, value in self.options.items():
            command += [f"--{name}", str(value)]
        self.started_at = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds from start() until the server answers its health check."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        return time.perf_counter() - self.started_at
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"streamlit did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def rss_mb(self) -> float:
        """The server's resident memory (MB), from /proc."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "AppServer":
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# What a visitor does (Playwright's sync API)
# --------------------------------------------------------------------------------------------


# True once the app has been idle for 400 ms (a page's first visit runs twice in a row: see
# ui.widgets.run_through_app_py), no element is still a placeholder (Streamlit loads the code of
# some elements, the charts among them, only when a page first shows one) and every chart is drawn.
SETTLED_JS = """() => {
  const state = document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state');
  if (state !== 'notRunning') { window.__idleSince = null; return false; }
  window.__idleSince = window.__idleSince || performance.now();
  if (performance.now() - window.__idleSince < 400) return false;
  if (document.querySelector('[data-testid=stMain] [data-testid=stSkeleton]')) return false;  // still loading
  return [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => c.querySelector('.main-svg'));
}"""


def wait_idle(page, timeout: float = 120_000) -> None:
    """Wait until the app has finished its script runs and drawn its charts."""
    page.wait_for_function(SETTLED_JS, timeout=timeout, polling=50)


def open_lesson(page, url: str, lesson, timeout: float = 120_000) -> None:
    """From the home page at `url`, follow the sidebar's link to `lesson` (a lessons.overview.Lesson)
    and wait until its page has been drawn."""
    page.goto(url)
    link = page.locator("[data-testid=stSidebarNav] a", has_text=lesson.nav_title)
    link.wait_for(timeout=timeout)
    link.click()
    page.locator("[data-testid=stMain] h1", has_text=lesson.title[:30]).wait_for(timeout=timeout)
    wait_idle(page, timeout)


def watch_charts(page) -> str:
    """Start watching the page's charts and metrics; returns their signature, for `wait_for_change`."""
    before = page.evaluate(SIGNATURE_JS)
    page.evaluate(ARM_JS)
    return before


def wait_for_change(page, before: str, timeout: float = 60_000) -> None:
    """Wait until a chart or metric differs from `before` (from `watch_charts`, called before the
    action), then until the run that redrew it has finished."""
    page.wait_for_function(CHANGED_JS, arg=before, timeout=timeout, polling=20)
    wait_idle(page, timeout)


def nudge_slider(page, index: int = 0, presses: int = 3) -> str:
    """Move the page's `index`-th slider with the keyboard, as a student would; returns its new value."""
    slider = page.locator(SLIDER).nth(index)
    slider.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    return slider.input_value()


def lfw_photo(data: str | os.PathLike) -> tuple[str, bytes]:
    """(file name, JPEG bytes) of one LFW photo from the data folder: uploaded from memory, never copied."""
    folder = Path(data) / "lfw" / "lfw-deepfunneled" / "Colin_Powell"
    photo = sorted(folder.glob("*.jpg"))[0]
    return photo.name, photo.read_bytes()


def upload(page, name: str, data: bytes) -> None:
    """Give the page's "Upload photos" box one photo, from memory."""
    box = page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator("input[type=file]")
    box.set_input_files(files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
