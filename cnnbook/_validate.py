"""Argument checks shared by cnnbook's public functions, with messages that teach (private module).

Every public function validates its arguments once, at its boundary, with these helpers, so that a wrong
call fails with an error that names the argument, says what was expected and how to fix it, instead of
an error from deep inside torch. Convention: the wrong *kind* of value (a float where an int belongs, a
list where a tensor belongs) raises TypeError; a value of the right kind but out of range (stride 0, a
pair of three numbers) raises ValueError.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch


def _where(who: str | None) -> str:
    return f"{who}: " if who else ""


def is_int(value) -> bool:
    """True for Python and NumPy integers (np.int64 included), False for bool, float and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(value, name: str, minimum: int = 1, meaning: str = "", who: str | None = None) -> int:
    """`value` as a Python int, checked to be an integer (not bool) and >= minimum.

    meaning: what the number is, with an example, e.g. "the number of passes over the data, e.g. epochs=5".
    """
    what = f" ({meaning})" if meaning else ""
    if not is_int(value):
        hint = f" — pass a whole number, e.g. {name}={max(minimum, round(value))}" \
            if isinstance(value, float) and value == value and abs(value) < 1e18 else ""
        raise TypeError(f"{_where(who)}{name} must be an int >= {minimum}{what}, got {value!r} "
                        f"of type {type(value).__name__}{hint}.")
    if value < minimum:
        raise ValueError(f"{_where(who)}{name} must be an int >= {minimum}{what}, got {value!r}.")
    return int(value)


def positive_int(value, name: str, meaning: str = "", who: str | None = None) -> int:
    """`integer(value, name, minimum=1)`: a count, a size, a stride."""
    return integer(value, name, 1, meaning, who)


def pair(value, name: str, minimum: int = 1, who: str | None = None,
         example: str = "") -> tuple[int, int]:
    """An int or a pair of ints (h, w) -> a pair of Python ints, each >= minimum.

    Accepts NumPy integers and tuples, lists or 1-D tensors of length 2; rejects bool and floats.
    example: how to write it right, e.g. "for a 224×224 image pass 224 or (224, 224)".
    """
    hint = f"; {example}" if example else ""
    if is_int(value):
        value = (value, value)
    elif isinstance(value, torch.Tensor) and value.dim() == 1 and not value.is_floating_point():
        value = tuple(value.tolist())
    if not isinstance(value, (tuple, list)):
        if isinstance(value, float) and value == value and abs(value) < 1e18 and not example:
            hint = f"; pass a whole number, e.g. {name}={max(minimum, round(value))}"
        raise TypeError(f"{_where(who)}{name} must be an int or a pair of ints like (2, 2), got {value!r} "
                        f"of type {type(value).__name__}{hint}.")
    if len(value) != 2:
        raise ValueError(f"{_where(who)}{name} must be an int or a pair of ints (h, w), got {len(value)} "
                         f"numbers: {value!r}{hint}.")
    if not all(is_int(v) for v in value):
        raise TypeError(f"{_where(who)}{name} must be an int or a pair of ints like (2, 2), got {value!r}{hint}.")
    if min(value) < minimum:
        raise ValueError(f"{_where(who)}{name} must be >= {minimum} in both directions, got {value!r}.")
    return int(value[0]), int(value[1])


def number(value, name: str, low: float | None = None, high: float | None = None, who: str | None = None,
           high_open: bool = False, meaning: str = "") -> float:
    """A finite real number (not bool) in [low, high] (or [low, high) with high_open); returns a float."""
    what = f" ({meaning})" if meaning else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_where(who)}{name} must be a number{what}, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{_where(who)}{name} must be a finite number{what}, got {value!r}.")
    if (low is not None and value < low) or (high is not None and (value > high or (high_open and value == high))):
        interval = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{')' if high_open else ']'}"
        raise ValueError(f"{_where(who)}{name} must be in {interval}{what}, got {value!r}.")
    return value


