"""Lesson 4, SGD vs AdaGrad: the two update rules, a race over 2-D loss surfaces, and the real
training curves of the two optimisers. The computations live in lessons/optimizers.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import optimizers as lesson
from lessons.content import LessonText
from model.sweep import LESSONS_CPU_BASE, load_runs, runs_stamp
from ui.colors import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, SKY_BLUE, VERMILLION
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, try_this

PAGE = "pages/optimizers.py"
words = LessonText("optimizers")
COLORS = {"SGD": ORANGE, "AdaGrad": BLUE}
TOLERANCE = 0.01  # "reached the bottom": within this much of the lowest loss

lesson_header(PAGE)

st.markdown(words("intro"))
st.latex(r"w_t = w_{t-1} - \eta\, g_t")
st.markdown(words("adagrad"))
st.latex(r"G_t = G_{t-1} + g_t^2 \quad (G_0 = 0), \qquad "
         r"w_t = w_{t-1} - \frac{\eta}{\sqrt{G_t} + \varepsilon}\, g_t, \qquad \varepsilon = 10^{-10}")
st.caption(words("adagrad-as-in-pytorch"))

# --------------------------------------------------------------------------------------------
# The race
# --------------------------------------------------------------------------------------------

st.header("The race")

SURFACE_KEYS = list(lesson.SURFACES)


def _reset_for_surface():
    """A new surface starts from its own start point, with learning rates that suit it."""
    surface = lesson.SURFACES[st.session_state["opt-surface"]]
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
    return next((k for k in SURFACE_KEYS if named in (k, lesson.SURFACES[k].name)), SURFACE_KEYS[0])


_first_key = _surface_in_link()
_first = lesson.SURFACES[_first_key]
for key, value in {"opt-surface": _first_key, "opt-start-w1": _first.start[0], "opt-start-w2": _first.start[1],
                   "opt-lr-sgd": _first.suggested_lr["SGD"], "opt-lr-adagrad": _first.suggested_lr["AdaGrad"],
                   "opt-steps": 200, "opt-noise": 0.0}.items():
    st.session_state.setdefault(key, value)

surface_key = st.segmented_control(
    "Loss surface", SURFACE_KEYS, format_func=lambda k: lesson.SURFACES[k].name, required=True,
    key="opt-surface", bind="query-params", on_change=_reset_for_surface,
    help=words("help-surface"))
surface = lesson.SURFACES[surface_key]
st.latex(surface.latex)
story = {"bowl": words("story-bowl"), "ravine": words("story-ravine"), "saddle": words("story-saddle"),
         "rare": words("story-rare"), "valleys": words("story-valleys", ridge=lesson.VALLEY_RIDGE)}
st.markdown(story[surface_key])

ask = st.container()  # the prediction goes here, above the controls, once the race is computed
controls, picture = st.columns([1, 2], gap="large")
with controls:
    lr_sgd = st.select_slider("SGD learning rate η", lesson.LEARNING_RATES, key="opt-lr-sgd", bind="query-params",
                              help=words("help-lr-sgd"))
    lr_ada = st.select_slider("AdaGrad learning rate η", lesson.LEARNING_RATES, key="opt-lr-adagrad",
                              bind="query-params", help=words("help-lr-adagrad"))
    w1_start = st.slider("Start w1", *lesson.BOX, step=0.05, key="opt-start-w1", bind="query-params")
    w2_start = st.slider("Start w2", *lesson.BOX, step=0.05, key="opt-start-w2", bind="query-params")
    steps = st.slider("Number of steps", 10, 500, step=10, key="opt-steps", bind="query-params",
                      on_change=_show_whole_race)
    noise = st.select_slider("Mini-batch noise σ", lesson.NOISE_LEVELS, key="opt-noise", bind="query-params",
                             help=words("help-noise"))


@st.cache_data(max_entries=64, show_spinner=False)
def race(surface_key: str, lr_sgd: float, lr_ada: float, start: tuple[float, float], steps: int,
         noise: float = 0.0):
    surface = lesson.SURFACES[surface_key]
    return {"SGD": lesson.run(surface, "SGD", lr_sgd, start, steps, noise=noise),
            "AdaGrad": lesson.run(surface, "AdaGrad", lr_ada, start, steps, noise=noise)}


@st.cache_data(max_entries=8, show_spinner=False)
def landscape(surface_key: str):
    surface = lesson.SURFACES[surface_key]
    w1, w2, loss = lesson.grid(surface)
    return w1, w2, lesson.contour_height(loss, surface)


paths = race(surface_key, lr_sgd, lr_ada, (w1_start, w2_start), steps, noise)

# Predict first: on the two valleys, where SGD ends (the race is held back); elsewhere, who gets to the
# bottom first (when each gets there is held back). Each surface asks its own question once.
with ask:
    if surface_key == "valleys":
        race_shown = predict_then_see(
            words.prediction("valleys-end", w1=w1_start, w2=w2_start, lr=lr_sgd, steps=steps),
            lesson.valley_reached(paths["SGD"]), key="opt-valleys")
        reached_shown = race_shown
    else:
        race_shown = True
        reached_shown = predict_then_see(words.prediction("race-winner", steps=steps),
                                         lesson.race_winner(paths, surface, TOLERANCE),
                                         key=f"opt-winner-{surface_key}")

st.session_state.setdefault("opt-step", steps)
if st.session_state["opt-step"] > steps:
    st.session_state["opt-step"] = steps
# The replay position is not bound to the address: its range follows the number of steps, and Streamlit
# takes a bound slider whose range changed for a new one, which the old address would then set back.
t = st.slider("Play the race: show the first t steps", 0, steps, key="opt-step",
              help=words("help-replay"))


def shown(path: lesson.Trajectory) -> int:
    """How many steps of `path` exist up to step t (a diverged run stops early)."""
    return min(t, path.steps)



def _nan_to_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in values]


# The landscape with both paths
w1_axis, w2_axis, heights = landscape(surface_key)
levels = [v for v in (0.01, 0.1, 1, 10, 100, 1000) if np.log10(v + lesson.LEVEL_OFFSET) <= heights.max() + 0.5]
traces = [dict(
    type="contour", x=w1_axis, y=w2_axis, z=heights, colorscale=[[0, "#FFFFFF"], [1, GREY]], ncontours=22,
    contours=dict(showlines=True), line=dict(width=0.5, color=GREY), name="loss",
    colorbar=dict(title=dict(text="loss − lowest", side="right"),
                  tickvals=[float(np.log10(v + lesson.LEVEL_OFFSET)) for v in levels],
                  ticktext=[f"{v:g}" for v in levels]),
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
if surface.local_minima:
    traces.append(dict(
        type="scatter", x=[m[0] for m in surface.local_minima], y=[m[1] for m in surface.local_minima],
        mode="markers", name="a higher valley's floor",
        marker=dict(symbol="star-open", size=15, color=GREEN, line=dict(width=2, color=GREEN)),
        hovertemplate="a higher valley's floor (%{x:.2f}, %{y:.2f})<extra></extra>"))
figure = chart(traces, f"{surface.name}: the first {t} steps", height=480,
               xaxis=dict(title=dict(text="w1"), range=list(lesson.BOX)),
               yaxis=dict(title=dict(text="w2"), range=list(lesson.BOX), scaleanchor="x"))
with picture:
    if race_shown:
        plot(figure, key="opt-race-figure")
    else:
        st.caption(words("held-back-race"))

for name, path in paths.items() if race_shown else ():
    if path.diverged_at is not None:
        st.warning(words("diverged", optimizer=name, step=path.diverged_at, escape=lesson.ESCAPE),
                   icon=":material/rocket_launch:")

# Who got there, and when
columns = st.columns(4)
for column, (name, path) in zip(columns[:2] if reached_shown else [], paths.items()):
    reached = lesson.steps_to_reach(path, surface, TOLERANCE)
    if path.diverged_at is not None:
        value = f"diverged at step {path.diverged_at}"
    elif reached is None:
        value = f"not within {path.steps} steps"
    else:
        value = f"step {reached}"
    column.metric(f"{name} reaches the bottom (±{TOLERANCE:g})", value)
for column, (name, path) in zip(columns[2:] if race_shown else [], paths.items()):
    n = shown(path)
    column.metric(f"{name} loss after {n} steps", f"{path.loss[n]:.4g}",
                  help=words("help-lowest-loss", minimum=surface.minimum))

# Loss over steps, and the effective learning rates
left, right = st.columns(2, gap="large")
traces = []
for name, path in paths.items():
    n = shown(path)
    traces.append(dict(
        type="scatter", x=np.arange(n + 1), y=_nan_to_none(lesson.gap(path, surface)[:n + 1]), mode="lines", name=name,
        line=dict(color=COLORS[name], width=2.5),
        hovertemplate=f"{name}, step %{{x}}<br>loss − lowest %{{y:.3g}}<extra></extra>"))
loss_figure = chart(traces, "How far above the lowest point",
                    xaxis=dict(title=dict(text="step t"), range=[0, steps]),
                    yaxis=dict(title=dict(text="loss − lowest possible loss (log scale)"), type="log"))
with left:
    if reached_shown:
        plot(loss_figure, key="opt-loss-figure")
    else:
        st.caption(words("held-back-reached"))

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
st.caption(words("caption-effective-lr"))
if noise:
    st.markdown(words("noise-explained"))
    floor = lesson.noise_floor_sgd(surface, lr_sgd, noise) if surface_key == "bowl" else float("inf")
    if np.isfinite(floor) and sgd.diverged_at is None and ada.diverged_at is None:
        st.markdown(words("noise-floor", lr=lr_sgd, noise=noise, floor=floor, steps=steps,
                          sgd=float(lesson.gap(sgd, surface)[-1]), ada=float(lesson.gap(ada, surface)[-1])))


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
st.markdown(words("step-numbers", t=max(t, 1)))
st.latex(rf"\text{{SGD, }} t = {sgd_step}:\quad " + _vector(sgd.w[sgd_step]) + " = " + _vector(sgd.w[sgd_step - 1])
         + rf" - {sgd.lr:g}\," + _vector(sgd.grads[sgd_step - 1]))
st.latex(rf"\text{{AdaGrad, }} t = {ada_step}:\quad G_t = " + _vector(ada.accumulated[ada_step - 1]) + r",\qquad "
         + _vector(ada.w[ada_step]) + " = " + _vector(ada.w[ada_step - 1]) + " - "
         + _vector(ada.effective_lr[ada_step - 1]) + r"\odot" + _vector(ada.grads[ada_step - 1]))
st.caption(words("caption-step-numbers"))



@st.cache_data(show_spinner=False)
def _prompt_facts():
    return lesson.prompt_facts()


facts = _prompt_facts()
try_this(words("try", bowl_adagrad_steps=facts["bowl_adagrad_steps"],
                saddle_gradient_ratio=facts["saddle_gradient_ratio"], rare_lr_ratio=facts["rare_lr_ratio"],
                rare_sgd_steps=facts["rare_sgd_steps"], ravine_sgd_steps=facts["ravine_sgd_steps_at_0.02"],
                ravine_sgd_diverges_at=facts["ravine_sgd_diverges_at_0.05"],
                ravine_adagrad_best_steps=facts["ravine_adagrad_best_steps"]))

st.header("Does gradient descent find the lowest point?")
st.markdown(words("global-minimum"))

# --------------------------------------------------------------------------------------------
# Why FaceNet used AdaGrad
# --------------------------------------------------------------------------------------------

st.header("Why AdaGrad for FaceNet?")
st.markdown(words("why-adagrad"))

# --------------------------------------------------------------------------------------------
# The real thing: training our face network with each optimiser
# --------------------------------------------------------------------------------------------

st.header("The real thing: our face network, trained both ways")


@st.cache_data(show_spinner=False, max_entries=4)
def _curves(stamp: tuple):
    """The shipped runs' curves; `stamp` (model.sweep.runs_stamp) is only the cache key, so that a
    run shipped while the app runs is read on the next rerun."""
    return lesson.training_curves(load_runs("lessons-cpu"))


runs = _curves(runs_stamp())
plan = LESSONS_CPU_BASE  # what every run of the comparison shares
st.markdown(words("real-runs", steps=plan["steps"], lr=plan["lr"], mining=plan["mining"], margin=plan["margin"],
                  people=plan["people_per_batch"], photos=plan["images_per_person"]))
missing = [r for r in runs if not r.found]
for r in missing:
    st.info(words("not-trained", optimizer=r.optimizer, run_name=r.run_name), icon=":material/hourglass_empty:")
found = [r for r in runs if r.found]
if found:
    metric_columns = st.columns(len(found))
    for column, r in zip(metric_columns, found):
        if r.final_accuracy is not None:
            error = f" ± {100 * r.final_accuracy_error:.1f}" if r.final_accuracy_error is not None else ""
            column.metric(f"{r.optimizer}: accuracy on unseen people", f"{100 * r.final_accuracy:.1f}%{error}",
                          help=words("help-accuracy", fixed=f"{100 * r.fixed_threshold_accuracy:.1f}%"
                                     if r.fixed_threshold_accuracy is not None else "less"))
        column.caption(f"`{r.run_name}`: {r.description}")
    curve_columns = st.columns(2, gap="large")
    for column, (key, title) in zip(curve_columns, lesson.CURVES.items()):
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
    comparison = lesson.compare(runs)
    if comparison is not None:
        st.markdown(words("verdict-tie" if comparison.tie else "verdict-ahead", adagrad=comparison.adagrad,
                          sgd=comparison.sgd, difference=comparison.difference, noise=comparison.noise,
                          leader=comparison.leader))
    st.markdown(words("reading-the-curves", eval_every=plan["eval_every"], steps=plan["steps"]))
else:
    st.caption(words("no-runs"))

# --------------------------------------------------------------------------------------------
# Inside the real network: AdaGrad's learning rate per layer, and the mini-batch noise
# --------------------------------------------------------------------------------------------

st.header("Inside the real network")


@st.cache_data(show_spinner=False, max_entries=2)
def _layer_steps(stamp: tuple):
    """The shipped record of AdaGrad per layer; `stamp` (its modification time and size) is the key."""
    return lesson.layer_steps()


def _stamp(path) -> tuple:
    try:
        info = path.stat()
        return (info.st_mtime_ns, info.st_size)
    except OSError:
        return ()


record = _layer_steps(_stamp(lesson.LAYER_RECORD))
if record is None:
    st.info(words("layers-missing"), icon=":material/hourglass_empty:")
else:
    card_loss = next((r.curves["loss"] for r in runs if r.found and r.run_name == record.run), ([], []))
    history = dict(zip(*card_loss))
    agreement = lesson.replay_agreement(record, card_loss)
    st.markdown(words("layers-intro", weights=sum(record.weights.values()), steps=record.steps))
    if np.isfinite(agreement):
        st.markdown(words("layers-agreement", agreement=agreement))
    if predict_then_see(words.prediction("largest-layer", steps=record.steps),
                        lesson.LAYER_GROUPS[record.largest()], key="opt-largest-layer"):
        steps_axis = np.arange(1, record.steps + 1)
        palette = [SKY_BLUE, BLUE, GREEN, ORANGE, VERMILLION, PURPLE, BLACK, GREY]
        layer_columns = st.columns(2, gap="large")
        for column, (values, title, axis) in zip(layer_columns, (
                (record.effective_lr, "AdaGrad's effective learning rate, median per layer", "η / (√G_t + ε)"),
                (record.gradient_rms, "Size of each layer's gradient (root mean square)", "gradient per weight"))):
            traces = [dict(type="scatter", x=steps_axis, y=values[layer], mode="lines", name=layer,
                           line=dict(color=palette[i % len(palette)], width=2),
                           hovertemplate=f"{layer}, step %{{x}}<br>%{{y:.4g}}<extra></extra>")
                      for i, layer in enumerate(record.layers)]
            with column:
                plot(chart(traces, title, xaxis=dict(title=dict(text="training step")),
                           yaxis=dict(title=dict(text=f"{axis} (log scale)"), type="log")),
                     key=f"opt-layers-{axis[:4]}")
        st.markdown(words("layers-after", steps=record.steps, largest=record.largest(), spread=record.spread(),
                          lr=record.lr))
    noise_stats = lesson.loss_noise(record.loss)
    traces = [dict(type="scatter", x=np.arange(1, record.steps + 1), y=record.loss, mode="lines",
                   name="each step's batch", line=dict(color=GREY, width=1),
                   hovertemplate="step %{x}: loss %{y:.4f}<extra>one batch</extra>")]
    shown_history = [(k, v) for k, v in history.items() if k <= record.steps]
    if shown_history:
        traces.append(dict(type="scatter", x=[k for k, _ in shown_history], y=[v for _, v in shown_history],
                           mode="markers", name="the run's card (10-step means)",
                           marker=dict(size=9, color=BLUE, line=dict(width=1, color=BLACK)),
                           hovertemplate="steps to %{x}: mean loss %{y:.4f}<extra>the shipped run</extra>"))
    plot(chart(traces, "The loss of every step's mini-batch", height=360,
               xaxis=dict(title=dict(text="training step")), yaxis=dict(title=dict(text="triplet loss"))),
         key="opt-noise-figure")
    st.markdown(words("noise-real", batch=plan["people_per_batch"] * plan["images_per_person"],
                      jump=noise_stats.step_to_step, drop=noise_stats.drop_per_step, ratio=noise_stats.ratio))

check_yourself(words.questions(), key="opt")
