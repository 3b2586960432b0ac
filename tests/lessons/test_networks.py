"""Lesson 6, "Two CNN families": the costs of lessons/networks.py against hand counts and against
model/net.py's own counters. The page: tests/pages/test_networks.py."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from torch import nn

from lessons import networks as nets
from model.net import Inception, NetConfig, build_net, count_macs, count_parameters
from tests.helpers import REPO

CARD = json.loads((REPO / "model" / "weights" / "facenet_inception_cpu.json").read_text())


pytestmark = pytest.mark.usefixtures("fresh_caches")


# --------------------------------------------------------------------------------------------
# Hand counts
# --------------------------------------------------------------------------------------------


def conv_bn_params(k: int, c_in: int, c_out: int) -> int:
    """model.net.conv_bn: a convolution without bias (k*k*c_in*c_out) and a batch norm with a
    scale and a shift per channel (2*c_out); running statistics are buffers, not parameters."""
    return k * k * c_in * c_out + 2 * c_out


def conv_macs(k: int, c_in: int, c_out: int, size: int) -> int:
    return k * k * c_in * c_out * size * size


def hand_module(s: nets.ModuleShape) -> dict:
    """Parameters and multiply-adds of each branch of an Inception module, by hand."""
    if s.reductions:
        branches = {"branch1": [(1, s.c_in, s.c1)], "branch3": [(1, s.c_in, s.r3), (3, s.r3, s.c3)],
                    "branch5": [(1, s.c_in, s.r5), (5, s.r5, s.c5)], "branch_pool": [(1, s.c_in, s.pool_proj)]}
    else:
        branches = {"branch1": [(1, s.c_in, s.c1)], "branch3": [(3, s.c_in, s.c3)], "branch5": [(5, s.c_in, s.c5)],
                    "branch_pool": []}
    return {b: (sum(conv_bn_params(*c) for c in convs), sum(conv_macs(*c, s.size) for c in convs))
            for b, convs in branches.items()}


def test_model_net_convolutions_have_no_bias_and_a_batch_norm():
    """The hand counts above assume this: check it on the real module."""
    module = Inception(16, 8, 8, 8, 4, 4, 4)
    for seq in (module.branch1, module.branch3[1], module.branch5[0], module.branch_pool[1]):
        assert isinstance(seq[0], nn.Conv2d) and seq[0].bias is None
        assert isinstance(seq[1], nn.BatchNorm2d) and seq[1].affine


SHAPES = [nets.GOOGLENET_3A,
          nets.ModuleShape(48, 24, 32, 48, 8, 12, 12, size=16),
          nets.ModuleShape(100, 12, 20, 36, 4, 8, 16, size=7),
          nets.ModuleShape(8, 4, 16, 4, 16, 4, 4, size=5)]  # reductions wider than the input


@pytest.mark.parametrize("reductions", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.c_in}in-{s.size}px")
def test_module_costs_match_hand_counts(shape, reductions):
    shape = replace(shape, reductions=reductions)
    cost = nets.module_costs(shape)
    hand = hand_module(shape)
    assert cost.branch_params == {b: p for b, (p, _) in hand.items()}
    assert cost.branch_macs == {b: m for b, (_, m) in hand.items()}
    assert cost.params == sum(p for p, _ in hand.values())
    assert cost.macs == sum(m for _, m in hand.values())
    assert cost.out_channels == shape.c1 + shape.c3 + shape.c5 + (shape.pool_proj if reductions else shape.c_in)
    assert cost.out_channels == shape.out_channels


def test_googlenet_3a_costs_what_its_paper_says():
    """Szegedy et al. (CVPR 2015, Table 1) list inception (3a) at 128M operations (multiply-adds)."""
    cost = nets.module_costs(nets.GOOGLENET_3A)
    assert round(cost.macs / 1e6) == 128


def test_meta_device_counts_equal_a_real_cpu_build():
    shape = SHAPES[1]
    meta, cpu = nets.module_costs(shape), nets.module_costs(shape, device="cpu")
    assert [(c.name, c.params, c.macs, c.output_shape) for c in meta.layers] == \
           [(c.name, c.params, c.macs, c.output_shape) for c in cpu.layers]
    assert nets.net_costs("zf", 64, 1.0) == nets.net_costs("zf", 64, 1.0, device="cpu")


def test_reductions_off_costs_more_when_the_reductions_shrink_the_channels():
    """Without reductions, the 3x3 and 5x5 convolutions see all c_in channels; with them, a 1x1
    makes r channels first. Per position the 3x3 branch costs 9*c_in*c3 without and c_in*r3 + 9*r3*c3
    with: the reduction pays off exactly when that is smaller. Check the branch and module totals
    on random shapes against that rule."""
    rng = np.random.default_rng(1)
    for _ in range(12):
        c_in = int(rng.integers(8, 257))
        widths = [int(w) for w in rng.integers(4, 129, size=6)]
        shape = nets.ModuleShape(c_in, *widths, size=int(rng.integers(3, 20)))
        cmp = nets.compare_reductions(shape)
        s, hw = shape, shape.size ** 2
        pays_3 = s.c_in * s.r3 + 9 * s.r3 * s.c3 < 9 * s.c_in * s.c3
        assert (cmp.with_reductions.branch_macs["branch3"] < cmp.without.branch_macs["branch3"]) == pays_3
        pays_5 = s.c_in * s.r5 + 25 * s.r5 * s.c5 < 25 * s.c_in * s.c5
        assert (cmp.with_reductions.branch_macs["branch5"] < cmp.without.branch_macs["branch5"]) == pays_5
        saved = hw * (9 * s.c_in * s.c3 - s.c_in * s.r3 - 9 * s.r3 * s.c3
                      + 25 * s.c_in * s.c5 - s.c_in * s.r5 - 25 * s.r5 * s.c5 - s.c_in * s.pool_proj)
        assert cmp.macs_saved == saved
    # Every real module (GoogLeNet's and ours) has reductions narrower than its input and costs more without them.
    for shape in [nets.GOOGLENET_3A, *nets.module_inputs(64, 1.0).values()]:
        assert shape.r3 < shape.c_in and shape.r5 < shape.c_in
        cmp = nets.compare_reductions(shape)
        assert cmp.without.macs > cmp.with_reductions.macs and cmp.without.params > cmp.with_reductions.params
        assert cmp.macs_ratio > 1


def test_a_reduction_wider_than_its_input_costs_more():
    shape = nets.ModuleShape(c_in=16, c1=8, r3=64, c3=16, r5=64, c5=8, pool_proj=8, size=8)
    cmp = nets.compare_reductions(shape)
    assert cmp.macs_saved < 0


@pytest.mark.parametrize("arch,size,width", [("zf", 64, 1.0), ("zf", 96, 0.5), ("inception", 32, 1.0),
                                             ("inception", 64, 0.25)])
def test_totals_equal_count_parameters_and_count_macs(arch, size, width):
    net = build_net(NetConfig(arch=arch, input_size=size, width=width))
    params, macs = nets.totals(nets.net_costs(arch, size, width))
    assert params == count_parameters(net)
    assert macs == count_macs(net)
    blocks = nets.by_block(nets.net_costs(arch, size, width))
    assert sum(b.params for b in blocks) == params and sum(b.macs for b in blocks) == macs


def test_the_shipped_model_costs_what_its_card_says():
    """The card was written by the training code; the lesson recounts the same network."""
    hp = CARD["hyperparameters"]
    params, macs = nets.totals(nets.net_costs(hp["arch"], hp["input_size"], hp["width"]))
    assert (params, macs) == (CARD["parameters"], CARD["multiply_adds_per_image"])
    shipped = nets.shipped_model(CARD)
    assert shipped.params == params and shipped.accuracy == CARD["metrics"]["view1_devtest_accuracy"]


def test_the_fixed_threshold_costs_what_the_shipped_embeddings_say(shipped_embeddings):
    """Both accuracies the page shows come from the card; recomputed from the shipped model's own
    pairsDevTest distances: the card's pairsDevTrain threshold gives the fixed-threshold accuracy,
    the tuned ten-fold one is higher, and the page's verdict says "lower"."""
    from model.evaluate import accuracy_at, best_threshold

    m = CARD["metrics"]
    shipped = nets.shipped_model(CARD)
    assert (shipped.accuracy_fixed_threshold, shipped.fixed_threshold) == (
        m["view1_devtest_accuracy_devtrain_threshold"], m["view1_threshold_from_devtrain"])
    e = np.asarray(shipped_embeddings.embeddings, dtype=np.float64)
    left, right, same = shipped_embeddings.devtest_left, shipped_embeddings.devtest_right, shipped_embeddings.devtest_same
    d = np.sum((e[left] - e[right]) ** 2, axis=1)
    assert accuracy_at(d, same.astype(bool), shipped.fixed_threshold) == pytest.approx(shipped.accuracy_fixed_threshold,
                                                                                    abs=1e-3)
    tuned_threshold, _ = best_threshold(d, same.astype(bool))
    assert tuned_threshold > shipped.fixed_threshold  # the training people's threshold is too strict for new ones
    assert shipped.threshold_cost == pytest.approx(100 * (m["view1_devtest_accuracy"]
                                                           - m["view1_devtest_accuracy_devtrain_threshold"]))
    assert shipped.threshold_cost > 1 and nets.threshold_verdict(shipped) == "lower"
    assert nets.threshold_verdict(nets.ShippedModel(None, None, None, None, 0.87, None, None, True, 0.865)) == \
        "about the same"
    assert nets.threshold_verdict(nets.ShippedModel(None, None, None, None, 0.80, None, None, True, 0.85)) == "higher"
    with pytest.raises(ValueError):
        nets.threshold_verdict(nets.ShippedModel(None, None, None, None, 0.87, None, None, True))


