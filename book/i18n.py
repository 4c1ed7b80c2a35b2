"""The Chinese edition's catalogs: extract, update, check.

English is the source. Sphinx's gettext builder extracts every translatable message of the book (prose, headings,
TOC captions, admonition titles, exercises, glossary, figure alt text, index entries) into one template per page;
`locale/zh_CN/LC_MESSAGES/<page>.po` holds the Chinese of each. `interface.po` holds what the pages show that is
not in their source: the live explorers' labels, the words of glued verdict lines, and the language switch.

    python book/i18n.py update   # re-extract; keep translations of unchanged messages, add new ones empty, drop gone ones
    python book/i18n.py check    # the gates of tests/test_chinese.py, printed per file (exit 1 on a problem)
    python book/i18n.py stat     # translated / total per page
    python book/i18n.py dump notebooks/01_convolution > 01.txt   # a page's messages as plain text, for translating
    python book/i18n.py load notebooks/01_convolution 01.txt     # read the translations back, then check the page

The gates: no untranslated and no fuzzy message; every prose translation holds Chinese characters; every
translation keeps the original's math, inline code, role names and targets, link targets, HTML tags and numbers;
every term-base entry (`locale/zh_CN/termbase.tsv`) found in a message has its agreed Chinese term in the
translation; a glossary term keeps its English beside the Chinese.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale"
LANGUAGE = "zh_CN"
MESSAGES = LOCALE / LANGUAGE / "LC_MESSAGES"
TERMBASE = LOCALE / LANGUAGE / "termbase.tsv"
INTERFACE = "interface"
HEADER = {
    "Project-Id-Version": "cnnbook",
    "Language": LANGUAGE,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}

# --- extraction -------------------------------------------------------------------------------------------------


def extract_pages(workdir: Path | None = None) -> dict[str, list[str]]:
    """Run Sphinx's gettext builder over the book; return {page: [msgid, ...]} in document order."""
    with tempfile.TemporaryDirectory(prefix="cnnbook-gettext-") as tmp:
        out = Path(workdir or tmp)
        command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--builder", "custom",
                   "--custom-builder", "gettext", "--path-output", str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the gettext build failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
                               f"{done.stderr[-3000:]}")
        pot_dir = out / "_build" / "gettext"
        pages = {}
        for pot in sorted(pot_dir.rglob("*.pot")):
            page = pot.relative_to(pot_dir).with_suffix("").as_posix()
            pages[page] = [entry.msgid for entry in polib.pofile(str(pot))]
        if not pages:
            raise RuntimeError(f"the gettext build wrote no catalog under {pot_dir}")
        return pages


