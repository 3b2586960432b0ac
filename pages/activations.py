"""Lesson 5, ReLU vs sigmoid/tanh: the functions and their derivatives, the gradient left after
going back through a deep network, dead ReLU units and the cost of each function. The computations
live in lessons/activations.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import activations as act
from lessons.quiz import Question
from ui.colors import BLACK, BLUE, GREEN, GREY, ORANGE, VERMILLION
from ui.loaders import data_path, lfw_photos
from ui.widgets import chart, check_yourself, lesson_header, plot, try_this

PAGE = "pages/activations.py"
COLORS = {"sigmoid": ORANGE, "tanh": GREEN, "relu": BLUE}
LABELS = act.LABELS




lesson_header(PAGE)

st.markdown(
    """
Every unit of a network adds up its weighted inputs and then passes the sum $x$ through an
**activation function**. Without it, a stack of layers would be no more than one big linear map.
When the network learns, the gradient travels back through every layer (the chain rule), and at
each layer it is **multiplied by the derivative of the activation**. So the derivative decides
how much of the learning signal reaches the first layers of a deep network.

FaceNet uses **ReLU** (rectified linear units) everywhere (Schroff, Kalenichenko & Philbin,
*FaceNet*, CVPR 2015, Sec. 3.3), as did the networks it was built on (Zeiler & Fergus 2014;
Szegedy et al. 2015). Older networks used the sigmoid or tanh. Here is why that changed.
"""
)

# --------------------------------------------------------------------------------------------
# The three functions and their derivatives
# --------------------------------------------------------------------------------------------

st.header("Three functions and their slopes")

toggles = st.columns(4)
shown = [name for column, name in zip(toggles, act.ACTIVATIONS)
         if column.toggle(LABELS[name], value=True, key=f"act-show-{name}")]
x0 = toggles[3].slider("Look at x =", -6.0, 6.0, 2.0, step=0.1, key="act-x", bind="query-params")

xs = np.linspace(-6, 6, 241)
traces = []
for name in shown:
    traces.append(dict(
        type="scatter", x=xs, y=act.activation(name, xs), mode="lines", name=LABELS[name],
        line=dict(color=COLORS[name], width=3), hovertemplate=f"{LABELS[name]}(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"))
    traces.append(dict(
        type="scatter", x=xs, y=act.derivative(name, xs), mode="lines", name=f"{LABELS[name]}′ (derivative)",
        line=dict(color=COLORS[name], width=2, dash="dash"),
        hovertemplate=f"{LABELS[name]}′(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"))
    traces.append(dict(
        type="scatter", x=[x0, x0], y=[float(act.activation(name, x0)), float(act.derivative(name, x0))],
        mode="markers", showlegend=False, marker=dict(color=COLORS[name], size=10, line=dict(width=1, color=BLACK)),
        hovertemplate=f"{LABELS[name]} at x = {x0:g}: %{{y:.3f}}<extra></extra>"))
figure = chart(traces, "Solid: the function. Dashed: its derivative (slope)", height=420,
               xaxis=dict(title=dict(text="input x (the weighted sum of a unit)")),
               yaxis=dict(title=dict(text="output / slope"), range=[-1.2, 2.2]),
               shapes=[dict(type="line", x0=x0, x1=x0, xref="x", y0=0, y1=1, yref="paper",
                            line=dict(color=GREY, width=1, dash="dot"))])
plot(figure, key="act-functions-figure")

if not shown:
    st.caption("Switch on at least one function above to see it (and its line in the deep network below).")
for name in shown:
    value, slope = float(act.activation(name, x0)), float(act.derivative(name, x0))
    st.latex(act.FUNCTION_LATEX[name] + r",\qquad " + act.DERIVATIVE_LATEX[name]
             + rf"\qquad\Rightarrow\qquad \text{{at }} x = {x0:g}:\ {value:.4f},\ \text{{slope}}\ {slope:.4f}")
st.markdown(
    """
The sigmoid's slope is never more than **0.25** (at x = 0), and both the sigmoid and tanh go flat
(*saturate*) for large |x|: there the slope is almost 0. ReLU's slope is exactly **1** for every
positive input and **0** for every negative one.
"""
)

# --------------------------------------------------------------------------------------------
# The vanishing gradient in a real deep network
# --------------------------------------------------------------------------------------------

st.header("The gradient on its way back through a deep network")
st.markdown(
    f"""
