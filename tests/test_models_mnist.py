"""Models of chapters 2-4: output shapes, parameter counts checked against hand calculations, and the
source article's head that does not fit its own body."""

import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from cnnbook.models import AlchemyNet, KerasCNN, LeNet5, PhilosopherStone, SmallCNN, tiny_cnn


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model_class", [KerasCNN, AlchemyNet, LeNet5, SmallCNN])
def test_every_mnist_model_maps_a_batch_of_digits_to_ten_logits(model_class):
    torch.manual_seed(0)
    assert model_class()(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_alchemynet_parameters_match_hand_count_320_plus_54090():
    # conv: 32 filters of 1x3x3 weights + 32 biases; linear: 32*13*13 = 5408 inputs x 10 outputs + 10 biases
    model = AlchemyNet()
    assert n_params(model.conv) == 32 * 3 * 3 + 32 == 320
    assert n_params(model.fc) == 5408 * 10 + 10 == 54_090
    assert n_params(model) == 54_410


def test_alchemynet_features_are_32_maps_of_13x13_flattened_like_the_article_computes():
    # 28 -> conv 3x3 -> 26 -> pool 2 -> 13
    assert AlchemyNet().features(torch.rand(2, 1, 28, 28)).shape == (2, 32 * 13 * 13)


def test_kerascnn_computes_the_same_function_as_alchemynet_given_the_same_weights():
    torch.manual_seed(0)
    alchemy, keras = AlchemyNet(), KerasCNN()
    keras[0].load_state_dict(alchemy.conv.state_dict())
    keras[4].load_state_dict(alchemy.fc.state_dict())
    assert n_params(keras) == n_params(alchemy)
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(keras(x), alchemy(x))


def test_philosopherstone_parameters_match_hand_count():
    # 1024*512 + 512 and 512*10 + 10
    assert n_params(PhilosopherStone()) == 524_800 + 5_130


def test_philosopherstone_does_not_fit_alchemynet_5408_features_as_printed_in_the_article():
    features = AlchemyNet().features(torch.rand(2, 1, 28, 28))
    with pytest.raises(RuntimeError, match=r"2x5408 and 1024x512"):
        PhilosopherStone()(features)


def test_philosopherstone_with_in_features_5408_fits_alchemynet():
    features = AlchemyNet().features(torch.rand(2, 1, 28, 28))
    assert PhilosopherStone(in_features=5408)(features).shape == (2, 10)


def test_lenet5_parameters_match_lecun_1998_layer_sizes_counted_by_hand():
    # C1 6*(5*5)+6, C3 16*(6*5*5)+16 (full table), C5 400*120+120, F6 120*84+84, output 84*10+10
    model = LeNet5()
    assert n_params(model) == 156 + 2_416 + 48_120 + 10_164 + 850 == 61_706


def test_lenet5_padding_2_keeps_the_paper_sizes_28_then_5x5x16():
    model = LeNet5()
    x = torch.rand(1, 1, 28, 28)
    assert model.features[0](x).shape == (1, 6, 28, 28)  # C1 on the paper's 32x32 input gives 28x28 too
    assert model.features(x).shape == (1, 16, 5, 5)


def test_smallcnn_parameters_match_hand_count():
    # convs without bias (BatchNorm adds it): 1*16*9, 16*32*9, 32*64*9; BatchNorm 2 per channel; linear 64*9*10+10
    convs = 16 * 9 + 16 * 32 * 9 + 32 * 64 * 9
    batchnorm = 2 * (16 + 32 + 64)
    linear = 64 * 3 * 3 * 10 + 10
    assert n_params(SmallCNN()) == convs + batchnorm + linear == 29_178


def test_smallcnn_activations_have_the_pooled_sizes_and_feed_the_head():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = torch.rand(2, 1, 28, 28)
    acts = model.activations(x)
    assert [tuple(a.shape) for a in acts] == [(2, 16, 14, 14), (2, 32, 7, 7), (2, 64, 3, 3)]
    assert all((a >= 0).all() for a in acts)  # after ReLU and max pooling
    torch.testing.assert_close(model.head(acts[-1]), model(x))


def test_smallcnn_rejects_bad_channels_and_bad_inputs_with_a_fix():
    with pytest.raises(ValueError, match="three positive ints"):
        SmallCNN(channels=(16, 32))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        SmallCNN(dropout=1.0)
    with pytest.raises(ValueError, match=r"images\[:1\]"):
        SmallCNN().activations(torch.rand(1, 28, 28))


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
    with pytest.raises(TypeError, match="dropout must be a number"):
        tiny_cnn(4, dropout="0.5")



def test_networks_do_not_import_training_or_data():
    code = "import sys, cnnbook.models; print(sorted(m for m in ('cnnbook.train', 'cnnbook.data') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
