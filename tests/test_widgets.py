"""The ipywidgets explorers: each opens with a picture, redraws when a control moves, and rejects bad input.

No browser is needed: the explorers write into an Output widget whose contents we read (`show`).
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from cnnbook import widgets  # noqa: E402
from cnnbook.models import GAPNet, SmallCNN  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def text_of(explorer) -> str:
    """The line of text the explorer shows above its figure."""
    out = explorer.children[-1]
    return "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream")


def figures_in(explorer) -> int:
    return sum(o.get("output_type") == "display_data" for o in explorer.children[-1].outputs)


def controls(explorer) -> dict:
    return {c.description: c for box in explorer.children[:-1] for c in box.children}


@pytest.fixture(scope="module")
def digits():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 1, 28, 28, generator=g), torch.tensor([0, 1, 2, 3, 4, 5])


def test_conv_explorer_reports_the_output_size_for_the_chosen_stride(digits):
    explorer = widgets.conv_explorer(digits[0][0, 0])
    assert text_of(explorer).startswith("output 26×26") and figures_in(explorer) == 1
    controls(explorer)["stride"].value = 2
    assert text_of(explorer).startswith("output 13×13")


def test_pooling_explorer_reports_the_pooled_size(digits):
    explorer = widgets.pooling_explorer(digits[0][0, 0])
    assert "28×28 -> 14×14" in text_of(explorer)
    controls(explorer)["window"].value = 4
    controls(explorer)["stride"].value = 4
    assert "28×28 -> 7×7" in text_of(explorer)


def test_prediction_explorer_shows_the_label_of_the_chosen_image(digits):
    torch.manual_seed(0)
    model = SmallCNN()
    explorer = widgets.prediction_explorer(model, *digits)
    assert text_of(explorer).startswith("true 0") and not model.training
    controls(explorer)["test image"].value = 3
    assert text_of(explorer).startswith("true 3") and figures_in(explorer) == 1


def test_prediction_explorer_with_zero_images_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="at least one image"):
        widgets.prediction_explorer(SmallCNN(), digits[0][:0], digits[1][:0])


def test_feature_map_explorer_lists_the_channels_of_the_chosen_layer(digits):
    torch.manual_seed(0)
    explorer = widgets.feature_map_explorer(SmallCNN().eval(), *digits, n_images=4)
    assert text_of(explorer).startswith("layer 1: 16 channels of 14×14")
    controls(explorer)["layer"].value = 2
    assert text_of(explorer).startswith("layer 3: 64 channels of 3×3")
    assert controls(explorer)["channel"].max == 63


def test_receptive_field_explorer_grows_the_field_with_depth(digits):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
    explorer = widgets.receptive_field_explorer(model, digits[0][0, 0])
    assert "unit (0, 0) sees rows 0..4" in text_of(explorer)  # the last layer: 5×5
    controls(explorer)["layer"].value = "0"
    assert "unit (0, 0) sees rows 0..2" in text_of(explorer)  # the first conv: 3×3


def test_cam_explorer_reports_the_probability_of_the_chosen_class(digits):
    torch.manual_seed(0)
    model = GAPNet().eval()
    explorer = widgets.cam_explorer(model, *digits, layers={"last block": model.features[-1]})
    assert text_of(explorer).startswith("label 0, predicted") and figures_in(explorer) == 1
    controls(explorer)["class"].value = 7
    assert "p(class 7)" in text_of(explorer)
    controls(explorer)["map"].value = "Grad-CAM last block"
    assert "p(class 7)" in text_of(explorer)


def test_cam_explorer_with_zero_images_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="at least one image"):
        widgets.cam_explorer(GAPNet().eval(), digits[0][:0], digits[1][:0], layers={})


def test_depth_explorer_counts_parameters_and_leaves_the_global_rng_alone(digits):
    x = torch.nn.functional.avg_pool2d(digits[0], 2)
    state = torch.get_rng_state()
    explorer = widgets.depth_explorer(x, digits[1])
    assert torch.equal(torch.get_rng_state(), state)
    first = text_of(explorer)
    assert first.startswith("ResNet-32:") and "parameters" in first
    controls(explorer)["depth"].value = 8
    assert text_of(explorer).startswith("ResNet-8:")


@pytest.mark.parametrize("bad", [torch.zeros(0, 0), torch.zeros(1, 28, 28), torch.zeros(28, 28, dtype=torch.long)])
def test_image_explorers_reject_anything_but_one_float_image(bad):
    with pytest.raises(ValueError, match=r"images\[0, 0\]"):
        widgets.conv_explorer(bad)


def test_depth_explorer_never_seeds_cuda_on_the_cpu(digits, cuda_seed_calls):
    widgets.depth_explorer(torch.nn.functional.avg_pool2d(digits[0], 2)[:8], digits[1][:8])
    assert cuda_seed_calls == []


def test_wire_draws_once_and_again_whenever_a_control_changes():
    import ipywidgets

    calls = []
    slider = ipywidgets.IntSlider(value=1, min=0, max=5)
    out = ipywidgets.Output()
    box = widgets.wire([[slider]], lambda *_: calls.append(slider.value), out)
    assert calls == [1] and box.children[-1] is out
    slider.value = 3
    assert calls == [1, 3]
