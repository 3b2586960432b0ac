"""Lesson 3, "Choosing triplets": lessons/mining.py against brute force and numpy on real LFW
embeddings. The page: tests/pages/test_mining.py."""

import itertools

import numpy as np
import pytest
import torch

from lessons import mining
from model import triplet
from model.train import batch_loss


pytestmark = pytest.mark.usefixtures("fresh_caches")


# --------------------------------------------------------------------------------------------
# Brute force
# --------------------------------------------------------------------------------------------


def brute_triplets(labels):
    """Every (a, p, n) with labels[a] == labels[p], a != p, labels[n] != labels[a], by enumeration."""
    idx = range(len(labels))
    return [(a, p, n) for a, p, n in itertools.product(idx, idx, idx)
            if a != p and labels[a] == labels[p] and labels[n] != labels[a]]


def brute_kind(d_ap, d_an, alpha):
    if d_an <= d_ap:
        return "hard"
    return "semi-hard" if d_an < d_ap + alpha else "easy"


def numpy_distances(e):
    e = np.asarray(e, np.float64)
    return ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)


# --------------------------------------------------------------------------------------------
# Counting triplets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [[2, 2], [3, 1, 2], [4, 1], [1, 1, 1], [2, 3, 4, 1], [5], [3, 3, 3]])
def test_triplets_in_dataset_equals_enumeration(counts):
    labels = np.repeat(np.arange(len(counts)), counts)
    enumerated = brute_triplets(labels)
    assert mining.triplets_in_dataset(counts) == len(enumerated)
    if len(counts) > 1:  # with one person there are no negatives, so no triplet shows its pairs
        assert mining.anchor_positive_pairs(counts) == len({(a, p) for a, p, _ in enumerated})


@pytest.mark.parametrize("people,photos", [(2, 2), (3, 2), (2, 4), (4, 3)])
def test_pk_batch_count_equals_enumeration_and_model(people, photos):
    labels = np.repeat(np.arange(people), photos)
    expected = len(brute_triplets(labels))
    b = people * photos
    assert expected == b * (photos - 1) * (b - photos)  # the formula the page shows
    assert mining.triplets_in_pk_batch(people, photos) == expected
    assert len(triplet.valid_triplets(torch.as_tensor(labels))) == expected


def test_pairs_count_on_a_set_where_everyone_has_a_negative():
    counts = [3, 2, 4]
    labels = np.repeat(np.arange(3), counts)
    pairs = {(a, p) for a, p, _ in brute_triplets(labels)}
    assert mining.anchor_positive_pairs(counts) == len(pairs) == 3 * 2 + 2 * 1 + 4 * 3


def test_triplet_scales_training_split_from_the_protocol_file(shipped_embeddings, lfw_root):
    """The LFW training split's count, against the photo counts that peopleDevTrain.txt lists."""
    from model.data import lfw_protocol_file, read_people

    listed = [n for name, n in read_people(lfw_protocol_file(lfw_root, "peopleDevTrain.txt"))[0]]
    total = sum(listed)
    expected = sum(n * (n - 1) * (total - n) for n in listed)
    scales = mining.triplet_scales(shipped_embeddings.labels, shipped_embeddings.trained_on, 6, 3)
    lfw, facenet, user = scales
    assert (lfw.people, lfw.photos, lfw.triplets) == (len(listed), total, expected)
    assert facenet.photos == 1800 and facenet.triplets == 1800 * 39 * 1760 and facenet.pairs == 1800 * 39
    assert user.triplets == 18 * 2 * 15 and user.pairs == 18 * 2
    assert lfw.triplets > facenet.triplets > user.triplets


def test_facenet_estimate_is_the_pk_formula_at_8m_people_of_25_photos():
    n = 8_000_000 * 25
    assert mining.facenet_dataset_estimate() == n * 24 * (n - 25)
    assert 1e17 < mining.facenet_dataset_estimate() < 1e19


