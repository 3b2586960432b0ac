"""Face verification as the FaceNet paper evaluates it (Sec. 4 defines VAL and FAR), and LFW's protocols.

For a set of pairs split into P_same (same person) and P_diff (different people) and a distance
threshold d, with D the squared L2 distance between the two embeddings of a pair:

    TA(d) = {pairs in P_same with D <= d}      true accepts
    FA(d) = {pairs in P_diff with D <= d}      false accepts
    VAL(d) = |TA(d)| / |P_same|                 validation rate
    FAR(d) = |FA(d)| / |P_diff|                 false accept rate

Also: VAL at a target FAR (e.g. 1e-3), the best-threshold accuracy, the ROC curve, and LFW's
protocols: View 1's pairsDevTest and View 2's pairs.txt, each with ten folds (the threshold is
chosen on nine, the accuracy measured on the tenth; mean and standard error over the ten).

    python -m model.evaluate CHECKPOINT [--data PATH] [--pca]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

# --------------------------------------------------------------------------------------------
# Pair statistics
# --------------------------------------------------------------------------------------------


def _as_pairs(distances, same) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    s = np.asarray(same).astype(bool).reshape(-1)
    if d.shape != s.shape:
        raise ValueError(f"distances ({d.shape}) and same ({s.shape}) must have the same length")
    return d, s


def val_far(distances, same, threshold: float) -> tuple[float, float]:
    """(VAL(d), FAR(d)) at threshold d: the share of same-person pairs accepted (D <= d) and
    the share of different-person pairs accepted. NaN for a share of an empty set."""
    d, s = _as_pairs(distances, same)
    accepted = d <= threshold
    n_same, n_diff = int(s.sum()), int((~s).sum())
    val = float((accepted & s).sum() / n_same) if n_same else float("nan")
    far = float((accepted & ~s).sum() / n_diff) if n_diff else float("nan")
    return val, far


def roc(distances, same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, VAL, FAR) at every distinct distance, thresholds increasing from the
    accept-nothing point (-inf: VAL = FAR = 0) to the accept-everything one."""
    d, s = _as_pairs(distances, same)
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    last = np.r_[d[1:] != d[:-1], True]  # the last pair at each distinct distance
    ta, fa = np.cumsum(s)[last], np.cumsum(~s)[last]
    n_same, n_diff = max(int(s.sum()), 1), max(int((~s).sum()), 1)
    thresholds = np.r_[-np.inf, d[last]]
    return thresholds, np.r_[0.0, ta / n_same], np.r_[0.0, fa / n_diff]


def _between(thresholds: np.ndarray, k: int) -> float:
    """A threshold halfway between candidate k and the next one (so it generalises to new pairs)."""
    if k + 1 >= len(thresholds):
        return float(thresholds[k])
    if not np.isfinite(thresholds[k]):
        return float(thresholds[k + 1]) - 1e-12
    return float((thresholds[k] + thresholds[k + 1]) / 2)


def val_at_far(distances, same, target_far: float = 1e-3) -> tuple[float, float]:
    """(VAL, threshold) at the largest threshold whose FAR is at most `target_far`."""
    thresholds, val, far = roc(distances, same)
    k = int(np.flatnonzero(far <= target_far + 1e-12)[-1])
    return float(val[k]), _between(thresholds, k)


def accuracy_at(distances, same, threshold: float) -> float:
    """Share of pairs classified right: same when D <= threshold, different otherwise."""
    d, s = _as_pairs(distances, same)
    return float(((d <= threshold) == s).mean())


def best_threshold(distances, same) -> tuple[float, float]:
    """(threshold, accuracy) of the threshold that classifies the most pairs right."""
    d, s = _as_pairs(distances, same)
    thresholds, val, far = roc(d, s)
    n_same, n_diff = int(s.sum()), int((~s).sum())
    correct = val * n_same + (1.0 - far) * n_diff
    k = int(np.argmax(correct))
    return _between(thresholds, k), float(correct[k] / len(d))


