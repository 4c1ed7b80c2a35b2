"""Convolution: the one operation a CNN is named after, written three ways and differentiated by hand.

Used by chapter 1. `conv2d` computes exactly what `torch.nn.functional.conv2d` computes (a
*cross-correlation*, despite the name) with one of three methods:

- ``"loops"``: the definition, one output number at a time;
- ``"im2col"``: copy every receptive-field patch into a row, then one matrix multiplication;
- ``"fft"``: multiply in the frequency domain (the convolution theorem).

`conv2d_backward` returns the three gradients, and `Conv2dFunction` plugs them into autograd so
`torch.autograd.gradcheck` can verify them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

METHODS = ("loops", "im2col", "fft")


# ----------------------------------------------------------------------------- argument checks
def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair, checking each is an int >= minimum."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints like (1, 2), got {value!r}.")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in both directions, got {value!r}.")
    return pair


def _check_tensor(t, name: str, layout: str, dims: int) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(t).__name__} — "
                        f"wrap it with torch.tensor(...).")
    if not t.is_floating_point():
        raise TypeError(f"conv2d needs a floating-point {name}, got {t.dtype} — call {name}.float() first.")
    if t.dim() != dims:
        hint = " — add the batch axis with x.unsqueeze(0)" if name == "x" and t.dim() == 3 else ""
        raise ValueError(f"{name} must have shape {layout} ({dims} dims), got shape {tuple(t.shape)}{hint}.")


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Spatial size after a convolution or pooling layer: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    for name, value, low in (("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"output_size: {name} must be an int >= {low}, got {value!r}.")
    span = dilation * (kernel_size - 1) + 1  # how many input pixels one kernel placement covers
    if span > size + 2 * padding:
        raise ValueError(f"output_size: the dilated kernel spans {span} pixels but the padded input has only "
                         f"{size + 2 * padding}; use a smaller kernel or dilation, or more padding.")
    return (size + 2 * padding - span) // stride + 1


def _check_args(x, weight, bias, stride, padding, dilation, groups):
    """Validate conv2d's arguments once; return them normalised to pairs."""
    _check_tensor(x, "x", "(N, C_in, H, W)", 4)
    _check_tensor(weight, "weight", "(C_out, C_in / groups, kH, kW)", 4)
    if x.dtype != weight.dtype:
        raise TypeError(f"x is {x.dtype} but weight is {weight.dtype}; convert one, e.g. weight.to(x.dtype).")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}.")
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both C_in={c_in} and C_out={c_out}.")
    if weight.shape[1] * groups != c_in:
        raise ValueError(f"weight has {weight.shape[1]} input channels per group, so with groups={groups} "
                         f"x needs {weight.shape[1] * groups} channels, but it has {c_in}. "
                         f"weight must be shaped (C_out, C_in / groups, kH, kW).")
    if bias is not None:
        if not isinstance(bias, torch.Tensor) or bias.shape != (c_out,):
            shape = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
            raise ValueError(f"bias must be a tensor of shape ({c_out},), one number per output channel, got {shape}.")
        if bias.dtype != x.dtype:
            raise TypeError(f"bias is {bias.dtype} but x is {x.dtype}; call bias.to(x.dtype).")
    stride, padding, dilation = _pair(stride, "stride", 1), _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    for axis in (0, 1):  # raises a clear error if the kernel does not fit
        output_size(x.shape[2 + axis], weight.shape[2 + axis], stride[axis], padding[axis], dilation[axis])
    return stride, padding, dilation