def interface_messages() -> list[str]:
    """What the pages show that is not in their source: explorer labels, glued verdict words, the language switch."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import interface_i18n
    finally:
        sys.path.pop(0)
    from cnnbook import explorers

    messages = list(dict.fromkeys(explorers.LABELS.values()))
    messages += interface_i18n.phrases()
    messages += interface_i18n.labels(interface_i18n.stored_glue(ROOT / "notebooks"))
    return list(dict.fromkeys(messages))


def update() -> dict[str, tuple[int, int, int]]:
    """Bring every catalog in line with the English source. Returns {page: (kept, added, dropped)}."""
    pages = extract_pages()
    pages[INTERFACE] = interface_messages()
    report = {}
    for page, msgids in pages.items():
        path = MESSAGES / f"{page}.po"
        old = {e.msgid: e for e in polib.pofile(str(path))} if path.exists() else {}
        po = polib.POFile(wrapwidth=0)
        po.metadata = dict(HEADER)
        kept = 0
        for msgid in dict.fromkeys(msgids):
            previous = old.get(msgid)
            entry = polib.POEntry(msgid=msgid, msgstr=previous.msgstr if previous else "")
            if previous is not None:
                kept += 1
                entry.flags = [f for f in previous.flags if f == "fuzzy"]
                entry.tcomment = previous.tcomment
            po.append(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(po, path)
        report[page] = (kept, len(po) - kept, len(set(old) - set(msgids)))
    for stale in MESSAGES.rglob("*.po"):
        if stale.relative_to(MESSAGES).with_suffix("").as_posix() not in pages:
            stale.unlink()
    return report


def _save(po: polib.POFile, path: Path) -> None:
    """Write atomically (a catalog is never half-written)."""
    tmp = path.with_suffix(".po.tmp")
    tmp.write_text(str(po) + "\n", encoding="utf-8")
    tmp.replace(path)


def catalogs() -> dict[str, polib.POFile]:
    return {p.relative_to(MESSAGES).with_suffix("").as_posix(): polib.pofile(str(p), wrapwidth=0)
            for p in sorted(MESSAGES.rglob("*.po"))}


# --- the gates --------------------------------------------------------------------------------------------------

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
MATH_DISPLAY = re.compile(r"\$\$.+?\$\$", re.S)
MATH_INLINE = re.compile(r"(?<![\\$])\$(?!\s)(?:\\.|[^$\\])+?(?<!\s)\$(?!\$)")
ROLE = re.compile(r"\{([\w:.-]+)\}`([^`]*)`")
CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
URL = re.compile(r"https?://[^\s)>\]]+")
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[ ,\u2009\u202f]\d{3}(?!\d))*(?:\.\d+)?")  # "13 554", "1,000", "0.27"
DIMENSION = re.compile(r"\b\d-D\b")  # "2-D" may be written 二维
BRACE = re.compile(r"\{\w*\}")  # the fields of an interface phrase, e.g. {label}
WORD = re.compile(r"[A-Za-z][\w'-]*")


def _role_target(content: str) -> str:
    m = re.match(r"(?s)(.*?)\s*<([^<>]+)>\s*$", content)
    return m.group(2).strip() if m else content.strip()


def placeholders(text: str) -> dict[str, collections.Counter]:
    """What a translation must keep: math, inline code, (role, target) pairs, link targets, HTML tags, numbers."""
    kept = {"math": collections.Counter(), "code": collections.Counter(), "role": collections.Counter(),
            "link": collections.Counter(), "tag": collections.Counter(), "number": collections.Counter()}
    rest = text
    for m in ROLE.finditer(rest):
        kept["role"][(m.group(1), _role_target(m.group(2)))] += 1
    rest = ROLE.sub(" ", rest)
    for pattern in (MATH_DISPLAY, MATH_INLINE):
        for m in pattern.finditer(rest):
            kept["math"][m.group(0).strip()] += 1
        rest = pattern.sub(" ", rest)
    for m in CODE.finditer(rest):
        kept["code"][m.group(2).strip()] += 1
    rest = CODE.sub(" ", rest)
    for m in LINK.finditer(rest):
        kept["link"][m.group(1)] += 1
    rest = LINK.sub("] ", rest)
    for m in URL.finditer(rest):
        kept["link"][m.group(0).rstrip(".,;")] += 1
    rest = URL.sub(" ", rest)
    for m in TAG.finditer(rest):
        kept["tag"][m.group(0) if m.group(0).startswith("</") else m.group(1)] += 1
    rest = TAG.sub(" ", rest)
    rest = DIMENSION.sub(" ", rest)
    for m in NUMBER.finditer(rest):
        kept["number"][re.sub(r"[ ,\u2009\u202f]", "", m.group(0))] += 1
    return kept


def prose(text: str) -> str:
    """The text outside math, code, role targets, links and tags: what a reader reads as words."""
    text = ROLE.sub(lambda m: " " + re.sub(r"\s*<[^<>]+>\s*$", "", m.group(2)) + " "
                    if "<" in m.group(2) else " ", text)
    for pattern in (MATH_DISPLAY, MATH_INLINE, CODE, URL, TAG):
        text = pattern.sub(" ", text)
    return LINK.sub("] ", text)


def is_display_math(msgid: str) -> bool:
    """A display formula (a `$$` or amsmath block): LaTeX commands, no `$`, no code, no run of English words."""
    if "$" not in msgid and "`" not in msgid and msgid.startswith("\n"):
        return True  # a $$ block's source
    if "$" in msgid or "`" in msgid or not re.search(r"\\[a-zA-Z]+", msgid):
        return False
    text = re.sub(r"\\(?:text|mathrm|operatorname|textrm|mbox)\{[^}]*\}", " ", msgid)
    return not re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}", re.sub(r"\\[a-zA-Z]+", " ", text))


def emphasis(text: str) -> tuple[int, int]:
    """(bold spans, literal asterisks) as CommonMark reads the text. Next to Chinese punctuation a marker can stop
    being one: "**阅读。**HTML" prints its asterisks (write "**阅读**。HTML")."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parseInline(text)[0].children or []
    return (sum(t.type == "strong_open" for t in tokens),
            sum(t.content.count("*") for t in tokens if t.type == "text"))


