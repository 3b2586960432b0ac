"""Tools shared by the tests and the benches, not tests themselves: `tools.browser` runs the course
server and drives Debian's Chromium through Playwright; `tools.apptest` opens a page through
Streamlit's AppTest; `tools.tight_crops` makes the tight face crops of LFW photos that
tests/model/test_tight_crops.py and bench/bench_tight_crops.py share."""
