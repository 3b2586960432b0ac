"""VAL, FAR and the LFW protocols on hand-made cases."""

import numpy as np
import pytest

from model.evaluate import (accuracy_at, all_pairs, best_threshold, pair_distances, roc, ten_fold_accuracy, val_at_far,
                            val_far, verify)

# Five same-person pairs and five different-person pairs with hand-picked distances.
D = np.array([0.1, 0.3, 0.5, 0.9, 1.4, 0.4, 1.0, 1.2, 1.6, 2.0])
SAME = np.array([True] * 5 + [False] * 5)


def test_val_far_by_hand():
    # d = 0.5: TA = {0.1, 0.3, 0.5} -> VAL 3/5; FA = {0.4} -> FAR 1/5
    assert val_far(D, SAME, 0.5) == (pytest.approx(0.6), pytest.approx(0.2))
    # the threshold is inclusive (D <= d)
    assert val_far(D, SAME, 1.0) == (pytest.approx(0.8), pytest.approx(0.4))
    assert val_far(D, SAME, -1.0) == (0.0, 0.0)
    assert val_far(D, SAME, 5.0) == (1.0, 1.0)
    val, far = val_far(D, SAME, 0.5)
    assert isinstance(val, float) and isinstance(far, float)


def test_val_far_of_an_empty_side_is_nan():
    val, far = val_far(np.array([0.2, 0.4]), np.array([True, True]), 0.3)
    assert val == 0.5 and np.isnan(far)


def test_roc_steps_through_every_distance():
    thresholds, val, far = roc(D, SAME)
    assert thresholds[0] == -np.inf and (val[0], far[0]) == (0, 0)
    assert list(thresholds[1:]) == sorted(D)
    for th, v, f in zip(thresholds[1:], val[1:], far[1:]):
        assert (v, f) == pytest.approx(val_far(D, SAME, th))
    assert (val[-1], far[-1]) == (1.0, 1.0)


def test_roc_with_tied_distances():
    thresholds, val, far = roc(np.array([0.5, 0.5, 0.5]), np.array([True, False, True]))
    assert list(thresholds) == [-np.inf, 0.5]
    assert list(val) == [0.0, 1.0] and list(far) == [0.0, 1.0]


def test_val_at_far_by_hand():
    # FAR <= 0: no different pair may be accepted -> accept up to just below 0.4: VAL 2/5
    val, th = val_at_far(D, SAME, target_far=0.0)
    assert val == pytest.approx(0.4) and 0.3 <= th < 0.4
    # FAR <= 0.2 allows one false accept (0.4); the next one is at 1.0 -> VAL 4/5 (0.1 .. 0.9)
    val, th = val_at_far(D, SAME, target_far=0.2)
    assert val == pytest.approx(0.8) and 0.9 <= th < 1.0
    assert val_far(D, SAME, th) == (pytest.approx(0.8), pytest.approx(0.2))


def test_val_at_far_when_the_closest_pair_is_different():
    val, th = val_at_far(np.array([0.1, 0.5]), np.array([False, True]), target_far=1e-3)
    assert val == 0.0 and th < 0.1


def test_best_threshold_by_hand():
    th, acc = best_threshold(D, SAME)
    # accept <= 0.9: 4 of 5 same right, 4 of 5 different right -> 8/10 (no threshold does better)
    assert acc == pytest.approx(0.8)
    assert accuracy_at(D, SAME, th) == pytest.approx(0.8)
    separable = best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False]))
    assert separable == (pytest.approx(0.5), 1.0)  # halfway between the groups


def test_ten_folds_choose_the_threshold_on_the_other_nine():
    rng = np.random.default_rng(0)
    same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)
    fold = np.repeat(np.arange(10), 60)
    d = np.where(same, rng.normal(0.6, 0.2, len(same)), rng.normal(1.4, 0.2, len(same)))
    d[fold == 3] += 5.0  # fold 3 is shifted: a threshold learnt on the others fails on it
    result = ten_fold_accuracy(d, same, fold)
    assert result.per_fold[3] == pytest.approx(0.5)  # everything rejected: only the different pairs right
    others = [a for k, a in enumerate(result.per_fold) if k != 3]
    assert min(others) > 0.9
    assert result.mean == pytest.approx(np.mean(result.per_fold))
    assert result.standard_error == pytest.approx(np.std(result.per_fold, ddof=1) / np.sqrt(10))


def test_pair_distances_and_all_pairs():
    emb = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    assert pair_distances(emb, np.array([0, 1]), np.array([1, 2])).tolist() == [25.0, 20.0]
    left, right, same = all_pairs(np.array([0, 0, 1]))
    assert list(zip(left, right)) == [(0, 1), (0, 2), (1, 2)] and same.tolist() == [True, False, False]


def test_verify_reports_accuracy_at_a_given_threshold():
    v = verify(D, SAME, threshold=0.5)
    assert v.accuracy == pytest.approx(0.7)  # 3 same right + 4 different right
    assert v.best_threshold_accuracy == pytest.approx(0.8) and v.pairs == 10
