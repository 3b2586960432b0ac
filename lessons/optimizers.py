"""Lesson 4, SGD vs AdaGrad: the two update rules written out in numpy, raced over small 2-D loss
surfaces, and the real training curves of the two optimisers on LFW.

The update rules, for parameters w (here two numbers, w1 and w2) and the gradient g_t of the loss
at w_{t-1}:

* SGD:      ``w_t = w_{t-1} - eta * g_t``
* AdaGrad:  ``G_t = G_{t-1} + g_t**2``  (G_0 = 0, every operation per parameter),
            ``w_t = w_{t-1} - eta / (sqrt(G_t) + eps) * g_t``

This is exactly what ``torch.optim.SGD(lr=eta)`` and ``torch.optim.Adagrad(lr=eta, eps=eps,
initial_accumulator_value=0, lr_decay=0)`` compute: PyTorch adds eps *outside* the square root
(some texts put it inside; with eps = 1e-10 the two are indistinguishable in practice). The tests
check the trajectories below against torch step by step.

AdaGrad's *effective learning rate* of a parameter is ``eta / (sqrt(G_t) + eps)``: the step it
takes per unit of gradient. G_t only ever grows, so the effective learning rate only ever
shrinks; a parameter whose gradient has been small or rare keeps a large one (Duchi, Hazan &
Singer, JMLR 2011).

No Streamlit here: pages/optimizers.py only draws what these functions compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from lessons.noise import is_tie, noise_of_difference

OPTIMIZERS = ("SGD", "AdaGrad")
TORCH_ADAGRAD_EPS = 1e-10  # torch.optim.Adagrad's default eps (added outside the square root)
LEARNING_RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)  # log-spaced choices
BOX = (-2.5, 2.5)  # every surface is drawn on [-2.5, 2.5] x [-2.5, 2.5]
ESCAPE = 1e3  # a trajectory that leaves |w| <= ESCAPE has diverged and is stopped there


# --------------------------------------------------------------------------------------------
# The loss surfaces
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """A loss of two parameters, its exact gradient and where its lowest point lies.

    `loss(w1, w2)` uses only + - * and powers, so it works on numpy arrays (a whole grid at
    once) and on torch tensors (the tests differentiate it with autograd). `gradient(w1, w2, t)`
    is the hand-derived gradient the optimisers see at step t (t = 1, 2, ...); `rare_every` > 1
    means w2's gradient is only seen at steps 1, 1 + k, 1 + 2k, ... and is 0 at the others.
    What makes a surface hard is told in words by the section ``story-<key>`` of
    content/en/optimizers.md.
    """

    key: str
    name: str
    latex: str  # the loss, for st.latex
    loss: Callable
    gradient_of_loss: Callable  # (w1, w2) -> (dL/dw1, dL/dw2)
    minimum: float  # the lowest value of the loss
    minima: tuple[tuple[float, float], ...]  # where it is reached
    start: tuple[float, float]  # a start point that shows the surface's difficulty
    suggested_lr: dict[str, float]  # a learning rate per optimiser that works here (not the best one)
    rare_every: int = 1
    local_minima: tuple[tuple[float, float], ...] = ()  # valleys whose floor is higher than `minimum`

    def gradient(self, w1: float, w2: float, t: int) -> np.ndarray:
        g1, g2 = self.gradient_of_loss(w1, w2)
        if not self.w2_gradient_seen(t):
            g2 = 0.0
        return np.array([g1, g2], dtype=np.float64)

    def w2_gradient_seen(self, t: int) -> bool:
        """Whether w2's gradient reaches the optimiser at step t (always, except on the rare surface)."""
        return (t - 1) % self.rare_every == 0


BOWL_SCALES = (0.05, 5.0)  # the bowl's two coefficients: curvatures 0.1 and 10, a ratio of 100
RAVINE_STEEPNESS = 10.0  # Rosenbrock's valley uses 100; 10 keeps it narrow but raceable in a few hundred steps
RARE_SCALES = (5.0, 0.5)  # the rare-feature bowl: a steep, common w1 and a gentle, rare w2
RARE_EVERY = 10
VALLEYS_TILT = 0.3  # tilts the double well (w1^2 - 1)^2 so that its left valley is lower than its right


