"""Lesson 8, "Embedding explorer": the map of real face embeddings, how it changes with the margin,
the mining and the training step, who is next to whom, and clustering.

The maps are precomputed (`model.maps`, from the comparison runs of `model.sweep`); nothing here
fits a UMAP. Distances are squared L2 distances between unit embeddings, as in the FaceNet paper
(Schroff, Kalenichenko & Philbin, CVPR 2015), whose Sec. 1 names the three uses of one embedding:
verification (a threshold on the distance), recognition (nearest neighbours) and clustering
(agglomerative clustering of the embeddings, Sec. 5.8). Also here:

* `neighbour_overlap`: how many of each photo's nearest neighbours in 128-D are its neighbours on
  the 2-D (or 3-D) map too, so the map is read for what it keeps and no more;
* `classifier_vs_threshold`: a softmax classifier trained on some of the explorer's people against
  the embedding with a distance threshold, both shown photos of people they were never given: the
  classifier must name one of its classes, the threshold can answer "unknown".
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from model.maps import SHIPPED, ExplorerMaps, RunMap
from model.sweep import Run

MINING_NAMES = {
    "semi-hard": "Semi-hard negatives (FaceNet)",
    "all": "Batch-all: every active triplet",
    "hard": "Hardest negatives (batch-hard)",  # the label is in shared links: keep it
    "random": "Random triplets",
}
TARGET_FAR = 1e-3
SEEN_SYMBOL, UNSEEN_SYMBOL = "circle", "diamond-open"

# --------------------------------------------------------------------------------------------
# Which run a choice of margin and mining shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One map the explorer can show: a comparison run or the shipped model."""

    run: str  # name in ExplorerMaps.runs
    margin: float
    mining: str
    steps: tuple[int, ...]

    @property
    def is_shipped(self) -> bool:
        return self.run == SHIPPED


def choices(maps: ExplorerMaps, runs: dict[str, Run], shipped_card: dict) -> list[Choice]:
    """Every map there is, with the margin and mining its run was trained with (from its card)."""
    found = []
    for name, run_map in maps.runs.items():
        hp = (shipped_card if name == SHIPPED else runs[name].card if name in runs else {}).get("hyperparameters") or {}
        if "margin" in hp and "mining" in hp:
            found.append(Choice(name, float(hp["margin"]), str(hp["mining"]), tuple(int(s) for s in run_map.steps)))
    return found


def margins_for(all_choices: list[Choice], mining: str) -> list[float]:
    """The margins the comparison runs cover for one mining strategy, smallest first."""
    return sorted({c.margin for c in all_choices if c.mining == mining and not c.is_shipped})


def minings(all_choices: list[Choice]) -> list[str]:
    """The mining strategies the comparison runs cover, in the order of MINING_NAMES."""
    have = {c.mining for c in all_choices if not c.is_shipped}
    return [m for m in MINING_NAMES if m in have]


def pick(all_choices: list[Choice], margin: float, mining: str) -> Choice:
    """The comparison run with this mining and the margin nearest to `margin`."""
    same = [c for c in all_choices if c.mining == mining and not c.is_shipped]
    if not same:
        raise KeyError(f"no comparison run uses {mining!r} mining")
    return min(same, key=lambda c: abs(c.margin - margin))


# --------------------------------------------------------------------------------------------
# What the run's card says at a step
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepMetrics:
    step: int
    val_at_far: float | None  # VAL at FAR = 1e-3 on pairsDevTest (people never trained on)
    accuracy: float | None  # pairsDevTest ten-fold accuracy (each tenth's threshold from the other nine)
    active_fraction: float | None  # share of the mined triplets with a positive loss, near this step
    measured_at: int | None  # the step the VAL and accuracy were measured at


def metrics_at(card: dict, step: int) -> StepMetrics:
    """The training record nearest to `step` of each quantity in a model card's history (the
    final metrics for the last step, and for a card without history)."""
    history = card.get("history") or []
    last_step = int((card.get("hyperparameters") or {}).get("steps", -1))
    metrics = card.get("metrics") or {}

    def nearest(key: str) -> tuple[float | None, int | None]:
        records = [r for r in history if r.get(key) is not None]
        if not records:
            return None, None
        best = min(records, key=lambda r: abs(r["step"] - step))
        return float(best[key]), int(best["step"])

    if step >= last_step and "view1_devtest_accuracy" in metrics:
        val, acc, at = metrics.get("view1_devtest_val_at_far_1e-3"), metrics["view1_devtest_accuracy"], last_step
    else:
        val, at = nearest("view1_devtest_val_at_far_1e-3")
        acc, _ = nearest("view1_devtest_accuracy")
    active, _ = nearest("active_fraction") if step > 0 else (None, None)
    return StepMetrics(step, val, acc, active, at)


