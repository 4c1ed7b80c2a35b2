"""The model chapter run by a reader: a real JupyterLab server, driven through its UI in Debian's Chromium.

JupyterLab runs on 127.0.0.1 (free port, token) with throw-away config/settings/workspace/runtime folders
and serves a copy of the notebooks with their outputs cleared (the repository is never touched). The test
opens chapter 1, runs every cell from the menu (Run → Run All Cells), checks that no cell shows an error
(except cells tagged `raises-exception`, which must), moves the stride slider of the live ipywidgets
explorer with the keyboard and checks that the printed output size changes as the formula says. Finally it
shuts the server down and checks that the server and its kernels are gone.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser_support import ROOT, OfflineContext, free_port, stop_process_tree

CHAPTER = "01_convolution.ipynb"
EXPLORER_CALL = "conv_explorer("
OUTPUT_LINE = re.compile(r"output (\d+)×(\d+)\s+\(stride (\d+), padding (\d+), dilation (\d+)\)")
ERROR_TEXT = re.compile(r"Traceback|^\w*(Error|Exception)\b", re.M)
RUN_TIMEOUT_S = int(os.environ.get("CNNBOOK_LAB_RUN_TIMEOUT", 180))
SCREENSHOTS = ROOT / "_build" / "screenshots"


def write_settings(settings_dir: Path) -> None:
    """User settings for the throw-away JupyterLab: render every cell (no virtual scrolling, so each cell's
    outputs are in the DOM) and never ask about news or updates (no toast over the notebook, no fetch)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                           "checkForUpdates": False},
    }
    for name, value in settings.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """A running `jupyter lab` serving cleared copies of the notebooks; yields (base_url, token, process)."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    notebooks = tmp / "notebooks"
    notebooks.mkdir()
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, notebooks / src.name)
    write_settings(tmp / "settings")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="module://matplotlib_inline.backend_inline")
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", "--ServerApp.shutdown_no_activity_timeout=600"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI and the dev machines run as root
        cwd=notebooks, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    proc.log_path = tmp / "jupyterlab.log"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"jupyter lab exited (rc={proc.returncode}):\n{proc.log_path.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, f"jupyter lab did not answer in 60 s:\n{proc.log_path.read_text()[-4000:]}"
            time.sleep(0.3)
        yield base, token, proc
    finally:
        # Normally the last test has already shut it down cleanly; this only guarantees nothing is left behind.
        if proc.poll() is None:
            stop_process_tree(proc, psutil.Process(proc.pid).children(recursive=True), timeout=10)
        log.close()


@pytest.fixture(scope="module")
def offline(browser):
    ctx = OfflineContext(browser, viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


def wait_for_idle_kernel(page, base: str, token: str, timeout: float = 60) -> None:
    """Until the server has a session for the chapter whose kernel is started and idle (REST API). Sleeps with
    the page's clock: Playwright's sync API serves the offline route only while a page call is running."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{base}api/sessions?token={token}", timeout=10) as r:
            sessions = json.load(r)
        if any(s["path"].endswith(CHAPTER) and s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        assert time.monotonic() < deadline, f"no idle kernel for {CHAPTER} after {timeout} s: {sessions}"
        page.wait_for_timeout(300)


def cell_outputs_text(cell) -> str:
    return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())


