"""Grading a large class on several processes or machines: each submission's sandboxed run is a Dask task.

Used by `python -m cnnbook.course autograde COURSE --workers N` (a local cluster of N processes) and
`--scheduler tcp://HOST:8786` (an existing Dask cluster); the instructors page of the book shows how to start
one. The grader process does everything that touches the course folder and the gradebook, the workers only run
notebooks:

1. **prepare** (grader): nbgrader's own autograde, without the execution step, puts the locked cells back
   from the gradebook and writes the notebook to run into COURSE/autograded/<student>/<assignment>/, with the
   data files the kernel may read.
2. **run** (a worker): `run_submission` is a pure task — notebooks, data files, the assignment's reference
   scan rules and the grading configuration in, executed notebooks out. It runs them exactly as serial
   grading does (`GradingExecute`, in the bubblewrap sandbox of `cnnbook.course.sandbox`), in a temporary
   folder of the worker's machine, so a worker needs the same Python environment and bubblewrap, but no
   access to the course folder or the gradebook.
3. **score** (grader): nbgrader's autograde again, with the execution step replaced by `Executed`, which
   hands over the notebook the worker ran; `GradeFromRecords` compares its records with the reference and
   writes the scores. Only this process writes the gradebook.

What can go wrong, per submission, never stopping the others: a run that fails as it would serially (the
notebook's time limit, a kernel that cannot start) scores 0, with its log printed; a worker that dies while it
runs a submission (the machine rebooted, the worker was killed) is an infrastructure fault: the submission is
marked *needs regrade* — its grades stay unscored and flagged for a human (`needs_manual_grade`), it is listed
on screen and in COURSE/needs_regrade.txt — never scored 0. Dask's automatic retries are off
(`allowed-failures` 0, no task retries), so no student's code runs twice unless the teacher grades again.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

EXECUTE_STEP = "cnnbook.course.grader.GradingExecute"
REGRADE_FILE = "needs_regrade.txt"
INSTALL_HINT = "install cnnbook with the cluster extra: `pip install .[course,cluster]` (requirements.txt does it)"


@dataclass
class ClusterResult:
    """What `grade_on_cluster` leaves for the caller: the submissions that failed (scored 0, with their logs)
    and those to grade again (a worker died while running them), each as (assignment, student)."""

    failed: dict = field(default_factory=dict)  # (assignment, student) -> log
    needs_regrade: list = field(default_factory=list)
    seconds: float = 0.0  # wall-clock time of the whole class
    grader_seconds: float = 0.0  # spent by this process preparing and scoring (nbgrader), not running notebooks


# ============================================================================= the database
def gradebook_url(db: str) -> str:
    """Check a gradebook URL given with --db: `sqlite:///PATH` or `postgresql://USER@HOST:PORT/NAME` (the
    password from ~/.pgpass or PGPASSWORD, never on the command line). Returns it unchanged."""
    if not isinstance(db, str) or not db.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError(f"--db must be an nbgrader database URL, sqlite:///PATH or postgresql://USER@HOST:PORT/NAME, "
                         f"got {db!r}.")
    if db.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401 (the driver SQLAlchemy 2.1 uses for postgresql:// URLs)
        except ImportError as error:
            raise RuntimeError(f"a PostgreSQL gradebook needs the psycopg driver: {INSTALL_HINT}.") from error
    return db


# ============================================================================= 2. the task a worker runs
def run_submission(task: dict) -> dict:
    """Run the notebooks of one submission in the sandbox, as serial grading would, in a temporary folder.

    task: {"assignment", "student", "notebooks": {name: notebook JSON}, "files": {name: bytes} (data files
    next to the notebooks), "references": {name: the reference's scan rules, JSON}, "config": the
    grading traitlets Config}. Returns {"notebooks": {name: executed notebook JSON}, "seconds", "host"}.
    Raises what the execution raises (the grader scores that submission 0 and prints the error)."""
    import socket

    import nbformat

    from .grader import _grading_classes

    started = time.perf_counter()
    execute_cls, _ = _grading_classes()
    out = {}
    with tempfile.TemporaryDirectory(prefix="cnnbook-task-") as tmp:
        course, work = Path(tmp) / "course", Path(tmp) / "work"
        refs = course / "references" / task["assignment"]
        refs.mkdir(parents=True)
        work.mkdir()
        for name, reference in task["references"].items():
            (refs / f"{name}.json").write_text(reference)
        for name, data in task["files"].items():
            (work / name).write_bytes(data)
        for name, text in task["notebooks"].items():
            config = copy.deepcopy(task["config"])
            config.GradingExecute.course = str(course)
            nb = nbformat.reads(text, as_version=4)
            resources = {"metadata": {"path": str(work)}, "unique_key": name,
                         "nbgrader": {"assignment": task["assignment"], "student": task["student"], "notebook": name}}
            nb, _ = execute_cls(config=config, mode="student").preprocess(nb, resources)
            out[name] = nbformat.writes(nb)
    return {"notebooks": out, "seconds": time.perf_counter() - started, "host": socket.gethostname()}


# ============================================================================= 1. and 3. in the grader
def _executed_class():
    """`Executed`: the execution step of the scoring pass — the notebook a worker ran, not a new run."""
    global Executed
    if "Executed" in globals():
        return Executed
    import nbformat
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode

    class Executed(NbGraderPreprocessor):
        """Replace the notebook by the one a worker executed: FOLDER/<student>/<assignment>/<notebook>.ipynb,
        after checking that it is this submission (the same cells, in order, with the same sources)."""

        folder = Unicode("", help="where the grader keeps the notebooks the workers executed").tag(config=True)

        def preprocess(self, nb, resources):
            info = resources["nbgrader"]
            path = Path(self.folder) / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
            ran = nbformat.read(path, as_version=4)
            if [c.source for c in ran.cells] != [c.source for c in nb.cells]:
                raise RuntimeError(f"the notebook a worker executed for {info['student']} / {info['assignment']} "
                                   f"is not the submission it was given; grade it again.")
            return ran, resources

    return Executed


def __getattr__(name):  # nbgrader imports `Executed` by its dotted name
    if name == "Executed":
        return _executed_class()
    raise AttributeError(f"module 'cnnbook.course.cluster' has no attribute {name!r}")


def _sibling_api(api, preprocessors: list, **extra):
    """An NbGraderAPI like `api` (same course, same gradebook) whose autograde runs `preprocessors`."""
    from nbgrader.apps import NbGraderAPI

    config = copy.deepcopy(api.config)
    config.Autograde.autograde_preprocessors = preprocessors
    for key, value in extra.items():
        section, name = key.split("__")
        setattr(config[section], name, value)
    return NbGraderAPI(coursedir=api.coursedir, config=config)


def _task(api, course: Path, assignment: str, student: str) -> dict:
    """The task of one prepared submission: its notebooks and data files from COURSE/autograded/."""
    folder = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, assignment))
    notebooks = {p.stem: p.read_text() for p in sorted(folder.glob("*.ipynb"))}
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())
             if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb" and not p.name.startswith(".")}
    references = {}  # the scan's rules, without the recorded expected values (only the grader compares them)
    for name in notebooks:
        reference = json.loads((course / "references" / assignment / f"{name}.json").read_text())
        references[name] = json.dumps({k: v for k, v in reference.items() if k != "cells"})
    config = copy.deepcopy(api.config)
    return {"assignment": assignment, "student": student, "notebooks": notebooks, "files": files,
            "references": references, "config": config}


def _mark_needs_regrade(api, assignment: str, student: str) -> None:
    """Leave the submission unscored and flagged for a human in the gradebook (never a 0)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = None
                grade.needs_manual_grade = True
        gb.db.commit()


# ============================================================================= the cluster
@contextlib.contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: on a new local cluster of `workers` processes (one thread each), or on the cluster whose
    scheduler listens at `scheduler` (tcp://HOST:PORT or tls://HOST:PORT). Automatic retries off."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise RuntimeError(f"grading on several processes needs Dask: {INSTALL_HINT}.") from error
    if (workers is None) == (scheduler is None):
        raise ValueError("give either --workers N (a local cluster) or --scheduler tcp://HOST:PORT (an existing one).")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if scheduler is not None:
            if not isinstance(scheduler, str) or "://" not in scheduler:
                raise ValueError(f"--scheduler must be an address such as tcp://HOST:8786, got {scheduler!r}.")
            with Client(scheduler, timeout="30s") as client:
                # a task that was on a worker when it died is never given to another one (see the module docstring)
                client.run_on_scheduler(_no_retries)
                yield client
            return
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"--workers must be a whole number >= 1, got {workers!r}.")
        # memory_limit=0: each sandbox enforces its own limits; Dask must not pause or restart a busy worker
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                          host="127.0.0.1", dashboard_address=None, silence_logs=40) as cluster, \
                Client(cluster) as client:
            yield client


