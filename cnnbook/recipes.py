"""Trained models the chapters share: the recipe and the code that trains them.

Used by chapters 3 and 4, which train the same `SmallCNN` on the embedded MNIST digits and look at it from
two sides (how well it classifies; what its channels respond to). A recipe is a small frozen dataclass, so
the numbers that define a training run have names and are checked once. This module imports data, models
and training; the networks in `cnnbook.models` import none of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch

from . import _validate
from .data import load_mnist
from .models import SmallCNN
from .randomness import seeded
from .train import OPTIMIZERS, fit


@dataclass(frozen=True)
class Recipe:
    """How to train a network with `cnnbook.train.fit`: passes over the data, batch size, optimiser, step size,
    SGD's momentum and the weight decay (defaults: fit's own, 0.9 and 0).

    `fit_kwargs()` gives the keyword arguments for `fit`. Change one field with `dataclasses.replace`,
    e.g. `replace(SMALL_CNN_RECIPE, epochs=15)`. The repr leaves out momentum and weight_decay while they
    hold their defaults.
    """

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self):
        _validate.positive_int(self.epochs, "epochs", "passes over the training data, e.g. epochs=5", who="Recipe")
        _validate.positive_int(self.batch_size, "batch_size", "images per mini-batch, e.g. batch_size=64",
                             who="Recipe")
        lr = _validate.number(self.lr, "lr", low=0.0, who="Recipe", meaning="the optimiser's step size, e.g. 3e-3")
        if lr == 0.0:
            raise ValueError("Recipe: lr must be > 0 (with lr=0 nothing is learned), e.g. lr=3e-3.")
        _validate.choice(self.optimizer, "optimizer", OPTIMIZERS, who="Recipe")
        _validate.number(self.momentum, "momentum", low=0.0, high=1.0, high_open=True, who="Recipe",
                         meaning="SGD's momentum, e.g. 0.9")
        _validate.number(self.weight_decay, "weight_decay", low=0.0, who="Recipe",
                         meaning="the decay of the weights, e.g. 5e-4")

    def __repr__(self) -> str:
        defaults = {"momentum": 0.9, "weight_decay": 0.0}
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if f.name not in defaults or getattr(self, f.name) != defaults[f.name]]
        return f"Recipe({', '.join(shown)})"

    def fit_kwargs(self) -> dict:
        """{"epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay"}: pass as
        `fit(model, train, test, **recipe.fit_kwargs())`."""
        return asdict(self)


def _check_run(seed, recipe, device, who: str, example: str) -> tuple[int, torch.device]:
    """The checks every train_* function starts with; returns (seed, device), the CPU by default."""
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which random initialisation, e.g. seed=0", who=who)
    if not isinstance(recipe, Recipe):
        raise TypeError(f"{who}: recipe must be a cnnbook.recipes.Recipe, got {type(recipe).__name__} — "
                        f"e.g. dataclasses.replace({example}).")
    return seed, torch.device("cpu") if device is None else torch.device(device)


def _seeded(seed: int, device: torch.device):
    """`cnnbook.randomness.seeded(seed)`, with CUDA started first when `device` is a GPU, so that its
    generator is seeded (and restored) too: the initial weights and the dropout masks follow `seed`."""
    if device.type == "cuda":
        torch.empty(0, device=device)                   # initialise CUDA before seeded looks for it
    return seeded(seed)


SMALL_CNN_RECIPE = Recipe(epochs=5, batch_size=64, lr=3e-3, optimizer="adam")
"""SmallCNN's recipe (chapter 3): Adam at 0.003, batches of 64, 5 epochs on the 4 000 training digits."""