A plain deep network: as many layers as you choose below, each a fully connected layer followed
by the activation, freshly initialised (no training yet). We feed it a batch of {act.BATCH} inputs,
take a simple loss (a fixed random weighting of the last layer's outputs, the same for every
activation) and backpropagate once. The chart shows how big the gradient of each layer's weights
is: layer 1 is next to the input, the last layer next to the loss. All three networks get exactly
the same weights; only the activation differs.
"""
)

settings = st.columns(4)
depth = settings[0].slider("Depth (layers)", 2, 50, 20, key="act-depth", bind="query-params")
width = settings[1].select_slider("Width (units per layer)", (32, 64, 128, 256), value=128, key="act-width",
                                  bind="query-params")
init = settings[2].segmented_control(
    "Initial weights", act.INITS, default="he", required=True, format_func=act.INIT_LABELS.__getitem__, key="act-init",
    bind="query-params",
    help="How the random starting weights are drawn (see the formula below the chart).")
source = settings[3].segmented_control(
    "Inputs", ("faces", "random"), default="faces", required=True,
    format_func={"faces": "LFW faces", "random": "random numbers"}.__getitem__, key="act-inputs", bind="query-params",
    help=f"LFW faces: {act.BATCH} face crops, made grey and shrunk to {act.FACE_SIDE}×{act.FACE_SIDE} pixels "
         f"({act.FACE_SIDE ** 2:,} numbers in [-1, 1]). Random: the same number of standard normal values.")
bias_shift = st.slider(
    "Shift every bias by", -2.0, 1.0, 0.0, step=0.25, key="act-bias-shift", bind="query-params",
    help="Added to every bias of every layer after initialisation. A negative shift pushes units below 0.")


@st.cache_data(max_entries=4, show_spinner=False)
def _face_batch(folder: str, _faces) -> np.ndarray:
    """`folder` is the cache key (the data folder the photos came from)."""
    return act.face_batch(_faces.images)


@st.cache_data(max_entries=2, show_spinner=False)
def _random_batch() -> np.ndarray:
    return act.random_batch()


@st.cache_data(max_entries=512, show_spinner=False)
def _report(batch_id: str, _x: np.ndarray, name: str, depth: int, width: int, init: str, shift: float):
    return act.gradient_report(_x, name, depth, width, init, shift)


@st.cache_data(max_entries=256, show_spinner=False)
def _dead_after_step(batch_id: str, _x: np.ndarray, depth: int, width: int, init: str, shift: float, lr: float):
    return act.dead_after_step(_x, depth, width, init, shift, lr)


x_batch, batch_id = None, "random"
if source == "faces":
    faces = lfw_photos("The LFW faces as inputs need the photos")
    if faces is not None:
        folder = data_path()
        x_batch, batch_id = _face_batch(folder, faces), f"faces:{folder}"
    else:
        st.caption("Using random numbers as inputs instead.")
if x_batch is None:
    x_batch = _random_batch()
inputs_text = "LFW face crops" if batch_id != "random" else "random numbers"

reports = {name: _report(batch_id, x_batch, name, depth, width, init, bias_shift) for name in act.ACTIVATIONS}

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
plot(gradient_figure, key="act-gradient-figure")

metric_columns = st.columns(3)
for column, name in zip(metric_columns, act.ACTIVATIONS):
    report = reports[name]
    lost = act.vanished_below(report)
    if lost:
        value = f"0 in {lost} of {depth} layers"
        help_text = (f"The first {lost} layers got a gradient of exactly 0: smaller than about 10^-38, the "
                     "smallest 32-bit number networks compute with, so those layers cannot learn at all.")
    else:
        value = f"× {report.first_over_last:.2g}"
        help_text = "The first layer's gradient divided by the last layer's: 1 means nothing was lost on the way."
    column.metric(f"{LABELS[name]}: first layer vs last", value, help=help_text)

st.markdown("Why the sigmoid loses so much: each layer multiplies the gradient by the slope, at most 0.25, "
            "so after all the layers above the first one at most")
bound = 0.25 ** (depth - 1)
mantissa, exponent = f"{bound:.2e}".split("e")
written = f"{bound:.4g}" if bound >= 1e-3 else rf"{float(mantissa):g}\times 10^{{{int(exponent)}}}"
st.latex(rf"0.25^{{{depth - 1}}} = {written}")
st.markdown("of it can be left, before the weights have had their say. Starting weights:")
st.latex(act.INIT_LATEX[init])
st.caption(
    "He initialisation (He et al., 2015) draws weights just large enough to make up for ReLU setting half "
    "of its inputs to 0, so the signal keeps its size through the layers. PyTorch's default draws smaller "
    "weights, and Xavier's suits tanh. Networks like the course's face model add *batch normalisation* "
    "after each layer, which rescales the signal as it goes and helps the same way."
)

# --------------------------------------------------------------------------------------------
# Dead units
# --------------------------------------------------------------------------------------------

st.header("Dead ReLU units")
st.markdown(
    """
