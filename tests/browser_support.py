"""Shared by the real-client tests (test_browser_book.py, test_jupyterlab.py): Debian's Chromium driven by
Playwright, offline. Playwright never downloads a browser here: it launches /usr/bin/chromium
(`apt-get install chromium`; `.ci/run` does it). Every request that is not for 127.0.0.1 is aborted and
recorded, so a page that needs the internet to read correctly fails its test instead of passing on a
connected laptop."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CNNBOOK_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio"]
LOCAL_HOSTS = {"127.0.0.1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OfflineContext:
    """A fresh browser context whose every request leaves the machine only for 127.0.0.1.

    `blocked` lists the URLs that were aborted; `console_errors` the console errors and uncaught page
    exceptions; `http_errors` the local responses with status >= 400 — all of every page of the context."""

    def __init__(self, browser, **options):
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.http_errors: list[str] = []
        self.context = browser.new_context(**options)
        self.context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def new_page(self):
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(
            f"{page.url}: console.error: {m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
        page.on("pageerror", lambda e: self.console_errors.append(f"{page.url}: uncaught {e.name}: {e.message}"))
        page.on("response", lambda r: r.status >= 400 and self.http_errors.append(f"{r.status} {r.url}"))
        return page

    def close(self):
        self.context.close()


def stop_process_tree(proc: subprocess.Popen, descendants: list[psutil.Process], timeout: float = 20,
                      grace: float = 0) -> list[str]:
    """Give `proc` `grace` s to exit by itself, then terminate it (SIGTERM, then SIGKILL after `timeout` s);
    then make sure that every process in `descendants` (recorded while it ran) is gone, killing stragglers.
    Returns a description of the processes that had to be killed (empty when everything stopped cleanly)."""
    problems = []
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        if grace:
            problems.append(f"pid {proc.pid} was still running {grace} s after it was asked to stop")
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"pid {proc.pid} ignored SIGTERM for {timeout} s; killed")
            proc.kill()
            proc.wait(10)
    deadline = time.monotonic() + timeout
    for child in descendants:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            problems.append(f"child pid {child.pid} ({' '.join(child.cmdline()[:4])}) outlived the server; killed")
            child.kill()
    return problems
