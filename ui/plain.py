"""Text that a visitor supplied, shown as plain text and nothing else: the one helper for every name
a student typed, every file name and every class code that the course puts on a page.

Streamlit renders most strings as Markdown (st.markdown, captions, alerts, button labels, image
captions) and Plotly renders its labels, legend names and hover text as a small HTML dialect (with
LaTeX between $ signs where MathJax is loaded). A name like `![](http://host/x.png)` would make every
classmate's browser fetch that address, `<b style="font-size:90px">` would draw over a chart, and
`<a href=...>` would become a link. So a visitor's string goes to a page only through:

* `markdown(text)`: for anything Streamlit renders as Markdown. Every ASCII punctuation character is
  backslash-escaped (CommonMark lets any of them be escaped, and an escaped one is always literal),
  so no emphasis, link, image, HTML tag, LaTeX or directive (:red[...]) can start. Escapes are not
  enough for what works on the text after parsing: GitHub's bare-URL links (`http://`, `www.`,
  `name@host.org`) and Streamlit's `:streamlit:` logo, `:material_icon:` and emoji shortcodes. So a
  WORD JOINER (U+2060: no width, no line break) goes after every `:` and `@` and between `www` and
  its `.`, which none of those patterns allows; the text reads and copies as typed otherwise.
* `plotly(text)`: for Plotly's `text`, `name`, `hovertext` and titles. `&`, `<` and `>` become
  entities (Plotly shows them as the characters, and no tag can start), and `$` becomes `&#36;`, so
  no string can switch on LaTeX.
* `visible(text)`: the text itself, for widgets that show plain text (a select box's options, a
  dataframe's cells): characters that draw nothing or reorder the text around them (control
  characters, bidi overrides and isolates, zero-width characters) are removed, runs of white space
  become one space, and an overlong string is cut with an ellipsis.

All three start from `visible`. No Streamlit here: lessons and tests can use it too.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SHOWN = 120  # characters of one visitor-supplied string on a page

# Bidi embeddings and overrides (U+202A-202E), isolates (U+2066-2069), marks (U+200E, U+200F, U+061C),
# zero-width characters (U+200B-200D, U+2060, U+FEFF): named here; the rest of the "format",
# "control", "surrogate", "private use" and "unassigned" categories are caught by category below.
INVISIBLE = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010),
                                       0x2060, 0xFEFF, 0x061C, 0x180E, 0x00AD])
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_WHITE = re.compile(r"\s+")
_MARKDOWN_SPECIAL = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
WORD_JOINER = "\u2060"
_AFTER_PARSING = re.compile(r"(?i)(?<=[:@])|(?<=www)(?=\.)")  # where a bare URL, e-mail or shortcode would start


def _shown(ch: str) -> str:
    if ch in INVISIBLE:
        return ""
    category = unicodedata.category(ch)
    if category in ("Zl", "Zp") or (category == "Cc" and ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"):
        return " "  # a line break or tab is white space: it separates words
    return "" if category in _DROPPED_CATEGORIES else ch


def visible(text, limit: int | None = MAX_SHOWN) -> str:
    """`text` (anything; None is "") with only characters that show: no control, format (bidi,
    zero-width), surrogate, private-use or unassigned characters; white space collapsed to single
    spaces and trimmed; at most `limit` characters (the last one an ellipsis when cut)."""
    out = "".join(_shown(ch) for ch in str(text if text is not None else ""))
    out = _WHITE.sub(" ", out).strip()
    if limit is not None and len(out) > limit:
        out = out[:max(0, limit - 1)].rstrip() + "…"
    return out


def markdown(text, limit: int | None = MAX_SHOWN) -> str:
    """`visible(text)` for Streamlit's Markdown: every ASCII punctuation character backslash-escaped,
    and a WORD JOINER after each `:` and `@` and in `www.` (see the module's notes)."""
    joined = _AFTER_PARSING.sub(WORD_JOINER, visible(text, limit))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", joined)


def plotly(text, limit: int | None = MAX_SHOWN) -> str:
    """`visible(text)` for Plotly's text, names and hover labels: `&`, `<`, `>` and `$` as entities."""
    out = visible(text, limit)
    return out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")
