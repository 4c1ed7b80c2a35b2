"""The printed Chinese edition (`book/build_pdf.py --language zh_CN`): outline, page numbers, extractable Chinese
text and embedded CJK fonts. It is printed once per run from the Chinese HTML build of the session fixture
`book_html` (conftest.py), by Debian's Chromium, offline; set CNNBOOK_PDF_ZH to check an existing file instead.
The layout itself (contents, index, running heads, code wrapping) is the English PDF's code path, tested in
test_pdf.py; here we read what differs: the language."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

import book_builds
from browser_support import CHROMIUM
from test_chinese import HAN, toc_docs

pypdf = pytest.importorskip("pypdf")

RADICALS = re.compile(r"[\u2e80-\u2fdf]")  # Kangxi and supplementary radicals: a font's shared glyphs, not text


@pytest.fixture(scope="module")
def pdf(request, book_html) -> Path:
    if os.environ.get("CNNBOOK_PDF_ZH"):
        return Path(os.environ["CNNBOOK_PDF_ZH"])
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium; .ci/run "
                    f"installs it), so the PDF cannot be printed")
    return book_builds.printed_book(request.config, "pdf-zh")  # printed in the background (tests/book_builds.py)


@pytest.fixture(scope="module")
def reader(pdf):
    return pypdf.PdfReader(str(pdf))


def chinese_titles(book_html: Path) -> dict[str, str]:
    """Each page's <h1> in the Chinese HTML build, as the reader sees it."""
    titles = {}
    for doc in toc_docs():
        page = (book_html / "zh_CN" / f"{doc}.html").read_text(encoding="utf-8")
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
        titles[doc] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r'<a class="headerlink".*?</a>', "",
                                                                             h1))).split())
    return titles


def bookmarks(reader, outline=None, depth=0):
    for item in reader.outline if outline is None else outline:
        if isinstance(item, list):
            yield from bookmarks(reader, item, depth + 1)
        else:
            yield depth, item.title, reader.get_destination_page_number(item)


def test_the_outline_names_parts_and_chapters_in_chinese_and_each_starts_on_its_page(reader, book_html):
    marks = list(bookmarks(reader))
    titles = [t for _, t, _ in marks]
    assert "目录" in titles and "索引" in titles, titles[:10]
    for part in ("入门", "章节"):
        assert any(part == t for t in titles), f"no bookmark for the part {part!r}: {titles[:12]}"
    for doc, title in chinese_titles(book_html).items():
        assert HAN.search(title), f"{doc}: the Chinese page's title {title!r}"
        found = [p for _, t, p in marks if t == title or re.fullmatch(rf"\d+\. {re.escape(title)}", t)]
        assert found, f"no bookmark for {title!r} (a chapter's carries its number: '1. 卷积')"
        text = re.sub(r"\s+", "", reader.pages[found[0]].extract_text())
        assert re.sub(r"\s+", "", title) in text, f"{title!r} is not printed on its bookmarked page {found[0] + 1}"
    assert sum(depth == 2 for depth, _, _ in marks) > 100, "chapters' sections are missing from the outline"


def test_every_page_is_numbered_in_chinese_and_its_text_is_chinese_characters(reader):
    total = len(reader.pages)
    assert total > 150
    han = 0
    for number in range(0, total, 7):  # every 7th page: every kind of page, in a tenth of the time
        text = reader.pages[number].extract_text()
        assert f"第 {number + 1} 页，共 {total} 页" in re.sub(r"\s+", " ", text), \
            f"page {number + 1} has no footer '第 {number + 1} 页，共 {total} 页': {text[-120:]!r}"
        assert not RADICALS.search(text), f"page {number + 1}: Kangxi radicals instead of characters " \
                                          f"{RADICALS.findall(text)[:5]} (a CJK font's shared glyphs)"
        han += len(HAN.findall(text))
    assert han > 250 * len(range(0, total, 7)), f"only {han} Chinese characters on the sampled pages"


def test_the_cjk_fonts_are_embedded_and_the_document_says_it_is_chinese(reader):
    fonts = {}
    for number in range(0, len(reader.pages), 25):
        resources = reader.pages[number].get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            if font.get("/Subtype") == "/Type3":
                continue  # glyphs drawn by the PDF itself: nothing to embed
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            fonts[str(descendant.get("/BaseFont"))] = any(k in descriptor for k in ("/FontFile", "/FontFile2",
                                                                                      "/FontFile3"))
    cjk = [name for name in fonts if re.search(r"WenQuanYi|CJK|Hei|Song|Kai", name)]
    assert cjk, f"no CJK font in the PDF: {sorted(fonts)}"
    assert all(fonts.values()), f"fonts not embedded: {[n for n, e in fonts.items() if not e]}"
    assert str(reader.trailer["/Root"].get("/Lang", "")).lower().startswith("zh"), reader.trailer["/Root"].get("/Lang")
    assert HAN.search(reader.metadata.title or ""), reader.metadata.title
