"""Lesson 1, the triplet loss term by term: lessons/loss.py against the formulas and the training
code. The page: tests/pages/test_loss.py."""

import numpy as np
import pytest
import torch

from lessons import loss as lesson
from model import triplet


pytestmark = pytest.mark.usefixtures("fresh_caches")


def squared(u, v) -> float:
    return float(np.sum((np.asarray(u, dtype=np.float64) - np.asarray(v, dtype=np.float64)) ** 2))


# --------------------------------------------------------------------------------------------
# One triplet
# --------------------------------------------------------------------------------------------


def test_loss_and_distances_follow_the_formula_on_a_hand_example():
    # d_ap = 0.3^2 + 0.0 = 0.09, d_an = 0.5^2 + 0.1^2 = 0.26: [0.09 - 0.26 + 0.2]_+ = 0.03, semi-hard
    result = lesson.one_triplet(np.array([[0.0, 0.0], [0.3, 0.0], [0.1, 0.5]]), 0.2)
    assert result.d_ap == pytest.approx(0.09) and result.d_an == pytest.approx(0.26)
    assert result.loss == pytest.approx(0.03) and result.inside == pytest.approx(0.03)
    assert result.kind == "semi-hard" and result.active


@pytest.mark.parametrize("dim", [2, 128])
def test_autograd_gradient_equals_the_analytic_gradient_when_active_and_zero_when_not(dim):
    rng = np.random.default_rng(dim)
    active_seen = inactive_seen = 0
    for _ in range(200):
        points = rng.normal(size=(3, dim)) / np.sqrt(dim)
        margin = float(rng.uniform(0, 1))
        result = lesson.one_triplet(points, margin)
        a, p, n = points
        if result.loss > 0:
            active_seen += 1
            expected = np.stack([2 * (a - p) - 2 * (a - n), -2 * (a - p), 2 * (a - n)])
        else:
            inactive_seen += 1
            expected = np.zeros_like(points)
        np.testing.assert_allclose(result.gradients, expected, atol=1e-10)
        np.testing.assert_allclose(result.gradients, lesson.analytic_gradients(points, margin), atol=1e-10)
    assert active_seen > 20 and inactive_seen > 20


def test_the_boundaries_follow_model_triplet_conventions():
    a, p = [0.0, 0.0], [1.0, 0.0]  # d_ap = 1 exactly
    # negative exactly as far as the positive: hard (d_an <= d_ap), loss = margin
    on_positive = lesson.one_triplet(np.array([a, p, [0.0, 1.0]]), 0.25)
    assert on_positive.kind == "hard" and on_positive.loss == pytest.approx(0.25)
    # negative exactly at d_ap + margin = 1.25: easy, loss 0 and no gradient
    on_margin = lesson.one_triplet(np.array([a, p, [1.0, 0.5]]), 0.25)
    assert on_margin.d_an == 1.25 and on_margin.loss == 0.0 and on_margin.kind == "easy"
    assert not on_margin.gradients.any()
    # the same verdicts from the training code itself
    kinds = triplet.classify_triplets(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.25]), 0.25)
    assert [triplet.KIND_NAMES[k] for k in kinds] == ["hard", "easy"]


def test_a_gradient_step_lowers_the_loss_of_an_active_triplet():
    points = np.array([[-0.6, 0.0], [0.4, 0.4], [0.3, -0.4]])
    before = lesson.one_triplet(points, 0.2)
    after = lesson.one_triplet(before.step(0.05), 0.2)
    assert before.active and after.loss < before.loss


def test_collapse_gives_loss_alpha_and_no_gradient():
    points = lesson.collapsed(np.array([[0.3, 0.1], [0.9, -1.0], [-1.2, 0.4]]))
    assert np.all(points == [1.0, 0.0])
    for alpha in (0.0, 0.2, 1.5):
        result = lesson.one_triplet(points, alpha)
        assert result.d_ap == 0 and result.d_an == 0
        assert result.loss == pytest.approx(alpha)
        assert not result.gradients.any()


def test_points_on_the_unit_circle_keep_their_direction_and_the_origin_stays_put():
    points = np.array([[3.0, 4.0], [0.0, -0.5], [0.0, 0.0]])
    unit = lesson.on_unit_sphere(points)
    np.testing.assert_allclose(unit[:2], [[0.6, 0.8], [0.0, -1.0]])
    assert not unit[2].any()


