"""The grader: nbgrader preprocessors that run a submission in the sandbox and score it from its records.

Threat model. Student code runs in the same interpreter as the test cells, so no secret inside the
kernel is safe; the grader trusts only what it decides in its own process:

- the scan (`cnnbook.course.scan`) runs on every cell the student wrote *before* anything runs; a refused
  cell is blanked (not run) and marked with the reasons, every other cell runs, and each test is scored on
  what the remaining cells define — one bad cell does not cost unrelated tests;
- test cells are rewritten so their checks only *record* the student's value, and sliced so that they hold
  no reference computation (`cnnbook.course.recording`); helpers marked `cnnbook.reference_only` run in the
  reference pass only;
  a record counts only as a `display_data` message of its own test cell's execute request (nbclient keys
  every message to the request it answers); display updates (`update_display_data`, `display_id`) and
  `clear_output` are not applied, so nothing can rewrite a record after its cell replied; the scan refuses
  the routes (display, IPython, threads, frames, `gc`, `sys.modules`) that could forge one during the cell;
- output is counted on every message *before* it is applied (4 MiB per notebook by default), each cell has
  its time limit and the notebook as a whole a wall-clock limit (10 minutes by default);
- the verdicts are reached here, by comparing the records with the reference records of the instructor
  notebook (`build_references`, run in the same sandbox in reference mode, stored in COURSE/references/).
"""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime
from pathlib import Path

from . import student_checks as checks
from .recording import _seed_of, _sha256, record_only_cells
from .scan import allowed_list, forbidden_list, locked_sources, reference_only_sources, refused_cells, unrestored

GRADER_NAMES = ("GradingExecute", "GradeFromRecords")


def __getattr__(name):  # nbgrader imports the two classes by their dotted names
    if name in GRADER_NAMES:
        return dict(zip(GRADER_NAMES, _grading_classes()))[name]
    raise AttributeError(f"module 'cnnbook.course.grader' has no attribute {name!r}")