def _valley_floors() -> tuple[float, float, float]:
    """Where the slope of (w1^2 - 1)^2 + VALLEYS_TILT * w1 along w1 is 0: 4 w1^3 - 4 w1 + VALLEYS_TILT
    = 0, whose three real roots are the lower valley's floor, the ridge between the valleys and the
    higher valley's floor (in that order)."""
    roots = np.sort(np.roots([4.0, 0.0, -4.0, VALLEYS_TILT]).real)
    return float(roots[0]), float(roots[1]), float(roots[2])


VALLEY_LOW, VALLEY_RIDGE, VALLEY_HIGH = _valley_floors()


def _valleys_loss(w1, w2):
    return (w1 ** 2 - 1) ** 2 + VALLEYS_TILT * w1 + w2 ** 2

SURFACES: dict[str, Surface] = {
    "bowl": Surface(
        key="bowl",
        name="Badly scaled bowl",
        latex=r"L(w_1, w_2) = 0.05\,w_1^2 + 5\,w_2^2",
        loss=lambda w1, w2: BOWL_SCALES[0] * w1 ** 2 + BOWL_SCALES[1] * w2 ** 2,
        gradient_of_loss=lambda w1, w2: (2 * BOWL_SCALES[0] * w1, 2 * BOWL_SCALES[1] * w2),
        minimum=0.0,
        minima=((0.0, 0.0),),
        start=(-2.0, 1.5),
        suggested_lr={"SGD": 0.1, "AdaGrad": 0.5},
    ),
    "ravine": Surface(
        key="ravine",
        name="Ravine (a narrow curved valley)",
        latex=r"L(w_1, w_2) = (1 - w_1)^2 + 10\,(w_2 - w_1^2)^2",
        loss=lambda w1, w2: (1 - w1) ** 2 + RAVINE_STEEPNESS * (w2 - w1 ** 2) ** 2,
        gradient_of_loss=lambda w1, w2: (-2 * (1 - w1) - 4 * RAVINE_STEEPNESS * w1 * (w2 - w1 ** 2),
                                         2 * RAVINE_STEEPNESS * (w2 - w1 ** 2)),
        minimum=0.0,
        minima=((1.0, 1.0),),
        start=(-1.5, 2.0),
        suggested_lr={"SGD": 0.01, "AdaGrad": 0.5},
    ),
    "saddle": Surface(
        key="saddle",
        name="Saddle (a flat pass)",
        latex=r"L(w_1, w_2) = w_1^2 - w_2^2 + \tfrac{1}{4}\,w_2^4",
        loss=lambda w1, w2: w1 ** 2 - w2 ** 2 + 0.25 * w2 ** 4,
        gradient_of_loss=lambda w1, w2: (2 * w1, -2 * w2 + w2 ** 3),
        minimum=-1.0,
        minima=((0.0, 2 ** 0.5), (0.0, -(2 ** 0.5))),
        start=(-2.0, 0.05),
        suggested_lr={"SGD": 0.05, "AdaGrad": 0.5},
    ),
    "rare": Surface(
        key="rare",
        name="Rare feature (w2 seen 1 step in 10)",
        latex=r"L(w_1, w_2) = 5\,w_1^2 + \tfrac{1}{2}\,w_2^2"
              r"\quad\text{(the gradient of } w_2 \text{ arrives only at steps } 1, 11, 21, \dots)",
        loss=lambda w1, w2: RARE_SCALES[0] * w1 ** 2 + RARE_SCALES[1] * w2 ** 2,
        gradient_of_loss=lambda w1, w2: (2 * RARE_SCALES[0] * w1, 2 * RARE_SCALES[1] * w2),
        minimum=0.0,
        minima=((0.0, 0.0),),
        start=(1.5, 2.0),
        suggested_lr={"SGD": 0.1, "AdaGrad": 1.0},
        rare_every=RARE_EVERY,
    ),
    "valleys": Surface(
        key="valleys",
        name="Two valleys (a lower and a higher one)",
        latex=r"L(w_1, w_2) = (w_1^2 - 1)^2 + 0.3\,w_1 + w_2^2",
        loss=_valleys_loss,
        gradient_of_loss=lambda w1, w2: (4 * w1 * (w1 ** 2 - 1) + VALLEYS_TILT, 2 * w2),
        minimum=float(_valleys_loss(VALLEY_LOW, 0.0)),
        minima=((VALLEY_LOW, 0.0),),
        start=(2.0, 1.5),
        suggested_lr={"SGD": 0.05, "AdaGrad": 0.5},
        local_minima=((VALLEY_HIGH, 0.0),),
    ),
}

