"""Lesson 1, the triplet loss term by term: pages/loss.py driven widget by widget through AppTest.
The logic: tests/lessons/test_loss.py."""

import numpy as np
import plotly.graph_objects as go
import pytest

from lessons import loss as lesson
from model import triplet
from tests.helpers import figures, open_page, page_text
from tests.lessons.test_loss import squared

PAGE = "pages/loss.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def metrics(app) -> dict:
    return {m.label: m.value for m in app.metric}


def latex(app) -> str:
    return "\n".join(str(x.value) for x in app.latex)


def shown_points(app) -> np.ndarray:
    traces = [t for t in figures(app)[0]["data"] if t.get("name") in lesson.ROLES]
    return np.array([[t["x"][0], t["y"][0]] for t in traces])


def arrow_moves(app) -> dict:
    return {a["name"][5:]: np.array([a["x"] - a["ax"], a["y"] - a["ay"]])
            for a in figures(app)[0]["layout"].get("annotations", [])}


def check_figures_are_valid_plotly(app):
    for spec in figures(app):
        go.Figure(spec)  # raises on any property Plotly does not know


def expect_triplet(app, points, alpha, lr):
    a, p, n = points
    d_ap, d_an = squared(a, p), squared(a, n)
    loss = max(d_ap - d_an + alpha, 0.0)
    shown = metrics(app)
    assert shown["d(a, p) = ‖f(a) − f(p)‖²"] == f"{d_ap:.3f}"
    assert shown["d(a, n) = ‖f(a) − f(n)‖²"] == f"{d_an:.3f}"
    assert shown["Loss of this triplet"] == f"{loss:.3f}"
    assert f"= {loss:.3f}" in latex(app) and f"+ {alpha:.2f}" in latex(app)
    np.testing.assert_allclose(shown_points(app), points, atol=1e-12)
    moves = arrow_moves(app)
    if loss > 0:
        expected = -lr * np.stack([2 * (n - p), -2 * (a - p), 2 * (a - n)])
        for role, move in zip(lesson.ROLES, expected):
            np.testing.assert_allclose(moves[role], move, atol=1e-9)
    else:
        assert moves == {}
    return loss


def commit(app, key: str, guess):
    """Lock in a prediction of the page (ui.widgets.predict_then_see) and run the page again."""
    widget = f"predict-{key}-guess"
    (app.slider(key=widget) if app.get("slider") and any(s.key == widget for s in app.slider)
     else app.radio(key=widget)).set_value(guess).run()
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception


@pytest.mark.slow
def test_page_2d_every_widget_changes_the_numbers(shared_data):
    app = open_page(PAGE, shared_data)
    check_figures_are_valid_plotly(app)
    points = np.array([[-0.28, 0.96], [0.6, 0.8], [-0.96, 0.28]])  # the start: on the unit circle, semi-hard
    assert app.toggle(key="loss-unit-circle").value
    assert expect_triplet(app, points, 0.2, 0.1) == pytest.approx(0.0752)
    assert metrics(app)["Kind"] == "semi-hard"
    app.toggle(key="loss-unit-circle").set_value(False).run()  # off the circle: the raw points themselves
    expect_triplet(app, points, 0.2, 0.1)
    app.slider(key="loss-negative-x").set_value(0.3).run()
    app.slider(key="loss-negative-y").set_value(-0.4).run()
    points[2] = [0.3, -0.4]
    expect_triplet(app, points, 0.2, 0.1)

    app.slider(key="loss-alpha").set_value(0.5).run()
    expect_triplet(app, points, 0.5, 0.1)
    app.slider(key="loss-lr").set_value(0.25).run()
    expect_triplet(app, points, 0.5, 0.25)

    # every coordinate slider: move the negative far away (easy: no arrows), then the others
    for key, value, (i, j) in [("loss-negative-x", 1.9, (2, 0)), ("loss-negative-y", -1.9, (2, 1)),
                               ("loss-anchor-x", -0.2, (0, 0)), ("loss-anchor-y", 0.3, (0, 1)),
                               ("loss-positive-x", 0.1, (1, 0)), ("loss-positive-y", 0.2, (1, 1))]:
        app.slider(key=key).set_value(value).run()
        assert not app.exception
        points[i, j] = value
        expect_triplet(app, points, 0.5, 0.25)
    assert metrics(app)["Kind"] == "easy" and metrics(app)["Loss of this triplet"] == "0.000"

    # bring the negative back next to the anchor, then take a gradient step with the button
    app.slider(key="loss-negative-x").set_value(0.0).run()
    app.slider(key="loss-negative-y").set_value(0.4).run()
    points[2] = [0.0, 0.4]
    before = expect_triplet(app, points, 0.5, 0.25)
    app.button(key="loss-step-button").click().run()
    a, p, n = points
    moved = points - 0.25 * np.stack([2 * (n - p), -2 * (a - p), 2 * (a - n)])
    moved = np.round(np.clip(moved, -2, 2), 3)
    after = expect_triplet(app, moved, 0.5, 0.25)
    assert app.slider(key="loss-anchor-x").value == pytest.approx(moved[0, 0])
    assert after < before

    # onto the unit circle: the loss sees the normalised points
    app.toggle(key="loss-unit-circle").set_value(True).run()
    unit = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    expect_triplet(app, unit, 0.5, 0.25)
    assert np.allclose(np.linalg.norm(shown_points(app), axis=1), 1.0)

    # collapse: predicted first (the toggle waits for it), then loss = alpha, no arrows, and the
    # batch costs alpha per triplet
    assert app.toggle(key="loss-collapse").disabled
    commit(app, "loss-collapse", 0.25)
    assert any("the answer is **0.50**" in box.value for box in app.info)
    app.toggle(key="loss-collapse").set_value(True).run()
    assert metrics(app)["Loss of this triplet"] == "0.500" and arrow_moves(app) == {}
    n_batch = app.slider(key="loss-batch-n").value
    assert metrics(app)["Sum (the paper's L)"] == f"{0.5 * n_batch:.3f}"
    assert metrics(app)["Mean over all N (semi-hard training)"] == "0.500"
    assert "Collapsed" in page_text(app)
    app.slider(key="loss-alpha").set_value(0.0).run()
    assert metrics(app)["Loss of this triplet"] == "0.000" and metrics(app)["Sum (the paper's L)"] == "0.000"
    assert "perfect score for a useless network" in page_text(app)
    check_figures_are_valid_plotly(app)


