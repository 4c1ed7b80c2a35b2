"""Test cells that only *record*: the rewriting the grader applies to a test cell before a submission runs.

Used by `cnnbook.course.grader`. `record_only` rewrites every `check_*` call of a test cell so that the
student's kernel records the value it got, with its exact type, and decides nothing (the expected values
are never computed where student code runs); the verdict is reached in the grader's process
(`cnnbook.course.student_checks.problem`). Pure Python: no nbgrader, no kernel.
"""

from __future__ import annotations

import ast
import hashlib
import zlib
from pathlib import Path

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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
