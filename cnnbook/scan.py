"""The static scan of a submission: code the student wrote that reaches what an assignment forbids.

Used by the course command line (`cnnbook.course`) before it scores a submission. `scan_cell` reads a
cell's code (it does not run it) and lists calls, attributes and imports that reach the assignment's
forbidden functions (notebook metadata `cnnbook.forbidden`) or could reach them indirectly; the grader
gives 0 to every test after the first flagged cell (`first_violation`).
"""

from __future__ import annotations

import ast

ALLOWED_IMPORTS = {"torch", "math", "numpy", "itertools", "functools", "collections", "typing", "dataclasses",
                   "random", "statistics", "warnings"}
FORBIDDEN_NAMES = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
                   "vars", "open", "breakpoint", "input", "get_ipython", "__builtins__", "help", "memoryview"}
FORBIDDEN_ATTRIBUTES = {"ops", "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame", "cr_frame",
                        "tb_frame", "tb_next", "co_code", "system", "popen"}
ALLOWED_DUNDERS = {"__init__", "__call__", "__name__", "__len__", "__getitem__", "__repr__"}


def forbidden_list(nb) -> list[str]:
    """The assignment's forbidden functions/modules: notebook metadata `cnnbook.forbidden` (dotted names)."""
    return list(nb.metadata.get("cnnbook", {}).get("forbidden", []))


def scan_cell(source: str, forbidden=()) -> list[str]:
    """Problems in the code of one student cell: [] if none. Static (the code is not run).

    Flags: any use of a forbidden function by attribute (`F.conv2d`, `torch.ops.aten.conv2d`,
    `cnnbook.conv._conv2d_loops`) or import (`from torch.nn.functional import conv2d`), an import of a
    forbidden module or of anything outside `ALLOWED_IMPORTS`, indirection that could reach them
    (`exec`, `eval`, `getattr`, `__import__`, `globals`, `vars`, …; `torch.ops`; attributes starting with
    `_` other than `self._x` and a few dunders), and IPython magics or shell escapes.
    """
    targets = {t.split(".")[-1] for t in forbidden}
    modules = tuple(forbidden)
    problems = []
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip().startswith(("%", "!")):
            problems.append(f"line {number}: IPython magics and shell commands are not allowed in answers")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return problems  # it will fail when run; nothing to scan
    for node in ast.walk(tree):
        line = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute):
            if node.attr in targets:
                problems.append(f"{line}: uses .{node.attr}, which this assignment forbids")
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                problems.append(f"{line}: .{node.attr} is not allowed in answers")
            elif node.attr.startswith("_") and node.attr not in ALLOWED_DUNDERS and not (
                    isinstance(node.value, ast.Name) and node.value.id == "self" and not node.attr.startswith("__")):
                problems.append(f"{line}: private attribute .{node.attr} is not allowed in answers")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            problems.append(f"{line}: {node.id} is not allowed in answers")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] not in ALLOWED_IMPORTS or any(
                        part.startswith("_") or part == "ops" for part in name.split(".")):
                    problems.append(f"{line}: import {name} is not allowed in answers (allowed: "
                                    f"{', '.join(sorted(ALLOWED_IMPORTS))})")
                elif any(name == m or name.startswith(m + ".") for m in modules):
                    problems.append(f"{line}: import {name} is forbidden in this assignment")
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    if alias.name in targets or alias.name.startswith("_") or alias.name == "*" or any(
                            dotted == m or dotted.startswith(m + ".") for m in modules):
                        problems.append(f"{line}: importing {alias.name} is not allowed in this assignment")
    return problems


def locked_sources(nb) -> set[str]:
    """The text of the instructor notebook's locked code cells (restored by nbgrader, not the student's)."""
    return {c.source for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("solution")}


def first_violation(nb, forbidden, locked: set[str]) -> tuple[int, list[str]] | None:
    """(index, problems) of the first code cell the student wrote that `scan_cell` flags, or None."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source not in locked:
            problems = scan_cell(cell.source, forbidden)
            if problems:
                return index, problems
    return None
