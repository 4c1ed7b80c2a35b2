"""Tests for cnnbook.cam (CAM, Grad-CAM and their scores), the localisation set and GAPNet (chapter 6).

References: captum's LayerGradCam for Grad-CAM, Zhou et al.'s identity (mean of the CAM + bias = logit),
scipy.stats.spearmanr for rank correlation, hand calculations for boxes, IoU and the deletion game.
"""

import pytest
import scipy.stats
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import LayerGradCam

from cnnbook.cam import (BOX_THRESHOLDS, CAM_CHECK_IMAGES, box_accuracy_curve, box_and_point_scores, box_from_heatmap,
                         box_mask, calibrate_threshold, cam, centre_prior, deletion_auc, deletion_curve, deletion_score,
                         grad_cam, ink_density, iou, localisation_scores, pointing_game, random_prior, rank_correlation,
                         score_maps)
from cnnbook.models import GAPNet


class Branchy(nn.Module):
    """A residual block, max-pool and a flattening head: nothing like GAP + linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.inner = nn.Conv2d(6, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(6 * 6 * 6, 5)

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        h = h + F.relu(self.inner(h))
        return self.head(self.pool(h).flatten(1))


def architectures():
    """(name, model, layer, input) triples, each model with fresh random weights."""
    torch.manual_seed(0)
    gap = GAPNet(width=4).eval()
    plain = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ELU(),
                          nn.Flatten(), nn.Linear(8 * 7 * 7, 10)).eval()
    branchy = Branchy().eval()
    return [("gapnet_last_block", gap, gap.features[-1], torch.rand(4, 1, 32, 32)),
            ("gapnet_inner_conv", gap, gap.features[4], torch.rand(4, 1, 32, 32)),
            ("strided_flatten_head", plain, plain[2], torch.randn(3, 1, 20, 20)),
            ("residual_branch", branchy, branchy.inner, torch.randn(5, 3, 12, 12))]


@pytest.mark.parametrize("name, model, layer, x", [pytest.param(*case, id=case[0]) for case in architectures()])
def test_grad_cam_matches_captum_layergradcam_with_relu(name, model, layer, x):
    target = torch.arange(len(x)) % 3
    ours = grad_cam(model, layer, x, target)
    theirs = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)[:, 0].detach()
    assert ours.shape == theirs.shape
    assert theirs.abs().max() > 0, "a test on all-zero maps would prove nothing"
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    up = grad_cam(model, layer, x, target, upsample=True)
    expected = F.interpolate(theirs[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(up, expected, atol=1e-5, rtol=1e-5)


def test_grad_cam_equals_relu_cam_divided_by_hw_for_gap_linear_model():
    torch.manual_seed(1)
    model = GAPNet(width=4).eval()
    x = torch.rand(6, 1, 24, 24)
    target = torch.tensor([0, 1, 2, 3, 4, 5])
    class_map = cam(model, x, target)
    h, w = class_map.shape[-2:]
    gc = grad_cam(model, model.features, x, target)
    assert gc.max() > 0
    # with GAP, dy_c/dA_k(i, j) = w_ck / (h w), so Grad-CAM = ReLU(CAM) / (h w)
    torch.testing.assert_close(gc, class_map.relu() / (h * w), atol=1e-6, rtol=1e-5)


def test_cam_mean_plus_bias_is_the_logit_as_in_zhou_et_al():
    torch.manual_seed(2)
    model = GAPNet(width=4).eval()
    x = torch.rand(5, 1, 16, 16)
    target = torch.tensor([9, 0, 4, 4, 7])
    logits = model(x).detach()
    maps = cam(model, x, target)
    torch.testing.assert_close(maps.mean(dim=(1, 2)) + model.classifier.bias[target].detach(),
                               logits[torch.arange(5), target], atol=1e-5, rtol=1e-5)
    assert cam(model, x, target, upsample=True).shape == (5, 16, 16)
    assert cam(model, x, 3).shape == (5, 4, 4)


class Exploding(nn.Module):
    """Calls `conv`, then fails: the forward pass raises after the hook is registered."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("boom")