# ----------------------------------------------------------------------------- the three methods
def _conv2d_loops(xp, weight, stride, dilation, groups, out_hw):
    """Definition: out[n, o, i, j] = sum_{c, u, v} xp[n, c, i*s + u*d, j*s + v*d] * w[o, c, u, v]."""
    n_batch, c_out = xp.shape[0], weight.shape[0]
    c_per_group, o_per_group = weight.shape[1], c_out // groups
    kh, kw = weight.shape[2:]
    (sh, sw), (dh, dw) = stride, dilation
    out = xp.new_zeros(n_batch, c_out, *out_hw)
    for n in range(n_batch):
        for o in range(c_out):
            c0 = (o // o_per_group) * c_per_group  # first input channel of this output's group
            for i in range(out_hw[0]):
                for j in range(out_hw[1]):
                    window = xp[n, c0:c0 + c_per_group,
                                i * sh: i * sh + dh * (kh - 1) + 1: dh,
                                j * sw: j * sw + dw * (kw - 1) + 1: dw]
                    out[n, o, i, j] = (window * weight[o]).sum()
    return out


def im2col(xp: torch.Tensor, kernel_size, stride=1, dilation=1) -> torch.Tensor:
    """Every kernel placement as one patch: (N, C, H, W) -> (N, C, H_out, W_out, kH, kW).

    `xp` is already padded. Uses strided views, so no pixel is copied until the result is reshaped.
    """
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel_size, "kernel_size", 1), _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    return xp.unfold(2, span_h, sh).unfold(3, span_w, sw)[..., ::dh, ::dw]


