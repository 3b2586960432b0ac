"""Lesson 4, SGD vs AdaGrad: the two update rules, a race over 2-D loss surfaces, and the real
training curves of the two optimisers. The computations live in lessons/optimizers.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import optimizers as opt
from lessons.quiz import Question
from model.sweep import LESSONS_CPU_BASE, load_runs, runs_stamp
from ui.colors import BLACK, BLUE, GREEN, GREY, ORANGE, SKY_BLUE
from ui.widgets import chart, check_yourself, lesson_header, plot, try_this

PAGE = "pages/optimizers.py"
COLORS = {"SGD": ORANGE, "AdaGrad": BLUE}
TOLERANCE = 0.01  # "reached the bottom": within this much of the lowest loss

lesson_header(PAGE)

st.markdown(
    """
Training a network means walking downhill on its loss: the loss is a landscape over the network's
parameters (weights), and at every step the **gradient** $g_t$ says which way is uphill and how
steep it is. An *optimiser* turns the gradient into a step. FaceNet was trained with
**stochastic gradient descent** and **AdaGrad** (Schroff, Kalenichenko & Philbin, *FaceNet*,
CVPR 2015, Sec. 3.3): the gradients come from small batches of faces (the *stochastic* part), and
AdaGrad decides how big each parameter's step is. Here plain SGD and AdaGrad race.

**SGD** takes a step of the same size per unit of gradient for every parameter: the learning rate
$\\eta$ times the gradient.
"""
)
st.latex(r"w_t = w_{t-1} - \eta\, g_t")
st.markdown(
    """
