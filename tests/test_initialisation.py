"""Chapter 7a: initialisation schemes checked against torch.nn.init's documented formulas and draws."""

import math

import pytest
import torch
import torch.nn as nn

from cnnbook.initialisation import SCHEMES, fans, init_std, init_weights, signal_stds
from cnnbook.models import ResNet


def test_fans_match_torch_for_conv_and_linear():
    for weight in (torch.empty(16, 8, 3, 3), torch.empty(10, 32), torch.empty(4, 2, 5, 1)):
        assert fans(weight) == nn.init._calculate_fan_in_and_fan_out(weight)


def test_he_std_is_torch_relu_gain_over_sqrt_fan_in():
    for fan_in in (9, 72, 576):
        assert math.isclose(init_std("he", fan_in), nn.init.calculate_gain("relu") / math.sqrt(fan_in))


def test_xavier_std_is_torch_formula_with_linear_gain():
    for fan_in, fan_out in ((72, 72), (72, 144), (400, 120)):
        expected = nn.init.calculate_gain("linear") * math.sqrt(2.0 / (fan_in + fan_out))
        assert math.isclose(init_std("xavier", fan_in, fan_out), expected)


def test_pytorch_default_std_is_kaiming_uniform_with_a_sqrt5_so_variance_one_third_over_fan_in():
    for fan_in in (9, 72, 576):
        bound = nn.init.calculate_gain("leaky_relu", math.sqrt(5)) * math.sqrt(3.0 / fan_in)  # torch's docs
        assert math.isclose(init_std("pytorch", fan_in), bound / math.sqrt(3))          # U(-b, b): var b²/3
        assert math.isclose(init_std("pytorch", fan_in) ** 2, 1 / (3 * fan_in))


def test_init_weights_draws_exactly_what_torch_nn_init_draws_for_the_same_seed():
    reference = {"he": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
                 "xavier": nn.init.xavier_normal_,
                 "pytorch": lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)),
                 "small": lambda w: nn.init.normal_(w, std=0.01)}
    for scheme, init in reference.items():
        conv = nn.Conv2d(8, 16, 3)
        init_weights(conv, scheme, seed=3)
        expected = torch.empty(16, 8, 3, 3)
        torch.manual_seed(3)
        init(expected)
        assert torch.allclose(conv.weight, expected, atol=1e-7), scheme
        assert (conv.bias == 0).all()


def test_init_weights_empirical_variance_matches_the_formula():
    conv = nn.Conv2d(64, 64, 3)
    fan_in, fan_out = fans(conv.weight)
    for scheme in SCHEMES:
        init_weights(conv, scheme, seed=0)
        ratio = conv.weight.var().item() / init_std(scheme, fan_in, fan_out) ** 2
        assert 0.97 < ratio < 1.03, (scheme, ratio)


def test_init_weights_leaves_the_callers_random_state_and_batchnorm_alone():
    model = ResNet(8, width=4)
    state = torch.get_rng_state()
    init_weights(model, "he", seed=1)
    assert torch.equal(state, torch.get_rng_state())
    assert all((m.weight == 1).all() for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_signal_stds_match_a_direct_computation_and_do_not_touch_the_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3))
    model.eval()
    x = torch.randn(5, 1, 9, 9)
    stds = signal_stds(model, x)
    first = model[0](x)
    assert math.isclose(stds[0], first.double().std().item(), rel_tol=1e-6)
    assert len(stds) == 2 and not model.training
    assert (model[1].running_mean == 0).all()                    # the copy, not the model, saw the batch


def test_he_keeps_relu_signals_at_their_scale_where_xavier_halves_their_variance_per_layer():
    # the variance argument: n·Var[w]/2 = 1 keeps E[y²] constant through conv + ReLU layers (1×1: no padding);
    # Xavier's n·Var[w] = 1 for equal fans loses the ReLU's factor 1/2 at each of the 9 layers: 2^-4.5 in std
    def ratio(scheme):
        layers = []
        for _ in range(10):
            layers += [nn.Conv2d(128, 128, 1), nn.ReLU()]
        model = init_weights(nn.Sequential(*layers), scheme, seed=0)
        stds = signal_stds(model, torch.randn(64, 128, 4, 4, generator=torch.Generator().manual_seed(0)))
        return stds[-1] / stds[1]
    assert 0.4 < ratio("he") < 2.5
    assert 0.5 * 2 ** -4.5 < ratio("xavier") < 2 * 2 ** -4.5


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="choose one of small, xavier, he, pytorch"):
        init_std("kaiming", 9)
    with pytest.raises(ValueError, match="pass fan_out"):
        init_std("xavier", 9)
    with pytest.raises(ValueError, match="choose one of"):
        init_weights(nn.Conv2d(1, 1, 3), "glorot", seed=0)
    with pytest.raises(ValueError, match="no nn.Conv2d or nn.Linear"):
        init_weights(nn.ReLU(), "he", seed=0)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        signal_stds(nn.Linear(3, 3), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="biases have no fan-in"):
        fans(torch.zeros(3))
