"""The notebooks are tests only if they were saved executed: strict nbval compares stored outputs, so a
notebook saved without outputs would pass vacuously. These checks make that impossible."""

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def toc_files(node) -> list[str]:
    """Every `file:` entry of _toc.yml, depth first."""
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for value in node.values():
            found += toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += toc_files(item)
    return found


def toc_entries() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + toc_files(toc)


def test_every_toc_entry_exists():
    for entry in toc_entries():
        candidates = [ROOT / f"{entry}{ext}" for ext in ("", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry!r} but no such .md/.ipynb file exists"


def test_every_chapter_notebook_is_in_the_toc():
    listed = {ROOT / f"{e}.ipynb" for e in toc_entries()}
    chapters = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert chapters, "no chapter notebooks found under notebooks/"
    missing = [c.name for c in chapters if c not in listed]
    assert not missing, f"chapter notebooks missing from _toc.yml (the book would silently skip them): {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_saved_executed_in_order_without_errors(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code, f"{path.name} has no code cells"
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}; restart the kernel, run all, save "
        f"(jupyter nbconvert --to notebook --execute --inplace {path.relative_to(ROOT)})")
    assert sum(len(c["outputs"]) for c in code) >= len(code) // 2, f"{path.name}: most code cells have no stored output"
    for n, cell in enumerate(code, 1):
        tags = cell.get("metadata", {}).get("tags", [])
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if "raises-exception" in tags:
            assert errors, f"{path.name} cell {n} is tagged raises-exception but stores no error"
        else:
            assert not errors, f"{path.name} cell {n} stores an error: {errors[0].get('ename')}"


# nbval's markers as comments in code ("# NBVAL_IGNORE_OUTPUT") would be printed in the book; the cell tag
# `nbval-ignore-output` does the same for nbval and stays out of the reader's view.
NBVAL_COMMENT = re.compile(r"^\s*#\s*(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)\s*$", re.M)
TIMERS = {"perf_counter", "perf_counter_ns", "time", "monotonic", "process_time", "timeit", "getrusage"}


def ignored_cell_problems(nb: dict, name: str) -> list[str]:
    """What is wrong with the cells that nbval does not compare: a marker written as a code comment (use the
    cell tag), a skipped cell, or an ignored cell that measures no time or asserts nothing."""
    problems = []
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        for marker in NBVAL_COMMENT.findall(src):
            problems.append(f"{name} cell {n}: nbval marker `# {marker}` in the code is printed in the book; "
                            f"remove the line and add the cell tag `{marker.lower().replace('_', '-')}`")
        if "nbval-skip" in tags:
            problems.append(f"{name} cell {n}: tagged nbval-skip; every cell runs under nbval")
        if "nbval-ignore-output" not in tags:
            continue
        python = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(python)
        calls = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                 for node in ast.walk(tree) if isinstance(node, ast.Call)}
        if not calls & TIMERS:
            problems.append(f"{name} cell {n}: tagged nbval-ignore-output but measures no time; only timings "
                            f"may escape nbval's comparison:\n{src[:300]}")
        if not any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
            problems.append(f"{name} cell {n}: a cell ignored by nbval has no assert statement:\n{src[:300]}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_ignored_outputs_are_only_timings_and_carry_an_assert(path):
    """The tag nbval-ignore-output hides a cell from nbval, so each such cell must be a timing and assert what
    matters; the comment form of the marker is refused."""
    problems = ignored_cell_problems(json.loads(path.read_text()), path.name)
    assert not problems, "\n".join(problems)


def test_ignored_cell_checker_finds_each_fault():
    def cell(source, tags=()):
        return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)}, "outputs": []}
    timing = "start = time.perf_counter()\nf()\nprint(time.perf_counter() - start)\n"
    good = cell(timing + "assert ok\n", ["nbval-ignore-output"])
    assert ignored_cell_problems({"cells": [good]}, "nb") == []
    faults = {"comment": cell("# NBVAL_IGNORE_OUTPUT\n" + timing + "assert ok\n"),
              "no assert": cell(timing, ["nbval-ignore-output"]),
              "no timing": cell("print(loss)\nassert loss > 0\n", ["nbval-ignore-output"]),
              "skip": cell("print(1)\n", ["nbval-skip"])}
    for fault, bad in faults.items():
        problems = ignored_cell_problems({"cells": [good, bad]}, "nb")
        assert len(problems) == 1 and "cell 1" in problems[0], (fault, problems)
    assert "nbval-ignore-output" in ignored_cell_problems({"cells": [faults["comment"]]}, "nb")[0]


BOOK_NOTEBOOKS = [p for p in NOTEBOOKS if "assignments" not in p.parts]


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_figure_has_alt_text(path):
    """A screen-reader user of the HTML book hears a figure's alt text; without it the book says the file name.
    Alt text lives in the cell metadata `mystnb.image.alt`, which myst-nb puts on the <img>."""
    nb = json.loads(path.read_text())
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not any("image/png" in o.get("data", {}) for o in cell["outputs"]):
            continue
        alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
        first = "".join(cell["source"]).strip().splitlines()[0]
        assert len(alt.split()) >= 12, (
            f"{path.name} cell {n} ({first!r}) draws a figure without a describing alt text "
            f"(got {alt!r}); set cell metadata mystnb.image.alt to a sentence or two on what the figure shows")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_stored_widget_state(path):
    """Saved widget state makes the HTML book load the widget JavaScript from a CDN, which breaks the
    offline book; the explorers are for JupyterLab, and each is followed by a static figure."""
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), (
        f"{path.name} stores widget state; re-run it with "
        f"--ExecutePreprocessor.store_widget_state=False (see README, 'Editing a notebook')")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cell_has_a_unique_id(path):
    """nbformat 4.5 cell ids. pyproject's filterwarnings silences nbformat's missing-id warning for the cells that
    nbgrader puts back without one; this keeps the warning from hiding a notebook of ours that lacks them."""
    nb = json.loads(path.read_text())
    ids = [cell.get("id") for cell in nb["cells"]]
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5) and all(ids) and len(set(ids)) == len(ids), (
        f"{path.name}: cells without an id or with a repeated one; open and save it in JupyterLab 4, or run "
        f"nbformat.validator.normalize on it")


