"""Lesson 5, ReLU vs sigmoid/tanh: derivatives against autograd, the deep network's gradients and dead
units against an independent nn.Sequential and hand counts, on LFW faces. The page with every widget
moved: tests/pages/test_activations.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons import activations as act


pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture(scope="module")
def faces(lfw):
    return act.face_batch(lfw.images)


# --------------------------------------------------------------------------------------------
# The functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", act.ACTIVATIONS)
def test_functions_and_derivatives_match_torch_and_autograd(name):
    x = torch.linspace(-8, 8, 321, dtype=torch.float64, requires_grad=True)  # includes x = 0 exactly
    y = act.torch_activation(name)(x)
    y.sum().backward()
    assert np.allclose(act.activation(name, x.detach().numpy()), y.detach().numpy(), atol=1e-12)
    assert np.allclose(act.derivative(name, x.detach().numpy()), x.grad.numpy(), atol=1e-12)


def test_derivative_bounds_and_values_by_hand():
    assert act.derivative("sigmoid", 0.0) == pytest.approx(0.25)
    assert act.derivative("tanh", 0.0) == pytest.approx(1.0)
    assert act.derivative("relu", [-1.0, 0.0, 2.0]).tolist() == [0.0, 0.0, 1.0]
    xs = np.linspace(-10, 10, 2001)
    for name in act.ACTIVATIONS:
        assert act.derivative(name, xs).max() == pytest.approx(act.MAX_DERIVATIVE[name])
    assert act.activation("sigmoid", -800.0) == 0.0  # no overflow warning, no NaN


# --------------------------------------------------------------------------------------------
# Inputs and weights
# --------------------------------------------------------------------------------------------


def test_face_batch_is_grey_shrunk_faces(lfw, faces):
    assert faces.shape == (act.BATCH, act.FACE_SIDE ** 2) and faces.dtype == np.float32
    assert faces.min() >= -1.0 and faces.max() <= 1.0
    chosen = np.sort(np.random.default_rng(0).choice(len(lfw.images), size=act.BATCH, replace=False))
    first = lfw.images[chosen[0]].astype(np.float64)
    grey = first.mean(axis=2)
    corner = grey[:2, :2].mean() / 127.5 - 1.0  # the top-left 2 x 2 block of the 64 x 64 crop
    assert faces[0, 0] == pytest.approx(corner, abs=1e-5)
    assert faces[0, act.FACE_SIDE + 1] == pytest.approx(grey[2:4, 2:4].mean() / 127.5 - 1.0, abs=1e-5)


def test_initialisations_have_their_documented_spread():
    fan_in, width = 1024, 256
    default = act.init_layers(fan_in, 2, width, "default")
    bound = 1 / np.sqrt(fan_in)
    assert default[0][0].abs().max() <= bound and default[0][1].abs().max() <= bound
    assert default[0][0].std().item() == pytest.approx(bound / np.sqrt(3), rel=0.05)  # uniform: bound / sqrt(3)
    he = act.init_layers(fan_in, 2, width, "he")
    assert he[0][0].std().item() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
    assert he[1][0].std().item() == pytest.approx(np.sqrt(2 / width), rel=0.05)
    assert torch.all(he[0][1] == 0)
    xavier = act.init_layers(fan_in, 2, width, "xavier")
    assert xavier[0][0].abs().max() <= np.sqrt(6 / (fan_in + width))
    shifted = act.init_layers(fan_in, 2, width, "he", bias_shift=-0.75)
    assert torch.all(shifted[1][1] == -0.75) and torch.equal(shifted[1][0], he[1][0])
    again = act.init_layers(fan_in, 2, width, "default")
    assert all(torch.equal(a[0], b[0]) for a, b in zip(default, again))  # seeded: the same every time


# --------------------------------------------------------------------------------------------
# The deep network
# --------------------------------------------------------------------------------------------


def sequential_norms(x: np.ndarray, name: str, depth: int, width: int, init: str, shift: float):
    """The same network as an nn.Sequential of nn.Linear + activation modules, differentiated by
    backward(): the gradient norm of each layer's weight, and each layer's outputs."""
    module = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[name]
    net, fan_in = [], x.shape[1]
    for weight, bias in act.init_layers(x.shape[1], depth, width, init, shift):
        linear = torch.nn.Linear(fan_in, width)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        net += [linear, module()]
        fan_in = width
    net = torch.nn.Sequential(*net).double()
    outputs, h = [], torch.as_tensor(x, dtype=torch.float64)
    for layer in net:
        h = layer(h)
        if not isinstance(layer, torch.nn.Linear):
            outputs.append(h.detach())
    (h @ act.readout(width).double()).mean().backward()
    norms = [layer.weight.grad.norm().item() for layer in net if isinstance(layer, torch.nn.Linear)]
    return np.array(norms), outputs


@pytest.mark.parametrize("name", act.ACTIVATIONS)
def test_gradient_norms_match_an_nn_sequential(faces, name):
    report = act.gradient_report(faces, name, 8, 64, "default", 0.0)
    norms, outputs = sequential_norms(faces, name, 8, 64, "default", 0.0)
    assert np.allclose(report.grad_norms, norms, rtol=1e-3)
    dead_by_hand = [np.mean([not np.any(h[:, unit].numpy() != 0) for unit in range(64)]) for h in outputs]
    assert np.allclose(report.dead_share, dead_by_hand)


def test_sigmoid_gradient_vanishes_relu_with_he_init_does_not(faces):
    sigmoid = act.gradient_report(faces, "sigmoid", 30, 128, "he")
    relu = act.gradient_report(faces, "relu", 30, 128, "he")
    assert sigmoid.grad_norms[0] < 1e-8 * sigmoid.grad_norms[-1]
    assert 0.05 < relu.first_over_last < 20
    # The sigmoid's shrinks layer after layer, by at least the slope bound would allow on average.
    assert np.all(np.diff(np.log(sigmoid.grad_norms[sigmoid.grad_norms > 0])) > 0)
    # Deeper is worse for the sigmoid.
    shallow = act.gradient_report(faces, "sigmoid", 10, 128, "he")
    assert sigmoid.first_over_last < shallow.first_over_last < 1e-2


def test_vanishing_gradients_underflow_to_exact_zeros():
    report = act.gradient_report(act.random_batch(), "sigmoid", 50, 64, "default")
    lost = act.vanished_below(report)
    assert lost > 0 and np.all(report.grad_norms[:lost] == 0) and np.all(report.grad_norms[lost:] > 0)


def test_dead_units_rise_with_a_negative_bias_shift(faces):
    shares = [act.gradient_report(faces, "relu", 12, 128, "he", shift).dead_share.mean()
              for shift in (0.0, -0.25, -0.5, -1.0, -2.0)]
    assert all(b >= a for a, b in zip(shares, shares[1:]))
    assert shares[0] < 0.2 and shares[-1] > 0.95
    # Sigmoid and tanh units never output exactly 0, whatever the shift.
    assert act.gradient_report(faces, "tanh", 12, 128, "he", -2.0).dead_share.max() == 0


def test_one_large_step_kills_relu_units(faces):
    before = act.gradient_report(faces, "relu", 20, 128, "he").dead_share
    assert np.allclose(act.dead_after_step(faces, 20, 128, "he", 0.0, lr=0.0), before)
    small = act.dead_after_step(faces, 20, 128, "he", 0.0, lr=0.001)
    large = act.dead_after_step(faces, 20, 128, "he", 0.0, lr=1.0)
    assert abs(small.mean() - before.mean()) < 0.02
    assert large.mean() > before.mean() + 0.1


def test_timing_the_three_functions():
    timings = act.time_activations(n=200_000, repeats=3)
    assert set(timings) == set(act.ACTIVATIONS) and all(0 < t < 1 for t in timings.values())


# --------------------------------------------------------------------------------------------
# What the page says about saturation and about the gradient that survives
# --------------------------------------------------------------------------------------------


def test_saturation_is_the_slope_not_the_range():
    """tanh(0) = 0 (an output of exactly 0 is no protection from anything), and at SATURATED_X tanh,
    whose outputs fill (-1, 1), is flatter than the sigmoid, whose outputs fill (0, 1). Neither slope
    is ever exactly 0 in exact arithmetic; ReLU's is 0 for every negative input."""
    assert act.activation("tanh", 0.0) == 0.0
    x = act.SATURATED_X
    assert act.derivative("tanh", x) < act.derivative("sigmoid", x)
    assert act.derivative("tanh", x) == pytest.approx(1 - np.tanh(3.0) ** 2) and act.derivative("tanh", x) < 0.01
    xs = np.linspace(-8, 8, 1601)  # further out 1 - tanh(x)^2 rounds to 0 in float64, though 4 / (e^x + e^-x)^2 > 0
    assert np.all(act.derivative("sigmoid", xs) > 0) and np.all(act.derivative("tanh", xs) > 0)
    assert np.all(act.derivative("relu", xs[xs < 0]) == 0)


