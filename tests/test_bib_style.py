"""The reference list is labelled the way the text cites (author_year): one citation style in the book."""

import sys
from pathlib import Path

from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from bib_author_year import AuthorYearLabelStyle, author_year_label  # noqa: E402

BIB = parse_file(str(ROOT / "book" / "references.bib"))


def test_labels_follow_sphinxcontrib_bibtex_author_year_citations():
    assert author_year_label(BIB.entries["hu2018squeeze"]) == "Hu et al., 2018"
    assert author_year_label(BIB.entries["ioffe2015batch"]) == "Ioffe and Szegedy, 2015"
    assert author_year_label(BIB.entries["fukushima1980neocognitron"]) == "Fukushima, 1980"


def test_every_label_is_unique_and_has_a_year():
    labels = list(AuthorYearLabelStyle().format_labels(BIB.entries.values()))
    assert len(labels) == len(set(labels)), "two references would share a label"
    assert all(label[-4:].isdigit() or label[-5:-1].isdigit() for label in labels), labels


def test_the_book_uses_the_style():
    config = (ROOT / "_config.yml").read_text()
    assert "bibtex_default_style: authoryear" in config and "bibtex_reference_style: author_year" in config
