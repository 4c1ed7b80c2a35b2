"""Fixtures shared by test files: the browser and the built book for the real-client and PDF tests
(test_browser_book.py, test_browser_explorers.py, test_jupyterlab.py, test_pdf.py; see browser_support.py), and
torch's global state."""

import fcntl
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from browser_support import CHROMIUM, LAUNCH_ARGS, ROOT

BOOK_BUILD = ROOT / "_build" / "browser-test"


@pytest.fixture(scope="session")
def book_html(request) -> Path:
    """The built book's html folder, both editions (English at its root, Chinese in zh_CN/), built once per pytest
    run (strict: -W -n --keep-going) and shared by the browser tests and the PDF tests, whichever xdist worker asks first; CNNBOOK_BOOK_HTML names a build to use
    instead. A file lock lets one worker build; a stamp with this run's id tells the others it is done."""
    if os.environ.get("CNNBOOK_BOOK_HTML"):
        return Path(os.environ["CNNBOOK_BOOK_HTML"])
    run = getattr(request.config, "workerinput", {}).get("testrunuid") or uuid.uuid4().hex
    BOOK_BUILD.mkdir(parents=True, exist_ok=True)
    stamp, html = BOOK_BUILD / "built-by-run", BOOK_BUILD / "_build" / "html"
    with open(BOOK_BUILD.parent / "browser-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == run and html.is_dir():
            return html
        t0 = time.monotonic()
        _build_step([str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "-W", "-n",
                     "--keep-going", "--path-output", str(BOOK_BUILD)], "jupyter-book build -W -n --keep-going", stamp)
        english = time.monotonic() - t0
        # The Chinese edition beside it (html/zh_CN/), as README command (a) builds it: the language switch of every
        # page links to its twin, so both editions are read and link-checked together. Warnings are errors.
        _build_step([sys.executable, str(ROOT / "book" / "build_zh.py"), "--out", str(html / "zh_CN"),
                     "--doctrees", str(BOOK_BUILD / "_build" / ".doctrees-zh_CN")],
                    "book/build_zh.py (warnings are errors)", stamp)
        stamp.write_text(run)
        print(f"book build time: English {english:.1f} s, Chinese {time.monotonic() - t0 - english:.1f} s")
    return html


def _build_step(command: list[str], what: str, stamp: Path) -> None:
    """Run one build of the book; on failure drop the run stamp and fail with the build's log."""
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        stamp.unlink(missing_ok=True)
        log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
        pytest.fail(f"{what} failed (rc={proc.returncode}); build log:\n{log[-8000:]}", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright; one per test file (closed at the file's end, so an
    xdist worker that goes on to run notebooks holds no browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium; .ci/run "
                    f"installs it), so the real-browser tests cannot run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS,
                                     timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def one_thread():
    """Train on one thread, as the chapters do (set_seed): parallel test workers share the cores, and small
    convolutions on two threads cost several times the CPU. The caller's thread count comes back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def restore_torch_globals():
    """For tests that call set_seed: torch's deterministic mode and thread count come back afterwards, so no
    later test on the same worker runs in a mode it did not ask for."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restore_threads_and_determinism():
    """Session-wide, for every test: torch's thread count and deterministic mode come back after the test,
    whatever it set (set_seed switches on one thread and deterministic kernels)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) \
            != (deterministic, warn_only):
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture
def cuda_seed_calls(monkeypatch):
    """Every call to torch.cuda.manual_seed / manual_seed_all during the test, recorded instead of made:
    on a CPU-only run a library function must make none (seeding CUDA initialises it and changes the
    caller's CUDA streams)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(("manual_seed_all", seed)))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(("manual_seed", seed)))
    return calls


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: timing tests run alone by .ci/run (pytest -m slow); the default run "
                                       "excludes them with -m 'not slow'")


@pytest.hookimpl(optionalhook=True)  # a run without xdist (`-p no:xdist`, as .ci/run's timing test) has no such hook
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts): one worker more than the cores. Many tests wait rather than compute (the
    book build's lock, Chromium, the grading sandboxes, kernels starting), and every chapter trains on one thread,
    so a third worker on two cores keeps both busy: measured with the Chinese edition, 13 min 58 s for the whole
    run (1532 tests), the cores 71 % busy."""
    return (os.cpu_count() or 1) + 1
