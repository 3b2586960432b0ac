"""Lesson 4, SGD vs AdaGrad: the numpy optimisers against their formulas and against torch.optim,
the surfaces' gradients against autograd, the real training runs, and the page with every widget
moved."""

from __future__ import annotations

import statistics
import time

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from conftest import figure_values, figures, open_page, page_text
from lessons import optimizers as opt
from model.sweep import Run, load_runs

PAGE = "pages/optimizers.py"


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


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def race_traces(app) -> dict[str, dict]:
    race = figures(app)[0]
    return {d["name"].split(" ")[0]: d for d in race["data"] if d.get("name", "").startswith(("SGD", "AdaGrad"))}


def test_page_shows_the_race_it_computes(shared_data):
    app = open_page(PAGE, shared_data)
    for figure in figures(app):
        go.Figure(figure)  # raises if a property is not valid Plotly (the page skips that check)
    text = page_text(app)
    assert r"\sqrt{G_t} + \varepsilon" in text and "torch.optim.Adagrad" in text
    bowl = opt.SURFACES["bowl"]
    assert bowl.latex in text
    traces = race_traces(app)
    for name in opt.OPTIMIZERS:
        expected = opt.run(bowl, name, bowl.suggested_lr[name], bowl.start, 200)
        assert np.allclose(figure_values(traces[name]["x"]), expected.w[:, 0])
        assert np.allclose(figure_values(traces[name]["y"]), expected.w[:, 1])
    metrics = {m.label: m.value for m in app.metric}
    expected_steps = opt.steps_to_reach(opt.run(bowl, "AdaGrad", 0.5, bowl.start, 200), bowl, 0.01)
    assert metrics["AdaGrad reaches the bottom (±0.01)"] == f"step {expected_steps}"
    # The effective learning rates: AdaGrad per parameter, SGD constant.
    lr_figure = figures(app)[2]
    names = [d["name"] for d in lr_figure["data"]]
    assert names == ["AdaGrad, w1", "AdaGrad, w2", "SGD, w1 and w2 (η)"]
    ada = opt.run(bowl, "AdaGrad", 0.5, bowl.start, 200)
    assert np.allclose(figure_values(lr_figure["data"][0]["y"]), ada.effective_lr[:, 0])
    assert np.allclose(figure_values(lr_figure["data"][2]["y"]), 0.1)


def test_every_widget_of_the_race_changes_what_is_shown(shared_data):
    app = open_page(PAGE, shared_data)
    # Surfaces: each resets the start and the learning rates, and is drawn with its formula.
    for key, surface in opt.SURFACES.items():
        app.button_group(key="opt-surface").set_value(key).run()
        assert not app.exception
        assert app.slider(key="opt-start-w1").value == surface.start[0]
        assert app.select_slider(key="opt-lr-adagrad").value == surface.suggested_lr["AdaGrad"]
        assert surface.latex in page_text(app)
        assert surface.name in figures(app)[0]["layout"]["title"]["text"]
    # Now on the rare surface: learning rates, start point, steps and the replay slider.
    app.select_slider(key="opt-lr-sgd").set_value(0.02).run()
    app.select_slider(key="opt-lr-adagrad").set_value(0.2).run()
    app.slider(key="opt-start-w1").set_value(-1.0).run()
    app.slider(key="opt-start-w2").set_value(0.5).run()
    app.slider(key="opt-steps").set_value(50).run()
    assert app.slider(key="opt-step").value == 50 and app.slider(key="opt-step").max == 50
    rare = opt.SURFACES["rare"]
    traces = race_traces(app)
    for name, lr in (("SGD", 0.02), ("AdaGrad", 0.2)):
        expected = opt.run(rare, name, lr, (-1.0, 0.5), 50)
        assert np.allclose(figure_values(traces[name]["x"]), expected.w[:, 0])
        assert f"η = {lr:g}" in traces[name]["name"]
    app.slider(key="opt-step").set_value(5).run()
    assert not app.exception
    traces = race_traces(app)
    assert len(figure_values(traces["SGD"]["x"])) == 6  # the start and 5 steps
    expected = opt.run(rare, "AdaGrad", 0.2, (-1.0, 0.5), 50)
    assert np.allclose(figure_values(traces["AdaGrad"]["y"]), expected.w[:6, 1])
    text = page_text(app)
    assert r"\text{AdaGrad, } t = 5" in text
    assert f"{expected.accumulated[4, 0]:.4g}" in text  # G_5 of w1, substituted into the formula
    assert {m.label: m.value for m in app.metric}["AdaGrad loss after 5 steps"] == f"{expected.loss[5]:.4g}"
    # Fewer steps than the replay position: the replay follows.
    app.slider(key="opt-steps").set_value(20).run()
    assert not app.exception and app.slider(key="opt-step").value == 20


