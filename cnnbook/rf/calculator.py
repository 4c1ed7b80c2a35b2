"""Receptive fields: how much of the input one output unit can see.

Used by chapter 5. `receptive_field` computes the field exactly from the layers (traced with `torch.fx`);
`empirical_receptive_field` measures it with gradients, so the two can check each other;
`effective_receptive_field` measures how strongly each input pixel actually influences a unit
(Luo et al. 2016), which is a Gaussian-like bump much smaller than the theoretical field.

Conventions, per spatial axis (rows and columns are independent):
- input pixels sit at integer coordinates 0, 1, ..., n-1;
- `jump` j: the distance, in input pixels, between two neighbouring units of a layer (its effective stride);
- `size` r: how many input pixels one unit can see;
- `start`: the input coordinate of the centre of unit 0 (negative or fractional when padding or even kernels
  shift it). Unit u of a layer sees the input pixels start + u·j ± (r-1)/2.
For a layer with kernel k, stride s, padding p and dilation d (effective kernel k' = d(k-1)+1):

    j_out = j_in · s,   r_out = r_in + (k' - 1) · j_in,   start_out = start_in + ((k' - 1)/2 - p) · j_in.
"""

from __future__ import annotations

import html
import operator
import warnings
from dataclasses import dataclass, field

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from .. import _validate
from ..conv import _windows  # the one output-size formula (chapter 1)


class ReceptiveFieldWarning(UserWarning):
    """Branches that are added or concatenated do not see aligned input regions."""


ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink,
    nn.Softmax2d, nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.Identity,
)
PADDING_MODULES = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)
ELEMENTWISE_FUNCTIONS = {torch.relu, F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.mish, torch.sigmoid,
                         F.sigmoid, torch.tanh, F.tanh, F.hardtanh, F.hardswish, F.dropout, F.dropout2d}
ELEMENTWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "float", "double", "detach"}
MERGE_FUNCTIONS = {operator.add, operator.iadd, torch.add, operator.sub, torch.sub, operator.mul, torch.mul}
MERGE_METHODS = {"add", "add_", "mul", "mul_", "sub"}
_IMAGE = "for a 224×224 image pass 224 or (224, 224)"  # the hint for input_size only
SUPPORTED = ("Conv2d; MaxPool2d and AvgPool2d; padding layers (ZeroPad2d, ConstantPad2d, ReflectionPad2d, "
             "ReplicationPad2d, F.pad); element-wise layers (activations, BatchNorm2d, Dropout, Identity); "
             "AdaptiveAvg/MaxPool2d that keep the size; additions/products of branches; torch.cat along channels; "
             "strided slicing x[:, :, ::s, ::s]")


@dataclass
class _Field:
    """Receptive field of every unit of one tensor, per axis (h, w)."""
    size: tuple
    jump: tuple
    start: tuple
    shape: tuple              # spatial size (H, W) of the tensor


@dataclass
class ReceptiveField:
    """What `receptive_field` returns.

    size, jump, start: (h, w) for the model's output (see the module docstring for the meaning).
    output_shape: (H_out, W_out). layers: one dict per traced operation with keys
    name, type, kernel, stride, padding, dilation, jump, size, start, output, aligned.
    misaligned: names of the merges (additions/concatenations) whose branches have different jumps or centres.
    """
    size: tuple
    jump: tuple
    start: tuple
    output_shape: tuple
    input_size: tuple
    layers: list = field(default_factory=list)
    misaligned: list = field(default_factory=list)

    def box(self, unit=None, layer: str | None = None) -> tuple:
        """Input rows/columns seen by one unit: (top, left, bottom, right), inclusive, not clipped to the image.

        unit: (row, col) of the unit in that layer's output (default: its centre unit);
        layer: a row name of `layers` (default: the model's output).
        """
        row = self._row(layer)
        if unit is None:
            unit = (row["output"][0] // 2, row["output"][1] // 2)
        centre = [row["start"][a] + unit[a] * row["jump"][a] for a in (0, 1)]
        half = [(row["size"][a] - 1) / 2 for a in (0, 1)]
        return (centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1])

    def layer(self, name: str | None = None) -> dict:
        """The table row of the layer called `name` (a dict with the keys of `layers`); None: the model's output."""
        return self._row(name)

    def _row(self, layer):
        if layer is None:
            return {"size": self.size, "jump": self.jump, "start": self.start, "output": self.output_shape}
        for row in self.layers:
            if row["name"] == layer:
                return row
        raise ValueError(f"no layer named {layer!r}; pick one of {[r['name'] for r in self.layers]}.")

    _COLUMNS = ("name", "type", "kernel", "stride", "padding", "dilation", "output", "jump", "size", "start")

    @staticmethod
    def _fmt(value) -> str:
        if isinstance(value, tuple):
            parts = [ReceptiveField._fmt(v) for v in value]
            return parts[0] if len(set(parts)) == 1 else "×".join(parts)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def _cells(self):
        rows = [[self._fmt(r[c]) + ("  (misaligned!)" if c == "type" and not r["aligned"] else "")
                 for c in self._COLUMNS] for r in self.layers]
        return list(self._COLUMNS), rows

    def table(self) -> str:
        """The per-layer table as plain text (a single number means h == w)."""
        head, rows = self._cells()
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        out = [f"input {self._fmt(self.input_size)}", line(head), line(["-" * w for w in widths])]
        out += [line(r) for r in rows]
        out.append(f"output: receptive field {self._fmt(self.size)}, jump {self._fmt(self.jump)}, "
                   f"start {self._fmt(self.start)}" + (f"; MISALIGNED branches at {self.misaligned}"
                                                        if self.misaligned else ""))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head, rows = self._cells()
        th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        note = (f"<p>input {self._fmt(self.input_size)} → receptive field <b>{self._fmt(self.size)}</b>, "
                f"jump {self._fmt(self.jump)}, start {self._fmt(self.start)}"
                + (f"; <b>misaligned branches</b> at {html.escape(str(self.misaligned))}" if self.misaligned
                   else "") + "</p>")
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>{note}"


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; wrap a list of layers "
                        f"in nn.Sequential(...).")


