"""Training: seeds, one plain training loop, and how to score a classifier.

Used from chapter 3 on. `fit` is the loop every chapter shares: shuffle, forward, loss, backward, step,
and after each epoch a row of history (loss, training accuracy, test accuracy, seconds).
With `set_seed`, the same call on the same machine gives the same numbers.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm


def set_seed(seed: int = 0, threads: int = 1) -> None:
    """Seed Python, NumPy and torch, make torch deterministic (CPU and CUDA), and fix its CPU thread count.

    The thread count changes the order in which sums are reduced, hence the last digits of results, so
    it is fixed too: 1 by default, which gives the same numbers on any machine and keeps parallel test
    workers from fighting over cores. Pass threads=2 or more to trade that for speed.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}.")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed for deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)


def default_device() -> torch.device:
    """CUDA when a GPU is visible, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_data(data, name: str):
    if data is None:
        return None
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError(f"{name} must be a pair (images, labels) of tensors, e.g. load_mnist(split='train'), "
                        f"got {type(data).__name__}.")
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} images but {len(y)} labels; they must match one to one.")
    if y.dtype != torch.int64 or y.dim() != 1:
        raise TypeError(f"{name}: labels must be a 1-D int64 tensor of class indices, got {y.dtype} "
                        f"with shape {tuple(y.shape)} — call labels.long().")
    if not x.is_floating_point():
        raise TypeError(f"{name}: images must be floating point, got {x.dtype} — call images.float() / 255.")
    return x, y


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 500, device=None) -> torch.Tensor:
    """Predicted class of each image: (N, ...) -> int64 (N,). Puts the model in eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    preds = [model(images[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(preds)


def evaluate(model: nn.Module, data, batch_size: int = 500) -> float:
    """Accuracy in [0, 1] of `model` on data = (images, labels)."""
    images, labels = _check_data(data, "data")
    return (predict(model, images, batch_size) == labels).float().mean().item()


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    if labels.shape != preds.shape:
        raise ValueError(f"labels {tuple(labels.shape)} and preds {tuple(preds.shape)} must have the same shape.")
    index = labels.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def fit(model: nn.Module, train_data, test_data=None, epochs: int = 1, batch_size: int = 64, lr: float = 1e-3,
        optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0, device=None,
        progress: bool = True) -> list[dict]:
    """Train `model` with cross-entropy on train_data = (images, labels); returns the history.

    images: (N, C, H, W) float; labels: (N,) int64. optimizer: "adam" or "sgd" (momentum 0.9).
    One history row per epoch: {"epoch", "loss", "train_acc", "test_acc", "seconds"}. "loss" and
    "train_acc" are running means over the epoch's batches (what Keras prints); "test_acc" is measured
    after the epoch with `evaluate` (None without test_data).
    """
    x_train, y_train = _check_data(train_data, "train_data")
    test_data = _check_data(test_data, "test_data")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    params = model.parameters()
    opt = (torch.optim.Adam(params, lr=lr, weight_decay=weight_decay) if optimizer == "adam"
           else torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay))
    loss_fn = nn.CrossEntropyLoss()
    shuffler = torch.Generator().manual_seed(seed)
    history = []
    steps = (len(x_train) + batch_size - 1) // batch_size
    bar = tqdm(total=epochs * steps, desc="training", unit="batch", disable=not progress, leave=False)
    for epoch in range(1, epochs + 1):
        model.train()
        start, total_loss, correct = time.perf_counter(), 0.0, 0
        order = torch.randperm(len(x_train), generator=shuffler)
        for i in range(0, len(x_train), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            bar.update(1)
        row = {"epoch": epoch, "loss": total_loss / len(x_train), "train_acc": correct / len(x_train),
               "test_acc": evaluate(model, test_data) if test_data is not None else None,
               "seconds": time.perf_counter() - start}
        history.append(row)
    bar.close()
    return history
