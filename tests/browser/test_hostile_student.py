"""A hostile student in a real class: one server reachable from the network, as a class server is
(`--server.address 0.0.0.0`, with a teacher key), and Chromium contexts for the teacher and the
students, each connecting over the network address as a student's laptop would.

* A hostile student enrols people under names made of Markdown, HTML, Plotly's tags, LaTeX,
  Streamlit's directives, bare links, a right-to-left override, zero-width characters and a very
  long name, and shares them with the class. The classmate and the teacher see only text: no
  request to the names' addresses, no link, no image, no <b> drawn in a chart, no formula, no icon,
  and the names' characters on the page as typed (tests/hostile.py has the names).
* A shared face lives as long as the tab that shared it: the tab closes, and a classmate watches
  the entry leave the gallery within a minute. A teacher who reloads gets the gallery back by typing
  the key; a student without the key opens and closes nothing.
* The sidebar's data folder is there for a browser on the server's own machine, not for a student.

The first walk (ten names) runs only with FACENET_HOSTILE_WALK=1 for now: alone it passes, inside the
full suite on a 2-core machine it has failed on a Share button redrawn under the pointer.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from urllib.parse import urlparse

import pytest

from lessons import your_faces as yf
from lessons.overview import COURSE
from tests.hostile import EVIL_HOST, HOSTILE_NAMES
from tools.browser import (EXCEPTION, AppServer, lfw_photo, network_address, open_lesson, wait_idle,
                           why_no_browser)

MISSING = why_no_browser()
if MISSING:
    warnings.warn(f"BROWSER TESTS SKIPPED: {MISSING}.")
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

YOUR_FACES = next(lesson for lesson in COURSE if lesson.page == "pages/your_faces.py")
TEACHER_KEY = "a-long-teacher-key-7"
TIMEOUT = 180_000
WORD_JOINER = "\u2060"
HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]")
pytestmark = pytest.mark.slow
expect.set_options(timeout=60_000)  # a busy class server can take this long to draw a page again


@pytest.fixture(scope="module")
def server(shared_data):
    with AppServer(shared_data, env={"FACENET_TEACHER_KEY": TEACHER_KEY}, address="0.0.0.0") as running:
        yield running


@pytest.fixture(scope="module")
def class_url(server) -> str:
    """The server as a student's laptop reaches it (the loopback address if this machine has no other)."""
    return f"http://{network_address() or '127.0.0.1'}:{server.port}"