**AdaGrad** (Duchi, Hazan & Singer, 2011) keeps, *for each parameter separately*, a running sum
$G_t$ of its squared gradients, and divides that parameter's step by the square root of it. A
parameter that has had large gradients gets small steps; one that has had small or rare gradients
keeps big ones. All the operations below are done number by number, one parameter at a time.
"""
)
st.latex(r"G_t = G_{t-1} + g_t^2 \quad (G_0 = 0), \qquad "
         r"w_t = w_{t-1} - \frac{\eta}{\sqrt{G_t} + \varepsilon}\, g_t, \qquad \varepsilon = 10^{-10}")
st.caption(
    "This is exactly what this page computes and what PyTorch's `torch.optim.Adagrad` does with its "
    "defaults (no starting sum, ε = 1e-10 added *outside* the square root); some books put ε inside "
    "the root, which makes no visible difference. The tests of this lesson check our numpy steps "
    "against `torch.optim.SGD` and `torch.optim.Adagrad`. The factor η / (√G_t + ε) is AdaGrad's "
    "**effective learning rate** for that parameter."
)

# --------------------------------------------------------------------------------------------
# The race
# --------------------------------------------------------------------------------------------

st.header("The race")

SURFACE_KEYS = list(opt.SURFACES)


def _reset_for_surface():
    """A new surface starts from its own start point, with learning rates that suit it."""
    surface = opt.SURFACES[st.session_state["opt-surface"]]
    st.session_state["opt-start-w1"], st.session_state["opt-start-w2"] = surface.start
    st.session_state["opt-lr-sgd"] = surface.suggested_lr["SGD"]
    st.session_state["opt-lr-adagrad"] = surface.suggested_lr["AdaGrad"]


def _show_whole_race():
    st.session_state["opt-step"] = st.session_state["opt-steps"]


def _surface_in_link() -> str:
    """The surface a shared link names (?opt-surface=<its name>), else the first. Its start point and
    learning rates are the defaults below: a link carries only what differs from them, and switching
    the surface (which sets them) is not replayed when a link is opened."""
    named = st.query_params.get("opt-surface", "")
    return next((k for k in SURFACE_KEYS if named in (k, opt.SURFACES[k].name)), SURFACE_KEYS[0])


_first_key = _surface_in_link()
_first = opt.SURFACES[_first_key]
for key, value in {"opt-surface": _first_key, "opt-start-w1": _first.start[0], "opt-start-w2": _first.start[1],
                   "opt-lr-sgd": _first.suggested_lr["SGD"], "opt-lr-adagrad": _first.suggested_lr["AdaGrad"],
                   "opt-steps": 200}.items():
    st.session_state.setdefault(key, value)

surface_key = st.segmented_control(
    "Loss surface", SURFACE_KEYS, format_func=lambda k: opt.SURFACES[k].name, required=True,
    key="opt-surface", bind="query-params", on_change=_reset_for_surface,
    help="Switching the surface puts the start point and both learning rates back to values that suit it.")
surface = opt.SURFACES[surface_key]
st.latex(surface.latex)
st.markdown(surface.story)

controls, picture = st.columns([1, 2], gap="large")
with controls:
    lr_sgd = st.select_slider("SGD learning rate η", opt.LEARNING_RATES, key="opt-lr-sgd", bind="query-params",
                              help="Log scale: each notch is about 2 to 2.5 times the one before.")
    lr_ada = st.select_slider("AdaGrad learning rate η", opt.LEARNING_RATES, key="opt-lr-adagrad", bind="query-params",
                              help="Log scale. For AdaGrad, η is roughly the size of its first step, "
                                   "whatever the size of the gradient.")
    w1_start = st.slider("Start w1", *opt.BOX, step=0.05, key="opt-start-w1", bind="query-params")
    w2_start = st.slider("Start w2", *opt.BOX, step=0.05, key="opt-start-w2", bind="query-params")
    steps = st.slider("Number of steps", 10, 500, step=10, key="opt-steps", bind="query-params",
                      on_change=_show_whole_race)


@st.cache_data(max_entries=64, show_spinner=False)
def race(surface_key: str, lr_sgd: float, lr_ada: float, start: tuple[float, float], steps: int):
    surface = opt.SURFACES[surface_key]
    return {"SGD": opt.run(surface, "SGD", lr_sgd, start, steps),
            "AdaGrad": opt.run(surface, "AdaGrad", lr_ada, start, steps)}


@st.cache_data(max_entries=8, show_spinner=False)
def landscape(surface_key: str):
    surface = opt.SURFACES[surface_key]
    w1, w2, loss = opt.grid(surface)
    return w1, w2, opt.contour_height(loss, surface)


paths = race(surface_key, lr_sgd, lr_ada, (w1_start, w2_start), steps)

st.session_state.setdefault("opt-step", steps)
if st.session_state["opt-step"] > steps:
    st.session_state["opt-step"] = steps
# The replay position is not bound to the address: its range follows the number of steps, and Streamlit
# takes a bound slider whose range changed for a new one, which the old address would then set back.
t = st.slider("Play the race: show the first t steps", 0, steps, key="opt-step",
              help="Drag to replay the race step by step; the figures below follow.")


def shown(path: opt.Trajectory) -> int:
    """How many steps of `path` exist up to step t (a diverged run stops early)."""
    return min(t, path.steps)



def _nan_to_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in values]


# The landscape with both paths
w1_axis, w2_axis, heights = landscape(surface_key)
levels = [v for v in (0.01, 0.1, 1, 10, 100, 1000) if np.log10(v + opt.LEVEL_OFFSET) <= heights.max() + 0.5]
traces = [dict(
    type="contour", x=w1_axis, y=w2_axis, z=heights, colorscale=[[0, "#FFFFFF"], [1, GREY]], ncontours=22,
    contours=dict(showlines=True), line=dict(width=0.5, color=GREY), name="loss",
    colorbar=dict(title=dict(text="loss − lowest", side="right"),
                  tickvals=[float(np.log10(v + opt.LEVEL_OFFSET)) for v in levels], ticktext=[f"{v:g}" for v in levels]),
    hovertemplate="w1 %{x:.2f}, w2 %{y:.2f}<extra>loss surface</extra>")]
for name, path in paths.items():
    n = shown(path)
    traces.append(dict(
        type="scatter", x=path.w[:n + 1, 0], y=path.w[:n + 1, 1], mode="lines+markers",
        name=f"{name} (η = {path.lr:g})", line=dict(color=COLORS[name], width=2), marker=dict(size=4, color=COLORS[name]),
        customdata=np.column_stack([np.arange(n + 1), path.loss[:n + 1]]),
        hovertemplate=f"{name}, step %{{customdata[0]}}<br>w1 %{{x:.3f}}, w2 %{{y:.3f}}"
                      "<br>loss %{customdata[1]:.4g}<extra></extra>"))
    traces.append(dict(
        type="scatter", x=[float(path.w[n, 0])], y=[float(path.w[n, 1])], mode="markers", showlegend=False,
        marker=dict(size=13, color=COLORS[name], line=dict(width=1.5, color=BLACK)),
        hovertemplate=f"{name} after {n} steps<br>w1 %{{x:.3f}}, w2 %{{y:.3f}}<extra></extra>"))
traces.append(dict(
    type="scatter", x=[w1_start], y=[w2_start], mode="markers", name="start",
    marker=dict(symbol="x", size=12, color=BLACK), hovertemplate="start (%{x:.2f}, %{y:.2f})<extra></extra>"))
traces.append(dict(
    type="scatter", x=[m[0] for m in surface.minima], y=[m[1] for m in surface.minima], mode="markers",
    name="lowest point", marker=dict(symbol="star", size=15, color=GREEN, line=dict(width=1, color=BLACK)),
    hovertemplate="lowest point (%{x:.2f}, %{y:.2f})<extra></extra>"))
figure = chart(traces, f"{surface.name}: the first {t} steps", height=480,
               xaxis=dict(title=dict(text="w1"), range=list(opt.BOX)),
               yaxis=dict(title=dict(text="w2"), range=list(opt.BOX), scaleanchor="x"))
with picture:
    plot(figure, key="opt-race-figure")

for name, path in paths.items():
    if path.diverged_at is not None:
        st.warning(f"**{name} diverged**: at step {path.diverged_at} its parameters flew out past "
                   f"{opt.ESCAPE:g} (the steps overshoot more every time), so its race stops there. "
                   "Try a smaller learning rate.", icon=":material/rocket_launch:")

# Who got there, and when
columns = st.columns(4)
for column, (name, path) in zip(columns[:2], paths.items()):
    reached = opt.steps_to_reach(path, surface, TOLERANCE)
    if path.diverged_at is not None:
        value = f"diverged at step {path.diverged_at}"
    elif reached is None:
        value = f"not within {path.steps} steps"
    else:
        value = f"step {reached}"
    column.metric(f"{name} reaches the bottom (±{TOLERANCE:g})", value)
for column, (name, path) in zip(columns[2:], paths.items()):
    n = shown(path)
    column.metric(f"{name} loss after {n} steps", f"{path.loss[n]:.4g}",
                  help=f"The lowest possible loss on this surface is {surface.minimum:g}.")

# Loss over steps, and the effective learning rates
left, right = st.columns(2, gap="large")
traces = []
for name, path in paths.items():
    n = shown(path)
    traces.append(dict(
        type="scatter", x=np.arange(n + 1), y=_nan_to_none(opt.gap(path, surface)[:n + 1]), mode="lines", name=name,
        line=dict(color=COLORS[name], width=2.5),
        hovertemplate=f"{name}, step %{{x}}<br>loss − lowest %{{y:.3g}}<extra></extra>"))
loss_figure = chart(traces, "How far above the lowest point",
                    xaxis=dict(title=dict(text="step t"), range=[0, steps]),
                    yaxis=dict(title=dict(text="loss − lowest possible loss (log scale)"), type="log"))
with left:
    plot(loss_figure, key="opt-loss-figure")

ada, sgd = paths["AdaGrad"], paths["SGD"]
n_ada, n_sgd = shown(ada), shown(sgd)
traces = []
for index, (label, color, dash) in enumerate((("w1", BLUE, "solid"), ("w2", SKY_BLUE, "dash"))):
    effective = np.where(ada.accumulated[:n_ada, index] > 0, ada.effective_lr[:n_ada, index], np.nan)
    traces.append(dict(
        type="scatter", x=np.arange(1, n_ada + 1), y=_nan_to_none(effective), mode="lines", name=f"AdaGrad, {label}",
        line=dict(color=color, width=2.5, dash=dash),
        hovertemplate=f"AdaGrad, {label}, step %{{x}}<br>η / (√G + ε) = %{{y:.4g}}<extra></extra>"))
traces.append(dict(
    type="scatter", x=np.arange(1, n_sgd + 1), y=np.full(n_sgd, sgd.lr), mode="lines", name="SGD, w1 and w2 (η)",
    line=dict(color=ORANGE, width=2.5, dash="dot"), hovertemplate="SGD, step %{x}<br>η = %{y:.4g}<extra></extra>"))
lr_figure = chart(traces, "Effective learning rate per parameter",
                  xaxis=dict(title=dict(text="step t"), range=[0, steps]),
                  yaxis=dict(title=dict(text="step per unit of gradient (log scale)"), type="log"))
with right:
    plot(lr_figure, key="opt-lr-figure")
st.caption("The effective learning rate is the step a parameter takes per unit of its gradient. SGD's is "
           "η, the same for both parameters and for ever. AdaGrad's is η / (√G_t + ε), one per parameter, "
           "and it can only go down. (Before a parameter has seen any gradient, G_t = 0 and the curve is "
           "left out: the factor would be η / ε, but the step is 0 anyway.)")


# The formulas with this step's numbers
def _number(x: float) -> str:
    """A number for LaTeX: 4 significant digits, powers of ten written as such."""
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    mantissa, exponent = f"{x:.3e}".split("e")
    return rf"{float(mantissa):g}\times 10^{{{int(exponent)}}}"


def _vector(v) -> str:
    return r"\begin{pmatrix}" + r"\\".join(_number(x) for x in v) + r"\end{pmatrix}"


sgd_step, ada_step = (min(max(t, 1), path.steps) for path in (sgd, ada))
st.markdown(f"**Step t = {max(t, 1)}, with the numbers in** (top row w1, bottom row w2):")
st.latex(rf"\text{{SGD, }} t = {sgd_step}:\quad " + _vector(sgd.w[sgd_step]) + " = " + _vector(sgd.w[sgd_step - 1])
         + rf" - {sgd.lr:g}\," + _vector(sgd.grads[sgd_step - 1]))
st.latex(rf"\text{{AdaGrad, }} t = {ada_step}:\quad G_t = " + _vector(ada.accumulated[ada_step - 1]) + r",\qquad "
         + _vector(ada.w[ada_step]) + " = " + _vector(ada.w[ada_step - 1]) + " - "
         + _vector(ada.effective_lr[ada_step - 1]) + r"\odot" + _vector(ada.grads[ada_step - 1]))
st.caption("⊙ multiplies number by number: each parameter gets its own effective learning rate "
           "η / (√G_t + ε), the middle vector in AdaGrad's line. A run that diverged shows its last step.")



@st.cache_data(show_spinner=False)
def _prompt_facts():
    return opt.prompt_facts()


facts = _prompt_facts()
try_this(
    "**Badly scaled bowl**: raise SGD's learning rate from 0.1 to 0.2. The path bounces between the "
    "two steep walls for ever: 0.2 is exactly too much for w2, while w1 would still like a far bigger step. "
    f"AdaGrad at 0.5 is at the bottom in {facts['bowl_adagrad_steps']} steps.",
    "**Saddle**: drag *Play the race* back to the start and forward again. AdaGrad's first step moves w2 "
    f"as far as w1 (both by η), although w2's gradient is {facts['saddle_gradient_ratio']:.0f} times smaller: "
    "dividing by √G_t cancels the size.",
    "**Rare feature**: look at the effective learning rates. AdaGrad's w2 (dashed) stays about "
    f"{facts['rare_lr_ratio']:.0f} times larger than w1's, because w2 has collected far less in G_t (a gradient "
    f"only every 10th step, and a smaller one). SGD at 0.1 needs {facts['rare_sgd_steps']} steps to get within "
    "0.01 of the bottom (set 300 steps); at 0.2 it never gets there: w1 bounces between its steep walls for ever.",
    f"**Ravine**: try SGD at 0.02 (at the bottom in {facts['ravine_sgd_steps_at_0.02']} steps), then 0.05: "
    f"it flies off (past |w| = 1000) at step {facts['ravine_sgd_diverges_at_0.05']}. AdaGrad is far less fussy about "
    f"its η but never that fast here (its best, over all the η on offer, is {facts['ravine_adagrad_best_steps']} "
    "steps, with 500 steps allowed): its steps keep shrinking.",
)

# --------------------------------------------------------------------------------------------
# Why FaceNet used AdaGrad
# --------------------------------------------------------------------------------------------

st.header("Why AdaGrad for FaceNet?")
st.markdown(
    """
