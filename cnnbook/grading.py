"""Deprecated alias of the course command line, `cnnbook.course` (kept for one release; see CHANGELOG.md).

`python -m cnnbook.grading …` still works and says, on stderr, to use `python -m cnnbook.course …`;
`from cnnbook import grading` still gives the same functions (and the students' checks), with a
DeprecationWarning. Instructors only: students' notebooks never import this module.
"""

import sys
import warnings

from .course.commands import (DEFAULT_TIMEOUT, autograde, available_assignments, build_references, collect,
                              create_course, export, feedback, main, release, scan_cell)
from .course.student_checks import check_between, check_close, check_equal, check_tensor, forbidden

__all__ = ["check_between", "check_close", "check_equal", "check_tensor", "forbidden", "DEFAULT_TIMEOUT",
           "autograde", "available_assignments", "build_references", "collect", "create_course", "export",
           "feedback", "main", "release", "scan_cell"]

_MESSAGE = "cnnbook.grading is deprecated: use `python -m cnnbook.course` / cnnbook.course (see CHANGELOG.md)."

if __name__ == "__main__":
    print(f"note: {_MESSAGE}", file=sys.stderr)
    sys.exit(main())
else:
    warnings.warn(_MESSAGE, DeprecationWarning, stacklevel=2)
