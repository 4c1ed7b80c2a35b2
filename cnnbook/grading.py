"""Grading: the few things nbgrader lacks for running cnnbook as coursework.

Used by the course assignments in `notebooks/assignments/` (one per chapter, in nbgrader's format) and by
the instructors page of the book. Two parts:

- **Checkers** for the visible test cells. A failed check raises `AssertionError` with a message that
  says what was expected, what came back and a hint, so a student never has to read a bare traceback:
  `check_tensor`, `check_close`, `check_equal`, `check_between`, and `forbidden`, a context manager
  that makes calling a library shortcut (e.g. `torch.nn.functional.conv2d`) fail with an explanation.
- **One command** wrapping nbgrader for the common classroom path::

      python -m cnnbook.grading release   COURSE            # course folder + student versions
      python -m cnnbook.grading collect   COURSE ASSIGNMENT SUBMISSIONS_FOLDER
      python -m cnnbook.grading autograde COURSE [--timeout 60]
      python -m cnnbook.grading export    COURSE [--to grades.csv]

  `release` creates `COURSE/nbgrader_config.py`, copies the instructor notebooks into `COURSE/source/`
  and runs nbgrader's `generate_assignment`; the student versions land in `COURSE/release/`.
  Everything else (the gradebook, manual grading in formgrader, feedback) is plain nbgrader.

Nothing here runs at import time; nbgrader is imported only by the course commands.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import shutil
import sys
from pathlib import Path

import torch

ASSIGNMENTS_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
DEFAULT_TIMEOUT = 60  # seconds per cell when autograding

# ============================================================================= checkers
def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _hint(hint: str) -> str:
    return f"\n  hint: {hint}" if hint else ""


def check_tensor(got, expected: torch.Tensor, name: str, atol: float = 1e-5, rtol: float = 1e-4,
                 hint: str = "") -> None:
    """Check that `got` is a tensor with `expected`'s shape and (within atol + rtol*|expected|) values.

    Raises AssertionError naming `name`, the expected and received shape/dtype, the largest difference
    and where it is, and `hint`.
    """
    if got is None:
        raise AssertionError(f"{name}: your function returned None — did you forget the `return`?{_hint(hint)}")
    if isinstance(got, (tuple, list)) and not isinstance(expected, (tuple, list)):
        raise AssertionError(f"{name}: expected one tensor of shape {tuple(expected.shape)}, got a "
                             f"{type(got).__name__} of {len(got)} items.{_hint(hint)}")
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(got).__name__}.{_hint(hint)}")
    if tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(f"{name}: wrong shape — expected {tuple(expected.shape)}, got {tuple(got.shape)}."
                             f"{_hint(hint)}")
    if got.is_floating_point() != expected.is_floating_point():
        raise AssertionError(f"{name}: wrong dtype — expected {expected.dtype}, got {got.dtype}.{_hint(hint)}")
    got_d, exp_d = got.detach().to(torch.float64).cpu(), expected.detach().to(torch.float64).cpu()
    if torch.isnan(got_d).any() and not torch.isnan(exp_d).any():
        where = tuple(torch.nonzero(torch.isnan(got_d))[0].tolist())
        raise AssertionError(f"{name}: contains NaN (first at index {where}); expected finite values."
                             f"{_hint(hint)}")
    if got_d.numel() == 0:
        return
    diff = (got_d - exp_d).abs()
    bad = diff > atol + rtol * exp_d.abs()
    if bad.any():
        worst = int(torch.argmax(torch.where(bad, diff, torch.zeros_like(diff))))
        idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), got_d.shape))
        raise AssertionError(
            f"{name}: wrong values at {int(bad.sum())} of {bad.numel()} positions. Largest difference "
            f"{diff.flatten()[worst].item():.3g} at index {idx}: expected {exp_d[idx].item():.6g}, got "
            f"{got_d[idx].item():.6g} (tolerance: atol={atol:g}, rtol={rtol:g}).{_hint(hint)}")


def check_close(got, expected: float, name: str, atol: float = 1e-6, rtol: float = 1e-4, hint: str = "") -> None:
    """Check that the number `got` (int, float or one-element tensor) is within atol + rtol*|expected|."""
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            raise AssertionError(f"{name}: expected a single number, got a tensor of shape {tuple(got.shape)}."
                                 f"{_hint(hint)}")
        got = got.item()
    if got is None or isinstance(got, bool) or not isinstance(got, (int, float)):
        raise AssertionError(f"{name}: expected a number close to {_fmt(expected)}, got {got!r}.{_hint(hint)}")
    if not math.isclose(got, expected, abs_tol=atol, rel_tol=rtol):
        raise AssertionError(f"{name}: expected {_fmt(expected)}, got {_fmt(float(got))} "
                             f"(tolerance: atol={atol:g}, rtol={rtol:g}).{_hint(hint)}")


def check_equal(got, expected, name: str, hint: str = "") -> None:
    """Check exact equality (ints, tuples, lists, strings), with both values in the message."""
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not isinstance(expected, torch.Tensor):
        got = got.item()
    if type(got) is not type(expected) and not (isinstance(got, int) and isinstance(expected, int)):
        raise AssertionError(f"{name}: expected a {type(expected).__name__} equal to {expected!r}, got a "
                             f"{type(got).__name__}: {got!r}.{_hint(hint)}")
    if got != expected:
        raise AssertionError(f"{name}: expected {expected!r}, got {got!r}.{_hint(hint)}")


def check_between(got, low: float, high: float, name: str, hint: str = "") -> None:
    """Check that the number `got` lies in [low, high] — for experiments whose exact value may vary."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if got is None or isinstance(got, bool) or not isinstance(got, (int, float)) or math.isnan(got):
        raise AssertionError(f"{name}: expected a number between {_fmt(low)} and {_fmt(high)}, got {got!r}."
                             f"{_hint(hint)}")
    if not low <= got <= high:
        raise AssertionError(f"{name}: expected a number between {_fmt(low)} and {_fmt(high)}, got "
                             f"{_fmt(float(got))}.{_hint(hint)}")


