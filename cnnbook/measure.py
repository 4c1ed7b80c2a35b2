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

A band must carry a claim. Either it is the range the sentence beside it states (`claim=(90, None)`: "above
90 %"), or it is centred on what the author measured and at most ten of the author's recorded seed spreads
wide (`band=..., spread=...`); `approx` refuses anything wider, since a band that cannot fail checks nothing.

A comparison between two trainings is decided by `compare`, never by eye: the difference with a 95 %
confidence interval over seeds, and a verdict word that a cell asserts only where it holds with margin:

    SE − plain ≈ +2.2 points, 95 % CI ≈ [+0.9, +3.5] (5 seeds, paired t): SE higher
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import stdtrit  # Student's t quantile: what scipy.stats.t.ppf returns, at a third of the import time

MARK = "≈"
MAX_BAND_SPREADS = 10      # a band may be at most this many recorded spreads wide
MARGIN = 2.0               # an asserted verdict needs |difference| >= MARGIN × the interval's half-width


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator) of two or more numbers."""
    values = _numbers(values, "values", "mean_and_spread")
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def approx(value, band: tuple[float, float] | None = None, *, spread: float | None = None,
           claim: tuple[float | None, float | None] | None = None, unit: str = "", digits: int = 1) -> str:
    """'≈ 97.4 %' for one measurement, '≈ 97.5 ± 0.2 %' for a list of them (one per seed).

    The value (for a list: its mean) must lie in the range that the claim beside it needs; give that range
    in exactly one of two ways:

    - `claim=(low, high)`: the range the sentence itself states ("above 90 %": `claim=(90, None)`;
      "at chance, 7-13 %": `claim=(7, 13)`). None leaves a side open.
    - `band=(low, high), spread=s`: a band around the measured value, where `s` is the sample standard
      deviation over seeds *as the author recorded it* (a constant in the call, so the rule does not wobble
      with the run). The band may be at most 10·s wide (high - low <= 10 s); a wider one could not fail.

    Raises AssertionError, naming the value and the range, when the value lies outside: the chapter's claim
    would then be false on this machine. Raises ValueError for a band that breaks the rule.
    """
    who = "approx"
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
        raise TypeError(f"approx: digits must be a non-negative int (decimal places), got {digits!r}.")
    if not isinstance(unit, str):
        raise TypeError(f"approx: unit must be a string such as '%' or 's', got {type(unit).__name__}.")
    low, high = _range(band, spread, claim)
    if isinstance(value, (list, tuple)):
        centre, sd = mean_and_spread(value)
        shown = f"{centre:.{digits}f} ± {sd:.{digits}f}"
    else:
        centre = _number(value, "value", who)
        shown = f"{centre:.{digits}f}"
    if not low <= centre <= high:
        what = "mean" if isinstance(value, (list, tuple)) else "value"
        kind = "claimed range" if claim is not None else "stated band"
        raise AssertionError(f"measured {what} {centre:.{digits + 2}f} lies outside the {kind} "
                             f"[{low:g}, {high:g}]{_unit(unit)}: the claim that rests on it does not hold on "
                             f"this machine (or for these seeds).")
    return f"{MARK} {shown}{_unit(unit)}"


def around(recorded: float, spread: float, spreads: float = 4.5) -> tuple[float, float]:
    """The band for `approx(..., band=around(mean, sd), spread=sd)`: the mean the author recorded over seeds
    ± `spreads` recorded standard deviations (4.5 by default, so 9 spreads wide, inside the 10-spread rule)."""
    recorded, spread = _number(recorded, "recorded", "around"), _number(spread, "spread", "around")
    spreads = _number(spreads, "spreads", "around")
    if spread <= 0 or not 0 < spreads <= MAX_BAND_SPREADS / 2:
        raise ValueError(f"around: needs spread > 0 and 0 < spreads <= {MAX_BAND_SPREADS / 2:g} (a band at most "
                         f"{MAX_BAND_SPREADS} spreads wide), got spread={spread:g}, spreads={spreads:g}.")
    return recorded - spreads * spread, recorded + spreads * spread


@dataclass(frozen=True)
class Comparison:
    """The difference a - b between two settings measured over seeds, with its 95 % confidence interval.

    paired: the settings shared their seeds (seed i of a and of b saw the same data order and initial
    draw), so the interval is Student's t on the n differences; otherwise Welch's t on two samples.
    verdict: "<a> higher", "<b> higher", "equivalent within ±margin" (the whole interval inside it) or
    "not resolved with n seeds".
    """
    a: str
    b: str
    difference: float
    low: float
    high: float
    n: int
    paired: bool
    margin: float | None
    unit: str
    digits: int

    @property
    def half_width(self) -> float:
        """Half the interval's width: effects much smaller than this are not resolved by these seeds."""
        return (self.high - self.low) / 2

    @property
    def verdict(self) -> str:
        if self.margin is not None and -self.margin < self.low and self.high < self.margin:
            return f"equivalent within ±{self.margin:g}{_unit(self.unit)}"
        if self.low > 0:
            return f"{self.a} higher"
        if self.high < 0:
            return f"{self.b} higher"
        return f"not resolved with {self.n} seeds"

    def _measured(self) -> str:
        d = self.digits
        test = "paired t" if self.paired else "Welch t"
        return (f"{self.a} − {self.b} {MARK} {self.difference:+.{d}f}{_unit(self.unit)}, 95 % CI {MARK} "
                f"[{self.low:+.{d}f}, {self.high:+.{d}f}] ({self.n} seeds, {test})")

    def expect(self, verdict: str) -> str:
        """Assert the verdict the text needs ("higher" for a, "lower" for a below b, "equivalent") and
        return the full line with the verdict word. Directional verdicts must hold with margin: the
        difference at least 2 half-widths from 0 (so the interval's near end is at least half the effect);
        an equivalence verdict needs the interval, widened by one half-width, inside ±margin."""
        wanted = {"higher": f"{self.a} higher", "lower": f"{self.b} higher"}.get(verdict)
        if verdict == "equivalent":
            if self.margin is None:
                raise ValueError("compare: an 'equivalent' verdict needs the margin the text states, "
                                 "e.g. compare(a, b, margin=1.0) for 'within ±1 point'.")
            wanted = f"equivalent within ±{self.margin:g}{_unit(self.unit)}"
            held = max(abs(self.low), abs(self.high)) + self.half_width <= self.margin
        elif wanted is not None:
            held = abs(self.difference) >= MARGIN * self.half_width and self.verdict == wanted
        else:
            raise ValueError(f"Comparison.expect: verdict must be 'higher', 'lower' or 'equivalent', got "
                             f"{verdict!r}; for a question the seeds cannot settle, use .resolution(...).")
        if not held or self.verdict != wanted:
            raise AssertionError(f"{self._measured()}: the verdict is {self.verdict!r}, the text needs "
                                 f"{wanted!r} with margin (|difference| >= {MARGIN:g} half-widths); with these "
                                 f"seeds the claim does not hold — more seeds, or say it is not resolved.")
        return f"{self._measured()}: {self.verdict}"

    def resolution(self, at_most: float) -> str:
        """For a question the seeds cannot settle: assert the interval's half-width is at most `at_most`
        (stable across seeds, unlike whether it happens to contain 0) and return the line without a
        verdict word, ending in what the seeds can resolve."""
        at_most = _number(at_most, "at_most", "Comparison.resolution")
        if not self.half_width <= at_most:
            raise AssertionError(f"{self._measured()}: the interval's half-width {self.half_width:.3g} is "
                                 f"larger than the {at_most:g} the text states.")
        return f"{self._measured()}: resolves effects beyond {MARK} ±{self.half_width:.{self.digits}f}{_unit(self.unit)}"

    def __str__(self) -> str:
        return f"{self._measured()}: {self.verdict}"