# --------------------------------------------------------------------------------------------
# The map
# --------------------------------------------------------------------------------------------


def person_colours(count: int) -> list[str]:
    """`count` distinct colours: hues a golden angle apart, in three lightness bands. With 62
    people colour alone cannot tell everyone apart, so the names are in the hover text and the
    never-seen people also differ by marker shape."""
    colours = []
    for k in range(count):
        hue = (k * 0.381966) % 1.0
        light = (0.42, 0.58, 0.32)[k % 3]
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        colours.append(f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})")
    return colours


@dataclass(frozen=True)
class ExtraPoint:
    """A point that is not in the explorer set (a visitor's photo), drawn on top of the map."""

    position: tuple[float, ...]
    label: str
    group: str = "Your photos"


def _positions(points: np.ndarray, rows) -> dict:
    """x, y (and z) of the given rows of a map, rounded for a lighter page."""
    rows = np.asarray(rows, dtype=np.int64)
    out = {"x": points[rows, 0].round(3).tolist(), "y": points[rows, 1].round(3).tolist()}
    if points.shape[1] == 3:
        out["z"] = points[rows, 2].round(3).tolist()
    return out


def _name_positions(maps: ExplorerMaps, points: np.ndarray) -> np.ndarray:
    """Each person's median position: where their name is written."""
    return np.array([np.median(points[maps.labels == p], axis=0) for p in range(len(maps.names))])


def _trace_rows(maps: ExplorerMaps, selected) -> list[np.ndarray]:
    """The rows each photo trace shows, in trace order: seen people, never-seen people, selected."""
    rows = [np.flatnonzero(maps.seen), np.flatnonzero(~maps.seen)]
    rows = [r for r in rows if len(r)]
    if len(selected):
        rows.append(np.asarray(list(selected), dtype=np.int64))
    return rows


def map_traces(maps: ExplorerMaps, points: np.ndarray, *, colour_by: np.ndarray | None = None,
               selected: list[int] | tuple[int, ...] = (), show_names: bool = False) -> list[dict]:
    """Plotly traces of the map: the photos of people seen in training (filled circles), those of
    people never seen (open diamonds), the selected photos ringed and the people's names at their
    median position, in that order. `colour_by` (N,) ints recolours the photos (cluster ids); by
    default each person has a colour. `customdata` of a photo is its row. Points that are not in
    the explorer set go on top as `star_traces`."""
    dims = points.shape[1]
    labels = maps.labels
    groups = labels if colour_by is None else np.asarray(colour_by)
    colours = np.array(person_colours(int(groups.max()) + 1 if len(groups) else 1))[groups]
    who = np.array(maps.names)[labels]
    # SVG, not WebGL, in 2-D: only SVG traces glide from one frame to the next
    kind = "scatter" if dims == 2 else "scatter3d"
    traces = []
    for rows in _trace_rows(maps, selected)[:2]:
        seen = bool(maps.seen[rows[0]])
        hover = [f"{who[i]}<br>{maps.files[i].rsplit('/', 1)[-1]}" + ("" if colour_by is None else f"<br>cluster {groups[i]}")
                 for i in rows]
        traces.append({"type": kind, "mode": "markers", **_positions(points, rows), "customdata": rows.tolist(),
                       "name": f"People {'seen' if seen else 'never seen'} in training", "text": hover,
                       "hovertemplate": "%{text}<extra></extra>",
                       "marker": {"color": colours[rows].tolist(), "symbol": SEEN_SYMBOL if seen else UNSEEN_SYMBOL,
                                  "size": 5 if dims == 2 else 3,
                                  "line": {"width": 0 if seen else 1.2, "color": colours[rows].tolist()}}})
    if len(selected):
        rows = np.asarray(list(selected), dtype=np.int64)
        traces.append({"type": kind, "mode": "markers", **_positions(points, rows), "customdata": rows.tolist(),
                       "name": "Selected", "text": [who[i] for i in rows], "hovertemplate": "selected: %{text}<extra></extra>",
                       "marker": {"color": "rgba(0,0,0,0)", "size": 13 if dims == 2 else 7,
                                  "line": {"width": 2.5, "color": "black"}}})
    if show_names:
        centres = _name_positions(maps, points)
        traces.append({"type": kind, "mode": "text", "name": "Names", **_positions(centres, np.arange(len(centres))),
                       "text": [n.replace("_", " ") for n in maps.names], "textfont": {"size": 10}, "hoverinfo": "skip"})
    return traces


