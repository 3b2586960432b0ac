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


def commit(app, key: str, guess=None):
    """Make the prediction `key` with `guess` (the first option of a choice when None) and lock it in."""
    radios = [r for r in app.radio if r.key == f"predict-{key}-guess"]
    if radios:
        radios[0].set_value(guess if guess is not None else radios[0].options[0])
    else:
        app.slider(key=f"predict-{key}-guess").set_value(guess if guess is not None else 0.5)
    app.run()
    app.button(key=f"predict-{key}-lock").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def figure_titled(app, title: str) -> dict:
    found = [f for f in figures(app) if (f["layout"].get("title") or {}).get("text") == title]
    assert found, f"no figure {title!r}"
    return found[0]


@pytest.fixture(scope="module")
def app(shared_data):
    return open_page(PAGE, shared_data)


@pytest.mark.slow
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


@pytest.mark.slow
def test_page_holds_val_at_far_back_until_the_student_predicts(shared_data):
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    assert "**VAL at FAR = 0.001:" not in text
    roc = figure_titled(app, "VAL against FAR (ROC curve)")
    assert [t["name"] for t in roc["data"]][-1] != "VAL at FAR = 0.001"
    commit(app, "eval-val-at-far", 0.15)
    truth = METRICS["view1_devtest_val_at_far_1e-3"]
    assert f"You predicted **15%**; the answer is **{truth:.0%}**" in app.success[0].value
    assert f"**VAL at FAR = 0.001: {truth:.1%}**" in page_text(app)
    roc = figure_titled(app, "VAL against FAR (ROC curve)")
    assert roc["data"][-1]["name"] == "VAL at FAR = 0.001" and roc["data"][-1]["y"] == [pytest.approx(truth)]
    app.button(key="predict-eval-val-at-far-again").click().run()
    assert "**VAL at FAR = 0.001:" not in page_text(app)


@pytest.mark.slow
def test_page_far_button_shows_the_cards_numbers(app):
    commit(app, "eval-val-at-far", 0.5)
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


@pytest.mark.slow
def test_page_roc_log_axis(app):
    app.toggle(key="eval-roc-log").set_value(True)
    app.run()
    roc = figures(app)[1]
    assert roc["layout"]["xaxis"]["type"] == "log" and figure_values(roc["data"][0]["x"]).min() == pytest.approx(1e-4)
    app.toggle(key="eval-roc-log").set_value(False)
    app.run()
    assert figures(app)[1]["layout"]["xaxis"]["type"] == "linear"


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_page_percentage_calculator(app, pairs, shipped_embeddings):
    app.segmented_control(key="pct-source").set_value("a distance I choose").run()
    app.segmented_control(key="pct-reference").set_value(app.segmented_control(key="pct-reference").options[0])
    for d in (0.4, 1.1):
        app.slider(key="pct-distance").set_value(d)
        app.run()
        n = int(((pairs.distances <= d) & ~pairs.same).sum())
        assert metric(app, "Strangers at least this close") == f"{n / 500:.3%}"
        assert metric(app, "1 − D/4 (meaningless)") == f"{1 - d / 4:.0%}"
        latex = "\n".join(str(e.value) for e in app.latex)
        assert rf"\frac{{{n}}}{{500}}" in latex
        curve = figure_titled(app, "Share of pairs at least this close (pairsDevTest)")
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


@pytest.mark.slow
def test_page_quiz_grades_the_right_answers(app):
    radios = [r for r in app.radio if r.key and r.key.startswith("evaluation-quiz-")]
    assert len(radios) == 4
    honest = next(o for o in radios[2].options if o.startswith("P(same | D) from a logistic fit"))
    for radio, right in zip(radios, ["2", "Answering \"unknown\" when the nearest distance is above a threshold",
                                     honest, "About 2%"]):
        radio.set_value(right)
    app.run()
    right_answers = [s for s in app.success if str(s.value).startswith("Right.")]
    assert len(right_answers) == 4


def test_page_without_photos_still_shows_distances(no_data):
    from model.data import HOW_TO_GET_DATA

    app = open_page(PAGE, no_data)
    text = page_text(app)
    # histogram, ROC, open set (2), percentages; the rest waits for predictions
    assert len(figures(app)) == 5
    assert metric(app, "Ten-fold accuracy") == f"{METRICS['view1_devtest_accuracy']:.1%}"
    assert "The faces of the mistakes need the LFW photos" in text
    assert HOW_TO_GET_DATA.strip().splitlines()[0] in text
    assert not app.get("image")  # no faces, names instead
    tables = [t.value for t in app.dataframe if list(t.value.columns) == ["left", "right", "what"]]
    assert len(tables) >= 2 and all(len(t) > 0 for t in tables)
    assert all(" D = " in what for t in tables for what in t["what"])
    assert "Traceback" not in text


