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


# --------------------------------------------------------------------------------------------
# The two valleys: gradient descent finds *a* valley, not the lowest point
# --------------------------------------------------------------------------------------------


def test_the_two_valleys_floors_ridge_and_lowest_loss_are_exact():
    valleys = opt.SURFACES["valleys"]
    for w1 in (opt.VALLEY_LOW, opt.VALLEY_RIDGE, opt.VALLEY_HIGH):
        assert valleys.gradient_of_loss(w1, 0.0) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert opt.VALLEY_LOW < opt.VALLEY_RIDGE < opt.VALLEY_HIGH
    assert valleys.minimum == pytest.approx(valleys.loss(opt.VALLEY_LOW, 0.0))
    assert valleys.loss(opt.VALLEY_HIGH, 0.0) > valleys.minimum + 0.5  # the right valley is clearly higher
    grid_loss = opt.grid(valleys, n=1001)[2]
    assert grid_loss.min() >= valleys.minimum - 1e-12 and grid_loss.min() < valleys.minimum + 1e-4


def test_where_sgd_ends_in_the_two_valleys_depends_on_the_step_and_the_start():
    """What the page's prediction, "try this" and the global-minimum paragraph say: from the right,
    SGD at 0.05 ends in the higher valley, at 0.1 it overshoots into the lower one, at 0.2 it flies
    off; small steps all end in the higher valley; from w1 = -0.5 every step that does not fly off
    finds the lower one."""
    valleys = opt.SURFACES["valleys"]
    end = {lr: opt.valley_reached(opt.run(valleys, "SGD", lr, valleys.start, 200)) for lr in opt.LEARNING_RATES}
    assert end[0.05] == "in the higher valley" and end[0.1] == "in the lower valley (the lowest point)"
    assert end[0.2] == "it flies off (diverges)"
    assert all(end[lr] == "in the higher valley" for lr in opt.LEARNING_RATES if lr <= 0.05)
    from_left = {lr: opt.valley_reached(opt.run(valleys, "SGD", lr, (-0.5, 1.5), 200)) for lr in opt.LEARNING_RATES}
    assert all(v != "in the higher valley" for v in from_left.values())
    assert from_left[0.05] == "in the lower valley (the lowest point)"
    # A run that stays in the higher valley never gets within 0.01 of the lowest loss: no "bottom".
    stuck = opt.run(valleys, "SGD", 0.05, valleys.start, 200)
    assert opt.steps_to_reach(stuck, valleys, 0.01) is None
    assert stuck.loss[-1] == pytest.approx(valleys.loss(opt.VALLEY_HIGH, 0.0), abs=1e-6)


def test_race_winner_reads_the_first_step_within_the_tolerance():
    bowl = opt.SURFACES["bowl"]
    paths = {n: opt.run(bowl, n, bowl.suggested_lr[n], bowl.start, 200) for n in opt.OPTIMIZERS}
    assert opt.race_winner(paths, bowl) == "AdaGrad"
    short = {n: opt.run(bowl, n, bowl.suggested_lr[n], bowl.start, 3) for n in opt.OPTIMIZERS}
    assert opt.race_winner(short, bowl) == "neither, within the steps"
    same = {"SGD": paths["AdaGrad"], "AdaGrad": paths["AdaGrad"]}
    assert opt.race_winner(same, bowl) == "both at the same step"
    ravine = opt.SURFACES["ravine"]
    fast_sgd = {"SGD": opt.run(ravine, "SGD", 0.02, ravine.start, 500),
                "AdaGrad": opt.run(ravine, "AdaGrad", 0.5, ravine.start, 500)}
    assert opt.race_winner(fast_sgd, ravine) == "SGD"  # the "try this": SGD at 0.02 beats AdaGrad on the ravine


# --------------------------------------------------------------------------------------------
# Mini-batch noise
# --------------------------------------------------------------------------------------------


def test_noise_is_added_to_the_gradient_the_optimiser_sees_and_to_nothing_else():
    bowl, rare = opt.SURFACES["bowl"], opt.SURFACES["rare"]
    plain = opt.run(bowl, "SGD", 0.1, bowl.start, 50)
    assert np.array_equal(opt.run(bowl, "SGD", 0.1, bowl.start, 50, noise=0.0).w, plain.w)
    noisy = opt.run(bowl, "SGD", 0.1, bowl.start, 50, noise=0.3, noise_seed=4)
    xi = np.random.default_rng(4).standard_normal((50, 2))
    exact = np.array([bowl.gradient_of_loss(*w) for w in noisy.w[:-1]])
    assert np.allclose(noisy.grads, exact + 0.3 * xi)
    assert np.allclose(noisy.loss, bowl.loss(noisy.w[:, 0], noisy.w[:, 1]))  # the loss drawn has no noise
    # Both optimisers see the same noise; none arrives for w2 between the rare surface's visits.
    ada = opt.run(bowl, "AdaGrad", 0.5, bowl.start, 50, noise=0.3, noise_seed=4)
    assert np.allclose(ada.grads - np.array([bowl.gradient_of_loss(*w) for w in ada.w[:-1]]), 0.3 * xi)
    r = opt.run(rare, "AdaGrad", 1.0, rare.start, 30, noise=1.0)
    assert np.all(r.grads[[t - 1 for t in range(1, 31) if not rare.w2_gradient_seen(t)], 1] == 0)


