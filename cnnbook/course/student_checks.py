"""The students' checks: what the assignments' test cells import (`from cnnbook.course.student_checks import …`).

Not to be confused with `cnnbook._validate`, which checks the arguments of the book's own functions.

Used by `notebooks/assignments/` (one graded assignment per chapter). A failed check raises
`AssertionError` with what was expected, what came back and a hint, never a bare traceback:
`check_tensor`, `check_close`, `check_equal`, `check_between`; `forbidden` makes calling a library
shortcut (e.g. `torch.nn.functional.conv2d`) fail inside a block.

The verdicts are pure functions (`problem`), so the course's grader (`cnnbook.course.grader`) can reach the
same verdict in its own process. When it grades, it runs the notebook in a sandboxed kernel and sets
`CNNBOOK_GRADING`: with `reference` (the instructor's solution) every check also emits a *record* of
what it expected; with `student` the grader rewrites each check into `_record`, which emits only the
student's value, so the expected values are never computed where student code runs. Records are
display outputs of type `RECORD_MIME`, holding values in a typed JSON form (`encode` / `decode`).

Nothing here runs at import time; torch is imported only when a value needs it.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import math
import os
import random
import sys

RECORD_MIME = "application/vnd.cnnbook.record+json"
KINDS = ("tensor", "close", "equal", "between")
MAX_RECORD_BYTES = 4 * 2**20  # one recorded value; larger ones are recorded as "too large" (and fail)


# ============================================================================= messages
def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _hint(hint: str) -> str:
    return f"\n  hint: {hint}" if hint else ""


def _torch():
    import torch

    return torch


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


# ============================================================================= verdicts (pure)
def tensor_problem(got, expected, name: str, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "") -> str | None:
    """None if `got` matches the tensor `expected`, else the message saying why.

    Floating point: within atol + rtol*|expected|; a NaN in `expected` only matches a NaN in the same
    place (and NaN in `got` where `expected` is finite fails). Integers and booleans: exactly equal,
    compared as integers (no rounding through float64, so 2**62 + 1 != 2**62).
    """
    torch = _torch()
    if got is None:
        return f"{name}: your function returned None — did you forget the `return`?{_hint(hint)}"
    if isinstance(got, (tuple, list)):
        return (f"{name}: expected one tensor of shape {tuple(expected.shape)}, got a "
                f"{type(got).__name__} of {len(got)} items.{_hint(hint)}")
    if not isinstance(got, torch.Tensor):
        return f"{name}: expected a torch.Tensor, got {type(got).__name__}.{_hint(hint)}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"{name}: wrong shape — expected {tuple(expected.shape)}, got {tuple(got.shape)}.{_hint(hint)}"
    if got.is_floating_point() != expected.is_floating_point() or got.is_complex() or expected.is_complex():
        return f"{name}: wrong dtype — expected {expected.dtype}, got {got.dtype}.{_hint(hint)}"
    got, expected = got.detach().cpu(), expected.detach().cpu()
    if got.numel() == 0:
        return None
    if not expected.is_floating_point():  # exact, as integers
        bad = got.to(torch.int64) != expected.to(torch.int64)
        if bad.any():
            idx = tuple(torch.nonzero(bad)[0].tolist())
            return (f"{name}: wrong values at {int(bad.sum())} of {bad.numel()} positions; first at index {idx}: "
                    f"expected {expected[idx].item()}, got {got[idx].item()} (integers must match exactly)."
                    f"{_hint(hint)}")
        return None
    got_d, exp_d = got.to(torch.float64), expected.to(torch.float64)
    nan_got, nan_exp = torch.isnan(got_d), torch.isnan(exp_d)
    if (nan_got != nan_exp).any():
        idx = tuple(torch.nonzero(nan_got != nan_exp)[0].tolist())
        which = "NaN where a number was expected" if nan_got[idx] else "a number where NaN was expected"
        return f"{name}: {which} (first at index {idx}).{_hint(hint)}"
    same_inf = torch.isinf(exp_d) & (got_d == exp_d)
    diff = torch.where(nan_exp | same_inf, torch.zeros_like(got_d), (got_d - exp_d).abs())
    bad = ~(diff <= atol + rtol * exp_d.abs().nan_to_num(0.0))
    bad &= ~(nan_exp | same_inf)
    if bad.any():
        worst = int(torch.argmax(torch.where(bad, diff.nan_to_num(float("inf")), torch.zeros_like(diff))))
        idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), got_d.shape))
        return (f"{name}: wrong values at {int(bad.sum())} of {bad.numel()} positions. Largest difference "
                f"{diff.flatten()[worst].item():.3g} at index {idx}: expected {exp_d[idx].item():.6g}, got "
                f"{got_d[idx].item():.6g} (tolerance: atol={atol:g}, rtol={rtol:g}).{_hint(hint)}")
    return None


def close_problem(got, expected: float, name: str, atol: float = 1e-6, rtol: float = 1e-4, hint: str = ""):
    """None if the number `got` (int, float or one-element tensor) is within atol + rtol*|expected|."""
    if _is_tensor(got):
        if got.numel() != 1:
            return f"{name}: expected a single number, got a tensor of shape {tuple(got.shape)}.{_hint(hint)}"
        got = got.item()
    if got is None or type(got) not in (int, float):
        return f"{name}: expected a number close to {_fmt(expected)}, got {got!r}.{_hint(hint)}"
    if not math.isclose(got, expected, abs_tol=atol, rel_tol=rtol):
        return (f"{name}: expected {_fmt(expected)}, got {_fmt(float(got))} "
                f"(tolerance: atol={atol:g}, rtol={rtol:g}).{_hint(hint)}")
    return None


def _same(got, expected) -> bool:
    """Exact equality with exact types (an int subclass is not an int), recursively for tuples/lists."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, (tuple, list)):
        return len(got) == len(expected) and all(_same(g, e) for g, e in zip(got, expected))
    if isinstance(expected, float) and math.isnan(expected):
        return math.isnan(got)
    return got == expected


