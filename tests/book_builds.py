"""The builds that the book tests read, made once per pytest run in the background while other tests run.

The browser, Chinese-edition and PDF tests read the built book: both HTML editions (strict: -W -n --keep-going for
the English book, warnings as errors for the Chinese one) and both PDFs. Building them takes minutes of CPU. A test
worker that waited for them would leave a core idle, so conftest.py starts this script as soon as a worker has
collected a test that needs them, and pytest runs those tests last (conftest's pytest_collection_modifyitems).

    python tests/book_builds.py RUN STEP...      # STEP: html, pdf, pdf-zh (in that order)

Each step writes `_build/browser-test/<step>.done`, a JSON object: the run's id, the exit status, the seconds it
took and the end of its log. A fixture waits for its step's file with this run's id (wait_for)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK_BUILD = ROOT / "_build" / "browser-test"
HTML = BOOK_BUILD / "_build" / "html"
PDF = ROOT / "_build" / "pdf-test" / "cnnbook.pdf"
PDF_ZH = ROOT / "_build" / "pdf-test" / "cnnbook-zh.pdf"
STEPS = ("html", "pdf", "pdf-zh")


def commands(step: str) -> list[tuple[str, list[str]]]:
    """What each step runs: (what it is called in a failure message, the command)."""
    python, build_pdf = sys.executable, str(ROOT / "book" / "build_pdf.py")
    if step == "html":
        return [("jupyter-book build -W -n --keep-going",
                 [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "-W", "-n", "--keep-going",
                  "--path-output", str(BOOK_BUILD)]),
                # The Chinese edition beside it (html/zh_CN/), as README command (a) builds it: the language switch of
                # every page links to its twin, so both editions are read and link-checked together.
                ("book/build_zh.py (warnings are errors)",
                 [python, str(ROOT / "book" / "build_zh.py"), "--out", str(HTML / "zh_CN"),
                  "--doctrees", str(BOOK_BUILD / "_build" / ".doctrees-zh_CN")])]
    if step == "pdf":
        return [("book/build_pdf.py",
                 [python, build_pdf, "--out", str(PDF), "--html", str(HTML), "--work", str(ROOT / "_build" / "pdf-test-work"),
                  "--report", str(PDF.with_suffix(".json"))])]
    if step == "pdf-zh":
        return [("book/build_pdf.py --language zh_CN",
                 [python, build_pdf, "--language", "zh_CN", "--out", str(PDF_ZH), "--html", str(HTML / "zh_CN"),
                  "--work", str(ROOT / "_build" / "pdf-test-work-zh")])]
    raise ValueError(f"unknown build step {step!r}: expected one of {', '.join(STEPS)}")


def run_id(config) -> str:
    """This pytest run's id, the same in every xdist worker (a fresh one per run without xdist)."""
    run = getattr(config, "workerinput", {}).get("testrunuid")
    if run is None:
        if not hasattr(config, "_cnnbook_run"):
            config._cnnbook_run = uuid.uuid4().hex
        run = config._cnnbook_run
    return run


def printed_book(config, step: str) -> Path:
    """The PDF of this run's step "pdf" (English) or "pdf-zh" (Chinese), waiting for its background build."""
    run = run_id(config)
    start(run, {step})  # a no-op when collection started the builds
    record = wait_for(run, step)
    print(f"{record['what']}: {record['seconds']:.1f} s\n{record['log'][-1500:]}")
    return PDF if step == "pdf" else PDF_ZH


def done_file(step: str) -> Path:
    return BOOK_BUILD / f"{step}.done"


def start(run: str, steps: set[str]) -> None:
    """Start the builds for this run in the background, unless a worker of the same run already did."""
    BOOK_BUILD.mkdir(parents=True, exist_ok=True)
    with open(BOOK_BUILD.parent / "browser-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = BOOK_BUILD / "started-by-run"
        if started.exists() and started.read_text() == run:
            return
        for step in STEPS:
            done_file(step).unlink(missing_ok=True)
        with open(BOOK_BUILD / "builds.log", "w") as log:
            process = subprocess.Popen([sys.executable, __file__, run, *[s for s in STEPS if s in steps]],
                                       stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        (BOOK_BUILD / "builder.pid").write_text(str(process.pid))
        started.write_text(run)


def wait_for(run: str, step: str, timeout: float = 1800) -> dict:
    """Block until `step` of this run is done; return its record. Fails (AssertionError) with the build's log if it
    failed, if the background builder died without a record, or after `timeout` seconds."""
    t0, path = time.monotonic(), done_file(step)
    while True:
        if path.exists():
            record = json.loads(path.read_text())
            if record["run"] == run:
                assert record["rc"] == 0, f"{record['what']} failed (rc={record['rc']}); build log:\n{record['log']}"
                return record
        pid = int((BOOK_BUILD / "builder.pid").read_text())
        if not _alive(pid) and not (path.exists() and json.loads(path.read_text())["run"] == run):
            log = (BOOK_BUILD / "builds.log").read_text()[-4000:]
            raise AssertionError(f"the background book build (pid {pid}) ended without finishing step {step!r}; "
                                 f"its log:\n{log}")
        assert time.monotonic() - t0 < timeout, f"step {step!r} of the book build took more than {timeout:.0f} s"
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that has exited but is not yet reaped (a zombie) still answers kill(0): read its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def run_steps(run: str, steps: list[str]) -> int:
    failed = None
    for step in steps:
        t0, record = time.monotonic(), {"run": run, "step": step, "rc": 0, "what": step, "log": ""}
        if failed:
            record.update(rc=1, log=f"not built: step {failed!r} failed before it")
        for what, command in [] if failed else commands(step):
            proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
            record.update(what=what, rc=proc.returncode,
                          log=re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)[-8000:])
            if proc.returncode != 0:
                failed = step
                break
        record["seconds"] = round(time.monotonic() - t0, 1)
        print(f"{step}: rc {record['rc']} in {record['seconds']} s", flush=True)
        partial = done_file(step).with_suffix(".partial")
        partial.write_text(json.dumps(record))
        partial.replace(done_file(step))  # atomic: a waiting fixture never reads half a record
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_steps(sys.argv[1], sys.argv[2:]))
