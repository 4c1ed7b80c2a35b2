"""Deprecated: `cnnbook.profile` (which shadowed the standard library's `profile`) is now `cnnbook.anatomy`.
Kept for one release."""

import warnings

from .anatomy import ModelSummary, conv_gradient_norms, summary

__all__ = ["ModelSummary", "conv_gradient_norms", "summary"]

warnings.warn("cnnbook.profile is deprecated: import summary, conv_gradient_norms, ModelSummary from "
              "cnnbook.anatomy.", DeprecationWarning, stacklevel=2)