def _resolve(target: str):
    """'torch.nn.functional.conv2d' -> (owner object, attribute name)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        if not hasattr(owner, parts[-1]):
            raise ValueError(f"forbidden: {target!r} does not exist — check the spelling.")
        return owner, parts[-1]
    raise ValueError(f"forbidden: cannot import any module from {target!r}; give a dotted path like "
                     f"'torch.nn.functional.conv2d'.")


@contextlib.contextmanager
def forbidden(*targets: str, why: str = "the point of this exercise is to write it yourself"):
    """Inside the block, calling any of `targets` (dotted paths) raises AssertionError saying `why`.

    Example: `with forbidden("torch.nn.functional.conv2d"): conv2d(x, w)` fails if conv2d calls torch's.
    Originals are restored on exit, even after an error.
    """
    saved = []
    try:
        for target in targets:
            owner, attr = _resolve(target)
            original = owner.__dict__[attr] if isinstance(owner, type) and attr in owner.__dict__ \
                else getattr(owner, attr)

            def refuse(*args, _target=target, **kwargs):
                raise AssertionError(f"your code called {_target}; {why}.")

            saved.append((owner, attr, original))
            setattr(owner, attr, refuse)
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


# ============================================================================= the classroom path
CONFIG_TEMPLATE = '''\
# nbgrader configuration for a cnnbook course, written by `python -m cnnbook.grading release`.
# Edit freely: it is plain nbgrader configuration (https://nbgrader.readthedocs.io).
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = {course_id!r}
# Each cell of a submission may run at most this many seconds; a cell that runs longer (an infinite
# loop) is interrupted, its tests fail, and the other cells and submissions are still graded.
c.Execute.timeout = {timeout}
# A student who deletes a graded test cell does not escape it: nbgrader puts it back and runs it.
c.OverwriteCells.add_missing_cells = True
'''


def _api(course: Path, timeout: int | None = None):
    """An nbgrader API object configured from COURSE/nbgrader_config.py (+ an optional timeout)."""
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    # When it creates a gradebook, nbgrader asks a subprocess (`alembic heads`, which must be on PATH) for
    # the schema version: several seconds, and it fails when .venv/bin is not on PATH. Ask alembic in-process.
    nbgrader.api.get_alembic_version = _alembic_head
    config_file = course / "nbgrader_config.py"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} does not exist — run `python -m cnnbook.grading release "
                                f"{course}` first to create the course folder.")
    config = PyFileConfigLoader(config_file.name, path=str(course)).load_config()
    if timeout is not None:
        config.Execute.timeout = timeout
    return NbGraderAPI(config=config)


def _alembic_head() -> str:
    """The gradebook schema version nbgrader's migrations define (what `alembic heads` prints)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def _checked(result: dict, what: str) -> dict:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")
    return result


def create_course(course, course_id: str = "cnnbook", timeout: int = DEFAULT_TIMEOUT) -> Path:
    """Create COURSE/ with an nbgrader_config.py (kept if it already exists). Returns the course path."""
    course = Path(course).resolve()
    if not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout must be a whole number of seconds >= 1, got {timeout!r}.")
    course.mkdir(parents=True, exist_ok=True)
    config_file = course / "nbgrader_config.py"
    if not config_file.exists():
        config_file.write_text(CONFIG_TEMPLATE.format(course_id=course_id, timeout=timeout))
    return course