@contextlib.contextmanager
def tcp_cluster(workers: int = 2, host: str = "127.0.0.1", timeout: float = 120.0):
    """A Dask scheduler and `workers` workers (one thread each) as separate processes on this machine, talking
    over TCP: what the instructors page starts by hand on several machines, here to try `--scheduler` (the tests
    and tools/bench_grading.py use it). Yields the scheduler's address, tcp://HOST:PORT; stops them after."""
    import socket
    import subprocess

    from distributed import Client

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}.")
    with socket.socket() as probe:  # a free port
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    dask, address = str(Path(sys.executable).parent / "dask"), f"tcp://{host}:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "env": dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")}
    processes = [subprocess.Popen([dask, "scheduler", "--host", host, "--port", str(port), "--no-dashboard"], **quiet)]
    try:
        processes += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--memory-limit", "0",
                                        "--no-dashboard", "--host", host], **quiet) for _ in range(workers)]
        with Client(address, timeout=f"{timeout:g}s") as client:
            client.wait_for_workers(workers, timeout=timeout)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def _no_retries(dask_scheduler=None) -> int:
    dask_scheduler.allowed_failures = 0
    return dask_scheduler.allowed_failures


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="submission", desc="graded", file=sys.stderr, disable=not enabled,
                bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed} elapsed{postfix}")


