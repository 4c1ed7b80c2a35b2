"""Deprecated alias of `cnnbook.course.student_checks` (kept for one release; see CHANGELOG.md).

Assignments released before the rename import `from cnnbook.checks import …`. This module *is*
`cnnbook.course.student_checks` (same object, so nothing differs). It warns only outside a Jupyter kernel:
in a student's kernel a DeprecationWarning on stderr would fail the test cell under nbgrader, so there it
stays silent.
"""

import sys
import warnings

from cnnbook.course import student_checks as _target

if "ipykernel" not in sys.modules and "CNNBOOK_GRADING" not in __import__("os").environ:
    warnings.warn("cnnbook.checks is deprecated: import from cnnbook.course.student_checks (see CHANGELOG.md).",
                  DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _target
