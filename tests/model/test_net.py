"""The two networks: output on the unit sphere, and parameter / multiply-add counts by hand."""

import pytest
import torch

from model.net import Inception, NetConfig, build_net, count_macs, count_parameters, layer_costs


@pytest.mark.parametrize("arch", ["inception", "zf"])
@pytest.mark.parametrize("dim", [16, 128])
def test_embeddings_are_l2_normalised(arch, dim):
    net = build_net(NetConfig(arch=arch, embedding_dim=dim)).eval()
    out = net(torch.randn(5, 3, 64, 64))
    assert out.shape == (5, dim)
    assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-5)


def test_inception_module_costs_by_hand():
    # 64 channels in at 16 x 16: 1x1 -> 32; 1x1 -> 48 then 3x3 -> 64; 1x1 -> 8 then 5x5 -> 16; pool, 1x1 -> 16
    module = Inception(64, 32, 48, 64, 8, 16, 16, reductions=True)
    conv_weights = 64 * 32 + 64 * 48 + 48 * 64 * 9 + 64 * 8 + 8 * 16 * 25 + 64 * 16  # 37,504
    batch_norm = 2 * (32 + 48 + 64 + 8 + 16 + 16)
    costs = layer_costs(module, input_shape=(64, 16, 16))
    assert sum(c.params for c in costs) == count_parameters(module) == conv_weights + batch_norm
    assert sum(c.macs for c in costs) == 16 * 16 * conv_weights
    assert module(torch.zeros(1, 64, 16, 16)).shape == (1, 32 + 64 + 16 + 16, 16, 16)


def test_inception_module_without_reductions_costs_more():
    # the naive module: 3x3 and 5x5 see all 64 channels, the pool passes them through
    naive = Inception(64, 32, 48, 64, 8, 16, 16, reductions=False)
    conv_weights = 64 * 32 + 64 * 64 * 9 + 64 * 16 * 25  # 64,512
    assert count_parameters(naive) == conv_weights + 2 * (32 + 64 + 16)
    assert count_macs(naive, input_shape=(64, 16, 16)) == 16 * 16 * conv_weights
    assert naive(torch.zeros(1, 64, 16, 16)).shape[1] == 32 + 64 + 16 + 64


def test_zf_first_layer_and_head_by_hand():
    net = build_net(NetConfig(arch="zf"))
    costs = {c.name: c for c in layer_costs(net)}
    conv1 = costs["features.conv1.0"]  # 5x5 stride 2, 3 -> 48 channels, 64 -> 32 pixels
    assert conv1.params == 5 * 5 * 3 * 48 and conv1.macs == 32 * 32 * 48 * 5 * 5 * 3
    fc1 = costs["head.fc1"]  # 192 channels x 4 x 4 -> 512
    assert fc1.params == 192 * 16 * 512 + 512 and fc1.macs == 192 * 16 * 512


@pytest.mark.parametrize("arch", ["inception", "zf"])
def test_layer_table_accounts_for_every_parameter(arch):
    net = build_net(NetConfig(arch=arch))
    assert sum(c.params for c in layer_costs(net)) == count_parameters(net)


def test_the_two_families_differ_as_in_the_paper():
    # NN1 (Zeiler & Fergus) has far more parameters than the Inception NN2, mostly in its
    # fully connected layers, for a similar number of multiply-adds
    zf, inception = build_net(NetConfig(arch="zf")), build_net(NetConfig(arch="inception"))
    assert count_parameters(zf) > 3 * count_parameters(inception)
    fc = sum(c.params for c in layer_costs(zf) if c.kind == "Linear")
    assert fc > 0.5 * count_parameters(zf)


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="arch"):
        build_net(NetConfig(arch="resnet"))
