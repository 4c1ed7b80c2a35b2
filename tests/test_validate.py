"""cnnbook._validate: the one argument-checks module. The rule: the wrong kind -> TypeError, a value of the
right kind out of range -> ValueError; messages name the function, the argument and the fix."""

import numpy as np
import pytest
import torch

from cnnbook import _validate


@pytest.mark.parametrize("call, error", [
    (lambda: _validate.integer(1.5, "n", who="f"), TypeError),
    (lambda: _validate.integer(True, "n", who="f"), TypeError),
    (lambda: _validate.integer(0, "n", who="f"), ValueError),
    (lambda: _validate.positive_int("3", "n"), TypeError),
    (lambda: _validate.pair((1, 2, 3), "kernel"), ValueError),
    (lambda: _validate.pair((1, 2.0), "kernel"), TypeError),
    (lambda: _validate.pair(2.0, "kernel"), TypeError),
    (lambda: _validate.pair((0, 1), "kernel"), ValueError),
    (lambda: _validate.number("0.5", "p"), TypeError),
    (lambda: _validate.number(True, "p"), TypeError),
    (lambda: _validate.number(float("nan"), "p"), ValueError),
    (lambda: _validate.number(1.0, "p", 0.0, 1.0, high_open=True), ValueError),
    (lambda: _validate.tensor([1.0], "x"), TypeError),
    (lambda: _validate.tensor(torch.zeros(2, dtype=torch.long), "x", floating=True), TypeError),
    (lambda: _validate.tensor(torch.zeros(2), "x", dims=4), ValueError),
    (lambda: _validate.not_empty(0, "x"), ValueError),
    (lambda: _validate.choice(1, "optimizer", ("adam",)), TypeError),
    (lambda: _validate.choice("sgd", "optimizer", ("adam",)), ValueError),
    (lambda: _validate.flag(1, "flip"), TypeError),
    (lambda: _validate.generator(0), TypeError),
    (lambda: _validate.module([torch.nn.ReLU()]), TypeError),
    (lambda: _validate.sizes((1, 2), "shape", 3), ValueError),
    (lambda: _validate.sizes((1, 2.0, 3), "shape", 3), TypeError),
    (lambda: _validate.labels(torch.zeros(3), "labels"), TypeError),
    (lambda: _validate.labels(torch.zeros(3, 2, dtype=torch.long), "labels"), ValueError),
    (lambda: _validate.labels(torch.tensor([-1, 0]), "labels"), ValueError),
])
def test_the_wrong_kind_is_a_type_error_and_the_wrong_value_a_value_error(call, error):
    with pytest.raises(error):
        call()


def test_valid_values_come_back_as_plain_python_values():
    assert _validate.integer(np.int64(3), "n") == 3 and type(_validate.integer(np.int64(3), "n")) is int
    assert _validate.is_int(np.int32(1)) and not _validate.is_int(True) and not _validate.is_int(1.0)
    assert _validate.pair(3, "k") == (3, 3) and _validate.pair(torch.tensor([2, 1]), "k") == (2, 1)
    assert _validate.number(np.float32(0.5), "p") == 0.5 and _validate.flag(np.bool_(True), "f") is True
    assert _validate.sizes([1, 28, 28], "input_size", 3) == (1, 28, 28)
    assert _validate.choice("adam", "optimizer", ("adam", "sgd")) == "adam"
    g = torch.Generator()
    assert _validate.generator(g) is g
    labels = torch.tensor([0, 2, 1])
    assert _validate.labels(labels) is labels


def test_messages_name_the_function_the_argument_and_a_fix():
    with pytest.raises(TypeError, match=r"^fit: epochs must be an int >= 1 \(passes\), got 2.0 .*epochs=2"):
        _validate.integer(2.0, "epochs", 1, "passes", "fit")
    with pytest.raises(ValueError, match="for a 224×224 image pass 224"):
        _validate.pair((1, 2, 3), "input_size", example="for a 224×224 image pass 224 or (224, 224)")
    with pytest.raises(ValueError, match="add the batch axis"):
        _validate.tensor(torch.zeros(1, 5, 5), "x", "conv2d", "(N, C, H, W)", dims=4)
