"""Build the whole book as one printable PDF, offline: `_build/pdf/cnnbook.pdf`.

Route: the HTML book (`jupyter-book build .`, incremental; README command (a) has just built it) is assembled
into one page by book/pdf/assemble.py — a title page, the contents, every page of `_toc.yml` starting on a new
page, an index from Sphinx's genindex — with every internal link rewritten to a fragment of that page. Debian's
Chromium (through Playwright, no download) typesets it with book/pdf/print.css after book/pdf/prepare.js has
wrapped the code to the column, and prints it twice: the first print tells on which page every linked id
landed (Chromium writes a named destination per link target), the page numbers go into the contents and the
index, and the second print is the book (a third only if the numbers moved a page). Then book/pdf/finish.py
stamps the running heads (a page of heads printed by Chromium, merged with pypdf) and writes the outline.
The PDF is tagged (structure tree, figures carry their alt text). Chinese text needs only a CJK font
(Debian: fonts-noto-cjk); no TeX.

    .venv/bin/python book/build_pdf.py                    # writes _build/pdf/cnnbook.pdf (and a copy in _build/html/)
    .venv/bin/python book/build_pdf.py --language zh_CN   # the Chinese edition: _build/pdf/cnnbook-zh.pdf (and a
                                                          # copy in _build/html/zh_CN/), from book/build_zh.py's build

The printed book's own words (Contents, Index, the page footer, the title page, the part captions) come from the
edition's catalogs (locale/<language>/LC_MESSAGES/interface.po and book/intro.po) in a translated edition.

Set CNNBOOK_CHROMIUM to use another Chromium binary. Nothing is downloaded: every request the page makes
to a host other than the local file system is aborted and makes the build fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "pdf"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "book"))

from assemble import CONTENTS_ID, INDEX_ID, Assembler  # noqa: E402
from finish import Mark, destinations, finish, heads_html, internal_links  # noqa: E402

CHROMIUM = Path(os.environ.get("CNNBOOK_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio"]
MARGIN = {"top": "20mm", "bottom": "16mm", "left": "16mm", "right": "16mm"}
COLUMN_PX = round((210 - 32) / 25.4 * 96)  # the printed text column, in CSS pixels
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">cnnbook — {page}</div>')
PAGE_WORDS = "page {page} of {total}"
EDITIONS = {"en": ("en", "cnnbook.pdf"), "zh_CN": ("zh-CN", "cnnbook-zh.pdf")}  # language: (HTML lang, PDF name)


def words(language: str) -> dict[str, str]:
    """The printed book's words in `language` ({} for English): interface.po, and the root page's catalog, which
    holds the part captions of the table of contents."""
    if language == "en":
        return {}
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from interface_i18n import load_table
    finally:
        sys.path.pop(0)
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    interface, captions = load_table(language), load_table(language, root)
    if not interface or not captions:
        raise SystemExit(f"the {language} edition has no catalogs under locale/{language}/LC_MESSAGES/")
    return {**captions, **interface}


def footer(table: dict[str, str]) -> str:
    text = table.get(PAGE_WORDS, PAGE_WORDS).format(page='<span class="pageNumber"></span>',
                                                    total='<span class="totalPages"></span>')
    return FOOTER.format(page=text)
FILL_JS = """pages => { for (const e of document.querySelectorAll('.pdf-page[data-target]')) {
  const n = pages[e.dataset.target]; e.textContent = n === undefined ? '?' : String(n); } }"""


def build_html(out: Path | None, language: str = "en") -> Path:
    """`jupyter-book build .` with warnings as errors (incremental), into `out` or the default _build/; for a
    translated edition, book/build_zh.py (into `out`/_build/html/<language>)."""
    if language != "en":
        import build_zh

        html = ((out or ROOT) / "_build" / "html" / language)
        try:
            code = build_zh.build(html, html.parent.parent / f".doctrees-{language}", strict=True, quiet=True)
        except Exception as error:  # Sphinx's own errors (extension errors, warnings as errors)
            raise SystemExit(f"the {language} HTML build failed: {error}") from error
        if code != 0:
            raise SystemExit(f"the {language} HTML build (warnings are errors) failed with exit {code}")
        return html
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "-W", "-n", "--keep-going"]
    if out is not None:
        command += ["--path-output", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        raise SystemExit("the HTML build (warnings are errors) failed:\n" + "\n".join(problems[:30] or [log[-4000:]]))
    return (out or ROOT) / "_build" / "html"


def outline(assembler: Assembler) -> list[Mark]:
    """Parts, their pages and the numbered chapters' sections; a part of one page of the same title is one entry."""
    marks = []
    for caption, docs in assembler.parts():
        pages = [Mark(d.title, d.slug, [Mark(t, i, []) for i, t in d.sections] if d.numbered else [])
                 for d in docs]
        if not caption:
            marks += [Mark(assembler.word("Contents"), CONTENTS_ID, [])] + pages
        elif len(docs) == 1 and docs[0].title == caption:
            marks += pages
        else:
            marks.append(Mark(caption, docs[0].slug, pages))
    return marks + [Mark(assembler.word("Index"), INDEX_ID, [])]


