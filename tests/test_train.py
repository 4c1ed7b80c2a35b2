"""cnnbook.train: the loop every chapter shares (fit), seeding, scoring, and the errors a careless call meets."""

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnbook.models import vgg_style
from cnnbook.randomness import seeded
from cnnbook.train import (confusion_matrix, default_device, evaluate, fit, fit_seeds, loss_and_accuracy, predict,
                           recalibrate_batchnorm)

pytestmark = pytest.mark.usefixtures("one_thread")  # training on one thread, as the chapters do

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


def dropout_model(seed: int = 0):
    with seeded(seed):
        return nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))


def test_fit_with_dropout_is_reproducible_and_leaves_every_global_generator_alone():
    runs = []
    for _ in range(2):
        model = dropout_model()
        before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
        history = fit(model, separable(), epochs=3, batch_size=8, seed=4, progress=False)
        assert random.getstate() == before[0]
        assert np.array_equal(np.random.get_state()[1], before[1])
        assert torch.equal(torch.get_rng_state(), before[2])
        runs.append([loss for row in history for loss in row["losses"]])
    assert runs[0] == runs[1]
    other = fit(dropout_model(), separable(), epochs=3, batch_size=8, seed=5, progress=False)
    assert [loss for row in other for loss in row["losses"]] != runs[0]  # the dropout masks follow seed


def test_fit_draws_nothing_from_the_caller_stream():
    torch.manual_seed(11)
    fit(dropout_model(), separable(), epochs=1, batch_size=8, progress=False)
    after = torch.rand(3)
    torch.manual_seed(11)
    assert torch.equal(torch.rand(3), after)


def hand_loop(model, data, epochs, batch_size, lr, seed):
    """fit written out: Adam, shuffling with randperm on a generator seeded with `seed`."""
    images, labels = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    shuffler = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=shuffler)
        for start in range(0, len(images), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_fit_equals_a_hand_written_loop_on_a_model_without_dropout():
    data = separable(50)
    mine = hand_loop(linear_model(2), data, epochs=3, batch_size=16, lr=0.01, seed=6)
    history = fit(linear_model(2), data, epochs=3, batch_size=16, lr=0.01, seed=6, progress=False)
    assert [loss for row in history for loss in row["losses"]] == mine


@pytest.mark.parametrize("kwargs", [dict(), dict(test_data=separable(8)), dict(val_data=separable(8)),
                                    dict(steps=3, epochs=None)])
def test_fit_always_returns_the_model_in_eval_mode(kwargs):
    model = dropout_model()
    fit(model, separable(), **{"epochs": 1, **kwargs}, progress=False)
    assert not model.training and not any(m.training for m in model.modules())


def test_fit_with_val_data_adds_validation_loss_and_accuracy_measured_in_eval_mode():
    model, val = dropout_model(), separable(30, seed=2)
    history = fit(model, separable(), val_data=val, epochs=2, batch_size=16, progress=False)
    assert all(set(row) == HISTORY_KEYS | {"val_loss", "val_acc"} for row in history)
    loss, acc = loss_and_accuracy(model, val)
    assert history[-1]["val_loss"] == pytest.approx(loss) and history[-1]["val_acc"] == pytest.approx(acc)
    again = loss_and_accuracy(model, val, batch_size=7)  # eval mode: dropout off, so the same numbers
    assert again[0] == pytest.approx(loss) and again[1] == acc


def test_loss_and_accuracy_is_the_mean_cross_entropy_and_the_fraction_correct():
    model, (x, y) = linear_model(), separable(20)
    logits = model(x)
    loss, acc = loss_and_accuracy(model, (x, y), batch_size=6)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item())
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    with pytest.raises(ValueError, match="no items"):
        loss_and_accuracy(model, (x[:0], y[:0]))


def test_fit_with_patience_stops_and_loads_the_weights_of_the_best_validation_loss():
    data, val = separable(64), separable(64, seed=9)
    val = (val[0], 1 - val[1])  # flipped labels: the better the model learns, the worse the validation loss
    model = linear_model(1)
    history = fit(model, data, val_data=val, patience=2, epochs=20, batch_size=16, lr=0.05, progress=False)
    losses = [row["val_loss"] for row in history]
    best = int(np.argmin(losses))
    assert len(history) == best + 1 + 2 < 20  # stopped two passes after the best one
    assert loss_and_accuracy(model, val)[0] == pytest.approx(losses[best])  # the best weights came back


def test_fit_without_patience_keeps_the_last_weights_even_with_val_data():
    data, val = separable(64), separable(64, seed=9)
    model = linear_model(1)
    history = fit(model, data, val_data=(val[0], 1 - val[1]), epochs=4, batch_size=16, lr=0.05, progress=False)
    assert len(history) == 4
    assert loss_and_accuracy(model, (val[0], 1 - val[1]))[0] == pytest.approx(history[-1]["val_loss"])


def test_fit_calls_augment_on_each_cpu_batch_with_its_own_generator_seeded_once():
    seen = []

    def augment(images, generator):
        seen.append((images.device.type, len(images), generator.initial_seed()))
        return images + 0.01 * torch.randn(images.shape, generator=generator)

    data = separable(40)
    history = fit(linear_model(), data, epochs=2, batch_size=16, seed=3, augment=augment, progress=False)
    assert [s[1] for s in seen] == [16, 16, 8] * 2 and {s[0] for s in seen} == {"cpu"} and {s[2] for s in seen} == {3}
    plain = fit(linear_model(), data, epochs=2, batch_size=16, seed=3, progress=False)
    same = fit(linear_model(), data, epochs=2, batch_size=16, seed=3, augment=augment, progress=False)
    assert history[-1]["losses"] == same[-1]["losses"] != plain[-1]["losses"]
    # the augmentation draws from a stream of its own: the same batches are shuffled as without it
    order = []
    fit(linear_model(), data, epochs=1, batch_size=40, seed=3, progress=False,
        augment=lambda images, g: order.append(images.clone()) or images)
    torch.manual_seed(3)
    assert torch.equal(order[0], data[0][torch.randperm(40)])


