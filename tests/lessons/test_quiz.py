"""Check-yourself questions: one right answer, feedback for each choice."""

import pytest

from lessons.quiz import Question, grade

Q = Question("Which term keeps the loss from going negative?", ("the margin", "the hinge [.]_+", "the L2 norm"),
             answer="the hinge [.]_+", explanation="max(0, .) never returns a negative number.",
             hints={"the margin": "The margin shifts the loss up; it can still end up below zero without the hinge."})


def test_right_answer_gives_the_explanation():
    feedback = grade(Q, "the hinge [.]_+")
    assert feedback.correct and feedback.text == Q.explanation


def test_wrong_answer_gives_its_hint_or_a_nudge_not_the_answer():
    with_hint = grade(Q, "the margin")
    assert not with_hint.correct and with_hint.text == Q.hints["the margin"]
    without = grade(Q, "the L2 norm")
    assert not without.correct and "try another" in without.text and Q.answer not in without.text


def test_malformed_questions_are_refused():
    with pytest.raises(ValueError, match="not one of the options"):
        Question("?", ("a", "b"), answer="c", explanation="")
    with pytest.raises(ValueError, match="repeated"):
        Question("?", ("a", "a"), answer="a", explanation="")
    with pytest.raises(ValueError, match="hints for options"):
        Question("?", ("a", "b"), answer="a", explanation="", hints={"z": "no"})
    with pytest.raises(ValueError):
        grade(Q, "something else")
