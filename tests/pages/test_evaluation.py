"""Lesson 7, "Evaluation": pages/evaluation.py through AppTest, the page's widgets against the numbers
shown. The logic: tests/lessons/test_evaluation.py."""

from __future__ import annotations

import numpy as np
import pytest

from lessons import evaluation as ev
from tests.helpers import figure_values, figures, open_page, page_text
from tests.lessons.test_evaluation import METRICS, brute_force_open_set, direct, pairs

PAGE = "pages/evaluation.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def metric(app, label: str) -> str:
    found = [m.value for m in app.metric if m.label == label]
    assert found, f"no metric {label!r}: {[m.label for m in app.metric]}"
    return found[0]


def captions(app) -> list[str]:
    return [im.caption for element in app.get("image") for im in element.proto.imgs]


@pytest.fixture(scope="module")
def app(shared_data):
    return open_page(PAGE, shared_data)


def test_page_threshold_slider_gives_live_counts(app, shipped_embeddings, pairs):
    for threshold in (0.5, 0.9, 1.3):
        app.slider(key="eval-threshold").set_value(threshold)
        app.run()
        assert not app.exception
        ta, fa = direct(shipped_embeddings, threshold)
        assert metric(app, "|TA(d)|") == f"{ta}" and metric(app, "|FA(d)|") == f"{fa}"
        assert metric(app, "VAL(d)") == f"{ta / 500:.1%}" and metric(app, "FAR(d)") == f"{fa / 500:.1%}"
        latex = "\n".join(str(e.value) for e in app.latex)
        assert rf"\frac{{{ta}}}{{500}} = {ta / 500:.4f}" in latex and rf"\frac{{{fa}}}{{500}}" in latex
        hist, roc = figures(app)[:2]
        assert hist["layout"]["shapes"][0]["x0"] == threshold
        assert np.sort(np.r_[figure_values(hist["data"][0]["x"]), figure_values(hist["data"][1]["x"])]) == pytest.approx(np.sort(pairs.distances))
        assert roc["data"][1]["x"] == [pytest.approx(fa / 500)] and roc["data"][1]["y"] == [pytest.approx(ta / 500)]


def test_page_far_button_shows_the_cards_numbers(app):
    app.button(key="eval-jump-far").click()
    app.run()
    assert app.slider(key="eval-threshold").value == pytest.approx(METRICS["view1_devtest_threshold_at_far_1e-3"], abs=1e-3)
    assert metric(app, "VAL(d)") == f"{METRICS['view1_devtest_val_at_far_1e-3']:.1%}"
    assert metric(app, "|FA(d)|") == "0"
    assert metric(app, "|TA(d)|") == f"{round(METRICS['view1_devtest_val_at_far_1e-3'] * 500)}"
    text = page_text(app)
    assert f"**VAL at FAR = 0.001: {METRICS['view1_devtest_val_at_far_1e-3']:.1%}**" in text
    assert "allows **0 false accepts**" in text
    assert metric(app, "Model card says") == f"{METRICS['view1_devtest_accuracy']:.1%}"
    assert metric(app, "Ten-fold accuracy") == f"{METRICS['view1_devtest_accuracy']:.1%}"
    assert (f"Ten-fold accuracy {METRICS['view1_devtest_accuracy']:.1%} ± "
            f"{METRICS['view1_devtest_accuracy_standard_error']:.1%}") in text
    assert "False accepts: 0" in text and "None: no two strangers come this close." in text

    app.button(key="eval-jump-best").click()
    app.run()
    assert metric(app, "Accuracy") == f"{METRICS['view1_devtest_best_threshold_accuracy']:.1%}"


def test_page_roc_log_axis(app):
    app.toggle(key="eval-roc-log").set_value(True)
    app.run()
    roc = figures(app)[1]
    assert roc["layout"]["xaxis"]["type"] == "log" and figure_values(roc["data"][0]["x"]).min() == pytest.approx(1e-4)
    app.toggle(key="eval-roc-log").set_value(False)
    app.run()
    assert figures(app)[1]["layout"]["xaxis"]["type"] == "linear"


def test_page_shows_mistakes_as_faces(app, shipped_embeddings, pairs):
    app.slider(key="eval-threshold").set_value(1.0)
    app.slider(key="eval-mistakes-shown").set_value(3)
    app.run()
    m = ev.mistakes_at(pairs, 1.0)
    shown = captions(app)
    name = lambda row: shipped_embeddings.names[shipped_embeddings.labels[row]].replace("_", " ")  # noqa: E731
    expected_fa = [f"{name(pairs.left[i])} / {name(pairs.right[i])}: D = {pairs.distances[i]:.3f}"
                   for i in m.false_accepts[:3]]
    expected_fr = [f"{name(pairs.left[i])}: D = {pairs.distances[i]:.3f}" for i in m.false_rejects[:3]]
    assert shown[:6] == expected_fa + expected_fr
    assert f"False accepts: {len(m.false_accepts)}" in page_text(app)
    app.slider(key="eval-mistakes-shown").set_value(1)
    app.run()
    assert captions(app)[:2] == [expected_fa[0], expected_fr[0]]


