"""The words of the course, read from plain files a teacher can edit without touching Python.

Each lesson has two files in ``content/<language>/`` (English is ``content/en/``):

* ``<lesson>.md``: its prose in named sections. A line ``<!-- section: name -->`` starts the section
  ``name``, which runs to the next such line. Everything is Markdown, with LaTeX between ``$...$``.
* ``<lesson>.toml``: its check-yourself questions, each a ``[[question]]`` table with ``prompt``,
  ``options``, ``answer`` (one of the options, verbatim), ``explanation`` and a ``[question.hints]``
  table giving, for every wrong option, what that choice misses; and its predict-then-see moments,
  each a ``[[prediction]]`` table with ``id``, ``prompt``, ``kind`` ("choice" with ``options``, or
  "number" with ``low``, ``high``, ``step`` and optionally ``tolerance``) and ``explanation``. The
  page computes the truth live and shows it next to the student's guess.

The course plan, each lesson's title, one-line goal and short title for the menu, is
``course.toml``: one table per lesson, named after its page (``[loss]`` for ``pages/loss.py``), read
with `tables`.

Live numbers are placeholders, ``{{name}}`` or ``{{name:.3f}}`` (a Python format spec), which the
page fills in. A page that asks for a placeholder it does not fill fails loudly (a test runs
every page), so a typo in a content file never reaches a student as a half-filled sentence.

A second language is a second folder (``content/de/``, say) selected with ``FACENET_LANGUAGE``;
whatever it does not translate yet, a whole file or one section, is read from English. Values
filled in are inserted verbatim: never pass text a user typed, which would then be read as
Markdown (pages show such text with ``st.text`` or as a widget's value instead).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lessons.quiz import Prediction, Question

CONTENT = Path(__file__).resolve().parents[1] / "content"
LANGUAGE_ENV = "FACENET_LANGUAGE"
DEFAULT_LANGUAGE = "en"

SECTION = re.compile(r"^<!--\s*section:\s*([\w-]+)\s*-->\s*$", re.MULTILINE)
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*(?::([^}]*))?\}\}")


class ContentError(LookupError):
    """A section, a placeholder's value or a content file that a page asked for is missing."""


def language() -> str:
    """The language the course speaks: $FACENET_LANGUAGE, else English."""
    return os.environ.get(LANGUAGE_ENV, "").strip() or DEFAULT_LANGUAGE


def parse_sections(text: str) -> dict[str, str]:
    """``{name: body}`` of a lesson's Markdown file; text before the first marker is ignored (a
    place for notes to other teachers). Bodies are stripped of surrounding blank lines."""
    parts = SECTION.split(text)
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in sections:
            raise ContentError(f"the section {name!r} appears twice")
        sections[name] = body.strip("\n").rstrip()
    return sections


def placeholders(template: str) -> set[str]:
    """The names of the placeholders in `template`."""
    return {match.group(1) for match in PLACEHOLDER.finditer(template)}


def fill(template: str, values: dict) -> str:
    """`template` with each ``{{name}}`` / ``{{name:spec}}`` replaced by ``format(values[name], spec)``."""
    def one(match: re.Match) -> str:
        name, spec = match.group(1), match.group(2) or ""
        if name not in values:
            raise ContentError(f"no value for the placeholder {{{{{name}}}}}")
        return format(values[name], spec.strip())

    return PLACEHOLDER.sub(one, template)


@lru_cache(maxsize=256)
def _read(path: Path, modified_ns: int) -> str:
    """A content file's text; `modified_ns` is part of the key, so an edited file is read again
    by a running server."""
    return path.read_text(encoding="utf-8")


