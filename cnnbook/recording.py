"""Deprecated alias of `cnnbook.course.recording` (kept for one release; see CHANGELOG.md)."""

import sys
import warnings

from cnnbook.course import recording as _target

warnings.warn("cnnbook.recording is deprecated: use cnnbook.course.recording (see CHANGELOG.md).", DeprecationWarning,
              stacklevel=2)
sys.modules[__name__] = _target
