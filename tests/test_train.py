"""cnnbook.train: the loop every chapter shares (fit), seeding, scoring, and the errors a careless call meets."""

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnbook import nas
from cnnbook.train import confusion_matrix, default_device, evaluate, fit, predict, set_seed

HISTORY_KEYS = {"epoch", "steps", "loss", "train_acc", "test_acc", "seconds", "losses"}


def separable(n: int = 64, seed: int = 0):
    """Two classes of 1×2×2 'images' that a linear layer separates perfectly: class = sign of pixel (0, 0)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 2, 2, generator=g)
    y = (x[:, 0, 0, 0] > 0).long()
    x[:, 0, 0, 0] += torch.where(y == 1, 1.0, -1.0)  # a margin of at least 1
    return x, y


def linear_model(seed: int = 0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 2))


# ----------------------------------------------------------------------------- fit
def test_fit_learns_a_separable_problem_to_100_percent():
    data = separable()
    model = linear_model()
    history = fit(model, data, data, epochs=30, batch_size=16, lr=0.05, progress=False)
    assert history[-1]["test_acc"] == 1.0
    assert evaluate(model, data) == 1.0
    assert history[-1]["loss"] < history[0]["loss"]


def test_fit_history_has_one_row_per_pass_with_every_key():
    history = fit(linear_model(), separable(40), separable(20, seed=1), epochs=3, batch_size=16, progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert [row["steps"] for row in history] == [3, 6, 9]  # 40 images in batches of 16: 3 per pass
    for row in history:
        assert set(row) == HISTORY_KEYS
        assert len(row["losses"]) == 3 and 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
        assert np.isclose(row["loss"], (16 * row["losses"][0] + 16 * row["losses"][1] + 8 * row["losses"][2]) / 40)


def test_fit_with_steps_trains_exactly_that_many_batches():
    model = linear_model()
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1) if model.training else None)
    history = fit(model, separable(40), epochs=None, steps=7, batch_size=16, progress=False)
    assert len(calls) == 7
    assert history[-1]["steps"] == 7 and sum(len(row["losses"]) for row in history) == 7
    assert [len(row["losses"]) for row in history] == [3, 3, 1]  # the last pass is cut short
    assert history[-1]["test_acc"] is None  # no test data given


def test_fit_leaves_the_model_on_the_device_the_caller_chose():
    model = linear_model()
    fit(model, separable(), epochs=1, progress=False)
    assert next(model.parameters()).device == torch.device("cpu")
    fit(model, separable(), epochs=1, progress=False, device="cpu")
    assert next(model.parameters()).device == torch.device("cpu")


def test_fit_is_reproducible_with_the_same_seed_and_leaves_the_global_rng_alone():
    runs = []
    for _ in range(2):
        model = linear_model(3)
        state = torch.get_rng_state()
        history = fit(model, separable(), epochs=2, batch_size=8, seed=5, progress=False)
        assert torch.equal(torch.get_rng_state(), state)  # batches were shuffled with a private generator
        runs.append((history[-1]["losses"], [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(epochs=1, batch_size=-1), ValueError, "batch_size must be an int >= 1"),
    (dict(epochs=1, batch_size=0), ValueError, "batch_size must be an int >= 1"),
    (dict(epochs=1, batch_size=2.0), TypeError, "batch_size must be an int >= 1"),
    (dict(epochs=True), TypeError, "epochs must be an int >= 1"),
    (dict(epochs=0), ValueError, "epochs must be an int >= 1"),
    (dict(steps=1.5), TypeError, "steps must be an int >= 1"),
    (dict(), ValueError, "exactly one of epochs="),
    (dict(epochs=1, steps=1), ValueError, "exactly one of epochs="),
    (dict(epochs=1, optimizer="rmsprop"), ValueError, "'adam' or 'sgd'"),
])
def test_fit_rejects_bad_counts_with_the_argument_name(kwargs, err, match):
    with pytest.raises(err, match=match):
        fit(linear_model(), separable(), progress=False, **kwargs)


def test_fit_accepts_numpy_integers_for_counts():
    history = fit(linear_model(), separable(), epochs=np.int64(1), batch_size=np.int32(32), progress=False)
    assert history[-1]["steps"] == 2


def test_fit_on_zero_images_says_it_needs_one():
    x, y = separable()
    with pytest.raises(ValueError, match="holds no images"):
        fit(linear_model(), (x[:0], y[:0]), epochs=1, progress=False)


@pytest.mark.parametrize("data,err,match", [
    ([torch.zeros(3, 1, 2, 2)], TypeError, "pair \\(images, labels\\)"),
    ((torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.long)), ValueError, "3 images but 2 labels"),
    ((torch.zeros(3, 1, 2, 2), torch.zeros(3)), TypeError, "labels.long\\(\\)"),
    ((torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.zeros(3, dtype=torch.long)), TypeError, "float\\(\\) / 255"),
])
def test_fit_explains_malformed_data(data, err, match):
    with pytest.raises(err, match=match):
        fit(linear_model(), data, epochs=1, progress=False)


# ----------------------------------------------------------------------------- predict, evaluate
def test_predict_returns_the_argmax_class_in_batches_and_sets_eval_mode():
    model = linear_model()
    x, _ = separable(50)
    model.train()
    got = predict(model, x, batch_size=7)
    assert got.dtype == torch.int64 and got.shape == (50,)
    assert torch.equal(got, model(x).argmax(1))
    assert not model.training


def test_evaluate_is_the_fraction_of_correct_predictions():
    model = linear_model()
    x, y = separable(50)
    expected = (model(x).argmax(1) == y).float().mean().item()
    assert evaluate(model, (x, y), batch_size=8) == pytest.approx(expected)


def test_predict_and_evaluate_on_zero_images_are_clear_errors():
    x, y = separable()
    with pytest.raises(ValueError, match="predict: images holds no images"):
        predict(linear_model(), x[:0])
    with pytest.raises(ValueError, match="evaluate: data holds no images"):
        evaluate(linear_model(), (x[:0], y[:0]))


def test_predict_rejects_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        predict(linear_model(), separable()[0], batch_size=0)


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 2, 0])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert torch.equal(confusion_matrix(labels, preds, num_classes=3), expected)


@pytest.mark.parametrize("labels,preds,err,match", [
    (torch.tensor([1, 2]), torch.tensor([15, 2]), ValueError, "preds holds class 15, outside 0..9"),
    (torch.tensor([10, 2]), torch.tensor([1, 2]), ValueError, "labels holds class 10, outside 0..9"),
    (torch.tensor([-1, 2]), torch.tensor([1, 2]), ValueError, "labels holds class -1"),
    (torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), TypeError, "integer class indices"),
    (torch.tensor([1, 2]), torch.zeros(2, 10, dtype=torch.long), ValueError, "argmax\\(1\\)"),
    ([1, 2], torch.tensor([1, 2]), TypeError, "torch.Tensor"),
])
def test_confusion_matrix_rejects_classes_outside_the_range(labels, preds, err, match):
    with pytest.raises(err, match=match):
        confusion_matrix(labels, preds, num_classes=10)


# ----------------------------------------------------------------------------- seeds and devices
def test_set_seed_makes_every_generator_repeat():
    draws = []
    for _ in range(2):
        set_seed(7)
        draws.append((random.random(), np.random.rand(), torch.rand(3).tolist()))
    assert draws[0] == draws[1]
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1


def test_set_seed_lets_ops_without_a_deterministic_kernel_run_with_a_warning():
    # On CUDA, adaptive average pooling's backward has no deterministic kernel: in strict mode every network
    # with AdaptiveAvgPool2d would raise on a reader's GPU. set_seed asks for warnings instead.
    set_seed(0)
    assert torch.is_deterministic_algorithms_warn_only_enabled()


@pytest.mark.parametrize("kwargs", [dict(seed=-1), dict(seed=1.5), dict(seed=True), dict(threads=0)])
def test_set_seed_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        set_seed(**kwargs)


def test_default_device_is_cuda_exactly_when_a_gpu_is_visible():
    assert default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


# ----------------------------------------------------------------------------- balanced_subset (nas.py)
def test_balanced_subset_takes_n_of_every_class_and_offsets_never_overlap():
    y = torch.arange(10).repeat_interleave(30)  # sorted by class, like the embedded split
    x = torch.arange(300).float().view(300, 1, 1, 1)  # each image remembers its index
    xa, ya = nas.balanced_subset((x, y), 5, offset=0, seed=1)
    xb, yb = nas.balanced_subset((x, y), 5, offset=5, seed=1)
    assert torch.equal(torch.bincount(ya, minlength=10), torch.full((10,), 5))
    assert torch.equal(y[xa.flatten().long()], ya)  # images and labels stay paired
    assert not set(xa.flatten().tolist()) & set(xb.flatten().tolist())
    assert (ya[:10] != ya[0]).any()  # shuffled, not class after class
    with pytest.raises(ValueError, match="cannot take"):
        nas.balanced_subset((x, y), 20, offset=20)
