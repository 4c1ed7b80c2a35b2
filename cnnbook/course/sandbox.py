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
- **limits** (`Limits`): address space of each process and memory of the whole process tree
  (`TreeMemoryLimit`: a memory cgroup where one can be made, else a supervisor), processes + threads,
  CPU seconds, size of any file written, open files, the tmpfs's size; its own PID namespace, so no
  process outlives the kernel;
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

from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Integer, Unicode

def sandbox_uid() -> int:
    """As root, each kernel runs as a fresh unprivileged uid of its own (no account needs to exist), so the
    process limit counts only that kernel's processes, whatever else runs on the machine."""
    return 200_000 + int.from_bytes(os.urandom(3), "big") % 800_000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel."""

    memory_mb: int = 3072  # address space of each process (torch alone maps about 0.7 GiB), and of the whole tree
    processes: int = 24  # processes + threads of the sandbox user (an ipykernel with torch uses ~10)
    cpu_seconds: int = 900  # CPU time of the kernel process, all cells together
    file_mb: int = 64  # largest file the kernel may write
    tmp_mb: int = 256  # size of the private /tmp


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


def bwrap_command(command: list[str], private: Path, work: Path, limits: Limits, env: dict, uid: int) -> list[str]:
    """`command`, wrapped: bubblewrap (namespaces, read-only binds) + setpriv (as root) + prlimit."""
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
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
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
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    if root:
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    processes = limits.processes + (0 if root else _threads_of(os.getuid()))
    args += ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--nproc={processes}", f"--cpu={limits.cpu_seconds}",
             f"--fsize={limits.file_mb * 2**20}", "--nofile=256", "--core=0", "--"]
    return args + command


class TreeMemoryLimit:
    """The kernel's whole process tree within `limit` bytes of memory, whatever it forks.

    Where the host lets the grader create a memory cgroup (cgroup v1 `memory`, or v2 with the memory
    controller; CI as root), the kernel's tree runs in one with `limit` (swap included): the host's kernel
    enforces it on every allocation, however fast. Elsewhere a supervisor thread sums the resident memory of
    the tree every 20 ms and kills the whole tree beyond `limit`; with each process's address space capped at
    `limit` as well (prlimit), no single fast allocation can overshoot it."""

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


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside `bwrap_command`'s sandbox (see the module docstring).

    `mode` is put in the kernel's environment as CNNBOOK_GRADING ("student" or "reference", see
    `cnnbook.course.student_checks`). The kernel's working folder is a private copy of the data files next to the
    notebook (not the notebooks themselves).
    """

    mode = Unicode("student", help="CNNBOOK_GRADING in the kernel: 'student' or 'reference'").tag(config=True)
    memory_mb = Integer(Limits.memory_mb, help="address-space limit per process, MiB").tag(config=True)
    processes = Integer(Limits.processes, help="processes + threads the kernel may run").tag(config=True)
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
               "CNNBOOK_GRADING": self.mode, "CNNBOOK_CACHE": "/tmp/home/cnnbook-cache"}
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
                   "--HistoryManager.hist_file=:memory:", "--IPKernelApp.ip=" + self.ip, "--IPKernelApp.transport=ipc"]
        # the kernel's own stdout/stderr (not what cells print, which travels as messages) go nowhere, or to
        # the file CNNBOOK_KERNEL_LOG names (for debugging a kernel that dies at start)
        with open(os.environ.get("CNNBOOK_KERNEL_LOG") or os.devnull, "ab") as log:
            kw = dict(kw, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd=str(private),
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
            command = bwrap_command(command, private, work, self.limits(), env, self._uid)
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
