"""`collect` loses nothing: every id that is a valid file name is collected (Unicode, spaces, apostrophes,
`+`), NFC-normalised; what cannot be collected (unusable names, duplicates, symlinks, non-regular files) is
reported by name; one bad entry never stops the others; nothing is written outside the course folder. Only
files are copied here: no kernel runs (autograding such ids is proven in tests/test_grading_attacks.py)."""

import os
import unicodedata

import nbformat
import pytest

from cnnbook.course import commands

A = "a1_convolution"


@pytest.fixture()
def course(tmp_path):
    root = commands.create_course(tmp_path / "course")
    (root / "source" / A).mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, root / "source" / A / f"{A}.ipynb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return root, inbox, nbformat.writes(nb)


def test_unusual_but_valid_ids_are_all_collected_and_nfc_normalised(course):
    root, inbox, text = course
    names = ["josé", "john smith", "O'Brien", "bob+1", "Ⅻ", "zoë".replace("ë", "e\u0308")]  # last one decomposed
    for name in names:
        (inbox / f"{name}.ipynb").write_text(text)
    students, refused = commands.collect(root, A, inbox)
    assert refused == []
    assert sorted(students) == sorted(unicodedata.normalize("NFC", n) for n in names)
    for sid in students:
        assert (root / "submitted" / sid / A / f"{A}.ipynb").read_text() == text


def test_bad_entries_are_reported_by_name_and_never_stop_the_others(course, tmp_path):
    root, inbox, text = course
    (inbox / "alice.ipynb").write_text(text)
    (inbox / "alice").mkdir()
    (inbox / "alice" / f"{A}.ipynb").write_text(text)
    (inbox / "jose\u0301.ipynb").write_text(text)  # José typed on a Mac (decomposed) ...
    (inbox / "jos\u00e9").mkdir()                   # ... and on Windows (composed): one student
    (inbox / "jos\u00e9" / f"{A}.ipynb").write_text(text)
    (inbox / f"{A}.ipynb").mkdir()  # a folder named like a notebook, empty
    (inbox / "eve.ipynb").symlink_to("/etc/passwd")
    (inbox / "mallory.ipynb").symlink_to(root / "source" / A / f"{A}.ipynb")
    (inbox / "trent").mkdir()
    (inbox / "trent" / f"{A}.ipynb").symlink_to(root / "source" / A / f"{A}.ipynb")
    os.mkfifo(inbox / "pipe.ipynb")
    (inbox / "star*.ipynb").write_text(text)
    (inbox / ".hidden.ipynb").write_text(text)
    (inbox / "notes.txt").write_text("not a notebook")
    raw = os.fsencode(inbox) + b"/caf\xe9.ipynb"  # not UTF-8
    with open(raw, "w") as f:
        f.write(text)
    (inbox / "zed.ipynb").write_text(text)  # after every bad entry: still collected
    students, refused = commands.collect(root, A, inbox)
    assert students == ["zed"]
    report = "\n".join(refused)
    for expected in ("'alice.ipynb' and 'alice'", "both student 'josé'", f"'{A}.ipynb': holds none",
                     "'eve.ipynb': a symbolic link", "'mallory.ipynb': a symbolic link",
                     f"'trent'/{A}.ipynb: a symbolic link", "'pipe.ipynb': not a regular file",
                     "'star*.ipynb': cannot be a student id", "'.hidden.ipynb': a hidden name",
                     "'notes.txt': not a notebook", "caf\\udce9.ipynb'", "not valid UTF-8"):
        assert expected in report, f"{expected!r} not reported in:\n{report}"
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["zed"]
    assert not any(p.is_symlink() for p in root.rglob("*"))


def test_the_command_line_lists_what_it_refused_and_exits_1(course, capsys):
    root, inbox, text = course
    (inbox / "ann.ipynb").write_text(text)
    (inbox / "bob.ipynb").symlink_to("/etc/passwd")
    assert commands.main(["collect", str(root), A, str(inbox)]) == 1
    out, err = capsys.readouterr()
    assert "collected 1 submission(s) of a1_convolution: ann" in out
    assert "not collected: 'bob.ipynb': a symbolic link" in err


def test_check_tells_a_student_which_cells_the_grader_would_not_run(tmp_path, capsys):
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "notebooks" / "assignments" / A / f"{A}.ipynb"
    assert commands.main(["check", str(source)]) == 0
    assert "every cell you wrote passes" in capsys.readouterr().out
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "conv2d_forward")
    cell.source = "import sys\nprint(sys.modules)\n" + cell.source
    nbformat.write(nb, tmp_path / "mine.ipynb")
    assert commands.main(["check", str(tmp_path / "mine.ipynb")]) == 1
    out = capsys.readouterr().out
    number = nb.cells.index(cell) + 1
    assert f"cell {number}: not run when graded" in out and "line 2: sys.modules is not allowed" in out
    assert "sys.stderr" in out
