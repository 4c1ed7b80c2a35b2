"""The course's structure, checked from the notebooks' text (nothing is executed, so this runs in a second).

Four promises of the book (issue 24, Build 6), each a function below that returns a readable list of
problems (which notebook, which exercise or term), and each shown able to fail on a tiny fake notebook:

(a) every exercise of a chapter has a *gated* solution (`solution-start` … `solution-end`) in the same
    notebook, under a `## Solutions` heading that follows `## Exercises`, holding a code cell with output
    or a glued value;
(b) no glossary term is used in a chapter's prose before the chapter that defines it (the first `{doc}`
    link of its glossary entry), unless the chapter's first use of it is a `{term}` role (the forward
    definition) next to a link to the defining chapter;
(c) every chapter maps to at least one assignment through the assignment notebook's metadata
    `metadata["cnnbook"]["chapters"]`, and every name there is a real chapter;
(d) no chapter title carries a hand-written number (the book numbers its Chapters part), and prose refers
    to other chapters by link, never as "chapter 5".

Run `python tests/test_course_structure.py` to write every current problem to
/tmp/course_structure_report.txt.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"
GLOSSARY = ROOT / "book" / "glossary.md"
ASSIGNMENTS_DIR = ROOT / "notebooks" / "assignments"
REPORT = Path("/tmp/course_structure_report.txt")

# Other spellings of a glossary term that count as a use of it (plurals, "-ize" spellings and hyphen/space
# variants are generated; these are the abbreviations and word forms a reader would recognise as the term).
ALIASES = {
    "batch normalisation": ["BatchNorm", "batch norm"],
    "class activation map": ["CAM"],
    "data augmentation": ["augmentation"],
    "effective receptive field": ["ERF"],
    "equivariance": ["equivariant"],
    "fully connected layer": ["fully connected"],
    "global average pooling": ["GAP"],
    "invariance": ["invariant"],
    "logits": ["logit"],
    "MAC": ["multiply-accumulate"],
    "neural architecture search": ["NAS"],
    "over-fitting": ["over-fit", "over-fitted"],
    "ReLU": ["rectified linear unit"],
    "residual connection": ["skip connection", "shortcut connection"],
    "squeeze-and-excitation": ["SE block"],
    "stochastic gradient descent": ["SGD"],
    "validation set": ["validation split"],
    "Vision Transformer": ["ViT"],
}
SOURCE_BOX = "What the source article says"   # quotes of the seed articles: their words are not the book's prose


# ----------------------------------------------------------------------------- reading the book
def toc_parts(toc_path=TOC):
    """{caption: [file stem, ...]} of _toc.yml, in book order."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    return {part.get("caption", ""): [entry["file"] for entry in part.get("chapters", [])]
            for part in toc.get("parts", [])}


def chapter_files(toc_path=TOC):
    """The notebooks of the Chapters part, in book order: [(name, path)], name as in `notebooks/<name>.ipynb`."""
    return [(Path(f).name, ROOT / f"{f}.ipynb") for f in toc_parts(toc_path)["Chapters"]]


def read_chapters(toc_path=TOC):
    return [(name, nbformat.read(path, as_version=4)) for name, path in chapter_files(toc_path)]


def read_assignments(folder=ASSIGNMENTS_DIR):
    return {p.stem: nbformat.read(p, as_version=4) for p in sorted(Path(folder).glob("*/*.ipynb"))
            if ".ipynb_checkpoints" not in p.parts}