# Contour heights: log10(loss - minimum + LEVEL_OFFSET), so that the flat floor of a valley and its
# steep walls both get contour lines.
LEVEL_OFFSET = 0.01


def contour_height(loss, surface: Surface):
    """The height a contour plot draws for a loss value (see LEVEL_OFFSET)."""
    return np.log10(np.asarray(loss) - surface.minimum + LEVEL_OFFSET)


def grid(surface: Surface, n: int = 101, box: tuple[float, float] = BOX):
    """(w1 values, w2 values, loss[w2 index, w1 index]) on an n x n grid, for a contour plot."""
    axis = np.linspace(box[0], box[1], n)
    w1, w2 = np.meshgrid(axis, axis)  # rows follow w2, columns w1: Plotly's z[y][x]
    return axis, axis, surface.loss(w1, w2)


# --------------------------------------------------------------------------------------------
# The two optimisers, from their formulas
# --------------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """The path of one optimiser: everything at every step, ready to plot.

    Step t runs from 1 to `steps`; row 0 of `w` and `loss` is the start. `grads[t-1]` is g_t,
    `accumulated[t-1]` is G_t (zeros for SGD), `effective_lr[t-1]` is the step per unit of
    gradient used at step t for each parameter: eta for SGD, eta / (sqrt(G_t) + eps) for AdaGrad
    (eta / eps, i.e. enormous, while a parameter has seen no gradient at all: its step is 0 anyway).
    """

    optimizer: str
    lr: float
    w: np.ndarray  # (steps + 1, 2)
    loss: np.ndarray  # (steps + 1,)
    grads: np.ndarray  # (steps, 2)
    accumulated: np.ndarray  # (steps, 2)
    effective_lr: np.ndarray  # (steps, 2)
    diverged_at: int | None = None  # the step at which |w| passed ESCAPE (the arrays stop there)
    eps: float = TORCH_ADAGRAD_EPS

    @property
    def steps(self) -> int:
        return len(self.grads)


def sgd_step(w: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """w_t = w_{t-1} - eta * g_t."""
    return w - lr * g


def adagrad_step(w: np.ndarray, g: np.ndarray, accumulated: np.ndarray, lr: float,
                 eps: float = TORCH_ADAGRAD_EPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One AdaGrad step, per parameter: G_t = G_{t-1} + g_t^2, then
    w_t = w_{t-1} - eta / (sqrt(G_t) + eps) * g_t. Returns (w_t, G_t, eta / (sqrt(G_t) + eps))."""
    accumulated = accumulated + g * g
    effective = lr / (np.sqrt(accumulated) + eps)
    return w - effective * g, accumulated, effective