def train_small_cnn(seed: int = 0, device=None, recipe: Recipe = SMALL_CNN_RECIPE) -> tuple[SmallCNN, list[dict]]:
    """Train a fresh `SmallCNN` on the embedded MNIST split (4 000 train, 1 000 test images) with `recipe`.

    Returns (model in eval mode on `device`, history from `cnnbook.train.fit`: one row per epoch, with test
    accuracy on the 1 000 test images). device: where to train, e.g. `cnnbook.train.default_device()`
    (default: the CPU).

    Randomness without global state: the initial weights, the dropout masks and the order of the batches all
    come from `seed`. The function runs inside `cnnbook.randomness.seeded(seed)` (every generator, CUDA's
    too when `device` is a GPU, seeded and given back on return); it does not call `set_seed` and changes
    no global setting. So the same seed
    gives the same model on one machine whatever ran before; another machine rounds differently and gives a
    slightly different one (see `cnnbook.measure`).
    """
    seed, device = _check_run(seed, recipe, device, "train_small_cnn", "SMALL_CNN_RECIPE, epochs=3")
    with _seeded(seed, device):
        model = SmallCNN().to(device)
        history = fit(model, load_mnist(split="train"), load_mnist(split="test"), seed=seed, progress=False,
                      **recipe.fit_kwargs())
    return model.eval(), history


# ---------------------------------------------------------------------------- photographs: a face detector
# What chapters 4, 6 and 8 can call (all offline; the photographs ship inside scikit-image):
#   model, history = train_face_net(seed=0, device=None)     # FaceNet, ~2-4 s on one CPU core
#   cnnbook.photos.faces("test")                             # the 40 held-out crops to score it on
#   model.heat_map(photo("astronaut", gray=True, size=128)[None])   # (1, 2, 26, 26) logits per 25×25 window
#   model.features[1].weight                                 # the learned 5×5 first-layer filters (width, 1, 5, 5)
#   model.features                                           # conv blocks for feature maps / Grad-CAM hooks
FACE_NET_RECIPE = Recipe(epochs=8, batch_size=32, lr=3e-3, optimizer="adam")
"""FaceNet's recipe: Adam at 0.003, batches of 32, 8 epochs per round (see `train_face_net`)."""



@dataclass(frozen=True)
class FaceDetectorSettings:
    """What `train_face_net` builds and mines, besides the `Recipe` (frozen; change with dataclasses.replace)."""

    width: int = 16                 # channels of FaceNet's first layer
    copies: int = 8                 # the 120 training crops and 7 augmented copies of them: 960 images
    mining_rounds: int = 3          # rounds of hard-negative mining after the first training
    mining_top: int = 60            # windows kept per photograph and scale in each round
    mining_epochs: int = 4          # epochs of training after each round of mining
    negative_photos: tuple[str, ...] = ("coffee", "chelsea", "brick", "grass", "gravel")  # no human face
    negative_scales: tuple[int, ...] = (64, 100, 160)  # shorter side, in pixels, at which they are scanned

    def __post_init__(self):
        for name in ("width", "copies", "mining_top", "mining_epochs"):
            _validate.positive_int(getattr(self, name), name, who="FaceDetectorSettings")
        _validate.integer(self.mining_rounds, "mining_rounds", minimum=0, who="FaceDetectorSettings")
        if not (isinstance(self.negative_photos, tuple) and all(isinstance(n, str) for n in self.negative_photos)):
            raise TypeError(f"FaceDetectorSettings: negative_photos must be a tuple of photograph names, e.g. "
                            f"('coffee', 'brick'), got {self.negative_photos!r}.")
        if not isinstance(self.negative_scales, tuple):
            raise TypeError(f"FaceDetectorSettings: negative_scales must be a tuple of sizes in pixels, e.g. "
                            f"(64, 100), got {self.negative_scales!r}.")
        for size in self.negative_scales:
            _validate.positive_int(size, "negative_scales", who="FaceDetectorSettings")


FACE_DETECTOR = FaceDetectorSettings()
"""The settings `train_face_net` uses by default."""
FACE_NET_WIDTH = FACE_DETECTOR.width  # chapter 4 builds an untrained FaceNet of the same width