def test_grad_cam_removes_its_hook_after_success_and_after_a_failing_forward():
    torch.manual_seed(3)
    model = GAPNet(width=4).eval()
    layer = model.features[-1]
    grad_cam(model, layer, torch.rand(2, 1, 16, 16), 1)
    assert len(layer._forward_hooks) == 0 and len(layer._backward_hooks) == 0
    assert all(p.grad is None for p in model.parameters()), "grad_cam must not leave gradients on the weights"
    bad = Exploding().eval()
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam(bad, bad.conv, torch.rand(1, 1, 8, 8), 0)
    assert len(bad.conv._forward_hooks) == 0 and len(bad.conv._backward_hooks) == 0


def test_map_functions_reject_models_and_layers_that_do_not_fit_with_a_fix():
    model = GAPNet(width=4)
    x = torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match=r"model.eval\(\)"):
        grad_cam(model, model.features[-1], x, 0)
    model.eval()
    plain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 14 * 14, 10)).eval()
    with pytest.raises(TypeError, match="grad_cam"):
        cam(plain, x, 0)
    not_gap = GAPNet(width=4).eval()
    not_gap.forward = lambda inp: not_gap.classifier(not_gap.features(inp).amax(dim=(2, 3)))
    with pytest.raises(ValueError, match="global average pool"):
        cam(not_gap, x, 0)
    with pytest.raises(ValueError, match="inside model"):
        grad_cam(model, nn.Conv2d(1, 1, 3), x, 0)
    with pytest.raises(ValueError, match="spatial"):
        grad_cam(model, model.classifier, x, 0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        grad_cam(model, model.features[-1], x, 10)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        grad_cam(model, model.features[-1], x[0], 0)
    inplace = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(4 * 14 * 14, 3)).eval()
    with pytest.raises(ValueError, match="inplace=False"):
        grad_cam(inplace, inplace[0], x, 0)


def test_box_from_heatmap_keeps_the_largest_component_hand_example():
    h = torch.zeros(10, 12)
    h[1:3, 1:3] = 1.0  # small but hottest blob: 4 pixels
    h[5:9, 4:10] = 0.5  # larger blob: 24 pixels, above 0.2 * max
    h[0, 11] = 0.1  # below the threshold
    assert box_from_heatmap(h, 0.2).tolist() == [4, 5, 10, 9]
    assert box_from_heatmap(h, 0.6).tolist() == [1, 1, 3, 3]  # only the hot blob survives
    assert box_from_heatmap(torch.zeros(4, 4)).tolist() == [0, 0, 0, 0]
    assert box_from_heatmap(torch.stack([h, h])).shape == (2, 4)
    with pytest.raises(ValueError, match="0.2"):
        box_from_heatmap(h, 20)


def test_iou_hand_calculated():
    assert iou(torch.tensor([0, 0, 2, 2]), torch.tensor([1, 1, 3, 3])).item() == pytest.approx(1 / 7)
    assert iou(torch.tensor([0, 0, 4, 2]), torch.tensor([0, 0, 4, 2])).item() == 1.0
    assert iou(torch.tensor([0, 0, 2, 2]), torch.tensor([2, 2, 4, 4])).item() == 0.0  # touching, half-open
    assert iou(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 0])).item() == 0.0
    with pytest.raises(ValueError, match="x0, y0, x1, y1"):
        iou(torch.zeros(3), torch.zeros(4))


def test_pointing_game_hand_example():
    heat = torch.zeros(2, 5, 5)
    heat[0, 1, 3] = 2.0
    heat[1, 4, 0] = 1.0
    mask = torch.zeros(2, 5, 5, dtype=torch.bool)
    mask[:, 1, 3] = True
    assert pointing_game(heat, mask).tolist() == [True, False]
    with pytest.raises(ValueError, match="upsample"):
        pointing_game(heat, mask[:, :4])


