"""The course command line: nbgrader's classroom path, made safe to run on a real class.

    python -m cnnbook.course release   COURSE [ASSIGNMENT_OR_FOLDER ...] [--source DIR] [--timeout 60]
    python -m cnnbook.course collect   COURSE ASSIGNMENT SUBMISSIONS_FOLDER
    python -m cnnbook.course autograde COURSE [ASSIGNMENT ...] [--timeout 60]
                                       [--workers N | --scheduler tcp://HOST:8786] [--db postgresql://...]
    python -m cnnbook.course feedback  COURSE [ASSIGNMENT ...]      (no hidden test in what students get)
    python -m cnnbook.course export    COURSE [--to grades.csv]
    python -m cnnbook.course check     NOTEBOOK [...]                (students: the grader's scan, before submitting)

How a submission is graded (see the instructors page of the book):

1. nbgrader puts the locked cells (setup, helpers, tests, with the hidden tests) back from the gradebook.
2. `cnnbook.course.scan` reads every cell the student wrote (not run) as IPython will run it, and refuses
   what it cannot prove harmless (see its docstring: an allow-list per module and per assignment,
   forbidden objects compared by identity). A refused cell is blanked (not run), with the reasons as its
   output; the other cells run, and each test scores on what they define.
3. `GradingExecute` (`cnnbook.course.grader`) runs the notebook in a sandboxed kernel
   (`cnnbook.course.sandbox`). Each test cell is
   rewritten so that every `check_*(got, expected, name, …)` only *records* `got` (the expected values are
   never computed where student code runs); every locked cell starts from a fixed seed. Output beyond
   `max_output_mb` is dropped as it arrives (every message counted, display updates ignored); the notebook
   has a wall-clock limit besides the per-cell one.
4. `GradeFromRecords`, in the grader's process, compares the records with the reference records, made
   once per assignment by running the instructor notebook the same way (`build_references`, stored in
   COURSE/references/, outside every sandbox), and writes the scores. A test cell earns its points when it
   produced exactly the reference's checks, in order, each passing; errors, warnings and stderr after that
   cost nothing. Only this process writes the gradebook.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import stat
import sys
import unicodedata
from pathlib import Path

from .grader import build_references
from .scan import scan_cell  # noqa: F401 (re-exported: `cnnbook.course.scan_cell`)

DEFAULT_TIMEOUT = 60  # seconds per cell when autograding
PROG = "python -m cnnbook.course"
# ============================================================================= the classroom path
CONFIG_TEMPLATE = '''\
# nbgrader configuration for a cnnbook course, written by `python -m cnnbook.course release`.
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
# Submissions run in a sandbox (cnnbook.course.sandbox) and are scored from their records
# (cnnbook.course.grader); `python -m cnnbook.course autograde` sets this up even if these lines are removed.
c.Autograde.autograde_preprocessors = {preprocessors!r}
c.GradeFromRecords.course = c.CourseDirectory.root
# Limits of each submission's kernel (see the instructors page): MiB for its whole process tree (one process:
# it may not fork), threads, CPU seconds for the whole notebook, MiB per written file, MiB of private /tmp.
c.SandboxedKernelManager.memory_mb = {limits.memory_mb}
c.SandboxedKernelManager.processes = {limits.processes}
c.SandboxedKernelManager.cpu_seconds = {limits.cpu_seconds}
c.SandboxedKernelManager.file_mb = {limits.file_mb}
c.SandboxedKernelManager.tmp_mb = {limits.tmp_mb}
'''
PREPROCESSORS = ["cnnbook.course.grader.GradingExecute", "nbgrader.preprocessors.IgnorePattern",
                 "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                 "cnnbook.course.grader.GradeFromRecords", "nbgrader.preprocessors.AssignLatePenalties",
                 "nbgrader.preprocessors.CheckCellMetadata"]


def _api(course: Path, timeout: int | None = None, notebook_timeout: float | None = None, db: str | None = None):
    """An nbgrader API object configured from COURSE/nbgrader_config.py (+ an optional timeout and gradebook
    URL `db`, see `cnnbook.course.cluster.gradebook_url`), always with the sandboxed, record-based grading."""
    try:
        import nbgrader.api
    except ImportError as error:
        raise RuntimeError("the course commands need nbgrader: install cnnbook with the course extra, "
                           "`pip install .[course]` (or `pip install -r requirements.txt`).") from error
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    # When it creates a gradebook, nbgrader asks a subprocess (`alembic heads`, which must be on PATH) for
    # the schema version: several seconds, and it fails when .venv/bin is not on PATH. Ask alembic in-process.
    nbgrader.api.get_alembic_version = _alembic_head
    config_file = course / "nbgrader_config.py"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} does not exist — run `{PROG} release "
                                f"{course}` first to create the course folder.")
    config = PyFileConfigLoader(config_file.name, path=str(course)).load_config()
    if timeout is not None:
        config.Execute.timeout = timeout
    if notebook_timeout is not None:
        config.GradingExecute.notebook_seconds = float(notebook_timeout)
    config.Autograde.autograde_preprocessors = PREPROCESSORS
    config.GradeFromRecords.course = str(course)
    config.GradingExecute.course = str(course)
    if db is not None:
        from .cluster import gradebook_url

        config.CourseDirectory.db_url = gradebook_url(db)
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


def release(course, assignments=None, source=None, timeout: int = DEFAULT_TIMEOUT,
            db: str | None = None) -> list[Path]:
    """Create the course folder, copy instructor notebooks to COURSE/source/, generate student versions.

    `assignments`: names of folders in `source` (default ./notebooks/assignments) or paths to assignment
    folders. Returns the released folders COURSE/release/<assignment>/ (what students receive).
    """
    folders = _assignment_folders(assignments, source)
    course = create_course(course, timeout=timeout)
    api = _api(course, db=db)
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


GLOB_CHARACTERS = set("*?[]")


def student_id(name: str) -> tuple[str | None, str | None]:
    """(id, None) for a usable student id taken from a file or folder name, NFC-normalised (the same name typed
    on two systems is one student), or (None, why) for a name that cannot be one."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None, "the name is not valid UTF-8; rename it"
    sid = unicodedata.normalize("NFC", name)
    if not sid.strip() or sid != sid.strip():
        return None, "an id may not be empty or start or end with a space; rename it"
    if sid.startswith("."):
        return None, "an id may not start with '.' (hidden files and folders are skipped on purpose)"
    if GLOB_CHARACTERS & set(sid) or any(unicodedata.category(ch).startswith("C") for ch in sid):
        return None, "nbgrader's paths cannot hold *, ?, [, ] or control characters; rename it"
    return sid, None


