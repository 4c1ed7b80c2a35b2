"""What book/build_pdf.py does to Chromium's PDF with pypdf: read where each link target landed, stamp the
running heads, write the outline (bookmarks).

Chromium writes a named destination for every element an internal link points to (`/Dests`), so the page
of any linked id is known after a print: the contents and index link every heading and index target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, Fit, FloatObject, NameObject

logging.getLogger("pypdf").setLevel(logging.ERROR)  # Chromium's trailer size: harmless, and noisy


@dataclass
class Place:
    page: int  # 0-based page index
    top: float  # PDF points from the bottom of the page


def destinations(reader: PdfReader) -> dict[str, Place]:
    """Every named destination of the PDF: id (without the leading slash) -> where it is."""
    places = {}
    for name, dest in reader.named_destinations.items():
        page = reader.get_destination_page_number(dest)
        places[str(name).lstrip("/")] = Place(page, float(dest.top or 0))
    return places


def internal_links(reader: PdfReader) -> tuple[list[str], list[str]]:
    """(named destinations that internal links use, URIs of all other links)."""
    named, uris = [], []
    for page in reader.pages:
        for annot in page.get("/Annots", []) or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            if "/Dest" in annot:
                named.append(str(annot["/Dest"]).lstrip("/"))
            elif "/A" in annot:
                action = annot["/A"].get_object()
                if action.get("/S") == "/GoTo":
                    named.append(str(action["/D"]).lstrip("/"))
                else:
                    uris.append(str(action.get("/URI", action.get("/S"))))
    return named, uris


HEADS_CSS = """
@page { size: A4; margin: 0; }
html, body { margin: 0; padding: 0; }
.p { height: 297mm; width: 210mm; position: relative; break-after: page; overflow: hidden; }
.p:last-child { break-after: auto; }
.h { position: absolute; top: 10mm; left: 16mm; right: 16mm; padding-bottom: 1.2mm; border-bottom: 0.4pt solid #999;
     font: italic 8.5pt/1.2 sans-serif; color: #444; display: flex; justify-content: space-between; gap: 8mm; }
.h:lang(zh-CN) { font-style: normal; font-family: "WenQuanYi Micro Hei", sans-serif; }  /* no slanted Chinese */
.h span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.h span:first-child { flex: 0 0 auto; max-width: 100%; }
"""


def heads_html(heads: list[tuple[str, str]], lang: str = "en") -> str:
    """A page per PDF page, each with its running head (left, right text); empty heads print nothing."""
    import html

    pages = []
    for left, right in heads:
        head = (f'<div class="h"><span>{html.escape(left)}</span><span>{html.escape(right)}</span></div>'
                if left or right else "")
        pages.append(f'<div class="p">{head}</div>')
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><style>{HEADS_CSS}</style></head>'
            f'<body>{"".join(pages)}</body></html>')


@dataclass
class Mark:
    """An outline entry: title, target id, children."""

    title: str
    target: str
    children: list["Mark"]


def stamp(writer: PdfWriter, page, head) -> None:
    """Draw `head` (a page) over `page` as a form XObject marked as an artifact (not part of the text's
    structure). Cheaper than pypdf's merge_page, which parses and rewrites every content stream."""
    form = DecodedStreamObject()
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): ArrayObject([FloatObject(v) for v in head.mediabox]),
                 NameObject("/Resources"): head.get("/Resources", DictionaryObject()).get_object().clone(writer)})
    drawing = head.get_contents()  # a ContentStream: an empty dict, so test it against None, not for truth
    form.set_data(drawing.get_data() if drawing is not None else b"")
    # Chromium shares one resource dictionary between pages: each page gets its own copy, with its head.
    resources = DictionaryObject(page.get("/Resources", DictionaryObject()).get_object())
    xobjects = DictionaryObject(resources.get("/XObject", DictionaryObject()).get_object())
    xobjects[NameObject("/PdfRunningHead")] = writer._add_object(form)
    resources[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = resources
    before, after = DecodedStreamObject(), DecodedStreamObject()
    before.set_data(b"q\n")
    after.set_data(b"\nQ\n/Artifact BMC q /PdfRunningHead Do Q EMC\n")
    contents = page.raw_get("/Contents") if "/Contents" in page else ArrayObject()
    streams = list(contents.get_object()) if isinstance(contents.get_object(), ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(before), *streams, writer._add_object(after)])


def finish(raw: str, heads_pdf: str, out: str, marks: list[Mark], places: dict[str, Place],
           title: str) -> int:
    """Stamp the running heads of `heads_pdf` on `raw`, write the outline `marks`; returns bookmarks written."""
    writer = PdfWriter(raw, incremental=True)  # appends the changes: much faster than cloning 90 000 objects
    heads = PdfReader(heads_pdf)
    if len(heads.pages) != len(writer.pages):
        raise SystemExit(f"the running heads have {len(heads.pages)} pages, the book {len(writer.pages)}")
    for page, head in zip(writer.pages, heads.pages):
        stamp(writer, page, head)
    written = 0

    def add(mark: Mark, parent=None):
        nonlocal written
        place = places.get(mark.target)
        if place is None:
            raise SystemExit(f"no destination for the bookmark {mark.title!r} (#{mark.target})")
        item = writer.add_outline_item(mark.title, place.page, parent=parent, fit=Fit.xyz(0, place.top))
        written += 1
        for child in mark.children:
            add(child, item)

    for mark in marks:
        add(mark)
    writer.add_metadata({"/Title": title})
    writer.page_mode = "/UseOutlines"
    with open(out, "wb") as stream:
        writer.write(stream)
    return written
