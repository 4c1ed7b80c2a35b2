"""Models: every network the book trains or dissects, in plain `torch.nn`, no pretrained weights.

Sections, in the order the book meets them:
1. the source articles' models and small MNIST CNNs (chapters 2-4);
2. classic ImageNet feature extractors for receptive-field arithmetic (chapter 5);
3. networks for class activation maps (chapter 6);
4. architectures: VGG-style, ResNet, SE, a tiny ViT, and `summary` (chapter 7).
"""

from __future__ import annotations

import torch
import torch.nn as nn

# ============================================================================ 1. chapters 2-4

# ============================================================================ 2. chapter 5 (receptive fields)

# ============================================================================ 3. chapter 6 (CAM)

# ============================================================================ 4. chapter 7 (architectures)
