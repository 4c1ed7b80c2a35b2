"""Data parallelism: one network trained by several processes, each on its share of every batch.

Used by the architectures chapter (`notebooks/07_architectures`, section "Training on several processes").
Each process holds a replica of the network, computes the gradient on its part of the global batch, and
an all-reduce averages the gradients, so every replica takes the same step and stays identical. The chapter
writes that out by hand, then runs torch's `DistributedDataParallel` in processes started by `torchrun`.
This module holds the pieces around it:

- `launch(script, nproc)` starts `torchrun --standalone --nproc_per_node nproc script` with the Python that
  runs the caller (so in the notebook's environment), on the loopback interface only, and raises
  `LaunchError` with the workers' error output when a worker fails or the run takes too long;
- `max_abs_difference(a, b)` compares two networks (or state dicts) entry by entry: the largest |a - b|;
- `batchnorm_to_groupnorm(model, groups)` swaps every BatchNorm2d for a GroupNorm, which normalises each
  example on its own and so gives the same result however the batch is split over processes.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn as nn

from . import _validate

STDERR_LINES = 40          # how much of a failed run's error output a LaunchError quotes


class LaunchError(RuntimeError):
    """A `launch` whose workers failed or ran out of time. `returncode` (None after a timeout), `stdout` and
    `stderr` hold everything torchrun and the workers printed."""

    def __init__(self, message: str, returncode: int | None, stdout: str, stderr: str):
        super().__init__(message)
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def loopback_interface() -> str:
    """The name of the loopback network interface ('lo' on Linux, 'lo0' on macOS).

    `launch` gives it to gloo as GLOO_SOCKET_IFNAME, so that processes on one machine talk over 127.0.0.1
    and never over a network card (gloo otherwise picks the interface that the host name resolves to).
    """
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):
        names = []
    for name in ("lo", "lo0"):
        if name in names:
            return name
    raise RuntimeError(f"loopback_interface: found no loopback interface named 'lo' or 'lo0' among {names}; "
                       f"set the environment variable GLOO_SOCKET_IFNAME to your loopback interface's name "
                       f"before calling launch.")


def launch(script, nproc: int = 2, args: Sequence[str] = (), timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run `torchrun --standalone --nproc_per_node nproc script *args` and wait for it.

    torchrun is started as `sys.executable -m torch.distributed.run`, so the workers use the caller's Python
    and packages. `--standalone` makes torchrun start its own rendezvous on a free port of localhost, so
    several launches can run side by side (e.g. two notebooks under pytest-xdist). The workers inherit the
    environment plus OMP_NUM_THREADS=1 and GLOO_SOCKET_IFNAME=<the loopback interface>, unless the caller
    set those already: everything stays on 127.0.0.1.

    script: path of a Python file; args: strings passed to it. Returns the finished process (its `stdout`
    holds what the workers printed). Raises LaunchError, quoting the last lines of the error output, if
    torchrun exits with an error or does not finish within `timeout` seconds (it is then stopped, and
    stops its workers).
    """
    who = "launch"
    if not isinstance(script, (str, os.PathLike)):
        raise TypeError(f"{who}: script must be the path of a Python file (str or pathlib.Path), got "
                        f"{type(script).__name__}.")
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"{who}: no file {script}; write the training script first, e.g. "
                                f"Path(folder, 'train.py').write_text(code), and pass its path.")
    if script.suffix != ".py":
        raise ValueError(f"{who}: torchrun runs Python files, got {script.name!r}; give the script a .py name.")
    nproc = _validate.positive_int(nproc, "nproc", "how many worker processes, e.g. nproc=2", who)
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence) \
            or not all(isinstance(a, (str, os.PathLike)) for a in args):
        raise TypeError(f"{who}: args must be a list of strings passed to the script, e.g. args=[str(folder)], "
                        f"got {args!r}.")
    timeout = _validate.number(timeout, "timeout", low=0.0, who=who, meaning="seconds to wait, e.g. timeout=120")
    if timeout == 0:
        raise ValueError(f"{who}: timeout must be > 0 seconds; torch alone takes seconds to import in each "
                         f"worker, so allow e.g. timeout=120.")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if "GLOO_SOCKET_IFNAME" not in env:
        env["GLOO_SOCKET_IFNAME"] = loopback_interface()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               str(script), *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        raise LaunchError(f"{who}: {script.name} on {nproc} processes did not finish within {timeout:g} s and "
                          f"was stopped; a worker may wait for one that died or never started. The last "
                          f"lines of its error output:\n{_tail(stderr)}\nRun it with a larger timeout, or "
                          f"look for the hanging collective call.", None, stdout, stderr) from None
    except BaseException:                       # e.g. Ctrl-C in the notebook: leave no workers behind
        _stop(process)
        raise
    if process.returncode != 0:
        raise LaunchError(f"{who}: torchrun exited with code {process.returncode} running {script.name} on "
                          f"{nproc} processes. {_cause(stderr)}The last lines of its error output:\n"
                          f"{_tail(stderr)}\nFix the error the worker reports (its traceback is the cause).",
                          process.returncode, stdout, stderr)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    """Stop torchrun after a timeout: SIGTERM first, which torchrun passes on to its workers (they run in
    sessions of their own, so killing torchrun outright would leave them behind), then SIGKILL."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _cause(text: str) -> str:
    """The first traceback a worker printed, quoted whole: when one worker fails, torchrun stops the others and
    prints its own report after it, which can push the worker's exception out of the last lines."""
    lines = (text or "").splitlines()
    for start, line in enumerate(lines):
        prefix = re.match(r"(\[rank\d+\]: )?", line).group(0)  # torchrun prefixes each worker's lines
        if line[len(prefix):].strip() != "Traceback (most recent call last):":
            continue
        end = start + 1
        while end < len(lines) and lines[end].startswith(prefix) and \
                lines[end][len(prefix):].startswith((" ", "\t")):
            end += 1
        block = lines[start:end + 1]
        if not any("torch/distributed/" in b for b in block):  # torchrun's own traceback, not the worker's
            return "The worker's error:\n" + "\n".join(block) + "\n"
    return ""


