"""cnnbook.visual_cortex: simple cells, complex cells and the neocognitron (chapter 2b)."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnbook import visual_cortex as cortex


def test_gabor_matches_the_formula_by_hand_and_has_zero_mean_and_unit_norm():
    size, orientation, wavelength = 9, 30.0, 5.0
    c = (size - 1) / 2
    by_hand = torch.zeros(size, size, dtype=torch.float64)
    for i in range(size):
        for j in range(size):
            y, x = i - c, j - c
            u = x * math.cos(math.radians(orientation)) + y * math.sin(math.radians(orientation))
            by_hand[i, j] = math.exp(-(x * x + y * y) / (2 * (wavelength / 2) ** 2)) * math.cos(2 * math.pi * u / wavelength)
    by_hand = (by_hand - by_hand.mean()) / (by_hand - by_hand.mean()).norm()
    g = cortex.gabor(size, orientation, wavelength)
    assert g.dtype == torch.float32 and torch.allclose(g.double(), by_hand, atol=1e-6)
    assert abs(g.sum().item()) < 1e-5 and abs(g.norm().item() - 1) < 1e-5
    assert torch.allclose(cortex.gabor(size, 90, wavelength), cortex.gabor(size, 0, wavelength).T, atol=1e-6)


def test_grating_and_bar_are_oriented_as_documented():
    vertical = cortex.grating(8, 0, 4)
    assert torch.allclose(vertical, vertical[0].expand(8, 8))            # vertical stripes: every row the same
    horizontal_bar = cortex.bar(9, 90, width=1)
    assert horizontal_bar[4].sum() == 9 and horizontal_bar.sum() == 9     # one full middle row
    moved = cortex.bar(9, 0, width=1, offset=2)
    assert moved[:, 6].sum() == 9 and moved.sum() == 9                    # offset moves a vertical bar right
    assert cortex.bar(9, 0, width=1, length=3).sum() == 3


def test_simple_cell_is_a_convolution_and_a_relu_with_a_negative_bias():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 12, 12, generator=g)
    w = cortex.gabor(5, 45, 4)
    layer = nn.Sequential(nn.Conv2d(1, 1, 5), nn.ReLU())
    with torch.no_grad():
        layer[0].weight.copy_(w[None, None])
        layer[0].bias.fill_(-0.2)
        assert torch.allclose(cortex.simple_cell(x, w, 0.2), layer(x)[:, 0], atol=1e-6)
    assert torch.equal(cortex.simple_cell(x[0, 0], w), cortex.simple_cell(x[:1], w))   # (H, W) accepted


def test_complex_cell_is_max_pooling_of_simple_cells_and_ignores_shifts_inside_its_window():
    w = cortex.gabor(11, 0, 6)
    image = cortex.bar(31, 0, width=3)
    pooled = cortex.complex_cell(image, w, 7)
    assert torch.equal(pooled, F.max_pool2d(cortex.simple_cell(image, w)[:, None], 7)[:, 0])
    centre = pooled[0, 1, 1]
    for shift in range(-3, 4):
        assert torch.allclose(cortex.complex_cell(cortex.bar(31, 0, 3, shift), w, 7)[0, 1, 1], centre)
    assert cortex.simple_cell(cortex.bar(31, 0, 3, 2), w)[0, 10, 10] == 0


def test_orientation_tuning_peaks_at_the_kernel_orientation_and_half_width_interpolates():
    w = cortex.gabor(11, 45, 6)
    sweep = list(range(-90, 91, 15))
    curve = cortex.orientation_tuning(lambda x: cortex.simple_cell(x, w)[:, 5, 5], sweep, 21, 6)
    assert sweep[int(curve.argmax())] == 45
    triangle = torch.tensor([0.0, 0.5, 1.0, 0.5, 0.0], dtype=torch.float64)     # half height exactly at ±10°
    assert cortex.half_width([-20, -10, 0, 10, 20], triangle) == pytest.approx(10.0)
    assert cortex.half_width([-20, -10, 0, 10, 20], torch.tensor([0.0, 0.25, 1.0, 0.25, 0.0])) == pytest.approx(20 / 3)


def test_neocognitron_first_stage_equals_conv_relu_maxpool_and_tolerance_grows_by_stage():
    cross = (cortex.bar(24, 0, 3, length=12) + cortex.bar(24, 90, 3, length=12)).clamp(max=1)
    x = torch.stack([cross, cross.T, cortex.bar(24, 45, 3, length=12), cortex.bar(24, 0, 3, 4)])[:, None]
    kernels = torch.stack([cortex.gabor(5, o, 4) for o in (0, 45, 90, 135)])
    stages = cortex.neocognitron(x, kernels, threshold=0.1)
    assert [stages[k].shape[1:] for k in ("S1", "C1", "S2", "C2")] == [(4, 24, 24), (4, 12, 12), (6, 12, 12), (6, 6, 6)]
    reference = F.max_pool2d(F.relu(F.conv2d(x, kernels[:, None], padding=2) - 0.1), 2)
    assert torch.allclose(stages["C1"], reference, atol=1e-6)
    moved = cortex.neocognitron(torch.roll(x, 1, dims=3), kernels, threshold=0.1)
    change = {k: ((moved[k] - stages[k]).norm() / stages[k].norm()).item() for k in stages}
    assert change["S1"] > change["C1"] and change["S2"] > change["C2"]


def test_oriented_bars_are_defined_by_their_generator():
    a = cortex.oriented_bars(6, torch.Generator().manual_seed(3))
    b = cortex.oriented_bars(6, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (6, 1, 21, 21) and a[1].dtype == torch.int64 and int(a[1].max()) < 4


def test_errors_say_what_to_pass_instead():
    w = cortex.gabor(5, 0, 4)
    with pytest.raises(TypeError, match="float"):
        cortex.simple_cell(torch.zeros(1, 1, 8, 8, dtype=torch.int64), w)
    with pytest.raises(ValueError, match="grey images"):
        cortex.simple_cell(torch.zeros(1, 3, 8, 8), w)
    with pytest.raises(ValueError, match="smaller pool"):
        cortex.complex_cell(torch.zeros(1, 1, 8, 8), w, 5)
    with pytest.raises(ValueError, match="one response per image"):
        cortex.orientation_tuning(lambda x: cortex.simple_cell(x, w), [0, 90], 9, 4)
    with pytest.raises(ValueError, match="wider range"):
        cortex.half_width([0, 10], torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="orientation indices"):
        cortex.neocognitron(torch.zeros(1, 1, 8, 8), torch.stack([w, w]), pairs=[(0, 2)])
    with pytest.raises(ValueError, match="size >= 3"):
        cortex.gabor(1, 0, 4)
