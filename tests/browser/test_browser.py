"""The course in a real browser (Debian's Chromium through Playwright): one server for the module,
every lesson opened through the sidebar, a slider moved on each, a shared link opened, presenter
mode switched on and off, and a face uploaded on the Your-faces page when that page exists.

Each page's screenshot is saved outside the project (the data folder holds real face photos); the
README's screenshots come from `python -m tests.browser.screenshots`, which shows no photos.
Without Chromium or Playwright the whole module is skipped, with the reason printed in the summary.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from lessons.overview import COURSE

from tools.browser import (EXCEPTION, SLIDER, AppServer, lfw_photo, nudge_slider, open_lesson, watch_charts,
                           upload, wait_for_change, wait_idle, why_no_browser)

MISSING = why_no_browser()
if MISSING:
    message = f"BROWSER TESTS SKIPPED: {MISSING}. Nothing was checked in a real browser."
    warnings.warn(message)
    pytest.skip(message, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

LESSONS = [lesson for lesson in COURSE if lesson.available]
TIMEOUT = 120_000  # ms: the first visit of a page loads the model and the data


@pytest.fixture(scope="module")
def server(shared_data):
    with AppServer(shared_data) as running:
        yield running


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser-screenshots")  # outside the project: these may show faces
    print(f"\nscreenshots of the pages: {folder}")
    return folder


def no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


# The first slider of each lesson page, bound to the address under its key.
FIRST_SLIDER = {"pages/loss.py": "loss-alpha", "pages/margin.py": "margin-alpha", "pages/mining.py": "mining_people",
                "pages/optimizers.py": "opt-lr-sgd", "pages/activations.py": "act-x",
                "pages/networks.py": "nets-input-size", "pages/evaluation.py": "eval-threshold"}


@pytest.mark.parametrize("lesson", LESSONS, ids=[Path(lesson.page).stem for lesson in LESSONS])
def test_each_lesson_opens_from_the_menu_and_answers_its_first_slider(page, server, lesson, shots):
    open_lesson(page, server.url, lesson)
    no_exception(page)
    assert page.locator("[data-testid=stMain] .js-plotly-plot").count() > 0  # its live figures are drawn
    page.screenshot(path=shots / f"{Path(lesson.page).stem}.png", full_page=True)
    if page.locator(SLIDER).count() == 0:
        return
    before = watch_charts(page)
    nudge_slider(page)
    wait_for_change(page, before)  # a figure or a number was redrawn
    no_exception(page)
    if lesson.page in FIRST_SLIDER:  # the new value is in the address, ready to be shared
        expect(page).to_have_url(re.compile(rf"[?&]{FIRST_SLIDER[lesson.page]}="))


def test_the_home_page_shows_the_course_and_the_data(page, server):
    page.goto(server.url)
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("FaceNet, hands on")
    expect(page.get_by_text("LFW found")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    no_exception(page)
    links = page.locator("[data-testid=stSidebarNav] a")
    assert links.count() == 1 + len(LESSONS)


def test_a_shared_link_opens_the_same_view(page, server):
    page.goto(server.url + "/margin?margin-alpha=0.5")
    alpha = page.locator(SLIDER).first
    expect(alpha).to_have_value("0.5", timeout=TIMEOUT)
    wait_idle(page)
    no_exception(page)
    # Moving it puts the new value in the address, ready to be copied.
    before = watch_charts(page)
    value = nudge_slider(page, presses=2)
    wait_for_change(page, before)
    assert value == "0.6" and re.search(r"[?&]margin-alpha=0\.6\b", page.url), page.url


def test_presenter_mode_from_a_link_and_back(page, server):
    page.goto(server.url + "/evaluation?presenter=true&eval-threshold=0.9")
    switch = page.locator("[data-testid=stMain] [data-testid=stCheckbox]", has_text="Presenter mode")
    expect(switch).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(SLIDER).first).to_have_value("0.9", timeout=TIMEOUT)
    wait_idle(page)
    no_exception(page)
    expect(page.locator("[data-testid=stSidebar]")).to_be_hidden()
    expect(page.locator("[data-testid=stTopNav]")).to_be_visible()  # the menu moved to the top
    size = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 22
    font = page.locator("[data-testid=stMain] .js-plotly-plot .gtitle, [data-testid=stMain] .js-plotly-plot .xtitle")
    assert font.count() and float(font.first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 20
    switch.click()
    expect(page.locator("[data-testid=stSidebar]")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    expect(page.locator("[data-testid=stSidebar] [data-testid=stCheckbox]", has_text="Presenter mode")).to_be_visible()
    assert page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") < 20
    expect(page.locator(SLIDER).first).to_have_value("0.9")  # the view itself is unchanged
    no_exception(page)


YOUR_FACES = next((lesson for lesson in COURSE if lesson.page == "pages/your_faces.py"), None)


@pytest.mark.skipif(YOUR_FACES is None or not YOUR_FACES.available, reason="the Your-faces page is not there yet")
def test_uploading_a_face(page, server, shared_data):
    open_lesson(page, server.url, YOUR_FACES)
    name, photo = lfw_photo(shared_data)
    upload(page, name, photo)
    expect(page.get_by_text(name).first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("What the model sees").first).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    no_exception(page)
