"""Lesson 4, SGD vs AdaGrad: the numpy optimisers against their formulas and against torch.optim,
the surfaces' gradients against autograd, and the real training runs. The page:
tests/pages/test_optimizers.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons import optimizers as opt
from lessons.content import LessonText
from model.sweep import Run, load_runs


pytestmark = pytest.mark.usefixtures("fresh_caches")


# --------------------------------------------------------------------------------------------
# The update rules
# --------------------------------------------------------------------------------------------


def test_one_step_of_each_by_hand():
    # Bowl 0.05 w1^2 + 5 w2^2 at (-2, 1.5): gradient (2 * 0.05 * -2, 2 * 5 * 1.5) = (-0.2, 15).
    bowl = opt.SURFACES["bowl"]
    assert np.allclose(bowl.gradient(-2.0, 1.5, 1), [-0.2, 15.0])
    sgd = opt.run(bowl, "SGD", 0.1, (-2.0, 1.5), 1)
    assert np.allclose(sgd.w[1], [-2.0 + 0.1 * 0.2, 1.5 - 0.1 * 15.0])  # (-1.98, 0)
    ada = opt.run(bowl, "AdaGrad", 0.5, (-2.0, 1.5), 2)
    # Step 1: G = (0.04, 225); each parameter moves by eta * g / |g| = 0.5 against its gradient.
    assert np.allclose(ada.accumulated[0], [0.04, 225.0])
    assert np.allclose(ada.w[1], [-1.5, 1.0])
    assert np.allclose(ada.effective_lr[0], [0.5 / 0.2, 0.5 / 15.0])
    # Step 2 at (-1.5, 1.0): g = (-0.15, 10), G = (0.04 + 0.0225, 225 + 100).
    assert np.allclose(ada.grads[1], [-0.15, 10.0])
    assert np.allclose(ada.accumulated[1], [0.0625, 325.0])
    assert np.allclose(ada.w[2], [-1.5 + 0.5 / 0.25 * 0.15, 1.0 - 0.5 / np.sqrt(325.0) * 10.0])
    assert np.allclose(sgd.effective_lr, 0.1)
    assert np.allclose(ada.loss, bowl.loss(ada.w[:, 0], ada.w[:, 1]))


def test_eps_is_added_outside_the_square_root():
    # A tiny gradient makes the placement of eps visible: sqrt(G) + eps vs sqrt(G + eps).
    g = np.array([1e-6, 1e-6])
    w, accumulated, effective = opt.adagrad_step(np.zeros(2), g, np.zeros(2), lr=1.0, eps=1e-6)
    assert np.allclose(effective, 1.0 / (1e-6 + 1e-6))
    assert not np.allclose(effective, 1.0 / np.sqrt(1e-12 + 1e-6))
    assert np.allclose(w, -0.5)


@pytest.mark.parametrize("surface_key", list(opt.SURFACES))
def test_surface_gradients_match_autograd(surface_key):
    surface = opt.SURFACES[surface_key]
    rng = np.random.default_rng(1)
    for w1, w2 in rng.uniform(*opt.BOX, size=(20, 2)):
        w = torch.tensor([w1, w2], dtype=torch.float64, requires_grad=True)
        surface.loss(w[0], w[1]).backward()
        assert np.allclose(surface.gradient_of_loss(w1, w2), w.grad.numpy(), rtol=1e-10, atol=1e-12)


def torch_trajectory(surface: opt.Surface, optimizer: str, lr: float, start, steps: int) -> np.ndarray:
    """The same race run by torch.optim, the gradient from autograd (w2's masked where the surface hides it)."""
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    if optimizer == "SGD":
        optim = torch.optim.SGD([w], lr=lr)
    else:
        optim = torch.optim.Adagrad([w], lr=lr, eps=1e-10, initial_accumulator_value=0.0, lr_decay=0.0)
    path = [w.detach().clone().numpy()]
    for t in range(1, steps + 1):
        optim.zero_grad()
        surface.loss(w[0], w[1]).backward()
        if not surface.w2_gradient_seen(t):
            w.grad[1] = 0.0
        optim.step()
        path.append(w.detach().clone().numpy())
    return np.array(path)


@pytest.mark.parametrize("surface_key", list(opt.SURFACES))
@pytest.mark.parametrize("optimizer", opt.OPTIMIZERS)
def test_trajectories_match_torch_optim(surface_key, optimizer):
    surface = opt.SURFACES[surface_key]
    lr = surface.suggested_lr[optimizer]
    ours = opt.run(surface, optimizer, lr, surface.start, 60)
    assert ours.diverged_at is None
    theirs = torch_trajectory(surface, optimizer, lr, surface.start, 60)
    assert np.allclose(ours.w, theirs, rtol=1e-9, atol=1e-12)


def test_adagrad_state_matches_torchs_accumulator():
    surface = opt.SURFACES["saddle"]
    ours = opt.run(surface, "AdaGrad", 0.2, (1.0, 0.3), 7)
    w = torch.tensor([1.0, 0.3], dtype=torch.float64, requires_grad=True)
    optim = torch.optim.Adagrad([w], lr=0.2)  # torch's defaults: eps 1e-10, initial accumulator 0
    for _ in range(7):
        optim.zero_grad()
        surface.loss(w[0], w[1]).backward()
        optim.step()
    assert np.allclose(optim.state[w]["sum"].numpy(), ours.accumulated[-1], rtol=1e-12)
    assert torch.optim.Adagrad([torch.zeros(1, requires_grad=True)]).defaults["eps"] == opt.TORCH_ADAGRAD_EPS


@pytest.mark.parametrize("surface_key", list(opt.SURFACES))
def test_adagrad_effective_learning_rate_never_increases(surface_key):
    surface = opt.SURFACES[surface_key]
    for lr in (0.05, 0.5, 2.0):
        path = opt.run(surface, "AdaGrad", lr, surface.start, 300)
        seen = path.accumulated > 0
        effective = np.where(seen, path.effective_lr, np.inf)
        assert np.all(np.diff(effective, axis=0) <= 1e-15)
        assert np.all(np.diff(path.accumulated, axis=0) >= 0)
        assert np.allclose(path.effective_lr, lr / (np.sqrt(path.accumulated) + opt.TORCH_ADAGRAD_EPS))
    sgd = opt.run(surface, "SGD", 0.01, surface.start, 50)
    assert np.all(sgd.effective_lr == 0.01)


def test_rare_gradient_keeps_adagrads_step_large():
    rare = opt.SURFACES["rare"]
    path = opt.run(rare, "AdaGrad", 1.0, rare.start, 100)
    seen = [t for t in range(1, 101) if path.grads[t - 1, 1] != 0]
    assert seen == list(range(1, 101, opt.RARE_EVERY))
    # w2 gathers a squared gradient only 1 step in 10, so its effective rate stays above w1's.
    assert np.all(path.effective_lr[:, 1] > path.effective_lr[:, 0])


def test_a_diverging_run_stops_where_it_leaves():
    ravine = opt.SURFACES["ravine"]
    path = opt.run(ravine, "SGD", 0.05, ravine.start, 200)
    assert path.diverged_at is not None and path.diverged_at < 20
    assert len(path.w) == path.diverged_at + 1 == len(path.loss) == path.steps + 1
    assert np.max(np.abs(path.w[-1])) > opt.ESCAPE
    assert np.all(np.abs(path.w[:-1]) <= opt.ESCAPE)


def test_steps_to_reach_is_the_first_step_within_tolerance():
    bowl = opt.SURFACES["bowl"]
    path = opt.run(bowl, "SGD", 0.1, bowl.start, 300)
    reached = opt.steps_to_reach(path, bowl, 0.01)
    assert path.loss[reached] - bowl.minimum <= 0.01
    assert np.all(path.loss[:reached] - bowl.minimum > 0.01)
    assert opt.steps_to_reach(opt.run(bowl, "SGD", 0.001, bowl.start, 20), bowl, 0.01) is None


def test_prompt_facts_agree_with_hand_computation():
    facts = opt.prompt_facts()
    # Saddle start (-2, 0.05): g = (2 * -2, -2 * 0.05 + 0.05^3).
    assert facts["saddle_gradient_ratio"] == pytest.approx(4 / (0.1 - 0.05 ** 3))
    bowl = opt.SURFACES["bowl"]
    sgd_steps = opt.steps_to_reach(opt.run(bowl, "SGD", bowl.suggested_lr["SGD"], bowl.start, 500), bowl, 0.01)
    assert facts["bowl_adagrad_steps"] < sgd_steps
    assert facts["ravine_sgd_diverges_at_0.05"] is not None
    assert facts["rare_lr_ratio"] > 1


def test_grid_is_the_loss_at_each_point():
    ravine = opt.SURFACES["ravine"]
    w1, w2, loss = opt.grid(ravine, n=11)
    assert loss.shape == (11, 11)
    assert loss[3, 7] == pytest.approx((1 - w1[7]) ** 2 + 10 * (w2[3] - w1[7] ** 2) ** 2)


# --------------------------------------------------------------------------------------------
# The real training runs
# --------------------------------------------------------------------------------------------


def test_training_curves_show_only_runs_that_exist():
    assert [(r.optimizer, r.found) for r in opt.training_curves({})] == [("AdaGrad", False), ("SGD", False)]
    card = {"hyperparameters": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.0, "mining": "semi-hard",
                                "margin": 0.2, "people_per_batch": 32, "images_per_person": 4, "steps": 400},
            "metrics": {"view1_devtest_accuracy": 0.61},
            "history": [{"step": 0, "view1_devtest_accuracy": 0.5}, {"step": 10, "loss": 0.05},
                        {"step": 50, "loss": 0.04, "view1_devtest_accuracy": 0.6}]}
    adagrad, sgd = opt.training_curves({"sgd": Run("sgd", card)})
    assert not adagrad.found and adagrad.curves == {}
    assert sgd.found and sgd.final_accuracy == 0.61
    assert sgd.curves["loss"] == ([10, 50], [0.05, 0.04])
    # The final evaluation (after step 400) ends the accuracy curve.
    assert sgd.curves["view1_devtest_accuracy"] == ([0, 50, 400], [0.5, 0.6, 0.61])
    assert "SGD" in sgd.description and "learning rate 0.05" in sgd.description and "momentum" not in sgd.description


