"""The built HTML book, read in a real browser (Debian's Chromium via Playwright) with no internet.

The book is built with warnings as errors into `_build/browser-test/` (incremental: fast when sources did not
change; set CNNBOOK_BOOK_HTML to test an existing build instead), served by `http.server` on 127.0.0.1, and
every HTML page found in the build (a glob, not a list) is opened. A request to any other host is aborted and
fails the test: a reader offline must get math, figures, search and navigation. Screenshots for a human look
are written to `_build/screenshots/`.
"""

from __future__ import annotations

import functools
import html
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
import yaml

from browser_support import ROOT, OfflineContext

BUILD_DIR = ROOT / "_build" / "browser-test"
SCREENSHOTS = ROOT / "_build" / "screenshots"
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

# Console errors that do not stop a page from reading correctly, each with its reason. Keep it short.
CONSOLE_ALLOW: list[tuple[str, str]] = [
    (r"Identifier 'THEBE_JS_URL' has already been declared",
     "Sphinx 7.4.7 (the version jupyter-book 1.0.4 pins) writes inline scripts that sphinx-thebe adds after the "
     "builder started twice; the first copy defines the constants, so only live-code (thebe, unused: no launch "
     "buttons) config is touched and nothing the reader sees changes."),
]

# Report entries that must be empty (lists) or zero (counts) on every page, and what a non-empty one means.
PAGE_PROBLEMS = [
    ("broken_images", "images not loaded"),
    ("no_alt", "images without a describing alt text"),
    ("untypeset", "math elements not typeset"),
    ("mjx_errors", "MathJax errors"),
    ("raw_tex", "raw TeX delimiters in the text"),
    ("blocks_without_copy_button", "code blocks without a copy button"),
]

# Runs in the page after it loaded: waits for pending images and for MathJax, then reports what a reader sees.
PAGE_REPORT_JS = """
async () => {
  const r = {};
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done, {once: true});
    i.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  })));
  r.images = imgs.length;
  r.broken_images = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  // What a screen reader says for a figure: a description, not empty and not the file's name.
  r.no_alt = imgs.filter(i => { const a = (i.getAttribute('alt') || '').trim();
    return a.split(/\\s+/).length < 5 || /\\.(png|jpe?g|svg|gif)$/i.test(a); }).map(i => i.getAttribute('src'));
  const math = [...document.querySelectorAll('.math')];
  r.math = math.length;
  r.mathjax_loaded = !!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise);
  if (math.length && r.mathjax_loaded) {
    await Promise.race([MathJax.startup.promise, new Promise(done => setTimeout(done, 20000))]);
  }
  r.untypeset = math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80));
  r.mjx = document.querySelectorAll('mjx-container').length;
  r.mjx_errors = [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80));
  // Raw TeX left in what the reader sees (code is allowed to show TeX; typeset math is not text).
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .jp-RenderedText';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  r.raw_tex = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (/\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/.test(t) && !n.parentElement.closest(skip)) r.raw_tex.push(t.trim().slice(0, 80));
  }
  const blocks = [...document.querySelectorAll('div.highlight pre')];
  r.code_blocks = blocks.length;
  r.code_cells = document.querySelectorAll('div.cell div.cell_input').length;
  r.blocks_without_copy_button = blocks.filter(p => !p.parentElement.querySelector('button.copybtn')).length;
  r.urls = [...document.querySelectorAll('a[href]')].map(a => a.href)
    .concat([...document.querySelectorAll('link[href]')].map(l => l.href))
    .concat([...document.querySelectorAll('script[src], img[src], source[src], iframe[src]')].map(e => e.src));
  r.title = document.title;
  return r;
}
"""


def toc_entries() -> list[str]:
    def files(node):
        if isinstance(node, dict):
            return ([node["file"]] if "file" in node else []) + [f for v in node.values() for f in files(v)]
        if isinstance(node, list):
            return [f for v in node for f in files(v)]
        return []
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + files(toc)


