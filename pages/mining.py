"""Lesson 3, "Choosing triplets": a real P x K batch of LFW faces, its distance matrix under the
shipped model, and which triplets each mining strategy of model.triplet picks from it.

Only layout lives here; the computing is in lessons/mining.py (which calls model.triplet).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from lessons import mining as lesson
from lessons.content import LessonText
from model import sweep
from model.maps import EXPLORER_FILE, dequantize
from ui.colors import BLACK, BLUE, GREY, KIND_COLORS, ORANGE, ROLE_COLORS, SKY_BLUE, VERMILLION
from ui.loaders import explorer_maps, lfw_embeddings, lfw_photos, photo_index
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, thumbnail, try_this

PAGE = "pages/mining.py"
words = LessonText("mining")
KINDS = ("hard", "semi-hard", "easy")
WHITE = "#FFFFFF"
STRATEGY_COLORS = {"random": GREY, "all": BLUE, "semi-hard": ORANGE, "hard": VERMILLION}
HEAT_SCALE = [[0.0, BLUE], [0.45, SKY_BLUE], [1.0, WHITE]]  # close = dark blue, far = white


# --------------------------------------------------------------------------------------------
# Cached work
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=64)
def batch_and_analysis(sha: str, people: int, photos: int, seed: int, unseen: bool, alpha: float, _emb):
    """The batch and everything model.triplet says about it (read-only, shared by sessions)."""
    batch = lesson.draw_batch(_emb.labels, _emb.trained_on, people, photos, seed, unseen)
    return batch, lesson.analyse_batch(_emb.embeddings[batch.rows], batch.labels, alpha, seed)


@st.cache_data(show_spinner=False, max_entries=128)  # every (P, K) the sliders allow: 105
def triplet_scales(sha: str, people: int, photos: int, _emb) -> list[lesson.TripletScale]:
    return lesson.triplet_scales(_emb.labels, _emb.trained_on, people, photos)


@st.cache_data(show_spinner=False, max_entries=64)
def mosaic_jpeg(source: str, photo_rows: tuple[int, ...], people: int, photos: int, _faces) -> str:
    """The batch's faces as one JPEG (a data URI), a row per person (JPEG: ten times faster than PNG)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(lesson.face_mosaic(_faces.images[list(photo_rows)], people, photos)).save(
        buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@st.cache_data(show_spinner=False, max_entries=512)