def test_chapter_runs_in_jupyterlab_and_its_explorer_is_live(lab, offline):
    base, token, proc = lab
    nb = nbformat.read(ROOT / "notebooks" / CHAPTER, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    explorer = [i for i in code if EXPLORER_CALL in nb.cells[i].source]
    assert len(explorer) == 1, f"{CHAPTER} should call {EXPLORER_CALL} in exactly one cell, found {len(explorer)}"

    page = offline.new_page()
    page.goto(f"{base}lab/tree/{CHAPTER}?token={token}", wait_until="load")
    selector = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
    cells = page.locator(selector)
    cells.first.wait_for(timeout=60_000)
    wait_for_idle_kernel(page, base, token)
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=60_000)
    try:
        page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                               arg=[selector, len(nb.cells)], timeout=30_000)
    finally:
        assert cells.count() == len(nb.cells), f"JupyterLab shows {cells.count()} cells, the notebook has {len(nb.cells)}"

    t0 = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    try:
        page.wait_for_function(
            """n => {
              const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
              const idle = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle';
              return idle && p.length === n && p.every(e => /^\\[\\d+\\]:$/.test(e.textContent.trim()));
            }""", arg=len(code), timeout=RUN_TIMEOUT_S * 1000)
    except PlaywrightTimeout:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "jupyterlab-run-all-timeout.png"))
        pytest.fail(f"Run All Cells did not finish in {RUN_TIMEOUT_S} s; prompts: {prompts.all_inner_texts()}; "
                    f"screenshot: {SCREENSHOTS / 'jupyterlab-run-all-timeout.png'}; server log:\n"
                    f"{proc.log_path.read_text()[-3000:]}", pytrace=False)
    run_time = time.monotonic() - t0
    numbers = [int(t.strip()[1:-2]) for t in prompts.all_inner_texts()]
    assert numbers == list(range(1, len(code) + 1)), f"cells ran out of order or not all: {numbers}"

    problems = []
    for i in code:
        tags = nb.cells[i].metadata.get("tags", [])
        stderr = "\n".join(cells.nth(i).locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts())
        if "raises-exception" in tags:
            if not ERROR_TEXT.search(stderr):
                problems.append(f"cell {i} is tagged raises-exception but shows no error")
        elif ERROR_TEXT.search(stderr):
            problems.append(f"cell {i} shows an error:\n{stderr[-1500:]}")
        if "remove-output" not in tags and nb.cells[i].outputs and not cells.nth(i).locator(".jp-OutputArea-output").count():
            problems.append(f"cell {i} has a stored output but showed none in JupyterLab")
    assert not problems, "\n".join(problems)

    # The live explorer: move the stride slider one step with the keyboard.
    widget = cells.nth(explorer[0])
    widget_output = widget.locator(".widget-output")
    widget_output.locator("img").first.wait_for(timeout=30_000)
    before = OUTPUT_LINE.search(cell_outputs_text(widget))
    assert before, f"the explorer printed no 'output H×W (stride ...)' line: {cell_outputs_text(widget)[:500]!r}"
    h1, w1, s, p, d = map(int, before.groups())
    assert (s, p, d) == (1, 0, 1), f"the explorer should start at stride 1, padding 0, dilation 1: {before.group(0)}"
    image_before = widget_output.locator("img").first.get_attribute("src")

    stride = widget.locator(".widget-slider", has=page.locator("label.widget-label", has_text=re.compile(r"^stride$")))
    assert stride.count() == 1, "the explorer has no (or several) 'stride' sliders"
    handle = stride.locator(".noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(
        """el => /\\(stride 2,/.test(el.innerText)""", arg=widget.element_handle(), timeout=30_000)
    widget_output.locator("img").first.wait_for(timeout=30_000)
    after = OUTPUT_LINE.search(cell_outputs_text(widget))
    assert after, f"no output line after moving the slider: {cell_outputs_text(widget)[:500]!r}"
    h2, w2, s2, p2, d2 = map(int, after.groups())
    # At stride 1, padding 0, dilation 1 the output is H - k + 1 = h1, so at stride 2 it is floor((h1 - 1) / 2) + 1.
    assert (s2, p2, d2) == (2, 0, 1)
    assert (h2, w2) == ((h1 - 1) // 2 + 1, (w1 - 1) // 2 + 1), f"{before.group(0)} → {after.group(0)}"
    assert stride.locator(".widget-readout").inner_text().strip() == "2"
    assert widget_output.locator("img").first.get_attribute("src") != image_before, "the figure did not change"
    assert widget_output.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-explorer-stride-2.png"))
    page.close()
    assert not offline.blocked, f"JupyterLab tried to reach the internet (aborted): {sorted(set(offline.blocked))}"
    print(f"Run All Cells time: {run_time:.1f} s")


def test_server_stops_cleanly_leaving_no_process(lab):
    base, token, proc = lab
    assert proc.poll() is None, f"jupyter lab died during the test:\n{proc.log_path.read_text()[-4000:]}"
    descendants = psutil.Process(proc.pid).children(recursive=True)
    kernels = [c for c in descendants if any("ipykernel" in part for part in c.cmdline())]
    assert kernels, f"no kernel process under the server: {[c.cmdline() for c in descendants]}"
    request = urllib.request.Request(f"{base}api/shutdown", method="POST",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=20) as r:
        assert r.status in (200, 202, 204)
    problems = stop_process_tree(proc, descendants, timeout=10, grace=30)
    assert proc.returncode is not None
    assert not problems, "the server did not stop by itself: " + "; ".join(problems)

    def alive(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    left = [(c.pid, c.cmdline()[:3]) for c in descendants if alive(c)]
    assert not left, f"processes left behind by the server: {left}"
