"""Deprecated: `cnnbook.models.beyond` was split into `cnnbook.models.clips` (ClipNet) and
`cnnbook.models.fourier` (FourierConv2d, ShiftNet); import from `cnnbook.models`. Kept for one release."""

import warnings

# stacklevel=1: the warning belongs to this module, so Python's default filters keep it out of notebooks (whose
# outputs nbval compares) while pytest and `python -W default` show it.

from .clips import ClipNet
from .fourier import FourierConv2d, ShiftNet

__all__ = ["ClipNet", "FourierConv2d", "ShiftNet"]

warnings.warn("cnnbook.models.beyond is deprecated: import ClipNet from cnnbook.models.clips and FourierConv2d, "
              "ShiftNet from cnnbook.models.fourier (or all from cnnbook.models).", DeprecationWarning, stacklevel=1)