# --------------------------------------------------------------------------------------------
# Drawing a batch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("people,photos,unseen",
                         [(2, 2, False), (8, 4, True), (16, 8, False), (16, 8, True), (5, 6, True)])
def test_draw_batch_is_p_people_times_k_photos_from_the_chosen_group(shipped_embeddings, people, photos, unseen):
    batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, people, photos, seed=3, unseen=unseen)
    assert len(batch) == people * photos and len(set(batch.rows.tolist())) == people * photos
    blocks = shipped_embeddings.labels[batch.rows].reshape(people, photos)
    assert (blocks == blocks[:, :1]).all()  # K consecutive photos of one person
    assert len(set(blocks[:, 0].tolist())) == people
    assert (blocks[:, 0] == batch.people).all()
    assert (shipped_embeddings.trained_on[batch.people] == (not unseen)).all()
    assert np.array_equal(batch.labels, np.repeat(np.arange(people), photos))
    again = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, people, photos, seed=3, unseen=unseen)
    assert np.array_equal(again.rows, batch.rows)
    other = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, people, photos, seed=4, unseen=unseen)
    assert not np.array_equal(other.rows, batch.rows)


def test_photo_labels_name_each_photo_uniquely(shipped_embeddings):
    batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, 16, 8, seed=0)
    labels = mining.photo_labels(shipped_embeddings.names, shipped_embeddings.labels, shipped_embeddings.files, batch.rows)
    assert len(set(labels)) == 128
    for label, row in zip(labels, batch.rows):
        name, number = label.rsplit(" #", 1)
        assert shipped_embeddings.files[row] == f"{name.replace(' ', '_')}/{name.replace(' ', '_')}_{int(number):04d}.jpg"


def test_draw_batch_refuses_impossible_batches(shipped_embeddings):
    unseen_with_8 = len(mining.eligible_people(shipped_embeddings.labels, shipped_embeddings.trained_on, 8, True))
    with pytest.raises(ValueError):
        mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, unseen_with_8 + 1, 8, 0, unseen=True)
    with pytest.raises(ValueError):
        mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, 4, 1, 0)


# --------------------------------------------------------------------------------------------
# The analysis of a real batch
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(shipped_embeddings):
    """A real 4 x 3 batch of people the model never saw (they have hard triplets)."""
    batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, 4, 3, seed=1, unseen=True)
    e = shipped_embeddings.embeddings[batch.rows]
    return batch, e, mining.analyse_batch(e, batch.labels, 0.2, seed=1)


def test_distances_are_squared_l2_of_the_real_embeddings(small):
    batch, e, analysis = small
    assert analysis.distances.shape == (12, 12)
    np.testing.assert_allclose(analysis.distances, numpy_distances(e), atol=1e-5)


def test_counts_of_kinds_equal_brute_force(small):
    batch, e, analysis = small
    d, labels = numpy_distances(e), batch.labels
    for alpha in (0.0, 0.2, 0.7):
        a = mining.analyse_batch(e, labels, alpha, seed=1)
        kinds = [brute_kind(d[x, p], d[x, n], alpha) for x, p, n in brute_triplets(labels)]
        assert a.counts.valid == len(kinds) == 4 * 3 * 2 * 9
        by_kind = tuple(kinds.count(k) for k in ("hard", "semi-hard", "easy"))
        assert (a.counts.hard, a.counts.semi_hard, a.counts.easy) == by_kind


def test_hardest_positive_and_negative_are_masked_argmax_and_argmin(shipped_embeddings):
    for people, photos, unseen, seed in ((4, 3, True, 1), (12, 5, False, 7), (16, 8, True, 2)):
        batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, people, photos, seed, unseen)
        a = mining.analyse_batch(shipped_embeddings.embeddings[batch.rows], batch.labels, 0.2, seed)
        d = numpy_distances(shipped_embeddings.embeddings[batch.rows])
        same = batch.labels[:, None] == batch.labels[None, :]
        positive = same & ~np.eye(len(d), dtype=bool)
        assert np.array_equal(a.hardest_positive, np.where(positive, d, -np.inf).argmax(axis=1))
        assert np.array_equal(a.hardest_negative, np.where(~same, d, np.inf).argmin(axis=1))


