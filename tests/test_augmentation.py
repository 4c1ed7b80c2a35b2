"""cnnbook.augmentation: moving and turning digits, at random from a seeded generator (chapter 3b)."""

import pytest
import torch

from cnnbook.augmentation import move, shift_rotate


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
    with pytest.raises(ValueError, match=r"image\[None\]"):
        shift_rotate(torch.rand(1, 14, 14), torch.Generator())  # the right kind, the wrong shape
    with pytest.raises(TypeError, match="torch.Generator"):
        shift_rotate(torch.rand(1, 1, 14, 14), 0)
    with pytest.raises(ValueError, match="max_degrees"):
        shift_rotate(torch.rand(1, 1, 14, 14), torch.Generator(), max_degrees=-5)


def test_move_refuses_integer_images_as_the_wrong_kind():
    with pytest.raises(TypeError, match="floating-point images"):
        move(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 1, 0, 0)
