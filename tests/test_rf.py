"""Receptive fields: the analytic calculator against gradients, hand calculations and published numbers."""

import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnbook import models, rf


class Residual(nn.Module):
    """out = relu(body(x) + shortcut(x))."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body, self.shortcut = body, shortcut or nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class Inception(nn.Module):
    """Four parallel branches concatenated along channels (Szegedy et al. 2015 style)."""

    def __init__(self, c=2):
        super().__init__()
        self.b1 = nn.Conv2d(c, 2, 1)
        self.b3 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 5, padding=2))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(c, 2, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class Misaligned(nn.Module):
    """Two branches of the same output size whose fields are centred half a pixel apart."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Sequential(nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(1, 1, 2))

    def forward(self, x):
        return self.a(x) + self.b(x)


def _book_resnet_body():
    """Chapter 7's CIFAR ResNet-8 without its global-average-pool head."""
    net = models.ResNet(depth=8, width=4)
    return nn.Sequential(net.stem, net.blocks)


def _geometry_only(builder):
    """A big network without its weights (meta tensors): both calculators only read the layers' geometry."""
    with torch.device("meta"):
        return builder()


def stem(c=1, k=3):
    return nn.Conv2d(c, 2, k, padding=k // 2)


ARCHITECTURES = {
    "plain 3x3 stack": (nn.Sequential(*[nn.Conv2d(1, 1, 3) for _ in range(4)]), 21),
    "strided": (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3, stride=2), nn.ReLU(),
                              nn.Conv2d(2, 2, 3, stride=2)), 31),
    "dilated": (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=1, padding=1), nn.Conv2d(2, 2, 3, dilation=2, padding=2),
                              nn.Conv2d(2, 2, 3, dilation=4, padding=4), nn.Sigmoid()), 41),
    "non-square kernels and strides": (nn.Sequential(nn.Conv2d(1, 2, (1, 5), stride=(2, 1)), nn.Tanh(),
                                                     nn.Conv2d(2, 2, (7, 3), stride=(1, 3), padding=(3, 0)),
                                                     nn.Conv2d(2, 1, (2, 4), dilation=(3, 1))), (45, 61)),
    "pooled (max with dilation, avg with ceil_mode)": (nn.Sequential(
        stem(), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1, dilation=2),
        nn.Conv2d(2, 2, 3), nn.AvgPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5), nn.Conv2d(2, 2, 3)), 63),
    "max-pool ceil_mode and 'same' even kernel": (nn.Sequential(
        nn.Conv2d(1, 2, 4, padding="same"), nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(2, 2, 3, padding="valid"),
        nn.MaxPool2d(3, 3, padding=1, ceil_mode=True)), 37),
    "residual, no downsampling": (nn.Sequential(stem(), Residual(nn.Sequential(
        nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))), Residual(nn.Conv2d(2, 2, 3, padding=1))), 25),
    "residual with 1x1 projection shortcut": (nn.Sequential(stem(), Residual(
        nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)),
        nn.Conv2d(2, 4, 1, stride=2)), nn.Conv2d(4, 4, 3, padding=1)), 33),
    "book ResNet (slicing + channel-padding shortcut)": (_book_resnet_body(), 40),
    "ResNet-50 bottlenecks": (nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), models.ResNet50Bottleneck(8, 2, stride=2),
                                            models.ResNet50Bottleneck(8, 2)), 27),
    "Inception-like concatenation": (nn.Sequential(stem(), Inception(), nn.ReLU(), Inception(8)), 25),
    "circular padding": (nn.Sequential(nn.Conv2d(1, 2, 5, padding=2, padding_mode="circular"),
                                       nn.Conv2d(2, 2, 3, stride=2, padding=1, padding_mode="reflect")), 27),
    "SmallCNN blocks (chapter 3)": (models.SmallCNN().blocks, 56),
    "AlexNet features": (_geometry_only(models.alexnet_features), 384),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_analytic_size_equals_gradient_support_exactly(name):
    model, n = ARCHITECTURES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theory = rf.receptive_field(model, n)
    measured = rf.empirical_receptive_field(model, n)
    assert not measured.clipped, f"{name}: the input {n} is too small, the centre unit's field touches the border"
    assert measured.size == theory.size, name
    # the centre of the measured box is where `start` + unit·jump says it is
    centre = [(measured.box[a] + measured.box[a + 2]) / 2 for a in (0, 1)]
    assert centre == [theory.start[a] + measured.unit[a] * theory.jump[a] for a in (0, 1)], name


