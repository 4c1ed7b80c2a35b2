"""Course assignments, proven end to end with nbgrader: student versions hide solutions and hidden tests,
the instructor version earns full marks, an untouched student version earns zero, and cheating or
runaway submissions are caught. Everything runs offline in one throw-away course folder (shared by the tests
of this file), with HOME and Jupyter's and IPython's config/data folders redirected there too (the user's are
never read)."""

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

from cnnbook.course import commands as grading
from cnnbook.course.student_checks import check_between, check_close, check_equal, check_tensor, forbidden

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS_DIR = ROOT / "notebooks" / "assignments"
ASSIGNMENTS = grading.available_assignments(ASSIGNMENTS_DIR)


# ----------------------------------------------------------------------------- checkers (unit tests)
def test_check_tensor_message_names_shape_values_and_hint():
    expected = torch.zeros(2, 3)
    with pytest.raises(AssertionError, match=r"wrong shape — expected \(2, 3\), got \(3, 2\).*\n  hint: transpose"):
        check_tensor(torch.zeros(3, 2), expected, "out", hint="transpose")
    got = expected.clone()
    got[1, 2] = 0.5
    with pytest.raises(AssertionError, match=r"1 of 6 positions.*index \(1, 2\): expected 0, got 0.5"):
        check_tensor(got, expected, "out")
    with pytest.raises(AssertionError, match="returned None — did you forget the `return`"):
        check_tensor(None, expected, "out")
    check_tensor(expected + 1e-7, expected, "out")  # within tolerance: no error


def test_check_tensor_nan_in_expected_matches_only_nan_in_the_same_place():
    expected = torch.tensor([1.0, float("nan"), 3.0])
    check_tensor(torch.tensor([1.0, float("nan"), 3.0]), expected, "t")
    for got in (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1e30, 3.0]), torch.tensor([float("nan"), 2.0, 3.0])):
        with pytest.raises(AssertionError, match="NaN|number where NaN"):
            check_tensor(got, expected, "t")
    check_tensor(torch.tensor([float("inf")]), torch.tensor([float("inf")]), "t")
    with pytest.raises(AssertionError, match="wrong values"):
        check_tensor(torch.tensor([float("-inf")]), torch.tensor([float("inf")]), "t")


def test_check_tensor_compares_integers_exactly_without_float_rounding():
    with pytest.raises(AssertionError, match="integers must match exactly"):
        check_tensor(torch.tensor([2**62 + 1]), torch.tensor([2**62]), "n")
    check_tensor(torch.tensor([2**62 + 1]), torch.tensor([2**62 + 1]), "n")


def test_check_equal_refuses_an_int_subclass_that_claims_to_equal_everything():
    class AlwaysEqual(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    with pytest.raises(AssertionError, match="expected a int equal to 14, got a AlwaysEqual"):
        check_equal(AlwaysEqual(0), 14, "n")
    with pytest.raises(AssertionError, match=r"expected \[\(3, 1\)\]"):
        check_equal([(3, AlwaysEqual(0))], [(3, 1)], "pairs")


def test_check_close_equal_between_accept_right_and_explain_wrong_answers():
    check_close(torch.tensor(0.30000001), 0.3, "p")
    with pytest.raises(AssertionError, match="p: expected 0.3, got 0.5"):
        check_close(0.5, 0.3, "p")
    check_equal(torch.tensor(14), 14, "n")
    with pytest.raises(AssertionError, match=r"n: expected \[\(3, 1\)\], got \[\(3, 2\)\]\.\n  hint: jump"):
        check_equal([(3, 2)], [(3, 1)], "n", hint="jump")
    with pytest.raises(AssertionError, match="between 0 and 1, got 2"):
        check_between(2.0, 0, 1, "acc")
    with pytest.raises(AssertionError, match="got nan"):
        check_between(float("nan"), 0, 1, "acc")


def test_forbidden_blocks_the_shortcut_and_restores_it_even_after_an_error():
    import torch.nn.functional as F

    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3)
    original = F.conv2d
    with pytest.raises(AssertionError, match="called torch.nn.functional.conv2d; the point of this exercise"):
        with forbidden("torch.nn.functional.conv2d", "torch.Tensor.unfold"):
            F.conv2d(x, w)
    assert F.conv2d is original and torch.equal(F.conv2d(x, w), original(x, w))
    assert x.unfold(2, 2, 1).shape == (1, 1, 3, 4, 2)  # the method is back too
    with pytest.raises(ValueError, match="does not exist"):
        with forbidden("torch.nn.functional.no_such_function"):
            pass