def _conv2d_im2col(xp, weight, stride, dilation, groups):
    """One matrix multiplication per group: (patches as rows) @ (kernels as columns)."""
    n_batch, c_out = xp.shape[0], weight.shape[0]
    kh, kw = weight.shape[2:]
    patches = im2col(xp, (kh, kw), stride, dilation)  # (N, C_in, H_out, W_out, kH, kW)
    h_out, w_out = patches.shape[2:4]
    cg = weight.shape[1]
    # rows: (N, G, H_out*W_out, C_in/G*kH*kW); columns: (G, C_in/G*kH*kW, C_out/G)
    rows = patches.reshape(n_batch, groups, cg, h_out, w_out, kh, kw).permute(0, 1, 3, 4, 2, 5, 6)
    rows = rows.reshape(n_batch, groups, h_out * w_out, cg * kh * kw)
    cols = weight.reshape(groups, c_out // groups, cg * kh * kw).transpose(1, 2)
    out = rows @ cols  # (N, G, H_out*W_out, C_out/G)
    return out.permute(0, 1, 3, 2).reshape(n_batch, c_out, h_out, w_out)


def _conv2d_fft(xp, weight, stride, dilation, groups, out_hw):
    """Convolution theorem: cross-correlation = IFFT(FFT(x) * conj(FFT(w))), then keep the valid part."""
    n_batch, c_out = xp.shape[0], weight.shape[0]
    cg, (kh, kw) = weight.shape[1], weight.shape[2:]
    (sh, sw), (dh, dw) = stride, dilation
    # A dilated kernel is an ordinary kernel with (d - 1) zeros between its taps.
    w_dil = weight.new_zeros(c_out, cg, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    w_dil[:, :, ::dh, ::dw] = weight
    size = xp.shape[2:]
    xf = torch.fft.rfft2(xp, s=size).reshape(n_batch, groups, cg, size[0], -1)
    wf = torch.fft.rfft2(w_dil, s=size).reshape(groups, c_out // groups, cg, size[0], -1)
    prod = torch.einsum("ngchw,gochw->ngohw", xf, wf.conj())  # sum over input channels
    full = torch.fft.irfft2(prod, s=size).reshape(n_batch, c_out, *size)
    # Position (i, j) of the circular correlation is the placement with top-left corner (i, j);
    # the placements that never wrap around are the stride-1 output, which we subsample.
    return full[:, :, : (out_hw[0] - 1) * sh + 1: sh, : (out_hw[1] - 1) * sw + 1: sw]


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1, method: str = "im2col") -> torch.Tensor:
    """2-D cross-correlation, like torch.nn.functional.conv2d.

    x: (N, C_in, H, W); weight: (C_out, C_in / groups, kH, kW); bias: (C_out,) or None.
    stride, padding, dilation: int or (h, w) pair. Returns (N, C_out, H_out, W_out) with
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1 (see `output_size`).
    method: "loops" (the definition), "im2col" (one matmul) or "fft" (convolution theorem).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    stride, padding, dilation = _check_args(x, weight, bias, stride, padding, dilation, groups)
    out_hw = tuple(output_size(x.shape[2 + a], weight.shape[2 + a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))  # zeros around the border
    if method == "loops":
        out = _conv2d_loops(xp, weight, stride, dilation, groups, out_hw)
    elif method == "im2col":
        out = _conv2d_im2col(xp, weight, stride, dilation, groups)
    else:
        out = _conv2d_fft(xp, weight, stride, dilation, groups, out_hw)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


# ----------------------------------------------------------------------------- backward by hand
def conv2d_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride=1, padding=0,
                    dilation=1, groups: int = 1):
    """Gradients of a loss L through y = conv2d(x, weight, bias).

    grad_out: dL/dy, (N, C_out, H_out, W_out). Returns (dL/dx, dL/dweight, dL/dbias) with the shapes of
    x, weight and bias:
      dL/dbias[o]        = sum_{n,i,j} grad_out[n, o, i, j]
      dL/dweight[o,c,u,v] = sum_{n,i,j} grad_out[n, o, i, j] * xp[n, c, i*s + u*d, j*s + v*d]
      dL/dxp[n,c,i*s+u*d, j*s+v*d] += grad_out[n, o, i, j] * weight[o, c, u, v]   (then crop the padding)
    """
    stride, padding, dilation = _check_args(x, weight, None, stride, padding, dilation, groups)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n_batch, c_out, kh, kw = x.shape[0], weight.shape[0], *weight.shape[2:]
    cg, og = weight.shape[1], c_out // groups
    xp = F.pad(x, (pw, pw, ph, ph))
    patches = im2col(xp, (kh, kw), stride, dilation)  # (N, C_in, H_out, W_out, kH, kW)
    h_out, w_out = patches.shape[2:4]
    if grad_out.shape != (n_batch, c_out, h_out, w_out):
        raise ValueError(f"grad_out must have the output's shape {(n_batch, c_out, h_out, w_out)}, "
                         f"got {tuple(grad_out.shape)}.")
    g_out = grad_out.reshape(n_batch, groups, og, h_out, w_out)
    p = patches.reshape(n_batch, groups, cg, h_out, w_out, kh, kw)
    grad_b = grad_out.sum(dim=(0, 2, 3))
    grad_w = torch.einsum("ngoij,ngcijuv->gocuv", g_out, p).reshape_as(weight)
    # Each kernel tap (u, v) read a strided grid of pixels; send its share of the gradient back there.
    w = weight.reshape(groups, og, cg, kh, kw)
    grad_xp = torch.zeros_like(xp).reshape(n_batch, groups, cg, *xp.shape[2:])
    for u in range(kh):
        for v in range(kw):
            share = torch.einsum("ngoij,goc->ngcij", g_out, w[..., u, v])
            grad_xp[..., u * dh: u * dh + (h_out - 1) * sh + 1: sh, v * dw: v * dw + (w_out - 1) * sw + 1: sw] += share
    grad_xp = grad_xp.reshape_as(xp)
    grad_x = grad_xp[:, :, ph: ph + x.shape[2], pw: pw + x.shape[3]]
    return grad_x, grad_w, grad_b


class Conv2dFunction(torch.autograd.Function):
    """`conv2d` with the hand-written `conv2d_backward` as its gradient, for gradcheck.

    Call as Conv2dFunction.apply(x, weight, bias, stride, padding, dilation, groups).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return conv2d(x, weight, bias, stride, padding, dilation, groups, method="im2col")

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_x, grad_w, grad_b = conv2d_backward(grad_out, x, weight, *ctx.conf)
        return grad_x, grad_w, grad_b if ctx.has_bias else None, None, None, None, None


# ----------------------------------------------------------------------------- classic kernels
def classic_kernels() -> dict[str, torch.Tensor]:
    """A few hand-designed 3x3 kernels (float32), by name: edges, blur, sharpen, identity."""
    vertical = torch.tensor([[1.0, 0.0, -1.0]] * 3)
    return {
        "vertical edge": vertical,
        "horizontal edge": vertical.T.contiguous(),
        "Sobel x": torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
        "box blur": torch.full((3, 3), 1 / 9),
        "sharpen": torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
        "identity": torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    }
