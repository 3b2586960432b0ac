"""Lesson 2: the margin alpha. Layout only; the computing is in lessons/margin.py."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from lessons import margin as lesson
from lessons import mining
from lessons.content import LessonText
from model import sweep
from model.maps import EXPLORER_FILE
from model.triplet import KIND_NAMES
from ui.colors import BLACK, GREY, KIND_COLORS, PALETTE, ROLE_COLORS
from ui.loaders import explorer_maps, lfw_embeddings, lfw_photos, photo_index
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, thumbnail, try_this

PAGE = "pages/margin.py"
words = LessonText("margin")
FALLBACK_D_AP = 0.6  # for the rings when there are no embeddings to measure a real pair
KIND_COLOR_LIST = [KIND_COLORS[name] for name in KIND_NAMES]


def fmt(value: float) -> str:
    return f"{value:.3f}"


def pretty(name: str) -> str:
    return name.replace("_", " ")


# Keyed by the students' own choices (up to 155,000 draws), so bounded: a day of classes must not
# keep every batch anyone drew.
@st.cache_resource(show_spinner=False, max_entries=64)
def real_batch(sha: str, people: int, photos: int, seed: int, _emb):
    """A P x K batch of real LFW embeddings and its squared distances (cached per draw)."""
    rows = mining.draw_batch(_emb.labels, _emb.trained_on, people, photos, seed, unseen=None).rows
    embeddings = _emb.embeddings[rows].astype(np.float64)
    return rows, embeddings, _emb.labels[rows], lesson.batch_distances(embeddings)


@st.cache_resource(show_spinner="Counting the triplets for every margin...", max_entries=64)
def curve_for(sha: str, people: int, photos: int, seed: int, _distances, _labels) -> lesson.ActiveCurve:
    return lesson.active_curve(_distances, _labels, lesson.curve_alphas())


@st.cache_resource(show_spinner=False)
def runs_for(stamp: tuple) -> tuple[lesson.AlphaRun, ...]:
    """The margin runs, read by every session as they are (st.cache_data would unpickle a copy of
    all their cards on each slider move); `stamp` (file times and sizes) makes a newly finished run
    show up."""
    return tuple(lesson.alpha_runs())


@st.cache_resource(show_spinner=False)
def runs_figure(stamp: tuple) -> go.Figure:
    """Loss, active share and pairsDevTest accuracy over the training steps of every trained margin run."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(lesson.CURVES.values()), horizontal_spacing=0.08)
    for run in runs_for(stamp):
        if not run.trained:
            continue
        colour = PALETTE[list(lesson.ALPHA_RUNS).index(run.name) % len(PALETTE)]
        for col, key in enumerate(lesson.CURVES, start=1):
            steps, values = run.run.curve(key)
            fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers" if key.startswith("view1") else "lines",
                                     name=f"α = {run.margin:g}", legendgroup=run.name, showlegend=col == 1,
                                     line=dict(color=colour),
                                     hovertemplate=f"α = {run.margin:g}, step %{{x}}: %{{y:.3f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_layout(height=420, legend=dict(orientation="h", y=-0.22), margin=dict(t=50, b=40, l=40, r=20))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_yaxes(title="share", tickformat=".0%", row=1, col=2)
    fig.update_yaxes(title="accuracy", tickformat=".0%", row=1, col=3)
    return fig



@st.cache_resource(show_spinner="Measuring every pair of photos under this run...", max_entries=64)
def pairs_for(maps_stamp: tuple, name: str, step: int | None, _maps) -> lesson.PairDistances | None:
    """A margin run's same and different distances at one step (cached per run and step)."""
    return lesson.run_pair_distances(_maps, name, step)


