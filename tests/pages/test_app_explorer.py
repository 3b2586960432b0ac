"""The explorer page driven like a browser would (AppTest): every control changes the map's data,
a selection on the map shows the right people and their neighbours, and the live run updates and
ends. The page-wide promises (goal, quiz, no data, corrupt checkpoint) are in test_app_pages.py."""

import json
import re

import numpy as np
import pytest

from tests.helpers import figure_values, figures, open_page, page_text
from model import maps as mp

pytestmark = pytest.mark.usefixtures("fresh_caches")
PAGE = "pages/explorer.py"


@pytest.fixture(scope="module")
def maps():
    return mp.load_explorer_maps()


def the_map(app) -> dict:
    """The explorer map: the figure whose first trace holds the seen people's photos."""
    return next(f for f in figures(app) if f["data"] and str(f["data"][0].get("name", "")).startswith("People seen"))


def photo_positions(fig: dict) -> dict[int, tuple]:
    """Explorer row -> its position on the map, over the seen and never-seen traces."""
    out = {}
    for trace in fig["data"][:2]:
        xs, ys = figure_values(trace["x"]), figure_values(trace["y"])
        zs = figure_values(trace["z"]) if "z" in trace else [None] * len(xs)
        for row, x, y, z in zip(trace["customdata"], xs, ys, zs):
            out[int(row)] = (x, y, z)
    return out


def has_runs(maps) -> bool:
    return any(name != mp.SHIPPED for name in maps.runs)


