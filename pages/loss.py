"""Lesson 1: the triplet loss, term by term. Layout only; the computing is in lessons/loss.py."""

import numpy as np
import streamlit as st

from lessons import loss as lesson
from lessons.quiz import Question
from model.triplet import KIND_NAMES
from ui.colors import GREY, KIND_COLORS, ROLE_COLORS
from ui.loaders import lfw_embeddings, lfw_photos, photo_index
from ui.widgets import check_yourself, lesson_header, plot, try_this

PAGE = "pages/loss.py"
MODES = ("Points you move (2-D)", "Real faces (128-D)")
SOURCES = ("Random LFW triplets", "Random points on the circle")
LIMIT = 2.0  # the sliders' range, -LIMIT..LIMIT
DEFAULT_POINTS = {"anchor": (-0.6, 0.0), "positive": (0.4, 0.4), "negative": (0.3, -0.4)}
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
    points = shown_points(raw_points(), state.get("loss-unit-circle", False), False)
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
    shapes = [dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=batch.mean_all, y1=batch.mean_all,
                   line=dict(color=ROLE_COLORS["anchor"], dash="dash"), name="mean over all")]
    annotations = [dict(xref="paper", x=0, yref="y", y=batch.mean_all, xanchor="left", yanchor="bottom",
                        showarrow=False, text=f"mean over all N: {batch.mean_all:.3f}")]
    if batch.active:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=batch.mean_active,
                           y1=batch.mean_active, line=dict(color=GREY, dash="dot"), name="mean over the active"))
        annotations.append(dict(xref="paper", x=1, yref="y", y=batch.mean_active, xanchor="right", yanchor="bottom",
                                showarrow=False, text=f"mean over the active: {batch.mean_active:.3f}"))
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
st.markdown(
    r"""
FaceNet turns every face photo $x$ into a point $f(x)$, its *embedding*. Training looks at three
photos at a time: an **anchor** $x^a$, a **positive** $x^p$ (another photo of the same person) and a
**negative** $x^n$ (somebody else). What it wants is written in one line (Schroff, Kalenichenko &
Philbin, *FaceNet*, CVPR 2015, Sec. 3.1): the anchor should be closer to the positive than to the
negative, by at least a margin $\alpha$, measured in **squared** distance:
"""
)
st.latex(r"\|f(x^a)-f(x^p)\|_2^2 + \alpha \;<\; \|f(x^a)-f(x^n)\|_2^2")
st.markdown(
    r"""
The loss measures by how much a triplet breaks that wish, and is zero when it does not:
$L = \big[\, \|f(x^a)-f(x^p)\|_2^2 - \|f(x^a)-f(x^n)\|_2^2 + \alpha \,\big]_+$, where $[z]_+ = \max(z, 0)$.
Below, each piece is computed live by the course's training code (`model.triplet`), and the arrows
show where one step of gradient descent moves each point.
"""
)

left, right = st.columns([3, 2])
alpha = left.slider("Margin α", 0.0, 2.0, 0.2, 0.05, key="loss-alpha", bind="query-params",
                    help="FaceNet used α = 0.2 (Sec. 3.1). The same α is used everywhere on this page.")
collapse = right.toggle("Collapse everything to one point", key="loss-collapse", bind="query-params",
                        help="A network that gives every face the same embedding, f(x) = constant.")

# --------------------------------------------------------------------------------------------
# One triplet
# --------------------------------------------------------------------------------------------

st.header("One triplet")
mode = st.segmented_control("The three points", MODES, default=MODES[0], required=True, key="loss-mode",
                            bind="query-params")
lr = st.slider("Step size η of the arrows", 0.05, 0.5, 0.1, 0.05, key="loss-lr", bind="query-params",
               help="Each arrow is -η times the gradient: where one gradient-descent step with learning rate η "
                    "would move the point.")

emb = lfw_embeddings() if mode == MODES[1] else None
if mode == MODES[1] and emb is None:
    st.info("Real faces need the shipped model and its LFW embeddings (see above). Showing the 2-D points instead.")