def available_assignments(source=ASSIGNMENTS_DIR) -> list[str]:
    """Names of the instructor assignments: the folders of `source` that hold a notebook."""
    source = Path(source)
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def release(course, assignments=None, source=ASSIGNMENTS_DIR, timeout: int = DEFAULT_TIMEOUT) -> list[Path]:
    """Create the course folder, copy instructor notebooks to COURSE/source/, generate student versions.

    Returns the released folders COURSE/release/<assignment>/ (what students receive).
    """
    course = create_course(course, timeout=timeout)
    known = available_assignments(source)
    names = list(assignments) if assignments else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; the instructor notebooks in {source} are {known}.")
    api = _api(course)
    released = []
    for name in names:
        dest = course / "source" / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(source) / name, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        _checked(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
        released.append(course / "release" / name)
    return released


def collect(course, assignment: str, submissions) -> list[str]:
    """Copy students' notebooks into COURSE/submitted/<student>/<assignment>/, where nbgrader looks.

    `submissions` holds either one notebook per student, named `<student_id>.ipynb`, or one folder per
    student, `<student_id>/`, with the assignment's notebooks under their original names (what an LMS
    download or a JupyterHub home-folder copy usually gives). Returns the student ids collected.
    """
    course, submissions = Path(course).resolve(), Path(submissions)
    source_nbs = sorted((course / "source" / assignment).glob("*.ipynb"))
    if not source_nbs:
        raise ValueError(f"{assignment!r} has not been released in {course} — run `release` first.")
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist.")
    students = []
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith("."):
            continue
        dest = course / "submitted" / entry.stem / assignment
        if entry.is_file() and entry.suffix == ".ipynb":
            if len(source_nbs) != 1:
                raise ValueError(f"{assignment} has {len(source_nbs)} notebooks; give each student a folder "
                                 f"holding {[p.name for p in source_nbs]}.")
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(entry, dest / source_nbs[0].name)
        elif entry.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            for nb in entry.glob("*.ipynb"):
                shutil.copy(nb, dest / nb.name)
        else:
            continue
        students.append(entry.stem)
    return students


def autograde(course, assignments=None, timeout: int | None = None) -> dict:
    """Autograde every submission in COURSE/submitted/ (or only `assignments`), each cell limited to
    `timeout` seconds (default: the course config's). Returns {(assignment, student): (score, max_score)}.
    """
    from nbgrader.api import Gradebook

    course = Path(course).resolve()
    api = _api(course, timeout)
    submitted = sorted((course / "submitted").glob("*/*/"))
    scores, failed = {}, set()
    for folder in submitted:
        student, name = folder.parent.name, folder.name
        if assignments and name not in assignments:
            continue
        result = api.autograde(name, student, force=True, create=True)
        if not result.get("success"):  # e.g. a cell past the time limit: report it, grade the others
            print(f"autograde failed for {student} / {name} (scored 0 below):\n{(result.get('log') or '')[-2000:]}",
                  file=sys.stderr)
            failed.add((name, student))
    with Gradebook(api.coursedir.db_url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                scores[(assignment.name, sub.student.id)] = (sub.score, sub.max_score)
    for key in failed:  # a submission nbgrader could not finish scores 0 of the assignment's maximum
        scores[key] = (0.0, next((m for (a, _), (_, m) in scores.items() if a == key[0]), 0.0))
    return scores


def export(course, to=None) -> Path:
    """Write every grade in the gradebook to a CSV (nbgrader's exporter). Returns the file path."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    course = Path(course).resolve()
    dest = Path(to).resolve() if to else course / "grades.csv"
    api = _api(course)
    with Gradebook(api.coursedir.db_url) as gb:
        CsvExportPlugin(to=str(dest)).export(gb)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.grading",
                                     description="Run cnnbook's assignments as coursework with nbgrader.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="create the course folder and the student versions")
    p.add_argument("course")
    p.add_argument("assignments", nargs="*", help=f"default: all ({', '.join(available_assignments())})")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell when autograding")
    p = sub.add_parser("collect", help="copy students' notebooks into COURSE/submitted/")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("submissions", help="folder of <student_id>.ipynb files or <student_id>/ folders")
    p = sub.add_parser("autograde", help="run and score every collected submission")
    p.add_argument("course")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: the course's)")
    p = sub.add_parser("export", help="write the grades to a CSV file")
    p.add_argument("course")
    p.add_argument("--to", default=None, help="default: COURSE/grades.csv")
    args = parser.parse_args(argv)

    if args.command == "release":
        for folder in release(args.course, args.assignments, timeout=args.timeout):
            print(f"student version: {folder}")
    elif args.command == "collect":
        students = collect(args.course, args.assignment, args.submissions)
        print(f"collected {len(students)} submission(s) of {args.assignment}: {', '.join(students)}")
    elif args.command == "autograde":
        for (name, student), (score, max_score) in sorted(autograde(args.course, args.assignments,
                                                                     args.timeout).items()):
            print(f"{name:24s} {student:20s} {score:6.1f} / {max_score:.1f}")
    else:
        print(f"grades written to {export(args.course, args.to)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