FaceNet's networks were trained with SGD and AdaGrad, starting from a learning rate of **0.05**
(Sec. 3.3). The paper does not argue for the choice, but the race shows what AdaGrad brings to a
network with millions of weights:

- **One learning rate does not fit all weights.** The gradients of weights in different layers,
  or of different filters, differ by orders of magnitude, like w1 and w2 in the bowl. AdaGrad
  divides each weight's step by the size of that weight's own past gradients, so it needs far less
  hand-tuning of η.
- **Rarely-updated parameters keep big steps.** A weight that only gets a gradient now and then
  (a filter for an unusual face detail, a ReLU unit that is seldom active) collects little in
  $G_t$, so its effective learning rate stays high and it still learns from the few examples it
  sees. A weight that gets a gradient at every step is slowed down more.

**Its weakness:** $G_t$ is a sum of squares, so it only ever grows, and the effective learning rate
η / (√G_t + ε) only ever shrinks. After a long training run every step is tiny, even where the
network still has a long way to go (see the ravine). Later optimisers (RMSProp, Adam) replace the
sum by a *moving average* of the squared gradients so that the step can grow again.
"""
)

# --------------------------------------------------------------------------------------------
# The real thing: training our face network with each optimiser
# --------------------------------------------------------------------------------------------

st.header("The real thing: our face network, trained both ways")


@st.cache_data(show_spinner=False, max_entries=4)
def _curves(stamp: tuple):
    """The shipped runs' curves; `stamp` (model.sweep.runs_stamp) is only the cache key, so that a
    run shipped while the app runs is read on the next rerun."""
    return opt.training_curves(load_runs("lessons-cpu"))


runs = _curves(runs_stamp())
plan = LESSONS_CPU_BASE  # what every run of the comparison shares
st.markdown(
    f"""