STAR_COLOUR = "#E69F00"  # Okabe-Ito orange


def star_traces(extra: list[ExtraPoint] | tuple, dims: int, colours: dict[str, str] | None = None) -> list[dict]:
    """Plotly traces of points that are not in the explorer set, drawn on a map of `dims` dimensions
    as labelled stars: one trace per group, in order of first appearance, coloured by `colours`
    (group -> colour; orange for a group it leaves out)."""
    colours = colours or {}
    traces = []
    for group in dict.fromkeys(p.group for p in extra):
        xyz = np.array([p.position for p in extra if p.group == group], dtype=np.float64)
        traces.append({"type": "scatter" if dims == 2 else "scatter3d", "mode": "markers+text", "name": group,
                       **_positions(xyz, np.arange(len(xyz))),
                       "text": [p.label for p in extra if p.group == group], "textposition": "top center",
                       "marker": {"symbol": "star", "size": 18 if dims == 2 else 9,
                                  "color": colours.get(group, STAR_COLOUR), "line": {"width": 1.5, "color": "black"}}})
    return traces


def map_frames(maps: ExplorerMaps, run_map: RunMap, dims: int = 2, *, selected=(), show_names: bool = False) -> list[dict]:
    """One Plotly animation frame per snapshot step of a run: the new positions of the traces that
    `map_traces` made with the same `selected` and `show_names`, so the browser can glide the map
    through training without asking the server."""
    frames = []
    for step in run_map.steps:
        points = run_map.points(int(step), dims)
        data = [_positions(points, rows) for rows in _trace_rows(maps, selected)]
        if show_names:
            centres = _name_positions(maps, points)
            data.append(_positions(centres, np.arange(len(centres))))
        frames.append({"name": str(int(step)), "data": data, "traces": list(range(len(data)))})
    return frames


GLIDE = {"duration": 700, "easing": "cubic-in-out"}


def glide_controls(steps, current: int) -> dict:
    """Layout pieces for the map's own play button and step slider (Plotly animation, in the
    browser): the map glides from snapshot to snapshot. The page's step slider sets where it starts."""
    def go_to(names, frame_ms):
        return [names, {"mode": "immediate", "fromcurrent": False, "transition": GLIDE,
                        "frame": {"duration": frame_ms, "redraw": False}}]

    names = [str(int(s)) for s in steps]
    return {
        "updatemenus": [{"type": "buttons", "direction": "left", "showactive": False, "x": 0, "y": -0.02,
                         "xanchor": "left", "yanchor": "top", "pad": {"t": 10, "r": 10},
                         "buttons": [{"label": "▶ Glide through training", "method": "animate", "args": go_to(names, 1100)},
                                     {"label": "❚❚", "method": "animate",
                                      "args": [[None], {"mode": "immediate", "frame": {"duration": 0, "redraw": False},
                                                        "transition": {"duration": 0}}]}]}],
        "sliders": [{"active": names.index(str(int(current))) if str(int(current)) in names else len(names) - 1,
                     "x": 0.3, "len": 0.7, "y": -0.02, "yanchor": "top", "pad": {"t": 10},
                     "currentvalue": {"prefix": "map at step ", "visible": True},
                     "transition": GLIDE,
                     "steps": [{"label": n, "method": "animate", "args": go_to([n], 0)} for n in names]}],
    }


def map_layout(dims: int) -> dict:
    """Axes without ticks (a UMAP map's axes have no meaning) and a constant `uirevision`, so that a
    zoom survives a change of step or run."""
    axis = {"showticklabels": False, "title": "", "zeroline": False, "showgrid": False}
    layout = {"uirevision": "explorer-map", "hovermode": "closest", "dragmode": "lasso" if dims == 2 else "orbit"}
    if dims == 2:
        layout |= {"xaxis": axis, "yaxis": axis}
    else:
        layout["scene"] = {"xaxis": axis, "yaxis": axis, "zaxis": axis, "aspectmode": "data"}
    return layout


def selected_rows(selection: dict | None, limit: int | None = None) -> list[int]:
    """Rows of the explorer set picked on the map, from Streamlit's Plotly selection state
    (`{"points": [{"customdata": row, ...}], ...}`), in the order picked, without repeats. Points of
    other traces (names, visitors' photos) carry no row and are left out."""
    rows = []
    for point in (selection or {}).get("points", []):
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, (int, float)) and not isinstance(data, bool) and int(data) == data and int(data) not in rows:
            rows.append(int(data))
    return rows[:limit] if limit else rows