def tensor(t, name: str, who: str | None = None, layout: str = "", dims: int | None = None,
           floating: bool = False) -> torch.Tensor:
    """Check that `t` is a torch.Tensor (with `dims` dimensions, floating point if asked); return it.

    layout: the expected shape in words, e.g. "(N, C, H, W)", used in the messages.
    """
    shape = f" of shape {layout}" if layout else ""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{_where(who)}{name} must be a torch.Tensor{shape}, got {type(t).__name__} — "
                        f"wrap it with torch.tensor(...).")
    if floating and not t.is_floating_point():
        raise TypeError(f"{who or 'this function'} needs a floating-point {name}, got {t.dtype} — call {name}.float() first.")
    if dims is not None and t.dim() != dims:
        hint = " — add the batch axis with x.unsqueeze(0)" if dims == 4 and t.dim() == 3 else ""
        raise ValueError(f"{_where(who)}{name} must have shape {layout or f'with {dims} dims'} ({dims} dims), "
                         f"got shape {tuple(t.shape)}{hint}.")
    return t


def not_empty(n: int, name: str, who: str | None = None, fix: str = "") -> None:
    """Raise ValueError if a batch holds no items (len 0)."""
    if n == 0:
        raise ValueError(f"{_where(who)}{name} holds no items (length 0){'; ' + fix if fix else ''}.")


def choice(value, name: str, options, who: str | None = None) -> str:
    """`value` checked to be a string among `options` (TypeError for a non-string, ValueError otherwise)."""
    listed = ", ".join(repr(o) for o in options)
    if not isinstance(value, str):
        raise TypeError(f"{_where(who)}{name} must be a string, one of {listed}, got {value!r} "
                        f"of type {type(value).__name__}.")
    if value not in options:
        raise ValueError(f"{_where(who)}{name} must be one of {listed}, got {value!r}.")
    return value


def flag(value, name: str, who: str | None = None) -> bool:
    """`value` checked to be a bool (Python or NumPy); returns a Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_where(who)}{name} must be True or False, got {value!r} of type {type(value).__name__}.")
    return bool(value)


def generator(value, name: str = "generator", who: str | None = None) -> torch.Generator:
    """`value` checked to be a torch.Generator."""
    if not isinstance(value, torch.Generator):
        raise TypeError(f"{_where(who)}{name} must be a torch.Generator, got {type(value).__name__} — "
                        f"create one with torch.Generator().manual_seed(0).")
    return value


def module(value, name: str = "model", who: str | None = None):
    """`value` checked to be a torch.nn.Module."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{_where(who)}{name} must be a torch.nn.Module, got {type(value).__name__} — wrap a list "
                        f"of layers in nn.Sequential(...).")
    return value


def sizes(value, name: str, length: int, minimum: int = 1, who: str | None = None, example: str = "") -> tuple:
    """A tuple or list of `length` ints, each >= minimum (a shape such as (C, H, W)) -> a tuple of Python ints.

    Not a tuple/list, or an entry that is not an int: TypeError; the wrong length or a value below minimum:
    ValueError. example: how to write it right.
    """
    hint = f"; {example}" if example else ""
    if not isinstance(value, (tuple, list)) or not all(is_int(v) for v in value):
        raise TypeError(f"{_where(who)}{name} must be a tuple of {length} ints, got {value!r}{hint}.")
    if len(value) != length or min(value) < minimum:
        raise ValueError(f"{_where(who)}{name} must be {length} ints >= {minimum}, got {value!r}{hint}.")
    return tuple(int(v) for v in value)


def labels(value, name: str = "labels", who: str | None = None) -> torch.Tensor:
    """`value` checked to be a 1-D integer tensor of class indices (N,), none negative."""
    if not isinstance(value, torch.Tensor) or value.is_floating_point() or value.is_complex() \
            or value.dtype == torch.bool:
        kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"{_where(who)}{name} must be a 1-D integer tensor (N,) of class indices, got {kind} — "
                        f"e.g. the second element of load_mnist(), or {name}.long().")
    if value.dim() != 1:
        raise ValueError(f"{_where(who)}{name} must be a 1-D integer tensor (N,) of class indices, got shape "
                         f"{tuple(value.shape)}.")
    if len(value) and int(value.min()) < 0:
        raise ValueError(f"{_where(who)}{name} holds class {int(value.min())}; class indices start at 0.")
    return value