def collect(course, assignment: str, submissions) -> tuple[list[str], list[str]]:
    """Copy students' notebooks into COURSE/submitted/<student>/<assignment>/, where nbgrader looks.

    `submissions` holds either one notebook per student, named `<student_id>.ipynb`, or one folder per
    student, `<student_id>/`, with the assignment's notebooks under their original names (what an LMS
    download or a JupyterHub home-folder copy usually gives). Any file name is an id (Unicode, spaces,
    apostrophes, `+`), NFC-normalised. Nothing is followed or skipped silently: symlinks, non-regular files,
    unusable names and two entries for one student are refused *by name*, and one bad entry never stops the
    others. Returns (student ids collected, refusal messages).
    """
    course, submissions = Path(course).resolve(), Path(submissions)
    source_nbs = sorted((course / "source" / assignment).glob("*.ipynb"))
    if not source_nbs:
        raise ValueError(f"{assignment!r} has not been released in {course} — run `release` first.")
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist.")
    wanted = {p.name for p in source_nbs}
    found, refused = {}, []
    for entry in sorted(submissions.iterdir(), key=lambda p: os.fsencode(p.name)):
        shown = ascii(entry.name) if not entry.name.isprintable() else repr(entry.name)
        info = entry.lstat()
        if entry.name.startswith("."):
            if entry.name != ".ipynb_checkpoints" and (entry.suffix == ".ipynb" or entry.is_dir()):
                refused.append(f"{shown}: a hidden name cannot be a student id; rename it without the leading '.'")
            continue  # .DS_Store and the like: not submissions
        if stat.S_ISLNK(info.st_mode):
            refused.append(f"{shown}: a symbolic link, not collected (copy the file itself)")
            continue
        if stat.S_ISREG(info.st_mode) and entry.suffix == ".ipynb":
            name, files = entry.name[:-len(".ipynb")], None
            if len(source_nbs) != 1:
                refused.append(f"{shown}: {assignment} has {len(source_nbs)} notebooks; give each student a folder "
                               f"holding {sorted(wanted)}")
                continue
        elif stat.S_ISDIR(info.st_mode):
            name, files = entry.name, []
        elif stat.S_ISREG(info.st_mode):
            refused.append(f"{shown}: not a notebook (.ipynb) or a folder, not collected")
            continue
        else:
            refused.append(f"{shown}: not a regular file or folder, not collected")
            continue
        sid, why = student_id(name)
        if sid is None:
            refused.append(f"{shown}: cannot be a student id — {why}")
            continue
        if sid in found:
            refused.append(f"{shown} and {found[sid][0]!r} are both student {sid!r}; keep one and collect again "
                           f"(neither was collected)")
            found[sid] = (found[sid][0], None)
            continue
        if files is not None:
            for nb in sorted(entry.iterdir(), key=lambda p: os.fsencode(p.name)):
                mode = nb.lstat().st_mode
                if nb.name in wanted and stat.S_ISREG(mode):
                    files.append(nb)
                elif nb.name in wanted or nb.suffix == ".ipynb":
                    kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file" \
                        if not stat.S_ISREG(mode) else f"not one of {sorted(wanted)}"
                    refused.append(f"{shown}/{nb.name}: {kind}, not collected")
            if not files:
                refused.append(f"{shown}: holds none of {sorted(wanted)}, nothing collected")
                continue
        found[sid] = (entry.name, files if files is not None else [entry])
    students = []
    for sid, (_, files) in found.items():
        if files is None:
            continue
        dest = course / "submitted" / sid / assignment
        if dest.resolve().parent.parent != course / "submitted":
            refused.append(f"{sid!r}: would be written outside the course folder, not collected")
            continue
        try:
            dest.mkdir(parents=True, exist_ok=True)
            for nb in files:
                target = dest / (nb.name if nb.parent != submissions else source_nbs[0].name)
                target.unlink(missing_ok=True)
                shutil.copyfile(nb, target, follow_symlinks=False)
        except OSError as error:
            refused.append(f"{sid!r}: could not be copied ({error})")
            continue
        students.append(sid)
    return students, refused


