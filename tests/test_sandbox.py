"""The sandbox's limit on the memory of a kernel's whole process tree (`cnnbook.course.sandbox.TreeMemoryLimit`):
a process that forks children which each allocate quickly cannot hold more than the limit together — through
a memory cgroup where the host allows one, and through the supervisor elsewhere. Small numbers (a 256 MiB
limit, three children of 128 MiB) keep it quick; the end-to-end probes run in tests/test_grading_attacks.py."""

import subprocess
import sys
import time

import pytest

from cnnbook.course.sandbox import Limits, TreeMemoryLimit, bwrap_command

LIMIT = 256 * 2**20
# three children, each touching 128 MiB at once, then waiting; the parent reports how each ended
FORK_AND_ALLOCATE = (
    "import subprocess, sys\n"
    "code = \"import time; b = b'x' * (128 * 2**20); time.sleep(3)\"\n"
    "kids = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(3)]\n"
    "print([k.wait() for k in kids], flush=True)\n"
)


def run_under_limit(force_supervisor: bool, monkeypatch):
    if force_supervisor:
        monkeypatch.setattr(TreeMemoryLimit, "_make_cgroup", lambda self: None)
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", FORK_AND_ALLOCATE], stdout=subprocess.PIPE, text=True)
    guard = TreeMemoryLimit(process.pid, LIMIT)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        peak = None
        if guard.cgroup is not None and (guard.cgroup / "memory.max_usage_in_bytes").is_file():
            peak = int((guard.cgroup / "memory.max_usage_in_bytes").read_text())
        guard.close()
    return guard, process.returncode, out, peak, time.monotonic() - started


def test_the_supervisor_kills_a_tree_that_allocates_past_the_limit(monkeypatch):
    guard, code, out, _, seconds = run_under_limit(True, monkeypatch)
    assert guard.method == "supervisor" and guard.killed
    assert code == -9 and seconds < 30, (code, out)


def test_a_memory_cgroup_holds_the_tree_where_the_host_allows_one(monkeypatch):
    probe = TreeMemoryLimit(subprocess.Popen(["sleep", "0.1"]).pid, LIMIT)
    available = probe.cgroup is not None
    probe.close()
    if not available:
        pytest.skip("no writable memory cgroup here: the supervisor holds the limit instead")
    guard, code, out, peak, _ = run_under_limit(False, monkeypatch)
    ends = eval(out.strip()) if out.strip() else [-9]
    assert -9 in ends or code == -9, (code, out)
    assert peak is None or peak <= LIMIT


def test_the_kernel_command_caps_each_process_and_the_scratch_space(tmp_path):
    (tmp_path / "ipc").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "data.csv").write_text("1,2\n")
    args = bwrap_command(["python"], tmp_path, tmp_path / "work", Limits(), {"A": "1"}, 250_000)
    assert f"--as={3072 * 2**20}" in args and any(a.startswith("--nproc=") for a in args)
    assert args[args.index("--size") + 1] == str(256 * 2**20) and args[args.index("--size") + 2:][:2] == ["--tmpfs", "/tmp"]
    assert ["--ro-bind", str(tmp_path / "work"), "/tmp/.data"] == args[args.index("/tmp/.data") - 2:args.index("/tmp/.data") + 1]
    assert "/tmp/work/data.csv" in args and "--clearenv" in args
    assert not any(a == "--bind" and b == str(tmp_path / "work") for a, b in zip(args, args[1:]))
