"""Test cells that only *record*: the rewriting the grader applies to test cells before a submission runs.

Used by `cnnbook.course.grader`. `record_only` rewrites every `check_*` call of a test cell so that the
student's kernel records the value it got, with its exact type, and decides nothing (the expected values
are never computed where student code runs); the verdict is reached in the grader's process
(`cnnbook.course.student_checks.problem`). `record_only_cells` then slices the test cells of a whole
notebook: a statement of a test cell is kept only if a record, or a later locked cell, needs what it
defines — so a reference implementation inside a test cell (a helper, an expected tensor computed before the
student's function is called) never exists in the student's kernel, where an answer could call it. Pure
Python: no nbgrader, no kernel.
"""

from __future__ import annotations

import ast
import builtins
import copy
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


RECORD = "_cnnbook_record"


def _loads(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _defines(node) -> set[str]:
    """Names a top-level statement binds or changes in place (`x = …`, `x[i] = …`, `x.a = …`, `def x`, imports);
    not the names local to a function, lambda or comprehension inside it."""
    names = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            todo.extend(n.decorator_list)
            continue
        if isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        todo.extend(ast.iter_child_nodes(n))
    return names


def _records(node) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == RECORD for n in ast.walk(node))


PURE = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
        ast.ImportFrom)  # statements that only bind names: dropped unless a kept statement needs a name they bind
LIBRARY = set(dir(builtins))


def _slice(body: list, live: set[str], library: set[str]) -> list:
    """The statements of `body`, walked backwards, that a record needs. Kept: a statement that makes a record,
    binds or changes a name in `live`, or (not a pure binding: `loss.backward()`, a loop filling a list) uses a
    name in `live` other than a library's, or uses library names only (`torch.manual_seed(0)`). `live` grows
    with every name the kept statements use."""
    kept = []
    for stmt in reversed(body):
        loads = _loads(stmt)
        if not isinstance(stmt, PURE) and _records(stmt) and hasattr(stmt, "body"):
            inner = set(live)
            for _ in range(2):  # a loop body may need what its own later iterations define
                new_body = _slice(copy.deepcopy(stmt.body), inner, library)
            stmt.body = new_body or [ast.Pass()]
            if getattr(stmt, "orelse", None):
                stmt.orelse = _slice(stmt.orelse, inner, library) or [ast.Pass()]
            live |= inner
            keep = True
        else:
            keep = _records(stmt) or bool(_defines(stmt) & live) or not isinstance(stmt, PURE) and (
                bool((loads - library) & live) or not loads - library)
        if keep:
            live |= _loads(stmt)
            kept.append(stmt)
    return kept[::-1]


def record_only_cells(cells: list[tuple[str, bool]]) -> list[str]:
    """The locked cells of a notebook, in order, as (source, is a test cell) -> their sources for a student's run:
    every test cell record-only (`record_only`) and sliced (see the module docstring); other cells unchanged.
    A cell that cannot be parsed is left as it is (it fails when run, in the reference pass too)."""
    trees = []
    for source, _ in cells:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            trees.append(None)
    library = LIBRARY | {name for tree in trees if tree for stmt in tree.body
                         if isinstance(stmt, (ast.Import, ast.ImportFrom)) for name in _defines(stmt)}
    out, live = [], set()
    for (source, is_test), tree in zip(reversed(cells), reversed(trees)):
        if tree is None or not is_test:
            out.append(source)
            live |= _loads(tree) if tree else set()
            continue
        tree = _RecordOnly().visit(tree)
        tree.body = _slice(tree.body, live, library)
        out.append(ast.unparse(ast.fix_missing_locations(tree)))
    return out[::-1]


def _seed_of(cell) -> int:
    return zlib.crc32((cell.metadata.get("nbgrader", {}).get("grade_id") or cell.source).encode())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