def test_the_paper_networks_are_described_as_the_paper_gives_them():
    nn1 = next(p for p in nets.PAPER_NETWORKS if p.name == "NN1")
    assert (nn1.params, nn1.flops, nn1.input_size) == (140e6, 1.6e9, 220)  # Sec. 3.3, Table 1
    assert "22 layers" in nn1.note and "1x1" in nn1.note and "maxout" in nn1.note


def test_zf_fully_connected_layer_grows_with_the_input_and_inception_does_not():
    for size in nets.INPUT_SIZES:
        zf = {b.name: b for b in nets.by_block(nets.net_costs("zf", size, 1.0))}
        side = math.ceil(size / 16)  # four stride-2 steps, each rounding up
        assert zf["fc1"].params == 192 * side * side * 512 + 512
        assert zf["fc1"].macs == 192 * side * side * 512
        assert nets.totals(nets.net_costs("inception", size, 1.0))[0] == CARD["parameters"]
    assert list(zf) == ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2", "embedding"]
    assert nets.fc_share(nets.net_costs("zf", 64, 1.0)) > 0.5


def test_our_modules_are_found_with_their_inputs():
    shapes = nets.module_inputs(64, 1.0)
    assert list(shapes) == ["inception3a", "inception3b", "inception4a", "inception4b", "inception5a"]
    assert shapes["inception3a"].c_in == 48 and shapes["inception3a"].size == 16  # stem2's 48 channels, 64/4
    names = list(shapes)
    for before, after in zip(names, names[1:]):
        assert shapes[after].c_in == shapes[before].out_channels  # each module feeds the next
    assert [s.size for s in shapes.values()] == [16, 16, 8, 8, 4]


def test_module_diagram_adds_up():
    for reductions in (True, False):
        cost = nets.module_costs(replace(nets.GOOGLENET_3A, reductions=reductions))
        diagram = nets.module_diagram(cost)
        assert sum(n.params for n in diagram.nodes) == cost.params
        assert sum(n.macs for n in diagram.nodes) == cost.macs
        assert diagram.node("concat").channels == cost.out_channels
        ids = {n.id for n in diagram.nodes}
        assert all(a in ids and b in ids for a, b in diagram.edges)
        assert ("r5" in ids) == reductions


def test_paper_ratio_is_about_twenty():
    nn1, nn2 = (next(p for p in nets.PAPER_NETWORKS if p.name == name) for name in ("NN1", "NN2"))
    assert nn1.flops == nn2.flops and 15 < nn1.params / nn2.params < 25