def _tail(text: str) -> str:
    lines = (text or "").rstrip().splitlines()
    return "\n".join(lines[-STDERR_LINES:]) if lines else "(nothing)"


def max_abs_difference(a, b) -> float:
    """The largest |a - b| over all entries of two state dicts (or two networks' `state_dict()`).

    Both must have the same names and shapes; every entry (parameters and buffers, integer counters
    included) is compared in float64. 0.0 means equal bit for bit.
    """
    a, b = _state(a, "a"), _state(b, "b")
    missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if missing or extra:
        raise ValueError(f"max_abs_difference: the two networks have different entries (only in a: {missing}, "
                         f"only in b: {extra}); compare networks of the same architecture.")
    if not a:
        raise ValueError("max_abs_difference: the state dicts are empty; pass networks with parameters.")
    worst = 0.0
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            raise ValueError(f"max_abs_difference: {name} has shape {tuple(x.shape)} in a but {tuple(y.shape)} "
                             f"in b; compare networks of the same architecture and width.")
        if x.numel():
            difference = (x.detach().cpu().double() - y.detach().cpu().double()).abs().max().item()
            worst = max(worst, difference)
    return worst


def _state(value, name: str) -> Mapping[str, torch.Tensor]:
    if isinstance(value, nn.Module):
        return value.state_dict()
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                          for k, v in value.items()):
        return value
    raise TypeError(f"max_abs_difference: {name} must be an nn.Module or a state dict (names -> tensors, "
                    f"as from model.state_dict() or torch.load), got {type(value).__name__}.")


def batchnorm_to_groupnorm(model: nn.Module, groups: int = 2) -> nn.Module:
    """A copy of `model` with every `BatchNorm2d(C)` replaced by `GroupNorm(groups, C)` (same eps, affine).

    GroupNorm normalises each example over groups of C / groups channels, with no statistics across the
    batch, so one process with the full batch and P processes with a part each compute the same thing.
    The copy's other layers keep their weights; the new layers start at weight 1 and bias 0, as BatchNorm.
    """
    model = _validate.module(model, "model", "batchnorm_to_groupnorm")
    groups = _validate.positive_int(groups, "groups", "channel groups per layer, e.g. groups=2",
                                    "batchnorm_to_groupnorm")
    model = copy.deepcopy(model)
    found = [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if not found:
        raise ValueError("batchnorm_to_groupnorm: the model has no BatchNorm2d layer to replace; build it with "
                         "batch normalisation (e.g. tiny_cnn(batch_norm=True)).")
    for name in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        bn = getattr(parent, child) if name else model
        if bn.num_features % groups:
            raise ValueError(f"batchnorm_to_groupnorm: layer {name} has {bn.num_features} channels, which "
                             f"{groups} groups do not divide; pick groups among the divisors of every layer's "
                             f"channel count (e.g. groups=1 or 2).")
        norm = nn.GroupNorm(groups, bn.num_features, eps=bn.eps, affine=bn.affine)
        like = [t for t in (*bn.parameters(), *bn.buffers()) if t.is_floating_point()]
        if like:                                   # the dtype and device the BatchNorm had (e.g. float64)
            norm = norm.to(device=like[0].device, dtype=like[0].dtype)
        if not name:                               # the model is itself one BatchNorm2d
            return norm
        setattr(parent, child, norm)
    return model