def test_pytest_runs_notebooks_in_strict_mode():
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--nbval " in opts["addopts"] + " " and "--nbval-lax" not in opts["addopts"]
    assert "notebooks" in opts["testpaths"]
    assert "--dist loadfile" in opts["addopts"], "nbval in parallel needs --dist loadfile"


def test_nothing_reads_the_seed_articles_at_run_time():
    """The seed articles live beside the repo only for authors; readers and CI do not have them."""
    pattern = re.compile(r"shared/seeds|\.\./shared")
    offenders = [str(p.relative_to(ROOT)) for p in list((ROOT / "cnnbook").rglob("*.py")) + NOTEBOOKS
                 if pattern.search(p.read_text())]
    assert not offenders, f"these files refer to ../shared: {offenders}"


def _calls(path):
    """(cell number, ast.Call) for every call in the notebook's code cells (IPython magics left out)."""
    nb = json.loads(path.read_text())
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        python = "\n".join(line for line in "".join(cell["source"]).splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(python)):
            if isinstance(node, ast.Call):
                yield n, node


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _is_literal_number(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) or (
        isinstance(node, ast.BinOp) and _is_literal_number(node.left) and _is_literal_number(node.right))


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_measured_value_carries_a_spread_or_a_claim(path):
    """approx refuses a band without the author's recorded spread (<= 10 spreads wide) or the sentence's own
    range; this finds a call that never ran (e.g. in a branch) before a reader's machine does."""
    bad = [f"cell {n}: {ast.unparse(call)[:120]}" for n, call in _calls(path) if _name(call) == "approx"
           and not {k.arg for k in call.keywords} & {"spread", "claim"}]
    assert not bad, f"{path.name}: approx without spread= or claim=: {bad}"


# Functions whose seed defines *data* (a split, a generated set, a subset): their seeds stay fixed when
# CNNBOOK_SEED_OFFSET shifts the seeds of training and initialisation.
DATA_SEEDED = {"load_mnist", "make_localisation_set", "class_subset", "first_per_class", "balanced_subset",
               "validation_split", "moving_digit_clips", "make_shapes", "two_dot_task", "Generator"}
RUN_SEEDED = {"set_seed", "seeded", "manual_seed", "manual_seed_all"}


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_training_seed_comes_from_the_seed_helper(path):
    """CI re-runs every chapter with CNNBOOK_SEED_OFFSET set, so a claim that holds only for the recorded
    seeds fails there. A literal seed for training or initialisation would escape the shift."""
    bad = []
    nb = json.loads(path.read_text())
    for n, cell in enumerate(nb["cells"]):          # SEEDS = (0, 1, 2): a literal list of run seeds
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                if re.match(r"\s*\w*SEEDS?\s*=\s*(range\(|[\(\[]?\s*\d)", line):
                    bad.append(f"cell {n}: {line.strip()[:100]}")
    for n, call in _calls(path):
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        on_generator = isinstance(receiver, ast.Call) and _name(receiver) == "Generator"
        if _name(call) in RUN_SEEDED and not on_generator and call.args and _is_literal_number(call.args[0]):
            bad.append(f"cell {n}: {ast.unparse(call)[:100]}")
        if _name(call) not in DATA_SEEDED:
            bad += [f"cell {n}: {ast.unparse(call)[:100]}" for k in call.keywords
                    if k.arg == "seed" and _is_literal_number(k.value)]
    assert not bad, (f"{path.name}: seeds of training/initialisation must come from cnnbook.randomness.book_seed "
                     f"(or book_seeds), so CNNBOOK_SEED_OFFSET can shift them: {bad}")


def test_a_kernel_that_dies_at_start_is_retried_visibly_and_one_that_never_starts_fails(monkeypatch):
    """conftest wraps nbval's kernel start: a start that dies before its first reply is tried again, with a
    warning that quotes the dead kernel's stderr; three failed starts fail the notebook as before."""
    import nbval.kernel

    from conftest import KernelStartRetried

    wrapper = nbval.kernel.start_new_kernel
    assert getattr(wrapper, "__wrapped__", None) is not None, "conftest did not wrap nbval's kernel start"
    outcomes = [RuntimeError("Kernel died before replying to kernel_info"), ("km", "kc")]

    def flaky(*args, stderr, **kwargs):
        stderr.write(b"zmq.error.ZMQError: Address already in use")
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(wrapper, "__wrapped__", flaky)
    with pytest.warns(KernelStartRetried, match="Address already in use"):
        assert wrapper(kernel_name="python3", stderr=None) == ("km", "kc")

    def dead(*args, stderr, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(wrapper, "__wrapped__", dead)
    with pytest.warns(KernelStartRetried), pytest.raises(RuntimeError, match="Kernel died"):
        wrapper(kernel_name="python3")
