"""A page opened by its own address asks the server nothing it cannot answer.

Streamlit's page (index.html) works out where its server is from the address it was opened at. At
`/margin` it tries `/margin/_stcore/health` and `/margin/_stcore/host-config` first, which the
server answers with 404 on purpose (they are not a page), and only then `/_stcore/health`: two
404s in the browser's console for every lesson opened from a link (frontend `getPossibleBaseUris`,
server `starlette_static_routes._RESERVED_STATIC_PATH_SUFFIXES`, Streamlit 1.67). The page skips
the guessing when `window.__streamlit.BACKEND_BASE_URL` names the server, which Streamlit's own
hosting sets and a plain `streamlit run` never does.

`name_the_server()` makes the server say it in every page it serves: its static-files handler (the
one that answers `/margin` with index.html) gets index.html with one line more,
`window.__streamlit = {BACKEND_BASE_URL: <this origin>/<server.baseUrlPath>}`. Called by app.py on every run; only the
first call of a server does anything. The page that first ran app.py was itself served before the
call, so the very first page a new server serves may still show the two 404s; every later one
does not (tests/browser/test_polish.py opens the home page first, as a teacher starting the server
would). If a later Streamlit changes any of this, the server is left as it is: the 404s come back,
nothing breaks.
"""

from __future__ import annotations

import json

from server import first_call

HANDLER_CLASS = "_StreamlitStaticFiles"  # streamlit.web.server.starlette.starlette_static_routes
MARK = "<!-- facenet: server named -->"


def base_url_script(base_url_path: str) -> str:
    """The line index.html gets: the server is this page's origin plus `server.baseUrlPath`."""
    path = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return (f"{MARK}<script>window.__streamlit = Object.assign(window.__streamlit || {{}}, "
            f"{{BACKEND_BASE_URL: window.location.origin + {json.dumps(path)}}});</script>")


def with_server_named(html: str, base_url_path: str) -> str:
    """index.html with the script added at the top of its <head> (before Streamlit's own module)."""
    if MARK in html or "<head>" not in html:
        return html
    return html.replace("<head>", "<head>" + base_url_script(base_url_path), 1)


def _static_handlers() -> list:
    import gc

    return [o for o in gc.get_objects() if type(o).__name__ == HANDLER_CLASS and hasattr(o, "get_response")]


def name_the_server() -> bool:
    """Once per server: index.html, as the static handler serves it for a page's address, names
    the server. True when a handler was changed (False under AppTest, where there is no server)."""
    if not first_call("name-the-server"):
        return False
    try:
        from starlette.responses import FileResponse, HTMLResponse
        from streamlit import config

        base_url_path = str(config.get_option("server.baseUrlPath") or "")
        changed = False
        for handler in _static_handlers():
            index_path = getattr(handler, "_index_path", None)
            if not index_path or "get_response" in vars(handler):
                continue
            with open(index_path, encoding="utf-8") as f:
                html = with_server_named(f.read(), base_url_path)
            served = handler.get_response  # the class's method, bound

            async def get_response(path, scope, served=served, index_path=index_path, html=html):
                response = await served(path, scope)
                if isinstance(response, FileResponse) and str(response.path) == str(index_path):
                    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
                return response

            handler.get_response = get_response
            changed = True
        return changed
    except Exception:  # noqa: BLE001 - a Streamlit without these internals: leave the server as it is
        return False
