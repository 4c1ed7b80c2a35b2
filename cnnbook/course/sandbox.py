"""The grading sandbox: each submission's kernel runs inside bubblewrap, with resource limits.

Used by the grader (`cnnbook.course.grader`). `SandboxedKernelManager` is a Jupyter kernel
manager whose kernel process starts as `bwrap … setpriv … prlimit … python -m ipykernel_launcher`:

- **what it sees**: the Python installation, the environment's site-packages and the `cnnbook` package
  (read-only), `/usr`, a private `/tmp` (a size-capped tmpfs, bubblewrap's `--size`; HOME and the working
  folder `/tmp/work` live in it, so everything the kernel writes counts against its 256 MiB), the submission
  folder's data files read-only (linked into the working folder), and the kernel's own sockets (their
  folder is made read-only for the kernel once it has started). Not the
  course folder (source, release, other submissions, gradebook), not the assignments' instructor
  notebooks, not HOME, not the network (own network namespace; the kernel talks over Unix sockets);
- **limits** (`Limits`): memory of the kernel's whole process tree — the kernel may start threads but no
  other process (a seccomp filter, `seccomp_filter`, refuses fork, vfork, clone without CLONE_THREAD and
  memfd_create), so the tree is the kernel plus bubblewrap's two small processes, and the kernel's address
  space (`prlimit --as`) is the limit less `BWRAP_RESERVE_MB` for those: held by the host's kernel on every
  allocation, however fast, cgroups or not. A memory cgroup where one can be made, else a supervisor
  (`TreeMemoryLimit`), watches the tree as a second line. Also threads (RLIMIT_NPROC of the kernel's own uid),
  CPU seconds, size of any file written, open files, the tmpfs's size, a read-only /dev (no /dev/shm); its
  own PID namespace, so no process outlives the kernel;
- **the grader's side**: its sockets refuse one message over `MAX_MESSAGE_MB` as it arrives
  (`CappedKernelClient`), so a single huge print never reaches the grader's memory;
- run as root (a container), the kernel drops to an unprivileged uid of its own inside the sandbox, so
  the process limit counts its processes only and it has no capabilities.

Needs `bwrap` (Debian/Ubuntu package `bubblewrap`) and util-linux's `prlimit` and `setpriv`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Float, Integer, Type, Unicode

def sandbox_uid() -> int:
    """As root, each kernel runs as a fresh unprivileged uid of its own (no account needs to exist), so the
    process limit counts only that kernel's processes, whatever else runs on the machine."""
    return 200_000 + int.from_bytes(os.urandom(3), "big") % 800_000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel."""

    memory_mb: int = 3072  # the whole process tree (the kernel's address space is this less BWRAP_RESERVE_MB)
    processes: int = 24  # threads of the sandbox user, one process (an ipykernel with torch uses ~10)
    cpu_seconds: int = 900  # CPU time of the kernel process, all cells together
    file_mb: int = 64  # largest file the kernel may write
    tmp_mb: int = 256  # size of the private /tmp


BWRAP_RESERVE_MB = 32  # bubblewrap's own two processes in the tree (about 2 MiB resident each)

# ----------------------------------------------------------------------------- no process but the kernel
# A classic BPF program for seccomp (what `bwrap --seccomp FD` loads): refuse every way to make a process
# (fork, vfork, clone without CLONE_THREAD) and memfd_create (memory outside any address space); clone3
# answers ENOSYS, so the C library falls back to clone, whose flags a filter can read. Threads stay allowed.
_BPF_LD_ABS, _BPF_JEQ, _BPF_JGE, _BPF_JSET, _BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO, _KILL = 0x7FFF0000, 0x00050000, 0x80000000
_EPERM, _ENOSYS, _CLONE_THREAD = 1, 38, 0x00010000
_SYSCALLS = {  # machine -> (AUDIT_ARCH, {syscall: number})
    "x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435, "memfd_create": 319}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435, "memfd_create": 279}),
}


def seccomp_filter(machine: str | None = None) -> bytes:
    """The seccomp program that keeps the kernel a single process (see above), for this machine's
    architecture (x86_64 or aarch64); a call from another architecture's ABI kills the process."""
    import platform
    import struct

    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        raise RuntimeError(f"the grading sandbox knows the system calls of {sorted(_SYSCALLS)}, not {machine!r}: "
                           f"grade on one of those.")
    audit, number = _SYSCALLS[machine]

    def op(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)

    program = [op(_BPF_LD_ABS, 4), op(_BPF_JEQ, audit, 1, 0), op(_BPF_RET, _KILL), op(_BPF_LD_ABS, 0)]
    if machine == "x86_64":  # the x32 ABI's numbers (0x40000000 + n)
        program += [op(_BPF_JGE, 0x40000000, 0, 1), op(_BPF_RET, _ERRNO | _EPERM)]
    program += [op(_BPF_JEQ, number["clone3"], 0, 1), op(_BPF_RET, _ERRNO | _ENOSYS)]
    for name in ("fork", "vfork", "memfd_create"):
        if name in number:
            program += [op(_BPF_JEQ, number[name], 0, 1), op(_BPF_RET, _ERRNO | _EPERM)]
    program += [op(_BPF_JEQ, number["clone"], 0, 3), op(_BPF_LD_ABS, 16),  # clone's flags (low 32 bits)
                op(_BPF_JSET, _CLONE_THREAD, 1, 0), op(_BPF_RET, _ERRNO | _EPERM), op(_BPF_RET, _ALLOW)]
    return b"".join(program)


