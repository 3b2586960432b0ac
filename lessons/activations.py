"""Lesson 5, ReLU vs sigmoid/tanh: the three activation functions and their derivatives, the gradient
that survives the trip back through a deep stack of layers, dead ReLU units, and what each function
costs to compute.

The deep network is a plain multi-layer perceptron: `depth` blocks of (Linear -> activation), each
`width` units wide, at initialisation. Its loss is a fixed random weighting of the last layer's
outputs, ``L = mean over the batch of sum_j r_j h_j`` (r ~ N(0, 1), drawn once), so the gradient
that arrives at the top has the same size whatever the activation; what differs is how much of it
is left after going back through the layers. Layer 1 is the one next to the input.

The same seed gives the same weights whichever activation is used, so the three curves compare the
activations and nothing else.

No Streamlit here: pages/activations.py only draws what these functions compute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from lessons.torch_threads import single_threaded

ACTIVATIONS = ("sigmoid", "tanh", "relu")
LABELS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
FUNCTION_LATEX = {
    "sigmoid": r"\sigma(x) = \frac{1}{1 + e^{-x}}",
    "tanh": r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
    "relu": r"\mathrm{ReLU}(x) = \max(0, x)",
}
DERIVATIVE_LATEX = {
    "sigmoid": r"\sigma'(x) = \sigma(x)\,\bigl(1 - \sigma(x)\bigr)",
    "tanh": r"\tanh'(x) = 1 - \tanh^2(x)",
    "relu": r"\mathrm{ReLU}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}",
}
# The largest value each derivative ever takes: the most one layer can pass back per unit.
MAX_DERIVATIVE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}
# Where the page compares the slopes of the sigmoid and tanh: out there tanh, whose outputs fill
# (-1, 1), is flatter than the sigmoid, whose outputs fill only (0, 1). Saturation is the slope.
SATURATED_X = 3.0

INITS = ("default", "xavier", "he")
INIT_LABELS = {"default": "PyTorch default", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)"}
INIT_LATEX = {
    "default": r"W_{ij} \sim \mathcal{U}\!\left(-\tfrac{1}{\sqrt{n_\text{in}}},\ \tfrac{1}{\sqrt{n_\text{in}}}\right),"
               r"\quad b_i \sim \mathcal{U}\!\left(-\tfrac{1}{\sqrt{n_\text{in}}},\ \tfrac{1}{\sqrt{n_\text{in}}}\right)",
    "xavier": r"W_{ij} \sim \mathcal{U}\!\left(-\sqrt{\tfrac{6}{n_\text{in} + n_\text{out}}},\ "
              r"\sqrt{\tfrac{6}{n_\text{in} + n_\text{out}}}\right),\quad b_i = 0",
    "he": r"W_{ij} \sim \mathcal{N}\!\left(0,\ \tfrac{2}{n_\text{in}}\right),\quad b_i = 0",
}


# --------------------------------------------------------------------------------------------
# The functions and their derivatives, written out
# --------------------------------------------------------------------------------------------


def activation(name: str, x) -> np.ndarray:
    """sigmoid, tanh or ReLU of x (numpy)."""
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow for large -x
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    raise ValueError(f"unknown activation {name!r}; choose from {ACTIVATIONS}")


def derivative(name: str, x) -> np.ndarray:
    """The derivative, from the formulas in DERIVATIVE_LATEX. ReLU's is taken as 0 at x = 0, as
    PyTorch does."""
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        s = activation("sigmoid", x)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name == "relu":
        return (x > 0).astype(np.float64)
    raise ValueError(f"unknown activation {name!r}; choose from {ACTIVATIONS}")


def torch_activation(name: str):
    """The PyTorch function for an activation (what the deep network below uses)."""
    try:
        return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {ACTIVATIONS}") from None


# --------------------------------------------------------------------------------------------
# Inputs: real faces or random numbers
# --------------------------------------------------------------------------------------------

FACE_SIDE = 32  # faces are shrunk to 32 x 32 grey pixels: 1,024 inputs
BATCH = 128


def face_batch(images: np.ndarray, n: int = BATCH, seed: int = 0, side: int = FACE_SIDE) -> np.ndarray:
    """`n` face crops drawn at random (fixed seed) from `images` ((N, S, S, 3) uint8), turned grey,
    shrunk to side x side by averaging blocks of pixels, scaled to [-1, 1] and flattened:
    an (n, side * side) float32 array."""
    images = np.asarray(images)
    rng = np.random.default_rng(seed)
    chosen = images[np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))]
    grey = chosen.astype(np.float32).mean(axis=3)  # (n, S, S)
    block = grey.shape[1] // side
    grey = grey[:, :block * side, :block * side].reshape(len(grey), side, block, side, block).mean(axis=(2, 4))
    return (grey / 127.5 - 1.0).reshape(len(grey), side * side).astype(np.float32)


def random_batch(n: int = BATCH, dim: int = FACE_SIDE * FACE_SIDE, seed: int = 0) -> np.ndarray:
    """n inputs of `dim` independent standard normal numbers: (n, dim) float32."""
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The deep network at initialisation
# --------------------------------------------------------------------------------------------


def init_layers(in_dim: int, depth: int, width: int, init: str = "default", bias_shift: float = 0.0,
                seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) for each of `depth` Linear layers (W: (width, fan_in)), drawn with `init`, then
    `bias_shift` added to every bias. Depends only on the arguments (its own random generator)."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose from {INITS}")
    generator = torch.Generator().manual_seed(seed)
    layers, fan_in = [], in_dim
    for _ in range(depth):
        weight, bias = torch.empty(width, fan_in), torch.empty(width)
        if init == "default":  # what nn.Linear does: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in))
            bound = 1.0 / fan_in ** 0.5
            torch.nn.init.uniform_(weight, -bound, bound, generator=generator)
            torch.nn.init.uniform_(bias, -bound, bound, generator=generator)
        elif init == "xavier":
            torch.nn.init.xavier_uniform_(weight, generator=generator)
            bias.zero_()
        else:
            torch.nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
            bias.zero_()
        layers.append((weight, bias + bias_shift))
        fan_in = width
    return layers


def readout(width: int, seed: int = 0) -> torch.Tensor:
    """The fixed random weights r of the loss L = mean_b sum_j r_j h_j."""
    return torch.randn(width, generator=torch.Generator().manual_seed(seed + 1_000_003))


def _forward(x: torch.Tensor, layers, act) -> list[torch.Tensor]:
    outputs, h = [], x
    for weight, bias in layers:
        h = act(torch.nn.functional.linear(h, weight, bias))
        outputs.append(h)
    return outputs


def dead_share(outputs: torch.Tensor) -> float:
    """Share of the units (columns of `outputs`, (batch, units)) that are exactly 0 for every input.
    (numpy here and in the norms: torch's reductions of this size go through its thread pool,
    which on a busy machine can wait a whole time slice for a core.)"""
    return float(np.mean(~np.any(outputs.detach().numpy(), axis=0)))


def _norm(tensor: torch.Tensor) -> float:
    """Frobenius norm in float64 (squares of 1e-20 would underflow in float32); a plain sum, not
    np.linalg.norm, whose BLAS call would use numpy's own thread pool."""
    values = tensor.detach().numpy().astype(np.float64)
    return float(np.sqrt(np.sum(values * values)))


