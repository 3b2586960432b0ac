"""Lesson 2, the margin alpha: lessons/margin.py against brute-force counts and the training code,
with 0 to 5 trained runs. The page: tests/pages/test_margin.py."""

import json

import numpy as np
import pytest
import torch

from lessons import margin as lesson
from lessons import mining, noise
from model import sweep, triplet


pytestmark = pytest.mark.usefixtures("fresh_caches")


def brute_force(embeddings: np.ndarray, labels: np.ndarray):
    """(d_ap, d_an) of every valid triplet, listed with plain loops and numpy."""
    e = np.asarray(embeddings, dtype=np.float64)
    d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    ap, an = [], []
    for a in range(len(e)):
        for p in range(len(e)):
            if p == a or labels[p] != labels[a]:
                continue
            for n in range(len(e)):
                if labels[n] != labels[a]:
                    ap.append(d[a, p])
                    an.append(d[a, n])
    return np.array(ap), np.array(an)


@pytest.fixture(scope="module")
def real_batch(shipped_embeddings):
    rows = draw_rows(shipped_embeddings, 6, 3, seed=2)
    e = shipped_embeddings.embeddings[rows].astype(np.float64)
    return e, shipped_embeddings.labels[rows]


# --------------------------------------------------------------------------------------------
# The rings
# --------------------------------------------------------------------------------------------


def test_region_boundaries_agree_with_classify_triplets():
    # Distances given outright: anchor 0, positive 1 (d_ap = 0.5), negatives 2.. at chosen distances
    d_an = [0.25, 0.5, 0.625, 0.75, 1.0, 3.0]  # below, AT d_ap, inside, AT d_ap + alpha, beyond, far
    size = 2 + len(d_an)
    d = torch.zeros(size, size, dtype=torch.float64)
    d[0, 1] = d[1, 0] = 0.5
    for i, value in enumerate(d_an, start=2):
        d[0, i] = d[i, 0] = value
    labels = np.array([0, 0] + list(range(1, len(d_an) + 1)))
    view = lesson.anchor_view(d, labels, 0, 1, margin=0.25)
    names = [triplet.KIND_NAMES[k] for k in view.kinds]
    # exactly at d_ap: hard (not semi-hard); exactly at d_ap + alpha: easy (not semi-hard)
    assert names == ["hard", "hard", "semi-hard", "easy", "easy", "easy"]
    expected = triplet.classify_triplets(torch.tensor(0.5), torch.tensor(d_an, dtype=torch.float64), 0.25)
    assert np.array_equal(view.kinds, expected.numpy())
    assert view.counts == {"hard": 2, "semi-hard": 1, "easy": 3}
    assert view.boundaries == (0.5, 0.75) and view.radii == pytest.approx((np.sqrt(0.5), np.sqrt(0.75)))
    np.testing.assert_allclose(view.terms, [0.5, 0.25, 0.125, 0.0, 0.0, 0.0])
    # the active ones are exactly the hard and semi-hard ones
    assert np.array_equal(view.terms > 0, view.kinds != triplet.EASY)


def test_with_no_margin_the_semi_hard_ring_is_empty(real_batch):
    e, labels = real_batch
    d = lesson.batch_distances(e)
    for anchor in range(0, len(e), 3):
        view = lesson.anchor_view(d, labels, anchor, anchor + 1, margin=0.0)
        assert view.counts["semi-hard"] == 0
        assert view.counts["hard"] == int(np.sum(view.d_an <= view.d_ap))


