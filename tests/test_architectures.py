"""Chapter 7: shapes, parameter counts and MACs of the architectures, checked against hand counts and torch."""

import pytest
import torch
import torch.nn as nn

from cnnbook.models import BasicBlock, MultiHeadSelfAttention, ResNet, SEBlock, TinyViT, vgg_style


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------- VGG-style
def test_vgg_style_shapes_and_parameters_match_hand_count():
    model = vgg_style([8, "M", 16, "M"], in_channels=1, num_classes=10)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # conv 1->8 3x3: 9*8+8 = 80; conv 8->16: 9*8*16+16 = 1168; linear 16->10: 170
    assert n_params(model) == 80 + 1168 + 170


def test_vgg_style_rejects_bad_config_with_a_hint():
    with pytest.raises(ValueError, match="positive ints"):
        vgg_style([8, "X"])
    with pytest.raises(ValueError, match="no convolution"):
        vgg_style(["M"])
    with pytest.raises(ValueError, match="odd"):
        vgg_style([8], kernel_size=4)


def test_vgg_style_circular_padding_is_exactly_roll_equivariant():
    torch.manual_seed(0)
    features = vgg_style([4, 4], padding_mode="circular")[:4]      # two conv+ReLU, stride 1
    x = torch.randn(1, 1, 12, 12)
    shifted = features(torch.roll(x, 3, dims=3))
    assert torch.allclose(shifted, torch.roll(features(x), 3, dims=3), atol=1e-6)


# ---------------------------------------------------------------------------- ResNet
@pytest.mark.parametrize("depth", [8, 14, 20])
def test_resnet_depth_counts_weight_layers_like_he_et_al(depth):
    model = ResNet(depth, width=4)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == depth
    assert model(torch.zeros(2, 1, 14, 14)).shape == (2, 10)


def test_resnet_plain_and_residual_have_identical_parameters():
    assert n_params(ResNet(20, 8, residual=True)) == n_params(ResNet(20, 8, residual=False))


def test_resnet20_width16_has_the_papers_0_27_million_parameters():
    # He et al. 2016, Table 6: ResNet-20 on CIFAR-10 has 0.27M parameters (3 input channels).
    assert round(n_params(ResNet(20, 16, in_channels=3)) / 1e6, 2) == 0.27


def test_residual_block_adds_the_identity_plain_block_does_not():
    torch.manual_seed(0)
    block = BasicBlock(4, 4, residual=True, batch_norm=False)
    for conv in (block.conv1, block.conv2):
        nn.init.zeros_(conv.weight), nn.init.zeros_(conv.bias)   # F(x) = 0
    x = torch.rand(2, 4, 6, 6)                                   # non-negative: relu(x) = x
    assert torch.equal(block(x), x)
    block.residual = False
    assert torch.equal(block(x), torch.zeros_like(x))


def test_shortcut_subsamples_and_zero_pads_channels():
    block = BasicBlock(4, 8, stride=2)
    x = torch.randn(1, 4, 6, 6)
    s = block.shortcut(x)
    assert s.shape == (1, 8, 3, 3)
    assert torch.equal(s[:, :4], x[:, :, ::2, ::2]) and not s[:, 4:].any()


def test_resnet_rejects_depth_not_6k_plus_2():
    with pytest.raises(ValueError, match="6k"):
        ResNet(10)


# ---------------------------------------------------------------------------- SE
def test_zero_init_residual_makes_every_block_the_identity_at_the_start():
    # Goyal et al. 2017: gamma = 0 in each block's last BN, so F(x) = 0 and a deep net starts as stem + head
    torch.manual_seed(0)
    x = torch.rand(4, 1, 14, 14)
    shallow, deep = ResNet(8, width=4, zero_init_residual=True), ResNet(56, width=4, zero_init_residual=True)
    assert all((b.bn2.weight == 0).all() for b in deep.blocks)
    with torch.no_grad():
        stem = deep.stem(x)
        out = deep.blocks(stem)
        # only the shortcuts act: subsample twice by 2 and zero-pad the channels 4 -> 16
        expected = nn.functional.pad(stem[:, :, ::2, ::2][:, :, ::2, ::2], (0, 0, 0, 0, 0, 12))
        assert torch.equal(out, expected)
        assert shallow.blocks(shallow.stem(x)).shape == out.shape     # same stream shape at every depth


def test_zero_init_residual_needs_shortcuts_and_batchnorm():
    with pytest.raises(ValueError, match="residual=True"):
        ResNet(8, residual=False, zero_init_residual=True)
    with pytest.raises(ValueError, match="batch_norm=True"):
        ResNet(8, batch_norm=False, zero_init_residual=True)
    with pytest.raises(TypeError, match="True or False"):
        ResNet(8, zero_init_residual=1)


