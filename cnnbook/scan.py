"""Deprecated alias of `cnnbook.course.scan` (kept for one release; see CHANGELOG.md)."""

import sys
import warnings

from cnnbook.course import scan as _target

warnings.warn("cnnbook.scan is deprecated: use cnnbook.course.scan (see CHANGELOG.md).", DeprecationWarning,
              stacklevel=2)
sys.modules[__name__] = _target
