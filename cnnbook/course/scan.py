"""The static scan of a submission: what the code a student wrote can reach, checked before it runs.

Used by the grader (`cnnbook.course.grader`) and by students themselves (`python -m cnnbook.course check
NOTEBOOK`). `scan_cell` reads one cell (it never runs it) the way the kernel will:

1. IPython's own input transformer manager rewrites the cell first (`%magic`, `!shell`, `obj?`, `/f x`
   become ordinary Python calls), so IPython syntax cannot hide code from the scan;
2. a cell that still cannot be parsed is refused with a message (it is not run when graded);
3. every dotted name rooted at a module (`torch.nn.functional.conv2d`, `F.conv2d` after
   `import torch.nn.functional as F`, `from torch import nn`) is *resolved to the object it reaches*, in
   this process, step by step. A step may only go down into the module's own submodules; the object it
   reaches must be on the allow-list (`MODULE_ATTRIBUTES` for the standard library, `TORCH_BASE` /
   `NUMPY_BASE` plus the assignment's metadata `cnnbook.allowed` for torch and numpy), and must not be
   — or live inside — one of the assignment's forbidden objects (metadata `cnnbook.forbidden`), compared
   by identity, whatever the spelling. A module may not be used as a value (`m = torch`), written to
   (`torch.conv2d = …`) or reached through another module (`torch.sys`, `typing.sys`);
4. attributes of everything else are checked by name: no private or dunder attributes (except `self._x`
   and a few harmless dunders), no frame, code, generator, traceback or kernel internals, nothing named
   like a forbidden function (`x.unfold` when `torch.Tensor.unfold` is forbidden);
5. names: no `exec`, `eval`, `compile`, `getattr` & co., no `open`, no IPython internals (`get_ipython`,
   `display`, `In`, `Out`, `_ih`, `_i3`, …), no name of the grading harness.

What is allowed is stated, not only what is forbidden: any function or class the student writes,
comprehensions, `assert`, the builtins not listed in `FORBIDDEN_NAMES`, and the library objects of the
allow-lists. `allowed_summary()` prints them.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import types

# ----------------------------------------------------------------------------- what answers may use
ALLOWED_MODULES = ("torch", "numpy", "math", "itertools", "functools", "collections", "dataclasses", "random",
                   "statistics", "typing", "warnings", "time", "sys")
PUBLIC = "any public name"
MODULE_ATTRIBUTES = {  # per standard-library module: the attributes answers may reach (sub-attributes after /)
    "math": PUBLIC, "itertools": PUBLIC, "collections": PUBLIC, "statistics": PUBLIC,
    "dataclasses": {"dataclass", "field", "fields", "asdict", "astuple", "replace"},
    "typing": {"Any", "Callable", "Iterable", "Iterator", "Sequence", "Mapping", "List", "Dict", "Tuple", "Set",
               "Optional", "Union", "NamedTuple", "TypeVar", "Literal"},  # not get_type_hints: it evaluates strings
    "functools": {"reduce", "partial", "lru_cache", "cache", "wraps", "cached_property", "total_ordering"},
    "random": {"random", "randint", "randrange", "uniform", "choice", "choices", "shuffle", "sample", "seed",
               "gauss", "Random"},
    "warnings": {"warn", "catch_warnings", "simplefilter"},
    "time": {"perf_counter", "perf_counter_ns", "time", "time_ns", "monotonic", "monotonic_ns", "process_time",
             "sleep"},
    "sys": {"stdout/write", "stdout/flush", "stderr/write", "stderr/flush", "stdout", "stderr", "float_info",
            "maxsize", "version_info"},
}
TORCH_BASE = (
    # tensors, dtypes, devices, creation
    "Tensor", "tensor", "as_tensor", "from_numpy", "is_tensor", "is_floating_point", "numel", "Size", "dtype",
    "device", "float16", "float32", "float64", "float", "double", "half", "int8", "int16", "int32", "int64",
    "int", "long", "uint8", "bool", "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "empty",
    "empty_like", "eye", "arange", "linspace", "logspace", "rand", "rand_like", "randn", "randn_like", "randint",
    "randperm", "bernoulli", "multinomial", "normal", "manual_seed", "Generator", "finfo", "iinfo",
    "get_default_dtype", "set_printoptions", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "pi", "inf", "nan", "e", "nn.functional.pad",
    # elementwise arithmetic and maths
    "abs", "neg", "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "pow", "square",
    "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "tanh", "atan2",
    "sigmoid", "erf", "sign", "clamp", "clip", "floor", "ceil", "round", "trunc", "frac", "reciprocal", "lerp",
    "hypot", "maximum", "minimum", "where", "isnan", "isinf", "isfinite", "nan_to_num", "eq", "ne", "gt", "ge",
    "lt", "le", "logical_and", "logical_or", "logical_not", "logical_xor", "allclose", "isclose", "equal",
    # reductions and sorting
    "sum", "mean", "std", "var", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "cumsum", "cumprod",
    "all", "any", "median", "sort", "argsort", "topk", "unique", "bincount", "count_nonzero", "quantile", "norm",
    # shapes, indexing, products
    "cat", "concat", "stack", "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "movedim",
    "flip", "roll", "split", "chunk", "narrow", "gather", "scatter", "index_select", "masked_select", "nonzero",
    "repeat_interleave", "tile", "broadcast_to", "meshgrid", "tril", "triu", "diag", "diagonal", "outer", "matmul",
    "mm", "bmm", "mv", "dot", "einsum", "tensordot",
    # networks as plain modules (layers that compute an answer are allowed per assignment only)
    "nn.Module", "nn.Parameter", "nn.ModuleList", "nn.ModuleDict", "nn.Sequential", "nn.Identity", "nn.init",
)
NUMPY_BASE = (
    "ndarray", "array", "asarray", "zeros", "zeros_like", "ones", "ones_like", "full", "empty", "arange",
    "linspace", "float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool_", "pi", "inf", "nan",
    "e", "abs", "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tanh", "maximum", "minimum", "clip", "floor",
    "ceil", "round", "sign", "where", "isnan", "isinf", "isfinite", "isclose", "allclose", "array_equal", "sum",
    "mean", "std", "var", "prod", "max", "min", "argmax", "argmin", "cumsum", "median", "percentile", "sort",
    "argsort", "unique", "stack", "concatenate", "reshape", "transpose", "matmul", "dot", "outer", "einsum",
    "random.default_rng", "random.seed", "random.rand", "random.randn", "random.randint",
)
# never, in any assignment: code execution, pickles, compilers, processes, native code
DENIED_PATHS = ("torch.load", "torch.jit", "torch.compile", "torch.hub", "torch.package", "torch.library",
                "torch.ops", "torch.classes", "torch.utils", "torch.multiprocessing", "torch.distributed", "torch.fx",
                "torch.backends", "torch.overrides", "torch.serialization", "torch.storage", "torch.cuda",
                "numpy.load", "numpy.lib", "numpy.ctypeslib", "numpy.testing", "numpy.f2py", "numpy.distutils")

FORBIDDEN_NAMES = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
                   "vars", "open", "breakpoint", "input", "help", "memoryview", "exit", "quit", "get_ipython",
                   "display", "In", "Out"}
IPYTHON_NAME = re.compile(r"_(i|ii|iii|ih|oh|dh|i\d+|\d+)|__|___|_cnnbook.*|__\w+__")
ALLOWED_DUNDERS = {"__init__", "__call__", "__name__", "__len__", "__getitem__", "__repr__", "__doc__",
                   "__iter__", "__next__", "__enter__", "__exit__", "__eq__", "__str__"}
REFUSED_ATTRIBUTES = {  # on any value: frames, code, generators, tracebacks, modules, the kernel's plumbing
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "f_trace", "gi_frame", "gi_code", "gi_yieldfrom",
    "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code", "co_consts", "sys", "os",
    "builtins", "importlib", "subprocess", "ctypes", "attrgetter", "methodcaller", "system", "popen",
    "session", "pub_thread", "parent_header", "iopub_socket", "iopub_thread", "shell", "user_ns",
    "run_line_magic", "run_cell_magic", "run_cell", "set_custom_exc", "comm_manager", "display_pub",
    "exec_module", "load_module", "spec_from_file_location",
}
INSTEAD = {  # what to use instead, in the message that refuses a name
    "getattr": "call the method directly (obj.method(...))", "open": "answers work on the values the notebook gives "
    "them; no files", "eval": "write the expression itself", "exec": "write the code itself",
    "display": "print(...)", "sys": "sys.stdout / sys.stderr (print(..., file=sys.stderr))",
    "time": "time.perf_counter()", "warnings": "warnings.warn(...)",
}


def _instead(name: str) -> str:
    return f"; use {INSTEAD[name]} instead" if name in INSTEAD else ""


def forbidden_list(nb) -> list[str]:
    """The assignment's forbidden functions/modules: notebook metadata `cnnbook.forbidden` (dotted names)."""
    return list(nb.metadata.get("cnnbook", {}).get("forbidden", []))