def equal_problem(got, expected, name: str, hint: str = "") -> str | None:
    """None if `got` equals `expected` exactly, with the same types (ints, floats, str, None, tuples, lists)."""
    if _is_tensor(got) and got.numel() == 1 and not _is_tensor(expected):
        got = got.item()
    if type(got) is not type(expected):
        return (f"{name}: expected a {type(expected).__name__} equal to {expected!r}, got a "
                f"{type(got).__name__}: {got!r}.{_hint(hint)}")
    if not _same(got, expected):
        return f"{name}: expected {expected!r}, got {got!r}.{_hint(hint)}"
    return None


def between_problem(got, low: float, high: float, name: str, hint: str = "") -> str | None:
    """None if the number `got` lies in [low, high]."""
    if _is_tensor(got) and got.numel() == 1:
        got = got.item()
    if got is None or type(got) not in (int, float) or math.isnan(got):
        return f"{name}: expected a number between {_fmt(low)} and {_fmt(high)}, got {got!r}.{_hint(hint)}"
    if not low <= got <= high:
        return f"{name}: expected a number between {_fmt(low)} and {_fmt(high)}, got {_fmt(float(got))}.{_hint(hint)}"
    return None


# ============================================================================= records
def encode(value):
    """A value -> typed JSON: {"t": type, "v": ...}. Exact types only: an int subclass, a tensor subclass or
    any other object becomes {"t": "other", "v": its type name}, which matches nothing."""
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind in (bool, int, str):
        return {"t": kind.__name__, "v": value}
    if kind is float:
        return {"t": "float", "v": repr(value)}
    if kind in (tuple, list):
        return {"t": kind.__name__, "v": [encode(v) for v in value]}
    torch = sys.modules.get("torch")
    if torch is not None and kind in (torch.Tensor, torch.nn.Parameter):
        t = value.detach().cpu().contiguous()
        if t.is_complex() or t.dtype in (torch.bfloat16,) or t.numel() * t.element_size() > MAX_RECORD_BYTES:
            return {"t": "other", "v": f"tensor {t.dtype} of shape {tuple(t.shape)} (unsupported or too large)"}
        data = t.numpy().tobytes() if t.dtype != torch.float16 else t.float().numpy().tobytes()
        dtype = str(t.dtype).replace("torch.", "")
        return {"t": "tensor", "dtype": dtype, "shape": list(t.shape), "v": base64.b64encode(data).decode()}
    return {"t": "other", "v": f"{kind.__module__}.{kind.__qualname__}"}


class Opaque:
    """What `decode` returns for a value that was not of a supported type (matches nothing)."""

    def __init__(self, description: str):
        self.description = str(description)

    def __repr__(self):
        return f"<{self.description}>"