faces_mode = emb is not None

if not faces_mode:
    on_circle = st.toggle("Put the points on the unit circle, as FaceNet puts embeddings on the unit sphere",
                          key="loss-unit-circle", bind="query-params",
                          help="Each point is divided by its length, so only its direction counts.")
    columns = st.columns(3)
    for column, role in zip(columns, lesson.ROLES):
        with column:
            st.markdown(f"**{role.capitalize()}**")
            st.slider(f"{role} x", -LIMIT, LIMIT, step=0.05, key=slider_key(role, "x"), disabled=collapse)
            st.slider(f"{role} y", -LIMIT, LIMIT, step=0.05, key=slider_key(role, "y"), disabled=collapse)
    st.button("Take one gradient-descent step", key="loss-step-button", on_click=take_step, disabled=collapse,
              icon=":material/arrow_forward:", help="Moves the sliders along the arrows.")
    points = shown_points(raw_points(), on_circle, collapse)
    result = lesson.one_triplet(points, alpha)
    labels = ["f(a)", "f(p)", "f(n)"]
    view_points, view_steps = result.points, -lr * result.gradients
    picture_note = ("The points are where the loss sees them" + (", on the unit circle (dashed)" if on_circle else "")
                    + ". Arrows: -η × gradient, computed by autograd on the training code's loss.")
    if on_circle:
        picture_note += (" On the circle only the part of an arrow along the circle matters: the network's last "
                         "layer rescales every embedding to length 1, so that is all the step can keep.")
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
    picture_note = (f"The real 128-D embeddings, drawn in the flat plane through the three points (anchor at the "
                    f"origin, positive on the x axis). Three points always lie in one plane and every gradient of "
                    f"this loss is made of differences between them, so the picture keeps the distances and "
                    f"{flat.kept_share:.1%} of the gradients' length: it is exact, not an approximation. The "
                    f"gradient is taken with respect to the embeddings as the loss sees them.")
    photos = lfw_photos("Showing the three faces needs the LFW photos")
    if photos is not None:
        where = photo_index(photos)
        crops = [where.get(emb.files[row]) for row in chosen]
        columns = st.columns(6)
        for column, role, row, crop in zip(columns, lesson.ROLES, chosen, crops):
            if crop is not None:
                column.image(photos.images[crop], width=96, caption=f"{role}: {emb.files[row].split('/')[-1]}")

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
        st.markdown("The bracket is at or below zero, where the hinge is flat: this triplet already keeps its "
                    "promise and teaches the network nothing.")
    elif faces_mode:
        norms = result.gradient_norms
        st.latex(rf"\left\|2\,(f(x^p) - f(x^n))\right\| = {fmt(norms[0])}\quad\text{{(anchor)}}")
        st.latex(rf"\left\|2\,(f(x^a) - f(x^p))\right\| = {fmt(norms[1])}\quad\text{{(positive)}}")
        st.latex(rf"\left\|2\,(f(x^n) - f(x^a))\right\| = {fmt(norms[2])}\quad\text{{(negative)}}")
        st.markdown("These live in 128 dimensions: shown are their lengths, and in the figure the arrows themselves.")
    else:
        g = -result.gradients
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^a)}} = 2\,(f(x^p) - f(x^n)) = {vec(g[0])}")
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^p)}} = 2\,(f(x^a) - f(x^p)) = {vec(g[1])}")
        st.latex(rf"-\frac{{\partial L}}{{\partial f(x^n)}} = 2\,(f(x^n) - f(x^a)) = {vec(g[2])}")
    if result.active:
        st.markdown("The anchor moves toward the positive and away from the negative; the positive comes to the "
                    "anchor; the negative is pushed away.")

# --------------------------------------------------------------------------------------------
# The hinge and the margin
# --------------------------------------------------------------------------------------------