# ----------------------------------------------------------------------------- the instructor notebooks
def test_every_chapter_has_an_nbgrader_assignment_outside_the_book():
    assert {"a1_convolution", "a2_five_components", "a3_training", "a4_receptive_fields", "a5_cam",
            "a6_architectures", "a7_feature_maps", "a8_training_well", "a9_beyond_2d", "a10_cam_photographs",
            "a11_search_vit"} <= set(ASSIGNMENTS)
    toc = (ROOT / "_toc.yml").read_text()
    assert "assignments" not in toc, "assignment notebooks (with solutions) must not be built into the book"
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in yaml.safe_load(toc)["parts"]}
    assert parts.get("For instructors") == ["book/instructors"], "the instructors page must be in the book"
    for name in ASSIGNMENTS:
        nb = nbformat.read(ROOT / "notebooks" / "assignments" / name / f"{name}.ipynb", as_version=4)
        meta = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
        assert all(m["schema_version"] == 3 for m in meta)
        kinds = {("solution" if m["solution"] else "") + ("grade" if m["grade"] else "") for m in meta}
        assert {"solution", "grade", "solutiongrade"} <= kinds, f"{name}: needs solutions, tests, a written answer"
        text = "\n".join(c.source for c in nb.cells)
        assert "### BEGIN HIDDEN TESTS" in text and "### BEGIN SOLUTION" in text, name


