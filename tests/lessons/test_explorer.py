"""The explorer's logic on the shipped maps (model/weights/explorer.npz) and run cards: the maps
are consistent with the shipped LFW embeddings, runs are chosen by their cards, neighbours and
clusters are right, selection events are read as Streamlit sends them, and the live run trains."""

import numpy as np
import pytest

from lessons import explorer as ex
from lessons import live_training as live
from model import maps as mp
from model.sweep import load_runs


@pytest.fixture(scope="module")
def maps():
    return mp.load_explorer_maps()


@pytest.fixture(scope="module")
def shipped_card():
    from model.embed import load_model

    return load_model().card


def test_explorer_set_is_the_62_lfw_people_with_at_least_20_photos(maps, shipped_embeddings):
    assert len(maps.names) == 62 and len(maps) == 3023
    assert np.bincount(maps.labels).min() >= 20
    assert 0 < maps.trained_on.sum() < 62  # both seen and never-seen people
    # The shipped map holds exactly the shipped model's embeddings of these photos (up to int8 rounding).
    index = shipped_embeddings.index()
    rows = [index[f] for f in maps.files]
    stored = maps.runs[mp.SHIPPED].embeddings(maps.runs[mp.SHIPPED].steps[-1])
    assert np.abs(stored - shipped_embeddings.embeddings[rows]).max() < 0.01
    assert [shipped_embeddings.names[shipped_embeddings.labels[r]] for r in rows] == [maps.names[l] for l in maps.labels]


def test_int8_storage_moves_squared_distances_by_little(shipped_embeddings):
    e = shipped_embeddings.embeddings[:500]
    back = mp.dequantize(mp.quantize(e))
    d_true = ((e[:, None] - e[None]) ** 2).sum(-1)
    d_back = ((back[:, None] - back[None]) ** 2).sum(-1)
    assert np.abs(d_true - d_back).max() < 0.01
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)


def test_every_run_map_has_a_frame_per_step_and_finite_points(maps):
    for run in maps.runs.values():
        assert run.xy.shape == (len(run.steps), len(maps), 2) and run.xyz.shape[2] == 3
        assert run.codes.shape == (len(run.steps), len(maps), 128 + 4)
        assert np.isfinite(run.xy).all() and np.isfinite(run.xyz).all()


def test_comparison_runs_share_the_untrained_start_and_then_differ(maps):
    runs = [r for n, r in maps.runs.items() if n != mp.SHIPPED]
    if len(runs) < 2:
        pytest.skip("the comparison runs' maps are not built")
    first = runs[0]
    for other in runs[1:]:
        assert np.array_equal(first.codes[0], other.codes[0])  # one untrained network (seed 0)
        assert np.allclose(first.xy[0], other.xy[0])  # one shared layout at step 0
        assert not np.array_equal(first.codes[-1], other.codes[-1])


def test_choices_come_from_the_run_cards(maps, shipped_card):
    runs = load_runs("lessons-cpu")
    found = ex.choices(maps, runs, shipped_card)
    by_run = {c.run: c for c in found}
    assert mp.SHIPPED in by_run and by_run[mp.SHIPPED].margin == shipped_card["hyperparameters"]["margin"]
    for name, choice in by_run.items():
        if name != mp.SHIPPED:
            assert choice.margin == runs[name].margin and choice.mining == runs[name].mining
            assert list(choice.steps) == list(maps.runs[name].steps)
    if "alpha-0.5" in by_run:
        assert ex.pick(found, 0.5, "semi-hard").run == "alpha-0.5"
        assert ex.pick(found, 0.45, "semi-hard").run == "alpha-0.5"  # the nearest margin
        assert ex.margins_for(found, "semi-hard") == sorted(ex.margins_for(found, "semi-hard"))