@pytest.mark.slow
def test_sgd_settles_at_its_worked_out_noise_floor_and_adagrad_goes_below_it():
    """Over 200 noise seeds, SGD (eta = 0.1, noise 1) on the bowl sits on average at the floor that
    noise_floor_sgd works out; AdaGrad's shrinking steps take it below."""
    bowl = opt.SURFACES["bowl"]
    floor = opt.noise_floor_sgd(bowl, 0.1, 1.0)
    assert floor == pytest.approx(0.05 * 0.01 / (1 - 0.99 ** 2) + 5 * 0.01 / 1.0)
    sgd = [opt.gap(opt.run(bowl, "SGD", 0.1, bowl.start, 800, noise=1.0, noise_seed=s), bowl)[-1] for s in range(200)]
    ada = [opt.gap(opt.run(bowl, "AdaGrad", 0.5, bowl.start, 800, noise=1.0, noise_seed=s), bowl)[-1]
           for s in range(200)]
    assert np.mean(sgd) == pytest.approx(floor, rel=0.15)
    assert np.mean(ada) < 0.5 * floor
    assert opt.noise_floor_sgd(bowl, 0.2, 1.0) == float("inf")  # 1 - 2 * 5 * 0.2 = -1: no floor, it bounces
    with pytest.raises(ValueError):
        opt.noise_floor_sgd(opt.SURFACES["ravine"], 0.1, 1.0)


def test_the_loss_noise_of_a_known_series():
    rng = np.random.default_rng(0)
    trend = 1.0 - 0.001 * np.arange(400)
    stats = opt.loss_noise(trend + 0.02 * rng.standard_normal(400))
    assert stats.step_to_step == pytest.approx(0.02, rel=0.1)
    assert stats.drop_per_step == pytest.approx(0.001, rel=0.1) and stats.ratio == pytest.approx(20, rel=0.15)
    with pytest.raises(ValueError):
        opt.loss_noise(np.ones(5))


# --------------------------------------------------------------------------------------------
# AdaGrad inside the real network: the shipped record
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def record():
    found = opt.layer_steps()
    if found is None:
        pytest.skip("the per-layer record has not been shipped")
    return found


def test_the_layer_record_is_a_faithful_re_run_of_the_shipped_adagrad_run(record):
    """The re-run follows the shipped run: same recipe, and 10-step mean losses within 5% of the
    ones its card recorded."""
    run = load_runs("lessons-cpu")[record.run]
    hp = run.hyperparameters
    assert hp["optimizer"] == "adagrad" and record.lr == hp["lr"] and record.run == opt.RUN_NAMES["AdaGrad"]
    assert 100 <= record.steps <= record.planned == hp["steps"]
    assert len(record.loss) == record.steps and all(len(v) == record.steps for v in record.effective_lr.values())
    agreement = opt.replay_agreement(record, run.curve("loss"))
    assert agreement < 0.05
    assert record.layers[0] == "stem1" and record.layers[-1] == "embedding"
    from model.net import NetConfig, build_net

    net = build_net(NetConfig(hp["arch"], hp["embedding_dim"], hp["input_size"], hp["width"], hp["activation"]))
    counts: dict[str, int] = {}
    for name, p in net.named_parameters():
        if p.ndim > 1:
            counts[opt.layer_of(name)] = counts.get(opt.layer_of(name), 0) + p.numel()
    assert counts == record.weights


def test_adagrad_evens_out_the_steps_of_layers_whose_gradients_differ_tenfold(record):
    """What the page says: the gradient per weight shrinks from the first convolution to the last
    Inception module; the effective learning rates spread the other way, so that their products
    (about the step each layer takes) differ far less than the gradients; and the largest
    effective rate is the last Inception module's."""
    last = record.steps - 1
    body = [layer for layer in record.layers if layer != "embedding"]
    rms = [float(np.sqrt(np.mean(record.gradient_rms[layer] ** 2))) for layer in body]  # over all the steps
    assert all(a > b for a, b in zip(rms, rms[1:]))
    assert max(rms) / min(rms) > 10
    lr = [record.effective_lr[layer][last] for layer in body]
    assert all(a < b for a, b in zip(lr, lr[1:]))
    steps = [record.effective_lr[layer][last] * record.gradient_rms[layer][last] for layer in record.layers]
    assert max(steps) / min(steps) < 3
    assert record.largest() == "inception5a" and opt.LAYER_GROUPS[record.largest()] in opt.LAYER_OPTIONS
    assert record.spread() > 20
    # Every effective rate only shrinks, step after step (G only grows).
    assert all(np.all(np.diff(record.effective_lr[layer]) <= 1e-9 * record.effective_lr[layer][:-1])
               for layer in record.layers)


def test_one_mini_batch_s_loss_is_mostly_noise(record):
    stats = opt.loss_noise(record.loss)
    assert stats.drop_per_step > 0 and stats.ratio > 5


@pytest.mark.slow
def test_the_record_s_first_steps_are_what_model_train_computes(record, shared_data):
    """Two steps of record_layers, run now on the real data, give the shipped record's numbers."""
    card = load_runs("lessons-cpu")[record.run].card
    fresh = opt.record_layers(card, str(shared_data), steps=2)
    assert np.allclose(fresh["loss"], record.loss[:2], rtol=1e-4)
    for layer in record.layers:
        assert np.allclose(fresh["effective_lr"][layer], record.effective_lr[layer][:2], rtol=1e-3)
    # At step 1 AdaGrad moves every weight by eta: the effective rate is eta / |g| weight by weight.
    assert fresh["effective_lr"]["stem1"][0] > fresh["effective_lr"]["stem1"][1]
