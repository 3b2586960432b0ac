"""Presenter mode: large type, no sidebar and charts redrawn for a projector."""

from __future__ import annotations

import streamlit as st

PRESENTER_KEY = "presenter"  # the toggle's key, and so its URL query parameter: ?presenter=true
PRESENTER_TYPE = 1.4  # the page's type, times Streamlit's 16 px
PRESENTER_FONT = 20  # a chart's base font size in px (Plotly's default is 12)
PRESENTER_FONT_SCALE = PRESENTER_FONT / 12  # for fonts a figure sets itself
PRESENTER_HEIGHT = 1.35  # chart heights, times the page's own
PLOTLY_DEFAULT_HEIGHT = 450
PRESENTER_TITLE_CHARS = 42  # a half-width chart's title at 20 px, per line
FONT_KEYS = {"font", "textfont", "tickfont", "insidetextfont", "outsidetextfont", "hoverlabel"}

PRESENTER_CSS = f"""
<style>
html {{ font-size: {16 * PRESENTER_TYPE:.0f}px; }}
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p,
[data-testid="stMetricValue"], [data-testid="stMetricLabel"] p {{ font-size: 1rem; }}
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stAppDeployButton"] {{ display: none; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 4.5rem; max-width: 100%; }}
</style>
"""


def presenter_mode() -> bool:
    """Whether this session shows the course for a projector.

    The toggle's own state once it has been drawn; before that (the first run of a session
    opened from a link), the URL's `?presenter=true`, which the toggle is bound to.
    """
    if PRESENTER_KEY in st.session_state:
        return bool(st.session_state[PRESENTER_KEY])
    return str(st.query_params.get(PRESENTER_KEY, "")).lower() == "true"


def presenter_switch(on: bool) -> bool:
    """The presenter-mode toggle, bound to `?presenter=...`: in the sidebar normally; in presenter
    mode at the top of the page, since the sidebar is then hidden. `on` is `presenter_mode()` as
    app.py read it before laying out the page. Returns the toggle's value."""
    where = st.container(horizontal=True, horizontal_alignment="right") if on else st.sidebar
    value = where.toggle(
        "Presenter mode", key=PRESENTER_KEY, bind="query-params",
        help="Large type, no sidebar and taller charts for a projector. The page's address then ends in "
             "?presenter=true, so a link opens in this mode; switch it off here.")
    if value:
        st.html(PRESENTER_CSS)
    return value


def _scale_fonts(node, factor: float, under_font: bool = False):
    """A copy of a figure's dicts and lists with every font size inside a font dict times `factor`."""
    if isinstance(node, dict):
        out = {}
        for name, value in node.items():
            if under_font and name == "size" and isinstance(value, (int, float)):
                out[name] = round(value * factor, 1)
            elif isinstance(value, (dict, list)):
                out[name] = _scale_fonts(value, factor, name in FONT_KEYS)
            else:
                out[name] = value
        return out
    if isinstance(node, list):
        if node and not isinstance(node[0], (dict, list)):
            return node  # data: numbers, strings
        return [_scale_fonts(item, factor, under_font) for item in node]
    return node


def wrap_title(text: str, width: int = PRESENTER_TITLE_CHARS) -> str:
    """A chart title broken into lines of at most about `width` characters at spaces (Plotly's
    `<br>`), so that in large type it is not cut off at the chart's edge."""
    if "<br>" in text or len(text) <= width:
        return text
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join(lines + [line])


def for_projector(spec: dict) -> dict:
    """A new figure dict from `spec` ({"data": [...], "layout": {...}}), drawn for a projector:
    base font PRESENTER_FONT px, every font the figure sets itself and every margin scaled by as
    much, and the height times PRESENTER_HEIGHT. `spec` itself is left as it is."""
    scale = PRESENTER_FONT_SCALE
    out = _scale_fonts({k: v for k, v in spec.items() if k in ("data", "layout")}, scale)
    if spec.get("frames"):  # animation frames (the explorer's glide) carry positions only
        out["frames"] = spec["frames"]
    layout = out.setdefault("layout", {})
    font = dict(layout.get("font") or {})
    font["size"] = max(float(font.get("size", 0)), PRESENTER_FONT)
    layout["font"] = font
    layout["height"] = round((layout.get("height") or PLOTLY_DEFAULT_HEIGHT) * PRESENTER_HEIGHT)
    margin = layout.get("margin")
    if isinstance(margin, dict):
        layout["margin"] = {side: (round(v * scale) if side in "lrtb" and isinstance(v, (int, float)) else v)
                            for side, v in margin.items()}
    title = layout.get("title")
    if isinstance(title, str):  # (Plotly.js 3 reads a title only as {"text": ...})
        title = {"text": title}
    if isinstance(title, dict) and isinstance(title.get("text"), str):  # Plotly never wraps a title itself
        text = wrap_title(title["text"])
        layout["title"] = {**title, "text": text}
        extra_lines = text.count("<br>") - title["text"].count("<br>")
        size = (title.get("font") or {}).get("size") or PRESENTER_FONT  # (already scaled above)
        added = round(1.3 * size * extra_lines)
        if extra_lines and isinstance(layout.get("margin"), dict) and isinstance(layout["margin"].get("t"), (int, float)):
            layout["margin"] = {**layout["margin"], "t": layout["margin"]["t"] + added}
        if extra_lines and title.get("yanchor") == "top":  # Plotly sets a title of several lines higher than its anchor
            pad = dict(title.get("pad") or {})
            layout["title"]["pad"] = {**pad, "t": (pad.get("t") or 0) + added}
    return out