def allowed_list(nb) -> list[str]:
    """What the assignment allows beyond the base lists: notebook metadata `cnnbook.allowed` (dotted names)."""
    return list(nb.metadata.get("cnnbook", {}).get("allowed", []))


def allowed_summary(allowed=()) -> str:
    """The allow-list in words (for the instructors page, `check --allowed` and refusals)."""
    lines = [f"modules: {', '.join(ALLOWED_MODULES)}"]
    for module, names in MODULE_ATTRIBUTES.items():
        lines.append(f"{module}: {names if names == PUBLIC else ', '.join(sorted(names))}")
    lines.append("torch: " + ", ".join(TORCH_BASE))
    lines.append("numpy: " + ", ".join(NUMPY_BASE))
    if allowed:
        lines.append("this assignment also: " + ", ".join(allowed))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- IPython, as the kernel reads it
def transform(source: str) -> str:
    """The cell as the kernel will run it: IPython's input transformer manager applied (magics, shell
    escapes, `?` help and `/f x` autocall become Python calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # without IPython nothing rewrites the cell: it runs as written
        return source
    return TransformerManager().transform_cell(source)


# ----------------------------------------------------------------------------- resolving dotted names
_MISSING = object()


def _object(path: str):
    """The object a dotted path names (modules imported as needed), or _MISSING (also for a path outside
    `ALLOWED_MODULES`, which is refused whatever it names)."""
    parts = path.split(".")
    if parts[0] not in ALLOWED_MODULES:  # never import what answers cannot reach anyway
        return _MISSING
    try:
        obj = importlib.import_module(parts[0])
    except ImportError:
        return _MISSING
    for n, part in enumerate(parts[1:], 1):
        child = getattr(obj, part, _MISSING)
        if child is _MISSING and isinstance(obj, types.ModuleType):
            try:
                child = importlib.import_module(".".join(parts[:n + 1]))
            except ImportError:
                return _MISSING
        if child is _MISSING:
            return _MISSING
        obj = child
    return obj


def _covered(path: str, entries) -> bool:
    return any(path == e or path.startswith(e + ".") for e in entries)


class _Rules:
    """The assignment's rules, resolved once: forbidden objects (by identity) and allowed paths."""

    def __init__(self, forbidden=(), allowed=()):
        self.forbidden = tuple(forbidden)
        self.allowed = tuple(allowed)
        self.forbidden_objects = []
        for path in self.forbidden:
            obj = _object(path)
            if obj is not _MISSING:
                self.forbidden_objects.append((path, obj))
        self.targets = {p.split(".")[-1] for p in self.forbidden if "." in p}
        self.torch = tuple(f"torch.{n}" for n in TORCH_BASE)
        self.numpy = tuple(f"numpy.{n}" for n in NUMPY_BASE)

    def forbidden_hit(self, path: str, obj) -> str | None:
        for fpath, fobj in self.forbidden_objects:
            if obj is fobj or _covered(path, [fpath]):
                return fpath
            if isinstance(fobj, types.ModuleType) and isinstance(obj, types.ModuleType) and \
                    obj.__name__.startswith(fobj.__name__ + "."):
                return fpath
        return None

    def check(self, path: str) -> str | None:
        """Why the library object `path` (dotted, rooted at a module) may not be reached, or None."""
        parts = path.split(".")
        root = parts[0]
        if root not in ALLOWED_MODULES:
            return f"{root} is not allowed in answers (allowed modules: {', '.join(ALLOWED_MODULES)}){_instead(root)}"
        if _covered(path, self.forbidden):
            return f"{path} is forbidden in this assignment"
        obj = importlib.import_module(root)
        for n, part in enumerate(parts[1:], 1):
            prefix = ".".join(parts[:n + 1])
            if part.startswith("_") and part not in ALLOWED_DUNDERS:
                return f"{prefix}: private and dunder attributes are not allowed in answers"
            if part in REFUSED_ATTRIBUTES:
                return f"{prefix} is not allowed in answers{_instead(root)}"
            child = getattr(obj, part, _MISSING)
            if child is _MISSING and isinstance(obj, types.ModuleType):
                try:
                    child = importlib.import_module(prefix)
                except ImportError:
                    child = _MISSING
            if child is _MISSING:
                return f"{prefix} does not exist"
            if isinstance(child, types.ModuleType) and (not isinstance(obj, types.ModuleType) or
                                                        not child.__name__.startswith(obj.__name__ + ".")):
                return f"{prefix} is the module {child.__name__}, reached through another module; not allowed"
            hit = self.forbidden_hit(prefix, child)
            if hit:
                return f"{prefix} is forbidden in this assignment ({hit})"
            if _covered(prefix, DENIED_PATHS):
                return f"{prefix} is not allowed in answers (it runs or loads code)"
            refusal = self._module_attribute(root, parts, n, isinstance(child, types.ModuleType))
            if refusal:
                return refusal
            obj = child
        return None

    def _module_attribute(self, root: str, parts: list[str], n: int, is_module: bool) -> str | None:
        prefix = ".".join(parts[:n + 1])
        if root in ("torch", "numpy"):
            entries = (self.torch if root == "torch" else self.numpy) + self.allowed
            if _covered(prefix, entries) or (is_module and any(e.startswith(prefix + ".") for e in entries)):
                return None
            return (f"{prefix} is not on this assignment's allowed list (tensor arithmetic, indexing, reductions, "
                    f"creation such as {root}.zeros; `python -m cnnbook.course check --allowed` lists them)")
        rule = MODULE_ATTRIBUTES.get(root)
        if rule == PUBLIC:
            return None if not is_module else f"{prefix}: submodules of {root} are not allowed in answers"
        if "/".join(parts[1:n + 1]) in rule:
            return None
        allowed = sorted(r.replace("/", ".") for r in rule)
        return f"{prefix} is not allowed in answers (allowed from {root}: {', '.join(allowed)}){_instead(root)}"