def test_metrics_at_a_step_come_from_the_card_history():
    card = {"hyperparameters": {"steps": 400}, "metrics": {"view1_devtest_accuracy": 0.8, "view1_devtest_val_at_far_1e-3": 0.05},
            "history": [{"step": 0, "view1_devtest_accuracy": 0.55, "view1_devtest_val_at_far_1e-3": 0.006},
                        {"step": 10, "loss": 0.2, "active_fraction": 0.9},
                        {"step": 50, "loss": 0.1, "active_fraction": 0.5, "view1_devtest_accuracy": 0.7,
                         "view1_devtest_val_at_far_1e-3": 0.02}]}
    at0 = ex.metrics_at(card, 0)
    assert (at0.accuracy, at0.val_at_far, at0.active_fraction, at0.measured_at) == (0.55, 0.006, None, 0)
    at50 = ex.metrics_at(card, 50)
    assert (at50.accuracy, at50.active_fraction, at50.measured_at) == (0.7, 0.5, 50)
    last = ex.metrics_at(card, 400)
    assert (last.accuracy, last.val_at_far, last.measured_at) == (0.8, 0.05, 400)


def test_map_traces_split_seen_and_unseen_and_carry_rows(maps):
    run = maps.runs[mp.SHIPPED]
    step = int(run.steps[-1])
    traces = ex.map_traces(maps, run.points(step, 2), selected=[5, 7], show_names=True)
    seen, unseen = traces[0], traces[1]
    assert len(seen["x"]) == maps.seen.sum() and len(unseen["x"]) == (~maps.seen).sum()
    assert set(seen["customdata"]) | set(unseen["customdata"]) == set(range(len(maps)))
    assert all(maps.seen[r] for r in seen["customdata"]) and not any(maps.seen[r] for r in unseen["customdata"])
    assert seen["marker"]["symbol"] != unseen["marker"]["symbol"]  # not told apart by colour alone
    names = {t["name"]: t for t in traces}
    assert names["Selected"]["customdata"] == [5, 7]
    assert len(names["Names"]["text"]) == 62 and list(names) == [
        "People seen in training", "People never seen in training", "Selected", "Names"]
    row = seen["customdata"][0]
    assert seen["x"][0] == pytest.approx(run.points(step, 2)[row, 0], abs=1e-3)
    three = ex.map_traces(maps, run.points(step, 3))
    assert three[0]["type"] == "scatter3d" and len(three[0]["z"]) == maps.seen.sum()


def test_star_traces_are_one_per_group_in_its_colour():
    extra = [ex.ExtraPoint((0.0, 1.0), "1"), ex.ExtraPoint((2.0, 3.0), "Me", "Enrolled: Me"),
             ex.ExtraPoint((4.0, 5.0), "2")]
    stars = ex.star_traces(extra, 2, {"Enrolled: Me": "#0072B2"})
    assert [t["name"] for t in stars] == ["Your photos", "Enrolled: Me"]
    assert stars[0]["text"] == ["1", "2"] and stars[0]["x"] == [0.0, 4.0] and stars[0]["y"] == [1.0, 5.0]
    assert stars[0]["marker"]["color"] == ex.STAR_COLOUR and stars[1]["marker"]["color"] == "#0072B2"
    assert all(t["type"] == "scatter" and t["marker"]["symbol"] == "star" for t in stars)
    three = ex.star_traces([ex.ExtraPoint((0.0, 1.0, 2.0), "you")], 3)
    assert three[0]["type"] == "scatter3d" and three[0]["z"] == [2.0]
    assert ex.star_traces([], 2) == []


def test_selected_rows_reads_streamlit_selection_state():
    selection = {"points": [{"curve_number": 0, "point_index": 3, "customdata": 17},
                            {"curve_number": 1, "point_index": 0, "customdata": [4]},
                            {"curve_number": 0, "point_index": 3, "customdata": 17},
                            {"curve_number": 3, "point_index": 0}],  # a name label: no row
                 "point_indices": [3, 0, 3, 0], "box": [], "lasso": []}
    assert ex.selected_rows(selection) == [17, 4]
    assert ex.selected_rows(selection, limit=1) == [17]
    assert ex.selected_rows(None) == [] and ex.selected_rows({}) == []


def test_nearest_neighbours_are_sorted_and_exclude_the_photo(maps):
    run = maps.runs[mp.SHIPPED]
    e = run.embeddings(int(run.steps[-1]))
    found = ex.nearest_neighbours(e, maps.labels, 10, k=5)
    assert 10 not in [n.row for n in found]
    assert [n.distance for n in found] == sorted(n.distance for n in found)
    brute = ((e - e[10]) ** 2).sum(1)
    brute[10] = np.inf
    assert found[0].row == int(np.argmin(brute)) and found[0].distance == pytest.approx(brute.min(), abs=1e-5)
    # a trained model puts most photos next to their own person
    same = np.mean([ex.nearest_neighbours(e, maps.labels, r, k=1)[0].same_person for r in range(0, len(maps), 7)])
    assert same > 0.6


