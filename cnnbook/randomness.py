"""Randomness in one place: how the book seeds, and how a block of code follows one seed.

Used by every chapter that trains or initialises a network. Three things, one way each:

- `set_seed(seed)`: once, in a chapter's setup cell: seeds the process-wide generators and makes torch's
  kernels deterministic (what it sets is listed in its docstring).
- `seeded(seed)`: a context in which Python's `random`, NumPy's global generator and torch's generators
  (CPU, and every CUDA device's when CUDA is in use) all start from `seed`; on exit the caller's states come
  back, as if the block had drawn nothing. `cnnbook.train.fit` runs its whole loop inside it, so shuffling,
  dropout and augmentation follow `fit(seed=...)`; library functions that initialise networks use it too.
- `book_seed(k)` / `book_seeds(n)`: the seeds a *chapter* uses for training and initialisation. They add
  the integer in the environment variable `CNNBOOK_SEED_OFFSET` (default 0) to k, so the whole book can be
  re-run on seeds nobody picked — CI does, and every claim must still hold. Library functions keep taking
  explicit seeds; data splits and generated data sets keep theirs (they define the data, not the run).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from . import _validate

OFFSET_VARIABLE = "CNNBOOK_SEED_OFFSET"


def seed_offset() -> int:
    """The integer in CNNBOOK_SEED_OFFSET (0 when unset or empty)."""
    text = os.environ.get(OFFSET_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        offset = int(text)
    except ValueError:
        raise ValueError(f"{OFFSET_VARIABLE} must be a whole number such as 1000 (it shifts every seed a "
                         f"chapter uses), got {text!r}; unset it for the recorded seeds.") from None
    if offset < 0:
        raise ValueError(f"{OFFSET_VARIABLE} must be >= 0 (seeds are non-negative), got {offset}.")
    return offset


def book_seed(k: int = 0) -> int:
    """The chapter's k-th seed: k + CNNBOOK_SEED_OFFSET. Every training or initialisation seed in a chapter
    comes from here, e.g. `set_seed(book_seed(0))`, `fit(..., seed=book_seed(3))`."""
    k = _validate.integer(k, "k", minimum=0, meaning="which of the chapter's seeds, e.g. book_seed(0)",
                          who="book_seed")
    return k + seed_offset()


def book_seeds(n: int, start: int = 0) -> tuple[int, ...]:
    """n consecutive chapter seeds, book_seed(start) ... book_seed(start + n - 1): one per repetition."""
    n = _validate.positive_int(n, "n", "how many seeds, e.g. book_seeds(5)", who="book_seeds")
    start = _validate.integer(start, "start", minimum=0, meaning="the first k, e.g. start=10", who="book_seeds")
    return tuple(book_seed(k) for k in range(start, start + n))


def _cuda_devices() -> list[int]:
    """Every CUDA device, but only once CUDA is in use: never initialise CUDA just to save its state."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return list(range(torch.cuda.device_count()))
    return []


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with every generator seeded by `seed`, then give the caller's states back.

    Seeds (and afterwards restores) Python's `random`, NumPy's global generator, torch's CPU generator and,
    when CUDA is in use, every CUDA device's generator. So

        with seeded(3):
            model = SmallCNN()          # the same initial weights for seed 3, whatever ran before

    and code after the block draws exactly what it would have drawn without it.
    """
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which random stream, e.g. seeded(0)", who="seeded")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = _cuda_devices()
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        for device in devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def set_seed(seed: int = 0, threads: int = 1) -> None:
    """Seed every random generator a chapter uses and make torch's kernels deterministic.

    The globals it sets, all process-wide: Python's `random` and NumPy's global generator (seeded),
    torch's default generators on CPU and CUDA (seeded),
    `torch.use_deterministic_algorithms(True, warn_only=True)` (deterministic kernels where torch has them;
    a few CUDA backward kernels, e.g. adaptive average pooling's, have none and only warn),
    `torch.backends.cudnn.benchmark = False`, `torch.set_num_threads(threads)`, and the environment
    variable CUBLAS_WORKSPACE_CONFIG (deterministic cuBLAS; only if it is not set already).

    What that buys: the same notebook run twice *on one machine* prints the same numbers. What it cannot
    buy: the same numbers on another machine. Another CPU (or torch's other kernels for it, or a GPU)
    rounds the last bits of floating-point sums differently, and training amplifies those bits, even in
    float64 and on one thread. The book therefore prints results of training in the marked form of
    `cnnbook.measure.approx` and checks that they lie in a stated band. One thread is the default because
    the thread count changes the order of sums too, and because parallel test workers share the cores.
    A chapter calls it once, as `set_seed(book_seed(0))`; everything after that seeds through `seeded`.
    """
    seed = _validate.integer(seed, "seed", minimum=0, meaning="which random stream, e.g. set_seed(0)",
                             who="set_seed")
    threads = _validate.positive_int(threads, "threads", "CPU threads torch may use, e.g. threads=1",
                                     who="set_seed")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed for deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
