"""Lesson 1: the triplet loss, term by term. Layout only; the computing is in lessons/loss.py."""

import numpy as np
import streamlit as st

from lessons import loss as lesson
from lessons.content import LessonText
from model.triplet import KIND_NAMES
from ui.colors import BLACK, GREY, KIND_COLORS, ROLE_COLORS
from ui.fit import breakable
from ui.loaders import lfw_embeddings, lfw_photos, photo_index
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, thumbnail, try_this

PAGE = "pages/loss.py"
words = LessonText("loss")
MODES = ("Points you move (2-D)", "Real faces (128-D)")
SOURCES = ("Random LFW triplets", "Random points on the circle")
LIMIT = 2.0  # the sliders' range, -LIMIT..LIMIT
# On the unit circle, and semi-hard at FaceNet's margin: d_ap = 0.8, d_an = 0.9248, loss 0.0752.
DEFAULT_POINTS = {"anchor": (-0.28, 0.96), "positive": (0.6, 0.8), "negative": (-0.96, 0.28)}
SCALES = np.round(np.arange(0.25, 4.0 + 1e-9, 0.05), 2)  # the "multiply every embedding by s" slider
KIND_COLOR_LIST = [KIND_COLORS[name] for name in KIND_NAMES]


def slider_key(role: str, axis: str) -> str:
    return f"loss-{role}-{axis}"


for _role, (_x, _y) in DEFAULT_POINTS.items():  # sliders read their start from here (the step button moves them)
    st.session_state.setdefault(slider_key(_role, "x"), _x)
    st.session_state.setdefault(slider_key(_role, "y"), _y)


def raw_points() -> np.ndarray:
    return np.array([[st.session_state[slider_key(r, "x")], st.session_state[slider_key(r, "y")]]
                     for r in lesson.ROLES], dtype=np.float64)


def shown_points(raw: np.ndarray, on_circle: bool, collapse: bool) -> np.ndarray:
    points = lesson.on_unit_sphere(raw) if on_circle else raw
    return lesson.collapsed(points) if collapse else points


def take_step() -> None:
    """Button callback: move the sliders by one gradient-descent step of the current triplet."""
    state = st.session_state
    points = shown_points(raw_points(), state.get("loss-unit-circle", True), False)
    moved = lesson.one_triplet(points, state["loss-alpha"]).step(state["loss-lr"])
    for role, (x, y) in zip(lesson.ROLES, np.clip(moved, -LIMIT, LIMIT)):
        state[slider_key(role, "x")] = round(float(x), 3)
        state[slider_key(role, "y")] = round(float(y), 3)


@st.cache_resource(show_spinner=False)
def face_lists(sha: str, _emb):
    """People with two or more photos, and the starting triplet (cached per set of embeddings)."""
    people = lesson.people_with_photos(_emb.labels, _emb.names, 2)
    return people, lesson.default_faces(_emb.embeddings, _emb.labels, _emb.names)


def fmt(value: float) -> str:
    return f"{value:.3f}"


def vec(v: np.ndarray) -> str:
    return r"\begin{pmatrix}" + r"\\".join(f"{x:+.3f}" for x in v) + r"\end{pmatrix}"



def arrows(points2: np.ndarray, steps2: np.ndarray) -> list[dict]:
    out = []
    for role, start, move in zip(lesson.ROLES, points2, steps2):
        if np.linalg.norm(move) < 1e-9:
            continue
        end = start + move
        out.append(dict(x=float(end[0]), y=float(end[1]), ax=float(start[0]), ay=float(start[1]), xref="x", yref="y",
                        axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=2.5,
                        arrowcolor=ROLE_COLORS[role], text="", name=f"step-{role}"))
    return out


