"""When is one measured accuracy really ahead of another? The course's one rule, used wherever a
page compares two training runs (lesson 2's margins, lesson 4's optimisers).

Each run's accuracy comes with a standard error (its card's ``*_standard_error``). The two
errors are independent, so the standard error of the difference is their root sum of squares,
and a difference smaller than two of those is a tie: the measurement cannot tell the runs apart.
This is the usual two-sided test at about the 5% level; it says nothing about the spread from one
training seed to another, which the shipped single-seed runs do not measure.
"""

from __future__ import annotations

import math


def noise_of_difference(error_a: float, error_b: float) -> float:
    """Two standard errors of a - b, given the standard errors of a and b (independent)."""
    return 2.0 * math.hypot(float(error_a), float(error_b))


def is_tie(difference: float, noise: float) -> bool:
    """A difference smaller than its noise (two standard errors of the difference) is a tie."""
    return abs(float(difference)) < float(noise)


def tied(a: float, error_a: float, b: float, error_b: float) -> bool:
    """Whether two measurements with these standard errors are a tie by the rule above."""
    return is_tie(a - b, noise_of_difference(error_a, error_b))
