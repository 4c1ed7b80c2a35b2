"""The printable PDF of the whole book (book/build_pdf.py), opened and checked as a reader would find it.

The PDF is built once per run (set CNNBOOK_PDF to check an existing file instead) from the HTML book that the
browser tests use too (the session fixture `book_html` in conftest.py: one strict build per run), printed by Debian's
Chromium, offline, into `_build/pdf-test/`, in the background while other tests run (tests/book_builds.py). It needs Chromium like the browser tests (`.ci/run` installs it).

Every page is read once with pypdf's text visitor, which gives each run of text with its position, font and
size, and each image with its placed box (the `cm` matrix at its `Do`). The layout tests measure on those:
  - a page's emptiness is the share of its text area (between the top and bottom margins) below the lowest
    text or image on it; empty frames are vector paths, so a page that ends with one counts as empty there;
  - a code line is a printed line whose runs are all in a monospace font.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import book_builds
from browser_support import CHROMIUM, ROOT

pypdf = pytest.importorskip("pypdf")

RAW_TEX = re.compile(r"\\(frac|begin|end|mathcal|sum|left|right|operatorname|lfloor|qquad)\b|\\\(|\\\[")
MM = 72 / 25.4
TOP_MARGIN, BOTTOM_MARGIN, SIDE_MARGIN = 20 * MM, 16 * MM, 16 * MM  # book/build_pdf.py's MARGIN
MAX_EMPTY = 0.35
CONTINUED, CUT = "↪", "↵"  # book/pdf/prepare.js's marks: a continuation line, a token cut at the line's end


def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files() -> list[str]:
    return [c["file"] for part in toc()["parts"] for c in part["chapters"]]


def chapter_title(path: Path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{path} has no '# title'")


def chapters() -> list[str]:
    return [chapter_title(ROOT / f"{f}.ipynb") for f in toc_files() if f.startswith("notebooks/")]


def figures_in_chapters() -> int:
    count = 0
    for entry in toc_files():
        path = ROOT / f"{entry}.ipynb"
        if path.exists():
            cells = json.loads(path.read_text())["cells"]
            count += sum("image/png" in out.get("data", {}) for cell in cells if cell["cell_type"] == "code"
                         for out in cell.get("outputs", []))
    return count


def squash(text: str) -> str:
    """Text without whitespace, ligatures unfolded (the PDF prints "ﬁ" for "fi")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def pdf(request, book_html) -> Path:
    if os.environ.get("CNNBOOK_PDF"):
        return Path(os.environ["CNNBOOK_PDF"])
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium; .ci/run "
                    f"installs it), so the PDF cannot be printed")
    return book_builds.printed_book(request.config, "pdf")  # printed in the background (tests/book_builds.py)


@pytest.fixture(scope="module")
def reader(pdf):
    return pypdf.PdfReader(str(pdf))


@dataclass
class Run:
    x: float
    y: float
    text: str
    mono: bool
    size: float


@dataclass
class Page:
    text: str
    height: float
    width: float
    runs: list[Run] = field(default_factory=list)
    images: list[tuple[float, float, float, float]] = field(default_factory=list)  # x0, y0, x1, y1

    def lines(self) -> list[list[Run]]:
        """Runs grouped by baseline, top to bottom, each line left to right."""
        rows: list[list[Run]] = []
        for run in sorted(self.runs, key=lambda r: -r.y):
            if rows and abs(rows[-1][0].y - run.y) <= 2.5:  # inline code sits a little off the prose baseline
                rows[-1].append(run)
            else:
                rows.append([run])
        return [sorted(row, key=lambda r: r.x) for row in rows]

    def emptiness(self) -> float:
        top, bottom = self.height - TOP_MARGIN, BOTTOM_MARGIN
        lows = [r.y - 0.25 * r.size for r in self.runs if bottom < r.y < top]
        lows += [min(y0, y1) for _, y0, _, y1 in self.images]
        return (min(lows, default=top) - bottom) / (top - bottom)


def _mul(a, b):
    return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5]]


