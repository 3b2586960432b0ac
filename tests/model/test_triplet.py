"""The triplet loss and its miners, against hand-computed cases and the definitions themselves.

The losses of the four strategies are taken as a training step takes them, through
`model.train.batch_loss` (the distances once, the strategy's miner, model.triplet's loss)."""

import subprocess
import sys
import textwrap

import pytest
import torch

from model.train import MINERS, batch_loss
from model.triplet import (EASY, HARD, SEMI_HARD, Triplets, batch_all_loss, classify_triplets, count_triplet_types,
                           label_masks, mine_all, mine_hard, mine_random, mine_semi_hard, squared_distances,
                           triplet_loss, triplet_loss_from_distances, triplet_terms, valid_triplets)


def t(values):
    return torch.tensor(values, dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# A reference written straight from the definitions, one triplet at a time
# --------------------------------------------------------------------------------------------


def reference_loss(e, labels, margin, mining):
    e = e.double()
    n = len(e)
    d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    same = lambda i, j: bool(labels[i] == labels[j])
    terms = []
    for a in range(n):
        positives = [p for p in range(n) if p != a and same(a, p)]
        negatives = [k for k in range(n) if not same(a, k)]
        if not negatives or not positives:
            continue
        if mining == "hard":
            terms.append(max(float(max(d[a, p] for p in positives) - min(d[a, k] for k in negatives)) + margin, 0.0))
            continue
        for p in positives:
            if mining == "all":
                terms += [float(d[a, p] - d[a, k] + margin) for k in negatives if d[a, p] - d[a, k] + margin > 0]
            else:  # semi-hard
                farther = [float(d[a, k]) for k in negatives if d[a, k] > d[a, p]]
                chosen = min(farther) if farther else max(float(d[a, k]) for k in negatives)
                terms.append(max(float(d[a, p]) - chosen + margin, 0.0))
    return sum(terms) / len(terms) if terms else 0.0


# --------------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------------

# 1-D points 0, 1 (person 0) and 3, 4 (person 1): D(0,1) = 1, D(0,2) = 9, D(0,3) = 16, D(1,2) = 4,
# D(1,3) = 9, D(2,3) = 1. With margin 5 only (1,0,2) and (2,3,1) are active, each 1 - 4 + 5 = 2.
LINE = t([[0.0], [1.0], [3.0], [4.0]])
LINE_LABELS = torch.tensor([0, 0, 1, 1])


def test_squared_distances_by_hand():
    d = squared_distances(LINE)
    expected = t([[0, 1, 9, 16], [1, 0, 4, 9], [9, 4, 0, 1], [16, 9, 1, 0]])
    assert torch.equal(d, expected)


def test_batch_all_by_hand():
    # two active triplets with term 2 each; the six inactive ones do not count in the mean
    assert batch_loss(LINE, LINE_LABELS, margin=5.0, mining="all").loss.item() == pytest.approx(2.0)


def test_batch_hard_by_hand():
    # anchors 0..3: [1-9+5]+ = 0, [1-4+5]+ = 2, [1-4+5]+ = 2, [1-9+5]+ = 0  -> mean 1
    assert batch_loss(LINE, LINE_LABELS, margin=5.0, mining="hard").loss.item() == pytest.approx(1.0)


def test_semi_hard_by_hand():
    # every pair has D(a,p) = 1; the closest negative farther than 1 is at 9, 4, 4, 9 -> 0, 2, 2, 0
    assert batch_loss(LINE, LINE_LABELS, margin=5.0, mining="semi-hard").loss.item() == pytest.approx(1.0)


def test_semi_hard_falls_back_to_the_farthest_negative():
    # person 0 at 0 and 2, person 1 at 1: the only negative is closer than the positive (D 1 < 4),
    # so it is taken anyway: 4 - 1 + 0.5 = 3.5 for both pairs
    e, labels = t([[0.0], [2.0], [1.0]]), torch.tensor([0, 0, 1])
    for mining in ("semi-hard", "hard", "all"):
        assert batch_loss(e, labels, margin=0.5, mining=mining).loss.item() == pytest.approx(3.5), mining


def test_semi_hard_picks_the_closest_negative_beyond_the_positive():
    # anchor 0 at 0, positive at 1 (D 1). Negatives: 0.5 (D 0.25, hard), 1.2 (D 1.44, semi-hard
    # for margin 0.5), -1.3 (D 1.69, easy), 1.1 (D 1.21: the closest beyond 1, chosen)
    e = t([[0.0], [1.0], [0.5], [1.2], [-1.3], [1.1]])
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    tri = mine_semi_hard(squared_distances(e), labels)
    chosen = {(int(a), int(p)): int(n) for a, p, n in zip(tri.anchor, tri.positive, tri.negative)}
    assert chosen[(0, 1)] == 5
    # anchor 1 (at 1), positive 0 (D 1): negatives at D 0.25, 0.04, 5.29, 0.01 -> only 5.29 is farther
    assert chosen[(1, 0)] == 4
    assert len(tri) == 2  # the other people have no positive


def test_hard_miner_picks_farthest_positive_and_closest_negative():
    e = t([[0.0], [1.0], [3.0], [0.4], [5.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    tri = mine_hard(squared_distances(e), labels)
    picks = {int(a): (int(p), int(n)) for a, p, n in zip(tri.anchor, tri.positive, tri.negative)}
    assert picks[0] == (2, 3)  # farthest positive at 3, closest negative at 0.4
    assert picks[2] == (0, 4)  # from 3: positives at 0 (D 9) and 1 (D 4); negatives 0.4 (D 6.76), 5 (D 4)
    assert picks[4] == (3, 2)  # from 5: its one positive is at 0.4; of the negatives 0, 1, 3 the closest is 3


def test_classify_triplets_boundaries():
    d_ap = t([1.0, 1.0, 1.0, 1.0, 1.0])
    d_an = t([0.5, 1.0, 1.25, 1.5, 2.0])
    assert classify_triplets(d_ap, d_an, margin=0.5).tolist() == [HARD, HARD, SEMI_HARD, EASY, EASY]
    # with no margin nothing is semi-hard
    assert classify_triplets(d_ap, d_an, margin=0.0).tolist() == [HARD, HARD, EASY, EASY, EASY]


def test_masks_follow_the_definition_of_a_valid_triplet():
    positive, negative = label_masks(torch.tensor([3, 3, 7]))
    assert positive.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert negative.tolist() == [[False, False, True], [False, False, True], [True, True, False]]


# --------------------------------------------------------------------------------------------
# Against the reference on random batches
# --------------------------------------------------------------------------------------------


def random_batch(seed, n=None, dim=3, people=4):
    g = torch.Generator().manual_seed(seed)
    n = n or int(torch.randint(4, 24, (1,), generator=g))
    labels = torch.randint(0, people, (n,), generator=g)
    e = torch.nn.functional.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
    margin = float(torch.rand(1, generator=g)) * 0.8
    return e, labels, margin


@pytest.mark.parametrize("mining", ["all", "hard", "semi-hard"])
@pytest.mark.parametrize("seed", range(12))
def test_matches_the_definition_on_random_batches(mining, seed):
    e, labels, margin = random_batch(seed)
    assert batch_loss(e, labels, margin, mining).loss.item() == pytest.approx(reference_loss(e, labels, margin, mining), abs=1e-12)


def test_float32_embeddings_give_float32_loss_close_to_float64():
    e, labels, margin = random_batch(1, n=40, dim=16)
    for mining in ("all", "hard", "semi-hard"):
        loss32 = batch_loss(e.float(), labels, margin, mining).loss
        assert loss32.dtype == torch.float32
        assert loss32.item() == pytest.approx(batch_loss(e, labels, margin, mining).loss.item(), abs=1e-5)


def test_batch_all_equals_the_mean_over_listed_active_triplets():
    for seed in range(5):
        e, labels, margin = random_batch(seed, n=30)
        d = squared_distances(e)
        listed = mine_all(d, labels, margin)
        loss, valid, active = batch_all_loss(d, labels, margin)
        assert active == len(listed)
        assert valid == len(valid_triplets(labels))
        expected = triplet_terms(d, listed, margin).mean().item() if len(listed) else 0.0
        assert loss.item() == pytest.approx(expected, abs=1e-12)


def test_counts_agree_with_classifying_every_valid_triplet():
    for seed in range(8):
        e, labels, margin = random_batch(seed, n=25)
        d = squared_distances(e)
        tri = valid_triplets(labels)
        kinds = classify_triplets(d[tri.anchor, tri.positive], d[tri.anchor, tri.negative], margin)
        counts = count_triplet_types(d, labels, margin)
        assert counts.valid == len(tri)
        assert (counts.hard, counts.semi_hard, counts.easy) == tuple(int((kinds == k).sum()) for k in (HARD, SEMI_HARD, EASY))
        terms = d[tri.anchor, tri.positive] - d[tri.anchor, tri.negative] + margin
        assert counts.active == int((terms > 0).sum()) == counts.hard + counts.semi_hard


@pytest.mark.slow
def test_random_miner_draws_uniformly_among_negatives():
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    d = squared_distances(torch.randn(6, 2, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([mine_random(d, labels, g).negative for _ in range(4000)])  # 2 pairs per draw
    counts = torch.bincount(draws, minlength=6)
    assert counts[:2].sum() == 0  # never a positive or the anchor
    assert ((counts[2:].double() / len(draws) - 0.25).abs() < 0.03).all()  # 4 negatives, ~1/4 each


def test_random_mining_uses_one_negative_per_pair_and_is_reproducible():
    e, labels, margin = random_batch(3, n=20)
    d = squared_distances(e)
    a = mine_random(d, labels, torch.Generator().manual_seed(5))
    b = mine_random(d, labels, torch.Generator().manual_seed(5))
    positive, negative = label_masks(labels)
    assert len(a) == int((positive & negative.any(1)[:, None]).sum())
    assert torch.equal(a.negative, b.negative)
    assert negative[a.anchor, a.negative].all()
    loss = batch_loss(e, labels, margin, "random", generator=torch.Generator().manual_seed(5)).loss
    assert loss.item() == pytest.approx(triplet_terms(d, a, margin).mean().item())


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------


def test_gradient_of_one_triplet_is_analytic():
    # labels (0, 0, 1): pairs (0,1) and (1,0), both with negative 2; margin large so both active.
    a, p, n = t([0.3, -0.2]), t([0.5, 0.4]), t([-0.1, 0.2])
    e = torch.stack([a, p, n]).requires_grad_(True)
    batch_loss(e, torch.tensor([0, 0, 1]), margin=10.0, mining="all").loss.backward()
    # loss = ( |a-p|^2 - |a-n|^2 + m  +  |p-a|^2 - |p-n|^2 + m ) / 2, so
    # dL/da = (n - p) + (a - p),  dL/dp = (p - a) + (n - a),  dL/dn = (a - n) + (p - n)
    expected = torch.stack([(n - p) + (a - p), (p - a) + (n - a), (a - n) + (p - n)])
    assert torch.allclose(e.grad, expected)


@pytest.mark.parametrize("mining", ["all", "hard", "semi-hard"])
def test_gradcheck(mining):
    e, labels, _ = random_batch(7, n=12, dim=4, people=3)
    e = e.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: batch_loss(x, labels, 0.3, mining).loss, (e,), eps=1e-7, atol=1e-5)


@pytest.mark.parametrize("mining", MINERS)
def test_no_nan_at_zero_distance(mining):
    e = torch.zeros(8, 16, requires_grad=True)  # every distance is 0
    loss = batch_loss(e, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 0.2, mining).loss
    loss.backward()
    assert loss.item() == pytest.approx(0.2)  # each term is 0 - 0 + margin
    assert torch.isfinite(e.grad).all()


@pytest.mark.parametrize("mining", MINERS)
def test_a_batch_without_triplets_gives_a_differentiable_zero(mining):
    e = torch.randn(4, 8, requires_grad=True)
    loss = batch_loss(e, torch.tensor([0, 1, 2, 3]), 0.2, mining).loss  # nobody has a positive
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(e.grad, torch.zeros_like(e))


def test_unknown_mining_is_refused():
    with pytest.raises(ValueError, match="mining"):
        batch_loss(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), mining="hardest")


# --------------------------------------------------------------------------------------------
# FaceNet's batch size on this CPU
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_facenet_batch_size_runs_in_quadratic_memory():
    # 1,800 embeddings of 128 dims, 45 people x 40 images; every mode forward + backward, in a
    # fresh process so its peak memory can be read. A B x B x B float32 tensor would be 23 GB.
    code = textwrap.dedent("""
        import resource, torch
        from model.train import MINERS, batch_loss
        g = torch.Generator().manual_seed(0)
        e = torch.nn.functional.normalize(torch.randn(1800, 128, generator=g), dim=1).requires_grad_(True)
        labels = torch.arange(45).repeat_interleave(40)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for mining in MINERS:
            r = batch_loss(e, labels, 0.2, mining, generator=g)
            r.loss.backward()
            assert torch.isfinite(r.loss) and torch.isfinite(e.grad).all(), mining
            print(mining, r.selected, r.active)
        print("peak_growth_mb", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    rows = {line.split()[0]: line.split()[1:] for line in out if line}
    assert int(rows["all"][0]) == 1800 * 39 * 1760  # every valid triplet of the batch
    assert int(rows["semi-hard"][0]) == int(rows["random"][0]) == 1800 * 39  # one per anchor-positive pair
    assert int(rows["hard"][0]) == 1800  # one per anchor
    assert float(rows["peak_growth_mb"][0]) < 1500  # O(B^2): a few 1800 x 1800 float64 matrices


def test_each_strategy_name_has_its_miner():
    """model.train.MINERS: the config's names -> model.triplet's miners; batch-all has none."""
    g = torch.Generator().manual_seed(3)
    emb = torch.nn.functional.normalize(torch.randn(12, 4, generator=g, dtype=torch.float64), dim=1)
    labels = torch.arange(4).repeat_interleave(3)
    d = squared_distances(emb)
    expected = {"all": None, "semi-hard": mine_semi_hard(d, labels), "hard": mine_hard(d, labels),
                "random": mine_random(d, labels, torch.Generator().manual_seed(7))}
    assert set(expected) == set(MINERS)
    assert MINERS["all"] is None  # the loss without triplets is batch-all
    for mining, want in expected.items():
        if want is None:
            continue
        got = MINERS[mining](d, labels, torch.Generator().manual_seed(7))
        for field in ("anchor", "positive", "negative"):
            assert torch.equal(getattr(got, field), getattr(want, field)), (mining, field)
    with pytest.raises(ValueError, match="mining must be one of"):
        batch_loss(emb, labels, 0.3, "hardest")


# --------------------------------------------------------------------------------------------
# The loss given triplets, or without them
# --------------------------------------------------------------------------------------------


def test_loss_of_given_triplets_is_the_mean_of_their_terms_zeros_included():
    for seed in range(5):
        e, labels, margin = random_batch(seed, n=20)
        d = squared_distances(e)
        for triplets in (mine_semi_hard(d, labels), mine_hard(d, labels), valid_triplets(labels)):
            terms = triplet_terms(d, triplets, margin)
            result = triplet_loss(e, labels, margin, triplets)
            assert result.loss.item() == pytest.approx(terms.mean().item(), abs=1e-12)
            assert result.selected == len(triplets) and result.active == int((terms > 0).sum())


def test_loss_without_triplets_is_batch_all_and_equals_the_loss_of_mine_all():
    for seed in range(5):
        e, labels, margin = random_batch(seed, n=20)
        d = squared_distances(e)
        listed = mine_all(d, labels, margin)
        without = triplet_loss(e, labels, margin)
        assert without.selected == len(valid_triplets(labels)) and without.active == len(listed)
        assert without.loss.item() == pytest.approx(reference_loss(e, labels, margin, "all"), abs=1e-12)
        given = triplet_loss(e, labels, margin, listed)
        assert given.loss.item() == pytest.approx(without.loss.item(), abs=1e-12)
        assert given.selected == given.active == len(listed)


def test_loss_from_distances_is_the_loss_of_the_embeddings_computed_once():
    e, labels, margin = random_batch(4, n=16)
    e32 = e.float().requires_grad_(True)
    d = squared_distances(e32)
    triplets = mine_semi_hard(d, labels)
    from_distances = triplet_loss_from_distances(d, labels, margin, triplets)
    from_embeddings = triplet_loss(e32, labels, margin, triplets)
    assert from_distances.loss.dtype == torch.float64 and from_embeddings.loss.dtype == torch.float32
    assert from_embeddings.loss.item() == pytest.approx(from_distances.loss.item(), abs=1e-6)
    assert (from_distances.selected, from_distances.active) == (from_embeddings.selected, from_embeddings.active)
    from_distances.loss.backward()
    grad = e32.grad.clone()
    e32.grad = None
    from_embeddings.loss.backward()
    assert torch.allclose(e32.grad, grad)


def test_no_triplets_given_is_a_differentiable_zero():
    e = torch.randn(6, 3, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    nothing = torch.zeros(0, dtype=torch.long)
    none = Triplets(nothing, nothing, nothing)
    result = triplet_loss(e, labels, 0.2, none)
    result.loss.backward()
    assert (result.loss.item(), result.selected, result.active) == (0.0, 0, 0)
    assert torch.equal(e.grad, torch.zeros_like(e))
