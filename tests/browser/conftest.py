"""Every test in tests/browser is marked slow: each starts a real server and drives Chromium
(`python -m pytest -m "not slow"` leaves them out). `browser` is one Chromium per test module; a
module that needs more (test_polish warms its server up first) defines its own."""

from pathlib import Path

import pytest

from tools.browser import launch

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # only where the module has not skipped itself

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
