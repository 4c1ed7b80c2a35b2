"""Fixtures shared by test files: the browser and the built book for the real-client and PDF tests
(test_browser_book.py, test_browser_explorers.py, test_jupyterlab.py, test_pdf.py; see browser_support.py), and
torch's global state."""

import os
import tempfile
import warnings
from pathlib import Path

import pytest
import torch

import book_builds
from browser_support import CHROMIUM, LAUNCH_ARGS


def pytest_collection_modifyitems(session, config, items):
    """Tests that read the built book (they use the fixture `book_html`) run last, and as soon as any is collected
    the builds they read start in the background (tests/book_builds.py): both HTML editions, then the PDFs that are
    tested. The other tests keep both cores busy meanwhile; a worker that waited for the build would leave one idle.
    The chapters' notebooks, the longest tests, come first. The order is the same in every xdist worker, and
    pyproject's addopts keep it (--no-loadscope-reorder)."""
    readers = {item.path for item in items if "book_html" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: (item.path in readers, item.path.suffix != ".ipynb"))
    if readers and not os.environ.get("CNNBOOK_BOOK_HTML"):
        steps = {"html"}
        if CHROMIUM.exists():
            steps |= {step for step, name, given in (("pdf", "test_pdf.py", "CNNBOOK_PDF"),
                                                     ("pdf-zh", "test_pdf_chinese.py", "CNNBOOK_PDF_ZH"))
                      if any(path.name == name for path in readers) and not os.environ.get(given)}
        book_builds.start(book_builds.run_id(config), steps)


@pytest.fixture(scope="session")
def book_html(request) -> Path:
    """The built book's html folder, both editions (English at its root, Chinese in zh_CN/), built once per pytest
    run (strict: -W -n --keep-going) in the background (tests/book_builds.py) and shared by the browser tests and the
    PDF tests; CNNBOOK_BOOK_HTML names a build to use instead."""
    if os.environ.get("CNNBOOK_BOOK_HTML"):
        return Path(os.environ["CNNBOOK_BOOK_HTML"])
    run = book_builds.run_id(request.config)
    book_builds.start(run, {"html"})  # a no-op when collection started it
    record = book_builds.wait_for(run, "html")
    print(f"book build time (both editions): {record['seconds']:.1f} s")
    return book_builds.HTML


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
    _retry_kernel_starts()


class KernelStartRetried(UserWarning):
    """A notebook's kernel died before it ran any cell, and a second one was started."""


def _retry_kernel_starts(attempts: int = 3) -> None:
    """nbval starts one kernel per notebook. On one clean-clone CI run a kernel died before answering its first
    message ("Kernel died before replying to kernel_info"), before any cell ran, and its notebook failed; the likely
    cause is that kernels starting at the same moment in parallel workers can pick the same free ports. Such a start is tried again, up to `attempts`
    times; each retry is reported as a KernelStartRetried warning with the dead kernel's stderr (nbval sends it to
    /dev/null), so a retry never passes unseen and a kernel that cannot start still fails the notebook."""
    import nbval.kernel

    start = getattr(nbval.kernel.start_new_kernel, "__wrapped__", nbval.kernel.start_new_kernel)

    def start_with_retries(*args, **kwargs):
        for attempt in range(1, attempts + 1):
            with tempfile.TemporaryFile() as stderr:
                try:
                    return start_with_retries.__wrapped__(*args, **{**kwargs, "stderr": stderr})
                except RuntimeError as error:
                    if attempt == attempts:
                        raise
                    stderr.seek(0)
                    tail = stderr.read()[-1500:].decode(errors="replace").strip() or "(no stderr)"
                    warnings.warn(KernelStartRetried(f"kernel start {attempt} of {attempts} failed ({error}); "
                                                     f"starting another. The kernel's stderr:\n{tail}"))

    start_with_retries.__wrapped__ = start
    nbval.kernel.start_new_kernel = start_with_retries


@pytest.hookimpl(optionalhook=True)  # a run without xdist (`-p no:xdist`, as .ci/run's timing test) has no such hook
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts): one worker per core. No worker waits for the book's builds any more (they run
    in the background, tests/book_builds.py), so the cores stay busy with one worker each: measured on 2 cores, the
    whole run (1533 tests) took 12 min 41 s with 2 workers and 12 min 56 s with 3, the cores 98 % busy until the
    last minutes. (With the build in a worker, 3 workers were faster: 13 min 58 s, the cores 71 % busy.)"""
    return os.cpu_count() or 1
