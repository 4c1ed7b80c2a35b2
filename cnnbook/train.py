"""Training: seeds, one plain training loop, and how to score a classifier.

Used from chapter 3 on. `fit` is the loop every chapter shares: shuffle, forward, loss, backward, step,
for a number of epochs or of steps, and after each pass over the data a row of history (loss, training
accuracy, test accuracy, seconds). With `set_seed`, the same call on the same machine gives the same
numbers; on another machine they differ in the last digits (see `set_seed` and `cnnbook.measure`).
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from . import _validate
from .randomness import seeded, set_seed  # noqa: F401  (set_seed: chapters import it from here too)


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
    """Predicted class of each image: (N, ...) -> int64 (N,), on the CPU. Puts the model in eval mode.

    Runs in batches of `batch_size` on the model's device (or `device`). N must be at least 1.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    _validate.tensor(images, "images", "predict", "(N, C, H, W)", floating=True)
    batch_size = _validate.positive_int(batch_size, "batch_size", "images per forward pass, e.g. 500", "predict")
    if images.dim() == 0 or len(images) == 0:
        raise ValueError(f"predict: images holds no images (shape {tuple(images.shape)}); pass at least one, "
                         f"e.g. load_mnist(split='test')[0][:100].")
    model.eval()
    preds = [model(images[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(preds)


def evaluate(model: nn.Module, data, batch_size: int = 500) -> float:
    """Accuracy in [0, 1] of `model` on data = (images, labels), at least one image."""
    images, labels = _check_data(data, "data")
    if len(images) == 0:
        raise ValueError("evaluate: data holds no images, so there is no accuracy to compute; pass at least one "
                         "(image, label) pair, e.g. load_mnist(split='test').")
    return (predict(model, images, batch_size) == labels.cpu()).float().mean().item()  # predict returns CPU


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """Replace every BatchNorm's running mean and variance by their averages over `images` (N, C, H, W).

    During training BatchNorm keeps exponential moving averages of the batch statistics (momentum 0.1:
    mostly the last ten batches), computed while the weights were still moving; after a short run they
    are stale, and the eval-mode accuracy jumps by several points from one step to the next. One pass
    over the training images with the final weights gives the statistics eval mode should use
    ("precise BN"). The weights are not changed; the model is returned in eval mode. A model without
    BatchNorm has nothing to recalibrate: it is returned as it is, in eval mode, without a forward pass.
    """
    device = _model_device(model)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    batch_size = _validate.positive_int(batch_size, "batch_size", "images per forward pass, e.g. 500",
                                        who="recalibrate_batchnorm")
    _validate.tensor(images, "images", "recalibrate_batchnorm", "(N, C, H, W)", dims=4, floating=True)
    _validate.not_empty(len(images), "images", "recalibrate_batchnorm", "pass the training images")
    if not norms:
        return model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                                # None: a plain average over the batches seen
    model.train()
    for i in range(0, len(images), batch_size):
        model(images[i:i + batch_size].to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class.

    labels, preds: integer tensors (N,) of class indices in 0..num_classes-1.
    """
    num_classes = _validate.positive_int(num_classes, "num_classes", "how many classes, e.g. 10 digits",
                                       "confusion_matrix")
    for name, t in (("labels", labels), ("preds", preds)):
        _validate.tensor(t, name, "confusion_matrix", "(N,)")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"confusion_matrix: {name} must hold integer class indices, got {t.dtype} — "
                            f"for scores, take {name}.argmax(1) first.")
        if t.dim() != 1:
            raise ValueError(f"confusion_matrix: {name} must be 1-D (N,), got shape {tuple(t.shape)} — for "
                             f"scores (N, K) take {name}.argmax(1) first.")
    if labels.shape != preds.shape:
        raise ValueError(f"labels {tuple(labels.shape)} and preds {tuple(preds.shape)} must have the same shape.")
    for name, t in (("labels", labels), ("preds", preds)):
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            bad = t[(t < 0) | (t >= num_classes)][0].item()
            raise ValueError(f"confusion_matrix: {name} holds class {bad}, outside 0..{num_classes - 1} for "
                             f"num_classes={num_classes}; pass the right num_classes or check the {name}.")
    index = labels.long().cpu() * num_classes + preds.long().cpu()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


OPTIMIZERS = ("adam", "adamw", "sgd")


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, data, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in [0, 1] of `model` on data = (images, labels), in eval mode.

    Runs in batches of `batch_size` on the model's device; leaves the model in eval mode.
    """
    images, labels = _check_data(data, "data")
    _validate.not_empty(len(images), "data", "loss_and_accuracy", "pass at least one (image, label) pair")
    batch_size = _validate.positive_int(batch_size, "batch_size", "images per forward pass, e.g. 500",
                                        "loss_and_accuracy")
    device = _model_device(model)
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, len(images), batch_size):
        logits = model(images[i:i + batch_size].to(device))
        yb = labels[i:i + batch_size].to(device)
        total += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return total / len(images), correct / len(images)


def _optimizer(name: str, params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimiser fit builds: Adam (L2 penalty through the gradient), AdamW (decoupled weight decay),
    or SGD with `momentum` (0 for plain SGD)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def fit(model: nn.Module, train_data, test_data=None, epochs: int | None = None, steps: int | None = None,
        batch_size: int = 64, lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9,
        weight_decay: float = 0.0, seed: int = 0, device=None, progress: bool = True, val_data=None,
        patience: int | None = None, augment=None) -> list[dict]:
    """Train `model` with cross-entropy on train_data = (images, labels); returns the history.

    images: (N, C, H, W) float; labels: (N,) int64. Give exactly one of `epochs` (full passes over the
    data, the last batch of each pass may be smaller) or `steps` (mini-batches in all, the last pass may
    be cut short). optimizer: "adam", "adamw" (decoupled `weight_decay`) or "sgd" with `momentum` (0 for
    plain SGD); `weight_decay` is an L2 penalty for "adam" and "sgd".

    The device: the model stays where the caller put it (`model.to(device)` first), and each batch is
    moved there; pass `device=` to move the model before training. The whole loop runs inside
    `cnnbook.randomness.seeded(seed)`: the shuffling (`torch.randperm` on the seeded CPU generator),
    dropout masks and any other random draw follow `seed`, so the same call on the same machine gives the
    same history, and the caller's random state is given back untouched (the model's initial weights are
    the caller's business: build it inside `seeded(...)`).

    augment: None, or a callable `augment(images, generator) -> images` applied to each CPU batch before
    it moves to the device; `generator` is `torch.Generator().manual_seed(seed)`, made once per call, a
    stream of its own (the shuffling does not depend on how much the augmentation draws).
    val_data: (images, labels); after each pass the row gets "val_loss" and "val_acc" (eval mode, see
    `loss_and_accuracy`). patience: early stopping (needs val_data and epochs): stop once `patience`
    passes have gone by since the lowest validation loss, then load the weights of that best pass.

    One history row per pass: {"epoch", "steps", "loss", "train_acc", "test_acc", "seconds", "losses"}
    (+ "val_loss", "val_acc" with val_data). "loss" and "train_acc" are running means over that pass's
    batches (what Keras prints), "losses" the loss of every batch, "test_acc" accuracy after the pass with
    `evaluate` (None without test_data). The model is returned in eval mode.
    """
    x_train, y_train = _check_data(train_data, "train_data")
    test_data = _check_data(test_data, "test_data")
    val_data = _check_data(val_data, "val_data")
    if len(x_train) == 0:
        raise ValueError("train_data holds no images: fit needs at least one (image, label) pair.")
    if val_data is not None:
        _validate.not_empty(len(val_data[0]), "val_data", "fit", "pass at least one (image, label) pair or None")
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs= (passes over the data) or steps= (mini-batches), "
                         f"got epochs={epochs!r}, steps={steps!r}.")
    if epochs is not None:
        epochs = _check_positive_int(epochs, "epochs", "the number of passes over the training data, e.g. epochs=5")
    if steps is not None:
        steps = _check_positive_int(steps, "steps", "the number of mini-batches to train on, e.g. steps=200")
    batch_size = _check_positive_int(batch_size, "batch_size", "the number of images per mini-batch, e.g. batch_size=64")
    _validate.choice(optimizer, "optimizer", OPTIMIZERS, who="fit")
    lr = _validate.number(lr, "lr", low=0.0, who="fit", meaning="the optimiser's step size, e.g. lr=1e-3")
    momentum = _validate.number(momentum, "momentum", low=0.0, high=1.0, high_open=True, who="fit",
                                meaning="SGD's momentum, e.g. 0.9")
    weight_decay = _validate.number(weight_decay, "weight_decay", low=0.0, who="fit",
                                    meaning="the decay of the weights, e.g. 5e-4")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which random stream, e.g. seed=0", who="fit")
    if patience is not None:
        patience = _check_positive_int(patience, "patience", "passes without a better validation loss "
                                       "before stopping, e.g. patience=3")
        if val_data is None:
            raise ValueError("fit: patience (early stopping) watches the validation loss, so it needs val_data="
                             "(images, labels), e.g. a split from cnnbook.splits.validation_split.")
        if epochs is None:
            raise ValueError("fit: patience (early stopping) counts passes over the data; give epochs= (the "
                             "most passes to run), not steps=.")
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment must be None or a callable (images, generator) -> images, got "
                        f"{type(augment).__name__}.")
    if device is not None:
        model.to(torch.device(device))
    device = _model_device(model)
    opt = _optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    settings = dict(epochs=epochs, steps=steps, batch_size=batch_size, device=device, progress=progress,
                    test_data=test_data, val_data=val_data, patience=patience, augment=augment,
                    jitter=torch.Generator().manual_seed(seed))
    try:
        with seeded(seed):
            return _loop(model, x_train, y_train, opt, **settings)
    finally:
        model.eval()


def fit_seeds(make_model, train_data, seeds, device=None, **settings) -> list[tuple[nn.Module, list[dict]]]:
    """Train one fresh model per seed: the loop behind every comparison over seeds (chapters 03b to 03e).

    For each `seed` in `seeds`: `make_model()` is called inside `cnnbook.randomness.seeded(seed)` (so the
    initial weights follow the seed), moved to `device` (default: `default_device()`), and trained with
    `fit(model, train_data, seed=seed, progress=False, **settings)` (so the order of the batches, the
    dropout masks and the augmentation follow it too). Returns [(model, history), ...] in the order of
    `seeds`; each model is in eval mode. Nothing else is seeded or changed: the same call on the same
    machine gives the same models.
    """
    if not callable(make_model) or isinstance(make_model, nn.Module):
        raise TypeError(f"fit_seeds: make_model must be a function that builds a fresh model, e.g. "
                        f"lambda: tiny_cnn(8), got {type(make_model).__name__}.")
    seeds = [_validate.integer(seed, "seed", minimum=0, meaning="one seed per training, e.g. book_seeds(8)",
                               who="fit_seeds") for seed in seeds]
    if not seeds:
        raise ValueError("fit_seeds: seeds is empty; pass at least one seed, e.g. book_seeds(3).")
    if "seed" in settings or "progress" in settings:
        raise TypeError("fit_seeds sets fit's seed= (from seeds) and progress=False itself; leave them out.")
    device = default_device() if device is None else torch.device(device)
    trained = []
    for seed in seeds:
        with seeded(seed):
            model = make_model().to(device)
        trained.append((model, fit(model, train_data, seed=seed, progress=False, **settings)))
    return trained


def _loop(model, x_train, y_train, opt, *, epochs, steps, batch_size, device, progress, test_data, val_data,
          patience, augment, jitter) -> list[dict]:
    """fit's loop, run inside `seeded(seed)`: the shuffling draws from torch's (forked) CPU generator."""
    loss_fn = nn.CrossEntropyLoss()
    per_pass = (len(x_train) + batch_size - 1) // batch_size
    total = epochs * per_pass if epochs is not None else steps
    history, done = [], 0
    best_loss, best_epoch, best_state = math.inf, 0, None
    bar = tqdm(total=total, desc="training", unit="batch", disable=not progress, leave=False)
    while done < total:
        model.train()
        start, seen, total_loss, correct, losses = time.perf_counter(), 0, 0.0, 0, []
        order = torch.randperm(len(x_train))
        for i in range(0, len(x_train), batch_size):
            if done == total:
                break
            idx = order[i:i + batch_size]
            xb = x_train[idx] if augment is None else augment(x_train[idx], jitter)
            xb, yb = xb.to(device), y_train[idx].to(device)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            total_loss += losses[-1] * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            done += 1
            bar.update(1)
        row = {"epoch": len(history) + 1, "steps": done, "loss": total_loss / seen, "train_acc": correct / seen,
               "test_acc": evaluate(model, test_data) if test_data is not None else None,
               "seconds": time.perf_counter() - start, "losses": losses}
        if val_data is not None:
            row["val_loss"], row["val_acc"] = loss_and_accuracy(model, val_data)
            if row["val_loss"] < best_loss:
                best_loss, best_epoch = row["val_loss"], row["epoch"]
                if patience is not None:
                    best_state = copy.deepcopy(model.state_dict())
        history.append(row)
        if patience is not None and row["epoch"] - best_epoch >= patience:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)               # back to the weights of the best validation loss
    return history


def _model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _check_positive_int(value, name: str, meaning: str) -> int:
    return _validate.positive_int(value, name, meaning, "fit")