def histogram_figure(pairs: lesson.PairDistances) -> dict:
    """Same-person and different-person squared distances as two overlaid histograms, with the
    best single threshold."""
    edges = lesson.HISTOGRAM_EDGES
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    width = float(edges[1] - edges[0])
    traces = [dict(type="bar", x=centres, y=(100 * share).tolist(), width=width, name=name, opacity=0.6,
                   marker=dict(color=colour), hovertemplate=f"{name}: %{{y:.1f}}% at d ≈ %{{x:.3f}}<extra></extra>")
              for share, name, colour in ((pairs.same, "same person", ROLE_COLORS["positive"]),
                                          (pairs.different, "different people", ROLE_COLORS["negative"]))]
    line = dict(type="line", xref="x", yref="paper", x0=pairs.threshold, x1=pairs.threshold, y0=0, y1=1,
                line=dict(color=BLACK, width=2))
    note = dict(xref="x", yref="paper", x=pairs.threshold, y=1.0, yanchor="bottom", showarrow=False,
                text=f"threshold {pairs.threshold:.2f}")
    return chart(traces, f"α = {pairs.margin:g}, step {pairs.step}: every pair of photos of unseen people",
                 height=400, barmode="overlay", shapes=[line], annotations=[note],
                 xaxis=dict(title=dict(text="squared distance between the two photos"), range=[0, 4]),
                 yaxis=dict(title=dict(text="share of that kind of pair (%)"), rangemode="tozero"))


