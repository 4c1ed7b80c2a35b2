"""cnnbook.randomness: one seeded context that gives every generator back, and the chapters' seed helper."""

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnbook.randomness import OFFSET_VARIABLE, book_seed, book_seeds, seed_offset, seeded, set_seed


def draws():
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_seeded_block_is_reproducible_and_leaves_every_caller_generator_as_it_was():
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = draws()
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    with seeded(3):
        first = draws()
    assert draws() == expected                      # the caller's streams continue as if nothing was drawn
    with seeded(3):
        assert draws() == first                     # and the block itself follows its seed


def test_seeded_makes_dropout_follow_the_seed():
    layer, x = nn.Dropout(0.5).train(), torch.ones(1000)
    with seeded(7):
        a = layer(x)
    torch.rand(10)                                  # the caller draws in between
    with seeded(7):
        b = layer(x)
    assert torch.equal(a, b) and not torch.equal(a, layer(x))


def test_seeded_on_the_cpu_never_touches_cuda_generators(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda *a: calls.append(("all", a)))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda *a: calls.append(("one", a)))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    with seeded(1):
        torch.rand(3)
    assert calls == []


def test_seeded_restores_the_states_when_the_block_raises():
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    with pytest.raises(RuntimeError):
        with seeded(9):
            torch.rand(100)
            raise RuntimeError("boom")
    assert torch.equal(torch.rand(2), expected)


def test_book_seed_shifts_by_the_environment_offset(monkeypatch):
    monkeypatch.delenv(OFFSET_VARIABLE, raising=False)
    assert seed_offset() == 0 and book_seed(3) == 3 and book_seeds(3) == (0, 1, 2)
    monkeypatch.setenv(OFFSET_VARIABLE, "1000")
    assert book_seed() == 1000 and book_seeds(2, start=5) == (1005, 1006)


@pytest.mark.parametrize("text, hint", [("ten", "whole number"), ("-3", ">= 0"), ("1.5", "whole number")])
def test_a_bad_offset_is_refused_with_the_fix(monkeypatch, text, hint):
    monkeypatch.setenv(OFFSET_VARIABLE, text)
    with pytest.raises(ValueError, match=hint):
        book_seed(0)


@pytest.mark.parametrize("call, error", [
    (lambda: book_seed(-1), ValueError), (lambda: book_seed(1.5), TypeError), (lambda: book_seeds(0), ValueError),
    (lambda: seeded(1.5).__enter__(), TypeError), (lambda: set_seed(1.5), TypeError),
    (lambda: set_seed(-1), ValueError), (lambda: set_seed(0, threads=0), ValueError),
])
def test_wrong_kind_is_a_type_error_and_wrong_range_a_value_error(call, error):
    with pytest.raises(error):
        call()


def test_set_seed_makes_two_runs_equal_and_its_globals_are_restored_by_the_fixture(restore_torch_globals):
    set_seed(4)
    first = draws()
    set_seed(4)
    assert draws() == first
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
