"""The visual cortex as a CNN's ancestor: simple cells, complex cells and the neocognitron, computed.

Used by chapter 2b (`notebooks/02b_biology`). Hubel and Wiesel found two kinds of cells in the cat's
primary visual cortex, modelled here in the book's own operations:

- a *simple cell* responds to a bar or edge of one orientation at one place: an oriented kernel `gabor`
  (or an edge kernel) followed by a threshold, `simple_cell(x, w) = relu(w ⋆ x − θ)`, i.e. a convolution
  and a ReLU;
- a *complex cell* responds to the same orientation anywhere in a small region: the maximum of simple
  cells over nearby positions, `complex_cell` = max pooling of their map.

`orientation_tuning` measures a cell's response to `grating`s of every orientation (its tuning curve);
`bar` draws the stimulus Hubel and Wiesel used. `neocognitron` stacks S-layers (oriented kernels + threshold,
then conjunctions of them) and C-layers (max pooling), the alternation that Fukushima's neocognitron
introduced and that convolutional networks kept; its kernels here are fixed by hand, not learned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from . import _validate


def _grid(size: int, who: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (y down, x right) centred on the middle of a size × size grid, float64."""
    size = _validate.integer(size, "size", 1, "the side of the square in pixels, e.g. 15", who)
    c = (size - 1) / 2
    r = torch.arange(size, dtype=torch.float64) - c
    return torch.meshgrid(r, r, indexing="ij")


def _across(ys: torch.Tensor, xs: torch.Tensor, orientation: float) -> torch.Tensor:
    """The coordinate across stripes of the given orientation (degrees; 0 = vertical stripes, 90 =
    horizontal ones): it grows to the right for 0° and downwards for 90°."""
    theta = math.radians(orientation)
    return xs * math.cos(theta) + ys * math.sin(theta)


def gabor(size: int, orientation: float, wavelength: float, sigma: float | None = None,
          phase: float = 0.0) -> torch.Tensor:
    """A Gabor kernel (size, size), float32: a cosine grating under a Gaussian window.

    g(y, x) = exp(−(x² + y²) / 2σ²) · cos(2π u / λ + phase),  u = x cos θ + y sin θ,
    with θ = `orientation` in degrees (0 = vertical stripes, so the kernel responds to vertical bars and
    edges; 90 = horizontal). phase 0 gives an even kernel (a bright bar between two dark flanks), phase
    −90 an odd one (an edge). The mean is removed (a uniform image gives 0) and the kernel scaled to unit
    L2 norm. sigma defaults to wavelength / 2.
    """
    who = "gabor"
    ys, xs = _grid(size, who)
    orientation = _validate.number(orientation, "orientation", who=who, meaning="degrees, 0 = vertical stripes")
    wavelength = _validate.number(wavelength, "wavelength", 1e-6, who=who, meaning="pixels per stripe period")
    sigma = wavelength / 2 if sigma is None else _validate.number(sigma, "sigma", 1e-6, who=who,
                                                                    meaning="width of the Gaussian in pixels")
    phase = _validate.number(phase, "phase", who=who, meaning="degrees")
    u = _across(ys, xs, orientation)
    g = torch.exp(-(xs ** 2 + ys ** 2) / (2 * sigma ** 2)) * torch.cos(2 * math.pi * u / wavelength
                                                                        + math.radians(phase))
    g = g - g.mean()
    norm = g.norm()
    if norm == 0:
        raise ValueError(f"gabor: size={size} is too small for this kernel (it is constant, so removing the mean "
                         f"leaves 0); use size >= 3.")
    return (g / norm).float()


def grating(size: int, orientation: float, wavelength: float, phase: float = 0.0) -> torch.Tensor:
    """A sinusoidal grating (size, size), float32 in [−1, 1]: cos(2π u / λ + phase), u as in `gabor`
    (orientation 0 = vertical stripes). The stimulus of an orientation tuning curve."""
    who = "grating"
    ys, xs = _grid(size, who)
    orientation = _validate.number(orientation, "orientation", who=who, meaning="degrees, 0 = vertical stripes")
    wavelength = _validate.number(wavelength, "wavelength", 1e-6, who=who, meaning="pixels per stripe period")
    phase = _validate.number(phase, "phase", who=who, meaning="degrees")
    return torch.cos(2 * math.pi * _across(ys, xs, orientation) / wavelength + math.radians(phase)).float()


def bar(size: int, orientation: float, width: float = 2.0, offset: float = 0.0,
        length: float | None = None) -> torch.Tensor:
    """A bright bar on a dark background (size, size), float32 in {0, 1}: the stimulus of Hubel and Wiesel.

    orientation in degrees (0 = vertical bar); `offset` moves it across its own direction (pixels; for a
    vertical bar, to the right); `length` (pixels, default: the whole image) limits it along the bar.
    """
    who = "bar"
    ys, xs = _grid(size, who)
    orientation = _validate.number(orientation, "orientation", who=who, meaning="degrees, 0 = vertical bar")
    width = _validate.number(width, "width", 1e-6, who=who, meaning="pixels")
    offset = _validate.number(offset, "offset", who=who, meaning="pixels across the bar")
    u = _across(ys, xs, orientation)
    inside = (u - offset).abs() < width / 2
    if length is not None:
        length = _validate.number(length, "length", 1e-6, who=who, meaning="pixels along the bar")
        along = -xs * math.sin(math.radians(orientation)) + ys * math.cos(math.radians(orientation))
        inside &= along.abs() < length / 2
    return inside.float()