def needs_chinese(msgid: str, kept_names: set[str]) -> bool:
    """A message needs Chinese unless its words are only names, symbols or identifiers (e.g. 'Grad-CAM', 'ReLU')."""
    words = WORD.findall(BRACE.sub(" ", prose(msgid)))
    return any(not (w[0].isupper() or any(c.isdigit() for c in w) or w.lower() in kept_names) or
               (w[0].isupper() and w.lower() in ENGLISH_CAPITALISED) for w in words)


# Capitalised English words that start a sentence or heading, so their message is prose, not a name.
ENGLISH_CAPITALISED = {"the", "a", "an", "what", "why", "how", "one", "two", "three", "from", "with", "and", "or",
                       "of", "in", "on", "at", "to", "for", "by", "is", "are", "see", "this", "that", "where", "when"}


def termbase() -> list[tuple[list[str], str, list[str]]]:
    entries = []
    for line in TERMBASE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t") + ["", "", ""]
        forms = [f.strip() for f in cols[0].split("|") if f.strip()]
        excluded = [f.strip() for f in cols[2].split("|") if f.strip()]
        entries.append((forms, cols[1].strip(), excluded))
    return entries


def term_pattern(form: str) -> re.Pattern:
    """An English form as written, any case (an acronym such as MAC: exactly), plural too, hyphen or space alike."""
    body = re.escape(form).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
    flags = 0 if form.isupper() else re.I
    return re.compile(rf"(?<![A-Za-z]){body}(?:s|es)?(?![A-Za-z])", flags)


def glossary_terms() -> set[str]:
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    return {line.strip() for line in block.splitlines() if line.strip() and not line.startswith((" ", "\t"))}


def problems(po: polib.POFile, page: str, entries=None, kept_names=None, terms=None) -> list[str]:
    """Every gate's complaint about one catalog, one line each ('' list when it passes)."""
    entries = termbase() if entries is None else entries
    kept_names = {f.lower() for forms, zh, _ in entries for f in forms if f.lower() == zh.lower()} if kept_names is None else kept_names
    terms = glossary_terms() if terms is None else terms
    found = []
    for e in po:
        if e.obsolete:
            continue
        where = f"{page}: {e.msgid[:70]!r}"
        if "fuzzy" in e.flags:
            found.append(f"{where}: fuzzy")
        if not e.msgstr.strip():
            found.append(f"{where}: untranslated")
            continue
        if is_display_math(e.msgid):
            if e.msgstr != e.msgid:
                found.append(f"{where}: a display formula is copied unchanged")
            continue
        if re.match(r"\s*", e.msgstr).group(0) != re.match(r"\s*", e.msgid).group(0) or \
                re.search(r"\s*$", e.msgstr).group(0) != re.search(r"\s*$", e.msgid).group(0):
            found.append(f"{where}: the translation must begin and end as the original does (a stray line break "
                         f"turns a heading into a paragraph)")
        if page == INTERFACE and set(BRACE.findall(e.msgid)) != set(BRACE.findall(e.msgstr)):
            found.append(f"{where}: the translation must keep the fields {sorted(set(BRACE.findall(e.msgid)))}")
        if needs_chinese(e.msgid, kept_names) and not CJK.search(e.msgstr):
            found.append(f"{where}: the translation has no Chinese characters")
        want, got = placeholders(e.msgid), placeholders(e.msgstr)
        for kind in want:
            # numbers: each must appear (Chinese may say a number once where English repeats it)
            missing = {k for k in want[kind] if k not in got[kind]} if kind == "number" else want[kind] - got[kind]
            extra = (got[kind] - want[kind]) if kind in ("role", "math", "link", "code") else {}
            if missing:
                found.append(f"{where}: the translation lost {kind} {sorted(missing)!r}")
            if extra:
                found.append(f"{where}: the translation adds {kind} not in the original {sorted(extra)!r}")
        (bold, stray), (bold_zh, stray_zh) = emphasis(e.msgid), emphasis(e.msgstr)
        if bold_zh != bold or stray_zh > stray:
            found.append(f"{where}: bold or italic markers do not render ({bold_zh} bold spans for {bold}, "
                         f"{stray_zh} literal '*'): keep Chinese punctuation outside the markers, '**阅读**。'")
        english = prose(e.msgid)
        for forms, zh, excluded in entries:
            text = english
            for phrase in excluded:
                text = term_pattern(phrase).sub(" ", text)
            if any(term_pattern(f).search(text) for f in forms) and zh.lower() not in e.msgstr.lower():
                found.append(f"{where}: the term {forms[0]!r} must be rendered {zh!r}")
        if page == "book/glossary" and e.msgid in terms and e.msgid not in e.msgstr:
            found.append(f"{where}: a glossary term keeps its English beside the Chinese, e.g. '卷积核（kernel）'")
    return found