def test_threshold_at_far_accepts_at_most_one_in_a_thousand_different_pairs(maps):
    from model.evaluate import all_pairs, pair_distances

    run = maps.runs[mp.SHIPPED]
    e = run.embeddings(int(run.steps[-1]))
    unseen = np.flatnonzero(~maps.seen)
    threshold, val = ex.threshold_at_far(e, maps.labels, unseen)
    left, right, same = all_pairs(maps.labels[unseen])
    d = pair_distances(e[unseen], left, right)
    assert ((d <= threshold) & ~same).sum() / (~same).sum() <= 1e-3
    assert val == pytest.approx(((d <= threshold) & same).sum() / same.sum())


@pytest.mark.slow
def test_clusters_match_people_better_for_the_trained_model_than_for_the_untrained_one(maps):
    run = maps.runs[mp.SHIPPED]
    e = run.embeddings(int(run.steps[-1]))
    tree = ex.cluster_tree(e, "average")
    few = ex.clusters_at(tree, 3.9)
    many = ex.clusters_at(tree, 0.01)
    assert few.max() + 1 < many.max() + 1  # a higher threshold merges more
    assert np.bincount(few)[0] == np.bincount(few).max()  # cluster 0 is the largest
    best = max(ex.cluster_scores(ex.clusters_at(tree, t), maps.labels).adjusted_rand for t in (0.3, 0.6, 0.9, 1.2))
    assert best > 0.2
    # Perfect clusters score 1 everywhere; one cluster per photo has no pairs together.
    perfect = ex.cluster_scores(maps.labels.copy(), maps.labels)
    assert perfect.adjusted_rand == pytest.approx(1.0) and perfect.pair_precision == 1.0 and perfect.pair_recall == 1.0
    singles = ex.cluster_scores(np.arange(len(maps)), maps.labels)
    assert singles.pair_recall == 0.0 and singles.singletons == len(maps)
    untrained = [r for n, r in maps.runs.items() if n != mp.SHIPPED]
    if untrained:
        e0 = untrained[0].embeddings(0)
        tree0 = ex.cluster_tree(e0, "average")
        best0 = max(ex.cluster_scores(ex.clusters_at(tree0, t), maps.labels).adjusted_rand for t in (0.3, 0.6, 0.9, 1.2))
        assert best0 < best


def test_cluster_table_names_the_main_person(maps):
    table = ex.cluster_table(maps.labels.copy(), maps.labels, maps.names, top=3)
    assert all(row["share of that person"] == 1.0 and row["of their photos"] == 1.0 for row in table)


def test_place_on_map_puts_a_known_photo_next_to_itself(maps):
    run = maps.runs[mp.SHIPPED]
    step = int(run.steps[-1])
    e, xy = run.embeddings(step), run.points(step, 2)
    placed = mp.place_on_map(e[[3, 100]], e, xy)
    spread = xy.std(axis=0).mean()
    assert np.linalg.norm(placed - xy[[3, 100]], axis=1).max() < 0.5 * spread


@pytest.mark.slow
def test_live_run_trains_and_the_held_out_people_separate(shared_data):
    from model.data import load_olivetti

    live_set = live.olivetti_set(load_olivetti(shared_data))
    assert live_set.images.shape == (400, live.LIVE_INPUT_SIZE, live.LIVE_INPUT_SIZE, 3)
    assert live_set.held_out.sum() == 10
    updates = list(live.live_run(live_set, 0.2, "semi-hard", steps=120, update_every=40))
    assert [u.step for u in updates] == [0, 40, 80, 120] and updates[-1].done
    assert all(u.points.shape == (400, 2) and np.isfinite(u.points).all() for u in updates)
    first, last = updates[0].held_out_accuracy[0][1], updates[-1].held_out_accuracy[-1][1]
    assert last > first  # people it never trained on are told apart better after training
    assert updates[-1].curve[-1]["loss"] < updates[-1].curve[0]["loss"]


