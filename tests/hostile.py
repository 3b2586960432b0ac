"""Names a hostile student might type or give a file, for the tests that show every place a
visitor's string appears must show it as text and nothing else (ui/plain.py): in AppTest
(tests/pages/test_app_your_faces.py) and in a real browser (tests/browser/test_hostile_student.py).

Every URL points at 127.0.0.1:9 (the discard port, where nothing answers): a browser that tried to
fetch one shows up in the request log without anything leaving the machine.
"""

from __future__ import annotations

EVIL_HOST = "127.0.0.1:9"

# (what it tries, the name as typed). Each fits the 40 characters of an enrolled name.
HOSTILE_NAMES = [
    ("Markdown image", f"![x](http://{EVIL_HOST}/img.png)"),
    ("Markdown link", f"[win](http://{EVIL_HOST}/link)"),
    ("Plotly's <b style>", '<b style="font-size:90px">BIG</b>'),
    ("Plotly's <a href>", f'<a href="http://{EVIL_HOST}/a">a</a>'),
    ("LaTeX", "$x^2$ and $$\\frac{1}{2}$$"),
    ("Streamlit's directives and icons", ":red[red] :streamlit: :material/home:"),
    ("bare URL, www and e-mail", f"http://{EVIL_HOST}/u www.x.org a@b.org"),
    ("right-to-left override", "\u202eevil\u202c Ann"),
    ("zero-width characters", "Bo\u200bb\u200c\u200d\u2060\ufeff"),
    ("very long", "L" * 300),
]

# File names: not cut to 40 characters, so the long one stays long.
HOSTILE_FILE_NAMES = [
    f"![f](http://{EVIL_HOST}/file.png).jpg",
    '<b style="font-size:90px">F</b>.jpg',
    "$y$ \u202eevil\u202c name.jpg",
    "F" * 200 + ".jpg",
]
