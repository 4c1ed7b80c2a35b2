"""The HTML book's link to the PDF works in every build: a one-page placeholder until the PDF is built.

The front page (book/intro.md) links to `cnnbook.pdf` next to the HTML pages. `book/build_pdf.py` (the last
step of the README's command (a)) writes the book there; an HTML-only `jupyter-book build .` does not. So
that the link is never broken, this extension writes, after an HTML build, a one-page PDF that says how to
build the real one, unless a `cnnbook.pdf` is already there (build_pdf.py replaces the placeholder).
tests/test_browser_book.py requests every local link target, this one included.
"""

from __future__ import annotations

from pathlib import Path

LINES = [
    "cnnbook: the PDF of this book has not been built yet.",
    "",
    "This HTML build ran \"jupyter-book build .\" alone. To replace this page with the whole",
    "book as one PDF, run, from the repository root:",
    "",
    "    .venv/bin/python book/build_pdf.py",
    "",
    "(the last step of the README's command (a)). It writes _build/pdf/cnnbook.pdf and copies",
    "it here, next to the HTML pages.",
]


def placeholder_pdf(lines: list[str]) -> bytes:
    """A valid one-page A4 PDF showing `lines` (ASCII) in Helvetica, written by hand: no library needed."""
    if not all(line.isascii() for line in lines):
        raise ValueError("placeholder_pdf writes ASCII text only (Helvetica's standard encoding); "
                         "replace the non-ASCII characters of the lines")
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    text = "BT /F1 12 Tf 16 TL 56 780 Td " + " ".join(f"({line}) Tj T*" for line in escaped) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("ascii")),
        b"<< /Title (cnnbook: PDF not built yet) >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_placeholder(app, exception) -> None:
    """build-finished handler: after a successful HTML build, cnnbook.pdf exists next to the pages."""
    if exception is not None or app.builder.name != "html":
        return
    target = Path(app.outdir) / "cnnbook.pdf"
    if not target.exists():
        target.write_bytes(placeholder_pdf(LINES))


def setup(app):
    app.connect("build-finished", write_placeholder)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
