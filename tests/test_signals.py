"""Tests for cnnbook.signals (1-D, 3-D and Fourier-domain convolution) and chapter 8's networks."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnbook import signals
from cnnbook.models import ClipNet, FourierConv2d, ShiftNet


def test_conv1d_loops_matches_torch_with_stride_padding_and_channels():
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 17, dtype=torch.float64), torch.randn(4, 3, 5, dtype=torch.float64)
    for stride, padding in ((1, 0), (2, 2), (3, 1)):
        expected = F.conv1d(x, w, stride=stride, padding=padding)
        assert torch.allclose(signals.conv1d_loops(x, w, stride, padding), expected, atol=1e-12)


def test_conv1d_loops_rejects_mismatched_channels_and_too_long_kernels():
    with pytest.raises(ValueError, match="C_in"):
        signals.conv1d_loops(torch.zeros(1, 2, 8), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="longer"):
        signals.conv1d_loops(torch.zeros(1, 1, 3), torch.zeros(1, 1, 5))


def test_moving_digit_clips_move_by_step_in_the_labelled_direction_and_stay_inside():
    digits = torch.zeros(40, 1, 6, 6)
    digits[:, :, 0, 0] = 1.0                                  # one marked corner pixel to follow
    clips, labels = signals.moving_digit_clips(digits, frames=4, canvas=20, step=2,
                                               generator=torch.Generator().manual_seed(5))
    assert clips.shape == (40, 1, 4, 20, 20) and set(labels.tolist()) <= set(range(8))
    for clip, label in zip(clips, labels):
        dy, dx = signals.DIRECTIONS[int(label)]
        positions = [torch.nonzero(clip[0, t] == 1.0)[0] for t in range(4)]
        for t in range(3):
            assert (positions[t + 1] - positions[t]).tolist() == [2 * dy, 2 * dx]
        nxt = positions[-1] + 2 * torch.tensor([dy, dx])     # where it moves next is still on the canvas
        assert 0 <= nxt.min() and nxt.max() + 5 < 20


def test_moving_digit_clips_is_reproducible_and_checks_the_canvas():
    digits = torch.rand(5, 1, 14, 14)
    a = signals.moving_digit_clips(digits, generator=torch.Generator().manual_seed(1))
    b = signals.moving_digit_clips(digits, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="canvas >= 26"):
        signals.moving_digit_clips(digits, canvas=20)
    with pytest.raises(TypeError, match="torch.Generator"):
        signals.moving_digit_clips(digits, generator=3)


def test_receptive_field_nd_matches_gradient_support_of_a_positive_3d_twin():
    layers = [((2, 5, 5), (1, 2, 2)), ((1, 2, 2), (1, 2, 2)), ((2, 3, 3), (1, 1, 1))]
    size, jump = signals.receptive_field_nd(layers)
    assert size == (3, 5 + 1 * 2 + 2 * 4, 15) and jump == (1, 4, 4)
    twin = nn.Sequential(nn.Conv3d(1, 1, (2, 5, 5), stride=(1, 2, 2), bias=False), nn.AvgPool3d((1, 2, 2)),
                         nn.Conv3d(1, 1, (2, 3, 3), bias=False))
    for m in twin:
        if isinstance(m, nn.Conv3d):
            nn.init.ones_(m.weight)
    x = torch.ones(1, 1, 5, 40, 40, requires_grad=True)
    out = twin(x)
    out[0, 0, 1, 4, 4].backward()
    support = torch.nonzero(x.grad[0, 0])
    assert tuple(int(support[:, a].max() - support[:, a].min()) + 1 for a in range(3)) == size
    with pytest.raises(ValueError, match="kernel, stride"):
        signals.receptive_field_nd([((3, 3), (1,))])


def test_circular_conv2d_fft_equals_direct_circular_cross_correlation():
    torch.manual_seed(0)
    x, k = torch.randn(2, 3, 8, 6, dtype=torch.float64), torch.randn(4, 3, 8, 6, dtype=torch.float64)
    y = signals.circular_conv2d_fft(x, k)
    direct = torch.zeros(2, 4, 8, 6, dtype=torch.float64)
    for u in range(8):
        for v in range(6):
            direct += torch.einsum("oc,nchw->nohw", k[:, :, u, v], torch.roll(x, (-u, -v), dims=(2, 3)))
    assert torch.allclose(y, direct, atol=1e-10)
    with pytest.raises(ValueError, match="image-sized"):
        signals.circular_conv2d_fft(x, k[..., :3, :3])


def test_frequency_response_of_an_averaging_kernel_peaks_at_zero_frequency():
    r = signals.frequency_response(torch.full((1, 3, 3), 1 / 9), size=16)
    assert r.shape == (1, 16, 16)
    assert int(r[0].argmax()) == 8 * 16 + 8 and torch.isclose(r[0, 8, 8], torch.tensor(1.0))
    diff = signals.frequency_response(torch.tensor([[[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]]), size=16)
    assert diff[0, 8, 8] == 0                                 # a difference kernel blocks the mean


def test_per_frame_clipnet_cannot_tell_a_clip_from_its_reverse_but_3d_can():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 4, 32, 32)
    with torch.no_grad():
        flat, deep = ClipNet(temporal_kernel=1).eval(), ClipNet(temporal_kernel=2).eval()
        assert torch.allclose(flat(x), flat(x.flip(2)), atol=1e-5)
        assert not torch.allclose(deep(x), deep(x.flip(2)), atol=1e-3)
    with pytest.raises(ValueError, match="N, 1, T, H, W"):
        ClipNet()(torch.zeros(1, 1, 32, 32))


def test_shiftnet_parameter_counts_and_both_kinds_commute_with_circular_shifts():
    local, fourier = ShiftNet("local", 16), ShiftNet("fourier", 6)
    assert sum(p.numel() for p in local.parameters()) == 16 * 26 + 16 * 49 * 10 + 10 == 8266
    assert sum(p.numel() for p in fourier.parameters()) == 6 * 784 + 6 + 6 * 49 * 10 + 10 == 7660
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        for model in (local, fourier):
            a = model.features(torch.roll(x, (2, -5), dims=(2, 3)))
            assert torch.allclose(a, torch.roll(model.features(x), (2, -5), dims=(2, 3)), atol=1e-5)


def test_fourier_layer_is_global_and_local_layer_is_not():
    impulse = torch.zeros(1, 1, 28, 28)
    impulse[..., 14, 14] = 1.0
    with torch.no_grad():
        local = nn.Conv2d(1, 1, 5, padding=2, padding_mode="circular", bias=False)(impulse)
        glob = FourierConv2d(1, 1, (28, 28))(impulse)
    assert torch.count_nonzero(local) <= 25
    assert torch.count_nonzero(glob.abs() > 1e-9) > 700


def test_shiftnet_and_fourier_layer_reject_bad_arguments():
    with pytest.raises(ValueError, match="'local', 'fourier'"):
        ShiftNet("spectral")
    with pytest.raises(ValueError, match="odd"):
        ShiftNet("local", kernel_size=4)
    with pytest.raises(ValueError, match="size="):
        FourierConv2d(1, 1, (28, 28))(torch.zeros(1, 1, 14, 14))


def test_direction_names_follow_the_directions_clockwise_from_up():
    assert len(signals.DIRECTION_NAMES) == len(signals.DIRECTIONS) == 8
    assert dict(zip(signals.DIRECTION_NAMES, signals.DIRECTIONS))["right"] == (0, 1)
    assert dict(zip(signals.DIRECTION_NAMES, signals.DIRECTIONS))["up"] == (-1, 0)
