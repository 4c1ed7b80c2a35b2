"""Full-MNIST downloads are bounded: tested against a local server (127.0.0.1 only) that misbehaves.

The server is threaded, serves each misbehaviour for a bounded time and stops with the test: an oversized
body (announced or not), a trickle of one byte at a time, a truncated file, and a slow file during which
the downloading process is sent SIGTERM. Every case must end with a clear error and no `.part` file.
"""

import hashlib
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cnnbook import data

NAME = "t10k-labels-idx1-ubyte.gz"
BLOB = bytes(range(256)) * 16  # 4 096 bytes: the "file" the mirrors should deliver
MD5 = {NAME: hashlib.md5(BLOB).hexdigest()}
SIZES = {NAME: len(BLOB)}


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """GET /<mode>/<name>: good, big (no length, endless), announced-big, trickle, cut, slow."""

    protocol_version = "HTTP/1.0"
    timeout = 5  # a client that stops reading cannot hold a thread longer than this

    def log_message(self, *args):
        pass

    def do_GET(self):
        mode = self.path.strip("/").split("/")[0]
        try:
            if mode == "good":
                self._headers(len(BLOB))
                self.wfile.write(BLOB)
            elif mode == "big":  # no Content-Length: sends up to 8 MiB until the client hangs up
                self._headers(None)
                for _ in range(128):
                    self.wfile.write(b"\0" * 65536)
            elif mode == "announced":
                self._headers(300 * 2**20)
                self.wfile.write(b"\0" * 65536)
            elif mode == "trickle":  # one byte every 0.1 s, for at most 10 s
                self._headers(len(BLOB))
                for byte in BLOB[:100]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            elif mode == "cut":  # announces the whole file, sends half, closes
                self._headers(len(BLOB))
                self.wfile.write(BLOB[: len(BLOB) // 2])
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _headers(self, length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_good_mirror_delivers_the_file_with_the_users_permissions(server, tmp_path):
    old = os.umask(0o022)
    try:
        root = data.download_mnist(tmp_path / "root", mirrors=(server + "good/",), files=MD5, sizes=SIZES)
    finally:
        os.umask(old)
    assert (root / NAME).read_bytes() == BLOB
    assert (root / NAME).stat().st_mode & 0o777 == 0o644  # 0666 minus the umask, not mkstemp's 0600
    assert _leftovers(root) == [NAME]


def test_oversized_body_without_length_is_cut_off_at_the_expected_size(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"more than the expected 4,096 bytes"):
        data.download_mnist(tmp_path / "root", mirrors=(server + "big/",), files=MD5, sizes=SIZES)
    assert time.monotonic() - start < 5
    assert _leftovers(tmp_path / "root") == []


def test_announced_oversized_body_is_refused_before_reading_it(server, tmp_path):
    with pytest.raises(RuntimeError, match=r"announces 314,572,800 bytes, more than the expected 4,096"):
        data.download_mnist(tmp_path / "root", mirrors=(server + "announced/",), files=MD5, sizes=SIZES)
    assert _leftovers(tmp_path / "root") == []


def test_a_trickle_is_ended_by_the_overall_deadline(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="overall deadline of 1 s"):
        data.download_mnist(tmp_path / "root", mirrors=(server + "trickle/",), files=MD5, sizes=SIZES,
                            timeout=2, deadline=1)
    assert time.monotonic() - start < 4  # the per-read timeout alone would never end it
    assert _leftovers(tmp_path / "root") == []


def test_truncated_body_is_rejected_and_the_next_mirror_used(server, tmp_path):
    with pytest.raises(RuntimeError, match="truncated download"):
        data.download_mnist(tmp_path / "a", mirrors=(server + "cut/",), files=MD5, sizes=SIZES)
    assert _leftovers(tmp_path / "a") == []
    root = data.download_mnist(tmp_path / "b", mirrors=(server + "cut/", server + "good/"), files=MD5, sizes=SIZES)
    assert (root / NAME).read_bytes() == BLOB


def test_file_without_a_listed_size_is_capped_at_max_bytes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_BYTES", 100_000)
    with pytest.raises(RuntimeError, match=r"more than the expected 100,000 bytes"):
        data.download_mnist(tmp_path / "root", mirrors=(server + "big/",), files=MD5, sizes={})


@pytest.mark.parametrize("kwargs, error", [(dict(timeout=0), ValueError), (dict(deadline=-1), ValueError),
                                           (dict(timeout=True), TypeError), (dict(timeout="5"), TypeError)])
def test_bounds_must_be_positive_seconds(kwargs, error, tmp_path):
    with pytest.raises(error, match="positive number of seconds"):
        data.download_mnist(tmp_path, mirrors=("http://127.0.0.1:9/",), files=MD5, **kwargs)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_a_download_removes_the_part_file_and_ends_the_process(server, tmp_path):
    root = tmp_path / "root"
    script = textwrap.dedent(f"""
        from cnnbook import data
        data.download_mnist({str(root)!r}, mirrors=({server + 'trickle/'!r},), files={MD5!r},
                            sizes={SIZES!r}, timeout=5, deadline=30)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # wait (at most 30 s: importing torch is slow) until the download has begun
            if any(name.endswith(".part") for name in _leftovers(root)) or child.poll() is not None:
                break
            time.sleep(0.1)
        assert any(name.endswith(".part") for name in _leftovers(root)), child.communicate(timeout=5)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGTERM  # it still ends as SIGTERM asks
    assert _leftovers(root) == []  # and leaves nothing behind