def pale(colour: str, keep: float = 0.3) -> str:
    """`colour` mixed with white: opaque, so regions drawn on top of each other stay clean."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * keep):02x}" for c in rgb)


def circle(radius: float, **style) -> dict:
    return dict(type="circle", xref="x", yref="y", x0=-radius, y0=-radius, x1=radius, y1=radius, **style)


def band(x0: float, x1: float, kind_name: str) -> dict:
    return dict(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, fillcolor=pale(KIND_COLORS[kind_name]),
                line=dict(width=0), layer="below", name=kind_name)


def rings_figure(view, d_ap: float, alpha: float, flat, names) -> dict:
    """The anchor at the centre, the three regions as filled circles, the positive and every negative
    at its true distance."""
    inner, outer = np.sqrt(max(d_ap, 0.0)), np.sqrt(max(d_ap + alpha, 0.0))
    reach = max(2.0, outer) * 1.08
    shapes = [circle(radius, fillcolor=pale(KIND_COLORS[kind_name]), layer="below", name=kind_name,
                     line=dict(color=KIND_COLORS[kind_name], width=1.5))
              for radius, kind_name in ((reach / 1.08, "easy"), (outer, "semi-hard"), (inner, "hard"))]
    shapes.append(circle(2.0, line=dict(color=GREY, dash="dash", width=1), name="farthest possible"))
    data = [dict(type="scatter", x=[0.0], y=[0.0], mode="markers", name="anchor",
                 marker=dict(size=15, color=ROLE_COLORS["anchor"]), hovertemplate="anchor<extra></extra>")]
    if view is None:
        data.append(dict(type="scatter", x=[float(inner)], y=[0.0], mode="markers", name="positive",
                         marker=dict(size=14, color=ROLE_COLORS["positive"], symbol="diamond")))
    else:
        data.append(dict(type="scatter", x=[float(flat[0, 0])], y=[float(flat[0, 1])], mode="markers", name="positive",
                         marker=dict(size=14, color=ROLE_COLORS["positive"], symbol="diamond"),
                         hovertemplate=f"positive: {names[view.positive]}<br>d_ap = {view.d_ap:.3f}<extra></extra>"))
        terms = view.terms
        for kind, kind_name in enumerate(KIND_NAMES):
            chosen = view.kinds == kind
            data.append(dict(
                type="scatter", x=flat[1:][chosen, 0].tolist(), y=flat[1:][chosen, 1].tolist(), mode="markers",
                name=f"{kind_name} negative", text=[names[i] for i in view.negatives[chosen]],
                marker=dict(size=10, color=KIND_COLOR_LIST[kind], line=dict(color=BLACK, width=0.5)),
                customdata=np.stack([view.d_an[chosen], terms[chosen]], axis=1).tolist(),
                hovertemplate="%{text}<br>d_an = %{customdata[0]:.3f}<br>loss term = %{customdata[1]:.3f}"
                              "<extra></extra>"))
    axis = dict(range=[-reach, reach], title=dict(text="distance from the anchor (flat view)"), zeroline=False)
    layout = dict(title=dict(text="Around the anchor: hard (inside), semi-hard (ring), easy (outside)"), height=460,
                  shapes=shapes, legend=dict(orientation="h", y=-0.15), margin=dict(t=50, b=40, l=40, r=20),
                  xaxis=axis, yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    return dict(data=data, layout=layout)


def line_figure(view, d_ap: float, alpha: float, names) -> dict:
    """The negatives' squared distances on a line from 0 to 4, over the three coloured bands."""
    inner, outer = d_ap, d_ap + alpha
    top = lesson.MAX_SQUARED_DISTANCE
    shapes = [band(0.0, inner, "hard")]
    labels = [("hard", inner / 2)]
    if alpha > 0:
        shapes.append(band(inner, min(outer, top), "semi-hard"))
        labels.append(("semi-hard", (inner + min(outer, top)) / 2))
    if outer < top:
        shapes.append(band(outer, top, "easy"))
        labels.append(("easy", (outer + top) / 2))
    shapes.append(dict(type="line", xref="x", yref="paper", x0=inner, x1=inner, y0=0, y1=1,
                       line=dict(color=ROLE_COLORS["positive"], width=2), name="positive"))
    annotations = [dict(xref="x", yref="paper", x=x, y=1.0, yanchor="bottom", showarrow=False, text=text)
                   for text, x in labels]
    annotations.append(dict(xref="x", yref="paper", x=inner, y=0.95, yanchor="top", xanchor="left", showarrow=False,
                            text=f" positive: d_ap = {inner:.3f}", font=dict(color=ROLE_COLORS["positive"])))
    data = []
    if view is not None:
        spread = (np.arange(len(view.negatives)) * 0.6180339887) % 1.0 - 0.5  # a fixed vertical spread
        for kind, kind_name in enumerate(KIND_NAMES):
            chosen = view.kinds == kind
            data.append(dict(
                type="scatter", x=view.d_an[chosen].tolist(), y=spread[chosen].tolist(), mode="markers",
                name=f"{kind_name} negative", text=[names[i] for i in view.negatives[chosen]],
                marker=dict(size=10, color=KIND_COLOR_LIST[kind], line=dict(color=BLACK, width=0.5)),
                hovertemplate="%{text}<br>d_an = %{x:.3f}<extra></extra>"))
    layout = dict(title=dict(text="The same negatives on a line: squared distance to the anchor"), height=460,
                  shapes=shapes, annotations=annotations, legend=dict(orientation="h", y=-0.2),
                  margin=dict(t=60, b=40, l=40, r=20),
                  xaxis=dict(title=dict(text="d_an: squared distance to the anchor"),
                             range=[0, 4.05]),
                  yaxis=dict(visible=False, range=[-0.8, 0.8]))
    return dict(data=data, layout=layout)


