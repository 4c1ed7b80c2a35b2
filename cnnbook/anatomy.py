"""The anatomy of a network: what it costs (parameters and multiply-accumulates per layer) and how its gradients flow.

Used by chapters 7, 7b and 7c. `summary` runs one example through the model with forward hooks and counts,
layer by layer, the parameters and the MACs of convolutions, linear layers and attention, so that the
book's costs are computed, not quoted; `conv_gradient_norms` measures the gradient reaching each convolution.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from . import _validate
from .models.vit import MultiHeadSelfAttention
from .randomness import seeded


def conv_gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> list[float]:
    """‖∂L/∂W‖ for every Conv2d weight, input side first, after one cross-entropy backward pass.

    images: (N, C, H, W); labels: (N,) int64. The pass runs in train mode (BatchNorm uses the batch's
    statistics, dropout is on) on a copy of the model, inside `cnnbook.randomness.seeded(seed)`: the
    model itself is not changed (weights, BatchNorm running statistics, `.grad`, train/eval mode) and the
    caller's random state is untouched. The norms depend only on the weights, the batch and `seed`, but
    they are floating-point sums: another CPU changes their last digits (chapter 7b prints their orders of
    magnitude in the measured form).
    """
    _validate.module(model, "model", "conv_gradient_norms")
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise ValueError("conv_gradient_norms found no nn.Conv2d in the model: it reports one norm per convolution.")
    _validate.tensor(images, "images", "conv_gradient_norms", "(N, C, H, W); for one image use images[None]",
                     dims=4, floating=True)
    _validate.tensor(labels, "labels", "conv_gradient_norms", "(N,)", dims=1)
    if labels.dtype != torch.int64:
        raise TypeError(f"conv_gradient_norms: labels must be int64 class indices, got {labels.dtype} — call "
                        f"labels.long().")
    if len(labels) != len(images):
        raise ValueError(f"conv_gradient_norms: {len(images)} images but {len(labels)} labels; one class index "
                         f"per image.")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="the dropout masks' stream, e.g. seed=0",
                             who="conv_gradient_norms")
    twin = copy.deepcopy(model).train()
    twin.zero_grad(set_to_none=True)
    with seeded(seed):
        nn.functional.cross_entropy(twin(images), labels).backward()
    return [m.weight.grad.norm().item() for m in twin.modules() if isinstance(m, nn.Conv2d)]


class ModelSummary:
    """The table `summary` returns: one row per layer plus totals; print it to see it.

    rows: list of dicts {"layer", "type", "output", "params", "macs"}; total_params, total_macs (per example).
    """

    def __init__(self, rows: list[dict], total_params: int, input_size: tuple):
        self.rows, self.total_params, self.input_size = rows, total_params, input_size
        self.total_macs = sum(r["macs"] for r in rows)

    def table(self, free_layers: bool = True) -> str:
        """The table as text; free_layers=False hides rows with neither parameters nor MACs (ReLU, pooling).

        Each column is as wide as its longest entry (layer names cut at 28 characters), columns two spaces
        apart, so that the table fits the book's text column (tests/test_browser_book.py measures it)."""
        rows = [(r["layer"][:28], r["type"][:24], "×".join(str(s) for s in r["output"]), f"{r['params']:,}",
                 f"{r['macs']:,}") for r in self.rows if free_layers or r["params"] or r["macs"]]
        total = ("total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}")
        head = ("layer", "type", "output shape", "params", "MACs")
        widths = [max(len(row[k]) for row in [head, total, *rows]) for k in range(5)]

        def line(row):
            left = [f"{cell:<{w}}" for cell, w in zip(row[:3], widths)]
            right = [f"{cell:>{w}}" for cell, w in zip(row[3:], widths[3:])]
            return "  ".join(left + right)

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        lines = [line(head), rule, *map(line, rows), rule, line(total),
                 f"input {'×'.join(map(str, self.input_size))}, one example; MACs = multiply-accumulates of "
                 f"Conv2d, Linear and attention matmuls (norms, activations, pooling, additions excluded)"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def _macs(module: nn.Module, inputs, output) -> int:
    """Multiply-accumulates of one forward call for ONE example (output[0])."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        _, h_out, w_out = output.shape[1:]
        return kh * kw * (module.in_channels // module.groups) * module.out_channels * h_out * w_out
    if isinstance(module, nn.Linear):
        positions = output[0].numel() // module.out_features      # a Linear on (T, D) runs once per token
        return module.in_features * module.out_features * positions
    if isinstance(module, MultiHeadSelfAttention):
        t, dim = inputs[0].shape[1:]
        return 2 * t * t * dim                                     # Q Kᵀ and A V, all heads
    return 0


def summary(model: nn.Module, input_size) -> ModelSummary:
    """Per-layer output shape, parameters and MACs of `model` on one input of shape input_size = (C, H, W).

    MACs: Conv2d k_h·k_w·(C_in/groups)·C_out·H_out·W_out; Linear in·out per position;
    self-attention 2·T²·D for Q Kᵀ and A V (its Linears are counted as Linears). Rows are the leaf modules
    in the order they run, plus attention modules and modules owning parameters directly (e.g. a class token).
    """
    _validate.module(model, "model", "summary")
    input_size = _validate.sizes(input_size, "input_size", 3, who="summary",
                                 example="(C, H, W) for one example, e.g. (1, 28, 28); leave out the batch dimension")
    rows, handles, names = [], [], {m: n for n, m in model.named_modules()}

    def hook(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            return
        own = sum(p.numel() for p in module.parameters(recurse=False))
        macs = _macs(module, inputs, output)
        if isinstance(module, nn.Identity):
            return
        if own or macs or not list(module.children()):
            own_names = ", ".join(n for n, _ in module.named_parameters(recurse=False))
            label = names[module] or (f"(own: {own_names})" if own_names else "(the model itself)")
            rows.append({"layer": label, "type": type(module).__name__,
                         "output": tuple(output.shape[1:]), "params": own, "macs": macs})

    for module in model.modules():
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # a model without parameters (nn.ReLU(), a pooling layer) runs on the CPU; it still gets a table
            device = next(iter(model.parameters()), next(iter(model.buffers()), torch.zeros(0))).device
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    # modules owning parameters directly but returning no tensor of their own (none in this book) would be
    # missed by the hooks; adding them keeps total_params honest
    counted = sum(r["params"] for r in rows)
    total = sum(p.numel() for p in model.parameters())
    if counted != total:
        rows.append({"layer": "(parameters used outside a forward hook)", "type": "-", "output": (),
                     "params": total - counted, "macs": 0})
    return ModelSummary(rows, total, tuple(input_size))
