"""Chapter 4's analysis (cnnbook.features) against hand computations: correlations of filter responses
computed with explicit loops and NumPy, patches cropped by hand, class means and selectivity indices of
small examples worked out on paper."""

import numpy as np
import pytest
import torch

from cnnbook.features import class_means, class_selectivity, edge_kernels, edge_like, response_correlation, top_patches


def responses_by_loops(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation with zero 'same' padding, written out: out[i, j] = Σ_uv image[i+u-p, j+v-p] kernel[u, v]."""
    k = kernel.shape[0]
    p = k // 2
    padded = np.pad(image, p)
    out = np.zeros_like(image)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = (padded[i:i + k, j:j + k] * kernel).sum()
    return out


def test_response_correlation_matches_numpy_corrcoef_of_loop_responses():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 9, 8, generator=gen, dtype=torch.float64)
    a = torch.randn(2, 1, 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(3, 1, 5, 5, generator=gen, dtype=torch.float64)
    got = response_correlation(a, b, images)
    assert got.shape == (2, 3)
    for i in range(2):
        ra = np.concatenate([responses_by_loops(im[0].numpy(), a[i, 0].numpy()).ravel() for im in images])
        for j in range(3):
            rb = np.concatenate([responses_by_loops(im[0].numpy(), b[j, 0].numpy()).ravel() for im in images])
            assert got[i, j].item() == pytest.approx(np.corrcoef(ra, rb)[0, 1], abs=1e-10)


def test_a_filter_correlates_plus_one_with_itself_and_minus_one_with_its_negative():
    images = torch.rand(4, 1, 10, 10, generator=torch.Generator().manual_seed(1))
    vertical = edge_kernels()["vertical"][None, None]
    corr = response_correlation(vertical, torch.cat([vertical, -vertical, 3 * vertical]), images)
    torch.testing.assert_close(corr, torch.tensor([[1.0, -1.0, 1.0]]), atol=1e-5, rtol=0)


def test_edge_like_calls_edge_kernels_edges_and_the_blur_a_blob_whatever_the_sign():
    images = torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    bank = edge_kernels()
    assert list(bank) == ["vertical", "horizontal", "diagonal /", "diagonal \\", "blur"]
    filters = torch.stack([bank["vertical"], -bank["horizontal"], bank["diagonal /"], bank["blur"],
                           -2 * bank["blur"]])[:, None]
    assert edge_like(filters, images).tolist() == [True, True, True, False, False]


def test_top_patches_crops_the_largest_units_at_their_receptive_field_largest_first():
    # 2 images of 6x6 whose pixel (r, c) holds 100*n + 10*r + c, so a crop tells where it came from.
    r, c = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    images = torch.stack([10 * r + c, 100 + 10 * r + c])[:, None]
    acts = torch.zeros(2, 3, 3)
    acts[1, 2, 0] = 5.0  # unit (2, 0) of image 1: field rows first + 2*jump .., cols first + 0*jump ..
    acts[0, 1, 1] = 4.0
    patches, index, values = top_patches(acts, images, size=2, jump=2, first=0, k=2)
    assert index.tolist() == [1, 0] and values.tolist() == [5.0, 4.0]
    torch.testing.assert_close(patches[0], torch.tensor([[140.0, 141.0], [150.0, 151.0]]))  # rows 4-5, cols 0-1
    torch.testing.assert_close(patches[1], torch.tensor([[22.0, 23.0], [32.0, 33.0]]))      # rows 2-3, cols 2-3


def test_top_patches_fills_the_part_of_a_field_outside_the_image_with_zeros():
    images = torch.ones(1, 1, 4, 4)
    acts = torch.zeros(1, 2, 2)
    acts[0, 0, 0] = 1.0
    patches, _, _ = top_patches(acts, images, size=4, jump=2, first=-1, k=1)  # unit (0, 0) sees rows -1..2
    expected = torch.zeros(4, 4)
    expected[1:, 1:] = 1.0
    torch.testing.assert_close(patches[0], expected)


def test_class_means_and_selectivity_match_a_hand_worked_example():
    # channel 0: class 0 -> 1, class 1 -> 2, class 2 -> 3  => mu_max 3, rest mean 1.5, SI = 1.5 / 4.5 = 1/3
    # channel 1: 2 for every class                           => SI 0
    # channel 2: only class 1 responds (value 4)             => rest 0, SI 1
    labels = torch.tensor([0, 1, 2, 2])
    acts = torch.zeros(4, 3, 1, 2)
    acts[:, 0] = torch.tensor([1.0, 2.0, 3.0, 3.0])[:, None, None]
    acts[:, 1] = 2.0
    acts[1, 2] = torch.tensor([[2.0, 6.0]])  # mean over positions 4
    means = class_means(acts, labels, num_classes=3)
    torch.testing.assert_close(means, torch.tensor([[1.0, 2.0, 0.0], [2.0, 2.0, 4.0], [3.0, 2.0, 0.0]]))
    torch.testing.assert_close(class_selectivity(acts, labels, num_classes=3), torch.tensor([1 / 3, 0.0, 1.0]))


def test_class_selectivity_of_a_silent_channel_is_zero_not_nan():
    acts = torch.zeros(4, 1, 2, 2)
    assert class_selectivity(acts, torch.tensor([0, 1, 0, 1]), num_classes=2).tolist() == [0.0]


def test_class_selectivity_rejects_negative_activations_and_missing_classes_with_a_fix():
    with pytest.raises(ValueError, match="ReLU"):
        class_selectivity(-torch.ones(2, 1, 2, 2), torch.tensor([0, 1]), num_classes=2)
    with pytest.raises(ValueError, match="at least one image"):
        class_selectivity(torch.ones(2, 1, 2, 2), torch.tensor([0, 0]), num_classes=2)
    with pytest.raises(ValueError, match="one per image"):
        class_means(torch.ones(3, 1, 2, 2), torch.tensor([0, 1]), num_classes=2)


def test_response_correlation_and_top_patches_reject_wrong_shapes_with_a_fix():
    images = torch.rand(2, 1, 5, 5)
    with pytest.raises(ValueError, match=r"kernel\[None, None\]"):
        response_correlation(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3), images)
    with pytest.raises(ValueError, match="unsqueeze"):
        response_correlation(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3), images[0])
    with pytest.raises(TypeError, match=r"float\(\)"):
        edge_like(torch.ones(1, 1, 3, 3), images.long())
    with pytest.raises(ValueError, match=r"acts\[layer\]\[:, channel\]"):
        top_patches(torch.rand(3, 2, 2), images, size=2, jump=1, first=0)
    with pytest.raises(ValueError, match="lower k"):
        top_patches(torch.rand(2, 2, 2), images, size=2, jump=1, first=0, k=9)


def test_edge_kernels_are_chapter_1s_bank_under_short_names():
    from cnnbook.conv import kernel_bank

    bank = kernel_bank()
    ours = edge_kernels()
    assert list(ours) == ["vertical", "horizontal", "diagonal /", "diagonal \\", "blur"]
    for short, name in zip(ours, ["vertical edge", "horizontal edge", "diagonal /", "diagonal \\", "box blur"]):
        assert torch.equal(ours[short], bank[name])
