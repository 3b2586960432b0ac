"""Lesson 4, SGD vs AdaGrad: pages/optimizers.py through AppTest, with every widget moved.
The logic: tests/lessons/test_optimizers.py."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from lessons import optimizers as opt
from model.sweep import load_runs
from tests.helpers import figure_values, figures, open_page, page_text
from tests.lessons.test_optimizers import verdict

PAGE = "pages/optimizers.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def predict(app, key: str, guess):
    """Commit a prediction on the page: pick its option, then lock it in."""
    app.radio(key=f"predict-{key}-guess").set_value(guess).run()
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception


def opened(data):
    """The page with the first surface's prediction committed, so that everything is shown."""
    app = open_page(PAGE, data)
    predict(app, "opt-winner-bowl", "AdaGrad")
    return app


def run_figures(app) -> list[dict]:
    """The shipped runs' curves (not the race's figures, nor those of the real network's layers)."""
    return [f for f in figures(app) if f["layout"]["title"]["text"] in opt.CURVES.values()]


def race_traces(app) -> dict[str, dict]:
    race = figures(app)[0]
    return {d["name"].split(" ")[0]: d for d in race["data"] if d.get("name", "").startswith(("SGD", "AdaGrad"))}


def test_page_shows_the_race_it_computes(shared_data):
    app = opened(shared_data)
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


@pytest.mark.slow
def test_every_widget_of_the_race_changes_what_is_shown(shared_data):
    app = opened(shared_data)
    # Surfaces: each resets the start and the learning rates, and is drawn with its formula.
    for key, surface in opt.SURFACES.items():
        app.button_group(key="opt-surface").set_value(key).run()
        assert not app.exception
        if key == "valleys":  # the race there is held back until SGD's end is predicted
            predict(app, "opt-valleys", "in the higher valley")
        assert app.slider(key="opt-start-w1").value == surface.start[0]
        assert app.select_slider(key="opt-lr-adagrad").value == surface.suggested_lr["AdaGrad"]
        assert surface.latex in page_text(app)
        assert surface.name in figures(app)[0]["layout"]["title"]["text"]
    # Back on the rare surface: learning rates, start point, steps and the replay slider.
    app.button_group(key="opt-surface").set_value("rare").run()
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


@pytest.mark.slow
def test_a_diverging_run_is_reported(shared_data):
    app = opened(shared_data)
    app.button_group(key="opt-surface").set_value("ravine").run()
    predict(app, "opt-winner-ravine", "SGD")
    app.select_slider(key="opt-lr-sgd").set_value(0.05).run()
    ravine = opt.SURFACES["ravine"]
    diverged = opt.run(ravine, "SGD", 0.05, ravine.start, 200).diverged_at
    assert any("SGD diverged" in str(w.value) and f"step {diverged}" in str(w.value) for w in app.warning)
    assert {m.label: m.value for m in app.metric}["SGD reaches the bottom (±0.01)"] == f"diverged at step {diverged}"


def test_real_runs_are_shown_or_said_to_be_missing(shared_data):
    app = opened(shared_data)
    runs = load_runs("lessons-cpu")
    text = page_text(app)
    plotted = {d["name"] for f in run_figures(app) for d in f["data"]}
    for optimizer, name in opt.RUN_NAMES.items():
        if name in runs:
            assert optimizer in plotted
            accuracy = runs[name].metrics.get("view1_devtest_accuracy")
            if accuracy is not None:
                assert f"{100 * accuracy:.1f}%" in text
        else:
            assert f"`{name}`) has not been trained yet" in text and optimizer not in plotted
    comparison = opt.compare(opt.training_curves(runs))
    if all(name in runs for name in opt.RUN_NAMES.values()):
        assert comparison is not None and verdict(comparison) in text


@pytest.mark.slow
def test_quiz_answers_get_feedback(shared_data):
    app = opened(shared_data)
    app.radio(key="opt-quiz-1").set_value("0.02").run()
    assert any(str(s.value).startswith("Right.") for s in app.success)
    app.radio(key="opt-quiz-2").set_value("Because η is lowered by a schedule").run()
    assert any("Plain AdaGrad keeps η fixed" in str(w.value) for w in app.warning)
    app.radio(key="opt-quiz-3").set_value("The steep direction needs a small η, the flat one a large η").run()
    assert sum(str(s.value).startswith("Right.") for s in app.success) == 2
    app.radio(key="opt-quiz-4").set_value("The global minimum, provided the learning rate was small enough").run()
    assert any("down into the nearest valley" in str(w.value) for w in app.warning)
    app.radio(key="opt-quiz-4").set_value("A low region of the loss, not necessarily the lowest point there is").run()
    assert sum(str(s.value).startswith("Right.") for s in app.success) == 3


def test_page_without_face_data(no_data):
    app = opened(no_data)  # the race needs no photos at all
    assert len(figures(app)) >= 3
    assert "Traceback" not in page_text(app)