def grade_on_cluster(api, course, submissions, workers: int | None = None, scheduler: str | None = None,
                     progress: bool = True) -> ClusterResult:
    """Grade `submissions` [(assignment, student), ...] of COURSE: prepared and scored here, run on Dask
    (see the module docstring). The references must exist (`build_references`). Prints a progress bar with the
    count and the rate, the log of each failed submission, and the list of those that need regrading."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    course = Path(course)
    steps = list(api.config.Autograde.autograde_preprocessors)
    if EXECUTE_STEP not in steps:
        raise RuntimeError(f"the course's autograde steps {steps} have no {EXECUTE_STEP} to run on the workers.")
    prepare = _sibling_api(api, [])  # nbgrader's sanitising pass alone: the notebook to run, in autograded/
    result, started = ClusterResult(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnbook-executed-") as executed, \
            client_for(workers, scheduler) as client, _progress(len(submissions), progress) as bar:
        score = _sibling_api(api, [f"{__name__}.Executed" if s == EXECUTE_STEP else s for s in steps],
                             Executed__folder=executed)
        pending, keys = as_completed(), {}
        done = 0

        def finish(key, log=None, regrade=False):
            nonlocal done
            if regrade:
                result.needs_regrade.append(key)
                _mark_needs_regrade(api, *key)
            elif log is not None:  # as serial grading reports it
                result.failed[key] = log
                print(f"autograde failed for {key[1]} / {key[0]} (scored 0):\n{log[-2000:]}", file=sys.stderr)
            done += 1
            rate = done / max(time.perf_counter() - started, 1e-9) * 60
            bar.set_postfix_str(f"{rate:.1f} submissions/min", refresh=False)
            bar.update(1)

        def collect(future):
            key = keys.pop(future.key)
            try:
                ran = future.result()
            except Exception as error:  # noqa: BLE001 (sorted out here, for each submission alone)
                # nothing half-done stays in autograded/ (feedback reads it), as when serial grading fails
                shutil.rmtree(api.coursedir.format_path(api.coursedir.autograded_directory, key[1], key[0]),
                              ignore_errors=True)
                if isinstance(error, KilledWorker) or future.status != "error":  # a worker died, or the cluster
                    return finish(key, regrade=True)
                return finish(key, log="".join(traceback.format_exception(error)))  # the run failed: scored 0
            folder = Path(executed) / key[1] / key[0]
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in ran["notebooks"].items():
                (folder / f"{name}.ipynb").write_text(text)
            tick = time.perf_counter()
            scored = score.autograde(key[0], key[1], force=True, create=True)
            result.grader_seconds += time.perf_counter() - tick
            shutil.rmtree(folder, ignore_errors=True)
            finish(key, log=None if scored.get("success") else (scored.get("log") or scored.get("error") or ""))

        for assignment, student in submissions:
            tick = time.perf_counter()
            prepared = prepare.autograde(assignment, student, force=True, create=True)
            result.grader_seconds += time.perf_counter() - tick
            if not prepared.get("success"):
                finish((assignment, student), log=prepared.get("log") or prepared.get("error") or "")
            else:
                future = client.submit(run_submission, _task(api, course, assignment, student), pure=False,
                                       retries=0, key=f"grade-{assignment}-{student}-{os.urandom(4).hex()}")
                keys[future.key] = (assignment, student)
                pending.add(future)
            for future in pending.next_batch(block=False) if pending.count() else []:
                collect(future)
        for future in pending:
            collect(future)
    result.seconds = time.perf_counter() - started
    regrade_file = course / REGRADE_FILE
    if result.needs_regrade:
        regrade_file.write_text("".join(f"{a}\t{s}\n" for a, s in sorted(result.needs_regrade)))
        print(f"needs regrade ({len(result.needs_regrade)}; a worker died while running them, nothing was scored): "
              + ", ".join(f"{s} / {a}" for a, s in sorted(result.needs_regrade))
              + f" — listed in {regrade_file}; grade them again with the same command.", file=sys.stderr)
    elif regrade_file.exists():
        regrade_file.unlink()
    return result
