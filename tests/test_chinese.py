"""The Chinese edition's gates (issue 29): its catalogs are current, complete and faithful, and its build writes every
page in Chinese. The catalogs are `locale/zh_CN/LC_MESSAGES/**.po` (book/i18n.py); the build is the session
fixture `book_html` (conftest.py), which builds both editions with warnings as errors.

Each gate is also shown to fail: a gate that cannot fail proves nothing about the translation."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import polib
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import i18n  # noqa: E402
import interface_i18n  # noqa: E402

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# The English words of cnnbook.measure's verdict lines: none may reach a Chinese page through a glued value.
VERDICT_WORDS = re.compile(r"\b(higher|equivalent|within|resolved|resolves|effects|beyond|seeds?|points|nats|"
                           r"paired|pixels|CI)\b")


def toc_docs() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


# -- the catalogs ---------------------------------------------------------------------------------------------


def test_the_catalogs_hold_exactly_the_messages_the_english_source_has_now():
    """Re-extracting the English source (Sphinx's gettext builder) gives each page's catalog its set of messages:
    a changed English sentence without its translation fails here (`python book/i18n.py update`, then translate)."""
    pages = i18n.extract_pages()
    pages[i18n.INTERFACE] = i18n.interface_messages()
    catalogs = i18n.catalogs()
    assert sorted(catalogs) == sorted(pages), "catalog files differ from the pages: run `python book/i18n.py update`"
    stale = {}
    for page, msgids in pages.items():
        have = {e.msgid for e in catalogs[page]}
        if have != set(msgids):
            stale[page] = (sorted(set(msgids) - have)[:3], sorted(have - set(msgids))[:3])
    assert not stale, "catalogs out of date (new English messages, gone ones); run `python book/i18n.py update` " \
                      f"and translate: {stale}"
    assert set(toc_docs()) <= set(pages), "a page of _toc.yml has no catalog"
    assert sum(len(v) for v in pages.values()) > 1500


def test_every_message_is_translated_none_is_fuzzy_and_every_gate_passes():
    stats = i18n.stat()
    untranslated = {page: f"{done}/{total}" for page, (done, total) in stats.items() if done != total}
    assert not untranslated, f"untranslated or fuzzy messages: {untranslated}"
    problems = i18n.check()
    assert not problems, f"{len(problems)} translation problems:\n" + "\n".join(problems[:40])


def test_the_compiled_catalogs_are_valid_gettext(tmp_path):
    """What Sphinx compiles (.mo) reads back with the same messages: no duplicate, no broken entry."""
    for page, po in i18n.catalogs().items():
        mo = tmp_path / f"{page.replace('/', '_')}.mo"
        po.save_as_mofile(str(mo))
        back = polib.mofile(str(mo))
        assert {e.msgid: e.msgstr for e in back} == {e.msgid: e.msgstr for e in po}, page
        assert len({e.msgid for e in po}) == len(po), f"{page}: duplicate messages"


def test_the_term_base_is_the_glossary_in_chinese_and_each_glossary_entry_keeps_its_english():
    entries = i18n.termbase()
    forms = {f.lower() for fs, _, _ in entries for f in fs}
    terms = i18n.glossary_terms()
    missing = sorted(t for t in terms if t.lower() not in forms)
    assert not missing, f"glossary terms without a term-base entry: {missing}"
    assert len(entries) >= len(terms)
    glossary = {e.msgid: e.msgstr for e in i18n.catalogs()["book/glossary"]}
    for forms_, chinese, _ in entries:
        for term in (t for t in terms if t in forms_):
            assert chinese.lower() in glossary[term].lower() and term in glossary[term], (term, glossary[term])
    # the core vocabulary
    agreed = {fs[0]: zh for fs, zh, _ in entries}
    assert {agreed[k] for k in ("kernel", "receptive field", "stride", "padding", "pooling", "feature map",
                                "batch normalisation", "over-fitting")} == \
        {"卷积核", "感受野", "步幅", "填充", "池化", "特征图", "批量归一化", "过拟合"}


def _one(msgid: str, msgstr: str, page: str = "notebooks/01_convolution", flags=()) -> list[str]:
    po = polib.POFile()
    po.append(polib.POEntry(msgid=msgid, msgstr=msgstr, flags=list(flags)))
    return i18n.problems(po, page)


@pytest.mark.parametrize("msgid, msgstr, complaint", [
    ("The kernel slides over the image.", "", "untranslated"),
    ("The kernel slides over the image.", "卷积核在图像上滑动。", "fuzzy"),
    ("The kernel slides over the image.", "The kernel slides over the image.", "no Chinese characters"),
    ("A kernel $w$ of size $k \\times k$.", "大小为 $k$ 的卷积核 $w$。", "lost math"),
    ("Call `torch.conv2d` on it.", "对它调用 torch.conv2d。", "lost code"),
    ("See the {term}`kernel <kernel>` entry.", "见{term}`卷积核 <filter>`条目。", "lost role"),
    ("See {doc}`02_five_components`.", "见第二章。", "lost role"),
    ("Read [the guide](https://example.org/guide).", "阅读[指南](https://example.org/other)。", "lost link"),
    ("It takes 3 seeds and 12 epochs.", "它需要 3 个种子和十二轮。", "lost number"),
    ("The stride moves the kernel.", "步长移动卷积核。", "'stride' must be rendered '步幅'"),
    ("**Read it.** The book", "**阅读。**本书", "markers do not render"),
    ("\ny = \\sum_i x_i\n", "\ny = \\sum_j x_j\n", "display formula"),
    ("Exercises", "练习\n", "begin and end as the original"),
])
def test_each_gate_fails_on_a_translation_that_breaks_it(msgid, msgstr, complaint):
    flags = ["fuzzy"] if complaint == "fuzzy" else []
    found = _one(msgid, msgstr, flags=flags)
    assert any(complaint in p for p in found), found


def test_a_faithful_translation_passes_every_gate():
    msgid = ("Take an input image $x$ of size $H \\times W$ and a {term}`kernel <kernel>` with `stride=2`; "
             "{cite}`lecun1998gradient` trained it for 12 epochs on 13 554 images.")
    msgstr = ("取大小为 $H \\times W$ 的输入图像 $x$ 和一个 {term}`卷积核 <kernel>`，`stride=2`（步幅）；"
              "{cite}`lecun1998gradient` 在 13554 张图像上训练了 12 轮。")
    assert _one(msgid, msgstr) == []
    assert _one("kernel", "卷积核（kernel）", page="book/glossary") == []
    assert any("keeps its English" in p for p in _one("kernel", "卷积核", page="book/glossary"))


def test_the_dump_and_load_round_trip_keeps_every_backslash(tmp_path):
    po = polib.POFile()
    po.append(polib.POEntry(msgid="A sum $\\sum_i x_i$.", msgstr=""))
    po.append(polib.POEntry(msgid="\ny = \\frac{a}{b}\n", msgstr=""))
    text = i18n.dump(po).replace("@@@@ 0 zh\n", "@@@@ 0 zh\n和 $\\sum_i x_i$。").replace(
        "@@@@ 1 zh\n", "@@@@ 1 zh\n\ny = \\frac{a}{b}\n")
    assert i18n.load(po, text) == 2
    assert po[0].msgstr == "和 $\\sum_i x_i$。" and po[1].msgstr == po[1].msgid
    with pytest.raises(ValueError, match="English differs"):
        i18n.load(po, text.replace("A sum", "One sum"))


# -- glued values and explorer labels -----------------------------------------------------------------------------


def test_every_glued_value_is_written_in_chinese_with_its_numbers():
    translator = interface_i18n.Translator(interface_i18n.load_table("zh_CN"))
    values = interface_i18n.stored_glue(ROOT / "notebooks")
    verdicts = [v for v in values if interface_i18n.COMPARISON.match(v)]
    assert len(verdicts) > 40, "the chapters glue fewer verdict lines than they did"
    for value in values:
        chinese = translator.glued(value)
        assert not VERDICT_WORDS.search(chinese), (value, chinese)
        numbers = re.compile(r"[+-]?\d+(?:\.\d+)?")
        assert sorted(numbers.findall(chinese)) == sorted(numbers.findall(value)), (value, chinese)  # every number
        if VERDICT_WORDS.search(value):
            assert HAN.search(chinese), (value, chinese)
    line = "SmallCNN − LeNet5 ≈ +6.7 points, 95 % CI ≈ [+5.1, +8.2] (3 seeds, paired t): SmallCNN higher"
    assert translator.glued(line) == \
        "SmallCNN − LeNet5 ≈ +6.7 个百分点，95 % 置信区间 ≈ [+5.1, +8.2]（3 个种子，配对 t 检验）：SmallCNN 更高"


def test_a_glued_value_no_rule_can_write_is_an_error_not_english_in_a_chinese_sentence():
    translator = interface_i18n.Translator(interface_i18n.load_table("zh_CN"))
    with pytest.raises(ValueError, match="holds English words"):
        translator.glued("twice as fast")
    with pytest.raises(KeyError, match="no translation"):
        translator.glued("new label − baseline ≈ +1.0 points, 95 % CI ≈ [+0.5, +1.5] (3 seeds, paired t): "
                         "new label higher")


def test_every_explorer_label_has_a_translation_with_the_same_fields():
    from cnnbook import explorers

    table = interface_i18n.load_table("zh_CN")
    for key, english in explorers.LABELS.items():
        assert english in table, key
        assert set(re.findall(r"\{\w*\}", table[english])) == set(re.findall(r"\{\w*\}", english)), key


# -- the built Chinese book ----------------------------------------------------------------------------------------


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def visible_text(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_every_page_has_a_chinese_twin_and_the_language_switch_links_both_ways(book_html):
    zh = book_html / "zh_CN"
    for doc in toc_docs():
        english, chinese = book_html / f"{doc}.html", zh / f"{doc}.html"
        assert chinese.exists(), f"{doc} has no Chinese page"
        page = read(chinese)
        assert '<html lang="zh-CN"' in page, doc
        twin = re.search(r'class="cnnbook-language-switch".*?href="([^"]+)"', page, re.S).group(1)
        assert (chinese.parent / twin).resolve() == english.resolve(), (doc, twin)
        back = re.search(r'class="cnnbook-language-switch".*?href="([^"]+)"', read(english), re.S).group(1)
        assert (english.parent / back).resolve() == chinese.resolve(), (doc, back)
        text = visible_text(page)
        assert len(HAN.findall(text)) > 30, f"{doc}: the Chinese page holds little Chinese"


def test_glued_verdicts_on_the_chinese_pages_hold_no_english_verdict_words(book_html):
    pasted = 0
    for doc in toc_docs():
        for value in re.findall(r'<span class="pasted-text">(.*?)</span>', read(book_html / "zh_CN" / f"{doc}.html")):
            pasted += 1
            assert not VERDICT_WORDS.search(html.unescape(value)), (doc, value)
    assert pasted > 100


def test_figures_on_the_chinese_pages_have_chinese_alt_text(book_html):
    figures = 0
    for doc in toc_docs():
        for alt in re.findall(r'<img [^>]*alt="([^"]*)"', read(book_html / "zh_CN" / f"{doc}.html")):
            if len(alt) > 20:  # a figure's description (not a logo or an icon)
                figures += 1
                assert HAN.search(html.unescape(alt)), (doc, alt[:80])
    assert figures > 40


def test_the_explorers_on_the_chinese_pages_carry_chinese_labels(book_html):
    pages = 0
    for doc in toc_docs():
        page = read(book_html / "zh_CN" / f"{doc}.html")
        for payload in re.findall(r'class="cnnbook-explorer-data">(.*?)</script>', page, re.S):
            pages += 1
            labels = json.loads(payload)["labels"]
            assert HAN.search(labels["kernel" if "kernel" in labels else next(iter(labels))]), doc
            assert labels["stride"] == "步幅" and labels["padding"] == "填充"
    assert pages >= 3


def test_the_themes_words_around_the_chinese_pages_are_chinese(book_html):
    """Tooltips, labels and the search placeholder of the theme (outside each page's article) are Chinese."""
    checked = 0
    for doc in toc_docs():
        page = read(book_html / "zh_CN" / f"{doc}.html")
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
        outside = page[:page.find('<article class="bd-article"')] + page[page.find("</article>"):]
        for value in re.findall(r'(?:title|aria-label|placeholder|data-bs-title)="([^"]+)"', outside):
            checked += 1
            assert HAN.search(html.unescape(value)), f"{doc}: the theme says {value!r} in English"
        captions = re.findall(r'<p aria-level="2" class="caption"[^>]*>.*?<span class="caption-text">(.*?)</span>',
                              outside, re.S)
        assert captions and all(HAN.search(c) for c in captions), (doc, captions)
    assert checked > 100


def test_the_chinese_search_index_is_segmented_into_chinese_words(book_html):
    """Sphinx's Chinese search splits text with jieba; without it, Chinese words are not in the index."""
    index = read(book_html / "zh_CN" / "searchindex.js")
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    for word in ("感受野", "卷积核", "池化", "过拟合"):
        assert word in terms, f"{word!r} is not a search term of the Chinese book"