def _check_timeout(course: Path, assignments, timeout: int | None) -> None:
    """Refuse, before any submission runs, a per-cell --timeout that the instructor's own solution did not fit in:
    below its slowest cell in the reference run (plus a second), suggesting twice that cell."""
    if timeout is None:
        return
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise ValueError(f"--timeout must be a whole number of seconds >= 1, got {timeout!r}.")
    for name in assignments:
        for ref_path in sorted((course / "references" / name).glob("*.json")):
            slowest = json.loads(ref_path.read_text()).get("slowest_cell_seconds", 0.0)
            need = math.ceil(slowest) + 1
            if timeout < need:
                raise ValueError(f"--timeout {timeout} is below what the instructor's own solution needs: its slowest "
                                 f"cell of {ref_path.stem} ran {slowest:.1f} s in the sandbox. Use --timeout "
                                 f"{max(need, math.ceil(2 * slowest))} or more (twice the slowest cell), so an honest "
                                 f"answer is not cut off.")


def autograde(course, assignments=None, timeout: int | None = None, notebook_timeout: float | None = None,
              workers: int | None = None, scheduler: str | None = None, db: str | None = None) -> dict:
    """Autograde every submission in COURSE/submitted/ (or only `assignments`), each cell limited to
    `timeout` seconds (default: the course config's), each notebook in the sandbox. Makes the reference
    records first (`build_references`, with at least the default time per cell) and refuses, before any
    submission runs, a `timeout` below what the reference needs. `notebook_timeout`: wall-clock seconds for a
    whole notebook (default 600). Returns {(assignment, student): (score, max)}.
    `workers` N / `scheduler` tcp://HOST:PORT: the sandboxed runs on Dask workers, scored here
    (`cnnbook.course.cluster`); a submission whose worker died scores (None, max): it needs regrading.
    `db`: the gradebook's URL (default: COURSE/gradebook.db).
    """
    from nbgrader.api import Gradebook

    course = Path(course).resolve()
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1):
        raise ValueError(f"--timeout must be a whole number of seconds >= 1, got {timeout!r}.")
    if notebook_timeout is not None and not (isinstance(notebook_timeout, (int, float)) and notebook_timeout > 0):
        raise ValueError(f"--notebook-timeout must be a positive number of seconds, got {notebook_timeout!r}.")
    api = _api(course, timeout, notebook_timeout, db)
    submitted = sorted((course / "submitted").glob("*/*/"))
    names = sorted({f.name for f in submitted if not assignments or f.name in assignments})
    for name in names:
        # the instructor's notebook is trusted: a generous per-cell limit, so a loaded machine cannot fail it
        build_references(course, name, max(timeout or 0, 5 * DEFAULT_TIMEOUT, int(api.config.Execute.timeout or 0)))
    _check_timeout(course, names, timeout)
    scores, failed, regrade = {}, set(), []
    if workers is not None or scheduler is not None:  # run on Dask workers, scored here: cnnbook.course.cluster
        from .cluster import grade_on_cluster

        on_cluster = grade_on_cluster(api, course, [(f.name, f.parent.name) for f in submitted if f.name in names],
                                      workers, scheduler)
        failed, regrade, submitted = set(on_cluster.failed), on_cluster.needs_regrade, []
    for folder in submitted:
        student, name = folder.parent.name, folder.name
        if name not in names:
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
    for key in regrade:  # a worker died while running it: not scored, to grade again
        scores[key] = (None, scores.get(key, (None, 0.0))[1])
    return scores


