"""One printable HTML page from the built HTML book (`jupyter-book build .`), for book/build_pdf.py.

Each page of the book, in `_toc.yml` order, gives its `<article>`; every id is prefixed with the page's slug
(Sphinx numbers ids per page, so `id1` or `exercises` occur in every chapter), and every link to another page
of the book becomes a link to that fragment of the one page. Web links stay web links; the few links that
would point into the build folder (the PDF itself, image files) lose their `href` and keep their text. Around
the pages come a title page, a contents list and an index built from Sphinx's `genindex.html`, whose page
numbers start as placeholders (`<span class="pdf-page" data-target="ID">`) that build_pdf.py fills in after
the first print.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import yaml
from bs4 import BeautifulSoup, Tag

INDEX_ID = "pdf-index"
CONTENTS_ID = "pdf-contents"
PLACEHOLDER = "000"  # as wide as any page number the book reaches; replaced after the first print


@dataclass
class Doc:
    """One page of the book: its name in _toc.yml, its part, its slug (the id of its start) and headings."""

    name: str
    part: str
    numbered: bool
    slug: str = ""
    title: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)  # (id, title) of each h2
    body: str = ""


def slug_of(name: str) -> str:
    return "d-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def safe_id(slug: str, ident: str) -> str:
    return f"{slug}--" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group(0)):x}_", ident)


def heading_text(tag: Tag) -> str:
    """The text a reader sees in a heading, without the `#` permalink."""
    copy = BeautifulSoup(str(tag), "html.parser")
    for link in copy.select("a.headerlink"):
        link.decompose()
    return " ".join(copy.get_text(" ").split()).replace(" .", ".")


def read_toc(root: Path) -> tuple[str, list[Doc]]:
    """The root page and every page of `_toc.yml` in reading order, with its part caption."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docs = [Doc(toc["root"], "", False)]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            docs.append(Doc(chapter["file"], part.get("caption", ""), bool(part.get("numbered"))))
    return toc["root"], docs