def missing_tools() -> list[str]:
    """The command-line tools the sandbox needs that are not installed."""
    tools = ["bwrap", "prlimit"] + (["setpriv"] if os.geteuid() == 0 else [])
    return [t for t in tools if shutil.which(t) is None]


def _threads_of(uid: int) -> int:
    """Processes + threads currently owned by `uid` (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    count += len(os.listdir(os.path.join(entry.path, "task")))
            except OSError:
                continue
    return count


def _readable_paths() -> list[Path]:
    """What the kernel must read: the Python installation, site-packages and cnnbook's own folder."""
    import site

    import cnnbook

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent, Path(cnnbook.__file__).resolve().parent}
    paths.update(Path(p) for p in site.getsitepackages())
    return sorted(p.resolve() for p in paths if p.is_dir())


def bwrap_command(command: list[str], private: Path, work: Path, limits: Limits, env: dict, uid: int,
                  seccomp_fd: int | None = None) -> list[str]:
    """`command`, wrapped: bubblewrap (namespaces, read-only binds, the seccomp program read from the open file
    descriptor `seccomp_fd`) + setpriv (as root) + prlimit."""
    root = os.geteuid() == 0
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--clearenv"]
    if not root:
        args += ["--unshare-user"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    args += ["--ro-bind", "/usr", "/usr"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
             "--perms", "0700" if not root else "0777", "--dir", "/tmp/home"]
    created = {Path("/"), Path("/usr"), Path("/tmp")}
    binds = [(p, "--ro-bind") for p in _readable_paths()] + [(private / "ipc", "--bind")]
    for path, how in binds:
        for parent in reversed(path.parents):  # bwrap would create missing parents as 0700 (unreadable)
            if parent not in created and not str(parent).startswith("/usr"):
                args += ["--perms", "0755", "--dir", str(parent)]
                created.add(parent)
        args += [how, str(path), str(path)]
    # the data files: read-only, linked from the working folder, which is on the capped tmpfs
    args += ["--ro-bind", str(work), "/tmp/.data", "--perms", "1777", "--dir", "/tmp/work"]
    for entry in sorted(work.iterdir()):
        args += ["--symlink", f"/tmp/.data/{entry.name}", f"/tmp/work/{entry.name}"]
    args += ["--chdir", "/tmp/work"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    if root:
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    processes = limits.processes + (0 if root else _threads_of(os.getuid()))
    args += ["prlimit", f"--as={(limits.memory_mb - BWRAP_RESERVE_MB) * 2**20}", f"--nproc={processes}", f"--cpu={limits.cpu_seconds}",
             f"--fsize={limits.file_mb * 2**20}", "--nofile=256", "--core=0", "--"]
    return args + command


class TreeMemoryLimit:
    """A second line around the kernel's process tree: within `limit` bytes of memory, whatever it holds.

    The first line is `bwrap_command`'s: the kernel cannot fork (seccomp) and its address space is capped, so
    the tree cannot pass the limit. Where the host lets the grader create a memory cgroup (cgroup v1
    `memory`, or v2 with the memory controller; CI as root), the tree also runs in one with `limit` (swap
    included). Elsewhere a supervisor thread sums the resident memory of the tree every 20 ms and kills the
    whole tree beyond `limit` (a polling watch alone would let a fast allocation overshoot: it is a
    belt, not the limit)."""

    def __init__(self, pid: int, limit: int, poll: float = 0.02):
        self.pid, self.limit, self.poll = pid, limit, poll
        self.cgroup: Path | None = None
        self.killed = False
        self._stop = threading.Event()
        self._thread = None
        try:
            self.cgroup = self._make_cgroup()
        except OSError:
            self.cgroup = None
        if self.cgroup is None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name=f"cnnbook-memory-{pid}")
            self._thread.start()

    @property
    def method(self) -> str:
        return f"cgroup {self.cgroup}" if self.cgroup else "supervisor"

    def _make_cgroup(self) -> Path | None:
        name = f"cnnbook-kernel-{uuid.uuid4().hex[:12]}"
        v1 = Path("/sys/fs/cgroup/memory")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "memory.limit_in_bytes").is_file() and os.access(v1, os.W_OK):
            group = v1 / name
            group.mkdir()
            (group / "memory.limit_in_bytes").write_text(str(self.limit))
            if (group / "memory.memsw.limit_in_bytes").is_file():
                (group / "memory.memsw.limit_in_bytes").write_text(str(self.limit))
        elif "memory" in (v2 / "cgroup.subtree_control").read_text().split() if (
                v2 / "cgroup.subtree_control").is_file() else False:
            group = v2 / name
            group.mkdir()
            (group / "memory.max").write_text(str(self.limit))
            if (group / "memory.swap.max").is_file():
                (group / "memory.swap.max").write_text("0")
        else:
            return None
        try:  # bubblewrap may already have forked its sandboxed child: move the whole (young) tree
            for _ in range(3):
                for pid in self._tree():
                    try:
                        (group / "cgroup.procs").write_text(str(pid))
                    except ProcessLookupError:
                        continue
        except OSError:
            group.rmdir()
            raise
        return group

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as f:
                        ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            tree = self._tree()
            if len(tree) == 1 and not os.path.exists(f"/proc/{self.pid}"):
                return
            if sum(self._rss(pid) for pid in tree) > self.limit:
                self.killed = True
                for pid in reversed(tree):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        continue
                return

    def close(self) -> None:
        self._stop.set()
        if self.cgroup is not None:
            for _ in range(50):  # the tree is gone a moment after the kernel is
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            self.cgroup = None