@pytest.mark.slow
def test_the_arrows_against_d_an_wait_for_a_prediction_then_show_the_negatives_push_fading(shared_data):
    app = open_page(PAGE, shared_data)
    assert len(figures(app)) == 2 and "weakest push" not in page_text(app)  # triplet and batch only
    commit(app, "loss-negative-push", "It grows: the closer the negative, the harder it is pushed away")
    assert any("the answer is **It shrinks: the closer the negative, the weaker the push**" in box.value
               for box in app.info)
    check_figures_are_valid_plotly(app)
    loss_fig, lengths_fig = figures(app)[1:3]
    d_an = np.array(loss_fig["data"][0]["x"])
    assert d_an[0] == 0 and d_an[-1] == pytest.approx(4.0)  # on the unit circle: the whole way round
    d_ap, alpha = 0.8, 0.2
    np.testing.assert_allclose(loss_fig["data"][0]["y"], np.maximum(d_ap - d_an + alpha, 0), atol=1e-9)
    negative = np.array(lengths_fig["data"][2]["y"])
    np.testing.assert_allclose(negative, np.where(d_an < d_ap + alpha, 2 * np.sqrt(d_an), 0), atol=1e-9)
    dots = lengths_fig["data"][3]
    assert dots["x"][0] == pytest.approx(0.9248) and dots["y"][2] == pytest.approx(2 * np.sqrt(0.9248))
    assert "weakest push" in page_text(app) and f"**{2 * np.sqrt(0.9248):.3f}**" in page_text(app)
    # the dot follows the triplet: the negative moved next to the anchor gets a shorter arrow
    app.slider(key="loss-negative-x").set_value(-0.4).run()
    app.slider(key="loss-negative-y").set_value(0.92).run()
    dots = figures(app)[2]["data"][3]
    assert dots["x"][0] < 0.05 and dots["y"][2] < 0.4 < dots["y"][0]


@pytest.mark.slow
def test_off_the_sphere_a_bigger_scale_meets_the_margin_after_a_prediction(shared_data):
    app = open_page(PAGE, shared_data)
    assert not any(s.key == "loss-scale" for s in app.slider)
    commit(app, "loss-scale", "It grows")
    assert any("the answer is **It drops to 0**" in box.value for box in app.info)
    scale_fig = figures(app)[1]
    go.Figure(scale_fig)
    s = np.array(scale_fig["data"][0]["x"])
    np.testing.assert_allclose(scale_fig["data"][0]["y"], np.maximum(s ** 2 * (0.8 - 0.9248) + 0.2, 0), atol=1e-9)
    np.testing.assert_allclose(scale_fig["data"][1]["y"], 0.0752, atol=1e-9)  # on the sphere: any s, the same
    needed = np.sqrt(0.2 / 0.1248)
    assert f"from $s = {needed:.2f}$ on" in page_text(app)
    app.slider(key="loss-scale").set_value(1.3).run()
    assert "the loss of this triplet is **0.000**, with it **0.075**" in " ".join(page_text(app).split())
    assert figures(app)[1]["data"][2]["y"] == pytest.approx([0.0, 0.0752])
    # a triplet in the wrong order only gets worse
    app.slider(key="loss-negative-x").set_value(-0.4).run()
    app.slider(key="loss-negative-y").set_value(0.92).run()
    assert "wrong order" in page_text(app)


