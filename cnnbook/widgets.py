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
from .randomness import seeded


def _check_image(image) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() != 2 or not image.is_floating_point() or image.numel() == 0:
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


def wire(rows, draw, out: widgets.Output) -> widgets.VBox:
    """Lay out an explorer: `rows` of controls above `out`; redraw whenever a control's value changes.

    rows: list of lists of widgets (one HBox per list); draw(): redraws into `out` via `show`.
    Draws once now, so the explorer opens with a picture.
    """
    for row in rows:
        for control in row:
            control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox(list(row)) for row in rows] + [out])


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

    return wire([[kernel, stride], [padding, dilation]], draw, out)

# ---------------------------------------------------------------------------- chapters 2-4
def _device(model: torch.nn.Module) -> torch.device:
    """Where the model's parameters are (CPU for a model without any): images are moved there."""
    return next(iter(model.parameters()), torch.zeros(0)).device


def _check_batch(images, labels) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"the explorer needs a batch of grayscale images (N, 1, H, W), got {shape}; "
                         f"pass load_mnist(split='test')[0].")
    if len(images) == 0:
        raise ValueError("the explorer needs at least one image to show, got a batch of 0; "
                         "pass load_mnist(split='test')[0][:100].")
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.shape != (len(images),)):
        raise ValueError(f"labels must be a (N,) tensor with one label per image ({len(images)} images).")


def prediction_explorer(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> widgets.VBox:
    """Pick a test digit; see the model's probability for each class (static twin: `viz.plot_prediction`).

    images: (N, 1, 28, 28); labels: (N,). The model is put in eval mode.
    """
    _check_batch(images, labels)
    model.eval()
    index = widgets.IntSlider(0, 0, len(images) - 1, description="test image")
    out = widgets.Output()

    def draw(*_):
        with torch.no_grad():
            probs = model(images[index.value:index.value + 1].to(_device(model))).softmax(dim=1)[0].cpu()
        label = int(labels[index.value])
        verdict = "right" if int(probs.argmax()) == label else "wrong"
        fig = viz.plot_prediction(images[index.value, 0], probs, true_label=label,
                                  title=f"test image {index.value}: the model is {verdict}")
        show(out, f"true {label}, predicted {int(probs.argmax())} ({probs.max().item():.1%})", fig)

    return wire([[index]], draw, out)


def feature_map_explorer(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None,
                         n_images: int = 8) -> widgets.VBox:
    """Pick a layer and a channel of a `SmallCNN`; see that channel's feature map on the first `n_images`
    digits (static twin: `viz.feature_maps_grid`). images: (N, 1, 28, 28); labels: (N,) or None.
    """
    _check_batch(images, labels)
    if not hasattr(model, "activations"):
        raise TypeError(f"feature_map_explorer needs a model with an activations(x) method such as "
                        f"cnnbook.models.SmallCNN, got {type(model).__name__}.")
    x = images[:n_images]
    with torch.no_grad():
        acts = [a.cpu() for a in model.activations(x.to(_device(model)))]
    layer = widgets.Dropdown(options=[(f"layer {k + 1}", k) for k in range(len(acts))], value=0, description="layer")
    channel = widgets.IntSlider(0, 0, acts[0].shape[1] - 1, description="channel")
    out = widgets.Output()
    titles = [f"digit {int(y)}" for y in labels[:n_images]] if labels is not None else None

    def draw(*_):
        channel.max = acts[layer.value].shape[1] - 1
        maps = acts[layer.value][:, channel.value]
        active = (maps > 0).float().mean().item()
        fig = viz.feature_maps_grid(maps, ncols=len(x), titles=titles,
                                    title=f"layer {layer.value + 1}, channel {channel.value}: "
                                          f"{active:.0%} of positions active")
        show(out, f"layer {layer.value + 1}: {acts[layer.value].shape[1]} channels of "
                  f"{maps.shape[1]}×{maps.shape[2]}", fig)

    return wire([[layer, channel]], draw, out)


def pooling_explorer(image: torch.Tensor) -> widgets.VBox:
    """Pick pooling type, window size and stride; see the pooled `image` (H, W) and its new size (chapter 2)."""
    from .layers import avg_pool2d, max_pool2d

    image = _check_image(image)
    kind = widgets.Dropdown(options=["max", "average"], value="max", description="pooling")
    size = widgets.IntSlider(2, 1, 7, description="window")
    stride = widgets.IntSlider(2, 1, 7, description="stride")
    out = widgets.Output()

    def draw(*_):
        pool = max_pool2d if kind.value == "max" else avg_pool2d
        pooled = pool(image[None, None], size.value, stride.value)[0, 0]
        fig = viz.plot_pooling(image, pooled, kind.value, size.value, stride.value)
        show(out, f"{kind.value} pooling {size.value}×{size.value}, stride {stride.value}: "
                  f"{image.shape[0]}×{image.shape[1]} -> {pooled.shape[0]}×{pooled.shape[1]}", fig)

    return wire([[kind, size, stride]], draw, out)


# ---------------------------------------------------------------------------- chapter 5
def receptive_field_explorer(model: torch.nn.Module, image: torch.Tensor) -> widgets.VBox:
    """Pick a layer of `model` and one of its units; see which pixels of `image` (H, W) that unit can see.

    The field comes from `cnnbook.rf.receptive_field(model, image.shape)`; the static twin is
    `viz.plot_field_on_image`.
    """
    from .rf import receptive_field

    image = _check_image(image)
    field = receptive_field(model, tuple(image.shape))
    names = [r["name"] for r in field.layers if r["kernel"] != "-"] or [r["name"] for r in field.layers]
    layer = widgets.Dropdown(options=names, value=names[-1], description="layer")
    row = widgets.IntSlider(0, 0, 1, description="unit row")
    col = widgets.IntSlider(0, 0, 1, description="unit col")
    out = widgets.Output()

    def draw(*_):
        info = field._row(layer.value)
        h, w = info["output"]
        row.max, col.max = h - 1, w - 1
        unit = (min(row.value, h - 1), min(col.value, w - 1))
        box = field.box(unit, layer.value)
        fig = viz.plot_field_on_image(image, [(box, f"{layer.value} unit {unit}")],
                                      title=f"field {info['size'][0]}×{info['size'][1]}, jump {info['jump'][0]}")
        show(out, f"layer {layer.value} ({h}×{w} units): unit {unit} sees rows {box[0]:g}..{box[2]:g}, "
                  f"columns {box[1]:g}..{box[3]:g} (outside 0..{image.shape[0] - 1} is padding)", fig)

    return wire([[layer], [row, col]], draw, out)

# ---------------------------------------------------------------------------- chapter 6
def cam_explorer(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, layers: dict,
                 true_boxes: torch.Tensor | None = None, threshold: float = 0.2) -> widgets.VBox:
    """Pick an image, a class and a map (CAM or Grad-CAM at one of `layers`); see the overlay and its box.

    images: (N, 1, H, W); labels: (N,); layers: {name: module inside model} for Grad-CAM;
    true_boxes: (N, 4) or None. The model must be in eval mode (`cnnbook.cam`).
    """
    from .cam import box_from_heatmap, cam, grad_cam

    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a (N, 1, H, W) tensor, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}.")
    _check_batch(images, labels)
    index = widgets.IntSlider(0, 0, len(images) - 1, description="image")
    target = widgets.Dropdown(options=["predicted"] + list(range(10)), value="predicted", description="class")
    method = widgets.Dropdown(options=["CAM"] + [f"Grad-CAM {name}" for name in layers], value="CAM",
                              description="map")
    out = widgets.Output()

    def draw(*_):
        x = images[index.value:index.value + 1]
        with torch.no_grad():
            probs = model(x).softmax(dim=1)[0]
        c = int(probs.argmax()) if target.value == "predicted" else int(target.value)
        if method.value == "CAM":
            heat = cam(model, x, c, upsample=True).relu()
        else:
            heat = grad_cam(model, layers[method.value.removeprefix("Grad-CAM ")], x, c, upsample=True)
        box = box_from_heatmap(heat, threshold)
        fig = viz.plot_cam_grid(x[:, 0], {f"{method.value}, class {c}": heat}, {f"{method.value}, class {c}": box},
                                true_boxes=None if true_boxes is None else true_boxes[index.value:index.value + 1],
                                row_titles=[f"label {int(labels[index.value])}"])
        show(out, f"label {int(labels[index.value])}, predicted {int(probs.argmax())}, "
                  f"p(class {c}) = {probs[c].item():.1%}", fig)

    return wire([[index, target, method]], draw, out)