def test_article_example_by_hand_is_3_5_9_not_13():
    layers = []
    sizes = []
    for stride in (1, 2, 2):
        layers.append(nn.Conv2d(1, 1, 3, stride=stride))
        sizes.append(rf.receptive_field(nn.Sequential(*layers), 64).size[0])
    assert sizes == [3, 5, 9]          # r = 3; 3 + 2·1; 5 + 2·2


@pytest.mark.parametrize("builder, published", [(models.alexnet_features, 195), (models.vgg16_features, 212)])
def test_classic_networks_match_araujo_2019_distill_table(builder, published):
    assert rf.receptive_field(_geometry_only(builder), 224).size == (published, published)


def test_resnet50_is_483_with_stride_in_1x1_and_427_with_stride_in_3x3():
    # hand: stem 7 + 2·2 (pool) = 11 at jump 4. Stride on the 1x1 conv: every 3x3 runs at the new jump,
    # 11 + 3·8 + 4·16 + 6·32 + 3·64 = 483, the value Araujo et al. list for resnet_v1_50 (whose TF-slim layout
    # strides the last unit's 3x3 of each stage, which gives the same sum). Stride on the 3x3: the first 3x3 of
    # stages 2-4 runs at the old jump: 483 - (8 + 16 + 32) = 427.
    with torch.device("meta"):         # the calculator needs the layers, not 25 M initialised weights
        caffe, torchvision_style = models.resnet50_features(stride_in_3x3=False), models.resnet50_features()
    assert rf.receptive_field(caffe, 224).size == (483, 483)
    assert rf.receptive_field(torchvision_style, 224).size == (427, 427)
    assert rf.empirical_receptive_field(caffe, 608).size == (483, 483)


def test_positive_twin_support_equals_support_of_real_gradient_with_generic_weights():
    # independent reference: the real model in float64 with random weights and no ReLU has no exact cancellations
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2), nn.Conv2d(3, 3, (3, 5), dilation=2), nn.AvgPool2d(2)).double()
    x = torch.randn(1, 1, 40, 40, dtype=torch.float64, requires_grad=True)
    y = model(x)
    y[0, :, 3, 4].sum().backward()
    measured = rf.empirical_receptive_field(model, 40, unit=(3, 4))
    assert torch.equal(x.grad[0, 0] != 0, measured.mask)


def test_dead_relu_does_not_hide_pixels():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)        # every ReLU dead: the real gradient is all zeros
    x = torch.rand(1, 1, 9, 9, requires_grad=True)
    model(x)[0, 0, 2, 2].backward()
    assert not x.grad.any()
    assert rf.empirical_receptive_field(model, 9).size == (5, 5)


def test_border_unit_field_is_clipped_by_padding():
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])   # field 7
    corner = rf.empirical_receptive_field(model, 16, unit=(0, 0))
    assert corner.clipped and corner.size == (4, 4)          # pixels 0..3: the other 3 rows are padding
    assert rf.receptive_field(model, 16).box((0, 0)) == (-3, -3, 3, 3)


def test_misaligned_branches_are_flagged_and_union_is_exact():
    with pytest.warns(rf.ReceptiveFieldWarning, match="do not look at aligned"):
        theory = rf.receptive_field(Misaligned(), 12)
    assert theory.misaligned == ["add"]
    assert theory.size == (3, 3)      # the 3x3 branch contains the 2x2 branch's field
    assert "misaligned" in theory.table() and "misaligned" in theory._repr_html_()
    assert rf.empirical_receptive_field(Misaligned(), 12).size == (3, 3)


def test_table_lists_every_layer_with_jump_and_size():
    result = rf.receptive_field(_geometry_only(models.vgg16_features), 224)
    assert len(result.layers) == 13 * 2 + 5
    assert result.layers[-1]["size"] == (212, 212) and result.layers[-1]["jump"] == (32, 32)
    # hand: pool4 leaves r = 100 at jump 16, then three 3x3 convs add 2·16 each -> conv5_3 sees 196
    assert result.layer("28")["type"] == "Conv2d" and result.layer("28")["size"] == (196, 196)
    assert "<table>" in result._repr_html_() and "212" in str(result)