# --------------------------------------------------------------------------------------------
# Neighbours and distances
# --------------------------------------------------------------------------------------------


def squared_distances_to(embeddings: np.ndarray, row: np.ndarray | int) -> np.ndarray:
    """Squared L2 distances from the photo(s) `row` to every photo, (N,) or (len(row), N)."""
    e = embeddings.astype(np.float64)
    q = e[row]
    return np.maximum(2.0 - 2.0 * q @ e.T, 0.0)


@dataclass(frozen=True)
class Neighbour:
    row: int
    distance: float  # squared L2
    same_person: bool


def nearest_neighbours(embeddings: np.ndarray, labels: np.ndarray, row: int, k: int = 5) -> list[Neighbour]:
    """The k photos nearest to photo `row` (itself left out), nearest first."""
    d = squared_distances_to(embeddings, row)
    d[row] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return [Neighbour(int(i), float(d[i]), bool(labels[i] == labels[row])) for i in order]


def threshold_at_far(embeddings: np.ndarray, labels: np.ndarray, rows: np.ndarray,
                     target_far: float = TARGET_FAR) -> tuple[float, float]:
    """(threshold, VAL) at FAR = target_far over every pair of the photos `rows`: the explorer's
    own verification threshold, measured at each step on the people never seen in training."""
    from model.evaluate import all_pairs, pair_distances, val_at_far

    left, right, same = all_pairs(labels[rows])
    d = pair_distances(embeddings[rows], left, right)
    val, threshold = val_at_far(d, same, target_far)
    return threshold, val


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------

LINKAGES = {
    "average": "Average linkage: two clusters merge when their photos are this close on average",
    "complete": "Complete linkage: when even their farthest photos are this close",
    "single": "Single linkage: when any one photo of each is this close (prone to chaining)",
}


def cluster_tree(embeddings: np.ndarray, linkage: str = "average") -> np.ndarray:
    """The agglomerative clustering of the embeddings under squared L2 distance (scipy's linkage
    matrix): cut it at any threshold with `clusters_at`."""
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import pdist

    return scipy_linkage(pdist(embeddings.astype(np.float64), "sqeuclidean"), method=linkage)


def clusters_at(tree: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) cluster ids 0..C-1, largest cluster first: the clusters whose merges all happened at
    a squared distance of at most `threshold`."""
    from scipy.cluster.hierarchy import fcluster

    raw = fcluster(tree, t=threshold, criterion="distance")
    ids, counts = np.unique(raw, return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    relabel = np.empty(raw.max() + 1, dtype=np.int64)
    relabel[order] = np.arange(len(order))
    return relabel[raw]


@dataclass(frozen=True)
class ClusterScores:
    clusters: int
    people: int
    singletons: int  # clusters of one photo
    pair_precision: float  # of the pairs put in one cluster, the share that are one person
    pair_recall: float  # of the same-person pairs, the share put in one cluster
    adjusted_rand: float  # agreement with the true people, 0 by chance, 1 when identical
    homogeneity: float  # 1 when every cluster holds one person only
    completeness: float  # 1 when every person is in one cluster only


def cluster_scores(clusters: np.ndarray, labels: np.ndarray) -> ClusterScores:
    """How well clusters match people, by pairs of photos and by scikit-learn's scores."""
    from sklearn import metrics

    contingency = metrics.cluster.contingency_matrix(labels, clusters, sparse=True)
    both = float((contingency.data.astype(np.float64) * (contingency.data - 1) / 2).sum())
    cluster_sizes = np.bincount(clusters).astype(np.float64)
    person_sizes = np.bincount(labels).astype(np.float64)
    together = float((cluster_sizes * (cluster_sizes - 1) / 2).sum())
    same = float((person_sizes * (person_sizes - 1) / 2).sum())
    h, c, _ = metrics.homogeneity_completeness_v_measure(labels, clusters)
    return ClusterScores(
        clusters=len(cluster_sizes), people=int((person_sizes > 0).sum()), singletons=int((cluster_sizes == 1).sum()),
        pair_precision=both / together if together else 1.0, pair_recall=both / same if same else 1.0,
        adjusted_rand=float(metrics.adjusted_rand_score(labels, clusters)), homogeneity=float(h), completeness=float(c))