@dataclass
class TenFold:
    mean: float
    standard_error: float  # sample std over the folds / sqrt(folds), as LFW results report
    per_fold: list[float]
    thresholds: list[float]


def ten_fold_accuracy(distances, same, fold) -> TenFold:
    """LFW View 2: for each fold, the best threshold on the other folds, accuracy on this one."""
    d, s = _as_pairs(distances, same)
    fold = np.asarray(fold).reshape(-1)
    accs, ths = [], []
    for k in np.unique(fold):
        test = fold == k
        th, _ = best_threshold(d[~test], s[~test])
        accs.append(accuracy_at(d[test], s[test], th))
        ths.append(th)
    accs_arr = np.array(accs)
    se = float(accs_arr.std(ddof=1) / np.sqrt(len(accs))) if len(accs) > 1 else 0.0
    return TenFold(float(accs_arr.mean()), se, accs, ths)


def pair_distances(embeddings: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Squared L2 distance between rows `left[i]` and `right[i]` of `embeddings`."""
    diff = embeddings[left].astype(np.float64) - embeddings[right].astype(np.float64)
    return (diff * diff).sum(axis=1)


def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair (i < j) of a small labelled set: (left, right, same)."""
    i, j = np.triu_indices(len(labels), k=1)
    return i, j, labels[i] == labels[j]


def balanced_pairs(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every same-person pair of a small labelled set and as many different-person pairs drawn at
    random, so that accuracy is 50% by chance, as in LFW's protocol files."""
    i, j, same = all_pairs(labels)
    diff = np.flatnonzero(~same)
    keep = np.r_[np.flatnonzero(same), np.random.default_rng(seed).choice(diff, min(int(same.sum()), len(diff)), replace=False)]
    return i[keep], j[keep], same[keep]


@dataclass
class Verification:
    """Verification metrics of one set of pairs."""

    pairs: int
    accuracy: float  # at `threshold`
    threshold: float
    best_threshold_accuracy: float
    val_at_far: float
    val_threshold: float
    target_far: float = 1e-3


def verify(distances, same, threshold: float | None = None, target_far: float = 1e-3) -> Verification:
    """Metrics of a set of pairs; the accuracy is at `threshold` (chosen elsewhere) or, when None,
    at the best threshold on these very pairs."""
    best_th, best_acc = best_threshold(distances, same)
    th = best_th if threshold is None else threshold
    val, val_th = val_at_far(distances, same, target_far)
    return Verification(len(np.asarray(same)), accuracy_at(distances, same, th), th, best_acc, val, val_th, target_far)


# --------------------------------------------------------------------------------------------
# LFW
# --------------------------------------------------------------------------------------------

EmbedFn = Callable[[np.ndarray], np.ndarray]  # uint8 crops (N, S, S, 3) -> embeddings (N, D)


def embed_pairs(embed: EmbedFn, faces, pairs) -> np.ndarray:
    """Squared distances of protocol `pairs`, embedding each image of `faces` they use once."""
    left, right = pairs.indices(faces)
    used, inverse = np.unique(np.r_[left, right], return_inverse=True)
    emb = embed(faces.images[used])
    return pair_distances(emb, inverse[: len(left)], inverse[len(left) :])


def evaluate_lfw(embed: EmbedFn, faces, root: Path, view2: bool = True, devtrain_threshold: bool = True,
                 target_far: float = 1e-3) -> dict:
    """LFW verification metrics of an embedding.

    View 1, on pairsDevTest (people never seen by a model trained on peopleDevTrain): the headline
    accuracy picks its threshold by ten-fold cross-validation inside pairsDevTest, as View 2 does
    (each tenth is judged with the threshold that is best on the other nine); also reported, the
    accuracy at the threshold that is best on pairsDevTrain, which is biased for a model trained on
    those people (their distances shrink, so the threshold comes out too strict for new faces).
    View 2 (pairs.txt): the ten-fold accuracy, mean and standard error. `view2=False` and
    `devtrain_threshold=False` skip embedding those pairs (quick checks during training).
    """
    from model.data import lfw_pairs

    dev_test = lfw_pairs(root, "devtest")
    d_test = embed_pairs(embed, faces, dev_test)
    # ten folds of 50 matched + 50 mismatched pairs (the file lists the 500 matched ones first)
    folds = np.arange(len(dev_test)) % 10
    cv = ten_fold_accuracy(d_test, dev_test.same, folds)
    test = verify(d_test, dev_test.same, target_far=target_far)
    metrics = {
        "view1_devtest_accuracy": cv.mean,
        "view1_devtest_accuracy_standard_error": cv.standard_error,
        "view1_devtest_best_threshold_accuracy": test.best_threshold_accuracy,
        "view1_devtest_val_at_far_1e-3": test.val_at_far,
        "view1_devtest_threshold_at_far_1e-3": test.val_threshold,
        "view1_devtest_pairs": test.pairs,
    }
    if devtrain_threshold:
        dev_train = lfw_pairs(root, "devtrain")
        d_train = embed_pairs(embed, faces, dev_train)
        train_th, _ = best_threshold(d_train, dev_train.same)
        metrics["view1_devtest_accuracy_devtrain_threshold"] = accuracy_at(d_test, dev_test.same, train_th)
        metrics["view1_threshold_from_devtrain"] = train_th
    if view2:
        v2 = lfw_pairs(root, "view2")
        d_v2 = embed_pairs(embed, faces, v2)
        tf = ten_fold_accuracy(d_v2, v2.same, v2.fold)
        metrics.update({"view2_accuracy_mean": tf.mean, "view2_accuracy_standard_error": tf.standard_error,
                        "view2_val_at_far_1e-3": val_at_far(d_v2, v2.same, target_far)[0]})
    return metrics


def pca_embedder(train_crops: np.ndarray, n_components: int = 128, seed: int = 0) -> EmbedFn:
    """Eigenfaces (Turk & Pentland 1991): PCA fitted on training crops; a face's embedding is its
    coordinates on the first `n_components` principal components. The baseline to beat."""
    from sklearn.decomposition import PCA

    flat = train_crops.reshape(len(train_crops), -1).astype(np.float32) / 255.0
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(flat)
    return lambda crops: pca.transform(crops.reshape(len(crops), -1).astype(np.float32) / 255.0)


def pca_baseline_lfw(faces, root: Path, view2: bool = True) -> dict:
    """The eigenfaces baseline on the same LFW pairs, fitted on peopleDevTrain's images only."""
    from model.data import lfw_people

    train = faces.of_people(lfw_people(root, "devtrain"))
    return evaluate_lfw(pca_embedder(train.images), faces, root, view2=view2)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _table(rows: dict[str, dict]) -> str:
    keys = list(next(iter(rows.values())).keys())
    width = max(len(k) for k in keys)
    lines = [" " * width + "".join(f"{name:>14}" for name in rows)]
    for k in keys:
        lines.append(k.ljust(width) + "".join(f"{r[k]:>14.4f}" if isinstance(r[k], float) else f"{r[k]:>14}" for r in rows.values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from model.data import DataNotFoundError, load_lfw
    from model.embed import CheckpointError, load_model

    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default=None, help="checkpoint file (default: the shipped model)")
    parser.add_argument("--data", default=None, help="folder holding lfw/ (default: $FACENET_DATA, then scikit-learn's data home)")
    parser.add_argument("--pca", action="store_true", help="also compute the eigenfaces baseline on the same pairs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.checkpoint)
        faces = load_lfw(args.data, size=model.input_size)
    except (CheckpointError, DataNotFoundError) as err:
        print(err, file=sys.stderr)
        return 2
    from model.data import find_lfw

    root = find_lfw(args.data)
    rows = {"model": evaluate_lfw(model.embed_crops, faces, root)}
    if args.pca:
        rows["pca"] = pca_baseline_lfw(faces, root)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"checkpoint: {model.path}\nLFW: {root}\n")
        print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