def test_a_deleted_test_cell_would_come_back_where_it_was():
    """nbgrader puts a deleted test cell back right after the graded (solution or test) cell before it. If
    a plain code cell sat in between (a helper the test uses), the restored test would run before it and
    fail even for a correct answer; if a locked read-only cell came before, nbgrader would fail outright.
    So every test cell must follow a solution or test cell, with only markdown in between."""
    for name in ASSIGNMENTS:
        nb = nbformat.read(ROOT / "notebooks" / "assignments" / name / f"{name}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        for before, cell in zip(code, code[1:]):
            meta, prev = cell.metadata.get("nbgrader", {}), before.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert prev.get("solution") or prev.get("grade"), (
                    f"{name}: test cell {meta['grade_id']} follows {prev.get('grade_id') or 'a plain code cell'}; "
                    f"move that cell above the solution cell")


WRONG_ANSWERS = {  # (assignment, solution cell, test cell): a plausible mistake, and what its message must say
    ("a1_convolution", "conv2d_forward", "test_conv2d_forward"): (
        "def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return F.conv2d(x, weight, bias)  # forgets stride, padding and dilation",
        r"conv2d\(x, w, padding=1\): wrong shape — expected \(2, 4, 6, 6\), got \(2, 4, 4, 4\)\.\n  hint: pad x"),
    ("a4_receptive_fields", "rf", "test_receptive_field"): (
        "def output_size(n, kernel, stride=1, padding=0, dilation=1):\n    return 0\n\n"
        "def receptive_field(layers):  # forgets the jump\n    r, out = 1, []\n"
        "    for k, s, p, d in layers:\n        r += d * (k - 1)\n        out.append((r, 1))\n    return out",
        r"receptive field of \[\(3, 2, 1, 1\), .*\]: expected 9, got 6\.\n  hint: after a stride-2 layer"),
}


@pytest.mark.parametrize("key", WRONG_ANSWERS, ids=lambda key: key[2])
def test_a_wrong_answer_gets_expected_got_and_a_hint_not_a_traceback(key):
    """The real visible test cell, run (in this process) after a plausible wrong answer, fails with a
    checker's message: what was expected, what came back, a hint."""
    name, solution, test = key
    wrong, message = WRONG_ANSWERS[key]
    nb = nbformat.read(ROOT / "notebooks" / "assignments" / name / f"{name}.ipynb", as_version=4)
    namespace = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade") and gid != test:
            continue
        if gid == test:
            with pytest.raises(AssertionError, match=message):
                exec(cell.source, namespace)
            return
        exec(wrong if gid == solution else cell.source, namespace)
    pytest.fail(f"{name} has no test cell {test}")


# ----------------------------------------------------------------------------- a whole class, autograded
# nbgrader runs every submitted notebook in a fresh kernel, and starting one that imports torch costs 3-10 s on
# a loaded 2-core machine, more than everything else here together. So the fixture grades few notebooks:
#  - "class": an assignment whose one notebook is all the instructor notebooks one after the other, each
#    segment opened by `%reset -f` (nothing one segment defines is visible to the next; each was also run
#    alone by nbval). Two submissions: "instructor" (every solution) and "untouched" (all the *released*
#    student versions, as handed out). Each deletes one test cell: a passing one in "instructor" and a
#    failing one in "untouched".
#  - "loop_check": a tiny assignment without torch, so a short per-cell limit cannot hit a real cell; one
#    submission loops forever, the next (alphabetically later, graded after it) is correct.
CLASS, LOOP = "class", "loop_check"
DELETED = {"instructor": "a4_receptive_fields-test_output_size",  # passes: restored, must still score
           "untouched": "a1_convolution-test_conv2d_forward"}    # fails: restored, must still cost points


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    """Point HOME, Jupyter's and IPython's folders and cnnbook's cache at a throw-away folder."""
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    for var, sub in (("HOME", "."), ("JUPYTER_CONFIG_DIR", "jupyter_config"), ("JUPYTER_DATA_DIR", "jupyter_data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter_runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib"), ("CNNBOOK_CACHE", "cnnbook_cache")):
        mp.setenv(var, str(home / sub))
    mp.delenv("JUPYTER_PATH", raising=False)
    mp.delenv("JUPYTER_CONFIG_PATH", raising=False)
    yield home
    mp.undo()


def read(path: Path):
    return nbformat.read(path, as_version=4)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def concatenate(notebooks: dict):
    """{name: notebook} -> one notebook: per name a `%reset -f` cell, then its cells with grade ids `name-id`."""
    out = nbformat.v4.new_notebook(metadata=dict(next(iter(notebooks.values())).metadata))
    # one forbidden list per assignment (each is tested in test_scan / test_grading_attacks); what any allows
    out.metadata["cnnbook"] = {"forbidden": [], "allowed": sorted({a for nb in notebooks.values()
                                                                  for a in nb.metadata["cnnbook"].get("allowed", [])})}
    for name, nb in notebooks.items():
        reset = nbformat.v4.new_code_cell(f"%reset -f\n# ---- {name}")
        reset.metadata["nbgrader"] = {"grade": False, "grade_id": f"reset-{name}", "locked": True,
                                      "schema_version": 3, "solution": False, "task": False}
        out.cells.append(reset)  # locked: restored by nbgrader, so the grader's scan does not read it
        for cell in nb.cells:
            cell = nbformat.from_dict(dict(cell))
            if grade_id(cell):
                cell.metadata["nbgrader"] = dict(cell.metadata["nbgrader"], grade_id=f"{name}-{grade_id(cell)}")
            out.cells.append(cell)
    for n, cell in enumerate(out.cells):
        cell["id"] = f"cell-{n}"
    return out


def hand_in(root: Path, assignment: str, notebooks: dict) -> list[str]:
    """notebooks: {student_id: notebook} -> <student_id>.ipynb files in an inbox -> `collect`, via the CLI."""
    inbox = root / "inbox" / assignment
    inbox.mkdir(parents=True)
    for student, nb in notebooks.items():
        nbformat.write(nb, inbox / f"{student}.ipynb")
    assert grading.main(["collect", str(root), assignment, str(inbox)]) == 0
    return sorted(notebooks)


LOOP_SOURCE = [("markdown", None, "Write `square(x)`, which returns x * x."),
               ("code", ("setup", None), "from cnnbook.course.student_checks import check_equal"),
               ("code", ("solution", 0), "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
               ("code", ("test_square", 1), "check_equal(square(3), 9, 'square(3)')"),
               ("code", ("test_square_hidden", 1),
                "### BEGIN HIDDEN TESTS\ncheck_equal(square(-2), 4, 'square(-2)')\n### END HIDDEN TESTS")]


def loop_assignment(folder: Path) -> Path:
    """A tiny instructor notebook in nbgrader's format whose cells take microseconds."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    for kind, grading_meta, source in LOOP_SOURCE:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        if grading_meta:
            gid, points = grading_meta
            cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "task": False,
                                         "locked": points != 0, "solution": points == 0,
                                         "grade": bool(points), **({"points": points} if points else {})}
        nb.cells.append(cell)
    (folder / LOOP).mkdir(parents=True)
    nbformat.write(nb, folder / LOOP / f"{LOOP}.ipynb")
    return folder


@pytest.fixture(scope="module")
def course(isolated, tmp_path_factory):
    """Release, hand in, collect and autograde through the command line, as a teacher would. Returns the
    course folder and the scores `autograde` returned for the loop check."""
    root = tmp_path_factory.mktemp("course")
    # the real assignments, student versions generated
    assert grading.main(["release", str(root), "--source", str(ASSIGNMENTS_DIR)]) == 0
    sources = {name: read(root / "source" / name / f"{name}.ipynb") for name in ASSIGNMENTS}
    released = {name: read(root / "release" / name / f"{name}.ipynb") for name in ASSIGNMENTS}

    class_source = tmp_path_factory.mktemp("class_source")
    (class_source / CLASS).mkdir()
    nbformat.write(concatenate(sources), class_source / CLASS / f"{CLASS}.ipynb")
    grading.release(root, [CLASS], source=class_source)
    submissions = {"instructor": concatenate(sources), "untouched": concatenate(released)}
    for student, nb in submissions.items():
        kept = [c for c in nb.cells if grade_id(c) != DELETED[student]]
        assert len(kept) == len(nb.cells) - 1, f"no cell {DELETED[student]} to delete"
        nb.cells = kept
    assert hand_in(root, CLASS, submissions) == ["instructor", "untouched"]
    assert grading.main(["autograde", str(root), CLASS]) == 0

    grading.release(root, [LOOP], source=loop_assignment(tmp_path_factory.mktemp("loop_source")))
    looping = read(root / "source" / LOOP / f"{LOOP}.ipynb")
    answer = next(c for c in looping.cells if grade_id(c) == "solution")
    answer.source = "while True:  # never ends, so `square` is never defined\n    pass\n" + answer.source
    honest = read(root / "source" / LOOP / f"{LOOP}.ipynb")
    sleeping = read(root / "source" / LOOP / f"{LOOP}.ipynb")  # cells each under the per-cell limit, adding up
    at = next(n for n, c in enumerate(sleeping.cells) if grade_id(c) == "solution")
    sleeping.cells[at:at] = [nbformat.v4.new_code_cell("import time\ntime.sleep(1.5)") for _ in range(4)]
    hand_in(root, LOOP, {"student0_sleeps": sleeping, "student1_loops": looping, "student2_honest": honest})
    # 2 s per cell and 4 s per notebook: the cells of this notebook take microseconds, so only the loop and the
    # sleeps can reach the limits.
    return root, grading.autograde(root, [LOOP], timeout=2, notebook_timeout=4)


def grades(root: Path, assignment: str, student: str) -> dict:
    """{grade id: (auto score, max score, needs manual grade, cell type)} from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.auto_score, g.max_score, g.needs_manual_grade, g.cell.cell_type) for g in sub.grades}


