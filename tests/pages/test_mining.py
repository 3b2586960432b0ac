"""Lesson 3, "Choosing triplets": pages/mining.py driven through AppTest (every widget moved).
The logic: tests/lessons/test_mining.py."""

import numpy as np
import pytest

from lessons import mining
from tests.helpers import figure_values, figures, open_page, page_text

PAGE = "pages/mining.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def heat(app):
    return next(f for f in figures(app) if f["data"] and f["data"][0]["type"] == "heatmap")


def metric(app, label):
    return next(m.value for m in app.metric if m.label == label)


def widget(app, kind, key):
    return next(w for w in app.get(kind) if w.key == key)


def commit(app, key: str, guess):
    """Lock in a prediction of the page (ui.widgets.predict_then_see) and run the page again."""
    widget = f"predict-{key}-guess"
    (app.slider(key=widget) if any(s.key == widget for s in app.slider) else app.radio(key=widget)).set_value(guess).run()
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception


def committed(app, key: str, guess):
    """`commit` unless the prediction is already locked in this session."""
    if any(b.key == f"predict-{key}-lock" for b in app.button):
        commit(app, key, guess)


def expected(shipped_embeddings, people, photos, seed, unseen, alpha):
    batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, people, photos, seed, unseen)
    return batch, mining.analyse_batch(shipped_embeddings.embeddings[batch.rows], batch.labels, alpha, seed)


def check_page(app, shipped_embeddings, people, photos, seed, unseen, alpha, strategy, anchor):
    """What the page shows equals the lesson's computation for these settings."""
    assert not app.exception, [e.value for e in app.exception]
    committed(app, "mining-active-share", 50.0)  # the kind counts are held back until then
    batch, a = expected(shipped_embeddings, people, photos, seed, unseen, alpha)
    b = people * photos
    z = figure_values(heat(app)["data"][0]["z"])
    assert z.shape == (b, b)
    np.testing.assert_allclose(z, a.distances, atol=1e-4)
    assert metric(app, "Valid triplets in the batch") == f"{b * (photos - 1) * (b - photos):,}"
    assert metric(app, "hard triplets") == f"{a.counts.hard:,}"
    assert metric(app, "semi-hard triplets") == f"{a.counts.semi_hard:,}"
    assert metric(app, "easy triplets") == f"{a.counts.easy:,}"
    result = a.strategies[strategy]
    assert metric(app, "Triplets picked in the batch") == f"{result.selected:,}"
    assert metric(app, "hard, of those picked") == f"{result.kinds.hard:,}"
    text = page_text(app)
    assert f"= {result.loss:.4f}" in text
    # the anchor's row is boxed, and the table lists that anchor's picks
    rect = [s for s in heat(app)["layout"]["shapes"] if s["type"] == "rect"][0]
    assert rect["y0"] == anchor - 0.5
    assert f"{len(mining.picks_for_anchor(a, strategy, anchor))} triplet(s) for this anchor." in text
    hp = a.hardest_positive[anchor]
    assert f"\\max_p d_{{ap}} = {a.distances[anchor, hp]:.3f}" in text
    names = heat(app)["layout"]["xaxis"]["ticktext"]
    assert names == [shipped_embeddings.names[p].replace("_", " ") for p in batch.people]
    faces = [f for f in figures(app) if f["data"][0]["type"] == "image"]
    if faces:  # the face grid: a row per person, a frame round the anchor and round each photo picked for it
        picks = mining.picks_for_anchor(a, strategy, anchor)
        framed = {anchor} | {t.positive for t in picks} | {t.negative for t in picks}
        assert len(faces[0]["layout"]["shapes"]) == len(framed)
        assert faces[0]["layout"]["yaxis"]["ticktext"] == names
    shrink = next(f for f in figures(app) if f["data"][0].get("name") == mining.STRATEGY_LABELS["random"])
    hard = next(t for t in shrink["data"] if t["name"] == mining.STRATEGY_LABELS["hard"])
    assert figure_values(hard["y"])[-1] == pytest.approx(a.strategies["hard"].loss, abs=1e-5)
    assert figure_values(hard["y"])[0] == pytest.approx(alpha, abs=1e-6)
    return batch, a