# ---------------------------------------------------------------------------- chapter 7
def depth_explorer(images: torch.Tensor, labels: torch.Tensor) -> widgets.VBox:
    """Pick a depth, shortcuts on/off and BatchNorm on/off; see the gradient norm of every conv at initialisation.

    images: (N, C, H, W) (a small batch, e.g. 64 MNIST digits pooled to 14×14); labels: (N,).
    """
    from .anatomy import conv_gradient_norms, summary
    from .models import ResNet

    _check_batch(images, labels)
    depth = widgets.SelectionSlider(options=[8, 14, 20, 32, 44, 56, 110], value=32, description="depth")
    residual = widgets.Checkbox(True, description="shortcuts")
    batch_norm = widgets.Checkbox(True, description="BatchNorm")
    out = widgets.Output()

    def draw(*_):
        with seeded(0):  # the same initialisation each time; the caller's random state untouched
            model = ResNet(depth.value, width=8, in_channels=images.shape[1], residual=residual.value,
                           batch_norm=batch_norm.value)
        norms = conv_gradient_norms(model, images, labels)
        s = summary(model, tuple(images.shape[1:]))
        name = f"{'ResNet' if residual.value else 'plain'}-{depth.value}{'' if batch_norm.value else ', no BN'}"
        fig = viz.plot_lines(None, {name: norms}, "conv layer (input side first)", "‖∂L/∂W‖", logy=True,
                             title=f"{name}: first/last layer gradient ratio {norms[0] / norms[-1]:.3g}")
        show(out, f"{name}: {s.total_params:,} parameters, {s.total_macs:,} MACs per image", fig)

    return wire([[depth, residual, batch_norm]], draw, out)
