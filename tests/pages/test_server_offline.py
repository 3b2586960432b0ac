"""server.offline: the page Streamlit serves names its server, so a lesson opened by its own address
asks for nothing that 404s (tests/browser/test_polish.py checks it in a real browser)."""

from __future__ import annotations

from pathlib import Path

import streamlit

from server.offline import MARK, base_url_script, with_server_named


def streamlit_index() -> str:
    return (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")


def test_index_html_gets_one_line_before_streamlits_own_script():
    html = with_server_named(streamlit_index(), "")
    assert html.count(MARK) == 1
    assert html.index("window.__streamlit") < html.index('<script type="module"')
    assert "BACKEND_BASE_URL: window.location.origin + \"\"" in html
    assert with_server_named(html, "") == html  # once only


def test_a_base_url_path_is_part_of_the_servers_address():
    assert 'window.location.origin + "/course"' in base_url_script("/course/")
    assert 'window.location.origin + ""' in base_url_script("")


def test_a_page_without_a_head_is_left_alone():
    assert with_server_named("<html><body></body></html>", "") == "<html><body></body></html>"


def test_the_favicon_is_the_courses_own_file():
    app = (Path(__file__).resolve().parents[2] / "app.py").read_text(encoding="utf-8")
    assert ":material/face:" not in app and "favicon.svg" in app
    svg = (Path(__file__).resolve().parents[2] / "ui" / "favicon.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "http://www.w3.org/2000/svg" in svg and "href" not in svg