def triplet_figure(points2: np.ndarray, steps2: np.ndarray, result: lesson.OneTriplet, title: str,
                   circle: bool, fixed_range: float | None, labels: list[str]) -> dict:
    """The three points, dotted lines from the anchor, and the gradient-step arrows."""
    data = []
    a = points2[0]
    for other, role, d in ((points2[1], "positive", result.d_ap), (points2[2], "negative", result.d_an)):
        data.append(dict(type="scatter", x=[float(a[0]), float(other[0])], y=[float(a[1]), float(other[1])],
                         mode="lines", showlegend=False, line=dict(color=ROLE_COLORS[role], dash="dot", width=1.5),
                         hovertemplate=f"squared distance anchor-{role}: {d:.3f}<extra></extra>"))
    for role, point, label, g in zip(lesson.ROLES, points2, labels, result.gradient_norms):
        data.append(dict(type="scatter", x=[float(point[0])], y=[float(point[1])], mode="markers+text", name=role,
                         text=[label], textposition="top center",
                         marker=dict(size=16, color=ROLE_COLORS[role], line=dict(color="white", width=1.5)),
                         hovertemplate=f"{role}<br>x=%{{x:.3f}}, y=%{{y:.3f}}<br>gradient length {g:.3f}<extra></extra>"))
    shapes = []
    if circle:
        shapes.append(dict(type="circle", xref="x", yref="y", x0=-1, y0=-1, x1=1, y1=1,
                           line=dict(color=GREY, dash="dash", width=1)))
    if fixed_range is not None:
        x_range = y_range = [-fixed_range, fixed_range]
    else:
        everything = np.vstack([points2, points2 + steps2])
        centre = (everything.max(axis=0) + everything.min(axis=0)) / 2
        half = max(float((everything.max(axis=0) - everything.min(axis=0)).max()) / 2 * 1.25, 0.1)
        x_range = [float(centre[0] - half), float(centre[0] + half)]
        y_range = [float(centre[1] - half), float(centre[1] + half)]
    layout = dict(title=dict(text=title), height=460, shapes=shapes, annotations=arrows(points2, steps2),
                  legend=dict(orientation="h", y=-0.15), margin=dict(t=50, b=40, l=40, r=20),
                  xaxis=dict(range=x_range, title=dict(text="embedding coordinate 1"), zeroline=True),
                  yaxis=dict(range=y_range, title=dict(text="embedding coordinate 2"), zeroline=True,
                             scaleanchor="x", scaleratio=1))
    return dict(data=data, layout=layout)


def sweep_figures(sweep: lesson.NegativeSweep, result: lesson.OneTriplet) -> tuple[dict, dict]:
    """The loss, and each arrow's length (the gradient's), against d_an as the negative slides; the
    current triplet as a dot on every curve."""
    x = sweep.d_an.tolist()
    edges = [dict(type="line", xref="x", yref="paper", x0=edge, x1=edge, y0=0, y1=1,
                  line=dict(color=GREY, dash="dash", width=1)) for edge in (sweep.d_ap, sweep.d_ap + sweep.margin)]
    axis = dict(title=dict(text="d_an, squared distance anchor–negative"), range=[0, float(sweep.d_an[-1]) * 1.02])
    loss = chart([dict(type="scatter", x=x, y=sweep.loss.tolist(), mode="lines", name="loss L",
                       line=dict(color=ROLE_COLORS["anchor"], width=2.5),
                       hovertemplate="d_an = %{x:.3f}: L = %{y:.3f}<extra></extra>"),
                  dict(type="scatter", x=[result.d_an], y=[result.loss], mode="markers", name="this triplet",
                       marker=dict(size=13, color=BLACK, symbol="circle"),
                       hovertemplate="this triplet: d_an = %{x:.3f}, L = %{y:.3f}<extra></extra>")],
                 "The loss", height=340, shapes=edges, xaxis=axis, yaxis=dict(title=dict(text="L"), rangemode="tozero"))
    traces = []
    for i, role in enumerate(lesson.ROLES):
        traces.append(dict(type="scatter", x=x, y=sweep.gradient_norms[:, i].tolist(), mode="lines",
                           name=f"{role}'s arrow", line=dict(color=ROLE_COLORS[role], width=2.5),
                           hovertemplate=f"d_an = %{{x:.3f}}: {role}'s arrow %{{y:.3f}}<extra></extra>"))
    traces.append(dict(type="scatter", x=[result.d_an] * 3, y=result.gradient_norms.tolist(), mode="markers",
                       name="this triplet", marker=dict(size=12, color=[ROLE_COLORS[r] for r in lesson.ROLES],
                                                        line=dict(color=BLACK, width=2)),
                       hovertemplate="this triplet: %{y:.3f}<extra></extra>"))
    lengths = chart(traces, "Each arrow's length, |gradient|", height=340, shapes=edges, xaxis=axis,
                    yaxis=dict(title=dict(text="length of the gradient"), rangemode="tozero"))
    return loss, lengths