MAX_MESSAGE_MB = 64  # one message from the kernel; a larger one never reaches the grader's memory


class CappedKernelClient(AsyncKernelClient):
    """The grader's client of a sandboxed kernel: its sockets refuse a message over `MAX_MESSAGE_MB` as it
    arrives (ZeroMQ's MAXMSGSIZE), so one huge message cannot fill the grader's memory before the output cap
    counts it; the kernel that sends one loses its connection, and the cells after it time out."""

    def _create_connected_socket(self, channel, identity=None):
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_MB * 2**20)  # for the sockets made from now on
        return super()._create_connected_socket(channel, identity)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside `bwrap_command`'s sandbox (see the module docstring).

    `mode` is put in the kernel's environment as CNNBOOK_GRADING ("student" or "reference", see
    `cnnbook.course.student_checks`). The kernel's working folder is a private copy of the data files next to the
    notebook (not the notebooks themselves).
    """

    mode = Unicode("student", help="CNNBOOK_GRADING in the kernel: 'student' or 'reference'").tag(config=True)
    client_class = DottedObjectName("cnnbook.course.sandbox.CappedKernelClient")
    client_factory = Type(CappedKernelClient, klass=AsyncKernelClient)
    memory_mb = Integer(Limits.memory_mb, help="memory of the kernel's whole process tree, MiB").tag(config=True)
    processes = Integer(Limits.processes, help="threads of the kernel (one process: no fork)").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU seconds of the kernel, all cells").tag(config=True)
    file_mb = Integer(Limits.file_mb, help="largest file the kernel may write, MiB").tag(config=True)
    tmp_mb = Integer(Limits.tmp_mb, help="size of the kernel's private /tmp, MiB").tag(config=True)
    startup_seconds = Float(120.0, help="seconds to wait for the kernel to start").tag(config=True)

    _private: str | None = None
    _uid: int = -1
    _memory: TreeMemoryLimit | None = None

    def limits(self) -> Limits:
        return Limits(self.memory_mb, self.processes, self.cpu_seconds, self.file_mb, self.tmp_mb)

    async def _async_pre_start_kernel(self, **kw):
        missing = missing_tools()
        if missing:
            raise RuntimeError(f"grading needs {', '.join(missing)} to run submissions in a sandbox — install them "
                               f"(Debian/Ubuntu: apt-get install bubblewrap util-linux).")
        self._private = tempfile.mkdtemp(prefix="cnnbook-kernel-")
        private = Path(self._private)
        (private / "ipc").mkdir()
        self._uid = sandbox_uid()
        if os.geteuid() == 0:
            os.chown(private / "ipc", self._uid, self._uid)
        self.transport = "ipc"
        self.connection_file = str(private / "ipc" / "kernel.json")
        self.ip = str(private / "ipc" / "kernel-ipc")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        private = Path(self._private)
        work = private / "work"
        work.mkdir()
        cwd = Path(kw.get("cwd") or private)
        budget = self.file_mb * 2**20  # data files next to the notebook (never notebooks, never folders)
        for entry in sorted(cwd.iterdir()) if cwd != private else []:
            if entry.is_file() and not entry.is_symlink() and entry.suffix != ".ipynb" \
                    and not entry.name.startswith(".") and entry.stat().st_size <= budget:
                budget -= entry.stat().st_size
                shutil.copy(entry, work / entry.name)
        if os.geteuid() == 0:  # the kernel runs as self._uid: give it its connection file (it rewrites it)
            os.chown(self.connection_file, self._uid, self._uid)
        # A fresh environment (bwrap --clearenv): nothing of the grader's leaks in, CNNBOOK_SEED_OFFSET included
        # (grading never shifts seeds: the reference and every submission run on the notebook's own seeds).
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp/home", "LANG": "C.UTF-8",
               "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/home/.matplotlib",
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MALLOC_ARENA_MAX": "2",  # each thread's malloc arena would reserve 64 MiB of the address space
               "CNNBOOK_GRADING": self.mode, "CNNBOOK_CACHE": "/tmp/home/cnnbook-cache"}
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
                   "--HistoryManager.hist_file=:memory:", "--IPKernelApp.ip=" + self.ip, "--IPKernelApp.transport=ipc"]
        # the kernel's own stdout/stderr (not what cells print, which travels as messages) go nowhere, or to
        # the file CNNBOOK_KERNEL_LOG names (for debugging a kernel that dies at start)
        with open(os.environ.get("CNNBOOK_KERNEL_LOG") or os.devnull, "ab") as log:
            kw = dict(kw, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd=str(private),
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
            seccomp = private / "seccomp.bpf"  # given to bwrap as file descriptor 9 (the shell opens it, then execs)
            seccomp.write_bytes(seccomp_filter())
            command = ["/bin/sh", "-c", 'exec "$@" 9<"$0"', str(seccomp)] + bwrap_command(
                command, private, work, self.limits(), env, self._uid, seccomp_fd=9)
            launched = await super()._async_launch_kernel(command, **kw)
        process = getattr(self.provisioner, "process", None)
        if process is not None:  # before the kernel's Python has even started: its whole tree is held
            self._memory = TreeMemoryLimit(process.pid, self.memory_mb * 2**20)
        return launched

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message: a signal to the launcher would not reach the kernel in its own session."""
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel  # what nbclient calls (the base class binds its own)

    def lock_ipc(self) -> None:
        """Once the kernel has made its sockets: their folder and connection file become the grader's, read-only
        for the kernel, so it cannot write files outside its capped /tmp (as root; a no-op otherwise)."""
        if self._private and os.geteuid() == 0:
            ipc = Path(self._private) / "ipc"
            for path in [ipc, *ipc.iterdir()]:
                if not path.is_socket():
                    os.chown(path, 0, 0)
            os.chmod(ipc, 0o755)
            os.chmod(self.connection_file, 0o644)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if getattr(self, "_memory", None) is not None and not restart:
            self._memory.close()
            self._memory = None
        if self._private and not restart:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