def test_a_diverging_run_is_reported(shared_data):
    app = open_page(PAGE, shared_data)
    app.button_group(key="opt-surface").set_value("ravine").run()
    app.select_slider(key="opt-lr-sgd").set_value(0.05).run()
    ravine = opt.SURFACES["ravine"]
    diverged = opt.run(ravine, "SGD", 0.05, ravine.start, 200).diverged_at
    assert any("SGD diverged" in str(w.value) and f"step {diverged}" in str(w.value) for w in app.warning)
    assert {m.label: m.value for m in app.metric}["SGD reaches the bottom (±0.01)"] == f"diverged at step {diverged}"


def test_real_runs_are_shown_or_said_to_be_missing(shared_data):
    app = open_page(PAGE, shared_data)
    runs = load_runs("lessons-cpu")
    text = page_text(app)
    plotted = {d["name"] for f in figures(app)[3:] for d in f["data"]}
    for optimizer, name in opt.RUN_NAMES.items():
        if name in runs:
            assert optimizer in plotted
            accuracy = runs[name].metrics.get("view1_devtest_accuracy")
            if accuracy is not None:
                assert f"{100 * accuracy:.1f}%" in text
        else:
            assert f"`{name}`) has not been trained yet" in text and optimizer not in plotted
    sentence = opt.verdict(opt.training_curves(runs))
    if all(name in runs for name in opt.RUN_NAMES.values()):
        assert sentence is not None and sentence in text


def test_quiz_answers_get_feedback(shared_data):
    app = open_page(PAGE, shared_data)
    app.radio(key="opt-quiz-1").set_value("0.02").run()
    assert any(str(s.value).startswith("Right.") for s in app.success)
    app.radio(key="opt-quiz-2").set_value("Because η is lowered by a schedule").run()
    assert any("Plain AdaGrad keeps η fixed" in str(w.value) for w in app.warning)
    app.radio(key="opt-quiz-3").set_value("The steep direction needs a small η, the flat one a large η").run()
    assert sum(str(s.value).startswith("Right.") for s in app.success) == 2


def test_page_without_face_data(no_data):
    app = open_page(PAGE, no_data)  # the race needs no photos at all
    assert len(figures(app)) >= 3
    assert "Traceback" not in page_text(app)


def test_rerun_time(shared_data):
    """Printed, not asserted: the median time of a rerun after a widget change."""
    app = open_page(PAGE, shared_data)
    times = []
    for value in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5):
        start = time.perf_counter()
        app.select_slider(key="opt-lr-sgd").set_value(value).run()
        times.append(time.perf_counter() - start)
    for value in (10, 50, 100, 150, 200):
        start = time.perf_counter()
        app.slider(key="opt-step").set_value(value).run()
        times.append(time.perf_counter() - start)
    print(f"\noptimizers page: median rerun {1000 * statistics.median(times):.0f} ms over {len(times)} changes")
    assert not app.exception


def test_verdict_calls_a_difference_within_the_noise_a_tie():
    def runs(ada, ada_error, sgd, sgd_error):
        return [opt.RunCurves("AdaGrad", "alpha-0.2", True, final_accuracy=ada, final_accuracy_error=ada_error),
                opt.RunCurves("SGD", "sgd", True, final_accuracy=sgd, final_accuracy_error=sgd_error)]

    # Standard errors 0.012 and 0.009: the difference's is 0.015, two of them 3.0 points.
    assert "a tie" in opt.verdict(runs(0.79, 0.012, 0.77, 0.009))
    assert "3.0 points" in opt.verdict(runs(0.79, 0.012, 0.77, 0.009))
    assert "SGD is ahead by 4.0 points" in opt.verdict(runs(0.75, 0.012, 0.79, 0.009))
    assert "AdaGrad is ahead by 5.0 points" in opt.verdict(runs(0.80, 0.012, 0.75, 0.009))
    assert opt.verdict(runs(0.8, None, 0.7, 0.01)) is None
    assert opt.verdict(runs(0.8, 0.01, 0.7, 0.01)[:1]) is None


@pytest.mark.parametrize("shipped", [(), ("alpha-0.2",)], ids=["none", "adagrad-only"])
def test_page_says_which_runs_do_not_exist_yet(shared_data, monkeypatch, shipped):
    import model.sweep

    real = load_runs("lessons-cpu")
    if not all(name in real for name in shipped):
        pytest.skip("the AdaGrad run has not been shipped yet")
    monkeypatch.setattr(model.sweep, "load_runs", lambda plan="lessons-cpu", folder=None: {
        name: real[name] for name in shipped})
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    assert "The **SGD** run (`sgd`) has not been trained yet" in text
    plotted = {d["name"] for f in figures(app)[3:] for d in f["data"]}
    if shipped:
        assert plotted == {"AdaGrad"} and "AdaGrad: accuracy on unseen people" in text
    else:
        assert "The **AdaGrad** run (`alpha-0.2`) has not been trained yet" in text
        assert len(figures(app)) == 3 and "No run of the comparison has been shipped yet" in text
