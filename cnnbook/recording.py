"""Grading from records: run a notebook so that its checks only *record* values, and score the records.

Used by `cnnbook.course` (the instructor's command line). `record_only` rewrites every `check_*` call of a
test cell so that the student's kernel records the value it got, with its exact type, and decides nothing;
`build_references` runs the instructor's notebook once in the sandbox to record what every check expects;
the two nbgrader preprocessors built by `_grading_classes` execute a submission in the sandbox and score its
records against the references in the grader's own process.
"""

from __future__ import annotations

import ast
import hashlib
import json
import zlib
from pathlib import Path

from . import checks
from .scan import first_violation

CHECKERS = {"check_tensor": ("tensor", 2), "check_close": ("close", 2), "check_equal": ("equal", 2),
            "check_between": ("between", 3)}  # name -> (record kind, position of the `name` argument)
class _RecordOnly(ast.NodeTransformer):
    """check_x(got, expected, name, ...) -> _cnnbook_record("x", name, got): `expected` is never evaluated."""

    def visit_Expr(self, node):  # print("… passed") would claim a pass the grader has not decided
        self.generic_visit(node)
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print" and \
                "passed" in ast.unparse(call):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in CHECKERS:
            kind, position = CHECKERS[node.func.id]
            args = {k.arg: k.value for k in node.keywords}
            got = node.args[0] if node.args else args.get("got")
            name = node.args[position] if len(node.args) > position else args.get("name")
            if got is None or name is None:
                return node
            return ast.copy_location(ast.Call(ast.Name("_cnnbook_record", ast.Load()),
                                              [ast.Constant(kind), name, got], []), node)
        return node


def record_only(source: str) -> str:
    """A test cell's source with every check turned into a record of the student's value (see `_RecordOnly`)."""
    tree = _RecordOnly().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def _seed_of(cell) -> int:
    return zlib.crc32((cell.metadata.get("nbgrader", {}).get("grade_id") or cell.source).encode())


def _grading_classes():
    """The nbgrader-based classes, built on first use (nbgrader is imported only by the course commands)."""
    global GradingExecute, GradeFromRecords
    if "GradingExecute" in globals():
        return GradingExecute, GradeFromRecords
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute, SaveAutoGrades
    from traitlets import Float, Unicode

    from .sandbox import SandboxedKernelManager

    class GradingExecute(Execute):
        """nbgrader's Execute in the sandbox: locked cells seeded, test cells record-only (student mode),
        output capped while it arrives."""

        mode = Unicode("student", help="'student' (checks only record) or 'reference'").tag(config=True)
        max_output_mb = Float(4.0, help="output kept per notebook, MiB (records count separately)").tag(config=True)
        max_record_mb = Float(8.0, help="recorded values kept per notebook, MiB").tag(config=True)

        def __init__(self, **kw):
            kw.setdefault("kernel_manager_class", SandboxedKernelManager)
            super().__init__(**kw)

        def preprocess(self, nb, resources=None, km=None):
            self.config.SandboxedKernelManager.mode = self.mode
            self._sizes, self._dropped = {"output": 0, "record": 0}, set()
            originals = []
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type != "code" or not meta.get("locked") or meta.get("solution"):
                    continue
                originals.append((cell, cell.source))
                source = cell.source
                if meta.get("grade") and self.mode == "student":
                    try:
                        source = record_only(source)
                    except SyntaxError:
                        pass
                cell.source = ("from cnnbook.checks import _begin_cell as _cnnbook_begin, _record as _cnnbook_record; "
                               f"_cnnbook_begin({_seed_of(cell)})\n{source}")
            try:
                return super().preprocess(nb, resources, km)
            finally:
                for cell, source in originals:
                    cell.source = source

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            kind = "record" if checks.RECORD_MIME in content.get("data", {}) else "output"
            size = len(content["text"]) if isinstance(content.get("text"), str) else len(json.dumps(content))
            limit = (self.max_record_mb if kind == "record" else self.max_output_mb) * 2**20
            self._sizes[kind] += size
            if self._sizes[kind] > limit:
                if cell_index not in self._dropped:
                    self._dropped.add(cell_index)
                    outs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=f"\n[grader: output beyond {limit / 2**20:g} MiB dropped]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    class GradeFromRecords(SaveAutoGrades):
        """nbgrader's SaveAutoGrades, with the verdict of a test cell taken from its records (compared here,
        in the grader's process, with COURSE/references/) instead of from the absence of errors."""

        course = Unicode("", help="the course folder (references live in COURSE/references/)").tag(config=True)

        def preprocess(self, nb, resources):
            name, notebook = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
            path = Path(self.course) / "references" / name / f"{notebook}.json"
            if not path.is_file():
                raise RuntimeError(f"no reference records {path}: grade with `python -m cnnbook.grading autograde`, "
                                   f"which makes them from the instructor notebook first.")
            self.reference = json.loads(path.read_text())
            hit = first_violation(nb, self.reference["forbidden"], set(self.reference["locked"]))
            self.violation = hit or (len(nb.cells), [])
            return super().preprocess(nb, resources)

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type == "code":
                records = [o for o in cell.outputs if o.get("output_type") == "display_data"
                           and checks.RECORD_MIME in o.get("data", {})]
                cell.outputs = [o for o in cell.outputs if all(o is not r for r in records)]
                self._records = [r["data"][checks.RECORD_MIME] for r in records]
                self._index = cell_index
            return super().preprocess_cell(cell, resources, cell_index)

        def _add_score(self, cell, resources):
            if cell.cell_type != "code":
                return super()._add_score(cell, resources)
            gid = cell.metadata["nbgrader"]["grade_id"]
            reference = self.reference["cells"].get(gid, [])
            lines = self._verdict(self._records, reference, self._index)
            points = float(cell.metadata["nbgrader"]["points"]) if not any(ok is False for ok, _ in lines) else 0.0
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text="".join(
                f"[grader] {'passed' if ok else 'FAILED'}: {text}\n" for ok, text in lines)))
            grade = self.gradebook.find_grade(gid, self.notebook_id, self.assignment_id, self.student_id)
            grade.auto_score = points
            grade.needs_manual_grade = grade.manual_score is not None
            self.gradebook.db.commit()

        def _verdict(self, records, reference, index):
            if not reference:
                return [(False, "no reference checks for this cell (was the instructor notebook changed?)")]
            at, problems = self.violation
            if index > at:
                return [(False, f"cell {at + 1} uses code this assignment does not allow: " + "; ".join(problems))]
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