@torch.no_grad()
def _hard_negatives(model, photos: list[torch.Tensor], top: int) -> torch.Tensor:
    """The 25 × 25 windows of face-free photographs that `model` finds most face-like: (K, 1, 25, 25)."""
    model.eval()
    device = next(model.parameters()).device
    scored = []
    for image in photos:
        logits = model.heat_map(image.unsqueeze(0).to(device))[0].cpu()
        evidence = (logits[1] - logits[0]).flatten()
        best = evidence.topk(min(top, len(evidence)))
        cols = logits.shape[-1]
        for value, index in zip(best.values.tolist(), best.indices.tolist()):
            i, j = divmod(index, cols)
            scored.append((value, image[:, 4 * i:4 * i + 25, 4 * j:4 * j + 25]))
    scored.sort(key=lambda pair: -pair[0])
    return torch.stack([window for _, window in scored[:2 * top]])


def train_face_net(seed: int = 0, device=None, recipe: Recipe = FACE_NET_RECIPE,
                   settings: FaceDetectorSettings = FACE_DETECTOR):
    """Train a fresh `cnnbook.models.FaceNet` (face vs non-face, 25 × 25 crops) in a few seconds on a CPU.

    Data: the 120 training crops of `cnnbook.photos.faces("train")` and 7 augmented copies (flips, shifts of
    up to 2 pixels, contrast ±40 %, brightness ±0.1; `cnnbook.photos.augment`). Then `settings.mining_rounds`
    rounds of hard-negative mining, the classic recipe of sliding-window detectors: the network slides over
    photographs without a human face (`settings.negative_photos` at `settings.negative_scales`), the windows
    it scores most face-like are added as non-faces (with a flipped/shifted copy), and training continues
    for half the epochs. `settings` (a frozen `FaceDetectorSettings`) holds the width, the copies and the
    mining numbers. Without mining, the 100 non-faces of lfw_subset (mostly flat scenery) teach it
    "textured = face".
    None of the mined photographs is the astronaut, on which chapter 6 tests the detector.

    Returns (model in eval mode on `device`, history): the rows of `cnnbook.train.fit` for every epoch of
    every round, each with "round" added (0 = before mining) and with "test_acc" = accuracy on the 40
    *validation* crops (keep `faces("test")` for the final score). Randomness without global state, as in
    `train_small_cnn`: everything comes from `seed` inside
    `cnnbook.randomness.seeded`.
    """
    from .models import FaceNet
    from .photos import augment, faces, photo

    seed, device = _check_run(seed, recipe, device, "train_face_net", "FACE_NET_RECIPE, epochs=4")
    if not isinstance(settings, FaceDetectorSettings):
        raise TypeError(f"train_face_net: settings must be a cnnbook.recipes.FaceDetectorSettings, got "
                        f"{type(settings).__name__} — e.g. dataclasses.replace(FACE_DETECTOR, mining_rounds=1).")
    x, y = faces("train")
    validation = faces("validation")
    negatives = [photo(name, gray=True, size=s) for name in settings.negative_photos
                 for s in settings.negative_scales]
    history = []
    with _seeded(seed, device):
        g = torch.Generator().manual_seed(seed)
        x_train = torch.cat([x] + [augment(x, g, contrast=0.4, brightness=0.1) for _ in range(settings.copies - 1)])
        y_train = y.repeat(settings.copies)
        model = FaceNet(settings.width).to(device)
        kwargs = recipe.fit_kwargs()
        for round_ in range(settings.mining_rounds + 1):
            if round_ > 0:
                mined = _hard_negatives(model, negatives, settings.mining_top)
                mined = torch.cat([mined, augment(mined, g)])
                more_faces = augment(x[y == 1].repeat(len(mined) // 60 + 1, 1, 1, 1)[:len(mined)], g,
                                     contrast=0.4, brightness=0.1)  # as many new faces: classes stay balanced
                x_train = torch.cat([x_train, mined, more_faces])
                y_train = torch.cat([y_train, torch.zeros(len(mined), dtype=torch.int64),
                                     torch.ones(len(more_faces), dtype=torch.int64)])
                kwargs["epochs"] = settings.mining_epochs
            rows = fit(model, (x_train, y_train), validation, seed=seed + 1000 * round_, progress=False, **kwargs)
            history += [{**row, "round": round_} for row in rows]
    return model.eval(), history