@pytest.mark.parametrize("shipped", [(), ("alpha-0.2",)], ids=["none", "adagrad-only"])
def test_page_says_which_runs_do_not_exist_yet(shared_data, monkeypatch, shipped):
    import model.sweep

    real = load_runs("lessons-cpu")
    if not all(name in real for name in shipped):
        pytest.skip("the AdaGrad run has not been shipped yet")
    monkeypatch.setattr(model.sweep, "load_runs", lambda plan="lessons-cpu", folder=None: {
        name: real[name] for name in shipped})
    app = opened(shared_data)
    text = page_text(app)
    assert "The **SGD** run (`sgd`) has not been trained yet" in text
    plotted = {d["name"] for f in run_figures(app) for d in f["data"]}
    if shipped:
        assert plotted == {"AdaGrad"} and "AdaGrad: accuracy on unseen people" in text
    else:
        assert "The **AdaGrad** run (`alpha-0.2`) has not been trained yet" in text
        assert not run_figures(app) and "No run of the comparison has been shipped yet" in text


def test_predictions_hold_back_when_each_optimiser_gets_to_the_bottom(shared_data):
    app = open_page(PAGE, shared_data)
    labels = [m.label for m in app.metric]
    assert not any("reaches the bottom" in label for label in labels)
    assert "How far above the lowest point" not in [f["layout"]["title"]["text"] for f in figures(app)]
    bowl = opt.SURFACES["bowl"]
    paths = {n: opt.run(bowl, n, bowl.suggested_lr[n], bowl.start, 200) for n in opt.OPTIMIZERS}
    truth = opt.race_winner(paths, bowl, 0.01)
    assert truth == "AdaGrad"  # at the bottom in a few dozen steps; SGD at 0.1 crawls along w1
    predict(app, "opt-winner-bowl", "SGD")
    assert any("You predicted **SGD**; the answer is **AdaGrad**" in i.value for i in app.info)
    assert "AdaGrad reaches the bottom (±0.01)" in [m.label for m in app.metric]
    # Each surface asks its own question: the ravine's is open again.
    app.button_group(key="opt-surface").set_value("ravine").run()
    assert not any("reaches the bottom" in m.label for m in app.metric)


@pytest.mark.slow
def test_the_two_valleys_hold_back_the_race_until_sgds_end_is_predicted(shared_data):
    app = opened(shared_data)
    app.button_group(key="opt-surface").set_value("valleys").run()
    titles = [f["layout"]["title"]["text"] for f in figures(app)]
    assert not any(t.startswith("Two valleys") for t in titles)
    assert "The race appears once you have made your prediction" in page_text(app)
    valleys = opt.SURFACES["valleys"]
    sgd = opt.run(valleys, "SGD", valleys.suggested_lr["SGD"], valleys.start, 200)
    assert opt.valley_reached(sgd) == "in the higher valley"
    predict(app, "opt-valleys", "in the lower valley (the lowest point)")
    assert any("the answer is **in the higher valley**" in i.value for i in app.info)
    race = figures(app)[0]
    assert race["layout"]["title"]["text"].startswith("Two valleys")
    assert "a higher valley's floor" in {d.get("name") for d in race["data"]}
    app.select_slider(key="opt-lr-sgd").set_value(0.1).run()  # a larger step overshoots the ridge
    assert any("the answer is **in the lower valley (the lowest point)**" in s.value for s in app.success)


@pytest.mark.slow
def test_mini_batch_noise_changes_the_race_and_the_bowl_shows_its_floor(shared_data):
    app = opened(shared_data)
    app.select_slider(key="opt-noise").set_value(1.0).run()
    app.slider(key="opt-steps").set_value(500).run()
    bowl = opt.SURFACES["bowl"]
    traces = race_traces(app)
    for name in opt.OPTIMIZERS:
        expected = opt.run(bowl, name, bowl.suggested_lr[name], bowl.start, 500, noise=1.0)
        assert np.allclose(figure_values(traces[name]["x"]), expected.w[:, 0])
    text = page_text(app)
    assert "**Mini-batch noise.**" in text and "Sec. 3.3" in text
    assert f"**{opt.noise_floor_sgd(bowl, 0.1, 1.0):.3g}** above the lowest point" in text
    assert not app.exception


@pytest.mark.slow
def test_the_real_networks_layers_and_noise_are_drawn_from_the_record(shared_data):
    record = opt.layer_steps()
    if record is None:
        pytest.skip("the per-layer record has not been shipped")
    app = opened(shared_data)
    text = page_text(app)
    assert f"for its first {record.steps} steps" in text
    assert not any(f["layout"]["title"]["text"].startswith("AdaGrad's effective") for f in figures(app))
    truth = opt.LAYER_GROUPS[record.largest()]
    predict(app, "opt-largest-layer", "the first convolution (stem1)")
    assert any(f"the answer is **{truth}**" in m.value for m in [*app.info, *app.success])
    layers = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("AdaGrad's effective"))
    go.Figure(layers)
    assert [d["name"] for d in layers["data"]] == list(record.layers)
    assert np.allclose(figure_values(layers["data"][0]["y"]), record.effective_lr[record.layers[0]])
    assert f"**{record.spread():.0f} times**" in page_text(app)
    noise = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("The loss of every step"))
    assert np.allclose(figure_values(noise["data"][0]["y"]), record.loss)
    assert f"typically by **{opt.loss_noise(record.loss).step_to_step:.4f}**" in page_text(app)