@dataclass
class GradientReport:
    """One activation's deep network at initialisation, layer by layer (layer 1 next to the input)."""

    activation: str
    grad_norms: np.ndarray  # ||dL/dW_l||_F per layer (float32, denormals flushed: below ~1e-38 it is 0)
    dead_share: np.ndarray  # share of units whose output is exactly 0 for every input of the batch
    output_std: np.ndarray  # standard deviation of each layer's outputs over the batch and units
    loss: float

    @property
    def first_over_last(self) -> float:
        """How much smaller the first layer's gradient is than the last layer's (0 if it vanished)."""
        return float(self.grad_norms[0] / self.grad_norms[-1]) if self.grad_norms[-1] > 0 else float("nan")


def gradient_report(x: np.ndarray, name: str, depth: int, width: int, init: str = "default",
                    bias_shift: float = 0.0, seed: int = 0) -> GradientReport:
    """Build the network, run the batch `x` ((B, in_dim)) through it, backpropagate the loss and
    measure every layer."""
    act = torch_activation(name)
    with single_threaded(flush_denormal=True):
        layers = init_layers(x.shape[1], depth, width, init, bias_shift, seed)
        weights = [w.requires_grad_() for w, _ in layers]
        outputs = _forward(torch.as_tensor(x), layers, act)
        loss = (outputs[-1] @ readout(width, seed)).mean()
        grads = torch.autograd.grad(loss, weights)
    with torch.no_grad():
        return GradientReport(
            activation=name,
            grad_norms=np.array([_norm(g) for g in grads]),
            dead_share=np.array([dead_share(h) for h in outputs]),
            output_std=np.array([float(h.detach().numpy().std(ddof=1)) for h in outputs]),
            loss=float(loss),
        )