def run(surface: Surface, optimizer: str, lr: float, start, steps: int,
        eps: float = TORCH_ADAGRAD_EPS, initial_accumulator: float = 0.0, noise: float = 0.0,
        noise_seed: int = 0) -> Trajectory:
    """Run `optimizer` ("SGD" or "AdaGrad") for `steps` steps from `start` on `surface`.

    `noise` > 0 imitates mini-batches: the optimiser sees the exact gradient plus `noise` times
    standard normal numbers, drawn afresh at each step from `noise_seed` (so two runs with the same
    seed see the same noise), and only where a gradient arrives at all (not for w2 between the rare
    surface's visits). The loss recorded is the surface's own, without noise.

    A run whose parameters leave the box |w| <= ESCAPE has diverged: it stops at that step and
    `diverged_at` says which one (the arrays end there, nothing is made up past it)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
    w = np.asarray(start, dtype=np.float64).copy()
    accumulated = np.full(2, float(initial_accumulator))
    path, grads, sums, effective = [w.copy()], [], [], []
    diverged_at = None
    rng = np.random.default_rng(noise_seed)
    for t in range(1, steps + 1):
        g = surface.gradient(w[0], w[1], t)
        if noise:
            arrives = np.array([1.0, 1.0 if surface.w2_gradient_seen(t) else 0.0])
            g = g + noise * rng.standard_normal(2) * arrives
        if optimizer == "SGD":
            w, eff = sgd_step(w, g, lr), np.full(2, float(lr))
        else:
            w, accumulated, eff = adagrad_step(w, g, accumulated, lr, eps)
        path.append(w.copy())
        grads.append(g)
        sums.append(accumulated.copy())
        effective.append(eff)
        if not np.all(np.isfinite(w)) or np.max(np.abs(w)) > ESCAPE:
            diverged_at = t
            break
    path = np.array(path)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.asarray(surface.loss(path[:, 0], path[:, 1]), dtype=np.float64)
    return Trajectory(optimizer, float(lr), path, loss, np.array(grads).reshape(-1, 2),
                      np.array(sums).reshape(-1, 2), np.array(effective).reshape(-1, 2), diverged_at, eps)


NOISE_LEVELS = (0.0, 0.1, 0.3, 1.0, 3.0)  # the page's choices of mini-batch noise (standard deviation)


def noise_floor_sgd(surface: Surface, lr: float, noise: float) -> float:
    """The mean loss above the lowest point at which SGD with a fixed `lr` settles on a quadratic
    bowl L = a w1^2 + b w2^2 when every gradient carries independent noise of standard deviation
    `noise`: each coordinate follows w <- (1 - 2 a lr) w - lr * noise * xi, whose stationary
    variance is (lr * noise)^2 / (1 - (1 - 2 a lr)^2), so the expected loss is the sum of
    a * variance over the coordinates. Only for the bowl, where it is exact."""
    if surface.key != "bowl":
        raise ValueError("the noise floor is worked out for the bowl only")
    floor = 0.0
    for a in BOWL_SCALES:
        shrink = 1 - 2 * a * lr
        if abs(shrink) >= 1:
            return float("inf")
        floor += a * (lr * noise) ** 2 / (1 - shrink ** 2)
    return floor


def steps_to_reach(trajectory: Trajectory, surface: Surface, tolerance: float = 1e-3) -> int | None:
    """The first step at which the loss is within `tolerance` of the surface's minimum (None: never)."""
    close = np.flatnonzero(trajectory.loss - surface.minimum <= tolerance)
    return int(close[0]) if len(close) else None


def gap(trajectory: Trajectory, surface: Surface, floor: float = 1e-12) -> np.ndarray:
    """Loss minus the lowest possible loss at every step (at least `floor`, for a log axis)."""
    return np.maximum(trajectory.loss - surface.minimum, floor)


# The truths of the page's predictions, from the race as it stands.
WINNER_OPTIONS = ("SGD", "AdaGrad", "both at the same step", "neither, within the steps")
VALLEY_OPTIONS = ("in the lower valley (the lowest point)", "in the higher valley", "it flies off (diverges)")


def race_winner(paths: dict[str, Trajectory], surface: Surface, tolerance: float = 0.01) -> str:
    """Which optimiser first gets within `tolerance` of the lowest loss (one of WINNER_OPTIONS)."""
    reached = {name: steps_to_reach(path, surface, tolerance) for name, path in paths.items()}
    sgd, ada = reached["SGD"], reached["AdaGrad"]
    if sgd is None and ada is None:
        return WINNER_OPTIONS[3]
    if sgd == ada:
        return WINNER_OPTIONS[2]
    if ada is None or (sgd is not None and sgd < ada):
        return "SGD"
    return "AdaGrad"


def valley_reached(path: Trajectory) -> str:
    """On the two-valley surface, where a run ends: left of the ridge is the lower valley's side,
    right of it the higher valley's (one of VALLEY_OPTIONS)."""
    if path.diverged_at is not None:
        return VALLEY_OPTIONS[2]
    return VALLEY_OPTIONS[0] if path.w[-1, 0] < VALLEY_RIDGE else VALLEY_OPTIONS[1]


# --------------------------------------------------------------------------------------------
# The real training runs: AdaGrad (FaceNet's recipe) against plain SGD
# --------------------------------------------------------------------------------------------

