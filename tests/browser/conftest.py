"""Every test in tests/browser is marked slow: each starts a real server and drives Chromium
(`python -m pytest -m "not slow"` leaves them out)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.slow)