@pytest.mark.parametrize("layer, word", [(nn.Linear(4, 2), "Linear"), (nn.Upsample(scale_factor=2), "Upsample"),
                                         (nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d"), (nn.Flatten(), "Flatten")])
def test_unsupported_layer_error_names_layer_and_what_is_supported(layer, word):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), layer)
    with pytest.raises(ValueError, match=word) as info:
        rf.receptive_field(model, 6)
    assert "Supported" in str(info.value) and "model.features" in str(info.value)


def test_input_validation_messages():
    with pytest.raises(TypeError, match="nn.Module"):
        rf.receptive_field([nn.Conv2d(1, 1, 3)], 8)
    with pytest.raises(ValueError, match="pair"):
        rf.receptive_field(nn.Conv2d(1, 1, 3), (8, 8, 8))
    with pytest.raises(ValueError, match="too small"):
        rf.receptive_field(_geometry_only(models.vgg16_features), 16)
    with pytest.raises(ValueError, match="outside the output map"):
        rf.empirical_receptive_field(nn.Conv2d(1, 1, 3), 8, unit=(6, 0))


def test_output_size_matches_torch_including_ceil_mode():
    for n, k, s, p, d, ceil in [(13, 3, 2, 1, 1, True), (14, 3, 3, 1, 2, True), (28, 2, 2, 0, 1, False),
                                (7, 3, 2, 1, 1, True)]:
        y = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, d, ceil_mode=ceil)
        assert rf.output_size(n, k, s, p, d, ceil) == y.shape[-1]


@pytest.mark.parametrize("n", range(2, 9))
def test_erf_of_uniform_linear_stack_has_std_sqrt_2n_over_3(n):
    # n uniform 3x3 kernels: each layer adds an independent step uniform on {-1, 0, 1}, variance 2/3 per axis
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(n)])
    erf = rf.effective_receptive_field(net, 4 * n + 5, init="uniform", n_inits=1, n_inputs=2)
    for std in erf.std:
        assert abs(std / math.sqrt(2 * n / 3) - 1) < 0.02


def test_erf_is_a_fraction_of_the_theoretical_field_and_grows_slower_than_depth():
    def stack(n):
        layers = [nn.Conv2d(1, 8, 3, padding=1), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers)
    shallow = rf.effective_receptive_field(stack(4), 33, n_inits=2, n_inputs=4)
    deep = rf.effective_receptive_field(stack(12), 33, n_inits=2, n_inputs=4)
    assert deep.theoretical == (25, 25) and shallow.theoretical == (9, 9)
    assert deep.fraction(0.95)[0] < 0.8                       # the outer part of the field carries < 5 % of the mass
    # Luo et al.: the ERF grows like sqrt(depth), the theoretical field like depth (here 25/9 = 2.8x)
    assert deep.std[0] / shallow.std[0] < 0.8 * (25 / 9)


def test_erf_leaves_the_callers_random_stream_untouched():
    model = nn.Conv2d(1, 2, 3)
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    rf.effective_receptive_field(model, 9, n_inits=2, n_inputs=1)
    assert torch.equal(torch.rand(3), expected)


def test_erf_validates_arguments():
    with pytest.raises(ValueError, match="init"):
        rf.effective_receptive_field(nn.Conv2d(1, 1, 3), 9, init="zeros")
    with pytest.raises(ValueError, match="in_channels"):
        rf.effective_receptive_field(nn.Sequential(nn.MaxPool2d(2)), 8)


def test_explorer_shows_the_hand_computed_field_of_the_chosen_unit():
    from cnnbook import widgets

    explorer = widgets.receptive_field_explorer(models.SmallCNN().blocks, torch.zeros(28, 28))
    (layer,), (row, col), out = explorer.children[0].children, explorer.children[1].children, explorer.children[2]
    # last block: field 22, jump 8, unit 0 centred at 3.5 (chapter 4's table) -> rows 3.5 ± 10.5 = -7..14
    assert layer.value == "2.3" and "unit (0, 0) sees rows -7..14" in out.outputs[0]["text"]
    row.value, col.value = 1, 1
    assert "unit (1, 1) sees rows 1..22, columns 1..22" in out.outputs[0]["text"]
    layer.value = "0.0"                          # first convolution: 3×3 around the unit, 28 units per row
    assert row.max == 27 and "unit (1, 1) sees rows 0..2" in out.outputs[0]["text"]