def compare(a, b, names: tuple[str, str] = ("A", "B"), *, paired: bool = True, margin: float | None = None,
            unit: str = "", digits: int = 1) -> Comparison:
    """Compare two settings measured over seeds: a - b with a 95 % confidence interval.

    a, b: one value per seed (at least two each). paired=True (the default) when seed i of a and seed i of b
    are the same seed: Student's t on the differences a_i - b_i (n - 1 degrees of freedom). paired=False
    for independent runs: Welch's t, with Welch-Satterthwaite degrees of freedom. margin: the equivalence
    margin the text states ("within ±1 point": margin=1.0), or None. Returns a `Comparison`; print it
    through `.expect(verdict)` or `.resolution(at_most)`, which assert what the text says.
    """
    who = "compare"
    a, b = _numbers(a, "a", who), _numbers(b, "b", who)
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise TypeError(f"compare: names must be a pair of strings such as ('SE', 'plain'), got {names!r}.")
    if not isinstance(paired, bool):
        raise TypeError(f"compare: paired must be True or False, got {paired!r}.")
    if margin is not None:
        margin = _number(margin, "margin", who)
        if margin <= 0:
            raise ValueError(f"compare: margin must be > 0 (the ± range the text calls equivalent), got {margin}.")
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
        raise TypeError(f"compare: digits must be a non-negative int (decimal places), got {digits!r}.")
    if paired:
        if len(a) != len(b):
            raise ValueError(f"compare: paired=True needs one value per shared seed in a and b, got {len(a)} "
                             f"and {len(b)}; pass paired=False for independent runs.")
        differences = [x - y for x, y in zip(a, b)]
        mean, sd = mean_and_spread(differences)
        n = len(a)
        se, df = sd / math.sqrt(n), n - 1
    else:
        (ma, sa), (mb, sb) = mean_and_spread(a), mean_and_spread(b)
        mean, va, vb = ma - mb, sa ** 2 / len(a), sb ** 2 / len(b)
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else len(a) + len(b) - 2
        n = min(len(a), len(b))
    half = float(stdtrit(df, 0.975)) * se
    return Comparison(names[0], names[1], mean, mean - half, mean + half, n, paired, margin, unit, digits)


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _number(value, name: str, who: str = "approx") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{who}: {name} must be a number (a Python float or a one-element tensor), "
                        f"got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{who}: {name} must be finite, got {number}: the measurement diverged or is missing.")
    return number


