"""The index points into the chapters: every glossary term has an `{index}` entry in the chapter that teaches it
(the first chapter its glossary definition links to), so the book's index (HTML genindex, PDF index) leads a
reader to the explanation and not only to the glossary. Figures and key equations carry names, so the HTML book
and the PDF number them alike (Fig. 12.1, equation (12.2)). Read from the sources: no book build needed."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
INDEX_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{index\}[ \t]+(.+)$", re.M)
INDEX_ROLE = re.compile(r"\{index\}`(?:[^`<]*<)?([^`>]+)>?`")


def glossary_terms(text: str) -> dict[str, list[str]]:
    """term -> the chapters its definition links to ({doc}`../notebooks/NAME`), in order of mention."""
    body = text[text.index("```{glossary}"):].splitlines()[1:]
    terms, current = {}, None
    for line in body:
        if line.startswith("```"):
            break
        if line and not line.startswith(" "):
            current = line.strip()
            terms[current] = []
        elif current:
            terms[current] += re.findall(r"\{doc\}`\.\./notebooks/(\w+)`", line)
    return terms


def index_keys(markdown: str) -> list[str]:
    """The top-level keys of the index entries in MyST markdown ('single: a; b' and 'a; b' give 'a')."""
    raw = [m.group(2) for m in INDEX_DIRECTIVE.finditer(markdown)] + INDEX_ROLE.findall(markdown)
    keys = []
    for entry in raw:
        entry = re.sub(r"^(single|pair|triple|see|seealso):\s*", "", entry.strip())
        keys += [part.split(";")[0].strip().lstrip("!") for part in entry.split(",")]
    return [k for k in keys if k]


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def missing_entries(terms: dict[str, list[str]], keys_by_chapter: dict[str, list[str]]) -> list[str]:
    """Glossary terms without an index entry in their defining chapter (or without a defining chapter)."""
    problems = []
    for term, chapters in terms.items():
        if not chapters:
            problems.append(f"{term!r}: the glossary definition links to no chapter ({{doc}}`../notebooks/...`)")
            continue
        keys = {k.casefold() for k in keys_by_chapter.get(chapters[0], [])}
        if term.casefold() not in keys:
            problems.append(f"{term!r}: no index entry in {chapters[0]}.ipynb; add ':::{{index}} {term}\\n:::' "
                            f"before the paragraph that teaches it")
    return problems


def test_every_glossary_term_is_indexed_where_its_chapter_teaches_it():
    terms = glossary_terms((ROOT / "book" / "glossary.md").read_text(encoding="utf-8"))
    assert len(terms) >= 60, f"only {len(terms)} glossary terms parsed; has the glossary's format changed?"
    keys = {p.stem: index_keys(notebook_markdown(p)) for p in CHAPTERS}
    problems = missing_entries(terms, keys)
    assert not problems, "\n".join(problems)


def test_the_index_has_entries_in_every_chapter_and_sixty_in_all():
    counts = {p.stem: len(index_keys(notebook_markdown(p))) for p in CHAPTERS}
    assert all(counts.values()), f"chapters without any index entry: {[c for c, n in counts.items() if not n]}"
    assert sum(counts.values()) >= 60, f"only {sum(counts.values())} index entries point into chapters"


def test_checker_reports_a_term_missing_from_its_chapter():
    glossary = ("# Glossary\n\n```{glossary}\nim2col\n  Patches as columns. See\n  {doc}`../notebooks/01_conv`.\n\n"
                "stride\n  The step. See {doc}`../notebooks/01_conv`.\n\norphan\n  No link.\n```\n")
    terms = glossary_terms(glossary)
    assert terms == {"im2col": ["01_conv"], "stride": ["01_conv"], "orphan": []}
    markdown = ("## Three ways\n\n:::{index} im2col\n:::\n\nText with {index}`a stride <single: stride; of a kernel>`"
                " and\n\n```{index} pair: FFT; convolution\n```\n")
    assert index_keys(markdown) == ["im2col", "FFT", "stride"]
    problems = missing_entries(terms, {"01_conv": ["im2col"]})
    assert len(problems) == 2 and "'stride'" in problems[0] and "01_conv" in problems[0] and "'orphan'" in problems[1]
    assert missing_entries({"im2col": ["01_conv"]}, {"02_other": ["im2col"]}), "an entry in another chapter counts"


DISPLAY_MATH = re.compile(r"^\$\$.*?\$\$[ \t]*(?:\(([\w-]+)\))?[ \t]*$", re.M | re.S)
# The formulas other pages refer to by number (book/formulas.md, the chapters' own prose).
KEY_EQUATIONS = {"eq-conv-definition", "eq-output-size", "eq-parameter-count", "eq-conv-grad-weight",
                 "eq-rf-bottom-up", "eq-softmax-cross-entropy", "eq-softmax-gradient", "eq-batchnorm", "eq-cam",
                 "eq-grad-cam", "eq-macs", "eq-variance-one-layer", "eq-residual", "eq-squeeze-excitation",
                 "eq-attention"}


def test_every_figure_of_a_chapter_has_a_caption_and_a_unique_name():
    """myst-nb wraps a cell's image in a numbered figure from the cell metadata `mystnb.figure`; a cell that
    draws several images would repeat the name on each (a duplicate target), so it must not carry one."""
    names, problems = [], []
    for path in CHAPTERS:
        for n, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            if not images:
                continue
            figure = cell["metadata"].get("mystnb", {}).get("figure", {})
            if len(images) > 1:
                if figure.get("name"):
                    problems.append(f"{path.name} cell {n}: {len(images)} images share the figure name {figure['name']!r}")
                continue
            if len(figure.get("caption", "").split()) < 3 or not figure.get("name", "").startswith("fig-"):
                problems.append(f"{path.name} cell {n}: set cell metadata mystnb.figure.caption (the figure's "
                                f"title sentence) and mystnb.figure.name ('fig-...'), got {figure!r}")
            names.append(figure.get("name"))
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not problems and not duplicates, "\n".join(problems + [f"figure names used twice: {duplicates}"])
    assert len(names) >= 40, f"only {len(names)} numbered figures in the chapters"


def test_key_equations_are_numbered_once():
    labels = [label for path in CHAPTERS for label in DISPLAY_MATH.findall(notebook_markdown(path)) if label]
    assert len(labels) == len(set(labels)), f"equation labels used twice: {sorted(l for l in set(labels) if labels.count(l) > 1)}"
    missing = KEY_EQUATIONS - set(labels)
    assert not missing, f"key equations without a label ($$ ... $$ (eq-...)): {sorted(missing)}"
