"""Throughput of autograding: one synthetic class graded serially, on 2 local Dask workers, and on a scheduler
with 2 workers over TCP on 127.0.0.1 (`cnnbook.course.cluster`); prints submissions per minute and the speed-up,
and checks that the three gradebooks export identical grades. Not a test: run it by hand, alone on the machine.

    .venv/bin/python tools/bench_grading.py [--students 40] [--assignment a4_receptive_fields] [--timeout 10]

The class mixes five kinds of submission in turn: correct (the instructor's notebook), partial (the first answer
right, the second a stub), stub (the student version as released), infinite loop (a correct first answer, then a
loop that only the per-cell time limit stops), attack (a stub that rebinds the checks, and always-equal answers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnbook.course import commands as course  # noqa: E402
from cnnbook.course import cluster  # noqa: E402
from cnnbook.course.cluster import tcp_cluster  # noqa: E402
from cnnbook.course.grader import build_references  # noqa: E402

KINDS = ("correct", "partial", "stub", "loop", "attack")
ATTACK = ("check_equal = lambda *a, **k: None\n\n\nclass Same(int):\n    def __eq__(self, other):\n"
          "        return True\n    __hash__ = int.__hash__\n\n\n"
          "def output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
          "    return Same(0)\n\n\ndef receptive_field(layers):\n    return [(Same(0), Same(0)) for _ in layers]\n")


def solutions(nb) -> list:
    """The answer cells (nbgrader `solution` code cells), in order."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def submission(kind: str, source, released):
    """A submission of `kind` built from the instructor (`source`) and student (`released`) notebooks."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(released if kind in ("stub", "attack") else source), 4))
    answers, stubs = solutions(nb), solutions(released)
    if kind == "partial":
        answers[-1].source = stubs[-1].source
    elif kind == "loop":
        answers[-1].source = "while True:  # never ends: the per-cell limit stops it\n    pass\n" + answers[-1].source
    elif kind == "attack":  # a4's answers always equal; any assignment's checks rebound
        answers[0].source = ATTACK if "def receptive_field" in stubs[0].source else \
            "check_equal = lambda *a, **k: None\n" + stubs[0].source
    return nb


def make_class(folder: Path, assignment: str, students: int) -> Path:
    """Release `assignment`, hand in `students` submissions (the kinds in turn), make the reference records."""
    root = folder / "template"
    course.release(root, [assignment], source=ROOT / "notebooks" / "assignments")
    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", 4)
    released = nbformat.read(root / "release" / assignment / f"{assignment}.ipynb", 4)
    inbox = folder / "inbox"
    inbox.mkdir()
    for n in range(students):
        nbformat.write(submission(KINDS[n % len(KINDS)], source, released), inbox / f"s{n:03d}-{KINDS[n % 5]}.ipynb")
    collected, refused = course.collect(root, assignment, inbox)
    assert len(collected) == students and not refused, refused
    build_references(root, assignment, 300)
    return root


def grade(template: Path, dest: Path, assignment: str, timeout: int, **where) -> tuple[float, str, dict]:
    """Grade a copy of the class; returns (seconds, the exported CSV, the scores)."""
    shutil.copytree(template, dest)
    started = time.perf_counter()
    scores = course.autograde(dest, [assignment], timeout=timeout, **where)
    seconds = time.perf_counter() - started
    return seconds, course.export(dest, dest / "grades.csv").read_text(), scores


def recorded(results: list):
    """`grade_on_cluster`, keeping each run's ClusterResult (the grader's own time) in `results`."""
    original = cluster.grade_on_cluster

    def grade_on_cluster(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    return grade_on_cluster


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignment", default="a4_receptive_fields")
    parser.add_argument("--timeout", type=int, default=10, help="seconds per cell (what stops the loops)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cnnbook-bench-") as tmp:
        folder = Path(tmp)
        home = folder / "home"  # Jupyter's and IPython's folders: a throw-away one, never the user's
        for var, sub in (("HOME", "."), ("JUPYTER_CONFIG_DIR", "jc"), ("JUPYTER_DATA_DIR", "jd"),
                         ("JUPYTER_RUNTIME_DIR", "jr"), ("IPYTHONDIR", "ip"), ("MPLCONFIGDIR", "mpl")):
            os.environ[var] = str(home / sub)
            (home / sub).mkdir(parents=True, exist_ok=True)
        template = make_class(folder, args.assignment, args.students)
        on_cluster = []
        cluster.grade_on_cluster = recorded(on_cluster)
        runs = {"serial": grade(template, folder / "serial", args.assignment, args.timeout),
                "2 local workers": grade(template, folder / "local", args.assignment, args.timeout, workers=2)}
        with tcp_cluster(2) as address:
            runs["scheduler + 2 TCP workers"] = grade(template, folder / "tcp", args.assignment, args.timeout,
                                                      scheduler=address)
    serial = runs["serial"][0]
    cores = os.cpu_count()
    print(f"\n{args.students} submissions of {args.assignment} ({', '.join(KINDS)} in turn), --timeout "
          f"{args.timeout}, on {cores} CPU cores")
    print(f"| {'how':26s} | {'seconds':>7s} | {'submissions/min':>15s} | {'speed-up':>8s} |")
    print(f"|{'-' * 28}|{'-' * 8}:|{'-' * 16}:|{'-' * 9}:|")
    for how, (seconds, _, _) in runs.items():
        print(f"| {how:26s} | {seconds:7.1f} | {args.students / seconds * 60:15.1f} | {serial / seconds:8.2f} |")
    csvs = {how: text for how, (_, text, _) in runs.items()}
    scores = {how: s for how, (_, _, s) in runs.items()}
    same = len(set(csvs.values())) == 1 and all(s == scores["serial"] for s in scores.values())
    print(f"gradebook exports identical: {same}")
    per = serial / args.students
    share = [r.grader_seconds / args.students for r in on_cluster]
    print(f"serial: {per:.1f} s per submission: 1 000 submissions take about {1000 * per / 3600:.1f} core-hours "
          f"({1000 * per / 3600 / 8:.1f} h on 8 worker cores, one sandbox each); the grader's own share on the "
          f"cluster (preparing and scoring, one process): {', '.join(f'{x:.2f}' for x in share)} s per submission")
    by_kind = {}
    for (_, student), (score, _) in scores["serial"].items():
        by_kind.setdefault(student.split("-")[1], set()).add(score)
    print("serial scores by kind:", {k: sorted(v) for k, v in sorted(by_kind.items())})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
