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


# --------------------------------------------------------------------------------------------
# Predict, then see: the student commits to a guess before the page shows the answer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """A question asked before the page reveals its answer, which the page computes live.

    `kind` is "choice" (pick one of `options`) or "number" (a slider from `low` to `high` by
    `step`). `explanation` is shown beside the student's guess and the truth once they commit.
    """

    id: str
    prompt: str
    kind: str
    explanation: str
    options: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    tolerance: float = 0.0  # a number guess within this of the truth counts as right

    def __post_init__(self):
        if self.kind not in ("choice", "number"):
            raise ValueError(f"prediction {self.id!r}: kind must be 'choice' or 'number', not {self.kind!r}")
        if self.kind == "choice" and (len(self.options) < 2 or len(set(self.options)) != len(self.options)):
            raise ValueError(f"prediction {self.id!r}: a choice needs two or more distinct options")
        if self.kind == "number" and not (self.low < self.high and self.step > 0):
            raise ValueError(f"prediction {self.id!r}: a number needs low < high and a positive step")


def prediction_right(prediction: Prediction, guess, truth) -> bool:
    """Whether a committed guess matches the live truth: the same option, or a number within the
    prediction's tolerance (half a slider step when it gives none)."""
    if prediction.kind == "choice":
        if truth not in prediction.options:
            raise ValueError(f"the truth {truth!r} is not an option of prediction {prediction.id!r}")
        return guess == truth
    tolerance = prediction.tolerance or prediction.step / 2
    return abs(float(guess) - float(truth)) <= tolerance + 1e-12
