"""Fixtures for the real-client tests only (test_browser_book.py, test_jupyterlab.py); see browser_support.py."""

import pytest
import torch

from browser_support import CHROMIUM, LAUNCH_ARGS


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