@pytest.mark.slow
def test_page_real_faces_and_the_batch(shared_data, shipped_embeddings):
    app = open_page(PAGE, shared_data)
    app.button_group(key="loss-mode").set_value("Real faces (128-D)").run()
    assert not app.exception
    e, labels, names = shipped_embeddings.embeddings.astype(np.float64), shipped_embeddings.labels, shipped_embeddings.names
    start = lesson.default_faces(shipped_embeddings.embeddings, labels, names)
    assert app.selectbox(key="loss-anchor-person").value == start.anchor_person
    assert len(app.get("image")) == 3  # the three crops, found in the shared data

    def check(person, a, p, negative_person, n, alpha):
        rows = lesson.photo_rows(labels, names, person)
        neg = lesson.photo_rows(labels, names, negative_person)
        d_ap, d_an = squared(e[rows[a]], e[rows[p]]), squared(e[rows[a]], e[neg[n]])
        shown = metrics(app)
        assert shown["d(a, p) = ‖f(a) − f(p)‖²"] == f"{d_ap:.3f}"
        assert shown["d(a, n) = ‖f(a) − f(n)‖²"] == f"{d_an:.3f}"
        loss = max(d_ap - d_an + alpha, 0.0)
        assert shown["Loss of this triplet"] == f"{loss:.3f}"
        if loss > 0:  # gradient lengths in 128-D: 2|p - n|, 2|a - p|, 2|n - a|
            for value in (2 * np.sqrt(squared(e[rows[p]], e[neg[n]])), 2 * np.sqrt(d_ap), 2 * np.sqrt(d_an)):
                assert f"= {value:.3f}" in latex(app)

    check(start.anchor_person, 0, 1, start.negative_person, start.negative_photo, 0.2)
    app.selectbox(key="loss-anchor-person").set_value("Tony_Blair").run()
    app.selectbox(key="loss-anchor-photo").set_value(3).run()
    app.selectbox(key="loss-positive-photo").set_value(5).run()
    app.selectbox(key="loss-negative-person").set_value("Colin_Powell").run()
    app.selectbox(key="loss-negative-photo").set_value(2).run()
    app.slider(key="loss-alpha").set_value(1.5).run()
    assert not app.exception
    check("Tony_Blair", 3, 5, "Colin_Powell", 2, 1.5)
    check_figures_are_valid_plotly(app)
    assert "100.0% of the gradients' length" in page_text(app)

    # the batch: N bars, and the sums recomputed by hand from the same draw
    app.slider(key="loss-batch-n").set_value(20).run()
    app.number_input(key="loss-batch-seed").set_value(5).run()
    drawn = lesson.random_lfw_triplets(labels, 20, 5)
    terms = [max(squared(e[a], e[p]) - squared(e[a], e[n]) + 1.5, 0.0) for a, p, n in drawn]
    traces = figures(app)[1]["data"]
    bars = [y for trace in traces if trace["name"] in triplet.KIND_NAMES for y in trace["y"]]
    assert len(bars) == 20 and sum(bars) == pytest.approx(sum(terms))
    brackets = [squared(e[a], e[p]) - squared(e[a], e[n]) + 1.5 for a, p, n in drawn]
    assert traces[0]["y"] == pytest.approx(brackets)  # before the hinge: some negative
    assert metrics(app)["Sum (the paper's L)"] == f"{sum(terms):.3f}"
    assert metrics(app)["Mean over all N (semi-hard training)"] == f"{sum(terms) / 20:.3f}"
    active = sum(t > 0 for t in terms)
    assert metrics(app)["Mean over the active (batch-all)"] == f"{sum(terms) / active:.3f}"

    app.button_group(key="loss-batch-source").set_value("Random points on the circle").run()
    pts = lesson.random_circle_triplets(20, 5)
    terms = [max(squared(a, p) - squared(a, n) + 1.5, 0.0) for a, p, n in pts]
    assert metrics(app)["Sum (the paper's L)"] == f"{sum(terms):.3f}"
    check_figures_are_valid_plotly(app)


def test_page_without_photos_says_how_to_get_them_and_still_computes(no_data):
    app = open_page(PAGE, no_data)
    assert len(figures(app)) == 2
    app.button_group(key="loss-mode").set_value("Real faces (128-D)").run()
    assert not app.exception
    text = page_text(app)
    assert "were not found" in text and "How to get the data" in [x.label for x in app.expander]
    assert metrics(app)["Loss of this triplet"] != "" and len(app.get("image")) == 0
    assert "Traceback" not in text


def test_page_without_the_model_still_teaches_with_2d_points(shared_data, tmp_path, monkeypatch):
    import model.shipped

    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", tmp_path / "missing.pt")
    app = open_page(PAGE, shared_data)
    assert any("cannot be loaded" in str(x.value) for x in app.error)
    assert metrics(app)["Loss of this triplet"] == "0.075"  # the 2-D points need no model
    app.button_group(key="loss-mode").set_value("Real faces (128-D)").run()
    assert not app.exception and "Showing the 2-D points instead" in page_text(app)
    assert "using random points on the unit circle instead" in page_text(app) and len(figures(app)) == 2
