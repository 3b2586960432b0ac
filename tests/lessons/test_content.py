"""The course's words (content/): every file parses, every section a page (or a lessons module that
reads its own words) asks for exists and gets every placeholder it needs, every question is well
formed, and a second language works."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from lessons import content
from lessons.content import ContentError, LessonText, fill, parse_sections, placeholders

REPO = Path(__file__).resolve().parents[2]
ENGLISH = REPO / "content" / content.DEFAULT_LANGUAGE
PAGES = sorted((REPO / "pages").glob("*.py"))


def lessons_with_text() -> list[str]:
    return sorted(p.stem for p in ENGLISH.glob("*.md"))


def lessons_with_questions() -> list[str]:
    return sorted(p.stem for p in ENGLISH.glob("*.toml") if p.stem != "course")


def words_variable(tree: ast.Module) -> tuple[str, str] | None:
    """(variable, lesson) of the page's ``variable = LessonText("lesson")``, if it has one."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "LessonText" and node.value.args
                and isinstance(node.value.args[0], ast.Constant)):
            return node.targets[0].id, node.value.args[0].value
    return None


def lesson_modules_with_words() -> list[Path]:
    """The lessons/*.py modules that read sections themselves (``WORDS = LessonText("lesson")``), like
    lessons/your_faces.py's `explain`: the pages are not the only readers of content/."""
    return [p for p in sorted((REPO / "lessons").glob("*.py")) if words_variable(ast.parse(p.read_text())) is not None]


# app.py's sidebar reads its words from home.md; some lessons modules read theirs directly
SCRIPTS = [*PAGES, REPO / "app.py", *lesson_modules_with_words()]


def script_id(path: Path) -> str:
    return f"lessons.{path.stem}" if path.parent.name == "lessons" else path.stem