def feedback(course, assignments=None) -> list[Path]:
    """Feedback for students, without hidden tests: COURSE/feedback/<student>/<assignment>/<notebook>.html.

    From each autograded notebook, every test cell holding hidden tests shows the released (visible) source
    instead, and keeps only the grader's verdict lines and the names of errors (a traceback or printed output
    of a hidden test could quote it); any other cell whose output quotes a line of a hidden test shows a note
    instead. nbgrader's own `generate_feedback` shows hidden tests: use this instead.
    """
    import nbformat
    from nbconvert import HTMLExporter

    course = Path(course).resolve()
    exporter = HTMLExporter()
    written = []
    for folder in sorted((course / "autograded").glob("*/*/")):
        student, name = folder.parent.name, folder.name
        if assignments and name not in assignments:
            continue
        for path in sorted(folder.glob("*.ipynb")):
            released = course / "release" / name / path.name
            source = course / "source" / name / path.name
            if not released.is_file() or not source.is_file():
                continue
            visible = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
                       for c in nbformat.read(released, as_version=4).cells}
            source_cells = nbformat.read(source, as_version=4).cells
            hidden = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source_cells
                      if "BEGIN HIDDEN TESTS" in c.source}
            secret = _hidden_lines(source_cells, visible.values())
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid in hidden or "BEGIN HIDDEN TESTS" in cell.source:
                    cell.source = visible.get(gid, "# (test cell: source not shown)")
                    if cell.cell_type == "code":
                        cell.outputs = _without_hidden(cell.outputs, cell.source)
                elif cell.cell_type == "code" and any(line in json.dumps(o) for o in cell.outputs for line in secret):
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
                        "[feedback] this cell's output is not shown: it quotes a hidden test\n"))]
            body, _ = exporter.from_notebook_node(nb)
            dest = course / "feedback" / student / name / f"{path.stem}.html"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(body)
            written.append(dest)
    return written


def _hidden_lines(cells, visible_sources) -> set[str]:
    """The lines of the hidden tests (longer than 15 characters, not also in a visible cell), as they would be
    quoted in an output (JSON-escaped, as `feedback` searches the outputs' JSON)."""
    import re

    shown = {line.strip() for source in visible_sources for line in source.splitlines()}
    lines = set()
    for cell in cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines.update(line.strip() for line in block.splitlines() if len(line.strip()) > 15)
    return {json.dumps(line)[1:-1] for line in lines - shown}


def _without_hidden(outputs, visible: str) -> list:
    """A hidden-test cell's outputs for feedback: error names, and the grader's verdict per check, with the name
    and message only for checks named in the visible source (a hidden check's name may quote its input)."""
    import nbformat

    lines = []
    for o in outputs:
        if o.get("output_type") == "error":
            lines.append(f"{o.ename}\n")
        elif o.get("output_type") == "stream" and o.get("text", "").startswith("[grader]"):
            for line in o["text"].splitlines():
                status, _, rest = line.partition(": ")
                name = rest.split(": ")[0]
                lines.append(f"{line}\n" if name and name in visible else f"{status}: a hidden check\n")
    return [nbformat.v4.new_output("stream", name="stdout", text="".join(lines))] if lines else []


