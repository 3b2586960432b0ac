"""Lesson 6, "Two CNN families": what the paper's networks cost, and what ours cost.

Everything the page shows is worked out here, without Streamlit:

* the paper's networks with the sizes the paper gives for them (`PAPER_NETWORKS`);
* our two small networks, costed layer by layer from their real definitions
  (`model.net.build_net` + `model.net.layer_costs`): `net_costs`, `by_block`, `totals`;
* one Inception module built from the widths the student picks (`model.net.Inception`), costed
  the same way with and without its 1x1 "reduction" convolutions: `module_costs`, `compare_reductions`;
* the boxes and arrows of a module diagram (`module_diagram`).

The networks are built on PyTorch's "meta" device by default: the layers are the real ones, with
their real shapes, but no weights are allocated or initialised and the forward pass that
`layer_costs` runs only propagates shapes. That gives the same counts as a normal CPU build (the
tests check it) in a fraction of the time, which keeps the page responsive when the student moves
a slider.

What is counted (see `model.net.layer_costs`): parameters are every learned number (convolution
kernels, batch-norm scale and shift, linear weights and biases); multiply-adds are those of the
convolutions and linear layers for one image. A convolution with a k x k kernel, c_in input and
c_out output channels, producing an H x W map, costs k*k*c_in*c_out*H*W multiply-adds. Batch norm
can be folded into the convolution before it at inference, ReLU and pooling need comparisons and
additions but no multiplications, so none of them is counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from model.net import Inception, LayerCost, NetConfig, build_net, layer_costs

# --------------------------------------------------------------------------------------------
# The paper's networks (Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015, Sec. 3.3, Tables 1-2)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperNetwork:
    name: str
    family: str  # "Zeiler & Fergus" or "Inception"
    input_size: int | None  # side of the square input image, pixels; None: not given here
    params: float | None  # learned parameters; None where the paper gives only a range
    flops: float | None  # the paper's "FLOPS" per image (read: multiply-adds)
    note: str = ""


PAPER_NETWORKS: list[PaperNetwork] = [
    PaperNetwork("NN1", "Zeiler & Fergus", 220, 140e6, 1.6e9,
                 "22 layers: 1x1 convolutions between Z&F's, maxout fully connected layers"),
    PaperNetwork("NN2", "Inception", 224, 7.5e6, 1.6e9, "GoogLeNet-style; same compute as NN1"),
    PaperNetwork("NN3", "Inception", 160, None, None, "NN2 with a 160x160 input"),
    PaperNetwork("NN4", "Inception", 96, None, 285e6, "NN2 with a 96x96 input"),
    PaperNetwork("NNS1", "Inception", None, 26e6, 220e6, "small model"),
    PaperNetwork("NNS2", "Inception", None, 4.3e6, 20e6, "tiny model"),
]
INCEPTION_FAMILY_PARAMS = (6.6e6, 7.5e6)  # the paper's Inception models, parameter range
INCEPTION_FAMILY_FLOPS = (500e6, 1.6e9)  # and compute range
NN1_TO_NN2_PARAMS = 140e6 / 7.5e6  # about 19: "about 20x fewer parameters"

ARCH_NAMES = {"zf": "Zeiler & Fergus-style", "inception": "Inception-style"}
INPUT_SIZES = (32, 64, 96, 160, 224)  # 96 and 160: the paper's NN4 and NN3; 224: NN2
WIDTHS = (0.25, 0.5, 1.0, 1.5, 2.0)  # multiplies every layer's channel count


def net_costs(arch: str, input_size: int = 64, width: float = 1.0, device: str = "meta") -> list[LayerCost]:
    """Parameters and multiply-adds of every layer of our `arch` network ("zf" or "inception"),
    built by `model.net.build_net` for `input_size` x `input_size` faces and channel multiplier
    `width` (the shipped model: inception, 64, 1.0)."""
    config = NetConfig(arch=arch, input_size=int(input_size), width=float(width))
    with torch.device(device):
        return layer_costs(build_net(config))


def totals(costs: list[LayerCost]) -> tuple[int, int]:
    """(parameters, multiply-adds per image) summed over the layers."""
    return sum(c.params for c in costs), sum(c.macs for c in costs)


def block_of(layer_name: str) -> str:
    """The top-level block a layer belongs to: "features.inception3a.branch3.1.0" -> "inception3a",
    "head.fc1" -> "fc1", "head" -> "embedding" (the Inception network's single linear layer)."""
    parts = layer_name.split(".")
    if parts[0] == "features" and len(parts) > 1:
        return parts[1]
    if parts[0] == "head":
        return parts[1] if len(parts) > 1 else "embedding"
    return parts[0]


def branch_of(layer_name: str) -> str | None:
    """The Inception branch of a layer ("branch1", "branch3", "branch5", "branch_pool"), or None."""
    for part in layer_name.split("."):
        if part.startswith("branch"):
            return part
    return None


@dataclass(frozen=True)
class Block:
    name: str
    layers: int  # convolutions and linear layers in it (batch norms not counted)
    params: int
    macs: int
    output_shape: tuple[int, ...]  # of its last layer


def by_block(costs: list[LayerCost]) -> list[Block]:
    """The layers grouped by top-level block, in network order (a conv + its batch norm, a whole
    Inception module, a fully connected layer)."""
    order: list[str] = []
    groups: dict[str, list[LayerCost]] = {}
    for c in costs:
        b = block_of(c.name)
        if b not in groups:
            order.append(b)
            groups[b] = []
        groups[b].append(c)
    return [Block(b, sum(c.kind != "BatchNorm" for c in groups[b]), sum(c.params for c in groups[b]),
                  sum(c.macs for c in groups[b]), groups[b][-1].output_shape) for b in order]


def layer_rows(costs: list[LayerCost]) -> list[dict]:
    """One table row per layer: name, block, kind, output shape, parameters, multiply-adds and the
    share of the network's multiply-adds."""
    _, total_macs = totals(costs)
    return [{"layer": c.name.removeprefix("features."), "block": block_of(c.name), "kind": c.kind,
             "output": " x ".join(str(n) for n in c.output_shape), "parameters": c.params,
             "multiply-adds": c.macs, "share of multiply-adds": c.macs / total_macs if total_macs else 0.0}
            for c in costs]


def largest_conv(costs: list[LayerCost]) -> LayerCost:
    """The convolution with the most multiply-adds (the page writes its count out by hand)."""
    convs = [c for c in costs if c.kind.startswith("Conv2d")]
    return max(convs, key=lambda c: c.macs)


def fc_share(costs: list[LayerCost]) -> float:
    """Share of the parameters held by fully connected (Linear) layers."""
    params, _ = totals(costs)
    return sum(c.params for c in costs if c.kind == "Linear") / params if params else 0.0


def compact(n: float) -> str:
    """12_345_678 -> "12.3M", 1.6e9 -> "1.6B", 45_000 -> "45.0k"."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:,.0f}"


# --------------------------------------------------------------------------------------------
# One Inception module
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleShape:
    """The widths of an Inception module and the size of the feature map it works on."""

    c_in: int = 192
    c1: int = 64  # 1x1 branch
    r3: int = 96  # 1x1 reduction before the 3x3
    c3: int = 128
    r5: int = 16  # 1x1 reduction before the 5x5
    c5: int = 32
    pool_proj: int = 32  # 1x1 projection after the 3x3 max-pool
    size: int = 28  # the feature map is size x size (the module keeps it)
    reductions: bool = True

    @property
    def widths(self) -> tuple[int, int, int, int, int, int]:
        return (self.c1, self.r3, self.c3, self.r5, self.c5, self.pool_proj)

    @property
    def out_channels(self) -> int:
        return self.c1 + self.c3 + self.c5 + (self.pool_proj if self.reductions else self.c_in)


# GoogLeNet's first module, inception (3a): 192 channels in at 28 x 28 (Szegedy et al., CVPR 2015, Table 1).
GOOGLENET_3A = ModuleShape()

BRANCHES = ("branch1", "branch3", "branch5", "branch_pool")
BRANCH_NAMES = {"branch1": "1x1", "branch3": "3x3", "branch5": "5x5", "branch_pool": "pool"}


@dataclass
class ModuleCost:
    shape: ModuleShape
    layers: list[LayerCost]
    params: int
    macs: int
    out_channels: int
    branch_params: dict[str, int] = field(default_factory=dict)
    branch_macs: dict[str, int] = field(default_factory=dict)


def module_costs(shape: ModuleShape, device: str = "meta") -> ModuleCost:
    """Build a real `model.net.Inception` with these widths and cost it on a
    (c_in, size, size) input with `model.net.layer_costs`."""
    with torch.device(device):
        module = Inception(shape.c_in, *shape.widths, reductions=shape.reductions)
        layers = layer_costs(module, (shape.c_in, shape.size, shape.size))
    params, macs = totals(layers)
    bp = {b: sum(c.params for c in layers if branch_of(c.name) == b) for b in BRANCHES}
    bm = {b: sum(c.macs for c in layers if branch_of(c.name) == b) for b in BRANCHES}
    return ModuleCost(shape, layers, params, macs, module.out_channels, bp, bm)


@dataclass
class ReductionComparison:
    with_reductions: ModuleCost
    without: ModuleCost

    @property
    def params_saved(self) -> int:
        return self.without.params - self.with_reductions.params

    @property
    def macs_saved(self) -> int:
        return self.without.macs - self.with_reductions.macs

    @property
    def macs_ratio(self) -> float:
        """How many times more multiply-adds the module needs without its reductions."""
        return self.without.macs / self.with_reductions.macs if self.with_reductions.macs else math.inf

    @property
    def params_ratio(self) -> float:
        return self.without.params / self.with_reductions.params if self.with_reductions.params else math.inf


def compare_reductions(shape: ModuleShape, device: str = "meta") -> ReductionComparison:
    """The same module costed with and without its 1x1 reductions."""
    return ReductionComparison(module_costs(replace(shape, reductions=True), device),
                               module_costs(replace(shape, reductions=False), device))


def module_inputs(input_size: int = 64, width: float = 1.0, device: str = "meta") -> dict[str, ModuleShape]:
    """The shape of each Inception module inside our network (its name, e.g. "inception3a" ->
    channels in, widths and feature-map size), found by running the real network with hooks."""
    config = NetConfig(arch="inception", input_size=int(input_size), width=float(width))
    found: dict[str, tuple[int, int]] = {}
    with torch.device(device):
        net = build_net(config)
        hooks = [m.register_forward_pre_hook(lambda mod, args, name=name: found.__setitem__(name, tuple(args[0].shape[1:3])))
                 for name, m in net.features.named_children() if isinstance(m, Inception)]
        try:
            net(torch.zeros(1, 3, config.input_size, config.input_size))
        finally:
            for h in hooks:
                h.remove()
    shapes = {}
    for name, (c_in, size) in found.items():
        m = getattr(net.features, name)
        widths = (m.branch1[0].out_channels, m.branch3[0][0].out_channels, m.branch3[1][0].out_channels,
                  m.branch5[0][0].out_channels, m.branch5[1][0].out_channels, m.branch_pool[1][0].out_channels)
        shapes[name] = ModuleShape(c_in, *widths, size=size)
    return shapes


# --------------------------------------------------------------------------------------------
# The module diagram: boxes and arrows, laid out on a grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # what the box says, e.g. "3x3 conv\n128 ch"
    x: float
    y: float
    channels: int  # channels coming out of this box
    params: int
    macs: int
    kind: str  # "input", "reduce", "conv", "pool", "concat"


@dataclass(frozen=True)
class Diagram:
    nodes: list[Node]
    edges: list[tuple[str, str]]  # (from id, to id)

    def node(self, id_: str) -> Node:
        return next(n for n in self.nodes if n.id == id_)


def module_diagram(cost: ModuleCost) -> Diagram:
    """Boxes for the input, every convolution and pooling of the four branches, and the
    concatenation, with their output channels and costs (from `cost.layers`)."""
    s = cost.shape

    def made(id_, label, x, y, layer, channels, kind):
        # a convolution and the batch norm after it share a parent: "branch3.1.0" and "branch3.1.1"
        parent = layer.rsplit(".", 1)[0]
        params = sum(c.params for c in cost.layers if c.name.rsplit(".", 1)[0] == parent)
        macs = sum(c.macs for c in cost.layers if c.name.rsplit(".", 1)[0] == parent)
        return Node(id_, label, x, y, channels, params, macs, kind)

    top, mid, low = 2.0, 1.0, 0.0
    nodes = [Node("input", f"input<br>{s.c_in} ch, {s.size}x{s.size}", 1.5, 3.0, s.c_in, 0, 0, "input")]
    edges: list[tuple[str, str]] = []
    nodes.append(made("b1", f"1x1 conv<br>{s.c1} ch", 0, top, "branch1.0", s.c1, "conv"))
    edges += [("input", "b1"), ("b1", "concat")]
    if s.reductions:
        nodes += [made("r3", f"1x1 reduce<br>{s.r3} ch", 1, top, "branch3.0.0", s.r3, "reduce"),
                  made("c3", f"3x3 conv<br>{s.c3} ch", 1, mid, "branch3.1.0", s.c3, "conv"),
                  made("r5", f"1x1 reduce<br>{s.r5} ch", 2, top, "branch5.0.0", s.r5, "reduce"),
                  made("c5", f"5x5 conv<br>{s.c5} ch", 2, mid, "branch5.1.0", s.c5, "conv"),
                  Node("pool", f"3x3 max-pool<br>{s.c_in} ch", 3, top, s.c_in, 0, 0, "pool"),
                  made("proj", f"1x1 projection<br>{s.pool_proj} ch", 3, mid, "branch_pool.1.0", s.pool_proj, "reduce")]
        edges += [("input", "r3"), ("r3", "c3"), ("c3", "concat"), ("input", "r5"), ("r5", "c5"), ("c5", "concat"),
                  ("input", "pool"), ("pool", "proj"), ("proj", "concat")]
    else:
        nodes += [made("c3", f"3x3 conv<br>{s.c3} ch", 1, mid, "branch3.0", s.c3, "conv"),
                  made("c5", f"5x5 conv<br>{s.c5} ch", 2, mid, "branch5.0", s.c5, "conv"),
                  Node("pool", f"3x3 max-pool<br>{s.c_in} ch", 3, mid, s.c_in, 0, 0, "pool")]
        edges += [("input", "c3"), ("c3", "concat"), ("input", "c5"), ("c5", "concat"), ("input", "pool"),
                  ("pool", "concat")]
    nodes.append(Node("concat", f"concatenate<br>{cost.out_channels} ch", 1.5, low, cost.out_channels, 0, 0, "concat"))
    return Diagram(nodes, edges)


# --------------------------------------------------------------------------------------------
# The shipped model: accuracy against cost, from its card
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedModel:
    arch: str | None
    input_size: int | None
    params: int | None
    macs: int | None
    accuracy: float | None  # LFW View 1 pairsDevTest, threshold tuned by ten-fold inside pairsDevTest
    accuracy_se: float | None
    val_at_far: float | None  # VAL at FAR = 1e-3 on pairsDevTest
    provisional: bool
    # pairsDevTest at the one threshold that is best on pairsDevTrain, chosen before the test pairs
    # are looked at (the card's view1_devtest_accuracy_devtrain_threshold), and that threshold
    accuracy_fixed_threshold: float | None = None
    fixed_threshold: float | None = None

    @property
    def threshold_cost(self) -> float | None:
        """How many points of accuracy the tuned threshold gains over the fixed one (None: unknown)."""
        if self.accuracy is None or self.accuracy_fixed_threshold is None:
            return None
        return 100 * (self.accuracy - self.accuracy_fixed_threshold)


def threshold_verdict(shipped: ShippedModel, within: float = 1.0) -> str:
    """How the fixed threshold's accuracy compares with the tuned one: "lower", "about the same"
    (within `within` points) or "higher". The truth of the page's prediction."""
    cost = shipped.threshold_cost
    if cost is None:
        raise ValueError("the card has no accuracy at the pairsDevTrain threshold")
    return "about the same" if abs(cost) <= within else ("lower" if cost > 0 else "higher")


def shipped_model(card: dict) -> ShippedModel:
    """What the model card says about the shipped model's cost and accuracy (missing: None)."""
    hp = card.get("hyperparameters") or {}
    m = card.get("metrics") or {}

    def num(x):
        return x if isinstance(x, (int, float)) else None

    return ShippedModel(hp.get("arch"), num(hp.get("input_size")), num(card.get("parameters")),
                        num(card.get("multiply_adds_per_image")), num(m.get("view1_devtest_accuracy")),
                        num(m.get("view1_devtest_accuracy_standard_error")), num(m.get("view1_devtest_val_at_far_1e-3")),
                        card.get("device") == "cpu", num(m.get("view1_devtest_accuracy_devtrain_threshold")),
                        num(m.get("view1_threshold_from_devtrain")))
