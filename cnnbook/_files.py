"""Files on disk and over the network, written so that nothing half-done is ever left behind (private).

Used by `cnnbook.data`: `atomic_write` (temp file in the same folder, the user's umask, one rename),
`md5`, and `fetch`, a download bounded in size and time whose partial file is removed on every exit path,
signals included.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

MAX_BYTES = 64 * 2**20  # default cap of `fetch`


def _umask() -> int:
    """The process's umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass  # no /proc (macOS, Windows): set and restore it below
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write, verify=None) -> None:
    """Write a file so that no reader ever sees half of it, whoever else writes it at the same time.

    write(f) fills a temp file in the same folder; it is then given the permissions a plain open() would
    (0666 minus the umask, so a class can share one cache) and renamed over `path` in one step. The temp
    file is removed on every exit path. verify(temp_path), if given, may raise to reject the file before
    it replaces `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        if verify is not None:
            verify(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def md5(path: Path) -> str:
    """MD5 checksum of a file, as 32 hex digits (read in 1 MiB blocks)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM/SIGHUP during a download, so that cleanup code runs."""


def _raise_terminated(signum, frame):
    raise _Terminated(signum)


def fetch(url: str, path: Path, expected_md5: str, timeout: float, max_bytes: int = MAX_BYTES,
           deadline: float = 600.0) -> None:
    """Download `url` into a temp file beside `path`, check its MD5, then rename it into place.

    Bounded: at most `max_bytes` are accepted (a larger Content-Length or body is refused), each read waits
    at most `timeout` seconds, and the whole download at most `deadline` seconds (a server that trickles
    one byte at a time cannot keep it alive). The `.part` file is removed on every exit path: errors,
    Ctrl-C, and SIGTERM/SIGHUP (which then end the process as they would have, after the cleanup).
    """
    import http.client
    import urllib.request

    def body(f):
        stop = time.monotonic() + deadline
        with urllib.request.urlopen(url, timeout=min(timeout, deadline)) as response:
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) > max_bytes:
                raise ValueError(f"{url} announces {int(announced):,} bytes, more than the expected {max_bytes:,}")
            received = 0
            while True:
                if time.monotonic() > stop:
                    raise TimeoutError(f"{url}: not finished after the overall deadline of {deadline:g} s "
                                       f"({received:,} bytes received); the server is too slow")
                try:
                    block = response.read1(1 << 16)  # whatever has arrived, up to 64 KiB
                except http.client.IncompleteRead as err:  # the server closed before Content-Length
                    raise ValueError(f"{url} ended after {received + len(err.partial):,} bytes of the "
                                     f"{announced} announced (truncated download)") from None
                if not block:
                    break
                received += len(block)
                if received > max_bytes:
                    raise ValueError(f"{url} sent more than the expected {max_bytes:,} bytes; refusing the rest")
                f.write(block)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:  # signals can only be handled in the main thread
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                previous[sig] = signal.signal(sig, _raise_terminated)
    def check(tmp: Path):
        got = md5(tmp)
        if got != expected_md5:
            raise ValueError(f"{url} has MD5 {got}, expected {expected_md5} (corrupt or truncated download)")

    try:
        atomic_write(path, body, verify=check)  # the .part temp file is removed on every exit path
    except _Terminated as stop:
        signum = stop.args[0]
        signal.signal(signum, previous.pop(signum, signal.SIG_DFL))
        os.kill(os.getpid(), signum)  # the cleanup is done: now let the signal do what it would have done
        raise RuntimeError(f"download of {url} stopped by signal {signum}") from None  # (if that returned)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