def check(notebooks) -> dict[str, dict[int, list[str]]]:
    """The grader's scan of NOTEBOOKs, for students before they submit: {notebook: {cell number: problems}}.
    The rules come from the notebook's own metadata (the released version carries them); locked cells (the
    assignment's own, restored when graded) are not scanned."""
    import nbformat

    from .scan import allowed_list, forbidden_list, locked_sources, reference_only_sources, refused_cells

    out = {}
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as error:
            out[str(path)] = {0: [f"cannot be read as a notebook: {error}"]}
            continue
        refused = refused_cells(nb, forbidden_list(nb), locked_sources(nb), allowed_list(nb),
                                reference_only_sources(nb))
        out[str(path)] = {index + 1: problems for index, problems in refused.items()}
    return out


def export(course, to=None, db: str | None = None) -> Path:
    """Write every grade in the gradebook to a CSV (nbgrader's exporter). Returns the file path."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    course = Path(course).resolve()
    dest = Path(to).resolve() if to else course / "grades.csv"
    api = _api(course, db=db)
    with Gradebook(api.coursedir.db_url) as gb:
        CsvExportPlugin(to=str(dest)).export(gb)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Run cnnbook's assignments as coursework with nbgrader; "
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
    p.add_argument("--notebook-timeout", type=float, default=None,
                   help="wall-clock seconds for one whole notebook (default 600)")
    p.add_argument("--workers", type=int, default=None, help="run submissions on a local Dask cluster of N processes")
    p.add_argument("--scheduler", default=None, help="run submissions on the Dask cluster at tcp://HOST:8786")
    for p in (sub.choices["release"], p):
        p.add_argument("--db", default=None, help="gradebook URL, e.g. postgresql://USER@HOST:5432/NAME "
                                                  "(default: sqlite:///COURSE/gradebook.db)")
    p = sub.add_parser("feedback", help="HTML feedback for students, without hidden tests")
    p.add_argument("course")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("export", help="write the grades to a CSV file")
    p.add_argument("course")
    p.add_argument("--to", default=None, help="default: COURSE/grades.csv")
    p.add_argument("--db", default=None, help="gradebook URL (default: sqlite:///COURSE/gradebook.db)")
    p = sub.add_parser("check", help="students: run the grader's scan on your notebook before you submit")
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--allowed", action="store_true", help="print what answers may use")
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        print(f"{PROG} {args.command}: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        if "nbgrader" not in str(error):
            raise
        print(f"{PROG} {args.command}: the course commands need nbgrader: install cnnbook with the course extra, "
              f"`pip install .[course]` (or `pip install -r requirements.txt`).", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "release":
        for folder in release(args.course, args.assignments, source=args.source, timeout=args.timeout, db=args.db):
            print(f"student version: {folder}")
    elif args.command == "collect":
        students, refused = collect(args.course, args.assignment, args.submissions)
        print(f"collected {len(students)} submission(s) of {args.assignment}: {', '.join(students)}")
        for line in refused:
            print(f"not collected: {line}", file=sys.stderr)
        return 1 if refused else 0
    elif args.command == "autograde":
        scores = autograde(args.course, args.assignments, args.timeout, args.notebook_timeout, args.workers,
                           args.scheduler, args.db)
        for (name, student), (score, max_score) in sorted(scores.items()):
            print(f"{name:24s} {student:20s} " + (f"{score:6.1f} / {max_score:.1f}" if score is not None else
                                                  "needs regrade (a worker died; nothing was scored)"))
        return 3 if any(score is None for score, _ in scores.values()) else 0
    elif args.command == "feedback":
        for path in feedback(args.course, args.assignments):
            print(f"feedback: {path}")
    elif args.command == "check":
        from .scan import allowed_summary

        if args.allowed:
            print(allowed_summary())
        bad = 0
        for path, refused in check(args.notebooks).items():
            for number, problems in refused.items():
                bad += 1
                print(f"{path}, cell {number}: not run when graded —\n    " + "\n    ".join(problems))
            if not refused:
                print(f"{path}: every cell you wrote passes the grader's scan")
        return 1 if bad else 0
    else:
        print(f"grades written to {export(args.course, args.to, args.db)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