def test_fit_with_adamw_decays_the_weights_differently_from_adam():
    runs = {}
    for name in ("adam", "adamw", "sgd"):
        model = linear_model()
        fit(model, separable(), epochs=2, optimizer=name, weight_decay=0.5, progress=False)
        runs[name] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert not torch.equal(runs["adam"], runs["adamw"]) and not torch.equal(runs["adamw"], runs["sgd"])


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(epochs=1, batch_size=-1), ValueError, "batch_size must be an int >= 1"),
    (dict(epochs=1, batch_size=0), ValueError, "batch_size must be an int >= 1"),
    (dict(epochs=1, batch_size=2.0), TypeError, "batch_size must be an int >= 1"),
    (dict(epochs=True), TypeError, "epochs must be an int >= 1"),
    (dict(epochs=0), ValueError, "epochs must be an int >= 1"),
    (dict(steps=1.5), TypeError, "steps must be an int >= 1"),
    (dict(), ValueError, "exactly one of epochs="),
    (dict(epochs=1, steps=1), ValueError, "exactly one of epochs="),
    (dict(epochs=1, optimizer="rmsprop"), ValueError, "'adam', 'adamw', 'sgd'"),
    (dict(epochs=1, optimizer=1), TypeError, "optimizer must be a string"),
    (dict(epochs=1, lr="0.1"), TypeError, "lr must be a number"),
    (dict(epochs=1, momentum=1.5), ValueError, "momentum must be in"),
    (dict(epochs=1, patience=2), ValueError, "needs val_data"),
    (dict(steps=3, patience=2, val_data=separable(8)), ValueError, "give epochs="),
    (dict(epochs=1, patience=0, val_data=separable(8)), ValueError, "patience must be an int >= 1"),
    (dict(epochs=1, augment="flip"), TypeError, "augment must be None or a callable"),
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


# ----------------------------------------------------------------------------- devices
def test_default_device_is_one_tensors_can_be_made_on(monkeypatch):
    assert torch.zeros(1, device=default_device()).device.type == default_device().type
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")


# ----------------------------------------------------------------------------- recalibrate_batchnorm
def test_recalibrate_batchnorm_sets_the_statistics_of_the_data_and_keeps_the_weights():
    torch.manual_seed(0)
    model = vgg_style([3], batch_norm=True)
    x = torch.randn(40, 1, 6, 6) * 2 + 1
    weights = [p.clone() for p in model.parameters()]
    recalibrate_batchnorm(model, x, batch_size=40)
    with torch.no_grad():
        z = model[0](x)                                     # the conv output the BatchNorm normalises
    bn = model[1]
    assert torch.allclose(bn.running_mean, z.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, z.var((0, 2, 3), unbiased=True), rtol=1e-4)
    assert bn.momentum == 0.1 and not model.training
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))


def test_recalibrate_batchnorm_without_batchnorm_returns_the_model_in_eval_mode():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).train()
    assert recalibrate_batchnorm(model, torch.zeros(3, 1, 2, 2)) is model  # was StopIteration-free only with BN
    assert not model.training
    assert recalibrate_batchnorm(nn.ReLU(), torch.zeros(3, 1, 2, 2)) is not None  # no parameters at all
    with pytest.raises(TypeError, match="floating-point images"):
        recalibrate_batchnorm(model, torch.zeros(3, 1, 2, 2, dtype=torch.long))


def test_fit_takes_every_listed_optimizer():
    from cnnbook.train import OPTIMIZERS

    assert OPTIMIZERS == ("adam", "adamw", "sgd")
    for name in OPTIMIZERS:
        assert len(fit(linear_model(), separable(16), epochs=1, optimizer=name, progress=False)) == 1


# ----------------------------------------------------------------------------- fit_seeds
def test_fit_seeds_equals_building_each_model_in_seeded_and_calling_fit():
    data = separable(48)
    make = lambda: nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(4, 2))
    trained = fit_seeds(make, data, [3, 5], device="cpu", epochs=2, batch_size=16, lr=0.05)
    for seed, (model, history) in zip([3, 5], trained):
        with seeded(seed):
            twin = make()
        twin_history = fit(twin, data, epochs=2, batch_size=16, lr=0.05, seed=seed, progress=False)
        assert [row["losses"] for row in history] == [row["losses"] for row in twin_history]
        assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))
        assert not model.training
    assert not torch.equal(trained[0][0][2].weight, trained[1][0][2].weight)   # other seed, other weights


@pytest.mark.parametrize("args, kwargs, err, match", [
    (("tiny_cnn", separable(8), [0]), dict(epochs=1), TypeError, "function that builds a fresh model"),
    ((lambda: linear_model(), separable(8), []), dict(epochs=1), ValueError, "at least one seed"),
    ((lambda: linear_model(), separable(8), [0]), dict(epochs=1, seed=3), TypeError, "leave them out"),
])
def test_fit_seeds_explains_bad_arguments(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        fit_seeds(*args, **kwargs)
