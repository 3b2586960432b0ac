"""The course in a real browser: Debian's Chromium driven by Playwright.

tools/browser.py starts `streamlit run app.py` on a free local port and finds the browser;
`test_browser.py` is the test module (run by `python -m pytest`, skipped with a loud message when
there is no Chromium); `screenshots.py` regenerates docs/screenshots/ (`python -m tests.browser.screenshots`).
bench/bench_startup.py and bench/bench_load.py use the same helpers (tools/browser.py).
"""