def test_se_block_output_is_input_times_a_per_channel_scale_in_0_1():
    torch.manual_seed(0)
    se = SEBlock(8, r=2)
    x = torch.randn(3, 8, 5, 5)
    s = se.excitation(x)
    assert s.shape == (3, 8) and ((s > 0) & (s < 1)).all()
    assert torch.allclose(se(x), x * s[:, :, None, None])
    # the squeeze is the global average pool: recompute the excitation by hand
    z = x.mean(dim=(2, 3))
    by_hand = torch.sigmoid(torch.relu(z @ se.down.weight.T + se.down.bias) @ se.up.weight.T + se.up.bias)
    assert torch.allclose(s, by_hand)


@pytest.mark.parametrize("channels,r", [(16, 1), (16, 4), (64, 16)])
def test_se_parameter_count_is_2c2_over_r_plus_biases(channels, r):
    assert n_params(SEBlock(channels, r)) == 2 * channels ** 2 // r + channels // r + channels


def test_se_rejects_r_not_dividing_channels():
    with pytest.raises(ValueError, match="divisible"):
        SEBlock(10, 4)


def test_se_resnet_adds_exactly_the_se_parameters():
    plain, se = ResNet(8, 8), ResNet(8, 8, se_reduction=4)
    extra = sum(n_params(SEBlock(c, 4)) for c in (8, 16, 32))
    assert n_params(se) - n_params(plain) == extra


# ---------------------------------------------------------------------------- ViT
def test_attention_weights_have_shape_n_heads_t_t_and_rows_sum_to_one():
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(dim=16, heads=4)
    x = torch.randn(2, 5, 16)
    a = attn.attention(x)
    assert a.shape == (2, 4, 5, 5)
    assert torch.allclose(a.sum(-1), torch.ones(2, 4, 5))
    assert attn(x).shape == (2, 5, 16)


def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    mine = MultiHeadSelfAttention(dim=16, heads=4)
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(mine.qkv.weight), ref.in_proj_bias.copy_(mine.qkv.bias)
        ref.out_proj.weight.copy_(mine.out.weight), ref.out_proj.bias.copy_(mine.out.bias)
    x = torch.randn(2, 7, 16)
    expected, weights = ref(x, x, x, average_attn_weights=False)
    assert torch.allclose(mine(x), expected, atol=1e-5)
    assert torch.allclose(mine.attention(x), weights, atol=1e-6)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_tiny_vit_shapes_and_parameter_count(pooling):
    model = TinyViT(image_size=28, patch_size=7, dim=32, depth=2, heads=4, mlp_ratio=2, pooling=pooling)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.tokens(torch.zeros(2, 1, 28, 28)).shape == (2, 16, 32)
    d, t = 32, 16 + (pooling == "cls")
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 2 * d + 2 * d) + (2 * d * d + d)
    expected = (49 * d + d) + (d if pooling == "cls" else 0) + t * d + 2 * block + 2 * d + (d * 10 + 10)
    assert n_params(model) == expected


def test_patch_embedding_conv_is_one_linear_map_of_non_overlapping_patches():
    # kernel = stride = p: every output position is the kernel's dot product with one p×p patch
    torch.manual_seed(0)
    embed = TinyViT(image_size=12, patch_size=4, in_channels=3, dim=8).patch_embed
    x = torch.randn(2, 3, 12, 12)
    patches = nn.functional.unfold(x, kernel_size=4, stride=4).transpose(1, 2)        # (2, 9, 48)
    linear = patches @ embed.proj.weight.reshape(8, -1).T + embed.proj.bias
    assert torch.allclose(embed(x), linear, atol=1e-5)


def test_tiny_vit_rejects_patch_not_dividing_image():
    with pytest.raises(ValueError, match="multiple"):
        TinyViT(image_size=28, patch_size=5)


def test_patch_embedding_and_transformer_block_keep_tokens_by_dim():
    from cnnbook.models import PatchEmbedding, TransformerBlock

    tokens = PatchEmbedding(patch_size=4, in_channels=1, dim=8)(torch.zeros(2, 1, 8, 12))
    assert tokens.shape == (2, 6, 8)                            # (8/4)·(12/4) patches
    block = TransformerBlock(8, heads=2)
    assert block(tokens).shape == (2, 6, 8)
    # 2 LayerNorms, attention (Q, K, V and output Linear(8, 8)), MLP 8 -> 16 -> 8
    assert n_params(block) == 2 * 2 * 8 + 4 * (8 * 8 + 8) + (8 * 16 + 16) + (16 * 8 + 8)


def test_tiny_vit_and_attention_reject_the_wrong_kinds_with_type_errors():
    with pytest.raises(TypeError, match="dim must be an int"):
        TinyViT(dim=32.0)
    with pytest.raises(TypeError, match="pooling must be a string"):
        TinyViT(pooling=1)
    with pytest.raises(ValueError, match="divisible by heads"):
        MultiHeadSelfAttention(8, 3)