st.header("Why the hinge, and what α is for")
st.markdown(
    rf"""
**The hinge $[\,\cdot\,]_+$ keeps the loss from going negative, not $\alpha$.** Adding $\alpha$ only
shifts the bracket up: here the bracket is **{result.inside:.3f}**, and a negative far enough away
makes it as negative as you like. Without the hinge, triplets that are already fine would keep
lowering the loss the further their negative went, and the network would spend its effort polishing
them instead of fixing the ones that are wrong. With the hinge, a satisfied triplet counts zero and
pushes nothing.

**$\alpha$ is there to rule out a cheat.** Drop it and the wish becomes
$\|f(x^a)-f(x^p)\|^2 \le \|f(x^a)-f(x^n)\|^2$, which a network that sends every face to the same
point satisfies with equality: every distance is 0 and the loss is 0, a perfect score for a network
that tells nobody apart. With $\alpha > 0$ that collapsed network scores $[0 - 0 + \alpha]_+ = \alpha$ on
every triplet, so it is no longer a way out. Flip **Collapse everything to one point** above to see it.
"""
)
if collapse:
    verdict = ("a perfect score for a useless network: that is why FaceNet needs α > 0" if alpha == 0
               else "α on every triplet, so the collapse is penalised")
    st.info(rf"Collapsed: every face sits at the same point (1, 0, …), so $d_{{ap}} = {fmt(result.d_ap)}$ and "
            rf"$d_{{an}} = {fmt(result.d_an)}$, and the loss is "
            rf"$[\,0 - 0 + {alpha:.2f}\,]_+ = {fmt(result.loss)}$: {verdict}. The arrows have gone too: at the "
            "collapse every gradient of the triplet is zero, so gradient descent alone never leaves it. Schroff "
            "et al. (Sec. 3.2) warn that the hardest negatives can drive training into exactly this collapsed "
            "model, f(x) = 0.", icon=":material/compress:")

# --------------------------------------------------------------------------------------------
# A batch of triplets
# --------------------------------------------------------------------------------------------

st.header("A batch: adding up N triplets")
st.markdown(
    r"""
The paper's loss is the **sum** of the terms over all $N$ triplets,
$L = \sum_{i=1}^{N} [\,d_{ap}^{(i)} - d_{an}^{(i)} + \alpha\,]_+$ (Sec. 3.1). Training code usually takes a mean
instead, and there are two ways to take it. Ours (`model.triplet`) does this:

- **mining "semi-hard"** (how the shipped model was trained), "hard" and "random": the mean over the
  selected triplets, **zero terms included**: sum / N;
- **mining "all"** (`batch_all_loss`): the mean over the **active triplets only** (those with a non-zero
  term): sum / number active, and 0 when none is active.
"""
)
b1, b2, b3 = st.columns([2, 2, 1])
source = b1.segmented_control("Where the triplets come from", SOURCES, default=SOURCES[0], required=True,
                              key="loss-batch-source", bind="query-params")
n = b2.slider("N, triplets in the batch", 1, 32, 12, key="loss-batch-n", bind="query-params")
seed = b3.number_input("Draw number", 0, 999, 0, key="loss-batch-seed", bind="query-params",
                        help="Another number, another random batch.")

batch_emb = lfw_embeddings() if source == SOURCES[0] else None
hover_names = None
if batch_emb is not None:
    drawn = lesson.random_lfw_triplets(batch_emb.labels, n, seed)
    e = batch_emb.embeddings.astype(np.float64)
    anchors, positives, negatives = e[drawn[:, 0]], e[drawn[:, 1]], e[drawn[:, 2]]
    name = lambda r: batch_emb.names[batch_emb.labels[r]].replace("_", " ")  # noqa: E731
    hover_names = [f"{name(a)} vs {name(neg)}" for a, _, neg in drawn]
    batch_note = "Each triplet: two photos of one LFW person and one photo of somebody else, drawn at random."
