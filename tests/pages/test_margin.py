"""Lesson 2, the margin alpha: pages/margin.py driven widget by widget through AppTest, with 0 to 5
trained runs. The logic: tests/lessons/test_margin.py."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from lessons import margin as lesson
from tests.helpers import figures, open_page, page_text
from tests.lessons.test_margin import brute_force, draw_rows, runs_dir, write_runs

PAGE = "pages/margin.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def metrics(app) -> dict:
    return {m.label: m.value for m in app.metric}


def check_figures_are_valid_plotly(app):
    for spec in figures(app):
        go.Figure(spec)


def expected_view(shipped_embeddings, people, photos, seed, anchor, positive, alpha):
    rows = draw_rows(shipped_embeddings, people, photos, seed)
    e = shipped_embeddings.embeddings[rows].astype(np.float64)
    labels = shipped_embeddings.labels[rows]
    d_ap = float(np.sum((e[anchor] - e[positive]) ** 2))
    negatives = np.flatnonzero(labels != labels[anchor])
    d_an = np.sum((e[negatives] - e[anchor]) ** 2, axis=1)
    kinds = {"hard": int(np.sum(d_an <= d_ap)), "semi-hard": int(np.sum((d_an > d_ap) & (d_an < d_ap + alpha))),
             "easy": int(np.sum(d_an >= d_ap + alpha))}
    all_ap, all_an = brute_force(e, labels)
    active = np.mean(all_an < all_ap + alpha)
    return d_ap, kinds, active, len(all_ap)


def check_page(app, shipped_embeddings, people, photos, seed, anchor, positive, alpha):
    d_ap, kinds, active, valid = expected_view(shipped_embeddings, people, photos, seed, anchor, positive, alpha)
    shown = metrics(app)
    assert shown["d_ap of this pair"] == f"{d_ap:.3f}"
    assert (shown["Hard negatives"], shown["Semi-hard negatives"], shown["Easy negatives"]) == (
        str(kinds["hard"]), str(kinds["semi-hard"]), str(kinds["easy"]))
    assert shown["Active share"] == f"{active:.1%}"
    assert f"**{valid:,} triplets**" in page_text(app)
    latex = "\n".join(str(x.value) for x in app.latex)
    assert f"{d_ap:.3f} + {alpha:.2f} = {d_ap + alpha:.3f}" in latex
    rings, line, curve = figures(app)[:3]
    circles = [s for s in rings["layout"]["shapes"] if s.get("name") in ("hard", "semi-hard")]
    assert [c["x1"] for c in circles] == pytest.approx([np.sqrt(d_ap + alpha), np.sqrt(d_ap)])
    negatives_drawn = sum(len(t["x"]) for t in line["data"])
    assert negatives_drawn == sum(kinds.values()) == (people - 1) * photos
    marker = [t for t in curve["data"] if t["name"] == "your α"][0]
    assert marker["x"] == [alpha] and marker["y"][0] == pytest.approx(active * 100)


def test_page_every_widget_changes_the_numbers(shared_data, shipped_embeddings, runs_dir):
    app = open_page(PAGE, shared_data)
    check_figures_are_valid_plotly(app)
    state = dict(people=8, photos=4, seed=0, anchor=0, positive=1, alpha=0.2)
    check_page(app, shipped_embeddings, **state)
    assert len(app.get("image")) == 6  # anchor, positive and four nearest negatives

    steps = [("slider", "margin-alpha", "alpha", 0.6), ("slider", "margin-people", "people", 12),
             ("slider", "margin-photos", "photos", 5), ("number_input", "margin-seed", "seed", 3),
             ("selectbox", "margin-anchor", "anchor", 7), ("selectbox", "margin-positive", "positive", 8),
             ("slider", "margin-alpha", "alpha", 0.0)]
    for kind, key, name, value in steps:
        getattr(app, kind)(key=key).set_value(value).run()
        assert not app.exception, key
        state[name] = value
        if name == "anchor":  # the positive falls back to the first other photo of the anchor's person
            state["positive"] = 5
        assert getattr(app, kind)(key=key).value == value
        check_page(app, shipped_embeddings, **state)
    assert metrics(app)["Semi-hard negatives"] == "0"

    app.slider(key="margin-alpha").set_value(4.5).run()
    state["alpha"] = 4.5
    check_page(app, shipped_embeddings, **state)
    assert metrics(app)["Active share"] == "100.0%" and metrics(app)["Easy negatives"] == "0"
    assert any("at least 4" in str(w.value) for w in app.warning)
    check_figures_are_valid_plotly(app)


@pytest.mark.parametrize("count", [0, 2, 5])
def test_page_shows_the_runs_that_exist_and_names_the_missing(shared_data, runs_dir, count):
    names = list(lesson.ALPHA_RUNS)[:count]
    write_runs(runs_dir, names)
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    missing = [n for n in lesson.ALPHA_RUNS if n not in names]
    if missing:
        assert "Not trained yet" in text and all(f"**{n}**" in text for n in missing)
    else:
        assert "Not trained yet" not in text
    run_figures = [f for f in figures(app) if len(f["layout"].get("annotations", [])) == 3
                   and "training step" in json.dumps(f["layout"])]
    if count == 0:
        assert "No margin run has finished training yet" in text and not run_figures and not app.dataframe
    else:
        assert len(run_figures) == 1
        traces = run_figures[0]["data"]
        assert len(traces) == 3 * count and {t["name"] for t in traces} == {f"α = {lesson.ALPHA_RUNS[n]:g}" for n in names}
        accuracy = [t for t in traces if t["xaxis"] == "x3"]
        assert [t["y"][-1] for t in accuracy] == pytest.approx([0.7 + i / 100 for i in range(count)])
        table = app.dataframe[0].value
        assert list(table["run"]) == names
        check_figures_are_valid_plotly(app)


def test_page_without_photos_says_how_to_get_them(no_data, runs_dir):
    app = open_page(PAGE, no_data)
    text = page_text(app)
    assert "were not found" in text and "How to get the data" in [x.label for x in app.expander]
    assert len(figures(app)) == 3 and metrics(app)["Active share"].endswith("%")  # the embeddings are shipped
    assert not app.get("image") and "Traceback" not in text


def test_page_without_the_model_still_draws_the_rings_and_the_runs(shared_data, tmp_path, monkeypatch, runs_dir):
    import model.shipped

    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", tmp_path / "missing.pt")
    write_runs(runs_dir, ["alpha-0.2"])
    app = open_page(PAGE, shared_data)
    assert any("cannot be loaded" in str(x.value) for x in app.error)
    assert len(figures(app)) == 3  # rings, line, runs
    app.slider(key="margin-alpha").set_value(0.5).run()
    assert not app.exception
    assert figures(app)[0]["layout"]["shapes"][1]["x1"] == pytest.approx(np.sqrt(0.6 + 0.5))