def running_heads(assembler: Assembler, pages: dict[str, int], total: int) -> list[tuple[str, str]]:
    """(left, right) head of every page: the title of the book's page it belongs to and, in a chapter, the
    last section begun by the end of the page (as LaTeX's right marks); no head on the first page of anything."""
    starts = [(pages[CONTENTS_ID], assembler.word("Contents"), [])]
    for _, docs in assembler.parts():
        starts += [(pages[d.slug], d.title, [(pages[i], t) for i, t in d.sections] if d.numbered else [])
                   for d in docs]
    starts.append((pages[INDEX_ID], assembler.word("Index"), []))
    heads = []
    for number in range(1, total + 1):
        before = [s for s in starts if s[0] <= number]
        if not before or before[-1][0] == number:
            heads.append(("", ""))
            continue
        sections = [t for start, t in before[-1][2] if start <= number]
        heads.append((before[-1][1], sections[-1] if sections else ""))
    return heads


def print_book(assembler: Assembler, work: Path, out: Path) -> dict:
    """Print the assembled page (two or three passes), stamp heads and outline; returns what it measured."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium "
                         f"(or set CNNBOOK_CHROMIUM to a Chromium binary).")
    t0 = time.monotonic()
    text, facts = assembler.page((HERE / "print.css").read_text())
    if assembler.problems:
        raise SystemExit("links to ids that do not exist:\n" + "\n".join(assembler.problems[:20]))
    work.mkdir(parents=True, exist_ok=True)
    page = work / "cnnbook-print.html"
    page.write_text(text, encoding="utf-8")
    timings = {"assemble_s": round(time.monotonic() - t0, 1)}
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort("internetdisconnected")

    options = dict(format="A4", print_background=True, tagged=True, outline=False, display_header_footer=True,
                   header_template="<span></span>", footer_template=footer(assembler.words), margin=MARGIN)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, timeout=60_000)
        try:
            context = browser.new_context(viewport={"width": COLUMN_PX, "height": 1000})
            context.route("**/*", route)
            tab = context.new_page()
            t = time.monotonic()
            tab.goto(page.as_uri(), wait_until="load", timeout=180_000)
            tab.emulate_media(media="print")
            report = tab.evaluate((HERE / "prepare.js").read_text())
            timings["typeset_s"] = round(time.monotonic() - t, 1)
            if report["broken"] or report["mjx_errors"] or blocked:
                raise SystemExit(f"images that did not load: {report['broken'][:5]}; MathJax errors: "
                                 f"{report['mjx_errors']}; requests to the internet: {sorted(set(blocked))[:5]}")
            if report["too_wide"]:
                raise SystemExit("wider than the text column:\n" + "\n".join(report["too_wide"][:20]))
            raw, filled, passes = work / "pass.pdf", {}, 0
            while True:
                t = time.monotonic()
                tab.pdf(path=str(raw), **options)
                passes += 1
                timings[f"print_pass{passes}_s"] = round(time.monotonic() - t, 1)
                reader = PdfReader(str(raw))
                places = destinations(reader)
                pages = {name: place.page + 1 for name, place in places.items()}
                if pages == filled or passes == 3:
                    break
                tab.evaluate(FILL_JS, pages)
                filled = pages
            if pages != filled:
                raise SystemExit("the page numbers of the contents and index did not settle in three prints")
            total = len(reader.pages)
            heads = work / "heads.pdf"
            t = time.monotonic()
            tab.set_content(heads_html(running_heads(assembler, pages, total), assembler.lang))
            tab.pdf(path=str(heads), format="A4", print_background=False, margin={k: "0" for k in MARGIN},
                    prefer_css_page_size=True)
            timings["heads_s"] = round(time.monotonic() - t, 1)
        finally:
            browser.close()
    t = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".pdf.part")
    bookmarks = finish(str(raw), str(heads), str(partial), outline(assembler), places, assembler.book_title())
    partial.replace(out)
    timings["finish_s"] = round(time.monotonic() - t, 1)
    named, uris = internal_links(PdfReader(str(out)))
    missing = sorted({n for n in named if n not in places})
    if missing:
        raise SystemExit(f"internal links without a destination in the PDF: {missing[:10]}")
    report.update(timings, pages=total, passes=passes, bookmarks=bookmarks, internal_links=len(named),
                  web_links=len(uris), index_entries=facts["index_entries"],
                  chapters=sum(d.numbered for d in facts["docs"]), unlinked=assembler.unlinked)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=sorted(EDITIONS), default="en", help="the edition to print")
    parser.add_argument("--out", type=Path, help="the PDF to write (default _build/pdf/cnnbook.pdf, or "
                        "cnnbook-zh.pdf for zh_CN)")
    parser.add_argument("--work", type=Path, default=ROOT / "_build" / "pdf-src",
                        help="folder for the assembled page and the intermediate prints")
    parser.add_argument("--html", type=Path, help="an HTML build of the book to print (default: build it "
                        "incrementally into _build/html first)")
    parser.add_argument("--build-html-into", type=Path, help="build the HTML book into this --path-output instead")
    parser.add_argument("--report", type=Path, help="write the build's measurements here as JSON")
    args = parser.parse_args(argv)
    lang, name = EDITIONS[args.language]
    args.out = args.out or ROOT / "_build" / "pdf" / name
    start = time.monotonic()
    html = args.html or build_html(args.build_html_into, args.language)
    html_s = time.monotonic() - start
    report = print_book(Assembler(ROOT, html, words(args.language), lang), args.work, args.out)
    report["html_s"] = round(html_s, 1)
    report["total_s"] = round(time.monotonic() - start, 1)
    edition_html = ROOT / "_build" / "html" / ("" if args.language == "en" else args.language)
    if args.html is None and edition_html.is_dir():  # the HTML book links to cnnbook.pdf next to its pages
        shutil.copyfile(args.out, edition_html / "cnnbook.pdf")
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    shown = {k: v for k, v in report.items() if k not in ("broken", "too_wide", "unlinked")}
    print(f"wrote {args.out}: {json.dumps(shown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