def test_the_plane_through_three_real_faces_keeps_distances_and_gradients_exactly(shipped_embeddings):
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = rng.choice(len(shipped_embeddings), size=3, replace=False)
        result = lesson.one_triplet(shipped_embeddings.embeddings[rows], 1.0)
        flat = lesson.plane_through(result.points, result.gradients)
        assert flat.points[0] == pytest.approx([0, 0]) and abs(flat.points[1, 1]) < 1e-9 and flat.points[1, 0] > 0
        for i, j in ((0, 1), (0, 2), (1, 2)):
            assert squared(flat.points[i], flat.points[j]) == pytest.approx(squared(result.points[i], result.points[j]))
        np.testing.assert_allclose(np.linalg.norm(flat.gradients, axis=1), result.gradient_norms, rtol=1e-9, atol=1e-12)
        assert flat.kept_share == pytest.approx(1.0)


def test_the_starting_faces_are_a_real_active_triplet_with_the_closest_negative(shipped_embeddings):
    e, labels, names = shipped_embeddings.embeddings, shipped_embeddings.labels, shipped_embeddings.names
    choice = lesson.default_faces(e, labels, names)
    rows = lesson.photo_rows(labels, names, choice.anchor_person)
    negatives = lesson.photo_rows(labels, names, choice.negative_person)
    anchor, negative = rows[choice.anchor_photo], negatives[choice.negative_photo]
    assert choice.negative_person != choice.anchor_person
    others = np.flatnonzero(labels != labels[anchor])
    assert negative == others[np.argmin(np.sum((e[others] - e[anchor]) ** 2, axis=1))]
    assert lesson.one_triplet(e[[anchor, rows[choice.positive_photo], negative]], 0.2).active


def test_lfw_has_1680_people_with_two_or_more_photos(shipped_embeddings):
    # the figure LFW's own documentation gives
    people = lesson.people_with_photos(shipped_embeddings.labels, shipped_embeddings.names, 2)
    assert len(people) == 1680 and people == sorted(people)


# --------------------------------------------------------------------------------------------
# A batch of triplets
# --------------------------------------------------------------------------------------------


def test_random_lfw_triplets_are_valid_and_repeatable(shipped_embeddings):
    labels = shipped_embeddings.labels
    drawn = lesson.random_lfw_triplets(labels, 32, seed=7)
    assert drawn.shape == (32, 3)
    assert np.all(labels[drawn[:, 0]] == labels[drawn[:, 1]]) and np.all(drawn[:, 0] != drawn[:, 1])
    assert np.all(labels[drawn[:, 2]] != labels[drawn[:, 0]])
    assert np.array_equal(drawn, lesson.random_lfw_triplets(labels, 32, seed=7))
    assert not np.array_equal(drawn, lesson.random_lfw_triplets(labels, 32, seed=8))


def test_batch_terms_and_the_three_reductions(shipped_embeddings):
    e = shipped_embeddings.embeddings.astype(np.float64)
    drawn = lesson.random_lfw_triplets(shipped_embeddings.labels, 20, seed=1)
    batch = lesson.batch_of_triplets(e[drawn[:, 0]], e[drawn[:, 1]], e[drawn[:, 2]], 1.0)
    expected = [max(squared(e[a], e[p]) - squared(e[a], e[n]) + 1.0, 0.0) for a, p, n in drawn]
    np.testing.assert_allclose(batch.terms, expected, atol=1e-9)
    active = sum(t > 0 for t in expected)
    assert 0 < active < 20
    assert batch.active == active and batch.total == pytest.approx(sum(expected))
    assert batch.mean_all == pytest.approx(sum(expected) / 20)
    assert batch.mean_active == pytest.approx(sum(expected) / active)


