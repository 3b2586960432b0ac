"""Lesson 7, "Evaluation": true and false accepts, VAL and FAR on the shipped model's real LFW
distances, the faces behind its mistakes, and the two questions students always ask (strangers
recognised as someone in a gallery; what a "percentage" can mean, up to P(same | D) under a prior
the student sets, calibrated and checked), a threshold carried from the training people to new ones,
and three predict-then-see moments. Layout only: the numbers come from lessons/evaluation.py, which
calls model/evaluate.py."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from lessons import evaluation as lesson
from lessons.content import LessonText
from ui.colors import BLUE, GREEN, GREY, ORANGE, SAME_DIFFERENT_COLORS, VERMILLION
from ui.loaders import (data_path, devtest_pairs, face_model, lfw_embeddings, lfw_photos, photo_index,
                        unseen_pairs_reference)
from ui.widgets import as_arrays, check_yourself, lesson_header, plot, predict_then_see, thumbnail, try_this

words = LessonText("evaluation")
SAME, DIFF = SAME_DIFFERENT_COLORS["same person"], SAME_DIFFERENT_COLORS["different people"]
STEP = 0.001  # threshold slider step (squared distance)


# --------------------------------------------------------------------------------------------
# Cached computations (keyed by the embeddings' checkpoint digest; the object itself is not hashed)
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def devtest(sha: str, _lfw) -> dict:
    pairs = devtest_pairs(sha, _lfw)
    far_val, far_th = lesson.val_at_far(pairs, 1e-3)
    best_th, best_acc = lesson.best_threshold(pairs)
    return {"pairs": pairs, "roc": lesson.roc_curve(pairs), "val_at_far": far_val, "far_threshold": far_th,
            "far_slider": lesson.on_grid(pairs, far_th, STEP), "best_threshold": best_th, "best_accuracy": best_acc,
            "best_slider": lesson.on_grid(pairs, best_th, STEP), "ten_fold": lesson.ten_fold(pairs),
            "reference": lesson.reference_from_pairs(pairs)}


@st.cache_resource(show_spinner=False, max_entries=4)  # keyed by the data folder: bounded
def devtrain(sha: str, data_folder: str, _lfw) -> lesson.Pairs | None:
    """pairsDevTrain under the model, or None without LFW's pairsDevTrain.txt."""
    from model.data import DataNotFoundError, find_lfw

    try:
        return lesson.devtrain_pairs(_lfw, find_lfw(data_folder or None))
    except (DataNotFoundError, KeyError, ValueError):
        return None


@st.cache_resource(show_spinner=False)
def transfer_view(sha: str, train_threshold: float, _test: lesson.Pairs, _train: lesson.Pairs | None) -> dict:
    """The threshold carried from pairsDevTrain to pairsDevTest, the median distances of both and
    the figure of their distances (a plain dict, built once: drawn on every rerun)."""
    transfer = lesson.threshold_transfer(_test, train_threshold)
    out = {"transfer": transfer, "test": lesson.median_distances(_test), "figure": None}
    if _train is not None:
        out["train"] = lesson.median_distances(_train)
        traces = [as_arrays(dict(type="histogram", x=ps.distances[mask].round(4).tolist(), name=f"{name}: {kind}",
                                 xbins=dict(start=0.0, end=4.0, size=0.05), histnorm="probability",
                                 marker=dict(color=color), opacity=0.45 if name == "pairsDevTest" else 0.8,
                                 hovertemplate="D from %{x}: %{y:.1%}<extra>" + f"{name}, {kind}" + "</extra>"))
                  for name, ps in (("pairsDevTrain", _train), ("pairsDevTest", _test))
                  for kind, mask, color in (("same person", ps.same, SAME), ("different people", ~ps.same, DIFF))]
        lines = [vline(transfer.train_threshold), vline(transfer.ten_fold_threshold) | {"line": dict(
            color=GREY, width=2, dash="dot")}]
        out["figure"] = dict(data=traces, layout=dict(
            barmode="overlay", height=400, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.2),
            title=dict(text="Training people (solid) against new people (pale)"), shapes=lines,
            annotations=[dict(x=transfer.train_threshold, y=1.0, yref="paper", text="from pairsDevTrain ",
                              showarrow=False, xanchor="right", yanchor="top"),
                         dict(x=transfer.ten_fold_threshold, y=0.92, yref="paper", text=" ten folds",
                              showarrow=False, xanchor="left", yanchor="top")],
            xaxis=dict(title=dict(text="squared distance D"), range=[0, 3.5]),
            yaxis=dict(title=dict(text="share of the set's pairs per bin of 0.05"))))
    return out


