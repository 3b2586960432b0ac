"""The course opened through Streamlit's AppTest as a browser would, and what a page shows: its text,
its Plotly figures and their arrays. Used by the page tests (tests/pages) and the benches that time
page runs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def open_page(page: str, data_path: str | os.PathLike | None = None, timeout: float = 120):
    """Run the app as a browser would and go to `page` ("pages/loss.py"), reading the data from
    `data_path` (as if typed in the sidebar); fails on any exception the page raised."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    if data_path is not None:
        app.session_state["data_path"] = str(data_path)
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def page_text(app) -> str:
    """Everything a student reads on the page: text elements, alerts, metrics, LaTeX and captions."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error",
             "code", "latex")
    parts = [str(element.value) for kind in kinds for element in app.get(kind)]
    parts += [f"{metric.label}: {metric.value}" for metric in app.metric]
    return "\n".join(parts)


def figures(app) -> list[dict]:
    """The page's Plotly figures in page order, each as its JSON dict ({"data": [...], "layout": {...}})."""
    import json

    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def figure_values(array):
    """A Plotly JSON array (a list, or a base64 typed array {"dtype", "bdata", "shape"}) as a numpy float array."""
    import base64

    import numpy as np

    if isinstance(array, dict):
        out = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
        if "shape" in array:
            out = out.reshape([int(k) for k in str(array["shape"]).split(",")])
        return out.astype(np.float64)
    return np.array([np.nan if v is None else v for v in array], dtype=np.float64)
