"""The course's one rule for "is this run really ahead?" (lessons/noise.py), shared by lesson 2's
margin runs and lesson 4's optimiser runs."""

import math

import pytest

from lessons import noise, optimizers


def test_a_difference_under_two_standard_errors_of_the_difference_is_a_tie():
    assert noise.noise_of_difference(0.03, 0.04) == pytest.approx(0.10)  # 2 * sqrt(0.03^2 + 0.04^2)
    assert noise.is_tie(0.099, 0.10) and noise.is_tie(-0.099, 0.10)
    assert not noise.is_tie(0.10, 0.10) and not noise.is_tie(-0.2, 0.10)
    assert noise.tied(0.80, 0.03, 0.71, 0.04) and not noise.tied(0.80, 0.03, 0.69, 0.04)


def test_the_optimiser_lesson_uses_the_same_rule():
    def run(name, accuracy, error):
        return optimizers.RunCurves(name, name, found=True, final_accuracy=accuracy, final_accuracy_error=error)

    for a, ea, b, eb in [(0.79, 0.013, 0.76, 0.015), (0.79, 0.005, 0.70, 0.005), (0.70, 0.02, 0.75, 0.01)]:
        comparison = optimizers.compare([run("AdaGrad", a, ea), run("SGD", b, eb)])
        assert comparison.tie == noise.tied(a, ea, b, eb)
        assert comparison.noise == pytest.approx(100 * 2 * math.hypot(ea, eb))