def test_lfw_live_set_holds_out_every_third_person(lfw):
    live_set = live.lfw_set(lfw)
    assert len(live_set.names) == live.LFW_PEOPLE
    assert np.bincount(live_set.labels).max() <= live.LFW_PHOTOS_EACH
    assert live_set.held_out.sum() == live.LFW_PEOPLE // 3
    assert "George_W_Bush" in live_set.names


@pytest.mark.slow
def test_maps_keep_each_photos_neighbours(maps):
    """Trustworthiness (scikit-learn): 1 when a photo's nearest neighbours on the map are its nearest
    in the embedding too. It also proves the map's rows are the embeddings' rows."""
    from sklearn.manifold import trustworthiness

    rows = np.arange(0, len(maps), 3)
    for name, run in maps.runs.items():
        if name == "hardest-negatives":  # collapsed: nearly one point, its neighbours are noise
            continue
        step = int(run.steps[-1])
        e = run.embeddings(step)[rows]
        for dims in (2, 3):
            score = trustworthiness(e, run.points(step, dims)[rows], n_neighbors=10)
            assert score > 0.85, (name, dims, score)
        shuffled = run.points(step, 2)[rows][np.random.default_rng(0).permutation(len(rows))]
        assert trustworthiness(e, shuffled, n_neighbors=10) < 0.6


def test_maps_glide_from_step_to_step(maps):
    """Consecutive frames of a run stay in register (each fit starts from the one before): after the
    first 50 steps, photos typically move much less from one snapshot to the next than between the
    first and the last."""
    runs = [r for n, r in maps.runs.items() if n != mp.SHIPPED and n != "hardest-negatives"]
    if not runs:
        pytest.skip("the comparison runs' maps are not built")
    for run in runs:
        spread = run.xy[-1].std()
        steps_apart = [np.linalg.norm(run.xy[t + 1] - run.xy[t], axis=1).mean() / spread for t in range(1, len(run.steps) - 1)]
        assert np.median(steps_apart) < 0.75 * np.linalg.norm(run.xy[-1] - run.xy[0], axis=1).mean() / spread


def test_cluster_curve_counts_clusters_and_scores_them_like_scikit_learn(maps):
    from sklearn.metrics import adjusted_rand_score

    run = maps.runs[mp.SHIPPED]
    tree = ex.cluster_tree(run.embeddings(int(run.steps[-1])), "average")
    thresholds = np.array([0.2, 0.9, 1.7])
    curve = ex.cluster_curve(tree, maps.labels, thresholds)
    for t, count, ari in zip(thresholds, curve["clusters"], curve["adjusted_rand"]):
        found = ex.clusters_at(tree, t)
        assert count == found.max() + 1
        assert ari == pytest.approx(adjusted_rand_score(maps.labels, found), abs=1e-9)


# --------------------------------------------------------------------------------------------
# How faithful the map is: neighbours kept from 128-D to the map
# --------------------------------------------------------------------------------------------


def neighbours_by_sorting(x: np.ndarray, row: int, k: int) -> tuple[set, bool]:
    """The k nearest other rows of `row`, by sorting every squared distance in float64, and whether
    that set is unambiguous (no tie at the k-th distance)."""
    d = ((x.astype(np.float64) - x[row].astype(np.float64)) ** 2).sum(axis=1)
    d[row] = np.inf
    order = np.argsort(d, kind="stable")
    return set(order[:k].tolist()), bool(d[order[k]] - d[order[k - 1]] > 1e-6)


def test_neighbour_overlap_counts_shared_neighbours_photo_by_photo(maps):
    run = maps.runs["alpha-0.2"]
    e, xy = run.embeddings(400), run.points(400, 2)
    overlap = ex.neighbour_overlap(e, xy)
    assert overlap.shape == (len(maps),) and overlap.min() >= 0 and overlap.max() <= ex.NEIGHBOURS
    checked = 0
    for row in range(0, len(maps), 97):
        high, clear_high = neighbours_by_sorting(e, row, ex.NEIGHBOURS)
        low, clear_low = neighbours_by_sorting(xy, row, ex.NEIGHBOURS)
        if clear_high and clear_low:
            assert overlap[row] == len(high & low), row
            checked += 1
    assert checked >= 25