@pytest.mark.slow
def test_the_page_says_truly_how_model_triplet_reduces(shipped_embeddings):
    """Semi-hard (and hard, random) training: mean over the selected triplets, zeros included.
    Batch-all: mean over the active triplets only. Checked on a real P x K batch."""
    rng = np.random.default_rng(3)
    counts = np.bincount(shipped_embeddings.labels)
    people = rng.choice(np.flatnonzero(counts >= 4), size=6, replace=False)
    rows = np.concatenate([rng.choice(np.flatnonzero(shipped_embeddings.labels == p), 4, replace=False) for p in people])
    emb = torch.tensor(shipped_embeddings.embeddings[rows], dtype=torch.float64)
    labels = torch.tensor(shipped_embeddings.labels[rows])
    d = triplet.squared_distances(emb)
    for margin in (0.2, 0.8):
        mined = triplet.mine_semi_hard(d, labels)
        e = emb.numpy()
        batch = lesson.batch_of_triplets(e[mined.anchor], e[mined.positive], e[mined.negative], margin)
        assert 0 < batch.active < batch.n
        semi_hard = triplet.triplet_loss(emb, labels, margin, mined).loss
        assert float(semi_hard) == pytest.approx(batch.mean_all)
        every = triplet.valid_triplets(labels)
        batch = lesson.batch_of_triplets(e[every.anchor], e[every.positive], e[every.negative], margin)
        assert 0 < batch.active < batch.n
        assert float(triplet.triplet_loss(emb, labels, margin).loss) == pytest.approx(batch.mean_active)


def test_collapsed_batch_costs_alpha_per_triplet():
    pts = lesson.random_circle_triplets(9, seed=0)
    everything = lesson.collapsed(np.concatenate([pts[:, 0], pts[:, 1], pts[:, 2]]))
    for alpha in (0.0, 0.3):
        batch = lesson.batch_of_triplets(everything[:9], everything[9:18], everything[18:], alpha)
        np.testing.assert_allclose(batch.terms, alpha)
        assert batch.total == pytest.approx(9 * alpha)


# --------------------------------------------------------------------------------------------
# The negative moved: the loss and each arrow's length against d_an (issue 20, item 1)
# --------------------------------------------------------------------------------------------


