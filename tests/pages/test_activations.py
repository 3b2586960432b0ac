"""Lesson 5, ReLU vs sigmoid/tanh: pages/activations.py through AppTest, with every widget moved and
the numbers shown checked against lessons/activations.py. The logic: tests/lessons/test_activations.py."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from lessons import activations as act
from tests.helpers import figure_values, figures, open_page, page_text
from tests.lessons.test_activations import faces

PAGE = "pages/activations.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def named(figure: dict) -> dict[str, dict]:
    return {d["name"]: d for d in figure["data"] if d.get("name")}


def predict(app, key: str, guess):
    """Commit a prediction on the page: move its slider or pick its option, then lock it in."""
    widget = f"predict-{key}-guess"
    if any(s.key == widget for s in app.slider):
        app.slider(key=widget).set_value(guess)
    else:
        app.radio(key=widget).set_value(guess)
    app.run()
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception


def opened(data):
    """The page with both predictions committed: its figures are then the functions, the
    gradients, the training curves and the dead units."""
    app = open_page(PAGE, data)
    predict(app, "act-survives", "ReLU")
    predict(app, "act-sigmoid-loss", 0.1)
    return app


@pytest.mark.slow
def test_page_draws_what_it_computes(shared_data, faces):
    app = opened(shared_data)
    functions, gradients, training, dead = figures(app)
    for figure in (functions, gradients, training, dead):
        go.Figure(figure)  # raises if a property is not valid Plotly (the page skips that check)
    traces = named(functions)
    assert set(traces) == {"sigmoid", "sigmoid′ (derivative)", "tanh", "tanh′ (derivative)",
                           "ReLU", "ReLU′ (derivative)"}
    assert np.allclose(figure_values(traces["tanh′ (derivative)"]["y"]), act.derivative("tanh", figure_values(traces["tanh"]["x"])))
    # The gradient chart: depth 20, width 128, He init, LFW faces by default.
    assert "LFW face crops" in gradients["layout"]["title"]["text"]
    for name in act.ACTIVATIONS:
        expected = act.gradient_report(faces, name, 20, 128, "he").grad_norms
        assert np.allclose(figure_values(named(gradients)[act.LABELS[name]]["y"]), expected, rtol=1e-6)
    relu = act.gradient_report(faces, "relu", 20, 128, "he")
    assert np.allclose(figure_values(named(dead)["at initialisation"]["y"]), 100 * relu.dead_share)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["ReLU: first layer vs last"] == f"× {relu.first_over_last:.2g}"
    assert metrics["Dead ReLU units at initialisation"] == f"{100 * relu.dead_share.mean():.1f}%"
    text = page_text(app)
    assert r"0.25^{19} = 3.64\times 10^{-12}" in text and "Sec. 3.3" in text  # 0.25^19 = 3.637978807e-12


@pytest.mark.slow
def test_every_widget_changes_the_computation(shared_data, faces):
    app = opened(shared_data)
    # The x readout and the function toggles.
    app.slider(key="act-x").set_value(-1.5).run()
    text = page_text(app)
    assert f"{act.activation('sigmoid', -1.5):.4f}" in text and f"{act.derivative('tanh', -1.5):.4f}" in text
    app.toggle(key="act-show-tanh").set_value(False).run()
    app.toggle(key="act-show-sigmoid").set_value(False).run()
    functions, gradients, _, _ = figures(app)
    assert {d.get("name") for d in functions["data"]} - {None} == {"ReLU", "ReLU′ (derivative)"}
    assert [d["name"] for d in gradients["data"]] == ["ReLU"]
    app.toggle(key="act-show-relu").set_value(False).run()
    assert not figures(app)[1]["data"] and "Switch on at least one function" in page_text(app)
    for key in ("act-show-sigmoid", "act-show-tanh", "act-show-relu"):
        app.toggle(key=key).set_value(True).run()
    # Depth, width, initialisation, inputs: each changes the network the chart shows.
    app.slider(key="act-depth").set_value(35).run()
    app.select_slider(key="act-width").set_value(64).run()
    app.button_group(key="act-init").set_value("xavier").run()
    app.button_group(key="act-inputs").set_value("random").run()
    assert not app.exception
    gradients = figures(app)[1]
    # Long titles are wrapped with Plotly's <br> to fit the chart; read them as one line.
    assert "35 layers × 64 units, random numbers" in gradients["layout"]["title"]["text"].replace("<br>", " ")
    for name in act.ACTIVATIONS:
        expected = act.gradient_report(act.random_batch(), name, 35, 64, "xavier").grad_norms
        shown = figure_values(named(gradients)[act.LABELS[name]]["y"])
        assert np.allclose(np.nan_to_num(shown), np.where(expected > 0, expected, 0), rtol=1e-6)
    assert act.INIT_LATEX["xavier"] in page_text(app) and r"0.25^{34} = 3.39\times 10^{-21}" in page_text(app)
    # The bias shift and one large step: more dead units, as the metrics say.
    before = {m.label: m.value for m in app.metric}["Dead ReLU units at initialisation"]
    app.slider(key="act-bias-shift").set_value(-0.5).run()
    shifted = act.gradient_report(act.random_batch(), "relu", 35, 64, "xavier", -0.5).dead_share
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Dead ReLU units at initialisation"] == f"{100 * shifted.mean():.1f}%"
    assert float(metrics["Dead ReLU units at initialisation"][:-1]) > float(before[:-1])
    app.slider(key="act-bias-shift").set_value(0.0).run()
    app.button_group(key="act-init").set_value("he").run()
    app.select_slider(key="act-step-lr").set_value(1.0).run()
    after = act.dead_after_step(act.random_batch(), 35, 64, "he", 0.0, 1.0)
    dead = named(figures(app)[3])
    assert np.allclose(figure_values(dead["after one step of η = 1"]["y"]), 100 * after)
    assert {m.label: m.value for m in app.metric}["Dead after one step of η = 1"] == f"{100 * after.mean():.1f}%"
    # Back to the faces, then time the functions.
    app.button_group(key="act-inputs").set_value("faces").run()
    assert "LFW face crops" in figures(app)[1]["layout"]["title"]["text"]
    app.button(key="act-time").click().run()
    table = app.dataframe[0].value
    assert list(table["function"]) == ["sigmoid", "tanh", "ReLU"] and (table["× the fastest"] >= 1).all()
    # The quiz.
    app.radio(key="act-quiz-1").set_value("Each layer multiplies the gradient by a slope of at most 0.25").run()
    app.radio(key="act-quiz-2").set_value("A unit whose output is always 1").run()
    app.radio(key="act-quiz-3").set_value("Its slope is 1 for positive inputs and it costs only a comparison").run()
    assert sum(str(s.value).startswith("Right.") for s in app.success) == 2
    assert any("not capped at 1" in str(w.value) for w in app.warning)
    assert not app.exception


@pytest.mark.slow
def test_page_without_face_data_uses_random_inputs(no_data):
    app = opened(no_data)
    text = page_text(app)
    assert "they were not found" in text and "Using random numbers as inputs instead" in text
    assert any(e.label == "How to get the data" for e in app.expander)
    gradients = figures(app)[1]
    assert "random numbers" in gradients["layout"]["title"]["text"]
    expected = act.gradient_report(act.random_batch(), "relu", 20, 128, "he").grad_norms
    assert np.allclose(figure_values(named(gradients)["ReLU"]["y"]), expected, rtol=1e-6)
    assert "Traceback" not in text


@pytest.mark.slow
def test_predictions_hold_back_the_gradient_chart_and_the_training_curves(shared_data, faces):
    app = open_page(PAGE, shared_data)
    assert len(figures(app)) == 2  # the functions and the dead units only
    assert not any(m.label.endswith("first layer vs last") for m in app.metric)
    assert "The chart of each layer's gradient appears" in page_text(app)
    reports = {name: act.gradient_report(faces, name, 20, 128, "he") for name in act.ACTIVATIONS}
    truth = act.LABELS[act.best_kept(reports)]
    assert truth == "ReLU"  # He weights at 20 layers: ReLU keeps the size, tanh's grows, the sigmoid's vanishes
    predict(app, "act-survives", "sigmoid")
    assert any("You predicted **sigmoid**; the answer is **ReLU**" in i.value for i in app.info)
    assert len(figures(app)) == 3 and "Gradient size per layer" in figures(app)[1]["layout"]["title"]["text"]
    # The training curves: held back until the sigmoid's loss is predicted, then drawn as computed.
    curves = {name: act.train_deep(name, 10, "he", 0.1) for name in act.ACTIVATIONS}
    predict(app, "act-sigmoid-loss", 0.65)
    assert any(f"the answer is **{curves['sigmoid'].final_loss:.2f}**" in m.value for m in [*app.success, *app.info])
    training = figures(app)[2]
    go.Figure(training)
    for name, curve in curves.items():
        assert np.allclose(figure_values(named(training)[act.LABELS[name]]["y"]), curve.losses)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["ReLU: loss after 300 steps"] == f"{curves['relu'].final_loss:.3f}"
    app.select_slider(key="act-train-depth").set_value(2).run()
    app.select_slider(key="act-train-lr").set_value(1.0).run()
    shallow = act.train_deep("sigmoid", 2, "he", 1.0)
    assert np.allclose(figure_values(named(figures(app)[2])["sigmoid"]["y"]), shallow.losses)
    assert "2 layers × 32 units, η = 1" in figures(app)[2]["layout"]["title"]["text"]
    assert not app.exception