def segment(rows: dict, name: str) -> dict:
    return {gid.split("-", 1)[1]: row for gid, row in rows.items() if gid.startswith(f"{name}-")}


def error_names(cell) -> list[str]:
    return [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]


def test_student_versions_contain_no_solutions_and_no_hidden_tests(course):
    root, _ = course
    for name in ASSIGNMENTS:
        source = read(root / "source" / name / f"{name}.ipynb")
        student = read(root / "release" / name / f"{name}.ipynb")
        text = "\n".join(c.source for c in student.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "Model answer"):
            assert marker not in text, f"{name}: the student version still contains {marker!r}"
        source_text = "\n".join(c.source for c in source.cells)
        hidden = re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", source_text, re.S)
        assert {kind for kind, _ in hidden} == {"SOLUTION", "HIDDEN TESTS"}, f"{name}: no solution or hidden tests"
        public = re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n.*?### END \1", "", source_text, flags=re.S)
        secret_lines = {ln.strip() for _, block in hidden for ln in block.splitlines() if len(ln.strip()) > 20}
        secret_lines -= {ln.strip() for ln in public.splitlines()}  # e.g. `with torch.no_grad():` also shown
        leaked = [ln for ln in secret_lines if ln in text]
        assert not leaked, f"{name}: solution or hidden-test lines leaked into the student version: {leaked[:3]}"
        assert text.count("raise NotImplementedError()") >= 2 and "YOUR ANSWER HERE" in text
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code"), "outputs not cleared"
        # nbgrader replaces a written-answer cell as a whole, so the question must stand in the cell before it.
        for i, cell in enumerate(source.cells):
            if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                assert cell.source.startswith("*Model answer.*"), (
                    f"{name}: a written-answer cell holds more than its model answer; students would lose the "
                    "question with it (nbgrader clears the whole cell): put the question in a cell of its own")
                question = source.cells[i - 1].source.strip()
                assert question and question in text, f"{name}: the question of a written answer is not shown to students"
        assert [grade_id(c) for c in student.cells] == [grade_id(c) for c in source.cells], \
            f"{name}: the student version must keep every graded cell, in order"


