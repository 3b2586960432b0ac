"""ui/plain.py: a visitor's string, made safe for Streamlit's Markdown and for Plotly's labels, keeps
every character that shows and nothing that could become markup. The real rendering is checked in a
browser by tests/browser/test_hostile_student.py; here, what the helper promises, string by string."""

from __future__ import annotations

import re
import string

import pytest

from lessons import your_faces as yf
from tests.hostile import HOSTILE_FILE_NAMES, HOSTILE_NAMES
from ui import plain

ALL = [name for _, name in HOSTILE_NAMES] + HOSTILE_FILE_NAMES
INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\x00\x1b\x7f"


def unescape_markdown(text: str) -> str:
    """What CommonMark shows for a string made only of text and backslash escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(plain.WORD_JOINER, "")


@pytest.mark.parametrize("name", ALL)
def test_markdown_form_escapes_every_punctuation_mark_and_shows_the_same_text(name):
    safe = plain.markdown(name)
    # every ASCII punctuation character is escaped: no emphasis, link, image, tag, math or directive starts
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", safe)
    assert not set(unescaped) & set(string.punctuation), safe
    # what works on the parsed text (bare URLs, e-mails, :shortcodes:, www.) is broken by a word joiner
    parsed = safe.replace("\\", "")
    assert not re.search(f"[:@](?!{plain.WORD_JOINER})", parsed) and not re.search(r"(?i)www\.", parsed)
    # what the browser shows is the visible text, character for character
    assert unescape_markdown(safe) == plain.visible(name)


@pytest.mark.parametrize("name", ALL)
def test_plotly_form_has_no_tag_no_math_and_the_same_text(name):
    safe = plain.plotly(name)
    assert "<" not in safe and ">" not in safe and "$" not in safe
    assert re.sub(r"&(amp|lt|gt|#36);", "", safe).count("&") == 0  # every & starts one of our entities
    shown = safe.replace("&#36;", "$").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert shown == plain.visible(name)


def test_visible_drops_what_does_not_show_and_cuts_long_text():
    assert plain.visible("a" + INVISIBLE + "b") == "ab"
    assert plain.visible("  two\n\tlines\u2028here  ") == "two lines here"
    assert plain.visible(None) == "" and plain.visible(42) == "42"
    long = plain.visible("L" * 300)
    assert len(long) == plain.MAX_SHOWN and long.endswith("…")
    assert plain.visible("L" * 300, limit=None) == "L" * 300
    assert plain.visible("Ünïcödé 名前 ✓") == "Ünïcödé 名前 ✓"  # letters of any script stay


def test_clean_name_strips_controls_bidi_and_zero_width_characters_and_caps_the_length():
    assert yf.clean_name("\u202eevil\u202c Ann") == "evil Ann"
    assert yf.clean_name("Bo\u200bb\u200c\u200d\u2060\ufeff") == "Bob"
    assert yf.clean_name("\u2066iso\u2069\u200e\u200f lated\x00\x1b") == "iso lated"
    assert yf.clean_name("a\nb\tc") == "a b c"
    assert yf.clean_name("L" * 300) == "L" * yf.MAX_NAME
    # Markdown and HTML stay as typed: they are shown as text, not removed
    for _, name in HOSTILE_NAMES[:7]:
        assert yf.clean_name(name) == name[:yf.MAX_NAME].strip()