def test_at_most_a_quarter_to_the_power_of_the_layers_survives_the_sigmoid_slopes():
    """The product of the sigmoid's slopes over 19 layers is at most 0.25^19 of the gradient, reached
    only if every unit sits exactly at x = 0: what the quiz and the page's bound say."""
    rng = np.random.default_rng(0)
    slopes = act.derivative("sigmoid", rng.normal(0, 2, size=(1000, 19)))
    assert np.all(np.prod(slopes, axis=1) <= 0.25 ** 19)
    assert np.prod(act.derivative("sigmoid", np.zeros(19))) == pytest.approx(0.25 ** 19)


def test_the_activation_that_keeps_the_gradient_depends_on_the_weights(faces):
    """The truth of the page's first prediction: with He weights ReLU keeps the first layer's gradient
    closest to the last layer's (tanh's grows), with Xavier's tanh does; the sigmoid never."""
    def kept(init: str, depth: int = 20) -> str:
        return act.best_kept({n: act.gradient_report(faces, n, depth, 128, init) for n in act.ACTIVATIONS})

    assert kept("he") == "relu" and kept("xavier") == "tanh"
    he = {n: act.gradient_report(faces, n, 20, 128, "he") for n in act.ACTIVATIONS}
    assert he["tanh"].first_over_last > 1 > he["relu"].first_over_last > 0.1 > 1e-6 > he["sigmoid"].first_over_last
    vanished = act.GradientReport("relu", np.array([0.0, 1.0]), np.zeros(2), np.ones(2), 0.0)
    assert act.best_kept({"sigmoid": vanished, "tanh": vanished, "relu": he["relu"]}) == "relu"


