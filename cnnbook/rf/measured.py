"""Receptive fields measured with gradients (chapter 5): the empirical field and the effective field.

`empirical_receptive_field` finds the input pixels that can influence one output unit, by backpropagating
through a copy of the network with every weight positive (`positive_twin`), so it checks the exact
calculator of `cnnbook.rf.calculator`; `effective_receptive_field` measures how strongly each pixel actually
influences the unit in the real network (Luo et al. 2016): a Gaussian-like bump much smaller than the field.
"""

from __future__ import annotations

import copy
import operator
import warnings
from dataclasses import dataclass

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from .. import _validate
from ..randomness import seeded
from .calculator import (_IMAGE, ELEMENTWISE_FUNCTIONS, ELEMENTWISE_METHODS, ELEMENTWISE_MODULES, ReceptiveFieldWarning,
                         _check_model, _geometry, _propagate, _trace, receptive_field)


class _PositiveWindow(nn.Module):
    """A Conv2d/pooling window with every weight 1/(k_h·k_w), applied to the sum over channels: x (N,C,H,W) -> (N,1,H',W').

    All weights positive and no nonlinearity, so no contribution can cancel another: the gradient of an
    output unit is non-zero exactly on the input pixels that some path connects to it.
    """

    def __init__(self, k, s, pad, d, padding_mode="zeros", out_shape=None):
        super().__init__()
        self.k, self.s, self.pad, self.d, self.mode, self.out_shape = k, s, pad, d, padding_mode, out_shape

    def forward(self, x):
        x = x.sum(1, keepdim=True)
        (top, bottom), (left, right) = self.pad
        x = F.pad(x, (left, right, top, bottom), mode="constant" if self.mode == "zeros" else self.mode)
        weight = torch.full((1, 1, *self.k), 1.0 / (self.k[0] * self.k[1]), dtype=x.dtype, device=x.device)
        if self.out_shape is not None:   # ceil_mode: extra zero rows/columns at the end so the last window fits
            need = [(self.out_shape[a] - 1) * self.s[a] + self.d[a] * (self.k[a] - 1) + 1 - x.shape[2 + a]
                    for a in (0, 1)]
            x = F.pad(x, (0, max(need[1], 0), 0, max(need[0], 0)))
        return F.conv2d(x, weight, stride=self.s, dilation=self.d)


def _identity(x, *args, **kwargs):
    return x