def curve_figure(curve, alpha: float, active_now: float) -> dict:
    """Active and hard shares over α (left axis), the batch-all loss (right axis), your α marked."""
    x = curve.alphas.tolist()
    data = [
        dict(type="scatter", x=x, y=(curve.active_fraction * 100).tolist(), name="active (hard + semi-hard)",
             line=dict(color=KIND_COLORS["semi-hard"], width=3),
             hovertemplate="α = %{x:.2f}: %{y:.1f}% active<extra></extra>"),
        dict(type="scatter", x=x, y=(curve.hard_fraction * 100).tolist(), name="hard (does not depend on α)",
             line=dict(color=KIND_COLORS["hard"], dash="dash"),
             hovertemplate="α = %{x:.2f}: %{y:.1f}% hard<extra></extra>"),
        dict(type="scatter", x=x, y=curve.batch_all_loss.tolist(), name="batch-all loss (right axis)", yaxis="y2",
             line=dict(color=ROLE_COLORS["anchor"], dash="dot"),
             hovertemplate="α = %{x:.2f}: loss %{y:.3f}<extra></extra>"),
        dict(type="scatter", x=[alpha], y=[active_now * 100], mode="markers", name="your α",
             marker=dict(size=14, color=BLACK, symbol="x"),
             hovertemplate="α = %{x:.2f}: %{y:.1f}% active<extra></extra>"),
    ]
    four = lesson.MAX_SQUARED_DISTANCE
    shapes = [dict(type="line", xref="x", yref="paper", x0=alpha, x1=alpha, y0=0, y1=1, line=dict(color=BLACK, width=1)),
              dict(type="line", xref="x", yref="paper", x0=four, x1=four, y0=0, y1=1,
                   line=dict(color=GREY, dash="dash"))]
    annotations = [dict(xref="x", yref="paper", x=four, y=0.5, xanchor="right", showarrow=False,
                        text="α = 4: largest squared distance ")]
    layout = dict(title=dict(text="Share of the batch's triplets that are active, for every margin"), height=440,
                  shapes=shapes, annotations=annotations, legend=dict(orientation="h", y=-0.2),
                  margin=dict(t=50, b=40, l=50, r=50),
                  xaxis=dict(title=dict(text="margin α (squared distance units)"), range=[0, 5]),
                  yaxis=dict(title=dict(text="share of valid triplets (%)"), range=[0, 102]),
                  yaxis2=dict(title=dict(text="batch-all loss (mean over active)"), overlaying="y", side="right",
                              showgrid=False, rangemode="tozero", tickformat=".1f"))
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------------------------
# The idea
# --------------------------------------------------------------------------------------------

lesson_header(PAGE)
st.markdown(words("intro"))
alpha = st.slider("Margin α", 0.0, 5.0, 0.2, 0.05, key="margin-alpha", bind="query-params",
                  help=words("help-alpha"))

# --------------------------------------------------------------------------------------------
# The rings around one anchor
# --------------------------------------------------------------------------------------------

st.header("Three rings around the anchor")
emb = lfw_embeddings()
view = flat = names = None
if emb is None:
    st.info(words("no-embeddings-rings", d_ap=FALLBACK_D_AP))
else:
    st.markdown(words("batch-intro"))
    c1, c2, c3 = st.columns(3)
    people = c1.slider("P, people in the batch", 2, 32, 8, key="margin-people", bind="query-params")
    photos = c2.slider("K, photos per person", 2, 6, 4, key="margin-photos", bind="query-params")
    seed = c3.number_input("Draw number", 0, 999, 0, key="margin-seed", bind="query-params",
                             help=words("help-draw-number"))
    rows, batch_emb, batch_labels, distances = real_batch(emb.checkpoint_sha256, people, photos, seed, emb)
    names = [pretty(emb.names[label]) for label in batch_labels]
    shot = [emb.files[r].rsplit("_", 1)[-1].split(".")[0] for r in rows]
    c4, c5 = st.columns(2)
    anchor = c4.selectbox("Anchor", list(range(len(rows))), key="margin-anchor",
                          format_func=lambda i, n=names, s=shot: f"{n[i]}, photo {s[i]}")
    same = [i for i in range(len(rows)) if batch_labels[i] == batch_labels[anchor] and i != anchor]
    positive = c5.selectbox("Positive (another photo of the same person)", same, key="margin-positive",
                            format_func=lambda i, n=names, s=shot: f"{n[i]}, photo {s[i]}")
    view = lesson.anchor_view(distances, batch_labels, anchor, positive, alpha)

d_ap = view.d_ap if view is not None else FALLBACK_D_AP
inner, outer = d_ap, d_ap + alpha
st.latex(rf"\text{{hard}}: d_{{an}} \le {fmt(inner)} \qquad \text{{semi-hard}}: {fmt(inner)} < d_{{an}} < "
         rf"{fmt(inner)} + {alpha:.2f} = {fmt(outer)} \qquad \text{{easy}}: d_{{an}} \ge {fmt(outer)}")