@pytest.fixture(scope="module")
def book_html() -> Path:
    """The built book's html folder: CNNBOOK_BOOK_HTML if set, else a fresh (incremental) strict build."""
    if os.environ.get("CNNBOOK_BOOK_HTML"):
        return Path(os.environ["CNNBOOK_BOOK_HTML"])
    t0 = time.monotonic()
    proc = subprocess.run([str(JUPYTER_BOOK), "build", str(ROOT), "-W", "-n", "--keep-going",
                           "--path-output", str(BUILD_DIR)], capture_output=True, text=True, timeout=600)
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        pytest.fail(f"jupyter-book build -W -n --keep-going failed (rc={proc.returncode}); build log:\n{log[-8000:]}",
                    pytrace=False)
    print(f"book build time: {time.monotonic() - t0:.1f} s")
    return BUILD_DIR / "_build" / "html"


@pytest.fixture(scope="module")
def server(book_html):
    """http.server for the built book on 127.0.0.1, a free port, in a thread; yields the base URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser dropped a connection: fine
                super().handle_error(request, client_address)

    httpd = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(book_html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def offline(browser):
    ctx = OfflineContext(browser, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the build (theme fragments under _static/ and copies under _sources/ excluded)."""
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if p.relative_to(html_dir).parts[0] not in ("_static", "_sources", "_images"))


def redirect_target(path: Path) -> str | None:
    m = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', path.read_text(), re.I)
    return m.group(1) if m else None


def anchors_of(path: Path) -> set[str]:
    return {html.unescape(a) for a in re.findall(r'\s(?:id|name)="([^"]+)"', path.read_text())}


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_every_page_reads_correctly_offline(offline, book_html, server):
    pages = book_pages(book_html)
    expected = [f"{entry}.html" for entry in toc_entries()] + ["index.html", "search.html", "genindex.html"]
    missing = [p for p in expected if p not in pages]
    assert not missing, f"the build lacks pages for {missing} (built: {pages})"

    t0 = time.monotonic()
    problems: dict[str, list[str]] = {}
    reports: dict[str, dict] = {}
    page = offline.new_page()
    for rel in pages:
        errors_before = len(offline.console_errors)
        response = page.goto(server + rel, wait_until="load")
        found = problems.setdefault(rel, [])
        if response is None or response.status != 200:
            found.append(f"HTTP {response and response.status}")
            continue
        target = redirect_target(book_html / rel)
        if target:
            page.wait_for_url(urljoin(server + rel, target), wait_until="load")
        report = page.evaluate(PAGE_REPORT_JS)
        reports[rel] = report
        found += [f"{what}: {report[key] if isinstance(report[key], int) else report[key][:3]}"
                  for key, what in PAGE_PROBLEMS if report[key]]
        if report["math"] and not report["mathjax_loaded"]:
            found.append("page has math but MathJax did not load")
        if report["code_cells"] and not report["code_blocks"]:
            found.append("code cells are not highlighted code blocks")
        new_errors = [e for e in offline.console_errors[errors_before:]
                      if not any(re.search(pattern, e) for pattern, _ in CONSOLE_ALLOW)]
        found += new_errors
    page.close()
    browse_time = time.monotonic() - t0

    # Internal links: every same-origin URL any page refers to, requested once; fragments must exist.
    links: dict[str, set[str]] = {}
    for rel, report in reports.items():
        for url in report["urls"]:
            if url == urljoin(server, "cnnbook.pdf"):
                continue  # written next to the HTML by book/build_pdf.py, after this build; tests/test_pdf.py checks it
            if url.startswith(server):
                base, fragment = urldefrag(url)
                links.setdefault(base, set())
                if fragment and urlsplit(base).path.endswith(".html"):
                    links[base].add(fragment)
    bad_links = []
    for base, fragments in sorted(links.items()):
        status = fetch_status(base)
        if status != 200:
            bad_links.append(f"{status} {base}")
            continue
        local = book_html / urlsplit(base).path.lstrip("/")
        if local.is_dir():
            local = local / "index.html"
        if fragments and local.suffix == ".html":
            missing_ids = sorted(f for f in fragments if f not in anchors_of(local))
            if missing_ids:
                bad_links.append(f"{base}: no element with id {missing_ids}")

    failures = {rel: p for rel, p in problems.items() if p}
    summary = "\n".join(f"  {rel}: {'; '.join(p)}" for rel, p in failures.items())
    assert not offline.blocked, f"pages tried to reach the internet (aborted): {sorted(set(offline.blocked))}"
    assert not failures, f"{len(failures)} of {len(pages)} pages do not read correctly:\n{summary}"
    assert not bad_links, "broken internal links:\n  " + "\n  ".join(bad_links)
    assert not offline.http_errors, f"failed requests: {offline.http_errors}"
    # The checks above must have had something to check.
    assert sum(r["mjx"] for r in reports.values()) > 0, "no page of the book has typeset math"
    assert sum(r["images"] for r in reports.values()) > 0, "no page of the book has an image"
    chapters = [rel for rel in reports if rel.startswith("notebooks/")]
    assert chapters and all(reports[c]["code_cells"] > 0 for c in chapters), "chapter pages without code cells"
    print(f"{len(pages)} pages, {len(links)} internal URLs checked; browsing time: {browse_time:.1f} s")


