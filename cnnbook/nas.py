"""Neural architecture search at toy scale: a search space, a budget counted in training steps, two searches.

Used by chapter 7. A candidate architecture is a dict {"depth", "width", "kernel"} turned into a VGG-style
net by `build`; `evaluate_candidate` trains it for a number of SGD steps and returns validation accuracy.
`random_search` and `successive_halving` spend the same total number of training steps, so their results
can be compared fairly. `train_for_steps` is also the short training loop of chapter 7's other experiments.
"""

from __future__ import annotations

import itertools
import random

import torch
import torch.nn as nn

from .models import vgg_style


def train_for_steps(model: nn.Module, train_data, steps: int, batch_size: int = 64, lr: float = 0.05,
                    optimizer: str = "sgd", seed: int = 0) -> list[float]:
    """Train with cross-entropy for exactly `steps` mini-batches; returns the loss of every step.

    train_data = (images (N, C, H, W) float, labels (N,) int64). Batches are drawn by a torch.Generator
    seeded with `seed` (reshuffled each pass over the data). optimizer: "sgd" (momentum 0.9) or "adam".
    """
    x, y = train_data
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}.")
    if len(x) != len(y) or len(x) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} examples with one label each, "
                         f"got {len(x)} images and {len(y)} labels.")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    opt = (torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=lr))
    gen, loss_fn, losses, order, pos = torch.Generator().manual_seed(seed), nn.CrossEntropyLoss(), [], None, len(x)
    model.train()
    for _ in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def balanced_subset(data, n_per_class: int, offset: int = 0, seed: int = 0):
    """n_per_class examples of every class from data = (images, labels), in a seeded random order.

    Takes examples offset .. offset + n_per_class - 1 of each class (after a seeded shuffle), so that
    balanced_subset(d, 100, 0) and balanced_subset(d, 100, 100) never share an example.
    The 5k MNIST arrays are sorted by class, so `images[:n]` would hold a single digit.
    """
    x, y = data
    shuffled = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    picks = []
    for c in torch.unique(y):
        members = shuffled[y[shuffled] == c]
        if len(members) < offset + n_per_class:
            raise ValueError(f"class {int(c)} has {len(members)} examples; cannot take {n_per_class} "
                             f"starting at {offset}.")
        picks.append(members[offset:offset + n_per_class])
    order = torch.cat(picks)[torch.randperm(len(picks) * n_per_class, generator=torch.Generator().manual_seed(seed))]
    return x[order], y[order]


@torch.no_grad()
def accuracy(model: nn.Module, data) -> float:
    """Fraction of data = (images, labels) classified correctly (model in eval mode)."""
    model.eval()
    x, y = data
    return (model(x).argmax(1) == y).float().mean().item()


SEARCH_SPACE = {"depth": (1, 2, 3), "width": (4, 8, 16), "kernel": (3, 5)}


def all_candidates(space: dict | None = None) -> list[dict]:
    """Every combination in the search space, e.g. {"depth": 2, "width": 8, "kernel": 3}."""
    space = space or SEARCH_SPACE
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def build(candidate: dict, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """depth conv blocks [width·2^i channels, kernel×kernel, BatchNorm, ReLU, MaxPool 2] -> global average
    pool -> Linear (`vgg_style` with batch_norm=True, so that short training runs already rank candidates)."""
    missing = {"depth", "width", "kernel"} - set(candidate)
    if missing:
        raise ValueError(f"a candidate needs the keys depth, width and kernel; {sorted(missing)} missing "
                         f"in {candidate!r}.")
    config = []
    for i in range(candidate["depth"]):
        config += [candidate["width"] * 2 ** i, "M"]
    return vgg_style(config, in_channels, num_classes, kernel_size=candidate["kernel"], batch_norm=True)


def evaluate_candidate(candidate: dict, train_data, val_data, steps: int, seed: int = 0, cache: dict | None = None,
                       **train_kw) -> float:
    """Build `candidate` with torch seed `seed`, train it `steps` steps, return its validation accuracy.

    The result depends only on (candidate, steps, seed), so a `cache` dict may remember it: a search that
    meets the same evaluation again is charged its steps but the notebook does not pay for them twice.
    """
    key = (tuple(sorted(candidate.items())), steps, seed)
    if cache is not None and key in cache:
        return cache[key]
    torch.manual_seed(seed)
    model = build(candidate, in_channels=train_data[0].shape[1])
    train_for_steps(model, train_data, steps, seed=seed, **train_kw)
    acc = accuracy(model, val_data)
    if cache is not None:
        cache[key] = acc
    return acc


def random_search(train_data, val_data, budget: int, steps_per_candidate: int, seed: int = 0,
                  space: dict | None = None, cache: dict | None = None, **train_kw) -> dict:
    """Sample budget // steps_per_candidate distinct candidates, train each fully, keep the best.

    `seed` picks the candidates; every candidate is trained with training seed 0, so two searches that
    meet the same candidate for the same steps see the same score (use one `cache` per training setting).
    Returns {"best", "best_val", "steps_used", "trials": [(candidate, steps, val_acc), ...]}.
    """
    pool = all_candidates(space)
    n = min(budget // steps_per_candidate, len(pool))
    if n < 1:
        raise ValueError(f"budget {budget} is smaller than one candidate's {steps_per_candidate} steps.")
    picks = random.Random(seed).sample(pool, n)
    trials = [(c, steps_per_candidate, evaluate_candidate(c, train_data, val_data, steps_per_candidate, 0, cache,
                                                          **train_kw)) for c in picks]
    best = max(trials, key=lambda t: t[2])
    return {"best": best[0], "best_val": best[2], "steps_used": n * steps_per_candidate, "trials": trials}


def successive_halving(train_data, val_data, budget: int, n_candidates: int, eta: int = 2, seed: int = 0,
                       space: dict | None = None, cache: dict | None = None, **train_kw) -> dict:
    """Successive halving (Jamieson & Talwalkar 2016): many candidates get a few steps, the best 1/eta
    of them get eta times more, and so on until one is left.

    The rounds are sized so that each spends about budget / rounds steps. Every round retrains its
    survivors from scratch with the new step count (simple; a real implementation would resume them).
    Returns the same dict as `random_search`.
    """
    pool = all_candidates(space)
    if not 2 <= n_candidates <= len(pool):
        raise ValueError(f"n_candidates must be between 2 and the {len(pool)} candidates of the space, "
                         f"got {n_candidates}.")
    alive = random.Random(seed).sample(pool, n_candidates)
    rounds, size = 0, n_candidates
    while size > 1:
        rounds, size = rounds + 1, max(1, size // eta)
    per_round = budget // rounds
    trials, used = [], 0
    while len(alive) > 1:
        steps = max(1, per_round // len(alive))
        scored = [(c, steps, evaluate_candidate(c, train_data, val_data, steps, 0, cache, **train_kw))
                  for c in alive]
        trials += scored
        used += steps * len(alive)
        scored.sort(key=lambda t: -t[2])
        alive = [c for c, _, _ in scored[:max(1, len(alive) // eta)]]
    best = [t for t in trials if t[0] == alive[0]][-1]
    return {"best": alive[0], "best_val": best[2], "steps_used": used, "trials": trials}