def positive_twin(model: nn.Module, input_size) -> torch.fx.GraphModule:
    """A float64 copy of `model`'s graph in which no input pixel can be hidden from an output unit.

    Every Conv2d/MaxPool2d/AvgPool2d becomes a window of positive weights 1/(k_h·k_w) on the channel sum
    (same kernel, stride, padding, dilation, padding mode), element-wise layers (activations, BatchNorm,
    Dropout) become identities; subtractions become additions (so that branches cannot cancel);
    additions, concatenations, slicing and padding are kept. Feed it ones.
    """
    _check_model(model)
    input_size = _validate.pair(input_size, "input_size", 0, "positive_twin", _IMAGE)
    gm = _trace(model)
    with warnings.catch_warnings():                 # receptive_field already warns about misaligned branches
        warnings.simplefilter("ignore", ReceptiveFieldWarning)
        _, rows, _ = _propagate(gm, input_size)     # validates: raises on unsupported layers
    shapes = {r["name"]: r["output"] for r in rows}
    gm = copy.deepcopy(gm)
    modules = dict(gm.named_modules())
    for node in gm.graph.nodes:
        if node.op == "call_module":
            m = modules[node.target]
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                k, s, pad, d, ceil = _geometry(m, None)
                twin = _PositiveWindow(k, s, pad, d, getattr(m, "padding_mode", "zeros"),
                                       shapes[node.target] if ceil else None)
            elif isinstance(m, ELEMENTWISE_MODULES + (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                twin = nn.Identity()
            else:
                continue                                 # padding layers keep their geometry
            parent, _, attr = node.target.rpartition(".")
            setattr(gm.get_submodule(parent) if parent else gm, attr, twin)
        elif node.op == "call_function" and node.target in ELEMENTWISE_FUNCTIONS:
            node.target = _identity
        elif node.op == "call_method" and node.target in ELEMENTWISE_METHODS:
            node.op, node.target = "call_function", _identity
        elif node.op == "call_function" and node.target in (operator.sub, torch.sub):
            node.target = operator.add              # x - conv(x): the branches would cancel on ones
        elif node.op == "call_method" and node.target == "sub":
            node.target = "add"
    gm.recompile()
    return gm.double().eval()


class EmpiricalField:
    """What `empirical_receptive_field` returns; unpacks as `size, mask = ...`.

    size: (h, w) extent (bounding box) of the pixels whose gradient is non-zero; mask: (H, W) bool tensor;
    unit: (row, col) of the output unit; box: (top, left, bottom, right) inclusive; gradient: (H, W) float64;
    clipped: True when the box touches the image border (padding has cut the field, so size can be smaller
    than the theoretical one).
    """

    def __init__(self, mask, gradient, unit):
        self.mask, self.gradient, self.unit = mask, gradient, unit
        rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
        self.box = (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
        self.size = (self.box[2] - self.box[0] + 1, self.box[3] - self.box[1] + 1)
        h, w = mask.shape
        self.clipped = self.box[0] == 0 or self.box[1] == 0 or self.box[2] == h - 1 or self.box[3] == w - 1

    def __iter__(self):
        return iter((self.size, self.mask))

    def __repr__(self) -> str:
        return (f"EmpiricalField(size={self.size}, unit={self.unit}, box={self.box}, clipped={self.clipped}, "
                f"{int(self.mask.sum())} pixels)")


def empirical_receptive_field(model: nn.Module, input_size, unit=None) -> EmpiricalField:
    """Support of ∂y_unit/∂x: the input pixels that can influence one output unit, measured by autograd.

    Runs `positive_twin(model)` on x = ones (1, 1, H, W) in float64, back-propagates from output unit
    `unit` = (row, col) (default: the centre unit, (H_out // 2, W_out // 2)) summed over channels, and returns
    the non-zero pixels. Near the border padding clips the field; pick an input large enough for the unit's
    field to lie inside it (then `size` equals `receptive_field(model, input_size).size` exactly).
    """
    twin = positive_twin(model, input_size)
    input_size = _validate.pair(input_size, "input_size", 0, "empirical_receptive_field", _IMAGE)
    x = torch.ones(1, 1, *input_size, dtype=torch.float64, requires_grad=True)
    y = twin(x)
    h_out, w_out = y.shape[-2:]
    unit = (h_out // 2, w_out // 2) if unit is None else _validate.pair(unit, "unit", 0,
                                                                         "empirical_receptive_field")
    if not (0 <= unit[0] < h_out and 0 <= unit[1] < w_out):
        raise ValueError(f"unit {unit} is outside the output map {h_out}×{w_out}; rows and columns start at 0.")
    y[0, :, unit[0], unit[1]].sum().backward()
    gradient = x.grad[0, 0]
    if not (gradient > 0).any():
        raise ValueError(f"empirical_receptive_field: no input pixel reaches unit {unit} (the output does not "
                         f"depend on the input there); pick another unit or check the model.")
    return EmpiricalField(gradient > 0, gradient, unit)


# ---------------------------------------------------------------------------- effective receptive field
@dataclass
class EffectiveField:
    """What `effective_receptive_field` returns.

    map: (H, W) float64, mean |∂y_centre/∂x| normalised to sum 1; std: (h, w) standard deviation of its row and
    column marginals, in pixels; theoretical: (h, w) size from `receptive_field`; unit: the output unit used.
    """
    map: torch.Tensor
    std: tuple
    theoretical: tuple
    unit: tuple

    def extent(self, mass: float = 0.95) -> tuple:
        """(h, w): width of the smallest window around the marginal's peak holding `mass` of it, per axis."""
        if not 0 < mass <= 1:
            raise ValueError(f"mass is a fraction in (0, 1], got {mass!r}.")
        out = []
        for marginal in (self.map.sum(1), self.map.sum(0)):
            centre, best = int(marginal.argmax()), None
            for half in range(len(marginal)):
                lo, hi = max(centre - half, 0), min(centre + half + 1, len(marginal))
                if marginal[lo:hi].sum() >= mass - 1e-12:
                    best = hi - lo
                    break
            out.append(best)
        return tuple(out)

    def fraction(self, mass: float = 0.95) -> tuple:
        """extent(mass) / theoretical size, per axis: how much of the theoretical field does the work."""
        return tuple(e / t for e, t in zip(self.extent(mass), self.theoretical))


def _first_in_channels(model: nn.Module):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return None


def effective_receptive_field(model: nn.Module, input_size, n_inits: int = 4, n_inputs: int = 8,
                              init: str = "random", seed: int = 0, in_channels: int | None = None) -> EffectiveField:
    """Effective receptive field after Luo et al. (2016): mean |∂y/∂x| of the centre output unit.

    For each of n_inits initialisations (init="random": every submodule's reset_parameters under seed+i;
    init="uniform": every Conv2d weight = 1/(C_in·k_h·k_w), biases 0, deterministic) the model, in eval mode
    on a deep copy, gets n_inputs inputs x ~ N(0, 1) of shape (in_channels, H, W); the gradient of the centre unit
    (summed over channels) is taken for each input, |·| summed over input channels, averaged, normalised to sum 1.
    Runs on the model's device and in its dtype (the inputs are drawn on the CPU, then moved); the map is
    a float64 CPU tensor.
    """
    _check_model(model)
    input_size = _validate.pair(input_size, "input_size", 0, "effective_receptive_field", _IMAGE)
    _validate.choice(init, "init", ("random", "uniform"), who="effective_receptive_field")
    n_inits = _validate.positive_int(n_inits, "n_inits", "initialisations to average, e.g. 4", "effective_receptive_field")
    n_inputs = _validate.positive_int(n_inputs, "n_inputs", "random inputs per initialisation, e.g. 8",
                                      "effective_receptive_field")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="e.g. seed=0", who="effective_receptive_field")
    if in_channels is not None:
        in_channels = _validate.positive_int(in_channels, "in_channels", "channels of the input",
                                             "effective_receptive_field")
    theory = receptive_field(model, input_size)
    in_channels = in_channels or _first_in_channels(model)
    if in_channels is None:
        raise ValueError("the model has no Conv2d to read the number of input channels from; pass in_channels.")
    net = copy.deepcopy(model).eval()
    first = next(net.parameters(), None)
    device, dtype = (first.device, first.dtype) if first is not None else (torch.device("cpu"), torch.float32)
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros(input_size, dtype=torch.float64)
    unit = (theory.output_shape[0] // 2, theory.output_shape[1] // 2)
    for i in range(n_inits):
        with torch.no_grad():
            if init == "random":
                with seeded(seed + i):                   # the caller's random streams are untouched
                    for m in net.modules():
                        if hasattr(m, "reset_parameters") and m is not net:
                            m.reset_parameters()
            else:
                for m in net.modules():
                    if isinstance(m, nn.Conv2d):
                        m.weight.fill_(1.0 / m.weight[0].numel())
                        if m.bias is not None:
                            m.bias.zero_()
        x = torch.randn(n_inputs, in_channels, *input_size, generator=generator).to(device, dtype)
        x.requires_grad_(True)
        y = net(x)
        y[:, :, unit[0], unit[1]].sum().backward()
        total += x.grad.abs().sum(1).mean(0).double().cpu()
    if not total.sum() > 0:
        raise ValueError("the centre unit's gradient is zero for every input and initialisation (dead ReLUs?); "
                         "use more channels, more n_inits, or init='uniform'.")
    erf = total / total.sum()
    std = []
    for marginal in (erf.sum(1), erf.sum(0)):
        pos = torch.arange(len(marginal), dtype=torch.float64)
        mean = (marginal * pos).sum()
        std.append(float(((pos - mean) ** 2 * marginal).sum().sqrt()))
    return EffectiveField(erf, tuple(std), theory.size, unit)
