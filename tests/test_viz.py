"""Figures of chapters 2-4: each returns a figure with the expected axes and labels, and rejects bad shapes
with a message that says what to pass instead."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnnbook import viz  # noqa: E402
from cnnbook.train import confusion_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def test_image_grid_draws_one_panel_per_image_with_its_title_and_removes_spare_cells():
    images = torch.rand(7, 1, 28, 28)
    fig = viz.image_grid(images, titles=[f"true {k}" for k in range(7)], ncols=4, title="seven digits")
    assert len(fig.axes) == 7  # a 2x4 grid with the 8th cell removed
    assert [ax.get_title() for ax in fig.axes] == [f"true {k}" for k in range(7)]
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), images[3, 0].numpy())
    assert fig._suptitle.get_text() == "seven digits"


def test_image_grid_rejects_a_single_image_and_mismatched_titles():
    with pytest.raises(ValueError, match=r"images\[:20\]"):
        viz.image_grid(torch.rand(28, 28))
    with pytest.raises(ValueError, match="one title per image"):
        viz.image_grid(torch.rand(3, 28, 28), titles=["a", "b"])


def test_kernels_grid_uses_rdbu_centred_at_zero_on_one_shared_scale():
    w = torch.tensor([[[[1.0, -3.0], [0.0, 0.5]]], [[[2.0, 0.0], [0.0, -1.0]]]])  # (2, 1, 2, 2), max |w| = 3
    fig = viz.kernels_grid(w)
    panels = image_axes(fig)
    assert len(panels) == 2
    for ax in panels:
        assert ax.images[0].get_cmap().name == "RdBu_r"
        assert ax.images[0].get_clim() == (-3.0, 3.0)
    assert len(fig.axes) == 3  # 2 kernels + 1 colorbar


def test_kernels_grid_rejects_multi_channel_kernels_with_a_hint():
    with pytest.raises(ValueError, match=r"\(C_out, 1, k, k\)"):
        viz.kernels_grid(torch.rand(4, 3, 3, 3))


def test_feature_maps_grid_uses_cividis_from_zero_for_relu_maps_and_labels_channels():
    maps = torch.rand(5, 14, 14)
    fig = viz.feature_maps_grid(maps, titles=[f"ch {k}" for k in (3, 1, 4, 1, 5)], ncols=5)
    panels = image_axes(fig)
    assert [ax.get_title() for ax in panels] == ["ch 3", "ch 1", "ch 4", "ch 1", "ch 5"]
    assert panels[0].images[0].get_cmap().name == "cividis"
    assert panels[0].images[0].get_clim() == (0.0, pytest.approx(maps.max().item()))


def test_feature_maps_grid_switches_to_signed_colours_when_maps_go_negative():
    fig = viz.feature_maps_grid(torch.randn(2, 5, 5))
    assert image_axes(fig)[0].images[0].get_cmap().name == "RdBu_r"


def test_feature_maps_grid_rejects_a_batch_of_activations_and_mismatched_titles():
    with pytest.raises(ValueError, match=r"acts\[0\]"):
        viz.feature_maps_grid(torch.rand(2, 8, 7, 7))
    with pytest.raises(ValueError, match="one per map"):
        viz.feature_maps_grid(torch.rand(3, 7, 7), titles=["a"])


def test_training_curves_plots_loss_and_both_accuracies_in_percent():
    history = [{"epoch": e, "loss": 1 / e, "train_acc": 0.8 + 0.05 * e, "test_acc": 0.85 + 0.03 * e,
                "seconds": 1.0} for e in (1, 2, 3)]
    fig = viz.training_curves(history, title="it learns")
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_xlabel() == "epoch" and "loss" in ax_loss.get_ylabel()
    assert ax_acc.get_ylabel() == "accuracy (%)"
    assert len(ax_acc.lines) == 2
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [88.0, 91.0, 94.0])


def test_training_curves_rejects_something_that_is_not_a_history():
    with pytest.raises(ValueError, match="returned by fit"):
        viz.training_curves([])
    with pytest.raises(ValueError, match="returned by fit"):
        viz.training_curves([{"epoch": 1, "loss": 0.3}])


def test_confusion_matrix_plot_annotates_every_count_and_labels_true_and_predicted():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 2, 0])
    counts = confusion_matrix(labels, preds, num_classes=3)
    fig = viz.plot_confusion_matrix(counts)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(int(n)) for n in counts.flatten()]  # row by row, including the zeros
    assert texts[8] == "2"  # two 2s predicted as 2


def test_confusion_matrix_plot_rejects_a_non_square_array():
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((3, 4)))


def test_plot_prediction_shows_the_image_and_one_bar_per_class_in_percent():
    p = torch.tensor([0.1, 0.7, 0.2])
    fig = viz.plot_prediction(torch.rand(1, 28, 28), p, true_label=1)
    ax_img, ax_bar = fig.axes
    assert ax_img.get_title() == "true digit 1"
    np.testing.assert_allclose([bar.get_height() for bar in ax_bar.patches], [10.0, 70.0, 20.0], rtol=1e-6)
    assert ax_bar.get_title() == "predicted 1 with 70%"


def test_plot_prediction_rejects_a_batch_of_probabilities():
    with pytest.raises(ValueError, match=r"softmax\(1\)\[0\]"):
        viz.plot_prediction(torch.rand(28, 28), torch.rand(2, 10))


# ----------------------------------------------------------------------------- the other figures: a property each
def test_show_matrix_centres_signed_values_at_zero_and_annotates_every_cell():
    fig, ax = plt.subplots()
    im = viz.show_matrix(ax, np.array([[1.0, -2.0], [0.5, 0.0]]), signed=True, annotate=True)
    assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-2.0, 2.0)
    assert [t.get_text() for t in ax.texts] == ["1", "-2", "0.5", "0"]


def test_plot_conv_titles_each_panel_with_its_size():
    fig = viz.plot_conv(torch.rand(6, 7), torch.ones(3, 3), torch.rand(4, 5))
    assert [ax.get_title() for ax in image_axes(fig)] == ["input 6×7", "kernel 3×3", "output 4×5"]


def test_plot_pooling_states_the_reduction_factor():
    fig = viz.plot_pooling(torch.rand(8, 8), torch.rand(4, 4), "max", 2, 2)
    assert "4.0× fewer numbers" in fig._suptitle.get_text()
    assert [ax.get_title() for ax in image_axes(fig)] == ["input: 8×8 pixels", "after max pooling: 4×4 pixels"]


def test_plot_gradient_support_outlines_the_analytic_field():
    values = np.zeros((9, 9))
    values[2:7, 2:7] = 1.0
    fig = viz.plot_gradient_support([("5×5", values, (2, 2, 6, 6))])
    [rect] = [p for p in fig.axes[0].patches]
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (1.5, 1.5, 5, 5)


def test_plot_effective_fields_normalises_each_map_to_its_maximum():
    fig = viz.plot_effective_fields({"a": (np.full((5, 5), 4.0), (1, 1, 3, 3)), "b": (np.eye(5), (0, 0, 4, 4))})
    assert len(image_axes(fig)) == 2
    assert image_axes(fig)[0].images[0].get_array().max() == pytest.approx(1.0)


def test_plot_field_on_image_clips_boxes_that_reach_into_the_padding():
    fig = viz.plot_field_on_image(torch.rand(10, 10), [((-3, -3, 4, 4), "unit (0, 0)")])
    rect = fig.axes[0].patches[0]
    assert (rect.get_x(), rect.get_y()) == (-0.5, -0.5) and rect.get_width() == 5


def test_plot_cam_grid_has_one_row_per_image_and_one_column_per_method():
    images = torch.rand(2, 8, 8)
    fig = viz.plot_cam_grid(images, {"CAM": torch.rand(2, 8, 8), "Grad-CAM": torch.rand(2, 8, 8)},
                            boxes={"CAM": torch.tensor([[1, 1, 5, 5], [0, 0, 8, 8]])})
    assert len(fig.axes) == 2 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "CAM", "Grad-CAM"]
    assert len(fig.axes[1].patches) == 1  # the CAM box


def test_threshold_and_deletion_plots_draw_one_line_per_method_in_the_stated_units():
    fig = viz.plot_threshold_sensitivity([0.1, 0.2, 0.3], {"CAM": [0.5, 0.6, 0.4], "Grad-CAM": [0.2, 0.3, 0.1]})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_ylim() == (0, 100)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [50, 60, 40])
    fig = viz.plot_deletion_curves([0.0, 0.5, 1.0], {"CAM": [0.9, 0.5, 0.1]})
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [0, 50, 100])


def test_plot_lines_uses_one_based_x_when_none_is_given_and_a_log_axis_on_request():
    fig = viz.plot_lines(None, {"a": [3.0, 2.0, 1.0]}, "layer", "norm", logy=True)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "layer"


def test_plot_excitations_draws_one_bar_per_channel_and_label():
    fig = viz.plot_excitations({"digit 0": [0.2, 0.8, 0.5], "digit 1": [0.4, 0.1, 0.9]})
    assert len(fig.axes[0].patches) == 6 and fig.axes[0].get_ylim() == (0, 1)


@pytest.mark.parametrize("call,match", [
    (lambda: viz.plot_pooling(torch.zeros(0, 0), torch.zeros(0, 0), "max", 2, 2), "plot_pooling: image is empty"),
    (lambda: viz.plot_pooling(torch.rand(4, 4), torch.zeros(0, 0), "max", 2, 2), "plot_pooling: pooled is empty"),
    (lambda: viz.plot_pooling(torch.rand(1, 4, 4), torch.rand(2, 2), "max", 2, 2), r"\[0, 0\]"),
    (lambda: viz.plot_prediction(torch.rand(28, 28), torch.zeros(0)), "probabilities is empty"),
    (lambda: viz.plot_prediction(torch.zeros(0, 0), torch.ones(10) / 10), "image is empty"),
    (lambda: viz.plot_conv(torch.zeros(0, 0), torch.ones(3, 3), torch.zeros(0, 0)), "image is empty"),
    (lambda: viz.plot_confusion_matrix(np.zeros((0, 0))), "counts is empty"),
    (lambda: viz.plot_lines(None, {}, "x", "y"), "non-empty dict"),
    (lambda: viz.plot_lines(None, {"a": []}, "x", "y"), r"ys\['a'\] is empty"),
    (lambda: viz.plot_excitations({}), "non-empty dict"),
    (lambda: viz.plot_threshold_sensitivity([], {}), "thresholds is empty"),
    (lambda: viz.plot_deletion_curves([0.5], {}), "non-empty dict"),
    (lambda: viz.plot_cam_grid(torch.zeros(0, 8, 8), {}), "images is empty"),
    (lambda: viz.plot_gradient_support([]), "panels is empty"),
    (lambda: viz.plot_effective_fields({}), "fields is empty"),
    (lambda: viz.plot_field_on_image(torch.zeros(0, 0), []), "image is empty"),
])
def test_empty_inputs_are_named_errors_not_crashes_deep_inside(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_plot_kernel_responses_lays_out_images_by_kernels_with_signed_colours():
    images = {"digit": torch.rand(28, 28), "photo": torch.rand(30, 40)}
    responses = {k: {n: torch.randn(v.shape[0] - 2, v.shape[1] - 2) for n, v in images.items()} for k in ("a", "b")}
    fig = viz.plot_kernel_responses(images, responses, title="t")
    panels = image_axes(fig)
    assert len(panels) == 6
    assert [ax.get_title() for ax in panels[:3]] == ["digit, 28×28", "a", "b"]
    lim = float(np.percentile(responses["b"]["photo"].abs().numpy(), 99))  # the rare strongest values saturate
    assert panels[5].images[0].get_cmap().name == "RdBu_r"
    assert panels[5].images[0].get_clim() == pytest.approx((-lim, lim))
    with pytest.raises(ValueError, match="must map every image name"):
        viz.plot_kernel_responses(images, {"a": {"digit": torch.zeros(3, 3)}})


# ----------------------------------------------------------------------------- chapter 3b's figures (cnnbook.viz)
def test_plot_trajectories_draws_one_line_per_optimiser_and_refuses_no_paths():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook import viz

    xs, ys = torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 4)
    surface = (xs[None, :] ** 2 + ys[:, None] ** 2) + 0.1
    paths = {"a": torch.tensor([[1.0, 1.0], [0.5, 0.2]]), "b": torch.tensor([[1.0, 1.0], [0.0, 0.0]])}
    fig = viz.plot_trajectories(xs, ys, surface, paths, title="t")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "a" in labels and "b" in labels and "start" in labels and fig.axes[0].get_xlabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.plot_trajectories(xs, ys, surface, {})


def test_plot_seed_bars_marks_the_means_with_one_panel_per_entry():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook import viz

    fig = viz.plot_seed_bars({"accuracy (%)": {"x": [1.0, 2.0, 3.0], "y": [4.0, 4.0, 4.0]}, "gap": {"x": [0.0, 2.0]}})
    assert len(fig.axes) == 2
    means = [line.get_ydata()[0] for line in fig.axes[0].get_lines() if line.get_marker() == "D"]
    assert means == pytest.approx([2.0, 4.0]) and fig.axes[0].get_ylabel() == "accuracy (%)"
    plt.close(fig)
    with pytest.raises(ValueError, match="panels"):
        viz.plot_seed_bars({"accuracy": {}})