def dead_after_step(x: np.ndarray, depth: int, width: int, init: str = "default", bias_shift: float = 0.0,
                    lr: float = 1.0, seed: int = 0) -> np.ndarray:
    """Dead-unit share per layer of the ReLU network after ONE plain gradient-descent step of size
    `lr` on all its weights and biases (w <- w - lr * dL/dw), on the same batch and loss."""
    with single_threaded(flush_denormal=True):
        layers = init_layers(x.shape[1], depth, width, init, bias_shift, seed)
        params = [p.requires_grad_() for layer in layers for p in layer]
        inputs = torch.as_tensor(x)
        loss = (_forward(inputs, layers, torch.relu)[-1] @ readout(width, seed)).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            stepped = [p - lr * g for p, g in zip(params, grads)]
            outputs = _forward(inputs, list(zip(stepped[0::2], stepped[1::2])), torch.relu)
            return np.array([dead_share(h) for h in outputs])


def best_kept(reports: dict[str, GradientReport]) -> str:
    """The activation whose first layer's gradient is closest in size to its last layer's: the
    smallest |log10(first / last)|, so a gradient that grows tenfold on its way back counts as far
    off as one that shrinks tenfold; one that vanished to 0 is infinitely far. Ties go to the
    first in ACTIVATIONS order. The truth of the page's first prediction."""
    def distance(report: GradientReport) -> float:
        ratio = report.first_over_last
        return abs(float(np.log10(ratio))) if np.isfinite(ratio) and ratio > 0 else float("inf")

    return min(ACTIVATIONS, key=lambda name: distance(reports[name]))


def vanished_below(report: GradientReport) -> int:
    """How many of the first layers got a gradient of exactly 0 (below float32's ~1e-38)."""
    nonzero = np.flatnonzero(report.grad_norms > 0)
    return int(nonzero[0]) if len(nonzero) else len(report.grad_norms)


# --------------------------------------------------------------------------------------------
# Training: does the deep network learn at all?
# --------------------------------------------------------------------------------------------

# A toy task small enough to train live: TOY_POINTS points spread evenly over the square
# [-1, 1] x [-1, 1], labelled 1 inside the circle x1^2 + x2^2 < TOY_RADIUS2 and 0 outside. A deep
# network of `depth` layers of TOY_WIDTH units (the same layers and initialisations as above, the
# same weights whatever the activation), then one linear output unit whose logistic output is the
# predicted chance of "inside". Loss: the binary cross-entropy, averaged over the points. Training:
# plain full-batch gradient descent with one learning rate, so that what differs between the three
# curves is the activation and nothing else (an adaptive optimiser like AdaGrad would partly make
# up for small gradients and blur the comparison).
TOY_POINTS, TOY_WIDTH, TOY_STEPS, TOY_RADIUS2 = 256, 32, 300, 0.5
TRAIN_DEPTHS = (2, 5, 10, 20)
TRAIN_LRS = (0.1, 0.3, 1.0)


