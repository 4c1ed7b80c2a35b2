"""Weight initialisation: how large the random initial weights must be for signals to keep their size.

Used by chapter 7a. A convolution or linear layer sums `fan_in` products w·x, so at initialisation

    Var[y] = fan_in · Var[w] · E[x²]          (independent, zero-mean weights)

and after a ReLU E[x²] = Var[y_prev] / 2. Keeping Var[y] equal from layer to layer fixes Var[w]:

    scheme     Var[w]                      torch.nn.init equivalent
    "small"    0.01²  (a fixed std)        normal_(std=0.01)
    "xavier"   2 / (fan_in + fan_out)      xavier_normal_        (Glorot and Bengio 2010, no ReLU factor)
    "he"       2 / fan_in                  kaiming_normal_(nonlinearity="relu")   (He et al. 2015)
    "pytorch"  1 / (3 · fan_in)            kaiming_uniform_(a=√5): PyTorch's default for Conv2d and Linear

`init_std` gives the standard deviation, `init_weights` applies a scheme to every Conv2d and Linear of a
model (biases to zero, so that only the weights set the scale), and `signal_stds` measures the standard
deviation of every convolution's output at initialisation, the forward half of the argument
(`cnnbook.anatomy.conv_gradient_norms` is the backward half).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn

from . import _validate
from .randomness import seeded

SCHEMES = ("small", "xavier", "he", "pytorch")
SMALL_STD = 0.01


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (C_in·k_h·k_w, C_out·k_h·k_w) for a Conv2d (C_out, C_in, k_h, k_w),
    (in, out) for a Linear (out, in) — the numbers of inputs each output sums, and of outputs each input feeds."""
    _validate.tensor(weight, "weight", "fans", "(out, in) or (C_out, C_in, k_h, k_w)", floating=True)
    if weight.dim() < 2:
        raise ValueError(f"fans: a weight needs at least 2 dimensions (out, in, ...), got shape "
                         f"{tuple(weight.shape)}; biases have no fan-in.")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def init_std(scheme: str, fan_in: int, fan_out: int | None = None) -> float:
    """Standard deviation of the initial weights under `scheme` (see the module's table).

    "xavier" needs fan_out too; the others use fan_in only ("small" uses neither).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init_std: unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}.")
    fan_in = _validate.positive_int(fan_in, "fan_in", "inputs summed by one output, e.g. C_in·k·k",
                                    who="init_std")
    if scheme == "small":
        return SMALL_STD
    if scheme == "he":
        return math.sqrt(2 / fan_in)
    if scheme == "pytorch":
        return math.sqrt(1 / (3 * fan_in))
    if fan_out is None:
        raise ValueError("init_std: the 'xavier' scheme averages fan_in and fan_out; pass fan_out too "
                         "(C_out·k·k for a convolution).")
    fan_out = _validate.positive_int(fan_out, "fan_out", "outputs fed by one input, e.g. C_out·k·k",
                                     who="init_std")
    return math.sqrt(2 / (fan_in + fan_out))


def init_weights(model: nn.Module, scheme: str, seed: int) -> nn.Module:
    """Re-draw every Conv2d and Linear weight of `model` in place under `scheme`; set their biases to 0.

    Normal distributions for "small", "xavier" and "he"; PyTorch's own uniform one, U(-b, b) with
    b = 1/√fan_in, for "pytorch" (same variance 1/(3 fan_in) as the table). BatchNorm layers are left
    as they are (weight 1, bias 0). Draws inside `seeded(seed)`: the caller's random state is untouched.
    Returns the model, for chaining.
    """
    _validate.module(model, "model", "init_weights")
    if scheme not in SCHEMES:
        raise ValueError(f"init_weights: unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}.")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="the draw's seed, e.g. book_seed(0)",
                             who="init_weights")
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError("init_weights found no nn.Conv2d or nn.Linear in the model: nothing to initialise.")
    with seeded(seed), torch.no_grad():
        for layer in layers:
            fan_in, fan_out = fans(layer.weight)
            std = init_std(scheme, fan_in, fan_out)
            if scheme == "pytorch":
                bound = math.sqrt(3) * std                     # U(-b, b) has variance b²/3
                layer.weight.uniform_(-bound, bound)
            else:
                layer.weight.normal_(0.0, std)
            if layer.bias is not None:
                layer.bias.zero_()
    return model


def signal_stds(model: nn.Module, images: torch.Tensor) -> list[float]:
    """Standard deviation of every Conv2d's output (input side first) for one forward pass of `images`.

    images: (N, C, H, W). Runs in train mode (BatchNorm normalises with the batch's statistics, as in the
    first training step) on a copy of the model, under `torch.no_grad()`: the model itself (mode, BatchNorm
    running statistics) is not changed. The standard deviations are computed in float64, so signals that
    shrank to 1e-30 are still measured.
    """
    _validate.module(model, "model", "signal_stds")
    _validate.tensor(images, "images", "signal_stds", "(N, C, H, W); for one image use images[None]",
                     dims=4, floating=True)
    twin = copy.deepcopy(model).train()
    convs = [m for m in twin.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("signal_stds found no nn.Conv2d in the model: it reports one value per convolution.")
    stds: dict[nn.Module, float] = {}
    for conv in convs:
        conv.register_forward_hook(lambda m, inp, out: stds.__setitem__(m, out.double().std().item()))
    with torch.no_grad():
        twin(images.to(next(twin.parameters()).device))
    return [stds[conv] for conv in convs]