# The shipped comparison runs of `model.sweep`'s "lessons-cpu" plan this lesson compares: the same
# recipe (semi-hard triplets, alpha 0.2, learning rate 0.05, 32 people x 4 photos, 400 steps) with
# only the optimiser changed.
RUN_NAMES = {"AdaGrad": "alpha-0.2", "SGD": "sgd"}
CURVES = {"loss": "Triplet loss (mean over the batch)",
          "view1_devtest_accuracy": "Accuracy on unseen people (pairsDevTest)"}


@dataclass
class RunCurves:
    """One shipped run's curves, or the note that it does not exist yet."""

    optimizer: str  # "AdaGrad" or "SGD": what this run is meant to show
    run_name: str
    found: bool
    description: str = ""  # the run's recipe as its card states it
    curves: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    final_accuracy: float | None = None  # pairsDevTest, threshold tuned by ten-fold inside it
    final_accuracy_error: float | None = None
    fixed_threshold_accuracy: float | None = None  # pairsDevTest at the threshold best on pairsDevTrain


def describe_run(card: dict) -> str:
    """The recipe of a run as its card states it, in words (only what the card has)."""
    hp = card.get("hyperparameters") or {}
    parts = []
    if hp.get("optimizer"):
        name = {"adagrad": "AdaGrad", "sgd": "SGD"}.get(hp["optimizer"], hp["optimizer"])
        momentum = hp.get("momentum")
        parts.append(f"{name}" + (f" with momentum {momentum:g}" if hp["optimizer"] == "sgd" and momentum else ""))
    if hp.get("lr") is not None:
        parts.append(f"learning rate {hp['lr']:g}")
    if hp.get("mining"):
        parts.append(f"{hp['mining']} triplets")
    if hp.get("margin") is not None:
        parts.append(f"margin {hp['margin']:g}")
    if hp.get("people_per_batch") and hp.get("images_per_person"):
        parts.append(f"{hp['people_per_batch']} people x {hp['images_per_person']} photos per batch")
    if hp.get("steps"):
        parts.append(f"{hp['steps']} steps")
    return ", ".join(parts)


def training_curves(runs: dict) -> list[RunCurves]:
    """The AdaGrad and SGD runs among `runs` (`model.sweep.load_runs("lessons-cpu")`), in that order;
    a run that has not been shipped yet comes back with found=False and no numbers."""
    out = []
    for optimizer, name in RUN_NAMES.items():
        run_ = runs.get(name)
        if run_ is None:
            out.append(RunCurves(optimizer, name, found=False))
            continue
        metrics = run_.metrics
        curves = {key: run_.curve(key) for key in CURVES}
        # The final evaluation after the last step is the same measurement as the ones made during
        # training (LFW View 1), so it ends the accuracy curve.
        final, last_step = metrics.get("view1_devtest_accuracy"), run_.hyperparameters.get("steps")
        steps, accuracy = curves["view1_devtest_accuracy"]
        if final is not None and last_step and (not steps or steps[-1] < last_step):
            curves["view1_devtest_accuracy"] = (steps + [last_step], accuracy + [final])
        out.append(RunCurves(optimizer, name, found=True, description=describe_run(run_.card), curves=curves,
                             final_accuracy=metrics.get("view1_devtest_accuracy"),
                             final_accuracy_error=metrics.get("view1_devtest_accuracy_standard_error"),
                             fixed_threshold_accuracy=metrics.get("view1_devtest_accuracy_devtrain_threshold")))
    return out


# --------------------------------------------------------------------------------------------
# Numbers quoted by the page's "try this" prompts, computed rather than typed in
# --------------------------------------------------------------------------------------------


def prompt_facts(steps: int = 500) -> dict[str, float | int | None]:
    """What the prompts promise, each from its surface's own start point: steps to get within 0.01
    of the lowest loss (None: not within `steps`), the step at which a run diverges, and ratios."""

    def reach(key: str, optimizer: str, lr: float) -> int | None:
        surface = SURFACES[key]
        return steps_to_reach(run(surface, optimizer, lr, surface.start, steps), surface, 0.01)

    saddle, rare, ravine = SURFACES["saddle"], SURFACES["rare"], SURFACES["ravine"]
    g = saddle.gradient(*saddle.start, 1)
    rare_ada = run(rare, "AdaGrad", rare.suggested_lr["AdaGrad"], rare.start, steps)
    ravine_ada = [reach("ravine", "AdaGrad", lr) for lr in LEARNING_RATES]
    return {
        "bowl_adagrad_steps": reach("bowl", "AdaGrad", SURFACES["bowl"].suggested_lr["AdaGrad"]),
        "saddle_gradient_ratio": float(abs(g[0] / g[1])),
        "rare_lr_ratio": float(np.median(rare_ada.effective_lr[:, 1] / rare_ada.effective_lr[:, 0])),
        "rare_sgd_steps": reach("rare", "SGD", rare.suggested_lr["SGD"]),
        "ravine_sgd_steps_at_0.02": reach("ravine", "SGD", 0.02),
        "ravine_sgd_diverges_at_0.05": run(ravine, "SGD", 0.05, ravine.start, steps).diverged_at,
        "ravine_adagrad_best_steps": min((s for s in ravine_ada if s is not None), default=None),
    }


