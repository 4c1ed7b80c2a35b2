"""The coursework is its own package, `cnnbook.course`, behind the `course` extra: the book's modules import
without nbgrader and never load the course package; the old names (`cnnbook.checks`, `cnnbook.grading`,
`cnnbook.scan`, `cnnbook.sandbox`, `cnnbook.recording`) are deprecation aliases for one release, silent in a
student's kernel; the package list is discovered, not written by hand."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_NAMES = ("checks", "grading", "scan", "sandbox", "recording")

# A meta path finder that makes nbgrader unimportable, as in a `pip install .` without the extra.
BLOCK_NBGRADER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "nbgrader" or name.startswith("nbgrader."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: no [course] extra)", name=name)
        return None
sys.meta_path.insert(0, Block())
"""

IMPORT_EVERYTHING = BLOCK_NBGRADER + """
import importlib, warnings
warnings.simplefilter("ignore")
import cnnbook
old = {f"cnnbook.{n}" for n in %r}
from pathlib import Path
top = Path(cnnbook.__file__).parent
names = sorted(".".join(("cnnbook", *p.relative_to(top).with_suffix("").parts)).removesuffix(".__init__")
               for p in top.rglob("*.py"))  # from the files: walk_packages would import every package
book = [n for n in names if not n.startswith("cnnbook.course") and n not in old]
for name in book:
    importlib.import_module(name)
assert not any(m == "cnnbook.course" or m.startswith("cnnbook.course.") for m in sys.modules), "a book module loads the course"
for name in names:
    if not name.endswith("__main__"):
        importlib.import_module(name)
assert "nbgrader" not in sys.modules
print(len(book), "book modules,", len(names) - len(book), "course modules and aliases")
""" % (OLD_NAMES,)


def run(code: str, *args, cwd=None):
    return subprocess.run([sys.executable, *args, "-c", code], capture_output=True, text=True, cwd=cwd or ROOT)


def test_every_module_imports_without_nbgrader_and_the_book_never_loads_the_course():
    done = run(IMPORT_EVERYTHING)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "book modules" in done.stdout


def test_the_course_command_answers_help_without_nbgrader_from_another_folder(tmp_path):
    done = run(BLOCK_NBGRADER + "import sys, runpy; sys.argv = ['x', '--help']\n"
               "try:\n    runpy.run_module('cnnbook.course', run_name='__main__')\nexcept SystemExit as e:\n"
               "    assert e.code == 0, e.code\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for command in ("release", "collect", "autograde", "feedback", "export", "check"):
        assert command in done.stdout
    done = run(BLOCK_NBGRADER + "import sys\nfrom cnnbook.course import main\nsys.exit(main(['export', '.']))",
               cwd=tmp_path)
    assert done.returncode == 2 and "pip install .[course]" in done.stderr and "Traceback" not in done.stderr


def test_nbgrader_is_an_extra_and_packages_are_discovered():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not any(d.startswith("nbgrader") for d in project["project"]["dependencies"])
    assert any(d.startswith("nbgrader") for d in project["project"]["optional-dependencies"]["course"])
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["cnnbook*"]
    assert "packages" not in {k for k, v in project["tool"]["setuptools"].items() if isinstance(v, list)}
    editable = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("-e .[")]
    assert len(editable) == 1 and "course" in editable[0][len("-e .["):].rstrip("]").split(","), editable


def test_old_names_are_the_new_modules_and_warn_outside_a_kernel():
    code = ("import warnings; warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    import cnnbook.checks, cnnbook.scan, cnnbook.sandbox, cnnbook.recording, cnnbook.grading\n"
            "import cnnbook.course.student_checks as s, cnnbook.course.scan as sc\n"
            "assert cnnbook.checks is s and cnnbook.scan is sc\n"
            "assert cnnbook.grading.check_equal is s.check_equal\n"
            "print(sorted({str(w.message).split(' is deprecated')[0] for w in caught "
            "if w.category is DeprecationWarning}))")
    done = run(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(sorted(f"cnnbook.{n}" for n in OLD_NAMES))


def test_the_old_checks_import_is_silent_in_a_students_kernel():
    """nbgrader fails a test cell that writes to stderr, so in a kernel (ipykernel loaded) the alias of the
    students' checks says nothing, even with every warning shown."""
    done = run("import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel')\n"
               "from cnnbook.checks import check_equal\ncheck_equal(14, 14, 'n')", "-W", "error")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    done = run("import cnnbook.course.student_checks", "-W", "error")
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_python_m_cnnbook_grading_still_works_and_points_to_the_new_command():
    done = subprocess.run([sys.executable, "-m", "cnnbook.grading", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "autograde" in done.stdout
    assert "python -m cnnbook.course" in done.stderr