@pytest.fixture(scope="module")
def pages(reader) -> list[Page]:
    """Every page's text, text runs and image boxes, from one pass of pypdf's text visitor."""
    out = []
    for page in reader.pages:
        runs, images = [], []

        def text(t, cm, tm, font, size, runs=runs):
            if t.strip():
                m = _mul(tm, cm)
                name = str((font or {}).get("/BaseFont", ""))
                runs.append(Run(m[4], m[5], t, "Mono" in name or "Courier" in name, size * abs(m[3] or m[0])))

        def operator(op, operands, cm, tm, images=images):
            if op == b"Do":
                images.append((cm[4], cm[5], cm[4] + cm[0], cm[5] + cm[3]))

        content = page.extract_text(visitor_text=text, visitor_operand_before=operator) or ""
        box = page.mediabox
        out.append(Page(content, float(box.height), float(box.width), runs, images))
    return out


@pytest.fixture(scope="module")
def texts(pages) -> list[str]:
    return [p.text for p in pages]


def walk_outline(reader, outline, depth=0):
    """(depth, title, page index) of every bookmark, in order."""
    for item in outline:
        if isinstance(item, list):
            yield from walk_outline(reader, item, depth + 1)
        else:
            yield depth, item.title, reader.get_destination_page_number(item)


@pytest.fixture(scope="module")
def starts(reader) -> dict[int, str]:
    """Page index -> title of every front-matter page, chapter and back-matter page starting there (from the
    named destinations of their starts, which the contents links)."""
    found, marks = {}, list(walk_outline(reader, reader.outline))
    for i, (depth, title, page) in enumerate(marks):
        is_part = depth == 0 and i + 1 < len(marks) and marks[i + 1][0] == 1
        if depth <= 1 and not is_part:
            found.setdefault(page, title)
    return found


def test_the_outline_has_one_bookmark_per_part_chapter_and_section(reader):
    marks = list(walk_outline(reader, reader.outline))
    titles = [t for _, t, _ in marks]
    for k, title in enumerate(chapters(), 1):
        assert f"{k}. {title}" in titles, f"no bookmark '{k}. {title}'"
    for title in ["Contents", "Glossary", "Formula sheet", "References", "How to use this book", "Setup", "Index"]:
        assert titles.count(title) == 1, title
    assert titles.count("For instructors") == 1
    doubled = [t for t in titles if re.match(r"^(\d+\.\s*)+(.+)\s+\1?\2$", t) or re.match(r"^(\d+\.) \1", t)]
    assert not doubled, f"bookmarks with a repeated number or title: {doubled}"
    # A part's bookmark points to the first page of its first chapter, not to page 1.
    for i, (depth, title, page) in enumerate(marks):
        if depth == 0 and i + 1 < len(marks) and marks[i + 1][0] == 1:
            assert page == marks[i + 1][2], f"part {title!r} points to page {page + 1}, its first chapter to " \
                                            f"{marks[i + 1][2] + 1}"
    # Chapters are numbered, and so are their sections: "3.2. Orientation tuning" under "3. ...".
    numbered = [(d, t) for d, t, _ in marks if re.match(r"\d+\.", t)]
    sections = [t for d, t in numbered if d == 2]
    assert len(sections) >= 5 * len(chapters()) and all(re.match(r"\d+\.\d+\. \S", t) for t in sections)


def test_each_chapter_has_its_solutions_after_its_exercises(reader):
    marks = [t for _, t, _ in walk_outline(reader, reader.outline)]
    for k in range(1, len(chapters()) + 1):
        sections = [re.sub(r"^\d+\.\d+\. ", "", t) for t in marks if t.startswith(f"{k}.") and
                    re.match(rf"{k}\.\d+\. ", t)]
        if "Exercises" in sections:
            assert "Solutions" in sections[sections.index("Exercises"):], f"chapter {k}: {sections}"


def test_every_chapter_title_is_printed_and_pages_are_numbered(texts):
    text = squash(" ".join(texts))
    for title in chapters():
        assert squash(title) in text, title
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