def announced_points(nb) -> tuple[int, int]:
    """'**Total: 14 points** (10 autograded, ...' in the assignment's first cell -> (14, 10)."""
    m = re.search(r"\*\*Total: (\d+) points\*\* \((\d+) autograded", nb.cells[0].source)
    assert m, "the first cell must announce '**Total: N points** (A autograded, ...'"
    return int(m.group(1)), int(m.group(2))


def test_instructor_version_earns_every_autograded_point(course):
    """Run by nbgrader with the hidden tests back in place, every test cell of every instructor solution
    passes, and the points add up to the totals each assignment announces to students."""
    root, _ = course
    rows = grades(root, CLASS, "instructor")
    for name in ASSIGNMENTS:
        mine = segment(rows, name)
        auto = {gid: r for gid, r in mine.items() if r[3] == "code"}
        written = {gid: r for gid, r in mine.items() if r[3] == "markdown"}
        assert auto and written, name
        lost = {gid: r[:2] for gid, r in auto.items() if r[0] != r[1]}
        assert not lost, f"{name}: the instructor solution lost points (score, max) in {lost}"
        assert all(r[2] for r in written.values()), f"{name}: written answers must wait for a human grader"
        total = sum(r[1] for r in mine.values())
        assert (total, sum(r[1] for r in auto.values())) == announced_points(read(
            ASSIGNMENTS_DIR / name / f"{name}.ipynb")), f"{name}: points do not match the announced total"


