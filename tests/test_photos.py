"""Tests for cnnbook.photos (scikit-image's photographs as tensors) and the face detector FaceNet."""

import pytest
import torch

from cnnbook.models import FaceNet, LocalContrastNorm
from cnnbook.photos import (FACE_SPLITS, FACES_PER_SPLIT, PHOTOS, TEXTURES, augment, faces, photo, resize,
                            texture_patches, to_gray)


def test_photo_is_float_chw_in_unit_range_and_matches_skimage_pixels():
    import skimage.data

    cat = photo("chelsea")
    assert cat.dtype == torch.float32 and cat.shape == (3, 300, 451)
    assert 0.0 <= cat.min() and cat.max() <= 1.0
    raw = skimage.data.chelsea()
    assert torch.equal(cat, torch.from_numpy(raw).permute(2, 0, 1).float() / 255)


def test_grayscale_photo_has_one_channel_and_gray_matches_skimage_rgb2gray():
    from skimage.color import rgb2gray
    import skimage.data

    assert photo("brick").shape == (1, 512, 512)
    gray = photo("astronaut", gray=True)
    assert gray.shape == (1, 512, 512)
    expected = torch.from_numpy(rgb2gray(skimage.data.astronaut())).float()
    assert torch.allclose(gray[0], expected, atol=1e-5)


def test_every_listed_photo_loads_without_a_download():
    for name in PHOTOS:
        image = photo(name)
        assert image.dim() == 3 and image.shape[0] in (1, 3)


def test_photo_size_sets_the_shorter_side_and_keeps_the_aspect():
    assert photo("chelsea", size=100).shape == (3, 100, 150)
    assert photo("astronaut", gray=True, size=(64, 32)).shape == (1, 64, 32)


def test_photo_rejects_unknown_names_and_bad_sizes():
    with pytest.raises(ValueError, match="one of"):
        photo("lena")
    with pytest.raises(ValueError, match="size"):
        photo("chelsea", size=0)
    with pytest.raises(ValueError, match="size"):
        resize(photo("chelsea"), (10, 10, 10))


def test_to_gray_rejects_two_channels():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        to_gray(torch.zeros(2, 4, 4))


def test_faces_splits_are_disjoint_stratified_and_cover_all_200_crops():
    seen = []
    for split in FACE_SPLITS:
        x, y = faces(split)
        n = 2 * FACES_PER_SPLIT[split]
        assert x.shape == (n, 1, 25, 25) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert int(y.sum()) == n // 2  # half faces, half non-faces
        seen.append(x.flatten(1))
    everything = torch.cat(seen)
    assert len(everything) == 200
    assert len(torch.unique(everything, dim=0)) == 200  # no crop in two splits


def test_faces_labels_match_lfw_subset_order_faces_first():
    import skimage.data

    crops = torch.from_numpy(skimage.data.lfw_subset()).float()
    x, y = faces("test")
    for image, label in zip(x, y):
        index = int(torch.nonzero((crops == image[0]).flatten(1).all(1))[0])
        assert label == (1 if index < 100 else 0)


def test_faces_split_depends_on_seed_and_only_on_seed():
    a, _ = faces("train", seed=0)
    b, _ = faces("train", seed=0)
    c, _ = faces("train", seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="split"):
        faces("val")
    with pytest.raises(ValueError, match="seed"):
        faces("train", seed=-1)


def test_augment_is_reproducible_from_the_generator_and_leaves_global_rng_alone():
    x, _ = faces("validation")
    state = torch.random.get_rng_state()
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and a.shape == x.shape
    assert not torch.equal(a, x)


def test_augment_shift_moves_content_by_whole_pixels():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        y = augment(x, g, max_shift=2, flip=False)
        (row, col), = torch.nonzero(y[0, 0] == 1.0).tolist()
        assert abs(row - 4) <= 2 and abs(col - 4) <= 2
        assert y.sum() == 1.0  # only the one bright pixel, moved (edges repeat zeros)


def test_augment_without_shift_or_flip_is_the_identity():
    x, _ = faces("test")
    assert torch.equal(augment(x, torch.Generator(), max_shift=0, flip=False), x)


def test_augment_rejects_bad_arguments_with_the_fix():
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(TypeError, match="torch.Generator"):
        augment(x, 0)
    with pytest.raises(ValueError, match="unsqueeze"):
        augment(x[0], torch.Generator())
    with pytest.raises(ValueError, match="smaller"):
        augment(x, torch.Generator(), max_shift=8)


