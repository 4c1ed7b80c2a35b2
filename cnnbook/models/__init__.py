"""Models: every network the book trains or dissects, in plain `torch.nn`, no pretrained weights.

One file per family, in the order the book meets them (import any network from `cnnbook.models`):
- `mnist`: the source articles' models and small MNIST CNNs (chapters 2-4), `tiny_cnn` (chapter 3b);
- `imagenet`: classic ImageNet feature extractors for receptive-field arithmetic (chapter 5);
- `gap`: a network ending in global average pooling, for class activation maps (chapter 6);
- `vgg`, `resnet`, `vit`: VGG-style stacks, ResNets with squeeze-and-excitation, a tiny ViT (chapter 7);
- `faces`: `FaceNet`, a fully convolutional face detector for photographs (chapters 4, 6b, 8);
- `clips`: `ClipNet` (Conv3d on clips); `fourier`: `FourierConv2d` and `ShiftNet` (chapter 8).
Networks never import training, data or analysis: what a network costs is `cnnbook.anatomy`, how it is
trained is `cnnbook.train` and `cnnbook.recipes`.
"""

from .mnist import KerasCNN, AlchemyNet, PhilosopherStone, LeNet5, SmallCNN, tiny_cnn
from .imagenet import alexnet_features, vgg16_features, ResNet50Bottleneck, resnet50_features
from .gap import GAPNet
from .vgg import vgg_style
from .resnet import SEBlock, BasicBlock, ResNet
from .vit import PatchEmbedding, MultiHeadSelfAttention, TransformerBlock, TinyViT
from .faces import LocalContrastNorm, FaceNet
from .clips import ClipNet
from .fourier import FourierConv2d, ShiftNet

__all__ = ['KerasCNN', 'AlchemyNet', 'PhilosopherStone', 'LeNet5', 'SmallCNN', 'tiny_cnn', 'alexnet_features', 'vgg16_features', 'ResNet50Bottleneck', 'resnet50_features', 'GAPNet', 'vgg_style', 'SEBlock', 'BasicBlock', 'ResNet', 'PatchEmbedding', 'MultiHeadSelfAttention', 'TransformerBlock', 'TinyViT', 'LocalContrastNorm', 'FaceNet', 'ClipNet', 'FourierConv2d', 'ShiftNet']