def test_untouched_student_version_scores_zero_without_crashing(course):
    root, _ = course
    rows = grades(root, CLASS, "untouched")
    graded = read(root / "autograded" / "untouched" / CLASS / f"{CLASS}.ipynb")
    for name in ASSIGNMENTS:
        mine = segment(rows, name)
        assert mine and all(r[0] == 0 for r in mine.values()), f"{name}: {mine}"
        cells = [c for c in graded.cells if (grade_id(c) or "").startswith(f"{name}-")]
        errors = {e for c in cells for e in error_names(c)}
        assert "NotImplementedError" in errors, f"{name}: stubs should fail with NotImplementedError, got {errors}"
        tests = [c for c in cells if c.cell_type == "code" and c.metadata["nbgrader"].get("grade")]
        assert all(error_names(c) for c in tests), f"{name}: every test cell must have run and failed"


def test_a_deleted_test_cell_is_restored_and_run(course):
    """nbgrader (OverwriteCells.add_missing_cells, switched on by our config) puts a deleted test cell back
    and runs it: deleting a failing test does not hide the failure, deleting a passing one loses nothing."""
    root, _ = course
    for student, gid in DELETED.items():
        graded = read(root / "autograded" / student / CLASS / f"{CLASS}.ipynb")
        restored = [c for c in graded.cells if grade_id(c) == gid]
        assert len(restored) == 1 and "was missing from the submission" in restored[0].source, student
        assert restored[0].get("execution_count"), f"{student}: the restored cell {gid} was not run"
        score, max_score, *_ = grades(root, CLASS, student)[gid]
        if student == "instructor":
            assert not error_names(restored[0]) and score == max_score > 0
        else:
            assert error_names(restored[0]) == ["NotImplementedError"] and score == 0 < max_score


def test_an_infinite_loop_is_stopped_by_the_time_limit_and_the_others_still_grade(course):
    root, scores = course
    assert scores[(LOOP, "student1_loops")] == (0.0, 2.0)
    assert scores[(LOOP, "student2_honest")] == (2.0, 2.0), "the submission graded after the loop must still grade"
    graded = read(root / "autograded" / "student1_loops" / LOOP / f"{LOOP}.ipynb")
    errors = [error_names(c) for c in graded.cells if c.cell_type == "code"]
    assert errors[1][0] in ("CellTimeoutError", "KeyboardInterrupt"), f"the loop was not interrupted: {errors}"
    assert errors[2:] == [["NameError"], ["NameError"]], "the test cells still ran, after the interrupted one"


def test_a_notebook_whose_cells_add_up_past_its_wall_clock_limit_is_stopped(course):
    root, scores = course
    assert scores[(LOOP, "student0_sleeps")] == (0.0, 2.0)
    graded = read(root / "autograded" / "student0_sleeps" / LOOP / f"{LOOP}.ipynb")
    notes = [o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("[grader] not run: the notebook's time limit (4 s) was reached" in n for n in notes), notes


def test_feedback_shows_verdicts_but_never_the_hidden_tests(course):
    root, _ = course
    assert grading.main(["feedback", str(root), LOOP]) == 0
    pages = sorted((root / "feedback").glob(f"*/{LOOP}/{LOOP}.html"))
    assert len(pages) == 3
    for page in pages:
        html = page.read_text()
        assert "square(3)" in html and "[grader]" in html
        assert "square(-2)" not in html and "HIDDEN TESTS" not in html, f"{page}: a hidden test leaked"


def test_feedback_withholds_any_output_that_quotes_a_hidden_test(tmp_path):
    """A student cell that printed the hidden test's source (`print(In[-1])`, were the scan to miss it) or an
    error quoting it: feedback shows neither; the verdicts and the student's other output stay."""
    hidden = "check_equal(square(-2), 4, 'square(-2) of a negative number')"
    test = nbformat.v4.new_code_cell(f"check_equal(square(3), 9, 'square(3)')\n### BEGIN HIDDEN TESTS\n{hidden}\n"
                                     "### END HIDDEN TESTS")
    test.metadata["nbgrader"] = {"grade_id": "t", "grade": True, "locked": True, "points": 1, "schema_version": 3,
                                 "solution": False, "task": False}
    source = nbformat.v4.new_notebook(cells=[test])
    released = nbformat.v4.new_notebook(cells=[nbformat.from_dict(dict(test, source="check_equal(square(3), 9, "
                                                                                 "'square(3)')"))])
    leak = nbformat.v4.new_code_cell("print(In[-2])", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                                       text=test.source)])
    mine = nbformat.v4.new_code_cell("print('my note')", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                                         text="my note\n")])
    graded_test = nbformat.from_dict(dict(test, outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="[grader] passed: square(3)\n[grader] FAILED: square(-2) of a negative number\n")]))
    graded = nbformat.v4.new_notebook(cells=[graded_test, leak, mine])
    for folder, nb in (("source/x", source), ("release/x", released), ("autograded/ann/x", graded)):
        (tmp_path / folder).mkdir(parents=True)
        nbformat.write(nb, tmp_path / folder / "x.ipynb")
    (page,) = grading.feedback(tmp_path)
    html = page.read_text()
    assert "square(-2)" not in html and "HIDDEN" not in html
    assert "this cell&#39;s output is not shown: it quotes a hidden test" in html or \
        "this cell's output is not shown: it quotes a hidden test" in html
    assert "my note" in html and "[grader] passed: square(3)" in html