class Visitor:
    """One browser context (one person's laptop) on the Your-faces page, with every request it makes."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1200})
        self.context.set_default_timeout(TIMEOUT)
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        open_lesson(self.page, url, YOUR_FACES, timeout=TIMEOUT)

    def idle(self):
        wait_idle(self.page, TIMEOUT)
        assert self.page.locator(EXCEPTION).count() == 0, self.page.locator(EXCEPTION).first.inner_text()

    def click(self, label: str, exact: bool = False):
        button = self.page.get_by_role("button", name=label, exact=exact).first
        for _ in range(8):  # a busy server's runs can redraw the button under the pointer: try again
            try:
                button.click(timeout=20_000)
                break
            except PlaywrightTimeout:
                continue
        else:
            button.click()
        self.idle()

    def type_into(self, label: str, text: str):
        box = self.page.locator(f'[data-testid=stMain] input[aria-label="{label}"]').first
        box.fill(text)
        box.press("Enter")
        self.idle()

    def unlock(self, key: str = TEACHER_KEY):
        summary = self.page.get_by_text("For teachers: open or close a class gallery")
        if not self.page.locator('input[aria-label="Teacher key"]').is_visible():
            summary.click()
        self.type_into("Teacher key", key)
        self.click("Unlock")

    def open_gallery(self, code: str):
        self.unlock()
        self.type_into("Class code for your class", code)
        self.click("Open the class gallery")

    def join(self, code: str):
        """Join a class: its box, with a "Leave" button, shows once the page has taken the click (a
        click that lands while a run is being replaced can be lost: then type and click again)."""
        joined = self.page.locator("[data-testid=stMain] button", has_text="Leave")
        for _ in range(3):
            self.type_into("Class code from your teacher", code)
            self.click("Join", exact=True)
            if joined.count():
                return
        expect(joined.first).to_be_visible()

    def upload(self, files: list[tuple[str, bytes]]):
        box = self.page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator("input[type=file]")
        box.set_input_files(files=[{"name": n, "mimeType": "image/jpeg", "buffer": b} for n, b in files])
        self.page.get_by_text("What the model sees").first.wait_for()
        self.idle()

    def enrolled(self) -> int:
        """How many people this visitor has enrolled: their cards, "<name>: N photos" (each counted once)."""
        return self.page.evaluate("""() => new Set([...document.querySelectorAll(
            '[data-testid=stMain] [data-testid=stMarkdownContainer]')].map(e => e.innerText.trim())
            .filter(t => / \\d+ photos$/.test(t) && t.includes(': '))).size""")

    def choose_all(self, photos: int):
        """Choose every uploaded photo (`photos` of them) in "Photos of this person". A run that
        redraws the box can close its list under the pointer: then open it and choose again."""
        choose = self.page.locator("[data-testid=stMultiSelect]", has_text="Photos of this person").first
        everything = self.page.locator("[role=option]", has_text="Select all").first
        for _ in range(6):
            if choose.locator("[data-tag]").count() == photos:
                return
            choose.locator("input").first.click()
            try:
                everything.click(timeout=5_000)
            except PlaywrightTimeout:
                pass
            self.page.keyboard.press("Escape")
            self.idle()
        expect(choose.locator("[data-tag]")).to_have_count(photos)  # chosen, and sent with the next run

    def enrol(self, name: str, photos: int = 3):
        """Enrol every uploaded photo (`photos` of them) under `name`."""
        before = self.enrolled()
        for _ in range(3):  # a click that lands while a run is being replaced can be lost: then again
            self.type_into("Name", name)
            self.choose_all(photos)
            self.click("Enrol", exact=True)
            if self.enrolled() == before + 1:
                return
        alerts = self.page.locator("[data-testid=stAlert]").all_inner_texts()
        raise AssertionError(f"{name!r} was not enrolled; the page says {alerts}")

    def rerun(self):
        """Run the page again, as any click does (the "Names on the map" toggle: once, so that a message
        shown on the next run only is still there)."""
        self.page.locator("[data-testid=stMain] label", has_text="Names on the map").first.click()
        self.idle()

    def main_text(self) -> str:
        return self.page.locator("[data-testid=stMain]").inner_text()

    def close(self):
        self.context.close()


def photos_of_one_person(shared_data, count: int) -> list[tuple[str, bytes]]:
    folder = shared_data / "lfw" / "lfw-deepfunneled" / "George_W_Bush"
    return [(f"photo-{i + 1}.jpg", path.read_bytes()) for i, path in enumerate(sorted(folder.glob("*.jpg"))[:count])]


# What in a page could be more than text: checked in the whole document, charts included.
MORE_THAN_TEXT_JS = """evil => {
  const main = document.querySelector('[data-testid=stMain]');
  const found = [];
  for (const a of document.querySelectorAll('a[href]')) if (a.href.includes(evil)) found.push('link ' + a.href);
  for (const i of document.querySelectorAll('img[src], image')) {
    const src = i.getAttribute('src') || i.getAttribute('href') || '';
    if (src.includes(evil)) found.push('image ' + src);
  }
  for (const i of main.querySelectorAll('img[alt="Streamlit logo"]')) found.push('the :streamlit: logo');
  for (const e of document.querySelectorAll('.main-svg *')) {
    const style = (e.getAttribute('style') || '').replace(/\\s/g, '');
    if (style.includes('font-size:90px')) found.push('a 90px chart text: ' + e.outerHTML.slice(0, 80));
    if (e.tagName.toLowerCase() === 'a') found.push('a link in a chart: ' + e.outerHTML.slice(0, 80));
  }
  for (const e of main.querySelectorAll('.katex annotation'))
    if (/x\\^2|frac/.test(e.textContent)) found.push('a formula: ' + e.textContent);
  for (const e of main.querySelectorAll('[data-testid=stIconMaterial]'))
    if (e.textContent.trim() === 'home') found.push('a :material/home: icon');
  for (const e of main.querySelectorAll('span[style*="color"], span[class*="Colored"]'))
    if (e.textContent.trim() === 'red') found.push('coloured text: ' + e.outerHTML.slice(0, 80));
  return found;
}"""
CHART_TEXT_JS = "() => [...document.querySelectorAll('.main-svg text')].map(t => t.textContent)"


def assert_only_text(visitor: Visitor, names: list[str], who: str) -> None:
    found = visitor.page.evaluate(MORE_THAN_TEXT_JS, EVIL_HOST)
    assert not found, (who, found)
    fetched = [url for url in visitor.requests if urlparse(url).netloc == EVIL_HOST]
    assert not fetched, (who, fetched)
    text = visitor.main_text()
    assert not HIDDEN.search(text), (who, [hex(ord(c)) for c in HIDDEN.findall(text)])
    shown = text.replace(WORD_JOINER, "")
    charts = [t.replace(WORD_JOINER, "") for t in visitor.page.evaluate(CHART_TEXT_JS)]
    for name in names:
        assert name in shown, (who, name)  # the characters as typed, in captions and answers
        assert name in charts, (who, name)  # and on the map, as the star's label


@pytest.mark.skipif(not os.environ.get("FACENET_HOSTILE_WALK"), reason=(
    "the ten-name walk passes alone but not yet reliably inside the full suite on 2 cores (a run redraws "
    "the Share buttons under the pointer): FACENET_HOSTILE_WALK=1 python -m pytest "
    "tests/browser/test_hostile_student.py; tests/pages/test_app_your_faces.py checks the same names in AppTest"))
def test_a_hostile_students_names_reach_classmates_as_text_only(browser, server, class_url, shared_data):
    teacher = Visitor(browser, class_url)
    teacher.open_gallery("ROOM-1")
    expect(teacher.page.get_by_text("ROOM-1 is open")).to_be_visible()
    hostile = Visitor(browser, class_url)
    hostile.upload(photos_of_one_person(shared_data, 3))
    typed = [name[:yf.MAX_NAME] for _, name in HOSTILE_NAMES]  # the name box takes 40 characters, as typing does
    for name in typed:
        hostile.enrol(name)
    names = [yf.clean_name(name) for name in typed]
    hostile.join("ROOM-1")
    share = hostile.page.get_by_role("button", name="Share with class ROOM-1")
    expect(share).to_have_count(len(names))  # one button a person, once the page has drawn them all
    for _ in range(2 * len(names)):  # one person a click (a click lost to a run being replaced is made again)
        if share.count() == 0:
            break
        hostile.click("Share with class ROOM-1")
    unshare = hostile.page.get_by_role("button", name="Unshare from ROOM-1")
    try:
        expect(unshare).to_have_count(len(names))
    except AssertionError:
        alerts = hostile.page.locator("[data-testid=stAlert]").all_inner_texts()
        raise AssertionError(f"{unshare.count()} of {len(names)} people shared; the page says {alerts}") from None
    assert_only_text(hostile, names, "the hostile student")
    classmate = Visitor(browser, class_url)
    classmate.join("room-1")
    expect(classmate.page.get_by_text(f"{len(names)} people shared")).to_be_visible()
    classmate.upload([lfw_photo(shared_data)])  # Colin Powell: identification names one of them, or "unknown"
    assert_only_text(classmate, names, "a classmate")
    # The teacher comes back to the page once the class has shared (a new session: the key brings the
    # gallery back), rather than trusting a tab left idle through a long, busy walk.
    teacher.page.reload()
    teacher.page.locator("[data-testid=stMain] h1").first.wait_for()
    teacher.idle()
    teacher.unlock()
    expect(teacher.page.get_by_text(f"{len(names)} people shared")).to_be_visible()
    assert_only_text(teacher, names, "the teacher")
    for visitor in (hostile, classmate, teacher):
        visitor.close()


def test_a_shared_face_leaves_with_its_tab_and_the_teacher_key_brings_a_gallery_back(browser, server, class_url,
                                                                                    shared_data):
    teacher = Visitor(browser, class_url)
    teacher.open_gallery("LEAVE-1")
    student = Visitor(browser, class_url)
    student.upload(photos_of_one_person(shared_data, 3))
    student.enrol("Leaver")
    student.join("LEAVE-1")
    student.click("Share with class LEAVE-1")
    classmate = Visitor(browser, class_url)
    classmate.join("LEAVE-1")
    expect(classmate.page.get_by_text("1 person shared")).to_be_visible()
    # the student closes the tab: within a minute the entry has left the gallery, for everyone
    student.page.close()
    student.close()
    closed, gone_after = time.perf_counter(), None
    while time.perf_counter() - closed < 75:
        time.sleep(3)
        classmate.rerun()
        if "0 people shared" in classmate.main_text():
            gone_after = time.perf_counter() - closed
            break
    print(f"\nthe closed tab's entry left the gallery after {gone_after} s")
    assert gone_after is not None and gone_after < 60, gone_after
    assert "Leaver" not in classmate.main_text()
    # a classmate without the key can neither open nor close a gallery
    classmate.unlock("LEAVE-1")
    expect(classmate.page.get_by_text("not this server's teacher key")).to_be_visible()
    assert classmate.page.get_by_role("button", name="Open the class gallery").count() == 0
    assert classmate.page.get_by_role("button", name="Close LEAVE-1 and delete its entries").count() == 0
    # the teacher reloads (a new session: no powers), types the key again, and closes the gallery
    teacher.page.reload()
    teacher.page.locator("[data-testid=stMain] h1").first.wait_for()
    teacher.idle()
    assert teacher.page.get_by_role("button", name="Close LEAVE-1 and delete its entries").count() == 0
    teacher.unlock()
    expect(teacher.page.get_by_text("are back below")).to_be_visible()
    teacher.click("Close LEAVE-1 and delete its entries")
    classmate.rerun()
    expect(classmate.page.get_by_text("LEAVE-1 has been closed")).to_be_visible()
    for visitor in (classmate, teacher):
        visitor.close()


def test_the_data_folder_box_is_for_the_servers_own_machine_only(browser, server):
    address = network_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    for url, expected in ((f"http://{address}:{server.port}", 0), (f"http://127.0.0.1:{server.port}", 1)):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.locator("[data-testid=stSidebarNav]").wait_for(timeout=TIMEOUT)
        wait_idle(page, TIMEOUT)
        boxes = page.locator('[data-testid=stSidebar] input[aria-label="Data folder"]').count()
        context.close()
        assert boxes == expected, (url, boxes)
