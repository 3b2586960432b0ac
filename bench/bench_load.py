"""A class at once: N sessions on one course server, each moving a lesson's slider and uploading a
face, with the time from each action to the updated page, the errors and the server's memory.

    python bench/bench_load.py [--sessions 30] [--client browser|protocol|mixed] [--tabs 1] [--moves 5]
                               [--think 5] [--arrive 10] [--waves 2] [--settle 150] [--arena-max 2]
                               [--data ../shared/data]

The server runs on 127.0.0.1 (`MALLOC_ARENA_MAX=2 streamlit run app.py`, as the README tells a
teacher to start it for a class; `--arena-max 0` leaves out the variable). After one
warm-up visit (the first student, who waits for the model and the data to load: reported apart),
all sessions start together, as when a teacher says "open lesson 2, and move alpha", and each:

1. opens lesson 2 (the margin) from its address, at a random moment of the first `--arrive`
   seconds, and waits until it is drawn;
2. moves the margin slider `--moves` times, after a random pause of 0 to 2 x `--think` seconds
   (a student looks at the chart before moving again), each time waiting until the page has been
   updated;
3. opens the Your-faces page (when it exists) and uploads one LFW photo, from memory, waiting until
   the page shows the face crop the model sees.

Three kinds of client:

* `browser` (the default): one Debian Chromium, one tab per session (each tab is its own Streamlit
  session). The time to update runs from the key press or the upload to the changed chart or crop
  on screen; "server's answer" is when the tab received the server's last message. On a small
  machine the tabs' drawing competes with the server for the CPU (both are printed).
* `protocol`: each session speaks Streamlit's websocket protocol itself (the protobuf messages a
  tab sends and receives, and the same HTTP upload) and checks what the server sends back (the
  new alpha in the formulas, the "What the model sees" caption). The time to update ends when the
  server has sent the whole updated page; drawing it is left to the students' own computers.
* `mixed`: `--tabs` of the sessions are Chromium tabs and the others protocol clients. This is a
  class as it happens: every student's computer draws only its own page, while the server answers
  all of them. The tabs' times are what a student sees on screen with the whole class on the
  server; they are reported apart.

An error is a timeout, a failed check, or an exception on the page. The server's resident memory
(RSS, from /proc) is sampled every 0.2 s: before each wave, at its peak and after its sessions
close. Streamlit keeps a closed session 2 minutes for a reconnect (hence `--settle`) and drops the
expired ones when it next stores a session, so one more visitor comes and goes before the last
reading, taken once the server has next handed its free memory back (every 30 s). Later waves
show whether the memory of the first was reused (bounded) or keeps growing. Beside the RSS, the
server's allocators report what they hold in use and what they keep free (bench/heap_probe, put on
the server's PYTHONPATH; Linux with glibc): memory a class returned on closing is back in the free
count, whether or not the system got its pages. Prints p50 / p95
per kind of action, the errors, the CPU used and the memory, per wave and, with several waves,
for all of them together. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lessons.overview import COURSE
from server.memory import TRIM_EVERY_S
from tools.browser import (ARM_JS, CHANGED_JS, EXCEPTION, SETTLED_JS, SIGNATURE_JS, SLIDER, AppServer,
                           chromium_path, lfw_photo, why_no_browser)

REPO = Path(__file__).resolve().parents[1]
LESSON_URL = "/margin"
LESSON_KEY = "margin-alpha"  # its first slider
UPLOAD_PAGE = "pages/your_faces.py"
TIMEOUT = 180_000  # ms
HEAP_PROBE = REPO / "bench" / "heap_probe"  # its sitecustomize.py reports the server's allocators


def server_env(folder: str, arena_max: int) -> dict[str, str]:
    """Environment for the server: it loads the heap probe, which writes to `folder`/heap.json, and
    with `arena_max` > 0 it is started as the README's classroom command starts it
    (MALLOC_ARENA_MAX=2 streamlit run app.py); 0 leaves glibc's default (8 arenas per core)."""
    path = os.pathsep.join(p for p in (str(HEAP_PROBE), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, "BENCH_HEAP_FILE": os.path.join(folder, "heap.json")}
    if arena_max > 0:
        env["MALLOC_ARENA_MAX"] = str(arena_max)
    return env


def heap(server: AppServer) -> dict | None:
    """The server's allocators' latest reading (malloc's MB in use and free, its arenas, Python's
    small blocks in use), or None where the probe cannot read them."""
    try:
        with open(server.env["BENCH_HEAP_FILE"]) as reading:
            return json.load(reading)
    except (KeyError, OSError, ValueError):
        return None


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


async def student(number: int, context, base: str, moves: int, think: float, arrive: float, photo, results: dict,
                  errors: list):
    page = await context.new_page()
    frames = Frames(page)
    rng = random.Random(number)
    step = "opening the lesson"
    try:
        await asyncio.sleep(rng.uniform(0, arrive))
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


# --------------------------------------------------------------------------------------------
# --client protocol: the messages a browser exchanges with the server, without a browser
# --------------------------------------------------------------------------------------------


class StreamlitClient:
    """One session spoken to in Streamlit's own websocket protocol (the protobuf BackMsg and
    ForwardMsg a browser tab sends and receives), and its HTTP upload. Its "time to update" ends
    when the server reports the run finished: every element has then been sent. Drawing it is left
    out, which a real class does on the students' own computers."""

    def __init__(self, base: str, cookie: str):
        self.base, self.cookie = base, cookie
        self.ws = None
        self.session_id = self.page_hash = ""
        self.widgets: list[str] = []  # the sliders' ids (a keyed widget's id ends in its key)
        self.uploader = ""
        self.texts: list[str] = []
        self.exceptions = 0
        self.file_urls = None

    async def connect(self) -> None:
        import websockets  # a dependency of Streamlit's own server

        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers={"Cookie": self.cookie})

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def send(self, message) -> None:
        await self.ws.send(message.SerializeToString())

    async def receive(self) -> bytes:
        return await asyncio.wait_for(self.ws.recv(), TIMEOUT / 1000)

    async def receive_until_finished(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.receive())
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            elif kind == "navigation":  # the page this run shows: the next run stays on it
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    self.exceptions += 1
                elif which == "slider":
                    self.widgets.append(element.slider.id)
                elif which == "file_uploader":
                    self.uploader = element.file_uploader.id
                elif which == "markdown":
                    self.texts.append(element.markdown.body)
            elif kind == "file_urls_response":
                self.file_urls = msg.file_urls_response
                return
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return

    async def run(self, page_name: str = "", widgets=()) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState

        state = ClientState(page_name=page_name, page_script_hash="" if page_name else self.page_hash)
        state.widget_states.widgets.extend(widgets)
        self.texts = []
        await self.send(BackMsg(rerun_script=state))
        await self.receive_until_finished()

    def widget(self, key: str) -> str:
        return next(wid for wid in self.widgets if wid.endswith("-" + key))

    async def move(self, key: str, value: float) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.widget(key))
        state.double_array_value.data.append(value)
        await self.run(widgets=[state])

    async def upload(self, name: str, data: bytes) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.Common_pb2 import FileURLsRequest, UploadedFileInfo
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        request = FileURLsRequest(request_id="1", file_names=[name], session_id=self.session_id)
        await self.send(BackMsg(file_urls_request=request))
        await self.receive_until_finished()
        urls = self.file_urls.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        state = WidgetState(id=self.uploader)
        state.file_uploader_state_value.uploaded_file_info.append(
            UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls))
        await self.run(widgets=[state])

    def _put(self, url: str, name: str, data: bytes) -> None:
        import urllib.request

        boundary = "----facenet-course-bench"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        token = self.cookie.split("=", 1)[1] if "=" in self.cookie else ""
        request = urllib.request.Request(url if url.startswith("http") else self.base + url, data=body, method="PUT",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                  "X-Xsrftoken": token, "Cookie": self.cookie})
        with urllib.request.urlopen(request, timeout=TIMEOUT / 1000) as answer:
            answer.read()


