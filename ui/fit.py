"""Nothing cut off on a projector: the few places where Streamlit's own styles hide text that does
not fit, turned into text that wraps. app.py adds the style sheet to every page (presenter mode or
not); tests/browser/test_polish.py checks every page at 1280 x 800 and 1920 x 1080 for anything
still clipped.
"""

from __future__ import annotations

import streamlit as st

FIT_CSS = """
<style>
/* Labels Streamlit cuts short with an ellipsis (metrics, toggles and other widgets): wrap instead. */
[data-testid="stMain"] .stMarkdownEllipsis, [data-testid="stHeader"] .stMarkdownEllipsis {
  white-space: normal; overflow: visible; text-overflow: clip; }
[data-testid="stMain"] .stMarkdownEllipsis *, [data-testid="stHeader"] .stMarkdownEllipsis * { white-space: normal; }
/* A row of options (segmented control, pills) too wide for its column wraps instead of scrolling. */
[data-testid="stButtonGroup"] > div { flex-wrap: wrap; overflow-x: visible; row-gap: 0.25rem; }
/* The upload box's list of file types. */
[data-testid="stFileUploaderDropzoneInstructions"] span { white-space: normal; }
/* A long displayed formula breaks after a relation or an operator, as KaTeX's inline formulas do
   (one part too wide to break, such as a matrix, still scrolls sideways). */
.katex-display > .katex { white-space: normal; }
.katex-display > .katex > .katex-html { white-space: normal; }
/* Captions under images break between words only: file names carry break points after "_". */
[data-testid="stImageCaption"] { overflow-wrap: normal; word-wrap: normal; word-break: normal; }
</style>
"""

BREAK = "\u200b"  # a zero-width space: a place a line may break, invisible otherwise


def fit_the_page() -> None:
    """Add FIT_CSS to the page (app.py calls it on every run)."""
    st.html(FIT_CSS)


def breakable(name: str) -> str:
    """A file or person name ("George_W_Bush_0001.jpg") with a break point after each "_" and "/",
    so that a narrow caption wraps it between its parts, never inside one."""
    return name.replace("_", "_" + BREAK).replace("/", "/" + BREAK)