@pytest.mark.slow
def test_page_moves_every_widget(shared_data, shipped_embeddings):
    app = open_page(PAGE, shared_data)
    check_page(app, shipped_embeddings, 8, 4, 0, False, 0.2, "semi-hard", 0)
    assert "123,552,000" in page_text(app).replace("{,}", ",")  # 1800 * 39 * 1760, FaceNet's batch

    widget(app, "slider", "mining_people").set_value(5).run()
    check_page(app, shipped_embeddings, 5, 4, 0, False, 0.2, "semi-hard", 0)
    assert f"{5 * 4 * 3 * 16:,}".replace(",", "{,}") in page_text(app)  # the user's batch in the count formula

    widget(app, "slider", "mining_photos").set_value(6).run()
    check_page(app, shipped_embeddings, 5, 6, 0, False, 0.2, "semi-hard", 0)

    widget(app, "number_input", "mining_seed").set_value(11).run()
    check_page(app, shipped_embeddings, 5, 6, 11, False, 0.2, "semi-hard", 0)

    widget(app, "button", "mining_new_batch").click().run()
    assert widget(app, "number_input", "mining_seed").value == 12
    check_page(app, shipped_embeddings, 5, 6, 12, False, 0.2, "semi-hard", 0)

    widget(app, "toggle", "mining_unseen").set_value(True).run()
    batch, _ = check_page(app, shipped_embeddings, 5, 6, 12, True, 0.2, "semi-hard", 0)
    assert not shipped_embeddings.trained_on[batch.people].any()
    assert "never seen" in page_text(app)

    widget(app, "slider", "mining_alpha").set_value(0.5).run()
    check_page(app, shipped_embeddings, 5, 6, 12, True, 0.5, "semi-hard", 0)

    for strategy in ("hard", "all", "random"):
        widget(app, "segmented_control", "mining_strategy").set_value(strategy).run()
        _, a = check_page(app, shipped_embeddings, 5, 6, 12, True, 0.5, strategy, 0)
    assert metric(app, "Triplets picked in the batch") == f"{30 * 5:,}"  # random: one per anchor-positive pair

    widget(app, "selectbox", "mining_anchor").set_value(17).run()
    check_page(app, shipped_embeddings, 5, 6, 12, True, 0.5, "random", 17)

    # fewer people than the anchor's row: the anchor goes back to the first photo
    widget(app, "slider", "mining_people").set_value(2).run()
    assert not app.exception
    anchor = widget(app, "selectbox", "mining_anchor").value
    check_page(app, shipped_embeddings, 2, 6, 12, True, 0.5, "random", anchor)


@pytest.mark.slow
def test_page_shows_the_comparison_runs_or_says_they_are_missing(shared_data):
    from model.sweep import load_runs

    app = open_page(PAGE, shared_data)
    runs = load_runs("lessons-cpu")
    if mining.collapsed_runs(mining.run_comparison(runs)) is not None:
        commit(app, "mining-collapse", "Neither")
    text = page_text(app)
    traces = [t.get("name", "") for f in figures(app) for t in f["data"]]
    for name, label in ((mining.HARDEST_RUN, "hardest negatives (batch-hard)"),
                        (mining.REFERENCE_RUN, "semi-hard (FaceNet's rule)")):
        if name in runs:
            assert f"{label}: loss" in traces
            steps, loss = runs[name].curve("loss")
            fig = next(f for f in figures(app) if any(t.get("name") == f"{label}: loss" for t in f["data"]))
            shown = next(t for t in fig["data"] if t.get("name") == f"{label}: loss")
            assert figure_values(shown["y"]) == pytest.approx(loss)
            if name == mining.HARDEST_RUN:
                stuck = mining.stuck_at_margin(steps, loss, runs[name].margin)
                assert ("**collapsed**" in text) == (stuck is not None)
                if stuck is not None:
                    assert f"from step {stuck} on" in text
        else:
            assert f'"{name}"' in text and "not there yet" in text


@pytest.mark.slow
def test_page_without_photos_lists_names_and_says_how_to_get_them(no_data, shipped_embeddings):
    app = open_page(PAGE, no_data)
    text = page_text(app)
    assert "The face grid needs the LFW photos" in text
    assert any("How to get the data" in e.label for e in app.expander)
    assert not any(f["data"][0]["type"] == "image" for f in figures(app))
    check_page(app, shipped_embeddings, 8, 4, 0, False, 0.2, "semi-hard", 0)
    table = app.dataframe[0].value
    assert list(table["person"]) == [shipped_embeddings.names[p].replace("_", " ") for p in
                                     mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, 8, 4, 0).people]
    assert "Traceback" not in text


def test_page_without_the_model_still_explains_and_counts(shared_data, monkeypatch):
    """face_model() failing makes lfw_embeddings() None (after its error box): the counts, the collapse
    and the training runs need no model and are still there."""
    import ui.loaders

    monkeypatch.setattr(ui.loaders, "lfw_embeddings", lambda: None)
    app = open_page(PAGE, shared_data)
    text = page_text(app)
    assert "need the model's LFW embeddings" in text
    assert not any(f["data"][0]["type"] == "heatmap" for f in figures(app))
    scales = next(f for f in figures(app) if f["data"][0].get("name") == "valid triplets")
    assert list(figure_values(scales["data"][0]["y"])) == [1800 * 39 * 1760, 32 * 3 * 28]  # FaceNet's batch, 8 x 4
    assert "Why not always the hardest negatives?" in text
    widget(app, "slider", "mining_people").set_value(3).run()
    assert not app.exception
    scales = next(f for f in figures(app) if f["data"][0].get("name") == "valid triplets")
    assert figure_values(scales["data"][0]["y"])[-1] == 12 * 3 * 8