def test_training_curves_of_the_shipped_runs():
    runs = load_runs("lessons-cpu")
    for curves in opt.training_curves(runs):
        assert curves.found == (curves.run_name in runs)
        if curves.found:
            run = runs[curves.run_name]
            assert run.optimizer == {"AdaGrad": "adagrad", "SGD": "sgd"}[curves.optimizer]
            assert run.hyperparameters["lr"] == 0.05
            assert curves.curves["loss"] == run.curve("loss")
            steps, accuracy = curves.curves["view1_devtest_accuracy"]
            assert steps[:-1] == run.curve("view1_devtest_accuracy")[0][:len(steps) - 1]
            assert steps[-1] == run.hyperparameters["steps"] and accuracy[-1] == curves.final_accuracy


def verdict(comparison: opt.Comparison) -> str:
    """The sentence the page shows for `comparison` (content/en/optimizers.md, verdict-*)."""
    return LessonText("optimizers", lang="en")(
        "verdict-tie" if comparison.tie else "verdict-ahead", adagrad=comparison.adagrad, sgd=comparison.sgd,
        difference=comparison.difference, noise=comparison.noise, leader=comparison.leader)


def test_verdict_calls_a_difference_within_the_noise_a_tie():
    def runs(ada, ada_error, sgd, sgd_error):
        return [opt.RunCurves("AdaGrad", "alpha-0.2", True, final_accuracy=ada, final_accuracy_error=ada_error),
                opt.RunCurves("SGD", "sgd", True, final_accuracy=sgd, final_accuracy_error=sgd_error)]

    # Standard errors 0.012 and 0.009: the difference's is 0.015, two of them 3.0 points.
    tie = opt.compare(runs(0.79, 0.012, 0.77, 0.009))
    assert tie.tie and tie.noise == pytest.approx(3.0) and tie.difference == pytest.approx(2.0)
    assert "a tie" in verdict(tie)
    assert "3.0 points" in verdict(tie)
    sgd_ahead = opt.compare(runs(0.75, 0.012, 0.79, 0.009))
    assert not sgd_ahead.tie and sgd_ahead.leader == "SGD"
    assert "SGD is ahead by 4.0 points" in verdict(sgd_ahead)
    adagrad_ahead = opt.compare(runs(0.80, 0.012, 0.75, 0.009))
    assert not adagrad_ahead.tie and adagrad_ahead.leader == "AdaGrad"
    assert "AdaGrad is ahead by 5.0 points" in verdict(adagrad_ahead)
    assert opt.compare(runs(0.8, None, 0.7, 0.01)) is None
    assert opt.compare(runs(0.8, 0.01, 0.7, 0.01)[:1]) is None
