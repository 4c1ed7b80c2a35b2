"""Measured values: the book's one convention for numbers that depend on rounding.

Used by every chapter that trains. A convolution of integers or a parameter count is *exact*: it is printed
plainly and the tests compare it digit for digit. An accuracy after training is *measured*: another CPU picks
other math kernels, the last bits of every floating-point sum differ, and training amplifies them, so a
reader's run prints a slightly different value. Such a number is printed by `approx` in one marked form,

    ≈ 97.4 %            one run
    ≈ 97.5 ± 0.2 %      mean ± standard deviation over seeds

after `approx` has checked that it lies in the band the author states next to it. The test suite masks
exactly that form (`tests/nbval_sanitize.cfg`) and relies on the band instead: if a reader's value leaves
the band, the cell fails and says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MARK = "≈"


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator) of two or more numbers."""
    values = [_number(v, "values") for v in values]
    if len(values) < 2:
        raise ValueError(f"mean_and_spread needs at least two values (one per seed), got {len(values)}.")
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def approx(value, band: tuple[float, float], unit: str = "", digits: int = 1) -> str:
    """'≈ 97.4 %' for one measurement, '≈ 97.5 ± 0.2 %' for a list of them (one per seed).

    band = (low, high), in the same unit as the value: the range the claim next to it needs, wide enough
    to hold on any CPU and seed. For a list, the mean must lie in the band. Raises AssertionError, naming
    the value and the band, when it does not — the chapter's claim would then be false on this machine.
    """
    low, high = _band(band)
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
        raise ValueError(f"digits must be a non-negative int (decimal places), got {digits!r}.")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a string such as '%' or 's', got {type(unit).__name__}.")
    if isinstance(value, (list, tuple)):
        centre, spread = mean_and_spread(value)
        shown = f"{centre:.{digits}f} ± {spread:.{digits}f}"
    else:
        centre = _number(value, "value")
        shown = f"{centre:.{digits}f}"
    if not low <= centre <= high:
        what = "mean" if isinstance(value, (list, tuple)) else "value"
        raise AssertionError(f"measured {what} {centre:.{digits + 2}f} lies outside the stated band "
                             f"[{low:g}, {high:g}]{(' ' + unit) if unit else ''}: the claim that rests on it "
                             f"does not hold on this machine.")
    return f"{MARK} {shown}{(' ' + unit) if unit else ''}"


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{name} must be a number (a Python float or a one-element tensor), "
                        f"got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}: the measurement diverged or is missing.")
    return number


def _band(band) -> tuple[float, float]:
    if not (isinstance(band, (tuple, list)) and len(band) == 2):
        raise TypeError(f"band must be a pair (low, high), e.g. (96.5, 98.5), got {band!r}.")
    low, high = (_number(b, "band") for b in band)
    if low > high:
        raise ValueError(f"band must be (low, high) with low <= high, got {band!r} — swap the two numbers.")
    return low, high
