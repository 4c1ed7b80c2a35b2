"""What a translated page shows that is not in its source text: glued values, explorer labels, the language switch.

The page catalogs (locale/<lang>/LC_MESSAGES/<page>.po) translate the prose, and the prose keeps its
``{glue:text}`key``` roles. A glued value is computed by the notebook and stored in it as English text, e.g.

    SmallCNN − LeNet5 ≈ +6.7 points, 95 % CI ≈ [+5.1, +8.2] (3 seeds, paired t): SmallCNN higher

so in a translated build this extension parses every glued value into its parts (the verdict grammar of
`cnnbook.measure.Comparison`, the `approx` form, a unit) and writes it again from `interface.po`: each template
phrase and each label has its translation there, and the numbers are carried over as they are. A glued value
that does not parse, or a label with no translation, is an error of the build (no English word lands inside a
Chinese sentence). The explorers' labels travel with each explorer's payload; they are replaced the same way.

The language switch: every page links to its twin in the other edition. The English book is built at the root of
`_build/html/`, each translation under `_build/html/<lang>/` (book/build_zh.py), so the twin of page P is
`<lang>/P.html` from the English root and `../P.html` from a translation's root.
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale"
EDITIONS = {"en": "English", "zh_CN": "中文"}

# The verdict grammar (cnnbook.measure.Comparison): "{a} − {b} ≈ {difference}{unit}, 95 % CI ≈ [{low}, {high}]
# ({n} seeds, {test}): {verdict}", whose verdict is one of the four below.
COMPARISON = re.compile(r"^(?P<pair>.+?) ≈ (?P<difference>[+-]?\d[\d.]*)(?P<unit> [a-z]+| ?%)?, 95 % CI ≈ "
                        r"\[(?P<low>[+-]?\d[\d.]*), (?P<high>[+-]?\d[\d.]*)\] \((?P<n>\d+) seeds, "
                        r"(?P<test>paired t|Welch t)\): (?P<verdict>.+)$")
VERDICTS = [
    ("higher", re.compile(r"^(?P<label>.+) higher$")),
    ("equivalent", re.compile(r"^equivalent within ±(?P<margin>\d[\d.]*)(?P<unit> [a-z]+| ?%)?$")),
    ("not resolved", re.compile(r"^not resolved with (?P<n>\d+) seeds$")),
    ("resolves", re.compile(r"^resolves effects beyond ≈ ±(?P<half_width>\d[\d.]*)(?P<unit> [a-z]+| ?%)?$")),
]
APPROX = re.compile(r"^≈ [+-]?\d[\d.]*(?: ± \d[\d.]*)?(?P<unit> [a-z]+| ?%)?$")
SIZE = re.compile(r"^(?P<size>\d+×\d+)(?P<unit> [a-z]+)$")
TOP_PAIR = re.compile(r"^on this run: a true (?P<true>\d) read as (?P<read>\d)$")

# The theme's own words that its templates write without a message catalog (or whose catalog lacks them): in a
# translated build they are replaced in the written pages (`_theme_words`). Jupyter Book sets the search placeholder.
THEME_WORDS = ["Search this book...", "Toggle primary sidebar", "Toggle secondary sidebar", "Main", "Page",
               "Color mode", "System Settings", "Light", "Dark", "Download this page",
               "Download source file", "Fullscreen mode"]

# Every phrase a glued value is written with; {name} marks what is filled in. These are interface.po's msgids.
PHRASES = {
    "comparison": "{a} − {b} ≈ {difference}, 95 % CI ≈ [{low}, {high}] ({n} seeds, {test}): {verdict}",
    "higher": "{label} higher",
    "equivalent": "equivalent within ±{margin}",
    "not resolved": "not resolved with {n} seeds",
    "resolves": "resolves effects beyond ≈ ±{half_width}",
    "paired t": "paired t",
    "Welch t": "Welch t",
    " points": " points",
    " nats": " nats",
    " pixels": " pixels",
    "top pair": "on this run: a true {true} read as {read}",
    # the printed book (book/build_pdf.py)
    "Contents": "Contents",
    "Index": "Index",
    "page": "page {page} of {total}",
}


def _config(key: str) -> str:
    import yaml

    return str(yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))[key])


BOOK_TITLE, BOOK_AUTHOR = _config("title"), _config("author")


def phrases() -> list[str]:
    """interface.po's fixed messages: the book's title, and the phrases glued values are written with."""
    return [BOOK_TITLE, BOOK_AUTHOR] + list(PHRASES.values()) + THEME_WORDS


def stored_glue(notebooks: Path) -> list[str]:
    """Every glued text value stored in the notebooks' outputs (MyST-NB's papermill-style records)."""
    values = []
    for path in sorted(Path(notebooks).glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for output in cell.get("outputs", []):
                if "scrapbook" not in output.get("metadata", {}):
                    continue
                text = output.get("data", {}).get("application/papermill.record/text/plain")
                if text is not None:
                    text = "".join(text) if isinstance(text, list) else text
                    value = ast.literal_eval(text) if text[:1] in "'\"" else text
                    values.append(value if isinstance(value, str) else str(value))
    return values


def _unit(unit: str | None) -> str:
    return (unit or "") if not unit or unit.strip() == "%" else unit


def labels(values: list[str]) -> list[str]:
    """The labels (setting names) inside glued verdict lines: each needs its translation."""
    found = []
    for value in values:
        m = COMPARISON.match(value)
        if not m:
            continue
        a, b = _split_pair(m.group("pair"), value)
        found += [a, b]
        for name, pattern in VERDICTS:
            v = pattern.match(m.group("verdict"))
            if v and name == "higher":
                found.append(v.group("label"))
    return list(dict.fromkeys(found))


def _split_pair(pair: str, value: str) -> tuple[str, str]:
    parts = pair.split(" − ")
    if len(parts) != 2:
        raise ValueError(f"a glued comparison must name two settings 'a − b', got {value!r}")
    return parts[0], parts[1]


class Translator:
    """Rewrites glued English values with the translations of interface.po."""

    def __init__(self, table: dict[str, str]):
        self.table = table

    def word(self, english: str) -> str:
        if english not in self.table:
            raise KeyError(f"interface.po has no translation of {english!r}: run `python book/i18n.py update` "
                           f"and translate it")
        return self.table[english]

    def unit(self, unit: str | None) -> str:
        return self.word(unit) if unit and unit.strip() != "%" else (unit or "")

    def glued(self, value: str) -> str:
        """The translation of one glued value; KeyError/ValueError when it cannot be written in the language."""
        return _spaced(self._glued(value))

    def _glued(self, value: str) -> str:
        m = COMPARISON.match(value)
        if m:
            a, b = _split_pair(m.group("pair"), value)
            unit = self.unit(m.group("unit"))
            verdict = m.group("verdict")
            for name, pattern in VERDICTS:
                v = pattern.match(verdict)
                if not v:
                    continue
                fields = v.groupdict()
                if "label" in fields:
                    fields["label"] = self.word(fields["label"])
                if "unit" in fields:
                    suffix = self.unit(fields.pop("unit"))
                    key = "margin" if "margin" in fields else "half_width"
                    fields[key] = fields[key] + suffix
                verdict = self.word(PHRASES[name]).format(**fields)
                break
            else:
                raise ValueError(f"unknown verdict in the glued value {value!r}")
            return self.word(PHRASES["comparison"]).format(
                a=self.word(a), b=self.word(b), difference=m.group("difference") + unit, low=m.group("low"),
                high=m.group("high"), n=m.group("n"), test=self.word(m.group("test")), verdict=verdict)
        m = APPROX.match(value)
        if m:
            return value[:m.start("unit")] + self.unit(m.group("unit")) if m.group("unit") else value
        m = SIZE.match(value)
        if m:
            return m.group("size") + self.unit(m.group("unit"))
        m = TOP_PAIR.match(value)
        if m:
            return self.word(PHRASES["top pair"]).format(**m.groupdict())
        if re.search(r"[A-Za-z]{2,}", value):
            raise ValueError(f"the glued value {value!r} holds English words and no rule of "
                             f"book/_ext/interface_i18n.py writes it in another language")
        return value


HAN = "\u3400-\u4dbf\u4e00-\u9fff"


def _spaced(text: str) -> str:
    """A space between Han characters and Latin letters or digits (Chinese typesetting), none elsewhere."""
    text = re.sub(rf"([A-Za-z0-9%\])])([{HAN}])", r"\1 \2", text)
    return re.sub(rf"([{HAN}])([A-Za-z0-9\[(+−±≈-])", r"\1 \2", text)


def load_table(language: str, catalog: str = "interface") -> dict[str, str]:
    """{English: translation} of one catalog of `language` (`interface`, or a page such as `book/intro`); fuzzy
    and untranslated messages are left out, and a missing catalog gives {}."""
    import polib

    path = LOCALE / language / "LC_MESSAGES" / f"{catalog}.po"
    if not path.exists():
        return {}
    return {e.msgid: e.msgstr for e in polib.pofile(str(path)) if e.msgstr and "fuzzy" not in e.flags}


def _translate_page(app, doctree, docname):
    language = app.config.language
    if not language or language == "en" or app.builder.format != "html":
        return
    translator = Translator(load_table(language))
    for node in list(doctree.findall(nodes.inline)):
        if "pasted-text" not in node.get("classes", []):
            continue
        english = node.astext()
        try:
            text = translator.glued(english)
        except (KeyError, ValueError) as error:
            from sphinx.util import logging

            logging.getLogger(__name__).warning(f"{docname}: {error}", location=node)
            continue
        node[:] = [nodes.Text(text)]
    for node in list(doctree.findall(nodes.raw)):
        if "cnnbook-explorer-output" not in node.get("classes", []):
            continue
        node.replace_self(_translate_explorer(node, translator, app, docname))


SCRIPT = re.compile(r'(<script type="application/json" class="cnnbook-explorer-data">)(.*?)(</script>)', re.S)


def _translate_explorer(node, translator, app, docname):
    markup = node.astext()
    m = SCRIPT.search(markup)
    payload = json.loads(m.group(2))
    try:
        payload["labels"] = {key: translator.word(value) for key, value in payload["labels"].items()}
    except KeyError as error:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(f"{docname}: {error}", location=node)
        return node
    from explorers_render import script_json  # book/_ext is on the path of every local extension

    new = markup[:m.start(2)] + script_json(payload) + markup[m.end(2):]
    return nodes.raw("", new, format="html", classes=node.get("classes", []))


def _translate_captions(app, doctree):
    """The part captions of the table of contents, from the page's catalog: sphinx-external-toc adds them after
    Sphinx translated the page, so the sidebar would keep them English."""
    language = app.config.language
    if not language or language == "en":
        return
    from sphinx import addnodes

    table = load_table(language, app.env.docname)
    for toctree in doctree.findall(addnodes.toctree):
        caption = toctree.get("caption")
        if caption:
            if caption not in table:
                from sphinx.util import logging

                logging.getLogger(__name__).warning(f"{app.env.docname}: no translation of the caption {caption!r}")
                continue
            toctree["caption"] = table[caption]


THEME_ATTRIBUTE = re.compile(r'((?:title|aria-label|placeholder|data-bs-title)=")([^"<>]+)(")')
THEME_TEXT = re.compile(r"(>\s*)([^<>]+?)(\s*<)")


def _theme_words(app, exception):
    """Rewrite the theme's English words in every written page of a translated build (`THEME_WORDS`)."""
    language = app.config.language
    if exception is not None or not language or language == "en" or app.builder.format != "html":
        return
    table = load_table(language)
    words = {w: html.escape(table[w], quote=True) for w in THEME_WORDS if table.get(w)}
    missing = [w for w in THEME_WORDS if w not in words]
    if missing:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(f"interface.po has no translation of the theme's {missing}")

    def swap(m):
        return m.group(1) + words.get(m.group(2), m.group(2)) + m.group(3)

    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        start, end = text.find('<article class="bd-article"'), text.find("</article>")
        if start < 0 or end < 0:
            start = end = len(text)
        theme = THEME_TEXT.sub(swap, THEME_ATTRIBUTE.sub(swap, text[:start] + "\0" + text[end:]))  # not the article
        new = theme.replace("\0", text[start:end])
        if new != text:
            tmp = page.with_suffix(".html.tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(page)


def _switch(app, pagename, templatename, context, doctree):
    """Context for book/_templates/language-switch.html: the twin page in the other edition."""
    language = app.config.language or "en"
    depth = pagename.count("/")
    up = "../" * depth
    if language == "en":
        target, name = "zh_CN", EDITIONS["zh_CN"]
        href = f"{up}zh_CN/{pagename}.html"
    else:
        target, name = "en", EDITIONS["en"]
        href = f"{up}../{pagename}.html"
    context["cnnbook_twin"] = {"href": href, "lang": "zh-CN" if target == "zh_CN" else "en", "name": name}


# -- glue roles inside translated messages ---------------------------------------------------------------------
# Sphinx's Locale transform parses each translated message as a small document of its own; MyST-NB's glue roles
# look their values up in the notebook renderer that MyST-NB keeps on the document only while it parses the
# notebook, so in a translated message they find nothing ("No key ... found in glue data for this document").
# Here MyST-NB's renderer factory remembers each notebook's renderer, and the lookup falls back to the renderer of
# the notebook the message belongs to.

_RENDERERS: dict = {}


def _remembering(load_renderer):
    def load(name):
        cls = load_renderer(name)

        def make(mdit_renderer, logger):
            renderer = cls(mdit_renderer, logger)
            document = mdit_renderer.md.options.get("document")  # set by MyST-NB before it makes the renderer
            env = getattr(getattr(document, "settings", None), "env", None)
            if env is not None:
                _RENDERERS[env.docname] = renderer
            return renderer

        return make

    load.cnnbook_i18n = True
    return load


def _glue_lookup(original):
    def retrieve_glue_data(document, key):
        env = getattr(document.settings, "env", None)
        if "nb_renderer" in document or env is None or env.docname not in _RENDERERS:
            return original(document, key)
        document["nb_renderer"] = _RENDERERS[env.docname]  # only for this lookup: a doctree must stay picklable
        try:
            return original(document, key)
        finally:
            del document["nb_renderer"]

    retrieve_glue_data.cnnbook_i18n = True
    return retrieve_glue_data


def _patch_glue() -> None:
    from myst_nb import sphinx_
    from myst_nb.ext.glue import directives, roles

    if not getattr(sphinx_.load_renderer, "cnnbook_i18n", False):
        sphinx_.load_renderer = _remembering(sphinx_.load_renderer)
    for module in (roles, directives):
        if not getattr(module.retrieve_glue_data, "cnnbook_i18n", False):
            module.retrieve_glue_data = _glue_lookup(module.retrieve_glue_data)


def setup(app):
    _patch_glue()
    app.connect("doctree-resolved", _translate_page)
    app.connect("doctree-read", _translate_captions)
    app.connect("build-finished", _theme_words)
    app.connect("html-page-context", _switch)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
