"""Who is at the other end of a session: the person at the server's own machine, or someone over the
network. The sidebar's "Data folder" box is a server setting, so only the first may see it; every
other visitor gets the data the server was started with ($FACENET_DATA). docs/serving.md explains
the rule.

A visitor is "on the server's own machine" when all of these hold:

* the browser's connection comes from a loopback address (127.0.0.0/8 or ::1), as the TCP peer
  Streamlit saw, not a header anyone can send;
* the request carries no proxy header (X-Forwarded-For, Forwarded, X-Real-IP): a reverse proxy on
  the same machine makes every visitor look like loopback, and proxies add these headers;
* the server was not started with FACENET_DATA_BOX=off, the setting for any server where even a
  loopback visitor must not choose the data.

Anything Streamlit cannot say (no runtime, no client, an address it cannot parse) counts as "over
the network": the box is never shown on a doubt.
"""

from __future__ import annotations

import os
from ipaddress import ip_address

import streamlit as st

DATA_BOX_ENV = "FACENET_DATA_BOX"  # "off": no visitor may choose the data folder
OFF = {"off", "0", "no", "false", "never"}
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host")


def connection() -> str:
    """"loopback" when this session's browser connects from a loopback address, "network" for any
    other address, "unknown" when Streamlit cannot say."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return "unknown"
    try:
        client = runtime.get_instance().get_client(ctx.session_id)
        remote = client.client_context.remote_ip if client is not None and client.client_context else None
    except AttributeError:
        return "unknown"
    return kind_of_address(remote)


def kind_of_address(remote) -> str:
    """"loopback", "network" or "unknown" (not an address: None, or anything Streamlit's runtime
    stood in with, as AppTest's mock does) for the TCP peer's address."""
    try:
        address = ip_address(remote) if isinstance(remote, str) else None
    except ValueError:
        return "unknown"
    if address is None:
        return "unknown"
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return "loopback" if address.is_loopback or (mapped is not None and mapped.is_loopback) else "network"


def through_a_proxy() -> bool:
    """The request that opened this session carries a proxy's forwarding header."""
    try:
        headers = st.context.headers
        return any(headers.get(name) for name in PROXY_HEADERS)
    except Exception:  # no headers to read: nothing says a proxy is there
        return False


def data_box_allowed_by_server() -> bool:
    return os.environ.get(DATA_BOX_ENV, "").strip().lower() not in OFF


def on_own_machine() -> bool:
    """Whether this visitor may choose the server's data folder (see the module's notes)."""
    return data_box_allowed_by_server() and connection() == "loopback" and not through_a_proxy()