def _cell_seconds(cell) -> float:
    """How long a cell ran, from nbclient's timing metadata (0 when unknown)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    try:
        return (datetime.fromisoformat(end.replace("Z", "+00:00")) -
                datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return 0.0


def build_references(course, assignment: str, timeout: int | None = None, force: bool = False) -> list[Path]:
    """Run the instructor notebooks of COURSE/source/<assignment>/ in the sandbox (reference mode) and store,
    per test cell, the checks they made: COURSE/references/<assignment>/<notebook>.json, with the slowest
    cell's time. Kept while the source notebook is unchanged. Raises if an instructor solution fails its own
    tests (with the reason, e.g. a cell that ran out of time)."""
    import nbformat

    from .commands import _api

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
        timeouts = [c for c in nb.cells if any(o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt")
                                               for o in c.get("outputs", []) if o.get("output_type") == "error")]
        if timeouts:
            raise RuntimeError(f"the instructor notebook {source.name} ran out of time in a cell (per-cell limit "
                               f"{run.timeout} s): give a larger --timeout.")
        if failures:
            raise RuntimeError(f"the instructor notebook {source} fails its own tests in the sandbox:\n  "
                               + "\n  ".join(failures))
        slowest = max((_cell_seconds(c) for c in nb.cells if c.cell_type == "code"), default=0.0)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps({"source_sha256": _sha256(source), "forbidden": forbidden_list(nb),
                                    "allowed": allowed_list(nb), "locked": sorted(locked_sources(nb)),
                                    "reference_only": reference_only_sources(nb),
                                    "slowest_cell_seconds": slowest, "cells": cells}))
        written.append(dest)
    return written


def reference_of(course, assignment: str, notebook: str) -> dict:
    path = Path(course) / "references" / assignment / f"{notebook}.json"
    if not path.is_file():
        raise RuntimeError(f"no reference records {path}: grade with `python -m cnnbook.course autograde`, "
                           f"which makes them from the instructor notebook first.")
    return json.loads(path.read_text())


def _grading_classes():
    """The nbgrader-based classes, built on first use (nbgrader is imported only by the course commands)."""
    global GradingExecute, GradeFromRecords
    if "GradingExecute" in globals():
        return GradingExecute, GradeFromRecords
    from nbclient.util import run_sync
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute, SaveAutoGrades
    from traitlets import Float, Unicode

    from .sandbox import SandboxedKernelManager

    def note(text: str):
        return NotebookNode(output_type="stream", name="stdout", text=text)

    class GradingExecute(Execute):
        """nbgrader's Execute in the sandbox: refused cells blanked, locked cells seeded, test cells
        record-only (student mode), every message counted before it is applied, display updates ignored,
        a wall-clock limit for the whole notebook."""

        mode = Unicode("student", help="'student' (checks only record) or 'reference'").tag(config=True)
        course = Unicode("", help="the course folder (reference records: what the scan needs)").tag(config=True)
        max_output_mb = Float(4.0, help="output kept per notebook, MiB, every message counted").tag(config=True)
        max_record_mb = Float(8.0, help="recorded values kept per notebook, MiB").tag(config=True)
        notebook_seconds = Float(600.0, help="wall-clock limit of one notebook, seconds").tag(config=True)

        def __init__(self, **kw):
            kw.setdefault("kernel_manager_class", SandboxedKernelManager)
            super().__init__(**kw)
            # a flood of output may still be arriving when the cell replies: drain it (dropped beyond the cap)
            # for a while, then go on with the next cell instead of failing the whole submission
            self.iopub_timeout = max(self.iopub_timeout, 15)
            self.raise_on_iopub_timeout = False

        def preprocess(self, nb, resources=None, km=None):
            self.config.SandboxedKernelManager.mode = self.mode
            self._sizes, self._dropped = {"output": 0, "record": 0}, set()
            self._deadline = None  # set when the first cell runs: starting the kernel does not count
            self._locked = False
            self.refused, reference_only, trusted = {}, set(), None
            if self.mode == "student" and self.course and resources and "nbgrader" in resources:
                ref = reference_of(self.course, resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"])
                reference_only, trusted = set(ref.get("reference_only", [])), set(ref["locked"])
                self.refused = refused_cells(nb, ref["forbidden"], trusted, ref.get("allowed", []), reference_only)
            originals = []
            # the instructor's locked cells: by their text where the reference gives it (a cell the student marked
            # "locked" in its metadata is still the student's: scanned, run as written, never a source of records)
            locked = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in self.refused
                      and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("solution")
                      and unrestored(c.source) not in reference_only
                      and (trusted is None or unrestored(c.source) in trusted)]
            student_sources = dict(zip(locked, record_only_cells(
                [(nb.cells[i].source, bool(nb.cells[i].metadata["nbgrader"].get("grade"))) for i in locked])))
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and unrestored(cell.source) in reference_only:  # reference pass only
                    originals.append((cell, cell.source))
                    cell.source = ""
                    continue
                if index in self.refused:
                    originals.append((cell, cell.source))
                    cell.source = ""  # not run
                    continue
                if index not in student_sources:
                    continue
                originals.append((cell, cell.source))
                source = cell.source
                if self.mode == "student":  # test cells record only, and hold no reference computation
                    source = student_sources[index]
                cell.source = ("from cnnbook.course.student_checks import _begin_cell as _cnnbook_begin, "
                               f"_record as _cnnbook_record; _cnnbook_begin({_seed_of(cell)})\n{source}")
            try:
                return super().preprocess(nb, resources, km)
            finally:
                for cell, source in originals:
                    cell.source = source
                for index, problems in self.refused.items():
                    nb.cells[index].outputs = [note("[grader] this cell was not run: " + "; ".join(problems) + "\n")]

        def _get_timeout(self, cell):
            timeout = super()._get_timeout(cell)
            if getattr(self, "_deadline", None) is None:
                return timeout
            left = max(1, int(self._deadline - time.monotonic()))
            return left if timeout is None else min(timeout, left)

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            if hasattr(self.km, "lock_ipc") and not getattr(self, "_locked", False):
                self.km.lock_ipc()  # the kernel is up: its sockets exist
                self._locked = True
            if self._deadline is None:
                self._deadline = time.monotonic() + self.notebook_seconds
            if cell.cell_type == "code" and cell.source.strip() and time.monotonic() > self._deadline:
                cell.outputs = [note(f"[grader] not run: the notebook's time limit ({self.notebook_seconds:g} s) "
                                     f"was reached\n")]
                return cell
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

        execute_cell = run_sync(async_execute_cell)  # nbclient binds its own coroutine here: bind ours

        def process_message(self, msg, cell, cell_index):
            msg_type, content = msg["msg_type"], msg.get("content", {})
            if msg_type in ("update_display_data", "clear_output"):
                return None  # nothing rewrites or erases an output (a record) once it has arrived
            if msg_type in ("stream", "display_data", "execute_result", "error"):
                content.pop("transient", None)  # no display_id: later messages cannot update this output
                kind = "record" if checks.RECORD_MIME in content.get("data", {}) else "output"
                size = len(content["text"]) if isinstance(content.get("text"), str) else len(json.dumps(content))
                limit = (self.max_record_mb if kind == "record" else self.max_output_mb) * 2**20
                self._sizes[kind] += size
                if self._sizes[kind] > limit:
                    if cell_index not in self._dropped:
                        self._dropped.add(cell_index)
                        cell.outputs.append(note(f"\n[grader] output beyond {limit / 2**20:g} MiB dropped]\n"))
                    return None
            return super().process_message(msg, cell, cell_index)

    class GradeFromRecords(SaveAutoGrades):
        """nbgrader's SaveAutoGrades, with the verdict of a test cell taken from its records (compared here,
        in the grader's process, with COURSE/references/) instead of from the absence of errors."""

        course = Unicode("", help="the course folder (references live in COURSE/references/)").tag(config=True)

        def preprocess(self, nb, resources):
            name, notebook = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
            self.reference = reference_of(self.course, name, notebook)
            self.refused = {i: c.outputs[0]["text"] for i, c in enumerate(nb.cells) if c.cell_type == "code"
                            and c.get("outputs") and c.outputs[0].get("text", "").startswith("[grader] this cell")}
            return super().preprocess(nb, resources)

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type == "code":
                records = [o for o in cell.outputs if o.get("output_type") == "display_data"
                           and checks.RECORD_MIME in o.get("data", {})]
                cell.outputs = [o for o in cell.outputs if all(o is not r for r in records)]
                meta = cell.metadata.get("nbgrader", {})
                # records count only in a locked test cell (the harness's), never in a cell the student wrote
                self._records = [r["data"][checks.RECORD_MIME] for r in records] \
                    if meta.get("grade") and meta.get("locked") and not meta.get("solution") else []
                self._index = cell_index
            return super().preprocess_cell(cell, resources, cell_index)

        def _add_score(self, cell, resources):
            if cell.cell_type != "code":
                return super()._add_score(cell, resources)
            gid = cell.metadata["nbgrader"]["grade_id"]
            reference = self.reference["cells"].get(gid, [])
            lines = self._verdict(self._records, reference)
            points = float(cell.metadata["nbgrader"]["points"]) if not any(ok is False for ok, _ in lines) else 0.0
            if points == 0 and self.refused:
                lines.append((False, "cells not run (the scan refused them): " + ", ".join(
                    str(i + 1) for i in sorted(self.refused))))
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text="".join(
                f"[grader] {'passed' if ok else 'FAILED'}: {text}\n" for ok, text in lines)))
            grade = self.gradebook.find_grade(gid, self.notebook_id, self.assignment_id, self.student_id)
            grade.auto_score = points
            grade.needs_manual_grade = grade.manual_score is not None
            self.gradebook.db.commit()

        def _verdict(self, records, reference):
            if not reference:
                return [(False, "no reference checks for this cell (was the instructor notebook changed?)")]
            lines = []
            for n, ref in enumerate(reference):
                got = records[n] if n < len(records) else None
                if got is None or got.get("kind") != ref["kind"] or got.get("name") != ref["name"]:
                    lines.append((False, f"{ref['name']}: this check did not run (an error stopped the cell?)"))
                    continue
                message = checks.problem(ref["kind"], checks.decode(got.get("got")), ref)
                lines.append((message is None, message or ref["name"]))
            if len(records) > len(reference):
                lines.append((False, f"{len(records) - len(reference)} record(s) more than the test makes"))
            return lines

    return GradingExecute, GradeFromRecords
