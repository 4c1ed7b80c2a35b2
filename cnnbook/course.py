"""The course command line: nbgrader's classroom path, made safe to run on a real class.

    python -m cnnbook.grading release   COURSE [ASSIGNMENT_OR_FOLDER ...] [--source DIR] [--timeout 60]
    python -m cnnbook.grading collect   COURSE ASSIGNMENT SUBMISSIONS_FOLDER
    python -m cnnbook.grading autograde COURSE [ASSIGNMENT ...] [--timeout 60]
    python -m cnnbook.grading export    COURSE [--to grades.csv]

How a submission is graded (see the instructors page of the book):

1. nbgrader puts the locked cells (setup, helpers, tests, with the hidden tests) back from the gradebook.
2. `cnnbook.scan.scan_cell` reads every cell the student wrote (not run): calls, attributes and imports that reach the
   assignment's forbidden functions (notebook metadata `cnnbook.forbidden`), `exec`/`eval`/`getattr`-style
   indirection, private attributes, imports outside a short list. Every test after the first such cell
   scores 0 (tests before it ran before that code existed).
3. `GradingExecute` runs the notebook in a sandboxed kernel (`cnnbook.sandbox`). Each test cell is
   rewritten so that every `check_*(got, expected, name, …)` only *records* `got` (the expected values are
   never computed where student code runs); every locked cell starts from a fixed seed. Output beyond
   `max_output_mb` is dropped as it arrives.
4. `GradeFromRecords`, in the grader's process, compares the records with the reference records, made
   once per assignment by running the instructor notebook the same way (`build_references`, stored in
   COURSE/references/, outside every sandbox), and writes the scores. A test cell earns its points when it
   produced exactly the reference's checks, in order, each passing; errors, warnings and stderr after that
   cost nothing. Only this process writes the gradebook.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import sys
from pathlib import Path

from . import checks
from .recording import _grading_classes, _sha256
from .scan import forbidden_list, locked_sources, scan_cell  # noqa: F401 (scan_cell: re-exported by grading)

DEFAULT_TIMEOUT = 60  # seconds per cell when autograding
def build_references(course, assignment: str, timeout: int | None = None, force: bool = False) -> list[Path]:
    """Run the instructor notebooks of COURSE/source/<assignment>/ in the sandbox (reference mode) and store,
    per test cell, the checks they made: COURSE/references/<assignment>/<notebook>.json. Kept while the
    source notebook is unchanged. Raises if an instructor solution fails its own tests."""
    import nbformat

    course = Path(course).resolve()
    execute_cls, _ = _grading_classes()
    api = _api(course, timeout)
    written = []
    for source in sorted((course / "source" / assignment).glob("*.ipynb")):
        dest = course / "references" / assignment / f"{source.stem}.json"
        if not force and dest.is_file() and json.loads(dest.read_text()).get("source_sha256") == _sha256(source):
            written.append(dest)
            continue
        nb = nbformat.read(source, as_version=4)
        config = copy.deepcopy(api.config)
        run = execute_cls(config=config, mode="reference")
        run.preprocess(nb, {"metadata": {"path": str(source.parent)}})
        cells, failures = {}, []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                continue
            records = [o["data"][checks.RECORD_MIME] for o in cell.outputs
                       if o.get("output_type") == "display_data" and checks.RECORD_MIME in o.get("data", {})]
            errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.get("output_type") == "error"]
            if errors or not records or not all(r.get("ok") for r in records):
                failures.append(f"{meta['grade_id']}: {errors or 'no check_* call' if not records else 'a check failed'}")
            cells[meta["grade_id"]] = [{k: v for k, v in r.items() if k != "ok"} for r in records]
        if failures:
            raise RuntimeError(f"the instructor notebook {source} fails its own tests in the sandbox:\n  "
                               + "\n  ".join(failures))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps({"source_sha256": _sha256(source), "forbidden": forbidden_list(nb),
                                    "locked": sorted(locked_sources(nb)), "cells": cells}))
        written.append(dest)
    return written


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
# Submissions run in a sandbox (cnnbook.sandbox) and are scored from their records (cnnbook.course);
# `python -m cnnbook.grading autograde` sets this up even if these lines are removed.
c.Autograde.autograde_preprocessors = {preprocessors!r}
c.GradeFromRecords.course = c.CourseDirectory.root
# Limits of each submission's kernel (see the instructors page): MiB of address space per process,
# processes + threads, CPU seconds for the whole notebook, MiB per written file, MiB of private /tmp.
c.SandboxedKernelManager.memory_mb = {limits.memory_mb}
c.SandboxedKernelManager.processes = {limits.processes}
c.SandboxedKernelManager.cpu_seconds = {limits.cpu_seconds}
c.SandboxedKernelManager.file_mb = {limits.file_mb}
c.SandboxedKernelManager.tmp_mb = {limits.tmp_mb}
'''
PREPROCESSORS = ["cnnbook.course.GradingExecute", "nbgrader.preprocessors.IgnorePattern",
                 "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                 "cnnbook.course.GradeFromRecords", "nbgrader.preprocessors.AssignLatePenalties",
                 "nbgrader.preprocessors.CheckCellMetadata"]


def __getattr__(name):  # nbgrader imports the two classes by their dotted names
    if name in ("GradingExecute", "GradeFromRecords"):
        return dict(zip(("GradingExecute", "GradeFromRecords"), _grading_classes()))[name]
    raise AttributeError(f"module 'cnnbook.course' has no attribute {name!r}")


def _api(course: Path, timeout: int | None = None):
    """An nbgrader API object configured from COURSE/nbgrader_config.py (+ an optional timeout), always with
    the sandboxed, record-based grading."""
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
    config.Autograde.autograde_preprocessors = PREPROCESSORS
    config.GradeFromRecords.course = str(course)
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
    from .sandbox import Limits

    course = Path(course).resolve()
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise ValueError(f"timeout must be a whole number of seconds >= 1, got {timeout!r}.")
    course.mkdir(parents=True, exist_ok=True)
    config_file = course / "nbgrader_config.py"
    if not config_file.exists():
        config_file.write_text(CONFIG_TEMPLATE.format(course_id=course_id, timeout=timeout, limits=Limits(),
                                                      preprocessors=PREPROCESSORS))
    return course


def default_source() -> Path:
    """Where `release` looks for assignments by name: ./notebooks/assignments (the repository's)."""
    return Path.cwd() / "notebooks" / "assignments"


def available_assignments(source=None) -> list[str]:
    """Names of the instructor assignments: the folders of `source` that hold a notebook."""
    source = Path(source) if source is not None else default_source()
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _assignment_folders(assignments, source) -> list[Path]:
    """Names (looked up in `source`) or folders -> assignment folders holding a notebook."""
    source = Path(source) if source is not None else default_source()
    known = available_assignments(source)
    if not assignments:
        if not known:
            raise ValueError(f"no assignments found in {source}; give assignment folders as arguments, or "
                             f"--source DIR (a folder of <assignment>/<assignment>.ipynb).")
        return [source / name for name in known]
    folders, unknown = [], []
    for item in assignments:
        folder = Path(item)
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            folders.append(folder.resolve())
        elif item in known:
            folders.append(source / item)
        else:
            unknown.append(item)
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}: give an assignment folder (holding its notebook) or "
                         f"one of the names in {source}: {known}.")
    return folders


