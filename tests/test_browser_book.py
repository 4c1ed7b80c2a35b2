"""The built HTML book, read in a real browser (Debian's Chromium via Playwright) with no internet.

The book is built once per run with warnings as errors into `_build/browser-test/` (the session fixture
`book_html` in conftest.py, shared with the PDF test; set CNNBOOK_BOOK_HTML to test an existing build instead), served by `http.server` on 127.0.0.1, and
every HTML page found in the build (a glob, not a list) is opened. A request to any other host is aborted and
fails the test: a reader offline must get math, figures, search and navigation. Every page is read at
1280 × 900 (a laptop) and at 390 × 844 (a phone): no console error, one search box, the index in the sidebar,
code and outputs that fit the text column, display math that scrolls inside its own box. Screenshots for a
human look are written to `_build/screenshots/`.
"""

from __future__ import annotations

import functools
import html
import re
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

SCREENSHOTS = ROOT / "_build" / "screenshots"
LAPTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}  # viewports: every page is read at both

# Report entries that must be empty (lists) or zero (counts) on every page, and what a non-empty one means.
PAGE_PROBLEMS = [
    ("broken_images", "images not loaded"),
    ("no_alt", "images without a describing alt text"),
    ("untypeset", "math elements not typeset"),
    ("mjx_errors", "MathJax errors"),
    ("raw_tex", "raw TeX delimiters in the text"),
    ("blocks_without_copy_button", "code blocks without a copy button"),
    ("blocks_scrolling", "code/output blocks that need horizontal scrolling (px beyond the column: widest row)"),
    ("text_changed", "code/output blocks whose text differs from the built HTML (book/_static/cnnbook.js)"),
    ("math_clipped", "display math cut off instead of scrolling inside its box"),
    ("page_overflow", "the page itself scrolls sideways"),
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
    const chinese = /[\\u4e00-\\u9fff]/.test(a) && a.length >= 10;  // Chinese has no spaces between words
    return (a.split(/\\s+/).length < 5 && !chinese) || /\\.(png|jpe?g|svg|gif)$/i.test(a); }).map(i => i.getAttribute('src'));
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
  // Code and outputs fit the text column: a block that needs horizontal scrolling, with its widest row.
  r.block_overflow = blocks.map(p => p.scrollWidth - p.clientWidth);
  r.blocks_scrolling = blocks.filter(p => p.scrollWidth > p.clientWidth + 1).map(p => {
    const width = l => l.getBoundingClientRect().width;
    const widest = [...p.querySelectorAll('.cnnbook-line')].reduce((a, b) => (width(b) > width(a) ? b : a), p);
    return `${p.scrollWidth - p.clientWidth} px: ${widest.textContent.trim().slice(0, 90)}`;
  });
  r.wrapped_lines = [...document.querySelectorAll('div.highlight > pre .cnnbook-line')]
    .filter(l => l.getClientRects().length && l.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(l).lineHeight)).length;
  r.table_rows = document.querySelectorAll('div.highlight > pre .cnnbook-row').length;
  // cnnbook.js splits blocks into lines: the text (what the copy button copies) must stay exactly the same.
  const built = new DOMParser().parseFromString(await (await fetch(location.href)).text(), 'text/html');
  const before = [...built.querySelectorAll('div.highlight > pre')].map(p => p.textContent);
  r.text_changed = before.length !== blocks.length ? [`${before.length} blocks built, ${blocks.length} shown`]
    : blocks.map((p, k) => (p.textContent === before[k] ? null : p.textContent.slice(0, 60))).filter(t => t !== null);
  // Display math: content wider than its box must scroll inside the box, never be cut off.
  r.math_boxes = 0; r.math_scrolling = 0; r.math_clipped = [];
  for (const m of document.querySelectorAll('div.math mjx-container[display="true"]')) {
    r.math_boxes += 1;
    const box = m.closest('div.math');
    const content = m.querySelector('mjx-math');
    if (!content || content.getBoundingClientRect().width <= box.clientWidth + 1) continue;
    const inside = e => e.getBoundingClientRect().right <= box.getBoundingClientRect().right + 1;
    const scroller = [m, box].find(e => /auto|scroll/.test(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth
                                        && inside(e));
    if (scroller) {
      scroller.scrollLeft = 30;
      const moved = scroller.scrollLeft > 0;
      scroller.scrollLeft = 0;
      if (moved) { r.math_scrolling += 1; continue; }
    }
    r.math_clipped.push(box.textContent.trim().slice(0, 60));
  }
  r.page_overflow = document.documentElement.scrollWidth > window.innerWidth ?
    [`${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`] : [];
  // Navigation: exactly one search box on screen, and the index in the left sidebar.
  const visible = e => e.checkVisibility() && !e.closest('article, .bd-search-container');  // not search.html's own
  r.search_boxes = [...document.querySelectorAll('.search-button, .search-button-field, form.bd-search')]
    .filter(e => visible(e) && !(e.matches('form.bd-search') && e.closest('.search-button-field, dialog'))).length;
  r.sidebar_index = [...document.querySelectorAll('.bd-sidebar-primary a[href]')]
    .some(a => new URL(a.href).pathname.endsWith('/genindex.html'));
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
    ctx = OfflineContext(browser, viewport=LAPTOP)
    yield ctx
    ctx.close()


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the build (theme fragments under _static/, copies under _sources/ and the Chinese edition
    under zh_CN/, which tests/test_browser_chinese.py reads, excluded)."""
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if p.relative_to(html_dir).parts[0] not in ("_static", "_sources", "_images", "zh_CN"))


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


# What is checked only at 1280 px: on a phone a wide printed table scrolls sideways in its box, by design.
LAPTOP_ONLY = {"blocks_scrolling"}


def page_problems(report: dict, viewport: str) -> list[str]:
    """What is wrong on a page, from its PAGE_REPORT_JS report at the viewport "laptop" or "phone"."""
    found = [f"{what}: {report[key] if isinstance(report[key], int) else report[key][:3]}"
             for key, what in PAGE_PROBLEMS if report[key] and (viewport == "laptop" or key not in LAPTOP_ONLY)]
    if report["math"] and not report["mathjax_loaded"]:
        found.append("page has math but MathJax did not load")
    if report["code_cells"] and not report["code_blocks"]:
        found.append("code cells are not highlighted code blocks")
    if report["search_boxes"] != 1:
        found.append(f"{report['search_boxes']} search boxes on screen, not one")
    if not report["sidebar_index"]:
        found.append("the left sidebar has no link to the index (genindex.html)")
    return found


@pytest.fixture(scope="module")
def every_page(offline, book_html, server) -> dict:
    """Every page of the build, read once: loaded at 1280 × 900, reported, then resized to 390 × 844 (a phone:
    the theme's layout is CSS, and MathJax's output does not depend on the width) and reported again.
    {"laptop": (reports, problems), "phone": (reports, problems), "browse_time": s}, keyed by page path."""
    t0 = time.monotonic()
    result = {"laptop": ({}, {}), "phone": ({}, {}), "phone_time": 0.0}
    page = offline.new_page()
    for rel in book_pages(book_html):
        page.set_viewport_size(LAPTOP)
        errors_before = len(offline.console_errors)
        response = page.goto(server + rel, wait_until="load")
        if response is None or response.status != 200:
            result["laptop"][1][rel] = [f"HTTP {response and response.status}"]
            continue
        target = redirect_target(book_html / rel)
        if target:
            page.wait_for_url(urljoin(server + rel, target), wait_until="load")
        for viewport, size in (("laptop", LAPTOP), ("phone", PHONE)):
            t_view = time.monotonic()
            page.set_viewport_size(size)
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            report = page.evaluate(PAGE_REPORT_JS)
            reports, problems = result[viewport]
            reports[rel] = report
            # no console error is allowed, on any page
            problems[rel] = page_problems(report, viewport) + offline.console_errors[errors_before:]
            errors_before = len(offline.console_errors)
            result["phone_time"] += (time.monotonic() - t_view) * (viewport == "phone")
    page.close()
    result["browse_time"] = time.monotonic() - t0
    return result


def test_every_page_reads_correctly_offline(offline, book_html, server, every_page):
    pages = book_pages(book_html)
    expected = [f"{entry}.html" for entry in toc_entries()] + ["index.html", "search.html", "genindex.html"]
    missing = [p for p in expected if p not in pages]
    assert not missing, f"the build lacks pages for {missing} (built: {pages})"
    reports, problems = every_page["laptop"]
    browse_time = every_page["browse_time"]

    # Internal links: every same-origin URL any page refers to, requested once; fragments must exist.
    links: dict[str, set[str]] = {}
    for rel, report in reports.items():
        for url in report["urls"]:
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
    # cnnbook.js ran: long lines wrap with a hanging indent, printed tables keep their rows.
    assert sum(r["wrapped_lines"] for r in reports.values()) > 0, "no long code line wraps at 1280 px"
    assert sum(r["table_rows"] for r in reports.values()) > 0, "no printed table was recognised"
    overflow = [o for r in reports.values() for o in r["block_overflow"]]
    print(f"{len(pages)} pages, {len(links)} internal URLs checked; browsing time: {browse_time:.1f} s "
          f"(of which {every_page['phone_time']:.1f} s at phone size); "
          f"{len(overflow)} code/output blocks, {sum(o > 1 for o in overflow)} need horizontal scrolling "
          f"(widest: {max(overflow, default=0)} px beyond the column)")


def test_phone_pages_do_not_scroll_sideways_and_wide_math_scrolls_in_its_box(offline, server, every_page):
    """At 390 × 844: no page is wider than the screen, display math wider than the column scrolls inside its
    own box (on the formula sheet at least one does), one search button, no console error."""
    reports, problems = every_page["phone"]
    failures = {rel: p for rel, p in problems.items() if p}
    summary = "\n".join(f"  {rel}: {'; '.join(p)}" for rel, p in failures.items())
    assert not failures, f"{len(failures)} of {len(problems)} pages do not read correctly on a phone:\n{summary}"
    assert reports["book/formulas.html"]["math_scrolling"] > 0, \
        "no display formula of the formula sheet is wider than a phone: the scrolling check checked nothing"
    print(f"phone: {len(reports)} pages; {sum(r['math_boxes'] for r in reports.values())} display formulas, "
          f"{sum(r['math_scrolling'] for r in reports.values())} scroll in their box")

    page = offline.new_page()  # for a human look: the formula sheet on a phone
    page.set_viewport_size(PHONE)
    page.goto(server + "book/formulas.html", wait_until="load")
    page.evaluate(PAGE_REPORT_JS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "formulas-phone.png"))
    page.close()
    assert not offline.blocked, f"tried to reach the internet: {offline.blocked}"


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
    # The index points into the chapters where the ideas are taught, not only to the glossary: every chapter.
    into = {urlsplit(h).path.lstrip("/") for h in page.eval_on_selector_all("main a[href]", "as => as.map(a => a.href)")}
    not_indexed = [f"{e}.html" for e in toc_entries() if e.startswith("notebooks/") and f"{e}.html" not in into]
    assert not not_indexed, f"no index entry points into {not_indexed}"

    linked_terms = set()
    for chapter in sorted(book_html.glob("notebooks/*.html")):
        linked_terms |= set(re.findall(r'href="[^"]*glossary\.html#(term-[^"]+)"', chapter.read_text()))
    assert len(linked_terms) >= 30, f"the chapters link only {len(linked_terms)} glossary terms: {sorted(linked_terms)}"
    page.close()
