"""Build the whole book as one PDF, offline: `_build/pdf/cnnbook.pdf`.

Route: Jupyter Book's single-page HTML build (every chapter on one page, MathJax served locally), printed
by Debian's Chromium through Playwright, the same browser the tests use. Chromium typesets the math with
MathJax before printing, writes a bookmark outline from the headings (one entry per chapter, nested
sections below) and numbers the pages in the footer. Code and outputs wrap instead of running off the page.

    .venv/bin/python book/build_pdf.py            # writes _build/pdf/cnnbook.pdf (and a copy in _build/html/)

Set CNNBOOK_CHROMIUM to use another Chromium binary. Nothing is downloaded: every request the page makes
to a host other than the local file system is aborted and makes the build fail.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CNNBOOK_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio"]

# Print layout: the theme's navigation and sidebars go, code and outputs wrap, each chapter starts a page.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .prev-next-area, .bd-footer,
.bd-footer-article, .header-article-items, .headerlink, .copybtn, .toggle-button, .search-button,
#pst-back-to-top, .theme-switch-button, .bd-search, .skip-link { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-page-width, .bd-container, .bd-container__inner
  { max-width: 100% !important; width: 100% !important; padding: 0 !important; margin: 0 !important; }
pre, .highlight pre, .output pre, div.cell_output pre, code
  { white-space: pre-wrap !important; word-break: break-all !important; overflow: visible !important; }
div.cell_output, div.cell_input, .highlight { overflow: visible !important; max-height: none !important; }
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
mjx-container { overflow: visible !important; }
mjx-container[display="true"] { break-inside: avoid; }
body { font-size: 10.5pt; }
section > h1 { break-before: page; }
"""

FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          'cnnbook — page <span class="pageNumber"></span> of <span class="totalPages"></span></div>')

# Waits until every image has loaded and MathJax has typeset the whole page; returns what it found.
READY_JS = """
async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done, {once: true}); i.addEventListener('error', done, {once: true}); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) { await MathJax.typesetPromise(); }
  }
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => {
    const copy = h.cloneNode(true); copy.querySelectorAll('.headerlink').forEach(a => a.remove());
    return copy.textContent.replace(/\s+/g, ' ').trim(); });
  return {images: imgs.length, broken: imgs.filter(i => !i.naturalWidth).map(i => i.src), headings,
          math: document.querySelectorAll('mjx-container').length,
          mjx_errors: document.querySelectorAll('mjx-merror').length};
}
"""


def build_single_page(out: Path) -> Path:
    """Jupyter Book's singlehtml build of the whole book into `out`; returns its index page."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--builder", "singlehtml",
               "--path-output", str(out), "-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the single-page HTML build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    built = out / "_build" / "singlehtml" / "book" / "intro.html"
    if not built.exists():
        raise SystemExit(f"the single-page HTML build wrote no {built}")
    # Sphinx writes the page under book/ but its links to _images/ and _static/ are relative to the root.
    page = built.parents[1] / "cnnbook.html"
    shutil.copyfile(built, page)
    return page


def _squash(text: str) -> str:
    return "".join(text.split())


def fix_outline(pdf: Path, headings: list[str]) -> int:
    """Give every bookmark the exact text of the heading it points to; returns how many were changed.

    Chromium builds the outline from the headings but drops the space at a line break ("neuralnetworks")
    and sometimes repeats a heading's text ("1. Convolution1. Convolution"). Each bookmark is matched to
    the heading whose text, without spaces, it equals or repeats, and takes that heading's text.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # Chromium's trailer size: harmless, and noisy

    by_squash = {}
    for heading in headings:
        by_squash.setdefault(_squash(heading), heading)
    writer = PdfWriter(clone_from=PdfReader(str(pdf)))
    changed, stack = 0, []
    outlines = writer._root_object.get("/Outlines")
    if outlines is not None and "/First" in outlines.get_object():
        stack.append(outlines.get_object()["/First"].get_object())
    while stack:
        item = stack.pop()
        title = str(item.get("/Title", ""))
        squashed = _squash(title)
        for key, heading in sorted(by_squash.items(), key=lambda kv: -len(kv[0])):
            if key and squashed.startswith(key) and key.endswith(squashed[len(key):]):
                if heading != title:
                    item[NameObject("/Title")] = TextStringObject(heading)
                    changed += 1
                break
        for link in ("/First", "/Next"):
            if link in item:
                stack.append(item[link].get_object())
    with open(pdf, "wb") as out:
        writer.write(out)
    return changed


def print_pdf(page: Path, pdf: Path) -> dict:
    """Open `page` in Chromium with no network, wait for images and math, print it to `pdf`."""
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium "
                         f"(or set CNNBOOK_CHROMIUM to a Chromium binary).")
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, timeout=60_000)
        try:
            context = browser.new_context()
            context.route("**/*", route)
            tab = context.new_page()
            tab.goto(page.as_uri(), wait_until="load", timeout=120_000)
            tab.emulate_media(media="print")
            tab.add_style_tag(content=PRINT_CSS)
            report = tab.evaluate(READY_JS)
            pdf.parent.mkdir(parents=True, exist_ok=True)
            partial = pdf.with_suffix(".pdf.part")
            tab.pdf(path=str(partial), format="A4", print_background=True, outline=True, tagged=True,
                    display_header_footer=True, header_template="<span></span>", footer_template=FOOTER,
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})
            fix_outline(partial, report["headings"])
            partial.replace(pdf)
        finally:
            browser.close()
    if blocked:
        raise SystemExit(f"the book tried to reach the internet while printing: {sorted(set(blocked))[:5]}")
    if report["broken"] or report["mjx_errors"]:
        raise SystemExit(f"images that did not load: {report['broken'][:5]}; MathJax errors: {report['mjx_errors']}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "cnnbook.pdf", help="the PDF to write")
    parser.add_argument("--work", type=Path, default=ROOT / "_build" / "pdf-src",
                        help="folder for the single-page HTML build")
    args = parser.parse_args(argv)
    start = time.monotonic()
    page = build_single_page(args.work)
    report = print_pdf(page, args.out)
    html = ROOT / "_build" / "html"
    if html.is_dir():  # the HTML book links to cnnbook.pdf next to its pages
        shutil.copyfile(args.out, html / "cnnbook.pdf")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}: "
          f"{report['images']} images, {report['math']} formulas, {args.out.stat().st_size / 1e6:.1f} MB "
          f"in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
