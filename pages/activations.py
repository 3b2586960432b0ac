"""Lesson 5, ReLU vs sigmoid/tanh: the functions and their derivatives, the gradient left after
going back through a deep network, dead ReLU units and the cost of each function. The computations
live in lessons/activations.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import activations as lesson
from lessons.content import LessonText
from ui.colors import BLACK, BLUE, GREEN, GREY, ORANGE, VERMILLION
from ui.loaders import data_path, lfw_photos
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, try_this

PAGE = "pages/activations.py"
words = LessonText("activations")
COLORS = {"sigmoid": ORANGE, "tanh": GREEN, "relu": BLUE}
LABELS = lesson.LABELS


lesson_header(PAGE)

st.markdown(words("intro"))

# --------------------------------------------------------------------------------------------
# The three functions and their derivatives
# --------------------------------------------------------------------------------------------

st.header("Three functions and their slopes")

toggles = st.columns(4)
shown = [name for column, name in zip(toggles, lesson.ACTIVATIONS)
         if column.toggle(LABELS[name], value=True, key=f"act-show-{name}")]
x0 = toggles[3].slider("Look at x =", -6.0, 6.0, 2.0, step=0.1, key="act-x", bind="query-params")

xs = np.linspace(-6, 6, 241)
traces = []
for name in shown:
    traces.append(dict(
        type="scatter", x=xs, y=lesson.activation(name, xs), mode="lines", name=LABELS[name],
        line=dict(color=COLORS[name], width=3), hovertemplate=f"{LABELS[name]}(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"))
    traces.append(dict(
        type="scatter", x=xs, y=lesson.derivative(name, xs), mode="lines", name=f"{LABELS[name]}′ (derivative)",
        line=dict(color=COLORS[name], width=2, dash="dash"),
        hovertemplate=f"{LABELS[name]}′(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"))
    traces.append(dict(
        type="scatter", x=[x0, x0], y=[float(lesson.activation(name, x0)), float(lesson.derivative(name, x0))],
        mode="markers", showlegend=False, marker=dict(color=COLORS[name], size=10, line=dict(width=1, color=BLACK)),
        hovertemplate=f"{LABELS[name]} at x = {x0:g}: %{{y:.3f}}<extra></extra>"))
figure = chart(traces, "Solid: the function. Dashed: its derivative (slope)", height=420,
               xaxis=dict(title=dict(text="input x (the weighted sum of a unit)")),
               yaxis=dict(title=dict(text="output / slope"), range=[-1.2, 2.2]),
               shapes=[dict(type="line", x0=x0, x1=x0, xref="x", y0=0, y1=1, yref="paper",
                            line=dict(color=GREY, width=1, dash="dot"))])
plot(figure, key="act-functions-figure")

if not shown:
    st.caption(words("none-shown"))
for name in shown:
    value, slope = float(lesson.activation(name, x0)), float(lesson.derivative(name, x0))
    st.latex(lesson.FUNCTION_LATEX[name] + r",\qquad " + lesson.DERIVATIVE_LATEX[name]
             + rf"\qquad\Rightarrow\qquad \text{{at }} x = {x0:g}:\ {value:.4f},\ \text{{slope}}\ {slope:.4f}")
st.markdown(words("slopes"))
st.markdown(words("saturation-is-the-slope", sigmoid_range="(0, 1)",
                  tanh_slope=float(lesson.derivative("tanh", lesson.SATURATED_X)),
                  sigmoid_slope=float(lesson.derivative("sigmoid", lesson.SATURATED_X)), x=lesson.SATURATED_X))

# --------------------------------------------------------------------------------------------
# The vanishing gradient in a real deep network
# --------------------------------------------------------------------------------------------

st.header("The gradient on its way back through a deep network")
st.markdown(words("network-intro", batch=lesson.BATCH))

settings = st.columns(4)
depth = settings[0].slider("Depth (layers)", 2, 50, 20, key="act-depth", bind="query-params")
width = settings[1].select_slider("Width (units per layer)", (32, 64, 128, 256), value=128, key="act-width",
                                  bind="query-params")
init = settings[2].segmented_control(
    "Initial weights", lesson.INITS, default="he", required=True, format_func=lesson.INIT_LABELS.__getitem__,
    key="act-init", bind="query-params", help=words("help-init"))
source = settings[3].segmented_control(
    "Inputs", ("faces", "random"), default="faces", required=True,
    format_func={"faces": "LFW faces", "random": "random numbers"}.__getitem__, key="act-inputs", bind="query-params",
    help=words("help-inputs", batch=lesson.BATCH, side=lesson.FACE_SIDE, numbers=lesson.FACE_SIDE ** 2))
bias_shift = st.slider(
    "Shift every bias by", -2.0, 1.0, 0.0, step=0.25, key="act-bias-shift", bind="query-params",
    help=words("help-bias-shift"))


@st.cache_data(max_entries=4, show_spinner=False)
def _face_batch(folder: str, _faces) -> np.ndarray:
    """`folder` is the cache key (the data folder the photos came from)."""
    return lesson.face_batch(_faces.images)


@st.cache_data(max_entries=2, show_spinner=False)
def _random_batch() -> np.ndarray:
    return lesson.random_batch()


@st.cache_data(max_entries=512, show_spinner=False)
def _report(batch_id: str, _x: np.ndarray, name: str, depth: int, width: int, init: str, shift: float):
    return lesson.gradient_report(_x, name, depth, width, init, shift)


@st.cache_data(max_entries=256, show_spinner=False)
def _dead_after_step(batch_id: str, _x: np.ndarray, depth: int, width: int, init: str, shift: float, lr: float):
    return lesson.dead_after_step(_x, depth, width, init, shift, lr)


x_batch, batch_id = None, "random"
if source == "faces":
    faces = lfw_photos(words("photos-needed"))
    if faces is not None:
        folder = data_path()
        x_batch, batch_id = _face_batch(folder, faces), f"faces:{folder}"
    else:
        st.caption(words("random-instead"))
if x_batch is None:
    x_batch = _random_batch()
inputs_text = "LFW face crops" if batch_id != "random" else "random numbers"

reports = {name: _report(batch_id, x_batch, name, depth, width, init, bias_shift) for name in lesson.ACTIVATIONS}
survivor = lesson.LABELS[lesson.best_kept(reports)]
gradient_guess = predict_then_see(
    words.prediction("gradient-survives", depth=depth, init=lesson.INIT_LABELS[init]), survivor,
    key="act-survives")

layers = np.arange(1, depth + 1)
traces = [dict(type="scatter", x=layers, y=[float(v) if v > 0 else None for v in reports[name].grad_norms],
               mode="lines+markers", name=LABELS[name], line=dict(color=COLORS[name], width=3), marker=dict(size=5),
               hovertemplate=f"{LABELS[name]}, layer %{{x}}<br>gradient size %{{y:.3g}}<extra></extra>")
          for name in shown]
gradient_figure = chart(
    traces, f"Gradient size per layer at initialisation ({depth} layers × {width} units, {inputs_text})", height=440,
    xaxis=dict(title=dict(text="layer (1 = next to the input)")),
    yaxis=dict(title=dict(text="size of the weight gradient ‖∂L/∂W‖ (log scale)"), type="log",
               exponentformat="power"))
if gradient_guess:
    plot(gradient_figure, key="act-gradient-figure")
    metric_columns = st.columns(3)
    for column, name in zip(metric_columns, lesson.ACTIVATIONS):
        report = reports[name]
        lost = lesson.vanished_below(report)
        if lost:
            value = f"0 in {lost} of {depth} layers"
            help_text = words("help-vanished", lost=lost)
        else:
            value = f"× {report.first_over_last:.2g}"
            help_text = words("help-first-over-last")
        column.metric(f"{LABELS[name]}: first layer vs last", value, help=help_text)
else:
    st.caption(words("gradient-held-back"))

st.markdown(words("why-sigmoid"))
bound = 0.25 ** (depth - 1)
mantissa, exponent = f"{bound:.2e}".split("e")
written = f"{bound:.4g}" if bound >= 1e-3 else rf"{float(mantissa):g}\times 10^{{{int(exponent)}}}"
st.latex(rf"0.25^{{{depth - 1}}} = {written}")
st.markdown(words("after-bound"))
st.latex(lesson.INIT_LATEX[init])
st.caption(words("initialisation"))

# --------------------------------------------------------------------------------------------
# Training: does the deep network learn?
# --------------------------------------------------------------------------------------------

st.header("Does the deep network learn?")
task_x, task_y = lesson.toy_task()
share = lesson.share_loss(task_y)
st.markdown(words("training-intro", points=len(task_x), steps=lesson.TOY_STEPS, width=lesson.TOY_WIDTH,
                  init=lesson.INIT_LABELS[init]))
train_settings = st.columns(2)
train_depth = train_settings[0].select_slider("Layers to train", lesson.TRAIN_DEPTHS, value=10, key="act-train-depth",
                                              bind="query-params")
train_lr = train_settings[1].select_slider("Learning rate η", lesson.TRAIN_LRS, value=0.1, key="act-train-lr",
                                           bind="query-params", help=words("help-train-lr"))


@st.cache_data(max_entries=64, show_spinner="Training the three networks...")
def _training(depth: int, init: str, lr: float) -> dict:
    return {name: lesson.train_deep(name, depth, init, lr) for name in lesson.ACTIVATIONS}


curves = _training(train_depth, init, train_lr)
sigmoid_final = float(curves["sigmoid"].final_loss)
if predict_then_see(words.prediction("sigmoid-loss", depth=train_depth, steps=lesson.TOY_STEPS, share=share),
                    sigmoid_final, key="act-sigmoid-loss", shown=lambda v: f"{float(v):.2f}"):
    traces = [dict(type="scatter", x=np.arange(len(curve.losses)), y=curve.losses, mode="lines", name=LABELS[name],
                   line=dict(color=COLORS[name], width=3),
                   hovertemplate=f"{LABELS[name]}, step %{{x}}<br>loss %{{y:.4f}}<extra></extra>")
              for name, curve in curves.items()]
    traces.append(dict(type="scatter", x=[0, lesson.TOY_STEPS], y=[share, share], mode="lines",
                       name="knowing only the share inside", line=dict(color=GREY, width=2, dash="dot"),
                       hovertemplate=f"{share:.3f}: the loss of guessing the share for every point<extra></extra>"))
    training_figure = chart(
        traces, f"Training loss, {train_depth} layers × {lesson.TOY_WIDTH} units, η = {train_lr:g}", height=420,
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text="cross-entropy loss (all points)"), rangemode="tozero"))
    plot(training_figure, key="act-training-figure")
    training_columns = st.columns(3)
    for column, (name, curve) in zip(training_columns, curves.items()):
        if curve.diverged_at is not None:
            column.metric(f"{LABELS[name]}: loss after training", f"diverged at step {curve.diverged_at}")
        else:
            column.metric(f"{LABELS[name]}: loss after {lesson.TOY_STEPS} steps", f"{curve.final_loss:.3f}",
                          help=words("help-train-accuracy", accuracy=curve.accuracy, dead=curve.dead_share))
    st.markdown(words("training-after", share=share))

# --------------------------------------------------------------------------------------------
# Dead units
# --------------------------------------------------------------------------------------------

st.header("Dead ReLU units")
st.markdown(words("dead-intro"))
step_lr = st.select_slider(
    "Then take one gradient-descent step of size η (0: no step)", (0.0, 0.01, 0.1, 1.0, 10.0), value=0.0,
    key="act-step-lr", bind="query-params",
    help=words("help-step"))

relu_report = reports["relu"]
traces = [dict(type="scatter", x=layers, y=100 * relu_report.dead_share, mode="lines+markers", name="at initialisation",
               line=dict(color=BLUE, width=3), hovertemplate="layer %{x}: %{y:.1f}% dead<extra>at initialisation</extra>")]
after = None
if step_lr > 0:
    after = _dead_after_step(batch_id, x_batch, depth, width, init, bias_shift, step_lr)
    traces.append(dict(
        type="scatter", x=layers, y=100 * after, mode="lines+markers", name=f"after one step of η = {step_lr:g}",
        line=dict(color=VERMILLION, width=3, dash="dash"),
        hovertemplate="layer %{x}: %{y:.1f}% dead<extra>after one step</extra>"))
dead_figure = chart(traces, f"Share of ReLU units that output 0 for all {len(x_batch)} inputs",
                    xaxis=dict(title=dict(text="layer (1 = next to the input)")),
                    yaxis=dict(title=dict(text="dead units (%)"), range=[-3, 103]))
plot(dead_figure, key="act-dead-figure")
dead_columns = st.columns(2)
dead_columns[0].metric("Dead ReLU units at initialisation", f"{100 * relu_report.dead_share.mean():.1f}%",
                       help=words("help-dead-at-init", depth=depth, width=width, shift=bias_shift))
if after is not None:
    dead_columns[1].metric(f"Dead after one step of η = {step_lr:g}", f"{100 * after.mean():.1f}%",
                           delta=f"{100 * (after.mean() - relu_report.dead_share.mean()):+.1f} points",
                           delta_color="inverse")
else:
    dead_columns[1].caption(words("no-step"))
st.caption(words("saturate-not-die"))

# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------

st.header("Why ReLU is cheap")
st.markdown(words("cost-intro"))


def time_the_functions():
    st.session_state["act-timings"] = lesson.time_activations()


st.button("Time the three functions on this computer", key="act-time", icon=":material/timer:",
          on_click=time_the_functions)
timings = st.session_state.get("act-timings")
if timings:
    fastest = min(timings.values())
    st.dataframe(
        [{"function": LABELS[name], "milliseconds per million numbers": round(1000 * timings[name], 3),
          "× the fastest": round(timings[name] / fastest, 1)} for name in lesson.ACTIVATIONS],
        hide_index=True)
    st.caption(words("timing-caption", numbers=lesson.TIMING_NUMBERS, repeats=lesson.TIMING_REPEATS))

try_this(words("try"))
check_yourself(words.questions(), key="act")