def xsrf_cookie(base: str) -> str:
    """The `_streamlit_xsrf=...` cookie that the health check, a browser's first request, sets (an
    upload must send it back)."""
    import urllib.request

    with urllib.request.urlopen(base + "/_stcore/health", timeout=30) as answer:
        for header in answer.headers.get_all("Set-Cookie") or []:
            if header.startswith("_streamlit_xsrf="):
                return header.split(";", 1)[0]
    return ""


async def student_protocol(number: int, base: str, cookie: str, moves: int, think: float, arrive: float, photo,
                           results: dict, errors: list) -> None:
    client = StreamlitClient(base, cookie)
    rng = random.Random(number)
    step = "opening the lesson"
    try:
        await asyncio.sleep(rng.uniform(0, arrive))
        await client.connect()
        start = time.perf_counter()
        await client.run(page_name=LESSON_URL.strip("/"))
        results["open the lesson"].append((time.perf_counter() - start,) * 2)
        value = 0.2
        for move in range(moves):
            step = f"move {move + 1}"
            await asyncio.sleep(rng.uniform(0, 2 * think))
            value = round(value + (0.05 if move % 4 < 2 else -0.05), 2)
            start = time.perf_counter()
            await client.move(LESSON_KEY, value)
            results["move the slider"].append((time.perf_counter() - start,) * 2)
            if not any(f"+ {value:.2f}" in text for text in client.texts):
                raise RuntimeError(f"the page does not show alpha = {value:.2f}")
        if photo is not None:
            step = "upload"
            await asyncio.sleep(rng.uniform(0, 2 * think))
            await client.run(page_name=Path(UPLOAD_PAGE).stem)
            start = time.perf_counter()
            await client.upload(*photo)
            if not any("What the model sees" in text for text in client.texts):
                raise RuntimeError("the face crop was not shown")
            results["upload a face"].append((time.perf_counter() - start,) * 2)
        if client.exceptions:
            raise RuntimeError(f"{client.exceptions} exception(s) on the page")
    except Exception as err:  # noqa: BLE001 - every failure of a student counts as an error
        errors.append(f"session {number}, {step}: {type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
    finally:
        await client.close()


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


async def wave(browser, server: AppServer, args, photo) -> dict:
    """All sessions at once, in tabs of one fresh browser context; then the tabs close and the
    memory is watched for `--settle` seconds."""
    results, tab_results = empty_results(), empty_results()
    errors: list[str] = []
    rss: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(server, rss, stop))
    before, heap_before = server.rss_mb(), heap(server)
    tabs = tab_count(args)
    context = None
    if tabs:
        # One tab per student: each tab is its own Streamlit session (its own websocket and state);
        # sharing one browser profile spares the machine loading Streamlit's scripts once per student.
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT)
    cookie = xsrf_cookie(server.url)
    # In a mixed class the tabs are spread among the protocol clients (sessions 0, 10, 20, ...).
    tab_numbers = set(range(0, args.sessions, max(1, args.sessions // max(tabs, 1)))[:tabs]) if tabs else set()
    students = [student(i, context, server.url, args.moves, args.think, args.arrive, photo, tab_results, errors)
                if i in tab_numbers else
                student_protocol(i, server.url, cookie, args.moves, args.think, args.arrive, photo, results, errors)
                for i in range(args.sessions)]
    start, cpu_server, cpu_all = time.perf_counter(), server_cpu(server), machine_cpu()
    await asyncio.gather(*students)
    wall = time.perf_counter() - start
    cpu_server, cpu_all = server_cpu(server) - cpu_server, machine_cpu() - cpu_all
    if context is not None:
        await context.close()
    closed_at = time.perf_counter()
    after: list[tuple[float, float]] = []
    while time.perf_counter() - closed_at < args.settle:
        await asyncio.sleep(5)
        after.append((time.perf_counter() - closed_at, server.rss_mb()))
    # Streamlit keeps a closed session for a reconnect (2 minutes) and drops the expired ones when it
    # next stores a session: one visitor comes and goes, then the memory is read again.
    visitor = StreamlitClient(server.url, xsrf_cookie(server.url))
    await visitor.connect()
    await visitor.run(page_name=LESSON_URL.strip("/"))  # a page every student has seen: no first load
    await visitor.close()
    # The server hands free memory back every TRIM_EVERY_S seconds (server.memory.hand_memory_back).
    await asyncio.sleep(TRIM_EVERY_S + 5)
    dropped, heap_dropped = server.rss_mb(), heap(server)
    stop.set()
    await sampler
    return dict(results=results, tab_results=tab_results, errors=errors, wall=wall, cpu_server=cpu_server,
                cpu_all=cpu_all, before=before, peak=max(rss), after=after, dropped=dropped,
                heap_before=heap_before, heap_dropped=heap_dropped)


def empty_results() -> dict[str, list[tuple[float, float]]]:
    """Per kind of action, (time to update, server's answer) of each one."""
    return {"open the lesson": [], "move the slider": [], "upload a face": []}


def tab_count(args) -> int:
    """How many of the sessions are Chromium tabs."""
    return {"browser": args.sessions, "protocol": 0}.get(args.client, min(args.tabs, args.sessions))


def who(args) -> str:
    tabs = tab_count(args)
    if args.client == "mixed":
        return f"{args.sessions} sessions ({tabs} Chromium tab{'s' * (tabs != 1)}, {args.sessions - tabs} protocol clients)"
    return f"{args.sessions} {'browser tabs' if tabs else 'protocol clients'}"


def table(title: str, results: dict) -> None:
    if title:
        print(f"\n{title}")
    print("\n| action | count | time to update: p50 | p95 | max | server's answer: p50 | p95 |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, pairs in results.items():
        if pairs:
            shown, answered = [p[0] for p in pairs], [p[1] for p in pairs if p[1] == p[1]]
            print(f"| {name} | {len(pairs)} | {statistics.median(shown):.2f} s | {percentile(shown, 0.95):.2f} s | "
                  f"{max(shown):.2f} s | {statistics.median(answered):.2f} s | {percentile(answered, 0.95):.2f} s |")


def tables(tab_results: dict, results: dict) -> None:
    """The tabs' table and the protocol clients', each when there were any; titled only in a mixed class."""
    kinds = {"The Chromium tabs (on screen):": tab_results,
             "The protocol clients (the whole page sent; no drawing):": results}
    kinds = {title: rows for title, rows in kinds.items() if any(rows.values())}
    for title, rows in kinds.items():
        table(title if len(kinds) > 1 else "", rows)


def report(number: int, w: dict, args, photo) -> None:
    print(f"\nwave {number}: {who(args)} at once "
          f"(arriving within {args.arrive:g} s), {args.moves} slider moves each (pause 0-{2 * args.think:g} s before "
          f"each), {'one upload each' if photo else 'no upload'}: {w['wall']:.1f} s")
    tables(w["tab_results"], w["results"])
    actions = sum(len(v) for v in w["results"].values()) + sum(len(v) for v in w["tab_results"].values())
    print(f"\nCPU: the server {w['cpu_server']:.1f} s ({1000 * w['cpu_server'] / max(actions, 1):.0f} ms per action, "
          f"page openings included); everything else on the machine ({'the clients' if args.client == 'protocol' else 'the browser and the clients'}) {w['cpu_all'] - w['cpu_server']:.1f}"
          f" s; {w['wall']:.1f} s x {os.cpu_count()} cores available")
    if args.client == "protocol":
        print("(protocol clients: the time to update ends when the server has sent the whole page; no drawing)")
    print(f"errors: {len(w['errors'])}" + "".join(f"\n  {e}" for e in w["errors"]))
    # The first reading 10 s after closing and the last one (once, when --settle allows only one).
    marks = list(dict.fromkeys([a for a in w["after"] if a[0] >= 9][:1] + w["after"][-1:]))
    print(f"server RSS: {w['before']:.0f} MB before, {w['peak']:.0f} MB at the peak (+{w['peak'] - w['before']:.0f} MB), "
          + ", ".join(f"{mb:.0f} MB {t:.0f} s after the tabs closed" for t, mb in marks)
          + f", {w['dropped']:.0f} MB {TRIM_EVERY_S + 5:.0f} s after the next visitor came and went (the closed sessions "
            "dropped)",
          flush=True)
    if w["heap_before"] and w["heap_dropped"]:
        b, d = w["heap_before"], w["heap_dropped"]
        print(f"the server's allocators, before the class and after its sessions were dropped: malloc in use "
              f"{b['malloc_in_use_mb']:.1f} -> {d['malloc_in_use_mb']:.1f} MB, malloc free but kept "
              f"{b['malloc_free_mb']:.1f} -> {d['malloc_free_mb']:.1f} MB in {d['malloc_arenas']} arenas, Python's "
              f"small blocks in use {b['python_blocks']:,} -> {d['python_blocks']:,}", flush=True)


async def run(args) -> int:
    from playwright.async_api import async_playwright

    upload_lesson = next((lesson for lesson in COURSE if lesson.page == UPLOAD_PAGE), None)
    photo = lfw_photo(args.data) if upload_lesson is not None and upload_lesson.available else None
    if photo is None:
        print("(the Your-faces page is not there: no uploads)")
    watcher = None if args.watcher == "project" else args.watcher
    print(f"{os.cpu_count()} CPUs shared by the server and {who(args)}; "
          f"file watcher: {args.watcher if args.watcher != 'project' else 'as .streamlit/config.toml says'}")
    failed = False
    options = dict(option.split("=", 1) for option in args.option)
    if options:
        print("Streamlit options: " + ", ".join(f"{k} = {v}" for k, v in options.items()))
    print(f"malloc arenas: {f'at most {args.arena_max} (MALLOC_ARENA_MAX)' if args.arena_max > 0 else 'glibc default'}")
    probe_folder = tempfile.TemporaryDirectory(prefix="facenet-heap-")
    with probe_folder, AppServer(args.data, file_watcher=watcher, options=options,
                                 env=server_env(probe_folder.name, args.arena_max)) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path())
            # The first student: the model, the embeddings and the face finder load now.
            warm = empty_results()
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT)
            start = time.perf_counter()
            errors: list[str] = []
            await student(-1, context, server.url, 1, 0.0, 0.0, photo, warm, errors)
            await context.close()
            first_visit = time.perf_counter() - start
            await asyncio.sleep(3)
            print(f"warm-up (the first student, cold caches): {first_visit:.1f} s in all"
                  + "".join(f"; {k} {v[0][0]:.2f} s" for k, v in warm.items() if v)
                  + (f"; ERRORS: {errors}" if errors else "") + f"; server RSS then {server.rss_mb():.0f} MB",
                  flush=True)
            waves = []
            for number in range(1, args.waves + 1):
                waves.append(await wave(browser, server, args, photo))
                report(number, waves[-1], args, photo)
                failed = failed or bool(waves[-1]["errors"])
            await browser.close()
    if len(waves) > 1:
        summary(waves)
    return 1 if failed else 0


def summary(waves: list[dict]) -> None:
    """Every wave's actions pooled (one wave's p95 of 30 uploads is nearly its maximum), and the
    memory class after class."""
    print(f"\nall {len(waves)} waves together:")
    pooled = {key: {name: [pair for w in waves for pair in w[key][name]] for name in empty_results()}
              for key in ("tab_results", "results")}
    tables(pooled["tab_results"], pooled["results"])
    print(f"\nerrors: {sum(len(w['errors']) for w in waves)}")
    print("server RSS after each class, its sessions dropped: " + ", ".join(f"{w['dropped']:.0f}" for w in waves)
          + " MB; at each peak: " + ", ".join(f"{w['peak']:.0f}" for w in waves) + " MB", flush=True)
    if all(w["heap_dropped"] for w in waves):
        print("malloc in use after each class: " + ", ".join(f"{w['heap_dropped']['malloc_in_use_mb']:.1f}" for w in waves)
              + " MB; free but kept: " + ", ".join(f"{w['heap_dropped']['malloc_free_mb']:.0f}" for w in waves)
              + " MB; Python's small blocks in use: " + ", ".join(f"{w['heap_dropped']['python_blocks']:,}" for w in waves),
              flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--client", default="browser", choices=("browser", "protocol", "mixed"),
                        help="browser: tabs of Debian's Chromium; protocol: Streamlit's websocket messages only; "
                             "mixed: --tabs tabs among protocol clients")
    parser.add_argument("--tabs", type=int, default=1, help="with --client mixed: how many sessions are Chromium tabs")
    parser.add_argument("--moves", type=int, default=5, help="slider moves per session")
    parser.add_argument("--think", type=float, default=5.0, help="mean pause before each action, in seconds")
    parser.add_argument("--arrive", type=float, default=10.0,
                        help="the sessions open the lesson within this many seconds of each other")
    parser.add_argument("--settle", type=float, default=150, help="seconds to watch the memory after closing")
    parser.add_argument("--waves", type=int, default=2,
                        help="how many times the whole class comes (a second wave shows whether memory keeps growing)")
    parser.add_argument("--watcher", default="project", choices=("project", "none", "poll"),
                        help="Streamlit's source-file watcher: as .streamlit/config.toml says, or forced")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a Streamlit option for the server, e.g. runner.postScriptGC=false (repeatable)")
    parser.add_argument("--arena-max", type=int, default=2,
                        help="MALLOC_ARENA_MAX for the server, as the README's classroom command sets it; 0: glibc's default")
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    missing = None if args.client == "protocol" else why_no_browser()
    if missing:
        print(f"Cannot measure: {missing}.", file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