def face_jpeg(source: str, row: int, _faces) -> bytes:
    """One face crop as JPEG bytes (st.image passes bytes on as they are)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(_faces.images[row]).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@st.cache_resource(show_spinner=False, max_entries=64)
def shrink_curves(key: tuple, _analysis) -> dict[str, list[float]]:
    """`key` identifies the batch and α, as in `batch_and_analysis`."""
    return {m: lesson.shrink_curve(_analysis, m) for m in lesson.STRATEGY_LABELS}


@st.cache_data(show_spinner=False, max_entries=256)
def collapsed_loss(people: int, photos: int, alpha: float) -> float:
    return lesson.collapsed_loss(people, photos, alpha, "hard")


@st.cache_resource(show_spinner=False, max_entries=4)
def comparison_runs(files_key: tuple) -> lesson.RunComparison:
    return lesson.run_comparison(sweep.load_runs("lessons-cpu"))


@st.cache_data(show_spinner=False, max_entries=128)
def staleness(maps_stamp: tuple, seed: int, now: int, _maps) -> list[lesson.Staleness]:
    """`maps_stamp` identifies the explorer file; the offline triplets of batch `seed`, kept at `now`."""
    run = _maps.runs[lesson.OFFLINE_RUN]
    batch = lesson.explorer_batch(_maps.labels, _maps.trained_on, seed)
    margin = lesson.OFFLINE_MARGIN
    return lesson.offline_staleness(lambda step: dequantize(run.codes[run.frame(step)][batch.rows]), run.steps,
                                    batch.labels, now, margin)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def next_batch():
    st.session_state["mining_seed"] = int(st.session_state.get("mining_seed", 0)) + 1


def fmt(n: int) -> str:
    return f"{n:,}"


def tex(n: int) -> str:
    """An integer with thousands separators, for LaTeX (a bare comma would add space after it)."""
    return f"{n:,}".replace(",", "{,}")


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


# --------------------------------------------------------------------------------------------
# Figures (each built in one go: plotly validates every property it is given, once)
# --------------------------------------------------------------------------------------------


def heat_map(analysis, labels: list[str], people: int, photos: int, anchor: int, picks) -> go.Figure:
    b = len(labels)
    d = analysis.distances
    size = 9 if b <= 64 else 6
    has_p = analysis.hardest_positive >= 0
    has_n = analysis.hardest_negative >= 0
    traces = [
        go.Heatmap(z=np.round(d, 4).astype(np.float32), x=labels, y=labels, colorscale=HEAT_SCALE, zmin=0.0,
                   zmax=float(d.max()) or 1.0, colorbar=dict(title=dict(text="squared<br>distance")),
                   hovertemplate="anchor: %{y}<br>other: %{x}<br>squared distance: %{z:.3f}<extra></extra>"),
        go.Scatter(x=[labels[j] for j in analysis.hardest_positive[has_p]],
                   y=[labels[a] for a in np.flatnonzero(has_p)], mode="markers",
                   name="hardest positive of the row (argmax)",
                   marker=dict(symbol="circle-open", size=size, color=ROLE_COLORS["positive"], line=dict(width=2.5)),
                   hovertemplate="anchor: %{y}<br>hardest positive: %{x}<extra></extra>"),
        go.Scatter(x=[labels[j] for j in analysis.hardest_negative[has_n]],
                   y=[labels[a] for a in np.flatnonzero(has_n)], mode="markers",
                   name="hardest negative of the row (argmin)",
                   marker=dict(symbol="x-thin-open", size=size, color=ROLE_COLORS["negative"], line=dict(width=2.5)),
                   hovertemplate="anchor: %{y}<br>hardest negative: %{x}<extra></extra>"),
    ]
    if picks:
        cols = sorted({t.positive for t in picks}) + sorted({t.negative for t in picks})
        colours = [ROLE_COLORS["positive"] if analysis.labels[c] == analysis.labels[anchor] else ROLE_COLORS["negative"]
                   for c in cols]
        traces.append(go.Scatter(
            x=[labels[c] for c in cols], y=[labels[anchor]] * len(cols), mode="markers",
            name="picked for the chosen anchor", hovertemplate="anchor: %{y}<br>picked: %{x}<extra></extra>",
            marker=dict(symbol="diamond", size=size, color=colours, line=dict(width=1.5, color=BLACK))))
    line = dict(color=BLACK, width=1)
    shapes = [dict(type="line", x0=k * photos - 0.5, x1=k * photos - 0.5, y0=-0.5, y1=b - 0.5, line=line)
              for k in range(1, people)]
    shapes += [dict(type="line", y0=k * photos - 0.5, y1=k * photos - 0.5, x0=-0.5, x1=b - 0.5, line=line)
               for k in range(1, people)]
    shapes.append(dict(type="rect", x0=-0.5, x1=b - 0.5, y0=anchor - 0.5, y1=anchor + 0.5,
                       line=dict(color=ORANGE, width=3)))
    centre = [labels[p * photos + (photos - 1) // 2] for p in range(people)]
    names = [labels[p * photos].rsplit(" #", 1)[0] for p in range(people)]
    axis = dict(tickmode="array", tickvals=centre, ticktext=names, showgrid=False, tickfont=dict(size=10))
    return go.Figure(traces, dict(
        shapes=shapes, height=560, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor=WHITE,
        xaxis=dict(title=dict(text="other photo (columns grouped by person)"), side="top", **axis),
        yaxis=dict(title=dict(text="anchor photo (rows grouped by person)"), autorange="reversed", **axis),
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0)))


def anchor_strip(analysis, labels: list[str], anchor: int, picks, alpha: float) -> go.Figure:
    d = analysis.distances[anchor]
    same = analysis.labels == analysis.labels[anchor]
    positives = np.flatnonzero(same & (np.arange(len(d)) != anchor))
    negatives = np.flatnonzero(~same)
    picked = {"positive": {t.positive for t in picks}, "negative": {t.negative for t in picks}}
    traces = []
    for role, cols, row in (("positive", positives, "same person"), ("negative", negatives, "other people")):
        chosen = np.array([c in picked[role] for c in cols], bool)
        for on in (False, True):
            cs = cols[chosen == on]
            traces.append(go.Scatter(
                x=d[cs], y=[row] * len(cs), mode="markers", name=f"{role}s {'picked' if on else 'not picked'}",
                text=[labels[c] for c in cs],
                marker=dict(color=ROLE_COLORS[role], size=15 if on else 9, opacity=1.0 if on else 0.45,
                            symbol="diamond" if on else "circle", line=dict(width=2 if on else 0, color=BLACK)),
                hovertemplate="%{text}<br>squared distance to the anchor: %{x:.3f}<extra></extra>"))
    shapes, notes = [], []
    if len(positives):
        far = float(d[positives].max())
        paper = dict(yref="paper", y0=0, y1=1)
        shapes = [dict(type="rect", x0=far, x1=far + alpha, fillcolor=KIND_COLORS["semi-hard"], opacity=0.15,
                       line_width=0, **paper),
                  dict(type="line", x0=far, x1=far, line=dict(color=ROLE_COLORS["positive"], dash="dot"), **paper),
                  dict(type="line", x0=far + alpha, x1=far + alpha, line=dict(color=ORANGE, dash="dash"), **paper)]
        notes = [dict(x=far, y=1, yref="paper", text="farthest positive", showarrow=False, xanchor="right",
                      yanchor="bottom"),
                 dict(x=far + alpha, y=1, yref="paper", text="farthest positive + α", showarrow=False,
                      xanchor="left", yanchor="bottom")]
    return go.Figure(traces, dict(
        height=380, margin=dict(l=10, r=10, t=50, b=10), shapes=shapes, annotations=notes,
        xaxis=dict(title=dict(text="squared distance to the anchor, ||f(a) − f(x)||²"), rangemode="tozero"),
        yaxis=dict(categoryorder="array", categoryarray=["other people", "same person"],
                   title=dict(text="photo of the batch")),
        legend=dict(orientation="h", yanchor="top", y=-0.25, x=0)))


@st.cache_resource(show_spinner=False, max_entries=64)
def comparison_figure(key: tuple, _analysis) -> go.Figure:
    """`key` identifies the batch and α (the figure depends on nothing else)."""
    analysis = _analysis
    strategies = [analysis.strategies[m] for m in lesson.STRATEGY_LABELS]
    names = ["all valid triplets (reference)"] + [s.label for s in strategies]
    counts = {"hard": analysis.counts.hard, "semi-hard": analysis.counts.semi_hard, "easy": analysis.counts.easy}
    totals = [analysis.counts.valid] + [s.selected for s in strategies]
    traces = []
    for kind in KINDS:
        n = [counts[kind]] + [s.kinds.as_dict()[kind] for s in strategies]
        traces.append(go.Bar(
            x=[100 * c / t if t else 0 for c, t in zip(n, totals)], y=names, orientation="h", name=kind,
            marker_color=KIND_COLORS[kind], customdata=np.stack([n, totals], axis=1),
            hovertemplate="%{y}<br>" + kind + ": %{customdata[0]:,} of %{customdata[1]:,} (%{x:.1f}%)<extra></extra>"))
    traces.append(go.Bar(
        x=[s.loss for s in strategies], y=[s.label for s in strategies], orientation="h", xaxis="x2", yaxis="y2",
        marker_color=[STRATEGY_COLORS[s.mining] for s in strategies], name="loss", showlegend=False,
        text=[f"{s.loss:.3f}" for s in strategies],
        textposition="outside", hovertemplate="%{y}<br>loss: %{x:.4f}<extra></extra>"))
    top = max(max(s.loss for s in strategies), 1e-3)
    return go.Figure(traces, dict(
        barmode="stack", height=400, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(domain=[0.0, 0.55], title=dict(text="share of the triplets picked (%)"), range=[0, 100]),
        yaxis=dict(autorange="reversed", title=dict(text="triplets")),
        xaxis2=dict(domain=[0.72, 1.0], title=dict(text="loss of the batch"), anchor="y2", range=[0, top * 1.35]),
        yaxis2=dict(anchor="x2", autorange="reversed", showticklabels=False),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, title=dict(text="kind of triplet"))))


@st.cache_resource(show_spinner=False, max_entries=64)
def scales_figure(scales: tuple[lesson.TripletScale, ...]) -> go.Figure:
    names = [s.name for s in scales]
    traces = [go.Bar(x=names, y=[getattr(s, field) for s in scales], name=label, marker_color=colour,
                     text=[f"{getattr(s, field):,}" for s in scales], textposition="outside",
                     hovertemplate="%{x}<br>" + label + ": %{y:,}<extra></extra>")
              for field, label, colour in (("triplets", "valid triplets", BLUE),
                                           ("pairs", "anchor-positive pairs", ORANGE))]
    top = max(s.triplets for s in scales)
    return go.Figure(traces, dict(
        barmode="group", height=420, margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title=dict(text="set of photos")),
        yaxis=dict(type="log", title=dict(text="how many (log scale)"), range=[0, np.log10(top) + 1]),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0)))


def shrink_figure(curves: dict, alpha: float) -> go.Figure:
    traces = [go.Scatter(x=list(lesson.SHRINK_FACTORS), y=curves[m], mode="lines+markers",
                         name=lesson.STRATEGY_LABELS[m],
                         line=dict(color=STRATEGY_COLORS[m], width=3 if m in ("hard", "semi-hard") else 1.5),
                         hovertemplate="s = %{x:.1f}<br>loss %{y:.4f}<extra>" + lesson.STRATEGY_LABELS[m] + "</extra>")
              for m in lesson.STRATEGY_LABELS]
    return go.Figure(traces, dict(
        height=400, margin=dict(l=10, r=10, t=30, b=10),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=alpha, y1=alpha, line=dict(color=BLACK, dash="dot"))],
        annotations=[dict(x=0, y=alpha, xanchor="left", yanchor="bottom", showarrow=False,
                          text="α = loss of the collapsed model")],
        xaxis=dict(title=dict(text="s: every squared distance multiplied by s (0 = collapsed, 1 = the batch as it is)"),
                   range=[-0.03, 1.03]),
        yaxis=dict(title=dict(text="loss of the batch"), rangemode="tozero"),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0)))


RUN_STYLE = {lesson.HARDEST_RUN: (VERMILLION, "hardest negatives (batch-hard)"),
             lesson.REFERENCE_RUN: (BLUE, "semi-hard (FaceNet's rule)")}


@st.cache_resource(show_spinner=False, max_entries=4)
def runs_figure(files_key: tuple, _runs: dict, alpha: float) -> go.Figure:
    """`files_key` identifies the run files the curves come from."""
    traces = []
    for name, run in _runs.items():
        colour, label = RUN_STYLE[name]
        steps, loss = run.curve("loss")
        traces.append(go.Scatter(x=steps, y=loss, mode="lines", name=f"{label}: loss", line=dict(color=colour),
                                 hovertemplate="step %{x}<br>loss %{y:.4f}<extra>" + label + "</extra>"))
        steps, acc = run.curve("view1_devtest_accuracy")
        traces.append(go.Scatter(x=steps, y=[100 * a for a in acc], mode="lines+markers", xaxis="x2", yaxis="y2",
                                 name=f"{label}: pairsDevTest accuracy", line=dict(color=colour, dash="dash"),
                                 hovertemplate="step %{x}<br>accuracy %{y:.1f}%<extra>" + label + "</extra>"))
    return go.Figure(traces, dict(
        height=420, margin=dict(l=10, r=10, t=40, b=10),
        shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=alpha, y1=alpha, line=dict(color=GREY, dash="dot"))],
        annotations=[dict(xref="x domain", x=0, y=alpha, text="loss of a collapsed model (= α)", showarrow=False,
                          xanchor="left", yanchor="bottom")],
        xaxis=dict(domain=[0.0, 0.45], title=dict(text="training step")),
        yaxis=dict(title=dict(text="training loss"), rangemode="tozero"),
        xaxis2=dict(domain=[0.55, 1.0], title=dict(text="training step"), anchor="y2"),
        yaxis2=dict(anchor="x2", title=dict(text="pairsDevTest accuracy (%)"), range=[45, 100]),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0)))


def mosaic_figure(uri: str, labels: list[str], people: int, photos: int, roles: dict[int, str],
                  frames: dict[int, str], s: int) -> go.Figure:
    """The faces picture with a hover label per face and a coloured frame around the faces in `frames`."""
    gap = lesson.FACE_GAP
    where = [divmod(i, photos) for i in range(len(labels))]
    hover = go.Scatter(
        x=[c * (s + gap) + s / 2 for _, c in where], y=[r * (s + gap) + s / 2 for r, _ in where], mode="markers",
        marker=dict(opacity=0, size=20), showlegend=False, hovertemplate="%{text}<extra></extra>",
        text=[label + (f"<br>{roles[i]}" if i in roles else "") for i, label in enumerate(labels)])
    boxes = [dict(type="rect", x0=c * (s + gap) - 0.5, x1=c * (s + gap) + s - 0.5, y0=r * (s + gap) - 0.5,
                  y1=r * (s + gap) + s - 0.5, line=dict(color=colour, width=4))
             for (r, c), colour in ((divmod(i, photos), colour) for i, colour in frames.items())]
    names = [labels[p * photos].rsplit(" #", 1)[0] for p in range(people)]
    return go.Figure([go.Image(source=uri, hoverinfo="skip"), hover], dict(
        height=min(max(70 + 46 * people, 240), 820), margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor=WHITE,
        shapes=boxes, xaxis=dict(showticklabels=False, showgrid=False, zeroline=False,
                                 title=dict(text=f"K = {photos} photos of each person")),
        yaxis=dict(tickmode="array", tickvals=[r * (s + gap) + s / 2 for r in range(people)], ticktext=names,
                   showgrid=False, zeroline=False, scaleanchor="x", title=dict(text=f"P = {people} people"))))


# --------------------------------------------------------------------------------------------
# The sections (functions, so that the page script stays flat: Streamlit re-walks every nested
# block of a page script when it compiles it)
# --------------------------------------------------------------------------------------------


@dataclass
class View:
    """Everything the batch sections show, for the current widget values."""

    emb: object
    batch: lesson.Batch
    analysis: lesson.BatchAnalysis
    labels: list[str]
    people: int
    photos: int
    seed: int
    unseen: bool
    alpha: float
    strategy: str
    anchor: int
    picks: list
    faces: object = None  # model.data.FaceSet, or None without photos
    index: dict | None = None  # photo file -> row of `faces`

    @property
    def key(self) -> tuple:
        """What the batch and its analysis depend on (a cache key)."""
        return self.emb.checkpoint_sha256, self.people, self.photos, self.seed, self.unseen, self.alpha

    @property
    def result(self) -> lesson.StrategyResult:
        return self.analysis.strategies[self.strategy]

    def photo(self, row: int) -> bytes:
        """The face of batch row `row`, as JPEG bytes."""
        return face_jpeg(self.faces.source, self.index[self.emb.files[self.batch.rows[row]]], self.faces)


def find_photos(emb, batch):
    """(faces, index) when every photo of the batch is on disk, else (None, None) after saying so."""
    faces = lfw_photos(words("photos-needed"))
    if faces is None:
        return None, None
    index = photo_index(faces)
    missing = sum(emb.files[r] not in index for r in batch.rows)
    if missing:
        st.info(words("photos-missing", missing=missing))
        return None, None
    return faces, index


def make_view(emb, anchor_column, people: int, photos: int, seed: int, unseen: bool, alpha: float,
              strategy: str) -> View | None:
    """The batch for these settings and the anchor picker (in `anchor_column`), or None after saying why not."""
    if emb is None:
        anchor_column.caption(words("no-anchor"))
        st.info(words("no-embeddings"), icon=":material/info:")
        return None
    try:
        batch, analysis = batch_and_analysis(emb.checkpoint_sha256, people, photos, seed, unseen, alpha, emb)
    except ValueError as err:
        st.warning(words("no-batch", reason=err), icon=":material/warning:")
        return None
    labels = lesson.photo_labels(emb.names, emb.labels, emb.files, batch.rows)
    anchor = anchor_column.selectbox("Anchor (a row of the matrix)", list(range(len(labels))), index=0,
                                     key="mining_anchor", format_func=lambda i: f"{i + 1}. {labels[i]}")
    anchor = anchor if anchor is not None and anchor < len(labels) else 0
    view = View(emb, batch, analysis, labels, people, photos, seed, unseen, alpha, strategy, anchor,
                lesson.picks_for_anchor(analysis, strategy, anchor))
    return view


def section_batch(v: View) -> None:
    b, counts, label = len(v.labels), v.analysis.counts, lesson.STRATEGY_LABELS[v.strategy]
    st.header("A real batch: P people × K photos")
    v.faces, v.index = find_photos(v.emb, v.batch)
    st.markdown(words("batch-unseen" if v.unseen else "batch-seen", people=v.people, photos=v.photos, faces=b))
    roles = {v.anchor: "the anchor"}
    roles.update({t.positive: f"a positive that {label} picked" for t in v.picks})
    roles.update({t.negative: f"a negative that {label} picked" for t in v.picks})
    if v.faces is not None:
        same = v.analysis.labels == v.analysis.labels[v.anchor]
        frames = {i: ROLE_COLORS["anchor"] if i == v.anchor else ROLE_COLORS["positive"] if same[i]
                  else ROLE_COLORS["negative"] for i in roles}
        rows = tuple(v.index[v.emb.files[r]] for r in v.batch.rows)
        uri = mosaic_jpeg(v.faces.source, rows, v.people, v.photos, v.faces)
        plot(mosaic_figure(uri, v.labels, v.people, v.photos, roles, frames, v.faces.images.shape[1]),
             key="mining_faces")
        st.caption(words("caption-faces", strategy=label))
    else:
        rows = [v.labels[p * v.photos:(p + 1) * v.photos] for p in range(v.people)]
        st.dataframe([{"person": row[0].rsplit(" #", 1)[0],
                       "photos": ", ".join("#" + x.rsplit(" #", 1)[1] for x in row),
                       "the model trained on them": "no" if v.unseen else "yes"} for row in rows], hide_index=True)
    st.latex(rf"\text{{valid triplets}} = P\,K\,(K-1)\,(PK-K) = {v.people}\cdot{v.photos}\cdot{v.photos - 1}\cdot"
             rf"({b}-{v.photos}) = {tex(counts.valid)}")
    st.markdown(words("batch-anchors", faces=b, positives=v.photos - 1, negatives=b - v.photos))
    share = round(100 * counts.active / counts.valid, 1) if counts.valid else 0.0
    if not predict_then_see(words.prediction("active-share", valid=counts.valid, alpha=v.alpha), share,
                            key="mining-active-share", shown=lambda x: f"{float(x):.1f}%"):
        return
    cols = st.columns(4)
    cols[0].metric("Valid triplets in the batch", fmt(counts.valid), border=True)
    for col, kind, n in zip(cols[1:], KINDS, (counts.hard, counts.semi_hard, counts.easy)):
        col.metric(f"{kind} triplets", fmt(n), delta=pct(n, counts.valid), delta_color="off", delta_arrow="off",
                   border=True)
    st.markdown(words("batch-active", alpha=v.alpha, active_share=pct(counts.active, counts.valid)))


def section_matrix(v: View) -> None:
    st.header("The distance matrix")
    st.markdown(words("matrix-intro"))
    plot(heat_map(v.analysis, v.labels, v.people, v.photos, v.anchor, v.picks), key="mining_heatmap")
    a = v.anchor
    hp, hn = int(v.analysis.hardest_positive[a]), int(v.analysis.hardest_negative[a])
    d_hp, d_hn = float(v.analysis.distances[a, hp]), float(v.analysis.distances[a, hn])
    st.latex(rf"\text{{hardest positive: }} \max_p d_{{ap}} = {d_hp:.3f} \qquad "
             rf"\text{{hardest negative: }} \min_n d_{{an}} = {d_hn:.3f} \qquad "
             rf"[\,{d_hp:.3f} - {d_hn:.3f} + {v.alpha:.2f}\,]_+ = {max(d_hp - d_hn + v.alpha, 0.0):.3f}")
    box = st.container(border=True)
    box.markdown(words("anchor-box", number=a + 1, photo=v.labels[a]))
    shown = ((a, "anchor", None), (hp, "hardest positive", d_hp), (hn, "hardest negative", d_hn))
    for col, (row, role, dist) in zip(box.columns(3), shown):
        caption = f"{role}: {v.labels[row]}" + (f" (d = {dist:.3f})" if dist is not None else "")
        if v.faces is not None:
            col.image(thumbnail(v.photo(row)), width=96, caption=caption)
        else:
            col.markdown(caption)
    try_this(words("try-matrix"))


def section_strategies(v: View) -> None:
    result, label, a = v.result, lesson.STRATEGY_LABELS[v.strategy], v.anchor
    st.header("What each strategy picks")
    st.markdown(words("strategies"))
    left = right = st.container()  # the chart, then its table full width: six columns need the room
    plot_in(left, anchor_strip(v.analysis, v.labels, a, v.picks, v.alpha), key="mining_anchor_strip")
    left.caption(words("caption-strip", number=a + 1, photo=v.labels[a]))
    right.markdown(words("picks-title", strategy=label, number=a + 1))
    if v.picks:
        right.dataframe([{"positive": v.labels[t.positive], "negative": v.labels[t.negative],
                          "d(a,p)": round(t.d_ap, 3), "d(a,n)": round(t.d_an, 3), "kind": t.kind,
                          "loss term": round(t.term, 3)} for t in v.picks], hide_index=True, height=300)
    else:
        right.info(words("no-picks-all" if v.strategy == "all" else "no-picks", alpha=v.alpha))
    right.caption(words("picks-count", count=len(v.picks)))
    cols = st.columns(4)
    cols[0].metric("Triplets picked in the batch", fmt(result.selected), border=True)
    for col, kind in zip(cols[1:], KINDS):
        n = result.kinds.as_dict()[kind]
        col.metric(f"{kind}, of those picked", fmt(n), delta=pct(n, result.selected), delta_color="off",
                   delta_arrow="off", border=True)
    averaged = (rf"N = {tex(result.active)} \text{{ active of }} {tex(result.considered)} \text{{ valid}}"
                if v.strategy == "all" else f"N = {tex(result.selected)}")
    st.latex(rf"L_{{\text{{{label}}}}} = \frac{{1}}{{N}}\sum_{{(a,p,n)}}"
             rf"[\,d_{{ap}} - d_{{an}} + {v.alpha:.2f}\,]_+ = {result.loss:.4f}, \qquad {averaged}")


def section_comparison(v: View) -> None:
    st.header("The strategies side by side")
    plot(comparison_figure(v.key, v.analysis), key="mining_comparison")
    st.dataframe([{"strategy": s.label, "triplets picked": s.selected, "looked at": s.considered,
                   "active (loss > 0)": s.active, "share active": f"{100 * s.active_share:.1f}%",
                   "loss": round(s.loss, 4),
                   "mean d(a,p)": None if np.isnan(s.mean_d_ap) else round(s.mean_d_ap, 3),
                   "mean d(a,n)": None if np.isnan(s.mean_d_an) else round(s.mean_d_an, 3)}
                  for s in (v.analysis.strategies[m] for m in lesson.STRATEGY_LABELS)], hide_index=True,
                 column_config={name: st.column_config.NumberColumn(help=f"{name} of the triplets picked")
                                for name in ("mean d(a,p)", "mean d(a,n)")})  # short headers: it fits the page
    st.caption(words("caption-comparison"))
    st.markdown(words("batch-all-vs-hard"))
    try_this(words("try-comparison"))


def section_scales(emb, people: int, photos: int) -> None:
    st.header("Why mine inside a mini-batch?")
    if emb is not None:
        scales = triplet_scales(emb.checkpoint_sha256, people, photos, emb)
    else:
        scales = [s for s in lesson.triplet_scales(np.zeros(0, np.int64), np.zeros(0, bool), people, photos)
                  if s.people]
    by_name = {s.name.split(" (")[0]: s for s in scales}
    lfw, facenet, user = by_name.get("LFW training split"), by_name["FaceNet mini-batch"], by_name["your batch"]
    st.markdown(words("scales-intro"))
    fp, fk = lesson.FACENET_BATCH_PEOPLE, lesson.FACENET_BATCH_PHOTOS
    lines = [r"\#\text{triplets} = \sum_p n_p\,(n_p-1)\,(N-n_p)"]
    if lfw is not None:
        lines.append(rf"\text{{LFW training split: {lfw.people:,} people, }} N = {tex(lfw.photos)}:"
                     rf"\quad {tex(lfw.triplets)}")
    lines.append(rf"\text{{FaceNet batch: }} {fp} \cdot {fk} \cdot {fk - 1} \cdot ({tex(fp * fk)}-{fk})"
                 rf"= {tex(facenet.triplets)}")
    lines.append(rf"\text{{your batch: }} {people} \cdot {photos} \cdot {photos - 1} \cdot "
                 rf"({people * photos}-{photos}) = {tex(user.triplets)}")
    st.latex(r"\begin{gathered}" + r" \\ ".join(lines) + r"\end{gathered}")
    plot(scales_figure(tuple(scales)), key="mining_scales")
    online = words("scales-online", estimate=lesson.facenet_dataset_estimate(), facenet_pairs=facenet.pairs,
                   your_pairs=user.pairs)
    st.markdown(online if lfw is None
                else words("scales-lfw", triplets=lfw.triplets, times=lfw.triplets / facenet.triplets) + " " + online)


def staleness_figure(rows: list[lesson.Staleness]) -> dict:
    """Stacked bars: what the triplets mined at each older step are at the current one (a dict: redrawn on
    every move of the step slider)."""
    ages = [f"{r.stale_by} steps ago (step {r.mined_step})" if r.stale_by else f"now (step {r.mined_step}): online"
            for r in rows]
    traces = [dict(type="bar", orientation="h", y=ages, x=[round(100 * r.share(kind), 2) for r in rows], name=kind,
                   marker=dict(color=KIND_COLORS[kind]), customdata=[[r.mined] for r in rows],
                   hovertemplate="mined %{y}<br>" + kind + " now: %{x:.1f}% of %{customdata[0]:,}<extra></extra>")
              for kind in ("semi-hard", "hard", "easy")]
    return chart(traces, "What the triplets mined at an older step are now", height=120 + 32 * len(rows),
                 barmode="stack", xaxis=dict(title=dict(text="share of the triplets mined then (%)"), range=[0, 100]),
                 yaxis=dict(autorange="reversed", title=dict(text="mined")))


def section_offline(seed: int) -> None:
    st.header("Offline or online?")
    maps = explorer_maps()
    if maps is None or lesson.OFFLINE_RUN not in maps.runs:
        st.markdown(words("offline-intro", people=lesson.OFFLINE_PEOPLE, photos=lesson.OFFLINE_PHOTOS))
        st.info(words("no-maps-offline"), icon=":material/info:")
        return
    st.markdown(words("offline-intro", people=lesson.OFFLINE_PEOPLE, photos=lesson.OFFLINE_PHOTOS))
    steps = [int(x) for x in maps.runs[lesson.OFFLINE_RUN].steps]
    now = int(st.select_slider("Training step now", steps[1:], value=steps[-1], key="mining_offline_step"))
    stamp = (str(EXPLORER_FILE), EXPLORER_FILE.stat().st_mtime_ns, maps.shipped_sha256)
    rows = staleness(stamp, seed, now, maps)
    recent = next(r for r in rows if r.stale_by == now - max(s for s in steps if s < now))
    if not predict_then_see(words.prediction("offline-stale", age=recent.stale_by, then=recent.mined_step, now=now),
                            round(100 * recent.share("semi-hard"), 1), key="mining-offline-stale",
                            shown=lambda x: f"{float(x):.1f}%"):
        return
    plot(staleness_figure(rows), key="mining_offline")
    st.caption(words("caption-offline", run=lesson.OFFLINE_RUN, margin=lesson.OFFLINE_MARGIN, now=now))
    st.markdown(words("offline-result", mined=recent.mined, age=recent.stale_by, then=recent.mined_step, now=now,
                      still=recent.share("semi-hard"), easy=recent.share("easy"), hard=recent.share("hard")))
    try_this(words("try-offline"))


def section_collapse(v: View | None, people: int, photos: int, alpha: float) -> None:
    st.header("Why not always the hardest negatives?")
    comparison = comparison_runs(sweep.runs_stamp())
    revealed = predict_collapse(comparison)
    st.markdown(words("collapse-intro", loss=collapsed_loss(people, photos, alpha), alpha=alpha))
    if v is not None:
        show_shrink(v)
    if revealed:
        show_runs(comparison)


COLLAPSE_OPTIONS = ({lesson.REFERENCE_RUN}, {lesson.HARDEST_RUN}, {lesson.REFERENCE_RUN, lesson.HARDEST_RUN}, set())


def predict_collapse(comparison: lesson.RunComparison) -> bool:
    """Ask which run collapses before the runs are shown; True once answered (or with nothing to ask)."""
    collapsed = lesson.collapsed_runs(comparison)
    if collapsed is None:
        return True
    hardest = comparison.present[lesson.HARDEST_RUN]
    prediction = words.prediction("collapse", margin=hardest.margin,
                                  steps=hardest.hyperparameters.get("steps", "?"))
    return predict_then_see(prediction, prediction.options[COLLAPSE_OPTIONS.index(collapsed)],
                            key="mining-collapse")


def show_shrink(v: View) -> None:
    curves = shrink_curves(v.key, v.analysis)
    st.markdown(words("shrink-intro"))
    plot(shrink_figure(curves, v.alpha), key="mining_shrink")
    hard, semi = curves["hard"], curves["semi-hard"]
    st.latex(rf"L_\text{{batch-hard}}:\ {hard[-1]:.3f}\ (s=1) \;\to\; {hard[0]:.3f}\ (s=0)"
             rf"\qquad L_\text{{semi-hard}}:\ {semi[-1]:.3f}\ (s=1) \;\to\; {semi[0]:.3f}\ (s=0)")
    verdict = words("shrink-verdict-above" if hard[-1] > v.alpha else "shrink-verdict-below")
    st.markdown(words("shrink-result", loss=hard[-1], verdict=verdict) + " " + words("shrink-why"))
    try_this(words("try-shrink"))


def show_runs(comparison: lesson.RunComparison) -> None:
    files_key = sweep.runs_stamp()
    if comparison.present:
        margins = sorted({run.margin for run in comparison.present.values() if run.margin is not None})
        first = next(iter(comparison.present.values()))  # the hardest-negatives run when it exists
        st.markdown(words("runs-intro"))
        plot(runs_figure(files_key, comparison.present, first.margin if first.margin is not None else 0.2),
             key="mining_runs")
        for col, (name, run) in zip(st.columns(len(comparison.present)), comparison.present.items()):
            acc, hp = run.metrics.get("view1_devtest_accuracy"), run.hyperparameters
            about = words("help-run", name=name, steps=hp.get("steps", "?"), people=hp.get("people_per_batch", "?"),
                          photos=hp.get("images_per_person", "?"), margin=hp.get("margin", "?"),
                          mining=hp.get("mining", "?"), optimizer=hp.get("optimizer", "?"))
            col.metric(f"{RUN_STYLE[name][1]}: pairsDevTest accuracy", "n/a" if acc is None else f"{100 * acc:.1f}%",
                       border=True, help=about)
        hardest = comparison.present.get(lesson.HARDEST_RUN)
        if hardest is not None and hardest.margin is not None:
            steps, losses = hardest.curve("loss")
            stuck = lesson.stuck_at_margin(steps, losses, hardest.margin)
            acc = hardest.metrics.get("view1_devtest_accuracy")
            reference = comparison.present.get(lesson.REFERENCE_RUN)
            ref_acc = None if reference is None else reference.metrics.get("view1_devtest_accuracy")
            if stuck is not None:
                parts = [words("runs-collapsed", step=stuck, margin=hardest.margin, last=losses[-1])]
                if acc is not None:
                    parts.append(words("runs-collapsed-accuracy", accuracy=100 * acc))
                if ref_acc is not None:
                    parts.append(words("runs-reference-accuracy", accuracy=100 * ref_acc))
                st.markdown(" ".join(parts))
                st.markdown(words("runs-not-a-law"))
            else:
                st.markdown(words("runs-not-collapsed", margin=hardest.margin))
        st.caption(words("caption-runs", margins=", ".join(f"{m:g}" for m in margins)))
    if comparison.missing:
        names = " and ".join(f'"{n}"' for n in comparison.missing)
        st.info(words("runs-missing-several" if len(comparison.missing) > 1 else "runs-missing-one", names=names),
                icon=":material/hourglass_top:")


def plot_in(container, figure, key: str) -> None:
    """`plot`, inside a column."""
    with container:
        plot(figure, key=key)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

lesson_header(PAGE)
st.markdown(words("intro"))
emb = lfw_embeddings()

controls = st.container(border=True)
controls.markdown(":material/tune: **The batch and the rule**")
c1, c2, c3, c4 = controls.columns([3, 3, 2, 3])
people = c1.slider("People in the batch, P", 2, 16, 8, key="mining_people", bind="query-params")
photos = c2.slider("Photos per person, K", 2, 8, 4, key="mining_photos", bind="query-params")
seed = int(c3.number_input("Batch number", min_value=0, max_value=1_000_000, step=1, key="mining_seed",
                           bind="query-params", help=words("help-batch-number")))
c3.button("New batch", key="mining_new_batch", on_click=next_batch, icon=":material/casino:")
unseen = c4.toggle("Only people the model never saw in training", key="mining_unseen", bind="query-params",
                   help=words("help-unseen"))
c5, c6, c7 = controls.columns([3, 4, 4])
alpha = float(c5.slider("Margin α", 0.0, 1.0, 0.2, step=0.05, key="mining_alpha", bind="query-params"))
strategy = c6.segmented_control("Mining strategy", list(lesson.STRATEGY_LABELS), default="semi-hard", required=True,
                                key="mining_strategy", bind="query-params",
                                format_func=lambda m: lesson.STRATEGY_LABELS.get(m, m)) or "semi-hard"
view = make_view(emb, c7, people, photos, seed, unseen, alpha, strategy)

if view is not None:
    section_batch(view)
    section_matrix(view)
    section_strategies(view)
    section_comparison(view)
section_scales(emb, people, photos)
section_offline(seed)
section_collapse(view, people, photos, alpha)
try_this(words("try-people"))
check_yourself(words.questions(), key="mining")
