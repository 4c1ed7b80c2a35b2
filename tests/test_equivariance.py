"""cnnbook.equivariance: how far a map is from commuting with shifts (chapter 7c)."""

import pytest
import torch

from cnnbook.equivariance import equivariance_error
from cnnbook.models import TinyViT, vgg_style


def test_circular_convolution_is_exactly_equivariant_and_max_pooling_breaks_it_for_odd_shifts():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8)
    conv = vgg_style([4], padding_mode="circular")[:2]
    assert equivariance_error(conv, x, 3, 3) < 1e-6
    pooled = vgg_style([4, "M"], padding_mode="circular")[:3]
    assert equivariance_error(pooled, x, 2, 1) < 1e-6
    assert equivariance_error(pooled, x, 1, 0) > 0.1
    assert equivariance_error(lambda t: t + torch.arange(8.0), x, 1, 1) > 0.1     # a position-dependent map


def test_vit_tokens_become_patch_shift_equivariant_without_position_embeddings():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 8, 8)
    vit = TinyViT(image_size=8, patch_size=2, dim=8, heads=2, pooling="mean").eval()
    with torch.no_grad():
        vit.pos_embed.normal_()
    assert equivariance_error(vit.tokens, x, 2, 1, grid=(4, 4)) > 0.1
    vit.pos_embed = None
    assert equivariance_error(vit.tokens, x, 2, 1, grid=(4, 4)) < 1e-5


def test_equivariance_error_checks_shapes_with_a_hint():
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="grid"):
        equivariance_error(lambda t: t.flatten(2).transpose(1, 2), x, 1, 1)
    with pytest.raises(ValueError, match="tokens"):
        equivariance_error(lambda t: t.flatten(2).transpose(1, 2), x, 1, 1, grid=(3, 3))
    with pytest.raises(TypeError, match="shift"):
        equivariance_error(lambda t: t, x, 1.5, 1)