def scale_figure(d_ap: float, d_an: float, alpha: float, scale: float, on_sphere_loss: float) -> dict:
    """The triplet's loss against s with every embedding multiplied by s: without the L2
    normalisation, and with it (`on_sphere_loss` at every s); your s as a dot on each."""
    off = lesson.scaled_losses(d_ap, d_an, alpha, SCALES)
    on = np.full(len(SCALES), on_sphere_loss)
    now_off = float(lesson.scaled_losses(d_ap, d_an, alpha, np.array([scale]))[0])
    now_on = on_sphere_loss
    x = SCALES.tolist()
    return chart([
        dict(type="scatter", x=x, y=off.tolist(), mode="lines", name="without the normalisation",
             line=dict(color=ROLE_COLORS["negative"], width=2.5),
             hovertemplate="s = %{x:.2f}: L = %{y:.3f}<extra></extra>"),
        dict(type="scatter", x=x, y=on.tolist(), mode="lines", name="on the unit sphere",
             line=dict(color=ROLE_COLORS["positive"], width=2.5, dash="dash"),
             hovertemplate="s = %{x:.2f}: L = %{y:.3f}<extra></extra>"),
        dict(type="scatter", x=[scale, scale], y=[now_off, now_on], mode="markers", name="your s",
             marker=dict(size=12, color=BLACK), hovertemplate="s = %{x:.2f}: L = %{y:.3f}<extra></extra>"),
    ], "This triplet's loss when every embedding is multiplied by s", height=360,
        xaxis=dict(title=dict(text="s, the factor every embedding is multiplied by"), type="log"),
        yaxis=dict(title=dict(text="loss L"), rangemode="tozero"))