@dataclass(frozen=True)
class Comparison:
    """The final accuracies of the AdaGrad and SGD runs, in percent, and whether their difference
    stands out from the noise; the page says it in words (content/en/optimizers.md, verdict-*)."""

    adagrad: float
    sgd: float
    lead: float  # AdaGrad's accuracy minus SGD's, in points
    noise: float  # two standard errors of that difference, in points

    @property
    def difference(self) -> float:
        return abs(self.lead)

    @property
    def tie(self) -> bool:
        """A difference smaller than two standard errors of the difference is a tie (`lessons.noise`)."""
        return is_tie(self.lead, self.noise)

    @property
    def leader(self) -> str:
        return "AdaGrad" if self.lead > 0 else "SGD"


def compare(runs: list[RunCurves]) -> Comparison | None:
    """The final accuracies of the AdaGrad and SGD runs side by side, honest about the noise; None
    unless both runs exist with an accuracy and its standard error."""
    by_name = {r.optimizer: r for r in runs if r.found}
    ada, sgd = by_name.get("AdaGrad"), by_name.get("SGD")
    if ada is None or sgd is None or None in (ada.final_accuracy, sgd.final_accuracy,
                                              ada.final_accuracy_error, sgd.final_accuracy_error):
        return None
    return Comparison(adagrad=100 * ada.final_accuracy, sgd=100 * sgd.final_accuracy,
                      lead=100 * (ada.final_accuracy - sgd.final_accuracy),
                      noise=100 * noise_of_difference(ada.final_accuracy_error, sgd.final_accuracy_error))


# --------------------------------------------------------------------------------------------
# AdaGrad inside the real network: each layer's effective learning rate, step by step
# --------------------------------------------------------------------------------------------

# The shipped runs record the loss and the accuracy, not the optimiser's state: model/train.py keeps
# AdaGrad's running sums G only in its resume file (last.pt), which is not shipped. So this lesson
# re-runs the AdaGrad run's recipe (its card's hyper-parameters: same seed, same initial weights,
# same batches and augmentation) and records, at every step, what AdaGrad does in each layer. The
# record is shipped as LAYER_RECORD; `python -m lessons.optimizers --record-layers` writes it again.
LAYER_RECORD = Path(__file__).resolve().parents[1] / "model" / "weights" / "runs" / "adagrad-layers.json"
LAYER_RECORD_STEPS = 400


def layer_of(parameter_name: str) -> str:
    """The layer (top-level block) a parameter of model.net's network belongs to:
    "features.stem1.0.weight" -> "stem1", "features.inception3a.branch3.1.0.weight" ->
    "inception3a", "head.weight" -> "embedding"."""
    parts = parameter_name.split(".")
    if parts[0] == "features" and len(parts) > 2:
        return parts[1]
    return "embedding" if parts[0] == "head" else parts[0]