def parse_glossary(text):
    """{term: defining chapter name or None} from the `{glossary}` block of glossary.md (first {doc} link)."""
    block = re.search(r"^(`{3,}|:{3,})\{glossary\}[^\n]*\n(.*?)^\1\s*$", text, re.M | re.S)
    if not block:
        raise ValueError("glossary.md has no ```{glossary} block")
    terms, current = {}, None
    for line in block.group(2).splitlines():
        if line.strip() and not line[0].isspace():
            current = line.strip()
            terms[current] = None
        elif current and terms[current] is None:
            link = re.search(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", line)
            if link:
                terms[current] = Path(link.group(1)).name
    return terms


# ----------------------------------------------------------------------------- markdown prose
def _strip_inline(text):
    """Markdown source -> [(kind, value)] in reading order: ("term", target) for a {term} role and
    ("text", words) for prose. Math, inline code, other roles, link targets and comments are dropped."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"(?<![\\\w])\$[^$\n]+\$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)                     # [text](target) -> [text]
    pieces, pos = [], 0
    for m in re.finditer(r"(\{(?P<role>[\w:.-]+)\})?(?P<ticks>`+)(?P<body>.*?)(?P=ticks)", text, re.S):
        pieces.append(("text", text[pos:m.start()]))
        if m.group("role") == "term":
            body = m.group("body")
            target = re.search(r"<([^<>]+)>\s*$", body)
            pieces.append(("term", (target.group(1) if target else body).strip()))
        pos = m.end()
    pieces.append(("text", text[pos:]))
    return pieces


def prose_pieces(markdown):
    """Markdown cell source -> [(kind, value, in_source_box)] in order. Code fences, directive options and
    math blocks are skipped; text inside a "What the source article says" box is marked, since it quotes
    the seed articles."""
    out, stack, buffer = [], [], []

    def flush():
        if buffer:
            in_box = any(kind == "box" for _, _, kind in stack)
            out.extend((k, v, in_box) for k, v in _strip_inline("\n".join(buffer)))
            buffer.clear()

    for line in markdown.splitlines():
        fence = re.match(r"^\s*(`{3,}|:{3,})(.*)$", line)
        if stack and stack[-1][2] == "code":
            if fence and fence.group(1)[0] == stack[-1][0] and len(fence.group(1)) >= stack[-1][1] \
                    and not fence.group(2).strip():
                stack.pop()
            continue
        if fence:
            marks, rest = fence.group(1), fence.group(2).strip()
            if not rest and stack and marks[0] == stack[-1][0] and len(marks) >= stack[-1][1]:
                flush()
                stack.pop()
                continue
            if not rest and not stack:                   # an unmatched closing fence: ignore
                continue
            directive = re.match(r"\{([\w:.-]+)\}\s*(.*)$", rest)
            flush()
            if directive is None or directive.group(1) in ("code-cell", "code-block", "code", "math", "raw"):
                kind = "code"
            elif directive.group(1) == "admonition" and directive.group(2).startswith(SOURCE_BOX):
                kind = "box"
            else:
                kind = "directive"
                if directive.group(1) not in ("solution-start", "solution-end", "glossary", "glue:figure"):
                    buffer.append(directive.group(2))        # an admonition's or figure's title is prose
            stack.append((marks[0], len(marks), kind))
            continue
        if re.match(r"^\s*:[\w-]+:", line) and stack:   # directive options (:label:, :class:, :alt:)
            continue
        buffer.append(line)
    flush()
    return out


def _term_pattern(word):
    parts = re.split(r"[\s-]+", word.strip())
    body = r"[\s-]?".join(re.escape(p).replace("isation", "i[sz]ation") for p in parts)
    case_sensitive = " " not in word and sum(ch.isupper() for ch in word) >= 2    # ReLU, SGD, ViT, CAM
    core = rf"(?<![\w-]){body}(?:s|es)?(?![\w])"
    return f"(?-i:{core})" if case_sensitive else core


def term_matcher(terms):
    """One regex over every term and alias, longest first, so "batch normalisation" is not also "batch"."""
    spellings = []
    for term in terms:
        for word in [term, *ALIASES.get(term, [])]:
            spellings.append((word, term))
    spellings.sort(key=lambda s: -len(s[0]))
    owner = {f"t{i}": term for i, (_, term) in enumerate(spellings)}
    pattern = "|".join(f"(?P<t{i}>{_term_pattern(word)})" for i, (word, _) in enumerate(spellings))
    return re.compile(pattern, re.I), owner


# ----------------------------------------------------------------------------- (a) exercises
def exercise_problems(name, nb):
    """Problems with the exercises of one chapter notebook (a list of readable strings)."""
    problems, events = [], []
    for i, cell in enumerate(nb.cells):
        src = cell.source
        if cell.cell_type == "code":
            events.append((i, 0, "code", bool(cell.get("outputs")) and bool(src.strip())))
            continue
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"^##\s+(Exercises|Solutions)\s*$", src, re.M):
            events.append((i, m.start(), m.group(1), None))
        for m in re.finditer(r"^(?::{3,}|`{3,})\{exercise\}[^\n]*\n(?:\s*:[\w-]+:[^\n]*\n)*", src, re.M):
            label = re.search(r":label:\s*(\S+)", m.group(0))
            events.append((i, m.start(), "exercise", label.group(1) if label else None))
        for m in re.finditer(r"^(?::{3,}|`{3,})\{solution-start\}\s*(\S*)", src, re.M):
            events.append((i, m.start(), "start", m.group(1)))
        for m in re.finditer(r"^(?::{3,}|`{3,})\{solution-end\}", src, re.M):
            events.append((i, m.start(), "end", None))
        for m in re.finditer(r"^(?::{3,}|`{3,})\{solution\}\s*(\S*)", src, re.M):
            events.append((i, m.start(), "ungated", m.group(1)))
        for m in re.finditer(r"\{glue(?::\w+)?\}`|```\{glue(?::\w+)?\}|:::\{glue(?::\w+)?\}", src):
            events.append((i, m.start(), "glue", None))
    events.sort(key=lambda e: (e[0], e[1]))
    where = {}
    for kind in ("Exercises", "Solutions"):
        where[kind] = [(i, p) for i, p, k, _ in events if k == kind]
        if len(where[kind]) > 1:
            problems.append(f"{name}: {len(where[kind])} '## {kind}' headings (one is expected)")
    exercises = [(i, p, label) for i, p, k, label in events if k == "exercise"]
    if not exercises:
        return problems
    ex_head = where["Exercises"][0] if where["Exercises"] else None
    sol_head = where["Solutions"][0] if where["Solutions"] else None
    if ex_head is None:
        problems.append(f"{name}: exercises but no '## Exercises' heading")
    if sol_head is None:
        problems.append(f"{name}: exercises but no '## Solutions' heading")
    elif ex_head is not None and sol_head < ex_head:
        problems.append(f"{name}: '## Solutions' comes before '## Exercises'")
    for i, p, label in exercises:
        if label is None or not label.startswith("ex-"):
            problems.append(f"{name}: cell {i}: an exercise without an ex-… label ({label!r})")
        if ex_head is not None and (i, p) < ex_head or sol_head is not None and (i, p) > sol_head:
            problems.append(f"{name}: exercise {label} (cell {i}) is not between '## Exercises' and '## Solutions'")
    for i, p, k, label in events:
        if k == "ungated":
            problems.append(f"{name}: cell {i}: an ungated {{solution}} block for {label} — use solution-start/-end")
    # walk the solutions: each start must be closed by an end before the next start, and hold code or glue
    solutions, open_block = {}, None
    for i, p, k, value in events:
        if k == "start":
            if open_block:
                problems.append(f"{name}: solution of {open_block['label']} (cell {open_block['cell']}) "
                                f"has no solution-end before the next solution-start")
            open_block = {"label": value, "cell": i, "pos": (i, p), "code": False, "glue": False,
                          "code_no_output": False}
        elif k == "end":
            if open_block is None:
                problems.append(f"{name}: cell {i}: a solution-end without a solution-start")
                continue
            solutions.setdefault(open_block["label"], []).append(open_block)
            open_block = None
        elif open_block is not None and k == "code":
            open_block["code" if value else "code_no_output"] = True
        elif open_block is not None and k == "glue":
            open_block["glue"] = True
    if open_block:
        problems.append(f"{name}: solution of {open_block['label']} (cell {open_block['cell']}) is never closed "
                        f"by a solution-end")
    labels = {label for _, _, label in exercises}
    for _, _, label in exercises:
        found = solutions.get(label)
        if not found:
            problems.append(f"{name}: exercise {label} has no gated solution (solution-start {label} … solution-end)")
            continue
        block = found[0]
        if sol_head is not None and block["pos"] < sol_head:
            problems.append(f"{name}: the solution of {label} (cell {block['cell']}) is not under '## Solutions'")
        if not (block["code"] or block["glue"]):
            detail = " (its code cells have no output: execute the notebook)" if block["code_no_output"] else ""
            problems.append(f"{name}: the solution of {label} (cell {block['cell']}) holds neither a code cell "
                            f"with output nor a glued value{detail}")
    for label in solutions.keys() - labels:
        problems.append(f"{name}: a solution for {label}, which is not an exercise of this notebook")
    return problems


# ----------------------------------------------------------------------------- (b) terms before definition
def term_problems(chapters, glossary):
    """chapters: [(name, notebook)] in book order; glossary: {term: defining chapter name}.
    Returns the uses of a term before its defining chapter that are not forward definitions, and {term}
    roles that name no glossary term."""
    order = {name: k for k, (name, _) in enumerate(chapters)}
    by_lower = {t.lower(): t for t in glossary}
    matcher, owner = term_matcher(glossary)
    problems = []
    for term, home in glossary.items():
        if home is None:
            problems.append(f"glossary: the entry {term!r} links to no chapter with {{doc}}")
        elif home not in order:
            problems.append(f"glossary: the entry {term!r} is defined in {home!r}, which is not in the Chapters part")
    for k, (name, nb) in enumerate(chapters):
        seen = {}
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "markdown":
                continue
            paragraphs = re.split(r"\n\s*\n", cell.source)
            for kind, value, in_box in prose_pieces(cell.source):
                if kind == "term":
                    term = by_lower.get(value.lower())
                    if term is None:
                        problems.append(f"{name}: cell {i}: {{term}}`{value}` is not a glossary term")
                        continue
                    if term not in seen:
                        seen[term] = ("role", i)
                        home = glossary[term]
                        if home in order and order[home] > k and not _links_to(cell.source, value, home):
                            problems.append(f"{name}: cell {i}: forward definition of {term!r} without a link "
                                            f"to {home} in the same paragraph")
                    continue
                if in_box:
                    continue
                for m in matcher.finditer(value):
                    term = owner[m.lastgroup]
                    if term in seen:
                        continue
                    seen[term] = ("text", i)
                    home = glossary[term]
                    if home in order and order[home] > k:
                        problems.append(f"{name}: cell {i}: {term!r} (as {m.group(0)!r}) is used before its "
                                        f"defining chapter {home}; make this first use a forward definition "
                                        f"({{term}}`{term}` + a short definition + a link to {home})")
            del paragraphs
    return problems


def _links_to(source, role_text, home):
    """Is there a link to chapter `home` in the paragraph that holds the {term} role for `role_text`?"""
    for paragraph in re.split(r"\n\s*\n", source):
        if role_text in paragraph and "{term}" in paragraph:
            return home in paragraph
    return home in source


# ----------------------------------------------------------------------------- (c) assignments
def assignment_problems(chapter_names, assignments):
    """chapter_names: chapter names in book order; assignments: {name: notebook}."""
    problems, covered = [], set()
    for name, nb in sorted(assignments.items()):
        mapped = nb.metadata.get("cnnbook", {}).get("chapters")
        if not mapped:
            problems.append(f"{name}: no metadata['cnnbook']['chapters'] naming the chapters it grades")
            continue
        for chapter in mapped:
            if chapter not in chapter_names:
                problems.append(f"{name}: metadata names {chapter!r}, which is not a chapter in _toc.yml")
            covered.add(chapter)
    for chapter in chapter_names:
        if chapter not in covered:
            problems.append(f"{chapter}: no assignment grades this chapter (no assignment lists it in "
                            f"metadata['cnnbook']['chapters'])")
    return problems


# ----------------------------------------------------------------------------- (d) chapter numbers
TITLE_NUMBER = re.compile(r"^#\s+(?:Chapter\s+)?\d+[a-z]?\s*[.:)–-]", re.I)
PROSE_NUMBER = re.compile(r"\b[Cc]hapters?\s+\d+[a-z]?\b")


def title_problems(name, nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return [f"{name}: the title {line!r} carries a hand-written number"] if TITLE_NUMBER.match(line) else []
            return [f"{name}: the first markdown cell has no '# ' title"]
    return [f"{name}: no markdown cell, so no title"]


def chapter_number_problems(name, markdown_sources):
    """Prose that names another chapter by its number ("chapter 5", "chapters 3 and 3b")."""
    problems = []
    for i, source in markdown_sources:
        for kind, value, in_box in prose_pieces(source):
            if kind != "text":
                continue
            for m in PROSE_NUMBER.finditer(value):
                problems.append(f"{name}: cell {i}: {m.group(0)!r} — link the chapter instead "
                                f"({{doc}}`…` or [the … chapter](….ipynb))")
    return problems


def markdown_of(nb):
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]


# ----------------------------------------------------------------------------- all problems
def all_problems():
    chapters = read_chapters()
    glossary = parse_glossary(GLOSSARY.read_text(encoding="utf-8"))
    assignments = read_assignments()
    pages = [f for files in toc_parts().values() for f in files if not f.startswith("notebooks/")]
    numbers = [p for name, nb in chapters for p in chapter_number_problems(name, markdown_of(nb))]
    numbers += [p for name, nb in assignments.items() for p in chapter_number_problems(name, markdown_of(nb))]
    numbers += [p for page in pages if (ROOT / f"{page}.md").exists()
                for p in chapter_number_problems(page, [(0, (ROOT / f"{page}.md").read_text(encoding="utf-8"))])]
    return {
        "(a) exercises without a gated, computed solution":
            [p for name, nb in chapters for p in exercise_problems(name, nb)],
        "(b) glossary terms used before the chapter that defines them":
            term_problems(chapters, glossary),
        "(c) chapters and assignments": assignment_problems([n for n, _ in chapters], assignments),
        "(d) hand-written chapter numbers in titles": [p for name, nb in chapters for p in title_problems(name, nb)],
        "(d) chapters named by number in prose": numbers,
        "(e) instructors.md against the assignments":
            instructors_table_problems((ROOT / "book" / "instructors.md").read_text(encoding="utf-8"), assignments),
    }


def write_report(path=REPORT):
    sections = all_problems()
    lines = ["Course structure report (tests/test_course_structure.py)", ""]
    for title, problems in sections.items():
        lines.append(f"{title}: {len(problems)}")
        lines.extend(f"  - {p}" for p in problems)
        lines.append("")
    Path(path).write_text("\n".join(lines), encoding="utf-8")
    return sections


def _fail(problems, what):
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n" + "\n".join(f"  - {p}" for p in problems), pytrace=False)


# ----------------------------------------------------------------------------- the checks on the book
def test_every_exercise_has_a_gated_solution_with_code_or_glue():
    _fail([p for name, nb in read_chapters() for p in exercise_problems(name, nb)],
          "exercise/solution problems")


def test_no_glossary_term_is_used_before_its_chapter_without_a_forward_definition():
    glossary = parse_glossary(GLOSSARY.read_text(encoding="utf-8"))
    _fail(term_problems(read_chapters(), glossary), "terms used before they are defined")


def test_every_chapter_maps_to_an_assignment_and_every_mapping_names_a_chapter():
    _fail(assignment_problems([n for n, _ in chapter_files()], read_assignments()), "assignment mapping problems")


def test_no_chapter_title_carries_a_hand_written_number():
    _fail([p for name, nb in read_chapters() for p in title_problems(name, nb)], "numbered titles")


def test_prose_links_chapters_instead_of_numbering_them():
    _fail(all_problems()["(d) chapters named by number in prose"], "chapters named by number")


NUMBER_WORDS = {6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
                14: "fourteen", 15: "fifteen"}


def instructors_table_problems(page_text, assignments):
    """The instructors page's assignment table against the notebooks: the same assignments, the chapters of
    their metadata (as {doc} links) and their announced totals; the heading counts them in words."""
    problems, rows = [], {}
    for line in page_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`a\d+_\w+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    for name in sorted(rows.keys() - assignments.keys()):
        problems.append(f"instructors.md: the table lists {name}, which is not in notebooks/assignments/")
    for name, nb in sorted(assignments.items()):
        if name not in rows:
            problems.append(f"instructors.md: the table has no row for {name}")
            continue
        linked = [Path(d).name for d in re.findall(r"\{doc\}`([^`]+)`", rows[name][1])]
        mapped = nb.metadata.get("cnnbook", {}).get("chapters", [])
        if linked != mapped:
            problems.append(f"instructors.md: {name} lists chapters {linked}, its metadata {mapped}")
        total = re.search(r"\*\*Total: (\d+) points\*\*", nb.cells[0].source if nb.cells else "")
        if not total or total.group(1) != rows[name][4]:
            problems.append(f"instructors.md: {name} has {rows[name][4]} points in the table, the notebook announces "
                            f"{total.group(1) if total else 'no total'}")
    word = NUMBER_WORDS.get(len(assignments), str(len(assignments)))
    if f"## The {word} assignments" not in page_text:
        problems.append(f"instructors.md: the heading should read '## The {word} assignments'")
    return problems


def test_the_instructors_table_agrees_with_the_assignment_notebooks():
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    _fail(instructors_table_problems(page, read_assignments()), "differences between instructors.md and the notebooks")


def test_instructors_table_check_can_fail():
    nb = _nb(("md", "# A1\n\n**Total: 10 points** (8 autograded, 2 for a written answer)."))
    nb.metadata["cnnbook"] = {"chapters": ["c1"]}
    row = "| `a1_x` | {doc}`../notebooks/c1` | code | answer | 10 |"
    assert instructors_table_problems("## The six assignments\n\n" + row, {"a1_x": nb}) != []  # one, not six
    assert instructors_table_problems(f"## The {NUMBER_WORDS.get(1, '1')} assignments\n\n" + row, {"a1_x": nb}) == []
    wrong = row.replace("| 10 |", "| 12 |").replace("c1", "c2")
    problems = instructors_table_problems("## The 1 assignments\n\n" + wrong, {"a1_x": nb, "a2_y": nb})
    assert any("12 points" in p for p in problems) and any("chapters ['c2']" in p for p in problems)
    assert any("no row for a2_y" in p for p in problems)


# ----------------------------------------------------------------------------- each check can fail
def _nb(*cells):
    """A tiny notebook from ("md" | "code", source[, outputs]) tuples."""
    nb = nbformat.v4.new_notebook()
    for kind, source, *rest in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")] if rest and rest[0] else []
            nb.cells.append(cell)
    return nb


EXERCISE = ":::{exercise}\n:label: ex-a\nCompute it.\n:::\n"
START = ":::{solution-start} ex-a\n:class: dropdown\n:::\n\nWe compute it."
END = "It is 42.\n\n:::{solution-end}\n:::"


def test_exercise_check_passes_the_layout_of_the_brief():
    good = _nb(("md", "# Fake\n\n## Exercises\n\n" + EXERCISE), ("md", "## Solutions"), ("md", START),
               ("code", "print(42)", True), ("md", END))
    assert exercise_problems("fake", good) == []
    glued = _nb(("md", "## Exercises\n\n" + EXERCISE + "\n## Solutions\n\n" + START + "\nIt is {glue:text}`x`.\n\n"
                 + END))
    assert exercise_problems("fake", glued) == []


@pytest.mark.parametrize("cells, message", [
    ([("md", "## Exercises\n\n" + EXERCISE)], "has no gated solution"),
    ([("md", "## Exercises\n\n" + EXERCISE), ("md", START), ("code", "print(42)", True), ("md", END)],
     "no '## Solutions' heading"),
    ([("md", "## Exercises\n\n" + EXERCISE), ("md", "## Solutions"), ("md", START), ("md", END)],
     "neither a code cell with output nor a glued value"),
    ([("md", "## Exercises\n\n" + EXERCISE), ("md", "## Solutions"), ("md", START), ("code", "x = 42"),
      ("md", END)], "have no output"),
    ([("md", "## Exercises\n\n" + EXERCISE), ("md", "## Solutions"), ("md", START), ("code", "print(42)", True)],
     "never closed"),
    ([("md", "## Solutions\n\n" + START), ("code", "print(42)", True), ("md", END + "\n\n## Exercises\n\n" + EXERCISE)],
     "'## Solutions' comes before '## Exercises'"),
    ([("md", "## Exercises\n\n" + EXERCISE + "\n```{solution} ex-a\n42\n```\n\n## Solutions")],
     "ungated"),
])
def test_exercise_check_fails_on_a_broken_layout(cells, message):
    problems = exercise_problems("fake", _nb(*cells))
    assert any(message in p and "fake" in p for p in problems), problems


GLOSSARY_FAKE = """# Glossary

```{glossary}
batch
  A group of examples. See {doc}`../notebooks/c2`.

batch normalisation
  Normalising with batch statistics. See {doc}`../notebooks/c2`.

kernel
  The weights. See {doc}`../notebooks/c1` and {doc}`../notebooks/c2`.

ReLU
  max(0, x). See {doc}`../notebooks/c2`.
```
"""


def test_glossary_parser_takes_the_first_doc_link_as_the_defining_chapter():
    assert parse_glossary(GLOSSARY_FAKE) == {"batch": "c2", "batch normalisation": "c2", "kernel": "c1",
                                             "ReLU": "c2"}


def test_term_check_flags_a_use_before_the_defining_chapter():
    glossary = parse_glossary(GLOSSARY_FAKE)
    early = _nb(("md", "# One\n\nA kernel slides over the image.\n\nThen we use batches of images."))
    problems = term_problems([("c1", early), ("c2", _nb(("md", "# Two\n\nA batch.")))], glossary)
    assert len(problems) == 1 and "c1: cell 0: 'batch'" in problems[0] and "'batches'" in problems[0], problems


def test_term_check_accepts_a_forward_definition_and_ignores_code_math_and_quotes():
    glossary = parse_glossary(GLOSSARY_FAKE)
    forward = _nb(("md", "# One\n\nWe train on a {term}`batch` (a group of examples; built in {doc}`c2`). "
                         "Later every batch is shuffled."),
                  ("md", "The variable `batch` and $batch$ are code and math.\n\n```python\nrelu(batch)\n```"),
                  ("md", ":::{admonition} What the source article says\n:class: note\nUse ReLU here.\n:::"))
    assert term_problems([("c1", forward), ("c2", _nb(("md", "# Two")))], glossary) == []


def test_term_check_wants_the_forward_definition_at_the_first_use_with_a_link():
    glossary = parse_glossary(GLOSSARY_FAKE)
    late = _nb(("md", "# One\n\nThe ReLU comes first. Then a {term}`ReLU` (see {doc}`c2`)."))
    no_link = _nb(("md", "# One\n\nA {term}`ReLU` clips negatives."))
    chapters = lambda nb: [("c1", nb), ("c2", _nb(("md", "# Two")))]  # noqa: E731
    assert any("'ReLU'" in p and "before its defining chapter c2" in p for p in term_problems(chapters(late), glossary))
    assert any("without a link to c2" in p for p in term_problems(chapters(no_link), glossary))


def test_term_check_reads_the_longest_term_and_flags_unknown_term_roles():
    glossary = parse_glossary(GLOSSARY_FAKE)
    nb = _nb(("md", "# One\n\nUse batch-normalization here; a {term}`dropout` layer."))
    problems = term_problems([("c1", nb), ("c2", _nb(("md", "# Two")))], glossary)
    assert any("'batch normalisation'" in p for p in problems), problems
    assert not any("'batch' (as" in p for p in problems), problems
    assert any("{term}`dropout` is not a glossary term" in p for p in problems), problems
    outside = term_problems([("c1", _nb(("md", "# One")))], glossary)
    assert any("'batch' is defined in 'c2', which is not in the Chapters part" in p for p in outside), outside


def test_assignment_mapping_check_names_unmapped_chapters_and_unknown_names():
    good = _nb(("md", "# A1"))
    good.metadata["cnnbook"] = {"chapters": ["c1", "c2"]}
    assert assignment_problems(["c1", "c2"], {"a1": good}) == []
    wrong = _nb(("md", "# A1"))
    wrong.metadata["cnnbook"] = {"chapters": ["c1", "c9"]}
    problems = assignment_problems(["c1", "c2"], {"a1": wrong, "a2": _nb(("md", "# A2"))})
    assert any("a1: metadata names 'c9'" in p for p in problems)
    assert any(p.startswith("c2: no assignment grades this chapter") for p in problems)
    assert any(p.startswith("a2: no metadata") for p in problems)


def test_title_and_prose_number_checks():
    assert title_problems("c5", _nb(("md", "# 5. Receptive fields"))) != []
    assert title_problems("c3b", _nb(("md", "# 3b. Training well"))) != []
    assert title_problems("c5", _nb(("md", "# Receptive fields\n\nHow far one unit sees."))) == []
    prose = chapter_number_problems("c6", [(2, "As chapter 5 showed, and {doc}`05_receptive_fields` too.")])
    assert len(prose) == 1 and "c6: cell 2: 'chapter 5'" in prose[0]
    assert chapter_number_problems("c6", [(2, "As {doc}`05_receptive_fields` showed.")]) == []


def test_the_real_glossary_and_toc_parse():
    glossary = parse_glossary(GLOSSARY.read_text(encoding="utf-8"))
    assert len(glossary) >= 30 and glossary["convolution"] == "01_convolution"
    assert [name for name, _ in chapter_files()][0] == "01_convolution"


if __name__ == "__main__":
    found = write_report(Path(sys.argv[1]) if len(sys.argv) > 1 else REPORT)
    print("\n".join(f"{title}: {len(problems)}" for title, problems in found.items()))