def batch_figure(batch: lesson.BatchOfTriplets, hover_names: list[str] | None, alpha: float) -> dict:
    """One bar per triplet (its loss term, coloured by kind) and the two means as horizontal lines."""
    n = batch.n
    index = np.arange(1, n + 1)
    inside = batch.inside
    data = [dict(type="bar", x=index.tolist(), y=inside.tolist(), name="inside the bracket: d_ap − d_an + α",
                 marker=dict(color="rgba(0,0,0,0)", line=dict(color=GREY, width=1.5)), width=0.8,
                 hovertemplate="triplet %{x}: bracket %{y:.3f}<extra></extra>")]
    for kind, kind_name in enumerate(KIND_NAMES):
        chosen = batch.kinds == kind
        if not chosen.any():
            continue
        names = [hover_names[i] for i in np.flatnonzero(chosen)] if hover_names else [""] * int(chosen.sum())
        data.append(dict(
            type="bar", x=index[chosen].tolist(), y=batch.terms[chosen].tolist(), name=kind_name,
            marker=dict(color=KIND_COLOR_LIST[kind]), text=[f"{t:.3f}" if t > 0 else "" for t in batch.terms[chosen]],
            textposition="outside", customdata=np.stack([batch.d_ap[chosen], batch.d_an[chosen]], axis=1).tolist(),
            hovertext=names,
            hovertemplate="triplet %{x}: %{hovertext}<br>d_ap = %{customdata[0]:.3f}, d_an = %{customdata[1]:.3f}"
                          "<br>term = %{y:.3f}<extra></extra>"))
    # The two means: lines across the chart, named (with their values) in the legend, not on the bars.
    means = [("mean over all N", batch.mean_all, ROLE_COLORS["anchor"], "dash")]
    if batch.active:
        means.append(("mean over the active", batch.mean_active, GREY, "dot"))
    shapes = [dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=value, y1=value,
                   line=dict(color=colour, dash=dash), name=label) for label, value, colour, dash in means]
    data += [dict(type="scatter", x=[None], y=[None], mode="lines", name=f"{label}: {value:.3f}",
                  line=dict(color=colour, dash=dash), hoverinfo="skip") for label, value, colour, dash in means]
    annotations = []
    top = max(float(inside.max()) if n else 0.0, alpha, 0.05)
    bottom = min(float(inside.min()) if n else 0.0, 0.0)
    layout = dict(title=dict(text=f"The {n} loss terms of the batch"), height=440, shapes=shapes, barmode="overlay",
                  annotations=annotations, legend=dict(orientation="h", y=-0.2), margin=dict(t=50, b=40, l=40, r=20),
                  xaxis=dict(title=dict(text="triplet"), dtick=1 if n <= 16 else 2),
                  yaxis=dict(title=dict(text="bracket and loss term (squared distance units)"),
                             range=[bottom * 1.1 - 0.02 * (top - bottom), top * 1.25]))
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------------------------
# The idea
# --------------------------------------------------------------------------------------------

lesson_header(PAGE)
st.markdown(words("intro"))
st.latex(r"\|f(x^a)-f(x^p)\|_2^2 + \alpha \;<\; \|f(x^a)-f(x^n)\|_2^2")
st.markdown(words("after-formula"))

alpha = st.slider("Margin α", 0.0, 2.0, 0.2, 0.05, key="loss-alpha", bind="query-params", help=words("help-alpha"))
collapsed_loss = lesson.one_triplet(lesson.collapsed(np.zeros((3, 2))), alpha).loss
predicted_collapse = predict_then_see(words.prediction("collapse", alpha=alpha), collapsed_loss,
                                      key="loss-collapse", shown=lambda v: f"{float(v):.2f}")
collapse = st.toggle("Collapse everything to one point", key="loss-collapse", bind="query-params",
                     help=words("help-collapse"), disabled=not predicted_collapse)

# --------------------------------------------------------------------------------------------
# One triplet
# --------------------------------------------------------------------------------------------

st.header("One triplet")
mode = st.segmented_control("The three points", MODES, default=MODES[0], required=True, key="loss-mode",
                            bind="query-params")
lr = st.slider("Step size η of the arrows", 0.05, 0.5, 0.1, 0.05, key="loss-lr", bind="query-params",
               help=words("help-step-size"))

emb = lfw_embeddings() if mode == MODES[1] else None
if mode == MODES[1] and emb is None:
    st.info(words("no-real-faces"))
faces_mode = emb is not None

if not faces_mode:
    on_circle = st.toggle(words("label-unit-circle"), value=True, key="loss-unit-circle", bind="query-params",
                          help=words("help-unit-circle"))
    columns = st.columns(3)
    for column, role in zip(columns, lesson.ROLES):
        with column:
            st.markdown(f"**{role.capitalize()}**")
            st.slider(f"{role} x", -LIMIT, LIMIT, step=0.01, key=slider_key(role, "x"), disabled=collapse)
            st.slider(f"{role} y", -LIMIT, LIMIT, step=0.01, key=slider_key(role, "y"), disabled=collapse)
    st.button("Take one gradient-descent step", key="loss-step-button", on_click=take_step, disabled=collapse,
              icon=":material/arrow_forward:", help=words("help-step-button"))
    points = shown_points(raw_points(), on_circle, collapse)
    result = lesson.one_triplet(points, alpha)
    labels = ["f(a)", "f(p)", "f(n)"]
    view_points, view_steps = result.points, -lr * result.gradients
    picture_note = words("note-points-on-circle" if on_circle else "note-points")