The same network as the course's face model, trained by this project's own code on LFW for
{plan['steps']} steps on a CPU, twice: once with **AdaGrad** (learning rate {plan['lr']:g}, FaceNet's
recipe) and once with **plain SGD** (learning rate {plan['lr']:g}), with everything else the same
({plan['mining']} triplets, margin {plan['margin']:g}, batches of {plan['people_per_batch']} people ×
{plan['images_per_person']} photos, the same random seed).
"""
)
missing = [r for r in runs if not r.found]
for r in missing:
    st.info(f"The **{r.optimizer}** run (`{r.run_name}`) has not been trained yet, so its curves are not "
            "shown. It appears here by itself once `python -m model.sweep --plan lessons-cpu` has shipped it.",
            icon=":material/hourglass_empty:")
found = [r for r in runs if r.found]
if found:
    metric_columns = st.columns(len(found))
    for column, r in zip(metric_columns, found):
        if r.final_accuracy is not None:
            error = f" ± {100 * r.final_accuracy_error:.1f}" if r.final_accuracy_error is not None else ""
            column.metric(f"{r.optimizer}: accuracy on unseen people", f"{100 * r.final_accuracy:.1f}%{error}",
                          help="Same/different decisions on LFW's 1,000 pairsDevTest pairs, none of whose "
                               "people were seen in training (ten-fold, as on the home page).")
        column.caption(f"`{r.run_name}`: {r.description}")
    curve_columns = st.columns(2, gap="large")
    for column, (key, title) in zip(curve_columns, opt.CURVES.items()):
        traces = []
        for r in found:
            x, y = r.curves.get(key, ([], []))
            if key == "view1_devtest_accuracy":
                y = [100 * v for v in y]
            traces.append(dict(
                type="scatter", x=x, y=y, mode="lines+markers" if key != "loss" else "lines", name=r.optimizer,
                line=dict(color=COLORS[r.optimizer], width=2.5),
                hovertemplate=f"{r.optimizer}, step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
        curve_figure = chart(traces, title, xaxis=dict(title=dict(text="training step")),
                             yaxis=dict(title=dict(text="accuracy (%)" if key != "loss" else "loss (batch mean)")))
        with column:
            plot(curve_figure, key=f"opt-run-{key}")
    sentence = opt.verdict(runs)
    if sentence:
        st.markdown(sentence)
    st.markdown(
        f"""
