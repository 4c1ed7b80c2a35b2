"""Grading a class on Dask (`cnnbook.course.cluster`): a small class of five submissions (correct, partial, stub,
infinite loop, attack) of a tiny assignment without torch, so each kernel starts in about a second, graded
serially, with `--workers 2` (a local cluster) and on a scheduler with two workers over TCP on 127.0.0.1 — the
same grades, cell by cell, the same errors in the graded notebooks (the loop's time-out), and the same CSV;
into a throw-away PostgreSQL server — the same CSV as SQLite; and a worker killed while it runs a submission —
that submission needs regrading (not 0), the others are scored."""

import csv
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from cnnbook.course import commands as course_cli
from cnnbook.course.cluster import tcp_cluster
from cnnbook.course.grader import build_references
from cnnbook.course.sandbox import missing_tools
from test_grading import LOOP, loop_assignment  # the tiny assignment whose cells take microseconds

pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install .[course,cluster]")
pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"sandbox tools missing: {missing_tools()} "
                                "(apt-get install bubblewrap; .ci/run installs it)")

NAME = LOOP  # test_grading's tiny assignment: `square(x)`, a visible and a hidden test of 1 point each
SQUARE = "def square(x):\n    return x * x\n"
ANSWERS = {"correct": SQUARE, "partial": "def square(x):\n    return x * abs(x)\n",  # right for x >= 0 only
           "stub": "def square(x):\n    return 0\n",
           "loop": "while True:  # stopped by the per-cell time limit: `square` is never defined\n    pass\n" + SQUARE,
           # checks rebound and an always-equal answer: scores 0
           "attack": "check_equal = lambda *a, **k: None\n\n\nclass Same(int):\n    def __eq__(self, other):\n"
                     "        return True\n    __hash__ = int.__hash__\n\n\ndef square(x):\n    return Same(0)\n"}
EXPECTED = {"correct": 2.0, "partial": 1.0, "stub": 0.0, "loop": 0.0, "attack": 0.0}
TIMEOUT = ["--timeout", "3"]  # seconds per cell: the cells take milliseconds, only the loop reaches it
MARKER = "marker-sleeper.txt"  # a data file of the submission that sleeps: its name shows in its sandbox's command