def select_on_map(app, rows: list[int]):
    """Send the selection Streamlit's Plotly chart sends when the user clicks these photos (AppTest
    has no API for chart selections, so the widget state is built the way the frontend builds it)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chart = next(c for c in app.get("plotly_chart") if json.loads(c.proto.spec)["data"][0].get("name", "").startswith("People seen"))
    selection = {"selection": {"points": [{"curve_number": 0, "point_index": i, "customdata": r} for i, r in enumerate(rows)],
                               "point_indices": list(range(len(rows))), "box": [], "lasso": []}}
    states = app._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    app._run(states)
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.slow
def test_the_map_shows_every_explorer_photo_with_the_run_metrics(shared_data, maps):
    app = open_page(PAGE, shared_data)
    fig = the_map(app)
    assert len(photo_positions(fig)) == len(maps)
    text = page_text(app)
    assert "VAL at FAR = 1e-3" in text and "Active triplets" in text and "Threshold at FAR = 1e-3" in text
    if has_runs(maps):
        assert "These are CPU runs" in text


@pytest.mark.slow
def test_step_alpha_mining_and_model_each_move_the_map(shared_data, maps):
    if not has_runs(maps):
        pytest.skip("the comparison runs' maps are not built")
    app = open_page(PAGE, shared_data)
    before = photo_positions(the_map(app))
    app.select_slider(key="step").set_value(100).run()
    at_100 = photo_positions(the_map(app))
    run = maps.runs["alpha-0.2"]
    assert at_100[0][0] == pytest.approx(run.points(100)[0, 0], abs=1e-3)
    assert at_100 != before
    app.select_slider(key="alpha").set_value(1.0).run()
    alpha_1 = photo_positions(the_map(app))
    assert alpha_1[0][0] == pytest.approx(maps.runs["alpha-1.0"].points(100)[0, 0], abs=1e-3)
    app.selectbox(key="mining").set_value("hard").run()
    assert app.select_slider(key="alpha").value == 0.2  # the only margin the other minings were run at
    hard = photo_positions(the_map(app))
    assert hard[0][0] == pytest.approx(maps.runs["hardest-negatives"].points(100)[0, 0], abs=1e-3)
    app.button_group(key="model").set_value("shipped").run()
    shipped = photo_positions(the_map(app))
    assert shipped[0][0] == pytest.approx(maps.runs[mp.SHIPPED].points(int(maps.runs[mp.SHIPPED].steps[-1]))[0, 0], abs=1e-3)
    assert not app.exception


@pytest.mark.slow
def test_3d_view_colour_by_cluster_and_names(shared_data, maps):
    app = open_page(PAGE, shared_data)
    app.button_group(key="view").set_value("3-D").run()
    fig = the_map(app)
    assert fig["data"][0]["type"] == "scatter3d" and "z" in fig["data"][0]
    colours_by_person = the_map(app)["data"][0]["marker"]["color"]
    app.button_group(key="colour").set_value("cluster").run()
    colours_by_cluster = the_map(app)["data"][0]["marker"]["color"]
    assert colours_by_cluster != colours_by_person
    assert "clusters at" in the_map(app)["layout"]["title"]["text"]
    app.toggle(key="names").set_value(True).run()
    names = next(t for t in the_map(app)["data"] if t.get("name") == "Names")
    assert len(names["text"]) == 62


@pytest.mark.slow
def test_the_merge_threshold_and_linkage_change_the_clusters(shared_data):
    app = open_page(PAGE, shared_data)

    def clusters() -> int:
        return int(next(m for m in app.metric if m.label == "Clusters").value.replace(",", ""))

    app.slider(key="cut").set_value(0.2).run()
    tight = clusters()
    app.slider(key="cut").set_value(1.5).run()
    loose = clusters()
    assert loose < tight
    app.radio(key="linkage").set_value("single").run()
    assert clusters() != loose
    count_chart = next(f for f in figures(app) if f["layout"]["title"]["text"] == "Clusters against the threshold")
    assert count_chart["layout"]["shapes"][0]["x0"] == 1.5


@pytest.mark.slow
def test_selecting_photos_on_the_map_shows_those_people_and_their_neighbours(shared_data, maps):
    app = open_page(PAGE, shared_data)
    rows = [int(np.flatnonzero(maps.labels == maps.names.index("Colin_Powell"))[0]),
            int(np.flatnonzero(maps.labels == maps.names.index("Serena_Williams"))[0])]
    select_on_map(app, rows)
    text = page_text(app)
    assert "**Colin Powell**" in text and "**Serena Williams**" in text
    assert "Nothing selected yet" not in text
    assert sum(len(e.proto.imgs) for e in app.get("image")) == 2 * 6  # each selected face and five neighbours
    # The two selected photos: their distance against this step's threshold, and the verdict.
    assert "squared distance" in text and ("two different people" in text or "the same person" in text)
    selected = next(t for t in the_map(app)["data"] if t.get("name") == "Selected")
    assert selected["customdata"] == rows
    # The selection outlives a change of step; "Clear selection" empties it.
    if has_runs(maps):
        app.select_slider(key="step").set_value(200).run()
        assert "**Colin Powell**" in page_text(app)
    app.button(key="clear_selection").click().run()
    assert "Nothing selected yet" in page_text(app)


@pytest.mark.slow
def test_picking_people_by_name_selects_their_first_photo(shared_data, maps):
    app = open_page(PAGE, shared_data)
    app.multiselect(key="pick_people").set_value(["Ariel_Sharon"]).run()
    selected = next(t for t in the_map(app)["data"] if t.get("name") == "Selected")
    assert selected["customdata"] == [int(np.flatnonzero(maps.labels == maps.names.index("Ariel_Sharon"))[0])]


@pytest.mark.slow
def test_without_photos_the_map_still_shows_names(no_data, maps):
    app = open_page(PAGE, no_data)
    assert len(photo_positions(the_map(app))) == len(maps)
    app.multiselect(key="pick_people").set_value(["Ariel_Sharon"]).run()
    text = page_text(app)
    assert "**Ariel Sharon**" in text and "d² =" in text
    assert "needs the LFW photos" in text and not app.get("image")


@pytest.mark.slow
def test_the_live_run_updates_and_ends(shared_data, monkeypatch):
    from lessons import live_training

    monkeypatch.setattr(live_training, "LIVE_STEPS", 40)
    app = open_page(PAGE, shared_data)
    app.button(key="live_start").click().run(timeout=300)
    assert not app.exception
    text = page_text(app)
    last = app.session_state["live_last"]
    assert last.done and last.step == 40 and len(last.held_out_accuracy) == 5  # step 0 and every 10 steps
    live_maps = [f for f in figures(app) if f["layout"]["title"]["text"].startswith("Live map")]
    assert live_maps and "step 40 of 40" in live_maps[0]["layout"]["title"]["text"]
    assert app.button(key="live_stop").disabled and not app.button(key="live_start").disabled
    assert any("Finished: 40 steps" in str(p.proto.text) for p in app.get("progress"))
    assert "Traceback" not in text


@pytest.mark.slow
def test_the_map_glides_through_every_step_in_the_browser(shared_data, maps):
    """The 2-D map carries one animation frame per snapshot (the browser glides between them), with
    the positions of that step, and its slider starts at the page's step."""
    if not has_runs(maps):
        pytest.skip("the comparison runs' maps are not built")
    app = open_page(PAGE, shared_data)
    app.select_slider(key="step").set_value(150).run()
    fig = the_map(app)
    run = maps.runs["alpha-0.2"]
    assert [f["name"] for f in fig["frames"]] == [str(s) for s in run.steps]
    seen_rows = fig["data"][0]["customdata"]
    for frame, step in zip(fig["frames"], run.steps):
        assert figure_values(frame["data"][0]["x"])[5] == pytest.approx(run.points(int(step))[seen_rows[5], 0], abs=1e-3)
    assert fig["layout"]["sliders"][0]["active"] == list(run.steps).index(150)
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["args"][0] == [str(s) for s in run.steps]
    app.button_group(key="view").set_value("3-D").run()
    assert not the_map(app).get("frames")  # 3-D maps do not glide


