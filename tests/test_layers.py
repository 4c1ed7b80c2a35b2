"""cnnbook.layers against torch.nn.functional, and the error messages readers will meet."""

import pytest
import torch
import torch.nn.functional as F

from cnnbook.layers import (avg_pool2d, avg_pool2d_backward, dropout, dropout_backward, dropout_mask, linear,
                            max_pool2d, max_pool2d_backward, relu, relu_backward)

# (shape, kernel, stride, padding): square/non-square, default stride, overlapping windows, padding
POOL_CASES = [
    ((1, 1, 4, 4), 2, None, 0),
    ((2, 3, 7, 9), 3, 2, 1),
    ((2, 2, 8, 6), (2, 3), (1, 2), (1, 0)),
    ((3, 1, 28, 28), 2, 2, 0),
    ((1, 4, 5, 5), 3, 1, 1),
]


@pytest.mark.parametrize("shape,k,s,p", POOL_CASES)
def test_max_pool2d_matches_torch_with_stride_and_padding(shape, k, s, p):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(max_pool2d(x, k, s, p), F.max_pool2d(x, k, s, p))


@pytest.mark.parametrize("shape,k,s,p", POOL_CASES)
def test_avg_pool2d_matches_torch_with_stride_and_padding(shape, k, s, p):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = F.avg_pool2d(x, k, s, p)
    got = avg_pool2d(x, k, s, p)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-12)


def test_max_pool_of_all_negative_input_ignores_padding():
    x = -torch.ones(1, 1, 3, 3) - torch.arange(9.0).reshape(1, 1, 3, 3)
    assert (max_pool2d(x, 3, 1, 1) < 0).all()  # a zero pad would have won every window
    assert torch.equal(max_pool2d(x, 3, 1, 1), F.max_pool2d(x, 3, 1, 1))


def test_relu_matches_torch_and_keeps_gradient_of_positive_part():
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64, requires_grad=True)
    y = relu(x)
    assert torch.equal(y, F.relu(x))
    y.sum().backward()
    assert torch.equal(x.grad, (x > 0).double())


def test_relu_keeps_nan_like_torch():
    x = torch.tensor([float("nan"), -1.0, 0.0, 2.0, float("inf"), -float("inf")])
    assert torch.equal(relu(x).isnan(), F.relu(x).isnan())
    assert torch.equal(relu(x).nan_to_num(), F.relu(x).nan_to_num())


# ----------------------------------------------------------------------------- backward pairs vs autograd
def _autograd_input_grad(forward, x, seed):
    """dL/dx by autograd for L = sum(forward(x) * g) with a random upstream gradient g; returns (g, dL/dx)."""
    x = x.clone().requires_grad_()
    y = forward(x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    y.backward(g)
    return g, x.grad


@pytest.mark.parametrize("pool,backward", [(F.max_pool2d, max_pool2d_backward), (F.avg_pool2d, avg_pool2d_backward)],
                         ids=["max", "avg"])
@pytest.mark.parametrize("shape,k,s,p", POOL_CASES)
def test_pool_backward_equals_autograd(shape, k, s, p, pool, backward):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    g, expected = _autograd_input_grad(lambda t: pool(t, k, s, p), x, 11)
    assert torch.allclose(backward(g, x, k, s, p), expected, atol=1e-12)


def test_max_pool2d_backward_gives_ties_to_the_first_maximum_like_torch():
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64)  # every window is one big tie
    g, expected = _autograd_input_grad(lambda t: F.max_pool2d(t, 3, 1), x, 12)
    assert torch.allclose(max_pool2d_backward(g, x, 3, 1), expected, atol=1e-12)


def test_relu_backward_equals_autograd():
    x = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(15), dtype=torch.float64)
    g, expected = _autograd_input_grad(relu, x, 16)
    assert torch.equal(relu_backward(g, x), expected)
    g, torch_expected = _autograd_input_grad(F.relu, x, 16)
    assert torch.equal(relu_backward(g, x), torch_expected)


def test_dropout_backward_equals_autograd_with_the_same_mask():
    x = torch.randn(20, 30, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    g, expected = _autograd_input_grad(lambda t: dropout(t, 0.4, True, torch.Generator().manual_seed(18)), x, 19)
    mask = dropout_mask(x, 0.4, torch.Generator().manual_seed(18))
    assert torch.allclose(dropout_backward(g, mask, 0.4), expected, atol=1e-12)


@pytest.mark.parametrize("call,err,fix", [
    (lambda: max_pool2d_backward(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 4, 4), 2), ValueError, "(1, 1, 2, 2)"),
    (lambda: avg_pool2d_backward(torch.zeros(1, 1, 2, 2, dtype=torch.float64), torch.zeros(1, 1, 4, 4), 2),
     TypeError, "grad_out.to(x.dtype)"),
    (lambda: relu_backward(torch.zeros(3, dtype=torch.int64), torch.zeros(3)), TypeError, "grad_out.float()"),
    (lambda: dropout_backward(torch.zeros(3), torch.ones(3), 0.5), TypeError, "bool tensor from dropout_mask"),
])
def test_backward_functions_check_their_gradient_argument(call, err, fix):
    with pytest.raises(err) as info:
        call()
    assert fix in str(info.value), str(info.value)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(4, 7, generator=g, dtype=torch.float64), torch.randn(3, 7, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64) if bias else None
    assert torch.allclose(linear(x, w, b), F.linear(x, w, b), atol=1e-12)