def test_each_strategy_picks_what_its_rule_says(small):
    batch, e, analysis = small
    d, labels, alpha = numpy_distances(e), batch.labels, 0.2
    everything = brute_triplets(labels)
    pairs = sorted({(x, p) for x, p, _ in everything})
    picks = {m: list(zip(*(t.tolist() for t in (r.triplets.anchor, r.triplets.positive, r.triplets.negative))))
             for m, r in analysis.strategies.items()}
    # batch-all: exactly the active triplets
    assert sorted(picks["all"]) == sorted(t for t in everything if d[t[0], t[1]] - d[t[0], t[2]] + alpha > 0)
    # batch-hard: one per anchor, farthest positive and closest negative
    assert len(picks["hard"]) == 12
    for x, p, n in picks["hard"]:
        assert d[x, p] == pytest.approx(max(d[x, q] for y, q in pairs if y == x), abs=1e-6)
        assert d[x, n] == pytest.approx(min(d[x, m] for m in range(12) if labels[m] != labels[x]), abs=1e-6)
    # semi-hard: one per anchor-positive pair, the closest negative farther than the positive, else the farthest
    assert sorted((x, p) for x, p, _ in picks["semi-hard"]) == pairs
    for x, p, n in picks["semi-hard"]:
        negs = [d[x, m] for m in range(12) if labels[m] != labels[x]]
        farther = [v for v in negs if v > d[x, p]]
        assert d[x, n] == pytest.approx(min(farther) if farther else max(negs), abs=1e-6)
    # random: one valid negative per anchor-positive pair
    assert sorted((x, p) for x, p, _ in picks["random"]) == pairs
    assert all(labels[n] != labels[x] for x, _, n in picks["random"])


def test_losses_and_summaries_agree_with_the_picks(small):
    batch, e, analysis = small
    d, alpha = numpy_distances(e), 0.2
    for mining_name, r in analysis.strategies.items():
        x, p, n = (t.numpy() for t in (r.triplets.anchor, r.triplets.positive, r.triplets.negative))
        terms = np.maximum(d[x, p] - d[x, n] + alpha, 0.0)
        expected_loss = terms.mean() if len(terms) else 0.0
        assert r.loss == pytest.approx(expected_loss, abs=1e-5), mining_name
        assert r.kinds.total == r.selected == len(x)
        assert r.mean_d_ap == pytest.approx(d[x, p].mean(), abs=1e-6)
        assert r.mean_d_an == pytest.approx(d[x, n].mean(), abs=1e-6)
        if mining_name == "all":
            assert r.considered == 216 and r.active == r.selected == analysis.counts.active
            assert r.kinds.easy == 0
        else:
            assert r.considered == r.selected and r.active == int((terms > 0).sum())
    assert analysis.strategies["semi-hard"].selected == analysis.strategies["random"].selected == 12 * 2
    assert analysis.strategies["hard"].selected == 12


def test_picks_for_anchor_are_that_anchors_triplets(small):
    batch, e, analysis = small
    for strategy in mining.STRATEGY_LABELS:
        total = 0
        for anchor in range(12):
            rows = mining.picks_for_anchor(analysis, strategy, anchor)
            total += len(rows)
            assert all(t.anchor == anchor for t in rows)
            assert [t.term for t in rows] == sorted((t.term for t in rows), reverse=True)
            for t in rows:
                assert t.term == pytest.approx(max(t.d_ap - t.d_an + 0.2, 0.0))
                assert t.kind == brute_kind(t.d_ap, t.d_an, 0.2)
        assert total == analysis.strategies[strategy].selected