def commit(app, key: str, guess: float):
    """Lock in the number `guess` for the prediction `key`."""
    app.slider(key=f"predict-{key}-guess").set_value(guess).run()
    app.button(key=f"predict-{key}-lock").click().run()
    assert not app.exception, [e.value for e in app.exception]


def metric_value(app, label: str) -> str:
    found = [m.value for m in app.metric if m.label == label]
    assert found, f"no metric {label!r}"
    return found[0]


@pytest.mark.slow
def test_the_maps_faithfulness_is_held_back_then_counted(shared_data, maps):
    from lessons import explorer as ex

    app = open_page(PAGE, shared_data)
    assert not [m for m in app.metric if m.label.startswith("Neighbours kept")]
    assert "keeps on average" not in page_text(app)
    commit(app, "explorer-neighbours", 9.0)
    run = maps.runs["alpha-0.2"] if has_runs(maps) else maps.runs[mp.SHIPPED]
    kept = ex.faithfulness(run, int(run.steps[-1]))
    assert any(f"You predicted **9.0 of 10**; the answer is **{kept.mean(2):.1f} of 10**" in i.value for i in app.info)
    assert metric_value(app, "Neighbours kept, 2-D map") == f"{kept.mean(2):.1f} of 10"
    assert metric_value(app, "Neighbours kept, 3-D map") == f"{kept.mean(3):.1f} of 10"
    assert f"**{kept.mean(2):.1f} of its 10** nearest neighbours" in page_text(app)
    hist = next(f for f in figures(app) if f["layout"]["title"]["text"].startswith("Photos by neighbours kept"))
    assert hist["data"][0]["y"] == kept.histogram(2).tolist()
    if has_runs(maps):
        app.toggle(key="faithful_steps").set_value(True).run()
        curve = next(f for f in figures(app) if f["layout"]["title"]["text"] == "Neighbours kept along training")
        assert curve["data"][0]["x"] == [int(s) for s in run.steps]
        assert curve["data"][0]["y"][2] == pytest.approx(ex.faithfulness(run, int(run.steps[2])).mean(2), abs=1e-3)
        app.select_slider(key="step").set_value(100).run()
        assert metric_value(app, "Neighbours kept, 2-D map") == f"{ex.faithfulness(run, 100).mean(2):.1f} of 10"


@pytest.mark.slow
def test_the_classifier_names_every_stranger_the_threshold_does_not(shared_data, maps):
    from lessons import explorer as ex

    app = open_page(PAGE, shared_data)
    assert not [m for m in app.metric if m.label.startswith("Strangers named")]
    commit(app, "explorer-classifier", 0.4)
    assert any("You predicted **40%**; the answer is **100%**" in i.value for i in app.info)
    run = maps.runs["alpha-0.2"] if has_runs(maps) else maps.runs[mp.SHIPPED]
    e = run.embeddings(int(run.steps[-1]))
    threshold, _ = ex.threshold_at_far(e, maps.labels, np.flatnonzero(~maps.seen))
    for known in (20, 5):
        app.select_slider(key="clf_known").set_value(known).run()
        c = ex.classifier_vs_threshold(e, maps.labels, known, threshold)
        assert metric_value(app, "Strangers named, classifier") == "100%"
        assert metric_value(app, "Strangers named, threshold") == f"{c.strangers_named('threshold'):.0%}"
        assert metric_value(app, "Known named right, classifier") == f"{c.known('classifier', 'right'):.0%}"
        assert re.search(rf"of the {c.strangers:,} strangers' photos as one of its\s+{known} people", page_text(app))
        bars = next(f for f in figures(app) if f["layout"]["title"]["text"] == "The same photos, two ways of answering")
        stranger_named = next(t for t in bars["data"] if t["name"] == "named as someone else" and t["xaxis"] == "x2")
        assert stranger_named["y"] == [1.0, pytest.approx(c.strangers_named("threshold"))]
