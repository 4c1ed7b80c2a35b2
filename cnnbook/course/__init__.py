"""cnnbook's coursework: graded assignments run with nbgrader, safely, on a real class.

Installed with the `course` extra (`pip install .[course]`, which brings nbgrader); nothing in the book's
own modules imports this package, and it imports none of them. The command line:

    python -m cnnbook.course release | collect | autograde | feedback | export | check   (--help for each)

Modules, each named for what it holds:

- `student_checks`: what the assignments' test cells import (`check_tensor`, `check_close`,
  `check_equal`, `check_between`, `forbidden`); not to be confused with `cnnbook._validate`, which checks
  the arguments of the book's own functions;
- `commands`: the command line (`main`) and its steps (`release`, `collect`, `autograde`, `feedback`,
  `export`, `check`);
- `scan`: the static scan of what a student wrote (IPython-aware, allow-list, identity of forbidden objects);
- `recording`: test cells rewritten to only record the student's values;
- `grader`: the nbgrader preprocessors that run a submission in the sandbox and score its records;
- `sandbox`: bubblewrap and the host's limits around each submission's kernel.

Names are loaded on first use (PEP 562): importing `cnnbook.course.student_checks` in a student's kernel
loads neither nbgrader nor the command line.
"""

import importlib

_COMMANDS = ("DEFAULT_TIMEOUT", "autograde", "available_assignments", "check", "collect", "create_course", "export",
             "feedback", "main", "release", "scan_cell", "student_id")
_GRADER = ("GradingExecute", "GradeFromRecords", "build_references")
_SUBMODULES = ("commands", "grader", "recording", "sandbox", "scan", "student_checks")
__all__ = [*_COMMANDS, *_GRADER]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _COMMANDS:
        return getattr(importlib.import_module(f"{__name__}.commands"), name)
    if name in _GRADER:
        return getattr(importlib.import_module(f"{__name__}.grader"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES, *__all__])