def _trace(model: nn.Module) -> torch.fx.GraphModule:
    if type(model).__module__.startswith("torch.nn") and not isinstance(model, nn.Sequential):
        model = nn.Sequential(model)      # a single built-in layer: trace it as a leaf, not through its forward
    try:
        return torch.fx.symbolic_trace(model)
    except Exception as err:    # fx raises many kinds of errors for untraceable code
        raise ValueError(f"torch.fx could not trace {type(model).__name__} ({type(err).__name__}: {err}); "
                         f"receptive_field needs a forward without data-dependent Python control flow.") from err


def step(size: int, jump: int, start: float, span: int, stride: int, pad: int = 0) -> tuple[int, int, float]:
    """The receptive-field recurrence for one layer on one axis (the module docstring's formula): a window
    of `span` = d(k-1)+1 input units, `stride`, `pad` units of padding before the first one ->
    (size, jump, start) of the layer's output from those of its input."""
    return size + (span - 1) * jump, jump * stride, start + ((span - 1) / 2 - pad) * jump


def _conv_like(f: _Field, k, s, p, d, ceil_mode=False) -> _Field:
    """Apply the bottom-up recurrence for one layer, on both axes; p is the padding before the first row/column."""
    size, jump, start, shape = [], [], [], []
    for a in (0, 1):
        keff = d[a] * (k[a] - 1) + 1
        r, j, c = step(f.size[a], f.jump[a], f.start[a], keff, s[a], p[a][0])
        size.append(r)
        jump.append(j)
        start.append(c)
        shape.append(_windows(f.shape[a], keff, s[a], p[a], ceil_mode))  # < 1: too small, reported by the caller
    return _Field(tuple(size), tuple(jump), tuple(start), tuple(shape))


def _sym(p):
    return ((p[0], p[0]), (p[1], p[1]))