def section_names(arg: ast.expr) -> list[str] | None:
    """The section names a call's first argument can take: a constant, or `a if c else b` of
    constants (nested); None when the name is computed some other way."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        body, orelse = section_names(arg.body), section_names(arg.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def asked_for(page: Path) -> tuple[str, list[tuple[int, list[str] | None, set[str] | None]]] | None:
    """The page's lesson and, for each ``words(...)`` call: its line, the section names it can ask
    for, and the placeholder values it passes (None when it passes ``**values``)."""
    tree = ast.parse(page.read_text())
    found = words_variable(tree)
    if found is None:
        return None
    variable, lesson = found
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == variable and node.args:
            keywords = {k.arg for k in node.keywords}
            calls.append((node.lineno, section_names(node.args[0]), None if None in keywords else keywords))
    return lesson, calls


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", lessons_with_text())
def test_every_content_file_parses_into_named_non_empty_sections(lesson):
    sections = LessonText(lesson, lang="en").sections()
    assert sections, lesson
    assert all(body.strip() for body in sections.values()), [n for n, b in sections.items() if not b.strip()]


@pytest.mark.parametrize("lesson", lessons_with_questions())
def test_every_question_has_one_right_answer_an_explanation_and_a_hint_per_wrong_option(lesson):
    questions = LessonText(lesson, lang="en").questions()
    assert len(questions) >= 2, lesson
    for q in questions:
        assert q.prompt.strip() and len(q.options) >= 2
        assert q.options.count(q.answer) == 1 and len(set(q.options)) == len(q.options), q.prompt
        assert len(q.explanation.strip()) > 20, q.prompt
        wrong = [o for o in q.options if o != q.answer]
        assert set(q.hints) == set(wrong), (q.prompt, set(wrong) ^ set(q.hints))
        assert all(len(q.hints[o].strip()) > 10 for o in wrong), q.prompt


def test_every_page_that_teaches_reads_its_words_from_content():
    teaching = [p for p in PAGES if p.stem != "home"]
    assert teaching, "no lesson pages found"
    missing = [p.name for p in teaching if asked_for(p) is None]
    assert not missing, f"pages without a LessonText: {missing}"


@pytest.mark.parametrize("page", SCRIPTS, ids=script_id)
def test_every_section_a_page_asks_for_exists_and_gets_every_placeholder(page):
    found = asked_for(page)
    if found is None:
        pytest.skip(f"{page.name} reads no lesson text")
    lesson, calls = found
    sections = LessonText(lesson, lang="en").sections()
    problems = []
    for line, names, given in calls:
        if names is None:
            problems.append(f"line {line}: the section name is computed; name it with a constant")
            continue
        for name in names:
            if name not in sections:
                problems.append(f"line {line}: no section {name!r} in {lesson}.md")
            elif given is not None and placeholders(sections[name]) - given:
                problems.append(f"line {line}: {name!r} needs {sorted(placeholders(sections[name]) - given)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", lessons_with_text())
def test_every_section_is_read_by_some_page(lesson):
    """A section no page shows would be edited in vain by a teacher."""
    wanted = set()
    for page in SCRIPTS:
        found = asked_for(page)
        if found and found[0] == lesson:
            wanted |= {name for _, names, _ in found[1] for name in names or []}
    extra = set(LessonText(lesson, lang="en").sections()) - wanted
    if not wanted:
        pytest.skip(f"{lesson}.md is read outside the pages")
    assert not extra, f"sections of {lesson}.md that no page asks for: {sorted(extra)}"


def test_no_page_holds_a_paragraph_of_prose():
    """Prose lives in content/: no string in a page file (docstrings aside) runs past 90 characters."""
    long = []
    for page in PAGES:
        tree = ast.parse(page.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
            else:
                continue
            if len(text) > 90 and text.count(" ") > 8 and "\\" not in text and "<" not in text:
                long.append(f"{page.name}:{node.lineno}: {text[:60]}...")
    assert not long, "\n".join(sorted(set(long)))


# --------------------------------------------------------------------------------------------
# The mechanism itself


def test_sections_placeholders_and_their_errors():
    text = "notes\n<!-- section: a -->\nx = {{x:.2f}}, n = {{ n }}\n\n<!-- section: b-c -->\nplain\n"
    sections = parse_sections(text)
    assert sections == {"a": "x = {{x:.2f}}, n = {{ n }}", "b-c": "plain"}
    assert placeholders(sections["a"]) == {"x", "n"}
    assert fill(sections["a"], {"x": 1 / 3, "n": 7}) == "x = 0.33, n = 7"
    assert fill(r"$\frac{1}{N}$ stays", {}) == r"$\frac{1}{N}$ stays"  # LaTeX braces are not placeholders
    with pytest.raises(ContentError, match="n"):
        fill(sections["a"], {"x": 1})
    with pytest.raises(ContentError, match="twice"):
        parse_sections("<!-- section: a -->\n1\n<!-- section: a -->\n2\n")


def test_a_missing_section_or_file_is_a_clear_error():
    with pytest.raises(ContentError, match="no section 'nothing-here'"):
        LessonText("loss", lang="en")("nothing-here")
    with pytest.raises(ContentError, match="does not exist"):
        LessonText("no-such-lesson", lang="en").questions()


@pytest.fixture
def second_language(tmp_path, monkeypatch) -> Path:
    """A content root with English and a test language "xx" that translates one section and one
    question of lesson 1, and nothing else."""
    (tmp_path / "en").symlink_to(ENGLISH, target_is_directory=True)
    xx = tmp_path / "xx"
    xx.mkdir()
    (xx / "loss.md").write_text("<!-- section: intro -->\nXX-INTRO: f(x) ist ein Punkt.\n", encoding="utf-8")
    (xx / "loss.toml").write_text(
        '[[question]]\nprompt = "XX-FRAGE?"\noptions = ["ja", "nein"]\nanswer = "ja"\n'
        'explanation = "Weil es so ist, wie es ist."\n[question.hints]\n"nein" = "Schau noch einmal hin."\n',
        encoding="utf-8")
    monkeypatch.setattr(content, "CONTENT", tmp_path)
    monkeypatch.setenv(content.LANGUAGE_ENV, "xx")
    return xx


def test_a_second_language_is_a_second_folder_falling_back_to_english(second_language):
    words = LessonText("loss")
    assert words("intro") == "XX-INTRO: f(x) ist ein Punkt."
    assert words("help-alpha") == LessonText("loss", lang="en")("help-alpha")  # not translated: English
    assert [q.prompt for q in words.questions()] == ["XX-FRAGE?"]
    assert LessonText("margin").sections() == LessonText("margin", lang="en").sections()  # a whole file: English


def test_the_course_plan_is_read_from_course_toml_falling_back_to_english(second_language):
    from lessons import overview

    english = content.tables("course", lang="en")
    assert [lesson.title for lesson in overview.COURSE] == [english[lesson.name]["title"] for lesson in overview.COURSE]
    (second_language / "course.toml").write_text('[loss]\ntitle = "XX-TITEL"\n', encoding="utf-8")
    loss = overview.lesson("pages/loss.py")
    assert (loss.title, loss.goal) == ("XX-TITEL", english["loss"]["goal"])  # the goal is not translated: English
    assert overview.lesson("pages/margin.py").nav_title == english["margin"]["nav_title"]
    with pytest.raises(ContentError, match="does not exist"):
        content.tables("no-such-plan")


def test_the_page_speaks_the_second_language(second_language, shared_data):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(REPO / "pages" / "loss.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert "XX-INTRO" in text and "Training looks at three" not in text
    assert [r.label for r in app.radio][-1].endswith("XX-FRAGE?")


# --------------------------------------------------------------------------------------------
# Predict, then see


def predictions_asked_for(page: Path) -> tuple[str, set[str]] | None:
    """The page's lesson and the ids of the predictions it asks for (``words.prediction("id", ...)``)."""
    tree = ast.parse(page.read_text())
    found = words_variable(tree)
    if found is None:
        return None
    variable, lesson = found
    ids = {node.args[0].value for node in ast.walk(tree)
           if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "prediction"
           and getattr(node.func.value, "id", None) == variable and node.args and isinstance(node.args[0], ast.Constant)}
    return lesson, ids


