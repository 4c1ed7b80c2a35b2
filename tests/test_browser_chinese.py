"""The Chinese edition (html/zh_CN/ of the build in conftest.py's `book_html`), read in Debian's Chromium with no
internet, as tests/test_browser_book.py reads the English one: every Chinese page is opened at laptop size and must
read correctly (the same report: images, alt text, math, code that fits, one search box, the index in the sidebar,
no console error) with `lang="zh-CN"`, Chinese alt text on its figures and a language switch to its English twin;
Sphinx's search, segmented with jieba, finds the chapters by their Chinese terms."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from test_browser_book import LAPTOP, PAGE_REPORT_JS, book_pages, fetch_status, page_problems, redirect_target, \
    toc_entries
from test_browser_book import offline, server  # noqa: F401  (module fixtures: the browser context, the server)
from test_chinese import HAN


# Runs in a Chinese page: its language, its figures' alt text, its language switch.
EDITION_JS = """
() => ({
  lang: document.documentElement.lang,
  figures: [...document.querySelectorAll('.cell_output img, figure img')].map(i => i.getAttribute('alt') || ''),
  twin: document.querySelector('.cnnbook-language-switch a')?.href || null,
  title: document.title,
})
"""


@pytest.fixture(scope="module")
def chinese_pages(offline, book_html, server):  # noqa: F811
    """Every page of the Chinese build, read once at 1280 × 900: {page: (report, edition facts, problems)}."""
    t0 = time.monotonic()
    zh = book_html / "zh_CN"
    found = {}
    page = offline.new_page()
    page.set_viewport_size(LAPTOP)
    for rel in book_pages(zh):
        errors_before = len(offline.console_errors)
        response = page.goto(f"{server}zh_CN/{rel}", wait_until="load")
        if response is None or response.status != 200:
            found[rel] = ({}, {}, [f"HTTP {response and response.status}"])
            continue
        target = redirect_target(zh / rel)
        if target:
            page.wait_for_url(re.compile(re.escape(target.split("#")[0]) + "$"), wait_until="load")
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        report = page.evaluate(PAGE_REPORT_JS)
        facts = page.evaluate(EDITION_JS)
        found[rel] = (report, facts, page_problems(report, "laptop") + offline.console_errors[errors_before:])
    page.close()
    print(f"{len(found)} Chinese pages read in {time.monotonic() - t0:.1f} s")
    return found


def test_every_chinese_page_reads_correctly_offline_in_chinese(offline, book_html, server, chinese_pages):  # noqa: F811
    expected = [f"{entry}.html" for entry in toc_entries()] + ["index.html", "search.html", "genindex.html"]
    missing = [p for p in expected if p not in chinese_pages]
    assert not missing, f"the Chinese build lacks {missing}"
    failures = {rel: problems for rel, (_, _, problems) in chinese_pages.items() if problems}
    assert not failures, "Chinese pages that do not read correctly:\n" + "\n".join(
        f"  {rel}: {'; '.join(p)}" for rel, p in failures.items())
    assert not offline.blocked, f"pages tried to reach the internet (aborted): {sorted(set(offline.blocked))}"
    assert not offline.http_errors, f"failed requests: {offline.http_errors}"
    figures = 0
    for rel, (report, facts, _) in chinese_pages.items():
        assert facts["lang"] == "zh-CN", f"{rel}: <html lang={facts['lang']!r}>"
        if rel.startswith(("book/", "notebooks/")):
            assert facts["twin"], f"{rel} has no language switch"
            twin = urlsplit(facts["twin"]).path.lstrip("/")
            assert twin == rel and fetch_status(facts["twin"]) == 200, f"{rel}: the switch leads to {twin}"
            assert HAN.search(facts["title"]), f"{rel}: the title {facts['title']!r} is not Chinese"
        for alt in facts["figures"]:
            figures += 1
            assert HAN.search(alt), f"{rel}: a figure's alt text is not Chinese: {alt[:80]!r}"
    assert figures > 40, f"only {figures} figures on the Chinese pages"


def search(page, server: str, query: str) -> list[str]:  # noqa: F811
    """The Chinese book's search results for `query`, as page paths under zh_CN/."""
    page.goto(f"{server}zh_CN/search.html?q={query}", wait_until="load")
    # Sphinx lists the results one by one and then writes its summary, translated: "搜索完成，匹配到 N 页。"
    page.wait_for_function("() => /搜索完成/.test(document.querySelector('#search-results .search-summary')"
                           "?.textContent || '')", timeout=20_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li > a", "as => as.map(a => a.href)")
    return [urlsplit(h).path.lstrip("/").removeprefix("zh_CN/") for h in hrefs]


@pytest.mark.parametrize("query, chapter", [("感受野", "notebooks/05_receptive_fields.html"),
                                            ("卷积核", "notebooks/01_convolution.html"),
                                            ("过拟合", "notebooks/03c_overfitting.html")])
def test_a_chinese_search_finds_the_chapter_that_teaches_the_term(offline, server, query, chapter):  # noqa: F811
    page = offline.new_page()
    found = search(page, server, query)
    page.close()
    assert chapter in found, f"searching {query!r} in the Chinese book does not list {chapter}; results: {found}"
    assert not offline.blocked