def links(reader):
    """(page index, rect, named destination or None, URI or None) of every link annotation."""
    for number, page in enumerate(reader.pages):
        for annot in page.get("/Annots", []) or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot["/A"].get_object() if "/A" in annot else {}
            dest = annot.get("/Dest", action.get("/D"))
            yield number, [float(v) for v in annot["/Rect"]], str(dest).lstrip("/") if dest else None, \
                str(action["/URI"]) if "/URI" in action else None


def test_every_internal_link_jumps_to_a_page_of_the_pdf_and_none_to_a_file(reader):
    names = {str(k).lstrip("/"): v for k, v in reader.named_destinations.items()}
    internal, web, dead = 0, 0, []
    for number, _, dest, uri in links(reader):
        if dest is not None:
            internal += 1
            if dest not in names or not 0 <= reader.get_destination_page_number(names[dest]) < len(reader.pages):
                dead.append(f"page {number + 1}: #{dest}")
        elif uri is not None and re.match(r"(https?|mailto):", uri):
            web += 1
        else:
            dead.append(f"page {number + 1}: {uri!r}")
    assert not dead, f"{len(dead)} links that do not lead to a page of this PDF or to the web: {dead[:10]}"
    # Glossary terms, citations, exercises, cross-chapter links, the contents and the index.
    assert internal >= 800, internal
    assert web >= 10, web


def number_in(page: Page, rect) -> str:
    x0, y0, x1, y1 = rect
    return "".join(r.text for r in sorted(page.runs, key=lambda r: r.x)
                   if x0 - 1 <= r.x <= x1 + 1 and y0 - 1 <= r.y <= y1 + 1).strip()


def test_contents_and_index_page_numbers_are_the_real_pages(reader, pages, starts):
    names = {str(k).lstrip("/"): v for k, v in reader.named_destinations.items()}
    index_start = next(p for p, t in starts.items() if t == "Index")
    contents = [p for p, t in starts.items() if t == "Contents"][0]
    checked, wrong = {"contents": 0, "index": 0}, []
    for number, rect, dest, _ in links(reader):
        if dest is None or not (contents <= number < contents + 8 or number >= index_start):
            continue
        where = "index" if number >= index_start else "contents"
        page = pages[number]
        # A contents entry spans the line: its number sits at the right end; an index link is the number.
        if where == "contents":
            rect = [page.width - SIDE_MARGIN - 40, rect[1], page.width, rect[3]]
        printed = re.sub(r"\D", "", number_in(page, rect))
        if where == "contents" and not printed:
            continue  # the "Contents" title links to itself
        real = reader.get_destination_page_number(names[dest]) + 1
        checked[where] += 1
        if printed != str(real):
            wrong.append(f"{where} on page {number + 1}: #{dest} printed {printed!r}, is on page {real}")
    assert not wrong, wrong[:10]
    assert checked["contents"] >= 5 * len(chapters()), checked
    assert checked["index"] >= 80, f"index page numbers: {checked['index']}"


def test_each_chapter_starts_at_the_top_of_a_new_page(reader, pages, starts):
    docs = [t for t in starts.values() if t not in ("Contents",)]
    assert len(docs) >= len(chapters()) + 6, docs
    for number, title in starts.items():
        page = pages[number]
        body = [r for r in page.runs if r.y < page.height - TOP_MARGIN + 2]
        first = max(body, key=lambda r: (r.y, -r.x))
        assert first.y > page.height - TOP_MARGIN - 40, f"{title!r} starts {page.height - first.y:.0f} pt down"
        # The title is printed whole on this page, as its first line (titles never split).
        top_line = squash("".join(r.text for r in body if abs(r.y - first.y) < 30))
        assert squash(title) in top_line, f"page {number + 1}: {title!r} is not the page's first line"


def test_no_page_is_more_than_35_percent_empty_except_where_a_chapter_ends(pages, starts):
    too_empty = []
    for number, page in enumerate(pages):
        ends_something = number + 1 in starts or number + 1 == len(pages) or number == 0
        if not ends_something and page.emptiness() > MAX_EMPTY:
            too_empty.append(f"page {number + 1}: {page.emptiness():.0%} empty")
    assert not too_empty, too_empty


