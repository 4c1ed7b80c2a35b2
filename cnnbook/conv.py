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

from . import _validate

METHODS = ("loops", "im2col", "fft")


# ----------------------------------------------------------------------------- argument checks
def _check_tensor(t, name: str, layout: str, dims: int, who: str = "conv2d") -> None:
    _validate.tensor(t, name, who, layout, dims, floating=True)


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """Spatial size after a convolution or pooling layer: floor((n + 2p - d(k-1) - 1) / s) + 1.

    All arguments are ints (NumPy integers too). With ceil_mode (pooling only) the division rounds up,
    but the last window must start inside the input or the left padding, as in torch (so a 2×2 window
    with stride 2 on a 1-pixel input gives 1). Raises ValueError if no window fits.
    """
    size = _validate.integer(size, "size", 1, "the input's height or width in pixels", "output_size")
    kernel_size = _validate.integer(kernel_size, "kernel_size", 1, who="output_size")
    stride = _validate.integer(stride, "stride", 1, "how many pixels the kernel moves per step", "output_size")
    padding = _validate.integer(padding, "padding", 0, who="output_size")
    dilation = _validate.integer(dilation, "dilation", 1, who="output_size")
    ceil_mode = _validate.flag(ceil_mode, "ceil_mode", "output_size")
    span = dilation * (kernel_size - 1) + 1  # how many input pixels one kernel placement covers
    out = _windows(size, span, stride, (padding, padding), ceil_mode)
    if out < 1:
        raise ValueError(f"output_size: the dilated kernel spans {span} pixels but the padded input has only "
                         f"{size + 2 * padding}; use a smaller kernel or dilation, or more padding.")
    return out


def _windows(size: int, span: int, stride: int, padding: tuple[int, int] = (0, 0), ceil_mode: bool = False) -> int:
    """The one output-size formula (torch's): how many windows of `span` pixels, `stride` apart, fit into
    `size` pixels padded by (before, after); with ceil_mode a last partial window counts if it starts inside
    the input or the padding before it. Can be < 1 (no window fits); callers check. No argument checks."""
    room = size + padding[0] + padding[1] - span
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding[0]:
        out -= 1
    return out