else:
    on_circle = False
    people, start = face_lists(emb.checkpoint_sha256, emb)
    c1, c2, c3 = st.columns(3)
    person = c1.selectbox("Anchor and positive: person", people, index=people.index(start.anchor_person),
                          key="loss-anchor-person", format_func=lambda n: n.replace("_", " "))
    rows = lesson.photo_rows(emb.labels, emb.names, person)
    anchor_photo = c2.selectbox("Anchor photo", list(range(len(rows))), index=0, key="loss-anchor-photo",
                                format_func=lambda i, total=len(rows): f"photo {i + 1} of {total}")
    positive_options = [i for i in range(len(rows)) if i != anchor_photo]
    positive_photo = c3.selectbox("Positive photo", positive_options, index=0, key="loss-positive-photo",
                                  format_func=lambda i, total=len(rows): f"photo {i + 1} of {total}")
    c4, c5, _ = st.columns(3)
    negative_people = [p for p in people if p != person]
    default_negative = (negative_people.index(start.negative_person)
                        if start.negative_person in negative_people else 0)
    negative_person = c4.selectbox("Negative: another person", negative_people, index=default_negative,
                                   key="loss-negative-person", format_func=lambda n: n.replace("_", " "))
    negative_rows = lesson.photo_rows(emb.labels, emb.names, negative_person)
    negative_photo = c5.selectbox("Negative photo", list(range(len(negative_rows))),
                                  index=start.negative_photo if negative_person == start.negative_person else 0,
                                  key="loss-negative-photo",
                                  format_func=lambda i, total=len(negative_rows): f"photo {i + 1} of {total}")
    chosen = [rows[anchor_photo], rows[positive_photo], negative_rows[negative_photo]]
    points = emb.embeddings[chosen].astype(np.float64)
    if collapse:
        points = lesson.collapsed(points)
    result = lesson.one_triplet(points, alpha)
    flat = lesson.plane_through(result.points, result.gradients)
    labels = [person.replace("_", " "), person.replace("_", " "), negative_person.replace("_", " ")]
    view_points, view_steps = flat.points, -lr * flat.gradients
    picture_note = words("note-real-faces", kept_share=flat.kept_share)
    photos = lfw_photos(words("photos-needed"))
    if photos is not None:
        where = photo_index(photos)
        crops = [where.get(emb.files[row]) for row in chosen]
        columns = st.columns(6)
        for column, role, row, crop in zip(columns, lesson.ROLES, chosen, crops):
            if crop is not None:
                column.image(thumbnail(photos.images[crop]), width=96,  # the file name wraps at its "_", not inside a word
                             caption=f"{role}: {breakable(emb.files[row].split('/')[-1])}")

# numbers and picture
m1, m2, m3, m4 = st.columns(4)
m1.metric("d(a, p) = ‖f(a) − f(p)‖²", fmt(result.d_ap))
m2.metric("d(a, n) = ‖f(a) − f(n)‖²", fmt(result.d_an))
m3.metric("Loss of this triplet", fmt(result.loss))
m4.metric("Kind", result.kind)

fig_col, text_col = st.columns([3, 2])
with fig_col:
    title = "Where one gradient step moves each point" + (" (plane through the 3 faces)" if faces_mode else "")
    plot(triplet_figure(view_points, view_steps, result, title, on_circle, None if faces_mode else 2.3, labels),
         key="loss-triplet-figure")
    st.caption(picture_note)