def test_mine_dispatches_to_each_strategys_miner():
    g = torch.Generator().manual_seed(3)
    emb = torch.nn.functional.normalize(torch.randn(12, 4, generator=g, dtype=torch.float64), dim=1)
    labels = torch.arange(4).repeat_interleave(3)
    d = triplet.squared_distances(emb)
    expected = {"all": triplet.mine_all(d, labels, 0.3), "semi-hard": triplet.mine_semi_hard(d, labels),
                "hard": triplet.mine_hard(d, labels),
                "random": triplet.mine_random(d, labels, torch.Generator().manual_seed(7))}
    assert set(expected) == set(mining.STRATEGY_LABELS)
    for strategy, want in expected.items():
        got = mining.mine(strategy, d, labels, 0.3, torch.Generator().manual_seed(7))
        for field in ("anchor", "positive", "negative"):
            assert torch.equal(getattr(got, field), getattr(want, field)), (strategy, field)
    with pytest.raises(ValueError, match="mining must be one of"):
        mining.mine("hardest", d, labels, 0.3)


def test_the_random_strategy_is_reproducible_per_batch_seed(small):
    batch, e, _ = small
    one = mining.analyse_batch(e, batch.labels, 0.2, seed=5).strategies["random"].triplets.negative
    two = mining.analyse_batch(e, batch.labels, 0.2, seed=5).strategies["random"].triplets.negative
    assert torch.equal(one, two)


def test_seen_people_have_fewer_hard_triplets_than_unseen_ones(shipped_embeddings):
    """The model was trained on the seen people: over a few batches, their share of hard triplets is lower."""
    share = {}
    for unseen in (False, True):
        hard = valid = 0
        for seed in range(6):
            batch = mining.draw_batch(shipped_embeddings.labels, shipped_embeddings.trained_on, 8, 4, seed, unseen)
            counts = mining.analyse_batch(shipped_embeddings.embeddings[batch.rows], batch.labels, 0.2, seed).counts
            hard, valid = hard + counts.hard, valid + counts.valid
        share[unseen] = hard / valid
    assert share[False] < share[True]


def test_collapsed_model_loss_is_the_margin():
    for strategy in mining.STRATEGY_LABELS:
        assert mining.collapsed_loss(3, 2, 0.35, strategy) == pytest.approx(0.35, abs=1e-6)


def test_shrink_curve_equals_the_loss_of_scaled_embeddings(small):
    """Against training's full loss (model.train.batch_loss: mining again) on embeddings scaled by sqrt(factor)."""
    batch, e, analysis = small
    alpha = 0.2
    for strategy in mining.STRATEGY_LABELS:
        curve = mining.shrink_curve(analysis, strategy)
        assert len(curve) == len(mining.SHRINK_FACTORS)
        assert curve[0] == pytest.approx(alpha, abs=1e-6)  # collapsed: every term is the margin
        assert curve[-1] == pytest.approx(analysis.strategies[strategy].loss, abs=1e-5)
        for f, loss in zip(mining.SHRINK_FACTORS, curve):
            scaled = torch.as_tensor(e) * float(np.sqrt(f))
            again = batch_loss(scaled, torch.as_tensor(batch.labels), alpha, strategy, mining.random_generator(1)).loss
            assert loss == pytest.approx(float(again), abs=1e-5), (strategy, f)
    d = numpy_distances(e)
    r = analysis.strategies["hard"]
    x, p, n = (t.numpy() for t in (r.triplets.anchor, r.triplets.positive, r.triplets.negative))
    for f, loss in zip(mining.SHRINK_FACTORS, mining.shrink_curve(analysis, "hard")):
        assert loss == pytest.approx(np.maximum(f * (d[x, p] - d[x, n]) + alpha, 0).mean(), abs=1e-5)


def test_face_mosaic_places_one_row_per_person():
    crops = np.stack([np.full((8, 8, 3), 10 * i, np.uint8) for i in range(6)])
    out = mining.face_mosaic(crops, 2, 3, gap=2)
    assert out.shape == (2 * 10 - 2, 3 * 10 - 2, 3)
    assert (out[0:8, 10:18] == 10).all()  # photo 1: row 0, column 1
    assert (out[10:18, 0:8] == 30).all()  # photo 3: row 1, column 0
    assert (out[10:18, 20:28] == 50).all()  # photo 5: row 1, column 2
    assert (out[8:10] == 255).all() and (out[:, 8:10] == 255).all()  # the gaps
    with pytest.raises(ValueError):
        mining.face_mosaic(crops, 2, 2)