class Assembler:
    """Reads the built pages and writes the one page; `problems` lists links it could not place."""

    def __init__(self, root: Path, html_dir: Path, words: dict[str, str] | None = None, lang: str = "en"):
        """words: the printed book's own words in its language (Contents, Index, the title, part captions),
        English where missing; lang: the HTML language tag of the edition."""
        self.root, self.html_dir, self.lang = root, html_dir, lang
        self.words = words or {}
        self.root_doc, self.docs = read_toc(root)
        for doc in self.docs:
            doc.part = self.word(doc.part) if doc.part else doc.part
        for doc in self.docs:
            doc.slug = slug_of(doc.name)
        self.by_file = {f"{d.name}.html": d for d in self.docs}
        self.ids: dict[str, dict[str, str]] = {}
        self.problems: list[str] = []
        self.unlinked: list[str] = []

    def word(self, english: str) -> str:
        return self.words.get(english) or english

    # -- reading --------------------------------------------------------------------------------------------
    def _article(self, doc: Doc) -> Tag:
        path = self.html_dir / f"{doc.name}.html"
        if not path.exists():
            raise SystemExit(f"{path} is missing: build the HTML book first (jupyter-book build .)")
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        article = soup.select_one("article.bd-article")
        if article is None:
            raise SystemExit(f"{path} has no <article class='bd-article'>: not a Jupyter Book page")
        return article

    def _rename_ids(self, doc: Doc, article: Tag) -> None:
        mapping = {}
        for tag in article.find_all(id=True):
            mapping[tag["id"]] = tag["id"] = safe_id(doc.slug, tag["id"])
        # MathJax replaces the content of a display formula, empty anchors (index targets) included: a link
        # to such an anchor goes to the formula instead.
        for formula in article.select("div.math[id]"):
            for anchor in formula.find_all("span", id=True):
                if not anchor.contents:
                    old = next(k for k, v in mapping.items() if v == anchor["id"])
                    mapping[old] = formula["id"]
                    anchor.decompose()
        self.ids[doc.name] = mapping

    def _resolve(self, page: str, href: str) -> str | None:
        """The in-document fragment for an internal link, None to drop the link; web links unchanged."""
        parts = urlsplit(href)
        if parts.scheme or href.startswith("//"):
            return href
        path, fragment = urldefrag(href)
        fragment = unquote(fragment)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path)) if path else page
        if target == "genindex.html":
            return f"#{INDEX_ID}"
        doc = self.by_file.get(target)
        if doc is None:
            self.unlinked.append(f"{page}: {href}")
            return None
        if not fragment:
            return f"#{doc.slug}"
        new = self.ids.get(doc.name, {}).get(fragment)
        if new is None:
            self.problems.append(f"{page}: {href} (no element with id {fragment!r} in {target})")
            return f"#{doc.slug}"
        return f"#{new}"

    def _rewrite_links(self, doc: Doc, article: Tag) -> None:
        page = f"{doc.name}.html"
        for link in article.find_all("a", href=True):
            new = self._resolve(page, link["href"])
            if new is None:
                link.name = "span"
                del link["href"]
            else:
                link["href"] = new
        for media in article.find_all(["img", "source"], src=True):
            if not urlsplit(media["src"]).scheme:
                media["src"] = (self.html_dir / posixpath.dirname(page) / media["src"]).resolve().as_uri()

    def read(self) -> None:
        articles = {}
        for doc in self.docs:
            articles[doc.name] = article = self._article(doc)
            for junk in article.select("a.headerlink, .toctree-wrapper, script, .tag_remove-output > .cell_output"):
                junk.decompose()
            self._rename_ids(doc, article)
            h1 = article.find("h1")
            doc.title = heading_text(h1) if h1 else doc.name
            doc.sections = [(h2.parent.get("id", ""), heading_text(h2)) for h2 in article.find_all("h2")
                            if h2.parent.name == "section" and h2.parent.get("id")]
        for doc in self.docs:  # after every page's ids are known: links may point forward
            article = articles[doc.name]
            self._rewrite_links(doc, article)
            doc.body = "".join(str(child) for child in article.children)

    # -- the parts around the pages ---------------------------------------------------------------------------
    def head(self) -> str:
        """The intro page's stylesheets and MathJax, with absolute file URLs; no theme scripts."""
        intro = self.html_dir / f"{self.root_doc}.html"
        soup = BeautifulSoup(intro.read_text(encoding="utf-8"), "html.parser")
        parts = ['<meta charset="utf-8">', f"<title>{html.escape(self.book_title())}</title>"]
        for link in soup.head.find_all("link", rel="stylesheet"):
            href = (intro.parent / link["href"].split("?")[0]).resolve().as_uri()
            parts.append(f'<link rel="stylesheet" href="{href}">')
        for script in soup.find_all("script"):
            if script.string and "window.MathJax" in script.string:
                parts.append(f"<script>{script.string}</script>")
            elif "mathjax" in script.get("src", ""):
                src = (intro.parent / script["src"].split("?")[0]).resolve().as_uri()
                parts.append(f'<script defer src="{src}"></script>')
        return "\n".join(parts)

    def book_title(self) -> str:
        return self.word(str(yaml.safe_load((self.root / "_config.yml").read_text()).get("title", "")))

    def title_page(self) -> str:
        config = yaml.safe_load((self.root / "_config.yml").read_text())
        title, _, subtitle = re.split(r"([:：])", self.book_title(), maxsplit=1) if re.search(r"[:：]", self.book_title()) \
            else (self.book_title(), "", "")
        return (f'<section class="pdf-titlepage" id="pdf-titlepage"><h1 class="pdf-title">{html.escape(title)}</h1>'
                f'<p class="pdf-subtitle">{html.escape(subtitle.strip())}</p>'
                f'<p class="pdf-author">{html.escape(self.word(str(config.get("author", ""))))}</p></section>')

    def parts(self) -> list[tuple[str, list[Doc]]]:
        """(caption, pages) in order; the root page forms a part without caption."""
        grouped: list[tuple[str, list[Doc]]] = []
        for doc in self.docs:
            if not grouped or grouped[-1][0] != doc.part:
                grouped.append((doc.part, []))
            grouped[-1][1].append(doc)
        return grouped

    @staticmethod
    def _entry(target: str, text: str, level: str) -> str:
        return (f'<li class="pdf-toc-{level}"><a href="#{target}"><span class="pdf-toc-text">{html.escape(text)}'
                f'</span><span class="pdf-leader"></span><span class="pdf-page" data-target="{target}">'
                f"{PLACEHOLDER}</span></a></li>")

    def contents(self) -> str:
        items = []
        for caption, docs in self.parts():
            single = len(docs) == 1 and docs[0].title == caption
            if caption and not single:
                items.append(f'<li class="pdf-toc-part">{html.escape(caption)}</li>')
            for doc in docs:
                items.append(self._entry(doc.slug, doc.title, "chapter"))
                if doc.numbered:
                    items += [self._entry(ident, title, "section") for ident, title in doc.sections]
        items.append(self._entry(INDEX_ID, self.word("Index"), "chapter"))
        return (f'<nav class="pdf-contents" id="{CONTENTS_ID}"><h1><a href="#{CONTENTS_ID}">{self.word("Contents")}</a>'
                f'</h1><ul>{"".join(items)}</ul></nav>')

    def index(self) -> tuple[str, int]:
        """The index: Sphinx's entries, each followed by the page numbers of its targets; and its entry count."""
        path = self.html_dir / "genindex.html"
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        groups, count = [], 0
        for letter in soup.select("h2[id]"):
            table = letter.find_next_sibling("table")
            if table is None:
                continue
            lines = []
            for item in table.select("td > ul > li"):
                count += 1
                lines.append(self._index_line(item, "pdf-index-entry"))
                for sub in item.select(":scope > ul > li"):
                    count += 1
                    lines.append(self._index_line(sub, "pdf-index-sub"))
            groups.append(f'<h2 class="pdf-index-letter">{html.escape(letter.get_text().strip())}</h2>'
                          f'<ul>{"".join(lines)}</ul>')
        body = "".join(groups)
        return (f'<section class="pdf-doc pdf-index" id="{INDEX_ID}"><h1>{self.word("Index")}</h1>'
                f'<div class="pdf-index-columns">{body}</div></section>'), count

    def _index_line(self, item: Tag, css: str) -> str:
        links = [a for a in item.find_all("a", href=True, recursive=False)]
        name = links[0].get_text() if links else (item.find(string=True, recursive=False) or "").strip()
        pages = []
        for link in links:
            target = self._resolve("genindex.html", link["href"])
            if target and target.startswith("#"):
                strong = " pdf-main" if link.find("strong") else ""
                pages.append(f'<a class="pdf-page{strong}" href="{target}" data-target="{target[1:]}">'
                             f"{PLACEHOLDER}</a>")
        return f'<li class="{css}">{html.escape(name.strip())}, {", ".join(pages)}</li>' if pages else \
            f'<li class="{css}">{html.escape(name.strip())}</li>'

    def page(self, print_css: str, extra_head: str = "") -> tuple[str, dict]:
        """The whole printable page, and facts about it (docs, index entries)."""
        self.read()
        index, entries = self.index()
        sections = []
        for doc in self.docs:
            kind = "pdf-chapter" if doc.numbered else "pdf-matter"
            sections.append(f'<section class="pdf-doc {kind}" id="{doc.slug}" data-title="{html.escape(doc.title)}">'
                            f"{doc.body}</section>")
        text = (f'<!DOCTYPE html><html lang="{self.lang}" data-theme="light" data-mode="light"><head>{self.head()}'
                f"<style>{print_css}</style>{extra_head}</head><body>"
                f'<div class="bd-main"><div class="bd-content"><div class="bd-article-container">'
                f'<article class="bd-article">{self.title_page()}{self.contents()}{"".join(sections)}{index}'
                f"</article></div></div></div></body></html>")
        return text, {"index_entries": entries, "docs": self.docs}