def test_page_open_set_widgets(app, shipped_embeddings):
    for people, enrolled, threshold in ((10, 1, 0.5), (40, 3, 0.8), (20, 2, 1.2)):
        app.slider(key="openset-people").set_value(people)
        app.slider(key="openset-enrolled").set_value(enrolled)
        app.slider(key="openset-threshold").set_value(threshold)
        app.run()
        assert not app.exception
        exp = ev.open_set_experiment(shipped_embeddings, people, enrolled)
        b = brute_force_open_set(shipped_embeddings, exp, threshold)
        assert metric(app, "Strangers named, no threshold") == "100.0%"
        assert metric(app, "Strangers named, with d") == f"{b['named'] / b['unknown']:.1%}"
        assert metric(app, "Known people named right") == f"{b['right'] / b['known']:.1%}"
        assert metric(app, "Known people turned away") == f"{b['known_unknown'] / b['known']:.1%}"
        text = page_text(app)
        assert (f"Of **{b['unknown']:,}** photos of strangers, nearest neighbour alone names **{b['unknown']:,}**"
                f" as someone in the gallery; with the threshold d = {threshold:.2f}, **{b['named']:,}**") in text
        assert (f"**{b['known']:,}** photos of gallery people, **{b['right']:,}** are named right, **{b['wrong']:,}** "
                f"as someone else and **{b['known_unknown']:,}** are turned away") in text
        bars, curve = figures(app)[2:4]
        by_name = {(t["name"], t.get("xaxis", "x")): t["y"] for t in bars["data"]}
        assert by_name[("named right", "x")][1] == b["right"]
        assert by_name[("named as someone else", "x2")] == [b["unknown"], b["named"]]
        assert curve["layout"]["shapes"][0]["x0"] == threshold


def test_page_percentage_calculator(app, pairs, shipped_embeddings):
    app.segmented_control(key="pct-reference").set_value(app.segmented_control(key="pct-reference").options[0])
    for d in (0.4, 1.1):
        app.slider(key="pct-distance").set_value(d)
        app.run()
        n = int(((pairs.distances <= d) & ~pairs.same).sum())
        assert metric(app, "Strangers at least this close") == f"{n / 500:.3%}"
        assert metric(app, "1 − D/4 (meaningless)") == f"{1 - d / 4:.0%}"
        latex = "\n".join(str(e.value) for e in app.latex)
        assert rf"\frac{{{n}}}{{500}}" in latex
        curve = figures(app)[4]
        assert curve["data"][3]["x"] == [d, d]
    # Every pair of unseen people's photos: millions of pairs, finer shares.
    app.segmented_control(key="pct-reference").set_value(app.segmented_control(key="pct-reference").options[1])
    app.run()
    assert not app.exception
    rows = np.flatnonzero(~np.asarray(shipped_embeddings.trained_on)[shipped_embeddings.labels])
    n_pairs = len(rows) * (len(rows) - 1) // 2
    ref = ev.all_unseen_pairs_reference(shipped_embeddings)
    assert len(ref.same) + len(ref.different) == n_pairs
    assert f"{len(ref.same):,} same-person and {len(ref.different):,} different-person pairs" in page_text(app)
    value = float(metric(app, "Strangers at least this close").rstrip("%")) / 100
    assert value == pytest.approx(ref.share_different_within(1.1), abs=5e-6)
    assert 0 < value < 1


def test_page_quiz_grades_the_right_answers(app):
    radios = [r for r in app.radio if r.key and r.key.startswith("evaluation-quiz-")]
    assert len(radios) == 3
    for radio, right in zip(radios, ["2", "Answering \"unknown\" when the nearest distance is above a threshold",
                                     "Nothing beyond the distance itself"]):
        radio.set_value(right)
    app.run()
    assert sum(str(s.value).startswith("Right.") for s in app.success) == 3


def test_page_without_photos_still_shows_distances(no_data):
    from model.data import HOW_TO_GET_DATA

    app = open_page(PAGE, no_data)
    text = page_text(app)
    assert len(figures(app)) == 5  # histogram, ROC, open set (2), percentages
    assert metric(app, "Ten-fold accuracy") == f"{METRICS['view1_devtest_accuracy']:.1%}"
    assert "The faces of the mistakes need the LFW photos" in text
    assert HOW_TO_GET_DATA.strip().splitlines()[0] in text
    assert not app.get("image")  # no faces, names instead
    tables = [t.value for t in app.dataframe if list(t.value.columns) == ["left", "right", "what"]]
    assert len(tables) >= 2 and all(len(t) > 0 for t in tables)
    assert all(" D = " in what for t in tables for what in t["what"])
    assert "Traceback" not in text