def source_lines() -> str:
    """Every line of code and of text output the book prints, whitespace removed, one per line."""
    lines = []
    for entry in toc_files():
        path = ROOT / f"{entry}.ipynb"
        if path.exists():
            for cell in json.loads(path.read_text())["cells"]:
                lines += "".join(cell["source"]).splitlines()
                for out in cell.get("outputs", []):
                    text = out.get("text") or out.get("data", {}).get("text/plain") or out.get("traceback") or ""
                    text = "\n".join(text) if isinstance(text, list) else text
                    lines += re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
        elif (ROOT / f"{entry}.md").exists():
            lines += (ROOT / f"{entry}.md").read_text().splitlines()
    return "\n" + "\n".join(squash(line) for line in lines) + "\n"


def code_lines(pages):
    for number, page in enumerate(pages):
        for line in page.lines():
            if all(r.mono for r in line) and BOTTOM_MARGIN < line[0].y < page.height - TOP_MARGIN:
                yield number, line


def test_code_wraps_at_spaces_and_marks_every_continuation_within_the_margins(pages):
    corpus = source_lines()
    broken, outside, lines, continued = [], [], 0, 0
    for number, line in code_lines(pages):
        text = squash("".join(r.text for r in line))
        if not text:
            continue
        lines += 1
        if text.startswith(CONTINUED):
            continued += 1
        elif f"\n{text}" not in corpus:
            broken.append(f"page {number + 1}: {text[:70]!r}")
        last = line[-1]
        right = last.x + 0.602 * last.size * len(last.text.rstrip())  # a monospace glyph is 0.6 em wide
        if line[0].x < SIDE_MARGIN - 2 or right > pages[number].width - SIDE_MARGIN + 3:
            outside.append(f"page {number + 1}: {text[:50]!r} spans x {line[0].x:.0f}-{right:.0f} pt")
    print(f"{lines} code lines, {continued} continuation lines, {len(broken)} not found in the sources: {broken}")
    # A line that is not a continuation must begin a line of the source: otherwise it was broken mid-word.
    assert lines > 2000 and continued > 100, (lines, continued)
    # (A prose line that holds nothing but inline code is a code line too, found inside its source line.)
    assert len(broken) <= 5, f"{len(broken)} code lines that start mid-line without a mark: {broken[:10]}"
    assert not outside, f"code beyond the margins: {outside[:10]}"


def test_running_heads_name_the_chapter_on_every_page_but_its_first(reader, pages, starts):
    missing = []
    ordered = sorted(starts.items())
    for number, page in enumerate(pages):
        current = [t for p, t in ordered if p <= number]
        if not current or number in starts:
            continue
        head = squash("".join(r.text for r in page.runs if r.y > page.height - TOP_MARGIN))
        if squash(current[-1]) not in head:
            missing.append(f"page {number + 1}: head {head[:40]!r}, chapter {current[-1]!r}")
    assert not missing, missing[:10]


def test_the_pdf_is_tagged_and_every_figure_has_its_alt_text(reader):
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"], "not a tagged PDF"
    figures, without = 0, []

    def visit(node):
        nonlocal figures
        node = node.get_object()
        if not isinstance(node, dict):
            return
        kids = node.get("/K")
        nested = [k.get_object() for k in (kids if isinstance(kids, list) else [kids]) if hasattr(k, "get_object")]
        # A figure with a caption is a /Figure holding the image's /Figure and a /Caption; the image has the alt.
        if node.get("/S") == "/Figure" and not any(isinstance(k, dict) and "/S" in k for k in nested):
            figures += 1
            if len(str(node.get("/Alt", "")).split()) < 5:
                without.append(node.get("/Alt"))
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            visit(kid)

    visit(root["/StructTreeRoot"])
    assert figures >= figures_in_chapters(), figures
    assert not without, f"figures without a describing alt text: {without[:5]}"