def check(pages: dict[str, polib.POFile] | None = None) -> list[str]:
    pages = catalogs() if pages is None else pages
    entries, terms = termbase(), glossary_terms()
    kept_names = {f.lower() for forms, zh, _ in entries for f in forms if f.lower() == zh.lower()}
    return [p for page, po in pages.items() for p in problems(po, page, entries, kept_names, terms)]


def stat(pages: dict[str, polib.POFile] | None = None) -> dict[str, tuple[int, int]]:
    pages = catalogs() if pages is None else pages
    return {page: (sum(1 for e in po if e.msgstr.strip() and "fuzzy" not in e.flags), len(po))
            for page, po in pages.items()}


# --- plain-text exchange (no escaping: math keeps its single backslashes) -------------------------------------

MARK = "@@@@"


def dump(po: polib.POFile) -> str:
    """Each message as `@@@@ N en`, the English, `@@@@ N zh`, the translation (empty where there is none)."""
    blocks = [f"{MARK} {i} en\n{e.msgid}\n{MARK} {i} zh\n{e.msgstr}" for i, e in enumerate(po)]
    return "\n".join(blocks) + f"\n{MARK} end\n"


def load(po: polib.POFile, text: str) -> int:
    """Set the translations from `dump`'s format; the English must match the catalog. Returns how many were set."""
    parts = re.split(rf"^{MARK} (\d+ en|\d+ zh|end)\n?", text, flags=re.M)
    fields = dict(zip(parts[1::2], parts[2::2]))
    changed = 0
    for i, e in enumerate(po):
        english, chinese = fields.get(f"{i} en"), fields.get(f"{i} zh")
        if english is None or chinese is None:
            raise ValueError(f"message {i} is missing from the text ({e.msgid[:60]!r})")
        if english[:-1] != e.msgid if english.endswith("\n") else english != e.msgid:
            raise ValueError(f"message {i}: the English differs from the catalog's; do not edit it "
                             f"(catalog: {e.msgid[:60]!r}, text: {english[:60]!r})")
        chinese = chinese[:-1] if chinese.endswith("\n") else chinese
        if chinese != e.msgstr:
            e.msgstr, changed = chinese, changed + 1
            if "fuzzy" in e.flags:
                e.flags.remove("fuzzy")
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update", "check", "stat", "dump", "load"])
    parser.add_argument("pages", nargs="*", help="check only these pages, e.g. notebooks/01_convolution; for "
                        "dump: one page; for load: one page and the text file")
    args = parser.parse_args(argv)
    if args.command in ("dump", "load"):
        page = args.pages[0] if args.pages else ""
        path = MESSAGES / f"{page}.po"
        if not path.exists() or len(args.pages) != (1 if args.command == "dump" else 2):
            parser.error(f"{args.command} needs a page{' and a file' if args.command == 'load' else ''}; pages are "
                         f"{sorted(catalogs())}")
        po = polib.pofile(str(path), wrapwidth=0)
        if args.command == "dump":
            sys.stdout.write(dump(po))
            return 0
        changed = load(po, Path(args.pages[1]).read_text(encoding="utf-8"))
        _save(po, path)
        found = problems(po, page)
        print(f"{page}: {changed} translations set; " + (f"{len(found)} problems:\n" + "\n".join(found)
                                                          if found else "every gate passes."))
        return 1 if found else 0
    if args.command == "update":
        for page, (kept, added, dropped) in update().items():
            print(f"{page}: {kept} kept, {added} new, {dropped} dropped")
        return 0
    pages = catalogs()
    if args.pages:
        unknown = [p for p in args.pages if p not in pages]
        if unknown:
            parser.error(f"no catalog for {unknown}; pages are {sorted(pages)}")
        pages = {p: pages[p] for p in args.pages}
    if args.command == "stat":
        for page, (done, total) in stat(pages).items():
            print(f"{page}: {done}/{total}")
        return 0
    found = check(pages)
    print("\n".join(found) if found else f"{len(pages)} catalogs pass every gate.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