if outer >= lesson.MAX_SQUARED_DISTANCE:
    st.warning(words("none-can-be-easy", outer=outer), icon=":material/all_inclusive:")

if view is not None:
    counts = view.counts
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("d_ap of this pair", fmt(view.d_ap))
    m2.metric("Hard negatives", counts["hard"])
    m3.metric("Semi-hard negatives", counts["semi-hard"])
    m4.metric("Easy negatives", counts["easy"])

if view is not None:
    others = np.concatenate([[view.positive], view.negatives])
    flat = lesson.flat_positions(batch_emb, view.anchor, others, np.concatenate([[view.d_ap], view.d_an]))
left, right = st.columns(2)
with left:
    plot(rings_figure(view, d_ap, alpha, flat, names), key="margin-rings-figure")
    st.caption(words("caption-rings"))
with right:
    plot(line_figure(view, d_ap, alpha, names), key="margin-line-figure")
    st.caption(words("caption-line"))

if view is not None:
    faces = lfw_photos(words("photos-needed"))
    if faces is not None:
        where = photo_index(faces)
        nearest = view.negatives[np.argsort(view.d_an)[:4]]
        shown = [(view.anchor, "anchor"), (view.positive, f"positive, d_ap {view.d_ap:.2f}")]
        shown += [(i, f"{KIND_NAMES[int(view.kinds[view.negatives == i][0])]}, d_an "
                      f"{float(view.d_an[view.negatives == i][0]):.2f}") for i in nearest]
        st.markdown("**The anchor, the positive and the four nearest negatives**")
        for column, (i, caption) in zip(st.columns(len(shown)), shown):
            crop = where.get(emb.files[rows[i]])
            if crop is not None:
                column.image(thumbnail(faces.images[crop]), width=96, caption=f"{names[i]}: {caption}")

# --------------------------------------------------------------------------------------------
# The whole batch
# --------------------------------------------------------------------------------------------

st.header("The whole batch: how many triplets are active?")
if emb is None:
    st.info(words("no-embeddings-batch"))
else:
    counts_now = lesson.batch_counts(distances, batch_labels, alpha)
    curve = curve_for(emb.checkpoint_sha256, people, photos, seed, distances, batch_labels)
    at_zero = lesson.batch_counts(distances, batch_labels, 0.0)
    at_four = lesson.batch_counts(distances, batch_labels, lesson.MAX_SQUARED_DISTANCE)
    st.markdown(words("batch-count", valid=counts_now.valid))
    b1, b2, b3, b4 = st.columns(4)
    b1.metric("Hard", f"{counts_now.hard:,}")
    b2.metric("Semi-hard", f"{counts_now.semi_hard:,}")
    b3.metric("Easy", f"{counts_now.easy:,}")
    b4.metric("Active share", f"{counts_now.active_fraction:.1%}")

    at_facenet = lesson.batch_counts(distances, batch_labels, 0.2).active_fraction
    at_one = lesson.batch_counts(distances, batch_labels, 1.0).active_fraction
    if predict_then_see(words.prediction("active-at-one", share=at_facenet), round(100 * at_one, 1),
                        key="margin-active-at-one", shown=lambda v: f"{float(v):.0f}%"):
        fig = curve_figure(curve, alpha, counts_now.active_fraction)
        plot(fig, key="margin-curve-figure")
        st.caption(words("caption-curve"))

        ties = at_zero.hard - at_zero.active
        which = words("ties-some", hard=at_zero.hard, ties=ties) if ties else words("ties-none")
        st.markdown(words("alpha-extremes", zero_active=at_zero.active, zero_valid=at_zero.valid,
                          zero_share=at_zero.active_fraction, which=which, four_active=at_four.active,
                          four_valid=at_four.valid, four_share=at_four.active_fraction, alpha=alpha,
                          active=counts_now.active, share=counts_now.active_fraction))

# --------------------------------------------------------------------------------------------
# The trained runs
# --------------------------------------------------------------------------------------------

