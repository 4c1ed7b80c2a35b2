"""Deprecated: `cnnbook.profile` (which shadowed the standard library's `profile`) is now `cnnbook.anatomy`.
Kept for one release."""

import warnings

# stacklevel=1: the warning belongs to this module, so Python's default filters keep it out of notebooks (whose
# outputs nbval compares) while pytest and `python -W default` show it.

from .anatomy import ModelSummary, conv_gradient_norms, summary

__all__ = ["ModelSummary", "conv_gradient_norms", "summary"]

warnings.warn("cnnbook.profile is deprecated: import summary, conv_gradient_norms, ModelSummary from "
              "cnnbook.anatomy.", DeprecationWarning, stacklevel=1)