def answered(released, answer: str, extra: str | None = None):
    """The student version with `answer` in its answer cell (and an `extra` cell at the end)."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(released), as_version=4))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answer
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nb


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A released course with the class handed in and the reference records made, not graded; tests grade copies.
    HOME and Jupyter's folders point at a throw-away folder."""
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    for var, sub in (("HOME", "."), ("JUPYTER_CONFIG_DIR", "jc"), ("JUPYTER_DATA_DIR", "jd"),
                     ("JUPYTER_RUNTIME_DIR", "jr"), ("IPYTHONDIR", "ip"), ("MPLCONFIGDIR", "mpl")):
        mp.setenv(var, str(home / sub))
    mp.delenv("JUPYTER_PATH", raising=False)
    source, root = loop_assignment(tmp_path_factory.mktemp("source")), tmp_path_factory.mktemp("course") / "course"
    assert course_cli.main(["release", str(root), str(source / NAME)]) == 0
    released = nbformat.read(root / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    inbox = tmp_path_factory.mktemp("inbox")
    for student, answer in ANSWERS.items():
        nbformat.write(answered(released, answer), inbox / f"{student}.ipynb")
    assert course_cli.main(["collect", str(root), NAME, str(inbox)]) == 0
    build_references(root, NAME, 300)
    yield {"root": root, "released": released, "source": source / NAME}
    mp.undo()


def copy_course(template, dest: Path) -> Path:
    shutil.copytree(template["root"], dest)
    return dest


def graded(root: Path, argv=(), db=None) -> dict:
    """Autograde through the command line; returns the CSV rows and every cell's score, per student."""
    from nbgrader.api import Gradebook

    assert course_cli.main(["autograde", str(root), *TIMEOUT, *argv]) == 0
    db_args = ["--db", db] if db else []
    assert course_cli.main(["export", str(root), "--to", str(root / "grades.csv"), *db_args]) == 0
    with open(root / "grades.csv") as f:
        rows = sorted(tuple(sorted(r.items())) for r in csv.DictReader(f))
    with Gradebook(db or f"sqlite:///{root / 'gradebook.db'}") as gb:
        cells = {s: {g.name: g.auto_score for g in gb.find_submission_notebook(NAME, NAME, s).grades}
                 for s in ANSWERS}
    errors = {s: [o.ename for c in nbformat.read(root / "autograded" / s / NAME / f"{NAME}.ipynb", 4).cells
                  for o in c.get("outputs", []) if o.get("output_type") == "error"] for s in ANSWERS}
    return {"rows": rows, "cells": cells, "totals": {s: sum(c.values()) for s, c in cells.items()}, "errors": errors}


@pytest.fixture(scope="module")
def serial(template, tmp_path_factory):
    return graded(copy_course(template, tmp_path_factory.mktemp("serial") / "course"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serial_grades_are_what_each_answer_deserves(serial):
    assert serial["totals"] == EXPECTED
    assert serial["cells"]["partial"] == {"test_square": 1.0, "test_square_hidden": 0.0}
    assert "CellTimeoutError" in serial["errors"]["loop"] and not serial["errors"]["correct"]


def test_two_local_workers_give_the_same_grades_as_serial_grading(template, serial, tmp_path):
    root = copy_course(template, tmp_path / "course")
    assert graded(root, ["--workers", "2"]) == serial
    assert not (root / "needs_regrade.txt").exists()


def test_a_scheduler_and_two_workers_over_tcp_give_the_same_grades(template, serial, tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, as on several machines."""
    from distributed import Client

    root = copy_course(template, tmp_path / "course")
    with tcp_cluster(2) as address:
        with Client(address) as client:
            workers = client.run(os.getpid)
        assert address.startswith("tcp://127.0.0.1:") and len(workers) == 2
        assert graded(root, ["--scheduler", address]) == serial
        with Client(address) as client:
            assert client.run(os.getpid) == workers, "no worker died or restarted"


def test_a_worker_that_dies_leaves_its_submission_to_regrade_not_zero(template, tmp_path, capsys):
    """The worker running the sleeper's notebook is killed (SIGKILL) once its sandbox runs; the sleeper is listed
    as needing a regrade, unscored and flagged in the gradebook; the other submission is scored as usual."""
    from nbgrader.api import Gradebook

    root = copy_course(template, tmp_path / "course")
    for student in ("partial", "stub", "loop", "attack"):
        shutil.rmtree(root / "submitted" / student)
    sleeper = root / "submitted" / "sleeper" / NAME
    sleeper.mkdir(parents=True)
    nbformat.write(answered(template["released"], SQUARE, extra="import time\ntime.sleep(60)"),
                   sleeper / f"{NAME}.ipynb")
    (sleeper / MARKER).write_text("the worker running this submission is killed")
    killed = []

    def kill_the_sleepers_worker():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            for pid in (p for p in os.listdir("/proc") if p.isdigit()):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if command[0].endswith(b"bwrap") and any(MARKER.encode() in a for a in command) and \
                        b"bwrap" not in Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")[0]:
                    time.sleep(3)  # the kernel is up and sleeping in the student's cell
                    assert parent != os.getpid(), "the sandbox runs in the grader, not on a worker"
                    os.kill(parent, signal.SIGKILL)
                    killed.append(parent)
                    break
            time.sleep(0.2)

    watcher = threading.Thread(target=kill_the_sleepers_worker, daemon=True)
    watcher.start()
    code = course_cli.main(["autograde", str(root), "--workers", "2"])
    watcher.join(timeout=5)
    # what the killed worker could not remove: its task's folder and its kernel's, both holding the marker
    for leftover in Path(tempfile.gettempdir()).glob(f"cnnbook-*-*/work/{MARKER}"):
        shutil.rmtree(leftover.parents[1], ignore_errors=True)
    out = capsys.readouterr()
    assert killed, "no sandbox of the sleeper's submission was seen running"
    assert code == 3
    assert "needs regrade" in out.out and "sleeper" in out.err and "needs regrade" in out.err
    assert (root / "needs_regrade.txt").read_text() == f"{NAME}\tsleeper\n"
    assert not (root / "autograded" / "sleeper" / NAME).exists() and (root / "autograded" / "correct" / NAME).is_dir()
    assert [line.split()[1:] for line in out.out.splitlines() if line.startswith(NAME)] == [
        ["correct", "2.0", "/", "2.0"], ["sleeper", "needs", "regrade", "(a", "worker", "died;", "nothing", "was",
                                         "scored)"]]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grades = gb.find_submission_notebook(NAME, NAME, "sleeper").grades
        assert grades and all(g.auto_score is None and g.needs_manual_grade for g in grades)
        assert gb.find_submission(NAME, "correct").score == 2.0


# ----------------------------------------------------------------------------- a PostgreSQL gradebook
POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server on a free port of 127.0.0.1, run by `nobody` (via setpriv) in a folder of its
    own (the server refuses to run as root, and pytest's temporary folders are private to root). Yields its URL."""
    if not POSTGRES_BIN:
        pytest.skip("PostgreSQL's server is not installed (apt-get install postgresql; .ci/run installs it)")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is missing: pip install .[course,cluster]")
    binaries, port = POSTGRES_BIN[-1].parent, free_port()
    folder = Path(tempfile.mkdtemp(prefix="cnnbook-postgres-"))
    as_user = []
    if os.geteuid() == 0:  # setpriv execs the server itself, so it gets the shutdown signal below
        nobody = pwd.getpwnam("nobody")
        as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    data, log = folder / "data", folder / "server.log"
    run = dict(check=True, capture_output=True, text=True, cwd=folder)
    server = None
    try:
        subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust",
                        "--no-sync", "-E", "UTF8"], **run)
        with open(log, "wb") as output:
            server = subprocess.Popen([*as_user, str(binaries / "postgres"), "-D", str(data), "-p", str(port),
                                       "-h", "127.0.0.1", "-k", str(folder), "-F"], cwd=folder,
                                      stdout=output, stderr=subprocess.STDOUT)
        for _ in range(300):
            ready = subprocess.run([str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                   capture_output=True)
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the PostgreSQL server did not start: {log.read_text() if log.exists() else ''}")
        subprocess.run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader",
                        "gradebook"], **run)
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_postgresql_gradebook_exports_the_same_csv_as_sqlite(template, serial, tmp_path, postgres):
    root = copy_course(template, tmp_path / "course")
    (root / "gradebook.db").unlink()  # everything goes to PostgreSQL: the assignment is released into it
    assert course_cli.main(["release", str(root), str(template["source"]), "--db", postgres]) == 0
    result = graded(root, ["--db", postgres], db=postgres)
    assert result == serial
    assert not (root / "gradebook.db").exists()


def test_bad_cluster_arguments_are_refused_with_what_to_give(template, tmp_path, capsys):
    root = copy_course(template, tmp_path / "course")
    assert course_cli.main(["autograde", str(root), "--workers", "0"]) == 2
    assert "--workers must be a whole number >= 1" in capsys.readouterr().err
    assert course_cli.main(["autograde", str(root), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "either --workers N" in capsys.readouterr().err
    assert course_cli.main(["export", str(root), "--db", "mysql://x"]) == 2
    assert "--db must be an nbgrader database URL" in capsys.readouterr().err
