"""Tools shared by the tests and the benches, not tests themselves: `tools.browser` runs the course
server and drives Debian's Chromium through Playwright; `tools.apptest` opens a page through
Streamlit's AppTest."""
