"""Interactive explorers (ipywidgets) for JupyterLab. Each has a static twin in `cnnbook.viz` so that
readers of the HTML book see the same figure.

Each explorer returns a widget; the notebook displays it. Nothing here runs at import time.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from . import viz
from .conv import classic_kernels, conv2d


def _check_image(image) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() != 2 or not image.is_floating_point():
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"the explorer needs one grayscale image as a float tensor (H, W), got {shape}; "
                         f"for a batch from load_mnist use images[0, 0].")
    return image


def show(out: widgets.Output, text: str, fig=None) -> None:
    """Replace what `out` shows with a line of text and a matplotlib figure (which is then closed).

    Sets the Output widget's contents directly instead of capturing prints, so nothing leaks into the
    notebook cell when no browser is attached (as under nbval).
    """
    out.outputs = ()
    out.append_stdout(text + "\n")
    if fig is not None:
        out.append_display_data(fig)
        plt.close(fig)


# ---------------------------------------------------------------------------- chapter 1
def conv_explorer(image: torch.Tensor) -> widgets.VBox:
    """Pick a kernel, stride, padding and dilation; see the output of conv2d on `image` (H, W)."""
    image = _check_image(image)
    kernels = classic_kernels()
    kernel = widgets.Dropdown(options=list(kernels), value="vertical edge", description="kernel")
    stride = widgets.IntSlider(1, 1, 4, description="stride")
    padding = widgets.IntSlider(0, 0, 3, description="padding")
    dilation = widgets.IntSlider(1, 1, 3, description="dilation")
    out = widgets.Output()

    def draw(*_):
        k = kernels[kernel.value]
        y = conv2d(image[None, None], k[None, None], stride=stride.value, padding=padding.value,
                   dilation=dilation.value)[0, 0]
        fig = viz.plot_conv(image, k, y, title=kernel.value)
        show(out, f"output {y.shape[0]}×{y.shape[1]}  (stride {stride.value}, padding {padding.value}, "
                  f"dilation {dilation.value})", fig)

    for control in (kernel, stride, padding, dilation):
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([kernel, stride]), widgets.HBox([padding, dilation]), out])

# ---------------------------------------------------------------------------- chapters 2-4

# ---------------------------------------------------------------------------- chapter 5

# ---------------------------------------------------------------------------- chapter 6

# ---------------------------------------------------------------------------- chapter 7