def search(page, server: str, query: str) -> list[str]:
    """The pages (paths relative to the book root) Sphinx's search page lists for `query`."""
    page.goto(f"{server}search.html?q={query.replace(' ', '+')}", wait_until="load")
    page.wait_for_function(
        "() => /Search finished/.test(document.querySelector('#search-results .search-summary')?.textContent || '')",
        timeout=20_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "as => as.map(a => a.href)")
    return [urlsplit(h).path.lstrip("/") for h in hrefs]


def page_text(path: Path) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body)).lower()


def test_search_finds_chapter_phrases(offline, book_html, server):
    page = offline.new_page()
    ch1 = "notebooks/01_convolution.html"
    assert "im2col" in page_text(book_html / ch1), "chapter 1 no longer mentions im2col: pick another phrase"
    found = search(page, server, "im2col")
    assert ch1 in found, f"searching 'im2col' does not list chapter 1; results: {found}"

    # "receptive field": required once chapter 5 is in the book, and then it must find chapter 5.
    pages_with_phrase = [rel for rel in book_pages(book_html) if rel.startswith(("book/", "notebooks/"))
                         and "receptive field" in page_text(book_html / rel)]
    ch5 = [f"{e}.html" for e in toc_entries() if e.startswith("notebooks/05")]
    if ch5:
        assert ch5[0] in pages_with_phrase, f"chapter 5 ({ch5[0]}) never says 'receptive field'"
    if pages_with_phrase:
        found = search(page, server, "receptive field")
        assert found, f"searching 'receptive field' finds nothing, though {pages_with_phrase} contain it"
        assert set(found) & set(pages_with_phrase), f"'receptive field' results {found} miss {pages_with_phrase}"
        for c in ch5:
            assert c in found, f"searching 'receptive field' does not list {c}; results: {found}"
    page.close()
    assert not offline.blocked, f"search tried to reach the internet: {offline.blocked}"


