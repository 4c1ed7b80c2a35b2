"""cnnbook.conv against torch: every method, every option, and the hand-written backward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnbook.conv import Conv2dFunction, conv2d, conv2d_backward, im2col, output_size

# (N, C_in, C_out, H, W, kernel, stride, padding, dilation, groups): ints, pairs, groups, non-square
CASES = [
    (1, 1, 1, 5, 5, (3, 3), 1, 0, 1, 1),
    (2, 3, 4, 9, 11, (3, 2), (2, 1), (1, 2), (1, 2), 1),
    (2, 4, 6, 8, 7, (2, 3), 2, 1, 2, 2),
    (1, 6, 6, 7, 7, (3, 3), 1, 1, 1, 6),          # depthwise
    (3, 2, 5, 6, 10, (1, 4), (1, 3), (0, 2), 1, 1),
    (1, 3, 3, 12, 12, (3, 3), 3, 2, 3, 3),
]
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}


def _random_case(case, dtype, seed=0):
    n, c_in, c_out, h, w, k, stride, padding, dilation, groups = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, h, w, generator=g, dtype=dtype)
    weight = torch.randn(c_out, c_in // groups, *k, generator=g, dtype=dtype)
    bias = torch.randn(c_out, generator=g, dtype=dtype)
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("method", ["loops", "im2col", "fft"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_torch_with_stride_padding_dilation_groups_and_bias(case, dtype, method):
    x, weight, bias, conf = _random_case(case, dtype)
    expected = F.conv2d(x, weight, bias, **conf)
    got = conv2d(x, weight, bias, method=method, **conf)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=TOLERANCE[dtype], rtol=0), (got - expected).abs().max()


def test_conv2d_without_bias_matches_torch():
    x, weight, _, conf = _random_case(CASES[1], torch.float64)
    assert torch.allclose(conv2d(x, weight, None, **conf), F.conv2d(x, weight, None, **conf), atol=1e-10)


@pytest.mark.parametrize("size,k,s,p,d", [(28, 3, 1, 0, 1), (28, 5, 2, 2, 1), (7, 3, 2, 1, 2), (10, 1, 3, 0, 1), (5, 3, 1, 1, 1)])
def test_output_size_formula_matches_torch_shapes(size, k, s, p, d):
    out = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert output_size(size, k, s, p, d) == out.shape[-1]


def test_im2col_patches_are_the_windows_the_definition_reads():
    x = torch.arange(2 * 7 * 8, dtype=torch.float64).reshape(1, 2, 7, 8)
    patches = im2col(x, (3, 2), stride=(2, 3), dilation=(2, 1))
    assert patches.shape == (1, 2, 2, 3, 3, 2)
    i, j = 1, 2
    assert torch.equal(patches[0, :, i, j], x[0, :, i * 2: i * 2 + 5: 2, j * 3: j * 3 + 2])


@pytest.mark.parametrize("case", CASES)
def test_conv2d_backward_equals_autograd(case):
    x, weight, bias, conf = _random_case(case, torch.float64, seed=1)
    x.requires_grad_(); weight.requires_grad_(); bias.requires_grad_()
    out = F.conv2d(x, weight, bias, **conf)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    gx, gw, gb = conv2d_backward(grad_out, x.detach(), weight.detach(), **conf)
    for mine, ref in ((gx, x.grad), (gw, weight.grad), (gb, bias.grad)):
        assert mine.shape == ref.shape
        assert torch.allclose(mine, ref, atol=1e-10)


# gradcheck differentiates numerically, one input element at a time: small versions of the first cases
# (same stride/padding/dilation/groups and non-square shapes) keep it quick; the full CASES are checked
# against autograd above.
GRADCHECK_CASES = [
    (1, 1, 1, 5, 5, (3, 3), 1, 0, 1, 1),
    (1, 2, 2, 6, 7, (3, 2), (2, 1), (1, 2), (1, 2), 1),
    (1, 2, 4, 6, 5, (2, 3), 2, 1, 2, 2),
    (1, 3, 3, 5, 5, (3, 3), 1, 1, 1, 3),          # depthwise
]


@pytest.mark.parametrize("case", GRADCHECK_CASES)
def test_hand_written_backward_passes_gradcheck(case):
    x, weight, bias, conf = _random_case(case, torch.float64, seed=2)
    inputs = tuple(t.requires_grad_() for t in (x, weight, bias))
    conv = lambda x, w, b: Conv2dFunction.apply(x, w, b, conf["stride"], conf["padding"], conf["dilation"], conf["groups"])
    assert torch.autograd.gradcheck(conv, inputs)


# ----------------------------------------------------------------------------- errors that teach
def test_integer_kernel_error_tells_reader_to_call_float():
    image = torch.zeros(1, 1, 5, 5)
    kernel = torch.tensor([[1, 0, -1]] * 3).view(1, 1, 3, 3)  # int64, as in the source article
    with pytest.raises(TypeError, match=r"floating-point weight, got torch.int64 .*weight.float\(\)"):
        conv2d(image, kernel)


def test_missing_batch_axis_error_suggests_unsqueeze():
    with pytest.raises(ValueError, match=r"\(N, C_in, H, W\).*unsqueeze\(0\)"):
        conv2d(torch.zeros(1, 5, 5), torch.zeros(1, 1, 3, 3))


def test_channel_mismatch_error_names_both_counts():
    with pytest.raises(ValueError, match=r"x needs 2 channels, but it has 3"):
        conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(4, 2, 3, 3))


def test_kernel_larger_than_input_is_a_clear_error():
    with pytest.raises(ValueError, match="more padding"):
        conv2d(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(stride=0), "stride must be >= 1"),
    (dict(padding=-1), "padding must be >= 0"),
    (dict(dilation=(1, 2, 3)), "pair of ints"),
    (dict(groups=2), "groups=2 must divide"),
    (dict(method="winograd"), "method must be one of"),
    (dict(bias=torch.zeros(3)), r"bias must be a tensor of shape \(1,\)"),
])
def test_bad_options_raise_with_the_expected_form(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), **kwargs)


def test_mixed_dtypes_error_says_how_to_convert():
    with pytest.raises(TypeError, match=r"weight.to\(x.dtype\)"):
        conv2d(torch.zeros(1, 1, 5, 5, dtype=torch.float64), torch.zeros(1, 1, 3, 3))


def test_output_size_rejects_non_integers():
    with pytest.raises(TypeError, match=r"stride must be an int >= 1 .*got 1.5 .*e.g. stride=2"):
        output_size(28, 3, stride=1.5)


@pytest.mark.parametrize("stride", [1.5, 2.0, True, "2", None])
def test_conv2d_with_a_non_integer_stride_names_stride_and_the_form_it_needs(stride):
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints like \(2, 2\)"):
        conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), stride=stride)


def test_numpy_integers_are_accepted_as_stride_padding_dilation_and_groups():
    x, weight, bias, _ = _random_case(CASES[2], torch.float64)
    got = conv2d(x, weight, bias, stride=np.int64(2), padding=(np.int32(1), 1), dilation=np.int64(2), groups=np.int64(2))
    assert torch.allclose(got, F.conv2d(x, weight, bias, stride=2, padding=1, dilation=2, groups=2), atol=1e-10)
    assert output_size(np.int64(28), np.int64(3), np.int64(2)) == 13


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(stride=0), ValueError, "stride must be an int >= 1"),
    (dict(size=2, kernel_size=5), ValueError, "spans 5 pixels but the padded input has only 2"),
    (dict(kernel_size=0), ValueError, "kernel_size must be an int >= 1"),
    (dict(padding=-1), ValueError, "padding must be an int >= 0"),
    (dict(ceil_mode=1), TypeError, "True or False"),
])
def test_output_size_rejects_impossible_geometry_with_a_fix(kwargs, err, match):
    args = dict(size=28, kernel_size=3) | kwargs
    with pytest.raises(err, match=match):
        output_size(**args)


def test_rf_uses_the_same_output_size_with_its_checks():
    from cnnbook import rf

    assert rf.output_size is output_size
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        rf.output_size(28, 3, stride=0)  # was ZeroDivisionError
    with pytest.raises(ValueError, match="more padding"):
        rf.output_size(2, 5)  # was -2


@pytest.mark.parametrize("method", ["im2col", "loops", "fft"])
def test_an_empty_batch_gives_an_empty_output_like_torch(method):
    x, w = torch.zeros(0, 2, 6, 6), torch.zeros(3, 2, 3, 3)
    assert conv2d(x, w, method=method).shape == F.conv2d(x, w).shape == (0, 3, 4, 4)


@pytest.mark.parametrize("x_shape,w_shape", [((1, 0, 6, 6), (3, 0, 3, 3)), ((1, 2, 6, 6), (0, 2, 3, 3))])
def test_zero_channels_is_a_clear_error_for_every_method(x_shape, w_shape):
    for method in ("im2col", "fft", "loops"):
        with pytest.raises(ValueError, match="at least one of each"):
            conv2d(torch.zeros(x_shape), torch.zeros(w_shape), method=method)


def test_fft_method_with_float16_says_which_dtypes_it_needs():
    x, w = torch.zeros(1, 1, 6, 6, dtype=torch.float16), torch.zeros(1, 1, 3, 3, dtype=torch.float16)
    with pytest.raises(TypeError, match=r"method='fft'\) needs float32 or float64.*x.float\(\)"):
        conv2d(x, w, method="fft")


def test_fft_method_spreads_one_nan_to_every_output_as_documented():
    x = torch.zeros(1, 1, 64, 64)
    x[0, 0, 10, 10] = float("nan")
    w = torch.ones(1, 1, 3, 3)
    assert int(F.conv2d(x, w).isnan().sum()) == 9  # torch: only where the kernel touches the NaN
    assert int(conv2d(x, w, method="im2col").isnan().sum()) == 9
    assert bool(conv2d(x, w, method="fft").isnan().all())  # FFT: all 62 × 62 outputs


def test_fft_method_rounding_error_is_relative_to_the_largest_pixel_as_documented():
    x = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    x[0, 0, 0, 0] = 1e30
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    exact = F.conv2d(x, w)
    far = (slice(None), slice(None), slice(10, None), slice(10, None))  # outputs that never see the big pixel
    assert bool((exact[far] == 0).all()) and bool((conv2d(x, w, method="im2col")[far] == 0).all())
    error = conv2d(x, w, method="fft")[far].abs().max().item()
    assert 1e30 * 1e-18 < error < 1e30 * 1e-12  # ~ machine epsilon x the largest value, not 0


@pytest.mark.parametrize("dtype,match", [(torch.int64, r"floating-point grad_out.*grad_out.float\(\)"),
                                         (torch.float64, r"grad_out is torch.float64 but x is torch.float32")])
def test_conv2d_backward_rejects_a_grad_out_of_the_wrong_dtype(dtype, match):
    x, w = torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3)
    with pytest.raises(TypeError, match=match):
        conv2d_backward(torch.zeros(1, 1, 3, 3, dtype=dtype), x, w)


def test_im2col_is_a_view_not_a_copy():
    x = torch.arange(2 * 7 * 8, dtype=torch.float32).reshape(1, 2, 7, 8)
    patches = im2col(x, 3, stride=2)
    assert patches.data_ptr() == x.data_ptr()  # shares memory with the input
    x[0, 0, 0, 0] = -1.0
    assert patches[0, 0, 0, 0, 0, 0] == -1.0


@pytest.mark.parametrize("block_bytes", [1, 10_000, 1 << 30])  # one image per block, a few, all at once
def test_im2col_blocks_of_images_give_the_same_result_and_keep_autograd(block_bytes, monkeypatch):
    from cnnbook import conv as conv_module

    monkeypatch.setattr(conv_module, "PATCH_BLOCK_BYTES", block_bytes)
    x, weight, bias, conf = _random_case(CASES[2], torch.float64)
    x = torch.cat([x] * 3)  # 6 images
    assert torch.allclose(conv2d(x, weight, bias, **conf), F.conv2d(x, weight, bias, **conf), atol=1e-10)
    w = weight.clone().requires_grad_()
    conv2d(x, w, bias, **conf).square().sum().backward()
    w_ref = weight.clone().requires_grad_()
    F.conv2d(x, w_ref, bias, **conf).square().sum().backward()
    assert torch.allclose(w.grad, w_ref.grad, atol=1e-8)


def _torch_pool_size(n, k, s, p, d, ceil):
    """The output width torch's max pooling gives, or None where torch refuses."""
    try:
        return F.max_pool2d(torch.zeros(1, 1, 1, n), (1, k), (1, s), (0, p), (1, d), ceil_mode=ceil).shape[-1]
    except RuntimeError:
        return None