def random_triplets(dim: int, on_sphere: bool, count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        points = rng.normal(size=(3, dim))
        yield lesson.on_unit_sphere(points) if on_sphere else points / np.sqrt(dim)


@pytest.mark.parametrize("dim, on_sphere", [(2, True), (2, False), (128, True), (128, False)])
def test_the_negatives_push_shrinks_as_it_closes_in_on_the_anchor(dim, on_sphere):
    """The negative's arrow is 2 (n - a): its length 2 sqrt(d_an) falls to 0 as the negative reaches
    the anchor, where the loss is largest. Checked against autograd (`one_triplet`) on the sweep."""
    for points in random_triplets(dim, on_sphere, 12, seed=dim):
        margin = 0.3
        sweep = lesson.move_negative(points, margin, on_sphere, count=101)
        assert sweep.d_an[0] == pytest.approx(0, abs=1e-12) and np.all(np.diff(sweep.d_an) > 0)
        if on_sphere:
            assert sweep.d_an[-1] == pytest.approx(4.0)
            np.testing.assert_allclose(np.linalg.norm(sweep.negatives, axis=1), 1.0)
        # the current triplet lies on the sweep: its negative is within one sample of the path
        gap = np.min(np.linalg.norm(sweep.negatives - points[2], axis=1))
        assert gap <= np.max(np.linalg.norm(np.diff(sweep.negatives, axis=0), axis=1))
        for i in range(0, 101, 10):
            moved = np.stack([points[0], points[1], sweep.negatives[i]])
            truth = lesson.one_triplet(moved, margin)
            assert sweep.loss[i] == pytest.approx(truth.loss, abs=1e-9)
            np.testing.assert_allclose(sweep.gradient_norms[i], truth.gradient_norms, atol=1e-9)
        active = sweep.active
        assert active[0] and sweep.loss[0] == pytest.approx(sweep.d_ap + margin)  # the largest loss...
        assert sweep.gradient_norms[0, 2] == pytest.approx(0, abs=1e-9)  # ...and no push on the negative
        pushes = sweep.gradient_norms[active, 2]
        np.testing.assert_allclose(pushes, 2 * np.sqrt(sweep.d_an[active]), atol=1e-9)
        assert np.all(np.diff(pushes) > 0)  # strictly longer the further the negative
        assert not sweep.gradient_norms[~active].any()  # beyond d_ap + margin: no arrow at all
        assert sweep.negative_push_as_it_closes_in() == "shrinks"


def test_with_nothing_active_the_sweep_says_the_push_stays():
    collapsed = lesson.collapsed(np.zeros((3, 2)))
    sweep = lesson.move_negative(collapsed, 0.0, on_sphere=True)
    assert not sweep.active.any() and sweep.negative_push_as_it_closes_in() == "stays"
    assert lesson.move_negative(collapsed, 0.2, on_sphere=True).negative_push_as_it_closes_in() == "shrinks"


def test_on_real_faces_the_hard_negatives_get_a_weaker_push_than_the_semi_hard(shipped_embeddings):
    """On random LFW triplets under the shipped model, at a margin where many are active: the
    negative's arrow (autograd) is shorter for the hard triplets than for the semi-hard ones."""
    e = shipped_embeddings.embeddings.astype(np.float64)
    drawn = lesson.random_lfw_triplets(shipped_embeddings.labels, 400, seed=11)
    pushes = {"hard": [], "semi-hard": []}
    for a, p, n in drawn:
        result = lesson.one_triplet(e[[a, p, n]], 1.0)
        if result.kind in pushes:
            pushes[result.kind].append(result.gradient_norms[2])
            assert result.gradient_norms[2] == pytest.approx(2 * np.sqrt(result.d_an))
    assert len(pushes["hard"]) >= 5 and len(pushes["semi-hard"]) >= 5
    assert np.mean(pushes["hard"]) < np.mean(pushes["semi-hard"])
    assert max(pushes["hard"]) < np.median(pushes["semi-hard"]) * 1.5


# --------------------------------------------------------------------------------------------
# Off the sphere, scaling every embedding up meets any margin (issue 20, item 2)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 128])
def test_scaling_every_embedding_up_meets_any_margin_unless_they_stay_on_the_sphere(dim):
    ordered = wrong = 0
    for points in random_triplets(dim, True, 40, seed=100 + dim):
        base = lesson.one_triplet(points, 0.0)
        for margin in (0.2, 1.0, 3.0):
            scales = np.array([0.5, 1.0, 2.0, 5.0])
            expected = [lesson.one_triplet(s * points, margin).loss for s in scales]
            np.testing.assert_allclose(lesson.scaled_losses(base.d_ap, base.d_an, margin, scales), expected, atol=1e-9)
            on_sphere = [lesson.one_triplet(lesson.on_unit_sphere(s * points), margin).loss for s in scales]
            np.testing.assert_allclose(on_sphere, on_sphere[0], atol=1e-12)  # the normalisation undoes any s
            needed = lesson.scale_that_satisfies(base.d_ap, base.d_an, margin)
            if base.d_an > base.d_ap:
                ordered += 1
                assert lesson.one_triplet(needed * 1.0001 * points, margin).loss == 0
                assert lesson.one_triplet(needed * 0.99 * points, margin).loss > 0
            else:
                wrong += 1
                assert needed is None
                assert lesson.one_triplet(3 * points, margin).loss > lesson.one_triplet(points, margin).loss
    assert ordered > 20 and wrong > 20


def test_what_scaling_does_to_each_kind_of_triplet():
    # d_ap = 0.8, d_an = 0.925 (the page's start, semi-hard at 0.2): the loss needs s = 1.27 to vanish
    assert lesson.what_scaling_does(0.8, 0.925, 0.2) == "drops to 0"
    assert lesson.scale_that_satisfies(0.8, 0.925, 0.2) == pytest.approx(np.sqrt(0.2 / 0.125))
    assert lesson.what_scaling_does(0.8, 0.81, 0.2) == "falls"  # 9 x 0.01 < 0.2: still inside the margin
    assert lesson.what_scaling_does(0.8, 0.4, 0.2) == "grows"  # wrong order
    assert lesson.what_scaling_does(0.8, 2.0, 0.2) == "unchanged"  # easy: 0 stays 0
    assert lesson.what_scaling_does(0.0, 0.0, 0.2) == "unchanged"  # collapsed: alpha at any scale
    assert set(lesson.SCALE_OUTCOMES) == {"drops to 0", "falls", "unchanged", "grows"}