def test_anchor_view_on_a_real_batch_matches_numpy(real_batch):
    e, labels = real_batch
    view = lesson.anchor_view(lesson.batch_distances(e), labels, 3, 5, margin=0.4)
    assert view.d_ap == pytest.approx(np.sum((e[3] - e[5]) ** 2))
    np.testing.assert_allclose(view.d_an, np.sum((e[view.negatives] - e[3]) ** 2, axis=1), atol=1e-12)
    assert set(view.negatives) == set(np.flatnonzero(labels != labels[3]))
    rule = np.where(view.d_an <= view.d_ap, 0, np.where(view.d_an < view.d_ap + 0.4, 1, 2))
    assert np.array_equal(view.kinds, rule)
    with pytest.raises(ValueError):
        lesson.anchor_view(lesson.batch_distances(e), labels, 3, 7, margin=0.4)  # 7 is somebody else


def test_flat_positions_keep_each_true_distance(real_batch):
    e, labels = real_batch
    d = lesson.batch_distances(e)
    others = np.arange(1, len(e))
    flat = lesson.flat_positions(e, 0, others, d[0, 1:].numpy())
    np.testing.assert_allclose(np.sum(flat ** 2, axis=1), d[0, 1:].numpy(), atol=1e-12)


def draw_rows(emb, people, photos, seed):
    """The page's batch: P people with K distinct photos each, drawn from everyone (lesson 3's draw)."""
    return mining.draw_batch(emb.labels, emb.trained_on, people, photos, seed, unseen=None).rows


def test_draw_batch_is_p_people_with_k_distinct_photos_each(shipped_embeddings):
    labels = shipped_embeddings.labels
    rows = draw_rows(shipped_embeddings, 8, 5, seed=4)
    assert len(rows) == 40 and len(set(rows)) == 40
    people = labels[rows].reshape(8, 5)
    assert np.all(people == people[:, :1]) and len(set(people[:, 0])) == 8
    assert np.array_equal(rows, draw_rows(shipped_embeddings, 8, 5, seed=4))
    assert not np.array_equal(rows, draw_rows(shipped_embeddings, 8, 5, seed=5))


# --------------------------------------------------------------------------------------------
# The whole batch over the margin
# --------------------------------------------------------------------------------------------


def test_active_curve_matches_brute_force_counts_and_batch_all_loss(real_batch):
    e, labels = real_batch
    d_ap, d_an = brute_force(e, labels)
    alphas = lesson.alpha_grid(5.0, 0.25)
    curve = lesson.active_curve(lesson.batch_distances(e), labels, alphas)
    assert curve.valid == len(d_ap) == 6 * 3 * 2 * 5 * 3  # P K (K-1) (P-1) K
    for i, alpha in enumerate(alphas):
        terms = np.maximum(d_ap - d_an + alpha, 0)
        active = terms > 0
        assert curve.active_fraction[i] == pytest.approx(active.mean())
        assert curve.hard_fraction[i] == pytest.approx(np.mean(d_an <= d_ap))
        assert curve.batch_all_loss[i] == pytest.approx(terms[active].mean() if active.any() else 0.0)
    assert np.all(np.diff(curve.active_fraction) >= 0)  # monotone in alpha
    assert curve.active_fraction[0] < 0.5 and curve.active_fraction[-1] == 1.0


def test_the_curve_margins_cover_0_to_5_with_facenets_and_the_sphere_bound():
    alphas = lesson.curve_alphas()
    assert alphas[0] == 0 and alphas[-1] == 5 and np.all(np.diff(alphas) > 0)
    assert 0.2 in alphas and 4.0 in alphas and np.all(np.diff(alphas[alphas <= 2]) == pytest.approx(0.05))


def test_alpha_zero_counts_only_the_hard_triplets(real_batch):
    e, labels = real_batch
    d_ap, d_an = brute_force(e, labels)
    counts = lesson.batch_counts(lesson.batch_distances(e), labels, 0.0)
    assert counts.semi_hard == 0
    assert counts.active == int(np.sum(d_an < d_ap)) and counts.hard == int(np.sum(d_an <= d_ap))