else:
    if source == SOURCES[0]:
        st.info("The LFW embeddings are not available; using random points on the unit circle instead.")
    pts = lesson.random_circle_triplets(n, seed)
    anchors, positives, negatives = pts[:, 0], pts[:, 1], pts[:, 2]
    batch_note = "Each triplet: three points drawn at random on the unit circle."
if collapse:
    everything = lesson.collapsed(np.concatenate([anchors, positives, negatives]))
    anchors, positives, negatives = everything[:n], everything[n:2 * n], everything[2 * n:]
    batch_note += " Collapsed: every point has been moved to the same place, (1, 0, ..., 0)."
batch = lesson.batch_of_triplets(anchors, positives, negatives, alpha)

fig = batch_figure(batch, hover_names, alpha)
plot(fig, key="loss-batch-figure")
st.caption(batch_note + " Grey outlines: the bracket before the hinge, negative for easy triplets. Filled bars: "
           "the term after the hinge, coloured by kind; easy triplets have none.")

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
st.markdown(
    f"Of these {n} triplets, **{batch.active} are active** ({counts['hard']} hard, {counts['semi-hard']} "
    f"semi-hard) and {counts['easy']} are easy. Dividing by N or by the number of active triplets does not change "
    "which way the points move, only how far: it scales the gradient like a different learning rate. Dividing by "
    "the active count keeps the steps from fading away as most triplets become easy during training."
)

try_this(
    "Drag the negative far from the anchor: the bracket goes negative, the loss stays at 0 and all three arrows "
    "vanish. An easy triplet teaches nothing.",
    "Drag the negative right next to the anchor: it becomes *hard*, and the arrows on the anchor and the negative "
    "grow the closer they are. Then press *Take one gradient-descent step* a few times and watch the loss fall.",
    "Set α = 0 and switch on *Collapse everything to one point*: loss 0. Now raise α: the loss follows α exactly, "
    "and in the batch every bar has height α.",
    "Switch to *Real faces*: most random LFW triplets in the batch are easy for the trained network at α = 0.2. "
    "Raise α to 1 and count how many wake up.",
)

check_yourself([
    Question(
        "A triplet has d_ap = 0.30 and d_an = 0.45, with α = 0.2. What is its loss?",
        ("0", "0.05", "0.35", "−0.05"), "0.05",
        "0.30 − 0.45 + 0.2 = 0.05, which is positive, so the hinge lets it through: the negative is further than "
        "the positive, but not by the margin (a semi-hard triplet).",
        hints={"0": "The negative is further than the positive, but is it further by at least α?",
               "0.35": "Check the sign: the anchor-negative distance is subtracted.",
               "−0.05": "Compute 0.30 − 0.45 + 0.2 again, and remember the hinge never lets a value below 0 out."}),
    Question(
        "What keeps the triplet loss from ever being negative?",
        ("The margin α", "The hinge [·]₊", "Squaring the distances", "Putting embeddings on the unit sphere"),
        "The hinge [·]₊",
        "max(z, 0) cuts every negative value to 0. α only shifts the bracket; a far negative still makes the "
        "bracket negative.",
        hints={"The margin α": "α is added inside the bracket: a far enough negative still makes the bracket negative.",
               "Squaring the distances": "Distances are never negative, but their difference d_ap − d_an can be.",
               "Putting embeddings on the unit sphere": "That bounds the distances, but d_ap − d_an can still be "
                                                        "below zero."}),
    Question(
        "A network maps every face to the same point. With α = 0.2, what is the loss of each triplet?",
        ("0", "0.2", "0.4", "It cannot be computed"), "0.2",
        "Both distances are 0, so each term is [0 − 0 + 0.2]₊ = 0.2. Without the margin it would be 0: a perfect "
        "score for a network that tells nobody apart.",
        hints={"0": "That would be the answer with α = 0. What does α add to the bracket?",
               "0.4": "α is added once per triplet, not once per distance.",
               "It cannot be computed": "The distances are perfectly well defined: they are both zero."}),
], key="loss")