def decode(data):
    """Typed JSON from `encode` -> the value (tensors come back as torch tensors)."""
    kind = data.get("t") if isinstance(data, dict) else None
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = data["v"]
        return value if type(value).__name__ == kind else Opaque(f"malformed {kind}")
    if kind == "float":
        return float(data["v"])
    if kind in ("tuple", "list"):
        items = [decode(v) for v in data["v"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "tensor":
        import numpy as np

        torch = _torch()
        dtype = "float32" if data["dtype"] == "float16" else data["dtype"]
        array = np.frombuffer(base64.b64decode(data["v"]), dtype=np.dtype(dtype)).reshape(data["shape"])
        return torch.from_numpy(array.copy())
    return Opaque(data.get("v", "unknown") if isinstance(data, dict) else "malformed record")


def problem(kind: str, got, reference: dict) -> str | None:
    """The verdict on a student's value `got` given a reference record (what `_emit` wrote in reference mode)."""
    name, hint = reference["name"], reference.get("hint", "")
    expected = decode(reference["expected"])
    if isinstance(got, Opaque):
        return f"{name}: expected a value like {type(expected).__name__}, got {got!r}.{_hint(hint)}"
    if kind == "tensor":
        return tensor_problem(got, expected, name, reference["atol"], reference["rtol"], hint)
    if kind == "close":
        return close_problem(got, expected, name, reference["atol"], reference["rtol"], hint)
    if kind == "equal":
        return equal_problem(got, expected, name, hint)
    if kind == "between":
        low, high = expected
        return between_problem(got, low, high, name, hint)
    return f"{name}: unknown kind of check {kind!r}."


def _mode() -> str:
    return os.environ.get("CNNBOOK_GRADING", "")


def _display(payload: dict) -> None:
    from IPython.display import display

    display({RECORD_MIME: payload}, raw=True)


def _emit(kind: str, name: str, got, expected, message: str | None, **params) -> None:
    """Reference mode: record what the check expected (the grader compares students' values with it)."""
    if _mode() == "reference":
        _display({"kind": kind, "name": str(name), "expected": encode(expected), "ok": message is None,
                  **params})


def _record(kind: str, name, got) -> None:
    """Student mode: the grader rewrites `check_*(got, expected, name, ...)` into `_record(kind, name, got)`."""
    if kind not in KINDS:
        raise ValueError(f"_record: kind must be one of {KINDS}, got {kind!r}.")
    _display({"kind": kind, "name": str(name), "got": encode(got)})


def _begin_cell(seed: int) -> None:
    """Grading runs call this at the top of every locked cell: the same inputs whatever ran before."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


# ============================================================================= checks
def _finish(kind, name, got, expected, message, **params) -> None:
    _emit(kind, name, got, expected, message, hint=params.pop("hint", ""), **params)
    if message:
        raise AssertionError(message)


def check_tensor(got, expected, name: str, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "") -> None:
    """Check that `got` is a tensor with `expected`'s shape and values (see `tensor_problem`: NaN only matches
    NaN in the same place; integer tensors must match exactly).

    Raises AssertionError naming `name`, the expected and received shape/dtype, the largest difference and
    where it is, and `hint`.
    """
    torch = _torch()
    if not isinstance(expected, torch.Tensor):
        raise TypeError(f"check_tensor: expected must be a torch.Tensor, got {type(expected).__name__}.")
    _finish("tensor", name, got, expected, tensor_problem(got, expected, name, atol, rtol, hint),
            atol=atol, rtol=rtol, hint=hint)


def check_close(got, expected: float, name: str, atol: float = 1e-6, rtol: float = 1e-4, hint: str = "") -> None:
    """Check that the number `got` (int, float or one-element tensor) is within atol + rtol*|expected|."""
    _finish("close", name, got, float(expected), close_problem(got, expected, name, atol, rtol, hint),
            atol=atol, rtol=rtol, hint=hint)


def check_equal(got, expected, name: str, hint: str = "") -> None:
    """Check exact equality with exact types (ints, tuples, lists, strings); a one-element tensor counts as
    its number. An int subclass is not an int."""
    _finish("equal", name, got, expected, equal_problem(got, expected, name, hint), hint=hint)


def check_between(got, low: float, high: float, name: str, hint: str = "") -> None:
    """Check that the number `got` lies in [low, high] — for experiments whose exact value may vary."""
    _finish("between", name, got, (float(low), float(high)), between_problem(got, low, high, name, hint), hint=hint)


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
    Originals are restored on exit, even after an error. This is a runtime guard for honest mistakes; the
    grader also scans the code of every submission (`cnnbook.course.scan`).
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