def adjusted_rand(clusters: np.ndarray, labels: np.ndarray) -> float:
    """The adjusted Rand index of two labelings from their contingency table (the formula of
    Hubert & Arabie, 1985, as scikit-learn's `adjusted_rand_score`, which the tests compare with):
    counting in numpy keeps a curve of 60 thresholds under 0.1 s."""
    n = len(labels)
    table = np.bincount(labels * (int(clusters.max()) + 1) + clusters).astype(np.float64)
    pairs = lambda counts: float((counts * (counts - 1) / 2).sum())  # noqa: E731
    both, by_label, by_cluster = pairs(table), pairs(np.bincount(labels).astype(np.float64)), pairs(np.bincount(clusters).astype(np.float64))
    expected = by_label * by_cluster / (n * (n - 1) / 2)
    top = (by_label + by_cluster) / 2
    return 1.0 if top == expected else (both - expected) / (top - expected)


def cluster_curve(tree: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """The number of clusters and their adjusted Rand index with the people, at each threshold."""
    n = len(labels)
    merges = np.sort(tree[:, 2])
    return {"threshold": thresholds,
            "clusters": n - np.searchsorted(merges, thresholds, side="right"),
            "adjusted_rand": np.array([adjusted_rand(clusters_at(tree, t), labels) for t in thresholds])}


def cluster_table(clusters: np.ndarray, labels: np.ndarray, names: list[str], top: int = 12) -> list[dict]:
    """The largest clusters: size, the person most of it shows, and that person's share."""
    rows = []
    for cid in range(min(top, int(clusters.max()) + 1)):
        members = labels[clusters == cid]
        counts = np.bincount(members, minlength=len(names))
        main = int(np.argmax(counts))
        rows.append({"cluster": cid, "photos": int(len(members)), "mostly": names[main].replace("_", " "),
                     "share of that person": float(counts[main] / len(members)),
                     "of their photos": float(counts[main] / max(int((labels == main).sum()), 1)),
                     "people in it": int((counts > 0).sum())})
    return rows


# --------------------------------------------------------------------------------------------
# How faithful the map is: neighbours kept from 128-D to 2-D
# --------------------------------------------------------------------------------------------

NEIGHBOURS = 10


def nearest_rows(points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(N, k): each point's k nearest other points under (squared) L2 distance, in no order; ties
    at the k-th distance are broken arbitrarily. Maps (2-D, 3-D) use a k-d tree, embeddings a
    matrix product."""
    x = np.asarray(points, dtype=np.float32)
    if x.shape[1] <= 3:
        from scipy.spatial import cKDTree

        # k + 1 nearest include the point itself, unless it shares its place with others
        found = cKDTree(x).query(x, k=k + 1)[1]
        rows = np.arange(len(x))[:, None]
        self_at = found == rows
        keep = np.where(self_at.any(axis=1, keepdims=True), ~self_at, np.arange(k + 1)[None, :] < k)
        return found[keep].reshape(len(x), k)
    sq = (x * x).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(d, np.inf)
    return np.argpartition(d, k, axis=1)[:, :k]


def overlap_of(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """(N,) how many of the neighbours in each row of `low` are also in that row of `high`."""
    n = len(high)
    member = np.zeros((n, n), dtype=bool)
    member[np.arange(n)[:, None], high] = True
    return member[np.arange(n)[:, None], low].sum(axis=1)


def neighbour_overlap(embeddings: np.ndarray, points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(N,) ints 0..k: how many of each photo's k nearest neighbours in the embedding are also among
    its k nearest on the map `points`."""
    return overlap_of(nearest_rows(embeddings, k), nearest_rows(points, k))


def chance_overlap(n: int, k: int = NEIGHBOURS) -> float:
    """The overlap a map with the photos in random places would keep on average: k * k / (n - 1)."""
    return k * k / (n - 1)


@dataclass(frozen=True)
class Faithfulness:
    """Neighbours kept by one map of one run at one step: per photo, how many of its `k` nearest
    neighbours in 128-D are among its `k` nearest on the 2-D and on the 3-D map."""

    step: int
    overlap_2d: np.ndarray  # (N,) ints 0..k
    overlap_3d: np.ndarray
    k: int

    @property
    def chance(self) -> float:
        return chance_overlap(len(self.overlap_2d), self.k)

    def mean(self, dims: int = 2) -> float:
        return float((self.overlap_2d if dims == 2 else self.overlap_3d).mean())

    def histogram(self, dims: int = 2) -> np.ndarray:
        """(k + 1,) how many photos keep 0, 1, ..., k of their neighbours."""
        return np.bincount(self.overlap_2d if dims == 2 else self.overlap_3d, minlength=self.k + 1)


def faithfulness(run_map: RunMap, step: int, k: int = NEIGHBOURS) -> Faithfulness:
    """How many of each photo's k nearest neighbours in the embedding the run's maps keep at `step`."""
    high = nearest_rows(run_map.embeddings(step), k)
    return Faithfulness(int(run_map.steps[run_map.frame(step)]),
                        overlap_of(high, nearest_rows(run_map.points(step, 2), k)),
                        overlap_of(high, nearest_rows(run_map.points(step, 3), k)), k)


# --------------------------------------------------------------------------------------------
# A classifier must name someone; a distance with a threshold can say "unknown"
# --------------------------------------------------------------------------------------------

UNKNOWN = -1


@dataclass(frozen=True)
class OpenSetComparison:
    """Probe photos answered twice: by a softmax classifier over the known people, and by the
    nearest enrolled photo if it is within `threshold` (else UNKNOWN). Answers are people's labels."""

    known_people: np.ndarray  # labels the classifier was trained on (and the gallery holds)
    enrolled_rows: np.ndarray  # training photos of the classifier = the gallery's photos
    probe_rows: np.ndarray
    is_known: np.ndarray  # (probes,) the probe's person is one of the known people
    truth: np.ndarray  # (probes,) the probe's person
    classifier: np.ndarray  # (probes,) the classifier's answer
    by_threshold: np.ndarray  # (probes,) the threshold's answer, or UNKNOWN
    threshold: float

    def _share(self, answers: np.ndarray, known: bool, what: str) -> float:
        rows = self.is_known if known else ~self.is_known
        if not rows.any():
            return float("nan")
        a, t = answers[rows], self.truth[rows]
        hit = {"named": a != UNKNOWN, "right": a == t, "unknown": a == UNKNOWN, "wrong": (a != UNKNOWN) & (a != t)}[what]
        return float(hit.mean())

    def strangers_named(self, by: str) -> float:
        """Share of the strangers' photos given a known person's name, by "classifier" or "threshold"."""
        return self._share(self.classifier if by == "classifier" else self.by_threshold, False, "named")

    def known(self, by: str, what: str) -> float:
        """Share of the known people's probe photos answered "right", "wrong" or "unknown"."""
        return self._share(self.classifier if by == "classifier" else self.by_threshold, True, what)

    @property
    def strangers(self) -> int:
        return int((~self.is_known).sum())


def people_order(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Every person of the explorer set in a fixed shuffled order: the first K are the known ones."""
    return np.random.default_rng(seed).permutation(int(labels.max()) + 1)


def classifier_vs_threshold(embeddings: np.ndarray, labels: np.ndarray, known_people: int, threshold: float,
                            enrolled: int = 10, seed: int = 0) -> OpenSetComparison:
    """Train scikit-learn's softmax (multinomial logistic regression, its default settings) on the
    first `enrolled` photos of `known_people` people, and enrol the same photos in a gallery. Probe
    both with the other photos of those people and with every photo of everyone else (strangers,
    whom the right answer is "unknown")."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    known = np.sort(people_order(labels, seed)[:known_people])
    rows = np.arange(len(labels))
    order = np.lexsort((rows, labels))  # each person's photos in file order
    rank = np.empty_like(rows)
    starts = np.r_[0, np.flatnonzero(np.diff(labels[order])) + 1]
    rank[order] = rows - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    is_known_row = np.isin(labels, known)
    enrolled_rows = rows[is_known_row & (rank < enrolled)]
    probe_rows = rows[~(is_known_row & (rank < enrolled))]
    x = np.asarray(embeddings, dtype=np.float64)
    classifier = LogisticRegression(max_iter=1000).fit(x[enrolled_rows], labels[enrolled_rows])
    said = classifier.predict(x[probe_rows])
    d = np.maximum(2.0 - 2.0 * x[probe_rows] @ x[enrolled_rows].T, 0.0)  # unit rows: squared distances
    nearest = d.argmin(axis=1)
    by_threshold = np.where(d[np.arange(len(d)), nearest] <= threshold, labels[enrolled_rows][nearest], UNKNOWN)
    return OpenSetComparison(known, enrolled_rows, probe_rows, is_known_row[probe_rows], labels[probe_rows],
                             said.astype(np.int64), by_threshold.astype(np.int64), float(threshold))
