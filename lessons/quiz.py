"""Check-yourself questions: every lesson ends with a few, answered on the page with instant feedback.

A question is plain data, so lessons define them without Streamlit and tests can check that every
question has exactly one right answer and an explanation for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    prompt: str
    options: tuple[str, ...]
    answer: str  # the right option, verbatim
    explanation: str  # why the right answer is right; shown once the student has answered
    hints: dict[str, str] = field(default_factory=dict)  # wrong option -> what that choice misses

    def __post_init__(self):
        if self.answer not in self.options:
            raise ValueError(f"the answer {self.answer!r} is not one of the options of {self.prompt!r}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"repeated option in {self.prompt!r}")
        unknown = set(self.hints) - set(self.options)
        if unknown:
            raise ValueError(f"hints for options that do not exist: {sorted(unknown)}")


@dataclass(frozen=True)
class Feedback:
    correct: bool
    text: str


def grade(question: Question, choice: str) -> Feedback:
    """Right: the explanation. Wrong: the hint for that choice, so the student can try again
    (the page keeps the explanation behind a "show the answer" expander)."""
    if choice not in question.options:
        raise ValueError(f"{choice!r} is not an option of {question.prompt!r}")
    if choice == question.answer:
        return Feedback(True, question.explanation)
    return Feedback(False, question.hints.get(choice) or "Not quite: look at the figure again and try another answer.")