def _geometry(module: nn.Module, f: _Field):
    """(kernel, stride, padding as ((top, bottom), (left, right)), dilation, ceil_mode) of a Conv2d or pooling."""
    if isinstance(module, nn.Conv2d):
        k = _validate.pair(tuple(module.kernel_size), "kernel", 0)
        s = _validate.pair(tuple(module.stride), "stride", 0)
        d = _validate.pair(tuple(module.dilation), "dilation", 0)
        if isinstance(module.padding, str):
            if module.padding == "valid":
                pad = ((0, 0), (0, 0))
            else:   # "same": torch pads total d(k-1), the smaller half first
                tot = [d[a] * (k[a] - 1) for a in (0, 1)]
                pad = tuple((t // 2, t - t // 2) for t in tot)
        else:
            pad = _sym(_validate.pair(tuple(module.padding), "padding", 0))
        return k, s, pad, d, False
    k = _validate.pair(module.kernel_size, "kernel", 0)
    s = _validate.pair(module.stride if module.stride is not None else module.kernel_size, "stride", 0)
    pad = _sym(_validate.pair(module.padding, "padding", 0))
    d = _validate.pair(getattr(module, "dilation", 1), "dilation", 0)
    return k, s, pad, d, bool(module.ceil_mode)


def _row(name, kind, f, k="-", s="-", p="-", d="-", aligned=True):
    return {"name": name, "type": kind, "kernel": k, "stride": s, "padding": p, "dilation": d,
            "output": f.shape, "jump": f.jump, "size": f.size, "start": f.start, "aligned": aligned}


def _unsupported(name, what):
    return ValueError(f"receptive_field cannot go through {name!r} ({what}): after it an output unit no longer "
                      f"has a local field of view. Supported: {SUPPORTED}. Pass only the convolutional part "
                      f"of the network (e.g. model.features).")


def _merge(name, kind, fields, rows, misaligned):
    """Union of the branches' fields (aligned if they have the same jumps and centres)."""
    fields = [f for f in fields if f is not None]
    if len(fields) == 1:
        return fields[0]
    shapes = {f.shape for f in fields}
    if len(shapes) > 1 and kind != "cat":
        shapes = {tuple(max(f.shape[a] for f in fields) for a in (0, 1))}   # broadcasting
    size, start = [], []
    aligned = all(f.jump == fields[0].jump and f.start == fields[0].start for f in fields)
    for a in (0, 1):
        lo = min(f.start[a] - (f.size[a] - 1) / 2 for f in fields)
        hi = max(f.start[a] + (f.size[a] - 1) / 2 for f in fields)
        size.append(int(round(hi - lo + 1)))
        start.append((lo + hi) / 2)
    jump = tuple(max(f.jump[a] for f in fields) for a in (0, 1))
    out = _Field(tuple(size), jump, tuple(start), next(iter(shapes)))
    rows.append(_row(name, kind, out, aligned=aligned))
    if not aligned:
        misaligned.append(name)
        detail = "; ".join(f"jump {f.jump}, centre of unit 0 at {f.start}, size {f.size}" for f in fields)
        msg = (f"branches merged at {name!r} do not look at aligned input regions ({detail}). "
               f"The reported field is the union for unit 0")
        msg += (", and it is exact for every unit." if len({f.jump for f in fields}) == 1 else
                "; with different jumps it changes from unit to unit.")
        warnings.warn(msg, ReceptiveFieldWarning, stacklevel=4)
    return out


def _slice_field(f: _Field, index, name, rows):
    """x[..., a:b:s, c:d:t] on an (N, C, H, W) tensor."""
    if not isinstance(index, tuple):
        index = (index,)
    if Ellipsis in index:
        i = index.index(Ellipsis)
        index = index[:i] + (slice(None),) * (4 - len(index) + 1) + index[i + 1:]
    index = index + (slice(None),) * (4 - len(index))
    if len(index) != 4 or not all(isinstance(x, slice) for x in index):
        raise _unsupported(name, f"indexing with {index!r}")
    size, jump, start, shape = list(f.size), [], [], []
    for a, sl in enumerate(index[2:]):
        lo, hi, step = sl.indices(f.shape[a])
        jump.append(f.jump[a] * step)
        start.append(f.start[a] + lo * f.jump[a])
        shape.append(len(range(lo, hi, step)))
    out = _Field(tuple(size), tuple(jump), tuple(start), tuple(shape))
    rows.append(_row(name, "slice", out, s=tuple(sl.step or 1 for sl in index[2:])))
    return out


def _pad_field(f: _Field, pad, name, kind, rows):
    """Padding (left, right, top, bottom) shifts unit 0 and grows the map; the field itself is unchanged."""
    left, right, top, bottom = (list(pad) + [0, 0, 0, 0])[:4]
    start = (f.start[0] - top * f.jump[0], f.start[1] - left * f.jump[1])
    out = _Field(f.size, f.jump, start, (f.shape[0] + top + bottom, f.shape[1] + left + right))
    rows.append(_row(name, kind, out, p=((top, bottom), (left, right))))
    return out


def _propagate(gm: torch.fx.GraphModule, input_size: tuple):
    """Walk the traced graph once: a _Field per node (None for non-spatial constants), rows for the table."""
    modules = dict(gm.named_modules())
    fields, rows, misaligned = {}, [], []
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"receptive_field needs a model with exactly one input tensor, "
                         f"this one takes {len(placeholders)}.")
    out_field = None
    for node in gm.graph.nodes:
        name = node.name
        if node.op == "placeholder":
            fields[node] = _Field((1, 1), (1, 1), (0.0, 0.0), input_size)
            continue
        if node.op == "get_attr":
            fields[node] = None
            continue
        if node.op == "output":
            arg = node.args[0]
            if not isinstance(arg, torch.fx.Node):
                raise ValueError("receptive_field needs a model that returns one tensor, not a tuple or dict.")
            out_field = fields[arg]
            break
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        tensor_args = [fields[a] for a in args]
        if node.op == "call_module":
            m = modules[node.target]
            f = fields[node.args[0]]
            name = node.target
            if f is None:
                raise _unsupported(name, type(m).__name__ + " on a non-spatial tensor")
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                k, s, p, d, ceil = _geometry(m, f)
                new = _conv_like(f, k, s, p, d, ceil)
                pad = p[0][0] if p[0] == p[1] and p[0][0] == p[0][1] else p
                rows.append(_row(name, type(m).__name__, new, k, s, pad, d))
            elif isinstance(m, ELEMENTWISE_MODULES):
                new = f
                rows.append(_row(name, type(m).__name__, new))
            elif isinstance(m, PADDING_MODULES):
                new = _pad_field(f, m.padding, name, type(m).__name__, rows)
            elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                target = tuple(o if o is not None else f.shape[a] for a, o in
                               enumerate(_validate.pair(m.output_size, "output_size", 0)
                                         if not isinstance(m.output_size, tuple)
                                         else m.output_size))
                if target != tuple(f.shape):
                    raise _unsupported(name, f"{type(m).__name__} from {f.shape} to {target}; only an adaptive "
                                             f"pool that keeps the size is an identity")
                new = f
                rows.append(_row(name, type(m).__name__, new))
            else:
                raise _unsupported(name, type(m).__name__)
        elif node.op == "call_function":
            fn = node.target
            if fn in ELEMENTWISE_FUNCTIONS:
                new = tensor_args[0]
                rows.append(_row(name, getattr(fn, "__name__", str(fn)), new))
            elif fn in MERGE_FUNCTIONS:
                new = _merge(name, "add" if fn not in (operator.mul, torch.mul) else "mul", tensor_args, rows,
                             misaligned)
            elif fn is torch.cat:
                dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
                if dim not in (1, -3):
                    raise _unsupported(name, f"torch.cat along dim {dim}; only channel concatenation (dim=1)")
                new = _merge(name, "cat", [fields[a] for a in node.args[0]], rows, misaligned)
            elif fn is operator.getitem and tensor_args and tensor_args[0] is not None:
                new = _slice_field(tensor_args[0], node.args[1], name, rows)
            elif fn is F.pad:
                pad = node.args[1] if len(node.args) > 1 else node.kwargs["pad"]
                new = _pad_field(tensor_args[0], pad, name, "pad", rows)
            else:
                raise _unsupported(name, f"function {getattr(fn, '__name__', fn)}")
        elif node.op == "call_method":
            if node.target in ELEMENTWISE_METHODS:
                new = tensor_args[0]
                rows.append(_row(name, node.target, new))
            elif node.target in MERGE_METHODS:
                new = _merge(name, node.target, tensor_args, rows, misaligned)
            else:
                raise _unsupported(name, f"method .{node.target}()")
        else:   # pragma: no cover - fx has no other node kinds
            raise _unsupported(name, node.op)
        if new is not None and min(new.shape) < 1:
            raise ValueError(f"the input {input_size} is too small: after {name!r} the feature map is "
                             f"{new.shape}; use a larger input_size.")
        fields[node] = new
    if out_field is None:
        raise ValueError("the model's output does not depend on its input.")
    return out_field, rows, misaligned


def receptive_field(model: nn.Module, input_size) -> ReceptiveField:
    """Exact theoretical receptive field of the model's output units, for an input of size input_size = (H, W).

    Traces `model` with torch.fx and applies, per layer and per axis, with k' = d(k-1)+1:
    r_l = r_{l-1} + (k'_l - 1)·j_{l-1},  j_l = j_{l-1}·s_l,  start_l = start_{l-1} + ((k'_l - 1)/2 - p_l)·j_{l-1}
    from r_0 = 1, j_0 = 1, start_0 = 0. Branches that are added or concatenated take the union of their fields;
    if they have different jumps or centres the merge is listed in `misaligned` and a ReceptiveFieldWarning
    is issued. BatchNorm is treated as element-wise (eval mode).
    """
    _check_model(model)
    input_size = _validate.pair(input_size, "input_size", 0, "receptive_field", _IMAGE)
    if min(input_size) < 1:
        raise ValueError(f"input_size must be positive, got {input_size}.")
    out, rows, misaligned = _propagate(_trace(model), input_size)
    return ReceptiveField(out.size, out.jump, out.start, out.shape, input_size, rows, misaligned)