@pytest.mark.parametrize("dim", [2, 3, 128])
def test_every_triplet_is_active_beyond_four_on_unit_vectors(dim):
    rng = np.random.default_rng(dim)
    e = rng.normal(size=(24, dim))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    labels = np.repeat(np.arange(6), 4)
    d = lesson.batch_distances(e)
    assert float(d.max()) <= 4.0 + 1e-12
    for alpha in (4.0, 4.001, 5.0, 10.0):
        counts = lesson.batch_counts(d, labels, alpha)
        assert counts.active == counts.valid and counts.active_fraction == 1.0
    assert lesson.batch_counts(d, labels, 0.5).active_fraction < 1.0


def test_at_exactly_four_only_the_impossible_extreme_escapes():
    # positive on the anchor, negative exactly opposite: d_ap = 0, d_an = 4, term [0 - 4 + 4]_+ = 0
    e = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    labels = np.array([0, 0, 1, 1])
    d = lesson.batch_distances(e)
    assert float(d[0, 2]) == 4.0 and float(d[0, 1]) == 0.0
    assert lesson.batch_counts(d, labels, 4.0).active == 0
    assert lesson.batch_counts(d, labels, 4.0001).active == lesson.batch_counts(d, labels, 4.0001).valid == 8


def test_real_lfw_batch_is_all_active_at_four_and_the_gradient_stops_depending_on_alpha(shipped_embeddings):
    rows = draw_rows(shipped_embeddings, 8, 4, seed=0)
    e = torch.tensor(shipped_embeddings.embeddings[rows], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor(shipped_embeddings.labels[rows])
    assert lesson.batch_counts(lesson.batch_distances(e.detach().numpy()), labels.numpy(), 4.0).active_fraction == 1.0
    grads = []
    for alpha in (4.5, 9.0):
        e.grad = None
        triplet.batch_all_loss(triplet.squared_distances(e), labels, alpha)[0].backward()
        grads.append(e.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])  # alpha only adds a constant once everything is active


# --------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------