with text_col:
    st.markdown("**The loss, with today's numbers**")
    st.latex(rf"d_{{ap}} = \|f(x^a)-f(x^p)\|_2^2 = {fmt(result.d_ap)}")
    st.latex(rf"d_{{an}} = \|f(x^a)-f(x^n)\|_2^2 = {fmt(result.d_an)}")
    st.latex(rf"L = [\,d_{{ap}} - d_{{an}} + \alpha\,]_+ = [\,{fmt(result.d_ap)} - {fmt(result.d_an)} + {alpha:.2f}\,]_+"
             rf" = [\,{result.inside:.3f}\,]_+ = {fmt(result.loss)}")
    st.markdown("**The arrows**: minus the gradient, one line per point")
    if not result.active:
        st.latex(r"-\frac{\partial L}{\partial f(x^a)} = -\frac{\partial L}{\partial f(x^p)} = "
                 r"-\frac{\partial L}{\partial f(x^n)} = 0")
        st.markdown(words("inactive"))
    elif faces_mode:
        norms = result.gradient_norms
        st.latex(rf"\left\|2\,(f(x^p) - f(x^n))\right\| = {fmt(norms[0])}\quad\text{{(anchor)}}")
        st.latex(rf"\left\|2\,(f(x^a) - f(x^p))\right\| = {fmt(norms[1])}\quad\text{{(positive)}}")
        st.latex(rf"\left\|2\,(f(x^n) - f(x^a))\right\| = {fmt(norms[2])}\quad\text{{(negative)}}")
        st.markdown(words("arrows-in-128d"))
    else:
        g = -result.gradients
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^a)}} = 2\,(f(x^p) - f(x^n)) = {vec(g[0])}")
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^p)}} = 2\,(f(x^a) - f(x^p)) = {vec(g[1])}")
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^n)}} = 2\,(f(x^n) - f(x^a)) = {vec(g[2])}")
    if result.active:
        st.markdown(words("arrows-active"))

on_sphere = faces_mode or on_circle
sweep = lesson.move_negative(result.points, alpha, on_sphere)
st.markdown(words("sweep-intro"))
push = words.prediction("negative-push")
push_truth = push.options[lesson.PUSH_OUTCOMES.index(sweep.negative_push_as_it_closes_in())]
if predict_then_see(push, push_truth, key="loss-negative-push"):
    loss_fig, lengths_fig = sweep_figures(sweep, result)
    c1, c2 = st.columns(2)
    with c1:
        plot(loss_fig, key="loss-sweep-loss")
    with c2:
        plot(lengths_fig, key="loss-sweep-lengths")
    st.caption(words("sweep-caption-sphere" if on_sphere else "sweep-caption-line"))
    edge = np.sqrt(max(result.d_ap + alpha, 0.0)) * 2
    st.markdown(words("sweep-why", push_now=float(result.gradient_norms[2]), d_an=result.d_an, push_edge=edge))

# --------------------------------------------------------------------------------------------
# The hinge and the margin
# --------------------------------------------------------------------------------------------

st.header("Why the hinge, and what α is for")
st.markdown(words("hinge-and-margin", inside=result.inside))
if collapse:
    verdict = words("collapsed-verdict-zero" if alpha == 0 else "collapsed-verdict-positive")
    st.info(words("collapsed", d_ap=result.d_ap, d_an=result.d_an, alpha=alpha, loss=result.loss, verdict=verdict),
            icon=":material/compress:")

# --------------------------------------------------------------------------------------------
# Why the margin needs the unit sphere
# --------------------------------------------------------------------------------------------

st.header("Why the margin needs the unit sphere")
st.markdown(words("sphere-intro"))
scaling = words.prediction("scale")
scale_truth = scaling.options[lesson.SCALE_OUTCOMES.index(lesson.what_scaling_does(result.d_ap, result.d_an, alpha))]
if predict_then_see(scaling, scale_truth, key="loss-scale"):
    scale = st.slider("Multiply every embedding by s", float(SCALES[0]), float(SCALES[-1]), 1.0, 0.05,
                      key="loss-scale", bind="query-params")
    on_sphere_loss = lesson.one_triplet(lesson.on_unit_sphere(result.points), alpha).loss
    plot(scale_figure(result.d_ap, result.d_an, alpha, scale, on_sphere_loss), key="loss-scale-figure")
    st.caption(words("sphere-caption"))
    needed = lesson.scale_that_satisfies(result.d_ap, result.d_an, alpha)
    verdict = (words("sphere-verdict-wrong") if needed is None
               else words("sphere-verdict-ordered", needed=needed, alpha=alpha))
    off = float(lesson.scaled_losses(result.d_ap, result.d_an, alpha, np.array([scale]))[0])
    st.markdown(words("sphere-result", scale=scale, off=off, on=on_sphere_loss, verdict=verdict))

