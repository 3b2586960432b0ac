"""What every lesson page promises, checked on each page that exists: a title and a learning goal,
live Plotly figures, "try this" prompts and check-yourself questions that grade answers, with and
without the face data. Each lesson's own test file checks what its widgets compute."""

from pathlib import Path

import pytest

from tests.helpers import figures, open_page, page_text
from lessons import overview

LESSONS = [lesson for lesson in overview.COURSE if lesson.available]


pytestmark = pytest.mark.usefixtures("fresh_caches")


def quiz_radios(app):
    return [radio for radio in app.radio if radio.key and "-quiz-" in radio.key]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[Path(lesson.page).stem for lesson in LESSONS])
def test_lesson_page_has_goal_figures_prompts_and_a_quiz_that_grades(lesson, shared_data):
    app = open_page(lesson.page, shared_data)
    text = page_text(app)
    assert lesson.title in text and lesson.goal in text
    assert "Try this" in text and "Check yourself" in text
    assert figures(app), "no live figure"
    questions = quiz_radios(app)
    assert 2 <= len(questions) <= 4
    for radio in questions:
        assert radio.value is None  # nothing answered until the student answers
    # Try every option of every question: exactly one is graded right, the others get a hint.
    for number in range(len(questions)):
        right = 0
        for option in quiz_radios(app)[number].options:
            quiz_radios(app)[number].set_value(option)
            app.run()
            assert not app.exception
            right_now = sum(str(s.value).startswith("Right.") for s in app.success)
            hints = len(app.warning)
            right += right_now
            quiz_radios(app)[number].set_value(None)
            app.run()
            assert right_now == 1 or hints >= 1
        assert right == 1, f"question {number + 1} must have exactly one right answer"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[Path(lesson.page).stem for lesson in LESSONS])
def test_lesson_page_without_face_data_still_opens(lesson, no_data):
    app = open_page(lesson.page, no_data)
    text = page_text(app)
    assert lesson.title in text and "Try this" in text
    assert figures(app), "the parts that need no photos must still be drawn"
    assert "Traceback" not in text


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[Path(lesson.page).stem for lesson in LESSONS])
def test_lesson_page_with_a_corrupt_checkpoint_says_so_and_shows_the_rest(lesson, shared_data, tmp_path, monkeypatch):
    import model.shipped

    corrupt = tmp_path / "facenet.pt"
    corrupt.write_bytes(b"\x80\x02 this is not a checkpoint")
    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", corrupt)
    app = open_page(lesson.page, shared_data)
    text = page_text(app)
    assert lesson.title in text and "Try this" in text and "Check yourself" in text
    needs_model = any("cannot be loaded" in str(e.value) for e in app.error)
    uses_model = lesson.page not in ("pages/optimizers.py", "pages/activations.py")  # the others read the model
    assert needs_model == uses_model, "pages that use the model must say it cannot be loaded (and only they)"
    if uses_model:
        assert "facenet.pt" in text  # the message names the file
    else:
        assert figures(app)