def a_card(margin: float, accuracy: float) -> dict:
    """A run card shaped as model.train writes it (the fields this page reads)."""
    history = [{"step": 0, "view1_devtest_accuracy": 0.55}]
    history += [{"step": s, "loss": margin / (1 + s / 100), "active_fraction": 0.9 - s / 1000} for s in (10, 20, 30)]
    history.append({"step": 40, "loss": margin / 1.4, "active_fraction": 0.86, "view1_devtest_accuracy": accuracy})
    return {"hyperparameters": {"margin": margin, "steps": 40}, "wall_time_s": 12.5, "history": history,
            "metrics": {"view1_devtest_accuracy": accuracy, "view1_devtest_accuracy_standard_error": 0.01,
                        "view1_devtest_val_at_far_1e-3": 0.02}}


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty shipped-runs folder that the lesson and the page read instead of the real one."""
    monkeypatch.setattr(sweep, "SHIPPED_RUNS", tmp_path / "shipped")
    folder = tmp_path / "shipped" / lesson.PLAN
    folder.mkdir(parents=True)
    return folder


def write_runs(folder, names):
    for i, name in enumerate(names):
        (folder / f"{name}.json").write_text(json.dumps(a_card(lesson.ALPHA_RUNS[name], 0.7 + i / 100)))


@pytest.mark.parametrize("count", [0, 1, 3, 5])
def test_alpha_runs_lists_what_exists_and_what_does_not(runs_dir, count):
    names = list(lesson.ALPHA_RUNS)[:count]
    write_runs(runs_dir, names)
    runs = lesson.alpha_runs()
    assert [r.name for r in runs] == list(lesson.ALPHA_RUNS)
    assert [r.name for r in runs if r.trained] == names
    for i, run in enumerate(r for r in runs if r.trained):
        row = lesson.final_metrics(run)
        assert row["alpha"] == lesson.ALPHA_RUNS[run.name] and row["steps"] == 40
        assert row["pairsDevTest accuracy"] == f"{0.7 + i / 100:.1%} ± 1.0%"
        assert row["final loss"] == pytest.approx(lesson.ALPHA_RUNS[run.name] / 1.4)
        assert row["final active share"] == 0.86


def test_runs_stamp_changes_when_a_run_appears(runs_dir):
    before = sweep.runs_stamp(lesson.PLAN)
    write_runs(runs_dir, ["alpha-0.5"])
    assert sweep.runs_stamp(lesson.PLAN) != before


def test_the_plan_margins_are_the_ones_the_lesson_names():
    plan = sweep.PLANS[lesson.PLAN]
    for name, margin in lesson.ALPHA_RUNS.items():
        assert plan[name].get("margin", sweep.LESSONS_CPU_BASE["margin"]) == margin


def test_a_real_shipped_run_reads_if_there_is_one():
    real = sweep.load_runs(lesson.PLAN)
    for run in lesson.alpha_runs():
        assert run.trained == (run.name in real)
        if run.trained:
            steps, values = run.run.curve("view1_devtest_accuracy")
            assert steps == sorted(steps) and all(0 <= v <= 1 for v in values)


# --------------------------------------------------------------------------------------------
# Which margin ended ahead: the course's tie rule (lessons.noise)
# --------------------------------------------------------------------------------------------


def write_accuracies(folder, accuracies: dict[str, tuple[float, float]]):
    for name, (accuracy, error) in accuracies.items():
        card = a_card(lesson.ALPHA_RUNS[name], accuracy)
        card["metrics"]["view1_devtest_accuracy_standard_error"] = error
        (folder / f"{name}.json").write_text(json.dumps(card))


def test_runs_within_the_noise_of_the_best_are_a_tie(runs_dir):
    # errors of 1 point: the noise of a difference is 2 * sqrt(1 + 1) = 2.83 points
    write_runs(runs_dir, list(lesson.ALPHA_RUNS))  # 70%, 71%, ..., 74%, each +- 1%
    ranking = lesson.standings(lesson.alpha_runs())
    assert ranking.best.name == "alpha-1.0" and ranking.best.verdict == "best"
    assert [s.verdict for s in ranking.runs] == ["behind", "behind", "tie with the best", "tie with the best", "best"]
    for s in ranking.runs[:-1]:
        assert s.noise == pytest.approx(noise.noise_of_difference(1.0, 1.0))
        assert s.tie == noise.tied(74.0, 1.0, s.accuracy, 1.0)
    assert ranking.clear_winner is None and ranking.winner_option() == len(lesson.ALPHA_RUNS)
    rows = [lesson.final_metrics(r, s) for r, s in zip(lesson.alpha_runs(), ranking.runs)]
    assert [row["against the best"] for row in rows] == [s.verdict for s in ranking.runs]


def test_a_lead_beyond_the_noise_is_a_clear_winner(runs_dir):
    write_accuracies(runs_dir, {"alpha-0.1": (0.70, 0.01), "alpha-0.2": (0.80, 0.01), "alpha-0.5": (0.75, 0.01)})
    ranking = lesson.standings(lesson.alpha_runs())
    assert ranking.clear_winner.name == "alpha-0.2"
    assert ranking.winner_option() == list(lesson.ALPHA_RUNS).index("alpha-0.2")
    write_accuracies(runs_dir, {"alpha-0.5": (0.79, 0.01)})
    assert lesson.standings(lesson.alpha_runs()).clear_winner is None


def test_fewer_than_two_measured_runs_rank_nothing(runs_dir):
    assert lesson.standings(lesson.alpha_runs()) is None
    write_runs(runs_dir, ["alpha-0.2"])
    assert lesson.standings(lesson.alpha_runs()) is None


def test_the_shipped_margin_runs_crown_no_clear_winner():
    """Issue 20: the single-seed 400-step margin runs end within about their standard error of each
    other, so the page must not say which margin learned fastest."""
    runs = lesson.alpha_runs()
    if sum(r.trained for r in runs) < 2:
        pytest.skip("fewer than two margin runs are shipped")
    ranking = lesson.standings(runs)
    assert ranking.clear_winner is None and ranking.tied_with_best
    for s in ranking.runs:
        card = next(r for r in runs if r.name == s.name).run.card["metrics"]
        assert s.accuracy == pytest.approx(100 * card["view1_devtest_accuracy"])


# --------------------------------------------------------------------------------------------
# Same and different pairs under each margin run
# --------------------------------------------------------------------------------------------


def test_pair_distances_match_a_brute_force_count():
    rng = np.random.default_rng(5)
    e = rng.normal(size=(30, 8))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    labels = np.repeat(np.arange(6), 5)
    same, different = [], []
    for i in range(30):
        for j in range(i + 1, 30):
            (same if labels[i] == labels[j] else different).append(float(np.sum((e[i] - e[j]) ** 2)))
    pairs = lesson.pair_distances("alpha-0.2", 0.2, 100, e, labels)
    assert (pairs.same_count, pairs.different_count) == (6 * 10, 435 - 60)
    assert pairs.same_mean == pytest.approx(np.mean(same)) and pairs.different_mean == pytest.approx(np.mean(different))
    np.testing.assert_allclose(pairs.same, np.histogram(same, bins=lesson.HISTOGRAM_EDGES)[0] / 60, atol=1e-12)
    assert pairs.same.sum() == pytest.approx(1) and pairs.different.sum() == pytest.approx(1)
    same, different = np.array(same), np.array(different)
    balanced = [(np.mean(same < t) + np.mean(different >= t)) / 2 for t in lesson.THRESHOLDS]
    assert pairs.balanced_accuracy == pytest.approx(max(balanced))
    assert (np.mean(same < pairs.threshold) + np.mean(different >= pairs.threshold)) / 2 == pytest.approx(max(balanced))


@pytest.fixture(scope="module")
def maps():
    from model.maps import load_explorer_maps

    return load_explorer_maps()


def test_the_margin_runs_histograms_on_the_people_no_run_trained_on(maps):
    keep = lesson.explorer_set(maps)
    assert not maps.seen[keep].any() and keep.sum() > 500
    sizes = np.bincount(maps.labels[keep])
    sizes = sizes[sizes > 0]
    same_pairs = int(np.sum(sizes * (sizes - 1) // 2))
    n = int(keep.sum())
    finals = {name: lesson.run_pair_distances(maps, name) for name in lesson.ALPHA_RUNS}
    for name, pairs in finals.items():
        assert pairs.step == maps.runs[name].steps[-1] == 400 and pairs.margin == lesson.ALPHA_RUNS[name]
        assert (pairs.same_count, pairs.different_count) == (same_pairs, n * (n - 1) // 2 - same_pairs)
        assert pairs.gap > 0.5 and pairs.balanced_accuracy > 0.65  # trained: the piles have come apart
        assert pairs.same_mean < pairs.threshold < pairs.different_mean
        start = lesson.run_pair_distances(maps, name, 0)
        assert start.different_mean < 1e-3 and start.balanced_accuracy == 0.5  # untrained: one point
    # what the page's summary says, from the smallest margin to the largest: both piles move out
    low, high = finals["alpha-0.05"], finals["alpha-1.0"]
    assert high.different_mean > low.different_mean and high.same_mean > low.same_mean
    assert high.threshold > low.threshold
    row = lesson.gap_row(finals["alpha-0.2"])
    assert row["gap"] == pytest.approx(finals["alpha-0.2"].gap, abs=1e-3)


def test_a_run_missing_from_the_maps_has_no_histogram(maps):
    assert lesson.run_pair_distances(maps, "no-such-run") is None
    assert "batch-all" in maps.runs and lesson.run_pair_distances(maps, "batch-all") is None  # not a margin run