def test_dropout_is_identity_in_eval_and_scales_the_kept_numbers_in_training():
    x = torch.rand(1000, 50, generator=torch.Generator().manual_seed(4)) + 0.5  # no zeros of its own
    assert dropout(x, 0.3, training=False) is x
    y = dropout(x, 0.3, training=True, generator=torch.Generator().manual_seed(5))
    kept = y != 0
    # cnnbook's dropout keeps exactly the numbers of its mask (same generator seed), each divided by 1 - p
    assert torch.equal(kept, dropout_mask(x, 0.3, torch.Generator().manual_seed(5)))
    assert torch.allclose(y[kept], x[kept] / 0.7)
    # fraction dropped ~ p (50 000 Bernoulli draws: std 0.002)
    assert abs((~kept).float().mean().item() - 0.3) < 0.01


def test_dropout_with_p_zero_is_the_identity_even_in_training():
    x = torch.randn(10)
    assert dropout(x, 0.0, training=True) is x


def test_dropout_keeps_the_expectation_over_many_masks():
    x = torch.linspace(0.1, 2.0, 20)
    g = torch.Generator().manual_seed(6)
    mean = torch.stack([dropout(x, 0.5, True, g) for _ in range(20000)]).mean(0)
    assert torch.allclose(mean, x, rtol=0.05)  # std of the mean: x / sqrt(20000) ≈ 0.7 % of x


def test_dropout_with_same_generator_seed_is_reproducible():
    x = torch.ones(100)
    a = dropout(x, 0.5, True, torch.Generator().manual_seed(7))
    b = dropout(x, 0.5, True, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call,err,fix", [
    (lambda: max_pool2d(torch.zeros(3, 4, 4), 2), ValueError, "unsqueeze(0)"),
    (lambda: max_pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.int64), 2), TypeError, ".float()"),
    (lambda: max_pool2d([[1.0]], 2), TypeError, "torch.tensor"),
    (lambda: avg_pool2d(torch.zeros(1, 1, 4, 4), 0), ValueError, ">= 1"),
    (lambda: avg_pool2d(torch.zeros(1, 1, 4, 4), 2, padding=2), ValueError, "half the kernel"),
    (lambda: max_pool2d(torch.zeros(1, 1, 2, 2), 3), ValueError, "smaller kernel"),
    (lambda: max_pool2d(torch.zeros(1, 1, 4, 4), 2.5), TypeError, "int or a pair"),
    (lambda: max_pool2d(torch.zeros(1, 1, 4, 4), 2, stride=1.5), TypeError, "stride must be an int or a pair"),
    (lambda: avg_pool2d(torch.zeros(1, 1, 4, 4), (2, 2, 2)), ValueError, "got 3 numbers"),
    (lambda: relu(torch.tensor([1, -1])), TypeError, ".float()"),
    (lambda: linear(torch.zeros(2, 1, 3, 3), torch.zeros(4, 9)), ValueError, "flatten(1)"),
    (lambda: linear(torch.zeros(2, 9), torch.zeros(4, 8)), ValueError, "(out_features, 9)"),
    (lambda: linear(torch.zeros(2, 9), torch.zeros(4, 9), torch.zeros(3)), ValueError, "one number per output"),
    (lambda: dropout(torch.zeros(3), 1.0), ValueError, "[0.0, 1.0)"),
    (lambda: dropout(torch.zeros(3), -0.1), ValueError, "[0.0, 1.0)"),
    (lambda: dropout(torch.zeros(3), 0.5, training=1), TypeError, "model.training"),
])
def test_bad_arguments_raise_errors_that_name_the_fix(call, err, fix):
    with pytest.raises(err, match=None) as info:
        call()
    assert fix in str(info.value), str(info.value)


def test_summary_of_a_layer_without_parameters_is_a_table_not_a_stopiteration():
    import torch.nn as nn

    from cnnbook.anatomy import summary

    s = summary(nn.ReLU(), (1, 4, 4))
    assert s.total_params == 0 and s.total_macs == 0
    assert s.rows == [{"layer": "(the model itself)", "type": "ReLU", "output": (1, 4, 4), "params": 0, "macs": 0}]
    assert summary(nn.MaxPool2d(2), (3, 8, 8)).rows[0]["output"] == (3, 4, 4)


def test_dropout_with_p_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match="p must be a number"):
        dropout(torch.ones(3), p="0.5")
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\)"):
        dropout(torch.ones(3), p=1.0)
