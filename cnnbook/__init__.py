"""cnnbook: the helpers every chapter of the course imports.

One module per idea, in the order the book introduces them:

- `conv` (chapter 1): convolution three ways, its backward pass, the output-size formula and the bank of
  hand-designed kernels; `layers` (chapter 2): pooling, ReLU, dropout, fully connected, with their
  backward passes; `visual_cortex` (the biology chapter): simple and complex cells and the neocognitron,
  built from those layers.
- `data`: real digits (MNIST, embedded or opt-in download) and the one per-class subset
  (`per_class_indices`); `photos`: photographs and faces shipped inside scikit-image; `tasks`: synthetic
  tasks built from them, where the answer is known by construction.
- `randomness`: seeds (`set_seed`, `seeded`, `book_seed`); `train` (chapter 3): the one training loop `fit`
  (validation, early stopping, augmentation hook), evaluation; `measure`: the book's one convention for
  measured values (`≈ x`, asserted in a band); `splits` (chapter 3b): stratified subsets and validation
  splits; `augmentation` (chapter 3b): moving and turning digits at random; `recipes`: the trained models
  several chapters share, and their settings as frozen dataclasses.
- `models/`: every network, in plain `torch.nn`, one file per family (networks never import training or
  data); `anatomy`: what a network is made of and costs (parameters, MACs per layer) and how its
  gradients flow; `initialisation` (the initialisation chapter): fan-in, Xavier and He schemes, and the
  signal's size layer by layer at initialisation.
- `features` (chapter 4): what channels respond to; `rf/` (chapter 5): receptive fields, exact
  (`calculator`) and measured; `cam` (chapter 6): class activation maps and their scores.
- `nas` (chapter 7c): architecture search under a step budget; `equivariance`: shift tests (chapter 7d);
  `signals` (chapters 8 and 8b): convolution beyond 2-D images and in the frequency domain.
- `viz/` draws every figure (one file per subject) and `widgets` the interactive explorers: the only
  modules that draw.
- `course/`: the coursework (students' checks, the instructor's command line `python -m cnnbook.course`),
  a package of its own that no book module imports.
- Private: `_validate` (argument checks with teaching messages), `_files` (atomic, bounded file handling).
- Deprecated for one release: `profile` (now `anatomy`), `regularise` (now `splits`, `augmentation` and
  `models.tiny_cnn`), `models.beyond` (now `models.clips` and `models.fourier`).

`import cnnbook` imports no submodule (and not torch): `cnnbook.conv` etc. are loaded on first access
(PEP 562). Nothing here downloads or writes anything at import time.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = frozenset({
    "anatomy", "augmentation", "cam", "conv", "data", "equivariance", "features", "layers", "measure", "models",
    "nas", "photos", "randomness", "recipes", "rf", "signals", "splits", "tasks", "train", "viz", "widgets",
    "course", "profile", "regularise", "visual_cortex", "initialisation",
})


def __getattr__(name: str):
    """`cnnbook.<module>`: import the submodule on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}; its modules are "
                         f"{', '.join(sorted(_SUBMODULES - {'profile', 'regularise'}))}.")


def __dir__() -> list[str]:
    return sorted(set(globals()) | (_SUBMODULES - {"profile", "regularise"}))