def _file(folder: Path, lesson: str, suffix: str) -> str | None:
    path = folder / f"{lesson}{suffix}"
    try:
        return _read(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class LessonText:
    """The words of one lesson (``LessonText("loss")`` reads ``content/<language>/loss.*``).

    Pages create one at the top and ask it for sections by name: ``words("intro", alpha=0.2)``.
    """

    lesson: str
    lang: str | None = None  # None: language() at each call
    root: Path | None = None  # None: CONTENT at each call

    def _folders(self) -> list[Path]:
        lang, root = self.lang or language(), self.root or CONTENT
        return [root / lang] + ([root / DEFAULT_LANGUAGE] if lang != DEFAULT_LANGUAGE else [])

    def sections(self) -> dict[str, str]:
        """Every section, the chosen language's over English's."""
        merged: dict[str, str] = {}
        for folder in reversed(self._folders()):
            text = _file(folder, self.lesson, ".md")
            if text is not None:
                merged.update(parse_sections(text))
        return merged

    def __call__(self, section: str, **values) -> str:
        """The section `section`, its placeholders filled from `values`."""
        sections = self.sections()
        if section not in sections:
            raise ContentError(f"content/{DEFAULT_LANGUAGE}/{self.lesson}.md has no section {section!r}")
        try:
            return fill(sections[section], values)
        except ContentError as err:
            raise ContentError(f"{self.lesson}.md, section {section!r}: {err}") from None

    def _rows(self, kind: str) -> list[dict]:
        """The ``[[kind]]`` tables of the lesson's TOML file, from each language folder in turn,
        English last (a translation may leave out the questions or the predictions)."""
        found = False
        out: list[dict] = []
        for folder in self._folders():
            text = _file(folder, self.lesson, ".toml")
            if text is not None:
                found = True
                out.append(tomllib.loads(text).get(kind, []))
        if not found:
            raise ContentError(f"content/{DEFAULT_LANGUAGE}/{self.lesson}.toml does not exist")
        return out

    def questions(self, **values) -> list[Question]:
        """The lesson's check-yourself questions, placeholders filled from `values`."""
        put = lambda s: fill(s, values)  # noqa: E731
        return [Question(put(row["prompt"]), tuple(put(o) for o in row["options"]), put(row["answer"]),
                         put(row["explanation"]), {put(k): put(v) for k, v in row.get("hints", {}).items()})
                for row in next((rows for rows in self._rows("question") if rows), [])]

    def predictions(self) -> dict[str, dict]:
        """The lesson's predict-then-see moments as written, by id; one a translation leaves out
        is read from English."""
        merged: dict[str, dict] = {}
        for rows in reversed(self._rows("prediction")):
            merged.update({row["id"]: row for row in rows})
        return merged

    def prediction(self, id: str, **values) -> Prediction:
        """The prediction `id`, its prompt, options and explanation filled from `values`."""
        rows = self.predictions()
        if id not in rows:
            raise ContentError(f"{self.lesson}.toml has no prediction {id!r}")
        row = rows[id]
        put = lambda s: fill(s, values)  # noqa: E731
        numbers = {k: float(row[k]) for k in ("low", "high", "step", "tolerance") if k in row}
        return Prediction(id=id, prompt=put(row["prompt"]), kind=row["kind"], explanation=put(row["explanation"]),
                          options=tuple(put(o) for o in row.get("options", ())), **numbers)


# --------------------------------------------------------------------------------------------
# Whole TOML files of tables (the course plan)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _toml_files(name: str, lang: str, root: Path) -> tuple[Path, ...]:
    """Where `name`.toml may be, English last (the course plan is read on every page's run)."""
    return tuple(folder / f"{name}.toml" for folder in LessonText(name, lang, root)._folders())


@lru_cache(maxsize=16)
def _merged_tables(files: tuple[tuple[Path, int | None], ...]) -> dict:
    """The tables of the existing `files` ((path, modified_ns or None), English last), each the
    earlier files' keys over the later's. Cached per modification time, and never changed."""
    merged: dict = {}
    for path, modified_ns in reversed(files):
        if modified_ns is None:
            continue
        for key, table in tomllib.loads(_read(path, modified_ns)).items():
            merged[key] = {**merged.get(key, {}), **table} if isinstance(table, dict) else table
    return merged


def _modified_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def tables(name: str, lang: str | None = None, root: Path | None = None) -> dict[str, dict]:
    """The tables of ``content/<language>/<name>.toml`` (the course plan, ``course.toml``, say), each
    the chosen language's keys over English's: whatever is not translated yet is read in English."""
    files = _toml_files(name, lang or language(), root or CONTENT)
    merged = _merged_tables(tuple((path, _modified_ns(path)) for path in files))
    if not merged:
        raise ContentError(f"content/{DEFAULT_LANGUAGE}/{name}.toml does not exist")
    return {key: dict(table) if isinstance(table, dict) else table for key, table in merged.items()}