def test_deletion_curve_against_a_model_with_a_known_answer():
    # logit_0 = sum_p v_p x_p, logit_1 = 0; all pixels 1, so p_0 = sigmoid(sum of the weights not yet deleted)
    weights = torch.arange(16, dtype=torch.float32) / 16
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2, bias=False)).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([weights, torch.zeros(16)]))
    x = torch.ones(1, 1, 4, 4)
    heat = weights.reshape(1, 4, 4)  # the map ranks pixels by their true weight
    fractions, probs = deletion_curve(model, x, heat, 0, steps=4)
    remaining = [weights.sort(descending=True).values[4 * s:].sum() for s in range(5)]
    torch.testing.assert_close(fractions, torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    torch.testing.assert_close(probs[0], torch.sigmoid(torch.stack(remaining)))
    # the trapezoid rule by hand
    expected = sum((probs[0, s] + probs[0, s + 1]) / 2 * 0.25 for s in range(4))
    assert deletion_auc(fractions, probs).item() == pytest.approx(expected.item())
    # zooming in on the start of the curve: the same points, up to half of the pixels
    half_fractions, half_probs = deletion_curve(model, x, heat, 0, steps=2, max_fraction=0.5)
    torch.testing.assert_close(half_fractions, torch.tensor([0, 0.25, 0.5]))
    torch.testing.assert_close(half_probs[0], torch.sigmoid(torch.stack(remaining[:3])))
    with pytest.raises(ValueError, match="upsample=True"):
        deletion_curve(model, x, heat[:, :2], 0)
    with pytest.raises(ValueError, match=r"max_fraction .* \(0, 1\]"):
        deletion_curve(model, x, heat, 0, max_fraction=0)


def test_rank_correlation_matches_scipy_spearman_with_ties():
    g = torch.Generator().manual_seed(4)
    a = torch.randint(0, 5, (3, 6, 6), generator=g).float()  # many ties, like ReLU'd maps
    b = a + torch.randint(0, 4, (3, 6, 6), generator=g).float()
    ours = rank_correlation(a, b)
    for n in range(3):
        ref = scipy.stats.spearmanr(a[n].flatten().numpy(), b[n].flatten().numpy()).statistic
        assert ours[n].item() == pytest.approx(ref, abs=1e-6)
    assert rank_correlation(a, a).tolist() == pytest.approx([1.0] * 3)


def test_localisation_scores_perfect_map_scores_one():
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 2:5, 1:4] = True
    masks[1, 5:7, 3:8] = True
    boxes = torch.tensor([[1, 2, 4, 5], [3, 5, 8, 7]])
    scores = localisation_scores(masks.float(), boxes, masks)
    assert scores == {"box accuracy": 1.0, "mean IoU": 1.0, "pointing accuracy": 1.0}


def test_gapnet_has_quarter_resolution_features_and_a_linear_classifier():
    model = GAPNet().eval()
    x = torch.rand(2, 1, 48, 48)
    assert model.features(x).shape == (2, 32, 12, 12)
    assert isinstance(model.classifier, nn.Linear) and model(x).shape == (2, 10)


def test_box_from_heatmap_rejects_a_nan_pixel_and_names_the_fix():
    heat = torch.zeros(8, 8)
    heat[2:5, 2:5] = 1.0
    heat[0, 7] = float("nan")  # one NaN pixel used to give the empty box (0, 0, 0, 0) without a word
    with pytest.raises(ValueError, match=r"heatmap contains 1 NaN.*nan_to_num"):
        box_from_heatmap(heat)
    with pytest.raises(ValueError, match="NaN or infinite"):
        pointing_game(heat, torch.zeros(8, 8, dtype=torch.bool))
    assert box_from_heatmap(torch.nan_to_num(heat, nan=0.0)).tolist() == [2, 2, 5, 5]  # the fix works