ReLU's slope is 0 for every negative input. A unit whose weighted sum is negative for **every**
input outputs 0 for all of them, and its weights and bias get no gradient at all: it is *dead*.
Nothing pulls it back (only a change in the layers below it could). Two things kill units: a bias pushed far below 0 (the slider above), and
one too large learning-rate step, which can shove many biases and weights at once to where the
sums are negative.
"""
)
step_lr = st.select_slider(
    "Then take one gradient-descent step of size η (0: no step)", (0.0, 0.01, 0.1, 1.0, 10.0), value=0.0,
    key="act-step-lr", bind="query-params",
    help="One plain step w ← w − η ∂L/∂w on all weights and biases of the ReLU network, same batch and loss.")

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
                       help=f"Over all {depth} × {width} units, with the bias shift of {bias_shift:g}.")
if after is not None:
    dead_columns[1].metric(f"Dead after one step of η = {step_lr:g}", f"{100 * after.mean():.1f}%",
                           delta=f"{100 * (after.mean() - relu_report.dead_share.mean()):+.1f} points",
                           delta_color="inverse")
else:
    dead_columns[1].caption("Pick a step size above to see what a single large step does.")
st.caption("Sigmoid and tanh units never output exactly 0, so they cannot die this way; they *saturate* "
           "instead (slope close to 0), which slows learning without stopping it completely.")

# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------

st.header("Why ReLU is cheap")
st.markdown(
    """
ReLU is a single comparison: keep x if it is positive, else output 0. Its slope is 0 or 1, so the
backward pass only needs to know which units were positive. The sigmoid and tanh need an
exponential (a *transcendental* function, computed by a series of multiplications) and a
division, forwards and backwards. FaceNet's networks apply their activation billions of times per
image batch, so this matters, though well-tuned libraries narrow the gap with special processor
instructions, and for big arrays much of the time goes into moving numbers to and from memory.
"""
)


def time_the_functions():
    st.session_state["act-timings"] = act.time_activations()


st.button("Time the three functions on this computer", key="act-time", icon=":material/timer:",
          on_click=time_the_functions)
timings = st.session_state.get("act-timings")
if timings:
    fastest = min(timings.values())
    st.dataframe(
        [{"function": LABELS[name], "milliseconds per million numbers": round(1000 * timings[name], 3),
          "× the fastest": round(timings[name] / fastest, 1)} for name in act.ACTIVATIONS],
        hide_index=True)
    st.caption(f"PyTorch, one CPU thread, {act.TIMING_NUMBERS:,} float32 numbers, median of {act.TIMING_REPEATS} "
               "runs. The numbers change with the processor, the library and whatever else the computer is doing.")

try_this(
    "Set the depth to 50. The sigmoid's first layer now gets less than 10⁻²⁰ of the gradient its last layer "
    "gets, and with *PyTorch default* weights exactly 0: those layers would never learn. With He weights, "
    "ReLU's first and last layers stay within a factor of a few of each other.",
    "Switch the initial weights to *PyTorch default*: now ReLU loses most of its gradient too. ReLU fixes the "
    "slope, but the weights must keep the signal's size: activation and initialisation go together.",
    "Shift every bias by −0.5 and watch the dead units: most layers die completely. Back at 0, try one step "
    "of η = 1 instead.",
    "Switch between LFW faces and random numbers: the picture hardly changes. The vanishing gradient is a "
    "property of the network, not of the data.",
)

check_yourself([
    Question(
        "In a deep network of sigmoid units, why do the first layers learn so slowly?",
        ("Each layer multiplies the gradient by a slope of at most 0.25",
         "The sigmoid's output can be negative",
         "The first layers have fewer weights"),
        "Each layer multiplies the gradient by a slope of at most 0.25",
        "On the way back the gradient is multiplied by the sigmoid's slope at every layer, at most 0.25 each "
        "time: going back through 19 layers, the slopes alone shrink it by up to 0.25^19. That is the "
        "vanishing gradient.",
        hints={"The sigmoid's output can be negative":
                   "It cannot: the sigmoid is always between 0 and 1. Look at its slope.",
               "The first layers have fewer weights": "All layers here have the same width; look at what happens "
                                                      "to the gradient between the last layer and the first."},
    ),
    Question(
        "What is a dead ReLU unit?",
        ("A unit whose input is negative for every example, so it outputs 0 and gets no gradient",
         "A unit whose output is always 1",
         "A unit whose weights are all exactly 0"),
        "A unit whose input is negative for every example, so it outputs 0 and gets no gradient",
        "ReLU's slope is 0 for negative inputs, so a unit that never sees a positive sum never gets a gradient "
        "and cannot recover. A strongly negative bias or one huge learning-rate step can cause it.",
        hints={"A unit whose output is always 1": "ReLU's output is not capped at 1; look at what happens below 0.",
               "A unit whose weights are all exactly 0": "Then its output would equal its bias; what matters is "
                                                         "whether the weighted sum is ever positive."},
    ),
    Question(
        "Which of these is a reason FaceNet-style networks use ReLU?",
        ("Its slope is 1 for positive inputs and it costs only a comparison",
         "It keeps every output between 0 and 1",
         "It can never produce a zero gradient"),
        "Its slope is 1 for positive inputs and it costs only a comparison",
        "A slope of 1 passes the gradient back undiminished through active units, and max(0, x) needs no "
        "exponential. (Its slope is 0 for negative inputs, which is where dead units come from.)",
        hints={"It keeps every output between 0 and 1": "That is the sigmoid; ReLU's output has no upper limit.",
               "It can never produce a zero gradient": "It does, for every negative input: remember the dead units."},
    ),
], key="act")
