"""cnnbook.tasks: the synthetic tasks whose answer is known by construction (chapters 5 and 6)."""

import pytest
import torch

from cnnbook import tasks
from cnnbook.tasks import CLUTTER_SCALES, LocalisationSet, make_localisation_set


def test_two_dot_task_places_two_dots_gap_apart_in_the_labelled_direction():
    images, labels = tasks.two_dot_task(64, size=12, gap=5, noise=0.0, seed=3)
    assert images.shape == (64, 1, 12, 12) and set(labels.tolist()) == {0, 1}
    for image, label in zip(images[:, 0], labels):
        (r1, c1), (r2, c2) = torch.nonzero(image).tolist()
        dr, dc = (r2 - r1) % 12, (c2 - c1) % 12
        assert {dr, dc} <= {0, 5, 7} and ((dr in (5, 7)) == (label == 0)) and ((dc in (5, 7)) == (label == 1))


def test_two_dot_task_is_reproducible_from_its_seed_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    first = tasks.two_dot_task(16, size=10, gap=3, seed=7)
    assert torch.equal(torch.rand(3), expected)
    second = tasks.two_dot_task(16, size=10, gap=3, seed=7)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_two_dot_task_rejects_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="gap"):
        tasks.two_dot_task(4, size=8, gap=8)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        tasks.two_dot_task(0)
    with pytest.raises(TypeError, match="gap must be an int"):
        tasks.two_dot_task(4, gap=2.0)
    with pytest.raises(ValueError, match="noise"):
        tasks.two_dot_task(4, noise=-0.1)


def test_localisation_set_is_deterministic_and_consistent():
    a = make_localisation_set(40, "test", canvas=48, scale=(16, 28), seed=5)
    b = make_localisation_set(40, "test", canvas=48, scale=(16, 28), seed=5)
    c = make_localisation_set(40, "test", canvas=48, scale=(16, 28), seed=6)
    for ta, tb in zip(a, b):
        assert torch.equal(ta, tb)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (40, 1, 48, 48) and a.images.dtype == torch.float32
    assert a.images.min() >= 0 and a.images.max() <= 1
    assert a.labels.dtype == torch.int64 and a.masks.dtype == torch.bool
    for box, mask in zip(a.boxes, a.masks):  # the box is exactly the mask's bounding box
        rows, cols = mask.nonzero(as_tuple=True)
        assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        assert 16 * 0.3 <= (box[3] - box[1]) <= 28  # the digit's height follows the scale
    clean = make_localisation_set(40, "test", canvas=48, scale=(16, 28), clutter=0, noise=0.0, seed=5)
    outside = torch.ones_like(clean.masks)
    for n, (x0, y0, x1, y1) in enumerate(clean.boxes.tolist()):
        outside[n, y0:y1, x0:x1] = False
    assert clean.images[:, 0][outside].max() <= 0.5, "without clutter, no ink lies outside the target's box"
    assert (a.images[:, 0][outside] > 0.5).any(), "with clutter, there is ink outside the target's box"
    with pytest.raises(ValueError, match="fit on the canvas"):
        make_localisation_set(4, canvas=20, scale=(16, 28))


@pytest.mark.parametrize("noise, error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                          (-0.1, ValueError), (True, TypeError), ("0.1", TypeError)])
def test_localisation_set_rejects_a_noise_that_is_not_a_finite_non_negative_number(noise, error):
    with pytest.raises(error, match=r"noise must be .*e\.g\. 0\.05"):
        make_localisation_set(4, canvas=32, scale=(12, 20), noise=noise)


def test_localisation_set_clutter_has_the_targets_stroke_statistics_unless_asked_for_the_original_scale():
    def saturated_fraction(data):  # share of ink pixels (>= 0.25) that are nearly white, target vs clutter
        inside = torch.zeros_like(data.masks)
        for n, (x0, y0, x1, y1) in enumerate(data.boxes.tolist()):
            inside[n, y0:y1, x0:x1] = True
        x = data.images[:, 0]
        return [((x >= 0.9) & region & (x >= 0.25)).sum() / (region & (x >= 0.25)).sum()
                for region in (inside, ~inside)]

    same = make_localisation_set(200, "test", canvas=40, scale=(14, 24), noise=0.0, seed=1)
    target, clutter = saturated_fraction(same)
    assert abs(target - clutter) < 0.05, "clutter resized like the target: same stroke statistics"
    old = make_localisation_set(200, "test", canvas=40, scale=(14, 24), noise=0.0, seed=1, clutter_scale="original")
    target, clutter = saturated_fraction(old)
    assert clutter > target + 0.2, "28-pixel clutter has thicker, whiter strokes than a shrunk target"
    with pytest.raises(ValueError, match="clutter_scale must be one of"):
        make_localisation_set(4, canvas=32, scale=(12, 20), clutter_scale="small")


def test_localisation_set_is_a_named_tuple_and_knows_its_clutter_scales():
    result = make_localisation_set(3, canvas=32, scale=(12, 20), seed=2)
    assert isinstance(result, LocalisationSet) and result._fields == ("images", "labels", "boxes", "masks")
    assert CLUTTER_SCALES == ("target", "original")
    with pytest.raises(TypeError, match="split must be a string"):
        make_localisation_set(3, split=1)