def release(course, assignments=None, source=None, timeout: int = DEFAULT_TIMEOUT) -> list[Path]:
    """Create the course folder, copy instructor notebooks to COURSE/source/, generate student versions.

    `assignments`: names of folders in `source` (default ./notebooks/assignments) or paths to assignment
    folders. Returns the released folders COURSE/release/<assignment>/ (what students receive).
    """
    folders = _assignment_folders(assignments, source)
    course = create_course(course, timeout=timeout)
    api = _api(course)
    released = []
    for folder in folders:
        name = folder.name
        dest = course / "source" / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(folder, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
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
        if entry.name.startswith(".") or not re.fullmatch(r"[A-Za-z0-9_.@-]+", entry.stem):
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
    `timeout` seconds (default: the course config's), each notebook in the sandbox. Makes the reference
    records first (`build_references`). Returns {(assignment, student): (score, max_score)}.
    """
    from nbgrader.api import Gradebook

    course = Path(course).resolve()
    api = _api(course, timeout)
    submitted = sorted((course / "submitted").glob("*/*/"))
    scores, failed = {}, set()
    for name in sorted({f.name for f in submitted if not assignments or f.name in assignments}):
        build_references(course, name, timeout)
    for folder in submitted:
        student, name = folder.parent.name, folder.name
        if assignments and name not in assignments:
            continue
        result = api.autograde(name, student, force=True, create=True)
        if not result.get("success"):
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
                                     description="Run cnnbook's assignments as coursework with nbgrader; "
                                                 "submissions are graded in a sandbox.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="create the course folder and the student versions")
    p.add_argument("course")
    p.add_argument("assignments", nargs="*",
                   help="assignment folders, or names of folders in --source (default: all in --source)")
    p.add_argument("--source", default=None, help="folder of assignments (default: ./notebooks/assignments)")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell when autograding")
    p = sub.add_parser("collect", help="copy students' notebooks into COURSE/submitted/")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("submissions", help="folder of <student_id>.ipynb files or <student_id>/ folders")
    p = sub.add_parser("autograde", help="run (sandboxed) and score every collected submission")
    p.add_argument("course")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: the course's)")
    p = sub.add_parser("export", help="write the grades to a CSV file")
    p.add_argument("course")
    p.add_argument("--to", default=None, help="default: COURSE/grades.csv")
    args = parser.parse_args(argv)

    if args.command == "release":
        for folder in release(args.course, args.assignments, source=args.source, timeout=args.timeout):
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
