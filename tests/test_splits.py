"""cnnbook.regularise: stratified subsets and validation split, seeded augmentation, the chapter's tiny CNN."""

import pytest
import torch
import torch.nn as nn

from cnnbook.regularise import class_subset, move, shift_rotate, tiny_cnn, validation_split

LABELS = torch.arange(10).repeat_interleave(30)          # 30 examples of each of 10 classes, sorted


def test_class_subset_takes_per_class_examples_of_every_class_without_repeats():
    idx = class_subset(LABELS, 7, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(LABELS[idx], minlength=10), torch.full((10,), 7))
    assert len(set(idx.tolist())) == len(idx) and torch.equal(idx, idx.sort().values)


def test_class_subset_depends_only_on_the_generator_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = class_subset(LABELS, 5, torch.Generator().manual_seed(4))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(a, class_subset(LABELS, 5, torch.Generator().manual_seed(4)))
    assert not torch.equal(a, class_subset(LABELS, 5, torch.Generator().manual_seed(5)))


def test_class_subset_refuses_more_than_a_class_holds_and_says_how_many():
    with pytest.raises(ValueError, match="at most 30"):
        class_subset(LABELS, 31, torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="torch.Generator"):
        class_subset(LABELS, 3, 0)
    with pytest.raises(TypeError, match="1-D integer"):
        class_subset(LABELS.float(), 3, torch.Generator())


def test_validation_split_is_disjoint_stratified_and_complete():
    images = torch.arange(len(LABELS), dtype=torch.float32)[:, None, None, None]   # image i holds the value i
    (x_tr, y_tr), (x_val, y_val) = validation_split(images, LABELS, per_class=4, seed=1)
    assert len(x_tr) == 260 and len(x_val) == 40
    assert torch.equal(torch.bincount(y_val), torch.full((10,), 4))
    ids_train, ids_val = set(x_tr.flatten().long().tolist()), set(x_val.flatten().long().tolist())
    assert not ids_train & ids_val and len(ids_train | ids_val) == len(LABELS)
    assert torch.equal(LABELS[x_val.flatten().long()], y_val)                # images stay with their labels


def test_move_by_whole_pixels_equals_a_roll_with_zero_fill():
    x = torch.rand(2, 1, 9, 11, generator=torch.Generator().manual_seed(0))
    right = torch.roll(x, 2, dims=3)
    right[..., :2] = 0
    up = torch.roll(x, -1, dims=2)
    up[..., -1, :] = 0
    assert torch.allclose(move(x, 2, 0, 0), right, atol=1e-5)
    assert torch.allclose(move(x, 0, -1, 0), up, atol=1e-5)


def test_move_by_90_degrees_turns_clockwise_as_displayed():
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(move(x, 0, 0, 90), torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)


def test_shift_rotate_is_seeded_bounded_and_identity_at_zero():
    x = torch.rand(16, 1, 14, 14, generator=torch.Generator().manual_seed(0))
    a = shift_rotate(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, shift_rotate(x, torch.Generator().manual_seed(3)))
    assert not torch.allclose(a, x)
    assert torch.equal(shift_rotate(x, torch.Generator().manual_seed(3), max_shift=0, max_degrees=0), x)
    # a move within one pixel and 15 degrees keeps most of a centred blob's ink
    blob = torch.zeros(4, 1, 14, 14)
    blob[..., 5:9, 5:9] = 1
    moved = shift_rotate(blob, torch.Generator().manual_seed(0), max_shift=1, max_degrees=15)
    assert ((moved * blob).sum((1, 2, 3)) / blob.sum((1, 2, 3)) > 0.4).all()


def test_shift_rotate_rejects_bad_inputs_with_a_fix():
    with pytest.raises(TypeError, match=r"image\[None\]"):
        shift_rotate(torch.rand(1, 14, 14), torch.Generator())
    with pytest.raises(ValueError, match="max_degrees"):
        shift_rotate(torch.rand(1, 1, 14, 14), torch.Generator(), max_degrees=-5)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_tiny_cnn_with_and_without_pooling_has_equal_parameters_and_maps(batch_norm):
    pooled, strided = tiny_cnn(8, pooling=True, batch_norm=batch_norm), tiny_cnn(8, pooling=False, batch_norm=batch_norm)
    count = lambda m: sum(p.numel() for p in m.parameters())
    expected = (1 * 9 + 1) * 8 + (8 * 9 + 1) * 16 + (144 + 1) * 10 + (2 * (8 + 16) if batch_norm else 0)
    assert count(pooled) == count(strided) == expected
    x = torch.rand(5, 1, 14, 14)
    assert pooled(x).shape == strided(x).shape == (5, 10)
    assert pooled[:-1](x).shape == strided[:-1](x).shape == (5, 144)   # same flattened features


def test_tiny_cnn_places_dropout_before_the_linear_layer_and_validates():
    net = tiny_cnn(4, dropout=0.5)
    assert isinstance(net[-2], nn.Dropout) and net[-2].p == 0.5
    with pytest.raises(ValueError, match="dropout"):
        tiny_cnn(4, dropout=1.0)
    with pytest.raises(ValueError, match="channels"):
        tiny_cnn(0)


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