# ----------------------------------------------------------------------------- the scan
def module_aliases(sources) -> dict[str, str]:
    """{name: dotted module/object path} bound by the import statements of `sources` (e.g. the locked setup
    cells: `import torch.nn.functional as F` -> {"F": "torch.nn.functional"})."""
    aliases = {}
    for source in sources:
        try:
            tree = ast.parse(transform(source))
        except SyntaxError:
            continue
        _bind_imports(tree, aliases)
    return aliases


def _bind_imports(tree, aliases: dict) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"


def _chain(node) -> tuple[str, list[str]] | None:
    """a.b.c -> ("a", ["b", "c"]) when the chain starts at a name, else None."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return node.id, attrs[::-1]
    return None


def scan_cell(source: str, forbidden=(), allowed=(), aliases=None) -> list[str]:
    """Problems in the code of one student cell: [] if none. Static (the code is not run).

    `forbidden`/`allowed`: the assignment's metadata lists; `aliases`: names the locked cells bind to
    modules (`module_aliases`), e.g. {"F": "torch.nn.functional", "torch": "torch"}.
    """
    rules = forbidden if isinstance(forbidden, _Rules) else _Rules(forbidden, allowed)
    aliases = dict(aliases or {})
    code = transform(source)
    problems = []
    if code.strip() != source.strip() and "get_ipython()" in code:
        problems.append("IPython magics, shell commands (%, !) and ? help are not allowed in answers")
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None) or "?"
        return problems + [f"line {line}: this cell cannot be read as Python ({getattr(error, 'msg', error)}), so "
                           f"it is not run; fix it (run it yourself) before you submit"]
    _bind_imports(tree, aliases)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    inner = set()
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems += [f"{where}: {p}" for p in _import_problems(node, rules)]
        elif isinstance(node, ast.Attribute) and id(node) not in inner:
            sub = node.value
            while isinstance(sub, ast.Attribute):
                inner.add(id(sub))
                sub = sub.value
            problems += [f"{where}: {p}" for p in _attribute_problems(node, rules, aliases)]
        elif isinstance(node, ast.Name):
            problem = _name_problem(node, stored)
            if not problem and node.id in aliases and id(node) not in bases and isinstance(node.ctx, ast.Load) \
                    and isinstance(_object(aliases[node.id]), types.ModuleType):
                problem = f"the module {node.id} is used as a value; use its functions directly ({node.id}.name(...))"
            if problem:
                problems.append(f"{where}: {problem}")
        elif isinstance(node, ast.MatchClass) and node.kwd_attrs:
            problems.append(f"{where}: class patterns with keyword attributes are not allowed in answers")
    return list(dict.fromkeys(problems))


def _import_problems(node, rules: _Rules) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return ["relative imports are not allowed in answers"]
        out = []
        for a in node.names:
            if a.name == "*":
                out.append(f"from {node.module} import * is not allowed in answers; import the names you use")
                continue
            refusal = rules.check(f"{node.module}.{a.name}")
            if refusal:
                out.append(refusal)
        return out
    return [r for r in (rules.check(a.name) for a in node.names) if r]


def _attribute_problems(node, rules: _Rules, aliases: dict) -> list[str]:
    chain = _chain(node)
    if chain and chain[0] in aliases:
        name, attrs = chain
        path = ".".join([aliases[name], *attrs])
        refusal = rules.check(path)
        if refusal:
            return [refusal]
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            return [f"{path}: changing a library is not allowed in answers"]
        if isinstance(_object(path), types.ModuleType):
            return [f"the module {path} is used as a value; use its functions directly ({path}.name(...))"]
        return []
    out = []
    sub = node
    while isinstance(sub, ast.Attribute):
        attr = sub.attr
        if attr in rules.targets:
            out.append(f".{attr}: this assignment forbids {', '.join(f for f in rules.forbidden if f.endswith('.' + attr))}")
        elif attr in REFUSED_ATTRIBUTES:
            out.append(f".{attr} is not allowed in answers")
        elif attr.startswith("__") and attr not in ALLOWED_DUNDERS:
            out.append(f".{attr}: dunder attributes are not allowed in answers")
        elif attr.startswith("_") and not attr.startswith("__") and not (
                isinstance(sub.value, ast.Name) and sub.value.id == "self"):
            out.append(f".{attr}: private attributes are allowed on `self` only")
        sub = sub.value
    return out


def _name_problem(node, stored: set) -> str | None:
    name = node.id
    if name in FORBIDDEN_NAMES:
        return f"{name} is not allowed in answers{_instead(name)}"
    if name == "_" and isinstance(node.ctx, ast.Load) and "_" not in stored:
        return "_ (IPython's last output) is not allowed in answers"
    if name != "_" and name != "__name__" and IPYTHON_NAME.fullmatch(name):
        return f"{name} is not allowed in answers (IPython's history or the grader's names)"
    return None


def rules_for(nb) -> _Rules:
    return _Rules(forbidden_list(nb), allowed_list(nb))


def reference_only_sources(nb) -> list[str]:
    """Locked cells the assignment marks (cell metadata `cnnbook.reference_only`) as computing answers: they run
    in the grader's reference pass only, never in a student's run."""
    return [c.source for c in nb.cells if c.cell_type == "code" and c.metadata.get("cnnbook", {}).get("reference_only")]


def defined_names(sources) -> set[str]:
    """Names the top level of `sources` defines (functions, classes, assignments)."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(transform(source))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


