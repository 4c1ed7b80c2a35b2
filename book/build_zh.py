"""Build the Chinese edition of the book beside the English one: _build/html/zh_CN/.

    .venv/bin/python book/build_zh.py            # after `jupyter-book build .` (README command (a))

One source: the English pages, their stored outputs and `_config.yml`, read with `language: zh_CN`, so Sphinx
replaces every message with its translation from `locale/zh_CN/LC_MESSAGES/<page>.po` (book/i18n.py keeps them
current). Jupyter Book 1 has no config inheritance, so instead of a second `_config.yml` to keep in sync, this
script builds from the same file with the few settings that differ as overrides (`OVERRIDES`). Warnings are
errors, as in the English build; `.mo` files are compiled by Sphinx next to the `.po` files (build products,
ignored by git). The Chinese search index is segmented with jieba, which is told the book's terms
(`search_words`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
OUT = ROOT / "_build" / "html" / LANGUAGE
DOCTREES = ROOT / "_build" / f".doctrees-{LANGUAGE}"


def search_words(out: Path) -> Path:
    """jieba's extra dictionary for the search index: every Chinese term of the term base and of the glossary's
    entries, so that 感受野 is indexed as one word (jieba alone splits it into 感受 + 野)."""
    sys.path.insert(0, str(ROOT / "book"))
    try:
        import i18n
    finally:
        sys.path.pop(0)
    words = {zh for _, zh, _ in i18n.termbase()}
    glossary = i18n.catalogs().get("book/glossary")
    terms = i18n.glossary_terms()
    for entry in glossary or []:
        if entry.msgid in terms and entry.msgstr:
            words.add(re.split(r"[（(]", entry.msgstr)[0].strip())
    words = sorted(w for w in words if i18n.CJK.search(w) and " " not in w)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{os.getpid()}.part")  # two builds at once never read half a file
    part.write_text("".join(f"{w} 100000 n\n" for w in words), encoding="utf-8")
    part.replace(out)
    return out


def overrides() -> dict:
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import interface_i18n
    finally:
        sys.path.pop(0)
    table = interface_i18n.load_table(LANGUAGE)
    title, author = table.get(interface_i18n.BOOK_TITLE), table.get(interface_i18n.BOOK_AUTHOR)
    if not title or not author:
        raise SystemExit(f"interface.po has no translation of the book's title {interface_i18n.BOOK_TITLE!r} or "
                         f"author {interface_i18n.BOOK_AUTHOR!r}")
    return {
        "language": LANGUAGE,
        "html_title": title,
        "project": title,
        "author": author,
        "nitpicky": True,
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        "html_search_options": {"dict": str(search_words(ROOT / "_build" / f"search-words-{LANGUAGE}.txt"))},
    }


def build(out: Path = OUT, doctrees: Path = DOCTREES, strict: bool = True, quiet: bool = False) -> int:
    from jupyter_book.sphinx import build_sphinx

    result = build_sphinx(ROOT, out, path_config=ROOT / "_config.yml", noconfig=True, confoverrides=overrides(),
                          doctreedir=doctrees, builder="html", warningiserror=strict, keep_going=strict,
                          quiet=quiet)
    if isinstance(result, Exception):
        raise result
    return int(result)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--doctrees", type=Path, default=DOCTREES)
    parser.add_argument("--no-strict", action="store_true", help="warnings are not errors (drafts only)")
    args = parser.parse_args(argv)
    code = build(args.out, args.doctrees, strict=not args.no_strict)
    if code == 0:
        print(f"The Chinese edition is in {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