st.header("Training with different margins")
recipe = sweep.LESSONS_CPU_BASE
st.markdown(words("runs-intro", steps=recipe["steps"], optimizer=recipe["optimizer"], lr=recipe["lr"],
                  mining=recipe["mining"], people=recipe["people_per_batch"], photos=recipe["images_per_person"]))
stamp = sweep.runs_stamp(lesson.PLAN)
runs = runs_for(stamp)
trained = [r for r in runs if r.trained]
missing = [r for r in runs if not r.trained]
if missing:
    listed = ", ".join(words("not-trained-run", name=r.name, margin=r.margin) for r in missing)
    st.info(words("not-trained", runs=listed), icon=":material/hourglass_top:")
if not trained:
    st.warning(words("no-runs"))
else:
    plot(runs_figure(stamp), key="margin-runs-figure")
    st.caption(words("caption-runs"))
    ranking = lesson.standings(list(runs))
    shown_table = ranking is None
    if ranking is not None:
        winner = words.prediction("winner", steps=recipe["steps"])
        shown_table = predict_then_see(winner, winner.options[ranking.winner_option()], key="margin-winner")
    if shown_table:
        verdicts = {s.name: s for s in ranking.runs} if ranking else {}
        st.dataframe([lesson.final_metrics(r, verdicts.get(r.name)) for r in trained], hide_index=True,
                     width="stretch")
    if ranking is not None and shown_table:
        best = ranking.best
        if ranking.clear_winner is None:
            tied = "; ".join(words("tied-run", margin=s.margin, accuracy=s.accuracy, behind=s.behind, noise=s.noise)
                             for s in ranking.tied_with_best)
            st.markdown(words("verdict-tie", best=best.margin, accuracy=best.accuracy, tied=tied))
        else:
            st.markdown(words("verdict-ahead", best=best.margin, accuracy=best.accuracy))

# --------------------------------------------------------------------------------------------
# Same and different pairs under each margin run
# --------------------------------------------------------------------------------------------

st.header("Same or different: the gap a threshold uses")
maps = explorer_maps()
named = [name for name in lesson.ALPHA_RUNS if maps is not None and name in maps.runs]
if not named:
    st.info(words("no-maps"))
else:
    keep = lesson.explorer_set(maps)
    maps_stamp = (str(EXPLORER_FILE), EXPLORER_FILE.stat().st_mtime_ns, maps.shipped_sha256)  # a rebuilt file: anew
    st.markdown(words("hist-intro", photos=int(keep.sum()), people=len(np.unique(maps.labels[keep]))))
    h1, h2 = st.columns([3, 2])
    chosen = h1.segmented_control("Margin run", named, default="alpha-0.2" if "alpha-0.2" in named else named[0],
                                  required=True, key="margin-hist-run", bind="query-params",
                                  format_func=lambda name: f"α = {lesson.ALPHA_RUNS[name]:g}")
    steps = [int(x) for x in maps.runs[chosen].steps]
    step = h2.select_slider("Training step", steps, value=steps[-1], key="margin-hist-step")
    pairs = pairs_for(maps_stamp, chosen, step, maps)
    plot(histogram_figure(pairs), key="margin-hist-figure")
    st.caption(words("hist-caption"))
    st.markdown(words("hist-numbers", margin=pairs.margin, step=pairs.step, same_mean=pairs.same_mean,
                      different_mean=pairs.different_mean, gap=pairs.gap, threshold=pairs.threshold,
                      share=pairs.balanced_accuracy))
    finals = [pairs_for(maps_stamp, name, None, maps) for name in named]
    st.dataframe([lesson.gap_row(f) for f in finals], hide_index=True, width="stretch")
    if len(finals) >= 2:
        low, high = finals[0], finals[-1]
        st.markdown(words("hist-summary", low=low.margin, high=high.margin, low_different=low.different_mean,
                          high_different=high.different_mean, low_same=low.same_mean, high_same=high.same_mean,
                          people=len(np.unique(maps.labels[keep]))))

try_this(words("try"))
check_yourself(words.questions(), key="margin")