@st.cache_resource(show_spinner=False)
def calibrations(sha: str, has_train: bool, _test: lesson.Pairs, _train: lesson.Pairs | None) -> dict:
    """The logistic fits on new people (pairsDevTest) and on the training people (pairsDevTrain),
    each with its reliability on pairsDevTest at the test pairs' own prior."""
    new = lesson.calibrate(_test, "new people")
    out = {"new": new, "new_reliability": lesson.reliability(lesson.cross_fitted_posteriors(_test), _test.same)}
    if _train is not None:
        train = lesson.calibrate(_train, "training people")
        out |= {"train": train,
                "train_reliability": lesson.reliability(train.posterior(_test.distances, _test.same.mean()), _test.same)}
    return out


@st.cache_resource(show_spinner=False, max_entries=64)
def open_set(sha: str, people: int, enrolled: int, _lfw) -> lesson.OpenSetExperiment:
    return lesson.open_set_experiment(_lfw, people, enrolled)


@st.cache_resource(show_spinner=False)
def candidates(sha: str, _lfw) -> int:
    return len(lesson.open_set_candidates(_lfw))


@st.cache_resource(show_spinner=False, max_entries=4)  # keyed by the data folder: bounded
def photo_rows(sha: str, data_folder: str, n_photos: int, _lfw, _photos) -> np.ndarray:
    """Row of each embedding's photo in the FaceSet (-1 where the photo is missing)."""
    index = photo_index(_photos)
    return np.array([index.get(f, -1) for f in _lfw.files])


