"""Deprecated alias of `cnnbook.course.sandbox` (kept for one release; see CHANGELOG.md)."""

import sys
import warnings

from cnnbook.course import sandbox as _target

warnings.warn("cnnbook.sandbox is deprecated: use cnnbook.course.sandbox (see CHANGELOG.md).", DeprecationWarning,
              stacklevel=2)
sys.modules[__name__] = _target
