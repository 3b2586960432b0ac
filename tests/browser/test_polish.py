"""The course as a class sees it on a projector: every page opened by its own address, in normal and
in presenter mode, and looked over at 1280 x 800 and then, the window resized, at 1920 x 1080, on one
real server with the face data. A page fails on

* a request to any host but the course's own server (a classroom network may have no internet);
* an error in the browser's console (a 404, an image that could not be loaded, a script error), or
  an answer of 400 or more from the server;
* a clipped element: text, a control's label or a formula wider than its box where the box hides
  what overflows (`overflow: hidden/clip` or `text-overflow: ellipsis`), or a row of options or a
  table in a box that scrolls sideways (its scroll bar only shows on hover). A long formula may
  scroll sideways: it breaks where it can (ui/fit.py), and what cannot break is not cut off;
* chart text (a title, an axis title) that runs past the edge of its chart;
* a chart with a visible x or y axis but no axis title (read from Plotly's own layout in the page).

On the margin and mining pages the P slider is also moved a few times, which used to leave the
page pointing at face thumbnails the server had already dropped ("Image source error", 404s).

The home page is opened first on each new server: the very first page a new server serves comes
before app.py's first run, so before server.offline could make pages name their server.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lessons.overview import COURSE

from tools.browser import AppServer, launch, wait_idle, why_no_browser

MISSING = why_no_browser()
if MISSING:
    message = f"BROWSER TESTS SKIPPED: {MISSING}. Nothing was checked in a real browser."
    warnings.warn(message)
    pytest.skip(message, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow

TIMEOUT = 180_000  # ms: a page's first visit loads the model and the data on a busy machine
SIZES = {"1280x800": (1280, 800), "1920x1080": (1920, 1080)}
PAGES = [""] + [Path(lesson.page).stem for lesson in COURSE if lesson.available]  # "": the home page
SLIDER_PAGES = {"margin": "People in the batch", "mining": "People in the batch"}

# Every element of the main area (and, in presenter mode, the menu along the top) that hides what
# overflows it and has more to show than its width. Plotly's SVG and a dataframe's canvas are left
# out: they draw their own text, and Plotly's titles are checked through its layout below.
CLIPPED_JS = """() => {
  const roots = [...document.querySelectorAll('[data-testid=stMain], header[data-testid=stHeader]')];
  const out = [];
  const describe = el => {
    const id = el.closest('[data-testid]');
    const text = (el.innerText || el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 80);
    return `${id ? id.getAttribute('data-testid') : el.tagName.toLowerCase()} `
      + `<${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''}>`
      + ` ${el.scrollWidth} > ${el.clientWidth} px: "${text}"`;
  };
  for (const root of roots) for (const el of root.querySelectorAll('*')) {
    if (el.closest('.js-plotly-plot, svg, canvas')) continue;
    if (el.clientWidth <= 1 || el.getClientRects().length === 0) continue;  // not shown, or only to screen readers
    if (el.closest('.katex-mathml')) continue;  // KaTeX's copy of a formula for screen readers, hidden on purpose
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const style = getComputedStyle(el);
    const hides = style.overflowX === 'hidden' || style.overflowX === 'clip' || style.textOverflow === 'ellipsis';
    // A box that scrolls sideways hides part of a row of options or of a table on a projector (its
    // scroll bar shows only on hover); a formula may scroll (it breaks where it can, see ui/fit.py).
    const scrolls = (style.overflowX === 'auto' || style.overflowX === 'scroll') && !el.closest('.katex-display');
    if (!hides && !scrolls) continue;
    const table = el.closest('[data-testid=stDataFrame]');
    if (!table && !(el.innerText || '').trim() && !el.querySelector('.katex')) continue;  // nothing to read is cut
    out.push((scrolls ? 'scrolls sideways: ' : '') + describe(el));
  }
  return out;
}"""

# Every cartesian axis Plotly draws (visible, with tick labels or a line) without a title, as Plotly
# itself reads the figure (its full layout: a title given in a form it does not read is no title).
# Where there is none, the full layout holds a placeholder, "Click to enter X axis title", never drawn.
UNTITLED_AXES_JS = """() => {
  const out = [];
  const text = title => String((title && typeof title === 'object' ? title.text : title) || '');
  for (const el of document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')) {
    const full = el._fullLayout;
    if (!full) continue;
    const chart = text(full.title).replace(/<[^>]*>/g, '') || '(a chart without a title)';
    for (const name of Object.keys(full)) {
      if (!/^[xy]axis[0-9]*$/.test(name)) continue;
      const axis = full[name];
      if (!axis || axis.visible === false || !(axis.showticklabels || axis.showline)) continue;
      const title = text(axis.title).replace(/<[^>]*>/g, '').trim();
      if (!title || /^Click to enter .* title$/.test(title)) out.push(`"${chart}": ${name} has no title`);
    }
  }
  return out;
}"""

# A chart's title or axis title that runs past the edge of the chart's drawing (what is past it is
# not drawn: a y-axis title longer than the chart is tall, a title wider than a narrow column).
CHART_TEXT_OUTSIDE_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')) {
    const svg = el.querySelector('.main-svg');
    if (!svg) continue;
    const box = svg.getBoundingClientRect();
    for (const text of el.querySelectorAll('text')) {
      const name = text.getAttribute('class') || '';
      if (!/^(gtitle|[xy][0-9]*title)$/.test(name) || !text.textContent.trim()) continue;
      const r = text.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        out.push(`chart text past its chart's edge (${name}): "${text.textContent.trim().slice(0, 80)}"`);
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(shared_data):
    with AppServer(shared_data) as running:
        yield running


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        warm = chromium.new_page()  # the first page served by a new server: see the module's docstring
        warm.goto(server.url)
        wait_idle(warm, TIMEOUT)
        warm.close()
        yield chromium
        chromium.close()


class Watch:
    """What a page asked of other hosts, and what went wrong in its console and its requests."""

    def __init__(self, page, server_url: str):
        self.own = urlparse(server_url).netloc
        self.problems: list[str] = []
        page.on("request", self.request)
        page.on("response", self.response)
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.netloc != self.own:
            self.problems.append(f"request to another host: {request.url}")

    def response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")


def look_over(page) -> list[str]:
    """Everything clipped and every untitled axis on the page as it is now."""
    return ([f"clipped: {c}" for c in page.evaluate(CLIPPED_JS)] + page.evaluate(UNTITLED_AXES_JS)
            + page.evaluate(CHART_TEXT_OUTSIDE_JS))


def move_the_people_slider(page, label: str, presses: int = 4) -> None:
    """Move the "People in the batch" slider step by step, each step a new batch of thumbnails."""
    slider = page.locator("[data-testid=stMain] [data-testid=stSlider]", has_text=label).locator("input[type=range]")
    for key in ["ArrowLeft"] * presses + ["ArrowRight"] * presses:
        slider.first.focus()
        page.keyboard.press(key)
        page.wait_for_timeout(150)  # quicker than a run: runs are cut short, as with a student's drag
    wait_idle(page, TIMEOUT)
    page.wait_for_timeout(1500)  # the images of the last run load


def resize(page, width: int, height: int) -> None:
    """The same page in a window of another size: Streamlit lays it out again without a rerun, and
    Plotly redraws every chart for its new width."""
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(800)  # the resize events reach every chart, which redraws
    wait_idle(page, TIMEOUT)


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("name", PAGES, ids=[p or "home" for p in PAGES])
def test_page_fits_offline_labelled_and_clean(browser, server, name, presenter):
    """One visit per page and mode, looked over at each size in turn (the window resized, as a teacher
    moving the course to the projector does), the smallest first."""
    (first, (width, height)), *others = SIZES.items()
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    watch = Watch(page, server.url)
    problems: list[str] = []
    try:
        page.goto(f"{server.url}/{name}" + ("?presenter=true" if presenter else ""))
        page.locator("[data-testid=stMain] h1").first.wait_for(timeout=TIMEOUT)
        wait_idle(page, TIMEOUT)
        page.wait_for_timeout(500)  # fonts and images settle
        problems += [f"at {first}: {p}" for p in look_over(page)]
        if name in SLIDER_PAGES and page.locator("[data-testid=stSlider]", has_text=SLIDER_PAGES[name]).count():
            move_the_people_slider(page, SLIDER_PAGES[name])
            problems += [f"at {first}, after the P slider: {p}" for p in look_over(page)]
        for size, (width, height) in others:
            resize(page, width, height)
            problems += [f"at {size}: {p}" for p in look_over(page)]
        problems = list(dict.fromkeys(watch.problems + problems))
        assert not problems, f"/{name}{' in presenter mode' if presenter else ''}:\n  " + "\n  ".join(problems)
    finally:
        context.close()
