"""Grading: the name students and instructors already use for cnnbook's coursework tools.

Two modules do the work, and this one re-exports both:

- `cnnbook.checks` — what the assignments' test cells import: `check_tensor`, `check_close`,
  `check_equal`, `check_between` and `forbidden` (messages that say what was expected, what came back
  and a hint).
- `cnnbook.course` — the instructor's command line (`python -m cnnbook.grading release | collect |
  autograde | export`), which grades each submission in a sandbox (`cnnbook.sandbox`) and scores it in
  its own process from the values the tests recorded.

Nothing here runs at import time; nbgrader is imported only by the course commands.
"""

import sys

from .checks import check_between, check_close, check_equal, check_tensor, forbidden
from .course import (DEFAULT_TIMEOUT, autograde, available_assignments, build_references, collect, create_course,
                     export, main, release, scan_cell)

__all__ = ["check_between", "check_close", "check_equal", "check_tensor", "forbidden", "DEFAULT_TIMEOUT",
           "autograde", "available_assignments", "build_references", "collect", "create_course", "export", "main",
           "release", "scan_cell"]

if __name__ == "__main__":
    sys.exit(main())