# --------------------------------------------------------------------------------------------
# Predict, then see
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_active_share_is_held_back_until_the_student_predicts_it(shared_data, shipped_embeddings):
    app = open_page(PAGE, shared_data)
    assert not app.exception
    _, a = expected(shipped_embeddings, 8, 4, 0, False, 0.2)
    share = f"{100 * a.counts.active / a.counts.valid:.1f}%"
    assert not any(m.label == "hard triplets" for m in app.metric)
    assert "have something to teach" not in page_text(app)
    commit(app, "mining-active-share", 30.0)
    assert metric(app, "hard triplets") == f"{a.counts.hard:,}"
    assert f"α = 0.20, **{share}** of the triplets are active" in page_text(app)
    said = [m.value for m in (*app.success, *app.info) if "You predicted" in m.value]
    assert said == [f"You predicted **30.0%**; the answer is **{share}**. " + said[0].split("**. ", 1)[1]]
    # the truth follows the page: a wider margin, a new answer beside the same guess
    widget(app, "slider", "mining_alpha").set_value(1.0).run()
    _, wide = expected(shipped_embeddings, 8, 4, 0, False, 1.0)
    wide_share = f"{100 * wide.counts.active / wide.counts.valid:.1f}%"
    assert any(f"the answer is **{wide_share}**" in m.value for m in (*app.success, *app.info))
    app.button(key="predict-mining-active-share-again").click().run()
    assert not any(m.label == "hard triplets" for m in app.metric)


@pytest.mark.slow
def test_which_run_collapses_is_held_back_until_the_student_predicts_it(shared_data):
    from model.sweep import load_runs

    comparison = mining.run_comparison(load_runs("lessons-cpu"))
    collapsed = mining.collapsed_runs(comparison)
    if collapsed is None:
        pytest.skip("the comparison runs are not all there")
    app = open_page(PAGE, shared_data)
    label = "hardest negatives (batch-hard): loss"
    assert not any(t.get("name") == label for f in figures(app) for t in f["data"])
    assert "**collapsed**" not in page_text(app)
    commit(app, "mining-collapse", "Only the semi-hard run")
    assert any(t.get("name") == label for f in figures(app) for t in f["data"])
    truth = {frozenset({mining.HARDEST_RUN}): "Only the batch-hard run"}[frozenset(collapsed)]
    assert any(f"You predicted **Only the semi-hard run**; the answer is **{truth}**" in m.value for m in app.info)
    text = page_text(app)
    assert "**collapsed**" in text and "not a law of the triplet loss" in text and "Hermans" in text


@pytest.mark.slow
def test_offline_mining_is_held_back_then_shows_the_stale_triplets(shared_data):
    from model.maps import load_explorer_maps

    maps = load_explorer_maps()
    run = maps.runs[mining.OFFLINE_RUN]
    app = open_page(PAGE, shared_data)
    assert "Offline or online?" in page_text(app)
    assert "randomly sampled negative faces added to every mini-batch" in page_text(app)

    def bars():
        return next((f for f in figures(app) if f["layout"].get("barmode") == "stack"
                     and f["data"][0].get("name") == "semi-hard" and "mined" in f["data"][0].get("hovertemplate", "")),
                    None)

    assert bars() is None
    commit(app, "mining-offline-stale", 40.0)

    def rows(now):
        batch = mining.explorer_batch(maps.labels, maps.trained_on, 0)
        return mining.offline_staleness(lambda s: run.embeddings(s)[batch.rows], run.steps, batch.labels, now,
                                        mining.OFFLINE_MARGIN)

    last = int(run.steps[-1])
    expected_rows = rows(last)
    shown = bars()
    assert figure_values(shown["data"][0]["x"]) == pytest.approx([100 * r.share("semi-hard") for r in expected_rows],
                                                                 abs=0.01)
    recent = expected_rows[-2]
    share = f"{100 * recent.share('semi-hard'):.1f}%"
    assert any(f"the answer is **{share}**" in m.value for m in (*app.success, *app.info))
    assert f"**{recent.share('semi-hard'):.0%}** are still semi-hard at step {last}" in page_text(app)

    widget(app, "select_slider", "mining_offline_step").set_value(100).run()
    assert not app.exception
    early = rows(100)
    assert len(figure_values(bars()["data"][0]["x"])) == len(early) == 3
    assert f"**{early[-2].share('semi-hard'):.0%}** are still semi-hard at step 100" in page_text(app)