@pytest.mark.parametrize("lesson", lessons_with_questions())
def test_every_prediction_is_well_formed_and_asked_by_its_page(lesson):
    from lessons.quiz import Prediction

    words = LessonText(lesson, lang="en")
    rows = words.predictions()
    asked = set()
    for page in PAGES:
        found = predictions_asked_for(page)
        if found and found[0] == lesson:
            asked |= found[1]
    assert asked <= set(rows), f"pages ask for predictions {sorted(asked - set(rows))} that {lesson}.toml lacks"
    assert set(rows) <= asked, f"predictions of {lesson}.toml that no page asks: {sorted(set(rows) - asked)}"
    for id, row in rows.items():
        values = {name: 1 for field in ("prompt", "explanation") for name in placeholders(row[field])}
        prediction = words.prediction(id, **values)
        assert isinstance(prediction, Prediction) and len(prediction.explanation) > 20, id


def lessons_in_the_course_with_a_page() -> list[str]:
    """The lessons of course.toml, in its order, that have a page (pages/<lesson>.py)."""
    plan = tomllib.loads((ENGLISH / "course.toml").read_text(encoding="utf-8"))
    return [name for name in plan if (REPO / "pages" / f"{name}.py").exists()]


def test_the_course_plan_has_lessons_with_pages():
    assert lessons_in_the_course_with_a_page(), "no lesson of course.toml has a page: nothing checked below"


@pytest.mark.parametrize("lesson", lessons_in_the_course_with_a_page())
def test_every_lesson_asks_at_least_two_predictions(lesson):
    """Every lesson gets at least two predict-then-reveal moments, counted as the [[prediction]]
    tables of its English file (a missing file fails too)."""
    rows = tomllib.loads((ENGLISH / f"{lesson}.toml").read_text(encoding="utf-8")).get("prediction", [])
    ids = [row.get("id") for row in rows]
    assert len(set(ids)) == len(ids), f"{lesson}.toml repeats a prediction id: {ids}"
    assert len(rows) >= 2, f"{lesson}.toml has {len(rows)} [[prediction]] table(s); every lesson needs at least two"


def test_a_prediction_is_judged_against_the_live_truth():
    from lessons.quiz import Prediction, prediction_right

    choice = Prediction("c", "Which?", "choice", "Because.", options=("a", "b"))
    assert prediction_right(choice, "a", "a") and not prediction_right(choice, "b", "a")
    with pytest.raises(ValueError):
        prediction_right(choice, "a", "z")
    number = Prediction("n", "How much?", "number", "Because.", low=0, high=1, step=0.1)
    assert prediction_right(number, 0.3, 0.34) and not prediction_right(number, 0.3, 0.36)
    assert prediction_right(Prediction("t", "?", "number", ".", step=0.1, tolerance=0.2), 0.3, 0.49)
    with pytest.raises(ValueError):
        Prediction("bad", "?", "choice", ".", options=("only",))
    with pytest.raises(ValueError):
        Prediction("bad", "?", "number", ".", low=1, high=0)


def test_the_page_holds_the_answer_back_until_the_student_commits():
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from lessons.quiz import Prediction
        from ui.widgets import predict_then_see

        p = Prediction("p", "What is 0.1 + 0.2?", "number", "Floats round.", low=0.0, high=1.0, step=0.1)
        if predict_then_see(p, 0.3, key="sum"):
            st.markdown("THE-ANSWER-FIGURE")

    app = AppTest.from_function(page).run()
    assert not app.exception and "THE-ANSWER-FIGURE" not in [m.value for m in app.markdown]
    app.slider(key="predict-sum-guess").set_value(0.3)
    app.button(key="predict-sum-lock").click().run()
    assert "THE-ANSWER-FIGURE" in [m.value for m in app.markdown]
    assert "You predicted **0.3**; the answer is **0.3**" in app.success[0].value
    app.button(key="predict-sum-again").click().run()
    assert "THE-ANSWER-FIGURE" not in [m.value for m in app.markdown]