class SubtractsItsConvolution(nn.Module):
    """y = x - conv(x): a high-pass block; on ones the positive twin's branches would cancel."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return x - self.conv(x)


def test_empirical_receptive_field_of_a_block_that_subtracts_its_convolution():
    model = nn.Sequential(SubtractsItsConvolution(), nn.Conv2d(1, 1, 3))
    field = rf.empirical_receptive_field(model, 11)      # was (3, 3): the branches cancelled on ones
    assert field.size == rf.receptive_field(model, 11).size == (5, 5)
    assert rf.empirical_receptive_field(SubtractsItsConvolution(), 11).size == (3, 3)  # was (1, 1)


def test_empirical_receptive_field_where_no_pixel_reaches_the_unit_is_a_clear_error():
    class Constant(nn.Module):
        def forward(self, x):
            return x[:, :, :1, :1] * 0.0 + 1.0

    with pytest.raises(ValueError):
        rf.empirical_receptive_field(Constant(), 4)


def test_effective_receptive_field_never_seeds_cuda_on_the_cpu_and_leaves_the_caller_rng(cuda_seed_calls):
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    state = torch.get_rng_state()
    a = rf.effective_receptive_field(net, 9, n_inits=2, n_inputs=2, seed=4)
    assert cuda_seed_calls == [] and torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.map, rf.effective_receptive_field(net, 9, n_inits=2, n_inputs=2, seed=4).map)


def test_effective_receptive_field_runs_where_the_model_is():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1)).double()
    seen = []
    net.register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    field = rf.effective_receptive_field(net, 9, n_inits=1, n_inputs=2)
    assert seen and all(d == next(net.parameters()).device for d in seen) and field.map.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_effective_receptive_field_on_cuda_equals_the_cpu_map_for_uniform_weights():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    cpu = rf.effective_receptive_field(net, 9, init="uniform", n_inits=1, n_inputs=2)
    gpu = rf.effective_receptive_field(net.cuda(), 9, init="uniform", n_inits=1, n_inputs=2)  # was a device error
    torch.testing.assert_close(gpu.map, cpu.map, atol=1e-5, rtol=1e-4)


def test_the_recurrence_step_is_the_module_formula():
    assert rf.step(1, 1, 0.0, 3, 2, 1) == (3, 2, 0.0)
    assert rf.step(3, 2, 0.0, 3, 1, 0) == (7, 2, 2.0)


def test_receptive_field_and_the_measured_fields_are_the_documented_types():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.MaxPool2d(2))
    exact = rf.receptive_field(net, 16)
    assert isinstance(exact, rf.ReceptiveField) and exact.size == (4, 4)
    twin = rf.positive_twin(net, 16)
    assert twin(torch.ones(1, 1, 16, 16, dtype=torch.float64)).shape == (1, 1, 7, 7)
    measured = rf.empirical_receptive_field(net, 16)
    assert isinstance(measured, rf.EmpiricalField) and measured.size == (4, 4)
    erf = rf.effective_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), 9, init="uniform", n_inits=1)
    assert isinstance(erf, rf.EffectiveField) and erf.theoretical == (3, 3)
    assert erf.extent(0.3) == (1, 1) and erf.fraction(0.3) == (1 / 3, 1 / 3)  # a flat 3-pixel marginal: 1/3 each


def test_every_element_wise_module_keeps_the_field_and_the_lists_are_documented():
    from cnnbook.rf import calculator

    for module in calculator.ELEMENTWISE_MODULES:
        layer = module(1) if module in (nn.BatchNorm2d, nn.PReLU) else module()
        assert rf.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), layer), 8).size == (3, 3), module
    for padding in calculator.PADDING_MODULES:
        layer = padding(1, 0.0) if padding is nn.ConstantPad2d else padding(1)
        assert rf.receptive_field(nn.Sequential(layer, nn.Conv2d(1, 1, 3)), 8).size == (3, 3), padding
    assert {"relu", "sigmoid"} <= calculator.ELEMENTWISE_METHODS and "add" in calculator.MERGE_METHODS
    assert nn.functional.relu in calculator.ELEMENTWISE_FUNCTIONS and torch.add in calculator.MERGE_FUNCTIONS
    assert "Conv2d" in calculator.SUPPORTED