def toy_task(n: int = TOY_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 2) float32, labels (n,) float32: 1 inside the circle, 0 outside)."""
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 2)).astype(np.float32)
    return x, (np.sum(x * x, axis=1) < TOY_RADIUS2).astype(np.float32)


def share_loss(labels: np.ndarray) -> float:
    """The cross-entropy of a network that has learned only the share p of points inside the
    circle and predicts p for every point: -(p ln p + (1 - p) ln(1 - p)). A curve that stays at
    this line has learned nothing about *where* the points are."""
    p = float(np.mean(labels))
    return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))


@dataclass
class TrainingCurve:
    """One activation's deep network trained on the toy task: the loss before each step."""

    activation: str
    losses: np.ndarray  # (steps + 1,): losses[t] is the loss after t steps
    accuracy: float  # share of the points classified right at the end (output > 0.5 means inside)
    diverged_at: int | None = None  # the step whose loss was no longer a number (the curve stops)
    dead_share: float = 0.0  # share of the hidden units that output exactly 0 for every point, at the end

    @property
    def final_loss(self) -> float:
        """The loss after the last step (of the last step that was still a number)."""
        return float(self.losses[-1])


def train_deep(name: str, depth: int, init: str = "he", lr: float = 0.1, steps: int = TOY_STEPS,
               width: int = TOY_WIDTH, seed: int = 0) -> TrainingCurve:
    """Train the `depth`-layer network with activation `name` on the toy task by plain gradient
    descent (w <- w - lr * dL/dw on every weight and bias, all points at every step)."""
    x, y = toy_task(seed=seed)
    act = torch_activation(name)
    with single_threaded(flush_denormal=True):
        layers = init_layers(2, depth, width, init, 0.0, seed)
        generator = torch.Generator().manual_seed(seed + 2_000_003)
        out_w = torch.randn(1, width, generator=generator) / width ** 0.5
        params = [p.requires_grad_() for layer in layers for p in layer] + [out_w.requires_grad_(),
                                                                             torch.zeros(1).requires_grad_()]
        optimizer = torch.optim.SGD(params, lr=lr, foreach=True)
        inputs, labels = torch.as_tensor(x), torch.as_tensor(y)
        losses, diverged_at, correct = [], None, 0.0

        def hidden() -> list[torch.Tensor]:
            return _forward(inputs, list(zip(params[0:2 * depth:2], params[1:2 * depth:2])), act)

        def forward() -> torch.Tensor:
            return torch.nn.functional.linear(hidden()[-1], params[-2], params[-1])[:, 0]

        for t in range(steps + 1):
            logits = forward()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            value = float(loss.detach())
            if not np.isfinite(value):
                diverged_at = t
                break
            losses.append(value)
            correct = float(((logits.detach() > 0).float() == labels).float().mean())
            if t == steps:
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            dead = float(np.mean([dead_share(h) for h in hidden()])) if diverged_at is None else float("nan")
    return TrainingCurve(name, np.array(losses), correct, diverged_at, dead)


# --------------------------------------------------------------------------------------------
# What each function costs
# --------------------------------------------------------------------------------------------


TIMING_NUMBERS, TIMING_REPEATS = 1_000_000, 9


def time_activations(n: int = TIMING_NUMBERS, repeats: int = TIMING_REPEATS, seed: int = 0) -> dict[str, float]:
    """Median seconds for PyTorch (the library the network uses) to apply each activation to `n`
    float32 numbers on one CPU thread, writing into a ready buffer so that only the arithmetic is
    timed: {name: seconds}."""
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal(n).astype(np.float32))
    out = torch.empty_like(x)
    functions = {"relu": lambda: torch.clamp_min(x, 0.0, out=out),  # max(0, x): one comparison
                 "sigmoid": lambda: torch.sigmoid(x, out=out),
                 "tanh": lambda: torch.tanh(x, out=out)}
    timings = {}
    with single_threaded(flush_denormal=True):
        for name, fn in functions.items():
            fn()  # warm up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            timings[name] = float(np.median(times))
    return timings