@pytest.mark.slow
def test_page_threshold_transfer_is_held_back_then_computed(shared_data, pairs, shipped_embeddings, lfw_root):
    app = open_page(PAGE, shared_data)
    assert not [m for m in app.metric if m.label == "Its accuracy on new people"]
    options = app.radio(key="predict-eval-transfer-guess").options
    assert options[0] == f"Higher than {METRICS['view1_devtest_accuracy']:.1%}"
    commit(app, "eval-transfer", options[0])
    assert any("the answer is **Lower by more than one point**" in i.value for i in app.info)
    train = ev.devtrain_pairs(shipped_embeddings, lfw_root)
    t = ev.threshold_transfer(pairs, ev.best_threshold(train)[0])
    assert metric(app, "Its accuracy on new people") == f"{t.transfer_accuracy:.1%}" == "80.7%"
    assert metric(app, "Threshold from pairsDevTrain") == f"{t.train_threshold:.3f}"
    assert metric(app, "Accuracy lost") == f"{t.cost:.1%}"
    text = page_text(app)
    assert f"turns away **{t.transfer_counts.false_rejects}** of 500 same-person" in text
    hist = figure_titled(app, "Training people (solid) against new people (pale)")
    assert [shape["x0"] for shape in hist["layout"]["shapes"]] == [pytest.approx(t.train_threshold),
                                                                    pytest.approx(t.ten_fold_threshold)]


@pytest.mark.slow
def test_page_turns_a_pair_of_photos_into_an_honest_probability(shared_data, pairs):
    app = open_page(PAGE, shared_data)
    app.segmented_control(key="pct-source").set_value("a pair of photos").run()
    app.number_input(key="pct-pair").set_value(3).run()
    d = float(pairs.distances[2])
    assert f"squared distance D = {d:.3f}" in page_text(app)
    assert metric(app, "Strangers at least this close") == f"{((pairs.distances <= d) & ~pairs.same).sum() / 500:.3%}"
    heat = next(f for f in figures(app) if f["data"] and f["data"][0]["type"] == "heatmap")
    assert np.array(heat["data"][0]["z"]).shape == (2, 128)
    # the probability waits for the prediction about the door camera
    assert not [m for m in app.metric if m.label.startswith("P(same | D)")]
    options = app.radio(key="predict-eval-posterior-guess").options
    commit(app, "eval-posterior", options[0])
    new = ev.calibrate(pairs, "new people")
    assert any("the answer is **below 10%**" in i.value for i in app.info)
    app.select_slider(key="pct-prior").set_value(0.001).run()
    want = float(new.posterior(d, 0.001))
    assert metric(app, "P(same | D) at 1 in 1,000") == f"{want:.1%}"
    assert metric(app, "Likelihood ratio LR(D)") == f"{float(new.likelihood_ratio(d)):.3g}"
    truth = "the same person" if pairs.same[2] else "two different people"
    assert f"LFW's answer for this pair, which nothing above used: **{truth}**" in page_text(app)
    rel = figure_titled(app, "Reliability on pairsDevTest")
    assert [t["name"] for t in rel["data"]] == ["perfect calibration", "new people, pairsDevTest",
                                                "the training people, pairsDevTrain"]
    reliability = ev.reliability(ev.cross_fitted_posteriors(pairs), pairs.same)
    enough = int((reliability.count >= 30).sum())
    assert f"**{int(reliability.agrees(30).sum())} of {enough}**" in page_text(app)
    # calibrated on the training people: the warning with the lowest bin's real share
    app.button_group(key="pct-calibration").set_value("train").run()
    assert app.warning and "the percentages lie" in app.warning[0].value
    # a larger prior, a larger posterior: Bayes' rule on the page
    app.select_slider(key="pct-prior").set_value(0.9).run()
    assert float(metric(app, "P(same | D) at 9 in 10").rstrip("%")) >= float(
        metric(app, "P(same | D) at LFW's 1 in 2").rstrip("%"))