# --------------------------------------------------------------------------------------------
# A batch of triplets
# --------------------------------------------------------------------------------------------

st.header("A batch: adding up N triplets")
st.markdown(words("batch-intro"))
b1, b2, b3 = st.columns([2, 2, 1])
source = b1.segmented_control("Where the triplets come from", SOURCES, default=SOURCES[0], required=True,
                              key="loss-batch-source", bind="query-params")
n = b2.slider("N, triplets in the batch", 1, 32, 12, key="loss-batch-n", bind="query-params")
seed = b3.number_input("Draw number", 0, 999, 0, key="loss-batch-seed", bind="query-params",
                        help=words("help-draw-number"))

batch_emb = lfw_embeddings() if source == SOURCES[0] else None
hover_names = None
if batch_emb is not None:
    drawn = lesson.random_lfw_triplets(batch_emb.labels, n, seed)
    e = batch_emb.embeddings.astype(np.float64)
    anchors, positives, negatives = e[drawn[:, 0]], e[drawn[:, 1]], e[drawn[:, 2]]
    name = lambda r: batch_emb.names[batch_emb.labels[r]].replace("_", " ")  # noqa: E731
    hover_names = [f"{name(a)} vs {name(neg)}" for a, _, neg in drawn]
    batch_note = words("batch-note-lfw")
else:
    if source == SOURCES[0]:
        st.info(words("no-lfw-embeddings"))
    pts = lesson.random_circle_triplets(n, seed)
    anchors, positives, negatives = pts[:, 0], pts[:, 1], pts[:, 2]
    batch_note = words("batch-note-circle")
if collapse:
    everything = lesson.collapsed(np.concatenate([anchors, positives, negatives]))
    anchors, positives, negatives = everything[:n], everything[n:2 * n], everything[2 * n:]
    batch_note += " " + words("batch-note-collapsed")
batch = lesson.batch_of_triplets(anchors, positives, negatives, alpha)

fig = batch_figure(batch, hover_names, alpha)
plot(fig, key="loss-batch-figure")
st.caption(batch_note + " " + words("batch-caption"))

counts = {name: int(np.count_nonzero(batch.kinds == k)) for k, name in enumerate(KIND_NAMES)}
s1, s2, s3 = st.columns(3)
s1.metric("Sum (the paper's L)", fmt(batch.total))
s2.metric("Mean over all N (semi-hard training)", fmt(batch.mean_all))
s3.metric("Mean over the active (batch-all)", fmt(batch.mean_active))
st.latex(rf"\sum_{{i=1}}^{{{n}}} [\,\cdot\,]_+ = {fmt(batch.total)},\qquad "
         rf"\frac{{1}}{{N}}\sum = \frac{{{fmt(batch.total)}}}{{{n}}} = {fmt(batch.mean_all)},\qquad "
         rf"\frac{{1}}{{N_{{\text{{active}}}}}}\sum = "
         + (rf"\frac{{{fmt(batch.total)}}}{{{batch.active}}} = {fmt(batch.mean_active)}" if batch.active
            else r"0 \;\;(\text{nothing is active})"))
st.markdown(words("batch-counts", n=n, active=batch.active, hard=counts["hard"], semi_hard=counts["semi-hard"],
                  easy=counts["easy"]))

try_this(words("try"))
check_yourself(words.questions(), key="loss")