def test_stuck_at_margin_finds_where_the_loss_stays_at_alpha():
    assert mining.stuck_at_margin([10, 20, 30, 40], [0.3, 0.2004, 0.2, 0.1999], 0.2) == 20
    assert mining.stuck_at_margin([10, 20, 30, 40], [0.2, 0.2, 0.15, 0.2], 0.2) == 40
    assert mining.stuck_at_margin([10, 20, 30], [0.2, 0.2, 0.15], 0.2) is None
    assert mining.stuck_at_margin([], [], 0.2) is None


def test_run_comparison_says_which_runs_exist():
    c = mining.run_comparison({"alpha-0.2": "run", "sgd": "other"})
    assert c.present == {"alpha-0.2": "run"} and c.missing == ["hardest-negatives"]


# --------------------------------------------------------------------------------------------
# Offline or online, and which run collapsed
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explorer():
    from model.maps import load_explorer_maps

    return load_explorer_maps()


def test_offline_staleness_matches_brute_force_on_a_small_batch():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 3)
    frames = {s: rng.normal(size=(9, 4)) for s in (0, 50, 100)}
    frames = {s: e / np.linalg.norm(e, axis=1, keepdims=True) for s, e in frames.items()}
    margin = 0.5
    rows = mining.offline_staleness(frames.__getitem__, [0, 50, 100], labels, 100, margin)
    assert [r.mined_step for r in rows] == [0, 50, 100] and [r.stale_by for r in rows] == [100, 50, 0]

    def d2(e, i, j):
        return float(((e[i] - e[j]) ** 2).sum())

    for row in rows:
        then, now = frames[row.mined_step], frames[100]
        chosen = [(a, p, n) for a, p, n in brute_triplets(labels)
                  if brute_kind(d2(then, a, p), d2(then, a, n), margin) == "semi-hard"]
        kinds = [brute_kind(d2(now, a, p), d2(now, a, n), margin) for a, p, n in chosen]
        assert row.mined == len(chosen)
        assert (row.still_semi_hard, row.now_hard, row.now_easy) == (
            kinds.count("semi-hard"), kinds.count("hard"), kinds.count("easy"))
    assert rows[-1].share("semi-hard") == 1.0  # mined now: online mining


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offline_triplets_go_stale_within_one_snapshot_of_the_reference_run(explorer, seed):
    """The claim of the offline section: of the triplets semi-hard 50 steps before the end of the
    semi-hard run, most are not semi-hard any more at any step (at the last, most have become easy)."""
    run = explorer.runs[mining.OFFLINE_RUN]
    batch = mining.explorer_batch(explorer.labels, explorer.trained_on, seed)
    assert len(batch) == mining.OFFLINE_PEOPLE * mining.OFFLINE_PHOTOS
    assert explorer.trained_on[batch.people].all()
    for now in run.steps[1:]:
        rows = mining.offline_staleness(lambda s: run.embeddings(s)[batch.rows], run.steps, batch.labels, now, 0.2)
        by_age = {r.stale_by: r for r in rows}
        assert by_age[0].share("semi-hard") == 1.0
        assert by_age[50].mined > 0 and by_age[50].share("semi-hard") < 0.5
    assert by_age[50].share("easy") > by_age[50].share("hard")  # at the last step


def test_collapsed_runs_names_the_hardest_negatives_run():
    from model.sweep import load_runs

    comparison = mining.run_comparison(load_runs("lessons-cpu"))
    collapsed = mining.collapsed_runs(comparison)
    if comparison.missing:
        assert collapsed is None
    else:
        assert collapsed == {mining.HARDEST_RUN}