def test_cam_and_grad_cam_on_nan_images_say_the_images_contain_nan():
    torch.manual_seed(0)
    model = GAPNet(width=4).eval()
    x = torch.rand(2, 1, 16, 16)
    x[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x contains 1 NaN or infinite.*nan_to_num") as info:
        cam(model, x, 0)
    assert "not GAP" not in str(info.value) and "global average" not in str(info.value)
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        grad_cam(model, model.features[-1], x, 0)


def test_grad_cam_and_cam_take_a_numpy_integer_target():
    import numpy as np

    torch.manual_seed(1)
    model = GAPNet(width=4).eval()
    x = torch.rand(2, 1, 24, 24)
    assert torch.equal(grad_cam(model, model.features, x, np.int64(3)), grad_cam(model, model.features, x, 3))
    assert torch.equal(cam(model, x, np.int32(3)), cam(model, x, 3))
    with pytest.raises(TypeError, match="int\\(target\\)"):
        cam(model, x, 3.0)
    with pytest.raises(TypeError, match="integer class indices"):
        cam(model, x, torch.tensor([1.0, 2.0]))


def test_box_from_heatmap_with_a_string_threshold_is_a_type_error():
    with pytest.raises(TypeError, match="threshold must be a number"):
        box_from_heatmap(torch.rand(8, 8), threshold="0.2")
    with pytest.raises(ValueError, match="threshold must be in"):
        box_from_heatmap(torch.rand(8, 8), threshold=0.0)


def test_gapnet_rejects_a_width_of_zero_and_a_float_width():
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        GAPNet(width=0)
    with pytest.raises(TypeError, match="width must be an int"):
        GAPNet(width=8.0)


# ---------------------------------------------------------------------------- chapter 6's scoring protocol
def _blob_map(top, left, halo=True):
    """8×8 map: a 2×2 blob of heat 1 at (top, left), inside a 6×6 halo of heat 0.4 (when halo)."""
    m = torch.zeros(8, 8)
    if halo:
        m[max(top - 2, 0):top + 4, max(left - 2, 0):left + 4] = 0.4
    m[top:top + 2, left:left + 2] = 1.0
    return m


def test_score_maps_hand_example_threshold_chosen_on_the_calibration_maps():
    # calibration: the true box is the blob; at 0.3 the box is the 6×6 halo (IoU 4/36), at 0.5 and 0.7 the blob
    calib = torch.stack([_blob_map(3, 3)])
    calib_boxes = torch.tensor([[3, 3, 5, 5]])
    assert box_accuracy_curve(calib, calib_boxes, (0.3, 0.5, 0.7)).tolist() == [0.0, 1.0, 1.0]
    assert calibrate_threshold(calib, calib_boxes, (0.3, 0.5, 0.7)) == 0.5  # ties go to the smaller threshold
    # scored: map 0 is the calibration picture (a hit at 0.5), map 1 has its blob far from its true box
    heat = torch.stack([_blob_map(3, 3), _blob_map(0, 0, halo=False)])
    boxes = torch.tensor([[3, 3, 5, 5], [5, 5, 8, 8]])
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 4, 4] = True  # the ink of image 0 misses the map's first maximum (3, 3): a box hit, not an ink hit
    masks[1, 0, 0] = True  # image 1's ink lies under its peak although the box is elsewhere
    scores = score_maps(heat, boxes, masks, calib, calib_boxes, thresholds=(0.3, 0.5, 0.7))
    assert scores == {"box acc": 50.0, "point (box)": 50.0, "point (ink)": 50.0, "threshold": 0.5,
                      "curve": [0.0, 50.0, 50.0]}
    assert "curve" not in score_maps(heat, boxes, masks, calib, calib_boxes, thresholds=(0.3, 0.5), curve=False)


def test_score_maps_rejects_mismatched_masks_and_a_zero_threshold_with_the_fix():
    heat, boxes = torch.rand(2, 8, 8), torch.tensor([[0, 0, 4, 4], [1, 1, 5, 5]])
    with pytest.raises(ValueError, match="box_mask"):
        score_maps(heat, boxes, torch.ones(2, 8, 8), heat, boxes)  # float masks
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        score_maps(heat, boxes, torch.ones(2, 8, 8, dtype=torch.bool), heat, boxes, thresholds=(0.0, 0.5))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        score_maps(heat, boxes[0], torch.ones(2, 8, 8, dtype=torch.bool), heat, boxes)


def test_box_and_point_scores_hand_example():
    masks = torch.zeros(2, 5, 5, dtype=torch.bool)
    masks[0, 1, 1] = True
    boxes = torch.tensor([[0, 0, 2, 2], [2, 2, 5, 5]])
    predicted = torch.tensor([[0, 0, 2, 2], [0, 0, 1, 1]])  # a perfect box, and a box with IoU 0
    points = torch.tensor([1 * 5 + 1, 0])  # (row 1, col 1): in box and on ink; (0, 0): outside box 1
    assert box_and_point_scores(predicted, points, boxes, masks) == {"box acc": 50.0, "point (box)": 50.0,
                                                                     "point (ink)": 50.0}
    with pytest.raises(ValueError, match="argmax"):
        box_and_point_scores(predicted, points.float(), boxes, masks)
    with pytest.raises(ValueError, match=r"\[0, 25\)"):
        box_and_point_scores(predicted, torch.tensor([0, 25]), boxes, masks)


