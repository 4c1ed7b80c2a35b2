"""The sandbox's limit on the memory of a kernel's whole process tree: the command the kernel starts with
(`bwrap_command` with `seccomp_filter`) refuses every new process and caps the address space, so a fast
allocation on four threads at once keeps the whole tree within the limit with no cgroup and no supervisor;
the second line (`TreeMemoryLimit`) stops a tree that forks children which each allocate quickly — through a
memory cgroup where the host allows one, and through the supervisor elsewhere. Small numbers (limits of 256
and 512 MiB) keep it quick; the end-to-end probes run in tests/test_grading_attacks.py."""

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnbook.course.sandbox import (BWRAP_RESERVE_MB, Limits, TreeMemoryLimit, bwrap_command, missing_tools,
                                    sandbox_uid, seccomp_filter)

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
    args = bwrap_command(["python"], tmp_path, tmp_path / "work", Limits(), {"A": "1"}, 250_000, seccomp_fd=9)
    assert f"--as={(3072 - BWRAP_RESERVE_MB) * 2**20}" in args and any(a.startswith("--nproc=") for a in args)
    assert args[args.index("--seccomp") + 1] == "9" and args[args.index("--remount-ro") + 1] == "/dev"
    assert args[args.index("--size") + 1] == str(256 * 2**20) and args[args.index("--size") + 2:][:2] == ["--tmpfs", "/tmp"]
    assert ["--ro-bind", str(tmp_path / "work"), "/tmp/.data"] == args[args.index("/tmp/.data") - 2:args.index("/tmp/.data") + 1]
    assert "/tmp/work/data.csv" in args and "--clearenv" in args
    assert not any(a == "--bind" and b == str(tmp_path / "work") for a, b in zip(args, args[1:]))


# four threads that each take 32 MiB blocks (written, so resident) as fast as they can, after trying to fork
ALLOCATE_FAST = (
    "import subprocess, sys, threading\n"
    "try:\n    subprocess.Popen([sys.executable, '-c', 'pass'])\n    print('fork allowed')\n"
    "except OSError as e:\n    print('fork refused', e.errno)\n"
    "hogs, refused = [], []\n"
    "def grab():\n    try:\n        while True:\n            hogs.append(b'x' * (32 * 2**20))\n"
    "    except MemoryError:\n        refused.append(1)\n"
    "threads = [threading.Thread(target=grab) for _ in range(4)]\n"
    "[t.start() for t in threads]\n[t.join() for t in threads]\n"
    "print('held', 32 * len(hogs), 'MiB; refusals', len(refused), flush=True)\n"
    "import time\ntime.sleep(1)\n"
)


def _tree(pid: int) -> list[int]:
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return [pid] + [p for c in children for p in _tree(c)]


def _peak_resident(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


@pytest.mark.skipif(bool(missing_tools()), reason=f"sandbox tools missing: {missing_tools()} (apt-get install bubblewrap)")
def test_the_kernel_cannot_fork_and_a_fast_allocation_keeps_its_whole_tree_within_the_limit_without_cgroups(tmp_path):
    """No cgroup, no supervisor: only the command the kernel starts with. The tree's peak resident memory (the
    kernel's, measured by the host's kernel as VmHWM, plus bubblewrap's) stays within the limit."""
    limit_mb = 512
    (tmp_path / "ipc").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "filter.bpf").write_bytes(seccomp_filter())
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp", "OMP_NUM_THREADS": "1"}
    command = ["/bin/sh", "-c", 'exec "$@" 9<"$0"', str(tmp_path / "filter.bpf")] + bwrap_command(
        [sys.executable, "-c", ALLOCATE_FAST], tmp_path, tmp_path / "work", Limits(memory_mb=limit_mb), env,
        sandbox_uid(), seccomp_fd=9)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        forked, held = process.stdout.readline(), process.stdout.readline()
        peaks = {pid: _peak_resident(pid) for pid in _tree(process.pid)}  # while it sleeps, after the allocations
    finally:
        process.wait(timeout=60)
    assert forked.strip() == "fork refused 1", forked
    assert held.startswith("held ") and held.strip().endswith("refusals 4"), held  # every thread hit the cap
    assert int(held.split()[1]) >= limit_mb // 2, held  # it did allocate, quickly, up to the cap
    assert len(peaks) <= 3 and sum(peaks.values()) <= limit_mb * 2**20, {p: v / 2**20 for p, v in peaks.items()}


def test_the_seccomp_program_is_well_formed_for_both_architectures():
    for machine in ("x86_64", "aarch64"):
        program = seccomp_filter(machine)
        assert len(program) % 8 == 0 and program[-8:] == struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000)  # RET ALLOW
    with pytest.raises(RuntimeError, match="grade on one of those"):
        seccomp_filter("sparc")


def test_the_graders_client_refuses_a_huge_message_before_it_reaches_memory(tmp_path):
    """One 65 MiB message (a single print of a huge string) on the kernel's output channel: the grader's socket
    (`CappedKernelClient`) carries ZeroMQ's MAXMSGSIZE, and a socket with it drops that message as it arrives,
    while a small one before it is received."""
    import zmq

    from cnnbook.course.sandbox import MAX_MESSAGE_MB, CappedKernelClient, SandboxedKernelManager

    assert SandboxedKernelManager().client_factory is CappedKernelClient
    client = CappedKernelClient(transport="ipc", ip=f"{tmp_path}/grader", iopub_port=1)
    iopub = client.connect_iopub()
    try:
        cap = iopub.getsockopt(zmq.MAXMSGSIZE)
    finally:
        iopub.close(linger=0)
        client.context.destroy(linger=0)
    assert cap == MAX_MESSAGE_MB * 2**20
    context = zmq.Context()  # what the option does, with plain sockets (no event loop)
    try:
        kernel, grader = context.socket(zmq.PUB), context.socket(zmq.SUB)
        kernel.bind(f"ipc://{tmp_path}/kernel")
        grader.setsockopt(zmq.MAXMSGSIZE, cap)
        grader.setsockopt(zmq.SUBSCRIBE, b"")
        grader.connect(f"ipc://{tmp_path}/kernel")
        received, deadline = [], time.monotonic() + 10
        while not received and time.monotonic() < deadline:  # until the subscription has arrived
            kernel.send(b"small")
            if grader.poll(100):
                received.append(len(grader.recv()))
        kernel.send(b"x" * (65 * 2**20))
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            if grader.poll(100):
                received.append(len(grader.recv()))
    finally:
        context.destroy(linger=0)
    assert received and all(n == 5 for n in received), received  # small ones only, never the 65 MiB one