def test_a_timeout_below_what_the_reference_needs_is_refused_up_front(course, capsys):
    root, _ = course
    ref = root / "references" / LOOP / f"{LOOP}.json"
    data = json.loads(ref.read_text())
    ref.write_text(json.dumps(dict(data, slowest_cell_seconds=4.2)))
    try:
        before = sorted(p.stat().st_mtime for p in (root / "autograded").rglob("*.ipynb"))
        assert grading.main(["autograde", str(root), LOOP, "--timeout", "3"]) == 2
        err = capsys.readouterr().err
        assert "--timeout 3 is below what the instructor's own solution needs" in err and "--timeout 9" in err
        assert "Traceback" not in err
        assert sorted(p.stat().st_mtime for p in (root / "autograded").rglob("*.ipynb")) == before
    finally:
        ref.write_text(json.dumps(data))


def test_export_csv_after_manual_grading(course, tmp_path):
    """The teacher grades the written answers (the instructor's model answers get full points) and exports."""
    from nbgrader.api import Gradebook

    root, _ = course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for grade in gb.find_submission_notebook(CLASS, CLASS, "instructor").grades:
            if grade.needs_manual_grade:
                grade.manual_score = grade.max_score
        gb.db.commit()
    assert grading.main(["export", str(root), "--to", str(tmp_path / "grades.csv")]) == 0
    rows = {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader((tmp_path / "grades.csv").open())}
    total = sum(announced_points(read(ASSIGNMENTS_DIR / n / f"{n}.ipynb"))[0] for n in ASSIGNMENTS)
    handed_in = {(CLASS, "instructor"): (total, total), (CLASS, "untouched"): (0.0, total),
                 (LOOP, "student0_sleeps"): (0.0, 2.0), (LOOP, "student1_loops"): (0.0, 2.0),
                 (LOOP, "student2_honest"): (2.0, 2.0)}
    assert {key: rows[key] for key in handed_in} == handed_in
    # nbgrader also lists every student for every released assignment; what was not handed in scores 0
    assert len(rows) == (len(ASSIGNMENTS) + 2) * 5 and all(rows[k][0] == 0 for k in rows.keys() - handed_in)


def test_collect_refuses_an_assignment_that_was_never_released(tmp_path):
    grading.create_course(tmp_path)
    with pytest.raises(ValueError, match="has not been released.*run `release` first"):
        grading.collect(tmp_path, "a1_convolution", tmp_path)
    with pytest.raises(ValueError, match="unknown assignment"):
        grading.release(tmp_path, ["a9_nothing"], source=ASSIGNMENTS_DIR)
    assert json.dumps(grading.available_assignments(ASSIGNMENTS_DIR)) == json.dumps(ASSIGNMENTS)