def test_box_mask_is_true_inside_the_half_open_box():
    mask = box_mask(torch.tensor([[1, 2, 3, 4]]), (5, 6))
    expected = torch.zeros(1, 5, 6, dtype=torch.bool)
    expected[0, 2:4, 1:3] = True
    assert torch.equal(mask, expected)
    with pytest.raises(ValueError, match=r"box\[None\]"):
        box_mask(torch.tensor([1, 2, 3, 4]), 5)


def test_deletion_score_is_the_mean_area_over_the_deleted_fraction():
    torch.manual_seed(0)
    model = GAPNet(width=4).eval()
    x, heat = torch.rand(3, 1, 16, 16), torch.rand(3, 16, 16)
    fractions, probs = deletion_curve(model, x, heat, 2, steps=4, max_fraction=0.1)
    value, curve = deletion_score(model, x, heat, 2, max_fraction=0.1, steps=4)
    assert value == pytest.approx(100 * deletion_auc(fractions, probs).mean().item() / 0.1, rel=1e-6)
    torch.testing.assert_close(curve, probs.mean(0))


def test_centre_and_random_priors_hand_calculated_and_reproducible():
    box, point, heat = centre_prior(40, (10, 14))
    assert box.tolist() == [15, 13, 25, 27] and point == 20 * 40 + 20
    assert heat[20, 20] == heat.max() and heat[0, 0] == heat.min()
    boxes, points = random_prior(500, 40, (10, 14), torch.Generator().manual_seed(1))
    assert ((boxes[:, 2] - boxes[:, 0]) == 10).all() and ((boxes[:, 3] - boxes[:, 1]) == 14).all()
    assert boxes[:, :2].min() >= 0 and boxes[:, 2].max() <= 40 and boxes[:, 3].max() <= 40
    assert points.min() >= 0 and points.max() < 1600
    again = random_prior(500, 40, (10, 14), torch.Generator().manual_seed(1))
    assert torch.equal(boxes, again[0]) and torch.equal(points, again[1])
    with pytest.raises(TypeError, match="manual_seed"):
        random_prior(5, 40, (10, 14), 1)


def test_ink_density_is_the_window_mean():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 49.0
    density = ink_density(x, window=7)
    assert density[0, 4, 4].item() == pytest.approx(1.0) and density[0, 1, 1].item() == pytest.approx(1.0)
    assert density[0, 0, 0].item() == 0.0  # the dot is 4 pixels away: outside the 7×7 window
    with pytest.raises(ValueError, match="odd window"):
        ink_density(x, window=4)


def test_box_thresholds_are_the_chapter_grid():
    assert BOX_THRESHOLDS == tuple(round(0.1 * k, 1) for k in range(1, 9))


def test_cam_checks_the_gap_ending_on_the_first_images_only_and_still_rejects_a_large_batch():
    torch.manual_seed(0)
    model = GAPNet(width=4).eval()
    x = torch.rand(3 * CAM_CHECK_IMAGES, 1, 16, 16)
    seen = []
    handle = model.classifier.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    try:
        maps = cam(model, x, 1)
    finally:
        handle.remove()
    assert seen == [CAM_CHECK_IMAGES, CAM_CHECK_IMAGES]  # model(x[:k]) and classifier(GAP(maps[:k]))
    with torch.no_grad():
        expected = torch.einsum("k,nkhw->nhw", model.classifier.weight[1], model.features(x))
    assert torch.allclose(maps, expected, atol=1e-6)  # every image gets its map, not only the checked ones
    not_gap = GAPNet(width=4).eval()
    not_gap.forward = lambda inp: not_gap.classifier(not_gap.features(inp).amax(dim=(2, 3)))
    with pytest.raises(ValueError, match="global average pool"):
        cam(not_gap, x, 0)