def test_output_size_agrees_with_torch_pooling_on_every_small_case():
    # torch's pooling needs padding <= kernel/2; within that, every case: sizes, kernels, strides, dilations
    checked = 0
    for n in range(1, 9):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        for ceil in (False, True):
                            expected = _torch_pool_size(n, k, s, p, d, ceil)
                            if expected is None:
                                with pytest.raises(ValueError, match="spans"):
                                    output_size(n, k, s, p, d, ceil_mode=ceil)
                            else:
                                assert output_size(n, k, s, p, d, ceil_mode=ceil) == expected, (n, k, s, p, d, ceil)
                                checked += 1
    assert checked > 500
    assert output_size(1, 2, 2, ceil_mode=True) == 1  # was a ValueError where torch gives 1


def test_output_size_agrees_with_torch_convolution():
    for n, k, s, p, d in [(5, 3, 1, 0, 1), (5, 3, 2, 1, 1), (7, 3, 3, 2, 2), (4, 4, 1, 0, 1), (9, 2, 4, 3, 3)]:
        y = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert output_size(n, k, s, p, d) == y.shape[-1]
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        output_size(5, 3, ceil_mode=1)


@pytest.mark.slow
def test_im2col_costs_at_most_two_and_a_half_times_torch_on_one_thread(one_thread):
    """A timing, so marked slow and run alone (.ci/run: pytest -m slow): the CPU time of conv2d(method="im2col")
    over F.conv2d's, on one thread, as the median of interleaved runs (interleaving shares any slowdown of the
    machine between the two; CPU time, not wall time, ignores waiting for the cores)."""
    import statistics
    import time

    x = torch.randn(16, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    w = torch.randn(32, 16, 3, 3, generator=torch.Generator().manual_seed(1))

    def cpu_time(f, repeats=5):
        start = time.process_time()
        for _ in range(repeats):
            f()
        return time.process_time() - start

    ours, theirs = lambda: conv2d(x, w, padding=1, method="im2col"), lambda: F.conv2d(x, w, padding=1)
    ours(), theirs()                                            # warm up
    ratios = []
    for _ in range(7):
        a, b = cpu_time(ours), cpu_time(theirs)
        ratios.append(a / max(b, 1e-9))
    print(f"im2col / F.conv2d CPU time, median of 7: {statistics.median(ratios):.2f}")
    assert statistics.median(ratios) <= 2.5, ratios


def test_the_kernel_bank_is_one_source_and_every_method_convolves_with_it_like_torch():
    from cnnbook.conv import METHODS, classic_kernels, kernel_bank

    bank = kernel_bank()
    for name, kernel in classic_kernels().items():
        assert torch.equal(kernel, bank[name]) and kernel.shape == (3, 3) and kernel.dtype == torch.float32
    assert bank["box blur"].sum().item() == pytest.approx(1.0) and bank["sharpen"].sum().item() == 1.0
    bank["identity"][1, 1] = 7.0                                # a fresh copy each call
    assert kernel_bank()["identity"][1, 1] == 1.0
    x = torch.rand(1, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    w = torch.stack(list(classic_kernels().values()))[:, None]
    for method in METHODS:
        torch.testing.assert_close(conv2d(x, w, padding=1, method=method), F.conv2d(x, w, padding=1),
                                   atol=1e-5, rtol=1e-5)
    assert torch.allclose(conv2d(x, classic_kernels()["identity"][None, None], padding=1), x)
