"""Splits of a data set: small stratified subsets and a validation split (chapter 3b).

`class_subset` picks the same number of examples of every class with a seeded generator (through
`cnnbook.data.per_class_indices`, the book's one per-class subset); `validation_split` carves a validation
set out of the training data with it, so that choices (learning rate, when to stop, which regulariser) are
made without looking at the test set. Neither touches the global random state.
"""

from __future__ import annotations

import torch

from . import _validate
from .data import per_class_indices


def class_subset(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of `per_class` examples of every class, drawn without replacement: (C * per_class,) int64.

    labels: (N,) with classes 0..C-1. The indices are sorted (class by class in the embedded MNIST split),
    so the subset keeps the data's order; the draw depends only on `generator`.
    """
    _validate.generator(generator, "generator", "class_subset")
    return per_class_indices(labels, per_class, generator=generator, who="class_subset").sort().values


def validation_split(images: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int = 0):
    """Split training data into ((train images, labels), (validation images, labels)), stratified.

    The validation part holds `per_class` examples of each class, drawn with a generator seeded by `seed`;
    the training part holds all the others. No example is in both (each index is used once).
    """
    _validate.tensor(images, "images", "validation_split", "(N, C, H, W)")
    labels = _validate.labels(labels, "labels", "validation_split")
    if len(images) != len(labels):
        raise ValueError(f"validation_split: {len(images)} images but {len(labels)} labels; they must match one "
                         f"to one.")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which split, e.g. seed=0", who="validation_split")
    val = class_subset(labels, per_class, torch.Generator().manual_seed(seed))
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val] = False
    return (images[keep], labels[keep]), (images[val], labels[val])