def test_a_faithful_map_keeps_every_neighbour_and_a_shuffled_one_about_none():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(800, 3))
    padded = np.c_[points, np.zeros((800, 5))]  # the same geometry in 8-D: the other code path
    assert (ex.neighbour_overlap(padded, points) == ex.NEIGHBOURS).all()
    assert (ex.neighbour_overlap(padded, points[:, :2]) < ex.NEIGHBOURS).any()  # a 2-D shadow loses some
    shuffled = points[rng.permutation(800)]
    assert ex.neighbour_overlap(padded, shuffled).mean() < 3 * ex.chance_overlap(800)
    assert ex.chance_overlap(3023) == pytest.approx(100 / 3022)


@pytest.mark.slow
def test_the_maps_keep_only_part_of_each_photos_neighbourhood(maps):
    """The page's lesson: at the last step of every run, a 2-D map keeps well under 10 of each
    photo's 10 nearest neighbours on average, yet far more than a random map; the 3-D map keeps more."""
    for name, run in maps.runs.items():
        kept = ex.faithfulness(run, int(run.steps[-1]))
        assert kept.histogram(2).sum() == len(maps) == kept.histogram(3).sum()
        assert kept.mean(2) == pytest.approx((np.arange(11) * kept.histogram(2)).sum() / len(maps))
        assert 30 * kept.chance < kept.mean(2) < 0.7 * kept.k, (name, kept.mean(2))
        assert kept.mean(3) > kept.mean(2), name
        assert kept.histogram(2)[0] > 0  # some photos keep none of their neighbours on the map
    # per step: a run's snapshots give different counts (the page's curve along training)
    run = maps.runs["alpha-0.2"]
    means = [ex.faithfulness(run, int(s)).mean(2) for s in run.steps[:3]]
    assert len(set(np.round(means, 3))) == 3


# --------------------------------------------------------------------------------------------
# A classifier must name someone; a distance with a threshold can say "unknown"
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_name", [mp.SHIPPED, "alpha-0.2"])
def test_the_classifier_names_every_stranger_and_the_threshold_does_not(maps, run_name):
    run = maps.runs[run_name]
    e = run.embeddings(int(run.steps[-1]))
    threshold, _ = ex.threshold_at_far(e, maps.labels, np.flatnonzero(~maps.seen))
    c = ex.classifier_vs_threshold(e, maps.labels, 20, threshold)
    known = set(ex.people_order(maps.labels)[:20].tolist())
    assert set(c.known_people.tolist()) == known
    # the enrolled photos are the first 10 of each known person, in file order; every other photo is a probe
    for person in known:
        rows = np.flatnonzero(maps.labels == person)
        assert set(c.enrolled_rows[maps.labels[c.enrolled_rows] == person].tolist()) == set(rows[:10].tolist())
    assert len(c.enrolled_rows) + len(c.probe_rows) == len(maps)
    assert not set(c.enrolled_rows.tolist()) & set(c.probe_rows.tolist())
    assert np.array_equal(c.is_known, np.isin(maps.labels[c.probe_rows], list(known)))
    assert c.strangers == int((~np.isin(maps.labels, list(known))).sum())
    # the classifier's answer is always one of its people: every stranger gets a name
    assert set(np.unique(c.classifier).tolist()) <= known
    assert c.strangers_named("classifier") == 1.0 and c.known("classifier", "unknown") == 0.0
    # the threshold answers "unknown" to most strangers
    assert c.strangers_named("threshold") < 0.3
    assert set(np.unique(c.by_threshold).tolist()) <= known | {ex.UNKNOWN}
    # each threshold answer, brute force: the nearest enrolled photo's person if within the threshold
    for i in range(0, len(c.probe_rows), 53):
        d = ((e[c.enrolled_rows].astype(np.float64) - e[c.probe_rows[i]].astype(np.float64)) ** 2).sum(axis=1)
        nearest = int(np.argmin(d))
        want = int(maps.labels[c.enrolled_rows[nearest]]) if d[nearest] <= threshold else ex.UNKNOWN
        if abs(d[nearest] - threshold) > 1e-6:
            assert c.by_threshold[i] == want, i
    for by in ("classifier", "threshold"):
        shares = [c.known(by, what) for what in ("right", "wrong", "unknown")]
        assert sum(shares) == pytest.approx(1.0)