def _images(x, who: str) -> torch.Tensor:
    """Accept (H, W), (N, H, W) or (N, 1, H, W) float images; return (N, 1, H, W)."""
    _validate.tensor(x, "x", who, "(N, 1, H, W), (N, H, W) or (H, W)", floating=True)
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[:, None]
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{who}: x must be grey images (N, 1, H, W), (N, H, W) or (H, W), got shape "
                         f"{tuple(x.shape)}; for a colour image take its luminance first.")
    return x


def _kernel(kernel, x: torch.Tensor, who: str) -> torch.Tensor:
    _validate.tensor(kernel, "kernel", who, "(k, k)", dims=2, floating=True)
    return kernel.to(x.dtype)[None, None]


def simple_cell(x: torch.Tensor, kernel: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """A layer of simple cells: relu(kernel ⋆ x − threshold) at every position (a convolution and a ReLU).

    x: (N, 1, H, W), (N, H, W) or (H, W); kernel: (k, k). Returns (N, H − k + 1, W − k + 1): the map of
    one orientation's cells, one per position, each seeing a k × k patch (its receptive field).
    """
    who = "simple_cell"
    x = _images(x, who)
    threshold = _validate.number(threshold, "threshold", 0.0, who=who, meaning="a firing threshold >= 0")
    return F.relu(F.conv2d(x, _kernel(kernel, x, who)) - threshold)[:, 0]


def complex_cell(x: torch.Tensor, kernel: torch.Tensor, pool: int, threshold: float = 0.0) -> torch.Tensor:
    """Complex cells: the maximum of `simple_cell(x, kernel, threshold)` over pool × pool positions.

    Windows side by side (stride = pool), as 2×2 max pooling in a CNN. Returns (N, H', W') with
    H' = (H − k + 1) // pool. One complex cell responds to its orientation wherever in its window the
    stimulus falls: what it gives up is where.
    """
    pool = _validate.integer(pool, "pool", 1, "how many positions each complex cell pools over, e.g. 5",
                             "complex_cell")
    maps = simple_cell(x, kernel, threshold)
    if pool > min(maps.shape[-2:]):
        raise ValueError(f"complex_cell: pool={pool} is larger than the simple cells' map {tuple(maps.shape[-2:])}; "
                         f"use a larger image or a smaller pool.")
    return F.max_pool2d(maps[:, None], pool)[:, 0]


def orientation_tuning(cell: Callable[[torch.Tensor], torch.Tensor], orientations: Sequence[float], size: int,
                       wavelength: float, phases: int = 8) -> torch.Tensor:
    """A cell's orientation tuning curve: its mean response to gratings of each orientation.

    cell: images (N, 1, size, size) -> responses (N,) (one number per image). For each orientation the
    grating is shown at `phases` evenly spaced phases (as a drifting grating sweeps across the cell) and
    the responses are averaged. Returns (len(orientations),), float64.
    """
    who = "orientation_tuning"
    if not callable(cell):
        raise TypeError(f"{who}: cell must be a function of images (N, 1, H, W) returning one response per image, "
                        f"e.g. lambda x: simple_cell(x, w)[:, c, c]; got {type(cell).__name__}.")
    orientations = [_validate.number(o, "orientations", who=who, meaning="degrees") for o in orientations]
    _validate.not_empty(len(orientations), "orientations", who, "e.g. range(0, 180, 15)")
    phases = _validate.integer(phases, "phases", 1, "how many phases of the grating to average over", who)
    curve = []
    for o in orientations:
        x = torch.stack([grating(size, o, wavelength, 360 * p / phases) for p in range(phases)])[:, None]
        r = cell(x)
        if not isinstance(r, torch.Tensor) or r.shape != (phases,):
            raise ValueError(f"{who}: cell must return one response per image, shape ({phases},), got "
                             f"{tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__}; index the "
                             f"map at one position, e.g. [:, c, c].")
        curve.append(r.double().mean())
    return torch.stack(curve)


def half_width(orientations: Sequence[float], curve: torch.Tensor) -> float:
    """Half-width at half height of a tuning curve, in degrees.

    From the peak, walk left and right to the first sample below half the maximum and interpolate linearly
    where the curve crosses the half height; the result is half the distance between the two crossings.
    orientations: sorted, as passed to `orientation_tuning`; curve: its (S,) result.
    """
    who = "half_width"
    _validate.tensor(curve, "curve", who, "(S,)", dims=1, floating=True)
    o = [_validate.number(v, "orientations", who=who, meaning="degrees") for v in orientations]
    if len(o) != len(curve):
        raise ValueError(f"{who}: {len(o)} orientations but {len(curve)} responses; pass the same "
                         f"orientations that orientation_tuning measured.")
    if any(b <= a for a, b in zip(o, o[1:])):
        raise ValueError(f"{who}: orientations must increase, e.g. range(-90, 91, 5).")
    c = curve.double().tolist()
    peak = max(range(len(c)), key=c.__getitem__)
    half = c[peak] / 2
    if c[peak] <= 0:
        raise ValueError(f"{who}: the cell never responds (maximum {c[peak]:g}); lower its threshold.")
    ends = []
    for step in (-1, 1):
        i = peak
        while 0 <= i + step < len(c) and c[i + step] >= half:
            i += step
        if not 0 <= i + step < len(c):
            raise ValueError(f"{who}: the curve stays above half its maximum up to {o[i]}°; measure a wider range "
                             f"of orientations.")
        j = i + step                              # first sample below half height
        ends.append(o[i] + (o[j] - o[i]) * (c[i] - half) / (c[i] - c[j]))
    return (ends[1] - ends[0]) / 2


def neocognitron(x: torch.Tensor, kernels: torch.Tensor, threshold: float = 0.0, pool: int = 2,
                 pairs: Sequence[tuple[int, int]] | None = None) -> dict[str, torch.Tensor]:
    """A two-stage neocognitron with hand-made S-cells: S1 → C1 → S2 → C2, every stage's maps by name.

    x: (N, 1, H, W), (N, H, W) or (H, W). kernels: (K, k, k), one per orientation (k odd).
    S1 = relu(kernels ⋆ x − threshold): K maps of simple cells, 'same' size (zero padding);
    C1 = max pooling, pool × pool windows side by side;
    S2: for each pair (i, j) of orientations (default: every pair), min(C1_i, C1_j) after each is spread
        over 3 × 3 positions (a 3 × 3 max): a cell that fires only where both orientations occur close
        together, such as a corner or a crossing, the kind of conjunction Fukushima's second S-layer learned;
    C2 = max pooling pool × pool again.
    Returns {"S1", "C1", "S2", "C2"}, each (N, maps, H', W').
    """
    who = "neocognitron"
    x = _images(x, who)
    _validate.tensor(kernels, "kernels", who, "(K, k, k)", dims=3, floating=True)
    if kernels.shape[-1] % 2 == 0 or kernels.shape[-1] != kernels.shape[-2]:
        raise ValueError(f"{who}: kernels must be square with an odd side (k, k), got {tuple(kernels.shape[-2:])}.")
    threshold = _validate.number(threshold, "threshold", 0.0, who=who, meaning="the S-cells' threshold >= 0")
    pool = _validate.integer(pool, "pool", 1, "the C-cells' window, e.g. 2", who)
    n = len(kernels)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)] if pairs is None else list(pairs)
    _validate.not_empty(len(pairs), "pairs", who, "give at least one pair of orientations, e.g. [(0, 2)]")
    for pair in pairs:
        if len(pair) != 2 or not all(_validate.is_int(i) and 0 <= i < n for i in pair):
            raise ValueError(f"{who}: pair {pair!r} must be two orientation indices in 0..{n - 1}.")
    s1 = F.relu(F.conv2d(x, kernels.to(x.dtype)[:, None], padding=kernels.shape[-1] // 2) - threshold)
    c1 = F.max_pool2d(s1, pool)
    near = F.max_pool2d(c1, 3, stride=1, padding=1)
    s2 = torch.stack([torch.minimum(near[:, i], near[:, j]) for i, j in pairs], dim=1)
    c2 = F.max_pool2d(s2, pool)
    return {"S1": s1, "C1": c1, "S2": s2, "C2": c2}


def oriented_bars(n: int, generator: torch.Generator, size: int = 21, orientations: Sequence[float] = (0, 45, 90, 135),
                  width: float = 3.0, length: float = 11.0, max_offset: int = 6,
                  noise: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled data set of bars: (images (n, 1, size, size) float32, labels (n,) int64).

    Label c is a bar of orientation `orientations[c]`, moved across itself by a random whole number of
    pixels in [−max_offset, max_offset], plus Gaussian noise of standard deviation `noise`. Everything is
    drawn from `generator`, so the data set is defined by its seed (chapter 2b trains on it).
    """
    who = "oriented_bars"
    n = _validate.positive_int(n, "n", "how many images", who)
    generator = _validate.generator(generator, who=who)
    max_offset = _validate.integer(max_offset, "max_offset", 0, "pixels a bar may move", who)
    noise = _validate.number(noise, "noise", 0.0, who=who, meaning="standard deviation of the pixel noise")
    orientations = [_validate.number(o, "orientations", who=who, meaning="degrees") for o in orientations]
    _validate.not_empty(len(orientations), "orientations", who, "e.g. (0, 45, 90, 135)")
    labels = torch.randint(0, len(orientations), (n,), generator=generator)
    offsets = torch.randint(-max_offset, max_offset + 1, (n,), generator=generator)
    images = torch.stack([bar(size, orientations[c], width, o, length) for c, o in zip(labels.tolist(),
                                                                                      offsets.tolist())])[:, None]
    return images + noise * torch.randn(images.shape, generator=generator), labels