def pair_image(photos, rows: np.ndarray, a: int, b: int) -> np.ndarray | None:
    """Two face crops side by side with a white gap, or None if either photo is missing."""
    ra, rb = rows[a], rows[b]
    if ra < 0 or rb < 0:
        return None
    left, right = photos.images[ra], photos.images[rb]
    gap = np.full((left.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([left, gap, right], axis=1)


def person(lfw, row: int) -> str:
    return lfw.names[lfw.labels[row]].replace("_", " ")


def vline(x: float) -> dict:
    """A dashed vertical line across the plot at x (a layout shape)."""
    return dict(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color="black", width=2, dash="dash"))


def latex_number(x: int | float) -> str:
    return f"{x:,}".replace(",", "{,}") if isinstance(x, int) else f"{x:.4f}"


def show_pairs(photos, rows, lfw, items: list[tuple[int, int, str]], empty: str, key: str) -> None:
    """Face pairs with captions, or (without photos) a table of names."""
    if not items:
        st.caption(empty)
        return
    if photos is not None:
        images, captions = [], []
        for a, b, caption in items:
            im = pair_image(photos, rows, a, b)
            if im is not None:
                images.append(im)
                captions.append(caption)
        if images:
            st.image([thumbnail(im) for im in images], caption=captions, width=200)
            return
    st.dataframe([{"left": person(lfw, a), "right": person(lfw, b), "what": caption} for a, b, caption in items],
                 hide_index=True, width="stretch", key=key)


def prompts_and_questions() -> None:
    try_this(words("try"))
    check_yourself(words.questions(), key="evaluation")


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

lesson_header("pages/evaluation.py")
st.markdown(words("intro"))

lfw = lfw_embeddings()
if lfw is None:
    st.info(words("no-embeddings"))
    prompts_and_questions()
    st.stop()
sha = lfw.checkpoint_sha256 or "unknown"
dt = devtest(sha, lfw)
pairs: lesson.Pairs = dt["pairs"]
model = face_model()
metrics = (model.card.get("metrics") or {}) if model is not None else {}

# --------------------------------------------------------------------------------------------
# The threshold
# --------------------------------------------------------------------------------------------

st.header("Pick a threshold")


def jump(to: str) -> None:
    st.session_state["eval-threshold"] = dt["far_slider"] if to == "far" else dt["best_slider"]


st.session_state.setdefault("eval-threshold", dt["best_slider"])
threshold = st.slider(words("label-threshold"), 0.0, 4.0, step=STEP, format="%.3f", key="eval-threshold",
                      bind="query-params")
b0, b1, b2 = st.columns([1, 1, 1], vertical_alignment="center")
b0.markdown(words("jump-to"))
b1.button("FAR = 0.001", key="eval-jump-far", on_click=jump, args=("far",), width="stretch",
          help=words("help-jump-far"))
b2.button("Best accuracy", key="eval-jump-best", on_click=jump, args=("best",), width="stretch",
          help=words("help-jump-best"))

c = lesson.counts_at(pairs, threshold)
m = st.columns(5)
m[0].metric("|TA(d)|", f"{c.true_accepts}", border=True,
            help=words("help-true-accepts", n_same=c.n_same))
m[1].metric("|FA(d)|", f"{c.false_accepts}", border=True,
            help=words("help-false-accepts", n_diff=c.n_diff))
m[2].metric("VAL(d)", f"{c.val:.1%}", border=True, help=words("help-val"))
m[3].metric("FAR(d)", f"{c.far:.1%}", border=True, help=words("help-far"))
m[4].metric("Accuracy", f"{c.accuracy:.1%}", border=True, help=words("help-accuracy"))
st.latex(rf"\mathrm{{VAL}}({threshold:.3f}) = \frac{{|\mathrm{{TA}}({threshold:.3f})|}}{{|P_\mathrm{{same}}|}}"
         rf" = \frac{{{c.true_accepts}}}{{{c.n_same}}} = {c.val:.4f}")
st.latex(rf"\mathrm{{FAR}}({threshold:.3f}) = \frac{{|\mathrm{{FA}}({threshold:.3f})|}}{{|P_\mathrm{{diff}}|}}"
         rf" = \frac{{{c.false_accepts}}}{{{c.n_diff}}} = {c.far:.4f}")
st.latex(rf"\text{{accuracy}} = \frac{{|\mathrm{{TA}}| + |\mathrm{{TR}}|}}{{|P_\mathrm{{same}}| + |P_\mathrm{{diff}}|}}"
         rf" = \frac{{{c.true_accepts} + {c.true_rejects}}}{{{c.n_same} + {c.n_diff}}} = {c.accuracy:.4f}")

val_revealed = predict_then_see(words.prediction("val-at-far"), dt["val_at_far"], key="eval-val-at-far",
                                shown=lambda v: f"{float(v):.0%}")

hist_col, roc_col = st.columns(2)
bins = dict(start=0.0, end=4.0, size=0.05)
hist = go.Figure(
    data=[go.Histogram(x=pairs.distances[mask], name=f"{name} ({int(mask.sum())} pairs)", xbins=bins,
                       marker_color=color, opacity=0.65,
                       hovertemplate="D from %{x}: %{y} pairs<extra>" + name + "</extra>")
          for name, mask, color in (("same person", pairs.same, SAME), ("different people", ~pairs.same, DIFF))],
    layout=dict(barmode="overlay", height=420, margin=dict(t=40, b=10), title=dict(text="Distances of the 1,000 pairs"),
                legend=dict(orientation="h", y=-0.2), shapes=[vline(threshold)],
                annotations=[dict(x=threshold, y=0.97, yref="paper", text=f" d = {threshold:.3f}", showarrow=False,
                                  xanchor="left", yanchor="top")],
                xaxis=dict(title=dict(text="squared distance D between the two embeddings"),
                           range=[0, max(3.5, threshold + 0.1)]),
                yaxis=dict(title=dict(text="pairs per bin of 0.05"))))
with hist_col:
    plot(hist, key="eval-histogram")

thresholds, val_curve, far_curve = dt["roc"]
log_x = roc_col.toggle("Logarithmic FAR axis", value=False, key="eval-roc-log", bind="query-params",
                       help=words("help-log-far"))
floor = 1e-4  # where FAR = 0 is drawn on the log axis
xs = np.maximum(far_curve, floor) if log_x else far_curve
roc_fig = go.Figure(
    data=[go.Scatter(x=xs, y=val_curve, mode="lines", name="ROC: every threshold", line=dict(color=BLUE, shape="hv"),
                     customdata=np.c_[thresholds, far_curve],
                     hovertemplate="d = %{customdata[0]:.3f}<br>FAR %{customdata[1]:.3f}, VAL %{y:.3f}<extra></extra>"),
          go.Scatter(x=[max(c.far, floor) if log_x else c.far], y=[c.val], mode="markers", name=f"your d = {threshold:.3f}",
                     marker=dict(size=14, color=ORANGE, line=dict(color="black", width=1)),
                     hovertemplate="FAR %{x:.3f}, VAL %{y:.3f}<extra>your threshold</extra>")]
    + ([go.Scatter(x=[floor if log_x else 0.0], y=[dt["val_at_far"]], mode="markers", name="VAL at FAR = 0.001",
                   marker=dict(size=12, symbol="diamond", color=GREEN),
                   hovertemplate="VAL at FAR = 0.001: %{y:.3f}<extra></extra>")] if val_revealed else []),
    layout=dict(height=420, margin=dict(t=40, b=10), title=dict(text="VAL against FAR (ROC curve)"),
                legend=dict(orientation="h", y=-0.2),
                xaxis=dict(title=dict(text="FAR: share of different-person pairs accepted"
                                      + (" (log; FAR = 0 drawn at 0.0001)" if log_x else "")),
                           type="log" if log_x else "linear", range=[-4.1, 0.05] if log_x else [-0.02, 1.02]),
                yaxis=dict(title=dict(text="VAL: share of same-person pairs accepted"), range=[-0.02, 1.02])))
with roc_col:
    plot(roc_fig, key="eval-roc")

allowed = lesson.false_accept_pairs_allowed(c.n_diff, 1e-3)
card_val = metrics.get("view1_devtest_val_at_far_1e-3")
card = words("val-at-far-card", card_val=card_val) if isinstance(card_val, (int, float)) else ""
if val_revealed:
    st.markdown(words("val-at-far", val=dt["val_at_far"], threshold=dt["far_threshold"], card=card, n_diff=c.n_diff,
                      share=c.n_diff * 1e-3, allowed=allowed, closest=pairs.distances[~pairs.same].min(),
                      reach=1 / c.n_diff))

tf = dt["ten_fold"]
st.subheader("The accuracy LFW reports: ten folds")
st.markdown(words("ten-folds"))
card_acc = metrics.get("view1_devtest_accuracy")
f1, f2, f3 = st.columns(3)
f1.metric("Ten-fold accuracy", f"{tf.mean:.1%}", border=True, help=words("help-ten-fold"))
f2.metric("Model card says", f"{card_acc:.1%}" if isinstance(card_acc, (int, float)) else "-", border=True)
f3.metric("One threshold for all", f"{dt['best_accuracy']:.1%}", border=True,
          help=words("help-one-threshold", threshold=dt["best_threshold"]))
st.caption(words("ten-fold-caption", mean=tf.mean, standard_error=tf.standard_error))
with st.expander("The ten folds"):
    st.dataframe([{"fold": k + 1, "threshold chosen on the other nine": th, "accuracy on this fold": acc}
                  for k, (th, acc) in enumerate(zip(tf.thresholds, tf.per_fold))], hide_index=True, width="stretch",
                 column_config={"accuracy on this fold": st.column_config.NumberColumn(format="percent"),
                                "threshold chosen on the other nine": st.column_config.NumberColumn(format="%.4f")})

# --------------------------------------------------------------------------------------------
# A threshold chosen on the training people, used on new ones
# --------------------------------------------------------------------------------------------

st.subheader("A threshold chosen on the people the model trained on")
st.markdown(words("transfer-intro"))
train_pairs = devtrain(sha, data_path(), lfw)
card_threshold = metrics.get("view1_threshold_from_devtrain")
if train_pairs is not None:
    train_threshold = lesson.best_threshold(train_pairs)[0]
elif isinstance(card_threshold, (int, float)):
    train_threshold = float(card_threshold)
else:
    train_threshold = None
if train_threshold is None:
    st.info(words("no-transfer"), icon=":material/info:")
else:
    view = transfer_view(sha, train_threshold, pairs, train_pairs)
    transfer = view["transfer"]
    tp = words.prediction("transfer", ten_fold=transfer.ten_fold_accuracy)
    verdict = lesson.transfer_verdict(transfer.transfer_accuracy, transfer.ten_fold_accuracy)
    if predict_then_see(tp, tp.options[verdict], key="eval-transfer"):
        t1, t2, t3, t4 = st.columns(4)
        t1.metric("Threshold from pairsDevTrain", f"{transfer.train_threshold:.3f}", border=True,
                  help=words("help-transfer-threshold"))
        t2.metric("Its accuracy on new people", f"{transfer.transfer_accuracy:.1%}", border=True,
                  help=words("help-transfer-accuracy"))
        t3.metric("Ten-fold accuracy", f"{transfer.ten_fold_accuracy:.1%}", border=True, help=words("help-ten-fold"))
        t4.metric("Accuracy lost", f"{transfer.cost:.1%}", border=True)
        if view["figure"] is not None:
            (train_same, train_diff), (test_same, test_diff) = view["train"], view["test"]
            plot(view["figure"], key="eval-transfer-hist")
            st.caption(words("transfer-from-devtrain"))
            st.markdown(words("transfer-result", cost=transfer.cost, train_same=train_same, test_same=test_same,
                              train_diff=train_diff, test_diff=test_diff, train_threshold=transfer.train_threshold,
                              false_rejects=transfer.transfer_counts.false_rejects, n_same=transfer.transfer_counts.n_same,
                              false_accepts=transfer.transfer_counts.false_accepts, n_diff=transfer.transfer_counts.n_diff,
                              ten_fold_threshold=transfer.ten_fold_threshold))
        else:
            st.caption(words("transfer-from-card"))

# --------------------------------------------------------------------------------------------
# The mistakes, as faces
# --------------------------------------------------------------------------------------------

st.header("The mistakes at your threshold")
shown = st.slider("Pairs to show of each kind", 1, 12, 4, key="eval-mistakes-shown", bind="query-params")
mistakes = lesson.mistakes_at(pairs, threshold)
photos = lfw_photos(words("photos-needed"))
rows = photo_rows(sha, data_path(), len(photos.files), lfw, photos) if photos is not None else None
fa_col, fr_col = st.columns(2)
with fa_col:
    st.subheader(f"False accepts: {len(mistakes.false_accepts)}")
    st.caption(words("false-accepts-caption"))
    show_pairs(photos, rows, lfw, [(pairs.left[i], pairs.right[i],
                                    f"{person(lfw, pairs.left[i])} / {person(lfw, pairs.right[i])}: D = {pairs.distances[i]:.3f}")
                                   for i in mistakes.false_accepts[:shown]],
               words("no-false-accepts"), "eval-fa-table")
with fr_col:
    st.subheader(f"False rejects: {len(mistakes.false_rejects)}")
    st.caption(words("false-rejects-caption"))
    show_pairs(photos, rows, lfw, [(pairs.left[i], pairs.right[i],
                                    f"{person(lfw, pairs.left[i])}: D = {pairs.distances[i]:.3f}")
                                   for i in mistakes.false_rejects[:shown]],
               words("no-false-rejects"), "eval-fr-table")

# --------------------------------------------------------------------------------------------
# Question 1: strangers recognised as someone in the gallery
# --------------------------------------------------------------------------------------------

st.header("\"Someone who is not in my gallery gets recognised as one of the people in it\"")
st.markdown(words("open-set-intro"))
n_candidates = candidates(sha, lfw)
o1, o2, o3 = st.columns(3)
gallery_people = o1.slider("People in the gallery", 5, n_candidates, 20, step=5 if n_candidates >= 10 else 1,
                           key="openset-people", bind="query-params")
enrolled = o2.slider("Photos enrolled per person", 1, 3, 1, key="openset-enrolled", bind="query-params")
st.session_state.setdefault("openset-threshold", 0.6)
os_threshold = o3.slider("Threshold for naming someone (squared distance)", 0.0, 2.0, step=0.01, format="%.2f",
                         key="openset-threshold", bind="query-params")
exp = open_set(sha, gallery_people, enrolled, lfw)
closed = lesson.open_set_counts(exp)
opened = lesson.open_set_counts(exp, os_threshold)

m = st.columns(4)
m[0].metric("Strangers named, no threshold", f"{closed.unknown_named_rate:.1%}", border=True,
            help=words("help-strangers-no-threshold"))
m[1].metric("Strangers named, with d", f"{opened.unknown_named_rate:.1%}", border=True,
            help=words("help-strangers-with-threshold"))
m[2].metric("Known people named right", f"{opened.known_right_rate:.1%}", border=True,
            help=words("help-known-right", closed_rate=closed.known_right_rate))
m[3].metric("Known people turned away", f"{opened.known_unknown_rate:.1%}", border=True,
            help=words("help-known-turned-away"))
st.markdown(words("open-set-counts", strangers=opened.unknown, closed_named=closed.unknown_named,
                  threshold=os_threshold, named=opened.unknown_named, known=opened.known, right=opened.known_right,
                  wrong=opened.known_wrong, turned_away=opened.known_unknown, closed_right=closed.known_right,
                  closed_wrong=closed.known_wrong))

answers = ["no threshold", f"d = {os_threshold:.2f}"]
traces = [go.Bar(x=answers, y=values, name=label, marker_color=color, legendgroup=label, xaxis="x", yaxis="y",
                 hovertemplate="%{y:,} probes<extra>" + label + "</extra>")
          for label, values, color in (("named right", [closed.known_right, opened.known_right], GREEN),
                                       ("named as someone else", [closed.known_wrong, opened.known_wrong], VERMILLION),
                                       ("\"unknown\"", [closed.known_unknown, opened.known_unknown], GREY))]
traces += [go.Bar(x=answers, y=values, name=label, marker_color=color, legendgroup=label, showlegend=False,
                  xaxis="x2", yaxis="y2", hovertemplate="%{y:,} probes<extra>" + label + "</extra>")
           for label, values, color in (("named as someone else", [closed.unknown_named, opened.unknown_named], VERMILLION),
                                        ("\"unknown\"", [closed.unknown_unknown, opened.unknown_unknown], GREY))]
titles = [f"Gallery people ({closed.known:,})", f"Strangers ({closed.unknown:,})"]
bars = go.Figure(data=traces, layout=dict(
    barmode="stack", height=420, margin=dict(t=50, b=10), legend=dict(orientation="h", y=-0.15),
    xaxis=dict(domain=[0, 0.44], title=dict(text="the answer's rule")),
    xaxis2=dict(domain=[0.56, 1], anchor="y2", title=dict(text="the answer's rule")),
    yaxis=dict(title=dict(text="probe photos")), yaxis2=dict(anchor="x2", title=dict(text="probe photos")),
    annotations=[dict(text=t, x=x, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                      showarrow=False, font=dict(size=14)) for t, x in zip(titles, (0.22, 0.78))]))
bars_col, curve_col = st.columns(2)
with bars_col:
    plot(bars, key="openset-bars")

grid = np.round(np.arange(0.0, 2.0001, 0.02), 4)
curve = lesson.open_set_curve(exp, grid)
curve_fig = go.Figure(
    data=[go.Scatter(x=grid, y=curve[key_], mode="lines", name=label, line=dict(color=color, width=3),
                     hovertemplate="d = %{x:.2f}: %{y:.1%}<extra>" + label + "</extra>")
          for key_, label, color in (("unknown_named", "strangers named as someone", VERMILLION),
                                     ("known_right", "known people named right", GREEN),
                                     ("known_unknown", "known people turned away", GREY))],
    layout=dict(height=420, margin=dict(t=50, b=10), title=dict(text="Every threshold at once"),
                legend=dict(orientation="h", y=-0.2), shapes=[vline(os_threshold)],
                xaxis=dict(title=dict(text="threshold d (squared distance)")),
                yaxis=dict(title=dict(text="share of the probes"), tickformat=".0%", range=[0, 1.02])))
with curve_col:
    plot(curve_fig, key="openset-curve")

reference_all = unseen_pairs_reference(sha, lfw)
far_here = float(reference_all.share_different_within(os_threshold))
g = len(exp.gallery_rows)
estimate = lesson.stranger_match_estimate(far_here, g)
st.markdown(words("why-strangers-slip", gallery=g, threshold=os_threshold, far=far_here))
st.latex(rf"P(\text{{a stranger matches someone}}) \approx 1 - (1 - \mathrm{{FAR}})^{{G}} = 1 - (1 - {far_here:.4f})^{{{g}}}"
         rf" = {estimate:.3f}\qquad\text{{measured: }} {opened.unknown_named_rate:.3f}")
st.markdown(words("bigger-gallery"))

with st.expander("Strangers named as someone, at this threshold"):
    wrong = np.flatnonzero(~exp.known & (exp.nearest_distance <= os_threshold))
    wrong = wrong[np.argsort(exp.nearest_distance[wrong], kind="stable")][:8]
    show_pairs(photos, rows, lfw, [(exp.probe_rows[i], exp.nearest_row[i],
                                    f"{person(lfw, exp.probe_rows[i])} named as {person(lfw, exp.nearest_row[i])}: "
                                    f"D = {exp.nearest_distance[i]:.3f}") for i in wrong],
               words("no-strangers-named"), "openset-wrong-table")

# --------------------------------------------------------------------------------------------
# Question 2: how is a percentage calculated?
# --------------------------------------------------------------------------------------------

st.header("\"How is a percentage calculated?\"")
st.markdown(words("percentage-intro"))
PAIR, SLIDER = "a pair of photos", "a distance I choose"
source = st.segmented_control("Start from", [PAIR, SLIDER], default=SLIDER, key="pct-source",
                              bind="query-params") or SLIDER


def random_pair() -> None:
    st.session_state["pct-pair"] = int(np.random.default_rng().integers(1, len(pairs) + 1))


if source == PAIR:
    q1, q2 = st.columns([3, 1], vertical_alignment="bottom")
    number = q1.number_input("Pair of pairsDevTest", 1, len(pairs), 1, key="pct-pair")
    q2.button("A random pair", key="pct-random-pair", on_click=random_pair, icon=":material/casino:",
              width="stretch")
    k = int(number) - 1
    distance = float(pairs.distances[k])
    a, b = int(pairs.left[k]), int(pairs.right[k])
    image = pair_image(photos, rows, a, b) if photos is not None else None
    face_col, vector_col = st.columns([1, 3], vertical_alignment="center")
    if image is not None:
        face_col.image(thumbnail(image), width=200)
    else:
        face_col.markdown(f"{person(lfw, a)}  \n{person(lfw, b)}")
    vectors = lfw.embeddings[[a, b]].astype(np.float64)
    with vector_col:
        plot(dict(data=[dict(type="heatmap", z=vectors.round(3).tolist(), y=["photo 1", "photo 2"],
                             colorscale="RdBu", reversescale=True, zmid=0, showscale=False,
                             hovertemplate="%{y}, number %{x}: %{z:.3f}<extra></extra>")],
                  layout=dict(height=150, margin=dict(t=10, b=30, l=10, r=10),
                              xaxis=dict(title=dict(text="the 128 numbers of the embedding")))),
             key="pct-embeddings")
    st.caption(words("pair-caption", number=k + 1, distance=distance))
else:
    distance = st.slider("Distance D of your two photos (squared)", 0.0, 4.0, 0.8, step=0.01, format="%.2f",
                         key="pct-distance", bind="query-params")
ref_names = {"pairsDevTest": "devtest", "every pair of unseen people": "all"}
choice = st.segmented_control("Pairs to compare with", list(ref_names), default="pairsDevTest", key="pct-reference",
                              bind="query-params")
reference = reference_all if ref_names.get(choice or "", "devtest") == "all" else dt["reference"]
st.caption(words("compared-with-unseen" if reference is reference_all else "compared-with-devtest",
                 reference=reference.name, same=len(reference.same), different=len(reference.different)))
far_d = float(reference.share_different_within(distance))
val_d = float(reference.share_same_within(distance))
m = st.columns(3)
m[0].metric("Strangers at least this close", f"{far_d:.3%}", border=True,
            help=words("help-strangers-close", within=reference.different_within(distance),
                       total=len(reference.different)))
m[1].metric("Same person at least this close", f"{val_d:.1%}", border=True,
            help=words("help-same-close", within=reference.same_within(distance), total=len(reference.same)))
m[2].metric("1 − D/4 (meaningless)", f"{lesson.naive_similarity(distance):.0%}", border=True, help=words("help-naive"))
d_text = f"{distance:.3f}" if source == PAIR else f"{distance:.2f}"
st.latex(rf"\mathrm{{FAR}}({d_text}) = \frac{{|\{{\text{{different-person pairs with }} D \le {d_text}\}}|}}"
         rf"{{|P_\mathrm{{diff}}|}} = \frac{{{latex_number(reference.different_within(distance))}}}"
         rf"{{{latex_number(len(reference.different))}}} = {far_d:.5f}")
st.success(words("honest-sentence", distance=distance, far=far_d, reference=reference.name, val=val_d),
           icon=":material/check:")
st.caption(words("probability-caveat"))

grid = np.linspace(0.0, 4.0, 401)
cdf = go.Figure(
    data=[go.Scatter(x=grid, y=reference.share_same_within(grid), mode="lines", name="same-person pairs",
                     line=dict(color=SAME, width=3), hovertemplate="D ≤ %{x:.2f}: %{y:.2%}<extra>same person</extra>"),
          go.Scatter(x=grid, y=reference.share_different_within(grid), mode="lines", name="different-person pairs",
                     line=dict(color=DIFF, width=3),
                     hovertemplate="D ≤ %{x:.2f}: %{y:.3%}<extra>different people</extra>"),
          go.Scatter(x=grid, y=1 - grid / 4, mode="lines", name="1 − D/4 (meaningless)",
                     line=dict(color=GREY, dash="dot"), hovertemplate="1 − D/4 = %{y:.0%}<extra></extra>"),
          go.Scatter(x=[distance, distance], y=[far_d, val_d], mode="markers", name=f"D = {d_text}",
                     marker=dict(size=12, color=[DIFF, SAME], line=dict(color="black", width=1)),
                     hovertemplate="%{y:.3%}<extra>at your D</extra>")],
    layout=dict(height=420, margin=dict(t=40, b=10), title=dict(text=f"Share of pairs at least this close ({reference.name})"),
                legend=dict(orientation="h", y=-0.2), shapes=[vline(distance)],
                xaxis=dict(title=dict(text="squared distance D")),
                yaxis=dict(title=dict(text="share of pairs with a distance ≤ D"), tickformat=".0%")))
plot(cdf, key="pct-curve")

# ---- from the share of strangers to a probability: P(same | D) under a prior ---------------------

st.subheader("The probability that they show one person, P(same | D)")
st.markdown(words("posterior-intro"))
fits = calibrations(sha, train_pairs is not None, pairs, train_pairs)
new_fit = fits["new"]
DOOR_D = 0.5
pp = words.prediction("posterior", distance=DOOR_D, lr=float(new_fit.likelihood_ratio(DOOR_D)),
                      farther_same=1 - float(dt["reference"].share_same_within(DOOR_D)),
                      far=float(dt["reference"].share_different_within(DOOR_D)))
door = float(new_fit.posterior(DOOR_D, 0.001))
posterior_revealed = predict_then_see(pp, pp.options[lesson.posterior_band(door)], key="eval-posterior")
if posterior_revealed:
    st.caption(f"P(same | D = {DOOR_D:.2f}) at 1 in 1,000: {door:.1%}")

FITS = {"new": "new people, pairsDevTest", "train": "the training people, pairsDevTrain"}
if posterior_revealed:
    c1, c2 = st.columns([1, 2])
    fit_key = c1.segmented_control("Calibrated on", [k for k in FITS if k in fits], format_func=FITS.get,
                                   default="new", key="pct-calibration", help=words("help-calibration")) or "new"
    prior = c2.select_slider("Share of comparisons that are same-person ones (the prior π)", lesson.PRIORS,
                             value=0.5, format_func=lesson.prior_words, key="pct-prior")
    if "train" not in fits:
        st.caption(words("no-devtrain-calibration"))
    fit = fits[fit_key]
    lr = float(fit.likelihood_ratio(distance))
    posterior = float(fit.posterior(distance, prior))
    posterior_even = float(fit.posterior(distance, 0.5))
if posterior_revealed:
    n1, n2, n3 = st.columns(3)
    n1.metric("Likelihood ratio LR(D)", f"{lr:.3g}", border=True)
    n2.metric(f"P(same | D) at {lesson.prior_words(prior)}", f"{posterior:.1%}", border=True)
    n3.metric("P(same | D) at LFW's 1 in 2", f"{posterior_even:.1%}", border=True)
    prior_odds = prior / (1 - prior)
    st.latex(rf"\frac{{P(\text{{same}}\mid D)}}{{P(\text{{different}}\mid D)}} = \mathrm{{LR}}({d_text})"
             rf"\times\frac{{\pi}}{{1-\pi}} = {lr:.4g}\times{prior_odds:.4g} = {lr * prior_odds:.4g}"
             rf"\quad\Rightarrow\quad P(\text{{same}}\mid D) = {posterior:.4f}")
    st.success(words("posterior-sentence", distance=distance, far=far_d, reference=reference.name, lr=lr,
                     calibration=f"calibrated on {FITS[fit_key]}", prior=lesson.prior_words(prior),
                     posterior=posterior, posterior_even=posterior_even), icon=":material/check:")
    st.markdown(words("chain", distance=distance, far=far_d, lr=lr, posterior=posterior,
                      prior=lesson.prior_words(prior)))
    if source == PAIR:
        st.markdown(words("pair-truth", truth="the same person" if pairs.same[k] else "two different people"))
    if fit_key == "train":
        bad = fits["train_reliability"]
        st.warning(words("train-calibration-warning", even=fit.distance_at(0.5, 0.5), observed_low=bad.observed[0],
                         count_low=int(bad.count[0])), icon=":material/warning:")

    post_col, rel_col = st.columns(2)
    dgrid = np.linspace(0.0, 3.0, 301)
    curves = [dict(type="scatter", x=dgrid.round(3).tolist(), y=fit.posterior(dgrid, p).round(5).tolist(),
                   mode="lines", name=f"prior {lesson.prior_words(p)}",
                   line=dict(width=3 if p == prior else 1.5, dash="solid" if p == prior else "dot"),
                   hovertemplate="D = %{x:.2f}: %{y:.1%}<extra>" + lesson.prior_words(p) + "</extra>")
              for p in dict.fromkeys([prior, 0.5])]
    curves.append(dict(type="scatter", x=[distance], y=[posterior], mode="markers", name=f"D = {d_text}",
                       marker=dict(size=12, color=ORANGE, line=dict(color="black", width=1)),
                       hovertemplate="P(same | D) = %{y:.1%}<extra>your D</extra>"))
    with post_col:
        plot(dict(data=curves, layout=dict(
            height=420, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.2),
            title=dict(text=f"P(same | D), calibrated on {FITS[fit_key]}"), shapes=[vline(distance)],
            xaxis=dict(title=dict(text="squared distance D")),
            yaxis=dict(title=dict(text="P(same | D)"), tickformat=".0%", range=[-0.02, 1.02]))), key="pct-posterior")

    MIN_PAIRS = 30
    reliability_traces = [dict(type="scatter", x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                               line=dict(color=GREY, dash="dot"), hoverinfo="skip")]
    agreement = {}
    for key_, label, color in (("new", FITS["new"], BLUE), ("train", FITS["train"], VERMILLION)):
        rel = fits.get(f"{key_}_reliability")
        if rel is None:
            continue
        agreement[key_] = (int(rel.agrees(MIN_PAIRS).sum()), int((rel.count >= MIN_PAIRS).sum()))
        shown_bins = rel.count > 0
        reliability_traces.append(dict(
            type="scatter", x=rel.predicted[shown_bins].tolist(), y=rel.observed[shown_bins].tolist(), mode="markers+lines", name=label,
            line=dict(color=color), marker=dict(size=9),
            error_y=dict(type="data", symmetric=False, array=(rel.high - rel.observed)[shown_bins].tolist(),
                         arrayminus=(rel.observed - rel.low)[shown_bins].tolist()),
            customdata=rel.count[shown_bins].tolist(),
            hovertemplate="predicted %{x:.1%}, observed %{y:.1%} of %{customdata} pairs<extra></extra>"))
    with rel_col:
        plot(dict(data=reliability_traces, layout=dict(
            height=420, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.2),
            title=dict(text="Reliability on pairsDevTest"),
            xaxis=dict(title=dict(text="predicted P(same | D), prior 1 in 2"), tickformat=".0%", range=[0, 1]),
            yaxis=dict(title=dict(text="share that are one person"), tickformat=".0%", range=[0, 1.02]))),
             key="pct-reliability")
    agree_train, bins_train = agreement.get("train", (0, 0))
    st.caption(words("reliability-caption", agree_new=agreement["new"][0], bins_new=agreement["new"][1],
                     min_pairs=MIN_PAIRS, agree_train=agree_train, bins_train=bins_train))
    st.caption(words("webcam-caveat"))

prompts_and_questions()
