"""The printable PDF of the whole book (book/build_pdf.py), opened and checked as a reader would find it.

The PDF is built once per run into `_build/pdf-test/` (set CNNBOOK_PDF to check an existing file instead):
Jupyter Book's single-page HTML build, printed by Debian's Chromium, offline. It needs Chromium like the
browser tests (`.ci/run` installs it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from browser_support import CHROMIUM, ROOT

pypdf = pytest.importorskip("pypdf")

RAW_TEX = re.compile(r"\\(frac|begin|end|mathcal|sum|left|right|operatorname|lfloor|qquad)\b|\\\(|\\\[")


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


def chapter_title(path: Path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{path} has no '# title'")


def figures_in_chapters() -> int:
    count = 0
    for entry in toc_files():
        path = ROOT / f"{entry}.ipynb"
        if path.exists():
            cells = json.loads(path.read_text())["cells"]
            count += sum("image/png" in out.get("data", {}) for cell in cells if cell["cell_type"] == "code"
                         for out in cell.get("outputs", []))
    return count


@pytest.fixture(scope="module")
def pdf() -> Path:
    if os.environ.get("CNNBOOK_PDF"):
        return Path(os.environ["CNNBOOK_PDF"])
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium; .ci/run "
                    f"installs it), so the PDF cannot be printed")
    out = ROOT / "_build" / "pdf-test" / "cnnbook.pdf"
    done = subprocess.run([sys.executable, str(ROOT / "book" / "build_pdf.py"), "--out", str(out),
                           "--work", str(ROOT / "_build" / "pdf-test-src")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"book/build_pdf.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def reader(pdf):
    return pypdf.PdfReader(str(pdf))


@pytest.fixture(scope="module")
def texts(reader) -> list[str]:
    """The text of every page, extracted once."""
    return [page.extract_text() or "" for page in reader.pages]


def outline_titles(outline) -> list[str]:
    titles = []
    for item in outline:
        titles += outline_titles(item) if isinstance(item, list) else [item.title]
    return titles


def squash(text: str) -> str:
    """Text without whitespace, ligatures unfolded (the PDF prints "ﬁ" for "fi")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def test_the_outline_has_a_bookmark_for_every_chapter_and_page(reader):
    titles = [squash(t) for t in outline_titles(reader.outline)]
    # The book numbers its Chapters part (`numbered: true` in _toc.yml): chapter k's bookmark starts "k.".
    chapters = [chapter_title(ROOT / f"{f}.ipynb") for f in toc_files() if f.startswith("notebooks/")]
    missing = [f"{k}. {t}" for k, t in enumerate(chapters, 1)
               if not any(b.startswith(f"{k}.") and squash(t) in b for b in titles)]
    missing += [t for t in ["Glossary", "Formula sheet", "References", "How to use this book", "Setup"]
                if squash(t) not in titles]
    assert not missing, f"no bookmark for {missing}"


def test_every_chapter_title_is_printed_and_pages_are_numbered(texts):
    text = squash(" ".join(texts))
    for f in toc_files():
        if f.startswith("notebooks/"):
            assert squash(chapter_title(ROOT / f"{f}.ipynb")) in text, f
    total = len(texts)
    assert total > 50
    for number in (1, total // 2, total):
        assert f"page{number}of{total}" in squash(texts[number - 1]), number


def test_no_raw_tex_is_left_in_the_pdf(texts):
    leftovers = []
    for number, text in enumerate(texts, start=1):
        for match in RAW_TEX.finditer(text):
            leftovers.append(f"page {number}: {match.group(0)!r}")
    assert not leftovers, f"untypeset math: {leftovers[:10]}"


def test_every_figure_of_the_chapters_is_in_the_pdf(reader):
    images = 0
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        images += sum(1 for obj in xobjects.values() if obj.get_object().get("/Subtype") == "/Image")
    expected = figures_in_chapters()
    assert expected > 30
    assert images >= expected, f"{images} images in the PDF, {expected} figures in the chapters"
