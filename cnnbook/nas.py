"""Neural architecture search at toy scale: a search space, a budget counted in training steps, three searches.

Used by chapter 7c. A candidate architecture is a dict {"depth", "width", "kernel"} turned into a VGG-style
net by `build`; `evaluate_candidate` trains it for a number of steps with `cnnbook.train.fit`, sets its
BatchNorm statistics from the training images (`cnnbook.train.recalibrate_batchnorm`) and returns its validation accuracy
(`cnnbook.train.evaluate`). `random_search`, `successive_halving`, `reinforce_search` (a REINFORCE
controller, as in Zoph & Le 2017, shrunk to one softmax per decision) and `regularised_evolution` (Real et
al. 2019: tournament selection, mutation, ageing) never spend more training steps than their budget, so
their results can be compared at equal cost. The search `seed` decides which candidates are drawn; the
`train_seed` (default 0) decides how every candidate is trained, the same for all of them, so a chapter can
pass `book_seed(0)` and re-run the whole landscape on other seeds.
None of them touches the global random state: candidates are drawn from seeded local generators and each
network is initialised inside `cnnbook.randomness.seeded`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch
import torch.nn as nn

from . import _validate
from .data import per_class_indices
from .models import vgg_style
from .randomness import seeded
from .train import evaluate, fit, recalibrate_batchnorm

SEARCH_SPACE: Mapping[str, tuple] = MappingProxyType({"depth": (1, 2, 3), "width": (4, 8, 16), "kernel": (3, 5)})
"""The options of each choice (read-only; extend a copy: `dict(SEARCH_SPACE, batch_norm=(True, False))`)."""


def balanced_subset(data, n_per_class: int, offset: int = 0, seed: int = 0):
    """n_per_class examples of every class from data = (images, labels), in a seeded random order.

    Takes examples offset .. offset + n_per_class - 1 of each class (after a seeded shuffle), so that
    balanced_subset(d, 100, 0) and balanced_subset(d, 100, 100) never share an example.
    The 5k MNIST arrays are sorted by class, so `images[:n]` would hold a single digit.
    """
    x, y = _check_pair(data, "balanced_subset")
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which shuffle, e.g. seed=0", who="balanced_subset")
    shuffled = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    picks = per_class_indices(y, n_per_class, offset=offset, order=shuffled, who="balanced_subset")
    order = picks[torch.randperm(len(picks), generator=torch.Generator().manual_seed(seed))]
    return x[order], y[order]


def _check_pair(data, who: str):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{who}: data must be a pair (images, labels), got {type(data).__name__}.")
    x = _validate.tensor(data[0], "images", who)
    y = _validate.tensor(data[1], "labels", who, "(N,)", dims=1)
    if len(x) != len(y):
        raise ValueError(f"{who}: {len(x)} images but {len(y)} labels; they must match one to one.")
    return x, y


def all_candidates(space: dict | None = None) -> list[dict]:
    """Every combination in the search space, e.g. {"depth": 2, "width": 8, "kernel": 3}."""
    space = _check_space(space)
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def build(candidate: dict, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """depth conv blocks [width·2^i channels, kernel×kernel, BatchNorm, ReLU, MaxPool 2] -> global average
    pool -> Linear (`vgg_style` with batch_norm=True, so that short training runs already rank candidates)."""
    if not isinstance(candidate, dict):
        raise TypeError(f"candidate must be a dict like {{'depth': 2, 'width': 8, 'kernel': 3}}, "
                        f"got {type(candidate).__name__}.")
    missing = {"depth", "width", "kernel"} - set(candidate)
    if missing:
        raise ValueError(f"a candidate needs the keys depth, width and kernel; {sorted(missing)} missing "
                         f"in {candidate!r}.")
    config = []
    for i in range(candidate["depth"]):
        config += [candidate["width"] * 2 ** i, "M"]
    return vgg_style(config, in_channels, num_classes, kernel_size=candidate["kernel"], batch_norm=True)


def evaluate_candidate(candidate: dict, train_data, val_data, steps: int, seed: int = 0, cache: dict | None = None,
                       device=None, **train_kw) -> float:
    """Build `candidate` with torch seed `seed`, train it `steps` steps with `fit`, return validation accuracy.

    train_kw go to `cnnbook.train.fit` (batch_size, lr, optimizer, momentum, weight_decay); the default is
    fit's (Adam, lr 1e-3). Before scoring, `recalibrate_batchnorm` sets the BatchNorm statistics from the
    training images, so that the score does not depend on the last few batches. The network is built on
    the CPU inside `torch.random.fork_rng`, so the caller's random state is left as it was, then moved to
    `device` (default: the CPU); the data may stay on the CPU (fit and evaluate move each batch).
    The result depends only on (candidate, steps, seed, train_kw) for given data, so a `cache` dict may
    remember it: a search that meets the same evaluation again is charged its steps but the computer does
    not pay for them twice. Use one cache per pair of data sets.
    """
    _validate.positive_int(steps, "steps", "training steps for this candidate, e.g. steps=60")
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = (tuple(sorted(candidate.items())), steps, seed, str(device), tuple(sorted(train_kw.items())))
    if cache is not None and key in cache:
        return cache[key]
    with seeded(seed):
        model = build(candidate, in_channels=train_data[0].shape[1])
    model.to(device)
    fit(model, train_data, steps=steps, seed=seed, progress=False, **train_kw)
    recalibrate_batchnorm(model, train_data[0])
    acc = evaluate(model, val_data)
    if cache is not None:
        cache[key] = acc
    return acc


def random_search(train_data, val_data, budget: int, steps_per_candidate: int, seed: int = 0,
                  space: dict | None = None, cache: dict | None = None, device=None, train_seed: int = 0,
                  **train_kw) -> dict:
    """Sample budget // steps_per_candidate distinct candidates, train each fully, keep the best.

    `seed` picks the candidates; every candidate is trained with the one `train_seed`, so two searches that
    meet the same candidate for the same steps see the same score.
    Returns {"best", "best_val", "steps_used", "trials": [(candidate, steps, val_acc), ...]}.
    """
    _validate.positive_int(budget, "budget", "the training steps a search may spend, e.g. budget=360")
    _validate.positive_int(steps_per_candidate, "steps_per_candidate", "training steps per candidate, e.g. 60")
    pool = all_candidates(space)
    n = min(budget // steps_per_candidate, len(pool))
    if n < 1:
        raise ValueError(f"budget {budget} is smaller than one candidate's {steps_per_candidate} steps; "
                         f"raise the budget or lower steps_per_candidate.")
    picks = random.Random(seed).sample(pool, n)
    trials = [(c, steps_per_candidate, evaluate_candidate(c, train_data, val_data, steps_per_candidate,
                                                          train_seed, cache, device, **train_kw)) for c in picks]
    best = max(trials, key=lambda t: t[2])
    return {"best": best[0], "best_val": best[2], "steps_used": n * steps_per_candidate, "trials": trials}


def halving_rounds(n_candidates: int, eta: int = 2) -> int:
    """Rounds of successive halving until one candidate is left: n -> n // eta -> ... -> 1 (8 -> 4 -> 2 -> 1: 3)."""
    _validate.positive_int(n_candidates, "n_candidates", "the number of candidates to start with, e.g. 8")
    _validate.positive_int(eta, "eta", "the factor the field shrinks by each round, e.g. eta=2")
    if eta < 2:
        raise ValueError(f"eta must be at least 2 (the field must shrink every round), got {eta}.")
    rounds, size = 0, n_candidates
    while size > 1:
        rounds, size = rounds + 1, max(1, size // eta)
    return rounds


def successive_halving(train_data, val_data, budget: int, n_candidates: int, eta: int = 2, seed: int = 0,
                       space: dict | None = None, cache: dict | None = None, device=None, train_seed: int = 0,
                       **train_kw) -> dict:
    """Successive halving (Jamieson & Talwalkar 2016): many candidates get a few steps, the best 1/eta
    of them get more, and so on until one is left.

    Each of the `halving_rounds` rounds may spend budget // rounds steps, shared equally by the candidates
    still alive (rounded down), so the total never exceeds `budget`; a budget too small to give every
    candidate at least one step in every round is refused. Every round retrains its survivors from scratch
    with the new step count (simple; a real implementation would resume them).
    `seed` picks the first-round candidates; all are trained with `train_seed`, as in `random_search`.
    Returns the same dict as `random_search`.
    """
    _validate.positive_int(budget, "budget", "the training steps a search may spend, e.g. budget=360")
    pool = all_candidates(space)
    n_candidates = _validate.integer(n_candidates, "n_candidates", 2, "candidates in the first round",
                                     "successive_halving")
    if n_candidates > len(pool):
        raise ValueError(f"n_candidates must be between 2 and the {len(pool)} candidates of the space, "
                         f"got {n_candidates!r}.")
    rounds = halving_rounds(n_candidates, eta)
    per_round = budget // rounds
    if per_round < n_candidates:
        raise ValueError(f"budget {budget} cannot give each of {n_candidates} candidates one step in each of "
                         f"{rounds} rounds; it needs at least {rounds * n_candidates} steps.")
    alive = random.Random(seed).sample(pool, n_candidates)
    trials, used = [], 0
    while len(alive) > 1:
        steps = per_round // len(alive)
        scored = [(c, steps, evaluate_candidate(c, train_data, val_data, steps, train_seed, cache, device,
                                                **train_kw))
                  for c in alive]
        trials += scored
        used += steps * len(alive)
        scored.sort(key=lambda t: -t[2])                 # stable: ties keep the sampled order
        alive = [c for c, _, _ in scored[:max(1, len(alive) // eta)]]
    best = [t for t in trials if t[0] == alive[0]][-1]
    return {"best": alive[0], "best_val": best[2], "steps_used": used, "trials": trials}


# ---------------------------------------------------------------------------- search by reinforcement learning
class Controller:
    """The policy of a REINFORCE search: one softmax over the options of each decision of the space.

    Zoph & Le's controller is a recurrent network that emits one decision after another, each conditioned
    on the ones before; with three decisions and 18 candidates, independent softmaxes are enough here.
    `logits[name]` is a (K,) tensor for a decision with K options; all start at 0 (a uniform policy).
    """

    def __init__(self, space: dict | None = None):
        self.space = _check_space(space)
        self.logits = {name: torch.zeros(len(options)) for name, options in self.space.items()}

    def probabilities(self) -> dict:
        """{decision: (K,) probabilities of its options}."""
        return {name: torch.softmax(z, dim=0) for name, z in self.logits.items()}

    def sample(self, generator: torch.Generator) -> dict:
        """Draw one candidate, each decision from its softmax, with the given generator."""
        return {name: self.space[name][int(torch.multinomial(p, 1, generator=generator))]
                for name, p in self.probabilities().items()}

    def log_prob(self, candidate: dict) -> float:
        """log π(candidate) = the sum over decisions of log softmax(logits)[choice]."""
        return sum(float(torch.log_softmax(z, dim=0)[self.space[name].index(candidate[name])])
                   for name, z in self.logits.items())

    def update(self, candidate: dict, advantage: float, lr: float) -> None:
        """One REINFORCE step: logits += lr · advantage · ∇ log π(candidate).

        For a softmax, ∇_z log softmax(z)[a] = onehot(a) − softmax(z), so no autograd is needed.
        """
        for name, z in self.logits.items():
            grad = -torch.softmax(z, dim=0)
            grad[self.space[name].index(candidate[name])] += 1.0
            self.logits[name] = z + lr * advantage * grad


def reinforce(reward: Callable[[dict], float], episodes: int, space: dict | None = None, lr: float = 1.0,
              baseline_decay: float = 0.8, seed: int = 0) -> dict:
    """REINFORCE (Williams 1992) with a moving-average baseline, over the candidates of `space`.

    Each episode: sample a candidate from the controller, r = reward(candidate), advantage = r − b,
    update the controller, then b ← decay · b + (1 − decay) · r (b starts at the first reward, so the
    first episode teaches nothing: it only sets the baseline).
    Returns {"controller", "trials": [(candidate, reward), ...], "baselines": [b after each episode]}.
    """
    _validate.positive_int(episodes, "episodes", "the number of candidates the controller samples, e.g. episodes=20")
    _validate.number(baseline_decay, "baseline_decay", 0, 1, high_open=True,
                   meaning="the weight of the old baseline in the moving average, e.g. 0.8")
    _validate.number(lr, "lr", 0, meaning="the controller's learning rate, e.g. lr=1.0")
    controller, generator = Controller(space), torch.Generator().manual_seed(seed)
    trials, baselines, baseline = [], [], None
    for _ in range(episodes):
        candidate = controller.sample(generator)
        r = float(reward(candidate))
        baseline = r if baseline is None else baseline
        controller.update(candidate, r - baseline, lr)
        baseline = baseline_decay * baseline + (1 - baseline_decay) * r
        trials.append((candidate, r))
        baselines.append(baseline)
    return {"controller": controller, "trials": trials, "baselines": baselines}


def reinforce_search(train_data, val_data, budget: int, steps_per_candidate: int, seed: int = 0,
                     controller_lr: float = 1.0, baseline_decay: float = 0.8, space: dict | None = None,
                     cache: dict | None = None, device=None, train_seed: int = 0, **train_kw) -> dict:
    """Architecture search by reinforcement learning: `reinforce` with reward = validation accuracy.

    The controller samples budget // steps_per_candidate candidates (with repetition: a candidate met again
    is charged its steps again), each trained `steps_per_candidate` steps with `train_seed` like in
    `random_search`. The answer is the best candidate evaluated, not the controller's favourite.
    controller_lr and baseline_decay are `reinforce`'s lr and baseline_decay (train_kw's lr is fit's).
    Returns the dict of `random_search` plus "controller".
    """
    _validate.positive_int(budget, "budget", "the training steps a search may spend, e.g. budget=360")
    _validate.positive_int(steps_per_candidate, "steps_per_candidate", "training steps per candidate, e.g. 60")
    episodes = budget // steps_per_candidate
    if episodes < 1:
        raise ValueError(f"budget {budget} is smaller than one candidate's {steps_per_candidate} steps; "
                         f"raise the budget or lower steps_per_candidate.")
    run = reinforce(lambda c: evaluate_candidate(c, train_data, val_data, steps_per_candidate, train_seed, cache,
                                                 device, **train_kw),
                    episodes, space, controller_lr, baseline_decay, seed)
    trials = [(c, steps_per_candidate, r) for c, r in run["trials"]]
    best = max(trials, key=lambda t: t[2])
    return {"best": best[0], "best_val": best[2], "steps_used": episodes * steps_per_candidate, "trials": trials,
            "controller": run["controller"]}


# ---------------------------------------------------------------------------- search by evolution
def mutate(candidate: dict, rng: random.Random, space: dict | None = None) -> dict:
    """A copy of `candidate` with one decision changed to another of its options, both drawn with `rng`.

    As in Real et al. (2019), a mutation always changes something: the decision is drawn among those with
    at least two options, the new option among the others.
    """
    space = _check_space(space)
    if not isinstance(rng, random.Random):
        raise TypeError(f"mutate needs a random.Random for its draws, e.g. random.Random(0), got "
                        f"{type(rng).__name__}.")
    free = [name for name, options in space.items() if len(options) > 1]
    if not free:
        raise ValueError("mutate: every decision of the space has a single option, so nothing can change; "
                         "give at least one decision two options.")
    name = rng.choice(free)
    child = dict(candidate)
    child[name] = rng.choice([o for o in space[name] if o != candidate[name]])
    return child


def regularised_evolution(train_data, val_data, budget: int, steps_per_candidate: int, population: int = 4,
                          sample: int = 2, seed: int = 0, space: dict | None = None, cache: dict | None = None,
                          device=None, train_seed: int = 0, **train_kw) -> dict:
    """Regularised (ageing) evolution, Real et al. (2019), with a budget of training steps.

    The budget pays for budget // steps_per_candidate evaluations. The first `population` of them are
    distinct random candidates; then, in every cycle: draw `sample` members of the population at random
    (with replacement), take the best of them (tournament selection), `mutate` it, evaluate the child, put
    it into the population and remove the *oldest* member (ageing: a good architecture survives only by
    having good children, not by one lucky score). Every candidate is trained with `train_seed`; a child met
    before is charged its steps again. The answer is the best candidate evaluated.
    Returns the dict of `random_search` plus "children" (how many cycles ran) and "population" (the last
    population, oldest first).
    """
    _validate.positive_int(budget, "budget", "the training steps a search may spend, e.g. budget=360")
    _validate.positive_int(steps_per_candidate, "steps_per_candidate", "training steps per candidate, e.g. 60")
    population = _validate.integer(population, "population", 2, "members kept alive, e.g. population=4",
                                   "regularised_evolution")
    sample = _validate.integer(sample, "sample", 1, "members drawn per tournament, e.g. sample=2",
                               "regularised_evolution")
    pool = all_candidates(space)
    space = _check_space(space)
    evaluations = budget // steps_per_candidate
    if population > len(pool):
        raise ValueError(f"population {population} is larger than the {len(pool)} candidates of the space.")
    if evaluations < population:
        raise ValueError(f"budget {budget} pays for {evaluations} evaluations of {steps_per_candidate} steps, "
                         f"fewer than the population of {population}; raise the budget or lower "
                         f"steps_per_candidate (a budget of {population * steps_per_candidate} fills it).")
    rng = random.Random(seed)

    def score(c):
        return evaluate_candidate(c, train_data, val_data, steps_per_candidate, train_seed, cache, device,
                                  **train_kw)

    alive = [(c, score(c)) for c in rng.sample(pool, population)]     # oldest first
    trials = [(c, steps_per_candidate, s) for c, s in alive]
    for _ in range(evaluations - population):
        contestants = [rng.choice(alive) for _ in range(sample)]
        parent = max(contestants, key=lambda member: member[1])[0]
        child = mutate(parent, rng, space)
        scored = (child, score(child))
        alive = alive[1:] + [scored]                                   # the oldest dies, the child joins
        trials.append((child, steps_per_candidate, scored[1]))
    best = max(trials, key=lambda t: t[2])
    return {"best": best[0], "best_val": best[2], "steps_used": evaluations * steps_per_candidate,
            "trials": trials, "children": evaluations - population, "population": [c for c, _ in alive]}


def _check_space(space: Mapping | None) -> Mapping:
    space = SEARCH_SPACE if space is None else space
    if not (isinstance(space, Mapping) and space and all(isinstance(v, (tuple, list)) and len(v) > 0
                                                       for v in space.values())):
        raise ValueError(f"space must be a dict of non-empty option lists like nas.SEARCH_SPACE, got {space!r}.")
    return space