def _check_args(x, weight, bias, stride, padding, dilation, groups, who="conv2d"):
    """Validate conv2d's arguments once; return them normalised to pairs."""
    _check_tensor(x, "x", "(N, C_in, H, W)", 4, who)
    _check_tensor(weight, "weight", "(C_out, C_in / groups, kH, kW)", 4, who)
    if x.dtype != weight.dtype:
        raise TypeError(f"x is {x.dtype} but weight is {weight.dtype}; convert one, e.g. weight.to(x.dtype).")
    if x.device != weight.device:
        raise ValueError(f"x is on {x.device} but weight is on {weight.device}; move both to one device, "
                         f"e.g. weight.to(x.device).")
    groups = _validate.positive_int(groups, "groups", "how many independent channel groups", who)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in == 0 or c_out == 0 or weight.shape[1] == 0:
        raise ValueError(f"{who}: x has {c_in} input channels and weight {c_out} output channels ({weight.shape[1]} "
                         f"per group); a convolution needs at least one of each — check the shapes "
                         f"x: (N, C_in, H, W), weight: (C_out, C_in / groups, kH, kW).")
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
    stride = _validate.pair(stride, "stride", 1, who)
    padding = _validate.pair(padding, "padding", 0, who)
    dilation = _validate.pair(dilation, "dilation", 1, who)
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

    `xp` is already padded. The result is a strided *view* of `xp` (`as_strided`): patch (i, j) tap (u, v)
    of channel c is xp[n, c, i*s + u*d, j*s + v*d], and no pixel is copied until the view is reshaped.
    """
    _validate.tensor(xp, "xp", "im2col", "(N, C, H, W)", 4)
    (kh, kw) = _validate.pair(kernel_size, "kernel_size", 1, "im2col")
    (sh, sw), (dh, dw) = _validate.pair(stride, "stride", 1, "im2col"), _validate.pair(dilation, "dilation", 1, "im2col")
    h_out, w_out = output_size(xp.shape[2], kh, sh, 0, dh), output_size(xp.shape[3], kw, sw, 0, dw)
    n, c, s_row, s_col = xp.stride()
    return xp.as_strided((xp.shape[0], xp.shape[1], h_out, w_out, kh, kw),
                         (n, c, sh * s_row, sw * s_col, dh * s_row, dw * s_col), xp.storage_offset())


PATCH_BLOCK_BYTES = 1 << 20  # im2col copies the patches of this many bytes' worth of images at a time


def _conv2d_im2col(xp, weight, stride, dilation, groups):
    """One matrix multiplication per block of images: (kernels as rows) @ (patches as columns).

    The columns are copied from the strided view in the order (C_in/G·kH·kW, H_out·W_out), so the copy reads
    whole rows of output positions and the product comes out already shaped (N, C_out, H_out·W_out). The
    copy is made for a few images at a time (about PATCH_BLOCK_BYTES), so the patch matrix stays in the
    CPU's cache instead of making a round trip through memory: same numbers, about twice as fast.
    """
    n_batch, c_out = xp.shape[0], weight.shape[0]
    cg, kh, kw = weight.shape[1:]
    patches = im2col(xp, (kh, kw), stride, dilation)  # (N, C_in, H_out, W_out, kH, kW), a view: nothing copied
    h_out, w_out = patches.shape[2:4]
    rows = weight.reshape(groups, c_out // groups, cg * kh * kw)
    block = max(1, PATCH_BLOCK_BYTES // max(1, patches[:1].numel() * patches.element_size()))
    # Each block's product is written straight into the output, unless autograd must see the products.
    tracked = torch.is_grad_enabled() and (xp.requires_grad or weight.requires_grad)
    out = None if tracked else xp.new_empty(n_batch, groups, c_out // groups, h_out * w_out)
    products = []
    for start in range(0, n_batch, block):
        cols = patches[start:start + block].permute(0, 1, 4, 5, 2, 3)  # (n, C_in, kH, kW, H_out, W_out)
        cols = cols.reshape(-1, groups, cg * kh * kw, h_out * w_out)   # the copy
        if tracked:
            products.append(rows @ cols)  # (n, G, C_out/G, H_out·W_out): already in output order
        else:
            torch.matmul(rows, cols, out=out[start:start + block])
    if tracked:
        out = torch.cat(products)
    return out.reshape(n_batch, c_out, h_out, w_out)


def _conv2d_fft(xp, weight, stride, dilation, groups, out_hw):
    """Convolution theorem: cross-correlation = IFFT(FFT(x) * conj(FFT(w))), then keep the valid part.

    Every frequency mixes every pixel, so one NaN or inf anywhere makes every output NaN, and the rounding
    error of each output is relative to the largest value in the image, not to that output (see `conv2d`).
    """
    n_batch, c_out = xp.shape[0], weight.shape[0]
    if n_batch == 0:  # an empty batch: nothing to transform (the FFT library rejects size-0 transforms)
        return xp.new_zeros(0, c_out, *out_hw)
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
    H_out = floor((H + 2p - d(k-1) - 1) / s) + 1 (see `output_size`). An empty batch (N = 0) gives an
    empty result, as in torch.
    method: "loops" (the definition), "im2col" (one matmul) or "fft" (convolution theorem).

    The FFT method computes the same numbers only for finite inputs of similar size, because every
    frequency mixes every pixel: one NaN or inf anywhere in an image makes *all* of that image's outputs
    NaN (loops, im2col and torch give NaN only where the kernel touches it), and its rounding error is
    relative to the largest |x| in the image (one pixel of 1e30 leaves errors near 1e21 in outputs whose
    true value is 0). It needs float32 or float64 (the FFT library has no float16 on the CPU).
    """
    _validate.choice(method, "method", METHODS, who="conv2d")
    stride, padding, dilation = _check_args(x, weight, bias, stride, padding, dilation, groups)
    if method == "fft" and x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"conv2d(method='fft') needs float32 or float64 tensors, got {x.dtype}; call "
                        f"x.float() and weight.float(), or use method='im2col'.")
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
    stride, padding, dilation = _check_args(x, weight, None, stride, padding, dilation, groups, "conv2d_backward")
    _validate.tensor(grad_out, "grad_out", "conv2d_backward", "(N, C_out, H_out, W_out)", 4, floating=True)
    if grad_out.dtype != x.dtype:
        raise TypeError(f"conv2d_backward: grad_out is {grad_out.dtype} but x is {x.dtype}; the gradient must "
                        f"have the output's dtype — call grad_out.to(x.dtype).")
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
def kernel_bank() -> dict[str, torch.Tensor]:
    """Every hand-designed 3×3 kernel of the book (float32, fresh copies), by name: the one bank that
    `classic_kernels` (chapter 1) and `cnnbook.features.edge_kernels` (chapter 4) choose from."""
    vertical = torch.tensor([[1.0, 0.0, -1.0]] * 3)
    return {
        "vertical edge": vertical,
        "horizontal edge": vertical.T.contiguous(),
        "diagonal /": torch.tensor([[0.0, 1.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, -1.0, 0.0]]),
        "diagonal \\": torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0]]),
        "Sobel x": torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
        "box blur": torch.full((3, 3), 1 / 9),
        "sharpen": torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
        "identity": torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    }


def classic_kernels() -> dict[str, torch.Tensor]:
    """A few hand-designed 3x3 kernels (float32), by name: edges, blur, sharpen, identity (from `kernel_bank`)."""
    bank = kernel_bank()
    return {name: bank[name] for name in ("vertical edge", "horizontal edge", "Sobel x", "box blur", "sharpen",
                                          "identity")}