def test_screenshots_for_inspection(offline, book_html, server):
    """Screenshots of the front page and of the first chapter (top, first display equation, first figure)
    for a human to look at; also checks the chapter's first figure is visible and not tiny."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = offline.new_page()
    page.goto(server + "index.html", wait_until="load")
    page.wait_for_url("**/book/intro.html", wait_until="load")
    page.screenshot(path=str(SCREENSHOTS / "index.png"))
    chapter = sorted(p for p in book_pages(book_html) if p.startswith("notebooks/"))[0]
    stem = Path(chapter).stem
    page.goto(server + chapter, wait_until="load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    page.screenshot(path=str(SCREENSHOTS / f"{stem}-top.png"))
    shots = {"math": "mjx-container[display='true']", "figure": "div.cell_output img"}
    for name, selector in shots.items():
        element = page.locator(selector).first
        assert element.count(), f"{chapter} has no {selector}"
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 10, f"{chapter}: first {name} is not visible: {box}"
        page.screenshot(path=str(SCREENSHOTS / f"{stem}-{name}.png"))
    page.close()
    assert not offline.blocked, f"tried to reach the internet: {offline.blocked}"
    assert (SCREENSHOTS / "index.png").stat().st_size > 10_000


def test_exercise_solutions_stay_hidden_until_revealed(offline, book_html, server):
    """Chapters end with sphinx-exercise exercises whose solutions are collapsed dropdowns, and the course
    assignments (instructor notebooks: solutions, hidden tests) are not in the HTML at all."""
    leaks = sorted(p.relative_to(book_html).as_posix() for p in book_html.rglob("*") if p.is_file()
                   and any(m in p.read_bytes() for m in (b"### BEGIN SOLUTION", b"### BEGIN HIDDEN TESTS")))
    assert not leaks, f"nbgrader solution or hidden-test markers in the built book: {leaks}"
    assert not [p for p in book_pages(book_html) if "assignments/" in p], "an assignment notebook was built"
    chapters = [f"{e}.html" for e in toc_entries() if e.startswith("notebooks/")]
    for rel in chapters:
        found = re.findall(r'<(\w+) class="([^"]*\bsolution\b[^"]*)"', (book_html / rel).read_text())
        assert found, f"{rel}: no sphinx-exercise solution (each chapter ends with exercises and solutions)"
        closed = [tag == "details" and "open" not in cls or "dropdown" in cls.split() for tag, cls in found]
        assert all(closed), f"{rel}: a solution is not a collapsed dropdown (`:class: dropdown`): {found}"

    page = offline.new_page()  # what a reader sees: the dropdown class really hides the text until clicked
    page.goto(server + chapters[0], wait_until="load")
    solutions = page.locator("div.solution")
    assert solutions.count() and page.locator("div.exercise").first.is_visible()
    for i in range(solutions.count()):
        body = solutions.nth(i).locator("section").first
        assert solutions.nth(i).locator(".admonition-title").is_visible() and not body.is_visible(), \
            f"{chapters[0]}: solution {i + 1} is readable before the reader opens it"
        solutions.nth(i).locator("button.toggle-button").click()
        body.wait_for(state="visible", timeout=5_000)
    page.close()
    assert not offline.blocked, f"tried to reach the internet: {offline.blocked}"


def test_glossary_formula_sheet_and_index_serve_revision(offline, book_html, server):
    """The back matter a student revises from: >= 30 glossary terms, each linking to the chapter that builds it
    and linked from the chapters; a formula sheet of typeset formulas with links to the chapters that check
    them; and an index page that lists the key ideas."""
    page = offline.new_page()
    page.goto(server + "book/glossary.html", wait_until="load")
    terms = page.eval_on_selector_all("dl.glossary > dt", "ds => ds.map(d => d.id)")
    chapter_links = page.eval_on_selector_all(
        "dl.glossary > dd", "dds => dds.filter(d => d.querySelector('a[href*=\"notebooks/\"]')).length")
    assert len(terms) >= 30 and all(t.startswith("term-") for t in terms), terms
    assert chapter_links == len(terms), f"{len(terms) - chapter_links} glossary terms link to no chapter"

    page.goto(server + "book/formulas.html", wait_until="load")
    page.evaluate(PAGE_REPORT_JS)  # waits for MathJax
    displays = page.eval_on_selector_all("mjx-container[display='true']", "ms => ms.length")
    checked_in = page.eval_on_selector_all("a[href*='notebooks/']", "as => as.length")
    assert displays >= 10 and checked_in >= displays, (displays, checked_in)

    page.goto(server + "genindex.html", wait_until="load")
    index_text = page.inner_text("main").lower()
    for idea in ("receptive field", "grad-cam", "batch normalisation", "output size", "stride", "dropout"):
        assert idea in index_text, f"the index does not list {idea!r}"

    linked_terms = set()
    for chapter in sorted(book_html.glob("notebooks/*.html")):
        linked_terms |= set(re.findall(r'href="[^"]*glossary\.html#(term-[^"]+)"', chapter.read_text()))
    assert len(linked_terms) >= 30, f"the chapters link only {len(linked_terms)} glossary terms: {sorted(linked_terms)}"
    page.close()
