"""The two CNN families of the FaceNet paper, scaled down, each ending in an L2-normalised embedding.

* "inception" (default): a small GoogLeNet-style network (the paper's NN2 family) whose modules
  use 1x1 convolutions to reduce the channels before the 3x3 and 5x5 convolutions.
* "zf": a plain Zeiler & Fergus-style stack of convolutions followed by large fully connected
  layers (the paper's NN1 family): more parameters, most of them in the fully connected part.

Both map a (N, 3, S, S) image batch to (N, embedding_dim) points on the unit hypersphere,
f(x) with ||f(x)||_2 = 1, as in Schroff et al., "FaceNet", CVPR 2015, section 3.

`layer_costs` counts parameters and multiply-adds layer by layer by running the definitions.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


@dataclass
class NetConfig:
    arch: str = "inception"  # "inception" or "zf"
    embedding_dim: int = 128
    input_size: int = 64  # the side of the square face crop
    width: float = 1.0  # multiplies every layer's channel count
    activation: str = "relu"

    def to_dict(self) -> dict:
        return asdict(self)


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, activation: str = "relu") -> nn.Sequential:
    """Convolution (no bias: batch norm has one), batch norm, activation."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        ACTIVATIONS[activation](),
    )


class Inception(nn.Module):
    """An Inception module: 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool side by side,
    their outputs concatenated along the channels.

    With `reductions=True` (as in GoogLeNet and FaceNet's NN2) a 1x1 convolution first shrinks the
    channels feeding the 3x3 and 5x5 convolutions, and another projects the pooled branch; with
    `reductions=False` (the "naive" module) the big convolutions see every input channel and the
    pooled branch passes all input channels through.
    """

    def __init__(self, c_in: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool_proj: int,
                 reductions: bool = True, activation: str = "relu"):
        super().__init__()
        self.branch1 = conv_bn(c_in, c1, 1, activation=activation)
        if reductions:
            self.branch3 = nn.Sequential(conv_bn(c_in, r3, 1, activation=activation), conv_bn(r3, c3, 3, activation=activation))
            self.branch5 = nn.Sequential(conv_bn(c_in, r5, 1, activation=activation), conv_bn(r5, c5, 5, activation=activation))
            self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(c_in, pool_proj, 1, activation=activation))
            self.out_channels = c1 + c3 + c5 + pool_proj
        else:
            self.branch3 = conv_bn(c_in, c3, 3, activation=activation)
            self.branch5 = conv_bn(c_in, c5, 5, activation=activation)
            self.branch_pool = nn.MaxPool2d(3, 1, 1)
            self.out_channels = c1 + c3 + c5 + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


# Module shapes: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection), as in GoogLeNet's table.
INCEPTION_MODULES = {
    "3a": (24, 32, 48, 8, 12, 12),
    "3b": (48, 48, 64, 12, 24, 24),
    "4a": (64, 48, 96, 12, 24, 32),
    "4b": (96, 64, 128, 16, 32, 32),
    "5a": (128, 96, 160, 24, 48, 48),
}
POOL_AFTER = {"3b", "4b"}  # halve the resolution after these modules


class FaceNet(nn.Module):
    """Image batch -> L2-normalised embeddings. Build it with `build_net(NetConfig(...))`."""

    def __init__(self, config: NetConfig, features: nn.Sequential, feature_dim: int, head: nn.Module):
        super().__init__()
        self.config = config
        self.features = features
        self.head = head
        self.feature_dim = feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(torch.flatten(self.features(x), 1))
        return F.normalize(z.float(), p=2, dim=1)