def _numbers(values, name: str, who: str) -> list[float]:
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{who}: {name} must be a list or tuple of numbers, one per seed, got "
                        f"{type(values).__name__}.")
    if len(values) < 2:
        raise ValueError(f"{who}: {name} needs at least two values (one per seed) to have a spread, "
                         f"got {len(values)}.")
    return [_number(v, name, who) for v in values]


def _range(band, spread, claim) -> tuple[float, float]:
    """The checked range: the claim as stated, or a band no wider than MAX_BAND_SPREADS recorded spreads."""
    if (band is None) == (claim is None):
        raise ValueError("approx: give exactly one of claim=(low, high), the range the sentence states, or "
                         "band=(low, high) with spread=, the seeds' standard deviation you recorded.")
    if claim is not None:
        if spread is not None:
            raise ValueError("approx: spread= goes with band=, not with claim= (a claim is the sentence's range).")
        if not (isinstance(claim, (tuple, list)) and len(claim) == 2) or claim == (None, None):
            raise TypeError(f"approx: claim must be a pair (low, high) with at most one side None, e.g. "
                            f"claim=(90, None) for 'above 90', got {claim!r}.")
        low = -math.inf if claim[0] is None else _number(claim[0], "claim")
        high = math.inf if claim[1] is None else _number(claim[1], "claim")
    else:
        if not (isinstance(band, (tuple, list)) and len(band) == 2):
            raise TypeError(f"approx: band must be a pair (low, high), e.g. (96.5, 98.5), got {band!r}.")
        low, high = (_number(x, "band") for x in band)
        if spread is None:
            raise ValueError(f"approx: band={tuple(band)!r} needs spread=, the standard deviation over seeds you "
                             f"recorded, so that the band's width can be checked (at most {MAX_BAND_SPREADS} "
                             f"spreads); or state the sentence's range with claim=.")
        spread = _number(spread, "spread")
        if spread <= 0:
            raise ValueError(f"approx: spread must be > 0, got {spread}; a value that never varies is exact — "
                             f"print it plainly.")
        if high - low > MAX_BAND_SPREADS * spread * (1 + 1e-9):
            raise ValueError(f"approx: band {tuple(band)!r} is {high - low:g} wide, more than {MAX_BAND_SPREADS} × "
                             f"the recorded spread {spread:g}; a band that wide cannot fail. Narrow it, or state "
                             f"the sentence's own range with claim=.")
    if low > high:
        raise ValueError(f"approx: the range must be (low, high) with low <= high, got ({low:g}, {high:g}) — "
                         f"swap the two numbers.")
    return low, high