Compare the curves, not only the end points: the loss is the triplet loss of the training
batches (averaged over a few steps at a time, and still noisy), the accuracy is measured every
{plan['eval_every']} steps. Keep in mind what this small run is: {plan['steps']} steps on a CPU, and a
network with *batch normalisation*, which already evens out the size of the gradients from layer
to layer, one of the problems AdaGrad solves. FaceNet trained for 1,000 to 2,000 hours (Sec. 3.3);
the race above shows where a step per parameter matters most: badly scaled and rarely updated
parameters.
"""
    )
else:
    st.caption("No run of the comparison has been shipped yet.")

check_yourself([
    Question(
        "A parameter has had gradients 3 and 4 so far (G = 3² + 4² = 25). With AdaGrad and η = 0.1, "
        "what is its effective learning rate now?",
        ("0.1", "0.02", "0.004", "0.1 / 7"),
        "0.02",
        "η / √G = 0.1 / √25 = 0.1 / 5 = 0.02 (ε is far too small to matter). The next step is 0.02 times "
        "the next gradient.",
        hints={"0.1": "That is SGD's: AdaGrad divides η by the square root of the summed squared gradients.",
               "0.004": "Divide by the square root of G, not by G itself.",
               "0.1 / 7": "The gradients are squared before they are summed: 9 + 16 = 25, not 3 + 4."},
    ),
    Question(
        "Why can AdaGrad's learning rate for a weight never grow back during training?",
        ("Because G_t only adds squares, which are never negative",
         "Because η is lowered by a schedule",
         "Because the gradients get smaller near the minimum"),
        "Because G_t only adds squares, which are never negative",
        "G_t is a running sum of squared gradients: it can stay the same or grow, never shrink, so "
        "η / (√G_t + ε) can only go down. That is AdaGrad's weakness in long training runs.",
        hints={"Because η is lowered by a schedule": "Plain AdaGrad keeps η fixed; the shrinking comes from G_t.",
               "Because the gradients get smaller near the minimum":
                   "Smaller gradients make G_t grow more slowly, but it still grows: look at what G_t adds up."},
    ),
    Question(
        "On the badly scaled bowl, why does one SGD learning rate not work well for both parameters?",
        ("The steep direction needs a small η, the flat one a large η",
         "SGD cannot move two parameters at once",
         "The gradient points straight at the lowest point"),
        "The steep direction needs a small η, the flat one a large η",
        "Above η = 0.2 the steps along the steep w2 overshoot more and more; at that η the flat w1 "
        "moves only 2% of the way per step. AdaGrad gives each parameter its own effective rate.",
        hints={"SGD cannot move two parameters at once": "It moves all of them at every step: look at the path.",
               "The gradient points straight at the lowest point":
                   "On a squeezed bowl it does not: it points mostly across the valley, toward the steep wall."},
    ),
], key="opt")