RESTORED = re.compile(r"\A# This cell \(id:[^)\n]*\) was missing from the submission\.[^\n]*\n+")


def unrestored(source: str) -> str:
    """A cell's text without the note nbgrader puts at the top of a locked cell it restored."""
    return RESTORED.sub("", source)


def locked_sources(nb) -> set[str]:
    """The text of the instructor notebook's locked code cells (restored by nbgrader, not the student's)."""
    return {c.source for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("solution")}


def refused_cells(nb, forbidden=(), locked: set[str] = frozenset(), allowed=(), reference_only=()) -> dict[int, list[str]]:
    """{index: problems} of every code cell the student wrote (not a locked cell's text) that the scan
    refuses. Module aliases come from the locked cells (the setup cell's imports); the names the
    `reference_only` cells define (instructor helpers that compute answers) may not be used."""
    rules = _Rules(forbidden, allowed)
    aliases = module_aliases(c.source for c in nb.cells if c.cell_type == "code" and c.source in locked)
    hidden = defined_names(reference_only)
    refused = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source not in locked and unrestored(cell.source) not in locked:
            problems = scan_cell(cell.source, rules, aliases=aliases) + _uses(cell.source, hidden)
            if problems:
                refused[index] = problems
    return refused


def _uses(source: str, names: set[str]) -> list[str]:
    if not names:
        return []
    try:
        tree = ast.parse(transform(source))
    except (SyntaxError, ValueError):
        return []
    return [f"line {n.lineno}: {n.id} is the instructor's reference; it does not exist when your notebook is "
            f"graded — compute the answer yourself" for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names]


def first_violation(nb, forbidden, locked: set[str], allowed=()) -> tuple[int, list[str]] | None:
    """(index, problems) of the first code cell the student wrote that the scan refuses, or None."""
    refused = refused_cells(nb, forbidden, locked, allowed)
    return next(iter(refused.items()), None)


if __name__ == "__main__":  # pragma: no cover
    print(allowed_summary(sys.argv[1:]))
