"""Regenerate the README's screenshots: `python -m tests.browser.screenshots [--out docs/screenshots]`.

The server is started with **no face data at all**: FACENET_DATA unset, scikit-learn's data home and
the decoded-image cache pointed at empty temporary folders. The pages then show everything that needs
no photo (the shipped model's embeddings, the maps and the runs ship with the weights), and no dataset
photo can reach a screenshot. As a second guard every image element is hidden before each shot, and
a page that still holds an image is refused.

One picture per page (the home page, then every available lesson, scrolled to its first chart), plus
one of a lesson in presenter mode. Needs Chromium at /usr/bin/chromium (or $CHROMIUM) and Playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from lessons.overview import COURSE

from tools.browser import REPO, AppServer, launch, open_lesson, wait_idle, why_no_browser

HIDE_IMAGES = """() => {
  const style = document.createElement('style');
  style.textContent = '[data-testid=stImage], [data-testid=stImageContainer], [data-testid=stFullScreenFrame] img'
    + ' { visibility: hidden !important; }';
  document.head.appendChild(style);
}"""
COUNT_IMAGES = "() => document.querySelectorAll('[data-testid=stMain] [data-testid=stImage] img').length"
FIRST_CHART = """where => {
  const chart = document.querySelector('[data-testid=stMain] [data-testid=stPlotlyChart]');
  if (chart) chart.scrollIntoView({block: where});
  return Boolean(chart);
}"""
PRESENTER_PAGE = "pages/margin.py"


def shoot(page, path: Path) -> None:
    if page.evaluate(COUNT_IMAGES):
        raise RuntimeError(f"{page.url} shows an image; no screenshot taken (face images are never committed)")
    page.evaluate(HIDE_IMAGES)
    page.wait_for_timeout(300)  # let the scroll and the style settle
    page.screenshot(path=path)
    print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args(argv)
    missing = why_no_browser()
    if missing:
        print(f"Cannot take screenshots: {missing}.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    empty = Path(tempfile.mkdtemp(prefix="facenet-no-data-"))
    env = {"SCIKIT_LEARN_DATA": str(empty), "FACENET_CACHE": str(empty / "cache")}
    os.environ.pop("FACENET_DATA", None)
    server = AppServer(data=None, env=env)
    server.env.pop("FACENET_DATA", None)
    print(f"Screenshots without any face data (data home: {empty}) into {out}:")
    with server, sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": args.width, "height": args.height})
        context.set_default_timeout(180_000)
        page = context.new_page()
        page.goto(server.url)
        page.get_by_text("The path through the course").wait_for()
        wait_idle(page)
        shoot(page, out / "00-home.png")
        for number, lesson in enumerate(COURSE, start=1):
            if not lesson.available:
                continue
            open_lesson(page, server.url, lesson)
            page.evaluate(FIRST_CHART, "center")
            shoot(page, out / f"{number:02d}-{Path(lesson.page).stem}.png")
        lesson = next(lesson for lesson in COURSE if lesson.page == PRESENTER_PAGE)
        page.goto(f"{server.url}/{Path(lesson.page).stem}?presenter=true&margin-alpha=0.5")
        page.locator("[data-testid=stMain] h1").first.wait_for()
        wait_idle(page)
        page.evaluate(FIRST_CHART, "end")
        shoot(page, out / "presenter-mode.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
