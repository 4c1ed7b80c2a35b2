"""cnnbook.splits: stratified subsets and the validation split (chapter 3b)."""

import pytest
import torch

from cnnbook.splits import class_subset, validation_split

LABELS = torch.arange(10).repeat_interleave(30)          # 30 examples of each of 10 classes, sorted


def test_class_subset_takes_per_class_examples_of_every_class_without_repeats():
    idx = class_subset(LABELS, 7, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(LABELS[idx], minlength=10), torch.full((10,), 7))
    assert len(set(idx.tolist())) == len(idx) and torch.equal(idx, idx.sort().values)


def test_class_subset_depends_only_on_the_generator_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = class_subset(LABELS, 5, torch.Generator().manual_seed(4))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(a, class_subset(LABELS, 5, torch.Generator().manual_seed(4)))
    assert not torch.equal(a, class_subset(LABELS, 5, torch.Generator().manual_seed(5)))


def test_class_subset_refuses_more_than_a_class_holds_and_says_how_many():
    with pytest.raises(ValueError, match="at most 30"):
        class_subset(LABELS, 31, torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="torch.Generator"):
        class_subset(LABELS, 3, 0)
    with pytest.raises(TypeError, match="1-D integer"):
        class_subset(LABELS.float(), 3, torch.Generator())
    with pytest.raises(TypeError, match="per_class must be an int"):
        class_subset(LABELS, 1.5, torch.Generator())  # the wrong kind: TypeError


def test_validation_split_is_disjoint_stratified_and_complete():
    images = torch.arange(len(LABELS), dtype=torch.float32)[:, None, None, None]   # image i holds the value i
    (x_tr, y_tr), (x_val, y_val) = validation_split(images, LABELS, per_class=4, seed=1)
    assert len(x_tr) == 260 and len(x_val) == 40
    assert torch.equal(torch.bincount(y_val), torch.full((10,), 4))
    ids_train, ids_val = set(x_tr.flatten().long().tolist()), set(x_val.flatten().long().tolist())
    assert not ids_train & ids_val and len(ids_train | ids_val) == len(LABELS)
    assert torch.equal(LABELS[x_val.flatten().long()], y_val)                # images stay with their labels


def test_validation_split_rejects_mismatched_or_wrong_kinds():
    with pytest.raises(ValueError, match="300 labels"):
        validation_split(torch.zeros(5, 1, 2, 2), LABELS, per_class=1)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        validation_split([0.0] * 300, LABELS, per_class=1)
    with pytest.raises(TypeError, match="seed must be an int"):
        validation_split(torch.zeros(300, 1, 2, 2), LABELS, per_class=1, seed=0.5)