def test_texture_patches_come_from_disjoint_halves_with_balanced_labels():
    x_train, y_train = texture_patches("train", size=32)
    x_test, y_test = texture_patches("test", size=32)
    assert x_train.shape == (3 * 128, 1, 32, 32) and x_test.shape == x_train.shape
    assert torch.equal(torch.bincount(y_train), torch.tensor([128, 128, 128]))
    brick = photo("brick")[0]
    assert torch.equal(x_train[0, 0], brick[:32, :32])
    assert torch.equal(x_test[0, 0], brick[256:288, :32])
    assert len(TEXTURES) == 3
    with pytest.raises(ValueError, match="split"):
        texture_patches("validation")


def test_facenet_parameter_count_and_one_output_cell_per_crop():
    model = FaceNet()
    assert sum(p.numel() for p in model.parameters()) == 13554
    assert model.heat_map(torch.zeros(2, 1, 25, 25)).shape == (2, 2, 1, 1)
    assert model(torch.zeros(2, 1, 25, 25)).shape == (2, 2)


def test_facenet_heat_map_cell_equals_the_network_on_that_crop():
    torch.manual_seed(0)
    model = FaceNet().eval()
    with torch.no_grad():
        for m in model.modules():  # non-trivial BatchNorm statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        image = photo("astronaut", gray=True, size=64).unsqueeze(0)
        heat = model.heat_map(image)
        assert heat.shape == (1, 2, (64 - 25) // 4 + 1, (64 - 25) // 4 + 1)
        for i, j in [(0, 0), (3, 5), (9, 9)]:
            crop = image[..., 4 * i:4 * i + 25, 4 * j:4 * j + 25]
            assert torch.allclose(model(crop)[0], heat[0, :, i, j], atol=1e-5)


def test_facenet_receptive_field_is_the_crop():
    from cnnbook.rf import receptive_field

    model = FaceNet()
    lcn = model.features[0]
    assert isinstance(lcn, LocalContrastNorm) and lcn.kernel_size == 9
    # the layers after the contrast normalisation see 17 × 17 of its output; it adds 9 - 1 = 8 pixels
    rf = receptive_field(torch.nn.Sequential(model.features[1:], model.classifier), (64 - 8, 64 - 8))
    assert rf.size[0] + lcn.kernel_size - 1 == FaceNet.RECEPTIVE_FIELD == 25
    assert rf.jump == (FaceNet.STRIDE,) * 2 == (4, 4)
    assert rf.output_shape == tuple(model.heat_map(torch.zeros(1, 1, 64, 64)).shape[-2:]) == (10, 10)


def test_local_contrast_norm_standardises_each_window_by_hand():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 7, 8)
    y = LocalContrastNorm(3, eps=0.1)(x)
    assert y.shape == (1, 1, 5, 6)
    window = x[0, 0, 1:4, 2:5]  # output (1, 2) is centred on input (2, 3)
    expected = (x[0, 0, 2, 3] - window.mean()) / torch.sqrt(window.var(unbiased=False) + 0.01)
    assert torch.allclose(y[0, 0, 1, 2], expected, atol=1e-6)
    # invariant to brightness and contrast: a·x + b gives the same output (up to eps)
    assert torch.allclose(LocalContrastNorm(3, eps=1e-6)(3 * x + 0.5), LocalContrastNorm(3, eps=1e-6)(x), atol=1e-3)
    with pytest.raises(ValueError, match="odd"):
        LocalContrastNorm(4)


def test_facenet_rejects_colour_and_too_small_images():
    with pytest.raises(ValueError, match="gray=True"):
        FaceNet()(torch.zeros(1, 3, 25, 25))
    with pytest.raises(ValueError, match="25"):
        FaceNet()(torch.zeros(1, 1, 20, 20))
    with pytest.raises(ValueError, match="width"):
        FaceNet(width=0)


def test_augment_of_a_nested_list_is_a_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        augment([[0.0]], torch.Generator())
    with pytest.raises(TypeError, match="flip must be True or False"):
        augment(torch.zeros(1, 1, 8, 8), torch.Generator(), flip="yes")


def test_face_labels_name_label_0_and_label_1():
    from cnnbook.photos import FACE_LABELS

    assert FACE_LABELS == ("non-face", "face")
    _, labels = faces("test")
    assert set(labels.tolist()) == {0, 1}
