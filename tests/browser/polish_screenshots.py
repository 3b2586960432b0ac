"""Before/after screenshots of lessons 1, 3, 4 and 8 at 1280 x 800 (issue 21, "Polish as a class sees it").

    python -m tests.browser.polish_screenshots --prefix after              # this checkout
    git worktree add /tmp/before 5ed9742                                     # the course before the fixes
    python -m tests.browser.polish_screenshots --repo /tmp/before --prefix before

Each shot is taken where that lesson's problems were: lesson 1 at its formulas beside the gradient
chart, lesson 3 at its "Mining strategy" control, lesson 4 at the AdaGrad equation under the
learning-rate charts, lesson 8 at the map. The server reads the face data ($FACENET_DATA, else
../shared/data beside the repository), so the pages are as a class sees them; **every photo is
covered before a shot** (images, and images inside charts, are made invisible), so no face reaches
docs/screenshots/polish/. Needs Chromium at /usr/bin/chromium (or $CHROMIUM) and Playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.browser import REPO, AppServer, launch, wait_idle, why_no_browser

COVER_PHOTOS = """() => {
  const style = document.createElement('style');
  style.textContent = '[data-testid=stMain] img, [data-testid=stMain] svg image, [data-testid=stImage],'
    + ' [data-testid=stFullScreenFrame] img { visibility: hidden !important; }';
  document.head.appendChild(style);
}"""
VISIBLE_PHOTOS = """() => [...document.querySelectorAll('[data-testid=stMain] img, [data-testid=stMain] svg image')]
  .filter(e => getComputedStyle(e).visibility !== 'hidden' && e.getBoundingClientRect().width > 0).length"""

# (file name, menu title, where to scroll, the anchor's place in the view, then a nudge in px)
SHOTS = [("01-loss", "The triplet loss", "[data-testid=stMetric] >> nth=0", "start", -60),
         ("03-mining", "Choosing triplets", "[data-testid=stWidgetLabel]:has-text('Mining strategy')", "start", -300),
         ("04-optimizers", "SGD vs AdaGrad", ".katex-display:has-text('AdaGrad') >> nth=-1", "end", 60),
         ("08-explorer", "Embedding explorer", "[data-testid=stPlotlyChart] >> nth=0", "start", -130)]


class CheckoutServer(AppServer):
    """AppServer, run from another checkout of the course (the "before" commit in a worktree)."""

    def __init__(self, repo: Path, data: str):
        super().__init__(data)
        self.repo = repo

    def start(self) -> "CheckoutServer":
        import tools.browser as harness

        saved, harness.REPO = harness.REPO, self.repo  # AppServer.start runs app.py in harness.REPO
        try:
            return super().start()
        finally:
            harness.REPO = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=str(REPO), help="the checkout to run (default: this one)")
    parser.add_argument("--prefix", required=True, help="before or after")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots" / "polish"))
    parser.add_argument("--only", default="", help="shoot only the lessons whose file name holds this")
    args = parser.parse_args(argv)
    missing = why_no_browser()
    if missing:
        print(f"Cannot take screenshots: {missing}.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    data = os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server = CheckoutServer(Path(args.repo).resolve(), data)
    with server, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(300_000)
        for name, menu, anchor, where, nudge in SHOTS:
            if args.only and args.only not in name:
                continue
            page.goto(server.url)
            page.locator("[data-testid=stSidebarNav] a", has_text=menu).click()
            page.locator("[data-testid=stMain] h1").first.wait_for()
            wait_idle(page, 300_000)
            page.wait_for_timeout(800)
            page.evaluate(COVER_PHOTOS)
            page.locator(anchor).first.evaluate("(e, where) => e.scrollIntoView({block: where})", where)
            page.mouse.move(800, 400)
            page.mouse.wheel(0, nudge)
            page.mouse.move(150, 780)  # off the charts: no hover label in the shot
            page.wait_for_timeout(800)
            if page.evaluate(VISIBLE_PHOTOS):
                raise RuntimeError(f"{menu}: a photo is still visible; no screenshot taken")
            path = out / f"{args.prefix}-{name}.png"
            page.screenshot(path=path)
            print(f"  {path}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