def record_layers(card: dict, data_path: str | None = None, steps: int | None = None,
                  progress: Callable[[int, dict], None] | None = None) -> dict:
    """Re-run the training recipe of `card` (a shipped AdaGrad run's model card) on the CPU with
    model.train's own step, and record, for every layer's weights (convolution kernels and linear
    weights; batch norm's scales and shifts are left out):

    * ``effective_lr``: the median over the layer's weights of AdaGrad's eta / (sqrt(G_t) + eps),
      read from torch.optim.Adagrad's own state ("sum" is G_t);
    * ``gradient_rms``: the root mean square of the layer's weight gradient g_t at that step;

    and the loss of every step's mini-batch (``loss``), whose scatter is the mini-batch noise.
    `progress(step, record)` is called every 10 steps with the record so far."""
    import dataclasses

    import torch

    from model.net import NetConfig, build_net
    from model.train import PKSampler, TrainConfig, load_datasets, make_optimizer, step_generator, train_step

    hp = card["hyperparameters"]
    if hp.get("optimizer") != "adagrad":
        raise ValueError("record_layers needs an AdaGrad run's card")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in hp.items() if k in fields})
    cfg.data_path = data_path or ""
    steps = int(steps or hp["steps"])
    torch.set_num_threads(max(1, int(hp.get("threads") or 1)))
    data = load_datasets(cfg, "cpu")
    sampler = PKSampler(data.train.labels, cfg.people_per_batch, cfg.images_per_person, seed=cfg.seed, rank=0)
    images, labels = torch.from_numpy(data.train.images), torch.from_numpy(data.train.labels)
    torch.manual_seed(cfg.seed)  # as model.train: the same initial weights
    net = build_net(NetConfig(cfg.arch, cfg.embedding_dim, cfg.input_size, cfg.width, cfg.activation))
    optimizer = make_optimizer(cfg, net.parameters())
    eps = optimizer.defaults["eps"]
    weights: dict[str, list[torch.nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if p.ndim > 1:
            weights.setdefault(layer_of(name), []).append(p)
    record = {"run": card.get("hyperparameters", {}).get("out", ""), "recipe": {k: hp[k] for k in (
                  "optimizer", "lr", "mining", "margin", "people_per_batch", "images_per_person", "seed")},
              "steps": steps, "eps": eps, "layers": list(weights),
              "weights": {layer: int(sum(p.numel() for p in ps)) for layer, ps in weights.items()},
              "loss": [], "effective_lr": {layer: [] for layer in weights},
              "gradient_rms": {layer: [] for layer in weights}}
    net.train()
    for step in range(steps):
        rows = torch.from_numpy(sampler.batch(step))
        _, result = train_step(net, optimizer, images[rows], labels[rows], cfg, step_generator(cfg, 0, step), False)
        record["loss"].append(round(float(result.loss.detach()), 6))
        with torch.no_grad():
            for layer, ps in weights.items():
                sums = torch.cat([optimizer.state[p]["sum"].reshape(-1) for p in ps])
                grads = torch.cat([p.grad.reshape(-1) for p in ps])
                effective = cfg.lr / (sums.sqrt() + eps)
                record["effective_lr"][layer].append(float(f"{float(effective.median()):.5g}"))
                record["gradient_rms"][layer].append(float(f"{float(grads.pow(2).mean().sqrt()):.5g}"))
        if progress is not None and ((step + 1) % 10 == 0 or step + 1 == steps):
            progress(step + 1, record)
    return record


# How the page groups the layers for its prediction: the stem's convolutions, the Inception modules
# in the middle, the last Inception module and the embedding layer.
LAYER_GROUPS = {"stem1": "the first convolution (stem1)", "stem2": "a middle layer",
                "inception3a": "a middle layer", "inception3b": "a middle layer", "inception4a": "a middle layer",
                "inception4b": "a middle layer", "inception5a": "the last Inception module (inception5a)",
                "embedding": "the embedding layer"}
LAYER_OPTIONS = ("the first convolution (stem1)", "a middle layer", "the last Inception module (inception5a)",
                 "the embedding layer")


@dataclass(frozen=True)
class LayerSteps:
    """The shipped record of AdaGrad inside the real network (see record_layers): per layer, at
    steps 1 .. `steps`, the median effective learning rate and the gradient's root mean square;
    and the loss of every step's mini-batch."""

    run: str  # the lessons-cpu run whose recipe was re-run
    steps: int  # steps recorded
    planned: int  # steps the re-run was set to record
    lr: float
    layers: tuple[str, ...]  # from the input to the embedding
    weights: dict[str, int]  # weights per layer (convolution kernels and linear weights)
    effective_lr: dict[str, np.ndarray]
    gradient_rms: dict[str, np.ndarray]
    loss: np.ndarray

    def spread(self, step: int | None = None) -> float:
        """The largest effective learning rate over the smallest, across the layers, at `step`
        (default: the last recorded)."""
        at = (step or self.steps) - 1
        values = [self.effective_lr[layer][at] for layer in self.layers]
        return float(max(values) / min(values))

    def largest(self, step: int | None = None) -> str:
        """The layer with the largest effective learning rate at `step` (default: the last)."""
        at = (step or self.steps) - 1
        return max(self.layers, key=lambda layer: self.effective_lr[layer][at])

    def window_means(self, window: int = 10) -> dict[int, float]:
        """The mean loss over each full window of steps, keyed by its last step: what the run's
        card records every 10 steps (its history's "loss")."""
        return {end: float(np.mean(self.loss[end - window:end])) for end in range(window, self.steps + 1, window)}


def replay_agreement(record: LayerSteps, card_loss: tuple[list[int], list[float]]) -> float:
    """The largest relative difference between the re-run's 10-step mean losses and the ones the
    original run's card records ("loss" in its history: (steps, values)), over the steps both
    have; nan if they share none."""
    means = record.window_means()
    diffs = [abs(means[step] - value) / value for step, value in zip(*card_loss) if step in means]
    return float(max(diffs)) if diffs else float("nan")


def layer_steps(path: Path | None = None) -> LayerSteps | None:
    """The shipped record (LAYER_RECORD), or None if it is missing or unreadable."""
    import json

    try:
        raw = json.loads(Path(path or LAYER_RECORD).read_text())
        steps = int(raw["recorded_steps"])
        return LayerSteps(run=raw["run"], steps=steps, planned=int(raw["steps"]), lr=float(raw["recipe"]["lr"]),
                          layers=tuple(raw["layers"]), weights={k: int(v) for k, v in raw["weights"].items()},
                          effective_lr={k: np.asarray(v[:steps], dtype=float) for k, v in raw["effective_lr"].items()},
                          gradient_rms={k: np.asarray(v[:steps], dtype=float) for k, v in raw["gradient_rms"].items()},
                          loss=np.asarray(raw["loss"][:steps], dtype=float))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class LossNoise:
    """How noisy one mini-batch's loss is, next to how fast the loss falls."""

    step_to_step: float  # typical size of the jump from one step's loss to the next's (standard deviation / sqrt 2)
    drop_per_step: float  # the average fall of the loss per step (from the first 10 steps' mean to the last 10's)

    @property
    def ratio(self) -> float:
        """How many steps' worth of progress one step's noise is."""
        return self.step_to_step / self.drop_per_step if self.drop_per_step > 0 else float("inf")


def loss_noise(losses: np.ndarray, window: int = 10) -> LossNoise:
    """The scatter of per-step mini-batch losses: the standard deviation of consecutive differences
    over sqrt(2) (for a slowly moving mean plus independent noise, that is the noise's standard
    deviation), and the mean fall per step."""
    losses = np.asarray(losses, dtype=float)
    if len(losses) < 2 * window:
        raise ValueError(f"need at least {2 * window} steps")
    jumps = np.diff(losses)
    drop = (losses[:window].mean() - losses[-window:].mean()) / (len(losses) - window)
    return LossNoise(float(jumps.std(ddof=1) / np.sqrt(2)), float(drop))


def _write_layer_record(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Record AdaGrad's per-layer steps in a re-run of a shipped run.")
    parser.add_argument("--record-layers", action="store_true", required=True)
    parser.add_argument("--run", default=RUN_NAMES["AdaGrad"], help="the lessons-cpu run whose recipe to re-run")
    parser.add_argument("--data-path", default="")
    parser.add_argument("--steps", type=int, default=LAYER_RECORD_STEPS)
    parser.add_argument("--out", default=str(LAYER_RECORD))
    args = parser.parse_args(argv)
    from model.sweep import load_runs

    card = load_runs("lessons-cpu")[args.run].card
    out = Path(args.out)

    def save(step: int, record: dict) -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps({**record, "recorded_steps": step, "run": args.run}, separators=(",", ":")))
        tmp.replace(out)
        print(f"step {step}: loss {np.mean(record['loss'][-10:]):.4f}", file=sys.stderr, flush=True)

    record_layers(card, args.data_path or None, args.steps, progress=save)
    return 0


if __name__ == "__main__":
    raise SystemExit(_write_layer_record())