# --------------------------------------------------------------------------------------------
# Training the deep networks
# --------------------------------------------------------------------------------------------


def test_the_toy_task_and_its_share_line():
    x, y = act.toy_task()
    assert x.shape == (act.TOY_POINTS, 2) and np.all(np.abs(x) <= 1)
    assert np.array_equal(y, (x[:, 0] ** 2 + x[:, 1] ** 2 < act.TOY_RADIUS2).astype(np.float32))
    p = y.mean()
    assert 0.3 < p < 0.5  # about pi * 0.5 / 4 = 0.39 of the square is inside
    # Predicting p for every point is the best constant guess, and scores share_loss.
    constant = torch.nn.functional.binary_cross_entropy(torch.full((len(y),), float(p), dtype=torch.float64),
                                                        torch.as_tensor(y, dtype=torch.float64))
    assert act.share_loss(y) == pytest.approx(float(constant))


@pytest.mark.slow
def test_training_matches_torch_sgd_step_by_step():
    """train_deep is plain gradient descent: its first losses match an nn.Sequential with the same
    weights trained by hand-written w <- w - lr * grad."""
    depth, lr = 3, 0.3
    curve = act.train_deep("tanh", depth, "xavier", lr, steps=5)
    x, y = act.toy_task()
    layers = act.init_layers(2, depth, act.TOY_WIDTH, "xavier", 0.0, 0)
    out_w = torch.randn(1, act.TOY_WIDTH, generator=torch.Generator().manual_seed(2_000_003)) / act.TOY_WIDTH ** 0.5
    params = [p.clone().requires_grad_() for layer in layers for p in layer] + [out_w.requires_grad_(),
                                                                                 torch.zeros(1).requires_grad_()]
    losses = []
    for _ in range(6):
        h = torch.as_tensor(x)
        for i in range(depth):
            h = torch.tanh(h @ params[2 * i].T + params[2 * i + 1])
        loss = torch.nn.functional.binary_cross_entropy_with_logits((h @ params[-2].T + params[-1])[:, 0],
                                                                    torch.as_tensor(y))
        losses.append(float(loss))
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    assert np.allclose(curve.losses, losses, rtol=1e-5)


@pytest.mark.slow
def test_deep_sigmoid_learns_nothing_while_tanh_and_relu_learn():
    """The page's default (10 layers, He weights, eta = 0.1): the sigmoid network ends on the
    share line, tanh and ReLU far below it; with 2 layers and eta = 1 the sigmoid starts to learn."""
    share = act.share_loss(act.toy_task()[1])
    curves = {name: act.train_deep(name, 10, "he", 0.1) for name in act.ACTIVATIONS}
    assert abs(curves["sigmoid"].final_loss - share) < 0.01
    assert curves["relu"].final_loss < 0.05 and curves["tanh"].final_loss < 0.1
    assert curves["relu"].accuracy > 0.98 and curves["sigmoid"].accuracy == pytest.approx(1 - act.toy_task()[1].mean())
    assert all(c.diverged_at is None and len(c.losses) == act.TOY_STEPS + 1 for c in curves.values())
    assert act.train_deep("sigmoid", 2, "he", 1.0).final_loss < share - 0.03


@pytest.mark.slow
def test_one_step_too_large_stalls_a_deep_relu_network_by_killing_its_units():
    """The page's "try this": 20 layers, He weights, eta = 0.3: ReLU ends on the share line with
    many dead units; at eta = 0.1 it learns and few of its units are dead."""
    share = act.share_loss(act.toy_task()[1])
    stalled = act.train_deep("relu", 20, "he", 0.3)
    assert abs(stalled.final_loss - share) < 0.03 and stalled.dead_share > 0.3
    assert stalled.losses.max() > 2 * share  # the jump early on
    learning = act.train_deep("relu", 10, "he", 0.1)
    assert learning.dead_share < 0.15