def _scaled(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


def _inception_net(cfg: NetConfig) -> FaceNet:
    w, act = cfg.width, cfg.activation
    c1, c2 = _scaled(24, w), _scaled(48, w)
    layers: list[tuple[str, nn.Module]] = [
        ("stem1", conv_bn(3, c1, 3, stride=2, activation=act)),  # S/2
        ("stem2", conv_bn(c1, c2, 3, activation=act)),
        ("pool1", nn.MaxPool2d(3, 2, 1)),  # S/4
    ]
    channels = c2
    for name, shape in INCEPTION_MODULES.items():
        module = Inception(channels, *(_scaled(c, w) for c in shape), activation=act)
        layers.append((f"inception{name}", module))
        channels = module.out_channels
        if name in POOL_AFTER:
            layers.append((f"pool_{name}", nn.MaxPool2d(3, 2, 1)))
    layers.append(("avgpool", nn.AdaptiveAvgPool2d(1)))
    features = nn.Sequential(OrderedDict(layers))
    return FaceNet(cfg, features, channels, nn.Linear(channels, cfg.embedding_dim))


def _zf_net(cfg: NetConfig) -> FaceNet:
    w, act = cfg.width, cfg.activation
    c = [_scaled(n, w) for n in (48, 96, 192, 192)]
    features = nn.Sequential(OrderedDict([
        ("conv1", conv_bn(3, c[0], 5, stride=2, activation=act)),  # S/2
        ("pool1", nn.MaxPool2d(3, 2, 1)),  # S/4
        ("conv2", conv_bn(c[0], c[1], 3, activation=act)),
        ("pool2", nn.MaxPool2d(3, 2, 1)),  # S/8
        ("conv3", conv_bn(c[1], c[2], 3, activation=act)),
        ("conv4", conv_bn(c[2], c[3], 3, activation=act)),
        ("pool4", nn.MaxPool2d(3, 2, 1)),  # S/16
    ]))
    side = -(-cfg.input_size // 16)  # ceil: each pool with padding 1 rounds up
    feature_dim = c[3] * side * side
    hidden = _scaled(512, w)
    head = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(feature_dim, hidden)),
        ("fc1_act", ACTIVATIONS[act]()),
        ("fc2", nn.Linear(hidden, hidden)),
        ("fc2_act", ACTIVATIONS[act]()),
        ("embedding", nn.Linear(hidden, cfg.embedding_dim)),
    ]))
    return FaceNet(cfg, features, feature_dim, head)


ARCHITECTURES = {"inception": _inception_net, "zf": _zf_net}


def build_net(config: NetConfig | dict | None = None) -> FaceNet:
    cfg = config if isinstance(config, NetConfig) else NetConfig(**(config or {}))
    if cfg.arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, not {cfg.arch!r}")
    if cfg.activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {cfg.activation!r}")
    return ARCHITECTURES[cfg.arch](cfg)


# --------------------------------------------------------------------------------------------
# Parameter and multiply-add counts, from the definitions
# --------------------------------------------------------------------------------------------


@dataclass
class LayerCost:
    name: str  # dotted module path, e.g. "features.inception3a.branch3.1.0"
    kind: str  # "Conv2d 3x3" or "Linear"
    output_shape: tuple[int, ...]  # for one image
    params: int
    macs: int  # multiply-adds for one image


def layer_costs(net: nn.Module, input_shape: tuple[int, int, int] | None = None) -> list[LayerCost]:
    """Parameters and multiply-adds of every convolution, linear and batch-norm layer, in order.

    `input_shape` is one input's (channels, height, width); by default a FaceNet's own
    (3, input_size, input_size), so any module (an Inception module alone, say) can be costed.
    Runs one input through `net` with forward hooks so the counts come from the real layers:
    a convolution costs out_h * out_w * out_c * (in_c / groups) * k_h * k_w multiply-adds, a
    linear layer in * out; batch norm has parameters but is folded into the convolution at
    inference, so it is counted with zero multiply-adds.
    """
    if input_shape is None:
        input_shape = (3, net.config.input_size, net.config.input_size)
    costs: list[LayerCost] = []
    hooks = []

    def hook(name):
        def record(module, inputs, output):
            shape = tuple(output.shape[1:])
            params = sum(p.numel() for p in module.parameters(recurse=False))
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                macs = output[0].numel() * (module.in_channels // module.groups) * kh * kw
                kind = f"Conv2d {kh}x{kw}" + (f" /{module.stride[0]}" if module.stride[0] > 1 else "")
            elif isinstance(module, nn.Linear):
                macs, kind = module.in_features * module.out_features, "Linear"
            else:
                macs, kind = 0, "BatchNorm"
            costs.append(LayerCost(name, kind, shape, params, macs))
        return record

    for name, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
            hooks.append(module.register_forward_hook(hook(name)))
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
    return costs


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, input_shape: tuple[int, int, int] | None = None) -> int:
    return sum(c.macs for c in layer_costs(net, input_shape))
