"""cnnbook.anatomy: per-layer parameters and MACs (summary) and the gradient reaching each convolution."""

import pytest
import torch
import torch.nn as nn

from cnnbook.anatomy import ModelSummary, conv_gradient_norms, summary
from cnnbook.models import LeNet5, ResNet, TinyViT, vgg_style


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_conv_gradient_norms_equal_autograd_norms_input_side_first():
    torch.manual_seed(0)
    model = ResNet(8, width=4)
    x, y = torch.randn(6, 1, 14, 14), torch.arange(6) % 10
    norms = conv_gradient_norms(model, x, y)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(norms) == len(convs) == 7                       # stem + 6 block convs, input side first
    assert all(p.grad is None for p in model.parameters())    # the model itself got no gradient
    model.train()
    nn.functional.cross_entropy(model(x), y).backward()        # by hand, same batch, train mode
    assert norms == pytest.approx([c.weight.grad.norm().item() for c in convs], rel=1e-5)


def test_conv_gradient_norms_rejects_bad_inputs_with_a_hint():
    model = ResNet(8, width=4)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        conv_gradient_norms(model, torch.zeros(1, 14, 14), torch.zeros(1, dtype=torch.int64))
    with pytest.raises(ValueError, match="one class index per image"):
        conv_gradient_norms(model, torch.zeros(2, 1, 14, 14), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        conv_gradient_norms(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.zeros(2, 1, 2, 2),
                            torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="labels.long"):
        conv_gradient_norms(model, torch.zeros(2, 1, 14, 14), torch.zeros(2))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        conv_gradient_norms([nn.Conv2d(1, 1, 3)], torch.zeros(2, 1, 14, 14), torch.zeros(2, dtype=torch.int64))


def test_without_batch_norm_the_plain_net_gradient_vanishes_and_the_shortcut_keeps_it():
    x, y = torch.randn(16, 1, 14, 14, generator=torch.Generator().manual_seed(1)), torch.arange(16) % 10
    ratio = {}
    for residual in (False, True):
        torch.manual_seed(0)
        g = conv_gradient_norms(ResNet(32, width=8, residual=residual, batch_norm=False), x, y)
        ratio[residual] = g[0] / g[-1]
    assert ratio[False] < 1e-6 < 1e-2 < ratio[True]


def test_summary_matches_hand_counts_for_lenet5():
    s = summary(LeNet5(), (1, 28, 28))
    assert s.total_params == 61_706 == n_params(LeNet5())
    # C1: 5*5*1*6*28*28, C3: 5*5*6*16*10*10, then the three Linears
    assert s.total_macs == 5 * 5 * 6 * 28 * 28 + 5 * 5 * 6 * 16 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10
    assert [r["output"] for r in s.rows if r["type"] == "Conv2d"] == [(6, 28, 28), (16, 10, 10)]


def test_summary_counts_grouped_conv_and_attention_matmuls():
    s = summary(nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, padding=1)), (4, 5, 5))
    assert s.total_macs == 3 * 3 * (4 // 2) * 8 * 5 * 5
    vit = TinyViT(image_size=8, patch_size=4, dim=8, depth=1, heads=2, pooling="mean")
    rows = {r["layer"]: r for r in summary(vit, (1, 8, 8)).rows}
    t, d = 4, 8
    assert rows["blocks.0.attn"]["macs"] == 2 * t * t * d
    assert rows["blocks.0.attn.qkv"]["macs"] == t * d * 3 * d
    assert summary(vit, (1, 8, 8)).total_params == n_params(vit)


def test_summary_rejects_batch_dimension_with_a_hint():
    with pytest.raises(ValueError, match="batch"):
        summary(LeNet5(), (1, 1, 28, 28))


def test_summary_table_lists_every_weighted_layer():
    text = summary(vgg_style([4, "M"]), (1, 8, 8)).table(free_layers=False)
    assert "Conv2d" in text and "Linear" in text and "ReLU" not in text


# NAS: tests/test_nas.py


def bn_dropout_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(4, 2, 3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_conv_gradient_norms_leaves_batchnorm_statistics_gradients_and_mode_alone():
    model = bn_dropout_net().eval()
    x, y = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.arange(8) % 2
    model(x).sum().backward()                                   # the caller's own gradients
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    conv_gradient_norms(model, x, y)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # running stats, counts
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert not model.training


def test_conv_gradient_norms_draws_dropout_from_its_seed_not_the_global_generator():
    model, x, y = bn_dropout_net(), torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    torch.manual_seed(5)
    state = torch.get_rng_state()
    first = conv_gradient_norms(model, x, y)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(6)                                        # another global state: the same norms
    assert conv_gradient_norms(model, x, y) == first
    assert conv_gradient_norms(model, x, y, seed=1) != first    # another dropout mask


def test_summary_rejects_the_wrong_kind_of_input_size():
    with pytest.raises(TypeError, match="tuple of 3 ints"):
        summary(LeNet5(), (1, 28.0, 28))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        summary("LeNet5", (1, 28, 28))


def test_model_summary_prints_as_its_table():
    s = summary(vgg_style([4, "M"]), (1, 8, 8))
    assert isinstance(s, ModelSummary) and str(s) == s.table() and "params" in repr(s)
